//! Receipt and checkpoint checks on arbitrary JSON bytes. The first byte picks the check
//! (asset/corridor receipt, asset/corridor checkpoint), the rest is the document.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use msez::chain::{Kind, checkpoint, receipt::Receipt};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, doc)) = data.split_first() else {
        return;
    };
    let Ok(value) = msez::canon::parse(doc) else {
        return;
    };
    let kind = if selector & 1 == 0 {
        Kind::Asset
    } else {
        Kind::Corridor
    };
    if selector & 2 == 0 {
        let owner = value.get(kind.owner_field()).and_then(|v| v.as_str());
        let owner = owner.map(str::to_ascii_lowercase);
        if let Ok(r) = Receipt::check(kind, value.clone(), Path::new("fuzz"), owner.as_deref()) {
            // A receipt that passed has a next_root that recomputes to itself.
            assert_eq!(
                msez::chain::receipt::next_root(&r.value).ok(),
                Some(r.link.next_root)
            );
            let _ = r.digest_set("lawpack_digest_set");
        }
    } else {
        let _ = checkpoint::digest(&value);
        let _ = checkpoint::check_signed(kind, &value, "fuzz", selector & 4 != 0, None);
    }
});
