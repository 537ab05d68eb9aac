//! The whole-repository check: every object against its name, proof files, refs, reflogs,
//! chains, the layout, temp files.
//!
//! fsck checks each pack's checksum, recomputes each object's semantic digest by its type's
//! rule (in quick mode, loose files whose blake3 matches the index, and objects in a pack whose
//! checksum holds, are trusted), checks that stored JSON is canonical, that proof
//! files are named by their content and belong to a stored object, that every file under
//! `refs/` is a ref holding a digest of a stored object, that every reflog parses and agrees
//! with its ref, that every chain links down to its genesis, that nothing in `.msez` is a
//! symlink, and, with `strict`, that every proof of every object verifies. One run reports
//! every problem it finds: damage is a finding, never the end of the run. Damage is reported,
//! never repaired, and a read-only repository is checked without writing anything; on a
//! writable one, temp files older than the grace period and not held by a live writer are
//! removed.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::artifact::{ArtifactType, ObjectId};
use crate::canon::{self, Encoding};
use crate::odb::{self, RefName, ReflogEntry, Repo, ref_object_type};
use crate::progress::Progress;
use crate::taxonomy::{Class, Detail, Finding};

mod chains;
mod packs;
mod store;
mod worktree;

pub use store::{Error, Link, Store, StoreFailure, link_of, ref_target_exists, walk_chain};

use chains::check_chains;
pub(crate) use chains::checkpoint_fits;

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
    /// Reflogs checked.
    pub reflogs: u64,
    /// Pack files checked.
    pub packs: u64,
    /// Chains walked from their head ref.
    pub chains: u64,
    /// Every problem found.
    pub problems: Vec<Finding>,
    /// Stale temp files removed.
    pub temp_removed: Vec<PathBuf>,
    /// Temp files kept (younger than the grace period, held by a live writer, or read-only).
    pub temp_kept: Vec<PathBuf>,
    /// Whether the repository was read-only (nothing was written, no temp file swept).
    pub read_only: bool,
    /// What this run did not check (by its options, or because it was read-only).
    pub not_checked: Vec<String>,
    /// Whether the check was interrupted before the end.
    pub interrupted: bool,
}

impl Report {
    /// 0 when clean; else, by the verdict model (docs/verdicts.md), the lowest code among the
    /// definite failures, so a missing object never outranks a fork; with none, the lowest code
    /// among the other problems (68 missing, 74 io: fsck keeps telling damage it could not read
    /// from damage it found absent).
    pub fn exit_code(&self) -> u8 {
        crate::verdict::lowest_code(&self.problems)
    }

    /// The verdict by precedence: `invalid` for any definite failure; otherwise `unknown` for
    /// any other problem, an interrupted run, or any integrity check the options skipped
    /// (`--quick`, `--connectivity-only`, signatures without `--strict`; not the temp-file
    /// sweep of a read-only repository); otherwise `valid`.
    pub fn verdict(&self) -> crate::verdict::Verdict {
        let found = crate::verdict::verdict_of(&self.problems);
        if found == crate::verdict::Verdict::Valid
            && (self.interrupted || self.not_checked.iter().any(|n| !n.starts_with(STALE_TEMP)))
        {
            crate::verdict::Verdict::Unknown
        } else {
            found
        }
    }

    /// The problems in the verdict model's shape (each with the verdict it forces).
    pub fn findings(&self) -> Vec<crate::verdict::Item> {
        self.problems.iter().cloned().map(Into::into).collect()
    }
}

