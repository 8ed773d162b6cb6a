//! The executor: runs a plan's actions in dependency order, up to
//! `parallelism` at once, each through its backend's driver.
//!
//! - After every success the action is recorded (appended to the state's
//!   journal; the whole state is written atomically at the end), so a
//!   failed, interrupted or killed apply resumes where it stopped.
//! - When an action writes exports (a stack's outputs, an image's digest),
//!   they are written atomically; before the first action reading them
//!   starts, the program is re-evaluated (once for every producer finished
//!   by then) and the actions still waiting are lowered again: what became
//!   known is reported, actions whose artifact now matches the state are
//!   skipped, and an action whose new change deletes more than the plan
//!   promised is stopped before it runs (unless the face confirms it).
//! - A failure skips the actions depending on it; independent branches go
//!   on (`keep_going`), or nothing new starts (fail-fast).
//! - Ctrl-C stops launching, lets running tools finish within a grace
//!   period, and a second Ctrl-C (or the end of the grace) kills them.
//!
//! The executor neither prints nor reads the terminal: everything it has to
//! say is an [`Event`] for its face (see [`crate::events`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ev_deploy::backend::Side;
use ev_deploy::plan::diff::{Change, Plan};
use ev_deploy::plan::state::{ActionState, EvDir, State};

use crate::schedule::Schedule;
use crate::state_file::{StateFile, WriteError};
use ev_deploy::plan::{Action, ActionGraph, BackendId};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::confined::{Area, Mode, Writer};
use crate::drivers::{self, Applied, Ctx, Failure};
use crate::events::{ActionResult, Event, Events};
use crate::process::Log;

/// How to run.
#[derive(Clone, Debug)]
pub struct Options {
    /// Actions running at once.
    pub parallelism: usize,
    /// After a failure, keep starting actions that do not depend on it.
    pub keep_going: bool,
    /// How long one tool may run.
    pub timeout: Duration,
    /// After Ctrl-C, how long running tools may take to finish.
    pub grace: Duration,
    /// Let tools exceed their own safety thresholds.
    pub force: bool,
    /// This run's id (names its log directory).
    pub run_id: String,
    /// The environment's own folder (state, journal, rendered files).
    pub ev_dir: EvDir,
}

/// Re-evaluates the program after exports changed: the new graph, or the
/// program's diagnostics when it no longer evaluates.
pub type Replan<'a> = dyn FnMut() -> Result<ActionGraph, Vec<ev_core::Diagnostic>> + 'a;

/// What happened.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Actions applied.
    pub applied: Vec<String>,
    /// Actions found unchanged after a re-plan (nothing to do).
    pub unchanged: Vec<String>,
    /// Actions that failed, with why.
    pub failed: Vec<(String, String)>,
    /// Actions not run because something they depend on failed, with why.
    pub skipped: Vec<(String, String)>,
    /// Actions never started (interrupted, or fail-fast).
    pub not_started: Vec<String>,
    /// The user interrupted.
    pub interrupted: bool,
    /// The state could not be written (the apply stopped).
    pub state_error: Option<WriteError>,
    /// The program stopped evaluating once exports changed (the apply
    /// stopped): its diagnostics, for the face to render with the sources.
    pub diagnostics: Vec<ev_core::Diagnostic>,
    /// Where the logs are.
    pub log_dir: PathBuf,
    /// When each started action started and how long it ran.
    pub timings: Vec<Timing>,
}

impl Outcome {
    /// Everything planned happened.
    pub fn success(&self) -> bool {
        self.failed.is_empty()
            && self.skipped.is_empty()
            && self.not_started.is_empty()
            && !self.interrupted
            && self.state_error.is_none()
            && self.diagnostics.is_empty()
    }
}

/// Writes the files an action's tool reads, rendered from its artifact,
/// through the confined writer: under `.ev/build/`, or in
/// `flake-profiles/` for the machine flakes.
pub fn write_files(root: &Path, ev: &EvDir, action: &Action) -> std::io::Result<()> {
    let writer = Writer::new(root);
    for f in action.artifact.files() {
        let (area, path) = Writer::rendered(ev, &f);
        writer.write_if_changed(area, &path, f.content.as_bytes(), Mode::Volatile)?;
    }
    Ok(())
}

