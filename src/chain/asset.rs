//! Smart-asset operations on a module: append receipts, verify, checkpoint, prove, co-sign.
//!
//! When a repository encloses the module, every write goes into `.msez` first (objects, MMR
//! nodes, state), then the working-tree files, then the head ref moves under its lock; the
//! lock is held for the whole append, so a concurrent appender gets a `conflict`, never a fork.
//! Without a repository (an auditor's copy) the module's files are the only state.

use std::path::PathBuf;

use serde::Serialize;

use crate::artifact::{ArtifactType, ObjectId};
use crate::canon::{Digest, Value};
use crate::mmr;
use crate::odb::{Batch, Event, HookEnv, RefLock, Repo};
use crate::vc::{self, KeyPair};

use super::checkpoint::{self, Summary};
use super::genesis;
use super::inclusion;
use super::module::{AssetModule, pretty};
use super::receipt::{self, Draft};
use super::store::{ChainKey, ChainStore};
use super::verify::{self, ChainResult};
use super::{Error, Kind};

/// What an append wrote.
#[derive(Clone, Debug, Serialize)]
pub struct Appended {
    /// The asset.
    pub asset_id: Digest,
    /// The purpose.
    pub purpose: String,
    /// (sequence, next_root, working-tree file) of each new receipt.
    pub receipts: Vec<(u64, Digest, PathBuf)>,
    /// The new head.
    pub head: Digest,
    /// The chain length after the append.
    pub size: u64,
}

/// The file name of a receipt: `receipt.<seq>.json`, or with a next_root prefix when another
/// receipt already holds that name (a fork branch).
pub fn receipt_file(dir: &std::path::Path, sequence: u64, next_root: &Digest) -> PathBuf {
    super::module::receipt_file(dir, "receipt", sequence, next_root)
}

pub use super::module::sign_all;

/// Appends receipts built from `drafts` to the chain of `purpose`, as one transaction.
///
/// `expect_head`: refuse (conflict) unless the chain's head is this (None: the genesis).
pub fn append(
    repo: &Repo,
    module: &AssetModule,
    purpose: &str,
    drafts: &[Draft],
    keys: &[KeyPair],
    expect_head: Option<Option<Digest>>,
) -> Result<Appended, Error> {
    let key = ChainKey::asset(&module.asset_id, purpose);
    let genesis_root = genesis::asset_genesis_root(&module.asset_id, purpose)?;
    let head_ref = key.head_ref()?;
    let lock = RefLock::acquire(repo, &head_ref)?;
    let old = lock.current()?;
    if let Some(expected) = expect_head {
        if expected != old {
            return Err(Error::StaleHead {
                chain: key.path(),
                expected: expected
                    .map(|d| d.to_hex())
                    .unwrap_or_else(|| "genesis".into()),
                found: old.map(|d| d.to_hex()).unwrap_or_else(|| "genesis".into()),
            });
        }
    }
    let mut store = ChainStore::open(repo, &key, genesis_root)?;
    let env = HookEnv {
        ref_name: head_ref.as_str(),
        old: old.map(|d| d.to_hex()).unwrap_or_default(),
        new: String::new(),
        reason: "append",
    };
    repo.run_hook(Event::PreAppend, &env)?;

    let rtype = ArtifactType::new(Kind::Asset.receipt_artifact()).expect("valid type");
    let dir = module.receipts_dir(purpose);
    let mut batch = Batch::new(repo);
    let mut written = Vec::with_capacity(drafts.len());
    let mut prev = old.unwrap_or(genesis_root);
    for draft in drafts {
        let seq = store.state().size;
        let mut r = receipt::build(Kind::Asset, &module.asset_id.to_hex(), seq, &prev, draft)?;
        sign_all(&mut r, keys)?;
        let id = batch.put_json(&rtype, &r)?;
        let file = receipt_file(&dir, seq, &id.digest);
        batch.write_file(&file, &pretty(&r))?;
        store.append(&r)?;
        written.push((seq, id.digest, file));
        prev = id.digest;
    }
    batch.commit()?;
    store.save()?;
    let reason = format!("append {} receipt(s)", drafts.len());
    repo.commit_ref(lock, old, prev, &reason)?;
    let env = HookEnv {
        new: prev.to_hex(),
        ..env
    };
    repo.run_hook(Event::PostAppend, &env)?;
    Ok(Appended {
        asset_id: module.asset_id,
        purpose: purpose.to_string(),
        receipts: written,
        head: prev,
        size: store.state().size,
    })
}

