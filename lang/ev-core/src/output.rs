//! Converting values to and from data formats (JSON, YAML) and printing
//! them as ev source text. Secrets and unknowns never print their contents:
//! in JSON and YAML they are `{"$secret": …}` / `{"$unknown": …}` markers
//! ([`to_json_marked`], the one encoding), in ev text `(secret)` /
//! `(known after apply)`.

use std::fmt::Write;
use std::rc::Rc;

use ev_syntax::Span;

use crate::error::{EvalError, EvalErrorKind};
use crate::eval::{format_float, EvalResult, Evaluator};
use crate::intern::Sym;
use crate::value::{Record, Thunk, Value};

/// A JSON document as a value (objects keep their key order).
pub fn from_json(json: &serde_json::Value) -> Value {
    match json {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(0.0)),
        },
        serde_json::Value::String(s) => Value::str(s),
        serde_json::Value::Array(items) => Value::List(items.iter().map(from_json).collect()),
        serde_json::Value::Object(map) => Value::Record(Rc::new(Record::new(
            map.iter()
                .map(|(k, v)| (Sym::new(k), Thunk::Ready(from_json(v))))
                .collect(),
        ))),
    }
}

/// The marker printed in place of a secret.
pub const SECRET_MARKER: &str = "(secret)";
/// The marker printed in place of an unknown value.
pub const UNKNOWN_MARKER: &str = "(known after apply)";

/// Writes a value as JSON text straight into `out` (pretty: two-space
/// indentation), forcing it as it goes. Faster and leaner than building a
/// `serde_json::Value` first, which matters for large outputs.
pub fn write_json(
    ev: &Evaluator<'_>,
    v: &Value,
    span: Span,
    pretty: bool,
    out: &mut String,
) -> EvalResult<()> {
    let mut sink = |_: &mut String| {};
    write_json_at(ev, v, span, pretty, 0, out, &mut sink)
}

/// Like [`write_json`], but hands the text to `sink` in chunks of about
/// 64 KiB instead of building it whole. Call [`check_data`] first when a
/// partial output on error is unwanted.
pub fn write_json_chunked(
    ev: &Evaluator<'_>,
    v: &Value,
    span: Span,
    pretty: bool,
    sink: &mut dyn FnMut(&mut String),
) -> EvalResult<()> {
    let mut out = String::with_capacity(CHUNK + 4096);
    write_json_at(ev, v, span, pretty, 0, &mut out, sink)?;
    out.push('\n');
    sink(&mut out);
    Ok(())
}

const CHUNK: usize = 1 << 16;

/// Forces a value completely and checks it is plain data (no functions or
/// schemas), so that writing it afterwards cannot fail.
pub fn check_data(ev: &Evaluator<'_>, v: &Value, span: Span) -> EvalResult<()> {
    ev.descend(v, span, || match v {
        Value::Record(rec) => {
            refuse_marker_keys(rec, span)?;
            for (i, (_, t)) in rec.fields().iter().enumerate() {
                let at = rec.value_span_at(i).unwrap_or(span);
                check_data(ev, &ev.force(t, at)?, at)?;
            }
            Ok(())
        }
        Value::List(items) => items.iter().try_for_each(|i| check_data(ev, i, span)),
        Value::Func(_) | Value::Schema(_) => Err(EvalError::new(
            EvalErrorKind::NotData(v.type_name().into()),
            span,
        )),
        _ => Ok(()),
    })
}

/// Checks a value about to become text inside the program (`to_json`):
/// a secret would deploy the words "(secret)" (E0409) and an unknown value
/// the words "(known after apply)", so the first unknown found is returned
/// for the text to be unknown too.
pub fn check_text_data(ev: &Evaluator<'_>, v: &Value, span: Span) -> EvalResult<Option<Value>> {
    ev.descend(v, span, || match v {
        Value::Secret(_) => Err(EvalError::new(EvalErrorKind::SecretInString, span)),
        Value::Unknown(_) => Ok(Some(v.clone())),
        Value::Record(rec) => {
            for (i, (_, t)) in rec.fields().iter().enumerate() {
                let at = rec.value_span_at(i).unwrap_or(span);
                if let Some(u) = check_text_data(ev, &ev.force(t, at)?, at)? {
                    return Ok(Some(u));
                }
            }
            Ok(None)
        }
        Value::List(items) => {
            for item in items.iter() {
                if let Some(u) = check_text_data(ev, item, span)? {
                    return Ok(Some(u));
                }
            }
            Ok(None)
        }
        _ => Ok(None),
    })
}

