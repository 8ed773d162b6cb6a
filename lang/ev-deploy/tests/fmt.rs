//! The formatter over every `.ev` file of the repository (golden cases,
//! standard library, example): formatting twice changes nothing more, and
//! a formatted program checks and evaluates exactly like the original
//! (same diagnostic codes, same exports, same model).

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use ev_core::eval::run_with_stack;
use ev_core::fs::MemFs;
use ev_core::output::{to_ev, PrettyOptions};
use ev_core::Evaluator;
use ev_deploy::check;
use ev_syntax::format::format;

fn ev_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            if !matches!(name.as_str(), "target" | ".git" | ".ev" | "node_modules") {
                ev_files(&path, out);
            }
        } else if name.ends_with(".ev") {
            out.push(path);
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// (codes, exports or rendered errors) of a program held in memory.
fn outcome(files: &[(String, String)]) -> (BTreeSet<String>, String) {
    let files = files.to_vec();
    run_with_stack(move || {
        let mut fs = MemFs::new();
        for (path, text) in &files {
            fs.insert(path.clone(), text.clone());
        }
        let program = ev_core::load(&fs, "everything.ev");
        let ev = Evaluator::new(&program, &fs);
        let diagnostics = check(&program, &ev);
        if !diagnostics.is_empty() {
            return (
                diagnostics.iter().map(|d| d.code.to_string()).collect(),
                String::new(),
            );
        }
        let span = ev_syntax::Span::new(ev_syntax::FileId(0), 0, 0);
        let exports = to_ev(
            &ev,
            &ev.module_exports(program.entry),
            span,
            PrettyOptions { fold_lists: None },
        )
        .unwrap_or_else(|e| {
            format!(
                "error {:?}",
                ev_core::error::eval_diagnostics(&e).first().map(|d| d.code)
            )
        });
        (BTreeSet::new(), exports)
    })
}

#[test]
fn formatting_is_idempotent_on_every_file() {
    let mut files = Vec::new();
    ev_files(&root(), &mut files);
    assert!(files.len() > 150, "found {} files", files.len());
    let mut formatted = 0;
    for path in files {
        let text = std::fs::read_to_string(&path).expect("read");
        for (name, body) in common::split_case(&text) {
            let Ok(once) = format(&body) else { continue };
            let twice = format(&once).unwrap_or_else(|e| {
                panic!(
                    "{} ({name}): the formatted text does not parse: {e:?}\n{once}",
                    path.display()
                )
            });
            assert_eq!(once, twice, "{} ({name}) is not stable", path.display());
            formatted += 1;
        }
    }
    assert!(formatted > 150, "formatted {formatted} files");
}

#[test]
fn formatting_preserves_what_programs_mean() {
    let dir = root().join("lang/ev-deploy/tests/golden");
    let mut files = Vec::new();
    ev_files(&dir, &mut files);
    let mut compared = 0;
    for path in files {
        let text = std::fs::read_to_string(&path).expect("read");
        let original = common::split_case(&text);
        let Ok(formatted): Result<Vec<(String, String)>, _> = original
            .iter()
            .map(|(n, b)| format(b).map(|f| (n.clone(), f)))
            .collect()
        else {
            continue; // a case with syntax errors: the formatter refuses it
        };
        assert_eq!(
            outcome(&original),
            outcome(&formatted),
            "{}: formatting changed the outcome",
            path.display()
        );
        compared += 1;
    }
    assert!(compared > 100, "compared {compared} cases");
}

#[test]
fn formatting_the_example_keeps_its_model() {
    let model_of = |formatted: bool| -> String {
        run_with_stack(move || {
            let mut paths = Vec::new();
            ev_files(&root(), &mut paths);
            let mut fs = ev_core::fs::MemFs::new();
            let base = ev_core::fs::OsFs::new(root());
            for p in paths {
                let rel = p
                    .strip_prefix(root())
                    .expect("under root")
                    .to_string_lossy()
                    .into_owned();
                if rel.starts_with("lang/") {
                    continue;
                }
                let text = std::fs::read_to_string(&p).expect("read");
                fs.insert(
                    rel,
                    if formatted {
                        format(&text).expect("formats")
                    } else {
                        text
                    },
                );
            }
            let overlay = ev_core::fs::OverlayFs {
                overlay: &fs,
                base: &base,
            };
            let program = ev_core::load(&overlay, "everything.ev");
            let ev = Evaluator::new(&program, &overlay);
            let (model, diagnostics) = ev_deploy::build_model(&program, &ev);
            assert!(diagnostics.is_empty());
            serde_json::to_string(
                &model
                    .resources
                    .iter()
                    .map(|r| (&r.key, &r.value, &r.uses))
                    .collect::<Vec<_>>(),
            )
            .unwrap_or_default()
        })
    };
    assert_eq!(model_of(false), model_of(true));
}
