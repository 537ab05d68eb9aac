//! Whole-repository check.
