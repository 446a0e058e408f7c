//! Modules of an org file: known, inputs checked, requirements enabled and in order;
//! then each rendered into resources.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use petgraph::graph::NodeIndex;

use serde_json::{Map, Value};

use super::sections::Top;
use crate::diag::{Problem, Problems, SourceFile, suggest};
use crate::graph::{DepGraph, describe_cycle, find_cycle};
use crate::modules::Catalogue;
use crate::resource::Resource;
use crate::schema::Ctx;
use crate::secrets::Secrets;
use crate::yaml::{Node, Span};

/// Enabled modules with where the file enables them and their checked inputs.
pub(super) type Enabled = Vec<(String, Span, Value)>;

/// Checks the `modules:` section, with the pool's inputs and the standard's items of
/// the org's tier under the org's own. `None` when the modules cannot be ordered (one
/// missing, a cycle): nothing can be rendered then.
#[allow(clippy::too_many_arguments)]
pub(super) fn check(
    pool: &crate::pool::Pool,
    catalogue: &Catalogue,
    secrets: &Secrets,
    file: &Arc<SourceFile>,
    root: &Node,
    top: &Top,
    standard: &mut crate::baseline::layer::OrgStandard,
    pool_given: &mut Vec<super::PoolGiven>,
    problems: &mut Problems,
) -> Option<(Enabled, Vec<String>)> {
    let today = crate::util::parse_date(&pool.today).unwrap_or_else(crate::util::today);
    let domain = top.context.domains.first().map_or("", String::as_str);
    let facts = crate::baseline::layer::OrgFacts {
        id: &top.id,
        domain,
    };
    // Modules: known, inputs valid, requirements enabled, no cycle.
    let mut enabled: Vec<(String, Span, Value)> = Vec::new();
    if let Some(entries) = root.get("modules").and_then(Node::entries) {
        for (key, node) in entries {
            let Some(module) = catalogue.get(&key.text) else {
                let mut p = Problem::at(
                    "unknown_module",
                    file,
                    key.span,
                    format!("unknown module `{}`", key.text),
                    "not in the module catalogue",
                );
                p = match suggest(&key.text, catalogue.modules.keys().map(String::as_str)) {
                    Some(s) => p.with_help(format!("did you mean `{s}`?")),
                    None => p.with_help(format!(
                        "modules available: {} (see `steward modules`)",
                        catalogue
                            .modules
                            .keys()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                };
                problems.push(p);
                continue;
            };
            let path = format!("modules.{}", key.text);
            let mut ctx = Ctx {
                file,
                domains: &top.context.domains,
                hosts: &top.context.hosts,
                secrets,
                scope: &top.scope,
                problems,
            };
            let mut inputs = module.input_schema.check(node, &path, &mut ctx);
            // The pool's inputs for the module (reported at their line in steward.yaml),
            // under the org's own.
            let pool_inputs = pool.file.as_ref().and_then(|f| {
                let n = f.1.get("modules")?.get(&key.text)?;
                Some((f, n))
            });
            if let Some((pool_file, pool_node)) = pool_inputs {
                let mut pool_ctx = Ctx {
                    file: &pool_file.0,
                    domains: &top.context.domains,
                    hosts: &top.context.hosts,
                    secrets,
                    scope: &top.scope,
                    problems: ctx.problems,
                };
                let from_pool = module.input_schema.check(pool_node, &path, &mut pool_ctx);
                let nested = module.input_schema.nested();
                // Where each value the pool gave is, for plans to cite.
                for (key, span) in layer(&mut inputs, node, from_pool, pool_node, nested) {
                    pool_given.push(super::PoolGiven {
                        path: format!("{path}.{key}"),
                        at: crate::baseline::At {
                            file: pool_file.0.clone(),
                            span,
                        },
                    });
                }
            }
            if let Some(baseline) = pool.baseline.as_deref() {
                crate::baseline::layer::apply(
                    baseline,
                    standard,
                    &key.text,
                    &module.input_schema,
                    node,
                    &mut inputs,
                    &facts,
                    today,
                    &mut ctx,
                );
            }
            module
                .input_schema
                .check_keys(node, &inputs, &inputs, &mut ctx);
            enabled.push((key.text.clone(), key.span, inputs));
        }
    }
    let mut order_problem = false;
    for (name, span, _) in &enabled {
        let Some(module) = catalogue.get(name) else {
            continue;
        };
        for req in &module.spec.requires {
            if !enabled.iter().any(|(n, _, _)| n == req) {
                order_problem = true;
                problems.push(
                    Problem::at(
                        "missing_module",
                        file,
                        *span,
                        format!("module `{name}` requires module `{req}`, which this org does not enable"),
                        format!("needs `{req}`"),
                    )
                    .with_help(format!("add `{req}: {{}}` under `modules:`")),
                );
            }
        }
    }
    let modules = match module_order(catalogue, &enabled) {
        Ok(order) => order,
        Err((cycle, span)) => {
            order_problem = true;
            problems.push(
                Problem::at(
                    "cycle",
                    file,
                    span,
                    format!("module dependency cycle: {}", describe_cycle(&cycle)),
                    "this module is part of a cycle",
                )
                .with_help("remove one of these `requires` in the modules' module.yaml"),
            );
            Vec::new()
        }
    };
    (!order_problem).then_some((enabled, modules))
}

/// Lays the org's checked inputs over the pool's: what the org file does not give is
/// the pool's; a map input both give has the entries of both, the org's winning.
/// Returns what the pool gave (`key`, or `key.entry` for a map's entry) with where
/// `pool_node` has it.
fn layer(
    org: &mut Value,
    org_node: &Node,
    pool: Value,
    pool_node: &Node,
    fields: Option<&BTreeMap<String, crate::schema::Schema>>,
) -> Vec<(String, Span)> {
    let mut gave = Vec::new();
    let span = |k: &str, entry: Option<&str>| {
        let n = pool_node.get(k);
        entry
            .and_then(|e| n?.get(e))
            .or(n)
            .map_or(pool_node.span, |n| n.span)
    };
    let (Value::Object(org), Value::Object(pool)) = (org, pool) else {
        return gave;
    };
    for (k, v) in pool {
        let given = org_node.get(&k).is_some();
        let is_map = fields
            .and_then(|f| f.get(&k))
            .is_some_and(|s| s.ty == crate::schema::Type::Map);
        match (given, org.get_mut(&k)) {
            (true, Some(Value::Object(mine))) if is_map => {
                if let Value::Object(theirs) = v {
                    for (name, entry) in theirs {
                        if !mine.contains_key(&name) {
                            gave.push((format!("{k}.{name}"), span(&k, Some(&name))));
                            mine.insert(name, entry);
                        }
                    }
                }
            }
            (true, _) => {}
            (false, _) => {
                gave.push((k.clone(), span(&k, None)));
                org.insert(k, v);
            }
        }
    }
    gave
}

/// Renders every enabled module, in order, into settings and resources. With
/// `had_problems`, a template failing on an invalid value is expected and not reported.
#[allow(clippy::too_many_arguments)]
pub(super) fn render(
    catalogue: &Catalogue,
    file: &Arc<SourceFile>,
    top: &Top,
    today: &str,
    enabled: &mut Enabled,
    modules: &[String],
    had_problems: bool,
    problems: &mut Problems,
) -> (BTreeMap<String, Map<String, Value>>, Vec<Resource>) {
    // Render every module into resources.
    let mut org_base = serde_json::json!({
        "id": top.id,
        "name": top.value["name"],
        "domain": top.context.domains.first(),
        "domains": top.context.domains,
        "today": today,
    });
    // Each provider's section as the file has it (`org.google`, `org.hosts`).
    for section in crate::providers::REGISTRY.iter().filter_map(|p| p.section) {
        org_base[section.key] = top.value[section.key].clone();
    }
    // `org.modules`: every other enabled module's checked inputs (`base` installs what
    // the others use). A module's own are its `inputs`: not copied again, which for an
    // org of thousands of people is most of the memory a load takes.
    let org_ctx = |enabled: &[(String, Span, Value)], own: &str| {
        let mut org = org_base.clone();
        org["modules"] = Value::Object(
            enabled
                .iter()
                .filter(|(n, _, _)| n != own)
                .map(|(n, _, v)| (n.clone(), v.clone()))
                .collect::<Map<String, Value>>(),
        );
        org
    };
    let mut settings = BTreeMap::new();
    let mut resources = Vec::new();
    for name in modules {
        let Some(i) = enabled.iter().position(|(n, _, _)| n == name) else {
            continue;
        };
        let span = enabled[i].1;
        let Some(module) = catalogue.get(name) else {
            continue;
        };
        let org = org_ctx(enabled, name);
        // Lent to the render and given back: its context is made of them, not a copy.
        let inputs = std::mem::take(&mut enabled[i].2);
        let (result, inputs) = catalogue.render(module, org, inputs);
        enabled[i].2 = inputs;
        match result {
            Ok((s, r)) => {
                settings.insert(name.clone(), s);
                resources.extend(r);
            }
            Err(e) if !had_problems => problems.push(
                Problem::at(
                    "module_render",
                    file,
                    span,
                    e.to_string(),
                    "while rendering this module",
                )
                .with_help(format!(
                    "this is a fault in modules/{name}/, not in the org file"
                )),
            ),
            Err(_) => {}
        }
    }
    (settings, resources)
}

/// Orders enabled modules so each comes after what it requires.
fn module_order(
    catalogue: &Catalogue,
    enabled: &[(String, Span, Value)],
) -> Result<Vec<String>, (Vec<String>, Span)> {
    let mut g: DepGraph<&str> = DepGraph::new();
    let idx: HashMap<&str, NodeIndex> = enabled
        .iter()
        .map(|(n, _, _)| (n.as_str(), g.add_node(n.as_str())))
        .collect();
    for (name, _, _) in enabled {
        if let Some(m) = catalogue.get(name) {
            for req in &m.spec.requires {
                if let (Some(a), Some(b)) = (idx.get(req.as_str()), idx.get(name.as_str())) {
                    g.add_edge(*a, *b, ());
                }
            }
        }
    }
    if let Some(cycle) = find_cycle(&g) {
        // Edges run from requirement to module; name them the way authors write them.
        let mut names: Vec<String> = cycle.iter().map(|i| g[*i].to_string()).collect();
        names.reverse();
        let span = enabled
            .iter()
            .find(|(n, _, _)| *n == names[0])
            .map(|(_, s, _)| *s)
            .unwrap_or_default();
        return Err((names, span));
    }
    let order = petgraph::algo::toposort(&g, None).map_err(|_| (Vec::new(), Span::default()))?;
    Ok(order.into_iter().map(|i| g[i].to_string()).collect())
}
