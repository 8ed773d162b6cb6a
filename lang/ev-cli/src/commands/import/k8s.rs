//! `ev import k8s`: manifest files, or the objects of a live namespace
//! read through kubectl, as one `manifests` declaration each on one of
//! the program's clusters (see the module above for the steps every import
//! takes).
//!
//! The state then records the imported objects as they are live, without
//! the ownership labels ev adds to every object it applies: the next plan
//! shows exactly those labels to add (metadata only, nothing recreated),
//! and the apply adds them, after which ev can prune what it imported.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ev_deploy::backends::kubectl::ClusterApply;
use ev_deploy::import::k8s;
use ev_deploy::plan::state::ActionState;
use ev_deploy::plan::{Action, ActionGraph, ActionId, Artifact, BackendId};
use serde_json::Value;

use super::{alias, read_entry, record, refused, write_and_load, Declaration};
use crate::printer::Output;
use crate::settings::Settings;

/// The largest manifest file read (a rendered chart is far smaller).
const MAX_INPUT: u64 = 64 << 20;

/// One input to import.
struct Input {
    /// The declaration's name (the namespace, or the file's stem).
    name: String,
    /// Where its declaration goes, relative to the root.
    target: String,
    /// Where it came from, for people.
    origin: String,
    /// The `namespace` of the declaration.
    namespace: Option<String>,
    objects: k8s::Objects,
}

/// The cluster's action in `graph`, and its artifact.
fn cluster_action<'g>(
    graph: &'g ActionGraph,
    cluster: &str,
) -> Option<(&'g Action, &'g ClusterApply)> {
    let id = ActionId::new(BackendId::Kubectl, cluster, cluster).to_string();
    let action = graph.get(&id)?;
    match &action.artifact {
        Artifact::Kubectl(apply) => Some((action, apply)),
        _ => None,
    }
}

