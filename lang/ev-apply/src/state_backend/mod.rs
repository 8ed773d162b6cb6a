//! Where an environment's state, journal and apply lock live: the
//! [`StateBackend`] interface (after Terraform's backends) and its
//! implementations: [`local`] files in `.ev/` (the default), and shared by
//! everyone who applies the environment: [`postgres`] tables,
//! [`kubernetes`] objects and [`s3`] objects in a bucket; [`encrypted`]
//! wraps any of them.
//!
//! Every backend offers the same guarantees, so the executor and `ev state`
//! never ask which one they hold:
//! - **One writer.** The lock is a lease with a holder record (id, pid,
//!   host, start). A remote lease is renewed while its holder runs and
//!   expires when it dies, after which the next apply takes it over and
//!   says whose it was; the local lock is an `flock` the kernel drops with
//!   its process.
//! - **Fenced writes.** Writing the state or appending to the journal is a
//!   compare-and-swap on the version the writer last read or wrote, made
//!   only while its lease is held: a holder whose lease was taken over
//!   cannot write over its successor.
//! - **Nothing lost.** The journal takes one line per action as the apply
//!   goes, on the backend itself, so an apply interrupted on one machine is
//!   resumed (its records replayed) from another.
//!
//! The bytes a backend stores are the state's JSON text and the journal's
//! lines, which never hold a secret's value (secrets are recorded as
//! `$secret` markers naming a sops file and key).

pub mod encrypted;
pub mod kubernetes;
pub mod local;
pub mod postgres;
pub mod s3;

use std::sync::Arc;
use std::time::Duration;

use ev_deploy::plan::state::{State, StateError};
use serde::{Deserialize, Serialize};

/// Who holds a lock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// The lock's id (what `ev force-unlock` takes).
    pub id: String,
    /// Process id.
    pub pid: u32,
    /// Host name.
    pub host: String,
    /// Start time, seconds since the Unix epoch.
    pub started: u64,
}

impl Holder {
    /// A holder record for this process, with a fresh id.
    pub fn this_process() -> Holder {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        Holder {
            id: format!("{:x}{:x}{:x}", now(), std::process::id(), nanos),
            pid: std::process::id(),
            host: host(),
            started: now(),
        }
    }

    /// `pid 42 on ci-3, started 12s ago`.
    pub fn describe(&self) -> String {
        format!(
            "lock {}, pid {} on {}, started {}s ago",
            self.id,
            self.pid,
            self.host,
            now().saturating_sub(self.started)
        )
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown-host".into())
}

/// A backend's version of what it stores: compare-and-swap writes name the
/// version they replace. Opaque to everyone but the backend.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Version(pub String);

/// What a backend holds for one environment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stored {
    /// The state's text as last written whole (`None`: never written).
    pub state: Option<Vec<u8>>,
    /// Journal lines appended since.
    pub journal: Vec<u8>,
    /// The version to write over.
    pub version: Version,
}

impl Stored {
    /// The state, with the journal replayed, and the text it amounts to
    /// (`None` when nothing was ever recorded). Errors name `location`.
    pub fn load(&self, location: &str) -> Result<(State, Option<String>), StateError> {
        let at = |error: StateError| StateError::In {
            path: location.to_string(),
            error: Box::new(error),
        };
        let text = |bytes: &[u8]| {
            String::from_utf8(bytes.to_vec())
                .map_err(|_| at(StateError::Corrupted("it is not UTF-8 text".into())))
        };
        let (mut state, mut shown) = match &self.state {
            Some(bytes) => {
                let t = text(bytes)?;
                (State::parse(&t).map_err(at)?, Some(t))
            }
            None => (State::empty(), None),
        };
        if !self.journal.is_empty() {
            state.replay(&text(&self.journal)?).map_err(at)?;
            shown = Some(state.to_text());
        }
        Ok((state, shown))
    }
}

