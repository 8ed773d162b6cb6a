//! Every ev snippet of README.md and docs/ is checked, so the documentation
//! cannot drift from the language.
//!
//! Every fenced block names its language. Blocks tagged `ev` are programs:
//!
//! ```text
//! ```ev               -> checks clean on its own
//! ```ev E0409 E0303   -> reports exactly these codes
//! ```ev example       -> checks clean as part of the example repository
//! ```ev fragment      -> part of a program (expressions, a field): must lex
//! ```
//!
//! `# file: PATH` lines start further files (an imported module, a secrets
//! file); the text before the first is `everything.ev`. In an `example`
//! snippet the files replace or add to the example repository's, and the
//! whole example is checked. A diagnostic page's `## Example` block must
//! report the page's code.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use ev_core::eval::run_with_stack;
use ev_core::fs::{MemFs, OsFs, OverlayFs};
use ev_core::Evaluator;
use ev_deploy::check;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One fenced block: where it is, its info string and its text.
struct Block {
    at: String,
    info: String,
    text: String,
    /// It follows a `## Example` heading (diagnostic pages).
    example: bool,
}

fn blocks(path: &Path) -> Vec<Block> {
    let text = std::fs::read_to_string(path).expect("readable documentation");
    let shown = path
        .strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string();
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate();
    let mut heading = String::new();
    while let Some((n, line)) = lines.next() {
        if line.starts_with('#') {
            heading = line.to_string();
        }
        let Some(info) = line.strip_prefix("```") else {
            continue;
        };
        let mut body = String::new();
        for (_, inner) in lines.by_ref() {
            if inner.starts_with("```") {
                break;
            }
            body.push_str(inner);
            body.push('\n');
        }
        out.push(Block {
            at: format!("{shown}:{}", n + 1),
            info: info.trim().to_string(),
            text: body,
            example: heading == "## Example",
        });
    }
    out
}

fn documents() -> Vec<PathBuf> {
    let mut out = vec![root().join("README.md")];
    for dir in ["docs", "docs/diagnostics"] {
        let mut found: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
            .expect("docs folder")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "md"))
            .collect();
        found.sort();
        out.extend(found);
    }
    out
}

/// The files of a snippet: `everything.ev`, then one per `# file: PATH`.
fn files_of(snippet: &str) -> Vec<(String, String)> {
    let mut files = common::split_files(snippet, "# file: ");
    files.retain(|(path, body)| path != "everything.ev" || !body.trim().is_empty());
    files
}

/// The diagnostics (`CODE message`) `ev check` reports for a snippet, on
/// its own or placed in the example repository.
fn codes_of(snippet: &str, in_example: bool) -> Vec<String> {
    let files = files_of(snippet);
    run_with_stack(move || {
        let mut written = MemFs::new();
        for (path, text) in &files {
            written.insert(path.clone(), text.clone());
        }
        let disk = OsFs::new(root());
        let empty = MemFs::new();
        let base: &dyn ev_core::fs::FileSystem = if in_example { &disk } else { &empty };
        let fs = OverlayFs {
            overlay: &written,
            base,
        };
        let program = ev_core::load(&fs, "everything.ev");
        let ev = Evaluator::new(&program, &fs);
        check(&program, &ev)
            .iter()
            .map(|d| format!("{} {}", d.code, d.message))
            .collect()
    })
}

#[test]
fn every_snippet_in_the_documentation_checks() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for doc in documents() {
        let page_code = doc
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .filter(|s| s.starts_with('E') && s.len() == 5);
        for block in blocks(&doc) {
            let mut words = block.info.split_whitespace();
            let Some(language) = words.next() else {
                failures.push(format!(
                    "{}: a fenced block without a language (ev, ev fragment, sh, json, text, ...)",
                    block.at
                ));
                continue;
            };
            if language != "ev" {
                continue;
            }
            let rest: Vec<&str> = words.collect();
            if rest == ["fragment"] {
                if let (Some(code), true) = (&page_code, block.example) {
                    if code.as_str() < "E05" && code != "E0420" {
                        failures.push(format!(
                            "{}: the example of {code} must be a program",
                            block.at
                        ));
                    }
                }
                let lexed = ev_syntax::lexer::lex(&block.text, ev_syntax::FileId(0));
                if !lexed.errors.is_empty() {
                    failures.push(format!("{}: the fragment does not lex", block.at));
                }
                continue;
            }
            let in_example = rest.first() == Some(&"example");
            let expected: BTreeSet<&str> =
                rest.iter().copied().filter(|w| *w != "example").collect();
            // Program diagnostics (E01xx–E04xx) are shown by a program that
            // reports them; the others come from the CLI, the state or the
            // editor and are shown as transcripts.
            let program_code = page_code.as_ref().filter(|c| c.as_str() < "E05");
            if let (Some(code), true) = (program_code, block.example) {
                if !expected.contains(code.as_str()) {
                    failures.push(format!(
                        "{}: the example of {code} is not tagged `ev {code}`",
                        block.at
                    ));
                }
            }
            checked += 1;
            let reported = codes_of(&block.text, in_example);
            let codes: BTreeSet<&str> = reported
                .iter()
                .filter_map(|r| r.split(' ').next())
                .collect();
            if codes != expected {
                failures.push(format!(
                    "{}: expected {:?}, ev check reports:\n    {}",
                    block.at,
                    expected,
                    reported.join("\n    ")
                ));
            }
        }
    }
    assert!(checked > 20, "only {checked} snippets were checked");
    assert!(
        failures.is_empty(),
        "{} snippets do not check:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
