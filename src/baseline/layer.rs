//! An org's standard: the items of its tier given to its module inputs, under the org
//! file's own values, remembering which values came from which item (so plans cite the
//! item's line) and where the org file says otherwise (so the compliance view can).

use std::sync::Arc;

use serde_json::Value;

use super::{At, Baseline, Item};
use crate::diag::{Problem, Problems};
use crate::schema::{Ctx, Schema, Type};
use crate::yaml::{Node, NodeKind};

/// An org's exception to an item of its tier.
#[derive(Debug, Clone)]
pub struct Exception {
    pub item: String,
    pub reason: String,
    /// Last day it holds, as written and as days since 1970-01-01.
    pub until: String,
    pub until_day: i64,
    /// Its line in the org file, and its `until`'s place.
    pub line: usize,
    pub span: crate::yaml::Span,
}

impl Exception {
    pub fn active(&self, today: i64) -> bool {
        today <= self.until_day
    }
}

/// A value of the org's inputs the standard gave: everything at `path` and under it.
#[derive(Debug, Clone)]
pub struct Origin {
    /// Dotted, from the org file's top (`modules.accounts.groups.3`).
    pub path: String,
    pub item: String,
    /// The tier that brings the item to the org.
    pub tier: String,
    /// Where in the standard the value is.
    pub at: At,
}

/// A value of an item the org file gives otherwise: the org's value wins, and the
/// compliance view says so.
#[derive(Debug, Clone)]
pub struct Override {
    pub item: String,
    /// Dotted, from the org file's top.
    pub path: String,
    pub want: Value,
    pub have: Value,
    /// Its line in the org file.
    pub line: usize,
}

/// What the standard is for one org.
#[derive(Debug, Clone, Default)]
pub struct OrgStandard {
    /// The pool's standard, when it has one.
    pub baseline: Option<Arc<Baseline>>,
    /// The org's tier: its own, or the standard's default.
    pub tier: Option<String>,
    pub exceptions: Vec<Exception>,
    pub origins: Vec<Origin>,
    pub overrides: Vec<Override>,
    /// Values the org file gives itself that an item asks for too (path, item): a
    /// change pending there leaves the item unmet as much as one the item gave.
    pub covered: Vec<(String, String)>,
    /// The org's effective inputs of each module it enables (for requirements).
    pub inputs: std::collections::BTreeMap<String, Value>,
    /// Items the org is excused from, with what they would change were it not: the
    /// exception's item is still shown as it stands.
    pub excused: std::collections::BTreeMap<String, String>,
}

impl OrgStandard {
    /// The origin of a dotted path of the org's inputs, if the standard gave it.
    pub fn origin(&self, path: &str) -> Option<&Origin> {
        self.origins.iter().find(|o| under(path, &o.path))
    }

    pub fn exception(&self, item: &str) -> Option<&Exception> {
        self.exceptions.iter().find(|e| e.item == item)
    }
}

/// Whether dotted `path` is `base` or under it.
pub fn under(path: &str, base: &str) -> bool {
    path.strip_prefix(base)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

/// The org's facts the standard's inputs may name: `{{org.domain}}`, `{{org.id}}`.
pub struct OrgFacts<'a> {
    pub id: &'a str,
    pub domain: &'a str,
}

