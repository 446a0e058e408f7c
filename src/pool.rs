//! The pool: `steward.yaml` at the root of the repository, and where things live.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use crate::diag::{Problem, SourceFile};
use crate::yaml::Span;

pub const POOL_FILE: &str = "steward.yaml";

/// `steward.yaml`. Each provider's settings sit under its name and are the provider's
/// to read ([`Pool::settings`]); any other key is refused ([`Pool::load`]).
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
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
    /// Where `steward drift --email` sends reports.
    #[serde(default)]
    pub email: Option<EmailConfig>,
    /// The pool's time zone (an IANA name such as `Europe/London`): dates in org files
    /// (a person's start or last day) are days there. Default: UTC.
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// Pool-wide inputs of modules, under each module's name: what every org that enables
    /// the module gets unless its own file says otherwise (the people's `roles` of
    /// `accounts`). A map input (such as `roles`) is merged: an org adds entries, or
    /// replaces one of the same name.
    #[serde(default)]
    pub modules: BTreeMap<String, serde_json::Value>,
}

fn default_timezone() -> String {
    "UTC".into()
}

/// The keys of `steward.yaml` that are the pool's own.
const OWN_KEYS: &[&str] = &[
    "pool",
    "name",
    "secrets",
    "state_dir",
    "parallelism",
    "email",
    "timezone",
    "modules",
];

/// The drift e-mail: sender, the pool team's recipients, and the SMTP server.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// `Name <address>` or an address.
    pub from: String,
    /// The pool team: they get the whole report.
    pub to: Vec<String>,
    pub smtp: SmtpConfig,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
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

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
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

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
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
/// The loaded pool: its config and the folders it is rooted in.
#[derive(Debug, Clone)]
pub struct Pool {
    pub root: PathBuf,
    pub config: PoolConfig,
    /// Each provider's settings, as it parsed them from its part of the file.
    pub settings: crate::providers::Parts,
    /// The day plans are made for: today in the pool's time zone, or `--as-of`.
    pub today: String,
    /// steward.yaml as a positioned tree with its text, for the pool-wide module inputs
    /// (checked with each org's, and reported at their line in steward.yaml).
    pub file: Option<Arc<(Arc<SourceFile>, crate::yaml::Node)>>,
    /// The pool's standard (`baseline.yaml`), once checked against the module catalogue
    /// ([`crate::baseline::load`]).
    pub baseline: Option<Arc<crate::baseline::Baseline>>,
}

impl Pool {
    /// Loads `steward.yaml` from `root`, each provider reading its own part.
    pub fn load(root: &Path) -> Result<Pool, Box<Problem>> {
        let path = root.join(POOL_FILE);
        let text = crate::util::read_own(&path, root, Path::new(POOL_FILE)).map_err(|e| {
            Box::new(
                Problem::new(
                    "pool_file",
                    format!("cannot read the pool file {}: {e}", path.display()),
                )
                .with_help(match e {
                    crate::util::ReadError::Link { .. } => {
                        "make steward.yaml a file of its own, not a link"
                    }
                    _ => "run steward from the pool repository, or pass --root DIR",
                }),
            )
        })?;
        let config: PoolConfig = if text.trim().is_empty() {
            serde_yaml::from_str("pool: unnamed").map_err(|e| yaml_problem(&path, &text, &e))?
        } else {
            serde_yaml::from_str(&text).map_err(|e| yaml_problem(&path, &text, &e))?
        };
        let mut config = config;
        config.parallelism = config.parallelism.max(1);
        let providers = &crate::providers::REGISTRY;
        // Every top-level key is the pool's own or a provider's; the positioned YAML
        // tree says where an unknown one is.
        let root_node = crate::yaml::parse(&text).ok();
        let unknown = root_node
            .as_ref()
            .and_then(|n| n.entries())
            .and_then(|entries| {
                entries.iter().map(|(k, _)| k).find(|k| {
                    !OWN_KEYS.contains(&k.text.as_str())
                        && !providers.iter().any(|p| p.name == k.text.as_str())
                })
            });
        if let Some(key) = unknown {
            let expected: Vec<String> = OWN_KEYS
                .iter()
                .chain(providers.iter().map(|p| &p.name))
                .map(|k| format!("`{k}`"))
                .collect();
            return Err(Box::new(Problem::at(
                "yaml",
                &SourceFile::new(&path, text.clone()),
                key.span,
                format!(
                    "unknown field `{}`, expected one of {}",
                    key.text,
                    expected.join(", ")
                ),
                "here",
            )));
        }
        let mut settings = crate::providers::Parts::default();
        for p in providers {
            let part = (p.settings)(&text).map_err(|e| yaml_problem(&path, &text, &e))?;
            settings.insert(p.name, part);
        }
        let today = crate::util::today_in(&config.timezone).map_err(|why| {
            let span = root_node
                .as_ref()
                .and_then(|n| n.get("timezone"))
                .map_or(Span::new(0, 0), |n| n.span);
            Box::new(Problem::at(
                "timezone",
                &SourceFile::new(&path, text.clone()),
                span,
                why,
                "here",
            ))
        })?;
        Ok(Pool {
            root: root.to_path_buf(),
            config,
            settings,
            today: crate::util::date_text(today),
            // Named as the org files are, from the pool's root: plans cite it.
            file: root_node
                .map(|n| Arc::new((SourceFile::new(Path::new(POOL_FILE), text.clone()), n))),
            baseline: None,
        })
    }

    /// The pool's name for people: its `name`, else its id.
    pub fn display_name(&self) -> String {
        self.config
            .name
            .clone()
            .unwrap_or_else(|| self.config.pool.clone())
    }

    /// Finds the pool root: the nearest folder upwards holding `steward.yaml`.
    pub fn discover(start: &Path) -> Option<PathBuf> {
        start
            .ancestors()
            .find(|dir| dir.join(POOL_FILE).is_file())
            .map(Path::to_path_buf)
    }

    /// The settings `provider` read from its part of the file (its defaults when the
    /// file has none).
    pub fn provider_settings<T: std::any::Any + Clone + Default>(&self, provider: &str) -> T {
        self.settings
            .get::<T>(provider)
            .cloned()
            .unwrap_or_default()
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

/// The JSON Schema of `steward.yaml`, from the same definitions that read it: the
/// pool's own keys and each provider's part. For editors (`steward schema --pool-file`).
pub fn json_schema() -> serde_json::Value {
    let mut generator = schemars::generate::SchemaSettings::draft07().into_generator();
    let parts: Vec<(&str, serde_json::Value)> = crate::providers::REGISTRY
        .iter()
        .map(|p| (p.name, (p.settings_schema)(&mut generator).to_value()))
        .collect();
    let mut root = generator.into_root_schema_for::<PoolConfig>().to_value();
    for (name, part) in parts {
        root["properties"][name] = part;
    }
    // Any other key is refused (see `Pool::load`).
    root["additionalProperties"] = false.into();
    root["title"] = "Steward pool file (steward.yaml)".into();
    root
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
