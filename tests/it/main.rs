//! Integration tests: the real `msez` binary against real files, in temp repositories.

mod anchor;
mod bundle;
mod canon_vectors;
mod chain;
mod corridor;
mod crash;
mod examples;
mod forks;
mod generate;
mod harbor;
mod limits;
mod mount;
mod odb;
mod remote;
mod util;
