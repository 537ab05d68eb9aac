//! The chain operations, once for every kind of chain: append, verify, summarize, checkpoint,
//! prove, co-sign, resolve forks, import, status. A module (asset purpose or corridor)
//! describes itself as a [`Chain`]; nothing here knows which kind it is beyond [`Kind`]'s
//! constants. The writes that sign ([`append`], [`checkpoint`], [`cosign`], [`resolve_fork`])
//! each take one request and keep every rule themselves (signed corridor receipts, no revoked
//! key, no unsigned receipt unless asked, the expected head), so no caller repeats them.
//!
//! When a repository encloses the module, every write goes into `.msez` first (objects, MMR
//! nodes, state), then the working-tree files, then the head ref moves under its lock; the
//! lock is held for the whole append, so a concurrent appender gets a `conflict`, never a fork.
//! Without a repository (an auditor's copy) the module's files are the only state.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::artifact::{ArtifactType, ObjectId};
use crate::canon::{self, Digest, Value};
use crate::mmr;
use crate::odb::{Event, Expect, Repo, Transaction};

use super::checkpoint::Summary;
use super::lifecycle::Trust;
use super::module::{canonical_line, pretty};
use super::receipt::{self, FileList};
use super::store::{ChainKey, ChainStore};
use super::verify::{self, ChainResult};
use super::{Error, Kind};

mod append;
mod report;
mod sign;
mod stream;

pub use append::{AppendRequest, Appended, append, check_signers, recover, recover_ref};
pub use report::{check_checkpoint_all, complete_up_to};
pub use sign::{
    Adopted, CheckpointRequest, Checkpointed, CosignRequest, ResolveRequest, Resolved, adopt,
    checkpoint, cosign, refuse_revoked, resolve_fork,
};
pub use stream::verify_stream;

/// How a module writes its working-tree files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileStyle {
    /// Pretty JSON + LF (the reference's asset receipts and checkpoints).
    Pretty,
    /// Canonical JSON + LF (the reference's corridor receipts and checkpoints).
    Canonical,
}

/// One chain of a module: everything the operations need to know about it.
#[derive(Clone, Debug)]
pub struct Chain {
    /// Asset or corridor.
    pub kind: Kind,
    /// The asset_id (hex) or corridor_id.
    pub owner: String,
    /// The purpose (assets only).
    pub purpose: Option<String>,
    /// The genesis root.
    pub genesis_root: Digest,
    /// The module directory.
    pub module_dir: PathBuf,
    /// Where receipts are.
    pub receipts_dir: PathBuf,
    /// Where checkpoints go.
    pub checkpoints_dir: PathBuf,
    /// Where inclusion proofs go.
    pub proofs_dir: PathBuf,
    /// Where fork resolutions are (shared by every purpose of an asset module).
    pub forks_dir: PathBuf,
    /// Receipt file names: `<stem>.<seq>.json`.
    pub receipt_stem: &'static str,
    /// How files are written.
    pub style: FileStyle,
    /// Corridors: the expected (lawpack, ruleset) digest sets every receipt must carry.
    pub expected_sets: Option<(Vec<Digest>, Vec<Digest>)>,
}

impl Chain {
    /// The chain's name in `.msez`.
    pub fn key(&self) -> ChainKey {
        match self.kind {
            Kind::Asset => ChainKey {
                kind: Kind::Asset,
                owner: self.owner.clone(),
                purpose: self.purpose.clone(),
            },
            Kind::Corridor => ChainKey::corridor(&self.owner),
        }
    }

    fn encode(&self, value: &Value) -> Result<Vec<u8>, Error> {
        match self.style {
            FileStyle::Pretty => Ok(pretty(value)),
            FileStyle::Canonical => canonical_line(value),
        }
    }

    fn receipt_type(&self) -> ArtifactType {
        ArtifactType::new(self.kind.receipt_artifact()).expect("receipt types are valid")
    }

    /// Verify options with the module's expected digest sets filled in.
    pub fn options(&self, base: &verify::Options) -> verify::Options {
        let mut opts = base.clone();
        opts.purpose = self.purpose.clone();
        if let Some((lawpacks, rulesets)) = &self.expected_sets {
            opts.expected_lawpacks = Some(lawpacks.clone());
            opts.expected_rulesets = Some(rulesets.clone());
        }
        opts
    }
}

