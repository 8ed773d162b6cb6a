//! Renderers: the files each backend's tool reads, produced from the typed
//! model. Pure and byte-stable: the same model gives the same bytes on every
//! run and machine (maps keep declaration order or are sorted explicitly).
//!
//! Values not known until apply are rendered as [`PLACEHOLDER`] and the file
//! is flagged, so the executor re-renders it once the value is known.

pub mod kubernetes;
pub mod nix;
pub mod octodns;
pub mod pulumi;

use crate::model::Known;
use crate::output::UNKNOWN_MARKER;
pub use crate::plan::Unknowns;

/// What an unknown value renders as.
pub const PLACEHOLDER: &str = UNKNOWN_MARKER;

/// YAML text of a JSON value (octodns, Kubernetes and Pulumi read YAML).
pub fn yaml(value: &serde_json::Value) -> String {
    serde_saphyr::to_string(value).unwrap_or_default()
}

/// The Kubernetes objects of a rendered YAML stream, read by a YAML parser
/// (never split at `---` by hand: a ConfigMap's data may hold such lines).
/// The one reader of rendered manifests, for the plan's details and the
/// kubectl driver alike; documents that are not objects are left out.
pub fn yaml_documents(text: &str) -> Vec<serde_json::Value> {
    serde_saphyr::from_multiple::<serde_json::Value>(text)
        .unwrap_or_default()
        .into_iter()
        .filter(|v| v.get("kind").is_some())
        .collect()
}

/// The value of a `Known`, a placeholder, or the secret's environment
/// reference; markers nested in a known value are resolved the same way.
pub fn known_json<T: serde::Serialize>(k: &Known<T>, unknowns: &mut Unknowns) -> serde_json::Value {
    match k {
        Known::Value(v) => plain_json(
            &serde_json::to_value(v).unwrap_or(serde_json::Value::Null),
            unknowns,
        ),
        Known::Unknown(pending) => {
            unknowns.add(pending);
            serde_json::Value::String(PLACEHOLDER.into())
        }
        Known::Secret(crate::model::Secret::Ref(s)) => {
            serde_json::Value::String(secret_env_ref(&s.file, &s.key))
        }
        // The model refuses composed secrets where a tool reads secrets from
        // the environment (octodns): nothing would set this variable.
        Known::Secret(composed) => serde_json::Value::String(format!(
            "env/EV_SECRET_COMPOSED_{}",
            &crate::plan::state::hex_sha256(
                serde_json::to_string(composed)
                    .unwrap_or_default()
                    .as_bytes()
            )[..8]
                .to_ascii_uppercase()
        )),
    }
}

/// Marked JSON ([`crate::output::to_json_marked`]) as a tool reads it:
/// each unknown becomes the placeholder (and is recorded in `unknowns`),
/// each secret its environment reference.
pub fn plain_json(v: &serde_json::Value, unknowns: &mut Unknowns) -> serde_json::Value {
    match v {
        serde_json::Value::Object(_) if crate::output::is_marker(v) => marker_json(v, unknowns),
        serde_json::Value::Object(map) => serde_json::Value::Object(
            map.iter()
                .map(|(k, x)| (k.clone(), plain_json(x, unknowns)))
                .collect(),
        ),
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.iter().map(|x| plain_json(x, unknowns)).collect())
        }
        other => other.clone(),
    }
}

/// One marker as a tool reads it. The one reading of the markers is
/// `Known`'s; `Known<()>` holds nothing else, so a marker it cannot read
/// becomes null. Kept out of [`plain_json`] so its recursion stays small
/// on the stack for deeply nested values.
#[inline(never)]
fn marker_json(v: &serde_json::Value, unknowns: &mut Unknowns) -> serde_json::Value {
    match serde_json::from_value::<Known<()>>(v.clone()) {
        Ok(marker @ (Known::Unknown(_) | Known::Secret(_))) => known_json(&marker, unknowns),
        _ => serde_json::Value::Null,
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

/// octodns' `env/NAME` reference to a secret.
pub fn secret_env_ref(file: &str, key: &str) -> String {
    format!("env/{}", secret_env_name(file, key))
}

#[cfg(test)]
mod tests {
    /// A ConfigMap whose data holds `---` lines is one object, whole.
    #[test]
    fn yaml_streams_are_read_by_a_parser() {
        let data = "a: 1\n---\nb: 2\n--- \n...\n";
        let objects = vec![
            serde_json::json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "tricky" }, "data": { "multi.yaml": data, "x": "---" } }),
            serde_json::json!({ "apiVersion": "v1", "kind": "Service", "metadata": { "name": "next" } }),
        ];
        let stream: String = objects
            .iter()
            .map(|o| format!("---\n{}", super::yaml(o)))
            .collect();
        assert_eq!(super::yaml_documents(&stream), objects, "{stream}");
    }
}
