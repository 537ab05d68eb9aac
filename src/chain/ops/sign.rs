//! The signing operations besides the append, each with its rules: a checkpoint (moving the
//! checkpoint ref only forward), a late co-signature, a fork resolution and the adoption of
//! the branch it selects. A key the lifecycle revokes signs none of them.

use std::path::PathBuf;

use serde::Serialize;

use crate::artifact::{ArtifactType, ObjectId};
use crate::canon::{Digest, Value};
use crate::chain::Error;
use crate::chain::checkpoint::{self, Summary};
use crate::chain::fork;
use crate::chain::lifecycle::{ChainId, Lifecycle};
use crate::chain::module::{sign_all, write_file, write_pretty};
use crate::chain::store::ChainStore;
use crate::chain::verify::Options;
use crate::odb::{Event, Expect, FileEncoding, Repo, StagedFiles, Transaction};
use crate::vc::{self, KeyPair};

use super::{Chain, FileStyle, read_json, verify};

/// Refuses signing keys the key lifecycle revokes, before anything is written; `what` names
/// the new object (`receipt`, `checkpoint`, ...).
pub fn refuse_revoked(
    chain: &Chain,
    lifecycle: Option<&Lifecycle>,
    keys: &[KeyPair],
    what: &str,
) -> Result<(), Error> {
    let Some(l) = lifecycle else {
        return Ok(());
    };
    let object = format!(
        "new {what} of {}",
        ChainId::new(chain.kind, &chain.owner, chain.purpose.as_deref())
    );
    keys.iter()
        .try_for_each(|k| l.refuse_revoked(&object, &k.did()))
}

/// What a checkpoint command wrote.
#[derive(Clone, Debug, Serialize)]
pub struct Checkpointed {
    /// The checkpoint digest.
    pub digest: Digest,
    /// The working-tree file.
    pub path: PathBuf,
    /// The chain length it covers.
    pub receipt_count: u64,
    /// The MMR root.
    pub mmr_root: Digest,
    /// Whether the checkpoint ref now names it (false: it already named a larger checkpoint of
    /// the same chain, made by a checkpoint that raced this one).
    pub ref_moved: bool,
}

/// A checkpoint to sign.
#[derive(Clone, Copy)]
pub struct CheckpointRequest<'a> {
    /// What it commits to ([`super::summary`]).
    pub summary: &'a Summary,
    /// The signing keys.
    pub keys: &'a [KeyPair],
    /// Its timestamp.
    pub timestamp: &'a str,
    /// The key lifecycle: a revoked key signs no checkpoint.
    pub lifecycle: Option<&'a Lifecycle>,
}

/// Builds, signs and stores a checkpoint of `req.summary` and moves the checkpoint ref forward,
/// through one [`Transaction`] on that ref: under its lock the ref is read, a checkpoint that
/// would move it back is only stored, and `pre-ref-update` judges the move **before** the
/// checkpoint is signed (its digest leaves the proofs out, so it is known first); then the
/// object and the working-tree file are journaled and committed with the ref move. A veto
/// leaves no signature, object, file or ref anywhere.
pub fn checkpoint(
    repo: Option<&Repo>,
    chain: &Chain,
    req: CheckpointRequest<'_>,
) -> Result<(Value, Checkpointed), Error> {
    let (s, keys) = (req.summary, req.keys);
    refuse_revoked(chain, req.lifecycle, keys, "checkpoint")?;
    let mut ck = checkpoint::build(s, req.timestamp);
    let digest = checkpoint::digest(&ck)?;
    let path = chain
        .checkpoints_dir
        .join(format!("checkpoint.{}.json", s.receipt_count));
    let done = |ref_moved| Checkpointed {
        digest,
        path: path.clone(),
        receipt_count: s.receipt_count,
        mmr_root: s.mmr.root,
        ref_moved,
    };
    let Some(repo) = repo else {
        sign_all(&mut ck, keys)?;
        write_file(&path, &chain.encode(&ck)?)?;
        return Ok((ck, done(false)));
    };
    crate::odb::recover(repo, &chain.key().head_ref()?)?;
    let reason = "checkpoint";
    let (mut txn, _) =
        Transaction::begin(repo, &chain.key().checkpoint_ref()?, Expect::Any, reason)?;
    let ref_moved = !supersedes(repo, chain, txn.old(), s.receipt_count)?;
    if ref_moved {
        txn.run_hook(Event::PreRefUpdate, digest, reason)?;
    }
    sign_all(&mut ck, keys)?;
    let artifact = ArtifactType::new(chain.kind.checkpoint_artifact()).expect("valid type");
    let id = txn.put_json(&artifact, &ck)?;
    debug_assert_eq!(
        id.digest, digest,
        "a checkpoint's digest leaves its proofs out"
    );
    let mut files = StagedFiles::default();
    files.write(&path, &chain.encode(&ck)?)?;
    // The transaction's only object, so number 0 of its journal.
    txn.journal_file(0, encoding(chain.style), &path)?;
    txn.add_files(files);
    if ref_moved {
        txn.commit(
            digest,
            || Ok::<(), Error>(()),
            &[(Event::PostCheckpoint, reason)],
        )?;
    } else {
        txn.publish()?;
    }
    Ok((ck, done(ref_moved)))
}

