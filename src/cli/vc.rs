//! `msez vc`: sign and verify `MsezEd25519Signature2025` proofs on any JSON object.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use msez::chain::lifecycle::{self, Position, Standing};
use msez::taxonomy::{Classify, Finding};
use msez::vc::{self, KeyPair};

use super::{Ctx, read_input, written};

/// `msez vc` subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Add one MsezEd25519Signature2025 proof (signs the canonical bytes of FILE minus its proof).
    ///
    /// Example: msez vc sign corridor.vc.json --key zone-a.jwk --out corridor.vc.json
    Sign(SignArgs),
    /// Verify every proof: passes only with at least one proof and all of them valid (exit 0 or 67).
    ///
    /// Example: msez vc verify corridor.vc.json --trust-anchors trust-anchors.yaml --attestation corridor_definition
    Verify(VerifyArgs),
}

/// `msez vc sign FILE --key KEY.jwk [--out FILE] [--verification-method VM]`.
#[derive(Debug, clap::Args)]
pub struct SignArgs {
    /// The JSON object to sign (`-` for stdin).
    pub file: PathBuf,
    /// The private JWK to sign with.
    #[arg(long, value_name = "KEY.jwk")]
    pub key: PathBuf,
    /// Write the signed object here (atomically; may be FILE itself) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The verificationMethod the proof names (default: the key file's, else `<did>#key-1`).
    #[arg(long, value_name = "VM")]
    pub verification_method: Option<String>,
}

/// `msez vc verify FILE [--trust-anchors FILE] [--attestation NAME] [--at CHAIN@SEQ]`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The signed JSON object (`-` for stdin).
    pub file: PathBuf,
    /// Also require a valid signer that is a trust anchor (YAML or JSON).
    #[arg(long, value_name = "FILE")]
    pub trust_anchors: Option<PathBuf>,
    /// The attestation kind the anchor must allow (`*` in the file allows all); without it, any
    /// anchor counts.
    #[arg(long, value_name = "NAME", requires = "trust_anchors")]
    pub attestation: Option<String>,
    /// Judge keys at this chain position (asset:<asset_id>/<purpose>@SEQ, corridor:<id>@SEQ),
    /// not at a time: rotated-in keys count from their position on; a revoked key's proof is
    /// `revoked` past its valid_through and `unknown` inside it (a position is only provable
    /// by verifying the chain). Key credentials come from the --trust-anchors file.
    #[arg(long, value_name = "CHAIN@SEQ", requires = "trust_anchors")]
    pub at: Option<String>,
}

/// Runs one `msez vc` subcommand.
pub fn run(command: Command, ctx: &Ctx) -> super::Result<ExitCode> {
    match command {
        Command::Sign(args) => sign(args, ctx),
        Command::Verify(args) => verify(args, ctx),
    }
}

fn load_object(file: &Path, ctx: &Ctx) -> super::Result<serde_json::Value> {
    let bytes = read_input(Some(file), ctx)?;
    Ok(msez::canon::parse(&bytes)?)
}

fn sign(args: SignArgs, ctx: &Ctx) -> super::Result<ExitCode> {
    let mut obj = load_object(&args.file, ctx)?;
    let mut key = KeyPair::load(&ctx.path(&args.key))?;
    if let Some(vm) = args.verification_method {
        key = key.with_verification_method(vm);
    }
    let proof = vc::add_proof(&mut obj, &key)?;
    // Like the reference's VC files: indent 2, one trailing LF (digests never depend on it).
    let mut text =
        serde_json::to_string_pretty(&obj).map_err(|e| msez::Error::Usage(e.to_string()))?;
    text.push('\n');
    match args.out {
        Some(out) => {
            let path = ctx.path(&out);
            write_atomic(&path, text.as_bytes())?;
            let report = serde_json::json!({ "path": path, "proof": proof });
            written(ctx.out.emit(&report, |w| {
                writeln!(
                    w,
                    "signed by {} -> {}",
                    proof.verification_method,
                    path.display()
                )
            }))?;
        }
        None if ctx.out.json => written(ctx.out.emit(&obj, |_| Ok(())))?,
        None => written(ctx.out.raw(text.as_bytes()))?,
    }
    Ok(ExitCode::SUCCESS)
}

