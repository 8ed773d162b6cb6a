//! `ev plan`: what `ev apply` would change, per action, compared with the
//! recorded state (`.ev/state.json`) without running any tool.

use std::path::Path;

use ev_core::plan::diff::{diff, render_human};
use ev_core::plan::lower;
use ev_core::plan::state::{State, STATE_PATH};

use crate::printer::Output;
use crate::settings::Settings;

/// Runs `ev plan`.
pub fn run(
    settings: &Settings,
    json: bool,
    out_file: Option<&Path>,
    detailed_exitcode: bool,
) -> Output {
    let mut out = Output::default();
    let state = match std::fs::read_to_string(settings.root.join(STATE_PATH)) {
        Ok(text) => match State::parse(&text) {
            Ok(state) => state,
            Err(e) => {
                out.stderr = format!("error: {e}\n");
                out.code = 1;
                return out;
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => State::empty(),
        Err(e) => {
            out.stderr = format!("error: cannot read {STATE_PATH}: {e}\n");
            out.code = 1;
            return out;
        }
    };
    let Some(model) = super::model(settings, &mut out) else {
        return out;
    };
    let graph = lower(&model);
    let plan = diff(&graph, &state);
    let plan_json = serde_json::to_string_pretty(&plan).unwrap_or_default() + "\n";
    if let Some(path) = out_file {
        if let Err(e) = super::build::write_atomically(path, plan_json.as_bytes()) {
            out.stderr = format!("error: cannot write {}: {e}\n", path.display());
            out.code = 1;
            return out;
        }
    }
    out.stdout = if json { plan_json } else { render_human(&plan) };
    if detailed_exitcode && plan.has_changes() {
        out.code = 2;
    }
    out
}
