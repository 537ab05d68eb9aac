//! Canonical JSON straight from a document's bytes, without a [`Value`] tree.
//!
//! A tree of a large document costs about 13 times its size (every string, number and map node
//! its own allocation). Here the document is scanned once against serde_json's grammar, then
//! written in canonical order from the input buffer itself: arrays in order, each object's
//! members collected as offsets (12-20 bytes each, only for the objects on the current path),
//! sorted, and their values written one after another. The output goes to the writer (a
//! hasher, stdout) as it is produced. Bytes, errors and digests are those of
//! [`parse`] + [`write_without`]: input serde_json would refuse, or that this path does not
//! handle, is handed to that tree path instead.

mod scan;

use std::io::Write;

use super::hash::Hasher;
use super::{
    Digest, Error, MAX_JSON_BYTES, Value, WriteError, parse, to_bytes_without, write_utf8,
};
use scan::{Scanned, decode, scan, skip_ws};

/// A JSON document checked and ready to canonicalize, from its bytes where it can be.
pub struct Document<'a> {
    inner: Inner<'a>,
}

enum Inner<'a> {
    Bytes(&'a [u8], Scanned),
    Tree(Value),
}

impl<'a> Document<'a> {
    /// Checks `text` as [`parse`] does (same errors), without building a tree when it can.
    pub fn parse(text: &'a [u8]) -> Result<Self, Error> {
        if text.len() > MAX_JSON_BYTES {
            return Err(Error::TooLarge {
                size: text.len(),
                limit: MAX_JSON_BYTES,
            });
        }
        let inner = match scan(text) {
            Some(scanned) => Inner::Bytes(text, scanned),
            None => Inner::Tree(parse(text)?),
        };
        Ok(Document { inner })
    }

    /// Whether the root is an object.
    pub fn is_object(&self) -> bool {
        match &self.inner {
            Inner::Bytes(text, s) => text.get(s.root) == Some(&b'{'),
            Inner::Tree(v) => v.is_object(),
        }
    }

    /// Writes the canonical bytes without the named top-level keys; on a canonicalization error
    /// nothing has been written.
    pub fn write_without<W: Write>(&self, skip: &[&str], out: &mut W) -> Result<(), WriteError> {
        match &self.inner {
            Inner::Bytes(text, s) => {
                if s.floats {
                    // A float fails only where the canonical form would show it (a duplicate
                    // key may hide it), and the error names the first in canonical order: find
                    // it before writing anything.
                    Emitter::new(text, s).run(skip, &mut std::io::sink())?;
                }
                Emitter::new(text, s).run(skip, out)
            }
            Inner::Tree(v) => Ok(out.write_all(&to_bytes_without(v, skip)?)?),
        }
    }

    /// SHA-256 of the canonical bytes without the named top-level keys.
    pub fn digest_without(&self, skip: &[&str]) -> Result<Digest, Error> {
        match &self.inner {
            Inner::Bytes(text, s) => {
                // sha2 takes whole blocks fastest; the emitter writes a token at a time.
                let mut out = std::io::BufWriter::with_capacity(1 << 16, Hasher::new());
                Emitter::new(text, s)
                    .run(skip, &mut out)
                    .map_err(|e| match e {
                        WriteError::Canon(e) => e,
                        WriteError::Io(_) => unreachable!("hashing cannot fail"),
                    })?;
                match out.into_inner() {
                    Ok(hasher) => Ok(hasher.finish()),
                    Err(_) => unreachable!("hashing cannot fail"),
                }
            }
            Inner::Tree(v) => super::digest_without(v, skip),
        }
    }

    /// The canonical bytes without the named top-level keys.
    pub fn to_bytes_without(&self, skip: &[&str]) -> Result<Vec<u8>, Error> {
        // Canonical bytes are never longer than the input (whitespace goes, escapes shrink or
        // stay), so one allocation holds them.
        let mut out = Vec::with_capacity(match &self.inner {
            Inner::Bytes(text, _) => text.len(),
            Inner::Tree(_) => 256,
        });
        self.write_without(skip, &mut out).map_err(|e| match e {
            WriteError::Canon(e) => e,
            WriteError::Io(_) => unreachable!("writing to a Vec cannot fail"),
        })?;
        Ok(out)
    }

    /// Whether the document went to the tree path (tests check the fast path is taken).
    #[doc(hidden)]
    pub fn is_streamed(&self) -> bool {
        matches!(self.inner, Inner::Bytes(..))
    }
}

/// An object member: where its key and value are.
#[derive(Clone, Copy)]
struct Member {
    key: Key,
    value: u32,
    /// Input order, so that of equal keys the last one wins.
    order: u32,
}

