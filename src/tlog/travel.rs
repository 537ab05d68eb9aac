//! Checkpoint notes travelling with their checkpoints (docs/tlog.md, "Notes over push and
//! fetch"): kept in the repository beside the objects, keyed by the MSEZ checkpoint they sign
//! (`.msez/notes/<type>/<digest>.note`, on a remote `notes/<type>/<digest>.note`), sent by
//! push, taken by fetch, pull and clone, and written into a module by checkout.
//!
//! A note is stored (received, or sent on) only when it is a note of its checkpoint: its body
//! names the checkpoint's chain, size and root, and a signature line named like its origin
//! verifies with the key of one of the checkpoint's valid proofs (the operator's). Its other
//! signature lines are cosignatures anyone can append: a line is stored, or sent on, only when
//! it verifies with a witness key this repository knows for the chain (the witness policy the
//! chain's module in this worktree pins); the others are counted and reported, never stored
//! ([`admit`]). Two notes of one checkpoint merge: the union of their lines.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::artifact::{ArtifactType, ObjectId};
use crate::canon::{Digest, Value};
use crate::chain::Kind;
use crate::odb::Repo;
use crate::remote::Backend;
use crate::taxonomy::Finding;

use super::Error;
use super::note::{Checkpoint, Note, Verifier};
use super::policy::Ignored;
use super::witness::Cosigner;

/// The remote prefix of notes, beside `objects/` and `proofs/`.
pub const REMOTE_PREFIX: &str = "notes/";

/// The remote key of the note of checkpoint `id`.
pub fn remote_key(id: &ObjectId) -> String {
    format!(
        "{REMOTE_PREFIX}{}/{}.note",
        id.artifact_type.as_str(),
        id.digest
    )
}

/// The checkpoint a `notes/...` key names.
pub fn parse_remote_key(key: &str) -> Option<ObjectId> {
    let rest = key.strip_prefix(REMOTE_PREFIX)?;
    let (t, file) = rest.split_once('/')?;
    let digest: Digest = file.strip_suffix(".note")?.parse().ok()?;
    let id = ObjectId::new(ArtifactType::new(t).ok()?, digest);
    (remote_key(&id) == key).then_some(id)
}

/// Where the repository keeps the note of checkpoint `id`.
pub fn local_path(repo: &Repo, id: &ObjectId) -> PathBuf {
    repo.dir()
        .join("notes")
        .join(id.artifact_type.as_str())
        .join(format!("{}.note", id.digest))
}

/// The chain kind whose checkpoints are stored under `t`.
fn kind_of(t: &ArtifactType) -> Option<Kind> {
    [Kind::Asset, Kind::Corridor]
        .into_iter()
        .find(|k| k.checkpoint_artifact() == t.as_str())
}

/// The object id of a checkpoint VC of `kind`.
pub fn checkpoint_id(kind: Kind, ck: &Value) -> Option<ObjectId> {
    let d = crate::chain::checkpoint::digest(ck).ok()?;
    Some(ObjectId::new(
        ArtifactType::new(kind.checkpoint_artifact()).ok()?,
        d,
    ))
}

