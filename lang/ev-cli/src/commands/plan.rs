//! `ev plan`: what `ev apply` would change, per action, compared with the
//! recorded state (`.ev/state.json`) without running any tool.

use std::path::Path;
use std::sync::Arc;

use ev_apply::state_backend::{StateBackend, Stored};

use ev_deploy::plan::diff::{
    actions_digest, digest_files, guardrails, program_digest, render_targeted, target, Basis,
    Detail, PlanError,
};
use ev_deploy::plan::state::{EvDir, State};
use ev_deploy::plan::ActionGraph;

use crate::cli::PlanFormat;
use crate::printer::Output;
use crate::settings::Settings;

/// `ev plan`'s options.
pub struct Options<'a> {
    /// Targets (empty: everything).
    pub targets: Vec<String>,
    /// Skip the deletion-share guardrail.
    pub allow_large_changes: bool,
    /// How the plan prints.
    pub format: PlanFormat,
    /// Where Markdown file references link to.
    pub link_base: Option<&'a str>,
    /// Also save the JSON plan here.
    pub out: Option<&'a Path>,
    /// Exit 2 when changes are present.
    pub detailed_exitcode: bool,
    /// Ask the tools for the live state too.
    pub refresh: bool,
    /// How much of the plan to show.
    pub detail: Detail,
}

/// `--full`, `--compact`, or by where the plan goes: a terminal gets the
/// compact plan, a file, a pipe or a CI log every item with its values.
pub fn detail(full: bool, compact: bool, to: impl std::io::IsTerminal) -> Detail {
    if full || (!compact && !to.is_terminal()) {
        Detail::Full
    } else {
        Detail::Compact
    }
}

/// A computed plan and what it was computed from.
pub struct Prepared {
    /// The program, files and model.
    pub loaded: super::Loaded,
    /// The desired actions.
    pub graph: ActionGraph,
    /// The plan (restricted to targets).
    pub plan: ev_deploy::plan::diff::Plan,
    /// The recorded state, with the program's moves and forgets made.
    pub state: State,
    /// The state file's text (`None` when there is none).
    pub state_text: Option<String>,
    /// Actions pulled in by targets as dependencies.
    pub pulled_in: Vec<String>,
    /// What the backend stored (the version an apply writes over).
    pub stored: Stored,
}

/// Evaluates the program, reads the state from its backend and plans the
/// program against it, restricted to `targets`, with the guardrails
/// applied.
pub fn prepare(
    settings: &Settings,
    targets: &[String],
    allow_large_changes: bool,
) -> Result<Prepared, Output> {
    let mut out = Output::default();
    let Some(loaded) = super::loaded(settings, &mut out) else {
        return Err(out);
    };
    let backend = loaded.state_backend(settings)?;
    prepare_with(settings, loaded, backend, targets, allow_large_changes)
}

/// [`prepare`] for a program already loaded, against `backend` (`ev
/// apply` holds its lock by now).
pub fn prepare_with(
    settings: &Settings,
    loaded: super::Loaded,
    backend: Arc<dyn StateBackend>,
    targets: &[String],
    allow_large_changes: bool,
) -> Result<Prepared, Output> {
    let (stored, mut state, state_text) = read_state(settings, &*backend)?;
    // The state as the program's `moved` and `forget` leave it: what the
    // plan compares with, and what an apply writes.
    let (graph, mut plan) =
        ev_deploy::plan::plan_refactored(&loaded.program, &loaded.fs, &loaded.model, &mut state)
            .map_err(|refused| {
                let mut out = Output::default();
                out.diagnostics(settings, &refused, &loaded.program.sources);
                out.say(settings, "the plan was refused; nothing was saved");
                out
            })?;
    let cycles: Vec<PlanError> = graph
        .cycles()
        .into_iter()
        .map(|actions| PlanError::Cycle { actions })
        .collect();
    if !cycles.is_empty() {
        return Err(plan_error(settings, &cycles));
    }
    let pulled_in = target(&mut plan, &graph, targets).map_err(|e| plan_error(settings, &[e]))?;
    let refused = guardrails(&plan, &state, allow_large_changes);
    if !refused.is_empty() {
        return Err(plan_error(settings, &refused));
    }
    Ok(Prepared {
        loaded,
        graph,
        plan,
        state,
        state_text,
        pulled_in,
        stored,
    })
}

/// [`ev_apply::state_backend::read_state`], refused as an [`Output`].
pub fn read_state(
    settings: &Settings,
    backend: &dyn StateBackend,
) -> Result<(Stored, State, Option<String>), Output> {
    ev_apply::state_backend::read_state(backend).map_err(|d| Output::usage(settings, *d))
}

