//! Repository porcelain and plumbing: init, update-ref, refs, show, reflog, fsck.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use msez::artifact::{ArtifactType, ObjectId};
use msez::canon::Digest;
use msez::chain::names;
use msez::fsck;
use msez::odb::{Expect, RefName, Repo, ref_object_type};

use super::progress::Bar;
use super::{Ctx, written};

/// The sample hooks `msez init` installs as `.msez/hooks/<name>.sample`.
pub const SAMPLE_HOOKS: &[(&str, &str)] = &[
    ("pre-push", include_str!("../../hooks/pre-push")),
    ("pre-ref-update", include_str!("../../hooks/pre-ref-update")),
    (
        "post-ref-update",
        include_str!("../../hooks/post-ref-update"),
    ),
];

/// `msez init [DIR]`.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Where to create `.msez` (default: the working directory).
    pub dir: Option<PathBuf>,
}

/// `msez update-ref REF NEW [--old OLD]`.
#[derive(Debug, clap::Args)]
pub struct UpdateRefArgs {
    /// The ref, e.g. `refs/assets/<asset_id>/core/head` (the `refs/` prefix is optional).
    pub name: String,
    /// The new value: a digest or `TYPE:DIGEST` of a stored object.
    pub new: String,
    /// Move only if the ref holds this digest now (`none`: only if it does not exist).
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
    /// `TYPE:DIGEST` or a ref (`assets/<asset_id>/core/head`).
    pub object: String,
}

/// `msez reflog REF`.
#[derive(Debug, clap::Args)]
pub struct ReflogArgs {
    /// The ref.
    pub name: String,
}

/// `msez fsck [--strict] [--quick] [--connectivity-only] [--grace DURATION] [--remote NAME]`.
#[derive(Debug, clap::Args)]
pub struct FsckArgs {
    /// Also verify every proof of every object (with --remote: every signature).
    #[arg(long)]
    pub strict: bool,
    /// Trust object files whose blake3 checksum matches .msez/index (fast path); with
    /// --remote: check the listings and only a sample of content.
    #[arg(long)]
    pub quick: bool,
    /// Check only that refs point at stored objects.
    #[arg(long)]
    pub connectivity_only: bool,
    /// Leave temp files younger than this (e.g. 30m, 1h).
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    pub grace: std::time::Duration,
    /// Check the remote NAME instead, without cloning it (default: every object's digest and
    /// every chain link; --quick: listings and a sample; --strict: also every signature).
    #[arg(long, value_name = "NAME")]
    pub remote: Option<String>,
    #[command(flatten)]
    pub transfer: super::sync::Transfer,
}

/// Opens the repository enclosing the working directory (write commands need one).
pub fn open_repo(ctx: &Ctx) -> super::Result<Repo> {
    Ok(Repo::discover(&ctx.cwd)?)
}

/// Creates a repository.
pub fn init(args: InitArgs, ctx: &Ctx) -> super::Result<ExitCode> {
    let dir = args
        .dir
        .as_deref()
        .map(|d| ctx.path(d))
        .unwrap_or_else(|| ctx.cwd.clone());
    let repo = Repo::init(&dir, SAMPLE_HOOKS)?;
    let value =
        serde_json::json!({"repository": repo.dir(), "format_version": msez::odb::FORMAT_VERSION});
    written(ctx.out.confirm(&value, |w| {
        writeln!(
            w,
            "Initialized empty msez repository in {}",
            repo.dir().display()
        )
    }))?;
    Ok(ExitCode::SUCCESS)
}

/// Parses a `TYPE:DIGEST` argument, the digest in full or a unique prefix of at least 7 hex
/// among the stored objects of TYPE (an ambiguous one lists the candidates, 64): the one
/// place a typed object name is read. One that does not parse is a usage error (64),
/// whatever part of it is wrong.
pub fn object_arg(repo: &Repo, arg: &str) -> super::Result<ObjectId> {
    if let Ok(id) = arg.parse() {
        return Ok(id);
    }
    match arg.split_once(':') {
        Some((t, d)) if ArtifactType::new(t).is_ok() && names::is_prefix(d) => {
            Ok(names::object(repo, arg)?)
        }
        _ => Err(msez::artifact::Error::BadName {
            found: arg.to_string(),
        }
        .into()),
    }
}

