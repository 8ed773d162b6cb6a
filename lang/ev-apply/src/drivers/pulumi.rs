//! pulumi: `pulumi preview --json` / `pulumi up --yes --json` for the
//! rendered Pulumi YAML program, with secret config set from sops first,
//! then the stack outputs into `exports/<stack>/generated.json`. Outputs
//! Pulumi marks secret are written as `"[secret]"` (as Pulumi prints them),
//! never in clear.

use ev_deploy::backend::ArtifactData;
use ev_deploy::backends::pulumi::Program;

use super::{Applied, Ctx, Driver, Export, Failure};
use crate::confined::Mode;

fn dir(ctx: &Ctx, s: &Program) -> std::path::PathBuf {
    ctx.build.join("pulumi").join(&s.name)
}

/// The backend URL, with a relative `file://` path taken from the
/// repository root (the tool runs in the rendered program's directory).
/// A relative path must stay inside the repository; below `.ev/` it is
/// created (through the confined writer), elsewhere it must exist.
fn backend_url(url: &str, ctx: &Ctx) -> Result<String, Failure> {
    match url.strip_prefix("file://") {
        Some(rel) if !rel.starts_with('/') => {
            let dir = match ctx.writer().dir(crate::confined::Area::Ev, rel) {
                Ok(dir) => dir,
                Err(_) => ev_core::fs::OsFs::new(&ctx.root)
                    .resolve(rel)
                    .map_err(|e| {
                        Failure::new(format!("cannot use the Pulumi backend `{url}`: {e}"))
                    })?,
            };
            Ok(format!("file://{}", dir.to_string_lossy()))
        }
        _ => Ok(url.to_string()),
    }
}

async fn select(
    s: &Program,
    ctx: &Ctx,
) -> Result<std::collections::BTreeMap<String, String>, Failure> {
    let mut env = ctx.env.clone();
    env.insert("PULUMI_BACKEND_URL".into(), backend_url(&s.backend, ctx)?);
    env.insert("PULUMI_SKIP_UPDATE_CHECK".into(), "true".into());
    let mut cmd = ctx.cmd(
        "pulumi",
        &["stack", "select", "--create", &s.stack, "--non-interactive"],
        dir(ctx, s),
    );
    cmd.env = env.clone();
    ctx.run(&cmd, &[]).await?;
    // Secret config goes in through stdin, never argv.
    for (key, r) in s.secret_config() {
        {
            let secret = ctx.reveal(&r).await?;
            let mut cmd = ctx.cmd(
                "pulumi",
                &[
                    "config",
                    "set",
                    "--secret",
                    key,
                    "--stack",
                    &s.stack,
                    "--non-interactive",
                ],
                dir(ctx, s),
            );
            cmd.env = env.clone();
            cmd.stdin = Some(secret.into_bytes());
            ctx.run(&cmd, &[]).await?;
        }
    }
    Ok(env)
}

/// `pulumi up`, then the outputs into the stack's export file.
pub async fn apply(s: &Program, ctx: &Ctx) -> Result<Applied, Failure> {
    let env = select(s, ctx).await?;
    let mut up = ctx.cmd(
        "pulumi",
        &[
            "up",
            "--yes",
            "--json",
            "--stack",
            &s.stack,
            "--non-interactive",
        ],
        dir(ctx, s),
    );
    up.env = env.clone();
    ctx.run(&up, &[]).await?;
    let mut plain = ctx.cmd(
        "pulumi",
        &["stack", "output", "--json", "--stack", &s.stack],
        dir(ctx, s),
    );
    plain.env = env.clone();
    let masked = ctx.run(&plain, &[]).await?;
    let outputs: serde_json::Value = serde_json::from_str(&masked.stdout)
        .map_err(|e| Failure::new(format!("pulumi stack output is not JSON: {e}")))?;
    let mut text = serde_json::to_string_pretty(&outputs).unwrap_or_default();
    text.push('\n');
    Ok(Applied {
        exports: vec![Export {
            path: s.outputs_path(),
            content: text,
        }],
        outputs: Default::default(),
        removed_exports: Vec::new(),
    })
}

/// Destroys a stack the program no longer declares: its recorded program
/// is written back and `pulumi destroy` runs on it; its export file goes.
pub async fn destroy(previous: &Program, ctx: &Ctx) -> Result<Applied, Failure> {
    let name = previous.name.as_str();
    let dir = ctx.scratch.join("pulumi").join(name);
    for file in previous.files() {
        ctx.write_scratch(&file.path, file.content.as_bytes(), Mode::Volatile)?;
    }
    let stack = previous.stack.clone();
    let mut env = ctx.env.clone();
    env.insert(
        "PULUMI_BACKEND_URL".into(),
        backend_url(&previous.backend, ctx)?,
    );
    env.insert("PULUMI_SKIP_UPDATE_CHECK".into(), "true".into());
    for args in [
        vec![
            "stack",
            "select",
            "--create",
            stack.as_str(),
            "--non-interactive",
        ],
        vec![
            "destroy",
            "--yes",
            "--stack",
            stack.as_str(),
            "--non-interactive",
        ],
    ] {
        let mut cmd = ctx.cmd("pulumi", &args, &dir);
        cmd.env = env.clone();
        ctx.run(&cmd, &[]).await?;
    }
    Ok(Applied {
        removed_exports: vec![previous.outputs_path()],
        ..Applied::default()
    })
}

/// `pulumi preview --json`: the changes Pulumi would make.
pub async fn refresh(s: &Program, ctx: &Ctx) -> Result<String, Failure> {
    let env = select(s, ctx).await?;
    let mut preview = ctx.cmd(
        "pulumi",
        &[
            "preview",
            "--json",
            "--stack",
            &s.stack,
            "--non-interactive",
        ],
        dir(ctx, s),
    );
    preview.env = env;
    let out = ctx.run(&preview, &[]).await?;
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap_or_default();
    let mut lines = Vec::new();
    for step in doc
        .get("steps")
        .and_then(|s| s.as_array())
        .into_iter()
        .flatten()
    {
        let op = step.get("op").and_then(|o| o.as_str()).unwrap_or("?");
        if op == "same" {
            continue;
        }
        let urn = step.get("urn").and_then(|u| u.as_str()).unwrap_or("?");
        let name = urn.rsplit("::").next().unwrap_or(urn);
        let symbol = match op {
            "create" => "+",
            "delete" => "-",
            "replace" | "create-replacement" | "delete-replaced" => "-/+",
            _ => "~",
        };
        lines.push(format!("{symbol} resource {name} ({op})"));
    }
    Ok(lines.join("\n"))
}

/// The Pulumi driver: one stack per action.
pub struct Pulumi;

impl Driver for Pulumi {
    type Artifact = Program;

    async fn apply(stack: &Program, ctx: &Ctx) -> Result<Applied, Failure> {
        apply(stack, ctx).await
    }

    async fn refresh(stack: &Program, ctx: &Ctx) -> Result<Option<String>, Failure> {
        refresh(stack, ctx).await.map(Some)
    }

    async fn destroy(previous: &Program, ctx: &Ctx) -> Option<Result<Applied, Failure>> {
        Some(destroy(previous, ctx).await)
    }
}
