//! Document symbols (a file's items, resources as a tree of their fields)
//! and workspace symbols (every declaration of the program, by query).

use ev_syntax::ast::{Expr, ExprKind, ItemKind, KeyKind};
use ev_syntax::{FileId, Span};

use super::{Location, World};

/// What a symbol is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SymbolKind {
    /// A resource declaration.
    Resource,
    /// A `kind` declaration.
    Kind,
    /// A `schema` declaration.
    Schema,
    /// A field of a record or schema.
    Field,
    /// A `let` bound to a function.
    Function,
    /// Any other `let`.
    Variable,
}

/// A named item of a file.
#[derive(Clone, Debug, PartialEq)]
pub struct Symbol {
    /// Its name.
    pub name: String,
    /// A short description (a resource's kind, a field's type).
    pub detail: Option<String>,
    /// What it is.
    pub kind: SymbolKind,
    /// The whole item.
    pub location: Location,
    /// Its name.
    pub selection: Location,
    /// Nested symbols (a resource's fields).
    pub children: Vec<Symbol>,
}

impl World {
    /// The symbols of one file, in source order.
    pub fn document_symbols(&self, path: &str) -> Vec<Symbol> {
        let Some(text) = self.text(path) else {
            return Vec::new();
        };
        // The loaded program's parse when it has the file (workspace
        // symbols ask for every file), else a parse of the text.
        let loaded = self.loaded().and_then(|p| {
            let m = p.module(p.module_by_path(path)?)?;
            let current = p.sources.get(m.file).is_some_and(|f| *f.text == *text);
            current.then(|| m.parsed.clone())
        });
        let parsed =
            loaded.unwrap_or_else(|| std::rc::Rc::new(ev_syntax::parse_module(&text, FileId(0))));
        let loc = |span: Span| Location {
            path: path.to_string(),
            start: span.start,
            end: span.end,
        };
        let mut out = Vec::new();
        for item in &parsed.module.items {
            match &item.kind {
                ItemKind::Let { name, value } => out.push(Symbol {
                    name: name.name.clone(),
                    detail: None,
                    kind: if matches!(value.kind, ExprKind::Lambda { .. }) {
                        SymbolKind::Function
                    } else {
                        SymbolKind::Variable
                    },
                    location: loc(item.span),
                    selection: loc(name.span),
                    children: record_fields(value, &loc, 2),
                }),
                ItemKind::Schema(schema) => out.push(Symbol {
                    name: schema.name.name.clone(),
                    detail: Some("schema".into()),
                    kind: SymbolKind::Schema,
                    location: loc(item.span),
                    selection: loc(schema.name.span),
                    children: schema
                        .fields
                        .iter()
                        .map(|f| Symbol {
                            name: f.name.name.clone(),
                            detail: text.get(f.ty.span.range()).map(str::to_string),
                            kind: SymbolKind::Field,
                            location: loc(f.span),
                            selection: loc(f.name.span),
                            children: Vec::new(),
                        })
                        .collect(),
                }),
                ItemKind::Kind { name, .. } => out.push(Symbol {
                    name: name.name.clone(),
                    detail: Some("kind".into()),
                    kind: SymbolKind::Kind,
                    location: loc(item.span),
                    selection: loc(name.span),
                    children: Vec::new(),
                }),
                ItemKind::Resource(res) => out.push(Symbol {
                    name: res.name.value.clone(),
                    detail: Some(res.kind.name.clone()),
                    kind: SymbolKind::Resource,
                    location: loc(item.span),
                    selection: loc(res.name.span),
                    children: record_fields(&res.body, &loc, 2),
                }),
                ItemKind::Import(_) | ItemKind::Error => {}
            }
        }
        out
    }

    /// Declarations of the whole program whose name matches `query` (its
    /// characters in order, any case), at most 500.
    pub fn workspace_symbols(&mut self, query: &str) -> Vec<Symbol> {
        let query = query.to_lowercase();
        let paths: Vec<String> = self
            .program()
            .modules
            .iter()
            .filter(|m| !m.is_stdlib)
            .map(|m| m.path.clone())
            .collect();
        let mut out = Vec::new();
        for path in paths {
            for mut symbol in self.document_symbols(&path) {
                if matches_query(&symbol.name, &query) {
                    symbol.children.clear();
                    out.push(symbol);
                    if out.len() >= 500 {
                        return out;
                    }
                }
            }
        }
        out
    }
}

/// Whether `query`'s characters appear in `name` in order.
fn matches_query(name: &str, query: &str) -> bool {
    let mut chars = name.chars().flat_map(char::to_lowercase);
    query.chars().all(|q| chars.any(|c| c == q))
}

/// The fields of a record literal as symbols, `depth` levels deep.
fn record_fields(e: &Expr, loc: &dyn Fn(Span) -> Location, depth: usize) -> Vec<Symbol> {
    let ExprKind::Record(fields) = &e.kind else {
        return Vec::new();
    };
    if depth == 0 {
        return Vec::new();
    }
    fields
        .iter()
        .filter_map(|f| {
            let names: Vec<&str> = f
                .path
                .iter()
                .map(|k| match &k.kind {
                    KeyKind::Static(s) => Some(s.as_str()),
                    KeyKind::Dynamic(_) => None,
                })
                .collect::<Option<Vec<_>>>()?;
            let first = f.path.first()?;
            let last = f.path.last()?;
            Some(Symbol {
                name: names.join("."),
                detail: None,
                kind: SymbolKind::Field,
                location: loc(f.span),
                selection: loc(first.span.to(last.span)),
                children: record_fields(&f.value, loc, depth - 1),
            })
        })
        .collect()
}
