//! The AWS configuration chain, resolved as the AWS CLI resolves it.
//!
//! Storage teams configure `aws`, `rclone` and `restic` once, in the environment and in
//! `~/.aws/{config,credentials}`; an S3 remote reads the same places in the same order:
//!
//! - **profile**: the remote's `profile`, else `AWS_PROFILE`, else `AWS_DEFAULT_PROFILE`, else
//!   `default`. A profile named explicitly must exist in one of the files.
//! - **credentials**: environment keys (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//!   `AWS_SESSION_TOKEN`; skipped when the remote names a profile, as `aws --profile` skips
//!   them), web identity from the environment (`AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`),
//!   the profile's keys (credentials file first, then config file), the profile's web identity,
//!   container credentials (`AWS_CONTAINER_CREDENTIALS_*`), and last the EC2 metadata service,
//!   only when nothing else is configured, and only if it answers within one second
//!   (`AWS_EC2_METADATA_DISABLED=true` skips it).
//! - **region**: the remote's, `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's `region`,
//!   else `us-east-1`.
//! - **endpoint**: the remote's, else (unless `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`)
//!   `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`, the profile's `services` section's
//!   `s3 = endpoint_url`, the profile's `endpoint_url`; else AWS itself.
//!
//! The files are parsed here rather than with a generic INI crate: the AWS format nests
//! per-service settings under an indented `s3 =` line, which INI parsers read as a
//! continuation or reject.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::Error;

/// The per-remote S3 settings (`[remote.NAME]` in `.msez/config`); unset ones come from the
/// AWS chain.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    /// The endpoint URL (`http://127.0.0.1:9000`), above every AWS setting.
    pub endpoint: Option<String>,
    /// The region.
    pub region: Option<String>,
    /// The AWS profile; environment keys are then ignored, as with `aws --profile`.
    pub profile: Option<String>,
    /// Path-style (`true`) or virtual-hosted (`false`) addressing; default path-style.
    pub path_style: Option<bool>,
    /// Allow a plain-http endpoint that is not loopback.
    pub allow_http: bool,
    /// Give up on one request after this long.
    pub timeout: Option<Duration>,
    /// Give up on connecting after this long.
    pub connect_timeout: Option<Duration>,
    /// The server's `If-Match` is atomic: ref moves go without a lock object
    /// ([`super::reflock`]), one request fewer each.
    pub atomic_if_match: bool,
}

impl Settings {
    /// The S3 settings of a `[remote.NAME]` entry (durations are humantime text).
    pub fn from_config(remote: &crate::odb::RemoteConfig) -> Result<Settings, Error> {
        // An endpoint is stored in .msez/config and shown by -v: no userinfo, no query.
        if let Some(e) = remote
            .endpoint
            .as_deref()
            .filter(|e| super::url::has_secret(e))
        {
            return Err(Error::BadUrl {
                url: super::Url::redact(e),
                why: super::url::CREDENTIALS.to_string(),
            });
        }
        let duration = |field: &str, text: &Option<String>| {
            text.as_deref()
                .map(|t| {
                    humantime::parse_duration(t).map_err(|e| Error::S3Config {
                        what: remote.url.clone(),
                        message: format!("{field} {t:?} in the repository config: {e}"),
                    })
                })
                .transpose()
        };
        Ok(Settings {
            endpoint: remote.endpoint.clone(),
            region: remote.region.clone(),
            profile: remote.profile.clone(),
            path_style: remote.path_style,
            allow_http: remote.allow_http,
            timeout: duration("timeout", &remote.timeout)?,
            connect_timeout: duration("connect_timeout", &remote.connect_timeout)?,
            atomic_if_match: remote.atomic_if_match,
        })
    }
}

