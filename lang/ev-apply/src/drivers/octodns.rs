//! octodns: `octodns-sync` for one zone of the rendered config, first as a
//! plan (its JSON plan output), then with `--doit`. Provider credentials
//! come from secrets through the environment (`env/NAME` in the config).
//! octodns' own safety thresholds stand unless `--allow-large-changes`.

use ev_deploy::backends::octodns::Zone;

use super::{Applied, Ctx, Driver, Failure};
use crate::confined::Mode;

fn config_dir(ctx: &Ctx) -> std::path::PathBuf {
    ctx.build.join("octodns")
}

/// The environment octodns-sync runs in: the base one and every secret the
/// zone's config reads (`env/NAME`), decrypted under its variable (only the
/// action's own secrets: `Ctx::reveal` refuses others).
async fn environment(
    z: &Zone,
    ctx: &Ctx,
) -> Result<std::collections::BTreeMap<String, String>, Failure> {
    let mut env = ctx.env.clone();
    for (name, secret) in z.secret_env() {
        env.insert(name, ctx.reveal(&secret).await?);
    }
    Ok(env)
}

/// The changes octodns plans for the zone, as JSON plan text (empty when
/// nothing changes).
async fn sync(z: &Zone, ctx: &Ctx, doit: bool) -> Result<String, Failure> {
    let zone = z.zone.as_str();
    let env = environment(z, ctx).await?;
    let fqdn = format!("{zone}.");
    let config = z.config_file();
    let mut args = vec!["--config-file", config.as_str()];
    if doit {
        args.push("--doit");
        if ctx.force {
            args.push("--force");
        }
    }
    args.push(&fqdn);
    let mut cmd = ctx.cmd("octodns-sync", &args, config_dir(ctx));
    cmd.env = env;
    let out = ctx.run(&cmd, &[]).await.map_err(|e| {
        let failed = matches!(e, crate::process::RunError::Failed { .. });
        let mut f = Failure::from(e);
        // octodns explains itself in its last error line: surface it with the zone.
        if let Some(reason) = last_error_line(&ctx.log_tail()).filter(|_| failed) {
            f.message = format!("octodns failed for zone {zone}: {reason}");
        }
        f
    })?;
    Ok(out.stdout)
}

/// The last line of octodns' output that explains an error.
fn last_error_line(log: &str) -> Option<String> {
    log.lines()
        .rev()
        .find(|l| l.contains("Error") || l.contains("error:") || l.contains("Exception"))
        .map(|l| l.trim_start_matches("stderr: ").trim().to_string())
}

/// Plans and applies the zone.
pub async fn apply(zone: &Zone, ctx: &Ctx) -> Result<Applied, Failure> {
    sync(zone, ctx, false).await?;
    sync(zone, ctx, true).await?;
    Ok(Applied::default())
}

/// Deletes every record of a zone the program no longer declares: the
/// zone as the state recorded it, with no records, synced with
/// `--doit --force` (the plan's deletion guardrail has already been passed).
pub async fn destroy(previous: &Zone, ctx: &Ctx) -> Result<Applied, Failure> {
    let zone = previous.zone.as_str();
    let config_path = previous.config_file();
    let dir = ctx.scratch.join("octodns");
    for file in [previous.config(), previous.zone_file(&[])] {
        ctx.write_scratch(&file.path, file.content.as_bytes(), Mode::Volatile)?;
    }
    let mut cmd = ctx.cmd(
        "octodns-sync",
        &[
            "--config-file",
            &config_path,
            "--doit",
            "--force",
            &format!("{zone}."),
        ],
        &dir,
    );
    cmd.env = environment(previous, ctx).await?;
    ctx.run(&cmd, &[]).await?;
    Ok(Applied::default())
}

