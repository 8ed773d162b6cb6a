//! `ev show`: the model, or part of it, for people (tables, details,
//! references) or machines (versioned JSON, YAML).

use ev_core::model::{Model, ModelResource};
use ev_query::query::{detail, tables};
use serde_json::json;

use crate::cli::ShowFormat;
use crate::printer::Output;
use crate::settings::Settings;
use ev_core::output::terminal_safe;

/// The JSON format's version; bump on incompatible changes.
const FORMAT_VERSION: u32 = 1;

/// What to show.
pub struct Query {
    /// A kind, a `kind.name`, or a name.
    pub target: Option<String>,
    /// A name within the kind.
    pub name: Option<String>,
    /// Show references of this resource.
    pub refs: Option<String>,
    /// Follow references transitively.
    pub transitive: bool,
}

/// Runs `ev show`.
pub fn run(settings: &Settings, query: Query, format: ShowFormat) -> Output {
    let mut out = Output::default();
    let Some(model) = super::model(settings, &mut out) else {
        return out;
    };
    if let Some(target) = &query.refs {
        return refs(settings, &model, target, query.transitive, format);
    }
    let kinds: Vec<&str> = {
        let mut k: Vec<&str> = model
            .resources
            .iter()
            .map(|r| r.key.kind.as_str())
            .collect();
        k.dedup();
        k
    };
    // Resolve the selection: nothing, a kind, kind + name, or one resource.
    let selected: Vec<&ModelResource> = match (&query.target, &query.name) {
        (None, _) => model.resources.iter().collect(),
        (Some(kind), None) if kinds.contains(&kind.as_str()) => model
            .resources
            .iter()
            .filter(|r| &r.key.kind == kind)
            .collect(),
        (Some(kind), Some(name)) => match model
            .resources
            .iter()
            .find(|r| &r.key.kind == kind && &r.key.name == name)
        {
            Some(r) => vec![r],
            None => return not_found(settings, &model, &format!("{kind}.{name}")),
        },
        (Some(target), None) => match model.find(target) {
            Ok(r) => vec![r],
            Err(candidates) => return not_found_with(settings, target, &candidates),
        },
    };
    let single = selected.len() == 1
        && (query.name.is_some() || query.target.as_deref().is_some_and(|t| !kinds.contains(&t)));
    match format {
        ShowFormat::Json => {
            let doc = json!({ "version": FORMAT_VERSION, "resources": selected });
            out.stdout = serde_json::to_string_pretty(&doc).unwrap_or_default();
            out.stdout.push('\n');
        }
        ShowFormat::Yaml => {
            let doc = json!({ "version": FORMAT_VERSION, "resources": selected });
            out.stdout = serde_saphyr::to_string(&doc).unwrap_or_default();
        }
        ShowFormat::Human if single => {
            if let Some(r) = selected.first() {
                out.stdout = terminal_safe(&detail(r)).into_owned();
            }
        }
        ShowFormat::Human => out.stdout = terminal_safe(&tables(&selected)).into_owned(),
    }
    out
}

fn not_found(settings: &Settings, model: &Model, query: &str) -> Output {
    let candidates = match model.find(query) {
        Ok(r) => vec![r.key.to_string()],
        Err(c) => c,
    };
    not_found_with(settings, query, &candidates)
}

/// No such resource or kind (E0606; exit 2), as the REPL says it.
fn not_found_with(settings: &Settings, query: &str, candidates: &[String]) -> Output {
    Output::usage(settings, ev_query::repl::not_found(query, candidates))
}

fn refs(
    settings: &Settings,
    model: &Model,
    target: &str,
    transitive: bool,
    format: ShowFormat,
) -> Output {
    let r = match model.find(target) {
        Ok(r) => r,
        Err(candidates) => return not_found_with(settings, target, &candidates),
    };
    let (uses, used_by) = if transitive {
        (
            model.transitive(&r.key, false),
            model.transitive(&r.key, true),
        )
    } else {
        (r.uses.clone(), r.used_by.clone())
    };
    let mut out = Output::default();
    match format {
        ShowFormat::Human => {
            out.stdout = terminal_safe(&ev_query::query::refs(model, r, transitive)).into_owned()
        }
        ShowFormat::Json | ShowFormat::Yaml => {
            let doc = json!({
                "version": FORMAT_VERSION,
                "resource": r.key,
                "transitive": transitive,
                "uses": uses,
                "used_by": used_by,
            });
            out.stdout = if format == ShowFormat::Json {
                serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
            } else {
                serde_saphyr::to_string(&doc).unwrap_or_default()
            };
        }
    }
    out
}
