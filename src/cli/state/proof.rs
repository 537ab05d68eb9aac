//! `inclusion-proof`, `verify-inclusion` and `consistency-proof`: the O(log n) proofs.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use msez::canon::{self, Value};
use msez::chain::lifecycle::Trust;
use msez::chain::ops;
use msez::chain::{self, Kind, inclusion};

use super::{ChainArgs, ForkArgs, fail, fast, load_forks, load_trust, open, read_json};
use crate::cli::{Ctx, Result, written};

/// The arguments of `inclusion-proof`: write the inclusion proof of one receipt.
#[derive(Debug, clap::Args)]
pub struct InclusionProofArgs {
    #[command(flatten)]
    pub chain: ChainArgs,
    /// The receipt's sequence.
    #[arg(long)]
    pub sequence: u64,
    /// Tie the proof to this checkpoint (default: the one in state/checkpoints/ covering the chain).
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Write here (default: the module's state/proofs/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub forks: ForkArgs,
}

/// The arguments of `verify-inclusion`: verify an inclusion proof of a receipt (offline; no repository needed).
#[derive(Debug, clap::Args)]
pub struct VerifyInclusionArgs {
    /// The receipt.
    #[arg(long)]
    pub receipt: PathBuf,
    /// The inclusion proof.
    #[arg(long)]
    pub proof: PathBuf,
    /// The checkpoint the proof is tied to.
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Trust anchors for the receipt and checkpoint signers.
    #[arg(long)]
    pub trust_anchors: Option<PathBuf>,
    /// The module whose witness policy and log origin apply (default: the module enclosing
    /// --checkpoint, if any; docs/tlog.md, "Witness policy").
    #[arg(long)]
    pub module: Option<PathBuf>,
    /// The checkpoint note of the proof's size (default: checkpoint.<size>.note beside
    /// --checkpoint, else in the module's checkpoint directory).
    #[arg(long)]
    pub note: Option<PathBuf>,
}

/// The arguments of `consistency-proof`: prove (RFC 9162) that the chain at --old receipts is a prefix of the chain at --new.
#[derive(Debug, clap::Args)]
pub struct ConsistencyProofArgs {
    #[command(flatten)]
    pub chain: ChainArgs,
    /// The older size (e.g. an earlier checkpoint's receipt_count).
    #[arg(long)]
    pub old: u64,
    /// The newer size (default: the whole chain).
    #[arg(long)]
    pub new: Option<u64>,
}

/// Runs `inclusion-proof` on a chain of `kind`.
pub fn inclusion_proof(kind: Kind, args: InclusionProofArgs, ctx: &Ctx) -> Result<ExitCode> {
    let InclusionProofArgs {
        chain,
        sequence,
        checkpoint,
        out,
        forks,
    } = args;
    let mut o = open(kind, &chain, ctx)?;
    load_forks(&mut o, &forks, ctx).map_err(|e| fail(e, ctx))?;
    let proof = ops::prove(
        o.repo.as_ref(),
        &o.chain,
        sequence,
        &o.opts,
        fast(&chain, &o),
    )?;
    let ck_path = match checkpoint {
        Some(p) => Some(ctx.path(&p)),
        None => covering_checkpoint(&o.chain.checkpoints_dir, proof.size)?,
    };
    let ck = ck_path.as_ref().map(|p| read_json(p)).transpose()?;
    let uri = ck_path.as_ref().map(|p| {
        p.strip_prefix(&o.chain.module_dir)
            .unwrap_or(p)
            .display()
            .to_string()
    });
    let anchor = ck
        .as_ref()
        .zip(uri.as_deref())
        .map(|(checkpoint, uri)| inclusion::Anchor { checkpoint, uri });
    let doc = inclusion::build(
        kind,
        &o.chain.owner,
        &proof,
        anchor.as_ref(),
        &msez::vc::proof::now_utc(),
    )?;
    let name = match kind {
        Kind::Asset => format!("inclusion.{sequence}.json"),
        Kind::Corridor => format!("corridor.inclusion-proof.{sequence}.json"),
    };
    let out = out
        .map(|p| ctx.path(&p))
        .unwrap_or_else(|| o.chain.proofs_dir.join(name));
    chain::module::write_pretty(&out, &doc)?;
    let value = serde_json::json!({"path": out, "leaf_index": sequence, "size": proof.size, "root": proof.root, "checkpoint": ck_path});
    written(ctx.out.emit(&value, |w| writeln!(w, "{}", out.display())))?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `verify-inclusion` on a chain of `kind`.
pub fn verify_inclusion(kind: Kind, args: VerifyInclusionArgs, ctx: &Ctx) -> Result<ExitCode> {
    let VerifyInclusionArgs {
        receipt,
        proof,
        checkpoint,
        trust_anchors,
        module,
        note,
    } = args;
    let r = read_json(&ctx.path(&receipt))?;
    let p = read_json(&ctx.path(&proof))?;
    let ck_path = checkpoint.map(|c| ctx.path(&c));
    let ck = ck_path.as_ref().map(|c| read_json(c)).transpose()?;
    let trust = trust_anchors.map(|t| load_trust(&t, ctx)).transpose()?;
    let trust = trust.as_ref().map(|(a, l)| Trust::new(a, l.as_deref()));
    // Every check runs (docs/verdicts.md): the reference's `FAIL: ...` line is printed
    // for each failure, the first one first.
    let report = inclusion::check(kind, &r, &p, ck.as_ref(), trust);
    let mut findings = report.findings();
    let where_ = super::super::tlog_inclusion::Where {
        module: module.map(|m| ctx.path(&m)),
        note: note.map(|n| ctx.path(&n)),
        checkpoint: ck_path,
    };
    let witness =
        super::super::tlog_inclusion::apply(kind, &where_, &p, ck.as_ref(), &mut findings);
    let code = findings.exit_code();
    let items = findings.items();
    let mut value = serde_json::json!({
        "ok": findings.is_empty(),
        "verdict": findings.verdict(),
        "exit_code": code,
        "findings": items,
        "computed": report.computed,
    });
    if let Some(w) = &witness {
        value["witness_policy"] = serde_json::to_value(w).unwrap_or_default();
        for i in &w.ignored {
            ctx.out.warn(format!(
                "ignored cosignature line in {} ({}): {}",
                i.note.display(),
                i.why,
                i.line
            ));
        }
    }
    if let Some(first) = findings.0.first() {
        value["error"] = serde_json::to_value(first).unwrap_or_default();
    }
    if ctx.out.json {
        written(ctx.out.emit(&value, |_| Ok(())))?;
    } else if findings.is_empty() {
        written(ctx.out.emit(&value, |w| writeln!(w, "OK")))?;
    } else {
        for f in &findings.0 {
            eprintln!("FAIL: {}", f.message);
        }
    }
    Ok(ExitCode::from(code))
}

/// Runs `consistency-proof` on a chain of `kind`.
pub fn consistency_proof(kind: Kind, args: ConsistencyProofArgs, ctx: &Ctx) -> Result<ExitCode> {
    let ConsistencyProofArgs { chain, old, new } = args;
    let o = open(kind, &chain, ctx)?;
    let repo = o
        .repo
        .as_ref()
        .ok_or_else(|| msez::odb::Error::NotARepository {
            start: o.chain.module_dir.clone(),
        })?;
    let c = ops::consistency(repo, &o.chain, old, new)?;
    written(ctx.out.emit(&c, |w| {
        serde_json::to_writer(&mut *w, &c.proof).map_err(std::io::Error::other)?;
        writeln!(w)
    }))?;
    Ok(ExitCode::SUCCESS)
}

/// The checkpoint in `dir` covering exactly `size` receipts, if any.
fn covering_checkpoint(dir: &Path, size: u64) -> Result<Option<PathBuf>> {
    let exact = dir.join(format!("checkpoint.{size}.json"));
    if exact.is_file() {
        return Ok(Some(exact));
    }
    let count = |p: &PathBuf| {
        std::fs::read(p)
            .ok()
            .and_then(|b| canon::parse(&b).ok())
            .and_then(|v| v.get("receipt_count").and_then(Value::as_u64))
    };
    Ok(chain::receipt::json_files(dir)?
        .into_iter()
        .filter(|p| count(p) == Some(size))
        .max())
}
