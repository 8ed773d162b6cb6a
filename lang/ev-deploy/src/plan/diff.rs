//! Comparing the desired action graph with the state: what `ev plan` shows.

use serde::{Deserialize, Serialize};

use super::state::State;
use super::{ActionGraph, BackendId};
use crate::backend::{Artifact, Side, StandIn};

/// What happens to an action's resources.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
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
#[derive(Clone, Debug, Serialize, Deserialize)]
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
    /// Realizes a resource declared with `protect = true` (never deleted).
    pub protected: bool,
}

/// The version of the plan document this ev writes and reads: 2 has the
/// items' `before`/`after` as the backends' data (a record set's `values`
/// always a list, unknowns with the export file they wait for, a Secret's
/// values as `$secret` markers).
pub const PLAN_VERSION: u32 = 2;

/// The whole plan.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Plan {
    /// The plan format version.
    pub version: u32,
    /// What the plan was made from (set when it is saved with `--out`):
    /// `ev apply plan.json` refuses to run when any of it changed since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<Basis>,
    /// Every action, in execution order, then deletions.
    pub actions: Vec<PlannedAction>,
    /// Resources realized elsewhere in this environment (no action).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stand_ins: Vec<StandIn>,
    /// Records the apply re-keys (`moved`): the actions above are compared
    /// with them under their new ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub moved: Vec<super::refactor::Moved>,
    /// Records the apply drops (`forget`), leaving what they applied as it is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forgotten: Vec<super::refactor::Forgotten>,
}

/// Digests of what a plan was computed from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Basis {
    /// The program's source files.
    pub program: String,
    /// Every action's fingerprint: its artifact and inputs (covers the data
    /// files the program reads, magic values included).
    pub actions: String,
    /// The files under `exports/`.
    pub exports: String,
    /// The state file (`none` when there was none).
    pub state: String,
}

impl Basis {
    /// The names of the parts that differ between two bases.
    pub fn changes_since(&self, saved: &Basis) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.program != saved.program {
            out.push("the program");
        }
        if self.actions != saved.actions {
            out.push("the actions");
        }
        if self.exports != saved.exports {
            out.push("the exports");
        }
        if self.state != saved.state {
            out.push("the state");
        }
        out
    }
}

/// A digest of named byte strings (path, content), order-independent.
pub fn digest_files<'a>(files: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> String {
    let mut sorted: Vec<(&str, &[u8])> = files.into_iter().collect();
    sorted.sort();
    let mut all = Vec::new();
    for (path, bytes) in sorted {
        all.extend_from_slice(path.as_bytes());
        all.push(0);
        all.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        all.extend_from_slice(bytes);
    }
    super::state::hex_sha256(&all)
}

/// The digest of a program's sources.
pub fn program_digest(program: &ev_core::Program) -> String {
    digest_files(
        program
            .sources
            .iter()
            .map(|(_, f)| (f.path.as_str(), f.text.as_bytes())),
    )
}

/// The digest of the desired actions.
pub fn actions_digest(graph: &ActionGraph) -> String {
    let prints: Vec<(String, String)> = graph
        .ordered()
        .into_iter()
        .map(|a| (a.id.clone(), a.fingerprint.clone()))
        .collect();
    digest_files(prints.iter().map(|(id, f)| (id.as_str(), f.as_bytes())))
}

