//! The typed model of the whole topology: every resource with its kind,
//! name, source location, evaluated value and the exact references between
//! resources, plus typed views of the standard kinds for the planner.
//!
//! Built from an evaluated program ([`Model::build`]); the planner, `ev
//! show`, the REPL and the language server all read this one structure.

use std::collections::BTreeSet;

use indexmap::IndexMap;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

use ev_syntax::Span;

use crate::diagnostic::{Diagnostic, Label};
use crate::error::eval_diagnostics;
use crate::eval::Evaluator;
use crate::ir::ResourceId;
use crate::output::{to_json_marked, SECRET_KEY, UNKNOWN_KEY};
use crate::program::Program;

/// `kind.name`, how resources are named on the command line and in references.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ResourceKey {
    /// The kind.
    pub kind: String,
    /// The name.
    pub name: String,
}

impl std::fmt::Display for ResourceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The first dot separates the kind, so names with dots need no quotes.
        if self.name.is_empty() || self.name.contains(|c: char| c.is_whitespace() || c == '"') {
            write!(f, "{}.{}", self.kind, crate::output::quote(&self.name))
        } else {
            write!(f, "{}.{}", self.kind, self.name)
        }
    }
}

/// One resource of the model.
#[derive(Clone, Debug, Serialize)]
pub struct ModelResource {
    /// `kind.name`.
    #[serde(flatten)]
    pub key: ResourceKey,
    /// The declaring file.
    pub file: String,
    /// 1-based line of the declaration.
    pub line: usize,
    /// The declaration's span (not serialized).
    #[serde(skip)]
    pub span: Span,
    /// Its `##` documentation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub doc: Option<String>,
    /// The checked value; unknowns and secrets are marked (`$unknown`, `$secret`).
    pub value: serde_json::Value,
    /// Resources this one uses (directly), sorted.
    pub uses: Vec<ResourceKey>,
    /// Resources using this one (directly), sorted.
    pub used_by: Vec<ResourceKey>,
}

/// The whole topology.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Model {
    /// Every resource, in declaration (load) order.
    pub resources: Vec<ModelResource>,
    /// Typed machines.
    #[serde(skip)]
    pub machines: Vec<Machine>,
    /// Typed DNS zones.
    #[serde(skip)]
    pub domains: Vec<Domain>,
    /// Typed stacks.
    #[serde(skip)]
    pub stacks: Vec<Stack>,
    /// Typed images.
    #[serde(skip)]
    pub images: Vec<Image>,
    /// Typed clusters.
    #[serde(skip)]
    pub clusters: Vec<Cluster>,
    /// Typed apps.
    #[serde(skip)]
    pub apps: Vec<App>,
    /// Where each resource is in `resources`, by key (built by `build`):
    /// lookups while planning are constant time, so planning is linear.
    #[serde(skip)]
    by_key: std::collections::HashMap<ResourceKey, usize>,
    /// Where each typed resource is in its kind's list (`machines`, ...),
    /// by key: the executor finds an action's machine or stack at once.
    #[serde(skip)]
    typed: std::collections::HashMap<ResourceKey, usize>,
}

/// `list[i]` when the index knows `kind`/`name`, else the element named so.
fn typed_lookup<'m, T>(
    model: &Model,
    list: &'m [T],
    kind: &str,
    name: &str,
    name_of: impl Fn(&T) -> &str,
) -> Option<&'m T> {
    let key = ResourceKey {
        kind: kind.to_string(),
        name: name.to_string(),
    };
    match model.typed.get(&key) {
        Some(&i) => list.get(i),
        // A model assembled without `build` has no index.
        None if model.typed.is_empty() => list.iter().find(|t| name_of(t) == name),
        None => None,
    }
}

impl Model {
    /// The typed machine of this name.
    pub fn machine(&self, name: &str) -> Option<&Machine> {
        typed_lookup(self, &self.machines, "machine", name, |m| &m.name)
    }

    /// The typed image of this name.
    pub fn image(&self, name: &str) -> Option<&Image> {
        typed_lookup(self, &self.images, "image", name, |i| &i.name)
    }

    /// The typed stack of this name.
    pub fn stack(&self, name: &str) -> Option<&Stack> {
        typed_lookup(self, &self.stacks, "stack", name, |s| &s.name)
    }