/// Checks the whole repository.
pub fn fsck(
    repo: &Repo,
    opts: &Options,
    progress: &dyn Progress,
    stop: &AtomicBool,
) -> Result<Report, Error> {
    let mut report = Report {
        read_only: read_only(repo.dir()),
        ..Report::default()
    };
    report.not_checked = not_checked(opts, report.read_only);
    let checksums = if opts.quick {
        repo.checksums().unwrap_or_else(|e| {
            report.problems.push(Finding::from_error(&e));
            Default::default()
        })
    } else {
        Default::default()
    };
    let (objects, sound_packs) = if opts.connectivity_only {
        (Vec::new(), Vec::new())
    } else {
        // Loose objects by name; packed ones are streamed from the packs below.
        let objects = repo.list_loose_objects().unwrap_or_else(|e| {
            report.problems.push(Finding::from_error(&e));
            Vec::new()
        });
        packs::check_midx(repo, &mut report);
        (objects, check_packs(repo, &mut report))
    };
    let packed: u64 = match opts.connectivity_only {
        true => 0,
        false => repo.packs().map_or(0, |p| p.iter().map(|p| p.len()).sum()),
    };
    progress.set_total(objects.len() as u64 + packed);
    let loose: std::collections::HashSet<ObjectId> = objects
        .iter()
        .filter_map(|o| o.as_ref().ok().cloned())
        .collect();
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
                        "{} is not an object file (<type>/<digest>.<ext>, readable)",
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
    if !opts.connectivity_only {
        packs::check_packed(
            repo,
            opts,
            &sound_packs,
            &loose,
            &mut report,
            progress,
            stop,
        );
        if report.interrupted {
            return Ok(report);
        }
    }
    check_symlinks(repo, &mut report);
    let refs = check_refs(repo, &mut report);
    check_reflogs(repo, &refs, &mut report);
    if !opts.connectivity_only {
        check_proof_dirs(repo, &mut report);
        if let Err(e) = check_chains(repo, &mut report) {
            report.problems.push(Finding::from_error(&e));
        }
    }
    if report.read_only {
        list_temp(repo, &mut report);
    } else if let Err(e) = sweep_temp(repo, opts.grace, &mut report) {
        report.problems.push(Finding::from_error(&e));
    }
    Ok(report)
}

/// Whether the repository cannot be written (a read-only mount, an immutable snapshot, or
/// no write permission): fsck then takes no lock and sweeps nothing.
fn read_only(dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return true;
    };
    // access(2) answers for the effective user and knows read-only mounts (EROFS) and
    // immutable files (EPERM), which permission bits alone do not show to root.
    // SAFETY: `c` is a NUL-terminated path that outlives the call; nothing is written.
    unsafe { libc::faccessat(libc::AT_FDCWD, c.as_ptr(), libc::W_OK, libc::AT_EACCESS) != 0 }
}

/// The not-checked entry of a read-only run: housekeeping, not integrity, so it does not make
/// the verdict unknown.
const STALE_TEMP: &str = "stale temp files";

/// What a run with these options leaves unchecked, for the report.
fn not_checked(opts: &Options, read_only: bool) -> Vec<String> {
    let mut out = Vec::new();
    if opts.connectivity_only {
        out.push("object contents, packs, proof files and chains (--connectivity-only)".into());
    } else if opts.quick {
        out.push(
            "the content of loose files whose blake3 matches .msez/index and of objects in a pack whose checksum holds (--quick)"
                .into(),
        );
    }
    if !opts.strict {
        out.push("signatures: no proof was verified (--strict verifies every proof)".into());
    }
    if read_only {
        out.push(format!(
            "{STALE_TEMP}: the repository is read-only, nothing was swept"
        ));
    }
    out
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
    let (verified, findings) = proof_findings(id, value, |vm| format!("{id}: proof by {vm}"));
    report.proofs_verified += verified;
    report.problems.extend(findings);
}

/// Verifies every proof of `value` (object `id`): how many were verified, and one finding per
/// failure, its message prefixed by `label(verificationMethod)`. Local and remote fsck share it.
pub(crate) fn proof_findings(
    id: &ObjectId,
    value: &canon::Value,
    label: impl Fn(&str) -> String,
) -> (u64, Vec<Finding>) {
    let results = match crate::vc::verify_proofs(value) {
        Ok(results) => results,
        Err(e) => {
            let finding = Finding {
                detail: Detail::object(id.to_string()),
                ..Finding::from_error(&e)
            };
            return (0, vec![finding]);
        }
    };
    let mut findings = Vec::new();
    for result in &results {
        if let Some(e) = &result.failure {
            let mut finding = Finding::from_error(e);
            let vm = result
                .verification_method
                .as_deref()
                .unwrap_or("(no verificationMethod)");
            finding.message = format!("{}: {}", label(vm), finding.message);
            finding.detail.object = Some(id.to_string());
            findings.push(finding);
        }
    }
    (results.len() as u64, findings)
}

