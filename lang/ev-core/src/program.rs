//! Loading and resolving a program: read the entry file and everything it
//! imports (plus the standard library), detect import cycles, bind every
//! name, and lower all expressions into [`ir`](crate::ir) form.
//!
//! The result, [`Program`], is immutable; evaluation state lives in
//! [`Evaluator`](crate::eval::Evaluator).

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use ev_syntax::ast::{self, ExprKind, ItemKind, KeyKind, StrPart};
use ev_syntax::{parse_module, FileId, Parsed, SourceMap, Span};

use crate::builtins::Builtin;
use crate::diagnostic::Diagnostic;
use crate::error::{resolve_diagnostic, syntax_diagnostic, ResolveError};
use crate::fs::{normalize, FileSystem, PathError};
use crate::intern::Sym;
use crate::ir::*;
use crate::schema::{CheckDef, SchemaDef, SchemaFieldDef, Type};
use crate::suggest::similar;
use crate::value::Value;

/// What a name refers to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Binding {
    /// A top-level `let` or `schema`.
    Global(GlobalRef),
    /// A resource declared with an identifier name.
    Resource(ResourceId),
    /// A resource kind (as an expression: all its resources).
    Kind(KindId),
    /// A whole module (`import "x.ev" as m`).
    Module(ModuleId),
    /// A builtin function.
    Builtin(Builtin),
    /// Something that failed to resolve (already reported); using it is silent.
    Poisoned,
    /// Several resources of different kinds declared with this name in one
    /// file; using the bare name asks to qualify it (`image.web`).
    Ambiguous,
}

/// A top-level binding's definition.
#[derive(Debug)]
pub struct GlobalDef {
    /// Its name.
    pub name: Sym,
    /// The name's span.
    pub span: Span,
    /// The whole declaration (`let name = value`).
    pub item: Span,
    /// The value's expression.
    pub node: Rc<Node>,
    /// Its `##` documentation.
    pub doc: Option<String>,
}

/// A declared resource kind.
#[derive(Debug)]
pub struct KindDef {
    /// The kind's name.
    pub name: Sym,
    /// The schema its resources must satisfy.
    pub schema: Type,
    /// The declaration.
    pub span: Span,
    /// The name as written.
    pub name_span: Span,
    /// The declaring module.
    pub module: ModuleId,
}

/// A resource declaration.
#[derive(Debug)]
pub struct ResourceDef {
    /// Its kind.
    pub kind: KindId,
    /// Its name.
    pub name: String,
    /// The declaring module.
    pub module: ModuleId,
    /// The whole declaration.
    pub span: Span,
    /// The name as written.
    pub name_span: Span,
    /// The body (a record literal).
    pub body: Rc<Node>,
    /// Its `##` documentation.
    pub doc: Option<String>,
}

/// One loaded file.
#[derive(Debug)]
pub struct ModuleInfo {
    /// Path relative to the repository root.
    pub path: String,
    /// Its source file.
    pub file: FileId,
    /// The parse result (AST, comments), shared with the parse cache.
    pub parsed: Rc<Parsed>,
    /// Top-level bindings, by slot.
    pub globals: Vec<GlobalDef>,
    /// Every name defined or imported at the top level.
    pub scope: HashMap<Sym, (Binding, Span)>,
    /// Exported names in declaration order.
    pub exports: Vec<(Sym, Binding)>,
    /// Part of the standard library.
    pub is_stdlib: bool,
    /// Imports: (normalized path, path span).
    imports: Vec<(String, Span)>,
}

impl ModuleInfo {
    /// The modules this one imports (normalized paths), in source order.
    pub fn imported_paths(&self) -> impl Iterator<Item = &str> {
        self.imports.iter().map(|(p, _)| p.as_str())
    }
}

/// A loaded, resolved program.
#[derive(Debug)]
pub struct Program {
    /// All source files.
    pub sources: SourceMap,
    /// All modules.
    pub modules: Vec<ModuleInfo>,
    /// All kinds.
    pub kinds: Vec<KindDef>,
    /// All resources, in load order.
    pub resources: Vec<ResourceDef>,
    /// The entry module.
    pub entry: ModuleId,
    /// Names every user module sees without importing (stdlib exports).
    pub prelude: HashMap<Sym, Binding>,
    /// Syntax and resolve errors.
    pub diagnostics: Vec<Diagnostic>,
    /// Every resolved name occurrence (uses and local definitions), for the
    /// editor queries: definition, references, rename.
    pub names: Vec<NameUse>,
    schema_globals: HashSet<GlobalRef>,
    /// Each resource by kind and name: `kind.name` resolves in constant time.
    resource_ids: HashMap<(KindId, String), ResourceId>,
    /// The environment it is evaluated in, as named with `ev -e` (none:
    /// the program's default one); `environment_name()` returns it.
    pub environment: Option<String>,
}

/// One occurrence of a name in the source and what it resolved to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NameUse {
    /// Where the name is written.
    pub span: Span,
    /// What it refers to.
    pub target: NameTarget,
}

/// What a name occurrence refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NameTarget {
    /// A top-level `let` or `schema`.
    Global(GlobalRef),
    /// A resource declaration.
    Resource(ResourceId),
    /// A resource kind (its declaration, a resource's kind, a `Ref` type).
    Kind(KindId),
    /// A kind used as a value: all its resources (`machine.methanol`).
    KindCollection(KindId),
    /// A whole module (an import path or alias).
    Module(ModuleId),
    /// A builtin function.
    Builtin(Builtin),
    /// A local binding (`let ... in`, a parameter, a `for` variable), by
    /// the span of its definition.
    Local(Span),
}

/// Parsed files kept between loads (the language server re-parses only the
/// buffers that changed). Keyed by path and the file id the AST's spans
/// carry (programs loaded from different entries number files
/// differently); an entry is reused while the text is the same. Its size
/// is bounded by the repository's files.
#[derive(Default)]
pub struct ParseCache {
    entries: HashMap<(String, FileId), (std::sync::Arc<str>, Rc<Parsed>)>,
}

impl ParseCache {
    /// An empty cache.
    pub fn new() -> ParseCache {
        ParseCache::default()
    }
}

impl Program {
    /// The module with this id.
    pub fn module(&self, id: ModuleId) -> Option<&ModuleInfo> {
        self.modules.get(id.0 as usize)
    }

    /// The module loaded from `path`.
    pub fn module_by_path(&self, path: &str) -> Option<ModuleId> {
        self.modules
            .iter()
            .position(|m| m.path == path)
            .map(|i| ModuleId(i as u32))
    }

