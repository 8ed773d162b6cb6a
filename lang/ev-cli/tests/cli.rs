//! End-to-end tests of the `ev` binary: each snapshot holds the exit code,
//! stdout and stderr together, with the temporary directory's path filtered.

use std::path::Path;
use std::process::Command;

struct Repo {
    dir: tempfile::TempDir,
}

impl Repo {
    fn new(files: &[(&str, &str)]) -> Repo {
        let dir = tempfile::tempdir().expect("temp dir");
        for (path, text) in files {
            let full = dir.path().join(path);
            if let Some(parent) = full.parent() {
                std::fs::create_dir_all(parent).expect("mkdir");
            }
            std::fs::write(full, text).expect("write");
        }
        Repo { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `ev` in `cwd` (relative to the repo) and renders the result.
    fn run_in(&self, cwd: &str, args: &[&str], env: &[(&str, &str)]) -> String {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ev"));
        cmd.current_dir(self.path().join(cwd))
            .args(args)
            .env_remove("NO_COLOR");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("ev runs");
        let root = self.path().to_string_lossy().to_string();
        let clean = |b: &[u8]| String::from_utf8_lossy(b).replace(&root, "[REPO]");
        format!(
            "exit: {}\n--- stdout\n{}--- stderr\n{}",
            out.status.code().unwrap_or(-1),
            clean(&out.stdout),
            clean(&out.stderr)
        )
    }

    fn run(&self, args: &[&str]) -> String {
        self.run_in(".", args, &[])
    }
}

const GOOD: &[(&str, &str)] = &[
    (
        "everything.ev",
        r#"import { magic } from "magic/magic.ev"
schema Machine {
  name: String
  platform: "x86_64-linux" | "aarch64-darwin" = "x86_64-linux"
}
kind machine: Machine
machine methanol { }
machine sodium { platform = "aarch64-darwin" }
export summary = {
  ttl = magic.default_ttl,
  machines = [m.platform for _, m in machine],
}
"#,
    ),
    ("magic/magic.ev", "export magic = { default_ttl = 300 }\n"),
];

const BAD: &[(&str, &str)] = &[(
    "everything.ev",
    "schema Machine { name: String, port: Int }\nkind machine: Machine\nmachine methanol { port = \"22\", platfrom = 1 }\nexport x = undefined\n",
)];

#[test]
fn check_clean_repository() {
    insta::assert_snapshot!(Repo::new(GOOD).run(&["check", "--color", "never"]));
}

#[test]
fn check_reports_errors_with_exit_code_1() {
    insta::assert_snapshot!(Repo::new(BAD).run(&["check", "--color", "never"]));
}

#[test]
fn check_json_messages() {
    let out = Repo::new(BAD).run(&["check", "--message-format", "json"]);
    let stderr = out.split("--- stderr\n").nth(1).unwrap_or("");
    for line in stderr.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("each line is JSON");
        for key in [
            "code", "severity", "message", "span", "labels", "notes", "help",
        ] {
            assert!(v.get(key).is_some(), "missing {key} in {line}");
        }
        let span = &v["span"];
        assert_eq!(span["file"], "everything.ev");
        assert!(span["line_start"].as_u64().unwrap_or(0) >= 1);
        assert!(span["byte_end"].as_u64() >= span["byte_start"].as_u64());
    }
    insta::assert_snapshot!(out);
}

#[test]
fn eval_formats() {
    let repo = Repo::new(GOOD);
    insta::assert_snapshot!("eval_ev", repo.run(&["eval"]));
    insta::assert_snapshot!("eval_json", repo.run(&["eval", "--format", "json"]));
    insta::assert_snapshot!("eval_yaml", repo.run(&["eval", "--format", "yaml"]));
    insta::assert_snapshot!(
        "eval_expr",
        repo.run(&[
            "eval",
            "-e",
            "summary.machines |> map(upper) |> join(\",\")",
            "--format",
            "json"
        ])
    );
}

#[test]
fn eval_expression_errors_point_into_the_expression() {
    insta::assert_snapshot!(Repo::new(GOOD).run(&[
        "eval",
        "--color",
        "never",
        "-e",
        "summary.machnes"
    ]));
}

#[test]
fn root_is_found_upwards_or_given_with_dash_c() {
    let mut files = GOOD.to_vec();
    files.push(("venus/README", "modules\n"));
    let repo = Repo::new(&files);
    let from_subdir = repo.run_in("venus", &["eval", "-e", "summary.ttl"], &[]);
    assert!(
        from_subdir.starts_with("exit: 0\n--- stdout\n300\n"),
        "{from_subdir}"
    );
    let with_c = repo.run_in("venus", &["-C", "..", "eval", "-e", "summary.ttl"], &[]);
    assert!(with_c.starts_with("exit: 0\n--- stdout\n300\n"), "{with_c}");
}

#[test]
fn missing_entry_is_a_clear_error() {
    insta::assert_snapshot!(Repo::new(&[("README", "")]).run(&["check"]));
}

#[test]
fn colour_follows_flag_and_no_color() {
    let repo = Repo::new(BAD);
    let always = repo.run_in(".", &["check", "--color", "always"], &[]);
    assert!(always.contains("\u{1b}["), "--color always must colour");
    let auto = repo.run_in(".", &["check"], &[("NO_COLOR", "1")]);
    assert!(!auto.contains("\u{1b}["), "NO_COLOR must disable colour");
}

#[test]
fn deep_recursion_is_a_diagnostic_not_a_crash() {
    let repo = Repo::new(&[(
        "everything.ev",
        "let f = fn(n) => 1 + f(n + 1)\nexport x = f(0)\n",
    )]);
    let out = repo.run(&["eval", "--color", "never"]);
    assert!(out.starts_with("exit: 1"), "{out}");
    assert!(out.contains("E0406"), "{out}");
}

/// Runs `ev` on the repository's own example infrastructure.
fn example(args: &[&str]) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new(env!("CARGO_BIN_EXE_ev"))
        .arg("-C")
        .arg(&root)
        .args(args)
        .env_remove("NO_COLOR")
        .output()
        .expect("ev runs");
    format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn example_checks_clean() {
    insta::assert_snapshot!(example(&["check"]));
}

/// The example and the standard library are in the canonical style (the
/// test script checks the same; here it fails with the other tests).
#[test]
fn example_and_stdlib_are_formatted() {
    let program = example(&["fmt", "--check"]);
    assert!(program.starts_with("exit: 0"), "{program}");
    let stdlib = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../stdlib");
    let stdlib = example(&["fmt", "--check", stdlib.to_str().expect("UTF-8 path")]);
    assert!(stdlib.starts_with("exit: 0"), "{stdlib}");
}

/// The example's `local` environment against `prod`: every value that
/// differs by environment (the PowerDNS provider, the loopback registry and
/// API server, the machines' stand-in flakes), the stack standing in with
/// its recorded outputs, and the promotion check (nothing was applied in
/// prod here, so every image and machine would arrive untried).
#[test]
fn example_diff_env_shows_what_the_local_environment_changes() {
    let out = example(&["diff-env", "prod", "local"]);
    assert!(out.starts_with("exit: 1"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn example_show_json() {
    let out = example(&["show", "--format", "json"]);
    let json = out
        .split("--- stdout\n")
        .nth(1)
        .and_then(|s| s.split("--- stderr\n").next())
        .unwrap_or("");
    let doc: serde_json::Value = serde_json::from_str(json).expect("show --format json is JSON");
    assert_eq!(doc["version"], 1);
    let resources = doc["resources"].as_array().map(Vec::len).unwrap_or(0);
    assert_eq!(resources, 38, "the example declares 38 resources");
    // No secret value may appear, only references to them.
    assert!(
        !out.contains("test-only-"),
        "a secret leaked into `ev show`"
    );
    insta::assert_snapshot!(out);
}

#[test]
fn example_show_human() {
    insta::assert_snapshot!("example_show_tables", example(&["show"]));
    insta::assert_snapshot!("example_show_kind", example(&["show", "domain"]));
    insta::assert_snapshot!(
        "example_show_detail",
        example(&["show", "app.ddns-updater"])
    );
    insta::assert_snapshot!(
        "example_show_refs",
        example(&["show", "--refs", "stack.jupiter"])
    );
    insta::assert_snapshot!(
        "example_show_refs_all",
        example(&["show", "--refs", "machine.methanol", "--all"])
    );
    insta::assert_snapshot!("example_show_unknown", example(&["show", "machin"]));
}

#[test]
fn plan_exit_codes_and_state_errors() {
    let mut files = GOOD.to_vec();
    files.push((".ev/state.json", "{ this is not json"));
    let repo = Repo::new(&files);
    // The tiny repository declares no kinds with actions: nothing to do.
    let clean = Repo::new(GOOD).run(&["plan", "--detailed-exitcode"]);
    assert!(clean.starts_with("exit: 0"), "{clean}");
    // A corrupted state is a clear error and is left untouched.
    let corrupted = repo.run(&["plan"]);
    assert!(corrupted.starts_with("exit: 2"), "{corrupted}");
    assert!(
        corrupted.contains("[E0601]") && corrupted.contains("`.ev/state.json` is corrupted"),
        "{corrupted}"
    );
    let state = std::fs::read_to_string(repo.path().join(".ev/state.json")).unwrap_or_default();
    assert_eq!(state, "{ this is not json");
    let newer = Repo::new(&[
        GOOD[0],
        GOOD[1],
        (".ev/state.json", r#"{"version": 7, "actions": {}}"#),
    ])
    .run(&["plan"]);
    assert!(newer.contains("format version 7"), "{newer}");
}

#[test]
fn example_plan_without_state_creates_everything() {
    let out = example(&["plan", "--detailed-exitcode"]);
    assert!(out.starts_with("exit: 2"), "{out}");
    assert!(out.contains("actions: 21 to create"), "{out}");
}

#[test]
fn example_graphs() {
    insta::assert_snapshot!("example_graph_actions", example(&["graph"]));
    let resources = example(&["graph", "--resources", "--format", "json"]);
    assert!(
        resources.contains("\"resource\": \"app.example-image\""),
        "{resources}"
    );
    insta::assert_snapshot!("example_graph_resources", resources);
    insta::assert_snapshot!(
        "example_graph_resources_dot",
        example(&["graph", "--resources"])
    );
}

#[test]
fn a_saved_plan_records_what_it_was_made_from() {
    let dir = tempfile::tempdir().expect("temp dir");
    let saved = dir.path().join("plan.json");
    let out = example(&["plan", "--out", &saved.to_string_lossy()]);
    assert!(out.starts_with("exit: 0"), "{out}");
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&saved).expect("saved")).expect("JSON");
    for part in ["program", "actions", "exports", "state"] {
        assert!(
            plan["basis"][part].as_str().is_some_and(|d| !d.is_empty()),
            "{part} missing: {plan}"
        );
    }
    // Saved twice from the same repository: the same basis.
    let again = dir.path().join("again.json");
    example(&["plan", "--out", &again.to_string_lossy()]);
    let plan2: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&again).expect("saved")).expect("JSON");
    assert_eq!(plan["basis"], plan2["basis"]);
}

#[test]
fn query_runs_one_repl_input() {
    let out = example(&["query", "machine.methanol.tags"]);
    assert_eq!(
        out,
        "exit: 0\n--- stdout\n[\"home\", \"k3s\"]\n--- stderr\n"
    );
    let json = example(&["query", "--format", "json", "image.seadexarr"]);
    assert!(json.contains("\"$unknown\""), "{json}");
    let refs = example(&["query", ":uses stack.jupiter"]);
    assert!(refs.contains("used by: domain.yut.to"), "{refs}");
    let bad = example(&["query", "machine.nope"]);
    assert!(bad.starts_with("exit: 1") && bad.contains("E0402"), "{bad}");
}

#[test]
fn fmt_formats_checks_and_refuses_broken_files() {
    let repo = Repo::new(&[
        (
            "everything.ev",
            "import { x } from \"lib.ev\"\nexport y  =  x+1\n",
        ),
        ("lib.ev", "export x=[1,2]   # two\n"),
        ("broken.ev", "let z = [1,\n"),
    ]);
    let check = repo.run(&["fmt", "--check"]);
    assert!(check.starts_with("exit: 1"), "{check}");
    assert!(check.contains("everything.ev\nlib.ev\n"), "{check}");
    assert!(check.contains("2 of 2 files are not formatted"), "{check}");
    let fmt = repo.run(&["fmt"]);
    assert!(fmt.contains("formatted 2 of 2 files"), "{fmt}");
    assert_eq!(
        std::fs::read_to_string(repo.path().join("lib.ev")).unwrap_or_default(),
        "export x = [1, 2]  # two\n"
    );
    assert!(repo.run(&["fmt", "--check"]).starts_with("exit: 0"));
    let broken = repo.run(&["fmt", "broken.ev"]);
    assert!(
        broken.starts_with("exit: 1") && broken.contains("refusing to format broken.ev"),
        "{broken}"
    );
    assert_eq!(
        std::fs::read_to_string(repo.path().join("broken.ev")).unwrap_or_default(),
        "let z = [1,\n",
        "a broken file is left as it is"
    );
}

#[test]
fn a_byte_order_mark_is_accepted() {
    let repo = Repo::new(&[("everything.ev", "\u{feff}export x = 1\n")]);
    let out = repo.run(&["eval"]);
    assert!(out.starts_with("exit: 0"), "{out}");
}

/// An entry file that is not UTF-8 is reported as such (E0411), not as
/// missing.
#[test]
fn an_entry_that_is_not_utf8_is_reported_as_such() {
    let repo = Repo::new(&[]);
    std::fs::write(
        repo.path().join("everything.ev"),
        b"export x = \"\xff\xfe\"\n",
    )
    .expect("write");
    let out = repo.run(&["check", "--color", "never"]);
    assert!(out.starts_with("exit: 1"), "{out}");
    assert!(
        out.contains("[E0411] Error: cannot read `everything.ev`: the file is not valid UTF-8"),
        "{out}"
    );
}

/// Errors of the environment and of usage (E06xx) have no source span: each
/// is still a coded diagnostic, exits 2 and reaches `--message-format json`
/// with `"span": null`.
#[test]
fn environment_errors_are_coded_and_exit_2() {
    let no_tools = tempfile::tempdir().expect("temp dir");
    let no_tools_path = no_tools.path().to_string_lossy().into_owned();
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut files = GOOD.to_vec();
        files.extend_from_slice(extra);
        Repo::new(&files)
    };
    type Case<'a> = (
        &'a str,
        Vec<(&'static str, &'static str)>,
        Vec<&'a str>,
        Vec<(&'a str, &'a str)>,
    );
    let cases: Vec<Case> = vec![
        (
            "E0601",
            vec![(".ev/state.json", "{ half")],
            vec!["plan"],
            vec![],
        ),
        (
            "E0601",
            vec![(".ev/state.json", "{ half")],
            vec!["apply", "--yes"],
            vec![],
        ),
        (
            "E0602",
            // The lock's path is a directory: it cannot be locked.
            vec![(".ev/apply.lock/keep", "")],
            vec!["apply", "--yes"],
            vec![],
        ),
        ("E0603", vec![], vec!["apply", "no-such-plan.json"], vec![]),
        (
            "E0603",
            vec![("plan.json", "{ \"not\": \"a plan\" }")],
            vec!["apply", "plan.json"],
            vec![],
        ),
        // The output path is an existing directory.
        (
            "E0604",
            vec![("out/keep", "")],
            vec!["plan", "--out", "out"],
            vec![],
        ),
        ("E0605", vec![], vec!["query", ":bogus"], vec![]),
        ("E0606", vec![], vec!["show", "machine.nope"], vec![]),
        ("E0607", vec![], vec!["-C", "magic", "check"], vec![]),
        (
            "E0608",
            vec![],
            vec!["graph", "--format", "svg"],
            vec![("PATH", no_tools_path.as_str())],
        ),
        ("E0610", vec![], vec!["-C", "nowhere", "check"], vec![]),
    ];
    for (code, extra, args, env) in cases {
        let repo = with(&extra);
        let human = repo.run_in(".", &args, &env);
        assert!(human.starts_with("exit: 2"), "{args:?}: {human}");
        assert!(
            human.contains(&format!("[{code}] Error: ")),
            "{args:?}: {human}"
        );
        let mut json_args = vec!["--message-format", "json"];
        json_args.extend_from_slice(&args);
        let json = repo.run_in(".", &json_args, &env);
        assert!(json.starts_with("exit: 2"), "{args:?}: {json}");
        let stderr = json.split("--- stderr\n").nth(1).unwrap_or("");
        let reported: Vec<serde_json::Value> = stderr
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        assert!(
            reported
                .iter()
                .any(|d| d["code"] == code && d["span"].is_null() && d["severity"] == "error"),
            "{args:?}: {json}"
        );
    }
}