/// Verifies the module's receipts of `purpose` as the reference does.
pub fn verify(
    module: &AssetModule,
    purpose: &str,
    opts: &verify::Options,
) -> Result<ChainResult, Vec<Error>> {
    let genesis_root =
        genesis::asset_genesis_root(&module.asset_id, purpose).map_err(|e| vec![e])?;
    let files = receipt::FileList::scan(&module.receipts_dir(purpose)).map_err(|e| vec![e])?;
    verify::verify(
        Kind::Asset,
        &module.asset_id.to_hex(),
        genesis_root,
        &files,
        opts,
    )
}

/// The chain summary a checkpoint commits to: from the `.msez` chain state when the module's
/// chain is the repository's (O(log n)), else by verifying the module's receipts.
pub fn summary(
    repo: Option<&Repo>,
    module: &AssetModule,
    purpose: &str,
    opts: &verify::Options,
    fast: bool,
) -> Result<Summary, Vec<Error>> {
    if let (Some(repo), true) = (repo, fast) {
        let genesis_root =
            genesis::asset_genesis_root(&module.asset_id, purpose).map_err(|e| vec![e])?;
        let store = ChainStore::open(
            repo,
            &ChainKey::asset(&module.asset_id, purpose),
            genesis_root,
        )
        .map_err(|e| vec![e])?;
        let st = store.state();
        if let Some(head) = st.head {
            let mmr = store.root().map_err(|e| vec![e])?;
            return Ok(Summary {
                kind: Kind::Asset,
                owner: module.asset_id.to_hex(),
                purpose: Some(purpose.to_string()),
                genesis_root,
                final_root: head,
                receipt_count: st.size,
                mmr,
                lawpack_digest_set: st.lawpack_digest_set.clone(),
                ruleset_digest_set: st.ruleset_digest_set.clone(),
            });
        }
    }
    let result = verify(module, purpose, opts)?;
    Summary::of(&result, Some(purpose)).map_err(|e| vec![e])
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
}

/// Builds, signs and stores a checkpoint of `summary`; moves the checkpoint ref.
pub fn checkpoint(
    repo: Option<&Repo>,
    module: &AssetModule,
    s: &Summary,
    keys: &[KeyPair],
    timestamp: &str,
) -> Result<(Value, Checkpointed), Error> {
    let mut ck = checkpoint::build(s, timestamp);
    sign_all(&mut ck, keys)?;
    let digest = checkpoint::digest(&ck)?;
    let purpose = s.purpose.as_deref().unwrap_or(module.default_purpose());
    let path = module
        .state_dir("checkpoints", purpose)
        .join(format!("checkpoint.{}.json", s.receipt_count));
    if let Some(repo) = repo {
        let t = ArtifactType::new(Kind::Asset.checkpoint_artifact()).expect("valid type");
        repo.put_json(&t, &ck)?;
    }
    super::module::write_file(&path, &pretty(&ck))?;
    if let Some(repo) = repo {
        let key = ChainKey::asset(&module.asset_id, purpose);
        let r = key.checkpoint_ref()?;
        let lock = RefLock::acquire(repo, &r)?;
        let old = lock.current()?;
        repo.commit_ref(lock, old, digest, "checkpoint")?;
        let env = HookEnv {
            ref_name: r.as_str(),
            old: old.map(|d| d.to_hex()).unwrap_or_default(),
            new: digest.to_hex(),
            reason: "checkpoint",
        };
        repo.run_hook(Event::PostCheckpoint, &env)?;
    }
    Ok((
        ck,
        Checkpointed {
            digest,
            path,
            receipt_count: s.receipt_count,
            mmr_root: s.mmr.root,
        },
    ))
}

