//! The multi-pack index, `.msez/packs/multi-pack-index`: one sorted table of every object in
//! the packs it covers, so a lookup costs one search whether there is 1 pack or 1,000.
//!
//! Derived data: it can be deleted at any time, and readers never trust it over the packs.
//! Integers are little-endian (docs/formats.md has the same table):
//!
//! ```text
//! header   "MSEZMIDX" | version u32 = 1 | n_packs u32 | n_types u32 | reserved u32 = 0
//! packs    n_packs x 32: the covered packs' BLAKE3 checksums (their names), ascending
//! types    n_types x (u8 length + ASCII name), ascending by name
//! entries  n x 54 bytes sorted by (digest, type name), each (digest, type) once:
//!              digest [32] | type (index into the names) u16 | pack (index into the
//!              checksums) u32 | offset u64 | length u64
//! fanout   256 x u32: fanout[b] = entries whose digest's first byte is <= b
//! tail     n u64 | BLAKE3 [32] of every byte before it
//! ```
//!
//! The file is written in `.msez/tmp`, fsynced, and renamed over the old one. A reader checks
//! the BLAKE3 when it opens the file; a file that does not open or does not match is not used
//! (lookups search every pack, as without one; fsck reports `digest.midx`). A covered pack
//! that is gone (repack or gc deleted it) is skipped; packs the index does not cover (added
//! since) are searched one by one after it.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::artifact::{ArtifactType, ObjectId};

use super::Error;
use super::pack::{Entry, Pack, RawEntry};

/// The file name of the multi-pack index in `.msez/packs`.
pub const FILE_NAME: &str = "multi-pack-index";

const MAGIC: &[u8; 8] = b"MSEZMIDX";
const VERSION: u32 = 1;
const HEADER: usize = 24;
const ENTRY: usize = 54;
const FANOUT: usize = 256 * 4;
const TAIL: usize = 8 + 32;
/// Indexes up to this size are kept in memory once read (the check reads them anyway);
/// larger ones are searched with one read per probe.
const KEEP_MAX: u64 = 64 << 20;
/// Index entries read at a time when streaming over a pack's index.
const CHUNK: u32 = 4096;

