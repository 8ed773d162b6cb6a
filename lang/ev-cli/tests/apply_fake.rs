//! `ev apply` against recording fake tools (`pulumi` cannot be installed
//! here; octodns is faked too so faults can be injected): each fake asserts
//! its exact argv, records it, and fails or hangs on demand. The executor's
//! behaviour (ordering, skipping, resuming, timeouts, Ctrl-C, the lock,
//! stale plans, corrupted state) is checked through the real binary.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::{Repo, Run};

const PROGRAM: &str = r#"
stack cloud {
  resources = [{ name = "vm", type = "hcloud:index/server:Server", properties = { name = "vm" } }]
  exports = { vm = { ipAddress = "\${vm.ipv4Address}" } }
}

let fake = { name = "fake", class = "octodns_fake.FakeProvider", settings = { region = "test" } }

domain "a.test" {
  provider = fake
  records = [a("vm", stack.cloud.outputs.vm.ipAddress)]
}

domain "b.test" {
  provider = fake
  records = [a("www", "192.0.2.1")]
}
"#;

/// A repository with the program and a bin directory of fakes.
struct Fakes {
    repo: Repo,
    bin: PathBuf,
}

impl Fakes {
    fn new() -> Fakes {
        let repo = Repo::new(&[("everything.ev", PROGRAM)]);
        let bin = repo.path().join("fake-bin");
        std::fs::create_dir_all(&bin).expect("bin");
        let record = bin.join("record");
        let b = bin.to_string_lossy();
        let r = record.to_string_lossy();
        write_script(
            &bin.join("octodns-sync"),
            &format!(
                r#"#!/bin/sh
echo "octodns-sync $*" >> {r}
case "$*" in
  "--config-file config/"*) ;;
  *) echo "unexpected argv: $*" >&2; exit 64 ;;
esac
[ -f "$2" ] || {{ echo "no $2 in $PWD" >&2; exit 65; }}
for zone; do :; done
[ -e {b}/fail-$zone ] && {{ echo "Error: the provider refused $zone" >&2; exit 1; }}
[ -e {b}/hang-$zone ] && exec sleep 60
[ -e {b}/slow-$zone ] && sleep 2
echo '{{}}'
"#
            ),
        );
        write_script(
            &bin.join("pulumi"),
            &format!(
                r#"#!/bin/sh
echo "pulumi $*" >> {r}
[ -n "$PULUMI_BACKEND_URL" ] || {{ echo "no backend" >&2; exit 65; }}
if [ -e {b}/want-backend ] && [ "$PULUMI_BACKEND_URL" != "$(cat {b}/want-backend)" ]; then
  echo "the wrong backend: $PULUMI_BACKEND_URL" >&2; exit 66
fi
case "$*" in
  "stack select --create prod --non-interactive") exit 0 ;;
  "up --yes --json --stack prod --non-interactive")
    [ -e {b}/fail-pulumi ] && {{ echo "error: quota exceeded" >&2; exit 1; }}
    [ -e {b}/block-export ] && mkdir -p "$(cat {b}/block-export)/keep"
    echo '{{"result": "succeeded"}}' ;;
  "destroy --yes --stack prod --non-interactive") exit 0 ;;
  "stack output --json --stack prod") echo '{{"vm": {{"ipAddress": "203.0.113.50"}}}}' ;;
  "preview --json --stack prod --non-interactive")
    echo '{{"steps": [{{"op": "create", "urn": "urn:pulumi:prod::cloud::hcloud:index/server:Server::vm"}}]}}' ;;
  *) echo "unexpected argv: $*" >&2; exit 64 ;;
esac
"#
            ),
        );
        Fakes { repo, bin }
    }

    fn path(&self) -> String {
        format!("{}:/usr/bin:/bin", self.bin.to_string_lossy())
    }

    fn ev(&self, args: &[&str]) -> Run {
        self.repo.ev_with_path(args, &self.path())
    }

    fn flag(&self, name: &str) {
        std::fs::write(self.bin.join(name), "").expect("flag");
    }

    fn unflag(&self, name: &str) {
        let _ = std::fs::remove_file(self.bin.join(name));
    }

    /// The recorded command lines, then forgets them.
    fn take_record(&self) -> Vec<String> {
        let path = self.bin.join("record");
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let _ = std::fs::remove_file(&path);
        text.lines().map(str::to_string).collect()
    }

    fn state(&self) -> serde_json::Value {
        serde_json::from_str(&self.repo.read(".ev/state.json")).unwrap_or(serde_json::Value::Null)
    }

    fn applied(&self) -> Vec<String> {
        self.state()["actions"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }
}

fn of_tool<'a>(record: &'a [String], tool: &str) -> Vec<&'a str> {
    record
        .iter()
        .filter(|l| l.starts_with(&format!("{tool} ")))
        .map(String::as_str)
        .collect()
}

fn write_script(path: &Path, text: &str) {
    std::fs::write(path, text).expect("script");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
}

#[test]
fn apply_fake_failure_skips_dependents_and_a_rerun_resumes() {
    let fakes = Fakes::new();
    fakes.flag("fail-pulumi");
    let first = fakes.ev(&["apply", "--yes"]);
    assert_eq!(first.code, 1, "{}", first.all());
    assert!(
        first.stderr.contains("failed:  cloud:up"),
        "{}",
        first.stderr
    );
    assert!(
        first
            .stderr
            .contains("skipped: domain:a.test (cloud:up did not complete)"),
        "{}",
        first.stderr
    );
    // The failing tool's last lines are shown with the action's id.
    assert!(
        first.stderr.contains("error: quota exceeded"),
        "{}",
        first.stderr
    );
    // The independent zone was applied, and the state says exactly that.
    assert_eq!(fakes.applied(), vec!["domain:b.test".to_string()]);
    // Independent actions run in parallel: compare each tool's sequence.
    let record = fakes.take_record();
    assert_eq!(
        of_tool(&record, "pulumi"),
        vec![
            "pulumi stack select --create prod --non-interactive",
            "pulumi up --yes --json --stack prod --non-interactive",
        ]
    );
    assert_eq!(
        of_tool(&record, "octodns-sync"),
        vec![
            "octodns-sync --config-file config/b.test.yaml b.test.",
            "octodns-sync --config-file config/b.test.yaml --doit b.test.",
        ]
    );

    fakes.unflag("fail-pulumi");
    let second = fakes.ev(&["apply", "--yes"]);
    assert_eq!(second.code, 0, "{}", second.all());
    // The stack's outputs became the export, and the waiting zone learnt its value.
    assert!(
        fakes
            .repo
            .read("exports/cloud/generated.json")
            .contains("203.0.113.50"),
        "export written"
    );
    assert!(
        second.stderr.contains("domain:a.test  vm A  values[0]: (known after apply) → \"203.0.113.50\"  (known after cloud:up)"),
        "{}",
        second.stderr
    );
    assert_eq!(
        fakes.take_record(),
        vec![
            "pulumi stack select --create prod --non-interactive",
            "pulumi up --yes --json --stack prod --non-interactive",
            "pulumi stack output --json --stack prod",
            "octodns-sync --config-file config/a.test.yaml a.test.",
            "octodns-sync --config-file config/a.test.yaml --doit a.test.",
        ],
        "only what had not succeeded ran"
    );
    assert!(
        fakes
            .repo
            .read(".ev/build/octodns/zones/a.test.yaml")
            .contains("203.0.113.50"),
        "the zone was re-rendered with the known address"
    );
    let third = fakes.ev(&["apply", "--yes"]);
    assert_eq!(third.code, 0);
    assert!(third.stderr.contains("No changes"), "{}", third.stderr);
    assert!(fakes.take_record().is_empty());
}

