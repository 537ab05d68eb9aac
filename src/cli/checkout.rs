//! `msez checkout MODULE-ID`: writes an asset or corridor module's working tree from `.msez`.

use std::process::ExitCode;

use msez::chain::Kind;
use msez::chain::checkout::{self, FileSource};

use super::repo::open_repo;
use super::{Ctx, written};

/// `msez checkout MODULE-ID [--force]`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  msez clone /srv/msez-remote work && cd work\n  msez checkout 3f2a9c1\n  msez asset state receipt-init 3f2a9c1 --key operator.jwk\n  msez checkout org.example.corridor.a-b\n  msez corridor state receipt-init org.example.corridor.a-b --key zone-a.jwk"
)]
pub struct Args {
    /// The asset_id (64 hex, or a unique prefix of at least 7) or corridor id (or a unique
    /// prefix of one) whose module to write.
    #[arg(value_name = "MODULE-ID")]
    pub module: String,
    /// Replace module files that hold another receipt, checkpoint, genesis or input.
    #[arg(long)]
    pub force: bool,
}

/// Writes (or completes) modules/smart-assets/<asset_id>/ or modules/corridors/<id>/ from the
/// repository.
pub fn run(args: Args, ctx: &Ctx) -> super::Result<ExitCode> {
    let repo = open_repo(ctx)?;
    if let Some(id) = checkout::resolve_corridor_id(&repo, &args.module)? {
        return corridor(&repo, &id, args.force, ctx);
    }
    let asset_id = checkout::resolve_asset_id(&repo, &args.module)?;
    let done = checkout::checkout_asset(&repo, &asset_id, args.force)?;
    // The checkpoint notes the repository keeps go beside the checkpoints they sign.
    let notes = msez::tlog::travel::write_module_notes(&repo, &done.module, Kind::Asset)?;
    if !done.genesis {
        ctx.out
            .note("note: the repository holds no genesis for this asset; genesis.json not written");
    }
    for n in &done.notes {
        ctx.out.note(format!("note: {n}"));
    }
    written(ctx.out.confirm(&done, |w| {
        counts(
            w,
            &done.module,
            [
                done.receipts_written,
                done.receipts_kept,
                done.checkpoints_written,
            ],
        )?;
        sources(w, &done.files)?;
        if notes > 0 {
            writeln!(w, "{notes} checkpoint note(s) written")?;
        }
        Ok(())
    }))?;
    Ok(ExitCode::SUCCESS)
}

fn corridor(repo: &msez::odb::Repo, id: &str, force: bool, ctx: &Ctx) -> super::Result<ExitCode> {
    let done = checkout::checkout_corridor(repo, id, force)?;
    let notes = msez::tlog::travel::write_module_notes(repo, &done.module, Kind::Corridor)?;
    if done.module_object_stored {
        ctx.out.note(format!(
            "note: stored {} from the module folder (push sends it)",
            done.module_object
        ));
    }
    for n in &done.notes {
        ctx.out.note(format!("note: {n}"));
    }
    written(ctx.out.confirm(&done, |w| {
        counts(
            w,
            &done.module,
            [
                done.receipts_written,
                done.receipts_kept,
                done.checkpoints_written,
            ],
        )?;
        writeln!(
            w,
            "genesis root {} (from {}) is receipt 0's prev_root",
            done.genesis_root, done.module_object
        )?;
        sources(w, &done.files)?;
        if notes > 0 {
            writeln!(w, "{notes} checkpoint note(s) written")?;
        }
        Ok(())
    }))?;
    Ok(ExitCode::SUCCESS)
}

/// The summary line: receipts written and kept, checkpoints written.
fn counts(
    w: &mut dyn std::io::Write,
    module: &std::path::Path,
    [written, kept, checkpoints]: [u64; 3],
) -> std::io::Result<()> {
    writeln!(
        w,
        "{}: {written} receipt(s) written, {kept} kept, {checkpoints} checkpoint(s) written",
        module.display()
    )
}

/// One line per input file: where it came from and what verified it.
fn sources(w: &mut dyn std::io::Write, files: &[FileSource]) -> std::io::Result<()> {
    for f in files {
        writeln!(w, "  {} <- {} ({})", f.path, f.from, f.verified_by)?;
    }
    Ok(())
}
