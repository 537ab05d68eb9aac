//! CARv1 export and import of an artifact closure, so content moves into any IPFS node offline
//! (docs/formats.md, "CAR files").
//!
//! Every block is a CIDv1 `raw` (0x55) block with a sha2-256 multihash of its bytes, which are
//! exactly the `.msez` file (object file or proof file). IPFS knows nothing of artifact types
//! or semantic digests, so the first block is a manifest (canonical JSON + LF, schema
//! `car-manifest.schema.json`) mapping each `(artifact_type, digest_sha256)` to its block CID.
//! The header's roots are `[root object CID, manifest CID]`.
//!
//! Import trusts nothing: every block's bytes are hashed against its CID as they stream to a
//! temp file, then every manifest entry's block must give the entry's digest under its type's
//! rule; only when all of that holds does anything enter the repository.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

pub use cid::Cid;
use serde::Serialize;
use sha2::Digest as _;

use crate::artifact::{self, ArtifactRef, ArtifactType, ObjectId};
use crate::canon::{self, Digest, Encoding, Value};
use crate::odb::{self, Repo};
use crate::taxonomy::{Class, Classify, Detail};

/// The multicodec of raw blocks.
pub const RAW: u64 = 0x55;
/// The multihash code of sha2-256.
pub const SHA2_256: u64 = 0x12;
/// The schema of the manifest block.
pub const MANIFEST_SCHEMA: &str = "car-manifest.schema.json";
/// Headers larger than this are refused (ours are about 100 bytes).
const MAX_HEADER: u64 = 1 << 20;

/// Why a CAR export or import failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Not a CARv1 file we can read, or one without an msez manifest.
    #[error("{path}: not an msez CARv1 file: {why}")]
    Format { path: String, why: String },
    /// A block whose bytes do not give the hash in its CID.
    #[error("CAR block {cid} is corrupt: its bytes hash to {found}")]
    Block {
        cid: String,
        expected: String,
        found: String,
    },
    /// A block whose bytes do not give the digest the manifest names.
    #[error("CAR block {cid} does not hold {object}: its content gives {found}")]
    Entry {
        object: String,
        cid: String,
        expected: String,
        found: String,
    },
    /// The manifest names a block the CAR does not have.
    #[error("CAR lacks block {cid} (of {object})")]
    MissingBlock { object: String, cid: String },
    /// Reading or writing a file failed.
    #[error("{what} {}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The manifest does not match its schema.
    #[error(transparent)]
    Schema(#[from] crate::schema::Error),
    /// A repository operation failed.
    #[error(transparent)]
    Odb(#[from] odb::Error),
}

impl Error {
    fn io(what: &'static str, path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            what,
            path: path.to_path_buf(),
            source,
        }
    }

    fn format(path: &Path, why: impl Into<String>) -> Self {
        Error::Format {
            path: path.display().to_string(),
            why: why.into(),
        }
    }
}

impl Classify for Error {
    fn class(&self) -> Class {
        match self {
            Error::Format { .. } => Class::Schema,
            Error::Block { .. } | Error::Entry { .. } => Class::Digest,
            Error::MissingBlock { .. } => Class::Missing,
            Error::Io { .. } => Class::Io,
            Error::Schema(e) => e.class(),
            Error::Odb(e) => e.class(),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Error::Format { .. } => "schema.car_format",
            Error::Block { .. } => "digest.car_block_mismatch",
            Error::Entry { .. } => "digest.car_entry_mismatch",
            Error::MissingBlock { .. } => "missing.car_block",
            Error::Io { .. } => "io.file",
            Error::Schema(e) => e.code(),
            Error::Odb(e) => e.code(),
        }
    }

    fn detail(&self) -> Detail {
        match self {
            Error::Format { path, why } => Detail::object(path.clone()).mismatch("CARv1", why),
            Error::Block {
                cid,
                expected,
                found,
            } => Detail::object(cid.clone()).mismatch(expected, found),
            Error::Entry {
                object,
                expected,
                found,
                ..
            } => Detail::object(object.clone()).mismatch(expected, found),
            Error::MissingBlock { object, .. } => Detail::object(object.clone()),
            Error::Io { path, .. } => Detail::path(path),
            Error::Schema(e) => e.detail(),
            Error::Odb(e) => e.detail(),
        }
    }
}