    /// The definition of a global.
    pub fn global(&self, g: GlobalRef) -> Option<&GlobalDef> {
        self.module(g.module)?.globals.get(g.slot as usize)
    }

    /// The kind with this id.
    pub fn kind(&self, id: KindId) -> Option<&KindDef> {
        self.kinds.get(id.0 as usize)
    }

    /// The resource with this id.
    pub fn resource(&self, id: ResourceId) -> Option<&ResourceDef> {
        self.resources.get(id.0 as usize)
    }

    /// The resource of this kind and name.
    pub fn resource_named(&self, kind: KindId, name: &str) -> Option<ResourceId> {
        self.resource_ids.get(&(kind, name.to_string())).copied()
    }

    /// Whether there were syntax or resolve errors.
    pub fn has_errors(&self) -> bool {
        !self.diagnostics.is_empty()
    }

    /// Compiles an expression (REPL input, `ev eval -e`) in `module`'s scope.
    /// The text is added to the source map as `<name>`.
    pub fn compile_expr(
        &mut self,
        module: ModuleId,
        name: &str,
        text: &str,
    ) -> Result<Node, Vec<Diagnostic>> {
        let file = self.sources.add(name, text);
        let (expr, syntax) = ev_syntax::parse_expr(text, file);
        if !syntax.is_empty() {
            return Err(syntax.iter().map(syntax_diagnostic).collect());
        }
        let Some(expr) = expr else {
            return Err(Vec::new());
        };
        let mut errors = Vec::new();
        let mut names = Vec::new();
        let node = {
            let mut c = Compiler::new(self, module, &mut errors, &mut names);
            c.expr(&expr)
        };
        self.names.extend(names);
        if errors.is_empty() {
            Ok(node)
        } else {
            Err(errors.iter().map(resolve_diagnostic).collect())
        }
    }
}

impl Program {
    /// Binds `name` to an expression in `module`'s scope, as a new
    /// top-level binding (the REPL's `let x = ...`). A binding of the same
    /// name is shadowed. The expression is compiled before the name is
    /// visible, so `let x = x + 1` refers to the previous `x`.
    pub fn bind(
        &mut self,
        module: ModuleId,
        name: &str,
        source_name: &str,
        text: &str,
    ) -> Result<(), Vec<Diagnostic>> {
        let node = self.compile_expr(module, source_name, text)?;
        if self.push_global(module, name, node) {
            Ok(())
        } else {
            Err(Vec::new())
        }
    }

    /// Adds a top-level binding of `name` to `node` in `module`'s scope;
    /// false when there is no such module.
    fn push_global(&mut self, module: ModuleId, name: &str, node: Node) -> bool {
        let span = node.span;
        let sym = Sym::new(name);
        let Some(m) = self.modules.get_mut(module.0 as usize) else {
            return false;
        };
        let g = GlobalRef {
            module,
            slot: m.globals.len() as u32,
        };
        m.globals.push(GlobalDef {
            name: sym,
            span,
            item: span,
            node: Rc::new(node),
            doc: None,
        });
        m.scope.insert(sym, (Binding::Global(g), span));
        true
    }

    /// Binds `name` to a value computed outside the program (the REPL's
    /// topology tables) in `module`'s scope, as a new top-level binding:
    /// data handed over as data, never written out as source and parsed.
    pub fn bind_value(&mut self, module: ModuleId, name: &str, source_name: &str, value: Value) {
        let file = self.sources.add(source_name, "");
        let span = Span::new(file, 0, 0);
        let node = Node {
            ir: Ir::Const(value),
            span,
        };
        self.push_global(module, name, node);
    }

    /// What `name` means at the top level of `module`: its scope, the
    /// prelude, then the builtins.
    pub fn lookup(&self, module: ModuleId, name: &str) -> Option<Binding> {
        lookup_top(self, module, name)
    }

    /// Every name visible in `module`: its scope and the prelude (for
    /// completion).
    pub fn visible_names(&self, module: ModuleId) -> Vec<String> {
        let mut names: Vec<String> = self
            .module(module)
            .map(|m| m.scope.keys().map(|s| s.as_str().to_string()).collect())
            .unwrap_or_default();
        names.extend(self.prelude.keys().map(|s| s.as_str().to_string()));
        names.sort();
        names.dedup();
        names
    }
}

/// Loads `entry` (a repository-relative path) with the standard library.
pub fn load(fs: &dyn FileSystem, entry: &str) -> Program {
    load_with(fs, entry, crate::stdlib::FILES)
}

/// Loads `entry` with the given standard library files.
pub fn load_with(fs: &dyn FileSystem, entry: &str, stdlib: &[(&str, &str)]) -> Program {
    load_cached(fs, entry, stdlib, &mut ParseCache::new())
}

/// Loads `entry`, reusing (and refreshing) the parses in `cache`.
pub fn load_cached(
    fs: &dyn FileSystem,
    entry: &str,
    stdlib: &[(&str, &str)],
    cache: &mut ParseCache,
) -> Program {
    let mut loader = Loader {
        fs,
        sources: SourceMap::new(),
        modules: Vec::new(),
        by_path: HashMap::new(),
        errors: Vec::new(),
        syntax: Vec::new(),
        cache,
    };
    for (path, text) in stdlib {
        loader.add_module(path, text.to_string(), true);
    }
    let entry_path = normalize(entry).unwrap_or_else(|_| entry.to_string());
    let entry_id = match fs.read(&entry_path) {
        Ok(text) => loader.add_module(&entry_path, text, false),
        Err(e) => {
            // The CLI checks the entry exists; report it anyway for other callers.
            let file = loader.sources.add(entry_path.clone(), "");
            let error = read_error(&entry_path, &e, Span::new(file, 0, 0));
            loader.errors.push(error);
            ModuleId(u32::MAX)
        }
    };
    loader.load_imports();
    let order = loader.import_order();
    let Loader {
        sources,
        modules,
        errors,
        syntax,
        ..
    } = loader;
    let mut program = Program {
        sources,
        modules,
        kinds: Vec::new(),
        resources: Vec::new(),
        entry: entry_id,
        prelude: HashMap::new(),
        diagnostics: Vec::new(),
        names: Vec::new(),
        schema_globals: HashSet::new(),
        resource_ids: HashMap::new(),
        environment: None,
    };
    let mut resolve_errors = errors;
    let mut names = Vec::new();
    declare_all(&mut program, &order, &mut resolve_errors, &mut names);
    compile_all(&mut program, &order, &mut resolve_errors, &mut names);
    program.names = names;
    let mut diagnostics: Vec<Diagnostic> = syntax.iter().map(syntax_diagnostic).collect();
    diagnostics.extend(resolve_errors.iter().map(resolve_diagnostic));
    program.diagnostics = diagnostics;
    program
}

