//! What the remote tools add about transparency logs (docs/tlog.md): `fsck --remote` checks
//! the logs published under `tlog/` and the checkpoint notes under `notes/`; push, fetch,
//! pull and clone move checkpoint notes, and fetch and pull first refuse a remote whose notes
//! show a split view.

use msez::tlog::published;
use msez::verdict::Item;

/// Checks the published logs and the checkpoint notes of `backend` for `fsck --remote`: their
/// findings join the report's problems (so its verdict and exit code), and `tlog` is added to
/// its JSON.
pub fn fsck(
    backend: &dyn msez::remote::Backend,
    problems: &mut Vec<msez::taxonomy::Finding>,
) -> super::Result<serde_json::Value> {
    let checked = published::check(backend)?;
    let (notes_checked, note_problems) = msez::tlog::travel::check_remote(backend)?;
    let all: Vec<_> = checked
        .problems
        .iter()
        .chain(&note_problems)
        .cloned()
        .collect();
    problems.extend(all.iter().cloned());
    let findings: Vec<Item> = all.into_iter().map(Into::into).collect();
    Ok(serde_json::json!({
        "logs": checked.logs,
        "tiles_checked": checked.tiles_checked,
        "notes_checked": notes_checked,
        "findings": findings,
    }))
}

/// A sync report with the checkpoint notes moved beside its own fields.
#[derive(serde::Serialize)]
pub struct WithNotes<'a, T: serde::Serialize> {
    #[serde(flatten)]
    pub report: &'a T,
    /// What moving checkpoint notes did (docs/tlog.md, "Notes over push and fetch").
    pub notes: &'a msez::tlog::travel::Moved,
}

/// Sends the repository's checkpoint notes after a push (none on a dry run).
pub fn push_notes(
    repo: &msez::odb::Repo,
    backend: &dyn msez::remote::Backend,
    dry_run: bool,
) -> super::Result<msez::tlog::travel::Moved> {
    if dry_run {
        return Ok(Default::default());
    }
    Ok(msez::tlog::travel::push_notes(repo, backend)?)
}

/// Takes the remote's checkpoint notes after a fetch, pull or clone (none on a dry run).
pub fn fetch_notes(
    repo: &msez::odb::Repo,
    backend: &dyn msez::remote::Backend,
    dry_run: bool,
) -> super::Result<msez::tlog::travel::Moved> {
    if dry_run {
        return Ok(Default::default());
    }
    Ok(msez::tlog::travel::fetch_notes(repo, backend)?)
}

/// The text lines about checkpoint notes: how many moved, and each one not stored.
pub fn render_notes(
    w: &mut dyn std::io::Write,
    notes: &msez::tlog::travel::Moved,
    verb: &str,
) -> std::io::Result<()> {
    if notes.stored > 0 {
        writeln!(w, "  {} checkpoint note(s) {verb}", notes.stored)?;
    }
    for i in &notes.ignored {
        writeln!(
            w,
            "  ? checkpoint note {}: cosignature line not {verb} ({}): {}",
            msez::remote::layout::shown_key(&i.note.display().to_string()),
            i.why,
            msez::remote::layout::shown_key(&i.line)
        )?;
    }
    for r in &notes.rejected {
        writeln!(
            w,
            "  ! checkpoint note {} not stored ({}): {}",
            msez::remote::layout::shown_key(&r.key),
            r.finding.code,
            r.finding.message
        )?;
    }
    Ok(())
}

/// Refuses a fetch or pull whose remote shows a split view in its notes: a policy witness's
/// valid cosignature over another root of a chain here (exit 69, nothing fetched, the note
/// kept as evidence); None when there is none.
pub fn refuse_split_views(
    repo: &msez::odb::Repo,
    backend: &dyn msez::remote::Backend,
    ctx: &super::Ctx,
) -> super::Result<Option<std::process::ExitCode>> {
    let splits = msez::tlog::travel::split_views(repo, backend)?;
    if splits.is_empty() {
        return Ok(None);
    }
    let findings: Vec<Item> = splits
        .into_iter()
        .map(|s| {
            let e = msez::tlog::policy::Error::SplitView(Box::new(s));
            Item::from(msez::taxonomy::Finding::from_error(&e))
        })
        .collect();
    let code = msez::Class::Fork.exit_code();
    let value = serde_json::json!({
        "verdict": "invalid",
        "exit_code": code,
        "fetched": false,
        "findings": findings,
    });
    super::written(ctx.out.emit(&value, |w| {
        for f in &findings {
            writeln!(w, "! {}", f.finding.message)?;
        }
        writeln!(
            w,
            "nothing fetched: the remote shows another history that a witness of the chain's policy cosigned"
        )
    }))?;
    Ok(Some(std::process::ExitCode::from(code)))
}
