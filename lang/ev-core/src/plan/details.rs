//! What changes inside an action, at the level users think in: DNS record
//! sets, Kubernetes objects, stack resources; for other backends the files.
//! Computed from the rendered files (desired) and the state's copies (applied).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::diff::Change;
use super::Backend;
use crate::model::SecretRef;
use crate::render::PLACEHOLDER;

/// What an item is, for summaries ("+12 record sets").
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// A DNS record set.
    Record,
    /// A Kubernetes object.
    Object,
    /// A resource of a Pulumi stack.
    StackResource,
    /// A machine (built and activated as one).
    Machine,
    /// A container image (built and pushed as one).
    Image,
    /// A tool's configuration (an octodns provider and processors).
    Config,
    /// An export file written again.
    Export,
    /// A rendered file.
    #[default]
    File,
}

impl ItemKind {
    /// The kind's name for `n` items.
    pub fn counted(self, n: usize) -> String {
        let (one, many) = match self {
            ItemKind::Record => ("record set", "record sets"),
            ItemKind::Object => ("object", "objects"),
            ItemKind::StackResource => ("stack resource", "stack resources"),
            ItemKind::Machine => ("machine", "machines"),
            ItemKind::Image => ("image", "images"),
            ItemKind::Config => ("config", "configs"),
            ItemKind::Export => ("export", "exports"),
            ItemKind::File => ("file", "files"),
        };
        format!("{n} {}", if n == 1 { one } else { many })
    }
}

/// One changed item of an action.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct ItemChange {
    /// Create, update or delete.
    pub change: Change,
    /// What it is.
    #[serde(default)]
    pub kind: ItemKind,
    /// What it is: `www CNAME`, `Deployment apps/jellyfin`, `resource ethane`.
    pub label: String,
    /// Per-field `name: old → new` lines, or unified-diff lines.
    pub details: Vec<String>,
    /// The item as applied (record sets, objects, stack resources), with
    /// `{"$unknown": …}` and `{"$secret": …}` markers; absent when created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    /// The item as it will be; absent when deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
}

/// The secrets an action's files may reference, by the environment
/// variable they are passed through (what the rendered files hold).
type SecretNames = BTreeMap<String, SecretRef>;

fn secret_names(sides: [&[SecretRef]; 2]) -> SecretNames {
    sides
        .into_iter()
        .flatten()
        .map(|r| (crate::render::secret_env_name(&r.file, &r.key), r.clone()))
        .collect()
}

