//! kubectl: Kubernetes clusters and what runs on them (`cluster`, `app`,
//! `manifests`, `chart`, `stdlib/cluster.ev`). One action per cluster
//! (`milky-way:apply`) whose artifact holds every object as data: apps
//! lowered to Deployment, Service, ConfigMap, Secret, PersistentVolumeClaim
//! and Ingress (`app.rs`), manifests and charts' rendered objects as they
//! are; each labelled as owned by ev (the driver prunes by that label, never
//! touching foreign objects), namespaced objects given their default
//! namespace (cluster-scoped kinds, those of the program's CRDs included,
//! left without), sorted so namespaces and CRDs come first.
//!
//! A Secret's values stay `$secret` markers in its `stringData`: the
//! driver decrypts them for kubectl's stdin; the state and the rendered
//! file hold only the markers.

mod app;

use std::collections::BTreeSet;

use ev_core::model::{Known, Model, ModelResource, ResourceKey};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

pub use app::{App, Ingress, Port, PortRef, Probes, Volume};

use crate::backend::{
    layer, view, view_json, views, Artifact, ArtifactData, Backend, BackendId, Item, ItemView,
    Lowered, Misfit, RenderedFile,
};
use crate::markers::{for_tool, marked, yaml, SecretAs};
use crate::plan::details::ItemKind;
use crate::plan::ActionId;

// The typed views of the stdlib kinds (the schema link).

/// A Kubernetes cluster (`stdlib/cluster.ev`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cluster {
    /// Name.
    pub name: String,
    /// kubectl context (the name unless given or reached by `server`).
    #[serde(default)]
    pub context: Option<String>,
    /// The API server's URL, for a cluster reached directly.
    #[serde(default)]
    pub server: Option<String>,
    /// With `server`: the CA certificate (PEM).
    #[serde(default)]
    pub certificate_authority: Option<String>,
    /// With `server`: the bearer token (a secret).
    #[serde(default)]
    pub token: Option<Known<String>>,
    /// The machine it runs on, when ev deploys it.
    #[serde(default)]
    pub machine: Option<String>,
    /// Default namespace.
    pub namespace: String,
    /// Seconds one tool run of applying it may take.
    #[serde(default)]
    pub apply_timeout: Option<u64>,
}

/// Objects applied as they are (`manifests`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ManifestSet {
    /// Name.
    pub name: String,
    /// Cluster name.
    pub cluster: String,
    /// Namespace of namespaced objects naming none.
    pub namespace: String,
    /// The objects.
    pub objects: Vec<Value>,
}

/// A chart's rendered objects (`chart`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Chart {
    /// Name.
    pub name: String,
    /// Cluster name.
    pub cluster: String,
    /// Namespace of namespaced objects naming none.
    pub namespace: String,
    /// The chart it was rendered from, for people.
    pub source: Option<String>,
    /// The rendered files.
    pub files: Vec<String>,
    /// Their objects.
    pub objects: Vec<Value>,
}

/// The label every object ev applies carries.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "ev");

/// The label naming the cluster an object was applied to by ev.
pub const CLUSTER_LABEL: &str = "ev.dev/cluster";

/// ev's ownership labels of an object on `cluster`: what pruning checks on
/// the live object before deleting anything.
pub fn ownership(cluster: &str) -> Map<String, Value> {
    let mut labels = Map::new();
    labels.insert(MANAGED_BY.0.into(), json!(MANAGED_BY.1));
    labels.insert(CLUSTER_LABEL.into(), json!(cluster));
    labels
}

/// Namespaces Kubernetes makes itself: ev never creates (or owns) them.
const SYSTEM_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

/// Whether Kubernetes makes this namespace itself (`default`,
/// `kube-system`, ...): ev never creates or owns it.
pub fn is_system_namespace(name: &str) -> bool {
    SYSTEM_NAMESPACES.contains(&name)
}

/// Kubernetes' built-in kinds that live outside namespaces.
const CLUSTER_SCOPED: &[&str] = &[
    "Namespace",
    "Node",
    "PersistentVolume",
    "CustomResourceDefinition",
    "StorageClass",
    "RuntimeClass",
    "PriorityClass",
    "IngressClass",
    "ClusterRole",
    "ClusterRoleBinding",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "CSIDriver",
    "CSINode",
    "VolumeAttachment",
    "CertificateSigningRequest",
    "FlowSchema",
    "PriorityLevelConfiguration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
];

