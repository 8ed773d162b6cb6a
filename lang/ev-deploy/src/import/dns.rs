//! `ev import dns`: octodns zone files (the YamlProvider format, what a
//! repository keeps and `octodns-dump` writes from a live provider) to
//! `domain` declarations listed in one of the program's `octodns_config`s.
//!
//! A zone file is read into the same typed record sets the octodns backend
//! renders ([`RecordSet`]), so whether the imported program renders the
//! zone it was imported from is a comparison of data, never of text.
//! What ev cannot express (a record type it has no helper for, an option
//! it does not know) is a [`Problem`]: a zone with one is not imported,
//! since syncing it without that record would delete it.

use serde_json::{Map, Value};

use crate::backends::octodns::{is_record_name, RecordSet};
use crate::markers::sorted;
use ev_core::output::{marked_json_to_ev, quote};

/// Something of a zone file that ev cannot express.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The record set (`www A`, `@ TLSA`), or `` for the file.
    pub record: String,
    /// Why.
    pub why: String,
}

/// A zone file read: its record sets, in the file's order.
#[derive(Clone, Debug, PartialEq)]
pub struct ZoneFile {
    /// The record sets, TTLs defaulted to the config's.
    pub records: Vec<RecordSet>,
    /// Each record set as the helper call declaring it, but for its TTL.
    calls: Vec<Call>,
}

/// A helper call: `a("www", "192.0.2.1", proxied = true)`.
#[derive(Clone, Debug, PartialEq)]
struct Call {
    helper: &'static str,
    /// The name and the value(s), in ev text.
    arguments: [String; 2],
    /// The options besides `ttl`, in ev text.
    options: Vec<String>,
}

/// The record types ev has a helper for, and its name.
const HELPERS: [(&str, &str); 10] = [
    ("A", "a"),
    ("AAAA", "aaaa"),
    ("CNAME", "cname"),
    ("ALIAS", "alias"),
    ("MX", "mx"),
    ("TXT", "txt"),
    ("SRV", "srv"),
    ("CAA", "caa"),
    ("NS", "ns"),
    ("PTR", "ptr"),
];

/// The fields of a structured value, each with whether it is text.
fn value_fields(kind: &str) -> Option<&'static [(&'static str, bool)]> {
    match kind {
        "MX" => Some(&[("exchange", true), ("preference", false)]),
        "SRV" => Some(&[
            ("priority", false),
            ("weight", false),
            ("port", false),
            ("target", true),
        ]),
        "CAA" => Some(&[("flags", false), ("tag", true), ("value", true)]),
        _ => None,
    }
}

/// Reads a zone file's text (`default_ttl`: the TTL of a record set
/// without one, the `default_ttl` of the YamlProvider that wrote or reads
/// it: 3600 unless its config says otherwise, as with `octodns-dump`).
pub fn read_zone(text: &str, default_ttl: u32) -> Result<ZoneFile, Vec<Problem>> {
    let file = |why: String| {
        vec![Problem {
            record: String::new(),
            why,
        }]
    };
    let doc: Value =
        serde_saphyr::from_str(text).map_err(|e| file(format!("it is not YAML: {e}")))?;
    let names = match doc {
        Value::Object(names) => names,
        Value::Null => Map::new(),
        _ => return Err(file("a zone file maps record names to record sets".into())),
    };
    let mut zone = ZoneFile {
        records: Vec::new(),
        calls: Vec::new(),
    };
    let mut problems = Vec::new();
    for (name, sets) in &names {
        let sets = match sets {
            Value::Array(sets) => sets.clone(),
            one => vec![one.clone()],
        };
        for set in &sets {
            match record_set(name, set, default_ttl) {
                Ok((record, call)) => {
                    zone.records.push(record);
                    zone.calls.push(call);
                }
                Err(problem) => problems.push(problem),
            }
        }
    }
    if problems.is_empty() {
        Ok(zone)
    } else {
        Err(problems)
    }
}

