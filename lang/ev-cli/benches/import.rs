//! Import benchmarks. `ev import dns` of one zone of 10,000 record sets
//! (A, AAAA, TXT, MX, SRV and CNAME sets, some with TTLs and Cloudflare
//! options), as `octodns-dump` would write it, into a repository that
//! declares only the `octodns_config`: reading the file, writing the `.ev`
//! file, evaluating the program with it, comparing what it renders with
//! what was read, and recording it in the state. Times the release `ev`
//! binary, 5 runs in fresh repositories; prints the median and the
//! fastest; asserts nothing. Then `ev import k8s` of a manifest stream of
//! 1,000 objects (Deployments, Services and ConfigMaps, as `helm
//! template` writes them) into a repository declaring only the cluster,
//! the same way.
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

/// The manifest stream: a third each of Deployments, Services and
/// ConfigMaps.
fn manifests() -> String {
    let mut text = String::new();
    for i in 0..OBJECTS {
        let name = format!("svc{:04}", i / 3);
        let _ = match i % 3 {
            0 => writeln!(
                text,
                "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  namespace: shop\n  labels: {{app: {name}, tier: back}}\nspec:\n  replicas: 2\n  selector:\n    matchLabels: {{app: {name}}}\n  template:\n    metadata:\n      labels: {{app: {name}}}\n    spec:\n      containers:\n      - name: app\n        image: docker.io/example/{name}:1.{i}\n        ports: [{{containerPort: 8080, name: http}}]\n        env: [{{name: MODE, value: fast}}]"
            ),
            1 => writeln!(
                text,
                "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  namespace: shop\nspec:\n  selector: {{app: {name}}}\n  ports: [{{name: http, port: 80, targetPort: http}}]"
            ),
            _ => writeln!(
                text,
                "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: shop\ndata:\n  mode: fast\n  replicas: \"{i}\""
            ),
        };
    }
    text
}

const OBJECTS: usize = 1_000;

/// Runs `ev ARGS` in a fresh repository holding `files`, `RUNS` times;
/// prints the median and the fastest with `what`.
fn measure(ev: &std::path::Path, files: &[(&str, &str)], args: &[&str], what: &str) {
    let mut samples = Vec::new();
    for _ in 0..RUNS {
        let dir = tempfile::tempdir().expect("dir");
        for (path, text) in files {
            std::fs::write(dir.path().join(path), text).expect("write");
        }
        let start = Instant::now();
        let out = Command::new(ev)
            .current_dir(dir.path())
            .args(args)
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
    println!("{what}, {RUNS} runs:");
    println!(
        "  median {:.0} ms   fastest {:.0} ms",
        ms(samples[RUNS / 2]),
        ms(samples[0])
    );
}

fn main() {
    let ev = common::release_ev();
    let stream = manifests();
    let text = zone();
    measure(
        &ev,
        &[
            (
                "everything.ev",
                "cluster home {\n  context = \"home\"\n  namespace = \"shop\"\n}\n",
            ),
            ("shop.yaml", &stream),
        ],
        &["import", "k8s", "--cluster", "home", "shop.yaml"],
        &format!(
            "ev import k8s, a stream of {OBJECTS} objects ({} KB of YAML)",
            stream.len() / 1024
        ),
    );
    measure(
        &ev,
        &[
            (
                "everything.ev",
                "let pdns = { name = \"pdns\", class = \"octodns_powerdns.PowerDnsProvider\" }\noctodns_config shared {\n  provider = pdns\n  ttl = 3600\n}\n",
            ),
            ("big.example.test.yaml", &text),
        ],
        &["import", "dns", "--config", "shared", "big.example.test.yaml"],
        &format!(
            "ev import dns, one zone of {RECORD_SETS} record sets ({} KB of YAML)",
            text.len() / 1024
        ),
    );
}
