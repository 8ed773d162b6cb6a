//! kubectl: server-side apply of a cluster's rendered manifests with field
//! manager `ev`, then pruning of objects an earlier apply created and the
//! program no longer declares. Pruning only deletes objects that carry ev's
//! ownership labels for this cluster, checked on the live object: foreign
//! objects, even in the same namespace, are never touched.
//!
//! Secret objects are rendered without data; here their sops references are
//! decrypted into `stringData` in a 0600 file that is removed afterwards.

use std::collections::BTreeMap;

use ev_core::render::kubernetes::MANAGED_BY;
use serde_json::{json, Value};

use ev_core::model::Model;
use ev_core::plan::ActionId;

use super::{Applied, Ctx, Driver, Failure};
use crate::confined::Mode;

/// The annotation naming a Secret's sops references.
const SOPS_REFS: &str = "ev.dev/sops-refs";

/// The output under which an apply records the cluster's kubectl context
/// in the state, for a later destroy.
const CONTEXT_OUTPUT: &str = "context";

/// The objects of a YAML stream.
pub fn documents(text: &str) -> Vec<Value> {
    ev_core::render::yaml_documents(text)
}

/// `Kind namespace/name` of an object.
fn key(o: &Value) -> String {
    let s = |v: Option<&Value>| v.and_then(|x| x.as_str()).unwrap_or("").to_string();
    let meta = o.get("metadata");
    format!(
        "{} {}/{}",
        s(o.get("kind")),
        s(meta.and_then(|m| m.get("namespace"))),
        s(meta.and_then(|m| m.get("name")))
    )
}

/// Writes objects as a YAML stream for kubectl into the action's scratch
/// directory (never decrypted Secret data: that goes through stdin).
fn write_stream(ctx: &Ctx, name: &str, objects: &[Value]) -> Result<std::path::PathBuf, Failure> {
    ctx.write_scratch(name, stream(objects).as_bytes(), Mode::Volatile)
}

fn stream(objects: &[Value]) -> String {
    objects
        .iter()
        .map(|o| format!("---\n{}", ev_core::render::yaml(o)))
        .collect()
}

/// A secret from its entry in the `ev.dev/sops-refs` annotation:
/// `"file#key"`, or a composed secret's parts `[{"text"}, {"ref"}, ...]`.
fn sops_reference(entry: &Value) -> ev_core::model::Secret {
    use ev_core::model::{Secret, SecretPart, SecretRef};
    let reference = |text: &str| {
        let (file, key) = text.rsplit_once('#').unwrap_or((text, ""));
        SecretRef {
            file: file.to_string(),
            key: key.to_string(),
        }
    };
    match entry {
        Value::Array(parts) => Secret::Composed {
            parts: parts
                .iter()
                .map(|p| match (p.get("text"), p.get("ref")) {
                    (Some(Value::String(t)), _) => SecretPart::Text(t.clone()),
                    (_, Some(Value::String(r))) => SecretPart::Ref(reference(r)),
                    _ => SecretPart::Text(String::new()),
                })
                .collect(),
        },
        other => Secret::Ref(reference(other.as_str().unwrap_or(""))),
    }
}

/// The manifests with every Secret's data decrypted.
async fn with_secret_data(objects: &[Value], ctx: &Ctx) -> Result<Vec<Value>, Failure> {
    let mut out = Vec::new();
    for o in objects {
        let mut o = o.clone();
        let refs = o
            .pointer(&format!(
                "/metadata/annotations/{}",
                SOPS_REFS.replace('/', "~1")
            ))
            .and_then(|r| r.as_str())
            .map(|r| serde_json::from_str::<BTreeMap<String, Value>>(r).unwrap_or_default());
        if let Some(refs) = refs {
            let mut data = serde_json::Map::new();
            for (name, reference) in refs {
                // Only secrets the cluster's own `secret()` values declare
                // are decrypted: an annotation in a raw manifest cannot
                // name any other file.
                let value = ctx.reveal(&sops_reference(&reference)).await?;
                data.insert(name, Value::String(value));
            }
            o["stringData"] = Value::Object(data);
        }
        out.push(o);
    }
    Ok(out)
}

