//! A minimal LSP client over a child process's stdio, for the test
//! harness and the responsiveness benchmark: starts `ev lsp`, frames JSON-RPC
//! messages, and waits for responses and diagnostics.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use serde_json::{json, Value};

/// A running server and the messages it sent that nobody consumed yet.
pub struct Client {
    child: Child,
    stdin: ChildStdin,
    incoming: Receiver<Value>,
    /// Notifications received while waiting for something else.
    pub notifications: VecDeque<Value>,
    next_id: i64,
}

impl Client {
    /// Starts `program args...` in `root` (with `XDG_CACHE_HOME=cache`) and
    /// initializes it with `root` as the workspace.
    pub fn start(
        program: &Path,
        args: &[&str],
        root: &Path,
        cache: &Path,
    ) -> Result<Client, String> {
        let mut child = Command::new(program)
            .args(args)
            .current_dir(root)
            .env("XDG_CACHE_HOME", cache)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, rx) = crossbeam_channel::unbounded();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            while let Some(msg) = read_message(&mut reader) {
                if tx.send(msg).is_err() {
                    break;
                }
            }
        });
        let mut client = Client {
            child,
            stdin,
            incoming: rx,
            notifications: VecDeque::new(),
            next_id: 1,
        };
        let uri = crate::convert::path_uri(root).ok_or("root is not a path")?;
        client.request(
            "initialize",
            json!({
                "processId": null,
                "rootUri": uri.as_str(),
                "workspaceFolders": [{ "uri": uri.as_str(), "name": "repo" }],
                // As VS Code: edits by document, offered ones confirmed.
                "capabilities": {
                    "workspace": {
                        "workspaceEdit": {
                            "documentChanges": true,
                            "changeAnnotationSupport": { "groupsOnLabel": true }
                        }
                    }
                }
            }),
        )?;
        client.notify("initialized", json!({}))?;
        Ok(client)
    }

    /// Sends a notification.
    pub fn notify(&mut self, method: &str, params: Value) -> Result<(), String> {
        self.send(json!({ "jsonrpc": "2.0", "method": method, "params": params }))
    }

    /// Sends a request and waits for its response: `Ok(result)` or
    /// `Err(message)` for an error response.
    pub fn request(&mut self, method: &str, params: Value) -> Result<Value, String> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }))?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let msg = self.next(deadline)?;
            if msg.get("id") == Some(&json!(id)) && msg.get("method").is_none() {
                if let Some(error) = msg.get("error") {
                    return Err(error
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("error")
                        .to_string());
                }
                return Ok(msg.get("result").cloned().unwrap_or(Value::Null));
            }
            self.notifications.push_back(msg);
        }
    }

    /// Waits for a `textDocument/publishDiagnostics` matching `accept`
    /// (queued ones first) and returns its params.
    pub fn wait_diagnostics(
        &mut self,
        timeout: Duration,
        accept: &dyn Fn(&Value) -> bool,
    ) -> Result<Value, String> {
        let is_diag =
            |m: &Value| m.get("method") == Some(&json!("textDocument/publishDiagnostics"));
        if let Some(i) = self
            .notifications
            .iter()
            .position(|m| is_diag(m) && m.get("params").is_some_and(accept))
        {
            let msg = self.notifications.remove(i).unwrap_or(Value::Null);
            return Ok(msg.get("params").cloned().unwrap_or(Value::Null));
        }
        let deadline = Instant::now() + timeout;
        loop {
            let msg = self.next(deadline)?;
            if is_diag(&msg) && msg.get("params").is_some_and(accept) {
                return Ok(msg.get("params").cloned().unwrap_or(Value::Null));
            }
            self.notifications.push_back(msg);
        }
    }

    /// Collects notifications until none arrives for `quiet`.
    pub fn drain(&mut self, quiet: Duration) {
        while let Ok(msg) = self.incoming.recv_timeout(quiet) {
            self.notifications.push_back(msg);
        }
    }

    /// Writes `bytes` to the server as they are (hostile-client tests).
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.stdin
            .write_all(bytes)
            .and_then(|_| self.stdin.flush())
            .map_err(|e| format!("cannot write to the server: {e}"))
    }

    /// Waits for the next message that answers no request of ours, such as
    /// the error response to a malformed frame (`"id": null`).
    pub fn next_unsolicited(&mut self, timeout: Duration) -> Result<Value, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let msg = self.next(deadline)?;
            if msg.get("method").is_none() {
                return Ok(msg);
            }
            self.notifications.push_back(msg);
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn next(&mut self, deadline: Instant) -> Result<Value, String> {
        let wait = deadline.saturating_duration_since(Instant::now());
        match self.incoming.recv_timeout(wait) {
            Ok(msg) => Ok(msg),
            Err(RecvTimeoutError::Timeout) => Err("timed out waiting for the server".into()),
            Err(RecvTimeoutError::Disconnected) => Err("the server exited".into()),
        }
    }

    fn send(&mut self, msg: Value) -> Result<(), String> {
        let body = msg.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len())
            .and_then(|_| self.stdin.flush())
            .map_err(|e| format!("cannot write to the server: {e}"))
    }

    /// Shuts the server down and waits for it; its exit status.
    pub fn shutdown(mut self) -> Result<std::process::ExitStatus, String> {
        self.request("shutdown", Value::Null)?;
        self.notify("exit", Value::Null)?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().map_err(|e| e.to_string())? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                return Err("the server did not exit".into());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn read_message(reader: &mut impl BufRead) -> Option<Value> {
    let mut length = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(v) = line.strip_prefix("Content-Length:") {
            length = v.trim().parse::<usize>().ok();
        }
    }
    let mut body = vec![0u8; length?];
    reader.read_exact(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}
