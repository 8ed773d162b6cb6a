//! Shared state on real servers started on 127.0.0.1: two clones of one
//! repository (two machines) apply DNS zones through octodns to PowerDNS
//! while their state, journal and lock live in a shared backend —
//! PostgreSQL, a Kubernetes API server (a Secret and a Lease) or an
//! S3-compatible server (s3s-fs: two objects). What the backend holds is
//! read with the server's own client (psql, kubectl, the AWS CLI), the
//! zones with dig. One scenario, run against each backend: migration there
//! and back byte for byte, two applies at once, `kill -9` of the holder and
//! a takeover after its lease expires, a holder paused past its lease and
//! fenced out, the server stopped mid-apply and restarted, no secret in the
//! stored bytes. Without the tools the tests skip, unless EV_REAL_TOOLS=1.

mod support;

use std::io::Read;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use support::{
    dig, kube, kubectl, powerdns, s3, tools, tools_path, Kube, Postgres, PowerDns, Repo, Run,
    S3Server, DNS_TOOLS, KUBE_TOKEN, KUBE_TOOLS, PDNS_KEY, S3_ACCESS_KEY, S3_SECRET_KEY, S3_TOOLS,
};

const ZONES: [&str; 4] = ["one.test", "two.test", "three.test", "four.test"];

/// A shared backend's server, started by the test and read through its
/// own client.
trait Shared {
    /// Its `backend` name (`ev state migrate --to`).
    fn kind(&self) -> &'static str;
    /// What the program declares for it besides the state (a cluster).
    fn declarations(&self) -> String {
        String::new()
    }
    /// The default environment's `state` keeping it there (encrypted to
    /// `recipients` at rest, for a backend tested so).
    fn state(&self, recipients: &[String]) -> String;
    /// What each machine's checkout needs (credentials through sops).
    fn prepare(&self, repo: &Repo);
    /// The stored state's bytes, if any.
    fn stored_state(&self) -> Option<Vec<u8>>;
    /// The stored journal's lines (`None`: unreachable).
    fn journal_lines(&self) -> Option<usize>;
    /// What changes with every write (a generation, a resourceVersion).
    fn version(&self) -> String;
    /// The lease's holder id and record, if held.
    fn lock(&self) -> Option<(String, String)>;
    /// Everything stored, as text (secrets would show).
    fn dump(&self) -> String;
    /// How ev names it in messages.
    fn location(&self) -> String;
    /// Its own credential (a canary).
    fn credential(&self) -> &'static str;
    /// Stops its server.
    fn stop(&mut self);
    /// Starts its server again.
    fn restart(&mut self);
}

const PG_PASSWORD: &str = "test-only-state-password-canary-P5tG";

impl Shared for Postgres {
    fn kind(&self) -> &'static str {
        "postgres"
    }
    fn state(&self, recipients: &[String]) -> String {
        format!(
            r#"{{
    backend = "postgres",
    encrypt_to = {recipients:?},
    host = "127.0.0.1",
    port = {},
    database = "postgres",
    user = "ev",
    password = secret("secrets/state.yaml", "postgres"),
    certificate_authority = text("magic/pg-ca.crt"),
    lease_seconds = 12,
  }}"#,
            self.port
        )
    }
    fn prepare(&self, repo: &Repo) {
        repo.sops_encrypt("secrets/state.yaml", &format!("postgres: {PG_PASSWORD}\n"));
        repo.write("magic/pg-ca.crt", &self.ca);
    }
    fn stored_state(&self) -> Option<Vec<u8>> {
        let hex = self.psql("SELECT encode(state, 'hex') FROM ev_state WHERE workspace = 'prod'");
        (!hex.trim().is_empty()).then(|| hex::decode(hex.trim()).expect("hex"))
    }
    fn journal_lines(&self) -> Option<usize> {
        let text = self
            .try_psql("SELECT convert_from(journal, 'UTF8') FROM ev_state WHERE workspace = 'prod'")
            .ok()?;
        // Encrypted, each line is an armored age file.
        Some(text.matches("BEGIN AGE ENCRYPTED FILE").count())
    }
    fn version(&self) -> String {
        self.psql("SELECT generation FROM ev_state")
    }
    fn lock(&self) -> Option<(String, String)> {
        let row = self.psql("SELECT id || ' ' || holder FROM ev_lock");
        row.trim()
            .split_once(' ')
            .map(|(id, record)| (id.to_string(), record.to_string()))
    }
    fn dump(&self) -> String {
        // bytea as text: in hex a canary would go unseen.
        self.psql("SELECT * FROM ev_lock")
            + &self.psql("SELECT workspace, generation, convert_from(state, 'UTF8'), convert_from(journal, 'UTF8') FROM ev_state")
    }
    fn location(&self) -> String {
        "postgres ev@127.0.0.1".into()
    }
    fn credential(&self) -> &'static str {
        PG_PASSWORD
    }
    fn stop(&mut self) {
        Postgres::stop(self);
    }
    fn restart(&mut self) {
        Postgres::restart(self);
    }
}

