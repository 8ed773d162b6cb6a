//! `ev graph`: the action graph (or, with `--resources`, the resource
//! reference graph) as dot, SVG (through Graphviz) or JSON.

use ev_deploy::plan::lower;
use serde_json::json;

use crate::cli::GraphFormat;
use crate::printer::Output;
use crate::settings::Settings;

/// Runs `ev graph`.
pub fn run(settings: &Settings, format: GraphFormat, resources: bool) -> Output {
    let mut out = Output::default();
    let Some(model) = super::model(settings, &mut out) else {
        return out;
    };
    if resources {
        match format {
            GraphFormat::Dot => out.stdout = model.references_dot(),
            GraphFormat::Json => {
                let nodes: Vec<_> = model
                    .resources
                    .iter()
                    .map(|r| {
                        json!({
                            "resource": r.key.to_string(),
                            "file": r.file,
                            "line": r.line,
                            "uses": r.uses.iter().map(|k| k.to_string()).collect::<Vec<_>>(),
                        })
                    })
                    .collect();
                out.stdout =
                    serde_json::to_string_pretty(&json!({ "version": 1, "resources": nodes }))
                        .unwrap_or_default()
                        + "\n";
            }
            GraphFormat::Svg => match render_svg(&model.references_dot()) {
                Ok(svg) => out.stdout = svg,
                Err(diagnostic) => return Output::usage(settings, *diagnostic),
            },
        }
        return out;
    }
    let graph = lower(&model, &ev_core::fs::OsFs::new(settings.root.clone()));
    match format {
        GraphFormat::Dot => out.stdout = graph.to_dot(),
        GraphFormat::Json => {
            let actions: Vec<_> = graph
                .ordered()
                .into_iter()
                .map(|a| {
                    json!({
                        "id": a.id,
                        "backend": a.backend,
                        "resources": a.resources,
                        "depends_on": a.depends_on,
                        "produces": a.produces,
                        "files": a.artifact.files().into_iter().map(|f| f.path).collect::<Vec<_>>(),
                    })
                })
                .collect();
            out.stdout = serde_json::to_string_pretty(&json!({ "version": 1, "actions": actions }))
                .unwrap_or_default();
            out.stdout.push('\n');
        }
        GraphFormat::Svg => match render_svg(&graph.to_dot()) {
            Ok(svg) => out.stdout = svg,
            Err(diagnostic) => return Output::usage(settings, *diagnostic),
        },
    }
    out
}

/// Runs Graphviz `dot -Tsvg` with explicit argv; a missing or failing
/// `dot` is E0608 (boxed: a diagnostic is large beside the SVG text).
fn render_svg(dot: &str) -> Result<String, Box<ev_core::Diagnostic>> {
    let failed = |why: String| Box::new(ev_core::Diagnostic::general("E0608", why));
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            Box::new(
                ev_core::Diagnostic::general("E0608", format!("cannot run Graphviz `dot`: {e}"))
                    .with_help(
                        "SVG output needs Graphviz: install it (e.g. `apt-get install graphviz`), or use --format dot",
                    ),
            )
        })?;
    if let Some(stdin) = child.stdin.as_mut() {
        stdin
            .write_all(dot.as_bytes())
            .map_err(|e| failed(format!("cannot write to `dot`: {e}")))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|e| failed(format!("`dot` did not finish: {e}")))?;
    if !output.status.success() {
        return Err(failed(format!(
            "`dot` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
