//! Questions people ask of an ev program, without any terminal or
//! protocol code: the REPL's logic ([`repl`]), the editor queries the
//! language server answers ([`ide`]), and the human renderings of the
//! model shared by `ev show` and the REPL ([`query`]). Faces (`ev-cli`'s
//! rustyline REPL, `ev-lsp`) are thin layers over this crate.

#![deny(clippy::unwrap_used)]

pub mod data_keys;
pub mod docs;
pub mod ide;
pub mod query;
pub mod repl;
pub mod trace;