/// The events of an `ev apply --json` run: every stdout line is one JSON
/// object of version 1.
fn events(run: &Run) -> Vec<serde_json::Value> {
    run.stdout
        .lines()
        .map(|l| {
            let event: serde_json::Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}\n{}", run.all()));
            assert_eq!(event["version"], 1, "{l}");
            assert!(event["elapsed"].is_f64(), "{l}");
            event
        })
        .collect()
}

fn of_kind<'a>(events: &'a [serde_json::Value], kind: &str) -> Vec<&'a serde_json::Value> {
    events.iter().filter(|e| e["event"] == kind).collect()
}

/// `ev apply --json`: the plan, then every action's start and end (a
/// failure with its message and log tail, the skip it causes, a value
/// becoming known), then the summary; nothing for people on stderr. It
/// needs --yes (it cannot ask).
#[test]
fn apply_fake_json_events_stream_the_run() {
    let fakes = Fakes::new();
    let refused = fakes.ev(&["apply", "--json"]);
    assert_eq!(refused.code, 2, "{}", refused.all());
    let diagnostic: serde_json::Value =
        serde_json::from_str(refused.stderr.trim()).expect("a JSON diagnostic");
    assert_eq!(diagnostic["code"], "E0609");
    assert!(refused.stdout.is_empty());
    assert!(fakes.take_record().is_empty(), "nothing ran");

    fakes.flag("fail-pulumi");
    let first = fakes.ev(&["apply", "--json", "--yes"]);
    assert_eq!(first.code, 1, "{}", first.all());
    assert_eq!(first.stderr, "", "no human text");
    let all = events(&first);
    assert_eq!(all[0]["event"], "plan");
    assert_eq!(
        all[0]["plan"]["version"],
        ev_deploy::plan::diff::PLAN_VERSION
    );
    assert_eq!(all[1]["event"], "started");
    assert_eq!(
        all[1]["actions"],
        serde_json::json!(["cloud:up", "domain:a.test", "domain:b.test"])
    );
    let failed = of_kind(&all, "action_finished")
        .into_iter()
        .find(|e| e["id"] == "cloud:up")
        .expect("cloud:up finished");
    assert_eq!(failed["result"], "failed");
    assert!(failed["message"].is_string(), "{failed}");
    assert!(
        failed["log_tail"]
            .as_str()
            .is_some_and(|t| t.contains("error: quota exceeded")),
        "{failed}"
    );
    assert_eq!(
        of_kind(&all, "action_skipped"),
        vec![
            &serde_json::json!({"version": 1, "elapsed": of_kind(&all, "action_skipped")[0]["elapsed"], "event": "action_skipped", "id": "domain:a.test", "because": "cloud:up"})
        ]
    );
    let last = all.last().expect("events");
    assert_eq!(last["event"], "finished");
    assert_eq!(last["success"], false);
    assert_eq!(last["applied"], serde_json::json!(["domain:b.test"]));
    assert_eq!(last["failed"], serde_json::json!(["cloud:up"]));
    assert_eq!(last["skipped"], serde_json::json!(["domain:a.test"]));
    // Every started action finished, once.
    let started: Vec<&serde_json::Value> = of_kind(&all, "action_started")
        .iter()
        .map(|e| &e["id"])
        .collect();
    let finished: Vec<&serde_json::Value> = of_kind(&all, "action_finished")
        .iter()
        .map(|e| &e["id"])
        .collect();
    assert_eq!(started.len(), 2);
    assert!(started.iter().all(|id| finished.contains(id)));

    fakes.unflag("fail-pulumi");
    let second = fakes.ev(&["apply", "--json", "--yes"]);
    assert_eq!(second.code, 0, "{}", second.all());
    let all = events(&second);
    let known = of_kind(&all, "known");
    assert_eq!(known.len(), 1, "{}", second.stdout);
    assert_eq!(known[0]["id"], "domain:a.test");
    assert_eq!(known[0]["after"], "cloud:up");
    assert!(known[0]["detail"]
        .as_str()
        .is_some_and(|d| d.contains("203.0.113.50")));
    let last = all.last().expect("events");
    assert_eq!(last["success"], true);
    assert_eq!(
        last["applied"],
        serde_json::json!(["cloud:up", "domain:a.test"])
    );

    let third = fakes.ev(&["apply", "--json", "--yes"]);
    assert_eq!(third.code, 0, "{}", third.all());
    let all = events(&third);
    let kinds: Vec<&serde_json::Value> = all.iter().map(|e| &e["event"]).collect();
    assert_eq!(kinds, vec!["plan", "finished"], "nothing to do");
    assert!(all[1].get("log_dir").is_none());
}

#[test]
fn apply_fake_hung_tool_is_killed_at_its_timeout() {
    let fakes = Fakes::new();
    fakes.flag("hang-b.test.");
    let start = Instant::now();
    let run = fakes.ev(&["apply", "--yes", "--timeout", "1"]);
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "the hang was cut short"
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("domain:b.test: failed: `octodns-sync --config-file config/b.test.yaml b.test.` did not finish within 1s and was killed"),
        "{}",
        run.stderr
    );
    assert!(fakes.applied().contains(&"domain:a.test".to_string()));
    assert!(!fakes.applied().contains(&"domain:b.test".to_string()));
}

