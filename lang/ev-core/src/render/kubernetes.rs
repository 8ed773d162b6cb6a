//! Kubernetes: one YAML stream per cluster with every app lowered to
//! Deployment, Service, ConfigMap, Secret, PersistentVolumeClaim and Ingress
//! objects, plus raw manifests; sorted and stable, all labelled as owned by ev
//! (the executor prunes by that label, never touching foreign objects).
//!
//! Secret objects carry no data here: their keys name sops references in an
//! annotation and the executor fills them at apply time.

use indexmap::IndexMap;
use serde_json::{json, Map, Value};

use crate::model::{App, Cluster, Known};
use crate::plan::RenderedFile;

use super::{known_json, plain_json, yaml, Unknowns};

/// The label every object ev applies carries.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "ev");

fn labels(cluster: &str, app: &str) -> Value {
    json!({
        MANAGED_BY.0: MANAGED_BY.1,
        "app.kubernetes.io/name": app,
        "ev.dev/cluster": cluster,
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

/// How a Secret's value is found at apply time, in the `ev.dev/sops-refs`
/// annotation: `"file#key"`, or for a composed secret its parts in order,
/// `[{"text": "postgres://app:"}, {"ref": "file#key"}, ...]`.
fn sops_reference(secret: &crate::model::Secret) -> Value {
    use crate::model::{Secret, SecretPart};
    match secret {
        Secret::Ref(r) => Value::String(format!("{}#{}", r.file, r.key)),
        Secret::Composed { parts } => Value::Array(
            parts
                .iter()
                .map(|p| match p {
                    SecretPart::Text(t) => json!({ "text": t }),
                    SecretPart::Ref(r) => json!({ "ref": format!("{}#{}", r.file, r.key) }),
                })
                .collect(),
        ),
    }
}

/// Every object of one app.
pub fn app_objects(cluster: &Cluster, app: &App, unknowns: &mut Unknowns) -> Vec<Value> {
    let (c, a, ns) = (
        cluster.name.as_str(),
        app.name.as_str(),
        app.namespace.as_str(),
    );
    let mut objects = Vec::new();
    let selector = json!({ "app.kubernetes.io/name": a });

    let mut env = Vec::new();
    let mut secret_refs = IndexMap::new();
    for (k, v) in &app.env {
        match v {
            Known::Secret(secret) => {
                secret_refs.insert(k.clone(), sops_reference(secret));
                env.push(json!({ "name": k, "valueFrom": { "secretKeyRef": { "name": format!("{a}-env"), "key": k } } }));
            }
            other => env.push(json!({ "name": k, "value": known_json(other, unknowns) })),
        }
    }
    if !secret_refs.is_empty() {
        let mut secret_meta = meta(&format!("{a}-env"), ns, c, a);
        if let Some(m) = secret_meta.as_object_mut() {
            m.insert(
                "annotations".into(),
                json!({ "ev.dev/sops-refs": serde_json::to_string(&secret_refs).unwrap_or_default() }),
            );
        }
        objects.push(json!({ "apiVersion": "v1", "kind": "Secret", "metadata": secret_meta, "type": "Opaque" }));
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
    container.insert("image".into(), known_json(&app.image, unknowns));
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
        // Values known only after apply become placeholders, recorded so
        // the apply waits for them (secrets were refused by the schema).
        let mut raw = plain_json(raw, unknowns);
        if let Some(m) = raw.get_mut("metadata").and_then(|m| m.as_object_mut()) {
            let merged = match m.get("labels") {
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

/// The manifests of one cluster at `kubernetes/<cluster>.yaml`.
pub fn cluster(cluster: &Cluster, apps: &[&App]) -> RenderedFile {
    let mut unknowns = Unknowns::default();
    let mut objects: Vec<Value> = apps
        .iter()
        .flat_map(|a| app_objects(cluster, a, &mut unknowns))
        .collect();
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
            "metadata": { "name": ns, "labels": { MANAGED_BY.0: MANAGED_BY.1, "ev.dev/cluster": cluster.name } },
        }));
    }
    let key = |o: &Value| {
        let s = |v: Option<&Value>| v.and_then(|x| x.as_str()).unwrap_or("").to_string();
        (
            kind_rank(o.get("kind").and_then(|k| k.as_str()).unwrap_or("")),
            s(o.get("kind")),
            s(o.get("metadata").and_then(|m| m.get("namespace"))),
            s(o.get("metadata").and_then(|m| m.get("name"))),
        )
    };
    objects.sort_by_key(key);
    let mut content = format!(
        "# Generated by ev for the `{}` cluster (context `{}`); do not edit.\n",
        cluster.name, cluster.context
    );
    for o in &objects {
        content.push_str("---\n");
        content.push_str(&yaml(o));
    }
    RenderedFile {
        path: format!("kubernetes/{}.yaml", cluster.name),
        content,
        unknowns,
    }
}
