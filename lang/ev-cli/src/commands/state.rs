//! `ev state list|show|pull|push|mv|rm|migrate`: reading and changing the
//! recorded state of the environment, on its backend, without running any
//! tool. Changes take the apply lock, then read the state (an interrupted
//! apply's journal folded in), check the change against it and write it
//! whole; `push` keeps the state it replaces in a local file
//! (`state.json.backup`).

use std::sync::Arc;
use std::time::Duration;

use ev_apply::confined::{Area, Mode, Writer};
use ev_apply::state_backend::{Lease, StateBackend};
use ev_apply::state_file::StateFile;
use ev_deploy::plan::state::{EvDir, State};
use ev_deploy::plan::ActionId;
use ev_deploy::BackendId;

use crate::cli::StateCommand;
use crate::printer::Output;
use crate::settings::Settings;

/// Runs one `ev state` subcommand.
pub fn run(settings: &Settings, command: StateCommand) -> Output {
    let mut out = Output::default();
    let Some(loaded) = super::loaded(settings, &mut out) else {
        return out;
    };
    let ev_dir = &loaded.ev_dir;
    // Migrating is what makes the shared backend hold the state.
    let backend = match &command {
        StateCommand::Migrate { .. } => loaded.configured_state_backend(settings),
        _ => loaded.state_backend(settings),
    };
    let backend = match backend {
        Ok(b) => b,
        Err(out) => return out,
    };
    let read = || super::plan::read_state(settings, &*backend).map(|(_, state, _)| state);
    match command {
        StateCommand::List => match read() {
            Ok(state) => Output {
                stdout: list(&state),
                ..Output::default()
            },
            Err(out) => out,
        },
        StateCommand::Show { id } => match read() {
            Ok(state) => match state.actions.get(&id) {
                Some(action) => Output {
                    stdout: serde_json::to_string_pretty(action).unwrap_or_default() + "\n",
                    ..Output::default()
                },
                None => refused(settings, *not_recorded(&id, &state)),
            },
            Err(out) => out,
        },
        StateCommand::Pull => match read() {
            Ok(state) => Output {
                stdout: state.to_text(),
                ..Output::default()
            },
            Err(out) => out,
        },
        StateCommand::Push { file } => {
            let text = match std::fs::read_to_string(&file) {
                Ok(t) => t,
                Err(e) => {
                    return Output::usage(
                        settings,
                        ev_core::Diagnostic::general(
                            "E0613",
                            format!("cannot read {}: {e}", file.display()),
                        ),
                    )
                }
            };
            match State::parse(&text) {
                Ok(pushed) => change(settings, ev_dir, &backend, |_| {
                    Ok(Edit::Replace {
                        with: pushed,
                        from: file.display().to_string(),
                    })
                }),
                Err(e) => refused(
                    settings,
                    ev_core::Diagnostic::general(
                        "E0613",
                        format!("{} is not an ev state: {e}", file.display()),
                    )
                    .with_help("push a file `ev state pull` wrote"),
                ),
            }
        }
        StateCommand::Mv { from, to } => {
            let graph = ev_deploy::plan::lower(&loaded.model, &loaded.fs);
            let declared: Vec<String> = graph.ordered().iter().map(|a| a.id.clone()).collect();
            change(settings, ev_dir, &backend, |state| {
                move_action(state, &from, &to, &declared)?;
                Ok(Edit::Move { from, to })
            })
        }
        StateCommand::Migrate { to } => super::migrate::run(settings, &loaded, backend, to),
        StateCommand::Rm { ids } => change(settings, ev_dir, &backend, |state| {
            match ids.iter().find(|id| !state.actions.contains_key(*id)) {
                Some(missing) => Err(not_recorded(missing, state)),
                None => Ok(Edit::Forget(ids)),
            }
        }),
    }
}

/// `id  backend  [protected]`, one recorded action a line.
fn list(state: &State) -> String {
    let width = state
        .actions
        .keys()
        .map(|k| k.chars().count())
        .max()
        .unwrap_or(0);
    state
        .actions
        .iter()
        .map(|(id, a)| {
            let protected = if a.protected { "  protected" } else { "" };
            format!("{id:width$}  {}{protected}\n", a.backend)
        })
        .collect()
}

/// A change `ev state` makes to the recorded actions.
enum Edit {
    /// Record `from`'s action as `to`.
    Move { from: String, to: String },
    /// Forget these actions.
    Forget(Vec<String>),
    /// Replace the whole state with one read `from` a file.
    Replace { with: State, from: String },
}