    /// The typed cluster of this name.
    pub fn cluster(&self, name: &str) -> Option<&Cluster> {
        typed_lookup(self, &self.clusters, "cluster", name, |c| &c.name)
    }

    /// Builds the typed index (after the typed lists are filled).
    fn index_typed(&mut self) {
        let mut typed = std::collections::HashMap::new();
        let mut add = |kind: &str, names: Vec<&str>| {
            for (i, name) in names.into_iter().enumerate() {
                typed.insert(
                    ResourceKey {
                        kind: kind.to_string(),
                        name: name.to_string(),
                    },
                    i,
                );
            }
        };
        add(
            "machine",
            self.machines.iter().map(|m| m.name.as_str()).collect(),
        );
        add(
            "image",
            self.images.iter().map(|i| i.name.as_str()).collect(),
        );
        add(
            "stack",
            self.stacks.iter().map(|s| s.name.as_str()).collect(),
        );
        add(
            "cluster",
            self.clusters.iter().map(|c| c.name.as_str()).collect(),
        );
        self.typed = typed;
    }

    /// The resource of this key.
    pub fn resource(&self, key: &ResourceKey) -> Option<&ModelResource> {
        match self.by_key.get(key) {
            Some(&i) => self.resources.get(i),
            // A model assembled without `build` has no index yet.
            None if self.by_key.len() != self.resources.len() => {
                self.resources.iter().find(|r| &r.key == key)
            }
            None => None,
        }
    }

    /// Every secret the values of these resources reference, each once, in
    /// a stable order: what the action realizing them may receive, and
    /// nothing else. Only `secret()` values carry the marker (plain data
    /// cannot spell it: see `output::to_json_marked`).
    pub fn secrets_of(&self, keys: &[ResourceKey]) -> Vec<SecretRef> {
        fn walk(v: &serde_json::Value, out: &mut std::collections::BTreeSet<(String, String)>) {
            match v {
                serde_json::Value::Object(map) => {
                    if let Some(s) = map.get(SECRET_KEY) {
                        if let Ok(secret) = serde_json::from_value::<Secret>(s.clone()) {
                            for r in secret.refs() {
                                out.insert((r.file.clone(), r.key.clone()));
                            }
                        }
                        return;
                    }
                    map.values().for_each(|x| walk(x, out));
                }
                serde_json::Value::Array(items) => items.iter().for_each(|x| walk(x, out)),
                _ => {}
            }
        }
        let mut found = std::collections::BTreeSet::new();
        // By key: one lookup per resource of the action, not a scan of the
        // model per action (which made planning quadratic).
        for r in keys.iter().filter_map(|k| self.resource(k)) {
            walk(&r.value, &mut found);
        }
        found
            .into_iter()
            .map(|(file, key)| SecretRef { file, key })
            .collect()
    }

    /// The resource reference graph in Graphviz dot format: one node per
    /// resource (grouped by kind), an edge from each resource to those it uses.
    pub fn references_dot(&self) -> String {
        let mut out = String::from(
            "digraph resources {\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];\n",
        );
        let kinds: indexmap::IndexSet<&str> =
            self.resources.iter().map(|r| r.key.kind.as_str()).collect();
        for kind in kinds {
            out.push_str(&format!(
                "  subgraph {:?} {{\n    label={kind:?};\n",
                format!("cluster_{kind}")
            ));
            for r in self.resources.iter().filter(|r| r.key.kind == kind) {
                out.push_str(&format!("    {:?};\n", r.key.to_string()));
            }
            out.push_str("  }\n");
        }
        for r in &self.resources {
            for used in &r.uses {
                out.push_str(&format!(
                    "  {:?} -> {:?};\n",
                    r.key.to_string(),
                    used.to_string()
                ));
            }
        }
        out.push_str("}\n");
        out
    }

