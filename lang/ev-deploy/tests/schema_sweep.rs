//! The schema sweep: for every field of every standard library schema, a
//! wrongly typed, out-of-range, secret or not-yet-known value is a coded
//! diagnostic of `ev check` at the user's value — and a program that checks
//! clean builds its model and plans; and every field of the base (which
//! writes out every stdlib field) reaches the typed Rust model. The stdlib
//! schemas and the model's Rust types are written apart; this is what keeps
//! them agreeing.

use std::collections::BTreeSet;

use ev_core::diagnostic::{code_title, INTERNAL_ERROR};
use ev_core::eval::run_with_stack;
use ev_core::fs::MemFs;
use ev_core::program::Binding;
use ev_core::value::Value;
use ev_core::Evaluator;
use ev_deploy::check;
use ev_deploy::plan::state::State;

/// One valid resource of every standard kind, every schema field written
/// out on a line of its own as `field = value` so the sweep can replace it.
const BASE: &str = r#"
machine web {
  platform = "x86_64-linux"
  os = "nixos"
  address = "192.0.2.10"
  configuration = "web-host"
  modules = ["venus/base.nix"]
  nixpkgs = "github:NixOS/nixpkgs/nixos-unstable"
  inputs = [
    {
      name = "sops-nix",
      url = "github:Mic92/sops-nix",
      follows = {
        nixpkgs = "nixpkgs",
      },
      flake = true,
    },
    {
      name = "home-manager",
      url = "github:nix-community/home-manager",
    },
  ]
  input_modules = ["sops-nix.nixosModules.sops"]
  inline_modules = ["{ ... }: { }"]
  overlays = ["venus/overlay.nix"]
  nix_config = {
    extra-substituters = ["https://cache.example.org"],
  }
  home_manager = [
    {
      user = "me",
      modules = ["venus/base.nix"],
      input_modules = ["sops-nix.homeManagerModules.sops"],
    },
  ]
  secrets = {
    token = secret("secrets/test.yaml", "token"),
  }
  activation = {
    method = "nixos-rebuild",
    ssh_user = "root",
    remote_build = false,
    local = false,
  }
  tags = ["web"]
  values = {
    region = "eu",
  }
  flake_dir = "flake-profiles/system-web"
  apply_timeout = 600
}

machine laptop {
  platform = "x86_64-linux"
  os = "home-manager"
  inputs = [{ name = "home-manager", url = "github:nix-community/home-manager" }]
  activation = {
    method = "profile",
    profile = "/nix/var/nix/profiles/per-user/me/home",
  }
}

domain "example.org" {
  provider = {
    name = "pdns",
    class = "octodns_powerdns.PowerDnsProvider",
    settings = {
      host = "127.0.0.1",
      port = 8081,
      api_key = secret("secrets/test.yaml", "key"),
    },
    env = {
      api_key = "PDNS_API_KEY",
    },
  }
  ttl = 300
  records = [
    {
      name = "www",
      type = "A",
      values = ["192.0.2.1"],
      ttl = 60,
      cloudflare = {
        proxied = true,
        auto-ttl = false,
        comment = "the site",
        tags = ["web"],
      },
    },
    {
      name = "legacy",
      type = "A",
      values = ["192.0.2.9"],
      ignored = true,
      excluded = ["pdns"],
      included = [],
      octodns = {
        route53 = {
          healthcheck = {
            path = "/",
          },
        },
      },
    },
    {
      name = "",
      type = "MX",
      values = [{
        exchange = "mx.example.org.",
        preference = 10,
      }],
    },
    {
      name = "_sip._tcp",
      type = "SRV",
      values = [{
        priority = 1,
        weight = 2,
        port = 5060,
        target = "sip.example.org.",
      }],
    },
    {
      name = "",
      type = "CAA",
      values = [{
        flags = 0,
        tag = "issue",
        value = "letsencrypt.org",
      }],
    },
  ]
  processors = [{
    name = "no-ddns",
    class = "octodns.processor.filter.NameRejectlistFilter",
    options = {
      rejectlist = ["/-ddns$/"],
    },
  }]
  manager = {
    max_workers = 1,
  }
  protect = false
  apply_timeout = 60
}

octodns_config shared {
  provider = {
    name = "pdns",
    class = "octodns_powerdns.PowerDnsProvider",
    settings = {
      api_key = secret("secrets/test.yaml", "key"),
    },
  }
  ttl = 600
  enforce_order = false
  processors = []
  manager = {
    max_workers = 1,
  }
}

domain "example.net" {
  config = "shared"
  records = []
}

