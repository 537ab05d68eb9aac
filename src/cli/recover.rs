//! `msez recover [MODULE|--all]`: completes appends a crash interrupted after they were
//! journaled (docs/formats.md, "Journals"), exactly as journaled, and rebuilds the chains'
//! derived MMR state.

use std::path::PathBuf;
use std::process::ExitCode;

use msez::chain::module::AssetModule;
use msez::chain::ops;
use msez::odb::{self, Recovered};

use super::repo::open_repo;
use super::{Ctx, written};

/// `msez recover [MODULE|--all]`.
#[derive(Debug, clap::Args)]
pub struct RecoverArgs {
    /// An asset module directory (or asset_id): complete its chains' journals and rebuild their
    /// MMR state from the chain.
    pub module: Option<PathBuf>,
    /// Complete every journal in the repository (the default without MODULE).
    #[arg(long, conflicts_with = "module")]
    pub all: bool,
}

/// Completes journals; rebuilds a module's MMR state.
pub fn recover(args: RecoverArgs, ctx: &Ctx) -> super::Result<ExitCode> {
    let repo = open_repo(ctx)?;
    let mut done: Vec<Recovered> = Vec::new();
    let mut rebuilt = Vec::new();
    match &args.module {
        Some(m) => {
            let module = AssetModule::open(&ctx.path(m), &ctx.cwd)?;
            for p in &module.config.purposes {
                let chain = module.chain(Some(p))?;
                done.extend(ops::recover(&repo, &chain)?);
                rebuilt.push(chain.key().path());
            }
        }
        None => {
            for path in odb::journals(&repo)? {
                let name = odb::journal_ref(&repo, &path)?;
                done.extend(ops::recover_ref(&repo, &name)?);
            }
        }
    }
    let doc = serde_json::json!({"recovered": done, "mmr_rebuilt": rebuilt});
    written(ctx.out.emit(&doc, |w| {
        for r in &done {
            writeln!(
                w,
                "recovered {}: {} -> {} ({} object(s), {} file(s) created{})",
                r.ref_name,
                r.old.map(|d| d.to_hex()).unwrap_or_else(|| "(none)".into()),
                r.new,
                r.objects,
                r.files_created,
                if r.moved { "" } else { "; the ref had moved" }
            )?;
        }
        if done.is_empty() {
            writeln!(w, "nothing to recover")?;
        }
        for c in &rebuilt {
            writeln!(w, "rebuilt the MMR state of {c}")?;
        }
        Ok(())
    }))?;
    Ok(ExitCode::SUCCESS)
}
