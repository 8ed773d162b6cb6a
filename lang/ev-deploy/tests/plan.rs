//! Golden plans of the repository's example against several recorded states.

use std::path::Path;

use ev_core::eval::run_with_stack;
use ev_core::fs::{FileSystem, MemFs, OsFs, OverlayFs};
use ev_core::Evaluator;
use ev_deploy::plan::diff::{diff, render_human, render_human_as, Change, Detail};
use ev_deploy::plan::state::{ActionState, State, StateError, STATE_VERSION};
use ev_deploy::plan::{lower, ActionGraph};

/// Runs `f` over the example repository as it stands after every image
/// was pushed: the example leaves `seadexarr` unpushed (its digest
/// unknown), which the tests of a fully applied repository add.
fn with_example<R>(f: impl FnOnce(&dyn FileSystem) -> R) -> R {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let disk = OsFs::new(root);
    let mut pushed = MemFs::new();
    pushed.insert(
        "exports/whale/digests/seadexarr.txt",
        "sha256:5eadea5eadea5eadea5eadea5eadea5eadea5eadea5eadea5eadea5eadea5ead\n",
    );
    f(&OverlayFs {
        overlay: &pushed,
        base: &disk,
    })
}

/// The example's action graph (built on a big-stack thread; the graph holds
/// only plain data, so it can leave it).
fn example_graph() -> ActionGraph {
    run_with_stack(|| {
        with_example(|fs| {
            let program = ev_core::load(fs, "everything.ev");
            let ev = Evaluator::new(&program, fs);
            let (model, diagnostics) = ev_deploy::build_model(&program, &ev);
            assert!(diagnostics.is_empty(), "{diagnostics:?}");
            lower(&model, fs)
        })
    })
}

/// (human plan, JSON plan, has changes) of the example against the state
/// `make` builds from the fully applied one.
fn plan_with(make: fn(State) -> State) -> (String, String, bool) {
    let graph = example_graph();
    let state = make(State::fully_applied(&graph));
    let plan = diff(&graph, &state);
    let json = serde_json::to_string_pretty(&plan).unwrap_or_default();
    (render_human(&plan), json, plan.has_changes())
}

/// Makes the state record `action` as applied with its artifact as `edit`
/// makes its JSON text (and a fingerprint of before the change).
fn applied_before(state: &mut State, action: &str, edit: impl FnOnce(&str) -> String) {
    let recorded = state
        .actions
        .get_mut(action)
        .expect("the action is recorded");
    let text = serde_json::to_string(&recorded.artifact).expect("serializes");
    recorded.artifact = serde_json::from_str(&edit(&text)).expect("still an artifact");
    recorded.fingerprint = "recorded-before-the-change".into();
}

/// A zone as an earlier apply recorded it, with these record sets.
fn recorded_zone(zone: &str, protected: bool, records: serde_json::Value) -> ActionState {
    ActionState {
        backend: "octodns".into(),
        fingerprint: "0".into(),
        artifact: serde_json::from_value(serde_json::json!({
            "backend": "octodns",
            "artifact": {
                "zone": zone,
                "provider": { "name": "pdns", "class": "octodns_powerdns.PowerDnsProvider", "settings": {} },
                "processors": [],
                "records": records,
            },
        }))
        .expect("a zone artifact"),
        protected,
        inputs: Default::default(),
        outputs: Default::default(),
        secrets: Vec::new(),
    }
}

#[test]
fn no_state_creates_everything() {
    let (human, json, changes) = plan_with(|_| State::empty());
    assert!(changes);
    assert!(
        human.contains("actions: 21 to create, 0 to update, 0 to delete, 0 unchanged."),
        "{human}"
    );
    // On a terminal the first plan is compact; in full it shows every
    // object's manifest (the JSON snapshot holds them).
    let graph = example_graph();
    let compact = ev_deploy::plan::diff::render_human_as(
        &diff(&graph, &State::empty()),
        ev_deploy::plan::diff::Detail::Compact,
    );
    assert!(
        human.contains("          values: [\"192.0.2.10\"]"),
        "creates show values: {human}"
    );
    insta::assert_snapshot!("plan_no_state", compact);
    insta::assert_snapshot!("plan_no_state_json", json);
}

#[test]
fn fully_applied_state_has_no_changes() {
    let (human, json, changes) = plan_with(|s| s);
    assert!(!changes, "{human}");
    insta::assert_snapshot!("plan_fully_applied", human);
    insta::assert_snapshot!("plan_fully_applied_json", json);
}

