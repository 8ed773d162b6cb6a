//! octodns: DNS zones (`domain`, `stdlib/dns.ev`). Each zone is one
//! action (`eight:yuto.sh`) whose artifact holds its provider, processors
//! and record sets as data; at the edge it becomes one zone file
//! (YamlProvider format, names sorted as octodns requires) and one manager
//! config per zone (so adding or removing a zone changes no other zone's
//! action) — unless the user shares one (`octodns_config`): then every
//! zone of it renders the same file listing them all, and is still synced
//! alone. Secrets reach octodns as `env/NAME` references to variables the
//! driver sets.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use ev_core::model::{Known, Model, ModelResource, ResourceKey, Secret};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::backend::{
    layer, view, view_json, views, Artifact, ArtifactData, Backend, BackendId, Item, ItemView,
    Lowered, Misfit, RenderedFile,
};
use crate::markers::{
    for_tool, marked, marker, secret_env_name, secret_env_ref, sorted, yaml, SecretAs,
};
use crate::plan::details::ItemKind;
use crate::plan::ActionId;

// The typed views of the stdlib kinds (the schema link).

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
    /// octodns leaves it alone.
    pub ignored: bool,
    /// Providers that do not get it.
    pub excluded: Vec<String>,
    /// The only providers that get it.
    pub included: Vec<String>,
    /// More record-level octodns options.
    pub octodns: serde_json::Map<String, serde_json::Value>,
}

impl Record {
    /// The record's `octodns:` block: the typed options, then the others;
    /// none when empty.
    fn octodns_block(&self) -> Option<Value> {
        let mut block = self.octodns.clone();
        if let Some(cf) = &self.cloudflare {
            block.insert("cloudflare".into(), marked(cf));
        }
        if self.ignored {
            block.insert("ignored".into(), json!(true));
        }
        if !self.excluded.is_empty() {
            block.insert("excluded".into(), json!(self.excluded));
        }
        if !self.included.is_empty() {
            block.insert("included".into(), json!(self.included));
        }
        (!block.is_empty()).then_some(Value::Object(block))
    }
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
    /// The environment variables secret settings are read from, by setting.
    pub env: IndexMap<String, String>,
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

/// A manager config zones share (`stdlib/dns.ev`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OctodnsConfig {
    /// Its name: its file's.
    pub name: String,
    /// Where its zones are synced.
    pub provider: Provider,
    /// Default TTL of its zones' records.
    pub ttl: u32,
    /// Whether octodns checks that zone files are sorted.
    pub enforce_order: bool,
    /// Processors.
    pub processors: Vec<Processor>,
    /// Options of the octodns manager.
    pub manager: serde_json::Map<String, serde_json::Value>,
}

/// A DNS zone (`stdlib/dns.ev`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Domain {
    /// Zone name without trailing dot.
    pub name: String,
    /// Where it is synced (none: through its shared config).
    pub provider: Option<Provider>,
    /// The shared config it is listed in.
    pub config: Option<String>,
    /// Default TTL (none: its config's, else 300).
    pub ttl: Option<u32>,
    /// Record sets.
    pub records: Vec<Record>,
    /// Processors.
    pub processors: Vec<Processor>,
    /// Options of the octodns manager.
    pub manager: serde_json::Map<String, serde_json::Value>,
    /// Refuse deletion.
    pub protect: bool,
    /// Seconds one tool run of applying it may take.
    #[serde(default)]
    pub apply_timeout: Option<u64>,
}

/// The octodns backend.
pub struct Octodns;

impl Backend for Octodns {
    fn id(&self) -> BackendId {
        BackendId::Octodns
    }

