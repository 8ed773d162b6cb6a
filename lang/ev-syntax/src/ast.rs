//! The abstract syntax tree. Every node carries its [`Span`]; parse errors
//! leave [`ExprKind::Error`] / [`ItemKind::Error`] nodes so that the rest of
//! the file can still be resolved and checked.

use crate::span::Span;

/// A name as written, with its span.
#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    /// The name.
    pub name: String,
    /// Where it was written.
    pub span: Span,
}

/// A parsed file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Module {
    /// Top-level items in source order.
    pub items: Vec<Item>,
}

/// A top-level item.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    /// What kind of item.
    pub kind: ItemKind,
    /// `export` was written before it.
    pub exported: bool,
    /// The whole item.
    pub span: Span,
}

/// The kinds of top-level item.
#[derive(Clone, Debug, PartialEq)]
pub enum ItemKind {
    /// `import { a, b as c } from "path"` or `import "path" as m`.
    Import(Import),
    /// `let name = value`.
    Let {
        /// The bound name.
        name: Ident,
        /// The value.
        value: Expr,
    },
    /// `<kind> <name> { fields }`: a resource declaration.
    Resource(Resource),
    /// `schema Name { fields }`.
    Schema(Schema),
    /// `kind name: Type` declares a resource kind checked against a schema.
    Kind {
        /// The kind's name, as used in resource declarations.
        name: Ident,
        /// The schema resources of this kind must satisfy.
        schema: TypeExpr,
    },
    /// An item that failed to parse.
    Error,
}

/// An import item.
#[derive(Clone, Debug, PartialEq)]
pub struct Import {
    /// The imported names (`import { a, b as c } ...`); empty for a whole-module import.
    pub names: Vec<ImportName>,
    /// The module alias for `import "path" as m`.
    pub alias: Option<Ident>,
    /// The path string, relative to the repository root.
    pub path: StrLit,
}

/// One name in an import list.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportName {
    /// The exported name in the imported module.
    pub name: Ident,
    /// The local name, when renamed with `as`.
    pub alias: Option<Ident>,
}

/// A string literal without interpolation (import paths, enum members).
#[derive(Clone, Debug, PartialEq)]
pub struct StrLit {
    /// The text (escapes processed).
    pub value: String,
    /// The span including quotes.
    pub span: Span,
}

/// A resource declaration: `machine methanol { ... }` or `domain "yuto.sh" { ... }`.
#[derive(Clone, Debug, PartialEq)]
pub struct Resource {
    /// The kind (a name declared with `kind`, usually in `stdlib/`).
    pub kind: Ident,
    /// The resource's name.
    pub name: ResourceName,
    /// The body, always an [`ExprKind::Record`] (or an error node).
    pub body: Expr,
}

/// The name of a resource.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceName {
    /// The name's text.
    pub value: String,
    /// Where it was written.
    pub span: Span,
    /// Written as a bare identifier (it then also binds a local name).
    pub is_ident: bool,
}

/// A schema declaration.
#[derive(Clone, Debug, PartialEq)]
pub struct Schema {
    /// The schema's name.
    pub name: Ident,
    /// Fields in declaration order.
    pub fields: Vec<SchemaField>,
    /// Whole-record checks.
    pub checks: Vec<Check>,
}

/// One field of a schema.
#[derive(Clone, Debug, PartialEq)]
pub struct SchemaField {
    /// The field name.
    pub name: Ident,
    /// Declared with `?`: may be absent.
    pub optional: bool,
    /// The declared type.
    pub ty: TypeExpr,
    /// The default value when absent (may refer to `self`).
    pub default: Option<Expr>,
    /// `where` predicates (the field's name is bound to its value).
    pub checks: Vec<Check>,
    /// The whole field declaration.
    pub span: Span,
}

/// A validation predicate with an optional message.
#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    /// Must evaluate to `true`.
    pub cond: Expr,
    /// The message shown when it does not (a string expression).
    pub message: Option<Expr>,
    /// The whole check.
    pub span: Span,
}

/// A type in a schema field.
#[derive(Clone, Debug, PartialEq)]
pub struct TypeExpr {
    /// What type.
    pub kind: TypeKind,
    /// Where it was written.
    pub span: Span,
}

