//! `msez quickstart [DIR]`: the operator flow end to end on the embedded default, then a summary.
//!
//! init → key → asset module → N signed receipts (one batch) → checkpoint → inclusion proof →
//! verify (chain, checkpoint, proof) → fsck --strict → push to a local-directory remote →
//! clone it elsewhere → fsck the clone → witness bundle of the module → (where FUSE works)
//! mount the bundle, list it, unmount. Every step is a library call; the files it leaves are
//! the same ones the individual commands write.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use msez::chain::module::{ASSETS_DIR, AssetModule};
use msez::chain::receipt::Draft;
use msez::chain::{self, Kind, envelope, ops, verify};
use msez::odb::{Expect, Repo};
use msez::vc::KeyPair;

use super::{Ctx, written};

/// `msez quickstart [DIR] [--receipts N]`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to build the demo (must not hold a repository yet).
    #[arg(default_value = "msez-demo")]
    pub dir: PathBuf,
    /// How many receipts to append.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub receipts: u64,
}

/// What quickstart made.
#[derive(Debug, serde::Serialize)]
struct Summary {
    dir: PathBuf,
    repository: PathBuf,
    key: PathBuf,
    did: String,
    asset_id: String,
    module: PathBuf,
    receipts: u64,
    head: String,
    checkpoint: String,
    checkpoint_path: PathBuf,
    mmr_root: String,
    inclusion_proof: PathBuf,
    proof_sequence: u64,
    verify: &'static str,
    fsck: String,
    remote: String,
    pushed_refs: usize,
    clone: PathBuf,
    clone_fsck: String,
    bundle: PathBuf,
    bundle_manifest: String,
    /// What the mounted bundle's root showed, or why it was not mounted.
    mount: String,
}

/// Runs the operator flow.
pub fn run(args: Args, ctx: &Ctx) -> super::Result<ExitCode> {
    let dir = ctx.path(&args.dir);
    let repo = Repo::init(&dir, super::repo::SAMPLE_HOOKS)?;
    let key_path = dir.join("operator.jwk");
    let key = KeyPair::generate(Some("key-1".into()))?;
    key.write_new(&key_path)?;
    let did = key.did().as_str().to_string();
    let module = asset_module(&repo, &dir, &did)?;
    let keys = [key];
    let chain = Chained::make(&repo, &module, &keys, args.receipts)?;

    let fsck_opts = msez::fsck::Options {
        strict: true,
        ..Default::default()
    };
    let stop = AtomicBool::new(false);
    let report = msez::fsck::fsck(&repo, &fsck_opts, &msez::progress::Silent, &stop)?;
    if let Some(p) = report.problems.first() {
        return Err(msez::Error::Usage(format!(
            "quickstart: fsck found a problem: {}",
            p.message
        )));
    }
    let (repo, url, pushed, clone_dir, clone_report) = push_and_clone(repo, &dir, &fsck_opts)?;
    let bundle_path = dir.join("asset.witness-bundle.zip");
    let built = witness_bundle(&repo, &module, &bundle_path)?;
    let mount = mount_and_list(&bundle_path, &dir.join("mnt"));

    let fsck_line = |r: &msez::fsck::Report| {
        format!(
            "ok: {} objects, {} proof files, {} refs",
            r.objects, r.proof_files, r.refs
        )
    };
    let s = Summary {
        dir: dir.clone(),
        repository: repo.dir().to_path_buf(),
        key: key_path,
        did,
        asset_id: module.asset_id.to_hex(),
        module: module.dir.clone(),
        receipts: chain.appended.size,
        head: chain.appended.head.to_hex(),
        checkpoint: format!("smart-asset-receipt-checkpoint:{}", chain.done.digest),
        checkpoint_path: chain.done.path.clone(),
        mmr_root: chain.done.mmr_root.to_hex(),
        inclusion_proof: chain.proof_path,
        proof_sequence: chain.seq,
        verify: "ASSET STATE VERIFY OK",
        fsck: fsck_line(&report),
        remote: url.to_string(),
        pushed_refs: pushed,
        clone: clone_dir,
        clone_fsck: fsck_line(&clone_report),
        bundle: built.path.clone(),
        bundle_manifest: built.manifest_digest.to_hex(),
        mount,
    };
    written(ctx.out.emit(&s, |w| render(w, &s, &dir)))?;
    Ok(ExitCode::SUCCESS)
}

