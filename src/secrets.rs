//! `secret:NAME` references and the values they resolve to.
//!
//! A value is looked up in the environment first (`STEWARD_SECRET_` + NAME upper-cased,
//! every other character `_`), which is how CI secret stores hand them over; then under
//! that same key in the JSON object in `STEWARD_SECRETS_JSON` (GitHub Actions hands over
//! every secret at once with `${{ toJSON(secrets) }}`, so a workflow need not list each
//! org's); then in a file `NAME` under the pool's git-ignored secrets folder.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const PREFIX: &str = "secret:";
/// The environment variable that may hold many secrets as one JSON object.
pub const BUNDLE_VAR: &str = "STEWARD_SECRETS_JSON";

/// A secret value. It has no `Display`, and `Debug` hides it, so it cannot end up in
/// output by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Secret(value)
    }

    /// The value itself; call only where it leaves for its one destination.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(secret)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("secret `{name}` is not set: no environment variable {env} (nor that key in {BUNDLE_VAR}) and no file {}", file.display())]
    Missing {
        name: String,
        env: String,
        file: PathBuf,
    },
    #[error("`{0}` is not a valid secret name (letters, digits, `-`, `_`, `.` and `/` only)")]
    BadName(String),
    #[error("secret `{name}` is not set, and {BUNDLE_VAR} is not a JSON object of strings")]
    BadBundle { name: String },
}

/// Resolves secret names for one pool.
#[derive(Debug, Clone)]
pub struct Secrets {
    dir: PathBuf,
    env_prefix: String,
    /// From `STEWARD_SECRETS_JSON`; `Err` when it is set but unreadable (its text is
    /// never kept or shown: it is all secrets).
    bundle: Arc<Result<HashMap<String, Secret>, ()>>,
}

/// Parses the bundle: string values only (GitHub adds its own token, also a string).
fn parse_bundle(text: Option<String>) -> Result<HashMap<String, Secret>, ()> {
    let Some(text) = text else {
        return Ok(HashMap::new());
    };
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|_| ())?;
    let object = value.as_object().ok_or(())?;
    Ok(object
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), Secret(v.as_str()?.to_string()))))
        .collect())
}

impl Secrets {
    pub fn new(dir: &Path, env_prefix: &str) -> Self {
        Secrets {
            dir: dir.to_path_buf(),
            env_prefix: env_prefix.to_string(),
            bundle: Arc::new(parse_bundle(std::env::var(BUNDLE_VAR).ok())),
        }
    }

    pub fn env_var(&self, name: &str) -> String {
        let mut var = self.env_prefix.clone();
        var.extend(name.chars().map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        }));
        var
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn resolve(&self, name: &str) -> Result<Secret, SecretError> {
        if !valid_name(name) {
            return Err(SecretError::BadName(name.to_string()));
        }
        let env = self.env_var(name);
        if let Ok(v) = std::env::var(&env) {
            return Ok(Secret(v));
        }
        match self.bundle.as_ref() {
            Ok(map) => {
                if let Some(v) = map.get(&env) {
                    return Ok(v.clone());
                }
            }
            Err(()) if !self.file(name).is_file() => {
                return Err(SecretError::BadBundle {
                    name: name.to_string(),
                });
            }
            Err(()) => {}
        }
        let file = self.file(name);
        match std::fs::read_to_string(&file) {
            Ok(v) => Ok(Secret(v.trim_end_matches(['\n', '\r']).to_string())),
            Err(_) => Err(SecretError::Missing {
                name: name.to_string(),
                env,
                file,
            }),
        }
    }

    pub fn exists(&self, name: &str) -> Result<(), SecretError> {
        self.resolve(name).map(|_| ())
    }
}

/// Which secrets one org file may use: its own (`<org-id>/...`) and the pool-level ones
/// `steward.yaml` shares with every org. The pool's own (SMTP, SSH) are never among them.
#[derive(Debug, Clone, Default)]
pub struct SecretScope {
    pub org: String,
    pub shared: Vec<String>,
}

impl SecretScope {
    pub fn allows(&self, name: &str) -> bool {
        (!self.org.is_empty()
            && name
                .strip_prefix(self.org.as_str())
                .is_some_and(|rest| rest.starts_with('/')))
            || self.shared.iter().any(|s| s == name)
    }
}

/// The name in a `secret:NAME` reference, if the value is one.
pub fn reference(value: &str) -> Option<&str> {
    value.strip_prefix(PREFIX)
}

/// How file content names a secret: modules write `{{secret passphrase}}`, which
/// renders this placeholder. Plans, JSON and diffs keep the placeholder; the value is
/// put in only on its way to the host.
pub fn placeholder(name: &str) -> String {
    format!("(({PREFIX}{name}))")
}

/// The secret names file content refers to, in order of first use.
pub fn placeholders(text: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("((secret:") {
        let after = &rest[start + 9..];
        let Some(end) = after.find("))") else { break };
        let name = &after[..end];
        if valid_name(name) && !names.contains(&name) {
            names.push(name);
        }
        rest = &after[end + 2..];
    }
    names
}

