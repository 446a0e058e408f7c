//! `steward lab`: keys for the lab, and the emulator itself.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{CmdResult, Status, Ui, runtime};
use crate::diag::Problem;
use crate::lab::{self, EMULATORS};
use crate::pool::Pool;

#[derive(Args, Debug)]
pub struct LabArgs {
    #[command(subcommand)]
    pub command: LabCommand,
}

#[derive(Subcommand, Debug)]
pub enum LabCommand {
    /// Create the lab credentials every org lacks (Google: a service-account key; UniFi: the controller's password, API key and certificate) in the secrets folder.
    Init,
    /// Serve the emulators (Google: Directory API and token endpoint; a UniFi controller when steward.yaml has `unifi:`) on loopback until stopped.
    Serve(ServeArgs),
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Port on 127.0.0.1 of the first emulator (0 picks a free one for every emulator).
    #[arg(long, default_value_t = 8089)]
    pub port: u16,
    /// Create missing lab keys first (as `steward lab init`).
    #[arg(long)]
    pub init: bool,
    /// Latency added to every reply, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Share of API requests (0..1) answered with a fault.
    #[arg(long, default_value_t = 0.0)]
    pub fault_rate: f64,
    /// Faults to inject: 429, 403, 500, 503, drop, timeout (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "429,503")]
    pub faults: Vec<String>,
    /// Retry-After seconds sent with 429.
    #[arg(long)]
    pub retry_after: Option<u64>,
    /// New objects stay invisible for this long (eventual consistency), in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub visibility_ms: u64,
    /// How long a `timeout` fault holds its reply back, in milliseconds.
    #[arg(long, default_value_t = 60_000)]
    pub timeout_ms: u64,
    /// Write the lab's URL to this file once it listens (the first emulator's, Google's).
    #[arg(long)]
    pub ready_file: Option<PathBuf>,
    /// Another emulator's port, as NAME=PORT (repeatable); each has a default of its own.
    #[arg(long, value_name = "NAME=PORT")]
    pub port_of: Vec<String>,
    /// Write `export NAME=VALUE` lines for every emulator to this file once they all
    /// listen, for `. FILE` in a shell.
    #[arg(long)]
    pub env_file: Option<PathBuf>,
}

fn open_pool(root: &Option<PathBuf>) -> Result<Pool, Box<Problem>> {
    let root = match root {
        Some(r) => r.clone(),
        None => std::env::current_dir()
            .ok()
            .and_then(|d| Pool::discover(&d))
            .ok_or_else(|| {
                Problem::new("pool_file", "no steward.yaml here or in any parent folder")
            })?,
    };
    Pool::load(&root)
}

pub fn run(root: &Option<PathBuf>, _ui: &Ui, args: LabArgs) -> CmdResult {
    let pool = open_pool(root)?;
    let lab_problem = |e: lab::LabError| Problem::new("lab", e.to_string());
    match args.command {
        LabCommand::Init => {
            for emulator in EMULATORS {
                let (what, created) = (emulator.prepare)(&pool, true).map_err(lab_problem)?;
                for c in &created {
                    eprintln!("created lab key {c}");
                }
                eprintln!("{what} ready in the {} lab.", emulator.name);
            }
            Ok(Status::Ok)
        }
        LabCommand::Serve(a) => {
            let options = lab::Faults {
                latency_ms: a.latency_ms,
                rate: a.fault_rate.clamp(0.0, 1.0),
                kinds: a.faults.clone(),
                retry_after: a.retry_after,
                visibility_ms: a.visibility_ms,
                timeout_ms: a.timeout_ms,
                reject: Vec::new(),
            };
            let rt = runtime()?;
            rt.block_on(async move {
                let mut first = None;
                let mut exports = String::new();
                for (i, emulator) in EMULATORS.iter().enumerate() {
                    let (what, created) = (emulator.prepare)(&pool, a.init).map_err(lab_problem)?;
                    for c in &created {
                        eprintln!("created lab key {c}");
                    }
                    // `--port` is the first emulator's (Google's).
                    let asked = a.port_of.iter().find_map(|p| {
                        let (name, port) = p.split_once('=')?;
                        (name == emulator.name).then(|| port.parse::<u16>().ok())?
                    });
                    let port = match (i, asked) {
                        (0, _) => a.port,
                        (_, Some(p)) => p,
                        _ if a.port == 0 => 0,
                        _ => emulator.default_port,
                    };
                    let Some(served) = (emulator.start)(&pool, &options, port)
                        .await
                        .map_err(lab_problem)?
                    else {
                        eprintln!("steward lab: no {} emulator: {what}", emulator.name);
                        continue;
                    };
                    eprintln!("steward lab: {what} on {}", served.url);
                    for (k, v) in &served.env {
                        eprintln!("use it with: export {k}={v}");
                        exports.push_str(&format!("export {k}='{v}'\n"));
                    }
                    first.get_or_insert(served.url);
                }
                if let Some(f) = &a.env_file {
                    crate::util::write_atomic(f, exports.as_bytes(), 0o644).map_err(|e| {
                        Problem::new("lab", format!("cannot write {}: {e}", f.display()))
                    })?;
                }
                if let (Some(f), Some(url)) = (&a.ready_file, &first) {
                    lab::write_ready(f, url).map_err(|e| {
                        Problem::new("lab", format!("cannot write {}: {e}", f.display()))
                    })?;
                }
                std::future::pending::<()>().await;
                Ok::<_, Problem>(())
            })?;
            Ok(Status::Ok)
        }
    }
}
