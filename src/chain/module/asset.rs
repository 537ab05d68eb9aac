//! The operator's working tree: `modules/smart-assets/<asset_id>/` (seed v0.4.32).
//!
//! ```text
//! asset.yaml                       asset_id, purposes, trust_anchors_path, defaults
//! genesis.json                     the SmartAssetGenesis (asset_id derived from it)
//! state/receipts/                  receipts of the default purpose (any file name)
//! state/receipts/<purpose>/        receipts of other purposes
//! state/checkpoints/[<purpose>/]   receipt-chain checkpoints
//! state/proofs/[<purpose>/]        inclusion proofs
//! state/fork-resolutions/          fork-resolution credentials (a missing folder is empty)
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::canon::{Digest, Value};

use crate::chain::Error;
use crate::chain::genesis::{self, DEFAULT_PURPOSE};
use crate::chain::module::Error as ModuleError;

/// Where asset modules live under a work tree by default.
pub const ASSETS_DIR: &str = "modules/smart-assets";

/// `asset.yaml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AssetConfig {
    /// The asset id (64 hex).
    pub asset_id: String,
    /// Chain purposes; the first is the default.
    #[serde(default = "default_purposes")]
    pub purposes: Vec<String>,
    /// Trust anchors file, relative to the module.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_anchors_path: Option<String>,
    /// Defaults for state commands (free-form).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defaults: Option<Value>,
    /// The Smart Asset Registry VC, relative to the module (`asset registry issue` sets it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_vc_path: Option<String>,
    /// The pinned registry VC's digest, `SHA256(JCS(vc − proof))`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_vc_digest_sha256: Option<String>,
}

fn default_purposes() -> Vec<String> {
    vec![DEFAULT_PURPOSE.to_string()]
}

/// An asset module directory.
#[derive(Clone, Debug)]
pub struct AssetModule {
    /// The module directory.
    pub dir: PathBuf,
    /// Its parsed asset.yaml.
    pub config: AssetConfig,
    /// The asset id.
    pub asset_id: Digest,
}

impl AssetModule {
    /// Creates a module from a genesis document under `parent` (refuses an existing module).
    pub fn init(
        parent: &Path,
        genesis_doc: &Value,
        purposes: &[String],
        trust_anchors_path: Option<String>,
    ) -> Result<AssetModule, Error> {
        let asset_id = genesis::asset_id(genesis_doc)?;
        if let Some(declared) = genesis_doc.get("asset_id").and_then(Value::as_str) {
            if Digest::parse_loose(declared).ok() != Some(asset_id) {
                return Err(Error::Module(ModuleError::Module {
                    path: parent.to_path_buf(),
                    why: format!("genesis asset_id {declared} is not the derived {asset_id}"),
                }));
            }
        }
        let dir = parent.join(asset_id.to_hex());
        if dir.join("asset.yaml").exists() {
            return Err(Error::Module(ModuleError::Module {
                path: dir,
                why: "already exists".into(),
            }));
        }
        let purposes = if purposes.is_empty() {
            default_purposes()
        } else {
            purposes.to_vec()
        };
        for p in &purposes {
            check_purpose(p, &dir)?;
        }
        create_state_dirs(&dir)?;
        let config = AssetConfig {
            asset_id: asset_id.to_hex(),
            purposes,
            trust_anchors_path,
            defaults: None,
            registry_vc_path: None,
            registry_vc_digest_sha256: None,
        };
        let mut genesis_with_id = genesis_doc.clone();
        if let Some(m) = genesis_with_id.as_object_mut() {
            m.insert("asset_id".into(), asset_id.to_hex().into());
        }
        write_pretty(&dir.join("genesis.json"), &genesis_with_id)?;
        let yaml = serde_yaml_ng::to_string(&config).map_err(|e| {
            Error::Module(ModuleError::Module {
                path: dir.clone(),
                why: e.to_string(),
            })
        })?;
        write_file(&dir.join("asset.yaml"), yaml.as_bytes())?;
        Ok(AssetModule {
            dir,
            config,
            asset_id,
        })
    }

