//! Packs at scale: `msez repack`, the multi-pack index, `gc --auto` and the automatic
//! consolidation after a transaction, crash safety of a repack.

use std::collections::BTreeMap;
use std::path::PathBuf;

use msez::artifact::ArtifactType;
use msez::odb::{Batch, PACK_MIN, Repo};

use crate::util::Dir;

/// Stores `packs` transactions of PACK_MIN objects each (one pack each) and `loose` single
/// objects, all `schema` JSON; with `limit`, sets gc.auto_pack_limit first.
fn filled(packs: usize, loose: usize, limit: Option<u64>) -> Dir {
    let d = Dir::repo();
    let mut repo = Repo::open(d.path()).unwrap();
    let mut config = repo.config().clone();
    config.gc.auto_pack_limit = Some(limit.unwrap_or(0));
    repo.save_config(config).unwrap();
    let t = ArtifactType::new("schema").unwrap();
    for p in 0..packs {
        let mut batch = Batch::new(&repo);
        for i in 0..PACK_MIN {
            let v = serde_json::json!({ "pack": p, "i": i });
            batch.put_json(&t, &v).unwrap();
        }
        batch.commit().unwrap();
    }
    for i in 0..loose {
        let v = serde_json::json!({ "loose": i });
        repo.put_json(&t, &v).unwrap();
    }
    d
}

fn pack_files(d: &Dir) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(d.join(".msez/packs"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "pack"))
        .collect();
    out.sort();
    out
}

fn loose_files(d: &Dir) -> usize {
    let root = d.join(".msez/objects");
    std::fs::read_dir(root)
        .unwrap()
        .flatten()
        .map(|t| std::fs::read_dir(t.path()).unwrap().count())
        .sum()
}

fn midx(d: &Dir) -> PathBuf {
    d.join(".msez/packs/multi-pack-index")
}

