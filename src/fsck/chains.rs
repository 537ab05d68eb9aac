//! The chains of a repository (fsck): each head links down to its genesis, its checkpoint
//! ref names a prefix of it, its MMR state is a prefix of it, and no append is unfinished.

use crate::artifact::{ArtifactType, ObjectId};
use crate::canon;
use crate::odb::{self, Repo, ref_object_type};
use crate::taxonomy::{Class, Detail, Finding};

use super::{Report, scan_refs};

/// Walks every chain from its head ref through `.msez`: receipts must link down to sequence 0
/// and an asset chain's sequence 0 to its genesis, which must be stored; the chain's MMR state
/// and node files must match the chain (they are derived data, so a mismatch is repaired by the
/// next write to the chain, which rebuilds them).
pub(super) fn check_chains(repo: &Repo, report: &mut Report) -> Result<(), odb::Error> {
    use crate::chain::store::{ChainKey, ChainStore, History};
    let problem = |code: &'static str, class: Class, message: String, object: String| Finding {
        class,
        code,
        message,
        detail: Detail::object(object),
    };
    for (name, _) in scan_refs(repo).0 {
        let Some(key) = ChainKey::from_head_ref(&name) else {
            continue;
        };
        // Under the store lock an append is either done (its ref moved) or not started, so
        // the head read here, the chain and the MMR state agree: no transient mismatch. A
        // read-only repository has no appender to wait for, and no lock file can be made.
        let _lock = if report.read_only {
            None
        } else {
            match ChainStore::lock_for_reading(repo, &key) {
                Ok(lock) => lock,
                Err(e) => {
                    report.problems.push(Finding::from_error(&e));
                    continue;
                }
            }
        };
        let head = match repo.read_ref(&name) {
            Ok(Some(head)) => head,
            Ok(None) => continue,
            Err(e) => {
                report.problems.push(Finding::from_error(&e));
                continue;
            }
        };
        report.chains += 1;
        let mut next_roots = Vec::new();
        let mut expected_seq: Option<u64> = None;
        let mut broken = false;
        let mut first_prev = None;
        for item in History::new(repo, key.kind, Some(head)) {
            match item {
                Ok(v) => {
                    first_prev = v
                        .get("prev_root")
                        .and_then(canon::Value::as_str)
                        .map(str::to_string);
                    let seq = v
                        .get("sequence")
                        .and_then(canon::Value::as_u64)
                        .unwrap_or(u64::MAX);
                    if expected_seq.is_some_and(|e| e != seq) {
                        report.problems.push(problem(
                            "digest.chain_link",
                            Class::Digest,
                            format!(
                                "chain {}: receipt at sequence {seq} where {} was expected",
                                key.path(),
                                expected_seq.unwrap_or(0)
                            ),
                            name.to_string(),
                        ));
                        broken = true;
                        break;
                    }
                    expected_seq = seq.checked_sub(1);
                    next_roots.push(
                        canon::Digest::parse_loose(
                            v.get("next_root")
                                .and_then(canon::Value::as_str)
                                .unwrap_or_default(),
                        )
                        .unwrap_or(canon::Digest([0; 32])),
                    );
                }
                Err(e) => {
                    let mut f = Finding::from_error(&e);
                    f.message = format!("chain {}: {}", key.path(), f.message);
                    report.problems.push(f);
                    broken = true;
                    break;
                }
            }
        }
        if broken {
            continue;
        }
        check_genesis(repo, &key, first_prev.as_deref(), report);
        next_roots.reverse();
        check_checkpoint(repo, &key, &next_roots, report);
        let store = match ChainStore::inspect(repo, &key) {
            Ok(Some(store)) => store,
            Ok(None) => {
                super::worktree::check_module(repo, &key, &name, &next_roots, None, report);
                continue;
            }
            Err(e) => {
                report.problems.push(Finding::from_error(&e));
                continue;
            }
        };
        let position = check_mmr_state(&store, &name, &key, &next_roots, report);
        super::worktree::check_module(repo, &key, &name, &next_roots, position, report);
    }
    check_journals(repo, report);
    Ok(())
}

