//! `ev import k8s`: Kubernetes objects — manifest files (YAML streams or
//! JSON, as `kubectl`, `tk export` and `helm template` write them) or a
//! live namespace as `kubectl get -o json` prints it — to a `manifests`
//! declaration on one of the program's clusters.
//!
//! A live object is cleaned of what the API server keeps for itself (its
//! uid, resource version, timestamps, managed fields, status, the
//! annotations kubectl and the controllers write) and of the fields the
//! API server defaulted to their documented default values, so the
//! declaration says what someone chose; the live labels, selectors and
//! every other value stay as they are. Leaving a defaulted field out is
//! exact, not a guess: ev applies server-side, and a field it does not
//! send keeps its live value.
//!
//! Objects the cluster makes itself (owned by another object, events,
//! endpoints, the `default` ServiceAccount, `kube-root-ca.crt`) are left
//! out; Secrets are never imported (their values would land in the
//! repository in clear) and are listed. Whether the imported program
//! renders the objects read is a comparison of data ([`differences`]).

use serde_json::{Map, Value};

use crate::backends::kubectl::{object_key, CLUSTER_LABEL, MANAGED_BY};
use ev_core::output::{marked_json_to_ev, quote};

/// Something of the input that cannot be imported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The object (`Deployment web/api`), or `` for the input.
    pub object: String,
    /// Why.
    pub why: String,
}

/// The objects of one input, and what was left out.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Objects {
    /// The objects to declare, in the input's order.
    pub objects: Vec<Value>,
    /// What was left out, and why (`Secret web/db: ...`).
    pub left_out: Vec<String>,
}

/// Where objects were read from: what is cleaned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Files someone wrote (or a tool rendered): taken as they are, but
    /// for `status` and a null `creationTimestamp`.
    Files,
    /// The API server's objects: cleaned of its own fields and defaults.
    Live,
}

/// Reads a manifest stream: YAML documents, or JSON (one object, a
/// `List`, or an array); `List`s are flattened, empty documents skipped.
pub fn read_stream(text: &str) -> Result<Vec<Value>, Problem> {
    let trimmed = text.trim_start();
    let docs: Vec<Value> = if trimmed.starts_with('{') || trimmed.starts_with('[') {
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Array(items)) => items,
            Ok(one) => vec![one],
            Err(e) => return Err(input_problem(format!("not JSON: {e}"))),
        }
    } else {
        serde_saphyr::from_multiple::<Value>(text)
            .map_err(|e| input_problem(format!("not a YAML stream: {e}")))?
    };
    let mut out = Vec::new();
    for doc in docs.into_iter().filter(|d| !d.is_null()) {
        match doc.get("items") {
            Some(Value::Array(items)) if is_list(&doc) => out.extend(items.iter().cloned()),
            _ => out.push(doc),
        }
    }
    Ok(out)
}

fn input_problem(why: String) -> Problem {
    Problem {
        object: String::new(),
        why,
    }
}

/// `kind: List` (or `FooList`), as kubectl prints several objects.
fn is_list(doc: &Value) -> bool {
    doc.get("kind")
        .and_then(Value::as_str)
        .is_some_and(|k| k.ends_with("List"))
        && doc.get("metadata").is_none_or(|m| m.get("name").is_none())
}

