//! `msez artifact graph verify`, `msez artifact bundle attest|verify|extract` and
//! `msez asset module witness-bundle`: rendering only, the work is in `msez::graph`/`bundle`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Subcommand, ValueEnum};
use msez::audit;
use msez::bundle::{self, attest};
use msez::graph::{self, GraphVerdict, Report, Root};
use msez::vc::KeyPair;
use msez::verdict::{Findings, Verdict};

use msez::render::svg;

use super::progress::Bar;
use super::{Ctx, written};

/// `msez artifact graph` subcommands.
#[derive(Debug, Subcommand)]
pub enum GraphCommand {
    /// Walk an artifact closure and report missing and altered artifacts (exit 0, 66 or 68).
    ///
    /// Example: msez artifact graph verify --path modules/smart-assets/<id> --strict --bundle w.zip
    Verify(GraphVerifyArgs),
    /// Write the closure of an artifact as a CARv1 file of CIDv1 raw blocks (for IPFS).
    ///
    /// Example: msez artifact graph export --root vc:<digest> --car closure.car
    Export(super::car::ExportArgs),
    /// Verify every block of a CARv1 file written by export, then store the artifacts.
    Import(super::car::ImportArgs),
}

/// Output formats of `graph verify`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A summary for people (the default; `--json` prints the report).
    Text,
    /// The MSEZArtifactGraphVerifyReport.
    Json,
    /// A Graphviz digraph.
    Dot,
    /// An SVG picture drawn by msez (no graphviz): the closure, and with --from-bundle each
    /// chain the bundle carries.
    Svg,
}

/// `msez artifact graph verify`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("start").required(true).args(["path", "root", "from_bundle"])))]
pub struct GraphVerifyArgs {
    /// A document or a directory of documents: their embedded refs are the seeds.
    #[arg(long, value_name = "FILE|DIR")]
    pub path: Option<PathBuf>,
    /// One artifact in the store roots: `TYPE:DIGEST`.
    #[arg(long, value_name = "TYPE:DIGEST")]
    pub root: Option<String>,
    /// Verify a witness bundle offline (strict; only the bundle's own artifacts count); an
    /// http:// or https:// URL is read with range requests, central directory first
    /// (SSL_CERT_FILE names extra trusted CAs).
    #[arg(long, value_name = "ZIP", conflicts_with_all = ["bundle", "store_roots"])]
    pub from_bundle: Option<PathBuf>,
    /// Recompute every artifact's semantic digest.
    #[arg(long)]
    pub strict: bool,
    /// Also write the closure as a deterministic witness bundle (implies --strict).
    #[arg(long, value_name = "OUT.zip")]
    pub bundle: Option<PathBuf>,
    /// A store root to search (repeatable); replaces the default list.
    #[arg(long = "store-root", value_name = "DIR")]
    pub store_roots: Vec<PathBuf>,
    /// Stop after this many nodes (also caps the files scanned under a directory root).
    #[arg(long, default_value_t = graph::DEFAULT_MAX_NODES)]
    pub max_nodes: usize,
    /// Do not expand nodes at this depth.
    #[arg(long, default_value_t = graph::DEFAULT_MAX_DEPTH)]
    pub max_depth: u32,
    /// Record every edge in the report.
    #[arg(long)]
    pub emit_edges: bool,
    /// Output format (default: text; svg when --render is given).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Write the picture to FILE: with svg (implied by --render alone) msez draws it, no
    /// graphviz; with --format dot graphviz `dot` renders it (format from the extension) and
    /// its absence is an error (io.graphviz_missing).
    #[arg(long, value_name = "FILE")]
    pub render: Option<PathBuf>,
    /// With --bundle: write the bundle even when the closure was cut short or a chain does not
    /// verify, marked `partial` in the manifest (it then verifies as unknown, never valid).
    #[arg(long, requires = "bundle")]
    pub allow_partial: bool,
    /// With --from-bundle: the auditor's trust anchors for the chains' signers (the bundle's
    /// own anchors file alone gives at most unknown).
    #[arg(long, value_name = "FILE", requires = "from_bundle")]
    pub trust_anchors: Option<PathBuf>,
}

