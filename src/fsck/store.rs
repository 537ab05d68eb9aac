//! What fsck reads, over one trait for the repository here and a remote (`remote::fsck`, its
//! remote form), the checks both forms run over it (a ref's target, a chain's links), and
//! fsck's error: what ends a run undecided. Damage is never an error here: it is a
//! [`Finding`], and a run reports every one it finds.

use std::collections::{BTreeMap, HashSet};

use crate::artifact::{ArtifactType, ObjectId};
use crate::canon::Digest;
use crate::odb::{self, RefName, Repo, ref_object_type};
use crate::taxonomy::{Class, Classify, Detail, Finding};

/// A run that could not decide: the store could not be read at all (the repository's layout,
/// a remote we cannot talk to). Its class and code are the failure's own.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The repository here.
    #[error(transparent)]
    Odb(#[from] odb::Error),
    /// The store's own failure (a remote's), kept whole.
    #[error(transparent)]
    Store(StoreFailure),
}

/// A store's own failure with its class, code and causes (fsck sits below the remotes, so it
/// holds their error boxed, as gc does; gc sits above fsck, so the bound is spelled out here).
#[derive(Debug)]
pub struct StoreFailure(pub Box<dyn Classify + Send + Sync + 'static>);

impl std::fmt::Display for StoreFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for StoreFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl Error {
    /// A store's own failure.
    pub fn store(e: impl Classify + Send + Sync + 'static) -> Error {
        Error::Store(StoreFailure(Box::new(e)))
    }
}

impl Classify for Error {
    fn class(&self) -> Class {
        match self {
            Error::Odb(e) => e.class(),
            Error::Store(e) => e.0.class(),
        }
    }
    fn code(&self) -> &'static str {
        match self {
            Error::Odb(e) => e.code(),
            Error::Store(e) => e.0.code(),
        }
    }
    fn detail(&self) -> Detail {
        match self {
            Error::Odb(e) => e.detail(),
            Error::Store(e) => e.0.detail(),
        }
    }
}

/// A receipt as the chain walk needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link {
    /// Its sequence (`u64::MAX` when it has none: the walk then reports a broken link).
    pub sequence: u64,
    /// The receipt it extends (None: no readable `prev_root`).
    pub prev_root: Option<Digest>,
}

/// What fsck reads from a store.
pub trait Store {
    /// The prefix of the store's messages: `""` here, `"remote "` for a remote.
    fn label(&self) -> &'static str;
    /// Whether the object is stored.
    fn has(&self, id: &ObjectId) -> Result<bool, Error>;
    /// Whether an object of any type with `digest` is stored (a ref of no known type).
    fn has_digest(&self, digest: &Digest) -> Result<bool, Error>;
    /// A stored receipt's link; None when it is absent, or present but unreadable as a
    /// receipt (its own check says why).
    fn link(&self, id: &ObjectId) -> Result<Option<Link>, Error>;
}

impl Store for Repo {
    fn label(&self) -> &'static str {
        ""
    }
    fn has(&self, id: &ObjectId) -> Result<bool, Error> {
        Ok(Repo::has(self, id))
    }
    fn has_digest(&self, digest: &Digest) -> Result<bool, Error> {
        Ok(self.find_digest(*digest)?.is_some())
    }
    fn link(&self, id: &ObjectId) -> Result<Option<Link>, Error> {
        if !Repo::has(self, id) {
            return Ok(None);
        }
        Ok(self.read_json(id).ok().map(|v| link_of(&v)))
    }
}

/// The link a receipt's value gives.
pub fn link_of(value: &crate::canon::Value) -> Link {
    use crate::canon::Value;
    Link {
        sequence: value
            .get("sequence")
            .and_then(Value::as_u64)
            .unwrap_or(u64::MAX),
        prev_root: value
            .get("prev_root")
            .and_then(Value::as_str)
            .and_then(|p| Digest::parse_loose(p).ok()),
    }
}

/// Whether the object a ref names is stored (any type when the namespace does not say).
pub fn ref_target_exists<S: Store + ?Sized>(
    store: &S,
    name: &RefName,
    digest: &Digest,
) -> Result<bool, Error> {
    match ref_object_type(name) {
        Some(t) => match ArtifactType::new(t) {
            Ok(t) => store.has(&ObjectId::new(t, *digest)),
            Err(_) => Ok(false),
        },
        None => store.has_digest(digest),
    }
}