fn manifests(ctx: &Ctx) -> Result<(String, String), Failure> {
    let (path, text) = ctx
        .files
        .iter()
        .find(|(p, _)| p.starts_with("kubernetes/"))
        .map(|(p, t)| (p.clone(), t.clone()))
        .ok_or_else(|| Failure::new("the cluster has no rendered manifests"))?;
    Ok((path, text))
}

/// Applies the manifests and prunes what is no longer declared.
pub async fn apply(
    cluster: &str,
    context: &str,
    rollouts: &[(String, String)],
    ctx: &Ctx,
) -> Result<Applied, Failure> {
    let (_, text) = manifests(ctx)?;
    let objects = documents(&text);
    let filled = with_secret_data(&objects, ctx).await?;
    // Decrypted Secret data goes to kubectl through stdin: no plaintext
    // ever rests on disk, even if ev is killed mid-apply.
    let mut cmd = ctx.cmd(
        "kubectl",
        &[
            &format!("--context={context}"),
            "apply",
            "--server-side",
            "--field-manager=ev",
            "--force-conflicts",
            "-f",
            "-",
        ],
        &ctx.root,
    );
    cmd.stdin = Some(stream(&filled).into_bytes());
    ctx.run(&cmd, &[]).await?;
    prune(cluster, context, &objects, ctx).await?;
    // Apps declared with `wait = true`: their rollout must finish (within
    // the action's timeout).
    let limit = format!("--timeout={}s", ctx.timeout.as_secs());
    for (namespace, name) in rollouts {
        let deployment = format!("deployment/{name}");
        ctx.run(
            &ctx.cmd(
                "kubectl",
                &[
                    &format!("--context={context}"),
                    &format!("--namespace={namespace}"),
                    "rollout",
                    "status",
                    &deployment,
                    &limit,
                ],
                &ctx.root,
            ),
            &[],
        )
        .await?;
    }
    Ok(Applied {
        outputs: BTreeMap::from([(CONTEXT_OUTPUT.to_string(), context.to_string())]),
        ..Applied::default()
    })
}

/// Deletes every object ev applied to a cluster the program no longer
/// declares (those still carrying ev's labels for it).
pub async fn destroy(cluster: &str, ctx: &Ctx) -> Result<Applied, Failure> {
    // The context the last apply recorded; states written before ev
    // recorded it name it only in the manifests' header comment.
    let recorded = ctx.previous_outputs.get(CONTEXT_OUTPUT).cloned();
    let context = recorded
        .or_else(|| {
            ctx.previous.values().find_map(|text| {
                let start = text.find("(context `")? + "(context `".len();
                let end = text[start..].find('`')?;
                Some(text[start..start + end].to_string())
            })
        })
        .ok_or_else(|| {
            Failure::new("the state holds no manifests naming this cluster's context")
        })?;
    prune(cluster, &context, &[], ctx).await?;
    Ok(Applied::default())
}

