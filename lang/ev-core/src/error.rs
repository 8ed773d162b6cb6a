//! Errors of the resolve and evaluation stages as data, and the one
//! conversion of every stage's errors (syntax included) into [`Diagnostic`]s.

use ev_syntax::{Span, SyntaxError, SyntaxErrorKind};

use crate::diagnostic::{Diagnostic, Label};
use crate::suggest::did_you_mean;

/// A problem found while resolving names, imports and declarations.
#[derive(Clone, Debug, PartialEq)]
pub enum ResolveError {
    /// A name with no binding in scope.
    UnboundName {
        /// The name.
        name: String,
        /// Where it was used.
        span: Span,
        /// Close names in scope.
        suggestions: Vec<String>,
    },
    /// An import of a file that does not exist.
    ImportNotFound {
        /// The normalized path.
        path: String,
        /// The path literal.
        span: Span,
    },
    /// An imported (or entry) file that is there but cannot be read: not
    /// valid UTF-8, not a regular file, too large.
    ImportUnreadable {
        /// The normalized path.
        path: String,
        /// Why.
        reason: String,
        /// The path literal (an empty span for the entry file).
        span: Span,
    },
    /// Imports that form a cycle; `chain` lists each import step.
    ImportCycle {
        /// (importing file, span of the import path) for each step.
        chain: Vec<(String, Span)>,
    },
    /// `import { x } from "m.ev"` where `m.ev` does not export `x`.
    NotExported {
        /// The name.
        name: String,
        /// The module path.
        module: String,
        /// Where it was imported.
        span: Span,
        /// Close exported names.
        suggestions: Vec<String>,
    },
    /// Two top-level definitions of one name in a module.
    DuplicateDefinition {
        /// The name.
        name: String,
        /// The second definition.
        span: Span,
        /// The first definition.
        first: Span,
    },
    /// A resource declared with a kind that is not in scope.
    UnknownKind {
        /// The kind name.
        name: String,
        /// Where.
        span: Span,
        /// Close kind names.
        suggestions: Vec<String>,
    },
    /// Two resources of one kind with the same name.
    DuplicateResource {
        /// Kind.
        kind: String,
        /// Name.
        name: String,
        /// The second declaration.
        span: Span,
        /// The first.
        first: Span,
    },
    /// A path that leaves the repository.
    PathEscapesRoot {
        /// The path as written.
        path: String,
        /// Where a symbolic link on the way leads (None: the path itself is
        /// absolute or climbs out with `..`).
        link_target: Option<String>,
        /// Where.
        span: Span,
    },
    /// A name used as a resource kind that is bound to something else.
    NotAKind {
        /// The name.
        name: String,
        /// Where.
        span: Span,
    },
    /// A type name in a schema that is neither builtin nor a schema.
    UnknownType {
        /// The name.
        name: String,
        /// Where.
        span: Span,
        /// Close type names.
        suggestions: Vec<String>,
    },
    /// An import path that is not a plain `.ev` path.
    InvalidImportPath {
        /// The path.
        path: String,
        /// Why.
        reason: String,
        /// Where.
        span: Span,
    },
    /// A record literal setting the same field twice.
    DuplicateField {
        /// The key.
        name: String,
        /// The second occurrence.
        span: Span,
        /// The first.
        first: Span,
    },
    /// A bare name that several resources of different kinds share.
    AmbiguousName {
        /// The name.
        name: String,
        /// Where it was used.
        span: Span,
        /// The qualified alternatives (`image.web`, `app.web`).
        candidates: Vec<String>,
    },
    /// `x or d` where `x` is not a field access or index.
    OrWithoutSelect {
        /// The `or` expression.
        span: Span,
    },
}

/// An error raised while evaluating.
#[derive(Clone, Debug, PartialEq)]
pub struct EvalError {
    /// What went wrong.
    pub kind: EvalErrorKind,
    /// Where.
    pub span: Span,
    /// Evaluation context, innermost first ("while checking machine `x`").
    pub trace: Vec<(String, Span)>,
}

impl EvalError {
    /// An error of `kind` at `span`.
    pub fn new(kind: EvalErrorKind, span: Span) -> Box<EvalError> {
        Box::new(EvalError {
            kind,
            span,
            trace: Vec::new(),
        })
    }
}

