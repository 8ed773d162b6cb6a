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
use ev_core::model::{Known, Model, ModelResource, Secret};
use ev_core::Program;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::backend::{
    layer, view, view_json, views, Artifact, ArtifactData, Backend, BackendId, Item, ItemView,
    Lowered, Misfit, RenderedFile, Side,
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
    /// `darwin-rebuild`, `nixos-rebuild`, `deploy-rs`, `home-manager` or
    /// `profile`.
    pub method: String,
    /// The ssh user for remote activation.
    pub ssh_user: Option<String>,
    /// Build on the target.
    pub remote_build: bool,
    /// With `profile`: the Nix profile to set.
    #[serde(default)]
    pub profile: Option<String>,
    /// With `nixos-rebuild`: activate on the machine running ev.
    #[serde(default)]
    pub local: bool,
}

/// A flake input of a machine's profile, beside the ones ev adds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FlakeInput {
    /// Its name in the flake.
    pub name: String,
    /// Its flake reference.
    pub url: String,
    /// Its own inputs that follow the profile's: `{ nixpkgs = "nixpkgs" }`.
    #[serde(default)]
    pub follows: IndexMap<String, String>,
    /// Whether it is a flake (`false`: a plain source tree).
    #[serde(default = "yes")]
    pub flake: bool,
}

fn yes() -> bool {
    true
}

