//! Canonical JSON (the MSEZ JCS subset) and the digest rule of every artifact type.
//!
//! Pure: no files, no clock. Input is parsed into [`Value`] (serde_json with
//! `arbitrary_precision`, so integers of any size stay exact and floats stay recognisable), and
//! [`to_bytes`] writes the bytes the reference's `jcs_canonicalize` writes: keys in code-point
//! order, no whitespace, Python `json.dumps(ensure_ascii=False)` string escapes, exact integers.
//! Floats and lone surrogates are rejected; `-0` is the integer 0; a duplicate key's last value
//! wins. [`digest`] holds the one table of per-type digest rules.

mod digest;
mod hash;
mod lawpack;
mod stream;

pub use digest::{DigestRule, Encoding, head_commitment, payload_sha256, rule_for};
pub(crate) use hash::Hasher;
pub use hash::{Digest, sha256};
pub use lawpack::lawpack_digest;
pub use stream::Document;

use std::io::Write;

use crate::taxonomy::{Class, Classify, Detail};

/// The JSON value model: exact integers, sorted object keys.
pub type Value = serde_json::Value;
/// A JSON object.
pub type Map = serde_json::Map<String, Value>;

/// The largest JSON document msez parses (64 MiB); larger input is refused before parsing.
pub const MAX_JSON_BYTES: usize = 64 << 20;
/// The nesting (arrays and objects) msez refuses: serde_json's recursion limit, so a document
/// parses with at most `MAX_JSON_DEPTH - 1` (127) levels.
pub const MAX_JSON_DEPTH: usize = 128;

/// Why a value could not be parsed or canonicalized.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input is not JSON (or has a lone surrogate, which cannot be encoded as UTF-8).
    #[error("invalid JSON at line {line} column {column}: {message}")]
    Parse {
        line: usize,
        column: usize,
        message: String,
    },
    /// A number with a fraction or an exponent.
    #[error("floats are not allowed in canonical JSON: {number} at {pointer}")]
    Float { number: String, pointer: String },
    /// The input is larger than [`MAX_JSON_BYTES`].
    #[error("JSON input of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    /// Nesting of [`MAX_JSON_DEPTH`] levels or more.
    #[error("JSON nesting of {limit} levels or more at {pointer}")]
    TooDeep { pointer: String, limit: usize },
    /// A field a digest rule needs is absent or has the wrong type.
    #[error("{rule}: field `{field}` {problem}")]
    Field {
        rule: &'static str,
        field: &'static str,
        problem: &'static str,
    },
    /// A digest string that is not 64 lowercase hex characters.
    #[error("not a SHA-256 hex digest: {found:?}")]
    BadDigest { found: String },
}

impl Classify for Error {
    fn class(&self) -> Class {
        Class::Schema
    }

    fn code(&self) -> &'static str {
        match self {
            Error::Parse { .. } => "schema.invalid_json",
            Error::Float { .. } => "schema.float",
            Error::TooLarge { .. } => "schema.too_large",
            Error::TooDeep { .. } => "schema.too_deep",
            Error::Field { .. } => "schema.field",
            Error::BadDigest { .. } => "schema.bad_digest",
        }
    }

    fn detail(&self) -> Detail {
        match self {
            Error::Float { number, pointer } => Detail {
                object: Some(pointer.clone()),
                ..Detail::default()
            }
            .mismatch("an integer", number),
            Error::BadDigest { found } => Detail::default().mismatch("64 lowercase hex", found),
            _ => Detail::default(),
        }
    }
}

/// Parses JSON text into the exact value model (duplicate keys: last wins).
pub fn parse(bytes: &[u8]) -> Result<Value, Error> {
    if bytes.len() > MAX_JSON_BYTES {
        return Err(Error::TooLarge {
            size: bytes.len(),
            limit: MAX_JSON_BYTES,
        });
    }
    serde_json::from_slice(bytes).map_err(|e| {
        let message = e.to_string();
        // serde_json words depth overflow as a recursion limit; say it in our terms.
        if message.starts_with("recursion limit exceeded") {
            return Error::TooDeep {
                pointer: format!("line {} column {}", e.line(), e.column()),
                limit: MAX_JSON_DEPTH,
            };
        }
        let message = message
            .split(" at line ")
            .next()
            .unwrap_or_default()
            .to_string();
        Error::Parse {
            line: e.line(),
            column: e.column(),
            message,
        }
    })
}

