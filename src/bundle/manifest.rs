//! manifest.json, streamed both ways.
//!
//! A manifest is small except for three arrays that grow with the closure: `nodes`, `edges`
//! and `bundle.entries` (the "long arrays"; a 1M-receipt module has a 250 MB manifest). Neither
//! side ever holds one value of the whole manifest:
//!
//! - [`Parts`] writes it from the report and the entry list item by item, in the exact bytes
//!   `serde_json::to_vec_pretty` of the whole value would give (keys sorted, two-space indent),
//!   and hashes its canonical form the same way (what attestations sign).
//! - [`scan`] parses it incrementally: everything but the long arrays becomes a small
//!   "skeleton" value (the long arrays left empty), each long-array item is checked against its
//!   schema and handed to the caller one at a time, and the canonical digest is computed as the
//!   bytes go by. Canonical order is key order, so this needs a manifest whose keys come sorted
//!   (msez writes them so); any other manifest is read whole, under the fixed JSON cap.

use std::cell::Cell;
use std::io::{Read, Write};
use std::rc::Rc;
use std::sync::OnceLock;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Serialize};

use super::{EntryDigest, Error};
use crate::canon::{self, Digest, Value};
use crate::graph::{Edge, Node};

/// The schema every manifest matches.
pub const SCHEMA: &str = "artifact.graph-verify-report.schema.json";
/// Bytes of manifest allowed per zip entry on top of [`canon::MAX_JSON_BYTES`]: one node, one
/// edge and one entry line take about 1.3 KB pretty-printed.
pub const BYTES_PER_ENTRY: u64 = 4096;
/// The most the skeleton (everything but the long arrays) may take, in manifest bytes.
pub const MAX_SKELETON_BYTES: u64 = canon::MAX_JSON_BYTES as u64;

/// One of the long arrays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hole {
    /// `nodes`.
    Nodes,
    /// `edges`.
    Edges,
    /// `bundle.entries`.
    Entries,
}

impl Hole {
    /// Its JSON pointer.
    pub fn pointer(self) -> &'static str {
        match self {
            Hole::Nodes => "/nodes",
            Hole::Edges => "/edges",
            Hole::Entries => "/bundle/entries",
        }
    }
}

/// The manifest cap for a zip of `entries` entries: `floor` plus [`BYTES_PER_ENTRY`] an
/// entry, so it scales with what the bundle carries.
pub fn max_bytes(floor: u64, entries: u64) -> u64 {
    floor.saturating_add(entries.saturating_mul(BYTES_PER_ENTRY))
}

// ---------------------------------------------------------------------------------------------
// Writing

/// A manifest in parts: `skeleton` holds every field, the long arrays empty; the items come
/// from the typed slices.
pub struct Parts<'a> {
    /// The manifest value with `nodes`, `edges` (when present) and `bundle.entries` empty.
    pub skeleton: &'a Value,
    /// `nodes`.
    pub nodes: &'a [Node],
    /// `edges`, when the manifest has them.
    pub edges: Option<&'a [Edge]>,
    /// `bundle.entries`.
    pub entries: &'a [EntryDigest],
}

struct Items<'a, T>(&'a [T]);

impl<T: Serialize> Serialize for Items<'_, T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for item in self.0 {
            // Through a value, so its keys come sorted exactly as in a whole-manifest value.
            let v = serde_json::to_value(item).map_err(serde::ser::Error::custom)?;
            seq.serialize_element(&v)?;
        }
        seq.end()
    }
}

/// One object of the skeleton, with the long arrays filled in from `parts`.
struct Filled<'a> {
    value: &'a Value,
    parts: &'a Parts<'a>,
    top: bool,
}

impl Serialize for Filled<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Value::Object(map) = self.value else {
            return self.value.serialize(s);
        };
        let mut m = s.serialize_map(Some(map.len()))?;
        for (k, v) in map {
            match (self.top, k.as_str()) {
                (true, "nodes") => m.serialize_entry(k, &Items(self.parts.nodes))?,
                (true, "edges") if self.parts.edges.is_some() => {
                    m.serialize_entry(k, &Items(self.parts.edges.unwrap_or_default()))?
                }
                (true, "bundle") => m.serialize_entry(
                    k,
                    &Filled {
                        value: v,
                        parts: self.parts,
                        top: false,
                    },
                )?,
                (false, "entries") => m.serialize_entry(k, &Items(self.parts.entries))?,
                _ => m.serialize_entry(k, v)?,
            }
        }
        m.end()
    }
}

