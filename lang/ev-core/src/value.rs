//! Runtime values. Cheap to clone: everything larger than a word is behind an `Rc`.

use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use ev_syntax::Span;

use crate::builtins::Builtin;
use crate::intern::Sym;
use crate::ir::{LambdaDef, Node};
use crate::schema::SchemaDef;

/// A value of the ev language.
#[derive(Clone, Debug)]
pub enum Value {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// A 64-bit integer.
    Int(i64),
    /// A float (from data files or float literals).
    Float(f64),
    /// A string.
    Str(Rc<str>),
    /// A list (elements are evaluated).
    List(Rc<[Value]>),
    /// A record (fields may be lazy).
    Record(Rc<Record>),
    /// A function.
    Func(Rc<Func>),
    /// A reference to a secret; opaque, never printed.
    Secret(Rc<Secret>),
    /// A value not known until apply.
    Unknown(Rc<Unknown>),
    /// A schema (from a `schema` declaration).
    Schema(Rc<SchemaDef>),
}

impl Value {
    /// A string value.
    pub fn str(s: &str) -> Value {
        Value::Str(Rc::from(s))
    }

    /// The name of this value's type, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "Null",
            Value::Bool(_) => "Bool",
            Value::Int(_) => "Int",
            Value::Float(_) => "Float",
            Value::Str(_) => "String",
            Value::List(_) => "List",
            Value::Record(_) => "Record",
            Value::Func(_) => "Function",
            Value::Secret(_) => "Secret",
            Value::Unknown(_) => "Unknown",
            Value::Schema(_) => "Schema",
        }
    }

    /// An empty record.
    pub fn empty_record() -> Value {
        Value::Record(Rc::new(Record::new(Vec::new())))
    }
}

/// A secret: one key of a sops-encrypted file, or text composed of plain
/// parts and such keys (`secret_format`, for a connection string). Its
/// content exists only at apply time, for the tool that receives it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Secret {
    /// One key of a sops file.
    Ref(SecretRef),
    /// Text and references, joined at apply time.
    Composed(Vec<SecretPart>),
}

/// A part of a composed secret.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SecretPart {
    /// Plain text, written as it is.
    Text(String),
    /// A key of a sops file, decrypted at apply time.
    Ref(SecretRef),
}

/// A reference to one key of a sops-encrypted file.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SecretRef {
    /// The encrypted file, relative to the repository root.
    pub file: String,
    /// The key path inside it, dot-separated.
    pub key: String,
}

/// Why a value is not known yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unknown {
    /// What it is waiting for, e.g. "exports/jupiter/generated.json does not exist yet".
    pub reason: String,
    /// The repository file whose absence makes it unknown (an export an
    /// action writes): lowering turns it into a dependency on that action.
    pub file: Option<String>,
}

impl Unknown {
    /// An unknown derived from another (a condition on an unknown element):
    /// a new reason, the same file to wait for.
    pub fn derived(reason: &str, from: &Unknown) -> Value {
        Value::Unknown(Rc::new(Unknown {
            reason: reason.to_string(),
            file: from.file.clone(),
        }))
    }
}

/// A function value.
#[derive(Debug)]
pub enum Func {
    /// A closure over its defining environment.
    Closure {
        /// The lambda.
        def: Rc<LambdaDef>,
        /// Captured environment.
        env: Env,
    },
    /// A builtin.
    Builtin(Builtin),
}

/// Evaluated call arguments, stored inline up to four.
pub type Args = smallvec::SmallVec<[Value; 4]>;

/// Frame slots, stored inline up to two.
pub type Slots = smallvec::SmallVec<[Thunk; 2]>;

/// An environment: a chain of frames.
pub type Env = Option<Rc<Frame>>;

/// One environment frame.
#[derive(Debug)]
pub struct Frame {
    /// The slots (one or two inline: `let`, `for` and small calls allocate once).
    pub slots: Slots,
    /// The enclosing frame.
    pub parent: Env,
}

/// A possibly not yet evaluated value.
#[derive(Clone, Debug)]
pub enum Thunk {
    /// Already a value.
    Ready(Value),
    /// Evaluated on first use, then cached.
    Lazy(Rc<LazyCell>),
    /// A resource's checked value. Forced through the evaluator every time
    /// (it caches), so every use is seen by reference tracking.
    Resource(crate::ir::ResourceId),
}

/// The shared cell behind a lazy thunk.
#[derive(Debug)]
pub struct LazyCell {
    /// Its current state.
    pub state: RefCell<LazyState>,
}

/// States of a lazy cell.
#[derive(Debug)]
pub enum LazyState {
    /// Not evaluated yet.
    Pending {
        /// The expression.
        node: Rc<Node>,
        /// Its environment.
        env: Env,
    },
    /// Being evaluated right now (seeing this again is a cycle).
    Forcing,
    /// Evaluated.
    Done(Value),
}

impl Thunk {
    /// A lazy thunk of `node` in `env`.
    pub fn lazy(node: Rc<Node>, env: Env) -> Thunk {
        Thunk::Lazy(Rc::new(LazyCell {
            state: RefCell::new(LazyState::Pending { node, env }),
        }))
    }
}

/// Records with more fields than this get a hash index.
const INDEX_THRESHOLD: usize = 12;

/// An ordered record. Keys keep insertion order.
#[derive(Debug)]
pub struct Record {
    fields: Box<[(Sym, Thunk)]>,
    // Boxed on purpose: most records never build an index, and an inline
    // HashMap would triple the size of every record.
    #[allow(clippy::box_collection)]
    index: OnceCell<Box<HashMap<Sym, u32>>>,
    /// Where the record and its fields were written, when it comes straight
    /// from a literal (shared by every record built from that literal).
    pub spans: Option<Rc<SpanTable>>,
}

