//! Persisting the state during an apply: every action's record is appended
//! to the journal (`.ev/state.journal`, or the environment's) as it succeeds, and the whole state
//! is written atomically (temp file, fsync, rename) when the apply ends,
//! after which the journal is removed. The journal is flushed to the OS on
//! every line (it survives ev being killed) and synced to disk at most every
//! 100 ms and at the end.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::confined::{Area, Mode, Writer};
use ev_deploy::plan::state::{ActionState, EvDir, JournalEntry, State};

/// Reads the state of the environment whose files are in `ev`, with any
/// journal left by an interrupted apply replayed (read-only: the files are
/// not changed). `None` text: there is no state.
pub fn read(
    root: &Path,
    ev: &EvDir,
) -> Result<(State, Option<String>), ev_deploy::plan::state::StateError> {
    State::load(&ev_core::fs::OsFs::new(root), ev)
}

/// A file of the state (or an export) that could not be written: the
/// apply stops, and what succeeded before stays recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteError {
    /// What was being done: `write`, `append to`, `remove`, `open`.
    pub action: &'static str,
    /// The file, relative to the repository.
    pub path: String,
    /// Why it failed.
    pub why: String,
}

impl WriteError {
    /// A failure to `action` the file at `path`.
    pub fn new(action: &'static str, path: &str, why: impl std::fmt::Display) -> WriteError {
        WriteError {
            action,
            path: path.to_string(),
            why: why.to_string(),
        }
    }

    /// The diagnostic every face renders (E0604).
    pub fn diagnostic(&self) -> ev_core::Diagnostic {
        ev_core::Diagnostic::general("E0604", self.to_string())
            .with_note("the state records what succeeded before this")
    }
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot {} {}: {}", self.action, self.path, self.why)
    }
}

/// The state of a running apply and its journal.
pub struct StateFile {
    root: PathBuf,
    state_path: String,
    journal_path: String,
    /// The state as recorded so far.
    pub state: State,
    journal: Option<std::fs::File>,
    last_sync: Instant,
}

impl StateFile {
    /// Starts from `state`; a journal left by a crashed apply is folded in first.
    pub fn open(root: &Path, ev: &EvDir, state: State) -> Result<StateFile, WriteError> {
        let mut file = StateFile {
            root: root.to_path_buf(),
            state_path: ev.state(),
            journal_path: ev.journal(),
            state,
            journal: None,
            last_sync: Instant::now(),
        };
        if root.join(&file.journal_path).exists() {
            file.finish()?;
        }
        Ok(file)
    }

    fn append(&mut self, entry: &JournalEntry) -> Result<(), WriteError> {
        if self.journal.is_none() {
            let journal_path = &self.journal_path;
            let path = Writer::new(&self.root)
                .file_path(Area::Ev, journal_path)
                .map_err(|e| WriteError::new("open", journal_path, e))?;
            self.journal = Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .map_err(|e| WriteError::new("open", journal_path, e))?,
            );
        }
        if let Some(journal) = self.journal.as_mut() {
            journal
                .write_all(entry.to_line().as_bytes())
                .map_err(|e| WriteError::new("append to", &self.journal_path, e))?;
            if self.last_sync.elapsed() > Duration::from_millis(100) {
                let _ = journal.sync_data();
                self.last_sync = Instant::now();
            }
        }
        Ok(())
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

    /// Writes the whole state atomically and removes the journal.
    pub fn finish(&mut self) -> Result<(), WriteError> {
        if let Some(journal) = self.journal.take() {
            let _ = journal.sync_data();
        }
        let writer = Writer::new(&self.root);
        writer
            .write(
                Area::Ev,
                &self.state_path,
                self.state.to_text().as_bytes(),
                Mode::Durable,
            )
            .map_err(|e| WriteError::new("write", &self.state_path, e))?;
        writer
            .remove(Area::Ev, &self.journal_path)
            .map_err(|e| WriteError::new("remove", &self.journal_path, e))
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
        let dir = tempfile::tempdir().expect("dir");
        // Another environment's files: the same code, in its own folder.
        let ev = EvDir::of_environment("local");
        let mut file = StateFile::open(dir.path(), &ev, State::empty()).expect("open");
        file.record("a", entry("1")).expect("record");
        file.record("b", entry("2")).expect("record");
        file.remove("a").expect("remove");
        // The process dies here: no finish(). A torn last line follows.
        drop(file);
        let mut journal = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join(ev.journal()))
            .expect("journal");
        journal.write_all(b"{\"id\": \"c\", \"appl").expect("torn");
        let (state, _) = read(dir.path(), &ev).expect("replayed");
        assert_eq!(state.actions.keys().collect::<Vec<_>>(), vec!["b"]);
        // The next apply folds the journal into the state file.
        let file = StateFile::open(dir.path(), &ev, state).expect("open");
        assert!(!dir.path().join(ev.journal()).exists());
        let on_disk =
            State::parse(&std::fs::read_to_string(dir.path().join(ev.state())).expect("state"))
                .expect("parse");
        assert_eq!(on_disk, file.state);
    }
}