/// The objects to declare from those read: each checked (an identity ev
/// can name, nothing ev would read as its own markers, numbers ev holds),
/// cleaned as `source` says; what the cluster makes itself and Secrets
/// left out. Every problem is listed.
pub fn objects(read: Vec<Value>, source: Source) -> Result<Objects, Vec<Problem>> {
    let mut out = Objects::default();
    let mut problems = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for mut object in read {
        let key = object_key(&object);
        if let Err(why) = identity(&object) {
            problems.push(Problem { object: key, why });
            continue;
        }
        if let Some(why) = made_by_the_cluster(&object) {
            out.left_out.push(format!("{key}: {why}"));
            continue;
        }
        if str_at(&object, "/kind") == "Secret" && str_at(&object, "/apiVersion") == "v1" {
            out.left_out.push(format!(
                "{key}: a Secret's values would be written into the repository in clear (declare it with an app's `env` or `secret_files` from sops)"
            ));
            continue;
        }
        if let Err(why) = super::expressible(&object, "") {
            problems.push(Problem { object: key, why });
            continue;
        }
        clean(&mut object, source);
        if !seen.insert(identity_key(&object)) {
            problems.push(Problem {
                object: key,
                why: "declared twice in the input".into(),
            });
            continue;
        }
        out.objects.push(object);
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// `apiVersion kind namespace/name`: what no two objects of a cluster
/// share.
pub fn identity_key(o: &Value) -> String {
    format!("{} {}", str_at(o, "/apiVersion"), object_key(o))
}

fn str_at<'v>(o: &'v Value, pointer: &str) -> &'v str {
    o.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// An object has an apiVersion, a kind and a name that are DNS-ish text
/// (what kubectl and ev's object keys can carry).
fn identity(o: &Value) -> Result<(), String> {
    let plain = |s: &str| {
        !s.is_empty()
            && s.len() <= 253
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '/' | ':' | '_'))
            && !s.starts_with('-')
    };
    if !o.is_object() {
        return Err("not an object".into());
    }
    for (pointer, what) in [
        ("/apiVersion", "apiVersion"),
        ("/kind", "kind"),
        ("/metadata/name", "metadata.name"),
    ] {
        if !plain(str_at(o, pointer)) {
            return Err(format!("its {what} is missing or not a Kubernetes name"));
        }
    }
    match o.pointer("/metadata/namespace") {
        None => Ok(()),
        Some(Value::String(ns)) if plain(ns) => Ok(()),
        Some(_) => Err("its metadata.namespace is not a Kubernetes name".into()),
    }
}

/// Why the cluster makes this object itself (it is left out), if it does.
fn made_by_the_cluster(o: &Value) -> Option<&'static str> {
    let kind = str_at(o, "/kind");
    let name = str_at(o, "/metadata/name");
    if o.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|r| !r.is_empty())
    {
        return Some("owned by another object, which makes it");
    }
    let namespace = str_at(o, "/metadata/namespace");
    match (kind, name) {
        ("Service", "kubernetes") if namespace == "default" => Some("the API server's own Service"),
        ("Event", _) => Some("an event"),
        ("Endpoints" | "EndpointSlice", _) => Some("kept by the control plane for its Service"),
        ("ServiceAccount", "default") => Some("made in every namespace by the cluster"),
        ("ConfigMap", "kube-root-ca.crt") => Some("made in every namespace by the cluster"),
        ("Lease", _) => Some("a lease of a running component"),
        _ => None,
    }
}

