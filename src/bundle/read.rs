//! Reading a witness bundle: hostile input.
//!
//! [`BundleReader::open`] reads only the zip's central directory and rejects, before any entry
//! is decompressed: names that are absolute, contain `..`/`.`/empty components, backslashes,
//! colons or control characters; symlink entries; duplicate names (also when they differ only
//! in ASCII case, or when a file is another entry's directory); encrypted entries or methods
//! other than stored/deflate; more than [`Limits::max_entries`] entries; an entry larger than
//! [`Limits::max_entry_bytes`] or compressed more than [`Limits::max_ratio`] : 1; a total over
//! [`Limits::max_total_bytes`]; entries whose bytes overlap (or run into the central
//! directory); all entries together inflating more than [`Limits::max_bundle_ratio`] times the
//! bundle's own size. Opening an entry checks its local header against the central directory
//! and that its data ends before the next entry begins. Reads then never yield more bytes than
//! an entry declares.
//!
//! It works over any `Read + Seek` source (a file, an HTTP range reader, a FUSE backing file),
//! and touches the filesystem only in [`BundleReader::extract_to`], which writes below the one
//! directory it is given and nowhere else.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use sha2::Digest as _;

use super::{EntryDigest, Error};

/// Documented limits for reading bundles (docs/formats.md, "Witness bundles").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Entries in the central directory.
    pub max_entries: u64,
    /// Uncompressed size of one entry.
    pub max_entry_bytes: u64,
    /// Uncompressed size of all entries together.
    pub max_total_bytes: u64,
    /// Uncompressed : compressed, checked for entries above [`Limits::ratio_floor_bytes`].
    pub max_ratio: u64,
    /// Entries smaller than this are exempt from the ratio check (tiny files compress oddly);
    /// a bundle inflating to less than this in all is exempt from the whole-bundle ratio.
    pub ratio_floor_bytes: u64,
    /// All entries' uncompressed sizes together : the bundle file's size. Bounds what a bundle
    /// can make msez inflate, however its entries are arranged (docs/limits.md).
    pub max_bundle_ratio: u64,
    /// Length of an entry name in bytes.
    pub max_name_bytes: u64,
    /// Size of manifest.json for a bundle of no entries; each entry adds
    /// [`super::manifest::BYTES_PER_ENTRY`] (the manifest is parsed as a stream).
    pub max_manifest_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: 1_000_000,
            max_entry_bytes: 1 << 30,
            max_total_bytes: 16 << 30,
            max_ratio: 200,
            ratio_floor_bytes: 1 << 20,
            max_bundle_ratio: 100,
            max_name_bytes: 1024,
            max_manifest_bytes: crate::canon::MAX_JSON_BYTES as u64,
        }
    }
}

/// One file entry of a bundle, as its central directory declares it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The validated name (relative, `/`-separated).
    pub name: String,
    /// Declared uncompressed size.
    pub size: u64,
    /// Compressed size.
    pub compressed_size: u64,
    /// Declared CRC-32.
    pub crc32: u32,
    index: usize,
    /// Where the next entry's local header (or the central directory) begins: this entry's
    /// data must end there.
    end: u64,
}

/// The file entries of a bundle, by name.
#[derive(Clone, Copy)]
pub struct Index<'a> {
    entries: &'a [Entry],
    by_name: &'a HashMap<String, usize>,
}

impl<'a> Index<'a> {
    /// The position of `name` in [`BundleReader::entries`], if it is an entry.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// The file entries, in central-directory order.
    pub fn entries(&self) -> &'a [Entry] {
        self.entries
    }
}

/// An opened, structurally checked bundle.
pub struct BundleReader<R: Read + Seek> {
    archive: zip::ZipArchive<R>,
    entries: Vec<Entry>,
    by_name: HashMap<String, usize>,
    limits: Limits,
}

fn zip_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Zip {
        what: what.to_string(),
        reason: e.to_string(),
    }
}

/// A failed read: the network under an HTTP range reader is I/O (74), anything else in the
/// bytes is a malformed zip (65).
pub(crate) fn read_err(what: &str, e: std::io::Error) -> Error {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<super::http::Transport>())
    {
        Some(t) => Error::Http {
            url: t.url.clone(),
            reason: t.reason.clone(),
        },
        None => zip_err(what, e),
    }
}

/// [`zip_err`] for the zip crate's errors, keeping transport failures I/O.
fn zip_crate_err(what: &str, e: zip::result::ZipError) -> Error {
    match e {
        zip::result::ZipError::Io(io) => read_err(what, io),
        other => zip_err(what, other),
    }
}

