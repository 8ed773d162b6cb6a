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
    /// Whether a readable file is there: `Ok(false)` when nothing is, an
    /// error when something is but may not be read ([`Refusal`]).
    fn probe(&self, path: &str) -> io::Result<bool> {
        match self.read_bytes(path) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }
    /// Whether a readable file exists (a refused one does not).
    fn exists(&self, path: &str) -> bool {
        self.probe(path).unwrap_or(false)
    }
}

/// Why a path that names something was not read: the file system confines
/// every read to regular files inside the repository.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The path is absolute or leaves the root with `..`.
    Lexical,
    /// A symbolic link on the way resolves outside the repository.
    OutsideRoot {
        /// Where the path really leads.
        target: PathBuf,
    },
    /// Not a regular file: reading a FIFO blocks forever, a device or
    /// `/proc` file is not data of the repository.
    NotRegular {
        /// What it is (`a directory`, `a FIFO`, ...).
        what: &'static str,
    },
    /// Larger than [`MAX_FILE_BYTES`].
    TooLarge {
        /// Its size.
        bytes: u64,
    },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Lexical => f.write_str("the path leaves the repository"),
            Refusal::OutsideRoot { target } => write!(
                f,
                "a symbolic link leads outside the repository (to {})",
                target.display()
            ),
            Refusal::NotRegular { what } => write!(f, "it is {what}, not a regular file"),
            Refusal::TooLarge { bytes } => write!(
                f,
                "it has {bytes} bytes, more than the limit of {MAX_FILE_BYTES} bytes a file ev reads may have"
            ),
        }
    }
}

impl std::error::Error for Refusal {}

impl Refusal {
    /// As an I/O error (what [`FileSystem`] methods return).
    pub fn into_io(self) -> io::Error {
        let kind = match self {
            Refusal::NotRegular { .. } | Refusal::TooLarge { .. } => io::ErrorKind::InvalidInput,
            _ => io::ErrorKind::PermissionDenied,
        };
        io::Error::new(kind, self)
    }

    /// The refusal an I/O error carries, if it is one.
    pub fn of(error: &io::Error) -> Option<&Refusal> {
        error.get_ref().and_then(|e| e.downcast_ref::<Refusal>())
    }

    /// Whether it is about leaving the repository (E0208) rather than the
    /// kind or size of the file (E0411).
    pub fn escapes(&self) -> bool {
        matches!(self, Refusal::Lexical | Refusal::OutsideRoot { .. })
    }
}

/// What a failed read means to the program that asked for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadFailure {
    /// Nothing is there.
    NotFound,
    /// The path leads outside the repository (E0208); through a symbolic
    /// link to `link_target`, or lexically when `None`.
    Escapes {
        /// Where the link leads.
        link_target: Option<String>,
    },
    /// Something is there but cannot be read as data, and why.
    Unreadable(String),
}

impl ReadFailure {
    /// Classifies an error returned by a [`FileSystem`].
    pub fn of(error: &io::Error) -> ReadFailure {
        match Refusal::of(error) {
            Some(Refusal::Lexical) => ReadFailure::Escapes { link_target: None },
            Some(Refusal::OutsideRoot { target }) => ReadFailure::Escapes {
                link_target: Some(target.display().to_string()),
            },
            Some(other) => ReadFailure::Unreadable(other.to_string()),
            None if error.kind() == io::ErrorKind::NotFound => ReadFailure::NotFound,
            None => ReadFailure::Unreadable(error.to_string()),
        }
    }
}

/// The largest file ev reads (source, data, secrets, image files): 256 MiB.
/// Beyond it a read is refused rather than exhausting memory.
pub const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// The real file system below a repository root. Every read is confined:
/// the path is resolved through symbolic links and refused unless it stays
/// inside the (resolved) root and names a regular file.
#[derive(Clone, Debug)]
pub struct OsFs {
    root: PathBuf,
    /// `root` with every symbolic link resolved.
    real_root: PathBuf,
}

impl OsFs {
    /// Files below `root`.
    pub fn new(root: impl Into<PathBuf>) -> OsFs {
        let root = root.into();
        let real_root = std::fs::canonicalize(&root).unwrap_or_else(|_| root.clone());
        OsFs { root, real_root }
    }

