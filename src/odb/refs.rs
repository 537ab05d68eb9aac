//! Refs (`.msez/refs/...`): named pointers to digests, and their reflogs (`.msez/logs/refs/...`).
//!
//! A ref file holds one lowercase hex digest and a LF. A reflog line is
//! `<old> <new> <unix-seconds> <reason>\n`, with 64 zeros for "absent".

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::canon::Digest;

use super::hooks::{Event, HookEnv};
use super::lock::{Expect, RefLock};
use super::{Error, Repo};

/// A validated ref name: `refs/` followed by safe path components.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct RefName(String);

impl RefName {
    /// Validates a ref name; `assets/...` is read as `refs/assets/...`.
    pub fn new(name: &str) -> Result<RefName, Error> {
        let full = if name.starts_with("refs/") {
            name.to_string()
        } else {
            format!("refs/{name}")
        };
        let bad = |why| {
            Err(Error::BadRefName {
                name: name.to_string(),
                why,
            })
        };
        if full.len() > 1024 {
            return bad("longer than 1024 bytes");
        }
        let components: Vec<&str> = full.split('/').collect();
        if components.len() < 2 {
            return bad("needs at least one component after refs/");
        }
        for c in &components {
            if c.is_empty() {
                return bad("empty component");
            }
            if c.starts_with('.') {
                return bad("a component starts with '.'");
            }
            if c.ends_with(".lock") {
                return bad("a component ends with .lock");
            }
            if c.chars()
                .any(|ch| ch.is_control() || ch == '\\' || ch == '*' || ch == '?')
            {
                return bad("control characters, '\\', '*' and '?' are not allowed");
            }
        }
        Ok(RefName(full))
    }

    /// The full name, `refs/...`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RefName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The artifact type a ref points at, known from its place in the namespace.
pub fn ref_object_type(name: &RefName) -> Option<&'static str> {
    let parts: Vec<&str> = name.as_str().split('/').collect();
    let parts = match parts.as_slice() {
        ["refs", "remotes", _remote, rest @ ..] => rest,
        ["refs", rest @ ..] => rest,
        _ => return None,
    };
    match parts {
        ["assets", _, _, "head"] | ["assets", _, _, "forks", _] => Some("smart-asset-receipt"),
        ["assets", _, _, "checkpoint"] => Some("smart-asset-receipt-checkpoint"),
        ["corridors", _, "head"] | ["corridors", _, "forks", _] => Some("corridor-receipt"),
        ["corridors", _, "checkpoint"] => Some("checkpoint"),
        ["corridors", _, "module"] => Some("corridor-module"),
        _ => None,
    }
}

/// One reflog line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReflogEntry {
    /// The value before the move (None: the ref did not exist).
    pub old: Option<Digest>,
    /// The value after the move.
    pub new: Digest,
    /// Unix seconds.
    pub time: u64,
    /// Why the ref moved.
    pub reason: String,
}

const ZERO: &str = "0000000000000000000000000000000000000000000000000000000000000000";

impl ReflogEntry {
    pub(crate) fn line(&self) -> String {
        let old = self
            .old
            .map(|d| d.to_hex())
            .unwrap_or_else(|| ZERO.to_string());
        let reason: String = self
            .reason
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        format!("{old} {} {} {reason}\n", self.new, self.time)
    }

    pub(crate) fn parse(line: &str) -> Option<ReflogEntry> {
        let mut parts = line.splitn(4, ' ');
        let old = parts.next()?;
        let new = parts.next()?.parse().ok()?;
        let time = parts.next()?.parse().ok()?;
        let reason = parts.next().unwrap_or_default().to_string();
        let old = if old == ZERO {
            None
        } else {
            Some(old.parse().ok()?)
        };
        Some(ReflogEntry {
            old,
            new,
            time,
            reason,
        })
    }

    pub(crate) fn now(old: Option<Digest>, new: Digest, reason: &str) -> ReflogEntry {
        let time = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        ReflogEntry {
            old,
            new,
            time,
            reason: reason.to_string(),
        }
    }
}

/// What a ref move did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RefUpdate {
    /// The ref.
    pub name: RefName,
    /// Its reflog entry.
    pub entry: ReflogEntry,
    /// Post-hook failures (reported, not undone).
    pub warnings: Vec<String>,
}

impl Repo {
    /// The file of a ref.
    pub fn ref_path(&self, name: &RefName) -> PathBuf {
        self.dir().join(name.as_str())
    }

    /// The reflog file of a ref.
    pub fn reflog_path(&self, name: &RefName) -> PathBuf {
        self.dir().join("logs").join(name.as_str())
    }

    /// The value of a ref, or None when it does not exist.
    pub fn read_ref(&self, name: &RefName) -> Result<Option<Digest>, Error> {
        read_ref_file(&self.ref_path(name), name)
    }

