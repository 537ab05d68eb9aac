//! `.msez/config`: TOML with the format version, hook settings, remotes and gc defaults.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Error, FORMAT_VERSION};

/// The repository configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// Format version and digest algorithm.
    pub core: Core,
    /// Hook settings.
    #[serde(default)]
    pub hooks: Hooks,
    /// Remotes by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub remote: BTreeMap<String, Remote>,
    /// gc settings.
    #[serde(default, skip_serializing_if = "Gc::is_default")]
    pub gc: Gc,
}

/// `[gc]`: durations as humantime text (`14d`, `2weeks`, `0`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gc {
    /// Objects younger than this are kept; also the grace between mark and sweep.
    #[serde(
        default,
        alias = "pruneExpire",
        skip_serializing_if = "Option::is_none"
    )]
    pub prune_expire: Option<String>,
    /// Reflog entries younger than this are roots.
    #[serde(
        default,
        alias = "reflogExpire",
        skip_serializing_if = "Option::is_none"
    )]
    pub reflog_expire: Option<String>,
    /// Past this many packs a transaction consolidates them (default 50; 0: never).
    #[serde(
        default,
        alias = "autoPackLimit",
        skip_serializing_if = "Option::is_none"
    )]
    pub auto_pack_limit: Option<u64>,
}

impl Gc {
    fn is_default(&self) -> bool {
        *self == Gc::default()
    }
}

/// `[core]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Core {
    /// The repository format version (1).
    pub format_version: u32,
    /// The addressing digest (`sha256`).
    pub digest: String,
}

/// `[hooks]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hooks {
    /// How long a hook may run before it is killed and counted as failed.
    pub timeout_seconds: u64,
}

impl Default for Hooks {
    fn default() -> Self {
        Hooks {
            timeout_seconds: 60,
        }
    }
}

/// `[remote.<name>]`: the URL and, for S3, settings above the AWS configuration chain.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remote {
    /// The remote's URL.
    pub url: String,
    /// S3 endpoint URL (above `AWS_ENDPOINT_URL` and the profile's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// S3 region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// AWS profile (environment keys are then ignored, as with `aws --profile`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Path-style (true) or virtual-hosted (false) S3 requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_style: Option<bool>,
    /// Allow a plain-http endpoint that is not loopback.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_http: bool,
    /// Per-request timeout (humantime: `30s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// Connect timeout (humantime: `5s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_timeout: Option<String>,
    /// The S3 server's `If-Match` is atomic (AWS S3, MinIO): ref moves need no lock object.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub atomic_if_match: bool,
    /// Default `--jobs` for this remote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jobs: Option<usize>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            core: Core {
                format_version: FORMAT_VERSION,
                digest: "sha256".to_string(),
            },
            hooks: Hooks::default(),
            remote: BTreeMap::new(),
            gc: Gc::default(),
        }
    }
}

impl Config {
    /// Reads and checks a config file; an unknown format version is refused.
    pub fn load(path: &Path) -> Result<Config, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io("reading", path, e))?;
        let config: Config = toml::from_str(&text).map_err(|e| Error::Config {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        if config.core.format_version != FORMAT_VERSION || config.core.digest != "sha256" {
            return Err(Error::Config {
                path: path.to_path_buf(),
                message: format!(
                    "format_version {} / digest {} is not supported (this msez reads version {FORMAT_VERSION}, sha256)",
                    config.core.format_version, config.core.digest
                ),
            });
        }
        Ok(config)
    }

    /// The TOML text of this config.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("the config serializes to TOML")
    }
}