impl GraphVerifyArgs {
    /// The format asked for, or the one --render implies.
    fn format(&self) -> Format {
        self.format.unwrap_or(if self.render.is_some() {
            Format::Svg
        } else {
            Format::Text
        })
    }
}

/// `msez artifact bundle` subcommands.
#[derive(Debug, Subcommand)]
pub enum BundleCommand {
    /// Verify a bundle, then sign an MSEZArtifactWitnessBundleCredential over its manifest digest.
    ///
    /// Example: msez artifact bundle attest w.zip --key auditor.jwk --issuer did:key:z6Mk…
    Attest {
        /// The bundle.
        zip: PathBuf,
        /// The private JWK to sign with.
        #[arg(long, value_name = "JWK")]
        key: PathBuf,
        /// The issuer: the did:key of --key.
        #[arg(long, value_name = "DID")]
        issuer: String,
        /// Where to write the credential (default: <ZIP>.attestation.vc.json).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// What the attester states about the bundle.
        #[arg(long, default_value = "")]
        statement: String,
        /// The attester's trust anchors for the chains' signers (the bundle's own anchors file
        /// alone gives at most unknown, and only a valid bundle is attested).
        #[arg(long, value_name = "FILE")]
        trust_anchors: Option<PathBuf>,
    },
    /// Verify a bundle and its attestations (together, under --profile's quorum when given).
    ///
    /// Example: msez artifact bundle verify w.zip --attestation a.vc.json --attestation b.vc.json --profile profile.yaml
    Verify {
        /// The bundle.
        zip: PathBuf,
        /// An attestation credential (repeatable).
        #[arg(long = "attestation", value_name = "FILE", required = true)]
        attestations: Vec<PathBuf>,
        /// An asset-history bundle attestation profile (who may attest, quorum).
        #[arg(long, value_name = "FILE")]
        profile: Option<PathBuf>,
        /// The auditor's trust anchors for the chains' signers (the bundle's own anchors file
        /// alone gives at most unknown).
        #[arg(long, value_name = "FILE")]
        trust_anchors: Option<PathBuf>,
    },
    /// Verify a bundle, then unpack it into DIR (new or empty) for offline checks.
    Extract {
        /// The bundle.
        zip: PathBuf,
        /// Where to unpack it.
        dir: PathBuf,
        /// Trust anchors for the chains' signers (see `bundle verify`).
        #[arg(long, value_name = "FILE")]
        trust_anchors: Option<PathBuf>,
    },
}

fn store_roots(given: &[PathBuf], ctx: &Ctx) -> super::Result<Vec<PathBuf>> {
    if given.is_empty() {
        super::artifact::default_store_roots(ctx)
    } else {
        Ok(given.iter().map(|p| ctx.path(p)).collect())
    }
}