impl Parts<'_> {
    /// Writes the manifest's bytes (pretty JSON and a newline) into `out`.
    pub fn write_pretty<W: Write>(&self, out: W) -> Result<(), Error> {
        let mut out = std::io::BufWriter::with_capacity(64 * 1024, out);
        let filled = Filled {
            value: self.skeleton,
            parts: self,
            top: true,
        };
        serde_json::to_writer_pretty(&mut out, &filled).map_err(|e| Error::Zip {
            what: "manifest".into(),
            reason: e.to_string(),
        })?;
        out.write_all(b"\n").map_err(zip_io)?;
        // Not `flush`: that would flush the deflate stream under it too and change the bytes.
        out.into_inner()
            .map(drop)
            .map_err(|e| zip_io(e.into_error()))
    }

    /// SHA-256 of the manifest's canonical bytes.
    pub fn digest(&self) -> Result<Digest, Error> {
        let mut h = canon::Hasher::new();
        self.write_canonical(&mut h)?;
        Ok(h.finish())
    }

    fn write_canonical<W: Write>(&self, out: &mut W) -> Result<(), Error> {
        let Value::Object(top) = self.skeleton else {
            return canon_write(self.skeleton, out);
        };
        let io = |e: std::io::Error| Error::Zip {
            what: "manifest".into(),
            reason: e.to_string(),
        };
        out.write_all(b"{").map_err(io)?;
        for (i, (k, v)) in top.iter().enumerate() {
            if i > 0 {
                out.write_all(b",").map_err(io)?;
            }
            canon_key(k, out)?;
            match k.as_str() {
                "nodes" => canon_items(self.nodes, out)?,
                "edges" if self.edges.is_some() => {
                    canon_items(self.edges.unwrap_or_default(), out)?
                }
                "bundle" if v.is_object() => {
                    out.write_all(b"{").map_err(io)?;
                    for (j, (bk, bv)) in v.as_object().into_iter().flatten().enumerate() {
                        if j > 0 {
                            out.write_all(b",").map_err(io)?;
                        }
                        canon_key(bk, out)?;
                        if bk == "entries" {
                            canon_items(self.entries, out)?;
                        } else {
                            canon_write(bv, out)?;
                        }
                    }
                    out.write_all(b"}").map_err(io)?;
                }
                _ => canon_write(v, out)?,
            }
        }
        out.write_all(b"}").map_err(io)
    }
}

fn canon_write<W: Write>(v: &Value, out: &mut W) -> Result<(), Error> {
    canon::write(v, out).map_err(|e| match e {
        canon::WriteError::Canon(c) => Error::Canon(c),
        canon::WriteError::Io(io) => Error::Zip {
            what: "manifest".into(),
            reason: io.to_string(),
        },
    })
}

fn canon_key<W: Write>(k: &str, out: &mut W) -> Result<(), Error> {
    canon_write(&Value::String(k.to_string()), out)?;
    out.write_all(b":").map_err(|e| Error::Zip {
        what: "manifest".into(),
        reason: e.to_string(),
    })
}

fn canon_items<T: Serialize, W: Write>(items: &[T], out: &mut W) -> Result<(), Error> {
    let mut tee = CanonArray::new(out);
    for item in items {
        let v = serde_json::to_value(item).map_err(|e| Error::Zip {
            what: "manifest".into(),
            reason: e.to_string(),
        })?;
        tee.push(&v)?;
    }
    tee.end()
}

/// Writes a canonical array item by item.
struct CanonArray<'w, W: Write> {
    out: &'w mut W,
    n: u64,
}

impl<'w, W: Write> CanonArray<'w, W> {
    fn new(out: &'w mut W) -> Self {
        CanonArray { out, n: 0 }
    }

    fn push(&mut self, v: &Value) -> Result<(), Error> {
        let sep: &[u8] = if self.n == 0 { b"[" } else { b"," };
        self.out.write_all(sep).map_err(zip_io)?;
        self.n += 1;
        canon_write(v, self.out)
    }

