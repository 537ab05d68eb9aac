//! The chain operations, once for every kind of chain: append, verify, summarize, checkpoint,
//! prove, co-sign, import, status. A module (asset purpose or corridor) describes itself as a
//! [`Chain`]; nothing here knows which kind it is beyond [`Kind`]'s constants.
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
use crate::odb::{
    Batch, Event, Expect, FileEncoding, HookEnv, Recovered, RefLock, Repo, StagedFiles, Transaction,
};
use crate::vc::{self, KeyPair};

use super::checkpoint::{self, Summary};
use super::lifecycle::Trust;
use super::module::{canonical_line, pretty, receipt_file, sign_all, write_file};
use super::receipt::{self, Draft, FileList};
use super::store::{ChainKey, ChainStore};
use super::verify::{self, ChainResult};
use super::{Error, Kind};

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

/// What an append wrote.
#[derive(Clone, Debug, Serialize)]
pub struct Appended {
    /// The asset_id or corridor_id.
    pub owner: String,
    /// The purpose (assets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// (sequence, next_root, working-tree file) of each new receipt.
    pub receipts: Vec<(u64, Digest, PathBuf)>,
    /// The new head.
    pub head: Digest,
    /// The chain length after the append.
    pub size: u64,
}

/// Receipts signed per hand-off between the signing thread and the staging one.
const SIGN_CHUNK: usize = 256;

/// The result of a scoped signing thread (a panic there is a bug, not an input error).
fn join<T>(h: std::thread::ScopedJoinHandle<'_, Result<T, Error>>) -> Result<T, Error> {
    h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
}

fn head_name(d: Option<Digest>) -> String {
    d.map(|d| d.to_hex()).unwrap_or_else(|| "genesis".into())
}

/// The head an append of `drafts` onto `old` would make: the links leave the proofs out, so
/// it is known before anything is signed (for the hooks that may veto the append).
fn would_be_head(
    chain: &Chain,
    old: Option<Digest>,
    drafts: &[Draft],
    size: u64,
) -> Result<Digest, Error> {
    let mut prev = old.unwrap_or(chain.genesis_root);
    for (seq, draft) in (size..).zip(drafts) {
        let r = receipt::build(chain.kind, &chain.owner, seq, &prev, draft)?;
        prev = receipt::next_root(&r)?;
    }
    Ok(prev)
}

