//! The corridor module object: what a clone needs to rebuild a corridor module's working tree,
//! stored in `.msez` as `corridor-module:<sha256>` and named by `refs/corridors/<id>/module`.
//!
//! A corridor's genesis root is computed from its definition VC, its agreement VCs and two
//! ruleset descriptors, never stored; none of those files is a chain object, so without this
//! object a clone of a corridor chain could not be checked out. The object is one canonical
//! JSON document holding every input (its file name, its digest and the document itself):
//! the digest rule table hashes an unlisted type as raw bytes, and a raw object has no edges
//! to follow, so an object that only listed its inputs would travel (push, fetch, gc) without
//! them. Its bytes are the canonical JSON with no LF, so its name is also SHA-256(JCS).
//!
//! ```text
//! {"format":"msez-corridor-module","version":1,"corridor_id":…,"genesis_root":…,
//!  "verification_ruleset":…,"state_transition_ruleset":…,
//!  "definition":{"path":"corridor.vc.json","payload_sha256":…,"document":{…}},
//!  "agreements":[{"path":"agreements/<name>.json","payload_sha256":…,"document":{…}}],
//!  "rulesets":[descriptor, descriptor]                 (only when not the embedded registry)
//!  "trust_anchors":{"path":…,"sha256":…,"text":…}}     (only when the definition pins them)
//! ```
//!
//! Nothing is adopted unverified: an object is accepted only when every input matches its
//! digest, the trust anchors match the definition's pin (raw file SHA-256, the reference's
//! `artifacts.trust_anchors`), the recomputed genesis root is the one it states, and that root
//! is the `prev_root` of receipt 0 of the chain it belongs to.

use std::path::{Component, Path, PathBuf};

use crate::artifact::{ArtifactType, ObjectId};
use crate::canon::{self, Digest, Value};
use crate::odb::{Expect, RefName, Repo};

use crate::chain::genesis::CorridorGenesis;
use crate::chain::module::Error as ModuleError;
use crate::chain::module::corridor::{
    CorridorConfig, CorridorModule, Rulesets, check_corridor_id, corridor_genesis, payload_sha256,
};
use crate::chain::store::ChainKey;
use crate::chain::{Error, Kind};

/// The artifact type of a corridor module object.
pub const MODULE_TYPE: &str = "corridor-module";

/// The `format` field of a corridor module object.
pub const FORMAT: &str = "msez-corridor-module";

/// A corridor module object's inputs, checked against each other and the genesis root.
#[derive(Clone, Debug)]
pub struct Inputs {
    /// The corridor.yaml a checkout writes.
    pub config: CorridorConfig,
    /// The definition VC.
    pub definition: Value,
    /// (relative path, document) of each agreement VC, in corridor.yaml order.
    pub agreements: Vec<(String, Value)>,
    /// The ruleset descriptors when the module did not use the embedded registry.
    pub rulesets: Option<Vec<Value>>,
    /// (relative path, bytes, raw SHA-256) of the trust anchors the definition pins.
    pub trust_anchors: Option<(String, Vec<u8>, Digest)>,
    /// What the genesis root commits to, recomputed.
    pub genesis: CorridorGenesis,
    /// The recomputed genesis root.
    pub genesis_root: Digest,
}

/// Reads an object's bytes wherever the caller keeps them (staged by a fetch, stored): None
/// when it has none.
pub type BytesOf<'a> = dyn Fn(&ObjectId) -> Result<Option<Vec<u8>>, Error> + 'a;

/// The type of module objects.
pub fn module_type() -> ArtifactType {
    ArtifactType::new(MODULE_TYPE).expect("a valid type")
}

/// `refs/corridors/<id>/module`.
pub fn module_ref(corridor_id: &str) -> Result<RefName, Error> {
    Ok(RefName::new(&format!(
        "refs/corridors/{corridor_id}/module"
    ))?)
}