/// A float JSON can hold, or E0417 for infinities and NaN (which JSON and
/// YAML consumers would otherwise receive as `null`).
fn finite(f: f64, span: Span) -> EvalResult<serde_json::Number> {
    serde_json::Number::from_f64(f).ok_or_else(|| {
        EvalError::new(
            EvalErrorKind::NotData(if f.is_nan() {
                "NaN (not-a-number) value".to_string()
            } else {
                "infinite number".to_string()
            }),
            span,
        )
    })
}

fn newline(out: &mut String, pretty: bool, indent: usize) {
    const SPACES: &str = "                                                                ";
    if pretty {
        out.push('\n');
        let mut n = indent * 2;
        while n > 0 {
            let take = n.min(SPACES.len());
            out.push_str(SPACES.get(..take).unwrap_or(""));
            n -= take;
        }
    }
}

fn write_json_at(
    ev: &Evaluator<'_>,
    v: &Value,
    span: Span,
    pretty: bool,
    indent: usize,
    out: &mut String,
    sink: &mut dyn FnMut(&mut String),
) -> EvalResult<()> {
    ev.descend(v, span, || {
        if out.len() >= CHUNK {
            sink(out);
        }
        match v {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(n) => out.push_str(itoa::Buffer::new().format(*n)),
            Value::Float(f) => out.push_str(&finite(*f, span)?.to_string()),
            Value::Str(s) => json_string(s, out),
            Value::Secret(_) | Value::Unknown(_) => {
                let marker = to_json_marked(ev, v, span)?;
                out.push_str(&if pretty {
                    pretty_at(&marker, indent)
                } else {
                    marker.to_string()
                });
            }
            Value::List(items) => {
                if items.is_empty() {
                    out.push_str("[]");
                    return Ok(());
                }
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    newline(out, pretty, indent + 1);
                    write_json_at(ev, item, span, pretty, indent + 1, out, sink)?;
                }
                newline(out, pretty, indent);
                out.push(']');
            }
            Value::Record(rec) => {
                if rec.is_empty() {
                    out.push_str("{}");
                    return Ok(());
                }
                refuse_marker_keys(rec, span)?;
                out.push('{');
                for (i, (k, t)) in rec.fields().iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    newline(out, pretty, indent + 1);
                    json_string(k.as_str(), out);
                    out.push_str(if pretty { ": " } else { ":" });
                    let at = rec.value_span_at(i).unwrap_or(span);
                    let value = ev.force(t, at)?;
                    write_json_at(ev, &value, at, pretty, indent + 1, out, sink)?;
                }
                newline(out, pretty, indent);
                out.push('}');
            }
            Value::Func(_) | Value::Schema(_) => {
                return Err(EvalError::new(
                    EvalErrorKind::NotData(v.type_name().into()),
                    span,
                ))
            }
        }
        Ok(())
    })
}

/// Whether any byte needs escaping in JSON (a control character, `"` or `\\`),
/// checked eight bytes at a time.
fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH != 0;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let v = u64::from_le_bytes(word);
        let below_space = v.wrapping_sub(0x20 * ONES) & !v & HIGH != 0;
        if below_space
            || has_zero(v ^ (u64::from(b'"') * ONES))
            || has_zero(v ^ (u64::from(b'\\') * ONES))
        {
            return true;
        }
    }
    chunks
        .remainder()
        .iter()
        .any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

