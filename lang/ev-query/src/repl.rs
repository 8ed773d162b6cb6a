//! The REPL's logic, with no terminal code: commands, evaluation, pretty
//! printing, completion candidates and multi-line detection over a loaded
//! program. The interactive front end (rustyline, in `ev-cli`) and the batch
//! mode are thin faces over [`Session`], like Nickel's REPL over its core.

use std::collections::BTreeSet;

use crate::docs::{describe_type, field_doc_full, one_line, schema_doc};
use ev_core::builtins::Builtin;
use ev_core::diagnostic::{render_human, Diagnostic, RenderOptions};
use ev_core::error::eval_diagnostics;
use ev_core::fs::FileSystem;
use ev_core::intern::Sym;
use ev_core::ir::ModuleId;
use ev_core::model::{Model, ModelResource};
use ev_core::output::{to_ev, to_json_marked, PrettyOptions};
use ev_core::program::{Binding, Program};
use ev_core::value::Value;
use ev_core::Evaluator;

/// Lists longer than this print folded, with a count of the rest.
const FOLD_LISTS: usize = 20;

/// The REPL's commands: name, arguments, what it does.
pub const COMMANDS: &[(&str, &str, &str)] = &[
    (":help", "", "this list"),
    (":ls", "[KIND]", "list resources (of one kind) as a table"),
    (":show", "NAME", "a resource with its source location"),
    (
        ":refs",
        "NAME [--all]",
        "what the resource references (transitively with --all)",
    ),
    (
        ":uses",
        "NAME [--all]",
        "what references the resource (transitively with --all)",
    ),
    (
        ":why",
        "EXPR",
        "where a value comes from: definitions and files, step by step",
    ),
    (
        ":impact",
        "NAME",
        "every resource and action that would change if NAME changed",
    ),
    (
        ":plan",
        "[TARGET]",
        "the plan for a target, as `ev plan` prints it",
    ),
    (
        ":type",
        "EXPR",
        "the type of a value (and the kind of a resource)",
    ),
    (
        ":doc",
        "NAME",
        "documentation of a kind, schema, field, resource or builtin",
    ),
    (
        ":reload",
        "",
        "re-read the files, keeping this session's bindings",
    ),
    (
        ":load",
        "FILE",
        "evaluate in FILE's scope (loading it and its imports)",
    ),
    (
        ":complete",
        "TEXT",
        "the completion candidates for TEXT (for scripts and editors)",
    ),
    (":quit", "", "leave (Ctrl-D too)"),
];

const KEYWORDS: &[&str] = &[
    "let", "in", "if", "then", "else", "fn", "true", "false", "null", "for",
];

/// How results are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// ev syntax and tables, for people.
    Human,
    /// JSON (values with `$unknown` / `$secret` markers).
    Json,
}

/// What one input produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reply {
    /// The text to print.
    pub text: String,
    /// The input failed (the text is an error).
    pub error: bool,
    /// The failure is a command's misuse or the environment (an unknown
    /// command, a missing argument, an unreadable state), not a diagnostic
    /// of the program: a script exits 2 for it, like the command line.
    pub refused: bool,
    /// The user asked to leave.
    pub quit: bool,
}

impl Reply {
    fn ok(text: impl Into<String>) -> Reply {
        let mut text = text.into();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        Reply {
            text,
            ..Reply::default()
        }
    }

    fn err(text: impl Into<String>) -> Reply {
        let mut text = text.into();
        if !text.ends_with('\n') {
            text.push('\n');
        }
        Reply {
            text,
            error: true,
            ..Reply::default()
        }
    }
}

/// A REPL session over one repository.
pub struct Session<'fs> {
    fs: &'fs dyn FileSystem,
    entry: String,
    program: Program,
    model: Option<Result<Model, String>>,
    bindings: Vec<(String, String)>,
    inputs: usize,
    /// Colour diagnostics.
    pub color: bool,
    /// Print diagnostics as JSON lines (`--message-format json`), not as
    /// reports for people.
    pub json_diagnostics: bool,
    /// How results print.
    pub format: Format,
    /// Set (from a signal handler) to stop the evaluation in progress.
    pub interrupt: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// The topology functions (`refs`, `uses`, ...) are bound.
    topology_bound: bool,
    /// How `:plan` reads the recorded state; `None`: the environment's
    /// local files through the session's file system.
    state_reader: Option<StateReader>,
}

/// Reads the recorded state of the environment a model was evaluated for
/// (named with `ev -e`, `None`: the default one), whose local folder is
/// the given one: the face that has the state backends (the CLI) hands
/// one to the session.
pub type StateReader = Box<
    dyn Fn(
        &Model,
        &ev_deploy::plan::state::EvDir,
        Option<&str>,
    ) -> Result<ev_deploy::plan::state::State, Box<Diagnostic>>,
>;

