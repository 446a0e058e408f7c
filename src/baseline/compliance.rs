//! The compliance view: each org against each item of the standard, from the same
//! refresh and plan a `steward plan` makes (no request more).
//!
//! An item *meets* when what it gives is in the org's inputs and applied (no change
//! from it is pending), what it requires the org's inputs say, or its measure passes; an
//! org with an exception still has the item measured and shown, with the exception's
//! reason and day; an item of another tier, or of a module the org does not use, is
//! not applicable.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::layer::{covers, under};
use super::{Baseline, HEALTHY, Item, Test};
use crate::org::Org;
use crate::plan::{Change, OrgPlan};
use crate::providers::Measured;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Meets,
    Exception,
    Fails,
    /// The org could not be checked (its refresh failed) or the measure not taken.
    Unknown,
    NotApplicable,
}

impl Status {
    pub fn key(self) -> &'static str {
        match self {
            Status::Meets => "meets",
            Status::Exception => "exception",
            Status::Fails => "fails",
            Status::Unknown => "unknown",
            Status::NotApplicable => "not_applicable",
        }
    }

    pub fn from_key(key: &str) -> Option<Status> {
        [
            Status::Meets,
            Status::Exception,
            Status::Fails,
            Status::Unknown,
            Status::NotApplicable,
        ]
        .into_iter()
        .find(|s| s.key() == key)
    }

    /// As the org's contact reads it.
    pub fn label(self) -> &'static str {
        match self {
            Status::Meets => "meets the standard",
            Status::Exception => "agreed exception",
            Status::Fails => "does not meet the standard",
            Status::Unknown => "could not be checked",
            Status::NotApplicable => "not applicable",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExceptionInfo {
    pub reason: String,
    pub until: String,
    /// Its line in the org file.
    pub line: usize,
    /// Its day has passed: the item counts again.
    pub expired: bool,
}

/// One org against one item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    pub item: String,
    pub status: Status,
    /// What was found, in plain words (under an exception: the item's own state).
    pub detail: String,
    /// What would fix it: a command, or the line to edit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception: Option<ExceptionInfo>,
    /// Against the last recorded view: the status then, when it was another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub was: Option<Status>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrgRow {
    pub org: String,
    pub name: String,
    pub file: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    /// Contacts who asked for reports (`reports: true`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub report_to: Vec<String>,
    /// Set when the org could not be checked (its refresh failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub cells: Vec<Cell>,
}

impl OrgRow {
    pub fn count(&self, status: Status) -> usize {
        self.cells.iter().filter(|c| c.status == status).count()
    }

    /// Items that apply to the org, and how many of them it meets (an exception
    /// counts as neither).
    pub fn score(&self) -> (usize, usize) {
        let applies = self
            .cells
            .iter()
            .filter(|c| matches!(c.status, Status::Meets | Status::Fails | Status::Unknown))
            .count();
        (self.count(Status::Meets), applies)
    }
}

/// The item's plan-independent facts for the report's header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemInfo {
    pub name: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub why: String,
    pub module: String,
    /// `baseline.yaml line 12`.
    pub defined: String,
    /// The tiers that have it (directly or by extending).
    pub tiers: Vec<String>,
}