/// Runs `msez artifact graph verify`.
pub fn graph(command: GraphCommand, ctx: &Ctx) -> super::Result<ExitCode> {
    let a = match command {
        GraphCommand::Verify(a) => a,
        GraphCommand::Export(a) => return super::car::export(a, ctx),
        GraphCommand::Import(a) => return super::car::import(a, ctx),
    };
    super::picture::check_render(
        a.render.is_some(),
        matches!(a.format(), Format::Svg | Format::Dot),
    )?;
    let bar = Bar::new(&ctx.out, "scanning");
    if let Some(zip) = &a.from_bundle {
        let trust = trust_source(a.trust_anchors.as_deref(), ctx)?;
        let text = zip.to_str().unwrap_or_default();
        if text.starts_with("http://") || text.starts_with("https://") {
            let remote = bundle::http::RangeReader::open(text)?;
            let size = remote.len();
            let mut reader = bundle::BundleReader::open(remote, bundle::verify::limits())?;
            // The report names its source: never with a presigned URL's signature.
            let shown = msez::remote::Url::redact(text);
            let mut audited = audit::verify_bundle(&mut reader, &shown, &trust, &bar)?;
            let remote = reader.into_inner();
            if let Some(i) = audited.checked.report.input_bundle.as_mut() {
                i["http"] = serde_json::json!({
                    "size": size,
                    "requests": remote.requests(),
                    "bytes_fetched": remote.bytes_fetched(),
                });
            }
            bar.finish();
            return emit_audited(&audited, &a, ctx);
        }
        let path = ctx.path(zip);
        let audited = audit::verify_bundle_file(&path, &trust, &bar)?;
        bar.finish();
        return emit_audited(&audited, &a, ctx);
    }
    let root = match (&a.path, &a.root) {
        (Some(p), _) => Root::path(&ctx.path(p))?,
        (None, Some(r)) => Root::Cas(r.parse()?),
        (None, None) => unreachable!("clap requires one of --path, --root, --from-bundle"),
    };
    let opts = graph::Options {
        strict: a.strict || a.bundle.is_some(),
        max_nodes: a.max_nodes,
        max_depth: a.max_depth,
        emit_edges: a.emit_edges || a.format() == Format::Dot || a.bundle.is_some(),
        store_roots: store_roots(&a.store_roots, ctx)?,
    };
    let report = match &a.bundle {
        Some(out) => {
            let out = ctx.path(out);
            let (built, findings) =
                match audit::build_bundle(&root, &opts, &out, a.allow_partial, &bar)? {
                    audit::Build::Written {
                        built, findings, ..
                    } => (built, findings),
                    audit::Build::Refused {
                        report,
                        chains,
                        findings,
                    } => {
                        bar.finish();
                        return refused(&report, &chains, &findings, &out, ctx);
                    }
                };
            if !findings.is_empty() {
                bar.finish();
                let value = built_value(&built, &findings);
                written(ctx.out.emit(&value, |w| {
                    writeln!(w, "{}", built.path.display())?;
                    human(&built.manifest, graph_verdict(findings.verdict()), w)?;
                    partial_note(&findings, w)
                }))?;
                return Ok(ExitCode::from(findings.exit_code()));
            }
            let mut report = built.manifest;
            if let Some(b) = report.bundle.as_mut().and_then(|b| b.as_object_mut()) {
                b.insert("path".into(), built.path.display().to_string().into());
                b.insert(
                    "manifest_digest_sha256".into(),
                    built.manifest_digest.to_hex().into(),
                );
                b.insert("zip_bytes".into(), built.bytes.into());
                b.insert(
                    "entries".into(),
                    serde_json::to_value(&built.entries).unwrap_or_default(),
                );
            }
            report
        }
        None => graph::verify(&root, &opts, &bar)?,
    };
    bar.finish();
    emit_report(&report, &a, ctx)
}

fn emit_report(report: &Report, a: &GraphVerifyArgs, ctx: &Ctx) -> super::Result<ExitCode> {
    let verdict = report.verdict();
    if a.format() == Format::Svg {
        let label = root_label(&report.root);
        let picture = svg::closure(&audit::closure_picture(report, &label));
        super::picture::emit_svg(&svg::stack(&[picture]), a.render.as_deref(), ctx)?;
    } else if a.format() == Format::Dot {
        super::picture::emit_dot(&graph::to_dot(report), a.render.as_deref(), ctx)?;
    } else if ctx.out.json || a.format() == Format::Json {
        let mut value =
            serde_json::to_value(report).map_err(|e| msez::Error::Usage(e.to_string()))?;
        value["verdict"] = serde_json::to_value(verdict).unwrap_or_default();
        written(ctx.out.emit(&value, |w| {
            serde_json::to_writer_pretty(&mut *w, &value).map_err(std::io::Error::other)?;
            writeln!(w)
        }))?;
    } else {
        written(ctx.out.emit(&(), |w| human(report, verdict, w)))?;
    }
    Ok(ExitCode::from(verdict.exit_code()))
}

