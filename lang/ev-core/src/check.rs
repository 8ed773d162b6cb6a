//! `ev check`'s core: every diagnostic a program has, from parsing through
//! schema checks of every resource.

use ev_syntax::Span;

use crate::diagnostic::Diagnostic;
use crate::error::eval_diagnostics;
use crate::eval::Evaluator;
use crate::ir::ResourceId;
use crate::program::{Binding, Program};
use crate::value::Value;

/// All diagnostics of a loaded program: syntax and resolve errors, then
/// evaluation and schema errors of every resource and every exported value
/// of user modules. Duplicates (one failing value reached twice) are removed.
pub fn check(program: &Program, ev: &Evaluator<'_>) -> Vec<Diagnostic> {
    let mut out = program.diagnostics.clone();
    for (i, res) in program.resources.iter().enumerate() {
        let result = ev
            .resource(ResourceId(i as u32), res.name_span)
            .and_then(|v| ev.deep_force(&v, res.name_span));
        if let Err(e) = result {
            out.extend(eval_diagnostics(&e));
        }
    }
    for module in program.modules.iter().filter(|m| !m.is_stdlib) {
        for (_, binding) in &module.exports {
            let Binding::Global(g) = binding else {
                continue;
            };
            let span = program
                .global(*g)
                .map(|d| d.span)
                .unwrap_or(Span::new(module.file, 0, 0));
            let result = ev.global(*g, span).and_then(|v| match v {
                Value::Func(_) | Value::Schema(_) => Ok(()),
                v => ev.deep_force(&v, span),
            });
            if let Err(e) = result {
                out.extend(eval_diagnostics(&e));
            }
        }
    }
    dedup(out)
}

/// Removes repeated diagnostics, keeping the first of each.
pub fn dedup(diagnostics: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let mut out: Vec<Diagnostic> = Vec::with_capacity(diagnostics.len());
    for d in diagnostics {
        if !out
            .iter()
            .any(|o| o.code == d.code && o.primary.span == d.primary.span && o.message == d.message)
        {
            out.push(d);
        }
    }
    out
}
