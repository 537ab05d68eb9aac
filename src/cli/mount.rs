//! `msez mount`: a repository or a remote as a read-only directory.

use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use clap::Args as ClapArgs;
use serde::Serialize;

use msez::mount::{self, fs::Fs};

use super::{Ctx, Result, written};

/// `msez mount SOURCE MOUNTPOINT`.
#[derive(Debug, ClapArgs)]
pub struct Args {
    /// A repository, a witness bundle (a zip file, or an http:// or https:// URL read with range
    /// requests; SSL_CERT_FILE names extra trusted CAs), or a remote URL (directory, s3://,
    /// ipfs://).
    pub source: String,
    /// An existing directory to mount on.
    pub mountpoint: PathBuf,
    /// Stay in the foreground; Ctrl-C or SIGTERM unmounts.
    #[arg(long)]
    pub foreground: bool,
}

#[derive(Serialize)]
struct Mounted {
    source: String,
    mountpoint: PathBuf,
    pid: u32,
    unmount: String,
}

/// The variable a background mount hands the source to its `--foreground` child in: the
/// child's command line (world-readable) carries the redacted form only.
const SOURCE_VAR: &str = "MSEZ_MOUNT_SOURCE";

/// How long a background mount may take to appear.
const MOUNT_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs `msez mount`.
pub fn run(args: Args, ctx: &Ctx) -> Result {
    let mountpoint = ctx.path(&args.mountpoint);
    mount::check_mountpoint(&mountpoint)?;
    if mount::is_mounted(&mountpoint) {
        return Err(msez::Error::Usage(format!(
            "{} is already a mountpoint (unmount it first: fusermount3 -u {})",
            mountpoint.display(),
            mountpoint.display()
        )));
    }
    let shown = msez::remote::Url::redact(&args.source);
    let source = match std::env::var(SOURCE_VAR) {
        Ok(s) if args.foreground && msez::remote::Url::redact(&s) == args.source => s,
        _ => args.source,
    };
    if args.foreground {
        foreground(&source, &shown, &mountpoint, ctx)
    } else {
        background(&source, &shown, &mountpoint, ctx)
    }
}

fn foreground(source: &str, shown: &str, mountpoint: &std::path::Path, ctx: &Ctx) -> Result {
    // Block the signals before fuser starts its threads, so all of them leave the signals to
    // the wait below.
    // SAFETY: `set` is a zeroed sigset_t (a plain bit set) initialized by sigemptyset before
    // use; every pointer passed is to this live local or null where the call allows it.
    let signals = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGHUP);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    };
    let view = mount::open_source(source, &ctx.cwd)?;
    let verbose = ctx.out.verbose;
    let fs = Fs::new(
        view,
        Box::new(move |path, e| {
            // The kernel only passes an errno on: say what it was about here.
            if verbose || msez::Classify::class(e) != msez::Class::Io {
                eprintln!("msez mount: {path}: {e}");
            }
        }),
    );
    let session = mount::fs::spawn(fs, mountpoint, &format!("msez:{source}"))?;
    ctx.out.note(format!(
        "mounted {shown} at {} (Ctrl-C or `fusermount3 -u {}` unmounts)",
        mountpoint.display(),
        mountpoint.display()
    ));
    loop {
        let timeout = libc::timespec {
            tv_sec: 0,
            tv_nsec: 200_000_000,
        };
        // SAFETY: `signals` and `timeout` are live locals; a null siginfo is allowed.
        let got = unsafe { libc::sigtimedwait(&signals, std::ptr::null_mut(), &timeout) };
        if got > 0 {
            ctx.out.note(format!(
                "msez mount: signal {got}: unmounting {}",
                mountpoint.display()
            ));
            session
                .umount_and_join()
                .map_err(|e| msez::Error::io("unmounting", mountpoint, e))?;
            break;
        }
        if session.guard.is_finished() {
            // Unmounted from outside (fusermount3 -u): the session is over. Dropping it would
            // unmount the mountpoint *by path* once more, and by then a new mount may sit there.
            ctx.out.note(format!(
                "msez mount: {} is no longer mounted",
                mountpoint.display()
            ));
            std::mem::forget(session);
            break;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn background(source: &str, shown: &str, mountpoint: &std::path::Path, ctx: &Ctx) -> Result {
    // Open it here first, so a source that cannot be shown (a hostile bundle, a bad URL) fails
    // with its own class and message rather than as a mount that never appeared.
    drop(mount::open_source(source, &ctx.cwd)?);
    let exe = std::env::current_exe().map_err(|e| msez::Error::io("finding", "msez", e))?;
    let log = tempfile::Builder::new()
        .prefix("msez-mount-")
        .suffix(".log")
        .tempfile()
        .map_err(|e| msez::Error::io("creating a log in", std::env::temp_dir(), e))?;
    let stderr = log
        .reopen()
        .map_err(|e| msez::Error::io("opening", log.path(), e))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("-C")
        .arg(&ctx.cwd)
        .args(["mount", "--foreground"])
        .arg(shown)
        .env(SOURCE_VAR, source)
        .arg(mountpoint)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr);
    // Its own session: the mount outlives this command and the terminal's Ctrl-C.
    // SAFETY: the closure runs in the forked child before exec and calls only setsid(2),
    // which is async-signal-safe; it allocates nothing and touches no lock.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| msez::Error::io("starting", "msez mount --foreground", e))?;
    let deadline = Instant::now() + MOUNT_TIMEOUT;
    while !mount::is_mounted(mountpoint) {
        let exited = child
            .try_wait()
            .map_err(|e| msez::Error::io("waiting for", "msez mount", e))?;
        if exited.is_some() || Instant::now() > deadline {
            let _ = child.kill();
            let how = match exited {
                Some(status) => format!("the mount process exited ({status})"),
                None => format!("not mounted after {} s", MOUNT_TIMEOUT.as_secs()),
            };
            let why = std::fs::read_to_string(log.path()).unwrap_or_default();
            return Err(msez::Error::Usage(format!(
                "mount of {shown} at {} failed: {how}: {}",
                mountpoint.display(),
                why.trim()
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mounted = Mounted {
        source: shown.to_string(),
        mountpoint: mountpoint.to_path_buf(),
        pid: child.id(),
        unmount: format!("fusermount3 -u {}", mountpoint.display()),
    };
    written(ctx.out.emit(&mounted, |w| {
        writeln!(
            w,
            "mounted {} at {} (pid {}); unmount with: {}",
            mounted.source,
            mounted.mountpoint.display(),
            mounted.pid,
            mounted.unmount
        )
    }))?;
    Ok(ExitCode::SUCCESS)
}