/// The auditor's trust anchors, or the bundle's own (at most unknown).
fn trust_source(path: Option<&Path>, ctx: &Ctx) -> super::Result<audit::TrustSource> {
    Ok(match path {
        Some(p) => {
            let (anchors, lifecycle) = super::state::load_trust(p, ctx)?;
            audit::TrustSource::Auditor { anchors, lifecycle }
        }
        None => audit::TrustSource::Bundle,
    })
}

fn graph_verdict(v: Verdict) -> GraphVerdict {
    match v {
        Verdict::Valid => GraphVerdict::Valid,
        Verdict::Unknown => GraphVerdict::Unknown,
        Verdict::Invalid => GraphVerdict::Invalid,
    }
}

/// A whole bundle verification: the report, its chains and every finding.
fn emit_audited(a: &audit::Audited, args: &GraphVerifyArgs, ctx: &Ctx) -> super::Result<ExitCode> {
    let verdict = graph_verdict(a.verdict());
    if args.format() == Format::Svg {
        let mut pictures: Vec<String> = a.chains.iter().map(|c| svg::chain(&c.picture)).collect();
        let label = args
            .from_bundle
            .as_ref()
            .map(|p| msez::remote::Url::redact(&p.display().to_string()))
            .unwrap_or_else(|| root_label(&a.checked.report.root));
        pictures.push(svg::closure(&audit::closure_picture(
            &a.checked.report,
            &label,
        )));
        super::picture::emit_svg(&svg::stack(&pictures), args.render.as_deref(), ctx)?;
        return Ok(ExitCode::from(a.exit_code()));
    }
    if args.format() == Format::Dot {
        // The closure, then each chain the bundle carries as its own cluster.
        let clusters: Vec<String> = a
            .chains
            .iter()
            .enumerate()
            .map(|(i, c)| msez::render::dot::chain_cluster(&c.picture, i))
            .collect();
        let dot = msez::render::dot::with_clusters(&graph::to_dot(&a.checked.report), &clusters);
        super::picture::emit_dot(&dot, args.render.as_deref(), ctx)?;
        return Ok(ExitCode::from(a.exit_code()));
    }
    if ctx.out.json || args.format() == Format::Json {
        // Built only when printed: a whole report value is many times the report's size.
        let value = a.to_value();
        written(ctx.out.emit(&value, |w| {
            serde_json::to_writer_pretty(&mut *w, &value).map_err(std::io::Error::other)?;
            writeln!(w)
        }))?;
    } else {
        written(ctx.out.emit(&(), |w| {
            human(&a.checked.report, verdict, w)?;
            chains_human(&a.chains, w)?;
            findings_human(&a.findings, w)
        }))?;
    }
    Ok(ExitCode::from(a.exit_code()))
}

fn chains_human(chains: &[audit::ChainReport], w: &mut dyn Write) -> std::io::Result<()> {
    for c in chains {
        // Asset modules are usually named by their asset_id: the owner only when it differs.
        let owner = if c.module.ends_with(&c.owner) {
            String::new()
        } else {
            format!(" {}", c.owner)
        };
        writeln!(
            w,
            "chain {}{}{}: {} ({} receipts, head {}, {} checkpoints, {} proofs, trust: {})",
            c.module,
            owner,
            c.purpose
                .as_deref()
                .map(|p| format!(" [{p}]"))
                .unwrap_or_default(),
            c.verdict,
            c.receipt_count
                .map(|n| n.to_string())
                .unwrap_or_else(|| "?".into()),
            c.final_root.as_deref().unwrap_or("-"),
            c.checkpoints_checked,
            c.proofs_checked,
            c.trust
        )?;
    }
    Ok(())
}

