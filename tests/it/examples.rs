//! The committed examples are what their scripts produce today, and they verify.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn files(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(
                    p.strip_prefix(root).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    out
}

#[test]
fn the_smart_asset_module_example_is_reproduced_byte_for_byte() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("module");
    let run = std::process::Command::new("bash")
        .arg(root.join("examples/smart-asset-module.sh"))
        .arg(&out)
        .env("MSEZ", crate::util::bin())
        .env_remove("SOURCE_DATE_EPOCH")
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        stdout.contains("ASSET STATE VERIFY OK") && stdout.matches("OK\n").count() >= 4,
        "{stdout}"
    );
    let committed = files(&root.join("examples/smart-asset-module"));
    let fresh = files(&out);
    assert_eq!(
        committed.keys().collect::<Vec<_>>(),
        fresh.keys().collect::<Vec<_>>()
    );
    for (name, bytes) in &committed {
        assert!(
            fresh[name] == *bytes,
            "examples/smart-asset-module/{} is stale: rerun examples/smart-asset-module.sh",
            name.display()
        );
    }
}
