//! `msez remote [-v] | add|remove|list|show|rename|set-url` and `msez ls-remote`: named remotes
//! in `.msez/config` (`[remote.NAME] url`), as git names them.

use std::process::ExitCode;

use clap::Subcommand;
use msez::chain::store::ChainKey;
use msez::chain::tracking;
use msez::odb::{Config, RefName, RemoteConfig, Repo};
use msez::remote::{self, Url, porcelain};

use super::repo::open_repo;
use super::{Ctx, written};

/// `msez remote [SUBCOMMAND]`: with none, the names (with -v, names and URLs), as git.
#[derive(Debug, clap::Args)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "Examples:\n  msez remote -v\n  msez remote add origin s3://audit-bucket/msez\n  msez remote show origin\n  msez remote rename origin backup\n  msez remote set-url backup /srv/msez-remote"
)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// `msez ls-remote [NAME]`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  msez ls-remote origin")]
pub struct LsRemoteArgs {
    /// The remote (default: origin).
    pub remote: Option<String>,
    #[command(flatten)]
    pub transfer: super::sync::Transfer,
}

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
        #[command(flatten)]
        s3: S3Options,
    },
    /// Forget a remote (its remote-tracking refs stay until removed by hand).
    Remove {
        /// The name.
        name: String,
    },
    /// List remotes and their URLs.
    List,
    /// What a remote holds: objects and bytes per type, proof files, refs, what no ref
    /// reaches, and the requests it took (one listing, the refs, the closure's JSON objects).
    Stats(super::remote_stats::StatsArgs),
    /// A remote's URL, its remote-tracking refs and how each chain stands against them.
    ///
    /// Example: msez remote show origin
    Show {
        /// The name.
        name: String,
    },
    /// Rename a remote: its config entry and its remote-tracking refs move to NEW.
    ///
    /// Example: msez remote rename origin backup
    Rename {
        /// The current name.
        old: String,
        /// The new name.
        new: String,
    },
    /// Change a remote's URL (checked as `remote add` checks it; credentials refused).
    ///
    /// Example: msez remote set-url origin s3://audit-bucket/msez
    SetUrl {
        /// The name.
        name: String,
        /// The new URL.
        url: String,
    },
}

/// Per-remote settings (`msez remote add`): the S3 ones and the default `--jobs`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct S3Options {
    #[command(flatten)]
    pub settings: S3Settings,
    /// Default `--jobs` of push, fetch, pull with this remote.
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
}

/// Per-remote S3 settings (`msez remote add`, `msez clone`); unset ones come from the AWS
/// configuration chain (environment, AWS_PROFILE, ~/.aws/config and ~/.aws/credentials).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct S3Settings {
    /// S3 endpoint URL (above AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL and the profile's).
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// S3 region (above AWS_REGION and the profile's).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// AWS profile from ~/.aws/config and ~/.aws/credentials (environment keys are then
    /// ignored, as with `aws --profile`).
    #[arg(long, value_name = "PROFILE")]
    pub profile: Option<String>,
    /// Path-style requests (`https://host/bucket/key`; the default).
    #[arg(long, conflicts_with = "virtual_hosted")]
    pub path_style: bool,
    /// Virtual-hosted requests (`https://bucket.host/key`).
    #[arg(long)]
    pub virtual_hosted: bool,
    /// Allow a plain-http endpoint that is not loopback (loopback is always allowed).
    #[arg(long)]
    pub allow_http: bool,
    /// Give up on one request after this long (e.g. `30s`).
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
    /// Give up on connecting after this long (e.g. `5s`).
    #[arg(long, value_name = "DURATION")]
    pub connect_timeout: Option<String>,
    /// The server's If-Match is atomic (AWS S3, MinIO): move refs without a lock object, one
    /// request fewer each. Never for SeaweedFS (its If-Match is checked but not atomic).
    #[arg(long)]
    pub atomic_if_match: bool,
}

impl S3Options {
    /// The `[remote.NAME]` entry for `url` with these settings (durations checked here).
    fn entry(self, url: String) -> super::Result<RemoteConfig> {
        Ok(RemoteConfig {
            jobs: self.jobs,
            ..self.settings.entry(url)?
        })
    }
}

