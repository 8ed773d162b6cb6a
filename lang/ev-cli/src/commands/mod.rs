//! One module per command. Each runs on the evaluation thread and returns
//! an [`Output`](crate::printer::Output); none prints directly.

pub mod apply;
pub mod build;
pub mod check;
pub mod diff_env;
pub mod eval;
pub mod fmt;
pub mod graph;
pub mod import;
pub mod init;
pub mod lsp;
pub mod migrate;
pub mod plan;
pub mod repl;
pub mod show;
pub mod state;

use std::sync::Arc;

use ev_apply::state_backend::StateBackend;
use ev_core::fs::OsFs;
use ev_core::Program;

use crate::printer::Output;
use crate::settings::Settings;

/// A checked program, its files and its model.
pub struct Loaded {
    /// The program.
    pub program: Program,
    /// The repository's files.
    pub fs: OsFs,
    /// The evaluated model.
    pub model: ev_core::model::Model,
    /// The environment's own folder (state, journal, rendered files).
    pub ev_dir: ev_deploy::plan::state::EvDir,
}

impl Loaded {
    /// The environment's `state` setting.
    pub fn state_store(&self, settings: &Settings) -> ev_deploy::state_store::StateStore {
        ev_deploy::state_store::state_store(&self.model, settings.environment.as_deref())
    }

    /// Where the environment's state and lock live
    /// ([`ev_apply::state_backend::of_environment`]).
    pub fn state_backend(&self, settings: &Settings) -> Result<Arc<dyn StateBackend>, Output> {
        ev_apply::state_backend::of_environment(
            &settings.root,
            &self.model,
            &self.ev_dir,
            settings.environment.as_deref(),
        )
        .map_err(|d| Output::usage(settings, *d))
    }

    /// [`Loaded::state_backend`] without the check that the state was
    /// migrated to it (`ev state migrate` itself).
    pub fn configured_state_backend(
        &self,
        settings: &Settings,
    ) -> Result<Arc<dyn StateBackend>, Output> {
        ev_apply::state_backend::configured(
            &settings.root,
            &self.model,
            &self.ev_dir,
            settings.environment.as_deref(),
        )
        .map_err(|d| Output::usage(settings, *d))
    }

    /// The environment's local files, whatever backend its `state` names
    /// ([`ev_apply::state_backend::local_files`]).
    pub fn local_state(&self, settings: &Settings) -> Arc<dyn StateBackend> {
        ev_apply::state_backend::local_files(
            &settings.root,
            &self.ev_dir,
            &self.state_store(settings),
        )
    }
}

/// Loads, checks and models the repository's program; on any diagnostic,
/// reports them into `out` and returns `None`.
pub fn model(settings: &Settings, out: &mut Output) -> Option<ev_core::model::Model> {
    loaded(settings, out).map(|l| l.model)
}

/// Like [`model`], keeping the program and file access (for re-evaluation).
pub fn loaded(settings: &Settings, out: &mut Output) -> Option<Loaded> {
    let (program, fs) = load(settings, crate::settings::ENTRY, out)?;
    let ev = ev_core::Evaluator::new(&program, &fs);
    match ev_deploy::checked_model(&program, &ev) {
        Ok(model) => {
            drop(ev);
            match ev_deploy::environment_dir(&model, settings.environment.as_deref()) {
                Ok(ev_dir) => Some(Loaded {
                    program,
                    fs,
                    model,
                    ev_dir,
                }),
                Err(d) => {
                    *out = Output::usage(settings, *d);
                    None
                }
            }
        }
        Err(diagnostics) => {
            out.diagnostics(settings, &diagnostics, &program.sources);
            None
        }
    }
}

/// Loads the program at `entry`, or explains why the entry file is missing.
pub fn load(settings: &Settings, entry: &str, out: &mut Output) -> Option<(Program, OsFs)> {
    let fs = OsFs::new(settings.root.clone());
    if !settings.root.join(entry).is_file() {
        *out = Output::usage(settings, no_entry(entry, &settings.root));
        return None;
    }
    let mut program = ev_core::load(&fs, entry);
    if let Err(d) = ev_deploy::check_environment(&program, settings.environment.as_deref()) {
        *out = Output::usage(settings, *d);
        return None;
    }
    program.environment = settings.environment.clone();
    Some((program, fs))
}

/// No entry file (E0607).
pub fn no_entry(entry: &str, root: &std::path::Path) -> ev_core::Diagnostic {
    ev_core::Diagnostic::general("E0607", format!("no {entry} in {}", root.display())).with_help(
        format!("run ev in a repository with an {entry}, or pass -C DIR or a path"),
    )
}

/// A file ev could not write (E0604).
pub fn cannot_write(path: &str, why: &dyn std::fmt::Display) -> ev_core::Diagnostic {
    ev_core::Diagnostic::general("E0604", format!("cannot write {path}: {why}"))
}
