//! `ev import pulumi`: a Pulumi stack, from what `pulumi stack export`
//! writes (its checkpoint: every resource's URN, type, inputs and outputs),
//! to a `stack` declaration whose program Pulumi reads as the very stack
//! it came from: the same project, stack and state backend, the same
//! resources under the same names, with the same inputs.
//!
//! A stack is imported whole or not at all. What a Pulumi YAML program
//! cannot say is refused: a resource inside a component (its parent is not
//! the stack), an explicit provider, a secret input (it belongs in the
//! stack's config, from sops), an output no resource's output holds.
//! Where a text equals exactly one other resource's `id`, it is written as
//! a reference to it (`${deploy-key.id}`), so Pulumi keeps the dependency;
//! each stack output is written as the resource output holding its value
//! (`${ethane.ipv4Address}`). Inputs the provider defaulted (listed in
//! the checkpoint's `__defaults`) are left out: Pulumi defaults them again.

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::backends::pulumi::StackResource;
use ev_core::output::{is_bare_key, marked_json_to_ev, quote};

/// Something of the export that cannot be imported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The resource (`web`), output (`output ip`), or `` for the export.
    pub at: String,
    /// Why.
    pub why: String,
}

/// A stack read from its export.
#[derive(Clone, Debug, PartialEq)]
pub struct Export {
    /// Its Pulumi project.
    pub project: String,
    /// Its Pulumi stack.
    pub stack: String,
    /// Its resources, in the checkpoint's (dependency) order.
    pub resources: Vec<StackResource>,
    /// Its outputs as Pulumi expressions.
    pub exports: IndexMap<String, Value>,
    /// Its outputs' values (what `pulumi stack output --json` prints).
    pub outputs: Map<String, Value>,
}

/// The key Pulumi marks a secret value with in a checkpoint.
const SECRET_SIG: &str = "4dabf18193072939515e22adb298388d";