/// The signals that stop an apply the way Ctrl-C does: SIGINT, SIGTERM
/// (CI cancelling a job, `timeout`), SIGHUP (the terminal closed) and
/// SIGQUIT. Each stops launching, lets running tools finish within the
/// grace period, records what they did and releases the lock.
struct StopSignals {
    #[cfg(unix)]
    signals: Vec<(&'static str, tokio::signal::unix::Signal)>,
}

impl StopSignals {
    fn install() -> StopSignals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let kinds = [
                ("interrupted", SignalKind::interrupt()),
                ("terminated (SIGTERM)", SignalKind::terminate()),
                ("hung up (SIGHUP)", SignalKind::hangup()),
                ("quit (SIGQUIT)", SignalKind::quit()),
            ];
            StopSignals {
                signals: kinds
                    .into_iter()
                    .filter_map(|(name, kind)| signal(kind).ok().map(|s| (name, s)))
                    .collect(),
            }
        }
        #[cfg(not(unix))]
        StopSignals {}
    }

    /// Waits for the next stop signal; its description.
    async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            std::future::poll_fn(|cx| {
                for (name, s) in &mut self.signals {
                    if s.poll_recv(cx).is_ready() {
                        return std::task::Poll::Ready(*name);
                    }
                }
                std::task::Poll::Pending
            })
            .await
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "interrupted"
        }
    }
}

/// Removes the scratch folders (`.ev/run/<name>-<pid>`) of processes that
/// no longer run: another environment's apply, a `plan --refresh` or a
/// state backend's connection files in use are kept. Without `/proc` (no
/// way to tell), all of them go.
fn remove_stale_scratch(root: &Path) {
    let writer = Writer::new(root);
    let Ok(entries) = std::fs::read_dir(root.join(".ev/run")) else {
        return;
    };
    let can_tell = Path::new("/proc/self").exists();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let pid = name.rsplit('-').next().and_then(|p| p.parse::<u32>().ok());
        let alive =
            can_tell && pid.is_some_and(|p| Path::new("/proc").join(p.to_string()).exists());
        if !alive {
            let _ = writer.remove_tree(Area::Ev, &format!(".ev/run/{name}"));
        }
    }
}

enum Done {
    Applied(Applied),
    Failed(Failure),
}

/// What a spawned action task hands back.
type Joined = (String, Done, Instant, Duration);

/// Runs the plan. `graph` is what the plan was made from; `store`
/// records every action as it ends (the state on its backend, under the
/// apply lock); everything that happens goes to `events`.
#[allow(clippy::too_many_arguments)]
pub async fn execute(
    root: &Path,
    graph: ActionGraph,
    plan: &Plan,
    store: StateFile,
    replan: &mut Replan<'_>,
    options: &Options,
    events: &mut dyn Events,
) -> Outcome {
    let log_dir = root.join(".ev/logs").join(&options.run_id);
    // Scratch files of earlier runs (one killed with -9 never cleaned up):
    // whatever they hold does not outlive the next apply.
    remove_stale_scratch(root);
    // What to do, in plan order (dependencies first).
    let ids: Vec<String> = plan
        .actions
        .iter()
        .filter(|a| a.change != Change::None)
        .map(|a| a.id.clone())
        .collect();
    let schedule = Schedule::new(&ids, |id| {
        graph
            .get(id)
            .map(|a| a.depends_on.clone())
            .unwrap_or_default()
    });
    events.event(Event::Started {
        run: options.run_id.clone(),
        actions: ids,
    });
    let (kill_tx, kill_rx) = watch::channel(false);
    let mut run = Run {
        root,
        options,
        events,
        graph,
        store,
        schedule,
        promised: promised_deletions(plan),
        deletes: plan
            .actions
            .iter()
            .filter(|a| a.change == Change::Delete)
            .map(|a| a.id.clone())
            .collect(),
        outcome: Outcome {
            log_dir,
            ..Outcome::default()
        },
        removing: BTreeSet::new(),
        produced: Vec::new(),
        running: JoinSet::new(),
        kill_tx,
        kill_rx,
        stopping: false,
        grace_deadline: None,
        started_at: Instant::now(),
    };
    let mut stop_signals = StopSignals::install();
    loop {
        run.replan_if_due(replan);
        run.launch_ready();
        if run.running.is_empty() {
            break;
        }
        let sleep_until = run
            .grace_deadline
            .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(86_400 * 365));
        tokio::select! {
            joined = run.running.join_next() => {
                if let Some(Ok(joined)) = joined {
                    run.joined(joined);
                }
            }
            signal = stop_signals.recv() => run.signalled(signal),
            _ = tokio::time::sleep_until(sleep_until) => {
                run.notice("grace period over: stopping running tools".into());
                let _ = run.kill_tx.send(true);
                run.grace_deadline = None;
            }
        }
    }
    run.finish()
}