fn findings_human(f: &Findings, w: &mut dyn Write) -> std::io::Result<()> {
    for x in f.0.iter().take(50) {
        if x.code == "missing.artifact" || x.code == "digest.artifact_mismatch" {
            continue; // listed by `human` already
        }
        writeln!(
            w,
            "{} {}: {}",
            Verdict::of_class(x.class),
            x.code,
            x.message
        )?;
    }
    if f.0.len() > 50 {
        writeln!(
            w,
            "... and {} more findings (--json lists all)",
            f.0.len() - 50
        )?;
    }
    Ok(())
}

/// A build that wrote nothing: the walk, the chains and why, with the verdict's exit code.
fn refused(
    report: &Report,
    chains: &[audit::ChainReport],
    findings: &Findings,
    out: &Path,
    ctx: &Ctx,
) -> super::Result<ExitCode> {
    let mut value = serde_json::to_value(report).map_err(|e| msez::Error::Usage(e.to_string()))?;
    value["verdict"] = findings.verdict().name().into();
    value["exit_code"] = findings.exit_code().into();
    value["partial"] = true.into();
    value["written"] = false.into();
    value["chains"] = serde_json::to_value(chains).unwrap_or_default();
    value["findings"] = serde_json::to_value(findings.items()).unwrap_or_default();
    written(ctx.out.emit(&value, |w| {
        human(report, graph_verdict(findings.verdict()), w)?;
        chains_human(chains, w)?;
        findings_human(findings, w)
    }))?;
    ctx.out.note(format!(
        "refusing to write {}: the closure is incomplete or a chain does not verify (--allow-partial writes it marked partial)",
        out.display()
    ));
    Ok(ExitCode::from(findings.exit_code()))
}

fn partial_note(f: &Findings, w: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        w,
        "written marked partial (--allow-partial): it verifies as unknown, never valid"
    )?;
    findings_human(f, w)
}

fn built_value(built: &bundle::write::Built, findings: &Findings) -> serde_json::Value {
    serde_json::json!({
        "bundle": built.path,
        "bytes": built.bytes,
        "manifest_digest_sha256": built.manifest_digest.to_hex(),
        "generated_at": built.manifest.generated_at,
        "stats": built.manifest.stats,
        "missing": built.manifest.missing,
        "digest_mismatches": built.manifest.digest_mismatches,
        "partial": built.manifest.partial,
        "verdict": findings.verdict().name(),
        "findings": findings.items(),
    })
}

fn human(r: &Report, verdict: GraphVerdict, w: &mut dyn Write) -> std::io::Result<()> {
    let name = match verdict {
        GraphVerdict::Valid => "valid",
        GraphVerdict::Invalid => "invalid",
        GraphVerdict::Unknown => "unknown",
    };
    let s = &r.stats;
    writeln!(
        w,
        "{name}: {} nodes, {} edges, {} missing, {} digest mismatches, max depth {}{}",
        s.nodes_total,
        s.edges_total,
        s.missing_total,
        s.digest_mismatch_total,
        s.max_depth_seen,
        if r.options.strict { " (strict)" } else { "" }
    )?;
    for m in &r.missing {
        writeln!(
            w,
            "missing {}:{} (from {})",
            m.artifact_type, m.digest_sha256, m.source
        )?;
    }
    for m in &r.digest_mismatches {
        writeln!(
            w,
            "mismatch {}:{} {}: computed {} ({})",
            m.artifact_type,
            m.digest_sha256,
            m.path.as_deref().unwrap_or("-"),
            m.computed_digest_sha256.as_deref().unwrap_or("-"),
            m.error.as_deref().unwrap_or(&m.method)
        )?;
    }
    if let graph::RootInfo::Dir {
        files_scanned,
        files_truncated: true,
        ..
    } = &r.root
    {
        writeln!(
            w,
            "warning: the root scan stopped at {files_scanned} files (raise --max-nodes)"
        )?;
    }
    for e in r.errors.iter().take(20) {
        writeln!(w, "error: {e}")?;
    }
    if let Some(b) = &r.bundle {
        if let Some(path) = b.get("path").and_then(|p| p.as_str()) {
            writeln!(
                w,
                "bundle {path}: {} files, manifest sha256 {}",
                b["included_files"],
                b["manifest_digest_sha256"].as_str().unwrap_or_default()
            )?;
        }
    }
    if let Some(i) = &r.input_bundle {
        writeln!(
            w,
            "bundle {}: manifest sha256 {} {}",
            i["path"].as_str().unwrap_or_default(),
            i["manifest_digest_sha256"].as_str().unwrap_or_default(),
            if r.missing.is_empty() && r.digest_mismatches.is_empty() {
                "matches its content"
            } else {
                "(its content does not verify; the manifest was not compared)"
            }
        )?;
    }
    Ok(())
}

