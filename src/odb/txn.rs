//! One write transaction on one ref: its lock, its object batch, its working-tree files, the
//! directories whose contents it makes durable and the ref move from the value read under the
//! lock. An append is its first user.
//!
//! Commit order: the **journal** (every object's bytes and every working-tree file, with a
//! final `commit` line; fsync, then renamed into `.msez/journal/<ref>`, fsync) → objects and
//! working-tree files (one `syncfs` per filesystem) → the caller's derived state (MMR) → the
//! ref → the journal is removed. Until the journal is in place nothing it holds has a name
//! (objects and files are staged unnamed or in `.msez/tmp`), so a crash publishes nothing and
//! the signatures never left the process; from then on [`recover`] — run by the next
//! transaction on that ref before anything else, or by `msez recover` — publishes exactly the
//! journal's bytes and moves the ref. Format in docs/formats.md ("Journals").
//!
//! Users: the append, `add` (import), fork adoption and the checkpoint. A checkpoint that finds
//! under the lock that the ref must stay (a racing checkpoint moved it past) publishes its
//! object and file with [`Transaction::publish`], which seals no journal and moves nothing.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::artifact::{ArtifactType, ObjectId};
use crate::canon::{self, Digest};

use super::batch::{Batch, StagedFiles};
use super::hooks::{Event, HookEnv};
use super::lock::{Expect, RefLock};
use super::refs::RefUpdate;
use super::write;
use super::{Error, RefName, Repo};

/// The first line of every journal.
const MAGIC: &str = "msez-journal 1";

/// How a journal's working-tree file is made from its object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum FileEncoding {
    /// The object's canonical bytes as they are (canonical JSON + LF).
    Canonical,
    /// Pretty JSON (two-space indent) + LF.
    Pretty,
}

impl FileEncoding {
    fn name(self) -> &'static str {
        match self {
            FileEncoding::Canonical => "canonical",
            FileEncoding::Pretty => "pretty",
        }
    }

    fn parse(s: &str) -> Option<FileEncoding> {
        match s {
            "canonical" => Some(FileEncoding::Canonical),
            "pretty" => Some(FileEncoding::Pretty),
            _ => None,
        }
    }

    /// The file's bytes for an object whose canonical bytes are `object`.
    pub fn encode(self, object: &[u8]) -> Result<Vec<u8>, Error> {
        match self {
            FileEncoding::Canonical => Ok(object.to_vec()),
            FileEncoding::Pretty => {
                let v = canon::parse(object).map_err(|source| Error::Canon {
                    object: "journal object".into(),
                    source,
                })?;
                let mut text = serde_json::to_vec_pretty(&v).expect("JSON values serialize");
                text.push(b'\n');
                Ok(text)
            }
        }
    }
}

/// A write transaction on one ref. Dropped without [`Transaction::commit`], it releases the
/// lock and publishes nothing.
pub struct Transaction<'r> {
    repo: &'r Repo,
    lock: RefLock<'r>,
    old: Option<Digest>,
    reason: String,
    batch: Batch<'r>,
    journal: JournalWriter,
    /// Objects journaled so far.
    objects: u64,
    /// Working-tree files journaled so far.
    files: u64,
}

/// What a transaction's commit did.
#[derive(Debug)]
pub struct TxnCommitted {
    /// The ref move.
    pub update: RefUpdate,
    /// Post-hook failures (reported, never undone).
    pub warnings: Vec<String>,
}

impl<'r> Transaction<'r> {
    /// Takes the lock of `name`, completes a journal a crashed transaction left there, checks
    /// `expect` against the value then, and starts the journal.
    pub fn begin(
        repo: &'r Repo,
        name: &RefName,
        expect: Expect,
        reason: &str,
    ) -> Result<(Transaction<'r>, Option<Recovered>), Error> {
        let lock = RefLock::acquire(repo, name)?;
        let recovered = recover_locked(repo, &lock)?;
        let old = lock.check(expect)?;
        let mut batch = Batch::new(repo);
        let journal = JournalWriter::new(repo, &mut batch, name, old, reason)?;
        Ok((
            Transaction {
                repo,
                lock,
                old,
                reason: reason.to_string(),
                batch,
                journal,
                objects: 0,
                files: 0,
            },
            recovered,
        ))
    }

