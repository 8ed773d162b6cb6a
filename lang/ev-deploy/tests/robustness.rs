//! No input may panic or hang. This feeds thousands of generated and mutated
//! programs (truncations, character flips, deletions and duplications of
//! every golden case, plus pathological shapes) through loading, checking
//! and evaluation, and requires a diagnostic or a value back each time.
//!
//! The step and depth limits make every evaluation end; the wall-clock bound
//! here only detects a hang, it is not a performance assertion.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use ev_core::eval::{run_with_stack, Limits};
use ev_core::fs::MemFs;
use ev_core::output::{to_ev, PrettyOptions};
use ev_core::Evaluator;
use ev_deploy::check;

/// A small deterministic PRNG (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % (n.max(1) as u64)) as usize
    }
}

const INTERESTING: &[&str] = &[
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    "\"",
    "\"\"\"",
    "${",
    "\\",
    "#",
    "\n",
    " ",
    "0",
    ".",
    "-",
    ",",
    "=",
    "|>",
    "//",
    "&",
    "or",
    "let",
    "in",
    "fn",
    "=>",
    "if",
    "for",
    "export",
    "import",
    "schema",
    "kind",
    "self",
    "9999999999999999999999",
    "é",
    "'",
    ";",
    "?",
    ":",
    "|",
];

fn mutate(text: &str, rng: &mut Rng) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.is_empty() {
        return INTERESTING[rng.below(INTERESTING.len())].to_string();
    }
    let at = rng.below(chars.len());
    let mut out: String;
    match rng.below(5) {
        0 => out = chars[..at].iter().collect(),
        1 => {
            out = chars[..at].iter().collect();
            out.push_str(INTERESTING[rng.below(INTERESTING.len())]);
            out.extend(&chars[at + 1..]);
        }
        2 => {
            let len = rng.below(12) + 1;
            out = chars[..at].iter().collect();
            out.extend(chars.iter().skip(at + len));
        }
        3 => {
            let len = rng.below(40) + 1;
            let end = (at + len).min(chars.len());
            out = chars[..end].iter().collect();
            out.extend(&chars[at..end]);
            out.extend(&chars[end..]);
        }
        _ => {
            out = chars[..at].iter().collect();
            out.push_str(INTERESTING[rng.below(INTERESTING.len())]);
            out.extend(&chars[at..]);
        }
    }
    out
}

/// Loads, checks and evaluates one program; returns how many diagnostics it produced.
fn run(files: Vec<(String, String)>) -> usize {
    run_with_stack(move || {
        let mut fs = MemFs::new();
        for (path, text) in &files {
            fs.insert(path.clone(), text.clone());
        }
        let program = ev_core::load(&fs, "everything.ev");
        let limits = Limits {
            max_depth: 400,
            max_steps: 300_000,
            max_time: None,
        };
        let ev = Evaluator::with_limits(&program, &fs, limits);
        let diagnostics = check(&program, &ev);
        let span = ev_syntax::Span::new(ev_syntax::FileId(0), 0, 0);
        let printed = to_ev(
            &ev,
            &ev.module_exports(program.entry),
            span,
            PrettyOptions {
                fold_lists: Some(50),
            },
        );
        // Every diagnostic must be renderable, too.
        let _ = ev_core::diagnostic::render_human(
            &diagnostics,
            &program.sources,
            ev_core::diagnostic::RenderOptions { color: false },
        );
        let _ = ev_core::diagnostic::render_json_lines(&diagnostics, &program.sources);
        diagnostics.len() + usize::from(printed.is_err())
    })
}

fn golden_cases() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut out = Vec::new();
    let mut dirs = vec![root];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("golden dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "ev") {
                out.push(std::fs::read_to_string(&path).expect("readable"));
            }
        }
    }
    out.sort();
    out
}

fn assert_survives(label: &str, files: Vec<(String, String)>) {
    let shown = files.first().map(|(_, t)| t.clone()).unwrap_or_default();
    let started = Instant::now();
    let result = std::panic::catch_unwind(|| run(files));
    assert!(result.is_ok(), "{label}: panicked on input:\n{shown}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{label}: did not finish in time on input:\n{shown}"
    );
}

#[test]
fn mutated_golden_cases_never_panic() {
    let cases = golden_cases();
    assert!(cases.len() >= 60);
    let mut rng = Rng(0x5EED_0FE7);
    let mut count = 0;
    for (i, case) in cases.iter().enumerate() {
        let files = common::split_case(case);
        // Truncations at a spread of points.
        let main = files.first().map(|(_, t)| t.clone()).unwrap_or_default();
        let chars: Vec<char> = main.chars().collect();
        let step = (chars.len() / 12).max(1);
        for cut in (0..chars.len()).step_by(step) {
            let mut f = files.clone();
            if let Some(first) = f.first_mut() {
                first.1 = chars[..cut].iter().collect();
            }
            assert_survives(&format!("case {i} truncated at {cut}"), f);
            count += 1;
        }
        // Random mutations, sometimes stacked.
        for m in 0..30 {
            let mut f = files.clone();
            let which = rng.below(f.len());
            if let Some(file) = f.get_mut(which) {
                let rounds = 1 + rng.below(3);
                for _ in 0..rounds {
                    file.1 = mutate(&file.1, &mut rng);
                }
            }
            assert_survives(&format!("case {i} mutation {m}"), f);
            count += 1;
        }
    }
    assert!(count > 2000, "only {count} inputs were generated");
}

#[test]
fn pathological_shapes_end_in_diagnostics() {
    let mut inputs: Vec<String> = vec![
        "(".repeat(5000),
        format!("export x = {}1{}", "(".repeat(150), ")".repeat(150)),
        format!("export x = {}", "[".repeat(40)),
        format!("export x = {}x", "((((((".repeat(8)),
        format!("export x = {}", "-".repeat(10_000) + "1"),
        format!("export x = 1{}", " + 1".repeat(20_000)),
        "\"${\"${\"${\"${\"${".repeat(50),
        "let f = fn(x) => f(x)\nexport y = f(1)".into(),
        "let f = fn(x) => [f(x), f(x)]\nexport y = f(1)".into(),
        "export x = range(1000000000)".into(),
        "export x = \"\\u{110000}\\u{d800}\\u{}\"".into(),
        "export x = 9223372036854775807 * 2 + -9223372036854775807 - 10".into(),
        "\u{0}\u{7f}\u{feff}let x = 1".into(),
        "export x = cidr_host(\"::/0\", 9223372036854775807)".into(),
        "export x = { a.b.c.d = 1, a.b = 2 }".into(),
    ];
    inputs.push("let a = b\nlet b = a\nexport c = a".into());
    for (i, input) in inputs.into_iter().enumerate() {
        let diagnostics =
            std::panic::catch_unwind(|| run(vec![("everything.ev".into(), input.clone())]));
        match diagnostics {
            Ok(_) => {}
            Err(_) => panic!(
                "pathological input {i} panicked:\n{}",
                input.chars().take(200).collect::<String>()
            ),
        }
    }
}
