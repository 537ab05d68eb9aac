//! Porcelain over chains and module working trees: `msez log`, `msez status`, `msez add`.

use std::path::PathBuf;
use std::process::ExitCode;

use msez::canon::Value;
use msez::chain::module::{ASSETS_DIR, AssetModule};
use msez::chain::store::{ChainKey, History};
use msez::chain::{Kind, ops, tracking, verify};
use msez::odb::{RefName, ref_object_type};

use super::repo::open_repo;
use super::{Ctx, written};

/// `msez log REF [-n N]`.
#[derive(Debug, clap::Args)]
pub struct LogArgs {
    /// A chain head ref (`assets/<asset_id>/core/head`, `corridors/<id>/head`, a fork ref).
    pub name: String,
    /// Show at most N receipts (text and json; a picture draws the whole chain).
    #[arg(short = 'n', long)]
    pub max_count: Option<usize>,
    /// text (the default), json (as --json) or svg (a picture of the chain drawn by msez,
    /// the default with --render).
    #[arg(long, value_parser = ["text", "json", "svg"])]
    pub format: Option<String>,
    /// Write the SVG picture to FILE instead of stdout (implies --format svg; no graphviz).
    #[arg(long, value_name = "FILE")]
    pub render: Option<PathBuf>,
}

/// `msez status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {}

/// `msez add PATH...`.
#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// Asset module directories (or asset_ids) whose receipts to import after verifying them.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Import this purpose (default: every purpose of the module).
    #[arg(long)]
    pub purpose: Option<String>,
}

/// One line of `msez log`.
#[derive(Debug, serde::Serialize)]
struct Entry {
    sequence: u64,
    next_root: String,
    timestamp: String,
    signers: Vec<String>,
}