    fn kinds(&self) -> &'static [&'static str] {
        &["domain", "octodns_config"]
    }

    /// A zone is its name at its provider: octodns cannot rename a zone
    /// or carry it to another DNS service.
    fn cannot_move(&self, before: &Artifact, after: &Artifact) -> Option<String> {
        let (Artifact::Octodns(before), Artifact::Octodns(after)) = (before, after) else {
            return None;
        };
        if before.zone != after.zone {
            Some(format!(
                "`{}` and `{}` are two zones, and octodns cannot rename one into the other",
                before.zone, after.zone
            ))
        } else if before.provider.class != after.provider.class {
            Some(format!(
                "the zone is synced to another kind of provider (`{}`, was `{}`)",
                after.provider.class, before.provider.class
            ))
        } else {
            None
        }
    }

    fn typed_view(&self, resource: &ModelResource) -> Result<Value, Box<Misfit>> {
        self.check(resource)?;
        if resource.key.kind == "octodns_config" {
            view_json::<OctodnsConfig>(resource)
        } else {
            view_json::<Domain>(resource)
        }
    }

    fn check(&self, resource: &ModelResource) -> Result<(), Box<Misfit>> {
        if resource.key.kind == "octodns_config" {
            let config = view::<OctodnsConfig>(resource)?;
            return refuse_composed_secrets(
                "octodns config",
                &config.name,
                Some(&config.provider),
                &config.processors,
            );
        }
        let d = view::<Domain>(resource)?;
        if let Some(r) = d.records.iter().find(|r| !is_record_name(&r.name)) {
            return Err(Box::new(Misfit {
                code: "E0305",
                field: Some("records".into()),
                message: format!(
                    "{} is not a record name",
                    ev_core::output::quote(&r.name)
                ),
                label: "a record set of this zone".into(),
                notes: Vec::new(),
                help: Some("a record name is labels of lower-case letters, digits, `-` and `_` joined by `.` (`*` first for a wildcard), or \"\" for the apex".into()),
            }));
        }
        refuse_composed_secrets("domain", &d.name, d.provider.as_ref(), &d.processors)
    }

    fn lower(&self, model: &Model) -> Vec<Lowered> {
        let configs: HashMap<String, (ResourceKey, OctodnsConfig)> =
            views::<OctodnsConfig>(model, "octodns_config")
                .map(|(r, c)| (c.name.clone(), (r.key.clone(), c)))
                .collect();
        let domains: Vec<(&ModelResource, Domain)> = views::<Domain>(model, "domain").collect();
        // The zones each shared config lists, sorted (its file says so).
        let mut members: HashMap<&str, BTreeSet<&str>> = HashMap::new();
        for (_, d) in &domains {
            if let Some(config) = &d.config {
                members.entry(config).or_default().insert(&d.name);
            }
        }
        domains
            .iter()
            .filter_map(|(r, d)| {
                let mut resources = vec![r.key.clone()];
                let source = match (&d.provider, &d.config) {
                    (Some(provider), None) => Source::own(d, provider),
                    (None, Some(name)) => {
                        // `Ref(octodns_config)` was checked: the config exists.
                        let (key, config) = configs.get(name)?;
                        // The config's secrets (its provider's) are the zone's.
                        resources.push(key.clone());
                        let zones = members.get(name.as_str()).into_iter().flatten();
                        Source::shared(config, zones.map(|z| z.to_string()).collect())
                    }
                    // Refused by the schema's check: one of the two.
                    _ => return None,
                };
                let mut action = Lowered::new(
                    ActionId::new(BackendId::Octodns, &layer(r), &d.name),
                    resources,
                    Artifact::Octodns(Zone::of(d, source)),
                );
                action.protected = d.protect;
                action.timeout = d.apply_timeout;
                Some(action)
            })
            .collect()
    }
}

/// Where a zone's provider, processors and manager options come from: the
/// zone itself, or the shared config it is listed in.
pub struct Source<'d> {
    provider: &'d Provider,
    processors: &'d [Processor],
    manager: &'d Map<String, Value>,
    default_ttl: u32,
    enforce_order: bool,
    shared: Option<Shared>,
}

impl<'d> Source<'d> {
    /// A zone with a config of its own.
    fn own(d: &'d Domain, provider: &'d Provider) -> Source<'d> {
        Source {
            provider,
            processors: &d.processors,
            manager: &d.manager,
            default_ttl: d.ttl.unwrap_or(DEFAULT_TTL),
            enforce_order: true,
            shared: None,
        }
    }

    /// A zone listed in `config`, with the config's other `zones`.
    fn shared(config: &'d OctodnsConfig, zones: Vec<String>) -> Source<'d> {
        Source {
            provider: &config.provider,
            processors: &config.processors,
            manager: &config.manager,
            default_ttl: config.ttl,
            enforce_order: config.enforce_order,
            shared: Some(Shared {
                name: config.name.clone(),
                zones,
            }),
        }
    }
}

/// The TTL of records when neither they, their zone nor its config say.
const DEFAULT_TTL: u32 = 300;

