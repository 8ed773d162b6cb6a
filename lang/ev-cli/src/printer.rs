//! All output goes through here: data on stdout, diagnostics and talk on stderr.

use std::io::Write;

use ev_core::diagnostic::{render_human, render_json_lines, RenderOptions, Severity};
use ev_core::Diagnostic;
use ev_syntax::SourceMap;

use crate::cli::MessageFormat;
use crate::settings::Settings;

/// What a command produced, written out by [`emit`] on the main thread.
#[derive(Debug, Default)]
pub struct Output {
    /// For stdout.
    pub stdout: String,
    /// For stderr.
    pub stderr: String,
    /// The process exit code.
    pub code: i32,
}

impl Output {
    /// Appends rendered diagnostics (and a summary line for humans) to
    /// stderr, and raises the exit code: 1 for errors, 101 for an internal one.
    pub fn diagnostics(
        &mut self,
        settings: &Settings,
        diagnostics: &[Diagnostic],
        sources: &SourceMap,
    ) {
        if diagnostics.is_empty() {
            return;
        }
        // Errors fail the command; an internal error (a bug in ev) exits
        // 101 like a panic, so scripts can tell it from a user's mistake.
        let code = if diagnostics
            .iter()
            .any(|d| d.code == ev_core::diagnostic::INTERNAL_ERROR)
        {
            101
        } else if diagnostics.iter().any(|d| d.severity == Severity::Error) {
            1
        } else {
            0
        };
        self.code = self.code.max(code);
        match settings.message_format {
            MessageFormat::Human => {
                self.stderr.push_str(&render_human(
                    diagnostics,
                    sources,
                    RenderOptions {
                        color: settings.color,
                    },
                ));
                let errors = diagnostics
                    .iter()
                    .filter(|d| d.severity == Severity::Error)
                    .count();
                let warnings = diagnostics.len() - errors;
                let count =
                    |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
                let line = match (errors, warnings) {
                    (_, 0) => format!("{} found\n", count(errors, "error")),
                    (0, _) => format!("{}\n", count(warnings, "warning")),
                    _ => format!(
                        "{} found, {}\n",
                        count(errors, "error"),
                        count(warnings, "warning")
                    ),
                };
                self.stderr.push_str(&line);
            }
            MessageFormat::Json => self
                .stderr
                .push_str(&render_json_lines(diagnostics, sources)),
        }
    }
}

impl Output {
    /// Appends a line for people to stderr, unless diagnostics are JSON
    /// (stderr is then one diagnostic per line, nothing else).
    pub fn say(&mut self, settings: &Settings, line: &str) {
        if settings.message_format == MessageFormat::Human {
            self.stderr.push_str(line);
            self.stderr.push('\n');
        }
    }

    /// A command stopped by problems with no place in the sources (the
    /// state, the lock, a file, an argument): rendered like every other
    /// diagnostic, in the chosen message format, with exit `code` (2 for
    /// usage and environment errors).
    pub fn refused(settings: &Settings, diagnostics: &[Diagnostic], code: i32) -> Output {
        Output {
            stderr: render_refused(settings.message_format, settings.color, diagnostics),
            code,
            ..Output::default()
        }
    }

    /// [`Output::refused`] with one diagnostic and exit 2.
    pub fn usage(settings: &Settings, diagnostic: Diagnostic) -> Output {
        Output::refused(settings, &[diagnostic], 2)
    }
}

/// Renders diagnostics without a source map (they have no places), also
/// before the settings are known.
pub fn render_refused(format: MessageFormat, color: bool, diagnostics: &[Diagnostic]) -> String {
    let sources = SourceMap::new();
    match format {
        MessageFormat::Human => render_human(diagnostics, &sources, RenderOptions { color }),
        MessageFormat::Json => render_json_lines(diagnostics, &sources),
    }
}

/// Writes an output and returns its exit code.
pub fn emit(out: &Output) -> i32 {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(out.stdout.as_bytes());
    let _ = stdout.flush();
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(out.stderr.as_bytes());
    out.code
}
