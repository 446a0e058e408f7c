//! The pool's standard: `baseline.yaml` (or `baseline/*.yaml`) at the pool's root.
//!
//! Named items, each about one module: inputs every org of a tier gets under its own
//! (`inputs:`), what the org's own inputs must say (`require:`), or a measure of what a
//! refresh already reads (`measure:`). Tiers name sets of items and extend one another;
//! an org file picks its tier and may hold dated exceptions. Everything here is checked
//! once, against the module catalogue and the providers' measures; the inputs are
//! checked again with each org's own, at their line here ([`layer`]).

pub mod compliance;
pub mod layer;
pub mod report;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use serde_json::{Map, Value};

use crate::diag::{Problem, Problems, SourceFile, suggest};
use crate::modules::Catalogue;
use crate::schema::{Ctx, Schema, Type};
use crate::yaml::{Node, Span};

pub const FILE: &str = "baseline.yaml";
pub const DIR: &str = "baseline";

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    serde_yaml::from_str(include_str!("schema.yaml"))
        .unwrap_or_else(|e| panic!("built-in baseline schema is invalid: {e}"))
});

/// The JSON Schema of a file of the standard, for editors (`steward schema --baseline`).
pub fn json_schema() -> Value {
    let mut schema = SCHEMA.to_json_schema();
    schema["$schema"] = "http://json-schema.org/draft-07/schema#".into();
    schema["title"] = "Steward: the pool's standard (baseline.yaml)".into();
    schema
}

/// A measure the engine takes itself, from any module's health: `healthy`.
pub const HEALTHY: &str = "healthy";

/// Where something is defined: its file and the span of its name.
#[derive(Debug, Clone)]
pub struct At {
    pub file: Arc<SourceFile>,
    pub span: Span,
}

impl At {
    pub fn line(&self) -> usize {
        self.file.line_col(self.span).0
    }

    /// `baseline.yaml line 12`.
    pub fn cite(&self) -> String {
        format!("{} line {}", self.file.path.display(), self.line())
    }
}

/// One condition of a requirement on a field: a value, or a bound.
#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    Equals(Value),
    AtMost(Value),
    AtLeast(Value),
}

/// What an org's own inputs must say: every (or some) entry of a list has values.
#[derive(Debug, Clone)]
pub struct Require {
    /// The list input, dotted; empty for a module whose input is the list.
    pub list: String,
    /// True: every entry; false: at least one.
    pub every: bool,
    pub fields: Vec<(String, Test)>,
}

impl Require {
    /// The list as people call it: its input's name, or the module's.
    pub fn label<'a>(&'a self, module: &'a str) -> &'a str {
        if self.list.is_empty() {
            module
        } else {
            &self.list
        }
    }

    /// The list's dotted path in an org file.
    pub fn path(&self, module: &str) -> String {
        if self.list.is_empty() {
            format!("modules.{module}")
        } else {
            format!("modules.{module}.{}", self.list)
        }
    }
}

#[derive(Debug, Clone)]
pub struct Item {
    pub name: String,
    pub title: String,
    pub why: String,
    pub module: String,
    /// The module inputs it gives, as written (checked with each org's).
    pub inputs: Option<Node>,
    pub require: Vec<Require>,
    /// A measure's name and its parameters (`at_most`, `days`).
    pub measure: Option<(String, Map<String, Value>)>,
    pub at: At,
    /// As written, for the place of each of its parts in messages.
    pub node: Node,
}

#[derive(Debug, Clone)]
pub struct Tier {
    pub name: String,
    pub description: String,
    pub extends: Option<String>,
    pub items: Vec<String>,
    pub at: At,
    /// As written, for the place of each of its parts in messages.
    pub node: Node,
}

/// The checked standard.
#[derive(Debug, Clone, Default)]
pub struct Baseline {
    pub items: BTreeMap<String, Item>,
    pub tiers: BTreeMap<String, Tier>,
    pub default_tier: Option<String>,
}

impl Baseline {
    /// `tier` and the tiers it extends, nearest first; a cycle (refused when loading)
    /// ends the chain.
    fn chain(&self, tier: &str) -> Vec<&Tier> {
        let mut chain: Vec<&Tier> = Vec::new();
        let mut at = Some(tier);
        while let Some(t) = at.and_then(|name| self.tiers.get(name)) {
            if chain.iter().any(|c| c.name == t.name) {
                break;
            }
            chain.push(t);
            at = t.extends.as_deref();
        }
        chain
    }

