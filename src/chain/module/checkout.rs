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
use crate::chain::module::corridor::{
    CORRIDORS_DIR, CorridorModule, RULESETS_FILE, check_corridor_id,
};
use crate::chain::module::corridor_object;
use crate::chain::module::{
    ASSETS_DIR, AssetConfig, AssetModule, canonical_line, create_state_dirs, pretty, write_file,
};
use crate::chain::ops::{Chain, FileStyle};
use crate::chain::store::ChainKey;
use crate::chain::store::History;
use crate::chain::{Error, checkpoint, receipt};

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
    /// Where genesis.json came from and what verified it.
    pub files: Vec<FileSource>,
    /// What was not written, and why.
    pub notes: Vec<String>,
}

/// Why an asset checkout writes no trust anchors.
pub const ASSET_ANCHORS_NOTE: &str = "trust anchors not written (nothing the genesis commits to pins them): copy your own into the module and name them in asset.yaml";

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
    create_state_dirs(&dir)?;
    if let Some(g) = &genesis {
        write_genesis(&dir.join("genesis.json"), g, asset_id, force)?;
        out.genesis = true;
        out.files.push(FileSource {
            path: "genesis.json".into(),
            from: format!("smart-asset-genesis:{asset_id}"),
            verified_by: "its digest is the asset_id".into(),
        });
    }
    let mut files = StagedFiles::default();
    let mut counts = Counts::default();
    for purpose in &purposes {
        stage_chain(
            repo,
            &module.chain(Some(purpose))?,
            force,
            &mut files,
            &mut counts,
        )?;
    }
    (
        out.receipts_written,
        out.receipts_kept,
        out.checkpoints_written,
    ) = (counts.written, counts.kept, counts.checkpoints);
    // One syncfs for every receipt file, and none has its name before all are durable.
    let mut batch = Batch::new(repo);
    batch.add_files(files);
    batch.commit()?;
    if config.trust_anchors_path.is_none() {
        out.notes.push(ASSET_ANCHORS_NOTE.into());
    }
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

/// Files a chain checkout wrote and kept.
#[derive(Default)]
struct Counts {
    written: u64,
    kept: u64,
    checkpoints: u64,
}