/// The canonical bytes of `value` (no trailing newline).
pub fn to_bytes(value: &Value) -> Result<Vec<u8>, Error> {
    to_bytes_without(value, &[])
}

/// The canonical bytes of `value` without the named top-level keys (no copy).
pub fn to_bytes_without(value: &Value, skip: &[&str]) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(256);
    write_without(value, skip, &mut out).map_err(|e| match e {
        WriteError::Canon(e) => e,
        WriteError::Io(_) => unreachable!("writing to a Vec cannot fail"),
    })?;
    Ok(out)
}

/// Parses and canonicalizes in one step.
pub fn canonicalize(bytes: &[u8]) -> Result<Vec<u8>, Error> {
    to_bytes(&parse(bytes)?)
}

/// A failure while streaming canonical bytes into a writer.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Canon(#[from] Error),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Streams the canonical bytes of `value` into `out`.
pub fn write<W: Write>(value: &Value, out: &mut W) -> Result<(), WriteError> {
    write_value(value, out, &mut Vec::new(), &[])
}

/// Streams the canonical bytes of `value` without the named top-level keys (no copy).
pub fn write_without<W: Write>(
    value: &Value,
    skip: &[&str],
    out: &mut W,
) -> Result<(), WriteError> {
    write_value(value, out, &mut Vec::new(), skip)
}

/// One step of the path to the value being written; formatted only when an error needs it.
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

fn pointer(path: &[Seg<'_>]) -> String {
    if path.is_empty() {
        return "/".to_string();
    }
    path.iter()
        .map(|s| match s {
            Seg::Key(k) => format!("/{k}"),
            Seg::Index(i) => format!("/{i}"),
        })
        .collect()
}

fn write_value<'a, W: Write>(
    value: &'a Value,
    out: &mut W,
    path: &mut Vec<Seg<'a>>,
    skip: &[&str],
) -> Result<(), WriteError> {
    if path.len() > MAX_JSON_DEPTH {
        return Err(Error::TooDeep {
            pointer: pointer(path),
            limit: MAX_JSON_DEPTH,
        }
        .into());
    }
    match value {
        Value::Null => out.write_all(b"null")?,
        Value::Bool(true) => out.write_all(b"true")?,
        Value::Bool(false) => out.write_all(b"false")?,
        Value::Number(n) => write_integer(n.as_str(), out, path)?,
        Value::String(s) => write_string(s, out)?,
        Value::Array(items) => {
            out.write_all(b"[")?;
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.write_all(b",")?;
                }
                path.push(Seg::Index(i));
                write_value(item, out, path, &[])?;
                path.pop();
            }
            out.write_all(b"]")?;
        }
        Value::Object(map) => {
            // serde_json's map is sorted already unless some crate turns on `preserve_order`;
            // code-point order is UTF-8 byte order, so sort only when the map is not.
            out.write_all(b"{")?;
            if map.keys().is_sorted_by(|a, b| a.as_bytes() <= b.as_bytes()) {
                write_members(map.iter(), out, path, skip)?;
            } else {
                let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
                write_members(entries.into_iter(), out, path, skip)?;
            }
            out.write_all(b"}")?;
        }
    }
    Ok(())
}

/// Writes `"key":value` pairs, in the order given, leaving out `skip`.
fn write_members<'a, W: Write>(
    members: impl Iterator<Item = (&'a String, &'a Value)>,
    out: &mut W,
    path: &mut Vec<Seg<'a>>,
    skip: &[&str],
) -> Result<(), WriteError> {
    let mut first = true;
    for (key, item) in members {
        if skip.contains(&key.as_str()) {
            continue;
        }
        if !first {
            out.write_all(b",")?;
        }
        first = false;
        write_string(key, out)?;
        out.write_all(b":")?;
        path.push(Seg::Key(key));
        write_value(item, out, path, &[])?;
        path.pop();
    }
    Ok(())
}

/// Writes an integer literal exactly; anything with a fraction or exponent is a float.
fn write_integer<W: Write>(literal: &str, out: &mut W, path: &[Seg<'_>]) -> Result<(), WriteError> {
    let digits = literal.strip_prefix('-').unwrap_or(literal);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::Float {
            number: literal.to_string(),
            pointer: pointer(path),
        }
        .into());
    }
    // Python parses -0 as the integer 0.
    if digits.bytes().all(|b| b == b'0') {
        out.write_all(b"0")?;
    } else {
        out.write_all(literal.as_bytes())?;
    }
    Ok(())
}

