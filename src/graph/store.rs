//! Store-root resolution with a per-directory index: each `<root>/<type>/` is listed once, so a
//! closure of n artifacts costs n lookups, not n directory scans (§3.2 semantics kept).

use std::collections::HashMap;
use std::path::PathBuf;

use crate::artifact::{self, ObjectId};

/// Store roots, deduplicated, with their `<type>/` listings cached.
pub struct Store {
    roots: Vec<PathBuf>,
    /// (root index, type) → digest hex → file names.
    index: HashMap<(usize, String), HashMap<String, Vec<String>>>,
}

impl Store {
    /// Store roots searched in order; a root listed twice (same real path) counts once.
    pub fn new(roots: &[PathBuf]) -> Store {
        let mut seen = Vec::new();
        let mut out = Vec::new();
        for r in roots {
            let real = std::fs::canonicalize(r).unwrap_or_else(|_| r.clone());
            if !seen.contains(&real) {
                seen.push(real);
                out.push(r.clone());
            }
        }
        Store {
            roots: out,
            index: HashMap::new(),
        }
    }

    /// The store roots, in search order.
    pub fn roots(&self) -> &[PathBuf] {
        &self.roots
    }

    fn listing(
        &mut self,
        i: usize,
        t: &str,
    ) -> Result<&HashMap<String, Vec<String>>, artifact::Error> {
        let key = (i, t.to_string());
        if !self.index.contains_key(&key) {
            let dir = self.roots[i].join(t);
            let mut map: HashMap<String, Vec<String>> = HashMap::new();
            match std::fs::read_dir(&dir) {
                Ok(entries) => {
                    for entry in entries {
                        let entry = entry.map_err(|source| artifact::Error::Io {
                            path: dir.clone(),
                            source,
                        })?;
                        let name = entry.file_name();
                        let Some(name) = name.to_str() else { continue };
                        let b = name.as_bytes();
                        let named = b.len() == 64 || (b.len() > 64 && b[64] == b'.');
                        if named && entry.file_type().is_ok_and(|f| f.is_file()) {
                            map.entry(name[..64].to_string())
                                .or_default()
                                .push(name.to_string());
                        }
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(artifact::Error::Io { path: dir, source }),
            }
            for names in map.values_mut() {
                names.sort();
            }
            self.index.insert(key.clone(), map);
        }
        Ok(&self.index[&key])
    }

    /// The one file holding `id`, `None` when no root has it; several is `Ambiguous`.
    pub fn resolve(&mut self, id: &ObjectId) -> Result<Option<PathBuf>, artifact::Error> {
        let hex = id.digest.to_hex();
        let t = id.artifact_type.as_str();
        let mut hits = Vec::new();
        for i in 0..self.roots.len() {
            if let Some(names) = self.listing(i, t)?.get(&hex) {
                let names = names.clone();
                hits.extend(names.iter().map(|n| self.roots[i].join(t).join(n)));
            }
        }
        match hits.len() {
            0 => Ok(None),
            1 => Ok(hits.pop()),
            _ => Err(artifact::Error::Ambiguous {
                object: id.to_string(),
                paths: hits,
            }),
        }
    }
}
