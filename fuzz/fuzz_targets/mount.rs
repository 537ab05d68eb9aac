//! Mount path lookup on arbitrary paths: `store::object_id`, `tree::relative`, and the
//! repository view's stat/list/read over a small repository. scripts/fuzz.sh builds one with a
//! chain and a checkpoint and passes it in MSEZ_FUZZ_REPO; without it the target makes a
//! repository holding one object and one ref.
#![no_main]

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use msez::artifact::ArtifactType;
use msez::mount::tree::{self, Node, View};
use msez::mount::{repo::RepoView, store};
use msez::odb::{Expect, RefName, Repo};

/// The repository view, and the temporary directory it lives in (kept alive).
fn view() -> &'static Arc<RepoView> {
    static VIEW: OnceLock<(Option<tempfile::TempDir>, Arc<RepoView>)> = OnceLock::new();
    &VIEW
        .get_or_init(|| {
            if let Some(dir) = std::env::var_os("MSEZ_FUZZ_REPO") {
                let repo = Repo::open(&PathBuf::from(dir)).expect("MSEZ_FUZZ_REPO is a repository");
                return (None, RepoView::new(repo));
            }
            let dir = tempfile::tempdir().expect("a temporary directory");
            let repo = Repo::init(dir.path(), &[]).expect("init");
            let vc: serde_json::Value = serde_json::from_slice(include_bytes!(
                "../../vectors/msez-fixtures/corridor_agreement_2of2/corridor.vc.json"
            ))
            .expect("vector JSON");
            let put = repo
                .put_json(&ArtifactType::new("vc").expect("vc type"), &vc)
                .expect("put");
            let name = RefName::new("refs/tags/fuzz").expect("ref name");
            repo.update_ref(&name, put.id.digest, Expect::Any, "fuzz")
                .expect("ref");
            (Some(dir), RepoView::new(repo))
        })
        .1
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some((t, name)) = text.split_once('/') {
        if let Some(id) = store::object_id(t, name) {
            assert_eq!(store::file_name(&id), name);
        }
    }
    if let Some((from, to)) = text.split_once('\0') {
        let rel = tree::relative(from, to);
        assert!(rel.ends_with(to));
    }
    let view = view();
    let path = text.split('\0').next().unwrap_or_default();
    // FUSE only ever asks for paths it built from listed names (no empty component, no
    // trailing `/`); anything else must merely not crash.
    let canonical = path.is_empty() || path.split('/').all(|c| !c.is_empty());
    if !canonical {
        let _ = view.stat(path);
        let _ = view.clone().list(path).map(|e| e.take(64).count());
        let _ = view.read(path, 0, 16);
        return;
    }
    match view.stat(path) {
        Ok(Some(Node::Dir)) => {
            if let Ok(entries) = view.clone().list(path) {
                for entry in entries.take(64).flatten() {
                    let child = tree::child(path, &entry.name);
                    // Every listed entry exists.
                    assert!(
                        matches!(view.stat(&child), Ok(Some(_))),
                        "listed {child:?} does not stat"
                    );
                }
            }
        }
        Ok(Some(Node::File { size })) => {
            if view.open(path).is_ok() {
                let got = view.read(path, 0, 4096).map(|b| b.len() as u64);
                if let Ok(n) = got {
                    assert_eq!(n, size.min(4096), "short read of {path:?}");
                }
                let _ = view.read(path, size.saturating_add(u64::from(data.len() as u32)), 16);
            }
        }
        _ => {
            let _ = view.clone().list(path);
            let _ = view.read(path, 0, 16);
        }
    }
});