/// Cleans an object read from `source`.
fn clean(o: &mut Value, source: Source) {
    let Some(map) = o.as_object_mut() else {
        return;
    };
    map.shift_remove("status");
    if let Some(Value::Object(meta)) = map.get_mut("metadata") {
        if meta.get("creationTimestamp") == Some(&Value::Null) {
            meta.shift_remove("creationTimestamp");
        }
    }
    if source == Source::Files {
        return;
    }
    if let Some(Value::Object(meta)) = map.get_mut("metadata") {
        for server_side in [
            "uid",
            "resourceVersion",
            "generation",
            "creationTimestamp",
            "managedFields",
            "selfLink",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
        ] {
            meta.shift_remove(server_side);
        }
        remove_keys(
            meta,
            "annotations",
            &[
                "kubectl.kubernetes.io/last-applied-configuration",
                "deployment.kubernetes.io/revision",
            ],
        );
    }
    let kind = map
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let name = map
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    match kind.as_str() {
        "Namespace" => {
            if let Some(Value::Object(meta)) = map.get_mut("metadata") {
                if meta
                    .get("labels")
                    .and_then(|l| l.get("kubernetes.io/metadata.name"))
                    == Some(&Value::String(name))
                {
                    remove_keys(meta, "labels", &["kubernetes.io/metadata.name"]);
                }
            }
            if let Some(Value::Object(spec)) = map.get_mut("spec") {
                default(spec, "finalizers", serde_json::json!(["kubernetes"]));
            }
            drop_if_empty(map, "spec");
        }
        "Service" => {
            if let Some(Value::Object(spec)) = map.get_mut("spec") {
                // Allocated by the API server; ev never sends them.
                spec.shift_remove("clusterIP");
                spec.shift_remove("clusterIPs");
                spec.shift_remove("ipFamilies");
                default(spec, "ipFamilyPolicy", "SingleStack".into());
                default(spec, "sessionAffinity", "None".into());
                default(spec, "type", "ClusterIP".into());
                default(spec, "internalTrafficPolicy", "Cluster".into());
                // A port's `protocol` stays: it is a key of the ports
                // list, which server-side apply needs in every element.
                if let Some(Value::Array(ports)) = spec.get_mut("ports") {
                    for port in ports.iter_mut().filter_map(Value::as_object_mut) {
                        if port.get("targetPort").is_some()
                            && port.get("targetPort") == port.get("port")
                        {
                            port.shift_remove("targetPort");
                        }
                    }
                }
            }
        }
        "Deployment" => {
            if let Some(Value::Object(spec)) = map.get_mut("spec") {
                default(spec, "progressDeadlineSeconds", 600.into());
                default(spec, "revisionHistoryLimit", 10.into());
                default(
                    spec,
                    "strategy",
                    serde_json::json!({ "type": "RollingUpdate", "rollingUpdate": { "maxSurge": "25%", "maxUnavailable": "25%" } }),
                );
                pod_template(spec, false);
            }
        }
        "StatefulSet" => {
            if let Some(Value::Object(spec)) = map.get_mut("spec") {
                default(spec, "podManagementPolicy", "OrderedReady".into());
                default(spec, "revisionHistoryLimit", 10.into());
                default(
                    spec,
                    "updateStrategy",
                    serde_json::json!({ "type": "RollingUpdate", "rollingUpdate": { "partition": 0 } }),
                );
                default(
                    spec,
                    "persistentVolumeClaimRetentionPolicy",
                    serde_json::json!({ "whenDeleted": "Retain", "whenScaled": "Retain" }),
                );
                pod_template(spec, false);
            }
        }
        "DaemonSet" => {
            if let Some(Value::Object(spec)) = map.get_mut("spec") {
                default(spec, "revisionHistoryLimit", 10.into());
                default(
                    spec,
                    "updateStrategy",
                    serde_json::json!({ "type": "RollingUpdate", "rollingUpdate": { "maxSurge": 0, "maxUnavailable": 1 } }),
                );
                pod_template(spec, false);
            }
        }
        "Job" => {
            if let Some(Value::Object(spec)) = map.get_mut("spec") {
                pod_template(spec, true);
            }
        }
        "CronJob" => {
            if let Some(Value::Object(spec)) = map.get_mut("spec") {
                default(spec, "concurrencyPolicy", "Allow".into());
                default(spec, "suspend", false.into());
                default(spec, "successfulJobsHistoryLimit", 3.into());
                default(spec, "failedJobsHistoryLimit", 1.into());
                if let Some(Value::Object(job)) = spec.get_mut("jobTemplate") {
                    if let Some(Value::Object(job_spec)) = job.get_mut("spec") {
                        pod_template(job_spec, true);
                    }
                    if let Some(Value::Object(meta)) = job.get_mut("metadata") {
                        if meta.get("creationTimestamp") == Some(&Value::Null) {
                            meta.shift_remove("creationTimestamp");
                        }
                    }
                    drop_if_empty(job, "metadata");
                }
            }
        }
        "Pod" => {
            if let Some(Value::Object(spec)) = map.get_mut("spec") {
                pod_spec(spec, false);
            }
        }
        _ => {}
    }
}

/// Removes `field` when it holds the API server's `default`.
fn default(map: &mut Map<String, Value>, field: &str, default: Value) {
    if map.get(field) == Some(&default) {
        map.shift_remove(field);
    }
}

/// Removes `keys` from the map at `field`, and the map once empty.
fn remove_keys(map: &mut Map<String, Value>, field: &str, keys: &[&str]) {
    if let Some(Value::Object(inner)) = map.get_mut(field) {
        for k in keys {
            inner.shift_remove(*k);
        }
    }
    drop_if_empty(map, field);
}

fn drop_if_empty(map: &mut Map<String, Value>, field: &str) {
    if map
        .get(field)
        .and_then(Value::as_object)
        .is_some_and(Map::is_empty)
    {
        map.shift_remove(field);
    }
}

