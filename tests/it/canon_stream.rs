//! The streaming canonicalizer (`canon::Document`) against the tree path (`canon::parse` +
//! `canon::to_bytes`): same bytes, same digests, same errors, on generated documents, their
//! one-byte mutations, every JSON file under vectors/, and the rejection cases.

use msez::canon::{self, Document};
use proptest::prelude::*;

use crate::util::{Dir, vectors};

/// What a path makes of `text` with `skip` left out: the canonical bytes, or the error's code
/// and message.
fn tree(text: &[u8], skip: &[&str]) -> Result<(Vec<u8>, String), (String, String)> {
    let err = |e: canon::Error| (msez::Classify::code(&e).to_string(), e.to_string());
    let value = canon::parse(text).map_err(err)?;
    let bytes = canon::to_bytes_without(&value, skip).map_err(err)?;
    let digest = canon::digest_without(&value, skip).map_err(err)?;
    Ok((bytes, digest.to_hex()))
}

fn stream(text: &[u8], skip: &[&str]) -> Result<(Vec<u8>, String), (String, String)> {
    let err = |e: canon::Error| (msez::Classify::code(&e).to_string(), e.to_string());
    let doc = Document::parse(text).map_err(err)?;
    let bytes = doc.to_bytes_without(skip).map_err(err)?;
    let digest = doc.digest_without(skip).map_err(err)?;
    Ok((bytes, digest.to_hex()))
}

fn assert_same(text: &[u8]) {
    for skip in [&[][..], &["proof", "next_root"][..]] {
        let (want, got) = (tree(text, skip), stream(text, skip));
        assert_eq!(
            got,
            want,
            "input {:?} skip {skip:?}",
            String::from_utf8_lossy(text)
        );
        if let Ok((bytes, digest)) = &got {
            assert_eq!(canon::sha256(bytes).to_hex(), *digest);
        }
    }
}

/// A small deterministic generator (splitmix64), so proptest only has to pick seeds.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    fn ws(&mut self, out: &mut String) {
        if self.below(3) == 0 {
            out.push_str(self.pick(&[" ", "\n", "\t", "\r\n  ", "  "]));
        }
    }

    /// Key material where UTF-8 (code point) and UTF-16 orders differ, escapes, near-duplicates.
    fn string(&mut self, out: &mut String, key: bool) {
        const PIECES: &[&str] = &[
            "a",
            "b",
            "ab",
            "proof",
            "next_root",
            "Z",
            "",
            "é",
            "\u{ff61}",
            "\u{1f600}",
            "\u{e000}",
            "\u{10000}",
            "\u{2028}",
            "\u{7f}",
            "\\u00e9",
            "\\uff61",
            "\\ud83d\\ude00",
            "\\uD83D\\uDE00",
            "\\ud800\\udc00",
            "\\udbff\\udfff",
            "\\u0000",
            "\\u001f",
            "\\u0041",
            "\\n",
            "\\t",
            "\\r",
            "\\b",
            "\\f",
            "\\/",
            "\\\\",
            "\\\"",
            "~",
            "/",
            "0",
            "$serde_json",
            "\\u0022",
        ];
        out.push('"');
        let n = if key { self.below(3) } else { self.below(5) };
        for _ in 0..n {
            out.push_str(self.pick(PIECES));
        }
        out.push('"');
    }

    fn number(&mut self, out: &mut String) {
        const NUMS: &[&str] = &[
            "0",
            "-0",
            "1",
            "-1",
            "42",
            "9007199254740993",
            "-9223372036854775809",
            "18446744073709551616",
            "123456789012345678901234567890",
            "-000",
            "0.0",
            "-0.0",
            "1.5",
            "1e2",
            "1E400",
            "-1e-7",
            "2.50",
            "1E+2",
        ];
        // Floats are rare so that most documents are valid.
        let i = self.below(NUMS.len() * 4);
        out.push_str(NUMS[if i < NUMS.len() { i } else { i % 10 }]);
    }

    fn value(&mut self, out: &mut String, depth: usize) {
        let kind = if depth > 6 {
            self.below(4)
        } else {
            self.below(7)
        };
        match kind {
            0 => out.push_str(self.pick(&["true", "false", "null"])),
            1 => self.number(out),
            2 | 3 => self.string(out, false),
            4 => {
                out.push('[');
                self.ws(out);
                for i in 0..self.below(5) {
                    if i > 0 {
                        out.push(',');
                        self.ws(out);
                    }
                    self.value(out, depth + 1);
                    self.ws(out);
                }
                out.push(']');
            }
            _ => {
                out.push('{');
                self.ws(out);
                for i in 0..self.below(6) {
                    if i > 0 {
                        out.push(',');
                        self.ws(out);
                    }
                    self.string(out, true);
                    self.ws(out);
                    out.push(':');
                    self.ws(out);
                    self.value(out, depth + 1);
                    self.ws(out);
                }
                out.push('}');
            }
        }
    }

    fn document(&mut self) -> String {
        let mut out = String::new();
        self.ws(&mut out);
        self.value(&mut out, 0);
        self.ws(&mut out);
        out
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn generated_documents_canonicalize_like_the_tree_path(seed in any::<u64>()) {
        let text = Gen(seed).document();
        assert_same(text.as_bytes());
    }

    #[test]
    fn mutated_documents_are_accepted_and_refused_like_the_tree_path(
        seed in any::<u64>(),
        edits in prop::collection::vec(
            (
                any::<usize>(),
                prop::sample::select(&b"\"\\{}[],:01-.eE \n\x01\x80\xc3\xa9\xed\xffu/"[..]),
                0..4u8,
            ),
            1..4,
        ),
    ) {
        let mut text = Gen(seed).document().into_bytes();
        for (at, byte, how) in edits {
            let at = at % (text.len() + 1);
            match how {
                0 => text.insert(at, byte),
                1 if at < text.len() => { text.remove(at); }
                // A piece of the document repeated: duplicate keys, doubled escapes.
                2 if at < text.len() => {
                    let piece = text[at..(at + 8).min(text.len())].to_vec();
                    text.splice(at..at, piece);
                }
                _ if at < text.len() => text[at] = byte,
                _ => text.push(byte),
            }
        }
        assert_same(&text);
    }
}