    fn end(self) -> Result<(), Error> {
        let close: &[u8] = if self.n == 0 { b"[]" } else { b"]" };
        self.out.write_all(close).map_err(zip_io)
    }
}

fn zip_io(e: std::io::Error) -> Error {
    Error::Zip {
        what: "manifest".into(),
        reason: e.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Comparing a long array without holding it

/// A long array's canonical form, summarized: what a comparison and its message need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// SHA-256 of the canonical bytes (`null` when the field is absent).
    pub digest: Digest,
    /// Their length.
    pub len: u64,
    /// Their first bytes (up to 1 KiB), for messages.
    pub prefix: Vec<u8>,
}

const PREFIX: usize = 1024;

/// A writer that hashes, counts and keeps the first bytes.
struct Tee {
    h: canon::Hasher,
    len: u64,
    prefix: Vec<u8>,
}

impl Tee {
    fn new() -> Self {
        Tee {
            h: canon::Hasher::new(),
            len: 0,
            prefix: Vec::new(),
        }
    }

    fn finish(self) -> Summary {
        Summary {
            digest: self.h.finish(),
            len: self.len,
            prefix: self.prefix,
        }
    }
}

impl Write for Tee {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.h.write_all(buf)?;
        self.len += buf.len() as u64;
        let room = PREFIX.saturating_sub(self.prefix.len()).min(buf.len());
        self.prefix.extend_from_slice(&buf[..room]);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Summary {
    /// The summary of `items` as an array (`None`: the field is absent, `null`).
    pub fn of<T: Serialize>(items: Option<&[T]>) -> Result<Summary, Error> {
        let mut tee = Tee::new();
        match items {
            Some(items) => canon_items(items, &mut tee)?,
            None => tee.write_all(b"null").map_err(zip_io)?,
        }
        Ok(tee.finish())
    }

    /// The way a verification message shows a value: its canonical text, cut at 240
    /// characters with the full length.
    pub fn short(&self) -> String {
        let s = String::from_utf8_lossy(&self.prefix);
        if self.len > 240 {
            format!(
                "{}… ({} bytes)",
                s.chars().take(240).collect::<String>(),
                self.len
            )
        } else {
            s.into_owned()
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reading

/// What [`scan`] found.
#[derive(Debug)]
pub struct Scanned {
    /// The manifest with its long arrays empty (absent ones stay absent).
    pub skeleton: Value,
    /// SHA-256 of the whole manifest's canonical bytes.
    pub digest: Digest,
    /// `nodes` summarized.
    pub nodes: Summary,
    /// `edges` summarized.
    pub edges: Summary,
}

/// Receives each long-array item, in order, after its schema check. Index 0 starts the array
/// afresh: a manifest whose keys are out of canonical order is read a second time, whole.
pub type Sink<'s> = dyn FnMut(Hole, u64, &Value) -> Result<(), Error> + 's;

/// Counts what the parser consumes, and stops it at a cap.
struct Counted<R> {
    inner: R,
    read: Rc<Cell<u64>>,
    cap: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let total = self.read.get() + n as u64;
        self.read.set(total);
        if total > self.cap {
            return Err(std::io::Error::other("manifest over its size cap"));
        }
        Ok(n)
    }
}

struct State<'s, 'k> {
    sink: &'k mut Sink<'s>,
    canon: canon::Hasher,
    nodes: Tee,
    edges: Tee,
    skeleton: canon::Map,
    /// Keys arrived in canonical order so far (else the streamed digest is not the digest).
    sorted: bool,
    /// The first failure inside the parse (serde only carries a message out).
    failed: Option<Error>,
    read: Rc<Cell<u64>>,
    skeleton_bytes: u64,
}

impl State<'_, '_> {
    fn fail<E: de::Error>(&mut self, e: Error) -> E {
        let msg = e.to_string();
        self.failed.get_or_insert(e);
        E::custom(msg)
    }

    fn write<E: de::Error>(&mut self, bytes: &[u8]) -> Result<(), E> {
        self.canon.write_all(bytes).map_err(E::custom)
    }

    fn write_value<E: de::Error>(&mut self, v: &Value) -> Result<(), E> {
        canon_write(v, &mut self.canon).map_err(|e| self.fail(e))
    }

    fn write_key<E: de::Error>(&mut self, first: bool, k: &str) -> Result<(), E> {
        if !first {
            self.write(b",")?;
        }
        canon_key(k, &mut self.canon).map_err(|e| self.fail(e))
    }

    /// A small value: counted against the skeleton's cap.
    fn small<'de, A: MapAccess<'de>>(&mut self, map: &mut A) -> Result<Value, A::Error> {
        let before = self.read.get();
        let v: Value = map.next_value()?;
        self.skeleton_bytes += self.read.get().saturating_sub(before);
        if self.skeleton_bytes > MAX_SKELETON_BYTES {
            return Err(self.fail(Error::Limit {
                name: super::MANIFEST.into(),
                what: "size of the fields other than nodes, edges and bundle.entries",
                limit: MAX_SKELETON_BYTES,
                found: self.skeleton_bytes,
            }));
        }
        self.write_value(&v)?;
        Ok(v)
    }
}

struct Top<'a, 's, 'k>(&'a mut State<'s, 'k>);

impl<'de> DeserializeSeed<'de> for Top<'_, '_, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Top<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let st = self.0;
        st.write(b"{")?;
        let mut prev: Option<String> = None;
        while let Some(key) = map.next_key::<String>()? {
            if prev
                .as_ref()
                .is_some_and(|p| p.as_bytes() >= key.as_bytes())
            {
                st.sorted = false;
            }
            st.write_key(prev.is_none(), &key)?;
            let v = match key.as_str() {
                "nodes" => map.next_value_seed(Long(&mut *st, Hole::Nodes))?,
                "edges" => map.next_value_seed(Long(&mut *st, Hole::Edges))?,
                "bundle" => map.next_value_seed(Bundle(&mut *st))?,
                _ => st.small(&mut map)?,
            };
            st.skeleton.insert(key.clone(), v);
            prev = Some(key);
        }
        st.write(b"}")
    }
}

struct Bundle<'a, 's, 'k>(&'a mut State<'s, 'k>);

