//! `steward baseline`: every selected org against the pool's standard, from the same
//! read-only refresh a plan makes, compared with the last recorded view.

use std::path::PathBuf;

use clap::Args;

use super::{CmdResult, EngineArgs, Selection, Status, Ui, Workspace, runtime};
use crate::baseline::report::{self, Format};
use crate::diag::Problem;

#[derive(Args, Debug)]
pub struct BaselineArgs {
    #[command(flatten)]
    pub selection: Selection,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Write the view to FILE instead of standard output (an HTML page to publish).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Compare with the history but do not record this view in it.
    #[arg(long)]
    pub no_record: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}

pub fn run(root: &Option<PathBuf>, ui: &Ui, args: BaselineArgs) -> CmdResult {
    let ws = Workspace::open(root, ui)?;
    let Some(baseline) = ws.pool.baseline.clone() else {
        return Err(Box::new(
            Problem::new(
                "no_baseline",
                "this pool has no standard: there is no baseline.yaml",
            )
            .with_help("write baseline.yaml at the pool's root (README: The pool's standard)"),
        ));
    };
    let engine = ws.engine(&args.engine)?;
    let rt = runtime()?;
    let selected = ws.select(&args.selection)?;
    let (orgs, plan, _) = ws.load_and_plan(&engine, &rt, &selected, ui)?;
    super::plan::print_notes(&engine, ui);
    if args.engine.stats {
        super::plan::print_stats(&engine);
    }
    let pool = ws.pool.display_name();
    let mut view =
        crate::baseline::compliance::view(&baseline, &pool, &orgs, &plan, &ws.pool.today, None);
    let mut history = ws.history()?;
    view.trend = history
        .compare_compliance(&view.created_at, &mut view.orgs, !args.no_record)
        .map_err(|e| Problem::new("history", e.to_string()))?;
    let rendered =
        report::render(&view, args.format).map_err(|e| Problem::new("render", e.to_string()))?;
    match &args.out {
        Some(path) => {
            crate::util::write_atomic(path, rendered.as_bytes(), 0o644).map_err(|e| {
                Problem::new("out", format!("cannot write {}: {e}", path.display()))
            })?;
            eprintln!("Wrote the compliance view to {}.", path.display());
        }
        None => print!("{rendered}"),
    }
    // Like drift: 1 when an org could not be checked, 2 when an item is not met.
    Ok(if view.orgs.iter().any(|o| o.error.is_some()) {
        Status::Failed
    } else if view.totals.fails > 0 {
        Status::Changes
    } else {
        Status::Ok
    })
}
