//! The peak plan of a size, bagging peaks into a root, and the running peaks of an append-only tree.

use serde::{Deserialize, Serialize};

use super::hash::node_hash;
use super::{Error, Hash, NodeId, Span};

/// A mountain: a complete subtree of `2^height` leaves and its hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Peak {
    /// Its level above the leaves.
    pub height: u32,
    /// Its subtree hash.
    pub hash: Hash,
}

/// The peaks of a tree of `size` leaves, left to right: the binary decomposition of `size`,
/// largest power of two first.
pub fn peak_plan(size: u64) -> Vec<NodeId> {
    Span::new(0, size).nodes()
}

/// The peak that holds leaf `index` in a tree of `size`: its position in the plan and its node.
pub fn peak_of_leaf(index: u64, size: u64) -> Result<(usize, NodeId), Error> {
    if index >= size {
        return Err(Error::IndexOutOfRange { index, size });
    }
    peak_plan(size)
        .into_iter()
        .enumerate()
        .find(|(_, node)| node.coverage().contains(&index))
        .ok_or(Error::IndexOutOfRange { index, size })
}

/// Folds peaks right to left: `node(P0, node(P1, … node(Pk-1, Pk)))`; `None` when there are none.
pub fn bag<'a>(peaks: impl DoubleEndedIterator<Item = &'a Hash>) -> Option<Hash> {
    let mut it = peaks.rev();
    let last = *it.next()?;
    Some(it.fold(last, |acc, peak| node_hash(peak, &acc)))
}

/// The running peaks of an append-only tree: enough to append and to compute the root.
///
/// This is the compact form a checkpoint carries; `append` reports every node it completes so
/// that a store can persist them in order, append-only.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppendState {
    size: u64,
    /// Peak hashes left to right; their heights follow from `size`.
    peaks: Vec<Hash>,
}

impl AppendState {
    /// The state of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Restores a state from a checkpoint's peaks; their heights must be the plan of `size`.
    pub fn from_peaks(size: u64, peaks: &[Peak]) -> Result<Self, Error> {
        let plan = peak_plan(size);
        let found: Vec<u32> = peaks.iter().map(|p| p.height).collect();
        let expected: Vec<u32> = plan.iter().map(|n| n.level).collect();
        if found != expected {
            return Err(Error::PeakPlan {
                size,
                expected,
                found,
            });
        }
        Ok(AppendState {
            size,
            peaks: peaks.iter().map(|p| p.hash).collect(),
        })
    }

    /// The number of leaves appended so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends one leaf hash; returns the nodes it completed, bottom up (the leaf first).
    pub fn append(&mut self, leaf: Hash) -> Vec<(NodeId, Hash)> {
        let mut node = NodeId::leaf(self.size);
        let mut cur = leaf;
        let mut created = vec![(node, cur)];
        // A right child completes its parent; the left sibling is the last peak.
        while node.is_right_child() {
            let Some(left) = self.peaks.pop() else { break };
            cur = node_hash(&left, &cur);
            node = node.parent();
            created.push((node, cur));
        }
        self.peaks.push(cur);
        self.size += 1;
        created
    }

    /// The peaks with their heights, left to right.
    pub fn peaks(&self) -> Vec<Peak> {
        peak_plan(self.size)
            .into_iter()
            .zip(&self.peaks)
            .map(|(node, hash)| Peak {
                height: node.level,
                hash: *hash,
            })
            .collect()
    }

    /// The root (bagged peaks); `None` for the empty tree.
    pub fn root(&self) -> Option<Hash> {
        bag(self.peaks.iter())
    }
}

/// Appends leaf hashes to a checkpoint's peaks and returns the new peaks (`append_peaks`).
pub fn append_peaks(size: u64, peaks: &[Peak], leaves: &[Hash]) -> Result<Vec<Peak>, Error> {
    let mut state = AppendState::from_peaks(size, peaks)?;
    for leaf in leaves {
        state.append(*leaf);
    }
    Ok(state.peaks())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mmr::hash::rfc6962_leaf_hash;

    fn leaf(i: u64) -> Hash {
        rfc6962_leaf_hash(&i.to_be_bytes())
    }

    #[test]
    fn the_plan_of_thirteen_is_eight_four_one() {
        let levels: Vec<u32> = peak_plan(13).iter().map(|n| n.level).collect();
        assert_eq!(levels, vec![3, 2, 0]);
        assert!(peak_plan(0).is_empty());
    }

    #[test]
    fn the_leaf_peak_is_found_in_the_plan() -> Result<(), Error> {
        assert_eq!(peak_of_leaf(9, 13)?, (1, NodeId::new(2, 2)));
        assert_eq!(peak_of_leaf(12, 13)?, (2, NodeId::new(0, 12)));
        assert!(peak_of_leaf(13, 13).is_err());
        Ok(())
    }

    #[test]
    fn appending_reports_every_completed_node() {
        let mut s = AppendState::new();
        for i in 0..3 {
            s.append(leaf(i));
        }
        let created = s.append(leaf(3));
        let ids: Vec<NodeId> = created.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            ids,
            vec![NodeId::new(0, 3), NodeId::new(1, 1), NodeId::new(2, 0)]
        );
        assert_eq!(s.peaks().len(), 1);
        assert_eq!(s.root(), Some(created[2].1));
    }

    #[test]
    fn appending_to_restored_peaks_equals_appending_all() -> Result<(), Error> {
        let mut all = AppendState::new();
        for i in 0..11 {
            all.append(leaf(i));
        }
        let mut head = AppendState::new();
        for i in 0..6 {
            head.append(leaf(i));
        }
        let tail: Vec<Hash> = (6..11).map(leaf).collect();
        assert_eq!(append_peaks(6, &head.peaks(), &tail)?, all.peaks());
        Ok(())
    }

    #[test]
    fn peaks_with_wrong_heights_are_refused() {
        let p = Peak {
            height: 1,
            hash: leaf(0),
        };
        assert!(AppendState::from_peaks(3, &[p, p]).is_err());
    }
}