fn head_name(d: Option<Digest>) -> String {
    d.map(|d| d.to_hex()).unwrap_or_else(|| "genesis".into())
}

/// Verifies the module's receipts as the reference does (§4.4, §4.5), running every check
/// and reporting all (see [`verify::verify`]); [`verify::Outcome::valid`] is the chain for an
/// operation that needs it verified.
pub fn verify(chain: &Chain, opts: &verify::Options) -> verify::Outcome {
    match FileList::scan(&chain.receipts_dir) {
        Ok(files) => verify::verify(
            chain.kind,
            &chain.owner,
            chain.genesis_root,
            &files,
            &chain.options(opts),
        ),
        Err(e) => verify::Outcome {
            result: None,
            errors: vec![e],
            dropped: verify::Dropped::default(),
        },
    }
}

/// The chain summary a checkpoint commits to: from the `.msez` chain state when the repository
/// holds the chain (O(log n)), else by verifying the module's receipts.
pub fn summary(
    repo: Option<&Repo>,
    chain: &Chain,
    opts: &verify::Options,
    fast: bool,
) -> Result<Summary, Error> {
    if let (Some(repo), true) = (repo, fast) {
        let store = ChainStore::open(repo, &chain.key(), chain.genesis_root)?;
        let st = store.state();
        if let Some(head) = st.head {
            // §13.2 item 11: asset checkpoints take the union over receipts, corridors the first's.
            let (lawpacks, rulesets) = match chain.kind {
                Kind::Asset => (st.lawpack_digest_set.clone(), st.ruleset_digest_set.clone()),
                Kind::Corridor => (
                    st.first_lawpack_digest_set.clone(),
                    st.first_ruleset_digest_set.clone(),
                ),
            };
            return Ok(Summary {
                kind: chain.kind,
                owner: chain.owner.clone(),
                purpose: chain.purpose.clone(),
                genesis_root: chain.genesis_root,
                final_root: head,
                receipt_count: st.size,
                mmr: store.root()?,
                lawpack_digest_set: lawpacks,
                ruleset_digest_set: rulesets,
            });
        }
    }
    let result = verify(chain, opts).valid()?;
    Summary::of(&result, chain.purpose.as_deref())
}

/// The MMR inclusion proof of the receipt at `sequence`, from the chain store when available.
pub fn prove(
    repo: Option<&Repo>,
    chain: &Chain,
    sequence: u64,
    opts: &verify::Options,
    fast: bool,
) -> Result<mmr::InclusionProof, Error> {
    if let (Some(repo), true) = (repo, fast) {
        let key = chain.key();
        let store = ChainStore::open(repo, &key, chain.genesis_root)?;
        if store.state().head.is_some() {
            let next_root = store.next_root_at(sequence)?;
            let proved = store.prove(sequence, &next_root);
            // The store's lock goes before the rebuild takes it again.
            drop(store);
            // A proof that fails its own check means damaged node files: rebuild them once.
            return match proved {
                Ok(p) => Ok(p),
                Err(_) => ChainStore::rebuilt(repo, &key, chain.genesis_root)
                    .and_then(|s| s.prove(sequence, &next_root)),
            };
        }
    }
    let result = verify(chain, opts).valid()?;
    if sequence >= result.receipt_count {
        return Err(Error::NoSuchSequence {
            sequence,
            size: result.receipt_count,
        });
    }
    Ok(mmr::build_inclusion_proof(&result.next_roots, sequence)?)
}

/// An RFC 9162 consistency proof that the chain at `old` receipts is a prefix of the chain at
/// `new` (default: its whole length), read from the chain store in O(log n).
#[derive(Clone, Debug, Serialize)]
pub struct Consistency {
    /// The older size.
    pub old_size: u64,
    /// The MMR root at the older size.
    pub old_root: Digest,
    /// The newer size.
    pub new_size: u64,
    /// The MMR root at the newer size.
    pub new_root: Digest,
    /// The proof's node hashes, RFC 9162 order.
    pub proof: Vec<Digest>,
}

