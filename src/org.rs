//! Org files: loading, checking every value against its schema, rendering modules into
//! resources, and checking the references and graph those resources form.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use petgraph::graph::NodeIndex;
use serde_json::{Map, Value};

use crate::diag::{Problem, Problems, SourceFile, suggest};
use crate::graph::{DepGraph, describe_cycle, find_cycle};
use crate::modules::Catalogue;
use crate::pool::Pool;
use crate::resource::{Address, Resource};
use crate::schema::{Ctx, Schema};
use crate::secrets::Secrets;
use crate::yaml::{self, Node, Span};

/// The org file's own keys, and each provider's section under its key.
static ORG_SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    let mut schema: Schema = serde_yaml::from_str(include_str!("org_schema.yaml"))
        .unwrap_or_else(|e| panic!("built-in org schema is invalid: {e}"));
    let fields = schema.fields.get_or_insert_with(BTreeMap::new);
    for section in crate::providers::REGISTRY.iter().filter_map(|p| p.section) {
        let part: Schema = serde_yaml::from_str(section.schema)
            .unwrap_or_else(|e| panic!("the `{}` section's schema is invalid: {e}", section.key));
        fields.insert(section.key.to_string(), part);
    }
    schema
});

#[derive(Debug, Clone)]
pub struct Contact {
    pub name: String,
    pub email: String,
    pub reports: bool,
}

/// A known difference the org file acknowledges until a date (`accepted_drift:`).
#[derive(Debug, Clone)]
pub struct Accepted {
    pub address: Address,
    /// Only these fields; empty means any difference of the resource.
    pub fields: Vec<String>,
    pub reason: String,
    /// Last day accepted, as written and as days since 1970-01-01.
    pub until: String,
    pub until_day: i64,
    /// Where in the org file, for the report.
    pub line: usize,
}

/// A checked org: everything later stages need, with positions for messages.
#[derive(Debug, Clone)]
pub struct Org {
    pub id: String,
    pub name: String,
    pub file: Arc<SourceFile>,
    pub root: Node,
    pub contacts: Vec<Contact>,
    pub accepted: Vec<Accepted>,
    /// Each provider's section of the file (`google:`, `hosts:`), as it keeps it.
    pub sections: crate::providers::Parts,
    /// Enabled modules in dependency order.
    pub modules: Vec<String>,
    /// Settings rendered by each module, by module name.
    pub settings: BTreeMap<String, Map<String, Value>>,
    pub resources: Vec<Resource>,
    /// Index of `resources` by address.
    pub index: HashMap<Address, usize>,
    /// Edges between resources (indices into `resources`), dependency first.
    pub graph: DepGraph<usize>,
    pub sha256: String,
    /// The secrets this org may use; file content is filled only with these.
    pub secret_scope: crate::secrets::SecretScope,
}

impl Org {
    /// File, line and column a dotted path comes from (the nearest existing parent).
    pub fn locate(&self, path: &str) -> (String, usize, usize) {
        let span = self.span_of(path);
        let (line, col) = self.file.line_col(span);
        (self.file.path.display().to_string(), line, col)
    }

    pub fn span_of(&self, path: &str) -> Span {
        let mut p = path.to_string();
        loop {
            if let Some(node) = self.root.at_path(&p) {
                return node.span;
            }
            match p.rsplit_once('.') {
                Some((parent, _)) => p = parent.to_string(),
                None => return Span::new(0, 0),
            }
        }
    }

    /// The section `provider` keeps for this org, if the file has one.
    pub fn section<T: std::any::Any>(&self, provider: &str) -> Option<&T> {
        self.sections.get(provider)
    }

    pub fn resource(&self, address: &Address) -> Option<&Resource> {
        self.index.get(address).map(|i| &self.resources[*i])
    }

    pub fn setting(&self, module: &str, name: &str) -> Option<&Value> {
        self.settings.get(module)?.get(name)
    }
}

/// The org id a file must declare: its name without `.yaml`.
pub fn id_from_path(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Every org file in `orgs/`, sorted by name.
pub fn discover(pool: &Pool) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(pool.orgs_dir())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|e| e == "yaml" || e == "yml")
                && p.file_name()
                    .is_some_and(|n| !n.to_string_lossy().starts_with('.'))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Loads and checks one org file. All problems in it are returned together.
