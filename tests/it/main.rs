//! Integration tests: the real `msez` binary against real files, in temp repositories.

// Fixtures are written, and damaged, with plain std::fs on purpose: the one write protocol
// (src/fs.rs, clippy.toml) binds the crate, not the files its tests forge.
#![allow(clippy::disallowed_methods)]

mod adversary_bytes;
mod adversary_sync;
mod anchor;
mod append_txn;
mod audit;
mod bundle;
mod canon_stream;
mod canon_vectors;
mod car;
mod chain;
mod checkout_corridor;
mod checkpoint_txn;
mod concurrency;
mod corridor;
mod crash;
mod docs_run;
mod examples;
mod fork_checkpoint;
mod forks;
mod fsck_damage;
mod fsck_module_files;
mod gc;
mod generate;
mod harbor;
mod keys;
mod limits;
mod mmr_cli;
mod mount;
mod mount_view;
mod odb;
mod one_contract;
mod pictures;
mod porcelain;
mod remote;
mod remote_irregular;
mod repack;
mod retry;
mod s3_resume;
mod storage;
mod strict_equiv;
mod tlog;
mod tlog_cosig_travel;
mod tlog_notes;
mod tlog_policy;
mod tlog_publish_memory;
mod tlog_remote;
mod tlog_requests;
mod tlog_travel;
mod transfer;
mod unsigned_checkpoint;
mod util;
mod vc_cli;
mod vc_verdict;
mod vectors;
mod verdicts;
mod verdicts_more;
mod verify_stream;