#[test]
fn a_changed_zone_is_one_update() {
    let (human, json, _) = plan_with(|mut s| {
        applied_before(&mut s, "eight:yuto.sh", |f| {
            f.replace("203.0.113.7", "203.0.113.99")
        });
        s
    });
    assert!(human.contains("~ eight:yuto.sh"), "{human}");
    assert!(
        human.contains("actions: 0 to create, 1 to update, 0 to delete, 20 unchanged."),
        "{human}"
    );
    insta::assert_snapshot!("plan_changed_record", human);
    insta::assert_snapshot!("plan_changed_record_json", json);
}

#[test]
fn a_removed_zone_is_a_delete() {
    let (human, json, _) = plan_with(|mut s| {
        s.actions.insert(
            "eight:old.example".into(),
            recorded_zone("old.example", false, serde_json::json!([])),
        );
        s
    });
    assert!(human.contains("- eight:old.example"), "{human}");
    let plan: serde_json::Value = serde_json::from_str(&json).expect("json");
    let deleted = plan["actions"]
        .as_array()
        .map(|a| a.iter().filter(|x| x["change"] == "delete").count())
        .unwrap_or(0);
    assert_eq!(deleted, 1);
    insta::assert_snapshot!("plan_removed_zone", human);
    insta::assert_snapshot!("plan_removed_zone_json", json);
}

