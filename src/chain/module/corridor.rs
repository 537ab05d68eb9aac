//! Corridors: the ruleset registry, the module (`modules/corridors/<corridor_id>/`), the corridor
//! genesis root (§4.1), and the state operations (append, verify, checkpoint, prove, co-sign,
//! head commitment) mirroring [`crate::chain::module::asset`] over the same generic chain code.
//!
//! ```text
//! corridor.yaml                     corridor_id, definition/agreement VC paths, ruleset ids,
//!                                   trust_anchors_path
//! corridor.vc.json                  the signed MSEZCorridorDefinitionCredential
//! agreements/<name>.json            agreement VCs (copied in by `module init --agreement`)
//! state/receipts/                   corridor-receipt.<seq>.json (canonical JSON + LF; any name)
//! state/checkpoints/                checkpoint.<count>.json (canonical JSON + LF)
//! state/proofs/                     corridor.inclusion-proof.<seq>.json
//! state/fork-resolutions/
//! ```
//!
//! The genesis root commits to the definition VC, the agreement set, the lawpacks pinned by
//! party-specific agreements and the digests of the two rulesets, so it is computed from the
//! module's files (and the registry) every time it is needed, never stored.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::canon::{self, Digest, Value};
use crate::vc::{self, KeyPair};

use crate::chain::checkpoint::Summary;
use crate::chain::genesis::{self, CorridorGenesis};
use crate::chain::module::Error as ModuleError;
use crate::chain::module::{create_state_dirs, write_file, write_pretty};
use crate::chain::ops::{Chain, FileStyle};
use crate::chain::receipt::{self, Draft};
use crate::chain::store::ChainKey;
use crate::chain::verify::{self};
use crate::chain::{Error, Kind};

/// Where corridor modules live under a work tree by default.
pub const CORRIDORS_DIR: &str = "modules/corridors";

/// The default verification ruleset id.
pub const VERIFICATION_RULESET: &str = "msez.corridor.verification.v1";

/// The default state-transition ruleset id.
pub const STATE_TRANSITION_RULESET: &str = "msez.corridor.state-transition.v2";

/// The ruleset registry msez ships (`registries/rulesets.yaml`).
pub const EMBEDDED_RULESETS: &str = include_str!("../../../registries/rulesets.yaml");

/// The registry file a work tree may use to override the embedded one.
pub const RULESETS_FILE: &str = "registries/rulesets.yaml";

/// The definition VC's file name in a module.
pub const DEFINITION_FILE: &str = "corridor.vc.json";

/// Ruleset descriptors by id; a ruleset digest is `SHA256(JCS(descriptor))`.
#[derive(Clone, Debug)]
pub struct Rulesets {
    /// The descriptors, in file order.
    pub descriptors: Vec<Value>,
    /// The file they came from (None: the embedded registry).
    pub source: Option<PathBuf>,
}

#[derive(Deserialize)]
struct RegistryFile {
    rulesets: Vec<Value>,
}

impl Rulesets {
    /// The registry compiled into msez.
    pub fn embedded() -> Result<Rulesets, Error> {
        Rulesets::parse(EMBEDDED_RULESETS, None)
    }

    /// Parses a registry (`{rulesets: [descriptor, ...]}`); each descriptor needs a `ruleset_id`.
    pub fn parse(text: &str, source: Option<PathBuf>) -> Result<Rulesets, Error> {
        let what = || {
            source
                .clone()
                .unwrap_or_else(|| PathBuf::from("<embedded registries/rulesets.yaml>"))
        };
        let file: RegistryFile = serde_yaml_ng::from_str(text).map_err(|e| {
            Error::Module(ModuleError::Module {
                path: what(),
                why: e.to_string(),
            })
        })?;
        for d in &file.rulesets {
            if d.get("ruleset_id").and_then(Value::as_str).is_none() {
                return Err(Error::Module(ModuleError::Module {
                    path: what(),
                    why: "every ruleset descriptor needs a string ruleset_id".into(),
                }));
            }
            // Digests must be computable; reject floats and the like up front.
            canon::digest_of(d)?;
        }
        Ok(Rulesets {
            descriptors: file.rulesets,
            source,
        })
    }