/// Where the credentials come from.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// Access keys (and a session token).
    Static {
        key: String,
        secret: String,
        token: Option<String>,
    },
    /// AssumeRoleWithWebIdentity.
    WebIdentity {
        token_file: String,
        role_arn: String,
        session_name: Option<String>,
    },
    /// The container credentials endpoint (ECS, EKS pod identity), from the environment.
    Container,
    /// The EC2 instance metadata service at this endpoint.
    Instance { endpoint: String },
}

impl std::fmt::Debug for Credentials {
    // Secrets never reach a debug print.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Static { key, .. } => write!(f, "Static({key}, <secret>)"),
            Credentials::WebIdentity { role_arn, .. } => write!(f, "WebIdentity({role_arn})"),
            Credentials::Container => f.write_str("Container"),
            Credentials::Instance { endpoint } => write!(f, "Instance({endpoint})"),
        }
    }
}

/// What the chain resolved to.
#[derive(Clone, Debug)]
pub struct Resolved {
    /// The credentials.
    pub credentials: Credentials,
    /// Where they were found (`environment`, `profile ci in /root/.aws/credentials`).
    pub source: String,
    /// The region.
    pub region: String,
    /// The endpoint, when not AWS itself.
    pub endpoint: Option<String>,
    /// Whether plain http is allowed (loopback endpoint, `AWS_ALLOW_HTTP=true`, the remote's
    /// `allow_http`).
    pub allow_http: bool,
    /// Virtual-hosted-style requests.
    pub virtual_hosted: bool,
}

/// One parsed section of an AWS config or credentials file.
#[derive(Clone, Debug, Default)]
struct Section {
    props: HashMap<String, String>,
    /// Indented sub-properties under `name =` (`s3 =\n  endpoint_url = ...`).
    nested: HashMap<String, HashMap<String, String>>,
}

/// Sections by their header text (`default`, `profile ci`, `services local`).
type Sections = HashMap<String, Section>;

/// Parses the AWS shared-file format: `[section]`, `key = value`, `#`/`;` comments, and
/// indented sub-properties under a key with an empty value.
fn parse(text: &str) -> Sections {
    let mut out = Sections::new();
    let mut current: Option<String> = None;
    let mut parent: Option<String> = None;
    for raw in text.lines() {
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if trimmed.starts_with('[') {
            let name = trimmed
                .trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            out.entry(name.clone()).or_default();
            current = Some(name);
            parent = None;
            continue;
        }
        let Some(section) = current.as_ref().and_then(|c| out.get_mut(c)) else {
            continue;
        };
        let Some((key, value)) = trimmed.split_once('=') else {
            continue;
        };
        let key = key.trim().to_ascii_lowercase();
        // An inline comment needs whitespace before it (`key = a#b` keeps its `#`).
        let value = value
            .split(" #")
            .next()
            .unwrap_or("")
            .split(" ;")
            .next()
            .unwrap_or("")
            .trim()
            .to_string();
        let indented = raw.starts_with([' ', '\t']);
        match (&parent, indented) {
            (Some(p), true) => {
                section
                    .nested
                    .entry(p.clone())
                    .or_default()
                    .insert(key, value);
            }
            _ if value.is_empty() => {
                parent = Some(key.clone());
                section.props.insert(key, value);
            }
            _ => {
                parent = None;
                section.props.insert(key, value);
            }
        }
    }
    out
}

/// The process environment, or a test's.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// A shared file: its path (from its variable or the default under `~/.aws`) and its sections
/// (None: absent or unreadable).
fn shared_file(env: Env, var: &str, name: &str) -> (PathBuf, Option<Sections>) {
    let path = match env(var) {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env("HOME").unwrap_or_default())
            .join(".aws")
            .join(name),
    };
    let sections = std::fs::read_to_string(&path).ok().map(|t| parse(&t));
    (path, sections)
}

