//! OCI image layouts assembled natively: one gzipped layer holding the
//! image's files, a config with entrypoint, environment and working
//! directory, a manifest and an index. Deterministic: the same files give
//! the same digest on every machine (fixed mtimes, owners and modes, sorted
//! entries, gzip without a timestamp).

use std::io::Write;
use std::path::Path;

use indexmap::IndexMap;
use serde_json::json;
use sha2::{Digest, Sha256};

/// An image to assemble.
#[derive(Clone, Debug)]
pub struct Recipe {
    /// Image path → file content.
    pub files: Vec<(String, Vec<u8>)>,
    /// Entrypoint.
    pub entrypoint: Vec<String>,
    /// Environment.
    pub env: IndexMap<String, String>,
    /// Working directory.
    pub workdir: Option<String>,
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

fn put_blob(out: &Path, bytes: &[u8]) -> std::io::Result<String> {
    let digest = sha256(bytes);
    let dir = out.join("blobs/sha256");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join(&digest["sha256:".len()..]), bytes)?;
    Ok(digest)
}

/// Writes the OCI layout of `recipe` to `out` with `tag`; returns the
/// manifest's digest (what a registry reports after the push).
pub fn assemble(recipe: &Recipe, out: &Path, tag: &str) -> std::io::Result<String> {
    let mut files = recipe.files.clone();
    files.sort();
    let mut tar = tar::Builder::new(Vec::new());
    tar.mode(tar::HeaderMode::Deterministic);
    let mut dirs = std::collections::BTreeSet::new();
    for (path, _) in &files {
        let rel = path.trim_start_matches('/');
        let mut acc = String::new();
        for part in rel
            .split('/')
            .collect::<Vec<_>>()
            .iter()
            .rev()
            .skip(1)
            .rev()
        {
            acc.push_str(part);
            acc.push('/');
            dirs.insert(acc.clone());
        }
    }
    for dir in &dirs {
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(tar::EntryType::Directory);
        header.set_mode(0o755);
        header.set_size(0);
        header.set_mtime(0);
        tar.append_data(&mut header, dir, std::io::empty())?;
    }
    for (path, bytes) in &files {
        let mut header = tar::Header::new_ustar();
        header.set_mode(0o644);
        header.set_size(bytes.len() as u64);
        header.set_mtime(0);
        tar.append_data(&mut header, path.trim_start_matches('/'), bytes.as_slice())?;
    }
    let layer = tar.into_inner()?;
    let diff_id = sha256(&layer);
    let mut gz = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::default());
    gz.write_all(&layer)?;
    let layer_gz = gz.finish()?;
    let layer_digest = put_blob(out, &layer_gz)?;
    let mut config = serde_json::Map::new();
    if !recipe.entrypoint.is_empty() {
        config.insert("Entrypoint".into(), json!(recipe.entrypoint));
    }
    if !recipe.env.is_empty() {
        config.insert(
            "Env".into(),
            json!(recipe
                .env
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()),
        );
    }
    if let Some(w) = &recipe.workdir {
        config.insert("WorkingDir".into(), json!(w));
    }
    let config_doc = json!({
        "architecture": "amd64",
        "os": "linux",
        "config": config,
        "rootfs": { "type": "layers", "diff_ids": [diff_id] },
    });
    let config_bytes = serde_json::to_vec(&config_doc)?;
    let config_digest = put_blob(out, &config_bytes)?;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_bytes.len() },
        "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest, "size": layer_gz.len() }],
    });
    let manifest_bytes = serde_json::to_vec(&manifest)?;
    let manifest_digest = put_blob(out, &manifest_bytes)?;
    let index = json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": manifest_bytes.len(),
            "annotations": { "org.opencontainers.image.ref.name": tag },
        }],
    });
    std::fs::write(out.join("index.json"), serde_json::to_vec(&index)?)?;
    std::fs::write(out.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    Ok(manifest_digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_files_give_the_same_digest() {
        let recipe = Recipe {
            files: vec![("/srv/www/index.html".into(), b"<h1>hi</h1>\n".to_vec())],
            entrypoint: vec!["/bin/x".into()],
            env: IndexMap::new(),
            workdir: Some("/srv/www".into()),
        };
        let (a, b) = (
            tempfile::tempdir().expect("dir"),
            tempfile::tempdir().expect("dir"),
        );
        let da = assemble(&recipe, a.path(), "latest").expect("assemble");
        let db = assemble(&recipe, b.path(), "latest").expect("assemble");
        assert_eq!(da, db);
        assert!(a
            .path()
            .join("blobs/sha256")
            .join(&da["sha256:".len()..])
            .exists());
    }
}
