//! `ev state list|show|pull|push|mv|rm`: reading and changing the recorded
//! state of the environment (`.ev/state.json`, or `.ev/env/NAME/`) without
//! running any tool. Changes take the apply lock, fold in the journal of an
//! interrupted apply first and write the state atomically; `push` keeps the
//! state it replaces beside it (`state.json.backup`).

use std::path::Path;

use ev_apply::confined::{Area, Mode, Writer};
use ev_apply::lock::Lock;
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
    let ev_dir = loaded.ev_dir.clone();
    let (state, _) = match super::plan::read_state(settings, &ev_dir) {
        Ok(s) => s,
        Err(e) => return Output::usage(settings, e.diagnostic()),
    };
    match command {
        StateCommand::List => Output {
            stdout: list(&state),
            ..Output::default()
        },
        StateCommand::Show { id } => match state.actions.get(&id) {
            Some(action) => Output {
                stdout: serde_json::to_string_pretty(action).unwrap_or_default() + "\n",
                ..Output::default()
            },
            None => refused(settings, not_recorded(&id, &state)),
        },
        StateCommand::Pull => Output {
            stdout: state.to_text(),
            ..Output::default()
        },
        StateCommand::Push { file } => push(settings, &ev_dir, &state, &file),
        StateCommand::Mv { from, to } => {
            let graph = ev_deploy::plan::lower(&loaded.model, &loaded.fs);
            let declared: Vec<String> = graph.ordered().iter().map(|a| a.id.clone()).collect();
            match move_action(&state, &from, &to, &declared) {
                Ok(()) => change(settings, &ev_dir, state, Edit::Move { from, to }),
                Err(d) => refused(settings, *d),
            }
        }
        StateCommand::Rm { ids } => match ids.iter().find(|id| !state.actions.contains_key(*id)) {
            Some(missing) => refused(settings, not_recorded(missing, &state)),
            None => change(settings, &ev_dir, state, Edit::Forget(ids)),
        },
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
}

/// Makes a checked edit under the apply lock (an apply finishing in
/// between is waited for by the lock, and its journal folded in first),
/// then writes the state atomically.
fn change(settings: &Settings, ev_dir: &EvDir, state: State, edit: Edit) -> Output {
    let _lock = match Lock::acquire(&settings.root) {
        Ok(l) => l,
        Err(e) => return Output::usage(settings, e.diagnostic()),
    };
    let mut file = match StateFile::open(&settings.root, ev_dir, state) {
        Ok(f) => f,
        Err(e) => return Output::usage(settings, e.diagnostic()),
    };
    let mut said = String::new();
    let done = match &edit {
        Edit::Move { from, to } => match file.state.actions.get(from).cloned() {
            Some(entry) => file.remove(from).and_then(|()| {
                said = format!(
                    "moved {from} to {to}: the next plan compares {to} with what {from} applied\n"
                );
                file.record(to, entry)
            }),
            None => Ok(()),
        },
        Edit::Forget(ids) => ids.iter().try_for_each(|id| {
            said.push_str(&format!(
                "forgot {id}: ev no longer manages what it applied, which stays as it is (the next plan creates it if it is still declared)\n"
            ));
            file.remove(id)
        }),
    };
    if let Err(e) = done.and_then(|()| file.finish()) {
        return Output::usage(settings, e.diagnostic());
    }
    Output {
        stderr: said,
        ..Output::default()
    }
}

/// Checks that `from` can be recorded as `to`.
fn move_action(
    state: &State,
    from: &str,
    to: &str,
    declared: &[String],
) -> Result<(), Box<ev_core::Diagnostic>> {
    let Some(entry) = state.actions.get(from) else {
        return Err(Box::new(not_recorded(from, state)));
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
        let mut d = ev_core::Diagnostic::general(
            "E0613",
            format!("the program declares no {} action `{to}`", entry.backend),
        )
        .with_help("move a record to the id the program gives the moved declaration (`ev plan` lists it as created)");
        let similar = ev_core::suggest::similar(to, declared.iter().map(String::as_str));
        if let Some(first) = similar.first() {
            d = d.with_note(format!("did you mean `{first}`?"));
        }
        return Err(Box::new(d));
    }
    Ok(())
}

/// E0613: an id the state does not record.
fn not_recorded(id: &str, state: &State) -> ev_core::Diagnostic {
    let mut d =
        ev_core::Diagnostic::general("E0613", format!("the state records no action `{id}`"))
            .with_help("`ev state list` lists the recorded actions");
    let similar = ev_core::suggest::similar(id, state.actions.keys().map(String::as_str));
    if let Some(first) = similar.first() {
        d = d.with_note(format!("did you mean `{first}`?"));
    }
    d
}

/// Replaces the state with `file`'s, keeping the current one as a backup.
fn push(settings: &Settings, ev_dir: &EvDir, current: &State, file: &Path) -> Output {
    let text = match std::fs::read_to_string(file) {
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
    let pushed = match State::parse(&text) {
        Ok(s) => s,
        Err(e) => {
            return refused(
                settings,
                ev_core::Diagnostic::general(
                    "E0613",
                    format!("{} is not an ev state: {e}", file.display()),
                )
                .with_help("push a file `ev state pull` wrote"),
            )
        }
    };
    let _lock = match Lock::acquire(&settings.root) {
        Ok(l) => l,
        Err(e) => return Output::usage(settings, e.diagnostic()),
    };
    let backup = format!("{}.backup", ev_dir.state());
    if let Err(e) = Writer::new(&settings.root).write(
        Area::Ev,
        &backup,
        current.to_text().as_bytes(),
        Mode::Durable,
    ) {
        return Output::usage(settings, super::cannot_write(&backup, &e));
    }
    let mut state_file = match StateFile::open(&settings.root, ev_dir, pushed) {
        Ok(f) => f,
        Err(e) => return Output::usage(settings, e.diagnostic()),
    };
    if let Err(e) = state_file.finish() {
        return Output::usage(settings, e.diagnostic());
    }
    Output {
        stderr: format!(
            "pushed {} ({} actions); the state it replaced is {backup}\n",
            file.display(),
            state_file.state.actions.len()
        ),
        ..Output::default()
    }
}

/// A refused `ev state` command (exit 1).
fn refused(settings: &Settings, d: ev_core::Diagnostic) -> Output {
    Output::refused(settings, &[d], 1)
}