/// Checks `bytes` as a note of the checkpoint VC `ck` of `kind` (see the module
/// documentation); returns the note with its parsing signature lines.
pub fn check_note(kind: Kind, ck: &Value, bytes: &[u8]) -> Result<Note, Error> {
    let note =
        super::policy::parse_lenient(bytes).ok_or_else(|| Error::bad_note("note", "not a note"))?;
    let body = Checkpoint::parse(&note.text)?;
    let chain = match kind {
        Kind::Asset => format!(
            "/asset/{}/{}",
            ck["asset_id"].as_str().unwrap_or_default(),
            ck["purpose"].as_str().unwrap_or("core")
        ),
        Kind::Corridor => format!(
            "/corridor/{}",
            ck["corridor_id"].as_str().unwrap_or_default()
        ),
    };
    let size = ck["receipt_count"].as_u64();
    let root = ck["mmr"]["root"]
        .as_str()
        .and_then(|r| Digest::parse_loose(r).ok());
    if !body.origin.ends_with(&chain) || size != Some(body.size) || root != Some(body.root) {
        return Err(Error::RootMismatch {
            what: format!("the note of checkpoint {} against the checkpoint", chain),
            expected: format!(
                "…{chain} size {} root {}",
                size.unwrap_or(0),
                root.map(|r| r.to_hex()).unwrap_or_default()
            ),
            found: format!("{} size {} root {}", body.origin, body.size, body.root),
        });
    }
    let signers: Vec<Verifier> = crate::vc::verify_proofs(ck)
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p.ok)
        .filter_map(|p| crate::vc::Did::parse(p.verification_method.as_deref()?).ok())
        .filter_map(|d| Verifier::new(&body.origin, d.verifying_key()).ok())
        .collect();
    let own = Note {
        text: note.text.clone(),
        signatures: note
            .signatures
            .iter()
            .filter(|s| s.name == body.origin)
            .cloned()
            .collect(),
    };
    if own.verify(&signers).map(|v| v.is_empty()).unwrap_or(true) {
        return Err(Error::Unsigned {
            origin: body.origin,
        });
    }
    // Lines under the log's name that the operator's key does not verify are not its own.
    let mut note = note;
    note.signatures.retain(|s| {
        s.name != body.origin || {
            let one = Note {
                text: note.text.clone(),
                signatures: vec![s.clone()],
            };
            one.verify(&signers).is_ok_and(|v| !v.is_empty())
        }
    });
    Ok(note)
}

/// The witnesses whose cosignatures this repository stores for the log `origin`: those of
/// the witness policy the chain's module in this worktree pins (Err: why there are none).
pub fn known_witnesses(repo: &Repo, origin: &str) -> Result<Vec<Cosigner>, String> {
    let Some((dir, kind, _, _)) = module_of(repo, origin) else {
        return Err("no witness key known here for this log".into());
    };
    if !dir.join(super::origin::module_file(kind)).is_file() {
        return Err(format!(
            "no witness key known here: the chain has no module in this worktree ({})",
            dir.display()
        ));
    }
    match super::policy::of_module(&dir, kind) {
        Ok(Some(p)) => Ok(p.witnesses),
        Ok(None) => Err(format!(
            "no witness key known here: the chain's module ({}) pins no witness policy",
            dir.display()
        )),
        Err(e) => Err(format!(
            "no witness key known here: the chain's witness policy does not parse ({e})"
        )),
    }
}

/// The lines of the checked note `note` ([`check_note`]) this repository stores or sends:
/// the log's own and the cosignatures that verify with a witness key it knows for the chain
/// ([`known_witnesses`]); the other lines come back as [`Ignored`], named `key`.
pub fn admit(repo: &Repo, note: &Note, key: &str) -> (Note, Vec<Ignored>) {
    let origin = Checkpoint::parse(&note.text)
        .map(|c| c.origin)
        .unwrap_or_default();
    let known = known_witnesses(repo, &origin);
    let mut kept = Note {
        text: note.text.clone(),
        signatures: Vec::new(),
    };
    let mut ignored = Vec::new();
    for sig in &note.signatures {
        let why = if sig.name == origin {
            None
        } else {
            match &known {
                Err(why) => Some(why.clone()),
                Ok(ws) => match ws.iter().find(|w| w.name == sig.name && w.id == sig.id) {
                    None => Some("not by a witness of the chain's policy here".to_string()),
                    Some(w) if w.verify(&note.text, sig).is_none() => Some(format!(
                        "names policy witness {} but does not verify",
                        w.name
                    )),
                    Some(_) => None,
                },
            }
        };
        match why {
            None => kept.signatures.push(sig.clone()),
            Some(why) => ignored.push(Ignored {
                note: PathBuf::from(key),
                line: sig.line().trim_end().to_string(),
                why,
            }),
        }
    }
    (kept, ignored)
}

/// The union of two notes of one text: `a`'s lines, then `b`'s it lacks.
pub fn merge(a: &Note, b: &Note) -> Note {
    let mut out = a.clone();
    for s in &b.signatures {
        if !out.signatures.contains(s) {
            out.signatures.push(s.clone());
        }
    }
    out
}

