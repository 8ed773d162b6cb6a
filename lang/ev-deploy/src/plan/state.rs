//! The state file: what `ev apply` last applied, per action. `ev plan`
//! compares the desired renderings with it without running any tool, so a
//! plan with no changes is instant.
//!
//! The state records each action's artifact as data (it never holds secret
//! values: secrets are `$secret` markers naming a sops file and key) and a
//! fingerprint of it. The CLI reads and writes it atomically; a corrupted
//! file or an unknown format version is an error, never silently replaced.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Action, ActionGraph};
use crate::backend::Artifact;

/// The state format version this ev reads and writes: 2 records artifacts
/// as data (1 recorded rendered files).
pub const STATE_VERSION: u32 = 2;

/// Where the state of the default environment lives, relative to the
/// repository root ([`EvDir::state`] for any environment).
pub const STATE_PATH: &str = ".ev/state.json";

/// Where ev keeps its own files for one environment, relative to the
/// repository root: `.ev` for the default environment (and a program that
/// declares none), `.ev/env/<name>` for another. Each environment has its
/// own state, journal, apply lock, rendered files, logs and scratch
/// directories, so applying one never reads or moves another's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvDir(String);

impl Default for EvDir {
    fn default() -> EvDir {
        EvDir(".ev".into())
    }
}

impl EvDir {
    /// The folder of a non-default environment (its name is a checked
    /// `Name`: no `/`, no `..`).
    pub fn of_environment(name: &str) -> EvDir {
        EvDir(format!(".ev/env/{name}"))
    }

    /// The folder, relative to the root.
    pub fn dir(&self) -> &str {
        &self.0
    }

    /// A path inside it, relative to the root.
    pub fn join(&self, rel: &str) -> String {
        format!("{}/{rel}", self.0)
    }

    /// The state file.
    pub fn state(&self) -> String {
        self.join("state.json")
    }

    /// The apply journal: one line per action applied since the state file
    /// was last written whole. `ev apply` appends to it after every action
    /// (cheap, so a large apply does not rewrite the whole state a thousand
    /// times) and folds it into the state when it ends; after a crash the
    /// next run replays it, so nothing that succeeded is lost.
    pub fn journal(&self) -> String {
        self.join("state.journal")
    }

    /// Where rendered files are written (`ev build`, before each action).
    pub fn build(&self) -> String {
        self.join("build")
    }
}

/// One journal line: an action recorded as applied, or forgotten.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// The action id.
    pub id: String,
    /// What was applied; `None` when the action was removed from the state.
    pub applied: Option<ActionState>,
}

impl JournalEntry {
    /// The entry as one line of JSON, with its newline.
    pub fn to_line(&self) -> String {
        let mut line = serde_json::to_string(self).unwrap_or_default();
        line.push('\n');
        line
    }
}

/// What was applied.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// Format version ([`STATE_VERSION`]).
    pub version: u32,
    /// Per action id.
    pub actions: BTreeMap<String, ActionState>,
}

/// What was applied for one action.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActionState {
    /// The backend that applied it.
    pub backend: String,
    /// Fingerprint of the artifact and inputs.
    pub fingerprint: String,
    /// What its tool was given.
    pub artifact: Artifact,
    /// Declared with `protect = true`: a plan deleting it is refused.
    #[serde(default)]
    pub protected: bool,
    /// Digests of the repository files it was built from.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub inputs: BTreeMap<String, String>,
    /// What applying it produced that matters later (a machine's store
    /// path, an image's digest).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub outputs: BTreeMap<String, String>,
    /// The secrets (references, never values) it was applied with: what
    /// destroying it may hand its tool once the declaration is gone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<ev_core::model::SecretRef>,
}

impl ActionState {
    /// What applying `action` with its current artifact records.
    pub fn of(action: &Action) -> ActionState {
        ActionState {
            backend: action.backend.to_string(),
            fingerprint: action.fingerprint.clone(),
            artifact: action.artifact.clone(),
            protected: action.protected,
            inputs: action.inputs.clone(),
            outputs: BTreeMap::new(),
            secrets: action.secrets.clone(),
        }
    }
}

/// Why a state file cannot be used.
#[derive(Clone, Debug, PartialEq)]
pub enum StateError {
    /// Not valid JSON of the state's shape.
    Corrupted(String),
    /// Written by another version of ev.
    UnknownVersion(u32),
    /// The state or its journal cannot be read.
    Unreadable {
        /// Which file.
        path: String,
        /// Why.
        why: String,
    },
    /// A state file that is corrupted or of another version, by path.
    In {
        /// The state file.
        path: String,
        /// What is wrong with it.
        error: Box<StateError>,
    },
}

impl StateError {
    /// The diagnostic every face renders (E0601).
    pub fn diagnostic(&self) -> ev_core::diagnostic::Diagnostic {
        self.diagnostic_of(STATE_PATH)
    }

