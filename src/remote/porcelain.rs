//! What git's remote porcelain needs beyond push and fetch: a remote's refs as they are now
//! (`msez ls-remote`), and moving a remote's tracking refs when it is renamed.

use crate::canon::Digest;
use crate::odb::{Expect, RefLock, RefName, Repo};

use super::{Backend, Error, layout};

/// The refs a remote holds now, sorted by name (keys that are not refs are skipped, as fetch
/// skips them). Refuses a location that is not an msez remote (no format file).
pub fn ls_remote(backend: &dyn Backend) -> Result<Vec<(RefName, Digest)>, Error> {
    if !layout::check_format(backend)? {
        return Err(Error::Missing {
            what: "the format file (not an msez remote?)",
            key: format!("{}/{}", backend.url(), layout::FORMAT_KEY),
        });
    }
    let mut out = Vec::new();
    for m in backend.list("refs/")? {
        let Ok(name) = RefName::new(&m.key) else {
            continue;
        };
        let Some(blob) = backend.get(&m.key, None)? else {
            continue;
        };
        if let Some(d) = layout::parse_ref_value(&blob.bytes) {
            out.push((name, d));
        }
    }
    out.sort();
    Ok(out)
}

/// The remote-tracking refs of `remote` (`refs/remotes/<remote>/...`).
pub fn tracking_refs(repo: &Repo, remote: &str) -> Result<Vec<(RefName, Digest)>, Error> {
    let prefix = format!("refs/remotes/{remote}/");
    Ok(repo
        .refs()?
        .into_iter()
        .filter(|(n, _)| n.as_str().starts_with(&prefix))
        .collect())
}

/// Moves every tracking ref of `old` to the same name under `new` (same values, a reflog
/// line each), then removes the old ones. Returns how many moved.
pub fn rename_tracking_refs(repo: &Repo, old: &str, new: &str) -> Result<usize, Error> {
    let refs = tracking_refs(repo, old)?;
    let from = format!("refs/remotes/{old}/");
    for (name, digest) in &refs {
        let rest = name.as_str().strip_prefix(&from).unwrap_or(name.as_str());
        let to = RefName::new(&format!("refs/remotes/{new}/{rest}"))?;
        repo.update_ref(
            &to,
            *digest,
            Expect::Any,
            &format!("remote rename {old} {new}"),
        )?;
    }
    for (name, _) in &refs {
        // Under the ref's lock, so no fetch moves it while it goes.
        let lock = RefLock::acquire(repo, name)?;
        let path = repo.ref_path(name);
        std::fs::remove_file(&path).or_else(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Ok(()),
            _ => Err(Error::io("removing", &path, e)),
        })?;
        drop(lock);
    }
    Ok(refs.len())
}
