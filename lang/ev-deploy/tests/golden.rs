//! Golden tests: every `.ev` file under `tests/golden/` is one case.
//!
//! A case's first lines state what it expects, and the harness checks that
//! before comparing the snapshot, so a wrong snapshot cannot be accepted by
//! accident:
//!
//! ```text
//! # expect: ok                      -> no diagnostics; snapshot holds the exports
//! # expect: error E0201 E0301       -> exactly these codes are reported
//! # steps: 10000                    -> (optional) evaluation step limit
//! # time-ms: 0                      -> (optional) evaluation time limit
//! # environment: local              -> (optional) evaluated as with `ev -e local`
//! ```
//!
//! A case that checks clean also builds its model, which must report
//! nothing. A case may hold several files: the text before the first `--- path` line
//! is `everything.ev`, each `--- path` line starts another file.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use ev_core::diagnostic::{render_human, RenderOptions, CODES};
use ev_core::error::eval_diagnostics;
use ev_core::eval::{run_with_stack, Limits};
use ev_core::fs::MemFs;
use ev_core::output::{to_ev, PrettyOptions};
use ev_core::Evaluator;
use ev_deploy::check;

/// What a case expects.
#[derive(Debug, PartialEq)]
enum Expect {
    Ok,
    Errors(BTreeSet<String>),
}

struct Case {
    expect: Expect,
    steps: Option<u64>,
    time_ms: Option<u64>,
    environment: Option<String>,
    files: Vec<(String, String)>,
}

fn parse_case(text: &str) -> Case {
    let mut expect = None;
    let mut steps = None;
    let mut time_ms = None;
    let mut environment = None;
    for line in text.lines().take_while(|l| l.starts_with('#')) {
        if let Some(rest) = line.strip_prefix("# expect:") {
            let rest = rest.trim();
            expect = Some(if rest == "ok" {
                Expect::Ok
            } else {
                let codes = rest
                    .strip_prefix("error")
                    .expect("`# expect:` takes `ok` or `error CODE...`")
                    .split_whitespace()
                    .map(str::to_string)
                    .collect();
                Expect::Errors(codes)
            });
        }
        if let Some(rest) = line.strip_prefix("# steps:") {
            steps = Some(rest.trim().parse().expect("`# steps:` takes a number"));
        }
        if let Some(rest) = line.strip_prefix("# time-ms:") {
            time_ms = Some(rest.trim().parse().expect("`# time-ms:` takes a number"));
        }
        if let Some(rest) = line.strip_prefix("# environment:") {
            environment = Some(rest.trim().to_string());
        }
    }
    let files = common::split_case(text);
    Case {
        expect: expect.expect("a case starts with `# expect: ...`"),
        steps,
        time_ms,
        environment,
        files,
    }
}

/// Runs a case; returns (codes reported, rendered output).
fn run_case(case: &Case) -> (BTreeSet<String>, String) {
    let files = case.files.clone();
    let steps = case.steps;
    let time_ms = case.time_ms;
    let environment = case.environment.clone();
    run_with_stack(move || {
        let mut fs = MemFs::new();
        for (path, text) in &files {
            fs.insert(path.clone(), text.clone());
        }
        let mut program = ev_core::load(&fs, "everything.ev");
        program.environment = environment;
        let mut limits = Limits::default();
        if let Some(steps) = steps {
            limits.max_steps = steps;
        }
        if let Some(ms) = time_ms {
            limits.max_time = Some(std::time::Duration::from_millis(ms));
        }
        let ev = Evaluator::with_limits(&program, &fs, limits);
        let mut diagnostics = check(&program, &ev);
        // A program that checks clean builds its model: a schema the Rust
        // model cannot hold fails the case here, not at plan time.
        if diagnostics.is_empty() {
            diagnostics = ev_deploy::build_model(&program, &ev).1;
        }
        let mut output = String::new();
        if diagnostics.is_empty() {
            let span = ev_syntax::Span::new(
                program
                    .module(program.entry)
                    .map(|m| m.file)
                    .unwrap_or(ev_syntax::FileId(0)),
                0,
                0,
            );
            match to_ev(
                &ev,
                &ev.module_exports(program.entry),
                span,
                PrettyOptions { fold_lists: None },
            ) {
                Ok(text) => output = text,
                Err(e) => diagnostics = eval_diagnostics(&e),
            }
        }
        if !diagnostics.is_empty() {
            output = render_human(
                &diagnostics,
                &program.sources,
                RenderOptions { color: false },
            );
        }
        let codes = diagnostics.iter().map(|d| d.code.to_string()).collect();
        (codes, output)
    })
}

#[test]
fn golden() {
    let mut seen_codes = BTreeSet::new();
    let mut failures = Vec::new();
    insta::glob!("golden/**/*.ev", |path: &Path| {
        let text = std::fs::read_to_string(path).expect("readable case");
        let case = parse_case(&text);
        let (codes, output) = run_case(&case);
        match &case.expect {
            Expect::Ok if !codes.is_empty() => failures.push(format!(
                "{} expects ok but reported {codes:?}:\n{output}",
                path.display()
            )),
            Expect::Errors(expected) if &codes != expected => failures.push(format!(
                "{} expects {expected:?} but reported {codes:?}:\n{output}",
                path.display()
            )),
            _ => {}
        }
        seen_codes.extend(codes);
        insta::assert_snapshot!(format!("{text}\n==== output ====\n{output}"));
    });
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    // Every diagnostic code has at least one golden case (E0999 is an
    // internal error; plan codes E05xx need a recorded state and are covered
    // by tests/plan.rs; E06xx and W06xx, problems with the environment
    // (state, lock, files, arguments, no git), by the CLI's tests; E0418, an interrupted evaluation, by the REPL's
    // terminal test).
    let missing: Vec<&str> = CODES
        .iter()
        .map(|(c, _)| *c)
        .filter(|c| {
            *c != "E0999"
                && *c != "E0418"
                && !c.starts_with("E05")
                && !c.starts_with("E06")
                && !c.starts_with("W06")
                && !seen_codes.contains(*c)
        })
        .collect();
    assert!(
        missing.is_empty(),
        "codes without a golden case: {missing:?}"
    );
}

#[test]
fn every_code_has_a_documentation_page() {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/diagnostics");
    for (code, title) in CODES {
        let page = docs.join(format!("{code}.md"));
        let text = std::fs::read_to_string(&page)
            .unwrap_or_else(|_| panic!("missing {} ({title})", page.display()));
        assert!(
            text.starts_with(&format!("# {code}")),
            "{} must start with `# {code}`",
            page.display()
        );
    }
    let pages = std::fs::read_dir(&docs).expect("docs/diagnostics exists");
    for page in pages.flatten() {
        let name = page.file_name().to_string_lossy().into_owned();
        if let Some(code) = name.strip_suffix(".md") {
            assert!(
                code == "README" || CODES.iter().any(|(c, _)| *c == code),
                "docs/diagnostics/{name} documents no known code"
            );
        }
    }
}
