//! `checkpoint`: a signed checkpoint of a chain, through [`ops::checkpoint`].

use std::path::PathBuf;
use std::process::ExitCode;

use msez::chain::Kind;
use msez::chain::ops;

use super::{ChainArgs, ForkArgs, fail, fast, load_forks, load_keys, open, timestamp};
use crate::cli::{Ctx, Result, written};

/// The arguments of `checkpoint`: write a signed checkpoint of a chain.
#[derive(Debug, clap::Args)]
pub struct CheckpointArgs {
    #[command(flatten)]
    pub chain: ChainArgs,
    /// A signing key (repeatable).
    #[arg(long = "key")]
    pub keys: Vec<PathBuf>,
    /// The checkpoint timestamp (default: now, or SOURCE_DATE_EPOCH).
    #[arg(long)]
    pub timestamp: Option<String>,
    #[command(flatten)]
    pub forks: ForkArgs,
}

/// Runs `checkpoint` on a chain of `kind`.
pub fn checkpoint(kind: Kind, args: CheckpointArgs, ctx: &Ctx) -> Result<ExitCode> {
    let CheckpointArgs {
        chain,
        keys,
        timestamp: ts,
        forks,
    } = args;
    let mut o = open(kind, &chain, ctx)?;
    load_forks(&mut o, &forks, ctx).map_err(|e| fail(e, ctx))?;
    let keys = load_keys(&keys, ctx)?;
    let lifecycle = o.opts.lifecycle.as_deref();
    // Refused before the chain is summarized (ops::checkpoint checks it again).
    ops::refuse_revoked(&o.chain, lifecycle, &keys, "checkpoint")?;
    let summary = ops::summary(o.repo.as_ref(), &o.chain, &o.opts, fast(&chain, &o))?;
    let req = ops::CheckpointRequest {
        summary: &summary,
        keys: &keys,
        timestamp: &timestamp(ts),
        lifecycle,
    };
    let (_, done) = ops::checkpoint(o.repo.as_ref(), &o.chain, req)?;
    written(ctx.out.emit(&done, |w| {
        writeln!(
            w,
            "{}:{} {}",
            kind.checkpoint_artifact(),
            done.digest,
            done.path.display()
        )
    }))?;
    Ok(ExitCode::SUCCESS)
}