/// What `backend` stores, the state it amounts to (an interrupted
/// apply's journal replayed) and its text: nothing stored is the empty
/// state; an unreachable backend (E0614), or a corrupted or
/// unknown-version state (E0601, left untouched) is an error.
pub fn read_state(
    backend: &dyn StateBackend,
) -> Result<(Stored, State, Option<String>), Box<ev_core::Diagnostic>> {
    let location = backend.location();
    let stored = backend
        .read()
        .map_err(|e| Box::new(e.diagnostic(&location)))?;
    let (state, text) = stored
        .load(&location)
        .map_err(|e| Box::new(e.diagnostic()))?;
    Ok((stored, state, text))
}

/// What a backend that rewrites one whole object per write (the
/// Kubernetes Secret, the S3 object) last read or wrote, so an append
/// sends the journal without reading it first.
#[derive(Default)]
pub(crate) struct LastStored(std::sync::Mutex<Option<Stored>>);

impl LastStored {
    /// Keeps `stored` (`None`: what is stored is not known).
    pub(crate) fn set(&self, stored: Option<Stored>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = stored;
    }

    /// The state and the journal with `line` appended, over the version
    /// `expected`: from the copy kept when it is that version, else from
    /// `read`.
    pub(crate) fn appended(
        &self,
        expected: &Version,
        line: &[u8],
        read: impl FnOnce() -> Result<Stored, BackendError>,
    ) -> Result<(Option<Vec<u8>>, Vec<u8>), BackendError> {
        let kept = self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .filter(|s| &s.version == expected);
        let current = match kept {
            Some(kept) => kept,
            None => read()?,
        };
        let mut journal = current.journal;
        journal.extend_from_slice(line);
        Ok((current.state, journal))
    }
}

/// A lock just taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Acquired {
    /// Nobody held it.
    Free,
    /// Its holder died (its record was left, or its lease expired): taken over.
    TakenOver(Holder),
}

/// Why a backend could not do what was asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BackendError {
    /// Another running apply holds the lock (its record, when readable).
    Held(Option<Holder>),
    /// The lease this process held was taken over or removed: it may no
    /// longer write.
    LeaseLost {
        /// The lease it held.
        ours: String,
        /// Who holds it now, if anyone.
        now: Option<Holder>,
    },
    /// The stored state changed since this process read it (a
    /// compare-and-swap failed).
    Conflict(String),
    /// The backend cannot be reached, refused a request or answered
    /// something unreadable.
    Unavailable(String),
    /// `ev force-unlock` of an id that is not the lock's.
    NotTheLock(String),
    /// The lock itself is unusable (a local lock file that is a
    /// directory, a symbolic link, or not writable).
    LockUnusable(String),
}

impl BackendError {
    /// Its diagnostic code.
    pub fn code(&self) -> &'static str {
        match self {
            BackendError::Held(_) | BackendError::NotTheLock(_) | BackendError::LockUnusable(_) => {
                "E0602"
            }
            BackendError::Unavailable(_) => "E0614",
            BackendError::LeaseLost { .. } | BackendError::Conflict(_) => "E0615",
        }
    }

    /// The diagnostic every face renders: E0602 for the lock, E0614 for
    /// an unreachable backend, E0615 for a lease lost or a write refused.
    pub fn diagnostic(&self, location: &str) -> ev_core::Diagnostic {
        use ev_core::Diagnostic;
        match self {
            BackendError::Held(_) => Diagnostic::general("E0602", self.to_string()).with_help(
                "wait for it (`ev apply --lock-timeout SECONDS`); a lock is released when its holder ends, and a remote lease expires when its holder dies",
            ),
            BackendError::NotTheLock(_) => Diagnostic::general("E0602", self.to_string())
                .with_help("`ev force-unlock` takes the id the lock message names"),
            BackendError::LockUnusable(_) => Diagnostic::general("E0602", self.to_string()),
            BackendError::Unavailable(why) => Diagnostic::general(
                "E0614",
                format!("the state backend {location} is unavailable: {why}"),
            )
            .with_note("the state there is left as it was")
            .with_help("check that it is reachable and the credentials are right, then run the command again"),
            BackendError::LeaseLost { .. } | BackendError::Conflict(_) => {
                Diagnostic::general("E0615", format!("{location}: {self}"))
                    .with_note("this process stopped writing so as not to overwrite another's records")
                    .with_help("run `ev plan` to see the state as it is now, then apply again")
            }
        }
    }
}

