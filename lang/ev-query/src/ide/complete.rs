//! Completion: schema fields in resource bodies (with docs and
//! required/optional marks), fields of a value after a dot, resource names
//! and enum members inside strings, import paths, names in scope, builtins
//! and keywords.

use ev_syntax::ast::{Clause, Expr, ExprKind};

use super::locate::{self, item_exprs, touches, Context, Step};
use super::{eval_text, schema_def, type_at, World};
use crate::docs::{describe_type, field_doc};
use ev_core::builtins::Builtin;
use ev_core::eval::Evaluator;
use ev_core::intern::Sym;
use ev_core::ir::ModuleId;
use ev_core::program::{Binding, Program};
use ev_core::schema::Type;
use ev_core::value::Value;

/// What a completion inserts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompletionKind {
    /// A record or schema field.
    Field,
    /// A resource.
    Resource,
    /// A resource kind.
    Kind,
    /// A function (builtin or `let`).
    Function,
    /// A value binding.
    Variable,
    /// A module alias.
    Module,
    /// A file path.
    File,
    /// A keyword.
    Keyword,
    /// A literal value (an enum member, a resource's name in a string).
    Value,
}

/// One completion proposal.
#[derive(Clone, Debug, PartialEq)]
pub struct CompletionItem {
    /// What is shown and, unless `insert` is set, inserted.
    pub label: String,
    /// What it is.
    pub kind: CompletionKind,
    /// A one-line description (a type, `required`).
    pub detail: Option<String>,
    /// Markdown documentation.
    pub documentation: Option<String>,
    /// The text to insert, when not the label.
    pub insert: Option<String>,
    /// The byte range replaced (the word or string text before the cursor).
    pub replace: (u32, u32),
    /// Sort key (required fields first).
    pub sort: String,
}

const KEYWORDS: &[&str] = &[
    "if", "then", "else", "let", "in", "for", "fn", "null", "true", "false",
];
const ITEM_KEYWORDS: &[&str] = &["let", "import", "export", "schema", "kind"];

impl World {
    /// Completions at byte `offset` of `path`.
    pub fn completions(&mut self, path: &str, offset: u32) -> Vec<CompletionItem> {
        let Some(src) = self.text(path) else {
            return Vec::new();
        };
        let Some(module) = self.module_of(path) else {
            return Vec::new();
        };
        let ctx = locate::context(&src, offset as usize);
        let word = (ctx.word.start as u32, ctx.word.end as u32);
        let prefix = src.get(ctx.word.clone()).unwrap_or("").to_string();
        let mut out = if let Some(text) = &ctx.in_string {
            let replace = (offset - text.len() as u32, offset);
            if ctx.import_path {
                self.import_paths(path, text, replace)
            } else {
                self.field_values(module, &ctx, replace, false)
            }
        } else if let Some(receiver) = &ctx.receiver {
            self.members(module, receiver, word)
        } else if ctx.in_record && ctx.value_of.is_none() && ctx.kind.is_some() {
            self.schema_fields(module, &ctx, word)
        } else {
            let mut items = self.field_values(module, &ctx, word, true);
            items.extend(self.names(module, offset, &ctx, word));
            items
        };
        if !prefix.is_empty() && ctx.in_string.is_none() {
            out.retain(|i| i.label.starts_with(&prefix) || i.label.contains(&prefix));
        }
        out
    }

    fn import_paths(&self, current: &str, text: &str, replace: (u32, u32)) -> Vec<CompletionItem> {
        self.ev_files()
            .into_iter()
            .filter(|p| p != current && p.starts_with(text))
            .map(|p| item(&p, CompletionKind::File, None, None, replace))
            .collect()
    }

    /// The values of the field whose value holds the cursor: the resources
    /// a `Ref` field can name and an enum's members — inside a string as
    /// they are, after `key =` quoted (and `true`/`false` for a Bool),
    /// ahead of the names in scope.
    fn field_values(
        &mut self,
        module: ModuleId,
        ctx: &Context,
        replace: (u32, u32),
        quoted: bool,
    ) -> Vec<CompletionItem> {
        let Some(ty) = self.value_type(module, ctx) else {
            return Vec::new();
        };
        let program = self.program();
        let literal = |text: &str| {
            if quoted {
                format!("\"{text}\"")
            } else {
                text.to_string()
            }
        };
        let ranked = |mut i: CompletionItem, key: &str| {
            if quoted {
                i.sort = format!("0{key}");
            }
            i
        };
        let mut out = Vec::new();
        if let Some(k) = super::ref_kind(&ty) {
            let kind = program.kind(k).map(|d| d.name.as_str()).unwrap_or("");
            for r in program.resources.iter().filter(|r| r.kind == k) {
                let detail = (!quoted).then(|| format!("{kind} {}", r.name));
                let i = item(
                    &literal(&r.name),
                    CompletionKind::Resource,
                    detail,
                    r.doc.clone(),
                    replace,
                );
                out.push(ranked(i, &r.name));
            }
        }
        for lit in ty.literals().unwrap_or_default() {
            let i = item(&literal(&lit), CompletionKind::Value, None, None, replace);
            out.push(ranked(i, &lit));
        }
        if quoted && matches!(ty, Type::Bool) {
            for b in ["true", "false"] {
                out.push(item(b, CompletionKind::Value, None, None, replace));
            }
        }
        out
    }

