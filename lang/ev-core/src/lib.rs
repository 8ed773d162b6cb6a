//! The ev language: diagnostics, loading and name resolution, evaluation,
//! schemas, checking, the kind-agnostic model and output. It does no I/O of
//! its own: files are read through [`fs::FileSystem`], and nothing here
//! prints. Deployment (backends, plans) is `ev-deploy`'s; questions people
//! ask (REPL, editor) are `ev-query`'s.

#![deny(clippy::unwrap_used)]

pub mod builtins;
pub mod check;
pub mod diagnostic;
pub mod diagnostic_docs;
pub mod error;
pub mod eval;
pub mod fs;
pub mod intern;
pub mod ir;
pub mod model;
pub mod output;
pub mod program;
pub mod schema;
pub mod stdlib;
pub mod suggest;
pub mod value;

pub use diagnostic::Diagnostic;
pub use eval::Evaluator;
pub use program::{load, Program};
