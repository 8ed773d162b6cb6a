//! `ev import dns`: declarations written from what already runs. Every
//! input is read and checked before anything is written (E0617 names
//! everything that cannot be imported); the program with the new files
//! is then evaluated and must render exactly what was read (else E0618,
//! and the files are taken back); only then are the imported actions
//! recorded in the state as applied, under the apply lock, so the next
//! plan has nothing to do for them.

use std::time::Duration;

use ev_apply::confined::Writer;
use ev_apply::state_backend::Lease;
use ev_apply::state_file::StateFile;
use ev_deploy::import::dns;
use ev_deploy::plan::state::ActionState;

use crate::cli::ImportCommand;
use crate::printer::Output;
use crate::settings::{Settings, ENTRY};

/// One zone to import.
struct Zone {
    name: String,
    /// Where its declaration goes, relative to the root.
    target: String,
    file: dns::ZoneFile,
}

/// Runs `ev import`.
pub fn run(settings: &Settings, command: ImportCommand) -> Output {
    let ImportCommand::Dns {
        config,
        into,
        default_ttl,
        live,
        inputs,
    } = command;
    let mut out = Output::default();
    let Some(loaded) = super::loaded(settings, &mut out) else {
        return out;
    };
    let refused = |problems: Vec<String>, help: &str| {
        Output::refused(
            settings,
            &[ev_core::Diagnostic::general(
                "E0617",
                format!("nothing was imported:\n{}", problems.join("\n")),
            )
            .with_help(help.to_string())],
            1,
        )
    };
    let Some(declared) = loaded
        .model
        .of_kind("octodns_config")
        .find(|r| r.key.name == config)
    else {
        let names: Vec<String> = loaded
            .model
            .of_kind("octodns_config")
            .map(|r| r.key.name.clone())
            .collect();
        return refused(
            vec![format!(
                "  the program declares no octodns_config `{config}`"
            )],
            &if names.is_empty() {
                "declare one (`octodns_config NAME { provider = ... }`): its provider is where the zones live".to_string()
            } else {
                format!("the program declares: {}", names.join(", "))
            },
        );
    };
    let ttl = declared
        .value
        .get("ttl")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(300) as u32;
    // Its bytes as on disk: what a failed import puts back.
    let entry = match std::fs::read_to_string(settings.root.join(ENTRY)) {
        Ok(text) => text,
        Err(e) => {
            return refused(
                vec![format!("  cannot read {ENTRY}: {e}")],
                "the entry file gets an import of each zone",
            )
        }
    };

    // Everything is read and checked before anything is written.
    let mut zones: Vec<Zone> = Vec::new();
    let mut problems = Vec::new();
    for path in &inputs {
        let origin = path.display().to_string();
        let name = if live {
            path.to_str().unwrap_or("")
        } else {
            path.file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".yaml").or_else(|| n.strip_suffix(".yml")))
                .unwrap_or("")
        };
        if !dns::is_zone_name(name) {
            problems.push(if live {
                format!("  {origin}: not a zone name (lower case, without the final `.`)")
            } else {
                format!("  {origin}: a zone file is named `<zone>.yaml`, the zone in lower case")
            });
            continue;
        }
        let target = format!("{}/{name}.ev", into.trim_end_matches('/'));
        if loaded.model.of_kind("domain").any(|d| d.key.name == name)
            || zones.iter().any(|z| z.name == name)
        {
            problems.push(format!(
                "  {origin}: the program already declares the zone {name}"
            ));
            continue;
        }
        if std::fs::symlink_metadata(settings.root.join(&target)).is_ok() {
            problems.push(format!("  {origin}: {target} exists already"));
            continue;
        }
        let read = if live {
            dump(settings, &loaded, &entry, &config, name, &target)
                .map_err(|why| format!("  {origin}: cannot read it from the provider: {why}"))
        } else {
            std::fs::read_to_string(path).map_err(|e| format!("  {origin}: cannot read it: {e}"))
        };
        let text = match read {
            Ok(t) => t,
            Err(problem) => {
                problems.push(problem);
                continue;
            }
        };
        // octodns-dump writes with the YamlProvider's default TTL.
        let file_ttl = if live { 3600 } else { default_ttl };
        match dns::read_zone(&text, file_ttl) {
            Ok(file) => zones.push(Zone {
                name: name.to_string(),
                target,
                file,
            }),
            Err(found) => problems.extend(found.iter().map(|p| {
                if p.record.is_empty() {
                    format!("  {origin}: {}", p.why)
                } else {
                    format!("  {origin}: {}: {}", p.record, p.why)
                }
            })),
        }
    }
    if !problems.is_empty() {
        return refused(
            problems,
            "nothing was written; a zone is imported whole or not at all (syncing it without one of its records would delete that record)",
        );
    }

    // Written: one file per zone, and an import of each in the entry file.
    let writer = Writer::new(&settings.root);
    let mut written: Vec<&str> = Vec::new();
    let take_back = |written: &[&str]| {
        for target in written {
            let _ = std::fs::remove_file(settings.root.join(target));
        }
        let _ = writer.replace_source(ENTRY, entry.as_bytes());
    };
    let mut imports = String::new();
    for zone in &zones {
        // The file's name only (checked: a zone name and `.yaml`): no
        // directory of this machine, nothing that could end the comment.
        let file_name = format!("{}.yaml", zone.name);
        let text = dns::declaration(&zone.name, &zone.file, &config, ttl, &file_name);
        if let Err(e) = writer.create_source(&zone.target, text.as_bytes()) {
            take_back(&written);
            return Output::usage(settings, super::cannot_write(&zone.target, &e));
        }
        written.push(&zone.target);
        // Unique among the entry file's imports and this run's.
        let base = alias(&zone.name);
        let taken = |a: &str| {
            let line_end = format!(" as {a}\n");
            entry.contains(&line_end) || imports.contains(&line_end)
        };
        let name = (1..)
            .map(|n| {
                if n == 1 {
                    base.clone()
                } else {
                    format!("{base}-{n}")
                }
            })
            .find(|a| !taken(a))
            .unwrap_or(base);
        imports.push_str(&format!(
            "import {} as {name}\n",
            ev_core::output::quote(&zone.target)
        ));
    }
    let separator = if entry.ends_with('\n') || entry.is_empty() {
        ""
    } else {
        "\n"
    };
    let new_entry = format!("{entry}{separator}{imports}");
    if let Err(e) = writer.replace_source(ENTRY, new_entry.as_bytes()) {
        take_back(&written);
        return Output::usage(settings, super::cannot_write(ENTRY, &e));
    }

    // The program as it now is must render what was read.
    let mut out = Output::default();
    let Some(reloaded) = super::loaded(settings, &mut out) else {
        take_back(&written);
        return out;
    };
    let graph = ev_deploy::plan::lower(&reloaded.model, &reloaded.fs);
    let mut actions = Vec::new();
    let mut unlike = Vec::new();
    for zone in &zones {
        match dns::rendered(&graph, &zone.name) {
            None => unlike.push(format!("  {}: no action syncs it", zone.name)),
            Some((action, rendered)) => {
                for p in dns::differences(&zone.file.records, &rendered.records) {
                    unlike.push(format!("  {}: {}: {}", zone.name, p.record, p.why));
                }
                actions.push(action);
            }
        }
    }
    if !unlike.is_empty() {
        take_back(&written);
        return Output::refused(
            settings,
            &[ev_core::Diagnostic::general(
                "E0618",
                format!(
                    "the imported declarations do not render what they were read from, so they were taken back:\n{}",
                    unlike.join("\n")
                ),
            )
            .with_help("this is a bug in ev's importer: please report it with the zone file")],
            1,
        );
    }

    // Recorded as applied, under the apply lock.
    let recorded = (|| -> Result<(), Output> {
        let backend = reloaded.state_backend(settings)?;
        let lease = Lease::acquire(backend.clone(), Duration::ZERO)
            .map_err(|e| Output::usage(settings, e.diagnostic(&backend.location())))?;
        let (stored, state, _) = super::plan::read_state(settings, &*backend)?;
        if let Some(action) = actions.iter().find(|a| state.actions.contains_key(&a.id)) {
            return Err(refused(
                vec![format!("  the state already records `{}`", action.id)],
                "`ev state rm ID` first if the imported declaration should take its record over",
            ));
        }
        let mut file = StateFile::open(&lease, &stored, state)
            .map_err(|e| Output::usage(settings, e.diagnostic()))?;
        for action in &actions {
            file.record(&action.id, ActionState::of(action))
                .map_err(|e| Output::usage(settings, e.diagnostic()))?;
        }
        file.finish()
            .map_err(|e| Output::usage(settings, e.diagnostic()))
    })();
    if let Err(out) = recorded {
        take_back(&written);
        return out;
    }
    let sets: usize = zones.iter().map(|z| z.file.records.len()).sum();
    let mut said = String::new();
    for zone in &zones {
        said.push_str(&format!(
            "imported {} ({} record sets) into {}\n",
            zone.name,
            zone.file.records.len(),
            zone.target
        ));
    }
    said.push_str(&format!(
        "{} zones, {sets} record sets, listed in octodns_config {config} and imported by {ENTRY}; recorded in the state as applied, so the next plan changes nothing for them (`ev plan --refresh` compares them with the provider)\n",
        zones.len()
    ));
    Output {
        stderr: said,
        ..Output::default()
    }
}

