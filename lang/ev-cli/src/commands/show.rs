//! `ev show`: the model, or part of it, for people (tables, details,
//! references) or machines (versioned JSON, YAML).

use ev_core::model::{Model, ModelResource, ResourceKey};
use ev_core::output::marked_json_to_ev;
use serde_json::json;

use crate::cli::ShowFormat;
use crate::printer::Output;
use crate::settings::Settings;

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
        return refs(&model, target, query.transitive, format);
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
            None => return not_found(&model, &format!("{kind}.{name}")),
        },
        (Some(target), None) => match model.find(target) {
            Ok(r) => vec![r],
            Err(candidates) => return not_found_with(target, &candidates),
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
                out.stdout = detail(r);
            }
        }
        ShowFormat::Human => out.stdout = tables(&selected),
    }
    out
}

fn not_found(model: &Model, query: &str) -> Output {
    let candidates = match model.find(query) {
        Ok(r) => vec![r.key.to_string()],
        Err(c) => c,
    };
    not_found_with(query, &candidates)
}

fn not_found_with(query: &str, candidates: &[String]) -> Output {
    let mut out = Output {
        code: 1,
        ..Output::default()
    };
    out.stderr = format!("error: no resource or kind `{query}`\n");
    if !candidates.is_empty() {
        out.stderr.push_str(&format!(
            "  help: did you mean {}?\n",
            candidates.join(", ")
        ));
    }
    out
}

/// One line of summary per resource, by kind.
fn summary(r: &ModelResource) -> String {
    let v = &r.value;
    let s = |key: &str| display(v.get(key));
    let count = |key: &str| v.get(key).and_then(|x| x.as_array()).map_or(0, |a| a.len());
    match r.key.kind.as_str() {
        "machine" => format!(
            "{} {} via {}{}",
            s("os"),
            s("platform"),
            display(v.get("activation").and_then(|a| a.get("method"))),
            v.get("address")
                .map(|a| format!(" at {}", display(Some(a))))
                .unwrap_or_default()
        ),
        "domain" => format!(
            "{} record sets on {}",
            count("records"),
            display(v.get("provider").and_then(|p| p.get("name")))
        ),
        "stack" => format!("{} resources, backend {}", count("resources"), s("backend")),
        "image" => format!("{} {}", s("repository"), short_digest(v.get("digest"))),
        "cluster" => format!("on machine {}, context {}", s("machine"), s("context")),
        "app" => format!(
            "on {} ({} replica{}) {}",
            s("cluster"),
            s("replicas"),
            if v.get("replicas").and_then(|r| r.as_i64()) == Some(1) {
                ""
            } else {
                "s"
            },
            short_digest(v.get("image"))
        ),
        _ => format!("{} fields", v.as_object().map_or(0, |o| o.len())),
    }
}

fn display(v: Option<&serde_json::Value>) -> String {
    match v {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => marked_json_to_ev(other, 0),
        None => "-".into(),
    }
}

fn short_digest(v: Option<&serde_json::Value>) -> String {
    match v {
        Some(serde_json::Value::String(s)) => match s.find("sha256:") {
            Some(i) => format!("{}…", s.get(..(i + 19).min(s.len())).unwrap_or(s)),
            None => s.clone(),
        },
        other => display(other),
    }
}

fn tables(resources: &[&ModelResource]) -> String {
    let mut out = String::new();
    let mut kinds: Vec<&str> = resources.iter().map(|r| r.key.kind.as_str()).collect();
    kinds.dedup();
    let mut seen = Vec::new();
    for kind in kinds {
        if seen.contains(&kind) {
            continue;
        }
        seen.push(kind);
        let of_kind: Vec<&&ModelResource> =
            resources.iter().filter(|r| r.key.kind == kind).collect();
        out.push_str(&format!("{kind} ({})\n", of_kind.len()));
        let name_w = of_kind
            .iter()
            .map(|r| r.key.name.chars().count())
            .max()
            .unwrap_or(0);
        let locs: Vec<String> = of_kind
            .iter()
            .map(|r| format!("{}:{}", r.file, r.line))
            .collect();
        let loc_w = locs.iter().map(|l| l.chars().count()).max().unwrap_or(0);
        for (r, loc) in of_kind.iter().zip(&locs) {
            out.push_str(&format!(
                "  {:name_w$}  {:loc_w$}  {}\n",
                r.key.name,
                loc,
                summary(r),
            ));
        }
        out.push('\n');
    }
    let total = resources.len();
    out.push_str(&format!(
        "{total} resource{}\n",
        if total == 1 { "" } else { "s" }
    ));
    out
}

fn keys(list: &[ResourceKey]) -> String {
    if list.is_empty() {
        "(none)".into()
    } else {
        list.iter()
            .map(|k| k.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn detail(r: &ModelResource) -> String {
    let mut out = format!(
        "{} {}  ({}:{})\n",
        r.key.kind,
        quote_name(&r.key.name),
        r.file,
        r.line
    );
    if let Some(doc) = &r.doc {
        for line in doc.lines() {
            out.push_str(&format!("  ## {line}\n"));
        }
    }
    out.push_str(&marked_json_to_ev(&r.value, 0));
    out.push('\n');
    out.push_str(&format!(
        "uses:    {}\nused by: {}\n",
        keys(&r.uses),
        keys(&r.used_by)
    ));
    out
}

fn quote_name(name: &str) -> String {
    if ev_core::output::is_bare_key(name) {
        name.to_string()
    } else {
        ev_core::output::quote(name)
    }
}

fn refs(model: &Model, target: &str, transitive: bool, format: ShowFormat) -> Output {
    let r = match model.find(target) {
        Ok(r) => r,
        Err(candidates) => return not_found_with(target, &candidates),
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
            out.stdout = format!(
                "{}  ({}:{})\nuses{}:    {}\nused by{}: {}\n",
                r.key,
                r.file,
                r.line,
                if transitive { " (all)" } else { "" },
                keys(&uses),
                if transitive { " (all)" } else { "" },
                keys(&used_by)
            );
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
