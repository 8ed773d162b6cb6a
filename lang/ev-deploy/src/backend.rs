//! The backend interface: what one tool's layer owns, in one module
//! (`backends/<tool>.rs`) — the link to its stdlib kinds' schema (their
//! typed views), lowering them to actions, the typed artifact each action
//! hands its tool, that artifact's items (what people review) and how two
//! versions of it differ. The plan, the state and the executor only see
//! this interface and the [`Artifact`] enum.
//!
//! Adding a backend: a module here implementing [`Backend`] and
//! [`ArtifactData`] for its artifact, a variant of [`BackendId`] (its id
//! spelling in `plan/id.rs`) and of [`Artifact`], and a driver in
//! `ev-apply` (see CONTRIBUTING.md).

use std::collections::BTreeMap;
use std::fmt;

use ev_core::model::{Model, ModelResource, ResourceKey};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::backends::{kubectl, nix, octodns, pulumi, registry};
use crate::plan::details::{ItemChange, ItemKind};
use crate::plan::ActionId;

/// The tool an action drives, as the state and action ids spell it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendId {
    /// A Pulumi stack (`pulumi up`).
    Pulumi,
    /// An octodns zone sync.
    Octodns,
    /// An image build and push.
    Registry,
    /// A Nix machine build and activation.
    Nix,
    /// `kubectl apply` of a cluster's manifests.
    Kubectl,
}

impl BackendId {
    /// Every backend, in the order actions are lowered.
    pub const ALL: [BackendId; 5] = [
        BackendId::Pulumi,
        BackendId::Registry,
        BackendId::Nix,
        BackendId::Octodns,
        BackendId::Kubectl,
    ];

    /// Its implementation.
    pub fn backend(self) -> &'static dyn Backend {
        match self {
            BackendId::Pulumi => &pulumi::Pulumi,
            BackendId::Octodns => &octodns::Octodns,
            BackendId::Registry => &registry::Registry,
            BackendId::Nix => &nix::Nix,
            BackendId::Kubectl => &kubectl::Kubectl,
        }
    }

    /// The backend realizing resources of a standard library kind.
    pub fn of_kind(kind: &str) -> Option<BackendId> {
        BackendId::ALL
            .into_iter()
            .find(|b| b.backend().kinds().contains(&kind))
    }

    /// Its name as written in the state.
    pub fn name(self) -> &'static str {
        match self {
            BackendId::Pulumi => "pulumi",
            BackendId::Octodns => "octodns",
            BackendId::Registry => "registry",
            BackendId::Nix => "nix",
            BackendId::Kubectl => "kubectl",
        }
    }

    /// Parses a backend name as written in the state.
    pub fn from_name(name: &str) -> Option<BackendId> {
        BackendId::ALL.into_iter().find(|b| b.name() == name)
    }
}

impl fmt::Display for BackendId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One tool's layer. Implementations are unit structs, registered in
/// [`BackendId::backend`].
pub trait Backend: Sync {
    /// Its id.
    fn id(&self) -> BackendId;

    /// The standard library kinds whose resources it realizes.
    fn kinds(&self) -> &'static [&'static str];

    /// The typed view of one resource of its kinds, serialized back: the
    /// link to the stdlib schema. `Err` when the value does not fit (a
    /// coded problem with the user's value, or a schema the Rust side does
    /// not match: a bug). `ev check` runs it on every resource, so a
    /// program that checks clean lowers.
    fn typed_view(&self, resource: &ModelResource) -> Result<Value, Box<Misfit>>;

    /// Whether one resource fits: [`Backend::typed_view`] without
    /// serializing the view back (what `ev check` and every plan ask).
    fn check(&self, resource: &ModelResource) -> Result<(), Box<Misfit>>;

    /// Its actions for the model's resources (resources that do not fit
    /// were reported by [`Backend::check`] and are left out).
    fn lower(&self, model: &Model) -> Vec<Lowered>;

    /// Resources of its kinds that are declared to be realized elsewhere
    /// in this environment (a stack whose outputs are recorded): no action
    /// runs for them, an action the state holds for them is left alone,
    /// and plans name them.
    fn stand_ins(&self, model: &Model) -> Vec<StandIn> {
        let _ = model;
        Vec::new()
    }

    /// Why what `before` realizes cannot become what `after` realizes by
    /// a `moved` (to its tool they are two things, and moving the record
    /// would leave one unmanaged while the plan calls it an update);
    /// `None` when the tool converges the one into the other.
    fn cannot_move(&self, before: &Artifact, after: &Artifact) -> Option<String> {
        let _ = (before, after);
        None
    }

    /// The changed items between what was applied (`before`) and what is
    /// desired (`after`) for one action; `subject` names what it realizes
    /// (`machine methanol`). By default the items of both artifacts are
    /// compared one by one.
    fn changes(&self, subject: &str, before: Side<'_>, after: Side<'_>) -> Vec<ItemChange> {
        let _ = subject;
        crate::plan::details::item_changes(
            &before.artifact.map(Artifact::items).unwrap_or_default(),
            &after.artifact.map(Artifact::items).unwrap_or_default(),
        )
    }
}