    /// The repository root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where `path` (relative to the root) really is, once every symbolic
    /// link is resolved; refused unless inside the root. `NotFound` when
    /// nothing is there (a dangling link included).
    pub fn resolve(&self, path: &str) -> io::Result<PathBuf> {
        let relative = match normalize(path) {
            Ok(relative) => relative,
            // `.`: the root itself.
            Err(PathError::Empty) => String::new(),
            Err(PathError::EscapesRoot) => return Err(Refusal::Lexical.into_io()),
        };
        let real = std::fs::canonicalize(self.root.join(relative))?;
        if !real.starts_with(&self.real_root) {
            return Err(Refusal::OutsideRoot { target: real }.into_io());
        }
        Ok(real)
    }

    /// Opens a regular file of the repository for reading, checked as
    /// [`OsFs::resolve`] says; never blocks on a FIFO.
    fn open(&self, path: &str) -> io::Result<(std::fs::File, u64)> {
        let real = self.resolve(path)?;
        regular(&std::fs::metadata(&real)?)?;
        let mut options = std::fs::OpenOptions::new();
        options.read(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            // The resolved path has no links left; one appearing now (a
            // race) is refused, and a FIFO swapped in does not block.
            options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
        }
        let file = options.open(&real)?;
        let meta = file.metadata()?;
        regular(&meta)?;
        if meta.len() > MAX_FILE_BYTES {
            return Err(Refusal::TooLarge { bytes: meta.len() }.into_io());
        }
        Ok((file, meta.len()))
    }
}

/// Refuses anything but a regular file.
/// Which directories [`files_below`] leaves out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Walk {
    /// None.
    Everything,
    /// Hidden directories (`.git`, `.ev`), `target` and `node_modules`:
    /// where no source of the repository is.
    Sources,
}

/// Every entry below `dir` that is not a directory, as a path relative to
/// `dir` (with `/`), sorted: the one directory walk of ev (editor file
/// lists, `ev fmt DIR`, the inputs of images and machines). Linked
/// directories are not followed, so a link to `..` cannot loop; what an
/// entry holds is for the caller to read, through a [`FileSystem`].
pub fn files_below(dir: &Path, walk: Walk) -> Vec<String> {
    let mut out = Vec::new();
    let mut pending = vec![String::new()];
    while let Some(rel) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(dir.join(&rel)) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            match entry.file_type() {
                Ok(t) if t.is_dir() => {
                    let skipped = walk == Walk::Sources
                        && (name.starts_with('.') || name == "target" || name == "node_modules");
                    if !skipped {
                        pending.push(path);
                    }
                }
                Ok(_) => out.push(path),
                Err(_) => {}
            }
        }
    }
    out.sort();
    out
}

fn regular(meta: &std::fs::Metadata) -> io::Result<()> {
    let kind = meta.file_type();
    if kind.is_file() {
        return Ok(());
    }
    let what = if kind.is_dir() {
        "a directory"
    } else {
        file_kind_name(&kind)
    };
    Err(Refusal::NotRegular { what }.into_io())
}

#[cfg(unix)]
fn file_kind_name(kind: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_block_device() || kind.is_char_device() {
        "a device"
    } else {
        "not a file"
    }
}

#[cfg(not(unix))]
fn file_kind_name(_: &std::fs::FileType) -> &'static str {
    "not a file"
}

impl FileSystem for OsFs {
    fn read(&self, path: &str) -> io::Result<String> {
        String::from_utf8(self.read_bytes(path)?)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "the file is not valid UTF-8"))
    }

    fn read_bytes(&self, path: &str) -> io::Result<Vec<u8>> {
        use std::io::Read;
        let (file, len) = self.open(path)?;
        let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
        // A file growing while read stays bounded too.
        file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(Refusal::TooLarge {
                bytes: bytes.len() as u64,
            }
            .into_io());
        }
        Ok(bytes)
    }

    fn probe(&self, path: &str) -> io::Result<bool> {
        let real = match self.resolve(path) {
            Ok(real) => real,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        regular(&std::fs::metadata(real)?)?;
        Ok(true)
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

    fn probe(&self, path: &str) -> io::Result<bool> {
        Ok(self.files.contains_key(path))
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

    fn probe(&self, path: &str) -> io::Result<bool> {
        if self.overlay.probe(path)? {
            return Ok(true);
        }
        self.base.probe(path)
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

    fn probe(&self, path: &str) -> io::Result<bool> {
        if self.hidden.contains(path) {
            return Ok(false);
        }
        self.base.probe(path)
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