/// How the journal rebuilds a working-tree file of `style`.
fn encoding(style: FileStyle) -> FileEncoding {
    match style {
        FileStyle::Pretty => FileEncoding::Pretty,
        FileStyle::Canonical => FileEncoding::Canonical,
    }
}

/// Whether the checkpoint `old` (the ref's target) covers more than `count` receipts of the
/// chain as it is now: then a racing checkpoint already moved the ref past this one, and moving
/// it back would lose the newer one. A checkpoint of a branch a fork resolution dropped does
/// not count.
fn supersedes(repo: &Repo, chain: &Chain, old: Option<Digest>, count: u64) -> Result<bool, Error> {
    let Some(old) = old else { return Ok(false) };
    let ck = repo.read_json(&ObjectId::new(
        ArtifactType::new(chain.kind.checkpoint_artifact()).expect("valid type"),
        old,
    ))?;
    let Some(size) = ck.get("receipt_count").and_then(Value::as_u64) else {
        return Ok(false);
    };
    let Some(last) = ck
        .get(checkpoint::final_field(chain.kind))
        .and_then(Value::as_str)
        .and_then(|h| Digest::parse_loose(h).ok())
    else {
        return Ok(false);
    };
    if size <= count {
        return Ok(false);
    }
    let store = ChainStore::open(repo, &chain.key(), chain.genesis_root)?;
    Ok(size <= store.state().size && store.next_root_at(size - 1)? == last)
}

/// A late signature of one receipt.
#[derive(Clone, Copy)]
pub struct CosignRequest<'a> {
    /// The receipt's sequence.
    pub sequence: u64,
    /// The signing keys.
    pub keys: &'a [KeyPair],
    /// How the chain is verified first (its lifecycle also refuses revoked keys).
    pub opts: &'a Options,
}

/// Adds a late signature to the receipt at `req.sequence`: a new proof file in `.msez`, and the
/// module's receipt file rewritten atomically with the union of proofs.
pub fn cosign(
    repo: Option<&Repo>,
    chain: &Chain,
    req: CosignRequest<'_>,
) -> Result<(PathBuf, usize), Vec<Error>> {
    let (sequence, keys, opts) = (req.sequence, req.keys, req.opts);
    let one = |e: Error| vec![e];
    refuse_revoked(chain, opts.lifecycle.as_deref(), keys, "cosignature").map_err(one)?;
    if let Some(repo) = repo {
        crate::odb::recover(repo, &chain.key().head_ref().map_err(one)?)
            .map_err(|e| vec![e.into()])?;
    }
    let result = verify(chain, opts).valid().map_err(one)?;
    let (Some(path), Some(&next_root)) = (
        result.path(sequence as usize),
        result.next_roots.get(sequence as usize),
    ) else {
        return Err(vec![Error::NoSuchSequence {
            sequence,
            size: result.receipt_count,
        }]);
    };
    let mut r = read_json(&path).map_err(one)?;
    let before = vc::proof::proofs_of(&r).len();
    sign_all(&mut r, keys).map_err(one)?;
    let Some(repo) = repo else {
        write_file(&path, &chain.encode(&r).map_err(one)?).map_err(one)?;
        return Ok((path, vc::proof::proofs_of(&r).len().saturating_sub(before)));
    };
    let id = ObjectId::new(chain.receipt_type(), next_root);
    repo.put_json(&id.artifact_type, &r)
        .map_err(|e| vec![e.into()])?;
    // A concurrent co-sign of this receipt rewrites the same file from its own read of the
    // union, and the last rename wins: written alone, a proof stored by the other would be
    // lost from the file. So write the union, read it again, and write again until what we
    // wrote is still the whole union. Whoever writes last then checked, after its write, every
    // proof stored before it (each co-signer stores its proof before writing the file).
    let mut union = repo.read_json(&id).map_err(|e| vec![e.into()])?;
    loop {
        write_file(&path, &chain.encode(&union).map_err(one)?).map_err(one)?;
        let now = repo.read_json(&id).map_err(|e| vec![e.into()])?;
        if now == union {
            break;
        }
        union = now;
    }
    Ok((
        path,
        vc::proof::proofs_of(&union).len().saturating_sub(before),
    ))
}

