//! Progress reporting for long operations; the CLI draws it, the library only counts.

/// Receives progress from a long operation.
pub trait Progress: Sync {
    /// The total amount of work, when known.
    fn set_total(&self, _total: u64) {}
    /// `n` more units done.
    fn inc(&self, _n: u64) {}
    /// Whether anyone looks: a total that costs work to compute is worth it only then.
    fn shown(&self) -> bool {
        false
    }
    /// The bytes the operation moves in all, when it moves bytes and knows how many.
    fn set_bytes_total(&self, _total: u64) {}
    /// `n` more bytes moved.
    fn inc_bytes(&self, _n: u64) {}
}

/// Reports nothing.
pub struct Silent;

impl Progress for Silent {}