/// One record set of `name`: as octodns reads it, and the helper call
/// declaring it.
fn record_set(name: &str, set: &Value, default_ttl: u32) -> Result<(RecordSet, Call), Problem> {
    let kind = set.get("type").and_then(Value::as_str).unwrap_or("");
    let label = format!("{} {kind}", if name.is_empty() { "@" } else { name });
    let problem = |why: String| Problem {
        record: label.clone(),
        why,
    };
    let Some(object) = set.as_object() else {
        return Err(problem("a record set is a mapping".into()));
    };
    let Some((_, helper)) = HELPERS.iter().find(|(t, _)| *t == kind) else {
        return Err(problem(format!(
            "ev has no {} records (it declares {})",
            if kind.is_empty() { "untyped" } else { kind },
            HELPERS.map(|(t, _)| t).join(", ")
        )));
    };
    if name != name.to_lowercase() {
        return Err(problem("record names are lower case in ev".into()));
    }
    if !is_record_name(name) {
        return Err(problem(
            "not a record name: labels of letters, digits, `-` and `_` joined by `.` (`*` first for a wildcard)".into(),
        ));
    }
    if let Some(key) = object
        .keys()
        .find(|k| !["type", "ttl", "value", "values", "octodns"].contains(&k.as_str()))
    {
        return Err(problem(format!("`{key}` is no field of a record set")));
    }
    let ttl = match object.get("ttl") {
        None => None,
        Some(t) => Some(
            t.as_u64()
                .filter(|t| *t <= 2_147_483_647)
                .ok_or_else(|| problem(format!("ttl `{t}` is not a number of seconds")))?
                as u32,
        ),
    };
    let values = match (object.get("value"), object.get("values")) {
        (Some(v), None) => vec![v.clone()],
        (None, Some(Value::Array(vs))) if !vs.is_empty() => vs.clone(),
        (None, Some(v)) if !v.is_array() => vec![v.clone()],
        _ => {
            return Err(problem(
                "a record set has `value` or a non-empty `values`".into(),
            ))
        }
    };
    let values = values
        .iter()
        .map(|v| normal_value(kind, v).map_err(&problem))
        .collect::<Result<Vec<_>, _>>()?;
    let (options, octodns) = match object.get("octodns") {
        None => (Vec::new(), None),
        Some(Value::Object(block)) => (
            helper_options(block).map_err(&problem)?,
            Some(Value::Object(block.clone())),
        ),
        Some(_) => return Err(problem("`octodns` is a mapping".into())),
    };
    let value_text = match (value_fields(kind), values.as_slice()) {
        (None, [one]) => marked_json_to_ev(one, 2),
        (None, _) => marked_json_to_ev(&Value::Array(values.clone()), 2),
        (Some(_), _) => format!(
            "[{}]",
            values
                .iter()
                .map(|v| inline(&without_defaults(kind, v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let record = RecordSet {
        name: name.to_string(),
        kind: kind.to_string(),
        ttl: ttl.unwrap_or(default_ttl),
        values: values.into_iter().map(sorted).collect(),
        octodns: octodns.map(sorted),
    };
    let call = Call {
        helper,
        arguments: [quote(name), value_text],
        options,
    };
    Ok((record, call))
}

/// A structured value without the fields its schema defaults (a CAA's
/// `flags = 0`).
fn without_defaults(kind: &str, value: &Value) -> Value {
    let mut value = value.clone();
    if let (true, Some(fields)) = (kind == "CAA", value.as_object_mut()) {
        if fields.get("flags") == Some(&Value::from(0)) {
            fields.shift_remove("flags");
        }
    }
    value
}

/// A structured value on one line: `{ exchange = "mx.", preference = 10 }`.
fn inline(value: &Value) -> String {
    match value {
        Value::Object(fields) => format!(
            "{{ {} }}",
            fields
                .iter()
                .map(|(k, v)| format!("{k} = {}", marked_json_to_ev(v, 0)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => marked_json_to_ev(other, 0),
    }
}

/// A value as ev renders it: text for the plain types, a record with
/// every field (a CAA's `flags` defaulted) for the structured ones.
fn normal_value(kind: &str, value: &Value) -> Result<Value, String> {
    let Some(fields) = value_fields(kind) else {
        return match value {
            Value::String(_) => Ok(value.clone()),
            Value::Number(n) => Ok(Value::String(n.to_string())),
            _ => Err(format!("a {kind} value is text")),
        };
    };
    let Some(object) = value.as_object() else {
        return Err(format!(
            "a {kind} value is a mapping of {}",
            fields
                .iter()
                .map(|(f, _)| *f)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    };
    if let Some(key) = object.keys().find(|k| !fields.iter().any(|(f, _)| f == k)) {
        return Err(format!("`{key}` is no field of a {kind} value"));
    }
    let mut out = Map::new();
    for (field, text) in fields {
        let v = match object.get(*field) {
            Some(v) => v.clone(),
            None if kind == "CAA" && *field == "flags" => Value::from(0),
            None => return Err(format!("a {kind} value has `{field}`")),
        };
        if *text != v.is_string() {
            return Err(format!(
                "a {kind} value's `{field}` is {}",
                if *text { "text" } else { "a number" }
            ));
        }
        out.insert(field.to_string(), v);
    }
    Ok(Value::Object(out))
}

/// The helper arguments declaring a record set's `octodns` block.
fn helper_options(block: &Map<String, Value>) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut rest = Map::new();
    for (key, value) in block {
        match key.as_str() {
            "cloudflare" => {
                let Some(options) = value.as_object() else {
                    return Err("`octodns.cloudflare` is a mapping".into());
                };
                for (option, v) in options {
                    let arg = match option.as_str() {
                        "proxied" | "auto-ttl" if v.is_boolean() => option.replace('-', "_"),
                        "comment" if v.is_string() => option.clone(),
                        "tags" if v.as_array().is_some_and(|t| t.iter().all(Value::is_string)) => {
                            option.clone()
                        }
                        _ => {
                            return Err(format!(
                                "`octodns.cloudflare.{option}` is not an option ev declares (proxied, auto-ttl, comment, tags)"
                            ))
                        }
                    };
                    out.push(format!("{arg} = {}", marked_json_to_ev(v, 2)));
                }
            }
            "ignored" if value.is_boolean() => {
                if value == &Value::Bool(true) {
                    out.push("ignored = true".into());
                }
            }
            "excluded" | "included"
                if value
                    .as_array()
                    .is_some_and(|t| t.iter().all(Value::is_string)) =>
            {
                out.push(format!("{key} = {}", marked_json_to_ev(value, 2)));
            }
            "ignored" | "excluded" | "included" => {
                return Err(format!("`octodns.{key}` has a value ev does not declare"))
            }
            _ => {
                rest.insert(key.clone(), value.clone());
            }
        }
    }
    if !rest.is_empty() {
        out.push(format!(
            "octodns = {}",
            marked_json_to_ev(&Value::Object(rest), 2)
        ));
    }
    Ok(out)
}

/// The `.ev` text declaring `zone` from the zone file read, listed in
/// the program's `octodns_config` named `config`, whose default TTL is
/// `config_ttl` (a record set with another says so); `origin` names the
/// file in its first comment; an address equal to a value `references`
/// names is written as that reference. Formatted as `ev fmt` formats.
pub fn declaration(
    zone: &str,
    file: &ZoneFile,
    config: &str,
    config_ttl: u32,
    origin: &str,
    references: &super::References,
) -> String {
    let records: String = file
        .calls
        .iter()
        .zip(&file.records)
        .map(|(call, record)| {
            let mut args = call.arguments.to_vec();
            if let Some(text) = referenced_values(record, references) {
                args[1] = text;
            }
            if record.ttl != config_ttl {
                args.push(format!("ttl = {}", record.ttl));
            }
            args.extend(call.options.iter().cloned());
            format!("    {}({}),\n", call.helper, args.join(", "))
        })
        .collect();
    let config = quote(config);
    let text = format!(
        "# {zone}: imported by `ev import dns` from {origin}.\n\nexport domain {} {{\n  config = {config}\n  records = [\n{records}  ]\n}}\n",
        quote(zone)
    );
    ev_syntax::format::format(&text).unwrap_or(text)
}

/// An address record's values with those the program names written as
/// references (`stack.jupiter.outputs.ethane.ipAddress`), if any is.
fn referenced_values(record: &RecordSet, references: &super::References) -> Option<String> {
    if !matches!(record.kind.as_str(), "A" | "AAAA") {
        return None;
    }
    let texts: Vec<&str> = record.values.iter().filter_map(Value::as_str).collect();
    if texts.len() != record.values.len() || !texts.iter().any(|t| references.to(t).is_some()) {
        return None;
    }
    let written: Vec<String> = texts
        .iter()
        .map(|t| references.to(t).map_or_else(|| quote(t), str::to_string))
        .collect();
    Some(match written.as_slice() {
        [one] => one.clone(),
        all => format!("[{}]", all.join(", ")),
    })
}

/// Whether `zone` is a DNS name ev declares zones under (and a file name).
pub fn is_zone_name(zone: &str) -> bool {
    !zone.is_empty()
        && zone.len() <= 253
        && zone.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
                && !label.starts_with('-')
        })
}

/// The differences between the record sets of a zone file and those the
/// program renders, by record set (empty: the same). Linear: a zone may
/// hold tens of thousands.
pub fn differences(expected: &[RecordSet], rendered: &[RecordSet]) -> Vec<Problem> {
    use std::collections::HashMap;
    let key = |r: &RecordSet| (r.name.clone(), r.kind.clone());
    let label = |r: &RecordSet| {
        format!(
            "{} {}",
            if r.name.is_empty() { "@" } else { &r.name },
            r.kind
        )
    };
    let by_key: HashMap<_, &RecordSet> = rendered.iter().map(|r| (key(r), r)).collect();
    let wanted: std::collections::HashSet<_> = expected.iter().map(key).collect();
    let mut problems = Vec::new();
    for want in expected {
        match by_key.get(&key(want)) {
            None => problems.push(Problem {
                record: label(want),
                why: "the program renders no such record set".into(),
            }),
            Some(got) if *got != want => problems.push(Problem {
                record: label(want),
                why: format!(
                    "the program renders {} where the file has {}",
                    serde_json::to_string(got).unwrap_or_default(),
                    serde_json::to_string(want).unwrap_or_default()
                ),
            }),
            Some(_) => {}
        }
    }
    for got in rendered {
        if !wanted.contains(&key(got)) {
            problems.push(Problem {
                record: label(got),
                why: "the program renders a record set the file does not have".into(),
            });
        }
    }
    problems
}

/// The action syncing `zone` in `graph` and the zone it renders.
pub fn rendered<'g>(
    graph: &'g crate::plan::ActionGraph,
    zone: &str,
) -> Option<(&'g crate::plan::Action, &'g crate::backends::octodns::Zone)> {
    graph
        .ordered()
        .into_iter()
        .find_map(|action| match &action.artifact {
            crate::backend::Artifact::Octodns(z) if z.zone == zone => Some((action, z)),
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_names() {
        assert!(is_zone_name("example.test"));
        assert!(is_zone_name("_sub.example.test"));
        for bad in [
            "",
            "../x",
            "a/b",
            "Example.test",
            "a..b",
            "-a.test",
            "a.test.",
        ] {
            assert!(!is_zone_name(bad), "{bad}");
        }
    }

    #[test]
    fn record_names() {
        for good in ["", "www", "_sip._tcp", "*.dev", "a-b.c_d"] {
            assert!(is_record_name(good), "{good}");
        }
        for bad in ["x\ny", "a..b", "a.*", "a b", "a/b", ".a", "a."] {
            assert!(!is_record_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn unknown_types_and_fields_are_problems() {
        let text =
            "www:\n  type: TLSA\n  value: x\nmail:\n  type: A\n  value: 192.0.2.1\n  weight: 3\n";
        let problems = read_zone(text, 300).expect_err("refused");
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].why.contains("no TLSA records"), "{problems:?}");
        assert!(problems[1].why.contains("`weight`"), "{problems:?}");
    }
}
