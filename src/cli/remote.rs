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
}

/// Per-remote S3 settings (`msez remote add`); unset ones come from the AWS configuration
/// chain (environment, AWS_PROFILE, ~/.aws/config and ~/.aws/credentials).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct S3Options {
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
    /// Default `--jobs` of push, fetch, pull with this remote.
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
}

impl S3Options {
    /// The `[remote.NAME]` entry for `url` with these settings (durations checked here).
    fn entry(self, url: String) -> super::Result<RemoteConfig> {
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
            jobs: self.jobs,
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

/// Runs one `msez remote` subcommand.
pub fn run(command: Command, ctx: &Ctx) -> super::Result<ExitCode> {
    let mut repo = open_repo(ctx)?;
    let mut config = repo.config().clone();
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
        Command::Stats(args) => return super::remote_stats::run(args, ctx),
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
