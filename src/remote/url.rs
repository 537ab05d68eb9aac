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

impl Url {
    /// Parses a URL; a relative path is taken relative to `cwd`.
    pub fn parse(text: &str, cwd: &Path) -> Result<Url, Error> {
        let bad = |why: &str| Error::BadUrl {
            url: text.to_string(),
            why: why.to_string(),
        };
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
}
