//! Import benchmark: `ev import dns` of one zone of 10,000 record sets
//! (A, AAAA, TXT, MX, SRV and CNAME sets, some with TTLs and Cloudflare
//! options), as `octodns-dump` would write it, into a repository that
//! declares only the `octodns_config`: reading the file, writing the `.ev`
//! file, evaluating the program with it, comparing what it renders with
//! what was read, and recording it in the state. Times the release `ev`
//! binary, 5 runs in fresh repositories; prints the median and the
//! fastest; asserts nothing.
//!
//! Run with `cargo bench -p ev-cli --bench import`.

mod common;

use std::fmt::Write as _;
use std::process::Command;
use std::time::{Duration, Instant};

const RECORD_SETS: usize = 10_000;
const RUNS: usize = 5;

/// The zone file.
fn zone() -> String {
    let mut text = String::from("---\n");
    for i in 0..RECORD_SETS {
        let name = format!("host{i:05}");
        let _ = match i % 6 {
            0 => writeln!(
                text,
                "{name}:\n  type: A\n  values:\n  - 192.0.2.{}\n  - 198.51.100.{}",
                i % 250,
                i % 200
            ),
            1 => writeln!(text, "{name}:\n  ttl: 60\n  type: AAAA\n  value: 2001:db8::{:x}", i),
            2 => writeln!(text, "{name}:\n  type: TXT\n  value: v=spf1 ip4:192.0.2.{} -all", i % 250),
            3 => writeln!(
                text,
                "{name}:\n  type: MX\n  values:\n  - exchange: mx1.example.test.\n    preference: 10\n  - exchange: mx2.example.test.\n    preference: 20"
            ),
            4 => writeln!(
                text,
                "_sip._tcp.{name}:\n  type: SRV\n  value:\n    port: 5060\n    priority: 10\n    target: sip.example.test.\n    weight: 5"
            ),
            _ => writeln!(
                text,
                "{name}:\n  octodns:\n    cloudflare:\n      proxied: true\n  type: CNAME\n  value: cdn.example.test."
            ),
        };
    }
    text
}

fn main() {
    let ev = common::release_ev();
    let text = zone();
    let mut samples = Vec::new();
    for _ in 0..RUNS {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(
            dir.path().join("everything.ev"),
            "let pdns = { name = \"pdns\", class = \"octodns_powerdns.PowerDnsProvider\" }\noctodns_config shared {\n  provider = pdns\n  ttl = 3600\n}\n",
        )
        .expect("write");
        std::fs::write(dir.path().join("big.example.test.yaml"), &text).expect("write");
        let start = Instant::now();
        let out = Command::new(&ev)
            .current_dir(dir.path())
            .args([
                "import",
                "dns",
                "--config",
                "shared",
                "big.example.test.yaml",
            ])
            .output()
            .expect("ev runs");
        let took = start.elapsed();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        samples.push(took);
    }
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "ev import dns, one zone of {RECORD_SETS} record sets ({} KB of YAML), {RUNS} runs:",
        text.len() / 1024
    );
    println!(
        "  median {:.0} ms   fastest {:.0} ms",
        ms(samples[RUNS / 2]),
        ms(samples[0])
    );
}