impl<'de> DeserializeSeed<'de> for Bundle<'_, '_, '_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Bundle<'_, '_, '_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("the bundle object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let st = self.0;
        let mut out = canon::Map::new();
        let mut prev: Option<String> = None;
        st.write(b"{")?;
        while let Some(key) = map.next_key::<String>()? {
            if prev
                .as_ref()
                .is_some_and(|p| p.as_bytes() >= key.as_bytes())
            {
                st.sorted = false;
            }
            st.write_key(prev.is_none(), &key)?;
            let v = if key == "entries" {
                map.next_value_seed(Long(&mut *st, Hole::Entries))?
            } else {
                st.small(&mut map)?
            };
            out.insert(key.clone(), v);
            prev = Some(key);
        }
        st.write(b"}")?;
        Ok(Value::Object(out))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Value, A::Error> {
        let v = Value::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
        self.0.write_value(&v)?;
        Ok(v)
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        let v = Value::String(s.to_string());
        self.0.write_value(&v)?;
        Ok(v)
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Value, E> {
        self.0.write_value(&Value::Bool(b))?;
        Ok(Value::Bool(b))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        self.0.write_value(&Value::Null)?;
        Ok(Value::Null)
    }
}

/// A long array: items streamed to the sink; anything else kept (the schema rejects it).
struct Long<'a, 's, 'k>(&'a mut State<'s, 'k>, Hole);