/// Appends `s` as a JSON string literal.
fn json_string(s: &str, out: &mut String) {
    out.push('"');
    if !needs_escape(s.as_bytes()) {
        out.push_str(s);
        out.push('"');
        return;
    }
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let esc: Option<&str> = match b {
            b'"' => Some("\\\""),
            b'\\' => Some("\\\\"),
            b'\n' => Some("\\n"),
            b'\r' => Some("\\r"),
            b'\t' => Some("\\t"),
            0..=0x1f => None,
            _ => continue,
        };
        out.push_str(s.get(start..i).unwrap_or(""));
        match esc {
            Some(e) => out.push_str(e),
            None => {
                let _ = write!(out, "\\u{:04x}", b);
            }
        }
        start = i + 1;
    }
    out.push_str(s.get(start..).unwrap_or(""));
    out.push('"');
}

/// The key marking an unknown value in [`to_json_marked`] output.
pub const UNKNOWN_KEY: &str = "$unknown";
/// The key marking a secret reference in [`to_json_marked`] output.
pub const SECRET_KEY: &str = "$secret";

/// A secret's reference(s) as JSON: `{"file", "key"}`, or for a composed
/// one `{"parts": ["text", {"file", "key"}, ...]}`; never content.
fn secret_json(s: &crate::value::Secret) -> serde_json::Value {
    use crate::value::{Secret, SecretPart};
    match s {
        Secret::Ref(r) => serde_json::json!({ "file": r.file, "key": r.key }),
        Secret::Composed(parts) => serde_json::json!({
            "parts": parts
                .iter()
                .map(|p| match p {
                    SecretPart::Text(t) => serde_json::Value::String(t.clone()),
                    SecretPart::Ref(r) => serde_json::json!({ "file": r.file, "key": r.key }),
                })
                .collect::<Vec<_>>()
        }),
    }
}

/// Plain data cannot spell the markers: only `secret()` is a secret, only
/// an unknown value is unknown.
fn refuse_marker_keys(rec: &Record, span: Span) -> EvalResult<()> {
    // Interned once: this runs for every record written out.
    static MARKERS: std::sync::OnceLock<[Sym; 2]> = std::sync::OnceLock::new();
    let markers = MARKERS.get_or_init(|| [Sym::new(SECRET_KEY), Sym::new(UNKNOWN_KEY)]);
    for &sym in markers {
        if rec.get(sym).is_some() {
            return Err(EvalError::new(
                EvalErrorKind::NotData(format!("record with a `{sym}` field")),
                rec.key_span(sym).unwrap_or(span),
            ));
        }
    }
    Ok(())
}

/// `value` pretty-printed as JSON, its lines after the first indented to
/// `indent` levels (to sit inside a document being written).
fn pretty_at(value: &serde_json::Value, indent: usize) -> String {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    let pad = "  ".repeat(indent);
    text.replace('\n', &format!("\n{pad}"))
}

/// A value as JSON, forcing it completely: the one JSON (and YAML)
/// encoding of values. An unknown value is `{"$unknown": {"reason",
/// "file"}}` (`file`: the export it waits for, or null) and a secret
/// `{"$secret": {"file", "key"}}` (the reference only, never its content),
/// so consumers can tell them apart from strings; functions and schemas
/// are an error (E0417).
pub fn to_json_marked(ev: &Evaluator<'_>, v: &Value, span: Span) -> EvalResult<serde_json::Value> {
    ev.descend(v, span, || {
        Ok(match v {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(n) => serde_json::Value::from(*n),
            Value::Float(f) => serde_json::Value::Number(finite(*f, span)?),
            Value::Str(s) => serde_json::Value::String(s.to_string()),
            Value::Func(_) | Value::Schema(_) => {
                return Err(EvalError::new(
                    EvalErrorKind::NotData(v.type_name().into()),
                    span,
                ))
            }
            Value::Unknown(u) => {
                serde_json::json!({ UNKNOWN_KEY: { "reason": u.reason, "file": u.file } })
            }
            Value::Secret(s) => serde_json::json!({ SECRET_KEY: secret_json(s) }),
            Value::List(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items.iter() {
                    out.push(to_json_marked(ev, item, span)?);
                }
                serde_json::Value::Array(out)
            }
            Value::Record(rec) => {
                refuse_marker_keys(rec, span)?;
                let mut map = serde_json::Map::with_capacity(rec.len());
                for (i, (k, t)) in rec.fields().iter().enumerate() {
                    let at = rec.value_span_at(i).unwrap_or(span);
                    let value = ev.force(t, at)?;
                    map.insert(k.as_str().to_string(), to_json_marked(ev, &value, at)?);
                }
                serde_json::Value::Object(map)
            }
        })
    })
}

