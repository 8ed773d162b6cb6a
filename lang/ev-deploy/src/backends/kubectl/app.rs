//! Apps (`app`, `stdlib/cluster.ev`) lowered to Kubernetes objects: a
//! Deployment (its pod with the app's container, sidecars and init
//! containers), and as the app needs them a Service, an Ingress, a
//! ConfigMap of its files, a Secret of its secret environment and
//! PersistentVolumeClaims; then the app's `patch`, merged by kind.

use ev_core::model::Known;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{ownership, Cluster};
use crate::backend::merge_patch;
use crate::markers::marked;

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
    /// Size of the claim ev makes.
    pub size: Option<String>,
    /// Storage class of the claim ev makes.
    pub storage_class: Option<String>,
    /// Access modes of the claim ev makes.
    pub access_modes: Vec<String>,
    /// An existing claim, by name.
    pub claim: Option<String>,
    /// Host path.
    pub host_path: Option<String>,
    /// Read-only.
    pub read_only: bool,
}

/// A port of the app's Service an ingress routes to: by name or number.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PortRef {
    /// By number.
    Number(u16),
    /// By name.
    Name(String),
}

/// An ingress route.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ingress {
    /// Host name; none: every host.
    pub host: Option<String>,
    /// Path.
    pub path: String,
    /// How the path matches.
    pub path_type: String,
    /// The Service port.
    pub port: Option<PortRef>,
    /// TLS.
    pub tls: bool,
    /// The certificate's Secret; none: `<app>-tls`.
    pub tls_secret: Option<String>,
    /// TLS with the controller's default certificate (no Secret named).
    pub default_cert: bool,
}

/// A container's probes, passed through.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Probes {
    /// `readinessProbe`.
    pub readiness: Option<Map<String, Value>>,
    /// `livenessProbe`.
    pub liveness: Option<Map<String, Value>>,
    /// `startupProbe`.
    pub startup: Option<Map<String, Value>>,
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
    /// `RollingUpdate` or `Recreate`.
    pub strategy: String,
    /// The labels selecting its pods.
    pub selector: IndexMap<String, String>,
    /// More labels.
    pub labels: IndexMap<String, String>,
    /// Pod annotations.
    pub pod_annotations: IndexMap<String, String>,
    /// Command.
    pub command: Option<Vec<String>>,
    /// Arguments.
    pub args: Option<Vec<String>>,
    /// Ports.
    pub ports: Vec<Port>,
    /// Environment; secrets become a Kubernetes Secret.
    pub env: IndexMap<String, Known<String>>,
    /// `envFrom` entries.
    pub env_from: Vec<Value>,
    /// Volumes.
    pub volumes: Vec<Volume>,
    /// Config files: path -> content.
    pub config_files: IndexMap<String, String>,
    /// Secret files: path -> secret.
    pub secret_files: IndexMap<String, Known<String>>,
    /// Ingress routes.
    pub ingress: Vec<Ingress>,
    /// `ingressClassName`.
    pub ingress_class: Option<String>,
    /// Ingress annotations.
    pub ingress_annotations: IndexMap<String, String>,
    /// Probes.
    pub probes: Probes,
    /// Container resources.
    pub resources: Option<Map<String, Value>>,
    /// Pod tolerations.
    pub tolerations: Vec<Value>,
    /// Pod node selector.
    pub node_selector: IndexMap<String, String>,
    /// Pod affinity.
    pub affinity: Option<Map<String, Value>>,
    /// Pod security context.
    pub security_context: Option<Map<String, Value>>,
    /// The app container's security context.
    pub container_security_context: Option<Map<String, Value>>,
    /// Init containers.
    pub init_containers: Vec<Value>,
    /// More containers of the pod.
    pub sidecars: Vec<Value>,
    /// Use the node's network.
    pub host_network: bool,
    /// `runtimeClassName`.
    pub runtime_class: Option<String>,
    /// Merge patches by kind.
    pub patch: IndexMap<String, Map<String, Value>>,
    /// Wait for rollout.
    pub wait: bool,
    /// Raw manifests.
    pub manifests: Vec<Value>,
}

/// The labels of an app's objects: its name, its own labels, ev's.
pub(super) fn object_labels(cluster: &str, app: &App) -> Map<String, Value> {
    let mut labels = Map::new();
    labels.insert(super::MANAGED_BY.0.into(), json!(super::MANAGED_BY.1));
    labels.insert("app.kubernetes.io/name".into(), json!(app.name));
    labels.insert(super::CLUSTER_LABEL.into(), json!(cluster));
    for (k, v) in &app.labels {
        labels.insert(k.clone(), json!(v));
    }
    // ev's own labels win over the app's.
    labels.extend(ownership(cluster));
    labels
}

