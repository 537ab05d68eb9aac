//! `verify`: every check of a chain (and of a checkpoint against it), rendered as one report.

use std::path::PathBuf;
use std::process::ExitCode;

use msez::chain::ops;
use msez::chain::transition_types::Lock;
use msez::chain::verify::{self as chain_verify, ChainResult};
use msez::chain::{self, Kind, checkpoint};
use msez::tlog::policy;

use super::{ChainArgs, ForkArgs, Opened, load_forks, open};
use crate::cli::{Ctx, Result, written};

/// The arguments of `verify`: verify a chain (every check of the reference, in order).
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub chain: ChainArgs,
    /// Also check this checkpoint against the verified chain.
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    #[command(flatten)]
    pub forks: ForkArgs,
    /// Every receipt must pin this transition-type lock and fit it.
    #[arg(long)]
    pub transition_types_lock: Option<PathBuf>,
}

/// Runs `verify` on a chain of `kind`.
pub fn verify(kind: Kind, args: VerifyArgs, ctx: &Ctx) -> Result<ExitCode> {
    let VerifyArgs {
        chain,
        checkpoint,
        forks,
        transition_types_lock,
    } = args;
    let mut o = open(kind, &chain, ctx)?;
    o.opts.pending_ok = false;
    o.opts.transition_types = transition_types_lock
        .map(|p| Lock::load(&ctx.path(&p)).map(std::sync::Arc::new))
        .transpose()?;
    let loaded = load_forks(&mut o, &forks, ctx);
    let mut notes = loaded
        .as_ref()
        .map(|l| l.warnings.clone())
        .unwrap_or_default();
    if let Some(l) = &o.opts.lifecycle {
        notes.extend(l.warnings());
    }
    let outcome = match loaded {
        Ok(_) => {
            let sizes = policy::note_sizes(&o.chain.checkpoints_dir);
            ops::verify_stream(&o.chain, &o.opts, &sizes)
        }
        Err(errors) => chain_verify::Outcome {
            result: None,
            errors,
            dropped: chain_verify::Dropped::default(),
        },
    };
    let dropped = outcome.dropped;
    let mut extra = msez::verdict::Findings::default();
    let mut errors = outcome.errors;
    if let Some(ck) = &checkpoint {
        let ck = ctx.path(ck);
        let found = ops::check_checkpoint_all(
            &o.chain,
            &ck,
            outcome.result.as_ref(),
            o.opts.trust(),
            &mut extra,
        );
        errors.extend(found);
        ops::complete_up_to(&mut errors, &mut extra, &ck);
    }
    let witness = witness_policy(&o, outcome.result.as_ref(), &mut extra, &mut notes);
    report_verify(
        outcome.result,
        errors,
        extra,
        dropped,
        notes,
        witness,
        &o,
        ctx,
    )
}

/// The chain's name in verify reports: `ASSET STATE` or `STATE` (the reference's prefixes).
fn label(kind: Kind) -> &'static str {
    match kind {
        Kind::Asset => "ASSET STATE",
        Kind::Corridor => "STATE",
    }
}

/// The chain's witness policy, if its module pins one, applied to its checkpoint notes
/// (docs/tlog.md): findings go to `extra`, lines that do not count to `notes`.
fn witness_policy(
    o: &Opened,
    result: Option<&ChainResult>,
    extra: &mut msez::verdict::Findings,
    notes: &mut Vec<String>,
) -> Option<policy::Report> {
    // Without a selected chain there is no root to compare notes with (already a finding).
    let r = result?;
    let report = policy::apply_at(&o.chain, r.receipt_count, |_| r.roots.clone(), extra)?;
    for i in &report.ignored {
        notes.push(format!(
            "ignored cosignature line in {} ({}): {}",
            i.note.display(),
            i.why,
            i.line
        ));
    }
    Some(report)
}

