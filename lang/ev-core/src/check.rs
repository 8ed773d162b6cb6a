//! `ev check`'s core: every diagnostic a program has, from parsing through
//! schema checks of every resource, to what the model cannot hold.

use ev_syntax::Span;

use crate::diagnostic::Diagnostic;
use crate::error::eval_diagnostics;
use crate::eval::Evaluator;
use crate::ir::{ModuleId, ResourceId};
use crate::model::ResourceCheck;
use crate::program::{Binding, Program};
use crate::value::Value;

/// All diagnostics of a loaded program: syntax and resolve errors, then
/// evaluation and schema errors of every resource and every exported value
/// of user modules. Duplicates (one failing value reached twice) are removed.
/// `layer` adds the checks of the layer above the language (see
/// [`ResourceCheck`]).
pub fn check(program: &Program, ev: &Evaluator<'_>, layer: &dyn ResourceCheck) -> Vec<Diagnostic> {
    let mut out = program.diagnostics.clone();
    out.extend(resource_diagnostics(program, ev, None, layer));
    for (i, module) in program.modules.iter().enumerate() {
        if !module.is_stdlib {
            out.extend(export_diagnostics(program, ev, ModuleId(i as u32)));
        }
    }
    dedup(out)
}

/// The model of a program that checks clean, else exactly what [`check`]
/// reports. On the clean path each resource is evaluated and converted to
/// the model once (`check` followed by `Model::build` would convert twice).
pub fn checked_model(
    program: &Program,
    ev: &Evaluator<'_>,
    layer: &dyn ResourceCheck,
) -> Result<crate::model::Model, Vec<Diagnostic>> {
    let mut built = Vec::new();
    if program.diagnostics.is_empty() {
        let (model, diagnostics) = crate::model::Model::build(program, ev, layer);
        let clean = diagnostics.is_empty()
            && program.modules.iter().enumerate().all(|(i, module)| {
                module.is_stdlib || export_diagnostics(program, ev, ModuleId(i as u32)).is_empty()
            });
        if clean {
            return Ok(model);
        }
        built = diagnostics;
    }
    // Something is wrong: report it as `ev check` does, in its words (and
    // never nothing).
    let reported = check(program, ev, layer);
    Err(if reported.is_empty() { built } else { reported })
}

/// The evaluation and schema diagnostics of one module: its resources and
/// its exported values (what [`check`] reports for them). The language
/// server checks module by module, so unchanged modules keep their results.
pub fn check_module(
    program: &Program,
    ev: &Evaluator<'_>,
    module: ModuleId,
    layer: &dyn ResourceCheck,
) -> Vec<Diagnostic> {
    let mut out = resource_diagnostics(program, ev, Some(module), layer);
    out.extend(export_diagnostics(program, ev, module));
    dedup(out)
}

/// Evaluates and checks every resource (of `module`, when given).
fn resource_diagnostics(
    program: &Program,
    ev: &Evaluator<'_>,
    module: Option<ModuleId>,
    layer: &dyn ResourceCheck,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (i, res) in program.resources.iter().enumerate() {
        if module.is_some_and(|m| m != res.module) {
            continue;
        }
        let result = ev
            .resource(ResourceId(i as u32), res.name_span)
            .and_then(|v| ev.deep_force(&v, res.name_span));
        match result {
            Err(e) => out.extend(eval_diagnostics(&e)),
            // What the model cannot hold is reported here too, so a
            // program that checks clean also plans.
            Ok(()) => {
                let id = ResourceId(i as u32);
                match crate::model::evaluated_resource(program, ev, id) {
                    Ok(resource) => out.extend(layer.check_resource(program, ev, id, &resource)),
                    Err(errors) => out.extend(errors),
                }
            }
        }
    }
    out
}

/// Evaluates every exported value of `module` (functions and schemas are
/// checked where they are used).
fn export_diagnostics(program: &Program, ev: &Evaluator<'_>, module: ModuleId) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let Some(info) = program.module(module) else {
        return out;
    };
    for (_, binding) in &info.exports {
        let Binding::Global(g) = binding else {
            continue;
        };
        let span = program
            .global(*g)
            .map(|d| d.span)
            .unwrap_or(Span::new(info.file, 0, 0));
        let result = ev.global(*g, span).and_then(|v| match v {
            Value::Func(_) | Value::Schema(_) => Ok(()),
            v => ev.deep_force(&v, span),
        });
        if let Err(e) = result {
            out.extend(eval_diagnostics(&e));
        }
    }
    out
}

/// Removes repeated diagnostics, keeping the first of each.
pub fn dedup(diagnostics: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let mut out: Vec<Diagnostic> = Vec::with_capacity(diagnostics.len());
    // Once the evaluation budget (steps, time) is spent, every later value
    // fails at once: those are one error, reported where it ran out.
    let mut exhausted: Vec<(&'static str, usize, usize)> = Vec::new();
    for d in diagnostics {
        if EXHAUSTION_CODES.contains(&d.code) {
            if let Some((_, _, skipped)) = exhausted.iter_mut().find(|(c, _, _)| *c == d.code) {
                *skipped += 1;
                continue;
            }
            exhausted.push((d.code, out.len(), 0));
        }
        if !out
            .iter()
            .any(|o| o.code == d.code && o.span() == d.span() && o.message == d.message)
        {
            out.push(d);
        }
    }
    for (_, at, skipped) in exhausted {
        if skipped > 0 {
            let what = if skipped == 1 { "value" } else { "values" };
            out[at].notes.push(format!(
                "{skipped} more {what} could not be evaluated after this"
            ));
        }
    }
    out
}

/// Codes of a spent evaluation budget (E0413 steps, E0420 time, E0418 an
/// interruption), after which nothing more evaluates.
const EXHAUSTION_CODES: [&str; 3] = ["E0413", "E0420", "E0418"];