    /// Opens a module directory, or a bare asset_id looked up under `<base>/modules/smart-assets/`.
    pub fn open(arg: &Path, base: &Path) -> Result<AssetModule, Error> {
        let dir = if arg.join("asset.yaml").is_file() {
            arg.to_path_buf()
        } else {
            let by_id = base
                .join(ASSETS_DIR)
                .join(arg.file_name().unwrap_or_default());
            if by_id.join("asset.yaml").is_file() {
                by_id
            } else {
                arg.to_path_buf()
            }
        };
        let path = dir.join("asset.yaml");
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io("reading", &path, e))?;
        let config: AssetConfig = serde_yaml_ng::from_str(&text).map_err(|e| {
            Error::Module(ModuleError::Module {
                path: path.clone(),
                why: e.to_string(),
            })
        })?;
        let asset_id = Digest::parse_loose(&config.asset_id).map_err(|_| {
            Error::Module(ModuleError::Module {
                path: path.clone(),
                why: format!("asset_id {:?} is not 64 hex", config.asset_id),
            })
        })?;
        for p in &config.purposes {
            check_purpose(p, &path)?;
        }
        Ok(AssetModule {
            dir,
            config,
            asset_id,
        })
    }

    /// The default purpose (the first listed).
    pub fn default_purpose(&self) -> &str {
        self.config
            .purposes
            .first()
            .map(String::as_str)
            .unwrap_or(DEFAULT_PURPOSE)
    }

    /// The purpose to use: the given one (which must be listed) or the default.
    pub fn purpose<'a>(&'a self, given: Option<&'a str>) -> Result<&'a str, Error> {
        match given {
            None => Ok(self.default_purpose()),
            Some(p) if self.config.purposes.iter().any(|x| x == p) => Ok(p),
            Some(p) => Err(Error::Module(ModuleError::Module {
                path: self.dir.clone(),
                why: format!(
                    "purpose {p:?} is not listed in asset.yaml ({:?})",
                    self.config.purposes
                ),
            })),
        }
    }

    /// `state/<what>/` for the default purpose, `state/<what>/<purpose>/` for others.
    pub fn state_dir(&self, what: &str, purpose: &str) -> PathBuf {
        let base = self.dir.join("state").join(what);
        if purpose == self.default_purpose() {
            base
        } else {
            base.join(purpose)
        }
    }

    /// The receipts folder of a purpose.
    pub fn receipts_dir(&self, purpose: &str) -> PathBuf {
        self.state_dir("receipts", purpose)
    }

    /// The chain of `purpose` (which must be listed), for the operations in [`crate::chain::ops`].
    pub fn chain(&self, purpose: Option<&str>) -> Result<crate::chain::ops::Chain, Error> {
        let purpose = self.purpose(purpose)?.to_string();
        Ok(crate::chain::ops::Chain {
            kind: crate::chain::Kind::Asset,
            owner: self.asset_id.to_hex(),
            genesis_root: genesis::asset_genesis_root(&self.asset_id, &purpose)?,
            module_dir: self.dir.clone(),
            receipts_dir: self.receipts_dir(&purpose),
            checkpoints_dir: self.state_dir("checkpoints", &purpose),
            proofs_dir: self.state_dir("proofs", &purpose),
            forks_dir: self.fork_resolutions_dir(),
            receipt_stem: "receipt",
            style: crate::chain::ops::FileStyle::Pretty,
            expected_sets: None,
            purpose: Some(purpose),
        })
    }

    /// The fork-resolutions folder.
    pub fn fork_resolutions_dir(&self) -> PathBuf {
        self.dir.join("state").join("fork-resolutions")
    }

    /// The trust anchors file named by asset.yaml, resolved against the module.
    pub fn trust_anchors_path(&self) -> Option<PathBuf> {
        self.config
            .trust_anchors_path
            .as_ref()
            .map(|p| self.dir.join(p))
    }

    /// Sets top-level keys of asset.yaml (atomically), keeping every other key as it was,
    /// including keys msez does not know (a reference-made asset.yaml stays intact).
    pub fn set_config_keys(&mut self, keys: &[(&str, String)]) -> Result<(), Error> {
        let path = self.dir.join("asset.yaml");
        let bad = |why: String| {
            Error::Module(ModuleError::Module {
                path: path.clone(),
                why,
            })
        };
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io("reading", &path, e))?;
        let mut doc: serde_yaml_ng::Mapping =
            serde_yaml_ng::from_str(&text).map_err(|e| bad(e.to_string()))?;
        for (k, v) in keys {
            doc.insert((*k).into(), v.clone().into());
        }
        let yaml = serde_yaml_ng::to_string(&doc).map_err(|e| bad(e.to_string()))?;
        self.config = serde_yaml_ng::from_str(&yaml).map_err(|e| bad(e.to_string()))?;
        write_file(&path, yaml.as_bytes())
    }
}

