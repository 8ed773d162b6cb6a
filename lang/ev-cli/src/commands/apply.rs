//! `ev apply [PLAN]`: shows the plan, asks for confirmation, then runs it
//! through `ev-apply`'s executor, holding the repository's apply lock. With
//! a saved plan (`ev plan --out FILE`) it applies exactly that plan and
//! refuses when the program, the exports or the state changed since.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

use ev_apply::events::{Event, Events};
use ev_apply::executor::{execute, Options as ExecOptions, Outcome};
use ev_apply::report::{Human, JsonLines};
use ev_apply::state_backend::Lease;
use ev_apply::state_file::StateFile;
use ev_core::Diagnostic;
use ev_deploy::plan::diff::{render_human_as, Plan};
use ev_deploy::plan::lower;

use crate::printer::Output;
use crate::settings::Settings;

/// `ev apply`'s options.
pub struct Options<'a> {
    /// A saved plan to apply exactly.
    pub plan_file: Option<&'a Path>,
    /// Targets (empty: everything).
    pub targets: Vec<String>,
    /// Do not ask.
    pub yes: bool,
    /// Actions at once.
    pub parallelism: usize,
    /// Stop starting actions after the first failure.
    pub fail_fast: bool,
    /// Seconds one tool may run.
    pub timeout: u64,
    /// Seconds running tools get after Ctrl-C.
    pub grace: u64,
    /// Seconds to wait for the apply lock.
    pub lock_timeout: u64,
    /// Allow large deletions (and let tools exceed their thresholds).
    pub allow_large_changes: bool,
    /// Report as JSON events on stdout (diagnostics as JSON on stderr).
    pub json: bool,
}

fn fail(message: String) -> Output {
    Output {
        stderr: message,
        code: 1,
        ..Output::default()
    }
}

/// A saved plan that cannot be applied (E0603: unreadable or without a
/// basis; exit 2).
fn unusable_plan(settings: &Settings, path: &Path, why: &str) -> Output {
    Output::usage(
        settings,
        Diagnostic::general(
            "E0603",
            format!("cannot use the saved plan {}: {why}", path.display()),
        )
        .with_help("save a plan with `ev plan --out FILE`, review it, then `ev apply FILE`"),
    )
}

/// A saved plan that no longer matches the repository (E0504; exit 1).
fn stale_plan(settings: &Settings, message: String, help: &str) -> Output {
    let mut out = Output::refused(
        settings,
        &[Diagnostic::general("E0504", message).with_help(help)],
        1,
    );
    out.say(settings, "nothing was applied");
    out
}

