//! The evaluator: computes values from the resolved program.
//!
//! Top-level bindings, `let` bindings and record fields are lazy (evaluated
//! on first use, then cached), which lets definitions refer to each other in
//! any order across files; a value that needs itself is a cycle error.
//! Function arguments and list elements are evaluated eagerly. Values not
//! known until apply ([`Value::Unknown`]) flow through operations instead of
//! failing; secrets refuse to become text.

use std::cell::{Cell, OnceCell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use ev_syntax::ast::{BinaryOp, UnaryOp};
use ev_syntax::Span;

use crate::error::{EvalError, EvalErrorKind, SchemaError, SchemaErrorKind};
use crate::fs::FileSystem;
use crate::intern::Sym;
use crate::ir::*;
use crate::program::{Binding, Program};
use crate::schema::{SchemaDef, Type};
use crate::suggest::similar;
use crate::value::*;

/// Result of evaluation.
pub type EvalResult<T = Value> = Result<T, Box<EvalError>>;

/// Resource limits that turn runaway programs into diagnostics.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Maximum nesting of calls and lazy evaluations.
    pub max_depth: u32,
    /// Maximum evaluation steps.
    pub max_steps: u64,
    /// Longest wall time one evaluator may run (counted from its creation).
    /// None on the command line, where the step limit bounds the work; the
    /// language server sets it, so that no request can stall the editor.
    pub max_time: Option<std::time::Duration>,
}

impl Limits {
    /// The built-in limits: deep enough for any real description, and a
    /// step budget that a runaway program exhausts within seconds (the
    /// example repository takes well under 1% of it; `bench/limits.sh`
    /// measures both).
    pub const BUILT_IN: Limits = Limits {
        max_depth: 3_000,
        max_steps: 20_000_000,
        max_time: None,
    };

    /// Makes `limits` what [`Limits::default`] returns from now on in this
    /// process (the CLI's `--max-steps`); the first call wins.
    pub fn set_process_default(limits: Limits) {
        let _ = PROCESS_LIMITS.set(limits);
    }
}

static PROCESS_LIMITS: std::sync::OnceLock<Limits> = std::sync::OnceLock::new();

impl Default for Limits {
    fn default() -> Limits {
        PROCESS_LIMITS.get().copied().unwrap_or(Limits::BUILT_IN)
    }
}

/// The longest string evaluation builds (64 MiB).
pub const MAX_STRING_BYTES: usize = 64 << 20;
/// The longest list evaluation builds (a million items).
pub const MAX_LIST_ITEMS: usize = 1_000_000;

/// The size of a value being built, for [`Evaluator::grow`].
#[derive(Clone, Copy, Debug)]
pub(crate) enum Size {
    /// A string of this many bytes.
    Bytes(usize),
    /// A list of this many items.
    Items(usize),
}

impl Size {
    fn what(self) -> &'static str {
        match self {
            Size::Bytes(_) => "string",
            Size::Items(_) => "list",
        }
    }
}

/// The stack size evaluation needs for [`Limits::default`]; run evaluation on
/// a thread with at least this much stack (see [`run_with_stack`]).
pub const STACK_SIZE: usize = 1 << 30;

/// Runs `f` on a thread with [`STACK_SIZE`] of stack, so deep programs hit
/// the recursion limit (a diagnostic) instead of overflowing the stack.
pub fn run_with_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let handle = std::thread::Builder::new().stack_size(STACK_SIZE).spawn(f);
    match handle {
        Ok(h) => match h.join() {
            Ok(v) => v,
            Err(panic) => std::panic::resume_unwind(panic),
        },
        Err(e) => panic!("cannot start the evaluation thread: {e}"),
    }
}

/// A set of resources used by a value (sorted, deduplicated).
pub type UsedResources = Rc<[ResourceId]>;

enum ResourceState {
    Pending,
    Forcing,
    Done(Value),
    Failed(Box<EvalError>),
}

/// Evaluation state over one [`Program`].
pub struct Evaluator<'p> {
    /// The program.
    pub program: &'p Program,
    pub(crate) fs: &'p dyn FileSystem,
    globals: Vec<Vec<Thunk>>,
    resources: RefCell<Vec<ResourceState>>,
    collections: Vec<OnceCell<Value>>,
    exports: Vec<OnceCell<Value>>,
    pub(crate) data_cache: RefCell<HashMap<(String, &'static str), EvalResult>>,
    depth: Cell<u32>,
    /// The records and lists being walked by [`Evaluator::descend`].
    walking: RefCell<Vec<usize>>,
    steps: Cell<u64>,
    limits: Limits,
    /// Labels of the globals and resources being evaluated, outermost first.
    forcing: RefCell<Vec<(String, Span)>>,
    /// Reference tracking: the resources used by what is being evaluated,
    /// one set per resource or global under evaluation (innermost last).
    deps: RefCell<Vec<Vec<ResourceId>>>,
    /// Resources each global used (directly or through other globals).
    global_deps: RefCell<Vec<Vec<Option<UsedResources>>>>,
    /// Resources each resource used, once it has been evaluated.
    resource_deps: RefCell<Vec<Option<UsedResources>>>,
    name_sym: Sym,
    /// Set from another thread (the REPL's Ctrl-C) to stop evaluating.
    interrupt: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    /// When evaluation must stop ([`Limits::max_time`] after creation).
    deadline: Option<std::time::Instant>,
}

