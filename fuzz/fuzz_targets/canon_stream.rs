//! Canonical JSON from bytes (`canon::Document`) against the tree path (`canon::parse` +
//! `to_bytes_without`): for any input, the same canonical bytes and digest, or the same error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use msez::canon;

fn tree(data: &[u8], skip: &[&str]) -> Result<Vec<u8>, String> {
    let value = canon::parse(data).map_err(|e| e.to_string())?;
    canon::to_bytes_without(&value, skip).map_err(|e| e.to_string())
}

fn stream(data: &[u8], skip: &[&str]) -> Result<(Vec<u8>, canon::Digest), String> {
    let doc = canon::Document::parse(data).map_err(|e| e.to_string())?;
    let bytes = doc.to_bytes_without(skip).map_err(|e| e.to_string())?;
    let digest = doc.digest_without(skip).map_err(|e| e.to_string())?;
    Ok((bytes, digest))
}

fuzz_target!(|data: &[u8]| {
    for skip in [&[][..], &["proof", "next_root"][..]] {
        let want = tree(data, skip);
        let got = stream(data, skip);
        match (&want, &got) {
            (Ok(w), Ok((g, d))) => {
                assert_eq!(w, g, "canonical bytes differ");
                assert_eq!(canon::sha256(w), *d, "digest differs");
            }
            (Err(w), Err(g)) => assert_eq!(w, g, "errors differ"),
            _ => panic!("tree {want:?} vs stream {got:?}"),
        }
    }
});
