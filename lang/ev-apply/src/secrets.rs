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

/// sops' arguments to decrypt `key` of `file` (the whole file when `key`
/// is empty). The file is confined like every read (its real path inside
/// the repository) and handed to sops as that absolute path, so a name
/// starting with `-` is never read as an option.
fn sops_args(root: &Path, file: &str, key: &str) -> Result<Vec<String>, String> {
    let real = ev_core::fs::OsFs::new(root)
        .resolve(file)
        .map_err(|e| format!("refusing to decrypt {file}: {e}"))?;
    let mut args = vec![
        "--disable-version-check".to_string(),
        "--decrypt".to_string(),
    ];
    if !key.is_empty() {
        args.extend(["--extract".to_string(), extract_path(key)]);
    }
    args.push(real.to_string_lossy().into_owned());
    Ok(args)
}

/// Decrypts one value of a sops file, or the whole file when `key` is
/// empty (a `secret_file`).
pub async fn decrypt(
    root: &Path,
    env: &BTreeMap<String, String>,
    file: &str,
    key: &str,
    log: &Log,
    kill: &mut watch::Receiver<bool>,
) -> Result<String, RunError> {
    let args = sops_args(root, file, key).map_err(RunError::Io)?;
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let whole_file = key.is_empty();
    let cmd = Cmd::new("sops", &args, root, env);
    let quiet = Log::create(Path::new("/dev/null")).unwrap_or_else(|_| log.clone());
    // The decrypted value must not reach the log: only the command and
    // whether it worked are recorded.
    log.line(&format!("$ {} (output not logged)", cmd.display()));
    let out = run(&cmd, &quiet, Duration::from_secs(60), kill, &[]).await?;
    // One key's value ends where sops adds a newline; a whole file is
    // every byte of it.
    let value = if whole_file {
        String::from_utf8(out.stdout_bytes).map_err(|_| {
            RunError::Io(format!(
                "{file} decrypts to bytes that are no text: ev hands secrets to tools as text"
            ))
        })?
    } else {
        out.stdout
            .strip_suffix('\n')
            .unwrap_or(&out.stdout)
            .to_string()
    };
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
