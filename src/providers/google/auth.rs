//! Service-account authentication: an RS256-signed JWT exchanged for an access token.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::sign::Signer;
use serde::Deserialize;
use serde_json::json;

use crate::secrets::Secret;

/// The scopes Steward asks for: users, groups and members, org units.
pub const SCOPES: &[&str] = &[
    "https://www.googleapis.com/auth/admin.directory.user",
    "https://www.googleapis.com/auth/admin.directory.group",
    "https://www.googleapis.com/auth/admin.directory.orgunit",
    // Signing a leaver out, revoking their tokens and app passwords.
    "https://www.googleapis.com/auth/admin.directory.user.security",
    // Handing a leaver's Drive files and calendars to a colleague.
    "https://www.googleapis.com/auth/admin.datatransfer",
];

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the service-account key is not valid JSON with client_email and private_key")]
    Json,
    #[error("the service-account key's private_key is not a usable RSA key")]
    Pem,
    #[error("signing the token request failed: {0}")]
    Sign(String),
}

#[derive(Deserialize)]
struct KeyFile {
    client_email: String,
    private_key: String,
    #[serde(default)]
    private_key_id: Option<String>,
}

/// A parsed service-account key. The private key never leaves this value.
pub struct ServiceAccount {
    pub client_email: String,
    key_id: Option<String>,
    key: PKey<Private>,
}

impl std::fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("client_email", &self.client_email)
            .finish_non_exhaustive()
    }
}

impl ServiceAccount {
    pub fn from_secret(secret: &Secret) -> Result<Self, KeyError> {
        let file: KeyFile = serde_json::from_str(secret.expose()).map_err(|_| KeyError::Json)?;
        let key =
            PKey::private_key_from_pem(file.private_key.as_bytes()).map_err(|_| KeyError::Pem)?;
        Ok(ServiceAccount {
            client_email: file.client_email,
            key_id: file.private_key_id,
            key,
        })
    }

    /// The signed assertion for the JWT-bearer grant, impersonating `subject`.
    pub fn assertion(&self, subject: &str, audience: &str, now: u64) -> Result<String, KeyError> {
        let mut header = json!({"alg": "RS256", "typ": "JWT"});
        if let Some(kid) = &self.key_id {
            header["kid"] = json!(kid);
        }
        let claims = json!({
            "iss": self.client_email,
            "sub": subject,
            "scope": SCOPES.join(" "),
            "aud": audience,
            "iat": now,
            "exp": now + 3600,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signer = Signer::new(MessageDigest::sha256(), &self.key)
            .map_err(|e| KeyError::Sign(e.to_string()))?;
        signer
            .update(signing_input.as_bytes())
            .map_err(|e| KeyError::Sign(e.to_string()))?;
        let sig = signer
            .sign_to_vec()
            .map_err(|e| KeyError::Sign(e.to_string()))?;
        Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig)))
    }
}

/// A new service-account key file (JSON) and its public key (PEM), for the lab.
pub fn generate_key(client_email: &str, key_id: &str) -> Result<(String, String), KeyError> {
    let rsa = openssl::rsa::Rsa::generate(2048).map_err(|e| KeyError::Sign(e.to_string()))?;
    let key = PKey::from_rsa(rsa).map_err(|e| KeyError::Sign(e.to_string()))?;
    let private = key
        .private_key_to_pem_pkcs8()
        .map_err(|e| KeyError::Sign(e.to_string()))?;
    let public = key
        .public_key_to_pem()
        .map_err(|e| KeyError::Sign(e.to_string()))?;
    let file = json!({
        "type": "service_account",
        "project_id": "steward-lab",
        "private_key_id": key_id,
        "private_key": String::from_utf8_lossy(&private),
        "client_email": client_email,
        "client_id": "100000000000000000000",
        "token_uri": "https://oauth2.googleapis.com/token",
    });
    Ok((
        serde_json::to_string_pretty(&file).map_err(|e| KeyError::Sign(e.to_string()))?,
        String::from_utf8_lossy(&public).into_owned(),
    ))
}