environment prod {
  default = true
  description = "what runs"
  exports = "exports"
  state = {
    backend = "postgres",
    host = "db.example.org",
    port = 5432,
    tls = "verify",
    certificate_authority = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    database = "ev",
    user = "ev",
    password = secret("secrets/test.yaml", "token"),
    workspace = "prod",
    lease_seconds = 60,
    encrypt_to = ["age1qfze7c3hzku72m0s6ugkzzf858lx7waa2crnhvv92lhq9d4m935sx9emu8"],
  }
}

environment local {
  default = false
  exports = "exports/env/local"
  state = {
    backend = "postgres",
    host = "127.0.0.1",
    database = "ev",
    user = "ev",
    password_env = "EV_STATE_PASSWORD",
    tls = "disable",
  }
}

environment staging {
  state = {
    backend = "kubernetes",
    cluster = "edge",
    namespace = "ev-state",
    workspace = "staging",
    lease_seconds = 30,
  }
}

environment ci {
  state = {
    backend = "s3",
    endpoint = "https://s3.eu-west-1.amazonaws.com",
    bucket = "acme-ev-state",
    region = "eu-west-1",
    prefix = "ev/team",
    workspace = "ci",
    addressing = "virtual-host",
    access_key_id = "AKIAIOSFODNN7EXAMPLE",
    secret_access_key = secret("secrets/test.yaml", "token"),
    lease_seconds = 60,
  }
}

stack cloud {
  project = "cloud"
  stack = "prod"
  backend = "file://.ev/pulumi/cloud"
  config = { "hcloud:token" = secret("secrets/test.yaml", "token"), "hcloud:region" = "nbg1" }
  resources = [{
    name = "server",
    type = "hcloud:index/server:Server",
    properties = {
      serverType = "cx22",
    },
    options = {
      protect = true,
    },
  }]
  outputs_file = "exports/cloud/generated.json"
  exports = {
    ip = "\${server.ipv4Address}",
  }
  outputs = {
    ip = "192.0.2.50",
  }
  protect = false
  recorded = false
  apply_timeout = 900
}

image site {
  repository = "registry.example/me/site"
  build = {
    kind = "oci",
    base = "docker.io/library/alpine@sha256:0000000000000000000000000000000000000000000000000000000000000000",
    files = { "/srv/index.html" = "whale/index.html" },
    entrypoint = ["/bin/serve"],
    env = {
      MODE = "production",
    },
    workdir = "/srv",
  }
  tags = ["latest"]
  tls_verify = true
  apply_timeout = 300
  digest_file = "exports/whale/digests/site.txt"
}

image tool {
  repository = "registry.example/me/tool"
  build = {
    kind = "nix",
    flake = ".",
    attribute = "packages.x86_64-linux.tool-image",
  }
  digest = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
  pinned = "registry.example/me/tool@sha256:1111111111111111111111111111111111111111111111111111111111111111"
}

cluster home {
  context = "home"
  machine = "web"
  namespace = "apps"
  apply_timeout = 120
}

cluster edge {
  server = "https://203.0.113.30:6443"
  certificate_authority = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
  token = secret("secrets/test.yaml", "token")
}

app shop {
  cluster = "home"
  namespace = "shop"
  image = "registry.example/me/shop@sha256:2222222222222222222222222222222222222222222222222222222222222222"
  allow_unpinned = false
  replicas = 2
  strategy = "Recreate"
  selector = { app = "shop" }
  labels = { team = "web" }
  pod_annotations = { "prometheus.io/scrape" = "true" }
  command = ["/bin/shop"]
  args = ["--port", "8080"]
  ports = [{
    name = "http",
    container = 8080,
    service = 80,
    node_port = 30080,
    protocol = "TCP",
  }]
  env = {
    MODE = "live",
    TOKEN = secret("secrets/test.yaml", "token"),
  }
  env_from = [{ configMapRef = { name = "shop-extra" } }]
  volumes = [
    {
      name = "data",
      mount = "/data",
      size = "1Gi",
      storage_class = "local-path",
      access_modes = ["ReadWriteOncePod"],
      read_only = false,
    },
    {
      name = "media",
      mount = "/media",
      host_path = "/srv/media",
    },
    {
      name = "old",
      mount = "/old",
      claim = "shop-old-data",
    },
  ]
  config_files = { "/etc/shop.toml" = "mode = 1" }
  secret_files = { "/etc/shop/key.pem" = secret_file("secrets/test.yaml") }
  ingress = [
    {
      host = "shop.example.org",
      path = "/",
      path_type = "Prefix",
      port = "http",
      tls = true,
      tls_secret = "shop-cert",
    },
    {
      path = "/api",
      port = 80,
      default_cert = true,
    },
  ]
  ingress_class = "traefik"
  ingress_annotations = { "traefik.ingress.kubernetes.io/router.middlewares" = "shop-auth@kubernetescrd" }
  probes = {
    readiness = { httpGet = { path = "/ready", port = 8080 } },
    liveness = { tcpSocket = { port = 8080 } },
    startup = { exec = { command = ["/bin/true"] } },
  }
  resources = { requests = { cpu = "100m", memory = "128Mi" }, limits = { memory = "256Mi" } }
  tolerations = [{ key = "media", operator = "Exists", effect = "NoSchedule" }]
  node_selector = { "kubernetes.io/hostname" = "web" }
  affinity = { nodeAffinity = {} }
  security_context = { fsGroup = 1000 }
  container_security_context = { runAsNonRoot = true }
  init_containers = [{ name = "migrate", image = "registry.example/me/shop-migrate@sha256:3333333333333333333333333333333333333333333333333333333333333333" }]
  sidecars = [{ name = "vpn", image = "registry.example/me/vpn@sha256:4444444444444444444444444444444444444444444444444444444444444444" }]
  host_network = false
  runtime_class = "gvisor"
  patch = { Deployment = { spec = { revisionHistoryLimit = 3 } } }
  wait = false
  manifests = [{
    apiVersion = "v1",
    kind = "ServiceAccount",
    metadata = {
      name = "shop",
      labels = {
        team = "web",
      },
    },
  }]
}