/// The error of a source file that could not be read.
fn read_error(path: &str, e: &std::io::Error, span: Span) -> ResolveError {
    match crate::fs::ReadFailure::of(e) {
        crate::fs::ReadFailure::NotFound => ResolveError::ImportNotFound {
            path: path.to_string(),
            span,
        },
        crate::fs::ReadFailure::Escapes { link_target } => ResolveError::PathEscapesRoot {
            path: path.to_string(),
            link_target,
            span,
        },
        crate::fs::ReadFailure::Unreadable(reason) => ResolveError::ImportUnreadable {
            path: path.to_string(),
            reason,
            span,
        },
    }
}

struct Loader<'a> {
    fs: &'a dyn FileSystem,
    sources: SourceMap,
    modules: Vec<ModuleInfo>,
    by_path: HashMap<String, ModuleId>,
    errors: Vec<ResolveError>,
    syntax: Vec<ev_syntax::SyntaxError>,
    cache: &'a mut ParseCache,
}

impl Loader<'_> {
    fn add_module(&mut self, path: &str, text: String, is_stdlib: bool) -> ModuleId {
        let file = self.sources.add(path, text);
        let src = self
            .sources
            .get(file)
            .map(|f| f.text.clone())
            .unwrap_or_else(|| "".into());
        let key = (path.to_string(), file);
        let parsed = match self.cache.entries.get(&key) {
            Some((text, parsed)) if **text == *src => parsed.clone(),
            _ => {
                let parsed = Rc::new(parse_module(&src, file));
                self.cache
                    .entries
                    .insert(key, (src.clone(), parsed.clone()));
                parsed
            }
        };
        self.syntax.extend(parsed.errors.iter().cloned());
        let id = ModuleId(self.modules.len() as u32);
        self.by_path.insert(path.to_string(), id);
        self.modules.push(ModuleInfo {
            path: path.to_string(),
            file,
            parsed,
            globals: Vec::new(),
            scope: HashMap::new(),
            exports: Vec::new(),
            is_stdlib,
            imports: Vec::new(),
        });
        id
    }

    /// Loads every imported file, breadth first.
    fn load_imports(&mut self) {
        let mut next = 0;
        while next < self.modules.len() {
            let mut imports = Vec::new();
            if let Some(m) = self.modules.get(next) {
                for item in &m.parsed.module.items {
                    if let ItemKind::Import(imp) = &item.kind {
                        imports.push(imp.path.clone());
                    }
                }
            }
            let mut resolved = Vec::new();
            for lit in imports {
                let path = match normalize(&lit.value) {
                    Ok(p) => p,
                    Err(PathError::EscapesRoot) => {
                        self.errors.push(ResolveError::PathEscapesRoot {
                            path: lit.value.clone(),
                            link_target: None,
                            span: lit.span,
                        });
                        continue;
                    }
                    Err(PathError::Empty) => {
                        self.errors.push(ResolveError::InvalidImportPath {
                            path: lit.value.clone(),
                            reason: "empty path".into(),
                            span: lit.span,
                        });
                        continue;
                    }
                };
                if !path.ends_with(".ev") {
                    self.errors.push(ResolveError::InvalidImportPath {
                        path: lit.value.clone(),
                        reason: "only `.ev` files can be imported; read data with json(), yaml(), toml() or text()".into(),
                        span: lit.span,
                    });
                    continue;
                }
                if !self.by_path.contains_key(&path) {
                    match self.fs.read(&path) {
                        Ok(text) => {
                            self.add_module(&path, text, false);
                        }
                        Err(e) => {
                            self.errors.push(read_error(&path, &e, lit.span));
                            continue;
                        }
                    }
                }
                resolved.push((path, lit.span));
            }
            if let Some(m) = self.modules.get_mut(next) {
                m.imports = resolved;
            }
            next += 1;
        }
    }

    /// Modules in dependency order (imports first). Import edges that close a
    /// cycle are reported and dropped.
    fn import_order(&mut self) -> Vec<ModuleId> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            Active,
            Done,
        }
        let n = self.modules.len();
        let mut marks = vec![Mark::New; n];
        let mut order = Vec::with_capacity(n);
        let mut broken: Vec<(usize, usize)> = Vec::new();
        // Iterative DFS: stack of (module, next import index), plus the path
        // of (module, import span) for reporting cycles.
        for root in 0..n {
            if marks.get(root) != Some(&Mark::New) {
                continue;
            }
            let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
            if let Some(m) = marks.get_mut(root) {
                *m = Mark::Active;
            }
            while let Some(&mut (module, ref mut next)) = stack.last_mut() {
                let imports = self
                    .modules
                    .get(module)
                    .map(|m| m.imports.clone())
                    .unwrap_or_default();
                if let Some((path, span)) = imports.get(*next) {
                    let import_index = *next;
                    *next += 1;
                    let Some(target) = self.by_path.get(path).map(|id| id.0 as usize) else {
                        continue;
                    };
                    match marks.get(target).copied() {
                        Some(Mark::New) => {
                            if let Some(m) = marks.get_mut(target) {
                                *m = Mark::Active;
                            }
                            stack.push((target, 0));
                        }
                        Some(Mark::Active) => {
                            // A cycle: from `target` along the stack to `module`.
                            let start = stack.iter().position(|(m, _)| *m == target).unwrap_or(0);
                            let mut chain = Vec::new();
                            for (m, next_idx) in stack.iter().skip(start) {
                                let via = if *m == module {
                                    Some(*span)
                                } else {
                                    self.modules
                                        .get(*m)
                                        .and_then(|mi| mi.imports.get(next_idx.saturating_sub(1)))
                                        .map(|(_, s)| *s)
                                };
                                let path = self
                                    .modules
                                    .get(*m)
                                    .map(|mi| mi.path.clone())
                                    .unwrap_or_default();
                                if let Some(via) = via {
                                    chain.push((path, via));
                                }
                            }
                            self.errors.push(ResolveError::ImportCycle { chain });
                            broken.push((module, import_index));
                        }
                        _ => {}
                    }
                } else {
                    if let Some(m) = marks.get_mut(module) {
                        *m = Mark::Done;
                    }
                    order.push(ModuleId(module as u32));
                    stack.pop();
                }
            }
        }
        // Drop the edges that closed cycles, so their names resolve as poisoned.
        for (module, idx) in broken.into_iter().rev() {
            if let Some(m) = self.modules.get_mut(module) {
                if idx < m.imports.len() {
                    let (path, span) = m.imports.remove(idx);
                    m.imports.push((format!("\u{0}cycle:{path}"), span));
                }
            }
        }
        order
    }
}

