//! `steward apply`: plan and confirm, or carry out a saved plan; then report what was
//! done, what failed and what was skipped because something it needed failed.

use std::collections::HashMap;
use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};

use clap::Args;

use super::{CmdResult, EngineArgs, Selection, Status, Ui, Workspace, out, outln, runtime};
use crate::diag::Problem;
use crate::engine::OrgApply;
use crate::graph::Outcome;
use crate::plan::{FORMAT_VERSION, Plan, render_text};

#[derive(Args, Debug)]
pub struct ApplyArgs {
    /// The orgs, as for `plan`; or, as the only file, a saved plan (`steward plan --out`).
    #[command(flatten)]
    pub selection: Selection,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Hide the progress bars (they are hidden anyway when stderr is not a terminal).
    #[arg(long)]
    pub no_progress: bool,
    /// Orgs applied at once (each with its own progress bar).
    #[arg(long, value_name = "N", default_value_t = crate::engine::ORGS_AT_ONCE)]
    pub orgs_at_once: usize,
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// A saved plan from `path`; `None` when the file is not one at all (an org file).
pub(super) fn read_saved_plan(path: &Path) -> Option<Result<Plan, String>> {
    let text = std::fs::read_to_string(path).ok()?;
    if !text.trim_start().starts_with('{') {
        return None;
    }
    let value: serde_json::Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => return Some(Err(format!("not a valid plan file: {e}"))),
    };
    match value["format_version"].as_u64() {
        Some(v) if v == u64::from(FORMAT_VERSION) => {}
        Some(v) => {
            return Some(Err(format!(
                "plan format version {v} is not supported (this steward reads {FORMAT_VERSION})"
            )));
        }
        None => return Some(Err("not a plan file: no format_version".into())),
    }
    let mut plan: Plan = match serde_json::from_value(value) {
        Ok(p) => p,
        Err(e) => return Some(Err(format!("not a valid plan file: {e}"))),
    };
    // What is shown before applying is counted from the changes themselves, never
    // taken from the file (an edited summary would hide a removal).
    let mut total = crate::plan::Summary::default();
    for o in &mut plan.orgs {
        o.summary = crate::plan::Summary::of(&o.changes);
        total.absorb(&o.summary);
        // An org is named by its id; its file can only be the pool's own.
        let plain = !o.org.is_empty()
            && o.org
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !plain || o.file != format!("orgs/{}.yaml", o.org) {
            return Some(Err(format!(
                "org `{}` names the file `{}`; a plan's org files are orgs/<org>.yaml",
                o.org, o.file
            )));
        }
    }
    plan.summary = total;
    Some(Ok(plan))
}

pub fn run(root: &Option<PathBuf>, ui: &Ui, args: ApplyArgs) -> CmdResult {
    let ws = Workspace::open(root, ui)?;
    let saved = match args.selection.files.as_slice() {
        [one] => read_saved_plan(one).map(|r| {
            r.map_err(|e| Box::new(Problem::new("plan_file", format!("{}: {e}", one.display()))))
        }),
        _ => None,
    }
    .transpose()?;
    let engine = ws.engine(&args.engine)?;
    let rt = runtime()?;
    let progress = !args.no_progress && !ui.quiet && std::io::stderr().is_terminal();

    let (orgs, plan, sessions, is_saved) = match saved {
        Some(plan) => {
            let files: Vec<PathBuf> = plan
                .orgs
                .iter()
                .map(|o| ws.pool.root.join(&o.file))
                .collect();
            if args.selection.shard.is_some() {
                return Err(Box::new(Problem::new(
                    "shard",
                    "--shard selects org files; a saved plan already names its orgs",
                )));
            }
            let orgs = ws.load_shared(&files, ui)?;
            (orgs, plan, HashMap::new(), true)
        }
        None => {
            let selected = ws.select(&args.selection)?;
            let (orgs, plan, sessions) = ws.load_and_plan(&engine, &rt, &selected, ui)?;
            (orgs, plan, sessions, false)
        }
    };
    out!("{}", render_text(&plan, ui.color_out));
    if plan.summary.total() == 0 {
        outln!("No changes to apply.");
        return Ok(if plan.has_errors() {
            Status::Failed
        } else {
            Status::Ok
        });
    }
    if !is_saved && !args.yes && !confirm()? {
        outln!("Apply cancelled.");
        return Ok(Status::Failed);
    }
    let reports = rt.block_on(engine.apply(&orgs, &plan, sessions, progress, args.orgs_at_once));
    let failed = summarise(&reports);
    if args.engine.stats {
        super::plan::print_stats(&engine);
    }
    Ok(if failed || plan.has_errors() {
        Status::Failed
    } else {
        Status::Ok
    })
}

fn confirm() -> Result<bool, Box<Problem>> {
    eprintln!("Apply these changes? Only 'yes' is accepted:");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(|e| {
        Box::new(Problem::new(
            "stdin",
            format!("cannot read the answer: {e}"),
        ))
    })?;
    Ok(line.trim() == "yes")
}

/// Prints per-org results; true when anything failed.
fn summarise(reports: &[OrgApply]) -> bool {
    let (mut done, mut failed, mut skipped, mut org_errors) = (0, 0, 0, 0);
    for r in reports {
        if let Some(e) = &r.error {
            org_errors += 1;
            outln!("{}: not applied: {e}", r.org);
            continue;
        }
        let (d, f, s) = r.count();
        done += d;
        failed += f;
        skipped += s;
        outln!("{}: {d} done, {f} failed, {s} skipped", r.org);
        for c in &r.results {
            match &c.outcome {
                Outcome::Failed(e) => {
                    outln!("  failed  {} {}: {e}", c.action.symbol(), c.address)
                }
                Outcome::Skipped(_) => outln!(
                    "  skipped {} {} (needs {}, which failed)",
                    c.action.symbol(),
                    c.address,
                    c.blocked_by
                        .as_ref()
                        .map_or_else(String::new, ToString::to_string)
                ),
                Outcome::Done => {}
            }
        }
    }
    outln!(
        "Apply: {done} done, {failed} failed, {skipped} skipped{}.",
        if org_errors > 0 {
            format!(", {org_errors} org(s) not applied")
        } else {
            String::new()
        }
    );
    failed > 0 || org_errors > 0
}
