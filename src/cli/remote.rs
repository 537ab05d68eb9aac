//! `msez remote add|remove|list`: named remotes in `.msez/config` (`[remote.NAME] url`).

use std::process::ExitCode;

use clap::Subcommand;
use msez::odb::RemoteConfig;
use msez::remote::{self, Url};

use super::repo::open_repo;
use super::{Ctx, written};

/// `msez remote` subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Name a remote: a path or file:///path, s3://bucket/prefix, ipfs://HOST:PORT/NAME.
    ///
    /// Example: msez remote add origin s3://audit-bucket/msez
    Add {
        /// The name (letters, digits, '-', '_', '.'), e.g. `origin`.
        name: String,
        /// The URL.
        url: String,
    },
    /// Forget a remote (its remote-tracking refs stay until removed by hand).
    Remove {
        /// The name.
        name: String,
    },
    /// List remotes and their URLs.
    List,
}

/// Runs one `msez remote` subcommand.
pub fn run(command: Command, ctx: &Ctx) -> super::Result<ExitCode> {
    let mut repo = open_repo(ctx)?;
    let mut config = repo.config().clone();
    match command {
        Command::Add { name, url } => {
            remote::sync::check_remote_name(&name)?;
            // Parse now so a typo fails here, not on the first push; store what was typed,
            // made absolute for paths so `-C` and cwd changes do not move the remote.
            let parsed = Url::parse(&url, &ctx.cwd)?;
            if config.remote.contains_key(&name) {
                return Err(remote::Error::Name {
                    what: "there already is a",
                    name,
                }
                .into());
            }
            let url = parsed.to_string();
            config
                .remote
                .insert(name.clone(), RemoteConfig { url: url.clone() });
            repo.save_config(config)?;
            // A leftover record from an earlier remote of this name would skip real uploads.
            remote::sync::forget(&repo, &name)?;
            written(
                ctx.out
                    .emit(&serde_json::json!({"added": name, "url": url}), |w| {
                        writeln!(w, "{name}\t{url}")
                    }),
            )?;
        }
        Command::Remove { name } => {
            if config.remote.remove(&name).is_none() {
                return Err(remote::Error::Name {
                    what: "there is no",
                    name,
                }
                .into());
            }
            repo.save_config(config)?;
            remote::sync::forget(&repo, &name)?;
            written(ctx.out.emit(&serde_json::json!({"removed": name}), |w| {
                writeln!(w, "removed {name}")
            }))?;
        }
        Command::List => {
            // A config written by hand (or by an older msez) may hold credentials in a URL:
            // never show them.
            let remotes: serde_json::Map<String, serde_json::Value> = config
                .remote
                .iter()
                .map(|(n, r)| (n.clone(), serde_json::Value::String(Url::redact(&r.url))))
                .collect();
            written(ctx.out.emit(&serde_json::json!({"remotes": remotes}), |w| {
                for (n, r) in &config.remote {
                    writeln!(
                        w,
                        "{}\t{}",
                        msez::remote::layout::shown_key(n),
                        Url::redact(&r.url)
                    )?;
                }
                Ok(())
            }))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
