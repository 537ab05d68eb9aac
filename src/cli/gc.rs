//! `msez gc [--dry-run] [--prune-expire DURATION] [--remote NAME]`.

use std::process::ExitCode;
use std::time::Duration;

use msez::gc::{self, Options};
use msez::odb::{self, Repo};

use super::progress::Bar;
use super::repo::open_repo;
use super::sync::{Transfer, open_remote};
use super::{Ctx, written};

/// `msez gc`.
#[derive(Debug, clap::Args)]
pub struct GcArgs {
    /// List what would be deleted; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Keep objects younger than this, and wait this long between marking an object and
    /// deleting it (default: gc.prune_expire in .msez/config, else 14d; `now` or `0`: no wait).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub prune_expire: Option<Duration>,
    /// Collect the remote NAME instead of the repository.
    #[arg(long, value_name = "NAME")]
    pub remote: Option<String>,
    /// Do nothing unless the repository has more packs than gc.auto_pack_limit (default
    /// 50); then collect as usual and consolidate the packs (`msez repack`).
    #[arg(long, conflicts_with_all = ["remote", "dry_run"])]
    pub auto: bool,
    #[command(flatten)]
    pub transfer: Transfer,
}

/// A humantime duration (`14d`, `2weeks`, `30m`), or `now`/`0` for none.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    match s.trim() {
        "now" | "0" => Ok(Duration::ZERO),
        t => humantime::parse_duration(t).map_err(|e| e.to_string()),
    }
}

/// The gc options from the flags over `[gc]` in the config over the defaults.
fn options(args: &GcArgs, repo: &Repo) -> super::Result<Options> {
    let from_config = |value: &Option<String>, key: &str, default: Duration| match value {
        None => Ok(default),
        Some(v) => parse_duration(v).map_err(|why| odb::Error::Config {
            path: repo.dir().join("config"),
            message: format!("gc.{key} = {v:?}: {why}"),
        }),
    };
    let config = &repo.config().gc;
    Ok(Options {
        prune_expire: match args.prune_expire {
            Some(d) => d,
            None => from_config(&config.prune_expire, "prune_expire", gc::PRUNE_EXPIRE)?,
        },
        reflog_expire: from_config(&config.reflog_expire, "reflog_expire", gc::REFLOG_EXPIRE)?,
        dry_run: args.dry_run,
    })
}

/// `gc --auto`: nothing below the pack limit; past it, a gc run, then a repack.
fn auto(repo: &Repo, opts: &Options, ctx: &Ctx) -> super::Result<ExitCode> {
    if !repo.auto_repack_due()? {
        let value = serde_json::json!({ "due": false, "packs": repo.packs()?.len() });
        written(ctx.out.emit(&value, |w| {
            writeln!(w, "gc --auto: {} packs, nothing to do", value["packs"])
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    let bar = Bar::new(&ctx.out, "gc");
    let report = gc::run(&gc::Local::new(repo), opts, &bar, &mut || {})?;
    bar.finish();
    let bar = Bar::new(&ctx.out, "repack");
    let repacked = repo.repack_all(&odb::RepackOptions::default(), &bar)?;
    bar.finish();
    let value = serde_json::json!({ "due": true, "gc": report, "repack": repacked });
    written(ctx.out.emit(&value, |w| {
        writeln!(
            w,
            "{}: {} objects, {} deleted, {} bytes freed",
            report.store,
            report.objects,
            report.deleted.len(),
            report.bytes_freed
        )?;
        writeln!(
            w,
            "repacked {} objects into {}: {} packs before, {} after; multi-pack index: {} objects",
            repacked.objects,
            repacked.pack.as_deref().unwrap_or("(no new pack)"),
            repacked.packs_before,
            repacked.packs_after,
            repacked.midx_objects
        )
    }))?;
    Ok(ExitCode::SUCCESS)
}

/// Marks unreachable objects, and deletes those marked a grace period ago and still unreachable.
pub fn run(args: GcArgs, ctx: &Ctx) -> super::Result<ExitCode> {
    let repo = open_repo(ctx)?;
    let opts = options(&args, &repo)?;
    if args.auto {
        return auto(&repo, &opts, ctx);
    }
    let bar = Bar::new(&ctx.out, "gc");
    let mut logs = Vec::new();
    let report = match &args.remote {
        None => gc::run(&gc::Local::new(&repo), &opts, &bar, &mut || {})?,
        Some(name) => {
            let (name, backend) = open_remote(&repo, Some(name), ctx, &args.transfer)?;
            let report = msez::remote::gc::run_remote(
                backend.as_ref(),
                Some(&repo),
                &opts,
                &bar,
                &mut || {},
            )?;
            if !report.deleted.is_empty() && !opts.dry_run {
                // Our record of the remote's keys names what is gone: the next push relists.
                msez::remote::sync::forget(&repo, &name)?;
            }
            // Published logs (tlog/, docs/tlog.md) are not garbage: gc never lists them for
            // deletion; it says they are kept.
            logs = msez::tlog::published::list(backend.as_ref())?.0;
            report
        }
    };
    bar.finish();
    // The remote's traffic (`traffic` in --json, a note with -v); nothing for a local gc.
    let traffic = args
        .remote
        .as_ref()
        .map(|_| super::sync::with_traffic(&report, ctx));
    let mut value = match &traffic {
        Some(t) => serde_json::to_value(t),
        None => serde_json::to_value(&report),
    }
    .unwrap_or_default();
    if args.remote.is_some() {
        value["published_logs"] = serde_json::to_value(&logs).unwrap_or_default();
    }
    written(ctx.out.emit(&value, |w| {
        let verb = if report.dry_run {
            "would delete"
        } else {
            "deleted"
        };
        for id in &report.deleted {
            writeln!(w, "{verb} {id}")?;
        }
        for p in &report.bad_proofs {
            writeln!(w, "{verb} proof file {} of {}: {}", p.file, p.object, p.why)?;
        }
        for k in &report.irregular {
            writeln!(
                w,
                "{}: remote key {} is not a regular file ({}): left alone",
                k.code, k.key, k.why
            )?;
        }
        writeln!(
            w,
            "{}: {} objects, {} reachable, {} marked ({} in grace), {} {verb}, {} bytes freed",
            report.store,
            report.objects,
            report.reachable,
            report.marked,
            report.waiting,
            report.deleted.len(),
            report.bytes_freed
        )?;
        for l in &logs {
            writeln!(
                w,
                "kept published log {} ({} keys, {} bytes)",
                msez::remote::layout::shown_key(&l.prefix),
                l.keys,
                l.bytes
            )?;
        }
        if report.locks_deleted > 0 {
            writeln!(w, "{} expired ref locks {verb}", report.locks_deleted)?;
        }
        Ok(())
    }))?;
    Ok(ExitCode::SUCCESS)
}