/// Appends receipts built from `drafts`, signed with `keys`, as one transaction
/// ([`crate::odb::Transaction`]): a journal left by a crashed append to this chain is completed
/// first; the hooks that may veto run before anything is signed; the signed receipts, their
/// objects and working-tree files are journaled before any of them is published.
///
/// `expect_head`: refuse (conflict) unless the chain's head is this (None: the genesis).
/// `allow_unsigned`: append with no key (the reference's unsigned asset receipts, which msez
/// verify rejects); without it, no key is a usage error.
pub fn append(
    repo: &Repo,
    chain: &Chain,
    drafts: &[Draft],
    keys: &[KeyPair],
    expect_head: Option<Option<Digest>>,
    allow_unsigned: bool,
) -> Result<Appended, Error> {
    if keys.is_empty() && !allow_unsigned {
        return Err(Error::Unsigned {
            chain: chain.key().path(),
        });
    }
    let key = chain.key();
    let head_ref = key.head_ref()?;
    let reason = format!("append {} receipt(s)", drafts.len());
    let (mut txn, _recovered) = Transaction::begin(repo, &head_ref, Expect::Any, &reason)?;
    let old = txn.old();
    if let Some(expected) = expect_head {
        if expected != old {
            return Err(Error::StaleHead {
                chain: key.path(),
                expected: head_name(expected),
                found: head_name(old),
            });
        }
    }
    let mut store = ChainStore::open(repo, &key, chain.genesis_root)?;
    if repo.has_hook(Event::PreAppend) || repo.has_hook(Event::PreRefUpdate) {
        let new = would_be_head(chain, old, drafts, store.state().size)?;
        txn.run_hook(Event::PreAppend, new, "append")?;
        txn.run_hook(Event::PreRefUpdate, new, &reason)?;
    }

    let rtype = chain.receipt_type();
    let encoding = match chain.style {
        FileStyle::Pretty => FileEncoding::Pretty,
        FileStyle::Canonical => FileEncoding::Canonical,
    };
    let mut prev = old.unwrap_or(chain.genesis_root);
    // next_root leaves the proofs out, so the links are known before anything is signed. A
    // pipeline, a chunk at a time: this thread builds a chunk (links, MMR) and journals and
    // stages the signed one before; two more sign and encode a chunk (object bytes,
    // working-tree text), half each; a writer stages the working-tree files (creating files is
    // kernel time that would otherwise sit on the others). Nothing staged has a name before
    // the commit.
    let written = std::thread::scope(|s| -> Result<_, Error> {
        let (to_writer, chunks) = std::sync::mpsc::sync_channel::<Vec<(u64, Digest, Vec<u8>)>>(8);
        let writer = s.spawn(move || -> Result<_, Error> {
            let mut files = StagedFiles::default();
            let mut written = Vec::with_capacity(drafts.len());
            for chunk in chunks {
                for (seq, next_root, text) in chunk {
                    let plain = chain
                        .receipts_dir
                        .join(format!("{}.{seq}.json", chain.receipt_stem));
                    let file = if files.create(&plain, &text)? {
                        plain
                    } else {
                        let file =
                            receipt_file(&chain.receipts_dir, chain.receipt_stem, seq, &next_root);
                        files.write(&file, &text)?;
                        file
                    };
                    written.push((seq, next_root, file));
                }
            }
            Ok((files, written))
        });
        let mut signing = None;
        let txn = &mut txn;
        let mut finish = |done| -> Result<bool, Error> {
            let signed: Vec<Signed> = join(done)?;
            let mut texts = Vec::with_capacity(signed.len());
            for r in signed {
                txn.put_canonical(ObjectId::new(rtype.clone(), r.next_root), &r.object)?;
                texts.push((r.seq, r.next_root, r.text));
            }
            // A closed channel: the writer failed, and says why when joined.
            Ok(to_writer.send(texts).is_ok())
        };
        let mut writing = true;
        for chunk in drafts.chunks(SIGN_CHUNK) {
            let mut built = Vec::with_capacity(chunk.len());
            for draft in chunk {
                let seq = store.state().size;
                let r = receipt::build(chain.kind, &chain.owner, seq, &prev, draft)?;
                store.append(&r)?;
                prev = store
                    .state()
                    .head
                    .expect("a chain with a receipt has a head");
                built.push((seq, prev, r));
            }
            let second = built.split_off(built.len() / 2);
            let signer = s.spawn(move || {
                std::thread::scope(|s| -> Result<_, Error> {
                    let other = s.spawn(|| sign_chunk(chain, keys, second));
                    let mut out = sign_chunk(chain, keys, built)?;
                    out.extend(join(other)?);
                    Ok(out)
                })
            });
            if let Some(done) = signing.replace(signer) {
                writing = finish(done)?;
                if !writing {
                    break;
                }
            }
        }
        if writing {
            if let Some(done) = signing.take() {
                finish(done)?;
            }
        }
        drop(to_writer);
        let (files, written) = join(writer)?;
        // One object per receipt, in order: file i is made from object i.
        for (i, (_, _, file)) in written.iter().enumerate() {
            txn.journal_file(i as u64, encoding, file)?;
        }
        txn.add_files(files);
        Ok(written)
    })?;
    // The transaction's syncfs makes the MMR nodes durable too: no fsync per node file.
    store.write_nodes()?;
    txn.sync_dir(store.dir());
    txn.commit(
        prev,
        || {
            store.synced();
            store.save()
        },
        &[(Event::PostAppend, "append")],
    )?;
    Ok(Appended {
        owner: chain.owner.clone(),
        purpose: chain.purpose.clone(),
        receipts: written,
        head: prev,
        size: store.state().size,
    })
}

/// Completes the journal a crashed append to `chain` left (exactly its bytes), then rebuilds
/// the chain's MMR state from the chain in `.msez` (derived data; damage fsck reports goes).
pub fn recover(repo: &Repo, chain: &Chain) -> Result<Option<Recovered>, Error> {
    let key = chain.key();
    let done = crate::odb::recover(repo, &key.head_ref()?)?;
    let mut store = ChainStore::rebuilt(repo, &key, chain.genesis_root)?;
    store.save()?;
    Ok(done)
}

/// Completes the journal of the ref `name` (a chain known by its ref alone, as `msez recover
/// --all` finds them) and then rebuilds that chain's MMR state from the chain.
pub fn recover_ref(repo: &Repo, name: &crate::odb::RefName) -> Result<Option<Recovered>, Error> {
    let done = crate::odb::recover(repo, name)?;
    if let (Some(_), Some(key)) = (&done, ChainKey::from_head_ref(name)) {
        if let Some(genesis) = super::store::genesis_root_of(repo, &key)? {
            ChainStore::rebuilt(repo, &key, genesis)?;
        }
    }
    Ok(done)
}

