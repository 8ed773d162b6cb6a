//! Navigation: go to definition, find references, rename.
//!
//! Names resolve through the program's name index (every occurrence the
//! compiler bound). Field accesses it cannot resolve statically are
//! evaluated: a record written in ev knows where its fields were written;
//! a value read from a JSON file (`json("magic/keys.json")`) is found in
//! that file by its key path.

use ev_syntax::Span;

use super::hover::{definition_at, key_at};
use super::locate::{self, plain_strings, select_at};
use super::{definition_span, location, name_at, schema_def, type_at, Location, TextEdit, World};
use crate::trace::Definition;
use ev_core::eval::Evaluator;
use ev_core::intern::Sym;
use ev_core::ir::{KindId, ModuleId, ResourceId};
use ev_core::program::{NameTarget, NameUse, Program};

impl World {
    /// Where the thing at `offset` of `path` is defined.
    pub fn definition(&mut self, path: &str, offset: u32) -> Vec<Location> {
        self.definition_inner(path, offset).into_iter().collect()
    }

    fn definition_inner(&mut self, path: &str, offset: u32) -> Option<Location> {
        let module = self.module_of(path)?;
        let src = self.text(path)?;
        // A field key in a resource body: the schema field.
        if let Some((key, range)) = key_at(&src, offset as usize) {
            let mut ctx = locate::context(&src, range.start);
            if let Some(kind) = ctx.kind.take() {
                let program = self.loaded()?;
                let fs = self.fs();
                let ev = Evaluator::new(program, &fs);
                let parent = type_at(program, &ev, module, &kind, &ctx.steps)?;
                let schema = schema_def(program, &ev, &parent)?;
                let field = schema.field(Sym::new(&key))?;
                return Some(location(program, field.name_span));
            }
        }
        let program = self.loaded()?;
        let file = program.module(module)?.file;
        if let Some(name) = name_at(program, file, offset) {
            return definition_span(program, name.target).map(|s| location(program, s));
        }
        // A resource named in a string (`cluster = "k3s"`).
        if let Some(r) = self.string_reference_at(path, module, offset) {
            let program = self.loaded()?;
            return program.resource(r).map(|d| location(program, d.name_span));
        }
        self.field_definition(module, offset)
    }

    /// The resource a string literal at `offset` names, when the schema
    /// types its field as a reference (`Ref(cluster)`).
    pub(super) fn string_reference_at(
        &mut self,
        path: &str,
        module: ModuleId,
        offset: u32,
    ) -> Option<ResourceId> {
        let program = self.loaded()?;
        let parsed = program.module(module)?.parsed.clone();
        let (value, _) = plain_strings(&parsed.module)
            .into_iter()
            .find(|(_, span)| locate::touches(*span, offset))?;
        let kind = self.reference_kind_at(path, module, offset)?;
        let program = self.loaded()?;
        program
            .resources
            .iter()
            .position(|r| r.kind == kind && r.name == value)
            .map(|i| ResourceId(i as u32))
    }

    /// The kind a string at `offset` must name, from the schema.
    fn reference_kind_at(&mut self, path: &str, module: ModuleId, offset: u32) -> Option<KindId> {
        let src = self.text(path)?;
        let mut ctx = locate::context(&src, offset as usize);
        let kind = ctx.kind.take()?;
        let key = ctx.value_of.take()?;
        ctx.steps.push(locate::Step::Field(key));
        let program = self.loaded()?;
        let fs = self.fs();
        let ev = Evaluator::new(program, &fs);
        let ty = type_at(program, &ev, module, &kind, &ctx.steps)?;
        super::ref_kind(&ty)
    }

    /// Definition of `target.field` found by evaluation (the trace `:why`
    /// follows, see [`crate::trace`]).
    fn field_definition(&mut self, module: ModuleId, offset: u32) -> Option<Location> {
        let program = self.loaded()?;
        let parsed = program.module(module)?.parsed.clone();
        let (access, _, _) = select_at(&parsed.module, offset)?;
        let path = crate::trace::path_of(program, module, access)?;
        let fs = self.fs();
        let ev = Evaluator::new(program, &fs);
        match crate::trace::trace(program, &ev, &fs, path).definition()? {
            Definition::Source(span) => Some(location(program, span)),
            Definition::Data { file, start, end } => Some(Location {
                path: file,
                start: start as u32,
                end: end as u32,
            }),
        }
    }

