//! `msez asset module ...` and `msez asset state ...` (seed v0.4.32).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use msez::canon::{Digest, Value};
use msez::chain::harbor::PolicyFile;
use msez::chain::lifecycle::Trust;
use msez::chain::module::{ASSETS_DIR, AssetModule};
use msez::chain::{Kind, anchor, registry};
use msez::odb::Repo;
use msez::vc::{KeyPair, TrustAnchors};

use super::state::{StateCommand, read_json};
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
    /// Prove an asset checkpoint is anchored in a signed corridor checkpoint (offline).
    ///
    /// Example: msez asset anchor-verify --corridor-receipt R --proof P --checkpoint CK
    /// --asset-checkpoint ACK
    AnchorVerify(AnchorArgs),
    /// The Smart Asset Registry VC: jurisdictions and the harbor quorum policy.
    #[command(subcommand)]
    Registry(RegistryCommand),
}

/// `msez asset anchor-verify` arguments.
#[derive(Debug, clap::Args)]
pub struct AnchorArgs {
    /// The corridor receipt carrying the smart-asset-receipt-checkpoint attachment.
    #[arg(long)]
    corridor_receipt: PathBuf,
    /// Its inclusion proof in the corridor checkpoint.
    #[arg(long)]
    proof: PathBuf,
    /// The signed corridor checkpoint.
    #[arg(long)]
    checkpoint: PathBuf,
    /// The asset's receipt-chain checkpoint the attachment must name.
    #[arg(long)]
    asset_checkpoint: Option<PathBuf>,
    /// An inclusion proof of an asset receipt in that checkpoint.
    #[arg(long, requires = "asset_checkpoint")]
    asset_proof: Option<PathBuf>,
    /// The asset receipt the proof is about (else only its next_root is proven).
    #[arg(long, requires = "asset_proof")]
    asset_receipt: Option<PathBuf>,
    /// Signers must be trust anchors allowed each object's attestation.
    #[arg(long)]
    trust_anchors: Option<PathBuf>,
}