/// Each org's cells, from its plan (and the measures its refresh allowed).
pub fn evaluate(baseline: &Baseline, org: &Org, plan: &OrgPlan) -> OrgRow {
    let tier = org.standard.tier.clone();
    let today = crate::util::parse_date(&org.today).unwrap_or_else(crate::util::today);
    let in_tier: Vec<&Item> = tier
        .as_deref()
        .map(|t| baseline.items_of(t))
        .unwrap_or_default();
    let cells = baseline
        .items
        .values()
        .map(|item| {
            let na = |detail: String| Cell {
                item: item.name.clone(),
                status: Status::NotApplicable,
                detail,
                fix: None,
                exception: None,
                was: None,
            };
            if !in_tier.iter().any(|i| i.name == item.name) {
                return na(match &tier {
                    Some(t) => format!("not in tier `{t}`"),
                    None => "the org has no tier".to_string(),
                });
            }
            if !org.modules.contains(&item.module) {
                return na(format!("the org does not use `{}`", item.module));
            }
            let (met, detail, fix) = match &plan.error {
                Some(e) => (None, format!("could not be checked: {e}"), None),
                None => state(item, org, plan),
            };
            let exception = org.standard.exception(&item.name).map(|e| ExceptionInfo {
                reason: e.reason.clone(),
                until: e.until.clone(),
                line: e.line,
                expired: !e.active(today),
            });
            let status = match (&exception, met) {
                (Some(e), _) if !e.expired => Status::Exception,
                (_, Some(true)) => Status::Meets,
                (_, Some(false)) => Status::Fails,
                (_, None) => Status::Unknown,
            };
            Cell {
                item: item.name.clone(),
                status,
                detail,
                fix: if status == Status::Fails { fix } else { None },
                exception,
                was: None,
            }
        })
        .collect();
    OrgRow {
        org: org.id.clone(),
        name: org.name.clone(),
        file: org.file.path.display().to_string(),
        tier,
        report_to: org
            .contacts
            .iter()
            .filter(|c| c.reports)
            .map(|c| c.email.clone())
            .collect(),
        error: plan.error.clone(),
        cells,
    }
}

/// Whether the org meets the item (`None`: not known), in words, and the fix.
fn state(item: &Item, org: &Org, plan: &OrgPlan) -> (Option<bool>, String, Option<String>) {
    if item.measure.is_some() {
        return match plan.measured.get(&item.name) {
            Some(Measured { meets, detail }) => (Some(*meets), detail.clone(), None),
            None => (None, "not measured: nothing read it".to_string(), None),
        };
    }
    let mut problems: Vec<String> = Vec::new();
    let mut fix = None;
    // What the org file says otherwise.
    for o in org
        .standard
        .overrides
        .iter()
        .filter(|o| o.item == item.name)
    {
        problems.push(format!(
            "the org file has {} at `{}` (line {}), the standard {}",
            short(&o.have),
            o.path,
            o.line,
            short(&o.want)
        ));
        fix.get_or_insert(format!(
            "edit {} line {}, or record an exception",
            org.file.path.display(),
            o.line
        ));
    }
    // What the org's own inputs must say.
    let inputs = org.standard.inputs.get(&item.module);
    for r in &item.require {
        let list = inputs.map(|v| {
            r.list
                .split('.')
                .filter(|s| !s.is_empty())
                .fold(v, |v, seg| &v[seg])
        });
        let entries = list
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let base = r.path(&item.module);
        if r.every {
            for (i, e) in entries.iter().enumerate() {
                for (field, test) in &r.fields {
                    if !passes(&e[field.as_str()], test) {
                        let path = format!("{base}.{i}.{field}");
                        let (_, line, _) = org.locate(&path);
                        problems.push(format!(
                            "{} has {field} {} (line {line}), the standard {}",
                            entry_name(e, i),
                            short(&e[field.as_str()]),
                            test_text(test)
                        ));
                        fix.get_or_insert(format!("edit {} line {line}", org.file.path.display()));
                    }
                }
            }
        } else if !entries
            .iter()
            .any(|e| r.fields.iter().all(|(f, t)| passes(&e[f.as_str()], t)))
        {
            let want: Vec<String> = r
                .fields
                .iter()
                .map(|(f, t)| format!("{f} {}", test_text(t)))
                .collect();
            let list = r.label(&item.module);
            problems.push(if want.is_empty() {
                format!("no entry in `{list}`")
            } else {
                format!("no entry in `{list}` with {}", want.join(" and "))
            });
            let (_, line, _) = org.locate(&base);
            fix.get_or_insert(format!("edit {} line {line}", org.file.path.display()));
        }
    }
    // What is given or required but not applied yet.
    let required: Vec<String> = item.require.iter().map(|r| r.path(&item.module)).collect();
    let pending: Vec<&Change> = plan
        .changes
        .iter()
        .filter(|c| {
            let Some(path) = c.source.as_ref().map(|s| s.path.as_str()) else {
                return false;
            };
            org.standard
                .origin(path)
                .is_some_and(|o| o.item == item.name)
                || org
                    .standard
                    .covered
                    .iter()
                    .any(|(p, i)| *i == item.name && under(path, p))
                || required.iter().any(|base| under(path, base))
        })
        .collect();
    if !pending.is_empty() {
        let some: Vec<String> = pending
            .iter()
            .take(3)
            .map(|c| format!("{} {}", c.action.symbol(), c.address))
            .collect();
        let more = if pending.len() > 3 {
            format!(" and {} more", pending.len() - 3)
        } else {
            String::new()
        };
        problems.push(format!(
            "not applied yet: {} change(s) ({}{more})",
            pending.len(),
            some.join(", ")
        ));
        fix = fix.or_else(|| Some(format!("steward apply {}", org.file.path.display())));
    }
    if let Some(why) = org.standard.excused.get(&item.name) {
        problems.push(why.clone());
    }
    if problems.is_empty() {
        let given = org
            .standard
            .origins
            .iter()
            .filter(|o| o.item == item.name)
            .count();
        let detail = if item.inputs.is_some() && given > 0 {
            format!("{given} value(s) from the standard, all applied")
        } else if item.inputs.is_some() {
            "the org file already says it".to_string()
        } else {
            "the org file says it".to_string()
        };
        (Some(true), detail, None)
    } else {
        (Some(false), problems.join("; "), fix)
    }
}