/// The corridor id of a module ref (`refs/corridors/<id>/module`), None for any other ref.
pub fn module_ref_corridor(name: &RefName) -> Option<&str> {
    name.as_str()
        .strip_prefix("refs/corridors/")?
        .strip_suffix("/module")
        .filter(|id| !id.contains('/'))
}

fn bad(corridor_id: &str, why: impl Into<String>) -> Error {
    Error::Module(ModuleError::ModuleObject {
        name: format!("refs/corridors/{corridor_id}/module"),
        why: why.into(),
    })
}

/// The raw SHA-256 of the trust-anchors file a definition VC pins
/// (`credentialSubject.artifacts.trust_anchors`: `{path?, sha256}` or `{digest_sha256}` or a
/// bare digest), None when it pins none.
pub fn pinned_trust_anchors(definition: &Value) -> Option<Digest> {
    let pin = definition
        .get("credentialSubject")?
        .get("artifacts")?
        .get("trust_anchors")?;
    let text = match pin {
        Value::String(s) => Some(s.as_str()),
        Value::Object(m) => m
            .get("sha256")
            .or_else(|| m.get("digest_sha256"))
            .and_then(Value::as_str),
        _ => None,
    }?;
    Digest::parse_loose(text).ok()
}

/// A path a checkout may write: relative, plain components only.
fn safe_rel(path: &str) -> bool {
    !path.is_empty()
        && Path::new(path)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
}

/// Reads a module file as JSON.
fn read_doc(dir: &Path, rel: &str) -> Result<Value, Error> {
    let p = dir.join(rel);
    let bytes = std::fs::read(&p).map_err(|e| Error::io("reading", &p, e))?;
    canon::parse(&bytes).map_err(|e| Error::Parse { path: p, source: e })
}

/// The module object of an opened module: its definition and agreements, the ruleset
/// descriptors when they are not the embedded registry, and the trust anchors when the
/// definition pins them and the module's file is the pinned one (else they are left out:
/// nothing the chain commits to vouches for them).
pub fn build(m: &CorridorModule) -> Result<Value, Error> {
    let id = m.corridor_id();
    let rel = |p: &str| -> Result<(), Error> {
        if safe_rel(p) {
            Ok(())
        } else {
            Err(bad(id, format!("{p:?} is not a path inside the module")))
        }
    };
    rel(&m.config.definition_vc_path)?;
    let definition = read_doc(&m.dir, &m.config.definition_vc_path)?;
    let mut agreements = Vec::new();
    for p in &m.config.agreement_vc_paths {
        rel(p)?;
        let doc = read_doc(&m.dir, p)?;
        agreements.push(serde_json::json!({
            "path": p, "payload_sha256": payload_sha256(&doc)?.to_hex(), "document": doc,
        }));
    }
    let mut out = serde_json::json!({
        "format": FORMAT,
        "version": 1,
        "corridor_id": id,
        "genesis_root": m.genesis_root.to_hex(),
        "verification_ruleset": m.config.verification_ruleset,
        "state_transition_ruleset": m.config.state_transition_ruleset,
        "definition": {
            "path": m.config.definition_vc_path,
            "payload_sha256": payload_sha256(&definition)?.to_hex(),
            "document": definition,
        },
        "agreements": agreements,
    });
    let map = out.as_object_mut().expect("an object");
    if m.rulesets_source.is_some() {
        let rulesets = Rulesets::for_dir(&m.dir)?;
        let mut descriptors = Vec::new();
        for rid in [
            &m.config.verification_ruleset,
            &m.config.state_transition_ruleset,
        ] {
            if let Some(d) = rulesets.find(rid) {
                if !descriptors.contains(d) {
                    descriptors.push(d.clone());
                }
            }
        }
        map.insert("rulesets".into(), Value::Array(descriptors));
    }
    if let (Some(pin), Some(p)) = (
        pinned_trust_anchors(&definition),
        m.config.trust_anchors_path.as_deref(),
    ) {
        let bytes = std::fs::read(m.dir.join(p)).ok();
        let text = bytes
            .filter(|b| canon::sha256(b) == pin)
            .and_then(|b| String::from_utf8(b).ok());
        if let (true, Some(text)) = (safe_rel(p), text) {
            map.insert(
                "trust_anchors".into(),
                serde_json::json!({"path": p, "sha256": pin.to_hex(), "text": text}),
            );
        }
    }
    Ok(out)
}

