//! Editor queries on in-memory repositories (the LSP harness in ev-cli
//! covers the same queries end to end over stdio).

use ev_core::fs::MemFs;
use ev_query::ide::World;

fn world(files: &[(&str, &str)]) -> World {
    let mut fs = MemFs::new();
    for (p, t) in files {
        fs.insert(*p, *t);
    }
    World::with_fs(Box::new(fs), "everything.ev")
}

fn at(text: &str, needle: &str) -> u32 {
    text.find(needle).expect("needle") as u32
}

#[test]
fn hover_after_non_ascii_text() {
    let src = "let naive = 1\nlet dessert = { name = \"crème brûlée 😀\", count = naive }\n";
    let mut w = world(&[("everything.ev", src)]);
    let h = w
        .hover("everything.ev", at(src, "naive }") + 2)
        .expect("hover");
    assert!(h.markdown.contains("let naive"), "{}", h.markdown);
}

#[test]
fn completion_on_a_half_typed_field() {
    let src = "let x = 1\n\nmachine web {\n  os = \"nixos\"\n  activ\n}\n";
    let mut w = world(&[("everything.ev", src)]);
    let items = w.completions("everything.ev", at(src, "activ") + 5);
    let labels: Vec<&str> = items.iter().map(|i| i.label.as_str()).collect();
    assert_eq!(labels, ["activation"]);
}

#[test]
fn definition_of_a_stack_output_is_its_key_in_the_exports() {
    let src = "stack jupiter {\n  project = \"jupiter\"\n  stack = \"prod\"\n  resources = []\n}\nlet address = stack.jupiter.outputs.ethane.ipAddress\n";
    let json = "{\n  \"ethane\": { \"ipAddress\": \"203.0.113.7\" }\n}\n";
    let mut w = world(&[
        ("everything.ev", src),
        ("exports/jupiter/generated.json", json),
    ]);
    let found = w.definition("everything.ev", at(src, "ipAddress") + 1);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].path, "exports/jupiter/generated.json");
    assert_eq!(
        &json[found[0].start as usize..found[0].end as usize],
        "\"ipAddress\""
    );
}

/// The files of a golden case (`--- path` lines start further files).
fn golden_files(text: &str) -> Vec<(String, String)> {
    let mut files = vec![("everything.ev".to_string(), String::new())];
    for line in text.lines() {
        if let Some(path) = line.strip_prefix("--- ") {
            files.push((path.trim().to_string(), String::new()));
        } else if let Some((_, body)) = files.last_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    files
}

/// Every query at many offsets of every golden case (valid and broken
/// programs) answers without panicking.
#[test]
fn queries_never_panic_on_golden_cases() {
    ev_core::eval::run_with_stack(queries_on_golden_cases);
}

fn queries_on_golden_cases() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ev-deploy/tests/golden");
    let mut cases = Vec::new();
    for group in std::fs::read_dir(&dir).expect("golden dir").flatten() {
        for case in std::fs::read_dir(group.path()).expect("group").flatten() {
            if case.path().extension().is_some_and(|e| e == "ev") {
                cases.push(case.path());
            }
        }
    }
    assert!(cases.len() > 50, "found {} cases", cases.len());
    for case in cases {
        let text = std::fs::read_to_string(&case).expect("case");
        let files = golden_files(&text);
        let mut fs = MemFs::new();
        for (p, t) in &files {
            fs.insert(p.clone(), t.clone());
        }
        let mut w = World::with_fs(Box::new(fs), "everything.ev");
        let _ = w.diagnostics(std::sync::Arc::new(std::sync::atomic::AtomicBool::new(
            false,
        )));
        for (path, body) in &files {
            let _ = w.document_symbols(path);
            let _ = w.format(path);
            let step = (body.len() / 40).max(1);
            let mut offset = 0;
            while offset <= body.len() {
                let o = offset as u32;
                let _ = w.hover(path, o);
                let _ = w.definition(path, o);
                let _ = w.references(path, o, true);
                let _ = w.completions(path, o);
                let _ = w.signature_help(path, o);
                let _ = w.prepare_rename(path, o);
                let _ = w.rename(path, o, "renamed");
                offset += step;
            }
        }
        let _ = w.workspace_symbols("a");
    }
}

