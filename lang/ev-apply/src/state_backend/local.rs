//! The default backend: the environment's files in `.ev/` (or
//! `.ev/env/<name>/`): `state.json` written atomically (temp file, fsync,
//! rename), `state.journal` appended to (flushed to the OS on every line,
//! synced to disk at most every 100 ms) and `apply.lock`, an `flock` the
//! kernel releases when its holder exits, so a killed apply never leaves a
//! lock behind. The lock file records the holder for the message a second
//! apply gets; it is removed on release while still locked, and a lock is
//! only taken on the file the path names at that moment (the inode is
//! checked), so an unlinked file's lock never counts.
//!
//! One process writes at a time (the `flock`), so versions are not
//! compared: the lock alone fences writes.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ev_deploy::plan::state::EvDir;

use super::{Acquired, BackendError, Holder, StateBackend, Stored, Version};
use crate::confined::{Area, Mode, Writer};

/// The environment's files under the repository at `root`.
pub struct Local {
    root: PathBuf,
    ev: EvDir,
    open: Mutex<Open>,
}

/// What a holder keeps open.
#[derive(Default)]
struct Open {
    /// The locked file, while held.
    lock: Option<File>,
    /// The journal, once appended to.
    journal: Option<File>,
    last_sync: Option<Instant>,
}

impl Local {
    /// The backend of the environment whose files are in `ev`.
    pub fn new(root: &Path, ev: &EvDir) -> Local {
        Local {
            root: root.to_path_buf(),
            ev: ev.clone(),
            open: Mutex::new(Open::default()),
        }
    }

    /// The lock file, relative to the root.
    pub fn lock_path(&self) -> String {
        self.ev.join("apply.lock")
    }

    fn open(&self) -> std::sync::MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_file_path(&self) -> Result<PathBuf, BackendError> {
        Writer::new(&self.root)
            .file_path(Area::Ev, &self.lock_path())
            .map_err(|e| self.unusable_lock(e))
    }

    fn unusable_lock(&self, why: impl std::fmt::Display) -> BackendError {
        BackendError::LockUnusable(format!(
            "cannot take the apply lock {}: {why}",
            self.lock_path()
        ))
    }

