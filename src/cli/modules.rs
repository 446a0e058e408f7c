//! `steward modules`: the catalogue.

use std::path::PathBuf;

use clap::Args;

use super::{CmdResult, Status, Ui, Workspace};

#[derive(Args, Debug)]
pub struct ModulesArgs {}

pub fn run(root: &Option<PathBuf>, ui: &Ui, _args: ModulesArgs) -> CmdResult {
    let ws = Workspace::open(root, ui)?;
    for (name, m) in &ws.catalogue.modules {
        println!("{name}: {}", m.spec.description);
        if !m.spec.requires.is_empty() {
            println!("  requires: {}", m.spec.requires.join(", "));
        }
        if let Some(whole) = &m.spec.input {
            let desc = whole.description.as_deref().unwrap_or("");
            println!("  (a list)     {desc}");
            for (field, schema) in whole
                .items
                .as_ref()
                .and_then(|i| i.fields.as_ref())
                .into_iter()
                .flatten()
            {
                let desc = schema.description.as_deref().unwrap_or("");
                println!("    {field:<10} {desc}");
            }
        }
        for (input, schema) in &m.spec.inputs {
            let desc = schema.description.as_deref().unwrap_or("");
            println!("  {input:<12} {desc}");
        }
    }
    Ok(Status::Ok)
}
