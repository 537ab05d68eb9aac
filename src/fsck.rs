//! The whole-repository check: every object against its name, proof files, refs, temp files.
//!
//! fsck checks each pack's checksum, recomputes each object's semantic digest by its type's
//! rule (in quick mode, loose files whose blake3 matches the index, and objects in a pack whose
//! checksum holds, are trusted), checks that stored JSON is canonical, that proof
//! files are named by their content, that every ref names an existing object and, with
//! `strict`, that every proof of every object verifies. Temp files older than the grace period
//! and not held by a live writer are removed. Damage is reported, never repaired.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::artifact::{ArtifactType, ObjectId};
use crate::canon::{self, Encoding};
use crate::error::{Class, Detail, Finding};
use crate::odb::{self, RefName, Repo, ref_object_type};
use crate::progress::Progress;

/// What fsck checks.
#[derive(Clone, Debug)]
pub struct Options {
    /// Verify every proof of every object.
    pub strict: bool,
    /// Trust object files whose blake3 checksum matches the index.
    pub quick: bool,
    /// Check only that refs point at stored objects.
    pub connectivity_only: bool,
    /// Temp files younger than this are left alone.
    pub grace: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            strict: false,
            quick: false,
            connectivity_only: false,
            grace: Duration::from_secs(3600),
        }
    }
}

/// What fsck found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    /// Objects checked.
    pub objects: u64,
    /// Proof files checked.
    pub proof_files: u64,
    /// Proofs verified (strict only).
    pub proofs_verified: u64,
    /// Refs checked.
    pub refs: u64,
    /// Pack files checked.
    pub packs: u64,
    /// Every problem found.
    pub problems: Vec<Finding>,
    /// Stale temp files removed.
    pub temp_removed: Vec<PathBuf>,
    /// Temp files kept (younger than the grace period, or held by a live writer).
    pub temp_kept: Vec<PathBuf>,
    /// Whether the check was interrupted before the end.
    pub interrupted: bool,
}

impl Report {
    /// 0 when clean; else the exit code of the most fundamental problem class found.
    pub fn exit_code(&self) -> u8 {
        self.problems
            .iter()
            .map(|p| p.class.exit_code())
            .min()
            .unwrap_or(0)
    }
}

/// Checks the whole repository.
pub fn fsck(
    repo: &Repo,
    opts: &Options,
    progress: &dyn Progress,
    stop: &AtomicBool,
) -> Result<Report, odb::Error> {
    let mut report = Report::default();
    let checksums = if opts.quick {
        repo.checksums()?
    } else {
        Default::default()
    };
    let (objects, sound_packs) = if opts.connectivity_only {
        (Vec::new(), Vec::new())
    } else {
        (repo.list_objects()?, check_packs(repo, &mut report)?)
    };
    progress.set_total(objects.len() as u64);
    for entry in objects {
        if stop.load(Ordering::Relaxed) {
            report.interrupted = true;
            return Ok(report);
        }
        progress.inc(1);
        let id = match entry {
            Ok(id) => id,
            Err(path) => {
                report.problems.push(Finding {
                    class: Class::Schema,
                    code: "schema.bad_object_name",
                    message: format!(
                        "{} is not named <digest>.<ext> for its type",
                        path.display()
                    ),
                    detail: Detail::path(path),
                });
                continue;
            }
        };
        report.objects += 1;
        check_object(repo, &id, opts, &checksums, &sound_packs, &mut report);
    }
    check_refs(repo, &mut report)?;
    if !opts.connectivity_only {
        check_chains(repo, &mut report)?;
    }
    sweep_temp(repo, opts.grace, &mut report)?;
    Ok(report)
}

