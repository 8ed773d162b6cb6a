//! Resolved settings: where the repository is, how to print.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use crate::cli::{Cli, ColorChoice, MessageFormat};

/// The entry file's conventional name.
pub const ENTRY: &str = "everything.ev";

/// Settings shared by every command.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The repository root.
    pub root: PathBuf,
    /// Colour diagnostics.
    pub color: bool,
    /// Diagnostics format.
    pub message_format: MessageFormat,
    /// The environment named with `-e` (none: the program's default).
    pub environment: Option<String>,
}

impl Settings {
    /// Resolves settings from arguments and the environment.
    pub fn resolve(cli: &Cli) -> Result<Settings, String> {
        let cwd = std::env::current_dir()
            .map_err(|e| format!("cannot read the current directory: {e}"))?;
        let root = match &cli.root {
            Some(dir) => {
                let dir = cwd.join(dir);
                if !dir.is_dir() {
                    return Err(format!("-C {}: not a directory", dir.display()));
                }
                dir
            }
            None => find_root(&cwd).unwrap_or(cwd),
        };
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = match cli.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => !no_color && std::io::stderr().is_terminal(),
        };
        Ok(Settings {
            root,
            color,
            message_format: cli.message_format,
            environment: cli.environment.clone(),
        })
    }

    /// The entry path relative to the root, from an optional user path
    /// (relative to the current directory).
    pub fn entry(&self, path: Option<&Path>) -> Result<String, String> {
        let Some(path) = path else {
            return Ok(ENTRY.to_string());
        };
        let cwd = std::env::current_dir().map_err(|e| e.to_string())?;
        let absolute = cwd.join(path);
        let absolute = absolute
            .canonicalize()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let root = self
            .root
            .canonicalize()
            .map_err(|e| format!("{}: {e}", self.root.display()))?;
        let relative = absolute.strip_prefix(&root).map_err(|_| {
            format!(
                "{} is outside the repository root {} (use -C to choose another root)",
                path.display(),
                root.display()
            )
        })?;
        Ok(relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/"))
    }
}

/// The nearest directory at or above `start` that holds everything.ev.
fn find_root(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|dir| dir.join(ENTRY).is_file())
        .map(Path::to_path_buf)
}
