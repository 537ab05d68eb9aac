//! fsck of packed objects, streamed: the packs' indexes are merged in digest order a chunk at
//! a time (each object once, whichever packs hold it), and each chunk's objects are checked
//! on every core. Memory stays flat in the object count; only the loose objects' ids and the
//! objects that have proof files are held whole. Also the multi-pack index's own check.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::artifact::ObjectId;
use crate::canon::{self, Digest, DigestRule};
use crate::odb::{self, Repo};
use crate::progress::Progress;
use crate::taxonomy::{Class, Detail, Finding};

use super::{Options, Report};

/// Objects read before they are checked together.
const CHUNK: usize = 8192;

/// Checks every packed object not in `loose` (checked already as a loose file); objects in a
/// pack listed in `sound` are trusted for their canonical form under `--quick`.
#[allow(clippy::too_many_arguments)]
pub(super) fn check_packed(
    repo: &Repo,
    opts: &Options,
    sound: &[PathBuf],
    loose: &HashSet<ObjectId>,
    report: &mut Report,
    progress: &dyn Progress,
    stop: &AtomicBool,
) {
    let packs = match repo.packs() {
        Ok(p) => p,
        Err(e) => {
            report.problems.push(Finding::from_error(&e));
            return;
        }
    };
    let proofed = with_proof_files(repo);
    let types = odb::merged_types(&packs);
    let mut chunk: Vec<(ObjectId, usize, Vec<u8>)> = Vec::with_capacity(CHUNK);
    let trusted: Vec<bool> = packs
        .iter()
        .map(|p| opts.quick && sound.iter().any(|s| s == p.path()))
        .collect();
    let result = odb::merge_packs(&packs, &types, |id, slot, bytes| {
        if loose.contains(&id) {
            return Ok(true);
        }
        chunk.push((id, slot, bytes));
        if chunk.len() == CHUNK {
            if stop.load(Ordering::Relaxed) {
                return Ok(false);
            }
            check_chunk(repo, opts, &packs, &trusted, &proofed, &mut chunk, report);
            progress.inc(CHUNK as u64);
        }
        Ok(true)
    });
    match result {
        Ok(true) => {
            let n = chunk.len() as u64;
            check_chunk(repo, opts, &packs, &trusted, &proofed, &mut chunk, report);
            progress.inc(n);
        }
        Ok(false) => report.interrupted = true,
        Err(e) => report.problems.push(Finding::from_error(&e)),
    }
}

