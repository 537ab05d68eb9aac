//! Canonical JSON: parse arbitrary bytes, canonicalize, and check that canonical bytes are a
//! fixed point (parsing them again gives the same bytes) and that digests are deterministic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = msez::canon::parse(data) else {
        return;
    };
    let Ok(bytes) = msez::canon::to_bytes(&value) else {
        return;
    };
    let again = msez::canon::canonicalize(&bytes).expect("canonical bytes must parse again");
    assert_eq!(bytes, again, "canonicalization is not idempotent");
    assert_eq!(msez::canon::sha256(&bytes), msez::canon::sha256(&again));
});
