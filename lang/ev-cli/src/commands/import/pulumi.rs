//! `ev import pulumi`: a stack from what `pulumi stack export` writes, as a
//! `stack` declaration on the stack's own state backend (see the module
//! above for the steps every import takes). Its outputs are written to the
//! stack's export file, as an apply writes them, so what reads them is
//! known; the stack is then recorded as applied.

use std::path::Path;

use ev_apply::confined::{Area, Mode, Writer};
use ev_deploy::import::pulumi;
use ev_deploy::plan::state::ActionState;
use ev_deploy::plan::{ActionId, Artifact, BackendId};

use super::{alias, read_entry, record, refused, write_and_load, Declaration};
use crate::printer::Output;
use crate::settings::Settings;

/// The largest export read.
const MAX_INPUT: u64 = 256 << 20;

/// Runs `ev import pulumi`.
pub fn run(
    settings: &Settings,
    backend: &str,
    name: Option<&str>,
    into: &str,
    export_file: &Path,
) -> Output {
    let mut out = Output::default();
    let Some(loaded) = super::super::loaded(settings, &mut out) else {
        return out;
    };
    let origin = export_file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let refused = |problems: Vec<String>| {
        refused(
            settings,
            problems,
            "nothing was written; a stack is imported whole or not at all",
        )
    };
    let text = match super::read_input(export_file, MAX_INPUT) {
        Ok(t) => t,
        Err(why) => return refused(vec![format!("  {origin}: {why}")]),
    };
    let export = match pulumi::read_export(&text) {
        Ok(e) => e,
        Err(problems) => {
            return refused(
                problems
                    .iter()
                    .map(|p| match p.at.as_str() {
                        "" => format!("  {origin}: {}", p.why),
                        at => format!("  {origin}: {at}: {}", p.why),
                    })
                    .collect(),
            )
        }
    };
    let name = name.unwrap_or(&export.project).to_string();
    let mut problems = Vec::new();
    if !is_name(&name) {
        problems.push(format!(
            "  `{name}` is no stack name ev can declare (letters, digits and `-`; `--name` gives another)"
        ));
    }
    if loaded.model.of_kind("stack").any(|s| s.key.name == name) {
        problems.push(format!("  the program already declares stack `{name}`"));
    }
    if backend.is_empty() || backend.starts_with('-') || backend.chars().any(char::is_control) {
        problems.push(format!("  --backend `{backend}` is no Pulumi backend URL"));
    }
    let target = format!("{}/{name}.ev", into.trim_end_matches('/'));
    if std::fs::symlink_metadata(settings.root.join(&target)).is_ok() {
        problems.push(format!("  {target} exists already"));
    }
    if !problems.is_empty() {
        return refused(problems);
    }
    let entry = match read_entry(settings, "stack") {
        Ok(text) => text,
        Err(out) => return out,
    };

    // Written: the declaration, then the outputs where the stack keeps them.
    let declaration = Declaration {
        target: target.clone(),
        text: pulumi::declaration(&name, &export, backend, &origin),
        alias: alias("stack", &name),
    };
    let (mut written, loaded_once) = match write_and_load(settings, entry, &[declaration]) {
        Ok(w) => w,
        Err(out) => return out,
    };
    let outputs_file = loaded_once
        .model
        .of_kind("stack")
        .find(|s| s.key.name == name)
        .and_then(|s| s.value.get("outputs_file"))
        .and_then(|f| f.as_str())
        .unwrap_or_default()
        .to_string();
    if outputs_file.is_empty()
        || std::fs::symlink_metadata(settings.root.join(&outputs_file)).is_ok()
    {
        return refused(vec![format!(
            "  {outputs_file}: the stack's outputs file exists already"
        )]);
    }
    let outputs = serde_json::to_string_pretty(&export.outputs).unwrap_or_default() + "\n";
    if let Err(e) = Writer::new(&settings.root).write(
        Area::Exports,
        &outputs_file,
        outputs.as_bytes(),
        Mode::Durable,
    ) {
        return Output::usage(settings, super::super::cannot_write(&outputs_file, &e));
    }
    written.files.push(outputs_file.clone());
    let mut out = Output::default();
    let Some(reloaded) = super::super::loaded(settings, &mut out) else {
        return out;
    };

    // The program as it now is must render what was read.
    let graph = ev_deploy::plan::lower(&reloaded.model, &reloaded.fs);
    let id = ActionId::new(BackendId::Pulumi, &name, &name).to_string();
    let Some(action) = graph.get(&id) else {
        return super::unlike(
            settings,
            &[format!("  no action runs stack {name}")],
            "stack export",
        );
    };
    let mut unlike = Vec::new();
    if let Artifact::Pulumi(program) = &action.artifact {
        if program.resources != export.resources {
            unlike.push(format!(
                "  {name}: the program renders the resources {} where the export has {}",
                serde_json::to_string(&program.resources).unwrap_or_default(),
                serde_json::to_string(&export.resources).unwrap_or_default()
            ));
        }
        if program.outputs != export.exports
            || (
                program.project.as_str(),
                program.stack.as_str(),
                program.backend.as_str(),
            ) != (export.project.as_str(), export.stack.as_str(), backend)
        {
            unlike.push(format!(
                "  {name}: the program renders other outputs or another stack"
            ));
        }
    } else {
        unlike.push(format!("  {name}: not a Pulumi action"));
    }
    if action.exports_pending || action.unknowns.any() {
        unlike.push(format!(
            "  {name}: its outputs are not known from {outputs_file}"
        ));
    }
    if !unlike.is_empty() {
        return super::unlike(settings, &unlike, "stack export");
    }

    // Recorded as applied, under the apply lock.
    let recorded = record(settings, &reloaded, |state| {
        if state.actions.contains_key(&action.id) {
            return Err(refused(vec![format!(
                "  the state already records `{}`",
                action.id
            )]));
        }
        Ok(vec![(action.id.clone(), ActionState::of(action))])
    });
    if let Err(out) = recorded {
        return out;
    }
    written.kept = true;
    Output {
        stderr: format!(
            "imported stack {}/{} ({} resources, {} outputs) into {target}, its outputs into {outputs_file}; recorded in the state as applied, on backend {backend}\nits config (provider credentials, settings) is not in an export: declare it in the stack's `config` before the next apply\n",
            export.project,
            export.stack,
            export.resources.len(),
            export.exports.len()
        ),
        ..Output::default()
    }
}

/// Whether `name` can name a stack (and its folders): letters, digits and
/// `-`, a letter first.
fn is_name(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}
