//! Where a value comes from: the one implementation behind the REPL's
//! `:why` and the editor's go-to-definition of `a.b.c` paths.
//!
//! A path is a resolved base (a binding, a kind's resources, a module)
//! and field and index steps. Tracing evaluates the path's prefixes to find
//! the record that knows where the next field was written (records keep
//! the spans of their literal, restamped at call sites), then follows the
//! defining expression — found in the module's syntax tree by its span,
//! its names resolved through the compiler's name index: another path (a
//! schema default's `self` stands for the record being defined), a
//! file-reading builtin (the value's key in the data file ends the trace),
//! or a call whose argument carries the value. Never source text taken
//! apart.

use ev_core::builtins::Builtin;
use ev_core::eval::Evaluator;
use ev_core::fs::FileSystem;
use ev_core::intern::Sym;
use ev_core::ir::ModuleId;
use ev_core::program::{binding_target, NameTarget, Program};
use ev_core::value::Value;
use ev_syntax::ast::{Expr, ExprKind, KeyKind, StrPart};
use ev_syntax::Span;

/// A value's place: a base and steps into it (`stack.jupiter.outputs`).
#[derive(Clone, Debug, PartialEq)]
pub struct ValuePath {
    /// What the base name refers to.
    pub base: NameTarget,
    /// The base name as written (for people).
    pub name: String,
    /// Fields and indexes, outermost first.
    pub segments: Vec<Segment>,
}

/// One step into a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    /// `.field`
    Field(String),
    /// `[index]`
    Index(usize),
}

impl std::fmt::Display for ValuePath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)?;
        for s in &self.segments {
            match s {
                Segment::Field(name)
                    if ev_core::output::is_bare_key(name) && !name.contains('.') =>
                {
                    write!(f, ".{name}")?
                }
                Segment::Field(name) => write!(f, ".{}", ev_core::output::quote(name))?,
                Segment::Index(i) => write!(f, "[{i}]")?,
            }
        }
        Ok(())
    }
}

/// One link of a trace: where the value of `path` is written.
#[derive(Clone, Debug)]
pub struct Step {
    /// The path followed.
    pub path: ValuePath,
    /// Its value, when it evaluates.
    pub value: Option<Value>,
    /// The name the value is defined under: a field's key, a binding's name.
    pub key: Span,
    /// The defining expression.
    pub expr: Span,
    /// The steps of `path` past the defined value (its fields and indexes
    /// inside the defining expression's value).
    pub rest: Vec<Segment>,
}

/// A value read from a data file, where a trace ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataRead {
    /// The repository file read.
    pub file: String,
    /// The key path inside it.
    pub keys: Vec<String>,
    /// The byte range of the key in the file, when the file exists and
    /// holds it.
    pub at: Option<(usize, usize)>,
}

/// Where a value comes from, link by link.
#[derive(Clone, Debug, Default)]
pub struct Trace {
    /// The definitions followed, first the path asked about.
    pub steps: Vec<Step>,
    /// The data file the value was read from, when the chain ends in one.
    pub data: Option<DataRead>,
}

impl Trace {
    /// Where `path` itself is defined, as the editor goes to it: the first
    /// key defining the whole path, else the key in the data file.
    pub fn definition(&self) -> Option<Definition> {
        if let Some(step) = self.steps.iter().find(|s| s.rest.is_empty()) {
            return Some(Definition::Source(step.key));
        }
        let data = self.data.as_ref()?;
        let (start, end) = data.at?;
        Some(Definition::Data {
            file: data.file.clone(),
            start,
            end,
        })
    }
}

/// Where a definition is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Definition {
    /// In the program.
    Source(Span),
    /// In a data file, by byte range.
    Data {
        /// The file.
        file: String,
        /// Start of the key.
        start: usize,
        /// End of the key.
        end: usize,
    },
}

/// Longest chain followed (a definition may lead back to itself).
const MAX_STEPS: usize = 16;

/// The path an expression spells in `module` (`a.b[2]`, `"x".y` keys
/// included), its base resolved as the compiler resolved it (or, for text
/// the program does not hold, such as REPL input, as the module's top
/// level would); `None` for anything else, a local's fields included.
pub fn path_of(program: &Program, module: ModuleId, expr: &Expr) -> Option<ValuePath> {
    let (base, segments) = split(expr)?;
    let target = match name_use(program, base_of(expr).span) {
        Some(NameTarget::Local(_) | NameTarget::Builtin(_)) => return None,
        Some(target) => target,
        None => binding_target(program.lookup(module, base)?)?,
    };
    Some(ValuePath {
        base: target,
        name: base.to_string(),
        segments,
    })
}