/// Checks `chunk` on every core, then empties it.
fn check_chunk(
    repo: &Repo,
    opts: &Options,
    packs: &[std::sync::Arc<odb::Pack>],
    trusted: &[bool],
    proofed: &HashSet<(String, Digest)>,
    chunk: &mut Vec<(ObjectId, usize, Vec<u8>)>,
    report: &mut Report,
) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per = chunk.len().div_ceil(cores).max(1);
    let results: Vec<Checked> = std::thread::scope(|s| {
        let handles: Vec<_> = chunk
            .chunks(per)
            .map(|part| {
                s.spawn(move || {
                    let mut out = Checked::default();
                    for (id, slot, bytes) in part {
                        let path = packs[*slot].path();
                        check_one(
                            repo,
                            opts,
                            id,
                            path,
                            bytes,
                            trusted[*slot],
                            proofed,
                            &mut out,
                        );
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    for r in results {
        report.objects += r.objects;
        report.proof_files += r.proof_files;
        report.proofs_verified += r.proofs_verified;
        report.problems.extend(r.problems);
    }
    chunk.clear();
}

/// What one worker found.
#[derive(Default)]
struct Checked {
    objects: u64,
    proof_files: u64,
    proofs_verified: u64,
    problems: Vec<Finding>,
}

/// One packed object: its digest by its type's rule, its canonical form (unless trusted), its
/// proof files, and with `--strict` every proof.
#[allow(clippy::too_many_arguments)]
fn check_one(
    repo: &Repo,
    opts: &Options,
    id: &ObjectId,
    path: &Path,
    bytes: &[u8],
    trusted: bool,
    proofed: &HashSet<(String, Digest)>,
    out: &mut Checked,
) {
    out.objects += 1;
    let (mut value, canonical_checked) = match fast_jcs(id, bytes, trusted) {
        Some(v) => (v, true),
        None => match odb::parse_checked(id, path, bytes) {
            Ok(v) => (v, false),
            Err(e) => return out.problems.push(Finding::from_error(&e)),
        },
    };
    if !trusted && !canonical_checked {
        let canonical = canon::to_bytes(&value).map(|mut c| {
            c.push(b'\n');
            c == bytes
        });
        match canonical {
            Ok(true) => {}
            Ok(false) => {
                let e = odb::Error::Corrupt {
                    object: id.to_string(),
                    path: path.to_path_buf(),
                    method: "canonical-json",
                    expected: "canonical JSON + LF".to_string(),
                    found: format!("{} bytes that are not canonical", bytes.len()),
                };
                return out.problems.push(Finding::from_error(&e));
            }
            Err(source) => {
                let e = odb::Error::Canon {
                    object: id.to_string(),
                    source,
                };
                return out.problems.push(Finding::from_error(&e));
            }
        }
    }
    if proofed.contains(&(id.artifact_type.as_str().to_string(), id.digest)) {
        match repo.proof_files(id) {
            Ok(files) => {
                out.proof_files += files.len() as u64;
                let extra: Vec<canon::Value> = files.into_iter().map(|(_, v)| v).collect();
                odb::merge_proofs(&mut value, &extra);
            }
            Err(e) => return out.problems.push(Finding::from_error(&e)),
        }
    }
    if opts.strict {
        let (verified, findings) =
            super::proof_findings(id, &value, |vm| format!("{id}: proof by {vm}"));
        out.proofs_verified += verified;
        out.problems.extend(findings);
    }
}

/// Whether a rule's digest is the SHA-256 of the whole document's canonical bytes.
fn is_jcs(rule: DigestRule) -> bool {
    matches!(
        rule,
        DigestRule::Jcs | DigestRule::JcsWithProof | DigestRule::Bytes
    )
}

/// For a type whose digest is the SHA-256 of its canonical bytes, one serialization checks
/// both: stored bytes that are the canonical form + LF give the digest by hashing them as
/// they are. None: not such a type, or not canonical (the full check then names the first
/// failure as it always has).
fn fast_jcs(id: &ObjectId, bytes: &[u8], trusted: bool) -> Option<canon::Value> {
    use sha2::Digest as _;
    if trusted || !is_jcs(id.artifact_type.rule()) {
        return None;
    }
    let value = canon::parse(bytes).ok()?;
    let canonical = canon::to_bytes(&value).ok()?;
    if bytes.len() != canonical.len() + 1
        || bytes[..canonical.len()] != canonical[..]
        || bytes.last() != Some(&b'\n')
    {
        return None;
    }
    let found = Digest(sha2::Sha256::digest(&canonical).into());
    (found == id.digest).then_some(value)
}

/// The objects that have a proof-file directory (`proofs/<type>/<digest>`): the only ones
/// whose proof files are read.
fn with_proof_files(repo: &Repo) -> HashSet<(String, Digest)> {
    let root = repo.dir().join("proofs");
    let mut out = HashSet::new();
    let Ok(types) = std::fs::read_dir(&root) else {
        return out;
    };
    for t in types.flatten() {
        let Some(name) = t.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let Ok(digests) = std::fs::read_dir(t.path()) else {
            continue;
        };
        for d in digests.flatten() {
            if let Some(digest) = d.file_name().to_str().and_then(|s| s.parse().ok()) {
                out.insert((name.clone(), digest));
            }
        }
    }
    out
}

/// The multi-pack index's own check: a file that does not open or does not match its BLAKE3
/// is a finding (lookups do not use it; `msez repack` writes a new one), never the end of
/// the run.
pub(super) fn check_midx(repo: &Repo, report: &mut Report) {
    if let Some(Err(e)) = repo.midx_check() {
        let path = repo.packs_dir().join(odb::MIDX_FILE_NAME);
        report.problems.push(Finding {
            class: Class::Digest,
            code: "digest.midx",
            message: format!("{e}; lookups search the packs one by one (msez repack rewrites it)"),
            detail: Detail::path(path),
        });
    }
}
