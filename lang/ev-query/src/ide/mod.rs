//! Editor queries: what the language server asks of the core.
//!
//! [`World`] holds the repository as an editor sees it (files on disk with
//! unsaved buffers over them) and answers queries in byte offsets of
//! repository-relative paths: diagnostics, hover, definition, references,
//! rename, symbols, completion and formatting. The LSP crate only converts
//! positions (UTF-16) and JSON; the CLI and the REPL share the stages below.
//!
//! Two caches keep typing fast on large repositories: parsed files are reused
//! while their text is unchanged ([`ParseCache`]), and each module's
//! evaluation diagnostics are reused while nothing it can read changed (its
//! text, the files it imports transitively, the set of declared resources;
//! a module that reads a whole kind, `machine.x`, depends on every file).

mod complete;
mod hover;
mod locate;
mod navigate;
mod signature;
mod symbols;

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use ev_syntax::Span;

pub use complete::{CompletionItem, CompletionKind};
pub use hover::Hover;
pub use signature::SignatureHelp;
pub use symbols::{Symbol, SymbolKind};

use ev_core::diagnostic::Diagnostic;
use ev_core::eval::Evaluator;
use ev_core::fs::{FileSystem, MemFs, OsFs, OverlayFs};
use ev_core::ir::ModuleId;
use ev_core::program::{load_cached, NameTarget, ParseCache, Program};
use ev_deploy::check_module;

/// A range of a file: repository-relative path and byte offsets.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Location {
    /// Path relative to the repository root (`stdlib/...` for the
    /// embedded standard library).
    pub path: String,
    /// First byte.
    pub start: u32,
    /// One past the last byte.
    pub end: u32,
}

/// A replacement of a range's text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextEdit {
    /// What to replace.
    pub location: Location,
    /// The new text.
    pub text: String,
    /// An edit offered beside the ones asked for, which the user may
    /// decline: what a client asks them to confirm (a rename's `moved`).
    pub offered: Option<String>,
}

/// A diagnostic with its spans turned into locations (the program it came
/// from may be gone by the time it is shown).
#[derive(Clone, Debug)]
pub struct FileDiagnostic {
    /// The diagnostic (code, message, notes, help).
    pub diagnostic: Diagnostic,
    /// Its primary label's location.
    pub primary: Location,
    /// Secondary labels: location and message.
    pub related: Vec<(Location, String)>,
    /// Quick fixes: each replaces one range.
    pub fixes: Vec<TextEdit>,
}

/// Diagnostics work was stopped because newer input arrived.
#[derive(Debug, PartialEq, Eq)]
pub struct Interrupted;

/// A module's cached evaluation diagnostics.
struct CachedCheck {
    fingerprint: u64,
    diagnostics: Vec<FileDiagnostic>,
}

/// The repository as the editor sees it, with caches between queries.
pub struct World {
    root: Option<PathBuf>,
    base: Box<dyn FileSystem>,
    entry: String,
    buffers: MemFs,
    parse_cache: ParseCache,
    checks: HashMap<String, CachedCheck>,
    /// Bumped when files change on disk (data files a module reads).
    disk_generation: u64,
    /// The loaded program and its entry: normally `entry`, or a file the
    /// entry does not import while a query is about that file.
    program: Option<(String, Program)>,
    /// The environment programs are evaluated in (`ev -e NAME lsp`; none:
    /// the default one).
    environment: Option<String>,
}

impl World {
    /// A world over the repository at `root`, entered at `entry`.
    pub fn new(root: impl Into<PathBuf>, entry: &str) -> World {
        let root = root.into();
        World {
            base: Box::new(OsFs::new(root.clone())),
            root: Some(root),
            ..World::with_fs(Box::new(MemFs::new()), entry)
        }
    }

    /// The world evaluating programs in `environment` (`ev -e NAME lsp`).
    pub fn in_environment(mut self, environment: Option<String>) -> World {
        self.environment = environment;
        self
    }