/// Walks one chain from its head ref `name` (holding `head`, a receipt of `rtype`) through the
/// receipts the store holds: each links to one at the sequence below, down to 0, and, given
/// `genesis_root`, receipt 0 to it. Receipts in `done` (walked from another ref of the chain:
/// a fork shares its base) end the walk. Findings go into `findings`, keyed by message (so two
/// refs reporting one break report it once); returns the receipts linked.
pub fn walk_chain<S: Store + ?Sized>(
    store: &S,
    name: &RefName,
    head: ObjectId,
    genesis_root: Option<Digest>,
    done: &mut HashSet<ObjectId>,
    findings: &mut BTreeMap<String, Finding>,
) -> Result<u64, Error> {
    let label = store.label();
    let mut add = |class, code, message: String, detail| {
        findings.insert(
            message.clone(),
            Finding {
                class,
                code,
                message,
                detail,
            },
        );
    };
    let mut linked = 0;
    let mut cur = head;
    let mut expected: Option<u64> = None;
    let mut child: Option<ObjectId> = None;
    while !done.contains(&cur) {
        let Some(link) = store.link(&cur)? else {
            // Stored but unreadable as a receipt: its own finding says why.
            if !store.has(&cur)? {
                let message = match &child {
                    Some(c) => format!(
                        "{label}chain of {name}: {c} (sequence {}) links to {cur}, which the {} lacks",
                        expected.map(|e| e + 1).unwrap_or(0),
                        lacks(label)
                    ),
                    None => format!(
                        "{label}ref {name} names {cur}, which the {} lacks",
                        lacks(label)
                    ),
                };
                let detail =
                    Detail::object(cur.to_string()).mismatch("a stored receipt", "nothing");
                add(Class::Missing, "missing.receipt", message, detail);
            }
            break;
        };
        if expected.is_some_and(|e| e != link.sequence) {
            let message = format!(
                "{label}chain of {name}: {cur} is at sequence {} where {} was expected",
                link.sequence,
                expected.unwrap_or(0)
            );
            let detail =
                Detail::object(cur.to_string()).mismatch(expected.unwrap_or(0), link.sequence);
            add(Class::Digest, "digest.chain_link", message, detail);
            break;
        }
        done.insert(cur.clone());
        linked += 1;
        if link.sequence == 0 {
            if let Some(root) = genesis_root.filter(|r| link.prev_root != Some(*r)) {
                let message = format!(
                    "{label}chain of {name}: receipt 0 ({cur}) does not link to the genesis root {root}"
                );
                let found = link.prev_root.map(|d| d.to_hex()).unwrap_or_default();
                let detail = Detail::object(cur.to_string()).mismatch(root, found);
                add(Class::Missing, "missing.chain_start", message, detail);
            }
            break;
        }
        let Some(prev) = link.prev_root else {
            break; // a receipt without prev_root fails its own digest check
        };
        expected = Some(link.sequence - 1);
        let next = ObjectId::new(cur.artifact_type.clone(), prev);
        child = Some(std::mem::replace(&mut cur, next));
    }
    Ok(linked)
}