/// The forms of type expression.
#[derive(Clone, Debug, PartialEq)]
pub enum TypeKind {
    /// A named type, possibly applied: `String`, `List(Record)`, `Machine`.
    Named(Ident, Vec<TypeExpr>),
    /// `[T]`, a list of T.
    List(Box<TypeExpr>),
    /// A string literal type, used in enums: `"nixos" | "darwin"`.
    Literal(String),
    /// `A | B`.
    Union(Vec<TypeExpr>),
    /// A type that failed to parse.
    Error,
}

/// An expression.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    /// What expression.
    pub kind: ExprKind,
    /// Where it was written.
    pub span: Span,
}

/// The forms of expression.
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// An integer literal.
    Int(i64),
    /// A float literal.
    Float(f64),
    /// A string, possibly with interpolations.
    Str(Vec<StrPart>),
    /// A variable reference.
    Var(String),
    /// `[a, b, c]`
    List(Vec<Expr>),
    /// `[body for x in xs if cond]`
    ListComp {
        /// The element expression.
        body: Box<Expr>,
        /// `for` and `if` clauses, in order.
        clauses: Vec<Clause>,
    },
    /// `{ a = 1, b.c = 2, "k" = 3, name }`
    Record(Vec<Field>),
    /// `{ key = value for x in xs if cond }`
    RecordComp {
        /// The key expression.
        key: Box<Expr>,
        /// The value expression.
        value: Box<Expr>,
        /// `for` and `if` clauses.
        clauses: Vec<Clause>,
    },
    /// `target.field` or `target."field"`.
    Select {
        /// The record.
        target: Box<Expr>,
        /// The field.
        field: Key,
    },
    /// `target[index]`
    Index {
        /// The list or record.
        target: Box<Expr>,
        /// The index or key.
        index: Box<Expr>,
    },
    /// `a.b.c or default`: the default when a field on the path is missing.
    Or {
        /// A field access (or index) expression.
        target: Box<Expr>,
        /// The fallback.
        default: Box<Expr>,
    },
    /// `f(a, b, name = c)`
    Call {
        /// The function.
        func: Box<Expr>,
        /// Arguments, positional first.
        args: Vec<Arg>,
    },
    /// `fn(a, b = 1) => body`
    Lambda {
        /// Parameters.
        params: Vec<Param>,
        /// The body.
        body: Box<Expr>,
    },
    /// `let a = 1, b = 2 in body`
    Let {
        /// Bindings, each seeing the previous ones.
        bindings: Vec<(Ident, Expr)>,
        /// The body.
        body: Box<Expr>,
    },
    /// `if c then a else b`
    If {
        /// The condition.
        cond: Box<Expr>,
        /// Value when true.
        then: Box<Expr>,
        /// Value when false.
        otherwise: Box<Expr>,
    },
    /// A prefix operator.
    Unary(UnaryOp, Box<Expr>),
    /// A binary operator.
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// An expression that failed to parse.
    Error,
}

/// A part of a string literal.
#[derive(Clone, Debug, PartialEq)]
pub enum StrPart {
    /// Literal text.
    Text(String),
    /// `${expr}`
    Interp(Expr),
}

/// A record field key.
#[derive(Clone, Debug, PartialEq)]
pub struct Key {
    /// The key.
    pub kind: KeyKind,
    /// Where it was written.
    pub span: Span,
}

/// Static or computed keys.
#[derive(Clone, Debug, PartialEq)]
pub enum KeyKind {
    /// A name or a quoted string without interpolation.
    Static(String),
    /// A string with interpolation, computed at evaluation.
    Dynamic(Box<Expr>),
}

/// One field of a record literal.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    /// The key path; more than one key (`a.b = 1`) nests records.
    pub path: Vec<Key>,
    /// The value.
    pub value: Expr,
    /// The whole field.
    pub span: Span,
}

/// A comprehension clause.
#[derive(Clone, Debug, PartialEq)]
pub enum Clause {
    /// `for x in xs` or `for k, v in record`.
    For {
        /// The bound variable(s).
        vars: Vec<Ident>,
        /// The list (or record) iterated.
        iter: Expr,
    },
    /// `if cond`
    If(Expr),
}

/// A call argument.
#[derive(Clone, Debug, PartialEq)]
pub struct Arg {
    /// `name = value` arguments have a name.
    pub name: Option<Ident>,
    /// The value.
    pub value: Expr,
}

