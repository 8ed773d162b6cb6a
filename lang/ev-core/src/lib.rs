//! The core of ev: diagnostics, loading and name resolution, evaluation,
//! schemas and output. It does no I/O of its own: files are read through
//! [`fs::FileSystem`], and nothing here prints.

#![deny(clippy::unwrap_used)]

pub mod builtins;
pub mod check;
pub mod data_keys;
pub mod diagnostic;
pub mod diagnostic_docs;
pub mod docs;
pub mod error;
pub mod eval;
pub mod fs;
pub mod ide;
pub mod intern;
pub mod ir;
pub mod model;
pub mod output;
pub mod plan;
pub mod program;
pub mod query;
pub mod render;
pub mod repl;
pub mod schema;
pub mod stdlib;
pub mod suggest;
pub mod value;

pub use diagnostic::Diagnostic;
pub use eval::Evaluator;
pub use program::{load, Program};