impl Shared for Kube {
    fn kind(&self) -> &'static str {
        "kubernetes"
    }
    fn declarations(&self) -> String {
        format!(
            r#"
cluster vault {{
  server = "{}"
  certificate_authority = text("magic/vault-ca.crt")
  token = secret("secrets/kube.yaml", "vault.token")
}}
"#,
            self.server
        )
    }
    fn state(&self, _: &[String]) -> String {
        r#"{ backend = "kubernetes", cluster = "vault", namespace = "default", lease_seconds = 12 }"#
            .into()
    }
    fn prepare(&self, repo: &Repo) {
        let certificate = std::fs::read_to_string(&self.certificate).expect("the certificate");
        repo.write("magic/vault-ca.crt", &certificate);
        repo.sops_encrypt(
            "secrets/kube.yaml",
            &format!("vault:\n    token: {KUBE_TOKEN}\n"),
        );
    }
    fn stored_state(&self) -> Option<Vec<u8>> {
        secret_key(self, "state")
    }
    fn journal_lines(&self) -> Option<usize> {
        let journal = secret_key(self, "journal").unwrap_or_default();
        Some(journal.iter().filter(|b| **b == b'\n').count())
    }
    fn version(&self) -> String {
        kubectl(
            self,
            &[
                "get",
                "secret",
                "ev-state-prod",
                "-o",
                "jsonpath={.metadata.resourceVersion}",
            ],
        )
    }
    fn lock(&self) -> Option<(String, String)> {
        let lease = kubectl(
            self,
            &[
                "get",
                "lease",
                "ev-lock-prod",
                "-o",
                "json",
                "--ignore-not-found",
            ],
        );
        let lease: serde_json::Value = serde_json::from_str(&lease).ok()?;
        let id = lease["spec"]["holderIdentity"]
            .as_str()
            .filter(|id| !id.is_empty())?;
        let record = lease["metadata"]["annotations"]["ev.dev/holder"].as_str()?;
        Some((id.to_string(), record.to_string()))
    }
    fn dump(&self) -> String {
        let state = secret_key(self, "state").unwrap_or_default();
        let journal = secret_key(self, "journal").unwrap_or_default();
        format!(
            "{}{}{}",
            String::from_utf8_lossy(&state),
            String::from_utf8_lossy(&journal),
            kubectl(self, &["get", "secrets,leases", "-o", "json"])
        )
    }
    fn location(&self) -> String {
        "kubernetes secret default/ev-state-prod".into()
    }
    fn credential(&self) -> &'static str {
        KUBE_TOKEN
    }
    fn stop(&mut self) {
        self.stop_apiserver();
    }
    fn restart(&mut self) {
        self.start_apiserver();
    }
}

