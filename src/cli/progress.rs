//! Progress bars on stderr (indicatif), only when the output policy allows them.

use indicatif::{ProgressBar, ProgressStyle};

use super::Out;

/// A progress bar that draws only on a terminal and never with `--quiet`/`--json`.
pub struct Bar(Option<ProgressBar>);

impl Bar {
    /// A bar counting `unit`s with a `message`.
    pub fn new(out: &Out, message: &'static str) -> Bar {
        if !out.progress {
            return Bar(None);
        }
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("{msg:>10} [{bar:30}] {pos}/{len} ({per_sec}, {eta})")
                .expect("the template is valid")
                .progress_chars("=> "),
        );
        bar.set_message(message);
        Bar(Some(bar))
    }

    /// Clears the bar.
    pub fn finish(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

impl msez::progress::Progress for Bar {
    fn set_total(&self, total: u64) {
        if let Some(b) = &self.0 {
            b.set_length(total);
        }
    }

    fn inc(&self, n: u64) {
        if let Some(b) = &self.0 {
            b.inc(n);
        }
    }
}