/// Checks a module object of corridor `corridor_id` on its own: shape, safe paths, every
/// input against its digest, the trust anchors against the definition's pin, and the genesis
/// root recomputed from the inputs against the one it states ([`check_signatures`] is apart).
pub fn check(value: &Value, corridor_id: &str) -> Result<Inputs, Error> {
    let e = |why: String| bad(corridor_id, why);
    let s = |k: &str| value.get(k).and_then(Value::as_str);
    if s("format") != Some(FORMAT) || value.get("version").and_then(Value::as_u64) != Some(1) {
        return Err(e(format!("not a {FORMAT} version 1 object")));
    }
    if s("corridor_id") != Some(corridor_id) {
        return Err(e(format!(
            "names corridor {:?}, not {corridor_id:?}",
            s("corridor_id").unwrap_or_default()
        )));
    }
    check_corridor_id(corridor_id, Path::new(MODULE_TYPE))?;
    let input = |v: Option<&Value>, what: &str| -> Result<(String, Value), Error> {
        let path = v.and_then(|v| v.get("path")).and_then(Value::as_str);
        let doc = v.and_then(|v| v.get("document"));
        let declared = v
            .and_then(|v| v.get("payload_sha256"))
            .and_then(Value::as_str)
            .and_then(|d| Digest::parse_loose(d).ok());
        let (Some(path), Some(doc), Some(declared)) = (path, doc, declared) else {
            return Err(e(format!(
                "{what}: needs path, payload_sha256 and document"
            )));
        };
        if !safe_rel(path) {
            return Err(e(format!(
                "{what}: {path:?} is not a path inside the module"
            )));
        }
        let found = payload_sha256(doc)?;
        if found != declared {
            return Err(e(format!(
                "{what} {path}: payload digest {found}, the object says {declared}"
            )));
        }
        let named = doc
            .get("credentialSubject")
            .and_then(|s| s.get("corridor_id"))
            .and_then(Value::as_str);
        if named.is_some_and(|n| n.trim() != corridor_id) {
            return Err(e(format!("{what} {path} is for another corridor")));
        }
        Ok((path.to_string(), doc.clone()))
    };
    let (definition_path, definition) = input(value.get("definition"), "definition VC")?;
    let mut agreements = Vec::new();
    for a in value
        .get("agreements")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let (p, doc) = input(Some(a), "agreement VC")?;
        if p == definition_path || agreements.iter().any(|(q, _)| *q == p) {
            return Err(e(format!("{p} is named twice")));
        }
        agreements.push((p, doc));
    }
    let ids = [s("verification_ruleset"), s("state_transition_ruleset")];
    let [Some(verification), Some(state_transition)] = ids else {
        return Err(e(
            "needs verification_ruleset and state_transition_ruleset".into()
        ));
    };
    let descriptors = value.get("rulesets").and_then(Value::as_array).cloned();
    let registry = match &descriptors {
        Some(d) => Rulesets {
            descriptors: d.clone(),
            source: Some(PathBuf::from(MODULE_TYPE)),
        },
        None => Rulesets::embedded()?,
    };
    let ruleset_digests = [
        registry.digest(verification)?,
        registry.digest(state_transition)?,
    ];
    let trust_anchors = match value.get("trust_anchors") {
        None => None,
        Some(t) => {
            let path = t.get("path").and_then(Value::as_str).unwrap_or_default();
            let text = t.get("text").and_then(Value::as_str).unwrap_or_default();
            let found = canon::sha256(text.as_bytes());
            if !safe_rel(path) {
                return Err(e(format!(
                    "trust anchors: {path:?} is not a path inside the module"
                )));
            }
            if pinned_trust_anchors(&definition) != Some(found) {
                return Err(e(format!(
                    "trust anchors {path} (sha256 {found}) are not the file the definition VC pins"
                )));
            }
            Some((path.to_string(), text.as_bytes().to_vec(), found))
        }
    };
    let docs: Vec<Value> = agreements.iter().map(|(_, d)| d.clone()).collect();
    let genesis = corridor_genesis(corridor_id, &definition, &docs, &ruleset_digests)?;
    let genesis_root = genesis.root()?;
    let stated = s("genesis_root").and_then(|d| Digest::parse_loose(d).ok());
    if stated != Some(genesis_root) {
        return Err(e(format!(
            "its inputs give genesis root {genesis_root}, it states {}",
            s("genesis_root").unwrap_or("none")
        )));
    }
    Ok(Inputs {
        config: CorridorConfig {
            corridor_id: corridor_id.to_string(),
            definition_vc_path: definition_path,
            agreement_vc_paths: agreements.iter().map(|(p, _)| p.clone()).collect(),
            verification_ruleset: verification.to_string(),
            state_transition_ruleset: state_transition.to_string(),
            trust_anchors_path: trust_anchors.as_ref().map(|(p, _, _)| p.clone()),
        },
        definition,
        agreements,
        rulesets: descriptors,
        trust_anchors,
        genesis,
        genesis_root,
    })
}

