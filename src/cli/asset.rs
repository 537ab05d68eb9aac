//! `msez asset module ...` and `msez asset state ...` (seed v0.4.32).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use msez::canon::{self, Digest, Value};
use msez::chain::asset as ops;
use msez::chain::module::{ASSETS_DIR, AssetModule};
use msez::chain::receipt::{Draft, normalize_set};
use msez::chain::verify::{self, ChainResult};
use msez::chain::{self, Kind, envelope};
use msez::error::{Classify, Finding};
use msez::odb::Repo;
use msez::vc::{KeyPair, TrustAnchors};

use super::{Ctx, written};

/// `msez asset` subcommands.
#[derive(Debug, Subcommand)]
// Parsed once per process: boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Asset module layout.
    #[command(subcommand)]
    Module(ModuleCommand),
    /// Receipt chains of an asset module.
    #[command(subcommand)]
    State(Box<StateCommand>),
}

/// `msez asset module` subcommands.
#[derive(Debug, Subcommand)]
pub enum ModuleCommand {
    /// Create modules/smart-assets/<asset_id>/ from a genesis document.
    Init {
        /// The SmartAssetGenesis JSON (asset_id = SHA256(JCS(genesis − asset_id))).
        #[arg(long)]
        genesis: PathBuf,
        /// A chain purpose (repeatable; the first is the default; default: core).
        #[arg(long = "purpose")]
        purposes: Vec<String>,
        /// Where modules live.
        #[arg(long, default_value = ASSETS_DIR)]
        dir: PathBuf,
        /// Trust anchors file, recorded in asset.yaml (relative to the module).
        #[arg(long)]
        trust_anchors: Option<String>,
    },
}

/// Options shared by the commands that read a chain.
#[derive(Debug, clap::Args)]
pub struct ChainArgs {
    /// The module directory or its asset_id.
    pub module: PathBuf,
    /// The chain purpose (default: the module's first).
    #[arg(long)]
    pub purpose: Option<String>,
    /// Trust anchors: receipt signers must include an anchor allowing smart_asset_receipt
    /// (default: the module's trust_anchors_path, when set).
    #[arg(long)]
    pub trust_anchors: Option<PathBuf>,
    /// Rebuild from the module's receipts even when .msez holds the chain state.
    #[arg(long)]
    pub from_files: bool,
}