/// Stores `note` as the note of `id`, merged with the one kept already (of the same text);
/// returns whether the file changed. The caller has checked it ([`check_note`]).
pub fn store(repo: &Repo, id: &ObjectId, note: &Note) -> Result<bool, Error> {
    let path = local_path(repo, id);
    let old = std::fs::read(&path).ok();
    let merged = match old
        .as_deref()
        .and_then(super::policy::parse_lenient)
        .filter(|o| o.text == note.text)
    {
        Some(o) => merge(&o, note),
        None => note.clone(),
    };
    let bytes = merged.to_bytes();
    if old.as_deref() == Some(&bytes[..]) {
        return Ok(false);
    }
    write(&path, &bytes)?;
    Ok(true)
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    crate::chain::module::write_file(path, bytes).map_err(|e| Error::Io {
        what: "writing",
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })
}

/// Every note the repository keeps, by checkpoint.
pub fn local_notes(repo: &Repo) -> Vec<(ObjectId, PathBuf)> {
    let mut out = Vec::new();
    let base = repo.dir().join("notes");
    let Ok(types) = std::fs::read_dir(&base) else {
        return out;
    };
    for t in types.flatten() {
        let Ok(files) = std::fs::read_dir(t.path()) else {
            continue;
        };
        for f in files.flatten() {
            let key = format!(
                "{REMOTE_PREFIX}{}/{}",
                t.file_name().to_string_lossy(),
                f.file_name().to_string_lossy()
            );
            if let Some(id) = parse_remote_key(&key) {
                out.push((id, f.path()));
            }
        }
    }
    out.sort_by(|a, b| a.1.cmp(&b.1));
    out
}

/// A note that was not stored (or not sent), and why.
#[derive(Clone, Debug, Serialize)]
pub struct Rejected {
    /// The note's key.
    pub key: String,
    /// Why, as a finding.
    pub finding: Finding,
}

/// What moving notes did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Moved {
    /// Notes written to the remote (push) or stored here (fetch).
    pub stored: u64,
    /// Notes already there with every line.
    pub unchanged: u64,
    /// Remote notes of checkpoints this repository does not hold (not read).
    pub skipped: u64,
    /// Notes that do not check against their checkpoint: not stored, not sent.
    pub rejected: Vec<Rejected>,
    /// Cosignature lines not stored (fetch) or not sent (push): they do not verify with a
    /// witness key this repository knows for the chain ([`admit`]), or it knows none. Counted
    /// and reported on every run, as long as a note carries them.
    pub ignored: Vec<Ignored>,
}

/// Reads the remote's note of `id` and checks it against `ck`: Ok(None) when absent. Lines
/// that do not parse as signature lines go into `malformed` (they are dropped).
fn remote_note(
    backend: &dyn Backend,
    kind: Kind,
    ck: &Value,
    key: &str,
    malformed: &mut Vec<Ignored>,
) -> Result<Option<Result<Note, Error>>, Error> {
    let Some(blob) = backend.get(key, None)? else {
        return Ok(None);
    };
    let checked = check_note(kind, ck, &blob.bytes);
    if checked.is_ok() {
        malformed.extend(unparsed(&blob.bytes, key));
    }
    Ok(Some(checked))
}

/// The lines after a note's text that do not parse as signature lines, as [`Ignored`].
fn unparsed(bytes: &[u8], key: &str) -> Vec<Ignored> {
    let Some(note) = super::policy::parse_lenient(bytes) else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(bytes);
    let lines = text.get(note.text.len() + 1..).unwrap_or_default();
    lines
        .split('\n')
        .filter(|l| {
            let one = format!("{}\n{l}\n", note.text);
            !l.is_empty() && Note::parse(one.as_bytes()).is_err()
        })
        .map(|l| Ignored {
            note: PathBuf::from(key),
            line: l.to_string(),
            why: "malformed signature line".into(),
        })
        .collect()
}