/// The zone as it lives at its provider, in the YamlProvider format
/// (`ev import dns --live`): `octodns-dump` of the zone's config (its
/// provider, no records of ev's) into the action's scratch directory,
/// which is removed after. Records without a TTL in the text have
/// octodns' default, 3600.
pub async fn dump(zone: &Zone, ctx: &Ctx) -> Result<String, Failure> {
    let name = zone.zone.as_str();
    ctx.write_scratch(
        &format!("octodns/{}", zone.config_file()),
        zone.config().content.as_bytes(),
        Mode::Volatile,
    )?;
    let out_dir = ctx.scratch.join("dump");
    let out_text = out_dir.to_string_lossy().into_owned();
    let config = zone.config_file();
    let fqdn = format!("{name}.");
    let mut cmd = ctx.cmd(
        "octodns-dump",
        &[
            "--config-file",
            &config,
            "--output-dir",
            &out_text,
            &fqdn,
            &zone.provider.name,
        ],
        ctx.scratch.join("octodns"),
    );
    cmd.env = environment(zone, ctx).await?;
    ctx.run(&cmd, &[]).await.map_err(|e| {
        let failed = matches!(e, crate::process::RunError::Failed { .. });
        let mut f = Failure::from(e);
        if let Some(reason) = last_error_line(&ctx.log_tail()).filter(|_| failed) {
            f.message = format!("octodns-dump failed for zone {name}: {reason}");
        }
        f
    })?;
    // The file octodns-dump wrote, read only if it is a regular file of
    // the scratch directory.
    let written = out_dir.join(format!("{name}.yaml"));
    match std::fs::symlink_metadata(&written) {
        Ok(meta) if meta.is_file() => std::fs::read_to_string(&written)
            .map_err(|e| Failure::new(format!("cannot read what octodns-dump wrote: {e}"))),
        _ => Err(Failure::new(format!(
            "octodns-dump wrote no zone file for {name}"
        ))),
    }
}

/// What octodns would change in the live zone.
pub async fn refresh(zone: &Zone, ctx: &Ctx) -> Result<String, Failure> {
    let plan = sync(zone, ctx, false).await?;
    Ok(summarize(&plan))
}

/// octodns' JSON plan (`{provider: {zone: {changes: [...]}}}`) as
/// `+ name TYPE` / `~` / `-` lines.
pub fn summarize(plan_output: &str) -> String {
    // PlanJson prints one JSON document; other output may surround it.
    let start = plan_output.find('{');
    let doc: serde_json::Value = start
        .and_then(|s| serde_json::from_str(&plan_output[s..]).ok())
        .unwrap_or(serde_json::Value::Null);
    let mut lines = Vec::new();
    if let Some(zones) = doc.as_object() {
        for (_zone, providers) in zones {
            for (_provider, plan) in providers.as_object().into_iter().flatten() {
                for change in plan
                    .get("changes")
                    .and_then(|c| c.as_array())
                    .into_iter()
                    .flatten()
                {
                    let field = |k: &str| change.get(k).and_then(|v| v.as_str()).unwrap_or("");
                    let symbol = match field("type") {
                        "create" => "+",
                        "delete" => "-",
                        _ => "~",
                    };
                    let name = field("name");
                    lines.push(format!(
                        "{symbol} {} {}",
                        if name.is_empty() { "@" } else { name },
                        field("record_type")
                    ));
                }
            }
        }
    }
    lines.sort();
    lines.join("\n")
}

/// The octodns driver: one zone per action.
pub struct Octodns;

impl Driver for Octodns {
    type Artifact = Zone;

    async fn apply(zone: &Zone, ctx: &Ctx) -> Result<Applied, Failure> {
        apply(zone, ctx).await
    }

    async fn refresh(zone: &Zone, ctx: &Ctx) -> Result<Option<String>, Failure> {
        refresh(zone, ctx).await.map(Some)
    }

    async fn destroy(previous: &Zone, ctx: &Ctx) -> Option<Result<Applied, Failure>> {
        Some(destroy(previous, ctx).await)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn summarizes_octodns_json_plans() {
        let plan = r#"{"pdns": {"example.test.": {"changes": [{"name": "", "new": {"ttl": 300, "value": "hello"}, "record_type": "TXT", "type": "create"}, {"name": "www", "existing": {}, "record_type": "A", "type": "update"}], "meta": null}}}"#;
        assert_eq!(super::summarize(plan), "+ @ TXT\n~ www A");
    }
}