/// Parses `TYPE:DIGEST`, a bare digest prefix (at least 7 hex, unique among every stored
/// object) or a ref into an object id (a ref's type comes from its namespace).
pub fn resolve_object(repo: &Repo, name: &str) -> super::Result<ObjectId> {
    if let Some((t, _)) = name.split_once(':') {
        if !t.contains('/') {
            return object_arg(repo, name);
        }
    }
    if names::is_prefix(name) || Digest::parse_loose(name).is_ok() {
        return Ok(names::object(repo, name)?);
    }
    let ref_name = RefName::new(name)?;
    let digest = repo
        .read_ref(&ref_name)?
        .ok_or_else(|| msez::odb::Error::MissingRef {
            name: ref_name.to_string(),
        })?;
    find_typed(repo, &ref_name, digest)
}

fn find_typed(repo: &Repo, name: &RefName, digest: Digest) -> super::Result<ObjectId> {
    if let Some(t) = ref_object_type(name) {
        return Ok(ObjectId::new(ArtifactType::new(t)?, digest));
    }
    repo.find_digest(digest)?.ok_or_else(|| {
        msez::odb::Error::Missing {
            object: format!("*:{digest} (from {name})"),
        }
        .into()
    })
}

/// Moves a ref under its lock.
pub fn update_ref(args: UpdateRefArgs, ctx: &Ctx) -> super::Result<ExitCode> {
    let repo = open_repo(ctx)?;
    let name = RefName::new(&args.name)?;
    let new = match args.new.split_once(':') {
        Some(_) => {
            let id = object_arg(&repo, &args.new)?;
            if !repo.has(&id) {
                return Err(msez::odb::Error::Missing {
                    object: id.to_string(),
                }
                .into());
            }
            id.digest
        }
        None => {
            let digest = match ref_object_type(&name) {
                Some(t) => names::digest_of(&repo, &ArtifactType::new(t)?, &args.new)?,
                None => match Digest::parse_loose(&args.new) {
                    Ok(d) => d,
                    Err(_) => names::object(&repo, &args.new)?.digest,
                },
            };
            find_typed(&repo, &name, digest)?;
            digest
        }
    };
    let expect = match args.old.as_deref() {
        None => Expect::Any,
        Some("none" | "") => Expect::Absent,
        Some(s) if s.bytes().all(|b| b == b'0') => Expect::Absent,
        // A prefix of --old is taken against the ref's value (git's rule for short names).
        Some(s) if names::is_prefix(s) && s.len() < 64 => {
            let current = repo.read_ref(&name)?.map(|d| d.to_hex());
            let found = names::unique(s, current.as_deref(), "value of that ref")?;
            Expect::Exactly(Digest::parse_loose(&found)?)
        }
        Some(s) => Expect::Exactly(Digest::parse_loose(s)?),
    };
    let update = repo.update_ref(&name, new, expect, &args.reason)?;
    for w in &update.warnings {
        ctx.out.note(format!("warning: {w}"));
    }
    written(ctx.out.confirm(&update, |w| {
        let old = update
            .entry
            .old
            .map(|d| d.to_hex())
            .unwrap_or_else(|| "(none)".into());
        writeln!(w, "{name}: {old} -> {new}")
    }))?;
    Ok(ExitCode::SUCCESS)
}

/// Lists refs.
pub fn refs(_args: RefsArgs, ctx: &Ctx) -> super::Result<ExitCode> {
    let repo = open_repo(ctx)?;
    let refs = repo.refs()?;
    let value: serde_json::Map<String, serde_json::Value> = refs
        .iter()
        .map(|(n, d)| (n.to_string(), serde_json::Value::String(d.to_hex())))
        .collect();
    written(ctx.out.emit(&serde_json::json!({ "refs": value }), |w| {
        for (n, d) in &refs {
            writeln!(w, "{d} {n}")?;
        }
        Ok(())
    }))?;
    Ok(ExitCode::SUCCESS)
}