impl Shared for S3Server {
    fn kind(&self) -> &'static str {
        "s3"
    }
    fn state(&self, _: &[String]) -> String {
        format!(
            r#"{{ backend = "s3", endpoint = "{}", bucket = "ev-state", access_key_id = "{S3_ACCESS_KEY}", secret_access_key = secret("secrets/s3.yaml", "s3.secret"), lease_seconds = 12 }}"#,
            self.endpoint
        )
    }
    fn prepare(&self, repo: &Repo) {
        repo.sops_encrypt(
            "secrets/s3.yaml",
            &format!("s3:\n    secret: {S3_SECRET_KEY}\n"),
        );
    }
    fn stored_state(&self) -> Option<Vec<u8>> {
        state_object(self)?["state"]
            .as_str()
            .map(|s| s.as_bytes().to_vec())
    }
    fn journal_lines(&self) -> Option<usize> {
        let object = state_object(self)?;
        Some(
            object["journal"]
                .as_str()
                .unwrap_or("")
                .matches('\n')
                .count(),
        )
    }
    fn version(&self) -> String {
        let head = self
            .aws(&[
                "s3api",
                "head-object",
                "--bucket",
                "ev-state",
                "--key",
                "ev/prod/state.json",
            ])
            .expect("the state object");
        let head: serde_json::Value = serde_json::from_slice(&head).expect("JSON");
        head["ETag"].as_str().expect("an ETag").to_string()
    }
    fn lock(&self) -> Option<(String, String)> {
        let lock: serde_json::Value =
            serde_json::from_slice(&self.object("ev/prod/lock.json")?).ok()?;
        let holder = lock.get("holder").filter(|h| !h.is_null())?;
        Some((holder["id"].as_str()?.to_string(), holder.to_string()))
    }
    fn dump(&self) -> String {
        let listing = self
            .aws(&["s3api", "list-objects-v2", "--bucket", "ev-state"])
            .unwrap_or_default();
        let listing: serde_json::Value = serde_json::from_slice(&listing).unwrap_or_default();
        let mut all = String::new();
        for object in listing["Contents"].as_array().into_iter().flatten() {
            let key = object["Key"].as_str().unwrap_or("");
            all.push_str(&String::from_utf8_lossy(
                &self.object(key).unwrap_or_default(),
            ));
        }
        all
    }
    fn location(&self) -> String {
        format!("s3 {}/ev-state/ev/prod", self.endpoint)
    }
    fn credential(&self) -> &'static str {
        S3_SECRET_KEY
    }
    fn stop(&mut self) {
        S3Server::stop(self);
    }
    fn restart(&mut self) {
        self.start();
    }
}

/// ev's state object in the bucket, read with the AWS CLI.
fn state_object(s3: &S3Server) -> Option<serde_json::Value> {
    serde_json::from_slice(&s3.object("ev/prod/state.json")?).ok()
}

/// A key of ev's Secret, base64-decoded and gunzipped, through kubectl.
fn secret_key(kube: &Kube, key: &str) -> Option<Vec<u8>> {
    let out = std::process::Command::new("kubectl")
        .args([
            "--kubeconfig",
            &kube.kubeconfig,
            "get",
            "secret",
            "ev-state-prod",
        ])
        .args([
            "--ignore-not-found",
            "-o",
            &format!("jsonpath={{.data.{key}}}"),
        ])
        .env("PATH", tools_path())
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if text.is_empty() {
        return None;
    }
    let zipped = base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("base64");
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(zipped.as_slice())
        .read_to_end(&mut bytes)
        .expect("gzip");
    Some(bytes)
}

/// The program: four zones whose `www` is `192.0.2.<last>` and what
/// `shared` needs, the state kept there when `shared_state` (else in
/// local files).
fn program(
    pdns: &PowerDns,
    shared: &dyn Shared,
    shared_state: Option<&[String]>,
    last: u8,
) -> String {
    let zones: String = ZONES
        .iter()
        .map(|z| {
            format!(
                "domain \"{z}\" {{\n  provider = pdns\n  records = [a(\"www\", \"192.0.2.{last}\")]\n}}\n"
            )
        })
        .collect();
    let state = match shared_state {
        Some(recipients) => format!("\n  state = {}", shared.state(recipients)),
        None => String::new(),
    };
    format!(
        r#"environment prod {{
  default = true{state}
}}
{}
let pdns = {{
  name = "pdns",
  class = "octodns_powerdns.PowerDnsProvider",
  settings = {{ host = "127.0.0.1", port = {}, api_key = secret("secrets/dns.yaml", "pdns.api_key") }},
}}

{zones}"#,
        shared.declarations(),
        pdns.api_port
    )
}

/// A clone of the repository on another machine: its own checkout, its own
/// age key, the same program.
fn machine(shared: &dyn Shared) -> Repo {
    let mut repo = Repo::new(&[]);
    repo.age_key();
    repo.sops_encrypt(
        "secrets/dns.yaml",
        &format!("pdns:\n  api_key: {PDNS_KEY}\n"),
    );
    shared.prepare(&repo);
    repo
}

/// `ev ARGS` on a machine; an apply syncs one zone at a time (PowerDNS's
/// sqlite backend answers 500 to concurrent writers on a loaded machine).
fn ev(repo: &Repo, args: &[&str]) -> Run {
    let mut all = args.to_vec();
    if args.first() == Some(&"apply") {
        all.extend(["--parallelism", "1"]);
    }
    repo.ev_with_path(&all, &tools_path())
}

