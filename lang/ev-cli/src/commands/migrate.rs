//! `ev state migrate --to BACKEND`: moves an environment's state between
//! its local files and the shared backend its `state` names. Both locks
//! are taken; the state is copied byte for byte (an interrupted apply's
//! journal folded in first), read back and compared by SHA-256 digest;
//! only then is the old copy set aside: local files are kept as
//! `state.json.migrated`, a remote copy is removed (the local files are
//! now the state).

use std::sync::Arc;
use std::time::Duration;

use ev_apply::confined::{Area, Mode, Writer};
use ev_apply::state_backend::{Lease, StateBackend};
use ev_deploy::plan::state::hex_sha256;

use crate::cli::StateTarget;
use crate::printer::Output;
use crate::settings::Settings;

/// E0613: a migration refused before anything was written.
fn refused(settings: &Settings, message: String, help: &str) -> Output {
    let mut out = Output::refused(
        settings,
        &[ev_core::Diagnostic::general("E0613", message).with_help(help)],
        1,
    );
    out.say(settings, "nothing was migrated");
    out
}

/// Runs `ev state migrate --to`.
pub fn run(
    settings: &Settings,
    loaded: &super::Loaded,
    configured: Arc<dyn StateBackend>,
    to: StateTarget,
) -> Output {
    let store = loaded.state_store(settings);
    if store.is_local() {
        return refused(
            settings,
            "the environment keeps its state in local files: there is no other backend to migrate between".into(),
            "set the environment's `state` to the shared backend first (`state = { backend = \"postgres\", ... }`), then `ev state migrate --to postgres`",
        );
    }
    if to != StateTarget::Local && name(to) != store.kind() {
        return refused(
            settings,
            format!(
                "the environment's `state` names {}, not {}",
                configured.location(),
                name(to)
            ),
            "migrate to the backend the program names, or `--to local`",
        );
    }
    let local = loaded.local_state(settings);
    let (from, into) = match to {
        StateTarget::Local => (configured, local.clone()),
        _ => (local.clone(), configured),
    };
    match migrate(settings, loaded, &from, &into, to != StateTarget::Local) {
        Ok(said) => Output {
            stderr: said,
            ..Output::default()
        },
        Err(out) => out,
    }
}

fn name(target: StateTarget) -> &'static str {
    match target {
        StateTarget::Local => "local",
        StateTarget::Postgres => "postgres",
        StateTarget::Kubernetes => "kubernetes",
        StateTarget::S3 => "s3",
    }
}

/// Copies `from`'s state into `into`, verifies it and sets the old copy
/// aside (kept as a file when `from_local`); what was done, for people.
fn migrate(
    settings: &Settings,
    loaded: &super::Loaded,
    from: &Arc<dyn StateBackend>,
    into: &Arc<dyn StateBackend>,
    from_local: bool,
) -> Result<String, Output> {
    fn unavailable<'a>(
        settings: &'a Settings,
        b: &'a Arc<dyn StateBackend>,
    ) -> impl Fn(ev_apply::state_backend::BackendError) -> Output + 'a {
        move |e| Output::usage(settings, e.diagnostic(&b.location()))
    }
    let from_lease =
        Lease::acquire(from.clone(), Duration::ZERO).map_err(unavailable(settings, from))?;
    let into_lease =
        Lease::acquire(into.clone(), Duration::ZERO).map_err(unavailable(settings, into))?;
    let (stored, state, text) = super::plan::read_state(settings, &**from)?;
    if text.is_none() {
        return Err(refused(
            settings,
            format!("{} holds no state", from.location()),
            "there is nothing to migrate",
        ));
    }
    // The bytes as stored, unless a journal has to be folded in.
    let bytes = match &stored.state {
        Some(bytes) if stored.journal.is_empty() => bytes.clone(),
        _ => state.to_text().into_bytes(),
    };
    let (there, there_state, there_text) = super::plan::read_state(settings, &**into)?;
    let identical = there.state.as_deref() == Some(bytes.as_slice()) && there.journal.is_empty();
    if there_text.is_some() && !identical {
        return Err(refused(
            settings,
            format!(
                "{} already holds a state ({} actions)",
                into.location(),
                there_state.actions.len()
            ),
            "nothing is overwritten by a migration: `ev state pull` both to compare them, then remove the one that is wrong",
        ));
    }
    into.write(&bytes, &there.version, &into_lease.holder)
        .map_err(unavailable(settings, into))?;
    let back = into.read().map_err(unavailable(settings, into))?;
    let digest = hex_sha256(&bytes);
    let read_back = back.state.as_deref().map(hex_sha256);
    if read_back.as_deref() != Some(digest.as_str()) || !back.journal.is_empty() {
        return Err(Output::usage(
            settings,
            ev_core::Diagnostic::general(
                "E0614",
                format!(
                    "{} did not keep the state it was given (sha256 {digest}, read back {})",
                    into.location(),
                    read_back.as_deref().unwrap_or("nothing")
                ),
            )
            .with_note(format!(
                "the state is still in {}, untouched",
                from.location()
            )),
        ));
    }
    // Verified: the old copy is set aside. Local files are kept beside.
    let mut aside = String::new();
    if from_local {
        let kept = format!("{}.migrated", loaded.ev_dir.state());
        Writer::new(&settings.root)
            .write(Area::Ev, &kept, &bytes, Mode::Durable)
            .map_err(|e| Output::usage(settings, super::cannot_write(&kept, &e)))?;
        aside = format!("; the local copy is kept as {kept}");
    }
    from.remove(&stored.version, &from_lease.holder)
        .map_err(unavailable(settings, from))?;
    drop((from_lease, into_lease));
    Ok(format!(
        "migrated the state ({} actions, sha256 {digest}) from {} to {}: read back and verified{aside}\n",
        state.actions.len(),
        from.location(),
        into.location()
    ))
}
