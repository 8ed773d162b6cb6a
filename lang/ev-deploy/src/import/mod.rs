//! `ev import`: declarations written from what people already run, each
//! read into the typed data its backend renders, so that the program ev
//! writes can be checked to render exactly what it was imported from.

pub mod dns;
pub mod k8s;
pub mod pulumi;

use std::collections::HashMap;

use ev_core::model::Model;
use serde_json::Value;

/// Values the program already has a name for, by the text they hold: an
/// imported literal equal to one is written as a reference to it
/// (`stack.jupiter.outputs.ethane.ipAddress`), so it follows the value
/// when it changes. A text two names hold is left a literal (which one
/// was meant cannot be told).
#[derive(Clone, Debug, Default)]
pub struct References(HashMap<String, Option<String>>);

impl References {
    /// The known outputs of the program's stacks (those already applied:
    /// an output not known yet names nothing).
    pub fn of(model: &Model) -> References {
        let mut refs = References::default();
        for stack in model.of_kind("stack").filter(|r| r.standard) {
            if !ev_core::output::is_bare_key(&stack.key.name) {
                continue;
            }
            if let Some(outputs) = stack.value.get("outputs") {
                refs.add(&format!("stack.{}.outputs", stack.key.name), outputs);
            }
        }
        refs
    }

    /// Every text below `value`, named by its path from `at`.
    fn add(&mut self, at: &str, value: &Value) {
        match value {
            Value::String(s) => {
                self.0
                    .entry(s.clone())
                    .and_modify(|named| *named = None)
                    .or_insert_with(|| Some(at.to_string()));
            }
            Value::Object(map) if !ev_core::output::is_marker(value) => {
                for (k, v) in map {
                    if ev_core::output::is_bare_key(k) {
                        self.add(&format!("{at}.{k}"), v);
                    }
                }
            }
            _ => {}
        }
    }

    /// The reference naming exactly this text, if one does.
    pub fn to(&self, text: &str) -> Option<&str> {
        self.0.get(text).and_then(Option::as_deref)
    }
}

/// Whether every value below `v` (at the JSON pointer `at`) can be written
/// in ev and read back as it is: no map of one key ev reads as its
/// markers, numbers within ev's.
pub(crate) fn expressible(v: &Value, at: &str) -> Result<(), String> {
    match v {
        Value::Object(map) => {
            if ev_core::output::is_marker(v) {
                return Err(format!(
                    "`{}` holds a map ev reads as its own marker (`{}`)",
                    if at.is_empty() { "/" } else { at },
                    map.keys().next().map(String::as_str).unwrap_or("")
                ));
            }
            map.iter()
                .try_for_each(|(k, item)| expressible(item, &format!("{at}/{k}")))
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| expressible(item, &format!("{at}/{i}"))),
        Value::Number(n) if n.is_u64() && n.as_i64().is_none() => {
            Err(format!("`{at}` is a number larger than ev's integers"))
        }
        Value::Number(n) if n.as_f64().is_some_and(|f| !f.is_finite()) => {
            Err(format!("`{at}` is not a finite number"))
        }
        _ => Ok(()),
    }
}

/// Text for a one-line `#` comment: a file's name may hold anything, and a
/// control character (a newline) would end the comment, so each is `?`.
pub(crate) fn comment_text(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::References;
    use serde_json::json;

    #[test]
    fn a_text_two_outputs_hold_names_nothing() {
        let mut refs = References::default();
        refs.add(
            "stack.jupiter.outputs",
            &json!({
                "web": { "ipAddress": "203.0.113.7" },
                "db": { "ipAddress": "203.0.113.8", "replica": "203.0.113.7" },
                "pending": { "$unknown": { "reason": "not applied" } },
                "odd key": "203.0.113.9",
            }),
        );
        assert_eq!(
            refs.to("203.0.113.8"),
            Some("stack.jupiter.outputs.db.ipAddress")
        );
        assert_eq!(refs.to("203.0.113.7"), None);
        assert_eq!(refs.to("203.0.113.9"), None);
        assert_eq!(refs.to("not applied"), None);
    }
}
