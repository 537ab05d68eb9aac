//! Reachability, once: the edges of an artifact (its embedded ArtifactRefs and a receipt's
//! `prev_root` link), the roots a ref gives (its typed target, or every type with its digest,
//! and the genesis an asset ref names), and one walker over a [`Source`] that a local object
//! database, a remote or a bundle implements. gc, CAR export and push use it.

use std::collections::HashSet;

use crate::artifact::{self, ArtifactType, ObjectId};
use crate::canon::{Digest, DigestRule, Encoding, Value};
use crate::odb::{RefName, ref_object_type};

/// Where a root points: one object, or every object with a digest (a ref of no known type).
#[derive(Clone, Debug)]
pub enum Root {
    /// One object.
    Id(ObjectId),
    /// Every stored object with this digest.
    Digest(Digest),
}

/// The roots ref `name` holding `value` gives: its target (typed by the ref namespace, else by
/// digest) and, under `refs/assets/<asset_id>/`, that asset's genesis.
pub fn ref_roots(name: &RefName, value: Digest, out: &mut Vec<Root>) {
    match ref_object_type(name).and_then(|t| ArtifactType::new(t).ok()) {
        Some(t) => out.push(Root::Id(ObjectId::new(t, value))),
        None => out.push(Root::Digest(value)),
    }
    let parts: Vec<&str> = name.as_str().split('/').collect();
    let asset = match parts.as_slice() {
        ["refs", "assets", id, ..] | ["refs", "remotes", _, "assets", id, ..] => Some(*id),
        _ => None,
    };
    if let (Some(id), Ok(t)) = (
        asset.and_then(|a| Digest::parse_loose(a).ok()),
        ArtifactType::new("smart-asset-genesis"),
    ) {
        out.push(Root::Id(ObjectId::new(t, id)));
    }
}

/// The receipt a receipt extends (None at sequence 0, whose parent is a genesis root, and for
/// anything that is not a receipt).
pub fn receipt_parent(id: &ObjectId, value: &Value) -> Option<ObjectId> {
    if !matches!(id.artifact_type.rule(), DigestRule::NextRoot(_))
        || value.get("sequence").and_then(Value::as_u64).unwrap_or(0) == 0
    {
        return None;
    }
    let prev = value
        .get("prev_root")
        .and_then(Value::as_str)
        .and_then(|p| Digest::parse_loose(p).ok())?;
    Some(ObjectId::new(id.artifact_type.clone(), prev))
}

/// The objects a stored JSON object links to: embedded ArtifactRefs and a receipt's parent.
pub fn links(id: &ObjectId, value: &Value) -> Vec<ObjectId> {
    let mut out: Vec<ObjectId> = artifact::embedded_refs(value)
        .iter()
        .filter_map(|r| r.id().ok())
        .collect();
    out.extend(receipt_parent(id, value));
    out
}

/// What the walker reads.
pub trait Source {
    /// The source's error.
    type Error;
    /// Whether the object is there.
    fn has(&self, id: &ObjectId) -> Result<bool, Self::Error>;
    /// A JSON object's value (None: there but not readable as JSON; it then has no edges).
    fn read_json(&self, id: &ObjectId) -> Result<Option<Value>, Self::Error>;
    /// The error for a required object that is absent.
    fn missing(&self, id: &ObjectId) -> Self::Error;
}

/// Which absent objects end the walk with [`Source::missing`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Require {
    /// None: absent objects are skipped (gc's marking, a remote's partial view).
    Nothing,
    /// The starts marked required and every receipt's parent (a chain must be whole), not
    /// embedded references (a dangling one is fsck's business).
    Chains,
    /// Every object reached (a CAR must be complete).
    Everything,
}

/// What visiting one node gave the walk.
pub enum Step<N> {
    /// The nodes it leads to (pushed, so the last is visited first).
    Next(Vec<N>),
    /// The end of the walk (a node budget spent, a required node absent).
    Stop,
}

/// The one walker: depth first over an explicit stack, the last pushed visited first; `visit`
/// gets each popped node and the nodes still waiting, and dedupes as it needs (by object id
/// here, by the wire format's (type, digest) strings in the artifact graph).
pub fn depth_first<N, E>(
    start: Vec<N>,
    mut visit: impl FnMut(N, &[N]) -> Result<Step<N>, E>,
) -> Result<(), E> {
    let mut stack = start;
    while let Some(node) = stack.pop() {
        match visit(node, &stack)? {
            Step::Next(next) => stack.extend(next),
            Step::Stop => break,
        }
    }
    Ok(())
}

