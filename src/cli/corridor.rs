//! `msez corridor module ...` and `msez corridor state ...`: corridor receipt chains.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use msez::canon::{Digest, Value};
use msez::chain::corridor::{self as ops, CORRIDORS_DIR, CorridorModule, InitOptions};
use msez::chain::receipt::{Draft, normalize_set};
use msez::chain::verify::{self, ChainResult};
use msez::chain::{self, envelope};
use msez::error::{Classify, Finding};
use msez::odb::Repo;
use msez::vc::{KeyPair, TrustAnchors};

use super::asset::{
    fail, load_keys, newest_checkpoint, read_json, read_lines, relative, timestamp,
};
use super::{Ctx, written};

/// `msez corridor` subcommands.
#[derive(Debug, Subcommand)]
// Parsed once per process: boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Corridor module layout.
    #[command(subcommand)]
    Module(ModuleCommand),
    /// The receipt chain of a corridor module.
    #[command(subcommand)]
    State(StateCommand),
}

/// `msez corridor module` subcommands.
#[derive(Debug, Subcommand)]
pub enum ModuleCommand {
    /// Create modules/corridors/<ID>/: corridor.yaml, a definition VC signed with --key, state/.
    ///
    /// Example: msez corridor module init --corridor-id org.example.corridor.a-b --key zone-a.jwk
    Init {
        /// The corridor id (1-128 of A-Z a-z 0-9 . _ -, not starting with a dot).
        #[arg(long)]
        corridor_id: String,
        /// Signs the new definition VC (MSEZCorridorDefinitionCredential).
        #[arg(long, required_unless_present = "definition")]
        key: Option<PathBuf>,
        /// Use this signed definition VC instead of making one.
        #[arg(long, conflicts_with = "key")]
        definition: Option<PathBuf>,
        /// An agreement VC to copy into the module (repeatable).
        #[arg(long = "agreement")]
        agreements: Vec<PathBuf>,
        /// Where modules live.
        #[arg(long, default_value = CORRIDORS_DIR)]
        dir: PathBuf,
        /// Trust anchors file, recorded in corridor.yaml (relative to the module).
        #[arg(long)]
        trust_anchors: Option<String>,
        /// The definition's issuanceDate (default: now, or SOURCE_DATE_EPOCH).
        #[arg(long)]
        timestamp: Option<String>,
    },
}

/// Options shared by the commands that read a chain.
#[derive(Debug, clap::Args)]
pub struct ChainArgs {
    /// The module directory or its corridor id.
    pub module: PathBuf,
    /// Trust anchors: receipt signers must include an anchor allowing corridor_receipt
    /// (default: the module's trust_anchors_path, when set).
    #[arg(long)]
    pub trust_anchors: Option<PathBuf>,
    /// Rebuild from the module's receipts even when .msez holds the chain state.
    #[arg(long)]
    pub from_files: bool,
}

/// `msez corridor state` subcommands.
#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Append receipts (signed with --key) to the corridor's chain.
    ReceiptInit {
        #[command(flatten)]
        chain: ChainArgs,
        /// The transition (default: the noop envelope with an empty payload).
        #[arg(long, conflicts_with = "batch")]
        transition: Option<PathBuf>,
        /// Many transitions, one JSON document per line, appended as one transaction.
        #[arg(long)]
        batch: Option<PathBuf>,
        /// A signing key (repeatable; corridor receipts must be signed).
        #[arg(long = "key", required = true)]
        keys: Vec<PathBuf>,
        /// Refuse (conflict) unless the chain's head is this next_root (`genesis`: empty chain).
        #[arg(long)]
        expect_head: Option<String>,
        /// The receipt timestamp (default: now, or SOURCE_DATE_EPOCH).
        #[arg(long)]
        timestamp: Option<String>,
        /// Override the lawpack digest set (repeatable; default: the corridor's).
        #[arg(long = "lawpack-digest")]
        lawpack_digests: Vec<String>,
        /// Override the ruleset digest set (repeatable; default: the corridor's).
        #[arg(long = "ruleset-digest")]
        ruleset_digests: Vec<String>,
    },
    /// Verify the chain (every check of the reference, in order).
    Verify {
        #[command(flatten)]
        chain: ChainArgs,
        /// Also check this checkpoint against the verified chain.
        #[arg(long)]
        checkpoint: Option<PathBuf>,
    },
    /// Write a signed checkpoint of the chain.
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
        /// Tie the proof to this checkpoint (default: the one in state/checkpoints/ of that size).
        #[arg(long)]
        checkpoint: Option<PathBuf>,
        /// Write here (default: state/proofs/corridor.inclusion-proof.<seq>.json).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Verify an inclusion proof of a corridor receipt (offline; no repository needed).
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
    /// Print the head commitment digest (§6.3) of the chain's head.
    HeadCommitment {
        #[command(flatten)]
        chain: ChainArgs,
    },
}

