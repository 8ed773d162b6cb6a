//! Golden renderings: every file `ev build` renders for the repository's own
//! example, one snapshot each, so any change to what the tools read is
//! reviewed. Rendering is pure: the same model gives the same bytes.

use std::path::Path;

use ev_core::eval::run_with_stack;
use ev_core::fs::OsFs;
use ev_core::Evaluator;
use ev_deploy::plan::lower;

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
                if !files.iter().any(|(p, _): &(String, String)| p == &f.path) {
                    files.push((f.path, f.content));
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
        // Flakes reference the repository's modules: parse them; the values
        // files are self-contained data: evaluate them completely.
        let mode: &[&str] = if path.ends_with("flake.nix") {
            &["--parse"]
        } else {
            &["--eval", "--strict", "--json"]
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
        if !path.ends_with("flake.nix") {
            let value: serde_json::Value =
                serde_json::from_slice(&out.stdout).expect("nix prints JSON");
            assert!(
                value.get("machine").is_some(),
                "{path} evaluates to the machine's values"
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 12, "six machines, a flake and a values file each");
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
    assert_eq!(configs.len(), 6, "one config per zone");
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
