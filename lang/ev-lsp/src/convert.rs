//! Every conversion between LSP types and the core's: positions (UTF-16
//! code units on the wire, bytes in the core), URIs (repository-relative
//! paths in the core), diagnostics, completions and symbols. Nothing else
//! in this crate touches `lsp_types` positions.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use ev_core::diagnostic::Severity;
use ev_query::ide::{
    CompletionItem, CompletionKind, FileDiagnostic, Location, SignatureHelp, Symbol, SymbolKind,
};
use lsp_types as lsp;

/// Maps repository paths to URIs and back. Files that exist only inside
/// the binary (the standard library, diagnostic pages) are written once to
/// a cache folder so editors can open them.
pub struct Files {
    root: PathBuf,
    cache: PathBuf,
    /// Embedded files already written (checked once per server run).
    written: std::cell::RefCell<std::collections::HashMap<String, PathBuf>>,
}

impl Files {
    /// Paths relative to `root`; embedded files under `cache`.
    pub fn new(root: PathBuf, cache: PathBuf) -> Files {
        Files {
            root,
            cache,
            written: Default::default(),
        }
    }

    /// The repository root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The URI of a repository path (the standard library's embedded copy
    /// when the repository has none).
    pub fn uri(&self, path: &str) -> Option<lsp::Uri> {
        let on_disk = self.root.join(path);
        let file = if !on_disk.exists() && path.starts_with("stdlib/") {
            let text = ev_core::stdlib::FILES.iter().find(|(p, _)| *p == path)?.1;
            self.materialize(path, text)?
        } else {
            on_disk
        };
        path_uri(&file)
    }

    /// The repository path of a URI (`None` outside the repository).
    pub fn path(&self, uri: &lsp::Uri) -> Option<String> {
        let file = uri_path(uri)?;
        for base in [&self.root, &self.cache] {
            if let Ok(rel) = file.strip_prefix(base) {
                return Some(rel.to_string_lossy().replace('\\', "/"));
            }
        }
        None
    }

    /// The page documenting a diagnostic code.
    pub fn code_page(&self, code: &str) -> Option<lsp::Uri> {
        let path = format!("docs/diagnostics/{code}.md");
        let on_disk = self.root.join(&path);
        if on_disk.exists() {
            return path_uri(&on_disk);
        }
        let text = ev_core::diagnostic_docs::page(code)?;
        path_uri(&self.materialize(&path, text)?)
    }

    /// Writes an embedded file under the cache folder, unless an earlier
    /// run already wrote the same text; once per server run.
    fn materialize(&self, path: &str, text: &str) -> Option<PathBuf> {
        if let Some(file) = self.written.borrow().get(path) {
            return Some(file.clone());
        }
        let file = self.cache.join(path);
        if std::fs::read_to_string(&file).ok().as_deref() != Some(text) {
            std::fs::create_dir_all(file.parent()?).ok()?;
            let tmp = file.with_extension("tmp");
            std::fs::write(&tmp, text).ok()?;
            std::fs::rename(&tmp, &file).ok()?;
        }
        self.written
            .borrow_mut()
            .insert(path.to_string(), file.clone());
        Some(file)
    }
}

/// What a path keeps unencoded in a `file://` URI: letters, digits and
/// `/-._~` (RFC 3986's unreserved characters and the separator).
const PATH_KEPT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `file://` URI of an absolute path, percent-encoding what needs it.
pub fn path_uri(path: &Path) -> Option<lsp::Uri> {
    let path = path.to_str()?;
    let s = format!(
        "file://{}",
        percent_encoding::utf8_percent_encode(path, PATH_KEPT)
    );
    lsp::Uri::from_str(&s).ok()
}

/// The absolute path of a `file://` URI.
pub fn uri_path(uri: &lsp::Uri) -> Option<PathBuf> {
    let rest = uri.as_str().strip_prefix("file://")?;
    // `file://host/path` is not ours; `file:///path` has an empty host.
    let path = rest.strip_prefix("localhost").unwrap_or(rest);
    let decoded = percent_encoding::percent_decode_str(path)
        .decode_utf8()
        .ok()?;
    Some(PathBuf::from(decoded.into_owned()))
}