/// Sends every note kept here to the remote, merged with the remote's own note of the same
/// checkpoint when that one checks: only the lines this repository would store ([`admit`]),
/// and only when that adds a line the remote's note lacks.
pub fn push_notes(repo: &Repo, backend: &dyn Backend) -> Result<Moved, Error> {
    let mut moved = Moved::default();
    for (id, path) in local_notes(repo) {
        let key = remote_key(&id);
        let (Some(kind), Ok(ck)) = (kind_of(&id.artifact_type), repo.read_json(&id)) else {
            continue;
        };
        // What we spread is checked again: a note file edited since it was stored is not sent.
        let ours = match std::fs::read(&path)
            .map_err(|e| Error::io("reading", &path, e))
            .and_then(|b| check_note(kind, &ck, &b))
        {
            Ok(n) => n,
            Err(e) => {
                moved.rejected.push(rejected(&key, &e));
                continue;
            }
        };
        let (ours, dropped) = admit(repo, &ours, &key);
        moved.ignored.extend(dropped);
        let theirs = match remote_note(backend, kind, &ck, &key, &mut moved.ignored)? {
            Some(Ok(n)) => Some(n),
            Some(Err(e)) => {
                // The remote's bytes are replaced by ours: they were not a note of this
                // checkpoint.
                moved.rejected.push(rejected(&key, &e));
                None
            }
            None => None,
        };
        let merged = match &theirs {
            Some(t) if t.text == ours.text => {
                let (t, dropped) = admit(repo, t, &key);
                // A line both notes carry is reported once.
                for d in dropped {
                    if !moved
                        .ignored
                        .iter()
                        .any(|i| i.line == d.line && i.note == d.note)
                    {
                        moved.ignored.push(d);
                    }
                }
                merge(&t, &ours)
            }
            _ => ours.clone(),
        };
        // Nothing to add: the remote's note stays as it is (lines we cannot verify included:
        // not ours to remove, and not sent by us).
        let adds = match &theirs {
            Some(t) if t.text == merged.text => {
                merged.signatures.iter().any(|s| !t.signatures.contains(s))
            }
            _ => true,
        };
        if !adds {
            moved.unchanged += 1;
            continue;
        }
        backend.put(&key, &merged.to_bytes())?;
        moved.stored += 1;
        // Lines the remote had, we lacked and verified are ours too now.
        store(repo, &id, &merged)?;
    }
    Ok(moved)
}

/// Takes the remote's notes of the checkpoints this repository holds, each checked against
/// its checkpoint before it is stored (merged with the one kept here), with only the lines
/// [`admit`] keeps: a repository that learns a policy later takes the cosignatures then.
pub fn fetch_notes(repo: &Repo, backend: &dyn Backend) -> Result<Moved, Error> {
    let mut moved = Moved::default();
    for m in backend.list(REMOTE_PREFIX)? {
        let Some(id) = parse_remote_key(&m.key) else {
            moved.rejected.push(rejected(
                &m.key,
                &Error::bad_note(&m.key, "a key under notes/ that names no checkpoint"),
            ));
            continue;
        };
        let (Some(kind), true) = (kind_of(&id.artifact_type), repo.has(&id)) else {
            moved.skipped += 1;
            continue;
        };
        let ck = match repo.read_json(&id) {
            Ok(v) => v,
            Err(_) => {
                moved.skipped += 1;
                continue;
            }
        };
        match remote_note(backend, kind, &ck, &m.key, &mut moved.ignored)? {
            Some(Ok(note)) => {
                let (note, dropped) = admit(repo, &note, &m.key);
                moved.ignored.extend(dropped);
                if store(repo, &id, &note)? {
                    moved.stored += 1;
                } else {
                    moved.unchanged += 1;
                }
            }
            Some(Err(e)) => moved.rejected.push(rejected(&m.key, &e)),
            None => {}
        }
    }
    Ok(moved)
}

fn rejected(key: &str, e: &Error) -> Rejected {
    let mut finding = Finding::from_error(e);
    if finding.detail.object.is_none() {
        finding.detail.object = Some(key.to_string());
    }
    Rejected {
        key: key.to_string(),
        finding,
    }
}