impl Plan {
    /// Whether anything would change: an action, or a record the apply
    /// moves or forgets.
    pub fn has_changes(&self) -> bool {
        self.actions.iter().any(|a| a.change != Change::None)
            || !self.moved.is_empty()
            || !self.forgotten.is_empty()
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

/// The paths of the files whose content differs between two artifacts
/// (all of one side's when the other is absent).
fn changed_files(before: Option<&Artifact>, after: Option<&Artifact>) -> Vec<String> {
    let files = |a: Option<&Artifact>| -> std::collections::BTreeMap<String, String> {
        a.map(|a| a.files().into_iter().map(|f| (f.path, f.content)).collect())
            .unwrap_or_default()
    };
    let (old, new) = (files(before), files(after));
    let mut paths: Vec<String> = new
        .iter()
        .filter(|(p, text)| old.get(*p) != Some(text))
        .map(|(p, _)| p.clone())
        .collect();
    paths.extend(old.keys().filter(|p| !new.contains_key(*p)).cloned());
    paths
}

/// Compares the desired graph with the state.
pub fn diff(graph: &ActionGraph, state: &State) -> Plan {
    let mut actions = Vec::new();
    let no_inputs = std::collections::BTreeMap::new();
    for action in graph.ordered() {
        let has_unknowns = action.unknowns.any();
        let recorded = state.actions.get(&action.id);
        let unchanged = recorded.is_some_and(|prev| prev.fingerprint == action.fingerprint);
        // Applied, but what it writes is gone (deleted, never committed):
        // it runs again, or what reads it stays unknown.
        let unchanged_but_unwritten = unchanged && action.exports_pending;
        let change = match recorded {
            None => Change::Create,
            Some(_) if unchanged_but_unwritten => Change::Update,
            Some(_) if unchanged => Change::None,
            Some(_) => Change::Update,
        };
        let applied = recorded.map(|a| &a.artifact);
        let changed_files = match change {
            Change::None => Vec::new(),
            _ if unchanged_but_unwritten => Vec::new(),
            _ => changed_files(applied, Some(&action.artifact)),
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
        let mut items = if change == Change::None {
            Vec::new()
        } else {
            action.backend.backend().changes(
                &subject(action.backend, &action.id),
                Side {
                    artifact: applied,
                    digests: recorded.map_or(&no_inputs, |a| &a.inputs),
                },
                Side {
                    artifact: Some(&action.artifact),
                    digests: &action.inputs,
                },
            )
        };
        if unchanged_but_unwritten {
            items.extend(action.produces.iter().map(|p| super::details::ItemChange {
                change: Change::Create,
                kind: super::details::ItemKind::Export,
                label: format!("export {p} (missing: written again)"),
                details: Vec::new(),
                before: None,
                after: None,
            }));
        }
        actions.push(PlannedAction {
            id: action.id.clone(),
            backend: action.backend.to_string(),
            change,
            changed_files,
            has_unknowns,
            replanned_after,
            items,
            depends_on: action.depends_on.clone(),
            protected: action.protected,
        });
    }
    // What the state holds for a stand-in was applied where it runs:
    // left alone, not destroyed.
    let standing_in = |id: &str| graph.stand_ins.iter().any(|s| s.id == id);
    for (id, prev) in &state.actions {
        if graph.get(id).is_none() && !standing_in(id) {
            let items = BackendId::from_name(&prev.backend)
                .map(|b| {
                    b.backend().changes(
                        &subject(b, id),
                        Side {
                            artifact: Some(&prev.artifact),
                            digests: &prev.inputs,
                        },
                        Side {
                            artifact: None,
                            digests: &no_inputs,
                        },
                    )
                })
                .unwrap_or_default();
            actions.push(PlannedAction {
                items,
                id: id.clone(),
                backend: prev.backend.clone(),
                change: Change::Delete,
                changed_files: changed_files(Some(&prev.artifact), None),
                has_unknowns: false,
                replanned_after: Vec::new(),
                depends_on: Vec::new(),
                protected: prev.protected,
            });
        }
    }
    Plan {
        version: PLAN_VERSION,
        basis: None,
        actions,
        stand_ins: graph.stand_ins.clone(),
        moved: Vec::new(),
        forgotten: Vec::new(),
    }
}

/// What a machine or image action realizes, from its id:
/// `venus:methanol:deploy` → `machine methanol`, `whale:x:push` → `image x`.
fn subject(backend: BackendId, id: &str) -> String {
    super::ActionId::parse(backend, id).map_or_else(|| id.to_string(), |id| id.subject())
}

/// The layer of a planned action (`eight:yuto.sh` → `eight`).
pub fn layer(action: &PlannedAction) -> String {
    super::id::layer_of(&action.backend, &action.id)
}

/// How much of a plan to show people.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detail {
    /// Every item with its values (created, changed and deleted): for
    /// reviews, logs and CI, and the default when not on a terminal.
    Full,
    /// At most a dozen items per action, values of changed items only.
    Compact,
}

/// Items shown per action by [`Detail::Compact`].
const COMPACT_ITEMS: usize = 12;

/// The plan for people, in full (see [`render_human_as`]).
pub fn render_human(plan: &Plan) -> String {
    render_human_as(plan, Detail::Full)
}

/// The plan as text for people: changed actions with Terraform's symbols,
/// the items they change with their values, values known after apply, and
/// a summary of the items per layer and of the actions. Safe for a terminal
/// (see [`ev_core::output::terminal_safe`]).
pub fn render_human_as(plan: &Plan, detail: Detail) -> String {
    ev_core::output::terminal_safe(&render_human_raw(plan, detail)).into_owned()
}

fn render_human_raw(plan: &Plan, detail: Detail) -> String {
    let mut out = String::new();
    let id_w = plan
        .actions
        .iter()
        .filter(|a| a.change != Change::None)
        .map(|a| a.id.chars().count())
        .max()
        .unwrap_or(0);
    let mut folded = false;
    for a in plan.actions.iter().filter(|a| a.change != Change::None) {
        let what = match a.change {
            Change::Create => "create",
            Change::Update => "update",
            Change::Delete => "delete",
            Change::None => "",
        };
        out.push_str(&format!(
            "  {} {:id_w$}  {:<8}  {what}{}\n",
            a.change.symbol(),
            a.id,
            a.backend,
            if a.protected { " (protected)" } else { "" }
        ));
        let shown = match detail {
            Detail::Full => usize::MAX,
            Detail::Compact => COMPACT_ITEMS,
        };
        for item in a.items.iter().take(shown) {
            out.push_str(&format!("      {} {}\n", item.change.symbol(), item.label));
            if detail == Detail::Full || item.change == Change::Update {
                for line in &item.details {
                    out.push_str(&format!("          {line}\n"));
                }
            }
        }
        if a.items.len() > shown {
            folded = true;
            out.push_str(&format!("      ... and {} more\n", a.items.len() - shown));
        }
        if !a.replanned_after.is_empty() {
            out.push_str(&format!(
                "      (known after apply): re-planned after {}\n",
                a.replanned_after.join(", ")
            ));
        }
    }
    out.push_str(&render_refactoring(plan));
    for s in &plan.stand_ins {
        out.push_str(&format!("  = {}  not applied: {}\n", s.resource, s.note));
    }
    let (create, update, delete, _) = plan.counts();
    if create + update + delete == 0 && plan.moved.is_empty() && plan.forgotten.is_empty() {
        out.push_str("No changes. The infrastructure matches the recorded state.\n");
    } else {
        out.push('\n');
    }
    out.push_str(&summary(plan));
    if folded {
        out.push_str("(compact: `ev plan --full` shows every item with its values)\n");
    }
    out
}

/// The records the apply moves and forgets, one line each: `> from  to`
/// and `/ id`, with the declaration asking for it.
fn render_refactoring(plan: &Plan) -> String {
    let mut out = String::new();
    let width = plan
        .moved
        .iter()
        .map(|m| m.from.chars().count())
        .chain(plan.forgotten.iter().map(|f| f.id.chars().count()))
        .max()
        .unwrap_or(0);
    for m in &plan.moved {
        out.push_str(&format!(
            "  > {:width$}  {:<8}  moved to {} (by {}; the state only: nothing is destroyed)\n",
            m.from, m.backend, m.to, m.by
        ));
    }
    for f in &plan.forgotten {
        out.push_str(&format!(
            "  / {:width$}  {:<8}  forgotten (by {}; what it applied is left as it is, no longer managed)\n",
            f.id, f.backend, f.by
        ));
    }
    out
}

/// Added, changed and destroyed items of one kind.
#[derive(Default)]
struct Tally {
    add: usize,
    change: usize,
    destroy: usize,
}

impl Tally {
    fn count(&mut self, change: Change) {
        match change {
            Change::Create => self.add += 1,
            Change::Update => self.change += 1,
            Change::Delete => self.destroy += 1,
            Change::None => {}
        }
    }

    fn total(&self) -> usize {
        self.add + self.change + self.destroy
    }
}

/// What changes in one layer: its name, its changed items by kind
/// (`~1 record set, +2 objects`) and how many actions change.
pub struct LayerChanges {
    /// The layer (`eight`).
    pub layer: String,
    /// Its changed items, by kind.
    pub items: String,
    /// Its changed actions.
    pub actions: usize,
}

/// Per layer, what changes among the items people review (record sets,
/// objects, stack resources, machines, images, files); then the totals of
/// added, changed and destroyed items.
pub fn layer_changes(plan: &Plan) -> (Vec<LayerChanges>, (usize, usize, usize)) {
    use super::details::ItemKind;
    use std::collections::BTreeMap;
    let mut layers: BTreeMap<String, (BTreeMap<ItemKind, Tally>, usize)> = BTreeMap::new();
    let mut items = Tally::default();
    for a in plan.actions.iter().filter(|a| a.change != Change::None) {
        let (kinds, actions) = layers.entry(layer(a)).or_default();
        *actions += 1;
        for item in &a.items {
            kinds.entry(item.kind).or_default().count(item.change);
            items.count(item.change);
        }
    }
    let lines = layers
        .into_iter()
        .map(|(name, (kinds, actions))| LayerChanges {
            layer: name,
            items: tally_text(&kinds),
            actions,
        })
        .collect();
    (lines, (items.add, items.change, items.destroy))
}

/// The summary, Terraform style: [`layer_changes`], then the totals of
/// items and of actions.
fn summary(plan: &Plan) -> String {
    let (layers, (add, change, destroy)) = layer_changes(plan);
    let mut out = String::new();
    let layer_w = layers
        .iter()
        .map(|l| l.layer.chars().count())
        .max()
        .unwrap_or(0);
    if !layers.is_empty() {
        out.push_str("Changes by layer:\n");
    }
    for l in &layers {
        out.push_str(&format!(
            "  {:layer_w$}  {}  ({} action{})\n",
            l.layer,
            l.items,
            l.actions,
            if l.actions == 1 { "" } else { "s" }
        ));
    }
    out.push_str(&totals(plan, (add, change, destroy)));
    out
}

/// `Plan: 1 to add, ...; actions: ...` (the last line of every plan).
pub fn totals(plan: &Plan, (add, change, destroy): (usize, usize, usize)) -> String {
    let (create, update, delete, same) = plan.counts();
    let records = match (plan.moved.len(), plan.forgotten.len()) {
        (0, 0) => String::new(),
        (moved, forgotten) => {
            format!("; records: {moved} to move, {forgotten} to forget")
        }
    };
    format!(
        "Plan: {add} to add, {change} to change, {destroy} to destroy; actions: {create} to create, {update} to update, {delete} to delete, {same} unchanged{records}.\n"
    )
}

/// `~1 record set, +2 objects`, or `(no items)`.
fn tally_text(kinds: &std::collections::BTreeMap<super::details::ItemKind, Tally>) -> String {
    let parts: Vec<String> = kinds
        .iter()
        .filter(|(_, t)| t.total() > 0)
        .map(|(kind, t)| {
            let mut signs = Vec::new();
            for (sign, n) in [('+', t.add), ('~', t.change), ('-', t.destroy)] {
                if n > 0 {
                    signs.push(format!("{sign}{n}"));
                }
            }
            let noun = kind.counted(t.total());
            let noun = noun.split_once(' ').map_or(noun.as_str(), |(_, w)| w);
            format!("{} {noun}", signs.join(" "))
        })
        .collect();
    if parts.is_empty() {
        "(no items)".to_string()
    } else {
        parts.join(", ")
    }
}

/// The plan for people when it was restricted to `targets`: which actions
/// were pulled in as their dependencies, then the plan.
pub fn render_targeted(
    plan: &Plan,
    targets: &[String],
    pulled_in: &[String],
    detail: Detail,
) -> String {
    let mut text = String::new();
    if !pulled_in.is_empty() {
        text.push_str(&format!(
            "Targeting {}; also planning what they depend on: {}\n\n",
            targets.join(", "),
            pulled_in.join(", ")
        ));
    }
    text.push_str(&render_human_as(plan, detail));
    text
}

/// A plan that guardrails refuse.
#[derive(Clone, Debug, PartialEq)]
pub enum PlanError {
    /// A protected resource's action would be deleted.
    ProtectedDeletion {
        /// The action id.
        action: String,
    },
    /// A layer would lose more than the allowed share of what it has.
    LargeDeletion {
        /// The layer.
        layer: String,
        /// Items deleted.
        deleted: usize,
        /// Items applied before.
        total: usize,
        /// What would be deleted: `action: item` (the whole action when it
        /// goes).
        deletions: Vec<String>,
    },
    /// A target matches no action, layer, resource or tag.
    UnknownTarget {
        /// The target.
        target: String,
        /// Close candidates.
        suggestions: Vec<String>,
    },
    /// Actions wait for each other's exports: none of them can run first.
    Cycle {
        /// The actions of the cycle.
        actions: Vec<String>,
    },
}

impl PlanError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            PlanError::ProtectedDeletion { .. } => "E0501",
            PlanError::LargeDeletion { .. } => "E0502",
            PlanError::UnknownTarget { .. } => "E0503",
            PlanError::Cycle { .. } => "E0505",
        }
    }

    /// The diagnostic every face renders (it has no place in the sources).
    pub fn diagnostic(&self) -> ev_core::diagnostic::Diagnostic {
        let (message, help) = self.message();
        let d = ev_core::diagnostic::Diagnostic::general(self.code(), message).with_help(help);
        match self {
            PlanError::LargeDeletion { deletions, .. } if !deletions.is_empty() => {
                const SHOWN: usize = 50;
                let mut note = String::from("it would delete:");
                for deletion in deletions.iter().take(SHOWN) {
                    note.push_str("\n    - ");
                    note.push_str(deletion);
                }
                if deletions.len() > SHOWN {
                    note.push_str(&format!("\n    ... and {} more", deletions.len() - SHOWN));
                }
                d.with_note(note)
            }
            _ => d,
        }
    }

    /// The message and help.
    pub fn message(&self) -> (String, String) {
        match self {
            PlanError::ProtectedDeletion { action } => (
                format!("the plan would delete `{action}`, which is protected"),
                "its resource is declared with `protect = true`: remove that first if the deletion is intended".into(),
            ),
            PlanError::LargeDeletion {
                layer,
                deleted,
                total,
                ..
            } => (
                format!(
                    "the plan would delete {deleted} of {total} items in `{layer}` (more than {}%)",
                    DELETE_THRESHOLD_PERCENT
                ),
                "check that nothing was removed by mistake; pass --allow-large-changes to proceed".into(),
            ),
            PlanError::UnknownTarget { target, suggestions } => (
                format!("no action, layer, resource or tag matches `{target}`"),
                ev_core::suggest::did_you_mean(suggestions).unwrap_or_else(|| {
                    "targets are layers (`eight`), actions (`eight:yuto.sh`), resources (`domain.yuto.sh`) or tags (`tag:cloud`)".into()
                }),
            ),
            PlanError::Cycle { actions } => (
                format!(
                    "these actions wait for each other's exports: {}",
                    actions.join(", ")
                ),
                "one of them must not read what the other writes (a stack's outputs, an image's digest)".into(),
            ),
        }
    }
}