/// The `prev_root` of receipt 0 of the corridor chain whose head is `head`, walking back
/// through `json_of` (sequences must step down by one, so a cycle cannot loop).
pub fn first_prev_root(
    head: Digest,
    json_of: &dyn Fn(&ObjectId) -> Result<Option<Value>, Error>,
) -> Result<Digest, Error> {
    let rtype = ArtifactType::new(Kind::Corridor.receipt_artifact()).expect("a valid type");
    let mut cursor = head;
    let mut expect: Option<u64> = None;
    loop {
        let id = ObjectId::new(rtype.clone(), cursor);
        let v = json_of(&id)?.ok_or_else(|| crate::odb::Error::Missing {
            object: id.to_string(),
        })?;
        let seq = v.get("sequence").and_then(Value::as_u64).unwrap_or(0);
        if expect.is_some_and(|x| x != seq) {
            return Err(crate::odb::Error::Missing {
                object: format!("{id} (sequence {seq} out of order)"),
            }
            .into());
        }
        let prev = v
            .get("prev_root")
            .and_then(Value::as_str)
            .map(Digest::parse_loose)
            .transpose()?
            .ok_or_else(|| crate::odb::Error::Missing {
                object: format!("{id}: prev_root"),
            })?;
        if seq == 0 {
            return Ok(prev);
        }
        expect = Some(seq - 1);
        cursor = prev;
    }
}

/// Reads and checks ([`check`]) the module object `corridor-module:<value>` of corridor
/// `corridor_id` through `bytes_of`.
pub fn read_checked(
    corridor_id: &str,
    value: Digest,
    bytes_of: &BytesOf<'_>,
) -> Result<Inputs, Error> {
    let id = ObjectId::new(module_type(), value);
    let bytes = bytes_of(&id)?.ok_or_else(|| crate::odb::Error::Missing {
        object: id.to_string(),
    })?;
    if canon::sha256(&bytes) != value {
        return Err(bad(
            corridor_id,
            format!("{id}: its bytes are not its name"),
        ));
    }
    let doc = canon::parse(&bytes).map_err(|e| bad(corridor_id, format!("{id}: {e}")))?;
    check(&doc, corridor_id)
}