impl std::fmt::Display for BackendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BackendError::Held(Some(h)) => {
                write!(f, "another `ev apply` is running ({})", h.describe())
            }
            BackendError::Held(None) => write!(f, "another `ev apply` is running"),
            BackendError::LeaseLost { ours, now: Some(h) } => write!(
                f,
                "the apply lock {ours} is no longer this process's: {} holds it now (this one's lease expired, or `ev force-unlock` removed it)",
                h.describe()
            ),
            BackendError::LeaseLost { ours, now: None } => write!(
                f,
                "the apply lock {ours} is no longer this process's: its lease expired and another apply took it over, or `ev force-unlock` removed it"
            ),
            BackendError::Conflict(why) => write!(f, "the state changed underneath: {why}"),
            BackendError::Unavailable(why) => write!(f, "{why}"),
            BackendError::NotTheLock(why) | BackendError::LockUnusable(why) => write!(f, "{why}"),
        }
    }
}

/// Where one environment's state and lock live. Implementations are
/// blocking (the executor calls them between actions) and safe to share
/// between the apply and its lease renewer.
pub trait StateBackend: Send + Sync {
    /// Where the state lives, for messages: `.ev/state.json`,
    /// `postgres ev@127.0.0.1:5432/ev, workspace prod`.
    fn location(&self) -> String;

    /// How long a lease lasts unless renewed; `None` for a lock its holder
    /// keeps until it ends (the local `flock`).
    fn lease(&self) -> Option<Duration>;

    /// The state and journal as stored now.
    fn read(&self) -> Result<Stored, BackendError>;

    /// Replaces the state with `state` and empties the journal, if what is
    /// stored is still `expected` and `holder` still holds the lock.
    fn write(
        &self,
        state: &[u8],
        expected: &Version,
        holder: &Holder,
    ) -> Result<Version, BackendError>;

    /// Appends one journal line, under the same conditions as `write`.
    fn append(
        &self,
        line: &[u8],
        expected: &Version,
        holder: &Holder,
    ) -> Result<Version, BackendError>;

    /// Removes the stored state and journal (what `ev state migrate` does
    /// to the copy it moved away from, once the new one is verified),
    /// under the same conditions as `write`.
    fn remove(&self, expected: &Version, holder: &Holder) -> Result<(), BackendError>;

    /// Takes the lock for `holder`, or says who holds it.
    fn acquire(&self, holder: &Holder) -> Result<Acquired, BackendError>;

    /// Extends `holder`'s lease (`LeaseLost` when it is no longer theirs).
    fn renew(&self, holder: &Holder) -> Result<(), BackendError>;

    /// Releases `holder`'s lock (nothing when it is not theirs).
    fn release(&self, holder: &Holder) -> Result<(), BackendError>;

    /// The lock's holder, if any.
    fn holder(&self) -> Result<Option<Holder>, BackendError>;

    /// Removes the lock with this id (`ev force-unlock ID`); its holder
    /// record. A live local holder is never broken (stop it instead); a
    /// remote lease is removed, and its holder, should it still run, is
    /// refused its next write.
    fn force_unlock(&self, id: &str) -> Result<Holder, BackendError>;
}

/// A held lock: renewed in the background while held (for a backend with
/// leases), released on drop.
pub struct Lease {
    backend: Arc<dyn StateBackend>,
    /// Who holds it (this process).
    pub holder: Holder,
    /// The dead holder it was taken over from, if any.
    pub taken_over: Option<Holder>,
    renewer: Option<(std::sync::mpsc::Sender<()>, std::thread::JoinHandle<()>)>,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("holder", &self.holder)
            .field("taken_over", &self.taken_over)
            .finish()
    }
}

