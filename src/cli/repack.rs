//! `msez repack [--packs-only]`: every pack and loose JSON object into one pack, then the
//! multi-pack index (docs/formats.md, "Packs").

use std::process::ExitCode;

use msez::odb::{RepackOptions, RepackReport};

use super::progress::Bar;
use super::repo::open_repo;
use super::{Ctx, written};

/// `msez repack`.
#[derive(Debug, clap::Args)]
pub struct RepackArgs {
    /// Consolidate the packs only; leave loose objects loose.
    #[arg(long)]
    pub packs_only: bool,
}

/// Consolidates the packs (and loose JSON objects) and rewrites the multi-pack index.
pub fn run(args: RepackArgs, ctx: &Ctx) -> super::Result<ExitCode> {
    let repo = open_repo(ctx)?;
    let opts = RepackOptions {
        loose: !args.packs_only,
    };
    let bar = Bar::new(&ctx.out, "repack");
    let report = repo.repack_all(&opts, &bar)?;
    bar.finish();
    render(&report, ctx)?;
    Ok(ExitCode::SUCCESS)
}

/// Prints a repack report (also `gc --auto`'s).
pub fn render(report: &RepackReport, ctx: &Ctx) -> super::Result<()> {
    let value = serde_json::to_value(report).unwrap_or_default();
    written(ctx.out.confirm(&value, |w| {
        for s in &report.skipped {
            writeln!(w, "left alone (fsck names it): {s}")?;
        }
        match &report.pack {
            Some(p) => writeln!(
                w,
                "repacked {} objects ({} bytes) into {p}: {} packs before, {} after, {} loose objects packed",
                report.objects,
                report.bytes,
                report.packs_before,
                report.packs_after,
                report.loose_packed
            )?,
            None => writeln!(
                w,
                "nothing to consolidate: {} packs",
                report.packs_after
            )?,
        }
        writeln!(w, "multi-pack index: {} objects", report.midx_objects)
    }))?;
    Ok(())
}