    /// The ref's value when the transaction began (read under its lock).
    pub fn old(&self) -> Option<Digest> {
        self.old
    }

    /// The ref this transaction moves.
    pub fn ref_name(&self) -> &RefName {
        self.lock.name()
    }

    /// Runs the pre-event hook `event` (which may veto), told the would-be new value: call it
    /// before anything is signed. `reason` is its `MSEZ_REASON`.
    pub fn run_hook(&self, event: Event, new: Digest, reason: &str) -> Result<(), Error> {
        let env = HookEnv {
            ref_name: self.lock.name().as_str(),
            old: self.old.map(|d| d.to_hex()).unwrap_or_default(),
            new: new.to_hex(),
            reason,
        };
        self.repo.run_hook(event, &env).map(|_| ())
    }

    /// Stages a JSON object whose canonical bytes (with their LF) are `bytes`, and journals
    /// them; returns its number in the journal.
    pub fn put_canonical(&mut self, id: ObjectId, bytes: &[u8]) -> Result<u64, Error> {
        self.journal.object(&id, bytes)?;
        self.batch.put_canonical(id, bytes)?;
        self.objects += 1;
        Ok(self.objects - 1)
    }

    /// Stages and journals a JSON object (its declared digest checked); returns its id.
    pub fn put_json(
        &mut self,
        artifact_type: &ArtifactType,
        value: &canon::Value,
    ) -> Result<ObjectId, Error> {
        let (id, bytes) = super::batch::canonical(artifact_type, value)?;
        self.put_canonical(id.clone(), &bytes)?;
        Ok(id)
    }

    /// Journals the working-tree file `path`, made from journaled object `object` (the caller
    /// stages its bytes in the [`StagedFiles`] given to [`Transaction::add_files`]).
    pub fn journal_file(
        &mut self,
        object: u64,
        encoding: FileEncoding,
        path: &Path,
    ) -> Result<(), Error> {
        let rel = path.strip_prefix(self.repo.worktree()).unwrap_or(path);
        let text = rel.to_str().ok_or_else(|| {
            Error::io(
                "naming (not UTF-8)",
                path,
                std::io::ErrorKind::InvalidInput.into(),
            )
        })?;
        self.journal.line(&format!(
            "file {object} {} {}\n",
            encoding.name(),
            serde_json::to_string(text).expect("strings serialize")
        ))?;
        self.files += 1;
        Ok(())
    }

    /// Adds staged working-tree files (published by the commit, not before).
    pub fn add_files(&mut self, files: StagedFiles) {
        self.batch.add_files(files);
    }

    /// Has the commit make what was written under `dir` durable too (the MMR store's node files).
    pub fn sync_dir(&mut self, dir: &Path) {
        self.batch.sync_with(dir);
    }

    /// Publishes the objects and working-tree files without moving the ref: for a caller that
    /// found, under the lock, that the ref must stay. No journal is sealed: no ref will name
    /// what it publishes, so a crash halfway leaves nothing a reader needs whole.
    pub fn publish(self) -> Result<(), Error> {
        self.batch.commit().map(|_| ())
    }

    /// Commits: the journal, then objects and files, then `derived` (state derived from them,
    /// such as the MMR; it may assume everything before is durable), then the ref moves to
    /// `new` and the journal goes. `post-ref-update`, then the `post` hooks (with their
    /// `MSEZ_REASON`) run after the move; their failures are returned, never undone.
    pub fn commit<E: From<Error>>(
        mut self,
        new: Digest,
        derived: impl FnOnce() -> Result<(), E>,
        post: &[(Event, &str)],
    ) -> Result<TxnCommitted, E> {
        let journal = self.journal.seal(new, self.objects, self.files)?;
        crash_point("append-journaled");
        self.batch.commit()?;
        crash_point("append-published");
        derived()?;
        let name = self.lock.name().clone();
        let entry = self.lock.commit(self.old, new, &self.reason)?;
        crash_point("append-ref-moved");
        remove_journal(&journal)?;
        let old = self.old.map(|d| d.to_hex()).unwrap_or_default();
        let mut warnings = Vec::new();
        for (event, reason) in std::iter::once((Event::PostRefUpdate, self.reason.as_str()))
            .chain(post.iter().copied())
        {
            let env = HookEnv {
                ref_name: name.as_str(),
                old: old.clone(),
                new: new.to_hex(),
                reason,
            };
            warnings.extend(self.repo.run_hook(event, &env)?);
        }
        Ok(TxnCommitted {
            update: RefUpdate {
                name,
                entry,
                warnings: warnings.clone(),
            },
            warnings,
        })
    }
}