fn meta(name: &str, app: &App, cluster: &str) -> Value {
    json!({ "name": name, "namespace": app.namespace, "labels": object_labels(cluster, app) })
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

/// Inserts `value` under `key` when it is there.
fn put<T: Serialize>(map: &mut Map<String, Value>, key: &str, value: Option<T>) {
    if let Some(v) = value {
        map.insert(key.into(), json!(v));
    }
}

/// Inserts a list or record under `key` unless it is empty.
fn put_nonempty(map: &mut Map<String, Value>, key: &str, value: Value) {
    let empty = match &value {
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    };
    if !empty {
        map.insert(key.into(), value);
    }
}

/// Every object of one app, its patches merged.
pub fn app_objects(cluster: &Cluster, app: &App) -> Vec<Value> {
    let (c, a) = (cluster.name.as_str(), app.name.as_str());
    let mut objects = Vec::new();

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
            "apiVersion": "v1", "kind": "Secret", "metadata": meta(&format!("{a}-env"), app, c),
            "type": "Opaque", "stringData": secret_data,
        }));
    }

    let mut mounts = Vec::new();
    let mut volumes = Vec::new();
    for v in &app.volumes {
        mounts.push(json!({ "name": v.name, "mountPath": v.mount, "readOnly": v.read_only }));
        if let Some(size) = &v.size {
            let claim = format!("{a}-{}", v.name);
            let mut spec = Map::new();
            spec.insert("accessModes".into(), json!(v.access_modes));
            spec.insert(
                "resources".into(),
                json!({ "requests": { "storage": size } }),
            );
            put(&mut spec, "storageClassName", v.storage_class.as_ref());
            objects.push(json!({
                "apiVersion": "v1", "kind": "PersistentVolumeClaim",
                "metadata": meta(&claim, app, c), "spec": spec,
            }));
            volumes
                .push(json!({ "name": v.name, "persistentVolumeClaim": { "claimName": claim } }));
        } else if let Some(claim) = &v.claim {
            volumes
                .push(json!({ "name": v.name, "persistentVolumeClaim": { "claimName": claim } }));
        } else if let Some(path) = &v.host_path {
            volumes.push(json!({ "name": v.name, "hostPath": { "path": path } }));
        }
    }
    if !app.config_files.is_empty() {
        let data: Map<String, Value> = app
            .config_files
            .iter()
            .map(|(path, content)| (config_key(path), Value::String(content.clone())))
            .collect();
        objects.push(json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(&format!("{a}-files"), app, c), "data": data }));
        volumes.push(json!({ "name": "ev-files", "configMap": { "name": format!("{a}-files") } }));
        for path in app.config_files.keys() {
            mounts.push(json!({ "name": "ev-files", "mountPath": path, "subPath": config_key(path), "readOnly": true }));
        }
    }

    if !app.secret_files.is_empty() {
        // Decrypted onto kubectl's stdin like the environment's secrets.
        let data: Map<String, Value> = app
            .secret_files
            .iter()
            .map(|(path, secret)| (config_key(path), marked(secret)))
            .collect();
        let name = format!("{a}-secret-files");
        objects.push(json!({
            "apiVersion": "v1", "kind": "Secret", "metadata": meta(&name, app, c),
            "type": "Opaque", "stringData": data,
        }));
        volumes.push(json!({ "name": "ev-secret-files", "secret": { "secretName": name } }));
        for path in app.secret_files.keys() {
            mounts.push(json!({ "name": "ev-secret-files", "mountPath": path, "subPath": config_key(path), "readOnly": true }));
        }
    }

    let mut container = Map::new();
    container.insert("name".into(), json!(a));
    container.insert("image".into(), marked(&app.image));
    put(&mut container, "command", app.command.as_ref());
    put(&mut container, "args", app.args.as_ref());
    put_nonempty(
        &mut container,
        "ports",
        json!(app
            .ports
            .iter()
            .map(
                |p| json!({ "name": p.name, "containerPort": p.container, "protocol": p.protocol })
            )
            .collect::<Vec<_>>()),
    );
    put_nonempty(&mut container, "env", Value::Array(env));
    put_nonempty(&mut container, "envFrom", json!(app.env_from));
    put_nonempty(&mut container, "volumeMounts", Value::Array(mounts));
    put(&mut container, "resources", app.resources.as_ref());
    put(
        &mut container,
        "readinessProbe",
        app.probes.readiness.as_ref(),
    );
    put(
        &mut container,
        "livenessProbe",
        app.probes.liveness.as_ref(),
    );
    put(&mut container, "startupProbe", app.probes.startup.as_ref());
    put(
        &mut container,
        "securityContext",
        app.container_security_context.as_ref(),
    );

    let mut containers = vec![Value::Object(container)];
    containers.extend(app.sidecars.iter().cloned());
    let mut pod_spec = Map::new();
    put_nonempty(&mut pod_spec, "initContainers", json!(app.init_containers));
    pod_spec.insert("containers".into(), Value::Array(containers));
    put_nonempty(&mut pod_spec, "volumes", Value::Array(volumes));
    put_nonempty(&mut pod_spec, "tolerations", json!(app.tolerations));
    put_nonempty(&mut pod_spec, "nodeSelector", json!(app.node_selector));
    put(&mut pod_spec, "affinity", app.affinity.as_ref());
    put(
        &mut pod_spec,
        "securityContext",
        app.security_context.as_ref(),
    );
    if app.host_network {
        pod_spec.insert("hostNetwork".into(), json!(true));
    }
    put(
        &mut pod_spec,
        "runtimeClassName",
        app.runtime_class.as_ref(),
    );

    // The pods carry the selector's labels (whatever the user chose) and
    // the app's own.
    let mut pod_labels = object_labels(c, app);
    for (k, v) in &app.selector {
        pod_labels.insert(k.clone(), json!(v));
    }
    let mut pod_meta = Map::new();
    pod_meta.insert("labels".into(), Value::Object(pod_labels));
    put_nonempty(&mut pod_meta, "annotations", json!(app.pod_annotations));
    let mut deployment_spec = Map::new();
    deployment_spec.insert("replicas".into(), json!(app.replicas));
    deployment_spec.insert("selector".into(), json!({ "matchLabels": app.selector }));
    if app.strategy != "RollingUpdate" {
        deployment_spec.insert("strategy".into(), json!({ "type": app.strategy }));
    }
    deployment_spec.insert(
        "template".into(),
        json!({ "metadata": pod_meta, "spec": pod_spec }),
    );
    objects.push(json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(a, app, c),
        "spec": deployment_spec,
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
            "apiVersion": "v1", "kind": "Service", "metadata": meta(a, app, c),
            "spec": { "type": if node_port { "NodePort" } else { "ClusterIP" }, "selector": app.selector, "ports": ports },
        }));
    }
    if !app.ingress.is_empty() {
        objects.push(ingress(app, meta(a, app, c)));
    }
    for raw in &app.manifests {
        objects.push(raw.clone());
    }
    for o in &mut objects {
        let kind = super::field(o, "/kind").to_string();
        if let Some(patch) = app.patch.get(&kind) {
            merge_patch(o, &Value::Object(patch.clone()));
        }
    }
    objects
}

