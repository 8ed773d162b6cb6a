//! `ev eval`: evaluate a program (or an expression in its scope) and print it.

use ev_core::error::eval_diagnostics;
use std::io::Write;

use ev_core::output::{check_data, to_ev, to_yaml, write_json_chunked, PrettyOptions};
use ev_core::Evaluator;

use crate::cli::OutputFormat;
use crate::printer::Output;
use crate::settings::Settings;

/// Runs `ev eval`.
pub fn run(
    settings: &Settings,
    entry: &str,
    expr: Option<&str>,
    format: OutputFormat,
    compact: bool,
) -> Output {
    let mut out = Output::default();
    let mut clock = Phases::from_env();
    let Some((mut program, fs)) = super::load(settings, entry, &mut out) else {
        return out;
    };
    clock.mark("load (parse and resolve)");
    if program.has_errors() {
        out.diagnostics(settings, &program.diagnostics, &program.sources);
        return out;
    }
    let node = match expr {
        Some(text) => match program.compile_expr(program.entry, "<expr>", text) {
            Ok(node) => Some(node),
            Err(diags) => {
                out.diagnostics(settings, &diags, &program.sources);
                return out;
            }
        },
        None => None,
    };
    let ev = Evaluator::new(&program, &fs);
    let result = match &node {
        Some(node) => ev.eval(node, &None).map(|v| (v, node.span)),
        None => {
            let span = ev_syntax::Span::new(
                program
                    .module(program.entry)
                    .map(|m| m.file)
                    .unwrap_or(ev_syntax::FileId(0)),
                0,
                0,
            );
            Ok((ev.module_exports(program.entry), span))
        }
    };
    clock.mark("evaluate (to a lazy value)");
    let rendered = result.and_then(|(value, span)| match format {
        OutputFormat::Json => {
            // Check everything first so an error never leaves half a
            // document on stdout; then stream, since outputs can be large.
            let checked = check_data(&ev, &value, span);
            clock.mark("force (evaluate every value)");
            checked.and_then(|()| {
                let mut stdout = std::io::stdout().lock();
                let mut failed = false;
                write_json_chunked(&ev, &value, span, !compact, &mut |chunk: &mut String| {
                    failed |= stdout.write_all(chunk.as_bytes()).is_err();
                    chunk.clear();
                })?;
                failed |= stdout.flush().is_err();
                Ok(if failed {
                    "\u{0}".to_string()
                } else {
                    String::new()
                })
            })
        }
        OutputFormat::Yaml => to_yaml(&ev, &value, span),
        OutputFormat::Ev => {
            to_ev(&ev, &value, span, PrettyOptions { fold_lists: None }).map(|mut s| {
                s.push('\n');
                s
            })
        }
    });
    clock.mark("serialise");
    clock.report();
    match rendered {
        Ok(text) if text == "\u{0}" => {
            return Output::usage(
                settings,
                super::cannot_write("standard output", &"it was closed or failed"),
            );
        }
        Ok(text) => out.stdout = text,
        Err(e) => {
            let diags = eval_diagnostics(&e);
            out.diagnostics(settings, &diags, &program.sources);
        }
    }
    // The process exits right after printing: freeing a large evaluated
    // program value by value would only add time.
    std::mem::forget(ev);
    std::mem::forget(program);
    out
}

/// Wall time by phase, printed to stderr when `EV_TIMINGS=1` (what
/// `bench/profile.py` reads; nothing is measured otherwise).
struct Phases {
    last: Option<std::time::Instant>,
    marks: Vec<(&'static str, std::time::Duration)>,
}

impl Phases {
    fn from_env() -> Phases {
        Phases {
            last: (std::env::var("EV_TIMINGS").as_deref() == Ok("1")).then(std::time::Instant::now),
            marks: Vec::new(),
        }
    }

    /// Ends the phase `name` now.
    fn mark(&mut self, name: &'static str) {
        if let Some(last) = self.last {
            let now = std::time::Instant::now();
            self.marks.push((name, now - last));
            self.last = Some(now);
        }
    }

    fn report(&self) {
        if self.last.is_none() {
            return;
        }
        let phases: Vec<String> = self
            .marks
            .iter()
            .map(|(name, took)| format!("{name} {:.1} ms", took.as_secs_f64() * 1000.0))
            .collect();
        eprintln!("timings: {}", phases.join(", "));
    }
}
