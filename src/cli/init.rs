//! `steward init [DIR]`: a new pool repository with the standard modules, an example org
//! file, `.gitignore`, a README for the pool's team and the CI definition of choice.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::{CmdResult, Status, Ui};
use crate::diag::Problem;
use crate::scaffold::{self, Ci};

#[derive(Args, Debug)]
pub struct InitArgs {
    /// Where to create the pool (new or empty; default: the current folder).
    pub dir: Option<PathBuf>,
    /// The pool's id (default: the folder's name).
    #[arg(long)]
    pub pool: Option<String>,
    /// The CI service to run Steward in.
    #[arg(long, value_enum, default_value_t = CiChoice::Github)]
    pub ci: CiChoice,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CiChoice {
    Github,
    Gitlab,
    None,
}

pub fn run(ui: &Ui, args: InitArgs) -> CmdResult {
    let dir = args.dir.unwrap_or_else(|| PathBuf::from("."));
    let ci = match args.ci {
        CiChoice::Github => Ci::Github,
        CiChoice::Gitlab => Ci::Gitlab,
        CiChoice::None => Ci::None,
    };
    let (pool, count) = scaffold::init(&dir, args.pool.as_deref(), ci).map_err(|e| {
        let help = match e {
            scaffold::InitError::BadId(_) => "give one with --pool ID",
            scaffold::InitError::Exists(_) => "name a new folder: steward init NEW_DIR",
            scaffold::InitError::Write { .. } => "check the folder's permissions and space",
        };
        Problem::new("init", e.to_string()).with_help(help)
    })?;
    ui.note(format_args!(
        "Created the pool `{pool}` in {} ({count} files). Next, against the lab:\n  cd {}\n  steward lab init && steward lab serve &\n  export STEWARD_GOOGLE_URL=http://127.0.0.1:8089\n  steward validate && steward plan",
        dir.display(),
        dir.display()
    ));
    Ok(Status::Ok)
}