/// The innermost target of a path expression (its base name).
fn base_of(expr: &Expr) -> &Expr {
    let mut e = expr;
    while let ExprKind::Select { target, .. } | ExprKind::Index { target, .. } = &e.kind {
        e = target;
    }
    e
}

/// The base name and the steps of a path expression.
fn split(expr: &Expr) -> Option<(&str, Vec<Segment>)> {
    let mut segments = Vec::new();
    let mut e = expr;
    loop {
        match &e.kind {
            ExprKind::Select { target, field } => {
                let KeyKind::Static(name) = &field.kind else {
                    return None;
                };
                segments.push(Segment::Field(name.clone()));
                e = target;
            }
            ExprKind::Index { target, index } => {
                let ExprKind::Int(i) = index.kind else {
                    return None;
                };
                segments.push(Segment::Index(usize::try_from(i).ok()?));
                e = target;
            }
            ExprKind::Var(name) => {
                segments.reverse();
                return Some((name, segments));
            }
            _ => return None,
        }
    }
}

/// The value at a path.
pub fn value_at(ev: &Evaluator<'_>, path: &ValuePath, span: Span) -> Option<Value> {
    let mut value = match path.base {
        NameTarget::Global(g) => ev.global(g, span).ok()?,
        NameTarget::Resource(r) => ev.resource(r, span).ok()?,
        NameTarget::KindCollection(k) | NameTarget::Kind(k) => ev.kind_collection(k),
        NameTarget::Module(m) => ev.module_exports(m),
        NameTarget::Builtin(_) | NameTarget::Local(_) => return None,
    };
    for s in &path.segments {
        value = match s {
            Segment::Field(f) => ev.select(&value, Sym::new(f), span).ok()?,
            Segment::Index(i) => match &value {
                Value::List(items) => items.get(*i)?.clone(),
                Value::Unknown(_) => value.clone(),
                _ => return None,
            },
        };
    }
    Some(value)
}

/// Follows where the value at `path` comes from; data files are read
/// through `fs` (the program's, confined to the repository).
pub fn trace(program: &Program, ev: &Evaluator<'_>, fs: &dyn FileSystem, path: ValuePath) -> Trace {
    let mut out = Trace::default();
    let mut path = path;
    let at = program
        .modules
        .first()
        .map(|m| Span::new(m.file, 0, 0))
        .unwrap_or(Span::new(ev_syntax::FileId(0), 0, 0));
    for _ in 0..MAX_STEPS {
        let value = value_at(ev, &path, at);
        let Some((key, expr, prefix, rest)) = definition(program, ev, &path, at) else {
            break;
        };
        out.steps.push(Step {
            path: path.clone(),
            value: value.clone(),
            key,
            expr,
            rest: rest.clone(),
        });
        let Some((module, defining)) = expression_at(program, expr) else {
            break;
        };
        let link = Link {
            module,
            prefix: &prefix,
            rest: &rest,
            value: value.as_ref(),
        };
        match next(program, ev, fs, defining, &link, at) {
            Next::Path(p) if out.steps.iter().any(|s| s.path == p) => break,
            Next::Path(p) => path = p,
            Next::Data(read) => {
                out.data = Some(read);
                break;
            }
            Next::End => break,
        }
    }
    out
}

/// Where the value at `path` is written: (the key, the expression, the
/// path of the record holding it, the steps past it), for the longest
/// prefix whose record knows; else the base binding's definition.
fn definition(
    program: &Program,
    ev: &Evaluator<'_>,
    path: &ValuePath,
    at: Span,
) -> Option<(Span, Span, ValuePath, Vec<Segment>)> {
    for cut in (1..=path.segments.len()).rev() {
        let Segment::Field(field) = &path.segments[cut - 1] else {
            continue;
        };
        let prefix = ValuePath {
            segments: path.segments[..cut - 1].to_vec(),
            ..path.clone()
        };
        let Some(Value::Record(record)) = value_at(ev, &prefix, at) else {
            continue;
        };
        let sym = Sym::new(field);
        let (Some(key), Some(expr)) = (record.key_span(sym), record.value_span(sym)) else {
            continue;
        };
        return Some((key, expr, prefix, path.segments[cut..].to_vec()));
    }
    let NameTarget::Global(g) = path.base else {
        return None;
    };
    let def = program.global(g)?;
    let base = ValuePath {
        segments: Vec::new(),
        ..path.clone()
    };
    Some((def.span, def.node.span, base, path.segments.clone()))
}