/// A workload's `template`: its metadata's null timestamp, its pod spec.
fn pod_template(spec: &mut Map<String, Value>, job: bool) {
    let Some(Value::Object(template)) = spec.get_mut("template") else {
        return;
    };
    if let Some(Value::Object(meta)) = template.get_mut("metadata") {
        if meta.get("creationTimestamp") == Some(&Value::Null) {
            meta.shift_remove("creationTimestamp");
        }
    }
    drop_if_empty(template, "metadata");
    if let Some(Value::Object(pod)) = template.get_mut("spec") {
        pod_spec(pod, job);
    }
}

/// A pod spec's defaults, and its containers'.
fn pod_spec(pod: &mut Map<String, Value>, job: bool) {
    default(pod, "dnsPolicy", "ClusterFirst".into());
    if !job {
        default(pod, "restartPolicy", "Always".into());
    }
    default(pod, "schedulerName", "default-scheduler".into());
    default(pod, "securityContext", Value::Object(Map::new()));
    default(pod, "terminationGracePeriodSeconds", 30.into());
    default(pod, "enableServiceLinks", true.into());
    for list in ["containers", "initContainers"] {
        if let Some(Value::Array(containers)) = pod.get_mut(list) {
            for c in containers.iter_mut().filter_map(Value::as_object_mut) {
                default(c, "terminationMessagePath", "/dev/termination-log".into());
                default(c, "terminationMessagePolicy", "File".into());
                default(c, "resources", Value::Object(Map::new()));
                let image = c.get("image").and_then(Value::as_str).unwrap_or("");
                default(c, "imagePullPolicy", pull_policy(image).into());
            }
        }
    }
}

/// The pull policy Kubernetes defaults for an image: `Always` for
/// `:latest` or no tag (and no digest), else `IfNotPresent`.
fn pull_policy(image: &str) -> &'static str {
    if image.contains('@') {
        return "IfNotPresent";
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.rsplit_once(':') {
        Some((_, "latest")) | None => "Always",
        Some(_) => "IfNotPresent",
    }
}

/// The `.ev` text declaring `objects` as the `manifests` named `name` on
/// `cluster` (with `namespace`, when given, for objects naming none);
/// `origin` names where they came from in its first comment. Formatted as
/// `ev fmt` formats.
pub fn declaration(
    name: &str,
    cluster: &str,
    namespace: Option<&str>,
    objects: &[Value],
    origin: &str,
) -> String {
    let items: String = objects
        .iter()
        .map(|o| format!("    {},\n", ev_text(o, 2)))
        .collect();
    let namespace = namespace
        .map(|ns| format!("  namespace = {}\n", quote(ns)))
        .unwrap_or_default();
    let origin = super::comment_text(origin);
    let text = format!(
        "# {name}: imported by `ev import k8s` from {origin}.\n\nexport manifests {} {{\n  cluster = {}\n{namespace}  objects = [\n{items}  ]\n}}\n",
        quote(name),
        quote(cluster)
    );
    ev_syntax::format::format(&text).unwrap_or(text)
}

/// The widest an inline record or list may be (its indentation aside).
const INLINE_WIDTH: usize = 64;

/// A value as ev source at `indent` levels: a record or list that fits
/// ([`INLINE_WIDTH`]) on one line (`{ app = "web", tier = "front" }`),
/// else one field or element a line. (Checked beforehand: no value here
/// is a marker, so the text reads back as the very value.)
fn ev_text(v: &Value, indent: usize) -> String {
    let inline = inline_text(v);
    if inline.len() <= INLINE_WIDTH || !(v.is_object() || v.is_array()) {
        return inline;
    }
    let pad = "  ".repeat(indent + 1);
    let end = "  ".repeat(indent);
    match v {
        Value::Object(map) => {
            let fields: String = map
                .iter()
                .map(|(k, item)| format!("{pad}{} = {}\n", key_text(k), ev_text(item, indent + 1)))
                .collect();
            format!("{{\n{fields}{end}}}")
        }
        Value::Array(items) => {
            let items: String = items
                .iter()
                .map(|item| format!("{pad}{},\n", ev_text(item, indent + 1)))
                .collect();
            format!("[\n{items}{end}]")
        }
        _ => inline,
    }
}

