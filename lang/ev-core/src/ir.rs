//! The resolved program: expressions with every name bound to a slot.
//!
//! `compile` lowers the AST into this form once; evaluation then never looks
//! a name up by string. Locals are `(depth, index)` pairs into the chain of
//! environment frames; top-level names are `(module, slot)` pairs.

use std::rc::Rc;

use ev_syntax::ast::{BinaryOp, UnaryOp};
use ev_syntax::Span;

use crate::builtins::Builtin;
use crate::intern::Sym;
use crate::value::Value;

/// Index of a module in the program.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModuleId(pub u32);

/// Index of a resource kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KindId(pub u32);

/// Index of a resource declaration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceId(pub u32);

/// A top-level binding: slot `slot` of module `module`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GlobalRef {
    /// The module.
    pub module: ModuleId,
    /// The slot in that module's global table.
    pub slot: u32,
}

/// An expression with its source span.
#[derive(Debug)]
pub struct Node {
    /// What to compute.
    pub ir: Ir,
    /// Where it was written.
    pub span: Span,
}

/// Resolved expression forms.
#[derive(Debug)]
pub enum Ir {
    /// A constant.
    Const(Value),
    /// String interpolation.
    Interp(Vec<InterpPart>),
    /// A local variable.
    Local {
        /// Frames up the chain.
        depth: u32,
        /// Slot in that frame.
        index: u32,
    },
    /// A top-level binding.
    Global(GlobalRef),
    /// A resource declared in the program.
    Resource(ResourceId),
    /// All resources of a kind, as a record keyed by name.
    KindCollection(KindId),
    /// A whole module's exports as a record (`import "x.ev" as m`).
    ModuleExports(ModuleId),
    /// A builtin function.
    Builtin(Builtin),
    /// A list literal.
    List(Vec<Node>),
    /// A list comprehension.
    ListComp {
        /// The element.
        body: Box<Node>,
        /// Clauses.
        clauses: Vec<IrClause>,
    },
    /// A record literal.
    Record(Rc<RecordLit>),
    /// A record comprehension.
    RecordComp {
        /// Key expression.
        key: Box<Node>,
        /// Value expression.
        value: Rc<Node>,
        /// Clauses.
        clauses: Vec<IrClause>,
    },
    /// `target.field`
    Select {
        /// The record.
        target: Box<Node>,
        /// The field.
        field: Sym,
        /// Where the field name was written.
        field_span: Span,
    },
    /// `target."${dynamic}"`
    SelectDyn {
        /// The record.
        target: Box<Node>,
        /// The key.
        key: Box<Node>,
    },
    /// `target[index]`
    Index {
        /// The list or record.
        target: Box<Node>,
        /// The index.
        index: Box<Node>,
    },
    /// `path or default`
    Or {
        /// The access path.
        target: Box<Node>,
        /// The fallback.
        default: Box<Node>,
    },
    /// A call.
    Call {
        /// The function.
        func: Box<Node>,
        /// Positional arguments.
        args: Vec<Node>,
        /// Named arguments.
        named: Vec<(Sym, Span, Node)>,
    },
    /// A function literal.
    Lambda(Rc<LambdaDef>),
    /// `let x = v in body`: one frame with one lazily evaluated slot.
    Let {
        /// The bound value (evaluated lazily, in the enclosing frame).
        value: Rc<Node>,
        /// The body (in the new frame).
        body: Box<Node>,
    },
    /// `if c then a else b`
    If {
        /// Condition.
        cond: Box<Node>,
        /// When true.
        then: Box<Node>,
        /// When false.
        otherwise: Box<Node>,
    },
    /// Prefix operator.
    Unary(UnaryOp, Box<Node>),
    /// Binary operator (`&&`/`||` short-circuit).
    Binary(BinaryOp, Box<Node>, Box<Node>),
    /// A node that failed to parse or resolve; its error was already reported.
    Poisoned,
}

/// A part of an interpolated string.
#[derive(Debug)]
pub enum InterpPart {
    /// Literal text.
    Text(Rc<str>),
    /// An interpolated expression.
    Expr(Node),
}

/// A comprehension clause.
#[derive(Debug)]
pub enum IrClause {
    /// Iterate, binding one (element) or two (key, value) slots in a new frame.
    For {
        /// The iterated value.
        iter: Node,
        /// Number of bound variables (1 or 2).
        vars: u32,
    },
    /// Keep going only when true.
    If(Node),
}

/// A record literal's fields.
#[derive(Debug)]
pub struct RecordLit {
    /// Fields in order.
    pub fields: Vec<FieldLit>,
    /// Spans of the literal and of (key, value) per field, shared with every
    /// record built from this literal when all keys are static.
    pub spans: Option<Rc<crate::value::SpanTable>>,
}

/// One field of a record literal.
#[derive(Debug)]
pub struct FieldLit {
    /// The key path (more than one key nests records).
    pub path: Vec<KeyLit>,
    /// The value, shared with lazy thunks.
    pub value: Rc<Node>,
    /// Span of the key path.
    pub key_span: Span,
}

/// A record key.
#[derive(Debug)]
pub enum KeyLit {
    /// Known at compile time.
    Static(Sym),
    /// Computed.
    Dynamic(Node),
}

/// A function literal.
#[derive(Debug)]
pub struct LambdaDef {
    /// Parameter names.
    pub params: Vec<Sym>,
    /// Default values, evaluated in a frame holding the earlier parameters.
    pub defaults: Vec<Option<Node>>,
    /// The body.
    pub body: Node,
    /// The function's span.
    pub span: Span,
    /// A name for traces, when the function was bound with `let`.
    pub name: Option<Sym>,
}