/// The app's Ingress: one rule per route; TLS hosts grouped by the Secret
/// holding their certificate (none: the controller's default).
fn ingress(app: &App, metadata: Value) -> Value {
    let a = app.name.as_str();
    let default_port = app
        .ports
        .first()
        .map(|p| PortRef::Name(p.name.clone()))
        .unwrap_or(PortRef::Name(String::new()));
    let rules: Vec<Value> = app
        .ingress
        .iter()
        .map(|i| {
            let port = match i.port.as_ref().unwrap_or(&default_port) {
                PortRef::Number(n) => json!({ "number": n }),
                PortRef::Name(n) => json!({ "name": n }),
            };
            let mut rule = Map::new();
            put(&mut rule, "host", i.host.as_ref());
            rule.insert(
                "http".into(),
                json!({ "paths": [{
                    "path": i.path, "pathType": i.path_type,
                    "backend": { "service": { "name": a, "port": port } },
                }] }),
            );
            Value::Object(rule)
        })
        .collect();
    // Hosts by certificate, in the order routes name them.
    let mut tls: IndexMap<Option<String>, Vec<String>> = IndexMap::new();
    for i in app.ingress.iter().filter(|i| i.tls) {
        let secret =
            (!i.default_cert).then(|| i.tls_secret.clone().unwrap_or_else(|| format!("{a}-tls")));
        let hosts = tls.entry(secret).or_default();
        if let Some(h) = &i.host {
            if !hosts.contains(h) {
                hosts.push(h.clone());
            }
        }
    }
    let tls: Vec<Value> = tls
        .into_iter()
        .map(|(secret, hosts)| {
            let mut entry = Map::new();
            put_nonempty(&mut entry, "hosts", json!(hosts));
            put(&mut entry, "secretName", secret);
            Value::Object(entry)
        })
        .collect();
    let mut spec = Map::new();
    put(&mut spec, "ingressClassName", app.ingress_class.as_ref());
    spec.insert("rules".into(), Value::Array(rules));
    put_nonempty(&mut spec, "tls", Value::Array(tls));
    let mut metadata = metadata;
    if let Some(m) = metadata.as_object_mut() {
        put_nonempty(m, "annotations", json!(app.ingress_annotations));
    }
    json!({ "apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": metadata, "spec": spec })
}
