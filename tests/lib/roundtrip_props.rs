//! Property tests (issue 8, item 2): every object type survives the three ways msez moves it.
//!
//! One generated set holds an object of every digest rule of docs/formats.md (a signed VC,
//! signed asset and corridor receipts, both checkpoint types, a genesis, a smart-asset
//! checkpoint, an attestation, the four signing-input types, schema, ruleset, a transition-type
//! lock, a lawpack zip, and raw blobs), with random content. Each set goes
//!
//! - through disk: `put` then the object file and `read_json`: bytes are the canonical bytes
//!   (JSON) or the input (raw), the digest is the one the type's rule gives independently, a
//!   second put creates nothing, and a later proof joins the union without touching the file;
//! - through a witness bundle: the closure of a root naming every object, built twice
//!   (byte-identical), verified, every entry byte-identical to its object file and still giving
//!   its digest;
//! - through a remote: push to a local directory, clone: the same object and proof files
//!   byte for byte, the same refs, and the clone reads the same documents.
//!
//! Case counts are small: each case writes a repository, a bundle and a remote (in memory).

use std::collections::BTreeMap;
use std::io::{Cursor, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use msez::artifact::{ArtifactType, ObjectId};
use msez::canon::{self, Digest};
use msez::chain::receipt::{self, Draft};
use msez::chain::{Kind, envelope};
use msez::odb::{RefName, Repo};
use msez::vc::KeyPair;
use proptest::prelude::*;
use serde_json::{Value, json};

/// One object to store: its type and either a JSON document or raw bytes.
#[derive(Clone, Debug)]
enum Doc {
    Json(&'static str, Value),
    Raw(&'static str, Vec<u8>),
}

impl Doc {
    fn artifact_type(&self) -> ArtifactType {
        match self {
            Doc::Json(t, _) | Doc::Raw(t, _) => ArtifactType::new(t).unwrap(),
        }
    }
}

fn key(seed: u8) -> KeyPair {
    KeyPair::from_seed(&[seed; 32], None)
}

fn signed(mut v: Value, seed: u8) -> Value {
    msez::vc::add_proof_at(&mut v, &key(seed), "2026-01-01T00:00:00Z").unwrap();
    v
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-(1i64 << 53)..=(1i64 << 53)).prop_map(Value::from),
        "[a-zA-Z0-9 é\\u{2028}\\u{1F600}]{0,10}".prop_map(Value::String),
    ]
}

/// Random JSON payloads. Keys never spell `artifact_type`, so payloads embed no refs.
fn payload() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn hex32() -> impl Strategy<Value = String> {
    any::<[u8; 32]>().prop_map(hex::encode)
}

fn receipt(kind: Kind, owner: &str, ts: u32, body: &Value) -> Value {
    let draft = Draft {
        transition: envelope::load(&json!({"kind": "transfer.v1", "payload": body})).unwrap(),
        timestamp: format!("2026-01-01T00:00:{:02}Z", ts % 60),
        jurisdiction_scope: (kind == Kind::Asset).then(|| "all_active".to_string()),
        ..Draft::default()
    };
    let genesis = canon::sha256(owner.as_bytes());
    let r = receipt::build(kind, owner, 0, &genesis, &draft).unwrap();
    signed(r, 7)
}

fn lawpack_zip(yaml: &str, xml_text: &str) -> Vec<u8> {
    let mut z = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    z.start_file("lawpack.yaml", opts).unwrap();
    z.write_all(yaml.as_bytes()).unwrap();
    z.start_file("akn/act.xml", opts).unwrap();
    z.write_all(format!("<act><p>{xml_text}</p></act>").as_bytes())
        .unwrap();
    z.finish().unwrap().into_inner()
}

/// An object of every digest rule, with random content.
fn docs() -> impl Strategy<Value = Vec<Doc>> {
    (
        prop::collection::vec(payload(), 8),
        hex32(),
        any::<u32>(),
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 2),
        "[a-z]{1,8}",
    )
        .prop_map(|(p, state_root, ts, blobs, word)| {
            let asset = canon::sha256(word.as_bytes()).to_hex();
            let genesis = {
                let mut g = json!({"asset_name": word, "stack_spec": p[0]});
                let id = canon::rule_for("smart-asset-genesis")
                    .digest_json(&g)
                    .unwrap();
                g["asset_id"] = id.to_hex().into();
                g
            };
            let snapshot = json!({"kinds": p[1]});
            let lock = json!({
                "snapshot": snapshot,
                "snapshot_digest_sha256": canon::digest_of(&snapshot).unwrap().to_hex(),
            });
            vec![
                Doc::Json(
                    "vc",
                    signed(
                        json!({
                            "@context": ["https://www.w3.org/2018/credentials/v1"],
                            "type": ["VerifiableCredential"],
                            "issuer": key(1).did().to_string(),
                            "credentialSubject": {"claim": p[2]},
                        }),
                        1,
                    ),
                ),
                Doc::Json(
                    "smart-asset-receipt",
                    receipt(Kind::Asset, &asset, ts, &p[3]),
                ),
                Doc::Json(
                    "corridor-receipt",
                    receipt(Kind::Corridor, &format!("org.example.{word}"), ts, &p[3]),
                ),
                Doc::Json(
                    "smart-asset-receipt-checkpoint",
                    signed(
                        json!({"asset_id": asset, "receipt_count": ts, "x": p[4]}),
                        2,
                    ),
                ),
                Doc::Json(
                    "checkpoint",
                    signed(json!({"corridor": word, "x": p[4]}), 3),
                ),
                Doc::Json("smart-asset-genesis", genesis),
                Doc::Json(
                    "smart-asset-checkpoint",
                    json!({"state_root_sha256": state_root, "state": p[5]}),
                ),
                Doc::Json(
                    "smart-asset-attestation",
                    signed(json!({"attests": p[6]}), 4),
                ),
                Doc::Json("proof-binding", signed(json!({"binds": p[7]}), 5)),
                Doc::Json("settlement-anchor", json!({"anchor": p[1], "n": ts})),
                Doc::Json("settlement-plan", json!({"plan": p[2]})),
                Doc::Json("rule-eval-evidence", json!({"evidence": p[3]})),
                Doc::Json("schema", json!({"title": word, "x": p[4]})),
                Doc::Json("ruleset", json!({"rules": p[5]})),
                Doc::Json("transition-types", lock),
                Doc::Raw("lawpack", lawpack_zip(&format!("name: {word}\n"), &word)),
                Doc::Raw("blob", blobs[0].clone()),
                Doc::Raw("circuit", blobs[1].clone()),
            ]
        })
}

