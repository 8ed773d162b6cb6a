//! The state in a Kubernetes cluster, through kubectl (so every way
//! kubectl authenticates works): the state and journal in a Secret
//! `ev-state-<workspace>` (each gzip-compressed: a Secret holds 1 MiB),
//! the lock in a `coordination.k8s.io` Lease `ev-lock-<workspace>`, both
//! in the namespace the program names.
//!
//! The API server gives no transaction over two objects: every write is a
//! `kubectl replace` naming the Secret's `resourceVersion`, which the
//! server refuses (409 Conflict) when anyone wrote since. An apply writes
//! the state whole right after taking the lease, so a holder it took over
//! from fails its next write; the lease is consulted on such a failure to
//! say why. Lease expiry compares the Lease's `renewTime` with this
//! machine's clock (as Kubernetes' own leases do): clocks must agree to
//! within a fraction of `lease_seconds`.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use serde_json::{json, Value};

use super::{Acquired, BackendError, Holder, StateBackend, Stored, Version};
use crate::confined::{Area, Mode, Writer};
use crate::process::Captured;

/// The annotation holding the holder's record on the Lease.
const HOLDER: &str = "ev.dev/holder";

/// One workspace's state and lock in a cluster.
pub struct Kubernetes {
    root: PathBuf,
    /// kubectl's arguments reaching the cluster.
    connect: Vec<String>,
    /// A private folder of this process (`.ev/run/...`) holding the
    /// kubeconfig of a cluster reached by URL; removed on drop.
    scratch: Option<String>,
    namespace: String,
    workspace: String,
    lease: Duration,
    /// What was last read or written, so an append sends the journal
    /// without reading it first.
    last: super::LastStored,
    /// The Lease as this process last wrote it while holding it, so
    /// renewing and releasing need not read it first.
    held: Mutex<Option<Value>>,
}

/// How the backend reaches the cluster.
pub enum Reach {
    /// A kubeconfig context.
    Context(String),
    /// A server by URL with its CA (PEM) and the decrypted token.
    Server {
        /// `https://host:port`.
        url: String,
        /// CA certificate, PEM.
        certificate_authority: Option<String>,
        /// Bearer token.
        token: String,
    },
}

/// Whether `name` can be part of an object's name (a DNS label).
fn is_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 50
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

impl Kubernetes {
    /// The backend; kubectl runs on first use.
    pub fn new(
        root: &Path,
        reach: Reach,
        namespace: &str,
        workspace: &str,
        lease: Duration,
    ) -> Result<Kubernetes, BackendError> {
        if !is_label(workspace) || !is_label(namespace) {
            return Err(BackendError::Unavailable(format!(
                "`{namespace}`/`{workspace}` cannot name Kubernetes objects: a namespace and a workspace are lower-case letters, digits and `-`"
            )));
        }
        let mut backend = Kubernetes {
            root: root.to_path_buf(),
            connect: Vec::new(),
            scratch: None,
            namespace: namespace.to_string(),
            workspace: workspace.to_string(),
            lease,
            last: super::LastStored::default(),
            held: Mutex::new(None),
        };
        backend.connect = match reach {
            Reach::Context(context) => vec![format!("--context={context}")],
            Reach::Server {
                url,
                certificate_authority,
                token,
            } => {
                // The token goes into a kubeconfig readable by this user
                // only, never onto a command line.
                let dir = format!(".ev/run/state-{}", std::process::id());
                backend.scratch = Some(dir.clone());
                let writer = Writer::new(root);
                let unwritable = |e: std::io::Error| {
                    BackendError::Unavailable(format!("cannot write {dir}: {e}"))
                };
                let mut cluster = json!({ "server": url });
                if let Some(pem) = certificate_authority {
                    let ca = format!("{dir}/ca.crt");
                    writer
                        .write(Area::Ev, &ca, pem.as_bytes(), Mode::Private)
                        .map_err(unwritable)?;
                    cluster["certificate-authority"] =
                        Value::String(root.join(&ca).to_string_lossy().into_owned());
                }
                let kubeconfig = crate::drivers::kubectl::kubeconfig(cluster, &token);
                let path = format!("{dir}/kubeconfig");
                writer
                    .write(
                        Area::Ev,
                        &path,
                        kubeconfig.to_string().as_bytes(),
                        Mode::Private,
                    )
                    .map_err(unwritable)?;
                vec![format!(
                    "--kubeconfig={}",
                    root.join(&path).to_string_lossy()
                )]
            }
        };
        Ok(backend)
    }