/// Checks one entry name; `Ok(true)` for a directory entry (ignored), `Ok(false)` for a file.
pub fn check_name(name: &str, limits: &Limits) -> Result<bool, Error> {
    let unsafe_path = |why| Error::UnsafePath {
        name: name.chars().take(200).collect(),
        why,
    };
    if name.is_empty() {
        return Err(unsafe_path("empty name"));
    }
    if name.len() as u64 > limits.max_name_bytes {
        return Err(unsafe_path("name too long"));
    }
    if name.starts_with('/') {
        return Err(unsafe_path("absolute path"));
    }
    if name.contains('\\') {
        return Err(unsafe_path("backslash in name"));
    }
    if name.contains(':') {
        return Err(unsafe_path("colon in name (drive letter or stream)"));
    }
    if name.chars().any(char::is_control) {
        return Err(unsafe_path("control character in name"));
    }
    let (body, is_dir) = match name.strip_suffix('/') {
        Some(b) => (b, true),
        None => (name, false),
    };
    for c in body.split('/') {
        match c {
            "" => return Err(unsafe_path("empty path component")),
            "." | ".." => return Err(unsafe_path("`.` or `..` component")),
            _ => {}
        }
    }
    Ok(is_dir)
}

/// Names that cannot all be extracted side by side: one differing from another only in ASCII
/// case (they collide on case-insensitive filesystems), or a file that is also a directory
/// of another entry (`a` and `a/b`).
fn check_collisions(entries: &[Entry]) -> Result<(), Error> {
    let mut folded = std::collections::HashSet::new();
    for e in entries {
        if !folded.insert(e.name.to_ascii_lowercase()) {
            return Err(Error::Duplicate {
                name: e.name.clone(),
            });
        }
    }
    for e in entries {
        let mut prefix = e.name.as_str();
        while let Some((parent, _)) = prefix.rsplit_once('/') {
            if folded.contains(&parent.to_ascii_lowercase()) {
                return Err(Error::UnsafePath {
                    name: e.name.clone(),
                    why: "a parent directory of this entry is also a file entry",
                });
            }
            prefix = parent;
        }
    }
    Ok(())
}

/// An entry's bytes in the file: (local header offset, least end of its bytes, index).
type Span = (u64, u64, usize);

/// The structural checks of one central-directory record: its span (local header offset,
/// least end of its bytes, index) and, for a file, its [`Entry`].
fn check_entry(
    f: zip::read::ZipFileEntry<'_>,
    index: usize,
    dir_start: u64,
    limits: &Limits,
) -> Result<(Span, Option<Entry>), Error> {
    let name = std::str::from_utf8(f.name_raw())
        .map_err(|_| Error::UnsafePath {
            name: String::from_utf8_lossy(f.name_raw()).into_owned(),
            why: "name is not UTF-8",
        })?
        .to_string();
    let is_dir = check_name(&name, limits)?;
    // A local header is 30 bytes, then the name, then the extra field, then the data; an
    // entry's bytes cannot be fewer than that.
    let start = f.header_start();
    let least_end = start
        .saturating_add(30)
        .saturating_add(f.name_raw().len() as u64)
        .saturating_add(f.compressed_size());
    if f.is_symlink() {
        return Err(Error::Symlink { name });
    }
    if f.encrypted() {
        return Err(zip_err(&name, "encrypted entries are not allowed"));
    }
    if !matches!(
        f.compression(),
        zip::CompressionMethod::Stored | zip::CompressionMethod::Deflated
    ) {
        return Err(zip_err(
            &name,
            "only stored and deflate entries are allowed",
        ));
    }
    let span = (start, least_end, index);
    if is_dir || f.is_dir() {
        if f.size() != 0 {
            return Err(zip_err(&name, "a directory entry with content"));
        }
        return Ok((span, None));
    }
    let (size, csize) = (f.size(), f.compressed_size());
    if size > limits.max_entry_bytes {
        return Err(Error::Limit {
            name,
            what: "uncompressed size",
            limit: limits.max_entry_bytes,
            found: size,
        });
    }
    if size > limits.ratio_floor_bytes && size / csize.max(1) > limits.max_ratio {
        return Err(Error::Limit {
            name,
            what: "compression ratio",
            limit: limits.max_ratio,
            found: size / csize.max(1),
        });
    }
    let entry = Entry {
        name,
        size,
        compressed_size: csize,
        crc32: f.crc32(),
        index,
        end: dir_start,
    };
    Ok((span, Some(entry)))
}

