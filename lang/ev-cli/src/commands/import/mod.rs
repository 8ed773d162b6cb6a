//! `ev import`: declarations written from what already runs, one
//! subcommand per layer (`dns.rs`, `k8s.rs`), each in the same steps.
//! Every input is read and checked before anything is written (E0617
//! names everything that cannot be imported); the declarations are
//! written as new files, each imported by the entry file; the program as
//! it now is must render exactly what was read (else E0618, and the files
//! are taken back); only then is what was imported recorded in the state,
//! under the apply lock.

mod dns;
mod k8s;
mod pulumi;

use std::time::Duration;

use ev_apply::confined::Writer;
use ev_apply::state_backend::Lease;
use ev_apply::state_file::StateFile;
use ev_deploy::plan::state::{ActionState, State};

use crate::cli::ImportCommand;
use crate::printer::Output;
use crate::settings::{Settings, ENTRY};

/// Runs `ev import`.
pub fn run(settings: &Settings, command: ImportCommand) -> Output {
    match command {
        ImportCommand::Dns {
            config,
            into,
            default_ttl,
            live,
            inputs,
        } => dns::run(settings, &config, &into, default_ttl, live, &inputs),
        ImportCommand::K8s {
            cluster,
            into,
            namespace,
            live,
            inputs,
        } => k8s::run(
            settings,
            &cluster,
            &into,
            namespace.as_deref(),
            live,
            &inputs,
        ),
        ImportCommand::Pulumi {
            backend,
            name,
            into,
            export,
        } => pulumi::run(settings, &backend, name.as_deref(), &into, &export),
    }
}

/// E0617: nothing was imported, for these reasons (each line indented).
fn refused(settings: &Settings, problems: Vec<String>, help: &str) -> Output {
    Output::refused(
        settings,
        &[ev_core::Diagnostic::general(
            "E0617",
            format!("nothing was imported:\n{}", problems.join("\n")),
        )
        .with_help(help.to_string())],
        1,
    )
}

/// E0618: the program with the new files does not render what was read.
fn unlike(settings: &Settings, problems: &[String], input: &str) -> Output {
    Output::refused(
        settings,
        &[ev_core::Diagnostic::general(
            "E0618",
            format!(
                "the imported declarations do not render what they were read from, so they were taken back:\n{}",
                problems.join("\n")
            ),
        )
        .with_help(format!("this is a bug in ev's importer: please report it with the {input}"))],
        1,
    )
}

/// The entry file's bytes as on disk: what a failed import puts back.
fn read_entry(settings: &Settings, what: &str) -> Result<String, Output> {
    std::fs::read_to_string(settings.root.join(ENTRY)).map_err(|e| {
        refused(
            settings,
            vec![format!("  cannot read {ENTRY}: {e}")],
            &format!("the entry file gets an import of each {what}"),
        )
    })
}

/// The text of an input file of at most `max` bytes, or why not.
fn read_input(path: &std::path::Path, max: u64) -> Result<String, String> {
    match std::fs::metadata(path) {
        Ok(meta) if !meta.is_file() => Err("not a file".into()),
        Ok(meta) if meta.len() > max => Err(format!("larger than {} MiB", max >> 20)),
        Ok(_) => std::fs::read_to_string(path).map_err(|e| format!("cannot read it: {e}")),
        Err(e) => Err(format!("cannot read it: {e}")),
    }
}

/// One declaration file to write.
struct Declaration {
    /// Where, relative to the root (checked not to exist).
    target: String,
    /// Its text.
    text: String,
    /// The name the entry file imports it as, if free (else `-2`, ...).
    alias: String,
}

/// The files an import wrote, taken back unless it is kept.
struct Written<'s> {
    settings: &'s Settings,
    entry: String,
    files: Vec<String>,
    kept: bool,
}

impl Drop for Written<'_> {
    fn drop(&mut self) {
        if self.kept {
            return;
        }
        for target in &self.files {
            let _ = std::fs::remove_file(self.settings.root.join(target));
        }
        let _ = Writer::new(&self.settings.root).replace_source(ENTRY, self.entry.as_bytes());
    }
}

/// Writes each declaration as a new file (never over one) and an import
/// of each at the end of the entry file (`entry`, its text before);
/// everything is taken back when the returned guard drops unless it is
/// kept.
fn write<'s>(
    settings: &'s Settings,
    entry: String,
    declarations: &[Declaration],
) -> Result<Written<'s>, Output> {
    let writer = Writer::new(&settings.root);
    let mut written = Written {
        settings,
        entry,
        files: Vec::new(),
        kept: false,
    };
    let mut imports = String::new();
    for d in declarations {
        if let Err(e) = writer.create_source(&d.target, d.text.as_bytes()) {
            return Err(Output::usage(settings, super::cannot_write(&d.target, &e)));
        }
        written.files.push(d.target.clone());
        // Unique among the entry file's imports and this run's.
        let taken = |a: &str| {
            let line_end = format!(" as {a}\n");
            written.entry.contains(&line_end) || imports.contains(&line_end)
        };
        let alias = (1..)
            .map(|n| match n {
                1 => d.alias.clone(),
                n => format!("{}-{n}", d.alias),
            })
            .find(|a| !taken(a))
            .unwrap_or_else(|| d.alias.clone());
        imports.push_str(&format!(
            "import {} as {alias}\n",
            ev_core::output::quote(&d.target)
        ));
    }
    let separator = if written.entry.ends_with('\n') || written.entry.is_empty() {
        ""
    } else {
        "\n"
    };
    let new_entry = format!("{}{separator}{imports}", written.entry);
    if let Err(e) = writer.replace_source(ENTRY, new_entry.as_bytes()) {
        return Err(Output::usage(settings, super::cannot_write(ENTRY, &e)));
    }
    Ok(written)
}

/// [`write`], then the program as it now is (the files are taken back
/// when it does not load).
fn write_and_load<'s>(
    settings: &'s Settings,
    entry: String,
    declarations: &[Declaration],
) -> Result<(Written<'s>, super::Loaded), Output> {
    let written = write(settings, entry, declarations)?;
    let mut out = Output::default();
    match super::loaded(settings, &mut out) {
        Some(loaded) => Ok((written, loaded)),
        None => Err(out),
    }
}

/// Records what was imported in the state, under the apply lock: `edit`
/// sees the state as it is and returns the records to write (or refuses).
fn record(
    settings: &Settings,
    loaded: &super::Loaded,
    edit: impl FnOnce(&State) -> Result<Vec<(String, ActionState)>, Output>,
) -> Result<(), Output> {
    let backend = loaded.state_backend(settings)?;
    let lease = Lease::acquire(backend.clone(), Duration::ZERO)
        .map_err(|e| Output::usage(settings, e.diagnostic(&backend.location())))?;
    let (stored, state, _) = super::plan::read_state(settings, &*backend)?;
    let records = edit(&state)?;
    let mut file = StateFile::open(&lease, &stored, state)
        .map_err(|e| Output::usage(settings, e.diagnostic()))?;
    for (id, entry) in records {
        file.record(&id, entry)
            .map_err(|e| Output::usage(settings, e.diagnostic()))?;
    }
    file.finish()
        .map_err(|e| Output::usage(settings, e.diagnostic()))
}

/// A name for an import alias: `prefix-` and the name with anything but
/// letters and digits as `-`.
fn alias(prefix: &str, name: &str) -> String {
    format!(
        "{prefix}-{}",
        name.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect::<String>()
    )
}