/// A home-manager user of a machine.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HomeUser {
    /// The user's name.
    pub user: String,
    /// `venus/` module paths.
    #[serde(default)]
    pub modules: Vec<String>,
    /// Modules of flake inputs, as attribute paths.
    #[serde(default)]
    pub input_modules: Vec<String>,
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
    /// Its configuration's name in the flake.
    pub configuration: String,
    /// `venus/` module paths.
    pub modules: Vec<String>,
    /// Activation.
    pub activation: Activation,
    /// The nixpkgs flake its profile builds with.
    #[serde(default = "default_nixpkgs")]
    pub nixpkgs: String,
    /// More flake inputs.
    pub inputs: Vec<FlakeInput>,
    /// Modules of those inputs, as attribute paths.
    pub input_modules: Vec<String>,
    /// Modules written in the declaration, as Nix expressions.
    pub inline_modules: Vec<String>,
    /// nixpkgs overlays: `venus/` files or attribute paths of inputs.
    pub overlays: Vec<String>,
    /// The flake's `nixConfig`.
    pub nix_config: serde_json::Map<String, Value>,
    /// home-manager users.
    pub home_manager: Vec<HomeUser>,
    /// Secrets it decrypts itself with sops-nix, by name.
    pub secrets: IndexMap<String, Known<String>>,
    /// Tags.
    pub tags: Vec<String>,
    /// Values its Nix modules read as `ev.<name>` (marked JSON: unknowns
    /// are `$unknown` markers; secrets are refused at build).
    #[serde(default)]
    pub values: serde_json::Map<String, serde_json::Value>,
    /// The repository folder of its flake (per environment).
    pub flake_dir: String,
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
        self.check(resource)?;
        view_json::<Machine>(resource)
    }

    fn check(&self, resource: &ModelResource) -> Result<(), Box<Misfit>> {
        let machine = view::<Machine>(resource)?;
        for (name, secret) in &machine.secrets {
            SopsSecret::of(secret).map_err(|why| {
                Box::new(Misfit {
                    code: "E0421",
                    field: Some("secrets".into()),
                    message: format!(
                        "machine `{}` cannot decrypt secret `{name}` with sops-nix: {why}",
                        machine.name
                    ),
                    label: "this secret".into(),
                    notes: vec!["sops-nix decrypts a key of a YAML, JSON or dotenv file, or a whole YAML, JSON or binary file, on the machine itself".into()],
                    help: Some("give the machine `secret(file, key)` or `secret_file(file)` of such a file; compose text from it in the machine's own Nix modules (sops-nix templates)".into()),
                })
            })?;
        }
        Ok(())
    }

    fn lower(&self, model: &Model) -> Vec<Lowered> {
        views::<Machine>(model, "machine")
            .map(|(r, m)| {
                let mut action = Lowered::new(
                    ActionId::new(BackendId::Nix, &layer(r), &m.name),
                    vec![r.key.clone()],
                    Artifact::Nix(Box::new(Profile::of(&m))),
                );
                action.tags = m.tags.clone();
                // Every repository file the profile imports: a change to
                // one rebuilds the machine.
                action.inputs = m
                    .modules
                    .iter()
                    .chain(m.home_manager.iter().flat_map(|u| &u.modules))
                    .chain(m.overlays.iter().filter(|o| is_repo_file(o)))
                    .cloned()
                    // Its encrypted secrets are copied into the store too.
                    .chain(m.secrets.values().filter_map(|s| match s {
                        Known::Secret(Secret::Ref(r)) => Some(r.file.clone()),
                        _ => None,
                    }))
                    .collect();
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

/// A secret sops-nix decrypts on the machine: the encrypted file (in the
/// repository, copied into the Nix store as it is: ciphertext), its
/// format, and the key to extract (`a/b` for nested keys; empty for the
/// whole file).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SopsSecret {
    /// The encrypted file, relative to the repository.
    pub file: String,
    /// sops-nix's format: `yaml`, `json`, `dotenv` or `binary`.
    pub format: String,
    /// The key, as sops-nix spells it; empty for the whole file.
    pub key: String,
}

impl SopsSecret {
    /// What sops-nix is given for a secret: a key of a YAML, JSON or dotenv
    /// file, or a whole YAML, JSON or binary file; `Err` says why not.
    pub fn of(secret: &Known<String>) -> Result<SopsSecret, String> {
        let r = match secret {
            Known::Secret(Secret::Ref(r)) => r,
            Known::Secret(Secret::Composed { .. }) => {
                return Err("it is composed text (`secret_format`), not one file's key".into())
            }
            _ => return Err("it is no secret".into()),
        };
        let extension = r.file.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
        let format = match extension {
            "yaml" | "yml" => "yaml",
            "json" => "json",
            "env" => "dotenv",
            "ini" => "ini",
            _ => "binary",
        };
        let key = match (format, r.key.as_str()) {
            ("yaml" | "json", key) => key.replace('.', "/"),
            ("binary", "") => String::new(),
            ("dotenv", key) if !key.is_empty() => key.to_string(),
            ("binary", _) => return Err(format!("`{}` is a binary file: it has no keys", r.file)),
            (_, "") => {
                return Err(format!(
                    "sops-nix does not emit a whole {format} file (`{}`)",
                    r.file
                ))
            }
            _ => {
                return Err(format!(
                    "sops-nix does not read keys of {format} files (`{}`)",
                    r.file
                ))
            }
        };
        Ok(SopsSecret {
            file: r.file.clone(),
            format: format.into(),
            key,
        })
    }
}

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
    /// Its configuration's name in the flake.
    pub configuration: String,
    /// `venus/` module paths.
    pub modules: Vec<String>,
    /// How it is activated.
    pub activation: Activation,
    /// The nixpkgs flake its profile builds with.
    pub nixpkgs: String,
    /// More flake inputs.
    #[serde(default)]
    pub inputs: Vec<FlakeInput>,
    /// Modules of those inputs, as attribute paths.
    #[serde(default)]
    pub input_modules: Vec<String>,
    /// Modules written in the declaration (each a file of the profile).
    #[serde(default)]
    pub inline_modules: Vec<String>,
    /// nixpkgs overlays: `venus/` files or attribute paths of inputs.
    #[serde(default)]
    pub overlays: Vec<String>,
    /// The flake's `nixConfig`.
    #[serde(default)]
    pub nix_config: serde_json::Map<String, Value>,
    /// home-manager users.
    #[serde(default)]
    pub home_manager: Vec<HomeUser>,
    /// Secrets sops-nix decrypts on the machine, by name: where each is in
    /// the repository's encrypted files (never their text).
    #[serde(default)]
    pub secrets: IndexMap<String, SopsSecret>,
    /// Tags.
    pub tags: Vec<String>,
    /// Values its modules read as `ev.<name>` (marked).
    pub values: serde_json::Map<String, Value>,
    /// The repository folder of its flake (empty in states recorded before
    /// it was: `flake-profiles/system-<name>`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub flake_dir: String,
}

impl Profile {
    /// The artifact of a machine.
    pub fn of(m: &Machine) -> Profile {
        Profile {
            name: m.name.clone(),
            platform: m.platform.clone(),
            os: m.os.clone(),
            address: m.address.as_ref().map(marked),
            configuration: m.configuration.clone(),
            modules: m.modules.clone(),
            activation: m.activation.clone(),
            nixpkgs: m.nixpkgs.clone(),
            inputs: m.inputs.clone(),
            input_modules: m.input_modules.clone(),
            inline_modules: m.inline_modules.clone(),
            overlays: m.overlays.clone(),
            nix_config: m.nix_config.clone(),
            home_manager: m.home_manager.clone(),
            secrets: m
                .secrets
                .iter()
                .filter_map(|(name, s)| Some((name.clone(), SopsSecret::of(s).ok()?)))
                .collect(),
            tags: m.tags.clone(),
            values: m.values.clone(),
            flake_dir: m.flake_dir.clone(),
        }
    }

    /// The address to deploy to, when known.
    pub fn host(&self) -> Option<&str> {
        self.address.as_ref().and_then(|a| a.as_str())
    }

    /// Its configuration's name in the flake (`nixosConfigurations.<name>`).
    pub fn configuration(&self) -> &str {
        &self.configuration
    }

    /// The attribute holding the machine's system derivation (a
    /// home-manager machine's activation package).
    pub fn system_attribute(&self) -> String {
        let name = nix_key(self.configuration());
        match self.os.as_str() {
            "darwin" => format!("darwinConfigurations.{name}.system"),
            "home-manager" => format!("homeConfigurations.{name}.activationPackage"),
            _ => format!("nixosConfigurations.{name}.config.system.build.toplevel"),
        }
    }

    /// Its flake's directory in the repository: `flake-profiles/system-<name>`
    /// in the default environment, `flake-profiles/env/<env>/system-<name>`
    /// in another.
    pub fn dir(&self) -> String {
        match self.flake_dir.as_str() {
            "" => format!("flake-profiles/system-{}", self.name),
            dir => dir.to_string(),
        }
    }

    /// The way from its flake's directory up to the repository root
    /// (`../..`), for the paths of repository files in the flake.
    fn up(&self) -> String {
        vec![".."; self.dir().split('/').count()].join("/")
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
fn nix_repo_path(m: &Profile, p: &str) -> String {
    let plain = p
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | '/'))
        && !p.contains("//")
        && !p.ends_with('/');
    let up = m.up();
    if plain {
        format!("{up}/{p}")
    } else {
        format!("({up} + {})", nix_string(&format!("/{p}")))
    }
}

/// Whether an overlay names a repository file (else an input's attribute).
fn is_repo_file(overlay: &str) -> bool {
    overlay.starts_with("venus/")
}

/// An attribute path of an input (`sops-nix.nixosModules.sops`) as the
/// flake reads it: `inputs.sops-nix.nixosModules.sops`.
fn input_attr(path: &str) -> String {
    let segments: Vec<String> = path.split('.').map(nix_key).collect();
    format!("inputs.{}", segments.join("."))
}

/// The attribute of a flake's modules for the machine's kind.
fn modules_attr(m: &Profile) -> &'static str {
    match m.os.as_str() {
        "darwin" => "darwinModules",
        "home-manager" => "homeManagerModules",
        _ => "nixosModules",
    }
}

