//! `ev init [DIR]`: a new repository that checks and plans at once — one
//! resource of each kind, the folders of the "everything" layout, a
//! `.sops.yaml` and a README walking through a first secret.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::printer::Output;
use crate::settings::Settings;

/// The new repository's files (path, text), from `lang/ev-cli/templates/init/`.
const FILES: &[(&str, &str)] = &[
    (
        "everything.ev",
        include_str!("../../templates/init/everything.ev"),
    ),
    (
        "magic/magic.ev",
        include_str!("../../templates/init/magic/magic.ev"),
    ),
    (
        "jupiter/cloud.ev",
        include_str!("../../templates/init/jupiter/cloud.ev"),
    ),
    (
        "venus/machines.ev",
        include_str!("../../templates/init/venus/machines.ev"),
    ),
    (
        "venus/modules/common.nix",
        include_str!("../../templates/init/venus/modules/common.nix"),
    ),
    (
        "eight/example.org.ev",
        include_str!("../../templates/init/eight/example.org.ev"),
    ),
    (
        "whale/images.ev",
        include_str!("../../templates/init/whale/images.ev"),
    ),
    (
        "whale/files/index.html",
        include_str!("../../templates/init/whale/files/index.html"),
    ),
    (
        "milky-way/apps.ev",
        include_str!("../../templates/init/milky-way/apps.ev"),
    ),
    (
        "secrets/README.md",
        include_str!("../../templates/init/secrets/README.md"),
    ),
    (
        ".sops.yaml",
        include_str!("../../templates/init/.sops.yaml"),
    ),
    (
        ".gitignore",
        include_str!("../../templates/init/.gitignore"),
    ),
    ("README.md", include_str!("../../templates/init/README.md")),
];

/// Runs `ev init`: writes the files into `dir` (default: the current
/// directory), refusing to touch a directory that already holds any of
/// them.
pub fn run(settings: &Settings, dir: Option<&Path>) -> Output {
    let target: PathBuf = match dir {
        Some(d) => d.to_path_buf(),
        None => match std::env::current_dir() {
            Ok(cwd) => cwd,
            Err(e) => return refuse(settings, format!("cannot read the current directory: {e}")),
        },
    };
    if let Some(existing) = FILES.iter().find(|(p, _)| target.join(p).exists()) {
        return refuse(
            settings,
            format!(
                "{} already has {}: ev init only starts new repositories",
                target.display(),
                existing.0
            ),
        );
    }
    for (path, text) in FILES {
        if let Err(e) = create(&target.join(path), text) {
            return Output::usage(settings, super::cannot_write(path, &e));
        }
    }
    let mut out = Output::default();
    out.stderr.push_str(&format!(
        "Created a new repository in {} ({} files).\nNext: cd there, `git init && git add -A`, then `ev check` and `ev plan`; README.md shows how to add a first secret.\n",
        target.display(),
        FILES.len()
    ));
    out
}

/// Writes a new file (never replacing one: `create_new`).
fn create(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

fn refuse(settings: &Settings, message: String) -> Output {
    Output::usage(
        settings,
        ev_core::Diagnostic::general("E0610", message)
            .with_help("pass an empty or new directory: `ev init DIR`"),
    )
}

#[cfg(test)]
mod tests {
    /// Every file of templates/init/ is written, and nothing else.
    #[test]
    fn every_template_file_is_written() {
        fn walk(dir: &std::path::Path, root: &std::path::Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, root, out);
                } else if let Ok(rel) = path.strip_prefix(root) {
                    out.push(rel.to_string_lossy().into_owned());
                }
            }
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/init");
        let mut on_disk = Vec::new();
        walk(&root, &root, &mut on_disk);
        on_disk.sort();
        let mut written: Vec<String> = super::FILES.iter().map(|(p, _)| p.to_string()).collect();
        written.sort();
        assert_eq!(on_disk, written);
    }
}
