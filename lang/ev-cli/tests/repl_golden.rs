//! Golden REPL transcripts: every `tests/repl/*.repl` file is a scripted
//! session over the repository's example, run through `ev repl --batch`;
//! its snapshot is the session's output. Adding a case is adding a file.

use std::path::Path;
use std::process::{Command, Stdio};

fn transcript(script: &str) -> String {
    use std::io::Write;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ev"))
        .arg("-C")
        .arg(&root)
        .args(["repl", "--batch"])
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ev repl runs");
    let input: String = script
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("ev repl exits");
    format!(
        "exit: {}\n{}{}",
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn repl_transcripts() {
    insta::glob!("repl/*.repl", |path| {
        let script = std::fs::read_to_string(path).expect("script");
        let output = transcript(&script);
        assert!(
            !output.contains("test-only-"),
            "a secret value reached the REPL's output"
        );
        insta::assert_snapshot!(format!("{script}\n==== output ====\n{output}"));
    });
}
