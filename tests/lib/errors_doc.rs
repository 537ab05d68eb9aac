//! docs/errors.md lists exactly the error codes the code can emit.

use std::collections::BTreeSet;
use std::path::Path;

const CLASSES: [&str; 8] = [
    "usage",
    "schema",
    "digest",
    "signature",
    "missing",
    "fork",
    "conflict",
    "io",
];

/// Every `"<class>.<name>"` string literal in `text`.
fn codes_in(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices('"') {
        let rest = &text[i + 1..];
        let Some(end) = rest.find('"') else { continue };
        let lit = &rest[..end];
        let Some((class, name)) = lit.split_once('.') else {
            continue;
        };
        if CLASSES.contains(&class)
            && !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            out.insert(lit.to_string());
        }
    }
    out
}

fn source_codes(dir: &Path, out: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            source_codes(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.extend(codes_in(&std::fs::read_to_string(&p).unwrap()));
        }
    }
}

#[test]
fn docs_errors_md_lists_every_code_the_code_can_emit() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut in_code = BTreeSet::new();
    source_codes(&root.join("src"), &mut in_code);
    assert!(in_code.len() > 20, "found only {} codes", in_code.len());
    let doc = std::fs::read_to_string(root.join("docs/errors.md")).unwrap();
    let in_doc: BTreeSet<String> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .filter(|c| c.contains('.'))
        .map(str::to_string)
        .collect();
    let undocumented: Vec<_> = in_code.difference(&in_doc).collect();
    let stale: Vec<_> = in_doc.difference(&in_code).collect();
    assert!(
        undocumented.is_empty(),
        "codes missing from docs/errors.md: {undocumented:?}"
    );
    assert!(
        stale.is_empty(),
        "docs/errors.md lists codes the code never emits: {stale:?}"
    );
}
