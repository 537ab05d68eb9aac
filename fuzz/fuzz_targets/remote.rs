//! Remote ref parsing: ref values, ref names, object and proof keys of the remote layout, object
//! ids and remote URLs, on arbitrary bytes. Whatever parses must print back to what was parsed.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use msez::artifact::ObjectId;
use msez::odb::RefName;
use msez::remote::{Url, layout};

fuzz_target!(|data: &[u8]| {
    if let Some(d) = layout::parse_ref_value(data) {
        let again = layout::parse_ref_value(format!("{}\n", d.to_hex()).as_bytes());
        assert_eq!(again, Some(d));
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(name) = RefName::new(text) {
        let key = layout::ref_key(&name);
        assert_eq!(
            RefName::new(&key).map(|n| n.as_str().to_string()).ok(),
            Some(key)
        );
    }
    if let Some(id) = layout::parse_object_key(text) {
        assert_eq!(layout::object_key(&id), text);
    }
    if let Some((id, h)) = layout::parse_proof_key(text) {
        assert_eq!(
            layout::parse_proof_key(&layout::proof_key(&id, &h)),
            Some((id, h))
        );
    }
    if let Ok(id) = text.parse::<ObjectId>() {
        assert_eq!(id.to_string().parse::<ObjectId>().ok(), Some(id));
    }
    if let Ok(url) = Url::parse(text, Path::new("/fuzz/cwd")) {
        let _ = url.default_dir_name();
    }
});
