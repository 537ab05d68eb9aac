//! `fork-resolve`, `fork-evidence` and `fork-inspect`: choosing, proving and showing forks.

use std::path::PathBuf;
use std::process::ExitCode;

use msez::canon::Digest;
use msez::chain::lifecycle::Trust;
use msez::chain::ops;
use msez::chain::{self, Kind, fork};

use super::{
    ChainArgs, ForkArgs, load_forks, load_forks_report, load_keys, load_trust, open, read_json,
};
use crate::cli::{Ctx, Result, written};

/// The arguments of `fork-resolve`: write a fork-resolution credential choosing one branch at a fork point, signed with --key.
#[derive(Debug, clap::Args)]
pub struct ForkResolveArgs {
    #[command(flatten)]
    pub chain: ChainArgs,
    /// The contested sequence.
    #[arg(long)]
    pub sequence: u64,
    /// The contested prev_root (`genesis`: the chain's genesis root).
    #[arg(long)]
    pub prev_root: String,
    /// The next_root of the branch to keep.
    #[arg(long)]
    pub chosen_next_root: String,
    /// A candidate next_root to record (repeatable; optional).
    #[arg(long = "candidate")]
    pub candidates: Vec<String>,
    /// A signing key (repeatable; unsigned resolutions count only with
    /// --allow-unsigned-fork-resolutions).
    #[arg(long = "key")]
    pub keys: Vec<PathBuf>,
    /// The issuer (default: the first key's DID).
    #[arg(long)]
    pub issuer: Option<String>,
    /// Write here (default: the module's state/fork-resolutions/).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// The arguments of `fork-evidence`: build fork evidence from two contradicting checkpoints, or check one (--verify); offline.
#[derive(Debug, clap::Args)]
pub struct ForkEvidenceArgs {
    /// The first checkpoint.
    #[arg(required_unless_present = "verify", requires = "ck2")]
    pub ck1: Option<PathBuf>,
    /// The second checkpoint.
    pub ck2: Option<PathBuf>,
    /// An inclusion proof tied to the first checkpoint.
    #[arg(long, requires = "proof2")]
    pub proof1: Option<PathBuf>,
    /// An inclusion proof of the same leaf index tied to the second.
    #[arg(long, requires = "proof1")]
    pub proof2: Option<PathBuf>,
    /// Check this evidence file instead of building one.
    #[arg(long, conflicts_with_all = ["ck1", "proof1"])]
    pub verify: Option<PathBuf>,
    /// Checkpoint signers must include an anchor allowing the checkpoint attestations.
    #[arg(long)]
    pub trust_anchors: Option<PathBuf>,
    /// Write the evidence here (default: stdout).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// The arguments of `fork-inspect`: report fork points, candidates, signers, resolutions and the canonical head (exit 0).
#[derive(Debug, clap::Args)]
pub struct ForkInspectArgs {
    #[command(flatten)]
    pub chain: ChainArgs,
    #[command(flatten)]
    pub forks: ForkArgs,
    /// json (the §8.3 report, the default), svg (a picture of the branches drawn by msez,
    /// the default with --render) or dot (the same for Graphviz).
    #[arg(long, value_parser = ["json", "svg", "dot"])]
    pub format: Option<String>,
    /// Write the picture to FILE: svg (implied) needs no graphviz; with --format dot graphviz
    /// `dot` renders it (format from the extension) and its absence is an error.
    #[arg(long, value_name = "FILE")]
    pub render: Option<PathBuf>,
}

/// Runs `fork-resolve` on a chain of `kind`.
pub fn fork_resolve(kind: Kind, args: ForkResolveArgs, ctx: &Ctx) -> Result<ExitCode> {
    let ForkResolveArgs {
        chain,
        sequence,
        prev_root,
        chosen_next_root,
        candidates,
        keys,
        issuer,
        out,
    } = args;
    let o = open(kind, &chain, ctx)?;
    let keys = load_keys(&keys, ctx)?;
    let lifecycle = o.opts.lifecycle.as_deref();
    ops::refuse_revoked(&o.chain, lifecycle, &keys, "fork resolution")?;
    let issuer = match (issuer, keys.first()) {
        (Some(i), _) => i,
        (None, Some(k)) => k.did().to_string(),
        (None, None) => {
            return Err(msez::Error::Usage(
                "give --key to sign the resolution, or --issuer for an unsigned one".into(),
            ));
        }
    };
    let prev_root = match prev_root.trim() {
        "genesis" => o.chain.genesis_root,
        h => Digest::parse_loose(h)?,
    };
    let req = fork::Request {
        sequence,
        prev_root,
        chosen_next_root: Digest::parse_loose(&chosen_next_root)?,
        candidates: candidates
            .iter()
            .map(|c| Digest::parse_loose(c))
            .collect::<std::result::Result<_, _>>()?,
        issuer,
        now: msez::vc::proof::now_utc(),
    };
    let (sequence, prev_root, chosen) = (req.sequence, req.prev_root, req.chosen_next_root);
    let resolved = ops::resolve_fork(
        o.repo.as_ref(),
        &o.chain,
        ops::ResolveRequest {
            resolution: req,
            keys: &keys,
            lifecycle,
            out: out.map(|p| ctx.path(&p)),
        },
    )?;
    let (vc, path, stored) = (resolved.vc, resolved.path, resolved.object);
    // Move .msez's head to the selected branch when the resolutions (as verify counts
    // them) now select a chain the head is not on; the credential stays written anyway.
    let mut o = o;
    let adopted = match &o.repo {
        Some(_) => {
            let adopted = load_forks(&mut o, &ForkArgs::default(), ctx).and_then(|_| {
                let repo = o.repo.as_ref().expect("checked above");
                ops::adopt(repo, &o.chain, &o.opts)
            });
            match adopted {
                Ok(a) => Some(a),
                Err(errors) => {
                    if !ctx.out.json {
                        // Every reason, not only the first (docs/verdicts.md).
                        let all = errors.iter().flat_map(msez::Finding::all_of);
                        for (i, f) in all.enumerate() {
                            let what = if i == 0 { "head ref not moved" } else { "also" };
                            eprintln!("msez: warning: {what}: {}", f.message);
                        }
                    }
                    None
                }
            }
        }
        None => None,
    };
    let value = serde_json::json!({
        "adopted": adopted,
        "path": path,
        "id": vc.get("id"),
        "object": stored,
        "sequence": sequence,
        "prev_root": prev_root,
        "chosen_next_root": chosen,
        "signed": !keys.is_empty(),
    });
    written(ctx.out.emit(&value, |w| {
        writeln!(w, "{}", path.display())?;
        if let Some(a) = adopted.as_ref().filter(|a| a.moved) {
            let show = |d: Option<Digest>| d.map(|d| d.to_hex()).unwrap_or_default();
            writeln!(
                w,
                "head moved: {} -> {} (the losing branch is kept under forks/)",
                show(a.losing_head),
                show(a.head)
            )?;
        }
        Ok(())
    }))?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `fork-evidence` on a chain of `kind`.
pub fn fork_evidence(kind: Kind, args: ForkEvidenceArgs, ctx: &Ctx) -> Result<ExitCode> {
    let ForkEvidenceArgs {
        ck1,
        ck2,
        proof1,
        proof2,
        verify,
        trust_anchors,
        out,
    } = args;
    let trust = trust_anchors.map(|t| load_trust(&t, ctx)).transpose()?;
    let trust = trust.as_ref().map(|(a, l)| Trust::new(a, l.as_deref()));
    let (doc, verdict) = match (verify, ck1, ck2) {
        (Some(ev), _, _) => {
            let doc = read_json(&ctx.path(&ev))?;
            return render_evidence_check(&chain::evidence::check(&doc, trust), ctx);
        }
        (None, Some(a), Some(b)) => {
            let proofs = match (proof1, proof2) {
                (Some(p1), Some(p2)) => {
                    Some((read_json(&ctx.path(&p1))?, read_json(&ctx.path(&p2))?))
                }
                _ => None,
            };
            let (doc, v) = chain::evidence::build(
                kind,
                &read_json(&ctx.path(&a))?,
                &read_json(&ctx.path(&b))?,
                proofs.as_ref().map(|(x, y)| (x, y)),
                trust,
                &msez::vc::proof::now_utc(),
            )?;
            (Some(doc), v)
        }
        _ => {
            return Err(msez::Error::Usage(
                "give two checkpoints, or --verify EVIDENCE".into(),
            ));
        }
    };
    match (doc, out) {
        (Some(doc), Some(out)) => {
            chain::module::write_pretty(&ctx.path(&out), &doc)?;
            written(
                ctx.out
                    .emit(&verdict, |w| writeln!(w, "{}", ctx.path(&out).display())),
            )?;
        }
        (Some(doc), None) => {
            let mut t = serde_json::to_string_pretty(&doc)
                .map_err(|e| msez::Error::Usage(e.to_string()))?;
            t.push('\n');
            written(std::io::Write::write_all(
                &mut std::io::stdout(),
                t.as_bytes(),
            ))?;
        }
        (None, _) => written(ctx.out.emit(&verdict, |w| {
            writeln!(
                w,
                "OK: fork evidence ({:?}); equivocators: {}",
                verdict.contradiction,
                verdict.equivocators.join(", ")
            )
        }))?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `fork-inspect` on a chain of `kind`.
pub fn fork_inspect(kind: Kind, args: ForkInspectArgs, ctx: &Ctx) -> Result<ExitCode> {
    let ForkInspectArgs {
        chain,
        forks,
        format,
        render,
    } = args;
    let format = format.unwrap_or_else(|| if render.is_some() { "svg" } else { "json" }.into());
    crate::cli::picture::check_render(render.is_some(), format != "json")?;
    let mut o = open(kind, &chain, ctx)?;
    // A report never fails: bad resolution files become report errors.
    let loaded = load_forks_report(&mut o, &forks, ctx);
    let report = fork::inspect(&o.chain, &o.opts, &loaded);
    if format == "svg" {
        let title = format!(
            "{} {}{} · fork-inspect",
            match kind {
                Kind::Asset => "asset",
                Kind::Corridor => "corridor",
            },
            o.chain.owner,
            o.chain
                .purpose
                .as_deref()
                .map(|p| format!(" · {p}"))
                .unwrap_or_default()
        );
        let svg = msez::render::svg::chain(&msez::render::forks::picture(&report, &title));
        crate::cli::picture::emit_svg(&svg, render.as_deref(), ctx)?;
        return Ok(ExitCode::SUCCESS);
    }
    if format == "dot" {
        let dot = msez::render::forks::dot(&report);
        crate::cli::picture::emit_dot(&dot, render.as_deref(), ctx)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut text =
        serde_json::to_string_pretty(&report).map_err(|e| msez::Error::Usage(e.to_string()))?;
    text.push('\n');
    written(std::io::Write::write_all(
        &mut std::io::stdout(),
        text.as_bytes(),
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// Renders `fork-evidence --verify`: what the evidence proves (the reference's fields) plus the
/// verdict, its exit code and every finding (docs/verdicts.md).
fn render_evidence_check(c: &chain::evidence::Checked, ctx: &Ctx) -> Result<ExitCode> {
    let findings = c.findings();
    let code = findings.exit_code();
    let mut value = match &c.proven {
        Some(v) => serde_json::to_value(v).unwrap_or_default(),
        None => serde_json::json!({}),
    };
    value["verdict"] = serde_json::to_value(findings.verdict()).unwrap_or_default();
    value["exit_code"] = code.into();
    value["findings"] = serde_json::to_value(findings.items()).unwrap_or_default();
    if let Some(first) = findings.0.first() {
        value["error"] = serde_json::to_value(first).unwrap_or_default();
    }
    if ctx.out.json {
        written(ctx.out.emit(&value, |_| Ok(())))?;
    } else if let (true, Some(v)) = (findings.is_empty(), &c.proven) {
        written(ctx.out.emit(&value, |w| {
            writeln!(
                w,
                "OK: fork evidence ({:?}); equivocators: {}",
                v.contradiction,
                v.equivocators.join(", ")
            )
        }))?;
    } else {
        for f in &findings.0 {
            eprintln!("msez: {}", f.message);
            if let (Some(e), Some(x)) = (&f.detail.expected, &f.detail.found) {
                eprintln!("  expected: {e}\n  found:    {x}");
            }
        }
    }
    Ok(ExitCode::from(code))
}