/// What adopting a resolved chain did to `.msez`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Adopted {
    /// Whether the head ref moved.
    pub moved: bool,
    /// The old head, now kept under the chain's `forks/<next_root>` ref.
    pub losing_head: Option<Digest>,
    /// The new head.
    pub head: Option<Digest>,
    /// Receipts of the chosen branch newly stored.
    pub stored: u64,
}

/// After a resolution: when `.msez`'s head is on a losing branch, stores the selected chain's
/// receipts, keeps the old head under `refs/.../forks/<next_root>`, moves the head ref to the
/// selected head (both logged in the reflog) and rebuilds the MMR files from the new head.
pub fn adopt(repo: &Repo, chain: &Chain, opts: &Options) -> Result<Adopted, Vec<Error>> {
    let one = |e: Error| vec![e];
    let odb = |e: crate::odb::Error| vec![Error::from(e)];
    let key = chain.key();
    crate::odb::recover(repo, &key.head_ref().map_err(one)?).map_err(odb)?;
    let result = verify(chain, opts).valid().map_err(one)?;
    let head_ref = key.head_ref().map_err(one)?;
    let reason = "fork-resolution: adopt the selected branch";
    let (mut txn, _) = Transaction::begin(repo, &head_ref, Expect::Any, reason).map_err(odb)?;
    let old = txn.old();
    // Nothing to move: no chain in .msez yet, or its head is on the selected chain (`msez
    // add` fast-forwards a longer one).
    let Some(old_head) = old.filter(|h| !result.next_roots.contains(h)) else {
        return Ok(Adopted {
            head: old,
            ..Adopted::default()
        });
    };
    let rtype = chain.receipt_type();
    let mut stored = 0;
    for path in (0..result.next_roots.len()).filter_map(|i| result.path(i)) {
        let id = txn.put_json(&rtype, &read_json(&path).map_err(one)?);
        if !repo.has(&id.map_err(odb)?) {
            stored += 1;
        }
    }
    txn.run_hook(Event::PreRefUpdate, result.final_root, reason)
        .map_err(odb)?;
    // The losing branch keeps a ref before the head leaves it (its objects are stored), so
    // no crash from here on loses it.
    repo.update_ref(
        &key.fork_ref(&old_head).map_err(one)?,
        old_head,
        crate::odb::Expect::Any,
        "fork-resolution: losing branch",
    )
    .map_err(odb)?;
    txn.commit(result.final_root, || Ok::<(), Error>(()), &[])
        .map_err(one)?;
    let mut store = ChainStore::rebuilt(repo, &key, chain.genesis_root).map_err(one)?;
    store.save().map_err(one)?;
    Ok(Adopted {
        moved: true,
        losing_head: Some(old_head),
        head: Some(result.final_root),
        stored,
    })
}

/// A fork resolution to write: the credential's fields and its signers.
pub struct ResolveRequest<'a> {
    /// What the credential says.
    pub resolution: fork::Request,
    /// The signing keys (none: an unsigned resolution, which counts only where allowed).
    pub keys: &'a [KeyPair],
    /// The key lifecycle: a revoked key signs no resolution.
    pub lifecycle: Option<&'a Lifecycle>,
    /// Where to write it (default: the module's fork-resolutions folder).
    pub out: Option<PathBuf>,
}

