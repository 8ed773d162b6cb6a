//! `ev apply` against real tools and servers on 127.0.0.1: PowerDNS through
//! octodns, a docker-registry through skopeo, a Kubernetes API server
//! through kubectl, Nix building and activating a profile, sops + age for
//! secrets. Each test starts its servers on free ports and stops them; the
//! results are read back with the tools' own clients (dig, skopeo, kubectl,
//! readlink). Without the tools the tests skip, unless EV_REAL_TOOLS=1.

mod support;

use std::time::Duration;

use support::{
    apiserver_trouble, dig, free_port, kube, kubectl, new_ca, powerdns, sh, tools, wait_port, Kube,
    Repo, Server, DNS_TOOLS, KUBE_TOKEN, KUBE_TOOLS, PDNS_KEY,
};

fn zone_program(api_port: u16, records: &str) -> String {
    format!(
        r#"let pdns = {{
  name = "pdns",
  class = "octodns_powerdns.PowerDnsProvider",
  settings = {{ host = "127.0.0.1", port = {api_port}, api_key = secret("secrets/dns.yaml", "pdns.api_key") }},
  env = {{ api_key = "PDNS_API_KEY" }},
}}

domain "example.test" {{
  provider = pdns
  records = [
{records}
  ]
}}
"#
    )
}

#[test]
fn apply_real_dns_through_octodns_to_powerdns() {
    if tools(&DNS_TOOLS).is_none() {
        return;
    }
    let pdns = powerdns();
    let mut repo = Repo::new(&[]);
    repo.age_key();
    repo.sops_encrypt(
        "secrets/dns.yaml",
        &format!("pdns:\n  api_key: {PDNS_KEY}\n"),
    );
    let records = |www: &str, extra: bool| {
        let mut r = format!("    a(\"www\", \"{www}\"),\n    txt(\"\", \"v=ev-test\"),\n");
        if extra {
            r.push_str("    a(\"api\", \"192.0.2.20\"),\n");
        }
        zone_program(pdns.api_port, &r)
    };
    repo.write("everything.ev", &records("192.0.2.10", true));

    let first = repo.ev(&["apply", "--yes"]);
    assert_eq!(first.code, 0, "{}", first.all());
    assert_eq!(dig(&pdns, "www.example.test", "A"), "192.0.2.10");
    assert_eq!(dig(&pdns, "api.example.test", "A"), "192.0.2.20");
    assert_eq!(dig(&pdns, "example.test", "TXT"), "\"v=ev-test\"");

    // One changed record is one update in the plan, then in the server.
    repo.write("everything.ev", &records("192.0.2.11", true));
    let plan = repo.ev(&["plan"]);
    assert!(
        plan.stdout
            .contains("~ www A\n          values: [\"192.0.2.10\"] → [\"192.0.2.11\"]"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("actions: 0 to create, 1 to update, 0 to delete"),
        "{}",
        plan.stdout
    );
    let refresh = repo.ev(&["plan", "--refresh"]);
    assert!(
        refresh
            .stdout
            .contains("domain:example.test: differs from the live system:\n      ~ www A"),
        "{}",
        refresh.stdout
    );
    assert_eq!(repo.ev(&["apply", "--yes"]).code, 0);
    assert_eq!(dig(&pdns, "www.example.test", "A"), "192.0.2.11");

    // A removed record is deleted.
    repo.write("everything.ev", &records("192.0.2.11", false));
    let removed = repo.ev(&["apply", "--yes", "--allow-large-changes"]);
    assert_eq!(removed.code, 0, "{}", removed.all());
    assert!(removed.stderr.contains("- api A"), "{}", removed.stderr);
    assert_eq!(dig(&pdns, "api.example.test", "A"), "");
    assert_eq!(dig(&pdns, "www.example.test", "A"), "192.0.2.11");

    // The API key reached octodns under the variable the program named.
    let config = std::fs::read_to_string(
        repo.path()
            .join(".ev/build/octodns/config/example.test.yaml"),
    )
    .expect("the zone's config");
    assert!(config.contains("api_key: env/PDNS_API_KEY"), "{config}");

    // Nothing left to do, and the live zone agrees.
    let again = repo.ev(&["apply", "--yes"]);
    assert_eq!(again.code, 0);
    assert!(again.stderr.contains("No changes"), "{}", again.stderr);
    let refresh = repo.ev(&["plan", "--refresh"]);
    assert!(
        refresh.stdout.contains("domain:example.test: in sync"),
        "{}",
        refresh.stdout
    );

    // A second zone, applied, then no longer declared: its records go.
    let with_other = format!(
        "{}\ndomain \"other.test\" {{\n  provider = pdns\n  records = [a(\"www\", \"192.0.2.77\")]\n}}\n",
        records("192.0.2.11", false)
    );
    repo.write("everything.ev", &with_other);
    assert_eq!(repo.ev(&["apply", "--yes"]).code, 0);
    assert_eq!(dig(&pdns, "www.other.test", "A"), "192.0.2.77");
    repo.write("everything.ev", &records("192.0.2.11", false));
    let plan = repo.ev(&["plan", "--allow-large-changes"]);
    assert!(
        plan.stdout
            .contains("- domain:other.test  octodns   delete")
            && plan
                .stdout
                .contains("actions: 0 to create, 0 to update, 1 to delete"),
        "only the removed zone changes: {}",
        plan.stdout
    );
    let removed_zone = repo.ev(&["apply", "--yes", "--allow-large-changes"]);
    assert_eq!(removed_zone.code, 0, "{}", removed_zone.all());
    assert_eq!(dig(&pdns, "www.other.test", "A"), "");
    assert_eq!(dig(&pdns, "www.example.test", "A"), "192.0.2.11");

    // A record another tool keeps (a dynamic address), declared ignored:
    // octodns neither changes nor deletes it.
    sh(
        "pdnsutil",
        &[
            &format!("--config-dir={}", pdns.dir.path().display()),
            "add-record",
            "example.test",
            "home-ddns",
            "A",
            "300",
            "192.0.2.99",
        ],
    );
    let ignoring = zone_program(
        pdns.api_port,
        "    a(\"www\", \"192.0.2.11\"),\n    txt(\"\", \"v=ev-test\"),\n    a(\"home-ddns\", \"192.0.2.1\", ignored = true),\n",
    );
    repo.write("everything.ev", &ignoring);
    let ignored = repo.ev(&["apply", "--yes"]);
    assert_eq!(ignored.code, 0, "{}", ignored.all());
    assert_eq!(dig(&pdns, "home-ddns.example.test", "A"), "192.0.2.99");

    // Two zones listed in one shared config (one file, as a repository run
    // by hand keeps it), with the config's default TTL; then one of them
    // leaves the program and only its records go.
    let shared = |with_b: bool| {
        let mut program = format!(
            "{ignoring}\noctodns_config shared {{\n  provider = pdns\n  ttl = 120\n}}\n\
             domain \"shared-a.test\" {{\n  config = \"shared\"\n  records = [a(\"www\", \"192.0.2.81\")]\n}}\n"
        );
        if with_b {
            program.push_str(
                "domain \"shared-b.test\" {\n  config = \"shared\"\n  ttl = 60\n  records = [a(\"www\", \"192.0.2.82\")]\n}\n",
            );
        }
        program
    };
    repo.write("everything.ev", &shared(true));
    let joined = repo.ev(&["apply", "--yes"]);
    assert_eq!(joined.code, 0, "{}", joined.all());
    let answer = |name: &str| {
        sh(
            "dig",
            &[
                "@127.0.0.1",
                "-p",
                &pdns.dns_port.to_string(),
                "+noall",
                "+answer",
                name,
                "A",
            ],
        )
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
    };
    assert_eq!(
        answer("www.shared-a.test"),
        "www.shared-a.test. 120 IN A 192.0.2.81"
    );
    assert_eq!(
        answer("www.shared-b.test"),
        "www.shared-b.test. 60 IN A 192.0.2.82"
    );
    let config = std::fs::read_to_string(repo.path().join(".ev/build/octodns/config/shared.yaml"))
        .expect("the shared config");
    assert!(
        config.contains("shared-a.test.:") && config.contains("shared-b.test.:"),
        "{config}"
    );
    assert!(config.contains("default_ttl: 120"), "{config}");
    repo.write("everything.ev", &shared(false));
    let left = repo.ev(&["apply", "--yes", "--allow-large-changes"]);
    assert_eq!(left.code, 0, "{}", left.all());
    assert_eq!(dig(&pdns, "www.shared-b.test", "A"), "");
    assert_eq!(dig(&pdns, "www.shared-a.test", "A"), "192.0.2.81");
    assert!(repo.ev(&["apply", "--yes"]).stderr.contains("No changes"));

    // The API key (a secret) reached octodns only through its environment.
    repo.assert_no_leak(
        &[
            &first, &plan, &removed, &again, &refresh, &ignored, &joined, &left,
        ],
        PDNS_KEY,
    );
}

/// A CNCF distribution registry on a free port.
fn registry() -> (Server, u16, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("dir");
    let port = free_port();
    let config = dir.path().join("config.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").to_string_lossy()
        ),
    )
    .expect("config");
    let server = Server::start(
        "docker-registry",
        "docker-registry",
        &["serve", &config.to_string_lossy()],
        &dir.path().join("registry.log"),
    );
    wait_port(port, Duration::from_secs(20));
    (server, port, dir)
}