/// The name of an inline module's file in the profile's directory.
fn inline_file(i: usize) -> String {
    format!("inline-{i}.nix")
}

/// The flake's `inputs`: nixpkgs, the ones the machine's kind needs, and
/// the declared ones.
fn flake_inputs(m: &Profile) -> String {
    let mut out = format!("    nixpkgs.url = {};\n", nix_string(&m.nixpkgs));
    let mut input = |name: &str, url: &str, follows: &[(&str, &str)], flake: bool| {
        let key = nix_key(name);
        out.push_str(&format!("    {key}.url = {};\n", nix_string(url)));
        if !flake {
            out.push_str(&format!("    {key}.flake = false;\n"));
        }
        for (theirs, ours) in follows {
            out.push_str(&format!(
                "    {key}.inputs.{}.follows = {};\n",
                nix_key(theirs),
                nix_string(ours)
            ));
        }
    };
    let nixpkgs = [("nixpkgs", "nixpkgs")];
    if m.os == "darwin" {
        input("nix-darwin", "github:LnL7/nix-darwin", &nixpkgs, true);
    }
    if m.activation.method == "deploy-rs" {
        input("deploy-rs", "github:serokell/deploy-rs", &nixpkgs, true);
    }
    for i in &m.inputs {
        let follows: Vec<(&str, &str)> = i
            .follows
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        input(&i.name, &i.url, &follows, i.flake);
    }
    out
}

