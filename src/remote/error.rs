//! Remote errors.

use std::path::PathBuf;

use crate::taxonomy::{Class, Classify, Detail};

/// Why a remote operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A URL that names no backend we know, or names it badly.
    #[error("invalid remote URL {url:?}: {why}")]
    BadUrl { url: String, why: String },
    /// `remote add` of a name that exists, or a command naming a remote that does not.
    #[error("{what} remote {name:?}")]
    Name { what: &'static str, name: String },
    /// `clone` into a directory that has files in it.
    #[error("cannot clone into {}: not an empty directory", path.display())]
    NotEmpty { path: PathBuf },
    /// A local file operation of the directory backend failed.
    #[error("{what} {}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An S3 request failed (after our retries): one line, as `aws` reports it.
    #[error("{what} {key}: {failure}")]
    S3 {
        what: &'static str,
        key: String,
        failure: Box<S3Failure>,
    },
    /// An S3 remote's configuration cannot work (unknown profile, plain http not allowed).
    #[error("{what}: {message}")]
    S3Config { what: String, message: String },
    /// The AWS chain found no credentials for an S3 remote.
    #[error("{what}: no credentials found; tried {tried}")]
    NoCredentials { what: String, tried: String },
    /// A profile's `credential_process` failed or printed no credentials we can read.
    #[error("{what}: credential_process of profile {profile}: {why}")]
    CredentialProcess {
        what: String,
        profile: String,
        why: String,
    },
    /// The IPFS RPC failed or answered something we cannot read.
    #[error("{what} ipfs {key}: {message}")]
    Ipfs {
        what: &'static str,
        key: String,
        message: String,
    },
    /// A conditional write found the key changed (or present) under us.
    #[error("remote key {key} changed under us (conditional write refused)")]
    Precondition { key: String },
    /// A ref move that is not a fast-forward of what the remote holds.
    #[error(
        "push of {name} refused: {why} (remote has {found}; fetch/pull first, or --force-with-lease)"
    )]
    NotFastForward {
        name: String,
        found: String,
        why: &'static str,
    },
    /// Some refs could not be pushed; each is named in the report.
    #[error("{count} ref(s) not pushed: {names}")]
    Rejected { count: usize, names: String },
    /// Someone else holds the remote's write lease (single-writer backends).
    #[error("remote {url} is leased to {holder} for {expires_in}s more (single-writer remote)")]
    LeaseHeld {
        url: String,
        holder: String,
        expires_in: u64,
    },
    /// A remote object or proof file whose bytes do not give the digest in its name.
    #[error("remote object {object} is tampered: its content gives {found} ({key})")]
    Tampered {
        object: String,
        key: String,
        expected: String,
        found: String,
    },
    /// A remote key that should exist does not (a ref's target, the format file).
    #[error("{what} {key} is missing on the remote")]
    Missing { what: &'static str, key: String },
    /// A remote whose format file names a version or digest this msez does not read.
    #[error("remote {url} has format {found}, this msez reads msez_remote_format 1 with sha256")]
    Format { url: String, found: String },
    /// Local refs that diverged from the remote's: both are kept.
    #[error("{count} ref(s) diverged from the remote (both kept; local unchanged): {names}")]
    Diverged { count: usize, names: String },
    /// An operation this kind of remote cannot do (presigned URLs need S3).
    #[error("{what} needs an S3 remote; {url} is not one")]
    Unsupported { what: &'static str, url: String },
    /// Ctrl-C: stopped at a safe point.
    #[error("interrupted")]
    Interrupted,
    /// A fetched receipt that is not a valid chain link (nothing was stored).
    #[error("fetch refused: {0}")]
    Receipt(Box<crate::chain::Error>),
    /// A repository operation failed.
    #[error(transparent)]
    Odb(#[from] crate::odb::Error),
    /// A local proof file that does not sign its object (push sends nothing unverified).
    #[error("proof file {file} does not sign {object}: {source}")]
    ProofFile {
        object: String,
        file: PathBuf,
        #[source]
        source: crate::vc::Error,
    },
}

/// What an S3 request came back with, decoded: the service's error code and message from
/// the XML answer, or the transport failure, how often it was tried, and one hint.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct S3Failure {
    /// The S3 operation (`GetObject`, `ListObjectsV2`...).
    pub operation: &'static str,
    /// The HTTP status, when the server answered.
    pub status: Option<u16>,
    /// The S3 error code (`SignatureDoesNotMatch`, `NoSuchBucket`...).
    pub code: Option<String>,
    /// The service's message, or the transport's cause.
    pub message: String,
    /// Whether trying again could help (transport failures, 5xx, 429, timeouts).
    pub transient: bool,
    /// The request timed out.
    pub timed_out: bool,
    /// The connection was refused or could not be made.
    pub unreachable: bool,
    /// How many tries, over how long (set by [`super::Retry::run`]).
    pub tries: Option<(u32, std::time::Duration)>,
}

impl S3Failure {
    /// The one thing to check for this failure.
    pub fn hint(&self) -> Option<&'static str> {
        Some(match (self.code.as_deref(), self.status) {
            (Some("SignatureDoesNotMatch"), _) => "check AWS_SECRET_ACCESS_KEY / the profile",
            (Some("InvalidAccessKeyId"), _) => "check AWS_ACCESS_KEY_ID / the profile",
            (Some("ExpiredToken" | "InvalidToken"), _) => {
                "check AWS_SESSION_TOKEN / refresh the profile's credentials"
            }
            (Some("AccessDenied"), _) | (_, Some(403)) => {
                "check the credentials' permissions on this bucket / the profile"
            }
            (Some("NoSuchBucket"), _) => "check the bucket name in the remote URL",
            (Some("AuthorizationHeaderMalformed" | "PermanentRedirect"), _) => {
                "check the region (AWS_REGION, the profile, msez remote add --region)"
            }
            _ if self.timed_out => {
                "the server did not answer in time: check the endpoint, or raise the remote's timeout (msez remote add ... --timeout)"
            }
            _ if self.unreachable => {
                "check the endpoint (AWS_ENDPOINT_URL, the profile, the remote's endpoint) and that the server is up"
            }
            _ => return None,
        })
    }
}

