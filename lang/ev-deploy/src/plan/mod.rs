//! The action graph: what `ev apply` will run, lowered from the model.
//!
//! Each action has a stable id (`jupiter:up`, `eight:yuto.sh`,
//! `whale:grand-central:push`, `venus:methanol:deploy`, `milky-way:apply`),
//! a backend, the typed artifact its tool is given, the actions it depends
//! on (derived from the model's references) and the exports it produces.
//! Lowering is pure: no tool runs here.

pub mod details;
pub mod diff;
pub mod id;
mod lower;
pub mod markdown;
pub mod promotion;
pub mod refactor;
pub mod state;

pub use id::ActionId;

use std::collections::BTreeMap;

use petgraph::stable_graph::{NodeIndex, StableDiGraph};
use serde::Serialize;

use ev_core::model::ResourceKey;

pub use crate::backend::{Artifact, BackendId, RenderedFile};
pub use crate::markers::Unknowns;
pub use lower::lower;

use diff::{Change, Plan};
use ev_core::fs::{FileSystem, HidingFs};
use ev_core::model::Model;
use ev_core::{Evaluator, Program};
use state::State;

/// The action graph of a model and its plan against `state`, with the
/// values that depend on this plan unknown: when an action will rewrite
/// exports (a stack that changes, an image that is rebuilt), the program is
/// re-evaluated with those export files hidden, so what reads them renders
/// as `(known after apply)` and is re-planned after that action. Repeats
/// until no further producer changes (at most once per producer).
pub fn plan(
    program: &Program,
    fs: &dyn FileSystem,
    model: &Model,
    state: &State,
) -> (ActionGraph, Plan) {
    plan_lowered(program, fs, lower(model, fs), state)
}

/// [`plan`] after the program's `moved` and `forget` declarations edited
/// `state` ([`refactor`]): the plan compares the edited records and lists
/// the edits. `Err` holds every refused one (E0619), and `state` is then
/// untouched.
pub fn plan_refactored(
    program: &Program,
    fs: &dyn FileSystem,
    model: &Model,
    state: &mut State,
) -> Result<(ActionGraph, Plan), Vec<ev_core::Diagnostic>> {
    let graph = lower(model, fs);
    let done = match refactor::refactor(model, &graph, state) {
        Ok(done) => done,
        Err(refused) => {
            let ev = Evaluator::new(program, fs);
            return Err(refused.iter().map(|r| r.diagnostic(program, &ev)).collect());
        }
    };
    let (graph, mut planned) = plan_lowered(program, fs, graph, state);
    planned.moved = done.moved;
    planned.forgotten = done.forgotten;
    Ok((graph, planned))
}

/// [`plan`] of an already lowered graph.
fn plan_lowered(
    program: &Program,
    fs: &dyn FileSystem,
    mut graph: ActionGraph,
    state: &State,
) -> (ActionGraph, Plan) {
    let mut planned = diff::diff(&graph, state);
    let mut hidden = std::collections::BTreeSet::new();
    loop {
        let rewritten: Vec<String> = planned
            .actions
            .iter()
            .filter(|a| matches!(a.change, Change::Create | Change::Update))
            .filter_map(|a| graph.get(&a.id))
            .flat_map(|a| a.produces.iter())
            .filter(|p| !hidden.contains(*p) && fs.exists(p))
            .cloned()
            .collect();
        if rewritten.is_empty() {
            return (graph, planned);
        }
        hidden.extend(rewritten);
        let hiding = HidingFs {
            hidden: &hidden,
            base: fs,
        };
        let ev = Evaluator::new(program, &hiding);
        let (model, diagnostics) = crate::build_model(program, &ev);
        if !diagnostics.is_empty() {
            // The declarations need the recorded exports to evaluate: keep
            // the plan made with them (its values are the recorded ones).
            return (graph, planned);
        }
        graph = lower(&model, &hiding);
        planned = diff::diff(&graph, state);
    }
}

/// One step of the plan.
#[derive(Clone, Debug, Serialize)]
pub struct Action {
    /// Stable id, e.g. `eight:yuto.sh`.
    pub id: String,
    /// The tool it drives.
    pub backend: BackendId,
    /// The resources it realizes.
    pub resources: Vec<ResourceKey>,
    /// What its tool is given, as data.
    pub artifact: Artifact,
    /// The values its artifact holds that are not known until apply.
    pub unknowns: Unknowns,
    /// A digest of its artifact and inputs: what the state compares.
    pub fingerprint: String,
    /// Ids of the actions that must run first.
    pub depends_on: Vec<String>,
    /// Export files it writes (read back by other declarations).
    pub produces: Vec<String>,
    /// What it produces is not known yet (never applied): actions reading
    /// it are re-planned once it has run.
    pub exports_pending: bool,
    /// One of its resources is declared with `protect = true`.
    pub protected: bool,
    /// Tags of its resources (machine tags), usable as plan targets.
    pub tags: Vec<String>,
    /// Repository files it builds from (a machine's modules, an image's
    /// files), by path, with their digests (`sha256:…`, or `missing`):
    /// editing one changes the plan even though the artifact does not.
    pub inputs: BTreeMap<String, String>,
    /// Seconds one tool run may take (declared with `apply_timeout`; else
    /// the apply's default).
    pub timeout: Option<u64>,
    /// The secrets its resources' values reference (`secret()` values):
    /// the only ones its tool may receive.
    pub secrets: Vec<ev_core::model::SecretRef>,
}