#[test]
fn apply_fake_ctrl_c_stops_launching_and_records_what_finished() {
    let fakes = Fakes::new();
    fakes.flag("hang-b.test.");
    let child = fakes
        .repo
        .command(
            &["apply", "--yes", "--grace", "1", "--parallelism", "1"],
            &fakes.path(),
        )
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("ev starts");
    // Wait until the hanging tool runs.
    let start = Instant::now();
    while !fakes.bin.join("record").exists()
        || !std::fs::read_to_string(fakes.bin.join("record"))
            .unwrap_or_default()
            .contains("b.test.")
    {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the apply never reached b.test"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = child.id().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill");
    assert!(sent.success());
    let out = child.wait_with_output().expect("ev exits");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted: starting nothing new"),
        "{stderr}"
    );
    assert!(stderr.contains("Apply interrupted"), "{stderr}");
    // Actions that were not reached are listed, finished ones recorded.
    let applied = fakes.applied();
    assert!(
        !applied.contains(&"domain:b.test".to_string()),
        "{applied:?}"
    );
    assert!(
        stderr.contains("not started:") || applied.len() == 2,
        "{stderr}"
    );
    assert!(
        !fakes.repo.path().join(".ev/apply.lock").exists(),
        "the lock is released"
    );
}

/// SIGTERM (CI cancelling, `timeout`), SIGHUP (the terminal closed) and
/// SIGQUIT stop an apply like Ctrl-C: the running tool finishes within the
/// grace period and is recorded, nothing new starts, the lock is released.
#[test]
fn apply_fake_termination_signals_let_running_tools_finish_and_record_them() {
    for (signal, said) in [
        ("TERM", "terminated (SIGTERM)"),
        ("HUP", "hung up (SIGHUP)"),
        ("QUIT", "quit (SIGQUIT)"),
    ] {
        let fakes = Fakes::new();
        // b.test takes two seconds; a.test (after the stack) comes later.
        fakes.flag("slow-b.test.");
        let child = fakes
            .repo
            .command(
                &["apply", "--yes", "--grace", "20", "--parallelism", "1"],
                &fakes.path(),
            )
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("ev starts");
        let start = Instant::now();
        while !std::fs::read_to_string(fakes.bin.join("record"))
            .unwrap_or_default()
            .contains("b.test.")
        {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "never reached b.test"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let sent = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(sent.success());
        let out = child.wait_with_output().expect("ev exits");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(130), "{signal}: {stderr}");
        assert!(stderr.contains(said), "{signal}: {stderr}");
        // The tool that was running finished and its change is recorded.
        let applied = fakes.applied();
        assert!(
            applied.contains(&"domain:b.test".to_string()),
            "{signal}: {applied:?}\n{stderr}"
        );
        assert!(
            !fakes.repo.path().join(".ev/apply.lock").exists(),
            "{signal}: the lock is released"
        );
    }
}

#[test]
fn apply_fake_one_apply_at_a_time() {
    let fakes = Fakes::new();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown-host".into());
    // Another process holds the lock (here: this test, through flock).
    let live = serde_json::json!({ "id": "abc123", "pid": std::process::id(), "host": host, "started": 0 });
    fakes.repo.write(".ev/apply.lock", &live.to_string());
    let held = std::fs::File::open(fakes.repo.path().join(".ev/apply.lock")).expect("open");
    held.try_lock().expect("the test takes the lock");
    let refused = fakes.ev(&["apply", "--yes"]);
    assert_eq!(refused.code, 2);
    assert!(
        refused.stderr.contains(&format!(
            "[E0602] Error: another `ev apply` is running (lock abc123, pid {}",
            std::process::id()
        )),
        "{}",
        refused.stderr
    );
    // A live lock is not broken by force-unlock.
    let kept = fakes.ev(&["force-unlock", "abc123"]);
    assert_eq!(kept.code, 2);
    assert!(
        kept.stderr.contains("held by a running process"),
        "{}",
        kept.stderr
    );
    assert!(fakes.take_record().is_empty(), "nothing ran");
    // Its holder dies: the kernel releases the lock, the record stays and
    // blocks nothing.
    drop(held);
    let dead =
        serde_json::json!({ "id": "dead42", "pid": 4_000_000_000u32, "host": host, "started": 0 });
    fakes.repo.write(".ev/apply.lock", &dead.to_string());
    assert_eq!(fakes.ev(&["force-unlock", "wrong"]).code, 2);
    assert_eq!(fakes.ev(&["apply", "--yes"]).code, 0);
    assert!(
        !fakes.repo.path().join(".ev/apply.lock").exists(),
        "released"
    );

    // With --lock-timeout a second apply waits for the holder instead: it
    // gives up when the time is over, and proceeds once the lock is free.
    fakes.repo.write(".ev/apply.lock", &live.to_string());
    let held = std::fs::File::open(fakes.repo.path().join(".ev/apply.lock")).expect("open");
    held.try_lock().expect("the test takes the lock");
    let started = std::time::Instant::now();
    let gave_up = fakes.ev(&["apply", "--yes", "--lock-timeout", "1"]);
    assert_eq!(gave_up.code, 2, "{}", gave_up.all());
    assert!(gave_up.stderr.contains("[E0602]"), "{}", gave_up.stderr);
    assert!(started.elapsed() >= std::time::Duration::from_secs(1));
    let waited = std::thread::scope(|s| {
        let waiter = s.spawn(|| fakes.ev(&["apply", "--yes", "--lock-timeout", "60"]));
        std::thread::sleep(std::time::Duration::from_millis(1500));
        drop(held);
        waiter.join().expect("the waiting apply")
    });
    assert_eq!(waited.code, 0, "{}", waited.all());
}

#[test]
fn apply_fake_corrupted_state_is_an_error_and_left_alone() {
    let fakes = Fakes::new();
    fakes.repo.write(".ev/state.json", "{ half a state");
    let run = fakes.ev(&["apply", "--yes"]);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.stderr.contains("[E0601]") && run.stderr.contains("`.ev/state.json` is corrupted"),
        "{}",
        run.stderr
    );
    assert_eq!(fakes.repo.read(".ev/state.json"), "{ half a state");
    assert!(fakes.take_record().is_empty(), "nothing ran");
}

