//! `ev repl` and `ev query`: thin faces over [`ev_query::repl::Session`].
//! Interactively, rustyline reads lines (completion, highlighting, hints,
//! multi-line input validated by parsing, history per repository); with
//! `--batch`, inputs come from stdin and results print without prompts or
//! colours, so every command is scriptable and testable.

use ev_core::output::terminal_safe;
use std::borrow::Cow;
use std::cell::RefCell;
use std::io::{BufRead, IsTerminal, Write};
use std::rc::Rc;

use ev_core::fs::OsFs;
use ev_query::repl::{Format, Session};
use rustyline::completion::Completer;
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::hint::Hinter;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Helper};

use crate::cli::QueryFormat;
use crate::printer::Output;
use crate::settings::{Settings, ENTRY};

fn format_of(f: QueryFormat) -> Format {
    match f {
        QueryFormat::Human => Format::Human,
        QueryFormat::Json => Format::Json,
    }
}

/// `:plan` reads the state from the environment's backend, as `ev plan`.
fn state_reader(settings: &Settings) -> ev_query::repl::StateReader {
    let root = settings.root.clone();
    Box::new(move |model, ev_dir, environment| {
        let backend = ev_apply::state_backend::of_environment(&root, model, ev_dir, environment)?;
        ev_apply::state_backend::read_state(&*backend).map(|(_, state, _)| state)
    })
}

/// `ev query INPUT`: one input, printed.
pub fn query(settings: &Settings, input: &str, format: QueryFormat) -> Output {
    let fs = OsFs::new(settings.root.clone());
    let mut session = Session::new(&fs, ENTRY);
    if let Err(d) = session.set_environment(settings.environment.clone()) {
        return Output::usage(settings, *d);
    }
    session.read_state_with(state_reader(settings));
    session.format = format_of(format);
    session.color = settings.color;
    session.json_diagnostics = settings.message_format == crate::cli::MessageFormat::Json;
    let reply = session.submit(input);
    let code = exit_code(&reply);
    Output {
        stdout: if reply.error {
            String::new()
        } else {
            reply.text.clone()
        },
        stderr: if reply.error {
            reply.text
        } else {
            String::new()
        },
        code,
    }
}

/// 0 for success, 2 for a refused command (misuse or the environment, as
/// on the command line), 1 for any other failure.
fn exit_code(reply: &ev_query::repl::Reply) -> i32 {
    if reply.refused {
        2
    } else {
        i32::from(reply.error)
    }
}

/// `ev repl`.
pub fn run(settings: &Settings, batch: bool, format: QueryFormat) -> Output {
    if !settings.root.join(ENTRY).is_file() {
        return Output::usage(settings, super::no_entry(ENTRY, &settings.root));
    }
    let fs = OsFs::new(settings.root.clone());
    let mut session = Session::new(&fs, ENTRY);
    if let Err(d) = session.set_environment(settings.environment.clone()) {
        return Output::usage(settings, *d);
    }
    session.read_state_with(state_reader(settings));
    session.format = format_of(format);
    session.json_diagnostics = settings.message_format == crate::cli::MessageFormat::Json;
    if batch || !std::io::stdin().is_terminal() {
        return run_batch(&mut session);
    }
    session.color = settings.color;
    interactive(settings, session)
}

/// Reads every input from stdin (an input continues over lines while it is
/// unfinished) and prints each result; exits like the worst input (2 for a
/// refused command, else 1 if any input failed).
fn run_batch(session: &mut Session<'_>) -> Output {
    let mut out = Output::default();
    let mut pending = String::new();
    let stdin = std::io::stdin();
    let mut code = 0;
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        if !pending.is_empty() {
            pending.push('\n');
        }
        pending.push_str(&line);
        if session.needs_more(&pending) {
            continue;
        }
        let reply = session.submit(&pending);
        pending.clear();
        out.stdout.push_str(&reply.text);
        code = code.max(exit_code(&reply));
        if reply.quit {
            break;
        }
    }
    if !pending.trim().is_empty() {
        let reply = session.submit(&pending);
        out.stdout.push_str(&reply.text);
        code = code.max(exit_code(&reply));
    }
    out.code = code;
    out
}

/// The rustyline helper: completion, hints, highlighting and multi-line
/// validation, all asking the session.
struct ReplHelper<'s, 'fs> {
    session: Rc<RefCell<&'s mut Session<'fs>>>,
    color: bool,
}

impl Completer for ReplHelper<'_, '_> {
    type Candidate = String;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        Ok(self.session.borrow_mut().complete(line, pos))
    }
}

impl Hinter for ReplHelper<'_, '_> {
    type Hint = String;

    fn hint(&self, line: &str, pos: usize, _: &Context<'_>) -> Option<String> {
        // Only commands: hinting names would evaluate on every keystroke.
        if pos < line.len() || !line.starts_with(':') || line.contains(' ') {
            return None;
        }
        let (start, candidates) = self.session.borrow_mut().complete(line, pos);
        let first = candidates.first()?;
        first
            .get(pos - start..)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    }
}

impl Highlighter for ReplHelper<'_, '_> {
    fn highlight<'l>(&self, line: &'l str, _pos: usize) -> Cow<'l, str> {
        if !self.color {
            return Cow::Borrowed(line);
        }
        Cow::Owned(highlight(line))
    }

    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        if self.color {
            Cow::Owned(format!("\x1b[2m{hint}\x1b[0m"))
        } else {
            Cow::Borrowed(hint)
        }
    }

    fn highlight_char(&self, _line: &str, _pos: usize, _kind: CmdKind) -> bool {
        self.color
    }
}

