//! nix: machines (`machine`, `stdlib/machine.ev`). One action per
//! machine (`venus:methanol:deploy`) whose artifact is its profile as
//! data: modules, activation, the values its modules read. At the edge it
//! becomes a flake under `flake-profiles/system-<name>/` wiring its
//! `venus/` modules, and the values ev knows (the machine, stack outputs)
//! as a Nix file the modules read through `ev`, so they need no
//! import-from-derivation. The flakes live in the repository: Nix builds
//! from its git tree.

use ev_core::diagnostic::{Diagnostic, Label};
use ev_core::fs::FileSystem;
use ev_core::model::{Known, Model, ModelResource};
use ev_core::Program;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::backend::{
    layer, view_json, views, Artifact, ArtifactData, Backend, BackendId, Item, ItemView, Lowered,
    Misfit, RenderedFile, Side,
};
use crate::markers::{for_tool, marked, SecretAs};
use crate::plan::details::{rebuild, ItemChange, ItemKind};
use crate::plan::ActionId;

// The typed views of the stdlib kinds (the schema link).

fn default_nixpkgs() -> String {
    "github:NixOS/nixpkgs/nixos-unstable".into()
}

/// How a machine is activated.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Activation {
    /// `darwin-rebuild`, `nixos-rebuild` or `deploy-rs`.
    pub method: String,
    /// The ssh user for remote activation.
    pub ssh_user: Option<String>,
    /// Build on the target.
    pub remote_build: bool,
    /// With `profile`: the Nix profile to set.
    #[serde(default)]
    pub profile: Option<String>,
}

/// A machine (`stdlib/machine.ev`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// Host name.
    pub name: String,
    /// Nix system.
    pub platform: String,
    /// nixos, darwin or home-manager.
    pub os: String,
    /// Address, possibly unknown.
    pub address: Option<Known<String>>,
    /// `venus/` module paths.
    pub modules: Vec<String>,
    /// Activation.
    pub activation: Activation,
    /// The nixpkgs flake its profile builds with.
    #[serde(default = "default_nixpkgs")]
    pub nixpkgs: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Values its Nix modules read as `ev.<name>` (marked JSON: unknowns
    /// are `$unknown` markers; secrets are refused at build).
    #[serde(default)]
    pub values: serde_json::Map<String, serde_json::Value>,
    /// Seconds one tool run of applying it may take.
    #[serde(default)]
    pub apply_timeout: Option<u64>,
}

/// The Nix backend.
pub struct Nix;

/// Warnings about the repository around the program (not its values):
/// W0601 when machines are declared but the repository is no git
/// repository. Machines are built from its git tree (Nix copies only the
/// files git knows), so applying could not deploy them. `ev check`,
/// `ev plan` and the language server report it.
pub fn repository_warnings(program: &Program, fs: &dyn FileSystem) -> Vec<Diagnostic> {
    // `.git/HEAD` in a repository, a `.git` file in a worktree.
    if fs.exists(".git/HEAD") || fs.exists(".git") {
        return Vec::new();
    }
    let machine = program.resources.iter().find(|r| {
        program.kind(r.kind).is_some_and(|k| {
            k.name.as_str() == "machine" && program.module(k.module).is_some_and(|m| m.is_stdlib)
        })
    });
    let Some(machine) = machine else {
        return Vec::new();
    };
    vec![Diagnostic::error(
        "W0601",
        format!(
            "machine `{}` is built from the repository's git tree, but the repository is not a git repository",
            machine.name
        ),
        Label::new(machine.name_span, "built with Nix from git"),
    )
    .with_help("run `git init && git add -A` in the repository: Nix copies only the files git knows into the store")
    .as_warning()]
}

impl Backend for Nix {
    fn id(&self) -> BackendId {
        BackendId::Nix
    }

    fn kinds(&self) -> &'static [&'static str] {
        &["machine"]
    }

    fn typed_view(&self, resource: &ModelResource) -> Result<Value, Box<Misfit>> {
        view_json::<Machine>(resource)
    }

    fn lower(&self, model: &Model) -> Vec<Lowered> {
        views::<Machine>(model, "machine")
            .map(|(r, m)| {
                let mut action = Lowered::new(
                    ActionId::new(BackendId::Nix, &layer(r), &m.name),
                    vec![r.key.clone()],
                    Artifact::Nix(Profile::of(&m)),
                );
                action.tags = m.tags.clone();
                action.inputs = m.modules.clone();
                action.timeout = m.apply_timeout;
                action
            })
            .collect()
    }

    /// A machine is one item: rebuilt and activated as a whole.
    fn changes(&self, subject: &str, before: Side<'_>, after: Side<'_>) -> Vec<ItemChange> {
        rebuild(ItemKind::Machine, subject, before, after)
            .into_iter()
            .collect()
    }
}

