//! Remote URLs: a path or `file:///path`, `s3://bucket/prefix`, `ipfs://HOST:PORT/NAME`.

use std::fmt;
use std::path::{Path, PathBuf};

use super::Error;

/// A parsed remote URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Url {
    /// A directory on this machine.
    Local(PathBuf),
    /// An S3 bucket and a key prefix (no leading or trailing `/`, may be empty).
    S3 { bucket: String, prefix: String },
    /// A Kubo-compatible RPC (`http://HOST:PORT`) and the MFS folder holding the remote.
    Ipfs { api: String, name: String },
}

/// Why a URL carrying credentials is refused, and where they go instead.
pub(crate) const CREDENTIALS: &str = "credentials do not belong in a remote URL (it is stored in \
     .msez/config and shown in messages); give them through the credential chain: \
     AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or ~/.aws/credentials \
     (docs/credentials.md)";

/// The scheme (`s3`, `https`...) of `text` if it is written `scheme://...`.
fn scheme_of(text: &str) -> Option<&str> {
    let (scheme, _) = text.split_once("://")?;
    (!scheme.is_empty()
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)))
    .then_some(scheme)
}

/// Whether `text` carries something secret: a `user:pass@` (or `token@`) before the host,
/// or a query string (where presigned signatures and tokens travel).
pub(crate) fn has_secret(text: &str) -> bool {
    match scheme_of(text) {
        Some(scheme) => {
            let rest = &text[scheme.len() + 3..];
            let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
            authority.contains('@') || rest.contains('?')
        }
        // scp-like `user:pass@host:path` typed as a path.
        None => text
            .split('/')
            .next()
            .is_some_and(|first| first.contains('@') && first.contains(':')),
    }
}

impl Url {
    /// `text` with anything secret in it replaced by `***`: the userinfo before `@` and the
    /// query string. Every message, listing and mount name that shows a remote or bundle URL
    /// shows it through this.
    pub fn redact(text: &str) -> String {
        let shown: String = match scheme_of(text) {
            Some(scheme) => {
                let rest = &text[scheme.len() + 3..];
                let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
                let (authority, tail) = rest.split_at(end);
                let authority = match authority.rsplit_once('@') {
                    Some((_, host)) => format!("***@{host}"),
                    None => authority.to_string(),
                };
                let tail = match tail.split_once('?') {
                    Some((path, _)) => format!("{path}?***"),
                    None => tail.to_string(),
                };
                format!("{scheme}://{authority}{tail}")
            }
            None => match text.split_once('/') {
                Some((first, rest)) if first.contains('@') && first.contains(':') => {
                    format!("***@{}/{rest}", first.rsplit_once('@').map_or("", |x| x.1))
                }
                None if text.contains('@') && text.contains(':') => {
                    format!("***@{}", text.rsplit_once('@').map_or("", |x| x.1))
                }
                _ => text.to_string(),
            },
        };
        super::layout::shown_key(&shown)
    }