/// The CIDv1 raw / sha2-256 of a block whose SHA-256 is `sha`.
pub fn raw_cid(sha: &Digest) -> Cid {
    let mh = cid::multihash::Multihash::<64>::wrap(SHA2_256, &sha.0).expect("32 bytes fit");
    Cid::new_v1(RAW, mh)
}

/// The SHA-256 and size of a file, streamed.
fn hash_file(path: &Path) -> Result<(Digest, u64), Error> {
    let mut f = File::open(path).map_err(|e| Error::io("opening", path, e))?;
    let mut h = Hashing::new(std::io::sink());
    let n = std::io::copy(&mut f, &mut h).map_err(|e| Error::io("reading", path, e))?;
    Ok((h.finish(), n))
}

/// What an export wrote.
#[derive(Clone, Debug, Serialize)]
pub struct ExportReport {
    /// The root artifact (`TYPE:DIGEST`).
    pub root: String,
    /// The root object's block CID.
    pub root_cid: String,
    /// The manifest block's CID.
    pub manifest_cid: String,
    /// Objects in the closure (blocks besides the manifest and proofs).
    pub objects: u64,
    /// Proof files.
    pub proofs: u64,
    /// Bytes written.
    pub bytes: u64,
}

/// One block to write: its CID, where its bytes are, their size.
struct Planned {
    cid: Cid,
    source: Source,
    size: u64,
}

/// Where a block's bytes are.
enum Source {
    /// A file (a loose object, a proof file).
    File(PathBuf),
    /// A packed object, read again when it is written.
    Packed(ObjectId),
}

/// The closure of `root` in the repository: embedded ArtifactRefs and receipt prev links,
/// sorted. A member the repository lacks fails the export (the CAR would be incomplete).
pub fn closure(repo: &Repo, root: &ObjectId) -> Result<Vec<ObjectId>, Error> {
    let mut seen = HashSet::new();
    let start = vec![(root.clone(), true)];
    let mut out = crate::reach::walk(
        &Whole(repo),
        start,
        crate::reach::Require::Everything,
        &mut seen,
        &|_| false,
    )?;
    out.sort();
    Ok(out)
}

/// The repository as the walk's source for an export: every member must be stored.
struct Whole<'r>(&'r Repo);

impl crate::reach::Source for Whole<'_> {
    type Error = Error;
    fn has(&self, id: &ObjectId) -> Result<bool, Error> {
        Ok(self.0.has(id))
    }
    fn read_json(&self, id: &ObjectId) -> Result<Option<Value>, Error> {
        Ok(Some(self.0.read_json(id)?))
    }
    fn missing(&self, id: &ObjectId) -> Error {
        odb::Error::Missing {
            object: id.to_string(),
        }
        .into()
    }
}

fn varint(n: u64, out: &mut Vec<u8>) {
    let mut buf = unsigned_varint::encode::u64_buffer();
    out.extend_from_slice(unsigned_varint::encode::u64(n, &mut buf));
}

/// The DAG-CBOR header `{"roots": [...], "version": 1}` (keys in DAG-CBOR order).
fn header(roots: &[Cid]) -> Vec<u8> {
    let mut cbor = vec![0xa2, 0x65];
    cbor.extend_from_slice(b"roots");
    cbor.push(0x80 | roots.len() as u8);
    for cid in roots {
        let bytes = cid.to_bytes();
        cbor.extend_from_slice(&[0xd8, 0x2a, 0x58, bytes.len() as u8 + 1, 0x00]);
        cbor.extend_from_slice(&bytes);
    }
    cbor.push(0x67);
    cbor.extend_from_slice(b"version");
    cbor.push(0x01);
    let mut out = Vec::new();
    varint(cbor.len() as u64, &mut out);
    out.extend(cbor);
    out
}