/// The root a picture names.
fn root_label(root: &graph::RootInfo) -> String {
    match root {
        graph::RootInfo::Cas {
            artifact_type,
            digest_sha256,
        } => format!("{artifact_type}:{digest_sha256}"),
        graph::RootInfo::File { path } | graph::RootInfo::Dir { path, .. } => path.clone(),
    }
}

/// Runs one `msez artifact bundle` subcommand.
pub fn bundle(command: BundleCommand, ctx: &Ctx) -> super::Result<ExitCode> {
    match command {
        BundleCommand::Attest {
            zip,
            key,
            issuer,
            out,
            statement,
            trust_anchors,
        } => bundle_attest(
            &ctx.path(&zip),
            &ctx.path(&key),
            &issuer,
            out,
            &statement,
            &trust_source(trust_anchors.as_deref(), ctx)?,
            ctx,
        ),
        BundleCommand::Verify {
            zip,
            attestations,
            profile,
            trust_anchors,
        } => {
            let trust = trust_source(trust_anchors.as_deref(), ctx)?;
            bundle_verify(
                &ctx.path(&zip),
                &attestations,
                profile.as_deref(),
                &trust,
                ctx,
            )
        }
        BundleCommand::Extract {
            zip,
            dir,
            trust_anchors,
        } => bundle_extract(
            &ctx.path(&zip),
            &ctx.path(&dir),
            &trust_source(trust_anchors.as_deref(), ctx)?,
            ctx,
        ),
    }
}

/// Verifies the bundle whole (closure and chains); a verdict other than valid is printed and
/// returned as `Err(code)`.
fn checked_bundle(
    zip: &Path,
    trust: &audit::TrustSource,
    ctx: &Ctx,
) -> super::Result<Result<audit::Audited, ExitCode>> {
    let bar = Bar::new(&ctx.out, "verifying");
    let audited = audit::verify_bundle_file(zip, trust, &bar)?;
    bar.finish();
    if audited.verdict() != Verdict::Valid {
        let value = audited.to_value();
        written(ctx.out.emit(&value, |w| {
            human(&audited.checked.report, graph_verdict(audited.verdict()), w)?;
            chains_human(&audited.chains, w)?;
            findings_human(&audited.findings, w)
        }))?;
        return Ok(Err(ExitCode::from(audited.exit_code())));
    }
    Ok(Ok(audited))
}

