//! The local sandbox end to end: `scripts/sandbox.sh` applies the example's
//! `local` environment to real servers on loopback (PowerDNS, a registry,
//! a Kubernetes API server, Nix profiles), checks the result through each
//! tool's own client, proves a second plan is empty and applies an edit.
//! Run twice — once as is, once with `ev` killed (SIGKILL) in the middle of
//! its first apply — what the tools report must be the same: nothing lost,
//! nothing applied twice.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// What the sandbox needs beyond ev.
const TOOLS: [&str; 14] = [
    "pdns_server",
    "sqlite3",
    "dig",
    "docker-registry",
    "skopeo",
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kubectl",
    "openssl",
    "nix",
    "nix-env",
    "sops",
    "octodns-sync",
];

/// Runs the sandbox script; what the tools answered, by key.
fn sandbox(kill: bool) -> BTreeMap<String, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let report = tempfile::NamedTempFile::new().expect("report file");
    let mut cmd = Command::new(root.join("scripts/sandbox.sh"));
    cmd.env("EV", env!("CARGO_BIN_EXE_ev"))
        .env("EV_SANDBOX_NO_INSTALL", "1")
        .env("EV_SANDBOX_REPORT", report.path())
        .env("PATH", support::tools_path());
    if kill {
        cmd.env("EV_SANDBOX_KILL", "1");
    }
    let out = cmd.output().expect("the sandbox script runs");
    assert!(
        out.status.success(),
        "scripts/sandbox.sh failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The sandbox's secrets (secrets/local.yaml) never reach ev's output;
    // the script itself looks for every secret in what ev wrote.
    for canary in ["test-only-local-pdns-api-key", "test-only-local-kube-token"] {
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains(canary)
                && !String::from_utf8_lossy(&out.stderr).contains(canary),
            "{canary} was printed"
        );
    }
    std::fs::read_to_string(report.path())
        .expect("the report")
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn sandbox_real_applies_the_whole_example_and_survives_a_kill() {
    if support::tools(&TOOLS).is_none() {
        return;
    }
    let clean = sandbox(false);
    // Through the tools' own clients: dig, skopeo, kubectl, the profiles.
    assert_eq!(clean["dig:yuto.sh:A"], "192.0.2.10");
    assert_eq!(
        clean["dig:ethane.yuto.sh:A"], "203.0.113.7",
        "from the recorded jupiter outputs"
    );
    assert_eq!(clean["dig:yuto.sh:A:edited"], "192.0.2.11");
    for zone in [
        "andref.app",
        "yart.me",
        "yut.to",
        "yuto.ink",
        "yuto.sh",
        "yuto.wiki",
    ] {
        assert!(clean[&format!("dig:{zone}:SOA")].starts_with(&format!("ns1.{zone}. ")));
    }
    for image in [
        "grand-central",
        "example-image",
        "andref-ipfs-depot",
        "autobrr",
        "seadexarr",
    ] {
        assert!(clean[&format!("skopeo:{image}")].starts_with("sha256:"));
    }
    assert!(clean["kubectl:grand-central:image"].ends_with(&format!(
        "/yutotakano/grand-central@{}",
        clean["skopeo:grand-central"]
    )));
    assert_eq!(
        clean["kubectl:deployments"].trim(),
        "apps/andref-ipfs-depot apps/autobrr apps/ddns-updater apps/example-image apps/grand-central \
         apps/homepage apps/http-echo apps/jellyfin apps/postgres apps/seadexarr apps/uptime-kuma \
         downloads/qbittorrent traefik/traefik"
    );
    assert!(clean["kubectl:http-echo:args"].contains("hello from the sandbox"));
    assert_eq!(clean["secrets:leaked"], "none");
    for machine in [
        "sodium",
        "methanol",
        "ethane",
        "nixie",
        "serverref",
        "tilderef",
        "propane",
    ] {
        let system = &clean[&format!("profile:{machine}")];
        assert!(
            system.starts_with("/nix/store/")
                && system.ends_with(&format!("-nixos-system-{machine}")),
            "{system}"
        );
    }

    // Killed in the middle and applied again, the servers hold the same.
    let killed = sandbox(true);
    let without_ports = |report: &BTreeMap<String, String>| -> BTreeMap<String, String> {
        report
            .iter()
            .map(|(k, v)| {
                let v = match v.split_once("127.0.0.1:") {
                    Some((before, after)) => {
                        let rest = after.trim_start_matches(|c: char| c.is_ascii_digit());
                        format!("{before}127.0.0.1:PORT{rest}")
                    }
                    None => v.clone(),
                };
                (k.clone(), v)
            })
            .collect()
    };
    assert_eq!(without_ports(&killed), without_ports(&clean));
}
