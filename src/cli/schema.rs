//! `steward schema`: the JSON Schema of this pool's org files (its modules' inputs
//! included), of `steward.yaml`, or of `baseline.yaml`, for editors. Files name theirs on their first line:
//! `# yaml-language-server: $schema=../schema/org.schema.json`.

use std::path::PathBuf;

use clap::Args;

use super::{CmdResult, Status, Ui, Workspace};
use crate::diag::Problem;

#[derive(Args, Debug)]
pub struct SchemaArgs {
    /// Write it to FILE instead of standard output (`schema/org.schema.json`).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The schema of `steward.yaml` instead (`schema/steward.schema.json`).
    #[arg(long, conflicts_with = "baseline")]
    pub pool_file: bool,
    /// The schema of the pool's standard instead, `baseline.yaml` (`schema/baseline.schema.json`).
    #[arg(long)]
    pub baseline: bool,
}

pub fn run(root: &Option<PathBuf>, ui: &Ui, args: SchemaArgs) -> CmdResult {
    let schema = if args.pool_file {
        crate::pool::json_schema()
    } else if args.baseline {
        crate::baseline::json_schema()
    } else {
        crate::org::json_schema(&Workspace::open(root, ui)?.catalogue)
    };
    let text = serde_json::to_string_pretty(&schema)
        .map_err(|e| Problem::new("json", format!("cannot write the schema: {e}")))?
        + "\n";
    match &args.out {
        Some(out) => {
            if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| {
                    Problem::new("schema", format!("cannot create {}: {e}", dir.display()))
                })?;
            }
            crate::util::write_atomic(out, text.as_bytes(), 0o644).map_err(|e| {
                Problem::new("schema", format!("cannot write {}: {e}", out.display()))
            })?;
        }
        None => print!("{text}"),
    }
    Ok(Status::Ok)
}