/// Reads `pulumi stack export` output.
pub fn read_export(text: &str) -> Result<Export, Vec<Problem>> {
    let problem = |at: &str, why: String| Problem {
        at: at.to_string(),
        why,
    };
    let doc: Value = serde_json::from_str(text)
        .map_err(|e| vec![problem("", format!("not a stack export (JSON): {e}"))])?;
    let resources = doc
        .pointer("/deployment/resources")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            vec![problem(
                "",
                "no `deployment.resources`: not what `pulumi stack export` writes".into(),
            )]
        })?;
    let root = resources
        .iter()
        .find(|r| str_of(r, "type") == "pulumi:pulumi:Stack")
        .ok_or_else(|| vec![problem("", "no `pulumi:pulumi:Stack` resource".into())])?;
    let root_urn = str_of(root, "urn");
    // urn:pulumi:<stack>::<project>::pulumi:pulumi:Stack::<name>
    let mut parts = root_urn
        .strip_prefix("urn:pulumi:")
        .unwrap_or("")
        .split("::");
    let (stack, project) = (
        parts.next().unwrap_or("").to_string(),
        parts.next().unwrap_or("").to_string(),
    );
    let name_ok = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    if !name_ok(&stack) || !name_ok(&project) {
        return Err(vec![problem(
            "",
            format!("the stack's URN `{root_urn}` names no project and stack"),
        )]);
    }
    let mut problems = Vec::new();
    let mut read: Vec<(StackResource, Map<String, Value>)> = Vec::new();
    for r in resources {
        let kind = str_of(r, "type");
        let urn = str_of(r, "urn");
        let name = urn.rsplit("::").next().unwrap_or("").to_string();
        if kind == "pulumi:pulumi:Stack" {
            continue;
        }
        if kind.starts_with("pulumi:providers:") {
            if name.starts_with("default") {
                continue;
            }
            problems.push(problem(&name, "an explicit provider: a Pulumi YAML program of ev's uses the default ones (configured in the stack's `config`)".into()));
            continue;
        }
        if r.get("custom") != Some(&Value::Bool(true)) {
            problems.push(problem(
                &name,
                format!("a component resource ({kind}): a Pulumi YAML program cannot declare it"),
            ));
            continue;
        }
        if str_of(r, "parent") != root_urn {
            problems.push(problem(
                &name,
                "inside a component: a Pulumi YAML program declares resources of the stack only"
                    .into(),
            ));
            continue;
        }
        if !(name_ok(&name) && kind.split(':').count() == 3) {
            problems.push(problem(&name, format!("`{urn}` is no URN ev can name")));
            continue;
        }
        let mut properties = r
            .get("inputs")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let defaults: Vec<String> = properties
            .get("__defaults")
            .and_then(Value::as_array)
            .map(|d| {
                d.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        properties.shift_remove("__defaults");
        for d in defaults {
            properties.shift_remove(&d);
        }
        if let Some(path) = secret_at(&Value::Object(properties.clone()), "") {
            problems.push(problem(
                &name,
                format!(
                    "the input `{}` is a secret: declare it in the stack's `config` from sops",
                    path.trim_start_matches('/')
                ),
            ));
            continue;
        }
        if let Err(why) = super::expressible(&Value::Object(properties.clone()), "") {
            problems.push(problem(&name, why));
            continue;
        }
        let mut options = IndexMap::new();
        if r.get("protect") == Some(&Value::Bool(true)) {
            options.insert("protect".to_string(), Value::Bool(true));
        }
        let outputs = r
            .get("outputs")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        read.push((
            StackResource {
                name,
                kind: kind.to_string(),
                properties: properties.into_iter().collect(),
                options,
            },
            outputs,
        ));
    }
    // A text equal to exactly one other resource's id refers to it.
    let ids: Vec<(String, String)> = read
        .iter()
        .filter_map(|(r, outputs)| {
            outputs
                .get("id")
                .and_then(Value::as_str)
                .map(|id| (id.to_string(), r.name.clone()))
        })
        .collect();
    for (r, _) in &mut read {
        let own = r.name.clone();
        for value in r.properties.values_mut() {
            refer_to_ids(value, &ids, &own);
        }
    }
    let outputs = root
        .get("outputs")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut exports = IndexMap::new();
    for (key, value) in &outputs {
        if !is_bare_key(key) {
            problems.push(problem(
                &format!("output {key}"),
                "not a name ev can write bare".into(),
            ));
            continue;
        }
        match expression(value, &read) {
            Ok(e) => {
                exports.insert(key.clone(), e);
            }
            Err(why) => problems.push(problem(&format!("output {key}"), why)),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Export {
        project,
        stack,
        resources: read.into_iter().map(|(r, _)| r).collect(),
        exports,
        outputs,
    })
}

fn str_of<'v>(v: &'v Value, key: &str) -> &'v str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// Where a secret is below `v` (a JSON pointer), if anywhere.
fn secret_at(v: &Value, at: &str) -> Option<String> {
    match v {
        Value::Object(map) if map.contains_key(SECRET_SIG) => Some(at.to_string()),
        Value::Object(map) => map
            .iter()
            .find_map(|(k, item)| secret_at(item, &format!("{at}/{k}"))),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| secret_at(item, &format!("{at}/{i}"))),
        _ => None,
    }
}

/// Texts equal to exactly one other resource's id become `${name.id}`;
/// a text holding `${` would be read by Pulumi as an expression, so it is
/// escaped as Pulumi escapes it (`$${`).
fn refer_to_ids(v: &mut Value, ids: &[(String, String)], own: &str) {
    match v {
        Value::String(s) => {
            let mut owners = ids.iter().filter(|(id, name)| id == s && name != own);
            match (owners.next(), owners.next()) {
                (Some((_, name)), None) => *s = format!("${{{name}.id}}"),
                _ => *s = s.replace("${", "$${"),
            }
        }
        Value::Object(map) => map.values_mut().for_each(|v| refer_to_ids(v, ids, own)),
        Value::Array(items) => items.iter_mut().for_each(|v| refer_to_ids(v, ids, own)),
        _ => {}
    }
}