/// Entries may not share bytes: one stream behind many entries is how a small bundle inflates
/// to gigabytes while each entry's own ratio looks harmless. Sets each file entry's `end`.
fn check_spans<R: Read + Seek>(
    archive: &zip::ZipArchive<R>,
    mut spans: Vec<Span>,
    entries: &mut [Entry],
    dir_start: u64,
) -> Result<(), Error> {
    spans.sort_unstable();
    let name_of = |index: usize| {
        archive
            .by_index_data(index)
            .map(|f| String::from_utf8_lossy(f.name_raw()).into_owned())
            .unwrap_or_default()
    };
    for (i, &(start, least_end, index)) in spans.iter().enumerate() {
        let next = spans.get(i + 1).map_or(dir_start, |s| s.0);
        if least_end > next {
            let other = spans
                .get(i + 1)
                .map_or("the central directory".to_string(), |s| name_of(s.2));
            return Err(zip_err(
                &name_of(index),
                format!(
                    "entry bytes {start}..{least_end} overlap {other} at {next} \
                     (entries must not share bytes)"
                ),
            ));
        }
        // Entries are in archive order: find this one's file entry, if it is a file.
        if let Ok(at) = entries.binary_search_by_key(&index, |e| e.index) {
            entries[at].end = next;
        }
    }
    Ok(())
}

impl<R: Read + Seek> BundleReader<R> {
    /// Opens `reader` and checks the whole central directory against `limits`.
    pub fn open(mut reader: R, limits: Limits) -> Result<Self, Error> {
        let file_size = reader
            .seek(SeekFrom::End(0))
            .and_then(|n| reader.rewind().map(|()| n))
            .map_err(|e| read_err("(bundle)", e))?;
        let archive = zip::ZipArchive::new(reader).map_err(|e| match e {
            zip::result::ZipError::Io(io) => read_err("is not a zip", io),
            other => zip_err("is not a zip", other),
        })?;
        if archive.has_duplicate_names() {
            // The index keeps one entry per name; find the name that lost its twin.
            let mut seen = std::collections::HashSet::new();
            let dup = archive
                .file_names_raw()
                .find(|n| !seen.insert(n.to_vec()))
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .unwrap_or_default();
            return Err(Error::Duplicate { name: dup });
        }
        let count = archive.len() as u64;
        if count > limits.max_entries {
            return Err(Error::Limit {
                name: "(bundle)".into(),
                what: "entry count",
                limit: limits.max_entries,
                found: count,
            });
        }
        let mut entries = Vec::new();
        let mut by_name = HashMap::new();
        let mut total: u64 = 0;
        // (local header offset, least end of the entry's bytes, index in the archive): every
        // entry, directories too, occupies bytes. 24 bytes an entry, dropped after open.
        let mut spans: Vec<(u64, u64, usize)> = Vec::with_capacity(archive.len());
        let dir_start = archive.central_directory_start();
        for index in 0..archive.len() {
            // Central-directory data only: no local header is read (a range reader fetches
            // nothing more than the directory to decide whether the bundle is acceptable).
            let f = archive
                .by_index_data(index)
                .map_err(|e| zip_err("central directory", e))?;
            let (span, entry) = check_entry(f, index, dir_start, &limits)?;
            spans.push(span);
            if let Some(entry) = entry {
                total = total.saturating_add(entry.size);
                if total > limits.max_total_bytes {
                    return Err(Error::Limit {
                        name: entry.name,
                        what: "total uncompressed size up to entry",
                        limit: limits.max_total_bytes,
                        found: total,
                    });
                }
                by_name.insert(entry.name.clone(), entries.len());
                entries.push(entry);
            }
        }
        if total > limits.ratio_floor_bytes && total / file_size.max(1) > limits.max_bundle_ratio {
            return Err(Error::Limit {
                name: "(bundle)".into(),
                what: "whole-bundle compression ratio (all entries' sizes : the file's size)",
                limit: limits.max_bundle_ratio,
                found: total / file_size.max(1),
            });
        }
        check_spans(&archive, spans, &mut entries, dir_start)?;
        check_collisions(&entries)?;
        Ok(BundleReader {
            archive,
            entries,
            by_name,
            limits,
        })
    }

