//! `ev check`: report every problem in a program.

use ev_core::Evaluator;
use ev_deploy::check;

use crate::printer::Output;
use crate::settings::Settings;

/// Runs `ev check` on `entry`.
pub fn run(settings: &Settings, entry: &str) -> Output {
    let mut out = Output::default();
    let Some((program, fs)) = super::load(settings, entry, &mut out) else {
        return out;
    };
    let ev = Evaluator::new(&program, &fs);
    let mut diagnostics = check(&program, &ev);
    let clean = diagnostics.is_empty();
    diagnostics.extend(ev_deploy::repository_warnings(&program, &fs));
    out.diagnostics(settings, &diagnostics, &program.sources);
    // JSON output is diagnostics only, one per line: the summary is for people.
    if clean && settings.message_format == crate::cli::MessageFormat::Human {
        let files = program.modules.iter().filter(|m| !m.is_stdlib).count();
        out.stderr.push_str(&format!(
            "ok: {entry}: {files} file{}, {} resource{} checked\n",
            if files == 1 { "" } else { "s" },
            program.resources.len(),
            if program.resources.len() == 1 {
                ""
            } else {
                "s"
            },
        ));
    }
    out
}