/// Source spans of a record literal.
#[derive(Debug)]
pub struct SpanTable {
    /// The whole literal.
    pub record: Span,
    /// (key span, value span) per field, in field order.
    pub fields: Box<[(Span, Span)]>,
}

impl Record {
    /// A record with these fields (keys assumed distinct).
    pub fn new(fields: Vec<(Sym, Thunk)>) -> Record {
        Record {
            fields: fields.into_boxed_slice(),
            index: OnceCell::new(),
            spans: None,
        }
    }

    /// A record with spans for its fields.
    pub fn with_spans(fields: Vec<(Sym, Thunk)>, spans: Option<Rc<SpanTable>>) -> Record {
        Record {
            fields: fields.into_boxed_slice(),
            index: OnceCell::new(),
            spans,
        }
    }

    /// Position of a key.
    pub fn position(&self, key: Sym) -> Option<usize> {
        if self.fields.len() <= INDEX_THRESHOLD {
            return self.fields.iter().position(|(k, _)| *k == key);
        }
        let index = self.index.get_or_init(|| {
            Box::new(
                self.fields
                    .iter()
                    .enumerate()
                    .map(|(i, (k, _))| (*k, i as u32))
                    .collect(),
            )
        });
        index.get(&key).map(|i| *i as usize)
    }

    /// The thunk of a field.
    pub fn get(&self, key: Sym) -> Option<&Thunk> {
        self.position(key)
            .and_then(|i| self.fields.get(i))
            .map(|(_, t)| t)
    }

    /// The span of a field's value, when known.
    pub fn value_span(&self, key: Sym) -> Option<Span> {
        let i = self.position(key)?;
        self.spans.as_ref()?.fields.get(i).map(|(_, v)| *v)
    }

    /// The span of a field's key, when known.
    pub fn key_span(&self, key: Sym) -> Option<Span> {
        let i = self.position(key)?;
        self.spans.as_ref()?.fields.get(i).map(|(k, _)| *k)
    }

    /// Where the record literal was written, when known.
    pub fn span(&self) -> Option<Span> {
        self.spans.as_ref().map(|s| s.record)
    }

    /// The span of the i-th field's value, when known.
    pub fn value_span_at(&self, i: usize) -> Option<Span> {
        self.spans.as_ref()?.fields.get(i).map(|(_, v)| *v)
    }

    /// Fields in order.
    pub fn fields(&self) -> &[(Sym, Thunk)] {
        &self.fields
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// No fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

/// Builds records keeping the first position of each key and the last value
/// (and, when known, where each value was written).
#[derive(Default)]
pub struct RecordBuilder {
    fields: Vec<(Sym, Thunk)>,
    positions: HashMap<Sym, usize>,
    spans: Vec<Option<(Span, Span)>>,
    record_span: Option<Span>,
}

impl RecordBuilder {
    /// An empty builder.
    pub fn new() -> RecordBuilder {
        RecordBuilder::default()
    }

    /// Sets `key` (replacing an earlier value in place).
    pub fn set(&mut self, key: Sym, value: Thunk) {
        self.set_spanned(key, value, None);
    }

    /// Sets `key` with the (key, value) spans where it was written.
    pub fn set_spanned(&mut self, key: Sym, value: Thunk, spans: Option<(Span, Span)>) {
        match self.positions.get(&key) {
            Some(&i) => {
                if let Some(slot) = self.fields.get_mut(i) {
                    slot.1 = value;
                }
                if let Some(slot) = self.spans.get_mut(i) {
                    *slot = spans.or(*slot);
                }
            }
            None => {
                self.positions.insert(key, self.fields.len());
                self.fields.push((key, value));
                self.spans.push(spans);
            }
        }
    }

    /// Copies every field of `rec` in, with its spans.
    pub fn extend_from(&mut self, rec: &Record) {
        for (i, (k, t)) in rec.fields().iter().enumerate() {
            let spans = rec.spans.as_ref().and_then(|s| s.fields.get(i).copied());
            self.set_spanned(*k, t.clone(), spans);
        }
        if let Some(span) = rec.span() {
            self.record_span = Some(span);
        }
    }

    /// Sets where the record as a whole was written.
    pub fn extend_record_span(&mut self, span: Span) {
        self.record_span = Some(span);
    }

    /// The spans of `key`, if known.
    pub fn spans_of(&self, key: Sym) -> Option<(Span, Span)> {
        self.positions
            .get(&key)
            .and_then(|i| self.spans.get(*i).copied().flatten())
    }

    /// Whether `key` was set.
    pub fn contains(&self, key: Sym) -> bool {
        self.positions.contains_key(&key)
    }

    /// The current thunk of `key`.
    pub fn get(&self, key: Sym) -> Option<&Thunk> {
        self.positions
            .get(&key)
            .and_then(|i| self.fields.get(*i))
            .map(|(_, t)| t)
    }

    /// The finished record.
    pub fn build(self) -> Record {
        let record_span = self
            .record_span
            .or_else(|| self.spans.iter().flatten().next().map(|(k, _)| *k));
        match record_span {
            Some(record) => {
                let fields = self
                    .spans
                    .iter()
                    .map(|s| s.unwrap_or((record, record)))
                    .collect();
                Record::with_spans(self.fields, Some(Rc::new(SpanTable { record, fields })))
            }
            None => Record::new(self.fields),
        }
    }
}