/// Purposes name folders and refs: keep them to safe names.
fn check_purpose(p: &str, path: &Path) -> Result<(), Error> {
    let ok = !p.is_empty()
        && p.len() <= 64
        && !p.starts_with('.')
        && p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::Module(ModuleError::Module {
            path: path.to_path_buf(),
            why: format!("invalid purpose {p:?} (letters, digits, . _ -)"),
        }))
    }
}

/// Creates a module's `state/` folders (receipts, checkpoints, proofs, fork resolutions).
pub fn create_state_dirs(dir: &Path) -> Result<(), Error> {
    for sub in [
        "state/receipts",
        "state/checkpoints",
        "state/proofs",
        "state/fork-resolutions",
    ] {
        std::fs::create_dir_all(dir.join(sub))
            .map_err(|e| Error::io("creating", dir.join(sub), e))?;
    }
    Ok(())
}

/// Writes pretty JSON + LF (the reference's `indent=2` files) atomically.
pub fn write_pretty(path: &Path, value: &Value) -> Result<(), Error> {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::schema(path.display().to_string(), e.to_string()))?;
    text.push('\n');
    write_file(path, text.as_bytes())
}

/// Writes a working-tree file atomically (temp file in the same folder, fsync, rename, fsync
/// of the folder).
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io("creating", dir, e))?;
    crate::fs::write(path, bytes, crate::fs::PRIVATE).map_err(|e| e.lift(Error::io))
}

/// A receipt file name, `<stem>.<seq>.json`, or `<stem>.<seq>.<16 hex of next_root>.json` when
/// another receipt already holds the plain name (a fork branch).
pub fn receipt_file(dir: &Path, stem: &str, sequence: u64, next_root: &Digest) -> PathBuf {
    let plain = dir.join(format!("{stem}.{sequence}.json"));
    if !plain.exists() {
        return plain;
    }
    let same = std::fs::read(&plain)
        .ok()
        .and_then(|b| crate::canon::parse(&b).ok())
        .and_then(|v| crate::chain::receipt::next_root(&v).ok())
        == Some(*next_root);
    if same {
        plain
    } else {
        dir.join(format!(
            "{stem}.{sequence}.{}.json",
            &next_root.to_hex()[..16]
        ))
    }
}

/// Pretty JSON + LF (the reference's `indent=2` files).
pub fn pretty(value: &Value) -> Vec<u8> {
    let mut text = serde_json::to_vec_pretty(value).expect("JSON values serialize");
    text.push(b'\n');
    text
}

/// Canonical JSON + LF (the reference's corridor files).
pub fn canonical_line(value: &Value) -> Result<Vec<u8>, Error> {
    let mut bytes = crate::canon::to_bytes(value)?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Signs `value` with every key (appending to its proof list).
pub fn sign_all(value: &mut Value, keys: &[crate::vc::KeyPair]) -> Result<(), Error> {
    for key in keys {
        crate::vc::add_proof(value, key)?;
    }
    Ok(())
}
