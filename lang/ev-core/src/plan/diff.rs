//! Comparing the desired action graph with the state: what `ev plan` shows.

use serde::Serialize;

use super::state::{fingerprint, State};
use super::{ActionGraph, Backend};

/// What happens to an action's resources.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// Not applied before.
    Create,
    /// Applied with other inputs.
    Update,
    /// Applied before, no longer declared.
    Delete,
    /// Unchanged.
    None,
}

impl Change {
    /// Terraform's symbol.
    pub fn symbol(self) -> &'static str {
        match self {
            Change::Create => "+",
            Change::Update => "~",
            Change::Delete => "-",
            Change::None => " ",
        }
    }
}

/// One action in the plan.
#[derive(Clone, Debug, Serialize)]
pub struct PlannedAction {
    /// The action id.
    pub id: String,
    /// Its backend.
    pub backend: String,
    /// What happens.
    pub change: Change,
    /// Files whose content changes (or all, for creates and deletes).
    pub changed_files: Vec<String>,
    /// Some inputs are not known until an earlier action applies.
    pub has_unknowns: bool,
    /// The earlier actions whose results it waits for (re-planned after them).
    pub replanned_after: Vec<String>,
    /// What changes inside it (records, objects, resources, files).
    pub items: Vec<super::details::ItemChange>,
    /// Actions it waits for.
    pub depends_on: Vec<String>,
}

/// The whole plan.
#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    /// The plan format version.
    pub version: u32,
    /// Every action, in execution order, then deletions.
    pub actions: Vec<PlannedAction>,
}

impl Plan {
    /// Whether anything would change.
    pub fn has_changes(&self) -> bool {
        self.actions.iter().any(|a| a.change != Change::None)
    }

    /// Counts of (create, update, delete, unchanged).
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        let count = |c: Change| self.actions.iter().filter(|a| a.change == c).count();
        (
            count(Change::Create),
            count(Change::Update),
            count(Change::Delete),
            count(Change::None),
        )
    }
}

/// Compares the desired graph with the state.
pub fn diff(graph: &ActionGraph, state: &State) -> Plan {
    let mut actions = Vec::new();
    for action in graph.ordered() {
        let has_unknowns = action.files.iter().any(|f| f.has_unknowns);
        let (change, changed_files) = match state.actions.get(&action.id) {
            None => (
                Change::Create,
                action.files.iter().map(|f| f.path.clone()).collect(),
            ),
            Some(prev) if prev.fingerprint == fingerprint(action) => (Change::None, Vec::new()),
            Some(prev) => {
                let mut changed: Vec<String> = action
                    .files
                    .iter()
                    .filter(|f| prev.files.get(&f.path) != Some(&f.content))
                    .map(|f| f.path.clone())
                    .collect();
                changed.extend(
                    prev.files
                        .keys()
                        .filter(|p| !action.files.iter().any(|f| &f.path == *p))
                        .cloned(),
                );
                (Change::Update, changed)
            }
        };
        let replanned_after = if has_unknowns {
            action
                .depends_on
                .iter()
                .filter(|d| graph.get(d).is_some_and(|p| p.exports_pending))
                .cloned()
                .collect()
        } else {
            Vec::new()
        };
        let desired: std::collections::BTreeMap<String, String> = action
            .files
            .iter()
            .map(|f| (f.path.clone(), f.content.clone()))
            .collect();
        let applied = state
            .actions
            .get(&action.id)
            .map(|a| a.files.clone())
            .unwrap_or_default();
        let items = if change == Change::None {
            Vec::new()
        } else {
            super::details::items(action.backend, &applied, &desired)
        };
        actions.push(PlannedAction {
            id: action.id.clone(),
            backend: action.backend.to_string(),
            change,
            changed_files,
            has_unknowns,
            replanned_after,
            items,
            depends_on: action.depends_on.clone(),
        });
    }
    for (id, prev) in &state.actions {
        if graph.get(id).is_none() {
            let items = Backend::from_name(&prev.backend)
                .map(|b| super::details::items(b, &prev.files, &std::collections::BTreeMap::new()))
                .unwrap_or_default();
            actions.push(PlannedAction {
                items,
                id: id.clone(),
                backend: prev.backend.clone(),
                change: Change::Delete,
                changed_files: prev.files.keys().cloned().collect(),
                has_unknowns: false,
                replanned_after: Vec::new(),
                depends_on: Vec::new(),
            });
        }
    }
    Plan {
        version: 1,
        actions,
    }
}

/// The layer of an action id (`eight:yuto.sh` → `eight`).
pub fn layer(id: &str) -> &str {
    id.split(':').next().unwrap_or(id)
}

impl Backend {
    /// Parses a backend name as written in the state.
    pub fn from_name(name: &str) -> Option<Backend> {
        Some(match name {
            "pulumi" => Backend::Pulumi,
            "octodns" => Backend::Octodns,
            "registry" => Backend::Registry,
            "nix" => Backend::Nix,
            "kubectl" => Backend::Kubectl,
            _ => return None,
        })
    }
}

/// The plan as text for people: changed actions with Terraform's symbols,
/// changed files, values known after apply, and a summary per layer and in total.
pub fn render_human(plan: &Plan) -> String {
    use std::collections::BTreeMap;
    let mut out = String::new();
    let id_w = plan
        .actions
        .iter()
        .filter(|a| a.change != Change::None)
        .map(|a| a.id.chars().count())
        .max()
        .unwrap_or(0);
    for a in plan.actions.iter().filter(|a| a.change != Change::None) {
        let what = match a.change {
            Change::Create => "create",
            Change::Update => "update",
            Change::Delete => "delete",
            Change::None => "",
        };
        out.push_str(&format!(
            "  {} {:id_w$}  {:<8}  {what}\n",
            a.change.symbol(),
            a.id,
            a.backend
        ));
        // Creations list what they create, folded past a dozen items.
        let shown = if a.change == Change::Create {
            12
        } else {
            usize::MAX
        };
        for item in a.items.iter().take(shown) {
            out.push_str(&format!("      {} {}\n", item.change.symbol(), item.label));
            if a.change != Change::Create {
                for line in &item.details {
                    out.push_str(&format!("          {line}\n"));
                }
            }
        }
        if a.items.len() > shown {
            out.push_str(&format!("      ... and {} more\n", a.items.len() - shown));
        }
        if !a.replanned_after.is_empty() {
            out.push_str(&format!(
                "      (known after apply): re-planned after {}\n",
                a.replanned_after.join(", ")
            ));
        }
    }
    let (create, update, delete, same) = plan.counts();
    if create + update + delete == 0 {
        out.push_str("No changes. The infrastructure matches the recorded state.\n");
    } else {
        out.push('\n');
    }
    let mut layers: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
    for a in &plan.actions {
        let entry = layers.entry(layer(&a.id)).or_default();
        match a.change {
            Change::Create => entry.0 += 1,
            Change::Update => entry.1 += 1,
            Change::Delete => entry.2 += 1,
            Change::None => {}
        }
    }
    let by_layer: Vec<String> = layers
        .iter()
        .filter(|(_, (c, u, d))| c + u + d > 0)
        .map(|(l, (c, u, d))| format!("{l} +{c} ~{u} -{d}"))
        .collect();
    if !by_layer.is_empty() {
        out.push_str(&format!("By layer: {}\n", by_layer.join(", ")));
    }
    out.push_str(&format!(
        "Plan: {create} to create, {update} to update, {delete} to delete, {same} unchanged.\n"
    ));
    out
}