/// Walks a chain newest-first.
pub fn log(args: LogArgs, ctx: &Ctx) -> super::Result<ExitCode> {
    let format = args
        .format
        .clone()
        .unwrap_or_else(|| if args.render.is_some() { "svg" } else { "text" }.into());
    super::picture::check_render(args.render.is_some(), format == "svg")?;
    let repo = open_repo(ctx)?;
    let name = RefName::new(&args.name)?;
    // An absent (or misspelled) ref is missing, never an empty log.
    let head = repo
        .read_ref(&name)?
        .ok_or_else(|| msez::odb::Error::MissingRef {
            name: name.to_string(),
        })?;
    let kind = match ref_object_type(&name) {
        Some("smart-asset-receipt") => Kind::Asset,
        Some("corridor-receipt") => Kind::Corridor,
        _ => {
            return Err(msez::Error::Usage(format!(
                "{name} is not a receipt-chain ref (…/head or …/forks/<next_root>)"
            )));
        }
    };
    if format == "svg" {
        let svg = msez::render::svg::chain(&log_picture(&repo, kind, &name, head)?);
        super::picture::emit_svg(&svg, args.render.as_deref(), ctx)?;
        return Ok(ExitCode::SUCCESS);
    }
    let json = format == "json";
    let mut entries = Vec::new();
    for item in History::new(&repo, kind, Some(head)).take(args.max_count.unwrap_or(usize::MAX)) {
        let v = item?;
        let text = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let signers = msez::vc::proof::proofs_of(&v)
            .iter()
            .filter_map(|p| p.get("verificationMethod").and_then(Value::as_str))
            .map(|vm| vm.split('#').next().unwrap_or(vm).to_string())
            .collect();
        entries.push(Entry {
            sequence: v.get("sequence").and_then(Value::as_u64).unwrap_or(0),
            next_root: text("next_root"),
            timestamp: text("timestamp"),
            signers,
        });
    }
    let value = serde_json::json!({"ref": name, "receipts": entries});
    if json && !ctx.out.json {
        written(ctx.out.emit(&value, |w| {
            serde_json::to_writer_pretty(&mut *w, &value).map_err(std::io::Error::other)?;
            writeln!(w)
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    written(ctx.out.emit(&value, |w| {
        for e in &entries {
            writeln!(
                w,
                "{:>6} {} {} {}",
                e.sequence,
                e.next_root,
                e.timestamp,
                e.signers.join(",")
            )?;
        }
        Ok(())
    }))?;
    Ok(ExitCode::SUCCESS)
}

/// The picture of the chain `head` ends: every receipt back to genesis (long runs collapsed)
/// and the chain's checkpoint when `name` is a head ref that has one, marked as matching when
/// its final_chain_root is the chain's root at its receipt_count.
fn log_picture(
    repo: &msez::odb::Repo,
    kind: Kind,
    name: &RefName,
    head: msez::canon::Digest,
) -> super::Result<msez::render::svg::ChainPicture> {
    use msez::render::svg::{ChainPicture, Checkpoint, Status};
    let mut roots = Vec::new();
    let mut anchors = Vec::new();
    for item in History::new(repo, kind, Some(head)) {
        let v = item?;
        if kind == Kind::Corridor {
            anchors.extend(anchors_in(&v));
        }
        roots.push(
            v.get("next_root")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        );
    }
    roots.reverse();
    anchors.reverse();
    let mut picture = ChainPicture {
        title: name.to_string(),
        receipt_count: roots.len() as u64,
        anchors,
        ..ChainPicture::default()
    };
    let checkpoint_ref = name
        .as_str()
        .strip_suffix("/head")
        .map(|p| RefName::new(&format!("{p}/checkpoint")))
        .transpose()?;
    // Every checkpoint the ref has held (its reflog), not only the latest.
    let mut held = std::collections::BTreeSet::new();
    if let Some(r) = checkpoint_ref {
        held.extend(repo.read_ref(&r)?);
        if held.is_empty() {
            return Ok(with_roots(picture, &roots));
        }
        held.extend(repo.reflog(&r)?.into_iter().map(|e| e.new));
    }
    for digest in held {
        let id = msez::artifact::ObjectId::new(
            msez::artifact::ArtifactType::new(kind.checkpoint_artifact())?,
            digest,
        );
        // A checkpoint the reflog names but gc removed is not drawn.
        let Ok(ck) = repo.read_json(&id) else {
            continue;
        };
        let size = ck.get("receipt_count").and_then(Value::as_u64).unwrap_or(0);
        let root = ck.get("final_chain_root").and_then(Value::as_str);
        let status = match (
            size.checked_sub(1).and_then(|i| roots.get(i as usize)),
            root,
        ) {
            (Some(have), Some(want)) if have == want => Status::Ok,
            (Some(_), Some(_)) => Status::Bad,
            _ => Status::Unknown,
        };
        picture.checkpoints.push(Checkpoint { size, status });
    }
    picture.checkpoints.sort_by_key(|c| c.size);
    picture
        .checkpoints
        .dedup_by(|a, b| a.size == b.size && a.status == b.status);
    Ok(with_roots(picture, &roots))
}

/// The asset checkpoints a corridor receipt anchors (docs/anchoring.md), as picture marks:
/// `log` does not check them against the asset chain (`msez audit` does), so they are unknown.
fn anchors_in(receipt: &Value) -> Vec<msez::render::svg::Anchor> {
    let sequence = receipt.get("sequence").and_then(Value::as_u64).unwrap_or(0);
    let attachments = receipt
        .get("transition")
        .and_then(|t| t.get("attachments"))
        .and_then(Value::as_array);
    attachments
        .into_iter()
        .flatten()
        .filter(|a| {
            let t = a.get("artifact_type").and_then(Value::as_str).unwrap_or("");
            t == "smart-asset-receipt-checkpoint"
                || t == "smart-asset-checkpoint"
                || (t == "checkpoint" && a.get("asset_id").is_some())
        })
        .map(|a| {
            let asset = a.get("asset_id").and_then(Value::as_str).unwrap_or("asset");
            let count = a.get("receipt_count").and_then(Value::as_u64);
            msez::render::svg::Anchor {
                sequence,
                label: format!(
                    "{} @{}",
                    asset.get(..8).unwrap_or(asset),
                    count.map(|n| n.to_string()).unwrap_or_default()
                ),
                status: msez::render::svg::Status::Unknown,
            }
        })
        .collect()
}

/// Fills in the roots of the receipts the picture shows.
fn with_roots(
    mut picture: msez::render::svg::ChainPicture,
    roots: &[String],
) -> msez::render::svg::ChainPicture {
    for i in msez::render::svg::wanted_roots(&picture) {
        if let Some(r) = roots.get(i as usize) {
            picture.roots.insert(i, r.clone());
        }
    }
    picture
}

/// Stores the module's genesis beside its chains (as `module init` in a repository does: gc
/// keeps it, push sends it, fsck expects it), when it is the genesis the asset_id names.
fn store_genesis(repo: &msez::odb::Repo, m: &AssetModule) -> super::Result<()> {
    let Ok(bytes) = std::fs::read(m.dir.join("genesis.json")) else {
        return Ok(());
    };
    let Ok(mut doc) = msez::canon::parse(&bytes) else {
        return Ok(());
    };
    if msez::chain::genesis::asset_id(&doc).ok() != Some(m.asset_id) {
        return Ok(());
    }
    if let Some(map) = doc.as_object_mut() {
        map.insert("asset_id".into(), m.asset_id.to_hex().into());
    }
    let t = msez::artifact::ArtifactType::new("smart-asset-genesis").expect("a valid type");
    repo.put_json(&t, &doc)?;
    Ok(())
}

fn modules(ctx: &Ctx, root: &std::path::Path) -> super::Result<Vec<AssetModule>> {
    let dir = root.join(ASSETS_DIR);
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(out);
    };
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("asset.yaml").is_file())
        .collect();
    paths.sort();
    for p in paths {
        out.push(AssetModule::open(&p, &ctx.cwd)?);
    }
    Ok(out)
}

/// One chain in `msez status`: the library's module status (flattened: `owner`, `purpose`,
/// `head`, `untracked`, ...) and what the porcelain adds.
#[derive(Debug, serde::Serialize)]
struct ChainStatus {
    #[serde(flatten)]
    base: ops::Status,
    /// `asset` or `corridor`.
    kind: &'static str,
    /// The asset_id (docs/cli.md's key; assets only).
    #[serde(skip_serializing_if = "Option::is_none")]
    asset_id: Option<String>,
    /// The corridor id (corridors only).
    #[serde(skip_serializing_if = "Option::is_none")]
    corridor_id: Option<String>,
    /// Whether the module folder exists (`msez checkout` writes it).
    checked_out: bool,
    /// Ahead/behind against each remote's tracking ref (as of the last fetch).
    remotes: Vec<tracking::Tracking>,
    /// Losing fork branches kept under `forks/` refs.
    forks: Vec<String>,
}

impl ChainStatus {
    fn new(base: ops::Status, kind: Kind, checked_out: bool) -> ChainStatus {
        let asset = kind == Kind::Asset;
        ChainStatus {
            kind: if asset { "asset" } else { "corridor" },
            asset_id: asset.then(|| base.owner.clone()),
            corridor_id: (!asset).then(|| base.owner.clone()),
            base,
            checked_out,
            remotes: Vec::new(),
            forks: Vec::new(),
        }
    }
}

// The rendering reads the module status's fields as its own.
impl std::ops::Deref for ChainStatus {
    type Target = ops::Status;
    fn deref(&self) -> &ops::Status {
        &self.base
    }
}

/// Shows, for every chain (module folders and head refs), module receipts not yet in
/// `.msez`, and ahead/behind per remote and kept forks.
pub fn status(_args: StatusArgs, ctx: &Ctx) -> super::Result<ExitCode> {
    let repo = open_repo(ctx)?;
    let mut all = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for m in modules(ctx, repo.worktree())? {
        for p in &m.config.purposes {
            let chain = m.chain(Some(p))?;
            let s = ops::status(&repo, &chain)?;
            seen.insert(chain.key().path());
            all.push(ChainStatus::new(s, Kind::Asset, true));
        }
    }
    // Corridor modules (`msez checkout ID` writes one in a clone).
    let corridors = repo.worktree().join(msez::chain::corridor::CORRIDORS_DIR);
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&corridors)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("corridor.yaml").is_file())
        .collect();
    dirs.sort();
    for d in dirs {
        let chain = msez::chain::corridor::CorridorModule::open(&d, &ctx.cwd)?.chain();
        let s = ops::status(&repo, &chain)?;
        seen.insert(chain.key().path());
        all.push(ChainStatus::new(s, Kind::Corridor, true));
    }
    // Chains the repository has without a module folder (a clone before `msez checkout`).
    for name in msez::chain::checkout::head_refs(&repo)? {
        let Some(key) = ChainKey::from_head_ref(&name) else {
            continue;
        };
        if seen.insert(key.path()) {
            let base = ops::Status {
                owner: key.owner.clone(),
                purpose: key.purpose.clone(),
                head: repo.read_ref(&name)?,
                ..ops::Status::default()
            };
            all.push(ChainStatus::new(base, key.kind, false));
        }
    }
    for s in &mut all {
        let key = match (s.kind, &s.purpose) {
            ("asset", Some(p)) => ChainKey {
                kind: Kind::Asset,
                owner: s.owner.clone(),
                purpose: Some(p.clone()),
            },
            _ => ChainKey::corridor(&s.owner),
        };
        s.remotes = tracking::tracking(&repo, &key, s.head)?;
        s.forks = tracking::forks(&repo, &key)?
            .into_iter()
            .map(|(n, _)| n.to_string())
            .collect();
    }
    written(ctx.out.emit(&serde_json::json!({"chains": all}), |w| {
        for s in &all {
            let head = s
                .head
                .map(|d| d.to_hex())
                .unwrap_or_else(|| "(no chain)".into());
            match &s.purpose {
                Some(p) => writeln!(w, "{} {} {p}: head {head}", s.kind, s.owner)?,
                None => writeln!(w, "{} {}: head {head}", s.kind, s.owner)?,
            }
            if !s.checked_out {
                writeln!(w, "  not checked out (msez checkout {})", s.owner)?;
            }
            for r in &s.remotes {
                let what = match (r.ahead, r.behind, r.diverged) {
                    (_, _, true) => format!(
                        "diverged from {}: {} here, {} there (a fork: msez pull reports it; docs/forks.md)",
                        r.remote, r.ahead, r.behind
                    ),
                    (0, 0, _) => format!("up to date with {}", r.remote),
                    (a, 0, _) => format!("ahead of {} by {a} receipt(s) (msez push {})", r.remote, r.remote),
                    (_, b, _) => format!("behind {} by {b} receipt(s) (msez pull {})", r.remote, r.remote),
                };
                writeln!(w, "  {what}")?;
            }
            for f in &s.forks {
                writeln!(w, "  fork kept: {f}")?;
            }
            for p in &s.untracked {
                // Not in .msez (a reference tool may have written it): untracked, not damage.
                writeln!(w, "  untracked:    {}", p.display())?;
            }
            for p in &s.invalid {
                writeln!(w, "  invalid:      {}", p.display())?;
            }
            if s.checked_out && !s.head_in_worktree && s.head.is_some() {
                writeln!(w, "  head receipt has no file in the module (msez checkout {})", s.owner)?;
            }
            if s.unfinished_append {
                writeln!(
                    w,
                    "  unfinished append (journaled): `msez recover` or the next append completes it"
                )?;
            }
        }
        Ok(())
    }))?;
    Ok(ExitCode::SUCCESS)
}

