//! Golden imports: every zone file under `tests/import/dns/` is one case
//! (`<zone>.yaml`). Its snapshot is the `.ev` file `ev import dns` writes,
//! or the problems that keep it from importing; an imported case must also
//! evaluate cleanly in a program listing it in an `octodns_config`, and
//! render exactly the record sets the file holds (compared as data).

use std::path::Path;

use ev_core::eval::run_with_stack;
use ev_core::fs::MemFs;
use ev_core::Evaluator;
use ev_deploy::import::dns::{declaration, differences, read_zone, rendered};

/// The config's default TTL in every case (a record set with another
/// says so)...
const TTL: u32 = 3600;
/// ...and the files' (octodns' YamlProvider's own default, which
/// `octodns-dump` writes with).
const FILE_TTL: u32 = 3600;

#[test]
fn dns_imports() {
    each_case("dns", "dns_import", |zone, text| {
        let snapshot = match read_zone(text, FILE_TTL) {
            Err(problems) => {
                assert!(
                    zone.starts_with("refused"),
                    "{zone} was refused: {problems:?}"
                );
                problems
                    .iter()
                    .map(|p| format!("{}: {}\n", p.record, p.why))
                    .collect()
            }
            Ok(file) => {
                let source = declaration(
                    zone,
                    &file,
                    "shared",
                    TTL,
                    &format!("{zone}.yaml"),
                    &Default::default(),
                );
                assert_eq!(
                    ev_syntax::format::format(&source).as_deref(),
                    Ok(source.as_str()),
                    "{zone}: formatted as `ev fmt` formats"
                );
                let problems = renders_the_file(zone, &source, &file.records);
                assert!(problems.is_empty(), "{zone}: {problems:#?}");
                source
            }
        };
        snapshot
    });
}

/// How the program with the imported declaration renders the zone unlike
/// the file.
/// Runs `import` on every file of `tests/import/<folder>/` (its stem and
/// text, in name order) and snapshots what it returns as
/// `<snapshot>@<stem>`.
fn each_case(folder: &str, snapshot: &str, import: impl Fn(&str, &str) -> String) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/import")
        .join(folder);
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .expect("the cases")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    cases.sort();
    assert!(!cases.is_empty());
    for path in cases {
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("a name")
            .to_string();
        let text = std::fs::read_to_string(&path).expect("the case");
        let out = import(&name, &text);
        insta::with_settings!({ snapshot_suffix => name, prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!(snapshot, out);
        });
    }
}

fn renders_the_file(
    zone: &str,
    source: &str,
    records: &[ev_deploy::backends::octodns::RecordSet],
) -> Vec<ev_deploy::import::dns::Problem> {
    let mut fs = MemFs::new();
    fs.insert(
        "everything.ev",
        format!(
            "octodns_config shared {{\n  provider = {{ name = \"pdns\", class = \"octodns_powerdns.PowerDnsProvider\" }}\n  ttl = {TTL}\n}}\nimport \"eight/{zone}.ev\" as imported\n"
        ),
    );
    fs.insert(format!("eight/{zone}.ev"), source);
    let (zone, records) = (zone.to_string(), records.to_vec());
    run_with_stack(move || {
        let program = ev_core::load(&fs, "everything.ev");
        let ev = Evaluator::new(&program, &fs);
        let (model, diagnostics) = ev_deploy::build_model(&program, &ev);
        assert!(diagnostics.is_empty(), "{zone}: {diagnostics:#?}");
        let graph = ev_deploy::plan::lower(&model, &fs);
        let (_, got) = rendered(&graph, &zone).expect("the zone is synced");
        differences(&records, &got.records)
    })
}

