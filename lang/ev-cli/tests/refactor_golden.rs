//! Golden sessions of refactoring (`moved`, `forget`): a repository whose
//! state records an earlier program fully applied, then a list of `ev`
//! commands run one after the other, everything they print snapshotted
//! (human output, no colour). Adding a case is adding a file to
//! `tests/refactor/`:
//!
//! ```text
//! # applied: before.ev           -> the state records this entry fully applied
//! # run: plan                    -> `ev plan`, then the next `# run:` ...
//! # run: apply --yes
//! everything.ev's text
//! --- other/file
//! its text
//! ```
//!
//! No tool is on PATH: a move or a forget is an edit of the state, so a
//! case whose apply would run a tool fails loudly rather than pass.

mod support;

use support::Repo;

#[path = "../../ev-deploy/tests/common/mod.rs"]
mod common;

#[test]
fn refactor_sessions() {
    insta::glob!("refactor/*.case", |path: &std::path::Path| {
        let text = std::fs::read_to_string(path).expect("case");
        let header: Vec<&str> = text.lines().take_while(|l| l.starts_with('#')).collect();
        let runs: Vec<Vec<&str>> = header
            .iter()
            .filter_map(|l| l.strip_prefix("# run:"))
            .map(|args| args.split_whitespace().collect())
            .collect();
        assert!(!runs.is_empty(), "a case names its `# run:` commands");
        let files = common::split_case(&text);
        let files: Vec<(&str, &str)> = files
            .iter()
            .map(|(p, t)| (p.as_str(), t.as_str()))
            .collect();
        let repo = Repo::new(&files);
        if let Some(entry) = header.iter().find_map(|l| l.strip_prefix("# applied:")) {
            repo.record_applied(entry.trim());
        }
        let root = repo.path().to_string_lossy().into_owned();
        let mut session = String::new();
        for args in runs {
            let run = repo.ev_with_path(&args, "/nonexistent");
            session.push_str(&format!(
                "$ ev {}\nexit: {}\n--- stdout\n{}--- stderr\n{}\n",
                args.join(" "),
                run.code,
                run.stdout.replace(&root, "[REPO]"),
                steady(&run.stderr.replace(&root, "[REPO]"))
            ));
        }
        insta::assert_snapshot!(session);
    });
}

/// The text with what differs from run to run (an apply's duration and
/// log folder) replaced.
fn steady(text: &str) -> String {
    text.lines()
        .map(
            |line| match (line.starts_with("Apply "), line.rfind(" (")) {
                (true, Some(at)) => format!("{} ([TIME]). Logs: [LOGS]\n", &line[..at]),
                _ => format!("{line}\n"),
            },
        )
        .collect()
}