// The artifact.

/// A machine's profile as Nix is given it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// Host name.
    pub name: String,
    /// Nix system.
    pub platform: String,
    /// nixos, darwin or home-manager.
    pub os: String,
    /// Address (marked: may be unknown until a stack is applied).
    pub address: Option<Value>,
    /// `venus/` module paths.
    pub modules: Vec<String>,
    /// How it is activated.
    pub activation: Activation,
    /// The nixpkgs flake its profile builds with.
    pub nixpkgs: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Values its modules read as `ev.<name>` (marked).
    pub values: serde_json::Map<String, Value>,
}

impl Profile {
    /// The artifact of a machine.
    pub fn of(m: &Machine) -> Profile {
        Profile {
            name: m.name.clone(),
            platform: m.platform.clone(),
            os: m.os.clone(),
            address: m.address.as_ref().map(marked),
            modules: m.modules.clone(),
            activation: m.activation.clone(),
            nixpkgs: m.nixpkgs.clone(),
            tags: m.tags.clone(),
            values: m.values.clone(),
        }
    }

    /// The address to deploy to, when known.
    pub fn host(&self) -> Option<&str> {
        self.address.as_ref().and_then(|a| a.as_str())
    }

    /// The attribute holding the machine's system derivation.
    pub fn system_attribute(&self) -> String {
        if self.os == "darwin" {
            format!("darwinConfigurations.{}.system", self.name)
        } else {
            format!(
                "nixosConfigurations.{}.config.system.build.toplevel",
                self.name
            )
        }
    }

    /// Its directory in the repository.
    pub fn dir(&self) -> String {
        format!("flake-profiles/system-{}", self.name)
    }
}

impl ArtifactData for Profile {
    fn files(&self) -> Vec<RenderedFile> {
        machine_files(self)
    }

    fn items(&self) -> Vec<Item> {
        vec![Item {
            kind: ItemKind::Machine,
            key: self.name.clone(),
            label: format!("machine {}", self.name),
            value: marked(self),
            view: ItemView::Yaml,
            with_action: false,
        }]
    }
}

/// A JSON value as a Nix expression.
pub fn to_nix(v: &Value, indent: usize) -> String {
    let pad = "  ".repeat(indent + 1);
    let end = "  ".repeat(indent);
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => nix_string(s),
        Value::Array(items) if items.is_empty() => "[ ]".into(),
        Value::Array(items) => {
            let mut out = String::from("[\n");
            for i in items {
                out.push_str(&format!("{pad}{}\n", paren(to_nix(i, indent + 1))));
            }
            out.push_str(&format!("{end}]"));
            out
        }
        Value::Object(map) if map.is_empty() => "{ }".into(),
        Value::Object(map) => {
            let mut out = String::from("{\n");
            for (k, v) in map {
                out.push_str(&format!(
                    "{pad}{} = {};\n",
                    nix_key(k),
                    to_nix(v, indent + 1)
                ));
            }
            out.push_str(&format!("{end}}}"));
            out
        }
    }
}

fn paren(s: String) -> String {
    if s.contains(' ') && !s.starts_with('"') && !s.starts_with('{') && !s.starts_with('[') {
        format!("({s})")
    } else {
        s
    }
}

/// A Nix string literal: the one place ev quotes text for Nix, so no value
/// can end the string or start an interpolation (`${`).
pub fn nix_string(s: &str) -> String {
    let mut out = String::from("\"");
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '$' if chars.peek() == Some(&'{') => out.push_str("\\$"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Nix's keywords: never bare attribute names.
const NIX_KEYWORDS: &[&str] = &[
    "assert", "else", "if", "in", "inherit", "let", "or", "rec", "then", "with",
];

/// An attribute name: bare when Nix reads it as one, quoted otherwise
/// (keywords, anything with other characters).
pub fn nix_key(k: &str) -> String {
    let bare = k
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '\'')
        && !NIX_KEYWORDS.contains(&k);
    if bare {
        k.to_string()
    } else {
        nix_string(k)
    }
}

/// A repository file as a Nix path from the profile's directory: a path
/// literal when it is plain, else the directory plus a quoted string.
fn nix_repo_path(p: &str) -> String {
    let plain = p
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | '/'))
        && !p.contains("//")
        && !p.ends_with('/');
    if plain {
        format!("../../{p}")
    } else {
        format!("(../.. + {})", nix_string(&format!("/{p}")))
    }
}