/// The deletions each action's plan shows, by action: a re-planned action
/// deleting anything else is stopped.
fn promised_deletions(plan: &Plan) -> BTreeMap<String, BTreeSet<String>> {
    plan.actions
        .iter()
        .map(|a| {
            (
                a.id.clone(),
                a.items
                    .iter()
                    .filter(|i| i.change == Change::Delete)
                    .map(|i| i.label.clone())
                    .collect(),
            )
        })
        .collect()
}

/// The `finished` event of an outcome.
fn finished(outcome: &Outcome) -> Event {
    let ids = |v: &[(String, String)]| v.iter().map(|(id, _)| id.clone()).collect();
    Event::Finished {
        success: outcome.success(),
        interrupted: outcome.interrupted,
        applied: outcome.applied.clone(),
        unchanged: outcome.unchanged.clone(),
        failed: ids(&outcome.failed),
        skipped: ids(&outcome.skipped),
        not_started: outcome.not_started.clone(),
        state_error: outcome.state_error.as_ref().map(ToString::to_string),
        log_dir: Some(outcome.log_dir.display().to_string()),
    }
}

/// One apply in progress: what is done, running and waiting.
struct Run<'a> {
    root: &'a Path,
    options: &'a Options,
    events: &'a mut dyn Events,
    graph: ActionGraph,
    store: StateFile,
    schedule: Schedule,
    /// The deletions the plan showed, by action.
    promised: BTreeMap<String, BTreeSet<String>>,
    /// Actions removing a declaration (planned as deletes).
    deletes: BTreeSet<String>,
    outcome: Outcome,
    /// Deletes running now.
    removing: BTreeSet<String>,
    /// Actions whose exports changed since the program was last evaluated.
    produced: Vec<String>,
    running: JoinSet<Joined>,
    kill_tx: watch::Sender<bool>,
    kill_rx: watch::Receiver<bool>,
    /// Nothing new starts (a signal, a state that cannot be written).
    stopping: bool,
    /// When running tools are killed after a stop signal.
    grace_deadline: Option<tokio::time::Instant>,
    started_at: Instant,
}

