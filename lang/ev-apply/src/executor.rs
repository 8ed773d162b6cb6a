//! The executor: runs a plan's actions in dependency order, up to
//! `parallelism` at once, each through its backend's driver.
//!
//! - After every success the action is recorded (appended to the state's
//!   journal; the whole state is written atomically at the end), so a
//!   failed, interrupted or killed apply resumes where it stopped.
//! - When an action writes exports (a stack's outputs, an image's digest),
//!   they are written atomically; before the first action reading them
//!   starts, the program is re-evaluated (once for every producer finished
//!   by then) and the actions still waiting are re-rendered: what became known is printed,
//!   actions whose rendering now matches the state are skipped, and an
//!   action whose re-rendered change deletes more than the plan promised is
//!   stopped before it runs.
//! - A failure skips the actions depending on it; independent branches go
//!   on (`keep_going`), or nothing new starts (fail-fast).
//! - Ctrl-C stops launching, lets running tools finish within a grace
//!   period, and a second Ctrl-C (or the end of the grace) kills them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ev_core::model::Model;
use ev_core::plan::details::{items, Inputs};
use ev_core::plan::diff::{Change, Plan};
use ev_core::plan::state::{fingerprint, ActionState, State};

use crate::schedule::Schedule;
use crate::state_file::StateFile;
use ev_core::plan::{Action, ActionGraph, Backend};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::confined::{Area, Mode, Writer};
use crate::drivers::{self, Applied, Ctx, Failure, Job};
use crate::process::Log;
use crate::report::Reporter;

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
    /// Draw a live view (stderr is a terminal).
    pub live: bool,
    /// Ask on the terminal before an action whose re-planned change grew
    /// beyond the plan (else it is stopped).
    pub ask: bool,
    /// This run's id (names its log directory).
    pub run_id: String,
}

/// Re-evaluates the program after exports changed: the new graph and model.
pub type Replan<'a> = dyn FnMut() -> Result<(ActionGraph, Model), String> + 'a;

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
    pub state_error: Option<String>,
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
    }
}

/// Writes an action's rendered files through the confined writer: under
/// `.ev/build/`, or in `flake-profiles/` for the machine flakes.
pub fn write_files(root: &Path, action: &Action) -> std::io::Result<()> {
    let writer = Writer::new(root);
    for f in &action.files {
        let (area, path) = Writer::rendered(f);
        writer.write_if_changed(area, &path, f.content.as_bytes(), Mode::Volatile)?;
    }
    Ok(())
}

