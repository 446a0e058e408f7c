//! Drift: what no longer matches the org files, found by the same read-only refresh a
//! plan makes, told in words an org's contact can read, and compared with earlier runs.
//!
//! A plan says what apply would do; a drift report says what is *wrong*. Each planned
//! change becomes a finding (a create is something missing, an update something changed
//! outside Steward, a membership removal someone added by hand), and so does each
//! unmanaged object. Findings an org file accepts (`accepted_drift:`) are listed apart
//! until their date passes.

pub mod email;
pub mod history;
pub mod render;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::org::{Accepted, Org};
use crate::plan::{Action, Change, FieldChange, OrgPlan, Plan, Source, show};
use crate::resource::Address;

pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Changed outside Steward: live values differ from the file.
    Changed,
    /// In the org file, not live.
    Missing,
    /// Live, in no org file.
    Unmanaged,
    /// Facts say a module is not doing its job.
    Unhealthy,
}

impl Category {
    /// The name in finding keys, JSON and the history database.
    pub fn key(self) -> &'static str {
        match self {
            Category::Changed => "changed",
            Category::Missing => "missing",
            Category::Unmanaged => "unmanaged",
            Category::Unhealthy => "unhealthy",
        }
    }

    pub fn from_key(key: &str) -> Option<Category> {
        [
            Category::Changed,
            Category::Missing,
            Category::Unmanaged,
            Category::Unhealthy,
        ]
        .into_iter()
        .find(|c| c.key() == key)
    }

    pub fn label(self) -> &'static str {
        match self {
            Category::Changed => "changed outside Steward",
            Category::Missing => "missing",
            Category::Unmanaged => "unmanaged",
            Category::Unhealthy => "unhealthy",
        }
    }
}

/// Whether a finding was there at the last recorded run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum Seen {
    New,
    Ongoing { first_seen: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable identity across runs (category, address, fields).
    pub key: String,
    pub category: Category,
    pub address: Address,
    pub module: String,
    /// One sentence for people who do not read plans.
    pub title: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldChange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    /// The command that would fix it, when Steward can.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// What else a person can do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub seen: Seen,
    /// Set when an acceptance in the org file covered it but has expired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_until: Option<String>,
}

/// A finding the org file accepts, with why and until when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AcceptedFinding {
    pub finding: Finding,
    pub reason: String,
    pub until: String,
    pub line: usize,
}

/// A finding of the last recorded run that is gone now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resolved {
    pub key: String,
    pub category: Category,
    pub title: String,
    pub first_seen: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrgReport {
    pub org: String,
    pub name: String,
    pub file: String,
    /// Contacts who asked for reports (`reports: true`).
    pub report_to: Vec<String>,
    /// Set when the org could not be checked; it then has no findings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub findings: Vec<Finding>,
    pub accepted: Vec<AcceptedFinding>,
    pub resolved: Vec<Resolved>,
    /// What the org file says happens in the next days (people starting and leaving).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upcoming: Vec<crate::providers::Upcoming>,
    /// The org against the pool's standard, when the pool has one and the org a tier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standard: Option<StandardPart>,
}

/// An org's row of the compliance view, in plain words for its contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StandardPart {
    pub tier: String,
    pub meets: usize,
    /// Items that apply (an agreed exception counts as neither).
    pub applies: usize,
    pub items: Vec<StandardLine>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StandardLine {
    pub item: String,
    pub title: String,
    pub status: crate::baseline::compliance::Status,
    pub detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception: Option<String>,
    /// Its status at the last recorded view, when it was another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub was: Option<crate::baseline::compliance::Status>,
}

impl StandardPart {
    /// The part of a compliance view's row that applies to the org.
    pub fn of(
        row: &crate::baseline::compliance::OrgRow,
        items: &[crate::baseline::compliance::ItemInfo],
    ) -> Option<StandardPart> {
        use crate::baseline::compliance::Status;
        let tier = row.tier.clone()?;
        let (meets, applies) = row.score();
        Some(StandardPart {
            tier,
            meets,
            applies,
            items: row
                .cells
                .iter()
                .filter(|c| c.status != Status::NotApplicable)
                .map(|c| StandardLine {
                    item: c.item.clone(),
                    title: items
                        .iter()
                        .find(|i| i.name == c.item)
                        .map_or_else(|| c.item.clone(), |i| i.title.clone()),
                    status: c.status,
                    detail: c.detail.clone(),
                    exception: c.exception.as_ref().map(|e| {
                        format!(
                            "agreed exception until {}{}: {}",
                            e.until,
                            if e.expired {
                                " (passed: it counts again)"
                            } else {
                                ""
                            },
                            e.reason
                        )
                    }),
                    was: c.was,
                })
                .collect(),
        })
    }
}