impl Run<'_> {
    fn notice(&mut self, message: String) {
        self.events.event(Event::Notice { message });
    }

    fn ended(&mut self, id: &str, result: ActionResult, message: Option<String>, took: Duration) {
        self.events.event(Event::ActionFinished {
            id: id.to_string(),
            result,
            message,
            log_tail: None,
            seconds: took.as_secs_f64(),
        });
    }

    /// Records a failure and skips everything downstream of it.
    fn fail(&mut self, id: String, why: String) {
        self.outcome.failed.push((id.clone(), why));
        for (skipped, cause) in self.schedule.failed(&id) {
            self.events.event(Event::ActionSkipped {
                id: skipped.clone(),
                because: cause.clone(),
            });
            self.outcome
                .skipped
                .push((skipped, format!("{cause} did not complete")));
        }
    }

    /// A failure before the action's tool ran: reported and recorded.
    fn fail_early(&mut self, id: String, why: String) {
        self.ended(&id, ActionResult::Failed, Some(why.clone()), Duration::ZERO);
        self.fail(id, why);
    }

    fn state_failed(&mut self, e: WriteError) {
        self.outcome.state_error = Some(e);
        self.stopping = true;
    }

    /// Exports changed since the last evaluation and a ready action reads
    /// them: evaluates again (once for all producers finished so far) and
    /// reconciles the actions still waiting.
    fn replan_if_due(&mut self, replan: &mut Replan<'_>) {
        if self.produced.is_empty() || !self.schedule.ready_depends_on(&self.graph, &self.produced)
        {
            return;
        }
        let producers = std::mem::take(&mut self.produced).join(", ");
        match replan() {
            Ok(new_graph) => {
                let pending = self.schedule.pending();
                let (unchanged, stopped) = reconcile(
                    &producers,
                    &self.graph,
                    &new_graph,
                    &self.store.state,
                    &self.promised,
                    &pending,
                    self.events,
                );
                for u in unchanged {
                    self.ended(&u, ActionResult::Unchanged, None, Duration::ZERO);
                    self.schedule.succeeded(&u);
                    self.outcome.unchanged.push(u);
                }
                for (u, why) in stopped {
                    if self.events.confirm(&u, &why) {
                        continue;
                    }
                    self.ended(&u, ActionResult::Stopped, Some(why.clone()), Duration::ZERO);
                    self.fail(u, why);
                }
                self.graph = new_graph;
            }
            Err(diagnostics) => {
                let first = diagnostics
                    .first()
                    .map(|d| format!("[{}] {}", d.code, d.message))
                    .unwrap_or_default();
                self.notice(format!(
                    "re-evaluating after {producers} failed ({} diagnostic(s)): {first}",
                    diagnostics.len()
                ));
                self.stopping = true;
                self.outcome.diagnostics = diagnostics;
            }
        }
    }

    /// Launches what is ready, up to the parallelism.
    fn launch_ready(&mut self) {
        while !self.stopping
            && (self.options.keep_going || self.outcome.failed.is_empty())
            && self.running.len() < self.options.parallelism.max(1)
        {
            let Some(id) = self.schedule.next_ready() else {
                break;
            };
            if self.deletes.contains(&id) {
                self.launch_removal(id);
            } else {
                self.launch_apply(id);
            }
        }
    }

    /// A declaration removed: removes what it applied (a zone's records, a
    /// cluster's objects, a stack's resources), or forgets it where nothing
    /// live is removed (images, machines).
    fn launch_removal(&mut self, id: String) {
        let Some(previous) = self.store.state.actions.get(&id).cloned() else {
            return;
        };
        if matches!(
            previous.artifact.backend(),
            BackendId::Registry | BackendId::Nix
        ) {
            if let Err(e) = self.store.remove(&id) {
                self.state_failed(e);
            }
            self.ended(&id, ActionResult::Forgotten, None, Duration::ZERO);
            self.schedule.succeeded(&id);
            self.outcome.applied.push(id);
            return;
        }
        let ctx = match Ctx::new(
            self.root,
            &self.options.ev_dir,
            &self.options.run_id,
            &id,
            self.kill_rx.clone(),
            self.options.timeout,
        ) {
            Ok(ctx) => ctx,
            Err(e) => return self.fail_early(id, format!("cannot create its log: {e}")),
        };
        let ctx = Ctx {
            // The declaration is gone: the secrets it was applied with.
            secrets: previous.secrets.clone(),
            force: self.options.force,
            ..ctx.with_previous(Some(&previous))
        };
        self.events.event(Event::ActionStarted { id: id.clone() });
        self.removing.insert(id.clone());
        self.running.spawn(async move {
            let start = Instant::now();
            let done = match drivers::destroy(&previous.artifact, &ctx).await {
                Some(Ok(a)) => Done::Applied(a),
                Some(Err(f)) => Done::Failed(f.scrubbed(&ctx.log)),
                None => Done::Applied(Applied::default()),
            };
            let _ = std::fs::remove_dir_all(&ctx.scratch);
            (id, done, start, start.elapsed())
        });
    }

    /// Starts an action's tool.
    fn launch_apply(&mut self, id: String) {
        let Some(action) = self.graph.get(&id).cloned() else {
            return;
        };
        if action.unknowns.any() {
            let why = still_unknown(&action, &self.graph);
            return self.fail_early(id, why);
        }
        let timeout = action
            .timeout
            .map(Duration::from_secs)
            .unwrap_or(self.options.timeout);
        let ctx = match Ctx::new(
            self.root,
            &self.options.ev_dir,
            &self.options.run_id,
            &id,
            self.kill_rx.clone(),
            timeout,
        ) {
            Ok(ctx) => ctx,
            Err(e) => return self.fail_early(id, format!("cannot create its log: {e}")),
        };
        if let Err(e) = write_files(self.root, &self.options.ev_dir, &action) {
            return self.fail_early(id, format!("cannot write its rendered files: {e}"));
        }
        let ctx = Ctx {
            secrets: action.secrets.clone(),
            force: self.options.force,
            ..ctx.with_previous(self.store.state.actions.get(&id))
        };
        self.events.event(Event::ActionStarted { id: id.clone() });
        let artifact = action.artifact;
        self.running.spawn(async move {
            let start = Instant::now();
            let done = match drivers::apply(&artifact, &ctx).await {
                Ok(a) => Done::Applied(a),
                Err(f) => Done::Failed(f.scrubbed(&ctx.log)),
            };
            let _ = std::fs::remove_dir_all(&ctx.scratch);
            (id, done, start, start.elapsed())
        });
    }

    /// An action's task ended.
    fn joined(&mut self, (id, done, start, took): Joined) {
        self.outcome.timings.push(Timing {
            id: id.clone(),
            start: start.duration_since(self.started_at).as_secs_f64(),
            seconds: took.as_secs_f64(),
            succeeded: matches!(done, Done::Applied(_)),
        });
        match done {
            Done::Failed(f) => {
                self.removing.remove(&id);
                let log = self
                    .outcome
                    .log_dir
                    .join(format!("{}.log", drivers::file_stem(&id)));
                let tail = Log::tail_of(&log, 15);
                self.events.event(Event::ActionFinished {
                    id: id.clone(),
                    result: ActionResult::Failed,
                    message: Some(f.message.clone()),
                    log_tail: (!tail.is_empty()).then_some(tail),
                    seconds: took.as_secs_f64(),
                });
                self.fail(id, f.message);
            }
            Done::Applied(applied) if self.removing.remove(&id) => {
                if let Err(e) = self.store.remove(&id) {
                    self.state_failed(e);
                }
                for export in &applied.removed_exports {
                    if let Err(e) = Writer::new(self.root).remove(Area::Exports, export) {
                        self.outcome.state_error = Some(WriteError::new("remove", export, e));
                    }
                }
                self.ended(&id, ActionResult::Removed, None, took);
                self.schedule.succeeded(&id);
                self.outcome.applied.push(id);
            }
            Done::Applied(applied) => self.record_applied(id, applied, took),
        }
    }

    /// An action's tool succeeded: its exports are written, then it is
    /// recorded as applied.
    fn record_applied(&mut self, id: String, applied: Applied, took: Duration) {
        let Some(action) = self.graph.get(&id).cloned() else {
            return;
        };
        // Exports first: an action is recorded as applied only once what it
        // produced is on disk, so a failed write re-runs it next time
        // instead of losing its outputs.
        let writer = Writer::new(self.root);
        let mut changed = false;
        for export in &applied.exports {
            match writer.write_if_changed(
                Area::Exports,
                &export.path,
                export.content.as_bytes(),
                Mode::Durable,
            ) {
                Ok(written) => changed |= written,
                Err(e) => {
                    let why = format!("its tool succeeded, but its export {} could not be written: {e}; it runs again on the next apply", export.path);
                    self.ended(&id, ActionResult::Failed, Some(why.clone()), took);
                    self.fail(id.clone(), why);
                    self.stopping = true;
                    if changed {
                        self.produced.push(id);
                    }
                    return;
                }
            }
        }
        let mut entry = ActionState::of(&action);
        entry.outputs = applied.outputs;
        if let Err(e) = self.store.record(&id, entry) {
            self.state_failed(e);
        }
        self.ended(&id, ActionResult::Applied, None, took);
        self.schedule.succeeded(&id);
        self.outcome.applied.push(id.clone());
        if changed {
            // Re-planned lazily, once, before the first action reading it
            // starts (see `replan_if_due`).
            self.produced.push(id);
        }
    }

    /// A stop signal: the first stops launching and starts the grace
    /// period, the next kills the running tools.
    fn signalled(&mut self, signal: &str) {
        self.outcome.interrupted = true;
        if self.stopping {
            self.notice(format!("{signal} again: stopping running tools"));
            let _ = self.kill_tx.send(true);
        } else {
            self.stopping = true;
            self.grace_deadline = Some(tokio::time::Instant::now() + self.options.grace);
            self.notice(format!(
                "{signal}: starting nothing new; waiting up to {}s for {} running action(s) (a second signal stops them)",
                self.options.grace.as_secs(),
                self.running.len()
            ));
        }
    }

    /// Nothing runs any more: writes the state and the timings.
    fn finish(mut self) -> Outcome {
        // Drivers remove their own scratch directories; the run's is left empty.
        let _ = std::fs::remove_dir(self.root.join(".ev/run").join(&self.options.run_id));
        self.outcome.not_started = self.schedule.pending();
        write_timings(&self.outcome.log_dir, &self.outcome);
        if let Err(e) = self.store.finish() {
            self.outcome.state_error.get_or_insert(e);
        }
        self.events.event(finished(&self.outcome));
        self.outcome
    }
}