fn image_program(port: u16) -> String {
    format!(
        r#"image web {{
  repository = "127.0.0.1:{port}/ev/web"
  tls_verify = false
  tags = ["latest", "v1"]
  build = {{
    kind = "oci",
    files = {{ "/srv/www/index.html" = "site/index.html" }},
    entrypoint = ["/bin/server"],
    env = {{ MODE = "test" }},
    workdir = "/srv/www",
  }}
}}

cluster test {{
  context = "test"
  namespace = "apps"
}}

app web {{
  cluster = "test"
  namespace = "apps"
  image = image.web.pinned
  ports = [{{ name = "http", container = 8080 }}]
}}
"#
    )
}

#[test]
fn apply_real_image_pushed_to_a_registry_and_pinned_by_digest() {
    if tools(&["docker-registry", "skopeo"]).is_none() {
        return;
    }
    let (_server, port, _dir) = registry();
    let repo = Repo::new(&[
        ("everything.ev", &image_program(port)),
        ("site/index.html", "<h1>hello from ev</h1>\n"),
    ]);
    let plan = repo.ev(&["plan"]);
    assert!(
        plan.stdout.contains("+ image web: build + push"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("re-planned after image:web:push"),
        "{}",
        plan.stdout
    );

    let pushed = repo.ev(&["apply", "--yes", "--target", "image.web"]);
    assert_eq!(pushed.code, 0, "{}", pushed.all());
    let recorded = repo.read("exports/whale/digests/web.txt");
    let recorded = recorded.trim();
    assert!(recorded.starts_with("sha256:"), "{recorded:?}");
    for tag in ["latest", "v1"] {
        let live = sh(
            "skopeo",
            &[
                "inspect",
                "--tls-verify=false",
                "--format",
                "{{.Digest}}",
                &format!("docker://127.0.0.1:{port}/ev/web:{tag}"),
            ],
        );
        assert_eq!(live.trim(), recorded, "tag {tag}");
    }
    let config = sh(
        "skopeo",
        &[
            "inspect",
            "--tls-verify=false",
            "--config",
            &format!("docker://127.0.0.1:{port}/ev/web:latest"),
        ],
    );
    assert!(
        config.contains("/bin/server") && config.contains("MODE=test"),
        "{config}"
    );

    // The app pinning the image now renders the pushed digest.
    assert_eq!(repo.ev(&["build"]).code, 0);
    let manifests = repo.read(".ev/build/kubernetes/test.yaml");
    assert!(
        manifests.contains(&format!("127.0.0.1:{port}/ev/web@{recorded}")),
        "{manifests}"
    );
    let up_to_date = repo.ev(&["plan", "image.web"]);
    assert!(
        up_to_date.stdout.contains("No changes"),
        "{}",
        up_to_date.stdout
    );

    // Editing a file of the image rebuilds it; the app's digest is unknown until pushed.
    repo.write("site/index.html", "<h1>hello again</h1>\n");
    let replan = repo.ev(&["plan"]);
    assert!(
        replan
            .stdout
            .contains("~ image web: rebuild + push\n          file site/index.html changed"),
        "{}",
        replan.stdout
    );
    let pushed = repo.ev(&["apply", "--yes", "--target", "image.web"]);
    assert_eq!(pushed.code, 0, "{}", pushed.all());
    let second = repo.read("exports/whale/digests/web.txt");
    assert_ne!(second.trim(), recorded, "a new digest");
}

/// etcd, kube-apiserver and kube-controller-manager on loopback, with a
/// kubeconfig whose context `test` points at them.
/// The data of the object another tool created beside ev's.
fn foreign_owner(kube: &Kube) -> String {
    kubectl(
        kube,
        &[
            "-n",
            "apps",
            "get",
            "configmap",
            "foreign",
            "-o",
            "jsonpath={.data.owner}",
        ],
    )
}

const DB_PASSWORD: &str = "test-only-db-password-canary-K8sZ";
const API_TOKEN: &str = "test-only-dotenv-token-canary-Qe4R";
const SMTP_PASSWORD: &str = "test-only-ini-password-canary-Mm8T";
const WEBHOOK: &str = "test-only-json-webhook-canary-Zx2V";
const WG0_KEY: &str = "test-only-wireguard-key-canary-Hn5W";
/// A whole file, secret, without a final newline (bytes are kept as they are).
const WG0_CONF: &str = "[Interface]\nPrivateKey = test-only-wireguard-key-canary-Hn5W\nAddress = 10.8.0.2/24\n\n[Peer]\nEndpoint = 192.0.2.1:51820";

fn cluster_program(replicas: u32, with_worker: bool) -> String {
    let mut text = format!(
        r#"cluster test {{
  context = "test"
  namespace = "apps"
}}

app web {{
  cluster = "test"
  namespace = "apps"
  image = "docker.io/library/nginx@sha256:0000000000000000000000000000000000000000000000000000000000000001"
  replicas = {replicas}
  ports = [{{ name = "http", container = 8080 }}]
  env = {{
    MODE = "test",
    DB_PASSWORD = secret("secrets/apps.yaml", "db.password"),
    DB_URL = secret_format("postgres://app:{{}}@db:5432/app", secret("secrets/apps.yaml", "db.password")),
    API_TOKEN = secret("secrets/app.env", "API_TOKEN"),
    SMTP_PASSWORD = secret("secrets/app.ini", "smtp.password"),
    WEBHOOK = secret("secrets/app.json", "hooks.deploy"),
  }}
  secret_files = {{ "/etc/wireguard/wg0.conf" = secret_file("secrets/wg0.conf") }}
}}
"#
    );
    if with_worker {
        text.push_str(
            r#"
app worker {
  cluster = "test"
  namespace = "apps"
  image = "docker.io/library/busybox@sha256:0000000000000000000000000000000000000000000000000000000000000002"
  args = ["sleep", "3600"]
}
"#,
        );
    }
    text
}