/// Opens every pack and checks its checksum; returns the sound ones.
fn check_packs(repo: &Repo, report: &mut Report) -> Vec<PathBuf> {
    let dir = repo.packs_dir();
    let names = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            report.problems.push(io_finding("listing", &dir, e));
            return Vec::new();
        }
    };
    let mut sound = Vec::new();
    for entry in names.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name == odb::MIDX_FILE_NAME {
            continue; // checked on its own (packs::check_midx)
        }
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
        // A pack whose checksum holds may still index garbage (a foreign file): read it all.
        match odb::Pack::open(&path).and_then(|p| p.verify().and_then(|()| p.check_entries())) {
            Ok(_) => sound.push(path),
            Err(e) => report.problems.push(Finding::from_error(&e)),
        }
    }
    sound.sort();
    sound
}

fn io_finding(what: &'static str, path: &Path, source: std::io::Error) -> Finding {
    Finding::from_error(&odb::Error::Io {
        what,
        path: path.to_path_buf(),
        source,
    })
}

/// The data directories of `.msez` (hooks may be symlinks on purpose, as in git).
const DATA_DIRS: [&str; 7] = ["objects", "packs", "proofs", "refs", "logs", "index", "mmr"];

/// Reports every symlink in the data directories: msez never makes one, reads through one may
/// see files outside the repository, and writes refuse to go through one.
fn check_symlinks(repo: &Repo, report: &mut Report) {
    let root = repo.dir();
    let real_root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    let mut stack: Vec<PathBuf> = Vec::new();
    for d in DATA_DIRS {
        let path = root.join(d);
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_symlink() => report_symlink(&path, &real_root, report),
            Ok(m) if m.is_dir() => stack.push(path),
            _ => {}
        }
    }
    while let Some(dir) = stack.pop() {
        // An unreadable directory is named by the check that needs it.
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(ft) = entry.file_type() else { continue };
            if ft.is_symlink() {
                report_symlink(&entry.path(), &real_root, report);
            } else if ft.is_dir() {
                stack.push(entry.path());
            }
        }
    }
}

fn report_symlink(path: &Path, real_root: &Path, report: &mut Report) {
    let target = std::fs::read_link(path)
        .map(|t| t.display().to_string())
        .unwrap_or_default();
    let where_ = match std::fs::canonicalize(path) {
        Ok(t) if t.starts_with(real_root) => "inside the repository",
        Ok(_) => "outside the repository",
        Err(_) => "nowhere (dangling)",
    };
    report.problems.push(Finding {
        class: Class::Schema,
        code: "schema.symlink",
        message: format!(
            "{} is a symlink to {target} ({where_}); msez never makes symlinks in .msez and does not write through them",
            path.display()
        ),
        detail: Detail::path(path).mismatch("a file or directory", format!("a symlink to {target}")),
    });
}

/// A ref file is one digest and a LF: anything longer is damage, and is never read whole.
const MAX_REF_BYTES: u64 = 4096;

/// Walks `refs/` without following symlinks: every readable ref with its value, and a finding
/// for every file that is not one (a bad name, a directory or special file where a ref
/// belongs, a value that is not one digest). Lock files are skipped.
fn scan_refs(repo: &Repo) -> (Vec<(RefName, canon::Digest)>, Vec<Finding>) {
    let mut refs = Vec::new();
    let mut findings = Vec::new();
    let bad_file = |path: &Path, why: &'static str| {
        Finding::from_error(&odb::Error::BadRefFile {
            path: path.to_path_buf(),
            why,
        })
    };
    let root = repo.dir().join("refs");
    let mut stack = match std::fs::symlink_metadata(&root) {
        Ok(m) if m.is_dir() => vec![root],
        _ => Vec::new(),
    };
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) => {
                findings.push(io_finding("listing", &dir, e));
                continue;
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(ft) = entry.file_type() else {
                findings.push(bad_file(&path, "its type cannot be read"));
                continue;
            };
            let rel = path.strip_prefix(repo.dir()).unwrap_or(&path);
            let name = rel.to_str().map(RefName::new);
            if ft.is_symlink() {
                continue; // named by check_symlinks; never followed
            }
            if ft.is_dir() {
                // Where the namespace puts a ref, or where a reflog says a ref has been.
                if let Some(Ok(name)) = &name {
                    if ref_object_type(name).is_some() || repo.reflog_path(name).is_file() {
                        findings.push(bad_file(&path, "a directory where a ref file belongs"));
                    }
                }
                stack.push(path);
                continue;
            }
            if path.extension().is_some_and(|e| e == "lock") {
                continue;
            }
            let name = match name {
                Some(Ok(name)) => name,
                Some(Err(odb::Error::BadRefName { why, .. })) => {
                    findings.push(bad_file(&path, why));
                    continue;
                }
                _ => {
                    findings.push(bad_file(&path, "a name that is not UTF-8"));
                    continue;
                }
            };
            if !ft.is_file() {
                findings.push(bad_file(
                    &path,
                    "not a regular file (a FIFO, socket or device)",
                ));
                continue;
            }
            match read_ref_bounded(&path) {
                Ok(bytes) => {
                    let text = String::from_utf8_lossy(&bytes);
                    let value = text.strip_suffix('\n').unwrap_or(&text);
                    match value.parse::<canon::Digest>() {
                        Ok(d) if bytes.len() as u64 <= 65 => refs.push((name, d)),
                        _ => findings.push(Finding::from_error(&odb::Error::BadRefValue {
                            name: name.to_string(),
                            found: value.chars().take(80).collect(),
                        })),
                    }
                }
                // Removed since it was listed: not there, not damage.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => findings.push(io_finding("reading ref", &path, e)),
            }
        }
    }
    refs.sort();
    (refs, findings)
}