impl<'p> Evaluator<'p> {
    /// An evaluator reading data files through `fs`.
    pub fn new(program: &'p Program, fs: &'p dyn FileSystem) -> Evaluator<'p> {
        Evaluator::with_limits(program, fs, Limits::default())
    }

    /// An evaluator with explicit limits.
    pub fn with_limits(
        program: &'p Program,
        fs: &'p dyn FileSystem,
        limits: Limits,
    ) -> Evaluator<'p> {
        let globals = program
            .modules
            .iter()
            .map(|m| {
                m.globals
                    .iter()
                    .map(|g| match &g.node.ir {
                        Ir::Const(v) => Thunk::Ready(v.clone()),
                        _ => Thunk::lazy(g.node.clone(), None),
                    })
                    .collect()
            })
            .collect();
        Evaluator {
            program,
            fs,
            globals,
            resources: RefCell::new(
                program
                    .resources
                    .iter()
                    .map(|_| ResourceState::Pending)
                    .collect(),
            ),
            collections: program.kinds.iter().map(|_| OnceCell::new()).collect(),
            exports: program.modules.iter().map(|_| OnceCell::new()).collect(),
            data_cache: RefCell::new(HashMap::new()),
            depth: Cell::new(0),
            walking: RefCell::new(Vec::new()),
            steps: Cell::new(0),
            limits,
            forcing: RefCell::new(Vec::new()),
            deps: RefCell::new(Vec::new()),
            global_deps: RefCell::new(
                program
                    .modules
                    .iter()
                    .map(|m| vec![None; m.globals.len()])
                    .collect(),
            ),
            resource_deps: RefCell::new(vec![None; program.resources.len()]),
            name_sym: Sym::new("name"),
            interrupt: None,
            deadline: limits.max_time.map(|t| std::time::Instant::now() + t),
        }
    }

    /// Evaluation steps taken so far.
    pub fn steps(&self) -> u64 {
        self.steps.get()
    }

    /// The value of a top-level binding.
    pub fn global(&self, g: GlobalRef, use_span: Span) -> EvalResult {
        let Some(thunk) = self
            .globals
            .get(g.module.0 as usize)
            .and_then(|m| m.get(g.slot as usize))
        else {
            return Err(EvalError::new(EvalErrorKind::Poisoned, use_span));
        };
        match thunk {
            Thunk::Ready(v) => return Ok(v.clone()),
            Thunk::Lazy(cell) => {
                if let LazyState::Done(v) = &*cell.state.borrow() {
                    self.inherit_global_deps(g);
                    return Ok(v.clone());
                }
            }
            Thunk::Resource(_) => {}
        }
        let label = self
            .program
            .global(g)
            .map(|d| (format!("`{}`", d.name), d.span))
            .unwrap_or_else(|| ("?".into(), use_span));
        self.deps.borrow_mut().push(Vec::new());
        let result = self.force_labelled(thunk, label, use_span);
        let mut used = self.deps.borrow_mut().pop().unwrap_or_default();
        used.sort();
        used.dedup();
        if result.is_ok() && !used.is_empty() {
            if let Some(slot) = self
                .global_deps
                .borrow_mut()
                .get_mut(g.module.0 as usize)
                .and_then(|m| m.get_mut(g.slot as usize))
            {
                *slot = Some(Rc::from(used.clone()));
            }
        }
        if let Some(top) = self.deps.borrow_mut().last_mut() {
            top.extend(used);
        }
        result
    }

    /// Adds what an evaluated global used to the current reference set.
    fn inherit_global_deps(&self, g: GlobalRef) {
        let global_deps = self.global_deps.borrow();
        // Most globals use no resource at all: nothing to inherit.
        let Some(Some(used)) = global_deps
            .get(g.module.0 as usize)
            .and_then(|m| m.get(g.slot as usize))
        else {
            return;
        };
        if let Some(top) = self.deps.borrow_mut().last_mut() {
            top.extend(used.iter().copied());
        }
    }

    /// The resources a resource's value used (known once it was evaluated,
    /// e.g. by [`crate::check::check`]), without itself.
    pub fn resource_uses(&self, id: ResourceId) -> Option<UsedResources> {
        self.resource_deps
            .borrow()
            .get(id.0 as usize)
            .cloned()
            .flatten()
    }

    /// The exports of a module as a record.
    pub fn module_exports(&self, m: ModuleId) -> Value {
        let Some(cell) = self.exports.get(m.0 as usize) else {
            return Value::empty_record();
        };
        cell.get_or_init(|| {
            let fields = self
                .program
                .module(m)
                .map(|mi| {
                    mi.exports
                        .iter()
                        .map(|(sym, b)| (*sym, self.binding_thunk(*b, mi.file)))
                        .collect()
                })
                .unwrap_or_default();
            Value::Record(Rc::new(Record::new(fields)))
        })
        .clone()
    }

    fn binding_thunk(&self, b: Binding, file: ev_syntax::FileId) -> Thunk {
        let span = Span::new(file, 0, 0);
        if let Binding::Resource(r) = b {
            return Thunk::Resource(r);
        }
        let ir = match b {
            Binding::Global(g) => Ir::Global(g),
            Binding::Resource(r) => Ir::Resource(r),
            Binding::Kind(k) => Ir::KindCollection(k),
            Binding::Module(m) => Ir::ModuleExports(m),
            Binding::Builtin(bi) => Ir::Builtin(bi),
            Binding::Poisoned | Binding::Ambiguous => Ir::Poisoned,
        };
        Thunk::lazy(Rc::new(Node { ir, span }), None)
    }

    /// All resources of a kind, as a record keyed by resource name.
    pub fn kind_collection(&self, k: KindId) -> Value {
        let Some(cell) = self.collections.get(k.0 as usize) else {
            return Value::empty_record();
        };
        cell.get_or_init(|| {
            let fields = self
                .program
                .resources
                .iter()
                .enumerate()
                .filter(|(_, r)| r.kind == k)
                .map(|(i, r)| (Sym::new(&r.name), Thunk::Resource(ResourceId(i as u32))))
                .collect();
            Value::Record(Rc::new(Record::new(fields)))
        })
        .clone()
    }

    /// The checked value of a resource: its body conformed to its kind's schema.
    pub fn resource(&self, id: ResourceId, use_span: Span) -> EvalResult {
        let Some(def) = self.program.resource(id) else {
            return Err(EvalError::new(EvalErrorKind::Poisoned, use_span));
        };
        // The label is only needed for cycles, traces and the forcing stack:
        // build it lazily, not on every access of an evaluated resource.
        let label = || {
            let kind_name = self
                .program
                .kind(def.kind)
                .map(|k| k.name.to_string())
                .unwrap_or_default();
            (format!("{kind_name} `{}`", def.name), def.name_span)
        };
        if let Some(top) = self.deps.borrow_mut().last_mut() {
            top.push(id);
        }
        {
            let mut states = self.resources.borrow_mut();
            match states.get_mut(id.0 as usize) {
                Some(ResourceState::Done(v)) => return Ok(v.clone()),
                Some(ResourceState::Failed(e)) => return Err(e.clone()),
                Some(state @ ResourceState::Pending) => *state = ResourceState::Forcing,
                Some(ResourceState::Forcing) => {
                    drop(states);
                    return Err(self.cycle_error(&label(), use_span));
                }
                None => return Err(EvalError::new(EvalErrorKind::Poisoned, use_span)),
            }
        }
        let label = label();
        self.forcing.borrow_mut().push(label.clone());
        self.deps.borrow_mut().push(Vec::new());
        let result = self.check_resource(id);
        let mut used = self.deps.borrow_mut().pop().unwrap_or_default();
        self.forcing.borrow_mut().pop();
        used.sort();
        used.dedup();
        used.retain(|u| *u != id);
        if let Some(slot) = self.resource_deps.borrow_mut().get_mut(id.0 as usize) {
            *slot = Some(Rc::from(used));
        }
        let result = result.map_err(|mut e| {
            if !matches!(e.kind, EvalErrorKind::Cycle { .. }) {
                e.trace
                    .push((format!("while checking {}", label.0), label.1));
            }
            e
        });
        if let Some(state) = self.resources.borrow_mut().get_mut(id.0 as usize) {
            *state = match &result {
                Ok(v) => ResourceState::Done(v.clone()),
                Err(e) => ResourceState::Failed(e.clone()),
            };
        }
        result
    }

    fn check_resource(&self, id: ResourceId) -> EvalResult {
        let Some(def) = self.program.resource(id) else {
            return Err(EvalError::new(
                EvalErrorKind::Poisoned,
                Span::new(ev_syntax::FileId(0), 0, 0),
            ));
        };
        let body = self.eval(&def.body, &None)?;
        let Value::Record(rec) = body else {
            return Err(EvalError::new(
                EvalErrorKind::WrongType {
                    operation: "a resource body".into(),
                    expected: "a record".into(),
                    found: body.type_name().into(),
                },
                def.body.span,
            ));
        };
        let Some(kind) = self.program.kind(def.kind) else {
            return Ok(Value::Record(rec));
        };
        // The declared name fills a `name` field the body leaves out.
        let rec = match &kind.schema {
            Type::Schema(g, _) if rec.get(self.name_sym).is_none() => {
                let has_name = match self.global(*g, def.name_span)? {
                    Value::Schema(s) => s.field(self.name_sym).is_some(),
                    _ => false,
                };
                if has_name {
                    let mut fields = vec![(self.name_sym, Thunk::Ready(Value::str(&def.name)))];
                    fields.extend(rec.fields().iter().cloned());
                    let spans = rec.spans.as_ref().map(|s| {
                        let mut v = vec![(def.name_span, def.name_span)];
                        v.extend(s.fields.iter().copied());
                        Rc::new(SpanTable {
                            record: s.record,
                            fields: v.into_boxed_slice(),
                        })
                    });
                    Rc::new(Record::with_spans(fields, spans))
                } else {
                    rec
                }
            }
            _ => rec,
        };
        let mut errors = Vec::new();
        let value = self.conform(
            Value::Record(rec),
            &kind.schema,
            &FieldPath::Root,
            def.name_span,
            None,
            &mut errors,
        )?;
        if errors.is_empty() {
            Ok(value)
        } else {
            Err(EvalError::new(EvalErrorKind::Schema(errors), def.name_span))
        }
    }

    fn cycle_error(&self, label: &(String, Span), use_span: Span) -> Box<EvalError> {
        let stack = self.forcing.borrow();
        let start = stack.iter().position(|l| l == label).unwrap_or(0);
        let chain: Vec<(String, Span)> = stack.iter().skip(start).cloned().collect();
        EvalError::new(EvalErrorKind::Cycle { chain }, use_span)
    }

    /// Forces a thunk.
    pub fn force(&self, thunk: &Thunk, use_span: Span) -> EvalResult {
        match thunk {
            Thunk::Ready(v) => Ok(v.clone()),
            Thunk::Lazy(cell) => self.force_cell(cell, use_span, None),
            Thunk::Resource(id) => self.resource(*id, use_span),
        }
    }

    fn force_labelled(&self, thunk: &Thunk, label: (String, Span), use_span: Span) -> EvalResult {
        match thunk {
            Thunk::Ready(v) => Ok(v.clone()),
            Thunk::Lazy(cell) => self.force_cell(cell, use_span, Some(label)),
            Thunk::Resource(id) => self.resource(*id, use_span),
        }
    }

    fn force_cell(
        &self,
        cell: &Rc<LazyCell>,
        use_span: Span,
        label: Option<(String, Span)>,
    ) -> EvalResult {
        if let LazyState::Done(v) = &*cell.state.borrow() {
            return Ok(v.clone());
        }
        let state = std::mem::replace(&mut *cell.state.borrow_mut(), LazyState::Forcing);
        match state {
            LazyState::Done(v) => {
                *cell.state.borrow_mut() = LazyState::Done(v.clone());
                Ok(v)
            }
            LazyState::Forcing => {
                let label = label.unwrap_or_else(|| ("this value".into(), use_span));
                Err(self.cycle_error(&label, use_span))
            }
            LazyState::Pending { node, env } => {
                if let Some(l) = &label {
                    self.forcing.borrow_mut().push(l.clone());
                }
                let result = self.nested(use_span, || self.eval(&node, &env));
                if label.is_some() {
                    self.forcing.borrow_mut().pop();
                }
                match &result {
                    Ok(v) => *cell.state.borrow_mut() = LazyState::Done(v.clone()),
                    Err(_) => *cell.state.borrow_mut() = LazyState::Pending { node, env },
                }
                result
            }
        }
    }

    /// Runs `f`, a walk into `v`'s fields or items (writing it out,
    /// comparing, merging), counting it against the depth limit and
    /// refusing a record or list met again inside itself.
    pub(crate) fn descend<T>(
        &self,
        v: &Value,
        span: Span,
        f: impl FnOnce() -> EvalResult<T>,
    ) -> EvalResult<T> {
        let ptr = match v {
            Value::Record(r) => Rc::as_ptr(r) as *const () as usize,
            Value::List(l) => Rc::as_ptr(l) as *const () as usize,
            _ => return f(),
        };
        if self.walking.borrow().contains(&ptr) {
            return Err(EvalError::new(EvalErrorKind::ContainsItself, span));
        }
        self.walking.borrow_mut().push(ptr);
        let r = self.nested(span, f);
        self.walking.borrow_mut().pop();
        r
    }

    pub(crate) fn nested<T>(&self, span: Span, f: impl FnOnce() -> EvalResult<T>) -> EvalResult<T> {
        let depth = self.depth.get();
        if depth >= self.limits.max_depth {
            return Err(EvalError::new(
                EvalErrorKind::RecursionLimit(self.limits.max_depth),
                span,
            ));
        }
        self.depth.set(depth + 1);
        let r = f();
        self.depth.set(depth);
        r
    }

    fn thunk_of(&self, node: &Rc<Node>, env: &Env) -> EvalResult<Thunk> {
        Ok(match &node.ir {
            Ir::Const(v) => Thunk::Ready(v.clone()),
            Ir::Local { depth, index } => {
                lookup_local(env, *depth, *index).unwrap_or(Thunk::Ready(Value::Null))
            }
            Ir::Lambda(def) => Thunk::Ready(Value::Func(Rc::new(Func::Closure {
                def: def.clone(),
                env: env.clone(),
            }))),
            _ => Thunk::lazy(node.clone(), env.clone()),
        })
    }

    /// Counts one unit of work (a call or a loop iteration): every unbounded
    /// computation goes through one of those, so this bounds running time.
    #[inline]
    pub(crate) fn step(&self, span: Span) -> EvalResult<()> {
        self.charge(1, span)
    }

    /// Charges `n` units of work at once (building a large list).
    #[inline]
    pub(crate) fn charge(&self, n: u64, span: Span) -> EvalResult<()> {
        let before = self.steps.get();
        let steps = before.saturating_add(n);
        self.steps.set(steps);
        if steps > self.limits.max_steps {
            return Err(EvalError::new(
                EvalErrorKind::StepLimit(self.limits.max_steps),
                span,
            ));
        }
        // Every 65,536 steps, look whether someone asked to stop or the
        // time is up.
        if before >> 16 != steps >> 16 {
            if let Some(flag) = &self.interrupt {
                if flag.load(std::sync::atomic::Ordering::Relaxed) {
                    return Err(EvalError::new(EvalErrorKind::Interrupted, span));
                }
            }
            if let (Some(deadline), Some(limit)) = (self.deadline, self.limits.max_time) {
                if std::time::Instant::now() >= deadline {
                    return Err(EvalError::new(EvalErrorKind::TimeLimit(limit), span));
                }
            }
        }
        Ok(())
    }

    /// Accounts for building a string of `bytes` bytes or a list of
    /// `items` items: refuses one beyond the size limits (E0419) and
    /// charges steps in proportion, so that copying large values cannot
    /// outrun the step limit while memory fills up.
    pub(crate) fn grow(&self, size: Size, span: Span) -> EvalResult<()> {
        self.fits(size, span)?;
        let (n, per_step) = match size {
            Size::Bytes(n) => (n, 16),
            Size::Items(n) => (n, 1),
        };
        self.charge((n / per_step) as u64, span)
    }

    /// Refuses a value beyond the size limits (E0419), charging nothing:
    /// for checks while a value is being built (charged once, when done).
    pub(crate) fn fits(&self, size: Size, span: Span) -> EvalResult<()> {
        let (n, limit) = match size {
            Size::Bytes(n) => (n, MAX_STRING_BYTES),
            Size::Items(n) => (n, MAX_LIST_ITEMS),
        };
        if n > limit {
            return Err(EvalError::new(
                EvalErrorKind::SizeLimit {
                    what: size.what(),
                    size: n,
                    limit,
                },
                span,
            ));
        }
        Ok(())
    }

    /// Stops evaluating (with an "interrupted" error) once `flag` is set.
    pub fn with_interrupt(mut self, flag: std::sync::Arc<std::sync::atomic::AtomicBool>) -> Self {
        self.interrupt = Some(flag);
        self
    }

    /// Evaluates a node, handling constants and evaluated variables inline
    /// (most operands are one of those) before falling back to [`Self::eval`].
    #[inline(always)]
    fn eval_operand(&self, node: &Node, env: &Env) -> EvalResult {
        match &node.ir {
            Ir::Const(v) => Ok(v.clone()),
            Ir::Local { depth, index } => {
                let mut frame = env.as_ref();
                for _ in 0..*depth {
                    frame = frame.and_then(|f| f.parent.as_ref());
                }
                match frame.and_then(|f| f.slots.get(*index as usize)) {
                    Some(Thunk::Ready(v)) => Ok(v.clone()),
                    Some(t) => self.force(t, node.span),
                    None => Err(EvalError::new(EvalErrorKind::Poisoned, node.span)),
                }
            }
            _ => self.eval(node, env),
        }
    }

    /// Evaluates a node in an environment.
    pub fn eval(&self, node: &Node, env: &Env) -> EvalResult {
        let span = node.span;
        match &node.ir {
            Ir::Const(v) => Ok(v.clone()),
            Ir::Local { depth, index } => match lookup_local(env, *depth, *index) {
                Some(t) => self.force(&t, span),
                None => Err(EvalError::new(EvalErrorKind::Poisoned, span)),
            },
            Ir::Global(g) => self.global(*g, span),
            Ir::Resource(r) => self.resource(*r, span),
            Ir::KindCollection(k) => Ok(self.kind_collection(*k)),
            Ir::ModuleExports(m) => Ok(self.module_exports(*m)),
            Ir::Builtin(b) => Ok(Value::Func(Rc::new(Func::Builtin(*b)))),
            Ir::Interp(parts) => self.interp(parts, env),
            Ir::List(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    out.push(self.eval(item, env)?);
                }
                Ok(Value::List(Rc::from(out)))
            }
            Ir::ListComp { body, clauses } => self.list_comp(body, clauses, env),
            Ir::Record(lit) => self.record(lit, env),
            Ir::RecordComp {
                key,
                value,
                clauses,
            } => self.record_comp(key, value, clauses, env),
            Ir::Select {
                target,
                field,
                field_span,
            } => {
                let t = self.eval_operand(target, env)?;
                self.select(&t, *field, *field_span)
            }
            Ir::SelectDyn { target, key } => {
                let t = self.eval(target, env)?;
                let k = self.eval(key, env)?;
                if let Value::Unknown(u) = &k {
                    return Ok(Value::Unknown(u.clone()));
                }
                let k = self.key_string(&k, key.span, "a field name")?;
                self.select(&t, Sym::new(&k), span)
            }
            Ir::Index { target, index } => {
                let t = self.eval(target, env)?;
                let i = self.eval(index, env)?;
                self.index(&t, &i, span)
            }
            Ir::Or { target, default } => match self.eval_optional(target, env)? {
                Some(v) => Ok(v),
                None => self.eval(default, env),
            },
            Ir::Call { func, args, named } => self.eval_call(func, args, named, env, span),
            Ir::Lambda(def) => Ok(Value::Func(Rc::new(Func::Closure {
                def: def.clone(),
                env: env.clone(),
            }))),
            Ir::Let { value, body } => {
                let thunk = self.thunk_of(value, env)?;
                let frame = Some(Rc::new(Frame {
                    slots: smallvec::smallvec![thunk],
                    parent: env.clone(),
                }));
                self.eval(body, &frame)
            }
            Ir::If {
                cond,
                then,
                otherwise,
            } => match self.eval(cond, env)? {
                Value::Bool(true) => self.eval(then, env),
                Value::Bool(false) => self.eval(otherwise, env),
                Value::Unknown(u) => Ok(Value::Unknown(u)),
                other => Err(wrong_type("an `if` condition", "a Bool", &other, cond.span)),
            },
            Ir::Unary(op, operand) => {
                let v = self.eval(operand, env)?;
                match (op, v) {
                    (_, Value::Unknown(u)) => Ok(Value::Unknown(u)),
                    (UnaryOp::Neg, Value::Int(n)) => n
                        .checked_neg()
                        .map(Value::Int)
                        .ok_or_else(|| EvalError::new(EvalErrorKind::Overflow, span)),
                    (UnaryOp::Neg, Value::Float(n)) => Ok(Value::Float(-n)),
                    (UnaryOp::Not, Value::Bool(b)) => Ok(Value::Bool(!b)),
                    (UnaryOp::Neg, other) => {
                        Err(wrong_type("`-`", "a number", &other, operand.span))
                    }
                    (UnaryOp::Not, other) => Err(wrong_type("`!`", "a Bool", &other, operand.span)),
                }
            }
            Ir::Binary(op, l, r) => self.binary(*op, l, r, env, span),
            Ir::Poisoned => Err(EvalError::new(EvalErrorKind::Poisoned, span)),
        }
    }

    #[inline(never)]
    fn list_comp(&self, body: &Node, clauses: &[IrClause], env: &Env) -> EvalResult {
        let mut out = Vec::new();
        let span = body.span;
        let known = self.comprehension(clauses, env, &mut |ev, env| {
            ev.fits(Size::Items(out.len() + 1), span)?;
            out.push(ev.eval(body, env)?);
            Ok(())
        })?;
        match known {
            Ok(()) => Ok(Value::List(Rc::from(out))),
            Err(u) => Ok(Value::Unknown(u)),
        }
    }

    #[inline(never)]
    fn record_comp(
        &self,
        key: &Node,
        value: &Rc<Node>,
        clauses: &[IrClause],
        env: &Env,
    ) -> EvalResult {
        let mut builder = RecordBuilder::new();
        let known = self.comprehension(clauses, env, &mut |ev, env| {
            let k = ev.eval(key, env)?;
            let k = ev.key_string(&k, key.span, "a record comprehension key")?;
            let sym = Sym::new(&k);
            if builder.contains(sym) {
                return Err(EvalError::new(
                    EvalErrorKind::InvalidArgument {
                        function: "record comprehension".into(),
                        message: format!("the key `{k}` is produced twice"),
                    },
                    key.span,
                ));
            }
            builder.set(sym, ev.thunk_of(value, env)?);
            Ok(())
        })?;
        match known {
            Ok(()) => Ok(Value::Record(Rc::new(builder.build()))),
            Err(u) => Ok(Value::Unknown(u)),
        }
    }

    #[inline(never)]
    fn eval_call(
        &self,
        func: &Node,
        args: &[Node],
        named: &[(Sym, Span, Node)],
        env: &Env,
        span: Span,
    ) -> EvalResult {
        self.step(span)?;
        let f = self.eval_operand(func, env)?;
        let mut arg_values = Args::with_capacity(args.len());
        for a in args {
            arg_values.push(self.eval_operand(a, env)?);
        }
        let mut named_values = Vec::with_capacity(named.len());
        for (name, name_span, a) in named {
            named_values.push((*name, *name_span, self.eval(a, env)?));
        }
        // Checked here, where the arguments' spans are known; the names
        // for the message are only built when it fails (calls are hot).
        if let Some(max) = positional_limit(&f).filter(|max| args.len() > *max) {
            if let (Some(first), Some(last)) = (args.get(max), args.last()) {
                let (function, signature) = signature_of(&f);
                return Err(EvalError::new(
                    EvalErrorKind::TooManyArguments {
                        function,
                        signature,
                        max,
                        given: args.len(),
                    },
                    first.span.to(last.span),
                ));
            }
        }
        // A function from another file (a library helper like `a(...)`)
        // builds records whose spans point into that file; point them at
        // this call and its arguments instead, where the user wrote them.
        if let Value::Func(func_value) = &f {
            if let Func::Closure { def, .. } = &**func_value {
                if def.span.file != span.file {
                    let mut provenance: smallvec::SmallVec<[(Value, Span); 6]> = arg_values
                        .iter()
                        .cloned()
                        .zip(args.iter().map(|a| a.span))
                        .collect();
                    provenance.extend(
                        named_values
                            .iter()
                            .zip(named.iter())
                            .map(|((_, _, v), (_, _, node))| (v.clone(), node.span)),
                    );
                    let result = self.call(&f, arg_values, named_values, span)?;
                    return Ok(restamp(result, def.span.file, span, &provenance));
                }
            }
        }
        self.call(&f, arg_values, named_values, span)
    }

    /// Evaluates a field-access path, giving `None` when a field is missing
    /// (or an intermediate value is null) — the semantics of `or`.
    #[inline(never)]
    fn eval_optional(&self, node: &Node, env: &Env) -> EvalResult<Option<Value>> {
        let (target, key) = match &node.ir {
            Ir::Select { target, field, .. } => (target, Some(*field)),
            Ir::SelectDyn { target, .. } | Ir::Index { target, .. } => (target, None),
            _ => return self.eval(node, env).map(Some),
        };
        let Some(t) = self.eval_optional(target, env)? else {
            return Ok(None);
        };
        match (&t, key, &node.ir) {
            (Value::Null, _, _) => Ok(None),
            (Value::Unknown(u), _, _) => Ok(Some(Value::Unknown(u.clone()))),
            (Value::Record(rec), Some(field), _) => match rec.get(field) {
                Some(th) => self.force(th, node.span).map(Some),
                None => Ok(None),
            },
            (_, _, Ir::SelectDyn { key, .. }) => {
                let k = self.eval(key, env)?;
                let k = self.key_string(&k, key.span, "a field name")?;
                match &t {
                    Value::Record(rec) => match rec.get(Sym::new(&k)) {
                        Some(th) => self.force(th, node.span).map(Some),
                        None => Ok(None),
                    },
                    other => Err(wrong_type("field access", "a Record", other, target.span)),
                }
            }
            (_, _, Ir::Index { index, .. }) => {
                let i = self.eval(index, env)?;
                match (&t, &i) {
                    (Value::List(items), Value::Int(n)) => {
                        Ok(usize::try_from(*n).ok().and_then(|n| items.get(n)).cloned())
                    }
                    (Value::Record(rec), Value::Str(k)) => match rec.get(Sym::new(k)) {
                        Some(th) => self.force(th, node.span).map(Some),
                        None => Ok(None),
                    },
                    _ => self.index(&t, &i, node.span).map(Some),
                }
            }
            (other, _, _) => Err(wrong_type("field access", "a Record", other, target.span)),
        }
    }

    fn key_string(&self, v: &Value, span: Span, what: &str) -> EvalResult<String> {
        match v {
            Value::Str(s) => Ok(s.to_string()),
            Value::Secret(_) => Err(EvalError::new(EvalErrorKind::SecretInString, span)),
            Value::Unknown(u) => Err(EvalError::new(
                EvalErrorKind::UnknownNeeded {
                    operation: what.to_string(),
                    reason: u.reason.clone(),
                },
                span,
            )),
            other => Err(wrong_type(what, "a String", other, span)),
        }
    }

    /// `record.field`.
    pub fn select(&self, target: &Value, field: Sym, span: Span) -> EvalResult {
        match target {
            Value::Record(rec) => match rec.get(field) {
                Some(t) => self.force(t, span),
                None => Err(EvalError::new(
                    EvalErrorKind::NoSuchField {
                        field: field.to_string(),
                        suggestions: similar(
                            field.as_str(),
                            rec.fields().iter().map(|(k, _)| k.as_str()),
                        ),
                        available: available_fields(rec),
                    },
                    span,
                )),
            },
            Value::Unknown(u) => Ok(Value::Unknown(u.clone())),
            other => Err(wrong_type(
                &format!("accessing field `{field}`"),
                "a Record",
                other,
                span,
            )),
        }
    }

    fn index(&self, target: &Value, index: &Value, span: Span) -> EvalResult {
        match (target, index) {
            (Value::Unknown(u), _) | (_, Value::Unknown(u)) => Ok(Value::Unknown(u.clone())),
            (Value::List(items), Value::Int(n)) => usize::try_from(*n)
                .ok()
                .and_then(|i| items.get(i))
                .cloned()
                .ok_or_else(|| {
                    EvalError::new(
                        EvalErrorKind::IndexOutOfRange {
                            index: *n,
                            len: items.len(),
                        },
                        span,
                    )
                }),
            (Value::Record(_), Value::Str(k)) => self.select(target, Sym::new(k), span),
            (Value::List(_), other) => Err(wrong_type("list indexing", "an Int", other, span)),
            (Value::Record(_), other) => {
                Err(wrong_type("record indexing", "a String", other, span))
            }
            (other, _) => Err(wrong_type("indexing", "a List or Record", other, span)),
        }
    }

    #[inline(never)]
    fn interp(&self, parts: &[InterpPart], env: &Env) -> EvalResult {
        let capacity = parts
            .iter()
            .map(|p| match p {
                InterpPart::Text(t) => t.len(),
                InterpPart::Expr(_) => 12,
            })
            .sum();
        let mut out = String::with_capacity(capacity);
        for part in parts {
            match part {
                InterpPart::Text(t) => out.push_str(t),
                InterpPart::Expr(node) => {
                    let v = self.eval_operand(node, env)?;
                    match v {
                        Value::Str(s) => {
                            self.fits(Size::Bytes(out.len() + s.len()), node.span)?;
                            self.grow(Size::Bytes(s.len()), node.span)?;
                            out.push_str(&s)
                        }
                        Value::Int(n) => out.push_str(itoa::Buffer::new().format(n)),
                        Value::Float(n) => out.push_str(&format_float(n)),
                        Value::Bool(b) => out.push_str(if b { "true" } else { "false" }),
                        Value::Null => out.push_str("null"),
                        Value::Unknown(u) => return Ok(Value::Unknown(u)),
                        Value::Secret(_) => {
                            return Err(EvalError::new(EvalErrorKind::SecretInString, node.span))
                        }
                        other => {
                            return Err(wrong_type(
                                "string interpolation",
                                "a String, number, Bool or null",
                                &other,
                                node.span,
                            ))
                        }
                    }
                }
            }
        }
        Ok(Value::Str(Rc::from(out)))
    }

    #[inline(never)]
    fn record(&self, lit: &RecordLit, env: &Env) -> EvalResult {
        let all_static = lit.spans.is_some();
        if all_static {
            let mut fields = Vec::with_capacity(lit.fields.len());
            for f in &lit.fields {
                if let Some(KeyLit::Static(sym)) = f.path.first() {
                    fields.push((*sym, self.thunk_of(&f.value, env)?));
                }
            }
            return Ok(Value::Record(Rc::new(Record::with_spans(
                fields,
                lit.spans.clone(),
            ))));
        }
        let mut builder = RecordBuilder::new();
        for f in &lit.fields {
            let sym = match f.path.first() {
                Some(KeyLit::Static(sym)) => *sym,
                Some(KeyLit::Dynamic(node)) => {
                    let k = self.eval(node, env)?;
                    Sym::new(&self.key_string(&k, node.span, "a field name")?)
                }
                None => continue,
            };
            if builder.contains(sym) {
                return Err(EvalError::new(
                    EvalErrorKind::InvalidArgument {
                        function: "record".into(),
                        message: format!("the field `{sym}` is set twice"),
                    },
                    f.key_span,
                ));
            }
            builder.set(sym, self.thunk_of(&f.value, env)?);
        }
        Ok(Value::Record(Rc::new(builder.build())))
    }

    /// Runs the clauses of a comprehension, calling `emit` for each binding.
    /// Returns `Err(unknown)` (inside `Ok`) when an iterated value is unknown.
    #[allow(clippy::type_complexity)]
    fn comprehension(
        &self,
        clauses: &[IrClause],
        env: &Env,
        emit: &mut dyn FnMut(&Self, &Env) -> EvalResult<()>,
    ) -> EvalResult<Result<(), Rc<Unknown>>> {
        let Some((first, rest)) = clauses.split_first() else {
            emit(self, env)?;
            return Ok(Ok(()));
        };
        match first {
            IrClause::If(cond) => match self.eval(cond, env)? {
                Value::Bool(true) => self.comprehension(rest, env, emit),
                Value::Bool(false) => Ok(Ok(())),
                Value::Unknown(u) => Ok(Err(u)),
                other => Err(wrong_type("an `if` filter", "a Bool", &other, cond.span)),
            },
            IrClause::For { iter, vars } => {
                let v = self.eval(iter, env)?;
                match (&v, *vars) {
                    (Value::List(items), 1) => {
                        for item in items.iter() {
                            self.step(iter.span)?;
                            let frame = Some(Rc::new(Frame {
                                slots: smallvec::smallvec![Thunk::Ready(item.clone())],
                                parent: env.clone(),
                            }));
                            if let Err(u) = self.comprehension(rest, &frame, emit)? {
                                return Ok(Err(u));
                            }
                        }
                        Ok(Ok(()))
                    }
                    (Value::List(items), _) => {
                        for (i, item) in items.iter().enumerate() {
                            self.step(iter.span)?;
                            let frame = Some(Rc::new(Frame {
                                slots: smallvec::smallvec![
                                    Thunk::Ready(Value::Int(i as i64)),
                                    Thunk::Ready(item.clone()),
                                ],
                                parent: env.clone(),
                            }));
                            if let Err(u) = self.comprehension(rest, &frame, emit)? {
                                return Ok(Err(u));
                            }
                        }
                        Ok(Ok(()))
                    }
                    (Value::Record(rec), n) => {
                        for (k, t) in rec.fields() {
                            self.step(iter.span)?;
                            let slots: Slots = if n == 1 {
                                smallvec::smallvec![Thunk::Ready(Value::str(k.as_str()))]
                            } else {
                                smallvec::smallvec![Thunk::Ready(Value::str(k.as_str())), t.clone()]
                            };
                            let frame = Some(Rc::new(Frame {
                                slots,
                                parent: env.clone(),
                            }));
                            if let Err(u) = self.comprehension(rest, &frame, emit)? {
                                return Ok(Err(u));
                            }
                        }
                        Ok(Ok(()))
                    }
                    (Value::Unknown(u), _) => Ok(Err(u.clone())),
                    (other, _) => Err(wrong_type("`for`", "a List or Record", other, iter.span)),
                }
            }
        }
    }

    /// The body of the signature of a closure: `(name, value, ttl = ...)`.
    fn closure_signature(def: &LambdaDef) -> String {
        let params: Vec<String> = def
            .params
            .iter()
            .zip(&def.defaults)
            .map(|(p, d)| match d {
                Some(_) => format!("{p} = ..."),
                None => p.to_string(),
            })
            .collect();
        format!("({})", params.join(", "))
    }

    /// Calls a function value.
    pub fn call(
        &self,
        f: &Value,
        args: Args,
        named: Vec<(Sym, Span, Value)>,
        span: Span,
    ) -> EvalResult {
        match f {
            Value::Func(func) => match &**func {
                Func::Builtin(b) => crate::builtins::call(self, *b, args, named, span),
                Func::Closure { def, env } => self
                    .call_closure(def, env, args, named, span)
                    .map_err(|e| self.at_the_caller(e, def, span)),
            },
            Value::Unknown(u) => Ok(Value::Unknown(u.clone())),
            other => Err(EvalError::new(
                EvalErrorKind::NotCallable(other.type_name().into()),
                span,
            )),
        }
    }

    /// An `error(...)` a standard library function raises is the user's
    /// mistake at the call (a `by_env` without the environment's value):
    /// reported there, with the library's line as the second label, so
    /// the terminal and the editor show it in the user's file.
    fn at_the_caller(&self, mut e: Box<EvalError>, def: &LambdaDef, call: Span) -> Box<EvalError> {
        let in_stdlib = |s: Span| {
            self.program
                .modules
                .iter()
                .any(|m| m.is_stdlib && m.file == s.file)
        };
        if matches!(e.kind, EvalErrorKind::UserError(_)) && in_stdlib(e.span) && !in_stdlib(call) {
            let name = def
                .name
                .map_or("a standard library function".to_string(), |n| {
                    format!("`{n}`")
                });
            e.trace.insert(0, (format!("raised in {name}"), e.span));
            e.span = call;
        }
        e
    }

    fn call_closure(
        &self,
        def: &Rc<LambdaDef>,
        env: &Env,
        args: Args,
        named: Vec<(Sym, Span, Value)>,
        span: Span,
    ) -> EvalResult {
        let n = def.params.len();
        // Fast path: exactly the positional arguments the function declares.
        if named.is_empty() && args.len() == n {
            let frame = Some(Rc::new(Frame {
                slots: args.into_iter().map(Thunk::Ready).collect(),
                parent: env.clone(),
            }));
            return self.nested(span, || self.eval(&def.body, &frame));
        }
        let fname = || {
            def.name
                .map(|s| format!("`{s}`"))
                .unwrap_or_else(|| "this function".into())
        };
        if args.len() > n {
            return Err(EvalError::new(
                EvalErrorKind::BadArguments(format!(
                    "{} takes {n} argument{}, but {} were given",
                    fname(),
                    if n == 1 { "" } else { "s" },
                    args.len()
                )),
                span,
            ));
        }
        let mut slots: Vec<Option<Value>> = args.into_iter().map(Some).collect();
        slots.resize(n, None);
        for (name, name_span, value) in named {
            match def.params.iter().position(|p| *p == name) {
                Some(i) => {
                    if let Some(slot) = slots.get_mut(i) {
                        if slot.is_some() {
                            return Err(EvalError::new(
                                EvalErrorKind::BadArguments(format!(
                                    "argument `{name}` is given twice"
                                )),
                                name_span,
                            ));
                        }
                        *slot = Some(value);
                    }
                }
                None => {
                    let hint = similar(name.as_str(), def.params.iter().map(|p| p.as_str()));
                    let mut msg = format!("{} has no parameter `{name}`", fname());
                    if let Some(h) = hint.first() {
                        msg.push_str(&format!(" (did you mean `{h}`?)"));
                    }
                    return Err(EvalError::new(EvalErrorKind::BadArguments(msg), name_span));
                }
            }
        }
        let mut frame_slots: Slots = Slots::with_capacity(n);
        for (i, slot) in slots.into_iter().enumerate() {
            let value = match slot {
                Some(v) => v,
                None => match def.defaults.get(i).and_then(|d| d.as_ref()) {
                    Some(default) => {
                        let tmp = Some(Rc::new(Frame {
                            slots: frame_slots.clone(),
                            parent: env.clone(),
                        }));
                        // A default can call the function again: it counts
                        // against the depth limit like the body does.
                        self.nested(default.span, || self.eval(default, &tmp))?
                    }
                    None => {
                        let pname = def.params.get(i).map(|p| p.as_str()).unwrap_or("?");
                        return Err(EvalError::new(
                            EvalErrorKind::BadArguments(format!(
                                "{} is missing argument `{pname}`",
                                fname()
                            )),
                            span,
                        ));
                    }
                },
            };
            frame_slots.push(Thunk::Ready(value));
        }
        let frame = Some(Rc::new(Frame {
            slots: frame_slots,
            parent: env.clone(),
        }));
        self.nested(span, || self.eval(&def.body, &frame))
    }

    #[inline(never)]
    fn binary(&self, op: BinaryOp, l: &Node, r: &Node, env: &Env, span: Span) -> EvalResult {
        // Short-circuit operators first.
        if matches!(op, BinaryOp::And | BinaryOp::Or) {
            let lv = self.eval(l, env)?;
            return match (op, lv) {
                (BinaryOp::And, Value::Bool(false)) => Ok(Value::Bool(false)),
                (BinaryOp::Or, Value::Bool(true)) => Ok(Value::Bool(true)),
                (_, Value::Bool(_)) => match self.eval(r, env)? {
                    Value::Bool(b) => Ok(Value::Bool(b)),
                    Value::Unknown(u) => Ok(Value::Unknown(u)),
                    other => Err(wrong_type(
                        &format!("`{}`", op.as_str()),
                        "a Bool",
                        &other,
                        r.span,
                    )),
                },
                (_, Value::Unknown(u)) => Ok(Value::Unknown(u)),
                (_, other) => Err(wrong_type(
                    &format!("`{}`", op.as_str()),
                    "a Bool",
                    &other,
                    l.span,
                )),
            };
        }
        let lv = self.eval_operand(l, env)?;
        let rv = self.eval_operand(r, env)?;
        // Fast path: integer arithmetic and comparison (no error possible here;
        // overflow and division by zero fall through to the general path).
        if let (Value::Int(a), Value::Int(b)) = (&lv, &rv) {
            if let Some(v) = int_op(op, *a, *b) {
                return Ok(v);
            }
        }
        if let (Value::Str(a), Value::Str(b), BinaryOp::Eq | BinaryOp::NotEq) = (&lv, &rv, op) {
            let eq = Rc::ptr_eq(a, b) || a == b;
            return Ok(Value::Bool(eq == matches!(op, BinaryOp::Eq)));
        }
        binary_values(self, op, lv, rv, span, l.span, r.span)
    }

    /// Structural equality (forces records); `Err(unknown)` when it
    /// depends on a value not known yet (the first one met).
    pub fn equal(
        &self,
        a: &Value,
        b: &Value,
        span: Span,
    ) -> EvalResult<Result<bool, Rc<crate::value::Unknown>>> {
        self.descend(a, span, || {
            Ok(Ok(match (a, b) {
                (Value::Unknown(u), _) | (_, Value::Unknown(u)) => return Ok(Err(u.clone())),
                (Value::Null, Value::Null) => true,
                (Value::Bool(x), Value::Bool(y)) => x == y,
                (Value::Int(x), Value::Int(y)) => x == y,
                (Value::Float(x), Value::Float(y)) => x == y,
                (Value::Int(x), Value::Float(y)) | (Value::Float(y), Value::Int(x)) => {
                    (*x as f64) == *y
                }
                (Value::Str(x), Value::Str(y)) => x == y,
                (Value::Secret(x), Value::Secret(y)) => x == y,
                (Value::List(x), Value::List(y)) => {
                    if x.len() != y.len() {
                        return Ok(Ok(false));
                    }
                    for (a, b) in x.iter().zip(y.iter()) {
                        match self.equal(a, b, span)? {
                            Ok(true) => {}
                            other => return Ok(other),
                        }
                    }
                    true
                }
                (Value::Record(x), Value::Record(y)) => {
                    if x.len() != y.len() {
                        return Ok(Ok(false));
                    }
                    for (k, t) in x.fields() {
                        let Some(u) = y.get(*k) else {
                            return Ok(Ok(false));
                        };
                        let a = self.force(t, span)?;
                        let b = self.force(u, span)?;
                        match self.equal(&a, &b, span)? {
                            Ok(true) => {}
                            other => return Ok(other),
                        }
                    }
                    true
                }
                (Value::Func(x), Value::Func(y)) => Rc::ptr_eq(x, y),
                (Value::Schema(x), Value::Schema(y)) => Rc::ptr_eq(x, y),
                _ => false,
            }))
        })
    }

    /// Deep merge: records merge recursively, anything else is replaced.
    pub fn deep_merge(&self, a: &Rc<Record>, b: &Rc<Record>, span: Span) -> EvalResult<Value> {
        self.descend(&Value::Record(b.clone()), span, || {
            let mut builder = RecordBuilder::new();
            builder.extend_from(a);
            for (i, (k, t)) in b.fields().iter().enumerate() {
                let spans = b.spans.as_ref().and_then(|s| s.fields.get(i).copied());
                let merged = match builder.get(*k) {
                    Some(existing) => {
                        let left = self.force(existing, span)?;
                        let right = self.force(t, span)?;
                        match (&left, &right) {
                            (Value::Record(x), Value::Record(y)) => {
                                Thunk::Ready(self.deep_merge(x, y, span)?)
                            }
                            _ => Thunk::Ready(right),
                        }
                    }
                    None => t.clone(),
                };
                builder.set_spanned(*k, merged, spans);
            }
            if let Some(span) = b.span() {
                builder.extend_record_span(span);
            }
            Ok(Value::Record(Rc::new(builder.build())))
        })
    }

    /// Checks `value` against `ty`, filling schema defaults. Violations are
    /// pushed to `errors` (all of them, not just the first); evaluation
    /// errors met on the way are returned.
    fn conform(
        &self,
        value: Value,
        ty: &Type,
        path: &FieldPath<'_>,
        span: Span,
        decl: Option<Span>,
        errors: &mut Vec<SchemaError>,
    ) -> EvalResult {
        let mismatch = |errors: &mut Vec<SchemaError>, v: &Value| {
            errors.push(SchemaError {
                kind: SchemaErrorKind::TypeMismatch {
                    path: path.display(),
                    expected: ty.shape(),
                    found: v.type_name().to_string(),
                    hint: self.mismatch_hint(ty, v, span),
                },
                span,
                schema_span: decl,
            });
        };
        match (ty, &value) {
            (_, Value::Unknown(u)) => {
                if !ty.admits_unknown() {
                    errors.push(SchemaError {
                        kind: SchemaErrorKind::NotKnown {
                            path: path.display(),
                            expected: ty.shape(),
                            reason: match &u.file {
                                Some(f) if !u.reason.contains(f.as_str()) => {
                                    format!("{} (it waits for {f})", u.reason)
                                }
                                _ => u.reason.to_string(),
                            },
                        },
                        span,
                        schema_span: decl,
                    });
                }
                Ok(value)
            }
            (Type::Any, _) => Ok(value),
            (Type::Data, _) => {
                self.plain_data(&value, path, span, decl, errors)?;
                Ok(value)
            }
            (Type::Null, Value::Null)
            | (Type::Bool, Value::Bool(_))
            | (Type::Int, Value::Int(_))
            | (Type::Float, Value::Float(_))
            | (Type::String, Value::Str(_))
            | (Type::Secret, Value::Secret(_))
            | (Type::Function, Value::Func(_))
            | (Type::Record, Value::Record(_)) => Ok(value),
            (Type::Float, Value::Int(n)) => Ok(Value::Float(*n as f64)),
            (Type::Name, Value::Str(s)) => {
                if let Some(reason) = crate::schema::name_problem(s) {
                    errors.push(SchemaError {
                        kind: SchemaErrorKind::UnsafeName {
                            path: path.display(),
                            value: s.to_string(),
                            reason,
                        },
                        span,
                        schema_span: decl,
                    });
                }
                Ok(value)
            }
            (Type::Literal(expected), Value::Str(s)) if expected == s => Ok(value),
            (Type::Literal(_), _) => {
                self.not_allowed(ty, &value, path, span, decl, errors);
                Ok(value)
            }
            (Type::List(inner), Value::List(items)) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    out.push(self.conform(
                        item.clone(),
                        inner,
                        &FieldPath::Index(path, i),
                        span,
                        decl,
                        errors,
                    )?);
                }
                Ok(Value::List(Rc::from(out)))
            }
            (Type::Map(inner), Value::Record(rec)) => {
                let mut fields = Vec::with_capacity(rec.len());
                for (k, t) in rec.fields() {
                    let v = self.force(t, span)?;
                    let at = rec.value_span(*k).unwrap_or(span);
                    let v =
                        self.conform(v, inner, &FieldPath::Field(path, *k), at, decl, errors)?;
                    fields.push((*k, Thunk::Ready(v)));
                }
                Ok(Value::Record(Rc::new(Record::with_spans(
                    fields,
                    rec.spans.clone(),
                ))))
            }
            (Type::Union(alts), _) => {
                if ty.literals().is_some() {
                    if let Value::Str(s) = &value {
                        if alts.iter().any(|a| matches!(a, Type::Literal(l) if l == s)) {
                            return Ok(value);
                        }
                    }
                    self.not_allowed(ty, &value, path, span, decl, errors);
                    return Ok(value);
                }
                // The first alternative that accepts the value wins; if none
                // does, report the alternative with the fewest problems when
                // it is the only one matching the value's shape.
                let mut best: Option<Vec<SchemaError>> = None;
                // Rendered once, and only if an alternative fails.
                let mut here: Option<String> = None;
                for alt in alts {
                    let mut scratch = Vec::new();
                    let v = self.conform(value.clone(), alt, path, span, decl, &mut scratch)?;
                    if scratch.is_empty() {
                        return Ok(v);
                    }
                    let here = here.get_or_insert_with(|| path.display());
                    let shape_matches = !scratch.iter().any(|e| {
                        matches!(&e.kind, SchemaErrorKind::TypeMismatch { path: p, .. } if p == here)
                    });
                    if shape_matches && best.as_ref().is_none_or(|b| scratch.len() < b.len()) {
                        best = Some(scratch);
                    }
                }
                match best {
                    Some(errs) => errors.extend(errs),
                    None => mismatch(errors, &value),
                }
                Ok(value)
            }
            (Type::Ref(kind, kind_name), Value::Str(name)) => {
                match self.program.resource_named(*kind, name) {
                    Some(id) => {
                        // Referring to a resource is using it.
                        if let Some(top) = self.deps.borrow_mut().last_mut() {
                            top.push(id);
                        }
                    }
                    None => {
                        let names = self
                            .program
                            .resources
                            .iter()
                            .filter(|r| r.kind == *kind)
                            .map(|r| r.name.as_str());
                        errors.push(SchemaError {
                            kind: SchemaErrorKind::UnknownResource {
                                path: path.display(),
                                kind: kind_name.to_string(),
                                name: name.to_string(),
                                suggestions: similar(name, names),
                            },
                            span,
                            schema_span: decl,
                        });
                    }
                }
                Ok(value)
            }
            (Type::Schema(g, _), Value::Record(rec)) => {
                let schema = match self.global(*g, span)? {
                    Value::Schema(s) => s,
                    _ => return Ok(value),
                };
                self.conform_record(rec, &schema, path, span, errors)
            }
            _ => {
                mismatch(errors, &value);
                Ok(value)
            }
        }
    }

    /// The first line of `span`: a check shown beside a diagnostic is
    /// pointed at by its first line, not printed whole (stdlib checks
    /// span dozens of lines).
    fn first_line(&self, span: Span) -> Span {
        let text = self
            .program
            .sources
            .get(span.file)
            .and_then(|f| f.text.get(span.range()));
        match text.and_then(|t| t.find('\n')) {
            Some(n) => Span::new(span.file, span.start as usize, span.start as usize + n),
            None => span,
        }
    }

    /// What a value of the wrong type probably meant: a resource where a
    /// `Ref` wants its name (`cluster = cluster.prod`), an image where a
    /// string wants its pinned reference (`image = image.site`).
    fn mismatch_hint(&self, ty: &Type, value: &Value, span: Span) -> Option<String> {
        let Value::Record(rec) = value else {
            return None;
        };
        let field = |name: &str| match rec.get(Sym::new(name)) {
            Some(Thunk::Ready(v)) => Some(v.clone()),
            _ => None,
        };
        if let Type::Ref(kind, kind_name) = ty {
            let Some(Value::Str(name)) = field("name") else {
                return None;
            };
            let declared = self
                .program
                .resources
                .iter()
                .any(|r| r.kind == *kind && *r.name == *name);
            return declared.then(|| {
                format!(
                    "a `Ref({kind_name})` field takes the resource's name: write {}",
                    crate::output::quote(&name)
                )
            });
        }
        let wants_text = matches!(ty, Type::String)
            || matches!(ty, Type::Union(alts) if alts.iter().any(|a| matches!(a, Type::String)));
        if wants_text && rec.get(Sym::new("pinned")).is_some() {
            let written = self
                .program
                .sources
                .get(span.file)
                .and_then(|f| f.text.get(span.range()))
                .filter(|t| t.len() <= 80 && !t.contains('\n'));
            return Some(match written {
                Some(text) => format!("did you mean `{text}.pinned` (the image pinned by digest)?"),
                None => "did you mean its `pinned` field (the image pinned by digest)?".into(),
            });
        }
        None
    }

    /// Checks that `value` is plain data ([`Type::Data`]): walks it with an
    /// explicit stack (values may nest deeply), reporting each secret and
    /// function with its path.
    fn plain_data(
        &self,
        value: &Value,
        path: &FieldPath<'_>,
        span: Span,
        decl: Option<Span>,
        errors: &mut Vec<SchemaError>,
    ) -> EvalResult<()> {
        let mut todo: Vec<(Value, String, Span)> = vec![(value.clone(), path.render(), span)];
        while let Some((v, at_path, at)) = todo.pop() {
            match &v {
                Value::Secret(_) => errors.push(SchemaError {
                    kind: SchemaErrorKind::SecretInData {
                        path: display_path(&at_path),
                    },
                    span: at,
                    schema_span: decl,
                }),
                Value::Func(_) | Value::Schema(_) => errors.push(SchemaError {
                    kind: SchemaErrorKind::TypeMismatch {
                        path: display_path(&at_path),
                        expected: "Data".into(),
                        found: v.type_name().to_string(),
                        hint: None,
                    },
                    span: at,
                    schema_span: decl,
                }),
                Value::List(items) => {
                    for (i, item) in items.iter().enumerate().rev() {
                        todo.push((item.clone(), format!("{at_path}[{i}]"), at));
                    }
                }
                Value::Record(rec) => {
                    for (k, t) in rec.fields().iter().rev() {
                        let item_at = rec.value_span(*k).unwrap_or(at);
                        let item = self.force(t, item_at)?;
                        todo.push((item, join_path(&at_path, k.as_str()), item_at));
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn not_allowed(
        &self,
        ty: &Type,
        value: &Value,
        path: &FieldPath<'_>,
        span: Span,
        decl: Option<Span>,
        errors: &mut Vec<SchemaError>,
    ) {
        let allowed: Vec<String> = ty
            .literals()
            .unwrap_or_default()
            .iter()
            .map(|s| s.to_string())
            .collect();
        let kind = match value {
            Value::Str(s) => SchemaErrorKind::NotAllowed {
                path: path.display(),
                value: s.to_string(),
                suggestions: similar(s, allowed.iter().map(|a| a.as_str())),
                allowed,
            },
            other => SchemaErrorKind::TypeMismatch {
                path: path.display(),
                expected: ty.to_string(),
                found: other.type_name().to_string(),
                hint: None,
            },
        };
        errors.push(SchemaError {
            kind,
            span,
            schema_span: decl,
        });
    }

    fn conform_record(
        &self,
        rec: &Rc<Record>,
        schema: &Rc<SchemaDef>,
        path: &FieldPath<'_>,
        span: Span,
        errors: &mut Vec<SchemaError>,
    ) -> EvalResult {
        let errors_at_start = errors.len();
        for (k, _) in rec.fields() {
            if schema.field(*k).is_none() {
                errors.push(SchemaError {
                    kind: SchemaErrorKind::UnknownField {
                        field: k.to_string(),
                        schema: schema.name.to_string(),
                        suggestions: similar(
                            k.as_str(),
                            schema.fields.iter().map(|f| f.name.as_str()),
                        ),
                    },
                    span: rec.key_span(*k).unwrap_or(span),
                    schema_span: Some(schema.span),
                });
            }
        }
        let mut fields: Vec<(Sym, Thunk)> = Vec::with_capacity(schema.fields.len());
        let mut spans: Vec<(Span, Span)> = Vec::with_capacity(schema.fields.len());
        // A default computed from `self` could read a required field that
        // is missing (declared later, or read through a helper) and report
        // that symptom inside the schema instead of the missing field.
        let missing_required = schema
            .fields
            .iter()
            .any(|f| !f.optional && f.default.is_none() && rec.get(f.name).is_none());
        for field in &schema.fields {
            let fpath = FieldPath::Field(path, field.name);
            let errors_before = errors.len();
            // The field's value and where it comes from (the user's value,
            // or the schema's default).
            let (v, at) = match rec.get(field.name) {
                Some(t) => {
                    let at = rec.value_span(field.name).unwrap_or(span);
                    let v = self.force(t, at)?;
                    let v = if matches!(v, Value::Null) && field.optional {
                        v
                    } else {
                        self.conform(v, &field.ty, &fpath, at, Some(field.name_span), errors)?
                    };
                    spans.push((rec.key_span(field.name).unwrap_or(span), at));
                    (v, at)
                }
                None => match &field.default {
                    // A default computed from an ill-formed record would
                    // report its symptom (an unreadable path, a missing
                    // field of `self`) instead of the cause already found.
                    Some(_) if missing_required || errors.len() > errors_at_start => continue,
                    Some(default) => {
                        let self_rec = Value::Record(Rc::new(Record::new(fields.clone())));
                        let env = Some(Rc::new(Frame {
                            slots: smallvec::smallvec![Thunk::Ready(self_rec)],
                            parent: None,
                        }));
                        let v = self.eval(default, &env)?;
                        let v = self.conform(
                            v,
                            &field.ty,
                            &fpath,
                            default.span,
                            Some(field.span),
                            errors,
                        )?;
                        spans.push((field.span, default.span));
                        (v, default.span)
                    }
                    None if field.optional => continue,
                    None => {
                        errors.push(SchemaError {
                            kind: SchemaErrorKind::MissingField {
                                field: field.name.to_string(),
                                ty: field.ty.to_string(),
                                schema: schema.name.to_string(),
                            },
                            // A resource points at its name; a nested record at itself.
                            span: if path.is_root() {
                                span
                            } else {
                                rec.span().unwrap_or(span)
                            },
                            schema_span: Some(field.name_span),
                        });
                        continue;
                    }
                },
            };
            fields.push((field.name, Thunk::Ready(v.clone())));
            // Predicates assume the declared type, and an absent optional
            // field has nothing to check. They run before later defaults,
            // which may use this field (a path they read, a number).
            let well_typed = errors.len() == errors_before;
            let absent = field.optional && matches!(v, Value::Null);
            if field.checks.is_empty() || !well_typed || absent {
                continue;
            }
            let self_so_far = Value::Record(Rc::new(Record::new(fields.clone())));
            for check in &field.checks {
                let env = Some(Rc::new(Frame {
                    slots: smallvec::smallvec![
                        Thunk::Ready(self_so_far.clone()),
                        Thunk::Ready(v.clone())
                    ],
                    parent: None,
                }));
                self.run_check(check, &env, &fpath, at, errors)?;
            }
        }
        let result = Rc::new(Record::with_spans(
            fields,
            Some(Rc::new(SpanTable {
                record: rec.span().unwrap_or(span),
                fields: spans.into_boxed_slice(),
            })),
        ));
        let self_value = Value::Record(result);
        // Record-level checks assume a well-formed record.
        let schema_checks: &[crate::schema::CheckDef] = if errors.len() > errors_at_start {
            &[]
        } else {
            &schema.checks
        };
        for check in schema_checks {
            let env = Some(Rc::new(Frame {
                slots: smallvec::smallvec![Thunk::Ready(self_value.clone())],
                parent: None,
            }));
            self.run_check(check, &env, path, span, errors)?;
        }
        Ok(self_value)
    }

    fn run_check(
        &self,
        check: &crate::schema::CheckDef,
        env: &Env,
        path: &FieldPath<'_>,
        span: Span,
        errors: &mut Vec<SchemaError>,
    ) -> EvalResult<()> {
        match self.eval(&check.cond, env)? {
            Value::Bool(true) | Value::Unknown(_) => Ok(()),
            Value::Bool(false) => {
                let message = match &check.message {
                    Some(m) => match self.eval(m, env)? {
                        Value::Str(s) => s.to_string(),
                        other => format!("validation failed ({})", other.type_name()),
                    },
                    None => "validation failed".to_string(),
                };
                errors.push(SchemaError {
                    kind: SchemaErrorKind::CheckFailed {
                        path: path.render(),
                        message,
                    },
                    span,
                    schema_span: Some(self.first_line(check.span)),
                });
                Ok(())
            }
            // A list of problems, each a message or `{ at, field?, message }`,
            // points each problem at the offending record (or its field).
            Value::List(problems) => {
                let (message_sym, at_sym, field_sym) =
                    (Sym::new("message"), Sym::new("at"), Sym::new("field"));
                for problem in problems.iter() {
                    // Beside the problem, the check's line that words it.
                    let mut worded = self.first_line(check.span);
                    let (message, at) = match problem {
                        Value::Str(m) => (m.to_string(), span),
                        Value::Record(rec) => {
                            if let Some(s) = rec.value_span(message_sym) {
                                worded = self.first_line(s);
                            }
                            let message = match rec
                                .get(message_sym)
                                .map(|t| self.force(t, span))
                                .transpose()?
                            {
                                Some(Value::Str(m)) => m.to_string(),
                                _ => "validation failed".to_string(),
                            };
                            let field = match rec
                                .get(field_sym)
                                .map(|t| self.force(t, span))
                                .transpose()?
                            {
                                Some(Value::Str(f)) => Some(Sym::new(&f)),
                                _ => None,
                            };
                            let at =
                                match rec.get(at_sym).map(|t| self.force(t, span)).transpose()? {
                                    Some(Value::Record(target)) => field
                                        .and_then(|f| target.value_span(f))
                                        .or_else(|| target.span())
                                        .unwrap_or(span),
                                    _ => span,
                                };
                            (message, at)
                        }
                        other => {
                            return Err(wrong_type(
                                "a check",
                                "a Bool or a list of problems",
                                other,
                                check.cond.span,
                            ))
                        }
                    };
                    errors.push(SchemaError {
                        kind: SchemaErrorKind::CheckFailed {
                            path: path.render(),
                            message,
                        },
                        span: at,
                        schema_span: Some(worded),
                    });
                }
                Ok(())
            }
            other => Err(wrong_type(
                "a check",
                "a Bool or a list of problems",
                &other,
                check.cond.span,
            )),
        }
    }

    /// Forces every lazy part of a value (records, lists), for output.
    pub fn deep_force(&self, v: &Value, span: Span) -> EvalResult<()> {
        // A walk like any other: a value containing itself is E0405, not
        // a stack overflow.
        self.descend(v, span, || match v {
            Value::Record(rec) => {
                for (_, t) in rec.fields() {
                    let inner = self.force(t, span)?;
                    self.deep_force(&inner, span)?;
                }
                Ok(())
            }
            Value::List(items) => {
                for item in items.iter() {
                    self.deep_force(item, span)?;
                }
                Ok(())
            }
            _ => Ok(()),
        })
    }
}

/// Integer arithmetic and comparison, or `None` when the general path must
/// handle it (overflow, division by zero, non-integer operators).
#[inline]
fn int_op(op: BinaryOp, a: i64, b: i64) -> Option<Value> {
    Some(match op {
        BinaryOp::Add => Value::Int(a.checked_add(b)?),
        BinaryOp::Sub => Value::Int(a.checked_sub(b)?),
        BinaryOp::Mul => Value::Int(a.checked_mul(b)?),
        BinaryOp::Div if b != 0 => Value::Int(a.checked_div(b)?),
        BinaryOp::Rem if b != 0 => Value::Int(a.checked_rem(b)?),
        BinaryOp::Eq => Value::Bool(a == b),
        BinaryOp::NotEq => Value::Bool(a != b),
        BinaryOp::Lt => Value::Bool(a < b),
        BinaryOp::Le => Value::Bool(a <= b),
        BinaryOp::Gt => Value::Bool(a > b),
        BinaryOp::Ge => Value::Bool(a >= b),
        _ => return None,
    })
}

/// Re-points the spans of records (or of the records in a list) built
/// in `callee_file` at `call`, using an argument's span for fields whose
/// value is that argument.
fn restamp(
    value: Value,
    callee_file: ev_syntax::FileId,
    call: Span,
    provenance: &[(Value, Span)],
) -> Value {
    fn same(a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::Str(x), Value::Str(y)) => Rc::ptr_eq(x, y),
            (Value::List(x), Value::List(y)) => Rc::ptr_eq(x, y),
            (Value::Record(x), Value::Record(y)) => Rc::ptr_eq(x, y),
            (Value::Secret(x), Value::Secret(y)) => Rc::ptr_eq(x, y),
            (Value::Unknown(x), Value::Unknown(y)) => Rc::ptr_eq(x, y),
            _ => false,
        }
    }
    match value {
        Value::Record(rec) => {
            if rec
                .spans
                .as_ref()
                .is_some_and(|t| t.record.file != callee_file)
            {
                return Value::Record(rec);
            }
            let own: Vec<Span> = match &rec.spans {
                Some(table) => table.fields.iter().map(|(_, v)| *v).collect(),
                None => vec![call; rec.len()],
            };
            let fields: Box<[(Span, Span)]> = rec
                .fields()
                .iter()
                .zip(own.iter())
                .map(|((_, thunk), value_span)| {
                    let from_arg = match thunk {
                        Thunk::Ready(v) => {
                            provenance.iter().find(|(a, _)| same(a, v)).map(|(_, s)| *s)
                        }
                        _ => None,
                    };
                    let at = from_arg.unwrap_or(if value_span.file == callee_file {
                        call
                    } else {
                        *value_span
                    });
                    (call, at)
                })
                .collect();
            let spans = Rc::new(SpanTable {
                record: call,
                fields,
            });
            Value::Record(Rc::new(Record::with_spans(
                rec.fields().to_vec(),
                Some(spans),
            )))
        }
        Value::List(items) if items.iter().any(|i| matches!(i, Value::Record(_))) => Value::List(
            items
                .iter()
                .map(|i| restamp(i.clone(), callee_file, call, provenance))
                .collect(),
        ),
        other => other,
    }
}

/// Up to a dozen field names of a record, for "the record has: ..." notes.
pub fn available_fields(rec: &Record) -> Vec<String> {
    let mut names: Vec<String> = rec
        .fields()
        .iter()
        .take(12)
        .map(|(k, _)| format!("`{k}`"))
        .collect();
    if rec.len() > 12 {
        names.push(format!("and {} more", rec.len() - 12));
    }
    names
}

fn lookup_local(env: &Env, depth: u32, index: u32) -> Option<Thunk> {
    let mut frame = env.as_ref()?;
    for _ in 0..depth {
        frame = frame.parent.as_ref()?;
    }
    frame.slots.get(index as usize).cloned()
}

/// Where a value sits inside the resource being conformed: built as the
/// walk descends, rendered (`spec.ports[0]`) only when a problem is
/// reported, since almost every value conforms.
#[derive(Clone, Copy)]
enum FieldPath<'a> {
    /// The resource itself.
    Root,
    /// A field of the value at the parent path.
    Field(&'a FieldPath<'a>, Sym),
    /// An item of the list at the parent path.
    Index(&'a FieldPath<'a>, usize),
}

impl FieldPath<'_> {
    fn is_root(&self) -> bool {
        matches!(self, FieldPath::Root)
    }

    /// The path as written in messages; empty for the resource itself.
    fn render(&self) -> String {
        let mut out = String::new();
        self.render_into(&mut out);
        out
    }

    fn render_into(&self, out: &mut String) {
        match self {
            FieldPath::Root => {}
            FieldPath::Field(parent, key) => {
                parent.render_into(out);
                if !parent.is_root() {
                    out.push('.');
                }
                out.push_str(key.as_str());
            }
            FieldPath::Index(parent, i) => {
                parent.render_into(out);
                let _ = std::fmt::Write::write_fmt(out, format_args!("[{i}]"));
            }
        }
    }

    /// The path as a message's subject: `value` for the resource itself.
    fn display(&self) -> String {
        display_path(&self.render())
    }
}