/// `ev apply --yes --parallelism 1` running in the background.
fn spawn_apply(repo: &Repo) -> Child {
    repo.command(&["apply", "--yes", "--parallelism", "1"], &tools_path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ev apply starts")
}

fn finish(child: Child) -> Run {
    let out = child.wait_with_output().expect("ev apply ends");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Waits until `ready` holds.
fn wait_until(what: &str, ready: impl Fn() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < Duration::from_secs(60), "never: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `kill SIGNAL` of a running apply.
fn signal(child: &Child, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

fn all_zones_answer(pdns: &PowerDns, last: u8) {
    for zone in ZONES {
        assert_eq!(
            dig(pdns, &format!("www.{zone}"), "A"),
            format!("192.0.2.{last}"),
            "{zone}"
        );
    }
}

/// The age recipient of a machine's key (what `encrypt_to` lists).
fn recipient(repo: &Repo) -> String {
    let key = std::fs::read_to_string(repo.path().join("test-only.agekey")).expect("key");
    key.lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .expect("public key")
        .to_string()
}

/// Stored bytes as plaintext: decrypted with machine `a`'s key (through
/// the `age` tool) when they are encrypted.
fn plain(repo: &Repo, bytes: Vec<u8>) -> Vec<u8> {
    if !bytes.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----") {
        return bytes;
    }
    let mut child = std::process::Command::new("age")
        .arg("--decrypt")
        .arg("--identity")
        .arg(repo.path().join("test-only.agekey"))
        .env("PATH", tools_path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("age");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), &bytes).expect("write");
    let out = child.wait_with_output().expect("age");
    assert!(out.status.success(), "age cannot decrypt the stored state");
    out.stdout
}

/// How many actions a state's bytes record.
fn actions_in(state: &[u8]) -> usize {
    let state: serde_json::Value = serde_json::from_slice(state).expect("the state is JSON");
    state["actions"].as_object().map_or(0, |m| m.len())
}

/// The whole scenario against one shared backend.
fn shares_state_and_lease_between_machines(shared: &mut dyn Shared) {
    let pdns = powerdns();
    let (a, b) = (machine(shared), machine(shared));
    let to = shared.kind();
    let recipients = [recipient(&a), recipient(&b)];
    let write_both = |shared: &dyn Shared, last: u8| {
        a.write(
            "everything.ev",
            &program(&pdns, shared, Some(&recipients), last),
        );
        b.write(
            "everything.ev",
            &program(&pdns, shared, Some(&recipients), last),
        );
    };
    let stored = |shared: &dyn Shared| shared.stored_state().map(|s| plain(&a, s));
    let local_file = || {
        plain(
            &a,
            std::fs::read(a.path().join(".ev/state.json")).expect("local state"),
        )
    };

    // Machine A starts with local state, then moves it to the backend.
    a.write("everything.ev", &program(&pdns, shared, None, 1));
    let first = ev(&a, &["apply", "--yes"]);
    assert_eq!(first.code, 0, "{}", first.all());
    write_both(shared, 1);
    let local_first = ev(&a, &["state", "migrate", "--to", "local"]);
    assert_eq!(
        local_first.code,
        1,
        "the state is local already: {}",
        local_first.all()
    );
    let local_bytes = std::fs::read(a.path().join(".ev/state.json")).expect("local state");
    let recorded = actions_in(&local_bytes);
    let unmigrated = ev(&a, &["plan"]);
    assert_eq!(unmigrated.code, 2, "{}", unmigrated.all());
    assert!(
        unmigrated.stderr.contains("[E0616]")
            && unmigrated
                .stderr
                .contains(&format!("ev state migrate --to {to}")),
        "{}",
        unmigrated.stderr
    );
    // There, back, and there again: the same bytes each way.
    for (target, local) in [(to, false), ("local", true), (to, false)] {
        let moved = ev(&a, &["state", "migrate", "--to", target]);
        assert_eq!(moved.code, 0, "{}", moved.all());
        assert!(
            moved.stderr.contains("read back and verified"),
            "{}",
            moved.stderr
        );
        if local {
            assert_eq!(
                local_file(),
                local_bytes,
                "the round trip is byte-identical"
            );
            assert!(
                shared.stored_state().is_none(),
                "the shared copy is removed"
            );
        } else {
            assert!(!a.path().join(".ev/state.json").exists());
            assert!(
                a.path().join(".ev/state.json.migrated").exists(),
                "old copy kept"
            );
            assert_eq!(stored(shared).as_deref(), Some(local_bytes.as_slice()));
        }
    }

    // Machine B, a fresh clone, sees the shared state: nothing to do.
    let plan = ev(&b, &["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}", plan.all());

    // Two applies at once: one proceeds, the other is refused (E0602,
    // naming the holder), or waits with --lock-timeout and then finds
    // nothing left to do.
    write_both(shared, 2);
    let running = spawn_apply(&a);
    let pid_a = running.id();
    wait_until("A holds the lock", || shared.lock().is_some());
    let (_, record) = shared.lock().expect("held");
    assert!(record.contains(&format!("\"pid\":{pid_a}")), "{record}");
    let refused = ev(&b, &["apply", "--yes"]);
    assert_eq!(refused.code, 2, "{}", refused.all());
    assert!(
        refused.stderr.contains("[E0602]") && refused.stderr.contains(&format!("pid {pid_a}")),
        "{}",
        refused.stderr
    );
    let waited = ev(&b, &["apply", "--yes", "--lock-timeout", "120"]);
    let applied = finish(running);
    assert_eq!(applied.code, 0, "{}", applied.all());
    assert_eq!(waited.code, 0, "{}", waited.all());
    assert!(waited.stderr.contains("No changes"), "{}", waited.all());
    all_zones_answer(&pdns, 2);
    assert!(shared.lock().is_none(), "released");

    // kill -9 of the holder mid-apply: its lease stays until it expires,
    // then the next apply takes over, says whose lease it was, replays
    // what the dead one recorded and finishes.
    write_both(shared, 3);
    let mut running = spawn_apply(&a);
    wait_until("A recorded a zone", || {
        shared.journal_lines().unwrap_or(0) > 0
    });
    let pid_a = running.id();
    running.kill().expect("kill -9");
    let _ = running.wait();
    let still_held = ev(&b, &["apply", "--yes"]);
    assert_eq!(still_held.code, 2, "{}", still_held.all());
    assert!(
        still_held.stderr.contains("[E0602]"),
        "{}",
        still_held.stderr
    );
    let plan = ev(&b, &["plan"]);
    let unchanged: usize = plan
        .stdout
        .rsplit_once(" unchanged")
        .and_then(|(before, _)| before.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        unchanged >= 1,
        "the dead apply's records are read from its journal: {}",
        plan.stdout
    );
    let took_over = ev(&b, &["apply", "--yes", "--lock-timeout", "60"]);
    assert_eq!(took_over.code, 0, "{}", took_over.all());
    assert!(
        took_over
            .stderr
            .contains("took over the apply lock of a holder that died (lock ")
            && took_over.stderr.contains(&format!("pid {pid_a} on")),
        "{}",
        took_over.stderr
    );
    all_zones_answer(&pdns, 3);
    assert_eq!(actions_in(&stored(shared).expect("stored")), recorded);
    assert_eq!(shared.journal_lines(), Some(0), "the journal is folded in");

    // A holder paused past its lease (SIGSTOP) is taken over; when it
    // wakes, its next record is refused (E0615), so it never writes over
    // its successor's state.
    write_both(shared, 5);
    let paused = spawn_apply(&a);
    wait_until("A recorded a zone", || {
        shared.journal_lines().unwrap_or(0) > 0
    });
    signal(&paused, "-STOP");
    let successor = ev(&b, &["apply", "--yes", "--lock-timeout", "60"]);
    assert!(
        successor.stderr.contains("took over"),
        "{}",
        successor.stderr
    );
    // The paused apply's tool was not paused with it: while it synced the
    // zone it was on, PowerDNS may have refused the successor's sync of
    // that zone (exit 1, recorded as failed); a re-run below converges.
    assert!(
        successor.code == 0 || successor.code == 1,
        "{}",
        successor.all()
    );
    let version = shared.version();
    signal(&paused, "-CONT");
    let woken = finish(paused);
    assert_ne!(woken.code, 0, "{}", woken.all());
    assert!(
        woken.stderr.contains("[E0615]") && woken.stderr.contains("is no longer this process's"),
        "{}",
        woken.stderr
    );
    assert_eq!(shared.version(), version, "it wrote nothing");
    let converged = ev(&b, &["apply", "--yes"]);
    assert_eq!(converged.code, 0, "{}", converged.all());
    all_zones_answer(&pdns, 5);
    assert_eq!(ev(&b, &["plan", "--detailed-exitcode"]).code, 0);

    // The server stopped mid-apply: ev stops with E0614; after a restart
    // the stale lease is removed with force-unlock and a re-run completes.
    write_both(shared, 6);
    let running = spawn_apply(&a);
    wait_until("A recorded a zone", || {
        shared.journal_lines().unwrap_or(0) > 0
    });
    let (lease, _) = shared.lock().expect("held");
    shared.stop();
    let cut_off = finish(running);
    assert_ne!(cut_off.code, 0, "{}", cut_off.all());
    assert!(
        cut_off.stderr.contains("[E0614]") && cut_off.stderr.contains(&shared.location()),
        "{}",
        cut_off.stderr
    );
    let down = ev(&b, &["plan"]);
    assert_eq!(down.code, 2, "{}", down.all());
    assert!(down.stderr.contains("[E0614]"), "{}", down.stderr);
    shared.restart();
    let unlocked = ev(&b, &["force-unlock", &lease]);
    assert_eq!(unlocked.code, 0, "{}", unlocked.all());
    let rerun = ev(&b, &["apply", "--yes"]);
    assert_eq!(rerun.code, 0, "{}", rerun.all());
    all_zones_answer(&pdns, 6);
    assert_eq!(ev(&a, &["plan", "--detailed-exitcode"]).code, 0);
    // No secret reached the bytes the backend stores.
    let dump = shared.dump();
    if shared.state(&recipients).contains("encrypt_to") {
        assert!(
            dump.contains("BEGIN AGE ENCRYPTED FILE") && !dump.contains("domain:one.test"),
            "encrypted at rest: {dump}"
        );
    } else {
        assert!(dump.contains("domain:one.test"), "{dump}");
    }
    for canary in [PDNS_KEY, shared.credential()] {
        assert!(!dump.contains(canary), "a secret reached the backend");
    }

    // Back to local files on machine A: the bytes the backend held.
    let held = stored(shared).expect("stored");
    let home = ev(&a, &["state", "migrate", "--to", "local"]);
    assert_eq!(home.code, 0, "{}", home.all());
    assert_eq!(local_file(), held);
    assert!(shared.stored_state().is_none());

    // Nor ev's outputs and files.
    for canary in [PDNS_KEY, shared.credential()] {
        a.assert_no_leak(&[&first, &applied, &took_over, &cut_off, &home], canary);
        b.assert_no_leak(&[&waited, &rerun, &refused, &successor], canary);
    }
}

/// PostgreSQL, the state encrypted at rest to both machines' age keys.
#[test]
fn state_real_postgres_shares_state_and_lease_between_machines() {
    if tools(&[DNS_TOOLS.as_slice(), &["psql", "age"]].concat()).is_none() {
        return;
    }
    let Some(mut pg) = Postgres::start(PG_PASSWORD) else {
        return;
    };
    // TLS is verified: without it, or with another CA, no connection.
    let mut repo = Repo::new(&[]);
    repo.age_key();
    repo.sops_encrypt("secrets/state.yaml", &format!("postgres: {PG_PASSWORD}\n"));
    repo.write("magic/other-ca.crt", &pg.another_ca());
    for (tls, why) in [
        ("tls = \"disable\"", "no encryption"),
        (
            "certificate_authority = text(\"magic/other-ca.crt\")",
            "certificate",
        ),
    ] {
        repo.write(
            "everything.ev",
            &format!(
                "environment prod {{\n  default = true\n  state = {{ backend = \"postgres\", host = \"127.0.0.1\", port = {}, database = \"postgres\", user = \"ev\", password = secret(\"secrets/state.yaml\", \"postgres\"), {tls} }}\n}}\n",
                pg.port
            ),
        );
        let refused = ev(&repo, &["plan"]);
        assert_eq!(refused.code, 2, "{}", refused.all());
        assert!(
            refused.stderr.contains("[E0614]") && refused.stderr.contains(why),
            "{}",
            refused.stderr
        );
    }
    shares_state_and_lease_between_machines(&mut pg);
}

/// A Kubernetes API server, the state in plaintext (a Secret).
#[test]
fn state_real_kubernetes_shares_state_and_lease_between_machines() {
    if tools(&[DNS_TOOLS.as_slice(), KUBE_TOOLS.as_slice()].concat()).is_none() {
        return;
    }
    let mut kube = kube();
    shares_state_and_lease_between_machines(&mut kube);
}

/// An S3-compatible server (s3s-fs), the state in plaintext objects.
#[test]
fn state_real_s3_shares_state_and_lease_between_machines() {
    if tools(&[DNS_TOOLS.as_slice(), S3_TOOLS.as_slice()].concat()).is_none() {
        return;
    }
    let mut server = s3();
    shares_state_and_lease_between_machines(&mut server);
}
