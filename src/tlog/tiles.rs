//! c2sp.org/tlog-tiles: tile paths, which tiles a size has, and their bytes from a tree of
//! hashes held in memory.
//!
//! A hash tile at level `L` and index `N` holds the hashes of the nodes of tree level `8·L`
//! with indexes `256·N … 256·N + W − 1` (`W` = its width, 256 when full). Level 0 holds the
//! leaf hashes. An entry bundle `N` holds the entries (leaf data) of leaves `256·N …`, each
//! prefixed with its length as a big-endian uint16. Paths:
//!
//! ```text
//! tile/<L>/<N>[.p/<W>]         hash tiles
//! tile/entries/<N>[.p/<W>]     entry bundles
//! ```
//!
//! `<N>` is zero-padded to groups of three digits, all but the last prefixed with `x`
//! (1234067 → `x001/x234/067`); the `.p/<W>` suffix marks a partial tile (`W < 256`).

use crate::canon::Digest as Hash;
use crate::mmr::{leaf_hash, node_hash, rfc6962_leaf_hash};

use super::Error;

/// log2 of the tile width.
pub const HEIGHT: u32 = 8;
/// Hashes (or entries) in a full tile.
pub const WIDTH: u64 = 1 << HEIGHT;

/// Which kind of tile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// A hash tile at this tile level.
    Hash(u32),
    /// An entry bundle.
    Entries,
}

/// One tile: its kind, index and width.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tile {
    /// Hash tile level or entry bundle.
    pub kind: Kind,
    /// Its index within the level.
    pub index: u64,
    /// How many hashes or entries it holds (1..=256).
    pub width: u64,
}

impl Tile {
    /// Whether the tile is full (written once, never replaced).
    pub fn is_full(&self) -> bool {
        self.width == WIDTH
    }

    /// Its path relative to the log's root.
    pub fn path(&self) -> String {
        let level = match self.kind {
            Kind::Hash(l) => l.to_string(),
            Kind::Entries => "entries".to_string(),
        };
        let mut p = format!("tile/{level}/{}", encode_index(self.index));
        if !self.is_full() {
            p.push_str(&format!(".p/{}", self.width));
        }
        p
    }
}

/// `<N>` of a tile path: three-digit groups, all but the last prefixed with `x`.
pub fn encode_index(mut n: u64) -> String {
    let mut groups = vec![format!("{:03}", n % 1000)];
    n /= 1000;
    while n > 0 {
        groups.push(format!("x{:03}", n % 1000));
        n /= 1000;
    }
    groups.reverse();
    groups.join("/")
}

/// The hash tiles a log of `new` leaves has that one of `old` leaves did not have in that
/// form (new full tiles, and the partial tile of each level), lowest level first.
pub fn new_tiles(old: u64, new: u64) -> Vec<Tile> {
    let mut out = Vec::new();
    let mut level = 0;
    while new >> (HEIGHT * level) > 0 {
        let old_n = old >> (HEIGHT * level);
        let new_n = new >> (HEIGHT * level);
        if old_n != new_n {
            for index in (old_n >> HEIGHT)..(new_n >> HEIGHT) {
                out.push(Tile {
                    kind: Kind::Hash(level),
                    index,
                    width: WIDTH,
                });
            }
            let index = new_n >> HEIGHT;
            let width = new_n - (index << HEIGHT);
            if width > 0 {
                out.push(Tile {
                    kind: Kind::Hash(level),
                    index,
                    width,
                });
            }
        }
        level += 1;
    }
    out
}

/// The entry bundles of [`new_tiles`] (the same shape as its level-0 tiles).
pub fn new_bundles(old: u64, new: u64) -> Vec<Tile> {
    new_tiles(old, new)
        .into_iter()
        .filter(|t| t.kind == Kind::Hash(0))
        .map(|t| Tile {
            kind: Kind::Entries,
            ..t
        })
        .collect()
}

/// The tiles of one kind of a log of `size` leaves, in index order, made lazily: a hostile
/// size costs nothing until its tiles are actually read.
pub fn tiles_of(size: u64, kind: Kind) -> impl Iterator<Item = Tile> {
    let level = match kind {
        Kind::Hash(l) => l,
        Kind::Entries => 0,
    };
    let count = size.checked_shr(HEIGHT * level).unwrap_or(0);
    let full = count >> HEIGHT;
    let partial = count & (WIDTH - 1);
    (0..full)
        .map(move |index| Tile {
            kind,
            index,
            width: WIDTH,
        })
        .chain((partial > 0).then_some(Tile {
            kind,
            index: full,
            width: partial,
        }))
}

