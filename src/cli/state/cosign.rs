//! `cosign`: a late signature of one receipt, through [`ops::cosign`].

use std::path::PathBuf;
use std::process::ExitCode;

use msez::chain::Kind;
use msez::chain::ops;

use super::{ChainArgs, ForkArgs, fail, load_forks, load_keys, open};
use crate::cli::{Ctx, Result, written};

/// The arguments of `cosign`: add a (late) signature to a receipt: a new proof file in .msez, the module file rewritten.
#[derive(Debug, clap::Args)]
pub struct CosignArgs {
    #[command(flatten)]
    pub chain: ChainArgs,
    /// The receipt's sequence.
    #[arg(long)]
    pub sequence: u64,
    /// A signing key (repeatable).
    #[arg(long = "key", required = true)]
    pub keys: Vec<PathBuf>,
    #[command(flatten)]
    pub forks: ForkArgs,
}

/// Runs `cosign` on a chain of `kind`.
pub fn cosign(kind: Kind, args: CosignArgs, ctx: &Ctx) -> Result<ExitCode> {
    let CosignArgs {
        chain,
        sequence,
        keys,
        forks,
    } = args;
    let mut o = open(kind, &chain, ctx)?;
    load_forks(&mut o, &forks, ctx).map_err(|e| fail(e, ctx))?;
    let keys = load_keys(&keys, ctx)?;
    let req = ops::CosignRequest {
        sequence,
        keys: &keys,
        opts: &o.opts,
    };
    let (path, added) = ops::cosign(o.repo.as_ref(), &o.chain, req).map_err(|e| fail(e, ctx))?;
    let value = serde_json::json!({"path": path, "sequence": sequence, "proofs_added": added});
    written(ctx.out.emit(&value, |w| {
        writeln!(w, "{} (+{added} proof(s))", path.display())
    }))?;
    Ok(ExitCode::SUCCESS)
}