/// The flake and values file of one machine: its modules read
/// `ev.machine` (name, platform, os, address, tags) and each of its
/// declared `values` as `ev.<name>`.
fn machine_files(m: &Profile) -> Vec<RenderedFile> {
    let dir = m.dir();
    let address = m
        .address
        .as_ref()
        .map(|a| for_tool(a, SecretAs::EnvRef))
        .unwrap_or(Value::Null);
    let mut values = serde_json::Map::new();
    values.insert(
        "machine".into(),
        json!({
            "name": m.name,
            "platform": m.platform,
            "os": m.os,
            "address": address,
            "tags": m.tags,
        }),
    );
    for (name, value) in &m.values {
        // The schema refuses a `machine` entry: `ev.machine` is ev's own.
        values
            .entry(name.clone())
            .or_insert_with(|| for_tool(value, SecretAs::EnvRef));
    }
    let values = Value::Object(values);
    let modules: String = m
        .modules
        .iter()
        .map(|p| format!("          {}\n", nix_repo_path(p)))
        .collect();
    let darwin = m.os == "darwin";
    let deploy_rs = m.activation.method == "deploy-rs";
    let mut inputs = format!("    nixpkgs.url = {};\n", nix_string(&m.nixpkgs));
    if darwin {
        inputs.push_str("    nix-darwin.url = \"github:LnL7/nix-darwin\";\n    nix-darwin.inputs.nixpkgs.follows = \"nixpkgs\";\n");
    }
    if deploy_rs {
        inputs.push_str("    deploy-rs.url = \"github:serokell/deploy-rs\";\n    deploy-rs.inputs.nixpkgs.follows = \"nixpkgs\";\n");
    }
    let system = if darwin {
        format!(
            "      darwinConfigurations.{name} = inputs.nix-darwin.lib.darwinSystem {{\n        system = \"{platform}\";\n        specialArgs = {{ inherit ev; }};\n        modules = [\n{modules}        ];\n      }};\n",
            name = nix_key(&m.name),
            platform = m.platform
        )
    } else {
        format!(
            "      nixosConfigurations.{name} = nixpkgs.lib.nixosSystem {{\n        system = \"{platform}\";\n        specialArgs = {{ inherit ev; }};\n        modules = [\n{modules}        ];\n      }};\n",
            name = nix_key(&m.name),
            platform = m.platform
        )
    };
    let deploy = match (&address, deploy_rs) {
        (Value::String(host), true) => format!(
            "      deploy.nodes.{name} = {{\n        hostname = {host};\n        sshUser = {user};\n        remoteBuild = {remote};\n        profiles.system = {{\n          user = \"root\";\n          path = inputs.deploy-rs.lib.{platform}.activate.nixos self.nixosConfigurations.{name};\n        }};\n      }};\n",
            name = nix_key(&m.name),
            host = nix_string(host),
            user = nix_string(m.activation.ssh_user.as_deref().unwrap_or("root")),
            remote = m.activation.remote_build,
            platform = m.platform,
        ),
        _ => String::new(),
    };
    let flake = format!(
        "# Generated by ev from the `{name}` machine declaration; do not edit.\n# Its own flake, so its own lock file: updating one machine never moves another.\n{{\n  description = {description};\n\n  inputs = {{\n{inputs}  }};\n\n  outputs = {{ self, nixpkgs, ... }}@inputs:\n    let\n      ev = import ./ev-values.nix;\n    in\n    {{\n{system}{deploy}    }};\n}}\n",
        // Names are plain (`Name`), but comments stay on one line anyway.
        name = m.name.replace(['\n', '\r'], " "),
        description = nix_string(&format!("{} profile of {}, generated by ev", m.os, m.name)),
    );
    vec![
        RenderedFile {
            path: format!("{dir}/flake.nix"),
            content: flake,
        },
        RenderedFile {
            path: format!("{dir}/ev-values.nix"),
            content: format!(
                "# Generated by ev: values Nix modules read as `ev`; do not edit.\n{}\n",
                to_nix(&values, 0)
            ),
        },
    ]
}