/// Golden Kubernetes imports: every file under `tests/import/k8s/` is one
/// case, read as `live-*` (what `kubectl get -o json` prints, cleaned of
/// the API server's fields and defaults) or as files someone wrote. Its
/// snapshot is the `.ev` file `ev import k8s` writes and what it leaves
/// out, or the problems that keep it from importing; an imported case
/// must also evaluate cleanly on a cluster and render exactly the objects
/// read (compared as data, ev's ownership labels aside).
#[test]
fn k8s_imports() {
    use ev_deploy::import::k8s;
    each_case("k8s", "k8s_import", |name, text| {
        let source = if name.starts_with("live-") {
            k8s::Source::Live
        } else {
            k8s::Source::Files
        };
        let read = k8s::read_stream(text).expect("a stream");
        let snapshot = match k8s::objects(read, source) {
            Err(problems) => {
                assert!(
                    name.starts_with("refused"),
                    "{name} was refused: {problems:?}"
                );
                problems
                    .iter()
                    .map(|p| format!("{}: {}\n", p.object, p.why))
                    .collect()
            }
            Ok(objects) => {
                let source = k8s::declaration(name, "home", None, &objects.objects, name);
                assert_eq!(
                    ev_syntax::format::format(&source).as_deref(),
                    Ok(source.as_str()),
                    "{name}: formatted as `ev fmt` formats"
                );
                let mut fs = MemFs::new();
                fs.insert(
                    "everything.ev",
                    format!("cluster home {{\n  context = \"home\"\n}}\nimport \"milky-way/{name}.ev\" as imported\n"),
                );
                fs.insert(format!("milky-way/{name}.ev"), source.as_str());
                let (case, imported) = (name.to_string(), objects.objects.clone());
                let problems = run_with_stack(move || {
                    let program = ev_core::load(&fs, "everything.ev");
                    let ev = Evaluator::new(&program, &fs);
                    let (model, diagnostics) = ev_deploy::build_model(&program, &ev);
                    assert!(diagnostics.is_empty(), "{case}: {diagnostics:#?}");
                    let graph = ev_deploy::plan::lower(&model, &fs);
                    let Some(ev_deploy::Artifact::Kubectl(apply)) =
                        graph.get("home:apply").map(|a| &a.artifact)
                    else {
                        panic!("{case}: no cluster action");
                    };
                    k8s::as_rendered(&imported, &apply.objects)
                        .err()
                        .unwrap_or_default()
                });
                assert!(problems.is_empty(), "{name}: {problems:#?}");
                let left: String = objects
                    .left_out
                    .iter()
                    .map(|l| format!("# left out: {l}\n"))
                    .collect();
                format!("{left}{source}")
            }
        };
        snapshot
    });
}

/// Golden Pulumi imports: every `pulumi stack export` under
/// `tests/import/pulumi/` is one case. Its snapshot is the `.ev` file `ev
/// import pulumi` writes, or the problems that keep it from importing (no
/// secret's value among them); an imported case must also evaluate
/// cleanly and render exactly the resources and outputs of the export, on
/// the export's project, stack and backend.
#[test]
fn pulumi_imports() {
    use ev_deploy::import::pulumi;
    each_case("pulumi", "pulumi_import", |name, text| {
        let snapshot = match pulumi::read_export(text) {
            Err(problems) => {
                assert!(
                    name.starts_with("refused"),
                    "{name} was refused: {problems:?}"
                );
                let said: String = problems
                    .iter()
                    .map(|p| format!("{}: {}\n", p.at, p.why))
                    .collect();
                assert!(!said.contains("canary"), "a secret's value in {said}");
                said
            }
            Ok(export) => {
                let backend = "s3://test-only-state";
                let source = pulumi::declaration(name, &export, backend, name);
                assert_eq!(
                    ev_syntax::format::format(&source).as_deref(),
                    Ok(source.as_str()),
                    "{name}: formatted as `ev fmt` formats"
                );
                let mut fs = MemFs::new();
                fs.insert(
                    "everything.ev",
                    format!("import \"jupiter/{name}.ev\" as imported\n"),
                );
                fs.insert(format!("jupiter/{name}.ev"), source.as_str());
                let case = name.to_string();
                let program = run_with_stack(move || {
                    let program = ev_core::load(&fs, "everything.ev");
                    let ev = Evaluator::new(&program, &fs);
                    let (model, diagnostics) = ev_deploy::build_model(&program, &ev);
                    assert!(diagnostics.is_empty(), "{case}: {diagnostics:#?}");
                    let graph = ev_deploy::plan::lower(&model, &fs);
                    match graph.get(&format!("{case}:up")).map(|a| &a.artifact) {
                        Some(ev_deploy::Artifact::Pulumi(p)) => p.clone(),
                        _ => panic!("{case}: no stack action"),
                    }
                });
                assert_eq!(program.resources, export.resources, "{name}: resources");
                assert_eq!(program.outputs, export.exports, "{name}: outputs");
                assert_eq!(
                    (
                        program.project.as_str(),
                        program.stack.as_str(),
                        program.backend.as_str()
                    ),
                    (export.project.as_str(), export.stack.as_str(), backend),
                    "{name}: the same stack"
                );
                source
            }
        };
        snapshot
    });
}