/// Imports receipts and checkpoints made by other tools, after verifying them.
pub fn add(args: AddArgs, ctx: &Ctx) -> super::Result<ExitCode> {
    let repo = open_repo(ctx)?;
    let mut results = Vec::new();
    for path in &args.paths {
        let m = AssetModule::open(&ctx.path(path), &ctx.cwd)?;
        let purposes: Vec<String> = match &args.purpose {
            Some(p) => vec![m.purpose(Some(p))?.to_string()],
            None => m.config.purposes.clone(),
        };
        // With the key lifecycle its anchors file references: import verifies like verify.
        let (anchors, lifecycle) = match m.trust_anchors_path() {
            Some(p) => {
                let (a, l) = msez::chain::lifecycle::load_anchors(&p, Some(&repo))?;
                (Some(a), l)
            }
            None => (None, None),
        };
        let opts = verify::Options {
            trust_anchors: anchors,
            lifecycle,
            ..Default::default()
        };
        for p in purposes {
            let imported = ops::import(&repo, &m.chain(Some(&p))?, &opts)?;
            results.push(
                serde_json::json!({"asset_id": m.asset_id, "purpose": p, "imported": imported}),
            );
        }
        store_genesis(&repo, &m)?;
    }
    written(ctx.out.emit(&serde_json::json!({"added": results}), |w| {
        for r in &results {
            let i = &r["imported"];
            writeln!(
                w,
                "{} {}: {} receipt(s), {} checkpoint(s) added",
                r["asset_id"].as_str().unwrap_or_default(),
                r["purpose"].as_str().unwrap_or_default(),
                i["receipts"],
                i["checkpoints"]
            )?;
        }
        Ok(())
    }))?;
    Ok(ExitCode::SUCCESS)
}
