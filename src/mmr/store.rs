//! Reading hashes through a [`NodeReader`], and the in-memory store of every complete subtree.

use super::hash::{empty_root, leaf_hash};
use super::peaks::{AppendState, bag};
use super::{Error, Hash, NodeId, NodeReader, Span};

/// The RFC 6962 hash of a span: its complete subtrees, bagged. Reads one node per peak.
pub fn span_hash<R: NodeReader + ?Sized>(reader: &R, span: Span) -> Result<Hash, Error> {
    let hashes = span
        .nodes()
        .into_iter()
        .map(|node| reader.node(node))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(bag(hashes.iter()).unwrap_or_else(empty_root))
}

/// The hashes of several spans, in order.
pub fn span_hashes<R: NodeReader + ?Sized>(reader: &R, spans: &[Span]) -> Result<Vec<Hash>, Error> {
    spans.iter().map(|span| span_hash(reader, *span)).collect()
}

/// The root of the first `size` leaves (RFC 6962 `MTH`; `SHA256("")` for size 0).
pub fn root<R: NodeReader + ?Sized>(reader: &R, size: u64) -> Result<Hash, Error> {
    span_hash(reader, Span::new(0, size))
}

/// Every complete-subtree hash of a tree, in memory; grows by appending leaf hashes.
#[derive(Clone, Debug, Default)]
pub struct MemStore {
    /// `levels[l][i]` is the hash of node `(l, i)`.
    levels: Vec<Vec<Hash>>,
    state: AppendState,
}

impl MemStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store holding the given leaf hashes.
    pub fn from_leaf_hashes<'a>(leaves: impl IntoIterator<Item = &'a Hash>) -> Self {
        let mut store = Self::new();
        for leaf in leaves {
            store.append(*leaf);
        }
        store
    }

    /// A store over receipt next_roots (each leaf is `leaf_hash(next_root)`).
    pub fn from_next_roots(next_roots: &[Hash]) -> Self {
        let mut store = Self::new();
        for next_root in next_roots {
            store.append(leaf_hash(next_root));
        }
        store
    }

    /// Appends one leaf hash and stores every node it completes.
    pub fn append(&mut self, leaf: Hash) {
        for (node, hash) in self.state.append(leaf) {
            let level = node.level as usize;
            if self.levels.len() <= level {
                self.levels.resize_with(level + 1, Vec::new);
            }
            // Nodes complete in index order on every level, so a push lands at `node.index`.
            debug_assert_eq!(self.levels[level].len() as u64, node.index);
            self.levels[level].push(hash);
        }
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.state.size()
    }

    /// The running peaks.
    pub fn state(&self) -> &AppendState {
        &self.state
    }
}

impl NodeReader for MemStore {
    fn node(&self, id: NodeId) -> Result<Hash, Error> {
        usize::try_from(id.index)
            .ok()
            .and_then(|i| self.levels.get(id.level as usize)?.get(i))
            .copied()
            .ok_or(Error::MissingNode { node: id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mmr::hash::{node_hash, rfc6962_leaf_hash};

    #[test]
    fn every_complete_subtree_is_readable() -> Result<(), Error> {
        let leaves: Vec<Hash> = (0u8..6).map(|i| rfc6962_leaf_hash(&[i])).collect();
        let store = MemStore::from_leaf_hashes(&leaves);
        let n01 = node_hash(&leaves[0], &leaves[1]);
        let n23 = node_hash(&leaves[2], &leaves[3]);
        assert_eq!(store.node(NodeId::new(1, 0))?, n01);
        assert_eq!(store.node(NodeId::new(2, 0))?, node_hash(&n01, &n23));
        assert_eq!(
            store.node(NodeId::new(1, 2))?,
            node_hash(&leaves[4], &leaves[5])
        );
        assert!(store.node(NodeId::new(2, 1)).is_err());
        Ok(())
    }

    #[test]
    fn a_smaller_root_is_read_from_the_same_store() -> Result<(), Error> {
        let leaves: Vec<Hash> = (0u8..6).map(|i| rfc6962_leaf_hash(&[i])).collect();
        let store = MemStore::from_leaf_hashes(&leaves);
        let three = MemStore::from_leaf_hashes(&leaves[..3]);
        assert_eq!(root(&store, 3)?, root(&three, 3)?);
        assert_eq!(root(&store, 0)?, empty_root());
        Ok(())
    }
}