impl<'fs> Session<'fs> {
    /// Loads `entry` (parsing and resolving only: values are computed when
    /// asked for).
    pub fn new(fs: &'fs dyn FileSystem, entry: &str) -> Session<'fs> {
        Session {
            fs,
            entry: entry.to_string(),
            program: ev_core::load(fs, entry),
            model: None,
            bindings: Vec::new(),
            inputs: 0,
            color: false,
            json_diagnostics: false,
            format: Format::Human,
            interrupt: Default::default(),
            topology_bound: false,
            state_reader: None,
        }
    }

    /// Reads the state for `:plan` with `reader` (the environment's state
    /// backend) instead of the local files.
    pub fn read_state_with(&mut self, reader: StateReader) {
        self.state_reader = Some(reader);
    }

    /// Evaluates the program in the environment named with `ev -e` (none:
    /// its default one), for every input from now on; E0612 when the
    /// program declares no such environment.
    pub fn set_environment(&mut self, name: Option<String>) -> Result<(), Box<Diagnostic>> {
        ev_deploy::check_environment(&self.program, name.as_deref())?;
        self.program.environment = name;
        self.model = None;
        Ok(())
    }

    /// The program's syntax and resolve errors, rendered (empty when clean).
    pub fn load_errors(&self) -> String {
        self.render(&self.program.diagnostics)
    }

    /// A command refused with one diagnostic (see [`Reply::refused`]).
    fn refuse(&self, diagnostic: Diagnostic) -> Reply {
        Reply {
            refused: true,
            ..Reply::err(self.render(&[diagnostic]))
        }
    }

    /// A command used without what it needs (E0605).
    fn usage(&self, message: impl Into<String>, usage: &str) -> Reply {
        self.refuse(Diagnostic::general("E0605", message).with_help(format!("usage: {usage}")))
    }

    fn render(&self, diagnostics: &[Diagnostic]) -> String {
        if diagnostics.is_empty() {
            return String::new();
        }
        if self.json_diagnostics {
            return ev_core::diagnostic::render_json_lines(diagnostics, &self.program.sources);
        }
        render_human(
            diagnostics,
            &self.program.sources,
            RenderOptions { color: self.color },
        )
    }

    fn scope(&self) -> ModuleId {
        self.program.entry
    }

    fn model(&mut self) -> Result<&Model, String> {
        if self.model.is_none() {
            let built = {
                let ev = Evaluator::new(&self.program, self.fs);
                let (model, diagnostics) = ev_deploy::build_model(&self.program, &ev);
                if diagnostics.is_empty() {
                    Ok(model)
                } else {
                    Err(self.render(&diagnostics))
                }
            };
            self.model = Some(built);
        }
        match &self.model {
            Some(Ok(m)) => Ok(m),
            Some(Err(e)) => Err(e.clone()),
            None => Err("no model".into()),
        }
    }

    /// One line about the repository: resource counts and how to get help.
    pub fn banner(&mut self) -> String {
        let entry = self.entry.clone();
        match self.model() {
            Ok(m) => {
                let count = |kind: &str| m.of_kind(kind).count();
                let records: usize = m
                    .of_kind("domain")
                    .filter_map(|d| d.value.get("records")?.as_array().map(Vec::len))
                    .sum();
                let n = |count: usize, one: &str, many: &str| {
                    format!("{count} {}", if count == 1 { one } else { many })
                };
                format!(
                    "ev repl on {entry}: {}, {} ({}), {}, {}, {}. :help for commands, Ctrl-D to leave.\n",
                    n(count("machine"), "machine", "machines"),
                    n(count("domain"), "domain", "domains"),
                    n(records, "record", "records"),
                    n(count("image"), "image", "images"),
                    n(count("app"), "app", "apps"),
                    n(count("stack"), "stack", "stacks"),
                )
            }
            Err(_) => format!(
                "ev repl on {entry}: the program has errors (see :reload). :help for commands.\n"
            ),
        }
    }

    /// Whether `input` is unfinished (an open bracket or string): the front
    /// end then reads another line. Decided by parsing, not by counting.
    pub fn needs_more(&self, input: &str) -> bool {
        let text = input.trim();
        if text.is_empty() || text.starts_with(':') {
            return false;
        }
        let body = binding(text).map_or(text, |(_, expr)| expr);
        let (_, errors) = ev_syntax::parse_expr(body, ev_syntax::FileId(u32::MAX));
        let end = body.len() as u32;
        errors.iter().any(|e| {
            use ev_syntax::SyntaxErrorKind as K;
            match &e.kind {
                K::UnclosedDelimiter { .. } | K::UnterminatedString => true,
                K::Unexpected { found: None, .. } => e.span.end >= end,
                _ => false,
            }
        })
    }

    /// Runs one input: a command, a binding (`let x = ...`) or an expression.
    pub fn submit(&mut self, input: &str) -> Reply {
        let text = input.trim();
        if text.is_empty() {
            return Reply::default();
        }
        self.inputs += 1;
        self.interrupt
            .store(false, std::sync::atomic::Ordering::Relaxed);
        if let Some(command) = text.strip_prefix(':') {
            let (name, arg) = command
                .split_once(char::is_whitespace)
                .map_or((command, ""), |(n, a)| (n, a.trim()));
            return self.command(name, arg);
        }
        self.bind_topology();
        if let Some((name, expr)) = binding(text) {
            return self.bind(name, expr);
        }
        self.eval_print(text)
    }

    /// Binds the topology queries as functions, so they compose in
    /// expressions: `refs(NAME)` and `uses(NAME)` (what a resource
    /// references / what references it, as `kind.name` strings; `refs_all`
    /// and `uses_all` transitively), `resources(KIND)` (all of a kind) and
    /// `impact(NAME)` (the resource and everything depending on it). Names
    /// the program itself defines are left alone.
    fn bind_topology(&mut self) {
        if self.topology_bound {
            return;
        }
        self.topology_bound = true;
        let Ok(model) = self.model() else {
            return;
        };
        // The table is data: values built here, bound as one constant.
        let list = |keys: &[ev_core::model::ResourceKey]| {
            Value::List(keys.iter().map(|k| Value::str(&k.to_string())).collect())
        };
        let record = |fields: Vec<(&str, Value)>| {
            Value::Record(std::rc::Rc::new(ev_core::value::Record::new(
                fields
                    .into_iter()
                    .map(|(k, v)| (Sym::new(k), ev_core::value::Thunk::Ready(v)))
                    .collect(),
            )))
        };
        let mut rows: Vec<(String, Value)> = Vec::new();
        for r in &model.resources {
            let mut impact = vec![r.key.clone()];
            impact.extend(model.transitive(&r.key, true));
            rows.push((
                r.key.to_string(),
                record(vec![
                    ("uses", list(&r.uses)),
                    ("used_by", list(&r.used_by)),
                    ("uses_all", list(&model.transitive(&r.key, false))),
                    ("used_by_all", list(&model.transitive(&r.key, true))),
                    ("impact", list(&impact)),
                    ("kind", Value::str(&r.key.kind)),
                ]),
            ));
        }
        let table = Value::Record(std::rc::Rc::new(ev_core::value::Record::new(
            rows.into_iter()
                .map(|(k, v)| (Sym::new(&k), ev_core::value::Thunk::Ready(v)))
                .collect(),
        )));
        let functions = [
            ("refs", "uses"),
            ("uses", "used_by"),
            ("refs_all", "uses_all"),
            ("uses_all", "used_by_all"),
            ("impact", "impact"),
        ];
        let scope = self.scope();
        self.program
            .bind_value(scope, "__ev_topology", "<topology>", table);
        for (name, field) in functions {
            if self.lookup(name).is_none() {
                let _ = self.program.bind(
                    scope,
                    name,
                    "<topology>",
                    &format!("fn(name) => __ev_topology[name].{field}"),
                );
            }
        }
        if self.lookup("resources").is_none() {
            let _ = self.program.bind(
                scope,
                "resources",
                "<topology>",
                "fn(wanted) => [k for k, r in __ev_topology if r.kind == wanted]",
            );
        }
    }

    fn source_name(&self) -> String {
        format!("<repl:{}>", self.inputs)
    }

    fn bind(&mut self, name: &str, expr: &str) -> Reply {
        let source = self.source_name();
        match self.program.bind(self.scope(), name, &source, expr) {
            Ok(()) => {
                self.bindings.retain(|(n, _)| n != name);
                self.bindings.push((name.to_string(), expr.to_string()));
                Reply::ok("")
            }
            Err(diags) => Reply::err(self.render(&diags)),
        }
    }

    /// Evaluates an expression and renders the value.
    fn eval_print(&mut self, text: &str) -> Reply {
        let source = self.source_name();
        let node = match self.program.compile_expr(self.scope(), &source, text) {
            Ok(n) => n,
            Err(diags) => return Reply::err(self.render(&diags)),
        };
        let ev = Evaluator::new(&self.program, self.fs).with_interrupt(self.interrupt.clone());
        let shown = ev.eval(&node, &None).and_then(|v| match self.format {
            Format::Human => to_ev(
                &ev,
                &v,
                node.span,
                PrettyOptions {
                    fold_lists: Some(FOLD_LISTS),
                },
            ),
            Format::Json => to_json_marked(&ev, &v, node.span)
                .map(|j| serde_json::to_string_pretty(&j).unwrap_or_default()),
        });
        drop(ev);
        match shown {
            Ok(text) => Reply::ok(text),
            Err(e) => Reply::err(self.render(&eval_diagnostics(&e))),
        }
    }

    /// Evaluates an expression quietly (completion, `:type`, `:why`).
    fn value_of(&mut self, text: &str) -> Option<(Value, String)> {
        self.value_in(self.scope(), text)
    }

    /// Evaluates an expression quietly in `module`'s scope.
    fn value_in(&mut self, module: ModuleId, text: &str) -> Option<(Value, String)> {
        let node = self.program.compile_expr(module, "<query>", text).ok()?;
        let ev = Evaluator::new(&self.program, self.fs);
        let v = ev.eval(&node, &None).ok()?;
        let forced = match &v {
            Value::Record(_) | Value::List(_) => v.clone(),
            other => other.clone(),
        };
        let shown = to_ev(
            &ev,
            &forced,
            node.span,
            PrettyOptions {
                fold_lists: Some(3),
            },
        )
        .unwrap_or_default();
        Some((forced, shown))
    }

    fn command(&mut self, name: &str, arg: &str) -> Reply {
        match name {
            "help" | "h" | "?" => Reply::ok(help()),
            "quit" | "q" | "exit" => Reply {
                quit: true,
                ..Reply::default()
            },
            "ls" => self.ls(arg),
            "show" => self.with_resource(arg, |_, r| crate::query::detail(r)),
            "refs" | "uses" => {
                let all = arg.split_whitespace().any(|w| w == "--all");
                let target: String = arg
                    .split_whitespace()
                    .filter(|w| *w != "--all")
                    .collect::<Vec<_>>()
                    .join(" ");
                let reverse = name == "uses";
                self.with_resource(&target, |m, r| {
                    let list = if all {
                        m.transitive(&r.key, reverse)
                    } else if reverse {
                        r.used_by.clone()
                    } else {
                        r.uses.clone()
                    };
                    let what = if reverse { "used by" } else { "uses" };
                    format!(
                        "{}  ({}:{})\n{what}{}: {}",
                        r.key,
                        r.file,
                        r.line,
                        if all { " (all)" } else { "" },
                        crate::query::keys(&list)
                    )
                })
            }
            "impact" => self.impact(arg),
            "plan" => self.plan(arg),
            "type" => self.type_of(arg),
            "doc" => self.doc(arg),
            "why" => self.why(arg),
            "reload" => self.reload(None),
            "complete" => {
                // The raw text after `:complete ` (leading spaces matter not).
                let (start, candidates) = self.complete(arg, arg.len());
                Reply::ok(format!("{start}: {}", candidates.join(" ")))
            }
            "load" => {
                let path = arg.trim_matches('"');
                if path.is_empty() {
                    return self.usage("`:load` needs a file", ":load FILE");
                }
                self.reload(Some(path.to_string()))
            }
            other => {
                let names: Vec<&str> = COMMANDS.iter().map(|(n, _, _)| &n[1..]).collect();
                let hint = ev_core::suggest::similar(other, names.iter().copied());
                let help = match hint.first() {
                    Some(h) => format!("did you mean `:{h}`? (`:help` lists the commands)"),
                    None => "`:help` lists the commands".to_string(),
                };
                self.refuse(
                    Diagnostic::general("E0605", format!("unknown command `:{other}`"))
                        .with_help(help),
                )
            }
        }
    }

    fn with_resource(
        &mut self,
        target: &str,
        f: impl FnOnce(&Model, &ModelResource) -> String,
    ) -> Reply {
        let target = target.trim();
        if target.is_empty() {
            return self.usage(
                "name a resource",
                ":show RESOURCE, e.g. `:show machine.methanol`",
            );
        }
        let model = match self.model() {
            Ok(m) => m,
            Err(e) => return Reply::err(e),
        };
        match model.find(target) {
            Ok(r) => Reply::ok(f(model, r)),
            Err(candidates) => self.refuse(not_found(target, &candidates)),
        }
    }

    fn ls(&mut self, kind: &str) -> Reply {
        let kind = kind.trim();
        let model = match self.model() {
            Ok(m) => m,
            Err(e) => return Reply::err(e),
        };
        let selected: Vec<&ModelResource> = model
            .resources
            .iter()
            .filter(|r| kind.is_empty() || r.key.kind == kind)
            .collect();
        if selected.is_empty() && !kind.is_empty() {
            let kinds: BTreeSet<&str> = model
                .resources
                .iter()
                .map(|r| r.key.kind.as_str())
                .collect();
            let missing = not_found(
                kind,
                &ev_core::suggest::similar(kind, kinds.iter().copied()),
            );
            return self.refuse(missing);
        }
        Reply::ok(crate::query::tables(&selected))
    }

    fn impact(&mut self, target: &str) -> Reply {
        let fs = self.fs;
        let model = match self.model() {
            Ok(m) => m,
            Err(e) => return Reply::err(e),
        };
        let r = match model.find(target.trim()) {
            Ok(r) => r,
            Err(c) => return self.refuse(not_found(target.trim(), &c)),
        };
        let mut resources = vec![r.key.clone()];
        resources.extend(model.transitive(&r.key, true));
        let graph = ev_deploy::plan::lower(model, fs);
        // Actions realizing an impacted resource, then what waits for them.
        let mut actions: BTreeSet<String> = graph
            .ordered()
            .iter()
            .filter(|a| a.resources.iter().any(|k| resources.contains(k)))
            .map(|a| a.id.clone())
            .collect();
        loop {
            let more: Vec<String> = graph
                .ordered()
                .iter()
                .filter(|a| {
                    !actions.contains(&a.id) && a.depends_on.iter().any(|d| actions.contains(d))
                })
                .map(|a| a.id.clone())
                .collect();
            if more.is_empty() {
                break;
            }
            actions.extend(more);
        }
        let ordered: Vec<String> = graph
            .ordered()
            .iter()
            .filter(|a| actions.contains(&a.id))
            .map(|a| a.id.clone())
            .collect();
        Reply::ok(format!(
            "if {} changed:\nresources ({}): {}\nactions ({}): {}",
            r.key,
            resources.len(),
            crate::query::keys(&resources),
            ordered.len(),
            if ordered.is_empty() {
                "(none)".to_string()
            } else {
                ordered.join(", ")
            }
        ))
    }

    fn plan(&mut self, target: &str) -> Reply {
        let fs = self.fs;
        if let Err(e) = self.model() {
            return Reply::err(e);
        }
        let Some(Ok(model)) = &self.model else {
            return self.refuse(Diagnostic::general(
                ev_core::diagnostic::INTERNAL_ERROR,
                "the model is missing after it was built",
            ));
        };
        // The state of the environment the session evaluates.
        let ev_dir = match ev_deploy::environment_dir(model, self.program.environment.as_deref()) {
            Ok(dir) => dir,
            Err(d) => return self.refuse(*d),
        };
        let read = match &self.state_reader {
            Some(reader) => reader(model, &ev_dir, self.program.environment.as_deref()),
            None => ev_deploy::plan::state::State::load(self.fs, &ev_dir)
                .map(|(s, _)| s)
                .map_err(|e| Box::new(e.diagnostic())),
        };
        let mut state = match read {
            Ok(s) => s,
            Err(d) => return self.refuse(*d),
        };
        let (graph, mut plan) =
            match ev_deploy::plan::plan_refactored(&self.program, fs, model, &mut state) {
                Ok(planned) => planned,
                Err(refused) => {
                    return Reply {
                        refused: true,
                        ..Reply::err(self.render(&refused))
                    }
                }
            };
        let targets: Vec<String> = target.split_whitespace().map(str::to_string).collect();
        let pulled = match ev_deploy::plan::diff::target(&mut plan, &graph, &targets) {
            Ok(p) => p,
            Err(e) => return self.refuse(e.diagnostic()),
        };
        Reply::ok(ev_deploy::plan::diff::render_targeted(
            &plan,
            &targets,
            &pulled,
            ev_deploy::plan::diff::Detail::Compact,
        ))
    }

    fn type_of(&mut self, expr: &str) -> Reply {
        if expr.trim().is_empty() {
            return self.usage("`:type` needs an expression", ":type EXPR");
        }
        let source = self.source_name();
        let node = match self.program.compile_expr(self.scope(), &source, expr) {
            Ok(n) => n,
            Err(diags) => return Reply::err(self.render(&diags)),
        };
        let ev = Evaluator::new(&self.program, self.fs);
        let result = ev.eval(&node, &None);
        drop(ev);
        let v = match result {
            Ok(v) => v,
            Err(e) => return Reply::err(self.render(&eval_diagnostics(&e))),
        };
        let mut text = describe_type(&v);
        let trimmed = expr.trim();
        if let Ok(model) = self.model() {
            if let Ok(r) = model.find(trimmed) {
                if trimmed.contains('.') {
                    text.push_str(&format!(
                        " — {} `{}`, declared at {}:{}",
                        r.key.kind, r.key.name, r.file, r.line
                    ));
                }
            }
        }
        Reply::ok(text)
    }

    fn doc(&mut self, name: &str) -> Reply {
        let name = name.trim();
        if name.is_empty() {
            return self.usage(
                "`:doc` needs a name",
                ":doc NAME (a kind, schema, `kind.field`, resource or builtin)",
            );
        }
        if let Some(b) = Builtin::from_name(name) {
            return Reply::ok(b.doc().to_string());
        }
        let (head, field) = match name.split_once('.') {
            Some((h, f)) => (h, Some(f)),
            None => (name, None),
        };
        let mut field_hint = Vec::new();
        if let Some(schema) = self.schema_named(head) {
            match field {
                None => return Reply::ok(schema_doc(&schema)),
                Some(f) => match schema.fields.iter().find(|x| x.name.as_str() == f) {
                    Some(fd) => return Reply::ok(field_doc_full(fd, &self.program.sources)),
                    // Not a field: perhaps a resource (`machine.methanol`).
                    None => {
                        let fields: Vec<&str> =
                            schema.fields.iter().map(|x| x.name.as_str()).collect();
                        field_hint = ev_core::suggest::similar(f, fields.iter().copied())
                            .iter()
                            .map(|s| format!("{head}.{s}"))
                            .collect();
                    }
                },
            }
        }
        // A resource: its `##` documentation.
        if let Ok(model) = self.model() {
            if let Ok(r) = model.find(name) {
                return Reply::ok(format!(
                    "{}  ({}:{})\n{}",
                    r.key,
                    r.file,
                    r.line,
                    r.doc.clone().unwrap_or_else(|| "(no documentation)".into())
                ));
            }
        }
        // A global with `##` documentation.
        if let Some(Binding::Global(g)) = self.lookup(name) {
            if let Some(def) = self.program.global(g) {
                let (file, line) = self.location(def.span);
                return Reply::ok(format!(
                    "{name}  ({file}:{line})\n{}",
                    def.doc
                        .clone()
                        .unwrap_or_else(|| "(no documentation)".into())
                ));
            }
        }
        if !field_hint.is_empty() {
            return self.refuse(
                Diagnostic::general("E0606", format!("no field or resource `{name}`"))
                    .with_help(format!("did you mean {}?", field_hint.join(", "))),
            );
        }
        self.refuse(Diagnostic::general(
            "E0606",
            format!("no kind, schema, resource or builtin `{name}`"),
        ))
    }

    fn lookup(&self, name: &str) -> Option<Binding> {
        self.lookup_in(self.scope(), name)
    }

    fn lookup_in(&self, module: ModuleId, name: &str) -> Option<Binding> {
        let sym = Sym::new(name);
        self.program
            .module(module)
            .and_then(|m| m.scope.get(&sym).map(|(b, _)| *b))
            .or_else(|| self.program.prelude.get(&sym).copied())
    }

    /// The schema of a kind (`machine`) or a schema binding (`Machine`).
    fn schema_named(&self, name: &str) -> Option<std::rc::Rc<ev_core::schema::SchemaDef>> {
        let global = match self.lookup(name)? {
            Binding::Kind(k) => match &self.program.kind(k)?.schema {
                ev_core::schema::Type::Schema(g, _) => *g,
                _ => return None,
            },
            Binding::Global(g) => g,
            _ => return None,
        };
        let ev = Evaluator::new(&self.program, self.fs);
        let span = self.program.global(global)?.span;
        match ev.global(global, span) {
            Ok(Value::Schema(def)) => Some(def),
            _ => None,
        }
    }

    fn location(&self, span: ev_syntax::Span) -> (String, usize) {
        match self.program.sources.get(span.file) {
            Some(f) => (f.path.clone(), f.line_col(span.start).0 + 1),
            None => ("?".into(), 0),
        }
    }

    fn reload(&mut self, entry: Option<String>) -> Reply {
        if let Some(e) = entry {
            // Confined like every read: `/abs/path`, `../x` and links
            // leading out are refused, not merely "missing".
            let Ok(path) = ev_core::fs::normalize(&e) else {
                return self.refuse(
                    Diagnostic::general("E0208", format!("path `{e}` leaves the repository"))
                        .with_help("paths are relative to the repository root"),
                );
            };
            match self.fs.probe(&path) {
                Ok(true) => {}
                Ok(false) => {
                    return self.refuse(Diagnostic::general(
                        "E0202",
                        format!("cannot find `{path}` in the repository"),
                    ))
                }
                Err(err) => {
                    let code = match ev_core::fs::ReadFailure::of(&err) {
                        ev_core::fs::ReadFailure::Escapes { .. } => "E0208",
                        _ => "E0411",
                    };
                    return self.refuse(Diagnostic::general(
                        code,
                        format!("cannot load `{path}`: {err}"),
                    ));
                }
            }
            self.entry = path;
        }
        let environment = self.program.environment.take();
        self.program = ev_core::load(self.fs, &self.entry);
        self.program.environment = environment;
        self.model = None;
        self.topology_bound = false;
        let mut text = self.load_errors();
        for (name, expr) in self.bindings.clone() {
            if let Err(diags) = self.program.bind(self.scope(), &name, "<binding>", &expr) {
                text.push_str(&format!("binding `{name}` no longer compiles:\n"));
                text.push_str(&self.render(&diags));
            }
        }
        let error = !text.is_empty();
        text.push_str(&format!(
            "reloaded {} ({} files, {} session binding{})",
            self.entry,
            self.program.modules.iter().filter(|m| !m.is_stdlib).count(),
            self.bindings.len(),
            if self.bindings.len() == 1 { "" } else { "s" }
        ));
        let mut reply = Reply::ok(text);
        reply.error = error;
        reply
    }

    /// Completion candidates for `line` with the cursor at byte `pos`: the
    /// byte where the completed word starts, and the candidates for it.
    pub fn complete(&mut self, line: &str, pos: usize) -> (usize, Vec<String>) {
        self.bind_topology();
        let before = line.get(..pos).unwrap_or(line);
        if let Some(cmd) = before.strip_prefix(':') {
            match cmd.split_once(' ') {
                None => {
                    let c = COMMANDS
                        .iter()
                        .map(|(n, _, _)| n.to_string())
                        .filter(|n| n.starts_with(before))
                        .collect();
                    return (0, c);
                }
                Some((name, rest)) => {
                    let word_start =
                        before.len() - rest.len() + rest.rfind(' ').map_or(0, |i| i + 1);
                    let word = &before[word_start..];
                    let candidates: Vec<String> = match name {
                        "show" | "refs" | "uses" | "impact" | "plan" => self.resource_names(),
                        "ls" => self.kind_names(),
                        "doc" => {
                            let mut c = self.kind_names();
                            c.extend(Builtin::ALL.iter().map(|b| b.name().to_string()));
                            c
                        }
                        "why" | "type" => return self.complete_expr(before, pos),
                        _ => Vec::new(),
                    };
                    let mut c: Vec<String> = candidates
                        .into_iter()
                        .filter(|n| n.starts_with(word))
                        .collect();
                    c.sort();
                    c.dedup();
                    return (word_start, c);
                }
            }
        }
        self.complete_expr(before, pos)
    }

    fn complete_expr(&mut self, before: &str, pos: usize) -> (usize, Vec<String>) {
        let word_start = before
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | '"'))
            .last()
            .map_or(pos, |(i, _)| i);
        let word = &before[word_start..];
        if let Some((prefix, partial)) = split_last_dot(word) {
            let fields = match self.value_of(prefix) {
                Some((Value::Record(r), _)) => r
                    .fields()
                    .iter()
                    .map(|(k, _)| {
                        let k = k.as_str();
                        if ev_core::output::is_bare_key(k) && !k.contains('.') {
                            k.to_string()
                        } else {
                            ev_core::output::quote(k)
                        }
                    })
                    .collect::<Vec<_>>(),
                _ => Vec::new(),
            };
            let start = pos - partial.len();
            // `domain.yuto` completes to `domain."yuto.sh"`.
            let bare = partial.trim_start_matches('"');
            let mut c: Vec<String> = fields
                .into_iter()
                .filter(|f| f.starts_with(partial) || f.trim_start_matches('"').starts_with(bare))
                .collect();
            c.sort();
            return (start, c);
        }
        let mut names = self.program.visible_names(self.scope());
        names.extend(Builtin::ALL.iter().map(|b| b.name().to_string()));
        names.extend(KEYWORDS.iter().map(|k| k.to_string()));
        names.extend(self.bindings.iter().map(|(n, _)| n.clone()));
        let mut c: Vec<String> = names
            .into_iter()
            .filter(|n| n.starts_with(word) && !n.starts_with('<') && !n.starts_with("__"))
            .collect();
        c.sort();
        c.dedup();
        (word_start, c)
    }

    fn resource_names(&mut self) -> Vec<String> {
        match self.model() {
            Ok(m) => m.resources.iter().map(|r| r.key.to_string()).collect(),
            Err(_) => Vec::new(),
        }
    }

    fn kind_names(&self) -> Vec<String> {
        self.program
            .kinds
            .iter()
            .map(|k| k.name.as_str().to_string())
            .collect()
    }

    /// `:why EXPR`: the chain of definitions and files a value came from
    /// (see [`crate::trace`], shared with the editor's go-to-definition).
    fn why(&mut self, expr: &str) -> Reply {
        let expr = expr.trim();
        let scope = self.scope();
        let (parsed, errors) = ev_syntax::parse_expr(expr, ev_syntax::FileId(u32::MAX));
        let path = parsed
            .filter(|_| errors.is_empty())
            .and_then(|e| crate::trace::path_of(&self.program, scope, &e));
        let Some(path) = path else {
            return self.usage(
                "`:why` follows names and fields",
                ":why PATH, e.g. `:why stack.jupiter.outputs.ethane.ipAddress`",
            );
        };
        // A value that fails to evaluate has no chain: show why it fails.
        if self.value_in(scope, expr).is_none() {
            let failed = self.eval_print(expr);
            if failed.error {
                return failed;
            }
        }
        let ev = Evaluator::new(&self.program, self.fs);
        let trace = crate::trace::trace(&self.program, &ev, self.fs, path);
        let mut steps: Vec<String> = Vec::new();
        for step in &trace.steps {
            let shown = step
                .value
                .as_ref()
                .and_then(|v| {
                    to_ev(
                        &ev,
                        v,
                        step.expr,
                        PrettyOptions {
                            fold_lists: Some(3),
                        },
                    )
                    .ok()
                })
                .unwrap_or_else(|| "?".into());
            let (file, line) = self.location(step.expr);
            let src = self
                .program
                .sources
                .get(step.expr.file)
                .and_then(|f| f.text.get(step.expr.range()))
                .unwrap_or("");
            steps.push(format!(
                "{} = {}\n  ← {file}:{line}  {}",
                step.path,
                one_line(&shown),
                one_line(src)
            ));
        }
        drop(ev);
        if let Some(data) = &trace.data {
            steps.push(self.data_origin(data));
        }
        if steps.is_empty() {
            // Not written anywhere the program can show (a builtin's result).
            if let Some((_, shown)) = self.value_in(scope, expr) {
                steps.push(format!("{expr} = {}", one_line(&shown)));
            }
        }
        Reply::ok(steps.join("\n"))
    }

    /// The end of a `:why` chain in a data file: the file, the line of the
    /// key, and the action producing the file.
    fn data_origin(&mut self, data: &crate::trace::DataRead) -> String {
        let file = &data.file;
        let line = data.at.and_then(|(start, _)| {
            let text = self.fs.read(file).ok()?;
            Some(text.get(..start)?.lines().count().max(1))
        });
        let fs = self.fs;
        let producer = match self.model() {
            Ok(model) => {
                let graph = ev_deploy::plan::lower(model, fs);
                let action = graph
                    .ordered()
                    .into_iter()
                    .find(|a| a.produces.contains(file));
                let mut text = action
                    .map(|a| format!("  (written by `{}` on apply)", a.id))
                    .unwrap_or_default();
                // A stack's export: the Pulumi expression and the resource behind it.
                if let Some(ev_deploy::Artifact::Pulumi(stack)) = action.map(|a| &a.artifact) {
                    if let Some((expr, resource)) = stack.output_source(&data.keys) {
                        text.push_str(&format!(
                            "\n  ← stack `{}` exports `{}` = {expr} (resource `{resource}`)",
                            stack.name,
                            data.keys.join(".")
                        ));
                    }
                }
                text
            }
            Err(_) => String::new(),
        };
        match (self.fs.exists(file), line) {
            (true, line) => format!("  ← {file}:{}{producer}", line.unwrap_or(1)),
            (false, _) => format!("  ← {file} (not written yet: known after apply){producer}"),
        }
    }
}