/// Kind order in the apply: what others need comes first (namespaces and
/// CRDs before what lives in them or is of their kinds); custom resources
/// last.
pub fn kind_rank(kind: &str) -> usize {
    [
        "Namespace",
        "CustomResourceDefinition",
        "PriorityClass",
        "StorageClass",
        "RuntimeClass",
        "IngressClass",
        "ClusterRole",
        "ClusterRoleBinding",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "ConfigMap",
        "Secret",
        "PersistentVolumeClaim",
        "Service",
        "Deployment",
        "StatefulSet",
        "DaemonSet",
        "Job",
        "CronJob",
        "Ingress",
    ]
    .iter()
    .position(|k| *k == kind)
    .unwrap_or(99)
}

/// The kinds of a set of objects that are cluster-scoped: the built-in ones
/// and those CustomResourceDefinitions among them declare so.
fn cluster_scoped(objects: &[Value]) -> BTreeSet<String> {
    let mut kinds: BTreeSet<String> = CLUSTER_SCOPED.iter().map(|k| k.to_string()).collect();
    for o in objects {
        if field(o, "/kind") == "CustomResourceDefinition" && field(o, "/spec/scope") == "Cluster" {
            kinds.insert(field(o, "/spec/names/kind").to_string());
        }
    }
    kinds
}

/// An object as ev applies it: `labels` (and ev's ownership labels) added
/// to its own, and `namespace` when its kind is namespaced and it names
/// none. Metadata not known yet (a marker) is left whole: the action is
/// planned again once it is known.
fn finish(
    o: &mut Value,
    cluster: &str,
    namespace: &str,
    labels: &Map<String, Value>,
    scoped: &BTreeSet<String>,
) {
    let cluster_wide = scoped.contains(field(o, "/kind"));
    let Some(m) = o
        .get_mut("metadata")
        .filter(|m| !ev_core::output::is_marker(m))
        .and_then(|m| m.as_object_mut())
    else {
        return;
    };
    let mut merged = match m.get("labels") {
        Some(l) if ev_core::output::is_marker(l) => return,
        Some(Value::Object(existing)) => existing.clone(),
        _ => Map::new(),
    };
    for (k, v) in labels.iter().chain(ownership(cluster).iter()) {
        merged.insert(k.clone(), v.clone());
    }
    m.insert("labels".into(), Value::Object(merged));
    if !cluster_wide {
        m.entry("namespace").or_insert_with(|| json!(namespace));
    }
}

/// The kubectl backend.
pub struct Kubectl;

impl Backend for Kubectl {
    fn id(&self) -> BackendId {
        BackendId::Kubectl
    }

    fn kinds(&self) -> &'static [&'static str] {
        &["cluster", "app", "manifests", "chart"]
    }

    fn typed_view(&self, resource: &ModelResource) -> Result<Value, Box<Misfit>> {
        match resource.key.kind.as_str() {
            "cluster" => view_json::<Cluster>(resource),
            "manifests" => view_json::<ManifestSet>(resource),
            "chart" => view_json::<Chart>(resource),
            _ => view_json::<App>(resource),
        }
    }

    fn check(&self, resource: &ModelResource) -> Result<(), Box<Misfit>> {
        match resource.key.kind.as_str() {
            "cluster" => view::<Cluster>(resource).map(drop),
            "manifests" => view::<ManifestSet>(resource).map(drop),
            "chart" => view::<Chart>(resource).map(drop),
            _ => view::<App>(resource).map(drop),
        }
    }

    fn lower(&self, model: &Model) -> Vec<Lowered> {
        // One apply per cluster, covering all that runs on it.
        let mut on: IndexMap<String, OnCluster> = IndexMap::new();
        for (r, app) in views::<App>(model, "app") {
            let entry = on.entry(app.cluster.clone()).or_default();
            entry.resources.push(r.key.clone());
            entry.apps.push(app);
        }
        for (r, set) in views::<ManifestSet>(model, "manifests") {
            let entry = on.entry(set.cluster.clone()).or_default();
            entry.resources.push(r.key.clone());
            entry.sets.push((set.namespace, set.objects));
        }
        for (r, chart) in views::<Chart>(model, "chart") {
            let entry = on.entry(chart.cluster.clone()).or_default();
            entry.resources.push(r.key.clone());
            entry.sets.push((chart.namespace, chart.objects));
        }
        views::<Cluster>(model, "cluster")
            .map(|(r, c)| {
                let running = on.shift_remove(&c.name).unwrap_or_default();
                let mut resources = vec![r.key.clone()];
                resources.extend(running.resources.iter().cloned());
                let mut action = Lowered::new(
                    ActionId::new(BackendId::Kubectl, &layer(r), &c.name),
                    resources,
                    Artifact::Kubectl(ClusterApply::of(&c, &running)),
                );
                action.timeout = c.apply_timeout;
                // k3s runs on the cluster's machine: it is deployed first.
                action.after = c
                    .machine
                    .iter()
                    .map(|m| ResourceKey {
                        kind: "machine".into(),
                        name: m.clone(),
                    })
                    .collect();
                action
            })
            .collect()
    }
}