manifests issuers {
  cluster = "home"
  namespace = "certs"
  objects = [{
    apiVersion = "cert-manager.io/v1",
    kind = "ClusterIssuer",
    metadata = { name = "letsencrypt" },
    spec = { acme = { server = "https://acme-v02.api.letsencrypt.org/directory" } },
  }]
}

chart traefik {
  cluster = "home"
  namespace = "traefik"
  source = "traefik/traefik@34.1.0"
  files = ["charts/traefik.yaml"]
}

moved renamed {
  from = "eight:old.test"
  to = "eight:new.test"
}

forget retired {
  action = "venus:old:deploy"
}
"#;

/// Files the base reads (modules and image files must exist).
const FILES: &[(&str, &str)] = &[
    ("venus/base.nix", "{ ... }: { }\n"),
    ("venus/overlay.nix", "final: prev: { }\n"),
    ("whale/index.html", "<p>hi</p>\n"),
    (
        "charts/traefik.yaml",
        "---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: traefik\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: traefik\nspec:\n  replicas: 1\n",
    ),
    (
        "secrets/test.yaml",
        "key: ENC[AES256_GCM,data:AAAA,type:str]\ntoken: ENC[AES256_GCM,data:AAAA,type:str]\nsops:\n    version: 3.11.0\n",
    ),
];

/// What each field is replaced with: every type, the edges of every range,
/// names that are not plain, a secret and values known only after apply.
const BAD_VALUES: &[&str] = &[
    "42",
    "-1",
    "0",
    "5000000000",
    "9223372036854775807",
    "1.5",
    "\"\"",
    "\"x\"",
    "\"-rf\"",
    "\"a b/../c\"",
    "true",
    "null",
    "[]",
    "[42]",
    "[\"x\"]",
    "{}",
    "{ x = 42 }",
    "fn(x) => x",
    "secret(\"secrets/test.yaml\", \"key\")",
    "[secret(\"secrets/test.yaml\", \"key\")]",
    "{ x = secret(\"secrets/test.yaml\", \"key\") }",
    "secret_format(\"u:{}@h\", secret(\"secrets/test.yaml\", \"key\"))",
    "text_or_unknown(\"exports/none.txt\")",
    "[text_or_unknown(\"exports/none.txt\")]",
    "{ x = text_or_unknown(\"exports/none.txt\") }",
];

/// Where a value starts and ends in `text` from `start`: up to the first
/// `,` or newline outside brackets and strings.
fn value_end(text: &str, start: usize) -> usize {
    let bytes = text.as_bytes();
    let (mut depth, mut i, mut in_string) = (0i32, start, false);
    while i < bytes.len() {
        let c = bytes[i];
        if in_string {
            match c {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
        } else {
            match c {
                b'"' => in_string = true,
                b'(' | b'[' | b'{' => depth += 1,
                b')' | b']' | b'}' if depth == 0 => return i,
                b')' | b']' | b'}' => depth -= 1,
                b',' | b'\n' if depth == 0 => return i,
                _ => {}
            }
        }
        i += 1;
    }
    i
}

/// Every `field = value` of the base: (field, value start, value end).
fn fields_of(text: &str) -> Vec<(String, usize, usize)> {
    let mut out = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if let Some((name, _)) = trimmed.split_once(" = ") {
            let name = name.trim_matches('"');
            if !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
            {
                let start = offset + indent + trimmed.find(" = ").unwrap_or(0) + 3;
                out.push((name.to_string(), start, value_end(text, start)));
            }
        }
        offset += line.len();
    }
    out
}

