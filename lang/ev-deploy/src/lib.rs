//! ev's deployment layer: the backends (one module per tool, each owning
//! its stdlib kinds' typed views, their lowering to actions, its typed
//! artifact and how changes to it are shown), the action graph, the plan
//! and the state format. Pure like the language below it: no tool runs
//! here (that is `ev-apply`'s), nothing prints.
//!
//! The entry points check and build the model *with* the backends' checks,
//! so a program that checks clean lowers and plans.

#![deny(clippy::unwrap_used)]

pub mod backend;
pub mod backends;
pub mod markers;
pub mod plan;

use ev_core::diagnostic::{Diagnostic, Label};
use ev_core::ir::{ModuleId, ResourceId};
use ev_core::model::{Model, ModelResource, ResourceCheck};
use ev_core::{Evaluator, Program};

pub use backend::{Artifact, Backend, BackendId};
pub use backends::nix::repository_warnings;

/// The deployment layer's check of every resource: a resource of a
/// standard kind must fit the typed view of the backend realizing it.
pub struct Deploy;

impl ResourceCheck for Deploy {
    fn check_resource(
        &self,
        program: &Program,
        ev: &Evaluator<'_>,
        id: ResourceId,
        resource: &ModelResource,
    ) -> Vec<Diagnostic> {
        if !resource.standard {
            return Vec::new();
        }
        let Some(backend) = BackendId::of_kind(&resource.key.kind) else {
            return Vec::new();
        };
        match backend.backend().check(resource) {
            Ok(()) => Vec::new(),
            Err(misfit) => {
                let at = misfit
                    .field
                    .as_deref()
                    .and_then(|f| ev_core::model::field_span(program, ev, id, f))
                    .unwrap_or(resource.span);
                let mut d =
                    Diagnostic::error(misfit.code, misfit.message, Label::new(at, misfit.label));
                for note in misfit.notes {
                    d = d.with_note(note);
                }
                if let Some(help) = misfit.help {
                    d = d.with_help(help);
                }
                vec![d]
            }
        }
    }
}

/// Every diagnostic of a loaded program (`ev check`): the language's and
/// the backends'.
pub fn check(program: &Program, ev: &Evaluator<'_>) -> Vec<Diagnostic> {
    ev_core::check::check(program, ev, &Deploy)
}

/// The evaluation, schema and backend diagnostics of one module (the
/// language server's unit).
pub fn check_module(program: &Program, ev: &Evaluator<'_>, module: ModuleId) -> Vec<Diagnostic> {
    ev_core::check::check_module(program, ev, module, &Deploy)
}

/// The model of a program that checks clean, else exactly what [`check`]
/// reports.
pub fn checked_model(program: &Program, ev: &Evaluator<'_>) -> Result<Model, Vec<Diagnostic>> {
    ev_core::check::checked_model(program, ev, &Deploy)
}

/// The model, with the backends' checks; resources that fail are left out
/// and reported.
pub fn build_model(program: &Program, ev: &Evaluator<'_>) -> (Model, Vec<Diagnostic>) {
    Model::build(program, ev, &Deploy)
}