fn fsck_codes(d: &Dir) -> (i32, Vec<String>) {
    let run = d.run(&["--json", "fsck"]);
    let codes = run.json()["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["code"].as_str().unwrap().to_string())
        .collect();
    (run.code, codes)
}

fn assert_same(before: &BTreeMap<String, Vec<u8>>, d: &Dir) {
    let after = d.stored_objects();
    assert_eq!(before.len(), after.len());
    for (name, bytes) in before {
        assert_eq!(
            after.get(name),
            Some(bytes),
            "{name} changed or went missing"
        );
    }
}

#[test]
fn repack_consolidates_packs_and_loose_objects_into_one_pack_with_an_index() {
    let d = filled(5, 7, None);
    assert_eq!(pack_files(&d).len(), 5);
    assert_eq!(loose_files(&d), 7);
    let before = d.stored_objects();
    assert_eq!(before.len(), 5 * PACK_MIN + 7);
    let old = pack_files(&d);
    let run = d.run(&["--json", "repack"]);
    let report = run.json();
    assert_eq!(report["packs_before"], 5, "{run:#?}");
    assert_eq!(report["packs_after"], 1);
    assert_eq!(report["packs_removed"], 5);
    assert_eq!(report["loose_packed"], 7);
    assert_eq!(report["objects"], (5 * PACK_MIN + 7) as u64);
    assert_eq!(report["midx_objects"], (5 * PACK_MIN + 7) as u64);
    let now = pack_files(&d);
    assert_eq!(now.len(), 1);
    assert!(old.iter().all(|p| !p.exists()), "old packs gone");
    assert_eq!(loose_files(&d), 0);
    assert!(midx(&d).is_file());
    assert_same(&before, &d);
    assert_eq!(fsck_codes(&d), (0, vec![]));
    // Human output and -q.
    let text = d.run(&["repack"]);
    assert!(text.ok().contains("nothing to consolidate"), "{text:#?}");
    assert!(text.stdout.contains("multi-pack index"));
    assert!(d.run(&["-q", "repack"]).ok().is_empty());
    // --packs-only leaves loose objects loose.
    let t = ArtifactType::new("schema").unwrap();
    let repo = Repo::open(d.path()).unwrap();
    repo.put_json(&t, &serde_json::json!({"late": 1})).unwrap();
    let r = d.run(&["--json", "repack", "--packs-only"]).json();
    assert_eq!(r["loose_packed"], 0);
    assert_eq!(loose_files(&d), 1);
}

#[test]
fn lookups_are_right_through_the_index_with_packs_added_since_and_packs_gone() {
    let d = filled(3, 0, None);
    d.run(&["repack"]).ok();
    // Packs added after the index: found one by one.
    let repo = Repo::open(d.path()).unwrap();
    let t = ArtifactType::new("schema").unwrap();
    let mut batch = Batch::new(&repo);
    let ids: Vec<_> = (0..PACK_MIN)
        .map(|i| batch.put_json(&t, &serde_json::json!({"new": i})).unwrap())
        .collect();
    batch.commit().unwrap();
    let fresh = Repo::open(d.path()).unwrap();
    for id in &ids {
        assert!(fresh.has(id), "{id}");
    }
    assert_eq!(d.stored_objects().len(), 4 * PACK_MIN);
    assert_eq!(fsck_codes(&d), (0, vec![]));
}

#[test]
fn a_damaged_index_is_a_finding_lookups_stay_right_and_repack_repairs_it() {
    let d = filled(4, 0, None);
    d.run(&["repack", "--packs-only"]).ok();
    let before = d.stored_objects();
    let good = std::fs::read(midx(&d)).unwrap();
    for damage in ["flip", "truncate", "empty"] {
        let mut b = good.clone();
        match damage {
            "flip" => b[good.len() / 3] ^= 0x40,
            "truncate" => b.truncate(good.len() - 100),
            _ => b.clear(),
        }
        let m = midx(&d);
        let mut perm = std::fs::metadata(&m).unwrap().permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        perm.set_readonly(false);
        std::fs::set_permissions(&m, perm).unwrap();
        std::fs::write(&m, &b).unwrap();
        assert_same(&before, &d);
        let (t, rest) = before.keys().next().unwrap().split_once('/').unwrap();
        let digest = rest.split_once('.').unwrap().0;
        let got = d.run(&["artifact", "get", &format!("{t}:{digest}")]);
        assert_eq!(got.stdout.as_bytes(), &before.values().next().unwrap()[..]);
        let (code, codes) = fsck_codes(&d);
        assert_eq!(codes, ["digest.midx"], "{damage}");
        assert_eq!(code, 66, "{damage}");
        d.run(&["repack"]).ok();
        assert_eq!(
            fsck_codes(&d),
            (0, vec![]),
            "{damage}: repack rewrote the index"
        );
    }
}

#[test]
fn a_repack_killed_at_any_point_loses_nothing() {
    for point in ["midx-staged", "repack-pack-written", "repack-packs-removed"] {
        let d = filled(3, 5, None);
        let before = d.stored_objects();
        let run = Run::killed(&d, point);
        assert_ne!(run, 0, "{point}: not killed");
        assert_same(&before, &d);
        let (_, codes) = fsck_codes(&d);
        assert!(codes.is_empty(), "{point}: {codes:?}");
        // The next repack finishes the work.
        d.run(&["repack"]).ok();
        assert_same(&before, &d);
        assert_eq!(pack_files(&d).len(), 1, "{point}");
        assert_eq!(loose_files(&d), 0, "{point}");
        assert_eq!(fsck_codes(&d), (0, vec![]), "{point}");
    }
}

struct Run;

impl Run {
    fn killed(d: &Dir, point: &str) -> i32 {
        let out = d
            .cmd(&["repack"])
            .env("MSEZ_TEST_CRASH_AT", point)
            .output()
            .unwrap();
        out.status.code().unwrap_or(-1)
    }
}

#[test]
fn gc_auto_repacks_past_the_limit_and_transactions_do_it_on_their_own() {
    let d = filled(4, 0, None);
    let mut repo = Repo::open(d.path()).unwrap();
    let mut config = repo.config().clone();
    config.gc.auto_pack_limit = Some(5);
    repo.save_config(config).unwrap();
    let r = d.run(&["--json", "gc", "--auto"]).json();
    assert_eq!(r["due"], false, "{r}");
    assert_eq!(pack_files(&d).len(), 4);
    // Limit 3: gc --auto is due, collects and consolidates.
    let mut config = repo.config().clone();
    config.gc.auto_pack_limit = Some(3);
    repo.save_config(config).unwrap();
    let before = d.stored_objects();
    let r = d.run(&["--json", "gc", "--auto"]).json();
    assert_eq!(r["due"], true, "{r}");
    assert_eq!(r["repack"]["packs_after"], 1, "{r}");
    assert_eq!(pack_files(&d).len(), 1);
    assert_same(&before, &d);
    // A transaction that takes the count past the limit consolidates on its own.
    let d = filled(4, 0, Some(3));
    assert!(pack_files(&d).len() < 4, "{:?}", pack_files(&d));
    assert_eq!(d.stored_objects().len(), 4 * PACK_MIN);
    assert_eq!(fsck_codes(&d), (0, vec![]));
    assert!(midx(&d).is_file());
}

#[test]
fn gc_deleting_packed_objects_keeps_the_index_right() {
    let d = filled(3, 0, None);
    d.run(&["repack"]).ok();
    // Nothing is reachable: a zero-grace gc deletes everything packed.
    d.run(&["gc", "--prune-expire", "now"]).ok();
    assert!(d.stored_objects().is_empty());
    assert_eq!(fsck_codes(&d), (0, vec![]));
    assert!(!midx(&d).exists(), "no pack, no index");
}