/// `let NAME = EXPR` (a session binding), unless it is a `let … in …` expression.
fn binding(text: &str) -> Option<(&str, &str)> {
    let rest = text.strip_prefix("let ")?;
    let (name, expr) = rest.split_once('=')?;
    let name = name.trim();
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if !valid || expr.starts_with('=') {
        return None;
    }
    // `let a = 1 in a` and `let a = 1, b = 2 in …` are expressions.
    let (parsed, errors) = ev_syntax::parse_expr(text, ev_syntax::FileId(u32::MAX));
    if parsed.is_some() && errors.is_empty() {
        return None;
    }
    Some((name, expr.trim()))
}

fn split_last_dot(word: &str) -> Option<(&str, &str)> {
    // The last dot outside quotes.
    let mut in_quote = false;
    let mut last = None;
    for (i, c) in word.char_indices() {
        match c {
            '"' => in_quote = !in_quote,
            '.' if !in_quote => last = Some(i),
            _ => {}
        }
    }
    let i = last?;
    Some((&word[..i], &word[i + 1..]))
}

/// A resource or kind that is not declared (E0606), with close names.
pub fn not_found(query: &str, candidates: &[String]) -> Diagnostic {
    let d = Diagnostic::general("E0606", format!("no resource or kind `{query}`"));
    match candidates.first() {
        Some(_) => d.with_help(format!("did you mean {}?", candidates.join(", "))),
        None => d,
    }
}

