//! kubectl: server-side apply of a cluster's objects with field manager
//! `ev`, then pruning of objects an earlier apply created and the program
//! no longer declares. Pruning only deletes objects that carry ev's
//! ownership labels for this cluster, checked on the live object: foreign
//! objects, even in the same namespace, are never touched.
//!
//! Secret values are `$secret` markers in the artifact; here they are
//! decrypted (only the action's own secrets) into the objects sent to
//! kubectl on stdin, never onto disk.

use std::collections::BTreeSet;

use ev_core::model::Known;
use ev_deploy::backends::kubectl::{
    field, kind_rank, object_key as key, stream, ClusterApply, Connection, CLUSTER_LABEL,
    MANAGED_BY,
};
use serde_json::{json, Value};

use super::{Applied, Ctx, Driver, Failure};
use crate::confined::Mode;

/// Writes objects as a YAML stream for kubectl into the action's scratch
/// directory (never decrypted Secret data: that goes through stdin).
fn write_stream(ctx: &Ctx, name: &str, objects: &[Value]) -> Result<std::path::PathBuf, Failure> {
    ctx.write_scratch(name, stream(objects).as_bytes(), Mode::Volatile)
}

/// An object with every secret marker replaced by the secret's text
/// (decrypted through `ctx`, which refuses any secret the cluster's own
/// `secret()` values do not declare).
async fn revealed(v: &Value, ctx: &Ctx) -> Result<Value, Failure> {
    // Iterative over a work list: objects nest, futures cannot recurse.
    let mut out = v.clone();
    let mut pending = vec![String::new()];
    while let Some(pointer) = pending.pop() {
        let Some(node) = out.pointer_mut(&pointer) else {
            continue;
        };
        match ev_deploy::markers::marker(node) {
            Some(Known::Secret(secret)) => *node = Value::String(ctx.reveal(&secret).await?),
            Some(_) => {
                return Err(Failure::new(format!(
                    "{} holds a value not known yet",
                    key(v)
                )))
            }
            None => match node {
                Value::Object(map) => pending.extend(
                    map.keys()
                        .map(|k| format!("{pointer}/{}", k.replace('~', "~0").replace('/', "~1"))),
                ),
                Value::Array(items) => {
                    pending.extend((0..items.len()).map(|i| format!("{pointer}/{i}")))
                }
                _ => {}
            },
        }
    }
    Ok(out)
}

/// kubectl's arguments that reach a cluster: `--context=X`, or for a
/// cluster reached by URL `--kubeconfig=F`, a kubeconfig written for this
/// run into the action's private scratch directory (readable by its owner
/// only, removed with the directory after the action): kubectl takes a
/// token on its command line or from a kubeconfig, and a command line is
/// visible to every local user.
async fn connect(connection: &Connection, ctx: &Ctx) -> Result<Vec<String>, Failure> {
    let (url, certificate_authority, token) = match connection {
        Connection::Context(context) => return Ok(vec![format!("--context={context}")]),
        Connection::Server {
            url,
            certificate_authority,
            token,
        } => (url, certificate_authority, token),
    };
    let token = match ev_deploy::markers::marker(token) {
        Some(Known::Secret(secret)) => ctx.reveal(&secret).await?,
        _ => return Err(Failure::new("the cluster's token is not a secret")),
    };
    let mut cluster = json!({ "server": url });
    if let Some(pem) = certificate_authority {
        let ca = ctx.write_scratch("kube-ca.crt", pem.as_bytes(), Mode::Private)?;
        cluster["certificate-authority"] = Value::String(ca.to_string_lossy().into_owned());
    }
    let kubeconfig = kubeconfig(cluster, &token);
    let path = ctx.write_scratch(
        "kubeconfig",
        kubeconfig.to_string().as_bytes(),
        Mode::Private,
    )?;
    Ok(vec![format!("--kubeconfig={}", path.to_string_lossy())])
}