    fn secret_name(&self) -> String {
        format!("ev-state-{}", self.workspace)
    }

    fn lease_name(&self) -> String {
        format!("ev-lock-{}", self.workspace)
    }

    /// Runs kubectl (exit 1 is returned, not an error: its stderr says
    /// whether the server refused or could not be reached).
    fn kubectl(&self, args: &[&str], stdin: Option<Vec<u8>>) -> Result<Captured, BackendError> {
        let mut all: Vec<&str> = self.connect.iter().map(String::as_str).collect();
        all.extend(["--namespace", self.namespace.as_str()]);
        all.extend_from_slice(args);
        super::run_tool(&self.root, "kubectl", &all, stdin)
    }

    /// `kubectl get KIND NAME -o json`: `None` when there is none.
    fn get(&self, kind: &str, name: &str) -> Result<Option<Value>, BackendError> {
        let out = self.kubectl(
            &["get", kind, name, "-o", "json", "--ignore-not-found"],
            None,
        )?;
        if out.code != 0 {
            return Err(refused(&out));
        }
        if out.stdout.trim().is_empty() {
            return Ok(None);
        }
        serde_json::from_str(&out.stdout)
            .map(Some)
            .map_err(|e| BackendError::Unavailable(format!("kubectl printed no object: {e}")))
    }

    /// `kubectl create` (no `resourceVersion`) or `replace` (with one) of
    /// `object`: the object as stored, or `None` when the server refused
    /// because someone wrote first (Conflict, AlreadyExists).
    fn put(&self, object: &Value, replace: bool) -> Result<Option<Value>, BackendError> {
        let verb = if replace { "replace" } else { "create" };
        let out = self.kubectl(
            &[verb, "-f", "-", "-o", "json"],
            Some(object.to_string().into_bytes()),
        )?;
        if out.code == 0 {
            return serde_json::from_str(&out.stdout)
                .map(Some)
                .map_err(|e| BackendError::Unavailable(format!("kubectl printed no object: {e}")));
        }
        if out.stderr.contains("(Conflict)") || out.stderr.contains("(AlreadyExists)") {
            return Ok(None);
        }
        Err(refused(&out))
    }

    /// The Secret holding `stored` (over version `expected`, if any).
    fn secret(
        &self,
        state: Option<&[u8]>,
        journal: &[u8],
        expected: &Version,
        holder: &Holder,
    ) -> Value {
        let mut data = serde_json::Map::new();
        if let Some(state) = state {
            data.insert("state".into(), Value::String(packed(state)));
        }
        data.insert("journal".into(), Value::String(packed(journal)));
        let mut metadata = json!({
            "name": self.secret_name(),
            "namespace": self.namespace,
            "labels": { "app.kubernetes.io/managed-by": "ev" },
            "annotations": { HOLDER: holder.id, "ev.dev/encoding": "gzip" },
        });
        if !expected.0.is_empty() {
            metadata["resourceVersion"] = Value::String(expected.0.clone());
        }
        json!({ "apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": metadata, "data": data })
    }

    /// Stores `state` and `journal` over `expected`; a refusal is
    /// explained by the lease.
    fn store(
        &self,
        state: Option<Vec<u8>>,
        journal: Vec<u8>,
        expected: &Version,
        holder: &Holder,
    ) -> Result<Version, BackendError> {
        let object = self.secret(state.as_deref(), &journal, expected, holder);
        match self.put(&object, !expected.0.is_empty())? {
            Some(stored) => {
                let version = Version(resource_version(&stored));
                self.last.set(Some(Stored {
                    state,
                    journal,
                    version: version.clone(),
                }));
                Ok(version)
            }
            None => {
                self.last.set(None);
                match self.lease_holder()? {
                    Some((id, _)) if id == holder.id => Err(BackendError::Conflict(
                        "the Secret's resourceVersion is not the one this process read".into(),
                    )),
                    other => Err(BackendError::LeaseLost {
                        ours: holder.id.clone(),
                        now: other.and_then(|(_, h)| h),
                    }),
                }
            }
        }
    }

    fn held(&self) -> std::sync::MutexGuard<'_, Option<Value>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The Lease, its holder's id (empty: released) and record.
    fn lease_object(&self) -> Result<Option<(Value, String, Option<Holder>)>, BackendError> {
        Ok(self.get("lease", &self.lease_name())?.map(|lease| {
            let id = lease
                .pointer("/spec/holderIdentity")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let record = lease
                .pointer(&format!(
                    "/metadata/annotations/{}",
                    HOLDER.replace('/', "~1")
                ))
                .and_then(Value::as_str)
                .and_then(|t| serde_json::from_str(t).ok());
            (lease, id, record)
        }))
    }