/// Gives the module's items of the org's tier to the org's checked `inputs` (`org` is
/// the org file's node of the module, if it has one), checking each item's inputs with
/// the org's context at their own lines. Items the org holds an active exception to
/// are left out.
#[allow(clippy::too_many_arguments)]
pub fn apply(
    baseline: &Baseline,
    standard: &mut OrgStandard,
    module: &str,
    schema: &Schema,
    org: &Node,
    inputs: &mut Value,
    facts: &OrgFacts<'_>,
    today: i64,
    ctx: &mut Ctx<'_>,
) {
    let Some(tier) = standard.tier.clone() else {
        return;
    };
    let items: Vec<&Item> = baseline
        .items_of(&tier)
        .into_iter()
        .filter(|i| i.module == module && i.inputs.is_some())
        .collect();
    for item in items {
        let excused = standard
            .exception(&item.name)
            .is_some_and(|e| e.active(today));
        let Some(node) = &item.inputs else { continue };
        let Some(node) = substitute(node, facts, &item.at, ctx.problems) else {
            continue;
        };
        let base = format!("modules.{module}");
        let value = {
            let mut item_ctx = Ctx {
                file: &item.at.file,
                domains: ctx.domains,
                hosts: ctx.hosts,
                secrets: ctx.secrets,
                scope: ctx.scope,
                problems: ctx.problems,
            };
            schema.check(&node, &base, &mut item_ctx)
        };
        let from = baseline
            .tier_of_item(&tier, &item.name)
            .unwrap_or(&tier)
            .to_string();
        // Excused: measured all the same, on a copy, for what the item would change.
        let mut scratch = OrgStandard::default();
        let mut copy = excused.then(|| inputs.clone());
        let (target, into) = match copy.as_mut() {
            Some(copy) => (copy, &mut scratch),
            None => (&mut *inputs, &mut *standard),
        };
        Merge {
            item,
            tier: &from,
            org_file: ctx.file,
            standard: into,
        }
        .object(schema, target, Some(org), &value, &node, &base);
        let (adds, differs) = (scratch.origins.len(), scratch.overrides.len());
        if adds + differs > 0 {
            standard.excused.insert(
                item.name.clone(),
                format!(
                    "without the exception the standard would add {adds} value(s) and the org file differs from it in {differs}"
                ),
            );
        }
    }
}

struct Merge<'a> {
    item: &'a Item,
    tier: &'a str,
    org_file: &'a Arc<crate::diag::SourceFile>,
    standard: &'a mut OrgStandard,
}

impl Merge<'_> {
    fn origin(&mut self, path: String, node: &Node) {
        self.standard.origins.push(Origin {
            path,
            item: self.item.name.clone(),
            tier: self.tier.to_string(),
            at: At {
                file: self.item.at.file.clone(),
                span: node.span,
            },
        });
    }

    fn differs(&mut self, path: String, want: &Value, have: &Value, org: &Node) {
        if covers(have, want) {
            self.standard.covered.push((path, self.item.name.clone()));
        } else {
            self.standard.overrides.push(Override {
                item: self.item.name.clone(),
                path,
                want: want.clone(),
                have: have.clone(),
                line: self.org_file.line_col(org.span).0,
            });
        }
    }

    /// The item's fields (as `want_node` gives them) into an object of the org's.
    fn object(
        &mut self,
        schema: &Schema,
        have: &mut Value,
        org: Option<&Node>,
        want: &Value,
        want_node: &Node,
        path: &str,
    ) {
        let Some(fields) = &schema.fields else { return };
        if !have.is_object() {
            *have = Value::Object(Default::default());
        }
        for (key, child) in want_node.entries().unwrap_or_default() {
            let (Some(fs), Some(w)) = (fields.get(&key.text), want.get(&key.text)) else {
                continue;
            };
            let p = format!("{path}.{}", key.text);
            let org_child = org.and_then(|n| n.get(&key.text));
            let slot = &mut have[key.text.as_str()];
            match fs.ty {
                Type::List => self.list(fs, slot, org_child, w, child, &p),
                Type::Map => self.map(slot, org_child, w, child, &p),
                Type::Object if org_child.is_some() => {
                    self.object(fs, slot, org_child, w, child, &p)
                }
                _ => match org_child {
                    Some(o) => {
                        let have = slot.clone();
                        self.differs(p, w, &have, o);
                    }
                    None => {
                        *slot = w.clone();
                        self.origin(p, child);
                    }
                },
            }
        }
    }

    /// A list: the item's entries the org's lacks are added after the org's own (whose
    /// places, and so their lines, stay); an entry the org has by its unique field is
    /// the org's.
    fn list(
        &mut self,
        schema: &Schema,
        have: &mut Value,
        org: Option<&Node>,
        want: &Value,
        want_node: &Node,
        path: &str,
    ) {
        let (Value::Array(wants), NodeKind::Seq(nodes)) = (want, &want_node.kind) else {
            return;
        };
        if !have.is_array() {
            *have = Value::Array(Vec::new());
        }
        for (w, wn) in wants.iter().zip(nodes) {
            let Value::Array(list) = have else { return };
            let found = list.iter().position(|h| match &schema.unique {
                Some(u) => match (h[u.as_str()].as_str(), w[u.as_str()].as_str()) {
                    (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                    _ => false,
                },
                None => h == w,
            });
            match found {
                Some(i) => {
                    let org_entry = org.and_then(|o| match &o.kind {
                        NodeKind::Seq(items) => items.get(i),
                        _ => None,
                    });
                    if let Some(o) = org_entry {
                        let h = list[i].clone();
                        let want = given(w, wn);
                        self.differs(format!("{path}.{i}"), &want, &h, o);
                    }
                }
                None => {
                    list.push(w.clone());
                    let i = list.len() - 1;
                    self.origin(format!("{path}.{i}"), wn);
                }
            }
        }
    }

    /// A map (roles): the item's entries the org's lacks are added; the org's win.
    fn map(
        &mut self,
        have: &mut Value,
        org: Option<&Node>,
        want: &Value,
        want_node: &Node,
        path: &str,
    ) {
        let Value::Object(wants) = want else { return };
        if !have.is_object() {
            *have = Value::Object(Default::default());
        }
        for (k, w) in wants {
            let Some(wn) = want_node.get(k) else { continue };
            let org_entry = org.and_then(|o| o.get(k));
            let Value::Object(map) = have else { return };
            match (org_entry, map.get(k)) {
                (Some(o), Some(h)) => {
                    let h = h.clone();
                    self.differs(format!("{path}.{k}"), &given(w, wn), &h, o);
                }
                _ => {
                    map.insert(k.clone(), w.clone());
                    self.origin(format!("{path}.{k}"), wn);
                }
            }
        }
    }
}

