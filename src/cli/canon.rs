//! `msez canon` and `msez digest`: canonical bytes and semantic digests of one document.

use std::path::PathBuf;
use std::process::ExitCode;

use msez::canon;

use super::{Ctx, read_input, written};

/// `msez canon [FILE|-]`.
#[derive(Debug, clap::Args)]
pub struct CanonArgs {
    /// The JSON document (default: stdin).
    pub file: Option<PathBuf>,
}

/// `msez digest --type TYPE [FILE|-]`.
#[derive(Debug, clap::Args)]
pub struct DigestArgs {
    /// The artifact type whose digest rule applies (vc, smart-asset-receipt, blob, ...).
    #[arg(long = "type", value_name = "TYPE")]
    pub artifact_type: String,
    /// The artifact (default: stdin).
    pub file: Option<PathBuf>,
}

/// Prints the canonical bytes of a JSON document (exit 65 on a rejected input).
pub fn canon(args: CanonArgs, ctx: &Ctx) -> super::Result<ExitCode> {
    let bytes = read_input(args.file.as_deref(), ctx)?;
    // Canonicalized from the input buffer, not a tree: a large document stays near its size.
    let doc = canon::Document::parse(&bytes)?;
    if ctx.out.json {
        let canonical = doc.to_bytes_without(&[])?;
        drop(doc);
        drop(bytes);
        let sha256 = canon::sha256(&canonical);
        let text = String::from_utf8(canonical)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        written(ctx.out.emit(
            &serde_json::json!({"canonical": text, "sha256": sha256}),
            |_| Ok(()),
        ))?;
    } else {
        let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
        match doc.write_without(&[], &mut out) {
            Ok(()) => {}
            Err(canon::WriteError::Canon(e)) => return Err(e.into()),
            Err(canon::WriteError::Io(e)) => written(Err(e))?,
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints the semantic digest of one artifact by its type's rule.
pub fn digest(args: DigestArgs, ctx: &Ctx) -> super::Result<ExitCode> {
    let artifact_type = msez::artifact::ArtifactType::new(&args.artifact_type)?;
    let bytes = read_input(args.file.as_deref(), ctx)?;
    let digest = msez::artifact::digest_bytes(&artifact_type, &bytes)?;
    let value = serde_json::json!({
        "artifact_type": artifact_type.as_str(),
        "digest_sha256": digest,
        "method": canon::rule_for(artifact_type.as_str()).method(),
    });
    written(ctx.out.emit(&value, |w| writeln!(w, "{digest}")))?;
    Ok(ExitCode::SUCCESS)
}