fn read_ref_bounded(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_REF_BYTES)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Every ref file, and each ref's target; returns the readable refs.
fn check_refs(repo: &Repo, report: &mut Report) -> Vec<(RefName, canon::Digest)> {
    let (refs, findings) = scan_refs(repo);
    report.problems.extend(findings);
    for (name, digest) in &refs {
        report.refs += 1;
        let exists = match ref_target_exists(repo, name, digest) {
            Ok(exists) => exists,
            Err(e) => {
                report.problems.push(Finding::from_error(&e));
                continue;
            }
        };
        if !exists {
            let object = match ref_object_type(name) {
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
    refs
}

/// Reads of a ref and its reflog that may straddle a concurrent move before a mismatch counts.
const REFLOG_TRIES: usize = 5;

/// Every reflog under `logs/refs`: each line parses, each move starts where the one before
/// ended (or where it would have: a crash can leave a line for a move that never happened),
/// and the ref holds what the last move left (or the value before it, for the same reason).
fn check_reflogs(repo: &Repo, refs: &[(RefName, canon::Digest)], report: &mut Report) {
    let logs = repo.dir().join("logs");
    let values: HashMap<&RefName, canon::Digest> = refs.iter().map(|(n, d)| (n, *d)).collect();
    let root = logs.join("refs");
    let mut stack = match std::fs::symlink_metadata(&root) {
        Ok(m) if m.is_dir() => vec![root],
        _ => Vec::new(),
    };
    let problem = |path: &Path, message: String| Finding {
        class: Class::Schema,
        code: "schema.reflog",
        message,
        detail: Detail::path(path),
    };
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(ft) = entry.file_type() else { continue };
            if ft.is_dir() {
                stack.push(path);
                continue;
            }
            if !ft.is_file() {
                if !ft.is_symlink() {
                    report.problems.push(problem(
                        &path,
                        format!("{} is not a regular file", path.display()),
                    ));
                }
                continue;
            }
            let rel = path.strip_prefix(&logs).unwrap_or(&path);
            let Some(Ok(name)) = rel.to_str().map(RefName::new) else {
                report.problems.push(problem(
                    &path,
                    format!("{} is not the reflog of a valid ref name", path.display()),
                ));
                continue;
            };
            report.reflogs += 1;
            if let Some(message) = check_reflog(repo, &name, &path, values.get(&name).copied()) {
                report.problems.push(problem(&path, message));
            }
        }
    }
}

/// The first thing wrong with one reflog, if any. Read line by line (a reflog grows with every
/// move); a mismatch with the ref, or an unfinished last line, is read again before it counts,
/// since a writer may be moving the ref meanwhile.
fn check_reflog(
    repo: &Repo,
    name: &RefName,
    path: &Path,
    mut value: Option<canon::Digest>,
) -> Option<String> {
    use std::io::BufRead;
    let mut wrong = None;
    for _ in 0..REFLOG_TRIES {
        wrong = None;
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) => return Some(format!("reflog of {name} cannot be read: {e}")),
        };
        let mut reader = std::io::BufReader::new(file);
        let mut prev: Option<ReflogEntry> = None;
        let mut line = Vec::new();
        let mut number = 0;
        let mut unfinished = false;
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => return Some(format!("reflog of {name} cannot be read: {e}")),
            }
            number += 1;
            let complete = line.last() == Some(&b'\n');
            let text = line.strip_suffix(b"\n").unwrap_or(&line);
            if text.is_empty() {
                continue;
            }
            let Some(entry) = std::str::from_utf8(text).ok().and_then(ReflogEntry::parse) else {
                unfinished = !complete;
                wrong = Some(format!(
                    "reflog of {name}: line {number} is not `<old> <new> <time> <reason>`"
                ));
                break;
            };
            if let Some(p) = &prev {
                if entry.old != Some(p.new) && entry.old != p.old {
                    return Some(format!(
                        "reflog of {name}: line {number} moves from {} but the line before moved to {}",
                        show(entry.old),
                        p.new
                    ));
                }
            }
            prev = Some(entry);
        }
        if wrong.is_some() {
            if unfinished {
                continue; // a line being appended right now: read again
            }
            return wrong;
        }
        // An empty reflog (a crash between creating it and writing its line) says nothing.
        let last = prev?;
        if value == Some(last.new) || value == last.old {
            return None;
        }
        wrong = Some(format!(
            "reflog of {name}: its last move left {} (or kept {}), but the ref holds {}",
            last.new,
            show(last.old),
            show(value)
        ));
        // The ref may have moved since it was read: read both again.
        value = match repo.read_ref(name) {
            Ok(v) => v,
            Err(_) => return wrong,
        };
    }
    wrong
}