/// A value as YAML text, with the markers of [`to_json_marked`].
pub fn to_yaml(ev: &Evaluator<'_>, v: &Value, span: Span) -> EvalResult<String> {
    let json = to_json_marked(ev, v, span)?;
    serde_saphyr::to_string(&json).map_err(|e| {
        EvalError::new(
            EvalErrorKind::InvalidArgument {
                function: "yaml output".into(),
                message: e.to_string(),
            },
            span,
        )
    })
}

/// Whether `key` can be written without quotes in ev source.
pub fn is_bare_key(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !key.ends_with('-')
}

/// Quotes a string as an ev literal.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '$' => out.push_str("\\$"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Text made safe for a terminal: control characters (ESC, CR, BEL, DEL,
/// the C1 range…) become visible `\u{1b}` escapes, so names and values
/// from a program or a tool can neither move the cursor, erase lines nor
/// change colours. Newlines and tabs stay; so does `\r` before `\n`.
pub fn terminal_safe(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() && c != '\n' && c != '\t';
    if !text.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' && chars.peek() == Some(&'\n') {
            out.push(c);
        } else if unsafe_char(c) {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Source text for a renderer that counts bytes (ariadne): each control
/// character replaced by as many `?` as it has bytes, so spans stay valid
/// while nothing reaches the terminal raw.
pub fn terminal_safe_source(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() && c != '\n' && c != '\t' && c != '\r';
    if !text.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(
        text.chars()
            .map(|c| {
                if unsafe_char(c) {
                    "?".repeat(c.len_utf8())
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// Options for printing values as ev text.
#[derive(Clone, Copy, Debug)]
pub struct PrettyOptions {
    /// Lists longer than this are folded (`... and N more`); `None` prints all.
    pub fold_lists: Option<usize>,
}

/// Prints a value as ev source text, indented, forcing it completely.
pub fn to_ev(
    ev: &Evaluator<'_>,
    v: &Value,
    span: Span,
    options: PrettyOptions,
) -> EvalResult<String> {
    let mut out = String::new();
    write_ev(ev, v, span, 0, options, &mut out)?;
    Ok(out)
}

fn write_ev(
    ev: &Evaluator<'_>,
    v: &Value,
    span: Span,
    indent: usize,
    options: PrettyOptions,
    out: &mut String,
) -> EvalResult<()> {
    ev.descend(v, span, || {
        let pad = "  ".repeat(indent + 1);
        let end_pad = "  ".repeat(indent);
        match v {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(n) => {
                let _ = write!(out, "{n}");
            }
            Value::Float(f) => out.push_str(&format_float(*f)),
            Value::Str(s) => out.push_str(&quote(s)),
            Value::Secret(_) => out.push_str(SECRET_MARKER),
            Value::Unknown(_) => out.push_str(UNKNOWN_MARKER),
            Value::Func(f) => out.push_str(match &**f {
                crate::value::Func::Builtin(b) => b.name(),
                crate::value::Func::Closure { .. } => "<function>",
            }),
            Value::Schema(s) => {
                let _ = write!(out, "<schema {}>", s.name);
            }
            Value::List(items) => {
                if items.is_empty() {
                    out.push_str("[]");
                    return Ok(());
                }
                let scalar = items
                    .iter()
                    .all(|i| !matches!(i, Value::List(_) | Value::Record(_)));
                let shown = options
                    .fold_lists
                    .map_or(items.len(), |n| n.min(items.len()));
                if scalar && items.len() <= 8 {
                    out.push('[');
                    for (i, item) in items.iter().enumerate() {
                        if i > 0 {
                            out.push_str(", ");
                        }
                        write_ev(ev, item, span, indent, options, out)?;
                    }
                    out.push(']');
                    return Ok(());
                }
                out.push_str("[\n");
                for item in items.iter().take(shown) {
                    out.push_str(&pad);
                    write_ev(ev, item, span, indent + 1, options, out)?;
                    out.push_str(",\n");
                }
                if shown < items.len() {
                    let _ = writeln!(out, "{pad}# ... and {} more", items.len() - shown);
                }
                out.push_str(&end_pad);
                out.push(']');
            }
            Value::Record(rec) => {
                if rec.is_empty() {
                    out.push_str("{}");
                    return Ok(());
                }
                out.push_str("{\n");
                for (k, t) in rec.fields() {
                    let at = rec.value_span(*k).unwrap_or(span);
                    let value = ev.force(t, at)?;
                    out.push_str(&pad);
                    if is_bare_key(k.as_str()) {
                        out.push_str(k.as_str());
                    } else {
                        out.push_str(&quote(k.as_str()));
                    }
                    out.push_str(" = ");
                    write_ev(ev, &value, at, indent + 1, options, out)?;
                    out.push('\n');
                }
                out.push_str(&end_pad);
                out.push('}');
            }
        }
        Ok(())
    })
}

/// Prints JSON produced by [`to_json_marked`] as ev text: unknowns as
/// `(known after apply)`, secrets as `(secret)`.
pub fn marked_json_to_ev(v: &serde_json::Value, indent: usize) -> String {
    let mut out = String::new();
    write_marked(v, indent, &mut out);
    out
}

fn write_marked(v: &serde_json::Value, indent: usize, out: &mut String) {
    let pad = "  ".repeat(indent + 1);
    let end = "  ".repeat(indent);
    match v {
        serde_json::Value::Object(map) if map.len() == 1 && map.contains_key(UNKNOWN_KEY) => {
            out.push_str(UNKNOWN_MARKER)
        }
        serde_json::Value::Object(map) if map.len() == 1 && map.contains_key(SECRET_KEY) => {
            out.push_str(SECRET_MARKER)
        }
        serde_json::Value::Null => out.push_str("null"),
        serde_json::Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        serde_json::Value::Number(n) => out.push_str(&n.to_string()),
        serde_json::Value::String(s) => out.push_str(&quote(s)),
        serde_json::Value::Array(items) => {
            let scalar = items
                .iter()
                .all(|i| !(i.is_array() || i.is_object()) || is_marker(i));
            if items.is_empty() {
                out.push_str("[]");
            } else if scalar && items.len() <= 8 {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_marked(item, indent, out);
                }
                out.push(']');
            } else {
                out.push_str("[\n");
                for item in items {
                    out.push_str(&pad);
                    write_marked(item, indent + 1, out);
                    out.push_str(",\n");
                }
                out.push_str(&end);
                out.push(']');
            }
        }
        serde_json::Value::Object(map) => {
            if map.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push_str("{\n");
            for (k, item) in map {
                out.push_str(&pad);
                if is_bare_key(k) {
                    out.push_str(k);
                } else {
                    out.push_str(&quote(k));
                }
                out.push_str(" = ");
                write_marked(item, indent + 1, out);
                out.push('\n');
            }
            out.push_str(&end);
            out.push('}');
        }
    }
}

/// Whether marked JSON is an `$unknown` or `$secret` marker.
pub fn is_marker(v: &serde_json::Value) -> bool {
    v.as_object().is_some_and(|m| {
        m.len() == 1 && (m.contains_key(UNKNOWN_KEY) || m.contains_key(SECRET_KEY))
    })
}

#[cfg(test)]
mod tests {
    use super::needs_escape;

    #[test]
    fn escape_scan_agrees_with_the_plain_definition() {
        let samples: Vec<Vec<u8>> = (0u8..=255)
            .flat_map(|b| {
                (0..17).map(move |pos| {
                    let mut v = vec![b'a'; 17];
                    v[pos] = b;
                    v
                })
            })
            .collect();
        for s in samples {
            let plain = s.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\');
            assert_eq!(needs_escape(&s), plain, "{s:?}");
        }
    }
}