#[test]
fn apply_real_kubernetes_apply_change_prune_and_secrets() {
    if tools(&[KUBE_TOOLS.as_slice(), &["sops", "age-keygen"]].concat()).is_none() {
        return;
    }
    let kube = kube();
    let mut repo = Repo::new(&[("everything.ev", &cluster_program(1, true))]);
    repo.env
        .push(("KUBECONFIG".into(), kube.kubeconfig.clone()));
    repo.age_key();
    repo.sops_encrypt(
        "secrets/apps.yaml",
        &format!("db:\n  password: {DB_PASSWORD}\n"),
    );
    // Every format sops reads, encrypted to two recipients (ev holds the
    // second's key).
    repo.sops_encrypt(
        "secrets/app.env",
        &format!("API_TOKEN={API_TOKEN}\nOTHER=x\n"),
    );
    repo.sops_encrypt(
        "secrets/app.ini",
        &format!("[smtp]\npassword = {SMTP_PASSWORD}\n"),
    );
    repo.sops_encrypt(
        "secrets/app.json",
        &format!("{{\"hooks\": {{\"deploy\": \"{WEBHOOK}\"}}}}\n"),
    );
    repo.sops_encrypt("secrets/wg0.conf", WG0_CONF);

    let first = repo.ev(&["apply", "--yes"]);
    assert_eq!(first.code, 0, "{}", first.all());
    let deployments = kubectl(&kube, &["-n", "apps", "get", "deployments", "-o", "name"]);
    assert_eq!(
        deployments.trim(),
        "deployment.apps/web\ndeployment.apps/worker"
    );
    // The Secret holds the decrypted value; nothing else does.
    let secret_data = |field: &str| {
        let template = format!("go-template={{{{.data.{field} | base64decode}}}}");
        kubectl(
            &kube,
            &["-n", "apps", "get", "secret", "web-env", "-o", &template],
        )
    };
    assert_eq!(secret_data("DB_PASSWORD"), DB_PASSWORD);
    // A composed secret is joined at apply time, into the Secret only.
    let url = secret_data("DB_URL");
    assert_eq!(url, format!("postgres://app:{DB_PASSWORD}@db:5432/app"));
    // Values of dotenv, INI and JSON files, and a whole file (sops' binary
    // format) byte for byte, mounted as a file.
    assert_eq!(secret_data("API_TOKEN"), API_TOKEN);
    assert_eq!(secret_data("SMTP_PASSWORD"), SMTP_PASSWORD);
    assert_eq!(secret_data("WEBHOOK"), WEBHOOK);
    let wg0 = kubectl(
        &kube,
        &[
            "-n",
            "apps",
            "get",
            "secret",
            "web-secret-files",
            "-o",
            "go-template={{index .data \"etc_wireguard_wg0.conf\" | base64decode}}",
        ],
    );
    assert_eq!(wg0, WG0_CONF);
    let mount = kubectl(
        &kube,
        &[
            "-n",
            "apps",
            "get",
            "deployment",
            "web",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].volumeMounts[0].mountPath}",
        ],
    );
    assert_eq!(mount, "/etc/wireguard/wg0.conf");

    // A changed app is re-applied.
    repo.write("everything.ev", &cluster_program(3, true));
    let plan = repo.ev(&["plan"]);
    assert!(
        plan.stdout.contains("~ Deployment apps/web"),
        "{}",
        plan.stdout
    );
    let refresh = repo.ev(&["plan", "--refresh"]);
    assert!(
        refresh
            .stdout
            .contains("test:apply: differs from the live system:"),
        "{}",
        refresh.stdout
    );
    assert!(refresh.stdout.contains("replicas: 3"), "{}", refresh.stdout);
    assert_eq!(repo.ev(&["apply", "--yes"]).code, 0);
    let replicas = kubectl(
        &kube,
        &[
            "-n",
            "apps",
            "get",
            "deployment",
            "web",
            "-o",
            "jsonpath={.spec.replicas}",
        ],
    );
    assert_eq!(replicas, "3");

    // A removed app is pruned; a foreign object in the same namespace survives.
    kubectl(
        &kube,
        &[
            "-n",
            "apps",
            "create",
            "configmap",
            "foreign",
            "--from-literal=owner=someone-else",
        ],
    );
    repo.write("everything.ev", &cluster_program(3, false));
    let pruned = repo.ev(&["apply", "--yes", "--allow-large-changes"]);
    assert_eq!(pruned.code, 0, "{}", pruned.all());
    assert!(
        pruned.stderr.contains("- Deployment apps/worker"),
        "{}",
        pruned.stderr
    );
    let deployments = kubectl(&kube, &["-n", "apps", "get", "deployments", "-o", "name"]);
    assert_eq!(deployments.trim(), "deployment.apps/web");
    assert_eq!(foreign_owner(&kube), "someone-else");
    assert!(repo.ev(&["apply", "--yes"]).stderr.contains("No changes"));

    // The whole cluster no longer declared: ev's objects go, the foreign one stays.
    repo.write("everything.ev", "let nothing = null\n");
    let gone = repo.ev(&["apply", "--yes", "--allow-large-changes"]);
    assert_eq!(gone.code, 0, "{}", gone.all());
    assert!(
        gone.stderr.contains("test:apply: removed"),
        "{}",
        gone.stderr
    );
    let deployments = kubectl(&kube, &["-n", "apps", "get", "deployments", "-o", "name"]);
    assert_eq!(deployments.trim(), "");
    assert_eq!(foreign_owner(&kube), "someone-else");

    // The example repository's manifests are accepted by the real API server.
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let rendered = tempfile::tempdir().expect("dir");
    let graph_json = std::process::Command::new(env!("CARGO_BIN_EXE_ev"))
        .arg("-C")
        .arg(&example)
        .arg("build")
        .output()
        .expect("ev build");
    assert!(graph_json.status.success(), "{graph_json:?}");
    let manifests = std::fs::read_to_string(example.join(".ev/build/kubernetes/milky-way.yaml"))
        .expect("the example's manifests");
    let file = rendered.path().join("milky-way.yaml");
    std::fs::write(&file, &manifests).expect("copy");
    // Its namespaces and its chart's CRDs are applied first, as `ev apply`
    // does, so that the dry run's objects have their namespaces and kinds.
    let foundation: Vec<serde_json::Value> =
        serde_saphyr::from_multiple::<serde_json::Value>(&manifests)
            .expect("a YAML stream")
            .into_iter()
            .filter(|o| o["kind"] == "CustomResourceDefinition" || o["kind"] == "Namespace")
            .collect();
    assert!(
        foundation
            .iter()
            .any(|o| o["kind"] == "CustomResourceDefinition"),
        "the example's chart brings CRDs"
    );
    let crds: String = foundation
        .iter()
        .map(|o| format!("---\n{}", serde_saphyr::to_string(o).expect("yaml")))
        .collect();
    let crd_file = rendered.path().join("crds.yaml");
    std::fs::write(&crd_file, crds).expect("crds");
    kubectl(
        &kube,
        &[
            "--context",
            "test",
            "apply",
            "--server-side",
            "--force-conflicts",
            "-f",
            &crd_file.to_string_lossy(),
        ],
    );
    kubectl(
        &kube,
        &[
            "--context",
            "test",
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "customresourcedefinition",
            "--all",
        ],
    );
    let accepted = kubectl(
        &kube,
        &[
            "--context",
            "test",
            "apply",
            "--server-side",
            "--force-conflicts",
            "--dry-run=server",
            "-f",
            &file.to_string_lossy(),
        ],
    );
    assert!(
        accepted.contains("deployment.apps/grand-central serverside-applied (server dry run)"),
        "{accepted}"
    );

    // Data that looks like a YAML stream arrives whole: a config file and a
    // raw ConfigMap holding `---` lines (issue 14: the hand-written
    // splitters cut objects there), read back through the API server.
    repo.write(
        "everything.ev",
        r#"cluster test {
  context = "test"
  namespace = "apps"
}