/// A resource no action realizes in this environment, and why (see
/// [`Backend::stand_ins`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StandIn {
    /// The id its action has where it is applied.
    pub id: String,
    /// The resource (`stack jupiter`).
    pub resource: String,
    /// What stands in for applying it, for people.
    pub note: String,
}

/// One side of an action's comparison: its artifact (none when not
/// applied, or no longer declared) and the digests of the repository
/// files it builds from.
#[derive(Clone, Copy, Debug)]
pub struct Side<'a> {
    /// The artifact.
    pub artifact: Option<&'a Artifact>,
    /// Repository input digests by path.
    pub digests: &'a BTreeMap<String, String>,
}

/// An action as a backend lowers it; the planner adds its dependencies,
/// secrets, input digests and fingerprint.
#[derive(Clone, Debug)]
pub struct Lowered {
    /// Its id.
    pub id: ActionId,
    /// The resources it realizes.
    pub resources: Vec<ResourceKey>,
    /// What its tool is given.
    pub artifact: Artifact,
    /// Export files it writes (read back by other declarations).
    pub produces: Vec<String>,
    /// What it produces is not known yet (never applied).
    pub exports_pending: bool,
    /// Declared with `protect = true`.
    pub protected: bool,
    /// Tags usable as plan targets.
    pub tags: Vec<String>,
    /// Repository files it builds from (digested by the planner).
    pub inputs: Vec<String>,
    /// Seconds one tool run may take.
    pub timeout: Option<u64>,
    /// Resources whose actions must run first although it reads none of
    /// their values (a cluster waits for the machine it runs on).
    pub after: Vec<ResourceKey>,
}

impl Lowered {
    /// An action of `id` realizing `resources` with `artifact`, and nothing
    /// else set.
    pub fn new(id: ActionId, resources: Vec<ResourceKey>, artifact: Artifact) -> Lowered {
        Lowered {
            id,
            resources,
            artifact,
            produces: Vec::new(),
            exports_pending: false,
            protected: false,
            tags: Vec::new(),
            inputs: Vec::new(),
            timeout: None,
            after: Vec::new(),
        }
    }
}

/// Why a resource does not fit its backend's typed view.
#[derive(Clone, Debug, PartialEq)]
pub struct Misfit {
    /// The diagnostic code (E0999 when the Rust side and the stdlib
    /// schema disagree: a bug in ev).
    pub code: &'static str,
    /// The top-level field at fault, for the diagnostic's location.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
    /// The label at the field.
    pub label: String,
    /// Notes.
    pub notes: Vec<String>,
    /// How to fix it.
    pub help: Option<String>,
}

/// The typed view `T` of a resource's marked JSON value. A failure is a
/// bug in ev (the stdlib schema admits what `T` cannot hold): E0999 naming
/// the path; the schema sweep test looks for these.
pub fn view<T: DeserializeOwned + Serialize>(resource: &ModelResource) -> Result<T, Box<Misfit>> {
    // Values fit unless ev has a bug: the path is tracked (slower) only
    // to explain a misfit.
    if let Ok(typed) = T::deserialize(&resource.value) {
        return Ok(typed);
    }
    serde_path_to_error::deserialize::<_, T>(&resource.value).map_err(|e| {
        let field = e.path().iter().next().and_then(|segment| match segment {
            serde_path_to_error::Segment::Map { key } => Some(key.clone()),
            _ => None,
        });
        Box::new(Misfit {
            code: ev_core::diagnostic::INTERNAL_ERROR,
            field,
            message: format!(
                "internal error: {} `{}` does not fit the model at `{}`: {}",
                resource.key.kind,
                resource.key.name,
                e.path(),
                e.inner()
            ),
            label: "this value".into(),
            notes: vec!["this is a bug in ev, please report it".into()],
            help: None,
        })
    })
}