/// Every line is taken as typed: an open input continues under the
/// continuation prompt (see [`run`]'s loop) rather than inside the editor.
impl Validator for ReplHelper<'_, '_> {
    fn validate(&self, _ctx: &mut ValidationContext<'_>) -> rustyline::Result<ValidationResult> {
        Ok(ValidationResult::Valid(None))
    }
}

impl Helper for ReplHelper<'_, '_> {}

/// Colours keywords, strings, numbers and commands.
fn highlight(line: &str) -> String {
    const KEYWORDS: &[&str] = &[
        "let", "in", "if", "then", "else", "fn", "for", "true", "false", "null",
    ];
    if line.starts_with(':') {
        let (cmd, rest) = line.split_once(' ').unwrap_or((line, ""));
        return format!(
            "\x1b[36m{cmd}\x1b[0m{}{rest}",
            if line.contains(' ') { " " } else { "" }
        );
    }
    let mut out = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '"' {
            let mut s = String::from('"');
            while let Some(d) = chars.next() {
                s.push(d);
                if d == '\\' {
                    if let Some(e) = chars.next() {
                        s.push(e);
                    }
                } else if d == '"' {
                    break;
                }
            }
            out.push_str(&format!("\x1b[32m{s}\x1b[0m"));
        } else if c.is_ascii_digit() {
            let mut s = String::from(c);
            while let Some(&d) = chars.peek() {
                if d.is_ascii_digit() || d == '.' {
                    s.push(d);
                    chars.next();
                } else {
                    break;
                }
            }
            out.push_str(&format!("\x1b[33m{s}\x1b[0m"));
        } else if c.is_alphabetic() || c == '_' {
            let mut s = String::from(c);
            while let Some(&d) = chars.peek() {
                if d.is_alphanumeric() || d == '_' || d == '-' {
                    s.push(d);
                    chars.next();
                } else {
                    break;
                }
            }
            if KEYWORDS.contains(&s.as_str()) {
                out.push_str(&format!("\x1b[35m{s}\x1b[0m"));
            } else {
                out.push_str(&s);
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn interactive(settings: &Settings, mut session: Session<'_>) -> Output {
    let mut stderr = std::io::stderr();
    let errors = session.load_errors();
    if !errors.is_empty() {
        let _ = write!(stderr, "{errors}");
    }
    // Ctrl-C while an expression is evaluated stops it (while a line is
    // being edited, the terminal is raw and rustyline reads Ctrl-C itself).
    let flag = session.interrupt.clone();
    std::thread::spawn(move || {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        runtime.block_on(async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                flag.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        });
    });
    let banner = session.banner();
    let _ = write!(stderr, "{banner}");
    let color = settings.color;
    let shared = Rc::new(RefCell::new(&mut session));
    let config = rustyline::Config::builder()
        .completion_type(rustyline::CompletionType::List)
        .auto_add_history(true)
        .build();
    let mut editor = match rustyline::Editor::<ReplHelper<'_, '_>, rustyline::history::DefaultHistory>::with_config(config) {
        Ok(e) => e,
        Err(e) => {
            return Output::usage(
                settings,
                ev_core::Diagnostic::general("E0608", format!("cannot start the line editor: {e}")),
            )
        }
    };
    editor.set_helper(Some(ReplHelper {
        session: shared.clone(),
        color,
    }));
    // Confined like every write of ev's (no `.ev` link leading elsewhere).
    let history = ev_apply::confined::Writer::new(&settings.root)
        .file_path(ev_apply::confined::Area::Ev, ".ev/repl_history")
        .ok();
    if let Some(history) = &history {
        let _ = editor.load_history(history);
    }
    let prompt = if color { "\x1b[1mev>\x1b[0m " } else { "ev> " };
    // An input left open (a bracket, a `let ... in`) continues on the next
    // line under this prompt, like Python's; it is run once complete.
    let continuation = if color { "\x1b[2m..>\x1b[0m " } else { "..> " };
    let mut pending = String::new();
    loop {
        let shown = if pending.is_empty() {
            prompt
        } else {
            continuation
        };
        match editor.readline(shown) {
            Ok(line) => {
                if !pending.is_empty() {
                    pending.push('\n');
                }
                pending.push_str(&line);
                if shared.borrow().needs_more(&pending) {
                    continue;
                }
                let input = std::mem::take(&mut pending);
                let reply = shared.borrow_mut().submit(&input);
                // Names and values never reach the terminal raw; coloured
                // diagnostics were made safe when they were rendered.
                if reply.error && color {
                    let _ = write!(stderr, "{}", reply.text);
                } else if reply.error {
                    let _ = write!(stderr, "{}", terminal_safe(&reply.text));
                } else {
                    print!("{}", terminal_safe(&reply.text));
                    let _ = std::io::stdout().flush();
                }
                if reply.quit {
                    break;
                }
            }
            // Ctrl-C cancels the input being typed (all of its lines).
            Err(rustyline::error::ReadlineError::Interrupted) => {
                pending.clear();
                continue;
            }
            Err(rustyline::error::ReadlineError::Eof) => break,
            Err(e) => {
                let d =
                    ev_core::Diagnostic::general("E0608", format!("the line editor failed: {e}"));
                let text = crate::printer::render_refused(settings.message_format, color, &[d]);
                let _ = write!(stderr, "{text}");
                break;
            }
        }
    }
    if let Some(history) = history.filter(|h| !h.is_symlink()) {
        let _ = editor.save_history(&history);
    }
    Output::default()
}