/// Actions that wait for each other's exports cannot be ordered: the plan
/// is refused with the cycle named, rather than leaving them out.
#[test]
fn actions_waiting_for_each_other_are_refused() {
    let repo = Repo::new(&[(
        "everything.ev",
        "stack a { resources = [{ name = \"x\", type = \"t:index:X\", properties = { peer = json_or_unknown(\"exports/b/generated.json\").x } }] }\n\
         stack b { resources = [{ name = \"x\", type = \"t:index:X\", properties = { peer = json_or_unknown(\"exports/a/generated.json\").x } }] }\n",
    )]);
    assert!(repo.run(&["check"]).starts_with("exit: 0"));
    let out = repo.run(&["plan", "--color", "never"]);
    assert!(out.starts_with("exit: 1"), "{out}");
    assert!(
        out.contains("[E0505] Error: these actions wait for each other's exports: a:up, b:up"),
        "{out}"
    );
}

/// The `$secret`/`$unknown` markers are the one encoding of secrets and
/// unknowns in every JSON and YAML output (issue 13, item 5).
#[test]
fn secrets_and_unknowns_have_one_encoding_in_every_output() {
    let repo = Repo::new(&[
        (
            "everything.ev",
            r#"cluster home {}
image site { repository = "registry.example/me/site", build = { kind = "nix", attribute = "site" } }
app site {
  cluster = "home"
  image = image.site.pinned
  env = { TOKEN = secret("secrets/site.yaml", "token") }
}
export values = { token = app.site.env.TOKEN, image = app.site.image }
export url = secret_format("https://u:{}@h/", app.site.env.TOKEN)
"#,
        ),
        (
            "secrets/site.yaml",
            "token: ENC[AES256_GCM,data:AAAA,type:str]\nsops:\n    version: 3.11.0\n",
        ),
    ]);
    let stdout = |args: &[&str]| -> String {
        let out = repo.run(args);
        assert!(out.starts_with("exit: 0"), "{args:?}: {out}");
        let body = out.split("--- stdout\n").nth(1).unwrap_or("");
        body.split("--- stderr\n").next().unwrap_or("").to_string()
    };
    let secret = serde_json::json!({ "$secret": { "file": "secrets/site.yaml", "key": "token" } });
    let unknown = serde_json::json!({ "$unknown": {
        "reason": "exports/whale/digests/site.txt does not exist yet",
        "file": "exports/whale/digests/site.txt",
    } });
    let expected = serde_json::json!({ "token": secret, "image": unknown });

    let eval_json: serde_json::Value =
        serde_json::from_str(&stdout(&["eval", "--format", "json", "-e", "values"])).expect("JSON");
    assert_eq!(eval_json, expected, "ev eval --format json");
    let eval_yaml: serde_json::Value =
        serde_saphyr::from_str(&stdout(&["eval", "--format", "yaml", "-e", "values"]))
            .expect("YAML");
    assert_eq!(eval_yaml, expected, "ev eval --format yaml");
    let url: serde_json::Value =
        serde_json::from_str(&stdout(&["eval", "--format", "json", "-e", "url"])).expect("JSON");
    assert_eq!(
        url,
        serde_json::json!({ "$secret": { "parts": [
            "https://u:",
            { "file": "secrets/site.yaml", "key": "token" },
            "@h/",
        ] } }),
        "a composed secret lists its parts"
    );
    let query: serde_json::Value =
        serde_json::from_str(&stdout(&["query", "--format", "json", "values"])).expect("JSON");
    assert_eq!(query, expected, "ev query --format json");
    let show: serde_json::Value =
        serde_json::from_str(&stdout(&["show", "app.site", "--format", "json"])).expect("JSON");
    let value = &show["resources"][0]["value"];
    assert_eq!(value["env"]["TOKEN"], expected["token"], "ev show: {show}");
    assert_eq!(value["image"], expected["image"], "ev show: {show}");
    let plan: serde_json::Value = serde_json::from_str(&stdout(&["plan", "--json"])).expect("JSON");
    let text = plan.to_string();
    assert!(
        text.contains("\"$unknown\""),
        "the plan marks the unknown image: {text}"
    );
    assert!(
        !text.contains("EV_SECRET_"),
        "the plan names no variables: {text}"
    );
    for (what, text) in [
        ("eval json", eval_json.to_string()),
        ("query", query.to_string()),
        ("show", show.to_string()),
    ] {
        assert!(
            !text.contains("(secret)") && !text.contains("(known after apply)"),
            "{what}: {text}"
        );
    }
}