fn display_path(path: &str) -> String {
    if path.is_empty() {
        "value".to_string()
    } else {
        path.to_string()
    }
}

fn join_path(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Formats a float the way ev prints it (always with a `.` or exponent).
pub fn format_float(n: f64) -> String {
    if n.fract() == 0.0 && n.is_finite() && n.abs() < 1e15 {
        format!("{n:.1}")
    } else {
        format!("{n}")
    }
}

/// A wrong-type error.
pub fn wrong_type(operation: &str, expected: &str, found: &Value, span: Span) -> Box<EvalError> {
    EvalError::new(
        EvalErrorKind::WrongType {
            operation: operation.to_string(),
            expected: expected.to_string(),
            found: found.type_name().to_string(),
        },
        span,
    )
}

fn binary_values(
    ev: &Evaluator<'_>,
    op: BinaryOp,
    lv: Value,
    rv: Value,
    span: Span,
    lspan: Span,
    rspan: Span,
) -> EvalResult {
    use Value::*;
    let opname = || format!("`{}`", op.as_str());
    if let (Secret(_), _) | (_, Secret(_)) = (&lv, &rv) {
        if matches!(op, BinaryOp::Add) {
            let at = if matches!(lv, Secret(_)) {
                lspan
            } else {
                rspan
            };
            return Err(EvalError::new(EvalErrorKind::SecretInString, at));
        }
    }
    match op {
        BinaryOp::Eq | BinaryOp::NotEq => {
            // Comparing a secret with text would test its content (and
            // silently be false): refused like any other use as text.
            match (&lv, &rv) {
                (Secret(_), Str(_)) => {
                    return Err(EvalError::new(EvalErrorKind::SecretInString, lspan))
                }
                (Str(_), Secret(_)) => {
                    return Err(EvalError::new(EvalErrorKind::SecretInString, rspan))
                }
                _ => {}
            }
            return Ok(match ev.equal(&lv, &rv, span)? {
                Ok(eq) => Bool(eq == matches!(op, BinaryOp::Eq)),
                Err(u) => Unknown(u),
            });
        }
        _ => {}
    }
    if matches!(lv, Unknown(_)) || matches!(rv, Unknown(_)) {
        return Ok(unknown_of(&lv, &rv));
    }
    let overflow = || EvalError::new(EvalErrorKind::Overflow, span);
    let div_zero = || EvalError::new(EvalErrorKind::DivisionByZero, rspan);
    match (op, &lv, &rv) {
        (BinaryOp::Add, Int(a), Int(b)) => a.checked_add(*b).map(Int).ok_or_else(overflow),
        (BinaryOp::Sub, Int(a), Int(b)) => a.checked_sub(*b).map(Int).ok_or_else(overflow),
        (BinaryOp::Mul, Int(a), Int(b)) => a.checked_mul(*b).map(Int).ok_or_else(overflow),
        (BinaryOp::Div, Int(_), Int(0)) | (BinaryOp::Rem, Int(_), Int(0)) => Err(div_zero()),
        (BinaryOp::Div, Int(a), Int(b)) => a.checked_div(*b).map(Int).ok_or_else(overflow),
        (BinaryOp::Rem, Int(a), Int(b)) => a.checked_rem(*b).map(Int).ok_or_else(overflow),
        (
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem,
            Int(_) | Float(_),
            Int(_) | Float(_),
        ) => {
            let a = as_f64(&lv);
            let b = as_f64(&rv);
            let finite = |r: f64| {
                if r.is_finite() {
                    Ok(Float(r))
                } else {
                    Err(EvalError::new(EvalErrorKind::FloatOverflow, span))
                }
            };
            finite(match op {
                BinaryOp::Add => a + b,
                BinaryOp::Sub => a - b,
                BinaryOp::Mul => a * b,
                BinaryOp::Div => {
                    if b == 0.0 {
                        return Err(div_zero());
                    }
                    a / b
                }
                _ => {
                    if b == 0.0 {
                        return Err(div_zero());
                    }
                    a % b
                }
            })
        }
        (BinaryOp::Add, Str(a), Str(b)) => {
            ev.grow(Size::Bytes(a.len() + b.len()), span)?;
            let mut s = String::with_capacity(a.len() + b.len());
            s.push_str(a);
            s.push_str(b);
            Ok(Str(Rc::from(s)))
        }
        (BinaryOp::Add, List(a), List(b)) => {
            ev.grow(Size::Items(a.len() + b.len()), span)?;
            let mut v = Vec::with_capacity(a.len() + b.len());
            v.extend(a.iter().cloned());
            v.extend(b.iter().cloned());
            Ok(List(Rc::from(v)))
        }
        (BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge, _, _) => {
            let ord = match (&lv, &rv) {
                (Int(a), Int(b)) => a.cmp(b),
                (Int(_) | Float(_), Int(_) | Float(_)) => as_f64(&lv)
                    .partial_cmp(&as_f64(&rv))
                    .unwrap_or(std::cmp::Ordering::Equal),
                (Str(a), Str(b)) => a.cmp(b),
                (Int(_) | Float(_) | Str(_), other) => {
                    return Err(wrong_type(
                        &opname(),
                        &format!("{} on both sides", article_type(&lv)),
                        other,
                        rspan,
                    ))
                }
                (other, _) => {
                    return Err(wrong_type(&opname(), "numbers or strings", other, lspan))
                }
            };
            use std::cmp::Ordering::*;
            Ok(Bool(match op {
                BinaryOp::Lt => ord == Less,
                BinaryOp::Le => ord != Greater,
                BinaryOp::Gt => ord == Greater,
                _ => ord != Less,
            }))
        }
        (BinaryOp::Merge, Record(a), Record(b)) => {
            let mut builder = RecordBuilder::new();
            builder.extend_from(a);
            builder.extend_from(b);
            Ok(Record(Rc::new(builder.build())))
        }
        (BinaryOp::DeepMerge, Record(a), Record(b)) => ev.deep_merge(a, b, span),
        (BinaryOp::Merge | BinaryOp::DeepMerge, Record(_), other) => {
            Err(wrong_type(&opname(), "a Record", other, rspan))
        }
        (BinaryOp::Merge | BinaryOp::DeepMerge, other, _) => {
            Err(wrong_type(&opname(), "a Record", other, lspan))
        }
        (BinaryOp::Add, Int(_) | Float(_), other) => {
            Err(wrong_type(&opname(), "a number", other, rspan))
        }
        (BinaryOp::Add, Str(_), other) => Err(wrong_type(
            &opname(),
            "a String (convert with to_string)",
            other,
            rspan,
        )),
        (BinaryOp::Add, List(_), other) => Err(wrong_type(&opname(), "a List", other, rspan)),
        (BinaryOp::Add, other, _) => Err(wrong_type(
            &opname(),
            "numbers, strings or lists",
            other,
            lspan,
        )),
        (_, Int(_) | Float(_), other) => Err(wrong_type(&opname(), "a number", other, rspan)),
        (_, other, _) => Err(wrong_type(&opname(), "numbers", other, lspan)),
    }
}

fn article_type(v: &Value) -> &'static str {
    match v {
        Value::Str(_) => "strings",
        _ => "numbers",
    }
}

