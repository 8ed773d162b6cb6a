//! The state in an S3-compatible bucket (AWS S3, Cloudflare R2, MinIO,
//! Ceph, ...): two objects under `<prefix>/<workspace>/`, `state.json`
//! (the state and journal, as JSON text) and `lock.json` (the lease).
//!
//! S3 has no transaction and no server-side lease, only conditional
//! writes: `If-None-Match: *` creates an object that must not exist and
//! `If-Match: <etag>` replaces the version read, the server answering
//! 412 when someone wrote since. Every write here is one of the two, so
//! the lock and the state are compare-and-swap registers; a server that
//! ignores the headers would make them meaningless, so before taking the
//! lock ev asks for a write that must be refused, and refuses a server
//! that performs it. As with the Kubernetes backend, an apply writes the
//! state whole right after taking the lease (each write carrying its
//! writer and a fresh nonce, so its etag changes even when the state does
//! not), so a holder it took over from fails its next write.
//!
//! Lease expiry compares the lock's `Last-Modified` with the server's
//! `Date`, both the server's clock: machines' clocks need not agree.
//! Requests are presigned (AWS Signature V4, through `rusty-s3`) for a
//! minute; the signed URL is never printed, redirects are never followed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use rusty_s3::{Bucket, Credentials, S3Action as _, UrlStyle};
use serde::{Deserialize, Serialize};

use super::{Acquired, BackendError, Holder, StateBackend, Stored, Version};

/// Where the bucket is and who ev is to it.
pub struct Endpoint {
    /// `https://s3.eu-west-1.amazonaws.com`, `http://127.0.0.1:9000`.
    pub url: String,
    /// The bucket (it must exist).
    pub bucket: String,
    /// The signing region.
    pub region: String,
    /// Path-style (`endpoint/bucket/key`) rather than virtual-hosted
    /// (`bucket.endpoint/key`) requests.
    pub path_style: bool,
    /// A CA certificate (PEM) signing the server's, when not a public one.
    pub certificate_authority: Option<String>,
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key (never printed).
    pub secret_access_key: String,
    /// A session token of temporary credentials.
    pub session_token: Option<String>,
}

/// One workspace's state and lock in a bucket.
pub struct S3 {
    bucket: Bucket,
    credentials: Credentials,
    agent: ureq::Agent,
    /// `s3 <endpoint>/<bucket>/<prefix>/<workspace>`, for messages.
    location: String,
    state_key: String,
    lock_key: String,
    probe_key: String,
    lease: Duration,
    /// What was last read or written, so an append sends the journal
    /// without reading it first.
    last: super::LastStored,
    /// The lock's etag as this process last wrote it while holding it, so
    /// renewing and releasing need not read it first.
    held: Mutex<Option<String>>,
    /// The server was seen to refuse a write whose condition fails.
    conditional_writes_checked: AtomicBool,
}

/// `state.json`: the state and journal with their writer.
#[derive(Serialize, Deserialize)]
struct StateObject {
    /// The format's version.
    ev_state: u32,
    /// The lock id of the apply that wrote it.
    writer: String,
    /// Unique per write: the object's etag changes with every write.
    nonce: String,
    state: Option<String>,
    journal: String,
}

/// `lock.json`: the holder (`None`: released) and a nonce per renewal.
#[derive(Serialize, Deserialize)]
struct LockObject {
    holder: Option<Holder>,
    nonce: String,
}

/// An object as read: its bytes, etag and age by the server's clock.
struct Object {
    body: Vec<u8>,
    etag: String,
    /// Time since it was last written, by the server's clock.
    age: Option<Duration>,
}

/// What a conditional write came to.
enum Put {
    /// Written: the new etag (empty when the server sent none).
    Written(String),
    /// The condition failed: someone wrote first.
    Refused,
}