/// Runs one `msez corridor` subcommand.
pub fn run(command: Command, ctx: &Ctx) -> super::Result<ExitCode> {
    match command {
        Command::Module(ModuleCommand::Init {
            corridor_id,
            key,
            definition,
            agreements,
            dir,
            trust_anchors,
            timestamp: ts,
        }) => {
            let key = key.map(|k| KeyPair::load(&ctx.path(&k))).transpose()?;
            let definition = definition.map(|d| read_json(&ctx.path(&d))).transpose()?;
            let agreements = agreements
                .iter()
                .map(|p| {
                    let p = ctx.path(p);
                    let name = p
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    Ok((name, read_json(&p)?))
                })
                .collect::<super::Result<Vec<_>>>()?;
            let opts = InitOptions {
                corridor_id,
                key,
                definition,
                agreements,
                issuance_date: timestamp(ts),
                trust_anchors_path: trust_anchors,
            };
            module_init(&opts, &ctx.path(&dir), ctx)
        }
        Command::State(cmd) => state(cmd, ctx),
    }
}

fn module_init(opts: &InitOptions, dir: &Path, ctx: &Ctx) -> super::Result<ExitCode> {
    let module = CorridorModule::init(dir, opts)?;
    if let Some(repo) = Repo::find(&module.dir)? {
        let t = msez::artifact::ArtifactType::new("vc").expect("valid type");
        repo.put_json(
            &t,
            &read_json(&module.dir.join(&module.config.definition_vc_path))?,
        )?;
        for p in &module.config.agreement_vc_paths {
            repo.put_json(&t, &read_json(&module.dir.join(p))?)?;
        }
    }
    let g = &module.genesis;
    let value = serde_json::json!({
        "corridor_id": module.corridor_id(), "module": module.dir,
        "genesis_root": module.genesis_root,
        "definition_payload_sha256": g.definition_payload_sha256,
        "agreement_set_sha256": g.agreement_set_sha256.map(|d| d.to_hex()).unwrap_or_default(),
        "lawpack_digest_set": g.lawpack_digest_set, "ruleset_digest_set": g.ruleset_digest_set,
        "rulesets": module.rulesets_source,
    });
    written(ctx.out.emit(&value, |w| {
        writeln!(w, "{}\n{}", module.genesis_root, module.dir.display())
    }))?;
    Ok(ExitCode::SUCCESS)
}

struct Opened {
    module: CorridorModule,
    repo: Option<Repo>,
    opts: verify::Options,
}

fn open(chain: &ChainArgs, ctx: &Ctx) -> super::Result<Opened> {
    let module = CorridorModule::open(&chain.module, &ctx.cwd)?;
    let repo = Repo::find(&module.dir)?;
    let anchors_path = chain
        .trust_anchors
        .as_ref()
        .map(|p| ctx.path(p))
        .or_else(|| module.trust_anchors_path());
    let trust_anchors = anchors_path.map(|p| TrustAnchors::load(&p)).transpose()?;
    let opts = module.verify_options(verify::Options {
        trust_anchors,
        ..Default::default()
    });
    Ok(Opened { module, repo, opts })
}

