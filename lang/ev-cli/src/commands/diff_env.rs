//! `ev diff-env A B`: two environments of one program side by side. The
//! difference is B's action graph planned against a state recording A's
//! as applied: every record, object, resource or setting B renders unlike
//! A (values that legitimately differ by environment show here, as such).
//! Then the promotion check (`ev_deploy::plan::promotion`): whether B
//! deploys the images A has applied.

use ev_deploy::plan::diff::{diff, render_targeted, Detail};
use ev_deploy::plan::lower;
use ev_deploy::plan::promotion;
use ev_deploy::plan::state::State;

use crate::printer::Output;
use crate::settings::Settings;

/// Runs `ev diff-env A B`.
pub fn run(settings: &Settings, a: &str, b: &str) -> Output {
    let mut out = Output::default();
    let in_env = |name: &str| Settings {
        environment: Some(name.to_string()),
        ..settings.clone()
    };
    let (settings_a, settings_b) = (in_env(a), in_env(b));
    let Some(loaded_a) = super::loaded(&settings_a, &mut out) else {
        return out;
    };
    let Some(loaded_b) = super::loaded(&settings_b, &mut out) else {
        return out;
    };
    let graph_a = lower(&loaded_a.model, &loaded_a.fs);
    let graph_b = lower(&loaded_b.model, &loaded_b.fs);
    // A's renderings, as if applied: planning B against them is the
    // difference between the two.
    let mut as_a = State::empty();
    for action in graph_a.ordered() {
        as_a.record(action);
    }
    let difference = diff(&graph_b, &as_a);
    let mut text = format!(
        "Environment {b} against {a} (what applying {b}'s declarations over {a}'s would change):\n\n"
    );
    if difference.has_changes() {
        text.push_str(&render_targeted(&difference, &[], &[], Detail::Full));
    } else {
        text.push_str("No differences.\n");
    }
    let read = |s: &Settings, loaded: &super::Loaded| {
        let backend = loaded.state_backend(s)?;
        super::plan::read_state(s, &*backend).map(|(_, state, _)| state)
    };
    let state_a = match read(&settings_a, &loaded_a) {
        Ok(s) => s,
        Err(out) => return out,
    };
    let state_b = match read(&settings_b, &loaded_b) {
        Ok(s) => s,
        Err(out) => return out,
    };
    let promotions = promotion::check((a, b), &state_a, &state_b, &graph_b);
    text.push('\n');
    text.push_str(&promotion::render(a, b, &promotions));
    out.stdout = text;
    if promotions.iter().any(promotion::Promotion::fails) {
        out.code = 1;
    }
    out
}
