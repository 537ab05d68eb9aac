//! `msez push|fetch|pull|clone` and `msez fsck --remote`: moving objects, proofs and refs
//! between the repository and a remote.

use std::path::PathBuf;
use std::process::ExitCode;

use msez::odb::{RefName, Repo};
use msez::remote::sync::{self, Options};
use msez::remote::{self, Backend, Retry, Url};

use super::progress::Bar;
use super::repo::{SAMPLE_HOOKS, interrupt_flag, open_repo};
use super::{Ctx, written};

/// Transfer tuning shared by every sync command.
#[derive(Debug, Clone, clap::Args)]
pub struct Transfer {
    /// Concurrent uploads/downloads (default: the remote's `jobs` setting, else 8).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Retries of a failed request (exponential backoff from 100 ms).
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub retries: u32,
    /// At most RATE bytes per second, up and down, over all jobs (512K, 10M, 1G: powers of
    /// 1024).
    #[arg(long, value_name = "RATE", value_parser = remote::throttle::parse_rate)]
    pub limit_rate: Option<u64>,
}

impl Transfer {
    /// `backend`, paced to `--limit-rate` when it is given.
    pub(super) fn paced(&self, backend: Box<dyn Backend>) -> Box<dyn Backend> {
        match self.limit_rate {
            Some(rate) => Box::new(remote::throttle::Throttled {
                inner: backend,
                limit: std::sync::Arc::new(remote::throttle::Limit::new(rate)),
            }),
            None => backend,
        }
    }

    pub(super) fn options(&self) -> Options {
        Options {
            jobs: self.jobs.unwrap_or(8).max(1),
            retry: Retry {
                retries: self.retries,
                ..Retry::default()
            },
            force_with_lease: false,
            all_objects: false,
            dry_run: false,
            trust_anchors: None,
            lifecycle: None,
        }
    }
}

/// The transfer options with a named remote's `jobs` setting when `--jobs` is not given.
fn options_for(repo: &Repo, name: &str, transfer: &Transfer) -> Options {
    let jobs = transfer
        .jobs
        .or_else(|| repo.config().remote.get(name).and_then(|r| r.jobs))
        .unwrap_or(8)
        .max(1);
    Options {
        jobs,
        ..transfer.options()
    }
}

/// Whose fork resolutions let a chain head cross a fork.
#[derive(Debug, Clone, clap::Args)]
pub struct Anchors {
    /// Trust anchors: a chain head moves across a fork only by a fork resolution signed by an
    /// anchor allowed `fork_resolution` (without this flag, nobody's counts).
    #[arg(long, value_name = "FILE")]
    pub trust_anchors: Option<PathBuf>,
}

impl Anchors {
    /// The options with these anchors and the key lifecycle they name (rotations and
    /// revocations count when a resolution is re-checked, as in verify).
    fn with(&self, ctx: &Ctx, opts: Options) -> super::Result<Options> {
        let Some(p) = &self.trust_anchors else {
            return Ok(opts);
        };
        // Credentials referenced by digest live in the repository, when there is one (clone).
        let repo = super::repo::open_repo(ctx).ok();
        let (anchors, lifecycle) =
            msez::chain::lifecycle::load_anchors(&ctx.path(p), repo.as_ref())?;
        Ok(Options {
            trust_anchors: Some(std::sync::Arc::new(anchors)),
            lifecycle,
            ..opts
        })
    }
}

/// `msez push [NAME] [REF...] [--force-with-lease]`.
#[derive(Debug, clap::Args)]
pub struct PushArgs {
    /// The remote (default: origin).
    pub remote: Option<String>,
    /// Refs to push (default: every ref outside refs/remotes/).
    pub refs: Vec<String>,
    /// Overwrite a remote ref that is not a fast-forward, but only if it still holds what
    /// we last fetched (its remote-tracking ref).
    #[arg(long)]
    pub force_with_lease: bool,
    /// Also send objects no pushed ref reaches (every local object and proof file; walks the
    /// whole store).
    #[arg(long)]
    pub all_objects: bool,
    /// Say what would be sent (objects, proof files, bytes, requests, refs that would move);
    /// upload nothing, move no ref (the pre-push hook still runs).
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub anchors: Anchors,
    #[command(flatten)]
    pub transfer: Transfer,
}

