//! `msez asset state ...` and `msez corridor state ...`: one set of verbs over any chain.
//!
//! The family files (`asset.rs`, `corridor.rs`) resolve MODULE into an [`ops::Chain`]; this
//! file parses the shared flags, calls [`ops`], and renders the results.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use msez::canon::{self, Value};
use msez::chain::lifecycle::Lifecycle;
use msez::chain::ops::Chain;
use msez::chain::{self, Kind, registry};
use msez::odb::Repo;
use msez::vc::{KeyPair, TrustAnchors};

use super::Ctx;

mod append;
mod checkpoint;
mod cosign;
mod fork;
mod proof;
mod verify;

/// Options shared by the commands that read a chain.
#[derive(Debug, clap::Args)]
pub struct ChainArgs {
    /// The module directory, or its asset_id / corridor id.
    pub module: PathBuf,
    /// The chain purpose (assets only; default: the module's first).
    #[arg(long)]
    pub purpose: Option<String>,
    /// Trust anchors: receipt signers must include an anchor allowing smart_asset_receipt /
    /// corridor_receipt (default: the module's trust_anchors_path, when set).
    #[arg(long)]
    pub trust_anchors: Option<PathBuf>,
    /// Rebuild from the module's receipts even when .msez holds the chain state.
    #[arg(long)]
    pub from_files: bool,
}

/// Which fork resolutions selection may use (msez-wire-format.md §8; docs/forks.md).
#[derive(Debug, Default, clap::Args)]
pub struct ForkArgs {
    /// Fork resolutions: a folder of *.json or one file (default: the module's
    /// state/fork-resolutions/; a missing folder is empty).
    #[arg(long)]
    pub fork_resolutions: Option<PathBuf>,
    /// Also count unsigned resolutions and those not signed by an anchor allowed
    /// fork_resolution (the reference's behaviour, for old data).
    #[arg(long)]
    pub allow_unsigned_fork_resolutions: bool,
}

/// The verbs every chain has.
#[derive(Debug, Subcommand)]
// Parsed once per process: boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum StateCommand {
    /// Append receipts (signed with --key) to a chain, as one transaction.
    ReceiptInit(append::ReceiptInitArgs),
    /// Verify a chain (every check of the reference, in order).
    Verify(verify::VerifyArgs),
    /// Write a signed checkpoint of a chain.
    Checkpoint(checkpoint::CheckpointArgs),
    /// Write the inclusion proof of one receipt.
    InclusionProof(proof::InclusionProofArgs),
    /// Verify an inclusion proof of a receipt (offline; no repository needed).
    VerifyInclusion(proof::VerifyInclusionArgs),
    /// Prove (RFC 9162) that the chain at --old receipts is a prefix of the chain at --new.
    ConsistencyProof(proof::ConsistencyProofArgs),
    /// Add a (late) signature to a receipt: a new proof file in .msez, the module file rewritten.
    Cosign(cosign::CosignArgs),
    /// Write a fork-resolution credential choosing one branch at a fork point, signed with --key.
    #[command(alias = "fork-resolution-init")]
    ForkResolve(fork::ForkResolveArgs),
    /// Build fork evidence from two contradicting checkpoints, or check one (--verify); offline.
    ForkEvidence(fork::ForkEvidenceArgs),
    /// Report fork points, candidates, signers, resolutions and the canonical head (exit 0).
    ForkInspect(fork::ForkInspectArgs),
}

/// A chain resolved from MODULE, with the repository enclosing it and its verify options.
pub struct Opened {
    /// The chain.
    pub chain: Chain,
    /// The repository enclosing the module, if any.
    pub repo: Option<Repo>,
    /// Verify options (trust anchors).
    pub opts: msez::chain::verify::Options,
}

/// Resolves MODULE into a chain of `kind`.
pub fn open(kind: Kind, args: &ChainArgs, ctx: &Ctx) -> super::Result<Opened> {
    let module = ctx.path(&args.module);
    let mut asset_module = None;
    let (chain, anchors) = match kind {
        Kind::Asset => {
            let m = chain::module::AssetModule::open(&module, &ctx.cwd)?;
            let c = (m.chain(args.purpose.as_deref())?, m.trust_anchors_path());
            asset_module = Some(m);
            c
        }
        Kind::Corridor => {
            if args.purpose.is_some() {
                return Err(msez::Error::Usage(
                    "--purpose applies to asset chains only".into(),
                ));
            }
            let m = chain::corridor::CorridorModule::open(&args.module, &ctx.cwd)?;
            (m.chain(), m.trust_anchors_path())
        }
    };
    let repo = Repo::find(&chain.module_dir)?;
    let anchors = args.trust_anchors.as_ref().map(|p| ctx.path(p)).or(anchors);
    let (trust_anchors, lifecycle) = match anchors {
        Some(p) => {
            let (a, l) = chain::lifecycle::load_anchors(&p, repo.as_ref())?;
            (Some(a), l)
        }
        None => (None, None),
    };
    if let (Some(l), false) = (&lifecycle, ctx.out.json) {
        for w in l.warnings() {
            ctx.out.warn(w);
        }
    }
    let harbors = match &asset_module {
        Some(m) => Some(std::sync::Arc::new(registry::harbors(
            m,
            trust_anchors.as_ref(),
        )?)),
        None => None,
    };
    Ok(Opened {
        chain,
        repo,
        opts: msez::chain::verify::Options {
            trust_anchors,
            harbors,
            // Only `verify` judges pending harbor quorums: checkpoints, proofs and co-signing
            // go on while a harbor is offline (history never waits for it).
            pending_ok: true,
            lifecycle,
            ..Default::default()
        },
    })
}