/// The demo's asset module, its genesis stored in the repository.
fn asset_module(repo: &Repo, dir: &Path, did: &str) -> super::Result<AssetModule> {
    let genesis = serde_json::json!({
        "type": "SmartAssetGenesis",
        "stack_spec_version": "0.4.44",
        "created_at": msez::vc::proof::now_utc(),
        "asset_name": "Quickstart Asset",
        "asset_class": "contract",
        "description": "Created by msez quickstart",
        "creator": did,
    });
    let module = AssetModule::init(&dir.join(ASSETS_DIR), &genesis, &[], None)?;
    let gtype = msez::artifact::ArtifactType::new("smart-asset-genesis").expect("valid type");
    let mut stored = genesis.clone();
    stored
        .as_object_mut()
        .expect("an object")
        .insert("asset_id".into(), module.asset_id.to_hex().into());
    repo.put_json(&gtype, &stored)?;
    Ok(module)
}

/// The demo chain: appended, checkpointed, one receipt proven, all verified from the files.
struct Chained {
    appended: ops::Appended,
    done: ops::Checkpointed,
    seq: u64,
    proof_path: PathBuf,
}

impl Chained {
    fn make(
        repo: &Repo,
        module: &AssetModule,
        keys: &[KeyPair],
        receipts: u64,
    ) -> super::Result<Chained> {
        let asset = module.chain(None)?;
        let timestamp = msez::vc::proof::now_utc();
        let drafts = (0..receipts)
            .map(|i| {
                let t = serde_json::json!({"kind": "quickstart.transfer.v1", "payload": {"step": i, "amount": format!("{}.00", (i + 1) * 100)}});
                Ok(Draft { transition: envelope::load(&t)?, timestamp: timestamp.clone(), ..Draft::default() })
            })
            .collect::<Result<Vec<_>, chain::Error>>()?;
        let req = ops::AppendRequest {
            drafts: &drafts,
            keys,
            expect: Expect::Absent,
            allow_unsigned: false,
            lifecycle: None,
            attachments: &[],
        };
        let appended = ops::append(repo, &asset, req)?;

        let opts = verify::Options::default();
        let summary = ops::summary(Some(repo), &asset, &opts, true)?;
        let req = ops::CheckpointRequest {
            summary: &summary,
            keys,
            timestamp: &msez::vc::proof::now_utc(),
            lifecycle: None,
        };
        let (ck, done) = ops::checkpoint(Some(repo), &asset, req)?;

        let seq = receipts / 2;
        let proof = ops::prove(Some(repo), &asset, seq, &opts, true)?;
        let uri = done
            .path
            .strip_prefix(&module.dir)
            .unwrap_or(&done.path)
            .display()
            .to_string();
        let anchor = chain::inclusion::Anchor {
            checkpoint: &ck,
            uri: &uri,
        };
        let proof_doc = chain::inclusion::build(
            Kind::Asset,
            &module.asset_id.to_hex(),
            &proof,
            Some(&anchor),
            &msez::vc::proof::now_utc(),
        )?;
        let proof_path = asset.proofs_dir.join(format!("inclusion.{seq}.json"));
        chain::module::write_pretty(&proof_path, &proof_doc)?;

        // Verify what was written, the way an auditor would: from the module's files.
        let result = ops::verify(&asset, &opts).valid()?;
        ops::check_checkpoint_file(&asset, &done.path, &result, None)?;
        let receipt_path = &result
            .path(seq as usize)
            .expect("the proven sequence is in the chain");
        let receipt = super::state::read_json(receipt_path)?;
        chain::inclusion::verify(Kind::Asset, &receipt, &proof_doc, Some(&ck), None)?;
        Ok(Chained {
            appended,
            done,
            seq,
            proof_path,
        })
    }
}

/// The embedded default remote, a local directory: push, clone elsewhere, fsck the clone.
/// Returns the repository (its config now names the remote), the remote's URL, the refs
/// pushed, the clone and its fsck report.
fn push_and_clone(
    repo: Repo,
    dir: &Path,
    fsck_opts: &msez::fsck::Options,
) -> super::Result<(Repo, msez::remote::Url, usize, PathBuf, msez::fsck::Report)> {
    let remote_dir = dir.join("remote");
    let url = msez::remote::Url::parse(&remote_dir.display().to_string(), dir)?;
    let mut config = repo.config().clone();
    config.remote.insert(
        "origin".into(),
        msez::odb::RemoteConfig {
            url: url.to_string(),
            ..Default::default()
        },
    );
    let mut repo = repo;
    repo.save_config(config)?;
    let sync = msez::remote::sync::Options::default();
    let stop = AtomicBool::new(false);
    let backend = msez::remote::open(&url, sync.retry)?;
    let pushed = msez::remote::sync::push(
        &repo,
        "origin",
        backend.as_ref(),
        &[],
        &sync,
        &msez::progress::Silent,
        &stop,
    )?;
    let clone_dir = dir.join("clone");
    let (clone, _) = msez::remote::sync::clone(
        &url,
        backend.as_ref(),
        &clone_dir,
        super::repo::SAMPLE_HOOKS,
        &sync,
        &msez::progress::Silent,
        &stop,
    )?;
    let clone_report = msez::fsck::fsck(&clone, fsck_opts, &msez::progress::Silent, &stop)?;
    if let Some(p) = clone_report.problems.first() {
        return Err(msez::Error::Usage(format!(
            "quickstart: fsck of the clone found a problem: {}",
            p.message
        )));
    }
    if clone.refs()? != repo.refs()? {
        return Err(msez::Error::Usage(
            "quickstart: the clone's refs differ from the repository's".into(),
        ));
    }
    Ok((repo, url, pushed.refs_moved.len(), clone_dir, clone_report))
}