    /// The declared type of the field whose value holds the cursor.
    fn value_type(&mut self, module: ModuleId, ctx: &Context) -> Option<Type> {
        let kind = ctx.kind.as_ref()?;
        let key = ctx.value_of.as_ref()?;
        let mut steps = ctx.steps.clone();
        steps.push(Step::Field(key.clone()));
        let (program, fs) = self.parts();
        let program = program?;
        let ev = Evaluator::new(program, &fs);
        let ty = type_at(program, &ev, module, kind, &steps)?;
        Some(match ty {
            Type::List(inner) => *inner,
            other => other,
        })
    }

    /// After `receiver.`: the fields of its value (schema docs when the
    /// receiver is a resource), a kind's resources, a module's exports.
    fn members(
        &mut self,
        module: ModuleId,
        receiver: &str,
        replace: (u32, u32),
    ) -> Vec<CompletionItem> {
        let docs = self.field_docs_of(module, receiver);
        let (program, fs) = self.parts();
        let Some(program) = program else {
            return Vec::new();
        };
        let kind_collection = match program
            .module(module)
            .and_then(|m| m.scope.get(&Sym::new(receiver)).map(|(b, _)| *b))
            .or_else(|| program.prelude.get(&Sym::new(receiver)).copied())
        {
            Some(Binding::Kind(k)) => Some(k),
            _ => None,
        };
        if let Some(k) = kind_collection {
            return program
                .resources
                .iter()
                .filter(|r| r.kind == k)
                .map(|r| {
                    item(
                        &r.name,
                        CompletionKind::Resource,
                        Some(format!("{receiver} {}", r.name)),
                        r.doc.clone(),
                        replace,
                    )
                })
                .collect();
        }
        let Some((Value::Record(record), _)) = eval_text(program, &fs, module, receiver) else {
            return Vec::new();
        };
        let span = record
            .span()
            .unwrap_or(ev_syntax::Span::new(ev_syntax::FileId(0), 0, 0));
        let ev = Evaluator::new(program, &fs);
        record
            .fields()
            .iter()
            .map(|(name, thunk)| {
                let detail = ev
                    .force(thunk, span)
                    .map(|v| describe_type(&v))
                    .unwrap_or_else(|_| "?".into());
                let doc = docs
                    .iter()
                    .find(|(n, _)| n == name.as_str())
                    .map(|(_, d)| d.clone());
                item(
                    name.as_str(),
                    CompletionKind::Field,
                    Some(detail),
                    doc,
                    replace,
                )
            })
            .collect()
    }

    /// Field documentation for `kind.resource[.field...]` chains.
    fn field_docs_of(&mut self, module: ModuleId, receiver: &str) -> Vec<(String, String)> {
        let mut parts = receiver.split('.');
        let (Some(kind), Some(_resource)) = (parts.next(), parts.next()) else {
            return Vec::new();
        };
        let steps: Vec<Step> = parts.map(|p| Step::Field(p.to_string())).collect();
        let (program, fs) = self.parts();
        let Some(program) = program else {
            return Vec::new();
        };
        let ev = Evaluator::new(program, &fs);
        let Some(schema) =
            type_at(program, &ev, module, kind, &steps).and_then(|t| schema_def(program, &ev, &t))
        else {
            return Vec::new();
        };
        schema
            .fields
            .iter()
            .map(|f| (f.name.as_str().to_string(), field_doc(f)))
            .collect()
    }

    /// In a resource body at a key's position: the schema's fields not
    /// written yet, required ones first.
    fn schema_fields(
        &mut self,
        module: ModuleId,
        ctx: &Context,
        replace: (u32, u32),
    ) -> Vec<CompletionItem> {
        let Some(kind) = &ctx.kind else {
            return Vec::new();
        };
        let (program, fs) = self.parts();
        let Some(program) = program else {
            return Vec::new();
        };
        let ev = Evaluator::new(program, &fs);
        let Some(schema) = type_at(program, &ev, module, kind, &ctx.steps)
            .and_then(|t| schema_def(program, &ev, &t))
        else {
            return Vec::new();
        };
        schema
            .fields
            .iter()
            .filter(|f| !ctx.siblings.iter().any(|s| s == f.name.as_str()))
            // A resource's name comes from its declaration.
            .filter(|f| !(ctx.steps.is_empty() && f.name.as_str() == "name"))
            .map(|f| {
                let required = !f.optional && f.default.is_none();
                let marks = if required {
                    "required"
                } else if f.optional {
                    "optional"
                } else {
                    "has a default"
                };
                let mut i = item(
                    f.name.as_str(),
                    CompletionKind::Field,
                    Some(format!("{} ({marks})", f.ty)),
                    Some(field_doc(f)),
                    replace,
                );
                i.insert = Some(format!("{} = ", f.name.as_str()));
                i.sort = format!("{}{}", if required { 0 } else { 1 }, f.name.as_str());
                i
            })
            .collect()
    }

