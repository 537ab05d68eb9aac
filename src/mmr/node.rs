//! Addresses in the tree: complete subtrees (`NodeId`) and leaf ranges (`Span`).
//!
//! ```text
//! level 2              (2,0)
//!                    /       \
//! level 1        (1,0)       (1,1)
//!               /    \      /    \
//! level 0    (0,0) (0,1) (0,2) (0,3) (0,4)    <- leaves; size 5 has peaks (2,0) and (0,4)
//! ```
//! A node `(level, index)` is the complete subtree over leaves `[index·2^level, (index+1)·2^level)`.
//! Its hash never changes once the tree has grown past it, so a store can keep it append-only.

use std::fmt;
use std::ops::Range;

/// A complete subtree: `level` 0 is a leaf, its `index` counts from the left at that level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId {
    /// Height above the leaves.
    pub level: u32,
    /// Position from the left among the nodes of that level.
    pub index: u64,
}

impl NodeId {
    /// The node `(level, index)`.
    pub const fn new(level: u32, index: u64) -> Self {
        NodeId { level, index }
    }

    /// The leaf with this index.
    pub const fn leaf(index: u64) -> Self {
        NodeId { level: 0, index }
    }

    /// The node one level up that contains this one.
    pub const fn parent(self) -> Self {
        NodeId {
            level: self.level + 1,
            index: self.index >> 1,
        }
    }

    /// The other child of this node's parent.
    pub const fn sibling(self) -> Self {
        NodeId {
            level: self.level,
            index: self.index ^ 1,
        }
    }

    /// Whether this node is the right child of its parent.
    pub const fn is_right_child(self) -> bool {
        self.index & 1 == 1
    }

    /// The leaves it covers.
    pub fn coverage(self) -> Range<u64> {
        (self.index << self.level)..((self.index + 1) << self.level)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.level, self.index)
    }
}

/// The leaf range `[start, end)` whose RFC 6962 tree hash `MTH(D[start:end])` a proof needs.
///
/// Every span msez produces starts on a multiple of the largest power of two not above its
/// length, so its tree is the same mountain range as a tree of `end - start` leaves, shifted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// First leaf.
    pub start: u64,
    /// One past the last leaf.
    pub end: u64,
}

impl Span {
    /// The span `[start, end)`.
    pub const fn new(start: u64, end: u64) -> Self {
        Span { start, end }
    }

    /// Its number of leaves.
    pub const fn len(self) -> u64 {
        self.end - self.start
    }

    /// Whether it has no leaves.
    pub const fn is_empty(self) -> bool {
        self.end <= self.start
    }

    /// The complete subtrees that make it up, left to right and largest first: its peaks.
    pub fn nodes(self) -> Vec<NodeId> {
        let mut nodes = Vec::new();
        let mut at = self.start;
        while at < self.end {
            let remaining = self.end - at;
            // The largest aligned block at `at` that still fits.
            let fit = 63 - remaining.leading_zeros();
            let align = if at == 0 { 63 } else { at.trailing_zeros() };
            let level = fit.min(align);
            nodes.push(NodeId::new(level, at >> level));
            at += 1u64 << level;
        }
        nodes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_span_of_five_leaves_has_peaks_of_four_and_one() {
        assert_eq!(
            Span::new(0, 5).nodes(),
            vec![NodeId::new(2, 0), NodeId::new(0, 4)]
        );
    }

    #[test]
    fn a_shifted_span_keeps_its_shape() {
        assert_eq!(
            Span::new(8, 15).nodes(),
            vec![NodeId::new(2, 2), NodeId::new(1, 6), NodeId::new(0, 14)]
        );
    }

    #[test]
    fn parent_sibling_and_coverage_agree() {
        let n = NodeId::new(1, 3);
        assert_eq!(n.coverage(), 6..8);
        assert_eq!(n.parent().coverage(), 4..8);
        assert_eq!(n.sibling().coverage(), 4..6);
        assert!(n.is_right_child());
    }

    #[test]
    fn the_largest_tree_has_a_peak_at_level_63() {
        let nodes = Span::new(0, u64::MAX).nodes();
        assert_eq!(nodes.len(), 64);
        assert_eq!(nodes[0], NodeId::new(63, 0));
    }
}
