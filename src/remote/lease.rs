//! The write lease of a single-writer remote: a `lease` key naming its holder and expiry.
//!
//! A backend without atomic conditional writes (IPFS MFS) cannot arbitrate two pushers, so a
//! push first takes the lease: it refuses while someone else's unexpired lease is there, writes
//! its own, reads it back (a racing writer's lease would replace it), and deletes it when done.
//! A lease left by a process of this host that no longer runs is taken over at once; any other
//! expires after [`TTL_SECS`]. This narrows races to the read-back window; it does not close
//! them, which is why such a remote says it is single-writer.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::{Backend, Error};

/// The key of the lease.
pub const LEASE_KEY: &str = "lease";
/// How long a lease lasts when its holder cannot be checked.
pub const TTL_SECS: u64 = 300;

/// The lease file's content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// `host:pid:nonce`.
    pub holder: String,
    /// Host name of the holder.
    pub host: String,
    /// Process id of the holder.
    pub pid: u32,
    /// Unix seconds after which the lease is void.
    pub expires: u64,
}

/// A held lease; [`Lease::release`] deletes it (dropping it leaves it to expire).
#[derive(Debug)]
pub struct Lease {
    holder: Holder,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// This host's name (for lease and lock holders).
pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".to_string())
}

/// Whether no process `pid` runs on this host.
pub(crate) fn process_gone(pid: u32) -> bool {
    // kill(pid, 0) probes without signalling; ESRCH means no such process.
    // SAFETY: kill takes no pointers, and signal 0 only checks that `pid` exists.
    let r = unsafe { libc::kill(pid as libc::pid_t, 0) };
    r != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
}

fn read(backend: &dyn Backend) -> Result<Option<Holder>, Error> {
    Ok(backend
        .get(LEASE_KEY, None)?
        .and_then(|b| serde_json::from_slice(&b.bytes).ok()))
}

impl Lease {
    /// Takes the remote's lease, or says who holds it.
    pub fn acquire(backend: &dyn Backend) -> Result<Lease, Error> {
        let host = hostname();
        if let Some(other) = read(backend)? {
            let stale = other.expires <= now() || (other.host == host && process_gone(other.pid));
            if !stale {
                return Err(Error::LeaseHeld {
                    url: backend.url(),
                    holder: other.holder,
                    expires_in: other.expires.saturating_sub(now()),
                });
            }
        }
        let pid = std::process::id();
        let mut nonce = [0u8; 8];
        let _ = getrandom::fill(&mut nonce);
        let holder = Holder {
            holder: format!("{host}:{pid}:{}", hex::encode(nonce)),
            host,
            pid,
            expires: now() + TTL_SECS,
        };
        let bytes = serde_json::to_vec(&holder).expect("a lease serializes");
        backend.put(LEASE_KEY, &bytes)?;
        match read(backend)? {
            Some(h) if h == holder => Ok(Lease { holder }),
            Some(h) => Err(Error::LeaseHeld {
                url: backend.url(),
                holder: h.holder,
                expires_in: h.expires.saturating_sub(now()),
            }),
            None => Err(Error::Missing {
                what: "our lease",
                key: LEASE_KEY.to_string(),
            }),
        }
    }

    /// Deletes the lease if it is still ours.
    pub fn release(self, backend: &dyn Backend) -> Result<(), Error> {
        if read(backend)?.as_ref() == Some(&self.holder) {
            backend.delete(LEASE_KEY)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::Local;

    #[test]
    fn a_live_lease_is_refused_and_a_released_one_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let b = Local::new(dir.path());
        let lease = Lease::acquire(&b).unwrap();
        // This process still runs, so its own lease counts as held by someone else.
        assert!(matches!(Lease::acquire(&b), Err(Error::LeaseHeld { .. })));
        lease.release(&b).unwrap();
        assert!(b.get(LEASE_KEY, None).unwrap().is_none());
        // A lease of a dead process on this host is taken over at once.
        let dead = Holder {
            holder: "x".into(),
            host: hostname(),
            pid: i32::MAX as u32,
            expires: now() + 3600,
        };
        b.put(LEASE_KEY, &serde_json::to_vec(&dead).unwrap())
            .unwrap();
        Lease::acquire(&b).unwrap().release(&b).unwrap();
    }
}