fn bad(path: &Path, why: &'static str) -> Error {
    Error::BadPack {
        path: path.to_path_buf(),
        why,
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// An open, checked multi-pack index.
#[derive(Debug)]
pub struct Midx {
    path: PathBuf,
    file: File,
    packs: Vec<[u8; 32]>,
    types: Vec<ArtifactType>,
    fanout: Box<[u32; 256]>,
    entries_at: u64,
    /// The entry table, when small enough to keep.
    kept: Option<Vec<u8>>,
}

/// One entry: which covered pack, where in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hit {
    /// Index into [`Midx::packs`].
    pub pack: u32,
    /// Where the bytes start in that pack.
    pub offset: u64,
    /// How many bytes.
    pub len: u64,
}

impl Midx {
    /// Opens the index at `path` and checks its BLAKE3 (reading the whole file once).
    pub fn open(path: &Path) -> Result<Midx, Error> {
        let mut file = File::open(path).map_err(|e| Error::io("opening", path, e))?;
        let size = file
            .metadata()
            .map_err(|e| Error::io("reading", path, e))?
            .len();
        if size < (HEADER + FANOUT + TAIL) as u64 {
            return Err(bad(path, "multi-pack index shorter than its header"));
        }
        let mut hasher = blake3::Hasher::new();
        let body = size - 32;
        let mut whole = Vec::new();
        if size <= KEEP_MAX {
            whole.resize(size as usize, 0);
            file.read_exact(&mut whole)
                .map_err(|e| Error::io("reading", path, e))?;
            hasher.update(&whole[..body as usize]);
        } else {
            let mut buf = vec![0u8; 1 << 20];
            let mut at = 0u64;
            while at < body {
                let n = buf.len().min((body - at) as usize);
                file.read_exact(&mut buf[..n])
                    .map_err(|e| Error::io("reading", path, e))?;
                hasher.update(&buf[..n]);
                at += n as u64;
            }
        }
        let read = |at: u64, len: usize| -> Result<Vec<u8>, Error> {
            if !whole.is_empty() {
                return Ok(whole[at as usize..at as usize + len].to_vec());
            }
            let mut b = vec![0u8; len];
            file.read_exact_at(&mut b, at)
                .map_err(|e| Error::io("reading", path, e))?;
            Ok(b)
        };
        let sum = read(body, 32)?;
        if hasher.finalize().as_bytes()[..] != sum[..] {
            return Err(bad(path, "multi-pack index does not match its checksum"));
        }
        let h = read(0, HEADER)?;
        if &h[..8] != MAGIC || u32_at(&h, 8) != VERSION {
            return Err(bad(path, "not a version 1 multi-pack index"));
        }
        let (n_packs, n_types) = (u32_at(&h, 12) as u64, u32_at(&h, 16) as u64);
        let tail_at = size - TAIL as u64;
        let count = u64_at(&read(tail_at, 8)?, 0);
        let packs_len = n_packs
            .checked_mul(32)
            .filter(|l| HEADER as u64 + l < tail_at)
            .ok_or_else(|| bad(path, "multi-pack index lists too many packs"))?;
        let packs: Vec<[u8; 32]> = read(HEADER as u64, packs_len as usize)?
            .chunks_exact(32)
            .map(|c| c.try_into().expect("32 bytes"))
            .collect();
        if packs.windows(2).any(|w| w[0] >= w[1]) {
            return Err(bad(path, "multi-pack index packs out of order"));
        }
        let mut at = HEADER as u64 + packs_len;
        let mut types = Vec::new();
        for _ in 0..n_types {
            if at >= tail_at {
                return Err(bad(path, "multi-pack index type table cut short"));
            }
            let len = read(at, 1)?[0] as usize;
            let name = read(at + 1, len)?;
            let name = std::str::from_utf8(&name)
                .ok()
                .and_then(|n| ArtifactType::new(n).ok())
                .ok_or_else(|| bad(path, "multi-pack index names an invalid type"))?;
            types.push(name);
            at += 1 + len as u64;
        }
        if types.windows(2).any(|w| w[0].as_str() >= w[1].as_str()) {
            return Err(bad(path, "multi-pack index types out of order"));
        }
        let entries_at = at;
        let fanout_at = entries_at
            .checked_add(count.saturating_mul(ENTRY as u64))
            .filter(|f| *f + FANOUT as u64 == tail_at)
            .ok_or_else(|| bad(path, "multi-pack index size does not match its count"))?;
        let f = read(fanout_at, FANOUT)?;
        let mut fanout = Box::new([0u32; 256]);
        for (i, v) in fanout.iter_mut().enumerate() {
            *v = u32_at(&f, 4 * i);
        }
        if u64::from(fanout[255]) != count || fanout.windows(2).any(|w| w[0] > w[1]) {
            return Err(bad(
                path,
                "multi-pack index fanout does not match its count",
            ));
        }
        let kept = (!whole.is_empty()).then(|| {
            whole.truncate(fanout_at as usize);
            whole.drain(..entries_at as usize);
            whole
        });
        Ok(Midx {
            path: path.to_path_buf(),
            file,
            packs,
            types,
            fanout,
            entries_at,
            kept,
        })
    }

    /// The checksums (names) of the packs it covers, ascending.
    pub fn packs(&self) -> &[[u8; 32]] {
        &self.packs
    }

    /// How many objects it lists.
    pub fn len(&self) -> u64 {
        u64::from(self.fanout[255])
    }

    /// Whether it lists none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn record(&self, i: u32, buf: &mut [u8; ENTRY]) -> Result<(), Error> {
        match &self.kept {
            Some(k) => buf.copy_from_slice(&k[i as usize * ENTRY..(i as usize + 1) * ENTRY]),
            None => self
                .file
                .read_exact_at(buf, self.entries_at + u64::from(i) * ENTRY as u64)
                .map_err(|e| Error::io("reading", &self.path, e))?,
        }
        Ok(())
    }

    /// Where `id` is among the covered packs, if it is listed.
    pub fn find(&self, id: &ObjectId) -> Result<Option<Hit>, Error> {
        let Some(t) = self
            .types
            .iter()
            .position(|t| *t == id.artifact_type)
            .and_then(|t| u16::try_from(t).ok())
        else {
            return Ok(None);
        };
        let b = id.digest.0[0] as usize;
        let (mut lo, mut hi) = (if b == 0 { 0 } else { self.fanout[b - 1] }, self.fanout[b]);
        let mut rec = [0u8; ENTRY];
        // Entries are sorted by (digest, type name) and type indexes follow name order.
        let key = (id.digest.0, t);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            self.record(mid, &mut rec)?;
            let here: ([u8; 32], u16) = (
                rec[..32].try_into().expect("32 bytes"),
                u16::from_le_bytes([rec[32], rec[33]]),
            );
            match here.cmp(&key) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => {
                    let pack = u32_at(&rec, 34);
                    if pack as usize >= self.packs.len() {
                        return Err(bad(&self.path, "multi-pack index entry names no pack"));
                    }
                    return Ok(Some(Hit {
                        pack,
                        offset: u64_at(&rec, 38),
                        len: u64_at(&rec, 46),
                    }));
                }
            }
        }
        Ok(None)
    }
}

