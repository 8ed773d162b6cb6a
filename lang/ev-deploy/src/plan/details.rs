//! What changes inside an action, at the level users think in: DNS record
//! sets, Kubernetes objects, stack resources, a machine or an image as a
//! whole. Computed from the artifacts' items (desired, and as the state
//! recorded them): data compared with data, never text parsed back.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::diff::Change;
use crate::backend::{Artifact, Item, ItemView, Side};
use crate::markers::{for_people, yaml, PLACEHOLDER};

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

impl ItemChange {
    /// The first value that differs between `before` and `after`, down to
    /// the leaf (`values[0]: (known after apply) → "203.0.113.50"`), from
    /// the data, for one-line reports (a value that became known).
    pub fn first_difference(&self) -> Option<String> {
        let (before, after) = (self.before.as_ref()?, self.after.as_ref()?);
        let (path, old, new) = first_leaf_difference(before, after, String::new())?;
        let show = |v: Option<&Value>| v.map_or_else(|| "(none)".into(), short);
        Some(format!("{path}: {} → {}", show(old), show(new)))
    }
}

/// The first (path, old, new) where two values differ, walking records by
/// key and lists of equal length by index; markers are leaves.
fn first_leaf_difference<'v>(
    a: &'v Value,
    b: &'v Value,
    path: String,
) -> Option<(String, Option<&'v Value>, Option<&'v Value>)> {
    if a == b {
        return None;
    }
    let join = |key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    let leaf = |v: &Value| ev_core::output::is_marker(v) || !(v.is_object() || v.is_array());
    if leaf(a) || leaf(b) {
        return Some((path, Some(a), Some(b)));
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, va) in x {
                match y.get(k) {
                    Some(vb) => {
                        if let Some(found) = first_leaf_difference(va, vb, join(k)) {
                            return Some(found);
                        }
                    }
                    None => return Some((join(k), Some(va), None)),
                }
            }
            y.iter()
                .find(|(k, _)| !x.contains_key(*k))
                .map(|(k, vb)| (join(k), None, Some(vb)))
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (va, vb))| first_leaf_difference(va, vb, format!("{path}[{i}]"))),
        _ => Some((path, Some(a), Some(b))),
    }
}

