//! `steward plan`: refresh, diff, show.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::{CmdResult, EngineArgs, Selection, Status, Ui, Workspace, runtime};
use crate::diag::Problem;
use crate::plan::{Plan, render_markdown, render_text};

#[derive(Args, Debug)]
pub struct PlanArgs {
    #[command(flatten)]
    pub selection: Selection,
    /// Output format: text, json (docs/plan-format.md) or markdown (for a pull-request
    /// comment or `$GITHUB_STEP_SUMMARY`).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Same as `--format json`.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// Save the plan to FILE, for `steward apply FILE`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Exit 0 when there are no changes, 1 on error, 2 when there are changes.
    #[arg(long)]
    pub detailed_exitcode: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Markdown,
}

pub fn run(root: &Option<PathBuf>, ui: &Ui, args: PlanArgs) -> CmdResult {
    let ws = Workspace::open(root, ui)?;
    let engine = ws.engine(&args.engine)?;
    let rt = runtime()?;
    let selected = ws.select(&args.selection)?;
    let (_, plan, _) = ws.load_and_plan(&engine, &rt, &selected, ui)?;
    print(
        &plan,
        if args.json { Format::Json } else { args.format },
        ui,
    )?;
    if let Some(out) = &args.out {
        save(&plan, out)?;
        ui.note(format_args!(
            "Saved the plan to {}; apply it with `steward apply {}`.",
            out.display(),
            out.display()
        ));
    }
    print_notes(&engine, ui);
    if args.engine.stats {
        print_stats(&engine);
    }
    Ok(if plan.has_errors() {
        Status::Failed
    } else if args.detailed_exitcode && plan.summary.total() > 0 {
        Status::Changes
    } else {
        Status::Ok
    })
}

/// Prints a plan on standard output in `format`.
pub fn print(plan: &Plan, format: Format, ui: &Ui) -> Result<(), Box<Problem>> {
    match format {
        Format::Json => println!("{}", to_json(plan)?),
        Format::Markdown => print!("{}", render_markdown(plan)),
        Format::Text => print!("{}", render_text(plan, ui.color_out)),
    }
    Ok(())
}

pub fn to_json(plan: &Plan) -> Result<String, Box<Problem>> {
    serde_json::to_string_pretty(plan).map_err(|e| {
        Box::new(Problem::new(
            "json",
            format!("cannot write the plan as JSON: {e}"),
        ))
    })
}

pub fn save(plan: &Plan, out: &std::path::Path) -> Result<(), Box<Problem>> {
    let text = to_json(plan)?;
    crate::util::write_atomic(out, text.as_bytes(), 0o644).map_err(|e| {
        Box::new(Problem::new(
            "plan_file",
            format!("cannot write {}: {e}", out.display()),
        ))
    })
}

/// Each provider's notes about the pool as a whole, on standard error.
pub fn print_notes(engine: &crate::engine::Engine, ui: &Ui) {
    for note in engine.providers.iter().flat_map(|p| p.notes()) {
        ui.note(format_args!("note: {note}"));
    }
}

pub fn print_stats(engine: &crate::engine::Engine) {
    for line in engine.providers.iter().filter_map(|p| p.stats()) {
        eprintln!("{line}");
    }
}