/// `msez asset state` subcommands.
#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Append receipts (signed with --key) to a chain.
    ReceiptInit {
        #[command(flatten)]
        chain: ChainArgs,
        /// The transition (default: the reference's noop transition).
        #[arg(long, conflicts_with = "batch")]
        transition: Option<PathBuf>,
        /// Many transitions, one JSON document per line, appended as one transaction.
        #[arg(long)]
        batch: Option<PathBuf>,
        /// A signing key (repeatable).
        #[arg(long = "key")]
        keys: Vec<PathBuf>,
        /// Refuse (conflict) unless the chain's head is this next_root (`genesis`: empty chain).
        #[arg(long)]
        expect_head: Option<String>,
        /// The receipt timestamp (default: now, or SOURCE_DATE_EPOCH).
        #[arg(long)]
        timestamp: Option<String>,
        /// A lawpack digest (repeatable).
        #[arg(long = "lawpack-digest")]
        lawpack_digests: Vec<String>,
        /// A ruleset digest (repeatable).
        #[arg(long = "ruleset-digest")]
        ruleset_digests: Vec<String>,
        /// all_active, subset or quorum.
        #[arg(long)]
        jurisdiction_scope: Option<String>,
        /// A harbor id (repeatable).
        #[arg(long = "harbor-id")]
        harbor_ids: Vec<String>,
        /// The harbor quorum the receipt claims.
        #[arg(long)]
        harbor_quorum: Option<u64>,
    },
    /// Verify a chain (every check of the reference, in order).
    Verify {
        #[command(flatten)]
        chain: ChainArgs,
        /// Also check this checkpoint against the verified chain.
        #[arg(long)]
        checkpoint: Option<PathBuf>,
    },
    /// Write a signed checkpoint of a chain.
    Checkpoint {
        #[command(flatten)]
        chain: ChainArgs,
        /// A signing key (repeatable).
        #[arg(long = "key")]
        keys: Vec<PathBuf>,
        /// The checkpoint timestamp (default: now, or SOURCE_DATE_EPOCH).
        #[arg(long)]
        timestamp: Option<String>,
    },
    /// Write the inclusion proof of one receipt.
    InclusionProof {
        #[command(flatten)]
        chain: ChainArgs,
        /// The receipt's sequence.
        #[arg(long)]
        sequence: u64,
        /// Tie the proof to this checkpoint (default: the newest in state/checkpoints/).
        #[arg(long)]
        checkpoint: Option<PathBuf>,
        /// Write here (default: state/proofs/[<purpose>/]inclusion.<seq>.json).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Verify an inclusion proof of a receipt (offline; no repository needed).
    VerifyInclusion {
        /// The receipt.
        #[arg(long)]
        receipt: PathBuf,
        /// The inclusion proof.
        #[arg(long)]
        proof: PathBuf,
        /// The checkpoint the proof is tied to.
        #[arg(long)]
        checkpoint: Option<PathBuf>,
        /// Trust anchors for the receipt and checkpoint signers.
        #[arg(long)]
        trust_anchors: Option<PathBuf>,
    },
    /// Add a (late) signature to a receipt: a new proof file in .msez, the module file rewritten.
    Cosign {
        #[command(flatten)]
        chain: ChainArgs,
        /// The receipt's sequence.
        #[arg(long)]
        sequence: u64,
        /// A signing key (repeatable).
        #[arg(long = "key", required = true)]
        keys: Vec<PathBuf>,
    },
}

/// Runs one `msez asset` subcommand.
pub fn run(command: Command, ctx: &Ctx) -> super::Result<ExitCode> {
    match command {
        Command::Module(ModuleCommand::Init {
            genesis,
            purposes,
            dir,
            trust_anchors,
        }) => module_init(&genesis, &purposes, &dir, trust_anchors, ctx),
        Command::State(cmd) => state(*cmd, ctx),
    }
}

fn module_init(
    genesis: &Path,
    purposes: &[String],
    dir: &Path,
    trust_anchors: Option<String>,
    ctx: &Ctx,
) -> super::Result<ExitCode> {
    let doc = read_json(&ctx.path(genesis))?;
    let module = AssetModule::init(&ctx.path(dir), &doc, purposes, trust_anchors)?;
    if let Some(repo) = Repo::find(&module.dir)? {
        let t = msez::artifact::ArtifactType::new("smart-asset-genesis").expect("valid type");
        repo.put_json(&t, &doc_with_id(&doc, &module.asset_id))?;
    }
    let value = serde_json::json!({"asset_id": module.asset_id, "module": module.dir, "purposes": module.config.purposes});
    written(ctx.out.emit(&value, |w| {
        writeln!(w, "{}\n{}", module.asset_id, module.dir.display())
    }))?;
    Ok(ExitCode::SUCCESS)
}

fn doc_with_id(doc: &Value, asset_id: &Digest) -> Value {
    let mut d = doc.clone();
    if let Some(m) = d.as_object_mut() {
        m.insert("asset_id".into(), asset_id.to_hex().into());
    }
    d
}

/// Reads and parses a JSON file (exact integers, floats rejected).
pub fn read_json(path: &Path) -> super::Result<Value> {
    let bytes = std::fs::read(path).map_err(|e| msez::Error::io("reading", path, e))?;
    canon::parse(&bytes).map_err(|e| {
        chain::Error::Parse {
            path: path.to_path_buf(),
            source: e,
        }
        .into()
    })
}