    /// A world over any file system (tests).
    pub fn with_fs(base: Box<dyn FileSystem>, entry: &str) -> World {
        World {
            root: None,
            base,
            entry: entry.to_string(),
            buffers: MemFs::new(),
            parse_cache: ParseCache::new(),
            checks: HashMap::new(),
            disk_generation: 0,
            program: None,
            environment: None,
        }
    }

    /// The entry file.
    pub fn entry(&self) -> &str {
        &self.entry
    }

    /// Sets an open buffer's text (it shadows the file on disk).
    pub fn set_buffer(&mut self, path: &str, text: String) {
        self.buffers.insert(path, text);
        self.buffer_changed(path);
    }

    /// Closes a buffer: the file on disk is used again.
    pub fn close_buffer(&mut self, path: &str) {
        if self.buffers.remove(path) {
            self.buffer_changed(path);
        }
    }

    fn buffer_changed(&mut self, path: &str) {
        if path.ends_with(".ev") {
            self.program = None;
        } else {
            // A data file (magic JSON, exports) edited in the editor: values
            // read from it may change anywhere.
            self.disk_changed();
        }
    }

    /// `.ev` files changed on disk: load the program again (cached
    /// diagnostics stay valid: they are keyed by the texts they depend on).
    pub fn sources_changed(&mut self) {
        self.program = None;
    }

    /// Data files changed on disk (exports rewritten, magic JSON edited):
    /// forget every cached evaluation.
    pub fn disk_changed(&mut self) {
        self.disk_generation += 1;
        self.checks.clear();
        self.program = None;
    }

