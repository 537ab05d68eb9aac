//! Progress bars on stderr (indicatif), only when the output policy allows them.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use indicatif::{ProgressBar, ProgressState, ProgressStyle};

use super::Out;

/// A progress bar that draws only on a terminal and never with `--quiet`/`--json`. It counts
/// units (objects, receipts) until the operation says how many bytes it moves; then it shows
/// bytes with their rate and ETA, and the units beside them.
pub struct Bar {
    bar: Option<ProgressBar>,
    bytes: AtomicBool,
    done: AtomicU64,
    total: AtomicU64,
}

/// A rate with one decimal at most (indicatif's `{per_sec}` prints four).
fn rate(state: &ProgressState, w: &mut dyn std::fmt::Write) {
    let r = state.per_sec();
    let _ = if r >= 10.0 {
        write!(w, "{r:.0}/s")
    } else {
        write!(w, "{r:.1}/s")
    };
}

impl Bar {
    /// A bar counting `unit`s with a `message`.
    pub fn new(out: &Out, message: &'static str) -> Bar {
        let bar = out.progress.then(|| {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template("{msg:>10} [{bar:30}] {pos}/{len} ({rate}, {eta})")
                    .expect("the template is valid")
                    .with_key("rate", rate)
                    .progress_chars("=> "),
            );
            bar.set_message(message);
            bar
        });
        Bar {
            bar,
            bytes: AtomicBool::new(false),
            done: AtomicU64::new(0),
            total: AtomicU64::new(0),
        }
    }

    /// Clears the bar.
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }

    fn units(&self, b: &ProgressBar) {
        let (done, total) = (
            self.done.load(Ordering::Relaxed),
            self.total.load(Ordering::Relaxed),
        );
        b.set_prefix(format!("{done}/{total} objects"));
    }
}

impl msez::progress::Progress for Bar {
    fn shown(&self) -> bool {
        self.bar.is_some()
    }

    fn set_total(&self, total: u64) {
        self.total.store(total, Ordering::Relaxed);
        if let Some(b) = &self.bar {
            match self.bytes.load(Ordering::Relaxed) {
                true => self.units(b),
                false => b.set_length(total),
            }
        }
    }

    fn inc(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
        if let Some(b) = &self.bar {
            match self.bytes.load(Ordering::Relaxed) {
                true => self.units(b),
                false => b.inc(n),
            }
        }
    }

    fn set_bytes_total(&self, total: u64) {
        self.bytes.store(true, Ordering::Relaxed);
        if let Some(b) = &self.bar {
            b.set_style(
                ProgressStyle::with_template(
                    "{msg:>10} [{bar:30}] {binary_bytes}/{binary_total_bytes} {prefix} \
                     ({binary_bytes_per_sec}, {eta})",
                )
                .expect("the template is valid")
                .progress_chars("=> "),
            );
            b.set_length(total);
            b.set_position(0);
            self.units(b);
        }
    }

    fn inc_bytes(&self, n: u64) {
        if let (Some(b), true) = (&self.bar, self.bytes.load(Ordering::Relaxed)) {
            b.inc(n);
        }
    }
}
