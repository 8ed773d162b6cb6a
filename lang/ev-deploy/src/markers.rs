//! The `$unknown` and `$secret` markers inside artifacts, and what they
//! become at the edge: for a tool (a placeholder, an `env/NAME` reference)
//! or for people (`(known after apply)`, `(secret from file#key)`).
//! Artifacts keep the markers of every JSON output
//! ([`ev_core::output::to_json_marked`]); only these functions turn them
//! into text.

use std::collections::BTreeSet;

use ev_core::model::{Known, Pending, Secret, SecretPart};
use ev_core::output::UNKNOWN_MARKER;
use serde::Serialize;
use serde_json::Value;

/// What an unknown value renders as in a file a tool reads.
pub const PLACEHOLDER: &str = UNKNOWN_MARKER;

/// YAML text of a JSON value (octodns, Kubernetes and Pulumi read YAML).
pub fn yaml(value: &Value) -> String {
    serde_saphyr::to_string(value).unwrap_or_default()
}

/// A marker's reading: the unknown or the secret it holds; `None` for a
/// plain value.
pub fn marker(v: &Value) -> Option<Known<()>> {
    let map = v.as_object()?;
    if map.len() != 1 || !ev_core::output::is_marker(v) {
        return None;
    }
    match serde_json::from_value::<Known<()>>(v.clone()) {
        Ok(marker @ (Known::Unknown(_) | Known::Secret(_))) => Some(marker),
        _ => None,
    }
}

/// Marked JSON of a typed value (a `Known<T>` becomes its marker).
pub fn marked<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// How a tool receives a secret in a file it reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretAs {
    /// octodns' `env/NAME`: the tool reads the variable ev sets.
    EnvRef,
    /// Where it comes from, as text (`(secret from file#key)`): the file
    /// is for people (`ev build`); the tool receives the value another way
    /// (kubectl on stdin, pulumi config).
    Source,
}

/// Marked JSON as a tool reads it: each unknown becomes the placeholder
/// (the executor never runs an action holding one), each secret as `secrets`
/// says.
pub fn for_tool(v: &Value, secrets: SecretAs) -> Value {
    map_markers(v, &|m| match m {
        Known::Unknown(_) => Value::String(PLACEHOLDER.into()),
        Known::Secret(s) => Value::String(match secrets {
            SecretAs::EnvRef => secret_env_ref(&s),
            SecretAs::Source => format!("(secret from {})", secret_source(&s)),
        }),
        Known::Value(()) => Value::Null,
    })
}

/// Marked JSON as people read it in a plan: each unknown as
/// `(known after apply)`, each secret as `(secret from file#key)`.
pub fn for_people(v: &Value) -> Value {
    map_markers(v, &|m| match m {
        Known::Unknown(_) => Value::String(PLACEHOLDER.into()),
        Known::Secret(s) => Value::String(format!("(secret from {})", secret_source(&s))),
        Known::Value(()) => Value::Null,
    })
}

/// Where a secret's value comes from, for people: `file#key`, or a
/// composed secret's parts (`postgres://app:{secrets/db.yaml#password}@db`).
pub fn secret_source(secret: &Secret) -> String {
    match secret {
        Secret::Ref(r) => r.to_string(),
        Secret::Composed { parts } => parts
            .iter()
            .map(|p| match p {
                SecretPart::Text(t) => t.clone(),
                SecretPart::Ref(r) => format!("{{{r}}}"),
            })
            .collect(),
    }
}

fn map_markers(v: &Value, with: &dyn Fn(Known<()>) -> Value) -> Value {
    match v {
        Value::Object(_) if ev_core::output::is_marker(v) => marker(v).map_or(Value::Null, with),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, x)| (k.clone(), map_markers(x, with)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|x| map_markers(x, with)).collect()),
        other => other.clone(),
    }
}

/// The values of an artifact not known until apply: the export files
/// they wait for. Lowering makes an action depend on the producer of each.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Unknowns {
    /// The export files the unknown values wait for.
    pub files: BTreeSet<String>,
    /// Some unknown value waits for no file at all.
    pub unsourced: bool,
}