    /// The file system queries read: buffers over the disk.
    pub fn fs(&self) -> OverlayFs<'_> {
        OverlayFs {
            overlay: &self.buffers,
            base: self.base.as_ref(),
        }
    }

    /// The program loaded last, if any.
    fn loaded(&self) -> Option<&Program> {
        self.program.as_ref().map(|(_, p)| p)
    }

    /// The loaded program (if loaded) and the file system, borrowed
    /// together (evaluation needs both; compiling a query mutates the program).
    fn parts(&mut self) -> (Option<&mut Program>, OverlayFs<'_>) {
        (
            self.program.as_mut().map(|(_, p)| p),
            OverlayFs {
                overlay: &self.buffers,
                base: self.base.as_ref(),
            },
        )
    }

    /// The text of a file as the editor sees it: a buffer, the file on
    /// disk, or an embedded standard library file.
    pub fn text(&self, path: &str) -> Option<Arc<str>> {
        if let Some(program) = self.loaded() {
            if let Some(id) = program.sources.find(path) {
                return program.sources.get(id).map(|f| f.text.clone());
            }
        }
        if let Some((_, text)) = ev_core::stdlib::FILES.iter().find(|(p, _)| *p == path) {
            return Some(Arc::from(*text));
        }
        self.fs().read(path).ok().map(Arc::from)
    }

    /// The loaded program (loaded again after any buffer changed).
    pub fn program(&mut self) -> &mut Program {
        let entry = self.entry.clone();
        self.program_from(&entry)
    }

    /// The program loaded from `entry` (kept until a buffer changes or
    /// another entry is asked for).
    fn program_from(&mut self, entry: &str) -> &mut Program {
        let program = match self.program.take() {
            Some((loaded, program)) if loaded == entry => program,
            _ => {
                let fs = OverlayFs {
                    overlay: &self.buffers,
                    base: self.base.as_ref(),
                };
                let mut program =
                    load_cached(&fs, entry, ev_core::stdlib::FILES, &mut self.parse_cache);
                program.environment = self.environment.clone();
                program
            }
        };
        &mut self.program.insert((entry.to_string(), program)).1
    }

    /// The open buffers (their paths).
    pub fn buffers(&self) -> Vec<String> {
        let mut paths: Vec<String> = self.buffers.paths().map(str::to_string).collect();
        paths.sort();
        paths
    }

    /// Every `.ev` file of the repository on disk and in buffers (import
    /// completion, workspace symbols).
    pub fn ev_files(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .buffers
            .paths()
            .filter(|p| p.ends_with(".ev"))
            .map(str::to_string)
            .collect();
        if let Some(root) = &self.root {
            out.extend(
                ev_core::fs::files_below(root, ev_core::fs::Walk::Sources)
                    .into_iter()
                    .filter(|p| p.ends_with(".ev")),
            );
        }
        out.sort();
        out.dedup();
        out
    }

    /// Every diagnostic of the program and of open buffers it does not
    /// import, by file. Evaluation stops with [`Interrupted`] as soon as
    /// `interrupt` is set (newer input arrived); finished modules stay cached.
    pub fn diagnostics(
        &mut self,
        interrupt: Arc<AtomicBool>,
    ) -> Result<Vec<FileDiagnostic>, Interrupted> {
        self.program();
        let Some((_, program)) = self.program.as_ref() else {
            return Ok(Vec::new());
        };
        let fs = OverlayFs {
            overlay: &self.buffers,
            base: self.base.as_ref(),
        };
        // Without an entry file (a repository being started, a folder of
        // loose files) only open files are checked, each on its own.
        let has_entry = fs.exists(&self.entry);
        let mut out: Vec<FileDiagnostic> = program
            .diagnostics
            .iter()
            .filter(|_| has_entry)
            .map(|d| locate_diagnostic(program, d))
            .collect();
        let fingerprints = Fingerprints::new(program, self.disk_generation);
        let ev = Evaluator::new(program, &fs).with_interrupt(interrupt.clone());
        for (i, module) in program.modules.iter().enumerate() {
            if module.is_stdlib {
                continue;
            }
            if interrupt.load(std::sync::atomic::Ordering::Relaxed) {
                return Err(Interrupted);
            }
            let fingerprint = fingerprints.of(ModuleId(i as u32));
            if let Some(cached) = self.checks.get(&module.path) {
                if cached.fingerprint == fingerprint {
                    out.extend(cached.diagnostics.iter().cloned());
                    continue;
                }
            }
            let found = check_module(program, &ev, ModuleId(i as u32));
            if found.iter().any(|d| d.code == "E0418") {
                return Err(Interrupted);
            }
            let located: Vec<FileDiagnostic> = found
                .iter()
                .map(|d| locate_diagnostic(program, d))
                .collect();
            out.extend(located.iter().cloned());
            self.checks.insert(
                module.path.clone(),
                CachedCheck {
                    fingerprint,
                    diagnostics: located,
                },
            );
        }
        drop(ev);
        if has_entry {
            out.extend(
                ev_deploy::repository_warnings(program, &fs)
                    .iter()
                    .map(|d| locate_diagnostic(program, d)),
            );
        }
        let loaded: HashSet<&str> = program.modules.iter().map(|m| m.path.as_str()).collect();
        let strays: Vec<String> = self
            .buffers
            .paths()
            .filter(|p| p.ends_with(".ev") && !loaded.contains(p))
            .map(str::to_string)
            .collect();
        // An open file the entry does not import is checked on its own.
        for path in strays {
            let mut stray = ev_core::program::load(&fs, &path);
            stray.environment = self.environment.clone();
            let ev = Evaluator::new(&stray, &fs).with_interrupt(interrupt.clone());
            let found = ev_deploy::check(&stray, &ev);
            if found.iter().any(|d| d.code == "E0418") {
                return Err(Interrupted);
            }
            out.extend(found.iter().map(|d| locate_diagnostic(&stray, d)));
        }
        let mut seen = HashSet::new();
        out.retain(|d| {
            seen.insert((
                d.diagnostic.code,
                d.primary.clone(),
                d.diagnostic.message.clone(),
            ))
        });
        Ok(out)
    }

    /// The module loaded from `path`, if the program has it.
    /// The module of `path` in the loaded program: the entry's program, or
    /// for a file it does not import (a new file, another entry), a program
    /// loaded from that file.
    fn module_of(&mut self, path: &str) -> Option<ModuleId> {
        if let Some(m) = self.program().module_by_path(path) {
            return Some(m);
        }
        if !path.ends_with(".ev") || !self.fs().exists(path) {
            return None;
        }
        self.program_from(path).module_by_path(path)
    }

    /// Formats a file's text as `ev fmt` would; syntax errors refuse.
    pub fn format(&self, path: &str) -> Result<String, Vec<FileDiagnostic>> {
        let text = self.text(path).unwrap_or_else(|| Arc::from(""));
        ev_syntax::format::format(&text).map_err(|errors| {
            let mut sources = ev_syntax::SourceMap::new();
            let file = sources.add(path, text.clone());
            errors
                .iter()
                .map(|e| {
                    let mut e = e.clone();
                    e.span.file = file;
                    let d = ev_core::error::syntax_diagnostic(&e);
                    FileDiagnostic {
                        primary: Location {
                            path: path.to_string(),
                            start: d.span().map_or(0, |s| s.start),
                            end: d.span().map_or(0, |s| s.end),
                        },
                        related: Vec::new(),
                        fixes: Vec::new(),
                        diagnostic: d,
                    }
                })
                .collect()
        })
    }
}

