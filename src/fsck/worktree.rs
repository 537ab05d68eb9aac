//! A chain's module files against the chain (fsck; docs/fsck.md, "Module files").
//!
//! A module's working tree is like git's: it may be behind its ref after a pull (the pulled
//! receipts have no file until `msez checkout`), and `status` says so. What it may not be is
//! wrong below its own position: the module's position is the size of the chain's MMR state
//! (the last local write) or, with no MMR state, the run of receipt files it holds from
//! sequence 0; every receipt up to that position, and below any file of the chain the module
//! holds, must have a file holding exactly the chain's receipt; and every receipt a local
//! append wrote (its reflog line) must still have its file, whatever the MMR state.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::artifact::ObjectId;
use crate::canon::{self, Digest};
use crate::chain::ops::Chain;
use crate::chain::store::ChainKey;
use crate::chain::{Kind, receipt};
use crate::odb::{RefName, Repo};
use crate::taxonomy::{Class, Detail, Finding};

use super::Report;

/// The module checked out for `key` in the work tree, if any.
fn module_chain(repo: &Repo, key: &ChainKey) -> Option<Result<Chain, crate::chain::Error>> {
    match key.kind {
        Kind::Asset => {
            use crate::chain::module::{ASSETS_DIR, AssetModule};
            let dir = repo.worktree().join(ASSETS_DIR).join(&key.owner);
            if !dir.join("asset.yaml").is_file() {
                return None;
            }
            Some(
                AssetModule::open(&dir, repo.worktree())
                    .and_then(|m| m.chain(key.purpose.as_deref())),
            )
        }
        Kind::Corridor => {
            use crate::chain::corridor::{CORRIDORS_DIR, CorridorModule};
            let dir = repo.worktree().join(CORRIDORS_DIR).join(&key.owner);
            if !dir.join("corridor.yaml").is_file() {
                return None;
            }
            match CorridorModule::open(&dir, repo.worktree()) {
                Ok(m) if m.corridor_id() == key.owner => Some(Ok(m.chain())),
                Ok(_) => None,
                Err(e) => Some(Err(e)),
            }
        }
    }
}

/// What the module's receipt files hold, by position.
#[derive(Default)]
struct Scan {
    /// A file holding the chain's receipt at each position.
    present: Vec<Option<PathBuf>>,
    /// Files claiming a position (by content or name) without holding the chain's receipt
    /// there, with what they hold instead.
    wrong: BTreeMap<u64, Vec<(PathBuf, String)>>,
    /// Files of receipts stored in `.msez` but not on the chain.
    stored_elsewhere: Vec<(PathBuf, Digest)>,
}

/// `<stem>.<seq>.json` or `<stem>.<seq>.<hex>.json`: the position a file's name claims.
fn named_sequence(path: &Path, stem: &str) -> Option<u64> {
    let name = path.file_name()?.to_str()?;
    let rest = name.strip_prefix(stem)?.strip_prefix('.')?;
    rest.split('.').next()?.parse().ok()
}

fn scan(repo: &Repo, chain: &Chain, next_roots: &[Digest]) -> Result<Scan, crate::chain::Error> {
    let rtype = crate::artifact::ArtifactType::new(chain.kind.receipt_artifact())
        .expect("receipt types are valid");
    let mut out = Scan {
        present: vec![None; next_roots.len()],
        ..Scan::default()
    };
    for path in receipt::json_files(&chain.receipts_dir)? {
        let parsed = std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|b| canon::parse(&b).map_err(|e| e.to_string()));
        let claimed = |v: Option<&canon::Value>| {
            v.and_then(|v| v.get("sequence"))
                .and_then(canon::Value::as_u64)
                .or_else(|| named_sequence(&path, chain.receipt_stem))
        };
        let value = match parsed {
            Ok(v) => v,
            Err(e) => {
                if let Some(seq) = claimed(None) {
                    out.wrong
                        .entry(seq)
                        .or_default()
                        .push((path.clone(), format!("unreadable: {e}")));
                }
                continue;
            }
        };
        let seq = claimed(Some(&value));
        match receipt::Receipt::check(chain.kind, value, &path, None) {
            Ok(r) => {
                let seq = r.link.sequence;
                let root = r.link.next_root;
                if next_roots.get(seq as usize) == Some(&root) {
                    out.present[seq as usize].get_or_insert(path);
                } else if repo.has(&ObjectId::new(rtype.clone(), root)) {
                    out.stored_elsewhere.push((path, root));
                } else {
                    out.wrong
                        .entry(seq)
                        .or_default()
                        .push((path, format!("a receipt with next_root {root}")));
                }
            }
            Err(e) => {
                if let Some(seq) = seq {
                    out.wrong
                        .entry(seq)
                        .or_default()
                        .push((path, e.to_string()));
                }
            }
        }
    }
    Ok(out)
}

/// Positions whose receipts a local append (or `add`, or a completed journal of one) wrote
/// into the module: its reflog lines, as long as they are on the chain the head names.
fn appended_here(repo: &Repo, name: &RefName, next_roots: &[Digest]) -> HashSet<u64> {
    let index: HashMap<&Digest, u64> = next_roots.iter().zip(0u64..).collect();
    let mut out = HashSet::new();
    for e in repo.reflog(name).unwrap_or_default() {
        let local = e.reason.starts_with("append ")
            || e.reason.starts_with("recover: append ")
            || e.reason == "add";
        let Some(&end) = index.get(&e.new).filter(|_| local) else {
            continue;
        };
        let start = match e.old {
            None => 0,
            Some(old) => match index.get(&old) {
                Some(i) => i + 1,
                None => continue,
            },
        };
        out.extend(start..=end);
    }
    out
}

