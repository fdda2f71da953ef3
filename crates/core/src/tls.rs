//! Building the redis-rs client, with TLS the way companies run it: the operating system's
//! trust store (a CA the company installed just works), plus an optional CA file, a client
//! certificate for mutual TLS, and a server-name override. There is no "skip verification".
//!
//! redis-rs replaces the trust store when given a root certificate (it does not add to it),
//! so "the OS store plus one CA file" is built here: the OS's certificates and the file's,
//! handed over together. Private keys are read into buffers wiped after use.

use std::net::SocketAddr;
use std::path::Path;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use zeroize::{Zeroize, Zeroizing};

use crate::error::{Error, Result};
use crate::settings::ConnectionSettings;

/// How the server's certificate is checked, in words (the doctor shows it).
pub fn trust_description(settings: &ConnectionSettings) -> String {
    if !settings.tls {
        return "none (plain TCP)".into();
    }
    let o = &settings.tls_options;
    let mut text = match &o.ca_file {
        Some(ca) => format!(
            "certificate checked against the system's trusted CAs and {}",
            ca.display()
        ),
        None => "certificate checked against the system's trusted CAs".into(),
    };
    text.push_str(&format!(
        ", for the name {}",
        o.server_name.as_deref().unwrap_or(&settings.host)
    ));
    if let Some(cert) = &o.cert_file {
        text.push_str(&format!("; client certificate {}", cert.display()));
    }
    text
}

/// The redis-rs client for `settings`.
///
/// # Errors
/// [`Error::Tls`] when a TLS file is missing, unreadable or not PEM, when only one of the
/// certificate and key is given, or when TLS files are given for a plain connection;
/// [`Error::InvalidSettings`]-like [`Error::Redis`] for anything redis-rs refuses.
pub(crate) fn client(settings: &ConnectionSettings) -> Result<redis::Client> {
    client_speaking(settings, redis::ProtocolVersion::RESP3)
}

/// [`client`] speaking `protocol`.
pub(crate) fn client_speaking(
    settings: &ConnectionSettings,
    protocol: redis::ProtocolVersion,
) -> Result<redis::Client> {
    // rustls needs a process-wide crypto provider; a second install is a harmless no-op.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let addr = settings.addr();
    let info = settings
        .connection_info_speaking(protocol)
        .map_err(|e| Error::from_redis(&e, &addr, settings.tls))?;
    let o = &settings.tls_options;
    let fail = |detail: String| Error::Tls {
        addr: addr.clone(),
        detail,
    };
    if !settings.tls {
        if o.is_set() {
            return Err(fail(
                "TLS options are set but the connection string does not use TLS: use rediss:// or ssl=True".into(),
            ));
        }
        return redis::Client::open(info).map_err(|e| Error::from_redis(&e, &addr, false));
    }
    // Always our own root set: redis-rs would otherwise fail every TLS connection on one
    // system certificate it cannot load (or, with the webpki-roots feature this crate turns
    // on for that reason, trust only the compiled-in roots).
    let root_cert = match &o.ca_file {
        Some(ca) => {
            let pem = read(ca, "CA file").map_err(&fail)?;
            let count = CertificateDer::pem_slice_iter(&pem)
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| fail(format!("the CA file {} is not PEM: {e}", ca.display())))?
                .len();
            if count == 0 {
                return Err(fail(format!(
                    "the CA file {} holds no certificate (expected -----BEGIN CERTIFICATE-----)",
                    ca.display()
                )));
            }
            let mut all = system_roots_pem();
            all.extend_from_slice(&pem);
            Some(all)
        }
        None => Some(system_roots_pem()),
    };
    let client_tls = match (&o.cert_file, &o.key_file) {
        (Some(cert), Some(key)) => {
            let cert_pem = read(cert, "client certificate").map_err(&fail)?;
            if CertificateDer::pem_slice_iter(&cert_pem).next().is_none() {
                return Err(fail(format!(
                    "the client certificate {} holds no certificate",
                    cert.display()
                )));
            }
            let key_pem = Zeroizing::new(read(key, "client key").map_err(&fail)?);
            if PrivateKeyDer::from_pem_slice(&key_pem).is_err() {
                return Err(fail(format!(
                    "the client key {} holds no private key (PEM, unencrypted)",
                    key.display()
                )));
            }
            Some(redis::ClientTlsConfig {
                client_cert: cert_pem,
                client_key: key_pem.to_vec(),
            })
        }
        (None, None) => None,
        (Some(_), None) => {
            return Err(fail(
                "a client certificate needs its key too (--tls-key)".into(),
            ));
        }
        (None, Some(_)) => {
            return Err(fail(
                "a client key needs its certificate too (--tls-cert)".into(),
            ));
        }
    };
    let mut certificates = redis::TlsCertificates {
        client_tls,
        root_cert,
    };
    let built = redis::Client::build_with_tls(info, certificates.clone());
    // redis-rs keeps its own parsed copy for as long as the client lives; ours goes now.
    if let Some(c) = certificates.client_tls.as_mut() {
        c.client_key.zeroize();
    }
    built.map_err(|e| fail(format!("the TLS files were refused: {e}")))
}

fn read(path: &Path, what: &str) -> std::result::Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read the {what} {}: {e}", path.display()))
}

/// The operating system's trusted CAs that rustls accepts, as PEM. One that cannot be loaded
/// or parsed is skipped (logged at debug), never fatal.
fn system_roots_pem() -> Vec<u8> {
    use base64::Engine as _;
    let found = rustls_native_certs::load_native_certs();
    for e in &found.errors {
        tracing::debug!("a system CA certificate could not be loaded: {e}");
    }
    let mut pem = Vec::new();
    for cert in found.certs {
        if rustls::RootCertStore::empty().add(cert.clone()).is_err() {
            tracing::debug!("a system CA certificate is not usable as a trust anchor: skipped");
            continue;
        }
        let b64 = base64::engine::general_purpose::STANDARD.encode(cert.as_ref());
        pem.extend_from_slice(b"-----BEGIN CERTIFICATE-----\n");
        for line in b64.as_bytes().chunks(64) {
            pem.extend_from_slice(line);
            pem.push(b'\n');
        }
        pem.extend_from_slice(b"-----END CERTIFICATE-----\n");
    }
    pem
}

/// With a server-name override, redis-rs is told to connect to the certificate's name (so
/// TLS checks that name); this resolver sends the connection to the real host instead.
#[derive(Debug, Clone)]
pub(crate) struct Redirect {
    host: String,
}

impl Redirect {
    /// The redirect `settings` need, if any.
    pub fn of(settings: &ConnectionSettings) -> Option<Redirect> {
        settings
            .tls_options
            .server_name
            .as_ref()
            .filter(|_| settings.tls)
            .map(|_| Redirect {
                host: settings.host.clone(),
            })
    }
}

impl redis::io::AsyncDNSResolver for Redirect {
    fn resolve<'a, 'b: 'a>(
        &'a self,
        _host: &'b str,
        port: u16,
    ) -> redis::RedisFuture<'a, Box<dyn Iterator<Item = SocketAddr> + Send + 'a>> {
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((self.host.as_str(), port)).await?;
            Ok(Box::new(addrs) as Box<dyn Iterator<Item = SocketAddr> + Send>)
        })
    }
}