/// What runs on one cluster.
#[derive(Default)]
pub struct OnCluster {
    /// The resources (apps, manifests, charts).
    resources: Vec<ResourceKey>,
    /// Its apps.
    apps: Vec<App>,
    /// Objects applied as they are, with their default namespace.
    sets: Vec<(String, Vec<Value>)>,
}

// The artifact.

/// One cluster's objects, as kubectl is given them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClusterApply {
    /// The cluster.
    pub cluster: String,
    /// How kubectl reaches it.
    pub connection: Connection,
    /// Every object (marked JSON), in apply order.
    pub objects: Vec<Value>,
    /// Deployments whose rollout the apply waits for (apps declared with
    /// `wait = true`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rollouts: Vec<Rollout>,
}

/// How kubectl reaches a cluster.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Connection {
    /// A context of the kubeconfig kubectl reads.
    Context(String),
    /// The API server by URL, with a kubeconfig ev writes for the run.
    Server {
        /// `https://host:port`.
        url: String,
        /// The CA certificate (PEM); none: the system's roots.
        certificate_authority: Option<String>,
        /// The bearer token: a `$secret` marker, decrypted at apply.
        token: Value,
    },
}

impl Connection {
    /// The connection of a cluster.
    pub fn of(cluster: &Cluster) -> Connection {
        match (&cluster.server, &cluster.token) {
            (Some(url), Some(token)) => Connection::Server {
                url: url.clone(),
                certificate_authority: cluster.certificate_authority.clone(),
                token: marked(token),
            },
            // The schema requires a token with a server.
            _ => Connection::Context(
                cluster
                    .context
                    .clone()
                    .unwrap_or_else(|| cluster.name.clone()),
            ),
        }
    }
}

impl std::fmt::Display for Connection {
    /// `context X` or `server URL`, for people.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Connection::Context(c) => write!(f, "context `{c}`"),
            Connection::Server { url, .. } => write!(f, "server {url}"),
        }
    }
}

/// A Deployment to wait for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollout {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
}