    /// The lease's holder id and record, when someone holds it.
    fn lease_holder(&self) -> Result<Option<(String, Option<Holder>)>, BackendError> {
        Ok(self
            .lease_object()?
            .filter(|(_, id, _)| !id.is_empty())
            .map(|(_, id, record)| (id, record)))
    }

    /// The Lease held by `holder` (renewed now), or released (`None`),
    /// over the version of `previous`.
    fn lease_for(&self, previous: Option<&Value>, holder: Option<&Holder>) -> Value {
        let now = micro_time(SystemTime::now());
        let mut metadata = json!({ "name": self.lease_name(), "namespace": self.namespace });
        if let Some(v) = previous.map(resource_version) {
            metadata["resourceVersion"] = Value::String(v);
        }
        let spec = match holder {
            Some(h) => {
                metadata["annotations"] =
                    json!({ HOLDER: serde_json::to_string(h).unwrap_or_default() });
                let acquired = previous
                    .filter(|p| {
                        p.pointer("/spec/holderIdentity").and_then(Value::as_str)
                            == Some(h.id.as_str())
                    })
                    .and_then(|p| p.pointer("/spec/acquireTime").cloned())
                    .unwrap_or_else(|| Value::String(now.clone()));
                json!({
                    "holderIdentity": h.id,
                    "leaseDurationSeconds": self.lease.as_secs(),
                    "acquireTime": acquired,
                    "renewTime": now,
                })
            }
            None => json!({ "leaseDurationSeconds": self.lease.as_secs() }),
        };
        json!({ "apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": metadata, "spec": spec })
    }
}

impl Drop for Kubernetes {
    fn drop(&mut self) {
        if let Some(dir) = &self.scratch {
            let _ = Writer::new(&self.root).remove_tree(Area::Ev, dir);
        }
    }
}

/// Whether a lease last renewed at `renew` for `seconds` has expired.
fn expired(lease: &Value) -> bool {
    let seconds = lease
        .pointer("/spec/leaseDurationSeconds")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let renewed = lease
        .pointer("/spec/renewTime")
        .and_then(Value::as_str)
        .and_then(|t| humantime::parse_rfc3339_weak(t).ok());
    match renewed {
        Some(at) => at + Duration::from_secs(seconds) < SystemTime::now(),
        None => true,
    }
}

/// A Kubernetes MicroTime: RFC 3339 in UTC with microseconds.
fn micro_time(at: SystemTime) -> String {
    humantime::format_rfc3339_micros(at).to_string()
}

fn resource_version(object: &Value) -> String {
    object
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// kubectl's refusal (its last line of stderr: `Error from server ...`,
/// `Unable to connect to the server ...`).
fn refused(out: &Captured) -> BackendError {
    let why = out
        .stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("kubectl failed")
        .trim()
        .to_string();
    BackendError::Unavailable(why)
}

/// Bytes as a Secret holds them: gzip, then base64.
fn packed(bytes: &[u8]) -> String {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = gz.write_all(bytes);
    let zipped = gz.finish().unwrap_or_default();
    base64::engine::general_purpose::STANDARD.encode(zipped)
}

/// The bytes of a Secret's data key.
fn unpacked(secret: &Value, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
    let Some(text) = secret
        .pointer(&format!("/data/{key}"))
        .and_then(Value::as_str)
    else {
        return Ok(None);
    };
    let unreadable = |why: String| {
        BackendError::Unavailable(format!("the Secret's `{key}` is unreadable: {why}"))
    };
    let zipped = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| unreadable(e.to_string()))?;
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(zipped.as_slice())
        .read_to_end(&mut bytes)
        .map_err(|e| unreadable(e.to_string()))?;
    Ok(Some(bytes))
}

impl StateBackend for Kubernetes {
    fn location(&self) -> String {
        format!(
            "kubernetes secret {}/{}",
            self.namespace,
            self.secret_name()
        )
    }

    fn lease(&self) -> Option<Duration> {
        Some(self.lease)
    }

    fn read(&self) -> Result<Stored, BackendError> {
        let stored = match self.get("secret", &self.secret_name())? {
            Some(secret) => Stored {
                state: unpacked(&secret, "state")?,
                journal: unpacked(&secret, "journal")?.unwrap_or_default(),
                version: Version(resource_version(&secret)),
            },
            None => Stored::default(),
        };
        self.last.set(Some(stored.clone()));
        Ok(stored)
    }

