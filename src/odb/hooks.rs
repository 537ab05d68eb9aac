//! Hooks: `.msez/hooks/<event>` executables run on repository events.
//!
//! Interface (docs/hooks.md): environment `MSEZ_DIR`, `MSEZ_EVENT`, `MSEZ_REF`, `MSEZ_OLD`,
//! `MSEZ_NEW`, `MSEZ_REASON`; working directory = the work tree; no stdin; a timeout from
//! `hooks.timeout_seconds`. A pre-event hook that exits non-zero aborts the operation before
//! anything is written; a post-event hook's failure is reported, never undone.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{Error, Repo};

/// A repository event that runs a hook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// Before a ref moves (under its lock, after the compare-and-swap check).
    PreRefUpdate,
    /// After a ref moved.
    PostRefUpdate,
    /// Before a receipt is appended.
    PreAppend,
    /// After a receipt was appended.
    PostAppend,
    /// After a checkpoint was written.
    PostCheckpoint,
    /// Before a push.
    PrePush,
    /// After a pull.
    PostPull,
}

impl Event {
    /// The hook file name.
    pub fn name(self) -> &'static str {
        match self {
            Event::PreRefUpdate => "pre-ref-update",
            Event::PostRefUpdate => "post-ref-update",
            Event::PreAppend => "pre-append",
            Event::PostAppend => "post-append",
            Event::PostCheckpoint => "post-checkpoint",
            Event::PrePush => "pre-push",
            Event::PostPull => "post-pull",
        }
    }

    /// Whether a failure of this hook aborts the operation.
    pub fn is_pre(self) -> bool {
        matches!(
            self,
            Event::PreRefUpdate | Event::PreAppend | Event::PrePush
        )
    }
}

/// What a hook is told about the event.
#[derive(Clone, Debug, Default)]
pub struct HookEnv<'a> {
    /// `MSEZ_REF`.
    pub ref_name: &'a str,
    /// `MSEZ_OLD` (empty when the ref did not exist).
    pub old: String,
    /// `MSEZ_NEW`.
    pub new: String,
    /// `MSEZ_REASON`.
    pub reason: &'a str,
}

impl Repo {
    /// Runs the hook for `event`, if one is installed. A pre-hook's failure is an error; a
    /// post-hook's failure is returned as `Ok(Some(message))` for the caller to report.
    pub fn run_hook(&self, event: Event, env: &HookEnv<'_>) -> Result<Option<String>, Error> {
        let path = self.dir().join("hooks").join(event.name());
        let Ok(meta) = std::fs::metadata(&path) else {
            return Ok(None);
        };
        if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
            return Ok(None);
        }
        let mut child = Command::new(&path)
            .current_dir(self.worktree())
            .env("MSEZ_DIR", self.dir())
            .env("MSEZ_EVENT", event.name())
            .env("MSEZ_REF", env.ref_name)
            .env("MSEZ_OLD", &env.old)
            .env("MSEZ_NEW", &env.new)
            .env("MSEZ_REASON", env.reason)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::io("running hook", &path, e))?;
        let deadline = Instant::now() + Duration::from_secs(self.config().hooks.timeout_seconds);
        let status = loop {
            match child
                .try_wait()
                .map_err(|e| Error::io("waiting for hook", &path, e))?
            {
                Some(status) => break Some(status),
                None if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
                None => std::thread::sleep(Duration::from_millis(5)),
            }
        };
        let mut stderr = String::new();
        if let Some(mut pipe) = child.stderr.take() {
            let _ = pipe.read_to_string(&mut stderr);
        }
        let failure = match status {
            Some(s) if s.success() => return Ok(None),
            Some(s) => s.to_string(),
            None => format!("timed out after {}s", self.config().hooks.timeout_seconds),
        };
        if event.is_pre() {
            Err(Error::HookRejected {
                event: event.name(),
                status: failure,
                stderr,
            })
        } else {
            Ok(Some(format!(
                "hook {} failed ({failure}): {}",
                event.name(),
                stderr.trim()
            )))
        }
    }
}