#[test]
fn state_files_are_validated() {
    assert!(matches!(
        State::parse("{ not json"),
        Err(StateError::Corrupted(_))
    ));
    assert!(matches!(
        State::parse(r#"{"actions": {}}"#),
        Err(StateError::Corrupted(_))
    ));
    assert_eq!(
        State::parse(r#"{"version": 99, "actions": {}}"#),
        Err(StateError::UnknownVersion(99))
    );
    // A state of the format that recorded rendered files is refused with
    // the way forward, never read as something else.
    let v1 = State::parse(r#"{"version": 1, "actions": {}}"#);
    assert_eq!(v1, Err(StateError::UnknownVersion(1)));
    let d = v1.err().map(|e| e.diagnostic()).expect("a diagnostic");
    assert_eq!(d.code, "E0601");
    assert!(
        d.help.as_deref().unwrap_or("").contains("state.json.v1"),
        "{d:?}"
    );
    let empty = State::empty();
    assert_eq!(State::parse(&empty.to_text()), Ok(empty));
    assert_eq!(STATE_VERSION, 2);
    let _ = Change::None;
}

#[test]
fn a_changed_app_shows_the_object_diff() {
    let (human, json, _) = plan_with(|mut s| {
        applied_before(&mut s, "milky-way:apply", |f| {
            f.replacen("\"replicas\":2", "\"replicas\":3", 1)
        });
        s
    });
    assert!(human.contains("~ Deployment apps/grand-central"), "{human}");
    assert!(
        human.contains("-    replicas: 3") || human.contains("-  replicas: 3"),
        "{human}"
    );
    insta::assert_snapshot!("plan_changed_app", human);
    insta::assert_snapshot!("plan_changed_app_json", json);
}

/// The example's plan against the fully applied state changed by `make`, and that state.
fn graph_and_state(make: fn(State) -> State) -> (ev_deploy::plan::diff::Plan, State) {
    let graph = example_graph();
    let state = make(State::fully_applied(&graph));
    (diff(&graph, &state), state)
}

#[test]
fn guardrails_refuse_protected_deletions_and_large_deletions() {
    use ev_deploy::plan::diff::{guardrails, PlanError};
    // A protected zone that is no longer declared.
    let (plan, state) = graph_and_state(|mut s| {
        s.actions.insert(
            "eight:old.example".into(),
            recorded_zone(
                "old.example",
                true,
                serde_json::json!([{ "name": "www", "type": "A", "ttl": 300, "values": ["192.0.2.1"] }]),
            ),
        );
        s
    });
    let errors = guardrails(&plan, &state, true);
    assert_eq!(
        errors,
        vec![PlanError::ProtectedDeletion {
            action: "eight:old.example".into()
        }]
    );
    assert_eq!(errors[0].code(), "E0501");

    // yuto.wiki applied with many more record sets than now declared.
    let (plan, state) = graph_and_state(|mut s| {
        let zone = s.actions.get_mut("eight:yuto.wiki").expect("yuto.wiki");
        let ev_deploy::Artifact::Octodns(recorded) = &mut zone.artifact else {
            panic!("a zone records a zone");
        };
        for i in 0..40 {
            recorded
                .records
                .push(ev_deploy::backends::octodns::RecordSet {
                    name: format!("old{i}"),
                    kind: "A".into(),
                    ttl: 300,
                    values: vec![serde_json::json!(format!("192.0.2.{i}"))],
                    octodns: None,
                });
        }
        zone.fingerprint = "older".into();
        s
    });
    let errors = guardrails(&plan, &state, false);
    assert!(
        matches!(&errors[..], [PlanError::LargeDeletion { layer, deleted: 40, .. }] if layer == "eight"),
        "{errors:?}"
    );
    assert_eq!(errors[0].code(), "E0502");
    // The refusal names what it refuses to delete.
    let refused = errors[0].diagnostic().notes.join("\n");
    assert!(
        refused.contains("it would delete:\n    - eight:yuto.wiki: - old0 A")
            || refused.contains("eight:yuto.wiki: old0 A"),
        "{refused}"
    );
    assert!(refused.contains("old39 A"), "{refused}");
    assert!(
        guardrails(&plan, &state, true).is_empty(),
        "--allow-large-changes lifts it"
    );
    let human = render_human(&plan);
    assert!(human.contains("- old0 A"), "{human}");
    // The summary counts the record sets, not the one action changing them.
    assert!(
        human.contains(
            "Plan: 0 to add, 0 to change, 40 to destroy; actions: 0 to create, 1 to update"
        ),
        "{human}"
    );
    assert!(
        human.contains("  eight  -40 record sets  (1 action)"),
        "{human}"
    );
}

#[test]
fn targets_pull_in_upstream_dependencies() {
    use ev_deploy::plan::diff::{target, PlanError};
    let graph = example_graph();
    let mut plan = diff(&graph, &State::empty());
    let pulled = target(&mut plan, &graph, &["domain.yuto.sh".to_string()]);
    let unknown = target(
        &mut diff(&graph, &State::empty()),
        &graph,
        &["eigth".to_string()],
    );
    let actions: Vec<String> = plan.actions.iter().map(|a| a.id.clone()).collect();
    assert_eq!(
        actions,
        vec!["jupiter:up".to_string(), "eight:yuto.sh".to_string()]
    );
    assert_eq!(pulled, Ok(vec!["jupiter:up".to_string()]));
    assert!(
        matches!(&unknown, Err(PlanError::UnknownTarget { suggestions, .. }) if suggestions == &vec!["eight".to_string()]),
        "{unknown:?}"
    );
    // A bare name is offered by its full spellings.
    let bare = target(
        &mut diff(&graph, &State::empty()),
        &graph,
        &["yuto.sh".to_string()],
    );
    assert!(
        matches!(&bare, Err(PlanError::UnknownTarget { suggestions, .. })
            if suggestions == &vec!["domain.yuto.sh".to_string(), "eight:yuto.sh".to_string()]),
        "{bare:?}"
    );
}

/// (human, JSON) plan of the example through [`ev_deploy::plan::plan`]
/// (re-evaluating with the exports this plan rewrites unknown), against the
/// fully applied state changed by `make`.
fn full_plan_with(make: fn(State) -> State) -> (String, String) {
    full_plan_as(make, |plan, _, _| {
        let json = serde_json::to_string_pretty(plan).unwrap_or_default();
        (render_human(plan), json)
    })
}

/// [`full_plan_with`], rendered by `render` (given the plan, its actions
/// and the model).
fn full_plan_as<R: Send + 'static>(
    make: fn(State) -> State,
    render: fn(&ev_deploy::plan::diff::Plan, &ActionGraph, &ev_core::model::Model) -> R,
) -> R {
    run_with_stack(move || {
        with_example(|fs| {
            let program = ev_core::load(fs, "everything.ev");
            let ev = Evaluator::new(&program, fs);
            let (model, diagnostics) = ev_deploy::build_model(&program, &ev);
            assert!(diagnostics.is_empty(), "{diagnostics:?}");
            let state = make(State::fully_applied(&lower(&model, fs)));
            let (graph, plan) = ev_deploy::plan::plan(&program, fs, &model, &state);
            render(&plan, &graph, &model)
        })
    })
}

/// The state as it was before `whale/files/example-image/index.html` was
/// edited: the image is rebuilt.
fn before_the_image_edit(mut s: State) -> State {
    let image = s
        .actions
        .get_mut("whale:example-image:push")
        .expect("the image action");
    image.inputs.insert(
        "whale/files/example-image/index.html".into(),
        "sha256:recorded-before-the-edit".into(),
    );
    image.fingerprint = "recorded-before-the-edit".into();
    s
}

#[test]
fn a_rebuilt_image_makes_the_pinned_digest_unknown() {
    let (human, json) = full_plan_with(before_the_image_edit);
    assert!(
        human.contains("image example-image: rebuild + push")
            && human.contains("file whale/files/example-image/index.html changed"),
        "{human}"
    );
    // The app pinning it cannot know the new digest before the push.
    assert!(human.contains("~ milky-way:apply"), "{human}");
    assert!(
        human.contains("+        image: (known after apply)"),
        "{human}"
    );
    assert!(
        human.contains("re-planned after whale:example-image:push"),
        "{human}"
    );
    assert!(
        human.contains("actions: 0 to create, 2 to update, 0 to delete, 19 unchanged."),
        "{human}"
    );
    insta::assert_snapshot!("plan_rebuilt_image", human);
    insta::assert_snapshot!("plan_rebuilt_image_json", json);
}

#[test]
fn an_edited_module_rebuilds_the_machines_using_it() {
    let (human, json) = full_plan_with(|mut s| {
        for (id, action) in s.actions.iter_mut() {
            if let Some(digest) = action.inputs.get_mut("venus/modules/server.nix") {
                *digest = "sha256:recorded-before-the-edit".into();
                action.fingerprint = format!("{id} before the edit");
            }
        }
        s
    });
    for machine in ["methanol", "ethane", "nixie"] {
        assert!(
            human.contains(&format!("machine {machine}: rebuild + activate")),
            "{human}"
        );
    }
    assert!(
        human.contains("module venus/modules/server.nix changed"),
        "{human}"
    );
    assert!(!human.contains("machine sodium"), "{human}");
    insta::assert_snapshot!("plan_edited_module", human);
    insta::assert_snapshot!("plan_edited_module_json", json);
}

#[test]
fn a_protected_zone_is_shown_and_its_deletion_refused() {
    use ev_deploy::plan::diff::guardrails;
    let (plan, state) = graph_and_state(|mut s| {
        let mut zone = s.actions["eight:yuto.sh"].clone();
        zone.protected = true;
        s.actions.remove("eight:yuto.sh");
        s.actions.insert("eight:yuto.old".into(), zone);
        s
    });
    let errors = guardrails(&plan, &state, true);
    let diagnostics: Vec<_> = errors.iter().map(|e| e.diagnostic()).collect();
    let rendered = ev_core::diagnostic::render_human(
        &diagnostics,
        &ev_syntax::SourceMap::new(),
        ev_core::diagnostic::RenderOptions { color: false },
    );
    insta::assert_snapshot!("plan_protected_refused", rendered);
    let json = serde_json::to_string_pretty(&plan).unwrap_or_default();
    assert!(json.contains("\"protected\": true"), "{json}");
    insta::assert_snapshot!("plan_protected_json", json);
}

/// Whatever an action renders decides what it waits for: in every plan of
/// the example (nothing applied, everything applied, an image rebuilt),
/// each unknown value an action's files hold waits for an export file
/// that an action it depends on writes, and that producer runs in the plan.
#[test]
fn every_unknown_is_produced_by_an_action_waited_for() {
    fn no_state(_: State) -> State {
        State::empty()
    }
    fn applied(s: State) -> State {
        s
    }
    fn image_rebuilt(mut s: State) -> State {
        if let Some(image) = s.actions.get_mut("whale:example-image:push") {
            image.fingerprint = "recorded-before-the-edit".into();
        }
        s
    }
    for (name, make) in [
        ("no state", no_state as fn(State) -> State),
        ("fully applied", applied),
        ("an image rebuilt", image_rebuilt),
    ] {
        let problems: Vec<String> = run_with_stack(move || {
            // The repository as it stands: `seadexarr` is not pushed.
            let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
            let fs = OsFs::new(root);
            let program = ev_core::load(&fs, "everything.ev");
            let ev = Evaluator::new(&program, &fs);
            let (model, diagnostics) = ev_deploy::build_model(&program, &ev);
            assert!(diagnostics.is_empty(), "{diagnostics:?}");
            let state = make(State::fully_applied(&lower(&model, &fs)));
            let (graph, plan) = ev_deploy::plan::plan(&program, &fs, &model, &state);
            let mut problems = Vec::new();
            for action in graph.ordered() {
                {
                    if action.unknowns.unsourced {
                        problems.push(format!("{}: a value waits for nothing", action.id));
                    }
                    for export in &action.unknowns.files {
                        let Some(producer) = graph.producer_of(export) else {
                            problems.push(format!("{}: no action writes {export}", action.id));
                            continue;
                        };
                        if !action.depends_on.contains(&producer.id) {
                            problems.push(format!(
                                "{}: waits for {export} but not for {}",
                                action.id, producer.id
                            ));
                        }
                        let runs = plan
                            .actions
                            .iter()
                            .any(|a| a.id == producer.id && a.change != Change::None);
                        if !runs {
                            problems.push(format!(
                                "{}: {} is unknown but {} does not run",
                                action.id, export, producer.id
                            ));
                        }
                    }
                }
            }
            problems
        });
        assert!(problems.is_empty(), "{name}:\n{}", problems.join("\n"));
    }
}

/// The example's `local` environment planned from nothing: every layer at
/// its server on loopback (the values that differ by environment: the
/// PowerDNS provider, the registry, the API server, the machines' stand-in
/// flakes and profiles) and the jupiter stack standing in with its
/// recorded outputs, whose addresses the records use.
#[test]
fn the_local_environment_plans_every_layer_on_loopback() {
    let text = run_with_stack(|| {
        with_example(|fs| {
            let mut program = ev_core::load(fs, "everything.ev");
            program.environment = Some("local".into());
            let ev = Evaluator::new(&program, fs);
            let (model, diagnostics) = ev_deploy::build_model(&program, &ev);
            assert!(diagnostics.is_empty(), "{diagnostics:?}");
            let plan = diff(&lower(&model, fs), &State::default());
            render_human_as(&plan, Detail::Compact)
        })
    });
    assert!(
        text.contains("= stack jupiter  not applied: its outputs are the ones recorded in exports/env/local/jupiter/generated.json"),
        "{text}"
    );
    assert!(!text.contains("jupiter:up"), "{text}");
    insta::assert_snapshot!(text);
}

/// A stack that becomes `recorded` (applied elsewhere) keeps what the state
/// holds for it: no destroy is planned, and the plan names it.
#[test]
fn a_recorded_stack_is_named_and_never_destroyed() {
    fn plan_of(recorded: bool, state: &State) -> (ev_deploy::plan::diff::Plan, State) {
        let mut fs = MemFs::new();
        fs.insert(
            "everything.ev",
            format!(
                "stack cloud {{\n  resources = [{{ name = \"x\", type = \"random:index/randomId:RandomId\" }}]\n  recorded = {recorded}\n}}\n"
            ),
        );
        fs.insert("exports/cloud/generated.json", "{ \"id\": \"abc\" }\n");
        let program = ev_core::load(&fs, "everything.ev");
        let ev = Evaluator::new(&program, &fs);
        let (model, diagnostics) = ev_deploy::build_model(&program, &ev);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let graph = lower(&model, &fs);
        (diff(&graph, state), State::fully_applied(&graph))
    }
    run_with_stack(|| {
        let (_, applied) = plan_of(false, &State::empty());
        assert_eq!(applied.actions.len(), 1);
        let (plan, _) = plan_of(true, &applied);
        assert!(!plan.has_changes(), "{}", render_human(&plan));
        assert_eq!(plan.stand_ins.len(), 1);
        assert!(render_human(&plan).contains(
            "= stack cloud  not applied: its outputs are the ones recorded in exports/cloud/generated.json"
        ));
    });
}

/// The pull-request comment (`ev plan --format markdown`) of the example
/// after one image's files changed: the image and the apps pinning it
/// change, the blast radius lists what reads them, with links to where
/// each is declared.
#[test]
fn a_markdown_plan_shows_the_change_and_its_blast_radius() {
    let markdown = full_plan_as(before_the_image_edit, |plan, graph, model| {
        ev_deploy::plan::markdown::render_markdown(
            plan,
            graph,
            model,
            "ev plan",
            Some("https://github.com/yutotakano/everything/blob/main"),
        )
    });
    assert!(markdown.contains("#### Blast radius"), "{markdown}");
    assert!(
        markdown.contains("<code>app\\.example\\-image</code> ([milky\\-way\\/apps\\.ev\\:"),
        "{markdown}"
    );
    insta::assert_snapshot!(markdown);
}
