//! The drivers: one per backend, each running the real tool. `apply` does
//! the work; `refresh` asks the tool what it would change (the plan's
//! `--refresh`), without changing anything.

pub mod kubectl;
pub mod nix;
pub mod octodns;
pub mod pulumi;
pub mod registry;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use std::future::Future;

use ev_core::model::Model;
use ev_core::plan::{Action, ActionId, Backend};
use tokio::sync::watch;

use crate::confined::{Area, Mode};
use crate::process::{Captured, Cmd, Log, RunError};

/// One tool's driver: what an action of its backend needs from the model
/// (its job, owned: it moves into the action's task), and how the action is
/// applied, refreshed (a dry run) and destroyed (its declaration removed).
/// Adding a backend is a module implementing this and a variant of [`Job`].
pub trait Driver {
    /// What an action needs from the model.
    type Job: Clone + std::fmt::Debug + Send + Sync + 'static;

    /// The job of the action `id`, from the model it was lowered from.
    fn job(id: &ActionId, model: &Model) -> Option<Self::Job>;

    /// Applies the action (its rendered files are in `ctx`).
    fn apply(job: &Self::Job, ctx: &Ctx) -> impl Future<Output = Result<Applied, Failure>> + Send;

    /// Asks the tool what applying would change in the live system;
    /// `None` when the backend cannot tell without changing things.
    fn refresh(
        job: &Self::Job,
        ctx: &Ctx,
    ) -> impl Future<Output = Result<Option<String>, Failure>> + Send;

    /// Removes what an earlier apply did, now that the program no longer
    /// declares it, from what the state recorded (`ctx.previous`,
    /// `ctx.previous_outputs`); `None` when nothing live is removed.
    fn destroy(
        id: &ActionId,
        ctx: &Ctx,
    ) -> impl Future<Output = Option<Result<Applied, Failure>>> + Send;
}

/// What an action's driver needs from the model, by backend.
#[derive(Clone, Debug)]
pub enum Job {
    /// Sync one zone.
    Octodns(<octodns::Octodns as Driver>::Job),
    /// Apply one cluster's manifests.
    Kubectl(<kubectl::Kubectl as Driver>::Job),
    /// Build and activate a machine.
    Nix(<nix::Nix as Driver>::Job),
    /// Build and push an image.
    Registry(<registry::Registry as Driver>::Job),
    /// `pulumi up` a stack.
    Pulumi(<pulumi::Pulumi as Driver>::Job),
}

impl Job {
    /// The job of an action, from the model it was lowered from.
    pub fn of(action: &Action, model: &Model) -> Option<Job> {
        let id = action.typed_id()?;
        Some(match action.backend {
            Backend::Octodns => Job::Octodns(octodns::Octodns::job(&id, model)?),
            Backend::Kubectl => Job::Kubectl(kubectl::Kubectl::job(&id, model)?),
            Backend::Nix => Job::Nix(nix::Nix::job(&id, model)?),
            Backend::Registry => Job::Registry(registry::Registry::job(&id, model)?),
            Backend::Pulumi => Job::Pulumi(pulumi::Pulumi::job(&id, model)?),
        })
    }
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
    /// Where rendered files are (`.ev/build`).
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
    /// The action's rendered files, by path.
    pub files: BTreeMap<String, String>,
    /// Files the previous apply rendered for this action (for pruning).
    pub previous: BTreeMap<String, String>,
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
            build: root.join(".ev/build"),
            scratch,
            env: crate::process::base_env(),
            log: Log::create(&log)?,
            timeout,
            kill,
            secrets: Vec::new(),
            files: BTreeMap::new(),
            previous: BTreeMap::new(),
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
    pub fn with_previous(mut self, previous: Option<&ev_core::plan::state::ActionState>) -> Ctx {
        if let Some(p) = previous {
            self.previous = p.files.clone();
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

    /// The environment plus the action's secrets, decrypted.
    pub async fn env_with_secrets(&self) -> Result<BTreeMap<String, String>, RunError> {
        let mut env = self.env.clone();
        for secret in &self.secrets {
            let value = self.decrypt(secret).await?;
            env.insert(
                ev_core::render::secret_env_name(&secret.file, &secret.key),
                value,
            );
        }
        Ok(env)
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
pub async fn apply(job: &Job, ctx: &Ctx) -> Result<Applied, Failure> {
    match job {
        Job::Octodns(j) => octodns::Octodns::apply(j, ctx).await,
        Job::Kubectl(j) => kubectl::Kubectl::apply(j, ctx).await,
        Job::Nix(j) => nix::Nix::apply(j, ctx).await,
        Job::Registry(j) => registry::Registry::apply(j, ctx).await,
        Job::Pulumi(j) => pulumi::Pulumi::apply(j, ctx).await,
    }
}

/// Asks the tool what applying the action would change (drift against the
/// live system); `None` when the backend cannot tell without changing things.
pub async fn refresh(job: &Job, ctx: &Ctx) -> Result<Option<String>, Failure> {
    match job {
        Job::Octodns(j) => octodns::Octodns::refresh(j, ctx).await,
        Job::Kubectl(j) => kubectl::Kubectl::refresh(j, ctx).await,
        Job::Nix(j) => nix::Nix::refresh(j, ctx).await,
        Job::Registry(j) => registry::Registry::refresh(j, ctx).await,
        Job::Pulumi(j) => pulumi::Pulumi::refresh(j, ctx).await,
    }
}

/// Removes what an action applied before, now that the program no longer
/// declares it (see [`Driver::destroy`]): a zone's records, a cluster's
/// objects (those carrying ev's labels), a stack's resources. `None` where
/// nothing live is removed (a pushed image stays in its registry; a machine
/// keeps its system), and for an id the backend cannot have written.
pub async fn destroy(backend: Backend, id: &str, ctx: &Ctx) -> Option<Result<Applied, Failure>> {
    let id = ActionId::parse(backend, id)?;
    match backend {
        Backend::Octodns => octodns::Octodns::destroy(&id, ctx).await,
        Backend::Kubectl => kubectl::Kubectl::destroy(&id, ctx).await,
        Backend::Nix => nix::Nix::destroy(&id, ctx).await,
        Backend::Registry => registry::Registry::destroy(&id, ctx).await,
        Backend::Pulumi => pulumi::Pulumi::destroy(&id, ctx).await,
    }
}
