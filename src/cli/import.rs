//! `steward import`: an existing org taken into the pool (`crate::import`).

use std::path::PathBuf;

use super::{CmdResult, Status, Ui, Workspace, runtime};
use crate::diag::Problem;
use crate::import::{ImportArgs, ImportError};

pub fn run(root: &Option<PathBuf>, ui: &Ui, args: ImportArgs) -> CmdResult {
    let ws = Workspace::open(root, ui)?;
    let rt = runtime()?;
    if args.unmanaged {
        return unmanaged(&ws, &rt, ui, &args);
    }
    let done = rt.block_on(crate::import::import(
        &ws.pool,
        &ws.catalogue,
        &ws.secrets,
        &args,
    ));
    let imported = done.map_err(|e| {
        problem(
            ui,
            e,
            "the imported org file would not validate, so it was not written (a bug in Steward: please report it with the problems above)",
        )
    })?;
    let counts: Vec<String> = imported
        .counts
        .iter()
        .map(|(what, n)| format!("{n} {what}"))
        .collect();
    println!(
        "Wrote {}: {} ({} API requests).",
        imported.file.display(),
        counts.join(", "),
        imported.requests
    );
    for file in &imported.secrets_written {
        println!(
            "Wrote secret {file} (0600): a value found on a host, referenced from the file, never in it."
        );
    }
    if imported.left_out.is_empty() {
        println!("Everything found is in the file.");
    } else {
        println!(
            "Not imported, left as it is ({}; also listed at the top of the file):",
            imported.left_out.len()
        );
        for (what, why) in &imported.left_out {
            println!("  - {what}: {why}");
        }
    }
    ui.note(format_args!(
        "Next: `steward plan {}` changes no live value: it only adopts what was found (Steward's marker on each account and host).",
        imported.file.display()
    ));
    Ok(Status::Ok)
}

fn unmanaged(
    ws: &Workspace,
    rt: &tokio::runtime::Runtime,
    ui: &Ui,
    args: &ImportArgs,
) -> CmdResult {
    let found = rt.block_on(crate::import::unmanaged(
        &ws.pool,
        &ws.catalogue,
        &ws.secrets,
        &args.org,
        args.write,
    ));
    let found = found.map_err(|e| {
        problem(
            ui,
            e,
            "the org file does not validate as it is (fix it first), or would not with the additions (nothing was written)",
        )
    })?;
    let what = format!(
        "{} group(s) and {} user(s)",
        found.groups.len(),
        found.users.len()
    );
    if found.groups.is_empty() && found.users.is_empty() {
        println!(
            "Nothing unmanaged: {} declares every user and group its tenant holds.",
            found.file.display()
        );
        return Ok(Status::Ok);
    }
    if found.written {
        println!("Added {what} to {}.", found.file.display());
        ui.note(format_args!(
            "Next: `steward plan {}` adopts them (Steward's marker) and changes nothing else.",
            found.file.display()
        ));
        return Ok(Status::Ok);
    }
    println!(
        "# In the tenant, not in {}: {what}. `--write` adds them.",
        found.file.display()
    );
    for (key, items) in [("groups", &found.groups), ("users", &found.users)] {
        if items.is_empty() {
            continue;
        }
        println!("{key}:");
        for item in items {
            println!("  - {}", crate::import::emit::flow(item));
        }
    }
    Ok(Status::Ok)
}

/// An import's error as a diagnostic; a file that would not validate shows its
/// problems first, then `invalid`.
fn problem(ui: &Ui, e: ImportError, invalid: &str) -> Box<Problem> {
    match e {
        ImportError::Invalid(problems) => {
            ui.report(&problems);
            Box::new(Problem::new("import", invalid))
        }
        e => Box::new(Problem::new("import", e.to_string())),
    }
}