/// Pass 1: assign slots and ids to every top-level item and build module scopes.
fn declare_all(
    program: &mut Program,
    order: &[ModuleId],
    errors: &mut Vec<ResolveError>,
    names: &mut Vec<NameUse>,
) {
    let mut resource_names: HashMap<(KindId, String), Span> = HashMap::new();
    for &mid in order {
        let Some(module) = program.modules.get(mid.0 as usize) else {
            continue;
        };
        let is_stdlib = module.is_stdlib;
        let parsed = module.parsed.clone();
        let items = &parsed.module.items;
        let imports = module.imports.clone();
        let src = program
            .sources
            .get(module.file)
            .map(|f| f.text.clone())
            .unwrap_or_else(|| "".into());
        let mut scope: HashMap<Sym, (Binding, Span)> = HashMap::new();
        let mut exports: Vec<(Sym, Binding)> = Vec::new();
        let mut globals: Vec<GlobalDef> = Vec::new();
        let define = |scope: &mut HashMap<Sym, (Binding, Span)>,
                      errors: &mut Vec<ResolveError>,
                      name: &str,
                      span: Span,
                      binding: Binding| {
            let sym = Sym::new(name);
            if let Some((_, first)) = scope.get(&sym) {
                errors.push(ResolveError::DuplicateDefinition {
                    name: name.to_string(),
                    span,
                    first: *first,
                });
            } else {
                scope.insert(sym, (binding, span));
            }
            sym
        };
        let placeholder = |span: Span| {
            Rc::new(Node {
                ir: Ir::Poisoned,
                span,
            })
        };
        let doc_of = |offset: u32| {
            program
                .modules
                .get(mid.0 as usize)
                .and_then(|m| m.parsed.doc_before(&src, offset))
        };
        for item in items.iter() {
            match &item.kind {
                ItemKind::Import(imp) => {
                    // Imports were resolved in source order, skipping invalid paths.
                    let normalized = normalize(&imp.path.value).ok();
                    let entry = imports.iter().find(|(_, span)| *span == imp.path.span);
                    let target = entry
                        .and_then(|(p, _)| program.modules.iter().position(|m| &m.path == p))
                        .map(|i| ModuleId(i as u32));
                    let usable = normalized.is_some() && target.is_some();
                    if let Some(t) = target.filter(|_| usable) {
                        names.push(NameUse {
                            span: imp.path.span,
                            target: NameTarget::Module(t),
                        });
                    }
                    if let Some(alias) = &imp.alias {
                        let binding = match target {
                            Some(t) if usable => Binding::Module(t),
                            _ => Binding::Poisoned,
                        };
                        let sym = define(&mut scope, errors, &alias.name, alias.span, binding);
                        if item.exported {
                            exports.push((sym, binding));
                        }
                    }
                    for name in &imp.names {
                        let local = name.alias.as_ref().unwrap_or(&name.name);
                        let binding = match target.filter(|_| usable) {
                            Some(t) => {
                                let sym = Sym::new(&name.name.name);
                                let target_module = program.modules.get(t.0 as usize);
                                match target_module
                                    .and_then(|m| m.exports.iter().find(|(s, _)| *s == sym))
                                {
                                    Some((_, b)) => {
                                        if let Some(target) = binding_target(*b) {
                                            names.push(NameUse {
                                                span: name.name.span,
                                                target,
                                            });
                                            if let Some(alias) = &name.alias {
                                                names.push(NameUse {
                                                    span: alias.span,
                                                    target,
                                                });
                                            }
                                        }
                                        *b
                                    }
                                    None => {
                                        let candidates: Vec<&str> = target_module
                                            .map(|m| {
                                                m.exports.iter().map(|(s, _)| s.as_str()).collect()
                                            })
                                            .unwrap_or_default();
                                        errors.push(ResolveError::NotExported {
                                            name: name.name.name.clone(),
                                            module: target_module
                                                .map(|m| m.path.clone())
                                                .unwrap_or_default(),
                                            span: name.name.span,
                                            suggestions: similar(&name.name.name, candidates),
                                        });
                                        Binding::Poisoned
                                    }
                                }
                            }
                            None => Binding::Poisoned,
                        };
                        let sym = define(&mut scope, errors, &local.name, local.span, binding);
                        if item.exported {
                            exports.push((sym, binding));
                        }
                    }
                }
                ItemKind::Let { name, .. } => {
                    let g = GlobalRef {
                        module: mid,
                        slot: globals.len() as u32,
                    };
                    let sym = define(
                        &mut scope,
                        errors,
                        &name.name,
                        name.span,
                        Binding::Global(g),
                    );
                    globals.push(GlobalDef {
                        name: sym,
                        span: name.span,
                        item: item.span,
                        node: placeholder(name.span),
                        doc: doc_of(item.span.start),
                    });
                    if item.exported {
                        exports.push((sym, Binding::Global(g)));
                    }
                }
                ItemKind::Schema(schema) => {
                    let g = GlobalRef {
                        module: mid,
                        slot: globals.len() as u32,
                    };
                    let sym = define(
                        &mut scope,
                        errors,
                        &schema.name.name,
                        schema.name.span,
                        Binding::Global(g),
                    );
                    globals.push(GlobalDef {
                        name: sym,
                        span: schema.name.span,
                        item: item.span,
                        node: placeholder(schema.name.span),
                        doc: doc_of(item.span.start),
                    });
                    program.schema_globals.insert(g);
                    if item.exported {
                        exports.push((sym, Binding::Global(g)));
                    }
                }
                ItemKind::Kind { name, .. } => {
                    let id = KindId(program.kinds.len() as u32);
                    let sym = define(&mut scope, errors, &name.name, name.span, Binding::Kind(id));
                    program.kinds.push(KindDef {
                        name: sym,
                        schema: Type::Any,
                        span: item.span,
                        name_span: name.span,
                        module: mid,
                    });
                    if item.exported {
                        exports.push((sym, Binding::Kind(id)));
                    }
                }
                ItemKind::Resource(_) | ItemKind::Error => {}
            }
        }
        if let Some(m) = program.modules.get_mut(mid.0 as usize) {
            m.scope = scope;
            m.exports = exports;
            m.globals = globals;
        }
        if is_stdlib {
            if let Some(m) = program.modules.get(mid.0 as usize) {
                for (sym, binding) in &m.exports {
                    program.prelude.insert(*sym, *binding);
                }
            }
        }
        // Resources: their kind must be resolvable now (kinds are declared above
        // or in imported modules, which come earlier in `order`).
        for item in items.iter() {
            let ItemKind::Resource(res) = &item.kind else {
                continue;
            };
            let kind = match lookup_top(program, mid, &res.kind.name) {
                Some(Binding::Kind(k)) => {
                    names.push(NameUse {
                        span: res.kind.span,
                        target: NameTarget::Kind(k),
                    });
                    Some(k)
                }
                Some(Binding::Poisoned) => None,
                Some(_) => {
                    errors.push(ResolveError::NotAKind {
                        name: res.kind.name.clone(),
                        span: res.kind.span,
                    });
                    None
                }
                None => {
                    let names: Vec<&str> = program.kinds.iter().map(|k| k.name.as_str()).collect();
                    errors.push(ResolveError::UnknownKind {
                        name: res.kind.name.clone(),
                        span: res.kind.span,
                        suggestions: similar(&res.kind.name, names),
                    });
                    None
                }
            };
            let id = ResourceId(program.resources.len() as u32);
            if let Some(kind) = kind {
                let key = (kind, res.name.value.clone());
                if let Some(first) = resource_names.get(&key) {
                    errors.push(ResolveError::DuplicateResource {
                        kind: res.kind.name.clone(),
                        name: res.name.value.clone(),
                        span: res.name.span,
                        first: *first,
                    });
                } else {
                    resource_names.insert(key.clone(), res.name.span);
                    program.resource_ids.insert(key, id);
                    program.resources.push(ResourceDef {
                        kind,
                        name: res.name.value.clone(),
                        module: mid,
                        span: item.span,
                        name_span: res.name.span,
                        body: placeholder(res.body.span),
                        doc: program
                            .modules
                            .get(mid.0 as usize)
                            .and_then(|m| m.parsed.doc_before(&src, item.span.start)),
                    });
                }
            }
            if res.name.is_ident {
                let binding = if program.resources.len() as u32 > id.0 {
                    Binding::Resource(id)
                } else {
                    Binding::Poisoned
                };
                if let Some(m) = program.modules.get_mut(mid.0 as usize) {
                    let sym = Sym::new(&res.name.value);
                    if let Some((existing, first)) = m.scope.get(&sym).copied() {
                        if matches!(existing, Binding::Resource(_) | Binding::Ambiguous) {
                            // Same name, another kind (same kind is E0207).
                            m.scope.insert(sym, (Binding::Ambiguous, first));
                        } else {
                            errors.push(ResolveError::DuplicateDefinition {
                                name: res.name.value.clone(),
                                span: res.name.span,
                                first,
                            });
                        }
                    } else {
                        m.scope.insert(sym, (binding, res.name.span));
                        if item.exported {
                            m.exports.push((sym, binding));
                        }
                    }
                }
            }
        }
    }
}

