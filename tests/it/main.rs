//! Integration tests: the real `msez` binary against real files, in temp repositories.

mod adversary_bytes;
mod adversary_sync;
mod anchor;
mod bundle;
mod canon_vectors;
mod car;
mod chain;
mod concurrency;
mod corridor;
mod crash;
mod examples;
mod forks;
mod fsck_damage;
mod gc;
mod generate;
mod harbor;
mod keys;
mod limits;
mod mount;
mod odb;
mod porcelain;
mod remote;
mod util;
mod vectors;