/// The zone `name` as the provider of the program's `octodns_config`
/// named `config` holds it: the program evaluated with an empty
/// declaration of the zone at `target` (in memory) renders the zone's
/// config and names its secrets, and octodns-dump reads the zone with
/// them.
fn dump(
    settings: &Settings,
    loaded: &super::Loaded,
    entry: &str,
    config: &str,
    name: &str,
    target: &str,
) -> Result<String, String> {
    use ev_core::output::quote;
    let mut overlay = ev_core::fs::MemFs::new();
    overlay.insert(
        ENTRY,
        format!("{entry}\nimport {} as {}\n", quote(target), alias(name)),
    );
    overlay.insert(
        target,
        format!(
            "export domain {} {{\n  config = {}\n}}\n",
            quote(name),
            quote(config)
        ),
    );
    let fs = ev_core::fs::OverlayFs {
        overlay: &overlay,
        base: &loaded.fs,
    };
    let program = ev_core::load(&fs, ENTRY);
    let ev = ev_core::Evaluator::new(&program, &fs);
    let (model, diagnostics) = ev_deploy::build_model(&program, &ev);
    if let Some(d) = diagnostics.first() {
        return Err(format!(
            "the zone's config does not evaluate: {}",
            d.message
        ));
    }
    let graph = ev_deploy::plan::lower(&model, &fs);
    let Some((action, zone)) = dns::rendered(&graph, name) else {
        return Err("no action would sync it".into());
    };
    ev_apply::import::dump_zone(
        &settings.root,
        &loaded.ev_dir,
        zone,
        action.secrets.clone(),
        Duration::from_secs(300),
    )
}

/// The name a zone's file is imported as: `zone-example-test`.
fn alias(zone: &str) -> String {
    format!(
        "zone-{}",
        zone.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect::<String>()
    )
}