/// Of a checked value, the fields its node gives (not the defaults checking filled in):
/// what an item asks of an entry the org has too.
fn given(value: &Value, node: &Node) -> Value {
    match (value, node.entries()) {
        (Value::Object(m), Some(entries)) => Value::Object(
            entries
                .iter()
                .filter_map(|(k, n)| m.get(&k.text).map(|v| (k.text.clone(), given(v, n))))
                .collect(),
        ),
        _ => value.clone(),
    }
}

/// Whether `have` says at least what `want` says: an object every field of it, a list
/// every entry of it (in any order), text the same but for ASCII case.
pub fn covers(have: &Value, want: &Value) -> bool {
    match (have, want) {
        (Value::Object(h), Value::Object(w)) => w
            .iter()
            .all(|(k, wv)| h.get(k).is_some_and(|hv| covers(hv, wv))),
        (Value::Array(h), Value::Array(w)) => w.iter().all(|wv| h.iter().any(|hv| covers(hv, wv))),
        (Value::String(h), Value::String(w)) => h.eq_ignore_ascii_case(w),
        (h, w) => h == w,
    }
}

/// The item's inputs with the org's facts in place of `{{org.domain}}` and `{{org.id}}`;
/// anything else in braces is refused at its line.
fn substitute(node: &Node, facts: &OrgFacts<'_>, at: &At, problems: &mut Problems) -> Option<Node> {
    let mut out = node.clone();
    let mut ok = true;
    walk(&mut out, &mut |n: &mut Node| {
        let span = n.span;
        if let NodeKind::Scalar { value, .. } = &mut n.kind
            && value.contains("{{")
        {
            let replaced = value
                .replace("{{org.domain}}", facts.domain)
                .replace("{{org.id}}", facts.id);
            if replaced.contains("{{") || replaced.contains("}}") {
                ok = false;
                problems.push(
                    Problem::at(
                        "baseline_placeholder",
                        &at.file,
                        span,
                        "only `{{org.domain}}` and `{{org.id}}` may be used in the standard's inputs",
                        "here",
                    )
                    .with_help("write the value itself, or give it in each org file"),
                );
            } else {
                *value = replaced;
            }
        }
    });
    ok.then_some(out)
}

fn walk(node: &mut Node, f: &mut dyn FnMut(&mut Node)) {
    match &mut node.kind {
        NodeKind::Scalar { .. } => f(node),
        NodeKind::Seq(items) => items.iter_mut().for_each(|n| walk(n, f)),
        NodeKind::Map(entries) => entries.iter_mut().for_each(|(_, n)| walk(n, f)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn covers_is_a_subset_in_any_order_and_case() {
        assert!(covers(&json!({"a": 1, "b": [1, 2]}), &json!({"b": [2]})));
        assert!(!covers(&json!({"a": 1}), &json!({"a": 2})));
        assert!(covers(&json!("IT@x.org"), &json!("it@x.org")));
        assert!(!covers(&json!([{"e": "a"}]), &json!([{"e": "b"}])));
    }
}
