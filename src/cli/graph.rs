//! `steward graph ORG`: modules and resources with their dependencies, as text or DOT.

use std::path::PathBuf;

use clap::Args;
use petgraph::Direction;

use super::{CmdResult, Status, Ui, Workspace};

#[derive(Args, Debug)]
pub struct GraphArgs {
    /// An org id or org file.
    pub org: String,
    /// Graphviz DOT instead of text.
    #[arg(long)]
    pub dot: bool,
}

pub fn run(root: &Option<PathBuf>, ui: &Ui, args: GraphArgs) -> CmdResult {
    let ws = Workspace::open(root, ui)?;
    let path = ws.org_file(std::path::Path::new(&args.org))?;
    let orgs = ws.load_orgs(&[path], ui)?;
    let Some(org) = orgs.first() else {
        return Ok(Status::Failed);
    };
    let g = &org.graph;
    if args.dot {
        println!("digraph \"{}\" {{", org.id);
        println!("  rankdir=LR;\n  compound=true;");
        for module in &org.modules {
            println!("  subgraph \"cluster_{module}\" {{ label=\"module {module}\";");
            for n in g.node_indices() {
                let r = &org.resources[g[n]];
                if &r.module == module {
                    println!("    \"{}\";", r.address);
                }
            }
            println!("  }}");
        }
        // A module's order after what it requires, drawn once between the clusters.
        let first = |module: &str| {
            org.resources
                .iter()
                .find(|r| r.module == module)
                .map(|r| r.address.to_string())
        };
        for module in &org.modules {
            let Some(m) = ws.catalogue.get(module) else {
                continue;
            };
            for req in &m.spec.requires {
                if let (Some(a), Some(b)) = (first(module), first(req)) {
                    println!(
                        "  \"{a}\" -> \"{b}\" [ltail=\"cluster_{module}\", lhead=\"cluster_{req}\", style=dashed];"
                    );
                }
            }
        }
        for e in g.edge_indices() {
            if let Some((a, b)) = g.edge_endpoints(e) {
                // Arrows point from a resource to what it needs, as in `depends on`.
                println!(
                    "  \"{}\" -> \"{}\";",
                    org.resources[g[b]].address, org.resources[g[a]].address
                );
            }
        }
        println!("}}");
        return Ok(Status::Ok);
    }
    match &org.standard.tier {
        Some(t) => println!("org {} (tier {t} of the pool's standard)", org.id),
        None => println!("org {}", org.id),
    }
    for module in &org.modules {
        let requires = ws
            .catalogue
            .get(module)
            .map(|m| m.spec.requires.clone())
            .unwrap_or_default();
        if requires.is_empty() {
            println!("module {module}");
        } else {
            println!("module {module} (requires {})", requires.join(", "));
        }
        for n in g.node_indices() {
            let r = &org.resources[g[n]];
            if &r.module != module {
                continue;
            }
            let deps: Vec<String> = g
                .neighbors_directed(n, Direction::Incoming)
                .map(|d| org.resources[g[d]].address.to_string())
                .collect();
            // Where a value the standard or steward.yaml gave comes from.
            let whence = match (org.standard.origin(&r.source), org.pool_origin(&r.source)) {
                (Some(o), _) => format!(
                    "  # the pool's standard: item `{}`, tier `{}`, {}",
                    o.item,
                    o.tier,
                    o.at.cite()
                ),
                (None, Some(g)) => format!("  # the pool's inputs, {}", g.at.cite()),
                (None, None) => String::new(),
            };
            if deps.is_empty() {
                println!("  {}{whence}", r.address);
            } else {
                println!("  {} <- {}{whence}", r.address, deps.join(", "));
            }
        }
    }
    Ok(Status::Ok)
}
