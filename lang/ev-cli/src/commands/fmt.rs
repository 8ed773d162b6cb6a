//! `ev fmt`: the canonical layout (see `ev_syntax::format`). Formats the
//! program's files (the entry and its imports), or the given files and
//! directories, or stdin (`-`); `--check` changes nothing and exits 1 when a
//! file is not formatted. A file with syntax errors is refused, untouched.

use std::io::Read;
use std::path::{Path, PathBuf};

use ev_core::error::syntax_diagnostic;
use ev_syntax::format::format;

use crate::printer::Output;
use crate::settings::{Settings, ENTRY};

/// Runs `ev fmt`.
pub fn run(settings: &Settings, paths: &[PathBuf], check: bool) -> Output {
    let mut out = Output::default();
    if paths.len() == 1 && paths[0] == Path::new("-") {
        let mut text = String::new();
        if std::io::stdin().read_to_string(&mut text).is_err() {
            return Output::usage(
                settings,
                ev_core::Diagnostic::general("E0411", "cannot read standard input as UTF-8 text"),
            );
        }
        match format(&text) {
            Ok(formatted) => out.stdout = formatted,
            Err(errors) => refuse(settings, &mut out, "<stdin>", &text, &errors),
        }
        return out;
    }
    let files = match targets(settings, paths) {
        Ok(f) => f,
        Err(diagnostic) => return Output::usage(settings, *diagnostic),
    };
    let mut changed = Vec::new();
    for file in &files {
        let shown = file
            .strip_prefix(&settings.root)
            .unwrap_or(file)
            .to_string_lossy()
            .into_owned();
        let text = match std::fs::read_to_string(file) {
            Ok(text) => text,
            Err(e) => {
                let d = ev_core::Diagnostic::general("E0411", format!("cannot read {shown}: {e}"));
                out.stderr.push_str(&render(settings, d));
                out.code = 1;
                continue;
            }
        };
        match format(&text) {
            Ok(formatted) if formatted == text => {}
            Ok(formatted) => {
                if !check {
                    if let Err(e) = write_source(file, formatted.as_bytes()) {
                        out.stderr
                            .push_str(&render(settings, super::cannot_write(&shown, &e)));
                        out.code = 1;
                        continue;
                    }
                }
                changed.push(shown);
            }
            Err(errors) => refuse(settings, &mut out, &shown, &text, &errors),
        }
    }
    if check {
        for f in &changed {
            out.stdout.push_str(&format!("{f}\n"));
        }
        if !changed.is_empty() {
            out.stderr.push_str(&format!(
                "{} of {} files are not formatted: run `ev fmt`\n",
                changed.len(),
                files.len()
            ));
            out.code = 1;
        }
    } else {
        out.stderr.push_str(&format!(
            "formatted {} of {} files\n",
            changed.len(),
            files.len()
        ));
    }
    out
}

/// One spanless diagnostic, rendered in the chosen format.
fn render(settings: &Settings, diagnostic: ev_core::Diagnostic) -> String {
    crate::printer::render_refused(settings.message_format, settings.color, &[diagnostic])
}

fn refuse(
    settings: &Settings,
    out: &mut Output,
    name: &str,
    text: &str,
    errors: &[ev_syntax::SyntaxError],
) {
    let mut sources = ev_syntax::SourceMap::new();
    let file = sources.add(name, text);
    let diagnostics: Vec<_> = errors
        .iter()
        .map(|e| {
            let mut e = e.clone();
            e.span.file = file;
            syntax_diagnostic(&e)
        })
        .collect();
    out.diagnostics(settings, &diagnostics, &sources);
    out.stderr.push_str(&format!(
        "refusing to format {name}: fix its syntax errors first\n"
    ));
    out.code = 1;
}

/// The files to format: the given files and every `.ev` below the given
/// directories, or the program's own files.
fn targets(
    settings: &Settings,
    paths: &[PathBuf],
) -> Result<Vec<PathBuf>, Box<ev_core::Diagnostic>> {
    let mut files = Vec::new();
    if paths.is_empty() {
        let fs = ev_core::fs::OsFs::new(settings.root.clone());
        if !settings.root.join(ENTRY).is_file() {
            return Err(Box::new(
                super::no_entry(ENTRY, &settings.root)
                    .with_note("or name the files and directories to format"),
            ));
        }
        let program = ev_core::load(&fs, ENTRY);
        for m in program.modules.iter().filter(|m| !m.is_stdlib) {
            files.push(settings.root.join(&m.path));
        }
    }
    for p in paths {
        let p = if p.is_absolute() {
            p.clone()
        } else {
            std::env::current_dir().unwrap_or_default().join(p)
        };
        if p.is_dir() {
            collect(&p, &mut files);
        } else if p.is_file() {
            files.push(p);
        } else {
            return Err(Box::new(ev_core::Diagnostic::general(
                "E0610",
                format!("no file or directory {}", p.display()),
            )));
        }
    }
    files.sort();
    files.dedup();
    Ok(files)
}

/// The `.ev` files below `dir`. A linked directory is not followed (a link
/// to `..` would loop); a linked file is formatted where it really is (see
/// `write_source`).
fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    out.extend(
        ev_core::fs::files_below(dir, ev_core::fs::Walk::Sources)
            .into_iter()
            .filter(|rel| rel.ends_with(".ev"))
            .map(|rel| dir.join(rel))
            .filter(|path| path.is_file()),
    );
}

/// Replaces a source file's text atomically, keeping what it is: a
/// symbolic link stays a link (the file it leads to is rewritten), and the
/// file keeps its permissions.
fn write_source(file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let real = std::fs::canonicalize(file)?;
    let permissions = std::fs::metadata(&real)?.permissions();
    ev_apply::atomic::write(&real, bytes, false)?;
    std::fs::set_permissions(&real, permissions)
}
