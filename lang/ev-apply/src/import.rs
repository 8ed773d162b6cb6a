//! What `ev import` asks the live systems, through the same drivers and
//! process runner as `ev apply` (explicit argv, only the action's own
//! secrets, output logged with secrets redacted).

use std::path::{Path, PathBuf};
use std::time::Duration;

use ev_deploy::backends::octodns::Zone;
use tokio::sync::watch;

use crate::drivers::{kubectl, octodns, Ctx};

/// One driver call outside an apply: a runtime, and a context whose
/// scratch directory is removed when it drops.
struct Session {
    runtime: tokio::runtime::Runtime,
    ctx: Ctx,
    scratch: PathBuf,
    _kill: watch::Sender<bool>,
}

impl Session {
    /// A session logging as `label`, which may hand its tool `secrets`.
    fn new(
        root: &Path,
        ev: &ev_deploy::plan::state::EvDir,
        label: &str,
        secrets: Vec<ev_core::model::SecretRef>,
        timeout: Duration,
    ) -> Result<Session, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let (kill, kill_rx) = watch::channel(false);
        let run = format!("import-{}", std::process::id());
        let ctx = Ctx::new(root, ev, &run, label, kill_rx, timeout).map_err(|e| e.to_string())?;
        Ok(Session {
            runtime,
            ctx: Ctx { secrets, ..ctx },
            scratch: root.join(".ev/run").join(&run),
            _kill: kill,
        })
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}

/// The zone as its provider holds it (`octodns-dump`), as YamlProvider
/// text; `secrets` are the ones the zone's config references.
pub fn dump_zone(
    root: &Path,
    ev: &ev_deploy::plan::state::EvDir,
    zone: &Zone,
    secrets: Vec<ev_core::model::SecretRef>,
    timeout: Duration,
) -> Result<String, String> {
    let s = Session::new(root, ev, &format!("import:{}", zone.zone), secrets, timeout)?;
    s.runtime
        .block_on(octodns::dump(zone, &s.ctx))
        .map_err(|f| f.message)
}

/// The objects of a live namespace (see [`kubectl::export_namespace`]),
/// read with the cluster's connection; `secrets` are the ones the
/// cluster's values reference (its token).
pub fn export_namespace(
    root: &Path,
    ev: &ev_deploy::plan::state::EvDir,
    connection: &ev_deploy::backends::kubectl::Connection,
    secrets: Vec<ev_core::model::SecretRef>,
    namespace: &str,
    timeout: Duration,
) -> Result<kubectl::Exported, String> {
    let s = Session::new(root, ev, &format!("import:{namespace}"), secrets, timeout)?;
    s.runtime
        .block_on(kubectl::export_namespace(connection, namespace, &s.ctx))
        .map_err(|f| f.message)
}
