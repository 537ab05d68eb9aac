//! `msez checkout`: writes an asset module's working tree from what `.msez` holds, so a clone
//! (which has refs and objects, no module folder) can append, checkpoint and verify.
//!
//! What the repository holds becomes files: the genesis (`smart-asset-genesis:<asset_id>`),
//! every receipt of each purpose's head chain (with the union of its proofs), and the
//! checkpoint each checkpoint ref names. `asset.yaml` lists the purposes the refs name (the
//! default one first) and is written last: an interrupted checkout leaves no module that
//! `msez` would open, and running it again finishes it. What the repository does not hold
//! (trust anchors, inclusion proofs, fork resolutions) is not invented: the folders are made
//! empty, and `inclusion-proof` writes proofs again.
//!
//! A file already present is kept when it holds the same receipt (same next_root) or
//! checkpoint (same digest); one holding something else is a conflict unless `force`.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::artifact::{ArtifactType, ObjectId};
use crate::canon::{self, Digest, Value};
use crate::odb::{Batch, RefName, Repo, StagedFiles};

use crate::chain::genesis::DEFAULT_PURPOSE;
use crate::chain::module::Error as ModuleError;
use crate::chain::module::{ASSETS_DIR, AssetConfig, AssetModule, pretty, write_file};
use crate::chain::store::History;
use crate::chain::{Error, Kind, checkpoint, receipt};

/// What a checkout wrote.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CheckedOut {
    /// The asset id.
    pub asset_id: String,
    /// The module directory.
    pub module: PathBuf,
    /// The purposes checked out (the default first).
    pub purposes: Vec<String>,
    /// Whether genesis.json was written from the repository (false: it has no genesis object).
    pub genesis: bool,
    /// Receipt files written.
    pub receipts_written: u64,
    /// Receipt files already present with the same receipt.
    pub receipts_kept: u64,
    /// Checkpoint files written.
    pub checkpoints_written: u64,
}