/// Stages every receipt of `chain`'s head chain (union of proofs) and the checkpoint its
/// checkpoint ref names as module files, in the chain's file style; a file holding another
/// receipt or checkpoint is a conflict unless `force`.
fn stage_chain(
    repo: &Repo,
    chain: &Chain,
    force: bool,
    files: &mut StagedFiles,
    counts: &mut Counts,
) -> Result<(), Error> {
    let encode = |v: &Value| -> Result<Vec<u8>, Error> {
        match chain.style {
            FileStyle::Pretty => Ok(pretty(v)),
            FileStyle::Canonical => canonical_line(v),
        }
    };
    let key = chain.key();
    let head = repo.read_ref(&key.head_ref()?)?;
    for item in History::new(repo, chain.kind, head) {
        let value = item?;
        let next_root = receipt::next_root(&value)?;
        let seq = value.get("sequence").and_then(Value::as_u64).unwrap_or(0);
        let path = chain
            .receipts_dir
            .join(format!("{}.{seq}.json", chain.receipt_stem));
        match existing_next_root(&path) {
            Some(Some(n)) if n == next_root => {
                counts.kept += 1;
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
        files.write(&path, &encode(&value)?)?;
        counts.written += 1;
    }
    if let Some(ck) = repo.read_ref(&key.checkpoint_ref()?)? {
        let ctype = ArtifactType::new(chain.kind.checkpoint_artifact()).expect("valid type");
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
            files.write(&path, &encode(&value)?)?;
            counts.checkpoints += 1;
        }
    }
    Ok(())
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

/// Where one module file a checkout wrote came from and what verified it.
#[derive(Clone, Debug, Serialize)]
pub struct FileSource {
    /// The file, relative to the module.
    pub path: String,
    /// The object it was written from.
    pub from: String,
    /// What vouches for its bytes.
    pub verified_by: String,
}

/// What a corridor checkout wrote.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CorridorCheckedOut {
    /// The corridor id.
    pub corridor_id: String,
    /// The module directory.
    pub module: PathBuf,
    /// The genesis root, recomputed from the module object and checked against receipt 0.
    pub genesis_root: String,
    /// The module object (`corridor-module:<digest>`) the inputs came from.
    pub module_object: String,
    /// Whether this checkout stored the module object first (a repository from before msez
    /// stored them, whose module folder is here).
    pub module_object_stored: bool,
    /// The module's input files written (empty when the module was already there).
    pub files: Vec<FileSource>,
    /// Receipt files written.
    pub receipts_written: u64,
    /// Receipt files already present with the same receipt.
    pub receipts_kept: u64,
    /// Checkpoint files written.
    pub checkpoints_written: u64,
    /// What was not written, and why.
    pub notes: Vec<String>,
}

/// Resolves a module id as typed into a corridor id when it names a corridor chain: exactly,
/// or as the one corridor id (or asset_id, then None) it is a prefix of. None: an asset.
pub fn resolve_corridor_id(repo: &Repo, typed: &str) -> Result<Option<String>, Error> {
    let corridors = corridor_object::corridor_ids(repo)?;
    if corridors.iter().any(|c| c == typed) {
        return Ok(Some(typed.to_string()));
    }
    if Digest::parse_loose(typed).is_ok() {
        return Ok(None);
    }
    let assets = asset_ids(repo)?;
    let mut found: Vec<&String> = corridors.iter().filter(|c| c.starts_with(typed)).collect();
    if found.is_empty() {
        return Ok(None);
    }
    let lower = typed.to_ascii_lowercase();
    let both = crate::chain::names::is_prefix(&lower);
    found.extend(assets.iter().filter(|a| both && a.starts_with(&lower)));
    if found.len() > 1 {
        return Err(Error::AmbiguousPrefix {
            prefix: typed.to_string(),
            candidates: found.into_iter().cloned().collect(),
        });
    }
    Ok(Some(found[0].clone()))
}

/// Writes the file `rel` of the module at `dir` unless it holds `bytes` already; other bytes
/// there are a conflict unless `force`.
fn write_input(dir: &Path, rel: &str, bytes: &[u8], force: bool) -> Result<bool, Error> {
    let path = dir.join(rel);
    match std::fs::read(&path) {
        Ok(have) if have == bytes => return Ok(false),
        Ok(_) if !force => {
            return Err(Error::Module(ModuleError::CheckoutConflict {
                path,
                why: "holds another file than the repository's module object (--force replaces it)"
                    .into(),
            }));
        }
        _ => {}
    }
    write_file(&path, bytes)?;
    Ok(true)
}

/// Writes (or completes) `<worktree>/modules/corridors/<corridor_id>/` from the repository:
/// the inputs from the module object `refs/corridors/<id>/module` names, verified (their
/// digests, the recomputed genesis root against receipt 0's `prev_root`), then the chain's
/// receipts and checkpoint; corridor.yaml last. An existing module keeps its inputs, and must
/// have the chain's genesis root.
pub fn checkout_corridor(
    repo: &Repo,
    corridor_id: &str,
    force: bool,
) -> Result<CorridorCheckedOut, Error> {
    check_corridor_id(corridor_id, Path::new(corridor_id))?;
    let dir = repo.worktree().join(CORRIDORS_DIR).join(corridor_id);
    let key = ChainKey::corridor(corridor_id);
    let head = repo.read_ref(&key.head_ref()?)?;
    if head.is_none() {
        return Err(crate::odb::Error::MissingRef {
            name: key.head_ref()?.to_string(),
        }
        .into());
    }
    let existing = dir.join("corridor.yaml").is_file();
    let name = corridor_object::module_ref(corridor_id)?;
    let mut out = CorridorCheckedOut {
        corridor_id: corridor_id.to_string(),
        module: dir.clone(),
        ..CorridorCheckedOut::default()
    };
    if existing && repo.read_ref(&name)?.is_none() {
        // A repository from before module objects: the folder is the source; store it now.
        let m = CorridorModule::open(&dir, repo.worktree())?;
        out.module_object_stored = matches!(
            corridor_object::store(repo, &m)?,
            corridor_object::Stored::Moved(_)
        );
    }
    let Some(object) = repo.read_ref(&name)? else {
        return Err(Error::Module(ModuleError::NoModuleObject {
            corridor_id: corridor_id.to_string(),
        }));
    };
    let inputs = corridor_object::verify(corridor_id, object, head, &|i| {
        corridor_object::stored_bytes(repo, i)
    })?;
    let from = format!("{}:{object}", corridor_object::MODULE_TYPE);
    out.module_object = from.clone();
    out.genesis_root = inputs.genesis_root.to_hex();
    let module = if existing {
        let m = CorridorModule::open(&dir, repo.worktree())?;
        same_genesis(&m, inputs.genesis_root, "its files give")?;
        m
    } else {
        write_inputs(&dir, &inputs, &from, force, &mut out)?;
        CorridorModule {
            dir: dir.clone(),
            config: inputs.config.clone(),
            genesis: inputs.genesis.clone(),
            genesis_root: inputs.genesis_root,
            rulesets_source: None,
        }
    };
    trust_anchor_notes(&inputs, existing, &mut out);
    create_state_dirs(&dir)?;
    let mut files = StagedFiles::default();
    let mut counts = Counts::default();
    stage_chain(repo, &module.chain(), force, &mut files, &mut counts)?;
    (
        out.receipts_written,
        out.receipts_kept,
        out.checkpoints_written,
    ) = (counts.written, counts.kept, counts.checkpoints);
    let mut batch = Batch::new(repo);
    batch.add_files(files);
    batch.commit()?;
    if !existing {
        let yaml = serde_yaml_ng::to_string(&inputs.config).map_err(|e| {
            Error::Module(ModuleError::Module {
                path: dir.clone(),
                why: e.to_string(),
            })
        })?;
        write_file(&dir.join("corridor.yaml"), yaml.as_bytes())?;
        // What msez will compute from the files written must be the chain's genesis root (a
        // rulesets.yaml above the module would change it).
        let opened = CorridorModule::open(&dir, repo.worktree())?;
        same_genesis(
            &opened,
            inputs.genesis_root,
            "the module written (a registries/rulesets.yaml above it?) gives",
        )?;
        out.files.push(FileSource {
            path: "corridor.yaml".into(),
            from,
            verified_by: format!(
                "opened: its files give genesis root {}, receipt 0's prev_root",
                inputs.genesis_root
            ),
        });
    }
    Ok(out)
}

/// Writes the definition, agreements, ruleset descriptors and pinned trust anchors of a
/// verified module object into a new module at `dir`, recording where each came from.
fn write_inputs(
    dir: &Path,
    inputs: &corridor_object::Inputs,
    from: &str,
    force: bool,
    out: &mut CorridorCheckedOut,
) -> Result<(), Error> {
    let root = &inputs.genesis_root;
    let mut record = |path: &str, verified_by: String| {
        out.files.push(FileSource {
            path: path.to_string(),
            from: from.to_string(),
            verified_by,
        });
    };
    let docs = std::iter::once((&inputs.config.definition_vc_path, &inputs.definition))
        .chain(inputs.agreements.iter().map(|(p, d)| (p, d)));
    for (rel, doc) in docs {
        write_input(dir, rel, &pretty(doc), force)?;
        record(
            rel,
            format!(
                "payload_sha256 {}, committed by genesis root {root} (receipt 0's prev_root)",
                crate::chain::corridor::payload_sha256(doc)?
            ),
        );
    }
    if let Some(descriptors) = &inputs.rulesets {
        let yaml = serde_yaml_ng::to_string(&serde_json::json!({"rulesets": descriptors}))
            .map_err(|e| {
                Error::Module(ModuleError::Module {
                    path: dir.join(RULESETS_FILE),
                    why: e.to_string(),
                })
            })?;
        write_input(dir, RULESETS_FILE, yaml.as_bytes(), force)?;
        record(
            RULESETS_FILE,
            format!("ruleset digests committed by genesis root {root}"),
        );
    }
    if let Some((rel, bytes, sha)) = &inputs.trust_anchors {
        write_input(dir, rel, bytes, force)?;
        record(
            rel,
            format!(
                "sha256 {sha}, pinned by {} credentialSubject.artifacts.trust_anchors (committed by genesis root {root})",
                inputs.config.definition_vc_path
            ),
        );
    }
    Ok(())
}

/// Says why trust anchors were not written, when they were not.
fn trust_anchor_notes(
    inputs: &corridor_object::Inputs,
    existing: bool,
    out: &mut CorridorCheckedOut,
) {
    if existing || inputs.trust_anchors.is_some() {
        return;
    }
    let pin = corridor_object::pinned_trust_anchors(&inputs.definition);
    out.notes.push(match pin {
        Some(d) => format!(
            "trust anchors not written: the definition VC pins {d}, but the repository holds no file with that digest (copy it into the module and name it in corridor.yaml)"
        ),
        None => "trust anchors not written: the definition VC pins none, so nothing the chain commits to vouches for a file (copy your own and name it in corridor.yaml)".into(),
    });
}

/// The module at its folder computes the chain's genesis root `expected` (`what` says whose
/// files gave the other one).
fn same_genesis(m: &CorridorModule, expected: Digest, what: &str) -> Result<(), Error> {
    if m.genesis_root == expected {
        return Ok(());
    }
    Err(Error::Module(ModuleError::CheckoutConflict {
        path: m.dir.join("corridor.yaml"),
        why: format!(
            "{what} genesis root {}, the repository's chain extends {expected}",
            m.genesis_root
        ),
    }))
}