/// The syntax of the expression written at `span`, and its module.
fn expression_at(program: &Program, span: Span) -> Option<(ModuleId, &Expr)> {
    let (index, module) = program
        .modules
        .iter()
        .enumerate()
        .find(|(_, m)| m.file == span.file)?;
    let mut stack = module.parsed.module.exprs();
    while let Some(e) = stack.pop() {
        if e.span == span {
            return Some((ModuleId(index as u32), e));
        }
        if e.span.start <= span.start && span.end <= e.span.end {
            stack.extend(e.children());
        }
    }
    None
}

/// What a defining expression leads to.
enum Next {
    /// Another path to follow.
    Path(ValuePath),
    /// A data file read: the end.
    Data(DataRead),
    /// Nothing further to follow.
    End,
}

/// Where a defining expression stands.
struct Link<'a> {
    /// Its module.
    module: ModuleId,
    /// The record holding the value (what `self` means in a schema
    /// default).
    prefix: &'a ValuePath,
    /// The steps past the defined value.
    rest: &'a [Segment],
    /// The value followed, when it evaluates.
    value: Option<&'a Value>,
}

/// The next link from the expression defining a value.
fn next(
    program: &Program,
    ev: &Evaluator<'_>,
    fs: &dyn FileSystem,
    expr: &Expr,
    link: &Link<'_>,
    at: Span,
) -> Next {
    let Link {
        module,
        prefix,
        rest,
        value,
    } = *link;
    if let Some(mut path) = resolved_path(program, module, expr, prefix) {
        path.segments.extend(rest.iter().cloned());
        return Next::Path(path);
    }
    let ExprKind::Call { func, args } = &expr.kind else {
        return Next::End;
    };
    if builtin_called(program, func).is_some_and(|b| b.reads_file()) {
        let file = args
            .first()
            .and_then(|a| text_of(program, ev, module, &a.value, prefix, at));
        let Some(file) = file else {
            return Next::End;
        };
        let keys: Vec<String> = rest
            .iter()
            .filter_map(|s| match s {
                Segment::Field(f) => Some(f.clone()),
                Segment::Index(_) => None,
            })
            .collect();
        let at = fs.read(&file).ok().and_then(|text| {
            let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
            crate::data_keys::data_key_span(&file, &text, &keys)
        });
        return Next::Data(DataRead { file, keys, at });
    }
    // A call building the value from an argument that holds it (`a(name,
    // address)` returns a record whose value is `address`).
    if !rest.iter().all(|s| matches!(s, Segment::Index(_))) {
        return Next::End;
    }
    let Some(followed) = value.and_then(|v| text(ev, v, at)) else {
        return Next::End;
    };
    for arg in args {
        let Some(candidate) = resolved_path(program, module, &arg.value, prefix) else {
            continue;
        };
        if value_at(ev, &candidate, at)
            .and_then(|v| text(ev, &v, at))
            .as_ref()
            == Some(&followed)
        {
            return Next::Path(candidate);
        }
    }
    Next::End
}

/// A value as ev text, to compare two values whatever they hold.
fn text(ev: &Evaluator<'_>, v: &Value, at: Span) -> Option<String> {
    let whole = ev_core::output::PrettyOptions { fold_lists: None };
    ev_core::output::to_ev(ev, v, at, whole).ok()
}

/// The builtin a call's function names, if it names one.
fn builtin_called(program: &Program, func: &Expr) -> Option<Builtin> {
    let ExprKind::Var(_) = &func.kind else {
        return None;
    };
    match name_use(program, func.span)? {
        NameTarget::Builtin(b) => Some(b),
        _ => None,
    }
}

/// What the name written at `span` refers to (from the compiler's index).
fn name_use(program: &Program, span: Span) -> Option<NameTarget> {
    program
        .names
        .iter()
        .find(|n| n.span == span)
        .map(|n| n.target)
}