/// `msez fetch [NAME]` and `msez pull [NAME]`.
#[derive(Debug, clap::Args)]
pub struct FetchArgs {
    /// The remote (default: origin).
    pub remote: Option<String>,
    #[command(flatten)]
    pub take: Take,
    #[command(flatten)]
    pub anchors: Anchors,
    #[command(flatten)]
    pub transfer: Transfer,
}

/// What fetch, pull and clone take from the remote.
#[derive(Debug, Clone, clap::Args)]
pub struct Take {
    /// Also download objects no remote ref reaches (every listed object and proof file).
    #[arg(long)]
    pub all_objects: bool,
    /// Say what would be downloaded (objects, proof files, bytes, requests); store nothing,
    /// move no ref. The JSON objects on the refs' closure are still read, to walk it.
    #[arg(long)]
    pub dry_run: bool,
}

impl Take {
    fn with(&self, opts: Options) -> Options {
        Options {
            all_objects: self.all_objects,
            dry_run: self.dry_run,
            ..opts
        }
    }
}

/// `msez clone URL [DIR]`.
#[derive(Debug, clap::Args)]
pub struct CloneArgs {
    /// A path or file:///path, s3://bucket/prefix, ipfs://HOST:PORT/NAME.
    pub url: String,
    /// Where to create the repository (default: the URL's last component).
    // Not named `dir`: clap would merge it with the global `-C DIR` (same argument id).
    #[arg(value_name = "DIR")]
    pub directory: Option<PathBuf>,
    #[command(flatten)]
    pub take: Take,
    #[command(flatten)]
    pub anchors: Anchors,
    #[command(flatten)]
    pub transfer: Transfer,
    /// The new `origin`'s settings, used for the clone and kept in its configuration.
    #[command(flatten)]
    pub s3: super::remote::S3Settings,
}

/// Notes about slow and retried requests go to stderr (unless `-q`): a silent server is not
/// silence on the terminal.
fn notify_progress(ctx: &Ctx) {
    if !ctx.out.quiet {
        remote::set_notifier(|note| eprintln!("msez: {note}"));
    }
}

pub(super) fn open_remote(
    repo: &Repo,
    name: Option<&str>,
    ctx: &Ctx,
    transfer: &Transfer,
) -> super::Result<(String, Box<dyn Backend>)> {
    notify_progress(ctx);
    let name = name.unwrap_or("origin").to_string();
    let entry = repo
        .config()
        .remote
        .get(&name)
        .ok_or_else(|| remote::Error::Name {
            what: "there is no",
            name: name.clone(),
        })?;
    let url = Url::parse(&entry.url, &ctx.cwd)?;
    let settings = remote::aws::Settings::from_config(entry)?;
    let backend = transfer.paced(remote::open_with(
        &url,
        transfer.options().retry,
        &settings,
    )?);
    if let (true, Url::S3 { .. }) = (ctx.out.verbose, &url) {
        // Which profile and endpoint won is what a storage team asks first. Resolved again
        // for the note (deterministic; a second metadata probe only when that is the source).
        if let Ok(r) = remote::aws::resolve(&settings, &|k| std::env::var(k).ok(), &entry.url) {
            ctx.out.note(format!(
                "remote {name}: credentials from {}, region {}, endpoint {}",
                r.source,
                r.region,
                r.endpoint
                    .as_deref()
                    .map_or("AWS".to_string(), remote::Url::redact)
            ));
        }
    }
    if ctx.out.verbose {
        ctx.out.note(format!(
            "remote {name}: {} ({} jobs, {} retries{})",
            backend.url(),
            transfer.jobs.or(entry.jobs).unwrap_or(8),
            transfer.retries,
            if backend.atomic_conditionals() {
                ""
            } else {
                ", single-writer: lease"
            }
        ));
    }
    Ok((name, backend))
}

/// A report with what the remote traffic cost (`traffic` in `--json`; a note with `-v`).
#[derive(serde::Serialize)]
pub(super) struct WithTraffic<'a, T: serde::Serialize> {
    #[serde(flatten)]
    report: &'a T,
    /// What the remote traffic of this process cost so far.
    pub traffic: remote::Traffic,
}