/// What went wrong with one program, if anything, and how many
/// diagnostics `ev check` gave.
fn problems_of(source: &str) -> (Vec<String>, usize) {
    let source = source.to_string();
    run_with_stack(move || {
        let mut fs = MemFs::new();
        fs.insert("everything.ev", source.as_str());
        for (path, text) in FILES {
            fs.insert(*path, *text);
        }
        let program = ev_core::load(&fs, "everything.ev");
        let ev = Evaluator::new(&program, &fs);
        let diagnostics = check(&program, &ev);
        let entry = program.module(program.entry).map(|m| m.file);
        let mut problems = Vec::new();
        for d in &diagnostics {
            if d.code == INTERNAL_ERROR {
                problems.push(format!("internal error: {}", d.message));
            } else if code_title(d.code).is_none() {
                problems.push(format!("undocumented code {}: {}", d.code, d.message));
            }
            match d.span() {
                Some(span) if Some(span.file) == entry => {}
                _ => problems.push(format!(
                    "{} is not at the user's value: {}",
                    d.code, d.message
                )),
            }
        }
        if !diagnostics.is_empty() {
            return (problems, diagnostics.len());
        }
        let (model, model_diagnostics) = ev_deploy::build_model(&program, &ev);
        for d in &model_diagnostics {
            problems.push(format!(
                "checks clean, yet the model refuses: {} {}",
                d.code, d.message
            ));
        }
        let (graph, plan) = ev_deploy::plan::plan(&program, &fs, &model, &State::empty());
        let _ = ev_deploy::plan::diff::render_human(&plan);
        for action in graph.ordered() {
            for file in action.artifact.files() {
                if file.content.contains(ev_deploy::markers::PLACEHOLDER) && !action.unknowns.any()
                {
                    problems.push(format!(
                        "{}: {} shows a placeholder it does not wait for",
                        action.id, file.path
                    ));
                }
                for marker in ["\"$unknown\"", "\"$secret\"", "$unknown:", "$secret:"] {
                    if file.content.contains(marker) {
                        problems.push(format!(
                            "{}: {} holds a raw {marker} marker",
                            action.id, file.path
                        ));
                    }
                }
            }
        }
        (problems, 0)
    })
}

/// The field names of every standard library schema.
fn stdlib_fields() -> BTreeSet<String> {
    run_with_stack(|| {
        let fs = MemFs::new();
        let program = ev_core::load(&fs, "everything.ev");
        let ev = Evaluator::new(&program, &fs);
        let mut out = BTreeSet::new();
        let exports = program
            .modules
            .iter()
            .filter(|m| m.is_stdlib)
            .flat_map(|m| m.exports.iter());
        for (_, binding) in exports {
            let Binding::Global(g) = binding else {
                continue;
            };
            let Some(def) = program.global(*g) else {
                continue;
            };
            if let Ok(Value::Schema(schema)) = ev.global(*g, def.span) {
                out.extend(schema.fields.iter().map(|f| f.name.to_string()));
            }
        }
        out
    })
}

#[test]
fn the_base_is_valid_and_covers_every_stdlib_field() {
    assert_eq!(
        problems_of(BASE),
        (Vec::new(), 0),
        "the base must check clean"
    );
    let swept: BTreeSet<String> = fields_of(BASE).into_iter().map(|(f, _, _)| f).collect();
    let missing: Vec<String> = stdlib_fields().difference(&swept).cloned().collect();
    assert!(
        missing.is_empty(),
        "stdlib fields the sweep never replaces (add them to BASE): {missing:?}"
    );
}

