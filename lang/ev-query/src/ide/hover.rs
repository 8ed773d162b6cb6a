//! Hover: what a name is (its documentation, type or schema) and, when it
//! can be computed, its value (`(secret)` and `(known after apply)` marked).

use ev_syntax::ast::ExprKind;

use super::locate::{self, select_at, touches};
use super::{eval_text, location, name_at, schema_def, show_value, type_at, Location, World};
use crate::docs::{field_doc_full, schema_doc};
use ev_core::eval::Evaluator;
use ev_core::program::NameTarget;

/// Hover text (Markdown) and the range it describes.
#[derive(Clone, Debug, PartialEq)]
pub struct Hover {
    /// Markdown.
    pub markdown: String,
    /// The word or expression hovered.
    pub range: Location,
}

fn code(text: &str) -> String {
    format!("```ev\n{}\n```", text.trim_end())
}

impl World {
    /// Hover at byte `offset` of `path`.
    pub fn hover(&mut self, path: &str, offset: u32) -> Option<Hover> {
        let module = self.module_of(path)?;
        let src = self.text(path)?;
        if let Some(h) = self.hover_field_key(path, &src, module, offset) {
            return Some(h);
        }
        let (program, fs) = self.parts();
        let program = program?;
        let file = program.module(module)?.file;
        let parsed = program.module(module)?.parsed.clone();
        // A field access: evaluate `target.field` in the module's scope.
        if let Some((access, _, field_span)) = select_at(&parsed.module, offset) {
            let static_target = name_at(program, file, field_span.start);
            let base_is_local = base_name(access).is_some_and(|span| {
                matches!(
                    name_at(program, file, span.start).map(|n| n.target),
                    Some(NameTarget::Local(_))
                )
            });
            if static_target.is_none() {
                let text = src.get(access.span.range())?.to_string();
                let mut markdown = code(&text);
                if base_is_local {
                    markdown.push_str("\n\n(depends on a local binding: no value shown)");
                } else if let Some((_, shown)) = eval_text(program, &fs, module, &text) {
                    markdown.push_str(&format!("\n\nValue:\n{}", code(&shown)));
                }
                return Some(Hover {
                    markdown,
                    range: location(program, field_span),
                });
            }
        }
        // A string naming a resource in a `Ref` field (`cluster = "home"`).
        if let Some(r) = self.string_reference_at(path, module, offset) {
            let (program, fs) = self.parts();
            let program = program?;
            let parsed = program.module(module)?.parsed.clone();
            let (_, span) = super::locate::plain_strings(&parsed.module)
                .into_iter()
                .find(|(_, span)| super::locate::touches(*span, offset))?;
            let ev = Evaluator::new(program, &fs);
            return Some(Hover {
                markdown: resource_markdown(program, &ev, r, span)?,
                range: location(program, span),
            });
        }
        let (program, fs) = self.parts();
        let program = program?;
        let name = name_at(program, file, offset).or_else(|| {
            // On a definition: a global's, a resource's or a kind's name.
            definition_at(program, file, offset)
        })?;
        let ev = Evaluator::new(program, &fs);
        let text = src.get(name.span.range()).unwrap_or("").to_string();
        let markdown = match name.target {
            NameTarget::Global(g) => {
                let def = program.global(g)?;
                // A function shows its parameters (with their defaults).
                let signature = match &def.node.ir {
                    ev_core::ir::Ir::Lambda(_) => program
                        .sources
                        .get(def.node.span.file)
                        .and_then(|f| f.text.get(def.node.span.range()))
                        .and_then(|t| t.split("=>").next())
                        .map(|params| format!(" = {} => ...", params.trim())),
                    _ => None,
                };
                let mut md = code(&format!(
                    "let {}{}",
                    def.name.as_str(),
                    signature.as_deref().unwrap_or("")
                ));
                if let Some(doc) = &def.doc {
                    md.push_str(&format!("\n\n{}", doc.trim()));
                }
                match ev.global(g, name.span) {
                    Ok(ev_core::value::Value::Schema(s)) => {
                        md = code(&schema_doc(&s));
                    }
                    Ok(ev_core::value::Value::Func(_)) => {}
                    Ok(v) => md.push_str(&format!(
                        "\n\nValue:\n{}",
                        code(&show_value(&ev, &v, name.span))
                    )),
                    Err(_) => md.push_str("\n\n(cannot be evaluated)"),
                }
                md
            }
            NameTarget::Resource(r) => resource_markdown(program, &ev, r, name.span)?,
            NameTarget::Kind(k) | NameTarget::KindCollection(k) => {
                let def = program.kind(k)?;
                let mut md = code(&format!("kind {}", def.name.as_str()));
                if let Some(schema) = schema_def(program, &ev, &def.schema) {
                    md = code(&format!(
                        "kind {}\n{}",
                        def.name.as_str(),
                        schema_doc(&schema)
                    ));
                }
                if matches!(name.target, NameTarget::KindCollection(_)) {
                    let names: Vec<&str> = program
                        .resources
                        .iter()
                        .filter(|r| r.kind == k)
                        .map(|r| r.name.as_str())
                        .collect();
                    md.push_str(&format!(
                        "\n\nAll {} resources of this kind: {}",
                        names.len(),
                        names
                            .iter()
                            .take(10)
                            .map(|n| format!("`{n}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                md
            }
            NameTarget::Module(m) => {
                let info = program.module(m)?;
                code(&format!("module \"{}\"", info.path))
            }
            NameTarget::Builtin(b) => {
                format!("{}\n\n{}", code(&format!("builtin {}", b.name())), b.doc())
            }
            NameTarget::Local(_) => code(&format!("{text}  # local binding")),
        };
        Some(Hover {
            markdown,
            range: location(program, name.span),
        })
    }

    /// Hover on a field's key inside a resource body: the schema field.
    fn hover_field_key(
        &mut self,
        path: &str,
        src: &str,
        module: ev_core::ir::ModuleId,
        offset: u32,
    ) -> Option<Hover> {
        let (key, span) = key_at(src, offset as usize)?;
        let mut ctx = locate::context(src, span.start);
        let kind = ctx.kind.take()?;
        ctx.steps.push(locate::Step::Field(key.clone()));
        let (parent_steps, _) = ctx.steps.split_at(ctx.steps.len() - 1);
        let parent_steps = parent_steps.to_vec();
        let fs = ev_core::fs::OverlayFs {
            overlay: &self.buffers,
            base: self.base.as_ref(),
        };
        let program = self.loaded()?;
        let ev = Evaluator::new(program, &fs);
        let parent = type_at(program, &ev, module, &kind, &parent_steps)?;
        let schema = schema_def(program, &ev, &parent)?;
        let field = schema.field(ev_core::intern::Sym::new(&key))?;
        let markdown = format!(
            "{}\n\nField of schema `{}` (kind `{kind}`)",
            code(&field_doc_full(field, &program.sources)),
            schema.name.as_str()
        );
        Some(Hover {
            markdown,
            range: Location {
                path: path.to_string(),
                start: span.start as u32,
                end: span.end as u32,
            },
        })
    }
}

/// The name of a record key at `offset` (a word followed by `=` or `.`
/// inside a record, not after `=`).
pub(crate) fn key_at(src: &str, offset: usize) -> Option<(String, std::ops::Range<usize>)> {
    let is_name = |c: char| c.is_alphanumeric() || c == '_' || c == '-';
    let bytes = src.get(..offset)?;
    let start = bytes
        .char_indices()
        .rev()
        .take_while(|(_, c)| is_name(*c))
        .last()
        .map(|(i, _)| i)
        .unwrap_or(offset);
    let end = offset
        + src
            .get(offset..)?
            .char_indices()
            .find(|(_, c)| !is_name(*c))
            .map(|(i, _)| i)
            .unwrap_or(src.len() - offset);
    if start == end {
        return None;
    }
    let after = src.get(end..)?.trim_start_matches([' ', '\t']);
    let before = src.get(..start)?.trim_end_matches([' ', '\t']);
    let starts_field = before.ends_with('{') || before.ends_with(',') || before.ends_with('\n');
    let ends_key = after.starts_with('=') && !after.starts_with("==");
    (starts_field && ends_key).then(|| (src[start..end].to_string(), start..end))
}

/// The span of the base name of a field-access chain.
fn base_name(e: &ev_syntax::ast::Expr) -> Option<ev_syntax::Span> {
    let mut e = e;
    loop {
        match &e.kind {
            ExprKind::Select { target, .. } | ExprKind::Index { target, .. } => e = target,
            ExprKind::Var(_) => return Some(e.span),
            _ => return None,
        }
    }
}

/// A global, resource or kind whose defining name is at `offset`.
pub(crate) fn definition_at(
    program: &ev_core::program::Program,
    file: ev_syntax::FileId,
    offset: u32,
) -> Option<ev_core::program::NameUse> {
    use ev_core::ir::{GlobalRef, KindId, ResourceId};
    use ev_core::program::NameUse;
    for (i, m) in program.modules.iter().enumerate() {
        if m.file != file {
            continue;
        }
        for (slot, g) in m.globals.iter().enumerate() {
            if g.span.file == file && touches(g.span, offset) {
                return Some(NameUse {
                    span: g.span,
                    target: NameTarget::Global(GlobalRef {
                        module: ev_core::ir::ModuleId(i as u32),
                        slot: slot as u32,
                    }),
                });
            }
        }
    }
    for (i, r) in program.resources.iter().enumerate() {
        if r.name_span.file == file && touches(r.name_span, offset) {
            return Some(NameUse {
                span: r.name_span,
                target: NameTarget::Resource(ResourceId(i as u32)),
            });
        }
    }
    for (i, k) in program.kinds.iter().enumerate() {
        if k.name_span.file == file && touches(k.name_span, offset) {
            return Some(NameUse {
                span: k.name_span,
                target: NameTarget::Kind(KindId(i as u32)),
            });
        }
    }
    None
}

fn self_line(program: &ev_core::program::Program, span: ev_syntax::Span) -> usize {
    program
        .sources
        .get(span.file)
        .map(|f| f.line_col(span.start).0 + 1)
        .unwrap_or(0)
}

/// A resource for people: its kind and name, where it is declared, its
/// documentation and its value.
fn resource_markdown(
    program: &ev_core::Program,
    ev: &Evaluator<'_>,
    r: ev_core::ir::ResourceId,
    at: ev_syntax::Span,
) -> Option<String> {
    let def = program.resource(r)?;
    let kind = program
        .kind(def.kind)
        .map(|k| k.name.as_str())
        .unwrap_or("?");
    let declared = location(program, def.name_span);
    let line = self_line(program, def.name_span);
    let mut md = code(&format!("{kind} {}", def.name));
    md.push_str(&format!("\n\nDeclared in `{}:{line}`", declared.path));
    if let Some(doc) = &def.doc {
        md.push_str(&format!("\n\n{}", doc.trim()));
    }
    if let Ok(v) = ev.resource(r, at) {
        md.push_str(&format!("\n\nValue:\n{}", code(&show_value(ev, &v, at))));
    }
    Some(md)
}
