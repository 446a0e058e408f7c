//! The compliance view as text, Markdown, JSON and a static HTML page a pool can
//! publish for its members. Text, Markdown and HTML come from the handlebars templates
//! in `src/baseline/templates/` (HTML escaped by the registry; Markdown values through
//! `md` and `code`).

use handlebars::{Handlebars, handlebars_helper};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::compliance::{ItemInfo, OrgRow, Status};
/// The formats, as the drift report has them.
pub use crate::drift::render::Format;

pub const FORMAT_VERSION: u32 = 1;

const TEXT: &str = include_str!("templates/standard.txt.hbs");
const MARKDOWN: &str = include_str!("templates/standard.md.hbs");
const HTML: &str = include_str!("templates/standard.html.hbs");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TierInfo {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extends: Option<String>,
    /// Its items, its ancestors' included.
    pub items: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub orgs: usize,
    /// Org × item pairs where the item applies (an exception counts apart).
    pub applies: usize,
    pub meets: usize,
    pub fails: usize,
    pub exceptions: usize,
    pub unknown: usize,
}

impl Totals {
    pub fn of(rows: &[OrgRow]) -> Totals {
        let mut t = Totals {
            orgs: rows.len(),
            ..Totals::default()
        };
        for c in rows.iter().flat_map(|r| &r.cells) {
            match c.status {
                Status::Meets => t.meets += 1,
                Status::Fails => t.fails += 1,
                Status::Exception => t.exceptions += 1,
                Status::Unknown => t.unknown += 1,
                Status::NotApplicable => {}
            }
        }
        t.applies = t.meets + t.fails + t.unknown;
        t
    }

    /// Percent met of what applies, rounded down; 100 when nothing applies.
    pub fn percent(&self) -> usize {
        (self.meets * 100).checked_div(self.applies).unwrap_or(100)
    }
}

/// Since the last recorded view of the same orgs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trend {
    /// When that view was recorded (RFC 3339).
    pub since: String,
    pub before: Totals,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub format_version: u32,
    pub pool: String,
    pub created_at: String,
    /// The day it is for (the pool's today, or `--as-of`).
    pub day: String,
    pub items: Vec<ItemInfo>,
    pub tiers: Vec<TierInfo>,
    pub orgs: Vec<OrgRow>,
    pub totals: Totals,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trend: Option<Trend>,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot render the compliance view ({template}): {message}")]
pub struct RenderError {
    template: &'static str,
    message: String,
}

handlebars_helper!(code_helper: |s: str| crate::plan::markdown_code(s));
handlebars_helper!(md_helper: |s: str| crate::drift::render::md_text(s));

pub fn render(report: &Report, format: Format) -> Result<String, RenderError> {
    let err = |template: &'static str| {
        move |e: &dyn std::fmt::Display| RenderError {
            template,
            message: e.to_string(),
        }
    };
    if format == Format::Json {
        return serde_json::to_string_pretty(report)
            .map(|s| s + "\n")
            .map_err(|e| err("json")(&e));
    }
    let (src, file) = match format {
        Format::Html => (HTML, "standard.html.hbs"),
        Format::Markdown => (MARKDOWN, "standard.md.hbs"),
        Format::Text | Format::Json => (TEXT, "standard.txt.hbs"),
    };
    let mut hb = Handlebars::new();
    hb.set_strict_mode(true);
    if format != Format::Html {
        hb.register_escape_fn(handlebars::no_escape);
    }
    hb.register_helper("code", Box::new(code_helper));
    hb.register_helper("md", Box::new(md_helper));
    hb.register_template_string("t", src)
        .map_err(|e| err(file)(&e))?;
    hb.render("t", &view(report))
        .map(|s| s.trim_start().to_string())
        .map_err(|e| err(file)(&e))
}

/// "9 of 12 met (75%)".
pub fn score(t: &Totals) -> String {
    format!("{} of {} met ({}%)", t.meets, t.applies, t.percent())
}

