//! Syntax errors as data. They are turned into user-facing diagnostics by
//! `ev-core`'s diagnostic module, the one place that decides wording and codes.

use crate::span::Span;

/// A problem found while lexing or parsing one file.
#[derive(Clone, Debug, PartialEq)]
pub struct SyntaxError {
    /// What went wrong.
    pub kind: SyntaxErrorKind,
    /// Where.
    pub span: Span,
}

/// The kinds of syntax error, one per diagnostic code.
#[derive(Clone, Debug, PartialEq)]
pub enum SyntaxErrorKind {
    /// The parser met a token (or the end of the file) it cannot use here.
    Unexpected {
        /// Descriptions of what would have been accepted, sorted and deduplicated.
        expected: Vec<String>,
        /// What was found; `None` at the end of the file.
        found: Option<String>,
        /// The construct being parsed (e.g. "record"), when known.
        context: Option<(String, Span)>,
    },
    /// A character that cannot start any token.
    InvalidCharacter(char),
    /// A string with no closing quote before the end of the file (or line).
    UnterminatedString,
    /// An integer literal outside the 64-bit signed range.
    IntegerTooLarge(String),
    /// A float literal beyond the largest finite number.
    FloatTooLarge(String),
    /// A backslash escape that ev does not know.
    InvalidEscape(String),
    /// An opening bracket with no matching closing bracket.
    UnclosedDelimiter {
        /// The opening delimiter as written.
        open: &'static str,
    },
    /// A closing bracket with no matching opening bracket.
    UnmatchedClose(&'static str),
    /// A custom parser rule (e.g. `or` after something that is not a field access).
    Invalid(String),
}
