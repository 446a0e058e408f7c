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
    let (orgs, mut problems) = org::load_all(&ws.pool, &ws.catalogue, &ws.secrets, &files);
    // An exception whose day has passed still loads (the item counts again, and plans
    // go on); checking the files is where it is a problem to mend.
    let today = crate::util::parse_date(&ws.pool.today).unwrap_or_else(crate::util::today);
    let mut expired = 0;
    for org in &orgs {
        let passed: Vec<_> = org
            .standard
            .exceptions
            .iter()
            .filter(|e| !e.active(today))
            .collect();
        expired += usize::from(!passed.is_empty());
        for e in passed {
            problems.push(
                crate::diag::Problem::at(
                    "exception_expired",
                    &org.file,
                    e.span,
                    format!(
                        "the exception to item `{}` ended on {}: the item counts again",
                        e.item, e.until
                    ),
                    "this day has passed",
                )
                .with_help(
                    "agree a new day with the org and write it here, or remove the exception",
                ),
            );
        }
    }
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
        let bad = files.len() - loaded + expired;
        eprintln!(
            "{} problem(s) in {bad} of {} org file(s).",
            problems.len(),
            files.len()
        );
        Ok(Status::Failed)
    }
}