    /// Evaluates every resource and builds the model. Diagnostics are
    /// returned for resources that fail; those are left out of the model.
    pub fn build(program: &Program, ev: &Evaluator<'_>) -> (Model, Vec<Diagnostic>) {
        let mut model = Model::default();
        let mut diagnostics = Vec::new();
        let mut ok_ids = Vec::new();
        for (i, def) in program.resources.iter().enumerate() {
            let id = ResourceId(i as u32);
            let kind = program
                .kind(def.kind)
                .map(|k| k.name.to_string())
                .unwrap_or_default();
            let (typed, value) = match typed_resource(program, ev, id) {
                Ok(t) => t,
                Err(errors) => {
                    diagnostics.extend(errors);
                    continue;
                }
            };
            match typed {
                Typed::Machine(m) => model.machines.push(m),
                Typed::Domain(d) => model.domains.push(d),
                Typed::Stack(s) => model.stacks.push(s),
                Typed::Image(i) => model.images.push(i),
                Typed::Cluster(c) => model.clusters.push(c),
                Typed::App(a) => model.apps.push(a),
                Typed::Generic => {}
            }
            let file = program.sources.get(def.span.file);
            let line = file.map(|f| f.line_col(def.span.start).0 + 1).unwrap_or(0);
            ok_ids.push(id);
            model.resources.push(ModelResource {
                key: ResourceKey {
                    kind,
                    name: def.name.clone(),
                },
                file: file.map(|f| f.path.clone()).unwrap_or_default(),
                line,
                span: def.span,
                doc: def.doc.clone(),
                value,
                uses: Vec::new(),
                used_by: Vec::new(),
            });
        }
        // References, once every resource was evaluated.
        let key_of = |id: ResourceId| {
            program.resource(id).map(|r| ResourceKey {
                kind: program
                    .kind(r.kind)
                    .map(|k| k.name.to_string())
                    .unwrap_or_default(),
                name: r.name.clone(),
            })
        };
        let mut used_by: IndexMap<ResourceKey, BTreeSet<ResourceKey>> = IndexMap::new();
        for (res, id) in model.resources.iter_mut().zip(ok_ids.iter()) {
            let uses: BTreeSet<ResourceKey> = ev
                .resource_uses(*id)
                .map(|u| u.iter().filter_map(|d| key_of(*d)).collect())
                .unwrap_or_default();
            for target in &uses {
                used_by
                    .entry(target.clone())
                    .or_default()
                    .insert(res.key.clone());
            }
            res.uses = uses.into_iter().collect();
        }
        for res in &mut model.resources {
            if let Some(users) = used_by.get(&res.key) {
                res.used_by = users.iter().cloned().collect();
            }
        }
        model.by_key = model
            .resources
            .iter()
            .enumerate()
            .map(|(i, r)| (r.key.clone(), i))
            .collect();
        model.index_typed();
        (model, diagnostics)
    }

    /// The resource named `kind.name` (or just `name` when only one resource has it).
    pub fn find(&self, query: &str) -> Result<&ModelResource, Vec<String>> {
        let exact = self.resources.iter().find(|r| {
            let k = r.key.to_string();
            k == query || format!("{}.{}", r.key.kind, r.key.name) == query
        });
        if let Some(r) = exact {
            return Ok(r);
        }
        let by_name: Vec<&ModelResource> = self
            .resources
            .iter()
            .filter(|r| r.key.name == query)
            .collect();
        if let [one] = by_name.as_slice() {
            return Ok(one);
        }
        if by_name.len() > 1 {
            return Err(by_name.iter().map(|r| r.key.to_string()).collect());
        }
        let mut all: Vec<String> = self.resources.iter().map(|r| r.key.to_string()).collect();
        all.extend(self.resources.iter().map(|r| r.key.kind.clone()));
        all.dedup();
        Err(crate::suggest::similar(
            query,
            all.iter().map(|s| s.as_str()),
        ))
    }

    /// Every resource reachable from `key` by following `uses` (or `used_by`).
    pub fn transitive(&self, key: &ResourceKey, reverse: bool) -> Vec<ResourceKey> {
        let mut seen: BTreeSet<ResourceKey> = BTreeSet::new();
        let mut stack = vec![key.clone()];
        while let Some(k) = stack.pop() {
            if let Some(r) = self.resource(&k) {
                let next = if reverse { &r.used_by } else { &r.uses };
                for n in next {
                    if seen.insert(n.clone()) {
                        stack.push(n.clone());
                    }
                }
            }
        }
        seen.remove(key);
        seen.into_iter().collect()
    }
}

fn default_nixpkgs() -> String {
    "github:NixOS/nixpkgs/nixos-unstable".into()
}

fn yes() -> bool {
    true
}

/// The typed view of one resource of a standard library kind.
enum Typed {
    Machine(Machine),
    Domain(Domain),
    Stack(Stack),
    Image(Image),
    Cluster(Cluster),
    App(App),
    /// A user's own kind: no typed view.
    Generic,
}