/// What a binding refers to, for the name index.
pub fn binding_target(binding: Binding) -> Option<NameTarget> {
    match binding {
        Binding::Global(g) => Some(NameTarget::Global(g)),
        Binding::Resource(r) => Some(NameTarget::Resource(r)),
        Binding::Kind(k) => Some(NameTarget::Kind(k)),
        Binding::Module(m) => Some(NameTarget::Module(m)),
        Binding::Builtin(b) => Some(NameTarget::Builtin(b)),
        Binding::Poisoned | Binding::Ambiguous => None,
    }
}

/// Looks a name up at the top level of a module: its scope, then the prelude.
fn lookup_top(program: &Program, module: ModuleId, name: &str) -> Option<Binding> {
    let sym = Sym::new(name);
    let m = program.module(module)?;
    if let Some((b, _)) = m.scope.get(&sym) {
        return Some(*b);
    }
    if !m.is_stdlib {
        if let Some(b) = program.prelude.get(&sym) {
            return Some(*b);
        }
    }
    Builtin::from_name(name).map(Binding::Builtin)
}

/// Pass 2: compile every expression.
fn compile_all(
    program: &mut Program,
    order: &[ModuleId],
    errors: &mut Vec<ResolveError>,
    names: &mut Vec<NameUse>,
) {
    // Each declared resource by where its name is written: its body is
    // compiled into it below (one lookup per resource, not a scan).
    let declared: HashMap<(ModuleId, Span), usize> = program
        .resources
        .iter()
        .enumerate()
        .map(|(i, r)| ((r.module, r.name_span), i))
        .collect();
    for &mid in order {
        let Some(module) = program.modules.get(mid.0 as usize) else {
            continue;
        };
        let parsed = module.parsed.clone();
        let items = &parsed.module.items;
        let src = program
            .sources
            .get(module.file)
            .map(|f| f.text.clone())
            .unwrap_or_else(|| "".into());
        let mut slot = 0usize;
        for item in items.iter() {
            match &item.kind {
                ItemKind::Let { name, value } => {
                    let mut node = {
                        let mut c = Compiler::new(program, mid, errors, names);
                        c.expr(value)
                    };
                    if let Ir::Lambda(def) = &mut node.ir {
                        if let Some(def) = Rc::get_mut(def) {
                            def.name = Some(Sym::new(&name.name));
                        }
                    }
                    set_global(program, mid, slot, node);
                    slot += 1;
                }
                ItemKind::Schema(schema) => {
                    let def = {
                        let mut c = Compiler::new(program, mid, errors, names);
                        c.schema(schema, &src)
                    };
                    let span = schema.name.span;
                    set_global(
                        program,
                        mid,
                        slot,
                        Node {
                            ir: Ir::Const(Value::Schema(Rc::new(def))),
                            span,
                        },
                    );
                    slot += 1;
                }
                ItemKind::Kind { name, schema } => {
                    let ty = {
                        let mut c = Compiler::new(program, mid, errors, names);
                        c.ty(schema)
                    };
                    let sym = Sym::new(&name.name);
                    if let Some(k) = program
                        .kinds
                        .iter_mut()
                        .find(|k| k.name == sym && k.module == mid)
                    {
                        k.schema = ty;
                    }
                }
                ItemKind::Resource(res) => {
                    let body = {
                        let mut c = Compiler::new(program, mid, errors, names);
                        c.expr(&res.body)
                    };
                    let position = declared.get(&(mid, res.name.span));
                    if let Some(r) = position.and_then(|&i| program.resources.get_mut(i)) {
                        r.body = Rc::new(body);
                    }
                }
                ItemKind::Import(_) | ItemKind::Error => {}
            }
        }
    }
}

fn set_global(program: &mut Program, module: ModuleId, slot: usize, node: Node) {
    if let Some(g) = program
        .modules
        .get_mut(module.0 as usize)
        .and_then(|m| m.globals.get_mut(slot))
    {
        g.node = Rc::new(node);
    }
}