/// A value's one-line form in a field change (`ttl: 300 → 60`).
fn short(v: &Value) -> String {
    match for_people(v) {
        Value::String(s) if s == PLACEHOLDER => s,
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

/// An item's fields, for [`ItemView::Fields`].
fn fields(v: &Value) -> BTreeMap<&String, &Value> {
    v.as_object()
        .map(|m| m.iter().collect())
        .unwrap_or_default()
}

/// The lines of a created (`+`) or deleted (`-`) item.
fn whole(item: &Item, mark: char) -> Vec<String> {
    match item.view {
        ItemView::Fields => fields(&item.value)
            .iter()
            .map(|(k, v)| format!("{k}: {}", short(v)))
            .collect(),
        ItemView::Yaml => yaml(&for_people(&item.value))
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| format!("{mark} {l}"))
            .collect(),
    }
}

/// What changed between two versions of an item.
fn between(old: &Item, new: &Item) -> Vec<String> {
    match new.view {
        ItemView::Fields => {
            let (fa, fb) = (fields(&old.value), fields(&new.value));
            let names: std::collections::BTreeSet<&&String> = fa.keys().chain(fb.keys()).collect();
            names
                .into_iter()
                .filter(|f| fa.get(*f) != fb.get(*f))
                .map(|f| {
                    let show = |v: Option<&&Value>| v.map_or_else(|| "(none)".into(), |v| short(v));
                    format!("{f}: {} → {}", show(fa.get(f)), show(fb.get(f)))
                })
                .collect()
        }
        ItemView::Yaml => unified(
            &yaml(&for_people(&old.value)),
            &yaml(&for_people(&new.value)),
        ),
    }
}

/// The changed items between two versions of an artifact's items, in
/// key order. An item created or deleted with its action (a tool's
/// configuration) is worth a line only when it changes.
pub fn item_changes(before: &[Item], after: &[Item]) -> Vec<ItemChange> {
    let old: BTreeMap<&str, &Item> = before.iter().map(|i| (i.key.as_str(), i)).collect();
    let new: BTreeMap<&str, &Item> = after.iter().map(|i| (i.key.as_str(), i)).collect();
    let keys: std::collections::BTreeSet<&str> = old.keys().chain(new.keys()).copied().collect();
    keys.into_iter()
        .filter_map(|k| match (old.get(k), new.get(k)) {
            (None, Some(i)) if !i.with_action => Some(ItemChange {
                change: Change::Create,
                kind: i.kind,
                label: i.label.clone(),
                details: whole(i, '+'),
                before: None,
                after: Some(i.value.clone()),
            }),
            (Some(i), None) if !i.with_action => Some(ItemChange {
                change: Change::Delete,
                kind: i.kind,
                label: i.label.clone(),
                details: whole(i, '-'),
                before: Some(i.value.clone()),
                after: None,
            }),
            (Some(a), Some(b)) if a.value != b.value => Some(ItemChange {
                change: Change::Update,
                kind: b.kind,
                label: b.label.clone(),
                details: between(a, b),
                before: Some(a.value.clone()),
                after: Some(b.value.clone()),
            }),
            _ => None,
        })
        .collect()
}

/// A machine or image as one item: what changed among its inputs (modules,
/// image files) and its rendered files, and what applying it does.
pub fn rebuild(
    kind: ItemKind,
    subject: &str,
    before: Side<'_>,
    after: Side<'_>,
) -> Option<ItemChange> {
    let machine = kind == ItemKind::Machine;
    let (change, what) = match (before.artifact.is_some(), after.artifact.is_some(), machine) {
        (false, _, true) => (Change::Create, "build + activate"),
        (false, _, false) => (Change::Create, "build + push"),
        (true, false, true) => (
            Change::Delete,
            "no longer managed (the host keeps its system)",
        ),
        (true, false, false) => (
            Change::Delete,
            "no longer managed (pushed tags stay in the registry)",
        ),
        (true, true, true) => (Change::Update, "rebuild + activate"),
        (true, true, false) => (Change::Update, "rebuild + push"),
    };
    let mut details = Vec::new();
    if change == Change::Update {
        let input = if machine { "module" } else { "file" };
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
        // The files its tool reads, as people read a change to them: by
        // name (one folder per machine or image), a moved folder said once.
        let rendered = |a: Option<&Artifact>| a.map(|a| a.files()).unwrap_or_default();
        let (before_files, after_files) = (rendered(before.artifact), rendered(after.artifact));
        let folder = |files: &[crate::backend::RenderedFile]| {
            let path = &files.first()?.path;
            Some(path.rsplit_once('/').map_or("", |(dir, _)| dir).to_string())
        };
        if let (Some(from), Some(to)) = (folder(&before_files), folder(&after_files)) {
            if from != to {
                details.push(format!("its files move from {from}/ to {to}/"));
            }
        }
        let by_name = |files: Vec<crate::backend::RenderedFile>| -> BTreeMap<String, String> {
            files
                .into_iter()
                .map(|f| {
                    let name = f.path.rsplit('/').next().unwrap_or(&f.path).to_string();
                    (name, f.content)
                })
                .collect()
        };
        let (old, new) = (by_name(before_files), by_name(after_files));
        let paths: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
        for path in paths {
            let (a, b) = (old.get(path), new.get(path));
            if a != b {
                details.push(format!("{path}:"));
                details.extend(unified(
                    a.map(String::as_str).unwrap_or(""),
                    b.map(String::as_str).unwrap_or(""),
                ));
            }
        }
        if details.is_empty() {
            return None;
        }
    }
    Some(ItemChange {
        change,
        kind,
        label: format!("{subject}: {what}"),
        details,
        before: None,
        after: None,
    })
}

/// How many items (record sets, objects, resources; a machine or an image
/// is one) an artifact holds: the denominator of the deletion guardrail.
pub fn item_count(artifact: &Artifact) -> usize {
    artifact
        .items()
        .iter()
        .filter(|i| !i.with_action && i.kind != ItemKind::Config)
        .count()
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
    use serde_json::json;

    /// The first difference is found in the data, down to the leaf: an
    /// unknown that became known inside an object's container list.
    #[test]
    fn first_difference_names_the_leaf() {
        let unknown = json!({ "$unknown": { "reason": "not yet", "file": "exports/x.txt" } });
        let change = ItemChange {
            change: Change::Update,
            kind: ItemKind::Object,
            label: "Deployment apps/web".into(),
            details: Vec::new(),
            before: Some(
                json!({ "spec": { "replicas": 1, "containers": [{ "name": "web", "image": unknown }] } }),
            ),
            after: Some(
                json!({ "spec": { "replicas": 1, "containers": [{ "name": "web", "image": "r/web@sha256:ab" }] } }),
            ),
        };
        assert_eq!(
            change.first_difference().as_deref(),
            Some("spec.containers[0].image: (known after apply) → \"r/web@sha256:ab\"")
        );
        let added = ItemChange {
            before: Some(json!({ "a": 1 })),
            after: Some(json!({ "a": 1, "b": [1, 2] })),
            ..change
        };
        assert_eq!(
            added.first_difference().as_deref(),
            Some("b: (none) → [1,2]")
        );
    }
}