/// Runs `ev import k8s`.
pub fn run(
    settings: &Settings,
    cluster: &str,
    into: &str,
    namespace: Option<&str>,
    live: bool,
    inputs: &[PathBuf],
) -> Output {
    let mut out = Output::default();
    let Some(loaded) = super::super::loaded(settings, &mut out) else {
        return out;
    };
    let refused = |problems: Vec<String>, help: &str| refused(settings, problems, help);
    let graph = ev_deploy::plan::lower(&loaded.model, &loaded.fs);
    let Some((action, rendered)) = cluster_action(&graph, cluster) else {
        let names: Vec<String> = loaded
            .model
            .of_kind("cluster")
            .map(|r| r.key.name.clone())
            .collect();
        return refused(
            vec![format!("  the program declares no cluster `{cluster}`")],
            &if names.is_empty() {
                "declare it first (`cluster NAME { context = ... }`): it says how kubectl reaches the objects".to_string()
            } else {
                format!("the program declares: {}", names.join(", "))
            },
        );
    };
    if let Some(ns) = namespace.filter(|ns| !k8s::is_namespace_name(ns)) {
        return refused(
            vec![format!("  --namespace {ns}: not a namespace name")],
            "a namespace name is lower-case letters, digits and `-`",
        );
    }
    let entry = match read_entry(settings, "input") {
        Ok(text) => text,
        Err(out) => return out,
    };

    // Everything is read and checked before anything is written.
    let declared: HashMap<String, &Value> = rendered
        .objects
        .iter()
        .map(|o| (k8s::identity_key(o), o))
        .collect();
    let mut read: Vec<Input> = Vec::new();
    let mut problems = Vec::new();
    let mut seen: HashMap<String, String> = HashMap::new();
    for path in inputs {
        let origin = path.display().to_string();
        let input = if live {
            read_live(settings, &loaded, action, rendered, path)
        } else {
            read_file(path, namespace)
        };
        let mut input = match input {
            Ok(i) => i,
            Err(found) => {
                problems.extend(found.into_iter().map(|p| format!("  {origin}: {p}")));
                continue;
            }
        };
        input.target = format!("{}/{}.ev", into.trim_end_matches('/'), input.name);
        if loaded
            .model
            .of_kind("manifests")
            .any(|m| m.key.name == input.name)
            || read.iter().any(|i| i.name == input.name)
        {
            problems.push(format!(
                "  {origin}: the program already declares manifests `{}`",
                input.name
            ));
            continue;
        }
        if std::fs::symlink_metadata(settings.root.join(&input.target)).is_ok() {
            problems.push(format!("  {origin}: {} exists already", input.target));
            continue;
        }
        // A namespace the program makes for its apps is its already.
        input.objects.objects.retain(|o| {
            let key = k8s::identity_key(o);
            let made = declared.contains_key(&key)
                && ev_deploy::backends::kubectl::field(o, "/kind") == "Namespace";
            if made {
                input.objects.left_out.push(format!(
                    "{}: the program declares it already",
                    ev_deploy::backends::kubectl::object_key(o)
                ));
            }
            !made
        });
        for o in &input.objects.objects {
            let key = k8s::identity_key(o);
            if declared.contains_key(&key) {
                problems.push(format!(
                    "  {origin}: {}: the program declares it already",
                    ev_deploy::backends::kubectl::object_key(o)
                ));
            } else if let Some(first) = seen.insert(key, origin.clone()) {
                problems.push(format!(
                    "  {origin}: {}: also in {first}",
                    ev_deploy::backends::kubectl::object_key(o)
                ));
            }
        }
        if input.objects.objects.is_empty() {
            problems.push(format!("  {origin}: no object to import"));
            continue;
        }
        read.push(input);
    }
    if !problems.is_empty() {
        return refused(
            problems,
            "nothing was written; an input is imported whole or not at all",
        );
    }

    // Written: one file per input, and an import of each in the entry file.
    let declarations: Vec<Declaration> = read
        .iter()
        .map(|i| Declaration {
            target: i.target.clone(),
            text: k8s::declaration(
                &i.name,
                cluster,
                i.namespace.as_deref(),
                &i.objects.objects,
                &i.origin,
            ),
            alias: alias("k8s", &i.name),
        })
        .collect();
    let (mut written, reloaded) = match write_and_load(settings, entry, &declarations) {
        Ok(w) => w,
        Err(out) => return out,
    };

    // The program as it now is must render what was read.
    let graph = ev_deploy::plan::lower(&reloaded.model, &reloaded.fs);
    let imported: Vec<Value> = read
        .iter()
        .flat_map(|i| i.objects.objects.iter().cloned())
        .collect();
    let Some((action, rendered)) = cluster_action(&graph, cluster) else {
        return super::unlike(
            settings,
            &[format!("  no action applies cluster {cluster}")],
            "manifests",
        );
    };
    let live = match k8s::as_rendered(&imported, &rendered.objects) {
        Ok(forms) => forms,
        Err(problems) => {
            let unlike: Vec<String> = problems
                .into_iter()
                .map(|p| format!("  {}: {}", p.object, p.why))
                .collect();
            return super::unlike(settings, &unlike, "manifests");
        }
    };

    // Recorded as they are live: the cluster's record gains the imported
    // objects, without the ownership labels ev has not applied yet.
    let recorded = record(settings, &reloaded, |state| {
        let previous = match state.actions.get(&action.id).map(|a| &a.artifact) {
            Some(Artifact::Kubectl(apply)) => Some(apply),
            _ => None,
        };
        Ok(vec![(
            action.id.clone(),
            recorded_state(action, rendered, previous, &live),
        )])
    });
    if let Err(out) = recorded {
        return out;
    }
    written.kept = true;
    let mut said = String::new();
    for i in &read {
        said.push_str(&format!(
            "imported {} objects of {} into {}\n",
            i.objects.objects.len(),
            i.origin,
            i.target
        ));
        for left in &i.objects.left_out {
            said.push_str(&format!("  left out: {left}\n"));
        }
    }
    said.push_str(&format!(
        "{} objects recorded in the state as they are on cluster {cluster}: the next plan labels them as ev's ({}, {}) and changes nothing else, and the apply adds the labels (metadata only: nothing is recreated); ev prunes only objects carrying them\n",
        imported.len(),
        ev_deploy::backends::kubectl::MANAGED_BY.0,
        ev_deploy::backends::kubectl::CLUSTER_LABEL
    ));
    Output {
        stderr: said,
        ..Output::default()
    }
}

