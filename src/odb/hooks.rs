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
    /// Whether an executable hook for `event` is installed.
    pub fn has_hook(&self, event: Event) -> bool {
        let path = self.dir().join("hooks").join(event.name());
        std::fs::metadata(&path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }

    /// Runs the hook for `event`, if one is installed. A pre-hook's failure is an error; a
    /// post-hook's failure is returned as `Ok(Some(message))` for the caller to report.
    ///
    /// The hook runs in a process group of its own; at the deadline the whole group is killed,
    /// so a child the hook started (`sleep 30 &`, a pipeline) cannot hold the ref lock past the
    /// timeout. Its stderr is read by a thread until every holder closes it or the deadline.
    pub fn run_hook(&self, event: Event, env: &HookEnv<'_>) -> Result<Option<String>, Error> {
        use std::os::unix::process::CommandExt;
        let path = self.dir().join("hooks").join(event.name());
        if !self.has_hook(event) {
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
            .process_group(0)
            .spawn()
            .map_err(|e| Error::io("running hook", &path, e))?;
        let group = libc::pid_t::try_from(child.id()).unwrap_or(0);
        let kill_group = || {
            if group > 0 {
                // SAFETY: kill(2) takes no pointers; a negative pid names the hook's own
                // process group (made by `process_group(0)` above), nothing else.
                unsafe {
                    libc::kill(-group, libc::SIGKILL);
                }
            }
        };
        // Read stderr aside: a full pipe must not stall the hook, and a child that keeps it
        // open must not stall us past the deadline.
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        if let Some(mut pipe) = child.stderr.take() {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let _ = (&mut pipe).take(STDERR_MAX).read_to_end(&mut buf);
                // Drain the rest so the writer never blocks on a full pipe.
                let _ = std::io::copy(&mut pipe, &mut std::io::sink());
                let _ = done_tx.send(buf);
            });
        } else {
            let _ = done_tx.send(Vec::new());
        }
        let timeout = self.config().hooks.timeout_seconds;
        let deadline = Instant::now() + Duration::from_secs(timeout);
        let status = loop {
            match child
                .try_wait()
                .map_err(|e| Error::io("waiting for hook", &path, e))?
            {
                Some(status) => break Some(status),
                None if Instant::now() >= deadline => {
                    kill_group();
                    let _ = child.wait();
                    break None;
                }
                None => std::thread::sleep(Duration::from_millis(5)),
            }
        };
        let wait = deadline.saturating_duration_since(Instant::now());
        let stderr = match done_rx.recv_timeout(wait) {
            Ok(buf) => buf,
            Err(_) => {
                // A child outlived the hook holding its stderr: it dies with the group.
                kill_group();
                done_rx
                    .recv_timeout(Duration::from_millis(200))
                    .unwrap_or_default()
            }
        };
        let stderr = String::from_utf8_lossy(&stderr).into_owned();
        let failure = match status {
            Some(s) if s.success() => return Ok(None),
            Some(s) => s.to_string(),
            None => format!("timed out after {timeout}s"),
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

/// The bytes of a hook's stderr kept for the error message.
const STDERR_MAX: u64 = 64 * 1024;