app conf {
  cluster = "test"
  namespace = "apps"
  image = "docker.io/library/busybox@sha256:0000000000000000000000000000000000000000000000000000000000000003"
  config_files = { "/etc/conf/multi.yaml" = "a: 1\n---\nb: 2\n--- \n...\n" }
  manifests = [{
    apiVersion = "v1",
    kind = "ConfigMap",
    metadata = { name = "raw" },
    data = { stream = "---\nkind: Secret\nmetadata:\n  name: injected\n---\n", dashes = "---" },
  }]
}
"#,
    );
    let tricky = repo.ev(&["apply", "--yes"]);
    assert_eq!(tricky.code, 0, "{}", tricky.all());
    let data = |name: &str| -> serde_json::Value {
        let json = kubectl(
            &kube,
            &["-n", "apps", "get", "configmap", name, "-o", "json"],
        );
        serde_json::from_str::<serde_json::Value>(&json).expect("JSON")["data"].clone()
    };
    assert_eq!(
        data("conf-files"),
        serde_json::json!({ "etc_conf_multi.yaml": "a: 1\n---\nb: 2\n--- \n...\n" })
    );
    assert_eq!(
        data("raw"),
        serde_json::json!({
            "stream": "---\nkind: Secret\nmetadata:\n  name: injected\n---\n",
            "dashes": "---",
        })
    );
    let secrets = kubectl(&kube, &["-n", "apps", "get", "secrets", "-o", "name"]);
    assert!(!secrets.contains("injected"), "{secrets}");

    // The secrets' canaries appear nowhere ev writes or prints.
    for canary in [DB_PASSWORD, API_TOKEN, SMTP_PASSWORD, WEBHOOK, WG0_KEY] {
        repo.assert_no_leak(&[&first, &plan, &refresh, &pruned], canary);
    }
}

/// A stand-in for nixpkgs offering just `lib.nixosSystem`: it loads the
/// machine's modules (files, functions or attribute sets) with the special
/// arguments and builds a derivation from what they set, needing nothing
/// from the network.
const NIXPKGS_STUB: &str = r#"{
  outputs = { self }: {
    stubName = "stub-nixpkgs";
    lib.nixosSystem = { system, specialArgs ? { }, modules }:
      let
        load = m:
          if builtins.isFunction m then m specialArgs
          else if builtins.isAttrs m then m
          else load (import m);
        config = builtins.foldl' (acc: m: acc // (load m)) { } modules;
      in {
        config.system.build.toplevel = builtins.derivation {
          name = "nixos-system-${specialArgs.ev.machine.name}";
          inherit system;
          builder = "/bin/sh";
          PATH = "/usr/bin:/bin";
          text = builtins.concatStringsSep "\n" [
            (config.motd or "")
            (config.banner or "")
            (config.extra or "")
            (builtins.toJSON (builtins.attrNames (config.sops.secrets or { })))
          ];
          args = [ "-c" "echo \"$text\" > $out" ];
        };
      };
  };
}
"#;

/// A flake input of the machine: its own nixpkgs input must follow the
/// profile's (the stub); unfollowed, Nix would fetch GitHub and fail.
const EXTRAS_FLAKE: &str = r#"{
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";
  outputs = { self, nixpkgs }: {
    nixosModules.banner = { banner = "banner from extras on ${nixpkgs.stubName}"; };
    # Standing in for sops-nix's module (the input named `sops-nix`).
    nixosModules.sops = { };
  };
}
"#;