impl std::fmt::Display for S3Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ", self.operation)?;
        match (&self.code, self.status) {
            (Some(code), Some(status)) => write!(f, "{code} (HTTP {status})")?,
            (Some(code), None) => write!(f, "{code}")?,
            (None, Some(status)) => write!(f, "HTTP {status}")?,
            (None, None) => f.write_str("failed")?,
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message.trim_end_matches('.'))?;
        }
        if let Some((n, over)) = self.tries {
            let secs = over.as_secs_f64();
            if secs < 10.0 {
                write!(f, ", after {n} tries over {secs:.1} s")?;
            } else {
                write!(f, ", after {n} tries over {secs:.0} s")?;
            }
        }
        if let Some(h) = self.hint() {
            write!(f, "; {h}")?;
        }
        Ok(())
    }
}

impl Error {
    /// Whether a directory remote refused a key that is not a regular file beneath its root
    /// (a symlink, a FIFO, a device): a finding for checkers, not the end of their run.
    pub fn is_refused_key(&self) -> bool {
        matches!(self, Error::Io { what, .. } if *what == "refusing remote key")
    }

    /// The error with how often, over how long, its request was tried (S3 and IPFS).
    pub fn with_tries(self, tries: u32, over: std::time::Duration) -> Error {
        match self {
            Error::S3 {
                what,
                key,
                mut failure,
            } => {
                failure.tries = Some((tries, over));
                Error::S3 { what, key, failure }
            }
            Error::Ipfs { what, key, message } => Error::Ipfs {
                what,
                key,
                message: format!(
                    "{message} (after {tries} tries over {:.1} s)",
                    over.as_secs_f64()
                ),
            },
            other => other,
        }
    }

    /// A short form for progress notes: the S3 operation, key and cause, without the hint.
    pub fn brief(&self) -> String {
        match self {
            Error::S3 { key, failure, .. } => {
                let cause = failure
                    .code
                    .clone()
                    .or_else(|| failure.status.map(|s| format!("HTTP {s}")))
                    .unwrap_or_else(|| failure.message.clone());
                format!("{} {key}: {cause}", failure.operation)
            }
            other => other.to_string(),
        }
    }

