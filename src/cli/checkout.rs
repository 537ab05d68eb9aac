//! `msez checkout MODULE-ID`: writes an asset module's working tree from `.msez`.

use std::process::ExitCode;

use msez::chain::checkout;

use super::repo::open_repo;
use super::{Ctx, written};

/// `msez checkout MODULE-ID [--force]`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  msez clone /srv/msez-remote work && cd work\n  msez checkout 3f2a9c1\n  msez asset state receipt-init 3f2a9c1 --key operator.jwk"
)]
pub struct Args {
    /// The asset_id (64 hex, or a unique prefix of at least 7) whose module to write.
    #[arg(value_name = "MODULE-ID")]
    pub module: String,
    /// Replace module files that hold another receipt, checkpoint or genesis.
    #[arg(long)]
    pub force: bool,
}

/// Writes (or completes) modules/smart-assets/<asset_id>/ from the repository.
pub fn run(args: Args, ctx: &Ctx) -> super::Result<ExitCode> {
    let repo = open_repo(ctx)?;
    let asset_id = checkout::resolve_asset_id(&repo, &args.module)?;
    let done = checkout::checkout_asset(&repo, &asset_id, args.force)?;
    // The checkpoint notes the repository keeps go beside the checkpoints they sign.
    let notes =
        msez::tlog::travel::write_module_notes(&repo, &done.module, msez::chain::Kind::Asset)?;
    if !done.genesis {
        ctx.out
            .note("note: the repository holds no genesis for this asset; genesis.json not written");
    }
    written(ctx.out.confirm(&done, |w| {
        writeln!(
            w,
            "{}: {} receipt(s) written, {} kept, {} checkpoint(s) written",
            done.module.display(),
            done.receipts_written,
            done.receipts_kept,
            done.checkpoints_written
        )?;
        if notes > 0 {
            writeln!(w, "{notes} checkpoint note(s) written")?;
        }
        Ok(())
    }))?;
    Ok(ExitCode::SUCCESS)
}
