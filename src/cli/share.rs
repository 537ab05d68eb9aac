//! `msez artifact share TYPE:DIGEST [--remote NAME] --expires DURATION`: a presigned GET URL.

use std::process::ExitCode;
use std::time::Duration;

use msez::artifact::ObjectId;
use msez::remote::{self, layout};

use super::repo::open_repo;
use super::sync::{Transfer, open_remote};
use super::{Ctx, written};

/// `msez artifact share`.
#[derive(Debug, clap::Args)]
pub struct ShareArgs {
    /// `TYPE:DIGEST` (it must be on the remote: push first).
    pub object: String,
    /// The remote (default: origin); presigning needs an S3 remote.
    #[arg(long, value_name = "NAME")]
    pub remote: Option<String>,
    /// How long the URL works (e.g. 15m, 1h, 7d; S3 allows at most 7 days).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub expires: Duration,
    #[command(flatten)]
    pub transfer: Transfer,
}

/// Prints a URL anyone can GET the object's remote bytes from until it expires.
pub fn run(args: ShareArgs, ctx: &Ctx) -> super::Result<ExitCode> {
    let repo = open_repo(ctx)?;
    let id: ObjectId = args.object.parse()?;
    let (name, backend) = open_remote(&repo, args.remote.as_deref(), ctx, &args.transfer)?;
    let key = layout::object_key(&id);
    let retry = args.transfer.options().retry;
    // A URL to nothing would only fail later, in someone else's hands.
    if retry.run(|| backend.head(&key))?.is_none() {
        return Err(remote::Error::Missing {
            what: "the shared object (push it first)",
            key: format!("{}/{key}", backend.url()),
        }
        .into());
    }
    let url =
        backend
            .presign_get(&key, args.expires)?
            .ok_or_else(|| remote::Error::Unsupported {
                what: "artifact share",
                url: backend.url(),
            })?;
    written(ctx.out.emit(
        &serde_json::json!({
            "id": id.to_string(),
            "remote": name,
            "key": key,
            "expires_in_seconds": args.expires.as_secs(),
            "url": url,
        }),
        |w| writeln!(w, "{url}"),
    ))?;
    Ok(ExitCode::SUCCESS)
}
