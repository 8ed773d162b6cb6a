//! The drivers: one per backend, each running the real tool on its
//! backend's typed artifact. `apply` does the work; `refresh` asks the tool
//! what it would change (the plan's `--refresh`), without changing
//! anything; `destroy` removes what the state recorded for a declaration
//! that is gone.

pub mod kubectl;
pub mod nix;
pub mod octodns;
pub mod pulumi;
pub mod registry;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use std::future::Future;

use ev_deploy::backend::Artifact;
use tokio::sync::watch;

use crate::confined::{Area, Mode};
use crate::process::{Captured, Cmd, Log, RunError};

/// One tool's driver, over its backend's artifact (what the plan hands
/// it, as data). Adding a backend is a module implementing this and one
/// line in each dispatch below ([`apply`], [`refresh`], [`destroy`]).
pub trait Driver {
    /// Its backend's artifact.
    type Artifact;

    /// Applies the action (its rendered files are written already).
    fn apply(
        artifact: &Self::Artifact,
        ctx: &Ctx,
    ) -> impl Future<Output = Result<Applied, Failure>> + Send;

    /// Asks the tool what applying would change in the live system;
    /// `None` when the backend cannot tell without changing things.
    fn refresh(
        artifact: &Self::Artifact,
        ctx: &Ctx,
    ) -> impl Future<Output = Result<Option<String>, Failure>> + Send;

    /// Removes what an earlier apply did (`previous`, as the state recorded
    /// it), now that the program no longer declares it; `None` when
    /// nothing live is removed.
    fn destroy(
        previous: &Self::Artifact,
        ctx: &Ctx,
    ) -> impl Future<Output = Option<Result<Applied, Failure>>> + Send;
}

/// The options every `nix` run gets: `nix build` and `nix eval` of flakes.
pub const NIX_FEATURES: [&str; 2] = ["--extra-experimental-features", "nix-command flakes"];

/// Everything an action's run needs.
#[derive(Clone, Debug)]
pub struct Ctx {
    /// The action id.
    pub id: String,
    /// The repository root.
    pub root: PathBuf,
    /// Where rendered files are (`.ev/build`, or the environment's).
    pub build: PathBuf,
    /// A private scratch directory for this run and action (created with
    /// the context; removed after the action).
    pub scratch: PathBuf,
    /// The environment tools start from.
    pub env: BTreeMap<String, String>,
    /// The action's log.
    pub log: Log,
    /// How long one tool may run.
    pub timeout: Duration,
    /// Set to true to kill running tools.
    pub kill: watch::Receiver<bool>,
    /// The secrets the action's own values reference (see
    /// `Action::secrets`): the only ones its tool may receive.
    pub secrets: Vec<ev_core::model::SecretRef>,
    /// What the previous apply handed the tool (for pruning).
    pub previous: Option<Artifact>,
    /// What the previous apply recorded (a machine's store path).
    pub previous_outputs: BTreeMap<String, String>,
    /// Let the tool exceed its own safety thresholds (`--allow-large-changes`).
    pub force: bool,
}

/// The file name stem of an action's log and scratch directory
/// (`eight:yuto.sh` → `eight_yuto.sh`).
pub fn file_stem(id: &str) -> String {
    id.replace([':', '/'], "_")
}

impl Ctx {
    /// The context of action `id` in run `run`: its log is created at
    /// `.ev/logs/<run>/<action>.log` and its scratch directory at
    /// `.ev/run/<run>/<action>/` (both through the confined writer); no
    /// files, secrets or previous state yet.
    pub fn new(
        root: &std::path::Path,
        ev: &ev_deploy::plan::state::EvDir,
        run: &str,
        id: &str,
        kill: watch::Receiver<bool>,
        timeout: Duration,
    ) -> std::io::Result<Ctx> {
        let stem = file_stem(id);
        let writer = crate::confined::Writer::new(root);
        let log = writer.file_path(Area::Ev, &format!(".ev/logs/{run}/{stem}.log"))?;
        let scratch = writer.dir(Area::Ev, &format!(".ev/run/{run}/{stem}"))?;
        Ok(Ctx {
            id: id.to_string(),
            root: root.to_path_buf(),
            build: root.join(ev.build()),
            scratch,
            env: crate::process::base_env(),
            log: Log::create(&log)?,
            timeout,
            kill,
            secrets: Vec::new(),
            previous: None,
            previous_outputs: BTreeMap::new(),
            force: false,
        })
    }

