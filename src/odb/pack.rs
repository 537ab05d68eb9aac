//! Pack files: the JSON objects of one large transaction ([`super::Batch`], at least
//! [`super::PACK_MIN`]) in one immutable file, so that storing N objects costs one file instead of N (what bounds a batch append on ext4 is
//! inode and directory-entry creation, not bytes).
//!
//! `.msez/packs/pack-<hex>.pack`, where hex is the BLAKE3 of everything before the trailer:
//!
//! ```text
//! body     the objects' bytes back to back, each exactly what its loose file would hold
//! index    u16 n_types, then each type name as u8 length + ASCII bytes
//!          256 x u32 fanout: fanout[b] = entries whose digest's first byte is <= b
//!          n x 50-byte entries sorted by (digest, type name):
//!              digest [32] | type (index into the names) u16 | offset u64 | length u64
//! trailer  "MSEZPACK" | version u32 = 1 | reserved u32 = 0 | index offset u64 | n u64 | BLAKE3 [32]
//! ```
//!
//! Integers are little-endian. A pack is written in `.msez/tmp`, made durable, then renamed
//! into `packs/` with no-clobber; it is never changed after, only deleted whole by gc (which
//! first writes a pack of what it keeps). Readers find an object loose first, then in packs.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::artifact::{ArtifactType, ObjectId};
use crate::canon::Digest;

use super::Error;

const MAGIC: &[u8; 8] = b"MSEZPACK";
const VERSION: u32 = 1;
const TRAILER: u64 = 64;
const ENTRY: usize = 50;
const FANOUT: usize = 256 * 4;

/// The file name of a pack whose checksum is `sum`.
fn file_name(sum: &[u8; 32]) -> String {
    format!("pack-{}.pack", hex::encode(sum))
}

/// Whether `name` is how a pack file is named.
pub fn is_pack_name(name: &str) -> bool {
    name.strip_prefix("pack-")
        .and_then(|s| s.strip_suffix(".pack"))
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// One entry of a pack's index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The object.
    pub id: ObjectId,
    /// Where its bytes start in the pack.
    pub offset: u64,
    /// How many bytes it has.
    pub len: u64,
}

/// One index entry as stored: what streaming readers (multi-pack index, repack) work on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct RawEntry {
    /// The object's digest.
    pub(crate) digest: [u8; 32],
    /// Its type, an index into the pack's type table.
    pub(crate) type_index: u16,
    /// Where its bytes start.
    pub(crate) offset: u64,
    /// How many bytes it has.
    pub(crate) len: u64,
}

/// An open pack: its trailer and index header in memory, entries read on demand.
#[derive(Debug)]
pub struct Pack {
    path: PathBuf,
    file: File,
    types: Vec<ArtifactType>,
    fanout: Box<[u32; 256]>,
    entries_at: u64,
    index_at: u64,
    checksum: [u8; 32],
    /// Lookups so far; past [`LOAD_AFTER`] the whole index is read once and searched in memory.
    probes: AtomicU32,
    loaded: OnceLock<Vec<Entry>>,
}

/// Lookups in one pack after which its index is kept in memory (about 100 bytes an entry):
/// a command that looks up one object reads one bucket; a batch or a walk reads the index once.
const LOAD_AFTER: u32 = 64;

