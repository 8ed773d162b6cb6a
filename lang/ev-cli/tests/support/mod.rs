//! Shared helpers of the apply tests: temporary repositories, the `ev`
//! binary, free loopback ports, servers stopped on drop, and the real tools
//! (found on PATH or in the install script's cache; with EV_REAL_TOOLS=1 a
//! missing tool fails the test instead of skipping it).

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Directories the install script puts tools in, before the inherited PATH.
pub fn tools_path() -> String {
    let home = std::env::var("HOME").unwrap_or_default();
    let tools = std::env::var("EV_TOOLS_DIR").unwrap_or_else(|_| format!("{home}/.cache/ev-tools"));
    format!(
        "{tools}/venv/bin:{tools}/kubernetes-1.20.2-r2/bin:{tools}/s3s-fs-0.14.0/bin:{}",
        std::env::var("PATH").unwrap_or_default()
    )
}

/// The tool's path, or `None` (the test is skipped) unless EV_REAL_TOOLS=1.
pub fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::split_paths(&tools_path())
        .map(|d| d.join(name))
        .find(|p| p.is_file());
    if found.is_none() {
        if std::env::var("EV_REAL_TOOLS").as_deref() == Ok("1") {
            panic!("`{name}` is required (EV_REAL_TOOLS=1): run scripts/install-tools.sh");
        }
        eprintln!("skipping: `{name}` is not installed");
    }
    found
}