    fn diagnostic_of(&self, state_path: &str) -> ev_core::diagnostic::Diagnostic {
        use ev_core::diagnostic::Diagnostic;
        match self {
            StateError::In { path, error } => error.diagnostic_of(path),
            StateError::Corrupted(why) => {
                Diagnostic::general("E0601", format!("`{state_path}` is corrupted: {why}"))
                    .with_note("it was left untouched")
                    .with_help("restore it from a backup or version control")
            }
            StateError::UnknownVersion(1) => Diagnostic::general(
                "E0601",
                format!("`{state_path}` has format version 1 (rendered files), written by an older ev; this ev records what each tool was given as data (version {STATE_VERSION})"),
            )
            .with_note("it was left untouched")
            .with_help(format!("apply once with the ev that wrote it to bring nothing pending, then move it aside (`mv {state_path} {state_path}.v1`) and run `ev apply`: every action runs once more and the tools converge (zones sync, objects are applied server-side, stacks and profiles are unchanged); objects deleted from the program before that are not pruned")),
            StateError::UnknownVersion(v) => Diagnostic::general(
                "E0601",
                format!("`{state_path}` has format version {v}, but this ev reads version {STATE_VERSION}"),
            )
            .with_help("use the ev that wrote it"),
            StateError::Unreadable { path, why } => {
                Diagnostic::general("E0601", format!("cannot read `{path}`: {why}"))
            }
        }
    }
}

impl std::fmt::Display for StateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StateError::In { path, error } => match &**error {
                StateError::Corrupted(why) => write!(f, "{path} is corrupted ({why}); it was left untouched: restore it from a backup or version control"),
                StateError::UnknownVersion(v) => write!(f, "{path} has format version {v}, but this ev reads version {STATE_VERSION}"),
                other => other.fmt(f),
            },
            StateError::Corrupted(why) => write!(f, "{STATE_PATH} is corrupted ({why}); it was left untouched: restore it from a backup or version control"),
            StateError::UnknownVersion(v) => write!(f, "{STATE_PATH} has format version {v}, but this ev reads version {STATE_VERSION}"),
            StateError::Unreadable { path, why } => write!(f, "cannot read {path}: {why}"),
        }
    }
}

impl State {
    /// An empty state (nothing applied yet).
    pub fn empty() -> State {
        State {
            version: STATE_VERSION,
            actions: BTreeMap::new(),
        }
    }

    /// Parses a state file.
    pub fn parse(text: &str) -> Result<State, StateError> {
        // The version is read first, skipping the rest, so a state of
        // another version is named as such rather than as corrupted.
        #[derive(Deserialize)]
        struct Versioned {
            version: Option<serde_json::Value>,
        }
        let versioned: Versioned =
            serde_json::from_str(text).map_err(|e| StateError::Corrupted(e.to_string()))?;
        match versioned.version.as_ref().and_then(|v| v.as_u64()) {
            Some(v) if v == u64::from(STATE_VERSION) => {}
            Some(v) => {
                return Err(StateError::UnknownVersion(
                    u32::try_from(v).unwrap_or(u32::MAX),
                ))
            }
            None => return Err(StateError::Corrupted("no format version".into())),
        }
        serde_json::from_str(text).map_err(|e| StateError::Corrupted(e.to_string()))
    }

    /// Applies a journal's entries in order. A last line cut short (the
    /// process died while appending it) is ignored; any other bad line is
    /// an error.
    pub fn replay(&mut self, journal: &str) -> Result<usize, StateError> {
        let complete = journal.ends_with('\n');
        let lines: Vec<&str> = journal.lines().collect();
        let mut applied = 0;
        for (i, line) in lines.iter().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let entry: JournalEntry = match serde_json::from_str(line) {
                Ok(e) => e,
                Err(_) if i + 1 == lines.len() && !complete => break,
                Err(e) => {
                    return Err(StateError::Corrupted(format!(
                        "its journal, line {}: {e}",
                        i + 1
                    )))
                }
            };
            match entry.applied {
                Some(a) => self.actions.insert(entry.id, a),
                None => self.actions.remove(&entry.id),
            };
            applied += 1;
        }
        Ok(applied)
    }

    /// Reads the state of the environment whose files are in `ev` through
    /// `fs`, with any journal left by an interrupted apply replayed
    /// (nothing is written). The text is `None` when there is no state;
    /// errors name the file.
    pub fn load(
        fs: &dyn ev_core::fs::FileSystem,
        ev: &EvDir,
    ) -> Result<(State, Option<String>), StateError> {
        let read = |path: String| match fs.read(&path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StateError::Unreadable {
                path,
                why: e.to_string(),
            }),
        };
        let at = |error: StateError| StateError::In {
            path: ev.state(),
            error: Box::new(error),
        };
        let (mut state, mut text) = match read(ev.state())? {
            Some(text) => (State::parse(&text).map_err(at)?, Some(text)),
            None => (State::empty(), None),
        };
        if let Some(journal) = read(ev.journal())? {
            state.replay(&journal).map_err(at)?;
            text = Some(state.to_text());
        }
        Ok((state, text))
    }

    /// The state as written to disk (pretty, stable key order).
    pub fn to_text(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Records an action as applied with its current renderings.
    pub fn record(&mut self, action: &Action) {
        self.actions
            .insert(action.id.clone(), ActionState::of(action));
    }

    /// The state a complete, successful `ev apply` of `graph` records, as
    /// far as the repository shows it: an action whose exports are missing
    /// (an image never pushed) or whose values are still unknown (an app
    /// pinning it) has not been applied.
    pub fn fully_applied(graph: &ActionGraph) -> State {
        let mut state = State::empty();
        for action in graph.ordered() {
            if !action.exports_pending && !action.unknowns.any() {
                state.record(action);
            }
        }
        state
    }
}

/// The hex SHA-256 digest of bytes.
pub fn hex_sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