/// Loads every `--key` JWK.
pub(super) fn load_keys(paths: &[PathBuf], ctx: &Ctx) -> super::Result<Vec<KeyPair>> {
    paths
        .iter()
        .map(|p| KeyPair::load(&ctx.path(p)).map_err(msez::Error::from))
        .collect()
}

struct Opened {
    module: AssetModule,
    purpose: String,
    repo: Option<Repo>,
    opts: verify::Options,
}

fn open(chain: &ChainArgs, ctx: &Ctx) -> super::Result<Opened> {
    let module = AssetModule::open(&ctx.path(&chain.module), &ctx.cwd)?;
    let purpose = module.purpose(chain.purpose.as_deref())?.to_string();
    let repo = Repo::find(&module.dir)?;
    let anchors_path = chain
        .trust_anchors
        .as_ref()
        .map(|p| ctx.path(p))
        .or_else(|| module.trust_anchors_path());
    let trust_anchors = anchors_path.map(|p| TrustAnchors::load(&p)).transpose()?;
    Ok(Opened {
        module,
        purpose,
        repo,
        opts: verify::Options {
            trust_anchors,
            ..Default::default()
        },
    })
}

/// The given timestamp, or now (SOURCE_DATE_EPOCH overrides the clock).
pub(super) fn timestamp(given: Option<String>) -> String {
    given.unwrap_or_else(msez::vc::proof::now_utc)
}

/// The first of several verify errors, as the command's error (all are printed first).
pub(super) fn fail(errors: Vec<chain::Error>, ctx: &Ctx) -> msez::Error {
    if errors.len() > 1 && !ctx.out.json {
        for e in &errors[1..] {
            eprintln!("msez: also: {e}");
        }
    }
    errors
        .into_iter()
        .next()
        .expect("at least one error")
        .into()
}