impl S3Settings {
    /// The `[remote.NAME]` entry for `url` with these settings (durations and endpoint checked
    /// here, not on the first push).
    pub(super) fn entry(self, url: String) -> super::Result<RemoteConfig> {
        let entry = RemoteConfig {
            url,
            endpoint: self.endpoint,
            region: self.region,
            profile: self.profile,
            path_style: match (self.path_style, self.virtual_hosted) {
                (true, _) => Some(true),
                (_, true) => Some(false),
                _ => None,
            },
            allow_http: self.allow_http,
            timeout: self.timeout,
            connect_timeout: self.connect_timeout,
            atomic_if_match: self.atomic_if_match,
            jobs: None,
        };
        // A bad duration or endpoint fails here, not on the first push.
        remote::aws::Settings::from_config(&entry)?;
        if let Some(e) = &entry.endpoint {
            let lower = e.to_ascii_lowercase();
            if !lower.starts_with("http://") && !lower.starts_with("https://") {
                return Err(remote::Error::BadUrl {
                    url: e.clone(),
                    why: "an endpoint is an http:// or https:// URL".into(),
                }
                .into());
            }
        }
        Ok(entry)
    }
}

fn no_such(name: &str) -> msez::Error {
    remote::Error::Name {
        what: "there is no",
        name: name.to_string(),
    }
    .into()
}

/// git's `remote` and `remote -v`: names, or names with their (redacted) URLs.
fn list(config: &Config, ctx: &Ctx) -> super::Result<()> {
    let remotes: Vec<serde_json::Value> = config
        .remote
        .iter()
        .map(|(n, r)| serde_json::json!({"name": n, "url": Url::redact(&r.url)}))
        .collect();
    written(ctx.out.emit(&serde_json::json!({"remotes": remotes}), |w| {
        for (n, r) in &config.remote {
            let n = msez::remote::layout::shown_key(n);
            if ctx.out.verbose {
                let url = Url::redact(&r.url);
                writeln!(w, "{n}\t{url} (fetch)\n{n}\t{url} (push)")?;
            } else {
                writeln!(w, "{n}")?;
            }
        }
        Ok(())
    }))?;
    Ok(())
}

/// `msez remote show NAME`: the URL and how each tracked chain compares with ours.
fn show(repo: &Repo, config: &Config, name: &str, ctx: &Ctx) -> super::Result<()> {
    let entry = config.remote.get(name).ok_or_else(|| no_such(name))?;
    let url = Url::redact(&entry.url);
    let refs = porcelain::tracking_refs(repo, name)?;
    let mut chains = Vec::new();
    for (r, remote_head) in &refs {
        let Some(rest) = r.as_str().strip_prefix(&format!("refs/remotes/{name}/")) else {
            continue;
        };
        let local_name = RefName::new(&format!("refs/{rest}"))?;
        let Some(key) = ChainKey::from_head_ref(&local_name) else {
            continue;
        };
        let local = repo.read_ref(&local_name)?;
        let (ahead, behind, diverged) =
            tracking::compare(repo, key.kind, local, Some(*remote_head)).unwrap_or((0, 0, false));
        chains.push(serde_json::json!({
            "ref": local_name, "local": local, "remote": remote_head,
            "ahead": ahead, "behind": behind, "diverged": diverged,
        }));
    }
    let value = serde_json::json!({
        "name": name, "url": url,
        "tracking_refs": refs.iter().map(|(n, d)| (n.to_string(), d.to_hex())).collect::<std::collections::BTreeMap<_, _>>(),
        "chains": chains,
    });
    written(ctx.out.emit(&value, |w| {
        writeln!(w, "* remote {name}\n  URL: {url}")?;
        if refs.is_empty() {
            writeln!(w, "  no remote-tracking refs (msez fetch {name})")?;
        }
        for c in &chains {
            let (a, b) = (
                c["ahead"].as_u64().unwrap_or(0),
                c["behind"].as_u64().unwrap_or(0),
            );
            let state = match (a, b, c["diverged"].as_bool() == Some(true)) {
                (_, _, true) => format!("diverged ({a} here, {b} there)"),
                (0, 0, _) => "up to date".to_string(),
                (a, 0, _) => format!("ahead {a}"),
                (_, b, _) => format!("behind {b}"),
            };
            writeln!(w, "  {} {state}", c["ref"].as_str().unwrap_or_default())?;
        }
        Ok(())
    }))?;
    Ok(())
}