fn check_object(
    repo: &Repo,
    id: &ObjectId,
    opts: &Options,
    checksums: &std::collections::HashMap<String, odb::Checksum>,
    sound_packs: &[PathBuf],
    report: &mut Report,
) {
    let path = repo.object_path(id);
    let trusted = opts.quick
        && match checksums.get(&id.to_string()) {
            Some(sum) => std::fs::read(&path).is_ok_and(|b| {
                b.len() as u64 == sum.size && *blake3::hash(&b).as_bytes() == sum.blake3
            }),
            None => matches!(repo.locate(id), Ok(Some(odb::Location::Packed(p, _)))
                if sound_packs.iter().any(|s| s == p.path())),
        };
    match id.artifact_type.rule().encoding() {
        Encoding::Raw => {
            if !trusted {
                if let Err(e) = repo.copy_raw(id, &mut std::io::sink()) {
                    report.problems.push(Finding::from_error(&e));
                }
            }
        }
        Encoding::Json => {
            let value = if trusted {
                repo.read_json(id)
            } else {
                check_json_file(repo, id)
            };
            match value {
                Ok(value) => {
                    if let Ok(files) = repo.proof_files(id) {
                        report.proof_files += files.len() as u64;
                    }
                    if opts.strict {
                        check_proofs(id, &value, report);
                    }
                }
                Err(e) => report.problems.push(Finding::from_error(&e)),
            }
        }
    }
}

/// Reads a stored JSON object: its digest, its canonical form, and its proof files.
fn check_json_file(repo: &Repo, id: &ObjectId) -> Result<canon::Value, odb::Error> {
    let (bytes, path) = repo.object_bytes(id)?;
    let value = repo.read_json(id)?;
    let stored = canon::parse(&bytes).map_err(|source| odb::Error::Canon {
        object: id.to_string(),
        source,
    })?;
    let mut canonical = canon::to_bytes(&stored).map_err(|source| odb::Error::Canon {
        object: id.to_string(),
        source,
    })?;
    canonical.push(b'\n');
    if canonical != bytes {
        return Err(odb::Error::Corrupt {
            object: id.to_string(),
            path,
            method: "canonical-json",
            expected: "canonical JSON + LF".to_string(),
            found: format!("{} bytes that are not canonical", bytes.len()),
        });
    }
    Ok(value)
}

/// Verifies every proof of a JSON object (strict mode).
fn check_proofs(id: &ObjectId, value: &canon::Value, report: &mut Report) {
    let results = match crate::vc::verify_proofs(value) {
        Ok(results) => results,
        Err(e) => {
            report.problems.push(Finding {
                detail: Detail::object(id.to_string()),
                ..Finding::from_error(&e)
            });
            return;
        }
    };
    for result in results {
        report.proofs_verified += 1;
        if let Some(e) = &result.failure {
            let mut finding = Finding::from_error(e);
            let vm = result
                .verification_method
                .as_deref()
                .unwrap_or("(no verificationMethod)");
            finding.message = format!("{id}: proof by {vm}: {}", finding.message);
            finding.detail.object = Some(id.to_string());
            report.problems.push(finding);
        }
    }
}

/// Opens every pack and checks its checksum; returns the sound ones.
fn check_packs(repo: &Repo, report: &mut Report) -> Result<Vec<PathBuf>, odb::Error> {
    let dir = repo.packs_dir();
    let names = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(odb::Error::Io {
                what: "listing",
                path: dir,
                source: e,
            });
        }
    };
    let mut sound = Vec::new();
    for entry in names.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if !odb::is_pack_name(&name.to_string_lossy()) {
            report.problems.push(Finding {
                class: Class::Schema,
                code: "schema.bad_object_name",
                message: format!("{} is not named pack-<blake3>.pack", path.display()),
                detail: Detail::path(path),
            });
            continue;
        }
        report.packs += 1;
        match odb::Pack::open(&path).and_then(|p| p.verify()) {
            Ok(()) => sound.push(path),
            Err(e) => report.problems.push(Finding::from_error(&e)),
        }
    }
    sound.sort();
    Ok(sound)
}

fn check_refs(repo: &Repo, report: &mut Report) -> Result<(), odb::Error> {
    let refs = match repo.refs() {
        Ok(refs) => refs,
        Err(e) => {
            report.problems.push(Finding::from_error(&e));
            return Ok(());
        }
    };
    for (name, digest) in refs {
        report.refs += 1;
        if !ref_target_exists(repo, &name, &digest)? {
            let object = match ref_object_type(&name) {
                Some(t) => format!("{t}:{digest}"),
                None => format!("*:{digest}"),
            };
            report.problems.push(Finding {
                class: Class::Missing,
                code: "missing.ref_target",
                message: format!("ref {name} points at {object}, which is not stored"),
                detail: Detail::object(object).mismatch("a stored object", "nothing"),
            });
        }
    }
    Ok(())
}