/// Every proof on the definition and agreement VCs verifies (checked after the digests and
/// the genesis root, so content the chain does not commit to is a digest failure first).
pub fn check_signatures(inputs: &Inputs) -> Result<(), Error> {
    let docs = std::iter::once(("definition VC", &inputs.definition))
        .chain(inputs.agreements.iter().map(|(_, d)| ("agreement VC", d)));
    for (what, doc) in docs {
        crate::vc::check_credential(doc, what)?;
        crate::vc::require_all_valid(doc, what)?;
    }
    Ok(())
}

/// Whether checked inputs give `first_prev`, receipt 0's `prev_root`.
pub fn against_chain(corridor_id: &str, inputs: &Inputs, first_prev: Digest) -> Result<(), Error> {
    if first_prev != inputs.genesis_root {
        return Err(bad(
            corridor_id,
            format!(
                "its inputs give genesis root {}, receipt 0 of the chain extends {first_prev}",
                inputs.genesis_root
            ),
        ));
    }
    Ok(())
}

/// Checks a module object (its bytes, from `bytes_of`) of corridor `corridor_id` named by a
/// module ref holding `value`, against the chain whose head is `head`: the whole of [`check`],
/// the genesis root against receipt 0's `prev_root`, then [`check_signatures`].
pub fn verify(
    corridor_id: &str,
    value: Digest,
    head: Option<Digest>,
    bytes_of: &BytesOf<'_>,
) -> Result<Inputs, Error> {
    let inputs = read_checked(corridor_id, value, bytes_of)?;
    let Some(head) = head else {
        return Err(bad(
            corridor_id,
            "there is no chain (refs/corridors/<id>/head) to check it against",
        ));
    };
    let json_of = |rid: &ObjectId| -> Result<Option<Value>, Error> {
        match bytes_of(rid)? {
            None => Ok(None),
            Some(b) => Ok(Some(canon::parse(&b).map_err(|e| Error::Parse {
                path: PathBuf::from(rid.to_string()),
                source: e,
            })?)),
        }
    };
    against_chain(corridor_id, &inputs, first_prev_root(head, &json_of)?)?;
    check_signatures(&inputs)?;
    Ok(inputs)
}