/// An entry as people know it: its name, SSID or e-mail, else its place.
fn entry_name(e: &Value, i: usize) -> String {
    ["name", "ssid", "email"]
        .iter()
        .find_map(|k| e[*k].as_str())
        .map_or_else(|| format!("entry {}", i + 1), |n| format!("`{n}`"))
}

fn short(v: &Value) -> String {
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Null => "nothing".to_string(),
        other => other.to_string(),
    };
    if text.chars().count() > 80 {
        format!("{}…", text.chars().take(80).collect::<String>())
    } else {
        text
    }
}

fn test_text(t: &Test) -> String {
    match t {
        Test::Equals(v) => format!("is {}", short(v)),
        Test::AtMost(v) => format!("at most {}", short(v)),
        Test::AtLeast(v) => format!("at least {}", short(v)),
    }
}

/// Whether a value passes a test: durations (`2d`) and numbers compare as amounts.
fn passes(v: &Value, t: &Test) -> bool {
    let amount = |x: &Value| -> Option<f64> {
        match x {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => crate::util::parse_duration(s).map(|d| d as f64),
            _ => None,
        }
    };
    match t {
        Test::Equals(w) => covers(v, w),
        Test::AtMost(w) => matches!((amount(v), amount(w)), (Some(a), Some(b)) if a <= b),
        Test::AtLeast(w) => matches!((amount(v), amount(w)), (Some(a), Some(b)) if a >= b),
    }
}

/// Takes a provider's measure by name with an item's parameters.
pub type Take<'a> = dyn Fn(&str, &serde_json::Map<String, Value>) -> Option<Measured> + 'a;

/// The measures of an org's items of measure, from its refresh: each provider's, and
/// `healthy` from the health its plan found. Items of a module the org does not use
/// are not measured.
pub fn measure(
    baseline: &Baseline,
    org: &Org,
    plan: &OrgPlan,
    take: &Take<'_>,
) -> BTreeMap<String, Measured> {
    let Some(tier) = org.standard.tier.as_deref() else {
        return BTreeMap::new();
    };
    let mut out = BTreeMap::new();
    for item in baseline.items_of(tier) {
        let Some((name, params)) = &item.measure else {
            continue;
        };
        if !org.modules.contains(&item.module) {
            continue;
        }
        let m = if name == HEALTHY {
            Some(healthy(org, plan, &item.module))
        } else {
            take(name, params)
        };
        if let Some(m) = m {
            out.insert(item.name.clone(), m);
        }
    }
    out
}