#[test]
fn apply_real_nix_builds_a_profile_and_activates_it() {
    if tools(&["nix", "nix-env"]).is_none() {
        return;
    }
    let outside = tempfile::tempdir().expect("dir");
    let stub = outside.path().join("nixpkgs-stub");
    std::fs::create_dir_all(&stub).expect("stub");
    std::fs::write(stub.join("flake.nix"), NIXPKGS_STUB).expect("stub flake");
    let extras = outside.path().join("extras");
    std::fs::create_dir_all(&extras).expect("extras");
    std::fs::write(extras.join("flake.nix"), EXTRAS_FLAKE).expect("extras flake");
    let motd_src = outside.path().join("motd-src");
    std::fs::create_dir_all(&motd_src).expect("motd-src");
    std::fs::write(motd_src.join("text"), "text of a plain source tree").expect("text");
    let profile = outside.path().join("profiles/box");
    std::fs::create_dir_all(profile.parent().expect("dir")).expect("profiles");
    let program = format!(
        r#"machine box {{
  platform = "x86_64-linux"
  os = "nixos"
  configuration = "the-box"
  nixpkgs = "path:{stub}"
  modules = ["venus/hosts/box.nix"]
  inputs = [
    {{ name = "extras", url = "path:{extras}", follows = {{ nixpkgs = "nixpkgs" }} }},
    {{ name = "motd-src", url = "path:{motd_src}", flake = false }},
    {{ name = "sops-nix", url = "path:{extras}", follows = {{ nixpkgs = "nixpkgs" }} }},
  ]
  input_modules = ["extras.nixosModules.banner"]
  inline_modules = ["{{ inputs, ... }}: {{ extra = builtins.readFile \"\${{inputs.motd-src}}/text\"; }}"]
  secrets = {{ "wg0.conf" = secret_file("secrets/wg0.conf") }}
  nix_config = {{ bash-prompt = "ev> " }}
  activation = {{ method = "profile", profile = "{profile}" }}
}}
"#,
        stub = stub.to_string_lossy(),
        extras = extras.to_string_lossy(),
        motd_src = motd_src.to_string_lossy(),
        profile = profile.to_string_lossy()
    );
    let mut repo = Repo::new(&[
        ("everything.ev", &program),
        (
            "venus/hosts/box.nix",
            "{ ev, ... }: { motd = \"hello from ${ev.machine.name}\"; }\n",
        ),
        (
            "secrets/wg0.conf",
            "{\"data\": \"ENC[AES256_GCM,data:dGVzdA==,iv:aXY=,tag:dGFn,type:str]\", \"sops\": {\"version\": \"3.11.0\"}}\n",
        ),
    ]);
    repo.env.push((
        "NIX_CONFIG".into(),
        "experimental-features = nix-command flakes\nsubstituters =\nsandbox = false\nbuild-users-group =".into(),
    ));
    // Nix builds profiles from the repository's git tree.
    sh("git", &["-C", &repo.path().to_string_lossy(), "init", "-q"]);
    sh("git", &["-C", &repo.path().to_string_lossy(), "add", "-A"]);
    let active = || -> (String, String) {
        let target = std::fs::canonicalize(&profile).expect("the profile points at a store path");
        let text = std::fs::read_to_string(&target).unwrap_or_default();
        (target.to_string_lossy().into_owned(), text)
    };

    let first = repo.ev(&["apply", "--yes"]);
    assert_eq!(first.code, 0, "{}", first.all());
    let (path, text) = active();
    assert!(
        path.starts_with("/nix/store/") && path.ends_with("-nixos-system-box"),
        "{path}"
    );
    // The machine's module, an input's module (its nixpkgs followed the
    // profile's), an inline module reading a non-flake input, and the
    // sops-nix secrets declared by ev, all in the built system.
    assert_eq!(
        text,
        "hello from box\nbanner from extras on stub-nixpkgs\ntext of a plain source tree\n[\"wg0.conf\"]\n"
    );
    let state = repo.read(".ev/state.json");
    assert!(
        state.contains(&format!("\"store_path\": \"{path}\"")),
        "{state}"
    );
    assert!(repo.ev(&["apply", "--yes"]).stderr.contains("No changes"));
    let refresh = repo.ev(&["plan", "--refresh"]);
    assert!(
        refresh.stdout.contains("machine:box:deploy: in sync"),
        "{}",
        refresh.stdout
    );

    // Editing a module rebuilds and re-activates the machine.
    repo.write(
        "venus/hosts/box.nix",
        "{ ev, ... }: { motd = \"hello again from ${ev.machine.name}\"; }\n",
    );
    let plan = repo.ev(&["plan", "--refresh"]);
    assert!(
        plan.stdout.contains(
            "~ machine box: rebuild + activate\n          module venus/hosts/box.nix changed"
        ),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains(&format!("~ system {path} → /nix/store/")),
        "{}",
        plan.stdout
    );
    assert_eq!(repo.ev(&["apply", "--yes"]).code, 0);
    let (second, text) = active();
    assert_ne!(second, path);
    assert!(text.starts_with("hello again from box\n"), "{text}");
}

/// A chart's rendered manifests: two CRDs (one namespaced, one
/// cluster-scoped) and a ServiceAccount, as `helm template` writes them.
const CHART: &str = r#"---
# Source: demo/templates/crds.yaml
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: middlewares.traefik.io
spec:
  group: traefik.io
  names:
    kind: Middleware
    listKind: MiddlewareList
    plural: middlewares
    singular: middleware
  scope: Namespaced
  versions:
  - name: v1alpha1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: clusterwidgets.example.dev
spec:
  group: example.dev
  names:
    kind: ClusterWidget
    listKind: ClusterWidgetList
    plural: clusterwidgets
    singular: clusterwidget
  scope: Cluster
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
---
# Source: demo/templates/serviceaccount.yaml
apiVersion: v1
kind: ServiceAccount
metadata:
  name: demo
"#;

fn crd_program(with_extras: bool) -> String {
    let mut text = String::from(
        r#"cluster test {
  context = "test"
  namespace = "apps"
}

chart demo {
  cluster = "test"
  namespace = "demo"
  source = "example/demo@1.0.0"
  files = ["charts/demo.yaml"]
}

app jelly {
  cluster = "test"
  image = "docker.io/jellyfin/jellyfin@sha256:0000000000000000000000000000000000000000000000000000000000000004"
  selector = { app = "jelly" }
  strategy = "Recreate"
  ports = [{ name = "http", container = 8096 }]
  probes = { readiness = { httpGet = { path = "/health", port = 8096 } } }
  tolerations = [{ key = "media", operator = "Exists", effect = "NoSchedule" }]
  volumes = [{ name = "media", mount = "/media", claim = "media-library", read_only = true }]
  ingress = [{ path = "/", port = 8096, default_cert = true }]
  ingress_class = "traefik"
  patch = { Deployment = { spec = { revisionHistoryLimit = 2 } } }
}
"#,
    );
    if with_extras {
        text.push_str(
            r#"
manifests extras {
  cluster = "test"
  objects = [
    { apiVersion = "traefik.io/v1alpha1", kind = "Middleware", metadata = { name = "auth" }, spec = { basicAuth = { secret = "users" } } },
    { apiVersion = "example.dev/v1", kind = "ClusterWidget", metadata = { name = "w1" }, spec = { size = 3 } },
    { apiVersion = "storage.k8s.io/v1", kind = "StorageClass", metadata = { name = "fast" }, provisioner = "example.dev/fast" },
  ]
}
"#,
        );
    }
    text
}

