//! `ev build`: render every backend's files without planning. Files go to
//! `.ev/build/`, except the per-machine flakes, which live in the repository
//! under `flake-profiles/`. Every file is written atomically.

use std::io::Write;
use std::path::Path;

use ev_core::plan::lower;

use crate::printer::Output;
use crate::settings::Settings;

/// Runs `ev build`.
pub fn run(settings: &Settings) -> Output {
    let mut out = Output::default();
    let Some(model) = super::model(settings, &mut out) else {
        return out;
    };
    let graph = lower(&model, &ev_core::fs::OsFs::new(settings.root.clone()));
    let mut written = std::collections::BTreeSet::new();
    for action in graph.ordered() {
        for file in &action.files {
            if !written.insert(file.path.clone()) {
                continue;
            }
            let target = if file.in_repository() {
                settings.root.join(&file.path)
            } else {
                settings.root.join(".ev/build").join(&file.path)
            };
            if let Err(e) = write_atomically(&target, file.content.as_bytes()) {
                out.stderr
                    .push_str(&format!("error: cannot write {}: {e}\n", target.display()));
                out.code = 1;
                return out;
            }
            let shown = target.strip_prefix(&settings.root).unwrap_or(&target);
            out.stdout.push_str(&format!(
                "{:<10} {}{}\n",
                action.backend.to_string(),
                shown.display(),
                if file.has_unknowns {
                    "  (has values known after apply)"
                } else {
                    ""
                }
            ));
        }
    }
    out.stderr.push_str(&format!(
        "rendered {} files for {} actions\n",
        written.len(),
        graph.len()
    ));
    out
}

/// Writes `bytes` to `path` through a temporary file in the same directory,
/// fsynced and renamed over the target, so a crash never leaves half a file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