/// A kubeconfig reaching `cluster` (its `server` and CA) with a bearer
/// token. JSON is YAML: kubectl reads it as a kubeconfig, and no value
/// can break out of its string.
pub(crate) fn kubeconfig(cluster: Value, token: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{ "name": "ev", "cluster": cluster }],
        "users": [{ "name": "ev", "user": { "token": token } }],
        "contexts": [{ "name": "ev", "context": { "cluster": "ev", "user": "ev" } }],
        "current-context": "ev",
    })
}

/// A kubectl command: the connection's arguments, then `args`.
fn kubectl(ctx: &Ctx, conn: &[String], args: &[&str]) -> crate::process::Cmd {
    let mut all: Vec<&str> = conn.iter().map(String::as_str).collect();
    all.extend_from_slice(args);
    ctx.cmd("kubectl", &all, &ctx.root)
}

/// Applies the objects and prunes what is no longer declared.
pub async fn apply(m: &ClusterApply, ctx: &Ctx) -> Result<Applied, Failure> {
    let conn = connect(&m.connection, ctx).await?;
    let mut filled = Vec::with_capacity(m.objects.len());
    for o in &m.objects {
        filled.push(revealed(o, ctx).await?);
    }
    // Namespaces and CRDs first when there are CRDs: kubectl maps every
    // object of one apply to an API before applying any, so a custom
    // resource whose CRD arrives in the same apply would be refused.
    let crds: Vec<String> = filled
        .iter()
        .filter(|o| field(o, "/kind") == "CustomResourceDefinition")
        .map(|o| format!("customresourcedefinition/{}", field(o, "/metadata/name")))
        .collect();
    let (first, rest): (Vec<Value>, Vec<Value>) = if crds.is_empty() {
        (Vec::new(), filled)
    } else {
        filled.into_iter().partition(ClusterApply::is_foundation)
    };
    if !first.is_empty() {
        server_side_apply(&conn, &first, ctx).await?;
        let limit = format!("--timeout={}s", ctx.timeout.as_secs());
        let mut args = vec!["wait", "--for=condition=Established", limit.as_str()];
        args.extend(crds.iter().map(String::as_str));
        ctx.run(&kubectl(ctx, &conn, &args), &[]).await?;
    }
    if !rest.is_empty() {
        recreate_strategies(&conn, &rest, ctx).await?;
        server_side_apply(&conn, &rest, ctx).await?;
    }
    let previous = match &ctx.previous {
        Some(ev_deploy::Artifact::Kubectl(p)) => p.objects.as_slice(),
        _ => &[],
    };
    prune(&m.cluster, &conn, previous, &m.objects, ctx).await?;
    // Apps declared with `wait = true`: their rollout must finish (within
    // the action's timeout).
    let limit = format!("--timeout={}s", ctx.timeout.as_secs());
    for rollout in &m.rollouts {
        let deployment = format!("deployment/{}", rollout.name);
        let namespace = format!("--namespace={}", rollout.namespace);
        let args = [namespace.as_str(), "rollout", "status", &deployment, &limit];
        ctx.run(&kubectl(ctx, &conn, &args), &[]).await?;
    }
    Ok(Applied::default())
}

/// Live Deployments about to become `Recreate` while they roll: their
/// strategy is replaced in one patch first. The API refuses `Recreate`
/// beside the `rollingUpdate` settings a rolling Deployment holds, and a
/// server-side apply leaves those alone when another manager set them (a
/// Deployment ev adopts).
async fn recreate_strategies(conn: &[String], objects: &[Value], ctx: &Ctx) -> Result<(), Failure> {
    let recreating = objects.iter().filter(|o| {
        field(o, "/kind") == "Deployment" && field(o, "/spec/strategy/type") == "Recreate"
    });
    for o in recreating {
        let (namespace, name) = (field(o, "/metadata/namespace"), field(o, "/metadata/name"));
        let deployment = format!("deployment/{name}");
        let namespace = format!("--namespace={namespace}");
        let live = ctx
            .run(
                &kubectl(
                    ctx,
                    conn,
                    &[
                        &namespace,
                        "get",
                        &deployment,
                        "--ignore-not-found",
                        "-o",
                        "jsonpath={.spec.strategy.type}",
                    ],
                ),
                &[],
            )
            .await?;
        if live.stdout.trim() != "RollingUpdate" {
            continue;
        }
        ctx.run(
            &kubectl(
                ctx,
                conn,
                &[
                    &namespace,
                    "patch",
                    &deployment,
                    "--type=json",
                    "--field-manager=ev",
                    "-p",
                    r#"[{"op":"replace","path":"/spec/strategy","value":{"type":"Recreate"}}]"#,
                ],
            ),
            &[],
        )
        .await?;
    }
    Ok(())
}

