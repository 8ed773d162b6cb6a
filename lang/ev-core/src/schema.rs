//! Schemas: the record types that resource kinds (and nested values) are
//! checked against. The checking itself lives in `eval::check`, since it
//! forces values and evaluates defaults and predicates.

use std::fmt;
use std::rc::Rc;

use ev_syntax::Span;

use crate::intern::Sym;
use crate::ir::{GlobalRef, Node};

/// A schema declared with `schema Name { ... }`.
#[derive(Debug)]
pub struct SchemaDef {
    /// Its name.
    pub name: Sym,
    /// The name's span.
    pub span: Span,
    /// Fields in declaration order.
    pub fields: Vec<SchemaFieldDef>,
    /// Whole-record checks (`self` bound).
    pub checks: Vec<CheckDef>,
    /// Its `##` documentation.
    pub doc: Option<String>,
}

impl SchemaDef {
    /// The field named `name`.
    pub fn field(&self, name: Sym) -> Option<&SchemaFieldDef> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// One schema field.
#[derive(Debug)]
pub struct SchemaFieldDef {
    /// Field name.
    pub name: Sym,
    /// May be absent (or null).
    pub optional: bool,
    /// Declared type.
    pub ty: Type,
    /// Default (evaluated with `self` bound to the fields so far).
    pub default: Option<Rc<Node>>,
    /// Predicates (`self` in slot 0, the value in slot 1).
    pub checks: Vec<CheckDef>,
    /// The field declaration.
    pub span: Span,
    /// The field's name as declared.
    pub name_span: Span,
    /// Its `##` documentation.
    pub doc: Option<String>,
}

/// A predicate with its message.
#[derive(Debug)]
pub struct CheckDef {
    /// Must be true.
    pub cond: Node,
    /// Message expression.
    pub message: Option<Node>,
    /// The check as written.
    pub span: Span,
}

/// A field type.
#[derive(Clone, Debug)]
pub enum Type {
    /// Anything.
    Any,
    /// `null`.
    Null,
    /// Booleans.
    Bool,
    /// Integers.
    Int,
    /// Floats (integers are accepted too).
    Float,
    /// Strings.
    String,
    /// Strings safe as a file name and as a command-line argument (see
    /// [`name_problem`]): resource names become paths and tool arguments.
    Name,
    /// Secret references.
    Secret,
    /// Functions.
    Function,
    /// Any record.
    Record,
    /// A list of T.
    List(Box<Type>),
    /// A record with arbitrary keys and T values.
    Map(Box<Type>),
    /// Exactly this string.
    Literal(Rc<str>),
    /// One of several types.
    Union(Vec<Type>),
    /// A record conforming to a schema bound at this global.
    Schema(GlobalRef, Sym),
    /// The name of a resource of this kind (a reference: it must exist, and
    /// the referring resource then depends on it).
    Ref(crate::ir::KindId, Sym),
}

impl Type {
    /// The string literals of an enum-like union, if it is one.
    pub fn literals(&self) -> Option<Vec<Rc<str>>> {
        match self {
            Type::Literal(s) => Some(vec![s.clone()]),
            Type::Union(alts) => {
                let mut out = Vec::new();
                for alt in alts {
                    out.extend(alt.literals()?);
                }
                Some(out)
            }
            _ => None,
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Any => f.write_str("Any"),
            Type::Null => f.write_str("Null"),
            Type::Bool => f.write_str("Bool"),
            Type::Int => f.write_str("Int"),
            Type::Float => f.write_str("Float"),
            Type::String => f.write_str("String"),
            Type::Name => f.write_str("Name"),
            Type::Secret => f.write_str("Secret"),
            Type::Function => f.write_str("Function"),
            Type::Record => f.write_str("Record"),
            Type::List(t) => write!(f, "[{t}]"),
            Type::Map(t) => write!(f, "Map({t})"),
            Type::Literal(s) => write!(f, "{s:?}"),
            Type::Union(alts) => {
                for (i, alt) in alts.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" | ")?;
                    }
                    write!(f, "{alt}")?;
                }
                Ok(())
            }
            Type::Schema(_, name) => write!(f, "{name}"),
            Type::Ref(_, kind) => write!(f, "Ref({kind})"),
        }
    }
}

/// The longest [`Type::Name`] (a DNS name's limit).
pub const MAX_NAME_LEN: usize = 253;

/// Why `name` is not a [`Type::Name`], if it is not. Names are used as
/// file names (rendered files, logs, exports), in action ids and as tool
/// arguments, so they are plain: ASCII letters, digits, `.`, `_` and `-`,
/// starting with a letter, digit or `_` (never `-`, which tools read as an
/// option, nor `.`), at most [`MAX_NAME_LEN`] characters.
pub fn name_problem(name: &str) -> Option<String> {
    let Some(first) = name.chars().next() else {
        return Some("it is empty".into());
    };
    if name.len() > MAX_NAME_LEN {
        return Some(format!(
            "it has {} characters, more than {MAX_NAME_LEN}",
            name.len()
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        let shown = match bad {
            '/' => "`/`".to_string(),
            c if c.is_control() || c.is_whitespace() => format!("{:?}", c),
            c => format!("`{c}`"),
        };
        return Some(format!(
            "it contains {shown}; names may hold ASCII letters, digits, `.`, `_` and `-`"
        ));
    }
    if first == '-' {
        return Some("it starts with `-`, which tools would read as an option".into());
    }
    if first == '.' {
        return Some("it starts with `.`".into());
    }
    None
}
