//! Queries over the model for people: tables of resources, one resource in
//! detail, references. Shared by `ev show`, the REPL and the language
//! server, so they all print the same thing.

use ev_core::model::{ModelResource, ResourceKey};
use ev_core::output::marked_json_to_ev;

/// One line of summary of a resource, by kind.
pub fn summary(r: &ModelResource) -> String {
    let v = &r.value;
    let s = |key: &str| display(v.get(key));
    let count = |key: &str| v.get(key).and_then(|x| x.as_array()).map_or(0, |a| a.len());
    match r.key.kind.as_str() {
        "machine" => format!(
            "{} {} via {}{}",
            s("os"),
            s("platform"),
            display(v.get("activation").and_then(|a| a.get("method"))),
            match v.get("address") {
                Some(a) => format!(" at {}", display(Some(a))),
                None if v.pointer("/activation/local") == Some(&serde_json::Value::Bool(true)) => {
                    " on this machine".into()
                }
                None => String::new(),
            }
        ),
        "domain" => format!(
            "{} record sets on {}",
            count("records"),
            match (v.get("provider"), v.get("config")) {
                (None, Some(config)) => format!("config {}", display(Some(config))),
                (provider, _) => display(provider.and_then(|p| p.get("name"))),
            }
        ),
        "octodns_config" => format!(
            "provider {}, {} processor{}",
            display(v.pointer("/provider/name")),
            count("processors"),
            if count("processors") == 1 { "" } else { "s" }
        ),
        "stack" => format!("{} resources, backend {}", count("resources"), s("backend")),
        "image" => format!("{} {}", s("repository"), short_digest(v.get("digest"))),
        "cluster" => {
            let reached = match v.get("server") {
                Some(server) => format!("server {}", display(Some(server))),
                None => format!(
                    "context {}",
                    display(v.get("context").or_else(|| v.get("name")))
                ),
            };
            match v.get("machine") {
                Some(m) => format!("on machine {}, {reached}", display(Some(m))),
                None => reached,
            }
        }
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

/// Resources as one table per kind (name, file:line, summary) and a total.
pub fn tables(resources: &[&ModelResource]) -> String {
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

/// Resource keys joined with commas, or `(none)`.
pub fn keys(list: &[ResourceKey]) -> String {
    if list.is_empty() {
        "(none)".into()
    } else {
        list.iter()
            .map(|k| k.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// One resource: its declaration, documentation, value and references.
pub fn detail(r: &ModelResource) -> String {
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

/// What a resource uses and what uses it (transitively with `all`).
pub fn refs(model: &ev_core::model::Model, r: &ModelResource, all: bool) -> String {
    let (uses, used_by) = if all {
        (
            model.transitive(&r.key, false),
            model.transitive(&r.key, true),
        )
    } else {
        (r.uses.clone(), r.used_by.clone())
    };
    let tag = if all { " (all)" } else { "" };
    format!(
        "{}  ({}:{})\nuses{tag}:    {}\nused by{tag}: {}\n",
        r.key,
        r.file,
        r.line,
        keys(&uses),
        keys(&used_by)
    )
}