pub fn load(
    pool: &Pool,
    catalogue: &Catalogue,
    secrets: &Secrets,
    path: &Path,
) -> Result<Org, Problems> {
    let mut problems = Problems::default();
    let shown = pool.display_path(path);
    let text = match crate::util::read_inside(path, &pool.orgs_dir(), &shown) {
        Ok(t) => t,
        Err(e) => {
            let message = e.to_string();
            problems.push(match e {
                // Bad bytes are shown where they are: before them the lossy text is the
                // file's own, byte for byte.
                crate::util::ReadError::NotUtf8 { lossy, offset, .. } => Problem::at(
                    "encoding",
                    &SourceFile::new(&shown, lossy),
                    Span::new(offset, 1),
                    message,
                    "here",
                )
                .with_help("save the file as UTF-8"),
                _ => Problem::new("org_file", message),
            });
            return Err(problems);
        }
    };
    let sha256 = crate::util::sha256_hex(text.as_bytes());
    let file = SourceFile::new(&shown, text);
    let root = match yaml::parse(file.text()) {
        Ok(r) => r,
        Err(e) => {
            problems.push(Problem::at(
                "yaml",
                &file,
                e.span,
                format!("YAML syntax error: {}", e.message),
                "here",
            ));
            return Err(problems);
        }
    };
    if root.entries().is_none() {
        problems.push(Problem::at(
            "wrong_type",
            &file,
            root.span_head(),
            "an org file is a mapping of keys (org, name, google, modules, ...)",
            "expected a mapping",
        ));
        return Err(problems);
    }

    // What each provider's section tells the rest of the file: the domains addresses
    // must be in, the host names module inputs may name.
    let mut context = crate::providers::OrgContext::default();
    for section in crate::providers::REGISTRY.iter().filter_map(|p| p.section) {
        if let Some(node) = root.get(section.key) {
            (section.context)(node, &mut context);
        }
    }
    let (domains, host_names) = (&context.domains, &context.hosts);

    // An org file names its own secrets (by its file name, which is its id).
    let scope = crate::secrets::SecretScope {
        org: id_from_path(path),
        shared: pool.config.secrets.shared.clone(),
    };
    let value = {
        let mut ctx = Ctx {
            file: &file,
            domains,
            hosts: host_names,
            secrets,
            scope: &scope,
            problems: &mut problems,
        };
        ORG_SCHEMA.check(&root, "", &mut ctx)
    };

    let id = value["org"].as_str().unwrap_or_default().to_string();
    let stem = id_from_path(path);
    if let Some(node) = root.get("org")
        && !id.is_empty()
        && id != stem
    {
        problems.push(
            Problem::at(
                "org_id_mismatch",
                &file,
                node.span,
                format!("org id `{id}` does not match the file name `{stem}.yaml`"),
                "must match the file name",
            )
            .with_help(format!(
                "rename the file to orgs/{id}.yaml, or set `org: {stem}`"
            )),
        );
    }
    let mut sections = crate::providers::Parts::default();
    for provider in crate::providers::REGISTRY {
        let Some(section) = provider.section else {
            continue;
        };
        if let Some(node) = root.get(section.key) {
            let input = crate::providers::SectionInput {
                node,
                value: &value[section.key],
                file: &file,
                context: &context,
            };
            sections.insert(provider.name, (section.build)(&input, &mut problems));
        }
    }
    let contacts = value["contacts"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| Contact {
                    name: c["name"].as_str().unwrap_or_default().to_string(),
                    email: c["email"].as_str().unwrap_or_default().to_string(),
                    reports: c["reports"].as_bool().unwrap_or(false),
                })
                .collect()
        })
        .unwrap_or_default();

    let mut accepted = Vec::new();
    for (i, a) in value["accepted_drift"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let path = format!("accepted_drift.{i}.resource");
        // A value that is not text was reported by the schema already.
        let Some(text) = a["resource"].as_str() else {
            continue;
        };
        let span = root.at_path(&path).map(|n| n.span).unwrap_or_default();
        match Address::parse(text) {
            Ok(address) => accepted.push(Accepted {
                address,
                fields: a["fields"]
                    .as_array()
                    .map(|f| f.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
                    .unwrap_or_default(),
                reason: a["reason"].as_str().unwrap_or_default().to_string(),
                until: a["until"].as_str().unwrap_or_default().to_string(),
                until_day: a["until"]
                    .as_str()
                    .and_then(crate::util::parse_date)
                    .unwrap_or(i64::MIN),
                line: file.line_col(span).0,
            }),
            Err(why) => problems.push(
                Problem::at("bad_address", &file, span, why, "not a resource address")
                    .with_help("write it as the plan or drift report shows it, e.g. google_user[ann@example.org]"),
            ),
        }
    }

    // Modules: known, inputs valid, requirements enabled, no cycle.
    let mut enabled: Vec<(String, Span, Value)> = Vec::new();
    if let Some(entries) = root.get("modules").and_then(Node::entries) {
        for (key, node) in entries {
            let Some(module) = catalogue.get(&key.text) else {
                let mut p = Problem::at(
                    "unknown_module",
                    &file,
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
            let mut ctx = Ctx {
                file: &file,
                domains,
                hosts: host_names,
                secrets,
                scope: &scope,
                problems: &mut problems,
            };
            let inputs =
                module
                    .input_schema
                    .check(node, &format!("modules.{}", key.text), &mut ctx);
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
                        &file,
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
                    &file,
                    span,
                    format!("module dependency cycle: {}", describe_cycle(&cycle)),
                    "this module is part of a cycle",
                )
                .with_help("remove one of these `requires` in the modules' module.yaml"),
            );
            Vec::new()
        }
    };
    if order_problem {
        return Err(problems);
    }
    // Rendering and linking go ahead even after value problems, so reference errors are
    // reported in the same run; a template failing on an invalid value is then expected.
    let had_problems = !problems.is_empty();

    // Render every module into resources.
    let mut org_base = serde_json::json!({
        "id": id,
        "name": value["name"],
        "domain": domains.first(),
        "domains": domains,
    });
    // Each provider's section as the file has it (`org.google`, `org.hosts`).
    for section in crate::providers::REGISTRY.iter().filter_map(|p| p.section) {
        org_base[section.key] = value[section.key].clone();
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
    for name in &modules {
        let Some(i) = enabled.iter().position(|(n, _, _)| n == name) else {
            continue;
        };
        let span = enabled[i].1;
        let Some(module) = catalogue.get(name) else {
            continue;
        };
        let org = org_ctx(&enabled, name);
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
                    &file,
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
    // The checked inputs are in the resources now; linking a large org needs the room.
    drop(enabled);
    let org = Org {
        id,
        name: value["name"].as_str().unwrap_or_default().to_string(),
        file: file.clone(),
        root,
        contacts,
        accepted,
        sections,
        modules,
        settings,
        resources,
        index: HashMap::new(),
        graph: DepGraph::new(),
        sha256,
        secret_scope: scope,
    };
    match link(org, catalogue) {
        Ok(org) if problems.is_empty() => {
            // What a service would refuse at apply time, at the line that says it.
            let refused = crate::providers::check(&org, secrets);
            if refused.is_empty() {
                Ok(org)
            } else {
                Err(refused)
            }
        }
        Ok(_) => Err(problems),
        Err(more) => {
            // A duplicate the input schema already reported (its `unique`) is not
            // reported again for the resource it renders into.
            let seen: Vec<Span> = problems
                .0
                .iter()
                .filter(|p| p.code == "duplicate")
                .filter_map(|p| p.labels.first().map(|l| l.0))
                .collect();
            for p in more.0 {
                let repeated = p.code == "duplicate"
                    && p.labels.first().is_some_and(|(outer, _)| {
                        seen.iter().any(|inner| {
                            inner.start >= outer.start && inner.start < outer.start + outer.len
                        })
                    });
                if !repeated {
                    problems.push(p);
                }
            }
            Err(problems)
        }
    }
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

/// Checks resource identities and references, and builds the resource graph.
fn link(mut org: Org, catalogue: &Catalogue) -> Result<Org, Problems> {
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

/// Loads many org files on all cores; each org's problems are kept apart so one bad
/// file does not hide another's. Results keep the order of `paths`.
pub fn load_all(
    pool: &Pool,
    catalogue: &Catalogue,
    secrets: &Secrets,
    paths: &[PathBuf],
) -> (Vec<Org>, Problems) {
    let (orgs, problems) = load_all_shared(pool, catalogue, secrets, paths, &|_| {});
    let orgs = orgs
        .into_iter()
        .map(|o| Arc::try_unwrap(o).unwrap_or_else(|shared| (*shared).clone()))
        .collect();
    (orgs, problems)
}

/// As [`load_all`], calling `on_loaded` with each org as soon as it is checked, so
/// refreshing can start while other files are still loading.
pub fn load_all_shared(
    pool: &Pool,
    catalogue: &Catalogue,
    secrets: &Secrets,
    paths: &[PathBuf],
    on_loaded: &(dyn Fn(&Arc<Org>) + Sync),
) -> (Vec<Arc<Org>>, Problems) {
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(paths.len().max(1));
    // Interleaved, so early orgs from every thread reach `on_loaded` first.
    let results: Vec<(usize, Result<Arc<Org>, Problems>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    (t..paths.len())
                        .step_by(threads)
                        .map(|i| {
                            let r = load(pool, catalogue, secrets, &paths[i]).map(Arc::new);
                            if let Ok(org) = &r {
                                on_loaded(org);
                            }
                            (i, r)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join().unwrap_or_else(|_| {
                    let mut p = Problems::default();
                    p.push(Problem::new(
                        "internal",
                        "an org file could not be loaded (a bug: please report it)",
                    ));
                    vec![(usize::MAX, Err(p))]
                })
            })
            .collect()
    });
    let mut results = results;
    results.sort_by_key(|(i, _)| *i);
    let mut orgs = Vec::new();
    let mut problems = Problems::default();
    for (_, r) in results {
        match r {
            Ok(org) => orgs.push(org),
            Err(p) => problems.extend(p),
        }
    }
    problems.extend(overlaps(pool, &orgs));
    (orgs, problems)
}

/// What an org file claims for itself alone, read from its YAML: (what, the value as
/// shown, where in the file). Works for loaded and unselected org files alike.
fn claims_in(root: &Node) -> Vec<crate::providers::Claim> {
    crate::providers::REGISTRY
        .iter()
        .filter_map(|p| p.section)
        .filter_map(|section| Some((section.claims)(root.get(section.key)?)))
        .flatten()
        .collect()
}

/// A Google domain, customer id or host address that more than one org file claims:
/// each belongs to exactly one org, or one org's plan could reach another's tenant or
/// machines. Org files that were not selected are read for those sections only.
fn overlaps(pool: &Pool, orgs: &[Arc<Org>]) -> Problems {
    let mut problems = Problems::default();
    if orgs.iter().all(|o| o.sections.is_empty()) {
        return problems;
    }
    // (what, value) -> the org files claiming it
    let mut claims: BTreeMap<(&'static str, String), Vec<String>> = BTreeMap::new();
    let mut claim = |file: &str, found: &[(&'static str, String, String)]| {
        for (kind, value, _) in found {
            if value.is_empty() {
                continue;
            }
            let files = claims
                .entry((kind, value.to_ascii_lowercase()))
                .or_default();
            if !files.iter().any(|f| f == file) {
                files.push(file.to_string());
            }
        }
    };
    let loaded: Vec<(String, Vec<_>)> = orgs
        .iter()
        .map(|o| (o.file.path.display().to_string(), claims_in(&o.root)))
        .collect();
    for (file, found) in &loaded {
        claim(file, found);
    }
    let loaded_paths: Vec<PathBuf> = orgs.iter().map(|o| pool.root.join(&o.file.path)).collect();
    for path in discover(pool).unwrap_or_default() {
        if loaded_paths.contains(&path) {
            continue;
        }
        let shown = pool.display_path(&path);
        let Ok(text) = crate::util::read_inside(&path, &pool.orgs_dir(), &shown) else {
            continue;
        };
        if let Ok(root) = yaml::parse(&text) {
            claim(&shown.display().to_string(), &claims_in(&root));
        }
    }
    for (o, (here, found)) in orgs.iter().zip(&loaded) {
        for (kind, value, path) in found {
            let Some(files) = claims.get(&(*kind, value.to_ascii_lowercase())) else {
                continue;
            };
            let others: Vec<&str> = files
                .iter()
                .map(String::as_str)
                .filter(|f| f != here)
                .collect();
            if others.is_empty() {
                continue;
            }
            problems.push(
                Problem::at(
                    "org_overlap",
                    &o.file,
                    o.span_of(path),
                    format!("{kind} `{value}` is claimed by {here} and {}", others.join(", ")),
                    "claimed by another org file too",
                )
                .with_help("each Google domain, customer id and on-site host belongs to exactly one org file: remove it from all but one"),
            );
        }
    }
    problems
}