fn truthy(v: Option<String>) -> bool {
    v.is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// Whether `url`'s host is loopback (plain http there cannot leave the machine).
pub fn is_loopback(url: &str) -> bool {
    let host = host_port(url).0;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `(host, port)` of an `http(s)://host[:port]/...` URL (the port defaults by scheme).
fn host_port(url: &str) -> (String, u16) {
    let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let default = if scheme.eq_ignore_ascii_case("https") {
        443
    } else {
        80
    };
    // `[::1]:9000`, `host:9000`, `host`.
    if let Some(v6) = authority.strip_prefix('[') {
        let (h, p) = v6.split_once(']').unwrap_or((v6, ""));
        let port = p.strip_prefix(':').and_then(|p| p.parse().ok());
        return (format!("[{h}]"), port.unwrap_or(default));
    }
    match authority.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), p.parse().unwrap_or(default)),
        None => (authority.to_string(), default),
    }
}

/// The metadata service's default endpoint.
pub const METADATA_ENDPOINT: &str = "http://169.254.169.254";
/// How long the metadata service gets to answer before the chain gives up on it.
pub const METADATA_WAIT: Duration = Duration::from_secs(1);

/// Whether an IMDSv2 token request at `endpoint` gets any HTTP answer within `wait`.
fn metadata_answers(endpoint: &str, wait: Duration) -> bool {
    let start = Instant::now();
    let (host, port) = host_port(endpoint);
    let Ok(addrs) = (host.as_str(), port).to_socket_addrs() else {
        return false;
    };
    for addr in addrs {
        let left = wait.saturating_sub(start.elapsed());
        if left.is_zero() {
            return false;
        }
        let Ok(mut s) = TcpStream::connect_timeout(&addr, left) else {
            continue;
        };
        let left = wait
            .saturating_sub(start.elapsed())
            .max(Duration::from_millis(1));
        let _ = s.set_read_timeout(Some(left));
        let _ = s.set_write_timeout(Some(left));
        let request = format!(
            "PUT /latest/api/token HTTP/1.1\r\nHost: {host}\r\n\
             X-aws-ec2-metadata-token-ttl-seconds: 60\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        let mut head = [0u8; 5];
        return s.write_all(request.as_bytes()).is_ok()
            && s.read_exact(&mut head).is_ok()
            && &head == b"HTTP/";
    }
    false
}

/// The profile a remote uses and the two shared files it may be in.
struct Profile {
    name: String,
    config_path: PathBuf,
    config: Option<Sections>,
    creds_path: PathBuf,
    creds: Option<Sections>,
}

impl Profile {
    /// The profile of `settings` or the environment (else `default`); one named explicitly
    /// must exist in one of the files.
    fn load(settings: &Settings, env: Env, what: &str) -> Result<Profile, Error> {
        let (config_path, config) = shared_file(env, "AWS_CONFIG_FILE", "config");
        let (creds_path, creds) = shared_file(env, "AWS_SHARED_CREDENTIALS_FILE", "credentials");
        let explicit = settings
            .profile
            .clone()
            .or_else(|| env("AWS_PROFILE"))
            .or_else(|| env("AWS_DEFAULT_PROFILE"));
        let p = Profile {
            name: explicit.clone().unwrap_or_else(|| "default".to_string()),
            config_path,
            config,
            creds_path,
            creds,
        };
        if explicit.is_some() && p.in_config().is_none() && p.in_creds().is_none() {
            return Err(Error::S3Config {
                what: what.to_string(),
                message: format!(
                    "the config profile ({}) could not be found in {} or {}",
                    p.name,
                    p.config_path.display(),
                    p.creds_path.display()
                ),
            });
        }
        Ok(p)
    }

    /// The profile's section of the config file (`[profile NAME]`, or `[default]`).
    fn in_config(&self) -> Option<&Section> {
        let c = self.config.as_ref()?;
        if self.name == "default" {
            c.get("default").or_else(|| c.get("profile default"))
        } else {
            c.get(&format!("profile {}", self.name))
        }
    }

    /// The profile's section of the credentials file.
    fn in_creds(&self) -> Option<&Section> {
        self.creds.as_ref().and_then(|c| c.get(&self.name))
    }

    /// A property; credentials-file values win over config-file ones, as in the AWS CLI.
    fn prop(&self, k: &str) -> Option<String> {
        self.in_creds()
            .and_then(|s| s.props.get(k))
            .or_else(|| self.in_config().and_then(|s| s.props.get(k)))
            .filter(|v| !v.is_empty())
            .cloned()
    }

    /// An S3 property: the profile's `services` section's `s3 =` block, then its own.
    fn s3_prop(&self, k: &str) -> Option<String> {
        let services = self.prop("services").and_then(|name| {
            self.config
                .as_ref()
                .and_then(|c| c.get(&format!("services {name}")))
                .and_then(|s| s.nested.get("s3"))
                .and_then(|s3| s3.get(k))
                .cloned()
        });
        services.or_else(|| {
            self.in_config()
                .and_then(|s| s.nested.get("s3"))
                .and_then(|s3| s3.get(k))
                .cloned()
        })
    }

    /// Where the profile was looked for, for the error that found no credentials.
    fn looked_in(&self) -> String {
        let where_ = |file: &Option<Sections>, here: bool, path: &PathBuf| match (file, here) {
            (None, _) => format!("{} (absent)", path.display()),
            (Some(_), false) => format!("{} (no such profile)", path.display()),
            (Some(_), true) => path.display().to_string(),
        };
        let unsupported = ["source_profile", "sso_session", "sso_start_url"]
            .iter()
            .filter(|k| self.prop(k).is_some())
            .copied()
            .collect::<Vec<_>>();
        format!(
            "profile {} in {} and {}{}",
            self.name,
            where_(&self.creds, self.in_creds().is_some(), &self.creds_path),
            where_(&self.config, self.in_config().is_some(), &self.config_path),
            if unsupported.is_empty() {
                String::new()
            } else {
                format!(" ({} not supported by msez)", unsupported.join(", "))
            }
        )
    }
}

/// The endpoint and whether plain http may be used: a plain-http endpoint must be loopback or
/// allowed explicitly.
fn endpoint(
    settings: &Settings,
    env: Env,
    profile: &Profile,
    what: &str,
) -> Result<(Option<String>, bool), Error> {
    let configured_endpoint = || {
        if truthy(env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")) {
            return None;
        }
        env("AWS_ENDPOINT_URL_S3")
            .or_else(|| env("AWS_ENDPOINT_URL"))
            // object_store's name, which msez documented before.
            .or_else(|| env("AWS_ENDPOINT"))
            .or_else(|| profile.s3_prop("endpoint_url").filter(|v| !v.is_empty()))
            .or_else(|| profile.prop("endpoint_url"))
    };
    let endpoint = settings.endpoint.clone().or_else(configured_endpoint);
    let mut allow_http = settings.allow_http || truthy(env("AWS_ALLOW_HTTP"));
    if let Some(e) = &endpoint {
        if e.to_ascii_lowercase().starts_with("http://") {
            if is_loopback(e) {
                allow_http = true;
            } else if !allow_http {
                return Err(Error::S3Config {
                    what: what.to_string(),
                    message: format!(
                        "the endpoint {e} is plain http and not loopback; allow it with \
                         AWS_ALLOW_HTTP=true or `msez remote add ... --allow-http`"
                    ),
                });
            }
        }
    }
    Ok((endpoint, allow_http))
}

/// Credentials and where they were found.
type Found = (Credentials, String);

/// Credentials from the environment: access keys, then a web identity.
fn from_environment(env: Env, tried: &mut Vec<String>) -> Option<Found> {
    match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        (Some(key), Some(secret)) => {
            let token = env("AWS_SESSION_TOKEN");
            return Some((
                Credentials::Static { key, secret, token },
                "environment".into(),
            ));
        }
        (Some(_), None) => tried
            .push("environment (AWS_ACCESS_KEY_ID set, AWS_SECRET_ACCESS_KEY missing)".to_string()),
        (None, Some(_)) => tried
            .push("environment (AWS_SECRET_ACCESS_KEY set, AWS_ACCESS_KEY_ID missing)".to_string()),
        (None, None) => {
            tried.push("environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)".to_string())
        }
    }
    if let (Some(token_file), Some(role_arn)) =
        (env("AWS_WEB_IDENTITY_TOKEN_FILE"), env("AWS_ROLE_ARN"))
    {
        let session_name = env("AWS_ROLE_SESSION_NAME");
        return Some((
            Credentials::WebIdentity {
                token_file,
                role_arn,
                session_name,
            },
            "web identity (environment)".into(),
        ));
    }
    tried.push("web identity (AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN)".to_string());
    None
}

