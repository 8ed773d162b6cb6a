//! pulumi: cloud stacks (`stack`, `stdlib/stack.ev`). One action per
//! stack (`jupiter:up`) whose artifact is its Pulumi YAML program and
//! settings as data; at the edge they become `Pulumi.yaml` and
//! `Pulumi.<stack>.yaml`. Secret config is never written: the driver sets
//! it from sops at apply time (`pulumi config set --secret`, on stdin).
//! The stack's outputs are written to `exports/<name>/generated.json`.

use ev_core::model::{Known, Model, ModelResource};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::backend::{
    layer, view, view_json, views, Artifact, ArtifactData, Backend, BackendId, Item, ItemView,
    Lowered, Misfit, RenderedFile, StandIn,
};
use crate::markers::{for_tool, marked, yaml, SecretAs};
use crate::plan::details::ItemKind;
use crate::plan::ActionId;

// The typed views of the stdlib kinds (the schema link).

/// A resource of a stack.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StackResource {
    /// Logical name.
    pub name: String,
    /// Pulumi type token.
    #[serde(rename = "type")]
    pub kind: String,
    /// Properties.
    pub properties: IndexMap<String, serde_json::Value>,
    /// Resource options.
    pub options: IndexMap<String, serde_json::Value>,
}

/// A Pulumi stack (`stdlib/stack.ev`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stack {
    /// Name (and exports folder).
    pub name: String,
    /// Pulumi project.
    pub project: String,
    /// Pulumi stack.
    pub stack: String,
    /// State backend URL.
    pub backend: String,
    /// Configuration; secrets stay secret.
    pub config: IndexMap<String, Known<serde_json::Value>>,
    /// Resources.
    pub resources: Vec<StackResource>,
    /// Declared exports (Pulumi output expressions).
    pub exports: IndexMap<String, serde_json::Value>,
    /// Where its outputs are written (under the environment's exports).
    pub outputs_file: String,
    /// Values read back from `outputs_file`.
    pub outputs: Known<serde_json::Value>,
    /// Refuse destruction.
    pub protect: bool,
    /// Pulumi is not run: its outputs are the recorded ones.
    pub recorded: bool,
    /// Seconds one tool run of applying it may take.
    #[serde(default)]
    pub apply_timeout: Option<u64>,
}

/// The Pulumi backend.
pub struct Pulumi;

impl Backend for Pulumi {
    fn id(&self) -> BackendId {
        BackendId::Pulumi
    }

    fn kinds(&self) -> &'static [&'static str] {
        &["stack"]
    }

    fn typed_view(&self, resource: &ModelResource) -> Result<Value, Box<Misfit>> {
        view_json::<Stack>(resource)
    }

    fn check(&self, resource: &ModelResource) -> Result<(), Box<Misfit>> {
        view::<Stack>(resource).map(drop)
    }

    /// A stack is its project, stack and state backend to Pulumi: another
    /// of any of them is an empty stack that would create every resource
    /// again.
    fn cannot_move(&self, before: &Artifact, after: &Artifact) -> Option<String> {
        let (Artifact::Pulumi(before), Artifact::Pulumi(after)) = (before, after) else {
            return None;
        };
        let identity = |p: &Program| (p.project.clone(), p.stack.clone(), p.backend.clone());
        (identity(before) != identity(after)).then(|| {
            format!(
                "to Pulumi, `{}/{}` in `{}` and `{}/{}` in `{}` are two stacks (set `project`, `stack` and `backend` to the old values to keep the one)",
                before.project, before.stack, before.backend, after.project, after.stack, after.backend
            )
        })
    }

    fn lower(&self, model: &Model) -> Vec<Lowered> {
        views::<Stack>(model, "stack")
            .filter(|(_, s)| !s.recorded)
            .map(|(r, s)| {
                let mut action = Lowered::new(
                    ActionId::new(BackendId::Pulumi, &layer(r), &s.name),
                    vec![r.key.clone()],
                    Artifact::Pulumi(Program::of(&s)),
                );
                action.produces = vec![s.outputs_file.clone()];
                action.exports_pending = !matches!(s.outputs, Known::Value(_));
                action.protected = s.protect;
                action.timeout = s.apply_timeout;
                action
            })
            .collect()
    }

    fn stand_ins(&self, model: &Model) -> Vec<StandIn> {
        views::<Stack>(model, "stack")
            .filter(|(_, s)| s.recorded)
            .map(|(r, s)| StandIn {
                id: ActionId::new(BackendId::Pulumi, &layer(r), &s.name).to_string(),
                resource: format!("stack {}", s.name),
                note: format!(
                    "its outputs are the ones recorded in {}; Pulumi is not run in this environment",
                    s.outputs_file
                ),
            })
            .collect()
    }
}

/// Where a stack's outputs are written in a program without environments
/// (and by states recorded before the path was).
pub fn export_file(stack: &str) -> String {
    format!("exports/{stack}/generated.json")
}

// The artifact.

/// A stack as Pulumi is given it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Program {
    /// The stack's name in ev (its folder under `pulumi/` and `exports/`).
    pub name: String,
    /// Pulumi project.
    pub project: String,
    /// Pulumi stack.
    pub stack: String,
    /// State backend URL.
    pub backend: String,
    /// Resources (properties and options marked).
    pub resources: Vec<StackResource>,
    /// Declared outputs (Pulumi expressions).
    pub outputs: IndexMap<String, Value>,
    /// Configuration (marked: secrets are set at apply from sops).
    pub config: IndexMap<String, Value>,
    /// Where the outputs are written (empty in states recorded before it
    /// was: [`Program::outputs_path`]).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub outputs_file: String,
}

