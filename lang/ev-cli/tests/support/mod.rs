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
        "{tools}/venv/bin:{tools}/kubernetes-1.20.2-r2/bin:{}",
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