/// Evaluates one resource into its marked JSON value and its typed view,
/// or the diagnostics that keep it out of the model. `ev check` reports
/// the same diagnostics ([`resource_model_diagnostics`]), so a program
/// that checks clean builds its model.
fn typed_resource(
    program: &Program,
    ev: &Evaluator<'_>,
    id: ResourceId,
) -> Result<(Typed, serde_json::Value), Vec<Diagnostic>> {
    let Some(def) = program.resource(id) else {
        return Err(Vec::new());
    };
    let resource = ev
        .resource(id, def.name_span)
        .map_err(|e| eval_diagnostics(&e))?;
    let value = to_json_marked(ev, &resource, def.name_span).map_err(|e| eval_diagnostics(&e))?;
    let kind = program
        .kind(def.kind)
        .map(|k| k.name.to_string())
        .unwrap_or_default();
    // Typed views exist for the standard library's kinds only; a user's
    // own kind that happens to share a name stays generic.
    let standard = program
        .kind(def.kind)
        .and_then(|k| program.module(k.module))
        .is_some_and(|m| m.is_stdlib);
    let typed = match if standard { kind.as_str() } else { "" } {
        "machine" => typed::<Machine>(&value).map(Typed::Machine),
        "domain" => typed(&value).map(Typed::Domain),
        "stack" => typed(&value).map(Typed::Stack),
        "image" => typed(&value).map(Typed::Image),
        "cluster" => typed(&value).map(Typed::Cluster),
        "app" => typed(&value).map(Typed::App),
        _ => Ok(Typed::Generic),
    };
    let typed = typed.map_err(|e| {
        // The stdlib schema and the Rust types disagree: a bug in ev (the
        // schema sweep test looks for these).
        let path = e.path().to_string();
        let field = e.path().iter().next().and_then(|segment| match segment {
            serde_path_to_error::Segment::Map { key } => Some(key.as_str()),
            _ => None,
        });
        let at = match (&resource, field) {
            (crate::value::Value::Record(r), Some(f)) => r.value_span(crate::intern::Sym::new(f)),
            _ => None,
        };
        vec![Diagnostic::error(
            crate::diagnostic::INTERNAL_ERROR,
            format!(
                "internal error: {kind} `{}` does not fit the model at `{path}`: {}",
                def.name,
                e.inner()
            ),
            Label::new(at.unwrap_or(def.name_span), "this value"),
        )
        .with_note("this is a bug in ev, please report it")]
    })?;
    if let Typed::Domain(d) = &typed {
        // octodns reads each secret from one environment variable per key
        // (`env/NAME`): a composed one has no variable to come from.
        let in_settings = d
            .provider
            .settings
            .values()
            .any(|v| matches!(v, Known::Secret(Secret::Composed { .. })));
        let in_options = d
            .processors
            .iter()
            .any(|p| p.options.values().any(holds_composed_secret));
        if in_settings || in_options {
            let field = if in_settings {
                "provider"
            } else {
                "processors"
            };
            let at = match &resource {
                crate::value::Value::Record(r) => r.value_span(crate::intern::Sym::new(field)),
                _ => None,
            }
            .unwrap_or(def.name_span);
            return Err(vec![Diagnostic::error(
                "E0409",
                format!("domain `{}` passes a composed secret to octodns", def.name),
                Label::new(at, "a `secret_format(...)` value in here"),
            )
            .with_note("octodns reads each secret from an environment variable holding one key of a sops file")
            .with_help("pass the key itself with `secret(file, key)`; composed secrets go to an app's `env` or a stack's `config`")]);
        }
    }
    Ok((typed, value))
}

/// Whether marked JSON holds a composed secret (`{"$secret": {"parts"}}`).
fn holds_composed_secret(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Object(map) => match map.get(SECRET_KEY) {
            Some(s) => s.get("parts").is_some(),
            None => map.values().any(holds_composed_secret),
        },
        serde_json::Value::Array(items) => items.iter().any(holds_composed_secret),
        _ => false,
    }
}

/// The diagnostics that keep one resource out of the model (none when it
/// builds): what `ev check` adds to evaluation and schema errors.
pub fn resource_model_diagnostics(
    program: &Program,
    ev: &Evaluator<'_>,
    id: ResourceId,
) -> Vec<Diagnostic> {
    typed_resource(program, ev, id).err().unwrap_or_default()
}