/// Runs a profile's `credential_process` (as the AWS CLI does: the command line split like a
/// shell's words, run without a shell) and reads the credentials it prints: `{"Version": 1,
/// "AccessKeyId", "SecretAccessKey", "SessionToken"?, "Expiration"?}`. Its output is a secret:
/// no error repeats it.
fn credential_process(p: &Profile, command: &str, what: &str) -> Result<Found, Error> {
    let fail = |why: String| Error::CredentialProcess {
        what: what.to_string(),
        profile: p.name.clone(),
        why,
    };
    let words = split_words(command).ok_or_else(|| fail("unbalanced quotes".into()))?;
    let (program, args) = words
        .split_first()
        .ok_or_else(|| fail("an empty command".into()))?;
    let out = std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| fail(format!("running {program}: {e}")))?;
    if !out.status.success() {
        // Its last word on stderr says why (the one line of our error carries it).
        let said = String::from_utf8_lossy(&out.stderr);
        let last = said
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        let last: String = last.trim().chars().take(200).collect();
        return Err(fail(match last.is_empty() {
            true => format!("{program} exited with {}", out.status),
            false => format!("{program} exited with {}: {last}", out.status),
        }));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|_| fail(format!("{program} printed no JSON")))?;
    let text = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    if v.get("Version").and_then(|x| x.as_u64()) != Some(1) {
        return Err(fail(format!("{program} printed no \"Version\": 1")));
    }
    let (Some(key), Some(secret)) = (text("AccessKeyId"), text("SecretAccessKey")) else {
        return Err(fail(format!(
            "{program} printed no AccessKeyId and SecretAccessKey"
        )));
    };
    Ok((
        Credentials::Static {
            key,
            secret,
            token: text("SessionToken"),
        },
        format!("credential_process of profile {}", p.name),
    ))
}