/// Diagnostics stop when newer input is waiting, and what was finished
/// before stays cached.
#[test]
fn diagnostics_stop_when_interrupted() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let src = "let a = 1\nexport let b = a + \"x\"\n";
    let mut w = world(&[("everything.ev", src)]);
    let flag = Arc::new(AtomicBool::new(true));
    assert!(
        w.diagnostics(flag.clone()).is_err(),
        "an interrupted run reports nothing"
    );
    flag.store(false, Ordering::SeqCst);
    let found = w.diagnostics(flag).expect("a full run");
    let codes: Vec<&str> = found.iter().map(|d| d.diagnostic.code).collect();
    assert_eq!(codes, ["E0401"]);
}

/// In the example repository, `magic.ssh.deploy` (a record field bound to
/// `keys.ssh`, read from JSON in another module) leads to the JSON key.
#[test]
fn example_magic_value_leads_to_its_json_key() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut w = World::new(root.clone(), "everything.ev");
    let src = std::fs::read_to_string(root.join("jupiter/jupiter.ev")).expect("jupiter.ev");
    let found = w.definition("jupiter/jupiter.ev", at(&src, "magic.ssh.deploy") + 11);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].path, "magic/public_keys.json");
    let json = std::fs::read_to_string(root.join("magic/public_keys.json")).expect("json");
    assert_eq!(
        &json[found[0].start as usize..found[0].end as usize],
        "\"deploy\""
    );
    // One step up: `magic.ssh` is the field written in magic/magic.ev.
    let found = w.definition("jupiter/jupiter.ev", at(&src, "magic.ssh.deploy") + 7);
    assert_eq!(found[0].path, "magic/magic.ev");
}

/// `cloud.ethane.ipAddress` where `let cloud = stack.jupiter.outputs`: the
/// definition goes through the binding and the stack's outputs to the key
/// in the exports; hover shows the address.
#[test]
fn example_stack_output_through_a_binding() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut w = World::new(root.clone(), "everything.ev");
    let src = std::fs::read_to_string(root.join("venus/machines.ev")).expect("machines.ev");
    let at_ip = at(&src, "cloud.ethane.ipAddress") + 15;
    let found = w.definition("venus/machines.ev", at_ip);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].path, "exports/jupiter/generated.json");
    let hover = w.hover("venus/machines.ev", at_ip).expect("hover");
    assert!(hover.markdown.contains("203.0.113."), "{}", hover.markdown);
}

/// A file the entry does not import (a new file) still gets hover and
/// completion; without an entry file only open files are checked.
#[test]
fn files_outside_the_program_are_served() {
    let lib = "let port = 8080\nlet url = \"http://x.test:${port}\"\nmachine web {\n  \n}\n";
    let mut w = world(&[("everything.ev", "let a = 1\n"), ("new.ev", lib)]);
    let h = w.hover("new.ev", at(lib, "port}") + 1).expect("hover");
    assert!(h.markdown.contains("8080"), "{}", h.markdown);
    let labels: Vec<String> = w
        .completions("new.ev", at(lib, "  \n}") + 2)
        .into_iter()
        .map(|i| i.label)
        .collect();
    assert!(labels.contains(&"platform".to_string()), "{labels:?}");

    let mut w = world(&[("loose.ev", "let b = nope\n")]);
    w.set_buffer("loose.ev", "let b = nope\n".into());
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let found = w.diagnostics(flag).expect("diagnostics");
    let files: Vec<&str> = found.iter().map(|d| d.primary.path.as_str()).collect();
    assert_eq!(files, ["loose.ev"]);
}

/// A resource whose body extends a function's result (`web(8080) & { ... }`)
/// still completes its kind's fields.
#[test]
fn completion_in_a_merged_resource_body() {
    let src = "let web = fn(port) => { cluster = \"k3s\" }\ncluster k3s {\n}\napp echo web(5678) & {\n  repl\n}\n";
    let mut w = world(&[("everything.ev", src)]);
    let labels: Vec<String> = w
        .completions("everything.ev", at(src, "repl") + 4)
        .into_iter()
        .map(|i| i.label)
        .collect();
    assert_eq!(labels, ["replicas"]);
}

/// Editing a data file in a buffer re-checks the values read from it.
#[test]
fn data_file_buffers_invalidate_cached_diagnostics() {
    let src = "let data = json(\"data.json\")\nexport let port = data.port + 1\n";
    let mut w = world(&[("everything.ev", src), ("data.json", "{\"port\": 1}")]);
    let flag = || std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    assert!(w.diagnostics(flag()).expect("run").is_empty());
    w.set_buffer("data.json", "{\"port\": \"one\"}".into());
    let codes: Vec<&str> = w
        .diagnostics(flag())
        .expect("run")
        .iter()
        .map(|d| d.diagnostic.code)
        .collect();
    assert_eq!(codes, ["E0401"]);
}
