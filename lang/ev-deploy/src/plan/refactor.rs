//! `moved` and `forget` (`stdlib/refactor.ev`): refactoring planned as
//! edits of the state alone. A move re-keys what an action applied under
//! the id the program now gives it, so the plan compares the renamed
//! declaration with what its old self applied (an update at most, never a
//! destroy and a create); a forget drops a record, so what it applied is
//! left as it is and nothing deletes it. Both happen on the plan's copy of
//! the state before it is compared ([`super::plan_refactored`]); `ev apply`
//! writes that copy, so they take effect with the apply, or alone when
//! nothing else changes.
//!
//! Everything is checked before anything is edited, and a refused move is
//! a coded diagnostic at its declaration (E0619): a move to an action the
//! program does not declare, from one it still declares, between backends,
//! onto a record the state already holds, or one the tool cannot make (a
//! zone cannot be renamed into another zone).

use std::collections::{BTreeMap, BTreeSet};

use ev_core::diagnostic::{Diagnostic, Label};
use ev_core::model::{Model, ModelResource, ResourceKey};
use serde::{Deserialize, Serialize};

use super::state::State;
use super::ActionGraph;
use crate::backend::BackendId;

/// A move the plan makes: the state's record of `from` becomes `to`'s.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Moved {
    /// The id the state recorded.
    pub from: String,
    /// The id it is recorded under from now on.
    pub to: String,
    /// The backend of both.
    pub backend: String,
    /// The `moved` declaration (`moved.rename`).
    pub by: String,
}

/// A record the plan drops without deleting what it applied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forgotten {
    /// The action id.
    pub id: String,
    /// Its backend.
    pub backend: String,
    /// The `forget` declaration (`forget.old-zone`).
    pub by: String,
}

/// What the refactoring did to the state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Refactored {
    /// Records re-keyed, in declaration order.
    pub moved: Vec<Moved>,
    /// Records dropped, in declaration order.
    pub forgotten: Vec<Forgotten>,
}

/// A `moved` or `forget` declaration refused (E0619), at one of its fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    /// The declaration.
    pub resource: ResourceKey,
    /// The field the problem is about.
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
    /// What the label at the field says.
    pub label: String,
    /// Further facts (close ids).
    pub notes: Vec<String>,
    /// What to do.
    pub help: String,
}

/// The typed view of a `moved` (`stdlib/refactor.ev`'s `Moved`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MovedView {
    /// Its name.
    pub name: String,
    /// The id the state records.
    pub from: String,
    /// The id the program declares now.
    pub to: String,
}

/// The typed view of a `forget` (`stdlib/refactor.ev`'s `Forget`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForgetView {
    /// Its name.
    pub name: String,
    /// The id the state records.
    pub action: String,
}

/// The typed view of a `moved` or `forget`, serialized back (the schema
/// link, as [`crate::Backend::typed_view`] is for the backends' kinds).
/// `None` for a resource of another kind.
pub fn typed_view(
    resource: &ModelResource,
) -> Option<Result<serde_json::Value, Box<crate::backend::Misfit>>> {
    match resource.key.kind.as_str() {
        "moved" => Some(crate::backend::view_json::<MovedView>(resource)),
        "forget" => Some(crate::backend::view_json::<ForgetView>(resource)),
        _ => None,
    }
}

/// One `moved` declaration.
struct Move<'m> {
    key: &'m ResourceKey,
    from: String,
    to: String,
}

/// One `forget` declaration.
struct Forget<'m> {
    key: &'m ResourceKey,
    action: String,
}

/// The model's `moved` and `forget` declarations (of the standard
/// library's kinds; values that failed their schema are not in the model).
fn declarations(model: &Model) -> (Vec<Move<'_>>, Vec<Forget<'_>>) {
    let moves = crate::backend::views::<MovedView>(model, "moved")
        .map(|(r, v)| Move {
            key: &r.key,
            from: v.from,
            to: v.to,
        })
        .collect();
    let forgets = crate::backend::views::<ForgetView>(model, "forget")
        .map(|(r, v)| Forget {
            key: &r.key,
            action: v.action,
        })
        .collect();
    (moves, forgets)
}