/// A command line's words, with '…' and "…" quoting and backslash escapes as a POSIX shell
/// reads them (no expansion); None on an unclosed quote.
fn split_words(line: &str) -> Option<Vec<String>> {
    let (mut words, mut word, mut any) = (Vec::new(), String::new(), false);
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                any = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        c => word.push(c),
                    }
                }
            }
            '"' => {
                any = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => word.push(chars.next()?),
                        c => word.push(c),
                    }
                }
            }
            '\\' => {
                any = true;
                word.push(chars.next()?);
            }
            c if c.is_whitespace() => {
                if any {
                    words.push(std::mem::take(&mut word));
                    any = false;
                }
            }
            c => {
                any = true;
                word.push(c);
            }
        }
    }
    if any {
        words.push(word);
    }
    Some(words)
}

/// Credentials from the profile: access keys, then a web identity.
fn from_profile(p: &Profile, tried: &mut Vec<String>) -> Option<Found> {
    if let (Some(key), Some(secret)) =
        (p.prop("aws_access_key_id"), p.prop("aws_secret_access_key"))
    {
        let from = if p
            .in_creds()
            .is_some_and(|s| s.props.contains_key("aws_access_key_id"))
        {
            &p.creds_path
        } else {
            &p.config_path
        };
        let token = p.prop("aws_session_token");
        return Some((
            Credentials::Static { key, secret, token },
            format!("profile {} in {}", p.name, from.display()),
        ));
    }
    if let (Some(token_file), Some(role_arn)) =
        (p.prop("web_identity_token_file"), p.prop("role_arn"))
    {
        return Some((
            Credentials::WebIdentity {
                token_file,
                role_arn,
                session_name: p.prop("role_session_name"),
            },
            format!("web identity of profile {}", p.name),
        ));
    }
    tried.push(p.looked_in());
    None
}