impl<'de> DeserializeSeed<'de> for Long<'_, '_, '_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Long<'_, '_, '_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let Long(st, hole) = self;
        let mut i = 0u64;
        let mut tee = Tee::new();
        st.write(b"[")?;
        tee.write_all(b"[").map_err(de::Error::custom)?;
        while let Some(item) = seq.next_element::<Value>()? {
            if i > 0 {
                st.write(b",")?;
                tee.write_all(b",").map_err(de::Error::custom)?;
            }
            check_item(hole, i, &item).map_err(|e| st.fail(e))?;
            if st.sorted {
                (st.sink)(hole, i, &item).map_err(|e| st.fail(e))?;
            }
            st.write_value(&item)?;
            if hole != Hole::Entries {
                canon_write(&item, &mut tee).map_err(|e| st.fail(e))?;
            }
            i += 1;
        }
        st.write(b"]")?;
        tee.write_all(b"]").map_err(de::Error::custom)?;
        match hole {
            Hole::Nodes => st.nodes = tee,
            Hole::Edges => st.edges = tee,
            Hole::Entries => {}
        }
        Ok(Value::Array(Vec::new()))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Value, A::Error> {
        // Also how arbitrary-precision numbers arrive.
        let v = Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
        self.0.write_value(&v)?;
        Ok(v)
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        let v = Value::String(s.to_string());
        self.0.write_value(&v)?;
        Ok(v)
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Value, E> {
        self.0.write_value(&Value::Bool(b))?;
        Ok(Value::Bool(b))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        self.0.write_value(&Value::Null)?;
        Ok(Value::Null)
    }
}

/// The item schema of each long array, compiled once.
fn item_validator(hole: Hole) -> &'static jsonschema::Validator {
    static CELLS: [OnceLock<jsonschema::Validator>; 3] = [const { OnceLock::new() }; 3];
    let i = hole as usize;
    CELLS[i].get_or_init(|| {
        let full: Value =
            serde_json::from_str(crate::schema::text(SCHEMA).unwrap_or("{}")).unwrap_or_default();
        let items = match hole {
            Hole::Nodes => &full["properties"]["nodes"]["items"],
            Hole::Edges => &full["properties"]["edges"]["items"],
            Hole::Entries => &full["properties"]["bundle"]["properties"]["entries"]["items"],
        };
        let mut schema = items.clone();
        schema["$defs"] = full["$defs"].clone();
        jsonschema::draft202012::new(&schema).expect("embedded schemas compile (tested)")
    })
}

fn check_item(hole: Hole, i: u64, item: &Value) -> Result<(), Error> {
    let errors: Vec<String> = item_validator(hole)
        .iter_errors(item)
        .take(8)
        .map(|e| format!("{}/{i}{}: {e}", hole.pointer(), e.instance_path()))
        .collect();
    if errors.is_empty() {
        return Ok(());
    }
    Err(Error::Schema(crate::schema::Error::Invalid {
        what: super::MANIFEST.into(),
        schema: SCHEMA,
        errors,
    }))
}

/// Why a streamed parse stopped: ours when we stopped it, else the parser's.
fn parse_error(e: serde_json::Error, failed: Option<Error>, over: bool, cap: u64) -> Error {
    if let Some(f) = failed {
        return f;
    }
    if over {
        return Error::Limit {
            name: super::MANIFEST.into(),
            what: "size",
            limit: cap,
            found: cap.saturating_add(1),
        };
    }
    let message = e.to_string();
    if message.starts_with("recursion limit exceeded") {
        return Error::Canon(canon::Error::TooDeep {
            pointer: format!("line {} column {}", e.line(), e.column()),
            limit: canon::MAX_JSON_DEPTH,
        });
    }
    Error::Canon(canon::Error::Parse {
        line: e.line(),
        column: e.column(),
        message: message
            .split(" at line ")
            .next()
            .unwrap_or_default()
            .to_string(),
    })
}

/// Parses the manifest from `r`, at most `cap` bytes, handing every long-array item to `sink`,
/// then checks the skeleton against the schema (a bundle manifest needs `bundle`). `None`: the
/// keys are not in canonical order, so the streamed digest is not the manifest's; parse it
/// whole (under [`canon::MAX_JSON_BYTES`]) and call [`scan_value`].
pub fn scan<R: Read>(r: R, cap: u64, sink: &mut Sink<'_>) -> Result<Option<Scanned>, Error> {
    let read = Rc::new(Cell::new(0u64));
    let mut st = State::new(sink, read.clone());
    let counted = Counted {
        inner: std::io::BufReader::with_capacity(64 * 1024, r),
        read: read.clone(),
        cap,
    };
    let mut de = serde_json::Deserializer::from_reader(counted);
    let parsed = Top(&mut st).deserialize(&mut de).and_then(|()| de.end());
    if let Err(e) = parsed {
        let over = read.get() > cap;
        return Err(parse_error(e, st.failed.take(), over, cap));
    }
    if !st.sorted {
        return Ok(None);
    }
    finish(st).map(Some)
}

