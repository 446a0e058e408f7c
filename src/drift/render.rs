//! Drift reports as text, Markdown, HTML and JSON. Text, Markdown and HTML come from
//! handlebars templates in `src/drift/templates/`: one registry for HTML, which escapes
//! every value, and one for text and Markdown, which does not (Markdown values go
//! through the `code` and `md` helpers instead).

use handlebars::{Handlebars, handlebars_helper};
use serde_json::{Value, json};

use super::{Category, Finding, OrgReport, Report, Seen};
use crate::baseline::compliance::Status;

const TEXT: &str = include_str!("templates/report.txt.hbs");
const MARKDOWN: &str = include_str!("templates/report.md.hbs");
const HTML: &str = include_str!("templates/report.html.hbs");

#[derive(Debug, thiserror::Error)]
#[error("cannot render the drift report ({template}): {message}")]
pub struct RenderError {
    template: &'static str,
    message: String,
}

/// The formats a drift report is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Markdown,
    Html,
    Json,
}

/// `s` as Markdown text that renders literally (no emphasis, links, HTML or tables).
pub(crate) fn md_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\`*_[]<>|#!~".contains(c) {
            out.push('\\');
        }
        if c == '\n' {
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out
}

handlebars_helper!(code_helper: |s: str| crate::plan::markdown_code(s));
handlebars_helper!(md_helper: |s: str| md_text(s));

/// The two registries.
pub struct Renderer {
    html: Handlebars<'static>,
    text: Handlebars<'static>,
}

impl Renderer {
    pub fn new() -> Result<Renderer, RenderError> {
        let mut html = Handlebars::new();
        html.set_strict_mode(true);
        html.register_template_string("report", HTML)
            .map_err(|e| RenderError {
                template: "report.html.hbs",
                message: e.to_string(),
            })?;
        let mut text = Handlebars::new();
        text.set_strict_mode(true);
        text.register_escape_fn(handlebars::no_escape);
        text.register_helper("code", Box::new(code_helper));
        text.register_helper("md", Box::new(md_helper));
        for (name, src, file) in [
            ("text", TEXT, "report.txt.hbs"),
            ("markdown", MARKDOWN, "report.md.hbs"),
        ] {
            text.register_template_string(name, src)
                .map_err(|e| RenderError {
                    template: file,
                    message: e.to_string(),
                })?;
        }
        Ok(Renderer { html, text })
    }

    /// The report in `format`.
    pub fn render(&self, report: &Report, format: Format) -> Result<String, RenderError> {
        if format == Format::Json {
            return serde_json::to_string_pretty(report)
                .map(|s| s + "\n")
                .map_err(|e| RenderError {
                    template: "json",
                    message: e.to_string(),
                });
        }
        self.template(format, &view(report))
    }

    /// The two parts of an e-mail, from one view of the report.
    pub fn text_and_html(&self, report: &Report) -> Result<(String, String), RenderError> {
        let view = view(report);
        Ok((
            self.template(Format::Text, &view)?,
            self.template(Format::Html, &view)?,
        ))
    }

    fn template(&self, format: Format, view: &Value) -> Result<String, RenderError> {
        let (registry, name, file) = match format {
            Format::Html => (&self.html, "report", "report.html.hbs"),
            Format::Markdown => (&self.text, "markdown", "report.md.hbs"),
            Format::Text | Format::Json => (&self.text, "text", "report.txt.hbs"),
        };
        registry
            .render(name, view)
            // The templates open with a comment; its line is not part of the report.
            .map(|s| s.trim_start().to_string())
            .map_err(|e| RenderError {
                template: file,
                message: e.to_string(),
            })
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn date(rfc3339: &str) -> String {
    rfc3339.get(..10).unwrap_or(rfc3339).to_string()
}

/// The e-mail subject, with the counts.
pub fn subject(report: &Report) -> String {
    format!("Steward drift: {}", headline(report))
}

fn headline(report: &Report) -> String {
    let s = &report.summary;
    let attention = report.orgs.iter().filter(|o| o.needs_attention()).count();
    if attention == 0 {
        return if s.orgs == 1 {
            "the org matches its org file".into()
        } else {
            format!("all {} orgs match their org files", s.orgs)
        };
    }
    format!(
        "{} need{} attention, {}",
        plural(attention, "org", "orgs"),
        if attention == 1 { "s" } else { "" },
        plural(s.findings, "finding", "findings")
    )
}

fn totals(report: &Report) -> String {
    let s = &report.summary;
    let mut parts = vec![format!(
        "{} checked: {} ({} new, {} ongoing)",
        plural(s.orgs, "org", "orgs"),
        plural(s.findings, "finding", "findings"),
        s.new,
        s.ongoing
    )];
    if s.resolved > 0 {
        parts.push(format!("{} resolved", s.resolved));
    }
    if s.accepted > 0 {
        parts.push(format!("{} accepted", s.accepted));
    }
    if s.orgs_not_checked > 0 {
        parts.push(format!(
            "{} could not be checked",
            plural(s.orgs_not_checked, "org", "orgs")
        ));
    }
    parts.join("; ") + "."
}

fn state(seen: &Seen) -> String {
    match seen {
        Seen::New => "new".into(),
        Seen::Ongoing { first_seen } => format!("ongoing since {}", date(first_seen)),
    }
}

fn color(c: Category) -> &'static str {
    match c {
        Category::Changed => "#b45309",
        Category::Missing => "#b91c1c",
        Category::Unmanaged => "#1d4ed8",
        Category::Unhealthy => "#7c3aed",
    }
}

fn shown(v: &Option<Value>) -> String {
    match v {
        None | Some(Value::Null) => "(none)".into(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    }
}

fn finding_view(f: &Finding) -> Value {
    json!({
        "state": state(&f.seen),
        "category_label": f.category.label(),
        "color": color(f.category),
        "title": f.title,
        "fields": f.fields.iter().map(|x| json!({
            "name": x.name, "before": shown(&x.before), "after": shown(&x.after),
        })).collect::<Vec<_>>(),
        "accepted_until": f.accepted_until,
        "source": f.source,
        "fix": f.fix,
        "note": f.note,
    })
}

fn org_view(o: &OrgReport, whole_row: bool) -> Value {
    let (status, bg, fg) = if o.error.is_some() {
        ("could not be checked", "#fee2e2", "#991b1b")
    } else if !o.findings.is_empty() {
        ("needs attention", "#fef3c7", "#92400e")
    } else {
        ("all good", "#d1fae5", "#065f46")
    };
    json!({
        "org": o.org,
        "name": o.name,
        "file": o.file,
        "status": status,
        "status_bg": bg,
        "status_fg": fg,
        "error": o.error,
        "changed": o.count(Category::Changed),
        "missing": o.count(Category::Missing),
        "unmanaged": o.count(Category::Unmanaged),
        "unhealthy": o.count(Category::Unhealthy),
        "new": o.findings.iter().filter(|f| f.seen == Seen::New).count(),
        "finding_count": o.findings.len(),
        "resolved_count": o.resolved.len(),
        "accepted_count": o.accepted.len(),
        "findings": o.findings.iter().map(finding_view).collect::<Vec<_>>(),
        "accepted": o.accepted.iter().map(|a| json!({
            "finding": finding_view(&a.finding),
            "reason": a.reason,
            "until": a.until,
            "line": a.line,
        })).collect::<Vec<_>>(),
        "resolved": o.resolved.iter().map(|r| json!({
            "title": r.title,
            "first_seen_date": date(&r.first_seen),
        })).collect::<Vec<_>>(),
        "upcoming": o.upcoming,
        "upcoming_days": super::UPCOMING_DAYS,
        "standard": o.standard.as_ref().map(|st| json!({
            "tier": st.tier,
            "score": format!("{} of {}", st.meets, st.applies),
            "items": st.items.iter().filter(|l| whole_row || l.status != Status::Meets).map(|l| {
                // Shorter words than the view's, for an e-mail's lines.
                let label = match l.status {
                    Status::Meets => "meets",
                    Status::Fails => "does not meet",
                    Status::Exception => "agreed exception",
                    Status::Unknown | Status::NotApplicable => "could not be checked",
                };
                json!({
                    "title": l.title, "label": label, "color": crate::baseline::report::mark(l.status).2,
                    "detail": l.detail, "exception": l.exception, "was": l.was.map(Status::label),
                })
            }).collect::<Vec<_>>(),
        })),
    })
}

/// The pool's standard across the report's orgs: "7 of 9 met (77%); not met: ...".
fn standard_line(report: &Report) -> Option<String> {
    let parts: Vec<(&OrgReport, &super::StandardPart)> = report
        .orgs
        .iter()
        .filter_map(|o| o.standard.as_ref().map(|s| (o, s)))
        .collect();
    if parts.is_empty() {
        return None;
    }
    let meets: usize = parts.iter().map(|(_, s)| s.meets).sum();
    let applies: usize = parts.iter().map(|(_, s)| s.applies).sum();
    let not_met: Vec<String> = parts
        .iter()
        .flat_map(|(o, s)| {
            s.items
                .iter()
                .filter(|l| l.status == Status::Fails)
                .map(move |l| format!("{} ({})", l.title, o.name))
        })
        .collect();
    let mut line = crate::baseline::report::score(&crate::baseline::report::Totals {
        meets,
        applies,
        ..Default::default()
    });
    if !not_met.is_empty() {
        let shown: Vec<&str> = not_met.iter().take(5).map(String::as_str).collect();
        line.push_str(&format!("; not met: {}", shown.join("; ")));
        if not_met.len() > 5 {
            line.push_str(&format!(" and {} more", not_met.len() - 5));
        }
    }
    Some(line + ".")
}

/// What the templates see.
fn view(report: &Report) -> Value {
    // An org's own part shows its whole row of the standard; the team's, what is not met.
    let whole_row = report.orgs.len() == 1;
    let orgs: Vec<Value> = report.orgs.iter().map(|o| org_view(o, whole_row)).collect();
    // Sections for orgs with something to say, those needing attention first.
    let mut attention: Vec<&OrgReport> = report
        .orgs
        .iter()
        .filter(|o| {
            o.needs_attention()
                || !o.resolved.is_empty()
                || !o.accepted.is_empty()
                || !o.upcoming.is_empty()
                || o.standard.as_ref().is_some_and(|st| {
                    report.orgs.len() == 1 || st.items.iter().any(|l| l.status != Status::Meets)
                })
        })
        .collect();
    attention.sort_by_key(|o| !o.needs_attention());
    json!({
        "pool": report.pool,
        "date": date(&report.created_at),
        "subject": subject(report),
        "headline": headline(report),
        "totals": totals(report),
        "footer": format!(
            "Checked read-only by Steward {} at {}; nothing was changed. \
             Findings marked new were not there at the last report.",
            report.steward_version, report.created_at
        ),
        "orgs": orgs,
        "standard": standard_line(report),
        "attention": attention.into_iter().map(|o| org_view(o, whole_row)).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_helpers_neutralise_markup() {
        assert_eq!(md_text("a *b* <i>|"), "a \\*b\\* \\<i\\>\\|");
    }
}