/// The packs as lookups see them: the index and the open packs it covers (None: gone), then
/// the packs it does not cover.
#[derive(Debug, Default)]
pub(crate) struct View {
    midx: Option<Arc<Midx>>,
    covered: Vec<Option<Arc<Pack>>>,
    uncovered: Vec<Arc<Pack>>,
}

impl View {
    /// The view of `packs` through `midx` (none: every pack is searched one by one).
    pub(crate) fn new(midx: Option<Arc<Midx>>, packs: &[Arc<Pack>]) -> View {
        let Some(m) = midx else {
            return View {
                midx: None,
                covered: Vec::new(),
                uncovered: packs.to_vec(),
            };
        };
        let mut covered = vec![None; m.packs.len()];
        let mut uncovered = Vec::new();
        for p in packs {
            match m.packs.binary_search(&p.checksum()) {
                Ok(i) => covered[i] = Some(p.clone()),
                Err(_) => uncovered.push(p.clone()),
            }
        }
        View {
            midx: Some(m),
            covered,
            uncovered,
        }
    }

    /// How many packs lookups search one by one.
    pub(crate) fn uncovered(&self) -> usize {
        self.uncovered.len()
    }

    /// `id` in the packs: the index first, then the packs it does not cover. An index that
    /// cannot be read is passed over (every pack is searched).
    pub(crate) fn find(&self, id: &ObjectId) -> Result<Option<(Arc<Pack>, Entry)>, Error> {
        let mut unsure = false;
        if let Some(m) = &self.midx {
            match m.find(id) {
                Ok(Some(hit)) => match &self.covered[hit.pack as usize] {
                    Some(p)
                        if hit
                            .offset
                            .checked_add(hit.len)
                            .is_some_and(|e| e <= p.body_len()) =>
                    {
                        let entry = Entry {
                            id: id.clone(),
                            offset: hit.offset,
                            len: hit.len,
                        };
                        return Ok(Some((p.clone(), entry)));
                    }
                    // Its pack is gone (or the entry does not fit it): another covered pack
                    // may hold a copy the index did not list.
                    _ => unsure = true,
                },
                Ok(None) => {}
                Err(_) => unsure = true,
            }
        }
        let covered = self.covered.iter().flatten().filter(|_| unsure);
        for p in covered.chain(self.uncovered.iter()) {
            if let Some(e) = p.find(id)? {
                return Ok(Some((p.clone(), e)));
            }
        }
        Ok(None)
    }
}

/// Which file an open index was read from (inode, size, mtime): reopened only when it changes.
pub(crate) type Stamp = (u64, u64, i64, i64);

/// The index in `dir` as lookups use it: `previous` again when the file is the same one,
/// else the file opened and checked; None when there is none or it does not check out.
pub(crate) fn load(dir: &Path, previous: Option<(Stamp, Arc<Midx>)>) -> Option<(Stamp, Arc<Midx>)> {
    use std::os::unix::fs::MetadataExt;
    let path = dir.join(FILE_NAME);
    let m = std::fs::metadata(&path).ok()?;
    let stamp = (m.ino(), m.len(), m.mtime(), m.mtime_nsec());
    if let Some((s, midx)) = previous.filter(|(s, _)| *s == stamp) {
        return Some((s, midx));
    }
    Midx::open(&path).ok().map(|midx| (stamp, Arc::new(midx)))
}

