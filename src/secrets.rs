//! `secret:NAME` references and the values they resolve to.
//!
//! A value is looked up in the environment first (`STEWARD_SECRET_` + NAME upper-cased,
//! every other character `_`), which is how CI secret stores hand them over, then in a
//! file `NAME` under the pool's git-ignored secrets folder.

use std::fmt;
use std::path::{Path, PathBuf};

pub const PREFIX: &str = "secret:";

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
    #[error("secret `{name}` is not set: no environment variable {env} and no file {}", file.display())]
    Missing {
        name: String,
        env: String,
        file: PathBuf,
    },
    #[error("`{0}` is not a valid secret name (letters, digits, `-`, `_`, `.` and `/` only)")]
    BadName(String),
}

/// Resolves secret names for one pool.
#[derive(Debug, Clone)]
pub struct Secrets {
    dir: PathBuf,
    env_prefix: String,
}

impl Secrets {
    pub fn new(dir: &Path, env_prefix: &str) -> Self {
        Secrets {
            dir: dir.to_path_buf(),
            env_prefix: env_prefix.to_string(),
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

/// The name in a `secret:NAME` reference, if the value is one.
pub fn reference(value: &str) -> Option<&str> {
    value.strip_prefix(PREFIX)
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
    fn debug_never_shows_the_value() {
        let s = Secret::new("hunter2".into());
        assert_eq!(format!("{s:?}"), "(secret)");
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
