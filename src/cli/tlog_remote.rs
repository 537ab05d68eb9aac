//! What the remote tools (`gc --remote`, `fsck --remote`) add about the logs published under a
//! remote's `tlog/` (docs/tlog.md, "Static tiles").

use msez::tlog::published::{self, Log};
use msez::verdict::Item;

/// A report with the published logs beside its own fields.
#[derive(serde::Serialize)]
pub struct WithLogs<'a, T: serde::Serialize> {
    #[serde(flatten)]
    pub report: &'a T,
    /// The logs under `tlog/`.
    pub published_logs: &'a [Log],
}

/// Checks the published logs of `backend` for `fsck --remote`: their findings join the
/// report's problems (so its verdict and exit code), and `tlog` is added to its JSON.
pub fn fsck(
    backend: &dyn msez::remote::Backend,
    problems: &mut Vec<msez::taxonomy::Finding>,
) -> super::Result<serde_json::Value> {
    let checked = published::check(backend)?;
    problems.extend(checked.problems.iter().cloned());
    let findings: Vec<Item> = checked.problems.iter().cloned().map(Into::into).collect();
    Ok(serde_json::json!({
        "logs": checked.logs,
        "tiles_checked": checked.tiles_checked,
        "findings": findings,
    }))
}