    /// The registry for a module at `dir`: the nearest `registries/rulesets.yaml` in `dir` or
    /// its ancestors, not looking above the enclosing repository's work tree; else the embedded.
    pub fn for_dir(dir: &Path) -> Result<Rulesets, Error> {
        for d in dir.ancestors() {
            let file = d.join(RULESETS_FILE);
            if file.is_file() {
                let text =
                    std::fs::read_to_string(&file).map_err(|e| Error::io("reading", &file, e))?;
                return Rulesets::parse(&text, Some(file));
            }
            if d.join(".msez").is_dir() {
                break;
            }
        }
        Rulesets::embedded()
    }

    /// The descriptor of `id`.
    pub fn find(&self, id: &str) -> Option<&Value> {
        self.descriptors
            .iter()
            .find(|d| d.get("ruleset_id").and_then(Value::as_str) == Some(id))
    }

    /// The digest of ruleset `id`; an unknown id is a module error.
    pub fn digest(&self, id: &str) -> Result<Digest, Error> {
        let d = self.find(id).ok_or_else(|| {
            Error::Module(ModuleError::Module {
                path: self
                    .source
                    .clone()
                    .unwrap_or_else(|| PathBuf::from("<embedded registries/rulesets.yaml>")),
                why: format!("no ruleset descriptor with ruleset_id {id:?}"),
            })
        })?;
        Ok(canon::digest_of(d)?)
    }
}

/// `corridor.yaml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CorridorConfig {
    /// The corridor id (a safe folder name for modules; see [`check_corridor_id`]).
    pub corridor_id: String,
    /// The definition VC, relative to the module.
    #[serde(default = "default_definition")]
    pub definition_vc_path: String,
    /// Agreement VCs, relative to the module.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agreement_vc_paths: Vec<String>,
    /// The verification ruleset id.
    #[serde(default = "default_verification")]
    pub verification_ruleset: String,
    /// The state-transition ruleset id.
    #[serde(default = "default_state_transition")]
    pub state_transition_ruleset: String,
    /// Trust anchors file, relative to the module.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_anchors_path: Option<String>,
}

fn default_definition() -> String {
    DEFINITION_FILE.into()
}

fn default_verification() -> String {
    VERIFICATION_RULESET.into()
}

fn default_state_transition() -> String {
    STATE_TRANSITION_RULESET.into()
}

/// Corridor ids name folders and refs: 1–128 of `A-Z a-z 0-9 . _ -`, not starting with a dot.
pub fn check_corridor_id(id: &str, path: &Path) -> Result<(), Error> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::Module(ModuleError::Module {
            path: path.to_path_buf(),
            why: format!(
                "invalid corridor_id {id:?} (1-128 letters, digits, . _ -; not starting with .)"
            ),
        }))
    }
}

/// `SHA256(JCS(vc − proof))`: a definition or agreement VC's payload digest.
pub fn payload_sha256(vc: &Value) -> Result<Digest, Error> {
    Ok(canon::digest_without(vc, &["proof"])?)
}

/// The lawpack digests pinned by party-specific agreements (those whose credentialSubject names
/// a `party`): the sorted, unique `pinned_lawpacks[].lawpack_digest_sha256`.
pub fn pinned_lawpacks(agreements: &[Value]) -> Result<Vec<Digest>, Error> {
    let mut items = Vec::new();
    for a in agreements {
        let subject = a.get("credentialSubject");
        if subject.and_then(|s| s.get("party")).is_none() {
            continue;
        }
        if let Some(Value::Array(pins)) = subject.and_then(|s| s.get("pinned_lawpacks")) {
            for pin in pins {
                items.push(
                    pin.get("lawpack_digest_sha256")
                        .cloned()
                        .unwrap_or_default(),
                );
            }
        }
    }
    receipt::normalize_set(&items)
}

/// What the genesis root commits to, from the definition and agreement VCs and ruleset digests.
pub fn corridor_genesis(
    corridor_id: &str,
    definition: &Value,
    agreements: &[Value],
    ruleset_digests: &[Digest],
) -> Result<CorridorGenesis, Error> {
    let corridor_id = corridor_id.trim();
    let definition_payload_sha256 = payload_sha256(definition)?;
    let agreement_set_sha256 = if agreements.is_empty() {
        None
    } else {
        let payloads = agreements
            .iter()
            .map(payload_sha256)
            .collect::<Result<Vec<_>, _>>()?;
        Some(genesis::agreement_set_sha256(
            corridor_id,
            &definition_payload_sha256,
            &payloads,
        ))
    };
    let mut rulesets = ruleset_digests.to_vec();
    rulesets.sort();
    rulesets.dedup();
    Ok(CorridorGenesis {
        corridor_id: corridor_id.to_string(),
        definition_payload_sha256,
        agreement_set_sha256,
        lawpack_digest_set: pinned_lawpacks(agreements)?,
        ruleset_digest_set: rulesets,
    })
}