/// Writes the notes the repository keeps into the module at `module_dir` of `kind`, as
/// `checkpoint.N.note` beside each `checkpoint.N.json` they sign (merged with a note already
/// there of the same text), with only the lines [`admit`] keeps; returns how many files
/// changed.
pub fn write_module_notes(repo: &Repo, module_dir: &Path, kind: Kind) -> Result<u64, Error> {
    let mut written = 0;
    let mut stack = vec![module_dir.join("state").join("checkpoints")];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let is_ck = p
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("checkpoint.") && n.ends_with(".json"));
            if !is_ck {
                continue;
            }
            let Some(ck) = std::fs::read(&p)
                .ok()
                .and_then(|b| crate::canon::parse(&b).ok())
            else {
                continue;
            };
            let Some(id) = checkpoint_id(kind, &ck) else {
                continue;
            };
            let Ok(bytes) = std::fs::read(local_path(repo, &id)) else {
                continue;
            };
            let Ok(note) = check_note(kind, &ck, &bytes) else {
                continue;
            };
            // The same rule as for a fetch: only lines verified with the chain's policy here.
            let (note, _) = admit(repo, &note, "");
            // Named by its size, as the witness policy reads notes, whatever the VC's name.
            let size = ck["receipt_count"].as_u64().unwrap_or(0);
            let dest = p.with_file_name(format!("checkpoint.{size}.note"));
            let old = std::fs::read(&dest).ok();
            let merged = match old
                .as_deref()
                .and_then(super::policy::parse_lenient)
                .filter(|o| o.text == note.text)
            {
                Some(o) => merge(&o, &note),
                None => note,
            };
            if old.as_deref() != Some(&merged.to_bytes()[..]) {
                write(&dest, &merged.to_bytes())?;
                written += 1;
            }
        }
    }
    Ok(written)
}

/// The module directory of the chain an origin names in the worktree of `repo`, with its
/// kind, owner and purpose.
fn module_of(repo: &Repo, origin: &str) -> Option<(PathBuf, Kind, String, Option<String>)> {
    let parts: Vec<&str> = origin.rsplit('/').take(3).collect();
    let root = repo.worktree().join("modules");
    match parts[..] {
        [purpose, id, "asset", ..] => Some((
            root.join("smart-assets").join(id),
            Kind::Asset,
            id.to_string(),
            Some(purpose.to_string()),
        )),
        [id, "corridor", ..] => Some((
            root.join("corridors").join(id),
            Kind::Corridor,
            id.to_string(),
            None,
        )),
        _ => None,
    }
}

/// The root the chain's own checkpoints in `module_dir` give for `size` (None: none of that
/// size here).
fn local_root(module_dir: &Path, purpose: Option<&str>, size: u64) -> Option<Digest> {
    let mut stack = vec![module_dir.join("state").join("checkpoints")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).ok()?.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            if p.extension().and_then(|x| x.to_str()) != Some("json") {
                continue;
            }
            let Some(ck) = std::fs::read(&p)
                .ok()
                .and_then(|b| crate::canon::parse(&b).ok())
            else {
                continue;
            };
            let same_purpose = ck["purpose"].as_str().is_none_or(|p| Some(p) == purpose);
            if same_purpose && ck["receipt_count"].as_u64() == Some(size) {
                return ck["mmr"]["root"]
                    .as_str()
                    .and_then(|r| Digest::parse_loose(r).ok());
            }
        }
    }
    None
}

/// Whether a module of the worktree pins a witness policy.
fn any_policy(repo: &Repo) -> bool {
    let root = repo.worktree().join("modules");
    [("smart-assets", Kind::Asset), ("corridors", Kind::Corridor)]
        .into_iter()
        .any(|(sub, kind)| {
            std::fs::read_dir(root.join(sub)).is_ok_and(|entries| {
                entries
                    .flatten()
                    .any(|e| matches!(super::policy::of_module(&e.path(), kind), Ok(Some(_))))
            })
        })
}

