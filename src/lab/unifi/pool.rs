//! The UniFi lab as `steward lab` runs it for a pool: one controller, as `unifi:` in
//! steward.yaml describes it, with its password, API key and certificate made into the
//! secrets folder by `steward lab init`, and two access points arriving in the site of
//! each org file whose Wi-Fi is on the controller.

use std::collections::BTreeMap;

use super::{Spec, access_point, certificate_fingerprint, new_identity};
use crate::lab::{Emulator, LabError, Served};
use crate::pool::Pool;
use crate::providers::unifi::config::UnifiConfig;
use crate::secrets::Secrets;

pub static EMULATOR: Emulator = Emulator {
    name: "unifi",
    default_port: 8443,
    url_env: "STEWARD_UNIFI_URL",
    prepare: |pool, create| {
        let Some((spec, created)) = spec(pool, create)? else {
            return Ok(("no `unifi:` controller in steward.yaml".into(), Vec::new()));
        };
        Ok((
            format!(
                "a UniFi controller ({} site(s) to come)",
                spec.arrivals.len()
            ),
            created,
        ))
    },
    start: |pool, faults, port| {
        let spec = spec(pool, false);
        let faults = faults.clone();
        Box::pin(async move {
            let Some((mut spec, _)) = spec? else {
                return Ok(None);
            };
            spec.faults = faults;
            let (addr, cert) = super::start(spec, port)
                .await
                .map_err(|e| LabError::Io(format!("cannot listen on port {port}: {e}")))?;
            let url = format!("https://{addr}");
            Ok(Some(Served {
                env: vec![
                    ("STEWARD_UNIFI_URL", url.clone()),
                    ("STEWARD_UNIFI_FINGERPRINT", cert.sha256),
                ],
                url,
            }))
        })
    },
};

/// The secret holding the lab controller's private key and certificate.
pub const IDENTITY_SECRET: &str = "unifi-lab-certificate";

/// The controller the pool describes, or `None` without `unifi.url`. With `create`,
/// writes the lab credentials that are missing.
fn spec(pool: &Pool, create: bool) -> Result<Option<(Spec, Vec<String>)>, LabError> {
    let config: UnifiConfig = pool.provider_settings(crate::providers::unifi::NAME);
    if config.url.is_none() {
        return Ok(None);
    }
    let secrets = Secrets::new(&pool.secrets_dir(), &pool.config.secrets.env_prefix);
    let mut created = Vec::new();
    let mut value = |field: &str,
                     reference: &Option<String>,
                     make: &dyn Fn() -> Result<String, String>| {
        let Some(name) = reference.as_deref().and_then(crate::secrets::reference) else {
            return Ok(None);
        };
        match secrets.resolve(name) {
            Ok(v) => Ok(Some(v.expose().to_string())),
            Err(_) if create => {
                let v = make().map_err(LabError::Io)?;
                let path = secrets.file(name);
                crate::util::write_atomic(&path, v.as_bytes(), 0o600)
                    .map_err(|e| LabError::Io(format!("cannot write {}: {e}", path.display())))?;
                created.push(pool.display_path(&path).display().to_string());
                Ok(Some(v))
            }
            Err(e) => Err(LabError::Io(format!(
                "unifi.{field}: {e} (run `steward lab init` to create the lab's)"
            ))),
        }
    };
    let random = || {
        let mut b = [0u8; 18];
        openssl::rand::rand_bytes(&mut b).map_err(|e| e.to_string())?;
        Ok(b.iter().map(|x| format!("{x:02x}")).collect())
    };
    let password = value("password", &config.password, &random)?.unwrap_or_default();
    let api_key = value("api_key", &config.api_key, &random)?;
    let identity = value(
        "fingerprint",
        &Some(format!("secret:{IDENTITY_SECRET}")),
        &new_identity,
    )?;
    if let Some(pem) = &identity {
        certificate_fingerprint(pem)
            .map_err(|e| LabError::Io(format!("secret `{IDENTITY_SECRET}`: {e}")))?;
    }
    let mut spec = Spec::new(
        config.username.as_deref().unwrap_or("steward"),
        &password,
        false,
        api_key,
    );
    spec.identity = identity;
    spec.arrivals = arrivals(pool)?;
    Ok(Some((spec, created)))
}

/// Two access points for the site of each org file whose Wi-Fi is on the controller
/// (read loosely: the lab starts even when an org file does not validate yet).
fn arrivals(pool: &Pool) -> Result<BTreeMap<String, Vec<serde_json::Value>>, LabError> {
    let files =
        crate::org::discover(pool).map_err(|e| LabError::Io(format!("cannot list orgs: {e}")))?;
    let mut out = BTreeMap::new();
    for (i, file) in files.iter().enumerate() {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        let Ok(root) = crate::yaml::parse(&text) else {
            continue;
        };
        let v = root.to_json();
        if v["modules"]["wifi"]["backend"] != "unifi" {
            continue;
        }
        let org = crate::org::id_from_path(file);
        let n = (i as u32 + 1) * 16;
        out.insert(
            org,
            vec![
                access_point(n + 1, "Hall AP"),
                access_point(n + 2, "Office AP"),
            ],
        );
    }
    Ok(out)
}
