//! TLS for the server: a certificate chain and key from PEM files, or a self-signed development certificate for
//! `localhost` made with rcgen.

use anyhow::{Context as _, bail};
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::Arc;

/// A certificate chain and its private key, ready for a rustls server.
pub struct Identity {
    /// The chain, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    /// The leaf certificate in PEM, for a development certificate (to hand to `doctor --ca-cert` or a browser).
    pub pem: Option<String>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("certificates", &self.chain.len())
            .field("fingerprint", &self.fingerprint())
            .finish()
    }
}

impl Identity {
    /// Reads a PEM certificate chain (leaf first) and a PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub fn from_pem_files(cert: &Path, key: &Path) -> anyhow::Result<Identity> {
        let cert_pem =
            std::fs::read(cert).with_context(|| format!("cannot read the certificate {}", cert.display()))?;
        let key_pem = std::fs::read(key).with_context(|| format!("cannot read the private key {}", key.display()))?;
        let chain = rustls_pemfile::certs(&mut cert_pem.as_slice())
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("{}: not a PEM certificate chain", cert.display()))?;
        if chain.is_empty() {
            bail!("{}: no CERTIFICATE block found", cert.display());
        }
        let key = rustls_pemfile::private_key(&mut key_pem.as_slice())
            .with_context(|| format!("{}: not a PEM private key", key.display()))?
            .with_context(|| format!("{}: no PRIVATE KEY block found", key.display()))?;
        Ok(Identity { chain, key, pem: None })
    }

    /// A self-signed certificate for `names` (host names or IP addresses), valid from now for a year.
    pub fn self_signed(names: &[&str]) -> anyhow::Result<Identity> {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let certified = rcgen::generate_simple_self_signed(names).context("cannot generate a certificate")?;
        let der = certified.cert.der().clone();
        let key = PrivateKeyDer::try_from(certified.signing_key.serialize_der())
            .map_err(|e| anyhow::anyhow!("cannot encode the development key: {e}"))?;
        Ok(Identity { chain: vec![der], key, pem: Some(certified.cert.pem()) })
    }

    /// The development certificate for `localhost`, `127.0.0.1` and `::1`.
    pub fn development() -> anyhow::Result<Identity> {
        Identity::self_signed(&["localhost", "127.0.0.1", "::1"])
    }

    /// The SHA-256 fingerprint of the leaf certificate, as colon-separated hex.
    pub fn fingerprint(&self) -> String {
        self.chain.first().map(|c| fingerprint(c.as_ref())).unwrap_or_default()
    }

    /// A rustls server configuration (TLS 1.2 and 1.3, ALPN `h2` and `http/1.1`).
    pub fn server_config(&self) -> anyhow::Result<Arc<ServerConfig>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), self.key.clone_key())
            .context("the certificate and the private key do not go together")?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// The SHA-256 fingerprint of DER bytes, as colon-separated upper-case hex.
pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der).iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":")
}
