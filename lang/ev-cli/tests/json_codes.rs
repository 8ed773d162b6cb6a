//! Every diagnostic code reaches `--message-format json`. Two sources of
//! cases, both through the real binary:
//!
//! - every golden case of the core (`lang/ev-deploy/tests/golden/`), checked
//!   with `ev check --message-format json`: the JSON reports exactly the
//!   errors its `# expect:` line names;
//! - the CLI cases in `tests/json/*.case`, for what a program alone cannot
//!   produce (plan guardrails, stale plans, the environment, warnings): one
//!   file each, its header naming the arguments and the expected code, the
//!   output a snapshot. Adding a case is adding a file.
//!
//! A case file:
//!
//! ```text
//! # args: plan --target nope        -> `ev --message-format json plan --target nope`
//! # expect: E0503                   -> the codes reported, exactly
//! # applied: before.ev              -> (optional) the state records this entry fully applied
//! # env: PATH=/nonexistent          -> (optional) environment for ev
//! everything.ev's text
//! --- other/file
//! its text
//! ```
//!
//! Then the enumeration: every code of the table appears in some case's
//! JSON, but those no case can provoke (each said why).

mod support;

use std::collections::BTreeSet;
use std::path::Path;

use ev_core::diagnostic::CODES;
use support::Repo;

#[path = "../../ev-deploy/tests/common/mod.rs"]
mod common;

/// Codes no case can show, and where they are tested instead.
const NOT_FROM_A_COMMAND_LINE: &[(&str, &str)] = &[
    (
        "E0418",
        "an evaluation interrupted by Ctrl-C: the interactive REPL (repl_pty.rs, by its message)",
    ),
    (
        "E0420",
        "an editor request over its wall-time limit: the language server's tests (lsp.rs)",
    ),
    (
        "E0611",
        "the language server's stdio channel breaking under it: not provoked by any test yet",
    ),
    (
        "E0615",
        "a shared state's lease taken over under a paused apply: needs a PostgreSQL server (state_real.rs)",
    ),
    (
        "E0616",
        "a shared state backend that holds no state yet: needs a PostgreSQL server (state_real.rs)",
    ),
    (
        "E0618",
        "an import that renders otherwise than its input: a bug in the importer, which every golden import rules out (ev-deploy's import.rs)",
    ),
    (
        "E0999",
        "an internal error: no input may produce one (schema_sweep.rs, robustness.rs)",
    ),
];