/// Runs `msez remote` (a subcommand, or the listing).
pub fn run(args: Args, ctx: &Ctx) -> super::Result<ExitCode> {
    let mut repo = open_repo(ctx)?;
    let mut config = repo.config().clone();
    let Some(command) = args.command else {
        list(&config, ctx)?;
        return Ok(ExitCode::SUCCESS);
    };
    match command {
        Command::Add { name, url, s3 } => {
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
            config.remote.insert(name.clone(), s3.entry(url.clone())?);
            repo.save_config(config)?;
            // A leftover record from an earlier remote of this name would skip real uploads.
            remote::sync::forget(&repo, &name)?;
            written(
                ctx.out
                    .confirm(&serde_json::json!({"added": name, "url": url}), |w| {
                        writeln!(w, "{name}\t{url}")
                    }),
            )?;
        }
        Command::Remove { name } => {
            if config.remote.remove(&name).is_none() {
                return Err(no_such(&name));
            }
            repo.save_config(config)?;
            remote::sync::forget(&repo, &name)?;
            written(ctx.out.confirm(&serde_json::json!({"removed": name}), |w| {
                writeln!(w, "removed {name}")
            }))?;
        }
        Command::Stats(args) => return super::remote_stats::run(args, ctx),
        Command::Show { name } => show(&repo, &config, &name, ctx)?,
        Command::Rename { old, new } => {
            remote::sync::check_remote_name(&new)?;
            if config.remote.contains_key(&new) {
                return Err(remote::Error::Name {
                    what: "there already is a",
                    name: new,
                }
                .into());
            }
            let entry = config.remote.remove(&old).ok_or_else(|| no_such(&old))?;
            config.remote.insert(new.clone(), entry);
            repo.save_config(config)?;
            let moved = porcelain::rename_tracking_refs(&repo, &old, &new)?;
            // What we remember about the old name's uploads stays valid for the same URL, but
            // is kept by name: start afresh rather than guess.
            remote::sync::forget(&repo, &old)?;
            written(ctx.out.confirm(
                &serde_json::json!({"renamed": old, "to": new, "tracking_refs_moved": moved}),
                |w| {
                    writeln!(
                        w,
                        "renamed {old} to {new} ({moved} remote-tracking ref(s) moved)"
                    )
                },
            ))?;
        }
        Command::SetUrl { name, url } => {
            let parsed = Url::parse(&url, &ctx.cwd)?;
            let entry = config.remote.get_mut(&name).ok_or_else(|| no_such(&name))?;
            entry.url = parsed.to_string();
            let shown = Url::redact(&entry.url);
            repo.save_config(config)?;
            // Another URL is another store: what we remember uploading there does not hold.
            remote::sync::forget(&repo, &name)?;
            written(
                ctx.out
                    .confirm(&serde_json::json!({"name": name, "url": shown}), |w| {
                        writeln!(w, "{name}\t{shown}")
                    }),
            )?;
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

/// Lists the refs a remote holds now (one request per ref; nothing is stored).
pub fn ls_remote(args: LsRemoteArgs, ctx: &Ctx) -> super::Result<ExitCode> {
    let repo = open_repo(ctx)?;
    let (name, backend) =
        super::sync::open_remote(&repo, args.remote.as_deref(), ctx, &args.transfer)?;
    let refs = porcelain::ls_remote(backend.as_ref())?;
    let value: serde_json::Map<String, serde_json::Value> = refs
        .iter()
        .map(|(n, d)| (n.to_string(), d.to_hex().into()))
        .collect();
    let report =
        serde_json::json!({"remote": name, "url": Url::redact(&backend.url()), "refs": value});
    written(ctx.out.emit(&super::sync::with_traffic(&report, ctx), |w| {
        for (n, d) in &refs {
            writeln!(w, "{d}\t{n}")?;
        }
        Ok(())
    }))?;
    Ok(ExitCode::SUCCESS)
}