/// octodns reads each secret from one environment variable per sops key
/// (`env/NAME`): a composed secret has no variable to come from (E0409).
fn refuse_composed_secrets(
    kind: &str,
    name: &str,
    provider: Option<&Provider>,
    processors: &[Processor],
) -> Result<(), Box<Misfit>> {
    let in_settings = provider.is_some_and(|p| {
        p.settings
            .values()
            .any(|v| matches!(v, Known::Secret(Secret::Composed { .. })))
    });
    let in_options = processors
        .iter()
        .any(|p| p.options.values().any(holds_composed_secret));
    if !in_settings && !in_options {
        return Ok(());
    }
    Err(Box::new(Misfit {
        code: "E0409",
        field: Some(if in_settings { "provider" } else { "processors" }.into()),
        message: format!("{kind} `{name}` passes a composed secret to octodns"),
        label: "a `secret_format(...)` value in here".into(),
        notes: vec!["octodns reads each secret from an environment variable holding one key of a sops file".into()],
        help: Some("pass the key itself with `secret(file, key)`; composed secrets go to an app's `env` or a stack's `config`".into()),
    }))
}

/// Whether marked JSON holds a composed secret (`{"$secret": {"parts"}}`).
fn holds_composed_secret(v: &Value) -> bool {
    match v {
        Value::Object(map) => match map.get(ev_core::output::SECRET_KEY) {
            Some(s) => s.get("parts").is_some(),
            None => map.values().any(holds_composed_secret),
        },
        Value::Array(items) => items.iter().any(holds_composed_secret),
        _ => false,
    }
}

// The artifact.

/// One zone as octodns is given it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Zone {
    /// The zone, without the trailing dot.
    pub zone: String,
    /// Where it is synced (settings marked: credentials are secrets).
    pub provider: Plugin,
    /// Its processors, in order.
    pub processors: Vec<Plugin>,
    /// Its record sets, in declaration order.
    pub records: Vec<RecordSet>,
    /// Options of the octodns manager, merged over ev's.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub manager: Map<String, Value>,
    /// The `default_ttl` of the YamlProvider the zone file is read with
    /// (a state from before it was recorded: what ev rendered then).
    #[serde(default = "default_ttl")]
    pub default_ttl: u32,
    /// Whether that provider checks the zone file's names are sorted.
    #[serde(default = "enforce_order")]
    pub enforce_order: bool,
    /// The shared config the zone is listed in, where it is in one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared: Option<Shared>,
}

fn default_ttl() -> u32 {
    DEFAULT_TTL
}

fn enforce_order() -> bool {
    true
}

/// A manager config several zones share.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Shared {
    /// Its name (`octodns/config/<name>.yaml`).
    pub name: String,
    /// Every zone it lists, sorted.
    pub zones: Vec<String>,
}

/// An octodns provider or processor: its name in the config, its class
/// and its settings (marked JSON).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plugin {
    /// Name in the octodns config.
    pub name: String,
    /// Python class.
    pub class: String,
    /// Settings.
    pub settings: IndexMap<String, Value>,
    /// The environment variable a secret setting is read from, where the
    /// user named one (else ev names it: [`secret_env_name`]).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub env: IndexMap<String, String>,
}

impl Plugin {
    /// Its secret settings with the environment variable octodns reads
    /// each from (`env/NAME` in the config).
    pub fn secret_env(&self) -> Vec<(String, Secret)> {
        self.settings
            .iter()
            .flat_map(|(k, v)| secrets_in(v).into_iter().map(move |s| (k, s)))
            .map(|(k, secret)| (self.env_name(k, &secret), secret))
            .collect()
    }

    /// The variable of the secret in setting `key`.
    fn env_name(&self, key: &str, secret: &Secret) -> String {
        match (self.env.get(key), secret) {
            (Some(name), _) => name.clone(),
            (None, Secret::Ref(r)) => secret_env_name(&r.file, &r.key),
            // Refused at check (E0409): octodns reads one key per variable.
            (None, composed) => secret_env_ref(composed)
                .trim_start_matches("env/")
                .to_string(),
        }
    }

    /// Its settings as octodns reads them: secrets as `env/NAME`.
    fn tool_json(&self) -> Map<String, Value> {
        let mut out = Map::new();
        out.insert("class".into(), Value::String(self.class.clone()));
        for (k, v) in &self.settings {
            let value = match marker(v) {
                Some(Known::Secret(secret)) => json!(format!("env/{}", self.env_name(k, &secret))),
                // octodns resolves `env/NAME` in processor options too.
                _ => for_tool(v, SecretAs::EnvRef),
            };
            out.insert(k.clone(), value);
        }
        out
    }
}