fn headline(report: &Report) -> String {
    let t = &report.totals;
    let mut parts = vec![format!(
        "{} org(s), {} item(s): {}",
        t.orgs,
        report.items.len(),
        score(t)
    )];
    if t.exceptions > 0 {
        parts.push(format!("{} agreed exception(s)", t.exceptions));
    }
    if t.unknown > 0 {
        parts.push(format!("{} could not be checked", t.unknown));
    }
    parts.join("; ")
}

fn trend_text(report: &Report) -> Option<String> {
    let tr = report.trend.as_ref()?;
    let now = report.totals.percent() as i64;
    let then = tr.before.percent() as i64;
    let moved = match now - then {
        0 => "no change".to_string(),
        d if d > 0 => format!("up {d} points"),
        d => format!("down {} points", -d),
    };
    Some(format!(
        "Since {}: {} then, {} now ({moved}).",
        tr.since.get(..10).unwrap_or(&tr.since),
        score(&tr.before),
        score(&report.totals)
    ))
}

/// How a status is shown: (text mark, background, foreground).
pub fn mark(s: Status) -> (&'static str, &'static str, &'static str) {
    match s {
        Status::Meets => ("meets", "#d1fae5", "#065f46"),
        Status::Fails => ("FAILS", "#fee2e2", "#991b1b"),
        Status::Exception => ("exception", "#fef3c7", "#92400e"),
        Status::Unknown => ("unknown", "#e5e7eb", "#374151"),
        Status::NotApplicable => ("n/a", "#f3f4f6", "#6b7280"),
    }
}

fn view(report: &Report) -> Value {
    let title = |name: &str| {
        report
            .items
            .iter()
            .find(|i| i.name == name)
            .map_or(name.to_string(), |i| i.title.clone())
    };
    let orgs: Vec<Value> = report
        .orgs
        .iter()
        .map(|o| {
            let (meets, applies) = o.score();
            let cells: Vec<Value> = o
                .cells
                .iter()
                .filter(|c| c.status != Status::NotApplicable)
                .map(|c| {
                    let (m, bg, fg) = mark(c.status);
                    json!({
                        "item": c.item,
                        "title": title(&c.item),
                        "mark": m,
                        "bg": bg,
                        "fg": fg,
                        "label": c.status.label(),
                        "detail": c.detail,
                        "fix": c.fix,
                        "exception": c.exception,
                        "was": c.was.map(|w| w.label()),
                    })
                })
                .collect();
            let na = o.count(Status::NotApplicable);
            json!({
                "org": o.org,
                "name": o.name,
                "file": o.file,
                "tier": o.tier.clone().unwrap_or_else(|| "none".into()),
                "score": format!("{meets} of {applies}"),
                "all_met": meets == applies && o.count(Status::Exception) == 0,
                "fails": o.count(Status::Fails),
                "cells": cells,
                "not_applicable": na,
            })
        })
        .collect();
    let items: Vec<Value> = report
        .items
        .iter()
        .map(|i| {
            let met = report
                .orgs
                .iter()
                .filter(|o| {
                    o.cells
                        .iter()
                        .any(|c| c.item == i.name && c.status == Status::Meets)
                })
                .count();
            let applies = report
                .orgs
                .iter()
                .filter(|o| {
                    o.cells.iter().any(|c| {
                        c.item == i.name
                            && matches!(c.status, Status::Meets | Status::Fails | Status::Unknown)
                    })
                })
                .count();
            json!({
                "name": i.name, "title": i.title, "why": i.why, "module": i.module,
                "defined": i.defined, "tiers": i.tiers.join(", "),
                "met": format!("{met} of {applies}"),
            })
        })
        .collect();
    json!({
        "pool": report.pool,
        "date": report.day,
        "headline": headline(report),
        "trend": trend_text(report),
        "items": items,
        "orgs": orgs,
        "footer": format!(
            "Measured read-only by Steward at {}; nothing was changed.",
            report.created_at
        ),
    })
}