/// A pack's index read in order, a chunk at a time.
struct Cursor<'p> {
    pack: &'p Pack,
    slot: u32,
    /// Each of the pack's type indexes as an index into the merged, sorted type table.
    ranks: Vec<u16>,
    next: u32,
    buf: std::vec::IntoIter<RawEntry>,
}

impl Cursor<'_> {
    fn pull(&mut self) -> Result<Option<RawEntry>, Error> {
        if let Some(e) = self.buf.next() {
            return Ok(Some(e));
        }
        let chunk = self.pack.raw_entries(self.next, CHUNK)?;
        self.next += chunk.len() as u32;
        self.buf = chunk.into_iter();
        Ok(self.buf.next())
    }
}

/// One object of a k-way merge over packs' indexes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Merged {
    /// The object's digest.
    pub(crate) digest: [u8; 32],
    /// Its type, an index into the merged type table.
    pub(crate) rank: u16,
    /// The pack it comes from (index into the packs given to [`merge`]).
    pub(crate) slot: u32,
    /// Where its bytes are in that pack.
    pub(crate) offset: u64,
    /// How many.
    pub(crate) len: u64,
}

/// The union of `packs`' type tables, sorted by name.
pub fn merged_types(packs: &[Arc<Pack>]) -> Vec<ArtifactType> {
    let mut types: Vec<ArtifactType> = packs.iter().flat_map(|p| p.types().to_vec()).collect();
    types.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    types.dedup();
    types
}