    /// The items of `tier`, its ancestors' first, each once.
    pub fn items_of(&self, tier: &str) -> Vec<&Item> {
        let mut out: Vec<&Item> = Vec::new();
        for t in self.chain(tier).iter().rev() {
            for name in &t.items {
                if let Some(item) = self.items.get(name)
                    && !out.iter().any(|i| i.name == *name)
                {
                    out.push(item);
                }
            }
        }
        out
    }

    /// The tier that brings `item` into `tier` (itself or an ancestor).
    pub fn tier_of_item(&self, tier: &str, item: &str) -> Option<&str> {
        self.chain(tier)
            .into_iter()
            .find(|t| t.items.iter().any(|i| i == item))
            .map(|t| t.name.as_str())
    }

    /// Whether a tier is `tier` or extends it, directly or not.
    pub fn extends(&self, tier: &str, ancestor: &str) -> bool {
        self.chain(tier).iter().any(|t| t.name == ancestor)
    }

    /// Whether `tier` has requirements on `module`'s inputs.
    pub fn requires(&self, tier: Option<&str>, module: &str) -> bool {
        tier.is_some_and(|t| {
            self.items_of(t)
                .iter()
                .any(|i| i.module == module && !i.require.is_empty())
        })
    }
}

/// The files of the standard under `root`: `baseline.yaml`, then `baseline/*.yaml` in
/// name order.
pub fn files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let single = root.join(FILE);
    if single.is_file() {
        out.push(single);
    }
    out.extend(crate::util::yaml_files(&root.join(DIR)).unwrap_or_default());
    out
}

/// Reads and checks the pool's standard; `None` when the pool has none.
pub fn load(
    root: &Path,
    catalogue: &Catalogue,
    measures: &[&crate::providers::MeasureSpec],
) -> Result<Option<Baseline>, Problems> {
    let paths = files(root);
    if paths.is_empty() {
        return Ok(None);
    }
    let mut problems = Problems::default();
    let mut baseline = Baseline::default();
    let mut default_tier: Option<(String, At)> = None;
    for path in &paths {
        let shown = path.strip_prefix(root).unwrap_or(path).to_path_buf();
        let text = match crate::util::read_own(path, root, &shown) {
            Ok(t) => t,
            Err(e) => {
                problems.push(Problem::new("baseline", e.to_string()));
                continue;
            }
        };
        let file = SourceFile::new(&shown, text);
        let node = match crate::yaml::parse(file.text()) {
            Ok(n) => n,
            Err(e) => {
                problems.push(e.problem(&file));
                continue;
            }
        };
        read_file(
            &file,
            &node,
            &mut baseline,
            &mut default_tier,
            &mut problems,
        );
    }
    check(catalogue, measures, &baseline, &mut problems);
    if let Some((name, at)) = default_tier {
        if !baseline.tiers.contains_key(&name) {
            problems.push(unknown(
                "tier",
                &name,
                &at,
                baseline.tiers.keys().map(String::as_str),
            ));
        }
        baseline.default_tier = Some(name);
    }
    if problems.is_empty() {
        Ok(Some(baseline))
    } else {
        Err(problems)
    }
}

fn unknown<'a>(what: &str, name: &str, at: &At, known: impl Iterator<Item = &'a str>) -> Problem {
    let known: Vec<&str> = known.collect();
    let p = Problem::at(
        "baseline_unknown",
        &at.file,
        at.span,
        format!("unknown {what} `{name}`"),
        format!("no such {what}"),
    );
    match suggest(name, known.iter().copied()) {
        Some(s) => p.with_help(format!("did you mean `{s}`?")),
        None if known.is_empty() => p.with_help(format!("the pool's standard has no {what}s")),
        None => p.with_help(format!("{what}s: {}", known.join(", "))),
    }
}

