//! `ev build`: render every backend's files without planning. Files go to
//! `.ev/build/`, except the per-machine flakes, which live in the repository
//! under `flake-profiles/`. Every file is written atomically, through the
//! confined writer (nothing lands outside those two places).

use ev_apply::confined::{Mode, Writer};
use ev_deploy::plan::lower;

use crate::printer::Output;
use crate::settings::Settings;

/// Runs `ev build`.
pub fn run(settings: &Settings) -> Output {
    let mut out = Output::default();
    let Some(loaded) = super::loaded(settings, &mut out) else {
        return out;
    };
    let graph = lower(&loaded.model, &loaded.fs);
    let writer = Writer::new(&settings.root);
    let mut written = std::collections::BTreeSet::new();
    for action in graph.ordered() {
        for file in action.artifact.files() {
            if !written.insert(file.path.clone()) {
                continue;
            }
            let (area, path) = Writer::rendered(&loaded.ev_dir, &file);
            let target = settings.root.join(&path);
            if let Err(e) = writer.write(area, &path, file.content.as_bytes(), Mode::Durable) {
                return Output::usage(settings, super::cannot_write(&path, &e));
            }
            let shown = target.strip_prefix(&settings.root).unwrap_or(&target);
            out.stdout.push_str(&format!(
                "{:<10} {}{}\n",
                action.backend.to_string(),
                shown.display(),
                if action.unknowns.any() {
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