/// The number of hash-tile levels of a log of `size` leaves.
pub fn levels(size: u64) -> u32 {
    (0..8)
        .take_while(|l| size.checked_shr(HEIGHT * l).unwrap_or(0) > 0)
        .count() as u32
}

/// The hashes of every complete subtree of a tree, level by level (level 0: leaf hashes).
#[derive(Clone, Debug, Default)]
pub struct Tree {
    levels: Vec<Vec<Hash>>,
}

impl Tree {
    /// The tree over these leaf hashes.
    pub fn from_leaf_hashes(leaves: Vec<Hash>) -> Tree {
        let mut levels = vec![leaves];
        while levels.last().is_some_and(|l| l.len() > 1) {
            let below = levels.last().map(Vec::as_slice).unwrap_or_default();
            let up = below
                .chunks_exact(2)
                .map(|p| node_hash(&p[0], &p[1]))
                .collect();
            levels.push(up);
        }
        Tree { levels }
    }

    /// The tree over msez next_roots (leaf = SHA-256(0x00 || next_root)).
    pub fn from_next_roots(next_roots: &[Hash]) -> Tree {
        Tree::from_leaf_hashes(next_roots.iter().map(leaf_hash).collect())
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// The hash of node (`level`, `index`), if that complete subtree exists.
    pub fn node(&self, level: u32, index: u64) -> Option<Hash> {
        self.levels
            .get(level as usize)
            .and_then(|l| l.get(usize::try_from(index).ok()?))
            .copied()
    }

    /// The RFC 6962 root of the first `size` leaves (`SHA-256("")` for 0); None past the tree.
    pub fn root_at(&self, size: u64) -> Option<Hash> {
        if size > self.size() {
            return None;
        }
        if size == 0 {
            return Some(crate::mmr::empty_root());
        }
        // The peaks of `size` are its set bits, highest first; fold them right to left.
        let mut peaks = Vec::new();
        let mut start = 0u64;
        for h in (0..64).rev() {
            if size & (1 << h) != 0 {
                peaks.push(self.node(h, start >> h)?);
                start += 1 << h;
            }
        }
        let mut root = peaks.pop()?;
        while let Some(p) = peaks.pop() {
            root = node_hash(&p, &root);
        }
        Some(root)
    }

    /// The RFC 6962 root of the whole tree.
    pub fn root(&self) -> Hash {
        self.root_at(self.size()).unwrap_or_default()
    }

    /// The bytes of a hash tile (None for an entry bundle or a tile past the tree).
    pub fn tile_bytes(&self, tile: &Tile) -> Option<Vec<u8>> {
        let Kind::Hash(level) = tile.kind else {
            return None;
        };
        let start = tile.index * WIDTH;
        let mut out = Vec::with_capacity(tile.width as usize * 32);
        for i in start..start + tile.width {
            out.extend_from_slice(self.node(level * HEIGHT, i)?.as_bytes());
        }
        Some(out)
    }
}

/// The bytes of an entry bundle: each entry as a big-endian uint16 length and its bytes.
pub fn bundle_bytes<'e>(entries: impl IntoIterator<Item = &'e [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        out.extend_from_slice(&(e.len() as u16).to_be_bytes());
        out.extend_from_slice(e);
    }
    out
}

/// Splits an entry bundle into exactly `tile.width` entries.
pub fn parse_bundle(tile: &Tile, bytes: &[u8]) -> Result<Vec<Vec<u8>>, Error> {
    let bad = |why: String| Error::BadTile {
        path: tile.path(),
        why,
    };
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        if rest.len() < 2 {
            return Err(bad("a truncated entry length".into()));
        }
        let n = u16::from_be_bytes([rest[0], rest[1]]) as usize;
        if rest.len() < 2 + n {
            return Err(bad(format!("an entry of {n} bytes runs past the bundle")));
        }
        out.push(rest[2..2 + n].to_vec());
        rest = &rest[2 + n..];
    }
    if out.len() as u64 != tile.width {
        return Err(bad(format!(
            "holds {} entries, its path says {}",
            out.len(),
            tile.width
        )));
    }
    Ok(out)
}

