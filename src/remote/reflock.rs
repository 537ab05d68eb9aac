//! Serialized if-match for servers whose `If-Match` is checked but not atomic.
//!
//! SeaweedFS 4.48 refuses an `If-Match` with a stale ETag, but two writers racing with the same
//! ETag can both succeed (its check and its write are not one step); its `If-None-Match: *` is
//! atomic. So a ref move first creates `locks/<key>/<version>.<n>` with create-if-absent:
//! exactly one writer per (key, version) gets it, and only that one sends the `If-Match` write.
//! The lock stays until it expires ([`TTL_SECS`]): SeaweedFS may still accept an `If-Match` on
//! the old ETag for a moment after the winner's write returned, so a late writer must meet the
//! lock, not the server's check. A lock that expired, or that a process of this host left and
//! no longer runs (a killed push), is stale: the next writer takes `<n+1>`. A loser gets
//! [`Error::Precondition`].
//!
//! Stale locks are garbage once no writer can meet them any more: [`sweep_locks`] deletes the
//! locks of a (key, version) when every one of them is stale and the key no longer has that
//! version. A writer that takes over from a stale lock sweeps its key's older versions after its
//! write; `msez gc --remote` sweeps every key. The locks of a key's current version always stay:
//! deleting one would let a second writer win the same slot.

use std::ops::Range;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::lease::{hostname, process_gone};
use super::{Backend, Blob, Error, Meta, Version};

/// How long a ref lock protects its holder.
pub const TTL_SECS: u64 = 60;
/// The prefix of lock keys (outside objects/, proofs/ and refs/, so readers never see them).
pub const LOCKS_PREFIX: &str = "locks/";
const ATTEMPTS: u32 = 16;

#[derive(Serialize, Deserialize)]
struct LockBody {
    holder: String,
    #[serde(default)]
    host: String,
    #[serde(default)]
    pid: u32,
    expires: u64,
}