/// The consistency proof between two sizes of the chain in `.msez`.
pub fn consistency(
    repo: &Repo,
    chain: &Chain,
    old: u64,
    new: Option<u64>,
) -> Result<Consistency, Error> {
    let store = ChainStore::open(repo, &chain.key(), chain.genesis_root)?;
    let new = new.unwrap_or(store.state().size);
    if new > store.state().size {
        return Err(Error::NoSuchSequence {
            sequence: new,
            size: store.state().size,
        });
    }
    let proof = mmr::consistency_proof(&store, old, new)?;
    let (old_root, new_root) = (mmr::root(&store, old)?, mmr::root(&store, new)?);
    // A proof msez hands out always checks against its own roots.
    mmr::verify_consistency(old, new, &old_root, &new_root, &proof)?;
    Ok(Consistency {
        old_size: old,
        old_root,
        new_size: new,
        new_root,
        proof,
    })
}

fn read_json(path: &Path) -> Result<Value, Error> {
    let bytes = std::fs::read(path).map_err(|e| Error::io("reading", path, e))?;
    canon::parse(&bytes).map_err(|e| Error::Parse {
        path: path.to_path_buf(),
        source: e,
    })
}

/// Checks a checkpoint file against a verified chain: schema, signatures, then every field;
/// every mismatch is in the error ([`Error::all`]).
pub fn check_checkpoint_file(
    chain: &Chain,
    path: &Path,
    r: &ChainResult,
    trust: Option<Trust<'_>>,
) -> Result<(), Error> {
    // A file that cannot be read is the one error (nothing else could be checked).
    read_json(path)?;
    let mut unread = crate::verdict::Findings::default();
    let errors = check_checkpoint_all(chain, path, Some(r), trust, &mut unread);
    Error::all(errors).map_or(Ok(()), Err)
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

/// Imports a module's receipts made by other tools: verifies the whole chain from its files
/// (refusing, with every finding, a chain that does not verify), then stores and appends what
/// `.msez` lacks; refuses (conflict) a chain that does not extend the repository's head.
pub fn import(repo: &Repo, chain: &Chain, opts: &verify::Options) -> Result<Imported, Error> {
    let key = chain.key();
    // A crashed append's journal goes first: its receipts are signed at their positions.
    crate::odb::recover(repo, &key.head_ref()?)?;
    let result = verify(chain, opts).valid()?;
    let head_ref = key.head_ref()?;
    let (mut txn, _) = Transaction::begin(repo, &head_ref, Expect::Any, "add")?;
    let old = txn.old();
    let mut store = ChainStore::open(repo, &key, chain.genesis_root)?;
    let have = store.state().size as usize;
    let extends = have <= result.next_roots.len()
        && (old.is_none() || old == have.checked_sub(1).map(|i| result.next_roots[i]));
    if !extends {
        return Err(Error::StaleHead {
            chain: key.path(),
            expected: "a module chain that extends the repository head".into(),
            found: format!(
                "module head {} does not contain {}",
                result.final_root,
                head_name(old)
            ),
        });
    }
    let rtype = chain.receipt_type();
    let mut out = Imported::default();
    for path in (have..result.next_roots.len()).filter_map(|i| result.path(i)) {
        let value = read_json(&path)?;
        txn.put_json(&rtype, &value)?;
        store.append(&value)?;
        out.receipts += 1;
    }
    if out.receipts > 0 {
        // A veto comes before anything is published.
        txn.run_hook(Event::PreRefUpdate, result.final_root, "add")?;
        // The transaction's syncfs makes the MMR nodes durable too.
        store.write_nodes()?;
        txn.sync_dir(store.dir());
        txn.commit(
            result.final_root,
            || {
                store.synced();
                store.save()
            },
            &[],
        )?;
    } else {
        // Nothing to store: the lock goes, and the MMR state is brought up to the head.
        drop(txn);
        store.save()?;
    }
    let ctype = ArtifactType::new(chain.kind.checkpoint_artifact()).expect("valid type");
    for path in receipt::json_files(&chain.checkpoints_dir)? {
        if check_checkpoint_file(chain, &path, &result, opts.trust()).is_ok()
            && repo.put_json(&ctype, &read_json(&path)?)?.created
        {
            out.checkpoints += 1;
        }
    }
    out.head = (result.receipt_count > 0).then_some(result.final_root);
    Ok(out)
}

/// How a module's files and `.msez` differ for one chain.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Status {
    /// The asset_id or corridor_id.
    pub owner: String,
    /// The purpose (assets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// The head ref (None: no chain in `.msez`).
    pub head: Option<Digest>,
    /// Receipt files whose receipt is not in `.msez` (`msez add` imports them).
    pub untracked: Vec<PathBuf>,
    /// Receipt files that do not parse or whose next_root lies.
    pub invalid: Vec<PathBuf>,
    /// Whether the head receipt has a file in the module.
    pub head_in_worktree: bool,
    /// An append was interrupted after its journal was written (`msez recover`, or the next
    /// write to the chain, completes it).
    pub unfinished_append: bool,
}