/// The builtin type names usable in schemas.
pub const BUILTIN_TYPES: &[&str] = &[
    "Any", "Data", "Unknown", "Null", "Bool", "Int", "Float", "String", "Name", "Secret",
    "Function", "Record", "List", "Map", "Ref",
];

/// Lowers expressions of one module, tracking local scopes.
struct Compiler<'a> {
    program: &'a Program,
    module: ModuleId,
    errors: &'a mut Vec<ResolveError>,
    names: &'a mut Vec<NameUse>,
    /// Local frames, innermost last: each name with its definition's span.
    frames: Vec<Vec<(Sym, Span)>>,
}

impl<'a> Compiler<'a> {
    fn new(
        program: &'a Program,
        module: ModuleId,
        errors: &'a mut Vec<ResolveError>,
        names: &'a mut Vec<NameUse>,
    ) -> Self {
        Compiler {
            program,
            module,
            errors,
            names,
            frames: Vec::new(),
        }
    }

    /// Records a name occurrence for the editor queries.
    fn note_name(&mut self, span: Span, target: NameTarget) {
        self.names.push(NameUse { span, target });
    }

    /// Pushes a frame of local definitions (recorded as their own targets).
    fn push_frame(&mut self, frame: Vec<(Sym, Span)>) {
        for (_, span) in &frame {
            self.names.push(NameUse {
                span: *span,
                target: NameTarget::Local(*span),
            });
        }
        self.frames.push(frame);
    }

    fn node(ir: Ir, span: Span) -> Node {
        Node { ir, span }
    }

    fn lookup(&mut self, name: &str, span: Span) -> Ir {
        let sym = Sym::new(name);
        for (depth, frame) in self.frames.iter().rev().enumerate() {
            if let Some(index) = frame.iter().rposition(|(s, _)| *s == sym) {
                let def = frame.get(index).map(|(_, d)| *d).unwrap_or(span);
                self.note_name(span, NameTarget::Local(def));
                return Ir::Local {
                    depth: depth as u32,
                    index: index as u32,
                };
            }
        }
        let found = lookup_top(self.program, self.module, name);
        match found {
            // A kind in an expression reads all resources of that kind.
            Some(Binding::Kind(k)) => self.note_name(span, NameTarget::KindCollection(k)),
            Some(b) => {
                if let Some(target) = binding_target(b) {
                    self.note_name(span, target);
                }
            }
            None => {}
        }
        match found {
            Some(Binding::Global(g)) => Ir::Global(g),
            Some(Binding::Resource(r)) => Ir::Resource(r),
            Some(Binding::Kind(k)) => Ir::KindCollection(k),
            Some(Binding::Module(m)) => Ir::ModuleExports(m),
            Some(Binding::Builtin(b)) => Ir::Builtin(b),
            Some(Binding::Poisoned) => Ir::Poisoned,
            Some(Binding::Ambiguous) => {
                let sym = Sym::new(name);
                let candidates: Vec<String> = self
                    .program
                    .resources
                    .iter()
                    .filter(|r| r.module == self.module && Sym::new(&r.name) == sym)
                    .filter_map(|r| {
                        self.program
                            .kind(r.kind)
                            .map(|k| format!("{}.{}", k.name, r.name))
                    })
                    .collect();
                self.errors.push(ResolveError::AmbiguousName {
                    name: name.to_string(),
                    span,
                    candidates,
                });
                Ir::Poisoned
            }
            None => {
                let suggestions = similar(name, self.visible_names());
                self.errors.push(ResolveError::UnboundName {
                    name: name.to_string(),
                    span,
                    suggestions,
                });
                Ir::Poisoned
            }
        }
    }

    fn visible_names(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = self
            .frames
            .iter()
            .flat_map(|f| f.iter().map(|(s, _)| s.as_str()))
            .collect();
        if let Some(m) = self.program.module(self.module) {
            names.extend(m.scope.keys().map(|s| s.as_str()));
            if !m.is_stdlib {
                names.extend(self.program.prelude.keys().map(|s| s.as_str()));
            }
        }
        names.extend(Builtin::ALL.iter().map(|b| b.name()));
        names
    }

    /// Records `target.name` when the target is known statically: a kind's
    /// resources (`machine.methanol`) or a module's exports (`m.name`).
    fn record_member(&mut self, target: &Ir, name: &str, span: Span) {
        let found = match target {
            Ir::KindCollection(k) => self
                .program
                .resource_ids
                .get(&(*k, name.to_string()))
                .map(|&id| NameTarget::Resource(id)),
            Ir::ModuleExports(m) => {
                let sym = Sym::new(name);
                self.program
                    .module(*m)
                    .and_then(|m| m.exports.iter().find(|(s, _)| *s == sym))
                    .and_then(|(_, b)| binding_target(*b))
            }
            _ => None,
        };
        if let Some(target) = found {
            self.note_name(span, target);
        }
    }

