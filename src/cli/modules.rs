//! `steward modules [NAME]`: the catalogue, each input with its type, whether it is
//! required or its default, and what it is for; one module in full with its nested
//! fields.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Args;

use super::{CmdResult, Status, Ui, Workspace};
use crate::diag::{Problem, suggest};
use crate::modules::Module;
use crate::schema::Schema;

#[derive(Args, Debug)]
pub struct ModulesArgs {
    /// One module, in full (every nested field).
    pub name: Option<String>,
}

pub fn run(root: &Option<PathBuf>, ui: &Ui, args: ModulesArgs) -> CmdResult {
    let ws = Workspace::open(root, ui)?;
    let Some(name) = &args.name else {
        for m in ws.catalogue.modules.values() {
            print_module(m, false);
        }
        return Ok(Status::Ok);
    };
    let Some(m) = ws.catalogue.get(name) else {
        let names = ws.catalogue.modules.keys().map(String::as_str);
        let help = match suggest(name, names) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!(
                "modules: {}",
                ws.catalogue
                    .modules
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        return Err(Box::new(
            Problem::new("unknown_module", format!("no module `{name}`")).with_help(help),
        ));
    };
    print_module(m, true);
    Ok(Status::Ok)
}

fn print_module(m: &Module, full: bool) {
    println!("{}: {}", m.name, m.spec.description);
    if !m.spec.requires.is_empty() {
        println!("  requires: {}", m.spec.requires.join(", "));
    }
    if let Some(whole) = &m.spec.input {
        // The module's value is itself a list (backup jobs): its items' fields.
        println!(
            "  {}  {}",
            whole.summary(),
            whole.description.as_deref().unwrap_or("")
        );
        if let Some(fields) = whole.nested() {
            print_fields(fields, 4, full);
        }
    } else {
        print_fields(&m.spec.inputs, 2, full);
    }
    if full {
        println!(
            "  template: modules/{}/{}",
            m.name,
            m.spec.template.display()
        );
    }
}

/// One line per field (name, type, what it is for); with `full`, nested fields below
/// their parent.
fn print_fields(fields: &BTreeMap<String, Schema>, indent: usize, full: bool) {
    let width = fields.keys().map(String::len).max().unwrap_or(0);
    let types: Vec<String> = fields.values().map(Schema::summary).collect();
    let type_width = types.iter().map(String::len).max().unwrap_or(0);
    for ((name, schema), ty) in fields.iter().zip(&types) {
        let line = format!(
            "{:indent$}{name:<width$}  {ty:<type_width$}  {}",
            "",
            schema.description.as_deref().unwrap_or(""),
        );
        println!("{}", line.trim_end());
        if full && let Some(nested) = schema.nested() {
            print_fields(nested, indent + 4, full);
        }
    }
}
