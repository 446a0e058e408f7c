//! The Google Workspace lab: `steward lab serve` hosts one emulated tenant per org file
//! that has a `google:` section, with service-account keys generated into the secrets
//! folder by `steward lab init`. Built by Google's published discovery documents.

pub mod directory;
pub mod mask;

use openssl::pkey::PKey;

use crate::pool::Pool;
use crate::providers::google::auth::generate_key;
use crate::secrets::Secrets;
use crate::yaml;

pub use directory::{Faults, Lab, TenantSpec};

use super::{Emulator, LabError};

pub static EMULATOR: Emulator = Emulator {
    name: "google",
    default_port: 8089,
    url_env: "STEWARD_GOOGLE_URL",
    prepare: |pool, create| {
        let (tenants, created) = tenants(pool, create)?;
        Ok((format!("{} tenant(s)", tenants.len()), created))
    },
    start: |pool, faults, port| {
        let tenants = tenants(pool, false).map(|(t, _)| t);
        let faults = faults.clone();
        Box::pin(async move {
            let lab = Lab::new(tenants?, faults).map_err(LabError::Io)?;
            let addr = directory::start(lab, port)
                .await
                .map_err(|e| LabError::Io(format!("cannot listen on port {port}: {e}")))?;
            Ok(Some(super::Served::at(&EMULATOR, addr, "http")))
        })
    },
};

/// The service-account e-mail the lab gives an org.
pub fn client_email(org: &str) -> String {
    format!("steward@{org}.iam.gserviceaccount.com")
}

/// Reads each org file's `google:` section (loosely: the lab must start even when an
/// org file does not validate yet) and, with `generate`, writes a new service-account
/// key for each one whose secret is missing. Returns the tenants to host.
pub fn tenants(pool: &Pool, generate: bool) -> Result<(Vec<TenantSpec>, Vec<String>), LabError> {
    let secrets = Secrets::new(&pool.secrets_dir(), &pool.config.secrets.env_prefix);
    let files =
        crate::org::discover(pool).map_err(|e| LabError::Io(format!("cannot list orgs: {e}")))?;
    let mut tenants = Vec::new();
    let mut created = Vec::new();
    for file in files {
        let shown = pool.display_path(&file).display().to_string();
        let org_err = |message: String| LabError::Org {
            file: shown.clone(),
            message,
        };
        let text = std::fs::read_to_string(&file).map_err(|e| org_err(e.to_string()))?;
        let Ok(root) = yaml::parse(&text) else {
            continue;
        };
        let v = root.to_json();
        let g = &v["google"];
        if !g.is_object() {
            continue;
        }
        let org = v["org"].as_str().unwrap_or_default().to_string();
        let mut domains: Vec<String> = g["domain"]
            .as_str()
            .map(|d| vec![d.to_ascii_lowercase()])
            .unwrap_or_default();
        if let Some(list) = g["domains"].as_array() {
            domains.extend(
                list.iter()
                    .filter_map(|d| d.as_str())
                    .map(str::to_ascii_lowercase),
            );
        }
        let Some(secret) = g["credentials"]
            .as_str()
            .and_then(crate::secrets::reference)
        else {
            continue;
        };
        if !crate::secrets::valid_name(secret) {
            continue;
        }
        let key_json = match secrets.resolve(secret) {
            Ok(s) => s.expose().to_string(),
            Err(_) if generate => {
                let (key, _) = generate_key(&client_email(&org), &format!("lab-{org}"))
                    .map_err(|e| org_err(e.to_string()))?;
                let path = secrets.file(secret);
                crate::util::write_atomic(&path, key.as_bytes(), 0o600)
                    .map_err(|e| org_err(format!("cannot write {}: {e}", path.display())))?;
                created.push(pool.display_path(&path).display().to_string());
                key
            }
            Err(e) => {
                return Err(org_err(format!(
                    "{e} (run `steward lab init` to create lab keys)"
                )));
            }
        };
        let key: serde_json::Value = serde_json::from_str(&key_json).map_err(|_| {
            org_err(format!(
                "secret `{secret}` is not a service-account key (JSON)"
            ))
        })?;
        let pem = key["private_key"].as_str().unwrap_or_default();
        let public = PKey::private_key_from_pem(pem.as_bytes())
            .and_then(|k| k.public_key_to_pem())
            .map_err(|_| org_err(format!("secret `{secret}` has no usable private_key")))?;
        tenants.push(TenantSpec {
            customer_id: g["customer_id"].as_str().unwrap_or_default().to_string(),
            domains,
            admin: g["admin"].as_str().unwrap_or_default().to_ascii_lowercase(),
            client_email: key["client_email"].as_str().unwrap_or_default().to_string(),
            public_key_pem: String::from_utf8_lossy(&public).into_owned(),
            delegation: true,
        });
    }
    Ok((tenants, created))
}
