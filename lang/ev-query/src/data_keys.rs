//! Where a key path is in a data file (JSON, YAML, TOML) a program reads:
//! the REPL's `:why` and the editor's go-to-definition both follow a value
//! read with `json(...)` and friends to the key it came from.

/// The span of the key reached by `keys` in a data file's text: by path
/// in JSON; in YAML and TOML, the last key's first occurrence.
pub(crate) fn data_key_span(file: &str, text: &str, keys: &[&str]) -> Option<(usize, usize)> {
    if file.ends_with(".json") {
        return json_key_span(text, keys);
    }
    let last = keys.last()?;
    let at = text
        .find(&format!("{last}:"))
        .or_else(|| text.find(&format!("{last} =")))?;
    Some((at, at + last.len()))
}

/// The span of the key reached by `keys` in a JSON text (the whole text
/// for no keys).
fn json_key_span(text: &str, keys: &[&str]) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut pos = 0;
    let mut span = (0, 0);
    for key in keys {
        pos = skip_ws(bytes, pos);
        if bytes.get(pos) != Some(&b'{') {
            return None;
        }
        pos += 1;
        loop {
            pos = skip_ws(bytes, pos);
            match bytes.get(pos) {
                Some(b'"') => {}
                _ => return None,
            }
            let key_start = pos;
            let key_end = skip_string(bytes, pos)?;
            let name: String = serde_json::from_str(text.get(key_start..key_end)?).ok()?;
            pos = skip_ws(bytes, key_end);
            if bytes.get(pos) != Some(&b':') {
                return None;
            }
            pos += 1;
            if name == *key {
                span = (key_start, key_end);
                break;
            }
            pos = skip_value(bytes, pos)?;
            pos = skip_ws(bytes, pos);
            match bytes.get(pos) {
                Some(b',') => pos += 1,
                _ => return None,
            }
        }
    }
    Some(span)
}

fn skip_ws(bytes: &[u8], mut pos: usize) -> usize {
    while bytes.get(pos).is_some_and(|b| b.is_ascii_whitespace()) {
        pos += 1;
    }
    pos
}

/// Past the string starting at `pos` (which holds `"`).
fn skip_string(bytes: &[u8], mut pos: usize) -> Option<usize> {
    pos += 1;
    loop {
        match bytes.get(pos)? {
            b'\\' => pos += 2,
            b'"' => return Some(pos + 1),
            _ => pos += 1,
        }
    }
}

/// Past the JSON value starting at or after `pos`.
fn skip_value(bytes: &[u8], pos: usize) -> Option<usize> {
    let mut pos = skip_ws(bytes, pos);
    let mut depth = 0usize;
    loop {
        match bytes.get(pos)? {
            b'"' => pos = skip_string(bytes, pos)?,
            b'{' | b'[' => {
                depth += 1;
                pos += 1;
            }
            b'}' | b']' => {
                if depth == 0 {
                    return Some(pos);
                }
                depth -= 1;
                pos += 1;
            }
            b',' if depth == 0 => return Some(pos),
            _ => pos += 1,
        }
        if depth == 0 && matches!(bytes.get(pos.saturating_sub(1)), Some(b'}' | b']' | b'"')) {
            // A complete container or string at the top level.
            let next = skip_ws(bytes, pos);
            if matches!(bytes.get(next), Some(b',' | b'}' | b']') | None) {
                return Some(next);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::json_key_span;

    #[test]
    fn json_keys_are_found_by_path() {
        let text = r#"{ "a": {"x": [1, {"y": 2}], "b": "s\"}"}, "c": { "b": 3 } }"#;
        let (s, e) = json_key_span(text, &["c", "b"]).expect("found");
        assert_eq!(&text[s..e], "\"b\"");
        assert!(s > text.find("\"c\"").expect("c"));
        let (s, _) = json_key_span(text, &["a", "b"]).expect("found");
        assert_eq!(s, text.find("\"b\"").expect("b"));
        assert_eq!(json_key_span(text, &["a", "zz"]), None);
    }
}
