//! `steward show PLAN_FILE`: a saved plan, read back as text, JSON or Markdown (for a
//! review comment), without touching the network.

use std::path::PathBuf;

use clap::Args;

use super::plan::Format;
use super::{CmdResult, Status, Ui};
use crate::diag::Problem;

#[derive(Args, Debug)]
pub struct ShowArgs {
    /// A plan saved with `steward plan --out FILE`.
    pub file: PathBuf,
    /// Output format: text, json (docs/plan-format.md) or markdown.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Same as `--format json`.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
}

pub fn run(ui: &Ui, args: ShowArgs) -> CmdResult {
    let plan = match super::apply::read_saved_plan(&args.file) {
        Some(Ok(plan)) => plan,
        Some(Err(why)) => {
            return Err(Box::new(Problem::new(
                "plan_file",
                format!("{}: {why}", args.file.display()),
            )));
        }
        None => {
            return Err(Box::new(
                Problem::new(
                    "plan_file",
                    format!("{} is not a saved plan", args.file.display()),
                )
                .with_help("save one with `steward plan --out FILE`"),
            ));
        }
    };
    super::plan::print(
        &plan,
        if args.json { Format::Json } else { args.format },
        ui,
    )?;
    Ok(if plan.has_errors() {
        Status::Failed
    } else {
        Status::Ok
    })
}
