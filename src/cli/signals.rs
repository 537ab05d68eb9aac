//! Ctrl-C: exit 130 (128 + SIGINT, as shells report it) and leave nothing half-written.
//!
//! Every command starts with a handler that ends the process at once with 130: a write is
//! published by renames and a ref move at its very end (objects and working-tree files are
//! staged unnamed or in `.msez/tmp` until then, see `odb::Batch`), so stopping anywhere before
//! that leaves only staging that `fsck` sweeps, exactly as a crash would. Commands that stop
//! at safe points themselves (fsck, push, fetch, pull, clone) replace it with a flag they poll
//! (`repo::interrupt_flag`); main then exits 130 when they return.

/// The exit status of an interrupted command.
pub const EXIT_INTERRUPTED: u8 = 130;

extern "C" fn on_interrupt(_: libc::c_int) {
    const MSG: &[u8] = b"msez: interrupted (Ctrl-C)\n";
    // Only async-signal-safe calls here: write(2) and _exit(2).
    // SAFETY: MSG is a static buffer of MSG.len() bytes; both calls are async-signal-safe.
    unsafe {
        libc::write(2, MSG.as_ptr().cast(), MSG.len());
        libc::_exit(EXIT_INTERRUPTED as libc::c_int);
    }
}

/// Installs the exit-at-once handler (a process that ignores SIGINT, started in the
/// background by a shell, keeps ignoring it).
pub fn install() {
    // SAFETY: `old` is a zeroed sigaction (valid: plain data) the query fills; the handler
    // installed is an `extern "C" fn(c_int)` that only makes async-signal-safe calls.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(libc::SIGINT, std::ptr::null(), &mut old) == 0
            && old.sa_sigaction == libc::SIG_IGN
        {
            return;
        }
        libc::signal(
            libc::SIGINT,
            on_interrupt as *const () as libc::sighandler_t,
        );
    }
}

/// Whether a command that polls the flag was interrupted.
pub fn interrupted() -> bool {
    super::repo::interrupt_flag_set()
}
