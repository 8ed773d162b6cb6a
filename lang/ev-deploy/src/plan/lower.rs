//! Lowering: the model to the action graph. Each backend lowers its own
//! kinds ([`crate::backend::Backend::lower`]); here every action gets what
//! is the same for all backends: its dependencies (from the reference
//! graph), its secrets, the digests of the files it builds from and its
//! fingerprint.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use ev_core::fs::FileSystem;
use ev_core::model::{Model, ResourceKey};
use sha2::{Digest, Sha256};

use super::{Action, ActionGraph};
use crate::backend::{BackendId, Lowered};
use crate::markers::Unknowns;

/// The producing actions a resource depends on: the actions writing
/// exports among those realizing what it uses, directly or through
/// resources that only pass their values on (a record using
/// `machine.ethane.address` waits for the stack giving it).
fn dependencies(
    model: &Model,
    actions: &HashMap<&ResourceKey, &Lowered>,
    key: &ResourceKey,
    own: &str,
) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut seen = BTreeSet::new();
    let mut stack: Vec<&ResourceKey> = model
        .resource(key)
        .map(|r| r.uses.iter().collect())
        .unwrap_or_default();
    while let Some(used) = stack.pop() {
        if !seen.insert(used) {
            continue;
        }
        match actions.get(used) {
            Some(producer) if !producer.produces.is_empty() => {
                out.insert(producer.id.to_string());
            }
            _ => {
                if let Some(r) = model.resource(used) {
                    stack.extend(r.uses.iter());
                }
            }
        }
    }
    out.remove(own);
    out
}

/// The digests of repository files an action builds from.
fn digests(fs: &dyn FileSystem, paths: &[String]) -> BTreeMap<String, String> {
    paths
        .iter()
        .map(|p| {
            let digest = match fs.read_bytes(p) {
                Ok(bytes) => format!("sha256:{}", super::state::hex_sha256(&bytes)),
                Err(_) => "missing".to_string(),
            };
            (p.clone(), digest)
        })
        .collect()
}

/// A digest of an artifact (its marked JSON) and input digests: equal
/// exactly when the action would hand its tool the same thing.
pub fn fingerprint(artifact: &serde_json::Value, inputs: &BTreeMap<String, String>) -> String {
    let mut hasher = Sha256::new();
    // Serialized straight into the hasher: nothing the size of a zone is
    // copied for it.
    let _ = serde_json::to_writer(HashWriter(&mut hasher), artifact);
    hasher.update([0]);
    for (path, digest) in inputs {
        hasher.update(path.as_bytes());
        hasher.update([1]);
        hasher.update(digest.as_bytes());
        hasher.update([1]);
    }
    hex::encode(hasher.finalize())
}

/// Feeds what is written to a hasher.
struct HashWriter<'h>(&'h mut Sha256);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Lowers the model into the action graph: every backend's actions, with
/// their dependencies, secrets, input digests and fingerprints.
pub fn lower(model: &Model, fs: &dyn FileSystem) -> ActionGraph {
    let lowered: Vec<Lowered> = BackendId::ALL
        .into_iter()
        .flat_map(|b| b.backend().lower(model))
        .collect();
    // The action realizing each resource (a resource several actions
    // share, like an octodns config, produces nothing: any one will do).
    let by_resource: HashMap<&ResourceKey, &Lowered> = lowered
        .iter()
        .flat_map(|l| l.resources.iter().map(move |k| (k, l)))
        .collect();
    let depends: Vec<BTreeSet<String>> = lowered
        .iter()
        .map(|l| {
            let id = l.id.to_string();
            let mut depends_on: BTreeSet<String> = l
                .resources
                .iter()
                .flat_map(|k| dependencies(model, &by_resource, k, &id))
                .collect();
            depends_on.extend(
                l.after
                    .iter()
                    .filter_map(|k| by_resource.get(k))
                    .map(|a| a.id.to_string()),
            );
            depends_on
        })
        .collect();
    drop(by_resource);
    let mut graph = ActionGraph::default();
    for (l, depends_on) in lowered.into_iter().zip(depends) {
        let inputs = digests(fs, &l.inputs);
        let marked = serde_json::to_value(&l.artifact).unwrap_or_default();
        graph.add(Action {
            fingerprint: fingerprint(&marked, &inputs),
            unknowns: Unknowns::of(&marked),
            id: l.id.to_string(),
            backend: l.id.backend,
            secrets: model.secrets_of(&l.resources),
            resources: l.resources,
            artifact: l.artifact,
            depends_on: depends_on.into_iter().collect(),
            produces: l.produces,
            exports_pending: l.exports_pending,
            protected: l.protected,
            tags: l.tags,
            inputs,
            timeout: l.timeout,
        });
    }
    graph.stand_ins = BackendId::ALL
        .into_iter()
        .flat_map(|b| b.backend().stand_ins(model))
        .collect();
    graph.wait_for_unknowns();
    graph.link();
    graph
}