/// What a fork resolution wrote.
#[derive(Clone, Debug)]
pub struct Resolved {
    /// The credential.
    pub vc: Value,
    /// Its working-tree file.
    pub path: PathBuf,
    /// Its object in `.msez` (`vc:<digest>`), when a repository holds the module.
    pub object: Option<String>,
}

/// Writes a signed fork-resolution credential choosing one branch at a fork point: stored in
/// `.msez` when there is one, and written to the module. Moving the head is [`adopt`]'s job,
/// once the resolutions are loaded as verify counts them.
pub fn resolve_fork(
    repo: Option<&Repo>,
    chain: &Chain,
    req: ResolveRequest<'_>,
) -> Result<Resolved, Error> {
    refuse_revoked(chain, req.lifecycle, req.keys, "fork resolution")?;
    let r = &req.resolution;
    let mut vc = fork::credential(chain, r)?;
    sign_all(&mut vc, req.keys)?;
    let name = format!(
        "fork-resolution.{}.{}.{}.json",
        r.sequence,
        &r.prev_root.to_hex()[..12],
        &r.chosen_next_root.to_hex()[..12]
    );
    let path = req.out.unwrap_or_else(|| chain.forks_dir.join(name));
    let object = match repo {
        Some(repo) => Some(
            repo.put_json(&ArtifactType::new("vc").expect("valid type"), &vc)?
                .id
                .to_string(),
        ),
        None => None,
    };
    write_pretty(&path, &vc)?;
    Ok(Resolved { vc, path, object })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::chain::envelope;
    use crate::chain::module::{ASSETS_DIR, AssetModule};
    use crate::chain::ops::{AppendRequest, append, summary};
    use crate::chain::receipt::Draft;

    #[test]
    fn a_checkpoint_goes_through_the_transaction_and_a_veto_leaves_nothing() {
        let t = tempfile::tempdir().unwrap();
        let repo = Repo::init(t.path(), &[]).unwrap();
        let genesis = serde_json::json!({"type": "SmartAssetGenesis", "asset_name": "ck"});
        let module = AssetModule::init(&t.path().join(ASSETS_DIR), &genesis, &[], None).unwrap();
        let chain = module.chain(None).unwrap();
        let keys = [KeyPair::generate(None).unwrap()];
        let drafts = [Draft {
            transition: envelope::load(&serde_json::json!({"kind": "t.v1", "payload": {}}))
                .unwrap(),
            timestamp: "2026-01-01T00:00:00Z".into(),
            ..Draft::default()
        }];
        let req = AppendRequest {
            drafts: &drafts,
            keys: &keys,
            expect: Expect::Any,
            allow_unsigned: false,
            lifecycle: None,
            attachments: &[],
        };
        append(&repo, &chain, req).unwrap();
        let s = summary(Some(&repo), &chain, &Options::default(), true).unwrap();
        let ck = CheckpointRequest {
            summary: &s,
            keys: &keys,
            timestamp: "2026-01-02T00:00:00Z",
            lifecycle: None,
        };
        let hook = repo.dir().join("hooks/pre-ref-update");
        std::fs::write(&hook, "#!/bin/sh\nexit 1\n").unwrap();
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
        let e = checkpoint(Some(&repo), &chain, ck).unwrap_err();
        assert_eq!(
            crate::taxonomy::Classify::code(&e),
            "conflict.hook_rejected"
        );
        let r = chain.key().checkpoint_ref().unwrap();
        assert_eq!(repo.read_ref(&r).unwrap(), None);
        let file = chain.checkpoints_dir.join("checkpoint.1.json");
        assert!(!file.exists());
        assert!(crate::odb::journals(&repo).unwrap().is_empty());
        std::fs::remove_file(&hook).unwrap();
        let (_, done) = checkpoint(Some(&repo), &chain, ck).unwrap();
        assert!(done.ref_moved && file.exists());
        assert_eq!(repo.read_ref(&r).unwrap(), Some(done.digest));
        let artifact = ArtifactType::new(chain.kind.checkpoint_artifact()).unwrap();
        assert!(repo.has(&ObjectId::new(artifact, done.digest)));
    }
}