fn bad(path: &Path, why: &'static str) -> Error {
    Error::BadPack {
        path: path.to_path_buf(),
        why,
    }
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

impl Pack {
    /// Opens a pack, checking its trailer and index header (not its checksum: [`Pack::verify`]).
    pub fn open(path: &Path) -> Result<Pack, Error> {
        let file = File::open(path).map_err(|e| Error::io("opening", path, e))?;
        let size = file
            .metadata()
            .map_err(|e| Error::io("reading", path, e))?
            .len();
        if size < TRAILER {
            return Err(bad(path, "shorter than its trailer"));
        }
        let mut t = [0u8; TRAILER as usize];
        read_exact_at(&file, path, &mut t, size - TRAILER)?;
        if &t[..8] != MAGIC {
            return Err(bad(path, "no MSEZPACK trailer"));
        }
        if u32::from_le_bytes(t[8..12].try_into().expect("4 bytes")) != VERSION {
            return Err(bad(path, "unknown pack version"));
        }
        let index_at = u64_at(&t, 16);
        let count = u64_at(&t, 24);
        let checksum: [u8; 32] = t[32..64].try_into().expect("32 bytes");
        let index_len = (size - TRAILER)
            .checked_sub(index_at)
            .ok_or_else(|| bad(path, "index offset past the end"))?;
        // The type table is small; read it with the fanout in one go.
        let head_len = index_len
            .checked_sub(count.saturating_mul(ENTRY as u64))
            .ok_or_else(|| bad(path, "index shorter than its entries"))?;
        if head_len > 2 + 256 * 65 + FANOUT as u64 {
            return Err(bad(path, "index header too long"));
        }
        let mut head = vec![0u8; head_len as usize];
        read_exact_at(&file, path, &mut head, index_at)?;
        let n_types = u16::from_le_bytes(
            head.get(..2)
                .ok_or_else(|| bad(path, "no type table"))?
                .try_into()
                .expect("2 bytes"),
        );
        let mut at = 2;
        let mut types = Vec::with_capacity(n_types as usize);
        for _ in 0..n_types {
            let len = *head
                .get(at)
                .ok_or_else(|| bad(path, "type table cut short"))? as usize;
            let name = head
                .get(at + 1..at + 1 + len)
                .and_then(|b| std::str::from_utf8(b).ok())
                .ok_or_else(|| bad(path, "type table cut short"))?;
            types.push(ArtifactType::new(name).map_err(|_| bad(path, "invalid type name"))?);
            at += 1 + len;
        }
        if head.len() != at + FANOUT {
            return Err(bad(path, "index header size mismatch"));
        }
        let mut fanout = Box::new([0u32; 256]);
        for (i, f) in fanout.iter_mut().enumerate() {
            let o = at + 4 * i;
            *f = u32::from_le_bytes(head[o..o + 4].try_into().expect("4 bytes"));
        }
        if u64::from(fanout[255]) != count || fanout.windows(2).any(|w| w[0] > w[1]) {
            return Err(bad(path, "fanout does not match the entry count"));
        }
        Ok(Pack {
            path: path.to_path_buf(),
            file,
            types,
            fanout,
            entries_at: index_at + head_len,
            index_at,
            checksum,
            probes: AtomicU32::new(0),
            loaded: OnceLock::new(),
        })
    }

    /// The pack file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many objects it holds.
    pub fn len(&self) -> u64 {
        u64::from(self.fanout[255])
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The types of the objects it holds.
    pub fn types(&self) -> &[ArtifactType] {
        &self.types
    }

    /// Its BLAKE3 checksum as its trailer states it (what names the file).
    pub fn checksum(&self) -> [u8; 32] {
        self.checksum
    }

    /// Where the body ends (an entry's bytes lie before it).
    pub fn body_len(&self) -> u64 {
        self.index_at
    }

    /// The index entries from `from` on, at most `max` of them, undecoded: (digest, type index
    /// into [`Pack::types`], offset, length), for streaming over a large index.
    pub(crate) fn raw_entries(&self, from: u32, max: u32) -> Result<Vec<RawEntry>, Error> {
        let to = from.saturating_add(max).min(self.fanout[255]);
        if from >= to {
            return Ok(Vec::new());
        }
        let mut buf = vec![0u8; (to - from) as usize * ENTRY];
        read_exact_at(
            &self.file,
            &self.path,
            &mut buf,
            self.entries_at + u64::from(from) * ENTRY as u64,
        )?;
        buf.chunks_exact(ENTRY)
            .map(|e| {
                let raw = RawEntry {
                    digest: e[..32].try_into().expect("32 bytes"),
                    type_index: u16::from_le_bytes([e[32], e[33]]),
                    offset: u64_at(e, 34),
                    len: u64_at(e, 42),
                };
                if usize::from(raw.type_index) >= self.types.len() {
                    return Err(bad(&self.path, "entry names no type"));
                }
                if raw
                    .offset
                    .checked_add(raw.len)
                    .is_none_or(|end| end > self.index_at)
                {
                    return Err(bad(&self.path, "entry points outside the body"));
                }
                Ok(raw)
            })
            .collect()
    }

    /// Reads the whole index a chunk at a time and checks that every entry names a type and
    /// lies in the body (what [`Pack::entries`] checks, without holding the entries).
    pub fn check_entries(&self) -> Result<(), Error> {
        let mut at = 0;
        while at < self.fanout[255] {
            at += self.raw_entries(at, 1 << 16)?.len() as u32;
        }
        Ok(())
    }

    /// Reads `len` bytes at `offset` of the file (a run of the body).
    pub(crate) fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), Error> {
        read_exact_at(&self.file, &self.path, buf, offset)
    }

    /// Reads entries `from..to` of the index.
    fn entries_in(&self, from: u32, to: u32) -> Result<Vec<Entry>, Error> {
        Ok(self
            .raw_entries(from, to.saturating_sub(from))?
            .into_iter()
            .map(|raw| Entry {
                // raw_entries checked that the type index is in range.
                id: ObjectId::new(
                    self.types[usize::from(raw.type_index)].clone(),
                    Digest(raw.digest),
                ),
                offset: raw.offset,
                len: raw.len,
            })
            .collect())
    }

    /// Every entry, in index order.
    pub fn entries(&self) -> Result<Vec<Entry>, Error> {
        self.entries_in(0, self.fanout[255])
    }

    /// Where `id` is in this pack, if it is: one read of its fanout bucket.
    pub fn find(&self, id: &ObjectId) -> Result<Option<Entry>, Error> {
        let b = id.digest.0[0] as usize;
        let from = if b == 0 { 0 } else { self.fanout[b - 1] };
        let to = self.fanout[b];
        if from == to {
            return Ok(None);
        }
        if let Some(all) = self.loaded.get() {
            return Ok(find_in(&all[from as usize..to as usize], id));
        }
        if self.probes.fetch_add(1, Ordering::Relaxed) >= LOAD_AFTER {
            let all = self.entries()?;
            let all = self.loaded.get_or_init(|| all);
            return Ok(find_in(&all[from as usize..to as usize], id));
        }
        Ok(find_in(&self.entries_in(from, to)?, id))
    }

    /// The bytes of an entry.
    pub fn read(&self, entry: &Entry) -> Result<Vec<u8>, Error> {
        let mut buf = vec![0u8; entry.len as usize];
        read_exact_at(&self.file, &self.path, &mut buf, entry.offset)?;
        Ok(buf)
    }

    /// Checks the pack's BLAKE3 against its trailer and its name.
    pub fn verify(&self) -> Result<(), Error> {
        let mut h = blake3::Hasher::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut at = 0;
        let end = self.entries_at + u64::from(self.fanout[255]) * ENTRY as u64;
        while at < end {
            let n = buf.len().min((end - at) as usize);
            read_exact_at(&self.file, &self.path, &mut buf[..n], at)?;
            h.update(&buf[..n]);
            at += n as u64;
        }
        let sum = *h.finalize().as_bytes();
        if sum != self.checksum {
            return Err(Error::PackChecksum {
                path: self.path.clone(),
                expected: hex::encode(self.checksum),
                found: hex::encode(sum),
            });
        }
        if self.path.file_name().and_then(|n| n.to_str()) != Some(&file_name(&sum)) {
            return Err(bad(&self.path, "name is not its checksum"));
        }
        Ok(())
    }
}

/// `id` in a run of entries sorted by digest.
fn find_in(entries: &[Entry], id: &ObjectId) -> Option<Entry> {
    let start = entries.partition_point(|e| e.id.digest < id.digest);
    entries[start..]
        .iter()
        .take_while(|e| e.id.digest == id.digest)
        .find(|e| e.id == *id)
        .cloned()
}

fn read_exact_at(file: &File, path: &Path, buf: &mut [u8], at: u64) -> Result<(), Error> {
    file.read_exact_at(buf, at)
        .map_err(|e| Error::io("reading", path, e))
}

/// A pack being written: objects streamed to a file in the transaction's staging directory.
pub(crate) struct PackWriter {
    path: PathBuf,
    out: BufWriter<File>,
    hash: blake3::Hasher,
    at: u64,
    entries: Vec<(Digest, u16, u64, u64)>,
    types: Vec<ArtifactType>,
}

impl PackWriter {
    /// A new pack at `path` (a file that does not exist yet).
    pub(crate) fn create(path: PathBuf) -> Result<PackWriter, Error> {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| Error::io("creating", &path, e))?;
        Ok(PackWriter::new(file, path))
    }

    /// A new pack written to `file`, an empty file at `path`.
    fn new(file: File, path: PathBuf) -> PackWriter {
        PackWriter {
            path,
            out: BufWriter::with_capacity(1 << 20, file),
            hash: blake3::Hasher::new(),
            at: 0,
            entries: Vec::new(),
            types: Vec::new(),
        }
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.hash.update(bytes);
        self.out
            .write_all(bytes)
            .map_err(|e| Error::io("writing", &self.path, e))?;
        self.at += bytes.len() as u64;
        Ok(())
    }

    /// A new pack written to a fresh locked temp file in `tmp_dir` (kept under its temp name
    /// until [`PackWriter::finish`] moves it).
    pub(crate) fn staged(tmp_dir: &Path) -> Result<PackWriter, Error> {
        let staged = super::write::Staged::new(tmp_dir, 0o444)?;
        let (file, path) = staged
            .file
            .keep()
            .map_err(|e| Error::io("keeping", tmp_dir, e.source))?;
        Ok(PackWriter::new(file, path))
    }

    /// Appends one object (the caller never adds an id twice).
    pub(crate) fn add(&mut self, id: &ObjectId, bytes: &[u8]) -> Result<(), Error> {
        let t = match self.types.iter().position(|t| *t == id.artifact_type) {
            Some(t) => t,
            None => {
                self.types.push(id.artifact_type.clone());
                self.types.len() - 1
            }
        };
        let offset = self.at;
        self.put(bytes)?;
        self.entries
            .push((id.digest, t as u16, offset, bytes.len() as u64));
        Ok(())
    }

    /// How many objects it holds.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Writes the index and trailer, makes the file durable, and moves it into `packs_dir`.
    pub(crate) fn finish(mut self, packs_dir: &Path) -> Result<PathBuf, Error> {
        let index_at = self.at;
        let types = std::mem::take(&mut self.types);
        let mut entries = std::mem::take(&mut self.entries);
        entries.sort_by(|a, b| {
            (a.0, types[a.1 as usize].as_str()).cmp(&(b.0, types[b.1 as usize].as_str()))
        });
        let mut index = Vec::with_capacity(2 + FANOUT + entries.len() * ENTRY + 64 * types.len());
        index.extend_from_slice(&(types.len() as u16).to_le_bytes());
        for t in &types {
            index.push(t.as_str().len() as u8);
            index.extend_from_slice(t.as_str().as_bytes());
        }
        let mut fanout = [0u32; 256];
        for (d, ..) in &entries {
            fanout[d.0[0] as usize] += 1;
        }
        let mut total = 0;
        for f in &mut fanout {
            total += *f;
            *f = total;
        }
        for f in fanout {
            index.extend_from_slice(&f.to_le_bytes());
        }
        for (d, t, offset, len) in &entries {
            index.extend_from_slice(&d.0);
            index.extend_from_slice(&t.to_le_bytes());
            index.extend_from_slice(&offset.to_le_bytes());
            index.extend_from_slice(&len.to_le_bytes());
        }
        self.put(&index)?;
        let sum = *self.hash.finalize().as_bytes();
        let mut trailer = Vec::with_capacity(TRAILER as usize);
        trailer.extend_from_slice(MAGIC);
        trailer.extend_from_slice(&VERSION.to_le_bytes());
        trailer.extend_from_slice(&0u32.to_le_bytes());
        trailer.extend_from_slice(&index_at.to_le_bytes());
        trailer.extend_from_slice(&(entries.len() as u64).to_le_bytes());
        trailer.extend_from_slice(&sum);
        let path = self.path;
        let file = self
            .out
            .into_inner()
            .map_err(|e| Error::io("writing", &path, e.into_error()))?;
        (&file)
            .write_all(&trailer)
            .and_then(|()| file.sync_data())
            .map_err(|e| Error::io("writing", &path, e))?;
        super::write::create_dir_all_synced(packs_dir)?;
        let dest = packs_dir.join(file_name(&sum));
        match crate::fs::rename_noreplace(&path, &dest) {
            Ok(()) => {}
            // The same objects in the same order: the pack is there already.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let _ = std::fs::remove_file(&path);
            }
            Err(e) => return Err(Error::io("moving a pack to", &dest, e)),
        }
        Ok(dest)
    }
}