fn digest_set(given: &[String], default: &[Digest]) -> Result<Vec<Digest>, chain::Error> {
    if given.is_empty() {
        return Ok(default.to_vec());
    }
    normalize_set(
        &given
            .iter()
            .map(|s| Value::String(s.clone()))
            .collect::<Vec<_>>(),
    )
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
        } => {
            let o = open(&chain, ctx)?;
            let repo = o
                .repo
                .as_ref()
                .ok_or_else(|| msez::odb::Error::NotARepository {
                    start: o.module.dir.clone(),
                })?;
            let keys = load_keys(&keys, ctx)?;
            let defaults = o.module.draft(&timestamp(ts))?;
            let base = Draft {
                lawpack_digest_set: digest_set(&lawpack_digests, &defaults.lawpack_digest_set)?,
                ruleset_digest_set: digest_set(&ruleset_digests, &defaults.ruleset_digest_set)?,
                ..defaults
            };
            let drafts = match (&transition, &batch) {
                (Some(t), _) => vec![read_json(&ctx.path(t))?],
                (None, Some(b)) => read_lines(&ctx.path(b))?,
                (None, None) => vec![base.transition.clone()],
            }
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
            let appended = ops::append(repo, &o.module, &drafts, &keys, expect)?;
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
            let checked = ops::verify(&o.module, &o.opts).and_then(|r| match &checkpoint {
                Some(ck) => {
                    ops::check_checkpoint_file(&ctx.path(ck), &r, o.opts.trust_anchors.as_ref())
                        .map(|()| r)
                        .map_err(|e| vec![e])
                }
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
            let summary = ops::summary(o.repo.as_ref(), &o.module, &o.opts, !chain.from_files)
                .map_err(|e| fail(e, ctx))?;
            let (_, done) =
                ops::checkpoint(o.repo.as_ref(), &o.module, &summary, &keys, &timestamp(ts))?;
            written(ctx.out.emit(&done, |w| {
                writeln!(w, "checkpoint:{} {}", done.digest, done.path.display())
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
                sequence,
                &o.opts,
                !chain.from_files,
            )
            .map_err(|e| fail(e, ctx))?;
            let ck_path = match checkpoint {
                Some(p) => Some(ctx.path(&p)),
                None => newest_checkpoint(&o.module.state_dir("checkpoints"), proof.size)?,
            };
            let ck = ck_path.as_ref().map(|p| read_json(p)).transpose()?;
            let uri = ck_path.as_ref().map(|p| relative(p, &o.module.dir));
            let anchor = ck
                .as_ref()
                .zip(uri.as_deref())
                .map(|(checkpoint, uri)| chain::inclusion::Anchor { checkpoint, uri });
            let doc = ops::inclusion_proof(
                &o.module,
                &proof,
                anchor.as_ref(),
                &msez::vc::proof::now_utc(),
            )?;
            let out = out.map(|p| ctx.path(&p)).unwrap_or_else(|| {
                o.module
                    .state_dir("proofs")
                    .join(format!("corridor.inclusion-proof.{sequence}.json"))
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
                    if !ctx.out.json {
                        eprintln!("FAIL: {e}");
                    }
                    Err(e.into())
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
            let (path, added) = ops::cosign(o.repo.as_ref(), &o.module, sequence, &keys, &o.opts)
                .map_err(|e| fail(e, ctx))?;
            let value =
                serde_json::json!({"path": path, "sequence": sequence, "proofs_added": added});
            written(ctx.out.emit(&value, |w| {
                writeln!(w, "{} (+{added} proof(s))", path.display())
            }))?;
            Ok(ExitCode::SUCCESS)
        }
        StateCommand::HeadCommitment { chain } => {
            let o = open(&chain, ctx)?;
            let s = ops::summary(o.repo.as_ref(), &o.module, &o.opts, !chain.from_files)
                .map_err(|e| fail(e, ctx))?;
            let digest = ops::head_commitment(&s)?;
            let value = serde_json::json!({
                "corridor_id": s.owner, "genesis_root": s.genesis_root,
                "receipt_count": s.receipt_count, "final_state_root": s.final_root,
                "mmr_root": s.mmr.root, "head_commitment_sha256": digest,
            });
            written(ctx.out.emit(&value, |w| writeln!(w, "{digest}")))?;
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
                "ok": true, "corridor_id": r.owner, "genesis_root": r.genesis_root,
                "receipt_count": r.receipt_count, "final_state_root": r.final_root, "mmr": mmr,
                "warnings": r.warnings, "errors": [],
            });
            written(ctx.out.emit(&value, |w| {
                writeln!(w, "STATE VERIFY OK")?;
                writeln!(w, "  receipts: {}  head: {}", r.receipt_count, r.final_root)?;
                writeln!(w, "  genesis root: {}", r.genesis_root)?;
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
            let value = serde_json::json!({"ok": false, "corridor_id": o.module.corridor_id(), "genesis_root": o.module.genesis_root, "errors": findings});
            written(ctx.out.emit(&value, |w| {
                writeln!(w, "STATE VERIFY FAILED")?;
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