    /// Parses a URL; a relative path is taken relative to `cwd`. A URL with credentials or a
    /// query string in it is refused (and never echoed).
    pub fn parse(text: &str, cwd: &Path) -> Result<Url, Error> {
        let bad = |why: &str| Error::BadUrl {
            url: Url::redact(text),
            why: why.to_string(),
        };
        if has_secret(text) {
            return Err(bad(CREDENTIALS));
        }
        if let Some(rest) = text.strip_prefix("file://") {
            if !rest.starts_with('/') {
                return Err(bad("file:// URLs need an absolute path (file:///path)"));
            }
            return Ok(Url::Local(PathBuf::from(rest)));
        }
        if let Some(rest) = text.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            let valid_bucket = (3..=63).contains(&bucket.len())
                && bucket.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.'
                });
            if !valid_bucket {
                return Err(bad("the bucket must be 3-63 of a-z, 0-9, '-' and '.'"));
            }
            let prefix = prefix.trim_matches('/');
            if prefix.split('/').any(|c| c == "." || c == "..") {
                return Err(bad("the prefix may not contain . or .. components"));
            }
            return Ok(Url::S3 {
                bucket: bucket.to_string(),
                prefix: prefix.to_string(),
            });
        }
        if let Some(rest) = text.strip_prefix("ipfs://") {
            let (host, name) = rest
                .split_once('/')
                .ok_or_else(|| bad("expected ipfs://HOST:PORT/NAME"))?;
            let (h, port) = host
                .rsplit_once(':')
                .ok_or_else(|| bad("expected ipfs://HOST:PORT/NAME"))?;
            if h.is_empty() || port.parse::<u16>().is_err() {
                return Err(bad("expected ipfs://HOST:PORT/NAME with a numeric port"));
            }
            let name = name.trim_matches('/');
            let ok_name = !name.is_empty()
                && name.split('/').all(|c| {
                    !c.is_empty()
                        && c != "."
                        && c != ".."
                        && c.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
                });
            if !ok_name {
                return Err(bad(
                    "NAME must be folders of A-Z, a-z, 0-9, '-', '_' and '.'",
                ));
            }
            return Ok(Url::Ipfs {
                api: format!("http://{host}"),
                name: name.to_string(),
            });
        }
        if let Some((scheme, _)) = text.split_once("://") {
            return Err(bad(&format!(
                "unknown scheme {scheme:?} (use a path, file://, s3:// or ipfs://)"
            )));
        }
        if text.is_empty() {
            return Err(bad("empty"));
        }
        Ok(Url::Local(cwd.join(text)))
    }

    /// A directory name for `clone URL` without DIR: the last component, like git.
    pub fn default_dir_name(&self) -> String {
        let last = match self {
            Url::Local(p) => p
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            Url::S3 { bucket, prefix } => prefix.rsplit('/').next().unwrap_or(bucket).to_string(),
            Url::Ipfs { name, .. } => name.rsplit('/').next().unwrap_or(name).to_string(),
        };
        if last.is_empty() {
            "msez-clone".to_string()
        } else {
            last.trim_end_matches(".msez").to_string()
        }
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Url::Local(p) => write!(f, "{}", p.display()),
            Url::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            Url::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
            Url::Ipfs { api, name } => {
                write!(f, "ipfs://{}/{name}", api.trim_start_matches("http://"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_schemes_and_plain_paths_parse() {
        let cwd = Path::new("/w");
        assert_eq!(Url::parse("r", cwd).unwrap(), Url::Local("/w/r".into()));
        assert_eq!(
            Url::parse("file:///x/y", cwd).unwrap(),
            Url::Local("/x/y".into())
        );
        assert_eq!(
            Url::parse("s3://bkt/a/b/", cwd).unwrap(),
            Url::S3 {
                bucket: "bkt".into(),
                prefix: "a/b".into()
            }
        );
        assert_eq!(
            Url::parse("ipfs://127.0.0.1:5001/team/r1", cwd).unwrap(),
            Url::Ipfs {
                api: "http://127.0.0.1:5001".into(),
                name: "team/r1".into()
            }
        );
        assert_eq!(
            Url::parse("s3://bkt/a", cwd).unwrap().to_string(),
            "s3://bkt/a"
        );
    }

    #[test]
    fn bad_urls_are_usage_errors() {
        let cwd = Path::new("/w");
        for bad in [
            "",
            "file://rel",
            "s3://B",
            "s3://bk/../x",
            "ipfs://host/name",
            "ipfs://h:p/n",
            "ipfs://h:1/",
            "ipfs://h:1/a/../b",
            "http://x/y",
        ] {
            let e = Url::parse(bad, cwd).unwrap_err();
            assert_eq!(crate::Classify::class(&e), crate::Class::Usage, "{bad}");
        }
    }

    #[test]
    fn credentials_are_refused_and_never_echoed() {
        let cwd = Path::new("/w");
        for (bad, secret) in [
            ("s3://AKIAX:s3cr3tKEY@bucket/p", "s3cr3tKEY"),
            ("ipfs://alice:s3cr3tKEY@127.0.0.1:5001/r", "s3cr3tKEY"),
            ("file://u:s3cr3tKEY@/x", "s3cr3tKEY"),
            ("https://tok_s3cr3tKEY@h/x", "s3cr3tKEY"),
            ("s3://bucket/p?X-Amz-Signature=s3cr3tKEY", "s3cr3tKEY"),
            ("alice:s3cr3tKEY@host:/srv/r", "s3cr3tKEY"),
        ] {
            let e = Url::parse(bad, cwd).unwrap_err();
            let shown = format!("{e} {:?}", crate::Classify::detail(&e));
            assert!(!shown.contains(secret), "{shown}");
            assert!(shown.contains("credential chain"), "{shown}");
            assert!(!Url::redact(bad).contains(secret), "{bad}");
        }
        assert_eq!(Url::redact("s3://b/p"), "s3://b/p");
        assert_eq!(Url::redact("https://u:p@h/x?sig=1"), "https://***@h/x?***");
    }
}