    /// The confined writer of the repository (see [`crate::confined`]).
    pub fn writer(&self) -> crate::confined::Writer {
        crate::confined::Writer::new(&self.root)
    }

    /// Writes `bytes` to `rel` (a path inside the action's scratch
    /// directory); returns the full path.
    pub fn write_scratch(&self, rel: &str, bytes: &[u8], mode: Mode) -> Result<PathBuf, Failure> {
        let scratch = self
            .scratch
            .strip_prefix(&self.root)
            .map_err(|_| Failure::new("the scratch directory is outside the repository"))?;
        let path = format!("{}/{rel}", scratch.to_string_lossy());
        let writer = self.writer();
        writer
            .write(Area::Ev, &path, bytes, mode)
            .map_err(|e| Failure::new(e.to_string()))?;
        writer
            .file_path(Area::Ev, &path)
            .map_err(|e| Failure::new(e.to_string()))
    }

    /// With what the state recorded for the action (if anything).
    pub fn with_previous(mut self, previous: Option<&ev_deploy::plan::state::ActionState>) -> Ctx {
        if let Some(p) = previous {
            self.previous = Some(p.artifact.clone());
            self.previous_outputs = p.outputs.clone();
        }
        self
    }

    /// Runs a tool with this action's log, timeout and kill switch.
    pub async fn run(&self, cmd: &Cmd, ok_codes: &[i32]) -> Result<Captured, RunError> {
        let mut kill = self.kill.clone();
        crate::process::run(cmd, &self.log, self.timeout, &mut kill, ok_codes).await
    }

    /// The last lines of the action's log.
    pub fn log_tail(&self) -> String {
        self.log.tail(40)
    }

    /// A command in `cwd` with the base environment.
    pub fn cmd(&self, program: &str, args: &[&str], cwd: impl Into<PathBuf>) -> Cmd {
        Cmd::new(program, args, cwd, &self.env)
    }

    /// A `nix` command with the flake commands enabled, whatever the
    /// machine's nix.conf says (they are still "experimental" upstream).
    pub fn nix(&self, args: &[&str], cwd: impl Into<PathBuf>) -> Cmd {
        let mut all = NIX_FEATURES.to_vec();
        all.extend_from_slice(args);
        self.cmd("nix", &all, cwd)
    }

    /// Decrypts one of the action's secrets; any other is refused.
    pub async fn decrypt(&self, secret: &ev_core::model::SecretRef) -> Result<String, RunError> {
        if !self.secrets.contains(secret) {
            return Err(RunError::Io(format!(
                "refusing to decrypt `{}` of {}: no `secret()` value of this action references it",
                secret.key, secret.file
            )));
        }
        let mut kill = self.kill.clone();
        crate::secrets::decrypt(
            &self.root,
            &self.env,
            &secret.file,
            &secret.key,
            &self.log,
            &mut kill,
        )
        .await
    }

    /// A secret's text: its key decrypted, or a composed secret's parts
    /// joined, each key decrypted (only the action's own, as `decrypt`).
    pub async fn reveal(&self, secret: &ev_core::model::Secret) -> Result<String, RunError> {
        use ev_core::model::{Secret, SecretPart};
        match secret {
            Secret::Ref(r) => self.decrypt(r).await,
            Secret::Composed { parts } => {
                let mut text = String::new();
                for part in parts {
                    match part {
                        SecretPart::Text(t) => text.push_str(t),
                        SecretPart::Ref(r) => text.push_str(&self.decrypt(r).await?),
                    }
                }
                // The joined text is as secret as its parts: redact it too.
                self.log.redact(&text);
                Ok(text)
            }
        }
    }
}