fn bundle_attest(
    zip: &Path,
    key: &Path,
    issuer: &str,
    out: Option<PathBuf>,
    statement: &str,
    trust: &audit::TrustSource,
    ctx: &Ctx,
) -> super::Result<ExitCode> {
    let key = KeyPair::load(key)?;
    let did = key.did().to_string();
    if issuer.split('#').next() != Some(did.as_str()) {
        return Err(msez::Error::Usage(format!(
            "--issuer {issuer} is not the did:key of --key ({did}); attestations are signed by their issuer"
        )));
    }
    let checked = match checked_bundle(zip, trust, ctx)? {
        Ok(c) => c.checked,
        Err(code) => return Ok(code),
    };
    let credential = attest::attest(
        &checked.manifest,
        &checked.manifest_digest,
        issuer,
        statement,
        &key,
    )
    .map_err(msez::Error::from)?;
    let out = match out {
        Some(o) => ctx.path(&o),
        None => PathBuf::from(format!("{}.attestation.vc.json", zip.display())),
    };
    let mut text =
        serde_json::to_string_pretty(&credential).map_err(|e| msez::Error::Usage(e.to_string()))?;
    text.push('\n');
    msez::chain::module::write_file(&out, text.as_bytes())?;
    let value = serde_json::json!({
        "attestation": out,
        "issuer": issuer,
        "manifest_digest_sha256": checked.manifest_digest.to_hex(),
    });
    written(ctx.out.emit(&value, |w| {
        writeln!(
            w,
            "{}\nmanifest sha256 {}",
            out.display(),
            checked.manifest_digest
        )
    }))?;
    Ok(ExitCode::SUCCESS)
}