/// Writes the closure of `root` as a CARv1 file to `out` (streamed, one block at a time).
pub fn export(repo: &Repo, root: &ObjectId, out: &Path) -> Result<ExportReport, Error> {
    let ids = closure(repo, root)?;
    let mut objects = Vec::new();
    let mut proofs = Vec::new();
    let mut plan = Vec::new();
    let mut root_cid = None;
    for id in &ids {
        let path = repo.object_path(id);
        let (sha, size, source) = if path.is_file() {
            let (sha, size) = hash_file(&path)?;
            (sha, size, Source::File(path))
        } else {
            let (bytes, _) = repo.object_bytes(id)?;
            let size = bytes.len() as u64;
            (canon::sha256(&bytes), size, Source::Packed(id.clone()))
        };
        let cid = raw_cid(&sha);
        if id == root {
            root_cid = Some(cid);
        }
        let mut entry = ref_json(id);
        entry.insert("cid".into(), Value::String(cid.to_string()));
        objects.push(Value::Object(entry));
        plan.push(Planned { cid, source, size });
        if id.artifact_type.rule().encoding() == Encoding::Json {
            for (ppath, _) in repo.proof_files(id)? {
                let Some(h) = ppath.file_stem().and_then(|s| s.to_str()) else {
                    continue;
                };
                let (sha, size) = hash_file(&ppath)?;
                let cid = raw_cid(&sha);
                let mut entry = ref_json(id);
                entry.insert("proof_sha256".into(), Value::String(h.to_string()));
                entry.insert("cid".into(), Value::String(cid.to_string()));
                proofs.push(Value::Object(entry));
                plan.push(Planned {
                    cid,
                    source: Source::File(ppath.clone()),
                    size,
                });
            }
        }
    }
    let root_cid = root_cid.expect("the closure holds its root");
    let manifest = serde_json::json!({
        "msez_car_manifest": 1,
        "root": Value::Object(ref_json(root)),
        "objects": objects,
        "proofs": proofs,
    });
    let mut manifest_bytes = canon::to_bytes(&manifest).map_err(|source| odb::Error::Canon {
        object: "the CAR manifest".into(),
        source,
    })?;
    manifest_bytes.push(b'\n');
    let manifest_cid = raw_cid(&canon::sha256(&manifest_bytes));

    let file = crate::fs::create_in_place(out).map_err(|e| Error::io(e.what, &e.path, e.source))?;
    let mut w = BufWriter::new(file);
    let put = |w: &mut BufWriter<File>, b: &[u8]| -> Result<(), Error> {
        w.write_all(b).map_err(|e| Error::io("writing", out, e))
    };
    put(&mut w, &header(&[root_cid, manifest_cid]))?;
    let frame = |cid: &Cid, size: u64| {
        let c = cid.to_bytes();
        let mut f = Vec::new();
        varint(c.len() as u64 + size, &mut f);
        f.extend(c);
        f
    };
    put(&mut w, &frame(&manifest_cid, manifest_bytes.len() as u64))?;
    put(&mut w, &manifest_bytes)?;
    for p in &plan {
        put(&mut w, &frame(&p.cid, p.size))?;
        let (n, path) = match &p.source {
            Source::File(path) => {
                let mut f = File::open(path).map_err(|e| Error::io("opening", path, e))?;
                let n = std::io::copy(&mut (&mut f).take(p.size), &mut w)
                    .map_err(|e| Error::io("copying", path, e))?;
                (n, path.clone())
            }
            Source::Packed(id) => {
                let (bytes, path) = repo.object_bytes(id)?;
                put(&mut w, &bytes[..bytes.len().min(p.size as usize)])?;
                (bytes.len() as u64, path)
            }
        };
        if n != p.size {
            return Err(Error::io(
                "copying (the object changed size)",
                &path,
                std::io::ErrorKind::UnexpectedEof.into(),
            ));
        }
    }
    w.flush().map_err(|e| Error::io("writing", out, e))?;
    w.get_ref()
        .sync_all()
        .map_err(|e| Error::io("syncing", out, e))?;
    let bytes = std::fs::metadata(out)
        .map_err(|e| Error::io("reading", out, e))?
        .len();
    Ok(ExportReport {
        root: root.to_string(),
        root_cid: root_cid.to_string(),
        manifest_cid: manifest_cid.to_string(),
        objects: ids.len() as u64,
        proofs: proofs.len() as u64,
        bytes,
    })
}

fn ref_json(id: &ObjectId) -> serde_json::Map<String, Value> {
    match serde_json::to_value(ArtifactRef::new(id)) {
        Ok(Value::Object(mut m)) => {
            m.retain(|k, _| k == "artifact_type" || k == "digest_sha256");
            m
        }
        _ => serde_json::Map::new(),
    }
}

/// A decoded CBOR item (the subset a CAR header uses).
#[derive(Debug)]
enum Cbor {
    Uint(u64),
    Bytes(Vec<u8>),
    Text(String),
    Array(Vec<Cbor>),
    Map(Vec<(Cbor, Cbor)>),
    Tag(u64, Box<Cbor>),
    Other,
}

