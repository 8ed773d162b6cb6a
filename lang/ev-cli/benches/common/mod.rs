//! What every benchmark shares.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds the release `ev` binary (benchmarks time the real binary, as
/// users run it) and returns its path.
pub fn release_ev() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let status = Command::new("cargo")
        .args(["build", "--release", "-q", "-p", "ev-cli"])
        .current_dir(&root)
        .status()
        .expect("cargo runs");
    assert!(status.success(), "cargo build --release failed");
    root.join("target/release/ev")
}