/// Deleting more than this share of a layer's items needs --allow-large-changes
/// (octodns' own safety threshold is 30% too).
pub const DELETE_THRESHOLD_PERCENT: usize = 30;

/// The guardrails: protected resources are never deleted, and no layer loses
/// more than [`DELETE_THRESHOLD_PERCENT`] of its items unless allowed.
pub fn guardrails(plan: &Plan, state: &State, allow_large_changes: bool) -> Vec<PlanError> {
    let mut errors = Vec::new();
    for a in plan.actions.iter().filter(|a| a.change == Change::Delete) {
        if state.actions.get(&a.id).is_some_and(|s| s.protected) {
            errors.push(PlanError::ProtectedDeletion {
                action: a.id.clone(),
            });
        }
    }
    if !allow_large_changes {
        let mut per_layer: std::collections::BTreeMap<String, (usize, usize, Vec<String>)> =
            std::collections::BTreeMap::new();
        // Only layers losing something need their totals (which parse files).
        let deleting: std::collections::BTreeSet<String> = plan
            .actions
            .iter()
            .filter(|a| {
                a.change == Change::Delete || a.items.iter().any(|i| i.change == Change::Delete)
            })
            .map(layer)
            .collect();
        for a in plan.actions.iter().filter(|a| deleting.contains(&layer(a))) {
            let Some(prev) = state.actions.get(&a.id) else {
                continue;
            };
            let before = super::details::item_count(&prev.artifact);
            let deleted = match a.change {
                Change::Delete => before,
                _ => a
                    .items
                    .iter()
                    .filter(|i| i.change == Change::Delete)
                    .count(),
            };
            let entry = per_layer.entry(layer(a)).or_default();
            entry.0 += deleted;
            entry.1 += before;
            let items = a.items.iter().filter(|i| i.change == Change::Delete);
            entry
                .2
                .extend(items.map(|i| format!("{}: {}", a.id, i.label)));
            if a.change == Change::Delete && a.items.is_empty() {
                entry.2.push(format!("{} (the whole action)", a.id));
            }
        }
        for (l, (deleted, total, deletions)) in per_layer {
            if total > 0 && deleted * 100 > total * DELETE_THRESHOLD_PERCENT {
                errors.push(PlanError::LargeDeletion {
                    layer: l.to_string(),
                    deleted,
                    total,
                    deletions,
                });
            }
        }
    }
    errors
}