#[test]
fn apply_fake_saved_plans_apply_exactly_or_are_refused_when_stale() {
    let fakes = Fakes::new();
    // Without a terminal and without --yes, nothing happens.
    let unconfirmed = fakes.ev(&["apply"]);
    assert_eq!(unconfirmed.code, 2);
    assert!(
        unconfirmed.stderr.contains("[E0609]")
            && unconfirmed
                .stderr
                .contains("refusing to apply without a terminal"),
        "{}",
        unconfirmed.stderr
    );
    assert!(fakes.take_record().is_empty());

    let saved = fakes.repo.path().join("plan.json");
    let saved_arg = saved.to_string_lossy().into_owned();
    assert_eq!(
        fakes
            .ev(&["plan", "--out", &saved_arg, "domain:b.test"])
            .code,
        0
    );
    // The program changes after the plan was saved.
    let changed = PROGRAM.replace("192.0.2.1", "192.0.2.99");
    fakes.repo.write("everything.ev", &changed);
    let stale = fakes.ev(&["apply", &saved_arg]);
    assert_eq!(stale.code, 1);
    assert!(
        stale.stderr.contains("[E0504] Error: the saved plan is stale: the program, the actions changed since it was saved; planned differently now: domain:b.test"),
        "{}",
        stale.stderr
    );
    assert!(fakes.take_record().is_empty());
    // Saved again, it applies exactly its actions: only b.test.
    assert_eq!(
        fakes
            .ev(&["plan", "--out", &saved_arg, "domain:b.test"])
            .code,
        0
    );
    // The document itself is authenticated: an edited action, or a version
    // this ev does not know, is refused (the basis alone is unchanged).
    let original = std::fs::read_to_string(&saved).expect("saved plan");
    for (what, edited) in [
        (
            "its actions",
            original.replacen("\"create\"", "\"none\"", 1),
        ),
        (
            "version 99",
            original.replacen(
                &format!("\"version\": {}", ev_deploy::plan::diff::PLAN_VERSION),
                "\"version\": 99",
                1,
            ),
        ),
    ] {
        assert_ne!(edited, original, "the edit applies");
        std::fs::write(&saved, &edited).expect("edit");
        let refused = fakes.ev(&["apply", &saved_arg]);
        assert_eq!(refused.code, 1, "{}", refused.all());
        assert!(
            refused.stderr.contains("E0504") && refused.stderr.contains(what),
            "{}",
            refused.stderr
        );
        assert!(fakes.take_record().is_empty());
    }
    std::fs::write(&saved, &original).expect("restore");
    let applied = fakes.ev(&["apply", &saved_arg]);
    assert_eq!(applied.code, 0, "{}", applied.all());
    assert_eq!(fakes.applied(), vec!["domain:b.test".to_string()]);
}