/// A signed receipt of an append, encoded.
struct Signed {
    seq: u64,
    next_root: Digest,
    /// Its object bytes (canonical JSON + LF).
    object: Vec<u8>,
    /// Its working-tree file.
    text: Vec<u8>,
}

/// Signs built receipts and encodes each.
fn sign_chunk(
    chain: &Chain,
    keys: &[KeyPair],
    built: Vec<(u64, Digest, Value)>,
) -> Result<Vec<Signed>, Error> {
    let mut out = Vec::with_capacity(built.len());
    for (seq, next_root, mut r) in built {
        sign_all(&mut r, keys)?;
        let object = canonical_line(&r)?;
        let text = match chain.style {
            FileStyle::Canonical => object.clone(),
            FileStyle::Pretty => pretty(&r),
        };
        out.push(Signed {
            seq,
            next_root,
            object,
            text,
        });
    }
    Ok(out)
}

/// Verifies the module's receipts as the reference does (§4.4, §4.5).
pub fn verify(chain: &Chain, opts: &verify::Options) -> Result<ChainResult, Vec<Error>> {
    let files = FileList::scan(&chain.receipts_dir).map_err(|e| vec![e])?;
    verify::verify(
        chain.kind,
        &chain.owner,
        chain.genesis_root,
        &files,
        &chain.options(opts),
    )
}

/// Runs every check of the module's receipts and reports all (see [`verify::verify_all`]).
pub fn verify_all(chain: &Chain, opts: &verify::Options) -> verify::Outcome {
    match FileList::scan(&chain.receipts_dir) {
        Ok(files) => verify::verify_all(
            chain.kind,
            &chain.owner,
            chain.genesis_root,
            &files,
            &chain.options(opts),
        ),
        Err(e) => verify::Outcome {
            result: None,
            errors: vec![e],
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
) -> Result<Summary, Vec<Error>> {
    if let (Some(repo), true) = (repo, fast) {
        let store =
            ChainStore::open(repo, &chain.key(), chain.genesis_root).map_err(|e| vec![e])?;
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
                mmr: store.root().map_err(|e| vec![e])?,
                lawpack_digest_set: lawpacks,
                ruleset_digest_set: rulesets,
            });
        }
    }
    let result = verify(chain, opts)?;
    Summary::of(&result, chain.purpose.as_deref()).map_err(|e| vec![e])
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