impl Action {
    /// Its typed id (see [`id`]).
    pub fn typed_id(&self) -> Option<ActionId> {
        ActionId::parse(self.backend, &self.id)
    }

    /// Its layer (`eight:yuto.sh` → `eight`).
    pub fn layer(&self) -> String {
        id::layer(self.backend, &self.id)
    }
}

/// The action DAG.
#[derive(Debug, Default)]
pub struct ActionGraph {
    graph: StableDiGraph<Action, ()>,
    by_id: BTreeMap<String, NodeIndex>,
    /// Resources realized elsewhere in this environment.
    pub stand_ins: Vec<crate::backend::StandIn>,
}

impl ActionGraph {
    /// Adds an action (ids are unique; a second action with an id replaces nothing).
    pub(crate) fn add(&mut self, action: Action) {
        if self.by_id.contains_key(&action.id) {
            return;
        }
        let id = action.id.clone();
        let node = self.graph.add_node(action);
        self.by_id.insert(id, node);
    }

    /// Makes each action depend on the producer of every export file its
    /// rendered values wait for: whatever an action renders decides what
    /// it waits for, so no unknown can reach apply unproduced.
    pub(crate) fn wait_for_unknowns(&mut self) {
        let producers: BTreeMap<String, String> = self
            .graph
            .node_weights()
            .flat_map(|a| a.produces.iter().map(|p| (p.clone(), a.id.clone())))
            .collect();
        for action in self.graph.node_weights_mut() {
            let mut waits: std::collections::BTreeSet<String> =
                action.depends_on.iter().cloned().collect();
            for file in &action.unknowns.files {
                if let Some(producer) = producers.get(file) {
                    if producer != &action.id {
                        waits.insert(producer.clone());
                    }
                }
            }
            action.depends_on = waits.into_iter().collect();
        }
    }

    /// The action that writes an export file, if any.
    pub fn producer_of(&self, file: &str) -> Option<&Action> {
        self.graph
            .node_weights()
            .find(|a| a.produces.iter().any(|p| p == file))
    }

    /// Actions that wait for each other (directly or through others), if
    /// any: such a graph cannot be applied. Each cycle's ids, sorted.
    pub fn cycles(&self) -> Vec<Vec<String>> {
        let mut out: Vec<Vec<String>> = petgraph::algo::tarjan_scc(&self.graph)
            .into_iter()
            .filter(|scc| scc.len() > 1 || scc.iter().any(|n| self.graph.contains_edge(*n, *n)))
            .map(|scc| {
                let mut ids: Vec<String> = scc
                    .iter()
                    .filter_map(|n| self.graph.node_weight(*n).map(|a| a.id.clone()))
                    .collect();
                ids.sort();
                ids
            })
            .collect();
        out.sort();
        out
    }

    /// Connects dependencies (after all actions were added).
    pub(crate) fn link(&mut self) {
        let edges: Vec<(NodeIndex, NodeIndex)> = self
            .graph
            .node_indices()
            .flat_map(|n| {
                self.graph
                    .node_weight(n)
                    .map(|a| a.depends_on.clone())
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|dep| self.by_id.get(&dep).copied())
                    .map(move |from| (from, n))
                    .collect::<Vec<_>>()
            })
            .collect();
        for (from, to) in edges {
            self.graph.add_edge(from, to, ());
        }
    }

    /// The action with this id.
    pub fn get(&self, id: &str) -> Option<&Action> {
        self.by_id.get(id).and_then(|n| self.graph.node_weight(*n))
    }

    /// Actions in a dependency order (dependencies first; ties by id).
    pub fn ordered(&self) -> Vec<&Action> {
        // Kahn's algorithm with a sorted ready set keeps the order stable.
        let mut indegree: BTreeMap<NodeIndex, usize> = self
            .graph
            .node_indices()
            .map(|n| {
                (
                    n,
                    self.graph
                        .neighbors_directed(n, petgraph::Direction::Incoming)
                        .count(),
                )
            })
            .collect();
        let mut ready: std::collections::BTreeSet<(String, NodeIndex)> = indegree
            .iter()
            .filter(|(_, d)| **d == 0)
            .filter_map(|(n, _)| self.graph.node_weight(*n).map(|a| (a.id.clone(), *n)))
            .collect();
        let mut out = Vec::new();
        while let Some(first) = ready.iter().next().cloned() {
            ready.remove(&first);
            let (_, node) = first;
            if let Some(a) = self.graph.node_weight(node) {
                out.push(a);
            }
            for next in self
                .graph
                .neighbors_directed(node, petgraph::Direction::Outgoing)
            {
                if let Some(d) = indegree.get_mut(&next) {
                    *d = d.saturating_sub(1);
                    if *d == 0 {
                        if let Some(a) = self.graph.node_weight(next) {
                            ready.insert((a.id.clone(), next));
                        }
                    }
                }
            }
        }
        out
    }

    /// The graph in Graphviz dot format.
    pub fn to_dot(&self) -> String {
        let mut out = String::from(
            "digraph plan {\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];\n",
        );
        for a in self.ordered() {
            out.push_str(&format!(
                "  {:?} [label={:?}];\n",
                a.id,
                format!("{}\n({})", a.id, a.backend)
            ));
        }
        for a in self.ordered() {
            for dep in &a.depends_on {
                out.push_str(&format!("  {:?} -> {:?};\n", dep, a.id));
            }
        }
        out.push_str("}\n");
        out
    }

    /// Number of actions.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// No actions.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}