/// The secrets marked in a value.
fn secrets_in(v: &Value) -> Vec<Secret> {
    match marker(v) {
        Some(Known::Secret(s)) => vec![s],
        Some(_) => Vec::new(),
        None => match v {
            Value::Object(m) => m.values().flat_map(secrets_in).collect(),
            Value::Array(items) => items.iter().flat_map(secrets_in).collect(),
            _ => Vec::new(),
        },
    }
}

impl Zone {
    /// Every secret octodns reads for this zone, with its variable.
    pub fn secret_env(&self) -> Vec<(String, Secret)> {
        let mut all = self.provider.secret_env();
        all.extend(self.processors.iter().flat_map(Plugin::secret_env));
        all
    }
}

/// One record set (a name and a type) as octodns reads it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordSet {
    /// Name relative to the zone (`""` for the apex).
    pub name: String,
    /// Record type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Time to live (the record's own, else the zone's).
    pub ttl: u32,
    /// Values (marked: one may be unknown until apply).
    pub values: Vec<Value>,
    /// Record-level octodns options (`octodns.cloudflare`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub octodns: Option<Value>,
}

impl Zone {
    /// The artifact of a domain, synced as `source` says.
    pub fn of(d: &Domain, source: Source<'_>) -> Zone {
        let provider = source.provider;
        Zone {
            zone: d.name.clone(),
            provider: Plugin {
                name: provider.name.clone(),
                class: provider.class.clone(),
                settings: provider
                    .settings
                    .iter()
                    .map(|(k, v)| (k.clone(), marked(v)))
                    .collect(),
                env: provider.env.clone(),
            },
            processors: source
                .processors
                .iter()
                .map(|p| Plugin {
                    name: p.name.clone(),
                    class: p.class.clone(),
                    settings: p.options.clone(),
                    env: IndexMap::new(),
                })
                .collect(),
            manager: source.manager.clone(),
            default_ttl: source.default_ttl,
            enforce_order: source.enforce_order,
            shared: source.shared,
            records: d
                .records
                .iter()
                .map(|r| RecordSet {
                    name: r.name.clone(),
                    kind: r.kind.clone(),
                    ttl: r.ttl.or(d.ttl).unwrap_or(source.default_ttl),
                    values: r.values.iter().map(|v| sorted(marked(v))).collect(),
                    octodns: r.octodns_block(),
                })
                .collect(),
        }
    }

    /// The manager config's path relative to `octodns/`:
    /// `config/<zone>.yaml`, or the shared config's `config/<name>.yaml`.
    pub fn config_file(&self) -> String {
        let name = self.shared.as_ref().map_or(&self.zone, |s| &s.name);
        format!("config/{name}.yaml")
    }

    /// The manager config at `octodns/<config_file>` (run from `octodns/`,
    /// so the zone files are in `./zones`): the zone's own, or the shared
    /// one listing every zone of its config.
    pub fn config(&self) -> RenderedFile {
        let plugin = |p: &Plugin| Value::Object(p.tool_json());
        let mut providers = Map::new();
        providers.insert(
            "config".into(),
            json!({
                "class": "octodns.provider.yaml.YamlProvider",
                "directory": "./zones",
                "default_ttl": self.default_ttl,
                "enforce_order": self.enforce_order,
            }),
        );
        providers.insert(self.provider.name.clone(), plugin(&self.provider));
        let processors: Map<String, Value> = self
            .processors
            .iter()
            .map(|p| (p.name.clone(), plugin(p)))
            .collect();
        let mut zone = Map::new();
        zone.insert("sources".into(), json!(["config"]));
        if !self.processors.is_empty() {
            zone.insert(
                "processors".into(),
                json!(self.processors.iter().map(|p| &p.name).collect::<Vec<_>>()),
            );
        }
        zone.insert("targets".into(), json!([self.provider.name]));
        let mut manager = json!({
            "max_workers": 2,
            "plan_outputs": { "json": { "class": "octodns.provider.plan.PlanJson" } },
        });
        crate::backend::merge_patch(
            &mut manager,
            &for_tool(&Value::Object(self.manager.clone()), SecretAs::EnvRef),
        );
        let zone = Value::Object(zone);
        let zones: Map<String, Value> = match &self.shared {
            Some(shared) => shared
                .zones
                .iter()
                .map(|z| (format!("{z}."), zone.clone()))
                .collect(),
            None => [(format!("{}.", self.zone), zone)].into_iter().collect(),
        };
        let doc = json!({
            "manager": manager,
            "providers": providers,
            "processors": processors,
            "zones": zones,
        });
        RenderedFile {
            path: format!("octodns/{}", self.config_file()),
            content: format!(
                "# Generated by ev from the domain declarations; do not edit.\n{}",
                yaml(&doc)
            ),
        }
    }