impl OrgReport {
    pub fn count(&self, category: Category) -> usize {
        self.findings
            .iter()
            .filter(|f| f.category == category)
            .count()
    }

    pub fn needs_attention(&self) -> bool {
        self.error.is_some() || !self.findings.is_empty()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub orgs: usize,
    pub orgs_with_drift: usize,
    pub orgs_not_checked: usize,
    pub findings: usize,
    pub new: usize,
    pub ongoing: usize,
    pub resolved: usize,
    pub accepted: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub format_version: u32,
    pub steward_version: String,
    pub created_at: String,
    /// The pool's name, for headings.
    pub pool: String,
    pub summary: Summary,
    pub orgs: Vec<OrgReport>,
}

impl Report {
    pub fn new(pool: String, created_at: String, mut orgs: Vec<OrgReport>) -> Report {
        orgs.sort_by(|a, b| a.org.cmp(&b.org));
        let mut s = Summary {
            orgs: orgs.len(),
            ..Summary::default()
        };
        for o in &orgs {
            if o.error.is_some() {
                s.orgs_not_checked += 1;
            }
            if !o.findings.is_empty() {
                s.orgs_with_drift += 1;
            }
            s.findings += o.findings.len();
            s.new += o.findings.iter().filter(|f| f.seen == Seen::New).count();
            s.resolved += o.resolved.len();
            s.accepted += o.accepted.len();
        }
        s.ongoing = s.findings - s.new;
        Report {
            format_version: FORMAT_VERSION,
            steward_version: env!("CARGO_PKG_VERSION").to_string(),
            created_at,
            pool,
            summary: s,
            orgs,
        }
    }

