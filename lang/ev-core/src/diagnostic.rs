//! The diagnostic model and its renderers.
//!
//! Every stage reports errors as its own data type; `crate::errors` turns
//! them into [`Diagnostic`]s, and this module renders those for terminals
//! (ariadne) and machines (JSON). The LSP crate maps the same struct onto LSP
//! diagnostics. Codes are stable: never renumber, only add.

use ev_syntax::{SourceMap, Span};
use serde_json::json;

/// How serious a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// The program cannot be used.
    Error,
    /// Suspicious but usable.
    Warning,
}

/// A span with a message.
#[derive(Clone, Debug, PartialEq)]
pub struct Label {
    /// Where.
    pub span: Span,
    /// What to say there (may be empty).
    pub message: String,
}

impl Label {
    /// A label at `span` saying `message`.
    pub fn new(span: Span, message: impl Into<String>) -> Label {
        Label {
            span,
            message: message.into(),
        }
    }
}

/// One user-facing problem report.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    /// Stable code such as `E0201`; see [`CODES`].
    pub code: &'static str,
    /// Error or warning.
    pub severity: Severity,
    /// One-line summary.
    pub message: String,
    /// The main location; `None` for a problem that has no place in the
    /// sources (a corrupted state file, a held lock, a saved plan).
    pub primary: Option<Label>,
    /// Related locations (a schema field, the first definition, a trace step).
    pub secondary: Vec<Label>,
    /// Extra facts.
    pub notes: Vec<String>,
    /// What to do about it.
    pub help: Option<String>,
    /// Edits that would fix it (editors offer them as quick fixes).
    pub fixes: Vec<Fix>,
}

/// A suggested edit: replace the text at `span` with `replacement`.
#[derive(Clone, Debug, PartialEq)]
pub struct Fix {
    /// What to replace (usually the primary span).
    pub span: Span,
    /// The new text.
    pub replacement: String,
}

impl Diagnostic {
    /// An error with a code, message and primary label.
    pub fn error(code: &'static str, message: impl Into<String>, primary: Label) -> Diagnostic {
        Diagnostic {
            code,
            severity: Severity::Error,
            message: message.into(),
            primary: Some(primary),
            secondary: Vec::new(),
            notes: Vec::new(),
            help: None,
            fixes: Vec::new(),
        }
    }

    /// An error with no place in the sources (the state, the lock, a saved
    /// plan, a file ev cannot write): rendered like every other diagnostic,
    /// without a snippet.
    pub fn general(code: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            severity: Severity::Error,
            message: message.into(),
            primary: None,
            secondary: Vec::new(),
            notes: Vec::new(),
            help: None,
            fixes: Vec::new(),
        }
    }

    /// The same diagnostic as a warning: reported, but it fails nothing.
    pub fn as_warning(mut self) -> Diagnostic {
        self.severity = Severity::Warning;
        self
    }

    /// The primary span, if the diagnostic has one.
    pub fn span(&self) -> Option<Span> {
        self.primary.as_ref().map(|l| l.span)
    }

    /// Offers replacing the primary span's text with each suggestion (a
    /// close name), and says so in the help.
    pub fn with_replacements(mut self, suggestions: &[String], quoted: bool) -> Diagnostic {
        if let Some(help) = crate::suggest::did_you_mean(suggestions) {
            self.help = Some(help);
        }
        let Some(span) = self.span() else {
            return self;
        };
        for s in suggestions {
            self.fixes.push(Fix {
                span,
                replacement: if quoted {
                    crate::output::quote(s)
                } else {
                    s.clone()
                },
            });
        }
        self
    }

    /// Adds a secondary label.
    pub fn with_label(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.secondary.push(Label::new(span, message));
        self
    }

    /// Adds a note.
    pub fn with_note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    /// Sets the help text.
    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }
}