fn help() -> String {
    let mut out = String::from("Type an ev expression to evaluate it in the scope of the entry file, or\n`let NAME = EXPR` to bind a name for this session. Commands:\n");
    let width = COMMANDS
        .iter()
        .map(|(n, a, _)| n.len() + a.len() + 1)
        .max()
        .unwrap_or(0);
    for (name, args, what) in COMMANDS {
        let usage = if args.is_empty() {
            name.to_string()
        } else {
            format!("{name} {args}")
        };
        out.push_str(&format!("  {usage:width$}  {what}\n"));
    }
    out.push_str("In expressions, refs(NAME), uses(NAME), refs_all(NAME), uses_all(NAME),\nimpact(NAME) and resources(KIND) give `kind.name` lists, e.g.\n  [r for r in uses(\"stack.jupiter\") if starts_with(r, \"domain.\")]\n");
    out.push_str("Tab completes names, fields, resources and commands; an open bracket or\nstring continues on the next line; Ctrl-C stops an evaluation or cancels the\nline, Ctrl-D leaves.\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bindings_are_told_from_let_expressions() {
        assert_eq!(binding("let x = 1 + 2"), Some(("x", "1 + 2")));
        assert_eq!(binding("let x = 1 in x"), None);
        assert_eq!(binding("let = 3"), None);
    }
}