fn verify(args: VerifyArgs, ctx: &Ctx) -> super::Result<ExitCode> {
    let obj = load_object(&args.file, ctx)?;
    let at = args
        .at
        .as_deref()
        .map(|a| {
            Position::parse(a).ok_or_else(|| {
                msez::Error::Usage(format!(
                    "--at {a:?}: expected asset:<asset_id>/<purpose>@SEQ or corridor:<id>@SEQ"
                ))
            })
        })
        .transpose()?;
    let (anchors, keys) = match &args.trust_anchors {
        Some(p) => {
            let path = ctx.path(p);
            let repo = msez::odb::Repo::find(&ctx.cwd)?;
            let (a, l) = lifecycle::load_anchors(&path, repo.as_ref())?;
            (Some(a), l)
        }
        None => (None, None),
    };
    let what = args.file.display().to_string();
    let mut results = vc::verify_proofs(&obj)?;
    let signers = vc::valid_signers(&results);
    let judged = match (&keys, &anchors) {
        (Some(l), Some(a)) => judge_keys(l, a, &signers, &what, at.as_ref(), &args, ctx),
        _ => Judged::default(),
    };
    let Judged {
        verdicts,
        rotated_in,
        failure: lifecycle_failure,
        failures: lifecycle_failures,
    } = judged;
    // Every failure, in the one verdict model: each failing proof, each key the lifecycle
    // rejects or cannot place, and the trust check.
    let mut findings = msez::verdict::Findings::default();
    if results.is_empty() {
        findings.push(&vc::Error::NoProofs {
            object: what.clone(),
        });
    }
    for r in results.iter().filter(|r| !r.ok) {
        match &r.failure {
            Some(e) => findings.push(e),
            None => findings.push(&vc::Error::Invalid {
                verification_method: r.verification_method.clone().unwrap_or_default(),
            }),
        }
    }
    findings.0.extend(lifecycle_failures);
    let mut failure_any: Option<msez::Error> = lifecycle_failure.map(msez::Error::from);
    // The first failing proof's own typed error is what the exit code and message report.
    let mut failure: Option<vc::Error> = if results.is_empty() {
        Some(vc::Error::NoProofs {
            object: what.clone(),
        })
    } else {
        results.iter_mut().find(|r| !r.ok).map(|r| {
            let vm = r.verification_method.clone().unwrap_or_default();
            r.failure.take().unwrap_or(vc::Error::Invalid {
                verification_method: vm,
            })
        })
    };
    let trusted = match (&anchors, &failure, &failure_any) {
        (Some(anchors), None, None) => {
            // A key rotated in at --at counts as its anchor.
            let direct: Vec<vc::Did> = signers
                .iter()
                .filter(|d| !rotated_in.contains(d))
                .cloned()
                .collect();
            match anchors.require_trusted(&direct, args.attestation.as_deref(), &what) {
                Ok(mut t) => {
                    t.extend(rotated_in.iter().cloned());
                    Some(t)
                }
                Err(_) if !rotated_in.is_empty() => Some(rotated_in.clone()),
                Err(e) => {
                    findings.push(&e);
                    failure = Some(e);
                    None
                }
            }
        }
        _ => None,
    };
    // A broken proof is more fundamental than a key's standing.
    if let Some(f) = failure.take() {
        failure_any = Some(f.into());
    }
    if ctx.out.verbose && !ctx.out.json {
        for r in &results {
            eprintln!(
                "proof {}: {}",
                r.verification_method.as_deref().unwrap_or("?"),
                r.code.unwrap_or("ok")
            );
        }
    }
    let failure = failure_any;
    let finding = failure.as_ref().map(Finding::from_error);
    let report = serde_json::json!({
        "ok": failure.is_none(),
        "at": at,
        "key_lifecycle": verdicts,
        "warnings": keys.as_ref().map(|l| l.warnings()).unwrap_or_default(),
        "proofs": results,
        "signers": signers,
        "trusted_signers": trusted,
        "attestation": args.attestation,
        "error": finding,
        "verdict": findings.verdict().name(),
        "findings": findings.items(),
    });
    written(ctx.out.emit(&report, |w| {
        for r in &results {
            let vm = r
                .verification_method
                .as_deref()
                .unwrap_or("<no verificationMethod>");
            match &r.error {
                None => writeln!(w, "ok    {vm}")?,
                Some(e) => writeln!(w, "FAIL  {vm}: {e}")?,
            }
        }
        if failure.is_none() {
            writeln!(w, "OK: {} of {} proofs valid", results.len(), results.len())?;
        }
        Ok(())
    }))?;
    match failure {
        None => Ok(ExitCode::SUCCESS),
        Some(err) => {
            if !ctx.out.json {
                ctx.out.error(&err);
            }
            // By precedence over every finding: invalid dominates unknown.
            Ok(ExitCode::from(if findings.is_empty() {
                err.class().exit_code()
            } else {
                findings.exit_code()
            }))
        }
    }
}

