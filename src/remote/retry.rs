//! Retries with exponential backoff for transient transport failures.

use std::time::Duration;

use super::Error;

/// How often and how patiently a transfer is retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retry {
    /// Attempts after the first one.
    pub retries: u32,
    /// The first backoff; each later one doubles.
    pub backoff: Duration,
    /// Give up on one request after this long (S3 client).
    pub timeout: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        // Short on purpose: a dead endpoint should fail a push in seconds, not minutes.
        Retry {
            retries: 3,
            backoff: Duration::from_millis(100),
            timeout: Duration::from_secs(30),
        }
    }
}

impl Retry {
    /// Runs `op` until it succeeds, fails for a non-transient reason, or retries run out.
    pub fn run<T>(&self, mut op: impl FnMut() -> Result<T, Error>) -> Result<T, Error> {
        let mut delay = self.backoff;
        let mut attempt = 0;
        loop {
            match op() {
                Err(e) if e.is_transient() && attempt < self.retries => {
                    attempt += 1;
                    std::thread::sleep(delay);
                    delay = delay.saturating_mul(2);
                }
                other => return other,
            }
        }
    }
}