#[test]
fn generated_documents_take_the_streaming_path() {
    let mut streamed = 0;
    for seed in 0..500 {
        let text = Gen(seed).document();
        if let Ok(doc) = Document::parse(text.as_bytes()) {
            streamed += usize::from(doc.is_streamed());
            if !text.contains("$serde_json") {
                assert!(doc.is_streamed(), "{text}");
            }
        }
    }
    assert!(streamed > 400, "{streamed} of 500");
}

#[test]
fn every_json_file_under_vectors_canonicalizes_like_the_tree_path() {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "json") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&vectors(), &mut files);
    assert!(files.len() > 50, "{} files", files.len());
    let mut inputs = 0;
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        assert_same(&bytes);
        // The canon vectors carry their input as a string; the fixtures as a value.
        let Ok(case) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
            continue;
        };
        if let Some(input) = case["input_json"].as_str() {
            assert_same(input.as_bytes());
            inputs += 1;
        }
        for list in ["test_cases", "artifacts"] {
            for item in case[list].as_array().into_iter().flatten() {
                assert_same(
                    serde_json::to_string_pretty(&item["input"])
                        .unwrap()
                        .as_bytes(),
                );
                inputs += 1;
            }
        }
    }
    assert!(inputs >= 36, "{inputs} inputs");
}

