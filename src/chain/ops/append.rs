//! The append: receipts built, signed and published as one transaction, with the rules every
//! caller gets (signed corridor receipts, no revoked key, no key only when asked, the expected
//! head, attachments stored inside the transaction); and the recovery of a crashed one.

use std::path::PathBuf;

use serde::Serialize;

use crate::artifact::ObjectId;
use crate::canon::{Digest, Value};
use crate::chain::anchor::AttachKind;
use crate::chain::lifecycle::Lifecycle;
use crate::chain::module::{canonical_line, pretty, receipt_file, sign_all};
use crate::chain::receipt::{self, Draft};
use crate::chain::store::{ChainKey, ChainStore};
use crate::chain::{Error, Kind};
use crate::odb::{Event, Expect, FileEncoding, Recovered, Repo, StagedFiles, Transaction};
use crate::vc::KeyPair;

use super::sign::refuse_revoked;
use super::{Chain, FileStyle, head_name};

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

/// An append: the receipts to add and everything the append's rules decide on.
#[derive(Clone, Copy)]
pub struct AppendRequest<'a> {
    /// The receipts to build, in order.
    pub drafts: &'a [Draft],
    /// The signing keys (every receipt is signed by each).
    pub keys: &'a [KeyPair],
    /// The head the chain must have (`Absent`: the genesis; `Any`: no check); another is a
    /// conflict.
    pub expect: Expect,
    /// Append with no key (the reference's unsigned asset receipts, which msez verify rejects);
    /// without it no key is a usage error. Corridor receipts are always signed.
    pub allow_unsigned: bool,
    /// The key lifecycle: a revoked signing key signs nothing new.
    pub lifecycle: Option<&'a Lifecycle>,
    /// The documents the receipts attach (`--attach-*`), stored with the receipts.
    pub attachments: &'a [(AttachKind, Value)],
}

/// The signer rules every signing operation on `chain` keeps, checked before anything is
/// read or written: corridor receipts are signed; a key the lifecycle revokes signs nothing.
pub fn check_signers(
    chain: &Chain,
    keys: &[KeyPair],
    lifecycle: Option<&Lifecycle>,
) -> Result<(), Error> {
    if keys.is_empty() && chain.kind == Kind::Corridor {
        return Err(Error::UnsignedCorridor {
            chain: chain.key().path(),
        });
    }
    refuse_revoked(chain, lifecycle, keys, "receipt")
}