/// Every diagnostic code with a short title. Each has a page at
/// `docs/diagnostics/<CODE>.md` (a test keeps the two in step).
pub const CODES: &[(&str, &str)] = &[
    ("E0101", "unexpected token"),
    ("E0102", "invalid character"),
    ("E0103", "unterminated string"),
    ("E0104", "number literal too large"),
    ("E0105", "invalid escape sequence"),
    ("E0106", "invalid syntax"),
    ("E0201", "unbound name"),
    ("E0202", "imported file not found"),
    ("E0203", "import cycle"),
    ("E0204", "name not exported"),
    ("E0205", "duplicate definition"),
    ("E0206", "unknown resource kind"),
    ("E0207", "duplicate resource"),
    ("E0208", "path escapes the repository"),
    ("E0209", "not a kind"),
    ("E0210", "unknown type"),
    ("E0211", "invalid import path"),
    ("E0212", "duplicate field"),
    ("E0213", "`or` without a field access"),
    ("E0214", "ambiguous resource name"),
    ("E0301", "unknown field"),
    ("E0302", "missing field"),
    ("E0303", "type mismatch"),
    ("E0304", "value not allowed"),
    ("E0305", "validation failed"),
    ("E0306", "unknown resource reference"),
    ("E0307", "not a plain name"),
    ("E0401", "wrong type for operation"),
    ("E0402", "no such field"),
    ("E0403", "division by zero"),
    ("E0404", "arithmetic overflow"),
    ("E0405", "cycle in definitions"),
    ("E0406", "recursion limit reached"),
    ("E0407", "wrong arguments"),
    ("E0408", "invalid argument value"),
    ("E0409", "secret used as plain text"),
    ("E0410", "error raised by the program"),
    ("E0411", "cannot read file"),
    ("E0412", "index out of range"),
    ("E0413", "evaluation step limit reached"),
    ("E0414", "invalid data file"),
    ("E0415", "not a function"),
    ("E0416", "value not known yet"),
    ("E0417", "value cannot be exported as data"),
    ("E0418", "evaluation interrupted"),
    ("E0419", "value too large"),
    ("E0420", "evaluation time limit reached"),
    ("E0421", "secret its tool cannot receive"),
    ("E0501", "protected resource would be deleted"),
    ("E0502", "too many deletions"),
    ("E0503", "unknown plan target"),
    ("E0504", "stale saved plan"),
    ("E0505", "actions wait for each other"),
    ("E0601", "unusable state file"),
    ("E0602", "apply lock unavailable"),
    ("E0603", "unusable saved plan"),
    ("E0604", "cannot write file"),
    ("E0605", "invalid REPL command"),
    ("E0606", "no such resource or kind"),
    ("E0607", "no entry file"),
    ("E0608", "cannot run a tool"),
    ("E0609", "confirmation required"),
    ("E0610", "invalid command-line argument"),
    ("E0611", "language server session failed"),
    ("E0612", "unknown environment"),
    ("E0613", "state command refused"),
    ("E0614", "state backend unavailable"),
    ("E0615", "the state moved on without this apply"),
    ("E0616", "state not migrated"),
    ("E0617", "import refused"),
    (
        "E0618",
        "an import does not render what it was imported from",
    ),
    ("E0619", "a `moved` or `forget` is refused"),
    (
        "W0601",
        "machines built from a directory that is not a git repository",
    ),
    ("E0999", "internal error"),
];

/// The code of an internal error (a bug in ev): exit status 101.
pub const INTERNAL_ERROR: &str = "E0999";

/// The title of a code, if it exists.
pub fn code_title(code: &str) -> Option<&'static str> {
    CODES.iter().find(|(c, _)| *c == code).map(|(_, t)| *t)
}

/// Options for human rendering.
#[derive(Clone, Copy, Debug)]
pub struct RenderOptions {
    /// Use ANSI colours.
    pub color: bool,
}

/// Renders diagnostics as ariadne reports into a string.
pub fn render_human(
    diagnostics: &[Diagnostic],
    sources: &SourceMap,
    options: RenderOptions,
) -> String {
    use crate::output::{terminal_safe, terminal_safe_source};
    use ariadne::{Color, Config, IndexType, Label as ALabel, Report, ReportKind};
    let mut out = Vec::new();
    let cache = ariadne::sources(
        sources
            .iter()
            .map(|(_, f)| (f.path.clone(), terminal_safe_source(&f.text).into_owned()))
            .collect::<Vec<_>>(),
    );
    let mut cache = cache;
    for diag in diagnostics.iter().take(MAX_RENDERED) {
        let path_of = |span: Span| {
            sources
                .get(span.file)
                .map(|f| f.path.clone())
                .unwrap_or_default()
        };
        let kind = match diag.severity {
            Severity::Error => ReportKind::Error,
            Severity::Warning => ReportKind::Warning,
        };
        let Some(primary_label) = &diag.primary else {
            out.extend_from_slice(render_general(diag, options).as_bytes());
            continue;
        };
        let primary = (path_of(primary_label.span), primary_label.span.range());
        let mut report = Report::build(kind, primary.clone())
            .with_config(
                Config::default()
                    .with_color(options.color)
                    .with_index_type(IndexType::Byte),
            )
            .with_code(diag.code)
            .with_message(terminal_safe(&diag.message));
        // ariadne starts a new snippet whenever a label's line goes backwards
        // in label order, so order labels by position: one snippet per file.
        let mut labels: Vec<(&Label, bool)> = vec![(primary_label, true)];
        labels.extend(diag.secondary.iter().map(|l| (l, false)));
        // The primary label's file first, then the others.
        let primary_file = primary_label.span.file;
        labels.sort_by_key(|(l, primary)| {
            (
                l.span.file != primary_file,
                l.span.file,
                l.span.start,
                !*primary,
            )
        });
        for (order, (l, is_primary)) in labels.into_iter().enumerate() {
            let label = ALabel::new((path_of(l.span), l.span.range()))
                .with_order(i32::try_from(order).unwrap_or(i32::MAX));
            let label = if l.message.is_empty() {
                label
            } else {
                label.with_message(terminal_safe(&l.message))
            };
            let label = match (options.color, is_primary) {
                (false, _) => label,
                (true, true) => label.with_color(Color::Red),
                (true, false) => label.with_color(Color::Blue),
            };
            report = report.with_label(label);
        }
        for note in &diag.notes {
            report = report.with_note(terminal_safe(note));
        }
        if let Some(help) = &diag.help {
            report = report.with_help(terminal_safe(help));
        }
        let _ = report.finish().write(&mut cache, &mut out);
    }
    let mut text = String::from_utf8_lossy(&out).into_owned();
    if diagnostics.len() > MAX_RENDERED {
        text.push_str(&format!(
            "... and {} more (only the first {MAX_RENDERED} are shown: fix these first)\n",
            diagnostics.len() - MAX_RENDERED
        ));
    }
    text
}