/// `kubectl apply --server-side` of objects, given on stdin: decrypted
/// Secret data never rests on disk, even if ev is killed mid-apply.
async fn server_side_apply(conn: &[String], objects: &[Value], ctx: &Ctx) -> Result<(), Failure> {
    let mut cmd = kubectl(
        ctx,
        conn,
        &[
            "apply",
            "--server-side",
            "--field-manager=ev",
            "--force-conflicts",
            "-f",
            "-",
        ],
    );
    cmd.stdin = Some(stream(objects).into_bytes());
    ctx.run(&cmd, &[]).await?;
    Ok(())
}

/// Deletes every object ev applied to a cluster the program no longer
/// declares (those still carrying ev's labels for it).
pub async fn destroy(previous: &ClusterApply, ctx: &Ctx) -> Result<Applied, Failure> {
    let conn = connect(&previous.connection, ctx).await?;
    prune(&previous.cluster, &conn, &previous.objects, &[], ctx).await?;
    Ok(Applied::default())
}

/// Deletes objects the previous apply declared and this one does not, when
/// the live object carries ev's labels for this cluster.
async fn prune(
    cluster: &str,
    conn: &[String],
    previous: &[Value],
    current: &[Value],
    ctx: &Ctx,
) -> Result<(), Failure> {
    let declared: BTreeSet<String> = current.iter().map(key).collect();
    let mut gone: Vec<Value> = previous
        .iter()
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
    // In the reverse of the apply's order: custom resources before their
    // CRDs, namespaces last (deleting one deletes everything in it).
    gone.sort_by_key(|o| std::cmp::Reverse(kind_rank(field(o, "/kind"))));
    let candidates = write_stream(ctx, "prune-candidates.yaml", &gone)?;
    let live = ctx
        .run(
            &kubectl(
                ctx,
                conn,
                &[
                    "get",
                    "--ignore-not-found",
                    "-o",
                    "json",
                    "-f",
                    &candidates.to_string_lossy(),
                ],
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
        let foreign = foreign_objects(cluster, conn, &ns, ctx).await?;
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
        &kubectl(
            ctx,
            conn,
            &[
                "delete",
                "--ignore-not-found",
                "--wait=false",
                "-f",
                &prune.to_string_lossy(),
            ],
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
    conn: &[String],
    namespace: &str,
    ctx: &Ctx,
) -> Result<Vec<String>, Failure> {
    let out = ctx
        .run(
            &kubectl(
                ctx,
                conn,
                &[
                    &format!("--namespace={namespace}"),
                    "get",
                    "all,configmaps,secrets,persistentvolumeclaims,ingresses,serviceaccounts",
                    "-o",
                    "json",
                ],
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
            label(MANAGED_BY.0) == Some(MANAGED_BY.1) && label(CLUSTER_LABEL) == Some(cluster)
        })
        .collect()
}

/// `kubectl diff --server-side`: what applying would change in the live
/// cluster (Secrets left out, so their values never reach the output).
pub async fn refresh(m: &ClusterApply, ctx: &Ctx) -> Result<String, Failure> {
    let objects: Vec<Value> = m
        .objects
        .iter()
        .filter(|o| o.get("kind").and_then(|k| k.as_str()) != Some("Secret"))
        .map(|o| ev_deploy::markers::for_tool(o, ev_deploy::markers::SecretAs::Source))
        .collect();
    let file = write_stream(ctx, "refresh.yaml", &objects)?;
    let conn = connect(&m.connection, ctx).await?;
    // Exit 1 means "differences found", not failure.
    let out = ctx
        .run(
            &kubectl(
                ctx,
                &conn,
                &[
                    "diff",
                    "--server-side",
                    "--field-manager=ev",
                    "-f",
                    &file.to_string_lossy(),
                ],
            ),
            &[1],
        )
        .await?;
    Ok(out.stdout)
}

/// The kubectl driver: one cluster per action.
pub struct Kubectl;

impl Driver for Kubectl {
    type Artifact = ClusterApply;

    async fn apply(m: &ClusterApply, ctx: &Ctx) -> Result<Applied, Failure> {
        apply(m, ctx).await
    }

    async fn refresh(m: &ClusterApply, ctx: &Ctx) -> Result<Option<String>, Failure> {
        refresh(m, ctx).await.map(Some)
    }

    async fn destroy(previous: &ClusterApply, ctx: &Ctx) -> Option<Result<Applied, Failure>> {
        Some(destroy(previous, ctx).await)
    }
}

/// What `ev import k8s --live` reads of one namespace: the Namespace, the
/// objects of every namespaced kind the API server lists (but Secrets,
/// whose values would reach the log) and the names of its Secrets, which
/// are not imported but said.
pub struct Exported {
    /// The Namespace, then the objects, as the API server returns them.
    pub objects: Vec<Value>,
    /// `Secret namespace/name` of each Secret, left out.
    pub secrets: Vec<String>,
}

/// Reads `namespace` as [`Exported`] says (`namespace` is a checked
/// namespace name: no `-` first, no `/`).
pub async fn export_namespace(
    connection: &Connection,
    namespace: &str,
    ctx: &Ctx,
) -> Result<Exported, Failure> {
    let conn = connect(connection, ctx).await?;
    let json = |out: &crate::process::Captured, what: &str| -> Result<Value, Failure> {
        serde_json::from_str(&out.stdout)
            .map_err(|e| Failure::new(format!("kubectl printed no JSON for {what}: {e}")))
    };
    let in_namespace = format!("--namespace={namespace}");
    let own = ctx
        .run(
            &kubectl(ctx, &conn, &["get", "namespace", namespace, "-o", "json"]),
            &[],
        )
        .await?;
    let mut objects = vec![json(&own, "the namespace")?];
    let kinds = ctx
        .run(
            &kubectl(
                ctx,
                &conn,
                &[
                    "api-resources",
                    "--verbs=list",
                    "--namespaced=true",
                    "-o",
                    "name",
                ],
            ),
            &[],
        )
        .await?;
    // Secrets are never fetched whole (their data would be logged), nor
    // what the cluster keeps for itself.
    let listed: Vec<&str> = kinds
        .stdout
        .lines()
        .map(str::trim)
        .filter(|k| {
            !k.is_empty()
                && !matches!(
                    *k,
                    "secrets"
                        | "events"
                        | "events.events.k8s.io"
                        | "bindings"
                        | "localsubjectaccessreviews.authorization.k8s.io"
                )
        })
        .collect();
    if !listed.is_empty() {
        let all = listed.join(",");
        let list = ctx
            .run(
                &kubectl(ctx, &conn, &["get", &all, &in_namespace, "-o", "json"]),
                &[],
            )
            .await?;
        match json(&list, "the namespace's objects")?.get_mut("items") {
            Some(Value::Array(items)) => objects.append(items),
            _ => return Err(Failure::new("kubectl listed no items")),
        }
    }
    let names = ctx
        .run(
            &kubectl(ctx, &conn, &["get", "secrets", &in_namespace, "-o", "name"]),
            &[],
        )
        .await?;
    let secrets = names
        .stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("secret/"))
        .map(|name| format!("Secret {namespace}/{name}"))
        .collect();
    Ok(Exported { objects, secrets })
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