/// The inclusion proof of the receipt at `sequence`, from the chain store when available.
pub fn prove(
    repo: Option<&Repo>,
    module: &AssetModule,
    purpose: &str,
    sequence: u64,
    opts: &verify::Options,
    fast: bool,
) -> Result<mmr::InclusionProof, Vec<Error>> {
    if let (Some(repo), true) = (repo, fast) {
        let genesis_root =
            genesis::asset_genesis_root(&module.asset_id, purpose).map_err(|e| vec![e])?;
        let key = ChainKey::asset(&module.asset_id, purpose);
        let store = ChainStore::open(repo, &key, genesis_root).map_err(|e| vec![e])?;
        if store.state().head.is_some() {
            let next_root = store.next_root_at(sequence).map_err(|e| vec![e])?;
            // A proof that fails its own check means damaged node files: rebuild them once.
            return match store.prove(sequence, &next_root) {
                Ok(p) => Ok(p),
                Err(_) => ChainStore::rebuilt(repo, &key, genesis_root)
                    .and_then(|s| s.prove(sequence, &next_root))
                    .map_err(|e| vec![e]),
            };
        }
    }
    let result = verify(module, purpose, opts)?;
    let next_root = *result.next_roots.get(sequence as usize).ok_or_else(|| {
        vec![Error::NoSuchSequence {
            sequence,
            size: result.receipt_count,
        }]
    })?;
    let proof =
        mmr::build_inclusion_proof(&result.next_roots, sequence).map_err(|e| vec![e.into()])?;
    debug_assert_eq!(proof.receipt_next_root, next_root);
    Ok(proof)
}

/// Adds a late signature to the receipt at `sequence`: a new proof file in `.msez`, and the
/// module's receipt file rewritten atomically with the union of proofs.
pub fn cosign(
    repo: Option<&Repo>,
    module: &AssetModule,
    purpose: &str,
    sequence: u64,
    keys: &[KeyPair],
    opts: &verify::Options,
) -> Result<(PathBuf, usize), Vec<Error>> {
    let result = verify(module, purpose, opts)?;
    let path = result.path(sequence as usize).ok_or_else(|| {
        vec![Error::NoSuchSequence {
            sequence,
            size: result.receipt_count,
        }]
    })?;
    let bytes = std::fs::read(&path).map_err(|e| vec![Error::io("reading", &path, e)])?;
    let mut r = crate::canon::parse(&bytes).map_err(|e| vec![e.into()])?;
    let before = vc::proof::proofs_of(&r).len();
    sign_all(&mut r, keys).map_err(|e| vec![e])?;
    if let Some(repo) = repo {
        let t = ArtifactType::new(Kind::Asset.receipt_artifact()).expect("valid type");
        repo.put_json(&t, &r).map_err(|e| vec![e.into()])?;
        let id = ObjectId::new(t, result.next_roots[sequence as usize]);
        r = repo.read_json(&id).map_err(|e| vec![e.into()])?;
    }
    super::module::write_file(&path, &pretty(&r)).map_err(|e| vec![e])?;
    Ok((path, vc::proof::proofs_of(&r).len() - before))
}

/// Verify-inclusion for an asset receipt (§6.5).
pub fn verify_inclusion(
    receipt_doc: &Value,
    proof: &Value,
    ck: Option<&Value>,
    anchors: Option<&vc::TrustAnchors>,
) -> Result<(), Error> {
    inclusion::verify(Kind::Asset, receipt_doc, proof, ck, anchors)
}

/// Checks a checkpoint file against a verified chain: schema, signatures, then every field.
pub fn check_checkpoint_file(
    path: &std::path::Path,
    r: &ChainResult,
    purpose: &str,
    anchors: Option<&vc::TrustAnchors>,
) -> Result<(), Error> {
    let bytes = std::fs::read(path).map_err(|e| Error::io("reading", path, e))?;
    let ck = crate::canon::parse(&bytes).map_err(|e| Error::Parse {
        path: path.to_path_buf(),
        source: e,
    })?;
    checkpoint::check_signed(
        Kind::Asset,
        &ck,
        &path.display().to_string(),
        false,
        anchors,
    )?;
    checkpoint::check_against(&ck, &Summary::of(r, Some(purpose))?)
}

/// What `msez add` imported.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Imported {
    /// Receipts newly stored and appended to the chain.
    pub receipts: u64,
    /// Checkpoints newly stored.
    pub checkpoints: u64,
    /// The head after the import.
    pub head: Option<Digest>,
}