    /// The zone file at `octodns/zones/<zone>.yaml`, with `records`.
    pub fn zone_file(&self, records: &[RecordSet]) -> RenderedFile {
        // Names sorted (octodns' YamlProvider enforces it); record sets of a
        // name keep declaration order.
        let mut by_name: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
        for r in records {
            by_name.entry(&r.name).or_default().push(r.tool_json());
        }
        let doc: Map<String, Value> = by_name
            .into_iter()
            .map(|(name, mut sets)| {
                let value = match sets.len() {
                    1 => sets.pop().unwrap_or(Value::Null),
                    _ => Value::Array(sets),
                };
                (name.to_string(), value)
            })
            .collect();
        RenderedFile {
            path: format!("octodns/zones/{}.yaml", self.zone),
            content: format!(
                "# Generated by ev from the `{}` domain declaration; do not edit.\n---\n{}",
                self.zone,
                yaml(&Value::Object(doc))
            ),
        }
    }
}

impl RecordSet {
    /// The set as octodns' YamlProvider reads it.
    fn tool_json(&self) -> Value {
        let mut out = Map::new();
        if let Some(options) = &self.octodns {
            // octodns' YAML loader wants every mapping's keys sorted.
            out.insert(
                "octodns".into(),
                sorted(for_tool(options, SecretAs::EnvRef)),
            );
        }
        out.insert("ttl".into(), json!(self.ttl));
        out.insert("type".into(), Value::String(self.kind.clone()));
        let values: Vec<Value> = self
            .values
            .iter()
            .map(|v| sorted(for_tool(v, SecretAs::EnvRef)))
            .collect();
        match <[Value; 1]>::try_from(values) {
            Ok([one]) => out.insert("value".into(), one),
            Err(values) => out.insert("values".into(), Value::Array(values)),
        };
        Value::Object(out)
    }

    /// The fields people compare: everything but the name and type (its
    /// label).
    fn compared(&self) -> Value {
        let mut out = Map::new();
        if let Some(options) = &self.octodns {
            out.insert("octodns".into(), options.clone());
        }
        out.insert("ttl".into(), json!(self.ttl));
        out.insert("values".into(), Value::Array(self.values.clone()));
        Value::Object(out)
    }
}

impl ArtifactData for Zone {
    fn files(&self) -> Vec<RenderedFile> {
        vec![self.config(), self.zone_file(&self.records)]
    }

    fn items(&self) -> Vec<Item> {
        let mut items: Vec<Item> = self
            .records
            .iter()
            .map(|r| Item {
                kind: ItemKind::Record,
                // Sorted by name, then type.
                key: format!("{}\0{}", r.name, r.kind),
                label: format!(
                    "{} {}",
                    if r.name.is_empty() { "@" } else { &r.name },
                    r.kind
                ),
                value: r.compared(),
                view: ItemView::Fields,
                with_action: false,
            })
            .collect();
        items.push(Item {
            kind: ItemKind::Config,
            // First, before every record set.
            key: String::new(),
            label: "octodns config (provider, processors)".into(),
            value: {
                let mut config = json!({
                    "provider": self.provider,
                    "processors": self.processors,
                    "default_ttl": self.default_ttl,
                    "enforce_order": self.enforce_order,
                });
                if let Some(c) = config.as_object_mut() {
                    if !self.manager.is_empty() {
                        c.insert("manager".into(), Value::Object(self.manager.clone()));
                    }
                    if let Some(shared) = &self.shared {
                        c.insert("shared".into(), json!(shared));
                    }
                }
                config
            },
            view: ItemView::Yaml,
            with_action: true,
        });
        items
    }
}

/// Whether `name` is a record name relative to its zone: `` (the apex),
/// `www`, `_sip._tcp`, `*.dev` (what octodns and DNS accept, lower case).
pub fn is_record_name(name: &str) -> bool {
    name.is_empty()
        || (name.len() <= 253
            && name.split('.').enumerate().all(|(i, label)| {
                (i == 0 && label == "*")
                    || (!label.is_empty()
                        && label.len() <= 63
                        && label.bytes().all(|b| {
                            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'
                        }))
            }))
}
