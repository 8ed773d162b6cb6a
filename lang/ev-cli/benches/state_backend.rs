//! State backend benchmark: what keeping the state on each backend costs
//! an apply. For local files, PostgreSQL, a Kubernetes API server and an
//! S3-compatible server (s3s-fs) on loopback (servers of their own, as the
//! tests start them), 200 rounds (30
//! through kubectl, which starts a process for each) of each operation an apply
//! makes on a state of 100 recorded actions: taking and releasing the lock
//! (`Lease::acquire` + drop), reading the state, writing it whole, and
//! appending one journal line (what every finished action costs). Prints
//! the median and 90th percentile in milliseconds; asserts nothing.
//!
//! Run with `cargo bench -p ev-cli --bench state_backend` (a server that
//! is not installed is skipped: `scripts/install-tools.sh`).

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use ev_apply::state_backend::kubernetes::{Kubernetes, Reach};
use ev_apply::state_backend::local::Local;
use ev_apply::state_backend::postgres::{Connection, Postgres};
use ev_apply::state_backend::s3::{Endpoint, S3};
use ev_apply::state_backend::{Lease, StateBackend};
use ev_deploy::plan::state::{ActionState, EvDir, JournalEntry, State};

const ACTIONS: usize = 100;

/// A state of `ACTIONS` recorded image pushes (each a few hundred bytes).
fn state() -> State {
    let mut state = State::empty();
    for i in 0..ACTIONS {
        let entry = ActionState {
            backend: "registry".into(),
            fingerprint: format!("{i:064x}"),
            artifact: ev_deploy::Artifact::Registry(ev_deploy::backends::registry::Recipe {
                name: format!("image-{i}"),
                repository: format!("registry.example.org/team/image-{i}"),
                tags: vec!["latest".into()],
                build: ev_deploy::backends::registry::ImageBuild::Nix {
                    flake: ".".into(),
                    attribute: format!("image-{i}"),
                },
                digest_file: format!("exports/whale/digests/image-{i}.txt"),
                tls_verify: true,
            }),
            protected: false,
            inputs: Default::default(),
            outputs: [("digest".to_string(), format!("sha256:{i:064x}"))].into(),
            secrets: Vec::new(),
        };
        state.actions.insert(format!("whale:image-{i}"), entry);
    }
    state
}

fn median_p90(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    (
        ms(samples[samples.len() / 2]),
        ms(samples[samples.len() * 9 / 10]),
    )
}

fn bench(name: &str, backend: Arc<dyn StateBackend>, rounds: usize) {
    let state = state();
    let text = state.to_text();
    let line = JournalEntry {
        id: "whale:image-0".into(),
        applied: state.actions.get("whale:image-0").cloned(),
    }
    .to_line();
    let time = |f: &mut dyn FnMut()| {
        (0..rounds)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed()
            })
            .collect::<Vec<_>>()
    };
    let lock = time(&mut || {
        drop(Lease::acquire(backend.clone(), Duration::ZERO).expect("the lock"));
    });
    let lease = Lease::acquire(backend.clone(), Duration::ZERO).expect("the lock");
    let mut version = backend.read().expect("read").version;
    let write = time(&mut || {
        version = backend
            .write(text.as_bytes(), &version, &lease.holder)
            .expect("write");
    });
    let append = time(&mut || {
        version = backend
            .append(line.as_bytes(), &version, &lease.holder)
            .expect("append");
    });
    let read = time(&mut || {
        backend.read().expect("read");
    });
    drop(lease);
    println!(
        "{name} ({} bytes of state, {ACTIONS} actions, {rounds} rounds):",
        text.len()
    );
    for (op, samples) in [
        ("lock + release", lock),
        ("read", read),
        ("write whole state", write),
        ("append a journal line", append),
    ] {
        let (median, p90) = median_p90(samples);
        println!("  {op:<22} median {median:7.3} ms   p90 {p90:7.3} ms");
    }
}

fn main() {
    let dir = tempfile::tempdir().expect("dir");
    bench(
        "local files (.ev/)",
        Arc::new(Local::new(dir.path(), &EvDir::default())),
        200,
    );
    match support::Postgres::start("test-only-bench-password") {
        Some(pg) => bench(
            "PostgreSQL 127.0.0.1",
            Arc::new(Postgres::new(
                Connection {
                    host: "127.0.0.1".into(),
                    port: pg.port,
                    database: "postgres".into(),
                    user: pg.user.into(),
                    password: Some(pg.password.into()),
                    tls: Some(Some(pg.ca.clone())),
                },
                "bench",
                Duration::from_secs(60),
            )),
            200,
        ),
        None => println!("PostgreSQL: skipped (not installed)"),
    }
    if support::tools(&support::KUBE_TOOLS).is_some() {
        let kube = support::kube();
        let certificate = std::fs::read_to_string(&kube.certificate).expect("certificate");
        bench(
            "Kubernetes API server 127.0.0.1 (kubectl)",
            Arc::new(
                Kubernetes::new(
                    dir.path(),
                    Reach::Server {
                        url: kube.server.clone(),
                        certificate_authority: Some(certificate),
                        token: support::KUBE_TOKEN.into(),
                    },
                    "default",
                    "bench",
                    Duration::from_secs(60),
                )
                .expect("the backend"),
            ),
            30,
        );
    } else {
        println!("Kubernetes: skipped (not installed)");
    }
    if support::tools(&support::S3_TOOLS).is_some() {
        let server = support::s3();
        bench(
            "S3-compatible server 127.0.0.1 (s3s-fs)",
            Arc::new(
                S3::new(
                    Endpoint {
                        url: server.endpoint.clone(),
                        bucket: support::S3_BUCKET.into(),
                        region: "us-east-1".into(),
                        path_style: true,
                        certificate_authority: None,
                        access_key_id: support::S3_ACCESS_KEY.into(),
                        secret_access_key: support::S3_SECRET_KEY.into(),
                        session_token: None,
                    },
                    "ev",
                    "bench",
                    Duration::from_secs(60),
                )
                .expect("the backend"),
            ),
            200,
        );
    } else {
        println!("S3: skipped (not installed)");
    }
}
