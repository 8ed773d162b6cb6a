//! The invariants ARCHITECTURE.md states about the layout, checked on the
//! sources: crates depend only on earlier layers, processes are started
//! only where it says, the core never touches the terminal, the executor
//! neither prints nor reads stdin, and the REPL and the editor queries do
//! not import each other.

use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The `ev-*` crates `krate` depends on (normal and dev dependencies).
fn internal_dependencies(krate: &str) -> Vec<String> {
    let path = workspace().join("lang").join(krate).join("Cargo.toml");
    let text = std::fs::read_to_string(&path).expect("Cargo.toml");
    let manifest: toml::Table = text.parse().expect("a TOML manifest");
    let mut out = Vec::new();
    for section in ["dependencies", "dev-dependencies", "build-dependencies"] {
        if let Some(deps) = manifest.get(section).and_then(|d| d.as_table()) {
            out.extend(deps.keys().filter(|k| k.starts_with("ev-")).cloned());
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Every `.rs` file below `lang/<krate>/src`, relative to the workspace.
fn sources(krate: &str) -> Vec<(String, String)> {
    let dir = workspace().join("lang").join(krate).join("src");
    ev_core::fs::files_below(&dir, ev_core::fs::Walk::Sources)
        .into_iter()
        .filter(|p| p.ends_with(".rs"))
        .map(|p| {
            let text = std::fs::read_to_string(dir.join(&p)).expect("source");
            (format!("lang/{krate}/src/{p}"), text)
        })
        .collect()
}

/// The text without its `#[cfg(test)]` module (tests may do anything).
fn without_tests(text: &str) -> &str {
    text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text)
}

/// The files of `krates` containing any of `needles` outside tests.
fn files_containing(krates: &[&str], needles: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for krate in krates {
        for (path, text) in sources(krate) {
            let code = without_tests(&text);
            if needles.iter().any(|n| code.contains(n)) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

const CRATES: [&str; 7] = [
    "ev-syntax",
    "ev-core",
    "ev-deploy",
    "ev-query",
    "ev-apply",
    "ev-lsp",
    "ev-cli",
];

/// The crates that never touch the terminal or start processes: the
/// pipeline's stages below the faces.
const PURE: [&str; 4] = ["ev-syntax", "ev-core", "ev-deploy", "ev-query"];

#[test]
fn crates_depend_only_on_earlier_layers() {
    // A crate may use the crates of lower layers; ev-query and ev-apply are
    // side by side (neither uses the other), and so are ev-lsp (over
    // ev-query) and ev-apply; ev-cli is the top.
    let layer = |krate: &str| match krate {
        "ev-syntax" => 0,
        "ev-core" => 1,
        "ev-deploy" => 2,
        "ev-query" | "ev-apply" => 3,
        "ev-lsp" => 4,
        "ev-cli" => 5,
        other => panic!("a crate ARCHITECTURE.md does not place: {other}"),
    };
    let on_disk: Vec<String> = std::fs::read_dir(workspace().join("lang"))
        .expect("lang/")
        .flatten()
        .filter(|e| e.path().join("Cargo.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    for krate in &on_disk {
        assert!(
            CRATES.contains(&krate.as_str()),
            "lang/{krate} is not in the layering"
        );
    }
    for krate in CRATES {
        for dep in internal_dependencies(krate) {
            assert!(
                layer(&dep) < layer(krate),
                "{krate} depends on {dep}, which is not below it"
            );
            assert!(
                !(krate == "ev-lsp" && dep == "ev-apply"),
                "the language server runs no tools"
            );
        }
    }
}

#[test]
fn processes_are_started_only_where_architecture_says() {
    assert_eq!(
        files_containing(&CRATES, &["Command::new", "process::Command"]),
        vec![
            // Every deployment tool, through `process::run`.
            "lang/ev-apply/src/process.rs",
            // `ev graph --format svg` runs Graphviz.
            "lang/ev-cli/src/commands/graph.rs",
            // The stdio client of the tests and the benchmark runs `ev lsp`.
            "lang/ev-lsp/src/client.rs",
        ]
    );
}

#[test]
fn the_core_and_the_executor_never_touch_the_terminal() {
    let terminal = [
        "println!",
        "eprintln!",
        "print!(",
        "eprint!(",
        "io::stdout",
        "io::stderr",
        "io::stdin",
    ];
    assert_eq!(files_containing(&PURE, &terminal), Vec::<String>::new());
    // In ev-apply only the faces of the executor do.
    assert_eq!(
        files_containing(&["ev-apply"], &terminal),
        vec!["lang/ev-apply/src/report.rs"]
    );
}

#[test]
fn the_core_reads_directories_only_in_its_file_system_module() {
    assert_eq!(
        files_containing(
            &PURE,
            &["read_dir", "std::fs::", "File::open", "OpenOptions"]
        ),
        vec!["lang/ev-core/src/fs.rs"]
    );
}

#[test]
fn the_repl_and_the_editor_queries_do_not_import_each_other() {
    let ide: Vec<String> = sources("ev-query")
        .into_iter()
        .filter(|(p, _)| p.starts_with("lang/ev-query/src/ide/"))
        .filter(|(_, t)| t.contains("crate::repl"))
        .map(|(p, _)| p)
        .collect();
    assert_eq!(ide, Vec::<String>::new());
    let repl =
        std::fs::read_to_string(workspace().join("lang/ev-query/src/repl.rs")).expect("repl");
    assert!(
        !repl.contains("crate::ide"),
        "repl.rs imports the editor queries"
    );
}