fn cbor(b: &[u8], at: &mut usize, depth: u32) -> Option<Cbor> {
    if depth > 16 {
        return None;
    }
    let first = *b.get(*at)?;
    *at += 1;
    let (major, info) = (first >> 5, first & 0x1f);
    let arg = match info {
        0..=23 => info as u64,
        24..=27 => {
            let n = 1usize << (info - 24);
            let bytes = b.get(*at..*at + n)?;
            *at += n;
            bytes.iter().fold(0u64, |a, x| (a << 8) | *x as u64)
        }
        _ => return None,
    };
    let take = |at: &mut usize, n: u64| -> Option<Vec<u8>> {
        let n = usize::try_from(n).ok()?;
        let v = b.get(*at..at.checked_add(n)?)?.to_vec();
        *at += n;
        Some(v)
    };
    Some(match major {
        0 => Cbor::Uint(arg),
        2 => Cbor::Bytes(take(at, arg)?),
        3 => Cbor::Text(String::from_utf8(take(at, arg)?).ok()?),
        4 => Cbor::Array(
            (0..arg.min(1024))
                .map(|_| cbor(b, at, depth + 1))
                .collect::<Option<_>>()?,
        ),
        5 => Cbor::Map(
            (0..arg.min(1024))
                .map(|_| Some((cbor(b, at, depth + 1)?, cbor(b, at, depth + 1)?)))
                .collect::<Option<_>>()?,
        ),
        6 => Cbor::Tag(arg, Box::new(cbor(b, at, depth + 1)?)),
        7 => Cbor::Other,
        _ => Cbor::Other,
    })
}

/// The roots of a CARv1 header (version checked).
fn parse_header(bytes: &[u8], path: &Path) -> Result<Vec<Cid>, Error> {
    let bad = |why: &str| Error::format(path, why);
    let Some(Cbor::Map(entries)) = cbor(bytes, &mut 0, 0) else {
        return Err(bad("the header is not a CBOR map"));
    };
    let mut version = None;
    let mut roots = Vec::new();
    for (k, v) in entries {
        match (k, v) {
            (Cbor::Text(k), Cbor::Uint(n)) if k == "version" => version = Some(n),
            (Cbor::Text(k), Cbor::Array(items)) if k == "roots" => {
                for item in items {
                    let Cbor::Tag(42, inner) = item else {
                        return Err(bad("a root is not a CID (tag 42)"));
                    };
                    let Cbor::Bytes(b) = *inner else {
                        return Err(bad("a root is not a CID (tag 42)"));
                    };
                    let cid = b
                        .split_first()
                        .filter(|(z, _)| **z == 0)
                        .and_then(|(_, rest)| Cid::try_from(rest).ok())
                        .ok_or_else(|| bad("a root CID does not parse"))?;
                    roots.push(cid);
                }
            }
            _ => {}
        }
    }
    if version != Some(1) {
        return Err(bad("the header's version is not 1"));
    }
    Ok(roots)
}

/// What an import stored.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ImportReport {
    /// The root artifact the manifest names.
    pub root: String,
    /// Blocks read (every one hashed against its CID).
    pub blocks: u64,
    /// Objects newly stored.
    pub objects_stored: u64,
    /// Objects the repository had already.
    pub objects_present: u64,
    /// Proofs new to their objects.
    pub proofs_added: u64,
    /// Blocks the manifest does not name (ignored).
    pub unreferenced: u64,
}

/// A writer that hashes what passes through it (SHA-256).
pub(crate) struct Hashing<W: Write>(W, sha2::Sha256);

impl<W: Write> Hashing<W> {
    /// Hashes what is written to `inner`.
    pub(crate) fn new(inner: W) -> Self {
        Hashing(inner, sha2::Sha256::new())
    }