    fn expr(&mut self, e: &ast::Expr) -> Node {
        let span = e.span;
        let ir = match &e.kind {
            ExprKind::Null => Ir::Const(Value::Null),
            ExprKind::Bool(b) => Ir::Const(Value::Bool(*b)),
            ExprKind::Int(n) => Ir::Const(Value::Int(*n)),
            ExprKind::Float(n) => Ir::Const(Value::Float(*n)),
            ExprKind::Str(parts) => self.string(parts),
            ExprKind::Var(name) => self.lookup(name, span),
            ExprKind::List(items) => {
                let nodes: Vec<Node> = items.iter().map(|i| self.expr(i)).collect();
                Ir::List(nodes)
            }
            ExprKind::ListComp { body, clauses } => {
                let pushed = clauses
                    .iter()
                    .filter(|c| matches!(c, ast::Clause::For { .. }))
                    .count();
                let clauses = self.clauses(clauses);
                let body = self.expr(body);
                self.frames.truncate(self.frames.len() - pushed);
                Ir::ListComp {
                    body: Box::new(body),
                    clauses,
                }
            }
            ExprKind::Record(fields) => Ir::Record(Rc::new(self.record(fields, span))),
            ExprKind::RecordComp {
                key,
                value,
                clauses,
            } => {
                let pushed = clauses
                    .iter()
                    .filter(|c| matches!(c, ast::Clause::For { .. }))
                    .count();
                let clauses = self.clauses(clauses);
                let key = self.expr(key);
                let value = self.expr(value);
                self.frames.truncate(self.frames.len() - pushed);
                Ir::RecordComp {
                    key: Box::new(key),
                    value: Rc::new(value),
                    clauses,
                }
            }
            ExprKind::Select { target, field } => {
                let target = Box::new(self.expr(target));
                match &field.kind {
                    KeyKind::Static(name) => {
                        self.record_member(&target.ir, name, field.span);
                        Ir::Select {
                            target,
                            field: Sym::new(name),
                            field_span: field.span,
                        }
                    }
                    KeyKind::Dynamic(key) => Ir::SelectDyn {
                        target,
                        key: Box::new(self.expr(key)),
                    },
                }
            }
            ExprKind::Index { target, index } => Ir::Index {
                target: Box::new(self.expr(target)),
                index: Box::new(self.expr(index)),
            },
            ExprKind::Or { target, default } => {
                if !matches!(
                    target.kind,
                    ExprKind::Select { .. } | ExprKind::Index { .. } | ExprKind::Error
                ) {
                    self.errors.push(ResolveError::OrWithoutSelect { span });
                }
                Ir::Or {
                    target: Box::new(self.expr(target)),
                    default: Box::new(self.expr(default)),
                }
            }
            ExprKind::Call { func, args } => {
                let func = Box::new(self.expr(func));
                let mut positional = Vec::new();
                let mut named = Vec::new();
                for arg in args {
                    match &arg.name {
                        Some(name) => {
                            named.push((Sym::new(&name.name), name.span, self.expr(&arg.value)))
                        }
                        None => positional.push(self.expr(&arg.value)),
                    }
                }
                Ir::Call {
                    func,
                    args: positional,
                    named,
                }
            }
            ExprKind::Lambda { params, body } => {
                let mut frame: Vec<(Sym, Span)> = Vec::new();
                let mut defaults = Vec::new();
                for param in params {
                    let default = param.default.as_ref().map(|d| {
                        self.frames.push(frame.clone());
                        let node = self.expr(d);
                        self.frames.pop();
                        node
                    });
                    defaults.push(default);
                    frame.push((Sym::new(&param.name.name), param.name.span));
                }
                let params = frame.iter().map(|(s, _)| *s).collect();
                self.push_frame(frame);
                let body = self.expr(body);
                self.frames.pop();
                Ir::Lambda(Rc::new(LambdaDef {
                    params,
                    defaults,
                    body,
                    span,
                    name: None,
                }))
            }
            ExprKind::Let { bindings, body } => {
                let mut values = Vec::new();
                for (name, value) in bindings {
                    values.push(Rc::new(self.expr(value)));
                    self.push_frame(vec![(Sym::new(&name.name), name.span)]);
                }
                let mut node = self.expr(body);
                for value in values.into_iter().rev() {
                    self.frames.pop();
                    node = Node {
                        ir: Ir::Let {
                            value,
                            body: Box::new(node),
                        },
                        span,
                    };
                }
                return node;
            }
            ExprKind::If {
                cond,
                then,
                otherwise,
            } => Ir::If {
                cond: Box::new(self.expr(cond)),
                then: Box::new(self.expr(then)),
                otherwise: Box::new(self.expr(otherwise)),
            },
            ExprKind::Unary(op, operand) => Ir::Unary(*op, Box::new(self.expr(operand))),
            ExprKind::Binary(op, l, r) => {
                Ir::Binary(*op, Box::new(self.expr(l)), Box::new(self.expr(r)))
            }
            ExprKind::Error => Ir::Poisoned,
        };
        Self::node(ir, span)
    }

    fn string(&mut self, parts: &[StrPart]) -> Ir {
        if parts.iter().all(|p| matches!(p, StrPart::Text(_))) {
            let text: String = parts
                .iter()
                .map(|p| match p {
                    StrPart::Text(t) => t.as_str(),
                    StrPart::Interp(_) => "",
                })
                .collect();
            return Ir::Const(Value::str(&text));
        }
        Ir::Interp(
            parts
                .iter()
                .map(|p| match p {
                    StrPart::Text(t) => InterpPart::Text(Rc::from(t.as_str())),
                    StrPart::Interp(e) => InterpPart::Expr(self.expr(e)),
                })
                .collect(),
        )
    }

    /// Compiles clauses, pushing one frame per `for` (the caller pops them).
    fn clauses(&mut self, clauses: &[ast::Clause]) -> Vec<IrClause> {
        let mut out = Vec::new();
        for clause in clauses {
            match clause {
                ast::Clause::For { vars, iter } => {
                    let iter = self.expr(iter);
                    self.push_frame(vars.iter().map(|v| (Sym::new(&v.name), v.span)).collect());
                    out.push(IrClause::For {
                        iter,
                        vars: vars.len() as u32,
                    });
                }
                ast::Clause::If(cond) => out.push(IrClause::If(self.expr(cond))),
            }
        }
        out
    }

    /// Compiles a record literal, nesting dotted paths (`a.b = 1, a.c = 2`
    /// becomes `a = { b = 1, c = 2 }`).
    fn record(&mut self, fields: &[ast::Field], literal_span: Span) -> RecordLit {
        enum Entry<'e> {
            Value(&'e ast::Expr, Span),
            Nested(Vec<ast::Field>, Span),
        }
        let mut order: Vec<(Sym, Span)> = Vec::new();
        let mut entries: HashMap<Sym, Entry<'_>> = HashMap::new();
        let mut out: Vec<FieldLit> = Vec::new();
        let mut dynamic_positions: Vec<(usize, FieldLit)> = Vec::new();
        for field in fields {
            let Some(first) = field.path.first() else {
                continue;
            };
            match &first.kind {
                KeyKind::Static(name) => {
                    let sym = Sym::new(name);
                    let rest: Vec<ast::Key> = field.path.iter().skip(1).cloned().collect();
                    match entries.get_mut(&sym) {
                        None => {
                            order.push((sym, first.span));
                            if rest.is_empty() {
                                entries.insert(sym, Entry::Value(&field.value, first.span));
                            } else {
                                entries.insert(
                                    sym,
                                    Entry::Nested(
                                        vec![ast::Field {
                                            path: rest,
                                            value: field.value.clone(),
                                            span: field.span,
                                        }],
                                        field.span,
                                    ),
                                );
                            }
                        }
                        Some(Entry::Nested(sub, _)) if !rest.is_empty() => sub.push(ast::Field {
                            path: rest,
                            value: field.value.clone(),
                            span: field.span,
                        }),
                        Some(Entry::Value(_, prev)) | Some(Entry::Nested(_, prev)) => {
                            self.errors.push(ResolveError::DuplicateField {
                                name: name.clone(),
                                span: first.span,
                                first: *prev,
                            });
                        }
                    }
                }
                KeyKind::Dynamic(key) => {
                    let key_node = self.expr(key);
                    let value = if field.path.len() > 1 {
                        let nested = ast::Expr {
                            kind: ExprKind::Record(vec![ast::Field {
                                path: field.path.iter().skip(1).cloned().collect(),
                                value: field.value.clone(),
                                span: field.span,
                            }]),
                            span: field.value.span,
                        };
                        self.expr(&nested)
                    } else {
                        self.expr(&field.value)
                    };
                    dynamic_positions.push((
                        order.len(),
                        FieldLit {
                            path: vec![KeyLit::Dynamic(key_node)],
                            value: Rc::new(value),
                            key_span: first.span,
                        },
                    ));
                }
            }
        }
        let mut spans = Vec::new();
        let all_static = dynamic_positions.is_empty();
        let mut dynamic = dynamic_positions.into_iter().peekable();
        for (i, (sym, key_span)) in order.iter().enumerate() {
            while let Some((_, lit)) = dynamic.next_if(|(pos, _)| *pos <= i) {
                out.push(lit);
            }
            let (value, value_span) = match entries.remove(sym) {
                Some(Entry::Value(expr, _)) => (self.expr(expr), expr.span),
                Some(Entry::Nested(sub, span)) => {
                    let lit = self.record(&sub, span);
                    (
                        Node {
                            ir: Ir::Record(Rc::new(lit)),
                            span,
                        },
                        span,
                    )
                }
                None => continue,
            };
            spans.push((*key_span, value_span));
            out.push(FieldLit {
                path: vec![KeyLit::Static(*sym)],
                value: Rc::new(value),
                key_span: *key_span,
            });
        }
        out.extend(dynamic.map(|(_, lit)| lit));
        RecordLit {
            fields: out,
            spans: if all_static {
                Some(Rc::new(crate::value::SpanTable {
                    record: literal_span,
                    fields: spans.into_boxed_slice(),
                }))
            } else {
                None
            },
        }
    }

