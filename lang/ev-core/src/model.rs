//! The model of the whole topology: every resource with its kind, name,
//! source location, evaluated value (marked JSON) and the exact references
//! between resources, and the typed reading of the markers (`Known`,
//! `Secret`). Kind-agnostic: the typed views of the standard kinds belong
//! to the backends realizing them (`ev_deploy::backends`).
//!
//! Built from an evaluated program ([`Model::build`]); the planner, `ev
//! show`, the REPL and the language server all read this one structure.

use std::collections::BTreeSet;

use indexmap::IndexMap;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

use ev_syntax::Span;

use crate::diagnostic::Diagnostic;
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
    /// Its kind is the standard library's (not a user's kind of that name).
    #[serde(skip)]
    pub standard: bool,
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
    /// Where each resource is in `resources`, by key (built by `build`):
    /// lookups while planning are constant time, so planning is linear.
    #[serde(skip)]
    by_key: std::collections::HashMap<ResourceKey, usize>,
}

/// What a layer above the language checks of every resource that
/// evaluates clean: the deployment layer checks that its value fits the
/// typed view of the backend realizing it (`ev_deploy`). The checks run
/// where the model is built and where `ev check` runs, so a program that
/// checks clean builds its model.
pub trait ResourceCheck {
    /// The diagnostics of one evaluated resource (its marked JSON value);
    /// none when it fits.
    fn check_resource(
        &self,
        program: &Program,
        ev: &Evaluator<'_>,
        id: ResourceId,
        resource: &ModelResource,
    ) -> Vec<Diagnostic>;

    /// Whether using a resource of this kind is part of the topology
    /// (`uses`, `used_by`): not for kinds that every resource reads and
    /// nothing deploys, whose edges would say nothing.
    fn in_topology(&self, kind: &str) -> bool {
        let _ = kind;
        true
    }
}

/// The language's checks alone: nothing beyond schemas and evaluation.
pub struct LanguageOnly;

impl ResourceCheck for LanguageOnly {
    fn check_resource(
        &self,
        _: &Program,
        _: &Evaluator<'_>,
        _: ResourceId,
        _: &ModelResource,
    ) -> Vec<Diagnostic> {
        Vec::new()
    }
}

impl Model {
    /// The resources of one kind, in declaration order.
    pub fn of_kind<'m>(&'m self, kind: &'m str) -> impl Iterator<Item = &'m ModelResource> + 'm {
        self.resources.iter().filter(move |r| r.key.kind == kind)
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

    /// Evaluates every resource and builds the model; `check` adds the
    /// checks of the layer above (see [`ResourceCheck`]). Diagnostics are
    /// returned for resources that fail; those are left out of the model.
    pub fn build(
        program: &Program,
        ev: &Evaluator<'_>,
        check: &dyn ResourceCheck,
    ) -> (Model, Vec<Diagnostic>) {
        let mut model = Model::default();
        let mut diagnostics = Vec::new();
        let mut ok_ids = Vec::new();
        for i in 0..program.resources.len() {
            let id = ResourceId(i as u32);
            let resource = match evaluated_resource(program, ev, id) {
                Ok(r) => r,
                Err(errors) => {
                    diagnostics.extend(errors);
                    continue;
                }
            };
            let errors = check.check_resource(program, ev, id, &resource);
            if !errors.is_empty() {
                diagnostics.extend(errors);
                continue;
            }
            ok_ids.push(id);
            model.resources.push(resource);
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
                .map(|u| {
                    u.iter()
                        .filter_map(|d| key_of(*d))
                        .filter(|k| check.in_topology(&k.kind))
                        .collect()
                })
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

/// One resource evaluated into its marked JSON value (references not
/// filled in yet), or the diagnostics that keep it out of the model.
pub fn evaluated_resource(
    program: &Program,
    ev: &Evaluator<'_>,
    id: ResourceId,
) -> Result<ModelResource, Vec<Diagnostic>> {
    let Some(def) = program.resource(id) else {
        return Err(Vec::new());
    };
    let resource = ev
        .resource(id, def.name_span)
        .map_err(|e| eval_diagnostics(&e))?;
    let value = to_json_marked(ev, &resource, def.name_span).map_err(|e| eval_diagnostics(&e))?;
    let kind = program.kind(def.kind);
    let file = program.sources.get(def.span.file);
    Ok(ModelResource {
        key: ResourceKey {
            kind: kind.map(|k| k.name.to_string()).unwrap_or_default(),
            name: def.name.clone(),
        },
        // Typed views exist for the standard library's kinds only; a
        // user's own kind that happens to share a name stays generic.
        standard: kind
            .and_then(|k| program.module(k.module))
            .is_some_and(|m| m.is_stdlib),
        file: file.map(|f| f.path.clone()).unwrap_or_default(),
        line: file.map(|f| f.line_col(def.span.start).0 + 1).unwrap_or(0),
        span: def.span,
        doc: def.doc.clone(),
        value,
        uses: Vec::new(),
        used_by: Vec::new(),
    })
}

/// The span of a resource's field value (for diagnostics about it), else
/// of its name.
pub fn field_span(
    program: &Program,
    ev: &Evaluator<'_>,
    id: ResourceId,
    field: &str,
) -> Option<Span> {
    let def = program.resource(id)?;
    let at = match ev.resource(id, def.name_span) {
        Ok(crate::value::Value::Record(r)) => r.value_span(crate::intern::Sym::new(field)),
        _ => None,
    };
    Some(at.unwrap_or(def.name_span))
}

/// A reference to one key of a sops-encrypted file, or to all of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretRef {
    /// The file.
    pub file: String,
    /// The dotted key; empty for the whole file (`secret_file`).
    pub key: String,
}

impl SecretRef {
    /// Whether it is the whole decrypted file.
    pub fn is_whole_file(&self) -> bool {
        self.key.is_empty()
    }
}

impl std::fmt::Display for SecretRef {
    /// `file#key`, or the file alone for the whole file.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_whole_file() {
            f.write_str(&self.file)
        } else {
            write!(f, "{}#{}", self.file, self.key)
        }
    }
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