/// What a store that lacks an object is called in a message.
fn lacks(label: &str) -> &'static str {
    if label.is_empty() {
        "repository"
    } else {
        "remote"
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// A store in memory: ids and the links of the receipts among them.
    struct Mem(HashMap<ObjectId, Option<Link>>);

    impl Store for Mem {
        fn label(&self) -> &'static str {
            "mem "
        }
        fn has(&self, id: &ObjectId) -> Result<bool, Error> {
            Ok(self.0.contains_key(id))
        }
        fn has_digest(&self, digest: &Digest) -> Result<bool, Error> {
            Ok(self.0.keys().any(|id| id.digest == *digest))
        }
        fn link(&self, id: &ObjectId) -> Result<Option<Link>, Error> {
            Ok(self.0.get(id).copied().flatten())
        }
    }

    fn receipt(b: u8) -> ObjectId {
        ObjectId::new(
            ArtifactType::new("smart-asset-receipt").unwrap(),
            Digest([b; 32]),
        )
    }

    /// Receipts 1..=n at sequences 0..n, each linking to the one before (receipt 1 to `genesis`).
    fn chain(n: u8, genesis: Digest) -> Mem {
        Mem((1..=n)
            .map(|b| {
                let prev = if b == 1 { genesis } else { Digest([b - 1; 32]) };
                let link = Link {
                    sequence: u64::from(b - 1),
                    prev_root: Some(prev),
                };
                (receipt(b), Some(link))
            })
            .collect())
    }

    fn walk(m: &Mem, head: u8, genesis: Digest) -> (u64, Vec<Finding>) {
        let name = RefName::new("refs/assets/x/core/head").unwrap();
        let mut findings = BTreeMap::new();
        let n = walk_chain(
            m,
            &name,
            receipt(head),
            Some(genesis),
            &mut HashSet::new(),
            &mut findings,
        )
        .unwrap();
        (n, findings.into_values().collect())
    }

    #[test]
    fn a_whole_chain_links_down_to_its_genesis() {
        let g = Digest([0xee; 32]);
        assert_eq!(walk(&chain(4, g), 4, g), (4, vec![]));
        // Receipt 0 linking elsewhere than the genesis root.
        let (n, f) = walk(&chain(4, Digest([0xdd; 32])), 4, g);
        assert_eq!(n, 4);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].code, "missing.chain_start");
    }

    #[test]
    fn a_missing_parent_and_a_sequence_gap_are_findings_not_errors() {
        let g = Digest([0xee; 32]);
        let mut m = chain(4, g);
        m.0.remove(&receipt(2));
        let (n, f) = walk(&m, 4, g);
        assert_eq!(n, 2);
        assert_eq!(f[0].code, "missing.receipt");
        assert_eq!(f[0].detail.object, Some(receipt(2).to_string()));
        assert!(f[0].message.starts_with("mem chain of"), "{}", f[0].message);
        // Present but unreadable as a receipt: its own check reports it, not the walk.
        m.0.insert(receipt(2), None);
        assert_eq!(walk(&m, 4, g), (2, vec![]));
        let mut m = chain(4, g);
        m.0.insert(
            receipt(3),
            Some(Link {
                sequence: 7,
                prev_root: Some(Digest([2; 32])),
            }),
        );
        let (_, f) = walk(&m, 4, g);
        assert_eq!(f[0].code, "digest.chain_link");
        assert_eq!(f[0].class, Class::Digest);
    }

    #[test]
    fn a_fork_walks_its_shared_base_once() {
        let g = Digest([0xee; 32]);
        let mut m = chain(3, g);
        // A second receipt at sequence 2 on receipt 2.
        m.0.insert(
            receipt(9),
            Some(Link {
                sequence: 2,
                prev_root: Some(Digest([2; 32])),
            }),
        );
        let name = RefName::new("refs/assets/x/core/head").unwrap();
        let (mut done, mut findings) = (HashSet::new(), BTreeMap::new());
        let a = walk_chain(&m, &name, receipt(3), Some(g), &mut done, &mut findings).unwrap();
        let b = walk_chain(&m, &name, receipt(9), Some(g), &mut done, &mut findings).unwrap();
        assert_eq!((a, b), (3, 1));
        assert!(findings.is_empty());
    }

    #[test]
    fn ref_targets_by_type_or_by_digest_over_the_repository_too() {
        let m = chain(2, Digest([0xee; 32]));
        let typed = RefName::new("refs/assets/x/core/head").unwrap();
        let untyped = RefName::new("refs/heads/main").unwrap();
        assert!(ref_target_exists(&m, &typed, &Digest([1; 32])).unwrap());
        assert!(!ref_target_exists(&m, &typed, &Digest([5; 32])).unwrap());
        assert!(ref_target_exists(&m, &untyped, &Digest([2; 32])).unwrap());
        // The repository is a store: a JSON object is found by type and by digest, and a
        // receipt's link is read from it.
        let t = tempfile::tempdir().unwrap();
        let repo = Repo::init(t.path(), &[]).unwrap();
        let v = crate::canon::parse(br#"{"n":1}"#).unwrap();
        let put = repo
            .put_json(&ArtifactType::new("schema").unwrap(), &v)
            .unwrap();
        assert!(Store::has(&repo, &put.id).unwrap());
        assert!(ref_target_exists(&repo, &untyped, &put.id.digest).unwrap());
        assert!(!ref_target_exists(&repo, &untyped, &Digest([3; 32])).unwrap());
        assert_eq!(repo.link(&receipt(1)).unwrap(), None);
        let name = RefName::new("refs/heads/x").unwrap();
        let mut findings = BTreeMap::new();
        walk_chain(
            &repo,
            &name,
            receipt(1),
            None,
            &mut HashSet::new(),
            &mut findings,
        )
        .unwrap();
        let f: Vec<Finding> = findings.into_values().collect();
        assert_eq!(f[0].code, "missing.receipt");
        assert!(
            f[0].message.contains("which the repository lacks"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn an_undecided_run_keeps_the_store_failures_class_and_code() {
        let inner = odb::Error::BadRefValue {
            name: "refs/x".into(),
            found: "zz".into(),
        };
        let (class, code) = (inner.class(), inner.code());
        let e = Error::store(inner);
        assert_eq!((e.class(), e.code()), (class, code));
        let f = Finding::from_error(&e);
        assert_eq!(f.code, code);
        let local: Error = odb::Error::BadRefValue {
            name: "refs/x".into(),
            found: "zz".into(),
        }
        .into();
        assert_eq!(local.code(), code);
    }
}