    /// The SHA-256 of everything written.
    pub(crate) fn finish(self) -> Digest {
        Digest(self.1.finalize().into())
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.0.write(buf)?;
        self.1.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

fn read_varint(r: &mut impl Read) -> std::io::Result<Option<u64>> {
    let mut first = [0u8; 1];
    if r.read(&mut first)? == 0 {
        return Ok(None);
    }
    let mut buf = vec![first[0]];
    while buf.last().is_some_and(|b| b & 0x80 != 0) {
        if buf.len() >= 10 {
            return Err(std::io::ErrorKind::InvalidData.into());
        }
        let mut b = [0u8; 1];
        r.read_exact(&mut b)?;
        buf.push(b[0]);
    }
    unsigned_varint::decode::u64(&buf)
        .map(|(n, _)| Some(n))
        .map_err(|_| std::io::ErrorKind::InvalidData.into())
}

/// Reads every block after the header into a file of `tmp`, each checked against its CID's
/// sha2-256 as it is written; returns the files by CID.
fn read_blocks(
    r: &mut BufReader<File>,
    car: &Path,
    tmp: &Path,
    report: &mut ImportReport,
) -> Result<BTreeMap<Cid, PathBuf>, Error> {
    let io = |e| Error::io("reading", car, e);
    let mut blocks: BTreeMap<Cid, PathBuf> = BTreeMap::new();
    while let Some(len) = read_varint(r).map_err(io)? {
        let mut limited = (&mut *r).take(len);
        let cid = Cid::read_bytes(&mut limited)
            .map_err(|e| Error::format(car, format!("a block's CID does not parse: {e}")))?;
        let mh = cid.hash();
        if mh.code() != SHA2_256 || mh.size() != 32 {
            return Err(Error::format(
                car,
                format!("block {cid} is not sha2-256 (multihash 0x{:x})", mh.code()),
            ));
        }
        let path = tmp.join(format!("{}", blocks.len()));
        let f =
            crate::fs::create_in_place(&path).map_err(|e| Error::io(e.what, &e.path, e.source))?;
        let mut w = Hashing::new(BufWriter::new(f));
        let expected_len = limited.limit();
        let n = std::io::copy(&mut limited, &mut w).map_err(io)?;
        w.flush().map_err(|e| Error::io("writing", &path, e))?;
        if n != expected_len {
            return Err(Error::format(car, format!("block {cid} is cut short")));
        }
        let found = w.finish().0;
        if found.as_slice() != mh.digest() {
            return Err(Error::Block {
                cid: cid.to_string(),
                expected: hex::encode(mh.digest()),
                found: hex::encode(found),
            });
        }
        report.blocks += 1;
        blocks.insert(cid, path);
    }
    Ok(blocks)
}

/// Reads a CARv1 file written by msez (or any tool that adds an msez manifest), verifies every
/// block and every manifest entry, then stores the artifacts and their proofs.
pub fn import(repo: &Repo, car: &Path) -> Result<ImportReport, Error> {
    let file = File::open(car).map_err(|e| Error::io("opening", car, e))?;
    let mut r = BufReader::new(file);
    let io = |e| Error::io("reading", car, e);
    let hlen = read_varint(&mut r)
        .map_err(io)?
        .ok_or_else(|| Error::format(car, "empty file"))?;
    if hlen > MAX_HEADER {
        return Err(Error::format(car, "header larger than 1 MiB"));
    }
    let mut hbytes = vec![0u8; hlen as usize];
    r.read_exact(&mut hbytes).map_err(io)?;
    let roots = parse_header(&hbytes, car)?;
    let manifest_cid = *roots
        .last()
        .ok_or_else(|| Error::format(car, "no roots (the manifest is the last root)"))?;

    // Every block goes to a temp file named by its CID once its hash checks out.
    let tmp = tempfile::Builder::new()
        .prefix("car-")
        .tempdir_in(repo.dir().join("tmp"))
        .map_err(|e| Error::io("creating a temp dir in", &repo.dir().join("tmp"), e))?;
    let mut report = ImportReport::default();
    let blocks = read_blocks(&mut r, car, tmp.path(), &mut report)?;

    let manifest_path = blocks
        .get(&manifest_cid)
        .ok_or_else(|| Error::MissingBlock {
            object: "the msez manifest".into(),
            cid: manifest_cid.to_string(),
        })?;
    let mbytes =
        std::fs::read(manifest_path).map_err(|e| Error::io("reading", manifest_path, e))?;
    let manifest = canon::parse(&mbytes)
        .map_err(|e| Error::format(car, format!("the manifest is not JSON: {e}")))?;
    crate::schema::validate(MANIFEST_SCHEMA, &manifest, "the CAR manifest")?;
    let entry_id = |e: &Value| -> Result<ObjectId, Error> {
        let t = e["artifact_type"].as_str().unwrap_or_default();
        let d = e["digest_sha256"].as_str().unwrap_or_default();
        Ok(ObjectId::new(
            ArtifactType::new(t).map_err(odb::Error::from)?,
            d.parse()
                .map_err(|_| Error::format(car, "a digest in the manifest"))?,
        ))
    };
    let block_of = |e: &Value, object: &str| -> Result<&PathBuf, Error> {
        let cid_text = e["cid"].as_str().unwrap_or_default();
        Cid::try_from(cid_text)
            .ok()
            .and_then(|c| blocks.get(&c))
            .ok_or_else(|| Error::MissingBlock {
                object: object.to_string(),
                cid: cid_text.to_string(),
            })
    };
    let root = entry_id(&manifest["root"])?;
    report.root = root.to_string();

    // Verify everything first: nothing is stored from a CAR with one bad entry.
    let mut objects = Vec::new();
    for e in manifest["objects"].as_array().into_iter().flatten() {
        let id = entry_id(e)?;
        let path = block_of(e, &id.to_string())?;
        let found = match id.artifact_type.rule() {
            canon::DigestRule::Bytes => hash_file(path)?.0,
            _ => {
                let bytes = std::fs::read(path).map_err(|err| Error::io("reading", path, err))?;
                artifact::digest_bytes(&id.artifact_type, &bytes).map_err(|err| Error::Entry {
                    object: id.to_string(),
                    cid: e["cid"].as_str().unwrap_or_default().to_string(),
                    expected: id.digest.to_hex(),
                    found: format!("no digest ({err})"),
                })?
            }
        };
        if found != id.digest {
            return Err(Error::Entry {
                object: id.to_string(),
                cid: e["cid"].as_str().unwrap_or_default().to_string(),
                expected: id.digest.to_hex(),
                found: found.to_hex(),
            });
        }
        objects.push((id, path.clone()));
    }
    if !objects.iter().any(|(id, _)| *id == root) {
        return Err(Error::MissingBlock {
            object: root.to_string(),
            cid: "(the manifest lists no block for its root)".into(),
        });
    }
    let mut proofs = Vec::new();
    for e in manifest["proofs"].as_array().into_iter().flatten() {
        let id = entry_id(e)?;
        let h = e["proof_sha256"].as_str().unwrap_or_default();
        let what = format!("proof {h} of {id}");
        let path = block_of(e, &what)?;
        let bytes = std::fs::read(path).map_err(|err| Error::io("reading", path, err))?;
        let proof = canon::parse(&bytes).ok();
        let found = proof.as_ref().and_then(|p| canon::digest_of(p).ok());
        match (proof, found) {
            (Some(p), Some(d)) if d.to_hex() == h => proofs.push((id, p)),
            (_, found) => {
                return Err(Error::Entry {
                    object: what,
                    cid: e["cid"].as_str().unwrap_or_default().to_string(),
                    expected: h.to_string(),
                    found: found
                        .map(|d| d.to_hex())
                        .unwrap_or("unparsable JSON".into()),
                });
            }
        }
    }
    let named: HashSet<&PathBuf> = objects
        .iter()
        .map(|(_, p)| p)
        .chain([manifest_path])
        .collect();
    report.unreferenced = blocks.len() as u64 - named.len() as u64 - proofs.len() as u64;

    for (id, path) in &objects {
        if repo.has(id) {
            report.objects_present += 1;
            continue;
        }
        let f = File::open(path).map_err(|e| Error::io("opening", path, e))?;
        let put = repo.put_reader(&id.artifact_type, BufReader::new(f))?;
        report.objects_stored += u64::from(put.created);
        report.proofs_added += put.proofs_added as u64;
    }
    for (id, proof) in &proofs {
        report.proofs_added += u64::from(repo.add_proof_file(id, proof)?);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_round_trips_and_names_cids_in_base32() {
        let a = raw_cid(&canon::sha256(b"a"));
        let b = raw_cid(&canon::sha256(b"b"));
        let h = header(&[a, b]);
        let (len, rest) = unsigned_varint::decode::u64(&h).unwrap();
        assert_eq!(len as usize, rest.len());
        assert_eq!(parse_header(rest, Path::new("x")).unwrap(), vec![a, b]);
        assert!(a.to_string().starts_with("bafkrei"));
    }

    #[test]
    fn a_header_of_another_version_is_refused() {
        let mut h = header(&[]);
        *h.last_mut().unwrap() = 0x02;
        let err = parse_header(&h[1..], Path::new("x")).unwrap_err();
        assert_eq!(err.code(), "schema.car_format");
    }
}
