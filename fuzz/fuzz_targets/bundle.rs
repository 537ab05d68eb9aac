//! Witness bundle (zip) reading and manifest handling on arbitrary bytes: open under small
//! limits, read every entry, and verify the bundle in place (which streams the manifest).
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use msez::bundle::{BundleReader, Limits, read::check_name, verify};

fuzz_target!(|data: &[u8]| {
    if let Ok(name) = std::str::from_utf8(data) {
        let _ = check_name(name, &Limits::default());
    }
    // Small limits so a hostile header cannot make the fuzzer allocate gigabytes.
    let limits = Limits {
        max_entries: 256,
        max_entry_bytes: 1 << 20,
        max_total_bytes: 4 << 20,
        max_ratio: 200,
        ratio_floor_bytes: 4096,
        max_bundle_ratio: 100,
        max_name_bytes: 256,
        max_manifest_bytes: 1 << 20,
    };
    let Ok(mut reader) = BundleReader::open(Cursor::new(data), limits) else {
        return;
    };
    assert!(reader.entries().len() as u64 <= limits.max_entries);
    let names: Vec<String> = reader.entries().iter().map(|e| e.name.clone()).collect();
    let mut total = 0u64;
    for name in &names {
        if let Ok(bytes) = reader.read_entry(name, limits.max_entry_bytes) {
            assert!(bytes.len() as u64 <= limits.max_entry_bytes);
            total += bytes.len() as u64;
        }
    }
    assert!(total <= limits.max_total_bytes);
    let _ = verify::verify(&mut reader, "fuzz", &msez::progress::Silent);
});
