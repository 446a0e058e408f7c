//! `steward orgs`: which org files a selection picks, without loading them. CI uses it
//! to fan out one job per org (`--json`), and people to see what `--changed-since` or
//! `--shard` would pick before planning.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use super::{CmdResult, Selection, Status, Ui, Workspace};
use crate::changes::Reason;
use crate::diag::Problem;

#[derive(Args, Debug)]
pub struct OrgsArgs {
    #[command(flatten)]
    pub selection: Selection,
    /// Print {"orgs": [{org, file, reasons}], "deleted": [{org, file}]} as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(root: &Option<PathBuf>, ui: &Ui, args: OrgsArgs) -> CmdResult {
    let ws = Workspace::open(root, ui)?;
    let selected = ws.select(&args.selection)?;
    let reasons = |f: &PathBuf| -> Vec<String> {
        selected
            .changes
            .as_ref()
            .and_then(|c| c.selected.get(f))
            .map(|r| r.iter().map(Reason::to_string).collect())
            .unwrap_or_default()
    };
    let mut rows = Vec::new();
    for f in &selected.files {
        let org = crate::org::id_from_path(f);
        // The id goes into CI job names and shell variables: accept only what an org
        // file may be named (loading checks the rest).
        if !crate::schema::is_name(&org) {
            return Err(Box::new(Problem::new(
                "org_file",
                format!(
                    "{} is not a valid org file name (letters, digits, `-`, `_` and `.`)",
                    f.display()
                ),
            )));
        }
        rows.push((org, ws.pool.display_path(f), reasons(f)));
    }
    let deleted = selected.deleted();
    if args.json {
        let value = json!({
            "orgs": rows.iter().map(|(org, file, why)| json!({
                "org": org, "file": file.display().to_string(), "reasons": why,
            })).collect::<Vec<_>>(),
            "deleted": deleted,
        });
        println!("{value}");
    } else {
        for (org, file, why) in &rows {
            if why.is_empty() {
                println!("{org}\t{}", file.display());
            } else {
                println!("{org}\t{}\t{}", file.display(), why.join("; "));
            }
        }
    }
    Ok(Status::Ok)
}