/// The typed view of marked JSON; a failure names the path inside it.
fn typed<T: DeserializeOwned>(
    value: &serde_json::Value,
) -> Result<T, serde_path_to_error::Error<serde_json::Error>> {
    serde_path_to_error::deserialize(value)
}

/// A reference to one key of a sops-encrypted file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretRef {
    /// The file.
    pub file: String,
    /// The dotted key.
    pub key: String,
}

/// A secret as the model holds it: the content of a `$secret` marker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Secret {
    /// One key of a sops file.
    Ref(SecretRef),
    /// Text and keys joined at apply time (`secret_format`).
    Composed {
        /// The parts, in order.
        parts: Vec<SecretPart>,
    },
}

/// A part of a composed secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SecretPart {
    /// Plain text.
    Text(String),
    /// A key of a sops file.
    Ref(SecretRef),
}

impl Secret {
    /// The sops keys it needs.
    pub fn refs(&self) -> Vec<&SecretRef> {
        match self {
            Secret::Ref(r) => vec![r],
            Secret::Composed { parts } => parts
                .iter()
                .filter_map(|p| match p {
                    SecretPart::Ref(r) => Some(r),
                    SecretPart::Text(_) => None,
                })
                .collect(),
        }
    }
}

/// Why a value is not known until apply, and the export file it waits
/// for (the `$unknown` marker of [`crate::output::to_json_marked`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// For people: "exports/jupiter/generated.json does not exist yet".
    pub reason: String,
    /// The repository file whose absence makes it unknown; the action
    /// producing that file must run first.
    pub file: Option<String>,
}

/// A value that may not be known until apply, or may be a secret.
/// (De)serialized as the plain value or the `$unknown`/`$secret` marker of
/// [`crate::output::to_json_marked`]: one encoding everywhere.
#[derive(Clone, Debug, PartialEq)]
pub enum Known<T> {
    /// A plain value.
    Value(T),
    /// Not known until apply.
    Unknown(Pending),
    /// A secret (a reference, or text composed with references).
    Secret(Secret),
}

impl<T> Known<T> {
    /// The value, when known and not secret.
    pub fn value(&self) -> Option<&T> {
        match self {
            Known::Value(v) => Some(v),
            _ => None,
        }
    }
}

impl<T: Serialize> Serialize for Known<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            Known::Value(v) => v.serialize(s),
            Known::Unknown(pending) => {
                let mut map = s.serialize_map(Some(1))?;
                map.serialize_entry(UNKNOWN_KEY, pending)?;
                map.end()
            }
            Known::Secret(secret) => {
                let mut map = s.serialize_map(Some(1))?;
                map.serialize_entry(SECRET_KEY, secret)?;
                map.end()
            }
        }
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Known<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        if let Some(obj) = v.as_object() {
            if obj.len() == 1 {
                if let Some(pending) = obj.get(UNKNOWN_KEY) {
                    return serde_json::from_value(pending.clone())
                        .map(Known::Unknown)
                        .map_err(serde::de::Error::custom);
                }
                if let Some(secret) = obj.get(SECRET_KEY) {
                    return serde_json::from_value(secret.clone())
                        .map(Known::Secret)
                        .map_err(serde::de::Error::custom);
                }
            }
        }
        serde_json::from_value(v)
            .map(Known::Value)
            .map_err(serde::de::Error::custom)
    }
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

/// A DNS record value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RecordValue {
    /// A, AAAA, CNAME, ALIAS, TXT, NS, PTR.
    Text(String),
    /// MX.
    Mx {
        /// Mail server.
        exchange: String,
        /// Preference.
        preference: u16,
    },
    /// SRV.
    Srv {
        /// Priority.
        priority: u16,
        /// Weight.
        weight: u16,
        /// Port.
        port: u16,
        /// Target.
        target: String,
    },
    /// CAA.
    Caa {
        /// Flags.
        flags: u8,
        /// Tag.
        tag: String,
        /// Value.
        value: String,
    },
}