/// A diagnostic without a place in the sources, in the shape ariadne gives
/// the others (`[CODE] Error: message`, then notes and help).
fn render_general(diag: &Diagnostic, options: RenderOptions) -> String {
    use crate::output::terminal_safe;
    let kind = match diag.severity {
        Severity::Error => "Error",
        Severity::Warning => "Warning",
    };
    let head = format!("[{}] {kind}:", diag.code);
    let head = match (options.color, diag.severity) {
        (false, _) => head,
        (true, Severity::Error) => format!("\x1b[31m{head}\x1b[0m"),
        (true, Severity::Warning) => format!("\x1b[33m{head}\x1b[0m"),
    };
    let mut out = format!("{head} {}\n", terminal_safe(&diag.message));
    for note in &diag.notes {
        out.push_str(&format!("  Note: {}\n", terminal_safe(note)));
    }
    if let Some(help) = &diag.help {
        out.push_str(&format!("  Help: {}\n", terminal_safe(help)));
    }
    out
}

/// How many diagnostics one rendering shows; the rest are counted. Keeps a
/// file with thousands of errors from printing hundreds of megabytes.
pub const MAX_RENDERED: usize = 50;

/// A span as JSON: file, byte range and 1-based line/column range.
fn span_json(span: Span, sources: &SourceMap) -> serde_json::Value {
    let Some(file) = sources.get(span.file) else {
        return json!(null);
    };
    let (l1, c1) = file.line_col(span.start);
    let (l2, c2) = file.line_col(span.end);
    json!({
        "file": file.path,
        "byte_start": span.start,
        "byte_end": span.end,
        "line_start": l1 + 1,
        "column_start": c1 + 1,
        "line_end": l2 + 1,
        "column_end": c2 + 1,
    })
}

/// One diagnostic as a JSON object (the `--message-format json` schema).
pub fn to_json(diag: &Diagnostic, sources: &SourceMap) -> serde_json::Value {
    let label = |l: &Label, primary: bool| {
        let mut v = span_json(l.span, sources);
        if let Some(obj) = v.as_object_mut() {
            obj.insert("message".into(), json!(l.message));
            obj.insert("primary".into(), json!(primary));
        }
        v
    };
    let mut labels: Vec<_> = diag.primary.iter().map(|l| label(l, true)).collect();
    labels.extend(diag.secondary.iter().map(|l| label(l, false)));
    json!({
        "code": diag.code,
        "severity": match diag.severity { Severity::Error => "error", Severity::Warning => "warning" },
        "message": diag.message,
        "span": diag.span().map_or(json!(null), |s| span_json(s, sources)),
        "labels": labels,
        "notes": diag.notes,
        "help": diag.help,
        "fixes": diag.fixes.iter().map(|f| {
            let mut v = span_json(f.span, sources);
            if let Some(obj) = v.as_object_mut() {
                obj.insert("replacement".into(), json!(f.replacement));
            }
            v
        }).collect::<Vec<_>>(),
    })
}

/// Renders diagnostics as JSON lines, one object per line.
pub fn render_json_lines(diagnostics: &[Diagnostic], sources: &SourceMap) -> String {
    let mut out = String::new();
    for d in diagnostics {
        out.push_str(&to_json(d, sources).to_string());
        out.push('\n');
    }
    out
}