/// Runs `ev plan`.
pub fn run(settings: &Settings, options: Options<'_>) -> Output {
    let Options {
        targets,
        allow_large_changes,
        format,
        link_base,
        out: out_file,
        detailed_exitcode,
        refresh,
        detail,
    } = options;
    let Prepared {
        loaded,
        graph,
        mut plan,
        state,
        state_text,
        pulled_in,
        ..
    } = match prepare(settings, &targets, allow_large_changes) {
        Ok(p) => p,
        Err(out) => return out,
    };
    let mut out = Output::default();
    if out_file.is_some() {
        plan.basis = Some(basis(settings, &loaded, &graph, state_text.as_deref()));
    }
    let plan_json = serde_json::to_string_pretty(&plan).unwrap_or_default() + "\n";
    if let Some(path) = out_file {
        if let Err(e) = ev_apply::atomic::write(path, plan_json.as_bytes(), false) {
            return Output::usage(
                settings,
                super::cannot_write(&path.display().to_string(), &e),
            );
        }
    }
    let warnings = ev_deploy::repository_warnings(&loaded.program, &loaded.fs);
    out.diagnostics(settings, &warnings, &loaded.program.sources);
    out.stdout = if format == PlanFormat::Json {
        plan_json
    } else if format == PlanFormat::Markdown {
        let title = match &loaded.program.environment {
            Some(env) => format!("ev -e {env} plan"),
            None => "ev plan".to_string(),
        };
        ev_deploy::plan::markdown::render_markdown(&plan, &graph, &loaded.model, &title, link_base)
    } else {
        let mut text = render_targeted(&plan, &targets, &pulled_in, detail);
        if refresh {
            text.push_str(&refresh_live(
                settings,
                &loaded.ev_dir,
                &graph,
                &plan,
                &state,
            ));
        }
        text
    };
    if detailed_exitcode && plan.has_changes() {
        out.code = 2;
    }
    out
}

/// The plan's guardrails refused it (E0501–E0503; exit 1).
pub fn plan_error(settings: &Settings, errors: &[PlanError]) -> Output {
    let diagnostics: Vec<_> = errors.iter().map(PlanError::diagnostic).collect();
    let mut out = Output::refused(settings, &diagnostics, 1);
    out.say(settings, "the plan was refused; nothing was saved");
    out
}

/// What a saved plan was made from: `ev apply plan.json` compares it with
/// the repository before applying.
pub fn basis(
    settings: &Settings,
    loaded: &super::Loaded,
    graph: &ActionGraph,
    state_text: Option<&str>,
) -> Basis {
    let exports = files_below(&settings.root, "exports");
    Basis {
        program: program_digest(&loaded.program),
        actions: actions_digest(graph),
        exports: digest_files(exports.iter().map(|(p, b)| (p.as_str(), b.as_slice()))),
        state: state_text.map_or_else(
            || "none".to_string(),
            |t| digest_files([(loaded.ev_dir.state().as_str(), t.as_bytes())]),
        ),
    }
}

/// Every file below `root/dir`, by repository-relative path, read through
/// the confined file system (links leaving the repository, FIFOs and other
/// unreadable entries are skipped: the program cannot have read them either).
fn files_below(root: &Path, dir: &str) -> Vec<(String, Vec<u8>)> {
    use ev_core::fs::FileSystem;
    let fs = ev_core::fs::OsFs::new(root);
    let mut out: Vec<(String, Vec<u8>)> =
        ev_core::fs::files_below(&root.join(dir), ev_core::fs::Walk::Everything)
            .into_iter()
            .filter_map(|rel| {
                let path = format!("{dir}/{rel}");
                fs.read_bytes(&path).ok().map(|bytes| (path, bytes))
            })
            .collect();
    out.sort();
    out
}

/// Asks every planned action's tool for the live state (`--refresh`).
fn refresh_live(
    settings: &Settings,
    ev_dir: &EvDir,
    graph: &ActionGraph,
    plan: &ev_deploy::plan::diff::Plan,
    state: &State,
) -> String {
    let ids: Vec<String> = plan
        .actions
        .iter()
        .filter(|a| graph.get(&a.id).is_some())
        .map(|a| a.id.clone())
        .collect();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return format!("\nLive state (--refresh): cannot start: {e}\n"),
    };
    let results = runtime.block_on(ev_apply::refresh::refresh(
        &settings.root,
        ev_dir,
        graph,
        state,
        &ids,
        10,
        std::time::Duration::from_secs(300),
    ));
    ev_apply::refresh::render(&results)
}