/// The modules of the machine's configuration, one per line: its `venus/`
/// files, its inputs' modules, its inline modules, its overlays and its
/// home-manager users.
fn configuration_modules(m: &Profile) -> String {
    let line = |s: &str| format!("          {s}\n");
    let mut out: String = m
        .modules
        .iter()
        .map(|p| line(&nix_repo_path(m, p)))
        .collect();
    out.extend(m.input_modules.iter().map(|p| line(&input_attr(p))));
    out.extend((0..m.inline_modules.len()).map(|i| line(&format!("./{}", inline_file(i)))));
    if !m.overlays.is_empty() {
        let overlays: Vec<String> = m
            .overlays
            .iter()
            .map(|o| {
                if is_repo_file(o) {
                    format!("(import {})", nix_repo_path(m, o))
                } else {
                    input_attr(o)
                }
            })
            .collect();
        out.push_str(&line(&format!(
            "{{ nixpkgs.overlays = [ {} ]; }}",
            overlays.join(" ")
        )));
    }
    if !m.secrets.is_empty() {
        let sops_module = format!("sops-nix.{}.sops", modules_attr(m));
        if !m.input_modules.contains(&sops_module) {
            out.push_str(&line(&input_attr(&sops_module)));
        }
        out.push_str("          {\n");
        for (name, s) in &m.secrets {
            let key = if s.format == "binary" {
                String::new()
            } else {
                format!(" key = {};", nix_string(&s.key))
            };
            out.push_str(&format!(
                "            sops.secrets.{} = {{ sopsFile = {}; format = {};{key} }};\n",
                nix_string(name),
                nix_repo_path(m, &s.file),
                nix_string(&s.format),
            ));
        }
        out.push_str("          }\n");
    }
    if !m.home_manager.is_empty() {
        let system = modules_attr(m);
        out.push_str(&line(&format!("inputs.home-manager.{system}.home-manager")));
        out.push_str(
            "          {\n            home-manager.extraSpecialArgs = { inherit ev inputs; };\n",
        );
        for u in &m.home_manager {
            let imports: Vec<String> = u
                .modules
                .iter()
                .map(|p| nix_repo_path(m, p))
                .chain(u.input_modules.iter().map(|p| input_attr(p)))
                .collect();
            out.push_str(&format!(
                "            home-manager.users.{}.imports = [ {} ];\n",
                nix_key(&u.user),
                imports.join(" ")
            ));
        }
        out.push_str("          }\n");
    }
    out
}

/// The flake, values file and inline modules of one machine: its modules
/// read `ev.machine` (name, platform, os, address, tags), each of its
/// declared `values` as `ev.<name>`, and the flake's `inputs`.
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
    let modules = configuration_modules(m);
    let name = nix_key(m.configuration());
    let platform = nix_string(&m.platform);
    let platform_key = nix_key(&m.platform);
    let system = match m.os.as_str() {
        "darwin" => format!(
            "      darwinConfigurations.{name} = inputs.nix-darwin.lib.darwinSystem {{\n        system = {platform};\n        specialArgs = {{ inherit ev inputs; }};\n        modules = [\n{modules}        ];\n      }};\n",
        ),
        "home-manager" => format!(
            "      homeConfigurations.{name} = inputs.home-manager.lib.homeManagerConfiguration {{\n        pkgs = nixpkgs.legacyPackages.{platform_key};\n        extraSpecialArgs = {{ inherit ev inputs; }};\n        modules = [\n{modules}        ];\n      }};\n",
        ),
        _ => format!(
            "      nixosConfigurations.{name} = nixpkgs.lib.nixosSystem {{\n        system = {platform};\n        specialArgs = {{ inherit ev inputs; }};\n        modules = [\n{modules}        ];\n      }};\n",
        ),
    };
    let deploy = match (&address, m.activation.method.as_str()) {
        (Value::String(host), "deploy-rs") => format!(
            "      deploy.nodes.{name} = {{\n        hostname = {host};\n        sshUser = {user};\n        remoteBuild = {remote};\n        profiles.system = {{\n          user = \"root\";\n          path = inputs.deploy-rs.lib.{platform_key}.activate.nixos self.nixosConfigurations.{name};\n        }};\n      }};\n",
            host = nix_string(host),
            user = nix_string(m.activation.ssh_user.as_deref().unwrap_or("root")),
            remote = m.activation.remote_build,
        ),
        _ => String::new(),
    };
    let nix_config = if m.nix_config.is_empty() {
        String::new()
    } else {
        format!(
            "  nixConfig = {};\n\n",
            to_nix(
                &for_tool(&Value::Object(m.nix_config.clone()), SecretAs::EnvRef),
                1
            )
        )
    };
    let flake = format!(
        "# Generated by ev from the `{comment}` machine declaration; do not edit.\n# Its own flake, so its own lock file: updating one machine never moves another.\n{{\n  description = {description};\n\n{nix_config}  inputs = {{\n{inputs}  }};\n\n  outputs = {{ self, nixpkgs, ... }}@inputs:\n    let\n      ev = import ./ev-values.nix;\n    in\n    {{\n{system}{deploy}    }};\n}}\n",
        // Names are plain (`Name`), but comments stay on one line anyway.
        comment = m.name.replace(['\n', '\r'], " "),
        description = nix_string(&format!("{} profile of {}, generated by ev", m.os, m.name)),
        inputs = flake_inputs(m),
    );
    let mut files = vec![
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
    ];
    for (i, module) in m.inline_modules.iter().enumerate() {
        files.push(RenderedFile {
            path: format!("{dir}/{}", inline_file(i)),
            content: format!(
                "# Generated by ev from inline_modules[{i}] of the `{}` machine; do not edit.\n{}\n",
                m.name,
                module.trim_end()
            ),
        });
    }
    files
}