/// A key's bytes: a range of the input (no escapes) or of the emitter's decoded keys.
#[derive(Clone, Copy)]
enum Key {
    Raw(u32, u32),
    Decoded(u32, u32),
}

/// One step of the path to the value being written, for a float's pointer.
#[derive(Clone, Copy)]
enum Seg {
    Key(Key),
    Index(usize),
}

struct Emitter<'a, 's> {
    text: &'a [u8],
    ends: &'s [(u32, u32)],
    root: usize,
    /// The members of the objects on the current path, innermost last.
    members: Vec<Member>,
    /// Decoded keys of those members that have escapes.
    keys: Vec<u8>,
    /// A decoded string value.
    scratch: Vec<u8>,
    path: Vec<Seg>,
}

/// The scan and the emitter disagree: a bug, reported rather than panicking.
fn broken() -> Error {
    Error::Parse {
        line: 0,
        column: 0,
        message: "internal: canonical JSON scan and writer disagree".to_string(),
    }
}

fn key_bytes<'k>(text: &'k [u8], keys: &'k [u8], key: Key) -> &'k [u8] {
    match key {
        Key::Raw(a, b) => &text[a as usize..b as usize],
        Key::Decoded(a, b) => &keys[a as usize..b as usize],
    }
}

impl<'a, 's> Emitter<'a, 's> {
    fn new(text: &'a [u8], s: &'s Scanned) -> Self {
        Emitter {
            text,
            ends: &s.ends,
            root: s.root,
            members: Vec::new(),
            keys: Vec::new(),
            scratch: Vec::new(),
            path: Vec::new(),
        }
    }

    fn run<W: Write>(mut self, skip: &[&str], out: &mut W) -> Result<(), WriteError> {
        self.value(self.root, skip, out)?;
        out.flush()?;
        Ok(())
    }

    fn at(&self, pos: usize) -> Result<u8, Error> {
        self.text.get(pos).copied().ok_or_else(broken)
    }

