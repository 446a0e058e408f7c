//! The lab: what lets Steward run end to end with no accounts. One emulator per
//! SaaS provider that cannot be reached from a test machine, each in a folder of its
//! own, each built by the vendor's published contract (`../shared/contracts/`), and
//! each listed once in [`EMULATORS`] for `steward lab`.

pub mod google;
pub mod unifi;

use std::net::SocketAddr;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::pool::Pool;
use crate::providers::BoxFuture;

/// Every emulator `steward lab` prepares and serves, one line each.
pub static EMULATORS: [&Emulator; 2] = [&google::EMULATOR, &unifi::EMULATOR];

/// One emulator as `steward lab` runs it.
pub struct Emulator {
    pub name: &'static str,
    /// The environment variable that points Steward at it.
    pub url_env: &'static str,
    /// Its port on 127.0.0.1 unless told otherwise.
    pub default_port: u16,
    /// Reads the pool and, with `create`, writes the lab credentials that are missing.
    /// Returns what it will host (for people) and the files it wrote.
    pub prepare: fn(&Pool, bool) -> Result<Prepared, LabError>,
    /// Starts serving on 127.0.0.1 (port 0 picks one); `None` when the pool has nothing
    /// for it to host.
    pub start: fn(&Pool, &Faults, u16) -> Starting,
}

/// An emulator starting: serving, `None` with nothing to host, or why it cannot.
pub type Starting = BoxFuture<'static, Result<Option<Served>, LabError>>;

/// An emulator serving: its URL, and the environment that points Steward at it.
#[derive(Debug, Clone)]
pub struct Served {
    pub url: String,
    pub env: Vec<(&'static str, String)>,
}

impl Served {
    /// Served at `url`, found through `url_env` alone.
    pub fn at(emulator: &Emulator, addr: SocketAddr, scheme: &str) -> Served {
        let url = format!("{scheme}://{addr}");
        Served {
            env: vec![(emulator.url_env, url.clone())],
            url,
        }
    }
}

/// What an emulator will host (for people), and the credential files it wrote.
pub type Prepared = (String, Vec<String>);

/// How the emulators misbehave, as real services do (all off by default); changeable
/// while running (`POST /_lab/faults`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Added to every reply.
    pub latency_ms: u64,
    /// Share of API requests (0..1) that get a fault instead of (or after) their work.
    pub rate: f64,
    /// Which faults: "429", "403", "500", "503", "drop" (work done, reply lost),
    /// "timeout" (work done, reply held back for `timeout_ms`).
    pub kinds: Vec<String>,
    /// Retry-After seconds sent with 429.
    pub retry_after: Option<u64>,
    /// New objects stay invisible (404, left out of lists) this long.
    pub visibility_ms: u64,
    /// How long a "timeout" fault holds its reply back.
    pub timeout_ms: u64,
    /// Writes whose path or body mention one of these are refused with 400, so a test
    /// can make one change fail at apply time.
    pub reject: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("{0}")]
    Io(String),
    #[error("org file {file}: {message}")]
    Org { file: String, message: String },
}

/// Writes `url` to `path` once the lab listens, for scripts waiting on it.
pub fn write_ready(path: &Path, url: &str) -> std::io::Result<()> {
    crate::util::write_atomic(path, format!("{url}\n").as_bytes(), 0o644)
}
