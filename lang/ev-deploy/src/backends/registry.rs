//! registry: container images (`image`, `stdlib/image.ev`). One action
//! per image (`whale:grand-central:push`) whose artifact is its recipe as
//! data (how it is built, where it is pushed); at the edge a recipe file
//! for people (`images/<name>.yaml`). The driver builds (a Nix attribute,
//! or an OCI layout ev assembles from repository files), pushes every tag
//! with skopeo and writes the digest to the image's digest file.

use ev_core::model::{Known, Model, ModelResource};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::backend::{
    layer, view, view_json, views, Artifact, ArtifactData, Backend, BackendId, Item, ItemView,
    Lowered, Misfit, RenderedFile, Side,
};
use crate::markers::{marked, yaml};
use crate::plan::details::{rebuild, ItemChange, ItemKind};
use crate::plan::ActionId;

// The typed views of the stdlib kinds (the schema link).

fn yes() -> bool {
    true
}

/// How an image is built.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ImageBuild {
    /// A Nix attribute producing a docker archive.
    Nix {
        /// Flake reference.
        flake: String,
        /// Attribute path.
        attribute: String,
    },
    /// An OCI image assembled by ev.
    Oci {
        /// Base image.
        base: Option<String>,
        /// Image path -> repository path.
        files: IndexMap<String, String>,
        /// Entrypoint.
        entrypoint: Vec<String>,
        /// Environment.
        env: IndexMap<String, String>,
        /// Working directory.
        workdir: Option<String>,
    },
}

/// A container image (`stdlib/image.ev`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Image {
    /// Name.
    pub name: String,
    /// Push destination.
    pub repository: String,
    /// Build recipe.
    pub build: ImageBuild,
    /// Tags.
    pub tags: Vec<String>,
    /// Where the digest is recorded.
    pub digest_file: String,
    /// Verify the registry's TLS certificate.
    #[serde(default = "yes")]
    pub tls_verify: bool,
    /// The pushed digest, possibly unknown.
    pub digest: Known<String>,
    /// `repository@digest`, possibly unknown.
    pub pinned: Known<String>,
    /// Seconds one tool run of applying it may take.
    #[serde(default)]
    pub apply_timeout: Option<u64>,
}

/// The registry backend.
pub struct Registry;

impl Backend for Registry {
    fn id(&self) -> BackendId {
        BackendId::Registry
    }

    fn kinds(&self) -> &'static [&'static str] {
        &["image"]
    }

    fn typed_view(&self, resource: &ModelResource) -> Result<Value, Box<Misfit>> {
        view_json::<Image>(resource)
    }

    fn check(&self, resource: &ModelResource) -> Result<(), Box<Misfit>> {
        view::<Image>(resource).map(drop)
    }

    fn lower(&self, model: &Model) -> Vec<Lowered> {
        views::<Image>(model, "image")
            .map(|(r, i)| {
                let mut action = Lowered::new(
                    ActionId::new(BackendId::Registry, &layer(r), &i.name),
                    vec![r.key.clone()],
                    Artifact::Registry(Recipe::of(&i)),
                );
                action.produces = vec![i.digest_file.clone()];
                action.exports_pending = !matches!(i.digest, Known::Value(_));
                action.timeout = i.apply_timeout;
                action.inputs = match &i.build {
                    ImageBuild::Oci { files, .. } => files.values().cloned().collect(),
                    ImageBuild::Nix { .. } => Vec::new(),
                };
                action
            })
            .collect()
    }

    /// An image is one item: rebuilt and pushed as a whole.
    fn changes(&self, subject: &str, before: Side<'_>, after: Side<'_>) -> Vec<ItemChange> {
        rebuild(ItemKind::Image, subject, before, after)
            .into_iter()
            .collect()
    }
}

// The artifact.

/// How an image is built and where it is pushed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recipe {
    /// Name.
    pub name: String,
    /// Push destination.
    pub repository: String,
    /// Tags (the first names the build; none means `latest`).
    pub tags: Vec<String>,
    /// How it is built.
    pub build: ImageBuild,
    /// Where the pushed digest is written.
    pub digest_file: String,
    /// Verify the registry's TLS certificate.
    pub tls_verify: bool,
}

impl Recipe {
    /// The artifact of an image.
    pub fn of(i: &Image) -> Recipe {
        Recipe {
            name: i.name.clone(),
            repository: i.repository.clone(),
            tags: i.tags.clone(),
            build: i.build.clone(),
            digest_file: i.digest_file.clone(),
            tls_verify: i.tls_verify,
        }
    }
}

impl ArtifactData for Recipe {
    fn files(&self) -> Vec<RenderedFile> {
        let recipe = json!({
            "repository": self.repository,
            "tags": self.tags,
            "build": self.build,
            "digest_file": self.digest_file,
        });
        vec![RenderedFile {
            path: format!("images/{}.yaml", self.name),
            content: format!(
                "# Generated by ev: how `{}` is built and where it is pushed; do not edit.\n{}",
                self.name,
                yaml(&recipe)
            ),
        }]
    }

    fn items(&self) -> Vec<Item> {
        vec![Item {
            kind: ItemKind::Image,
            key: self.name.clone(),
            label: format!("image {}", self.name),
            value: marked(self),
            view: ItemView::Yaml,
            with_action: false,
        }]
    }
}
