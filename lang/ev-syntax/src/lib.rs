//! The front end of ev: source files, spans, the lexer, the parser and the AST.
//!
//! Parsing never fails: [`parse_module`] always returns a (possibly partial) AST
//! together with every syntax error it found, so later stages can still check
//! the parts of a file that parsed.

pub mod ast;
pub mod error;
pub mod format;
pub mod lexer;
mod parser;
pub mod source;
pub mod span;
pub mod token;

pub use error::{SyntaxError, SyntaxErrorKind};
pub use parser::{parse_expr, parse_module, Parsed};
pub use source::{FileId, SourceFile, SourceMap};
pub use span::Span;
