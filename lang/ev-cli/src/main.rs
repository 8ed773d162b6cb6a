//! The `ev` binary: a thin face over `ev-core`. It parses arguments, runs
//! the command on a thread with a large stack (deep programs then end in a
//! recursion-limit diagnostic, not a crash) and prints what it returns.

mod cli;
mod commands;
mod printer;
mod settings;

use clap::Parser;

/// mimalloc: the evaluator allocates many small, short-lived values.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use crate::cli::{Cli, Command};
use crate::printer::{emit, Output};
use crate::settings::Settings;

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => usage_error(e),
    };
    let mut limits = ev_core::eval::Limits::BUILT_IN;
    if let Some(max_steps) = cli.max_steps {
        limits.max_steps = max_steps;
    }
    if matches!(cli.command, Command::Lsp { .. }) {
        limits.max_time = Some(ev_lsp::REQUEST_TIME_LIMIT);
    }
    ev_core::eval::Limits::set_process_default(limits);
    let settings = match Settings::resolve(&cli) {
        Ok(s) => s,
        Err(msg) => {
            let text = printer::render_refused(cli.message_format, false, &[bad_argument(msg)]);
            eprint!("{text}");
            std::process::exit(2);
        }
    };
    let (format, color) = (settings.message_format, settings.color);
    let output = match run(cli.command, settings) {
        Ok(out) => out,
        Err(msg) => Output {
            stderr: printer::render_refused(format, color, &[bad_argument(msg)]),
            code: 2,
            ..Output::default()
        },
    };
    std::process::exit(emit(&output));
}

/// An argument that names nothing usable (E0610).
/// A command line clap refuses: help and version print as clap renders
/// them; anything else is E0610, in the message format asked for (read from
/// the raw arguments, since they did not parse).
fn usage_error(e: clap::Error) -> ! {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        e.exit()
    }
    let args: Vec<String> = std::env::args().collect();
    let json = args.iter().any(|a| a == "--message-format=json")
        || args
            .windows(2)
            .any(|w| w[0] == "--message-format" && w[1] == "json");
    let format = if json {
        cli::MessageFormat::Json
    } else {
        cli::MessageFormat::Human
    };
    let rendered = e.render().to_string();
    let mut lines = rendered.lines().filter(|l| !l.trim().is_empty());
    let message = lines
        .next()
        .unwrap_or("invalid arguments")
        .trim_start_matches("error: ")
        .to_string();
    let rest: Vec<&str> = lines.map(str::trim).collect();
    let mut diagnostic = bad_argument(message);
    if !rest.is_empty() {
        diagnostic = diagnostic.with_help(rest.join("; "));
    }
    eprint!("{}", printer::render_refused(format, false, &[diagnostic]));
    std::process::exit(2)
}

fn bad_argument(message: String) -> ev_core::Diagnostic {
    ev_core::Diagnostic::general("E0610", message)
}

fn run(command: Command, settings: Settings) -> Result<Output, String> {
    let (format, color) = (settings.message_format, settings.color);
    let result = std::panic::catch_unwind(move || {
        ev_core::eval::run_with_stack(move || -> Result<Output, String> {
            let output = match command {
                Command::Check { path } => {
                    let entry = settings.entry(path.as_deref())?;
                    commands::check::run(&settings, &entry)
                }
                Command::Eval {
                    path,
                    expr,
                    format,
                    compact,
                } => {
                    let entry = settings.entry(path.as_deref())?;
                    commands::eval::run(&settings, &entry, expr.as_deref(), format, compact)
                }
                Command::Build => commands::build::run(&settings),
                Command::Apply {
                    plan,
                    targets,
                    yes,
                    parallelism,
                    fail_fast,
                    timeout,
                    grace,
                    lock_timeout,
                    allow_large_changes,
                    json,
                } => commands::apply::run(
                    &settings,
                    commands::apply::Options {
                        plan_file: plan.as_deref(),
                        targets,
                        yes,
                        parallelism,
                        fail_fast,
                        timeout,
                        grace,
                        lock_timeout,
                        allow_large_changes,
                        json,
                    },
                ),
                Command::State { command } => commands::state::run(&settings, command),
                Command::Import { command } => commands::import::run(&settings, command),
                Command::ForceUnlock { id } => commands::apply::force_unlock(&settings, &id),
                Command::Fmt { paths, check } => commands::fmt::run(&settings, &paths, check),
                Command::Init { dir } => commands::init::run(&settings, dir.as_deref()),
                Command::Lsp { stdio: _ } => commands::lsp::run(&settings),
                Command::Repl { batch, format } => commands::repl::run(&settings, batch, format),
                Command::Query { input, format } => {
                    commands::repl::query(&settings, &input, format)
                }
                Command::Plan {
                    targets,
                    allow_large_changes,
                    json,
                    format,
                    link_base,
                    out,
                    detailed_exitcode,
                    refresh,
                    full,
                    compact,
                } => commands::plan::run(
                    &settings,
                    commands::plan::Options {
                        targets,
                        allow_large_changes,
                        format: if json { cli::PlanFormat::Json } else { format },
                        link_base: link_base.as_deref(),
                        out: out.as_deref(),
                        detailed_exitcode,
                        refresh,
                        detail: commands::plan::detail(full, compact, std::io::stdout()),
                    },
                ),
                Command::DiffEnv { a, b } => commands::diff_env::run(&settings, &a, &b),
                Command::Graph { format, resources } => {
                    commands::graph::run(&settings, format, resources)
                }
                Command::Show {
                    target,
                    name,
                    refs,
                    all,
                    format,
                } => commands::show::run(
                    &settings,
                    commands::show::Query {
                        target,
                        name,
                        refs,
                        transitive: all,
                    },
                    format,
                ),
            };
            // Exit from here: tearing down the evaluation thread (and freeing
            // everything it built) would only cost time.
            std::process::exit(emit(&output));
        })
    });
    match result {
        Ok(r) => r,
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            let internal = ev_core::Diagnostic::general(
                ev_core::diagnostic::INTERNAL_ERROR,
                format!("internal error: {what}"),
            )
            .with_note("this is a bug in ev, please report it with the input that caused it");
            Ok(Output {
                stderr: printer::render_refused(format, color, &[internal]),
                code: 101,
                ..Output::default()
            })
        }
    }
}