/// An export file an action wrote, relative to the repository root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Export {
    /// Path, e.g. `exports/whale/digests/x.txt`.
    pub path: String,
    /// Content.
    pub content: String,
}

/// What an applied action reports back.
#[derive(Clone, Debug, Default)]
pub struct Applied {
    /// Export files to write.
    pub exports: Vec<Export>,
    /// Values worth recording in the state (a machine's store path).
    pub outputs: BTreeMap<String, String>,
    /// Export files that no longer hold anything (a destroyed stack's).
    pub removed_exports: Vec<String>,
}

/// Why an action failed.
#[derive(Clone, Debug)]
pub struct Failure {
    /// What went wrong, for people.
    pub message: String,
    /// It was a timeout.
    pub timed_out: bool,
    /// It was interrupted.
    pub interrupted: bool,
}

impl From<RunError> for Failure {
    fn from(e: RunError) -> Failure {
        Failure {
            timed_out: matches!(e, RunError::TimedOut { .. }),
            interrupted: matches!(e, RunError::Interrupted),
            message: e.to_string(),
        }
    }
}

impl Failure {
    /// The failure with every secret its action decrypted redacted from
    /// the message (tools' output can end up in it).
    pub fn scrubbed(self, log: &Log) -> Failure {
        Failure {
            message: log.scrub(&self.message),
            ..self
        }
    }

    /// A failure with a message.
    pub fn new(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            timed_out: false,
            interrupted: false,
        }
    }
}

/// Applies one action.
pub async fn apply(artifact: &Artifact, ctx: &Ctx) -> Result<Applied, Failure> {
    match artifact {
        Artifact::Octodns(a) => octodns::Octodns::apply(a, ctx).await,
        Artifact::Kubectl(a) => kubectl::Kubectl::apply(a, ctx).await,
        Artifact::Nix(a) => nix::Nix::apply(a, ctx).await,
        Artifact::Registry(a) => registry::Registry::apply(a, ctx).await,
        Artifact::Pulumi(a) => pulumi::Pulumi::apply(a, ctx).await,
    }
}

/// Asks the tool what applying the action would change (drift against the
/// live system); `None` when the backend cannot tell without changing things.
pub async fn refresh(artifact: &Artifact, ctx: &Ctx) -> Result<Option<String>, Failure> {
    match artifact {
        Artifact::Octodns(a) => octodns::Octodns::refresh(a, ctx).await,
        Artifact::Kubectl(a) => kubectl::Kubectl::refresh(a, ctx).await,
        Artifact::Nix(a) => nix::Nix::refresh(a, ctx).await,
        Artifact::Registry(a) => registry::Registry::refresh(a, ctx).await,
        Artifact::Pulumi(a) => pulumi::Pulumi::refresh(a, ctx).await,
    }
}

/// Removes what an action applied before (`previous`, as the state
/// recorded it), now that the program no longer declares it (see
/// [`Driver::destroy`]): a zone's records, a cluster's objects (those
/// carrying ev's labels), a stack's resources. `None` where nothing live is
/// removed (a pushed image stays in its registry; a machine keeps its
/// system).
pub async fn destroy(previous: &Artifact, ctx: &Ctx) -> Option<Result<Applied, Failure>> {
    match previous {
        Artifact::Octodns(a) => octodns::Octodns::destroy(a, ctx).await,
        Artifact::Kubectl(a) => kubectl::Kubectl::destroy(a, ctx).await,
        Artifact::Nix(a) => nix::Nix::destroy(a, ctx).await,
        Artifact::Registry(a) => registry::Registry::destroy(a, ctx).await,
        Artifact::Pulumi(a) => pulumi::Pulumi::destroy(a, ctx).await,
    }
}
