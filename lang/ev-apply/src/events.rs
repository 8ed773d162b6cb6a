//! What the executor tells its faces while it runs. The executor neither
//! prints nor reads the terminal: it hands every [`Event`] to an
//! [`Events`] implementation, and asks it before running an action whose
//! re-planned change grew. The faces are in [`crate::report`]: the live
//! terminal view, plain timestamped lines, and JSON lines for CI
//! (`ev apply --json`).
//!
//! The JSON form of an event is [`Event`]'s serde encoding, one object per
//! line, with `version` ([`EVENTS_VERSION`]) and `elapsed` (seconds since
//! the run started) beside the `event` tag. docs/guide.md documents it; a
//! change that is not an addition bumps the version.

use serde::Serialize;

/// The version of the JSON event stream.
pub const EVENTS_VERSION: u32 = 1;

/// One thing that happened during an apply.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The plan about to be applied (emitted by the CLI before the run).
    Plan {
        /// The plan, in `ev plan --json`'s format.
        plan: serde_json::Value,
    },
    /// The run started.
    Started {
        /// The run's id (names its log directory).
        run: String,
        /// The actions to run, in plan order (dependencies first).
        actions: Vec<String>,
    },
    /// An action's tool started.
    ActionStarted {
        /// The action.
        id: String,
    },
    /// An action ended.
    ActionFinished {
        /// The action.
        id: String,
        /// How it ended.
        result: ActionResult,
        /// Why it failed or was stopped; absent when it succeeded.
        #[serde(skip_serializing_if = "Option::is_none")]
        message: Option<String>,
        /// The last lines of its log, when it failed.
        #[serde(skip_serializing_if = "Option::is_none")]
        log_tail: Option<String>,
        /// Seconds it ran.
        seconds: f64,
    },
    /// An action was not run because one it depends on did not complete.
    ActionSkipped {
        /// The action.
        id: String,
        /// The action that did not complete.
        because: String,
    },
    /// A value an action waited for became known once another action ran
    /// (re-planned before it starts).
    Known {
        /// The waiting action.
        id: String,
        /// The item of its plan the value belongs to.
        item: String,
        /// The change, now with the value.
        detail: String,
        /// The actions whose exports made it known.
        after: String,
    },
    /// A message for people: a stop signal, the grace period, a failed
    /// re-evaluation.
    Notice {
        /// The message.
        message: String,
    },
    /// The run ended.
    Finished {
        /// Everything planned happened.
        success: bool,
        /// A stop signal ended it.
        interrupted: bool,
        /// Actions applied.
        applied: Vec<String>,
        /// Actions unchanged once their values were known.
        unchanged: Vec<String>,
        /// Actions that failed.
        failed: Vec<String>,
        /// Actions skipped because a dependency failed.
        skipped: Vec<String>,
        /// Actions never started.
        not_started: Vec<String>,
        /// Why the state could not be written, if it could not.
        #[serde(skip_serializing_if = "Option::is_none")]
        state_error: Option<String>,
        /// Where the run's logs are (absent when nothing ran).
        #[serde(skip_serializing_if = "Option::is_none")]
        log_dir: Option<String>,
    },
}

/// How an action ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionResult {
    /// Its tool succeeded and the state records it.
    Applied,
    /// A declaration removed: what it applied was removed.
    Removed,
    /// A declaration removed whose live part stays (an image, a machine):
    /// no longer managed.
    Forgotten,
    /// Re-planned once its values were known, it matched the state.
    Unchanged,
    /// Its tool failed, or its results could not be recorded.
    Failed,
    /// Stopped before it ran: its re-planned change grew beyond the plan.
    Stopped,
}

impl ActionResult {
    /// How people read it (`eight:yuto.sh: done (1.2s)`).
    pub fn human(self) -> &'static str {
        match self {
            ActionResult::Applied => "done",
            ActionResult::Removed => "removed",
            ActionResult::Forgotten => "forgotten (no longer managed)",
            ActionResult::Unchanged => "unchanged once known",
            ActionResult::Failed => "failed",
            ActionResult::Stopped => "stopped",
        }
    }
}

/// A face of the executor.
pub trait Events {
    /// Something happened.
    fn event(&mut self, event: Event);

    /// Asks whether to run action `id` anyway, though its re-planned change
    /// grew beyond the plan (`why`). Faces that cannot ask refuse.
    fn confirm(&mut self, id: &str, why: &str) -> bool {
        let _ = (id, why);
        false
    }
}