/// Writes a string the way Python's `json.dumps(ensure_ascii=False)` does.
fn write_string<W: Write>(s: &str, out: &mut W) -> Result<(), std::io::Error> {
    write_utf8(s.as_bytes(), out)
}

/// [`write_string`] of bytes already known to be UTF-8 (the streaming path's decoded strings).
fn write_utf8<W: Write>(bytes: &[u8], out: &mut W) -> Result<(), std::io::Error> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.write_all(b"\"")?;
    // Most strings (hex digests, names) need no escape at all.
    if !bytes.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\') {
        out.write_all(bytes)?;
        return out.write_all(b"\"");
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => {
                out.write_all(&bytes[start..i])?;
                out.write_all(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[(b >> 4) as usize],
                    HEX[(b & 0xf) as usize],
                ])?;
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        out.write_all(&bytes[start..i])?;
        out.write_all(escape)?;
        start = i + 1;
    }
    out.write_all(&bytes[start..])?;
    out.write_all(b"\"")
}

/// SHA-256 of the canonical bytes of `value`.
pub fn digest_of(value: &Value) -> Result<Digest, Error> {
    digest_without(value, &[])
}

/// SHA-256 of the canonical bytes of `value` without the named top-level keys (no copy).
pub fn digest_without(value: &Value, skip: &[&str]) -> Result<Digest, Error> {
    let mut hasher = hash::Hasher::new();
    write_without(value, skip, &mut hasher).map_err(|e| match e {
        WriteError::Canon(e) => e,
        WriteError::Io(_) => unreachable!("hashing cannot fail"),
    })?;
    Ok(hasher.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(text: &str) -> Result<String, Error> {
        Ok(String::from_utf8(canonicalize(text.as_bytes())?).expect("canonical bytes are UTF-8"))
    }

    #[test]
    fn keys_sort_by_code_point_not_utf16() {
        // U+FF61 sorts before U+1F600 by code point, after it by UTF-16 unit.
        assert_eq!(canon(r#"{"😀":1,"｡":2}"#).unwrap(), r#"{"｡":2,"😀":1}"#);
    }

    #[test]
    fn strings_escape_like_python() {
        assert_eq!(
            canon(r#""a\u0001\u001f\b\f\n\r\t\"\\\u007f\u2028é""#).unwrap(),
            "\"a\\u0001\\u001f\\b\\f\\n\\r\\t\\\"\\\\\u{7f}\u{2028}é\""
        );
    }

    #[test]
    fn big_integers_stay_exact() {
        assert_eq!(
            canon("[123456789012345678901234567890,-98765432109876543210]").unwrap(),
            "[123456789012345678901234567890,-98765432109876543210]"
        );
    }

    #[test]
    fn negative_zero_is_zero() {
        assert_eq!(canon("[-0]").unwrap(), "[0]");
    }

    #[test]
    fn floats_are_rejected_with_their_pointer() {
        for text in ["1.0", "{\"a\":[1e2]}", "-0.0", "1E400"] {
            assert!(matches!(canon(text), Err(Error::Float { .. })), "{text}");
        }
        match canon(r#"{"a":[0,1.5]}"#) {
            Err(Error::Float { pointer, number }) => {
                assert_eq!((pointer.as_str(), number.as_str()), ("/a/1", "1.5"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn lone_surrogates_are_rejected() {
        assert!(matches!(canon(r#""\ud800""#), Err(Error::Parse { .. })));
        assert_eq!(canon(r#""\ud83d\ude00""#).unwrap(), "\"😀\"");
    }

    #[test]
    fn duplicate_keys_last_wins() {
        assert_eq!(canon(r#"{"a":1,"a":2}"#).unwrap(), r#"{"a":2}"#);
    }

    #[test]
    fn deep_nesting_is_refused() {
        let text = "[".repeat(200) + &"]".repeat(200);
        assert!(matches!(canon(&text), Err(Error::TooDeep { .. })));
    }

    #[test]
    fn nan_and_trailing_garbage_are_not_json() {
        for text in ["NaN", "[1]x", "{\"a\":1,}", ""] {
            assert!(matches!(canon(text), Err(Error::Parse { .. })), "{text}");
        }
    }
}