/// One file's items and tiers, checked against the schema, into `baseline`.
fn read_file(
    file: &Arc<SourceFile>,
    node: &Node,
    baseline: &mut Baseline,
    default_tier: &mut Option<(String, At)>,
    problems: &mut Problems,
) {
    let secrets = crate::secrets::Secrets::new(Path::new("/nonexistent"), "");
    let scope = crate::secrets::SecretScope {
        org: String::new(),
        shared: Vec::new(),
    };
    let value = {
        let mut ctx = Ctx {
            file,
            domains: &[],
            hosts: &[],
            secrets: &secrets,
            scope: &scope,
            problems,
        };
        SCHEMA.check(node, "", &mut ctx)
    };
    if let Some(name) = value["default_tier"].as_str() {
        let span = node.get("default_tier").map(|n| n.span).unwrap_or_default();
        if let Some((_, first)) = default_tier {
            problems.push(twice("default_tier", first, file, span));
        } else {
            let at = At {
                file: file.clone(),
                span,
            };
            *default_tier = Some((name.to_string(), at));
        }
    }
    for (key, item_node) in node
        .get("items")
        .and_then(Node::entries)
        .unwrap_or_default()
    {
        let v = &value["items"][key.text.as_str()];
        if !v.is_object() {
            continue;
        }
        let here = At {
            file: file.clone(),
            span: key.span,
        };
        if let Some(first) = baseline.items.get(&key.text) {
            problems.push(twice(
                &format!("item `{}`", key.text),
                &first.at,
                file,
                key.span,
            ));
            continue;
        }
        let text = |k: &str| v[k].as_str().unwrap_or_default().to_string();
        let mut params = Map::new();
        for p in ["at_most", "days"] {
            if let Some(x) = v.get(p).filter(|x| !x.is_null()) {
                params.insert(p.to_string(), x.clone());
            }
        }
        let item = Item {
            name: key.text.clone(),
            title: text("title"),
            why: text("why"),
            module: text("module"),
            inputs: item_node.get("inputs").cloned(),
            require: read_requires(file, item_node.get("require"), problems),
            measure: v["measure"].as_str().map(|m| (m.to_string(), params)),
            at: here,
            node: item_node.clone(),
        };
        baseline.items.insert(key.text.clone(), item);
    }
    for (key, tier_node) in node
        .get("tiers")
        .and_then(Node::entries)
        .unwrap_or_default()
    {
        let v = &value["tiers"][key.text.as_str()];
        if !v.is_object() {
            continue;
        }
        if let Some(first) = baseline.tiers.get(&key.text) {
            problems.push(twice(
                &format!("tier `{}`", key.text),
                &first.at,
                file,
                key.span,
            ));
            continue;
        }
        baseline.tiers.insert(
            key.text.clone(),
            Tier {
                name: key.text.clone(),
                description: v["description"].as_str().unwrap_or_default().to_string(),
                extends: v["extends"].as_str().map(str::to_string),
                items: v["items"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default(),
                at: At {
                    file: file.clone(),
                    span: key.span,
                },
                node: tier_node.clone(),
            },
        );
    }
}

fn twice(what: &str, first: &At, file: &Arc<SourceFile>, span: Span) -> Problem {
    Problem::at(
        "baseline_duplicate",
        file,
        span,
        format!("{what} is defined twice"),
        "defined again here",
    )
    .with_help(format!("the first is at {}; keep one", first.cite()))
}

/// A requirement's conditions: `field: value`, or `field: {at_most: X}` / `{at_least: X}`.
fn read_requires(
    file: &Arc<SourceFile>,
    node: Option<&Node>,
    problems: &mut Problems,
) -> Vec<Require> {
    let mut out = Vec::new();
    for r in node.and_then(Node::items).unwrap_or_default() {
        let list = r
            .get("in")
            .and_then(Node::as_str)
            .unwrap_or_default()
            .to_string();
        let (every, conds) = match (r.get("every"), r.get("some")) {
            (Some(e), None) => (true, e),
            (None, Some(s)) => (false, s),
            _ => {
                problems.push(
                    Problem::at(
                        "baseline_require",
                        file,
                        r.span_head(),
                        "a requirement says `every:` or `some:`, one of them",
                        "here",
                    )
                    .with_help("e.g. `{in: queues, every: {shared: false}}` or `{in: networks, some: {guest: true}}`"),
                );
                continue;
            }
        };
        let mut fields = Vec::new();
        for (k, v) in conds.entries().unwrap_or_default() {
            let test = match v.entries() {
                Some(bounds) => {
                    let mut test = None;
                    for (bk, bv) in bounds {
                        test = match bk.text.as_str() {
                            "at_most" => Some(Test::AtMost(bv.to_json())),
                            "at_least" => Some(Test::AtLeast(bv.to_json())),
                            _ => {
                                problems.push(
                                    Problem::at(
                                        "baseline_require",
                                        file,
                                        bk.span,
                                        format!("unknown bound `{}`", bk.text),
                                        "here",
                                    )
                                    .with_help("a bound is `at_most` or `at_least`"),
                                );
                                None
                            }
                        };
                    }
                    match test {
                        Some(t) if bounds.len() == 1 => t,
                        Some(_) => {
                            problems.push(Problem::at(
                                "baseline_require",
                                file,
                                v.span,
                                "one bound per field",
                                "here",
                            ));
                            continue;
                        }
                        None => continue,
                    }
                }
                None => Test::Equals(v.to_json()),
            };
            fields.push((k.text.clone(), test));
        }
        out.push(Require {
            list,
            every,
            fields,
        });
    }
    out
}

/// What only the whole standard and the catalogue can tell: modules and inputs that
/// exist, requirements on fields that exist, known measures, tiers that form no cycle.
fn check(
    catalogue: &Catalogue,
    measures: &[&crate::providers::MeasureSpec],
    baseline: &Baseline,
    problems: &mut Problems,
) {
    for item in baseline.items.values() {
        let at = |n: Option<&Node>| n.map_or(item.at.span, |n| n.span);
        let Some(module) = catalogue.get(&item.module) else {
            let span = item_node_span(item, "module");
            problems.push(unknown(
                "module",
                &item.module,
                &At {
                    file: item.at.file.clone(),
                    span,
                },
                catalogue.modules.keys().map(String::as_str),
            ));
            continue;
        };
        let kinds = usize::from(item.inputs.is_some() || !item.require.is_empty())
            + usize::from(item.measure.is_some());
        if kinds != 1 {
            problems.push(
                Problem::at(
                    "baseline_item",
                    &item.at.file,
                    item.at.span,
                    if kinds == 0 {
                        format!("item `{}` says nothing to apply, require or measure", item.name)
                    } else {
                        format!("item `{}` both sets or requires inputs and measures", item.name)
                    },
                    "this item",
                )
                .with_help("give `inputs:` and/or `require:`, or a `measure:`; split it into two items otherwise"),
            );
        }
        let schema = &module.input_schema;
        if let Some(inputs) = &item.inputs {
            match (schema.ty, &schema.fields) {
                (Type::Object, Some(fields)) => {
                    for (key, _) in inputs.entries().unwrap_or_default() {
                        if !fields.contains_key(&key.text) {
                            let mut p = Problem::at(
                                "baseline_input",
                                &item.at.file,
                                key.span,
                                format!("module `{}` has no input `{}`", item.module, key.text),
                                "no such input",
                            );
                            if let Some(s) = suggest(&key.text, fields.keys().map(String::as_str)) {
                                p = p.with_help(format!("did you mean `{s}`?"));
                            }
                            problems.push(p);
                        }
                    }
                }
                _ => problems.push(
                    Problem::at(
                        "baseline_input",
                        &item.at.file,
                        at(item.inputs.as_ref()),
                        format!(
                            "module `{}` takes a list of each org's own (`steward modules {}`): a standard cannot give its entries",
                            item.module, item.module
                        ),
                        "cannot be given for every org",
                    )
                    .with_help("require what every entry must say instead: `require: [{every: {...}}]`"),
                ),
            }
        }
        for (i, r) in item.require.iter().enumerate() {
            let span = item_node_span(item, &format!("require.{i}"));
            let list = if r.list.is_empty() {
                Some(schema)
            } else {
                r.list
                    .split('.')
                    .try_fold(schema, |s, seg| s.fields.as_ref()?.get(seg))
            };
            let entry = match list {
                Some(s) if s.ty == Type::List => s.items.as_deref(),
                _ => None,
            };
            let Some(entry) = entry else {
                problems.push(
                    Problem::at(
                        "baseline_require",
                        &item.at.file,
                        span,
                        if r.list.is_empty() {
                            format!(
                                "module `{}`'s input is not a list: say which list with `in:`",
                                item.module
                            )
                        } else {
                            format!(
                                "`{}` is not a list input of module `{}`",
                                r.list, item.module
                            )
                        },
                        "here",
                    )
                    .with_help(format!(
                        "`steward modules {}` lists its inputs",
                        item.module
                    )),
                );
                continue;
            };
            let fields = entry.fields.as_ref();
            for (field, _) in &r.fields {
                if !fields.is_some_and(|f| f.contains_key(field)) {
                    let mut p = Problem::at(
                        "baseline_require",
                        &item.at.file,
                        span,
                        format!(
                            "the entries of `{}` in module `{}` have no field `{field}`",
                            r.label(&item.module),
                            item.module
                        ),
                        "here",
                    );
                    if let Some(s) =
                        fields.and_then(|f| suggest(field, f.keys().map(String::as_str)))
                    {
                        p = p.with_help(format!("did you mean `{s}`?"));
                    }
                    problems.push(p);
                }
            }
        }
        if let Some((name, params)) = &item.measure {
            let span = item_node_span(item, "measure");
            let spec = measures.iter().find(|m| m.name == name);
            match spec {
                None => problems.push(unknown(
                    "measure",
                    name,
                    &At {
                        file: item.at.file.clone(),
                        span,
                    },
                    measures.iter().map(|m| m.name),
                )),
                Some(spec) => {
                    for (p, required) in spec.params {
                        if *required && !params.contains_key(*p) {
                            problems.push(
                                Problem::at(
                                    "baseline_measure",
                                    &item.at.file,
                                    span,
                                    format!("measure `{name}` needs `{p}`"),
                                    "here",
                                )
                                .with_help(format!("add `{p}:` to the item")),
                            );
                        }
                    }
                    for p in params.keys() {
                        if !spec.params.iter().any(|(n, _)| n == p) {
                            problems.push(Problem::at(
                                "baseline_measure",
                                &item.at.file,
                                item_node_span(item, p),
                                format!("measure `{name}` takes no `{p}`"),
                                "not used",
                            ));
                        }
                    }
                }
            }
        }
    }
    for tier in baseline.tiers.values() {
        for (i, name) in tier.items.iter().enumerate() {
            if !baseline.items.contains_key(name) {
                let span = tier_node_span(tier, &format!("items.{i}"));
                problems.push(unknown(
                    "item",
                    name,
                    &At {
                        file: tier.at.file.clone(),
                        span,
                    },
                    baseline.items.keys().map(String::as_str),
                ));
            }
        }
        if let Some(parent) = &tier.extends {
            let span = tier_node_span(tier, "extends");
            if !baseline.tiers.contains_key(parent) {
                problems.push(unknown(
                    "tier",
                    parent,
                    &At {
                        file: tier.at.file.clone(),
                        span,
                    },
                    baseline.tiers.keys().map(String::as_str),
                ));
                continue;
            }
            // A cycle: following `extends` comes back here.
            let mut path = vec![tier.name.as_str()];
            let mut at = Some(parent.as_str());
            while let Some(name) = at {
                if name == tier.name {
                    path.push(name);
                    problems.push(
                        Problem::at(
                            "baseline_cycle",
                            &tier.at.file,
                            span,
                            format!("tiers extend each other in a cycle: {}", path.join(" -> ")),
                            "part of the cycle",
                        )
                        .with_help("one of these tiers must extend nothing, or another tier"),
                    );
                    break;
                }
                if path.contains(&name) {
                    break;
                }
                path.push(name);
                at = baseline.tiers.get(name).and_then(|t| t.extends.as_deref());
            }
        }
    }
}

/// The span of a dotted path inside an item, for messages (its name when not found).
fn item_node_span(item: &Item, path: &str) -> Span {
    item.node.at_path(path).map_or(item.at.span, |n| n.span)
}

fn tier_node_span(tier: &Tier, path: &str) -> Span {
    tier.node.at_path(path).map_or(tier.at.span, |n| n.span)
}

/// An org file's `tier:` and `exceptions:`, checked against the standard: a known tier,
/// exceptions to items of that tier, each with a reason. (An exception whose day has
/// passed loads, and the item counts again; `steward validate` reports it at its line.)
pub fn for_org(
    baseline: Option<&Arc<Baseline>>,
    file: &Arc<SourceFile>,
    root: &Node,
    value: &Value,
    problems: &mut Problems,
) -> layer::OrgStandard {
    let mut standard = layer::OrgStandard::default();
    let span_of = |path: &str| root.at_path(path).map(|n| n.span).unwrap_or_default();
    let tier = value["tier"].as_str();
    let given_exceptions = value["exceptions"].as_array().filter(|a| !a.is_empty());
    let Some(baseline) = baseline else {
        if tier.is_some() || given_exceptions.is_some() {
            let key = if tier.is_some() { "tier" } else { "exceptions" };
            problems.push(
                Problem::at(
                    "no_baseline",
                    file,
                    span_of(key),
                    format!("`{key}` names the pool's standard, and this pool has none"),
                    "here",
                )
                .with_help("write baseline.yaml at the pool's root (README: The pool's standard), or remove this"),
            );
        }
        return standard;
    };
    standard.baseline = Some(baseline.clone());
    match tier {
        Some(t) if !baseline.tiers.contains_key(t) => {
            problems.push(unknown(
                "tier",
                t,
                &At {
                    file: file.clone(),
                    span: span_of("tier"),
                },
                baseline.tiers.keys().map(String::as_str),
            ));
        }
        Some(t) => standard.tier = Some(t.to_string()),
        None => standard.tier = baseline.default_tier.clone(),
    }
    for (i, e) in given_exceptions.into_iter().flatten().enumerate() {
        let item = e["item"].as_str().unwrap_or_default();
        let reason = e["reason"].as_str().unwrap_or_default().trim();
        let until = e["until"].as_str().unwrap_or_default();
        let item_span = span_of(&format!("exceptions.{i}.item"));
        if !baseline.items.contains_key(item) {
            problems.push(unknown(
                "item",
                item,
                &At {
                    file: file.clone(),
                    span: item_span,
                },
                baseline.items.keys().map(String::as_str),
            ));
            continue;
        }
        if let Some(t) = &standard.tier
            && baseline.tier_of_item(t, item).is_none()
        {
            problems.push(
                Problem::at(
                    "baseline_exception",
                    file,
                    item_span,
                    format!("item `{item}` is not in this org's tier `{t}`: there is nothing to be excused from"),
                    "not in the tier",
                )
                .with_help("remove the exception, or check the tier"),
            );
        }
        if reason.is_empty() && e.get("reason").is_some() {
            problems.push(
                Problem::at(
                    "baseline_exception",
                    file,
                    span_of(&format!("exceptions.{i}.reason")),
                    "an exception needs a reason",
                    "empty",
                )
                .with_help("say why, in words the org's contact can read"),
            );
        }
        let Some(until_day) = crate::util::parse_date(until) else {
            continue;
        };
        standard.exceptions.push(layer::Exception {
            item: item.to_string(),
            reason: reason.to_string(),
            until: until.to_string(),
            until_day,
            line: file.line_col(span_of(&format!("exceptions.{i}"))).0,
            span: span_of(&format!("exceptions.{i}.until")),
        });
    }
    standard
}

/// The standard as `--changed-since` compares it: each item's content and each tier's
/// items, read without checking (either side may not check).
#[derive(Debug, Default, PartialEq)]
pub struct Outline {
    items: BTreeMap<String, String>,
    tiers: BTreeMap<String, (Option<String>, Vec<String>)>,
    pub default_tier: Option<String>,
}

impl Outline {
    pub fn parse<'a>(texts: impl IntoIterator<Item = &'a str>) -> Outline {
        let mut o = Outline::default();
        for text in texts {
            let Ok(root) = crate::yaml::parse(text) else {
                continue;
            };
            if let Some(t) = root.get("default_tier").and_then(Node::as_str) {
                o.default_tier = Some(t.to_string());
            }
            for (k, v) in root
                .get("items")
                .and_then(Node::entries)
                .unwrap_or_default()
            {
                o.items.insert(k.text.clone(), v.to_json().to_string());
            }
            for (k, v) in root
                .get("tiers")
                .and_then(Node::entries)
                .unwrap_or_default()
            {
                let extends = v.get("extends").and_then(Node::as_str).map(str::to_string);
                let items = v
                    .get("items")
                    .and_then(Node::items)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect();
                o.tiers.insert(k.text.clone(), (extends, items));
            }
        }
        o
    }

    /// The items of a tier (its ancestors' too) with their content.
    fn items_of(&self, tier: &str) -> BTreeMap<&str, Option<&str>> {
        let mut out = BTreeMap::new();
        let mut at = Some(tier);
        let mut seen = 0;
        while let Some(name) = at {
            let Some((extends, items)) = self.tiers.get(name) else {
                break;
            };
            for i in items {
                out.insert(i.as_str(), self.items.get(i).map(String::as_str));
            }
            seen += 1;
            if seen > self.tiers.len() {
                break;
            }
            at = extends.as_deref();
        }
        out
    }

    /// The items whose change reaches an org of `tier` (its own `tier:`, if any, on
    /// each side): added to its tier, removed, or changed.
    pub fn changed_for(&self, before: &Outline, own: Option<&str>) -> Vec<String> {
        let now_tier = own.or(self.default_tier.as_deref());
        let then_tier = own.or(before.default_tier.as_deref());
        let now = now_tier.map(|t| self.items_of(t)).unwrap_or_default();
        let then = then_tier.map(|t| before.items_of(t)).unwrap_or_default();
        let mut names: Vec<String> = now
            .keys()
            .chain(then.keys())
            .filter(|n| now.get(*n) != then.get(*n))
            .map(|n| n.to_string())
            .collect();
        names.sort();
        names.dedup();
        names
    }
}
