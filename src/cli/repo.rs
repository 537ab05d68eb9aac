//! Repository porcelain and plumbing: init, update-ref, refs, show, reflog, fsck.

use std::path::PathBuf;
use std::process::ExitCode;

use super::Ctx;

/// `msez init [DIR]`.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Where to create `.msez` (default: the working directory).
    pub dir: Option<PathBuf>,
}

/// `msez update-ref REF NEW [--old OLD]`.
#[derive(Debug, clap::Args)]
pub struct UpdateRefArgs {
    /// The ref, e.g. `refs/assets/<asset_id>/core/head`.
    pub name: String,
    /// The new value: a digest or `TYPE:DIGEST`.
    pub new: String,
    /// Move only if the ref holds this now (`0` * 64 or `none`: only if absent).
    #[arg(long)]
    pub old: Option<String>,
    /// Why, for the reflog.
    #[arg(long, short = 'm', default_value = "update-ref")]
    pub reason: String,
}

/// `msez refs`.
#[derive(Debug, clap::Args)]
pub struct RefsArgs {}

/// `msez show OBJECT`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// `TYPE:DIGEST` or a ref.
    pub object: String,
}

/// `msez reflog REF`.
#[derive(Debug, clap::Args)]
pub struct ReflogArgs {
    /// The ref.
    pub name: String,
}

/// `msez fsck`.
#[derive(Debug, clap::Args)]
pub struct FsckArgs {
    /// Also verify every proof of every object.
    #[arg(long)]
    pub strict: bool,
}

pub fn init(_a: InitArgs, _ctx: &Ctx) -> super::Result<ExitCode> {
    Ok(ExitCode::SUCCESS)
}
pub fn update_ref(_a: UpdateRefArgs, _ctx: &Ctx) -> super::Result<ExitCode> {
    Ok(ExitCode::SUCCESS)
}
pub fn refs(_a: RefsArgs, _ctx: &Ctx) -> super::Result<ExitCode> {
    Ok(ExitCode::SUCCESS)
}
pub fn show(_a: ShowArgs, _ctx: &Ctx) -> super::Result<ExitCode> {
    Ok(ExitCode::SUCCESS)
}
pub fn reflog(_a: ReflogArgs, _ctx: &Ctx) -> super::Result<ExitCode> {
    Ok(ExitCode::SUCCESS)
}
pub fn fsck(_a: FsckArgs, _ctx: &Ctx) -> super::Result<ExitCode> {
    Ok(ExitCode::SUCCESS)
}