/// Shows one object: JSON with the union of its proofs, raw bytes as stored.
pub fn show(args: ShowArgs, ctx: &Ctx) -> super::Result<ExitCode> {
    let repo = open_repo(ctx)?;
    let id = resolve_object(&repo, &args.object)?;
    let object = repo.object(&id)?;
    match &object.value {
        Some(value) => {
            let doc =
                serde_json::json!({"id": id.to_string(), "path": object.path, "value": value});
            written(ctx.out.emit(&doc, |w| {
                serde_json::to_writer_pretty(&mut *w, value).map_err(std::io::Error::other)?;
                writeln!(w)
            }))?;
        }
        None if ctx.out.json => {
            let size = std::fs::metadata(&object.path)
                .map(|m| m.len())
                .unwrap_or(0);
            written(ctx.out.emit(
                &serde_json::json!({"id": id.to_string(), "path": object.path, "size": size}),
                |_| Ok(()),
            ))?;
        }
        None => {
            let stdout = std::io::stdout();
            repo.copy_raw(&id, &mut stdout.lock())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Shows a ref's moves, newest first.
pub fn reflog(args: ReflogArgs, ctx: &Ctx) -> super::Result<ExitCode> {
    let repo = open_repo(ctx)?;
    let name = RefName::new(&args.name)?;
    let mut entries = repo.reflog(&name)?;
    // A ref that never moved here does not exist: a misspelled name is not an empty log.
    if entries.is_empty() && repo.read_ref(&name)?.is_none() {
        return Err(msez::odb::Error::MissingRef {
            name: name.to_string(),
        }
        .into());
    }
    entries.reverse();
    written(
        ctx.out
            .emit(&serde_json::json!({"ref": name, "entries": entries}), |w| {
                for e in &entries {
                    let old = e.old.map(|d| d.to_hex()).unwrap_or_else(|| "0".repeat(64));
                    writeln!(w, "{} {old} -> {} {}", e.time, e.new, e.reason)?;
                }
                Ok(())
            }),
    )?;
    Ok(ExitCode::SUCCESS)
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_interrupt(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::Relaxed);
}

/// Whether Ctrl-C asked a command that polls [`interrupt_flag`] to stop.
pub fn interrupt_flag_set() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

/// Installs a Ctrl-C handler that asks long operations to stop at the next safe point.
pub fn interrupt_flag() -> &'static AtomicBool {
    // SAFETY: the handler is an `extern "C" fn(c_int)` that only stores to an atomic, which is
    // async-signal-safe.
    unsafe {
        libc::signal(
            libc::SIGINT,
            on_interrupt as *const () as libc::sighandler_t,
        );
    }
    &INTERRUPTED
}

/// Messages name on-disk and remote names: control characters are shown escaped, never sent
/// to the terminal.
fn printable(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let shown: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            shown
        })
        .collect()
}

/// Checks the repository.
pub fn fsck(args: FsckArgs, ctx: &Ctx) -> super::Result<ExitCode> {
    if let Some(name) = &args.remote {
        return fsck_remote(name, &args, ctx);
    }
    let repo = open_repo(ctx)?;
    let opts = fsck::Options {
        strict: args.strict,
        quick: args.quick,
        connectivity_only: args.connectivity_only,
        grace: args.grace,
    };
    let bar = Bar::new(&ctx.out, "fsck");
    let report = fsck::fsck(&repo, &opts, &bar, interrupt_flag())?;
    bar.finish();
    let value = with_verdict(
        &report,
        report.verdict(),
        report.findings(),
        report.exit_code(),
    );
    written(ctx.out.emit(&value, |w| {
        for p in &report.problems {
            writeln!(w, "{}: {}", p.class_name(), printable(&p.message))?;
        }
        for t in &report.temp_removed {
            writeln!(
                w,
                "removed stale temp file {}",
                printable(&t.display().to_string())
            )?;
        }
        if report.problems.is_empty() {
            writeln!(
                w,
                "ok: {} objects, {} proof files, {} refs",
                report.objects, report.proof_files, report.refs
            )?;
        }
        if report.read_only {
            writeln!(w, "read-only repository: nothing was written")?;
        }
        for n in &report.not_checked {
            writeln!(w, "not checked: {n}")?;
        }
        Ok(())
    }))?;
    Ok(ExitCode::from(report.exit_code()))
}