/// Compares a module's receipt files with `.msez` (no signature checks: that is verify's job).
pub fn status(repo: &Repo, chain: &Chain) -> Result<Status, Error> {
    let head = repo.read_ref(&chain.key().head_ref()?)?;
    let rtype = chain.receipt_type();
    let mut st = Status {
        owner: chain.owner.clone(),
        purpose: chain.purpose.clone(),
        head,
        head_in_worktree: head.is_none(),
        unfinished_append: crate::odb::journal_path(repo, &chain.key().head_ref()?).exists(),
        ..Status::default()
    };
    for path in receipt::json_files(&chain.receipts_dir)? {
        match receipt::Receipt::read(chain.kind, &path, None) {
            Ok(r) => {
                st.head_in_worktree |= Some(r.link.next_root) == head;
                if !repo.has(&ObjectId::new(rtype.clone(), r.link.next_root)) {
                    st.untracked.push(path);
                }
            }
            Err(_) => st.invalid.push(path),
        }
    }
    Ok(st)
}

/// A module's receipt files against its chain in `.msez` (fsck's view; nothing is changed).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Drift {
    /// Files of receipts stored in `.msez` that are on neither the chain nor a kept fork
    /// branch (a signed receipt at a position the chain does not hold).
    pub off_chain: Vec<PathBuf>,
    /// Sequences from `appended_from` on with no receipt file in the module.
    pub missing: Vec<u64>,
}

/// Compares the module's receipt files with `next_roots`, the chain's receipts in order (files
/// not in `.msez` at all are a reference tool's, untracked, and not reported). Receipts from
/// sequence `appended_from` on were appended here, so their files must exist when the module
/// holds any file of the chain (receipts that came by pull or clone have none until exported,
/// and a module with no file of the chain is not checked out: neither is damage).
pub fn drift(
    repo: &Repo,
    chain: &Chain,
    next_roots: &[Digest],
    appended_from: u64,
) -> Result<Drift, Error> {
    let rtype = chain.receipt_type();
    let mut present = vec![false; next_roots.len()];
    let mut candidates = Vec::new();
    for path in receipt::json_files(&chain.receipts_dir)? {
        let Ok(r) = receipt::Receipt::read(chain.kind, &path, None) else {
            continue;
        };
        let seq = r.link.sequence as usize;
        if next_roots.get(seq) == Some(&r.link.next_root) {
            present[seq] = true;
        } else if repo.has(&ObjectId::new(rtype.clone(), r.link.next_root)) {
            candidates.push((path, r.link.next_root));
        }
    }
    // A module holding none of the chain's files is not checked out here (its files live
    // elsewhere, or were cleared on purpose): nothing is missing from it.
    let checked_out = present.iter().any(|p| *p);
    let mut out = Drift {
        missing: (0u64..)
            .zip(&present)
            .filter(|(i, p)| checked_out && !**p && *i >= appended_from)
            .map(|(i, _)| i)
            .collect(),
        ..Drift::default()
    };
    if !candidates.is_empty() {
        // Receipts of losing fork branches stay in `.msez` under forks/ refs, and so do their files.
        let forks = format!("refs/{}/forks/", chain.key().path());
        let mut kept = std::collections::HashSet::new();
        for (name, head) in repo.refs()? {
            if name.as_str().starts_with(&forks) {
                for v in super::store::History::new(repo, chain.kind, Some(head)) {
                    let v = v?;
                    kept.insert(receipt::next_root(&v)?);
                }
            }
        }
        out.off_chain = candidates
            .into_iter()
            .filter(|(_, root)| !kept.contains(root))
            .map(|(p, _)| p)
            .collect();
    }
    Ok(out)
}
