//! Atomic file writes: a temporary file in the same directory, fsync, then
//! rename over the target and fsync the directory. A crash leaves either the
//! old file or the new one, never half of either. A symbolic link at the
//! target is replaced, never written through. Callers go through
//! [`crate::confined::Writer`], which decides where ev may write.

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` atomically, creating parent directories. With
/// `private`, the file is created readable by its owner only (0600): files
/// holding secrets in the target tool's format.
pub fn write(path: &Path, bytes: &[u8], private: bool) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(".ev-tmp-");
    #[cfg(unix)]
    builder.permissions(permissions(private));
    #[cfg(not(unix))]
    let _ = private; // only Unix modes exist to restrict
    let mut temp = builder.tempfile_in(dir)?;
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|e| e.error)?;
    // The rename itself is durable only once the directory is synced.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Like [`write`] but without syncing to disk: for files ev re-renders on
/// every run (under `.ev/build/`), where a torn file after a power loss is
/// impossible (the rename is atomic) and durability does not matter.
pub fn write_volatile(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    // A new file is written in place (one inode, not two: creating files
    // is what costs most in a large apply); a torn one is re-rendered by
    // the next run. An existing file is replaced atomically, as tools may
    // be reading it.
    // `create_new` (O_EXCL) also refuses a dangling symbolic link, which
    // a plain create would follow.
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(mut file) => return file.write_all(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let mut temp = tempfile::Builder::new()
        .prefix(".ev-tmp-")
        .tempfile_in(dir)?;
    temp.write_all(bytes)?;
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(unix)]
fn permissions(private: bool) -> std::fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    std::fs::Permissions::from_mode(if private { 0o600 } else { 0o644 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_files_and_keeps_private_ones_private() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("a/b/state.json");
        write(&path, b"one", false).expect("first write");
        write(&path, b"two", true).expect("second write");
        assert_eq!(std::fs::read(&path).expect("read"), b"two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let leftovers = std::fs::read_dir(path.parent().expect("dir"))
            .expect("list")
            .count();
        assert_eq!(leftovers, 1, "no temporary file is left behind");
    }
}