impl ClusterApply {
    /// The artifact of a cluster and what runs on it.
    pub fn of(cluster: &Cluster, running: &OnCluster) -> ClusterApply {
        let c = cluster.name.as_str();
        // (object, default namespace, labels of its source)
        let mut sourced: Vec<(Value, &str, Map<String, Value>)> = Vec::new();
        for a in &running.apps {
            let labels = app::object_labels(c, a);
            sourced.extend(
                app::app_objects(cluster, a)
                    .into_iter()
                    .map(|o| (o, a.namespace.as_str(), labels.clone())),
            );
        }
        for (namespace, objects) in &running.sets {
            sourced.extend(
                objects
                    .iter()
                    .map(|o| (o.clone(), namespace.as_str(), Map::new())),
            );
        }
        let all: Vec<Value> = sourced.iter().map(|(o, _, _)| o.clone()).collect();
        let scoped = cluster_scoped(&all);
        let mut objects: Vec<Value> = sourced
            .into_iter()
            .map(|(mut o, namespace, labels)| {
                finish(&mut o, c, namespace, &labels, &scoped);
                o
            })
            .collect();
        // The namespaces apps, manifests and charts are declared in, unless
        // declared as objects already; never Kubernetes' own.
        let declared: BTreeSet<String> = objects
            .iter()
            .filter(|o| field(o, "/kind") == "Namespace")
            .map(|o| field(o, "/metadata/name").to_string())
            .collect();
        let namespaces: BTreeSet<String> = running
            .apps
            .iter()
            .map(|a| a.namespace.clone())
            .chain(running.sets.iter().map(|(ns, _)| ns.clone()))
            .filter(|n| !SYSTEM_NAMESPACES.contains(&n.as_str()) && !declared.contains(n))
            .collect();
        for ns in namespaces {
            objects.push(json!({
                "apiVersion": "v1", "kind": "Namespace",
                "metadata": { "name": ns, "labels": ownership(c) },
            }));
        }
        objects.sort_by_cached_key(|o| {
            (
                kind_rank(field(o, "/kind")),
                field(o, "/kind").to_string(),
                field(o, "/metadata/namespace").to_string(),
                field(o, "/metadata/name").to_string(),
            )
        });
        ClusterApply {
            cluster: cluster.name.clone(),
            connection: Connection::of(cluster),
            objects,
            rollouts: running
                .apps
                .iter()
                .filter(|a| a.wait)
                .map(|a| Rollout {
                    namespace: a.namespace.clone(),
                    name: a.name.clone(),
                })
                .collect(),
        }
    }

    /// The objects applied before the rest: namespaces and
    /// CustomResourceDefinitions (a custom resource's kind must exist
    /// before it is applied).
    pub fn is_foundation(o: &Value) -> bool {
        matches!(field(o, "/kind"), "Namespace" | "CustomResourceDefinition")
    }
}

/// A string field of an object (`""` when absent).
pub fn field<'v>(o: &'v Value, pointer: &str) -> &'v str {
    o.pointer(pointer).and_then(|v| v.as_str()).unwrap_or("")
}

/// `Kind namespace/name` (or `Kind name` for cluster-wide objects): an
/// object's identity in a cluster.
pub fn object_key(o: &Value) -> String {
    let (kind, name) = (field(o, "/kind"), field(o, "/metadata/name"));
    match o.pointer("/metadata/namespace").and_then(|n| n.as_str()) {
        Some(ns) => format!("{kind} {ns}/{name}"),
        None => format!("{kind} {name}"),
    }
}

/// A YAML stream of objects, as kubectl reads it.
pub fn stream(objects: &[Value]) -> String {
    objects
        .iter()
        .map(|o| format!("---\n{}", yaml(o)))
        .collect()
}

impl ArtifactData for ClusterApply {
    /// `kubernetes/<cluster>.yaml`, for people (`ev build`): kubectl gets
    /// the objects on stdin, Secrets with their values; here a Secret's
    /// values name their sops source.
    fn files(&self) -> Vec<RenderedFile> {
        let objects: Vec<Value> = self
            .objects
            .iter()
            .map(|o| for_tool(o, SecretAs::Source))
            .collect();
        vec![RenderedFile {
            path: format!("kubernetes/{}.yaml", self.cluster),
            content: format!(
                "# Generated by ev for the `{}` cluster ({}); do not edit.\n# Secret values name their sops source: `ev apply` sends them to kubectl on stdin.\n{}",
                self.cluster,
                self.connection.to_string().replace(['\n', '\r'], " "),
                stream(&objects)
            ),
        }]
    }

    fn items(&self) -> Vec<Item> {
        self.objects
            .iter()
            .map(|o| {
                let key = object_key(o);
                let label = if field(o, "/kind") == "Secret" && o.get("stringData").is_some() {
                    format!("{key} (values from sops at apply, on kubectl's stdin only)")
                } else {
                    key.clone()
                };
                Item {
                    kind: ItemKind::Object,
                    key,
                    label,
                    value: o.clone(),
                    view: ItemView::Yaml,
                    with_action: false,
                }
            })
            .collect()
    }
}