/// A string that differs between any two writes of this process and of
/// any other.
fn nonce() -> String {
    use std::sync::atomic::AtomicU64;
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{}-{:x}-{}",
        std::process::id(),
        nanos,
        COUNT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Whether `part` can be a segment of the objects' keys.
fn is_key_part(part: &str) -> bool {
    !part.is_empty()
        && part.len() <= 100
        && part != "."
        && part != ".."
        && part
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Whether a URL's host is a loopback address (where plain HTTP is
/// allowed).
fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

/// The endpoint's URL, if ev may send requests there: `https://`, or
/// plain `http://` to a loopback address; no credentials, query or
/// fragment.
pub fn endpoint_url(text: &str) -> Result<url::Url, BackendError> {
    let unusable = |why: String| BackendError::Unavailable(why);
    let url: url::Url = text
        .parse()
        .map_err(|e| unusable(format!("`{text}` is no URL: {e}")))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        _ => {
            return Err(unusable(format!(
                "`{text}`: the endpoint must be `https://` (plain `http://` only to a loopback address)"
            )))
        }
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(unusable(format!(
            "`{text}`: an endpoint has no credentials, query or fragment"
        )));
    }
    Ok(url)
}

impl S3 {
    /// The backend; nothing is requested until first use.
    pub fn new(
        endpoint: Endpoint,
        prefix: &str,
        workspace: &str,
        lease: Duration,
    ) -> Result<S3, BackendError> {
        let unusable = |why: String| BackendError::Unavailable(why);
        let url = endpoint_url(&endpoint.url)?;
        let parts = prefix.split('/').chain([workspace]);
        if !parts.clone().all(is_key_part) {
            return Err(unusable(format!(
                "`{prefix}/{workspace}` cannot name objects: each part is letters, digits, `-`, `_` and `.`"
            )));
        }
        let style = if endpoint.path_style {
            UrlStyle::Path
        } else {
            UrlStyle::VirtualHost
        };
        let bucket = Bucket::new(
            url.clone(),
            style,
            endpoint.bucket.clone(),
            endpoint.region.clone(),
        )
        .map_err(|e| unusable(format!("bucket `{}`: {e}", endpoint.bucket)))?;
        let credentials = match endpoint.session_token {
            Some(token) => Credentials::new_with_token(
                endpoint.access_key_id,
                endpoint.secret_access_key,
                token,
            ),
            None => Credentials::new(endpoint.access_key_id, endpoint.secret_access_key),
        };
        let mut tls = ureq::tls::TlsConfig::builder();
        if let Some(pem) = &endpoint.certificate_authority {
            let certificates: Vec<_> = ureq::tls::parse_pem(pem.as_bytes())
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                    _ => None,
                })
                .collect();
            if certificates.is_empty() {
                return Err(unusable(
                    "`certificate_authority` holds no PEM certificate".into(),
                ));
            }
            tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&certificates));
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            // A redirect would carry a signed request elsewhere.
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(30)))
            .tls_config(tls.build())
            .build()
            .into();
        let base = format!("{prefix}/{workspace}");
        Ok(S3 {
            location: format!(
                "s3 {}/{}/{base}",
                url.as_str().trim_end_matches('/'),
                endpoint.bucket
            ),
            bucket,
            credentials,
            agent,
            state_key: format!("{base}/state.json"),
            lock_key: format!("{base}/lock.json"),
            probe_key: format!("{base}/conditional-write-probe"),
            lease,
            last: super::LastStored::default(),
            held: Mutex::new(None),
            conditional_writes_checked: AtomicBool::new(false),
        })
    }

    /// A request: its status, headers of interest and body. The signed
    /// URL appears in no error.
    fn send(
        &self,
        method: &str,
        key: &str,
        condition: Option<(&'static str, &str)>,
        body: Option<&[u8]>,
    ) -> Result<(u16, ureq::http::HeaderMap, Vec<u8>), BackendError> {
        const VALID: Duration = Duration::from_secs(60);
        let signed = match method {
            "GET" => self
                .bucket
                .get_object(Some(&self.credentials), key)
                .sign(VALID),
            "DELETE" => self
                .bucket
                .delete_object(Some(&self.credentials), key)
                .sign(VALID),
            _ => {
                let mut put = self.bucket.put_object(Some(&self.credentials), key);
                if let Some((name, value)) = condition {
                    put.headers_mut().insert(name, value.to_string());
                }
                put.sign(VALID)
            }
        };
        let failed = |e: ureq::Error| {
            BackendError::Unavailable(format!("{method} {key}: {}", without_query(&e.to_string())))
        };
        let response = match (method, body) {
            ("GET", _) => self.agent.get(signed.as_str()).call(),
            ("DELETE", _) => self.agent.delete(signed.as_str()).call(),
            (_, body) => {
                let mut request = self.agent.put(signed.as_str());
                if let Some((name, value)) = condition {
                    request = request.header(name, value);
                }
                request.send(body.unwrap_or_default())
            }
        };
        let mut response = response.map_err(failed)?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_vec()
            .map_err(failed)?;
        Ok((status, headers, bytes))
    }

    /// An object, or `None` when there is none.
    fn get(&self, key: &str) -> Result<Option<Object>, BackendError> {
        let (status, headers, body) = self.send("GET", key, None, None)?;
        match status {
            200 => {
                let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
                let date =
                    |name: &str| header(name).and_then(|t| httpdate::parse_http_date(t).ok());
                let now = date("date").unwrap_or_else(SystemTime::now);
                let age =
                    date("last-modified").map(|at| now.duration_since(at).unwrap_or_default());
                Ok(Some(Object {
                    etag: header("etag").unwrap_or("").to_string(),
                    body,
                    age,
                }))
            }
            404 if !no_bucket(&body) => Ok(None),
            _ => Err(self.refused("GET", key, status, &body)),
        }
    }

    /// `PUT key` under `condition`.
    fn put(
        &self,
        key: &str,
        condition: (&'static str, &str),
        body: &[u8],
    ) -> Result<Put, BackendError> {
        let (status, headers, answer) = self.send("PUT", key, Some(condition), Some(body))?;
        match status {
            200..=299 => Ok(Put::Written(
                headers
                    .get("etag")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string(),
            )),
            // 409: a concurrent conditional write (AWS); 404: `If-Match`
            // on an object that is gone.
            412 | 409 => Ok(Put::Refused),
            404 if !no_bucket(&answer) => Ok(Put::Refused),
            _ => Err(self.refused("PUT", key, status, &answer)),
        }
    }

    /// A request the server refused: its status and S3 error code.
    fn refused(&self, method: &str, key: &str, status: u16, body: &[u8]) -> BackendError {
        let text = String::from_utf8_lossy(body);
        let tag = |name: &str| {
            let open = format!("<{name}>");
            let start = text.find(&open)? + open.len();
            let end = text[start..].find('<')? + start;
            Some(text[start..end].to_string())
        };
        let code = tag("Code").unwrap_or_else(|| "no S3 error code".into());
        let hint = match code.as_str() {
            "NoSuchBucket" => "; the bucket must exist (ev does not create it)",
            "AccessDenied" | "InvalidAccessKeyId" | "SignatureDoesNotMatch" => {
                "; check the credentials and the region"
            }
            _ => "",
        };
        BackendError::Unavailable(format!(
            "{method} {key} was refused: HTTP {status}, {}{hint}",
            without_query(&code)
        ))
    }

    fn held(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The lock object: its etag, holder (`None`: released) and whether
    /// its lease expired.
    fn lock(&self) -> Result<Option<(String, Option<Holder>, bool)>, BackendError> {
        let Some(object) = self.get(&self.lock_key)? else {
            return Ok(None);
        };
        let lock: LockObject = serde_json::from_slice(&object.body).map_err(|e| {
            BackendError::Unavailable(format!("{} is unreadable: {e}", self.lock_key))
        })?;
        let expired = object.age.is_none_or(|age| age > self.lease);
        Ok(Some((object.etag, lock.holder, expired)))
    }

    fn lock_body(holder: Option<&Holder>) -> Vec<u8> {
        serde_json::to_vec(&LockObject {
            holder: holder.cloned(),
            nonce: nonce(),
        })
        .unwrap_or_default()
    }

    /// Refuses a server that performs a write whose condition fails: its
    /// lock would not exclude anyone.
    fn check_conditional_writes(&self) -> Result<(), BackendError> {
        if self.conditional_writes_checked.load(Ordering::Relaxed) {
            return Ok(());
        }
        match self.put(&self.probe_key, ("if-match", "\"ev-never-matches\""), b"")? {
            Put::Refused => {
                self.conditional_writes_checked
                    .store(true, Ordering::Relaxed);
                Ok(())
            }
            Put::Written(_) => {
                let _ = self.send("DELETE", &self.probe_key, None, None);
                Err(BackendError::Unavailable(
                    "the server ignores conditional writes (`If-Match`), so it cannot hold a lock; use a server that honours them (AWS S3, Cloudflare R2, MinIO, Ceph)".into(),
                ))
            }
        }
    }

    /// Writes `state` and `journal` over `expected`; a refusal is
    /// explained by the lock.
    fn store(
        &self,
        state: Option<Vec<u8>>,
        journal: Vec<u8>,
        expected: &Version,
        holder: &Holder,
    ) -> Result<Version, BackendError> {
        let text = |bytes: &[u8]| {
            String::from_utf8(bytes.to_vec())
                .map_err(|_| BackendError::Unavailable("the state is not UTF-8 text".into()))
        };
        let object = StateObject {
            ev_state: 1,
            writer: holder.id.clone(),
            nonce: nonce(),
            state: state.as_deref().map(text).transpose()?,
            journal: text(&journal)?,
        };
        let body = serde_json::to_vec(&object).unwrap_or_default();
        let condition = if expected.0.is_empty() {
            ("if-none-match", "*")
        } else {
            ("if-match", expected.0.as_str())
        };
        match self.put(&self.state_key, condition, &body)? {
            Put::Written(etag) if !etag.is_empty() => {
                let version = Version(etag);
                self.last.set(Some(Stored {
                    state,
                    journal,
                    version: version.clone(),
                }));
                Ok(version)
            }
            Put::Written(_) => {
                self.last.set(None);
                Err(BackendError::Unavailable(
                    "the server answered a write without an ETag".into(),
                ))
            }
            Put::Refused => {
                self.last.set(None);
                match self.lock()? {
                    Some((_, Some(h), _)) if h.id == holder.id => Err(BackendError::Conflict(
                        "the state object's ETag is not the one this process read".into(),
                    )),
                    other => Err(BackendError::LeaseLost {
                        ours: holder.id.clone(),
                        now: other.and_then(|(_, h, _)| h),
                    }),
                }
            }
        }
    }

    /// Writes the lock over `etag` for `holder` (`None`: released).
    fn put_lock(&self, etag: &str, holder: Option<&Holder>) -> Result<Put, BackendError> {
        self.put(&self.lock_key, ("if-match", etag), &Self::lock_body(holder))
    }
}

/// Whether an S3 error body says the bucket does not exist.
fn no_bucket(body: &[u8]) -> bool {
    String::from_utf8_lossy(body).contains("<Code>NoSuchBucket</Code>")
}

/// `text` without any URL query (where a signature would be).
fn without_query(text: &str) -> String {
    text.split_whitespace()
        .map(|word| match word.find('?') {
            Some(at) if word.contains("://") || word.contains("X-Amz-") => &word[..at],
            _ => word,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

impl StateBackend for S3 {
    fn location(&self) -> String {
        self.location.clone()
    }

    fn lease(&self) -> Option<Duration> {
        Some(self.lease)
    }

    fn read(&self) -> Result<Stored, BackendError> {
        let stored = match self.get(&self.state_key)? {
            Some(object) => {
                let state: StateObject = serde_json::from_slice(&object.body).map_err(|e| {
                    BackendError::Unavailable(format!("{} is unreadable: {e}", self.state_key))
                })?;
                if state.ev_state != 1 {
                    return Err(BackendError::Unavailable(format!(
                        "{} has format {}, which this ev does not know (a newer ev wrote it)",
                        self.state_key, state.ev_state
                    )));
                }
                Stored {
                    state: state.state.map(String::into_bytes),
                    journal: state.journal.into_bytes(),
                    version: Version(object.etag),
                }
            }
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
        self.last.set(None);
        let (status, _, body) = self.send("DELETE", &self.state_key, None, None)?;
        match status {
            200..=299 | 404 => Ok(()),
            _ => Err(self.refused("DELETE", &self.state_key, status, &body)),
        }
    }

    fn acquire(&self, holder: &Holder) -> Result<Acquired, BackendError> {
        self.check_conditional_writes()?;
        let (written, dead) = match self.lock()? {
            None => (
                self.put(
                    &self.lock_key,
                    ("if-none-match", "*"),
                    &Self::lock_body(Some(holder)),
                )?,
                None,
            ),
            Some((etag, current, expired)) => {
                let dead = match current {
                    Some(h) if h.id != holder.id && !expired => {
                        return Err(BackendError::Held(Some(h)))
                    }
                    Some(h) if h.id != holder.id => Some(h),
                    _ => None,
                };
                (self.put_lock(&etag, Some(holder))?, dead)
            }
        };
        match written {
            Put::Written(etag) => {
                *self.held() = Some(etag).filter(|e| !e.is_empty());
                Ok(match dead {
                    Some(dead) => Acquired::TakenOver(dead),
                    None => Acquired::Free,
                })
            }
            // Someone else wrote the lock first: they hold it.
            Put::Refused => Err(BackendError::Held(self.lock()?.and_then(|(_, h, _)| h))),
        }
    }

    fn renew(&self, holder: &Holder) -> Result<(), BackendError> {
        let etag = match self.held().clone() {
            Some(etag) => etag,
            None => match self.lock()? {
                Some((etag, Some(h), _)) if h.id == holder.id => etag,
                other => {
                    return Err(BackendError::LeaseLost {
                        ours: holder.id.clone(),
                        now: other.and_then(|(_, h, _)| h),
                    })
                }
            },
        };
        // Over the etag this process wrote: refused if anyone wrote since
        // (a takeover, a force-unlock).
        match self.put_lock(&etag, Some(holder))? {
            Put::Written(etag) => {
                *self.held() = Some(etag).filter(|e| !e.is_empty());
                Ok(())
            }
            Put::Refused => {
                *self.held() = None;
                Err(BackendError::LeaseLost {
                    ours: holder.id.clone(),
                    now: self.lock()?.and_then(|(_, h, _)| h),
                })
            }
        }
    }

    fn release(&self, holder: &Holder) -> Result<(), BackendError> {
        let etag = match self.held().take() {
            Some(etag) => etag,
            None => match self.lock()? {
                Some((etag, Some(h), _)) if h.id == holder.id => etag,
                _ => return Ok(()),
            },
        };
        // Refused when it is no longer ours: nothing to release.
        self.put_lock(&etag, None)?;
        Ok(())
    }

    fn holder(&self) -> Result<Option<Holder>, BackendError> {
        Ok(self.lock()?.and_then(|(_, h, _)| h))
    }

    fn force_unlock(&self, id: &str) -> Result<Holder, BackendError> {
        let Some((etag, Some(held), _)) = self.lock()? else {
            return Err(BackendError::NotTheLock("no apply lock is held".into()));
        };
        if held.id != id {
            return Err(BackendError::NotTheLock(format!(
                "the lock's id is {}, not {id}; nothing was removed",
                held.id
            )));
        }
        match self.put_lock(&etag, None)? {
            Put::Written(_) => Ok(held),
            Put::Refused => Err(BackendError::NotTheLock(
                "the lock changed meanwhile; nothing was removed".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(url: &str) -> Endpoint {
        Endpoint {
            url: url.into(),
            bucket: "ev-state".into(),
            region: "us-east-1".into(),
            path_style: true,
            certificate_authority: None,
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "test-only-secret".into(),
            session_token: None,
        }
    }

    #[test]
    fn plain_http_only_to_loopback() {
        let open = |url: &str| S3::new(endpoint(url), "ev", "prod", Duration::from_secs(60));
        assert!(open("https://s3.example.org").is_ok());
        assert!(open("http://127.0.0.1:9000").is_ok());
        assert!(open("http://[::1]:9000").is_ok());
        assert!(open("http://localhost:9000").is_ok());
        for refused in [
            "http://s3.example.org",
            "http://192.0.2.1:9000",
            "ftp://127.0.0.1",
            "https://user:pw@s3.example.org",
            "https://s3.example.org/?x=1",
            "not a url",
        ] {
            assert!(open(refused).is_err(), "{refused}");
        }
    }

    #[test]
    fn keys_stay_under_the_prefix() {
        let open = |prefix: &str, ws: &str| {
            S3::new(
                endpoint("https://s3.example.org"),
                prefix,
                ws,
                Duration::from_secs(60),
            )
        };
        assert!(open("ev/team-a", "prod").is_ok());
        for (prefix, ws) in [
            ("ev/..", "prod"),
            ("", "prod"),
            ("ev//x", "prod"),
            ("ev", "a/b"),
            ("ev", "a?b"),
            ("ev", ".."),
        ] {
            assert!(open(prefix, ws).is_err(), "{prefix} {ws}");
        }
    }

    /// A server that performs every request whatever its condition (as
    /// Garage does): ev refuses to take a lock there, and removes the
    /// object its check wrote.
    #[test]
    fn server_ignoring_conditions_fake_is_refused() {
        use std::io::{BufRead, BufReader, Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("port").port();
        let server = std::thread::spawn(move || {
            let mut seen = Vec::new();
            for stream in listener.incoming().take(2) {
                let mut stream = stream.expect("connection");
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut head = Vec::new();
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).expect("read");
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                    if line == "\r\n" || line.is_empty() {
                        break;
                    }
                    head.push(line);
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).expect("body");
                seen.push(head.join(""));
                stream
                    .write_all(b"HTTP/1.1 200 OK\r\nETag: \"x\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .expect("answer");
            }
            seen
        });
        let backend = S3::new(
            endpoint(&format!("http://127.0.0.1:{port}")),
            "ev",
            "prod",
            Duration::from_secs(60),
        )
        .expect("backend");
        let refused = backend.acquire(&Holder::this_process());
        assert!(
            matches!(&refused, Err(BackendError::Unavailable(why)) if why.contains("ignores conditional writes")),
            "{refused:?}"
        );
        let seen = server.join().expect("server");
        assert!(
            seen[0].starts_with("PUT /ev-state/ev/prod/conditional-write-probe?"),
            "{}",
            seen[0]
        );
        assert!(
            seen[0]
                .to_ascii_lowercase()
                .contains("if-match: \"ev-never-matches\""),
            "{}",
            seen[0]
        );
        assert!(
            seen[1].starts_with("DELETE /ev-state/ev/prod/conditional-write-probe?"),
            "{}",
            seen[1]
        );
    }

    #[test]
    fn no_signature_in_messages() {
        let said = without_query(
            "io: connection refused http://127.0.0.1:9/b/k?X-Amz-Signature=abc&X-Amz-Credential=x",
        );
        assert_eq!(said, "io: connection refused http://127.0.0.1:9/b/k");
    }
}