pub(super) fn with_traffic<'a, T: serde::Serialize>(
    report: &'a T,
    ctx: &Ctx,
) -> WithTraffic<'a, T> {
    let traffic = remote::traffic();
    if ctx.out.verbose {
        ctx.out.note(format!(
            "remote traffic: {} requests, {} bytes down, {} bytes up",
            traffic.requests, traffic.bytes_down, traffic.bytes_up
        ));
    }
    WithTraffic { report, traffic }
}

fn short(d: &Option<String>) -> String {
    d.as_deref()
        .map(|s| s.chars().take(12).collect())
        .unwrap_or_else(|| "(none)".to_string())
}

/// Uploads objects and proofs, then moves remote refs by conditional writes.
pub fn push(args: PushArgs, ctx: &Ctx) -> super::Result<ExitCode> {
    let repo = open_repo(ctx)?;
    let (name, backend) = open_remote(&repo, args.remote.as_deref(), ctx, &args.transfer)?;
    let refs = args
        .refs
        .iter()
        .map(|r| RefName::new(r))
        .collect::<Result<Vec<_>, _>>()?;
    let bar = Bar::new(&ctx.out, "push");
    let report = sync::push(
        &repo,
        &name,
        backend.as_ref(),
        &refs,
        &args.anchors.with(
            ctx,
            Options {
                force_with_lease: args.force_with_lease,
                all_objects: args.all_objects,
                dry_run: args.dry_run,
                ..options_for(&repo, &name, &args.transfer)
            },
        )?,
        &bar,
        interrupt_flag(),
    )?;
    bar.finish();
    let notes = super::tlog_remote::push_notes(&repo, backend.as_ref(), args.dry_run)?;
    for w in &report.warnings {
        ctx.out.note(format!("warning: {w}"));
    }
    let shown = super::tlog_remote::WithNotes {
        report: &report,
        notes: &notes,
    };
    written(ctx.out.confirm(&with_traffic(&shown, ctx), |w| {
        if let Some(plan) = &report.would_send {
            writeln!(
                w,
                "{}: would send {} objects, {} proof files, {} bytes in {} requests (dry run: \
                 nothing sent)",
                report.url, plan.objects, plan.proofs, plan.bytes, plan.requests
            )?;
            for name in &report.would_move {
                writeln!(w, "  {name} would move")?;
            }
            return Ok(());
        }
        writeln!(
            w,
            "{}: {} objects, {} proof files, {} bytes sent",
            report.url, report.objects_sent, report.proofs_sent, report.bytes_sent
        )?;
        for m in &report.refs_moved {
            let forced = match (&m.resolution, m.forced) {
                (Some(r), _) => format!(" (across a fork, resolved by {r})"),
                (None, true) => " (forced with lease)".to_string(),
                (None, false) => String::new(),
            };
            writeln!(
                w,
                "  {} {} -> {}{forced}",
                m.name,
                short(&m.old),
                &m.new[..12]
            )?;
        }
        for r in &report.rejected {
            writeln!(w, "  ! {} rejected: {}", r.name, r.message)?;
        }
        super::tlog_remote::render_notes(w, &notes, "sent")
    }))?;
    let code = report
        .rejected
        .iter()
        .map(|r| r.class.exit_code())
        .min()
        .unwrap_or(0);
    if code != 0 {
        ctx.out.note(format!(
            "msez: {} ref(s) rejected; fetch or pull, then push again",
            report.rejected.len()
        ));
    }
    Ok(ExitCode::from(code))
}

/// Downloads and verifies what the remote has, and moves remote-tracking refs.
pub fn fetch(args: FetchArgs, ctx: &Ctx) -> super::Result<ExitCode> {
    let repo = open_repo(ctx)?;
    let (name, backend) = open_remote(&repo, args.remote.as_deref(), ctx, &args.transfer)?;
    if let Some(code) = super::tlog_remote::refuse_split_views(&repo, backend.as_ref(), ctx)? {
        return Ok(code);
    }
    let bar = Bar::new(&ctx.out, "fetch");
    let report = sync::fetch(
        &repo,
        &name,
        backend.as_ref(),
        &args.anchors.with(
            ctx,
            args.take.with(options_for(&repo, &name, &args.transfer)),
        )?,
        &bar,
        interrupt_flag(),
    )?;
    bar.finish();
    let notes = super::tlog_remote::fetch_notes(&repo, backend.as_ref(), args.take.dry_run)?;
    let shown = super::tlog_remote::WithNotes {
        report: &report,
        notes: &notes,
    };
    written(ctx.out.confirm(&with_traffic(&shown, ctx), |w| {
        render_fetch(w, &report)?;
        super::tlog_remote::render_notes(w, &notes, "stored")
    }))?;
    if !report.forks.is_empty() || !report.refused.is_empty() {
        return Ok(ExitCode::from(msez::Class::Fork.exit_code()));
    }
    Ok(ExitCode::from(dangling_code(&report)))
}

