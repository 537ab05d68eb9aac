//! Reachability, once: the edges of an artifact (its embedded ArtifactRefs and a receipt's
//! `prev_root` link), the roots a ref gives (its typed target, or every type with its digest,
//! and the genesis an asset ref names), and one walker over a [`Source`] that a local object
//! database, a remote or a bundle implements, driven depth first ([`walk`]: gc, CAR export,
//! push) or a level at a time ([`levels`]: fetch, which reads each level of the remote in
//! parallel).

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

/// What the walker found at an object.
#[derive(Clone, Debug)]
pub enum Found {
    /// Not there.
    Absent,
    /// There, with no edges: a raw object, or JSON the source cannot read.
    Leaf,
    /// A JSON object's value (its edges are [`links`]).
    Json(Value),
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
    /// One object as the walker needs it: absent, a leaf, or a JSON value.
    fn find(&self, id: &ObjectId) -> Result<Found, Self::Error> {
        if !self.has(id)? {
            return Ok(Found::Absent);
        }
        if id.artifact_type.rule().encoding() != Encoding::Json {
            return Ok(Found::Leaf);
        }
        Ok(match self.read_json(id)? {
            Some(v) => Found::Json(v),
            None => Found::Leaf,
        })
    }
    /// A whole level of a [`levels`] walk, in the order of `ids` (each id once): a remote
    /// reads the level in parallel, one request per object it must fetch; by default one
    /// [`Source::find`] after the other.
    fn find_level(&self, ids: &[ObjectId]) -> Result<Vec<Found>, Self::Error> {
        ids.iter().map(|id| self.find(id)).collect()
    }
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

/// The one stack discipline: depth first over an explicit stack, the last pushed visited
/// first; `visit` gets each popped node and the nodes still waiting, and dedupes as it needs
/// (by object id in [`walk`], by the wire format's (type, digest) strings in the artifact
/// graph).
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

/// The closure walker's rules, whatever the order it is driven in ([`walk`] one object at a
/// time, [`levels`] a level at a time): each object once (`seen` carries over between
/// walks), never one `stop` says is covered, an absent one fatal as `require` says, edges
/// from [`links`] with a receipt's parent required.
struct Walker<'w> {
    require: Require,
    seen: &'w mut HashSet<ObjectId>,
    stop: &'w dyn Fn(&ObjectId) -> bool,
    /// The objects visited, in visit order.
    out: Vec<ObjectId>,
}

impl Walker<'_> {
    /// Whether `id` is still to be visited.
    fn wants(&self, id: &ObjectId) -> bool {
        !(self.seen.contains(id) || (self.stop)(id))
    }

    /// Visits `id` as `found`; returns where it leads (with whether each is required).
    fn visit<S: Source + ?Sized>(
        &mut self,
        source: &S,
        id: ObjectId,
        required: bool,
        found: Found,
    ) -> Result<Vec<(ObjectId, bool)>, S::Error> {
        let value = match found {
            Found::Absent => {
                let fatal = match self.require {
                    Require::Nothing => false,
                    Require::Chains => required,
                    Require::Everything => true,
                };
                return if fatal {
                    Err(source.missing(&id))
                } else {
                    Ok(Vec::new())
                };
            }
            Found::Leaf => None,
            Found::Json(v) => Some(v),
        };
        self.seen.insert(id.clone());
        self.out.push(id.clone());
        let Some(value) = value else {
            return Ok(Vec::new());
        };
        let parent = receipt_parent(&id, &value);
        Ok(links(&id, &value)
            .into_iter()
            .filter(|l| !self.seen.contains(l))
            .map(|l| {
                let required = Some(&l) == parent.as_ref();
                (l, required)
            })
            .collect())
    }
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
    let mut w = Walker {
        require,
        seen,
        stop,
        out: Vec::new(),
    };
    depth_first(start, |(id, required): (ObjectId, bool), _| {
        if !w.wants(&id) {
            return Ok(Step::Next(Vec::new()));
        }
        let found = source.find(&id)?;
        w.visit(source, id, required, found).map(Step::Next)
    })?;
    Ok(w.out)
}