/// The digest of a document by its type's rule, computed here, not by the store.
fn expected_digest(doc: &Doc) -> Digest {
    match doc {
        Doc::Json(t, v) => canon::rule_for(t).digest_json(v).unwrap(),
        Doc::Raw("lawpack", b) => canon::lawpack_digest(Cursor::new(b)).unwrap(),
        Doc::Raw(_, b) => canon::sha256(b),
    }
}

/// The digest of stored bytes, as a reader that trusts nothing would recompute it.
fn digest_of_bytes(t: &ArtifactType, bytes: &[u8]) -> Digest {
    match t.rule() {
        canon::DigestRule::Lawpack => canon::lawpack_digest(Cursor::new(bytes)).unwrap(),
        canon::DigestRule::Bytes => canon::sha256(bytes),
        rule => rule.digest_json(&canon::parse(bytes).unwrap()).unwrap(),
    }
}

/// Every stored object (as its loose path) and every file under `.msez/proofs`, by path
/// relative to `.msez`.
fn store_files(repo: &Repo) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    // Objects by their loose path, whether loose or packed.
    for id in repo.list_objects().unwrap() {
        let id = id.unwrap();
        let rel = msez::artifact::store_path(std::path::Path::new("objects"), &id);
        out.insert(rel.display().to_string(), repo.object_bytes(&id).unwrap().0);
    }
    let mut stack = vec![repo.dir().join("proofs")];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(repo.dir()).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// Stores every document, checking the disk round trip; returns the ids in order.
fn store_all(repo: &Repo, docs: &[Doc]) -> Vec<ObjectId> {
    let mut ids = Vec::new();
    for doc in docs {
        let t = doc.artifact_type();
        let put = match doc {
            Doc::Json(_, v) => repo.put_json(&t, v).unwrap(),
            Doc::Raw(_, b) => repo.put_reader(&t, Cursor::new(b)).unwrap(),
        };
        assert!(put.created, "{}", put.id);
        assert_eq!(put.id.digest, expected_digest(doc), "{}", put.id);
        let path = repo.object_path(&put.id);
        let file = std::fs::read(&path).unwrap();
        match doc {
            Doc::Json(_, v) => {
                let mut want = canon::to_bytes(v).unwrap();
                want.push(b'\n');
                assert_eq!(file, want, "{} is its canonical bytes + LF", put.id);
                assert_eq!(&repo.read_json(&put.id).unwrap(), v, "{}", put.id);
            }
            Doc::Raw(_, b) => assert_eq!(&file, b, "{} is its bytes", put.id),
        }
        assert_eq!(digest_of_bytes(&t, &file), put.id.digest);
        // A second put of the same object writes nothing new.
        let again = match doc {
            Doc::Json(_, v) => repo.put_json(&t, v).unwrap(),
            Doc::Raw(_, b) => repo.put_reader(&t, Cursor::new(b)).unwrap(),
        };
        assert!(!again.created && again.proofs_added == 0, "{}", put.id);
        assert_eq!(std::fs::read(&path).unwrap(), file);
        ids.push(put.id);
    }
    ids
}

