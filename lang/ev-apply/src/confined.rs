//! The one way ev writes into a repository. Every path is relative to the
//! root and must stay inside one of the areas ev owns: `.ev/` (rendered
//! files, state, logs, scratch directories), `flake-profiles/` (the
//! machines' flakes, tracked by git) and `exports/` (values for later
//! stages). A path that climbs out, or whose way passes a symbolic link, is
//! refused before anything is created: a resource named `../../x` or a
//! link `.ev -> /etc` cannot make ev write outside its areas.

use std::io;
use std::path::{Path, PathBuf};

/// An area of the repository ev writes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Area {
    /// `.ev/`: rendered files, state, journal, lock, logs, scratch.
    Ev,
    /// `flake-profiles/`: the per-machine flakes.
    Profiles,
    /// `exports/`: stack outputs, image digests.
    Exports,
}

impl Area {
    /// The area's folder, relative to the root.
    pub fn folder(self) -> &'static str {
        match self {
            Area::Ev => ".ev",
            Area::Profiles => "flake-profiles",
            Area::Exports => "exports",
        }
    }
}

/// How a file is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Atomically and synced to disk (state, exports).
    Durable,
    /// Atomically, without syncing (re-rendered on every run).
    Volatile,
    /// Atomically, synced, readable by its owner only (0600).
    Private,
}

/// Why a write was refused.
#[derive(Debug)]
pub struct Refused {
    /// The path asked for.
    pub path: String,
    /// Why.
    pub reason: String,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "refusing to write `{}`: {}", self.path, self.reason)
    }
}

impl std::error::Error for Refused {}

fn refused(path: &str, reason: impl Into<String>) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        Refused {
            path: path.to_string(),
            reason: reason.into(),
        },
    )
}

/// Writes below a repository root, confined to ev's areas.
#[derive(Clone, Debug)]
pub struct Writer {
    root: PathBuf,
}