/// Runs `ev apply`.
pub fn run(settings: &Settings, options: Options<'_>) -> Output {
    let json_settings;
    let settings = if options.json {
        // One machine-readable face: diagnostics are JSON too.
        json_settings = Settings {
            message_format: crate::cli::MessageFormat::Json,
            color: false,
            ..settings.clone()
        };
        if !options.yes && options.plan_file.is_none() {
            return Output::usage(
                &json_settings,
                Diagnostic::general("E0609", "refusing to apply with --json without --yes: JSON events cannot ask for confirmation")
                    .with_help("review the plan, then pass --yes (or apply a saved plan: `ev plan --out plan.json`, `ev apply --json plan.json`)"),
            );
        }
        &json_settings
    } else {
        settings
    };
    let mut loading = Output::default();
    let Some(loaded) = super::loaded(settings, &mut loading) else {
        return loading;
    };
    let backend = match loaded.state_backend(settings) {
        Ok(b) => b,
        Err(out) => return out,
    };
    let wait = std::time::Duration::from_secs(options.lock_timeout);
    let lease = match Lease::acquire(backend.clone(), wait) {
        Ok(l) => l,
        Err(e) => return Output::usage(settings, e.diagnostic(&backend.location())),
    };
    let takeover = lease.takeover_notice();
    let saved: Option<Plan> = match options.plan_file {
        Some(path) => match std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str::<Plan>(&t).map_err(|e| e.to_string()))
        {
            Ok(p) => Some(p),
            Err(e) => return unusable_plan(settings, path, &e),
        },
        None => None,
    };
    let targets = match &saved {
        // A saved plan holds exactly its actions: re-plan them, nothing else.
        Some(p) => p.actions.iter().map(|a| a.id.clone()).collect(),
        None => options.targets.clone(),
    };
    let prepared = match super::plan::prepare_with(
        settings,
        loaded,
        backend,
        &targets,
        options.allow_large_changes,
    ) {
        Ok(p) => p,
        Err(out) => return out,
    };
    if let Some(saved) = &saved {
        if saved.version != ev_deploy::plan::diff::PLAN_VERSION {
            return stale_plan(
                settings,
                format!(
                    "the saved plan has version {}; this ev reads version {}",
                    saved.version,
                    ev_deploy::plan::diff::PLAN_VERSION
                ),
                "run `ev plan --out FILE` again with this ev",
            );
        }
        let Some(saved_basis) = &saved.basis else {
            let path = options.plan_file.unwrap_or(Path::new("-"));
            return unusable_plan(settings, path, "it records no basis");
        };
        let now = super::plan::basis(
            settings,
            &prepared.loaded,
            &prepared.graph,
            prepared.state_text.as_deref(),
        );
        let mut changed = now.changes_since(saved_basis);
        // The whole document is authenticated, not just its basis: the
        // actions it lists must be exactly what the unchanged basis plans
        // now, so an edited action ("change": "none", another value) is
        // refused rather than trusted.
        if changed.is_empty()
            && serde_json::to_value(&saved.actions).ok()
                != serde_json::to_value(&prepared.plan.actions).ok()
        {
            changed.push("its actions (the file was edited)");
        }
        if !changed.is_empty() {
            let differing = differing_actions(&saved.actions, &prepared.plan.actions);
            let which = if differing.is_empty() {
                String::new()
            } else {
                format!("; planned differently now: {}", differing.join(", "))
            };
            return stale_plan(
                settings,
                format!(
                    "the saved plan is stale: {} changed since it was saved{which}",
                    changed.join(", ")
                ),
                "run `ev plan --out FILE` again and review it",
            );
        }
    }
    let plan = prepared.plan;
    let mut stderr = std::io::stderr();
    let mut json = options.json.then(|| JsonLines::new(std::io::stdout()));
    if let Some(notice) = takeover {
        match &mut json {
            Some(json) => json.event(Event::Notice {
                message: notice.trim_end().to_string(),
            }),
            None if settings.message_format == crate::cli::MessageFormat::Human => {
                let _ = write!(stderr, "{notice}");
            }
            None => {}
        }
    }
    if let Some(json) = &mut json {
        json.event(Event::Plan {
            plan: serde_json::to_value(&plan).unwrap_or_default(),
        });
    }
    if !plan.has_changes() {
        if let Some(json) = &mut json {
            json.event(nothing_to_do());
        } else if settings.message_format == crate::cli::MessageFormat::Human {
            let _ = writeln!(
                stderr,
                "No changes. The infrastructure matches the recorded state."
            );
        }
        return Output::default();
    }
    // Text for people; with JSON diagnostics stderr holds only those.
    let human = !options.json && settings.message_format == crate::cli::MessageFormat::Human;
    if human {
        let detail = super::plan::detail(false, false, std::io::stderr());
        let _ = write!(stderr, "{}", render_human_as(&plan, detail));
    }
    if saved.is_none() && !options.yes {
        if !std::io::stdin().is_terminal() {
            return Output::usage(
                settings,
                Diagnostic::general(
                    "E0609",
                    "refusing to apply without a terminal to confirm on",
                )
                .with_help("review the plan, then pass --yes (or apply a saved plan: `ev plan --out plan.json`, `ev apply plan.json`)"),
            );
        }
        let _ = write!(stderr, "\nApply these changes? Only `yes` is accepted: ");
        let _ = stderr.flush();
        let mut answer = String::new();
        let _ = std::io::stdin().read_line(&mut answer);
        if answer.trim() != "yes" {
            return fail("Apply cancelled; nothing was changed.\n".into());
        }
    }
    let run_id = run_id();
    let exec = ExecOptions {
        parallelism: options.parallelism,
        keep_going: !options.fail_fast,
        timeout: Duration::from_secs(options.timeout),
        grace: Duration::from_secs(options.grace),
        force: options.allow_large_changes,
        run_id: run_id.clone(),
        ev_dir: prepared.loaded.ev_dir.clone(),
    };
    // The live view starts once the question above is answered.
    let mut human;
    let events: &mut dyn Events = match &mut json {
        Some(json) => json,
        None => {
            human = Human::new(
                std::io::stderr().is_terminal(),
                !options.yes && saved.is_none() && std::io::stdin().is_terminal(),
            );
            &mut human
        }
    };
    let store = match StateFile::open(&lease, &prepared.stored, prepared.state) {
        Ok(s) => s,
        Err(e) => return Output::usage(settings, e.diagnostic()),
    };
    let started = std::time::Instant::now();
    let loaded = prepared.loaded;
    let root = settings.root.clone();
    let mut replan = || {
        // Exports changed on disk: evaluate again, now with them known.
        let ev = ev_core::Evaluator::new(&loaded.program, &loaded.fs);
        let (model, diagnostics) = ev_deploy::build_model(&loaded.program, &ev);
        if !diagnostics.is_empty() {
            return Err(diagnostics);
        }
        Ok(lower(&model, &loaded.fs))
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            return Output::usage(
                settings,
                Diagnostic::general("E0608", format!("cannot start the executor: {e}")),
            )
        }
    };
    let outcome = runtime.block_on(execute(
        &root,
        prepared.graph,
        &plan,
        store,
        &mut replan,
        &exec,
        events,
    ));
    drop(lease);
    let mut out = summary(settings, &plan, &outcome, started.elapsed());
    if options.json {
        // The `finished` event said it all; only a diagnostic stays.
        out.stderr = state_error(settings, &outcome);
    }
    // The program no longer evaluated once exports changed: its
    // diagnostics, at their places in the sources.
    out.diagnostics(settings, &outcome.diagnostics, &loaded.program.sources);
    out
}

