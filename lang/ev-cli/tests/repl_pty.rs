//! The interactive REPL driven through a real terminal (tmux): type a
//! partial name, press Tab, read the screen, check the completion and the
//! answer; then multi-line input and Ctrl-D.

mod support;

use support::Tmux;

use std::time::{Duration, Instant};

#[test]
fn interactive_repl_completes_answers_and_continues_lines() {
    if support::tool("tmux").is_none() {
        return;
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let tmux = Tmux::new("repl");
    let ev = env!("CARGO_BIN_EXE_ev");
    let root_arg = root.to_string_lossy().into_owned();
    tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "ev",
        "-x",
        "120",
        "-y",
        "40",
        ev,
        "-C",
        &root_arg,
        "--color",
        "never",
        // Ctrl-C is tested on a long computation: above the step limit.
        "--max-steps",
        "100000000000",
        "repl",
    ]);
    tmux.wait_for("ev repl on everything.ev: 7 machines");
    // Tab completes a resource name inside an expression.
    tmux.keys(&["machine.meth"]);
    tmux.wait_for("ev> machine.meth");
    tmux.keys(&["Tab"]);
    tmux.wait_for("ev> machine.methanol");
    tmux.keys(&[".addr", "Tab"]);
    tmux.wait_for("ev> machine.methanol.address");
    tmux.keys(&["Enter"]);
    tmux.wait_for("\"192.0.2.20\"");
    // Commands complete too.
    tmux.keys(&[":re", "Tab"]);
    tmux.wait_for(":refs");
    tmux.keys(&["C-u"]);
    // An open bracket continues on the next line; the answer comes once closed.
    tmux.keys(&["[1,", "Enter"]);
    tmux.wait_for("\n..>");
    tmux.keys(&["2]", "Enter"]);
    tmux.wait_for("[1, 2]");
    // Ctrl-C stops an evaluation in progress; the session goes on.
    tmux.keys(&[
        "len([1 for a in range(30000) for b in range(30000) if a == b + 100000])",
        "Enter",
    ]);
    std::thread::sleep(Duration::from_millis(700));
    tmux.keys(&["C-c"]);
    tmux.wait_for("evaluation interrupted");
    tmux.keys(&["1 + 41", "Enter"]);
    tmux.wait_for("\n42");
    // Ctrl-C cancels the line; Ctrl-D leaves.
    tmux.keys(&["this is not run", "C-c"]);
    tmux.keys(&["C-d"]);
    let start = Instant::now();
    while tmux.run(&["list-sessions"]).contains("ev:") {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the REPL did not exit on Ctrl-D"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