/// Streams every object of `packs` once, in (digest, type name) order, reading each index a
/// chunk at a time (memory stays flat in the object count); `each` gets every object once and
/// returns false to stop there (then so does this).
pub(crate) fn merge(
    packs: &[Arc<Pack>],
    types: &[ArtifactType],
    mut each: impl FnMut(Merged) -> Result<bool, Error>,
) -> Result<bool, Error> {
    let mut cursors: Vec<Cursor<'_>> = packs
        .iter()
        .enumerate()
        .map(|(slot, p)| Cursor {
            pack: p,
            slot: slot as u32,
            ranks: p
                .types()
                .iter()
                .map(|t| types.iter().position(|u| u == t).unwrap_or(0) as u16)
                .collect(),
            next: 0,
            buf: Vec::new().into_iter(),
        })
        .collect();
    let mut heap = BinaryHeap::new();
    for (i, c) in cursors.iter_mut().enumerate() {
        if let Some(e) = c.pull()? {
            heap.push(Reverse((e.digest, c.ranks[e.type_index as usize], i, e)));
        }
    }
    let mut last: Option<([u8; 32], u16)> = None;
    while let Some(Reverse((digest, rank, i, e))) = heap.pop() {
        let c = &mut cursors[i];
        if let Some(n) = c.pull()? {
            heap.push(Reverse((n.digest, c.ranks[n.type_index as usize], i, n)));
        }
        if last == Some((digest, rank)) {
            continue;
        }
        last = Some((digest, rank));
        let go = each(Merged {
            digest,
            rank,
            slot: c.slot,
            offset: e.offset,
            len: e.len,
        })?;
        if !go {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Every object of `packs` once, in (digest, type name) order, with its bytes and the index
/// of the pack they come from; `each` returns false to stop (then so does this).
pub fn merge_objects(
    packs: &[Arc<Pack>],
    types: &[ArtifactType],
    mut each: impl FnMut(ObjectId, usize, Vec<u8>) -> Result<bool, Error>,
) -> Result<bool, Error> {
    let mut reader = Reader::new(packs);
    merge(packs, types, |m| {
        let bytes = reader.read(m.slot as usize, m.offset, m.len)?;
        let id = ObjectId::new(
            types[m.rank as usize].clone(),
            crate::canon::Digest(m.digest),
        );
        each(id, m.slot as usize, bytes)
    })
}

/// Reads objects from packs: through a window of the body while a pack's objects come in
/// body order (a consolidated pack's body is in digest order); a pack read out of order (a
/// transaction's) is read whole into memory once while the bodies held stay under
/// [`HELD_MAX`], else one read per object.
pub(crate) struct Reader<'p> {
    packs: &'p [Arc<Pack>],
    windows: Vec<Window>,
    held: u64,
}

#[derive(Default)]
struct Window {
    at: u64,
    buf: Vec<u8>,
    last: u64,
    scattered: bool,
    whole: bool,
}

const WINDOW: u64 = 1 << 20;
/// Bytes of pack bodies a [`Reader`] may hold whole.
const HELD_MAX: u64 = 256 << 20;

impl<'p> Reader<'p> {
    /// A reader over `packs`.
    pub(crate) fn new(packs: &'p [Arc<Pack>]) -> Reader<'p> {
        Reader {
            packs,
            windows: packs.iter().map(|_| Window::default()).collect(),
            held: 0,
        }
    }

    /// The `len` bytes at `offset` of pack `slot`.
    pub(crate) fn read(&mut self, slot: usize, offset: u64, len: u64) -> Result<Vec<u8>, Error> {
        let pack = &self.packs[slot];
        let w = &mut self.windows[slot];
        let end = offset + len;
        if w.whole && end <= w.buf.len() as u64 {
            return Ok(w.buf[offset as usize..end as usize].to_vec());
        }
        if offset < w.last && !w.scattered {
            w.scattered = true;
            w.buf = Vec::new();
            if self.held + pack.body_len() <= HELD_MAX {
                w.buf.resize(pack.body_len() as usize, 0);
                pack.read_at(0, &mut w.buf)?;
                self.held += pack.body_len();
                w.whole = true;
                if end <= w.buf.len() as u64 {
                    return Ok(w.buf[offset as usize..end as usize].to_vec());
                }
            }
        }
        w.last = offset;
        if w.scattered || len > WINDOW {
            let mut buf = vec![0u8; len as usize];
            pack.read_at(offset, &mut buf)?;
            return Ok(buf);
        }
        if offset < w.at || end > w.at + w.buf.len() as u64 {
            let n = WINDOW.min(pack.body_len() - offset).max(len);
            w.buf.resize(n as usize, 0);
            pack.read_at(offset, &mut w.buf)?;
            w.at = offset;
        }
        let from = (offset - w.at) as usize;
        Ok(w.buf[from..from + len as usize].to_vec())
    }
}

/// Writes the index of `packs` over `dir/multi-pack-index` (or removes it when there is no
/// pack); `tmp_dir` stages the file. Returns how many objects it lists.
pub(crate) fn write(dir: &Path, tmp_dir: &Path, packs: &[Arc<Pack>]) -> Result<u64, Error> {
    let dest = dir.join(FILE_NAME);
    if packs.is_empty() {
        return match std::fs::remove_file(&dest) {
            Ok(()) => super::write::sync_dir(dir).map(|()| 0),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(Error::io("removing", &dest, e)),
        };
    }
    let mut packs = packs.to_vec();
    packs.sort_by_key(|p| p.checksum());
    packs.dedup_by_key(|p| p.checksum());
    let types = merged_types(&packs);
    let mut staged = super::write::Staged::new(tmp_dir, 0o444)?;
    let staged_path = staged.file.path().to_path_buf();
    let mut hasher = blake3::Hasher::new();
    let mut fanout = [0u32; 256];
    let mut count = 0u64;
    {
        let mut out = HashingWriter {
            out: BufWriter::with_capacity(1 << 20, staged.file.as_file_mut()),
            hasher: &mut hasher,
            path: &staged_path,
        };
        let mut head = Vec::with_capacity(HEADER + 32 * packs.len());
        head.extend_from_slice(MAGIC);
        head.extend_from_slice(&VERSION.to_le_bytes());
        head.extend_from_slice(&(packs.len() as u32).to_le_bytes());
        head.extend_from_slice(&(types.len() as u32).to_le_bytes());
        head.extend_from_slice(&0u32.to_le_bytes());
        for p in &packs {
            head.extend_from_slice(&p.checksum());
        }
        for t in &types {
            head.push(t.as_str().len() as u8);
            head.extend_from_slice(t.as_str().as_bytes());
        }
        out.put(&head)?;
        merge(&packs, &types, |m| {
            let mut rec = [0u8; ENTRY];
            rec[..32].copy_from_slice(&m.digest);
            rec[32..34].copy_from_slice(&m.rank.to_le_bytes());
            rec[34..38].copy_from_slice(&m.slot.to_le_bytes());
            rec[38..46].copy_from_slice(&m.offset.to_le_bytes());
            rec[46..54].copy_from_slice(&m.len.to_le_bytes());
            fanout[m.digest[0] as usize] += 1;
            count += 1;
            out.put(&rec).map(|()| true)
        })?;
        if count > u64::from(u32::MAX) {
            return Err(bad(&dest, "more objects than a multi-pack index can list"));
        }
        let mut total = 0u32;
        let mut f = Vec::with_capacity(FANOUT);
        for n in fanout {
            total += n;
            f.extend_from_slice(&total.to_le_bytes());
        }
        f.extend_from_slice(&count.to_le_bytes());
        out.put(&f)?;
        out.out
            .flush()
            .map_err(|e| Error::io("writing", &staged_path, e))?;
    }
    staged
        .file
        .write_all(hasher.finalize().as_bytes())
        .map_err(|e| Error::io("writing", &staged_path, e))?;
    super::txn::crash_point("midx-staged");
    staged.persist_replace(&dest)?;
    Ok(count)
}

struct HashingWriter<'a, W: Write> {
    out: BufWriter<W>,
    hasher: &'a mut blake3::Hasher,
    path: &'a Path,
}

impl<W: Write> HashingWriter<'_, W> {
    fn put(&mut self, b: &[u8]) -> Result<(), Error> {
        self.hasher.update(b);
        self.out
            .write_all(b)
            .map_err(|e| Error::io("writing", self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::super::pack::PackWriter;
    use super::*;
    use crate::canon::Digest;

    fn id(t: &str, b: u8, c: u8) -> ObjectId {
        let mut d = [b; 32];
        d[31] = c;
        ObjectId::new(ArtifactType::new(t).unwrap(), Digest(d))
    }

    fn pack(dir: &Path, n: usize, objects: &[(ObjectId, Vec<u8>)]) -> Arc<Pack> {
        let mut w = PackWriter::create(dir.join(format!("staged{n}"))).unwrap();
        for (id, bytes) in objects {
            w.add(id, bytes).unwrap();
        }
        Arc::new(Pack::open(&w.finish(&dir.join("packs")).unwrap()).unwrap())
    }

    #[test]
    fn lookups_through_the_index_match_the_packs_and_damage_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("tmp")).unwrap();
        let mut all = Vec::new();
        let mut packs = Vec::new();
        for n in 0..5u8 {
            let objects: Vec<(ObjectId, Vec<u8>)> = (0..40u8)
                .map(|i| {
                    let t = if i % 3 == 0 { "vc" } else { "schema" };
                    let o = id(t, i.wrapping_mul(37).wrapping_add(n), n);
                    (o, format!("{{\"n\":{n},\"i\":{i}}}\n").into_bytes())
                })
                .collect();
            packs.push(pack(dir.path(), n as usize, &objects));
            all.extend(objects);
        }
        // The same object in two packs is listed once.
        packs.push(pack(dir.path(), 9, &all[..3]));
        let pdir = dir.path().join("packs");
        let n = write(&pdir, &dir.path().join("tmp"), &packs).unwrap();
        assert_eq!(n, all.len() as u64);
        let m = Arc::new(Midx::open(&pdir.join(FILE_NAME)).unwrap());
        assert_eq!(m.packs().len(), 6);
        let view = View::new(Some(m.clone()), &packs);
        assert_eq!(view.uncovered(), 0);
        for (id, bytes) in &all {
            let (p, e) = view.find(id).unwrap().expect("listed");
            assert_eq!(&p.read(&e).unwrap(), bytes);
        }
        assert!(view.find(&id("vc", 1, 200)).unwrap().is_none());
        assert!(view.find(&id("other", 0, 0)).unwrap().is_none());
        // A covered pack that is gone: its objects are looked for in the others.
        let view = View::new(Some(m), &packs[1..]);
        assert!(view.find(&all[50].0).unwrap().is_some());
        assert!(
            view.find(&all[0].0).unwrap().is_some(),
            "in the last pack too"
        );
        assert!(view.find(&all[10].0).unwrap().is_none());
        // A flipped byte or a cut: refused on open.
        let path = pdir.join(FILE_NAME);
        let good = std::fs::read(&path).unwrap();
        let mut b = good.clone();
        b[good.len() / 2] ^= 1;
        std::fs::write(&path, &b).unwrap();
        assert!(matches!(Midx::open(&path), Err(Error::BadPack { .. })));
        std::fs::write(&path, &good[..good.len() - 7]).unwrap();
        assert!(matches!(Midx::open(&path), Err(Error::BadPack { .. })));
    }
}