    fn write(
        &self,
        state: &[u8],
        expected: &Version,
        holder: &Holder,
    ) -> Result<Version, BackendError> {
        self.store(Some(state.to_vec()), Vec::new(), expected, holder)
    }

    fn append(
        &self,
        line: &[u8],
        expected: &Version,
        holder: &Holder,
    ) -> Result<Version, BackendError> {
        let (state, journal) = self.last.appended(expected, line, || self.read())?;
        self.store(state, journal, expected, holder)
    }

    fn remove(&self, _: &Version, _: &Holder) -> Result<(), BackendError> {
        let out = self.kubectl(
            &[
                "delete",
                "secret",
                &self.secret_name(),
                "--ignore-not-found",
            ],
            None,
        )?;
        self.last.set(None);
        if out.code == 0 {
            Ok(())
        } else {
            Err(refused(&out))
        }
    }

    fn acquire(&self, holder: &Holder) -> Result<Acquired, BackendError> {
        let previous = self.lease_object()?;
        let (taken, dead) = match &previous {
            None => (self.put(&self.lease_for(None, Some(holder)), false)?, None),
            Some((lease, id, record)) => {
                if !id.is_empty() && id != &holder.id && !expired(lease) {
                    return Err(BackendError::Held(record.clone()));
                }
                let dead = record
                    .clone()
                    .filter(|h| !id.is_empty() && h.id != holder.id);
                (
                    self.put(&self.lease_for(Some(lease), Some(holder)), true)?,
                    dead,
                )
            }
        };
        let acquired = match (&taken, dead) {
            // Someone else wrote the Lease first: they hold it.
            (None, _) => {
                return Err(BackendError::Held(
                    self.lease_holder()?.and_then(|(_, h)| h),
                ))
            }
            (Some(_), Some(dead)) => Acquired::TakenOver(dead),
            (Some(_), None) => Acquired::Free,
        };
        *self.held() = taken;
        Ok(acquired)
    }

    fn renew(&self, holder: &Holder) -> Result<(), BackendError> {
        let cached = self.held().clone();
        if let Some(lease) = cached {
            // Over the version this process wrote: refused if anyone
            // wrote since (a takeover, a force-unlock).
            let renewed = self.put(&self.lease_for(Some(&lease), Some(holder)), true)?;
            let lost = renewed.is_none();
            *self.held() = renewed;
            return if lost {
                Err(BackendError::LeaseLost {
                    ours: holder.id.clone(),
                    now: self.lease_holder()?.and_then(|(_, h)| h),
                })
            } else {
                Ok(())
            };
        }
        match self.lease_object()? {
            Some((lease, id, _)) if id == holder.id => {
                match self.put(&self.lease_for(Some(&lease), Some(holder)), true)? {
                    Some(_) => Ok(()),
                    None => Err(BackendError::LeaseLost {
                        ours: holder.id.clone(),
                        now: self.lease_holder()?.and_then(|(_, h)| h),
                    }),
                }
            }
            other => Err(BackendError::LeaseLost {
                ours: holder.id.clone(),
                now: other.and_then(|(_, id, h)| h.filter(|_| !id.is_empty())),
            }),
        }
    }

    fn release(&self, holder: &Holder) -> Result<(), BackendError> {
        let cached = self.held().take();
        if let Some(lease) = cached {
            // Refused when it is no longer ours: nothing to release.
            self.put(&self.lease_for(Some(&lease), None), true)?;
            return Ok(());
        }
        if let Some((lease, id, _)) = self.lease_object()? {
            if id == holder.id {
                self.put(&self.lease_for(Some(&lease), None), true)?;
            }
        }
        Ok(())
    }

    fn holder(&self) -> Result<Option<Holder>, BackendError> {
        Ok(self.lease_holder()?.and_then(|(_, h)| h))
    }

    fn force_unlock(&self, id: &str) -> Result<Holder, BackendError> {
        let Some((lease, held, record)) =
            self.lease_object()?.filter(|(_, held, _)| !held.is_empty())
        else {
            return Err(BackendError::NotTheLock("no apply lock is held".into()));
        };
        if held != id {
            return Err(BackendError::NotTheLock(format!(
                "the lock's id is {held}, not {id}; nothing was removed"
            )));
        }
        match self.put(&self.lease_for(Some(&lease), None), true)? {
            Some(_) => record
                .ok_or_else(|| BackendError::Unavailable("the lease held no holder record".into())),
            None => Err(BackendError::NotTheLock(
                "the lease changed meanwhile; nothing was removed".into(),
            )),
        }
    }
}
