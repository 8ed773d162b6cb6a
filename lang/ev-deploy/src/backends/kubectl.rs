//! kubectl: Kubernetes clusters and their apps (`cluster`, `app`,
//! `stdlib/cluster.ev`). One action per cluster (`milky-way:apply`) whose
//! artifact holds every object as data: apps lowered to Deployment,
//! Service, ConfigMap, Secret, PersistentVolumeClaim and Ingress, plus raw
//! manifests, sorted and stable, all labelled as owned by ev (the driver
//! prunes by that label, never touching foreign objects).
//!
//! A Secret's values stay `$secret` markers in its `stringData`: the
//! driver decrypts them for kubectl's stdin; the state and the rendered
//! file hold only the markers.

use ev_core::model::{Known, Model, ModelResource, ResourceKey};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::backend::{
    layer, view_json, views, Artifact, ArtifactData, Backend, BackendId, Item, ItemView, Lowered,
    Misfit, RenderedFile,
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
    /// kubectl context.
    pub context: String,
    /// The machine it runs on, when ev deploys it.
    #[serde(default)]
    pub machine: Option<String>,
    /// Default namespace.
    pub namespace: String,
    /// Seconds one tool run of applying it may take.
    #[serde(default)]
    pub apply_timeout: Option<u64>,
}

/// An app port.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Port {
    /// Port name.
    pub name: String,
    /// Container port.
    pub container: u16,
    /// Service port.
    pub service: Option<u16>,
    /// Node port.
    pub node_port: Option<u16>,
    /// TCP or UDP.
    pub protocol: String,
}

/// An app volume.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Volume {
    /// Name.
    pub name: String,
    /// Mount path.
    pub mount: String,
    /// Claim size.
    pub size: Option<String>,
    /// Storage class.
    pub storage_class: Option<String>,
    /// Host path.
    pub host_path: Option<String>,
    /// Read-only.
    pub read_only: bool,
}

/// An ingress route.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ingress {
    /// Host name.
    pub host: String,
    /// Path.
    pub path: String,
    /// Port name.
    pub port: Option<String>,
    /// TLS.
    pub tls: bool,
}

/// An app (`stdlib/cluster.ev`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct App {
    /// Name.
    pub name: String,
    /// Cluster name.
    pub cluster: String,
    /// Namespace.
    pub namespace: String,
    /// Image reference, possibly unknown.
    pub image: Known<String>,
    /// Allow tags instead of digests.
    pub allow_unpinned: bool,
    /// Replicas.
    pub replicas: u32,
    /// Command.
    pub command: Option<Vec<String>>,
    /// Arguments.
    pub args: Option<Vec<String>>,
    /// Ports.
    pub ports: Vec<Port>,
    /// Environment; secrets become a Kubernetes Secret.
    pub env: IndexMap<String, Known<String>>,
    /// Volumes.
    pub volumes: Vec<Volume>,
    /// Config files: path -> content.
    pub config_files: IndexMap<String, String>,
    /// Ingress routes.
    pub ingress: Vec<Ingress>,
    /// Wait for rollout.
    pub wait: bool,
    /// Raw manifests.
    pub manifests: Vec<serde_json::Value>,
}

/// The label every object ev applies carries.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "ev");

/// The label naming the cluster an object was applied to by ev.
pub const CLUSTER_LABEL: &str = "ev.dev/cluster";

fn labels(cluster: &str, app: &str) -> Value {
    json!({
        MANAGED_BY.0: MANAGED_BY.1,
        "app.kubernetes.io/name": app,
        CLUSTER_LABEL: cluster,
    })
}

fn meta(name: &str, namespace: &str, cluster: &str, app: &str) -> Value {
    json!({ "name": name, "namespace": namespace, "labels": labels(cluster, app) })
}

/// Kind order in the stream: what others refer to comes first.
fn kind_rank(kind: &str) -> usize {
    [
        "Namespace",
        "ConfigMap",
        "Secret",
        "PersistentVolumeClaim",
        "Service",
        "Deployment",
        "Ingress",
    ]
    .iter()
    .position(|k| *k == kind)
    .unwrap_or(99)
}