    /// Writes the value at `pos`; returns the offset after it.
    fn value<W: Write>(
        &mut self,
        pos: usize,
        skip: &[&str],
        out: &mut W,
    ) -> Result<usize, WriteError> {
        let word = |w: &'static [u8], out: &mut W| -> Result<usize, WriteError> {
            out.write_all(w)?;
            Ok(pos + w.len())
        };
        match self.at(pos)? {
            b'{' => self.object(pos, skip, out),
            b'[' => self.array(pos, out),
            b'"' => self.string(pos, out),
            b't' => word(b"true", out),
            b'f' => word(b"false", out),
            b'n' => word(b"null", out),
            _ => self.number(pos, out),
        }
    }

    fn array<W: Write>(&mut self, pos: usize, out: &mut W) -> Result<usize, WriteError> {
        out.write_all(b"[")?;
        let mut p = skip_ws(self.text, pos + 1);
        if self.at(p)? != b']' {
            for i in 0.. {
                if i > 0 {
                    out.write_all(b",")?;
                }
                self.path.push(Seg::Index(i));
                p = skip_ws(self.text, self.value(p, &[], out)?);
                self.path.pop();
                match self.at(p)? {
                    b',' => p = skip_ws(self.text, p + 1),
                    b']' => break,
                    _ => return Err(broken().into()),
                }
            }
        }
        out.write_all(b"]")?;
        Ok(p + 1)
    }

    fn object<W: Write>(
        &mut self,
        pos: usize,
        skip: &[&str],
        out: &mut W,
    ) -> Result<usize, WriteError> {
        let (base, keys_base) = (self.members.len(), self.keys.len());
        let end = self.collect(pos)?;
        let (text, keys) = (self.text, &self.keys);
        // Code-point order is UTF-8 byte order; ties keep input order, so the last is last.
        self.members[base..].sort_unstable_by(|a, b| {
            key_bytes(text, keys, a.key)
                .cmp(key_bytes(text, keys, b.key))
                .then(a.order.cmp(&b.order))
        });
        out.write_all(b"{")?;
        let mut first = true;
        let count = self.members.len() - base;
        for i in 0..count {
            let m = self.members[base + i];
            let key = key_bytes(self.text, &self.keys, m.key);
            let overridden = self
                .members
                .get(base + i + 1)
                .is_some_and(|n| key_bytes(self.text, &self.keys, n.key) == key);
            if overridden || skip.iter().any(|s| s.as_bytes() == key) {
                continue;
            }
            if !first {
                out.write_all(b",")?;
            }
            first = false;
            write_utf8(key, out)?;
            out.write_all(b":")?;
            self.path.push(Seg::Key(m.key));
            self.value(m.value as usize, &[], out)?;
            self.path.pop();
        }
        out.write_all(b"}")?;
        self.members.truncate(base);
        self.keys.truncate(keys_base);
        Ok(end)
    }

    /// Pushes the members of the object at `pos`; returns the offset after it.
    fn collect(&mut self, pos: usize) -> Result<usize, WriteError> {
        let mut p = skip_ws(self.text, pos + 1);
        if self.at(p)? == b'}' {
            return Ok(p + 1);
        }
        for order in 0u32.. {
            let (after, escaped) = skip_string(self.text, p)?;
            let raw = &self.text[p + 1..after - 1];
            let key = if escaped {
                let start = self.keys.len() as u32;
                decode(raw, &mut self.keys).ok_or_else(broken)?;
                Key::Decoded(start, self.keys.len() as u32)
            } else {
                Key::Raw(p as u32 + 1, after as u32 - 1)
            };
            p = skip_ws(self.text, after);
            if self.at(p)? != b':' {
                return Err(broken().into());
            }
            let value = skip_ws(self.text, p + 1);
            self.members.push(Member {
                key,
                value: value as u32,
                order,
            });
            p = skip_ws(self.text, self.skip_value(value)?);
            match self.at(p)? {
                b',' => p = skip_ws(self.text, p + 1),
                b'}' => break,
                _ => return Err(broken().into()),
            }
        }
        Ok(p + 1)
    }

    /// The offset after the value at `pos`, without writing it.
    fn skip_value(&self, pos: usize) -> Result<usize, Error> {
        match self.at(pos)? {
            b'"' => Ok(skip_string(self.text, pos)?.0),
            b'{' | b'[' => {
                if let Ok(i) = self.ends.binary_search_by_key(&(pos as u32), |e| e.0) {
                    return Ok(self.ends[i].1 as usize + 1);
                }
                let mut depth = 0usize;
                let mut i = pos;
                loop {
                    match self.at(i)? {
                        b'"' => {
                            i = skip_string(self.text, i)?.0;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                return Ok(i + 1);
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
            }
            _ => Ok(pos
                + self.text[pos..]
                    .iter()
                    .position(|b| matches!(b, b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r'))
                    .unwrap_or(self.text.len() - pos)),
        }
    }

    fn string<W: Write>(&mut self, pos: usize, out: &mut W) -> Result<usize, WriteError> {
        let (after, escaped) = skip_string(self.text, pos)?;
        let raw = &self.text[pos + 1..after - 1];
        if escaped {
            self.scratch.clear();
            decode(raw, &mut self.scratch).ok_or_else(broken)?;
            write_utf8(&self.scratch, out)?;
        } else {
            // Unescaped input has no quote, backslash or control byte: it is its own canonical
            // form.
            out.write_all(b"\"")?;
            out.write_all(raw)?;
            out.write_all(b"\"")?;
        }
        Ok(after)
    }

    fn number<W: Write>(&mut self, pos: usize, out: &mut W) -> Result<usize, WriteError> {
        let end = self.skip_value(pos)?;
        let literal = &self.text[pos..end];
        let digits = literal.strip_prefix(b"-").unwrap_or(literal);
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return Err(Error::Float {
                number: serde_float_text(literal),
                pointer: self.pointer(),
            }
            .into());
        }
        // Python parses -0 as the integer 0.
        if digits.iter().all(|&b| b == b'0') {
            out.write_all(b"0")?;
        } else {
            out.write_all(literal)?;
        }
        Ok(end)
    }

    fn pointer(&self) -> String {
        if self.path.is_empty() {
            return "/".to_string();
        }
        self.path
            .iter()
            .map(|s| match *s {
                Seg::Key(k) => format!(
                    "/{}",
                    String::from_utf8_lossy(key_bytes(self.text, &self.keys, k))
                ),
                Seg::Index(i) => format!("/{i}"),
            })
            .collect()
    }
}

/// A float literal as serde_json's `arbitrary_precision` keeps it (the tree path's error shows
/// that): the exponent letter lowercase and its sign always written.
fn serde_float_text(literal: &[u8]) -> String {
    let mut text = String::with_capacity(literal.len() + 1);
    let mut bytes = literal.iter().copied().peekable();
    while let Some(b) = bytes.next() {
        if b == b'e' || b == b'E' {
            text.push('e');
            if bytes.peek().is_some_and(u8::is_ascii_digit) {
                text.push('+');
            }
        } else {
            text.push(char::from(b));
        }
    }
    text
}

/// `(offset after the closing quote, whether there are escapes)` of the string at `pos`.
fn skip_string(text: &[u8], pos: usize) -> Result<(usize, bool), Error> {
    let mut escaped = false;
    let mut i = pos + 1;
    loop {
        match text.get(i) {
            Some(b'"') => return Ok((i + 1, escaped)),
            Some(b'\\') => {
                escaped = true;
                i += 2;
            }
            Some(_) => i += 1,
            None => return Err(broken()),
        }
    }
}