/// An unsigned corridor definition VC (MSEZCorridorDefinitionCredential) naming its rulesets.
pub fn definition_credential(
    corridor_id: &str,
    issuer: &vc::Did,
    issuance_date: &str,
    rulesets: &Rulesets,
    verification_ruleset: &str,
    state_transition_ruleset: &str,
) -> Result<Value, Error> {
    let verification = rulesets.digest(verification_ruleset)?;
    let state_transition = rulesets.digest(state_transition_ruleset)?;
    Ok(serde_json::json!({
        "@context": [
            "https://www.w3.org/2018/credentials/v1",
            "https://schemas.momentum-sez.org/contexts/msez/v1",
            "https://schemas.momentum-sez.org/contexts/msez/corridor/v1"
        ],
        // Deterministic, as the reference fixtures: one definition id per corridor.
        "id": format!("urn:msez:vc:corridor-definition:{corridor_id}"),
        "type": ["VerifiableCredential", "MSEZCorridorDefinitionCredential"],
        "issuer": issuer.as_str(),
        "issuanceDate": issuance_date,
        "credentialSubject": {
            "corridor_id": corridor_id,
            "ruleset": verification_ruleset,
            "state_transition_ruleset": state_transition_ruleset,
            "rulesets": [
                {"ruleset_id": verification_ruleset, "digest_sha256": verification.to_hex()},
                {"ruleset_id": state_transition_ruleset, "digest_sha256": state_transition.to_hex()}
            ]
        }
    }))
}

/// What `module init` needs.
#[derive(Clone, Debug)]
pub struct InitOptions {
    /// The corridor id.
    pub corridor_id: String,
    /// Signs a new definition VC (ignored when `definition` is given).
    pub key: Option<KeyPair>,
    /// An existing signed definition VC to use instead of a new one.
    pub definition: Option<Value>,
    /// Agreement VCs: (file name under `agreements/`, document).
    pub agreements: Vec<(String, Value)>,
    /// The new definition's issuanceDate (and proof `created`).
    pub issuance_date: String,
    /// Trust anchors file, recorded in corridor.yaml (relative to the module).
    pub trust_anchors_path: Option<String>,
}

/// A corridor module directory, with its genesis computed from its files.
#[derive(Clone, Debug)]
pub struct CorridorModule {
    /// The module directory.
    pub dir: PathBuf,
    /// Its parsed corridor.yaml.
    pub config: CorridorConfig,
    /// What the genesis root commits to.
    pub genesis: CorridorGenesis,
    /// The genesis root.
    pub genesis_root: Digest,
    /// Where the ruleset descriptors came from (None: embedded).
    pub rulesets_source: Option<PathBuf>,
}

fn module_err(path: &Path, why: impl Into<String>) -> Error {
    Error::Module(ModuleError::Module {
        path: path.to_path_buf(),
        why: why.into(),
    })
}

/// Every proof on a credential must be valid (a module pins only credentials that check out).
fn check_signed_vc(doc: &Value, what: &str) -> Result<(), Error> {
    vc::check_credential(doc, what)?;
    vc::require_all_valid(doc, what)?;
    Ok(())
}

/// A VC that names a corridor must name this one.
fn check_subject_corridor(doc: &Value, corridor_id: &str, path: &Path) -> Result<(), Error> {
    let named = doc
        .get("credentialSubject")
        .and_then(|s| s.get("corridor_id"))
        .and_then(Value::as_str);
    match named {
        Some(n) if n.trim() != corridor_id => Err(module_err(
            path,
            format!("credentialSubject.corridor_id {n:?} is not {corridor_id:?}"),
        )),
        _ => Ok(()),
    }
}

