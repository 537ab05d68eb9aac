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
    /// How long the URL works: 1s to 7d (e.g. 15m, 1h, 7d); S3 signatures last at most 7 days.
    #[arg(long, value_name = "DURATION", value_parser = presign_expiry)]
    pub expires: Duration,
    #[command(flatten)]
    pub transfer: Transfer,
}

/// The longest validity an S3 SigV4 presigned URL may have.
const MAX_EXPIRY: Duration = Duration::from_secs(7 * 24 * 3600);

/// Parses `--expires`: at least one second (a URL that never works is a mistake) and at most
/// the 7 days S3 accepts (a longer one would be refused by the server when used, in someone
/// else's hands).
fn presign_expiry(text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    if d < Duration::from_secs(1) {
        return Err("must be at least 1s".into());
    }
    if d > MAX_EXPIRY {
        return Err(format!(
            "{text} is longer than the 7 days (7d, 168h) an S3 presigned URL can last"
        ));
    }
    Ok(d)
}

/// Prints a URL anyone can GET the object's remote bytes from until it expires.
pub fn run(args: ShareArgs, ctx: &Ctx) -> super::Result<ExitCode> {
    let repo = open_repo(ctx)?;
    let id: ObjectId = args.object.parse()?;
    let (name, backend) = open_remote(&repo, args.remote.as_deref(), ctx, &args.transfer)?;
    let key = layout::object_key(&id);
    // A URL to nothing would only fail later, in someone else's hands.
    if backend.head(&key)?.is_none() {
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
