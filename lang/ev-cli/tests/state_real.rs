//! Shared state on real servers started on 127.0.0.1: two clones of one
//! repository (two machines) apply DNS zones through octodns to PowerDNS
//! while their state, journal and lock live in PostgreSQL. What the
//! backend holds is read with the server's own client (psql), the zones
//! with dig. Without the tools the tests skip, unless EV_REAL_TOOLS=1.

mod support;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use support::{dig, powerdns, tools, tools_path, Postgres, PowerDns, Repo, Run, PDNS_KEY};

const PG_PASSWORD: &str = "test-only-state-password-canary-P5tG";
const ZONES: [&str; 4] = ["one.test", "two.test", "three.test", "four.test"];

/// The program: four zones whose `www` is `192.0.2.<last>`, the state in
/// PostgreSQL (or local files when `pg_port` is `None`).
fn program(pdns: &PowerDns, pg_port: Option<u16>, last: u8) -> String {
    let state = match pg_port {
        Some(port) => format!(
            r#"
environment prod {{
  default = true
  state = {{
    backend = "postgres",
    host = "127.0.0.1",
    port = {port},
    database = "postgres",
    user = "ev",
    password = secret("secrets/state.yaml", "postgres"),
    lease_seconds = 6,
  }}
}}
"#
        ),
        None => String::new(),
    };
    let zones: String = ZONES
        .iter()
        .map(|z| {
            format!(
                "domain \"{z}\" {{\n  provider = pdns\n  records = [a(\"www\", \"192.0.2.{last}\")]\n}}\n"
            )
        })
        .collect();
    format!(
        r#"{state}
let pdns = {{
  name = "pdns",
  class = "octodns_powerdns.PowerDnsProvider",
  settings = {{ host = "127.0.0.1", port = {}, api_key = secret("secrets/dns.yaml", "pdns.api_key") }},
}}

{zones}"#,
        pdns.api_port
    )
}

/// A clone of the repository on another machine: its own checkout, its own
/// age key, the same program.
fn machine() -> Repo {
    let mut repo = Repo::new(&[]);
    repo.age_key();
    repo.sops_encrypt(
        "secrets/dns.yaml",
        &format!("pdns:\n  api_key: {PDNS_KEY}\n"),
    );
    repo.sops_encrypt("secrets/state.yaml", &format!("postgres: {PG_PASSWORD}\n"));
    repo
}

fn ev(repo: &Repo, args: &[&str]) -> Run {
    repo.ev_with_path(args, &tools_path())
}

