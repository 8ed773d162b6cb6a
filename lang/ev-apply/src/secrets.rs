//! Secrets at apply time: `sops --decrypt --extract` into memory, handed to
//! tools through the environment or 0600 files, and registered with the
//! action's log so they are redacted from everything it writes.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use tokio::sync::watch;

use crate::process::{run, Cmd, Log, RunError};

/// sops' `--extract` path for a dotted key: `cloudflare.token` →
/// `["cloudflare"]["token"]`.
pub fn extract_path(key: &str) -> String {
    key.split('.')
        .map(|part| format!("[{}]", serde_json::Value::String(part.to_string())))
        .collect()
}

/// Decrypts one value of a sops file.
pub async fn decrypt(
    root: &Path,
    env: &BTreeMap<String, String>,
    file: &str,
    key: &str,
    log: &Log,
    kill: &mut watch::Receiver<bool>,
) -> Result<String, RunError> {
    let extract = extract_path(key);
    // The file is confined like every read (its real path inside the
    // repository) and handed to sops as that absolute path, so a name
    // starting with `-` is never read as an option.
    let real = ev_core::fs::OsFs::new(root)
        .resolve(file)
        .map_err(|e| RunError::Io(format!("refusing to decrypt {file}: {e}")))?;
    let real = real.to_string_lossy();
    let cmd = Cmd::new(
        "sops",
        &[
            "--disable-version-check",
            "--decrypt",
            "--extract",
            &extract,
            &real,
        ],
        root,
        env,
    );
    let quiet = Log::create(Path::new("/dev/null")).unwrap_or_else(|_| log.clone());
    // The decrypted value must not reach the log: only the command and
    // whether it worked are recorded.
    log.line(&format!("$ {} (output not logged)", cmd.display()));
    let out = run(&cmd, &quiet, Duration::from_secs(60), kill, &[]).await?;
    let value = out
        .stdout
        .strip_suffix('\n')
        .unwrap_or(&out.stdout)
        .to_string();
    log.redact(&value);
    Ok(value)
}

#[cfg(test)]
mod tests {
    #[test]
    fn extract_paths() {
        assert_eq!(
            super::extract_path("cloudflare.token"),
            r#"["cloudflare"]["token"]"#
        );
    }
}