impl CorridorModule {
    /// Creates `<parent>/<corridor_id>/` with a signed definition VC (refuses an existing module).
    pub fn init(parent: &Path, opts: &InitOptions) -> Result<CorridorModule, Error> {
        let corridor_id = opts.corridor_id.trim();
        check_corridor_id(corridor_id, parent)?;
        let dir = parent.join(corridor_id);
        if dir.join("corridor.yaml").exists() {
            return Err(module_err(&dir, "already exists"));
        }
        let rulesets = Rulesets::for_dir(parent)?;
        let definition = match (&opts.definition, &opts.key) {
            (Some(d), _) => d.clone(),
            (None, Some(key)) => {
                let mut d = definition_credential(
                    corridor_id,
                    &key.did(),
                    &opts.issuance_date,
                    &rulesets,
                    VERIFICATION_RULESET,
                    STATE_TRANSITION_RULESET,
                )?;
                vc::proof::add_proof_at(&mut d, key, &opts.issuance_date)?;
                d
            }
            (None, None) => {
                return Err(module_err(
                    &dir,
                    "a definition VC or a key to sign one is needed",
                ));
            }
        };
        check_signed_vc(&definition, "corridor definition VC")?;
        check_subject_corridor(&definition, corridor_id, &dir.join(DEFINITION_FILE))?;
        let definition_digest = payload_sha256(&definition)?;
        let mut agreement_paths = Vec::with_capacity(opts.agreements.len());
        for (name, doc) in &opts.agreements {
            let rel = format!("agreements/{name}");
            let path = dir.join(&rel);
            if agreement_paths.contains(&rel) || !is_plain_file_name(name) {
                return Err(module_err(
                    &path,
                    "agreement file names must be unique and plain",
                ));
            }
            check_signed_vc(doc, &rel)?;
            check_subject_corridor(doc, corridor_id, &path)?;
            let pinned = doc
                .get("credentialSubject")
                .and_then(|s| s.get("definition_payload_sha256"))
                .and_then(Value::as_str);
            if let Some(pinned) = pinned {
                if Digest::parse_loose(pinned).ok() != Some(definition_digest) {
                    return Err(module_err(
                        &path,
                        format!(
                            "agreement is for definition {pinned}, not this corridor's {definition_digest}"
                        ),
                    ));
                }
            }
            agreement_paths.push(rel);
        }
        create_state_dirs(&dir)?;
        write_pretty(&dir.join(DEFINITION_FILE), &definition)?;
        for ((_, doc), rel) in opts.agreements.iter().zip(&agreement_paths) {
            write_pretty(&dir.join(rel), doc)?;
        }
        let config = CorridorConfig {
            corridor_id: corridor_id.to_string(),
            definition_vc_path: DEFINITION_FILE.into(),
            agreement_vc_paths: agreement_paths,
            verification_ruleset: VERIFICATION_RULESET.into(),
            state_transition_ruleset: STATE_TRANSITION_RULESET.into(),
            trust_anchors_path: opts.trust_anchors_path.clone(),
        };
        let yaml =
            serde_yaml_ng::to_string(&config).map_err(|e| module_err(&dir, e.to_string()))?;
        write_file(&dir.join("corridor.yaml"), yaml.as_bytes())?;
        CorridorModule::open(&dir, parent)
    }

