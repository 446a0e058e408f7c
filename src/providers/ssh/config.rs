//! `ssh:` in `steward.yaml`: whose keys to trust and how to log in.

use std::path::PathBuf;

use serde::Deserialize;

/// Keys left out take their value from `Default`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SshConfig {
    /// The OpenSSH known_hosts file every host key is checked against (relative to the
    /// pool root). Keys not in it are refused; nothing is trusted on first use.
    pub known_hosts: PathBuf,
    /// A private key file to log in with (relative to the pool root). The SSH agent
    /// ($SSH_AUTH_SOCK) is tried when there is none or it is refused.
    pub identity_file: Option<PathBuf>,
    pub connect_timeout_secs: u64,
    /// Seconds one remote command may run (a first backup can be long).
    pub command_timeout_secs: u64,
}

impl Default for SshConfig {
    fn default() -> Self {
        SshConfig {
            known_hosts: PathBuf::from("ssh/known_hosts"),
            identity_file: None,
            connect_timeout_secs: 10,
            command_timeout_secs: 3600,
        }
    }
}

/// The provider's part of `steward.yaml`, read from the whole file so errors keep
/// their line.
pub fn parse(text: &str) -> Result<SshConfig, serde_yaml::Error> {
    #[derive(Deserialize)]
    struct Part {
        #[serde(default)]
        ssh: SshConfig,
    }
    if text.trim().is_empty() {
        return Ok(SshConfig::default());
    }
    Ok(serde_yaml::from_str::<Part>(text)?.ssh)
}