/// How the key lifecycle judged each valid signer.
#[derive(Default)]
struct Judged {
    verdicts: Vec<serde_json::Value>,
    rotated_in: Vec<vc::Did>,
    /// The first failure (what `error` reports).
    failure: Option<msez::chain::Error>,
    /// Every failure, one per key, as findings.
    failures: Vec<Finding>,
}

/// Each valid signer judged by the key lifecycle at `at` (or at no position).
fn judge_keys(
    l: &lifecycle::Lifecycle,
    a: &vc::TrustAnchors,
    signers: &[vc::Did],
    what: &str,
    at: Option<&Position>,
    args: &VerifyArgs,
    ctx: &Ctx,
) -> Judged {
    let mut lifecycle_failure: Option<msez::chain::Error> = None;
    let mut failures = Vec::new();
    let mut verdicts = Vec::new();
    let mut rotated_in = Vec::new();
    for w in l.warnings() {
        if !ctx.out.json {
            ctx.out.warn(w);
        }
    }
    for s in signers {
        let trust = args.attestation.as_deref().map(|x| (a, x));
        let verdict = match l.standing(what, at, std::slice::from_ref(s), trust) {
            Ok(Some(Standing::Counts)) => {
                if !a.allows(s.as_str(), args.attestation.as_deref()) {
                    rotated_in.push(s.clone());
                }
                "counts".to_string()
            }
            Ok(Some(Standing::IfInside(needs))) => {
                let r = &l.revocations[needs[0] as usize];
                let e = lifecycle::key_error(
                    what,
                    s.as_str(),
                    &r.credential,
                    format!(
                        "{} (--at is inside valid_through size {}, but only the chain proves it)",
                        lifecycle::UNKNOWN,
                        r.size
                    ),
                    "missing.key_position_unknown",
                );
                let text = e.to_string();
                failures.push(Finding::from_error(&e));
                lifecycle_failure.get_or_insert(e);
                text
            }
            Ok(None) => "not an anchor".to_string(),
            Err(e) => {
                let text = e.to_string();
                failures.push(Finding::from_error(&e));
                lifecycle_failure.get_or_insert(e);
                text
            }
        };
        verdicts.push(serde_json::json!({"key": s, "verdict": verdict}));
    }
    Judged {
        verdicts,
        rotated_in,
        failure: lifecycle_failure,
        failures,
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> super::Result<()> {
    msez::fs::write(path, bytes, msez::fs::PRIVATE).map_err(|e| e.lift(msez::Error::io))?;
    Ok(())
}