/// The location of a span in a program's sources.
pub(crate) fn location(program: &Program, span: Span) -> Location {
    Location {
        path: program
            .sources
            .get(span.file)
            .map(|f| f.path.clone())
            .unwrap_or_default(),
        start: span.start,
        end: span.end,
    }
}

fn locate_diagnostic(program: &Program, d: &Diagnostic) -> FileDiagnostic {
    FileDiagnostic {
        // A problem without a place (none comes from a program today) is
        // shown at the start of the entry file.
        primary: match d.span() {
            Some(span) => location(program, span),
            None => Location {
                path: program
                    .module(program.entry)
                    .map(|m| m.path.clone())
                    .unwrap_or_default(),
                start: 0,
                end: 0,
            },
        },
        related: d
            .secondary
            .iter()
            .map(|l| (location(program, l.span), l.message.clone()))
            .collect(),
        fixes: d
            .fixes
            .iter()
            .map(|f| TextEdit {
                offered: None,
                location: location(program, f.span),
                text: f.replacement.clone(),
            })
            .collect(),
        diagnostic: d.clone(),
    }
}

/// What each module's evaluation can depend on, hashed: the text of
/// every definition its resources and exported values reach through names
/// (a `let`, a resource, a kind; a kind read as a value reaches all its
/// resources), the set of declared resources (`Ref` checks) and the disk
/// generation (data files). Unchanged fingerprint, unchanged diagnostics.
struct Fingerprints<'p> {
    program: &'p Program,
    declarations: u64,
    /// Every file's name occurrences, sorted by start.
    names: HashMap<ev_syntax::FileId, Vec<ev_core::program::NameUse>>,
    /// The standard library's files (they never change under the editor).
    stdlib: HashSet<ev_syntax::FileId>,
}

/// A definition whose text a value can depend on.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Def {
    Global(ev_core::ir::GlobalRef),
    Resource(ev_core::ir::ResourceId),
    Kind(ev_core::ir::KindId),
}

impl<'p> Fingerprints<'p> {
    fn new(program: &'p Program, disk_generation: u64) -> Self {
        let mut h = DefaultHasher::new();
        disk_generation.hash(&mut h);
        for r in &program.resources {
            (r.kind.0, &r.name).hash(&mut h);
        }
        let mut names: HashMap<ev_syntax::FileId, Vec<ev_core::program::NameUse>> = HashMap::new();
        for n in &program.names {
            names.entry(n.span.file).or_default().push(*n);
        }
        for list in names.values_mut() {
            list.sort_by_key(|n| n.span.start);
        }
        Fingerprints {
            program,
            declarations: h.finish(),
            names,
            stdlib: program
                .modules
                .iter()
                .filter(|m| m.is_stdlib)
                .map(|m| m.file)
                .collect(),
        }
    }

