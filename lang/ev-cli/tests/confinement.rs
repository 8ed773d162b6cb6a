//! Evaluation reads only regular files of the repository: every reading
//! builtin, an import and the entry file are refused (with a code) when they
//! reach outside through a symbolic link, `..`, an absolute path, `/proc` or a
//! FIFO, and nothing outside is read or written.

#![cfg(unix)]

use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

/// A canary that must never appear in any output.
const CANARY: &str = "outside-canary-7f3a";

/// A repository beside an outside directory holding the canary, with every
/// kind of escape planted in it.
fn setup() -> tempfile::TempDir {
    let base = tempfile::tempdir().expect("temp dir");
    let outside = base.path().join("outside");
    let repo = base.path().join("repo");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::create_dir_all(repo.join("data")).unwrap();
    for (name, text) in [
        ("secret.txt", format!("{CANARY}\n")),
        ("secret.json", format!("{{\"v\": \"{CANARY}\"}}\n")),
        ("secret.yaml", format!("v: {CANARY}\n")),
        ("lib.ev", format!("export v = \"{CANARY}\"\n")),
    ] {
        std::fs::write(outside.join(name), text).unwrap();
    }
    let data = repo.join("data");
    symlink(outside.join("secret.txt"), data.join("txt")).unwrap();
    symlink(outside.join("secret.json"), data.join("json")).unwrap();
    symlink(outside.join("secret.yaml"), data.join("yaml")).unwrap();
    symlink(outside.join("lib.ev"), data.join("lib.ev")).unwrap();
    // `data/up` is `..` of the repository: the directory holding `outside/`.
    symlink("../..", data.join("up")).unwrap();
    symlink("/proc", data.join("proc")).unwrap();
    symlink("/etc/passwd", data.join("passwd")).unwrap();
    for fifo in ["fifo", "fifo.ev"] {
        let made = Command::new("mkfifo")
            .arg(data.join(fifo))
            .status()
            .expect("mkfifo runs");
        assert!(made.success(), "mkfifo");
    }
    base
}

fn ev(dir: &Path, args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ev"))
        .current_dir(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .env("EV_CONFINEMENT_CANARY", CANARY)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("ev runs");
    // A FIFO must never block evaluation: give up (and fail) after 20 s.
    let started = std::time::Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if started.elapsed() > Duration::from_secs(20) {
            child.kill().ok();
            panic!("ev {args:?} still runs after 20 s (blocked on a FIFO?)");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

fn refused(repo: &Path, program: &str, code: &str) {
    std::fs::write(repo.join("everything.ev"), program).unwrap();
    let out = ev(repo, &["eval"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{program}\n{stdout}\n{stderr}");
    assert!(
        stderr.contains(code),
        "{program}: expected {code}\n{stderr}"
    );
    for text in [&stdout, &stderr] {
        assert!(
            !text.contains(CANARY),
            "{program} leaked the canary:\n{text}"
        );
        assert!(
            !text.contains("root:x:0"),
            "{program} leaked /etc/passwd:\n{text}"
        );
    }
}

#[test]
fn every_reading_builtin_is_confined() {
    let base = setup();
    let repo = base.path().join("repo");
    let paths = [
        ("data/txt", "E0208"),
        ("data/json", "E0208"),
        ("data/yaml", "E0208"),
        ("data/up/outside/secret.txt", "E0208"),
        ("data/proc/self/environ", "E0208"),
        ("data/passwd", "E0208"),
        ("../outside/secret.txt", "E0208"),
        ("/etc/passwd", "E0208"),
        ("data/fifo", "E0411"),
    ];
    let builtins = [
        "text",
        "json",
        "yaml",
        "toml",
        "text_or_unknown",
        "json_or_unknown",
        "exists",
    ];
    for (path, code) in paths {
        for builtin in builtins {
            refused(&repo, &format!("export x = {builtin}(\"{path}\")\n"), code);
        }
        refused(
            &repo,
            &format!("export x = {{ s = secret(\"{path}\", \"k\") }}\n"),
            code,
        );
    }
}

#[test]
fn imports_and_the_entry_are_confined() {
    let base = setup();
    let repo = base.path().join("repo");
    refused(
        &repo,
        "import { v } from \"data/lib.ev\"\nexport x = v\n",
        "E0208",
    );
    refused(
        &repo,
        "import { v } from \"data/up/outside/lib.ev\"\nexport x = v\n",
        "E0208",
    );
    refused(
        &repo,
        "import { v } from \"data/fifo.ev\"\nexport x = v\n",
        "E0411",
    );

    // The entry file itself a link to a file outside.
    std::fs::remove_file(repo.join("everything.ev")).ok();
    symlink(
        base.path().join("outside/lib.ev"),
        repo.join("everything.ev"),
    )
    .unwrap();
    let out = ev(&repo, &["eval"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("E0208"), "{stderr}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains(CANARY));
    assert!(!stderr.contains(CANARY), "{stderr}");
}

#[test]
fn links_inside_the_repository_still_work() {
    let base = setup();
    let repo = base.path().join("repo");
    std::fs::write(repo.join("data/real.txt"), "inside\n").unwrap();
    symlink("real.txt", repo.join("data/alias.txt")).unwrap();
    std::fs::write(
        repo.join("everything.ev"),
        "export x = text(\"data/alias.txt\")\n",
    )
    .unwrap();
    let out = ev(&repo, &["eval"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("inside"));
}

#[test]
fn writes_through_links_are_refused() {
    let base = setup();
    let repo = base.path().join("repo");
    std::fs::write(
        repo.join("everything.ev"),
        "let p = { name = \"pdns\", class = \"octodns_powerdns.PowerDnsProvider\" }\n\
         domain \"example.test\" { provider = p, records = [] }\n",
    )
    .unwrap();
    let outside = base.path().join("outside");
    let before: Vec<_> = std::fs::read_dir(&outside).unwrap().collect();
    // `.ev` itself a link, then a directory below it.
    symlink(&outside, repo.join(".ev")).unwrap();
    let out = ev(&repo, &["build"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("[E0604]") && stderr.contains("is a symbolic link"),
        "{stderr}"
    );
    std::fs::remove_file(repo.join(".ev")).unwrap();
    std::fs::create_dir(repo.join(".ev")).unwrap();
    symlink(&outside, repo.join(".ev/build")).unwrap();
    let out = ev(&repo, &["build"]);
    assert_eq!(out.status.code(), Some(2));
    let after: Vec<_> = std::fs::read_dir(&outside).unwrap().collect();
    assert_eq!(before.len(), after.len(), "something was written outside");
}

/// Plain data cannot pose as a secret: a record spelling the `$secret`
/// marker (with a path outside) is refused when the model is built, so no
/// tool is ever asked to decrypt it.
#[test]
fn data_shaped_like_a_secret_is_refused() {
    let base = setup();
    let repo = base.path().join("repo");
    std::fs::write(
        repo.join("everything.ev"),
        r#"cluster home { context = "home-ctx", namespace = "apps" }
app api {
  cluster = "home"
  image = "docker.io/library/nginx@sha256:0000000000000000000000000000000000000000000000000000000000000001"
  manifests = [{ apiVersion = "v1", kind = "ConfigMap", data = { "$secret" = { file = "../outside/secret.yaml", key = "v" } } }]
}
"#,
    )
    .unwrap();
    for command in ["show", "plan"] {
        let out = ev(&repo, &[command]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{command}: {stderr}");
        assert!(
            stderr.contains("E0417") && stderr.contains("`$secret` field"),
            "{stderr}"
        );
    }
}
