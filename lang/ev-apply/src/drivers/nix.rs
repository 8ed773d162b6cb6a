//! nix: builds a machine's flake profile (`flake-profiles/system-<name>`)
//! with `nix build`, records the store path, and activates it the declared
//! way: `darwin-rebuild switch --flake`, `nixos-rebuild switch --flake
//! [--target-host]`, deploy-rs, `home-manager switch --flake`, or
//! `nix-env --profile P --set` for `profile`.
//! An unchanged store path is not re-activated.

use ev_deploy::backend::ArtifactData;
use ev_deploy::backends::nix::Profile;

use super::{Applied, Ctx, Driver, Failure};

/// The flake reference of a machine's profile: the repository through git
/// with the profile's directory, so the whole repository is the flake's
/// source and the profile's `../../venus/...` modules resolve (Nix copies
/// only tracked files; `path:` flakes cannot name a subdirectory in Nix 2.8).
pub fn flake_ref(ctx: &Ctx, m: &Profile) -> Result<String, Failure> {
    if !ctx.root.join(".git").exists() {
        return Err(Failure::new(format!(
            "{} is not a git repository: Nix builds machine profiles from the repository's git tree (run `git init && git add -A` there)",
            ctx.root.display()
        )));
    }
    Ok(format!(
        "git+file://{}?dir={}",
        ctx.root.to_string_lossy(),
        m.dir()
    ))
}

/// Turns at the repository's git index. git takes `.git/index.lock` to add
/// a file, so two actions adding at once would make one fail (exit 128):
/// ev's own `git add` and Nix's, which adds a lock file it creates.
static GIT_INDEX: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Writes the flake's lock file where it is missing or lacks an input
/// (`nix flake lock`, which `git add`s a new one), in turn with the other
/// writers of the git index: the build after it reads the lock and writes
/// nothing, so builds run side by side.
pub(super) async fn lock_flake(ctx: &Ctx, flake: &str) -> Result<(), Failure> {
    let _turn = GIT_INDEX.lock().await;
    ctx.run(&ctx.nix(&["flake", "lock", flake], &ctx.root), &[])
        .await?;
    Ok(())
}

/// Marks the rendered profile files for git (`git add --intent-to-add`),
/// so a new machine's flake is part of the tree Nix copies, and locks it.
async fn track_profile(ctx: &Ctx, m: &Profile, flake: &str) -> Result<(), Failure> {
    let files: Vec<String> = m
        .files()
        .into_iter()
        .filter(|f| f.in_repository())
        .map(|f| f.path)
        .collect();
    let mut args = vec!["add", "--intent-to-add", "--"];
    args.extend(files.iter().map(String::as_str));
    {
        let _turn = GIT_INDEX.lock().await;
        ctx.run(&ctx.cmd("git", &args, &ctx.root), &[]).await?;
    }
    lock_flake(ctx, flake).await
}

fn store_path(json_text: &str) -> Option<String> {
    let doc: serde_json::Value = serde_json::from_str(json_text).ok()?;
    doc.get(0)?
        .get("outputs")?
        .get("out")?
        .as_str()
        .map(str::to_string)
}

/// Builds and activates the machine.
pub async fn apply(m: &Profile, ctx: &Ctx) -> Result<Applied, Failure> {
    let flake = flake_ref(ctx, m)?;
    track_profile(ctx, m, &flake).await?;
    let installable = format!("{flake}#{}", m.system_attribute());
    let mut applied = Applied::default();
    if !m.activation.remote_build {
        let out = ctx
            .run(
                &ctx.nix(&["build", "--no-link", "--json", &installable], &ctx.root),
                &[],
            )
            .await?;
        let path = store_path(&out.stdout)
            .ok_or_else(|| Failure::new("nix build printed no store path"))?;
        if ctx.previous_outputs.get("store_path") == Some(&path) {
            ctx.log
                .line(&format!("{path} is already active; not re-activated"));
            applied.outputs.insert("store_path".into(), path);
            return Ok(applied);
        }
        applied.outputs.insert("store_path".into(), path);
    }
    let target = || {
        let host = m.host().unwrap_or_default().to_string();
        match &m.activation.ssh_user {
            Some(user) => format!("{user}@{host}"),
            None => host,
        }
    };
    let node = format!("{flake}#{}", m.configuration());
    let cmd = match m.activation.method.as_str() {
        "profile" => {
            let profile = m.activation.profile.clone().unwrap_or_default();
            let path = applied
                .outputs
                .get("store_path")
                .cloned()
                .unwrap_or_default();
            ctx.cmd(
                "nix-env",
                &["--profile", &profile, "--set", &path],
                &ctx.root,
            )
        }
        "darwin-rebuild" => ctx.cmd("darwin-rebuild", &["switch", "--flake", &node], &ctx.root),
        "home-manager" => ctx.cmd("home-manager", &["switch", "--flake", &node], &ctx.root),
        "nixos-rebuild" if m.activation.local => {
            ctx.cmd("nixos-rebuild", &["switch", "--flake", &node], &ctx.root)
        }
        "nixos-rebuild" => {
            let host = target();
            let mut args = vec!["switch", "--flake", &node, "--target-host", &host];
            if m.activation.remote_build {
                args.extend(["--build-host", &host]);
            }
            let args: Vec<String> = args.into_iter().map(str::to_string).collect();
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            ctx.cmd("nixos-rebuild", &args, &ctx.root)
        }
        "deploy-rs" => {
            let mut args = vec!["--skip-checks"];
            if m.activation.remote_build {
                args.push("--remote-build");
            }
            args.push(&node);
            ctx.cmd("deploy", &args, &ctx.root)
        }
        other => return Err(Failure::new(format!("unknown activation method `{other}`"))),
    };
    ctx.run(&cmd, &[]).await?;
    Ok(applied)
}

/// Compares the system the profile would build with the one last activated.
pub async fn refresh(m: &Profile, ctx: &Ctx) -> Result<String, Failure> {
    let flake = flake_ref(ctx, m)?;
    track_profile(ctx, m, &flake).await?;
    let installable = format!("{flake}#{}.outPath", m.system_attribute());
    let out = ctx
        .run(&ctx.nix(&["eval", "--raw", &installable], &ctx.root), &[])
        .await?;
    let wanted = out.stdout.trim().to_string();
    let deployed = match (m.activation.method.as_str(), &m.activation.profile) {
        ("profile", Some(p)) => std::fs::read_link(p)
            .ok()
            .and_then(|link| {
                let link = if link.is_relative() {
                    std::path::Path::new(p).parent()?.join(link)
                } else {
                    link
                };
                std::fs::read_link(&link).ok().or(Some(link))
            })
            .map(|p| p.to_string_lossy().into_owned()),
        _ => ctx.previous_outputs.get("store_path").cloned(),
    };
    Ok(match deployed {
        Some(d) if d == wanted => String::new(),
        Some(d) => format!("~ system {d} → {wanted}"),
        None => format!("+ system {wanted} (never activated by ev)"),
    })
}

/// The Nix driver: one machine per action.
pub struct Nix;

impl Driver for Nix {
    type Artifact = Profile;

    async fn apply(machine: &Profile, ctx: &Ctx) -> Result<Applied, Failure> {
        apply(machine, ctx).await
    }

    async fn refresh(machine: &Profile, ctx: &Ctx) -> Result<Option<String>, Failure> {
        refresh(machine, ctx).await.map(Some)
    }

    /// A machine keeps the system it runs: nothing live is removed.
    async fn destroy(_: &Profile, _: &Ctx) -> Option<Result<Applied, Failure>> {
        None
    }
}