fn bundle_verify(
    zip: &Path,
    attestations: &[PathBuf],
    profile: Option<&Path>,
    trust: &audit::TrustSource,
    ctx: &Ctx,
) -> super::Result<ExitCode> {
    let profile = profile
        .map(|p| attest::Profile::load(&ctx.path(p)))
        .transpose()?;
    let audited = match checked_bundle(zip, trust, ctx)? {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let checked = &audited.checked;
    let mut results = Vec::new();
    // Every attestation is checked before any refusal, which then names every failure.
    let mut failed = Vec::new();
    for a in attestations {
        let path = ctx.path(a);
        let bytes = std::fs::read(&path).map_err(|e| msez::Error::io("reading", &path, e))?;
        match msez::canon::parse(&bytes) {
            Ok(vc) => {
                let r = attest::check(&vc, &a.display().to_string(), &checked.manifest_digest);
                failed.extend(r.findings.iter().cloned());
                results.push(r);
            }
            Err(e) => failed.push(msez::Finding::from_error(&msez::Error::from(e))),
        }
    }
    if let Some(refused) = msez::verdict::Refused::new(failed) {
        return Err(refused.into());
    }
    let quorum = match &profile {
        Some(p) => {
            Some(attest::evaluate(p, &checked.manifest, &results).map_err(msez::Error::from)?)
        }
        None => None,
    };
    for r in &results {
        for w in &r.warnings {
            ctx.out.note(format!("warning: {}: {w}", r.path));
        }
    }
    let mut value = audited.to_value();
    let extra = serde_json::json!({
        "bundle": zip,
        "manifest_digest_sha256": checked.manifest_digest.to_hex(),
        "attestations": results,
        "quorum": quorum,
    });
    // `bundle` names the file here, as before (the manifest's summary is in the bundle).
    if let (Some(v), Some(e)) = (value.as_object_mut(), extra.as_object()) {
        for (k, x) in e {
            v.insert(k.clone(), x.clone());
        }
    }
    written(ctx.out.emit(&value, |w| {
        writeln!(
            w,
            "valid: bundle {} (manifest sha256 {}, {} nodes) matches its content",
            zip.display(),
            checked.manifest_digest,
            checked.report.stats.nodes_total
        )?;
        chains_human(&audited.chains, w)?;
        for r in &results {
            // An attestation is named by the keys that signed it, never by its issuer field.
            write!(w, "attested by {} ({})", r.signers.join(", "), r.path)?;
            if !r.issuer_signed {
                write!(
                    w,
                    "; its issuer field names {}, who did not sign it: it does not count for {}",
                    r.issuer, r.issuer
                )?;
            }
            writeln!(w)?;
        }
        if let Some(q) = &quorum {
            writeln!(
                w,
                "quorum met: {} of {} required ({})",
                q.counted.len(),
                q.required,
                q.counted.join(", ")
            )?;
        }
        Ok(())
    }))?;
    Ok(ExitCode::SUCCESS)
}

fn bundle_extract(
    zip: &Path,
    dir: &Path,
    trust: &audit::TrustSource,
    ctx: &Ctx,
) -> super::Result<ExitCode> {
    if dir.exists()
        && std::fs::read_dir(dir)
            .map_err(|e| msez::Error::io("reading", dir, e))?
            .next()
            .is_some()
    {
        return Err(msez::Error::Usage(format!(
            "{} is not empty; extract into a new or empty directory",
            dir.display()
        )));
    }
    let checked = match checked_bundle(zip, trust, ctx)? {
        Ok(c) => c.checked,
        Err(code) => return Ok(code),
    };
    std::fs::create_dir_all(dir).map_err(|e| msez::Error::io("creating", dir, e))?;
    let f = std::fs::File::open(zip).map_err(|e| msez::Error::io("opening", zip, e))?;
    let mut reader =
        bundle::BundleReader::open(std::io::BufReader::new(f), bundle::verify::limits())?;
    let entries = reader.extract_to(dir)?;
    let value = serde_json::json!({
        "dir": dir,
        "entries": entries.len(),
        "manifest_digest_sha256": checked.manifest_digest.to_hex(),
        "root": checked.manifest["root"],
    });
    written(ctx.out.emit(&value, |w| {
        writeln!(
            w,
            "{} entries into {} (manifest sha256 {})",
            entries.len(),
            dir.display(),
            checked.manifest_digest
        )
    }))?;
    Ok(ExitCode::SUCCESS)
}

/// `msez asset module witness-bundle MODULE [--out FILE]`: the module directory's closure,
/// refused (nothing written) when the closure was cut short or a chain does not verify,
/// unless `allow_partial`.
pub fn witness_bundle(
    module: &Path,
    out: Option<&Path>,
    extra_roots: &[PathBuf],
    max_nodes: usize,
    allow_partial: bool,
    ctx: &Ctx,
) -> super::Result<ExitCode> {
    let module = msez::chain::module::AssetModule::open(&ctx.path(module), &ctx.cwd)?;
    // Module dist/artifacts first, then --store-root, then the defaults (as the reference).
    let mut roots = vec![module.dir.join("dist").join("artifacts")];
    roots.extend(extra_roots.iter().map(|p| ctx.path(p)));
    roots.extend(super::artifact::default_store_roots(ctx)?);
    let opts = graph::Options {
        strict: true,
        max_nodes,
        max_depth: graph::DEFAULT_MAX_DEPTH,
        emit_edges: true,
        store_roots: roots,
    };
    let out = match out {
        Some(o) => ctx.path(o),
        None => module.dir.join("witness").join("asset.witness-bundle.zip"),
    };
    let bar = Bar::new(&ctx.out, "bundling");
    let root = Root::Dir(module.dir.clone());
    let (built, chains, findings) =
        match audit::build_bundle(&root, &opts, &out, allow_partial, &bar)? {
            audit::Build::Written {
                built,
                chains,
                findings,
            } => (built, chains, findings),
            audit::Build::Refused {
                report,
                chains,
                findings,
            } => {
                bar.finish();
                return refused(&report, &chains, &findings, &out, ctx);
            }
        };
    bar.finish();
    let verdict = findings.verdict();
    let mut value = built_value(&built, &findings);
    value["chains"] = serde_json::to_value(&chains).unwrap_or_default();
    written(ctx.out.emit(&value, |w| {
        writeln!(w, "{}", built.path.display())?;
        human(&built.manifest, graph_verdict(verdict), w)?;
        chains_human(&chains, w)?;
        if !findings.is_empty() {
            partial_note(&findings, w)?;
        }
        writeln!(w, "manifest sha256 {}", built.manifest_digest)
    }))?;
    Ok(ExitCode::from(findings.exit_code()))
}