/// Splits a hash tile into exactly `tile.width` hashes.
pub fn parse_hash_tile(tile: &Tile, bytes: &[u8]) -> Result<Vec<Hash>, Error> {
    if bytes.len() as u64 != tile.width * 32 {
        return Err(Error::BadTile {
            path: tile.path(),
            why: format!("{} bytes, expected {}", bytes.len(), tile.width * 32),
        });
    }
    Ok(bytes
        .chunks_exact(32)
        .map(|c| {
            let mut h = [0u8; 32];
            h.copy_from_slice(c);
            Hash(h)
        })
        .collect())
}

/// The RFC 6962 leaf hash of an entry.
pub fn entry_leaf_hash(entry: &[u8]) -> Hash {
    rfc6962_leaf_hash(entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_the_spec_examples() {
        assert_eq!(encode_index(1234067), "x001/x234/067");
        assert_eq!(encode_index(5), "005");
        assert_eq!(encode_index(1000), "x001/000");
        let t = Tile {
            kind: Kind::Hash(0),
            index: 1234067,
            width: 256,
        };
        assert_eq!(t.path(), "tile/0/x001/x234/067");
        let p = Tile {
            kind: Kind::Entries,
            index: 3,
            width: 7,
        };
        assert_eq!(p.path(), "tile/entries/003.p/7");
    }

    #[test]
    fn new_tiles_cover_each_level_and_only_what_changed() {
        let all = new_tiles(0, 70_000);
        // 273 full + 1 partial at level 0, 1 full + 1 partial at level 1, 1 partial at level 2.
        assert_eq!(all.iter().filter(|t| t.kind == Kind::Hash(0)).count(), 274);
        assert_eq!(all.iter().filter(|t| t.kind == Kind::Hash(1)).count(), 2);
        assert_eq!(all.iter().filter(|t| t.kind == Kind::Hash(2)).count(), 1);
        let more = new_tiles(70_000, 70_001);
        assert_eq!(
            more,
            vec![Tile {
                kind: Kind::Hash(0),
                index: 273,
                width: 113
            }]
        );
        assert!(new_tiles(5, 5).is_empty());
        for size in [0u64, 1, 255, 256, 257, 65_536, 70_000, 16_777_217] {
            let mut lazy: Vec<Tile> = (0..levels(size))
                .flat_map(|l| tiles_of(size, Kind::Hash(l)))
                .collect();
            lazy.sort();
            let mut all = new_tiles(0, size);
            all.sort();
            assert_eq!(lazy, all, "size {size}");
            assert_eq!(
                tiles_of(size, Kind::Entries).count(),
                new_bundles(0, size).len()
            );
        }
        // A hostile size makes no tile list up front.
        assert_eq!(
            tiles_of(u64::MAX, Kind::Hash(0)).next().map(|t| t.index),
            Some(0)
        );
    }

    #[test]
    fn tree_roots_match_the_mmr() {
        let roots: Vec<Hash> = (0..300u32)
            .map(|i| {
                Hash(
                    sha2::Digest::finalize(sha2::Digest::chain_update(
                        <sha2::Sha256 as sha2::Digest>::new(),
                        i.to_be_bytes(),
                    ))
                    .into(),
                )
            })
            .collect();
        let tree = Tree::from_next_roots(&roots);
        for n in [1u64, 2, 3, 13, 256, 257, 300] {
            let mem = crate::mmr::MemStore::from_next_roots(&roots[..n as usize]);
            assert_eq!(
                Some(crate::mmr::root(&mem, n).unwrap()),
                tree.root_at(n),
                "size {n}"
            );
        }
        let tile = Tile {
            kind: Kind::Hash(0),
            index: 1,
            width: 44,
        };
        let bytes = tree.tile_bytes(&tile).unwrap();
        assert_eq!(
            parse_hash_tile(&tile, &bytes).unwrap()[0],
            leaf_hash(&roots[256])
        );
        let b = Tile {
            kind: Kind::Entries,
            index: 0,
            width: 2,
        };
        let bundle = bundle_bytes(roots[..2].iter().map(|r| &r.0[..]));
        assert_eq!(bundle.len(), 68);
        assert_eq!(parse_bundle(&b, &bundle).unwrap()[1], roots[1].0.to_vec());
    }
}
