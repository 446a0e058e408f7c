//! `steward lab`: keys for the lab, and the emulator itself.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{CmdResult, Status, Ui, runtime};
use crate::diag::Problem;
use crate::lab::google::{self as lab, Faults, Lab};
use crate::pool::Pool;

#[derive(Args, Debug)]
pub struct LabArgs {
    #[command(subcommand)]
    pub command: LabCommand,
}

#[derive(Subcommand, Debug)]
pub enum LabCommand {
    /// Create a lab service-account key (in the secrets folder) for every org that lacks one.
    Init,
    /// Serve the Directory API and token endpoint emulator on loopback until stopped.
    Serve(ServeArgs),
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Port on 127.0.0.1 (0 picks a free one).
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
    /// Write the lab's URL to this file once it listens.
    #[arg(long)]
    pub ready_file: Option<PathBuf>,
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
    match args.command {
        LabCommand::Init => {
            let (tenants, created) =
                lab::tenants(&pool, true).map_err(|e| Problem::new("lab", e.to_string()))?;
            for c in &created {
                eprintln!("created lab key {c}");
            }
            eprintln!("{} lab tenant(s) ready.", tenants.len());
            Ok(Status::Ok)
        }
        LabCommand::Serve(a) => {
            let (tenants, created) =
                lab::tenants(&pool, a.init).map_err(|e| Problem::new("lab", e.to_string()))?;
            for c in &created {
                eprintln!("created lab key {c}");
            }
            let faults = Faults {
                latency_ms: a.latency_ms,
                rate: a.fault_rate.clamp(0.0, 1.0),
                kinds: a.faults.clone(),
                retry_after: a.retry_after,
                visibility_ms: a.visibility_ms,
                timeout_ms: a.timeout_ms,
                reject: Vec::new(),
            };
            let count = tenants.len();
            let lab = Lab::new(tenants, faults).map_err(|e| Problem::new("lab", e))?;
            let rt = runtime()?;
            rt.block_on(async move {
                let addr = lab::directory::start(lab, a.port).await.map_err(|e| {
                    Problem::new("lab", format!("cannot listen on port {}: {e}", a.port))
                })?;
                let url = format!("http://{addr}");
                eprintln!("steward lab: {count} tenant(s) on {url}");
                eprintln!("use it with: export STEWARD_GOOGLE_URL={url}");
                if let Some(f) = &a.ready_file {
                    lab::write_ready(f, &url).map_err(|e| {
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