#[test]
fn plan_fake_refresh_reports_live_drift_and_missing_tools() {
    let fakes = Fakes::new();
    let run = fakes.ev(&["plan", "--refresh"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stdout.contains("Live state (--refresh):"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("cloud:up: differs from the live system:\n      + resource vm (create)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("domain:b.test: in sync"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("domain:a.test: could not check: its values are known only after"),
        "{}",
        run.stdout
    );
    assert!(
        fakes
            .take_record()
            .iter()
            .all(|l| !l.contains("--doit") && !l.contains(" up ")),
        "refresh changes nothing"
    );
    std::fs::remove_file(fakes.bin.join("pulumi")).expect("rm");
    let missing = fakes.ev(&["plan", "--refresh"]);
    assert!(
        missing.stdout.contains("cloud:up: could not check: `pulumi` is not installed (not found on PATH): install the Pulumi CLI"),
        "{}",
        missing.stdout
    );
}

/// `darwin-rebuild`, `nixos-rebuild` and deploy-rs are not available here:
/// fakes assert the exact argv each activation method runs (and a fake
/// `nix build` stands in for the build, which needs nixpkgs).
#[test]
fn apply_fake_machine_activation_methods_run_the_declared_tools() {
    let repo = Repo::new(&[
        (
            "everything.ev",
            r#"
machine laptop {
  platform = "aarch64-darwin"
  os = "darwin"
  modules = ["venus/common.nix"]
  activation = { method = "darwin-rebuild" }
}

machine cloud {
  platform = "x86_64-linux"
  os = "nixos"
  address = "192.0.2.30"
  modules = ["venus/common.nix"]
  activation = { method = "nixos-rebuild", ssh_user = "root", remote_build = true }
}

machine home {
  platform = "x86_64-linux"
  os = "nixos"
  address = "192.0.2.31"
  modules = ["venus/common.nix"]
  activation = { method = "deploy-rs", ssh_user = "deploy" }
}

machine propane {
  platform = "x86_64-linux"
  os = "nixos"
  configuration = "wsl"
  modules = ["venus/common.nix"]
  activation = { method = "nixos-rebuild", local = true }
}

machine yuto {
  platform = "aarch64-darwin"
  os = "home-manager"
  inputs = [{ name = "home-manager", url = "github:nix-community/home-manager" }]
  modules = ["venus/common.nix"]
  activation = { method = "home-manager" }
}
"#,
        ),
        ("venus/common.nix", "{ ... }: { }\n"),
    ]);
    let root = repo.path().to_string_lossy().into_owned();
    support::sh("git", &["-C", &root, "init", "-q"]);
    let bin = repo.path().join("fake-bin");
    std::fs::create_dir_all(&bin).expect("bin");
    let record = bin.join("record").to_string_lossy().into_owned();
    for tool in ["darwin-rebuild", "nixos-rebuild", "deploy", "home-manager"] {
        write_script(
            &bin.join(tool),
            &format!("#!/bin/sh\necho \"{tool} $*\" >> {record}\n"),
        );
    }
    write_script(
        &bin.join("nix"),
        &format!(
            "#!/bin/sh\necho \"nix $*\" >> {record}\necho '[{{\"drvPath\": \"/nix/store/x.drv\", \"outputs\": {{\"out\": \"/nix/store/aaaa-system\"}}}}]'\n"
        ),
    );
    let path = format!("{}:/usr/bin:/bin", bin.to_string_lossy());
    let run = repo.ev_with_path(&["apply", "--yes", "--parallelism", "1"], &path);
    assert_eq!(run.code, 0, "{}", run.all());
    let flake = |name: &str| format!("git+file://{root}?dir=flake-profiles/system-{name}");
    // Each flake is locked first (in turn: Nix adds a new lock file to
    // git), so the builds write nothing to the repository.
    let lock = |name: &str| {
        format!(
            "nix --extra-experimental-features nix-command flakes flake lock {}",
            flake(name)
        )
    };
    let recorded = std::fs::read_to_string(&record).expect("record");
    let lines: Vec<&str> = recorded.lines().collect();
    assert_eq!(
        lines,
        vec![
            lock("cloud").as_str(),
            // nixos-rebuild builds on the target (remote_build): no local build.
            format!("nixos-rebuild switch --flake {}#cloud --target-host root@192.0.2.30 --build-host root@192.0.2.30", flake("cloud")).as_str(),
            lock("home").as_str(),
            format!("nix --extra-experimental-features nix-command flakes build --no-link --json {}#nixosConfigurations.home.config.system.build.toplevel", flake("home")).as_str(),
            format!("deploy --skip-checks {}#home", flake("home")).as_str(),
            lock("laptop").as_str(),
            format!("nix --extra-experimental-features nix-command flakes build --no-link --json {}#darwinConfigurations.laptop.system", flake("laptop")).as_str(),
            format!("darwin-rebuild switch --flake {}#laptop", flake("laptop")).as_str(),
            // Local activation, of the configuration's own name.
            lock("propane").as_str(),
            format!("nix --extra-experimental-features nix-command flakes build --no-link --json {}#nixosConfigurations.wsl.config.system.build.toplevel", flake("propane")).as_str(),
            format!("nixos-rebuild switch --flake {}#wsl", flake("propane")).as_str(),
            lock("yuto").as_str(),
            format!("nix --extra-experimental-features nix-command flakes build --no-link --json {}#homeConfigurations.yuto.activationPackage", flake("yuto")).as_str(),
            format!("home-manager switch --flake {}#yuto", flake("yuto")).as_str(),
        ]
    );
    // The built store path is recorded: re-applying an unchanged machine
    // whose plan changed only cosmetically does not re-activate it.
    let state = repo.read(".ev/state.json");
    assert!(
        state.contains("\"store_path\": \"/nix/store/aaaa-system\""),
        "{state}"
    );
}

/// `kubectl` faked: the apply's argv, and a rollout wait for an app
/// declared with `wait = true`.
#[test]
fn apply_fake_kubectl_applies_then_waits_for_declared_rollouts() {
    let repo = Repo::new(&[(
        "everything.ev",
        r#"
cluster home { context = "home-ctx", namespace = "apps" }

app api {
  cluster = "home"
  namespace = "apps"
  image = "docker.io/library/nginx@sha256:0000000000000000000000000000000000000000000000000000000000000001"
  wait = true
}

app side {
  cluster = "home"
  namespace = "apps"
  image = "docker.io/library/nginx@sha256:0000000000000000000000000000000000000000000000000000000000000002"
}
"#,
    )]);
    let bin = repo.path().join("fake-bin");
    std::fs::create_dir_all(&bin).expect("bin");
    let record = bin.join("record").to_string_lossy().into_owned();
    write_script(
        &bin.join("kubectl"),
        &format!(
            "#!/bin/sh\necho \"kubectl $*\" >> {record}\ncase \"$*\" in *'-f -') cat > {record}.stdin ;; esac\n"
        ),
    );
    let path = format!("{}:/usr/bin:/bin", bin.to_string_lossy());
    let plan = repo.ev_with_path(&["plan"], &path);
    let run = repo.ev_with_path(&["apply", "--yes", "--timeout", "120"], &path);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(
        std::fs::read_to_string(&record).expect("record").lines().collect::<Vec<_>>(),
        vec![
            "kubectl --context=home-ctx apply --server-side --field-manager=ev --force-conflicts -f -",
            "kubectl --context=home-ctx --namespace=apps rollout status deployment/api --timeout=120s",
        ]
    );
    // The manifests came through stdin, and no copy is left on disk.
    let piped = std::fs::read_to_string(format!("{record}.stdin")).expect("stdin recorded");
    assert!(
        piped.contains("kind: Deployment") && piped.contains("name: api"),
        "{piped}"
    );
    fn files_below(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                files_below(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let mut scratch = Vec::new();
    files_below(&repo.path().join(".ev/run"), &mut scratch);
    for file in scratch {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        assert!(!text.contains("name: api"), "manifests at rest in {file:?}");
    }
    assert!(
        plan.code == 0 && plan.stdout.contains("+ Deployment apps/api"),
        "{}",
        plan.stdout
    );
}

#[test]
fn apply_fake_declared_timeout_overrides_the_default() {
    let fakes = Fakes::new();
    fakes.repo.write(
        "everything.ev",
        &PROGRAM.replace(
            "domain \"b.test\" {\n  provider = fake",
            "domain \"b.test\" {\n  apply_timeout = 1\n  provider = fake",
        ),
    );
    fakes.flag("hang-b.test.");
    let start = Instant::now();
    let run = fakes.ev(&["apply", "--yes"]);
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "the declared timeout applied"
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("did not finish within 1s and was killed"),
        "{}",
        run.stderr
    );
}

#[test]
fn apply_fake_removed_declarations_are_destroyed() {
    let fakes = Fakes::new();
    assert_eq!(fakes.ev(&["apply", "--yes"]).code, 0);
    assert!(fakes
        .repo
        .path()
        .join("exports/cloud/generated.json")
        .exists());
    fakes.take_record();
    // The stack and the zone reading it are no longer declared.
    let only_b = PROGRAM[PROGRAM.find("let fake").expect("fake provider")..]
        .replace("domain \"a.test\" {\n  provider = fake\n  records = [a(\"vm\", stack.cloud.outputs.vm.ipAddress)]\n}\n", "");
    fakes.repo.write("everything.ev", &only_b);
    let plan = fakes.ev(&["plan", "--allow-large-changes"]);
    assert!(
        plan.stdout.contains("- cloud:up") && plan.stdout.contains("- domain:a.test"),
        "{}",
        plan.stdout
    );
    let run = fakes.ev(&["apply", "--yes", "--allow-large-changes"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let record = fakes.take_record();
    assert_eq!(
        of_tool(&record, "pulumi"),
        vec![
            "pulumi stack select --create prod --non-interactive",
            "pulumi destroy --yes --stack prod --non-interactive",
        ]
    );
    assert_eq!(
        of_tool(&record, "octodns-sync"),
        vec!["octodns-sync --config-file config/a.test.yaml --doit --force a.test."]
    );
    assert!(
        !fakes
            .repo
            .path()
            .join("exports/cloud/generated.json")
            .exists(),
        "the export went with the stack"
    );
    assert_eq!(fakes.applied(), vec!["domain:b.test".to_string()]);
    assert!(fakes.ev(&["plan"]).stdout.contains("No changes"));
}

/// On a terminal, `ev apply` shows the plan and asks; only `yes` applies.
#[test]
fn apply_fake_asks_for_confirmation_on_a_terminal() {
    if support::tool("tmux").is_none() {
        return;
    }
    let fakes = Fakes::new();
    let tmux = support::Tmux::new("apply");
    let root = fakes.repo.path().to_string_lossy().into_owned();
    let ev = env!("CARGO_BIN_EXE_ev");
    let path = fakes.path();
    // `ev apply ARGS` in a fresh terminal session, reporting its exit code.
    let start = |args: &str| {
        tmux.run(&["kill-session", "-t", "ev"]);
        let script =
            format!("PATH='{path}' '{ev}' -C '{root}' apply {args} 2>&1; echo EXIT=$?; sleep 30");
        tmux.run(&[
            "new-session",
            "-d",
            "-s",
            "ev",
            "-x",
            "150",
            "-y",
            "50",
            "sh",
            "-c",
            &script,
        ]);
    };
    // A saved plan that cannot be read is refused before anything is asked.
    start("b.test");
    tmux.wait_for("EXIT=2");
    start("--target domain:b.test");
    tmux.wait_for("Only `yes` is accepted");
    let screen = tmux.screen();
    assert!(
        screen.contains("+ domain:b.test"),
        "the plan comes first:\n{screen}"
    );
    tmux.keys(&["no", "Enter"]);
    tmux.wait_for("Apply cancelled; nothing was changed.");
    tmux.wait_for("EXIT=1");
    assert!(fakes.take_record().is_empty(), "nothing ran");
    start("--target domain:b.test");
    tmux.wait_for("Only `yes` is accepted");
    tmux.keys(&["yes", "Enter"]);
    tmux.wait_for("EXIT=0");
    assert_eq!(fakes.applied(), vec!["domain:b.test".to_string()]);
}

/// A program that no longer evaluates once a producer's exports are known
/// (the stack writes no `ipv6Address`) stops the apply with the program's
/// own diagnostic, at its place in the sources; what ran is recorded.
#[test]
fn apply_fake_a_failed_re_evaluation_reports_the_programs_diagnostic() {
    let fakes = Fakes::new();
    fakes.repo.write(
        "everything.ev",
        &PROGRAM.replace(
            "records = [a(\"vm\", stack.cloud.outputs.vm.ipAddress)]",
            "records = [a(\"vm\", stack.cloud.outputs.vm.ipv6Address)]",
        ),
    );
    let run = fakes.ev(&["apply", "--yes"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains("[E0402] Error: no field `ipv6Address`"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("everything.ev:"),
        "at its place: {}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("E0604"),
        "not a state error: {}",
        run.stderr
    );
    let applied = fakes.applied();
    assert!(applied.contains(&"cloud:up".to_string()), "{applied:?}");
    assert!(
        !applied.contains(&"domain:a.test".to_string()),
        "{applied:?}"
    );
}

/// Exports from several producers are folded into one re-evaluation, made
/// when the first action reading them is about to start.
#[test]
fn apply_fake_re_evaluates_once_for_producers_finished_together() {
    let fakes = Fakes::new();
    let two_stacks = PROGRAM
        .replace(
            "let fake =",
            "stack cloud2 {\n  stack = \"prod\"\n  resources = [{ name = \"vm\", type = \"hcloud:index/server:Server\", properties = { name = \"vm2\" } }]\n  exports = { vm = { ipAddress = \"\\${vm.ipv4Address}\" } }\n}\n\nlet fake =",
        )
        .replace(
            "records = [a(\"vm\", stack.cloud.outputs.vm.ipAddress)]",
            "records = [a(\"vm\", stack.cloud.outputs.vm.ipAddress), a(\"vm2\", stack.cloud2.outputs.vm.ipAddress)]",
        );
    fakes.repo.write("everything.ev", &two_stacks);
    let run = fakes.ev(&["apply", "--yes"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let known: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("(known after cloud"))
        .collect();
    assert_eq!(known.len(), 2, "{}", run.stderr);
    assert!(
        known
            .iter()
            .all(|l| l.contains("cloud:up") && l.contains("cloud2:up")),
        "one re-evaluation after both stacks: {known:?}"
    );
}

/// Secret delivery (sops + age real, octodns faked to record its
/// environment): each zone's tool receives exactly the secrets its own
/// provider settings reference, under distinct names (`x_y` and `x.y`,
/// one key in two files); a TXT record spelling another secret's variable
/// delivers nothing; a tool echoing every secret (a multi-line PEM key, a
/// 3-byte value, one value the prefix of another) shows none of them in
/// ev's output, its logs, state, journal or any file left in the repository.
#[test]
fn apply_fake_secrets_reach_only_the_tool_that_declares_them() {
    if support::tools(&["sops", "age-keygen"]).is_none() {
        return;
    }
    let pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0pemcanary1\nAQEFAASCBKcwggSjAgEAAoIBpemcanary2\n-----END PRIVATE KEY-----";
    let secrets_a = "x_y: canary-underscore\nx:\n  y: canary-dotted\n";
    let secrets_b = format!(
        "x_y: canary-other-file\npem: |\n{}\nshort: q7z\npre: canary-pre\nprefixed: canary-pre-fix-longer\n",
        pem.lines().map(|l| format!("  {l}")).collect::<Vec<_>>().join("\n")
    );
    let name = |file: &str, key: &str| ev_deploy::markers::secret_env_name(file, key);
    let program = format!(
        r#"
let pa = {{ name = "pa", class = "octodns_fake.FakeProvider", settings = {{ token = secret("secrets/a.yaml", "x_y") }} }}
let pb = {{ name = "pb", class = "octodns_fake.FakeProvider", settings = {{
  token = secret("secrets/a.yaml", "x.y"),
  other = secret("secrets/b.yaml", "x_y"),
  pem = secret("secrets/b.yaml", "pem"),
  short = secret("secrets/b.yaml", "short"),
  pre = secret("secrets/b.yaml", "pre"),
  prefixed = secret("secrets/b.yaml", "prefixed"),
}} }}
domain "a.test" {{ provider = pa, records = [txt("note", "env/{spelled}")] }}
domain "b.test" {{ provider = pb, records = [] }}
"#,
        spelled = name("secrets/b.yaml", "pem")
    );
    let mut repo = Repo::new(&[("everything.ev", &program)]);
    repo.age_key();
    repo.sops_encrypt("secrets/a.yaml", secrets_a);
    repo.sops_encrypt("secrets/b.yaml", &secrets_b);
    // The fake writes what it received outside the repository.
    let seen = tempfile::tempdir().expect("dir");
    let bin = repo.path().join("fake-bin");
    std::fs::create_dir_all(&bin).expect("bin");
    let s = seen.path().to_string_lossy();
    write_script(
        &bin.join("octodns-sync"),
        &format!(
            r#"#!/bin/sh
for zone; do :; done
for n in $(env | grep -o '^EV_SECRET_[A-Z0-9_]*'); do
  printenv "$n" > "{s}/$zone$n"
  [ -e "{s}/echo" ] && printenv "$n" >&2
done
[ -e "{s}/echo" ] && {{ echo "Error: refusing $zone" >&2; exit 1; }}
echo '{{}}'
"#
        ),
    );
    let path = format!("{}:{}", bin.to_string_lossy(), support::tools_path());
    // First a failing run whose tool echoes every secret to its stderr.
    std::fs::write(seen.path().join("echo"), "").expect("flag");
    let failed = repo.ev_with_path(&["apply", "--yes"], &path);
    assert_eq!(failed.code, 1, "{}", failed.all());
    std::fs::remove_file(seen.path().join("echo")).expect("flag");
    let applied = repo.ev_with_path(&["apply", "--yes"], &path);
    assert_eq!(applied.code, 0, "{}", applied.all());

    let received = |zone: &str| -> std::collections::BTreeMap<String, String> {
        std::fs::read_dir(seen.path())
            .expect("seen")
            .flatten()
            .filter_map(|e| {
                let file = e.file_name().to_string_lossy().into_owned();
                let var = file.strip_prefix(&format!("{zone}."))?.to_string();
                let value = std::fs::read_to_string(e.path()).ok()?;
                Some((var, value.trim_end_matches('\n').to_string()))
            })
            .collect()
    };
    let expect = |pairs: &[(&str, &str, &str)]| -> std::collections::BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(f, k, v)| (name(f, k), v.to_string()))
            .collect()
    };
    assert_eq!(
        received("a.test"),
        expect(&[("secrets/a.yaml", "x_y", "canary-underscore")]),
        "a.test receives its own token only (not b's PEM its TXT spells)"
    );
    assert_eq!(
        received("b.test"),
        expect(&[
            ("secrets/a.yaml", "x.y", "canary-dotted"),
            ("secrets/b.yaml", "x_y", "canary-other-file"),
            ("secrets/b.yaml", "pem", pem),
            ("secrets/b.yaml", "short", "q7z"),
            ("secrets/b.yaml", "pre", "canary-pre"),
            ("secrets/b.yaml", "prefixed", "canary-pre-fix-longer"),
        ]),
    );
    // Nothing of any secret anywhere: outputs, logs, state, journal, build.
    let canaries = [
        "canary-underscore",
        "canary-dotted",
        "canary-other-file",
        "pemcanary1",
        "pemcanary2",
        "q7z",
        "canary-pre",
        "fix-longer",
    ];
    for canary in canaries {
        repo.assert_no_leak(&[&failed, &applied], canary);
    }
}

#[test]
fn apply_fake_failed_export_write_is_not_recorded_and_reruns() {
    let fakes = Fakes::new();
    // While `pulumi up` runs, the export's place is taken by a directory (a
    // full disk, a read-only mount or a permission error look the same to
    // ev): the write fails after the tool succeeded.
    let blocker = fakes.repo.path().join("exports/cloud/generated.json");
    std::fs::write(
        fakes.bin.join("block-export"),
        blocker.to_string_lossy().as_bytes(),
    )
    .expect("flag");
    let first = fakes.ev(&["apply", "--yes"]);
    assert_eq!(first.code, 1, "{}", first.all());
    assert!(
        first.stderr.contains(
            "its tool succeeded, but its export exports/cloud/generated.json could not be written"
        ),
        "{}",
        first.stderr
    );
    assert!(
        !fakes.applied().contains(&"cloud:up".to_string()),
        "an action whose export failed is not recorded: {:?}",
        fakes.applied()
    );
    assert!(
        first
            .stderr
            .contains("skipped: domain:a.test (cloud:up did not complete)"),
        "{}",
        first.stderr
    );
    fakes.take_record();

    fakes.unflag("block-export");
    std::fs::remove_dir_all(&blocker).expect("unblock");
    let second = fakes.ev(&["apply", "--yes"]);
    assert_eq!(second.code, 0, "{}", second.all());
    assert!(fakes
        .repo
        .read("exports/cloud/generated.json")
        .contains("203.0.113.50"));
    assert!(
        of_tool(&fakes.take_record(), "pulumi")
            .contains(&"pulumi up --yes --json --stack prod --non-interactive"),
        "the stack ran again to produce its outputs"
    );
}

/// The example's folders: everything `ev plan` reads from a fresh clone.
const EXAMPLE: &[&str] = &[
    "everything.ev",
    "eight",
    "exports",
    "flake-profiles",
    "jupiter",
    "magic",
    "milky-way",
    "secrets",
    "venus",
    "whale",
];

fn copy_tree(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).expect("mkdir");
        for entry in std::fs::read_dir(from).expect("readable").flatten() {
            copy_tree(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        std::fs::copy(from, to).expect("copy");
    }
}

/// The first apply of a fresh copy of the example, from a saved plan, with
/// a recording fake for every tool it drives: no action fails, and every
/// tool is run (issue 13: "the example's first apply fails").
#[test]
fn apply_fake_the_example_applies_from_a_saved_plan() {
    let repo = Repo::new(&[]);
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for entry in EXAMPLE {
        copy_tree(&source.join(entry), &repo.path().join(entry));
    }
    let root = repo.path().to_string_lossy().into_owned();
    support::sh("git", &["-C", &root, "init", "-q"]);
    support::sh("git", &["-C", &root, "add", "-A"]);
    let bin = repo.path().join("fake-bin");
    std::fs::create_dir_all(&bin).expect("bin");
    let record = bin.join("record").to_string_lossy().into_owned();
    let outputs = repo.path().join("exports/jupiter/generated.json");
    let outputs = outputs.to_string_lossy();
    // One script for every tool, by the name it is called by.
    let fake = format!(
        r#"#!/bin/sh
tool=$(basename "$0")
echo "$tool $*" >> {record}
[ "$tool $1 $2" = "nix --extra-experimental-features nix-command flakes" ] && shift 2
case "$tool $1" in
  "nix build") echo '[{{"drvPath": "/nix/store/x.drv", "outputs": {{"out": "/nix/store/aaaa-out"}}}}]' ;;
  "nix eval") printf /nix/store/aaaa-system ;;
  "skopeo copy")
    shift
    [ "$1" = --digestfile ] || {{ echo "unexpected argv: $*" >&2; exit 64; }}
    echo sha256:1111111111111111111111111111111111111111111111111111111111111111 > "$2" ;;
  "sops --disable-version-check") echo test-only-secret-value ;;
  "pulumi stack")
    case "$*" in
      "stack output --json --stack prod") cat {outputs} ;;
    esac ;;
  "pulumi config") cat > /dev/null ;;
  "pulumi up") echo '{{"result": "succeeded"}}' ;;
  "kubectl --context=milky-way")
    case "$*" in *'-f -') cat > /dev/null ;; esac ;;
  "octodns-sync --config-file") echo '{{}}' ;;