/// Appends receipts built from `req.drafts`, signed with `req.keys`, as one transaction
/// ([`crate::odb::Transaction`]): the signer rules ([`check_signers`]; no key only with
/// `allow_unsigned`) first;
/// a journal left by a crashed append to this chain is completed; the head is checked against
/// `req.expect`; the hooks that may veto run before anything is signed; the signed receipts,
/// their objects, the attached documents and the working-tree files are journaled before any
/// of them is published. A refused append stores nothing.
pub fn append(repo: &Repo, chain: &Chain, req: AppendRequest<'_>) -> Result<Appended, Error> {
    check_signers(chain, req.keys, req.lifecycle)?;
    if req.keys.is_empty() && !req.allow_unsigned {
        return Err(Error::Unsigned {
            chain: chain.key().path(),
        });
    }
    let drafts = req.drafts;
    let key = chain.key();
    let head_ref = key.head_ref()?;
    let reason = format!("append {} receipt(s)", drafts.len());
    let (mut txn, _recovered) = Transaction::begin(repo, &head_ref, Expect::Any, &reason)?;
    let old = txn.old();
    let expected = match req.expect {
        Expect::Any => old,
        Expect::Absent => None,
        Expect::Exactly(d) => Some(d),
    };
    if expected != old {
        return Err(Error::StaleHead {
            chain: key.path(),
            expected: head_name(expected),
            found: head_name(old),
        });
    }
    let mut store = ChainStore::open(repo, &key, chain.genesis_root)?;
    if repo.has_hook(Event::PreAppend) || repo.has_hook(Event::PreRefUpdate) {
        let new = would_be_head(chain, old, drafts, store.state().size)?;
        txn.run_hook(Event::PreAppend, new, "append")?;
        txn.run_hook(Event::PreRefUpdate, new, &reason)?;
    }
    let mut prev = old.unwrap_or(chain.genesis_root);
    let written = sign_and_stage(&mut txn, &mut store, chain, &req, &mut prev)?;
    // After the receipts: file i of the journal is made from object i.
    for (kind, doc) in req.attachments {
        if let Some(t) = kind.stored_type() {
            txn.put_json(&t, doc)?;
        }
    }
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

/// Builds, signs and stages the receipts of `req` onto `prev` (moved to the new head), their
/// objects and working-tree files journaled in `txn`.
fn sign_and_stage(
    txn: &mut Transaction<'_>,
    store: &mut ChainStore,
    chain: &Chain,
    req: &AppendRequest<'_>,
    prev: &mut Digest,
) -> Result<Vec<(u64, Digest, PathBuf)>, Error> {
    let (drafts, keys) = (req.drafts, req.keys);
    let rtype = chain.receipt_type();
    let encoding = match chain.style {
        FileStyle::Pretty => FileEncoding::Pretty,
        FileStyle::Canonical => FileEncoding::Canonical,
    };
    // next_root leaves the proofs out, so the links are known before anything is signed. A
    // pipeline, a chunk at a time: this thread builds a chunk (links, MMR) and journals and
    // stages the signed one before; two more sign and encode a chunk (object bytes,
    // working-tree text), half each; a writer stages the working-tree files (creating files is
    // kernel time that would otherwise sit on the others). Nothing staged has a name before
    // the commit.
    std::thread::scope(|s| -> Result<_, Error> {
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
                let r = receipt::build(chain.kind, &chain.owner, seq, prev, draft)?;
                store.append(&r)?;
                *prev = store
                    .state()
                    .head
                    .expect("a chain with a receipt has a head");
                built.push((seq, *prev, r));
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
    })
}

/// Completes the journals a crashed append or checkpoint of `chain` left (exactly their
/// bytes), then rebuilds the chain's MMR state from the chain in `.msez` (derived data; damage
/// fsck reports goes).
pub fn recover(repo: &Repo, chain: &Chain) -> Result<Vec<Recovered>, Error> {
    let key = chain.key();
    let mut done: Vec<Recovered> = crate::odb::recover(repo, &key.head_ref()?)?
        .into_iter()
        .collect();
    let mut store = ChainStore::rebuilt(repo, &key, chain.genesis_root)?;
    store.save()?;
    done.extend(crate::odb::recover(repo, &key.checkpoint_ref()?)?);
    Ok(done)
}

/// Completes the journal of the ref `name` (a chain known by its ref alone, as `msez recover
/// --all` finds them) and then rebuilds that chain's MMR state from the chain.
pub fn recover_ref(repo: &Repo, name: &crate::odb::RefName) -> Result<Option<Recovered>, Error> {
    let done = crate::odb::recover(repo, name)?;
    if let (Some(_), Some(key)) = (&done, ChainKey::from_head_ref(name)) {
        if let Some(genesis) = crate::chain::store::genesis_root_of(repo, &key)? {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::corridor::CorridorModule;
    use crate::chain::envelope;
    use crate::chain::lifecycle::{ChainId, Revocation};
    use crate::chain::module::{ASSETS_DIR, AssetModule};
    use crate::chain::ops::{CheckpointRequest, checkpoint, summary};
    use crate::chain::verify;
    use crate::taxonomy::Classify;

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

    fn request<'a>(drafts: &'a [Draft], keys: &'a [KeyPair]) -> AppendRequest<'a> {
        AppendRequest {
            drafts,
            keys,
            expect: Expect::Any,
            allow_unsigned: false,
            lifecycle: None,
            attachments: &[],
        }
    }

    fn asset(t: &std::path::Path) -> (Repo, Chain) {
        let repo = Repo::init(t, &[]).unwrap();
        let genesis = serde_json::json!({"type": "SmartAssetGenesis", "asset_name": "race"});
        let module = AssetModule::init(&t.join(ASSETS_DIR), &genesis, &[], None).unwrap();
        let chain = module.chain(None).unwrap();
        (repo, chain)
    }

    /// A lifecycle that revokes `key` after the first receipt of `chain`.
    fn revoking(chain: &Chain, key: &KeyPair) -> Lifecycle {
        let did = key.did().to_string();
        Lifecycle {
            revocations: vec![Revocation {
                credential: "test".into(),
                key: did.split('#').next().unwrap().to_string(),
                chain: ChainId::new(chain.kind, &chain.owner, chain.purpose.as_deref()),
                size: 1,
                root: chain.genesis_root,
                signed_by: vec![],
            }],
            ..Lifecycle::default()
        }
    }

    #[test]
    fn a_checkpoint_that_lost_a_race_leaves_the_ref_on_the_larger_one() {
        let t = tempfile::tempdir().unwrap();
        let (repo, chain) = asset(t.path());
        let keys = [KeyPair::generate(None).unwrap()];
        let opts = verify::Options::default();
        let ck = |s| CheckpointRequest {
            summary: s,
            keys: &keys,
            timestamp: "t",
            lifecycle: None,
        };
        append(&repo, &chain, request(&drafts(2), &keys)).unwrap();
        let stale = summary(Some(&repo), &chain, &opts, true).unwrap();
        append(&repo, &chain, request(&drafts(1), &keys)).unwrap();
        let fresh = summary(Some(&repo), &chain, &opts, true).unwrap();
        let (_, newer) = checkpoint(Some(&repo), &chain, ck(&fresh)).unwrap();
        let (_, older) = checkpoint(Some(&repo), &chain, ck(&stale)).unwrap();
        let r = chain.key().checkpoint_ref().unwrap();
        assert!(newer.ref_moved && !older.ref_moved);
        assert_eq!(repo.read_ref(&r).unwrap(), Some(newer.digest));
        // A later checkpoint of the same size or more moves it again.
        let (_, again) = checkpoint(
            Some(&repo),
            &chain,
            CheckpointRequest {
                timestamp: "u",
                ..ck(&fresh)
            },
        )
        .unwrap();
        assert!(again.ref_moved);
        assert_eq!(repo.read_ref(&r).unwrap(), Some(again.digest));
    }

    #[test]
    fn an_unsigned_corridor_receipt_is_refused_even_when_unsigned_is_allowed() {
        let t = tempfile::tempdir().unwrap();
        let repo = Repo::init(t.path(), &[]).unwrap();
        let keys = [KeyPair::generate(None).unwrap()];
        let opts = crate::chain::corridor::InitOptions {
            corridor_id: "org.example.c".into(),
            key: Some(keys[0].clone()),
            definition: None,
            agreements: vec![],
            issuance_date: "2026-01-01T00:00:00Z".into(),
            trust_anchors_path: None,
        };
        let module = CorridorModule::init(t.path(), &opts).unwrap();
        let chain = module.chain();
        let d = drafts(1);
        let req = AppendRequest {
            allow_unsigned: true,
            ..request(&d, &[])
        };
        let e = append(&repo, &chain, req).unwrap_err();
        assert!(matches!(e, Error::UnsignedCorridor { .. }), "{e:?}");
        assert_eq!(e.code(), "usage.invalid");
        assert_eq!(
            repo.read_ref(&chain.key().head_ref().unwrap()).unwrap(),
            None
        );
        // Signed, it goes.
        append(&repo, &chain, request(&d, &keys)).unwrap();
    }

    #[test]
    fn no_key_is_refused_unless_asked_for() {
        let t = tempfile::tempdir().unwrap();
        let (repo, chain) = asset(t.path());
        let d = drafts(1);
        let e = append(&repo, &chain, request(&d, &[])).unwrap_err();
        assert_eq!(e.code(), "usage.unsigned_append");
        let req = AppendRequest {
            allow_unsigned: true,
            ..request(&d, &[])
        };
        assert_eq!(append(&repo, &chain, req).unwrap().size, 1);
    }

    #[test]
    fn a_revoked_key_signs_no_receipt_and_its_attachments_are_not_stored() {
        let t = tempfile::tempdir().unwrap();
        let (repo, chain) = asset(t.path());
        let (live, revoked) = (
            KeyPair::from_seed(&[1; 32], None),
            KeyPair::from_seed(&[2; 32], None),
        );
        let lifecycle = revoking(&chain, &revoked);
        let d = drafts(1);
        let doc = serde_json::json!({"type": "MSEZSettlementAnchor", "note": "attached"});
        let attachments = [(AttachKind::SettlementAnchor, doc.clone())];
        let t = AttachKind::SettlementAnchor.stored_type().unwrap();
        let id = ObjectId::new(t.clone(), t.rule().digest_json(&doc).unwrap());
        let keys = [live.clone(), revoked.clone()];
        let req = AppendRequest {
            lifecycle: Some(&lifecycle),
            attachments: &attachments,
            ..request(&d, &keys)
        };
        let e = append(&repo, &chain, req).unwrap_err();
        assert_eq!(e.code(), "signature.key_revoked_signer", "{e}");
        assert!(!repo.has(&id), "a refused append stores no attachment");
        assert_eq!(
            repo.read_ref(&chain.key().head_ref().unwrap()).unwrap(),
            None
        );
        // A stale head is refused too, and stores nothing.
        let live_only = [live];
        let stale = AppendRequest {
            expect: Expect::Exactly(chain.genesis_root),
            ..req
        };
        let stale = AppendRequest {
            keys: &live_only,
            ..stale
        };
        let e = append(&repo, &chain, stale).unwrap_err();
        assert_eq!(e.code(), "conflict.stale_head");
        assert!(!repo.has(&id));
        // With live keys only, the append stores the attached document with the receipts.
        let ok = AppendRequest {
            expect: Expect::Absent,
            ..stale
        };
        assert_eq!(append(&repo, &chain, ok).unwrap().size, 1);
        assert!(repo.has(&id));
    }
}