    fn of(&self, module: ModuleId) -> u64 {
        let program = self.program;
        let mut roots: Vec<Def> = program
            .resources
            .iter()
            .enumerate()
            .filter(|(_, r)| r.module == module)
            .map(|(i, _)| Def::Resource(ev_core::ir::ResourceId(i as u32)))
            .collect();
        if let Some(info) = program.module(module) {
            roots.extend(info.exports.iter().filter_map(|(_, b)| match b {
                ev_core::program::Binding::Global(g) => Some(Def::Global(*g)),
                _ => None,
            }));
        }
        let mut seen: HashSet<Def> = HashSet::new();
        let mut stack = roots;
        let mut texts: Vec<(String, Span)> = Vec::new();
        while let Some(def) = stack.pop() {
            if !seen.insert(def) {
                continue;
            }
            let Some(span) = self.span(def) else {
                continue;
            };
            if self.stdlib.contains(&span.file) {
                continue;
            }
            let path = program
                .sources
                .get(span.file)
                .map(|f| f.path.clone())
                .unwrap_or_default();
            texts.push((path, span));
            if let Def::Resource(r) = def {
                if let Some(d) = program.resource(r) {
                    stack.push(Def::Kind(d.kind));
                }
            }
            for n in self.names_within(span) {
                self.reach(n.target, &mut stack);
            }
        }
        texts.sort_by(|a, b| (&a.0, a.1.start).cmp(&(&b.0, b.1.start)));
        let mut h = DefaultHasher::new();
        self.declarations.hash(&mut h);
        for (path, span) in texts {
            path.hash(&mut h);
            if let Some(f) = program.sources.get(span.file) {
                f.text.get(span.range()).hash(&mut h);
            }
        }
        h.finish()
    }

    /// The definitions a name occurrence makes a value depend on.
    fn reach(&self, target: NameTarget, stack: &mut Vec<Def>) {
        let program = self.program;
        match target {
            NameTarget::Global(g) => stack.push(Def::Global(g)),
            NameTarget::Resource(r) => stack.push(Def::Resource(r)),
            NameTarget::Kind(k) => stack.push(Def::Kind(k)),
            NameTarget::KindCollection(k) => {
                stack.push(Def::Kind(k));
                stack.extend(
                    program
                        .resources
                        .iter()
                        .enumerate()
                        .filter(|(_, r)| r.kind == k)
                        .map(|(i, _)| Def::Resource(ev_core::ir::ResourceId(i as u32))),
                );
            }
            NameTarget::Module(m) => {
                if let Some(info) = program.module(m) {
                    for (_, b) in &info.exports {
                        if let Some(t) = ev_core::program::binding_target(*b) {
                            self.reach(t, stack);
                        }
                    }
                }
            }
            NameTarget::Builtin(_) | NameTarget::Local(_) => {}
        }
    }

    fn span(&self, def: Def) -> Option<Span> {
        match def {
            Def::Global(g) => self.program.global(g).map(|d| d.item),
            Def::Resource(r) => self.program.resource(r).map(|d| d.span),
            Def::Kind(k) => self.program.kind(k).map(|d| d.span),
        }
    }

    /// The name occurrences inside `span`.
    fn names_within(&self, span: Span) -> &[ev_core::program::NameUse] {
        let Some(list) = self.names.get(&span.file) else {
            return &[];
        };
        let from = list.partition_point(|n| n.span.start < span.start);
        let to = list.partition_point(|n| n.span.start < span.end);
        list.get(from..to).unwrap_or(&[])
    }
}

/// The innermost name occurrence at `offset` of `file`.
pub(crate) fn name_at(
    program: &Program,
    file: ev_syntax::FileId,
    offset: u32,
) -> Option<ev_core::program::NameUse> {
    program
        .names
        .iter()
        .filter(|n| n.span.file == file && locate::touches(n.span, offset))
        .min_by_key(|n| n.span.end - n.span.start)
        .copied()
}

/// Where a name target is defined (`None` for builtins).
pub(crate) fn definition_span(program: &Program, target: NameTarget) -> Option<Span> {
    match target {
        NameTarget::Global(g) => program.global(g).map(|d| d.span),
        NameTarget::Resource(r) => program.resource(r).map(|d| d.name_span),
        NameTarget::Kind(k) | NameTarget::KindCollection(k) => program.kind(k).map(|d| d.name_span),
        NameTarget::Module(m) => program.module(m).map(|d| Span::new(d.file, 0, 0)),
        NameTarget::Local(span) => Some(span),
        NameTarget::Builtin(_) => None,
    }
}

