//! The one place msez builds an HTTP client (ureq): timeouts, statuses as values, and TLS.
//!
//! TLS is rustls with the ring provider, as for the S3 client (aws-lc takes far longer to
//! build). A server certificate is trusted when it chains to one of [`trust_roots`]:
//!
//! - Mozilla's root certificates, built in (webpki-root-certs), so public servers work
//!   everywhere, also on a machine without a system store;
//! - the local trust store: the system bundle where OpenSSL would look for it, or instead, when
//!   set, the PEM file named by `SSL_CERT_FILE` and the directories in `SSL_CERT_DIR` (read as
//!   OpenSSL and curl read them). Setting `SSL_CERT_FILE=ca.pem` thus adds a private CA (a test
//!   server, an auditor's mirror) without dropping the public roots.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};

/// The variable naming a PEM file of extra trusted CA certificates.
pub const CERT_FILE_VAR: &str = "SSL_CERT_FILE";
/// The variable naming directories of extra trusted CA certificates.
pub const CERT_DIR_VAR: &str = "SSL_CERT_DIR";

/// The trust roots could not be loaded.
#[derive(Debug, Clone, thiserror::Error)]
#[error("loading trusted CA certificates from {from}: {reason}")]
pub struct TrustError {
    /// Where they were read from (`SSL_CERT_FILE=/path`, ...).
    pub from: String,
    /// What went wrong.
    pub reason: String,
}

/// Whether an agent may verify TLS servers.
pub enum Tls {
    /// Trust these roots (from [`trust_roots`]).
    Roots(Arc<Vec<Certificate<'static>>>),
    /// Plain `http://` only: no root is trusted, so any `https://` server fails verification.
    /// For peers that are never reached over TLS (the IPFS RPC API), which then need not read
    /// a trust store, nor fail on a broken `SSL_CERT_FILE`.
    None,
}

/// Mozilla's roots plus the local trust store (see the module documentation).
///
/// A trust store the user named must load: `SSL_CERT_FILE` must hold at least one PEM
/// certificate and every `SSL_CERT_DIR` directory must be readable. Problems in the system
/// store are ignored (the built-in roots remain).
pub fn trust_roots() -> Result<Arc<Vec<Certificate<'static>>>, TrustError> {
    let mut roots: Vec<Certificate<'static>> = webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .map(|c| Certificate::from_der(c.as_ref()))
        .collect();
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    let (file, dirs) = (var(CERT_FILE_VAR), var(CERT_DIR_VAR));
    let mut local = Vec::new();
    if file.is_none() && dirs.is_none() {
        local = rustls_native_certs::load_native_certs().certs;
    }
    // Each named source is loaded on its own so that an error names the one at fault.
    let named = file
        .iter()
        .map(|f| (CERT_FILE_VAR, Some(Path::new(f)), None))
        .chain(
            dirs.iter()
                .flat_map(std::env::split_paths)
                .filter(|d| !d.as_os_str().is_empty())
                .map(|d| (CERT_DIR_VAR, None, Some(d))),
        );
    for (name, file, dir) in named {
        let from = format!(
            "{name}={}",
            file.or(dir.as_deref()).unwrap_or(Path::new("")).display()
        );
        let loaded = rustls_native_certs::load_certs_from_paths(file, dir.as_deref());
        if let Some(e) = loaded.errors.first() {
            return Err(TrustError {
                from,
                reason: e.to_string(),
            });
        }
        // A file is named to trust something: one without a certificate is a mistake (a key,
        // a DER file), not an empty trust store.
        if file.is_some() && loaded.certs.is_empty() {
            return Err(TrustError {
                from,
                reason: "no PEM certificate in it".into(),
            });
        }
        local.extend(loaded.certs);
    }
    roots.extend(
        local
            .iter()
            .map(|c| Certificate::from_der(c.as_ref()).to_owned()),
    );
    Ok(Arc::new(roots))
}

/// Describes a failed request, saying so plainly when TLS refused the server, and how to
/// trust a private CA when the server's issuer is unknown.
pub fn describe(error: &ureq::Error) -> String {
    // A handshake failure reaches us as an I/O error wrapping rustls' error.
    let tls = match error {
        ureq::Error::Rustls(e) => Some(e),
        ureq::Error::Io(e) => e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>()),
        _ => None,
    };
    match tls {
        Some(e @ rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)) => {
            format!(
                "TLS: {e} (to trust a private CA, set {CERT_FILE_VAR} to a PEM file holding it)"
            )
        }
        Some(e) => format!("TLS: {e}"),
        None => error.to_string(),
    }
}

/// An agent with a whole-request `timeout` that returns 4xx/5xx responses as values (callers
/// name the URL and status in their own errors).
pub fn agent(timeout: Duration, tls: Tls) -> ureq::Agent {
    let roots = match tls {
        Tls::Roots(roots) => RootCerts::Specific(roots),
        Tls::None => RootCerts::Specific(Arc::new(Vec::new())),
    };
    let tls = TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .root_certs(roots)
        .build();
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .tls_config(tls)
        .build()
        .into()
}