/// The path an expression spells, its base resolved by the name index; a
/// schema default's `self` is `prefix`.
fn resolved_path(
    program: &Program,
    module: ModuleId,
    expr: &Expr,
    prefix: &ValuePath,
) -> Option<ValuePath> {
    let (base, segments) = split(expr)?;
    match name_use(program, base_of(expr).span) {
        Some(NameTarget::Local(_)) if base == "self" => {
            let mut path = prefix.clone();
            path.segments.extend(segments);
            Some(path)
        }
        Some(NameTarget::Local(_)) | Some(NameTarget::Builtin(_)) => None,
        Some(target) => Some(ValuePath {
            base: target,
            name: base.to_string(),
            segments,
        }),
        // Names the index does not hold (a REPL binding) resolve in scope.
        None => path_of(program, module, expr),
    }
}

/// The text of a simple expression: a string literal, interpolating paths,
/// or a path holding text.
fn text_of(
    program: &Program,
    ev: &Evaluator<'_>,
    module: ModuleId,
    expr: &Expr,
    prefix: &ValuePath,
    at: Span,
) -> Option<String> {
    let piece = |e: &Expr| -> Option<String> {
        let path = resolved_path(program, module, e, prefix)?;
        match value_at(ev, &path, at)? {
            Value::Str(s) => Some(s.to_string()),
            Value::Int(i) => Some(i.to_string()),
            _ => None,
        }
    };
    match &expr.kind {
        ExprKind::Str(parts) => parts
            .iter()
            .map(|p| match p {
                StrPart::Text(t) => Some(t.clone()),
                StrPart::Interp(e) => piece(e),
            })
            .collect(),
        _ => piece(expr),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Expr {
        let (e, errors) = ev_syntax::parse_expr(text, ev_syntax::FileId(u32::MAX));
        assert!(errors.is_empty(), "{errors:?}");
        e.expect("an expression")
    }

    /// Paths read from syntax print back as written; other expressions
    /// are no paths.
    #[test]
    fn paths_parse_and_print() {
        let mut fs = ev_core::fs::MemFs::new();
        fs.insert("everything.ev", "let domain = { a = 1 }\n");
        let program = ev_core::load(&fs, "everything.ev");
        let module = program.module_by_path("everything.ev").expect("entry");
        let text = r#"domain."yuto.sh".records[2].values[0]"#;
        let p = path_of(&program, module, &parse(text)).expect("a path");
        assert_eq!(p.name, "domain");
        assert_eq!(p.segments.len(), 5);
        assert_eq!(p.to_string(), text);
        assert!(path_of(&program, module, &parse("domain + 1")).is_none());
        assert!(path_of(&program, module, &parse("nowhere.x")).is_none());
    }

    /// A value built by a function from an argument is traced to the
    /// argument, then to the data file it was read from, by key.
    #[test]
    fn traces_through_calls_and_data_files() {
        let mut fs = ev_core::fs::MemFs::new();
        fs.insert(
            "everything.ev",
            "import { pick } from \"lib.ev\"\nlet keys = json(\"magic/keys.json\")\nlet chosen = pick(keys.ssh.main)\n",
        );
        // A function of another file: its records carry the call's spans.
        fs.insert("lib.ev", "export let pick = fn(v) => { value = v }\n");
        fs.insert(
            "magic/keys.json",
            "{\n  \"ssh\": {\n    \"main\": \"ssh-ed25519 AAAA\"\n  }\n}\n",
        );
        let program = ev_core::load(&fs, "everything.ev");
        assert!(program.diagnostics.is_empty(), "{:?}", program.diagnostics);
        let module = program.module_by_path("everything.ev").expect("entry");
        let ev = Evaluator::new(&program, &fs);
        let path = path_of(&program, module, &parse("chosen.value")).expect("a path");
        let trace = trace(&program, &ev, &fs, path);
        let followed: Vec<String> = trace.steps.iter().map(|s| s.path.to_string()).collect();
        assert_eq!(followed, ["chosen.value", "keys.ssh.main"]);
        let data = trace.data.expect("read from a file");
        assert_eq!(data.file, "magic/keys.json");
        assert_eq!(data.keys, ["ssh", "main"]);
        let (start, end) = data.at.expect("the key is found");
        let text = fs.read("magic/keys.json").expect("file");
        assert_eq!(&text[start..end], "\"main\"");
    }
}