fn show(d: Option<canon::Digest>) -> String {
    d.map(|d| d.to_hex()).unwrap_or_else(|| "no ref".into())
}

/// Proof files whose object is not stored (orphans), and directories under `proofs/` that are
/// not `<type>/<digest>`. The proof files of stored objects are checked with their object.
fn check_proof_dirs(repo: &Repo, report: &mut Report) {
    let root = repo.dir().join("proofs");
    let Ok(types) = std::fs::read_dir(&root) else {
        return;
    };
    let bad_name = |path: PathBuf| Finding {
        class: Class::Schema,
        code: "schema.bad_object_name",
        message: format!("{} is not proofs/<type>/<digest>", path.display()),
        detail: Detail::path(path),
    };
    for t in types.flatten() {
        let tpath = t.path();
        if !t.file_type().is_ok_and(|ft| ft.is_dir()) {
            continue; // a symlink is named by check_symlinks
        }
        let Some(artifact_type) = t
            .file_name()
            .to_str()
            .and_then(|s| ArtifactType::new(s).ok())
        else {
            report.problems.push(bad_name(tpath));
            continue;
        };
        let Ok(digests) = std::fs::read_dir(&tpath) else {
            continue;
        };
        for d in digests.flatten() {
            let dpath = d.path();
            if !d.file_type().is_ok_and(|ft| ft.is_dir()) {
                continue;
            }
            let Some(digest) = d.file_name().to_str().and_then(|s| s.parse().ok()) else {
                report.problems.push(bad_name(dpath));
                continue;
            };
            let id = ObjectId::new(artifact_type.clone(), digest);
            if repo.has(&id) {
                continue;
            }
            let files = std::fs::read_dir(&dpath).map(|e| e.count()).unwrap_or(0);
            if files == 0 {
                continue;
            }
            report.proof_files += files as u64;
            report.problems.push(Finding {
                class: Class::Missing,
                code: "missing.proof_object",
                message: format!(
                    "{files} proof file(s) in {} belong to {id}, which is not stored (orphans; gc removes them)",
                    dpath.display()
                ),
                detail: Detail {
                    object: Some(id.to_string()),
                    path: Some(dpath),
                    ..Detail::default()
                }
                .mismatch("a stored object", "nothing"),
            });
        }
    }
}

/// Lists the temp files of a read-only repository as kept (nothing can be removed).
fn list_temp(repo: &Repo, report: &mut Report) {
    if let Ok(entries) = std::fs::read_dir(repo.tmp_dir()) {
        report.temp_kept.extend(entries.flatten().map(|e| e.path()));
    }
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

/// Whether `proof` is a valid Ed25519 signature over `object` by the key it names (whether
/// that key is trusted is verify's question, not storage's).
pub(crate) fn proof_signs(
    object: &canon::Value,
    proof: &canon::Value,
) -> Result<(), crate::vc::Error> {
    let input = crate::vc::proof::signing_input(object)?;
    crate::vc::proof::verify_proof(proof, &input).map(|_| ())
}