/// After a re-plan: reports what became known for the actions not started
/// yet; returns those now unchanged and those whose change grew beyond the
/// plan (stopped, with why).
fn reconcile(
    producer: &str,
    old: &ActionGraph,
    new: &ActionGraph,
    state: &State,
    promised: &BTreeMap<String, BTreeSet<String>>,
    pending: &[String],
    events: &mut dyn Events,
) -> (Vec<String>, Vec<(String, String)>) {
    let mut unchanged = Vec::new();
    let mut stopped = Vec::new();
    let nothing = BTreeMap::new();
    for id in pending {
        let (Some(before), Some(after)) = (old.get(id), new.get(id)) else {
            continue;
        };
        if before.fingerprint != after.fingerprint {
            for item in after.backend.backend().changes(
                id,
                Side {
                    artifact: Some(&before.artifact),
                    digests: &nothing,
                },
                Side {
                    artifact: Some(&after.artifact),
                    digests: &nothing,
                },
            ) {
                let detail = item.first_difference().unwrap_or_default();
                events.event(Event::Known {
                    id: id.clone(),
                    item: item.label,
                    detail,
                    after: producer.to_string(),
                });
            }
        }
        let applied = state.actions.get(id);
        if applied.is_some_and(|a| a.fingerprint == after.fingerprint) {
            unchanged.push(id.clone());
            continue;
        }
        let grown: Vec<String> = after
            .backend
            .backend()
            .changes(
                id,
                Side {
                    artifact: applied.map(|a| &a.artifact),
                    digests: applied.map_or(&nothing, |a| &a.inputs),
                },
                Side {
                    artifact: Some(&after.artifact),
                    digests: &after.inputs,
                },
            )
            .into_iter()
            .filter(|i| i.change == Change::Delete)
            .map(|i| i.label)
            .filter(|l| !promised.get(id).is_some_and(|p| p.contains(l)))
            .collect();
        if !grown.is_empty() {
            let why = format!(
                "once re-planned it would also delete {}, which the plan did not show; run `ev plan` and `ev apply` again to review",
                grown.join(", ")
            );
            stopped.push((id.clone(), why));
        }
    }
    (unchanged, stopped)
}