/// All of these tools, or `None`.
pub fn tools(names: &[&str]) -> Option<()> {
    names.iter().try_for_each(|n| tool(n).map(|_| ()))
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Waits until something listens on the port.
pub fn wait_port(port: u16, within: Duration) {
    let start = Instant::now();
    while start.elapsed() < within {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("nothing listens on 127.0.0.1:{port} after {within:?}");
}

/// A background server, killed when dropped.
pub struct Server {
    child: Child,
    name: String,
}

impl Server {
    /// Starts `program args` with output to `log`.
    pub fn start(name: &str, program: &str, args: &[&str], log: &Path) -> Server {
        let log_file = std::fs::File::create(log).expect("server log");
        let child = Command::new(program)
            .args(args)
            .env("PATH", tools_path())
            .stdout(log_file.try_clone().expect("log"))
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Server {
            child,
            name: name.to_string(),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        eprintln!("stopped {}", self.name);
    }
}

/// A temporary repository.
pub struct Repo {
    dir: tempfile::TempDir,
    /// Extra environment for `ev`.
    pub env: Vec<(String, String)>,
}

/// What a run of `ev` printed.
#[derive(Debug)]
pub struct Run {
    /// Exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// Both streams.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl Repo {
    /// A repository holding `files`.
    pub fn new(files: &[(&str, &str)]) -> Repo {
        let repo = Repo {
            dir: tempfile::tempdir().expect("temp dir"),
            env: Vec::new(),
        };
        for (path, text) in files {
            repo.write(path, text);
        }
        repo
    }

    /// The root.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file.
    pub fn write(&self, path: &str, text: &str) {
        let full = self.path().join(path);
        if let Some(dir) = full.parent() {
            std::fs::create_dir_all(dir).expect("mkdir");
        }
        std::fs::write(full, text).expect("write");
    }

    /// Records the program of `entry` as fully applied in the default
    /// environment's state (`.ev/state.json`), as if every action had run.
    pub fn record_applied(&self, entry: &str) {
        let (root, entry) = (self.path().to_path_buf(), entry.to_string());
        let text = ev_core::eval::run_with_stack(move || {
            let fs = ev_core::fs::OsFs::new(root);
            let program = ev_core::load(&fs, &entry);
            assert!(program.diagnostics.is_empty(), "{:?}", program.diagnostics);
            let ev = ev_core::Evaluator::new(&program, &fs);
            let (model, diagnostics) = ev_deploy::build_model(&program, &ev);
            assert!(diagnostics.is_empty(), "{diagnostics:?}");
            let graph = ev_deploy::plan::lower(&model, &fs);
            ev_deploy::plan::state::State::fully_applied(&graph).to_text()
        });
        self.write(".ev/state.json", &text);
    }

    /// Reads a file.
    pub fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.path().join(path)).unwrap_or_default()
    }

    /// Runs `ev -C repo args` with the tools on PATH.
    pub fn ev(&self, args: &[&str]) -> Run {
        self.ev_with_path(args, &tools_path())
    }

    /// Runs `ev` with this PATH.
    pub fn ev_with_path(&self, args: &[&str], path: &str) -> Run {
        let out = self
            .command(args, path)
            .stdin(Stdio::null())
            .output()
            .expect("ev runs");
        let run = Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        eprintln!("$ ev {}\n{}", args.join(" "), run.all());
        run
    }

    /// The `ev` command, not started.
    pub fn command(&self, args: &[&str], path: &str) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ev"));
        cmd.arg("-C")
            .arg(self.path())
            .args(args)
            .env("PATH", path)
            .env("NO_COLOR", "1");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Creates two test age keys and a `.sops.yaml` encrypting everything
    /// under `secrets/` (any format) to both, as a team shares secrets;
    /// `SOPS_AGE_KEY_FILE` is set for `ev` to the second recipient's key.
    pub fn age_key(&mut self) {
        let keygen = |name: &str| {
            let key = self.path().join(name);
            let out = Command::new("age-keygen")
                .arg("-o")
                .arg(&key)
                .env("PATH", tools_path())
                .output()
                .expect("age-keygen runs");
            assert!(out.status.success(), "{out:?}");
            let text = std::fs::read_to_string(&key).expect("key");
            let public = text
                .lines()
                .find_map(|l| l.strip_prefix("# public key: "))
                .expect("public key")
                .to_string();
            (key, public)
        };
        let (_, colleague) = keygen("test-only-colleague.agekey");
        let (key, public) = keygen("test-only.agekey");
        self.write(
            ".sops.yaml",
            &format!(
                "creation_rules:\n  - path_regex: secrets/.*\n    age: {colleague},{public}\n"
            ),
        );
        self.env.push((
            "SOPS_AGE_KEY_FILE".into(),
            key.to_string_lossy().into_owned(),
        ));
    }

    /// Encrypts `plain` with sops into `path` (in the format sops gives it
    /// by its extension).
    pub fn sops_encrypt(&self, path: &str, plain: &str) {
        self.write(path, plain);
        let out = Command::new("sops")
            .args(["--disable-version-check", "--encrypt", "--in-place", path])
            .current_dir(self.path())
            .env("PATH", tools_path())
            .output()
            .expect("sops runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Asserts a secret's canary value is in none of these outputs and in
    /// no file below the repository (state, logs, build, exports) other
    /// than the test key itself.
    pub fn assert_no_leak(&self, runs: &[&Run], canary: &str) {
        for run in runs {
            assert!(
                !run.all().contains(canary),
                "the secret leaked into ev's output"
            );
        }
        let leaks: Vec<String> = self
            .files_containing(canary)
            .into_iter()
            .filter(|p| !p.ends_with(".agekey"))
            .collect();
        assert!(leaks.is_empty(), "the secret leaked into {leaks:?}");
    }

    /// Every file below the repository (state, logs, build, exports) holding `needle`.
    pub fn files_containing(&self, needle: &str) -> Vec<String> {
        let mut hits = Vec::new();
        let mut stack = vec![self.path().to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let p = entry.path();
                if p.is_dir() {
                    stack.push(p);
                } else if std::fs::read(&p)
                    .map(|b| String::from_utf8_lossy(&b).contains(needle))
                    .unwrap_or(false)
                {
                    hits.push(p.to_string_lossy().into_owned());
                }
            }
        }
        hits
    }
}

/// Runs a tool (from the tools PATH) and returns its stdout; panics on failure.
pub fn sh(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .env("PATH", tools_path())
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A private tmux server with one session `ev`, killed when dropped.
pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// A server named after the test.
    pub fn new(name: &str) -> Tmux {
        Tmux {
            socket: format!("ev-test-{name}-{}", std::process::id()),
        }
    }

    /// Runs a tmux command on this server.
    pub fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .env("PATH", tools_path())
            .output()
            .expect("tmux runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The visible screen.
    pub fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "ev"])
    }

    /// Types keys (tmux key names).
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "ev"];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    /// Waits until the screen shows `text`.
    pub fn wait_for(&self, text: &str) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the screen never showed {text:?}:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.run(&["kill-server"]);
    }
}