/// The diagnostics of a JSON stderr: (code, severity), each line parsed.
fn reported(stderr: &str) -> Vec<(String, String)> {
    stderr
        .lines()
        .map(|l| {
            let d: serde_json::Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("not a JSON diagnostic ({e}): {l}"));
            (
                d["code"].as_str().unwrap_or("").to_string(),
                d["severity"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

struct CliCase {
    args: Vec<String>,
    expect: BTreeSet<String>,
    applied: Option<String>,
    env: Vec<(String, String)>,
    files: Vec<(String, String)>,
}

fn parse_cli_case(text: &str) -> CliCase {
    let mut case = CliCase {
        args: Vec::new(),
        expect: BTreeSet::new(),
        applied: None,
        env: Vec::new(),
        files: common::split_case(text),
    };
    for line in text.lines().take_while(|l| l.starts_with('#')) {
        if let Some(rest) = line.strip_prefix("# args:") {
            case.args = rest.split_whitespace().map(str::to_string).collect();
        } else if let Some(rest) = line.strip_prefix("# expect:") {
            case.expect = rest.split_whitespace().map(str::to_string).collect();
        } else if let Some(rest) = line.strip_prefix("# applied:") {
            case.applied = Some(rest.trim().to_string());
        } else if let Some(rest) = line.strip_prefix("# env:") {
            let (k, v) = rest.trim().split_once('=').expect("`# env: KEY=VALUE`");
            case.env.push((k.to_string(), v.to_string()));
        }
    }
    assert!(!case.args.is_empty(), "a case names its `# args:`");
    assert!(
        !case.expect.is_empty(),
        "a case names its `# expect:` codes"
    );
    case
}

#[test]
fn every_code_reaches_json_output() {
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut failures = Vec::new();

    // The core's golden cases, through `ev check`.
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ev-deploy/tests/golden");
    for rel in ev_core::fs::files_below(&golden, ev_core::fs::Walk::Everything) {
        if !rel.ends_with(".ev") {
            continue;
        }
        let text = std::fs::read_to_string(golden.join(&rel)).expect("case");
        let header: Vec<&str> = text.lines().take_while(|l| l.starts_with('#')).collect();
        // A wall-time limit is the language server's, not the command line's.
        if header.iter().any(|l| l.starts_with("# time-ms:")) {
            continue;
        }
        let steps = header
            .iter()
            .find_map(|l| l.strip_prefix("# steps:"))
            .map(|n| n.trim().to_string());
        let expected: BTreeSet<String> = header
            .iter()
            .find_map(|l| l.strip_prefix("# expect:"))
            .map(|e| {
                e.split_whitespace()
                    .filter(|w| *w != "ok" && *w != "error")
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let files = common::split_case(&text);
        let files: Vec<(&str, &str)> = files
            .iter()
            .map(|(p, t)| (p.as_str(), t.as_str()))
            .collect();
        let environment = header
            .iter()
            .find_map(|l| l.strip_prefix("# environment:"))
            .map(|e| e.trim().to_string());
        let mut args = vec!["--message-format", "json"];
        if let Some(steps) = &steps {
            args.extend(["--max-steps", steps.as_str()]);
        }
        if let Some(environment) = &environment {
            args.extend(["-e", environment.as_str()]);
        }
        args.push("check");
        let run = Repo::new(&files).ev(&args);
        let diagnostics = reported(&run.stderr);
        let errors: BTreeSet<String> = diagnostics
            .iter()
            .filter(|(_, severity)| severity == "error")
            .map(|(code, _)| code.clone())
            .collect();
        if errors != expected {
            failures.push(format!(
                "golden/{rel}: expects {expected:?}, `ev check --message-format json` reported {errors:?}"
            ));
        }
        seen.extend(diagnostics.into_iter().map(|(code, _)| code));
    }

    // The CLI's own cases, snapshotted.
    insta::glob!("json/*.case", |path: &Path| {
        let text = std::fs::read_to_string(path).expect("case");
        let case = parse_cli_case(&text);
        let files: Vec<(&str, &str)> = case
            .files
            .iter()
            .map(|(p, t)| (p.as_str(), t.as_str()))
            .collect();
        let mut repo = Repo::new(&files);
        if let Some(entry) = &case.applied {
            repo.record_applied(entry);
        }
        let mut tool_path = None;
        for (k, v) in &case.env {
            if k == "PATH" {
                tool_path = Some(v.clone());
            } else {
                repo.env.push((k.clone(), v.clone()));
            }
        }
        let mut args = vec!["--message-format", "json"];
        args.extend(case.args.iter().map(String::as_str));
        // Run inside the repository (root discovery), so a `-C` in the
        // case's arguments is the only one.
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_ev"))
            .args(&args)
            .current_dir(repo.path())
            .env("PATH", tool_path.unwrap_or_else(support::tools_path))
            .env("NO_COLOR", "1")
            .envs(repo.env.iter().map(|(k, v)| (k, v)))
            .stdin(std::process::Stdio::null())
            .output()
            .expect("ev runs");
        let run = support::Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        let diagnostics = reported(&run.stderr);
        let codes: BTreeSet<String> = diagnostics.iter().map(|(c, _)| c.clone()).collect();
        if codes != case.expect {
            failures.push(format!(
                "{}: expects {:?}, reported {codes:?}\n{}",
                path_name(path),
                case.expect,
                run.all()
            ));
        }
        seen.extend(codes);
        let root = repo.path().to_string_lossy().into_owned();
        insta::assert_snapshot!(format!(
            "exit: {}\n--- stdout\n{}--- stderr\n{}",
            run.code,
            run.stdout.replace(&root, "[REPO]"),
            run.stderr.replace(&root, "[REPO]")
        ));
    });
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));

    let missing: Vec<&str> = CODES
        .iter()
        .map(|(c, _)| *c)
        .filter(|c| !seen.contains(*c))
        .filter(|c| !NOT_FROM_A_COMMAND_LINE.iter().any(|(x, _)| x == c))
        .collect();
    assert!(
        missing.is_empty(),
        "codes that reach no JSON output in any case (add a tests/json/*.case): {missing:?}"
    );
    for (code, why) in NOT_FROM_A_COMMAND_LINE {
        assert!(
            !seen.contains(*code),
            "{code} is listed as unreachable ({why}) but a case shows it: take it off the list"
        );
        assert!(CODES.iter().any(|(c, _)| c == code), "{code} is no code");
    }
}

fn path_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