/// The `finished` event of an apply with nothing to do.
fn nothing_to_do() -> Event {
    Event::Finished {
        success: true,
        interrupted: false,
        applied: Vec::new(),
        unchanged: Vec::new(),
        failed: Vec::new(),
        skipped: Vec::new(),
        not_started: Vec::new(),
        state_error: None,
        log_dir: None,
    }
}

/// E0604 when the state could not be written (rendered as `settings` say).
fn state_error(settings: &Settings, outcome: &Outcome) -> String {
    match &outcome.state_error {
        Some(e) => crate::printer::render_refused(
            settings.message_format,
            settings.color,
            &[e.diagnostic()],
        ),
        None => String::new(),
    }
}

fn run_id() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("{secs}-{}", std::process::id())
}

fn summary(settings: &Settings, plan: &Plan, outcome: &Outcome, took: Duration) -> Output {
    let mut text = String::new();
    for (id, why) in &outcome.failed {
        text.push_str(&format!("failed:  {id}: {why}\n"));
    }
    for (id, why) in &outcome.skipped {
        text.push_str(&format!("skipped: {id} ({why})\n"));
    }
    if !outcome.not_started.is_empty() {
        text.push_str(&format!(
            "not started: {}\n",
            outcome.not_started.join(", ")
        ));
    }
    text.push_str(&state_error(settings, outcome));
    // Moves and forgets were written with the state before any action ran.
    for m in &plan.moved {
        text.push_str(&format!("moved:   {} to {}\n", m.from, m.to));
    }
    for f in &plan.forgotten {
        text.push_str(&format!(
            "forgot:  {} (what it applied is left as it is)\n",
            f.id
        ));
    }
    text.push_str(&format!(
        "Apply {}: {} applied, {} unchanged once known, {} failed, {} skipped, {} not started ({:.1}s). Logs: {}\n",
        if outcome.success() { "complete" } else if outcome.interrupted { "interrupted" } else { "incomplete" },
        outcome.applied.len(),
        outcome.unchanged.len(),
        outcome.failed.len(),
        outcome.skipped.len(),
        outcome.not_started.len(),
        took.as_secs_f64(),
        outcome.log_dir.display(),
    ));
    if !outcome.success() {
        text.push_str("The state records what succeeded: run `ev apply` again to continue.\n");
    }
    Output {
        stderr: text,
        code: if outcome.success() {
            0
        } else if outcome.interrupted {
            130
        } else {
            1
        },
        ..Output::default()
    }
}

/// `ev force-unlock ID`: removes the environment's lock with this id, on
/// whichever backend holds it.
pub fn force_unlock(settings: &Settings, id: &str) -> Output {
    let mut out = Output::default();
    let Some(loaded) = super::loaded(settings, &mut out) else {
        return out;
    };
    let backend = match loaded.state_backend(settings) {
        Ok(b) => b,
        Err(out) => return out,
    };
    match backend.force_unlock(id) {
        Ok(h) => Output {
            stderr: format!(
                "removed the apply lock {} (pid {} on {}) from {}\n",
                h.id,
                h.pid,
                h.host,
                backend.location()
            ),
            ..Output::default()
        },
        Err(e) => Output::usage(settings, e.diagnostic(&backend.location())),
    }
}

/// The ids of the actions a saved plan and a fresh one disagree on (added,
/// removed or planned otherwise): what E0504 names as changed.
fn differing_actions(
    saved: &[ev_deploy::plan::diff::PlannedAction],
    now: &[ev_deploy::plan::diff::PlannedAction],
) -> Vec<String> {
    let by_id = |actions: &[ev_deploy::plan::diff::PlannedAction]| {
        actions
            .iter()
            .map(|a| (a.id.clone(), serde_json::to_value(a).ok()))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let (saved, now) = (by_id(saved), by_id(now));
    let ids: std::collections::BTreeSet<&String> = saved.keys().chain(now.keys()).collect();
    ids.into_iter()
        .filter(|id| saved.get(*id) != now.get(*id))
        .cloned()
        .collect()
}