/// A rendered value with placeholders and secret references as the
/// markers of every JSON output ([`crate::output::to_json_marked`]).
fn marked(v: &Value, secrets: &SecretNames) -> Value {
    match v {
        Value::String(s) if s == PLACEHOLDER => {
            // The rendering kept no reason or file: the plan's
            // `replanned_after` names the producers.
            serde_json::json!({ crate::output::UNKNOWN_KEY: { "reason": "known after apply", "file": null } })
        }
        Value::String(s) if s.starts_with("env/EV_SECRET_") => {
            let reference = secrets.get(s.trim_start_matches("env/"));
            serde_json::json!({ crate::output::SECRET_KEY: {
                "file": reference.map(|r| &r.file),
                "key": reference.map(|r| &r.key),
            } })
        }
        Value::Array(items) => Value::Array(items.iter().map(|x| marked(x, secrets)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), marked(v, secrets)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The lines of a created (`+`) or deleted (`-`) item's text, marked.
fn added(text: &str, mark: char) -> Vec<String> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| format!("{mark} {l}"))
        .collect()
}

fn parse_yaml(text: &str) -> Value {
    serde_saphyr::from_str(text).unwrap_or(Value::Null)
}

fn short(v: &Value) -> String {
    match v {
        Value::String(s) if s == PLACEHOLDER => PLACEHOLDER.to_string(),
        Value::String(s) => format!("{s:?}"),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

/// One side of an action's comparison: its rendered files and the digests
/// of the repository files it builds from.
#[derive(Clone, Copy, Debug)]
pub struct Inputs<'a> {
    /// Rendered files by path.
    pub files: &'a BTreeMap<String, String>,
    /// Repository input digests by path.
    pub digests: &'a BTreeMap<String, String>,
    /// The secrets its files reference.
    pub secrets: &'a [SecretRef],
}

/// The changed items between the applied (`before`) and desired (`after`)
/// inputs of an action. `subject` names what a machine or image action
/// realizes (`machine methanol`): those are one item each, a rebuild.
pub fn items(
    backend: Backend,
    subject: &str,
    before: Inputs<'_>,
    after: Inputs<'_>,
) -> Vec<ItemChange> {
    if matches!(backend, Backend::Nix | Backend::Registry) {
        return rebuild(backend, subject, before, after)
            .into_iter()
            .collect();
    }
    let names = secret_names([before.secrets, after.secrets]);
    let (before, after) = (before.files, after.files);
    let paths: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    let mut out = Vec::new();
    for path in paths {
        let (old, new) = (before.get(path), after.get(path));
        if old == new {
            continue;
        }
        let old_text = old.map(String::as_str).unwrap_or("");
        let new_text = new.map(String::as_str).unwrap_or("");
        match backend {
            Backend::Octodns if path.starts_with("octodns/zones/") => {
                out.extend(records(old_text, new_text, &names))
            }
            Backend::Kubectl => out.extend(objects(old_text, new_text, &names)),
            Backend::Pulumi if path.ends_with("/Pulumi.yaml") => {
                out.extend(stack_resources(old_text, new_text, &names))
            }
            // The zone's provider and processors: worth a line when they
            // change; created and deleted with the zone's records.
            Backend::Octodns => {
                if old.is_some() && new.is_some() {
                    out.push(ItemChange {
                        change: Change::Update,
                        kind: ItemKind::Config,
                        label: "octodns config (provider, processors)".into(),
                        details: unified(old_text, new_text),
                        before: None,
                        after: None,
                    })
                }
            }
            _ => out.push(ItemChange {
                kind: ItemKind::File,
                change: match (old, new) {
                    (None, _) => Change::Create,
                    (_, None) => Change::Delete,
                    _ => Change::Update,
                },
                label: path.clone(),
                details: unified(old_text, new_text),
                before: None,
                after: None,
            }),
        }
    }
    out
}

/// A machine or image as one item: what changed among its inputs (modules,
/// image files) and its rendered files, and what applying it does.
fn rebuild(
    backend: Backend,
    subject: &str,
    before: Inputs<'_>,
    after: Inputs<'_>,
) -> Option<ItemChange> {
    let was_applied = !before.files.is_empty() || !before.digests.is_empty();
    let is_declared = !after.files.is_empty() || !after.digests.is_empty();
    let (change, what) = match (was_applied, is_declared, backend) {
        (false, _, Backend::Nix) => (Change::Create, "build + activate"),
        (false, _, _) => (Change::Create, "build + push"),
        (true, false, Backend::Nix) => (
            Change::Delete,
            "no longer managed (the host keeps its system)",
        ),
        (true, false, _) => (
            Change::Delete,
            "no longer managed (pushed tags stay in the registry)",
        ),
        (true, true, Backend::Nix) => (Change::Update, "rebuild + activate"),
        (true, true, _) => (Change::Update, "rebuild + push"),
    };
    let mut details = Vec::new();
    if change == Change::Update {
        let input = if backend == Backend::Nix {
            "module"
        } else {
            "file"
        };
        let paths: std::collections::BTreeSet<&String> =
            before.digests.keys().chain(after.digests.keys()).collect();
        for path in paths {
            match (before.digests.get(path), after.digests.get(path)) {
                (None, Some(_)) => details.push(format!("{input} {path} added")),
                (Some(_), None) => details.push(format!("{input} {path} removed")),
                (Some(a), Some(b)) if b == "missing" && a != b => {
                    details.push(format!("{input} {path} is missing"))
                }
                (Some(a), Some(b)) if a != b => details.push(format!("{input} {path} changed")),
                _ => {}
            }
        }
        let paths: std::collections::BTreeSet<&String> =
            before.files.keys().chain(after.files.keys()).collect();
        for path in paths {
            let (old, new) = (before.files.get(path), after.files.get(path));
            if old != new {
                let name = path.rsplit('/').next().unwrap_or(path);
                details.push(format!("{name}:"));
                details.extend(unified(
                    old.map(String::as_str).unwrap_or(""),
                    new.map(String::as_str).unwrap_or(""),
                ));
            }
        }
        if details.is_empty() {
            return None;
        }
    }
    Some(ItemChange {
        change,
        kind: if backend == Backend::Nix {
            ItemKind::Machine
        } else {
            ItemKind::Image
        },
        label: format!("{subject}: {what}"),
        details,
        before: None,
        after: None,
    })
}

/// How many items (record sets, objects, resources, else files) an
/// action's files hold: the denominator of the deletion guardrail.
pub fn item_count(backend: Backend, files: &BTreeMap<String, String>) -> usize {
    files
        .iter()
        .map(|(path, text)| match backend {
            Backend::Octodns if path.starts_with("octodns/zones/") => record_sets(text).len(),
            Backend::Octodns => 0,
            Backend::Kubectl => k8s_objects(text).len(),
            Backend::Pulumi if path.ends_with("/Pulumi.yaml") => {
                match parse_yaml(text).get("resources") {
                    Some(Value::Object(m)) => m.len(),
                    _ => 0,
                }
            }
            _ => 1,
        })
        .sum()
}

/// Record sets keyed by (name, type).
fn record_sets(text: &str) -> BTreeMap<(String, String), Value> {
    let mut out = BTreeMap::new();
    if let Value::Object(names) = parse_yaml(text) {
        for (name, sets) in names {
            let list = match sets {
                Value::Array(items) => items,
                one => vec![one],
            };
            for set in list {
                let kind = set
                    .get("type")
                    .and_then(|t| t.as_str())
                    .unwrap_or("?")
                    .to_string();
                out.insert((name.clone(), kind), set);
            }
        }
    }
    out
}

fn label(name: &str, kind: &str) -> String {
    format!("{} {kind}", if name.is_empty() { "@" } else { name })
}

fn fields(set: &Value) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    if let Value::Object(map) = set {
        for (k, v) in map {
            if k == "type" {
                continue;
            }
            // `value` and `values` are one field to people.
            let key = if k == "value" {
                "values".to_string()
            } else {
                k.clone()
            };
            let v = if k == "value" {
                Value::Array(vec![v.clone()])
            } else {
                v.clone()
            };
            out.insert(key, v);
        }
    }
    out
}

fn records(old: &str, new: &str, secrets: &SecretNames) -> Vec<ItemChange> {
    let (before, after) = (record_sets(old), record_sets(new));
    let keys: std::collections::BTreeSet<&(String, String)> =
        before.keys().chain(after.keys()).collect();
    let mut out = Vec::new();
    for key in keys {
        let (name, kind) = key;
        match (before.get(key), after.get(key)) {
            (None, Some(set)) => out.push(ItemChange {
                kind: ItemKind::Record,
                change: Change::Create,
                label: label(name, kind),
                details: fields(set)
                    .iter()
                    .map(|(k, v)| format!("{k}: {}", short(v)))
                    .collect(),
                before: None,
                after: Some(marked(set, secrets)),
            }),
            (Some(set), None) => out.push(ItemChange {
                kind: ItemKind::Record,
                change: Change::Delete,
                label: label(name, kind),
                details: fields(set)
                    .iter()
                    .map(|(k, v)| format!("{k}: {}", short(v)))
                    .collect(),
                before: Some(marked(set, secrets)),
                after: None,
            }),
            (Some(a), Some(b)) if a != b => {
                let (fa, fb) = (fields(a), fields(b));
                let names: std::collections::BTreeSet<&String> =
                    fa.keys().chain(fb.keys()).collect();
                let details = names
                    .into_iter()
                    .filter(|f| fa.get(*f) != fb.get(*f))
                    .map(|f| {
                        let show =
                            |v: Option<&Value>| v.map(short).unwrap_or_else(|| "(none)".into());
                        format!("{f}: {} → {}", show(fa.get(f)), show(fb.get(f)))
                    })
                    .collect();
                out.push(ItemChange {
                    kind: ItemKind::Record,
                    change: Change::Update,
                    label: label(name, kind),
                    details,
                    before: Some(marked(a, secrets)),
                    after: Some(marked(b, secrets)),
                });
            }
            _ => {}
        }
    }
    out
}

/// Kubernetes objects keyed by `Kind namespace/name`, with their YAML text.
fn k8s_objects(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for value in crate::render::yaml_documents(text) {
        let Some(kind) = value.get("kind").and_then(|k| k.as_str()) else {
            continue;
        };
        let meta = value.get("metadata");
        let name = meta
            .and_then(|m| m.get("name"))
            .and_then(|n| n.as_str())
            .unwrap_or("?");
        let key = match meta
            .and_then(|m| m.get("namespace"))
            .and_then(|n| n.as_str())
        {
            Some(ns) => format!("{kind} {ns}/{name}"),
            None => format!("{kind} {name}"),
        };
        out.insert(key, crate::render::yaml(&value));
    }
    out
}

/// The label of a Kubernetes object; a Secret filled from sops says where
/// its values come from (the rendered object holds none).
fn object_label(key: &str, text: &str) -> String {
    if text.contains("ev.dev/sops-refs") {
        format!("{key} (values from sops at apply, in a 0600 file for kubectl only)")
    } else {
        key.to_string()
    }
}

fn objects(old: &str, new: &str, secrets: &SecretNames) -> Vec<ItemChange> {
    let (before, after) = (k8s_objects(old), k8s_objects(new));
    let keys: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    keys.into_iter()
        .filter_map(|k| match (before.get(k), after.get(k)) {
            (None, Some(text)) => Some(ItemChange {
                change: Change::Create,
                kind: ItemKind::Object,
                label: object_label(k, text),
                details: added(text, '+'),
                before: None,
                after: Some(marked(&parse_yaml(text), secrets)),
            }),
            (Some(text), None) => Some(ItemChange {
                change: Change::Delete,
                kind: ItemKind::Object,
                label: k.clone(),
                details: added(text, '-'),
                before: Some(marked(&parse_yaml(text), secrets)),
                after: None,
            }),
            (Some(a), Some(b)) if a != b => Some(ItemChange {
                change: Change::Update,
                kind: ItemKind::Object,
                label: object_label(k, b),
                details: unified(a, b),
                before: Some(marked(&parse_yaml(a), secrets)),
                after: Some(marked(&parse_yaml(b), secrets)),
            }),
            _ => None,
        })
        .collect()
}

fn stack_resources(old: &str, new: &str, secrets: &SecretNames) -> Vec<ItemChange> {
    let resources = |text: &str| -> BTreeMap<String, Value> {
        match parse_yaml(text).get("resources") {
            Some(Value::Object(map)) => map.clone().into_iter().collect(),
            _ => BTreeMap::new(),
        }
    };
    let (before, after) = (resources(old), resources(new));
    let keys: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    keys.into_iter()
        .filter_map(|k| {
            let ty = |v: &Value| {
                v.get("type")
                    .and_then(|t| t.as_str())
                    .unwrap_or("?")
                    .to_string()
            };
            match (before.get(k), after.get(k)) {
                (None, Some(v)) => Some(ItemChange {
                    change: Change::Create,
                    kind: ItemKind::StackResource,
                    label: format!("resource {k} ({})", ty(v)),
                    details: added(&crate::render::yaml(v), '+'),
                    before: None,
                    after: Some(marked(v, secrets)),
                }),
                (Some(v), None) => Some(ItemChange {
                    change: Change::Delete,
                    kind: ItemKind::StackResource,
                    label: format!("resource {k} ({})", ty(v)),
                    details: added(&crate::render::yaml(v), '-'),
                    before: Some(marked(v, secrets)),
                    after: None,
                }),
                (Some(a), Some(b)) if a != b => Some(ItemChange {
                    change: Change::Update,
                    kind: ItemKind::StackResource,
                    label: format!("resource {k} ({})", ty(b)),
                    details: unified(&crate::render::yaml(a), &crate::render::yaml(b)),
                    before: Some(marked(a, secrets)),
                    after: Some(marked(b, secrets)),
                }),
                _ => None,
            }
        })
        .collect()
}

/// A unified diff of two texts (changed lines with a little context).
pub fn unified(old: &str, new: &str) -> Vec<String> {
    let diff = similar::TextDiff::from_lines(old, new);
    diff.unified_diff()
        .context_radius(1)
        .to_string()
        .lines()
        .filter(|l| !l.starts_with("---") && !l.starts_with("+++"))
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A rendered secret reference and a placeholder become the markers
    /// every JSON output uses, the reference resolved to its file and key.
    #[test]
    fn rendered_references_become_the_json_markers() {
        let token = SecretRef {
            file: "secrets/dns.yaml".into(),
            key: "api.token".into(),
        };
        let names = secret_names([std::slice::from_ref(&token), &[]]);
        let rendered = serde_json::json!({
            "token": crate::render::secret_env_ref(&token.file, &token.key),
            "address": PLACEHOLDER,
            "other": "env/EV_SECRET_GONE_0000",
        });
        assert_eq!(
            marked(&rendered, &names),
            serde_json::json!({
                "token": { "$secret": { "file": "secrets/dns.yaml", "key": "api.token" } },
                "address": { "$unknown": { "reason": "known after apply", "file": null } },
                "other": { "$secret": { "file": null, "key": null } },
            })
        );
    }
}