#[allow(clippy::too_many_arguments)]
fn report_verify(
    result: Option<ChainResult>,
    errors: Vec<chain::Error>,
    extra: msez::verdict::Findings,
    dropped: chain_verify::Dropped,
    mut notes: Vec<String>,
    witness: Option<policy::Report>,
    o: &Opened,
    ctx: &Ctx,
) -> Result<ExitCode> {
    let kind = o.chain.kind;
    if let Some(h) = o.opts.harbors.as_ref().filter(|h| h.policy.is_none()) {
        let n = h.self_claimed.load(std::sync::atomic::Ordering::Relaxed);
        if n > 0 {
            notes.push(format!(
                "{n} receipt(s) claim a jurisdiction_scope but no registry VC pins a harbor policy: their own jurisdiction fields apply (msez is stricter than the reference here: docs/anchoring.md)"
            ));
        }
    }
    let mut findings = msez::verdict::Findings::default();
    findings.extend(&errors);
    findings.0.extend(extra.0);
    // Findings past the first thousand are counted, not listed; they still rank.
    let ranked = || findings.0.iter().chain(&dropped.worst);
    let verdict = msez::verdict::verdict_of(ranked());
    let exit_code = msez::verdict::exit_code(ranked());
    let mut value = serde_json::Map::new();
    value.insert(kind.owner_field().into(), o.chain.owner.clone().into());
    if let Some(p) = &o.chain.purpose {
        value.insert("purpose".into(), p.clone().into());
    }
    value.insert("genesis_root".into(), o.chain.genesis_root.to_hex().into());
    value.insert(
        "ok".into(),
        (verdict == msez::verdict::Verdict::Valid).into(),
    );
    value.insert("verdict".into(), verdict.name().into());
    value.insert("exit_code".into(), exit_code.into());
    if let Some(r) = &result {
        value.insert("receipt_count".into(), r.receipt_count.into());
        value.insert(
            checkpoint::final_field(kind).into(),
            r.final_root.to_hex().into(),
        );
        value.insert(
            "mmr".into(),
            r.mmr
                .as_ref()
                .map(chain_verify::mmr_object)
                .unwrap_or_default(),
        );
    }
    if let Some(w) = &witness {
        value.insert(
            "witness_policy".into(),
            serde_json::to_value(w).unwrap_or_default(),
        );
    }
    let warnings: Vec<&String> = notes
        .iter()
        .chain(result.iter().flat_map(|r| &r.warnings))
        .collect();
    value.insert(
        "warnings".into(),
        serde_json::to_value(&warnings).unwrap_or_default(),
    );
    value.insert(
        "errors".into(),
        serde_json::to_value(findings.items()).unwrap_or_default(),
    );
    if dropped.count > 0 {
        value.insert("errors_dropped".into(), dropped.count.into());
    }
    let word = match verdict {
        msez::verdict::Verdict::Valid => "OK",
        msez::verdict::Verdict::Unknown => "UNKNOWN",
        msez::verdict::Verdict::Invalid => "FAILED",
    };
    written(ctx.out.emit(&value, |w| {
        writeln!(w, "{} VERIFY {word}", label(kind))?;
        if let Some(r) = &result {
            writeln!(w, "  receipts: {}  head: {}", r.receipt_count, r.final_root)?;
            if let Some(m) = &r.mmr {
                writeln!(w, "  mmr root: {}", m.root)?;
            }
        }
        if let Some(p) = &witness {
            writeln!(
                w,
                "  witnesses: {} of {} cosigned (quorum {}): {}",
                p.cosigned_by.len(),
                p.witnesses.len(),
                p.quorum,
                p.cosigned_by.join(", ")
            )?;
        }
        for warning in &warnings {
            writeln!(w, "  warning: {warning}")?;
        }
        if dropped.count > 0 {
            writeln!(
                w,
                "  errors: {} more not listed (the first {} are)",
                dropped.count,
                chain_verify::FINDINGS_KEPT
            )?;
        }
        Ok(())
    }))?;
    if !ctx.out.json {
        for f in &findings.0 {
            eprintln!("msez: {}", f.message);
        }
    }
    Ok(ExitCode::from(exit_code))
}