esac
exit 0
"#
    );
    for tool in [
        "nix",
        "skopeo",
        "sops",
        "pulumi",
        "kubectl",
        "octodns-sync",
        "deploy",
        "nixos-rebuild",
        "darwin-rebuild",
        "nix-env",
    ] {
        write_script(&bin.join(tool), &fake);
    }
    let path = format!("{}:/usr/bin:/bin", bin.to_string_lossy());
    let saved = repo.path().join("plan.json").to_string_lossy().into_owned();
    let plan = repo.ev_with_path(&["plan", "--out", &saved], &path);
    assert_eq!(plan.code, 0, "{}", plan.all());
    let apply = repo.ev_with_path(&["apply", &saved, "--parallelism", "2"], &path);
    assert_eq!(apply.code, 0, "{}", apply.all());
    let state: serde_json::Value =
        serde_json::from_str(&repo.read(".ev/state.json")).expect("the state is written");
    let applied: Vec<&String> = state["actions"]
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    let planned = serde_json::from_str::<serde_json::Value>(&repo.read("plan.json"))
        .expect("the plan")["actions"]
        .as_array()
        .map(|a| a.len())
        .unwrap_or(0);
    assert_eq!(
        applied.len(),
        planned,
        "every planned action applied: {applied:?}"
    );
    let recorded = std::fs::read_to_string(&record).expect("record");
    for tool in [
        "nix --extra-experimental-features nix-command flakes build",
        "skopeo copy",
        "sops --disable-version-check",
        "pulumi up",
        "kubectl --context=milky-way",
        "octodns-sync",
        "deploy",
        "nixos-rebuild",
        "darwin-rebuild",
    ] {
        assert!(
            recorded.lines().any(|l| l.starts_with(tool)),
            "`{tool}` never ran:\n{recorded}"
        );
    }
    // The pushed digests were exported and the apps pinning them re-planned.
    assert!(repo
        .read("exports/whale/digests/seadexarr.txt")
        .starts_with("sha256:1111"));
    // Applying again finds nothing to do.
    let again = repo.ev_with_path(&["plan", "--detailed-exitcode"], &path);
    assert_eq!(again.code, 0, "{}", again.all());
}