/// An asset chain starts at its genesis: receipt 0's prev_root is the genesis root of
/// (asset_id, purpose), and the genesis document is stored (gc keeps it, push sends it).
fn check_genesis(
    repo: &Repo,
    key: &crate::chain::store::ChainKey,
    first_prev: Option<&str>,
    report: &mut Report,
) {
    use crate::chain::Kind;
    if key.kind == Kind::Corridor {
        check_corridor_module(repo, key, first_prev, report);
        return;
    }
    let (Kind::Asset, Some(purpose), Ok(asset_id)) = (
        key.kind,
        key.purpose.as_deref(),
        canon::Digest::parse_loose(&key.owner),
    ) else {
        return;
    };
    let Ok(root) = crate::chain::genesis::asset_genesis_root(&asset_id, purpose) else {
        return;
    };
    if first_prev.and_then(|p| canon::Digest::parse_loose(p).ok()) != Some(root) {
        report.problems.push(Finding {
            class: Class::Missing,
            code: "missing.chain_start",
            message: format!(
                "chain {}: receipt 0 does not link to the genesis root {root}",
                key.path()
            ),
            detail: Detail::object(key.path())
                .mismatch(root, first_prev.unwrap_or("(no prev_root)")),
        });
    }
    let genesis = ObjectId::new(
        ArtifactType::new("smart-asset-genesis").expect("a valid type"),
        asset_id,
    );
    if !repo.has(&genesis) {
        report.problems.push(Finding {
            class: Class::Missing,
            code: "missing.genesis",
            message: format!(
                "chain {}: its genesis {genesis} is not stored (`msez add` of the module stores it)",
                key.path()
            ),
            detail: Detail::object(genesis.to_string()).mismatch("a stored object", "nothing"),
        });
    }
}

/// A corridor's module object, when its ref is there, is whole and gives the genesis root
/// receipt 0 extends (a repository from before module objects has none: not a problem).
fn check_corridor_module(
    repo: &Repo,
    key: &crate::chain::store::ChainKey,
    first_prev: Option<&str>,
    report: &mut Report,
) {
    use crate::chain::corridor_object as module;
    let Ok(name) = module::module_ref(&key.owner) else {
        return;
    };
    let Ok(Some(value)) = repo.read_ref(&name) else {
        return;
    };
    let first = first_prev.and_then(|p| canon::Digest::parse_loose(p).ok());
    let checked = module::read_checked(&key.owner, value, &|i| module::stored_bytes(repo, i))
        .and_then(|inputs| match first {
            Some(f) => module::against_chain(&key.owner, &inputs, f)
                .and_then(|()| module::check_signatures(&inputs)),
            None => module::check_signatures(&inputs),
        });
    if let Err(e) = checked {
        report.problems.push(Finding::from_error(&e));
    }
}

/// The chain's checkpoint ref names a checkpoint of a prefix of the chain its head names:
/// its receipt count, final root and MMR root are those of the chain at that size. (Whether
/// it is signed by whom it should be is verify's question.)
fn check_checkpoint(
    repo: &Repo,
    key: &crate::chain::store::ChainKey,
    next_roots: &[canon::Digest],
    report: &mut Report,
) {
    let Ok(name) = key.checkpoint_ref() else {
        return;
    };
    // An unreadable ref or checkpoint object is reported by the ref and object checks.
    let Some(t) = ref_object_type(&name).and_then(|t| ArtifactType::new(t).ok()) else {
        return;
    };
    let Ok(Some(digest)) = repo.read_ref(&name) else {
        return;
    };
    let id = ObjectId::new(t, digest);
    let Ok(ck) = repo.read_json(&id) else {
        return;
    };
    if let Err((what, expected, found)) = checkpoint_fits(key, &ck, next_roots) {
        report.problems.push(Finding {
            class: Class::Digest,
            code: "digest.checkpoint_mismatch",
            message: format!(
                "chain {}: checkpoint {id} {what} does not match the chain its head names",
                key.path()
            ),
            detail: Detail::object(id.to_string()).mismatch(expected, found),
        });
    }
}

/// Whether checkpoint `ck` is one of a prefix of the chain whose receipts' next_roots are
/// `next_roots`: its receipt count, final root and MMR root are the chain's at that size.
/// Returns the size, or the first field that differs with what was expected and found.
pub(crate) fn checkpoint_fits(
    key: &crate::chain::store::ChainKey,
    ck: &canon::Value,
    next_roots: &[canon::Digest],
) -> Result<u64, (&'static str, String, String)> {
    let count = ck.get("receipt_count").and_then(canon::Value::as_u64);
    let field = crate::chain::checkpoint::final_field(key.kind);
    let declared = |v: Option<&canon::Value>| {
        v.and_then(canon::Value::as_str)
            .and_then(|s| canon::Digest::parse_loose(s).ok())
    };
    let Some(count) = count.filter(|c| *c >= 1 && *c <= next_roots.len() as u64) else {
        return Err((
            "receipt_count",
            format!("1..={}", next_roots.len()),
            format!("{count:?}"),
        ));
    };
    let prefix = &next_roots[..count as usize];
    let last = prefix[prefix.len() - 1];
    if declared(ck.get(field)) != Some(last) {
        return Err((
            field,
            last.to_hex(),
            format!("{:?}", ck.get(field).and_then(canon::Value::as_str)),
        ));
    }
    if let Ok(root) = crate::mmr::mmr_root_from_next_roots(prefix) {
        let found = declared(ck.get("mmr").and_then(|m| m.get("root")));
        if found != Some(root.root) {
            return Err((
                "mmr.root",
                root.root.to_hex(),
                found.map(|d| d.to_hex()).unwrap_or_default(),
            ));
        }
    }
    Ok(count)
}