/// Custom resources with their CRDs in one apply (the CRDs first),
/// cluster-scoped objects kept out of namespaces and pruned, a chart's
/// rendered manifests, and a live Deployment with its own selector adopted
/// without being recreated (issue 15).
#[test]
fn apply_real_kubernetes_crds_charts_and_adoption() {
    if tools(&KUBE_TOOLS).is_none() {
        return;
    }
    let kube = kube();
    let mut repo = Repo::new(&[
        ("everything.ev", &crd_program(true)),
        ("charts/demo.yaml", CHART),
    ]);
    repo.env
        .push(("KUBECONFIG".into(), kube.kubeconfig.clone()));
    // A Deployment another tool made, with the selector it will keep.
    kubectl(&kube, &["create", "namespace", "apps"]);
    kubectl(
        &kube,
        &[
            "-n",
            "apps",
            "create",
            "deployment",
            "jelly",
            "--image=docker.io/jellyfin/jellyfin:10.8",
        ],
    );
    let get = |args: &[&str]| kubectl(&kube, args);
    let uid = || {
        get(&[
            "-n",
            "apps",
            "get",
            "deployment",
            "jelly",
            "-o",
            "jsonpath={.metadata.uid}",
        ])
    };
    let before = uid();
    assert!(!before.is_empty());

    let first = repo.ev(&["apply", "--yes"]);
    assert_eq!(
        first.code,
        0,
        "{}\n{}",
        first.all(),
        apiserver_trouble(&kube)
    );
    // Adopted, not recreated: same object, ev's labels, the user's selector.
    assert_eq!(uid(), before, "the live Deployment was recreated");
    assert_eq!(
        get(&[
            "-n",
            "apps",
            "get",
            "deployment",
            "jelly",
            "-o",
            "jsonpath={.spec.selector.matchLabels.app} {.metadata.labels.app\\.kubernetes\\.io/managed-by} {.spec.strategy.type} {.spec.revisionHistoryLimit}",
        ]),
        "jelly ev Recreate 2"
    );
    // The custom resources arrived after their CRDs; the cluster-scoped
    // ones have no namespace, the namespaced one got the cluster's.
    assert_eq!(
        get(&[
            "-n",
            "apps",
            "get",
            "middleware",
            "auth",
            "-o",
            "jsonpath={.spec.basicAuth.secret}"
        ]),
        "users"
    );
    assert_eq!(
        get(&["get", "clusterwidget", "w1", "-o", "jsonpath={.spec.size}"]),
        "3"
    );
    assert_eq!(
        get(&[
            "get",
            "storageclass",
            "fast",
            "-o",
            "jsonpath={.provisioner}"
        ]),
        "example.dev/fast"
    );
    // The chart's objects went to its namespace, which ev made.
    assert_eq!(
        get(&["-n", "demo", "get", "serviceaccount", "demo", "-o", "name"]).trim(),
        "serviceaccount/demo"
    );
    // The Ingress: a route without host, a port by number, TLS with the
    // controller's certificate (no Secret named).
    assert_eq!(
        get(&[
            "-n",
            "apps",
            "get",
            "ingress",
            "jelly",
            "-o",
            "jsonpath={.spec.ingressClassName} {.spec.rules[0].http.paths[0].backend.service.port.number} {.spec.tls[0].secretName}|",
        ]),
        "traefik 8096 |"
    );
    let again = repo.ev(&["plan", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "nothing left to change: {}", again.all());

    // Dropped from the program: the custom resources and the cluster-scoped
    // StorageClass are pruned; the CRDs (still declared by the chart) stay.
    repo.write("everything.ev", &crd_program(false));
    let pruned = repo.ev(&["apply", "--yes", "--allow-large-changes"]);
    assert_eq!(pruned.code, 0, "{}", pruned.all());
    assert_eq!(get(&["get", "clusterwidgets", "-o", "name"]), "");
    assert_eq!(
        get(&[
            "get",
            "storageclass",
            "fast",
            "--ignore-not-found",
            "-o",
            "name"
        ]),
        ""
    );
    assert_eq!(get(&["-n", "apps", "get", "middlewares", "-o", "name"]), "");
    assert!(
        get(&["get", "crd", "-o", "name"]).contains("clusterwidgets.example.dev"),
        "the chart's CRDs stay"
    );
    assert_eq!(uid(), before, "still the adopted Deployment");
}

/// A cluster reached by its API server's URL, without any kubeconfig: ev
/// writes one for the run (the token decrypted from sops, the CA from the
/// repository), applies, checks drift and prunes through it; the token
/// appears nowhere, and a wrong CA is refused.
#[test]
fn apply_real_kubernetes_cluster_by_server_url() {
    if tools(&[KUBE_TOOLS.as_slice(), &["sops", "age-keygen"]].concat()).is_none() {
        return;
    }
    let kube = kube();
    let program = |with_objects: bool| {
        let objects = if with_objects {
            r#"
manifests settings {
  cluster = "edge"
  objects = [{ apiVersion = "v1", kind = "ConfigMap", metadata = { name = "settings" }, data = { mode = "edge" } }]
}
"#
        } else {
            ""
        };
        format!(
            r#"cluster edge {{
  server = "{server}"
  certificate_authority = text("magic/edge-ca.crt")
  token = secret("secrets/kube.yaml", "edge.token")
  namespace = "edge-apps"
}}
{objects}"#,
            server = kube.server
        )
    };
    let certificate =
        std::fs::read_to_string(&kube.certificate).expect("the API server's certificate");
    let mut repo = Repo::new(&[
        ("everything.ev", &program(true)),
        ("magic/edge-ca.crt", &certificate),
    ]);
    repo.age_key();
    repo.sops_encrypt(
        "secrets/kube.yaml",
        &format!("edge:\n    token: {KUBE_TOKEN}\n"),
    );
    // No kubeconfig of the user's is read: the cluster is reached by URL.
    repo.env
        .push(("KUBECONFIG".into(), "/nonexistent/kubeconfig".into()));

    let first = repo.ev(&["apply", "--yes"]);
    assert_eq!(first.code, 0, "{}{}", first.all(), apiserver_trouble(&kube));
    let mode = kubectl(
        &kube,
        &[
            "-n",
            "edge-apps",
            "get",
            "configmap",
            "settings",
            "-o",
            "jsonpath={.data.mode}",
        ],
    );
    assert_eq!(mode, "edge");
    let refresh = repo.ev(&["plan", "--refresh"]);
    assert!(
        refresh.stdout.contains("edge:apply: in sync"),
        "{}",
        refresh.all()
    );
    // The kubeconfig ev wrote lived only as long as its action.
    let left = repo.files_containing("current-context");
    assert!(left.is_empty(), "a kubeconfig was left behind: {left:?}");

    // Objects no longer declared are pruned through the same connection.
    repo.write("everything.ev", &program(false));
    let pruned = repo.ev(&["apply", "--yes", "--allow-large-changes"]);
    assert_eq!(pruned.code, 0, "{}", pruned.all());
    let gone = kubectl(
        &kube,
        &[
            "-n",
            "edge-apps",
            "get",
            "configmap",
            "settings",
            "--ignore-not-found",
            "-o",
            "name",
        ],
    );
    assert_eq!(gone.trim(), "");

    // A CA that did not sign the server's certificate: kubectl refuses it.
    let other = tempfile::tempdir().expect("dir");
    let other_ca = other.path().join("ca.crt");
    new_ca(&other.path().join("ca").to_string_lossy(), "other-ca");
    repo.write(
        "magic/edge-ca.crt",
        &std::fs::read_to_string(&other_ca).expect("ca"),
    );
    repo.write("everything.ev", &program(true));
    let refused = repo.ev(&["apply", "--yes"]);
    assert_ne!(refused.code, 0, "{}", refused.all());
    assert!(
        refused.all().contains("x509") || refused.all().contains("certificate"),
        "{}",
        refused.all()
    );

    repo.assert_no_leak(&[&first, &refresh, &pruned, &refused], KUBE_TOKEN);
}

