//! The model of a mounted tree, with no FUSE in it: a [`View`] answers for paths
//! (`objects/vc/<digest>.json`, `refs/...`), lists directories lazily and reads file bytes.

use std::sync::Arc;

use super::Error;

/// What a path is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    /// A directory.
    Dir,
    /// A regular file of `size` bytes.
    File {
        /// Its size in bytes.
        size: u64,
    },
    /// A symbolic link to `target` (relative to the link's directory).
    Link {
        /// Where it points.
        target: String,
    },
}

/// The kind of a directory entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A directory.
    Dir,
    /// A regular file.
    File,
    /// A symbolic link.
    Link,
}

/// One directory entry.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The name inside its directory.
    pub name: String,
    /// What it is.
    pub kind: Kind,
}

impl Entry {
    /// A file entry.
    pub fn file(name: impl Into<String>) -> Entry {
        Entry {
            name: name.into(),
            kind: Kind::File,
        }
    }

    /// A directory entry.
    pub fn dir(name: impl Into<String>) -> Entry {
        Entry {
            name: name.into(),
            kind: Kind::Dir,
        }
    }

    /// A symbolic link entry.
    pub fn link(name: impl Into<String>) -> Entry {
        Entry {
            name: name.into(),
            kind: Kind::Link,
        }
    }
}

/// Entries produced on demand, so a directory of 100k objects is never held in memory.
pub type Entries = Box<dyn Iterator<Item = Result<Entry, Error>> + Send>;

/// A source shown as a read-only tree. Paths are `/`-separated and relative to the mount root
/// (`""` is the root); content never changes for the life of a mount.
pub trait View: Send + Sync + 'static {
    /// What `path` is; None when it does not exist.
    fn stat(&self, path: &str) -> Result<Option<Node>, Error>;
    /// The entries of the directory `path`.
    fn list(self: Arc<Self>, path: &str) -> Result<Entries, Error>;
    /// Makes a file ready to read (a remote object is fetched and verified here); an error
    /// refuses the open.
    fn open(&self, _path: &str) -> Result<(), Error> {
        Ok(())
    }
    /// Up to `size` bytes of the file at `offset`.
    fn read(&self, path: &str, offset: u64, size: u32) -> Result<Vec<u8>, Error>;
    /// A host file holding exactly the bytes of the (opened) file at `path`, which the kernel
    /// may read directly (FUSE passthrough); None: reads come through [`View::read`].
    fn backing(&self, _path: &str) -> Option<std::fs::File> {
        None
    }
    /// The modification (and change) time `path` shows: a receipt's or checkpoint's own
    /// timestamp, else the mount's time (docs/mount.md "File times"); None: the adapter's.
    fn time(&self, _path: &str) -> Option<std::time::SystemTime> {
        None
    }
}

/// Joins a directory path and a name.
pub fn child(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// The directory part of a path.
pub fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// A relative link target from the directory of `from` to `to` (both mount paths).
pub fn relative(from: &str, to: &str) -> String {
    let depth = parent(from).split('/').filter(|s| !s.is_empty()).count();
    format!("{}{to}", "../".repeat(depth))
}

/// What `rel` is in a flat, sorted key space (`a/b/c` keys): a file of its size, a directory
/// when keys lie below it, or nothing. `""` is the root.
pub fn key_stat(keys: &std::collections::BTreeMap<String, u64>, rel: &str) -> Option<Node> {
    if let Some(size) = keys.get(rel) {
        return Some(Node::File { size: *size });
    }
    let prefix = key_prefix(rel);
    let below = keys.range(prefix.clone()..).next();
    below
        .filter(|(k, _)| k.starts_with(&prefix))
        .map(|_| Node::Dir)
}

/// The entries of the directory `rel` in a flat, sorted key space.
pub fn key_list(keys: &std::collections::BTreeMap<String, u64>, rel: &str) -> Vec<Entry> {
    let prefix = key_prefix(rel);
    let mut out: Vec<Entry> = Vec::new();
    for k in keys.range(prefix.clone()..).map(|(k, _)| k) {
        let Some(rest) = k.strip_prefix(&prefix) else {
            break;
        };
        let entry = match rest.split_once('/') {
            Some((dir, _)) => Entry::dir(dir),
            None => Entry::file(rest),
        };
        if out.last().is_none_or(|e| e.name != entry.name) {
            out.push(entry);
        }
    }
    out
}

fn key_prefix(rel: &str) -> String {
    if rel.is_empty() {
        String::new()
    } else {
        format!("{rel}/")
    }
}

/// Entries from a fixed list of names.
pub fn fixed(entries: Vec<Entry>) -> Entries {
    Box::new(entries.into_iter().map(Ok))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_links_climb_to_the_root() {
        assert_eq!(
            relative("graph/vc/abc/edges/x", "objects/vc/d.json"),
            "../../../../objects/vc/d.json"
        );
        assert_eq!(relative("top", "objects/a"), "objects/a");
        assert_eq!(parent("a/b/c"), "a/b");
        assert_eq!(child("", "a"), "a");
    }

    #[test]
    fn a_flat_key_space_lists_as_directories() {
        let keys = [("a/b/c", 3), ("a/b/d", 4), ("a/e", 5), ("ab", 6)]
            .map(|(k, n)| (k.to_string(), n))
            .into();
        let names = |rel| {
            key_list(&keys, rel)
                .into_iter()
                .map(|e| (e.name, e.kind))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(""),
            [("a".into(), Kind::Dir), ("ab".into(), Kind::File)]
        );
        assert_eq!(
            names("a"),
            [("b".into(), Kind::Dir), ("e".into(), Kind::File)]
        );
        assert_eq!(key_stat(&keys, "a/b"), Some(Node::Dir));
        assert_eq!(key_stat(&keys, "a/e"), Some(Node::File { size: 5 }));
        assert_eq!(key_stat(&keys, "a/x"), None);
        assert_eq!(key_stat(&keys, ""), Some(Node::Dir));
    }
}
