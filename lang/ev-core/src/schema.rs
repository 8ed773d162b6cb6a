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
    /// Anything, also a value known only after apply.
    Any,
    /// Plain data handed to a tool as it is (manifests, Pulumi properties,
    /// Nix values): anything but secrets, which would be written out as
    /// text, and functions. Values known only after apply are allowed.
    Data,
    /// A value known only after apply (`T | Unknown`): the only way,
    /// besides `Any`, a field admits one. Everything else must be known
    /// when planning, since the model and the tools need it.
    Unknown,
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
    /// Whether a value known only after apply may stand here.
    pub fn admits_unknown(&self) -> bool {
        match self {
            Type::Any | Type::Data | Type::Unknown => true,
            Type::Union(alts) => alts.iter().any(Type::admits_unknown),
            _ => false,
        }
    }

    /// How a value of this type looks, for "should be ..." messages: a
    /// union's `Unknown` is about when a value is known, not its shape.
    pub fn shape(&self) -> String {
        match self {
            Type::Union(alts) => {
                let known: Vec<String> = alts
                    .iter()
                    .filter(|a| !matches!(a, Type::Unknown))
                    .map(|a| a.to_string())
                    .collect();
                if known.is_empty() {
                    self.to_string()
                } else {
                    known.join(" | ")
                }
            }
            _ => self.to_string(),
        }
    }

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
            Type::Unknown => f.write_str("Unknown"),
            Type::Data => f.write_str("Data"),
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