/// An action's rendered files by path.
pub fn files_of(action: &Action) -> BTreeMap<String, String> {
    action
        .files
        .iter()
        .map(|f| (f.path.clone(), f.content.clone()))
        .collect()
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

enum Done {
    Applied(Applied),
    Failed(Failure),
}

/// Runs the plan. `graph` and `model` are what the plan was made from;
/// `state` is updated and written after every action.
#[allow(clippy::too_many_arguments)]
pub async fn execute(
    root: &Path,
    mut graph: ActionGraph,
    mut model: Model,
    plan: &Plan,
    state: State,
    replan: &mut Replan<'_>,
    options: &Options,
    reporter: &mut Reporter,
) -> Outcome {
    let log_dir = root.join(".ev/logs").join(&options.run_id);
    // Scratch files of earlier runs (one killed with -9 never cleaned up):
    // whatever they hold does not outlive the next apply.
    let _ = Writer::new(root).remove_tree(Area::Ev, ".ev/run");
    let mut store = match StateFile::open(root, state) {
        Ok(s) => s,
        Err(e) => {
            return Outcome {
                state_error: Some(e),
                log_dir,
                ..Outcome::default()
            }
        }
    };
    let mut outcome = Outcome {
        log_dir: log_dir.clone(),
        ..Outcome::default()
    };
    let promised: BTreeMap<String, BTreeSet<String>> = plan
        .actions
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
        .collect();
    // What to do, in plan order (dependencies first).
    let ids: Vec<String> = plan
        .actions
        .iter()
        .filter(|a| a.change != Change::None)
        .map(|a| a.id.clone())
        .collect();
    let deletes: BTreeSet<String> = plan
        .actions
        .iter()
        .filter(|a| a.change == Change::Delete)
        .map(|a| a.id.clone())
        .collect();
    let mut schedule = Schedule::new(&ids, |id| {
        graph
            .get(id)
            .map(|a| a.depends_on.clone())
            .unwrap_or_default()
    });
    let started_at = Instant::now();
    let mut removing: BTreeSet<String> = BTreeSet::new();
    // Actions whose exports changed since the program was last evaluated.
    let mut produced: Vec<String> = Vec::new();
    // A failure, and everything downstream of it skipped.
    macro_rules! fail {
        ($id:expr, $why:expr) => {{
            let id: String = $id;
            let why: String = $why;
            outcome.failed.push((id.clone(), why));
            for (skipped, cause) in schedule.failed(&id) {
                let why = format!("{cause} did not complete");
                reporter.say(&format!("{skipped}: skipped ({why})"));
                outcome.skipped.push((skipped, why));
            }
        }};
    }
    let (kill_tx, kill_rx) = watch::channel(false);
    let mut running: JoinSet<(String, Done, Instant, Duration)> = JoinSet::new();
    let mut stopping = false;
    let mut grace_deadline: Option<tokio::time::Instant> = None;
    let mut stop_signals = StopSignals::install();

    loop {
        // Exports changed since the last evaluation and a ready action reads
        // them: evaluate again (once for all producers finished so far).
        if !produced.is_empty() && schedule.ready_depends_on(&graph, &produced) {
            match replan() {
                Ok((new_graph, new_model)) => {
                    let (unchanged, stopped) = reconcile(
                        &produced.join(", "),
                        &graph,
                        &new_graph,
                        &store.state,
                        &promised,
                        &schedule.pending(),
                        reporter,
                    );
                    for u in unchanged {
                        schedule.succeeded(&u);
                        outcome.unchanged.push(u);
                    }
                    for (u, why) in stopped {
                        if options.ask
                            && reporter.ask(&format!(
                                "{u}: {why}.\nApply {u} anyway? Only `yes` is accepted: "
                            ))
                        {
                            continue;
                        }
                        reporter.finished(&u, &format!("stopped: {why}"), Duration::ZERO);
                        fail!(u, why);
                    }
                    graph = new_graph;
                    model = new_model;
                }
                Err(e) => {
                    reporter.say(&format!(
                        "re-evaluating after {} failed: {e}",
                        produced.join(", ")
                    ));
                    stopping = true;
                    outcome
                        .state_error
                        .get_or_insert(format!("re-evaluation failed: {e}"));
                }
            }
            produced.clear();
        }
        // Launch what is ready.
        while !stopping
            && (options.keep_going || outcome.failed.is_empty())
            && running.len() < options.parallelism.max(1)
        {
            let Some(id) = schedule.next_ready() else {
                break;
            };
            if deletes.contains(&id) {
                // A declaration removed: remove what it applied (a zone's
                // records, a cluster's objects, a stack's resources); forget
                // it where nothing live is removed (images, machines).
                let Some(previous) = store.state.actions.get(&id).cloned() else {
                    continue;
                };
                let Some(backend) = Backend::from_name(&previous.backend) else {
                    fail!(
                        id,
                        format!("unknown backend `{}` in the state", previous.backend)
                    );
                    continue;
                };
                if matches!(backend, Backend::Registry | Backend::Nix) {
                    if let Err(e) = store.remove(&id) {
                        outcome.state_error = Some(e);
                        stopping = true;
                    }
                    reporter.finished(&id, "forgotten (no longer managed)", Duration::ZERO);
                    schedule.succeeded(&id);
                    outcome.applied.push(id);
                    continue;
                }
                let ctx =
                    match Ctx::new(root, &options.run_id, &id, kill_rx.clone(), options.timeout) {
                        Ok(ctx) => ctx,
                        Err(e) => {
                            fail!(id, format!("cannot create its log: {e}"));
                            continue;
                        }
                    };
                let ctx = Ctx {
                    // The declaration is gone: the secrets it was applied with.
                    secrets: previous.secrets.clone(),
                    force: options.force,
                    ..ctx.with_previous(Some(&previous))
                };
                reporter.started(&id);
                removing.insert(id.clone());
                running.spawn(async move {
                    let start = Instant::now();
                    let done = match drivers::destroy(backend, &id, &ctx).await {
                        Some(Ok(a)) => Done::Applied(a),
                        Some(Err(f)) => Done::Failed(f.scrubbed(&ctx.log)),
                        None => Done::Applied(Applied::default()),
                    };
                    let _ = std::fs::remove_dir_all(&ctx.scratch);
                    (id, done, start, start.elapsed())
                });
                continue;
            }
            let Some(action) = graph.get(&id).cloned() else {
                continue;
            };
            if action.files.iter().any(|f| f.has_unknowns()) {
                let why = still_unknown(&action, &graph);
                reporter.finished(&id, &format!("failed: {why}"), Duration::ZERO);
                fail!(id, why);
                continue;
            }
            let Some(job) = Job::of(&action, &model) else {
                let why = "its resource is missing from the model".to_string();
                fail!(id, why);
                continue;
            };
            let timeout = action
                .timeout
                .map(Duration::from_secs)
                .unwrap_or(options.timeout);
            let ctx = match Ctx::new(root, &options.run_id, &id, kill_rx.clone(), timeout) {
                Ok(ctx) => ctx,
                Err(e) => {
                    fail!(id, format!("cannot create its log: {e}"));
                    continue;
                }
            };
            if let Err(e) = write_files(root, &action) {
                fail!(id, format!("cannot write its rendered files: {e}"));
                continue;
            }
            let ctx = Ctx {
                secrets: action.secrets.clone(),
                files: files_of(&action),
                force: options.force,
                ..ctx.with_previous(store.state.actions.get(&id))
            };
            reporter.started(&id);
            running.spawn(async move {
                let start = Instant::now();
                let done = match drivers::apply(&job, &ctx).await {
                    Ok(a) => Done::Applied(a),
                    Err(f) => Done::Failed(f.scrubbed(&ctx.log)),
                };
                let _ = std::fs::remove_dir_all(&ctx.scratch);
                (id, done, start, start.elapsed())
            });
        }
        if running.is_empty() {
            break;
        }
        let sleep_until = grace_deadline
            .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(86_400 * 365));
        tokio::select! {
            joined = running.join_next() => {
                let Some(joined) = joined else { continue };
                let Ok((id, done, start, took)) = joined else { continue };
                outcome.timings.push(Timing {
                    id: id.clone(),
                    start: start.duration_since(started_at).as_secs_f64(),
                    seconds: took.as_secs_f64(),
                    succeeded: matches!(done, Done::Applied(_)),
                });
                match done {
                    Done::Failed(f) => {
                        removing.remove(&id);
                        let tail = Log::tail_of(&log_dir.join(format!("{}.log", drivers::file_stem(&id))), 15);
                        reporter.finished(&id, &format!("failed: {}", f.message), took);
                        if !tail.is_empty() {
                            reporter.say(&format!("--- last lines of {id}'s log\n{tail}\n---"));
                        }
                        fail!(id, f.message);
                    }
                    Done::Applied(applied) if removing.remove(&id) => {
                        if let Err(e) = store.remove(&id) {
                            outcome.state_error = Some(e);
                            stopping = true;
                        }
                        for export in &applied.removed_exports {
                            if let Err(e) = Writer::new(root).remove(Area::Exports, export) {
                                outcome.state_error = Some(format!("cannot remove {export}: {e}"));
                            }
                        }
                        reporter.finished(&id, "removed", took);
                        schedule.succeeded(&id);
                        outcome.applied.push(id);
                    }
                    Done::Applied(applied) => {
                        let Some(action) = graph.get(&id).cloned() else { continue };
                        // Exports first: an action is recorded as applied
                        // only once what it produced is on disk, so a
                        // failed write re-runs it next time instead of
                        // losing its outputs.
                        let writer = Writer::new(root);
                        let mut changed = false;
                        let mut write_error = None;
                        for export in &applied.exports {
                            match writer.write_if_changed(Area::Exports, &export.path, export.content.as_bytes(), Mode::Durable) {
                                Ok(written) => changed |= written,
                                Err(e) => {
                                    write_error = Some(format!("its tool succeeded, but its export {} could not be written: {e}; it runs again on the next apply", export.path));
                                    break;
                                }
                            }
                        }
                        if let Some(why) = write_error {
                            reporter.finished(&id, &format!("failed: {why}"), took);
                            fail!(id.clone(), why);
                            stopping = true;
                            if changed {
                                produced.push(id);
                            }
                            continue;
                        }
                        let mut entry = ActionState::of(&action);
                        entry.outputs = applied.outputs.clone();
                        if let Err(e) = store.record(&id, entry) {
                            outcome.state_error = Some(e);
                            stopping = true;
                        }
                        reporter.finished(&id, "done", took);
                        schedule.succeeded(&id);
                        outcome.applied.push(id.clone());
                        if changed {
                            // Re-planned lazily, once, before the first
                            // action reading it starts (see the loop's top).
                            produced.push(id.clone());
                        }
                    }
                }
            }
            signal = stop_signals.recv() => {
                outcome.interrupted = true;
                if stopping {
                    reporter.say(&format!("{signal} again: stopping running tools"));
                    let _ = kill_tx.send(true);
                } else {
                    stopping = true;
                    grace_deadline = Some(tokio::time::Instant::now() + options.grace);
                    reporter.say(&format!(
                        "{signal}: starting nothing new; waiting up to {}s for {} running action(s) (a second signal stops them)",
                        options.grace.as_secs(), running.len()
                    ));
                }
            }
            _ = tokio::time::sleep_until(sleep_until) => {
                reporter.say("grace period over: stopping running tools");
                let _ = kill_tx.send(true);
                grace_deadline = None;
            }
        }
    }
    // Drivers remove their own scratch directories; the run's is left empty.
    let _ = std::fs::remove_dir(root.join(".ev/run").join(&options.run_id));
    outcome.not_started = schedule.pending();
    write_timings(&log_dir, &outcome);
    if let Err(e) = store.finish() {
        outcome.state_error.get_or_insert(e);
    }
    reporter.close();
    outcome
}

