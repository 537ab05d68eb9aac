//! The first pass over a document: accepts exactly the JSON serde_json accepts (or less), so
//! that the emitter never meets an input error, and notes what the emitter needs to go fast.
//!
//! Anything this pass does not accept goes to serde_json, which then either words the error the
//! tree path has always given or (if this pass was stricter than it) builds the tree after all.

use crate::canon::MAX_JSON_DEPTH;

/// Containers at least this long get their end recorded, so a member value is skipped in one
/// lookup instead of a rescan; smaller ones are rescanned (cheap: they are small).
pub(super) const BIG: usize = 4096;

/// Keys serde_json's `Value` deserializer treats as its own markers (`arbitrary_precision`):
/// a document using them takes the tree path, whatever the tree path makes of them.
const SERDE_PRIVATE: &[u8] = b"$serde_json::private::";

/// What the scan learned about a well-formed document.
pub(super) struct Scanned {
    /// Offset of the root value's first byte.
    pub root: usize,
    /// `(start, closing bracket)` of every container of [`BIG`] bytes or more, by start.
    pub ends: Vec<(u32, u32)>,
    /// Whether some number has a fraction or exponent (the emitter then runs once dry first).
    pub floats: bool,
}

struct Scanner<'a> {
    text: &'a [u8],
    pos: usize,
    ends: Vec<(u32, u32)>,
    floats: bool,
    key: Vec<u8>,
}

/// Scans `text`; `None` when it is not JSON this pass accepts.
pub(super) fn scan(text: &[u8]) -> Option<Scanned> {
    // Offsets are u32; MAX_JSON_BYTES keeps every document far below.
    u32::try_from(text.len()).ok()?;
    let mut s = Scanner {
        text,
        pos: 0,
        ends: Vec::new(),
        floats: false,
        key: Vec::new(),
    };
    s.ws();
    let root = s.pos;
    s.value(0)?;
    s.ws();
    if s.pos != text.len() {
        return None;
    }
    s.ends.sort_unstable();
    Some(Scanned {
        root,
        ends: s.ends,
        floats: s.floats,
    })
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    fn ws(&mut self) {
        self.pos = skip_ws(self.text, self.pos);
    }

    fn value(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'{' => self.container(depth + 1, b'}'),
            b'[' => self.container(depth + 1, b']'),
            b'"' => self.string().map(drop),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.pos + word.len();
        (self.text.get(self.pos..end)? == word).then(|| self.pos = end)
    }

    fn number(&mut self) -> Option<()> {
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.next()? {
            b'0' => {}
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            self.digits1()?;
            self.floats = true;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            self.digits1()?;
            self.floats = true;
        }
        Some(())
    }

    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
    }

    fn digits1(&mut self) -> Option<()> {
        let start = self.pos;
        self.digits();
        (self.pos > start).then_some(())
    }

    /// An array (`close` = `]`) or object (`close` = `}`) at `depth` levels of nesting.
    fn container(&mut self, depth: usize, close: u8) -> Option<()> {
        // serde_json refuses the MAX_JSON_DEPTH-th level.
        if depth >= MAX_JSON_DEPTH {
            return None;
        }
        let start = self.pos;
        self.pos += 1;
        self.ws();
        if self.peek() == Some(close) {
            self.pos += 1;
        } else {
            loop {
                if close == b'}' {
                    self.member_key()?;
                }
                self.value(depth)?;
                self.ws();
                match self.next()? {
                    b',' => self.ws(),
                    b if b == close => break,
                    _ => return None,
                }
            }
        }
        let end = self.pos - 1;
        if end - start >= BIG {
            self.ends.push((start as u32, end as u32));
        }
        Some(())
    }

    /// `"key" :` up to the value.
    fn member_key(&mut self) -> Option<()> {
        let start = self.pos + 1;
        let escaped = self.string()?;
        let raw = &self.text[start..self.pos - 1];
        let key = if escaped {
            self.key.clear();
            decode(raw, &mut self.key)?;
            &self.key[..]
        } else {
            raw
        };
        if key.starts_with(SERDE_PRIVATE) {
            return None;
        }
        self.ws();
        (self.next()? == b':').then(|| self.ws())
    }

    /// A string at `pos` (its opening quote); whether it has escapes.
    fn string(&mut self) -> Option<bool> {
        if self.peek()? != b'"' {
            return None;
        }
        let start = self.pos + 1;
        let mut i = start;
        let mut escaped = false;
        loop {
            match *self.text.get(i)? {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    i = escape_end(self.text, i + 1)?;
                }
                0x00..=0x1f => return None,
                _ => i += 1,
            }
        }
        // Escapes are ASCII, so the raw bytes are UTF-8 exactly when the decoded string is.
        std::str::from_utf8(&self.text[start..i]).ok()?;
        self.pos = i + 1;
        Some(escaped)
    }
}

/// The offset after JSON whitespace (serde_json's four bytes) at `pos`.
pub(super) fn skip_ws(text: &[u8], mut pos: usize) -> usize {
    while matches!(text.get(pos), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        pos += 1;
    }
    pos
}

/// The offset after the escape whose letter is at `i`; `None` for a bad escape or a lone
/// surrogate.
fn escape_end(text: &[u8], i: usize) -> Option<usize> {
    match *text.get(i)? {
        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Some(i + 1),
        b'u' => match hex4(text, i + 1)? {
            0xD800..=0xDBFF => {
                let low = (text.get(i + 5..i + 7)? == b"\\u")
                    .then(|| hex4(text, i + 7))
                    .flatten()?;
                (0xDC00..=0xDFFF).contains(&low).then_some(i + 11)
            }
            0xDC00..=0xDFFF => None,
            _ => Some(i + 5),
        },
        _ => None,
    }
}

fn hex4(text: &[u8], i: usize) -> Option<u32> {
    text.get(i..i + 4)?.iter().try_fold(0u32, |acc, &b| {
        let d = (b as char).to_digit(16)?;
        Some(acc << 4 | d)
    })
}

/// Appends the decoded bytes of a string's raw contents (between the quotes) to `out`.
pub(super) fn decode(raw: &[u8], out: &mut Vec<u8>) -> Option<()> {
    let mut i = 0;
    while i < raw.len() {
        let Some(k) = raw[i..].iter().position(|&b| b == b'\\') else {
            out.extend_from_slice(&raw[i..]);
            break;
        };
        out.extend_from_slice(&raw[i..i + k]);
        i += k;
        let simple = match *raw.get(i + 1)? {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => {
                let unit = hex4(raw, i + 2)?;
                let (cp, len) = if (0xD800..=0xDBFF).contains(&unit) {
                    let low = hex4(raw, i + 8)?;
                    (
                        0x10000 + ((unit - 0xD800) << 10) + low.checked_sub(0xDC00)?,
                        12,
                    )
                } else {
                    (unit, 6)
                };
                let mut buf = [0u8; 4];
                out.extend_from_slice(char::from_u32(cp)?.encode_utf8(&mut buf).as_bytes());
                i += len;
                continue;
            }
            _ => return None,
        };
        out.push(simple);
        i += 2;
    }
    Some(())
}
