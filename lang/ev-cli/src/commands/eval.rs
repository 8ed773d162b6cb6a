//! `ev eval`: evaluate a program (or an expression in its scope) and print it.

use ev_core::error::eval_diagnostics;
use ev_core::output::{to_ev, to_json, to_yaml, PrettyOptions};
use ev_core::Evaluator;

use crate::cli::OutputFormat;
use crate::printer::Output;
use crate::settings::Settings;

/// Runs `ev eval`.
pub fn run(settings: &Settings, entry: &str, expr: Option<&str>, format: OutputFormat) -> Output {
    let mut out = Output::default();
    let Some((mut program, fs)) = super::load(settings, entry, &mut out) else {
        return out;
    };
    if program.has_errors() {
        out.diagnostics(settings, &program.diagnostics, &program.sources);
        out.code = 1;
        return out;
    }
    let node = match expr {
        Some(text) => match program.compile_expr(program.entry, "<expr>", text) {
            Ok(node) => Some(node),
            Err(diags) => {
                out.diagnostics(settings, &diags, &program.sources);
                out.code = 1;
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
    let rendered = result.and_then(|(value, span)| match format {
        OutputFormat::Json => to_json(&ev, &value, span).map(|j| {
            let mut s = serde_json::to_string_pretty(&j).unwrap_or_default();
            s.push('\n');
            s
        }),
        OutputFormat::Yaml => to_yaml(&ev, &value, span),
        OutputFormat::Ev => {
            to_ev(&ev, &value, span, PrettyOptions { fold_lists: None }).map(|mut s| {
                s.push('\n');
                s
            })
        }
    });
    match rendered {
        Ok(text) => out.stdout = text,
        Err(e) => {
            let diags = eval_diagnostics(&e);
            out.diagnostics(settings, &diags, &program.sources);
            out.code = 1;
        }
    }
    out
}