/// W0601: machines need a git repository to be built; check and plan warn
/// (exit 0), and say nothing once it is one.
#[test]
fn a_repository_without_git_warns_about_its_machines() {
    let repo = Repo::new(&[(
        "everything.ev",
        "machine web { platform = \"x86_64-linux\", os = \"nixos\", address = \"192.0.2.1\", activation = { method = \"nixos-rebuild\" } }\n",
    )]);
    for args in [
        &["check", "--color", "never"][..],
        &["plan", "--compact"][..],
    ] {
        let out = repo.run(args);
        assert!(out.starts_with("exit: 0"), "{out}");
        assert!(
            out.contains("[W0601] Warning: machine `web` is built from the repository's git tree, but the repository is not a git repository"),
            "{out}"
        );
        assert!(out.contains("1 warning\n"), "{out}");
    }
    let root = repo.path().to_string_lossy().into_owned();
    let init = Command::new("git")
        .args(["-C", &root, "init", "-q"])
        .status();
    assert!(init.is_ok_and(|s| s.success()));
    let out = repo.run(&["check", "--color", "never"]);
    assert!(
        out.starts_with("exit: 0") && !out.contains("W0601"),
        "{out}"
    );
}

/// `ev init` starts a repository that checks, plans and is formatted; it
/// never writes over an existing one.
#[test]
fn init_starts_a_repository_that_checks_and_plans() {
    let parent = Repo::new(&[]);
    let dir = parent.path().join("infra");
    let dir_arg = dir.to_string_lossy().into_owned();
    let created = parent.run(&["init", &dir_arg]);
    assert!(created.starts_with("exit: 0"), "{created}");
    let root = dir.to_string_lossy().into_owned();
    let git = |args: &[&str]| {
        let status = Command::new("git").arg("-C").arg(&root).args(args).status();
        assert!(status.is_ok_and(|s| s.success()), "git {args:?}");
    };
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    let in_repo = |args: &[&str]| {
        let mut all = vec!["-C", root.as_str(), "--color", "never"];
        all.extend_from_slice(args);
        parent.run(&all)
    };
    let check = in_repo(&["check"]);
    assert!(
        check.starts_with("exit: 0")
            && check.contains("ok: everything.ev: 7 files, 6 resources checked"),
        "{check}"
    );
    let plan = in_repo(&["plan", "--compact"]);
    assert!(
        plan.starts_with("exit: 0") && plan.contains("actions: 5 to create"),
        "{plan}"
    );
    for kind in ["machine", "domain", "stack", "image", "cluster", "app"] {
        let shown = in_repo(&["show", kind, "--format", "json"]);
        assert!(
            shown.contains("\"resources\": [\n    {"),
            "no {kind}: {shown}"
        );
    }
    let formatted = in_repo(&["fmt", "--check"]);
    assert!(formatted.starts_with("exit: 0"), "{formatted}");
    for path in [".sops.yaml", "README.md", ".gitignore"] {
        assert!(dir.join(path).is_file(), "{path}");
    }
    let again = parent.run(&["init", &dir_arg]);
    assert!(
        again.starts_with("exit: 2") && again.contains("[E0610]") && again.contains("already has"),
        "{again}"
    );
}