/// A lambda parameter.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    /// Its name.
    pub name: Ident,
    /// The default when the caller omits it.
    pub default: Option<Expr>,
}

/// Prefix operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    /// `-x`
    Neg,
    /// `!x`
    Not,
}

/// Binary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Eq,
    NotEq,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
    /// `a // b`: shallow record merge, right wins.
    Merge,
    /// `a & b`: deep record merge, right wins at the leaves.
    DeepMerge,
}

impl BinaryOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Rem => "%",
            BinaryOp::Eq => "==",
            BinaryOp::NotEq => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::And => "&&",
            BinaryOp::Or => "||",
            BinaryOp::Merge => "//",
            BinaryOp::DeepMerge => "&",
        }
    }
}

impl Expr {
    /// The direct subexpressions of an expression.
    pub fn children(&self) -> Vec<&Expr> {
        match &self.kind {
            ExprKind::Null
            | ExprKind::Bool(_)
            | ExprKind::Int(_)
            | ExprKind::Float(_)
            | ExprKind::Var(_)
            | ExprKind::Error => Vec::new(),
            ExprKind::Str(parts) => parts
                .iter()
                .filter_map(|p| match p {
                    StrPart::Interp(e) => Some(e),
                    StrPart::Text(_) => None,
                })
                .collect(),
            ExprKind::List(items) => items.iter().collect(),
            ExprKind::ListComp { body, clauses } => {
                let mut out = clause_exprs(clauses);
                out.push(body);
                out
            }
            ExprKind::Record(fields) => fields
                .iter()
                .flat_map(|f| {
                    f.path
                        .iter()
                        .filter_map(|k| match &k.kind {
                            KeyKind::Dynamic(e) => Some(&**e),
                            KeyKind::Static(_) => None,
                        })
                        .chain(std::iter::once(&f.value))
                })
                .collect(),
            ExprKind::RecordComp {
                key,
                value,
                clauses,
            } => {
                let mut out = clause_exprs(clauses);
                out.push(key);
                out.push(value);
                out
            }
            ExprKind::Select { target, field } => {
                let mut out = vec![&**target];
                if let KeyKind::Dynamic(k) = &field.kind {
                    out.push(k);
                }
                out
            }
            ExprKind::Index { target, index } => vec![target, index],
            ExprKind::Or { target, default } => vec![target, default],
            ExprKind::Call { func, args } => {
                let mut out = vec![&**func];
                out.extend(args.iter().map(|a| &a.value));
                out
            }
            ExprKind::Lambda { params, body } => {
                let mut out: Vec<&Expr> =
                    params.iter().filter_map(|p| p.default.as_ref()).collect();
                out.push(body);
                out
            }
            ExprKind::Let { bindings, body } => {
                let mut out: Vec<&Expr> = bindings.iter().map(|(_, v)| v).collect();
                out.push(body);
                out
            }
            ExprKind::If {
                cond,
                then,
                otherwise,
            } => vec![cond, then, otherwise],
            ExprKind::Unary(_, e) => vec![e],
            ExprKind::Binary(_, l, r) => vec![l, r],
        }
    }
}

fn clause_exprs(clauses: &[Clause]) -> Vec<&Expr> {
    clauses
        .iter()
        .map(|c| match c {
            Clause::For { iter, .. } => iter,
            Clause::If(e) => e,
        })
        .collect()
}

impl Module {
    /// The top-level expressions of a module (values, bodies, schema
    /// defaults and checks).
    pub fn exprs(&self) -> Vec<&Expr> {
        let mut out = Vec::new();
        for item in &self.items {
            match &item.kind {
                ItemKind::Let { value, .. } => out.push(value),
                ItemKind::Resource(r) => out.push(&r.body),
                ItemKind::Schema(s) => {
                    for f in &s.fields {
                        out.extend(f.default.iter());
                        for c in &f.checks {
                            out.push(&c.cond);
                            out.extend(c.message.iter());
                        }
                    }
                    for c in &s.checks {
                        out.push(&c.cond);
                        out.extend(c.message.iter());
                    }
                }
                ItemKind::Import(_) | ItemKind::Kind { .. } | ItemKind::Error => {}
            }
        }
        out
    }
}