    fn ty(&mut self, t: &ast::TypeExpr) -> Type {
        match &t.kind {
            ast::TypeKind::Literal(s) => Type::Literal(Rc::from(s.as_str())),
            ast::TypeKind::List(inner) => Type::List(Box::new(self.ty(inner))),
            ast::TypeKind::Union(alts) => Type::Union(alts.iter().map(|a| self.ty(a)).collect()),
            ast::TypeKind::Error => Type::Any,
            ast::TypeKind::Named(name, args) => {
                // Schemas in scope shadow builtin type names (a user's
                // `schema Record` wins over the builtin `Record`).
                match lookup_top(self.program, self.module, &name.name) {
                    Some(Binding::Global(g)) if self.program.schema_globals.contains(&g) => {
                        self.note_name(name.span, NameTarget::Global(g));
                        return Type::Schema(g, Sym::new(&name.name));
                    }
                    Some(Binding::Poisoned) => return Type::Any,
                    _ => {}
                }
                let arg = |c: &mut Self| args.first().map(|a| c.ty(a)).unwrap_or(Type::Any);
                match name.name.as_str() {
                    "Any" => Type::Any,
                    "Unknown" => Type::Unknown,
                    "Data" => Type::Data,
                    "Null" => Type::Null,
                    "Bool" => Type::Bool,
                    "Int" => Type::Int,
                    "Float" => Type::Float,
                    "String" => Type::String,
                    "Name" => Type::Name,
                    "Secret" => Type::Secret,
                    "Function" => Type::Function,
                    "Record" => Type::Record,
                    "List" => Type::List(Box::new(arg(self))),
                    "Map" => Type::Map(Box::new(arg(self))),
                    "Ref" => match args.first().map(|a| &a.kind) {
                        Some(ast::TypeKind::Named(kind_name, _)) => {
                            match lookup_top(self.program, self.module, &kind_name.name) {
                                Some(Binding::Kind(k)) => {
                                    self.note_name(kind_name.span, NameTarget::Kind(k));
                                    Type::Ref(k, Sym::new(&kind_name.name))
                                }
                                Some(Binding::Poisoned) => Type::Any,
                                _ => {
                                    let names: Vec<&str> = self
                                        .program
                                        .kinds
                                        .iter()
                                        .map(|k| k.name.as_str())
                                        .collect();
                                    self.errors.push(ResolveError::UnknownKind {
                                        name: kind_name.name.clone(),
                                        span: kind_name.span,
                                        suggestions: similar(&kind_name.name, names),
                                    });
                                    Type::Any
                                }
                            }
                        }
                        _ => {
                            self.errors.push(ResolveError::UnknownType {
                                name: "Ref".into(),
                                span: name.span,
                                suggestions: vec!["Ref(machine)".into()],
                            });
                            Type::Any
                        }
                    },
                    other => {
                        let mut candidates: Vec<&str> = BUILTIN_TYPES.to_vec();
                        let schema_names: Vec<&'static str> = self
                            .program
                            .schema_globals
                            .iter()
                            .filter_map(|g| self.program.global(*g).map(|d| d.name.as_str()))
                            .collect();
                        candidates.extend(schema_names);
                        self.errors.push(ResolveError::UnknownType {
                            name: other.to_string(),
                            span: name.span,
                            suggestions: similar(other, candidates),
                        });
                        Type::Any
                    }
                }
            }
        }
    }

    fn check(&mut self, c: &ast::Check) -> CheckDef {
        CheckDef {
            cond: self.expr(&c.cond),
            message: c.message.as_ref().map(|m| self.expr(m)),
            span: c.span,
        }
    }

    fn schema(&mut self, schema: &ast::Schema, src: &str) -> SchemaDef {
        let self_sym = (Sym::new("self"), schema.name.span);
        let parsed = self.program.module(self.module).map(|m| &m.parsed);
        let mut fields = Vec::new();
        for f in &schema.fields {
            let ty = self.ty(&f.ty);
            self.frames.push(vec![self_sym]);
            let default = f.default.as_ref().map(|d| Rc::new(self.expr(d)));
            self.frames.pop();
            self.frames
                .push(vec![self_sym, (Sym::new(&f.name.name), f.name.span)]);
            let checks = f.checks.iter().map(|c| self.check(c)).collect();
            self.frames.pop();
            fields.push(SchemaFieldDef {
                name: Sym::new(&f.name.name),
                optional: f.optional,
                ty,
                default,
                checks,
                span: f.span,
                name_span: f.name.span,
                doc: parsed.and_then(|p| p.doc_before(src, f.span.start)),
            });
        }
        self.frames.push(vec![self_sym]);
        let checks = schema.checks.iter().map(|c| self.check(c)).collect();
        self.frames.pop();
        SchemaDef {
            name: Sym::new(&schema.name.name),
            span: schema.name.span,
            fields,
            checks,
            doc: None,
        }
    }
}
