//! registry: builds an image (a Nix attribute producing a docker archive,
//! or an OCI layout ev assembles from repository files), pushes every tag
//! with skopeo, and writes the pushed manifest digest to the image's digest
//! file (`exports/whale/digests/<name>.txt`).

use ev_deploy::backends::registry::{ImageBuild, Recipe as Image};

use super::{Applied, Ctx, Driver, Export, Failure};
use crate::oci;

/// Builds and pushes the image.
pub async fn apply(image: &Image, ctx: &Ctx) -> Result<Applied, Failure> {
    let first_tag = image
        .tags
        .first()
        .cloned()
        .unwrap_or_else(|| "latest".into());
    let source = match &image.build {
        ImageBuild::Oci { base: Some(base), .. } => {
            return Err(Failure::new(format!(
                "image `{}` is based on `{base}`: ev assembles images from scratch only; build it with Nix instead",
                image.name
            )))
        }
        ImageBuild::Oci { files, entrypoint, env, workdir, .. } => {
            // Read like the program reads: confined to the repository's
            // regular files.
            let repository = ev_core::fs::OsFs::new(&ctx.root);
            let mut contents = Vec::new();
            for (dest, src) in files {
                let bytes = ev_core::fs::FileSystem::read_bytes(&repository, src)
                    .map_err(|e| Failure::new(format!("cannot read {src}: {e}")))?;
                contents.push((dest.clone(), bytes));
            }
            let recipe = oci::Recipe {
                files: contents,
                entrypoint: entrypoint.clone(),
                env: env.clone(),
                workdir: workdir.clone(),
            };
            let layout = ctx.scratch.join("oci");
            let _ = std::fs::remove_dir_all(&layout);
            let digest = oci::assemble(&recipe, &layout, &first_tag)
                .map_err(|e| Failure::new(format!("cannot assemble the image: {e}")))?;
            ctx.log.line(&format!("assembled {} as {digest}", image.name));
            format!("oci:{}:{first_tag}", layout.to_string_lossy())
        }
        ImageBuild::Nix { flake, attribute } => {
            let flake_dir = ev_core::fs::OsFs::new(&ctx.root)
                .resolve(flake)
                .map_err(|e| Failure::new(format!("cannot use the flake `{flake}`: {e}")))?;
            let flake_dir = flake_dir.to_string_lossy();
            super::nix::lock_flake(ctx, &flake_dir).await?;
            let installable = format!("{flake_dir}#{attribute}");
            let out = ctx
                .run(&ctx.nix(&["build", "--no-link", "--json", &installable], &ctx.root), &[])
                .await?;
            let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap_or_default();
            let path = doc
                .pointer("/0/outputs/out")
                .and_then(|p| p.as_str())
                .ok_or_else(|| Failure::new("nix build printed no store path"))?;
            format!("docker-archive:{path}")
        }
    };
    let digest_file = ctx.scratch.join("digest");
    let mut digest = String::new();
    for tag in image
        .tags
        .iter()
        .chain(image.tags.is_empty().then_some(&first_tag))
    {
        let dest = format!("docker://{}:{tag}", image.repository);
        let digest_arg = digest_file.to_string_lossy().into_owned();
        let mut args = vec!["copy", "--digestfile", &digest_arg];
        if !image.tls_verify {
            args.push("--dest-tls-verify=false");
        }
        args.extend([source.as_str(), dest.as_str()]);
        ctx.run(&ctx.cmd("skopeo", &args, &ctx.root), &[]).await?;
        digest = std::fs::read_to_string(&digest_file)
            .map_err(|e| Failure::new(format!("skopeo wrote no digest: {e}")))?
            .trim()
            .to_string();
    }
    Ok(Applied {
        exports: vec![Export {
            path: image.digest_file.clone(),
            content: format!("{digest}\n"),
        }],
        outputs: [("digest".to_string(), digest)].into(),
        removed_exports: Vec::new(),
    })
}

/// The registry driver: one image per action.
pub struct Registry;

impl Driver for Registry {
    type Artifact = Image;

    async fn apply(image: &Image, ctx: &Ctx) -> Result<Applied, Failure> {
        apply(image, ctx).await
    }

    /// A registry cannot say what a push would change without pushing.
    async fn refresh(_: &Image, _: &Ctx) -> Result<Option<String>, Failure> {
        Ok(None)
    }

    /// A pushed image stays in its registry: nothing live is removed.
    async fn destroy(_: &Image, _: &Ctx) -> Option<Result<Applied, Failure>> {
        None
    }
}