/// Makes the program's moves and forgets on `state`, checked against the
/// desired `graph`: all of them, or (when any is refused) none, with every
/// refusal.
pub fn refactor(
    model: &Model,
    graph: &ActionGraph,
    state: &mut State,
) -> Result<Refactored, Vec<Refused>> {
    let (moves, forgets) = declarations(model);
    if moves.is_empty() && forgets.is_empty() {
        return Ok(Refactored::default());
    }
    let mut refused = Vec::new();
    let declared = |id: &str| graph.get(id).is_some();
    let declared_ids = || graph.ordered().into_iter().map(|a| a.id.clone());

    // Where each `from` leads: moves chain (a → b, b → c), so a state
    // two renames behind still lands on the declared id.
    let mut next: BTreeMap<&str, &Move<'_>> = BTreeMap::new();
    for m in &moves {
        if declared(&m.from) {
            refused.push(Refused {
                resource: m.key.clone(),
                field: "from",
                message: format!("`{}` is still declared: there is nothing to move", m.from),
                label: "declared by the program".into(),
                notes: Vec::new(),
                help:
                    "rename the declaration (so the program declares `to`), or remove this `moved`"
                        .into(),
            });
        }
        if let Some(first) = next.insert(&m.from, m) {
            refused.push(Refused {
                resource: m.key.clone(),
                field: "from",
                message: format!(
                    "`{}` is moved twice: by {} and by {}",
                    m.from, first.key, m.key
                ),
                label: "moved again here".into(),
                notes: Vec::new(),
                help: "a record moves to one place: keep one of the two".into(),
            });
        }
    }
    let mut target: Vec<Option<String>> = Vec::with_capacity(moves.len());
    for m in &moves {
        let mut seen = BTreeSet::from([m.from.as_str()]);
        let mut at = m.to.as_str();
        let mut circular = false;
        while let Some(further) = next.get(at) {
            if !seen.insert(at) {
                circular = true;
                break;
            }
            at = further.to.as_str();
        }
        if circular {
            refused.push(Refused {
                resource: m.key.clone(),
                field: "to",
                message: format!("the moves from `{}` go round in a circle", m.from),
                label: "leads back here".into(),
                notes: Vec::new(),
                help: "each chain of moves ends at an id the program declares".into(),
            });
            target.push(None);
        } else if !declared(at) {
            let close = ev_core::suggest::similar(
                at,
                declared_ids()
                    .collect::<Vec<_>>()
                    .iter()
                    .map(String::as_str),
            );
            refused.push(Refused {
                resource: m.key.clone(),
                field: "to",
                message: format!("the program declares no action `{at}`"),
                label: "not declared".into(),
                notes: ev_core::suggest::did_you_mean(&close).into_iter().collect(),
                help: "`to` is the id the program now gives the moved declaration (`ev plan` without the `moved` lists it as created)".into(),
            });
            target.push(None);
        } else {
            target.push(Some(at.to_string()));
        }
    }
    for f in &forgets {
        if declared(&f.action) {
            refused.push(Refused {
                resource: f.key.clone(),
                field: "action",
                message: format!(
                    "`{}` is still declared: forgetting it would make the next plan create it again",
                    f.action
                ),
                label: "declared by the program".into(),
                notes: Vec::new(),
                help: "remove its declaration first; `forget` then keeps the apply from deleting what it applied".into(),
            });
        }
        if let Some(m) = next.get(f.action.as_str()) {
            refused.push(Refused {
                resource: f.key.clone(),
                field: "action",
                message: format!("`{}` is both moved (by {}) and forgotten", f.action, m.key),
                label: "forgotten here".into(),
                notes: Vec::new(),
                help: "keep the `moved` to go on managing it under its new id, or the `forget` to let go of it".into(),
            });
        }
    }

    // Against the state: what each recorded `from` becomes.
    let mut landing: BTreeMap<&str, &Move<'_>> = BTreeMap::new();
    let mut planned = Vec::new();
    for (m, to) in moves.iter().zip(&target) {
        let (Some(to), Some(record)) = (to, state.actions.get(&m.from)) else {
            continue;
        };
        if declared(&m.from) {
            continue; // refused above
        }
        let Some(action) = graph.get(to) else {
            continue;
        };
        if state.actions.contains_key(to.as_str()) {
            refused.push(Refused {
                resource: m.key.clone(),
                field: "to",
                message: format!("the state records both `{}` and `{to}`", m.from),
                label: "already recorded".into(),
                notes: Vec::new(),
                help: format!("`ev state rm {to}` first if `{to}` should take over what `{}` applied; else remove this `moved` (the plan then deletes `{}`)", m.from, m.from),
            });
            continue;
        }
        if let Some(other) = landing.insert(to, m) {
            refused.push(Refused {
                resource: m.key.clone(),
                field: "to",
                message: format!("`{}` and `{}` would both become `{to}`", other.from, m.from),
                label: "moved onto the same action".into(),
                notes: Vec::new(),
                help: "the state holds one record per action: `forget` one of the two".into(),
            });
            continue;
        }
        if record.backend != action.backend.name() {
            refused.push(Refused {
                resource: m.key.clone(),
                field: "to",
                message: format!(
                    "`{}` was applied by {}, but `{to}` is a {} action",
                    m.from, record.backend, action.backend
                ),
                label: format!("a {} action", action.backend),
                notes: Vec::new(),
                help: "a record moves between actions of one backend: `forget` the old one and let the plan create the new one".into(),
            });
            continue;
        }
        let why_not = BackendId::from_name(&record.backend)
            .and_then(|b| b.backend().cannot_move(&record.artifact, &action.artifact));
        if let Some(why) = why_not {
            refused.push(Refused {
                resource: m.key.clone(),
                field: "to",
                message: format!("`{}` cannot become `{to}`: {why}", m.from),
                label: "not the same thing to its tool".into(),
                notes: Vec::new(),
                help: format!("remove this `moved`: the plan then creates `{to}` and deletes `{}` (or `forget` `{}` to leave it as it is)", m.from, m.from),
            });
            continue;
        }
        planned.push((m, to.clone()));
    }
    if !refused.is_empty() {
        return Err(refused);
    }

    let mut done = Refactored::default();
    for (m, to) in planned {
        if let Some(record) = state.actions.remove(&m.from) {
            done.moved.push(Moved {
                from: m.from.clone(),
                to: to.clone(),
                backend: record.backend.clone(),
                by: m.key.to_string(),
            });
            state.actions.insert(to, record);
        }
    }
    for f in &forgets {
        if let Some(record) = state.actions.remove(&f.action) {
            done.forgotten.push(Forgotten {
                id: f.action.clone(),
                backend: record.backend,
                by: f.key.to_string(),
            });
        }
    }
    Ok(done)
}

impl Refused {
    /// The diagnostic (E0619), at the field of the declaration in
    /// `program` (evaluated again by `ev` to find the field's span).
    pub fn diagnostic(
        &self,
        program: &ev_core::Program,
        ev: &ev_core::Evaluator<'_>,
    ) -> Diagnostic {
        let found = (0..program.resources.len())
            .map(|i| ev_core::ir::ResourceId(i as u32))
            .find(|id| {
                program.resource(*id).is_some_and(|def| {
                    def.name == self.resource.name
                        && program
                            .kind(def.kind)
                            .is_some_and(|k| k.name.as_str() == self.resource.kind)
                })
            });
        let span = found.and_then(|id| ev_core::model::field_span(program, ev, id, self.field));
        let d = match span {
            Some(span) => {
                Diagnostic::error("E0619", self.message.clone(), Label::new(span, &self.label))
            }
            None => Diagnostic::general("E0619", self.message.clone()),
        };
        self.notes
            .iter()
            .fold(d, |d, note| d.with_note(note))
            .with_help(&self.help)
    }
}
