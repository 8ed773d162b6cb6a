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
pub mod import;
pub mod markers;
pub mod plan;
pub mod state_store;

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
    /// Environments choose where the others go: whatever reads `env`
    /// reads them all.
    fn in_topology(&self, kind: &str) -> bool {
        kind != "environment"
    }

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
        let checked = if resource.key.kind == "environment" {
            let defaults = one_default_environment(program, ev, id);
            if defaults.is_some() {
                return defaults.into_iter().collect();
            }
            match state_store::environment_view(resource) {
                Ok(view) => match unknown_state_cluster(program, ev, id, &view) {
                    Some(d) => return vec![d],
                    None => Ok(()),
                },
                Err(misfit) => Err(misfit),
            }
        } else {
            match BackendId::of_kind(&resource.key.kind) {
                Some(backend) => backend.backend().check(resource),
                None => match plan::refactor::typed_view(resource) {
                    Some(view) => view.map(drop),
                    None => return Vec::new(),
                },
            }
        };
        match checked {
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

/// The environments a program declares, in declaration order (static:
/// their declarations, no evaluation).
fn declared_environments(program: &Program) -> Vec<ResourceId> {
    (0..program.resources.len())
        .map(|i| ResourceId(i as u32))
        .filter(|r| {
            program
                .resource(*r)
                .and_then(|d| program.kind(d.kind))
                .is_some_and(|k| k.name.as_str() == "environment")
        })
        .collect()
}

/// E0612 at an environment when the program's environments do not mark
/// exactly one `default`: at each default after the first, or at the first
/// environment when none is (reported once, with a span, in `ev check` and
/// the editor, and by every command before it reads any state).
fn one_default_environment(
    program: &Program,
    ev: &Evaluator<'_>,
    id: ResourceId,
) -> Option<Diagnostic> {
    let environments = declared_environments(program);
    let is_default = |r: ResourceId| -> bool {
        let Some(def) = program.resource(r) else {
            return false;
        };
        match ev.resource(r, def.name_span) {
            Ok(ev_core::value::Value::Record(record)) => record
                .get(ev_core::intern::Sym::new("default"))
                .and_then(|t| ev.force(t, def.name_span).ok())
                .is_some_and(|v| matches!(v, ev_core::value::Value::Bool(true))),
            _ => false,
        }
    };
    let defaults: Vec<ResourceId> = environments
        .iter()
        .copied()
        .filter(|r| is_default(*r))
        .collect();
    let def = program.resource(id)?;
    let name = |r: ResourceId| program.resource(r).map_or("?", |d| d.name.as_str());
    match defaults.as_slice() {
        [] if environments.first() == Some(&id) => Some(
            Diagnostic::error(
                "E0612",
                "no environment is the default",
                Label::new(def.name_span, "the program's first environment"),
            )
            .with_help(format!(
                "mark the one ev uses without `-e` with `default = true` (the program's environments: {})",
                environments.iter().map(|r| name(*r)).collect::<Vec<_>>().join(", ")
            )),
        ),
        [first, rest @ ..] if rest.contains(&id) => Some(
            Diagnostic::error(
                "E0612",
                format!("environment `{}` is the default too", def.name),
                Label::new(
                    ev_core::model::field_span(program, ev, id, "default").unwrap_or(def.name_span),
                    "a second default",
                ),
            )
            .with_help(format!(
                "`{}` is the default already: only one environment is",
                name(*first)
            )),
        ),
        _ => None,
    }
}

/// E0306 when an environment keeps its state in a cluster the program
/// does not declare (`stdlib/env.ev` cannot type the field `Ref(cluster)`:
/// the cluster's module imports the environments').
fn unknown_state_cluster(
    program: &Program,
    ev: &Evaluator<'_>,
    id: ResourceId,
    view: &state_store::EnvironmentView,
) -> Option<Diagnostic> {
    let state_store::StateStore::Kubernetes(k) = &view.state else {
        return None;
    };
    let clusters: Vec<&str> = program
        .resources
        .iter()
        .filter(|r| {
            program
                .kind(r.kind)
                .is_some_and(|k| k.name.as_str() == "cluster")
        })
        .map(|r| r.name.as_str())
        .collect();
    if clusters.contains(&k.cluster.as_str()) {
        return None;
    }
    let at = ev_core::model::field_span(program, ev, id, "state")
        .or_else(|| program.resource(id).map(|d| d.name_span))?;
    let d = Diagnostic::error(
        "E0306",
        format!(
            "`state.cluster` refers to cluster `{}`, which is not declared",
            k.cluster
        ),
        Label::new(at, "no cluster of this name"),
    );
    let suggestions = ev_core::suggest::similar(&k.cluster, clusters.iter().copied());
    Some(match ev_core::suggest::did_you_mean(&suggestions) {
        Some(note) => d.with_note(note),
        None => d.with_note(format!("declare it with `cluster {} {{ ... }}`", k.cluster)),
    })
}

/// E0612 for `ev -e NAME` naming none of the program's environments.
fn unknown_environment(name: &str, declared: &[&str]) -> Box<Diagnostic> {
    let mut d = Diagnostic::general("E0612", format!("no environment `{name}`"));
    let suggestions = ev_core::suggest::similar(name, declared.iter().copied());
    if let Some(hint) = ev_core::suggest::did_you_mean(&suggestions) {
        d = d.with_note(hint);
    }
    Box::new(d.with_help(if declared.is_empty() {
        "the program declares no environments: drop `-e`, or declare one (`environment local { }`)"
            .to_string()
    } else {
        format!("the program's environments: {}", declared.join(", "))
    }))
}

/// E0612 when `ev -e NAME` names no environment of the program, with the
/// declared ones (checked before anything is evaluated, by every command).
pub fn check_environment(
    program: &Program,
    environment: Option<&str>,
) -> Result<(), Box<Diagnostic>> {
    let Some(name) = environment else {
        return Ok(());
    };
    let names: Vec<&str> = declared_environments(program)
        .into_iter()
        .filter_map(|r| program.resource(r).map(|d| d.name.as_str()))
        .collect();
    if names.contains(&name) {
        Ok(())
    } else {
        Err(unknown_environment(name, &names))
    }
}

/// The folder of ev's own files for the environment named with `ev -e`
/// (none: the default one): `.ev` for the default environment (and a
/// program without environments), `.ev/env/<name>` for another. That the
/// program marks exactly one default is the check's (E0612 at the
/// declarations); a name it does not declare is E0612 here too.
pub fn environment_dir(
    model: &ev_core::model::Model,
    environment: Option<&str>,
) -> Result<plan::state::EvDir, Box<Diagnostic>> {
    let Some(name) = environment else {
        return Ok(plan::state::EvDir::default());
    };
    match model.of_kind("environment").find(|r| r.key.name == name) {
        Some(r) if r.value.get("default") == Some(&serde_json::Value::Bool(true)) => {
            Ok(plan::state::EvDir::default())
        }
        Some(_) => Ok(plan::state::EvDir::of_environment(name)),
        None => {
            let names: Vec<&str> = model
                .of_kind("environment")
                .map(|r| r.key.name.as_str())
                .collect();
            Err(unknown_environment(name, &names))
        }
    }
}