fn healthy(org: &Org, plan: &OrgPlan, module: &str) -> Measured {
    let sick: Vec<&str> = plan
        .unhealthy
        .iter()
        .filter(|u| u.module == module)
        .map(|u| u.message.as_str())
        .collect();
    // A host of the module that could not be read is not known to be healthy.
    let hosts: Vec<&str> = org
        .resources
        .iter()
        .filter(|r| r.module == module)
        .filter_map(|r| r.address.kind.host_of(&r.attrs))
        .collect();
    let unread: Vec<String> = plan
        .host_errors
        .iter()
        .filter(|h| hosts.contains(&h.host.as_str()))
        .map(|h| format!("host {} could not be read", h.host))
        .collect();
    let checked = org.resources.iter().filter(|r| r.module == module).count();
    if sick.is_empty() && unread.is_empty() {
        Measured {
            meets: true,
            detail: format!("no health problem in {checked} resource(s)"),
        }
    } else {
        let mut all: Vec<String> = sick.iter().map(|s| s.to_string()).collect();
        all.extend(unread);
        Measured {
            meets: false,
            detail: all.join("; "),
        }
    }
}

/// The items, for the view's header.
pub fn items(baseline: &Baseline) -> Vec<ItemInfo> {
    baseline
        .items
        .values()
        .map(|i| ItemInfo {
            name: i.name.clone(),
            title: i.title.clone(),
            why: i.why.clone(),
            module: i.module.clone(),
            defined: i.at.cite(),
            tiers: baseline
                .tiers
                .keys()
                .filter(|t| baseline.tier_of_item(t, &i.name).is_some())
                .cloned()
                .collect(),
        })
        .collect()
}

/// Says on each planned change the standard gave which item and tier it is from; its
/// source already points at the item's line.
pub fn cite(org: &Org, changes: &mut [Change]) {
    if org.standard.origins.is_empty() {
        return;
    }
    for c in changes {
        let Some(o) = c.source.as_ref().and_then(|s| org.standard.origin(&s.path)) else {
            continue;
        };
        c.add_reason(&format!(
            "the pool's standard: item `{}`, tier `{}`",
            o.item, o.tier
        ));
    }
}

/// The view of `orgs` from their plan, in the plan's order, without a trend.
pub fn view(
    baseline: &Baseline,
    pool: &str,
    orgs: &[std::sync::Arc<Org>],
    plan: &crate::plan::Plan,
    today: &str,
    tier: Option<&str>,
) -> super::report::Report {
    let rows: Vec<OrgRow> = plan
        .orgs
        .iter()
        .filter_map(|op| {
            let org = orgs.iter().find(|o| o.id == op.org)?;
            Some(evaluate(baseline, org, op))
        })
        .filter(|r| {
            tier.is_none_or(|t| r.tier.as_deref().is_some_and(|rt| baseline.extends(rt, t)))
        })
        .collect();
    super::report::Report {
        format_version: super::report::FORMAT_VERSION,
        pool: pool.to_string(),
        created_at: crate::util::now_rfc3339(),
        day: today.to_string(),
        items: items(baseline),
        tiers: baseline
            .tiers
            .values()
            .map(|t| super::report::TierInfo {
                name: t.name.clone(),
                description: t.description.clone(),
                extends: t.extends.clone(),
                items: baseline
                    .items_of(&t.name)
                    .iter()
                    .map(|i| i.name.clone())
                    .collect(),
            })
            .collect(),
        totals: super::report::Totals::of(&rows),
        orgs: rows,
        trend: None,
    }
}
