//! `msez quickstart`.

use std::path::PathBuf;
use std::process::ExitCode;

use super::Ctx;

/// `msez quickstart [DIR]`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to build the demo repository.
    #[arg(default_value = "msez-demo")]
    pub dir: PathBuf,
}

/// Runs the operator flow end to end.
pub fn run(_args: Args, _ctx: &Ctx) -> super::Result<ExitCode> {
    Ok(ExitCode::SUCCESS)
}