/// Split views a remote's notes show (docs/tlog.md, "Notes over push and fetch"): a note of a
/// chain this worktree holds, of a size it has a checkpoint of, over another root, with a valid
/// cosignature by a witness of the chain's policy. Checked before a fetch moves anything.
pub fn split_views(repo: &Repo, backend: &dyn Backend) -> Result<Vec<super::policy::Split>, Error> {
    let mut out = Vec::new();
    // Without a chain here that pins a policy there is nothing to compare: no request.
    if !any_policy(repo) {
        return Ok(out);
    }
    for m in backend.list(REMOTE_PREFIX)? {
        let Some(blob) = backend.get(&m.key, None)? else {
            continue;
        };
        let Some(note) = super::policy::parse_lenient(&blob.bytes) else {
            continue;
        };
        let Ok(body) = Checkpoint::parse(&note.text) else {
            continue;
        };
        let Some((dir, kind, owner, purpose)) = module_of(repo, &body.origin) else {
            continue;
        };
        let Ok(Some(policy)) = super::policy::of_module(&dir, kind) else {
            continue;
        };
        let ours = super::origin::of_module(&dir, kind, &owner, purpose.as_deref());
        if ours.ok().as_deref() != Some(body.origin.as_str()) {
            continue;
        }
        let Some(root) = local_root(&dir, purpose.as_deref(), body.size) else {
            continue;
        };
        if root == body.root {
            continue;
        }
        for sig in &note.signatures {
            let w = policy
                .witnesses
                .iter()
                .find(|w| w.name == sig.name && w.id == sig.id);
            if let Some(w) = w.filter(|w| w.verify(&note.text, sig).is_some()) {
                // The cosigned note is the evidence: kept here, whatever the remote does next.
                let name = crate::canon::sha256(&blob.bytes).to_hex();
                let evidence = repo
                    .dir()
                    .join("tlog")
                    .join("evidence")
                    .join(format!("witness-split.{}.note", &name[..16]));
                write(&evidence, &blob.bytes)?;
                out.push(super::policy::Split {
                    witness: w.name.clone(),
                    origin: body.origin.clone(),
                    size: body.size,
                    cosigned: body.root.to_hex(),
                    chain: root.to_hex(),
                    note: evidence,
                });
            }
        }
    }
    Ok(out)
}

/// Checks every note under the remote's `notes/` against its checkpoint object on the same
/// remote (`fsck --remote`): returns the notes checked and the findings (a note whose
/// checkpoint the remote lacks is `missing.tlog_tile`, naming the object).
pub fn check_remote(backend: &dyn Backend) -> Result<(u64, Vec<Finding>), Error> {
    let mut checked = 0;
    let mut findings = Vec::new();
    for m in backend.list(REMOTE_PREFIX)? {
        let Some(id) = parse_remote_key(&m.key) else {
            findings.push(
                rejected(
                    &m.key,
                    &Error::bad_note(&m.key, "a key under notes/ that names no checkpoint"),
                )
                .finding,
            );
            continue;
        };
        let Some(kind) = kind_of(&id.artifact_type) else {
            continue;
        };
        let object = crate::remote::layout::object_key(&id);
        let ck = match backend.get(&object, None)? {
            Some(b) => crate::canon::parse(&b.bytes).ok(),
            None => None,
        };
        let Some(ck) = ck else {
            findings.push(
                rejected(
                    &m.key,
                    &Error::Missing {
                        path: object,
                        source_url: backend.url(),
                    },
                )
                .finding,
            );
            continue;
        };
        let Some(blob) = backend.get(&m.key, None)? else {
            continue;
        };
        checked += 1;
        if let Err(e) = check_note(kind, &ck, &blob.bytes) {
            findings.push(rejected(&m.key, &e).finding);
        }
    }
    Ok((checked, findings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_keys_name_checkpoints() {
        let id = ObjectId::new(
            ArtifactType::new("smart-asset-receipt-checkpoint").unwrap(),
            Digest([7; 32]),
        );
        let key = remote_key(&id);
        assert_eq!(parse_remote_key(&key), Some(id));
        assert_eq!(parse_remote_key("notes/x/y.note"), None);
        assert_eq!(parse_remote_key("proofs/x"), None);
    }
}