/// Loads the fork resolutions `args` name into `o.opts` and prints the loader's warnings.
pub fn load_forks_report(o: &mut Opened, args: &ForkArgs, ctx: &Ctx) -> chain::fork::Loaded {
    let dir = args
        .fork_resolutions
        .as_ref()
        .map(|p| ctx.path(p))
        .unwrap_or_else(|| o.chain.forks_dir.clone());
    let mut loaded = chain::fork::load(
        &o.chain,
        &dir,
        chain::fork::Policy {
            anchors: o.opts.trust_anchors.as_ref(),
            lifecycle: o.opts.lifecycle.as_deref(),
            allow_unsigned: args.allow_unsigned_fork_resolutions,
        },
    );
    if args.fork_resolutions.is_some() && !dir.exists() {
        // Only the module's own folder may be missing; a named one that is not there is a typo.
        loaded.warnings.push(format!(
            "--fork-resolutions {} does not exist: no resolutions loaded",
            dir.display()
        ));
    }
    o.opts.resolutions = loaded.resolutions.clone();
    if !ctx.out.json {
        for w in &loaded.warnings {
            ctx.out.warn(w);
        }
    }
    loaded
}

/// Like [`load_forks_report`], but bad resolution files and conflicts are the errors.
pub fn load_forks(
    o: &mut Opened,
    args: &ForkArgs,
    ctx: &Ctx,
) -> Result<chain::fork::Loaded, Vec<chain::Error>> {
    let mut loaded = load_forks_report(o, args, ctx);
    if loaded.errors.is_empty() {
        Ok(loaded)
    } else {
        Err(std::mem::take(&mut loaded.errors))
    }
}

/// Loads a trust-anchors file for an offline check, with the key credentials it references
/// (those referenced by digest from the repository enclosing the working directory, if any).
pub fn load_trust(
    path: &Path,
    ctx: &Ctx,
) -> super::Result<(TrustAnchors, Option<std::sync::Arc<Lifecycle>>)> {
    let repo = Repo::find(&ctx.cwd)?;
    let (anchors, lifecycle) = chain::lifecycle::load_anchors(&ctx.path(path), repo.as_ref())?;
    if let (Some(l), false) = (&lifecycle, ctx.out.json) {
        for w in l.warnings() {
            ctx.out.warn(w);
        }
    }
    Ok((anchors, lifecycle))
}

/// Whether to read the chain state in `.msez` (unless `--from-files`; see
/// [`msez::chain::verify::Options::store_suffices`]).
fn fast(args: &ChainArgs, o: &Opened) -> bool {
    !args.from_files && o.opts.store_suffices()
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

/// Loads signing keys.
pub fn load_keys(paths: &[PathBuf], ctx: &Ctx) -> super::Result<Vec<KeyPair>> {
    paths
        .iter()
        .map(|p| KeyPair::load(&ctx.path(p)).map_err(msez::Error::from))
        .collect()
}

/// The given timestamp, or now (SOURCE_DATE_EPOCH honoured).
pub fn timestamp(given: Option<String>) -> String {
    given.unwrap_or_else(msez::vc::proof::now_utc)
}

/// Several errors of one operation as the command's error: the one the precedence picks
/// (docs/verdicts.md), carrying every finding (the error document lists them).
pub fn fail(errors: Vec<chain::Error>, _ctx: &Ctx) -> msez::Error {
    chain::Error::all(errors)
        .unwrap_or(chain::Error::NoInitial)
        .into()
}

/// Runs one state verb on a chain of `kind`.
pub fn run(kind: Kind, cmd: StateCommand, ctx: &Ctx) -> super::Result<ExitCode> {
    match cmd {
        StateCommand::ReceiptInit(args) => append::receipt_init(kind, args, ctx),
        StateCommand::Verify(args) => verify::verify(kind, args, ctx),
        StateCommand::Checkpoint(args) => checkpoint::checkpoint(kind, args, ctx),
        StateCommand::InclusionProof(args) => proof::inclusion_proof(kind, args, ctx),
        StateCommand::VerifyInclusion(args) => proof::verify_inclusion(kind, args, ctx),
        StateCommand::ConsistencyProof(args) => proof::consistency_proof(kind, args, ctx),
        StateCommand::Cosign(args) => cosign::cosign(kind, args, ctx),
        StateCommand::ForkResolve(args) => fork::fork_resolve(kind, args, ctx),
        StateCommand::ForkEvidence(args) => fork::fork_evidence(kind, args, ctx),
        StateCommand::ForkInspect(args) => fork::fork_inspect(kind, args, ctx),
    }
}
