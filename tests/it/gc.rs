//! `msez gc` on a repository: what goes, what stays (refs, reflog, modules, young objects,
//! closures), and a writer between the mark and the sweep. Remote gc: tests/it/remote.rs.

use std::collections::BTreeSet;

use crate::chain::Chain;
use crate::util::ASSET_ID;
use crate::util::Dir;

fn aref(id: &str) -> String {
    let (t, d) = id.split_once(':').unwrap();
    format!(r#"{{"artifact_type":"{t}","digest_sha256":"{d}"}}"#)
}

/// main -> top, which embeds dep; v1 -> blob; the reflog of main remembers old; loose and
/// signed are unreachable (signed has a proof file).
struct Sample {
    dir: Dir,
    top: String,
    dep: String,
    blob: String,
    old: String,
    loose: String,
    signed: String,
}

fn sample() -> Sample {
    let dir = Dir::repo();
    let dep = dir.put("dep.json", r#"{"title":"dep"}"#, "schema");
    let top = dir.put(
        "top.json",
        format!(r#"{{"uses":{}}}"#, aref(&dep)),
        "schema",
    );
    let blob = dir.put("b.bin", b"\x00raw\xff", "blob");
    let old = dir.put("old.json", r#"{"title":"old"}"#, "schema");
    let loose = dir.put("loose.json", r#"{"title":"loose"}"#, "schema");
    let vc = r#"{"@context":["https://www.w3.org/2018/credentials/v1"],"type":["VerifiableCredential"],"issuer":"did:key:z6Mkissuer","credentialSubject":{"n":"1"}}"#;
    let signed = dir.put("vc.json", vc, "vc");
    let mut with_proof: serde_json::Value = serde_json::from_str(vc).unwrap();
    with_proof["proof"] = serde_json::json!({"type":"MsezEd25519Signature2025",
        "verificationMethod":"did:key:z6Mkbob#key-1","jws":"sig"});
    assert_eq!(dir.put("vc2.json", with_proof.to_string(), "vc"), signed);
    dir.run(&["update-ref", "refs/heads/main", &old]).ok();
    dir.run(&["update-ref", "refs/heads/main", &top]).ok();
    dir.run(&["update-ref", "refs/tags/v1", &blob]).ok();
    Sample {
        dir,
        top,
        dep,
        blob,
        old,
        loose,
        signed,
    }
}

fn deleted(report: &serde_json::Value) -> BTreeSet<String> {
    report["deleted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

fn has(dir: &Dir, id: &str) -> bool {
    dir.run(&["show", id, "--json"]).code == 0
}

#[test]
fn unreachable_objects_go_reachable_ones_stay_and_fsck_is_clean() {
    let s = sample();
    let want: BTreeSet<String> = [s.loose.clone(), s.signed.clone()].into();
    let dry = s
        .dir
        .run(&["gc", "--dry-run", "--prune-expire", "0", "--json"]);
    assert_eq!(deleted(&dry.json()), want, "{dry:#?}");
    assert!(has(&s.dir, &s.loose), "a dry run deletes nothing");
    assert!(
        !s.dir.join(".msez/gc/marks").exists(),
        "a dry run writes nothing"
    );

    let report = s.dir.run(&["gc", "--prune-expire", "now", "--json"]).json();
    assert_eq!(deleted(&report), want, "{report}");
    assert_eq!(report["proofs_deleted"], 1, "{report}");
    for id in [&s.top, &s.dep, &s.blob, &s.old] {
        assert!(has(&s.dir, id), "{id} is reachable and must stay");
    }
    for id in [&s.loose, &s.signed] {
        assert!(!has(&s.dir, id), "{id} must be gone");
    }
    assert!(
        !s.dir
            .join(".msez/proofs/vc")
            .read_dir()
            .unwrap()
            .any(|_| true)
    );
    s.dir.run(&["fsck", "--strict"]).ok();
    // Nothing left to collect.
    let again = s.dir.run(&["gc", "--prune-expire", "0", "--json"]).json();
    assert!(deleted(&again).is_empty(), "{again}");
}

#[test]
fn young_objects_stay_and_are_marked_for_a_later_sweep() {
    let s = sample();
    // Default gc.prune_expire (14 days): everything here is young.
    let report = s.dir.run(&["gc", "--json"]).json();
    assert!(deleted(&report).is_empty(), "{report}");
    let one_hour = s.dir.run(&["gc", "--prune-expire", "1h", "--json"]).json();
    assert!(deleted(&one_hour).is_empty(), "{one_hour}");
    assert!(has(&s.dir, &s.loose));
    // gc.prune_expire in the config is honoured.
    let config = s.dir.join(".msez/config");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("\n[gc]\nprune_expire = \"0\"\n");
    std::fs::write(&config, text).unwrap();
    let report = s.dir.run(&["gc", "--json"]).json();
    assert_eq!(deleted(&report).len(), 2, "{report}");
    std::fs::write(
        &config,
        std::fs::read_to_string(&config)
            .unwrap()
            .replace("\"0\"", "\"soon\""),
    )
    .unwrap();
    s.dir.run(&["gc"]).code(65);
}

#[test]
fn a_writer_between_mark_and_sweep_is_not_broken() {
    let s = sample();
    let repo = msez::odb::Repo::open(s.dir.path()).unwrap();
    let opts = msez::gc::Options {
        prune_expire: std::time::Duration::ZERO,
        ..Default::default()
    };
    let mut fresh = String::new();
    let report = msez::gc::run(
        &msez::gc::Local::new(&repo),
        &opts,
        &msez::progress::Silent,
        &mut || {
            // A concurrent writer revives a marked object and adds a new one that links to
            // another marked object, before any ref names it.
            s.dir
                .run(&["update-ref", "refs/heads/revived", &s.loose])
                .ok();
            fresh = s.dir.put(
                "new.json",
                format!(r#"{{"new":{}}}"#, aref(&s.signed)),
                "schema",
            );
        },
    )
    .unwrap();
    assert!(report.deleted.is_empty(), "{report:?}");
    let rescued: BTreeSet<String> = report.rescued.iter().cloned().collect();
    assert_eq!(rescued, [s.loose.clone(), s.signed.clone()].into());
    for id in [&s.loose, &s.signed, &fresh] {
        assert!(has(&s.dir, id), "{id} must stay");
    }
    s.dir.run(&["fsck"]).ok();
}

#[test]
fn receipt_chains_stay_through_their_prev_links() {
    let c = Chain::new();
    c.append(3);
    // Without the module files, only the head ref and the prev links hold the chain.
    let receipts = c.dir.join(&format!("{}/state/receipts", c.module));
    std::fs::remove_dir_all(&receipts).unwrap();
    let junk = c.dir.put("junk.json", r#"{"junk":1}"#, "schema");
    let report = c.dir.run(&["gc", "--prune-expire", "0", "--json"]).json();
    assert_eq!(deleted(&report), [junk].into(), "{report}");
    let log = c
        .dir
        .run(&["--json", "log", &format!("assets/{ASSET_ID}/core/head")])
        .json();
    assert_eq!(log["receipts"].as_array().unwrap().len(), 3);
    c.dir.run(&["fsck"]).ok();
}