/// `ev apply --yes --parallelism 1` running in the background.
fn spawn_apply(repo: &Repo, extra: &[&str]) -> Child {
    let mut args = vec!["apply", "--yes", "--parallelism", "1"];
    args.extend_from_slice(extra);
    repo.command(&args, &tools_path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ev apply starts")
}

fn finish(child: Child) -> Run {
    let out = child.wait_with_output().expect("ev apply ends");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Waits until `sql` (through psql) answers something non-empty other
/// than `0`.
fn wait_for(pg: &Postgres, sql: &str, what: &str) -> String {
    let start = Instant::now();
    loop {
        if let Ok(answer) = pg.try_psql(sql) {
            let answer = answer.trim().to_string();
            if !answer.is_empty() && answer != "0" {
                return answer;
            }
        }
        assert!(start.elapsed() < Duration::from_secs(60), "never: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// How many lines the journal holds (as psql counts them).
const JOURNAL_LINES: &str = "SELECT length(convert_from(journal, 'UTF8')) - length(replace(convert_from(journal, 'UTF8'), E'\\n', '')) FROM ev_state WHERE workspace = 'prod'";

/// The recorded action ids, as the backend stores them (psql and jq-free:
/// the state's JSON parsed here).
fn recorded(pg: &Postgres) -> Vec<String> {
    let text = pg.psql("SELECT convert_from(state, 'UTF8') FROM ev_state WHERE workspace = 'prod'");
    let state: serde_json::Value = serde_json::from_str(&text).expect("the stored state is JSON");
    state["actions"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

fn all_zones_answer(pdns: &PowerDns, last: u8) {
    for zone in ZONES {
        assert_eq!(
            dig(pdns, &format!("www.{zone}"), "A"),
            format!("192.0.2.{last}"),
            "{zone}"
        );
    }
}

#[test]
fn state_real_postgres_shares_state_and_lease_between_machines() {
    if tools(&[
        "pdns_server",
        "sqlite3",
        "dig",
        "octodns-sync",
        "sops",
        "age-keygen",
        "psql",
    ])
    .is_none()
    {
        return;
    }
    let Some(mut pg) = Postgres::start(PG_PASSWORD) else {
        return;
    };
    let pdns = powerdns();
    let (a, b) = (machine(), machine());

    // Machine A starts with local state, then moves it to PostgreSQL.
    a.write("everything.ev", &program(&pdns, None, 1));
    let first = ev(&a, &["apply", "--yes"]);
    assert_eq!(first.code, 0, "{}", first.all());
    let local_bytes = std::fs::read(a.path().join(".ev/state.json")).expect("local state");
    a.write("everything.ev", &program(&pdns, Some(pg.port), 1));
    let unmigrated = ev(&a, &["plan"]);
    assert_eq!(unmigrated.code, 2, "{}", unmigrated.all());
    assert!(
        unmigrated.stderr.contains("[E0616]"),
        "{}",
        unmigrated.stderr
    );
    // Local → PostgreSQL → local → PostgreSQL: the same bytes each way.
    for (to, expect) in [("postgres", None), ("local", Some(())), ("postgres", None)] {
        let moved = ev(&a, &["state", "migrate", "--to", to]);
        assert_eq!(moved.code, 0, "{}", moved.all());
        assert!(
            moved.stderr.contains("read back and verified"),
            "{}",
            moved.stderr
        );
        if expect.is_some() {
            let back = std::fs::read(a.path().join(".ev/state.json")).expect("migrated back");
            assert_eq!(back, local_bytes, "the round trip is byte-identical");
        } else {
            assert!(!a.path().join(".ev/state.json").exists());
            assert!(
                a.path().join(".ev/state.json.migrated").exists(),
                "old copy kept"
            );
            let stored = pg
                .psql("SELECT encode(sha256(state), 'hex') FROM ev_state WHERE workspace = 'prod'");
            assert_eq!(
                stored.trim(),
                ev_deploy_digest(&local_bytes),
                "PostgreSQL holds the bytes"
            );
        }
    }
    assert_eq!(recorded(&pg).len(), ZONES.len());

    // Machine B, a fresh clone, sees the shared state: nothing to do.
    b.write("everything.ev", &program(&pdns, Some(pg.port), 1));
    let plan = ev(&b, &["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}", plan.all());

    // Two applies at once: one proceeds, the other is refused (E0602,
    // naming the holder), or waits with --lock-timeout and then finds
    // nothing left to do.
    a.write("everything.ev", &program(&pdns, Some(pg.port), 2));
    b.write("everything.ev", &program(&pdns, Some(pg.port), 2));
    let running = spawn_apply(&a, &[]);
    let holder = wait_for(&pg, "SELECT holder FROM ev_lock", "A holds the lock");
    let pid_a = running.id();
    assert!(holder.contains(&format!("\"pid\":{pid_a}")), "{holder}");
    let refused = ev(&b, &["apply", "--yes"]);
    assert_eq!(refused.code, 2, "{}", refused.all());
    assert!(
        refused.stderr.contains("[E0602]") && refused.stderr.contains(&format!("pid {pid_a}")),
        "{}",
        refused.stderr
    );
    let waited = ev(&b, &["apply", "--yes", "--lock-timeout", "120"]);
    let applied = finish(running);
    assert_eq!(applied.code, 0, "{}", applied.all());
    assert_eq!(waited.code, 0, "{}", waited.all());
    assert!(waited.stderr.contains("No changes"), "{}", waited.all());
    all_zones_answer(&pdns, 2);
    assert_eq!(
        pg.psql("SELECT count(*) FROM ev_lock").trim(),
        "0",
        "released"
    );

    // kill -9 of the holder mid-apply: its lease stays until it expires,
    // then the next apply takes over, says whose lease it was, replays
    // what the dead one recorded and finishes.
    a.write("everything.ev", &program(&pdns, Some(pg.port), 3));
    b.write("everything.ev", &program(&pdns, Some(pg.port), 3));
    let mut running = spawn_apply(&a, &[]);
    wait_for(&pg, JOURNAL_LINES, "A recorded a zone");
    let pid_a = running.id();
    running.kill().expect("kill -9");
    let _ = running.wait();
    let still_held = ev(&b, &["apply", "--yes"]);
    assert_eq!(still_held.code, 2, "{}", still_held.all());
    assert!(
        still_held.stderr.contains("[E0602]"),
        "{}",
        still_held.stderr
    );
    let plan = ev(&b, &["plan"]);
    let unchanged: usize = plan
        .stdout
        .rsplit_once(" unchanged")
        .and_then(|(before, _)| before.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        unchanged >= 1,
        "the dead apply's records are read from its journal: {}",
        plan.stdout
    );
    let took_over = ev(&b, &["apply", "--yes", "--lock-timeout", "60"]);
    assert_eq!(took_over.code, 0, "{}", took_over.all());
    assert!(
        took_over
            .stderr
            .contains("took over the apply lock of a holder that died (lock ")
            && took_over.stderr.contains(&format!("pid {pid_a} on")),
        "{}",
        took_over.stderr
    );
    all_zones_answer(&pdns, 3);
    assert_eq!(recorded(&pg).len(), ZONES.len());
    assert_eq!(
        pg.psql(JOURNAL_LINES).trim(),
        "0",
        "the journal is folded in"
    );

    // A holder paused past its lease (SIGSTOP) is taken over; when it
    // wakes, its next record is refused (E0615), so it never writes over
    // its successor's state.
    a.write("everything.ev", &program(&pdns, Some(pg.port), 5));
    b.write("everything.ev", &program(&pdns, Some(pg.port), 5));
    let paused = spawn_apply(&a, &[]);
    wait_for(&pg, JOURNAL_LINES, "A recorded a zone");
    signal(&paused, "-STOP");
    let successor = ev(&b, &["apply", "--yes", "--lock-timeout", "60"]);
    assert!(
        successor.stderr.contains("took over"),
        "{}",
        successor.stderr
    );
    // The paused apply's tool was not paused with it: while it synced the
    // zone it was on, PowerDNS may have refused the successor's sync of
    // that zone (exit 1, recorded as failed); a re-run below converges.
    assert!(
        successor.code == 0 || successor.code == 1,
        "{}",
        successor.all()
    );
    let generation = pg.psql("SELECT generation FROM ev_state");
    signal(&paused, "-CONT");
    let woken = finish(paused);
    assert_ne!(woken.code, 0, "{}", woken.all());
    assert!(
        woken.stderr.contains("[E0615]") && woken.stderr.contains("is no longer this process's"),
        "{}",
        woken.stderr
    );
    assert_eq!(
        pg.psql("SELECT generation FROM ev_state"),
        generation,
        "it wrote nothing"
    );
    let converged = ev(&b, &["apply", "--yes"]);
    assert_eq!(converged.code, 0, "{}", converged.all());
    all_zones_answer(&pdns, 5);
    assert_eq!(ev(&b, &["plan", "--detailed-exitcode"]).code, 0);

    // PostgreSQL stopped mid-apply: ev stops with E0614; after a restart
    // the stale lease is removed with force-unlock and a re-run completes.
    a.write("everything.ev", &program(&pdns, Some(pg.port), 6));
    b.write("everything.ev", &program(&pdns, Some(pg.port), 6));
    let running = spawn_apply(&a, &[]);
    wait_for(&pg, JOURNAL_LINES, "A recorded a zone");
    let lease = pg.psql("SELECT id FROM ev_lock").trim().to_string();
    pg.stop();
    let cut_off = finish(running);
    assert_ne!(cut_off.code, 0, "{}", cut_off.all());
    assert!(
        cut_off.stderr.contains("[E0614]") && cut_off.stderr.contains("postgres ev@127.0.0.1"),
        "{}",
        cut_off.stderr
    );
    let down = ev(&b, &["plan"]);
    assert_eq!(down.code, 2, "{}", down.all());
    assert!(down.stderr.contains("[E0614]"), "{}", down.stderr);
    pg.restart();
    let unlocked = ev(&b, &["force-unlock", &lease]);
    assert_eq!(unlocked.code, 0, "{}", unlocked.all());
    let rerun = ev(&b, &["apply", "--yes"]);
    assert_eq!(rerun.code, 0, "{}", rerun.all());
    all_zones_answer(&pdns, 6);
    assert_eq!(ev(&a, &["plan", "--detailed-exitcode"]).code, 0);
    // No secret reached the bytes PostgreSQL stores.
    // (bytea as text: in hex a canary would go unseen)
    let dump = pg.psql("SELECT * FROM ev_lock")
        + &pg.psql("SELECT workspace, generation, convert_from(state, 'UTF8'), convert_from(journal, 'UTF8') FROM ev_state");
    assert!(dump.contains("domain:one.test"), "{dump}");
    for canary in [PDNS_KEY, PG_PASSWORD] {
        assert!(!dump.contains(canary), "a secret reached PostgreSQL");
    }

    // Back to local files on machine A: the bytes PostgreSQL held.
    let held =
        pg.psql("SELECT encode(sha256(state), 'hex') FROM ev_state WHERE workspace = 'prod'");
    let home = ev(&a, &["state", "migrate", "--to", "local"]);
    assert_eq!(home.code, 0, "{}", home.all());
    let local = std::fs::read(a.path().join(".ev/state.json")).expect("local again");
    assert_eq!(ev_deploy_digest(&local), held.trim());
    assert_eq!(pg.psql("SELECT count(*) FROM ev_state").trim(), "0");

    // Nor ev's outputs and files.
    for canary in [PDNS_KEY, PG_PASSWORD] {
        a.assert_no_leak(&[&first, &applied, &took_over, &cut_off, &home], canary);
        b.assert_no_leak(&[&waited, &rerun, &refused], canary);
    }
}

/// `kill SIGNAL` of a running apply.
fn signal(child: &Child, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

/// The hex SHA-256 of bytes, as ev and PostgreSQL's `sha256` give it.
fn ev_deploy_digest(bytes: &[u8]) -> String {
    ev_deploy::plan::state::hex_sha256(bytes)
}