fn render_fetch(w: &mut dyn std::io::Write, report: &sync::FetchReport) -> std::io::Result<()> {
    match &report.would_receive {
        Some(plan) => writeln!(
            w,
            "{}: would receive {} objects, {} proof files, {} bytes in {} requests (dry run: \
             nothing stored, no ref moved)",
            report.url, plan.objects, plan.proofs, plan.bytes, plan.requests
        )?,
        None => writeln!(
            w,
            "{}: {} objects, {} proof files, {} bytes received",
            report.url, report.objects_received, report.proofs_received, report.bytes_received
        )?,
    }
    if report.unreferenced_objects > 0 {
        writeln!(
            w,
            "  {} objects ({} bytes) that no remote ref reaches not taken (--all-objects takes them)",
            report.unreferenced_objects, report.unreferenced_bytes
        )?;
    }
    for m in &report.tracking_moved {
        writeln!(w, "  {} {} -> {}", m.name, short(&m.old), &m.new[..12])?;
    }
    for f in &report.forks {
        writeln!(
            w,
            "  ! fork detected at sequence {} of {}: local {} remote {} (kept in {})",
            f.sequence,
            f.chain,
            &f.local.to_hex()[..12],
            &f.remote.to_hex()[..12],
            f.kept
        )?;
    }
    for r in &report.refused {
        let what = match r.kind {
            "rollback" => "rolled back".to_string(),
            "fork" => format!(
                "forked at sequence {}",
                r.sequence.map(|s| s.to_string()).unwrap_or_default()
            ),
            "unsigned" => "names a checkpoint without a proof that verifies".to_string(),
            _ => "moved to a value we cannot place on its chain".to_string(),
        };
        let short = |h: &str| h.get(..12).unwrap_or("(none)").to_string();
        let kept = r
            .kept
            .as_deref()
            .map(|k| format!(", theirs kept in {k}"))
            .unwrap_or_default();
        writeln!(
            w,
            "  ! remote {} {what}: tracking {} remote {} (not moved{kept})",
            r.name,
            short(&r.tracking),
            short(&r.remote),
        )?;
    }
    for r in &report.resolved {
        writeln!(
            w,
            "  {} crossed the fork at sequence {} by resolution {} (signed by {})",
            r.chain,
            r.sequence,
            r.credential,
            r.authorized_by.join(", ")
        )?;
    }
    for p in &report.proofs_rejected {
        writeln!(w, "  ! proof skipped ({}): {}", p.code, p.message)?;
    }
    for d in &report.dangling {
        writeln!(
            w,
            "  ! remote ref {d} names an object the remote lacks (not tracked)"
        )?;
    }
    // Listed keys come escaped from the backends (layout::shown_key): safe to print.
    for k in &report.ignored {
        writeln!(w, "  ? skipped remote key {k} (not msez layout)")?;
    }
    Ok(())
}

fn dangling_code(report: &sync::FetchReport) -> u8 {
    if report.dangling.is_empty() {
        0
    } else {
        msez::Class::Missing.exit_code()
    }
}

/// fetch, then fast-forward local refs; divergence is reported (exit 69) and both kept.
pub fn pull(args: FetchArgs, ctx: &Ctx) -> super::Result<ExitCode> {
    let repo = open_repo(ctx)?;
    let (name, backend) = open_remote(&repo, args.remote.as_deref(), ctx, &args.transfer)?;
    if let Some(code) = super::tlog_remote::refuse_split_views(&repo, backend.as_ref(), ctx)? {
        return Ok(code);
    }
    let bar = Bar::new(&ctx.out, "pull");
    let report = sync::pull(
        &repo,
        &name,
        backend.as_ref(),
        &args.anchors.with(
            ctx,
            args.take.with(options_for(&repo, &name, &args.transfer)),
        )?,
        &bar,
        interrupt_flag(),
    )?;
    bar.finish();
    let notes = super::tlog_remote::fetch_notes(&repo, backend.as_ref(), args.take.dry_run)?;
    render_pull(ctx, &report, &notes)
}