    /// The file entries, in central-directory order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The entries by name.
    pub fn index(&self) -> Index<'_> {
        Index {
            entries: &self.entries,
            by_name: &self.by_name,
        }
    }

    /// The entry named `name`, if any.
    pub fn entry(&self, name: &str) -> Option<&Entry> {
        self.by_name.get(name).map(|&i| &self.entries[i])
    }

    /// The underlying source (e.g. to read a range reader's counters).
    pub fn into_inner(self) -> R {
        self.archive.into_inner()
    }

    /// The limits this reader enforces.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// A reader over the decompressed bytes of `name` that fails rather than yield more than
    /// the declared size (the zip crate checks the CRC at the end).
    pub fn open_entry(&mut self, name: &str) -> Result<impl Read + '_, Error> {
        Ok(self.open_entry_indexed(name)?.0)
    }

    /// [`Self::open_entry`], with the entry index beside it: other entries can be looked up
    /// while this one is read.
    pub fn open_entry_indexed(&mut self, name: &str) -> Result<(impl Read + '_, Index<'_>), Error> {
        let entry = self
            .entry(name)
            .cloned()
            .ok_or_else(|| Error::NoEntry { name: name.into() })?;
        let options = zip::read::ZipReadOptions::new().enforce_header_consistency(true);
        let f = self
            .archive
            .by_index_with_options(entry.index, options)
            .map_err(|e| zip_crate_err(&entry.name, e))?;
        // The local header's extra field is only known now: the data must still end before
        // the next entry.
        let data_end = f
            .data_start()
            .map(|d| d.saturating_add(entry.compressed_size));
        if data_end.is_none_or(|end| end > entry.end) {
            return Err(zip_err(
                &entry.name,
                format!(
                    "entry data runs past {} into the next entry (entries must not share bytes)",
                    entry.end
                ),
            ));
        }
        let index = Index {
            entries: &self.entries,
            by_name: &self.by_name,
        };
        Ok((
            Bounded {
                inner: f,
                left: entry.size,
                name: entry.name,
            },
            index,
        ))
    }

    /// The whole entry, at most `max` bytes (for small documents such as the manifest).
    pub fn read_entry(&mut self, name: &str, max: u64) -> Result<Vec<u8>, Error> {
        let size = self
            .entry(name)
            .ok_or_else(|| Error::NoEntry { name: name.into() })?
            .size;
        if size > max {
            return Err(Error::Limit {
                name: name.into(),
                what: "size",
                limit: max,
                found: size,
            });
        }
        let mut buf = Vec::with_capacity(size as usize);
        self.open_entry(name)?
            .read_to_end(&mut buf)
            .map_err(|e| read_err(name, e))?;
        Ok(buf)
    }

    /// Writes every file entry below `dir` (which must exist and should be empty) and returns
    /// each entry's size and SHA-256, computed while writing. Never follows or creates links;
    /// an entry that would overwrite an existing file fails.
    pub fn extract_to(&mut self, dir: &Path) -> Result<Vec<EntryDigest>, Error> {
        let mut out = Vec::with_capacity(self.entries.len());
        let names: Vec<String> = self.entries.iter().map(|e| e.name.clone()).collect();
        let mut buf = vec![0u8; 64 * 1024];
        for name in names {
            let dest = dir.join(&name);
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent).map_err(|e| Error::io("creating", parent, e))?;
            }
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&dest)
                .map_err(|e| Error::io("creating", &dest, e))?;
            let mut hasher = sha2::Sha256::new();
            let mut bytes = 0u64;
            let mut r = self.open_entry(&name)?;
            loop {
                let n = r.read(&mut buf).map_err(|e| read_err(&name, e))?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                file.write_all(&buf[..n])
                    .map_err(|e| Error::io("writing", &dest, e))?;
                bytes += n as u64;
            }
            out.push(EntryDigest {
                path: name,
                bytes,
                sha256: hex::encode(hasher.finalize()),
            });
        }
        Ok(out)
    }
}

/// A reader that errors instead of yielding more than `left` bytes.
struct Bounded<R> {
    inner: R,
    left: u64,
    name: String,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            // One probe byte: an entry that keeps inflating past its declared size is a bomb.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{} inflates past its declared size", self.name),
                )),
            };
        }
        let cap = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..cap])?;
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_are_rejected() {
        let l = Limits::default();
        for bad in [
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            "./a",
            "C:/x",
            "a\\b",
            "a\u{0}b",
            "",
        ] {
            assert!(check_name(bad, &l).is_err(), "{bad:?}");
        }
        assert!(!check_name("artifacts/vc/ab.json", &l).unwrap());
        assert!(check_name("root/", &l).unwrap());
    }

    fn entries(names: &[&str]) -> Vec<Entry> {
        names
            .iter()
            .enumerate()
            .map(|(index, n)| Entry {
                name: n.to_string(),
                size: 0,
                compressed_size: 0,
                crc32: 0,
                index,
                end: 0,
            })
            .collect()
    }

    #[test]
    fn names_that_collide_on_disk_are_rejected() {
        check_collisions(&entries(&["a/b", "a/c", "b"])).unwrap();
        assert!(matches!(
            check_collisions(&entries(&["root/A.json", "root/a.json"])),
            Err(Error::Duplicate { .. })
        ));
        assert!(matches!(
            check_collisions(&entries(&["a", "a/b/c"])),
            Err(Error::UnsafePath { .. })
        ));
    }
}