    /// Every place the thing at `offset` is used (and declared, when asked).
    pub fn references(
        &mut self,
        path: &str,
        offset: u32,
        include_declaration: bool,
    ) -> Vec<Location> {
        let Some((target, _)) = self.target_at(path, offset) else {
            return Vec::new();
        };
        let mut out: Vec<Location> = self
            .occurrences(target, include_declaration)
            .into_iter()
            .map(|(l, _)| l)
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The name target at `offset` (a use, or a definition's name).
    fn target_at(&mut self, path: &str, offset: u32) -> Option<(NameTarget, Span)> {
        let module = self.module_of(path)?;
        let program = self.loaded()?;
        let file = program.module(module)?.file;
        if let Some(n) =
            name_at(program, file, offset).or_else(|| definition_at(program, file, offset))
        {
            return Some((normalize(n.target), n.span));
        }
        let r = self.string_reference_at(path, module, offset)?;
        let program = self.loaded()?;
        Some((NameTarget::Resource(r), program.resource(r)?.name_span))
    }

    /// Occurrences of a target: locations and whether each is a string
    /// reference (`"name"`, whose quotes are not part of the name).
    fn occurrences(
        &mut self,
        target: NameTarget,
        include_declaration: bool,
    ) -> Vec<(Location, bool)> {
        let Some(program) = self.loaded() else {
            return Vec::new();
        };
        let mut out: Vec<(Location, bool)> = program
            .names
            .iter()
            .filter(|n| normalize(n.target) == target)
            .filter(|n| include_declaration || !is_declaration(program, n, target))
            .map(|n| (location(program, n.span), false))
            .collect();
        if include_declaration {
            if let Some(span) = definition_span(program, target) {
                if !matches!(target, NameTarget::Module(_)) {
                    out.push((location(program, span), false));
                }
            }
        }
        if let NameTarget::Resource(r) = target {
            out.extend(self.string_references(r).into_iter().map(|l| (l, true)));
        }
        out.sort();
        out.dedup();
        out
    }

    /// Strings naming resource `r` in fields typed `Ref(its kind)`.
    fn string_references(&mut self, r: ResourceId) -> Vec<Location> {
        let Some(program) = self.loaded() else {
            return Vec::new();
        };
        let Some(def) = program.resource(r) else {
            return Vec::new();
        };
        let (kind, name) = (def.kind, def.name.clone());
        let candidates: Vec<(String, ModuleId, Span)> = program
            .modules
            .iter()
            .enumerate()
            .filter(|(_, m)| !m.is_stdlib)
            .flat_map(|(i, m)| {
                plain_strings(&m.parsed.module)
                    .into_iter()
                    .filter(|(value, _)| *value == name)
                    .map(move |(_, span)| (m.path.clone(), ModuleId(i as u32), span))
            })
            .collect();
        let mut out = Vec::new();
        for (path, module, span) in candidates {
            if self.reference_kind_at(&path, module, span.start + 1) == Some(kind) {
                out.push(Location {
                    path,
                    start: span.start,
                    end: span.end,
                });
            }
        }
        out
    }

    /// Checks that the thing at `offset` can be renamed: its range.
    pub fn prepare_rename(&mut self, path: &str, offset: u32) -> Result<Location, String> {
        let (target, span) = self
            .target_at(path, offset)
            .ok_or_else(|| "nothing to rename here".to_string())?;
        self.renamable(target)?;
        let program = self.loaded().ok_or("no program")?;
        Ok(location(program, span))
    }

    fn renamable(&self, target: NameTarget) -> Result<(), String> {
        let program = self.loaded().ok_or("no program")?;
        let def = match target {
            NameTarget::Global(_) | NameTarget::Local(_) => definition_span(program, target),
            NameTarget::Resource(r) => {
                let d = program.resource(r).ok_or("no such resource")?;
                let text = program
                    .sources
                    .get(d.name_span.file)
                    .and_then(|f| f.text.get(d.name_span.range()).map(str::to_string))
                    .unwrap_or_default();
                if text.starts_with('"') {
                    return Err(format!(
                        "`{}` is named by a string; only resources named by an identifier can be renamed",
                        d.name
                    ));
                }
                Some(d.name_span)
            }
            NameTarget::Builtin(b) => return Err(format!("`{}` is a builtin", b.name())),
            NameTarget::Module(_) => return Err("modules are renamed by moving their file".into()),
            NameTarget::Kind(_) | NameTarget::KindCollection(_) => definition_span(program, target),
        };
        let in_stdlib = def
            .and_then(|s| program.sources.get(s.file))
            .is_some_and(|f| f.path.starts_with("stdlib/"))
            && program
                .modules
                .iter()
                .any(|m| m.is_stdlib && Some(m.file) == def.map(|d| d.file));
        if in_stdlib {
            return Err("this is defined in the standard library".into());
        }
        Ok(())
    }

    /// Renames the thing at `offset` everywhere: edits for every file.
    pub fn rename(
        &mut self,
        path: &str,
        offset: u32,
        new_name: &str,
    ) -> Result<Vec<TextEdit>, String> {
        let (target, span) = self
            .target_at(path, offset)
            .ok_or_else(|| "nothing to rename here".to_string())?;
        self.renamable(target)?;
        if !is_identifier(new_name) {
            return Err(format!("`{new_name}` is not a valid name"));
        }
        let program = self.loaded().ok_or("no program")?;
        let def = definition_span(program, target).unwrap_or(span);
        let old = program
            .sources
            .get(def.file)
            .and_then(|f| f.text.get(def.range()).map(str::to_string))
            .ok_or("cannot read the definition")?;
        if old == new_name {
            return Ok(Vec::new());
        }
        let program = self.loaded().ok_or("no program")?;
        // Every file sees the builtins and the standard library's exports:
        // taking one of their names would capture its uses
        // (`a("", web_ip)` would become `a("", a)`).
        let new_sym = Sym::new(new_name);
        if ev_core::builtins::Builtin::from_name(new_name).is_some() {
            return Err(format!(
                "`{new_name}` is a builtin function: uses of it would refer to the renamed name instead"
            ));
        }
        if program.prelude.contains_key(&new_sym) {
            return Err(format!(
                "`{new_name}` is exported by the standard library and visible in every file: uses of it would refer to the renamed name instead"
            ));
        }
        let occurrences = self.occurrences(target, true);
        let program = self.loaded().ok_or("no program")?;
        // The new name must not clash at the top level of any file where
        // the old one is written.
        if !matches!(target, NameTarget::Local(_)) {
            for (loc, _) in &occurrences {
                let module = program.modules.iter().find(|m| m.path == loc.path);
                if let Some((_, first)) = module.and_then(|m| m.scope.get(&Sym::new(new_name))) {
                    let at = location(program, *first);
                    let line = program
                        .sources
                        .get(first.file)
                        .map(|f| f.line_col(first.start).0 + 1)
                        .unwrap_or(0);
                    return Err(format!(
                        "`{new_name}` is already defined at {}:{line}",
                        at.path
                    ));
                }
            }
        }
        let mut edits = Vec::new();
        for (loc, quoted) in occurrences {
            let Some(text) = self.text(&loc.path) else {
                continue;
            };
            let written = text.get(loc.start as usize..loc.end as usize).unwrap_or("");
            if quoted {
                if written == format!("\"{old}\"") {
                    edits.push(TextEdit {
                        offered: None,
                        location: Location {
                            path: loc.path.clone(),
                            start: loc.start + 1,
                            end: loc.end - 1,
                        },
                        text: new_name.to_string(),
                    });
                }
            } else if written == old {
                // Uses through an import alias keep the alias.
                edits.push(TextEdit {
                    location: loc,
                    text: new_name.to_string(),
                    offered: None,
                });
            }
        }
        if let NameTarget::Resource(resource) = target {
            edits.extend(self.moved_offer(resource, new_name));
        }
        Ok(edits)
    }

    /// A resource realized by an action of its own (a machine, image,
    /// stack, cluster) gets a new action id with a new name: the rename
    /// offers a `moved` after its declaration, so the next plan keeps what
    /// the old id applied instead of destroying it and creating the new
    /// one (a `moved` no state needs does nothing).
    fn moved_offer(&mut self, resource: ResourceId, new_name: &str) -> Option<TextEdit> {
        let program = self.loaded()?;
        let def = program.resource(resource)?;
        let kind = program.kind(def.kind)?.name.to_string();
        let key = ev_core::model::ResourceKey {
            kind,
            name: def.name.clone(),
        };
        let fs = self.fs();
        let ev = Evaluator::new(program, &fs);
        let (model, _) = ev_deploy::build_model(program, &ev);
        let graph = ev_deploy::plan::lower(&model, &fs);
        let old = graph
            .ordered()
            .into_iter()
            .filter(|a| a.resources.contains(&key))
            .filter_map(|a| a.typed_id())
            .find(|id| id.name == def.name)?;
        let new = ev_deploy::plan::ActionId::new(old.backend, &old.layer, new_name);
        let moved_kind = (0..program.kinds.len())
            .map(|i| KindId(i as u32))
            .find(|k| program.kind(*k).is_some_and(|k| k.name.as_str() == "moved"))?;
        let stem = format!("{}_to_{new_name}", def.name);
        let name = std::iter::once(stem.clone())
            .chain((2..).map(|n| format!("{stem}_{n}")))
            .find(|n| program.resource_named(moved_kind, n).is_none())?;
        let path = program.sources.get(def.span.file)?.path.clone();
        let text = format!(
            "\n\n## `{}` was renamed `{new_name}`: the next plan keeps what it applied.\nmoved {name} {{\n  from = {}\n  to = {}\n}}",
            def.name,
            ev_core::output::quote(&old.to_string()),
            ev_core::output::quote(&new.to_string()),
        );
        Some(TextEdit {
            location: Location {
                path,
                start: def.span.end,
                end: def.span.end,
            },
            text,
            offered: Some(format!(
                "Record the move: the next plan keeps what `{old}` applied"
            )),
        })
    }
}

/// Kinds are one target whether declared, named or read as a collection.
fn normalize(target: NameTarget) -> NameTarget {
    match target {
        NameTarget::KindCollection(k) => NameTarget::Kind(k),
        other => other,
    }
}

/// Whether a name occurrence is the target's own definition.
fn is_declaration(program: &Program, n: &NameUse, target: NameTarget) -> bool {
    definition_span(program, target) == Some(n.span)
}

/// Whether `name` lexes as exactly one identifier (not a keyword).
fn is_identifier(name: &str) -> bool {
    let lexed = ev_syntax::lexer::lex(name, ev_syntax::FileId(0));
    lexed.errors.is_empty()
        && matches!(lexed.tokens.as_slice(), [(ev_syntax::token::Token::Ident(n), _)] if *n == name)
}