#[cfg(test)]
mod robustness {
    use super::*;
    use ev_core::fs::MemFs;

    /// No input panics: every prefix of odd inputs is submitted, checked for
    /// continuation and completed at every character boundary.
    #[test]
    fn odd_inputs_never_panic() {
        let mut fs = MemFs::new();
        fs.insert(
            "everything.ev",
            "machine m { platform = \"x86_64-linux\", os = \"nixos\", activation = { method = \"profile\", profile = \"/p\" } }\nlet x = { \"a.b\" = [1, 2], c = \"é\" }\n",
        );
        let mut session = Session::new(&fs, "everything.ev");
        let inputs = [
            ":why x.\"a.b\"[1]",
            ":why x.\"a.b\"[9]",
            ":why é.ü",
            ":complete x.\"a.",
            ":complete :show m",
            ":doc Machine.activation.method",
            ":type [",
            ":load ../etc/passwd",
            ":plan nothing",
            ":impact machine.m",
            "let é = \"ü\"",
            "let = =",
            "let x = x",
            "x.c + \"${x.c}\"",
            "\"unterminated",
            "{ a = [1, (2 }",
            "machine.m.activation.",
            ":refs --all",
            ":ls \u{0}",
        ];
        for input in inputs {
            let boundaries: Vec<usize> = input
                .char_indices()
                .map(|(i, _)| i)
                .chain([input.len()])
                .collect();
            for &end in &boundaries {
                let prefix = &input[..end];
                let _ = session.needs_more(prefix);
                let _ = session.submit(prefix);
                for &pos in boundaries.iter().filter(|p| **p <= end) {
                    let (start, _) = session.complete(prefix, pos);
                    assert!(
                        start <= pos,
                        "completion starts after the cursor for {prefix:?} at {pos}"
                    );
                }
            }
        }
    }
}
