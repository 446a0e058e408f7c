//! `steward validate`: every problem in every selected org file, no network.

use std::path::PathBuf;

use clap::Args;

use super::{CmdResult, Selection, Status, Ui, Workspace};
use crate::org;

#[derive(Args, Debug)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub selection: Selection,
    /// Print problems as JSON lines (code, message, file, line, column, help) on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(root: &Option<PathBuf>, ui: &Ui, args: ValidateArgs) -> CmdResult {
    let ws = Workspace::open(root, ui)?;
    let files = ws.select(&args.selection)?.files;
    let (orgs, problems) = org::load_all(&ws.pool, &ws.catalogue, &ws.secrets, &files);
    if args.json {
        for p in &problems.0 {
            println!("{}", p.to_json());
        }
    } else {
        ui.report(&problems);
    }
    let loaded = orgs.len();
    // The process ends next: freeing every resource of a large org one by one would
    // take a tenth of the run (BENCHMARKS.md).
    std::mem::forget(orgs);
    if problems.is_empty() {
        ui.note(format_args!("{loaded} org file(s) valid."));
        Ok(Status::Ok)
    } else {
        let bad = files.len() - loaded;
        eprintln!(
            "{} problem(s) in {bad} of {} org file(s).",
            problems.len(),
            files.len()
        );
        Ok(Status::Failed)
    }
}
