//! One apply at a time: `.ev/apply.lock` holds the holder's id, pid, host
//! and start time. A second apply refuses and names the holder; a lock whose
//! process is gone is reported as stale with the command that clears it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Where the lock lives, relative to the repository root.
pub const LOCK_PATH: &str = ".ev/apply.lock";

/// Who holds the lock.
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

/// Why the lock could not be taken.
#[derive(Debug)]
pub enum LockError {
    /// Another apply holds it.
    Held(Holder),
    /// Its holder is gone (crashed or killed) without releasing it.
    Stale(Holder),
    /// The lock file is unreadable or the directory unwritable.
    Io(String),
}

impl std::fmt::Display for LockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LockError::Held(h) => write!(
                f,
                "another `ev apply` is running (lock {}, pid {} on {}, started {}s ago)",
                h.id,
                h.pid,
                h.host,
                now().saturating_sub(h.started)
            ),
            LockError::Stale(h) => write!(
                f,
                "a previous `ev apply` (lock {}, pid {} on {}) stopped without releasing its lock",
                h.id, h.pid, h.host
            ),
            LockError::Io(why) => write!(f, "cannot take the apply lock {LOCK_PATH}: {why}"),
        }
    }
}

impl LockError {
    /// The diagnostic every face renders (E0602).
    pub fn diagnostic(&self) -> ev_core::Diagnostic {
        let d = ev_core::Diagnostic::general("E0602", self.to_string());
        match self {
            LockError::Held(_) => d.with_help("wait for it to finish"),
            LockError::Stale(h) => d.with_help(format!(
                "if no apply is running, clear it with `ev force-unlock {}`",
                h.id
            )),
            LockError::Io(_) => d,
        }
    }
}

/// A held lock, released on drop.
#[derive(Debug)]
pub struct Lock {
    path: PathBuf,
    /// The holder record written into it.
    pub holder: Holder,
}

fn now() -> u64 {
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

/// Whether a process with this pid runs on this host.
fn alive(pid: u32) -> bool {
    if Path::new("/proc/self").exists() {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true // cannot tell: never call a live lock stale
    }
}

impl Lock {
    /// Takes the lock of the repository at `root`.
    pub fn acquire(root: &Path) -> Result<Lock, LockError> {
        let path = crate::confined::Writer::new(root)
            .file_path(crate::confined::Area::Ev, LOCK_PATH)
            .map_err(|e| LockError::Io(e.to_string()))?;
        let holder = Holder {
            id: format!("{:x}{:x}", now(), std::process::id()),
            pid: std::process::id(),
            host: host(),
            started: now(),
        };
        let text = serde_json::to_string_pretty(&holder).unwrap_or_default();
        // create_new makes taking the lock atomic between two applies.
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut file) => {
                use std::io::Write;
                file.write_all(text.as_bytes())
                    .and_then(|_| file.sync_all())
                    .map_err(|e| LockError::Io(e.to_string()))?;
                Ok(Lock { path, holder })
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let existing = read(root)?;
                if existing.host == holder.host && !alive(existing.pid) {
                    Err(LockError::Stale(existing))
                } else {
                    Err(LockError::Held(existing))
                }
            }
            Err(e) => Err(LockError::Io(e.to_string())),
        }
    }
}

/// The current holder of the repository's lock.
pub fn read(root: &Path) -> Result<Holder, LockError> {
    let text =
        std::fs::read_to_string(root.join(LOCK_PATH)).map_err(|e| LockError::Io(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| LockError::Io(format!("unreadable lock file: {e}")))
}

/// Removes the lock with this id (`ev force-unlock ID`). Refuses another id,
/// so a typo never clears someone else's lock.
pub fn force_unlock(root: &Path, id: &str) -> Result<Holder, LockError> {
    let holder = match read(root) {
        Ok(h) => h,
        Err(LockError::Io(why)) if why.contains("No such file") => {
            return Err(LockError::Io("no apply lock is held".into()))
        }
        Err(e) => return Err(e),
    };
    if holder.id != id {
        return Err(LockError::Io(format!(
            "the lock's id is {}, not {id}; nothing was removed",
            holder.id
        )));
    }
    std::fs::remove_file(root.join(LOCK_PATH)).map_err(|e| LockError::Io(e.to_string()))?;
    Ok(holder)
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_apply_is_refused_and_a_dead_holder_is_stale() {
        let dir = tempfile::tempdir().expect("temp dir");
        let lock = Lock::acquire(dir.path()).expect("first lock");
        match Lock::acquire(dir.path()) {
            Err(LockError::Held(h)) => assert_eq!(h, lock.holder),
            other => panic!("expected Held, got {other:?}"),
        }
        drop(lock);
        let lock = Lock::acquire(dir.path()).expect("released on drop");
        // A holder whose process is gone.
        let mut dead = lock.holder.clone();
        dead.pid = u32::MAX - 1;
        std::mem::forget(lock);
        std::fs::write(
            dir.path().join(LOCK_PATH),
            serde_json::to_string(&dead).expect("json"),
        )
        .expect("write");
        let err = Lock::acquire(dir.path()).expect_err("stale");
        assert!(matches!(err, LockError::Stale(_)), "{err:?}");
        assert!(err
            .diagnostic()
            .help
            .is_some_and(|h| h.contains(&format!("ev force-unlock {}", dead.id))));
        assert!(force_unlock(dir.path(), "wrong").is_err());
        force_unlock(dir.path(), &dead.id).expect("cleared");
        Lock::acquire(dir.path()).expect("free again");
    }
}
