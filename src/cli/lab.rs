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
    /// Create the lab credentials (Google: a service-account key in the secrets folder) every org lacks.
    Init,
    /// Serve the emulators (Google: Directory API and token endpoint) on loopback until stopped.
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
    /// Write the lab's URL to this file once it listens (the first emulator's, Google's).
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
                for (i, emulator) in EMULATORS.iter().enumerate() {
                    let (what, created) = (emulator.prepare)(&pool, a.init).map_err(lab_problem)?;
                    for c in &created {
                        eprintln!("created lab key {c}");
                    }
                    // `--port` is the first emulator's; the others pick free ports.
                    let port = if i == 0 { a.port } else { 0 };
                    let addr = (emulator.start)(&pool, &options, port)
                        .await
                        .map_err(lab_problem)?;
                    let url = format!("http://{addr}");
                    eprintln!("steward lab: {what} on {url}");
                    eprintln!("use it with: export {}={url}", emulator.url_env);
                    first.get_or_insert(url);
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
