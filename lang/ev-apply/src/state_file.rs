//! Persisting the state during an apply, through the environment's
//! [`StateBackend`]: the state is written whole when the apply starts
//! (folding in the journal of one interrupted before), every action's
//! record is appended to the journal as it succeeds, and the state is
//! written whole again when the apply ends, emptying the journal. A killed
//! apply loses nothing it recorded: the next read replays the journal.

use std::sync::Arc;

use crate::state_backend::{BackendError, Holder, Lease, StateBackend, Stored, Version};
use ev_deploy::plan::state::{ActionState, JournalEntry, State};

/// The state (or an export) could not be written: the apply stops, and
/// what succeeded before stays recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteError {
    /// What was being done: `write`, `append to`, `remove`, `open`.
    pub action: &'static str,
    /// The file, relative to the repository, or the state's location.
    pub path: String,
    /// Why it failed.
    pub why: String,
    /// Its diagnostic code: E0604 for a file, E0614 or E0615 for the
    /// state backend ([`BackendError::code`]).
    pub code: &'static str,
}

impl WriteError {
    /// A failure to `action` the file at `path`.
    pub fn new(action: &'static str, path: &str, why: impl std::fmt::Display) -> WriteError {
        WriteError {
            action,
            path: path.to_string(),
            why: why.to_string(),
            code: "E0604",
        }
    }

    /// The diagnostic every face renders.
    pub fn diagnostic(&self) -> ev_core::Diagnostic {
        ev_core::Diagnostic::general(self.code, self.to_string())
            .with_note("the state records what succeeded before this")
    }
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot {} {}: {}", self.action, self.path, self.why)
    }
}

/// The state of a running apply, recorded on its backend as it goes.
pub struct StateFile {
    backend: Arc<dyn StateBackend>,
    holder: Holder,
    version: Version,
    location: String,
    /// The state as recorded so far.
    pub state: State,
}

impl StateFile {
    /// Starts recording under `lease`, from `state` as read from `stored`
    /// (its journal replayed). The state is written whole first, with any
    /// journal folded in: from then on this holder's writes follow its
    /// own, and a holder it took over from can no longer write.
    pub fn open(lease: &Lease, stored: &Stored, state: State) -> Result<StateFile, WriteError> {
        let backend = lease.backend().clone();
        let mut file = StateFile {
            location: backend.location(),
            backend,
            holder: lease.holder.clone(),
            version: stored.version.clone(),
            state,
        };
        file.finish()?;
        Ok(file)
    }

    fn failed(&self, action: &'static str, e: BackendError) -> WriteError {
        WriteError {
            action,
            path: self.location.clone(),
            why: e.to_string(),
            code: e.code(),
        }
    }

    fn append(&mut self, entry: &JournalEntry) -> Result<(), WriteError> {
        match self
            .backend
            .append(entry.to_line().as_bytes(), &self.version, &self.holder)
        {
            Ok(v) => {
                self.version = v;
                Ok(())
            }
            Err(e) => Err(self.failed("append to the journal of", e)),
        }
    }

    /// Records an action as applied.
    pub fn record(&mut self, id: &str, entry: ActionState) -> Result<(), WriteError> {
        self.state.actions.insert(id.to_string(), entry.clone());
        self.append(&JournalEntry {
            id: id.to_string(),
            applied: Some(entry),
        })
    }

    /// Forgets an action.
    pub fn remove(&mut self, id: &str) -> Result<(), WriteError> {
        self.state.actions.remove(id);
        self.append(&JournalEntry {
            id: id.to_string(),
            applied: None,
        })
    }

    /// Writes the whole state (the journal is emptied).
    pub fn finish(&mut self) -> Result<(), WriteError> {
        match self
            .backend
            .write(self.state.to_text().as_bytes(), &self.version, &self.holder)
        {
            Ok(v) => {
                self.version = v;
                Ok(())
            }
            Err(e) => Err(self.failed("write", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(fingerprint: &str) -> ActionState {
        ActionState {
            backend: "octodns".into(),
            fingerprint: fingerprint.into(),
            artifact: ev_deploy::Artifact::Registry(ev_deploy::backends::registry::Recipe {
                name: "x".into(),
                repository: "registry.test/x".into(),
                tags: Vec::new(),
                build: ev_deploy::backends::registry::ImageBuild::Nix {
                    flake: ".".into(),
                    attribute: "x".into(),
                },
                digest_file: "exports/x.txt".into(),
                tls_verify: true,
            }),
            protected: false,
            inputs: Default::default(),
            outputs: Default::default(),
            secrets: Vec::new(),
        }
    }

    #[test]
    fn a_crashed_apply_loses_nothing_it_recorded() {
        use crate::state_backend::local::Local;
        use ev_deploy::plan::state::EvDir;
        use std::io::Write;
        let dir = tempfile::tempdir().expect("dir");
        // Another environment's files: the same code, in its own folder.
        let ev = EvDir::of_environment("local");
        let backend: Arc<dyn StateBackend> = Arc::new(Local::new(dir.path(), &ev));
        let lease = Lease::acquire(backend.clone(), std::time::Duration::ZERO).expect("lock");
        let stored = backend.read().expect("read");
        let mut file = StateFile::open(&lease, &stored, State::empty()).expect("open");
        file.record("a", entry("1")).expect("record");
        file.record("b", entry("2")).expect("record");
        file.remove("a").expect("remove");
        // The process dies here: no finish(). A torn last line follows.
        drop(file);
        drop(lease);
        let mut journal = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join(ev.journal()))
            .expect("journal");
        journal.write_all(b"{\"id\": \"c\", \"appl").expect("torn");
        let stored = backend.read().expect("read");
        let (state, _) = stored.load(&backend.location()).expect("replayed");
        assert_eq!(state.actions.keys().collect::<Vec<_>>(), vec!["b"]);
        // The next apply folds the journal into the state file.
        let lease = Lease::acquire(backend.clone(), std::time::Duration::ZERO).expect("lock");
        let file = StateFile::open(&lease, &stored, state).expect("open");
        assert!(!dir.path().join(ev.journal()).exists());
        let on_disk =
            State::parse(&std::fs::read_to_string(dir.path().join(ev.state())).expect("state"))
                .expect("parse");
        assert_eq!(on_disk, file.state);
    }
}