/// The asset ids that have a chain (a head ref) in the repository, sorted.
pub fn asset_ids(repo: &Repo) -> Result<Vec<String>, Error> {
    let mut ids: Vec<String> = repo
        .refs()?
        .into_iter()
        .filter_map(
            |(name, _)| match name.as_str().split('/').collect::<Vec<_>>()[..] {
                ["refs", "assets", id, _, "head"] => Some(id.to_string()),
                _ => None,
            },
        )
        .collect();
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// The purposes of `asset_id` that have a head ref, the default purpose first.
pub fn purposes(repo: &Repo, asset_id: &Digest) -> Result<Vec<String>, Error> {
    let prefix = format!("refs/assets/{}/", asset_id.to_hex());
    let mut out: Vec<String> = repo
        .refs()?
        .into_iter()
        .filter_map(|(name, _)| {
            let rest = name.as_str().strip_prefix(&prefix)?;
            let purpose = rest.strip_suffix("/head")?;
            (!purpose.contains('/')).then(|| purpose.to_string())
        })
        .collect();
    out.sort_by_key(|p| (p != DEFAULT_PURPOSE, p.clone()));
    out.dedup();
    Ok(out)
}

/// Writes (or completes) `<worktree>/modules/smart-assets/<asset_id>/` from the repository.
pub fn checkout_asset(repo: &Repo, asset_id: &Digest, force: bool) -> Result<CheckedOut, Error> {
    let dir = repo.worktree().join(ASSETS_DIR).join(asset_id.to_hex());
    let gtype = ArtifactType::new("smart-asset-genesis").expect("a valid type");
    let genesis = match repo.read_json(&ObjectId::new(gtype, *asset_id)) {
        Ok(v) => Some(v),
        Err(crate::odb::Error::Missing { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    let mut purposes = purposes(repo, asset_id)?;
    if purposes.is_empty() && genesis.is_none() {
        return Err(crate::odb::Error::MissingRef {
            name: format!("refs/assets/{}/{DEFAULT_PURPOSE}/head", asset_id.to_hex()),
        }
        .into());
    }
    // An existing module keeps its own asset.yaml (its trust anchors, its purpose order).
    let existing = dir.join("asset.yaml").is_file();
    let config = if existing {
        let m = AssetModule::open(&dir, repo.worktree())?;
        if m.asset_id != *asset_id {
            return Err(Error::Module(ModuleError::CheckoutConflict {
                path: dir.join("asset.yaml"),
                why: format!("names asset {}, not {asset_id}", m.asset_id),
            }));
        }
        for p in &purposes {
            if !m.config.purposes.contains(p) {
                return Err(Error::Module(ModuleError::CheckoutConflict {
                    path: dir.join("asset.yaml"),
                    why: format!("does not list purpose {p:?}, which the repository has"),
                }));
            }
        }
        m.config
    } else {
        if purposes.is_empty() {
            purposes.push(DEFAULT_PURPOSE.to_string());
        }
        AssetConfig {
            asset_id: asset_id.to_hex(),
            purposes: purposes.clone(),
            trust_anchors_path: None,
            defaults: None,
            registry_vc_path: None,
            registry_vc_digest_sha256: None,
        }
    };
    let module = AssetModule {
        dir: dir.clone(),
        config: config.clone(),
        asset_id: *asset_id,
    };
    let mut out = CheckedOut {
        asset_id: asset_id.to_hex(),
        module: dir.clone(),
        purposes: config.purposes.clone(),
        ..CheckedOut::default()
    };
    for sub in [
        "state/receipts",
        "state/checkpoints",
        "state/proofs",
        "state/fork-resolutions",
    ] {
        std::fs::create_dir_all(dir.join(sub))
            .map_err(|e| Error::io("creating", dir.join(sub), e))?;
    }
    if let Some(g) = &genesis {
        write_genesis(&dir.join("genesis.json"), g, asset_id, force)?;
        out.genesis = true;
    }
    let mut files = StagedFiles::default();
    for purpose in &purposes {
        let chain = module.chain(Some(purpose))?;
        let key = chain.key();
        let head = repo.read_ref(&key.head_ref()?)?;
        for item in History::new(repo, Kind::Asset, head) {
            let value = item?;
            let next_root = receipt::next_root(&value)?;
            let seq = value.get("sequence").and_then(Value::as_u64).unwrap_or(0);
            let path = chain.receipts_dir.join(format!("receipt.{seq}.json"));
            match existing_next_root(&path) {
                Some(Some(n)) if n == next_root => {
                    out.receipts_kept += 1;
                    continue;
                }
                None => {}
                Some(_) if force => {}
                Some(_) => {
                    return Err(Error::Module(ModuleError::CheckoutConflict {
                        path,
                        why: format!(
                            "holds another receipt than {next_root} at sequence {seq} (--force replaces it)"
                        ),
                    }));
                }
            }
            files.write(&path, &pretty(&value))?;
            out.receipts_written += 1;
        }
        if let Some(ck) = repo.read_ref(&key.checkpoint_ref()?)? {
            let ctype = ArtifactType::new(Kind::Asset.checkpoint_artifact()).expect("valid type");
            let value = repo.read_json(&ObjectId::new(ctype, ck))?;
            let count = value
                .get("receipt_count")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            let path = chain
                .checkpoints_dir
                .join(format!("checkpoint.{count}.json"));
            let have = std::fs::read(&path)
                .ok()
                .and_then(|b| canon::parse(&b).ok())
                .and_then(|v| checkpoint::digest(&v).ok());
            if have != Some(ck) {
                if have.is_some() && !force {
                    return Err(Error::Module(ModuleError::CheckoutConflict {
                        path,
                        why: format!("holds another checkpoint than {ck} (--force replaces it)"),
                    }));
                }
                files.write(&path, &pretty(&value))?;
                out.checkpoints_written += 1;
            }
        }
    }
    // One syncfs for every receipt file, and none has its name before all are durable.
    let mut batch = Batch::new(repo);
    batch.add_files(files);
    batch.commit()?;
    if !existing {
        let yaml = serde_yaml_ng::to_string(&config).map_err(|e| {
            Error::Module(ModuleError::Module {
                path: dir.clone(),
                why: e.to_string(),
            })
        })?;
        write_file(&dir.join("asset.yaml"), yaml.as_bytes())?;
    }
    Ok(out)
}

/// Writes the asset's genesis to `path` unless it holds it already; another genesis there is
/// a conflict unless `force`.
fn write_genesis(
    path: &Path,
    genesis: &Value,
    asset_id: &Digest,
    force: bool,
) -> Result<(), Error> {
    let same = std::fs::read(path)
        .ok()
        .and_then(|b| canon::parse(&b).ok())
        .and_then(|v| crate::chain::genesis::asset_id(&v).ok())
        == Some(*asset_id);
    if !same {
        if path.exists() && !force {
            return Err(Error::Module(ModuleError::CheckoutConflict {
                path: path.to_path_buf(),
                why: "holds another genesis (--force replaces it)".into(),
            }));
        }
        write_file(path, &pretty(genesis))?;
    }
    Ok(())
}

/// The next_root of the receipt in `path`: None when there is no file, Some(None) when it does
/// not parse as a receipt.
fn existing_next_root(path: &Path) -> Option<Option<Digest>> {
    let bytes = std::fs::read(path).ok()?;
    Some(
        canon::parse(&bytes)
            .ok()
            .and_then(|v| receipt::next_root(&v).ok()),
    )
}

/// Resolves a module id as typed: a full asset_id, or a unique prefix (at least 7 hex) of one
/// that has a chain in the repository.
pub fn resolve_asset_id(repo: &Repo, typed: &str) -> Result<Digest, Error> {
    if let Ok(d) = Digest::parse_loose(typed) {
        return Ok(d);
    }
    let ids = asset_ids(repo)?;
    let d = crate::chain::names::unique(typed, ids.iter().map(String::as_str), "asset")?;
    Ok(Digest::parse_loose(&d)?)
}

/// The ref names of a chain head, for completion and listings.
pub fn head_refs(repo: &Repo) -> Result<Vec<RefName>, Error> {
    Ok(repo
        .refs()?
        .into_iter()
        .map(|(n, _)| n)
        .filter(|n| n.as_str().ends_with("/head") && !n.as_str().starts_with("refs/remotes/"))
        .collect())
}