/// The byte offset of an LSP position (UTF-16 column) in `text`; positions
/// past a line's end clamp to it.
pub fn offset(text: &str, pos: lsp::Position) -> u32 {
    let mut line_start = 0usize;
    for _ in 0..pos.line {
        match text[line_start..].find('\n') {
            Some(i) => line_start += i + 1,
            None => return text.len() as u32,
        }
    }
    let line_end = text[line_start..]
        .find('\n')
        .map(|i| line_start + i)
        .unwrap_or(text.len());
    let mut units = 0u32;
    for (i, c) in text[line_start..line_end].char_indices() {
        if units >= pos.character {
            return (line_start + i) as u32;
        }
        units += c.len_utf16() as u32;
    }
    line_end as u32
}

/// The LSP position (UTF-16 column) of a byte offset in `text`.
pub fn position(text: &str, offset: u32) -> lsp::Position {
    let offset = (offset as usize).min(text.len());
    // Step back to a character boundary (spans never split one, but be safe).
    let mut offset = offset;
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() as u32;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let character = before[line_start..]
        .chars()
        .map(|c| c.len_utf16() as u32)
        .sum();
    lsp::Position { line, character }
}

/// The LSP range of a byte range in `text`.
pub fn range(text: &str, start: u32, end: u32) -> lsp::Range {
    lsp::Range {
        start: position(text, start),
        end: position(text, end),
    }
}

/// A core location as an LSP location (needs the file's text).
pub fn location(files: &Files, text: &str, loc: &Location) -> Option<lsp::Location> {
    Some(lsp::Location {
        uri: files.uri(&loc.path)?,
        range: range(text, loc.start, loc.end),
    })
}