/// Checks the module of `key` (if checked out) against `next_roots`, the chain its head names;
/// `position` is the MMR state's size when that state is a sound prefix of the chain.
pub(super) fn check_module(
    repo: &Repo,
    key: &ChainKey,
    name: &RefName,
    next_roots: &[Digest],
    position: Option<u64>,
    report: &mut Report,
) {
    let chain = match module_chain(repo, key) {
        None => return,
        Some(Ok(c)) => c,
        Some(Err(e)) => return report.problems.push(Finding::from_error(&e)),
    };
    // A module whose receipts folder is absent does not check this chain out (a purpose not
    // checked out, or its files cleared on purpose): like a sparse checkout, nothing is
    // missing from it. An empty folder is checked out and holds nothing.
    if std::fs::symlink_metadata(&chain.receipts_dir).is_err() {
        return;
    }
    let scan = match scan(repo, &chain, next_roots) {
        Ok(s) => s,
        Err(e) => return report.problems.push(Finding::from_error(&e)),
    };
    report_off_chain(repo, &chain, key, &scan, report);
    let contiguous = scan.present.iter().take_while(|p| p.is_some()).count() as u64;
    let (position, by) = match position {
        Some(p) => (p, "the size of its MMR state"),
        None => (contiguous, "the receipt files it holds from sequence 0"),
    };
    let highest = scan.present.iter().rposition(Option::is_some);
    let below = highest.map_or(0, |h| h as u64 + 1);
    let local = appended_here(repo, name, next_roots);
    let why = |i: u64| {
        if local.contains(&i) {
            "appended here (reflog)".to_string()
        } else if i < position {
            format!("below the module's position {position} ({by})")
        } else {
            format!("below a file of the chain at sequence {}", below - 1)
        }
    };
    let needed = |i: u64| i < position.max(below) || local.contains(&i);
    let missing: Vec<u64> = (0..next_roots.len() as u64)
        .filter(|i| needed(*i) && scan.present[*i as usize].is_none())
        .collect();
    let dir = &chain.receipts_dir;
    let mut run: Option<(u64, u64)> = None;
    let flush = |run: Option<(u64, u64)>, report: &mut Report| {
        let Some((a, b)) = run else { return };
        let range = if a == b {
            format!("sequence {a}")
        } else {
            format!("sequences {a}..={b}")
        };
        report.problems.push(Finding {
            class: Class::Missing,
            code: "missing.module_file",
            message: format!(
                "chain {}: the chain's receipt(s) at {range} have no file in {} ({})",
                key.path(),
                dir.display(),
                why(a)
            ),
            detail: Detail {
                object: Some(name.to_string()),
                ..Detail::path(dir.join(format!("{}.{a}.json", chain.receipt_stem)))
            }
            .mismatch(
                format!(
                    "a file holding receipt {a} (next_root {})",
                    next_roots[a as usize]
                ),
                "no file",
            ),
        });
    };
    for i in missing {
        if let Some(files) = scan.wrong.get(&i) {
            flush(run.take(), report);
            for (path, found) in files {
                report.problems.push(Finding {
                    class: Class::Digest,
                    code: "digest.module_file",
                    message: format!(
                        "chain {}: module file {} does not hold the chain's receipt {i} ({})",
                        key.path(),
                        path.display(),
                        why(i)
                    ),
                    detail: Detail {
                        object: Some(name.to_string()),
                        ..Detail::path(path)
                    }
                    .mismatch(
                        format!("receipt {i} with next_root {}", next_roots[i as usize]),
                        found,
                    ),
                });
            }
            continue;
        }
        run = match run {
            Some((a, b)) if b + 1 == i => Some((a, i)),
            other => {
                flush(other, report);
                Some((i, i))
            }
        };
    }
    flush(run, report);
}

/// Files whose receipt is stored in `.msez` but is on neither the chain nor a kept `forks/`
/// branch: a signed receipt at a position the chain does not hold.
fn report_off_chain(repo: &Repo, chain: &Chain, key: &ChainKey, scan: &Scan, report: &mut Report) {
    if scan.stored_elsewhere.is_empty() {
        return;
    }
    let forks = format!("refs/{}/forks/", key.path());
    let mut kept = HashSet::new();
    for (name, head) in repo.refs().unwrap_or_default() {
        if name.as_str().starts_with(&forks) {
            for v in crate::chain::store::History::new(repo, chain.kind, Some(head)).flatten() {
                if let Ok(r) = receipt::next_root(&v) {
                    kept.insert(r);
                }
            }
        }
    }
    for (p, root) in &scan.stored_elsewhere {
        if kept.contains(root) {
            continue;
        }
        report.problems.push(Finding {
            class: Class::Fork,
            code: "fork.module_file_off_chain",
            message: format!(
                "chain {}: module file {} holds a receipt stored in .msez but not on the chain",
                key.path(),
                p.display()
            ),
            detail: Detail::path(p),
        });
    }
}