    /// Opens a module directory (relative paths against `base`), or a bare corridor id looked
    /// up under `<base>/modules/corridors/`.
    pub fn open(arg: &Path, base: &Path) -> Result<CorridorModule, Error> {
        let given = base.join(arg);
        let dir = if given.join("corridor.yaml").is_file() {
            given
        } else {
            let by_id = base.join(CORRIDORS_DIR).join(arg);
            if arg.is_relative() && by_id.join("corridor.yaml").is_file() {
                by_id
            } else {
                given
            }
        };
        let path = dir.join("corridor.yaml");
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io("reading", &path, e))?;
        let config: CorridorConfig =
            serde_yaml_ng::from_str(&text).map_err(|e| module_err(&path, e.to_string()))?;
        check_corridor_id(config.corridor_id.trim(), &path)?;
        let read = |rel: &str| -> Result<Value, Error> {
            let p = dir.join(rel);
            let bytes = std::fs::read(&p).map_err(|e| Error::io("reading", &p, e))?;
            canon::parse(&bytes).map_err(|e| Error::Parse { path: p, source: e })
        };
        let definition = read(&config.definition_vc_path)?;
        let agreements = config
            .agreement_vc_paths
            .iter()
            .map(|p| read(p))
            .collect::<Result<Vec<_>, _>>()?;
        let rulesets = Rulesets::for_dir(&dir)?;
        let ruleset_digests = [
            rulesets.digest(&config.verification_ruleset)?,
            rulesets.digest(&config.state_transition_ruleset)?,
        ];
        let genesis = corridor_genesis(
            &config.corridor_id,
            &definition,
            &agreements,
            &ruleset_digests,
        )?;
        let genesis_root = genesis.root()?;
        Ok(CorridorModule {
            dir,
            config,
            genesis,
            genesis_root,
            rulesets_source: rulesets.source,
        })
    }

    /// The corridor id (trimmed).
    pub fn corridor_id(&self) -> &str {
        self.config.corridor_id.trim()
    }

    /// The chain's name in `.msez` (`refs/corridors/<id>/...`, `mmr/corridors/<id>/`).
    pub fn chain_key(&self) -> ChainKey {
        ChainKey::corridor(self.corridor_id())
    }

    /// `state/<what>/`.
    pub fn state_dir(&self, what: &str) -> PathBuf {
        self.dir.join("state").join(what)
    }

    /// The receipts folder.
    pub fn receipts_dir(&self) -> PathBuf {
        self.state_dir("receipts")
    }

    /// The trust anchors file named by corridor.yaml, resolved against the module.
    pub fn trust_anchors_path(&self) -> Option<PathBuf> {
        self.config
            .trust_anchors_path
            .as_ref()
            .map(|p| self.dir.join(p))
    }

    /// Verify options with the corridor's expected digest sets filled in.
    pub fn verify_options(&self, base: verify::Options) -> verify::Options {
        verify::Options {
            expected_rulesets: Some(self.genesis.ruleset_digest_set.clone()),
            expected_lawpacks: Some(self.genesis.lawpack_digest_set.clone()),
            ..base
        }
    }

    /// The module's chain, for the operations in [`crate::chain::ops`].
    pub fn chain(&self) -> Chain {
        Chain {
            kind: Kind::Corridor,
            owner: self.corridor_id().to_string(),
            purpose: None,
            genesis_root: self.genesis_root,
            module_dir: self.dir.clone(),
            receipts_dir: self.receipts_dir(),
            checkpoints_dir: self.state_dir("checkpoints"),
            proofs_dir: self.state_dir("proofs"),
            forks_dir: self.state_dir("fork-resolutions"),
            receipt_stem: "corridor-receipt",
            style: FileStyle::Canonical,
            expected_sets: Some((
                self.genesis.lawpack_digest_set.clone(),
                self.genesis.ruleset_digest_set.clone(),
            )),
        }
    }

    /// A receipt draft with the producer's defaults: the corridor's digest sets and the noop
    /// envelope.
    pub fn draft(&self, timestamp: &str) -> Result<Draft, Error> {
        Ok(Draft {
            transition: crate::chain::envelope::load(
                &crate::chain::envelope::default_corridor_transition(),
            )?,
            timestamp: timestamp.to_string(),
            lawpack_digest_set: self.genesis.lawpack_digest_set.clone(),
            ruleset_digest_set: self.genesis.ruleset_digest_set.clone(),
            ..Draft::default()
        })
    }
}

fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && !name.contains('/')
        && !name.contains('\\')
        && name != ".."
}

/// The head commitment of §6.3 (watcher attestations, anchors, finality).
pub fn head_commitment(s: &Summary) -> Result<Digest, Error> {
    Ok(canon::head_commitment(
        &s.owner,
        &s.genesis_root,
        s.receipt_count,
        &s.final_root,
        &s.mmr.root,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_registry_has_both_default_rulesets() {
        let r = Rulesets::embedded().unwrap();
        assert_ne!(
            r.digest(VERIFICATION_RULESET).unwrap(),
            r.digest(STATE_TRANSITION_RULESET).unwrap()
        );
        assert!(r.digest("msez.corridor.nope.v9").is_err());
    }

    #[test]
    fn corridor_ids_must_be_safe_folder_names() {
        let p = Path::new("x");
        for ok in ["org.momentum.msez.corridor.a-b_c", "c"] {
            check_corridor_id(ok, p).unwrap();
        }
        for bad in ["", ".hidden", "a/b", "..", "did:web:x#y", "a b"] {
            assert!(check_corridor_id(bad, p).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn only_party_specific_agreements_pin_lawpacks() {
        let d = "ab".repeat(32);
        let party = serde_json::json!({"credentialSubject": {"party": {"id": "did:x"},
            "pinned_lawpacks": [{"lawpack_digest_sha256": d}, {"lawpack_digest_sha256": d}]}});
        let full = serde_json::json!({"credentialSubject": {
            "pinned_lawpacks": [{"lawpack_digest_sha256": "cd".repeat(32)}]}});
        let got = pinned_lawpacks(&[party, full]).unwrap();
        assert_eq!(got, vec![Digest::parse_loose(&d).unwrap()]);
    }
}
