//! VC proof verification on arbitrary JSON: every proof of the document is checked (did:key,
//! JWS, created, purpose) and the Ed25519 signature verified over the canonical signing input;
//! the same bytes are also read as a credential, a JWK and a trust-anchor file.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use msez::vc;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(did) = vc::Did::parse(text.trim()) {
            // A did that parsed prints back to something that parses to the same key.
            let again = vc::Did::parse(did.as_str()).expect("a parsed did parses again");
            assert_eq!(again, did);
        }
    }
    let _ = vc::TrustAnchors::parse(data, Path::new("fuzz"));
    let Ok(value) = msez::canon::parse(data) else {
        return;
    };
    let _ = vc::check_credential(&value, "fuzz");
    let _ = vc::Jwk::from_value(&value, "fuzz");
    if let Ok(results) = vc::verify_proofs(&value) {
        let signers = vc::valid_signers(&results);
        assert!(signers.len() <= results.len());
        if vc::all_valid(&results) {
            assert!(vc::require_all_valid(&value, "fuzz").is_ok());
        }
    }
    let merged = vc::merge_proofs(&value, &value);
    let _ = vc::verify_proofs(&merged);
});