/// Takes the apply lock, reads the state under it (so an apply that ended
/// since the command started is not undone), lets `check` refuse or choose
/// the edit against that state, then makes it and writes the state
/// atomically.
fn change(
    settings: &Settings,
    ev_dir: &EvDir,
    backend: &Arc<dyn StateBackend>,
    check: impl FnOnce(&State) -> Result<Edit, Box<ev_core::Diagnostic>>,
) -> Output {
    let lease = match Lease::acquire(backend.clone(), Duration::ZERO) {
        Ok(l) => l,
        Err(e) => return Output::usage(settings, e.diagnostic(&backend.location())),
    };
    let (stored, state, _) = match super::plan::read_state(settings, &**backend) {
        Ok(read) => read,
        Err(out) => return out,
    };
    let edit = match check(&state) {
        Ok(edit) => edit,
        Err(d) => return refused(settings, *d),
    };
    if let Edit::Replace { .. } = edit {
        let backup = backup_path(ev_dir);
        if let Err(e) = Writer::new(&settings.root).write(
            Area::Ev,
            &backup,
            state.to_text().as_bytes(),
            Mode::Durable,
        ) {
            return Output::usage(settings, super::cannot_write(&backup, &e));
        }
    }
    let mut file = match StateFile::open(&lease, &stored, state) {
        Ok(f) => f,
        Err(e) => return Output::usage(settings, e.diagnostic()),
    };
    let mut said = String::new();
    let done = match edit {
        Edit::Move { from, to } => match file.state.actions.get(&from).cloned() {
            Some(entry) => {
                said = format!(
                    "moved {from} to {to}: the next plan compares {to} with what {from} applied\n"
                );
                file.remove(&from).and_then(|()| file.record(&to, entry))
            }
            None => Ok(()),
        },
        Edit::Forget(ids) => ids.iter().try_for_each(|id| {
            said.push_str(&format!(
                "forgot {id}: ev no longer manages what it applied, which stays as it is (the next plan creates it if it is still declared)\n"
            ));
            file.remove(id)
        }),
        Edit::Replace { with, from } => {
            said = format!(
                "pushed {from} ({} actions); the state it replaced is {}\n",
                with.actions.len(),
                backup_path(ev_dir)
            );
            file.state = with;
            Ok(())
        }
    };
    if let Err(e) = done.and_then(|()| file.finish()) {
        return Output::usage(settings, e.diagnostic());
    }
    Output {
        stderr: said,
        ..Output::default()
    }
}

/// Where `push` keeps the state it replaces.
fn backup_path(ev_dir: &EvDir) -> String {
    format!("{}.backup", ev_dir.state())
}

/// Checks that `from` can be recorded as `to`.
fn move_action(
    state: &State,
    from: &str,
    to: &str,
    declared: &[String],
) -> Result<(), Box<ev_core::Diagnostic>> {
    let Some(entry) = state.actions.get(from) else {
        return Err(not_recorded(from, state));
    };
    if state.actions.contains_key(to) {
        return Err(Box::new(
            ev_core::Diagnostic::general("E0613", format!("the state already records `{to}`"))
                .with_help(format!(
                "`ev state rm {to}` first if the program should take over {from}'s record instead"
            )),
        ));
    }
    let backend = BackendId::from_name(&entry.backend);
    let same_backend = backend.is_some_and(|b| ActionId::parse(b, to).is_some());
    if !same_backend || !declared.iter().any(|d| d == to) {
        let d = ev_core::Diagnostic::general(
            "E0613",
            format!("the program declares no {} action `{to}`", entry.backend),
        )
        .with_help("move a record to the id the program gives the moved declaration (`ev plan` lists it as created)");
        return Err(Box::new(with_suggestions(
            d,
            to,
            declared.iter().map(String::as_str),
        )));
    }
    Ok(())
}

/// E0613: an id the state does not record.
fn not_recorded(id: &str, state: &State) -> Box<ev_core::Diagnostic> {
    let d = ev_core::Diagnostic::general("E0613", format!("the state records no action `{id}`"))
        .with_help("`ev state list` lists the recorded actions");
    Box::new(with_suggestions(
        d,
        id,
        state.actions.keys().map(String::as_str),
    ))
}

/// `d` with a "did you mean" note for the ids close to `id`.
fn with_suggestions<'a>(
    d: ev_core::Diagnostic,
    id: &str,
    ids: impl Iterator<Item = &'a str>,
) -> ev_core::Diagnostic {
    match ev_core::suggest::did_you_mean(&ev_core::suggest::similar(id, ids)) {
        Some(note) => d.with_note(note),
        None => d,
    }
}

/// A refused `ev state` command (exit 1).
fn refused(settings: &Settings, d: ev_core::Diagnostic) -> Output {
    Output::refused(settings, &[d], 1)
}
