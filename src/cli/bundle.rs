//! `msez artifact graph verify`, `msez artifact bundle attest|verify|extract` and
//! `msez asset module witness-bundle`: rendering only, the work is in `msez::graph`/`bundle`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Subcommand, ValueEnum};
use msez::bundle::{self, attest};
use msez::graph::{self, GraphVerdict, Report, Root};
use msez::vc::KeyPair;

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
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// With --format dot: also render to FILE with graphviz `dot` (format from the extension).
    #[arg(long, value_name = "FILE", requires = "format")]
    pub render: Option<PathBuf>,
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
    },
    /// Verify a bundle, then unpack it into DIR (new or empty) for offline checks.
    Extract {
        /// The bundle.
        zip: PathBuf,
        /// Where to unpack it.
        dir: PathBuf,
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
    let bar = Bar::new(&ctx.out, "scanning");
    if let Some(zip) = &a.from_bundle {
        let text = zip.to_str().unwrap_or_default();
        if text.starts_with("http://") || text.starts_with("https://") {
            let remote = bundle::http::RangeReader::open(text)?;
            let size = remote.len();
            let mut reader = bundle::BundleReader::open(remote, bundle::Limits::default())?;
            // The report names its source: never with a presigned URL's signature.
            let shown = msez::remote::Url::redact(text);
            let mut checked = bundle::verify::verify(&mut reader, &shown, &bar)?;
            let remote = reader.into_inner();
            if let Some(i) = checked.report.input_bundle.as_mut() {
                i["http"] = serde_json::json!({
                    "size": size,
                    "requests": remote.requests(),
                    "bytes_fetched": remote.bytes_fetched(),
                });
            }
            bar.finish();
            return emit_report(&checked.report, &a, ctx);
        }
        let path = ctx.path(zip);
        let checked = bundle::verify::verify_file(&path, &bar)?;
        bar.finish();
        return emit_report(&checked.report, &a, ctx);
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
        emit_edges: a.emit_edges || a.format == Format::Dot || a.bundle.is_some(),
        store_roots: store_roots(&a.store_roots, ctx)?,
    };
    let report = match &a.bundle {
        Some(out) => {
            let built = bundle::write::build(&root, &opts, &ctx.path(out), &bar)?;
            let mut report = built.manifest;
            if let Some(b) = report.bundle.as_mut().and_then(|b| b.as_object_mut()) {
                b.insert("path".into(), built.path.display().to_string().into());
                b.insert(
                    "manifest_digest_sha256".into(),
                    built.manifest_digest.to_hex().into(),
                );
                b.insert("zip_bytes".into(), built.bytes.into());
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
    if a.format == Format::Dot {
        let dot = graph::to_dot(report);
        written(ctx.out.raw(dot.as_bytes()))?;
        if let Some(file) = &a.render {
            render(&dot, &ctx.path(file), ctx);
        }
    } else if ctx.out.json || a.format == Format::Json {
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
            if verdict == GraphVerdict::Valid {
                "matches its content"
            } else {
                "(its content does not verify; the manifest was not compared)"
            }
        )?;
    }
    Ok(())
}

/// Renders DOT with graphviz when it is installed; says so (stderr) when it is not.
fn render(dot: &str, out: &Path, ctx: &Ctx) {
    let fmt = out
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("svg")
        .to_string();
    let child = std::process::Command::new("dot")
        .arg(format!("-T{fmt}"))
        .arg("-o")
        .arg(out)
        .stdin(std::process::Stdio::piped())
        .spawn();
    match child {
        Ok(mut c) => {
            if let Some(mut stdin) = c.stdin.take() {
                let _ = stdin.write_all(dot.as_bytes());
            }
            match c.wait() {
                Ok(s) if s.success() => ctx.out.note(format!("rendered {}", out.display())),
                _ => ctx
                    .out
                    .note("graphviz dot failed; the DOT text is on stdout"),
            }
        }
        Err(_) => ctx
            .out
            .note("graphviz `dot` is not installed; the DOT text is on stdout"),
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
        } => bundle_attest(
            &ctx.path(&zip),
            &ctx.path(&key),
            &issuer,
            out,
            &statement,
            ctx,
        ),
        BundleCommand::Verify {
            zip,
            attestations,
            profile,
        } => bundle_verify(&ctx.path(&zip), &attestations, profile.as_deref(), ctx),
        BundleCommand::Extract { zip, dir } => {
            bundle_extract(&ctx.path(&zip), &ctx.path(&dir), ctx)
        }
    }
}

/// Verifies the bundle fully; a verdict other than valid is printed and returned as `Err(code)`.
fn checked_bundle(
    zip: &Path,
    ctx: &Ctx,
) -> super::Result<Result<bundle::verify::Checked, ExitCode>> {
    let bar = Bar::new(&ctx.out, "verifying");
    let checked = bundle::verify::verify_file(zip, &bar)?;
    bar.finish();
    let verdict = checked.report.verdict();
    if verdict != GraphVerdict::Valid {
        let mut value =
            serde_json::to_value(&checked.report).map_err(|e| msez::Error::Usage(e.to_string()))?;
        value["verdict"] = serde_json::to_value(verdict).unwrap_or_default();
        written(ctx.out.emit(&value, |w| human(&checked.report, verdict, w)))?;
        return Ok(Err(ExitCode::from(verdict.exit_code())));
    }
    Ok(Ok(checked))
}

fn bundle_attest(
    zip: &Path,
    key: &Path,
    issuer: &str,
    out: Option<PathBuf>,
    statement: &str,
    ctx: &Ctx,
) -> super::Result<ExitCode> {
    let key = KeyPair::load(key)?;
    let did = key.did().to_string();
    if issuer.split('#').next() != Some(did.as_str()) {
        return Err(msez::Error::Usage(format!(
            "--issuer {issuer} is not the did:key of --key ({did}); attestations are signed by their issuer"
        )));
    }
    let checked = match checked_bundle(zip, ctx)? {
        Ok(c) => c,
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
    ctx: &Ctx,
) -> super::Result<ExitCode> {
    let profile = profile
        .map(|p| attest::Profile::load(&ctx.path(p)))
        .transpose()?;
    let checked = match checked_bundle(zip, ctx)? {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let mut results = Vec::new();
    for a in attestations {
        let path = ctx.path(a);
        let bytes = std::fs::read(&path).map_err(|e| msez::Error::io("reading", &path, e))?;
        let vc = msez::canon::parse(&bytes)?;
        results.push(
            attest::check(&vc, &a.display().to_string(), &checked.manifest_digest)
                .map_err(msez::Error::from)?,
        );
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
    let value = serde_json::json!({
        "verdict": "valid",
        "bundle": zip,
        "manifest_digest_sha256": checked.manifest_digest.to_hex(),
        "stats": checked.report.stats,
        "attestations": results,
        "quorum": quorum,
    });
    written(ctx.out.emit(&value, |w| {
        writeln!(
            w,
            "valid: bundle {} (manifest sha256 {}, {} nodes) matches its content",
            zip.display(),
            checked.manifest_digest,
            checked.report.stats.nodes_total
        )?;
        for r in &results {
            writeln!(w, "attested by {} ({})", r.issuer, r.path)?;
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

fn bundle_extract(zip: &Path, dir: &Path, ctx: &Ctx) -> super::Result<ExitCode> {
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
    let checked = match checked_bundle(zip, ctx)? {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    std::fs::create_dir_all(dir).map_err(|e| msez::Error::io("creating", dir, e))?;
    let f = std::fs::File::open(zip).map_err(|e| msez::Error::io("opening", zip, e))?;
    let mut reader =
        bundle::BundleReader::open(std::io::BufReader::new(f), bundle::Limits::default())?;
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

/// `msez asset module witness-bundle MODULE [--out FILE]`: the module directory's closure.
pub fn witness_bundle(
    module: &Path,
    out: Option<&Path>,
    extra_roots: &[PathBuf],
    max_nodes: usize,
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
    let built = bundle::write::build(&Root::Dir(module.dir.clone()), &opts, &out, &bar)?;
    bar.finish();
    let verdict = built.manifest.verdict();
    let value = serde_json::json!({
        "bundle": built.path,
        "bytes": built.bytes,
        "manifest_digest_sha256": built.manifest_digest.to_hex(),
        "generated_at": built.manifest.generated_at,
        "stats": built.manifest.stats,
        "missing": built.manifest.missing,
        "digest_mismatches": built.manifest.digest_mismatches,
        "verdict": verdict,
    });
    written(ctx.out.emit(&value, |w| {
        writeln!(w, "{}", built.path.display())?;
        human(&built.manifest, verdict, w)?;
        writeln!(w, "manifest sha256 {}", built.manifest_digest)
    }))?;
    Ok(ExitCode::from(verdict.exit_code()))
}
