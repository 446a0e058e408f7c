//! `unifi:` in `steward.yaml`: the pool's controller, how to log in, and the
//! certificate it is trusted by.

use serde::Deserialize;

/// Keys left out take their value from `Default`; without `url` the pool has no
/// controller and an org asking for one is refused at validation.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct UnifiConfig {
    /// The controller: `https://unifi.example.org:8443` (a Network Application) or
    /// `https://192.168.1.1` (a UniFi OS console). Which of the two it is, and whether
    /// it has the integration API, is detected.
    pub url: Option<String>,
    /// The SHA-256 fingerprint of the controller's certificate (`AB:CD:…`, as
    /// `openssl x509 -fingerprint -sha256` and browsers show it). Controllers use
    /// self-signed certificates: this one is trusted, and only it, like a known_hosts line.
    pub fingerprint: Option<String>,
    /// A local admin of the controller, for the classic API (sites, Wi-Fi broadcasts,
    /// networks).
    pub username: Option<String>,
    /// `secret:NAME`: that admin's password.
    pub password: Option<String>,
    /// `secret:NAME`: a key for the official integration API (device health). Optional:
    /// without it, or on a controller too old to have that API, the classic API is used.
    pub api_key: Option<String>,
    /// Seconds one request may take.
    pub request_timeout_secs: u64,
    /// Requests in flight at once across all orgs (one controller serves them all).
    pub max_in_flight: usize,
    /// Seconds a request the controller is too busy for (429, 5xx) is asked again for.
    pub retry_for_secs: u64,
    /// The line of `fingerprint` in steward.yaml, for the message that shows how to
    /// trust a renewed certificate.
    #[serde(skip)]
    #[schemars(skip)]
    pub fingerprint_line: Option<usize>,
}

impl Default for UnifiConfig {
    fn default() -> Self {
        UnifiConfig {
            url: None,
            fingerprint: None,
            username: None,
            password: None,
            api_key: None,
            request_timeout_secs: 30,
            max_in_flight: 16,
            retry_for_secs: 60,
            fingerprint_line: None,
        }
    }
}

/// The provider's part of `steward.yaml`, read from the whole file so errors keep their
/// line. `STEWARD_UNIFI_URL` and `STEWARD_UNIFI_FINGERPRINT` point it at the lab, so the
/// pool file can stay production-true; they come from whoever runs Steward, never from
/// a pull request.
pub fn parse(text: &str) -> Result<UnifiConfig, serde_yaml::Error> {
    #[derive(Deserialize)]
    struct Part {
        #[serde(default)]
        unifi: UnifiConfig,
    }
    let mut config = if text.trim().is_empty() {
        UnifiConfig::default()
    } else {
        serde_yaml::from_str::<Part>(text)?.unifi
    };
    config.fingerprint_line = crate::yaml::parse(text).ok().and_then(|root| {
        root.get("unifi")?
            .get("fingerprint")
            .map(|n| crate::yaml::line_col(text, n.span.start).0)
    });
    if let Ok(url) = std::env::var("STEWARD_UNIFI_URL") {
        config.url = Some(url);
    }
    if let Ok(fp) = std::env::var("STEWARD_UNIFI_FINGERPRINT") {
        config.fingerprint = Some(fp);
        config.fingerprint_line = None;
    }
    if let Some(url) = &mut config.url {
        *url = url.trim_end_matches('/').to_string();
    }
    config.max_in_flight = config.max_in_flight.max(1);
    Ok(config)
}

/// A fingerprint as 32 bytes, from `AB:CD:…` or plain hex, any case.
pub fn parse_fingerprint(text: &str) -> Option<[u8; 32]> {
    let hex: String = text.chars().filter(|c| *c != ':').collect();
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// 32 bytes as `AB:CD:…`.
pub fn show_fingerprint(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_read_with_or_without_colons() {
        let shown = show_fingerprint(&[0xab; 32]);
        assert_eq!(parse_fingerprint(&shown), Some([0xab; 32]));
        assert_eq!(parse_fingerprint(&"AB".repeat(32)), Some([0xab; 32]));
        assert_eq!(parse_fingerprint("AB:CD"), None);
        assert_eq!(parse_fingerprint(&"ZZ".repeat(32)), None);
    }
}