    pub(crate) fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            what,
            path: path.into(),
            source,
        }
    }

    /// Whether retrying the same call could succeed (transport failures only).
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Ipfs { .. } => true,
            Error::S3 { failure, .. } => failure.transient,
            _ => false,
        }
    }
}

impl Classify for Error {
    fn class(&self) -> Class {
        match self {
            Error::BadUrl { .. }
            | Error::Name { .. }
            | Error::NotEmpty { .. }
            | Error::Unsupported { .. }
            | Error::S3Config { .. }
            | Error::NoCredentials { .. } => Class::Usage,
            Error::Io { .. }
            | Error::S3 { .. }
            | Error::Ipfs { .. }
            | Error::Interrupted
            | Error::CredentialProcess { .. } => Class::Io,
            Error::Precondition { .. }
            | Error::NotFastForward { .. }
            | Error::Rejected { .. }
            | Error::LeaseHeld { .. } => Class::Conflict,
            Error::Tampered { .. } => Class::Digest,
            Error::Missing { .. } => Class::Missing,
            Error::Format { .. } => Class::Schema,
            Error::Diverged { .. } => Class::Fork,
            Error::Receipt(e) => e.class(),
            Error::Odb(e) => e.class(),
            Error::ProofFile { source, .. } => source.class(),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Error::BadUrl { .. } => "usage.bad_remote_url",
            Error::Name { .. } => "usage.remote_name",
            Error::NotEmpty { .. } => "usage.not_empty",
            Error::Unsupported { .. } => "usage.remote_unsupported",
            Error::Io { .. } => "io.file",
            Error::S3 { .. } => "io.s3",
            Error::S3Config { .. } => "usage.s3_config",
            Error::NoCredentials { .. } => "usage.no_credentials",
            Error::CredentialProcess { .. } => "io.credential_process",
            Error::Ipfs { .. } => "io.ipfs",
            Error::Interrupted => "io.interrupted",
            Error::Precondition { .. } => "conflict.remote_precondition",
            Error::NotFastForward { .. } => "conflict.non_fast_forward",
            Error::Rejected { .. } => "conflict.push_rejected",
            Error::LeaseHeld { .. } => "conflict.lease_held",
            Error::Tampered { .. } => "digest.remote_object_mismatch",
            Error::Missing { .. } => "missing.remote_key",
            Error::Format { .. } => "schema.remote_format",
            Error::Diverged { .. } => "fork.diverged",
            Error::Receipt(e) => e.code(),
            Error::Odb(e) => e.code(),
            Error::ProofFile { source, .. } => source.code(),
        }
    }

    fn detail(&self) -> Detail {
        match self {
            Error::BadUrl { url, .. } | Error::Unsupported { url, .. } => {
                Detail::object(url.clone())
            }
            Error::Name { name, .. } => Detail::object(name.clone()),
            Error::S3Config { what, .. }
            | Error::NoCredentials { what, .. }
            | Error::CredentialProcess { what, .. } => Detail::object(what.clone()),
            Error::Io { path, .. } | Error::NotEmpty { path } => Detail::path(path),
            Error::S3 { key, .. } | Error::Ipfs { key, .. } | Error::Precondition { key } => {
                Detail::object(key.clone())
            }
            Error::NotFastForward { name, found, .. } => {
                Detail::object(name.clone()).mismatch("a fast-forward", found)
            }
            Error::Rejected { names, .. } | Error::Diverged { names, .. } => {
                Detail::object(names.clone())
            }
            Error::LeaseHeld { url, holder, .. } => {
                Detail::object(url.clone()).mismatch("no lease", holder)
            }
            Error::Tampered {
                object,
                expected,
                found,
                ..
            } => Detail::object(object.clone()).mismatch(expected, found),
            Error::Missing { key, .. } => Detail::object(key.clone()),
            Error::Format { url, found } => Detail::object(url.clone()).mismatch("1/sha256", found),
            Error::Interrupted => Detail::default(),
            Error::Receipt(e) => e.detail(),
            Error::Odb(e) => e.detail(),
            Error::ProofFile { object, file, .. } => Detail {
                path: Some(file.clone()),
                ..Detail::object(object.clone())
            },
        }
    }
}
