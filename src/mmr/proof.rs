//! The MSEZ inclusion-proof object (wire format §5): build it from a store, parse it strictly,
//! verify it in the reference's check order.

use serde::{Deserialize, Serialize};

use super::hash::{leaf_hash, node_hash, parse_hash};
use super::peaks::{Peak, bag, peak_of_leaf, peak_plan};
use super::store::MemStore;
use super::{Error, Hash, NodeId, NodeReader};

/// Where the sibling sits relative to the running hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The sibling is on the left: `cur = node(sibling, cur)`.
    Left,
    /// The sibling is on the right: `cur = node(cur, sibling)`.
    Right,
}

/// One step of the leaf-to-peak path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathStep {
    /// Where the sibling sits.
    pub side: Side,
    /// The sibling's hash.
    pub hash: Hash,
}

/// The MSEZ inclusion proof of one receipt next_root in the MMR of a chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionProof {
    /// Number of leaves in the tree.
    pub size: u64,
    /// The bagged root of the tree.
    pub root: Hash,
    /// Position of the receipt in the chain.
    pub leaf_index: u64,
    /// The accumulated value.
    pub receipt_next_root: Hash,
    /// `SHA256(0x00 || receipt_next_root)`.
    pub leaf_hash: Hash,
    /// Which peak holds the leaf.
    pub peak_index: u64,
    /// That peak's height, which is also the path length.
    pub peak_height: u32,
    /// Siblings from the leaf up to its peak.
    pub path: Vec<PathStep>,
    /// Every peak of the tree, left to right.
    pub peaks: Vec<Peak>,
    /// The peak recomputed from the leaf and the path (optional in asset proofs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub computed_peak_root: Option<Hash>,
}

/// The root of a chain's MMR with its peaks (`mmr_root_from_next_roots`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MmrRoot {
    /// Number of leaves.
    pub size: u64,
    /// The bagged root (`SHA256("")` for the RFC 6962 empty tree).
    pub root: Hash,
    /// The peaks, left to right.
    pub peaks: Vec<Peak>,
}

impl MmrRoot {
    /// Reads the root and peaks of the first `size` leaves of a store.
    pub fn read<R: NodeReader + ?Sized>(reader: &R, size: u64) -> Result<Self, Error> {
        let peaks = read_peaks(reader, size)?;
        let root = super::store::root(reader, size)?;
        Ok(MmrRoot { size, root, peaks })
    }
}

/// The MSEZ root and peaks over receipt next_roots; an empty list is refused, as in MSEZ.
pub fn mmr_root_from_next_roots(next_roots: &[Hash]) -> Result<MmrRoot, Error> {
    if next_roots.is_empty() {
        return Err(Error::EmptyTree);
    }
    let store = MemStore::from_next_roots(next_roots);
    MmrRoot::read(&store, store.size())
}

/// The MSEZ inclusion proof of `next_roots[leaf_index]`.
pub fn build_inclusion_proof(
    next_roots: &[Hash],
    leaf_index: u64,
) -> Result<InclusionProof, Error> {
    let store = MemStore::from_next_roots(next_roots);
    let next_root = usize::try_from(leaf_index)
        .ok()
        .and_then(|i| next_roots.get(i))
        .ok_or(Error::IndexOutOfRange {
            index: leaf_index,
            size: store.size(),
        })?;
    prove(&store, store.size(), leaf_index, next_root)
}

fn read_peaks<R: NodeReader + ?Sized>(reader: &R, size: u64) -> Result<Vec<Peak>, Error> {
    peak_plan(size)
        .into_iter()
        .map(|node| {
            Ok(Peak {
                height: node.level,
                hash: reader.node(node)?,
            })
        })
        .collect()
}

/// Builds the inclusion proof of leaf `leaf_index` (whose value is `next_root`) in the first
/// `size` leaves of a store; reads O(log size) nodes.
pub fn prove<R: NodeReader + ?Sized>(
    reader: &R,
    size: u64,
    leaf_index: u64,
    next_root: &Hash,
) -> Result<InclusionProof, Error> {
    let (peak_index, peak) = peak_of_leaf(leaf_index, size)?;
    let leaf = leaf_hash(next_root);
    let stored = reader.node(NodeId::leaf(leaf_index))?;
    if stored != leaf {
        return Err(Error::LeafMismatch {
            index: leaf_index,
            expected: stored,
            found: leaf,
        });
    }
    let mut path = Vec::with_capacity(peak.level as usize);
    let mut node = NodeId::leaf(leaf_index);
    for _ in 0..peak.level {
        let side = if node.is_right_child() {
            Side::Left
        } else {
            Side::Right
        };
        path.push(PathStep {
            side,
            hash: reader.node(node.sibling())?,
        });
        node = node.parent();
    }
    let peaks = read_peaks(reader, size)?;
    let computed = peaks
        .get(peak_index)
        .map(|p| p.hash)
        .ok_or(Error::MissingNode { node: peak })?;
    let root = bag(peaks.iter().map(|p| &p.hash)).ok_or(Error::EmptyTree)?;
    Ok(InclusionProof {
        size,
        root,
        leaf_index,
        receipt_next_root: *next_root,
        leaf_hash: leaf,
        peak_index: peak_index as u64,
        peak_height: peak.level,
        path,
        peaks,
        computed_peak_root: Some(computed),
    })
}