/// Restricts a plan to targets and their upstream dependencies. Returns
/// the actions pulled in only as dependencies, or an error for a target
/// matching nothing.
pub fn target(
    plan: &mut Plan,
    graph: &ActionGraph,
    targets: &[String],
) -> Result<Vec<String>, PlanError> {
    if targets.is_empty() {
        return Ok(Vec::new());
    }
    let mut selected = std::collections::BTreeSet::new();
    for t in targets {
        let tag = t.strip_prefix("tag:");
        let matches: Vec<String> = graph
            .ordered()
            .into_iter()
            .filter(|a| match tag {
                Some(tag) => a.tags.iter().any(|x| x == tag),
                None => {
                    a.id == *t
                        || a.layer() == *t
                        || a.resources
                            .iter()
                            .any(|r| r.to_string() == *t || format!("{}.{}", r.kind, r.name) == *t)
                }
            })
            .map(|a| a.id.clone())
            .collect();
        if matches.is_empty() {
            let mut candidates: Vec<String> =
                graph.ordered().iter().map(|a| a.id.clone()).collect();
            candidates.extend(graph.ordered().iter().map(|a| a.layer()));
            candidates.extend(
                graph
                    .ordered()
                    .iter()
                    .flat_map(|a| a.resources.iter().map(|r| r.to_string())),
            );
            candidates.sort();
            candidates.dedup();
            let mut suggestions =
                ev_core::suggest::similar(t, candidates.iter().map(|s| s.as_str()));
            // A bare name (`yuto.sh`, `methanol`): the actions and resources
            // it names, by their full spellings.
            if suggestions.is_empty() {
                suggestions = candidates
                    .iter()
                    .filter(|c| {
                        c.split(':').any(|part| part == t)
                            || c.split_once('.').is_some_and(|(_, name)| name == t)
                    })
                    .take(4)
                    .cloned()
                    .collect();
            }
            return Err(PlanError::UnknownTarget {
                target: t.clone(),
                suggestions,
            });
        }
        selected.extend(matches);
    }
    let direct = selected.clone();
    let mut stack: Vec<String> = selected.iter().cloned().collect();
    while let Some(id) = stack.pop() {
        if let Some(a) = graph.get(&id) {
            for dep in &a.depends_on {
                if selected.insert(dep.clone()) {
                    stack.push(dep.clone());
                }
            }
        }
    }
    plan.actions.retain(|a| selected.contains(&a.id));
    Ok(selected.difference(&direct).cloned().collect())
}