/// Whether the object a ref names is stored (any type when the namespace does not say).
pub fn ref_target_exists(
    repo: &Repo,
    name: &RefName,
    digest: &canon::Digest,
) -> Result<bool, odb::Error> {
    if let Some(t) = ref_object_type(name) {
        let t = ArtifactType::new(t).expect("namespace types are valid");
        return Ok(repo.has(&ObjectId::new(t, *digest)));
    }
    Ok(repo.find_digest(*digest)?.is_some())
}

/// Walks every chain from its head ref through `.msez`: receipts must link down to sequence 0,
/// and the chain's MMR state and node files must match the chain (they are derived data, so a
/// mismatch is repaired by the next write to the chain, which rebuilds them).
fn check_chains(repo: &Repo, report: &mut Report) -> Result<(), odb::Error> {
    use crate::chain::store::{ChainKey, ChainStore, History};
    let problem = |code: &'static str, class: Class, message: String, object: String| Finding {
        class,
        code,
        message,
        detail: Detail::object(object),
    };
    for (name, _) in repo.refs()? {
        let Some(key) = ChainKey::from_head_ref(&name) else {
            continue;
        };
        // Under the store lock an append is either done (its ref moved) or not started, so
        // the head read here, the chain and the MMR state agree: no transient mismatch.
        let _lock = match ChainStore::lock_for_reading(repo, &key) {
            Ok(lock) => lock,
            Err(e) => {
                report.problems.push(Finding::from_error(&e));
                continue;
            }
        };
        let Some(head) = repo.read_ref(&name)? else {
            continue;
        };
        let mut next_roots = Vec::new();
        let mut expected_seq: Option<u64> = None;
        let mut broken = false;
        for item in History::new(repo, key.kind, Some(head)) {
            match item {
                Ok(v) => {
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
        next_roots.reverse();
        let want = crate::mmr::mmr_root_from_next_roots(&next_roots).ok();
        let store = match ChainStore::inspect(repo, &key) {
            Ok(Some(store)) => store,
            Ok(None) => continue,
            Err(e) => {
                report.problems.push(Finding::from_error(&e));
                continue;
            }
        };
        let st = store.state();
        let from_nodes = store.root().ok();
        // Every stored node, not just the peaks: a damaged inner node breaks proofs, not roots.
        let mem = crate::mmr::MemStore::from_next_roots(&next_roots);
        let size = next_roots.len() as u64;
        let nodes_ok = (0..64u32).take_while(|l| size >> l > 0).all(|l| {
            (0..size >> l).all(|i| {
                let id = crate::mmr::NodeId::new(l, i);
                crate::mmr::NodeReader::node(&store, id).ok()
                    == crate::mmr::NodeReader::node(&mem, id).ok()
            })
        });
        let roots_ok = next_roots
            .iter()
            .enumerate()
            .all(|(i, r)| store.next_root_at(i as u64).ok() == Some(*r));
        let ok = roots_ok
            && nodes_ok
            && st.head == Some(head)
            && st.size == size
            && want
                .as_ref()
                .is_some_and(|w| Some(w) == from_nodes.as_ref() && w.peaks == st.peaks);
        if !ok {
            report.problems.push(Finding {
                class: Class::Digest,
                code: "digest.mmr_state",
                message: format!("chain {}: .msez/mmr state does not match the chain (derived data; the next write to the chain rebuilds it)", key.path()),
                detail: Detail::object(name.to_string()).mismatch(
                    format!("size {} root {}", next_roots.len(), want.map(|w| w.root.to_hex()).unwrap_or_default()),
                    format!("size {} root {}", st.size, from_nodes.map(|r| r.root.to_hex()).unwrap_or_default()),
                ),
            });
        }
        check_append_worktree(repo, &key, &name, &next_roots, report);
    }
    check_journals(repo, report);
    Ok(())
}

fn sweep_temp(repo: &Repo, grace: Duration, report: &mut Report) -> Result<(), odb::Error> {
    let dir = repo.dir().join("tmp");
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(odb::Error::Io {
                what: "listing",
                path: dir,
                source: e,
            });
        }
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let path = entry.path();
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| now.duration_since(t).ok())
            .is_some_and(|age| age >= grace);
        let removed = || match entry.file_type() {
            Ok(t) if t.is_dir() => std::fs::remove_dir_all(&path).is_ok(),
            _ => std::fs::remove_file(&path).is_ok(),
        };
        if old && !odb::temp_in_use(&path) && removed() {
            report.temp_removed.push(path);
        } else {
            report.temp_kept.push(path);
        }
    }
    Ok(())
}