/// The bytes of a stored object, None when absent.
pub fn stored_bytes(repo: &Repo, id: &ObjectId) -> Result<Option<Vec<u8>>, Error> {
    match repo.object_bytes(id) {
        Ok((b, _)) => Ok(Some(b)),
        Err(crate::odb::Error::Missing { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// What [`store`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stored {
    /// The module ref already named this module's object.
    Unchanged(Digest),
    /// The object was stored and the ref moved to it.
    Moved(Digest),
    /// The chain has no receipt yet: nothing to check the object against, nothing stored.
    NoChain,
}

/// Stores the module object of `m` and moves `refs/corridors/<id>/module` to it, after
/// checking it as a fetch would (its genesis root is receipt 0's `prev_root`).
pub fn store(repo: &Repo, m: &CorridorModule) -> Result<Stored, Error> {
    let id = m.corridor_id();
    let value = build(m)?;
    let bytes = canon::to_bytes(&value)?;
    let digest = canon::sha256(&bytes);
    let name = module_ref(id)?;
    let old = repo.read_ref(&name)?;
    let oid = ObjectId::new(module_type(), digest);
    if old == Some(digest) && repo.has(&oid) {
        return Ok(Stored::Unchanged(digest));
    }
    let key = ChainKey::corridor(id);
    let head = repo.read_ref(&key.head_ref()?)?;
    if head.is_none() {
        return Ok(Stored::NoChain);
    }
    let local = |i: &ObjectId| -> Result<Option<Vec<u8>>, Error> {
        if *i == oid {
            return Ok(Some(bytes.clone()));
        }
        stored_bytes(repo, i)
    };
    verify(id, digest, head, &local)?;
    repo.put_reader(&module_type(), bytes.as_slice())?;
    let expect = match old {
        Some(o) => Expect::Exactly(o),
        None => Expect::Absent,
    };
    if let Err(e) = repo.update_ref(&name, digest, expect, "corridor module") {
        // A concurrent append of the same module stored the same object first.
        if repo.read_ref(&name)? == Some(digest) {
            return Ok(Stored::Unchanged(digest));
        }
        return Err(e.into());
    }
    Ok(Stored::Moved(digest))
}

/// The corridor ids that have a chain (a head ref) in the repository, sorted.
pub fn corridor_ids(repo: &Repo) -> Result<Vec<String>, Error> {
    let mut ids: Vec<String> = repo
        .refs()?
        .into_iter()
        .filter_map(
            |(name, _)| match name.as_str().split('/').collect::<Vec<_>>()[..] {
                ["refs", "corridors", id, "head"] => Some(id.to_string()),
                _ => None,
            },
        )
        .collect();
    ids.sort();
    ids.dedup();
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::corridor::InitOptions;

    fn module(t: &Path) -> CorridorModule {
        let key = crate::vc::KeyPair::load(
            &Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("vectors/msez-fixtures/keys/dev.ed25519.jwk"),
        )
        .unwrap();
        let opts = InitOptions {
            corridor_id: "c.x".into(),
            key: Some(key),
            definition: None,
            agreements: Vec::new(),
            issuance_date: "2026-01-01T00:00:00Z".into(),
            trust_anchors_path: Some("anchors.yaml".into()),
        };
        CorridorModule::init(t, &opts).unwrap()
    }

    #[test]
    fn a_built_object_checks_and_gives_the_module_s_genesis_root() {
        let t = tempfile::tempdir().unwrap();
        let m = module(t.path());
        std::fs::write(
            m.dir.join("anchors.yaml"),
            "version: 1\ntrust_anchors: []\n",
        )
        .unwrap();
        let v = build(&m).unwrap();
        // The definition pins no anchors: they are left out.
        assert!(v.get("trust_anchors").is_none());
        let inputs = check(&v, "c.x").unwrap();
        assert_eq!(inputs.genesis_root, m.genesis_root);
        assert!(check(&v, "c.y").is_err(), "another corridor id");
    }

    #[test]
    fn unsafe_paths_unpinned_anchors_and_a_wrong_root_are_refused() {
        let t = tempfile::tempdir().unwrap();
        let m = module(t.path());
        let v = build(&m).unwrap();
        let refused = |edit: &dyn Fn(&mut Value)| {
            let mut w = v.clone();
            edit(&mut w);
            let e = check(&w, "c.x").unwrap_err();
            assert_eq!(
                crate::taxonomy::Classify::code(&e),
                "digest.corridor_module"
            );
        };
        refused(&|w| w["definition"]["path"] = "../outside.json".into());
        refused(&|w| w["definition"]["path"] = "/etc/x.json".into());
        refused(&|w| {
            w["trust_anchors"] =
                serde_json::json!({"path": "anchors.yaml", "sha256": "00".repeat(32), "text": "x"})
        });
        refused(&|w| w["genesis_root"] = "ab".repeat(32).into());
        refused(&|w| w["definition"]["document"]["issuer"] = "did:key:zother".into());
    }

    #[test]
    fn the_pin_is_read_in_the_reference_s_shapes() {
        let d = "ab".repeat(32);
        for pin in [
            serde_json::json!({"sha256": d}),
            serde_json::json!({"digest_sha256": d}),
            serde_json::json!(d),
        ] {
            let def =
                serde_json::json!({"credentialSubject": {"artifacts": {"trust_anchors": pin}}});
            assert_eq!(
                pinned_trust_anchors(&def),
                Some(Digest::parse_loose(&d).unwrap())
            );
        }
        assert_eq!(pinned_trust_anchors(&serde_json::json!({})), None);
    }
}
