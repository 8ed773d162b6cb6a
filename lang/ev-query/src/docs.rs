//! Documentation of schemas and values for people: what the REPL's `:doc`
//! and the editor's hover and completion show, written once for both.

use ev_core::value::Value;

/// A value's type for people (`List (3 items)`).
pub(crate) fn describe_type(v: &Value) -> String {
    match v {
        Value::List(items) => format!("List ({} items)", items.len()),
        Value::Record(r) => format!("Record ({} fields)", r.len()),
        other => other.type_name().to_string(),
    }
}

/// A kind's schema for people: its doc and a line per field.
pub(crate) fn schema_doc(schema: &ev_core::schema::SchemaDef) -> String {
    let mut out = format!("schema {}", schema.name.as_str());
    if let Some(doc) = &schema.doc {
        out.push_str(&format!("\n{doc}"));
    }
    out.push('\n');
    for f in &schema.fields {
        out.push_str(&format!("  {}\n", field_doc(f).replace('\n', "\n    ")));
    }
    out
}

/// A field's line: name, type, required or not, and its doc.
pub(crate) fn field_doc(f: &ev_core::schema::SchemaFieldDef) -> String {
    let marks = match (f.optional, f.default.is_some()) {
        (true, _) => " (optional)",
        (false, true) => " (has a default)",
        (false, false) => " (required)",
    };
    let mut out = format!("{}: {}{marks}", f.name.as_str(), f.ty);
    if let Some(doc) = &f.doc {
        out.push_str(&format!("\n{}", doc.trim()));
    }
    out
}

/// A field's documentation with its default and its constraints as
/// written (`= 300`, `where ttl >= 0 ... else "..."`): what `:doc
/// kind.field` and a field's hover show.
pub(crate) fn field_doc_full(
    f: &ev_core::schema::SchemaFieldDef,
    sources: &ev_syntax::SourceMap,
) -> String {
    let written = |span: ev_syntax::Span| {
        sources
            .get(span.file)
            .and_then(|file| file.text.get(span.range()))
            .map(|t| one_line(t.trim()))
    };
    let mut out = field_doc(f);
    if let Some(default) = f.default.as_ref().and_then(|d| written(d.span)) {
        out.push_str(&format!("\ndefault: {default}"));
    }
    for check in &f.checks {
        let Some(cond) = written(check.cond.span) else {
            continue;
        };
        match check.message.as_ref().and_then(|m| written(m.span)) {
            Some(message) => out.push_str(&format!("\nmust hold: {cond} (else {message})")),
            None => out.push_str(&format!("\nmust hold: {cond}")),
        }
    }
    out
}

/// Text on one line, cut at 80 characters.
pub(crate) fn one_line(text: &str) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > 80 {
        format!("{}…", flat.chars().take(79).collect::<String>())
    } else {
        flat
    }
}