impl Unknowns {
    /// Every unknown marker in marked JSON.
    pub fn of(v: &Value) -> Unknowns {
        let mut out = Unknowns::default();
        out.collect(v);
        out
    }

    fn collect(&mut self, v: &Value) {
        match v {
            Value::Object(map) => match map.get(ev_core::output::UNKNOWN_KEY) {
                Some(pending) if map.len() == 1 => {
                    match serde_json::from_value::<Pending>(pending.clone()) {
                        Ok(p) => self.add(&p),
                        Err(_) => self.unsourced = true,
                    }
                }
                _ => map.values().for_each(|x| self.collect(x)),
            },
            Value::Array(items) => items.iter().for_each(|x| self.collect(x)),
            _ => {}
        }
    }

    /// Records one unknown value.
    pub fn add(&mut self, pending: &Pending) {
        match &pending.file {
            Some(f) => {
                self.files.insert(f.clone());
            }
            None => self.unsourced = true,
        }
    }

    /// Whether any value is unknown.
    pub fn any(&self) -> bool {
        self.unsourced || !self.files.is_empty()
    }
}

/// The environment variable a secret is passed through at apply time:
/// readable (`EV_SECRET_<FILE STEM>_<KEY>`) and unique per (file, key) by a
/// digest suffix, so `x.y` and `x_y`, or one key in two files, never share a
/// variable.
pub fn secret_env_name(file: &str, key: &str) -> String {
    let stem = file
        .rsplit('/')
        .next()
        .unwrap_or(file)
        .split('.')
        .next()
        .unwrap_or(file);
    let readable: String = format!("{stem}_{key}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    let digest = crate::plan::state::hex_sha256(format!("{file}\0{key}").as_bytes());
    format!("EV_SECRET_{readable}_{}", &digest[..8].to_ascii_uppercase())
}

/// octodns' `env/NAME` reference to a secret. The model refuses composed
/// secrets where a tool reads secrets from the environment (octodns):
/// nothing would set their variable, which is named by a digest.
pub fn secret_env_ref(secret: &Secret) -> String {
    match secret {
        Secret::Ref(r) => format!("env/{}", secret_env_name(&r.file, &r.key)),
        composed => format!(
            "env/EV_SECRET_COMPOSED_{}",
            &crate::plan::state::hex_sha256(
                serde_json::to_string(composed)
                    .unwrap_or_default()
                    .as_bytes()
            )[..8]
                .to_ascii_uppercase()
        ),
    }
}

/// A JSON value with every object's keys sorted (octodns' YAML loader
/// wants every mapping's keys in order).
pub fn sorted(v: Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Unknowns and secrets become the placeholder and `env/` references
    /// for octodns, readable text for people; plain data stays.
    #[test]
    fn markers_at_the_edge() {
        let v = json!({
            "token": { "$secret": { "file": "secrets/dns.yaml", "key": "api.token" } },
            "address": { "$unknown": { "reason": "not yet", "file": "exports/x.json" } },
            "plain": { "nested": ["a", 1] },
        });
        let tool = for_tool(&v, SecretAs::EnvRef);
        assert_eq!(tool["address"], json!(PLACEHOLDER));
        assert_eq!(
            tool["token"],
            json!(format!(
                "env/{}",
                secret_env_name("secrets/dns.yaml", "api.token")
            ))
        );
        assert_eq!(tool["plain"], v["plain"]);
        assert_eq!(
            for_tool(&v, SecretAs::Source)["token"],
            json!("(secret from secrets/dns.yaml#api.token)")
        );
        assert_eq!(
            for_people(&v)["token"],
            json!("(secret from secrets/dns.yaml#api.token)")
        );
        let unknowns = Unknowns::of(&v);
        assert_eq!(
            unknowns.files.iter().collect::<Vec<_>>(),
            ["exports/x.json"]
        );
    }
}