/// After a re-plan: prints what became known for the actions not started
/// yet; returns those now unchanged and those whose change grew beyond the
/// plan (stopped, with why).
fn reconcile(
    producer: &str,
    old: &ActionGraph,
    new: &ActionGraph,
    state: &State,
    promised: &BTreeMap<String, BTreeSet<String>>,
    pending: &[String],
    reporter: &mut Reporter,
) -> (Vec<String>, Vec<(String, String)>) {
    let mut unchanged = Vec::new();
    let mut stopped = Vec::new();
    let nothing = BTreeMap::new();
    for id in pending {
        let (Some(before), Some(after)) = (old.get(id), new.get(id)) else {
            continue;
        };
        let (old_files, new_files) = (files_of(before), files_of(after));
        if old_files != new_files {
            for item in items(
                after.backend,
                id,
                Inputs {
                    files: &old_files,
                    digests: &nothing,
                    secrets: &before.secrets,
                },
                Inputs {
                    files: &new_files,
                    digests: &nothing,
                    secrets: &after.secrets,
                },
            ) {
                let detail = item
                    .details
                    .iter()
                    .find(|d| d.contains('→'))
                    .or_else(|| {
                        item.details
                            .iter()
                            .find(|d| d.starts_with('+') && !d.starts_with("+++"))
                    })
                    .map(|d| d.trim_start_matches('+').trim().to_string())
                    .unwrap_or_default();
                reporter.say(&format!(
                    "{id}  {}  {detail}  (known after {producer})",
                    item.label
                ));
            }
        }
        let applied = state.actions.get(id);
        if applied.is_some_and(|a| a.fingerprint == fingerprint(after)) {
            reporter.finished(id, "unchanged once known", Duration::ZERO);
            unchanged.push(id.clone());
            continue;
        }
        let applied_files = applied.map(|a| a.files.clone()).unwrap_or_default();
        let applied_inputs = applied.map(|a| a.inputs.clone()).unwrap_or_default();
        let grown: Vec<String> = items(
            after.backend,
            id,
            Inputs {
                files: &applied_files,
                digests: &applied_inputs,
                secrets: applied.map_or(&[][..], |a| a.secrets.as_slice()),
            },
            Inputs {
                files: &new_files,
                digests: &after.inputs,
                secrets: &after.secrets,
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
fn still_unknown(action: &ev_core::plan::Action, graph: &ev_core::plan::ActionGraph) -> String {
    let files: std::collections::BTreeSet<&String> = action
        .files
        .iter()
        .flat_map(|f| f.unknowns.files.iter())
        .collect();
    let mut parts: Vec<String> = files
        .iter()
        .map(|file| match graph.producer_of(file) {
            Some(p) => format!("{file} (written by {}, which did not write it)", p.id),
            None => format!("{file} (no action writes it)"),
        })
        .collect();
    if action.files.iter().any(|f| f.unknowns.unsourced) {
        parts.push("a value no action produces".into());
    }
    format!("some of its values are still unknown: {}", parts.join(", "))
}