/// Imports a module's receipts made by other tools: verifies the whole chain from its files,
/// then stores and appends what `.msez` lacks; refuses (conflict) a chain that does not extend
/// the repository's head.
pub fn import(
    repo: &Repo,
    module: &AssetModule,
    purpose: &str,
    opts: &verify::Options,
) -> Result<Imported, Vec<Error>> {
    let result = verify(module, purpose, opts)?;
    let one = |e: Error| vec![e];
    let key = ChainKey::asset(&module.asset_id, purpose);
    let lock = RefLock::acquire(repo, &key.head_ref().map_err(one)?).map_err(|e| vec![e.into()])?;
    let old = lock.current().map_err(|e| vec![e.into()])?;
    let mut store = ChainStore::open(repo, &key, result.genesis_root).map_err(one)?;
    let have = store.state().size as usize;
    if have > result.next_roots.len()
        || old.is_some() && old != result.next_roots.get(have.wrapping_sub(1)).copied()
    {
        return Err(vec![Error::StaleHead {
            chain: key.path(),
            expected: "a module chain that extends the repository head".into(),
            found: format!(
                "module head {} does not contain {}",
                result.final_root,
                old.map(|d| d.to_hex()).unwrap_or_default()
            ),
        }]);
    }
    let rtype = ArtifactType::new(Kind::Asset.receipt_artifact()).expect("valid type");
    let mut batch = Batch::new(repo);
    let mut out = Imported::default();
    for path in (have..result.next_roots.len()).filter_map(|i| result.path(i)) {
        let path = &path;
        let bytes = std::fs::read(path).map_err(|e| vec![Error::io("reading", path, e)])?;
        let value = crate::canon::parse(&bytes).map_err(|e| vec![e.into()])?;
        batch.put_json(&rtype, &value).map_err(|e| vec![e.into()])?;
        store.append(&value).map_err(one)?;
        out.receipts += 1;
    }
    batch.commit().map_err(|e| vec![e.into()])?;
    store.save().map_err(one)?;
    if out.receipts > 0 {
        repo.commit_ref(lock, old, result.final_root, "add")
            .map_err(|e| vec![e.into()])?;
    }
    let ctype = ArtifactType::new(Kind::Asset.checkpoint_artifact()).expect("valid type");
    for path in
        super::receipt::json_files(&module.state_dir("checkpoints", purpose)).map_err(one)?
    {
        if check_checkpoint_file(&path, &result, purpose, opts.trust_anchors.as_ref()).is_ok() {
            let value = crate::canon::parse(
                &std::fs::read(&path).map_err(|e| vec![Error::io("reading", &path, e)])?,
            )
            .map_err(|e| vec![e.into()])?;
            if repo
                .put_json(&ctype, &value)
                .map_err(|e| vec![e.into()])?
                .created
            {
                out.checkpoints += 1;
            }
        }
    }
    out.head = Some(result.final_root).filter(|_| result.receipt_count > 0);
    Ok(out)
}

/// How a module's files and `.msez` differ for one chain.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Status {
    /// The asset.
    pub asset_id: String,
    /// The purpose.
    pub purpose: String,
    /// The head ref (None: no chain in `.msez`).
    pub head: Option<Digest>,
    /// Receipt files whose receipt is not in `.msez` (`msez add` imports them).
    pub untracked: Vec<PathBuf>,
    /// Receipt files that do not parse or whose next_root lies.
    pub invalid: Vec<PathBuf>,
    /// Whether the head receipt has a file in the module.
    pub head_in_worktree: bool,
}

/// Compares a module's receipt files with `.msez` (no signature checks: that is verify's job).
pub fn status(repo: &Repo, module: &AssetModule, purpose: &str) -> Result<Status, Error> {
    let key = ChainKey::asset(&module.asset_id, purpose);
    let head = repo.read_ref(&key.head_ref()?)?;
    let rtype = ArtifactType::new(Kind::Asset.receipt_artifact()).expect("valid type");
    let mut st = Status {
        asset_id: module.asset_id.to_hex(),
        purpose: purpose.to_string(),
        head,
        ..Status::default()
    };
    for path in receipt::json_files(&module.receipts_dir(purpose))? {
        match receipt::Receipt::read(Kind::Asset, &path, None) {
            Ok(r) => {
                if Some(r.link.next_root) == head {
                    st.head_in_worktree = true;
                }
                if !repo.has(&ObjectId::new(rtype.clone(), r.link.next_root)) {
                    st.untracked.push(path);
                }
            }
            Err(_) => st.invalid.push(path),
        }
    }
    if head.is_none() {
        st.head_in_worktree = true;
    }
    Ok(st)
}