/// Deletes objects the previous apply declared and this one does not, when
/// the live object carries ev's labels for this cluster.
async fn prune(cluster: &str, context: &str, current: &[Value], ctx: &Ctx) -> Result<(), Failure> {
    let declared: std::collections::BTreeSet<String> = current.iter().map(key).collect();
    let mut gone: Vec<Value> = ctx
        .previous
        .iter()
        .filter(|(p, _)| p.starts_with("kubernetes/"))
        .flat_map(|(_, text)| documents(text))
        .filter(|o| !declared.contains(&key(o)))
        .map(|o| {
            json!({
                "apiVersion": o.get("apiVersion"),
                "kind": o.get("kind"),
                "metadata": {
                    "name": o.pointer("/metadata/name"),
                    "namespace": o.pointer("/metadata/namespace"),
                },
            })
        })
        .collect();
    if gone.is_empty() {
        return Ok(());
    }
    // Namespaces last: deleting one deletes everything in it.
    gone.sort_by_key(|o| o.get("kind").and_then(|k| k.as_str()) == Some("Namespace"));
    let candidates = write_stream(ctx, "prune-candidates.yaml", &gone)?;
    let live = ctx
        .run(
            &ctx.cmd(
                "kubectl",
                &[
                    &format!("--context={context}"),
                    "get",
                    "--ignore-not-found",
                    "-o",
                    "json",
                    "-f",
                    &candidates.to_string_lossy(),
                ],
                &ctx.root,
            ),
            &[],
        )
        .await?;
    let owned: Vec<Value> = owned_objects(&live.stdout, cluster)
        .into_iter()
        .map(|o| {
            json!({
                "apiVersion": o.get("apiVersion"),
                "kind": o.get("kind"),
                "metadata": { "name": o.pointer("/metadata/name"), "namespace": o.pointer("/metadata/namespace") },
            })
        })
        .collect();
    // A namespace holding anything ev does not own is kept: deleting it
    // would delete those objects too.
    let mut owned = owned;
    let mut kept = Vec::new();
    for ns in owned
        .iter()
        .filter(|o| o.get("kind").and_then(|k| k.as_str()) == Some("Namespace"))
        .filter_map(|o| o.pointer("/metadata/name").and_then(|n| n.as_str()))
        .map(str::to_string)
        .collect::<Vec<_>>()
    {
        let foreign = foreign_objects(cluster, context, &ns, ctx).await?;
        if !foreign.is_empty() {
            ctx.log.line(&format!(
                "prune: namespace {ns} kept: it holds objects ev does not own ({})",
                foreign.join(", ")
            ));
            kept.push(ns);
        }
    }
    owned.retain(|o| {
        !(o.get("kind").and_then(|k| k.as_str()) == Some("Namespace")
            && o.pointer("/metadata/name")
                .and_then(|n| n.as_str())
                .is_some_and(|n| kept.iter().any(|k| k == n)))
    });
    for o in gone
        .iter()
        .filter(|o| !owned.iter().any(|x| key(x) == key(o)))
    {
        ctx.log.line(&format!(
            "prune: {} is not owned by ev here (or gone); left alone",
            key(o)
        ));
    }
    if owned.is_empty() {
        return Ok(());
    }
    let prune = write_stream(ctx, "prune.yaml", &owned)?;
    ctx.run(
        &ctx.cmd(
            "kubectl",
            &[
                &format!("--context={context}"),
                "delete",
                "--ignore-not-found",
                "--wait=false",
                "-f",
                &prune.to_string_lossy(),
            ],
            &ctx.root,
        ),
        &[],
    )
    .await?;
    Ok(())
}

/// Objects in a namespace that ev does not own for this cluster (neither
/// labelled as ev's nor owned by another object), leaving out what
/// Kubernetes itself puts in every namespace.
async fn foreign_objects(
    cluster: &str,
    context: &str,
    namespace: &str,
    ctx: &Ctx,
) -> Result<Vec<String>, Failure> {
    let out = ctx
        .run(
            &ctx.cmd(
                "kubectl",
                &[
                    &format!("--context={context}"),
                    &format!("--namespace={namespace}"),
                    "get",
                    "all,configmaps,secrets,persistentvolumeclaims,ingresses,serviceaccounts",
                    "-o",
                    "json",
                ],
                &ctx.root,
            ),
            &[],
        )
        .await?;
    let doc: Value = serde_json::from_str(&out.stdout).unwrap_or(Value::Null);
    let owned = owned_objects(&out.stdout, cluster);
    let mut foreign = Vec::new();
    for o in doc
        .get("items")
        .and_then(|i| i.as_array())
        .into_iter()
        .flatten()
    {
        let kind = o.get("kind").and_then(|k| k.as_str()).unwrap_or("");
        let name = o
            .pointer("/metadata/name")
            .and_then(|n| n.as_str())
            .unwrap_or("");
        let builtin = (kind == "ConfigMap" && name == "kube-root-ca.crt")
            || (kind == "ServiceAccount" && name == "default")
            || o.get("type").and_then(|t| t.as_str())
                == Some("kubernetes.io/service-account-token");
        let has_owner = o
            .pointer("/metadata/ownerReferences")
            .and_then(|r| r.as_array())
            .is_some_and(|r| !r.is_empty());
        if !builtin && !has_owner && !owned.iter().any(|x| key(x) == key(o)) {
            foreign.push(format!("{kind} {name}"));
        }
    }
    Ok(foreign)
}