    fn read_file(&self, rel: &str) -> Result<Option<Vec<u8>>, BackendError> {
        match ev_core::fs::OsFs::new(&self.root).resolve(rel) {
            Ok(path) => match std::fs::read(path) {
                Ok(bytes) => Ok(Some(bytes)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(BackendError::Unavailable(format!("cannot read {rel}: {e}"))),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(BackendError::Unavailable(format!("cannot read {rel}: {e}"))),
        }
    }

    /// The holder record in the lock file.
    fn record(&self) -> Option<Holder> {
        let text = self.read_file(&self.lock_path()).ok()??;
        serde_json::from_slice(&text).ok()
    }
}

/// Opens the lock file for reading and writing, creating it, never
/// through a symbolic link.
fn open_lock(path: &Path) -> std::io::Result<File> {
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

impl StateBackend for Local {
    fn location(&self) -> String {
        self.ev.state()
    }

    fn lease(&self) -> Option<Duration> {
        None
    }

    fn read(&self) -> Result<Stored, BackendError> {
        Ok(Stored {
            state: self.read_file(&self.ev.state())?,
            journal: self.read_file(&self.ev.journal())?.unwrap_or_default(),
            version: Version::default(),
        })
    }

    fn write(&self, state: &[u8], _: &Version, _: &Holder) -> Result<Version, BackendError> {
        let mut open = self.open();
        if let Some(journal) = open.journal.take() {
            let _ = journal.sync_data();
        }
        let writer = Writer::new(&self.root);
        let failed = |action: &str, path: &str, e: std::io::Error| {
            BackendError::Unavailable(format!("cannot {action} {path}: {e}"))
        };
        writer
            .write(Area::Ev, &self.ev.state(), state, Mode::Durable)
            .map_err(|e| failed("write", &self.ev.state(), e))?;
        writer
            .remove(Area::Ev, &self.ev.journal())
            .map_err(|e| failed("remove", &self.ev.journal(), e))?;
        Ok(Version::default())
    }

    fn append(&self, line: &[u8], _: &Version, _: &Holder) -> Result<Version, BackendError> {
        let journal_path = self.ev.journal();
        let failed = |action: &str, e: std::io::Error| {
            BackendError::Unavailable(format!("cannot {action} {journal_path}: {e}"))
        };
        let mut open = self.open();
        if open.journal.is_none() {
            let path = Writer::new(&self.root)
                .file_path(Area::Ev, &journal_path)
                .map_err(|e| failed("open", e))?;
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| failed("open", e))?;
            open.journal = Some(file);
        }
        let due = open
            .last_sync
            .is_none_or(|t| t.elapsed() > Duration::from_millis(100));
        if let Some(journal) = open.journal.as_mut() {
            journal
                .write_all(line)
                .map_err(|e| failed("append to", e))?;
            if due {
                let _ = journal.sync_data();
            }
        }
        if due {
            open.last_sync = Some(Instant::now());
        }
        Ok(Version::default())
    }

    fn remove(&self, _: &Version, _: &Holder) -> Result<(), BackendError> {
        let writer = Writer::new(&self.root);
        for path in [self.ev.journal(), self.ev.state()] {
            writer
                .remove(Area::Ev, &path)
                .map_err(|e| BackendError::Unavailable(format!("cannot remove {path}: {e}")))?;
        }
        Ok(())
    }

    fn acquire(&self, holder: &Holder) -> Result<Acquired, BackendError> {
        let path = self.lock_file_path()?;
        // A holder releasing unlinks the file it locked: a lock taken on
        // that file is worth nothing, so take it again on the new one.
        for _ in 0..8 {
            let file = open_lock(&path).map_err(|e| self.unusable_lock(e))?;
            match file.try_lock() {
                Ok(()) if is_current(&file, &path) => {
                    // A record left in an unlocked file is a dead holder's.
                    let dead = self.record().filter(|h| h.id != holder.id);
                    let text = serde_json::to_string_pretty(holder).unwrap_or_default();
                    file.set_len(0)
                        .and_then(|_| (&file).write_all(text.as_bytes()))
                        .and_then(|_| file.sync_all())
                        .map_err(|e| self.unusable_lock(e))?;
                    self.open().lock = Some(file);
                    return Ok(match dead {
                        Some(dead) => Acquired::TakenOver(dead),
                        None => Acquired::Free,
                    });
                }
                Ok(()) => continue,
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(BackendError::Held(self.record()))
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(self.unusable_lock(e)),
            }
        }
        Err(self.unusable_lock(
            "the lock file keeps being replaced; is another apply starting and stopping?",
        ))
    }

    fn renew(&self, _: &Holder) -> Result<(), BackendError> {
        Ok(())
    }

    fn release(&self, _: &Holder) -> Result<(), BackendError> {
        let mut open = self.open();
        if let Some(journal) = open.journal.take() {
            let _ = journal.sync_data();
        }
        if let Some(file) = open.lock.take() {
            // Unlinked while still locked; the lock goes with the handle.
            if let Ok(path) = self.lock_file_path() {
                let _ = std::fs::remove_file(path);
            }
            let _ = file.unlock();
        }
        Ok(())
    }

    fn holder(&self) -> Result<Option<Holder>, BackendError> {
        Ok(self.record())
    }

    fn force_unlock(&self, id: &str) -> Result<Holder, BackendError> {
        let path = self.lock_file_path()?;
        if !path.exists() {
            return Err(BackendError::NotTheLock("no apply lock is held".into()));
        }
        let holder = self
            .record()
            .ok_or_else(|| self.unusable_lock("its record is unreadable"))?;
        if holder.id != id {
            return Err(BackendError::NotTheLock(format!(
                "the lock's id is {}, not {id}; nothing was removed",
                holder.id
            )));
        }
        let file = open_lock(&path).map_err(|e| self.unusable_lock(e))?;
        match file.try_lock() {
            Ok(()) => {
                std::fs::remove_file(&path).map_err(|e| self.unusable_lock(e))?;
                Ok(holder)
            }
            Err(std::fs::TryLockError::WouldBlock) => Err(BackendError::NotTheLock(format!(
                "lock {id} is held by a running process (pid {} on {}): stop it instead; nothing was removed",
                holder.pid, holder.host
            ))),
            Err(std::fs::TryLockError::Error(e)) => Err(self.unusable_lock(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state_backend::Lease;
    use std::sync::Arc;

    fn backend(dir: &Path) -> Arc<dyn StateBackend> {
        Arc::new(Local::new(dir, &EvDir::default()))
    }

    #[test]
    fn a_second_apply_is_refused_until_the_first_releases() {
        let dir = tempfile::tempdir().expect("temp dir");
        let lease = Lease::acquire(backend(dir.path()), Duration::ZERO).expect("first lock");
        let other = backend(dir.path());
        match Lease::acquire(other.clone(), Duration::ZERO) {
            Err(BackendError::Held(Some(h))) => assert_eq!(h, lease.holder),
            other => panic!("expected Held, got {other:?}"),
        }
        // A live lock is never broken by force-unlock.
        assert!(other.force_unlock(&lease.holder.id).is_err());
        drop(lease);
        assert!(!dir.path().join(".ev/apply.lock").exists(), "released");
        Lease::acquire(other, Duration::ZERO).expect("free again");
    }

    /// A holder that died leaves its record but not its lock: the next
    /// apply takes it over and names it; force-unlock clears such a record.
    #[test]
    fn a_dead_holders_record_does_not_block() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join(".ev")).expect("mkdir");
        let dead = Holder {
            id: "dead42".into(),
            pid: u32::MAX - 1,
            host: "elsewhere".into(),
            started: 0,
        };
        let record = serde_json::to_string(&dead).expect("json");
        std::fs::write(dir.path().join(".ev/apply.lock"), &record).expect("write");
        let b = backend(dir.path());
        assert!(b.force_unlock("wrong").is_err());
        assert_eq!(b.force_unlock("dead42").expect("cleared"), dead);
        std::fs::write(dir.path().join(".ev/apply.lock"), &record).expect("write");
        let lease = Lease::acquire(b, Duration::ZERO).expect("taken over");
        assert_eq!(lease.taken_over, Some(dead));
        assert_ne!(lease.holder.id, "dead42");
    }

    /// Each environment has its own lock.
    #[test]
    fn environments_lock_apart() {
        let dir = tempfile::tempdir().expect("temp dir");
        let _prod = Lease::acquire(backend(dir.path()), Duration::ZERO).expect("prod");
        let local: Arc<dyn StateBackend> =
            Arc::new(Local::new(dir.path(), &EvDir::of_environment("local")));
        Lease::acquire(local, Duration::ZERO).expect("local is another lock");
    }
}