impl InclusionProof {
    /// Parses a proof object strictly: every field present with its exact JSON type, hashes as
    /// 64 hex characters, sides exactly `left`/`right`. Unknown fields are ignored; `size` and
    /// `root` may sit in an `mmr` object instead, as in corridor and asset proofs (§6.5).
    pub fn from_value(value: &serde_json::Value) -> Result<Self, Error> {
        let obj = value
            .as_object()
            .ok_or_else(|| malformed("", "must be a JSON object"))?;
        let mmr = obj.get("mmr").and_then(|m| m.as_object());
        let top_or_mmr =
            |name: &'static str| obj.get(name).or_else(|| mmr.and_then(|m| m.get(name)));
        let field = |name: &'static str| obj.get(name).ok_or_else(|| malformed(name, "is missing"));
        let size = uint(
            top_or_mmr("size").ok_or_else(|| malformed("size", "is missing"))?,
            "size",
        )?;
        let root = hash(
            top_or_mmr("root").ok_or_else(|| malformed("root", "is missing"))?,
            "root",
        )?;
        let leaf_index = uint(field("leaf_index")?, "leaf_index")?;
        let receipt_next_root = hash(field("receipt_next_root")?, "receipt_next_root")?;
        let leaf_hash = hash(field("leaf_hash")?, "leaf_hash")?;
        let peak_index = uint(field("peak_index")?, "peak_index")?;
        let peak_height = height(field("peak_height")?, "peak_height")?;
        let path = array(field("path")?, "path")?
            .iter()
            .enumerate()
            .map(|(i, step)| {
                let step = step
                    .as_object()
                    .ok_or_else(|| malformed(format!("path[{i}]"), "must be an object"))?;
                let side = match step.get("side").and_then(|s| s.as_str()) {
                    Some("left") => Side::Left,
                    Some("right") => Side::Right,
                    _ => {
                        return Err(malformed(
                            format!("path[{i}].side"),
                            "must be \"left\" or \"right\"",
                        ));
                    }
                };
                let h = step
                    .get("hash")
                    .ok_or_else(|| malformed(format!("path[{i}].hash"), "is missing"))?;
                Ok(PathStep {
                    side,
                    hash: hash(h, &format!("path[{i}].hash"))?,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let peaks = array(field("peaks")?, "peaks")?
            .iter()
            .enumerate()
            .map(|(i, peak)| {
                let peak = peak
                    .as_object()
                    .ok_or_else(|| malformed(format!("peaks[{i}]"), "must be an object"))?;
                let h = peak
                    .get("height")
                    .ok_or_else(|| malformed(format!("peaks[{i}].height"), "is missing"))?;
                let x = peak
                    .get("hash")
                    .ok_or_else(|| malformed(format!("peaks[{i}].hash"), "is missing"))?;
                Ok(Peak {
                    height: height(h, &format!("peaks[{i}].height"))?,
                    hash: hash(x, &format!("peaks[{i}].hash"))?,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let computed_peak_root = match obj.get("computed_peak_root") {
            None | Some(serde_json::Value::Null) => None,
            Some(v) => Some(hash(v, "computed_peak_root")?),
        };
        Ok(InclusionProof {
            size,
            root,
            leaf_index,
            receipt_next_root,
            leaf_hash,
            peak_index,
            peak_height,
            path,
            peaks,
            computed_peak_root,
        })
    }

    /// The peak recomputed from the leaf hash and the path (§5 step 5), after checks 1–5.
    pub fn peak_from_path(&self) -> Result<Hash, Error> {
        // 1. A non-empty tree that holds the leaf.
        if self.size == 0 {
            return Err(malformed("size", "must be at least 1"));
        }
        if self.leaf_index >= self.size {
            return Err(malformed(
                "leaf_index",
                format!("must be below size {}", self.size),
            ));
        }
        // 2. The leaf hash commits to the receipt's next_root.
        let leaf = leaf_hash(&self.receipt_next_root);
        if leaf != self.leaf_hash {
            return Err(Error::LeafMismatch {
                index: self.leaf_index,
                expected: leaf,
                found: self.leaf_hash,
            });
        }
        // 3. The peaks are the plan of `size` (stricter than the reference, which only checks
        //    the peak at `peak_index`; reference proofs always satisfy it).
        let plan = peak_plan(self.size);
        let expected: Vec<u32> = plan.iter().map(|n| n.level).collect();
        let found: Vec<u32> = self.peaks.iter().map(|p| p.height).collect();
        if expected != found {
            return Err(Error::PeakPlan {
                size: self.size,
                expected,
                found,
            });
        }
        // 4. The peak named is the one the plan gives for this leaf.
        let (want_index, want_peak) = peak_of_leaf(self.leaf_index, self.size)?;
        if self.peak_index != want_index as u64 || self.peak_height != want_peak.level {
            return Err(malformed(
                "peak_index",
                format!(
                    "leaf {} of {} lies in peak {} of height {}, not peak {} of height {}",
                    self.leaf_index,
                    self.size,
                    want_index,
                    want_peak.level,
                    self.peak_index,
                    self.peak_height
                ),
            ));
        }
        // 5. One sibling per level. Sides must match the leaf's position, which binds
        //    `leaf_index` inside its peak (the reference trusts the sides as given).
        if self.path.len() != self.peak_height as usize {
            return Err(Error::ProofLength {
                kind: "mmr path",
                expected: self.peak_height as usize,
                found: self.path.len(),
            });
        }
        let mut node = NodeId::leaf(self.leaf_index);
        let mut cur = leaf;
        for (i, step) in self.path.iter().enumerate() {
            let want = if node.is_right_child() {
                Side::Left
            } else {
                Side::Right
            };
            if step.side != want {
                return Err(malformed(
                    format!("path[{i}].side"),
                    format!("must be {want:?} for leaf {}", self.leaf_index),
                ));
            }
            cur = match step.side {
                Side::Left => node_hash(&step.hash, &cur),
                Side::Right => node_hash(&cur, &step.hash),
            };
            node = node.parent();
        }
        Ok(cur)
    }

    /// Verifies the proof: checks 1–6 of §5 in order, then that the proof's own copies of the
    /// peak (`peaks[peak_index]`, `computed_peak_root`) agree with the recomputed one; the first
    /// failure (see [`InclusionProof::check`] for all of them).
    pub fn verify(&self) -> Result<(), Error> {
        match self.check().0.into_iter().next() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Every check of [`InclusionProof::verify`] and the root the leaf, path and peaks lead to.
    /// Checks 1–5 depend on each other (a path that cannot be followed leads nowhere): their
    /// first failure is the only finding; once the peak is recomputed, the root and both copies
    /// of the peak are each compared.
    pub fn check(&self) -> (Vec<Error>, Option<Hash>) {
        let cur = match self.peak_from_path() {
            Ok(cur) => cur,
            Err(e) => return (vec![e], None),
        };
        // 6. Replace the leaf's peak with the recomputed one and bag.
        let idx = self.peak_index as usize;
        let hashes: Vec<Hash> = self
            .peaks
            .iter()
            .enumerate()
            .map(|(i, p)| if i == idx { cur } else { p.hash })
            .collect();
        let Some(found) = bag(hashes.iter()) else {
            return (vec![Error::EmptyTree], None);
        };
        let mut errors = Vec::new();
        if found != self.root {
            errors.push(Error::RootMismatch {
                size: self.size,
                expected: self.root,
                found,
            });
        }
        let listed = self.peaks.get(idx).map(|p| p.hash);
        for claimed in [listed, self.computed_peak_root].into_iter().flatten() {
            if claimed != cur {
                errors.push(Error::PeakMismatch {
                    peak_index: self.peak_index,
                    expected: cur,
                    found: claimed,
                });
            }
        }
        (errors, Some(found))
    }
}

/// Parses and verifies a proof object given as JSON.
pub fn verify_inclusion_proof(value: &serde_json::Value) -> Result<InclusionProof, Error> {
    let proof = InclusionProof::from_value(value)?;
    proof.verify()?;
    Ok(proof)
}

fn malformed(field: impl Into<String>, reason: impl Into<String>) -> Error {
    Error::MalformedProof {
        field: field.into(),
        reason: reason.into(),
    }
}

fn uint(v: &serde_json::Value, name: &str) -> Result<u64, Error> {
    // Only JSON integers: the reference's leniency for "3" or 3.0 is not copied (§13.2b).
    match v {
        serde_json::Value::Number(n) => n
            .as_u64()
            .ok_or_else(|| malformed(name, "must be a non-negative integer")),
        _ => Err(malformed(name, "must be a non-negative integer")),
    }
}

fn height(v: &serde_json::Value, name: &str) -> Result<u32, Error> {
    u32::try_from(uint(v, name)?)
        .ok()
        .filter(|h| *h < 64)
        .ok_or_else(|| malformed(name, "must be a height below 64"))
}

fn hash(v: &serde_json::Value, name: &str) -> Result<Hash, Error> {
    match v.as_str() {
        Some(s) => parse_hash(s, name),
        None => Err(malformed(name, "must be a 64-hex string")),
    }
}

fn array<'a>(v: &'a serde_json::Value, name: &str) -> Result<&'a Vec<serde_json::Value>, Error> {
    v.as_array()
        .ok_or_else(|| malformed(name, "must be an array"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canon::sha256;

    fn next_roots(n: u64) -> Vec<Hash> {
        (1..=n)
            .map(|i| sha256(format!("receipt-{i}").as_bytes()))
            .collect()
    }

    #[test]
    fn every_proof_of_seventeen_leaves_verifies() -> Result<(), Error> {
        let roots = next_roots(17);
        let want = mmr_root_from_next_roots(&roots)?;
        for i in 0..17 {
            let proof = build_inclusion_proof(&roots, i)?;
            assert_eq!(proof.root, want.root);
            proof.verify()?;
            let value = serde_json::to_value(&proof).map_err(|e| malformed("", e.to_string()))?;
            assert_eq!(verify_inclusion_proof(&value)?, proof);
        }
        Ok(())
    }

    #[test]
    fn a_tampered_path_in_a_nine_leaf_proof_fails_on_the_root() -> Result<(), Error> {
        let mut proof = build_inclusion_proof(&next_roots(9), 3)?;
        proof.path[0].hash.0[0] ^= 1;
        assert!(matches!(
            proof.verify(),
            Err(Error::RootMismatch { size: 9, .. })
        ));
        Ok(())
    }

    #[test]
    fn a_relabelled_leaf_index_is_refused() -> Result<(), Error> {
        let mut proof = build_inclusion_proof(&next_roots(8), 3)?;
        proof.leaf_index = 2;
        assert!(matches!(proof.verify(), Err(Error::MalformedProof { .. })));
        Ok(())
    }

    #[test]
    fn a_wrong_next_root_is_a_leaf_mismatch() -> Result<(), Error> {
        let mut proof = build_inclusion_proof(&next_roots(5), 4)?;
        proof.receipt_next_root = sha256(b"other");
        assert!(matches!(proof.verify(), Err(Error::LeafMismatch { .. })));
        Ok(())
    }

    #[test]
    fn a_string_number_or_an_upper_case_side_is_malformed() -> Result<(), Error> {
        let proof = build_inclusion_proof(&next_roots(5), 1)?;
        let good = serde_json::to_value(&proof).map_err(|e| malformed("", e.to_string()))?;
        let mut v = good.clone();
        v["size"] = serde_json::json!("5");
        assert!(matches!(
            verify_inclusion_proof(&v),
            Err(Error::MalformedProof { .. })
        ));
        let mut v = good.clone();
        v["path"][0]["side"] = serde_json::json!("LEFT");
        assert!(matches!(
            verify_inclusion_proof(&v),
            Err(Error::MalformedProof { .. })
        ));
        let mut v = good;
        v["peaks"][0] = serde_json::json!({"hash": proof.peaks[0].hash});
        assert!(matches!(
            verify_inclusion_proof(&v),
            Err(Error::MalformedProof { .. })
        ));
        assert!(verify_inclusion_proof(&serde_json::json!([1, 2])).is_err());
        Ok(())
    }

    #[test]
    fn size_and_root_may_come_from_the_mmr_object() -> Result<(), Error> {
        let proof = build_inclusion_proof(&next_roots(6), 5)?;
        let mut v = serde_json::to_value(&proof).map_err(|e| malformed("", e.to_string()))?;
        let obj = v.as_object_mut().ok_or_else(|| malformed("", "object"))?;
        obj.remove("size");
        obj.remove("root");
        obj.insert(
            "mmr".into(),
            serde_json::json!({"type": "MSEZReceiptMMR", "size": 6, "root": proof.root}),
        );
        verify_inclusion_proof(&v)?;
        Ok(())
    }

    #[test]
    fn an_empty_chain_has_no_msez_root() {
        assert!(matches!(
            mmr_root_from_next_roots(&[]),
            Err(Error::EmptyTree)
        ));
    }
}