/// Unfinished append transactions: a journal is a crash after signing (docs/formats.md,
/// "Journals"); `msez recover` or the next write to the chain completes it. Never repaired here.
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
        if !path.exists() {
            continue;
        }
        let name = name
            .map(|n| n.to_string())
            .unwrap_or_else(|_| path.display().to_string());
        let why = match odb::Journal::read(repo, &path) {
            Ok(j) => format!("{} receipt object(s) to {}", j.objects.len(), j.new),
            Err(e) => format!("unreadable: {e}"),
        };
        report.problems.push(Finding {
            class: Class::Conflict,
            code: "conflict.unfinished_append",
            message: format!(
                "ref {name}: an append was interrupted after it was journaled ({why}); `msez recover` or the next append completes it"
            ),
            detail: Detail::path(&path),
        });
    }
}

/// An asset chain's module files against the chain: receipt files stored in `.msez` but off
/// the chain (a signed receipt at a position the chain does not hold), and receipts of the
/// append that last moved the ref with no file in the module. Skipped when the work tree has
/// no such module.
fn check_append_worktree(
    repo: &Repo,
    key: &crate::chain::store::ChainKey,
    name: &RefName,
    next_roots: &[canon::Digest],
    report: &mut Report,
) {
    use crate::chain::module::{ASSETS_DIR, AssetModule};
    let dir = repo.worktree().join(ASSETS_DIR).join(&key.owner);
    if key.kind != crate::chain::Kind::Asset || !dir.join("asset.yaml").is_file() {
        return;
    }
    // The receipts of the append that last moved the ref (its transaction wrote their files);
    // a ref last moved by pull, add or a fork resolution promises none.
    let appended_from = repo
        .reflog(name)
        .ok()
        .and_then(|log| log.last().cloned())
        .filter(|e| {
            (e.reason.starts_with("append ") || e.reason.starts_with("recover: append "))
                && next_roots.last() == Some(&e.new)
        })
        .and_then(|e| match e.old {
            None => Some(0),
            Some(old) => next_roots
                .iter()
                .position(|r| *r == old)
                .map(|i| i as u64 + 1),
        })
        .unwrap_or(u64::MAX);
    let drift = AssetModule::open(&dir, repo.worktree())
        .and_then(|m| m.chain(key.purpose.as_deref()))
        .and_then(|c| crate::chain::ops::drift(repo, &c, next_roots, appended_from));
    let drift = match drift {
        Ok(d) => d,
        Err(e) => return report.problems.push(Finding::from_error(&e)),
    };
    for p in drift.off_chain {
        report.problems.push(Finding {
            class: Class::Fork,
            code: "fork.module_file_off_chain",
            message: format!(
                "chain {}: module file {} holds a receipt stored in .msez but not on the chain",
                key.path(),
                p.display()
            ),
            detail: Detail::path(&p),
        });
    }
    if let Some(first) = drift.missing.first() {
        report.problems.push(Finding {
            class: Class::Missing,
            code: "missing.module_file",
            message: format!(
                "chain {}: {} receipt(s) of the chain have no file in {} (first: sequence {first})",
                key.path(),
                drift.missing.len(),
                dir.display()
            ),
            detail: Detail::object(name.to_string()),
        });
    }
}