/// Walks from `start` (each with whether it is required) depth-first over an explicit stack,
/// visiting each object once (`seen` carries over between calls) and never entering one
/// `stop` says is covered; returns the objects visited, in visit order.
pub fn walk<S: Source + ?Sized>(
    source: &S,
    start: Vec<(ObjectId, bool)>,
    require: Require,
    seen: &mut HashSet<ObjectId>,
    stop: &dyn Fn(&ObjectId) -> bool,
) -> Result<Vec<ObjectId>, S::Error> {
    let mut out = Vec::new();
    depth_first(start, |(id, required): (ObjectId, bool), _| {
        if stop(&id) || seen.contains(&id) {
            return Ok(Step::Next(Vec::new()));
        }
        if !source.has(&id)? {
            let fatal = match require {
                Require::Nothing => false,
                Require::Chains => required,
                Require::Everything => true,
            };
            if fatal {
                return Err(source.missing(&id));
            }
            return Ok(Step::Next(Vec::new()));
        }
        seen.insert(id.clone());
        out.push(id.clone());
        if id.artifact_type.rule().encoding() != Encoding::Json {
            return Ok(Step::Next(Vec::new()));
        }
        let Some(value) = source.read_json(&id)? else {
            return Ok(Step::Next(Vec::new()));
        };
        let parent = receipt_parent(&id, &value);
        Ok(Step::Next(
            links(&id, &value)
                .into_iter()
                .filter(|l| !seen.contains(l))
                .map(|l| {
                    let required = Some(&l) == parent.as_ref();
                    (l, required)
                })
                .collect(),
        ))
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Mem(HashMap<ObjectId, Value>);

    impl Source for Mem {
        type Error = String;
        fn has(&self, id: &ObjectId) -> Result<bool, String> {
            Ok(self.0.contains_key(id))
        }
        fn read_json(&self, id: &ObjectId) -> Result<Option<Value>, String> {
            Ok(self.0.get(id).cloned())
        }
        fn missing(&self, id: &ObjectId) -> String {
            format!("missing {id}")
        }
    }

    fn id(t: &str, b: u8) -> ObjectId {
        ObjectId::new(ArtifactType::new(t).unwrap(), Digest([b; 32]))
    }

    fn aref(i: &ObjectId) -> Value {
        serde_json::json!({"artifact_type": i.artifact_type.to_string(), "digest_sha256": i.digest.to_hex()})
    }

    /// Three receipts (2 -> 1 -> 0), receipt 2 embedding a schema that embeds an absent one.
    fn store() -> (Mem, Vec<ObjectId>, ObjectId, ObjectId) {
        let r: Vec<ObjectId> = (0..3).map(|i| id("smart-asset-receipt", i)).collect();
        let (schema, absent) = (id("schema", 9), id("schema", 8));
        let mut m = HashMap::new();
        for i in 0..3u8 {
            let mut v = serde_json::json!({"sequence": i, "prev_root": Digest([i.wrapping_sub(1); 32]).to_hex()});
            if i == 2 {
                v["see"] = aref(&schema);
            }
            m.insert(r[i as usize].clone(), v);
        }
        m.insert(schema.clone(), serde_json::json!({"see": aref(&absent)}));
        (Mem(m), r, schema, absent)
    }

    #[test]
    fn walks_links_and_parents_once_and_stops_where_told() {
        let (m, r, schema, _) = store();
        let mut seen = HashSet::new();
        let out = walk(
            &m,
            vec![(r[2].clone(), true)],
            Require::Chains,
            &mut seen,
            &|_| false,
        )
        .unwrap();
        assert_eq!(out.len(), 4);
        assert_eq!(out[0], r[2]);
        assert!(out.contains(&schema) && out.contains(&r[0]));
        // A second walk from a visited object visits nothing.
        let again = walk(
            &m,
            vec![(r[1].clone(), true)],
            Require::Chains,
            &mut seen,
            &|_| false,
        )
        .unwrap();
        assert!(again.is_empty());
        // Stopped at receipt 1: receipt 0 is covered by it.
        let stop = r[1].clone();
        let out = walk(
            &m,
            vec![(r[2].clone(), true)],
            Require::Chains,
            &mut HashSet::new(),
            &|i| *i == stop,
        )
        .unwrap();
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn absent_objects_fail_only_when_required() {
        let (mut m, r, _, absent) = store();
        let walk_from = |m: &Mem, require| {
            walk(
                m,
                vec![(r[2].clone(), true)],
                require,
                &mut HashSet::new(),
                &|_| false,
            )
        };
        // The absent embedded schema: skipped unless everything is required.
        assert!(walk_from(&m, Require::Chains).is_ok());
        assert_eq!(
            walk_from(&m, Require::Everything).unwrap_err(),
            format!("missing {absent}")
        );
        // A receipt's absent parent breaks a chain.
        m.0.remove(&r[0]);
        assert_eq!(
            walk_from(&m, Require::Chains).unwrap_err(),
            format!("missing {}", r[0])
        );
        assert!(walk_from(&m, Require::Nothing).is_ok());
    }

    #[test]
    fn asset_refs_root_their_genesis_and_untyped_refs_every_type() {
        let d: Digest = "cd".repeat(32).parse().unwrap();
        let mut out = Vec::new();
        let name = RefName::new(&format!(
            "refs/remotes/o/assets/{}/main/head",
            "ef".repeat(32)
        ))
        .unwrap();
        ref_roots(&name, d, &mut out);
        let shown: Vec<String> = out
            .iter()
            .map(|r| match r {
                Root::Id(id) => id.to_string(),
                Root::Digest(d) => format!("*:{d}"),
            })
            .collect();
        assert_eq!(
            shown,
            [
                format!("smart-asset-receipt:{d}"),
                format!("smart-asset-genesis:{}", "ef".repeat(32)),
            ]
        );
        let mut out = Vec::new();
        ref_roots(&RefName::new("refs/heads/main").unwrap(), d, &mut out);
        assert!(matches!(out.as_slice(), [Root::Digest(x)] if *x == d));
    }
}