/// `msez asset registry` subcommands.
#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Issue (sign) the asset's Smart Asset Registry VC and pin it in asset.yaml.
    ///
    /// Example: msez asset registry issue --asset MODULE --jurisdiction h1 --jurisdiction h2
    /// --policy policy.yaml --key registry.jwk
    Issue {
        /// The asset module (directory or asset_id).
        #[arg(long)]
        asset: PathBuf,
        /// A harbor id bound to the asset (repeatable).
        #[arg(long = "jurisdiction", required = true)]
        jurisdictions: Vec<String>,
        /// The harbor policy (YAML/JSON: rules per transition kind pattern; docs/anchoring.md).
        #[arg(long)]
        policy: PathBuf,
        /// The issuer's key (its DID must be a trust anchor allowed smart_asset_registry).
        #[arg(long)]
        key: PathBuf,
        /// Trust anchors (default: the module's trust_anchors_path).
        #[arg(long)]
        trust_anchors: Option<PathBuf>,
        /// The issuanceDate (default: now, or SOURCE_DATE_EPOCH).
        #[arg(long)]
        timestamp: Option<String>,
        /// Write here (default: the module's registry.vc.json).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Pin a witness policy in the VC: this many of the --witness keys must cosign the
        /// chain's checkpoint (docs/tlog.md, "Witness policy").
        #[arg(long, requires = "witnesses")]
        witness_quorum: Option<u64>,
        /// A witness cosigner vkey of the policy (repeatable; msez key vkey --witness).
        #[arg(long = "witness", requires = "witness_quorum")]
        witnesses: Vec<String>,
        /// Pin the log origin prefix in the VC (docs/tlog.md, "Origins").
        #[arg(long)]
        tlog_origin_prefix: Option<String>,
    },
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
    /// Bundle the module's closure (strict) into a deterministic witness bundle.
    ///
    /// Example: msez asset module witness-bundle modules/smart-assets/<id> --out asset.zip
    WitnessBundle {
        /// The module directory or bare asset_id.
        module: PathBuf,
        /// The bundle (default: MODULE/witness/asset.witness-bundle.zip).
        #[arg(long, value_name = "BUNDLE.zip")]
        out: Option<PathBuf>,
        /// A store root searched after the module's dist/artifacts (repeatable).
        #[arg(long = "store-root", value_name = "DIR")]
        store_roots: Vec<PathBuf>,
        /// Stop after this many nodes and root files (a walk cut short refuses the bundle).
        #[arg(long, default_value_t = msez::graph::DEFAULT_MAX_NODES)]
        max_nodes: usize,
        /// Write the bundle even when the closure was cut short or a chain does not verify,
        /// marked `partial` in the manifest (it then verifies as unknown, never valid).
        #[arg(long)]
        allow_partial: bool,
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
        Command::Module(ModuleCommand::WitnessBundle {
            module,
            out,
            store_roots,
            max_nodes,
            allow_partial,
        }) => super::bundle::witness_bundle(
            &module,
            out.as_deref(),
            &store_roots,
            max_nodes,
            allow_partial,
            ctx,
        ),
        Command::State(cmd) => super::state::run(Kind::Asset, *cmd, ctx),
        Command::AnchorVerify(args) => anchor_verify(&args, ctx),
        Command::Registry(RegistryCommand::Issue {
            asset,
            jurisdictions,
            policy,
            key,
            trust_anchors,
            timestamp,
            out,
            witness_quorum,
            witnesses,
            tlog_origin_prefix,
        }) => {
            let module = AssetModule::open(&ctx.path(&asset), &ctx.cwd)?;
            let extra = tlog_subject(witness_quorum, &witnesses, tlog_origin_prefix)?;
            let anchors_path = trust_anchors
                .map(|p| ctx.path(&p))
                .or_else(|| module.trust_anchors_path());
            let anchors = anchors_path
                .map(|p| TrustAnchors::load(&p))
                .transpose()?
                .ok_or_else(|| {
                    msez::Error::Usage(
                        "a registry VC needs trust anchors (--trust-anchors, or trust_anchors_path in asset.yaml) naming its issuer and the harbors".into(),
                    )
                })?;
            let policy_path = ctx.path(&policy);
            let bytes = std::fs::read(&policy_path)
                .map_err(|e| msez::Error::io("reading", &policy_path, e))?;
            let policy = PolicyFile::parse(&bytes, &policy_path)?;
            let key = KeyPair::load(&ctx.path(&key))?;
            let out = out
                .map(|p| ctx.path(&p))
                .unwrap_or_else(|| module.dir.join(registry::REGISTRY_FILE));
            let issued = registry::issue_with(
                module,
                &anchors,
                &key,
                &super::state::timestamp(timestamp),
                &jurisdictions,
                &policy,
                &extra,
                &out,
            )?;
            if let Some(repo) = Repo::find(out.parent().unwrap_or(&ctx.cwd))? {
                let t = msez::artifact::ArtifactType::new("vc").expect("valid type");
                repo.put_json(&t, &read_json(&out)?)?;
            }
            written(ctx.out.emit(&issued, |w| {
                writeln!(w, "vc:{} {}", issued.digest, issued.path.display())
            }))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn anchor_verify(a: &AnchorArgs, ctx: &Ctx) -> super::Result<ExitCode> {
    let read = |p: &PathBuf| read_json(&ctx.path(p));
    let opt = |p: &Option<PathBuf>| p.as_ref().map(read).transpose();
    let (receipt, proof, ck) = (
        read(&a.corridor_receipt)?,
        read(&a.proof)?,
        read(&a.checkpoint)?,
    );
    let (asset_ck, asset_proof, asset_receipt) = (
        opt(&a.asset_checkpoint)?,
        opt(&a.asset_proof)?,
        opt(&a.asset_receipt)?,
    );
    let trust = a
        .trust_anchors
        .as_ref()
        .map(|p| super::state::load_trust(p, ctx))
        .transpose()?;
    let inputs = anchor::Inputs {
        corridor_receipt: &receipt,
        corridor_proof: &proof,
        corridor_checkpoint: &ck,
        asset_checkpoint: asset_ck.as_ref(),
        asset_proof: asset_proof.as_ref(),
        asset_receipt: asset_receipt.as_ref(),
        trust: trust.as_ref().map(|(a, l)| Trust::new(a, l.as_deref())),
    };
    // Every check runs (docs/verdicts.md): the established fields stay in the report whatever
    // failed, with the verdict and every finding.
    let report = anchor::check(&inputs);
    let findings = report.findings();
    let code = findings.exit_code();
    let done = &report.anchored;
    let mut value = serde_json::to_value(done).unwrap_or_default();
    if let Some(m) = value.as_object_mut() {
        m.insert("ok".into(), findings.is_empty().into());
        m.insert(
            "verdict".into(),
            serde_json::to_value(findings.verdict()).unwrap_or_default(),
        );
        m.insert("exit_code".into(), code.into());
        m.insert(
            "findings".into(),
            serde_json::to_value(findings.items()).unwrap_or_default(),
        );
        if let Some(first) = findings.0.first() {
            m.insert(
                "error".into(),
                serde_json::to_value(first).unwrap_or_default(),
            );
        }
    }
    if !findings.is_empty() {
        if ctx.out.json {
            written(ctx.out.emit(&value, |_| Ok(())))?;
        } else {
            for f in &findings.0 {
                eprintln!("FAIL: {}", f.message);
            }
        }
        return Ok(ExitCode::from(code));
    }
    written(ctx.out.emit(&value, |w| {
        match (&done.asset_id, &done.receipt_checkpoint_digest) {
            (Some(asset), None) if done.state_root.is_some() => writeln!(
                w,
                "OK: asset anchored (asset_id={asset} state_root={})",
                done.state_root.map(|d| d.to_hex()).unwrap_or_default()
            )?,
            (Some(asset), Some(d)) => writeln!(
                w,
                "OK: asset anchored (asset_id={asset} final_chain_root={} receipt_checkpoint_digest={d})",
                done.final_chain_root.as_deref().unwrap_or_default()
            )?,
            _ => writeln!(
                w,
                "OK: corridor receipt anchors {} (give --asset-checkpoint to check one)",
                done.attachments.join(", ")
            )?,
        }
        writeln!(
            w,
            "  in corridor {} receipt {} (checkpoint {})",
            done.corridor_id, done.corridor_sequence, done.corridor_checkpoint_digest
        )?;
        if let Some((leaf, root)) = &done.asset_leaf {
            writeln!(w, "  asset receipt {leaf} ({root}) is in that checkpoint")?;
        }
        Ok(())
    }))?;
    Ok(ExitCode::SUCCESS)
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

/// The transparency-log fields `asset registry issue` adds to the VC subject, checked as the
/// readers will check them (a bad vkey or quorum, or prefix, is a usage error here).
fn tlog_subject(
    quorum: Option<u64>,
    witnesses: &[String],
    prefix: Option<String>,
) -> super::Result<serde_json::Map<String, serde_json::Value>> {
    let mut extra = serde_json::Map::new();
    if let Some(q) = quorum {
        let value = serde_json::json!({"quorum": q, "witnesses": witnesses});
        msez::tlog::policy::parse(&value, std::path::Path::new("--witness-quorum/--witness"))
            .map_err(|e| msez::Error::Usage(e.to_string()))?;
        extra.insert(msez::tlog::policy::POLICY_KEY.into(), value);
    }
    if let Some(p) = prefix {
        msez::tlog::origin::check_prefix(&p)?;
        extra.insert(msez::tlog::origin::PREFIX_KEY.into(), p.into());
    }
    Ok(extra)
}
