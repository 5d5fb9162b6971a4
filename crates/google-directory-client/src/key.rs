//! The service account key file (JSON) that the Google Cloud console creates.
//!
//! Format: Google Cloud IAM, "Create and delete service account keys"
//! (<https://cloud.google.com/iam/docs/keys-create-delete>): a JSON object with `type` (`"service_account"`),
//! `project_id`, `private_key_id`, `private_key` (a PEM-encoded PKCS #8 RSA key), `client_email`, `client_id`,
//! `auth_uri`, `token_uri` (`https://oauth2.googleapis.com/token`), `auth_provider_x509_cert_url`,
//! `client_x509_cert_url` and `universe_domain`. Only the fields the JWT bearer grant needs are kept.

use ring::signature::RsaKeyPair;
use secrecy::SecretString;
use serde::Deserialize;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use url::Url;

/// Why a key file could not be used. Messages never include the private key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The file could not be read.
    #[error("cannot read the service account key file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The text is not a service account key: the JSON path and what is wrong there.
    #[error("not a Google service account key: `{json_path}`: {message}")]
    Invalid {
        /// Where in the JSON (`.` for the whole document).
        json_path: String,
        /// What is wrong (never the key material).
        message: String,
    },
}

fn invalid(json_path: &str, message: impl Into<String>) -> KeyError {
    KeyError::Invalid { json_path: json_path.to_owned(), message: message.into() }
}

/// The PEM text of the private key, held as a secret from the moment it is read.
struct PemText(SecretString);

impl<'de> Deserialize<'de> for PemText {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<PemText, D::Error> {
        String::deserialize(deserializer).map(|s| PemText(SecretString::from(s)))
    }
}

#[derive(Deserialize)]
struct RawKey {
    #[serde(rename = "type")]
    key_type: String,
    #[serde(default)]
    project_id: Option<String>,
    #[serde(default)]
    private_key_id: Option<String>,
    private_key: PemText,
    client_email: String,
    #[serde(default)]
    client_id: Option<String>,
    token_uri: String,
}

/// A parsed service account key: who the account is, where its tokens come from, and its RSA signing key.
///
/// `Debug` shows the account and the key id, never the private key. The key is checked when the file is read, so
/// a damaged key is reported at start-up rather than at the first token request.
#[derive(Clone)]
pub struct ServiceAccountKey {
    project_id: Option<String>,
    private_key_id: Option<String>,
    client_email: String,
    client_id: Option<String>,
    token_uri: Url,
    signer: Arc<RsaKeyPair>,
}

impl fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("client_email", &self.client_email)
            .field("client_id", &self.client_id)
            .field("project_id", &self.project_id)
            .field("private_key_id", &self.private_key_id)
            .field("token_uri", &self.token_uri.as_str())
            .field("private_key", &"[redacted]")
            .finish()
    }
}

impl ServiceAccountKey {
    /// Reads a key from its JSON text.
    pub fn from_json(text: &str) -> Result<ServiceAccountKey, KeyError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let raw: RawKey = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            // serde's messages quote the offending value; for the private key that would be key material.
            let message = if path == "private_key" { "must be a string".to_owned() } else { e.inner().to_string() };
            invalid(&path, message)
        })?;
        if raw.key_type != "service_account" {
            return Err(invalid(
                "type",
                format!(
                    "is `{}`, not `service_account` (an OAuth client secret file is not a service account key)",
                    raw.key_type
                ),
            ));
        }
        if !raw.client_email.contains('@') {
            return Err(invalid("client_email", format!("`{}` is not an email address", raw.client_email)));
        }
        let token_uri = Url::parse(&raw.token_uri)
            .map_err(|e| invalid("token_uri", format!("`{}` is not a URL: {e}", raw.token_uri)))?;
        if !matches!(token_uri.scheme(), "https" | "http") {
            return Err(invalid("token_uri", format!("`{token_uri}` is not an http(s) URL")));
        }
        let signer = parse_private_key(&raw.private_key.0)?;
        Ok(ServiceAccountKey {
            project_id: raw.project_id,
            private_key_id: raw.private_key_id.filter(|k| !k.is_empty()),
            client_email: raw.client_email,
            client_id: raw.client_id,
            token_uri,
            signer: Arc::new(signer),
        })
    }

    /// Reads a key file.
    pub fn from_file(path: &Path) -> Result<ServiceAccountKey, KeyError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| KeyError::Read { path: path.display().to_string(), source })?;
        ServiceAccountKey::from_json(&text)
    }

    /// The service account's email: the JWT's `iss`.
    pub fn client_email(&self) -> &str {
        &self.client_email
    }

    /// The service account's numeric client id: what an admin enters under "Domain-wide delegation".
    pub fn client_id(&self) -> Option<&str> {
        self.client_id.as_deref()
    }

    /// The Cloud project.
    pub fn project_id(&self) -> Option<&str> {
        self.project_id.as_deref()
    }

    /// The key's id: the JWT header's `kid`.
    pub fn private_key_id(&self) -> Option<&str> {
        self.private_key_id.as_deref()
    }

    /// Where tokens are asked for: the assertion's `aud` and the URL it is posted to.
    pub fn token_uri(&self) -> &Url {
        &self.token_uri
    }

    pub(crate) fn signer(&self) -> &RsaKeyPair {
        &self.signer
    }
}

/// The PEM private key, PKCS #8 (what Google issues) or PKCS #1, as an RSA signing key.
fn parse_private_key(pem: &SecretString) -> Result<RsaKeyPair, KeyError> {
    use rustls_pemfile::Item;
    use secrecy::ExposeSecret;
    let mut reader = pem.expose_secret().as_bytes();
    loop {
        match rustls_pemfile::read_one(&mut reader) {
            Ok(Some(Item::Pkcs8Key(der))) => {
                return RsaKeyPair::from_pkcs8(der.secret_pkcs8_der())
                    .map_err(|e| invalid("private_key", format!("not a usable RSA key: {e}")));
            }
            Ok(Some(Item::Pkcs1Key(der))) => {
                return RsaKeyPair::from_der(der.secret_pkcs1_der())
                    .map_err(|e| invalid("private_key", format!("not a usable RSA key: {e}")));
            }
            Ok(Some(_)) => continue,
            Ok(None) => return Err(invalid("private_key", "holds no PEM private key (-----BEGIN PRIVATE KEY-----)")),
            Err(_) => return Err(invalid("private_key", "is not valid PEM")),
        }
    }
}
