//! Golden renderings: every file `ev build` renders for the repository's own
//! example, one snapshot each, so any change to what the tools read is
//! reviewed. Rendering is pure: the same model gives the same bytes.

use std::path::Path;

use ev_core::eval::run_with_stack;
use ev_core::fs::OsFs;
use ev_core::Evaluator;
use ev_deploy::backends::nix::{nix_key, Profile};
use ev_deploy::plan::lower;
use ev_deploy::Artifact;

/// (path, content) of every rendered file, and the actions as `id <- deps`.
fn render_example() -> (Vec<(String, String)>, Vec<String>) {
    run_with_stack(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let fs = OsFs::new(root);
        let program = ev_core::load(&fs, "everything.ev");
        assert!(program.diagnostics.is_empty(), "{:?}", program.diagnostics);
        let ev = Evaluator::new(&program, &fs);
        let (model, diagnostics) = ev_deploy::build_model(&program, &ev);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let graph = lower(&model, &fs);
        let mut files = Vec::new();
        let mut actions = Vec::new();
        for action in graph.ordered() {
            actions.push(format!(
                "{} ({}) <- [{}]",
                action.id,
                action.backend,
                action.depends_on.join(", ")
            ));
            for f in action.artifact.files() {
                // Actions may render one file (zones sharing an octodns
                // config): only ever with the same content.
                match files.iter().find(|(p, _): &&(String, String)| p == &f.path) {
                    Some((_, content)) => assert_eq!(
                        content, &f.content,
                        "{} renders {} unlike another action",
                        action.id, f.path
                    ),
                    None => files.push((f.path, f.content)),
                }
            }
        }
        files.sort();
        (files, actions)
    })
}

#[test]
fn example_renderings_are_golden_and_stable() {
    let (files, actions) = render_example();
    let (again, _) = render_example();
    assert_eq!(files, again, "rendering must be byte-stable");
    insta::assert_snapshot!("actions", actions.join("\n"));
    for (path, content) in &files {
        insta::assert_snapshot!(format!("{}", path.replace('/', "__")), content);
    }
    // The per-machine flakes live in the repository (flakes must be tracked
    // by git): they must be exactly what ev renders (run `ev build`).
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for (path, content) in files
        .iter()
        .filter(|(p, _)| p.starts_with("flake-profiles/"))
    {
        let committed = std::fs::read_to_string(root.join(path)).unwrap_or_default();
        assert_eq!(
            &committed, content,
            "{path} is stale: run `ev build` and commit it"
        );
    }
    // No secret value may reach a rendered file.
    for (path, content) in &files {
        assert!(
            !content.contains("test-only-"),
            "{path} holds a secret value"
        );
    }
}

/// Whether tests must drive real tools (set by scripts/test.sh, which
/// installs them); elsewhere a missing tool skips with a message.
fn real_tools_required() -> bool {
    std::env::var_os("EV_REAL_TOOLS").is_some_and(|v| v == "1")
}

#[test]
fn rendered_nix_parses_and_evaluates_with_real_nix() {
    let nix = std::process::Command::new("nix-instantiate")
        .arg("--version")
        .output();
    if nix.is_err() {
        assert!(
            !real_tools_required(),
            "nix-instantiate is required (scripts/test.sh installs nix-bin)"
        );
        eprintln!("skipped: nix-instantiate is not installed (scripts/test.sh installs it)");
        return;
    }
    let (files, _) = render_example();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut checked = 0;
    for (path, content) in files.iter().filter(|(p, _)| p.ends_with(".nix")) {
        let file = dir.path().join(path.replace('/', "_"));
        std::fs::write(&file, content).expect("write");
        // Flakes and inline modules are code: parse them (the flakes are
        // evaluated with stub inputs below); the values files are
        // self-contained data: evaluate them completely.
        let values_file = path.ends_with("/ev-values.nix");
        let mode: &[&str] = if values_file {
            &["--eval", "--strict", "--json"]
        } else {
            &["--parse"]
        };
        let out = std::process::Command::new("nix-instantiate")
            .args(mode)
            .arg(&file)
            .env("NIX_CONFIG", "experimental-features = nix-command flakes\nsubstituters =\nsandbox = false\nbuild-users-group =")
            .output()
            .expect("nix-instantiate runs");
        assert!(
            out.status.success(),
            "nix-instantiate {mode:?} rejected {path}:\n{}\n{content}",
            String::from_utf8_lossy(&out.stderr)
        );
        if values_file {
            let value: serde_json::Value =
                serde_json::from_slice(&out.stdout).expect("nix prints JSON");
            assert!(
                value.get("machine").is_some(),
                "{path} evaluates to the machine's values"
            );
        }
        checked += 1;
    }
    assert_eq!(
        checked, 15,
        "seven machines, a flake and a values file each, and one inline module"
    );
}