impl Lease {
    /// Takes the lock, waiting up to `wait` for another holder to release
    /// it or for its lease to expire.
    pub fn acquire(backend: Arc<dyn StateBackend>, wait: Duration) -> Result<Lease, BackendError> {
        let holder = Holder::this_process();
        let start = std::time::Instant::now();
        let acquired = loop {
            match backend.acquire(&holder) {
                Err(BackendError::Held(_)) if start.elapsed() < wait => {
                    std::thread::sleep(Duration::from_millis(200));
                }
                other => break other?,
            }
        };
        let renewer = backend.lease().map(|lease| {
            let (stop, stopped) = std::sync::mpsc::channel::<()>();
            let (backend, holder) = (backend.clone(), holder.clone());
            // Renewed three times a lease: two renewals may fail (a
            // server restarting) before it expires.
            let every = lease / 3;
            let thread = std::thread::spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(every)
                {
                    if let Err(BackendError::LeaseLost { .. }) = backend.renew(&holder) {
                        // Writes are fenced: the apply finds out at its next one.
                        break;
                    }
                }
            });
            (stop, thread)
        });
        Ok(Lease {
            backend,
            holder,
            taken_over: match acquired {
                Acquired::Free => None,
                Acquired::TakenOver(dead) => Some(dead),
            },
            renewer,
        })
    }

    /// The backend it is held on.
    pub fn backend(&self) -> &Arc<dyn StateBackend> {
        &self.backend
    }

    /// A line for people when the lock was taken over from a dead holder.
    pub fn takeover_notice(&self) -> Option<String> {
        self.taken_over.as_ref().map(|dead| {
            format!(
                "took over the apply lock of a holder that died ({}); its journal is replayed, so nothing it applied is lost\n",
                dead.describe()
            )
        })
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some((stop, thread)) = self.renewer.take() {
            let _ = stop.send(());
            let _ = thread.join();
        }
        let _ = self.backend.release(&self.holder);
    }
}

/// Runs a tool for a backend (kubectl, age) through the one process
/// runner, on a thread of its own, with the tools' base environment and
/// nothing logged; exit 1 is returned, not an error, for its stderr to say
/// why.
pub(crate) fn run_tool(
    root: &std::path::Path,
    program: &str,
    args: &[&str],
    stdin: Option<Vec<u8>>,
) -> Result<crate::process::Captured, BackendError> {
    let mut cmd = crate::process::Cmd::new(program, args, root, &crate::process::base_env());
    cmd.stdin = stdin;
    off_runtime(|| {
        let failed = |why: String| BackendError::Unavailable(format!("{program}: {why}"));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| failed(e.to_string()))?;
        let log = crate::process::Log::create(std::path::Path::new("/dev/null"))
            .map_err(|e| failed(e.to_string()))?;
        let (_, mut kill) = tokio::sync::watch::channel(false);
        runtime
            .block_on(crate::process::run(
                &cmd,
                &log,
                Duration::from_secs(60),
                &mut kill,
                &[1],
            ))
            .map_err(|e| failed(e.to_string()))
    })
}