/// Environments: `-e` picks one; each has its own state, rendered files,
/// exports and machine flakes, and the default one keeps today's places.
#[test]
fn environments_keep_their_state_exports_and_flakes_apart() {
    let program = r#"environment prod { default = true }
environment local { }

stack cloud { resources = [{ name = "x", type = "random:index/randomId:RandomId" }] }
machine web {
  platform = "x86_64-linux"
  os = "nixos"
  address = by_env({ local = "127.0.0.1" }, default = "192.0.2.10")
  modules = ["venus/web.nix"]
  activation = { method = "nixos-rebuild" }
}
export in_use = env.name
"#;
    let repo = Repo::new(&[
        ("everything.ev", program),
        ("venus/web.nix", "{ ... }: { }\n"),
    ]);
    let eval = |env: &[&str]| {
        let mut args = env.to_vec();
        args.extend([
            "eval",
            "-e",
            "[in_use, stack.cloud.outputs_file, machine.web.flake_dir]",
        ]);
        repo.run(&args)
    };
    let default = eval(&[]);
    assert!(
        default
            .contains(r#"["prod", "exports/cloud/generated.json", "flake-profiles/system-web"]"#),
        "{default}"
    );
    assert_eq!(
        eval(&["-e", "prod"]),
        default,
        "the default environment by name is the default environment"
    );
    let local = eval(&["-e", "local"]);
    assert!(
        local.contains(r#"["local", "exports/env/local/cloud/generated.json", "flake-profiles/env/local/system-web"]"#),
        "{local}"
    );

    // Rendered files and flakes go to the environment's own places.
    let build = repo.run(&["-e", "local", "build"]);
    assert!(build.starts_with("exit: 0"), "{build}");
    assert!(repo
        .path()
        .join(".ev/env/local/build/pulumi/cloud/Pulumi.yaml")
        .is_file());
    let flake = std::fs::read_to_string(
        repo.path()
            .join("flake-profiles/env/local/system-web/flake.nix"),
    )
    .expect("the local flake");
    assert!(flake.contains("../../../../venus/web.nix"), "{flake}");
    assert!(!repo.path().join(".ev/build").exists());
    assert!(!repo.path().join("flake-profiles/system-web").exists());

    // Each environment reads its own state: a broken default state stops
    // the default environment's plan, never another's.
    let write = |path: &str, text: &str| {
        let full = repo.path().join(path);
        std::fs::create_dir_all(full.parent().expect("dir")).expect("mkdir");
        std::fs::write(full, text).expect("write");
    };
    write(".ev/state.json", "{ broken");
    let default_plan = repo.run(&["plan"]);
    assert!(
        default_plan.starts_with("exit: 2") && default_plan.contains("E0601"),
        "{default_plan}"
    );
    let local_plan = repo.run(&["-e", "local", "plan"]);
    assert!(
        local_plan.starts_with("exit: 0") && local_plan.contains("actions: 2 to create"),
        "{local_plan}"
    );
    write(".ev/env/local/state.json", "{ broken too");
    let local_plan = repo.run(&["-e", "local", "plan"]);
    assert!(
        local_plan.contains("`.ev/env/local/state.json` is corrupted"),
        "{local_plan}"
    );

    // A name the program does not declare is refused before anything runs.
    let typo = repo.run(&["-e", "loca", "plan"]);
    assert!(
        typo.starts_with("exit: 2")
            && typo.contains("E0612")
            && typo.contains("did you mean `local`?"),
        "{typo}"
    );
    // So are the REPL and its one-shot queries.
    for args in [
        &["-e", "loca", "repl", "--batch"][..],
        &["-e", "loca", "query", "in_use"][..],
    ] {
        let refused = repo.run(args);
        assert!(
            refused.starts_with("exit: 2") && refused.contains("E0612"),
            "{args:?}: {refused}"
        );
    }
}

/// The state an apply of the program in `environment` records, with the
/// image pushed as `digest` (what the registry driver records).
fn record_environment(root: &Path, environment: &str, digest: &str) {
    let (root_owned, environment_owned, digest) = (
        root.to_path_buf(),
        environment.to_string(),
        digest.to_string(),
    );
    let (dir, text) = ev_core::eval::run_with_stack(move || {
        let fs = ev_core::fs::OsFs::new(root_owned);
        let mut program = ev_core::load(&fs, "everything.ev");
        program.environment = Some(environment_owned);
        let ev = ev_core::Evaluator::new(&program, &fs);
        let (model, diagnostics) = ev_deploy::build_model(&program, &ev);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let dir = ev_deploy::environment_dir(&model, program.environment.as_deref())
            .expect("a declared environment");
        let graph = ev_deploy::plan::lower(&model, &fs);
        let mut state = ev_deploy::plan::state::State::empty();
        for action in graph.ordered() {
            state.record(action);
        }
        for applied in state.actions.values_mut() {
            if applied.backend == "registry" {
                applied.outputs.insert("digest".into(), digest.clone());
            }
        }
        (dir.state(), state.to_text())
    });
    let path = root.join(dir);
    std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
    std::fs::write(path, text).expect("write state");
}

/// `ev diff-env A B`: what B renders unlike A, and the promotion check —
/// B deploys only images A applied, with the digests A tested.
#[test]
fn diff_env_shows_differences_and_checks_promotion() {
    let program = |prod_attribute: &str| {
        format!(
            r#"environment prod {{ default = true }}
environment staging {{ }}

image site {{
  repository = by_env({{ staging = "registry.example/staging/site" }}, default = "registry.example/me/site")
  build = {{ kind = "nix", attribute = by_env({{ prod = "{prod_attribute}" }}, default = "site") }}
}}
"#
        )
    };
    let repo = Repo::new(&[("everything.ev", &program("site"))]);
    let never = repo.run(&["diff-env", "staging", "prod"]);
    assert!(
        never.starts_with("exit: 1")
            && never.contains("✗ image:site:push  image never applied in staging"),
        "{never}"
    );

    // Staging pushed the image; prod builds the same: promoted.
    record_environment(repo.path(), "staging", "sha256:aaaa");
    let promoted = repo.run(&["diff-env", "staging", "prod"]);
    assert!(promoted.starts_with("exit: 0"), "{promoted}");
    insta::assert_snapshot!("diff_env_promoted", promoted);

    // Prod runs another digest than staging tested.
    record_environment(repo.path(), "prod", "sha256:bbbb");
    let drifted = repo.run(&["diff-env", "staging", "prod"]);
    assert!(
        drifted.starts_with("exit: 1")
            && drifted.contains("prod runs sha256:bbbb, staging tested sha256:aaaa"),
        "{drifted}"
    );
    insta::assert_snapshot!("diff_env_digest_differs", drifted);

    // Prod would build something else than staging applied.
    std::fs::write(repo.path().join("everything.ev"), program("site-prod")).expect("write");
    let rebuilt = repo.run(&["diff-env", "staging", "prod"]);
    assert!(
        rebuilt.starts_with("exit: 1")
            && rebuilt.contains("its build is not the one staging applied"),
        "{rebuilt}"
    );
    let typo = repo.run(&["diff-env", "staging", "prd"]);
    assert!(
        typo.starts_with("exit: 2") && typo.contains("E0612"),
        "{typo}"
    );
}

/// `ev plan --format markdown` on the example (a golden: the pull-request
/// comment as it reads): the totals, the layers, the changes with their
/// links, the blast radius and the unknowns; `--json` and `--format` do
/// not go together.
#[test]
fn example_plan_as_markdown() {
    let out = example(&[
        "plan",
        "--format",
        "markdown",
        "--link-base",
        "https://example.test/blob/main",
    ]);
    assert!(out.starts_with("exit: 0"), "{out}");
    insta::assert_snapshot!(out);
    let both = example(&["plan", "--json", "--format", "markdown"]);
    assert!(both.starts_with("exit: 2"), "{both}");
}

/// `ev state`: list, show and pull read the state; rm forgets, push puts a
/// pulled state back (keeping the one it replaces), mv follows a
/// declaration moved to another folder so nothing is destroyed or created;
/// refusals are E0613 and change nothing.
#[test]
fn state_commands_read_forget_restore_and_move_records() {
    let zone = |name: &str| {
        format!(
            "let fake = {{ name = \"fake\", class = \"octodns_fake.FakeProvider\" }}\nexport domain \"{name}\" {{\n  provider = fake\n  records = [a(\"www\", \"192.0.2.1\")]\n}}\n"
        )
    };
    let repo = Repo::new(&[
        (
            "everything.ev",
            "environment prod { default = true }\nimport \"eight/a.ev\" as a\nimport \"eight/b.ev\" as b\n",
        ),
        ("eight/a.ev", &zone("a.test")),
        ("eight/b.ev", &zone("b.test")),
    ]);
    record_environment(repo.dir.path(), "prod", "sha256:unused");
    let list = repo.run(&["state", "list"]);
    assert!(
        list.contains("eight:a.test  octodns\neight:b.test  octodns\n"),
        "{list}"
    );
    let show = repo.run(&["state", "show", "eight:a.test"]);
    assert!(
        show.starts_with("exit: 0") && show.contains("\"zone\": \"a.test\""),
        "{show}"
    );

    // Pull, forget, push back.
    let pulled = repo.dir.path().join("pulled.json");
    let pull = Command::new(env!("CARGO_BIN_EXE_ev"))
        .arg("-C")
        .arg(repo.dir.path())
        .args(["state", "pull"])
        .output()
        .expect("ev runs");
    std::fs::write(&pulled, &pull.stdout).expect("write pulled");
    let rm = repo.run(&["state", "rm", "eight:a.test"]);
    assert!(
        rm.starts_with("exit: 0") && rm.contains("forgot eight:a.test"),
        "{rm}"
    );
    assert!(repo.run(&["plan"]).contains("+ eight:a.test"));
    let push = repo.run(&["state", "push", "pulled.json"]);
    assert!(push.starts_with("exit: 0"), "{push}");
    assert!(repo.dir.path().join(".ev/state.json.backup").is_file());
    assert!(repo.run(&["plan"]).contains("No changes."));

    // The zone's file moves to another folder: its action's id changes.
    let moved = zone("b.test");
    std::fs::create_dir_all(repo.dir.path().join("dns")).expect("mkdir");
    std::fs::write(repo.dir.path().join("dns/b.ev"), moved).expect("write");
    std::fs::remove_file(repo.dir.path().join("eight/b.ev")).expect("rm");
    std::fs::write(
        repo.dir.path().join("everything.ev"),
        "environment prod { default = true }\nimport \"eight/a.ev\" as a\nimport \"dns/b.ev\" as b\n",
    )
    .expect("write");
    let plan = // (Without the move, the plan would destroy the zone: refused.)
    repo.run(&["plan", "--allow-large-changes"]);
    assert!(
        plan.contains("+ dns:b.test") && plan.contains("- eight:b.test"),
        "{plan}"
    );
    let typo = repo.run(&["state", "mv", "eight:b.test", "dns:b.tset"]);
    assert!(
        typo.starts_with("exit: 1")
            && typo.contains("E0613")
            && typo.contains("did you mean `dns:b.test`?"),
        "{typo}"
    );
    let mv = repo.run(&["state", "mv", "eight:b.test", "dns:b.test"]);
    assert!(mv.starts_with("exit: 0"), "{mv}");
    assert!(repo.run(&["plan"]).contains("No changes."));
    let onto = repo.run(&["state", "mv", "eight:a.test", "dns:b.test"]);
    assert!(
        onto.contains("E0613") && onto.contains("already records `dns:b.test`"),
        "{onto}"
    );
    let not_a_state = repo.run(&["state", "push", "everything.ev"]);
    assert!(not_a_state.contains("E0613"), "{not_a_state}");
    assert!(repo.run(&["plan"]).contains("No changes."));
}

/// (path, text) of one file `pick` chooses of each action's rendered
/// files, for the repository's example.
fn example_files(
    pick: fn(&ev_deploy::backend::Artifact) -> Option<ev_deploy::plan::RenderedFile>,
) -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    ev_core::eval::run_with_stack(move || {
        let fs = ev_core::fs::OsFs::new(root);
        let program = ev_core::load(&fs, "everything.ev");
        let ev = ev_core::Evaluator::new(&program, &fs);
        let (model, diagnostics) = ev_deploy::build_model(&program, &ev);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        ev_deploy::plan::lower(&model, &fs)
            .ordered()
            .into_iter()
            .filter_map(|a| pick(&a.artifact))
            .map(|f| (f.path, f.content))
            .collect()
    })
}

/// The example's clusters rendered (`ev build`), imported into an empty
/// repository declaring the clusters: the plan is empty (the rendered
/// objects carry ev's labels), the files are formatted, and every object
/// but the Secrets (never imported) renders as it did.
#[test]
fn import_k8s_round_trips_the_example_clusters() {
    use ev_deploy::backend::{Artifact, ArtifactData};
    let streams = example_files(|a| match a {
        Artifact::Kubectl(c) => c.files().into_iter().next(),
        _ => None,
    });
    assert_eq!(streams.len(), 2, "the example's clusters");
    let clusters = "cluster milky-way {\n  context = \"milky-way\"\n  namespace = \"apps\"\n}\ncluster andromeda {\n  context = \"andromeda\"\n  namespace = \"downloads\"\n}\n";
    let mut files: Vec<(&str, &str)> = streams
        .iter()
        .map(|(path, text)| (path.as_str(), text.as_str()))
        .collect();
    files.push(("everything.ev", clusters));
    let repo = Repo::new(&files);
    for (path, _) in &streams {
        let cluster = path
            .trim_start_matches("kubernetes/")
            .trim_end_matches(".yaml");
        let imported = repo.run(&["import", "k8s", "--cluster", cluster, path]);
        assert!(imported.starts_with("exit: 0"), "{imported}");
    }
    let plan = repo.run(&["plan", "--detailed-exitcode"]);
    assert!(
        plan.starts_with("exit: 0") && plan.contains("2 unchanged"),
        "{plan}"
    );
    assert!(repo.run(&["fmt", "--check"]).starts_with("exit: 0"));
    assert!(repo.run(&["build"]).starts_with("exit: 0"));
    let objects = |text: &str| -> Vec<serde_json::Value> {
        let mut all: Vec<serde_json::Value> = serde_saphyr::from_multiple(text).expect("a stream");
        all.retain(|o| o["kind"] != "Secret");
        all
    };
    for (path, text) in &streams {
        let rendered = std::fs::read_to_string(repo.path().join(".ev/build").join(path))
            .expect("rendered again");
        assert_eq!(objects(&rendered), objects(text), "{path}");
    }
}

/// `ev import dns` round trip on the example: the example's zones as it
/// renders them, imported into a repository that only declares an
/// `octodns_config`, plan no change (recorded as applied), are formatted,
/// and render the very same zone files. A zone with a record ev cannot
/// declare, or one already declared, is refused (E0617) and nothing is
/// written.
#[test]
fn import_dns_round_trips_the_example_zones() {
    use ev_deploy::backend::{Artifact, ArtifactData};
    let zones = example_files(|a| match a {
        Artifact::Octodns(z) => z
            .files()
            .into_iter()
            .find(|f| f.path.starts_with("octodns/zones/")),
        _ => None,
    });
    assert_eq!(zones.len(), 6, "the example's zones");
    let mut files: Vec<(&str, &str)> = zones
        .iter()
        .map(|(path, text)| (path.strip_prefix("octodns/").unwrap_or(path), text.as_str()))
        .collect();
    // The stack whose outputs the example's records use, as recorded:
    // the imported addresses refer to its outputs again.
    let config = "let pdns = { name = \"pdns\", class = \"octodns_powerdns.PowerDnsProvider\" }\noctodns_config eight {\n  provider = pdns\n}\nstack jupiter {\n  recorded = true\n}\n";
    let outputs = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../exports/jupiter/generated.json"),
    )
    .expect("the example's stack outputs");
    files.push(("everything.ev", config));
    files.push(("exports/jupiter/generated.json", &outputs));
    let repo = Repo::new(&files);
    let mut args = vec!["import", "dns", "--config", "eight"];
    let paths: Vec<String> = zones
        .iter()
        .map(|(p, _)| p.trim_start_matches("octodns/").to_string())
        .collect();
    args.extend(paths.iter().map(String::as_str));
    let imported = repo.run(&args);
    assert!(
        imported.starts_with("exit: 0") && imported.contains("6 zones, 42 record sets"),
        "{imported}"
    );
    let plan = repo.run(&["plan", "--detailed-exitcode"]);
    assert!(
        plan.starts_with("exit: 0") && plan.contains("6 unchanged"),
        "{plan}"
    );
    let yuto_wiki =
        std::fs::read_to_string(repo.path().join("eight/yuto.wiki.ev")).expect("imported");
    assert!(
        yuto_wiki.contains("a(\"\", stack.jupiter.outputs.serverref.ipAddress"),
        "{yuto_wiki}"
    );
    assert!(repo.run(&["fmt", "--check"]).starts_with("exit: 0"));
    assert!(repo.run(&["build"]).starts_with("exit: 0"));
    for (path, text) in &zones {
        let rendered = std::fs::read_to_string(repo.path().join(".ev/build").join(path))
            .expect("rendered again");
        assert_eq!(&rendered, text, "{path} renders the same bytes");
    }

    // Refused: nothing written, the entry file as it was.
    std::fs::write(
        repo.path().join("zones/refused.test.yaml"),
        "mail:\n  type: TLSA\n  value: x\n",
    )
    .expect("write");
    let entry = std::fs::read_to_string(repo.path().join("everything.ev")).expect("entry");
    let refused = repo.run(&[
        "import",
        "dns",
        "--config",
        "eight",
        "zones/refused.test.yaml",
        "zones/yuto.ink.yaml",
    ]);
    assert!(
        refused.starts_with("exit: 1")
            && refused.contains("[E0617]")
            && refused.contains("mail TLSA: ev has no TLSA records")
            && refused.contains("already declares the zone yuto.ink"),
        "{refused}"
    );
    assert!(!repo.path().join("eight/refused.test.ev").exists());
    assert_eq!(
        std::fs::read_to_string(repo.path().join("everything.ev")).expect("entry"),
        entry
    );
    let unknown = repo.run(&[
        "import",
        "dns",
        "--config",
        "nope",
        "zones/refused.test.yaml",
    ]);
    assert!(
        unknown.contains("[E0617]") && unknown.contains("the program declares: eight"),
        "{unknown}"
    );
}