    /// Moves a ref to `new` if it holds what `expect` says, running the ref hooks.
    pub fn update_ref(
        &self,
        name: &RefName,
        new: Digest,
        expect: Expect,
        reason: &str,
    ) -> Result<RefUpdate, Error> {
        let lock = RefLock::acquire(self, name)?;
        let old = lock.check(expect)?;
        self.commit_ref(lock, old, new, reason)
    }

    /// Refuses a ref whose file or reflog would be written through a symlink inside `.msez`
    /// (a symlinked `refs/assets` would put refs and reflogs outside the repository).
    pub(crate) fn refuse_symlinks(&self, name: &RefName) -> Result<(), Error> {
        for rel in [name.to_string(), format!("logs/{name}")] {
            let mut path = self.dir().to_path_buf();
            for c in rel.split('/') {
                path.push(c);
                match std::fs::symlink_metadata(&path) {
                    Ok(m) if m.file_type().is_symlink() => {
                        return Err(Error::Symlink { path });
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        }
        Ok(())
    }

    /// Commits a held lock (whose old value the caller checked) with the ref hooks around it:
    /// a failing `pre-ref-update` drops the lock and nothing moves.
    pub fn commit_ref(
        &self,
        lock: RefLock<'_>,
        old: Option<Digest>,
        new: Digest,
        reason: &str,
    ) -> Result<RefUpdate, Error> {
        let name = lock.name().clone();
        self.refuse_symlinks(&name)?;
        let env = HookEnv {
            ref_name: name.as_str(),
            old: old.map(|d| d.to_hex()).unwrap_or_default(),
            new: new.to_hex(),
            reason,
        };
        self.run_hook(Event::PreRefUpdate, &env)?;
        let entry = lock.commit(old, new, reason)?;
        let warnings = self
            .run_hook(Event::PostRefUpdate, &env)?
            .into_iter()
            .collect();
        Ok(RefUpdate {
            name,
            entry,
            warnings,
        })
    }

    /// Every ref and its value, sorted by name (lock files skipped).
    pub fn refs(&self) -> Result<Vec<(RefName, Digest)>, Error> {
        let mut out = Vec::new();
        let root = self.dir().join("refs");
        let mut stack = vec![root];
        while let Some(dir) = stack.pop() {
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io("listing", &dir, e)),
            };
            for entry in entries {
                let entry = entry.map_err(|e| Error::io("listing", &dir, e))?;
                let path = entry.path();
                let ft = entry
                    .file_type()
                    .map_err(|e| Error::io("reading", &path, e))?;
                if ft.is_dir() {
                    stack.push(path);
                    continue;
                }
                if path.extension().is_some_and(|e| e == "lock") {
                    continue;
                }
                let rel = path
                    .strip_prefix(self.dir())
                    .expect("walked under .msez")
                    .to_string_lossy()
                    .into_owned();
                // A bad name on disk is damage, not a bad argument.
                let name = RefName::new(&rel).map_err(|e| match e {
                    Error::BadRefName { why, .. } => Error::BadRefFile {
                        path: path.clone(),
                        why,
                    },
                    other => other,
                })?;
                if let Some(d) = read_ref_file(&path, &name)? {
                    out.push((name, d));
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// The reflog of a ref, oldest first (unparsable lines are skipped).
    pub fn reflog(&self, name: &RefName) -> Result<Vec<ReflogEntry>, Error> {
        let path = self.reflog_path(name);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(text.lines().filter_map(ReflogEntry::parse).collect()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(Error::io("reading", &path, e)),
        }
    }
}

pub(crate) fn read_ref_file(path: &Path, name: &RefName) -> Result<Option<Digest>, Error> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let value = text.strip_suffix('\n').unwrap_or(&text);
            value.parse().map(Some).map_err(|_| Error::BadRefValue {
                name: name.to_string(),
                found: value.chars().take(80).collect(),
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("reading ref", path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ref_names_reject_traversal_and_lock_suffixes() {
        for bad in [
            "refs/../x",
            "refs/a/.hidden",
            "refs/a.lock",
            "refs//a",
            "refs/a\nb",
            "",
        ] {
            assert!(RefName::new(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            RefName::new("assets/ab/core/head").unwrap().as_str(),
            "refs/assets/ab/core/head"
        );
    }

    #[test]
    fn ref_types_follow_the_namespace() {
        let t = |n: &str| ref_object_type(&RefName::new(n).unwrap());
        assert_eq!(t("refs/assets/a/core/head"), Some("smart-asset-receipt"));
        assert_eq!(
            t("refs/remotes/origin/corridors/c/checkpoint"),
            Some("checkpoint")
        );
        assert_eq!(t("refs/tags/x"), None);
    }

    #[test]
    fn reflog_lines_round_trip() {
        let e = ReflogEntry {
            old: None,
            new: Digest([7; 32]),
            time: 5,
            reason: "a b\nc".into(),
        };
        let parsed = ReflogEntry::parse(e.line().trim_end()).unwrap();
        assert_eq!(
            (parsed.old, parsed.new, parsed.time, parsed.reason.as_str()),
            (None, e.new, 5, "a b c")
        );
    }
}
