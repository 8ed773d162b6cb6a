//! Editor queries on in-memory repositories (the LSP harness in ev-cli
//! covers the same queries end to end over stdio).

use ev_core::fs::MemFs;
use ev_core::ide::World;

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