/// The typed views of one kind's resources in the model (those that fit).
pub fn views<'m, T: DeserializeOwned + Serialize + 'm>(
    model: &'m Model,
    kind: &'m str,
) -> impl Iterator<Item = (&'m ModelResource, T)> + 'm {
    model
        .of_kind(kind)
        .filter(|r| r.standard)
        .filter_map(|r| view::<T>(r).ok().map(|t| (r, t)))
}

/// The serialized typed view (what [`Backend::typed_view`] returns).
pub fn view_json<T: DeserializeOwned + Serialize>(
    resource: &ModelResource,
) -> Result<Value, Box<Misfit>> {
    view::<T>(resource).map(|t| serde_json::to_value(t).unwrap_or(Value::Null))
}

/// The layer of a resource: the top folder of its declaring file
/// (`eight/yuto.sh.ev` → `eight`), or its kind for files at the root.
pub fn layer(resource: &ModelResource) -> String {
    resource
        .file
        .split_once('/')
        .map(|(top, _)| top.to_string())
        .unwrap_or_else(|| resource.key.kind.clone())
}

/// What an action hands its tool, as data: record sets, objects, stack
/// resources, a machine's profile, an image's recipe — never rendered
/// text. Values not known until apply and secrets are the markers of
/// every JSON output (`$unknown`, `$secret`). Text exists only at the
/// edge, where a tool reads a file ([`Artifact::files`]). The state
/// records artifacts, so plans compare data with data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "backend", content = "artifact", rename_all = "lowercase")]
pub enum Artifact {
    /// A Pulumi stack's program and settings.
    Pulumi(pulumi::Program),
    /// One octodns zone: its provider, processors and record sets.
    Octodns(octodns::Zone),
    /// An image's build recipe and destination.
    Registry(registry::Recipe),
    /// A machine's Nix profile.
    Nix(Box<nix::Profile>),
    /// One cluster's objects.
    Kubectl(kubectl::ClusterApply),
}

/// What every artifact type provides.
pub trait ArtifactData {
    /// The files its tool reads, rendered (the edge: the only text).
    fn files(&self) -> Vec<RenderedFile>;

    /// What people review, keyed: record sets, objects, stack resources,
    /// or the machine or image as one item.
    fn items(&self) -> Vec<Item>;
}

impl Artifact {
    /// The backend it is for.
    pub fn backend(&self) -> BackendId {
        match self {
            Artifact::Pulumi(_) => BackendId::Pulumi,
            Artifact::Octodns(_) => BackendId::Octodns,
            Artifact::Registry(_) => BackendId::Registry,
            Artifact::Nix(_) => BackendId::Nix,
            Artifact::Kubectl(_) => BackendId::Kubectl,
        }
    }

    fn data(&self) -> &dyn ArtifactData {
        match self {
            Artifact::Pulumi(a) => a,
            Artifact::Octodns(a) => a,
            Artifact::Registry(a) => a,
            Artifact::Nix(a) => a.as_ref(),
            Artifact::Kubectl(a) => a,
        }
    }

    /// The files its tool reads (see [`ArtifactData::files`]).
    pub fn files(&self) -> Vec<RenderedFile> {
        self.data().files()
    }

    /// Its items (see [`ArtifactData::items`]).
    pub fn items(&self) -> Vec<Item> {
        self.data().items()
    }
}

/// A file an action's tool reads, rendered from its artifact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RenderedFile {
    /// Path relative to the build directory (`.ev/build/`), or in the
    /// repository for the machine flakes (`flake-profiles/…`).
    pub path: String,
    /// The content.
    pub content: String,
}

impl RenderedFile {
    /// Whether the file belongs in the repository (the per-machine flakes
    /// under `flake-profiles/`) rather than in `.ev/build/`.
    pub fn in_repository(&self) -> bool {
        self.path.starts_with("flake-profiles/")
    }
}

/// One thing people review inside an artifact.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    /// What it is.
    pub kind: ItemKind,
    /// Its identity inside the artifact (sorts as items are shown).
    pub key: String,
    /// How it is shown: `www CNAME`, `Deployment apps/web`.
    pub label: String,
    /// Its data, marked.
    pub value: Value,
    /// How its changes are shown.
    pub view: ItemView,
    /// Created and deleted with its action (a tool's configuration): worth
    /// a line only when it changes.
    pub with_action: bool,
}

/// How an item's changes are shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ItemView {
    /// Field by field (`ttl: 300 → 60`): DNS record sets.
    Fields,
    /// As YAML, a unified diff of the old and new text: objects, stack
    /// resources, configurations.
    Yaml,
}

/// JSON merge patch (RFC 7386): records merge key by key, `null` removes a
/// key, anything else (lists included) replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() || ev_core::output::is_marker(target) {
        *target = Value::Object(serde_json::Map::new());
    }
    if let Value::Object(t) = target {
        for (k, v) in patch {
            if v.is_null() {
                t.shift_remove(k);
            } else if v.is_object() && !ev_core::output::is_marker(v) {
                merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
            } else {
                t.insert(k.clone(), v.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::merge_patch;
    use serde_json::json;

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let mut target = json!({ "a": "b", "c": { "d": "e", "f": "g" }, "l": [1, 2] });
        merge_patch(
            &mut target,
            &json!({ "a": "z", "c": { "f": null, "h": 1 }, "l": [3] }),
        );
        assert_eq!(
            target,
            json!({ "a": "z", "c": { "d": "e", "h": 1 }, "l": [3] })
        );
    }
}