/// Unfinished transactions (appends, checkpoints): a journal is a crash after signing
/// (docs/formats.md, "Journals"); `msez recover` or the next write to the ref completes it.
/// Never repaired here.
fn check_journals(repo: &Repo, report: &mut Report) {
    let journals = match odb::journals(repo) {
        Ok(j) => j,
        Err(e) => return report.problems.push(Finding::from_error(&e)),
    };
    for path in journals {
        let name = odb::journal_ref(repo, &path);
        // A live append holds its chain's store lock while its journal exists: wait for it.
        let _lock = name
            .as_ref()
            .ok()
            .and_then(crate::chain::store::ChainKey::from_head_ref)
            .and_then(|k| crate::chain::store::ChainStore::lock_for_reading(repo, &k).ok());
        // A checkpoint takes no store lock: the journal's flock, held, says it is still
        // being committed.
        if !path.exists() || odb::Journal::held(&path) {
            continue;
        }
        let head = name
            .as_ref()
            .ok()
            .and_then(crate::chain::store::ChainKey::from_head_ref)
            .is_some();
        let name = name
            .map(|n| n.to_string())
            .unwrap_or_else(|_| path.display().to_string());
        let why = match odb::Journal::read_if_present(repo, &path) {
            Ok(Some(j)) if head => format!("{} receipt object(s) to {}", j.objects.len(), j.new),
            Ok(Some(j)) => format!("{} object(s) to {}", j.objects.len(), j.new),
            // Finished meanwhile by the transaction that wrote it.
            Ok(None) => continue,
            Err(e) => format!("unreadable: {e}"),
        };
        let (what, next) = if head {
            ("an append", "append")
        } else {
            ("a write", "write to it")
        };
        report.problems.push(Finding {
            class: Class::Conflict,
            code: "conflict.unfinished_append",
            message: format!(
                "ref {name}: {what} was interrupted after it was journaled ({why}); `msez recover` or the next {next} completes it"
            ),
            detail: Detail::path(&path),
        });
    }
}

/// The chain's MMR state against the chain: it is the position of the last local write (an
/// append, `add`, a rebuild), so it may be behind the head after a pull, but it must be a
/// prefix of the chain, node by node. Returns that position when it is one.
fn check_mmr_state(
    store: &crate::chain::store::ChainStore,
    name: &odb::RefName,
    key: &crate::chain::store::ChainKey,
    next_roots: &[canon::Digest],
    report: &mut Report,
) -> Option<u64> {
    let st = store.state();
    let from_nodes = store.root().ok();
    let size = st.size.min(next_roots.len() as u64);
    let prefix = &next_roots[..size as usize];
    let want = crate::mmr::mmr_root_from_next_roots(prefix).ok();
    // Every stored node, not just the peaks: a damaged inner node breaks proofs, not roots.
    let mem = crate::mmr::MemStore::from_next_roots(prefix);
    let nodes_ok = (0..64u32).take_while(|l| size >> l > 0).all(|l| {
        (0..size >> l).all(|i| {
            let id = crate::mmr::NodeId::new(l, i);
            crate::mmr::NodeReader::node(store, id).ok()
                == crate::mmr::NodeReader::node(&mem, id).ok()
        })
    });
    let roots_ok = prefix
        .iter()
        .enumerate()
        .all(|(i, r)| store.next_root_at(i as u64).ok() == Some(*r));
    let ok = st.size <= next_roots.len() as u64
        && roots_ok
        && nodes_ok
        && st.head == prefix.last().copied()
        && want
            .as_ref()
            .is_some_and(|w| Some(w) == from_nodes.as_ref() && w.peaks == st.peaks);
    if ok {
        return Some(size);
    }
    let whole = crate::mmr::mmr_root_from_next_roots(next_roots).ok();
    report.problems.push(Finding {
        class: Class::Digest,
        code: "digest.mmr_state",
        message: format!("chain {}: .msez/mmr state does not match the chain (derived data; the next write to the chain rebuilds it)", key.path()),
        detail: Detail::object(name.to_string()).mismatch(
            format!("size {} root {} (or a prefix of it)", next_roots.len(), whole.map(|w| w.root.to_hex()).unwrap_or_default()),
            format!("size {} root {}", st.size, from_nodes.map(|r| r.root.to_hex()).unwrap_or_default()),
        ),
    });
    None
}
