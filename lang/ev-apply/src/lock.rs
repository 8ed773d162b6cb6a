//! One apply at a time: an `flock` on `.ev/apply.lock` (std's
//! `File::try_lock`), which the kernel releases when its holder exits, so
//! a killed apply never leaves a lock behind. The file records the
//! holder's id, pid, host and start time for the message a second apply
//! gets. The file is removed on release while still locked, and a lock is
//! only taken on the file the path names at that moment (the inode is
//! checked), so an unlinked file's lock never counts.

use std::fs::File;
use std::io::Write;
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
    /// A running process holds it (its record, when readable).
    Held(Option<Holder>),
    /// The lock file cannot be opened or locked.
    Io(String),
}

impl std::fmt::Display for LockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LockError::Held(Some(h)) => write!(
                f,
                "another `ev apply` is running (lock {}, pid {} on {}, started {}s ago)",
                h.id,
                h.pid,
                h.host,
                now().saturating_sub(h.started)
            ),
            LockError::Held(None) => write!(f, "another `ev apply` is running"),
            LockError::Io(why) => write!(f, "cannot take the apply lock {LOCK_PATH}: {why}"),
        }
    }
}

impl LockError {
    /// The diagnostic every face renders (E0602).
    pub fn diagnostic(&self) -> ev_core::Diagnostic {
        let d = ev_core::Diagnostic::general("E0602", self.to_string());
        match self {
            LockError::Held(_) => d.with_help(
                "wait for it to finish; the lock is released when its process ends, even if it is killed",
            ),
            LockError::Io(_) => d,
        }
    }
}

/// A held lock, released on drop (and by the kernel if the process dies).
#[derive(Debug)]
pub struct Lock {
    path: PathBuf,
    /// The locked file.
    file: File,
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

/// Opens the lock file for reading and writing, creating it, never
/// through a symbolic link.
fn open(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW);
    }
    options.open(path)
}

/// Whether `file` is the file `path` names now (not one unlinked by the
/// holder that released it).
fn is_current(file: &File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), std::fs::symlink_metadata(path)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (file, path);
        true
    }
}

/// The holder record in a lock file.
fn holder_in(path: &Path) -> Option<Holder> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
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
        // A holder releasing unlinks the file it locked: a lock taken on
        // that file is worth nothing, so take it again on the new one.
        for _ in 0..8 {
            let file = open(&path).map_err(|e| LockError::Io(e.to_string()))?;
            match file.try_lock() {
                Ok(()) if is_current(&file, &path) => {
                    let text = serde_json::to_string_pretty(&holder).unwrap_or_default();
                    file.set_len(0)
                        .and_then(|_| (&file).write_all(text.as_bytes()))
                        .and_then(|_| file.sync_all())
                        .map_err(|e| LockError::Io(e.to_string()))?;
                    return Ok(Lock { path, file, holder });
                }
                Ok(()) => continue,
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(LockError::Held(holder_in(&path)))
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(LockError::Io(e.to_string())),
            }
        }
        Err(LockError::Io(
            "the lock file keeps being replaced; is another apply starting and stopping?".into(),
        ))
    }

    /// Takes the lock, waiting up to `wait` for another holder to release
    /// it (polling: the holder may be on another process's schedule).
    pub fn acquire_waiting(root: &Path, wait: std::time::Duration) -> Result<Lock, LockError> {
        let start = std::time::Instant::now();
        loop {
            match Lock::acquire(root) {
                Err(LockError::Held(_)) if start.elapsed() < wait => {
                    std::thread::sleep(std::time::Duration::from_millis(200));
                }
                other => return other,
            }
        }
    }
}

/// The current holder of the repository's lock, as its file records it.
pub fn read(root: &Path) -> Result<Holder, LockError> {
    let text =
        std::fs::read_to_string(root.join(LOCK_PATH)).map_err(|e| LockError::Io(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| LockError::Io(format!("unreadable lock file: {e}")))
}

/// Removes the lock record with this id (`ev force-unlock ID`), when no
/// running process holds it (a live apply's lock is never broken: stop
/// it instead). Refuses another id, so a typo never clears someone else's
/// record.
pub fn force_unlock(root: &Path, id: &str) -> Result<Holder, LockError> {
    let path = root.join(LOCK_PATH);
    if !path.exists() {
        return Err(LockError::Io("no apply lock is held".into()));
    }
    let holder = read(root)?;
    if holder.id != id {
        return Err(LockError::Io(format!(
            "the lock's id is {}, not {id}; nothing was removed",
            holder.id
        )));
    }
    let file = open(&path).map_err(|e| LockError::Io(e.to_string()))?;
    match file.try_lock() {
        Ok(()) => {
            std::fs::remove_file(&path).map_err(|e| LockError::Io(e.to_string()))?;
            Ok(holder)
        }
        Err(std::fs::TryLockError::WouldBlock) => Err(LockError::Io(format!(
            "lock {id} is held by a running process (pid {} on {}): stop it instead; nothing was removed",
            holder.pid, holder.host
        ))),
        Err(std::fs::TryLockError::Error(e)) => Err(LockError::Io(e.to_string())),
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Unlinked while still locked; the lock goes with the file handle.
        let _ = std::fs::remove_file(&self.path);
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_apply_is_refused_until_the_first_releases() {
        let dir = tempfile::tempdir().expect("temp dir");
        let lock = Lock::acquire(dir.path()).expect("first lock");
        match Lock::acquire(dir.path()) {
            Err(LockError::Held(Some(h))) => assert_eq!(h, lock.holder),
            other => panic!("expected Held, got {other:?}"),
        }
        // A live lock is never broken by force-unlock.
        assert!(force_unlock(dir.path(), &lock.holder.id).is_err());
        drop(lock);
        assert!(!dir.path().join(LOCK_PATH).exists(), "released");
        Lock::acquire(dir.path()).expect("free again");
    }

    /// A holder that died leaves its record but not its lock: the next
    /// apply takes it; force-unlock clears such a record.
    #[test]
    fn a_dead_holders_record_does_not_block() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join(".ev")).expect("mkdir");
        let dead = Holder {
            id: "dead42".into(),
            pid: u32::MAX - 1,
            host: host(),
            started: 0,
        };
        let record = serde_json::to_string(&dead).expect("json");
        std::fs::write(dir.path().join(LOCK_PATH), &record).expect("write");
        assert!(force_unlock(dir.path(), "wrong").is_err());
        force_unlock(dir.path(), "dead42").expect("cleared");
        std::fs::write(dir.path().join(LOCK_PATH), &record).expect("write");
        let lock = Lock::acquire(dir.path()).expect("taken over");
        assert_ne!(lock.holder.id, "dead42");
    }
}
