//! State encrypted at rest with age, over any backend: the state and each
//! journal line are stored as ASCII-armored age files encrypted to the
//! recipients the program names (`encrypt_to`), so whoever reads the
//! backend's bytes (a database administrator, a cluster's Secret reader, a
//! backup) learns nothing. Reading decrypts with an identity file
//! (`EV_STATE_AGE_KEY_FILE`, else `SOPS_AGE_KEY_FILE`: the key a team
//! already has for sops). Stored plaintext is still read (the state before
//! `encrypt_to` was set, or after it was removed) and the next write
//! stores it the way the program says. The `age` tool does the
//! cryptography, with explicit arguments, through the one process runner.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::{Acquired, BackendError, Holder, StateBackend, Stored, Version};

const BEGIN: &str = "-----BEGIN AGE ENCRYPTED FILE-----";
const END: &str = "-----END AGE ENCRYPTED FILE-----";

/// `inner`, its bytes encrypted to `recipients` (none: stored as they are,
/// encrypted ones still read).
pub struct Encrypted {
    inner: Arc<dyn StateBackend>,
    root: PathBuf,
    recipients: Vec<String>,
}

impl Encrypted {
    /// The decorator.
    pub fn new(inner: Arc<dyn StateBackend>, root: &Path, recipients: Vec<String>) -> Encrypted {
        Encrypted {
            inner,
            root: root.to_path_buf(),
            recipients,
        }
    }

    /// Runs `age` with `args` on `input`.
    fn age(&self, args: &[&str], input: &[u8]) -> Result<Vec<u8>, BackendError> {
        let out = super::run_tool(&self.root, "age", args, Some(input.to_vec()))?;
        if out.code == 0 {
            Ok(out.stdout_bytes)
        } else {
            Err(BackendError::Unavailable(format!(
                "age: {}",
                out.stderr
                    .lines()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("failed")
            )))
        }
    }

    /// The bytes as stored: armored age to the recipients, or as they are.
    fn seal(&self, bytes: &[u8]) -> Result<Vec<u8>, BackendError> {
        if self.recipients.is_empty() {
            return Ok(bytes.to_vec());
        }
        let mut args = vec!["--encrypt", "--armor"];
        for r in &self.recipients {
            args.extend(["--recipient", r.as_str()]);
        }
        self.age(&args, bytes)
    }

    /// Stored bytes, decrypted when they are age-armored.
    fn open(&self, bytes: &[u8]) -> Result<Vec<u8>, BackendError> {
        if !bytes.starts_with(BEGIN.as_bytes()) {
            return Ok(bytes.to_vec());
        }
        let identity = identity_file()?;
        let identity = identity.to_string_lossy();
        self.age(&["--decrypt", "--identity", &identity], bytes)
    }

    /// A journal whose lines may each be an armored file: every complete
    /// one decrypted; a last one cut short (its writer died) is dropped,
    /// as a torn plaintext line is.
    fn open_journal(&self, journal: &[u8]) -> Result<Vec<u8>, BackendError> {
        let text = String::from_utf8_lossy(journal);
        if !text.contains(BEGIN) {
            return Ok(journal.to_vec());
        }
        let mut out = Vec::new();
        let mut rest = text.as_ref();
        while let Some(start) = rest.find(BEGIN) {
            // Plaintext lines before (written before encryption was on).
            out.extend_from_slice(&rest.as_bytes()[..start]);
            let Some(end) = rest[start..].find(END) else {
                return Ok(out);
            };
            let block_end = start + end + END.len();
            let block = format!("{}\n", &rest[start..block_end]);
            out.extend(self.open(block.as_bytes())?);
            rest = rest[block_end..].trim_start_matches('\n');
        }
        out.extend_from_slice(rest.as_bytes());
        Ok(out)
    }
}

/// The identity that decrypts the state.
fn identity_file() -> Result<PathBuf, BackendError> {
    ["EV_STATE_AGE_KEY_FILE", "SOPS_AGE_KEY_FILE"]
        .iter()
        .find_map(|var| std::env::var_os(var).filter(|v| !v.is_empty()))
        .map(PathBuf::from)
        .ok_or_else(|| {
            BackendError::Unavailable(
                "the state is encrypted with age: set EV_STATE_AGE_KEY_FILE (or SOPS_AGE_KEY_FILE) to an identity of one of its recipients".into(),
            )
        })
}

impl StateBackend for Encrypted {
    fn location(&self) -> String {
        self.inner.location()
    }

    fn lease(&self) -> Option<Duration> {
        self.inner.lease()
    }

    fn read(&self) -> Result<Stored, BackendError> {
        let stored = self.inner.read()?;
        Ok(Stored {
            state: stored.state.as_deref().map(|s| self.open(s)).transpose()?,
            journal: self.open_journal(&stored.journal)?,
            version: stored.version,
        })
    }

    fn write(
        &self,
        state: &[u8],
        expected: &Version,
        holder: &Holder,
    ) -> Result<Version, BackendError> {
        self.inner.write(&self.seal(state)?, expected, holder)
    }

    fn append(
        &self,
        line: &[u8],
        expected: &Version,
        holder: &Holder,
    ) -> Result<Version, BackendError> {
        self.inner.append(&self.seal(line)?, expected, holder)
    }

    fn remove(&self, expected: &Version, holder: &Holder) -> Result<(), BackendError> {
        self.inner.remove(expected, holder)
    }

    fn acquire(&self, holder: &Holder) -> Result<Acquired, BackendError> {
        self.inner.acquire(holder)
    }

    fn renew(&self, holder: &Holder) -> Result<(), BackendError> {
        self.inner.renew(holder)
    }

    fn release(&self, holder: &Holder) -> Result<(), BackendError> {
        self.inner.release(holder)
    }

    fn holder(&self) -> Result<Option<Holder>, BackendError> {
        self.inner.holder()
    }

    fn force_unlock(&self, id: &str) -> Result<Holder, BackendError> {
        self.inner.force_unlock(id)
    }
}