/// Kinds of evaluation error.
#[derive(Clone, Debug, PartialEq)]
pub enum EvalErrorKind {
    /// An operation applied to values of the wrong type.
    WrongType {
        /// The operation ("`+`", "field access", "`if` condition").
        operation: String,
        /// What it accepts.
        expected: String,
        /// What it got.
        found: String,
    },
    /// A field that does not exist.
    NoSuchField {
        /// The field.
        field: String,
        /// Close existing fields.
        suggestions: Vec<String>,
        /// The fields that do exist (at most a dozen).
        available: Vec<String>,
    },
    /// `x / 0` or `x % 0`.
    DivisionByZero,
    /// Integer arithmetic overflowed.
    Overflow,
    /// Float arithmetic whose result is infinite (or not a number).
    FloatOverflow,
    /// A value depends on itself.
    Cycle {
        /// The chain of definitions, in order of forcing.
        chain: Vec<(String, Span)>,
    },
    /// A record or list that contains itself (`let r = { a = r }`), met
    /// while writing it out, comparing or merging it.
    ContainsItself,
    /// Nesting too deep.
    RecursionLimit(u32),
    /// Bad call arguments.
    BadArguments(String),
    /// More positional arguments than the function takes; the error's span
    /// covers the extra ones.
    TooManyArguments {
        /// The function, for the message (`` `len` ``, "this function").
        function: String,
        /// Its signature: `len(value)`.
        signature: String,
        /// How many it takes.
        max: usize,
        /// How many were given.
        given: usize,
    },
    /// A builtin rejected an argument value.
    InvalidArgument {
        /// The builtin's name.
        function: String,
        /// Why.
        message: String,
    },
    /// A secret where plain text is needed.
    SecretInString,
    /// `error("...")` was called.
    UserError(String),
    /// A data file could not be read.
    FileRead {
        /// The path.
        path: String,
        /// The OS's reason.
        message: String,
    },
    /// An index past the end.
    IndexOutOfRange {
        /// The index.
        index: i64,
        /// The length.
        len: usize,
    },
    /// Too many evaluation steps.
    StepLimit(u64),
    /// Evaluation ran longer than [`crate::eval::Limits::max_time`].
    TimeLimit(std::time::Duration),
    /// A string or list beyond the size limits.
    SizeLimit {
        /// `string` or `list`.
        what: &'static str,
        /// Its size (bytes or items).
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The user interrupted the evaluation (Ctrl-C in the REPL).
    Interrupted,
    /// A data file that does not parse.
    BadData {
        /// The path.
        path: String,
        /// The parser's message.
        message: String,
    },
    /// A call of something that is not a function.
    NotCallable(String),
    /// A value not known until apply where a known value is required.
    UnknownNeeded {
        /// What needed it.
        operation: String,
        /// Why it is unknown.
        reason: String,
    },
    /// A value that cannot be written as data (a function, a schema).
    NotData(String),
    /// A data path that leaves the repository.
    PathEscapesRoot {
        /// The path as written.
        path: String,
        /// Where a symbolic link on the way leads (None: the path itself is
        /// absolute or climbs out with `..`).
        link_target: Option<String>,
    },
    /// Schema check failures (several at once).
    Schema(Vec<SchemaError>),
    /// Evaluation reached code that failed to parse or resolve (already reported).
    Poisoned,
}

/// One schema violation.
#[derive(Clone, Debug, PartialEq)]
pub struct SchemaError {
    /// What is wrong.
    pub kind: SchemaErrorKind,
    /// The user's value (or the record when a field is missing).
    pub span: Span,
    /// The schema field (or schema) involved.
    pub schema_span: Option<Span>,
}

/// Kinds of schema violation.
#[derive(Clone, Debug, PartialEq)]
pub enum SchemaErrorKind {
    /// A field the schema does not declare.
    UnknownField {
        /// The field.
        field: String,
        /// The schema.
        schema: String,
        /// Close declared fields.
        suggestions: Vec<String>,
    },
    /// A required field that is absent.
    MissingField {
        /// The field.
        field: String,
        /// Its type.
        ty: String,
        /// The schema.
        schema: String,
    },
    /// A value of the wrong type.
    TypeMismatch {
        /// The field path (`records[2].ttl`).
        path: String,
        /// The declared type.
        expected: String,
        /// The value's type.
        found: String,
        /// What the user probably meant (a resource given where its name
        /// is wanted, an image where its pinned reference is).
        hint: Option<String>,
    },
    /// A value known only after apply in a field that must be known when
    /// planning.
    NotKnown {
        /// The field path.
        path: String,
        /// The declared type.
        expected: String,
        /// Why the value is not known yet.
        reason: String,
    },
    /// A secret inside plain data (`Data`), which its tool would receive as
    /// text.
    SecretInData {
        /// The path of the secret.
        path: String,
    },
    /// A string outside an enum.
    NotAllowed {
        /// The field path.
        path: String,
        /// The value.
        value: String,
        /// The allowed strings.
        allowed: Vec<String>,
        /// Close allowed strings.
        suggestions: Vec<String>,
    },
    /// A string that is not a safe name (`Name`).
    UnsafeName {
        /// The field path.
        path: String,
        /// The value.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A reference to a resource that does not exist.
    UnknownResource {
        /// The field path.
        path: String,
        /// The kind referred to.
        kind: String,
        /// The name given.
        name: String,
        /// Close existing names.
        suggestions: Vec<String>,
    },
    /// A `where` or `check` predicate returned false.
    CheckFailed {
        /// The field path, or empty for a record-level check.
        path: String,
        /// The check's message.
        message: String,
    },
}

/// Converts a syntax error.
pub fn syntax_diagnostic(err: &SyntaxError) -> Diagnostic {
    match &err.kind {
        SyntaxErrorKind::Unexpected {
            expected,
            found,
            context,
        } => {
            let found_text = found.clone().unwrap_or_else(|| "end of input".into());
            let expected_text = match expected.as_slice() {
                [] => "something else".to_string(),
                [one] => one.clone(),
                many => {
                    let (last, rest) = many.split_last().map_or((String::new(), &[][..]), |(l, r)| (l.clone(), r));
                    format!("{} or {}", rest.join(", "), last)
                }
            };
            let mut diag = Diagnostic::error(
                "E0101",
                format!("unexpected {found_text}"),
                Label::new(err.span, format!("expected {expected_text}")),
            );
            if let Some((what, span)) = context {
                if *span != err.span {
                    diag = diag.with_label(*span, format!("while parsing this {what}"));
                }
            }
            if found.is_none() {
                diag = diag.with_help("something is missing here, often a closing bracket or quote");
            }
            diag
        }
        SyntaxErrorKind::InvalidCharacter(c) => Diagnostic::error(
            "E0102",
            format!("invalid character {c:?}"),
            Label::new(err.span, "this character cannot start a token"),
        )
        .with_help(match c {
            ';' => "ev separates fields with commas or new lines, not `;`",
            '\'' => "strings use double quotes: \"...\"",
            _ => "remove it, or put it inside a string",
        }),
        SyntaxErrorKind::UnterminatedString => Diagnostic::error(
            "E0103",
            "unterminated string",
            Label::new(err.span, "this string has no closing quote"),
        )
        .with_help("close it with `\"`; for text spanning lines use `\"\"\"...\"\"\"`"),
        SyntaxErrorKind::IntegerTooLarge(text) => Diagnostic::error(
            "E0104",
            format!("integer literal `{text}` is too large"),
            Label::new(err.span, "does not fit in a 64-bit signed integer"),
        )
        .with_help("integers range from -9223372036854775808 to 9223372036854775807; write large numbers as strings"),
        SyntaxErrorKind::FloatTooLarge(text) => Diagnostic::error(
            "E0104",
            format!("number literal `{}…` is too large", &text[..text.len().min(24)]),
            Label::new(err.span, "beyond the largest finite number (about 1.8e308)"),
        )
        .with_help("write large numbers as strings"),
        SyntaxErrorKind::InvalidEscape(esc) => Diagnostic::error(
            "E0105",
            format!("invalid escape sequence `{esc}`"),
            Label::new(err.span, "unknown escape"),
        )
        .with_help("valid escapes are \\n \\t \\r \\0 \\\\ \\\" \\$ and \\u{XXXX}"),
        SyntaxErrorKind::UnclosedDelimiter { open } => Diagnostic::error(
            "E0106",
            format!("unclosed `{open}`"),
            Label::new(err.span, "opened here"),
        ),
        SyntaxErrorKind::UnmatchedClose(close) => Diagnostic::error(
            "E0106",
            format!("unmatched `{close}`"),
            Label::new(err.span, "nothing to close"),
        ),
        SyntaxErrorKind::Invalid(msg) => {
            Diagnostic::error("E0106", msg.clone(), Label::new(err.span, "here"))
        }
    }
}

/// Converts a resolve error.
pub fn resolve_diagnostic(err: &ResolveError) -> Diagnostic {
    let with_suggestions = |d: Diagnostic, s: &[String]| d.with_replacements(s, false);
    match err {
        ResolveError::UnboundName {
            name,
            span,
            suggestions,
        } => {
            let d = Diagnostic::error(
                "E0201",
                format!("unbound name `{name}`"),
                Label::new(*span, "not found in this scope"),
            );
            let d = if name.contains('-') && suggestions.is_empty() {
                d.with_note("names may contain `-`; write `a - b` with spaces to subtract")
            } else {
                d
            };
            with_suggestions(d, suggestions)
        }
        ResolveError::ImportNotFound { path, span } => Diagnostic::error(
            "E0202",
            format!("cannot find `{path}`"),
            Label::new(*span, "no such file in the repository"),
        )
        .with_note("import paths are relative to the repository root (where everything.ev is)"),
        ResolveError::ImportUnreadable { path, reason, span } => Diagnostic::error(
            "E0411",
            format!("cannot read `{path}`: {reason}"),
            Label::new(*span, "read here"),
        ),
        ResolveError::ImportCycle { chain } => {
            let names: Vec<&str> = chain.iter().map(|(p, _)| p.as_str()).collect();
            let mut cycle = names.join(" → ");
            if let Some(first) = names.first() {
                cycle.push_str(&format!(" → {first}"));
            }
            let primary =
                chain
                    .last()
                    .map(|(_, s)| *s)
                    .unwrap_or(Span::new(ev_syntax::FileId(0), 0, 0));
            let mut d = Diagnostic::error(
                "E0203",
                "import cycle",
                Label::new(primary, "this import closes the cycle"),
            )
            .with_note(format!("cycle: {cycle}"))
            .with_help("move the shared definitions into a module that both can import");
            for (path, span) in chain.iter().take(chain.len().saturating_sub(1)) {
                d = d.with_label(*span, format!("`{path}` imports"));
            }
            d
        }
        ResolveError::NotExported {
            name,
            module,
            span,
            suggestions,
        } => with_suggestions(
            Diagnostic::error(
                "E0204",
                format!("`{module}` does not export `{name}`"),
                Label::new(*span, "not exported"),
            ),
            suggestions,
        )
        .with_note("only items marked `export` can be imported"),
        ResolveError::DuplicateDefinition { name, span, first } => Diagnostic::error(
            "E0205",
            format!("`{name}` is defined twice"),
            Label::new(*span, "defined again here"),
        )
        .with_label(*first, "first defined here")
        .with_help("rename one of them"),
        ResolveError::UnknownKind {
            name,
            span,
            suggestions,
        } => with_suggestions(
            Diagnostic::error(
                "E0206",
                format!("unknown resource kind `{name}`"),
                Label::new(*span, "no kind of this name"),
            ),
            suggestions,
        )
        .with_note(
            "kinds are declared with `kind name: Schema` (the standard ones live in stdlib/)",
        ),
        ResolveError::DuplicateResource {
            kind,
            name,
            span,
            first,
        } => Diagnostic::error(
            "E0207",
            format!("{kind} `{name}` is declared twice"),
            Label::new(*span, "declared again here"),
        )
        .with_label(*first, "first declared here"),
        ResolveError::PathEscapesRoot {
            path,
            link_target,
            span,
        } => Diagnostic::error(
            "E0208",
            format!("path `{path}` leaves the repository"),
            Label::new(*span, escape_label(link_target.as_deref())),
        )
        .with_help("paths are relative to the repository root and must stay inside it, symbolic links included"),
        ResolveError::NotAKind { name, span } => Diagnostic::error(
            "E0209",
            format!("`{name}` is not a resource kind"),
            Label::new(*span, "used as a kind here"),
        ),
        ResolveError::UnknownType {
            name,
            span,
            suggestions,
        } => with_suggestions(
            Diagnostic::error(
                "E0210",
                format!("unknown type `{name}`"),
                Label::new(*span, "not a builtin type or schema"),
            ),
            suggestions,
        )
        .with_note(format!(
            "builtin types: {}",
            crate::program::BUILTIN_TYPES
                .iter()
                .map(|t| match *t {
                    "List" | "Map" => format!("{t}(T)"),
                    "Ref" => "Ref(kind)".to_string(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(" ")
        )),
        ResolveError::InvalidImportPath { path, reason, span } => Diagnostic::error(
            "E0211",
            format!("invalid import path `{path}`"),
            Label::new(*span, reason.clone()),
        ),
        ResolveError::DuplicateField { name, span, first } => Diagnostic::error(
            "E0212",
            format!("field `{name}` is set twice"),
            Label::new(*span, "set again here"),
        )
        .with_label(*first, "first set here")
        .with_help("to combine records use `//` (shallow) or `&` (deep merge)"),
        ResolveError::AmbiguousName {
            name,
            span,
            candidates,
        } => Diagnostic::error(
            "E0214",
            format!("`{name}` names several resources"),
            Label::new(*span, "ambiguous"),
        )
        .with_help(format!(
            "qualify it with its kind: {}",
            candidates
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(" or ")
        )),
        ResolveError::OrWithoutSelect { span } => Diagnostic::error(
            "E0213",
            "`or` needs a field access on its left",
            Label::new(*span, "this is not `record.field or default`"),
        )
        .with_help("write `record.field or default`; for booleans use `||`"),
    }
}

/// Converts an evaluation error (a schema error yields one diagnostic per violation).
pub fn eval_diagnostics(err: &EvalError) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let base = |code, msg: String, label: &str| {
        Diagnostic::error(code, msg, Label::new(err.span, label.to_string()))
    };
    match &err.kind {
        EvalErrorKind::WrongType {
            operation,
            expected,
            found,
        } => out.push(base(
            "E0401",
            format!("{operation} expects {expected}, found {found}"),
            &format!("this is {}", article(found)),
        )),
        EvalErrorKind::NoSuchField {
            field,
            suggestions,
            available,
        } => {
            let d = base("E0402", format!("no field `{field}`"), "field not found");
            let d = if available.is_empty() {
                d.with_note("the record is empty")
            } else {
                d.with_note(format!("the record has: {}", available.join(", ")))
            };
            out.push(match did_you_mean(suggestions) {
                Some(h) => d.with_help(h),
                None => d.with_help("use `record.field or default` when a field may be absent"),
            });
        }
        EvalErrorKind::DivisionByZero => {
            out.push(base("E0403", "division by zero".into(), "the divisor is zero"))
        }
        EvalErrorKind::Overflow => out.push(
            base("E0404", "integer overflow".into(), "result does not fit in 64 bits"),
        ),
        EvalErrorKind::FloatOverflow => out.push(
            base("E0404", "number overflow".into(), "the result is not a finite number")
                .with_note("ev has no infinite numbers: no data format a tool reads can hold one"),
        ),
        EvalErrorKind::Cycle { chain } => {
            let names: Vec<&str> = chain.iter().map(|(n, _)| n.as_str()).collect();
            let mut d = base(
                "E0405",
                "cycle in definitions".into(),
                "this needs its own value",
            );
            if !names.is_empty() {
                d = d.with_note(format!("cycle: {} → {}", names.join(" → "), names.first().copied().unwrap_or("")));
            }
            for (name, span) in chain {
                if *span != err.span {
                    d = d.with_label(*span, format!("{name} is defined here"));
                }
            }
            out.push(d.with_help("break the cycle: one of these values must not depend on the others"));
        }
        EvalErrorKind::ContainsItself => out.push(
            base(
                "E0405",
                "this value contains itself".into(),
                "this value is one of its own fields or items",
            )
            .with_note("writing it out, comparing or merging it would never end")
            .with_help("build the value from other values; a field cannot hold the record it belongs to"),
        ),
        EvalErrorKind::RecursionLimit(limit) => out.push(
            base(
                "E0406",
                format!("recursion limit of {limit} nested calls reached"),
                "while evaluating this",
            )
            .with_help("a function probably calls itself without reaching a base case"),
        ),
        EvalErrorKind::BadArguments(msg) => out.push(base("E0407", msg.clone(), "in this call")),
        EvalErrorKind::TooManyArguments {
            function,
            signature,
            max,
            given,
        } => {
            let extra = given - max;
            out.push(
                base(
                    "E0407",
                    format!(
                        "{function} takes {max} argument{}, but {given} were given",
                        if *max == 1 { "" } else { "s" }
                    ),
                    &format!(
                        "{extra} argument{} too many",
                        if extra == 1 { "" } else { "s" }
                    ),
                )
                .with_note(format!("the signature is `{signature}`")),
            )
        }
        EvalErrorKind::InvalidArgument { function, message } => out.push(base(
            "E0408",
            format!("invalid argument to `{function}`: {message}"),
            "in this call",
        )),
        EvalErrorKind::SecretInString => out.push(
            base(
                "E0409",
                "a secret cannot be used as plain text".into(),
                "this value is a secret",
            )
            .with_note("secrets never appear in plans, logs, state or exports")
            .with_help("pass the secret itself to a field that accepts secrets (provider credentials, app env, stack config); to build text around it (a connection string), use `secret_format(\"postgres://app:{}@db/app\", password)`, which is a secret too"),
        ),
        EvalErrorKind::UserError(msg) => out.push(base("E0410", msg.clone(), "raised here")),
        EvalErrorKind::FileRead { path, message } => out.push(
            base("E0411", format!("cannot read `{path}`: {message}"), "read here")
                .with_note("data paths are relative to the repository root"),
        ),
        EvalErrorKind::IndexOutOfRange { index, len } => out.push(base(
            "E0412",
            format!("index {index} is out of range for a list of length {len}"),
            "out of range",
        )),
        EvalErrorKind::StepLimit(limit) => out.push(
            base(
                "E0413",
                format!("evaluation stopped after {limit} steps"),
                "while evaluating this",
            )
            .with_help("the program does far more work than expected: look for huge ranges or runaway recursion; if the work is real, raise the limit with `--max-steps`"),
        ),
        EvalErrorKind::TimeLimit(limit) => out.push(
            base(
                "E0420",
                format!("evaluation stopped after {} seconds", limit.as_secs_f64()),
                "while evaluating this",
            )
            .with_note("the language server bounds the time one request may evaluate, so that the editor never stalls")
            .with_help("the program does far more work than expected: look for huge ranges or runaway recursion; `ev check` in a terminal shows where it stops"),
        ),
        EvalErrorKind::SizeLimit { what, size, limit } => {
            let unit = if *what == "string" { "bytes" } else { "items" };
            out.push(
                base(
                    "E0419",
                    format!("a {what} of {size} {unit} is too large (at most {limit})"),
                    "built here",
                )
                .with_note("the limit keeps a runaway program (a value doubled in a loop) from filling memory")
                .with_help("data of this size does not belong in a deployment's description: read less, or build it in pieces"),
            )
        }
        EvalErrorKind::Interrupted => out.push(base(
            "E0418",
            "evaluation interrupted".to_string(),
            "while evaluating this",
        )),
        EvalErrorKind::BadData { path, message } => out.push(base(
            "E0414",
            format!("`{path}` is not valid data: {message}"),
            "loaded here",
        )),
        EvalErrorKind::NotCallable(ty) => out.push(base(
            "E0415",
            format!("{} is not a function", article(ty)),
            "called here",
        )),
        EvalErrorKind::UnknownNeeded { operation, reason } => out.push(
            base(
                "E0416",
                format!("{operation} needs a value that is not known yet"),
                "not known until apply",
            )
            .with_note(reason.clone()),
        ),
        EvalErrorKind::NotData(what) => out.push(base(
            "E0417",
            format!("{} cannot be written as data", article(what)),
            "this value",
        )),
        EvalErrorKind::PathEscapesRoot { path, link_target } => out.push(
            base(
                "E0208",
                format!("path `{path}` leaves the repository"),
                &escape_label(link_target.as_deref()),
            )
            .with_help("evaluation is hermetic: data files must be inside the repository, symbolic links included"),
        ),
        EvalErrorKind::Schema(errors) => {
            for e in errors {
                out.push(schema_diagnostic(e));
            }
        }
        EvalErrorKind::Poisoned => {}
    }
    for d in &mut out {
        for (what, span) in &err.trace {
            if Some(*span) != d.span() {
                d.secondary.push(Label::new(*span, what.clone()));
            }
        }
    }
    out
}

fn schema_diagnostic(e: &SchemaError) -> Diagnostic {
    let d = match &e.kind {
        SchemaErrorKind::UnknownField {
            field,
            schema,
            suggestions,
        } => {
            let d = Diagnostic::error(
                "E0301",
                format!("unknown field `{field}` for {schema}"),
                Label::new(e.span, "not a field of this schema"),
            );
            d.with_replacements(suggestions, false)
        }
        SchemaErrorKind::MissingField { field, ty, schema } => Diagnostic::error(
            "E0302",
            format!("missing field `{field}` for {schema}"),
            Label::new(e.span, format!("`{field}: {ty}` is required")),
        ),
        SchemaErrorKind::TypeMismatch {
            path,
            expected,
            found,
            hint,
        } => {
            let d = Diagnostic::error(
                "E0303",
                format!("`{path}` should be {expected}, found {found}"),
                Label::new(e.span, format!("this is {}", article(found))),
            );
            if let Some(hint) = hint {
                d.with_help(hint.clone())
            } else if found == "Secret" {
                d.with_help("secrets may only flow into fields that accept them (typed `Secret`): provider credentials, app env, Secret data")
            } else {
                d
            }
        }
        SchemaErrorKind::NotKnown {
            path,
            expected,
            reason,
        } => Diagnostic::error(
            "E0416",
            format!("`{path}` must be known when planning, but its value is known only after apply"),
            Label::new(e.span, "known only after apply"),
        )
        .with_note(format!("it is unknown because {reason}"))
        .with_help(format!(
            "give {} known now; only fields typed `Unknown` (or `Data`, `Any`) take values an earlier action produces, e.g. a machine's `address` or a record's `values`",
            article(expected)
        )),
        SchemaErrorKind::SecretInData { path } => Diagnostic::error(
            "E0409",
            format!("`{path}` holds a secret, but it is handed to its tool as plain data"),
            Label::new(e.span, "a secret"),
        )
        .with_note("fields typed `Data` (raw manifests, stack resource properties, machine values) are written as they are into files the tools read, some of them committed or world-readable")
        .with_help("pass secrets only through the fields made for them: an app's `env`, a stack's `config`, provider settings; on a machine, its `secrets` (decrypted there by sops-nix)"),
        SchemaErrorKind::NotAllowed {
            path,
            value,
            allowed,
            suggestions,
        } => {
            let d = Diagnostic::error(
                "E0304",
                format!("`{path}` cannot be {value:?}"),
                Label::new(e.span, "not an allowed value"),
            )
            .with_note(format!(
                "allowed: {}",
                allowed
                    .iter()
                    .map(|a| format!("{a:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            match suggestions.first() {
                Some(s) => d
                    .with_replacements(std::slice::from_ref(s), true)
                    .with_help(format!("did you mean {s:?}?")),
                None => d,
            }
        }
        SchemaErrorKind::UnsafeName {
            path,
            value,
            reason,
        } => Diagnostic::error(
            "E0307",
            format!("`{path}` cannot be {}: {reason}", crate::output::quote(value)),
            Label::new(e.span, "not a plain name"),
        )
        .with_note("names become file names and tool arguments, so they hold only ASCII letters, digits, `.`, `_` and `-`, and start with a letter, digit or `_`")
        .with_help("rename it, e.g. with `-` in place of other characters"),
        SchemaErrorKind::UnknownResource {
            path,
            kind,
            name,
            suggestions,
        } => {
            let d = Diagnostic::error(
                "E0306",
                format!("`{path}` refers to {kind} `{name}`, which is not declared"),
                Label::new(e.span, format!("no {kind} of this name")),
            );
            if suggestions.is_empty() {
                d.with_note(format!("declare it with `{kind} {name} {{ ... }}`"))
            } else {
                d.with_replacements(suggestions, true)
            }
        }
        SchemaErrorKind::CheckFailed { path, message } => Diagnostic::error(
            "E0305",
            if path.is_empty() {
                message.clone()
            } else {
                format!("`{path}`: {message}")
            },
            Label::new(e.span, "fails this check"),
        ),
    };
    let what = match &e.kind {
        SchemaErrorKind::UnknownField { schema, .. } => format!("schema `{schema}` declared here"),
        SchemaErrorKind::CheckFailed { .. } => "the check".to_string(),
        _ => "field declared here".to_string(),
    };
    match e.schema_span {
        Some(s) => d.with_label(s, what),
        None => d,
    }
}

fn article(ty: &str) -> String {
    let first = ty.chars().next().unwrap_or('x').to_ascii_lowercase();
    if matches!(first, 'a' | 'e' | 'i' | 'o' | 'u') {
        format!("an {ty}")
    } else {
        format!("a {ty}")
    }
}

/// The label of a path leaving the repository.
fn escape_label(link_target: Option<&str>) -> String {
    match link_target {
        Some(target) => format!("a symbolic link on the way leads to {target}"),
        None => "absolute, or `..` past the root".to_string(),
    }
}