/// A file name usable as a ConfigMap key.
fn config_key(path: &str) -> String {
    path.trim_start_matches('/')
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Every object of one app.
pub fn app_objects(cluster: &Cluster, app: &App) -> Vec<Value> {
    let (c, a, ns) = (
        cluster.name.as_str(),
        app.name.as_str(),
        app.namespace.as_str(),
    );
    let mut objects = Vec::new();
    let selector = json!({ "app.kubernetes.io/name": a });

    let mut env = Vec::new();
    // Secret values stay markers: the driver decrypts them into the
    // Secret's `stringData` on kubectl's stdin, never onto disk.
    let mut secret_data = Map::new();
    for (k, v) in &app.env {
        match v {
            Known::Secret(_) => {
                secret_data.insert(k.clone(), marked(v));
                env.push(json!({ "name": k, "valueFrom": { "secretKeyRef": { "name": format!("{a}-env"), "key": k } } }));
            }
            other => env.push(json!({ "name": k, "value": marked(other) })),
        }
    }
    if !secret_data.is_empty() {
        objects.push(json!({
            "apiVersion": "v1", "kind": "Secret", "metadata": meta(&format!("{a}-env"), ns, c, a),
            "type": "Opaque", "stringData": secret_data,
        }));
    }

    let mut mounts = Vec::new();
    let mut volumes = Vec::new();
    for v in &app.volumes {
        mounts.push(json!({ "name": v.name, "mountPath": v.mount, "readOnly": v.read_only }));
        match (&v.size, &v.host_path) {
            (Some(size), _) => {
                let claim = format!("{a}-{}", v.name);
                let mut spec = Map::new();
                spec.insert("accessModes".into(), json!(["ReadWriteOnce"]));
                spec.insert(
                    "resources".into(),
                    json!({ "requests": { "storage": size } }),
                );
                if let Some(class) = &v.storage_class {
                    spec.insert("storageClassName".into(), json!(class));
                }
                objects.push(json!({
                    "apiVersion": "v1", "kind": "PersistentVolumeClaim",
                    "metadata": meta(&claim, ns, c, a), "spec": spec,
                }));
                volumes.push(
                    json!({ "name": v.name, "persistentVolumeClaim": { "claimName": claim } }),
                );
            }
            (None, Some(path)) => {
                volumes.push(json!({ "name": v.name, "hostPath": { "path": path } }))
            }
            (None, None) => {}
        }
    }
    if !app.config_files.is_empty() {
        let data: Map<String, Value> = app
            .config_files
            .iter()
            .map(|(path, content)| (config_key(path), Value::String(content.clone())))
            .collect();
        objects.push(json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(&format!("{a}-files"), ns, c, a), "data": data }));
        volumes.push(json!({ "name": "ev-files", "configMap": { "name": format!("{a}-files") } }));
        for path in app.config_files.keys() {
            mounts.push(json!({ "name": "ev-files", "mountPath": path, "subPath": config_key(path), "readOnly": true }));
        }
    }

    let mut container = Map::new();
    container.insert("name".into(), json!(a));
    container.insert("image".into(), marked(&app.image));
    if let Some(cmd) = &app.command {
        container.insert("command".into(), json!(cmd));
    }
    if let Some(args) = &app.args {
        container.insert("args".into(), json!(args));
    }
    if !app.ports.is_empty() {
        container.insert(
            "ports".into(),
            json!(app.ports.iter().map(|p| json!({ "name": p.name, "containerPort": p.container, "protocol": p.protocol })).collect::<Vec<_>>()),
        );
    }
    if !env.is_empty() {
        container.insert("env".into(), Value::Array(env));
    }
    if !mounts.is_empty() {
        container.insert("volumeMounts".into(), Value::Array(mounts));
    }
    let mut pod_spec = Map::new();
    pod_spec.insert("containers".into(), json!([container]));
    if !volumes.is_empty() {
        pod_spec.insert("volumes".into(), Value::Array(volumes));
    }
    objects.push(json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(a, ns, c, a),
        "spec": {
            "replicas": app.replicas,
            "selector": { "matchLabels": selector },
            "template": { "metadata": { "labels": labels(c, a) }, "spec": pod_spec },
        },
    }));

    if !app.ports.is_empty() {
        let node_port = app.ports.iter().any(|p| p.node_port.is_some());
        let ports: Vec<Value> = app
            .ports
            .iter()
            .map(|p| {
                let mut port = json!({ "name": p.name, "port": p.service.unwrap_or(p.container), "targetPort": p.name, "protocol": p.protocol });
                if let (Some(np), Some(m)) = (p.node_port, port.as_object_mut()) {
                    m.insert("nodePort".into(), json!(np));
                }
                port
            })
            .collect();
        objects.push(json!({
            "apiVersion": "v1", "kind": "Service", "metadata": meta(a, ns, c, a),
            "spec": { "type": if node_port { "NodePort" } else { "ClusterIP" }, "selector": selector, "ports": ports },
        }));
    }
    if !app.ingress.is_empty() {
        let default_port = app
            .ports
            .first()
            .map(|p| p.name.clone())
            .unwrap_or_default();
        let rules: Vec<Value> = app
            .ingress
            .iter()
            .map(|i| json!({ "host": i.host, "http": { "paths": [{
                "path": i.path, "pathType": "Prefix",
                "backend": { "service": { "name": a, "port": { "name": i.port.clone().unwrap_or_else(|| default_port.clone()) } } },
            }] } }))
            .collect();
        let tls: Vec<String> = app
            .ingress
            .iter()
            .filter(|i| i.tls)
            .map(|i| i.host.clone())
            .collect();
        let mut spec = Map::new();
        spec.insert("rules".into(), Value::Array(rules));
        if !tls.is_empty() {
            spec.insert(
                "tls".into(),
                json!([{ "hosts": tls, "secretName": format!("{a}-tls") }]),
            );
        }
        objects.push(json!({ "apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta(a, ns, c, a), "spec": spec }));
    }
    for raw in &app.manifests {
        // Values known only after apply stay markers, so the apply waits
        // for them (secrets were refused by the schema).
        // A marker (metadata or labels unknown until apply) is left whole:
        // ev's labels join it when the action is re-planned with it known.
        let mut raw = raw.clone();
        let metadata = raw
            .get_mut("metadata")
            .filter(|m| !ev_core::output::is_marker(m));
        if let Some(m) = metadata.and_then(|m| m.as_object_mut()) {
            let merged = match m.get("labels") {
                Some(l) if ev_core::output::is_marker(l) => l.clone(),
                Some(Value::Object(existing)) => {
                    let mut l = existing.clone();
                    if let Value::Object(ours) = labels(c, a) {
                        l.extend(ours);
                    }
                    Value::Object(l)
                }
                _ => labels(c, a),
            };
            m.insert("labels".into(), merged);
            m.entry("namespace").or_insert_with(|| json!(ns));
        }
        objects.push(raw);
    }
    objects
}

/// The kubectl backend.
pub struct Kubectl;

impl Backend for Kubectl {
    fn id(&self) -> BackendId {
        BackendId::Kubectl
    }

    fn kinds(&self) -> &'static [&'static str] {
        &["cluster", "app"]
    }

    fn typed_view(&self, resource: &ModelResource) -> Result<Value, Box<Misfit>> {
        match resource.key.kind.as_str() {
            "cluster" => view_json::<Cluster>(resource),
            _ => view_json::<App>(resource),
        }
    }

    fn lower(&self, model: &Model) -> Vec<Lowered> {
        // One apply per cluster, covering all its apps.
        let mut apps_by_cluster: IndexMap<String, Vec<(ResourceKey, App)>> = IndexMap::new();
        for (r, app) in views::<App>(model, "app") {
            apps_by_cluster
                .entry(app.cluster.clone())
                .or_default()
                .push((r.key.clone(), app));
        }
        views::<Cluster>(model, "cluster")
            .map(|(r, c)| {
                let apps = apps_by_cluster
                    .get(&c.name)
                    .map_or(&[][..], |a| a.as_slice());
                let mut resources = vec![r.key.clone()];
                resources.extend(apps.iter().map(|(k, _)| k.clone()));
                let apps: Vec<&App> = apps.iter().map(|(_, a)| a).collect();
                let mut action = Lowered::new(
                    ActionId::new(BackendId::Kubectl, &layer(r), &c.name),
                    resources,
                    Artifact::Kubectl(Manifests::of(&c, &apps)),
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

// The artifact.

/// One cluster's objects, as kubectl is given them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifests {
    /// The cluster.
    pub cluster: String,
    /// Its kubectl context.
    pub context: String,
    /// Every object (marked JSON), in apply order.
    pub objects: Vec<Value>,
    /// Deployments whose rollout the apply waits for (apps declared with
    /// `wait = true`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rollouts: Vec<Rollout>,
}

/// A Deployment to wait for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollout {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
}

impl Manifests {
    /// The artifact of a cluster and its apps.
    pub fn of(cluster: &Cluster, apps: &[&App]) -> Manifests {
        let mut objects: Vec<Value> = apps.iter().flat_map(|a| app_objects(cluster, a)).collect();
        let mut namespaces: Vec<&str> = apps
            .iter()
            .map(|a| a.namespace.as_str())
            .filter(|n| *n != "default")
            .collect();
        namespaces.sort();
        namespaces.dedup();
        for ns in namespaces {
            objects.push(json!({
                "apiVersion": "v1", "kind": "Namespace",
                "metadata": { "name": ns, "labels": { MANAGED_BY.0: MANAGED_BY.1, CLUSTER_LABEL: cluster.name } },
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
        Manifests {
            cluster: cluster.name.clone(),
            context: cluster.context.clone(),
            objects,
            rollouts: apps
                .iter()
                .filter(|a| a.wait)
                .map(|a| Rollout {
                    namespace: a.namespace.clone(),
                    name: a.name.clone(),
                })
                .collect(),
        }
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

impl ArtifactData for Manifests {
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
                "# Generated by ev for the `{}` cluster (context `{}`); do not edit.\n# Secret values name their sops source: `ev apply` sends them to kubectl on stdin.\n{}",
                self.cluster,
                self.context,
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
