//! `ev import dns`: octodns zone files, or the zones of a config's
//! provider read through `octodns-dump`, as `domain` declarations listed
//! in one of the program's `octodns_config`s (see the module above for
//! the steps every import takes).

use std::path::PathBuf;
use std::time::Duration;

use ev_deploy::import::dns;
use ev_deploy::plan::state::ActionState;

use super::{alias, read_entry, record, refused, write_and_load, Declaration};
use crate::printer::Output;
use crate::settings::{Settings, ENTRY};

/// One zone to import.
struct Zone {
    name: String,
    /// Where its declaration goes, relative to the root.
    target: String,
    file: dns::ZoneFile,
}

/// Runs `ev import dns`.
pub fn run(
    settings: &Settings,
    config: &str,
    into: &str,
    default_ttl: u32,
    live: bool,
    inputs: &[PathBuf],
) -> Output {
    let mut out = Output::default();
    let Some(loaded) = super::super::loaded(settings, &mut out) else {
        return out;
    };
    let refused = |problems: Vec<String>, help: &str| refused(settings, problems, help);
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
    let entry = match read_entry(settings, "zone") {
        Ok(text) => text,
        Err(out) => return out,
    };

    // Everything is read and checked before anything is written.
    let mut zones: Vec<Zone> = Vec::new();
    let mut problems = Vec::new();
    for path in inputs {
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
            dump(settings, &loaded, &entry, config, name, &target)
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
    let references = ev_deploy::import::References::of(&loaded.model);
    let declarations: Vec<Declaration> = zones
        .iter()
        .map(|zone| Declaration {
            target: zone.target.clone(),
            // The file's name only (checked: a zone name and `.yaml`): no
            // directory of this machine, nothing that could end the comment.
            text: dns::declaration(
                &zone.name,
                &zone.file,
                config,
                ttl,
                &format!("{}.yaml", zone.name),
                &references,
            ),
            alias: alias("zone", &zone.name),
        })
        .collect();
    let (mut written, reloaded) = match write_and_load(settings, entry, &declarations) {
        Ok(w) => w,
        Err(out) => return out,
    };

    // The program as it now is must render what was read.
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
        return super::unlike(settings, &unlike, "zone file");
    }

    // Recorded as applied, under the apply lock.
    let recorded = record(settings, &reloaded, |state| {
        if let Some(action) = actions.iter().find(|a| state.actions.contains_key(&a.id)) {
            return Err(refused(
                vec![format!("  the state already records `{}`", action.id)],
                "`ev state rm ID` first if the imported declaration should take its record over",
            ));
        }
        Ok(actions
            .iter()
            .map(|a| (a.id.clone(), ActionState::of(a)))
            .collect())
    });
    if let Err(out) = recorded {
        return out;
    }
    written.kept = true;
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
    loaded: &super::super::Loaded,
    entry: &str,
    config: &str,
    name: &str,
    target: &str,
) -> Result<String, String> {
    use ev_core::output::quote;
    let mut overlay = ev_core::fs::MemFs::new();
    overlay.insert(
        ENTRY,
        format!(
            "{entry}\nimport {} as {}\n",
            quote(target),
            alias("zone", name)
        ),
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