/// What a test syncing zones to PowerDNS through octodns needs.
pub const DNS_TOOLS: [&str; 6] = [
    "pdns_server",
    "sqlite3",
    "dig",
    "octodns-sync",
    "sops",
    "age-keygen",
];

/// A PowerDNS server with the sqlite backend and its HTTP API.
pub struct PowerDns {
    _server: Server,
    /// Its DNS port.
    pub dns_port: u16,
    /// Its HTTP API port.
    pub api_port: u16,
    /// Its configuration, database and log.
    pub dir: tempfile::TempDir,
}

/// The API key (a canary: it must never appear in anything ev writes).
pub const PDNS_KEY: &str = "test-only-pdns-api-key-canary-7Q2X";

/// Starts PowerDNS on free loopback ports.
pub fn powerdns() -> PowerDns {
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path().to_string_lossy().into_owned();
    let (dns_port, api_port) = (free_port(), free_port());
    let db = format!("{d}/pdns.sqlite3");
    let schema =
        std::fs::read_to_string("/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql")
            .expect("the sqlite schema of pdns-backend-sqlite3");
    let out = std::process::Command::new("sqlite3")
        .arg(&db)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin
                .take()
                .expect("stdin")
                .write_all(schema.as_bytes())?;
            c.wait()
        })
        .expect("sqlite3");
    assert!(out.success());
    std::fs::write(
        dir.path().join("pdns.conf"),
        format!(
            "launch=gsqlite3\ngsqlite3-database={db}\nlocal-address=127.0.0.1\nlocal-port={dns_port}\n\
             socket-dir={d}\ndaemon=no\nguardian=no\ndisable-syslog=yes\nsecurity-poll-suffix=\n\
             api=yes\napi-key={PDNS_KEY}\nwebserver=yes\nwebserver-address=127.0.0.1\n\
             webserver-port={api_port}\nwebserver-allow-from=127.0.0.1/32\n\
             default-soa-content=ns1.@ hostmaster.@ 0 10800 3600 604800 3600\n"
        ),
    )
    .expect("pdns.conf");
    let server = Server::start(
        "pdns_server",
        "pdns_server",
        &[&format!("--config-dir={d}")],
        &dir.path().join("pdns.log"),
    );
    wait_port(api_port, Duration::from_secs(20));
    PowerDns {
        _server: server,
        dns_port,
        api_port,
        dir,
    }
}

/// `dig +short NAME KIND` against the server.
pub fn dig(pdns: &PowerDns, name: &str, kind: &str) -> String {
    sh(
        "dig",
        &[
            "@127.0.0.1",
            "-p",
            &pdns.dns_port.to_string(),
            "+short",
            name,
            kind,
        ],
    )
    .trim()
    .to_string()
}

/// A PostgreSQL server of its own on a free loopback port, accepting only
/// TLS connections (a certificate for 127.0.0.1 signed by a test CA) with
/// password authentication, run as the `postgres` user when the tests run
/// as root (the server refuses root). Stopped with a fast shutdown on drop.
pub struct Postgres {
    /// Its port.
    pub port: u16,
    /// The CA certificate (PEM) that signed the server's.
    pub ca: String,
    /// The superuser's name.
    pub user: &'static str,
    /// Its password.
    pub password: &'static str,
    server: Option<Child>,
    bin: PathBuf,
    dir: tempfile::TempDir,
}