impl Program {
    /// Where the outputs are written.
    pub fn outputs_path(&self) -> String {
        match self.outputs_file.as_str() {
            "" => export_file(&self.name),
            path => path.to_string(),
        }
    }

    /// The artifact of a stack.
    pub fn of(s: &Stack) -> Program {
        Program {
            name: s.name.clone(),
            project: s.project.clone(),
            stack: s.stack.clone(),
            backend: s.backend.clone(),
            resources: s.resources.clone(),
            outputs: s.exports.clone(),
            outputs_file: s.outputs_file.clone(),
            config: s
                .config
                .iter()
                .map(|(k, v)| (k.clone(), marked(v)))
                .collect(),
        }
    }

    /// The configuration keys set from secrets, with the secret.
    pub fn secret_config(&self) -> Vec<(&str, ev_core::model::Secret)> {
        self.config
            .iter()
            .filter_map(|(k, v)| match crate::markers::marker(v) {
                Some(Known::Secret(s)) => Some((k.as_str(), s)),
                _ => None,
            })
            .collect()
    }

    /// The Pulumi expression an output at `keys` is declared with
    /// (`${ethane.ipv4Address}`), and the resource it reads (`ethane`).
    pub fn output_source(&self, keys: &[String]) -> Option<(&str, &str)> {
        let (first, deeper) = keys.split_first()?;
        let mut v = self.outputs.get(first)?;
        for k in deeper {
            v = v.get(k)?;
        }
        let expr = v.as_str()?;
        // Pulumi YAML interpolation: `${resource.property...}`.
        let inner = expr.strip_prefix("${")?;
        let end = inner.find(['.', '}', '['])?;
        Some((expr, &inner[..end]))
    }

    /// `pulumi/<name>/Pulumi.yaml`, the program.
    fn program_file(&self) -> RenderedFile {
        let mut resources = Map::new();
        for r in &self.resources {
            let mut res = Map::new();
            res.insert("type".into(), Value::String(r.kind.clone()));
            if !r.properties.is_empty() {
                res.insert(
                    "properties".into(),
                    for_tool(&json!(r.properties), SecretAs::EnvRef),
                );
            }
            if !r.options.is_empty() {
                res.insert(
                    "options".into(),
                    for_tool(&json!(r.options), SecretAs::EnvRef),
                );
            }
            resources.insert(r.name.clone(), Value::Object(res));
        }
        let program = json!({
            "name": self.project,
            "runtime": "yaml",
            "description": format!("The {} stack, generated by ev; do not edit.", self.name),
            "backend": { "url": self.backend },
            "resources": resources,
            "outputs": for_tool(&json!(self.outputs), SecretAs::EnvRef),
        });
        RenderedFile {
            path: format!("pulumi/{}/Pulumi.yaml", self.name),
            content: format!(
                "# Generated by ev from the `{}` stack declaration; do not edit.\n{}",
                self.name,
                yaml(&program)
            ),
        }
    }

    /// `pulumi/<name>/Pulumi.<stack>.yaml`, the stack's settings (secret
    /// keys only named, in comments).
    fn settings_file(&self) -> RenderedFile {
        let mut config = Map::new();
        let mut settings = String::from("# Generated by ev; do not edit.\n");
        for (k, v) in &self.config {
            match crate::markers::marker(v) {
                Some(Known::Secret(secret)) => settings.push_str(&format!(
                    "# {k}: set at apply from {}\n",
                    secret
                        .refs()
                        .iter()
                        .map(|r| r.to_string())
                        .collect::<Vec<_>>()
                        .join(" + ")
                )),
                // Written as the placeholder, so the stack waits for it.
                _ => {
                    config.insert(k.clone(), for_tool(v, SecretAs::EnvRef));
                }
            }
        }
        settings.push_str(&yaml(&json!({ "config": config })));
        RenderedFile {
            path: format!("pulumi/{}/Pulumi.{}.yaml", self.name, self.stack),
            content: settings,
        }
    }
}

impl ArtifactData for Program {
    fn files(&self) -> Vec<RenderedFile> {
        vec![self.program_file(), self.settings_file()]
    }

    fn items(&self) -> Vec<Item> {
        let mut items: Vec<Item> = self
            .resources
            .iter()
            .map(|r| {
                let mut value = Map::new();
                value.insert("type".into(), Value::String(r.kind.clone()));
                if !r.properties.is_empty() {
                    value.insert("properties".into(), json!(r.properties));
                }
                if !r.options.is_empty() {
                    value.insert("options".into(), json!(r.options));
                }
                Item {
                    kind: ItemKind::StackResource,
                    key: r.name.clone(),
                    label: format!("resource {} ({})", r.name, r.kind),
                    value: Value::Object(value),
                    view: ItemView::Yaml,
                    with_action: false,
                }
            })
            .collect();
        items.push(Item {
            kind: ItemKind::Config,
            // First, before every resource.
            key: String::new(),
            label: format!(
                "stack settings (pulumi/{}: project, backend, outputs, config)",
                self.name
            ),
            value: json!({
                "project": self.project,
                "stack": self.stack,
                "backend": self.backend,
                "outputs": self.outputs,
                "config": self.config,
            }),
            view: ItemView::Yaml,
            with_action: false,
        });
        items
    }
}
