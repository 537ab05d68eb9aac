//! Integration tests: the real `msez` binary against real files, in temp repositories.

mod canon_vectors;
mod chain;
mod corridor;
mod examples;
mod forks;
mod keys;
mod odb;
mod remote;
mod util;
