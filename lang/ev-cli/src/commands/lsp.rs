//! `ev lsp`: the language server on stdio (see the `ev-lsp` crate).

use std::path::PathBuf;

use crate::printer::Output;
use crate::settings::{Settings, ENTRY};

/// Runs the language server until the editor exits it.
pub fn run(settings: &Settings) -> Output {
    let mut out = Output::default();
    let options = ev_lsp::Options {
        root: settings.root.clone(),
        entry: ENTRY.to_string(),
        cache: cache_dir(),
    };
    if let Err(e) = ev_lsp::run_stdio(options) {
        out.stderr = format!("error: ev lsp: {e}\n");
        out.code = 1;
    }
    out
}

/// Where the server writes embedded files editors open (the standard
/// library, diagnostic pages): `$XDG_CACHE_HOME/ev/<version>`.
fn cache_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("ev").join(env!("CARGO_PKG_VERSION"))
}