/// A value as ev source on one line.
fn inline_text(v: &Value) -> String {
    match v {
        Value::Object(map) if map.is_empty() => "{}".into(),
        Value::Object(map) => format!(
            "{{ {} }}",
            map.iter()
                .map(|(k, item)| format!("{} = {}", key_text(k), inline_text(item)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(inline_text).collect::<Vec<_>>().join(", ")
        ),
        scalar => marked_json_to_ev(scalar, 0),
    }
}

/// A record key: bare where ev reads it so, else quoted.
fn key_text(k: &str) -> String {
    if ev_core::output::is_bare_key(k) {
        k.to_string()
    } else {
        quote(k)
    }
}

/// A rendered object as it stands before ev applied it: without the
/// ownership labels ev adds that `imported` does not carry.
pub fn without_ownership(rendered: &Value, imported: &Value) -> Value {
    let mut out = rendered.clone();
    if let Some(Value::Object(meta)) = out.get_mut("metadata") {
        if let Some(Value::Object(labels)) = meta.get_mut("labels") {
            for label in [MANAGED_BY.0, CLUSTER_LABEL] {
                let pointer = format!("/metadata/labels/{}", label.replace('/', "~1"));
                if imported.pointer(&pointer).is_none() {
                    labels.shift_remove(label);
                }
            }
        }
        drop_if_empty(meta, "labels");
    }
    out
}

/// Each imported object as the program renders it, ev's ownership
/// labels left out where the imported object has none (what the state
/// records as live), in the order imported; or where the program renders
/// them otherwise: one problem per object missing or unlike. An imported
/// object naming no namespace is rendered in its declaration's (or is
/// cluster-scoped): that is the one difference allowed.
pub fn as_rendered(imported: &[Value], rendered: &[Value]) -> Result<Vec<Value>, Vec<Problem>> {
    let by_key: std::collections::HashMap<String, &Value> =
        rendered.iter().map(|o| (identity_key(o), o)).collect();
    // Without a namespace: any namespace, by apiVersion, kind and name.
    let by_name: std::collections::HashMap<(&str, &str, &str), Vec<&Value>> =
        rendered.iter().fold(Default::default(), |mut m, o| {
            m.entry((
                str_at(o, "/apiVersion"),
                str_at(o, "/kind"),
                str_at(o, "/metadata/name"),
            ))
            .or_default()
            .push(o);
            m
        });
    let mut forms = Vec::new();
    let mut problems = Vec::new();
    for o in imported {
        let found = match o.pointer("/metadata/namespace") {
            Some(_) => by_key.get(&identity_key(o)).copied(),
            None => match by_name
                .get(&(
                    str_at(o, "/apiVersion"),
                    str_at(o, "/kind"),
                    str_at(o, "/metadata/name"),
                ))
                .map(Vec::as_slice)
            {
                Some([one]) => Some(*one),
                _ => None,
            },
        };
        let Some(r) = found else {
            problems.push(Problem {
                object: object_key(o),
                why: "the program does not render it".into(),
            });
            continue;
        };
        let form = without_ownership(r, o);
        let mut expected = o.clone();
        if let (None, Some(ns), Some(Value::Object(meta))) = (
            o.pointer("/metadata/namespace"),
            form.pointer("/metadata/namespace"),
            expected.get_mut("metadata"),
        ) {
            meta.insert("namespace".into(), ns.clone());
        }
        if form == expected {
            forms.push(form);
        } else {
            problems.push(Problem {
                object: object_key(o),
                why: format!(
                    "the program renders {} where the input has {}",
                    serde_json::to_string(&form).unwrap_or_default(),
                    serde_json::to_string(o).unwrap_or_default()
                ),
            });
        }
    }
    if problems.is_empty() {
        Ok(forms)
    } else {
        Err(problems)
    }
}

/// Whether `name` is a Kubernetes namespace name (an RFC 1123 label).
pub fn is_namespace_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_live_deployment_loses_the_servers_fields_and_defaults_only() {
        let live = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {
                "name": "web", "namespace": "shop", "uid": "u", "resourceVersion": "7",
                "generation": 1, "creationTimestamp": "2026-12-08T00:00:00Z",
                "labels": { "app": "web" },
                "annotations": { "deployment.kubernetes.io/revision": "1", "team": "a" },
                "managedFields": [{ "manager": "kubectl-create" }],
            },
            "spec": {
                "replicas": 2, "progressDeadlineSeconds": 600, "revisionHistoryLimit": 5,
                "selector": { "matchLabels": { "app": "web" } },
                "strategy": { "type": "RollingUpdate", "rollingUpdate": { "maxSurge": "25%", "maxUnavailable": "25%" } },
                "template": {
                    "metadata": { "creationTimestamp": null, "labels": { "app": "web" } },
                    "spec": {
                        "containers": [{
                            "name": "web", "image": "nginx:1.27", "imagePullPolicy": "Always",
                            "terminationMessagePath": "/dev/termination-log",
                            "terminationMessagePolicy": "File", "resources": {},
                            "ports": [{ "containerPort": 80, "protocol": "TCP" }],
                        }],
                        "dnsPolicy": "ClusterFirst", "restartPolicy": "Always",
                        "schedulerName": "default-scheduler", "securityContext": {},
                        "terminationGracePeriodSeconds": 30,
                    },
                },
            },
            "status": { "replicas": 2 },
        });
        let read = objects(vec![live], Source::Live).expect("imports");
        assert_eq!(
            read.objects,
            vec![json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {
                    "name": "web", "namespace": "shop",
                    "labels": { "app": "web" }, "annotations": { "team": "a" },
                },
                "spec": {
                    "replicas": 2, "revisionHistoryLimit": 5,
                    "selector": { "matchLabels": { "app": "web" } },
                    "template": {
                        "metadata": { "labels": { "app": "web" } },
                        "spec": {
                            // Not the default for a tagged image: kept.
                            "containers": [{
                                "name": "web", "image": "nginx:1.27", "imagePullPolicy": "Always",
                                // A key of the list server-side apply needs: kept.
                                "ports": [{ "containerPort": 80, "protocol": "TCP" }],
                            }],
                        },
                    },
                },
            })]
        );
    }

    #[test]
    fn secrets_and_what_the_cluster_makes_are_left_out_and_said() {
        let read = objects(
            vec![
                json!({ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": "db", "namespace": "a" }, "data": { "p": "aHVudGVyMg==" } }),
                json!({ "apiVersion": "v1", "kind": "ServiceAccount", "metadata": { "name": "default", "namespace": "a" } }),
                json!({ "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": { "name": "web-1", "namespace": "a", "ownerReferences": [{ "kind": "Deployment" }] } }),
                json!({ "apiVersion": "v1", "kind": "Service", "metadata": { "name": "kubernetes", "namespace": "default" } }),
            ],
            Source::Live,
        )
        .expect("imports");
        assert!(read.objects.is_empty());
        assert_eq!(read.left_out.len(), 4);
        assert!(!read.left_out.concat().contains("aHVudGVyMg"));
    }

    #[test]
    fn what_ev_cannot_hold_is_refused() {
        let problems = objects(
            vec![
                json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "x", "namespace": "a" }, "data": { "k": "v" }, "spec": { "$secret": { "file": "secrets/a.yaml", "key": "k" } } }),
                json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "-x" } }),
                json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "big" }, "data": { "n": 18446744073709551615u64 } }),
            ],
            Source::Files,
        )
        .expect_err("refused");
        assert_eq!(problems.len(), 3, "{problems:?}");
    }

    #[test]
    fn a_file_name_cannot_end_the_comment() {
        let text = declaration(
            "x",
            "home",
            None,
            &[json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "x" } })],
            "a\nexport evil = 1\n.yaml",
        );
        assert!(!text.contains("\nexport evil"), "{text}");
        assert!(text.contains("from a?export evil = 1?.yaml."), "{text}");
    }

    #[test]
    fn streams_of_yaml_json_and_lists_are_read() {
        let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: b}}\n";
        assert_eq!(read_stream(yaml).expect("yaml").len(), 2);
        let json = r#"{"apiVersion": "v1", "kind": "List", "items": [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}]}"#;
        assert_eq!(read_stream(json).expect("json").len(), 1);
    }
}