/// Credentials of the machine: a container's, then EC2 instance metadata.
fn from_host(env: Env, p: &Profile, tried: &mut Vec<String>) -> Option<Found> {
    if env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI").is_some()
        || (env("AWS_CONTAINER_CREDENTIALS_FULL_URI").is_some()
            && env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE").is_some())
    {
        return Some((Credentials::Container, "container credentials".into()));
    }
    tried.push("container (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI)".to_string());
    if truthy(env("AWS_EC2_METADATA_DISABLED")) {
        tried.push("EC2 metadata (disabled by AWS_EC2_METADATA_DISABLED)".to_string());
        return None;
    }
    let endpoint = env("AWS_EC2_METADATA_SERVICE_ENDPOINT")
        .or_else(|| p.prop("ec2_metadata_service_endpoint"))
        .unwrap_or_else(|| METADATA_ENDPOINT.to_string());
    let endpoint = endpoint.trim_end_matches('/').to_string();
    if metadata_answers(&endpoint, METADATA_WAIT) {
        return Some((
            Credentials::Instance {
                endpoint: endpoint.clone(),
            },
            format!("EC2 metadata at {endpoint}"),
        ));
    }
    tried.push(format!(
        "EC2 metadata at {endpoint} (no answer within {} s)",
        METADATA_WAIT.as_secs()
    ));
    None
}

/// Resolves the chain for one remote (`what` names it in errors: `s3://bucket/prefix`).
pub fn resolve(settings: &Settings, env: Env, what: &str) -> Result<Resolved, Error> {
    let env = |k: &str| env(k).filter(|v| !v.is_empty());
    let env: Env = &env;
    let profile = Profile::load(settings, env, what)?;
    let region = settings
        .region
        .clone()
        .or_else(|| env("AWS_REGION"))
        .or_else(|| env("AWS_DEFAULT_REGION"))
        .or_else(|| profile.prop("region"))
        // Local test servers take any region; a missing one would make the client guess.
        .unwrap_or_else(|| "us-east-1".to_string());
    let (endpoint, allow_http) = endpoint(settings, env, &profile, what)?;
    let virtual_hosted = match settings.path_style {
        Some(p) => !p,
        None => profile
            .s3_prop("addressing_style")
            .is_some_and(|s| s == "virtual"),
    };
    let mut tried = Vec::new();
    // An explicit profile skips the environment's credentials, as in the AWS CLI.
    let from_env = settings
        .profile
        .is_none()
        .then(|| from_environment(env, &mut tried))
        .flatten();
    // A credential_process comes after the profile's own keys, as in the AWS CLI.
    let process = match (&from_env, profile.prop("aws_access_key_id")) {
        (None, None) => profile.prop("credential_process"),
        _ => None,
    };
    let found = match (from_env, process) {
        (Some(f), _) => Some(f),
        (None, Some(command)) => Some(credential_process(&profile, &command, what)?),
        (None, None) => {
            from_profile(&profile, &mut tried).or_else(|| from_host(env, &profile, &mut tried))
        }
    };
    let Some((credentials, source)) = found else {
        return Err(Error::NoCredentials {
            what: what.to_string(),
            tried: tried.join("; "),
        });
    };
    Ok(Resolved {
        credentials,
        source,
        region,
        endpoint,
        allow_http,
        virtual_hosted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn a_credential_process_line_splits_into_words_as_a_shell_reads_it() {
        let w = |s: &str| split_words(s).map(|v| v.join("|"));
        assert_eq!(w("helper --for msez").as_deref(), Some("helper|--for|msez"));
        assert_eq!(
            w(r#""/opt/my tools/h" 'a b' c\ d"#).as_deref(),
            Some("/opt/my tools/h|a b|c d")
        );
        assert_eq!(w(r#"h "" x"#).as_deref(), Some("h||x"));
        assert_eq!(w("  ").as_deref(), Some(""));
        assert_eq!(w("h 'unclosed"), None);
    }

    #[test]
    fn the_shared_files_nest_service_settings_and_credentials_win() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config");
        let creds = dir.path().join("credentials");
        std::fs::write(
            &config,
            "[default]\nregion = eu-west-1\n\n[profile ci]  \nregion = eu-north-1 # comment\n\
             services = local\naws_access_key_id = FROMCONFIG\naws_secret_access_key = x\n\
             s3 =\n  addressing_style = virtual\n\n[services local]\ns3 =\n  endpoint_url = http://127.0.0.1:9000\n",
        )
        .unwrap();
        std::fs::write(
            &creds,
            "[ci]\naws_access_key_id = AKIACI\naws_secret_access_key = s#cret\n",
        )
        .unwrap();
        let env = env_of(&[
            ("AWS_CONFIG_FILE", config.to_str().unwrap()),
            ("AWS_SHARED_CREDENTIALS_FILE", creds.to_str().unwrap()),
            ("AWS_PROFILE", "ci"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ]);
        let r = resolve(&Settings::default(), &env, "s3://b").unwrap();
        assert_eq!(r.region, "eu-north-1");
        assert_eq!(r.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert!(r.allow_http && r.virtual_hosted);
        assert_eq!(
            r.credentials,
            Credentials::Static {
                key: "AKIACI".into(),
                secret: "s#cret".into(),
                token: None
            }
        );
        assert!(r.source.contains("profile ci in") && r.source.ends_with("credentials"));

        // The remote's settings come first; a missing profile is an error, not a fallback.
        let settings = Settings {
            region: Some("r1".into()),
            path_style: Some(true),
            ..Settings::default()
        };
        let r = resolve(&settings, &env, "s3://b").unwrap();
        assert!(r.region == "r1" && !r.virtual_hosted);
        let missing = Settings {
            profile: Some("nope".into()),
            ..Settings::default()
        };
        let e = resolve(&missing, &env, "s3://b").unwrap_err().to_string();
        assert!(e.contains("profile (nope) could not be found"), "{e}");
    }

    #[test]
    fn nothing_configured_lists_what_was_tried_and_plain_http_needs_a_flag() {
        let env = env_of(&[
            ("HOME", "/nonexistent"),
            // A closed loopback port: refused at once.
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9"),
        ]);
        let e = resolve(&Settings::default(), &env, "s3://b")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no credentials found"), "{e}");
        for what in [
            "environment",
            "web identity",
            "profile default",
            "EC2 metadata",
        ] {
            assert!(e.contains(what), "{what} missing from {e}");
        }
        let env = env_of(&[
            ("AWS_ACCESS_KEY_ID", "k"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
            ("AWS_ENDPOINT_URL", "http://s3.example.net"),
        ]);
        let e = resolve(&Settings::default(), &env, "s3://b")
            .unwrap_err()
            .to_string();
        assert!(e.contains("AWS_ALLOW_HTTP=true"), "{e}");
        let allowed = Settings {
            allow_http: true,
            ..Settings::default()
        };
        assert!(resolve(&allowed, &env, "s3://b").unwrap().allow_http);
        assert!(is_loopback("http://[::1]:9000/x") && is_loopback("http://localhost"));
        assert!(!is_loopback("http://127.example.net"));
    }
}
