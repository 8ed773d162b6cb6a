//! File access for the core. The core never touches the disk directly: it
//! reads through [`FileSystem`], so tests run in memory and the language
//! server can serve unsaved buffers.

use std::collections::HashMap;
use std::io;
use std::path::{Component, Path, PathBuf};

/// Read-only access to the repository's files, addressed by normalized
/// `/`-separated paths relative to the repository root.
pub trait FileSystem {
    /// The text of a file.
    fn read(&self, path: &str) -> io::Result<String>;
    /// The bytes of a file (images ship binary files).
    fn read_bytes(&self, path: &str) -> io::Result<Vec<u8>> {
        self.read(path).map(String::into_bytes)
    }
    /// Whether a file exists.
    fn exists(&self, path: &str) -> bool {
        self.read(path).is_ok()
    }
}

/// The real file system below a repository root.
#[derive(Clone, Debug)]
pub struct OsFs {
    root: PathBuf,
}

impl OsFs {
    /// Files below `root`.
    pub fn new(root: impl Into<PathBuf>) -> OsFs {
        OsFs { root: root.into() }
    }

    /// The repository root.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl FileSystem for OsFs {
    fn read(&self, path: &str) -> io::Result<String> {
        std::fs::read_to_string(self.root.join(path))
    }

    fn read_bytes(&self, path: &str) -> io::Result<Vec<u8>> {
        std::fs::read(self.root.join(path))
    }

    fn exists(&self, path: &str) -> bool {
        self.root.join(path).is_file()
    }
}

/// An in-memory file system (tests, the REPL's scratch input, unsaved buffers).
#[derive(Clone, Debug, Default)]
pub struct MemFs {
    files: HashMap<String, String>,
}

impl MemFs {
    /// An empty file system.
    pub fn new() -> MemFs {
        MemFs::default()
    }

    /// Adds or replaces a file.
    pub fn insert(&mut self, path: impl Into<String>, text: impl Into<String>) {
        self.files.insert(path.into(), text.into());
    }

    /// Removes a file; true when it was there.
    pub fn remove(&mut self, path: &str) -> bool {
        self.files.remove(path).is_some()
    }

    /// Every file's path, in no particular order.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.files.keys().map(|p| p.as_str())
    }
}

impl FileSystem for MemFs {
    fn read(&self, path: &str) -> io::Result<String> {
        self.files
            .get(path)
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such file"))
    }
}

/// A file system that serves some paths from memory and the rest from another
/// file system (the language server's open buffers over the disk).
pub struct OverlayFs<'a> {
    /// Files that shadow the base.
    pub overlay: &'a MemFs,
    /// Everything else.
    pub base: &'a dyn FileSystem,
}

impl FileSystem for OverlayFs<'_> {
    fn read(&self, path: &str) -> io::Result<String> {
        match self.overlay.read(path) {
            Ok(text) => Ok(text),
            Err(_) => self.base.read(path),
        }
    }

    fn read_bytes(&self, path: &str) -> io::Result<Vec<u8>> {
        match self.overlay.read(path) {
            Ok(text) => Ok(text.into_bytes()),
            Err(_) => self.base.read_bytes(path),
        }
    }
}

/// A file system where some files look missing: `ev plan` re-evaluates
/// with the exports that actions in the plan will rewrite hidden, so the
/// values read from them become unknown (`(known after apply)`).
pub struct HidingFs<'a> {
    /// Paths that read as missing.
    pub hidden: &'a std::collections::BTreeSet<String>,
    /// Everything else.
    pub base: &'a dyn FileSystem,
}

impl HidingFs<'_> {
    fn check(&self, path: &str) -> io::Result<()> {
        if self.hidden.contains(path) {
            Err(io::Error::new(
                io::ErrorKind::NotFound,
                "rewritten by this plan",
            ))
        } else {
            Ok(())
        }
    }
}

impl FileSystem for HidingFs<'_> {
    fn read(&self, path: &str) -> io::Result<String> {
        self.check(path)?;
        self.base.read(path)
    }

    fn read_bytes(&self, path: &str) -> io::Result<Vec<u8>> {
        self.check(path)?;
        self.base.read_bytes(path)
    }

    fn exists(&self, path: &str) -> bool {
        !self.hidden.contains(path) && self.base.exists(path)
    }
}

/// Why a path written in a program was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathError {
    /// An absolute path, or one whose `..` leaves the repository.
    EscapesRoot,
    /// An empty path.
    Empty,
}

/// Normalizes a repository-relative path: resolves `.` and `..`, rejects
/// absolute paths and paths leaving the root. Returns a `/`-separated path.
pub fn normalize(path: &str) -> Result<String, PathError> {
    if path.is_empty() {
        return Err(PathError::Empty);
    }
    let mut parts: Vec<String> = Vec::new();
    for component in Path::new(path).components() {
        match component {
            Component::Normal(part) => parts.push(part.to_string_lossy().into_owned()),
            Component::CurDir => {}
            Component::ParentDir => {
                if parts.pop().is_none() {
                    return Err(PathError::EscapesRoot);
                }
            }
            Component::RootDir | Component::Prefix(_) => return Err(PathError::EscapesRoot),
        }
    }
    if parts.is_empty() {
        return Err(PathError::Empty);
    }
    Ok(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_and_confines_paths() {
        assert_eq!(normalize("a/./b/../c.ev").as_deref(), Ok("a/c.ev"));
        assert_eq!(normalize("../x"), Err(PathError::EscapesRoot));
        assert_eq!(normalize("/etc/passwd"), Err(PathError::EscapesRoot));
        assert_eq!(normalize("a/../../x"), Err(PathError::EscapesRoot));
        assert_eq!(normalize(""), Err(PathError::Empty));
    }
}