fn state(cmd: StateCommand, ctx: &Ctx) -> super::Result<ExitCode> {
    match cmd {
        StateCommand::ReceiptInit {
            chain,
            transition,
            batch,
            keys,
            expect_head,
            timestamp: ts,
            lawpack_digests,
            ruleset_digests,
            jurisdiction_scope,
            harbor_ids,
            harbor_quorum,
        } => {
            let o = open(&chain, ctx)?;
            let repo = o
                .repo
                .as_ref()
                .ok_or_else(|| msez::odb::Error::NotARepository {
                    start: o.module.dir.clone(),
                })?;
            let keys = load_keys(&keys, ctx)?;
            let sets = |v: &[String]| {
                normalize_set(
                    &v.iter()
                        .map(|s| Value::String(s.clone()))
                        .collect::<Vec<_>>(),
                )
            };
            let base = Draft {
                transition: Value::Null,
                timestamp: timestamp(ts),
                lawpack_digest_set: sets(&lawpack_digests)?,
                ruleset_digest_set: sets(&ruleset_digests)?,
                jurisdiction_scope,
                harbor_ids,
                harbor_quorum,
                registry_digest: None,
            };
            let transitions: Vec<Value> = match (&transition, &batch) {
                (Some(t), _) => vec![read_json(&ctx.path(t))?],
                (None, Some(b)) => read_lines(&ctx.path(b))?,
                (None, None) => vec![envelope::default_asset_transition()],
            };
            let drafts = transitions
                .iter()
                .map(|t| {
                    Ok(Draft {
                        transition: envelope::load(t)?,
                        ..base.clone()
                    })
                })
                .collect::<Result<Vec<_>, chain::Error>>()?;
            let expect = match expect_head.as_deref() {
                None => None,
                Some("genesis") => Some(None),
                Some(h) => Some(Some(Digest::parse_loose(h)?)),
            };
            let appended = ops::append(repo, &o.module, &o.purpose, &drafts, &keys, expect)?;
            written(ctx.out.emit(&appended, |w| {
                for (seq, root, path) in &appended.receipts {
                    writeln!(w, "{seq} {root} {}", path.display())?;
                }
                Ok(())
            }))?;
            Ok(ExitCode::SUCCESS)
        }
        StateCommand::Verify { chain, checkpoint } => {
            let o = open(&chain, ctx)?;
            let result = ops::verify(&o.module, &o.purpose, &o.opts);
            let checked = result.and_then(|r| match &checkpoint {
                Some(ck) => ops::check_checkpoint_file(
                    &ctx.path(ck),
                    &r,
                    &o.purpose,
                    o.opts.trust_anchors.as_ref(),
                )
                .map(|()| r)
                .map_err(|e| vec![e]),
                None => Ok(r),
            });
            report_verify(checked, &o, ctx)
        }
        StateCommand::Checkpoint {
            chain,
            keys,
            timestamp: ts,
        } => {
            let o = open(&chain, ctx)?;
            let keys = load_keys(&keys, ctx)?;
            let summary = ops::summary(
                o.repo.as_ref(),
                &o.module,
                &o.purpose,
                &o.opts,
                !chain.from_files,
            )
            .map_err(|e| fail(e, ctx))?;
            let (_, done) =
                ops::checkpoint(o.repo.as_ref(), &o.module, &summary, &keys, &timestamp(ts))?;
            written(ctx.out.emit(&done, |w| {
                writeln!(
                    w,
                    "smart-asset-receipt-checkpoint:{} {}",
                    done.digest,
                    done.path.display()
                )
            }))?;
            Ok(ExitCode::SUCCESS)
        }
        StateCommand::InclusionProof {
            chain,
            sequence,
            checkpoint,
            out,
        } => {
            let o = open(&chain, ctx)?;
            let proof = ops::prove(
                o.repo.as_ref(),
                &o.module,
                &o.purpose,
                sequence,
                &o.opts,
                !chain.from_files,
            )
            .map_err(|e| fail(e, ctx))?;
            let ck_path = match checkpoint {
                Some(p) => Some(ctx.path(&p)),
                None => {
                    newest_checkpoint(&o.module.state_dir("checkpoints", &o.purpose), proof.size)?
                }
            };
            let ck = ck_path.as_ref().map(|p| read_json(p)).transpose()?;
            let uri = ck_path.as_ref().map(|p| relative(p, &o.module.dir));
            let anchor = ck
                .as_ref()
                .zip(uri.as_deref())
                .map(|(checkpoint, uri)| chain::inclusion::Anchor { checkpoint, uri });
            let doc = chain::inclusion::build(
                Kind::Asset,
                &o.module.asset_id.to_hex(),
                &proof,
                anchor.as_ref(),
                &msez::vc::proof::now_utc(),
            )?;
            let out = out.map(|p| ctx.path(&p)).unwrap_or_else(|| {
                o.module
                    .state_dir("proofs", &o.purpose)
                    .join(format!("inclusion.{sequence}.json"))
            });
            chain::module::write_pretty(&out, &doc)?;
            let value = serde_json::json!({"path": out, "leaf_index": sequence, "size": proof.size, "root": proof.root, "checkpoint": ck_path});
            written(ctx.out.emit(&value, |w| writeln!(w, "{}", out.display())))?;
            Ok(ExitCode::SUCCESS)
        }
        StateCommand::VerifyInclusion {
            receipt,
            proof,
            checkpoint,
            trust_anchors,
        } => {
            let r = read_json(&ctx.path(&receipt))?;
            let p = read_json(&ctx.path(&proof))?;
            let ck = checkpoint.map(|c| read_json(&ctx.path(&c))).transpose()?;
            let anchors = trust_anchors
                .map(|t| TrustAnchors::load(&ctx.path(&t)))
                .transpose()?;
            match ops::verify_inclusion(&r, &p, ck.as_ref(), anchors.as_ref()) {
                Ok(()) => {
                    written(
                        ctx.out
                            .emit(&serde_json::json!({"ok": true}), |w| writeln!(w, "OK")),
                    )?;
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    // The reference's verifier says `FAIL: ...`; the error is printed once.
                    let e = msez::Error::from(e);
                    if ctx.out.json {
                        ctx.out.error(&e);
                    } else {
                        eprintln!("FAIL: {}", Finding::from_error(&e).message);
                    }
                    Ok(ExitCode::from(e.class().exit_code()))
                }
            }
        }
        StateCommand::Cosign {
            chain,
            sequence,
            keys,
        } => {
            let o = open(&chain, ctx)?;
            let keys = load_keys(&keys, ctx)?;
            let (path, added) = ops::cosign(
                o.repo.as_ref(),
                &o.module,
                &o.purpose,
                sequence,
                &keys,
                &o.opts,
            )
            .map_err(|e| fail(e, ctx))?;
            let value =
                serde_json::json!({"path": path, "sequence": sequence, "proofs_added": added});
            written(ctx.out.emit(&value, |w| {
                writeln!(w, "{} (+{added} proof(s))", path.display())
            }))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn report_verify(
    result: Result<ChainResult, Vec<chain::Error>>,
    o: &Opened,
    ctx: &Ctx,
) -> super::Result<ExitCode> {
    match result {
        Ok(r) => {
            let mmr = r.mmr.as_ref().map(verify::mmr_object);
            let value = serde_json::json!({
                "ok": true, "asset_id": r.owner, "purpose": o.purpose, "genesis_root": r.genesis_root,
                "receipt_count": r.receipt_count, "final_chain_root": r.final_root, "mmr": mmr,
                "warnings": r.warnings, "errors": [],
            });
            written(ctx.out.emit(&value, |w| {
                writeln!(w, "ASSET STATE VERIFY OK")?;
                writeln!(w, "  receipts: {}  head: {}", r.receipt_count, r.final_root)?;
                if let Some(m) = &r.mmr {
                    writeln!(w, "  mmr root: {}", m.root)?;
                }
                for warning in &r.warnings {
                    writeln!(w, "  warning: {warning}")?;
                }
                Ok(())
            }))?;
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            let findings: Vec<Finding> = errors.iter().map(Finding::from_error).collect();
            let code = errors
                .iter()
                .map(|e| e.class().exit_code())
                .min()
                .unwrap_or(1);
            let value = serde_json::json!({"ok": false, "asset_id": o.module.asset_id, "purpose": o.purpose, "errors": findings});
            written(ctx.out.emit(&value, |w| {
                writeln!(w, "ASSET STATE VERIFY FAILED")?;
                Ok(())
            }))?;
            if !ctx.out.json {
                for f in &findings {
                    eprintln!("msez: {}", f.message);
                }
            }
            Ok(ExitCode::from(code))
        }
    }
}

/// Reads a JSON-lines file (blank lines skipped).
pub(super) fn read_lines(path: &Path) -> super::Result<Vec<Value>> {
    let text = std::fs::read_to_string(path).map_err(|e| msez::Error::io("reading", path, e))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            canon::parse(l.as_bytes()).map_err(|e| {
                chain::Error::Parse {
                    path: PathBuf::from(format!("{}:{}", path.display(), i + 1)),
                    source: e,
                }
                .into()
            })
        })
        .collect()
}

/// The checkpoint in `dir` covering exactly `size` receipts, else the newest one.
pub(super) fn newest_checkpoint(dir: &Path, size: u64) -> super::Result<Option<PathBuf>> {
    let files = chain::receipt::json_files(dir)?;
    let exact = dir.join(format!("checkpoint.{size}.json"));
    if files.contains(&exact) {
        return Ok(Some(exact));
    }
    let count = |p: &PathBuf| {
        std::fs::read(p)
            .ok()
            .and_then(|b| canon::parse(&b).ok())
            .and_then(|v| v.get("receipt_count").and_then(Value::as_u64))
            .unwrap_or(0)
    };
    Ok(files.into_iter().filter(|p| count(p) == size).max())
}

/// `path` relative to `base` when inside it, for `uri` fields.
pub(super) fn relative(path: &Path, base: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .display()
        .to_string()
}