/// What `pulumi stack export` writes for the stack the fake runs.
const CLOUD_EXPORT: &str = r#"{
  "version": 3,
  "deployment": { "resources": [
    { "urn": "urn:pulumi:prod::cloud::pulumi:pulumi:Stack::cloud-prod", "custom": false, "type": "pulumi:pulumi:Stack",
      "outputs": { "vm": { "ipAddress": "203.0.113.50" } } },
    { "urn": "urn:pulumi:prod::cloud::pulumi:providers:hcloud::default_1_20_0", "custom": true, "id": "p", "type": "pulumi:providers:hcloud" },
    { "urn": "urn:pulumi:prod::cloud::hcloud:index/server:Server::vm", "custom": true, "id": "77", "type": "hcloud:index/server:Server",
      "parent": "urn:pulumi:prod::cloud::pulumi:pulumi:Stack::cloud-prod",
      "inputs": { "__defaults": [], "name": "vm", "serverType": "cx22" },
      "outputs": { "id": "77", "ipv4Address": "203.0.113.50" } }
  ] }
}"#;

/// A stack imported from its export plans and applies nothing; once its
/// declaration changes, Pulumi runs on the stack's own backend and stack.
#[test]
fn import_fake_pulumi_stack_plans_nothing_then_runs_on_its_own_backend() {
    let fakes = Fakes::new();
    fakes
        .repo
        .write("everything.ev", "# The cloud, imported.\n");
    fakes.repo.write("cloud.json", CLOUD_EXPORT);
    let export = fakes.repo.path().join("cloud.json");
    let imported = fakes.ev(&[
        "import",
        "pulumi",
        "--backend",
        "s3://test-only-state",
        &export.to_string_lossy(),
    ]);
    assert_eq!(imported.code, 0, "{}", imported.all());
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&fakes.repo.read("exports/cloud/generated.json"))
            .expect("the outputs"),
        serde_json::json!({ "vm": { "ipAddress": "203.0.113.50" } })
    );
    let plan = fakes.ev(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}", plan.all());
    let applied = fakes.ev(&["apply", "--yes"]);
    assert!(applied.stderr.contains("No changes"), "{}", applied.all());
    assert!(fakes.take_record().is_empty(), "a tool ran");

    let declared = fakes.repo.read("jupiter/cloud.ev");
    fakes.repo.write(
        "jupiter/cloud.ev",
        &declared.replace("\"cx22\"", "\"cx32\""),
    );
    // Pulumi must run on the stack's own backend, or it would see an
    // empty stack and create everything again.
    std::fs::write(fakes.bin.join("want-backend"), "s3://test-only-state").expect("flag");
    let changed = fakes.ev(&["apply", "--yes"]);
    assert_eq!(changed.code, 0, "{}", changed.all());
    assert_eq!(
        fakes.take_record(),
        [
            "pulumi stack select --create prod --non-interactive",
            "pulumi up --yes --json --stack prod --non-interactive",
            "pulumi stack output --json --stack prod",
        ]
    );
}
