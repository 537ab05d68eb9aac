//! `msez remote stats NAME`: what a remote holds (objects and bytes per type, proof files,
//! refs, other keys), what no ref there reaches, and what finding out cost in requests.

use std::process::ExitCode;

use msez::remote::stats;

use super::repo::{interrupt_flag, open_repo};
use super::sync::{Transfer, open_remote, with_traffic};
use super::{Ctx, written};

/// The stats with the published logs beside them.
#[derive(serde::Serialize)]
struct WithLogs<'a> {
    #[serde(flatten)]
    stats: &'a stats::Stats,
    /// The logs under `tlog/`: prefix, origin, size, keys, bytes, tiles, entry bundles.
    published_logs: &'a [msez::tlog::published::Log],
    /// Keys under `tlog/` of no log's shape.
    tlog_stray_keys: &'a [String],
}

/// `msez remote stats NAME`.
#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    /// The remote.
    pub name: String,
    #[command(flatten)]
    pub transfer: Transfer,
}

/// Lists the remote once (about one request per 1,000 keys), reads its refs, walks their
/// closure through local copies (remote JSON objects where the repository lacks them).
pub fn run(args: StatsArgs, ctx: &Ctx) -> super::Result<ExitCode> {
    let repo = open_repo(ctx)?;
    let (_, backend) = open_remote(&repo, Some(&args.name), ctx, &args.transfer)?;
    let mut s = stats::stats(
        &repo,
        backend.as_ref(),
        &args.transfer.options(),
        interrupt_flag(),
    )?;
    // Published logs (docs/tlog.md) are listed as such, not as other keys; the listing of
    // `tlog/` is made only when the remote has keys there.
    let (logs, stray) = match s.other.remove("tlog") {
        Some(_) => msez::tlog::published::list(backend.as_ref())?,
        None => (Vec::new(), Vec::new()),
    };
    let with_logs = WithLogs {
        stats: &s,
        published_logs: &logs,
        tlog_stray_keys: &stray,
    };
    let report = with_traffic(&with_logs, ctx);
    let requests = report.traffic.requests;
    written(ctx.out.emit(&report, |w| {
        let line = |w: &mut dyn std::io::Write, what: &str, t: &stats::Tally| {
            writeln!(w, "  {what:<22} {:>10} {:>16} bytes", t.count, t.bytes)
        };
        writeln!(w, "{}", s.url)?;
        line(w, "objects", &s.objects)?;
        for (t, tally) in &s.by_type {
            line(w, &format!("  {t}"), tally)?;
        }
        line(w, "proof files", &s.proof_files)?;
        line(w, "refs", &s.refs)?;
        for (k, tally) in &s.other {
            line(w, &msez::remote::layout::shown_key(k), tally)?;
        }
        for l in &logs {
            writeln!(
                w,
                "  published log {} ({}, size {}): {} keys, {} bytes, {} tiles, {} entry bundles",
                msez::remote::layout::shown_key(&l.prefix),
                l.origin
                    .as_deref()
                    .map_or("no checkpoint".into(), msez::remote::layout::shown_key),
                l.size.map_or("?".into(), |n| n.to_string()),
                l.keys,
                l.bytes,
                l.tiles,
                l.entry_bundles
            )?;
        }
        for k in &stray {
            writeln!(
                w,
                "  ! {} is under tlog/ but no published log's",
                msez::remote::layout::shown_key(k)
            )?;
        }
        line(w, "total", &s.total)?;
        line(w, "no ref reaches", &s.unreferenced)?;
        match &s.last_push {
            Some(t) => writeln!(w, "  last push              {t} (the newest ref write)")?,
            None if s.refs.count > 0 => writeln!(
                w,
                "  last push              unknown (the listing tells no times)"
            )?,
            None => writeln!(w, "  last push              never (no ref)")?,
        }
        for r in &s.bad_refs {
            writeln!(w, "  ! ref {r} does not hold a digest (not followed)")?;
        }
        writeln!(
            w,
            "  {requests} requests ({} JSON objects read to walk the refs' closure)",
            s.closure_reads
        )
    }))?;
    Ok(ExitCode::SUCCESS)
}
