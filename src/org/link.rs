//! Resources of an org: identities, references, the graph they form, and the order
//! modules put them in.

use std::collections::{HashMap, HashSet};

use petgraph::graph::NodeIndex;

use super::Org;
use crate::diag::{Problem, Problems, suggest};
use crate::graph::{DepGraph, describe_cycle, find_cycle};
use crate::modules::Catalogue;
use crate::resource::Address;

/// Checks resource identities and references, and builds the resource graph.
pub(super) fn link(mut org: Org, catalogue: &Catalogue) -> Result<Org, Problems> {
    let mut problems = Problems::default();
    let mut by_address: HashMap<Address, usize> = HashMap::new();
    for (i, r) in org.resources.iter().enumerate() {
        if let Some(first) = by_address.get(&r.address) {
            let first = &org.resources[*first];
            if r.address.kind.merges_identical() && first.attrs == r.attrs {
                continue;
            }
            let mut problem = Problem::at(
                "duplicate",
                &org.file,
                org.span_of(&r.source),
                format!("duplicate {} `{}`", r.address.kind.noun(), r.address.id),
                "defined again here",
            )
            .with_label(org.span_of(&first.source), "first defined here");
            if let Some(help) = r.address.kind.duplicate_help() {
                problem = problem.with_help(help);
            }
            problems.push(problem);
        } else {
            by_address.insert(r.address.clone(), i);
        }
        if r.address.kind.has_file_content()
            && let Err(rule) = r.address.kind.path_rule(r.attrs.str("path"))
        {
            problems.push(
                Problem::at(
                    "file_path",
                    &org.file,
                    org.span_of(&r.source),
                    format!(
                        "{} `{}` is not a path Steward manages",
                        r.address.kind.noun(),
                        r.attrs.str("path")
                    ),
                    "rendered from here",
                )
                .with_help(format!("{rule} (a fault in modules/{}/)", r.module)),
            );
        }
    }
    let mut graph: DepGraph<usize> = DepGraph::new();
    let mut edges = crate::graph::EdgeSet::default();
    let nodes: Vec<NodeIndex> = (0..org.resources.len())
        .map(|i| graph.add_node(i))
        .collect();
    for (i, r) in org.resources.iter().enumerate() {
        for reference in r.address.kind.references(&r.attrs) {
            let target = reference.kinds.iter().find_map(|k| {
                by_address.get(&Address {
                    kind: *k,
                    id: reference.id.clone(),
                })
            });
            match target {
                Some(t) => {
                    edges.add(&mut graph, nodes[*t], nodes[i]);
                }
                None => {
                    let path = format!("{}.{}", r.source, reference.attribute);
                    let span = match org.root.at_path(&path) {
                        Some(n) => n.span,
                        None => org.span_of(&r.source),
                    };
                    let nouns: Vec<&str> = reference.kinds.iter().map(|k| k.noun()).collect();
                    let mut known: Vec<&str> = org
                        .resources
                        .iter()
                        .filter(|x| reference.kinds.contains(&x.address.kind))
                        .map(|x| x.address.id.as_str())
                        .collect();
                    known.sort_unstable();
                    known.dedup();
                    let message = if nouns.len() == 1 {
                        format!("unknown {} `{}`", nouns[0], reference.id)
                    } else {
                        format!(
                            "`{}` is neither a {} of this org",
                            reference.id,
                            nouns.join(" nor a ")
                        )
                    };
                    let help = if known.is_empty() {
                        format!("this org declares no {}", nouns.join(" or "))
                    } else {
                        match suggest(&reference.id, known.iter().copied()) {
                            Some(s) => format!("did you mean `{s}`?"),
                            None => format!("declared: {}", known.join(", ")),
                        }
                    };
                    problems.push(
                        Problem::at(
                            "unknown_reference",
                            &org.file,
                            span,
                            message,
                            "not declared in this org",
                        )
                        .with_help(help),
                    );
                }
            }
        }
    }
    // Modules order resources: everything in a module comes after what it requires.
    // That order is not spelt out as resource edges (one per pair would be quadratic
    // in a large org); a reference against it is a cycle of its own.
    let requires = transitive_requires(catalogue, &org.modules);
    let mut reported = HashSet::new();
    for e in graph.edge_indices() {
        let Some((dep, user)) = graph.edge_endpoints(e) else {
            continue;
        };
        let (needed, needs) = (&org.resources[graph[dep]], &org.resources[graph[user]]);
        if needed.module != needs.module
            && requires
                .get(needed.module.as_str())
                .is_some_and(|r| r.contains(needs.module.as_str()))
            && reported.insert((needed.module.as_str(), needs.module.as_str()))
        {
            problems.push(Problem::at(
                "cycle",
                &org.file,
                org.span_of(&needs.source),
                format!(
                    "resource dependency cycle: {} (module {}) needs {} (module {}), but module {} requires module {}",
                    needs.address, needs.module, needed.address, needed.module, needed.module, needs.module
                ),
                "part of a cycle",
            ));
        }
    }
    if let Some(cycle) = find_cycle(&graph) {
        let names: Vec<String> = cycle
            .iter()
            .map(|n| org.resources[graph[*n]].address.to_string())
            .collect();
        let first = &org.resources[graph[cycle[0]]];
        problems.push(Problem::at(
            "cycle",
            &org.file,
            org.span_of(&first.source),
            format!("resource dependency cycle: {}", describe_cycle(&names)),
            "part of a cycle",
        ));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    org.graph = graph;
    org.index = by_address;
    Ok(org)
}

/// Each enabled module's requirements, direct and indirect.
fn transitive_requires<'a>(
    catalogue: &'a Catalogue,
    modules: &'a [String],
) -> HashMap<&'a str, HashSet<&'a str>> {
    let mut all: HashMap<&str, HashSet<&str>> = HashMap::new();
    for m in modules {
        let mut seen = HashSet::new();
        let mut todo: Vec<&str> = vec![m.as_str()];
        while let Some(next) = todo.pop() {
            for r in catalogue
                .get(next)
                .map_or(&[][..], |x| &x.spec.requires[..])
            {
                if seen.insert(r.as_str()) {
                    todo.push(r.as_str());
                }
            }
        }
        all.insert(m.as_str(), seen);
    }
    all
}