/// One action's timing in a run.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Timing {
    /// The action.
    pub id: String,
    /// Seconds from the start of the run to its start.
    pub start: f64,
    /// Seconds it ran.
    pub seconds: f64,
    /// It succeeded.
    pub succeeded: bool,
}

/// Writes the run's timings to `summary.json` in its log directory (for
/// finding what made an apply slow).
fn write_timings(log_dir: &Path, outcome: &Outcome) {
    let doc = serde_json::json!({
        "version": 1,
        "applied": outcome.applied,
        "failed": outcome.failed,
        "skipped": outcome.skipped,
        "not_started": outcome.not_started,
        "timings": outcome.timings,
    });
    let _ = crate::atomic::write_volatile(
        &log_dir.join("summary.json"),
        serde_json::to_string_pretty(&doc)
            .unwrap_or_default()
            .as_bytes(),
    );
}

/// Why an action's values are still unknown when it is due: each export
/// file they wait for and what was to produce it.
fn still_unknown(action: &ev_deploy::plan::Action, graph: &ev_deploy::plan::ActionGraph) -> String {
    let mut parts: Vec<String> = action
        .unknowns
        .files
        .iter()
        .map(|file| match graph.producer_of(file) {
            Some(p) => format!("{file} (written by {}, which did not write it)", p.id),
            None => format!("{file} (no action writes it)"),
        })
        .collect();
    if action.unknowns.unsourced {
        parts.push("a value no action produces".into());
    }
    format!("some of its values are still unknown: {}", parts.join(", "))
}