/// An fsck report as JSON with the verdict model's fields added (docs/verdicts.md): its own
/// fields are kept as they were.
fn with_verdict<T: serde::Serialize>(
    report: &T,
    verdict: msez::verdict::Verdict,
    findings: Vec<msez::verdict::Item>,
    exit_code: u8,
) -> serde_json::Value {
    let mut v = serde_json::to_value(report).unwrap_or_default();
    if let Some(m) = v.as_object_mut() {
        m.insert(
            "verdict".into(),
            serde_json::to_value(verdict).unwrap_or_default(),
        );
        m.insert(
            "findings".into(),
            serde_json::to_value(findings).unwrap_or_default(),
        );
        m.insert("exit_code".into(), exit_code.into());
    }
    v
}

/// `msez fsck --remote NAME [--quick | --strict]`: checks a remote without cloning it.
fn fsck_remote(name: &str, args: &FsckArgs, ctx: &Ctx) -> super::Result<ExitCode> {
    use msez::remote::fsck::{self as remote_fsck, Mode};
    let mode = match (args.quick, args.strict) {
        (true, true) => {
            return Err(msez::Error::Usage(
                "fsck --remote: --quick and --strict are different modes; pick one".into(),
            ));
        }
        (true, false) => Mode::Quick,
        (false, true) => Mode::Strict,
        (false, false) => Mode::Full,
    };
    if args.connectivity_only {
        return Err(msez::Error::Usage(
            "fsck --remote: --connectivity-only is for the local repository (--quick checks a remote's listings)".into(),
        ));
    }
    let repo = open_repo(ctx)?;
    let (_, backend) = super::sync::open_remote(&repo, Some(name), ctx, &args.transfer)?;
    let bar = Bar::new(&ctx.out, "fsck");
    let mut report = remote_fsck::fsck(
        backend.as_ref(),
        mode,
        &args.transfer.options(),
        &bar,
        interrupt_flag(),
    )?;
    let tlog = super::tlog_remote::fsck(backend.as_ref(), &mut report.problems)?;
    bar.finish();
    let mode_name = match mode {
        Mode::Quick => "quick",
        Mode::Full => "full",
        Mode::Strict => "strict",
    };
    let mut value = with_verdict(
        &super::sync::with_traffic(&report, ctx),
        report.verdict(),
        report.findings(),
        report.exit_code(),
    );
    value["tlog"] = tlog;
    written(ctx.out.emit(&value, |w| {
        for p in &report.problems {
            writeln!(w, "{}: {}", p.class_name(), printable(&p.message))?;
        }
        if let Some(logs) = value["tlog"]["logs"].as_array().filter(|l| !l.is_empty()) {
            writeln!(
                w,
                "published logs: {} ({} tiles checked)",
                logs.len(),
                value["tlog"]["tiles_checked"]
            )?;
        }
        if report.problems.is_empty() {
            writeln!(
                w,
                "ok: {} objects, {} proof files, {} refs on {} ({mode_name}: {} objects checked, {} receipts linked, {} proofs verified)",
                report.objects,
                report.proof_files,
                report.refs,
                printable(&backend.url()),
                report.objects_checked,
                report.receipts_linked,
                report.proofs_verified
            )?;
        }
        for n in &report.not_checked {
            writeln!(w, "not checked: {n}")?;
        }
        Ok(())
    }))?;
    Ok(ExitCode::from(report.exit_code()))
}