/// The secret values a text's placeholders stand for.
pub fn values_for(
    text: &str,
    secrets: &Secrets,
    allowed: impl Fn(&str) -> bool,
) -> Result<Vec<(String, Secret)>, SecretError> {
    placeholders(text)
        .into_iter()
        .filter(|n| allowed(n))
        .map(|n| Ok((n.to_string(), secrets.resolve(n)?)))
        .collect()
}

/// The text with every placeholder replaced by its value: only for the host.
pub fn fill(text: &str, values: &[(String, Secret)]) -> Secret {
    let mut out = text.to_string();
    for (name, value) in values {
        out = out.replace(&placeholder(name), value.expose());
    }
    Secret(out)
}

/// Text from a host (file content, an error) with each secret value replaced by its
/// placeholder.
pub fn hide(text: &str, values: &[(String, Secret)]) -> String {
    let mut text = text.to_string();
    // Longest first, so a value that contains another is replaced whole.
    let mut sorted: Vec<&(String, Secret)> =
        values.iter().filter(|(_, v)| !v.0.is_empty()).collect();
    sorted.sort_by_key(|(_, v)| std::cmp::Reverse(v.0.len()));
    for (name, value) in sorted {
        text = text.replace(value.expose(), &placeholder(name));
    }
    text
}

/// Live file content made safe to show and compare: each secret value becomes its
/// placeholder again, and a line where the file wants a secret but holds some other
/// value (edited by hand, or the secret was rotated) keeps only the part before it.
pub fn redact(live: &str, desired: &str, values: &[(String, Secret)]) -> String {
    let text = hide(live, values);
    // Lines of the desired text that carry a secret, as (text before it, name).
    let secret_lines: Vec<(&str, &str)> = desired
        .lines()
        .filter_map(|l| {
            let at = l.find("((secret:")?;
            let name = *placeholders(&l[at..]).first()?;
            Some((&l[..at], name))
        })
        .collect();
    if secret_lines.is_empty() {
        return text;
    }
    let desired_lines: std::collections::HashSet<&str> = desired.lines().collect();
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches('\n');
        let hidden = (!desired_lines.contains(body))
            .then(|| {
                secret_lines
                    .iter()
                    .find(|(prefix, _)| body.starts_with(prefix))
            })
            .flatten();
        match hidden {
            Some((prefix, name)) => {
                out.push_str(&format!("{prefix}(a value other than secret {name})"));
                if line.ends_with('\n') {
                    out.push('\n');
                }
            }
            None => out.push_str(line),
        }
    }
    out
}

pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('/')
        && !name.split('/').any(|seg| seg.is_empty() || seg == "..")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_confined_to_the_secrets_folder() {
        assert!(valid_name("riverside/google-service-account"));
        assert!(!valid_name("../etc/passwd"));
        assert!(!valid_name("/abs"));
        assert!(!valid_name("a//b"));
    }

    #[test]
    fn file_secrets_are_filled_for_hosts_and_redacted_for_people() {
        let desired = "ssid=Staff\nwpa_passphrase=((secret:org/wifi))\nwpa=2\n";
        assert_eq!(placeholders(desired), vec!["org/wifi"]);
        let values = vec![("org/wifi".to_string(), Secret::new("hunter22".into()))];
        let filled = fill(desired, &values);
        assert_eq!(
            filled.expose(),
            "ssid=Staff\nwpa_passphrase=hunter22\nwpa=2\n"
        );
        // The live file as written reads back as the desired text.
        assert_eq!(redact(filled.expose(), desired, &values), desired);
        // Edited by hand: the new value is not shown, only that it differs.
        let edited = "ssid=Staff\nwpa_passphrase=typed-by-hand\nwpa=2\n";
        let shown = redact(edited, desired, &values);
        assert!(!shown.contains("typed-by-hand"), "{shown}");
        assert!(shown.contains("wpa_passphrase=(a value other than secret org/wifi)\n"));
        // A file that is only the secret (a password file).
        let whole = "((secret:org/restic))\n";
        let v = vec![("org/restic".to_string(), Secret::new("old".into()))];
        assert!(!redact("rotated\n", whole, &v).contains("rotated"));
    }

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::new("hunter2".into());
        assert_eq!(format!("{s:?}"), "(secret)");
    }

    #[test]
    fn bundles_hold_strings_and_never_echo_bad_text() {
        let map = parse_bundle(Some(r#"{"A": "x", "n": 1}"#.into())).expect("object");
        assert_eq!(map.get("A").map(Secret::expose), Some("x"));
        assert!(!map.contains_key("n"));
        assert!(parse_bundle(Some("[1]".into())).is_err());
        assert!(parse_bundle(Some("{oops hunter2".into())).is_err());
        let err = SecretError::BadBundle { name: "a".into() }.to_string();
        assert!(!err.contains("hunter2"));
    }

    #[test]
    fn env_names_are_derived_predictably() {
        let s = Secrets::new(Path::new("/nonexistent"), "STEWARD_SECRET_");
        assert_eq!(
            s.env_var("riverside/google-service-account"),
            "STEWARD_SECRET_RIVERSIDE_GOOGLE_SERVICE_ACCOUNT"
        );
    }
}