/// A witness bundle of the module, which must carry the whole chain at any --receipts: a
/// cut-short closure or a chain that does not verify is refused, not written.
fn witness_bundle(
    repo: &Repo,
    module: &AssetModule,
    bundle_path: &Path,
) -> super::Result<msez::bundle::write::Built> {
    let opts = msez::graph::Options {
        strict: true,
        max_nodes: msez::graph::DEFAULT_MAX_NODES,
        max_depth: msez::graph::DEFAULT_MAX_DEPTH,
        emit_edges: true,
        store_roots: vec![repo.objects_dir()],
    };
    match msez::audit::build_bundle(
        &msez::graph::Root::Dir(module.dir.clone()),
        &opts,
        bundle_path,
        false,
        &msez::progress::Silent,
    )? {
        msez::audit::Build::Written { built, .. } => Ok(built),
        msez::audit::Build::Refused { findings, .. } => Err(msez::Error::Usage(format!(
            "quickstart: the witness bundle would be incomplete: {}",
            findings
                .0
                .first()
                .map(|f| f.message.clone())
                .unwrap_or_default()
        ))),
    }
}

/// The human summary.
fn render(w: &mut dyn std::io::Write, s: &Summary, dir: &Path) -> std::io::Result<()> {
    let rel = |p: &PathBuf| p.strip_prefix(dir).unwrap_or(p).display().to_string();
    writeln!(w, "msez quickstart: {}", dir.display())?;
    writeln!(w, "  repository       {}", rel(&s.repository))?;
    writeln!(w, "  operator key     {}  {}", rel(&s.key), s.did)?;
    writeln!(w, "  asset            {}  ({})", s.asset_id, rel(&s.module))?;
    writeln!(
        w,
        "  receipts         {} signed, one transaction; head {}",
        s.receipts, s.head
    )?;
    writeln!(w, "  checkpoint       {}", s.checkpoint)?;
    writeln!(
        w,
        "                   mmr root {} over {} receipts",
        s.mmr_root, s.receipts
    )?;
    writeln!(
        w,
        "  inclusion proof  {} (receipt {}, verified against the checkpoint)",
        rel(&s.inclusion_proof),
        s.proof_sequence
    )?;
    writeln!(w, "  verify           {}", s.verify)?;
    writeln!(w, "  fsck --strict    {}", s.fsck)?;
    writeln!(
        w,
        "  push             {} ref(s) to origin = {}",
        s.pushed_refs, s.remote
    )?;
    writeln!(
        w,
        "  clone            {}: fsck --strict {}",
        rel(&s.clone),
        s.clone_fsck
    )?;
    writeln!(
        w,
        "  witness bundle   {} (manifest sha256 {})",
        rel(&s.bundle),
        s.bundle_manifest
    )?;
    writeln!(w, "  mount            {}", s.mount)?;
    writeln!(w)?;
    writeln!(w, "next: msez -C {} refs", dir.display())?;
    writeln!(
        w,
        "      msez -C {} asset state verify {} --checkpoint {}",
        dir.display(),
        rel(&s.module),
        rel(&s.checkpoint_path)
    )?;
    Ok(())
}

/// Mounts the bundle at `mountpoint`, lists its root, unmounts; says what it saw, or why the
/// mount could not be made here (no FUSE is not an error for a demo).
fn mount_and_list(bundle: &std::path::Path, mountpoint: &std::path::Path) -> String {
    let run = || -> Result<String, String> {
        std::fs::create_dir_all(mountpoint).map_err(|e| e.to_string())?;
        let view =
            msez::mount::open_source(&bundle.display().to_string(), std::path::Path::new("/"))
                .map_err(|e| e.to_string())?;
        let fs = msez::mount::fs::Fs::new(view, Box::new(|_, _| {}));
        let session = msez::mount::fs::spawn(fs, mountpoint, "msez:quickstart")
            .map_err(|e| format!("no FUSE here ({e})"))?;
        let mut names: Vec<String> = std::fs::read_dir(mountpoint)
            .map_err(|e| e.to_string())?
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        session.umount_and_join().map_err(|e| e.to_string())?;
        let _ = std::fs::remove_dir(mountpoint);
        Ok(format!(
            "mounted, listed and unmounted: {}",
            names.join(" ")
        ))
    };
    run().unwrap_or_else(|why| format!("skipped: {why}"))
}
