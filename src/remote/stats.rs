//! `msez remote stats`: what a remote holds, from its listing (about one request per 1,000
//! keys), and what no ref there reaches (the refs' closure, walked through the local copy of
//! each object where the repository has it, else through the remote's JSON objects).

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;

use serde::Serialize;

use crate::odb::{RefName, Repo};

use super::sync::{Options, remote_closure};
use super::{Backend, Error, layout};

/// A count of keys and their bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// Keys.
    pub count: u64,
    /// Their bytes, as listed.
    pub bytes: u64,
}

impl Tally {
    fn add(&mut self, bytes: u64) {
        self.count += 1;
        self.bytes += bytes;
    }
}

/// What a remote holds.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Stats {
    /// The remote's URL.
    pub url: String,
    /// Every key.
    pub total: Tally,
    /// Objects, all types.
    pub objects: Tally,
    /// Objects by artifact type.
    pub by_type: BTreeMap<String, Tally>,
    /// Proof files (`proofs/...`).
    pub proof_files: Tally,
    /// Refs (`refs/...`).
    pub refs: Tally,
    /// Other keys by their first path component (`format`, `packs`, `logs`, `locks`...).
    pub other: BTreeMap<String, Tally>,
    /// Objects no ref on the remote reaches (what `gc --remote` could remove once old enough).
    pub unreferenced: Tally,
    /// Remote refs whose value does not parse (not followed).
    pub bad_refs: Vec<String>,
    /// JSON objects read from the remote to walk the refs' closure (the rest was local).
    pub closure_reads: u64,
    /// The newest write of a ref (RFC 3339, UTC): the last push that moved one; None when the
    /// backend's listing tells no times (IPFS) or there is no ref.
    pub last_push: Option<String>,
}

/// Lists the remote once, reads its refs and walks their closure.
pub fn stats(
    repo: &Repo,
    backend: &dyn Backend,
    opts: &Options,
    stop: &AtomicBool,
) -> Result<Stats, Error> {
    let mut s = Stats {
        url: backend.url(),
        ..Stats::default()
    };
    let listing = backend.list("")?;
    let mut newest = None;
    let mut objects = Vec::new();
    let mut refs = BTreeMap::new();
    let mut listed = std::collections::HashSet::new();
    for m in &listing {
        s.total.add(m.size);
        if let Some(id) = layout::parse_object_key(&m.key) {
            s.objects.add(m.size);
            s.by_type
                .entry(id.artifact_type.to_string())
                .or_default()
                .add(m.size);
            listed.insert(id.clone());
            objects.push((id, m.size));
        } else if layout::parse_proof_key(&m.key).is_some() {
            s.proof_files.add(m.size);
        } else if m.key.starts_with("refs/") {
            s.refs.add(m.size);
            if let Some(t) = m.modified {
                newest = newest.max(Some(t));
            }
            match RefName::new(&m.key) {
                Ok(name) => {
                    let blob = backend.get(&m.key, None)?;
                    match blob.and_then(|b| layout::parse_ref_value(&b.bytes)) {
                        Some(d) => {
                            refs.insert(name, d);
                        }
                        None => s.bad_refs.push(m.key.clone()),
                    }
                }
                Err(_) => s.bad_refs.push(m.key.clone()),
            }
        } else {
            let first = m.key.split('/').next().unwrap_or("").to_string();
            s.other.entry(first).or_default().add(m.size);
        }
    }
    s.last_push = newest.map(|t| humantime::format_rfc3339_seconds(t).to_string());
    let (closure, read) = remote_closure(repo, backend, opts, &refs, &listed, stop)?;
    s.closure_reads = read.len() as u64;
    for (id, size) in objects {
        if !closure.contains(&id) {
            s.unreferenced.add(size);
        }
    }
    Ok(s)
}
