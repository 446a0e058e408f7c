//! `steward drift`: refresh read-only, report what no longer matches the org files,
//! compared with the last recorded run.

use std::path::PathBuf;

use clap::Args;

use super::{CmdResult, EngineArgs, Selection, Status, Ui, Workspace, runtime};
use crate::diag::Problem;
use crate::drift::email;
use crate::drift::history::HistoryStore;
use crate::drift::render::{Format, Renderer};
use crate::drift::{self, Report};
use crate::engine::Engine;

#[derive(Args, Debug)]
pub struct DriftArgs {
    #[command(flatten)]
    pub selection: Selection,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Write the report to FILE instead of standard output (with --email, as well).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// E-mail the report to the pool team (steward.yaml `email:`) instead of printing it.
    #[arg(long)]
    pub email: bool,
    /// With --email: also send each org's contacts with `reports: true` their own part.
    #[arg(long, requires = "email")]
    pub per_org: bool,
    /// With --email: write the messages as .eml files into DIR instead of sending them.
    #[arg(long, value_name = "DIR", requires = "email")]
    pub dry_run: Option<PathBuf>,
    /// Compare with the history but do not record this run in it.
    #[arg(long)]
    pub no_record: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// Where drift history lives in the pool's (git-ignored) state folder.
pub const HISTORY_FILE: &str = "drift.sqlite";

/// Checks the selected orgs and returns the report, compared with (and, unless
/// `no_record`, recorded in) the history.
pub fn check(
    ws: &Workspace,
    ui: &Ui,
    selection: &Selection,
    engine_args: &EngineArgs,
    no_record: bool,
) -> Result<(Report, std::sync::Arc<Engine>), Box<Problem>> {
    let engine = ws.engine(engine_args)?;
    let rt = runtime()?;
    let selected = ws.select(selection)?;
    let (orgs, plan, _) = ws.load_and_plan(&engine, &rt, &selected, ui)?;
    let today = crate::util::parse_date(&ws.pool.today).unwrap_or_else(crate::util::today);
    let mut reports = drift::reports(&orgs, &plan, today);
    // The next two weeks, as each org's file says them.
    for report in &mut reports {
        if let Some(org) = orgs.iter().find(|o| o.id == report.org) {
            report.upcoming = engine
                .providers
                .iter()
                .flat_map(|p| p.upcoming(org, drift::UPCOMING_DAYS))
                .collect();
            report.upcoming.sort();
        }
    }
    let at = crate::util::now_rfc3339();
    let mut history = ws.history()?;
    history
        .compare_and_record(&at, &mut reports, !no_record)
        .map_err(|e| Problem::new("history", e.to_string()))?;
    // The pool's standard, from the same plan: each org's row, recorded for the trend.
    if let Some(baseline) = &ws.pool.baseline {
        let mut view =
            crate::baseline::compliance::view(baseline, "", &orgs, &plan, &ws.pool.today, None);
        history
            .compare_compliance(&at, &mut view.orgs, !no_record)
            .map_err(|e| Problem::new("history", e.to_string()))?;
        for report in &mut reports {
            if let Some(row) = view.orgs.iter().find(|r| r.org == report.org) {
                report.standard = drift::StandardPart::of(row, &view.items);
            }
        }
    }
    let pool = ws.pool.display_name();
    Ok((Report::new(pool, at, reports), engine))
}

pub fn run(root: &Option<PathBuf>, ui: &Ui, args: DriftArgs) -> CmdResult {
    let ws = Workspace::open(root, ui)?;
    // Check the e-mail settings before spending a refresh on them.
    let email = match (args.email, &ws.pool.config.email) {
        (true, None) => {
            return Err(Box::new(
                Problem::new("email", "steward.yaml has no `email:` settings")
                    .with_help("add email: {from, to, smtp: {host, port, security, username, password}} (see README: Drift reports)"),
            ));
        }
        (true, Some(cfg)) => Some(cfg.clone()),
        (false, _) => None,
    };
    let (report, engine) = check(&ws, ui, &args.selection, &args.engine, args.no_record)?;
    super::plan::print_notes(&engine, ui);
    if args.engine.stats {
        super::plan::print_stats(&engine);
    }
    let renderer = Renderer::new().map_err(|e| Problem::new("template", e.to_string()))?;
    // With --email the report goes by mail; --out keeps a copy (e.g. for a CI summary).
    if !args.email || args.out.is_some() {
        let rendered = renderer
            .render(&report, args.format)
            .map_err(|e| Problem::new("render", e.to_string()))?;
        match &args.out {
            Some(path) => {
                crate::util::write_atomic(path, rendered.as_bytes(), 0o644).map_err(|e| {
                    Problem::new("out", format!("cannot write {}: {e}", path.display()))
                })?;
                eprintln!("Wrote the drift report to {}.", path.display());
            }
            None => print!("{rendered}"),
        }
    }
    if let Some(cfg) = email {
        let status = status(&report);
        let mail_problem = |e: email::EmailError| Box::new(Problem::new("email", e.to_string()));
        let started = std::time::Instant::now();
        let messages =
            email::messages(&report, &cfg, &renderer, args.per_org).map_err(mail_problem)?;
        // The benchmark reads this line (STEWARD_LOG=info).
        tracing::info!(
            messages = messages.len(),
            ms = started.elapsed().as_secs_f64() * 1000.0,
            "rendered the drift e-mail"
        );
        if let Some(dir) = &args.dry_run {
            let files = email::write_all(dir, &messages).map_err(mail_problem)?;
            eprintln!(
                "Dry run: wrote {} message(s) to {} instead of sending them.",
                files.len(),
                dir.display()
            );
            return Ok(status);
        }
        let failures =
            email::send_all(&cfg, &ws.secrets, &ws.pool.root, &messages).map_err(mail_problem)?;
        let recipients: usize = messages.iter().map(|m| m.to.len()).sum();
        for f in &failures {
            eprintln!(
                "{:?}",
                miette::Report::new(Problem::new("email", f.to_string()))
            );
        }
        eprintln!(
            "Sent {} of {} message(s) ({recipients} recipient(s)): {}",
            messages.len() - failures.len(),
            messages.len(),
            crate::drift::render::subject(&report)
        );
        return Ok(if failures.is_empty() {
            status
        } else {
            Status::Failed
        });
    }
    Ok(status(&report))
}

/// 1 when an org could not be checked, else 2 when there is drift, else 0.
pub fn status(report: &Report) -> Status {
    if report.summary.orgs_not_checked > 0 {
        Status::Failed
    } else if report.summary.findings > 0 {
        Status::Changes
    } else {
        Status::Ok
    }
}