/// Debian's PostgreSQL programs (not on PATH): `/usr/lib/postgresql/N/bin`.
pub fn postgres_bin() -> Option<PathBuf> {
    let found = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .find(|bin| bin.join("initdb").is_file());
    if found.is_none() && std::env::var("EV_REAL_TOOLS").as_deref() == Ok("1") {
        panic!("PostgreSQL is required (EV_REAL_TOOLS=1): run scripts/install-tools.sh");
    }
    found
}

impl Postgres {
    /// Creates a cluster and starts it; `None` (skipped) without PostgreSQL.
    pub fn start(password: &'static str) -> Option<Postgres> {
        let bin = postgres_bin()?;
        tool("psql")?;
        tool("openssl")?;
        let dir = tempfile::tempdir().expect("dir");
        let d = dir.path().to_string_lossy().into_owned();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).expect("data dir");
        std::fs::write(dir.path().join("pwfile"), format!("{password}\n")).expect("pwfile");
        // A test CA, and a certificate for 127.0.0.1 it signs.
        new_ca(&format!("{d}/ca"), "ev-test-ca");
        sh(
            "openssl",
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                "/CN=127.0.0.1",
                "-keyout",
                &format!("{d}/server.key"),
                "-out",
                &format!("{d}/server.csr"),
            ],
        );
        std::fs::write(dir.path().join("san.ext"), "subjectAltName=IP:127.0.0.1\n").expect("ext");
        sh(
            "openssl",
            &[
                "x509",
                "-req",
                "-days",
                "2",
                "-in",
                &format!("{d}/server.csr"),
                "-CA",
                &format!("{d}/ca.crt"),
                "-CAkey",
                &format!("{d}/ca.key"),
                "-CAcreateserial",
                "-extfile",
                &format!("{d}/san.ext"),
                "-out",
                &format!("{d}/server.crt"),
            ],
        );
        let ca = std::fs::read_to_string(dir.path().join("ca.crt")).expect("ca");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // The server's user must reach its files; its key is its own.
            let open = std::fs::Permissions::from_mode(0o755);
            std::fs::set_permissions(dir.path(), open).expect("chmod");
            let private = std::fs::Permissions::from_mode(0o600);
            std::fs::set_permissions(dir.path().join("server.key"), private).expect("chmod");
            if is_root() {
                let out = Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(dir.path())
                    .output()
                    .expect("chown");
                assert!(out.status.success(), "{out:?}");
            }
        }
        let pg = Postgres {
            port: free_port(),
            ca,
            user: "ev",
            password,
            server: None,
            bin,
            dir,
        };
        let out = pg
            .as_server_user(&pg.bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-U", pg.user, "--auth=scram-sha-256", "--no-sync"])
            .arg(format!(
                "--pwfile={}",
                pg.dir.path().join("pwfile").display()
            ))
            .output()
            .expect("initdb runs");
        assert!(out.status.success(), "initdb: {out:?}");
        // Over TCP, TLS only: a connection that works was encrypted.
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all scram-sha-256\nhostssl all all 127.0.0.1/32 scram-sha-256\n",
        )
        .expect("pg_hba.conf");
        let mut pg = pg;
        pg.restart();
        Some(pg)
    }

    /// A CA certificate (PEM) that signed nothing of this server.
    pub fn another_ca(&self) -> String {
        let stem = self.dir.path().join("other-ca");
        new_ca(&stem.to_string_lossy(), "another-ca");
        std::fs::read_to_string(stem.with_extension("crt")).expect("another CA")
    }

    fn as_server_user(&self, program: &Path) -> Command {
        if is_root() {
            // setpriv execs the program: its pid is the server's.
            let mut c = Command::new("setpriv");
            c.args([
                "--reuid=postgres",
                "--regid=postgres",
                "--init-groups",
                "--",
            ]);
            c.arg(program);
            c
        } else {
            Command::new(program)
        }
    }

    /// Starts the server (again, on the same port and data).
    pub fn restart(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("postgres.log"))
            .expect("log");
        let child = self
            .as_server_user(&self.bin.join("postgres"))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args([
                "-p",
                &self.port.to_string(),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "ssl=on",
            ])
            .arg("-c")
            .arg(format!(
                "ssl_cert_file={}",
                self.dir.path().join("server.crt").display()
            ))
            .arg("-c")
            .arg(format!(
                "ssl_key_file={}",
                self.dir.path().join("server.key").display()
            ))
            .arg("-c")
            .arg(format!(
                "unix_socket_directories={}",
                self.dir.path().display()
            ))
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("postgres starts");
        self.server = Some(child);
        let start = Instant::now();
        while self.try_psql("SELECT 1").is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "postgres did not start: {}",
                std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the server (a fast shutdown: clients are disconnected).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.server.take() {
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }

    /// `psql -At -c SQL` through the server's own client, as its superuser.
    pub fn try_psql(&self, sql: &str) -> Result<String, String> {
        let out = Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                self.user,
            ])
            .args(["-d", "postgres", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .env("PGPASSWORD", self.password)
            .env("PATH", tools_path())
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// [`Postgres::try_psql`], which must succeed.
    pub fn psql(&self, sql: &str) -> String {
        self.try_psql(sql)
            .unwrap_or_else(|e| panic!("psql {sql}: {e}"))
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A self-signed CA: `<stem>.key` and `<stem>.crt`.
pub fn new_ca(stem: &str, name: &str) {
    sh(
        "openssl",
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN={name}"),
            "-keyout",
            &format!("{stem}.key"),
            "-out",
            &format!("{stem}.crt"),
        ],
    );
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// A real Kubernetes API server on loopback: etcd, kube-apiserver (token
/// authentication, RBAC, its own self-signed certificate) and
/// kube-controller-manager; stopped in reverse order on drop. The API
/// server can be stopped and started again on its port and data.
pub struct Kube {
    /// kube-controller-manager, then etcd (the API server is apart).
    servers: Vec<Server>,
    apiserver: Option<Server>,
    apiserver_args: Vec<String>,
    /// A kubeconfig with an admin token (context `test`).
    pub kubeconfig: String,
    /// The API server's URL.
    pub server: String,
    /// The certificate the API server made for itself (with its CA).
    pub certificate: PathBuf,
    /// Its data, certificates and logs.
    pub dir: tempfile::TempDir,
}

/// A second bearer token the test API server accepts: what a cluster
/// reached by URL authenticates with, and a canary.
pub const KUBE_TOKEN: &str = "test-only-kube-token-canary-Zx81";

/// What a real Kubernetes API server test needs.
pub const KUBE_TOOLS: [&str; 5] = [
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kubectl",
    "openssl",
];

/// Starts etcd, the API server and the controller manager on free ports.
pub fn kube() -> Kube {
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path().to_string_lossy().into_owned();
    let (client, peer, metrics, api, cm) = (
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
    );
    let etcd = Server::start(
        "etcd",
        "etcd",
        &[
            "--name",
            "ev",
            "--data-dir",
            &format!("{d}/etcd"),
            "--listen-client-urls",
            &format!("http://127.0.0.1:{client}"),
            "--advertise-client-urls",
            &format!("http://127.0.0.1:{client}"),
            "--listen-peer-urls",
            &format!("http://127.0.0.1:{peer}"),
            "--initial-advertise-peer-urls",
            &format!("http://127.0.0.1:{peer}"),
            "--initial-cluster",
            &format!("ev=http://127.0.0.1:{peer}"),
            "--listen-metrics-urls",
            &format!("http://127.0.0.1:{metrics}"),
        ],
        &dir.path().join("etcd.log"),
    );
    // Slow to start on a loaded 2-core machine (several real tests at once).
    wait_port(client, Duration::from_secs(90));
    sh(
        "openssl",
        &["genrsa", "-out", &format!("{d}/sa.key"), "2048"],
    );
    sh(
        "openssl",
        &[
            "rsa",
            "-in",
            &format!("{d}/sa.key"),
            "-pubout",
            "-out",
            &format!("{d}/sa.pub"),
        ],
    );
    std::fs::write(
        dir.path().join("tokens.csv"),
        format!("evtoken,ev-admin,ev-admin-uid,system:masters\n{KUBE_TOKEN},ev-edge,ev-edge-uid,system:masters\n"),
    )
    .expect("tokens");
    let apiserver_args = vec![
        format!("--etcd-servers=http://127.0.0.1:{client}"),
        "--bind-address=127.0.0.1".into(),
        "--advertise-address=127.0.0.1".into(),
        format!("--secure-port={api}"),
        "--insecure-port=0".into(),
        format!("--cert-dir={d}/certs"),
        format!("--token-auth-file={d}/tokens.csv"),
        "--authorization-mode=RBAC".into(),
        "--service-account-issuer=https://kubernetes.default.svc".into(),
        "--api-audiences=https://kubernetes.default.svc".into(),
        format!("--service-account-key-file={d}/sa.pub"),
        format!("--service-account-signing-key-file={d}/sa.key"),
        "--service-cluster-ip-range=10.96.0.0/24".into(),
        "--endpoint-reconciler-type=none".into(),
        "--disable-admission-plugins=ServiceAccount".into(),
    ];
    let kubeconfig = format!("{d}/kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: https://127.0.0.1:{api}\n    insecure-skip-tls-verify: true\n\
             users:\n- name: admin\n  user:\n    token: evtoken\ncontexts:\n- name: test\n  context:\n    cluster: test\n    user: admin\ncurrent-context: test\n"
        ),
    )
    .expect("kubeconfig");
    let mut kube = Kube {
        servers: vec![etcd],
        apiserver: None,
        apiserver_args,
        kubeconfig,
        server: format!("https://127.0.0.1:{api}"),
        certificate: dir.path().join("certs/apiserver.crt"),
        dir,
    };
    kube.start_apiserver();
    let cm = Server::start(
        "kube-controller-manager",
        "kube-controller-manager",
        &[
            &format!("--kubeconfig={}", kube.kubeconfig), "--bind-address=127.0.0.1",
            &format!("--secure-port={cm}"), "--port=0", "--leader-elect=false",
            &format!("--service-account-private-key-file={d}/sa.key"),
            "--use-service-account-credentials=false",
            "--controllers=*,-nodeipam,-nodelifecycle,-cloud-node-lifecycle,-route,-service,-attachdetach,-persistentvolume-binder,-persistentvolume-expander,-ttl,-bootstrapsigner,-tokencleaner,-csrsigning,-csrapproving,-csrcleaner",
        ],
        &kube.dir.path().join("controller-manager.log"),
    );
    // Servers stop in reverse order of start.
    kube.servers.insert(0, cm);
    kube
}

impl Kube {
    /// Starts the API server (again) and waits until it answers.
    pub fn start_apiserver(&mut self) {
        let args: Vec<&str> = self.apiserver_args.iter().map(String::as_str).collect();
        self.apiserver = Some(Server::start(
            "kube-apiserver",
            "kube-apiserver",
            &args,
            &self.dir.path().join("apiserver.log"),
        ));
        let answers = |args: &[&str]| {
            Command::new("kubectl")
                .args(["--kubeconfig", &self.kubeconfig])
                .args(args)
                .env("PATH", tools_path())
                .output()
                .is_ok_and(|o| o.status.success())
        };
        let start = Instant::now();
        // The default namespace is made by a controller after start, and
        // leases come last in the API's discovery.
        while !(answers(&["get", "namespace/default"]) && answers(&["get", "leases"])) {
            assert!(
                start.elapsed() < Duration::from_secs(90),
                "the API server did not come up"
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// Stops the API server (etcd keeps its data).
    pub fn stop_apiserver(&mut self) {
        self.apiserver = None;
    }
}

impl Drop for Kube {
    fn drop(&mut self) {
        // The controller manager, the API server, then etcd.
        if !self.servers.is_empty() {
            drop(self.servers.remove(0));
        }
        self.apiserver = None;
    }
}

/// What the API server logged about a crash, if it crashed (a custom
/// resource crashed an API server built with an unpatched reflect2).
pub fn apiserver_trouble(kube: &Kube) -> String {
    let log = std::fs::read_to_string(kube.dir.path().join("apiserver.log")).unwrap_or_default();
    match log.find("fatal error").or_else(|| log.find("panic:")) {
        Some(at) => format!(
            "the API server crashed:\n{}",
            log.get(at..(at + 2000).min(log.len())).unwrap_or("")
        ),
        None => String::new(),
    }
}

/// `kubectl --kubeconfig (admin) ARGS`, which must succeed.
pub fn kubectl(kube: &Kube, args: &[&str]) -> String {
    let mut all = vec!["--kubeconfig", kube.kubeconfig.as_str()];
    all.extend_from_slice(args);
    sh("kubectl", &all)
}

/// An S3-compatible server of its own on a free loopback port: s3s-fs,
/// which keeps objects in files (so a restart keeps them) and honours
/// conditional writes, with one access key; read through the AWS CLI.
/// Stopped on drop; it can be stopped and started again on its port and
/// files.
pub struct S3Server {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    server: Option<Server>,
    port: u16,
    /// Its objects and log.
    pub dir: tempfile::TempDir,
}

/// The test server's access key id.
pub const S3_ACCESS_KEY: &str = "test-only-access-key";
/// Its secret access key (a canary).
pub const S3_SECRET_KEY: &str = "test-only-s3-secret-canary-9Lk4";
/// The bucket made at start.
pub const S3_BUCKET: &str = "ev-state";
/// What an S3 test needs: the server and the AWS CLI.
pub const S3_TOOLS: [&str; 2] = ["s3s-fs", "aws"];

/// Starts s3s-fs and makes the bucket.
pub fn s3() -> S3Server {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::create_dir(dir.path().join("objects")).expect("objects");
    let port = free_port();
    let mut server = S3Server {
        endpoint: format!("http://127.0.0.1:{port}"),
        server: None,
        port,
        dir,
    };
    server.start();
    server
        .aws(&["s3api", "create-bucket", "--bucket", S3_BUCKET])
        .expect("the bucket is made");
    server
}

impl S3Server {
    /// Starts the server (again) and waits until it listens.
    pub fn start(&mut self) {
        let objects = self.dir.path().join("objects");
        let port = self.port.to_string();
        self.server = Some(Server::start(
            "s3s-fs",
            "s3s-fs",
            &[
                "--host",
                "127.0.0.1",
                "--port",
                &port,
                "--access-key",
                S3_ACCESS_KEY,
                "--secret-key",
                S3_SECRET_KEY,
                &objects.to_string_lossy(),
            ],
            &self.dir.path().join("s3s-fs.log"),
        ));
        wait_port(self.port, Duration::from_secs(30));
    }

    /// Stops the server (its files stay).
    pub fn stop(&mut self) {
        self.server = None;
    }

    /// `aws --endpoint-url ENDPOINT ARGS` with the test key: its stdout,
    /// or its stderr when it fails.
    pub fn aws(&self, args: &[&str]) -> Result<Vec<u8>, String> {
        let out = Command::new("aws")
            .args(["--endpoint-url", &self.endpoint])
            .args(args)
            .env("PATH", tools_path())
            .env("AWS_ACCESS_KEY_ID", S3_ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", S3_SECRET_KEY)
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .expect("aws runs");
        if out.status.success() {
            Ok(out.stdout)
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// An object's bytes (`None`: there is none).
    pub fn object(&self, key: &str) -> Option<Vec<u8>> {
        self.aws(&["s3", "cp", &format!("s3://{S3_BUCKET}/{key}"), "-"])
            .ok()
    }
}