/// A stack output as the Pulumi expression producing it: each leaf the
/// top-level output of exactly one resource holding that value.
fn expression(
    value: &Value,
    resources: &[(StackResource, Map<String, Value>)],
) -> Result<Value, String> {
    match value {
        Value::Object(_) if value.get(SECRET_SIG).is_some() => {
            Err("a secret output: ev records outputs in the repository's exports in clear".into())
        }
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| {
                if !is_bare_key(k) {
                    return Err(format!("`{k}` is not a name ev can write bare"));
                }
                expression(v, resources).map(|e| (k.clone(), e))
            })
            .collect::<Result<Map<String, Value>, String>>()
            .map(Value::Object),
        leaf => {
            let holders: Vec<String> = resources
                .iter()
                .flat_map(|(r, outputs)| {
                    outputs
                        .iter()
                        .filter(|(k, v)| *v == leaf && is_bare_key(k))
                        .map(move |(k, _)| format!("${{{}.{k}}}", r.name))
                })
                .collect();
            match holders.as_slice() {
                [one] => Ok(Value::String(one.clone())),
                [] => Err(format!("no resource output holds its value {leaf}: declare it by hand")),
                _ => Err(format!("{} resource outputs hold its value {leaf} ({}): which one was meant cannot be told", holders.len(), holders.join(", "))),
            }
        }
    }
}

/// The `.ev` text declaring the stack as `name`, its state in `backend`;
/// `origin` names the export in its first comment. Formatted as `ev fmt`
/// formats.
pub fn declaration(name: &str, export: &Export, backend: &str, origin: &str) -> String {
    let origin = super::comment_text(origin);
    let resources: String = export
        .resources
        .iter()
        .map(|r| {
            let mut fields = vec![
                format!("name = {}", quote(&r.name)),
                format!("type = {}", quote(&r.kind)),
            ];
            if !r.properties.is_empty() {
                fields.push(format!(
                    "properties = {}",
                    marked_json_to_ev(
                        &Value::Object(r.properties.clone().into_iter().collect()),
                        3
                    )
                ));
            }
            if !r.options.is_empty() {
                fields.push(format!(
                    "options = {}",
                    marked_json_to_ev(&Value::Object(r.options.clone().into_iter().collect()), 3)
                ));
            }
            format!("    {{\n      {}\n    }},\n", fields.join("\n      "))
        })
        .collect();
    let exports = if export.exports.is_empty() {
        String::new()
    } else {
        format!(
            "  exports = {}\n",
            marked_json_to_ev(
                &Value::Object(export.exports.clone().into_iter().collect()),
                1
            )
        )
    };
    let text = format!(
        "# {name}: imported by `ev import pulumi` from {origin}. Its config (provider\n# credentials, settings) is not in an export: declare it in `config`.\n\nexport stack {} {{\n  project = {}\n  stack = {}\n  backend = {}\n  resources = [\n{resources}  ]\n{exports}}}\n",
        quote(name),
        quote(&export.project),
        quote(&export.stack),
        quote(backend),
    );
    ev_syntax::format::format(&text).unwrap_or(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_input_and_a_component_child_are_refused() {
        let export = serde_json::json!({
            "version": 3,
            "deployment": { "resources": [
                { "urn": "urn:pulumi:prod::cloud::pulumi:pulumi:Stack::cloud-prod", "type": "pulumi:pulumi:Stack", "custom": false },
                { "urn": "urn:pulumi:prod::cloud::hcloud:index/server:Server::vm", "type": "hcloud:index/server:Server", "custom": true,
                  "parent": "urn:pulumi:prod::cloud::pulumi:pulumi:Stack::cloud-prod",
                  "inputs": { "userData": { SECRET_SIG: "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "v1:abc" } } },
                { "urn": "urn:pulumi:prod::cloud::my:component$hcloud:index/server:Server::inner", "type": "hcloud:index/server:Server", "custom": true,
                  "parent": "urn:pulumi:prod::cloud::my:component::c" },
            ] }
        });
        let problems = read_export(&export.to_string()).expect_err("refused");
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(!format!("{problems:?}").contains("v1:abc"));
    }
}