/// The objects of `kubectl get -o json` output labelled as ev's for `cluster`.
fn owned_objects(json_text: &str, cluster: &str) -> Vec<Value> {
    let mut items = Vec::new();
    // One object, a List, or several concatenated documents.
    let stream = serde_json::Deserializer::from_str(json_text).into_iter::<Value>();
    for doc in stream.flatten() {
        match doc.get("items").and_then(|i| i.as_array()) {
            Some(list) => items.extend(list.iter().cloned()),
            None => items.push(doc),
        }
    }
    items
        .into_iter()
        .filter(|o| {
            let labels = o.pointer("/metadata/labels");
            let label = |k: &str| labels.and_then(|l| l.get(k)).and_then(|v| v.as_str());
            label(MANAGED_BY.0) == Some(MANAGED_BY.1) && label("ev.dev/cluster") == Some(cluster)
        })
        .collect()
}

/// `kubectl diff --server-side`: what applying would change in the live
/// cluster (Secrets left out, so their values never reach the output).
pub async fn refresh(context: &str, ctx: &Ctx) -> Result<String, Failure> {
    let (_, text) = manifests(ctx)?;
    let objects: Vec<Value> = documents(&text)
        .into_iter()
        .filter(|o| o.get("kind").and_then(|k| k.as_str()) != Some("Secret"))
        .collect();
    let file = write_stream(ctx, "refresh.yaml", &objects)?;
    // Exit 1 means "differences found", not failure.
    let out = ctx
        .run(
            &ctx.cmd(
                "kubectl",
                &[
                    &format!("--context={context}"),
                    "diff",
                    "--server-side",
                    "--field-manager=ev",
                    "-f",
                    &file.to_string_lossy(),
                ],
                &ctx.root,
            ),
            &[1],
        )
        .await?;
    Ok(out.stdout)
}

/// The kubectl driver: one cluster per action.
pub struct Kubectl;

/// What applying a cluster needs.
#[derive(Clone, Debug)]
pub struct ClusterJob {
    /// The cluster.
    pub cluster: String,
    /// Its kubectl context.
    pub context: String,
    /// Deployments to wait for (apps declared with `wait = true`), as
    /// (namespace, name).
    pub rollouts: Vec<(String, String)>,
}

impl Driver for Kubectl {
    type Job = ClusterJob;

    fn job(id: &ActionId, model: &Model) -> Option<ClusterJob> {
        let cluster = model.cluster(&id.name)?;
        Some(ClusterJob {
            cluster: cluster.name.clone(),
            context: cluster.context.clone(),
            rollouts: model
                .apps
                .iter()
                .filter(|a| a.cluster == cluster.name && a.wait)
                .map(|a| (a.namespace.clone(), a.name.clone()))
                .collect(),
        })
    }

    async fn apply(job: &ClusterJob, ctx: &Ctx) -> Result<Applied, Failure> {
        apply(&job.cluster, &job.context, &job.rollouts, ctx).await
    }

    async fn refresh(job: &ClusterJob, ctx: &Ctx) -> Result<Option<String>, Failure> {
        refresh(&job.context, ctx).await.map(Some)
    }

    async fn destroy(id: &ActionId, ctx: &Ctx) -> Option<Result<Applied, Failure>> {
        Some(destroy(&id.name, ctx).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_objects_with_evs_labels_for_the_cluster_are_owned() {
        let live = r#"{"kind":"List","items":[
          {"kind":"ConfigMap","metadata":{"name":"a","namespace":"apps","labels":{"app.kubernetes.io/managed-by":"ev","ev.dev/cluster":"c"}}},
          {"kind":"ConfigMap","metadata":{"name":"b","namespace":"apps","labels":{"app.kubernetes.io/managed-by":"helm"}}},
          {"kind":"ConfigMap","metadata":{"name":"c","namespace":"apps","labels":{"app.kubernetes.io/managed-by":"ev","ev.dev/cluster":"other"}}}
        ]}"#;
        let owned = owned_objects(live, "c");
        assert_eq!(owned.len(), 1);
        assert_eq!(key(&owned[0]), "ConfigMap apps/a");
    }
}