fn as_f64(v: &Value) -> f64 {
    match v {
        Value::Int(n) => *n as f64,
        Value::Float(f) => *f,
        _ => 0.0,
    }
}

fn unknown_of(a: &Value, b: &Value) -> Value {
    match (a, b) {
        (Value::Unknown(u), _) | (_, Value::Unknown(u)) => Value::Unknown(u.clone()),
        _ => Value::Null,
    }
}

/// How many positional arguments a function value takes (`None`: any
/// number, or not a function).
fn positional_limit(f: &Value) -> Option<usize> {
    let Value::Func(func) = f else {
        return None;
    };
    match &**func {
        Func::Builtin(b) => (!matches!(
            b,
            crate::builtins::Builtin::Format
                | crate::builtins::Builtin::SecretFormat
                | crate::builtins::Builtin::Merge
                | crate::builtins::Builtin::Remove
        ))
        .then(|| b.params().len()),
        Func::Closure { def, .. } => Some(def.params.len()),
    }
}

/// A function's name and signature, for messages: (`` `len` ``,
/// `len(value)`).
fn signature_of(f: &Value) -> (String, String) {
    let Value::Func(func) = f else {
        return ("this value".into(), String::new());
    };
    match &**func {
        Func::Builtin(b) => {
            let signature = b.doc().split(':').next().unwrap_or(b.name()).to_string();
            (format!("`{}`", b.name()), signature)
        }
        Func::Closure { def, .. } => {
            let name = def
                .name
                .map(|s| format!("`{s}`"))
                .unwrap_or_else(|| "this function".into());
            let shown = def
                .name
                .map(|s| s.to_string())
                .unwrap_or_else(|| "fn".into());
            (
                name,
                format!("{shown}{}", Evaluator::closure_signature(def)),
            )
        }
    }
}
