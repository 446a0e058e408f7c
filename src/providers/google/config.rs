//! `google:` in `steward.yaml`: where the APIs are and how hard to press them.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GoogleConfig {
    #[serde(default = "default_token_url")]
    pub token_url: String,
    #[serde(default = "default_api_url")]
    pub api_url: String,
    /// Requests in flight at once across all orgs.
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
    /// Requests in flight at once for one org (one customer's quota).
    #[serde(default = "default_per_org_in_flight")]
    pub per_org_in_flight: usize,
    /// Seconds one request may take.
    #[serde(default = "default_timeout")]
    pub request_timeout_secs: u64,
    /// Seconds a request is retried for (429, 5xx, eventual consistency) before giving up.
    #[serde(default = "default_retry_for")]
    pub retry_for_secs: u64,
}

impl Default for GoogleConfig {
    fn default() -> Self {
        GoogleConfig {
            token_url: default_token_url(),
            api_url: default_api_url(),
            max_in_flight: default_max_in_flight(),
            per_org_in_flight: default_per_org_in_flight(),
            request_timeout_secs: default_timeout(),
            retry_for_secs: default_retry_for(),
        }
    }
}

/// The provider's part of `steward.yaml`, read from the whole file so errors keep
/// their line. `STEWARD_GOOGLE_URL` points both endpoints at one base URL (the lab),
/// so the pool file can stay production-true.
pub fn parse(text: &str) -> Result<GoogleConfig, serde_yaml::Error> {
    #[derive(Deserialize)]
    struct Part {
        #[serde(default)]
        google: GoogleConfig,
    }
    let mut config = if text.trim().is_empty() {
        GoogleConfig::default()
    } else {
        serde_yaml::from_str::<Part>(text)?.google
    };
    if let Ok(url) = std::env::var("STEWARD_GOOGLE_URL") {
        let url = url.trim_end_matches('/').to_string();
        config.token_url = format!("{url}/token");
        config.api_url = url;
    }
    config.max_in_flight = config.max_in_flight.max(1);
    config.per_org_in_flight = config.per_org_in_flight.max(1);
    Ok(config)
}

fn default_token_url() -> String {
    "https://oauth2.googleapis.com/token".into()
}
fn default_api_url() -> String {
    "https://admin.googleapis.com".into()
}
fn default_max_in_flight() -> usize {
    128
}
fn default_per_org_in_flight() -> usize {
    16
}
fn default_timeout() -> u64 {
    30
}
fn default_retry_for() -> u64 {
    120
}