/// Co-signs every object whose proofs are outside its digest: a proof file each.
fn cosign_all(repo: &Repo, docs: &[Doc], ids: &[ObjectId]) {
    for (doc, id) in docs.iter().zip(ids) {
        let Doc::Json(_, v) = doc else { continue };
        if !id.artifact_type.rule().proofs_outside_digest() {
            continue;
        }
        let before = std::fs::read(repo.object_path(id)).unwrap();
        let put = repo
            .put_json(&id.artifact_type, &signed(v.clone(), 9))
            .unwrap();
        assert_eq!(put.id, *id, "a proof does not change the digest");
        assert_eq!(put.proofs_added, 1, "{id}");
        assert_eq!(std::fs::read(repo.object_path(id)).unwrap(), before);
        let union = repo.read_json(id).unwrap();
        let signers: Vec<String> = msez::odb::proof_list(&union)
            .iter()
            .map(|p| p["verificationMethod"].as_str().unwrap().to_string())
            .collect();
        let cosigner = key(9).did().to_string();
        assert!(
            signers.iter().any(|s| s.starts_with(&cosigner)),
            "{id}: {signers:?}"
        );
    }
}

/// A ruleset naming every object: the root of their closure.
fn root_of(repo: &Repo, ids: &[ObjectId]) -> ObjectId {
    let refs: Vec<Value> = ids
        .iter()
        .map(|id| json!({"artifact_type": id.artifact_type.as_str(), "digest_sha256": id.digest.to_hex()}))
        .collect();
    repo.put_json(
        &ArtifactType::new("ruleset").unwrap(),
        &json!({"refs": refs}),
    )
    .unwrap()
    .id
}

fn bundle(repo: &Repo, root: &ObjectId, out: &Path) -> Vec<u8> {
    let opts = msez::graph::Options {
        store_roots: vec![repo.objects_dir()],
        ..Default::default()
    };
    msez::bundle::write::build(
        &msez::graph::Root::Cas(root.clone()),
        &opts,
        out,
        &msez::progress::Silent,
    )
    .unwrap();
    std::fs::read(out).unwrap()
}

fn check_bundle(repo: &Repo, ids: &[ObjectId], root: &ObjectId, dir: &Path) {
    let zip = bundle(repo, root, &dir.join("a.zip"));
    assert_eq!(
        bundle(repo, root, &dir.join("b.zip")),
        zip,
        "a bundle is deterministic"
    );
    let mut reader =
        msez::bundle::read::BundleReader::open(Cursor::new(zip), Default::default()).unwrap();
    msez::bundle::verify::verify(&mut reader, "a.zip", &msez::progress::Silent).unwrap();
    for id in ids.iter().chain([root]) {
        let path = repo.object_path(id);
        let name = format!(
            "{}/{}/{}",
            msez::bundle::write::STORE_ROOT,
            id.artifact_type,
            path.file_name().unwrap().to_str().unwrap()
        );
        let bytes = reader.read_entry(&name, 1 << 24).unwrap();
        assert_eq!(bytes, std::fs::read(&path).unwrap(), "{name}");
        assert_eq!(
            digest_of_bytes(&id.artifact_type, &bytes),
            id.digest,
            "{name}"
        );
    }
}

fn check_remote(repo: &Repo, ids: &[ObjectId], root: &ObjectId, dir: &Path) {
    let main = RefName::new("refs/heads/main").unwrap();
    repo.update_ref(&main, root.digest, msez::odb::Expect::Absent, "test")
        .unwrap();
    let remote_dir: PathBuf = dir.join("remote");
    let backend = msez::remote::Local::new(&remote_dir);
    let stop = AtomicBool::new(false);
    let opts = msez::remote::sync::Options::default();
    let pushed = msez::remote::sync::push(
        repo,
        "origin",
        &backend,
        &[],
        &opts,
        &msez::progress::Silent,
        &stop,
    )
    .unwrap();
    assert!(pushed.rejected.is_empty(), "{pushed:?}");
    let url = msez::remote::Url::parse(remote_dir.to_str().unwrap(), dir).unwrap();
    let (clone, _) = msez::remote::sync::clone(
        &url,
        &backend,
        &dir.join("clone"),
        &[],
        &opts,
        &msez::progress::Silent,
        &stop,
    )
    .unwrap();
    assert_eq!(store_files(&clone), store_files(repo));
    assert_eq!(clone.read_ref(&main).unwrap(), Some(root.digest));
    for id in ids {
        if id.artifact_type.rule().encoding() == canon::Encoding::Json {
            assert_eq!(
                clone.read_json(id).unwrap(),
                repo.read_json(id).unwrap(),
                "{id}"
            );
        }
    }
}

/// A temp directory, in memory when the system has /dev/shm: every put, push and clone fsyncs,
/// and on a shared disk the syncs, not msez, would be most of the run time.
fn scratch() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        if let Ok(d) = tempfile::Builder::new()
            .prefix("msez-props-")
            .tempdir_in(shm)
        {
            return d;
        }
    }
    tempfile::tempdir().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn every_object_type_round_trips_through_disk_bundle_and_remote(docs in docs()) {
        let tmp = scratch();
        let repo = Repo::init(&tmp.path().join("a"), &[]).unwrap();
        let ids = store_all(&repo, &docs);
        cosign_all(&repo, &docs, &ids);
        let root = root_of(&repo, &ids);
        check_bundle(&repo, &ids, &root, tmp.path());
        check_remote(&repo, &ids, &root, tmp.path());
    }
}