/// `ev import dns --live` of a zone octodns created in PowerDNS (not ev):
/// ev dumps it through octodns-dump with the config's provider and its
/// secret; the imported program plans no change, the live zone is in
/// sync, and applying writes nothing (the zone's SOA serial, which
/// PowerDNS raises with every change, stays as it was). Importing the
/// file octodns-dump writes by hand gives the same declaration.
#[test]
fn apply_real_import_a_live_powerdns_zone() {
    if tools(&[DNS_TOOLS.as_slice(), &["octodns-dump"]].concat()).is_none() {
        return;
    }
    let pdns = powerdns();
    let outside = tempfile::tempdir().expect("dir");
    let octodns = |args: &[&str]| {
        let out = std::process::Command::new(args[0])
            .args(&args[1..])
            .current_dir(outside.path())
            .env("PATH", support::tools_path())
            .env("PDNS_API_KEY", PDNS_KEY)
            .output()
            .expect("octodns runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    std::fs::create_dir(outside.path().join("zones")).expect("dir");
    std::fs::write(
        outside.path().join("config.yaml"),
        format!(
            "providers:\n  config:\n    class: octodns.provider.yaml.YamlProvider\n    directory: ./zones\n    default_ttl: 300\n  pdns:\n    class: octodns_powerdns.PowerDnsProvider\n    host: 127.0.0.1\n    port: {}\n    api_key: env/PDNS_API_KEY\nzones:\n  imported.test.:\n    sources: [config]\n    targets: [pdns]\n",
            pdns.api_port
        ),
    )
    .expect("config");
    std::fs::write(
        outside.path().join("zones/imported.test.yaml"),
        r#"---
'':
  - type: A
    values: [192.0.2.30, 192.0.2.31]
  - type: MX
    values:
      - exchange: mx.imported.test.
        preference: 10
  - type: TXT
    value: v=spf1 mx -all
_sip._tcp:
  type: SRV
  value: {port: 5060, priority: 10, target: sip.imported.test., weight: 5}
mail:
  ttl: 3600
  type: A
  value: 192.0.2.32
www:
  type: CNAME
  value: imported.test.
"#,
    )
    .expect("zone");
    octodns(&["octodns-sync", "--config-file", "config.yaml", "--doit"]);
    octodns(&[
        "octodns-dump",
        "--config-file",
        "config.yaml",
        "--output-dir",
        "dump",
        "imported.test.",
        "pdns",
    ]);
    let serial = || dig(&pdns, "imported.test", "SOA");
    let before = serial();
    assert!(!before.is_empty());

    let mut repo = Repo::new(&[]);
    repo.age_key();
    repo.sops_encrypt(
        "secrets/dns.yaml",
        &format!("pdns:\n  api_key: {PDNS_KEY}\n"),
    );
    repo.write(
        "everything.ev",
        &format!(
            "let pdns = {{\n  name = \"pdns\",\n  class = \"octodns_powerdns.PowerDnsProvider\",\n  settings = {{ host = \"127.0.0.1\", port = {}, api_key = secret(\"secrets/dns.yaml\", \"pdns.api_key\") }},\n}}\n\noctodns_config live {{\n  provider = pdns\n}}\n",
            pdns.api_port
        ),
    );
    let dump = outside.path().join("dump/imported.test.yaml");
    let by_hand = Repo::new(&[]);
    for file in ["everything.ev", "secrets/dns.yaml"] {
        by_hand.write(file, &repo.read(file));
    }
    let from_file = by_hand.ev(&["import", "dns", "--config", "live", &dump.to_string_lossy()]);
    assert_eq!(from_file.code, 0, "{}", from_file.all());
    let imported = repo.ev(&[
        "import",
        "dns",
        "--config",
        "live",
        "--live",
        "imported.test",
    ]);
    assert_eq!(imported.code, 0, "{}", imported.all());
    let written = repo.read("eight/imported.test.ev");
    assert_eq!(written, by_hand.read("eight/imported.test.ev"));
    let scratch = repo.path().join(".ev/run");
    assert!(
        std::fs::read_dir(&scratch).map_or(true, |mut d| d.next().is_none()),
        "the dump's scratch is removed"
    );
    assert!(
        written.contains("mx(\"\", [{ exchange = \"mx.imported.test.\", preference = 10 }])")
            && written.contains("a(\"mail\", \"192.0.2.32\", ttl = 3600)"),
        "{written}\nfrom the dump:\n{}",
        std::fs::read_to_string(&dump).unwrap_or_default()
    );
    assert_eq!(repo.ev(&["fmt", "--check"]).code, 0);
    let plan = repo.ev(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}", plan.all());
    let refresh = repo.ev(&["plan", "--refresh"]);
    assert!(
        refresh.stdout.contains("eight:imported.test: in sync"),
        "{}",
        refresh.all()
    );
    let applied = repo.ev(&["apply", "--yes"]);
    assert_eq!(applied.code, 0, "{}", applied.all());
    assert!(applied.stderr.contains("No changes"), "{}", applied.stderr);
    assert_eq!(serial(), before, "nothing was written to the zone");
    assert_eq!(dig(&pdns, "mail.imported.test", "A"), "192.0.2.32");
    repo.assert_no_leak(&[&imported, &plan, &refresh, &applied], PDNS_KEY);
}

/// Objects another tool made in a namespace (kubectl, client-side apply and
/// create), with a Secret whose value is a canary.
const SHOP: &str = r#"apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels: {team: retail}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels: {app: web, tier: front}
spec:
  replicas: 2
  revisionHistoryLimit: 3
  selector:
    matchLabels: {app: web, tier: front}
  template:
    metadata:
      labels: {app: web, tier: front}
    spec:
      containers:
      - name: web
        image: docker.io/library/nginx:1.27
        ports: [{containerPort: 80, name: http}]
        env: [{name: GREETING, value: "hello ${world}"}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web, tier: front}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Secret
metadata: {name: db, namespace: shop}
stringData: {password: test-only-shop-secret-canary-Q7}
"#;

#[test]
fn apply_real_import_a_live_kubernetes_namespace() {
    if tools(&KUBE_TOOLS).is_none() {
        return;
    }
    let kube = kube();
    let mut repo = Repo::new(&[(
        "everything.ev",
        "cluster milky-way {\n  context = \"test\"\n}\n",
    )]);
    repo.env
        .push(("KUBECONFIG".into(), kube.kubeconfig.clone()));
    repo.write("shop.yaml", SHOP);
    let manifest = repo.path().join("shop.yaml");
    kubectl(&kube, &["apply", "-f", &manifest.to_string_lossy()]);
    kubectl(
        &kube,
        &[
            "-n",
            "shop",
            "create",
            "configmap",
            "settings",
            "--from-literal=mode=fast",
        ],
    );
    std::fs::remove_file(&manifest).expect("the manifest goes: ev reads the cluster");
    // Each object's uid and what it says (a Deployment's generation also
    // moves with its annotations, which its controller writes).
    let identity = || {
        ["deployment/web", "service/web", "configmap/settings"]
            .map(|o| {
                kubectl(
                    &kube,
                    &[
                        "-n",
                        "shop",
                        "get",
                        o,
                        "-o",
                        "jsonpath={.metadata.uid} {.spec} {.data}",
                    ],
                )
            })
            .join(", ")
    };
    // The Deployment's ReplicaSet: a changed pod template would make another.
    let replica_sets = || {
        kubectl(
            &kube,
            &[
                "-n",
                "shop",
                "get",
                "replicasets",
                "-o",
                "jsonpath={.items[*].metadata.uid}",
            ],
        )
    };
    let started = std::time::Instant::now();
    while replica_sets().is_empty() {
        assert!(started.elapsed() < Duration::from_secs(60), "no ReplicaSet");
        std::thread::sleep(Duration::from_millis(200));
    }
    let replica_set = replica_sets();
    let namespace_uid = || {
        kubectl(
            &kube,
            &["get", "namespace", "shop", "-o", "jsonpath={.metadata.uid}"],
        )
    };
    let (before, namespace_before) = (identity(), namespace_uid());

    let imported = repo.ev(&["import", "k8s", "--cluster", "milky-way", "--live", "shop"]);
    assert_eq!(
        imported.code,
        0,
        "{}\n{}",
        imported.all(),
        apiserver_trouble(&kube)
    );
    assert!(
        imported.stderr.contains("left out: Secret shop/db"),
        "{}",
        imported.stderr
    );
    let written = repo.read("milky-way/shop.ev");
    for kept in [
        "tier = \"front\"",
        "revisionHistoryLimit = 3",
        "team = \"retail\"",
        "mode = \"fast\"",
        "\\${world}",
    ] {
        assert!(written.contains(kept), "{kept} missing from\n{written}");
    }
    for dropped in [
        "uid",
        "resourceVersion",
        "managedFields",
        "last-applied",
        "clusterIP",
        "kube-root-ca",
        "ReplicaSet",
        "terminationMessagePath",
    ] {
        assert!(!written.contains(dropped), "{dropped} in\n{written}");
    }
    assert_eq!(repo.ev(&["fmt", "--check"]).code, 0);

    // The plan adds ev's ownership labels and changes nothing else.
    let plan = repo.ev(&["plan", "--format", "json"]);
    assert_eq!(plan.code, 0, "{}", plan.all());
    let planned: serde_json::Value = serde_json::from_str(&plan.stdout).expect("a JSON plan");
    let actions = planned["actions"].as_array().expect("actions");
    assert_eq!(actions.len(), 1, "{}", plan.stdout);
    let items = actions[0]["items"].as_array().expect("items");
    assert_eq!(
        items.len(),
        4,
        "namespace, deployment, service, configmap: {}",
        plan.stdout
    );
    for item in items {
        assert_eq!(item["change"], "update", "{item}");
        let mut after = item["after"].clone();
        let labels = after["metadata"]["labels"].as_object_mut().expect("labels");
        assert_eq!(
            labels.remove("app.kubernetes.io/managed-by"),
            Some("ev".into())
        );
        assert_eq!(labels.remove("ev.dev/cluster"), Some("milky-way".into()));
        if labels.is_empty() {
            after["metadata"]
                .as_object_mut()
                .expect("metadata")
                .remove("labels");
        }
        assert_eq!(after, item["before"], "more than ev's labels changes");
    }

    let applied = repo.ev(&["apply", "--yes"]);
    assert_eq!(
        applied.code,
        0,
        "{}\n{}",
        applied.all(),
        apiserver_trouble(&kube)
    );
    assert_eq!(
        identity(),
        before,
        "an object was recreated or its spec changed"
    );
    assert_eq!(replica_sets(), replica_set, "the pods were rolled");
    assert_eq!(namespace_uid(), namespace_before);
    assert_eq!(
        kubectl(
            &kube,
            &["-n", "shop", "get", "deployment", "web", "-o", "jsonpath={.metadata.labels.app\\.kubernetes\\.io/managed-by} {.spec.selector.matchLabels.tier}"],
        ),
        "ev front"
    );
    let again = repo.ev(&["plan", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}", again.all());
    let refresh = repo.ev(&["plan", "--refresh"]);
    assert!(
        refresh.stdout.contains("milky-way:apply: in sync"),
        "{}",
        refresh.all()
    );
    // Never imported, never applied: the Secret is as kubectl made it.
    assert_eq!(
        kubectl(
            &kube,
            &[
                "-n",
                "shop",
                "get",
                "secret",
                "db",
                "-o",
                "jsonpath={.metadata.labels}"
            ]
        ),
        ""
    );
    repo.assert_no_leak(
        &[&imported, &plan, &applied, &again, &refresh],
        "test-only-shop-secret-canary-Q7",
    );
}