#[test]
fn rejections_match_the_tree_path() {
    let deep = |n: usize, open: &str, close: &str| open.repeat(n) + &close.repeat(n);
    let cases: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"   ".to_vec(),
        b"\xef\xbb\xbf{}".to_vec(),
        b"{\"a\":1.5}".to_vec(),
        b"{\"b\":[0,{\"c\":1e5}],\"a\":[2.0]}".to_vec(),
        // The first float in canonical order is named, not the first in the input.
        b"{\"z\":1.5,\"a\":{\"\xc3\xa9\":[0,-0.0]}}".to_vec(),
        // A float a later duplicate replaces, or under a skipped key, is not an error.
        b"{\"a\":1.5,\"a\":1}".to_vec(),
        b"{\"proof\":1.5,\"x\":1}".to_vec(),
        b"{\"a\":1,\"a\":1.5}".to_vec(),
        b"\"\\ud800\"".to_vec(),
        b"\"\\udc00\"".to_vec(),
        b"\"\\ud800\\u0041\"".to_vec(),
        b"\"\\ud800x\"".to_vec(),
        b"\"\\uZZZZ\"".to_vec(),
        b"\"\\x\"".to_vec(),
        b"\"a\x01\"".to_vec(),
        b"\"\xff\"".to_vec(),
        b"\"\xc3\"".to_vec(),
        b"\"\xed\xa0\x80\"".to_vec(),
        b"[01]".to_vec(),
        b"[-]".to_vec(),
        b"[1.]".to_vec(),
        b"[.5]".to_vec(),
        b"[+1]".to_vec(),
        b"[1e]".to_vec(),
        b"[1,]".to_vec(),
        b"{\"a\":1,}".to_vec(),
        b"{\"a\" 1}".to_vec(),
        b"{1:1}".to_vec(),
        b"[1]x".to_vec(),
        b"[1] [2]".to_vec(),
        b"[tru]".to_vec(),
        b"[NaN]".to_vec(),
        b"\x0c[]".to_vec(),
        b"{\"$serde_json::private::Number\":\"12\"}".to_vec(),
        b"{\"$serde_json::private::Number\":\"1.5\"}".to_vec(),
        b"{\"a\":1,\"$serde_json::private::Number\":\"1\"}".to_vec(),
        deep(127, "[", "]").into_bytes(),
        deep(128, "[", "]").into_bytes(),
        deep(300, "[", "]").into_bytes(),
        (deep(126, "{\"a\":", "}").replace("}", "") + "1" + &"}".repeat(126)).into_bytes(),
        (deep(127, "{\"a\":", "}").replace("}", "") + "1" + &"}".repeat(127)).into_bytes(),
        (deep(128, "{\"a\":", "}").replace("}", "") + "1" + &"}".repeat(128)).into_bytes(),
    ];
    for text in &cases {
        assert_same(text);
    }
    // Some of these must fail at all, so the comparison above compared errors.
    assert!(tree(b"{\"a\":1.5}", &[]).unwrap_err().1.contains("at /a"));
    assert!(tree(&cases[39], &[]).is_err());
    let too_large = vec![b' '; canon::MAX_JSON_BYTES + 1];
    assert_eq!(
        stream(&too_large, &[]).unwrap_err(),
        tree(&too_large, &[]).unwrap_err()
    );
}

#[test]
fn large_members_and_long_strings_are_skipped_and_written_exactly() {
    // Containers past the scan's "big" threshold are skipped by lookup; check both sides of it.
    let mut text = String::from("{");
    for (i, size) in [10usize, 4000, 4090, 4096, 5000, 70000].iter().enumerate() {
        let items: Vec<String> = (0..size / 8).map(|j| format!("{{\"k\":{j}}}")).collect();
        text.push_str(&format!(
            "\"m{}\":[{}],\"s{i}\":\"{}\\n\",",
            5 - i,
            items.join(","),
            "x".repeat(*size)
        ));
    }
    text.push_str("\"a\":{\"z\":[[[],{}],{\"y\":\"\\u00e9\"}]}}");
    assert_same(text.as_bytes());
    assert!(Document::parse(text.as_bytes()).unwrap().is_streamed());
}

#[test]
fn msez_canon_and_digest_stream_the_same_bytes() {
    let dir = Dir::new();
    let text = Gen(7).document();
    let doc = r#"{"b":[1,-0,"\u00e9\ud83d\ude00"],"a":{"proof":{"x":1},"\uff61":"\"q\""},"proof":[2],"next_root":"x"}"#;
    for input in [doc, &text] {
        let Ok((want, sha)) = tree(input.as_bytes(), &[]) else {
            continue;
        };
        let run = dir.run_stdin(&["canon"], input.as_bytes());
        assert_eq!(run.ok().as_bytes(), &want[..]);
        let json = dir.run_stdin(&["--json", "canon"], input.as_bytes()).json();
        assert_eq!(json["canonical"].as_str().unwrap().as_bytes(), &want[..]);
        assert_eq!(json["sha256"].as_str().unwrap(), sha);
    }
    for (t, skip) in [
        ("ruleset", &[][..]),
        ("vc", &["proof"][..]),
        ("smart-asset-receipt", &["proof", "next_root"][..]),
    ] {
        let want = tree(doc.as_bytes(), skip).unwrap().1;
        let run = dir.run_stdin(&["digest", "--type", t, "-"], doc.as_bytes());
        assert_eq!(run.ok().trim(), want, "{t}");
    }
    // A float past a megabyte of output: refused, and nothing of the output written.
    let late = format!("[\"{}\",1.5]", "x".repeat(1 << 20));
    let run = dir.run_stdin(&["canon"], late.as_bytes());
    run.code(65);
    assert!(run.stdout.is_empty(), "{} bytes written", run.stdout.len());
    assert!(run.stderr.contains("/1"), "{}", run.stderr);
    let run = dir.run_stdin(&["digest", "--type", "smart-asset-receipt", "-"], b"[1]");
    run.code(65);
    assert!(
        run.stderr.contains("must be a JSON object"),
        "{}",
        run.stderr
    );
}