impl Writer {
    /// A writer for the repository at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Writer {
        Writer { root: root.into() }
    }

    /// The repository root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Checks `rel` (a `/`-separated path below the root) lies in `area`
    /// and returns it normalized.
    fn check(&self, area: Area, rel: &str) -> io::Result<String> {
        let normal = ev_core::fs::normalize(rel)
            .map_err(|_| refused(rel, "the path leaves the repository"))?;
        let inside = normal
            .strip_prefix(area.folder())
            .is_some_and(|rest| rest.starts_with('/'));
        if !inside {
            return Err(refused(
                rel,
                format!("ev writes here only below `{}/`", area.folder()),
            ));
        }
        if normal.contains('\0') {
            return Err(refused(rel, "the path holds a NUL byte"));
        }
        Ok(normal)
    }

    /// Creates the directory `rel` (and its parents) in `area`, refusing
    /// any existing component that is a symbolic link or not a directory;
    /// returns its full path.
    pub fn dir(&self, area: Area, rel: &str) -> io::Result<PathBuf> {
        let normal = self.check(area, rel)?;
        self.make_dirs(rel, &normal)
    }

    fn make_dirs(&self, asked: &str, normal: &str) -> io::Result<PathBuf> {
        let mut path = self.root.clone();
        for part in normal.split('/') {
            path.push(part);
            match std::fs::symlink_metadata(&path) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    return Err(refused(
                        asked,
                        format!(
                            "`{}` is a symbolic link",
                            path.strip_prefix(&self.root).unwrap_or(&path).display()
                        ),
                    ))
                }
                Ok(meta) if meta.is_dir() => {}
                Ok(_) => {
                    return Err(refused(
                        asked,
                        format!(
                            "`{}` is not a directory",
                            path.strip_prefix(&self.root).unwrap_or(&path).display()
                        ),
                    ))
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => match std::fs::create_dir(&path) {
                    Ok(()) => {}
                    // Created meanwhile (a parallel action): checked again.
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                        let meta = std::fs::symlink_metadata(&path)?;
                        if !meta.is_dir() || meta.file_type().is_symlink() {
                            return Err(refused(asked, "a directory on the way was replaced"));
                        }
                    }
                    Err(e) => return Err(e),
                },
                Err(e) => return Err(e),
            }
        }
        Ok(path)
    }

    /// The full path of the file `rel` in `area`, its parent directories
    /// created (confined as [`Writer::dir`] says).
    pub fn file_path(&self, area: Area, rel: &str) -> io::Result<PathBuf> {
        let normal = self.check(area, rel)?;
        let (parent, name) = normal.rsplit_once('/').unwrap_or(("", &normal));
        let dir = self.make_dirs(rel, parent)?;
        Ok(dir.join(name))
    }

    /// Writes `bytes` to `rel` in `area`, replacing the file atomically
    /// (a symbolic link there is replaced, never followed).
    pub fn write(&self, area: Area, rel: &str, bytes: &[u8], mode: Mode) -> io::Result<()> {
        let path = self.file_path(area, rel)?;
        match mode {
            Mode::Durable => crate::atomic::write(&path, bytes, false),
            Mode::Private => crate::atomic::write(&path, bytes, true),
            Mode::Volatile => crate::atomic::write_volatile(&path, bytes),
        }
    }

    /// Writes `bytes` unless the file already holds exactly them; true
    /// when it was written.
    pub fn write_if_changed(
        &self,
        area: Area,
        rel: &str,
        bytes: &[u8],
        mode: Mode,
    ) -> io::Result<bool> {
        let path = self.file_path(area, rel)?;
        let same = std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file())
            && std::fs::read(&path).is_ok_and(|old| old == bytes);
        if same {
            return Ok(false);
        }
        self.write(area, rel, bytes, mode)?;
        Ok(true)
    }

    /// Checks `rel` names a program source (`*.ev`) outside ev's own
    /// areas, and returns it normalized.
    fn check_source(&self, rel: &str) -> io::Result<String> {
        let normal = ev_core::fs::normalize(rel)
            .map_err(|_| refused(rel, "the path leaves the repository"))?;
        let own = [Area::Ev, Area::Profiles, Area::Exports]
            .iter()
            .any(|a| normal == a.folder() || normal.starts_with(&format!("{}/", a.folder())));
        if own || !normal.ends_with(".ev") || normal.contains('\0') || normal.is_empty() {
            return Err(refused(rel, "ev writes program sources only as `*.ev` files outside `.ev/`, `exports/` and `flake-profiles/`"));
        }
        Ok(normal)
    }

    /// Creates the program source `rel` (`ev import`): never over an
    /// existing file or through a symbolic link.
    pub fn create_source(&self, rel: &str, bytes: &[u8]) -> io::Result<()> {
        let normal = self.check_source(rel)?;
        let (parent, name) = normal.rsplit_once('/').unwrap_or(("", &normal));
        let dir = if parent.is_empty() {
            self.root.clone()
        } else {
            self.make_dirs(rel, parent)?
        };
        let path = dir.join(name);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        io::Write::write_all(&mut file, bytes)?;
        file.sync_all()
    }

    /// Replaces the existing program source `rel` atomically (a symbolic
    /// link there is refused).
    pub fn replace_source(&self, rel: &str, bytes: &[u8]) -> io::Result<()> {
        let normal = self.check_source(rel)?;
        let path = self.root.join(&normal);
        let meta = std::fs::symlink_metadata(&path)?;
        if !meta.is_file() {
            return Err(refused(rel, "it is not a regular file"));
        }
        crate::atomic::write(&path, bytes, false)?;
        std::fs::set_permissions(&path, meta.permissions())
    }

    /// Removes the file `rel` in `area` (a missing one is no error).
    pub fn remove(&self, area: Area, rel: &str) -> io::Result<()> {
        let path = self.file_path(area, rel)?;
        match std::fs::remove_file(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }

    /// Removes the directory `rel` in `area` with everything in it (a
    /// missing one is no error; links inside are removed, not followed).
    pub fn remove_tree(&self, area: Area, rel: &str) -> io::Result<()> {
        let path = self.dir(area, rel)?;
        std::fs::remove_dir_all(path)
    }

    /// Where a rendered file goes: the flakes in `flake-profiles/`,
    /// everything else under the environment's build folder (`.ev/build/`);
    /// as (area, path from the root).
    pub fn rendered(
        ev: &ev_deploy::plan::state::EvDir,
        file: &ev_deploy::plan::RenderedFile,
    ) -> (Area, String) {
        if file.in_repository() {
            (Area::Profiles, file.path.clone())
        } else {
            (Area::Ev, format!("{}/{}", ev.build(), file.path))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(e: &io::Error) -> String {
        e.get_ref()
            .and_then(|r| r.downcast_ref::<Refused>())
            .map(|r| r.reason.clone())
            .unwrap_or_else(|| format!("not refused: {e}"))
    }

    #[test]
    fn writes_only_inside_its_areas() {
        let dir = tempfile::tempdir().expect("temp dir");
        let writer = Writer::new(dir.path());
        writer
            .write(Area::Ev, ".ev/build/a/b.yaml", b"x", Mode::Volatile)
            .expect("inside");
        assert_eq!(
            std::fs::read(dir.path().join(".ev/build/a/b.yaml")).expect("written"),
            b"x"
        );
        for bad in [
            "../x",
            ".ev/../../x",
            "/etc/x",
            "secrets/x.yaml",
            ".ev",
            ".evil/x",
        ] {
            let e = writer
                .write(Area::Ev, bad, b"x", Mode::Volatile)
                .expect_err(bad);
            assert!(!reason(&e).starts_with("not refused"), "{bad}: {e}");
        }
        let e = writer
            .write(Area::Exports, ".ev/build/x", b"x", Mode::Durable)
            .expect_err("another area");
        assert!(reason(&e).contains("exports/"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn never_follows_links_on_the_way_or_at_the_target() {
        let outside = tempfile::tempdir().expect("outside");
        let dir = tempfile::tempdir().expect("repo");
        std::os::unix::fs::symlink(outside.path(), dir.path().join(".ev")).expect("link");
        let writer = Writer::new(dir.path());
        let e = writer
            .write(Area::Ev, ".ev/build/x", b"x", Mode::Durable)
            .expect_err("through a link");
        assert!(reason(&e).contains("symbolic link"), "{e}");
        assert_eq!(
            std::fs::read_dir(outside.path()).expect("list").count(),
            0,
            "nothing was written outside"
        );
        // A (dangling) link at the target is replaced, not followed.
        std::fs::remove_file(dir.path().join(".ev")).expect("unlink");
        std::fs::create_dir_all(dir.path().join("exports")).expect("dir");
        let target = outside.path().join("victim");
        std::os::unix::fs::symlink(&target, dir.path().join("exports/d.txt")).expect("link");
        for mode in [Mode::Volatile, Mode::Durable] {
            writer
                .write(Area::Exports, "exports/d.txt", b"digest", mode)
                .expect("replaces the link");
            assert!(!target.exists(), "the link's target was not created");
            let meta = std::fs::symlink_metadata(dir.path().join("exports/d.txt")).expect("meta");
            assert!(meta.is_file());
        }
    }
}
