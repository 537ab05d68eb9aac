//! How a chain's head relates to what each remote had when last fetched: ahead, behind or
//! diverged (a fork), from the remote-tracking refs (`refs/remotes/<name>/<chain>/head`) and
//! the receipts' `prev_root` links. No network: `msez fetch` refreshes the tracking refs.

use serde::Serialize;

use crate::artifact::{ArtifactType, ObjectId};
use crate::canon::{Digest, Value};
use crate::odb::{RefName, Repo};

use super::store::ChainKey;
use super::{Error, Kind};

/// One chain against one remote.
#[derive(Clone, Debug, Serialize)]
pub struct Tracking {
    /// The remote's name.
    pub remote: String,
    /// The head the remote had when last fetched (None: it had no such chain).
    pub head: Option<Digest>,
    /// Receipts here that the remote lacks.
    pub ahead: u64,
    /// Receipts the remote has that are not here (`msez pull` brings them).
    pub behind: u64,
    /// Neither head contains the other: a fork (`msez pull` exits 69; docs/forks.md).
    pub diverged: bool,
}

/// The sequence and prev_root of a receipt in `.msez`.
fn link(repo: &Repo, kind: Kind, next_root: Digest) -> Result<(u64, Option<Digest>), Error> {
    let t = ArtifactType::new(kind.receipt_artifact()).expect("receipt types are valid");
    let v = repo.read_json(&ObjectId::new(t, next_root))?;
    let seq = v.get("sequence").and_then(Value::as_u64).unwrap_or(0);
    let prev = match seq {
        0 => None,
        _ => Some(Digest::parse_loose(
            v.get("prev_root")
                .and_then(Value::as_str)
                .unwrap_or_default(),
        )?),
    };
    Ok((seq, prev))
}

/// The length of the chain ending at `head` (0: no head).
fn length(repo: &Repo, kind: Kind, head: Option<Digest>) -> Result<u64, Error> {
    head.map_or(Ok(0), |h| link(repo, kind, h).map(|(s, _)| s + 1))
}

/// (ahead, behind, diverged) of `local` against `remote`, walking back from the longer head
/// to the common ancestor: O(ahead + behind) receipt reads.
pub fn compare(
    repo: &Repo,
    kind: Kind,
    local: Option<Digest>,
    remote: Option<Digest>,
) -> Result<(u64, u64, bool), Error> {
    let (mut a, mut b) = (local, remote);
    let (mut la, mut lb) = (length(repo, kind, a)?, length(repo, kind, b)?);
    let (len_local, len_remote) = (la, lb);
    let step = |h: Option<Digest>| -> Result<Option<Digest>, Error> {
        match h {
            Some(h) => Ok(link(repo, kind, h)?.1),
            None => Ok(None),
        }
    };
    while la > lb {
        a = step(a)?;
        la -= 1;
    }
    while lb > la {
        b = step(b)?;
        lb -= 1;
    }
    while a != b && la > 0 {
        a = step(a)?;
        b = step(b)?;
        la -= 1;
    }
    let (ahead, behind) = (len_local - la, len_remote - la);
    Ok((ahead, behind, ahead > 0 && behind > 0))
}

/// The remotes that have a tracking ref for `key`'s head, and how the local head compares.
/// A tracking ref naming a receipt that is not stored (a damaged clone) is skipped.
pub fn tracking(
    repo: &Repo,
    key: &ChainKey,
    local: Option<Digest>,
) -> Result<Vec<Tracking>, Error> {
    let mut out = Vec::new();
    for name in repo.config().remote.keys() {
        let r = RefName::new(&format!("refs/remotes/{name}/{}/head", key.path()))?;
        let head = repo.read_ref(&r)?;
        if head.is_none() && local.is_none() {
            continue;
        }
        match compare(repo, key.kind, local, head) {
            Ok((ahead, behind, diverged)) => out.push(Tracking {
                remote: name.clone(),
                head,
                ahead,
                behind,
                diverged,
            }),
            Err(Error::Odb(crate::odb::Error::Missing { .. })) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// The fork refs kept for a chain (`refs/<chain>/forks/<next_root>`: losing branches).
pub fn forks(repo: &Repo, key: &ChainKey) -> Result<Vec<(RefName, Digest)>, Error> {
    let prefix = format!("refs/{}/forks/", key.path());
    Ok(repo
        .refs()?
        .into_iter()
        .filter(|(n, _)| n.as_str().starts_with(&prefix))
        .collect())
}