/// The machines' profiles, as lowered from the example.
fn example_profiles() -> Vec<Profile> {
    run_with_stack(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let fs = OsFs::new(root);
        let program = ev_core::load(&fs, "everything.ev");
        let ev = Evaluator::new(&program, &fs);
        let (model, _) = ev_deploy::build_model(&program, &ev);
        let graph = lower(&model, &fs);
        graph
            .ordered()
            .into_iter()
            .filter_map(|a| match &a.artifact {
                Artifact::Nix(p) => Some(p.as_ref().clone()),
                _ => None,
            })
            .collect()
    })
}

/// A Nix attribute path with each segment quoted as the flake quotes it.
fn attr_path(path: &str) -> String {
    path.split('.').map(nix_key).collect::<Vec<_>>().join(".")
}

/// Evaluates a machine's committed flake with the real `nix-instantiate`,
/// its inputs replaced by stubs (nothing can be fetched here): the system
/// functions return what they were given, with paths as their text and
/// functions by name; every module of an input is `stub:<its path>`.
fn evaluate_flake(root: &Path, p: &Profile) -> serde_json::Value {
    let mut stubs = vec![
        "nixpkgs.lib.nixosSystem = system;".to_string(),
        format!(
            "nixpkgs.legacyPackages.{} = \"pkgs\";",
            nix_key(&p.platform)
        ),
        "nix-darwin.lib.darwinSystem = system;".into(),
        format!(
            "deploy-rs.lib.{}.activate.nixos = c: \"deploy-rs activation\";",
            nix_key(&p.platform)
        ),
    ];
    let modules = if p.os == "darwin" {
        "darwinModules"
    } else {
        "nixosModules"
    };
    let mut stub_paths: Vec<String> = p.input_modules.clone();
    stub_paths.extend(
        p.overlays
            .iter()
            .filter(|o| !o.starts_with("venus/"))
            .cloned(),
    );
    stub_paths.extend(p.home_manager.iter().flat_map(|u| u.input_modules.clone()));
    if !p.home_manager.is_empty() {
        stub_paths.push(format!("home-manager.{modules}.home-manager"));
    }
    if !p.secrets.is_empty() {
        stub_paths.push(format!("sops-nix.{modules}.sops"));
    }
    if p.os == "home-manager" {
        stubs.push("home-manager.lib.homeManagerConfiguration = system;".into());
    }
    stub_paths.sort();
    stub_paths.dedup();
    for path in &stub_paths {
        stubs.push(format!("{} = \"stub:{path}\";", attr_path(path)));
    }
    let flake = root.join(p.dir()).join("flake.nix");
    let expr = format!(
        r#"
let
  flake = import {flake};
  plain = v:
    if v ? __inputs then "<inputs>"
    else if builtins.isPath v then "path:" + toString v
    else if builtins.isFunction v then "<function>"
    else if builtins.isList v then map plain v
    else if builtins.isAttrs v then builtins.mapAttrs (_: plain) v
    else v;
  system = args: {{
    system = args.system or null;
    modules = plain args.modules;
    special = plain (args.specialArgs or args.extraSpecialArgs);
  }};
  stubs = {{ __inputs = true; {stubs} }};
  outputs = flake.outputs (stubs // {{ self = outputs; }});
in {{
  outputs = plain outputs;
  inputs = flake.inputs;
  nixConfig = flake.nixConfig or {{ }};
}}
"#,
        flake = flake.to_string_lossy(),
        stubs = stubs.join(" "),
    );
    let out = std::process::Command::new("nix-instantiate")
        .args(["--eval", "--strict", "--json", "--expr", &expr])
        .env("NIX_CONFIG", "experimental-features = nix-command flakes")
        .output()
        .expect("nix-instantiate runs");
    assert!(
        out.status.success(),
        "nix-instantiate could not evaluate {}:\n{}\n{expr}",
        flake.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("nix prints JSON")
}

#[test]
fn rendered_flakes_evaluate_with_stub_inputs_in_real_nix() {
    if std::process::Command::new("nix-instantiate")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            !real_tools_required(),
            "nix-instantiate is required (scripts/test.sh installs nix-bin)"
        );
        eprintln!("skipped: nix-instantiate is not installed (scripts/test.sh installs it)");
        return;
    }
    let root = std::fs::canonicalize(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
        .expect("repository root");
    let path_of = |repo_path: &str| format!("path:{}/{repo_path}", root.to_string_lossy());
    let profiles = example_profiles();
    assert_eq!(profiles.len(), 7);
    let (mut home_users, mut secrets, mut inline, mut overlays) = (0, 0, 0, 0);
    for p in &profiles {
        let doc = evaluate_flake(&root, p);
        let configurations = match p.os.as_str() {
            "darwin" => "darwinConfigurations",
            "home-manager" => "homeConfigurations",
            _ => "nixosConfigurations",
        };
        let config = &doc["outputs"][configurations][p.configuration()];
        assert!(
            config.is_object(),
            "{}: no {configurations}.{} in {doc:#}",
            p.name,
            p.configuration()
        );
        let modules = config["modules"].as_array().expect("modules").clone();
        let has = |v: serde_json::Value| modules.contains(&v);
        // The machine's own modules, as repository files that exist.
        for m in &p.modules {
            assert!(
                has(path_of(m).into()),
                "{}: {m} not imported: {modules:#?}",
                p.name
            );
            assert!(root.join(m).is_file());
        }
        for m in &p.input_modules {
            assert!(
                has(format!("stub:{m}").into()),
                "{}: {m} not imported",
                p.name
            );
        }
        for i in 0..p.inline_modules.len() {
            let file = format!("{}/inline-{i}.nix", p.dir());
            assert!(
                has(path_of(&file).into()),
                "{}: {file} not imported",
                p.name
            );
            assert!(root.join(&file).is_file(), "{file} is committed");
            inline += 1;
        }
        // Overlays: files imported (each evaluates to a function) and
        // inputs' overlays, in one module.
        if !p.overlays.is_empty() {
            let wanted: Vec<serde_json::Value> = p
                .overlays
                .iter()
                .map(|o| {
                    if o.starts_with("venus/") {
                        "<function>".into()
                    } else {
                        format!("stub:{o}").into()
                    }
                })
                .collect();
            assert!(
                modules
                    .iter()
                    .any(|m| m["nixpkgs"]["overlays"] == serde_json::Value::from(wanted.clone())),
                "{}: overlays {wanted:?} not set: {modules:#?}",
                p.name
            );
            overlays += 1;
        }
        // home-manager: its module, and each user's modules wired.
        if !p.home_manager.is_empty() {
            let system = if p.os == "darwin" {
                "darwinModules"
            } else {
                "nixosModules"
            };
            assert!(
                has(format!("stub:home-manager.{system}.home-manager").into()),
                "{}",
                p.name
            );
            let wiring = modules
                .iter()
                .find(|m| m.get("home-manager").is_some())
                .unwrap_or_else(|| panic!("{}: no home-manager wiring in {modules:#?}", p.name));
            assert_eq!(
                wiring["home-manager"]["extraSpecialArgs"]["inputs"],
                "<inputs>"
            );
            for u in &p.home_manager {
                let imports = &wiring["home-manager"]["users"][&u.user]["imports"];
                for m in &u.modules {
                    assert!(
                        imports
                            .as_array()
                            .is_some_and(|i| i.contains(&path_of(m).into())),
                        "{}: {} does not import {m}: {imports}",
                        p.name,
                        u.user
                    );
                    assert!(root.join(m).is_file());
                }
                home_users += 1;
            }
        }
        // sops-nix: its module, and each secret pointing at its encrypted
        // file (committed, and encrypted).
        if !p.secrets.is_empty() {
            let system = if p.os == "darwin" {
                "darwinModules"
            } else {
                "nixosModules"
            };
            assert!(
                has(format!("stub:sops-nix.{system}.sops").into()),
                "{}",
                p.name
            );
            let declared = modules
                .iter()
                .find_map(|m| m.get("sops").and_then(|s| s.get("secrets")))
                .unwrap_or_else(|| panic!("{}: no sops.secrets in {modules:#?}", p.name));
            for (name, s) in &p.secrets {
                let got = &declared[name];
                assert_eq!(got["sopsFile"], path_of(&s.file), "{name}");
                assert_eq!(got["format"], s.format.as_str(), "{name}");
                if s.format != "binary" {
                    assert_eq!(got["key"], s.key.as_str(), "{name}");
                }
                let text = std::fs::read_to_string(root.join(&s.file)).expect("the encrypted file");
                assert!(text.contains("ENC[AES256_GCM"), "{} is encrypted", s.file);
                secrets += 1;
            }
        }
        // What modules read: `ev` and `inputs`.
        let special = &config["special"];
        assert_eq!(special["ev"]["machine"]["name"], p.name.as_str());
        assert_eq!(special["inputs"], "<inputs>");
        // The flake's inputs and nixConfig, as declared.
        for i in &p.inputs {
            let got = &doc["inputs"][&i.name];
            assert_eq!(got["url"], i.url.as_str(), "{}: input {}", p.name, i.name);
            for (theirs, ours) in &i.follows {
                assert_eq!(got["inputs"][theirs]["follows"], ours.as_str());
            }
            if !i.flake {
                assert_eq!(got["flake"], false);
            }
        }
        assert_eq!(
            doc["nixConfig"],
            serde_json::Value::Object(p.nix_config.clone()),
            "{}",
            p.name
        );
        // deploy-rs nodes under the configuration's name.
        if p.activation.method == "deploy-rs" && p.host().is_some() {
            let node = &doc["outputs"]["deploy"]["nodes"][p.configuration()];
            assert_eq!(node["hostname"], p.host().unwrap_or_default());
            assert_eq!(node["profiles"]["system"]["path"], "deploy-rs activation");
        }
    }
    // The example exercises each construct.
    assert!(
        home_users >= 2 && secrets >= 2 && inline >= 1 && overlays >= 1,
        "home users {home_users}, secrets {secrets}, inline modules {inline}, overlays {overlays}"
    );
}

/// The venv the install script creates (octodns and its providers).
fn octodns_validate() -> Option<std::path::PathBuf> {
    let home = std::env::var("HOME").unwrap_or_default();
    let tools = std::env::var("EV_TOOLS_DIR").unwrap_or_else(|_| format!("{home}/.cache/ev-tools"));
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .chain([std::path::PathBuf::from(format!("{tools}/venv/bin"))])
        .map(|d| d.join("octodns-validate"))
        .find(|p| p.is_file())
}

#[test]
fn rendered_octodns_config_passes_the_real_octodns_validate() {
    let Some(validate) = octodns_validate() else {
        assert!(
            !real_tools_required(),
            "octodns-validate is required (scripts/install-tools.sh installs it)"
        );
        eprintln!(
            "skipped: octodns-validate is not installed (scripts/install-tools.sh installs it)"
        );
        return;
    };
    let (files, _) = render_example();
    let dir = tempfile::tempdir().expect("temp dir");
    for (path, content) in files.iter().filter(|(p, _)| p.starts_with("octodns/")) {
        let file = dir.path().join(path);
        std::fs::create_dir_all(file.parent().expect("dir")).expect("mkdir");
        std::fs::write(&file, content).expect("write");
    }
    // octodns constructs the providers: their credentials must be set (to
    // test-only values: validation never calls the provider).
    let configs: Vec<&String> = files
        .iter()
        .map(|(p, _)| p)
        .filter(|p| p.starts_with("octodns/config/"))
        .collect();
    // The example's six zones share one config, listing them all.
    assert_eq!(configs, ["octodns/config/eight.yaml"]);
    let shared = &files
        .iter()
        .find(|(p, _)| p == configs[0])
        .expect("rendered")
        .1;
    let listed: serde_json::Value = serde_saphyr::from_str(shared).expect("YAML");
    assert_eq!(
        listed["zones"].as_object().map(|m| m.len()),
        Some(6),
        "{shared}"
    );
    for config in configs {
        let out = std::process::Command::new(&validate)
            .arg(format!(
                "--config-file={}",
                config.trim_start_matches("octodns/")
            ))
            .current_dir(dir.path().join("octodns"))
            .env("CLOUDFLARE_TOKEN", "test-only-token")
            .output()
            .expect("octodns-validate runs");
        assert!(
            out.status.success(),
            "octodns-validate rejected {config}:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