impl super::Repo {
    /// Replaces `pack` with a pack of the objects `keep` accepts, or deletes it when none is
    /// kept. The new pack is in place before the old one goes, so a reader always finds what
    /// is kept. Returns the bytes of the objects dropped.
    pub fn repack(&self, pack: &Pack, keep: impl Fn(&ObjectId) -> bool) -> Result<u64, Error> {
        let (kept, dropped): (Vec<Entry>, Vec<Entry>) =
            pack.entries()?.into_iter().partition(|e| keep(&e.id));
        if dropped.is_empty() {
            return Ok(0);
        }
        if !kept.is_empty() {
            let mut w = PackWriter::staged(&self.tmp_dir())?;
            for e in &kept {
                w.add(&e.id, &pack.read(e)?)?;
            }
            w.finish(&self.packs_dir())?;
        }
        match std::fs::remove_file(pack.path()) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("removing", pack.path(), e)),
        }
        super::write::sync_dir(&self.packs_dir())?;
        self.forget_packs();
        Ok(dropped.iter().map(|e| e.len).sum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(t: &str, b: u8) -> ObjectId {
        ObjectId::new(ArtifactType::new(t).unwrap(), Digest([b; 32]))
    }

    fn write(dir: &Path, objects: &[(ObjectId, &[u8])]) -> PathBuf {
        let mut w = PackWriter::create(dir.join("staged")).unwrap();
        for (id, bytes) in objects {
            w.add(id, bytes).unwrap();
        }
        w.finish(&dir.join("packs")).unwrap()
    }

    #[test]
    fn objects_are_found_by_type_and_digest_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let objects = [
            (id("vc", 0x80), &b"{\"a\":1}\n"[..]),
            (id("smart-asset-receipt", 0x00), b"{}\n"),
            (id("smart-asset-receipt", 0x80), b"{\"b\":2}\n"),
            (id("vc", 0xff), b"[]\n"),
        ];
        let path = write(dir.path(), &objects);
        assert!(is_pack_name(path.file_name().unwrap().to_str().unwrap()));
        let pack = Pack::open(&path).unwrap();
        pack.verify().unwrap();
        assert_eq!(pack.len(), 4);
        for (id, bytes) in &objects {
            let e = pack.find(id).unwrap().expect("packed");
            assert_eq!(pack.read(&e).unwrap(), *bytes);
        }
        // Past LOAD_AFTER lookups the index is searched in memory: same answers.
        for _ in 0..=LOAD_AFTER {
            assert_eq!(pack.find(&id("vc", 0x00)).unwrap(), None);
            assert_eq!(pack.find(&id("vc", 0x7f)).unwrap(), None);
            assert_eq!(pack.find(&id("smart-asset-receipt", 0xff)).unwrap(), None);
            assert_eq!(pack.find(&objects[3].0).unwrap().unwrap().len, 3);
        }
        assert!(pack.loaded.get().is_some());
        let listed: Vec<_> = pack.entries().unwrap().into_iter().map(|e| e.id).collect();
        assert_eq!(listed[0], id("smart-asset-receipt", 0x00));
        assert_eq!(listed[1], id("smart-asset-receipt", 0x80));
        assert_eq!(listed[2], id("vc", 0x80));
    }

    #[test]
    fn repack_keeps_what_is_kept_and_drops_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let repo = super::super::Repo::init(dir.path(), &[]).unwrap();
        let t = ArtifactType::new("schema").unwrap();
        let put = |range: std::ops::Range<usize>| {
            let mut batch = super::super::Batch::new(&repo);
            let ids: Vec<ObjectId> = range
                .map(|i| batch.put_json(&t, &serde_json::json!({ "i": i })).unwrap())
                .collect();
            batch.commit().unwrap();
            ids
        };
        // A small transaction stores loose objects, a large one a pack.
        let small = put(1000..1000 + super::super::PACK_MIN - 1);
        assert!(repo.object_path(&small[0]).is_file());
        assert!(repo.packs().unwrap().is_empty());
        let ids = put(0..super::super::PACK_MIN);
        assert!(!repo.object_path(&ids[0]).exists(), "packed, not loose");
        let packs = repo.packs().unwrap();
        assert_eq!(packs.len(), 1);
        assert_eq!(packs[0].len(), super::super::PACK_MIN as u64);
        let freed = repo.repack(&packs[0], |id| *id != ids[1]).unwrap();
        assert_eq!(freed, b"{\"i\":1}\n".len() as u64);
        assert!(repo.has(&ids[0]) && !repo.has(&ids[1]) && repo.has(&ids[2]));
        assert_eq!(
            repo.read_json(&ids[2]).unwrap(),
            serde_json::json!({ "i": 2 })
        );
        let packs = repo.packs().unwrap();
        assert_eq!(packs.len(), 1);
        assert_eq!(packs[0].len(), super::super::PACK_MIN as u64 - 1);
        // Nothing kept: the pack goes.
        repo.repack(&packs[0], |_| false).unwrap();
        assert!(repo.packs().unwrap().is_empty());
        assert!(!repo.has(&ids[0]));
    }

    #[test]
    fn an_empty_pack_finds_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let pack = Pack::open(&write(dir.path(), &[])).unwrap();
        assert!(pack.is_empty());
        assert_eq!(pack.find(&id("vc", 1)).unwrap(), None);
    }

    #[test]
    fn damage_is_caught_on_open_or_by_verify() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), &[(id("vc", 7), b"{\"x\":1}\n")]);
        let good = std::fs::read(&path).unwrap();
        // A flipped body byte: the pack opens, verify names the checksum.
        let mut b = good.clone();
        b[2] ^= 1;
        std::fs::write(&path, &b).unwrap();
        let err = Pack::open(&path).unwrap().verify().unwrap_err();
        assert!(matches!(err, Error::PackChecksum { .. }), "{err}");
        assert_eq!(crate::taxonomy::Classify::code(&err), "digest.pack");
        // Cut short (a torn write): refused on open.
        std::fs::write(&path, &good[..good.len() - 10]).unwrap();
        assert!(matches!(Pack::open(&path), Err(Error::BadPack { .. })));
        // An entry pointing past the body: refused when read.
        let mut b = good.clone();
        let entry = good.len() - TRAILER as usize - ENTRY;
        b[entry + 34] = 0xff;
        std::fs::write(&path, &b).unwrap();
        assert!(matches!(
            Pack::open(&path).unwrap().find(&id("vc", 7)),
            Err(Error::BadPack { .. })
        ));
    }
}