    /// Names in scope at the cursor: locals, the module's and the
    /// prelude's names, builtins, keywords.
    fn names(
        &mut self,
        module: ModuleId,
        offset: u32,
        ctx: &Context,
        replace: (u32, u32),
    ) -> Vec<CompletionItem> {
        let program = self.program();
        let mut out = Vec::new();
        if let Some(m) = program.module(module) {
            for name in locals_at(&m.parsed.module, offset) {
                out.push(item(
                    &name,
                    CompletionKind::Variable,
                    Some("local".into()),
                    None,
                    replace,
                ));
            }
        }
        for name in program.visible_names(module) {
            let binding = program
                .module(module)
                .and_then(|m| m.scope.get(&Sym::new(&name)).map(|(b, _)| *b))
                .or_else(|| program.prelude.get(&Sym::new(&name)).copied());
            let (kind, detail, doc) = describe(program, binding);
            out.push(item(&name, kind, detail, doc, replace));
        }
        for b in Builtin::ALL {
            out.push(item(
                b.name(),
                CompletionKind::Function,
                Some("builtin".into()),
                Some(b.doc().to_string()),
                replace,
            ));
        }
        let keywords = if ctx.top_level {
            ITEM_KEYWORDS
        } else {
            KEYWORDS
        };
        for k in keywords {
            let mut i = item(k, CompletionKind::Keyword, None, None, replace);
            i.sort = format!("9{k}");
            out.push(i);
        }
        let mut seen = std::collections::HashSet::new();
        out.retain(|i| seen.insert(i.label.clone()));
        out
    }
}

fn item(
    label: &str,
    kind: CompletionKind,
    detail: Option<String>,
    documentation: Option<String>,
    replace: (u32, u32),
) -> CompletionItem {
    CompletionItem {
        label: label.to_string(),
        kind,
        detail,
        documentation,
        insert: None,
        replace,
        sort: format!("5{label}"),
    }
}

fn describe(
    program: &Program,
    binding: Option<Binding>,
) -> (CompletionKind, Option<String>, Option<String>) {
    match binding {
        Some(Binding::Global(g)) => {
            let def = program.global(g);
            let is_fn = def.is_some_and(|d| matches!(d.node.ir, ev_core::ir::Ir::Lambda(_)));
            (
                if is_fn {
                    CompletionKind::Function
                } else {
                    CompletionKind::Variable
                },
                None,
                def.and_then(|d| d.doc.clone()),
            )
        }
        Some(Binding::Resource(r)) => {
            let def = program.resource(r);
            let kind = def
                .and_then(|d| program.kind(d.kind))
                .map(|k| k.name.as_str())
                .unwrap_or("");
            (
                CompletionKind::Resource,
                Some(format!("{kind} resource")),
                def.and_then(|d| d.doc.clone()),
            )
        }
        Some(Binding::Kind(_)) => (CompletionKind::Kind, Some("kind".into()), None),
        Some(Binding::Module(m)) => (
            CompletionKind::Module,
            program.module(m).map(|m| format!("module \"{}\"", m.path)),
            None,
        ),
        Some(Binding::Builtin(b)) => (
            CompletionKind::Function,
            Some("builtin".into()),
            Some(b.doc().to_string()),
        ),
        _ => (CompletionKind::Variable, None, None),
    }
}

/// Local names whose scope holds `offset`: `let ... in` bindings,
/// function parameters, comprehension variables.
fn locals_at(module: &ev_syntax::ast::Module, offset: u32) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack: Vec<&Expr> = item_exprs(module)
        .into_iter()
        .filter(|e| touches(e.span, offset))
        .collect();
    while let Some(e) = stack.pop() {
        match &e.kind {
            ExprKind::Let { bindings, .. } => {
                out.extend(bindings.iter().map(|(n, _)| n.name.clone()))
            }
            ExprKind::Lambda { params, .. } => {
                out.extend(params.iter().map(|p| p.name.name.clone()))
            }
            ExprKind::ListComp { clauses, .. } | ExprKind::RecordComp { clauses, .. } => {
                for c in clauses {
                    if let Clause::For { vars, .. } = c {
                        out.extend(vars.iter().map(|v| v.name.clone()));
                    }
                }
            }
            _ => {}
        }
        stack.extend(
            super::locate::children_of(e)
                .into_iter()
                .filter(|c| touches(c.span, offset)),
        );
    }
    out
}
