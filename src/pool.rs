//! The pool: `steward.yaml` at the root of the repository, and where things live.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use crate::diag::{Problem, SourceFile};
use crate::yaml::Span;

pub const POOL_FILE: &str = "steward.yaml";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolConfig {
    /// Short id of the pool.
    pub pool: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub secrets: SecretsConfig,
    /// Where locks, generated passwords and other local state go (git-ignored).
    #[serde(default = "default_state_dir")]
    pub state_dir: PathBuf,
    /// Bound on concurrent operations during apply (like Terraform's -parallelism).
    #[serde(default = "default_parallelism")]
    pub parallelism: usize,
    #[serde(default)]
    pub google: GoogleConfig,
    /// How on-site hosts are reached.
    #[serde(default)]
    pub ssh: SshConfig,
    /// Where `steward drift --email` sends reports.
    #[serde(default)]
    pub email: Option<EmailConfig>,
}

/// The drift e-mail: sender, the pool team's recipients, and the SMTP server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// `Name <address>` or an address.
    pub from: String,
    /// The pool team: they get the whole report.
    pub to: Vec<String>,
    pub smtp: SmtpConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    /// Default: 587 for starttls, 465 for tls, 25 for none.
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub security: SmtpSecurity,
    #[serde(default)]
    pub username: Option<String>,
    /// `secret:NAME`: the password is never in steward.yaml.
    #[serde(default)]
    pub password: Option<String>,
    /// A PEM file of an extra certificate authority to trust (a relay with a private
    /// CA); relative to the pool root. The system's roots are trusted either way.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS (required, not opportunistic).
    #[default]
    Starttls,
    /// TLS from the first byte (SMTPS).
    Tls,
    /// No encryption: only for a relay on the same host or a test server.
    None,
}

/// SSH to the orgs' hosts: whose keys to trust and how to log in. Keys left out take
/// their value from `Default`.
#[derive(Debug, Clone, Deserialize)]
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

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsConfig {
    #[serde(default = "default_secrets_dir")]
    pub dir: PathBuf,
    #[serde(default = "default_env_prefix")]
    pub env_prefix: String,
    /// Pool-level secrets every org file may use (e.g. a shared Wi-Fi for a building).
    /// Anything else an org file names must be its own: `secret:<org-id>/...`.
    #[serde(default)]
    pub shared: Vec<String>,
}

impl Default for SecretsConfig {
    fn default() -> Self {
        SecretsConfig {
            dir: default_secrets_dir(),
            env_prefix: default_env_prefix(),
            shared: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
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

fn default_state_dir() -> PathBuf {
    PathBuf::from(".steward")
}
fn default_parallelism() -> usize {
    10
}
fn default_secrets_dir() -> PathBuf {
    PathBuf::from("secrets")
}
fn default_env_prefix() -> String {
    "STEWARD_SECRET_".into()
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

/// The loaded pool: its config and the folders it is rooted in.
#[derive(Debug, Clone)]
pub struct Pool {
    pub root: PathBuf,
    pub config: PoolConfig,
}

impl Pool {
    /// Loads `steward.yaml` from `root`. `STEWARD_GOOGLE_URL` points both Google
    /// endpoints at one base URL (the lab), so the pool file can stay production-true.
    pub fn load(root: &Path) -> Result<Pool, Box<Problem>> {
        let path = root.join(POOL_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            Box::new(
                Problem::new(
                    "pool_file",
                    format!("cannot read the pool file {}: {e}", path.display()),
                )
                .with_help("run steward from the pool repository, or pass --root DIR"),
            )
        })?;
        let mut config: PoolConfig = if text.trim().is_empty() {
            serde_yaml::from_str("pool: unnamed").map_err(|e| yaml_problem(&path, &text, &e))?
        } else {
            serde_yaml::from_str(&text).map_err(|e| yaml_problem(&path, &text, &e))?
        };
        if let Ok(url) = std::env::var("STEWARD_GOOGLE_URL") {
            let url = url.trim_end_matches('/').to_string();
            config.google.token_url = format!("{url}/token");
            config.google.api_url = url;
        }
        config.parallelism = config.parallelism.max(1);
        config.google.max_in_flight = config.google.max_in_flight.max(1);
        config.google.per_org_in_flight = config.google.per_org_in_flight.max(1);
        Ok(Pool {
            root: root.to_path_buf(),
            config,
        })
    }

    /// Finds the pool root: the nearest folder upwards holding `steward.yaml`.
    pub fn discover(start: &Path) -> Option<PathBuf> {
        start
            .ancestors()
            .find(|dir| dir.join(POOL_FILE).is_file())
            .map(Path::to_path_buf)
    }

    pub fn orgs_dir(&self) -> PathBuf {
        self.root.join("orgs")
    }

    pub fn modules_dir(&self) -> PathBuf {
        std::env::var_os("STEWARD_MODULES_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| self.root.join("modules"))
    }

    pub fn state_dir(&self) -> PathBuf {
        self.root.join(&self.config.state_dir)
    }

    /// A path from steward.yaml, relative to the pool root unless absolute.
    pub fn path(&self, p: &Path) -> PathBuf {
        self.root.join(p)
    }

    pub fn secrets_dir(&self) -> PathBuf {
        self.root.join(&self.config.secrets.dir)
    }

    /// Paths shown to users are relative to the pool root when possible.
    pub fn display_path(&self, path: &Path) -> PathBuf {
        path.strip_prefix(&self.root)
            .map(Path::to_path_buf)
            .unwrap_or_else(|_| path.to_path_buf())
    }
}

/// A serde_yaml error as a diagnostic at its line and column.
pub fn yaml_problem(path: &Path, text: &str, err: &serde_yaml::Error) -> Box<Problem> {
    let file = SourceFile::new(path, text.to_string());
    let message = err.to_string();
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or(&message)
        .to_string();
    match err.location() {
        Some(loc) => Box::new(Problem::at(
            "yaml",
            &file,
            Span::new(byte_at(text, loc.line(), loc.column()), 1),
            message,
            "here",
        )),
        None => {
            let mut p = Problem::new("yaml", message);
            p.file = Some(Arc::clone(&file));
            p.labels.push((Span::new(0, 0), String::new()));
            Box::new(p)
        }
    }
}

/// Byte offset of a 1-based line and column (in characters).
fn byte_at(text: &str, line: usize, column: usize) -> usize {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    let rest = &text[line_start.min(text.len())..];
    line_start
        + rest
            .char_indices()
            .nth(column.saturating_sub(1))
            .map_or(rest.len(), |(b, _)| b)
}