/// A DNS record set (`stdlib/dns.ev`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Name relative to the zone ("" = apex).
    pub name: String,
    /// Record type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Values, possibly unknown.
    pub values: Vec<Known<RecordValue>>,
    /// TTL override.
    pub ttl: Option<u32>,
    /// Cloudflare options.
    pub cloudflare: Option<IndexMap<String, serde_json::Value>>,
}

/// An octodns provider.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Provider {
    /// Name in the octodns config.
    pub name: String,
    /// Provider class.
    pub class: String,
    /// Settings; credentials are secrets.
    pub settings: IndexMap<String, Known<serde_json::Value>>,
}

/// An octodns processor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Processor {
    /// Name in the octodns config.
    pub name: String,
    /// Processor class.
    pub class: String,
    /// Options.
    pub options: IndexMap<String, serde_json::Value>,
}

/// A DNS zone (`stdlib/dns.ev`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Domain {
    /// Zone name without trailing dot.
    pub name: String,
    /// Where it is synced.
    pub provider: Provider,
    /// Default TTL.
    pub ttl: u32,
    /// Record sets.
    pub records: Vec<Record>,
    /// Processors.
    pub processors: Vec<Processor>,
    /// Refuse deletion.
    pub protect: bool,
    /// Seconds one tool run of applying it may take.
    #[serde(default)]
    pub apply_timeout: Option<u64>,
}

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
    /// Values read back from exports/<name>/generated.json.
    pub outputs: Known<serde_json::Value>,
    /// Refuse destruction.
    pub protect: bool,
    /// Seconds one tool run of applying it may take.
    #[serde(default)]
    pub apply_timeout: Option<u64>,
}

/// How an image is built.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ImageBuild {
    /// A Nix attribute producing a docker archive.
    Nix {
        /// Flake reference.
        flake: String,
        /// Attribute path.
        attribute: String,
    },
    /// An OCI image assembled by ev.
    Oci {
        /// Base image.
        base: Option<String>,
        /// Image path -> repository path.
        files: IndexMap<String, String>,
        /// Entrypoint.
        entrypoint: Vec<String>,
        /// Environment.
        env: IndexMap<String, String>,
        /// Working directory.
        workdir: Option<String>,
    },
}

/// A container image (`stdlib/image.ev`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Image {
    /// Name.
    pub name: String,
    /// Push destination.
    pub repository: String,
    /// Build recipe.
    pub build: ImageBuild,
    /// Tags.
    pub tags: Vec<String>,
    /// Where the digest is recorded.
    pub digest_file: String,
    /// Verify the registry's TLS certificate.
    #[serde(default = "yes")]
    pub tls_verify: bool,
    /// The pushed digest, possibly unknown.
    pub digest: Known<String>,
    /// `repository@digest`, possibly unknown.
    pub pinned: Known<String>,
    /// Seconds one tool run of applying it may take.
    #[serde(default)]
    pub apply_timeout: Option<u64>,
}

/// A Kubernetes cluster (`stdlib/cluster.ev`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cluster {
    /// Name.
    pub name: String,
    /// kubectl context.
    pub context: String,
    /// The machine it runs on, when ev deploys it.
    #[serde(default)]
    pub machine: Option<String>,
    /// Default namespace.
    pub namespace: String,
    /// Seconds one tool run of applying it may take.
    #[serde(default)]
    pub apply_timeout: Option<u64>,
}

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
    /// Claim size.
    pub size: Option<String>,
    /// Storage class.
    pub storage_class: Option<String>,
    /// Host path.
    pub host_path: Option<String>,
    /// Read-only.
    pub read_only: bool,
}

/// An ingress route.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ingress {
    /// Host name.
    pub host: String,
    /// Path.
    pub path: String,
    /// Port name.
    pub port: Option<String>,
    /// TLS.
    pub tls: bool,
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
    /// Command.
    pub command: Option<Vec<String>>,
    /// Arguments.
    pub args: Option<Vec<String>>,
    /// Ports.
    pub ports: Vec<Port>,
    /// Environment; secrets become a Kubernetes Secret.
    pub env: IndexMap<String, Known<String>>,
    /// Volumes.
    pub volumes: Vec<Volume>,
    /// Config files: path -> content.
    pub config_files: IndexMap<String, String>,
    /// Ingress routes.
    pub ingress: Vec<Ingress>,
    /// Wait for rollout.
    pub wait: bool,
    /// Raw manifests.
    pub manifests: Vec<serde_json::Value>,
}