/// What the state records for the cluster once `imported` are (each as
/// rendered, but for the ownership labels it lacks live): the previous
/// record's objects (or none) with the imported ones, in the order of the
/// rendered artifact; the action's own record when that is what it
/// renders.
fn recorded_state(
    action: &Action,
    rendered: &ClusterApply,
    previous: Option<&ClusterApply>,
    imported: &[Value],
) -> ActionState {
    let imported: HashMap<String, &Value> =
        imported.iter().map(|o| (k8s::identity_key(o), o)).collect();
    let earlier: HashMap<String, &Value> = previous
        .map(|p| {
            p.objects
                .iter()
                .map(|o| (k8s::identity_key(o), o))
                .collect()
        })
        .unwrap_or_default();
    let mut objects: Vec<Value> = rendered
        .objects
        .iter()
        .filter_map(|o| {
            let key = k8s::identity_key(o);
            match imported.get(&key) {
                Some(live) => Some((*live).clone()),
                None => earlier.get(&key).map(|o| (*o).clone()),
            }
        })
        .collect();
    // What an earlier apply made and the program no longer declares stays
    // recorded: the plan prunes it.
    if let Some(p) = previous {
        let rendered_keys: std::collections::HashSet<String> =
            rendered.objects.iter().map(k8s::identity_key).collect();
        objects.extend(
            p.objects
                .iter()
                .filter(|o| !rendered_keys.contains(&k8s::identity_key(o)))
                .cloned(),
        );
    }
    let apply = ClusterApply {
        cluster: rendered.cluster.clone(),
        connection: rendered.connection.clone(),
        objects,
        rollouts: previous.map(|p| p.rollouts.clone()).unwrap_or_default(),
    };
    let mut state = ActionState::of(action);
    if apply != *rendered {
        state.artifact = Artifact::Kubectl(apply);
        state.fingerprint = "imported".into();
    }
    state
}

/// One manifest file: its objects as they are (a file someone wrote).
fn read_file(path: &Path, namespace: Option<&str>) -> Result<Input, Vec<String>> {
    let stem = path
        .file_name()
        .and_then(|n| n.to_str())
        .map(|n| {
            n.trim_end_matches(".yaml")
                .trim_end_matches(".yml")
                .trim_end_matches(".json")
        })
        .unwrap_or("");
    let name = declaration_name(stem);
    if name.is_empty() {
        return Err(vec!["its name gives no declaration name".into()]);
    }
    let text = super::read_input(path, MAX_INPUT).map_err(|why| vec![why])?;
    let objects = k8s::read_stream(&text).map_err(|p| vec![p.why])?;
    let objects = k8s::objects(objects, k8s::Source::Files).map_err(|found| problems_of(&found))?;
    Ok(Input {
        name,
        target: String::new(),
        origin: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        namespace: namespace.map(str::to_string),
        objects,
    })
}

/// One live namespace, read through kubectl with the cluster's connection
/// and the cluster's own secrets.
fn read_live(
    settings: &Settings,
    loaded: &super::super::Loaded,
    action: &Action,
    rendered: &ClusterApply,
    path: &Path,
) -> Result<Input, Vec<String>> {
    let namespace = path.to_str().unwrap_or("");
    if !k8s::is_namespace_name(namespace) {
        return Err(vec![
            "not a namespace name (lower-case letters, digits and `-`)".into(),
        ]);
    }
    let exported = ev_apply::import::export_namespace(
        &settings.root,
        &loaded.ev_dir,
        &rendered.connection,
        action.secrets.clone(),
        namespace,
        Duration::from_secs(300),
    )
    .map_err(|why| vec![format!("cannot read it from the cluster: {why}")])?;
    let mut objects = exported.objects;
    // Kubernetes' own namespaces are never ev's to declare.
    if ev_deploy::backends::kubectl::is_system_namespace(namespace) {
        objects.retain(|o| ev_deploy::backends::kubectl::field(o, "/kind") != "Namespace");
    }
    let mut objects =
        k8s::objects(objects, k8s::Source::Live).map_err(|found| problems_of(&found))?;
    objects.left_out.extend(exported.secrets.into_iter().map(|s| {
        format!("{s}: a Secret's values would be written into the repository in clear (declare it with an app's `env` or `secret_files` from sops)")
    }));
    Ok(Input {
        name: namespace.to_string(),
        target: String::new(),
        origin: format!("namespace {namespace}"),
        namespace: Some(namespace.to_string()),
        objects,
    })
}

fn problems_of(found: &[k8s::Problem]) -> Vec<String> {
    found
        .iter()
        .map(|p| {
            if p.object.is_empty() {
                p.why.clone()
            } else {
                format!("{}: {}", p.object, p.why)
            }
        })
        .collect()
}

/// A declaration name from a file's stem: lower case, anything but
/// letters, digits and `-` as `-`, no `-` at either end.
fn declaration_name(stem: &str) -> String {
    stem.to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect::<String>()
        .trim_matches('-')
        .to_string()
}