/// [`scan`] over a manifest parsed whole (its keys are sorted by the value model).
pub fn scan_value(value: Value, sink: &mut Sink<'_>) -> Result<Scanned, Error> {
    let mut st = State::new(sink, Rc::new(Cell::new(0)));
    if let Err(e) = Top(&mut st).deserialize(value) {
        return Err(st.failed.take().unwrap_or_else(|| Error::Zip {
            what: "manifest".into(),
            reason: e.to_string(),
        }));
    }
    finish(st)
}

fn null_tee() -> Tee {
    let mut t = Tee::new();
    let _ = t.write_all(b"null");
    t
}

impl<'s, 'k> State<'s, 'k> {
    fn new(sink: &'k mut Sink<'s>, read: Rc<Cell<u64>>) -> Self {
        State {
            sink,
            canon: canon::Hasher::new(),
            nodes: null_tee(),
            edges: null_tee(),
            skeleton: canon::Map::new(),
            sorted: true,
            failed: None,
            read,
            skeleton_bytes: 0,
        }
    }
}

fn finish(st: State<'_, '_>) -> Result<Scanned, Error> {
    let skeleton = Value::Object(st.skeleton);
    crate::schema::validate(SCHEMA, &skeleton, super::MANIFEST)?;
    if skeleton.get("bundle").is_none_or(|b| !b.is_object()) {
        return Err(Error::Schema(crate::schema::Error::Invalid {
            what: super::MANIFEST.into(),
            schema: SCHEMA,
            errors: vec!["/: a bundle manifest needs `bundle`".into()],
        }));
    }
    Ok(Scanned {
        skeleton,
        digest: st.canon.finish(),
        nodes: st.nodes.finish(),
        edges: st.edges.finish(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (Value, Vec<Node>, Vec<Edge>, Vec<EntryDigest>) {
        let nodes: Vec<Node> = (0..3)
            .map(|i| Node {
                id: format!("vc:{i:064}"),
                artifact_type: "vc".into(),
                digest_sha256: format!("{i:064}"),
                depth: i,
                source: "root/x.json".into(),
                resolved: i != 1,
                path: Some(format!("artifacts/vc/{i:064}.json")),
                strict: None,
            })
            .collect();
        let edges = vec![Edge {
            from: "a".into(),
            to: "b".into(),
            label: "l\"q".into(),
            depth: 1,
            source: "s".into(),
        }];
        let entries = vec![EntryDigest {
            path: "README.txt".into(),
            bytes: 3,
            sha256: "ab".repeat(32),
        }];
        let skeleton = serde_json::json!({
            "type": "MSEZArtifactGraphVerifyReport",
            "generated_at": "1980-01-01T00:00:00Z",
            "bundle": {"entries": [], "format": "msez-artifact-witness-bundle", "version": 1,
                       "included_files": 1, "included_bytes": 3, "excluded": [], "truncated": false},
            "nodes": [], "edges": [], "errors": ["é\n"],
            "root": {"mode": "file", "path": "root/x.json"},
            "options": {"strict": true, "max_nodes": 10, "max_depth": 8, "emit_edges": true,
                        "store_roots": ["artifacts"]},
            "stats": {"nodes_total": 3, "edges_total": 1, "missing_total": 0,
                      "digest_mismatch_total": 0, "max_depth_seen": 2},
            "missing": [], "digest_mismatches": [],
        });
        (skeleton, nodes, edges, entries)
    }

    fn whole(s: &Value, nodes: &[Node], edges: &[Edge], entries: &[EntryDigest]) -> Value {
        let mut v = s.clone();
        v["nodes"] = serde_json::to_value(nodes).unwrap();
        v["edges"] = serde_json::to_value(edges).unwrap();
        v["bundle"]["entries"] = serde_json::to_value(entries).unwrap();
        v
    }

    #[test]
    fn streamed_bytes_and_digest_equal_the_whole_value() {
        let (s, nodes, edges, entries) = sample();
        let parts = Parts {
            skeleton: &s,
            nodes: &nodes,
            edges: Some(&edges),
            entries: &entries,
        };
        let mut bytes = Vec::new();
        parts.write_pretty(&mut bytes).unwrap();
        let v = whole(&s, &nodes, &edges, &entries);
        let mut want = serde_json::to_vec_pretty(&v).unwrap();
        want.push(b'\n');
        assert_eq!(
            String::from_utf8(bytes.clone()).unwrap(),
            String::from_utf8(want).unwrap()
        );
        assert_eq!(parts.digest().unwrap(), canon::digest_of(&v).unwrap());

        // Read back: same digest, items in order, skeleton with the arrays empty.
        let mut seen = Vec::new();
        let scanned = scan(bytes.as_slice(), max_bytes(64 << 20, 1), &mut |h, i, _| {
            seen.push((h, i));
            Ok(())
        })
        .unwrap()
        .unwrap();
        assert_eq!(scanned.digest, canon::digest_of(&v).unwrap());
        assert_eq!(seen.len(), 5);
        assert_eq!(scanned.skeleton["nodes"], serde_json::json!([]));
        assert_eq!(scanned.skeleton["errors"], v["errors"]);
        assert_eq!(scanned.nodes, Summary::of(Some(&nodes)).unwrap());
        assert_eq!(scanned.edges, Summary::of(Some(&edges)).unwrap());
        assert_ne!(scanned.nodes, Summary::of(Some(&nodes[..2])).unwrap());
    }

    #[test]
    fn unsorted_keys_fall_back_to_a_whole_parse_with_the_same_digest() {
        let (s, nodes, edges, entries) = sample();
        let v = whole(&s, &nodes, &edges, &entries);
        // Keys reversed: still the same canonical digest.
        let map = v.as_object().unwrap();
        let mut text = String::from("{");
        for (i, (k, x)) in map.iter().rev().enumerate() {
            if i > 0 {
                text.push(',');
            }
            text.push_str(&format!("{}:{}", Value::String(k.clone()), x));
        }
        text.push('}');
        let mut n = 0;
        let mut count = |_, _, _: &Value| {
            n += 1;
            Ok(())
        };
        assert!(
            scan(text.as_bytes(), max_bytes(64 << 20, 1), &mut count)
                .unwrap()
                .is_none()
        );
        let scanned = scan_value(canon::parse(text.as_bytes()).unwrap(), &mut count).unwrap();
        assert_eq!(scanned.digest, canon::digest_of(&v).unwrap());
        assert_eq!(scanned.nodes, Summary::of(Some(&nodes)).unwrap());
        assert!(n >= 5);
    }

    #[test]
    fn caps_bad_items_and_bad_json_are_refused() {
        let (s, nodes, edges, entries) = sample();
        let v = whole(&s, &nodes, &edges, &entries);
        let bytes = serde_json::to_vec(&v).unwrap();
        let e = scan(bytes.as_slice(), 100, &mut |_, _, _| Ok(())).unwrap_err();
        assert!(matches!(e, Error::Limit { .. }), "{e}");
        let mut bad = v.clone();
        bad["nodes"][1]["depth"] = serde_json::json!(-1);
        let bytes = serde_json::to_vec(&bad).unwrap();
        let e = scan(bytes.as_slice(), max_bytes(64 << 20, 1), &mut |_, _, _| {
            Ok(())
        })
        .unwrap_err();
        assert!(
            e.to_string().contains("schema") || matches!(e, Error::Schema(_)),
            "{e}"
        );
        let e = scan(&b"{\"a\":"[..], max_bytes(64 << 20, 1), &mut |_, _, _| {
            Ok(())
        })
        .unwrap_err();
        assert!(matches!(e, Error::Canon(_)), "{e}");
        let mut float = v;
        float["stats"]["nodes_total"] = serde_json::json!(1.5);
        let bytes = serde_json::to_vec(&float).unwrap();
        let e = scan(bytes.as_slice(), max_bytes(64 << 20, 1), &mut |_, _, _| {
            Ok(())
        })
        .unwrap_err();
        assert!(matches!(e, Error::Canon(canon::Error::Float { .. })), "{e}");
    }
}