/// A core diagnostic as an LSP diagnostic. `text_of` gives any file's text.
pub fn diagnostic(
    files: &Files,
    d: &FileDiagnostic,
    text_of: &dyn Fn(&str) -> Option<std::sync::Arc<str>>,
) -> Option<lsp::Diagnostic> {
    let text = text_of(&d.primary.path)?;
    let diag = &d.diagnostic;
    let mut message = diag.message.clone();
    if let Some(label) = diag.primary.as_ref().filter(|l| !l.message.is_empty()) {
        message.push_str(&format!("\n{}", label.message));
    }
    for note in &diag.notes {
        message.push_str(&format!("\nnote: {note}"));
    }
    if let Some(help) = &diag.help {
        message.push_str(&format!("\nhelp: {help}"));
    }
    let related: Vec<lsp::DiagnosticRelatedInformation> = d
        .related
        .iter()
        .filter_map(|(loc, msg)| {
            let text = text_of(&loc.path)?;
            Some(lsp::DiagnosticRelatedInformation {
                location: location(files, &text, loc)?,
                message: if msg.is_empty() {
                    "here".into()
                } else {
                    msg.clone()
                },
            })
        })
        .collect();
    Some(lsp::Diagnostic {
        range: range(&text, d.primary.start, d.primary.end),
        severity: Some(match diag.severity {
            Severity::Error => lsp::DiagnosticSeverity::ERROR,
            Severity::Warning => lsp::DiagnosticSeverity::WARNING,
        }),
        code: Some(lsp::NumberOrString::String(diag.code.to_string())),
        code_description: files
            .code_page(diag.code)
            .map(|href| lsp::CodeDescription { href }),
        source: Some("ev".into()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        tags: None,
        data: None,
    })
}

/// A completion proposal.
pub fn completion(text: &str, item: &CompletionItem) -> lsp::CompletionItem {
    let kind = match item.kind {
        CompletionKind::Field => lsp::CompletionItemKind::FIELD,
        CompletionKind::Resource => lsp::CompletionItemKind::REFERENCE,
        CompletionKind::Kind => lsp::CompletionItemKind::CLASS,
        CompletionKind::Function => lsp::CompletionItemKind::FUNCTION,
        CompletionKind::Variable => lsp::CompletionItemKind::VARIABLE,
        CompletionKind::Module => lsp::CompletionItemKind::MODULE,
        CompletionKind::File => lsp::CompletionItemKind::FILE,
        CompletionKind::Keyword => lsp::CompletionItemKind::KEYWORD,
        CompletionKind::Value => lsp::CompletionItemKind::VALUE,
    };
    lsp::CompletionItem {
        label: item.label.clone(),
        kind: Some(kind),
        detail: item.detail.clone(),
        documentation: item.documentation.as_ref().map(|d| {
            lsp::Documentation::MarkupContent(lsp::MarkupContent {
                kind: lsp::MarkupKind::Markdown,
                value: d.clone(),
            })
        }),
        sort_text: Some(item.sort.clone()),
        filter_text: Some(item.label.clone()),
        text_edit: Some(lsp::CompletionTextEdit::Edit(lsp::TextEdit {
            range: range(text, item.replace.0, item.replace.1),
            new_text: item.insert.clone().unwrap_or_else(|| item.label.clone()),
        })),
        ..Default::default()
    }
}

/// Signature help for one call.
pub fn signature_help(s: &SignatureHelp) -> lsp::SignatureHelp {
    lsp::SignatureHelp {
        signatures: vec![lsp::SignatureInformation {
            label: s.label.clone(),
            documentation: s.documentation.as_ref().map(|d| {
                lsp::Documentation::MarkupContent(lsp::MarkupContent {
                    kind: lsp::MarkupKind::Markdown,
                    value: d.clone(),
                })
            }),
            parameters: Some(
                s.parameters
                    .iter()
                    .map(|p| lsp::ParameterInformation {
                        label: lsp::ParameterLabel::Simple(p.clone()),
                        documentation: None,
                    })
                    .collect(),
            ),
            active_parameter: Some(s.active as u32),
        }],
        active_signature: Some(0),
        active_parameter: Some(s.active as u32),
    }
}

fn symbol_kind(kind: SymbolKind) -> lsp::SymbolKind {
    match kind {
        SymbolKind::Resource => lsp::SymbolKind::OBJECT,
        SymbolKind::Kind => lsp::SymbolKind::CLASS,
        SymbolKind::Schema => lsp::SymbolKind::STRUCT,
        SymbolKind::Field => lsp::SymbolKind::FIELD,
        SymbolKind::Function => lsp::SymbolKind::FUNCTION,
        SymbolKind::Variable => lsp::SymbolKind::VARIABLE,
    }
}

/// A document symbol tree.
#[allow(deprecated)] // `deprecated` is a required field of the struct
pub fn document_symbol(text: &str, s: &Symbol) -> lsp::DocumentSymbol {
    lsp::DocumentSymbol {
        name: s.name.clone(),
        detail: s.detail.clone(),
        kind: symbol_kind(s.kind),
        tags: None,
        deprecated: None,
        range: range(text, s.location.start, s.location.end),
        selection_range: range(text, s.selection.start, s.selection.end),
        children: (!s.children.is_empty()).then(|| {
            s.children
                .iter()
                .map(|c| document_symbol(text, c))
                .collect()
        }),
    }
}

/// A workspace symbol.
#[allow(deprecated)] // `deprecated` is a required field of the struct
pub fn symbol_information(files: &Files, text: &str, s: &Symbol) -> Option<lsp::SymbolInformation> {
    Some(lsp::SymbolInformation {
        name: s.name.clone(),
        kind: symbol_kind(s.kind),
        tags: None,
        deprecated: None,
        location: location(files, text, &s.selection)?,
        container_name: Some(match &s.detail {
            Some(d) => format!("{d} in {}", s.location.path),
            None => s.location.path.clone(),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_columns_round_trip() {
        let text = "a = \"é😀x\"\nb";
        // `x` is after 1 (é) + 2 (😀) UTF-16 units following the quote.
        let x = text.find('x').expect("x") as u32;
        let pos = position(text, x);
        assert_eq!((pos.line, pos.character), (0, 8));
        assert_eq!(offset(text, pos), x);
        let b = position(text, text.len() as u32);
        assert_eq!((b.line, b.character), (1, 1));
        // Past the end of a line clamps to the line's end.
        let clamped = offset(
            text,
            lsp::Position {
                line: 0,
                character: 99,
            },
        );
        assert_eq!(clamped, text.find('\n').expect("newline") as u32);
    }

    #[test]
    fn uris_round_trip_with_spaces() {
        let uri = path_uri(Path::new("/tmp/my repo/ä.ev")).expect("uri");
        assert_eq!(uri.as_str(), "file:///tmp/my%20repo/%C3%A4.ev");
        assert_eq!(
            uri_path(&uri).expect("path"),
            PathBuf::from("/tmp/my repo/ä.ev")
        );
    }
}
