//! Helpers shared by the integration tests (each uses some of them).

#![allow(dead_code)]

/// Splits a golden case into files: the text before the first `--- path`
/// line is `everything.ev`; each `--- path` line starts another file.
pub fn split_case(text: &str) -> Vec<(String, String)> {
    split_files(text, "--- ")
}

/// Splits a text into files at lines starting with `marker` (the rest of
/// the line is the path); the text before the first is `everything.ev`.
pub fn split_files(text: &str, marker: &str) -> Vec<(String, String)> {
    let mut files = vec![("everything.ev".to_string(), String::new())];
    for line in text.split_inclusive('\n') {
        if let Some(path) = line.strip_prefix(marker) {
            files.push((path.trim().to_string(), String::new()));
        } else if let Some((_, body)) = files.last_mut() {
            body.push_str(line);
        }
    }
    files
}