/// Builds, signs and stores a checkpoint of `s`; moves the checkpoint ref forward.
pub fn checkpoint(
    repo: Option<&Repo>,
    chain: &Chain,
    s: &Summary,
    keys: &[KeyPair],
    timestamp: &str,
) -> Result<(Value, Checkpointed), Error> {
    if let Some(repo) = repo {
        crate::odb::recover(repo, &chain.key().head_ref()?)?;
    }
    let mut ck = checkpoint::build(s, timestamp);
    sign_all(&mut ck, keys)?;
    let digest = checkpoint::digest(&ck)?;
    let path = chain
        .checkpoints_dir
        .join(format!("checkpoint.{}.json", s.receipt_count));
    if let Some(repo) = repo {
        repo.put_json(
            &ArtifactType::new(chain.kind.checkpoint_artifact()).expect("valid type"),
            &ck,
        )?;
    }
    write_file(&path, &chain.encode(&ck)?)?;
    let mut ref_moved = false;
    if let Some(repo) = repo {
        let r = chain.key().checkpoint_ref()?;
        let lock = RefLock::acquire(repo, &r)?;
        let old = lock.current()?;
        if !supersedes(repo, chain, old, s.receipt_count)? {
            repo.commit_ref(lock, old, digest, "checkpoint")?;
            ref_moved = true;
            let env = HookEnv {
                ref_name: r.as_str(),
                old: old.map(|d| d.to_hex()).unwrap_or_default(),
                new: digest.to_hex(),
                reason: "checkpoint",
            };
            repo.run_hook(Event::PostCheckpoint, &env)?;
        }
    }
    Ok((
        ck,
        Checkpointed {
            digest,
            path,
            receipt_count: s.receipt_count,
            mmr_root: s.mmr.root,
            ref_moved,
        },
    ))
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

/// The MMR inclusion proof of the receipt at `sequence`, from the chain store when available.
pub fn prove(
    repo: Option<&Repo>,
    chain: &Chain,
    sequence: u64,
    opts: &verify::Options,
    fast: bool,
) -> Result<mmr::InclusionProof, Vec<Error>> {
    if let (Some(repo), true) = (repo, fast) {
        let key = chain.key();
        let store = ChainStore::open(repo, &key, chain.genesis_root).map_err(|e| vec![e])?;
        if store.state().head.is_some() {
            let next_root = store.next_root_at(sequence).map_err(|e| vec![e])?;
            let proved = store.prove(sequence, &next_root);
            // The store's lock goes before the rebuild takes it again.
            drop(store);
            // A proof that fails its own check means damaged node files: rebuild them once.
            return match proved {
                Ok(p) => Ok(p),
                Err(_) => ChainStore::rebuilt(repo, &key, chain.genesis_root)
                    .and_then(|s| s.prove(sequence, &next_root))
                    .map_err(|e| vec![e]),
            };
        }
    }
    let result = verify(chain, opts)?;
    if sequence >= result.receipt_count {
        return Err(vec![Error::NoSuchSequence {
            sequence,
            size: result.receipt_count,
        }]);
    }
    mmr::build_inclusion_proof(&result.next_roots, sequence).map_err(|e| vec![e.into()])
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

/// Adds a late signature to the receipt at `sequence`: a new proof file in `.msez`, and the
/// module's receipt file rewritten atomically with the union of proofs.
pub fn cosign(
    repo: Option<&Repo>,
    chain: &Chain,
    sequence: u64,
    keys: &[KeyPair],
    opts: &verify::Options,
) -> Result<(PathBuf, usize), Vec<Error>> {
    let one = |e: Error| vec![e];
    if let Some(repo) = repo {
        crate::odb::recover(repo, &chain.key().head_ref().map_err(one)?)
            .map_err(|e| vec![e.into()])?;
    }
    let result = verify(chain, opts)?;
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

fn read_json(path: &Path) -> Result<Value, Error> {
    let bytes = std::fs::read(path).map_err(|e| Error::io("reading", path, e))?;
    canon::parse(&bytes).map_err(|e| Error::Parse {
        path: path.to_path_buf(),
        source: e,
    })
}

/// Checks a checkpoint file against a verified chain: schema, signatures, then every field.
pub fn check_checkpoint_file(
    chain: &Chain,
    path: &Path,
    r: &ChainResult,
    trust: Option<Trust<'_>>,
) -> Result<(), Error> {
    let ck = read_json(path)?;
    checkpoint::check_signed(chain.kind, &ck, &path.display().to_string(), false, trust)?;
    checkpoint::check_against(&ck, &Summary::of(r, chain.purpose.as_deref())?)
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
pub fn import(repo: &Repo, chain: &Chain, opts: &verify::Options) -> Result<Imported, Vec<Error>> {
    let one = |e: Error| vec![e];
    let odb = |e: crate::odb::Error| vec![Error::from(e)];
    let key = chain.key();
    // A crashed append's journal goes first: its receipts are signed at their positions.
    crate::odb::recover(repo, &key.head_ref().map_err(one)?).map_err(odb)?;
    let result = verify(chain, opts)?;
    let lock = RefLock::acquire(repo, &key.head_ref().map_err(one)?).map_err(odb)?;
    let old = lock.current().map_err(odb)?;
    let mut store = ChainStore::open(repo, &key, chain.genesis_root).map_err(one)?;
    let have = store.state().size as usize;
    let extends = have <= result.next_roots.len()
        && (old.is_none() || old == have.checked_sub(1).map(|i| result.next_roots[i]));
    if !extends {
        return Err(vec![Error::StaleHead {
            chain: key.path(),
            expected: "a module chain that extends the repository head".into(),
            found: format!(
                "module head {} does not contain {}",
                result.final_root,
                head_name(old)
            ),
        }]);
    }
    let rtype = chain.receipt_type();
    let mut batch = Batch::new(repo);
    let mut out = Imported::default();
    for path in (have..result.next_roots.len()).filter_map(|i| result.path(i)) {
        let value = read_json(&path).map_err(one)?;
        batch.put_json(&rtype, &value).map_err(odb)?;
        store.append(&value).map_err(one)?;
        out.receipts += 1;
    }
    batch.commit().map_err(odb)?;
    store.save().map_err(one)?;
    if out.receipts > 0 {
        repo.commit_ref(lock, old, result.final_root, "add")
            .map_err(odb)?;
    }
    let ctype = ArtifactType::new(chain.kind.checkpoint_artifact()).expect("valid type");
    for path in receipt::json_files(&chain.checkpoints_dir).map_err(one)? {
        if check_checkpoint_file(chain, &path, &result, opts.trust()).is_ok()
            && repo
                .put_json(&ctype, &read_json(&path).map_err(one)?)
                .map_err(odb)?
                .created
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
pub fn adopt(repo: &Repo, chain: &Chain, opts: &verify::Options) -> Result<Adopted, Vec<Error>> {
    let one = |e: Error| vec![e];
    let odb = |e: crate::odb::Error| vec![Error::from(e)];
    let key = chain.key();
    crate::odb::recover(repo, &key.head_ref().map_err(one)?).map_err(odb)?;
    let result = verify(chain, opts)?;
    let lock = RefLock::acquire(repo, &key.head_ref().map_err(one)?).map_err(odb)?;
    let old = lock.current().map_err(odb)?;
    // Nothing to move: no chain in .msez yet, or its head is on the selected chain (`msez
    // add` fast-forwards a longer one).
    let Some(old_head) = old.filter(|h| !result.next_roots.contains(h)) else {
        return Ok(Adopted {
            head: old,
            ..Adopted::default()
        });
    };
    let rtype = chain.receipt_type();
    let mut batch = Batch::new(repo);
    let mut stored = 0;
    for path in (0..result.next_roots.len()).filter_map(|i| result.path(i)) {
        let id = batch.put_json(&rtype, &read_json(&path).map_err(one)?);
        if !repo.has(&id.map_err(odb)?) {
            stored += 1;
        }
    }
    batch.commit().map_err(odb)?;
    repo.update_ref(
        &key.fork_ref(&old_head).map_err(one)?,
        old_head,
        crate::odb::Expect::Any,
        "fork-resolution: losing branch",
    )
    .map_err(odb)?;
    repo.commit_ref(
        lock,
        old,
        result.final_root,
        "fork-resolution: adopt the selected branch",
    )
    .map_err(odb)?;
    let mut store = ChainStore::rebuilt(repo, &key, chain.genesis_root).map_err(one)?;
    store.save().map_err(one)?;
    Ok(Adopted {
        moved: true,
        losing_head: Some(old_head),
        head: Some(result.final_root),
        stored,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::envelope;
    use crate::chain::module::{ASSETS_DIR, AssetModule};

    fn drafts(n: u64) -> Vec<Draft> {
        (0..n)
            .map(|i| Draft {
                transition: envelope::load(
                    &serde_json::json!({"kind": "t.v1", "payload": {"i": i}}),
                )
                .unwrap(),
                timestamp: "2026-01-01T00:00:00Z".into(),
                ..Draft::default()
            })
            .collect()
    }

    #[test]
    fn a_checkpoint_that_lost_a_race_leaves_the_ref_on_the_larger_one() {
        let t = tempfile::tempdir().unwrap();
        let repo = Repo::init(t.path(), &[]).unwrap();
        let genesis = serde_json::json!({"type": "SmartAssetGenesis", "asset_name": "race"});
        let module = AssetModule::init(&t.path().join(ASSETS_DIR), &genesis, &[], None).unwrap();
        let chain = module.chain(None).unwrap();
        let keys = [KeyPair::generate(None).unwrap()];
        let opts = verify::Options::default();
        append(&repo, &chain, &drafts(2), &keys, None, false).unwrap();
        let stale = summary(Some(&repo), &chain, &opts, true).unwrap();
        append(&repo, &chain, &drafts(1), &keys, None, false).unwrap();
        let fresh = summary(Some(&repo), &chain, &opts, true).unwrap();
        let (_, newer) = checkpoint(Some(&repo), &chain, &fresh, &keys, "t").unwrap();
        let (_, older) = checkpoint(Some(&repo), &chain, &stale, &keys, "t").unwrap();
        let r = chain.key().checkpoint_ref().unwrap();
        assert!(newer.ref_moved && !older.ref_moved);
        assert_eq!(repo.read_ref(&r).unwrap(), Some(newer.digest));
        // A later checkpoint of the same size or more moves it again.
        let (_, again) = checkpoint(Some(&repo), &chain, &fresh, &keys, "u").unwrap();
        assert!(again.ref_moved);
        assert_eq!(repo.read_ref(&r).unwrap(), Some(again.digest));
    }
}
