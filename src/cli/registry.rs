//! `msez registry transition-types lock|verify`: the pinned transition-type lock (§10.2).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use msez::chain::transition_types::{self, Lock};

use super::state::{read_json, timestamp};
use super::{Ctx, written};

/// `msez registry` subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The transition-type registry and its lock.
    #[command(subcommand)]
    TransitionTypes(TransitionTypes),
}

/// `msez registry transition-types` subcommands.
#[derive(Debug, Subcommand)]
pub enum TransitionTypes {
    /// Snapshot a registry into its lock (default: REGISTRY with suffix .lock.json).
    ///
    /// Example: msez registry transition-types lock registries/transition-types.yaml
    Lock {
        /// The registry (YAML or JSON).
        registry: PathBuf,
        /// Write the lock here.
        #[arg(long)]
        out: Option<PathBuf>,
        /// generated_at (default: now, or SOURCE_DATE_EPOCH); outside the digest.
        #[arg(long)]
        timestamp: Option<String>,
    },
    /// Check a lock (schema, tag, digest) and that it is the snapshot of the registry.
    ///
    /// Given a *.lock.json instead of a registry, only the lock itself is checked.
    Verify {
        /// The registry (or a lock file).
        registry: PathBuf,
        /// The lock (default: REGISTRY with suffix .lock.json).
        #[arg(long)]
        lock: Option<PathBuf>,
    },
}

/// Runs one `msez registry` subcommand.
pub fn run(command: Command, ctx: &Ctx) -> super::Result<ExitCode> {
    match command {
        Command::TransitionTypes(TransitionTypes::Lock {
            registry,
            out,
            timestamp: ts,
        }) => {
            let registry = ctx.path(&registry);
            let out = out
                .map(|p| ctx.path(&p))
                .unwrap_or_else(|| transition_types::default_lock_path(&registry));
            let dir = out.parent().unwrap_or(Path::new("."));
            let doc = Lock::build(&registry, dir, &timestamp(ts))?;
            msez::chain::module::write_pretty(&out, &doc)?;
            let lock = Lock::from_value(&doc, &out)?;
            // Receipts name the lock by its snapshot digest: keep it resolvable in `.msez`.
            if let Some(repo) = msez::odb::Repo::find(dir)? {
                let t = msez::artifact::ArtifactType::new("transition-types").expect("valid type");
                repo.put_json(&t, &doc)?;
            }
            let value = serde_json::json!({"path": out, "snapshot_digest_sha256": lock.digest,
                "kinds": kinds(&lock)});
            written(ctx.out.emit(&value, |w| {
                writeln!(w, "transition-types:{} {}", lock.digest, out.display())
            }))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::TransitionTypes(TransitionTypes::Verify { registry, lock }) => {
            let registry = ctx.path(&registry);
            let is_lock =
                lock.is_none() && read_json(&registry).is_ok_and(|v| v.get("snapshot").is_some());
            let lock_path = match (&lock, is_lock) {
                (Some(l), _) => ctx.path(l),
                (None, true) => registry.clone(),
                (None, false) => transition_types::default_lock_path(&registry),
            };
            let lock = Lock::load(&lock_path)?;
            if !is_lock {
                let dir = lock_path.parent().unwrap_or(Path::new("."));
                let fresh = Lock::from_value(&Lock::build(&registry, dir, "")?, &registry)?;
                if fresh.digest != lock.digest {
                    return Err(msez::chain::Error::PinMismatch {
                        what: "transition-types lock (stale: the registry changed)",
                        path: lock_path,
                        expected: fresh.digest.to_hex(),
                        found: lock.digest.to_hex(),
                    }
                    .into());
                }
            }
            let value = serde_json::json!({"ok": true, "lock": lock_path,
                "snapshot_digest_sha256": lock.digest, "kinds": kinds(&lock)});
            written(ctx.out.emit(&value, |w| {
                writeln!(
                    w,
                    "OK: transition-types:{} ({})",
                    lock.digest,
                    lock_path.display()
                )
            }))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn kinds(lock: &Lock) -> Vec<String> {
    lock.snapshot
        .get("transition_types")
        .and_then(|t| t.as_array())
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.get("kind").and_then(|k| k.as_str()).map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}