/// Runs `f` on a thread of its own: a backend whose client runs an async
/// runtime must not start it on a thread already running one (the
/// executor's).
pub(crate) fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| match s.spawn(f).join() {
        Ok(v) => v,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

/// The state backend of the environment of `model` named with `ev -e`
/// (none: the default one), whose local folder is `ev`, credentials read.
/// A shared backend holding no state while the local files hold one is
/// refused (E0616): planning against it would recreate everything.
pub fn of_environment(
    root: &std::path::Path,
    model: &ev_core::model::Model,
    ev: &ev_deploy::plan::state::EvDir,
    environment: Option<&str>,
) -> Result<Arc<dyn StateBackend>, Box<ev_core::Diagnostic>> {
    let store = ev_deploy::state_store::state_store(model, environment);
    let backend = open_store(root, model, ev, &store, environment)?;
    if !store.is_local() {
        refuse_unmigrated(&*local_files(root, ev, &store), &*backend, store.kind())?;
    }
    Ok(backend)
}

/// [`of_environment`] without the check that the state was migrated to it
/// (`ev state migrate` itself).
pub fn configured(
    root: &std::path::Path,
    model: &ev_core::model::Model,
    ev: &ev_deploy::plan::state::EvDir,
    environment: Option<&str>,
) -> Result<Arc<dyn StateBackend>, Box<ev_core::Diagnostic>> {
    let store = ev_deploy::state_store::state_store(model, environment);
    open_store(root, model, ev, &store, environment)
}

/// [`open`] of `store`, its failure a diagnostic naming it.
fn open_store(
    root: &std::path::Path,
    model: &ev_core::model::Model,
    ev: &ev_deploy::plan::state::EvDir,
    store: &ev_deploy::state_store::StateStore,
    environment: Option<&str>,
) -> Result<Arc<dyn StateBackend>, Box<ev_core::Diagnostic>> {
    let name = ev_deploy::state_store::environment_name(model, environment);
    open(root, model, ev, store, &name).map_err(|e| Box::new(e.diagnostic(&store.describe())))
}

/// E0616 when `local` holds a state and `shared` none (or both hold one):
/// the state was not migrated.
fn refuse_unmigrated(
    local: &dyn StateBackend,
    shared: &dyn StateBackend,
    kind: &str,
) -> Result<(), Box<ev_core::Diagnostic>> {
    let holds = |s: &Stored| s.state.is_some() || !s.journal.is_empty();
    if !local.read().is_ok_and(|s| holds(&s)) {
        return Ok(());
    }
    let remote = shared
        .read()
        .map_err(|e| Box::new(e.diagnostic(&shared.location())))?;
    let (message, help) = if holds(&remote) {
        (
            format!(
                "both {} and {} hold a state of this environment",
                local.location(),
                shared.location()
            ),
            format!(
                "the program keeps it in the second: compare them (`ev state pull`), then move {} aside",
                local.location()
            ),
        )
    } else {
        (
            format!(
                "the state of this environment is in {}, but the program keeps it in {}",
                local.location(),
                shared.location()
            ),
            format!("move it there with `ev state migrate --to {kind}` (nothing is planned against an empty state meanwhile: that would create everything again)"),
        )
    };
    Err(Box::new(
        ev_core::Diagnostic::general("E0616", message).with_help(help),
    ))
}

/// The backend a `state` setting names. `environment` is the
/// environment's name (a workspace's default); `ev` its local folder.
/// Credentials are read now: a sops secret decrypted, or an environment
/// variable.
pub fn open(
    root: &std::path::Path,
    model: &ev_core::model::Model,
    ev: &ev_deploy::plan::state::EvDir,
    store: &ev_deploy::state_store::StateStore,
    environment: &str,
) -> Result<Arc<dyn StateBackend>, BackendError> {
    use ev_deploy::state_store::StateStore;
    let inner: Arc<dyn StateBackend> = match store {
        StateStore::Local(_) => Arc::new(local::Local::new(root, ev)),
        StateStore::Postgres(pg) => {
            let password = match (&pg.password, &pg.password_env) {
                (Some(secret), _) => Some(reveal(root, &secret.secret)?),
                (None, Some(var)) => Some(std::env::var(var).map_err(|_| {
                    BackendError::Unavailable(format!(
                        "the environment variable {var} (`password_env`) is not set"
                    ))
                })?),
                (None, None) => None,
            };
            let connection = postgres::Connection {
                host: pg.host.clone(),
                port: pg.port,
                database: pg.database.clone(),
                user: pg.user.clone(),
                password,
                tls: match pg.tls {
                    ev_deploy::state_store::PostgresTls::Verify => {
                        Some(pg.certificate_authority.clone())
                    }
                    ev_deploy::state_store::PostgresTls::Disable => None,
                },
            };
            Arc::new(postgres::Postgres::new(
                connection,
                pg.workspace.as_deref().unwrap_or(environment),
                Duration::from_secs(pg.lease_seconds),
            ))
        }
        StateStore::Kubernetes(k) => {
            use ev_deploy::backends::kubectl::Connection;
            let reach = match ev_deploy::state_store::cluster_connection(model, &k.cluster) {
                Some(Connection::Context(context)) => kubernetes::Reach::Context(context),
                Some(Connection::Server {
                    url,
                    certificate_authority,
                    token,
                }) => {
                    let token = match ev_deploy::markers::marker(&token) {
                        Some(ev_core::model::Known::Secret(secret)) => reveal(root, &secret)?,
                        _ => {
                            return Err(BackendError::Unavailable(format!(
                                "cluster {}'s token is not a secret",
                                k.cluster
                            )))
                        }
                    };
                    kubernetes::Reach::Server {
                        url,
                        certificate_authority,
                        token,
                    }
                }
                None => {
                    return Err(BackendError::Unavailable(format!(
                        "the program declares no cluster `{}`",
                        k.cluster
                    )))
                }
            };
            Arc::new(kubernetes::Kubernetes::new(
                root,
                reach,
                &k.namespace,
                k.workspace.as_deref().unwrap_or(environment),
                Duration::from_secs(k.lease_seconds),
            )?)
        }
        StateStore::S3(store) => Arc::new(s3::S3::new(
            s3_endpoint(root, store)?,
            &store.prefix,
            store.workspace.as_deref().unwrap_or(environment),
            Duration::from_secs(store.lease_seconds),
        )?),
    };
    Ok(Arc::new(encrypted::Encrypted::new(
        inner,
        root,
        store.encrypt_to().to_vec(),
    )))
}

/// Where an S3 state's bucket is, its credentials read: from the program
/// (the secret key through sops) or from the `AWS_*` variables.
fn s3_endpoint(
    root: &std::path::Path,
    store: &ev_deploy::state_store::S3Store,
) -> Result<s3::Endpoint, BackendError> {
    let variable = |name: &str| {
        std::env::var(name).ok().filter(|v| !v.is_empty()).ok_or_else(|| {
            BackendError::Unavailable(format!(
                "the environment variable {name} is not set (the program gives no `access_key_id` and `secret_access_key`)"
            ))
        })
    };
    // Where they would go is checked before credentials are read.
    s3::endpoint_url(&store.endpoint)?;
    let (access_key_id, secret_access_key, session_token) =
        match (&store.access_key_id, &store.secret_access_key) {
            (Some(id), Some(secret)) => (id.clone(), reveal(root, &secret.secret)?, None),
            _ => (
                variable("AWS_ACCESS_KEY_ID")?,
                variable("AWS_SECRET_ACCESS_KEY")?,
                std::env::var("AWS_SESSION_TOKEN")
                    .ok()
                    .filter(|t| !t.is_empty()),
            ),
        };
    Ok(s3::Endpoint {
        url: store.endpoint.clone(),
        bucket: store.bucket.clone(),
        region: store.region.clone(),
        path_style: store.addressing == ev_deploy::state_store::S3Addressing::Path,
        certificate_authority: store.certificate_authority.clone(),
        access_key_id,
        secret_access_key,
        session_token,
    })
}

/// The environment's local files (`.ev/`), encrypted at rest as its
/// `state` says, whatever backend that names: where `ev state migrate`
/// moves the state from and to.
pub fn local_files(
    root: &std::path::Path,
    ev: &ev_deploy::plan::state::EvDir,
    store: &ev_deploy::state_store::StateStore,
) -> Arc<dyn StateBackend> {
    Arc::new(encrypted::Encrypted::new(
        Arc::new(local::Local::new(root, ev)),
        root,
        store.encrypt_to().to_vec(),
    ))
}

/// A credential's text: each sops key decrypted (as every secret is, by
/// [`crate::secrets::decrypt`]), composed parts joined. Never logged.
fn reveal(root: &std::path::Path, secret: &ev_core::model::Secret) -> Result<String, BackendError> {
    use ev_core::model::{Secret, SecretPart};
    let unavailable = |why: String| BackendError::Unavailable(why);
    off_runtime(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| unavailable(format!("cannot run sops: {e}")))?;
        let log = crate::process::Log::create(std::path::Path::new("/dev/null"))
            .map_err(|e| unavailable(format!("cannot run sops: {e}")))?;
        let (_, mut kill) = tokio::sync::watch::channel(false);
        let env = crate::process::base_env();
        let mut decrypt = |r: &ev_core::model::SecretRef| {
            runtime
                .block_on(crate::secrets::decrypt(
                    root, &env, &r.file, &r.key, &log, &mut kill,
                ))
                .map_err(|e| unavailable(format!("cannot decrypt {}#{}: {e}", r.file, r.key)))
        };
        match secret {
            Secret::Ref(r) => decrypt(r),
            Secret::Composed { parts } => parts
                .iter()
                .map(|p| match p {
                    SecretPart::Text(t) => Ok(t.clone()),
                    SecretPart::Ref(r) => decrypt(r),
                })
                .collect(),
        }
    })
}