/// The ref a journal file belongs to, from its place under `.msez/journal`.
pub fn journal_ref(repo: &Repo, journal: &Path) -> Result<RefName, Error> {
    let rel = journal
        .strip_prefix(journal_dir(repo))
        .unwrap_or(journal)
        .to_string_lossy()
        .into_owned();
    RefName::new(&rel)
}

/// A test hook: with `MSEZ_TEST_CRASH_AT=<point>` the process kills itself (SIGKILL, as
/// `kill -9` would) at that point of a commit, so tests hit the commit window exactly.
pub fn crash_point(point: &str) {
    if std::env::var_os("MSEZ_TEST_CRASH_AT").is_some_and(|v| v == point) {
        // SAFETY: raise has no memory-safety preconditions; SIGKILL ends the process here.
        unsafe {
            libc::raise(libc::SIGKILL);
        }
    }
}

/// `.msez/journal`.
pub fn journal_dir(repo: &Repo) -> PathBuf {
    repo.dir().join("journal")
}

/// The journal of a ref: `.msez/journal/refs/...`.
pub fn journal_path(repo: &Repo, name: &RefName) -> PathBuf {
    journal_dir(repo).join(name.as_str())
}

/// Removes a finished journal. Not synced: a removal a crash loses leaves a journal whose ref
/// already holds its new value, which completion just removes again.
fn remove_journal(path: &Path) -> Result<(), Error> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("removing journal", path, e)),
    }
}

/// A journal being written, in the transaction's staging directory until sealed.
struct JournalWriter {
    dest: PathBuf,
    /// The staged file and its path (None once sealed).
    staged: Option<(std::fs::File, PathBuf)>,
    /// The sealed journal, open and `flock`-ed until the transaction that wrote it ends, so a
    /// reader tells a live commit's journal from a crashed one's ([`Journal::held`]).
    sealed: Option<std::fs::File>,
    buf: Vec<u8>,
}

impl JournalWriter {
    fn new(
        repo: &Repo,
        batch: &mut Batch<'_>,
        name: &RefName,
        old: Option<Digest>,
        reason: &str,
    ) -> Result<Self, Error> {
        let mut j = JournalWriter {
            dest: journal_path(repo, name),
            staged: Some(batch.staging_file("journal")?),
            sealed: None,
            buf: Vec::with_capacity(1 << 16),
        };
        let old = old.map(|d| d.to_hex()).unwrap_or_else(|| "-".into());
        let reason = serde_json::to_string(reason).expect("strings serialize");
        j.line(&format!(
            "{MAGIC}\nref {name}\nold {old}\nreason {reason}\n"
        ))?;
        Ok(j)
    }

    fn line(&mut self, line: &str) -> Result<(), Error> {
        self.bytes(line.as_bytes())
    }