    /// Only some orgs (one contact's part), with the summary recounted.
    pub fn only(&self, org: &str) -> Report {
        Report::new(
            self.pool.clone(),
            self.created_at.clone(),
            self.orgs.iter().filter(|o| o.org == org).cloned().collect(),
        )
    }
}

fn field_names(fields: &[FieldChange]) -> String {
    fields
        .iter()
        .map(|f| f.name.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

fn noun(address: &Address) -> String {
    let n = address.kind.noun();
    let mut c = n.chars();
    match c.next() {
        Some(first) => format!("{}{} {}", first.to_uppercase(), c.as_str(), address.id),
        None => address.id.clone(),
    }
}

/// A planned change as a finding, without history.
fn from_change(c: &Change, file: &str) -> Finding {
    let apply = Some(format!("steward apply {file}"));
    let keep = Some("or add it to the org file if it should stay".to_string());
    let (category, title, fix, note) = match c.action {
        Action::Create => (
            Category::Missing,
            format!("{}: in the org file, but not found live", noun(&c.address)),
            apply,
            None,
        ),
        Action::Adopt => (
            Category::Changed,
            format!(
                "{}: exists, but Steward does not manage it yet (apply adopts it and keeps its other external ids)",
                noun(&c.address)
            ),
            apply,
            None,
        ),
        Action::Update if c.destructive => (
            Category::Unmanaged,
            format!(
                "{}: removed from the org file, but still active",
                noun(&c.address)
            ),
            apply,
            keep,
        ),
        Action::Update => {
            let what: Vec<String> = c
                .fields
                .iter()
                .map(|f| match &f.diff {
                    Some(diff) => {
                        let lines = diff
                            .lines()
                            .filter(|l| l.starts_with('-') && !l.starts_with("---"))
                            .count();
                        format!("{lines} line(s) of its {} differ from the org file", f.name)
                    }
                    None => format!(
                        "{} is {}, the org file says {}",
                        f.name,
                        show(&f.before),
                        show(&f.after)
                    ),
                })
                .collect();
            (
                Category::Changed,
                format!("{}: {}", noun(&c.address), what.join("; ")),
                apply,
                None,
            )
        }
        Action::Delete if let Some(unlisted) = c.address.kind.spec().unlisted => {
            (Category::Unmanaged, unlisted(&c.address.id), apply, keep)
        }
        Action::Delete => (
            Category::Unmanaged,
            format!(
                "{}: removed from the org file, but still exists",
                noun(&c.address)
            ),
            apply,
            keep,
        ),
    };
    Finding {
        key: format!(
            "{}|{}|{}",
            category.key(),
            c.address,
            field_names(&c.fields)
        )
        .to_lowercase(),
        category,
        address: c.address.clone(),
        module: c.module.clone(),
        title,
        fields: c.fields.clone(),
        source: c.source.clone(),
        fix,
        note,
        seen: Seen::New,
        accepted_until: None,
    }
}

fn from_unhealthy(u: &crate::plan::Unhealthy) -> Finding {
    let mut title = u.message.clone();
    if let Some(first) = title.get(..1) {
        title.replace_range(..1, &first.to_uppercase());
    }
    Finding {
        key: format!("{}|{}|{}", Category::Unhealthy.key(), u.address, u.code).to_lowercase(),
        category: Category::Unhealthy,
        address: u.address.clone(),
        module: u.module.clone(),
        title,
        fields: Vec::new(),
        source: u.source.clone(),
        fix: None,
        note: Some(
            u.address
                .kind
                .spec()
                .advice
                .iter()
                .find(|(code, _)| *code == u.code)
                .map_or("see the finding above", |(_, advice)| advice)
                .to_string(),
        ),
        seen: Seen::New,
        accepted_until: None,
    }
}

fn unmanaged(address: &Address, file: &str) -> Finding {
    Finding {
        key: format!("{}|{address}|", Category::Unmanaged.key()).to_lowercase(),
        category: Category::Unmanaged,
        address: address.clone(),
        module: String::new(),
        title: format!("{}: exists live, but is in no org file", noun(address)),
        fix: None,
        note: Some(format!(
            "add it to {file} if it should stay, or remove it in the admin console"
        )),
        fields: Vec::new(),
        source: None,
        seen: Seen::New,
        accepted_until: None,
    }
}

/// The acceptance covering a finding: same resource, and its fields (if it names any)
/// include every field that differs.
fn covering<'a>(accepted: &'a [Accepted], f: &Finding) -> Option<&'a Accepted> {
    accepted.iter().find(|a| {
        a.address == f.address
            && (a.fields.is_empty() || f.fields.iter().all(|x| a.fields.contains(&x.name)))
    })
}

/// How far ahead a report looks for what org files say will happen.
pub const UPCOMING_DAYS: i64 = 14;

/// One org's findings from its plan, accepted ones set apart (`today` in days since
/// 1970-01-01; an acceptance holds through its `until` day).
pub fn org_report(org: &Org, plan: &OrgPlan, today: i64) -> OrgReport {
    let mut report = OrgReport {
        org: org.id.clone(),
        name: org.name.clone(),
        file: plan.file.clone(),
        report_to: org
            .contacts
            .iter()
            .filter(|c| c.reports)
            .map(|c| c.email.clone())
            .collect(),
        // A host that could not be read leaves the org only partly checked: it is
        // reported as not checked, so history does not mark its findings resolved.
        error: plan.error.clone().or_else(|| {
            (!plan.host_errors.is_empty()).then(|| {
                plan.host_errors
                    .iter()
                    .map(|h| format!("host {}: {}", h.host, h.error))
                    .collect::<Vec<_>>()
                    .join("; ")
            })
        }),
        findings: Vec::new(),
        accepted: Vec::new(),
        resolved: Vec::new(),
        upcoming: Vec::new(),
        standard: None,
    };
    if report.error.is_some() {
        return report;
    }
    let all = plan
        .changes
        .iter()
        // A restart is a consequence of another change, which is the finding.
        .filter(|c| !c.fields.is_empty() || c.triggered_by.is_empty())
        .map(|c| from_change(c, &plan.file))
        .chain(plan.unmanaged.iter().map(|a| unmanaged(a, &plan.file)))
        .chain(plan.unhealthy.iter().map(from_unhealthy))
        .chain(plan.conflicts.iter().map(from_unhealthy));
    for mut f in all {
        match covering(&org.accepted, &f) {
            Some(a) if today <= a.until_day => report.accepted.push(AcceptedFinding {
                finding: f,
                reason: a.reason.clone(),
                until: a.until.clone(),
                line: a.line,
            }),
            Some(a) => {
                f.accepted_until = Some(a.until.clone());
                report.findings.push(f);
            }
            None => report.findings.push(f),
        }
    }
    report
}

/// Reports for every org of a plan (orgs matched by id).
pub fn reports(orgs: &[std::sync::Arc<Org>], plan: &Plan, today: i64) -> Vec<OrgReport> {
    let by_id: BTreeMap<&str, &Org> = orgs.iter().map(|o| (o.id.as_str(), o.as_ref())).collect();
    plan.orgs
        .iter()
        .filter_map(|p| by_id.get(p.org.as_str()).map(|o| org_report(o, p, today)))
        .collect()
}
