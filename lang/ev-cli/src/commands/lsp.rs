//! `ev lsp`: the language server on stdio (see the `ev-lsp` crate).

use std::path::PathBuf;

use crate::printer::Output;
use crate::settings::{Settings, ENTRY};

/// Runs the language server until the editor exits it.
pub fn run(settings: &Settings) -> Output {
    let options = ev_lsp::Options {
        root: settings.root.clone(),
        entry: ENTRY.to_string(),
        cache: cache_dir(),
        environment: settings.environment.clone(),
    };
    match ev_lsp::run_stdio(options) {
        Ok(()) => Output::default(),
        Err(e) => Output::refused(
            settings,
            &[ev_core::Diagnostic::general(
                "E0611",
                format!("the language server session failed: {e}"),
            )],
            1,
        ),
    }
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