fn render_pull(
    ctx: &Ctx,
    report: &sync::PullReport,
    notes: &msez::tlog::travel::Moved,
) -> super::Result<ExitCode> {
    for w in &report.warnings {
        ctx.out.note(format!("warning: {w}"));
    }
    let shown = super::tlog_remote::WithNotes { report, notes };
    written(ctx.out.confirm(&with_traffic(&shown, ctx), |w| {
        render_fetch(w, &report.fetch)?;
        super::tlog_remote::render_notes(w, notes, "stored")?;
        for m in &report.refs_moved {
            writeln!(w, "  {} {} -> {}", m.name, short(&m.old), &m.new[..12])?;
        }
        for r in &report.resolved {
            writeln!(
                w,
                "  {} adopted the branch a resolution chose at sequence {} ({}; ours kept under forks/)",
                r.chain, r.sequence, r.credential
            )?;
        }
        for d in &report.diverged {
            writeln!(
                w,
                "  ! {} diverged: local {} remote {} (kept in {})",
                d.name,
                &d.local[..12],
                &d.remote[..12],
                d.tracking
            )?;
        }
        Ok(())
    }))?;
    if !report.fetch.refused.is_empty() {
        ctx.out.note(format!(
            "msez: {} remote chain ref(s) left the history we tracked (rolled back or forked); \
             local refs unchanged",
            report.fetch.refused.len()
        ));
    }
    if !report.diverged.is_empty() {
        ctx.out.note(format!(
            "msez: {} ref(s) diverged from the remote; both kept",
            report.diverged.len()
        ));
    }
    if !report.diverged.is_empty() || !report.fetch.refused.is_empty() {
        return Ok(ExitCode::from(msez::Class::Fork.exit_code()));
    }
    Ok(ExitCode::from(dangling_code(&report.fetch)))
}

/// init + remote origin + fetch + local refs.
pub fn clone(args: CloneArgs, ctx: &Ctx) -> super::Result<ExitCode> {
    let url = Url::parse(&args.url, &ctx.cwd)?;
    let dir = match &args.directory {
        Some(d) => ctx.path(d),
        None => ctx.cwd.join(url.default_dir_name()),
    };
    notify_progress(ctx);
    let origin = args.s3.clone().entry(url.to_string())?;
    let settings = remote::aws::Settings::from_config(&origin)?;
    let backend = args.transfer.paced(remote::open_with(
        &url,
        args.transfer.options().retry,
        &settings,
    )?);
    // A dry run clones into a scratch directory that goes away: the closure walk needs a
    // repository, and nothing is downloaded but the JSON objects on it.
    let scratch = match args.take.dry_run {
        true => Some(
            tempfile::tempdir()
                .map_err(|e| msez::Error::io("creating", "a scratch directory", e))?,
        ),
        false => None,
    };
    let dir = match &scratch {
        Some(t) => t.path().join("clone"),
        None => dir,
    };
    let bar = Bar::new(&ctx.out, "clone");
    let (mut repo, report) = sync::clone(
        &url,
        backend.as_ref(),
        &dir,
        SAMPLE_HOOKS,
        &args
            .anchors
            .with(ctx, args.take.with(args.transfer.options()))?,
        &bar,
        interrupt_flag(),
    )?;
    bar.finish();
    // The settings that reached the remote are origin's from now on (as `remote add` keeps
    // them), so push and fetch in the clone need no flags.
    let mut config = repo.config().clone();
    config.remote.insert("origin".to_string(), origin);
    repo.save_config(config)?;
    if scratch.is_none() {
        ctx.out
            .note(format!("cloned {url} into {}", repo.worktree().display()));
    }
    let notes = super::tlog_remote::fetch_notes(&repo, backend.as_ref(), args.take.dry_run)?;
    render_pull(ctx, &report, &notes)
}
