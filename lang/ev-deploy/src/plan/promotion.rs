//! Promotion between environments: whether what environment B would
//! deploy is what environment A has applied (`ev diff-env A B`).
//!
//! An image is promoted when B would build exactly what A's state records
//! as applied (the same build, and the same digests of the repository
//! files it builds from; its repository and tags may differ), and, where
//! both have pushed, the digests agree. A machine's system differs between
//! environments whenever its values do, so machines are compared by the
//! store paths each environment last activated, for information.

use std::collections::BTreeMap;

use serde::Serialize;

use super::state::State;
use super::ActionGraph;
use crate::backend::Artifact;

/// What one image or machine looks like across the two environments.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Promotion {
    /// The action (`whale:site:push`, `venus:web:deploy`).
    pub id: String,
    /// `image` or `machine`.
    pub subject: &'static str,
    /// The digest or store path A applied.
    pub a: Option<String>,
    /// The digest or store path B applied, if it has.
    pub b: Option<String>,
    /// The verdict.
    pub verdict: Verdict,
}

/// Whether B deploys what A applied.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "verdict", content = "why")]
pub enum Verdict {
    /// B builds (or runs) what A applied.
    Same,
    /// B would deploy something A never applied: why.
    Differs(String),
    /// A has not applied it.
    NotInA,
    /// A machine: shown, never failing the check (values differ by environment).
    Informational,
}

impl Promotion {
    /// Whether it fails the promotion check.
    pub fn fails(&self) -> bool {
        matches!(self.verdict, Verdict::Differs(_) | Verdict::NotInA)
    }
}

/// Compares B's planned images and machines with A's state (and B's);
/// `names` are the two environments' (for the reasons given).
pub fn check(names: (&str, &str), a: &State, b: &State, b_graph: &ActionGraph) -> Vec<Promotion> {
    let (a_name, b_name) = names;
    let output = |state: &State, id: &str, key: &str| {
        state
            .actions
            .get(id)
            .and_then(|s| s.outputs.get(key))
            .cloned()
    };
    let mut out = Vec::new();
    for action in b_graph.ordered() {
        let id = action.id.as_str();
        match &action.artifact {
            Artifact::Registry(planned) => {
                let (in_a, in_b) = (output(a, id, "digest"), output(b, id, "digest"));
                let verdict = match a.actions.get(id) {
                    None => Verdict::NotInA,
                    Some(applied) => match &applied.artifact {
                        Artifact::Registry(r) if r.build != planned.build => {
                            Verdict::Differs(format!("its build is not the one {a_name} applied"))
                        }
                        _ if applied.inputs != action.inputs => Verdict::Differs(format!(
                            "files it builds from changed since {a_name} applied it: {}",
                            changed(&applied.inputs, &action.inputs).join(", ")
                        )),
                        _ => match (&in_a, &in_b) {
                            (Some(da), Some(db)) if da != db => Verdict::Differs(format!(
                                "{b_name} runs {db}, {a_name} tested {da}"
                            )),
                            _ => Verdict::Same,
                        },
                    },
                };
                out.push(Promotion {
                    id: id.to_string(),
                    subject: "image",
                    a: in_a,
                    b: in_b,
                    verdict,
                });
            }
            Artifact::Nix(_) => {
                let (in_a, in_b) = (output(a, id, "store_path"), output(b, id, "store_path"));
                let verdict = match (&in_a, &in_b) {
                    (None, _) if !a.actions.contains_key(id) => Verdict::NotInA,
                    (Some(pa), Some(pb)) if pa == pb => Verdict::Same,
                    _ => Verdict::Informational,
                };
                out.push(Promotion {
                    id: id.to_string(),
                    subject: "machine",
                    a: in_a,
                    b: in_b,
                    verdict,
                });
            }
            _ => {}
        }
    }
    out
}

/// The paths whose digests differ between two input sets.
fn changed(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> Vec<String> {
    let mut paths: Vec<String> = a
        .iter()
        .filter(|(p, d)| b.get(*p) != Some(*d))
        .map(|(p, _)| p.clone())
        .collect();
    paths.extend(b.keys().filter(|p| !a.contains_key(*p)).cloned());
    paths
}

/// The check as text: one line per image and machine, then a verdict.
pub fn render(a_name: &str, b_name: &str, promotions: &[Promotion]) -> String {
    if promotions.is_empty() {
        return format!("Promotion {a_name} → {b_name}: no images or machines.\n");
    }
    let mut text = format!("Promotion {a_name} → {b_name}:\n");
    let width = promotions.iter().map(|p| p.id.len()).max().unwrap_or(0);
    for p in promotions {
        let shown = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        let (mark, what) = match &p.verdict {
            Verdict::Same => ("✓", format!("as applied in {a_name}: {}", shown(&p.a))),
            Verdict::Differs(why) => ("✗", why.clone()),
            Verdict::NotInA => ("✗", format!("never applied in {a_name}")),
            Verdict::Informational => (
                "·",
                format!(
                    "{a_name} runs {}, {b_name} runs {} (a machine's system follows its environment's values)",
                    shown(&p.a),
                    shown(&p.b)
                ),
            ),
        };
        text.push_str(&format!(
            "  {mark} {:<width$}  {} {what}\n",
            p.id, p.subject
        ));
    }
    let failing = promotions.iter().filter(|p| p.fails()).count();
    text.push_str(&if failing == 0 {
        format!("{b_name} deploys what {a_name} applied.\n")
    } else {
        format!(
            "{failing} of {} would reach {b_name} untried in {a_name}.\n",
            promotions.len()
        )
    });
    text
}