    fn bytes(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.buf.extend_from_slice(bytes);
        if self.buf.len() >= 1 << 20 {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Error> {
        let (file, path) = self.staged.as_mut().expect("an unsealed journal is staged");
        file.write_all(&self.buf)
            .map_err(|e| Error::io("writing journal", path.clone(), e))?;
        self.buf.clear();
        Ok(())
    }

    fn object(&mut self, id: &ObjectId, bytes: &[u8]) -> Result<(), Error> {
        // Canonical JSON has no raw LF inside, so the object is the rest of its line.
        let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        if body.contains(&b'\n') {
            return Err(Error::io(
                "journaling (not one line)",
                id.to_string(),
                std::io::ErrorKind::InvalidInput.into(),
            ));
        }
        self.line(&format!("object {} {} ", id.artifact_type, id.digest))?;
        self.bytes(body)?;
        self.bytes(b"\n")
    }

    /// Writes the `commit` line and makes the journal durable under its name.
    fn seal(&mut self, new: Digest, objects: u64, files: u64) -> Result<PathBuf, Error> {
        self.line(&format!("commit {new} {objects} {files}\n"))?;
        self.flush()?;
        let (file, tmp) = self.staged.take().expect("a journal is sealed once");
        file.sync_all()
            .map_err(|e| Error::io("syncing journal", &tmp, e))?;
        // Taken before the journal has its name: nobody sees it unheld while we live.
        crate::fs::try_flock(&file);
        self.sealed = Some(file);
        let parent = self.dest.parent().expect("journals have a parent");
        write::create_dir_all_synced(parent)?;
        // No journal of this ref exists: the transaction completed any under the ref's lock.
        write::rename("moving journal to", &tmp, &self.dest)?;
        write::sync_dir(parent)?;
        Ok(self.dest.clone())
    }
}

/// A parsed journal.
#[derive(Clone, Debug)]
pub struct Journal {
    /// Its file.
    pub path: PathBuf,
    /// The ref it moves.
    pub ref_name: RefName,
    /// The ref's value before (None: absent).
    pub old: Option<Digest>,
    /// The ref's value after.
    pub new: Digest,
    /// The reflog reason.
    pub reason: String,
    /// Objects and their canonical bytes (with LF).
    pub objects: Vec<(ObjectId, Vec<u8>)>,
    /// Working-tree files: (object number, encoding, path).
    pub files: Vec<(usize, FileEncoding, PathBuf)>,
}

impl Journal {
    /// Whether the transaction that wrote the journal is alive (still committing it: it holds
    /// the journal's `flock` from its seal to its removal), so the journal is not unfinished.
    /// A crashed writer's `flock` went with its process.
    pub fn held(journal: &Path) -> bool {
        match std::fs::File::open(journal) {
            // Our probe's flock goes with the file at the end of this arm.
            Ok(f) => !crate::fs::try_flock(&f),
            Err(_) => false,
        }
    }

    /// Reads and checks a journal (every object's bytes against its digest).
    pub fn read(repo: &Repo, path: &Path) -> Result<Journal, Error> {
        let bytes = std::fs::read(path).map_err(|e| Error::io("reading journal", path, e))?;
        Journal::parse(repo, path, &bytes)
    }

    /// [`Journal::read`], or None when the journal is gone: the transaction that wrote it
    /// removes it just after its ref moved and its lock was released, so a reader that saw it
    /// listed may find it finished.
    pub fn read_if_present(repo: &Repo, path: &Path) -> Result<Option<Journal>, Error> {
        match std::fs::read(path) {
            Ok(bytes) => Journal::parse(repo, path, &bytes).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("reading journal", path, e)),
        }
    }

    fn parse(repo: &Repo, path: &Path, bytes: &[u8]) -> Result<Journal, Error> {
        let bad = |why: String| Error::BadJournal {
            path: path.to_path_buf(),
            why,
        };
        let mut lines = bytes.split(|b| *b == b'\n');
        let mut text = |what: &str| -> Result<String, Error> {
            let line = lines.next().ok_or_else(|| bad(format!("no {what} line")))?;
            String::from_utf8(line.to_vec()).map_err(|_| bad(format!("{what} line not UTF-8")))
        };
        if text("header")? != MAGIC {
            return Err(bad("not an msez journal (no `msez-journal 1` line)".into()));
        }
        let field = |line: String, key: &str| -> Result<String, Error> {
            line.strip_prefix(&format!("{key} "))
                .map(str::to_string)
                .ok_or_else(|| bad(format!("expected a `{key}` line")))
        };
        let ref_name = RefName::new(&field(text("ref")?, "ref")?)?;
        let old = match field(text("old")?, "old")?.as_str() {
            "-" => None,
            h => Some(h.parse().map_err(|_| bad(format!("old value {h:?}")))?),
        };
        let reason: String = serde_json::from_str(&field(text("reason")?, "reason")?)
            .map_err(|e| bad(format!("reason: {e}")))?;
        let mut objects = Vec::new();
        let mut files = Vec::new();
        let mut commit = None;
        for line in lines {
            if line.is_empty() {
                continue;
            }
            if commit.is_some() {
                return Err(bad("lines after the commit line".into()));
            }
            if let Some(rest) = line.strip_prefix(b"object ") {
                let mut parts = rest.splitn(3, |b| *b == b' ');
                let (Some(t), Some(d), Some(body)) = (parts.next(), parts.next(), parts.next())
                else {
                    return Err(bad(format!("object line {}", objects.len())));
                };
                let t = ArtifactType::new(&String::from_utf8_lossy(t))?;
                let d: Digest = String::from_utf8_lossy(d)
                    .parse()
                    .map_err(|_| bad(format!("object {} digest", objects.len())))?;
                let value = canon::parse(body).map_err(|source| Error::Canon {
                    object: format!("{t}:{d} in journal {}", path.display()),
                    source,
                })?;
                let computed = t
                    .rule()
                    .digest_json(&value)
                    .map_err(|source| Error::Canon {
                        object: format!("{t}:{d} in journal {}", path.display()),
                        source,
                    })?;
                if computed != d {
                    return Err(bad(format!("object {t}:{d} has digest {computed}")));
                }
                let mut body = body.to_vec();
                body.push(b'\n');
                objects.push((ObjectId::new(t, d), body));
            } else if let Some(rest) = line.strip_prefix(b"file ") {
                let rest = String::from_utf8_lossy(rest);
                let mut parts = rest.splitn(3, ' ');
                let (Some(i), Some(enc), Some(p)) = (parts.next(), parts.next(), parts.next())
                else {
                    return Err(bad(format!("file line {}", files.len())));
                };
                let i: usize = i
                    .parse()
                    .ok()
                    .filter(|i| *i < objects.len())
                    .ok_or_else(|| bad(format!("file line names object {i}")))?;
                let enc = FileEncoding::parse(enc).ok_or_else(|| bad(format!("encoding {enc}")))?;
                let p: String =
                    serde_json::from_str(p).map_err(|e| bad(format!("file path: {e}")))?;
                let p = PathBuf::from(p);
                let p = if p.is_absolute() {
                    p
                } else {
                    repo.worktree().join(p)
                };
                files.push((i, enc, p));
            } else if let Some(rest) = line.strip_prefix(b"commit ") {
                let rest = String::from_utf8_lossy(rest);
                let parts: Vec<&str> = rest.split(' ').collect();
                let [new, n_obj, n_files] = parts.as_slice() else {
                    return Err(bad("commit line".into()));
                };
                let new: Digest = new.parse().map_err(|_| bad("commit value".into()))?;
                if n_obj.parse::<usize>().ok() != Some(objects.len())
                    || n_files.parse::<usize>().ok() != Some(files.len())
                {
                    return Err(bad(format!(
                        "commit line counts {n_obj} objects and {n_files} files, journal holds {} and {}",
                        objects.len(),
                        files.len()
                    )));
                }
                commit = Some(new);
            } else {
                return Err(bad("unknown line".into()));
            }
        }
        let new = commit.ok_or_else(|| bad("no commit line (torn)".into()))?;
        Ok(Journal {
            path: path.to_path_buf(),
            ref_name,
            old,
            new,
            reason,
            objects,
            files,
        })
    }
}

/// What completing a journal did.
#[derive(Clone, Debug, Serialize)]
pub struct Recovered {
    /// The ref.
    pub ref_name: RefName,
    /// Its value before the journaled transaction.
    pub old: Option<Digest>,
    /// Its value now (the journal's).
    pub new: Digest,
    /// Objects in the journal.
    pub objects: u64,
    /// Working-tree files the completion created (the others were already in place).
    pub files_created: u64,
    /// Whether the ref still had to move (false: the crash came after the move).
    pub moved: bool,
}

/// Every journal in the repository (sealed transactions not yet finished).
pub fn journals(repo: &Repo) -> Result<Vec<PathBuf>, Error> {
    let mut out = Vec::new();
    let mut stack = vec![journal_dir(repo)];
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io("listing", &dir, e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("listing", &dir, e))?;
            let ft = entry
                .file_type()
                .map_err(|e| Error::io("reading", entry.path(), e))?;
            if ft.is_dir() {
                stack.push(entry.path());
            } else {
                out.push(entry.path());
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Completes the journal of `name`, if there is one, under the ref's lock.
pub fn recover(repo: &Repo, name: &RefName) -> Result<Option<Recovered>, Error> {
    if !journal_path(repo, name).exists() {
        return Ok(None);
    }
    match RefLock::acquire(repo, name) {
        Ok(lock) => recover_locked(repo, &lock),
        // A live writer holds the ref: it is the transaction that journaled, or one that
        // completes the journal before it writes anything.
        Err(Error::Locked { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Completes the journal of the locked ref: publishes exactly its objects and files, then moves
/// the ref from the journal's old value to its new one (or leaves it, when it already moved).
fn recover_locked(repo: &Repo, lock: &RefLock<'_>) -> Result<Option<Recovered>, Error> {
    let path = journal_path(repo, lock.name());
    let Some(j) = Journal::read_if_present(repo, &path)? else {
        return Ok(None);
    };
    if &j.ref_name != lock.name() {
        return Err(Error::BadJournal {
            path,
            why: format!("names ref {} but lies under {}", j.ref_name, lock.name()),
        });
    }
    let found = lock.current()?;
    let moved = if found == Some(j.new) {
        false
    } else if found == j.old {
        true
    } else {
        return Err(Error::JournalConflict {
            path,
            name: j.ref_name.to_string(),
            moves: format!(
                "from {} to {}",
                j.old.map(|d| d.to_hex()).unwrap_or_else(|| "no ref".into()),
                j.new
            ),
            found: found.map(|d| d.to_hex()).unwrap_or_else(|| "no ref".into()),
        });
    };
    let mut batch = Batch::new(repo);
    for (id, bytes) in &j.objects {
        batch.put_canonical(id.clone(), bytes)?;
    }
    let mut files = StagedFiles::default();
    let mut created = 0;
    let mut texts: BTreeMap<&Path, Vec<u8>> = BTreeMap::new();
    for (i, enc, p) in &j.files {
        let text = enc.encode(&j.objects[*i].1)?;
        match std::fs::read(p) {
            Ok(have) if have == text => {}
            // A file of another receipt took the name meanwhile: the journal's bytes win, since
            // they are what the ref will name (the other stays in `.msez` if it was stored).
            Ok(_) => files.write(p, &text)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                files.write(p, &text)?;
                created += 1;
            }
            Err(e) => return Err(Error::io("reading", p, e)),
        }
        texts.insert(p, text);
    }
    batch.add_files(files);
    batch.commit()?;
    let name = lock.name().clone();
    if moved {
        commit_under(repo, lock, j.old, j.new, &j.reason)?;
    }
    remove_journal(&path)?;
    Ok(Some(Recovered {
        ref_name: name,
        old: j.old,
        new: j.new,
        objects: j.objects.len() as u64,
        files_created: created,
        moved,
    }))
}

/// Moves a ref whose lock `lock` holds, keeping the lock held afterwards (the transaction that
/// completed a journal goes on under it).
fn commit_under(
    repo: &Repo,
    lock: &RefLock<'_>,
    old: Option<Digest>,
    new: Digest,
    reason: &str,
) -> Result<(), Error> {
    let entry = super::refs::ReflogEntry::now(old, new, &format!("recover: {reason}"));
    write::append_line(&repo.reflog_path(lock.name()), &entry.line())?;
    let path = repo.ref_path(lock.name());
    write::atomic_write(&repo.tmp_dir(), &path, format!("{new}\n").as_bytes(), 0o644).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A transaction on `refs/t` that journals one object and its working-tree file and
    /// stops at the commit point (as a crash right after it would): returns the object's id.
    fn journaled(repo: &Repo, n: u64) -> (ObjectId, Vec<u8>) {
        let t = ArtifactType::new("note").unwrap();
        let v = canon::parse(format!("{{\"n\":{n}}}").as_bytes()).unwrap();
        let id = ObjectId::new(t.clone(), t.rule().digest_json(&v).unwrap());
        let mut bytes = canon::to_bytes(&v).unwrap();
        bytes.push(b'\n');
        let name = RefName::new("refs/t").unwrap();
        let (mut txn, _) = Transaction::begin(repo, &name, Expect::Any, "test").unwrap();
        let i = txn.put_canonical(id.clone(), &bytes).unwrap();
        let file = repo.worktree().join("m/f.json");
        txn.journal_file(i, FileEncoding::Pretty, &file).unwrap();
        let mut files = StagedFiles::default();
        files.write(&file, b"unused").unwrap();
        txn.add_files(files);
        txn.journal.seal(id.digest, 1, 1).unwrap();
        // Dropped here: nothing published, the lock released, the journal kept.
        (id, bytes)
    }

    #[test]
    fn a_journal_left_at_the_commit_point_is_completed_with_its_bytes() {
        let t = tempfile::tempdir().unwrap();
        let repo = Repo::init(t.path(), &[]).unwrap();
        let name = RefName::new("refs/t").unwrap();
        let (id, bytes) = journaled(&repo, 1);
        assert!(!repo.has(&id));
        assert!(!t.path().join("m/f.json").exists());
        assert_eq!(journals(&repo).unwrap().len(), 1);
        let done = recover(&repo, &name).unwrap().unwrap();
        assert!(done.moved && done.files_created == 1);
        assert_eq!(repo.read_ref(&name).unwrap(), Some(id.digest));
        assert!(repo.has(&id));
        let file = std::fs::read(t.path().join("m/f.json")).unwrap();
        assert_eq!(file, FileEncoding::Pretty.encode(&bytes).unwrap());
        assert!(journals(&repo).unwrap().is_empty());
        assert!(recover(&repo, &name).unwrap().is_none());
    }

    #[test]
    fn a_sealed_journal_is_held_while_its_writer_lives() {
        let t = tempfile::tempdir().unwrap();
        let repo = Repo::init(t.path(), &[]).unwrap();
        let name = RefName::new("refs/t").unwrap();
        let (mut txn, _) = Transaction::begin(&repo, &name, Expect::Any, "test").unwrap();
        let path = txn.journal.seal(Digest([1; 32]), 0, 0).unwrap();
        assert!(Journal::held(&path));
        drop(txn);
        // As after a crash: the journal stays, and nobody holds it.
        assert!(path.exists());
        assert!(!Journal::held(&path));
    }

    #[test]
    fn the_next_transaction_completes_a_journal_before_anything_else() {
        let t = tempfile::tempdir().unwrap();
        let repo = Repo::init(t.path(), &[]).unwrap();
        let name = RefName::new("refs/t").unwrap();
        let (id, _) = journaled(&repo, 1);
        let (txn, recovered) = Transaction::begin(&repo, &name, Expect::Any, "next").unwrap();
        assert_eq!(recovered.map(|r| r.new), Some(id.digest));
        assert_eq!(txn.old(), Some(id.digest));
    }

    #[test]
    fn a_journal_whose_ref_moved_elsewhere_is_refused_and_kept() {
        let t = tempfile::tempdir().unwrap();
        let repo = Repo::init(t.path(), &[]).unwrap();
        let name = RefName::new("refs/t").unwrap();
        journaled(&repo, 1);
        repo.update_ref(&name, Digest([9; 32]), Expect::Any, "elsewhere")
            .unwrap();
        let e = recover(&repo, &name).unwrap_err();
        assert!(matches!(e, Error::JournalConflict { .. }), "{e}");
        assert_eq!(journals(&repo).unwrap().len(), 1);
        assert_eq!(repo.read_ref(&name).unwrap(), Some(Digest([9; 32])));
    }

    #[test]
    fn a_torn_or_forged_journal_is_damaged_and_completes_nothing() {
        let t = tempfile::tempdir().unwrap();
        let repo = Repo::init(t.path(), &[]).unwrap();
        let name = RefName::new("refs/t").unwrap();
        let (id, _) = journaled(&repo, 1);
        let path = journal_path(&repo, &name);
        let text = std::fs::read_to_string(&path).unwrap();
        let torn = &text[..text.find("commit ").unwrap()];
        std::fs::write(&path, torn).unwrap();
        assert!(matches!(
            recover(&repo, &name),
            Err(Error::BadJournal { .. })
        ));
        // Bytes that do not give the digest they are journaled under.
        std::fs::write(&path, text.replace("{\"n\":1}", "{\"n\":2}")).unwrap();
        assert!(matches!(
            recover(&repo, &name),
            Err(Error::BadJournal { .. })
        ));
        assert!(!repo.has(&id));
        assert_eq!(repo.read_ref(&name).unwrap(), None);
    }
}
