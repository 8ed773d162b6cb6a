//! What `ev import` asks the live systems, through the same drivers and
//! process runner as `ev apply` (explicit argv, only the action's own
//! secrets, output logged with secrets redacted).

use std::path::Path;
use std::time::Duration;

use ev_deploy::backends::octodns::Zone;
use tokio::sync::watch;

use crate::drivers::{octodns, Ctx};

/// The zone as its provider holds it (`octodns-dump`), as YamlProvider
/// text; `secrets` are the ones the zone's config references.
pub fn dump_zone(
    root: &Path,
    ev: &ev_deploy::plan::state::EvDir,
    zone: &Zone,
    secrets: Vec<ev_core::model::SecretRef>,
    timeout: Duration,
) -> Result<String, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let (_kill, kill_rx) = watch::channel(false);
    let run = format!("import-{}", std::process::id());
    let ctx = Ctx::new(
        root,
        ev,
        &run,
        &format!("import:{}", zone.zone),
        kill_rx,
        timeout,
    )
    .map_err(|e| e.to_string())?;
    let ctx = Ctx { secrets, ..ctx };
    let dumped = runtime.block_on(octodns::dump(zone, &ctx));
    let _ = std::fs::remove_dir_all(root.join(".ev/run").join(&run));
    dumped.map_err(|f| f.message)
}