/// The same walk as [`walk`], breadth first: every object of a level is found with one
/// [`Source::find_level`] call (so a remote fetches a level in parallel), then their edges
/// make the next level. Returns the objects visited, level by level.
pub fn levels<S: Source + ?Sized>(
    source: &S,
    start: Vec<(ObjectId, bool)>,
    require: Require,
    seen: &mut HashSet<ObjectId>,
    stop: &dyn Fn(&ObjectId) -> bool,
) -> Result<Vec<ObjectId>, S::Error> {
    let mut w = Walker {
        require,
        seen,
        stop,
        out: Vec::new(),
    };
    let mut level = start;
    while !level.is_empty() {
        // Each object once per level, required if any edge to it is.
        let mut ids: Vec<ObjectId> = Vec::new();
        let mut required: Vec<bool> = Vec::new();
        let mut at: std::collections::HashMap<ObjectId, usize> = Default::default();
        for (id, req) in level.drain(..) {
            if !w.wants(&id) {
                continue;
            }
            match at.get(&id) {
                Some(&i) => required[i] |= req,
                None => {
                    at.insert(id.clone(), ids.len());
                    ids.push(id);
                    required.push(req);
                }
            }
        }
        if ids.is_empty() {
            break;
        }
        let found = source.find_level(&ids)?;
        debug_assert_eq!(found.len(), ids.len(), "one finding per id");
        for ((id, req), f) in ids.into_iter().zip(required).zip(found) {
            level.extend(w.visit(source, id, req, f)?);
        }
    }
    Ok(w.out)
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

    /// A source that records each level it is asked for.
    struct Levels<'m>(&'m Mem, std::cell::RefCell<Vec<Vec<ObjectId>>>);

    impl Source for Levels<'_> {
        type Error = String;
        fn has(&self, id: &ObjectId) -> Result<bool, String> {
            self.0.has(id)
        }
        fn read_json(&self, id: &ObjectId) -> Result<Option<Value>, String> {
            self.0.read_json(id)
        }
        fn missing(&self, id: &ObjectId) -> String {
            self.0.missing(id)
        }
        fn find_level(&self, ids: &[ObjectId]) -> Result<Vec<Found>, String> {
            self.1.borrow_mut().push(ids.to_vec());
            ids.iter().map(|id| self.find(id)).collect()
        }
    }

    fn both(
        m: &Mem,
        start: &[ObjectId],
        require: Require,
    ) -> (Result<Vec<ObjectId>, String>, Result<Vec<ObjectId>, String>) {
        let start: Vec<(ObjectId, bool)> = start.iter().map(|i| (i.clone(), true)).collect();
        let none = |_: &ObjectId| false;
        (
            walk(m, start.clone(), require, &mut HashSet::new(), &none),
            levels(m, start, require, &mut HashSet::new(), &none),
        )
    }

    #[test]
    fn a_cycle_is_walked_once_in_either_order() {
        let (a, b) = (id("schema", 1), id("schema", 2));
        let m = Mem(HashMap::from([
            (a.clone(), serde_json::json!({"see": aref(&b)})),
            (b.clone(), serde_json::json!({"see": aref(&a)})),
        ]));
        let (deep, wide) = both(&m, std::slice::from_ref(&a), Require::Everything);
        assert_eq!(deep.unwrap(), [a.clone(), b.clone()]);
        assert_eq!(wide.unwrap(), [a, b]);
    }

    #[test]
    fn a_shared_subtree_is_visited_once_and_read_in_one_level() {
        // Two roots embed one schema, which embeds a leaf (a raw blob).
        let (r1, r2, shared) = (id("schema", 1), id("schema", 2), id("schema", 3));
        let leaf = id("blob", 4);
        let m = Mem(HashMap::from([
            (r1.clone(), serde_json::json!({"see": aref(&shared)})),
            (
                r2.clone(),
                serde_json::json!({"a": aref(&shared), "b": aref(&shared)}),
            ),
            (shared.clone(), serde_json::json!({"see": aref(&leaf)})),
            (leaf.clone(), Value::Null),
        ]));
        let (deep, wide) = both(&m, &[r1.clone(), r2.clone()], Require::Everything);
        for out in [deep.unwrap(), wide.unwrap()] {
            assert_eq!(out.len(), 4, "{out:?}");
            assert_eq!(out.iter().filter(|i| **i == shared).count(), 1);
        }
        let src = Levels(&m, Default::default());
        let none = |_: &ObjectId| false;
        let start = vec![(r1.clone(), true), (r2.clone(), true)];
        let out = levels(&src, start, Require::Nothing, &mut HashSet::new(), &none).unwrap();
        assert_eq!(out, [r1.clone(), r2.clone(), shared.clone(), leaf.clone()]);
        // One read per level, the shared node in exactly one of them, asked for once.
        assert_eq!(src.1.into_inner(), [vec![r1, r2], vec![shared], vec![leaf]]);
    }

    #[test]
    fn a_missing_object_is_reported_by_the_level_walk_as_required() {
        let (mut m, r, schema, absent) = store();
        let (_, wide) = both(&m, std::slice::from_ref(&r[2]), Require::Everything);
        assert_eq!(wide.unwrap_err(), format!("missing {absent}"));
        let (_, wide) = both(&m, std::slice::from_ref(&r[2]), Require::Chains);
        let out = wide.unwrap();
        assert!(out.contains(&schema) && out.contains(&r[0]) && !out.contains(&absent));
        m.0.remove(&r[0]);
        let (_, wide) = both(&m, std::slice::from_ref(&r[2]), Require::Chains);
        assert_eq!(wide.unwrap_err(), format!("missing {}", r[0]));
        let (_, wide) = both(&m, std::slice::from_ref(&r[2]), Require::Nothing);
        assert_eq!(wide.unwrap().len(), 3);
        // `seen` carries over and `stop` covers, as in the depth-first walk.
        let mut seen = HashSet::new();
        let stop = r[1].clone();
        let start = vec![(r[2].clone(), true)];
        let out = levels(&m, start.clone(), Require::Nothing, &mut seen, &|i| {
            *i == stop
        });
        assert_eq!(out.unwrap(), [r[2].clone(), schema]);
        let again = levels(&m, start, Require::Nothing, &mut seen, &|_| false).unwrap();
        assert!(again.is_empty());
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