/// docs/stdlib.md shows every field of every standard library schema in
/// an example: each is written as `field =` in one of its `ev` blocks
/// (which the snippet test checks), except the few whose value ev reads
/// back from exports rather than the user writing it.
#[test]
fn every_stdlib_field_has_an_example_in_the_documentation() {
    const READ_BACK: [&str; 3] = ["outputs", "digest", "pinned"];
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/stdlib.md");
    let doc = std::fs::read_to_string(path).expect("docs/stdlib.md");
    let mut examples = String::new();
    let mut in_ev = false;
    for line in doc.lines() {
        match line.strip_prefix("```") {
            Some(info) => in_ev = !in_ev && info.starts_with("ev"),
            None if in_ev => {
                examples.push_str(line);
                examples.push('\n');
            }
            None => {}
        }
    }
    let written = |field: &str| {
        examples.match_indices(field).any(|(at, _)| {
            let before = examples[..at].chars().next_back();
            let after = examples[at + field.len()..].trim_start_matches([' ', '"']);
            !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '-')
                && after.starts_with('=')
                && !after.starts_with("==")
        })
    };
    let missing: Vec<String> = stdlib_fields()
        .into_iter()
        .filter(|f| !READ_BACK.contains(&f.as_str()) && !written(f))
        .collect();
    assert!(
        missing.is_empty(),
        "stdlib fields without an example in docs/stdlib.md: {missing:?}"
    );
}

#[test]
fn every_bad_value_in_every_field_is_a_check_diagnostic() {
    let mut failures = Vec::new();
    let (mut programs, mut refused) = (0, 0);
    for (field, start, end) in fields_of(BASE) {
        for bad in BAD_VALUES {
            let source = format!("{}{bad}{}", &BASE[..start], &BASE[end..]);
            programs += 1;
            let (problems, diagnostics) = problems_of(&source);
            refused += usize::from(diagnostics > 0);
            for problem in problems {
                failures.push(format!("{field} = {bad}: {problem}"));
            }
        }
    }
    assert!(programs > 1000, "the sweep ran only {programs} programs");
    // Most replacements are mistakes; the rest (a string where any string
    // goes) check clean and must plan, which the loop asserted.
    assert!(
        refused * 2 > programs,
        "only {refused} of {programs} programs were refused: is the base valid?"
    );
    assert!(
        failures.is_empty(),
        "{} of {programs} programs went wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every key path of `value` (objects descended, arrays by index), as
/// `a.b.0.c`; markers (`$secret`, `$unknown`) are leaves.
fn key_paths(value: &serde_json::Value, prefix: &str, out: &mut BTreeSet<String>) {
    let join = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match value {
        serde_json::Value::Object(map)
            if map.contains_key("$secret") || map.contains_key("$unknown") => {}
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let path = join(k);
                out.insert(path.clone());
                key_paths(v, &path, out);
            }
        }
        serde_json::Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                key_paths(v, &join(&i.to_string()), out);
            }
        }
        _ => {}
    }
}

/// What the Rust model keeps of each resource of the base: every field the
/// stdlib value holds reaches the typed model (a field added to the stdlib
/// and not to the Rust type fails here instead of being dropped silently).
#[test]
fn every_field_of_the_base_reaches_the_typed_model() {
    let dropped = run_with_stack(|| {
        let mut fs = MemFs::new();
        fs.insert("everything.ev", BASE);
        for (path, text) in FILES {
            fs.insert(*path, *text);
        }
        let program = ev_core::load(&fs, "everything.ev");
        let ev = Evaluator::new(&program, &fs);
        let (model, diagnostics) = ev_deploy::build_model(&program, &ev);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let mut dropped = Vec::new();
        // Environments are not deployed: they choose where the others go
        // (`ev_deploy::environment_dir`) and where the state is kept.
        for r in model.of_kind("environment") {
            let view = ev_deploy::state_store::environment_view(r).expect("fits its view");
            let typed = serde_json::to_value(view.state).expect("json");
            let (mut have, mut kept) = (BTreeSet::new(), BTreeSet::new());
            key_paths(&r.value["state"], "state", &mut have);
            key_paths(&typed, "state", &mut kept);
            for path in have.difference(&kept) {
                dropped.push(format!("{}: {path}", r.key));
            }
        }
        for r in model
            .resources
            .iter()
            .filter(|r| r.key.kind != "environment")
        {
            // `moved` and `forget` edit the state: their view is the plan's.
            let typed = match ev_deploy::plan::refactor::typed_view(r) {
                Some(view) => view,
                None => ev_deploy::BackendId::of_kind(&r.key.kind)
                    .unwrap_or_else(|| panic!("no backend realizes the stdlib kind {}", r.key.kind))
                    .backend()
                    .typed_view(r),
            }
            .expect("fits its typed view");
            let (mut have, mut kept) = (BTreeSet::new(), BTreeSet::new());
            key_paths(&r.value, "", &mut have);
            key_paths(&typed, "", &mut kept);
            for path in have.difference(&kept) {
                dropped.push(format!("{}: {path}", r.key));
            }
        }
        dropped
    });
    assert!(
        dropped.is_empty(),
        "fields the typed model drops:\n{}",
        dropped.join("\n")
    );
}