impl LockBody {
    /// Expired, or left by a process of this host that no longer runs (a killed push).
    fn is_stale(&self) -> bool {
        self.expires <= now()
            || (self.pid != 0 && self.host == hostname() && process_gone(self.pid))
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The key-safe form of a version (ETags come quoted and may hold characters that do not
/// belong in a key).
fn version_tag(version: &Version) -> String {
    version
        .0
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect()
}

/// Deletes the ref locks under `prefix` (a `locks/...` key prefix) that no writer can need:
/// every lock of their (key, version) is stale and the key has moved off that version (or is
/// gone). Returns the lock keys deleted, or with `dry_run` the ones that would be.
pub fn sweep_locks(
    backend: &dyn Backend,
    prefix: &str,
    dry_run: bool,
) -> Result<Vec<String>, Error> {
    use std::collections::BTreeMap;
    let mut groups: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for m in backend.list(prefix)? {
        // locks/<ref key>/<tag>.<n>
        let Some(rest) = m.key.strip_prefix(LOCKS_PREFIX) else {
            continue;
        };
        let Some((key, file)) = rest.rsplit_once('/') else {
            continue;
        };
        let Some((tag, n)) = file.rsplit_once('.') else {
            continue;
        };
        if n.parse::<u32>().is_err() {
            continue;
        }
        groups
            .entry((key.to_string(), tag.to_string()))
            .or_default()
            .push(m.key);
    }
    let mut current: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut out = Vec::new();
    for ((key, tag), locks) in groups {
        if !current.contains_key(&key) {
            // A ref that is not a regular file (a directory remote's symlink or FIFO) has no
            // version to compare: its locks are kept, never judged.
            let v = match backend.get(&key, None) {
                Err(e) if e.is_refused_key() => continue,
                r => r?.map(|b| version_tag(&b.version)),
            };
            current.insert(key.clone(), v);
        }
        if current.get(&key).and_then(|v| v.as_deref()) == Some(tag.as_str()) {
            continue;
        }
        let mut all_stale = true;
        for lock in &locks {
            // A body that does not parse guards nothing: `lock` treats it as stale too.
            // A lock that is not a regular file is never read, followed or deleted.
            let live = match backend.get(lock, None) {
                Err(e) if e.is_refused_key() => true,
                r => r?
                    .and_then(|b| serde_json::from_slice::<LockBody>(&b.bytes).ok())
                    .is_some_and(|l| !l.is_stale()),
            };
            if live {
                all_stale = false;
                break;
            }
        }
        if !all_stale {
            continue;
        }
        for lock in locks {
            if !dry_run {
                backend.delete(&lock)?;
            }
            out.push(lock);
        }
    }
    Ok(out)
}

/// Wraps a backend so `put_if_match` goes through a create-if-absent lock object.
pub struct RefLocked<B>(pub B);

impl<B: Backend> RefLocked<B> {
    /// Takes the lock of (key, version); returns its key and whether stale locks were met.
    fn lock(&self, key: &str, version: &Version) -> Result<(String, bool), Error> {
        let tag = version_tag(version);
        let mut nonce = [0u8; 8];
        let _ = getrandom::fill(&mut nonce);
        let body = serde_json::to_vec(&LockBody {
            holder: format!("pid {} nonce {}", std::process::id(), hex::encode(nonce)),
            host: hostname(),
            pid: std::process::id(),
            expires: now() + TTL_SECS,
        })
        .expect("a lock body serializes");
        for n in 0..ATTEMPTS {
            let lock_key = format!("{LOCKS_PREFIX}{key}/{tag}.{n}");
            if self.0.put_if_absent(&lock_key, &body)? {
                return Ok((lock_key, n > 0));
            }
            let live = self
                .0
                .get(&lock_key, None)?
                .and_then(|b| serde_json::from_slice::<LockBody>(&b.bytes).ok())
                .is_some_and(|l| !l.is_stale());
            if live {
                return Err(Error::Precondition {
                    key: format!("{key} (being moved by another writer: {lock_key})"),
                });
            }
        }
        Err(Error::Precondition {
            key: format!("{key} ({ATTEMPTS} expired locks in {LOCKS_PREFIX}{key}/)"),
        })
    }
}

impl<B: Backend> Backend for RefLocked<B> {
    fn url(&self) -> String {
        self.0.url()
    }
    fn list(&self, prefix: &str) -> Result<Vec<Meta>, Error> {
        self.0.list(prefix)
    }
    fn irregular(&self, prefix: &str) -> Result<Vec<super::Irregular>, Error> {
        self.0.irregular(prefix)
    }
    fn get(&self, key: &str, range: Option<Range<u64>>) -> Result<Option<Blob>, Error> {
        self.0.get(key, range)
    }
    fn head(&self, key: &str) -> Result<Option<Meta>, Error> {
        self.0.head(key)
    }
    fn put(&self, key: &str, bytes: &[u8]) -> Result<Version, Error> {
        self.0.put(key, bytes)
    }
    fn put_if_absent(&self, key: &str, bytes: &[u8]) -> Result<bool, Error> {
        self.0.put_if_absent(key, bytes)
    }
    fn put_if_match(&self, key: &str, bytes: &[u8], version: &Version) -> Result<Version, Error> {
        // The lock is kept until it expires: SeaweedFS can still accept an If-Match on the old
        // ETag for a moment after our write returned, so deleting it would reopen the race.
        let (_, took_over) = self.lock(key, version)?;
        let written = self.0.put_if_match(key, bytes, version)?;
        if took_over {
            // Someone left stale locks on this key: clear what earlier versions left. Garbage
            // removal only, so a failure here must not fail a write that went through.
            let _ = sweep_locks(&self.0, &format!("{LOCKS_PREFIX}{key}/"), false);
        }
        Ok(written)
    }
    fn delete(&self, key: &str) -> Result<(), Error> {
        self.0.delete(key)
    }
    fn atomic_conditionals(&self) -> bool {
        self.0.atomic_conditionals()
    }
    fn presign_get(
        &self,
        key: &str,
        expires: std::time::Duration,
    ) -> Result<Option<String>, Error> {
        self.0.presign_get(key, expires)
    }
    // Forwarded, not left to the trait's whole-file defaults: the inner backend streams.
    fn put_file_if_absent(
        &self,
        key: &str,
        path: &std::path::Path,
        on_bytes: &dyn Fn(u64),
    ) -> Result<bool, Error> {
        self.0.put_file_if_absent(key, path, on_bytes)
    }
    fn get_to(&self, key: &str, out: &mut dyn std::io::Write) -> Result<Option<u64>, Error> {
        self.0.get_to(key, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::Local;

    #[test]
    fn one_move_per_version_and_dead_holders_do_not_block() {
        let dir = tempfile::tempdir().unwrap();
        let b = RefLocked(Local::new(dir.path()));
        assert!(b.put_if_absent("refs/a", b"1\n").unwrap());
        let v1 = b.get("refs/a", None).unwrap().unwrap().version;
        let v2 = b.put_if_match("refs/a", b"2\n", &v1).unwrap();
        // A second writer that read v1 meets the lock, whatever the server would say.
        assert!(matches!(
            b.put_if_match("refs/a", b"3\n", &v1),
            Err(Error::Precondition { .. })
        ));
        // A lock left by a process that no longer runs on this host is stale.
        let dead = LockBody {
            holder: "dead".into(),
            host: hostname(),
            pid: i32::MAX as u32,
            expires: now() + 3600,
        };
        let tag: String = v2.0.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
        let key = format!("{LOCKS_PREFIX}refs/a/{tag}.0");
        b.put(&key, &serde_json::to_vec(&dead).unwrap()).unwrap();
        b.put_if_match("refs/a", b"3\n", &v2).unwrap();
        assert!(
            b.head(&format!("{LOCKS_PREFIX}refs/a/{tag}.1"))
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn expired_locks_of_old_versions_are_swept_and_current_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let b = RefLocked(Local::new(dir.path()));
        assert!(b.put_if_absent("refs/a", b"1\n").unwrap());
        let v1 = b.get("refs/a", None).unwrap().unwrap().version;
        let expired = serde_json::to_vec(&LockBody {
            holder: "old".into(),
            host: "elsewhere".into(),
            pid: 1,
            expires: now() - 1,
        })
        .unwrap();
        let t1 = version_tag(&v1);
        // An expired lock of the current version: deleting it would reopen its slot.
        let current = format!("{LOCKS_PREFIX}refs/a/{t1}.0");
        b.put(&current, &expired).unwrap();
        assert!(sweep_locks(&b, LOCKS_PREFIX, false).unwrap().is_empty());
        // A writer takes over from it (slot 1) and, after its write, sweeps the key: v1 is no
        // longer current but its own lock is live, so both stay.
        let v2 = b.put_if_match("refs/a", b"2\n", &v1).unwrap();
        assert!(b.head(&current).unwrap().is_some());
        // Once every lock of v1 is stale, they go; an expired lock of a vanished ref goes too.
        b.put(&format!("{LOCKS_PREFIX}refs/a/{t1}.1"), &expired)
            .unwrap();
        let gone_ref = format!("{LOCKS_PREFIX}refs/gone/abc.0");
        b.put(&gone_ref, &expired).unwrap();
        let live = format!("{LOCKS_PREFIX}refs/a/{}.0", version_tag(&v2));
        b.put(&live, &expired).unwrap();
        let would = sweep_locks(&b, LOCKS_PREFIX, true).unwrap();
        assert_eq!(would.len(), 3, "{would:?}");
        assert!(
            b.head(&current).unwrap().is_some(),
            "a dry run deletes nothing"
        );
        let swept = sweep_locks(&b, LOCKS_PREFIX, false).unwrap();
        assert_eq!(swept, would);
        assert!(b.head(&current).unwrap().is_none());
        assert!(b.head(&gone_ref).unwrap().is_none());
        assert!(b.head(&live).unwrap().is_some(), "v2 is current");
    }
}
