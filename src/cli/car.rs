//! `msez artifact graph export --car` and `msez artifact graph import --car` (CARv1, IPFS).

use std::path::PathBuf;
use std::process::ExitCode;

use msez::artifact::ObjectId;

use super::repo::open_repo;
use super::{Ctx, written};

/// `msez artifact graph export --root TYPE:DIGEST --car OUT.car`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The root artifact: `TYPE:DIGEST`.
    #[arg(long, value_name = "TYPE:DIGEST")]
    pub root: String,
    /// Where to write the CAR file.
    #[arg(long, value_name = "OUT.car")]
    pub car: PathBuf,
}

/// `msez artifact graph import --car IN.car`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The CAR file.
    #[arg(long, value_name = "IN.car")]
    pub car: PathBuf,
}

/// Exports a closure.
pub fn export(args: ExportArgs, ctx: &Ctx) -> super::Result<ExitCode> {
    let repo = open_repo(ctx)?;
    let root: ObjectId = args.root.parse()?;
    let out = ctx.path(&args.car);
    let report = msez::car::export(&repo, &root, &out)?;
    written(ctx.out.emit(&report, |w| {
        writeln!(w, "{}", report.root_cid)?;
        writeln!(
            w,
            "{}: {} objects, {} proof files, manifest {} ({} bytes)",
            out.display(),
            report.objects,
            report.proofs,
            report.manifest_cid,
            report.bytes
        )
    }))?;
    Ok(ExitCode::SUCCESS)
}

/// Imports a CAR file.
pub fn import(args: ImportArgs, ctx: &Ctx) -> super::Result<ExitCode> {
    let repo = open_repo(ctx)?;
    let report = msez::car::import(&repo, &ctx.path(&args.car))?;
    written(ctx.out.emit(&report, |w| {
        writeln!(
            w,
            "{}: {} blocks verified, {} objects stored, {} present, {} proofs added",
            report.root,
            report.blocks,
            report.objects_stored,
            report.objects_present,
            report.proofs_added
        )
    }))?;
    Ok(ExitCode::SUCCESS)
}
