//! `ev plan --refresh`: asks each action's tool what applying would change
//! in the live system (octodns-sync without `--doit`, `kubectl diff`,
//! `pulumi preview`, `nix eval` of the system against the deployed one).
//! Nothing is changed; a missing tool is reported with how to install it.

use std::path::Path;
use std::time::Duration;

use ev_deploy::plan::ActionGraph;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::drivers::{self, Ctx};
use crate::executor::write_files;

/// What the tool said about one action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drift {
    /// Live matches the program.
    InSync,
    /// What the tool would change (one change per line).
    Changes(String),
    /// The backend cannot tell without changing things.
    NotSupported,
    /// The tool could not answer (not installed, unreachable): why.
    Unavailable(String),
}

/// Refreshes the actions `ids` of `graph`, `parallelism` at a time.
pub async fn refresh(
    root: &Path,
    ev: &ev_deploy::plan::state::EvDir,
    graph: &ActionGraph,
    state: &ev_deploy::plan::state::State,
    ids: &[String],
    parallelism: usize,
    timeout: Duration,
) -> Vec<(String, Drift)> {
    let (_kill_tx, kill_rx) = watch::channel(false);
    let run = format!("refresh-{}", std::process::id());
    let mut tasks = JoinSet::new();
    let mut out = Vec::new();
    let mut queue: Vec<&String> = ids.iter().rev().collect();
    loop {
        while tasks.len() < parallelism.max(1) {
            let Some(id) = queue.pop() else { break };
            let Some(action) = graph.get(id) else {
                continue;
            };
            if action.unknowns.any() {
                out.push((
                    id.clone(),
                    Drift::Unavailable(
                        "its values are known only after the actions it waits for".into(),
                    ),
                ));
                continue;
            }
            if let Err(e) = write_files(root, ev, action) {
                out.push((
                    id.clone(),
                    Drift::Unavailable(format!("cannot write its files: {e}")),
                ));
                continue;
            }
            let ctx = match Ctx::new(root, ev, &run, id, kill_rx.clone(), timeout) {
                Ok(ctx) => ctx,
                Err(e) => {
                    out.push((id.clone(), Drift::Unavailable(e.to_string())));
                    continue;
                }
            };
            let ctx = Ctx {
                secrets: action.secrets.clone(),
                ..ctx.with_previous(state.actions.get(id))
            };
            let id = id.clone();
            let artifact = action.artifact.clone();
            tasks.spawn(async move {
                let drift = match drivers::refresh(&artifact, &ctx).await {
                    Ok(None) => Drift::NotSupported,
                    Ok(Some(text)) if text.trim().is_empty() => Drift::InSync,
                    Ok(Some(text)) => Drift::Changes(text.trim_end().to_string()),
                    Err(f) => Drift::Unavailable(f.message),
                };
                let _ = std::fs::remove_dir_all(&ctx.scratch);
                (id, drift)
            });
        }
        match tasks.join_next().await {
            Some(Ok(result)) => out.push(result),
            Some(Err(_)) => {}
            None => break,
        }
    }
    let _ = std::fs::remove_dir_all(root.join(".ev/run").join(&run));
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The drift section of a plan, for people.
pub fn render(results: &[(String, Drift)]) -> String {
    let mut text = String::from("\nLive state (--refresh):\n");
    for (id, drift) in results {
        match drift {
            Drift::InSync => text.push_str(&format!("  {id}: in sync\n")),
            Drift::NotSupported => text.push_str(&format!(
                "  {id}: not checked (the registry keeps no comparable live state)\n"
            )),
            Drift::Unavailable(why) => text.push_str(&format!("  {id}: could not check: {why}\n")),
            Drift::Changes(lines) => {
                text.push_str(&format!("  {id}: differs from the live system:\n"));
                for l in lines.lines() {
                    text.push_str(&format!("      {l}\n"));
                }
            }
        }
    }
    text
}