/// A schema type's definition, evaluated (`Type::Schema` points at a global).
pub(crate) fn schema_def(
    program: &Program,
    ev: &Evaluator<'_>,
    ty: &ev_core::schema::Type,
) -> Option<std::rc::Rc<ev_core::schema::SchemaDef>> {
    use ev_core::schema::Type;
    match ty {
        Type::Schema(g, _) => {
            let span = program.global(*g)?.span;
            match ev.global(*g, span) {
                Ok(ev_core::value::Value::Schema(def)) => Some(def),
                _ => None,
            }
        }
        Type::Union(alts) => alts.iter().find_map(|a| schema_def(program, ev, a)),
        _ => None,
    }
}

/// The type found by following `steps` from the schema of kind `kind` (as
/// named in `module`): `None` when the path leaves the schema.
pub(crate) fn type_at(
    program: &Program,
    ev: &Evaluator<'_>,
    module: ModuleId,
    kind: &str,
    steps: &[locate::Step],
) -> Option<ev_core::schema::Type> {
    use ev_core::schema::Type;
    let sym = ev_core::intern::Sym::new(kind);
    let kind_id = program
        .module(module)?
        .scope
        .get(&sym)
        .map(|(b, _)| *b)
        .or_else(|| program.prelude.get(&sym).copied())
        .and_then(|b| match b {
            ev_core::program::Binding::Kind(k) => Some(k),
            _ => None,
        })?;
    let mut ty = program.kind(kind_id)?.schema.clone();
    for step in steps {
        ty = match (step, ty) {
            (locate::Step::Element, Type::List(inner)) => *inner,
            (locate::Step::Element, Type::Union(alts)) => {
                alts.into_iter().find_map(|a| match a {
                    Type::List(inner) => Some(*inner),
                    _ => None,
                })?
            }
            (locate::Step::Field(_), Type::Map(inner)) => *inner,
            (locate::Step::Field(name), other) => {
                let def = schema_def(program, ev, &other)?;
                def.field(ev_core::intern::Sym::new(name))?.ty.clone()
            }
            _ => return None,
        };
    }
    Some(ty)
}

/// The kind a `Ref(kind)` type names (also in a list or a union).
pub(crate) fn ref_kind(ty: &ev_core::schema::Type) -> Option<ev_core::ir::KindId> {
    use ev_core::schema::Type;
    match ty {
        Type::Ref(k, _) => Some(*k),
        Type::List(inner) => ref_kind(inner),
        Type::Union(alts) => alts.iter().find_map(ref_kind),
        _ => None,
    }
}

/// Compiles `text` in `module`'s scope and evaluates it: the value and
/// its printed form (lists folded, secrets and unknowns marked).
pub(crate) fn eval_text(
    program: &mut Program,
    fs: &dyn FileSystem,
    module: ModuleId,
    text: &str,
) -> Option<(ev_core::value::Value, String)> {
    let node = program.compile_expr(module, "<query>", text).ok()?;
    let ev = Evaluator::new(program, fs);
    let value = ev.eval(&node, &None).ok()?;
    let shown = show_value(&ev, &value, node.span);
    Some((value, shown))
}

/// A value as hover text: ev syntax, long lists folded, at most 40 lines.
pub(crate) fn show_value(ev: &Evaluator<'_>, value: &ev_core::value::Value, span: Span) -> String {
    use ev_core::output::{to_ev, PrettyOptions};
    let text = match value {
        ev_core::value::Value::Func(_) => "(function)".to_string(),
        ev_core::value::Value::Schema(s) => format!("(schema {})", s.name.as_str()),
        v => to_ev(
            ev,
            v,
            span,
            PrettyOptions {
                fold_lists: Some(3),
            },
        )
        .unwrap_or_else(|_| "(cannot be evaluated)".into()),
    };
    const MAX_LINES: usize = 40;
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() > MAX_LINES {
        let mut out = lines[..MAX_LINES].join("\n");
        out.push_str(&format!("\n# ... {} more lines", lines.len() - MAX_LINES));
        out
    } else {
        text
    }
}
