//! The plan as Markdown for a pull-request comment or a CI job summary
//! (`$GITHUB_STEP_SUMMARY`): a table of counts, warnings up front, then one collapsible
//! section per org with its destructive changes first.
//!
//! Everything taken from org files or live systems goes into code spans, fenced blocks
//! or escaped HTML, so no value can change the page's structure.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::{Change, DELETED_NOTE, OrgPlan, Plan, Summary};
use crate::resource::Kind;

/// Change lines shown per org before the rest is summarised: a review is not helped by
/// thousands of lines.
const MAX_LINES_PER_ORG: usize = 200;
/// Org sections stop once the page would pass this size, so that it fits a GitHub
/// comment (65,536 characters); the orgs left out are still named with their counts.
const MAX_CHARS: usize = 60_000;
/// Names listed in the "no changes" line before the rest is counted.
const MAX_QUIET_NAMES: usize = 50;

/// `s` as an inline code span that no backtick inside it can end early.
pub fn code(s: &str) -> String {
    let fence = "`".repeat(longest_backtick_run(s) + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{s}{pad}{fence}")
}

fn longest_backtick_run(s: &str) -> usize {
    s.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

fn html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn counts(s: &Summary) -> String {
    s.counts()
}

fn destructive_count(o: &OrgPlan) -> usize {
    o.changes.iter().filter(|c| c.is_destructive()).count()
}

/// One change as lines of a `diff` block: `+`/`-` lines are coloured by renderers.
fn change_lines(c: &Change, out: &mut Vec<String>) {
    let mut head = format!("{} {}", c.action.symbol(), c.address);
    if let Some(r) = &c.reason {
        let _ = write!(head, "  ({r})");
    }
    if let Some(s) = &c.source {
        let _ = write!(head, "  # {}:{}", s.file, s.line);
    }
    out.push(head);
    let width = c.fields.iter().map(|f| f.name.len()).max().unwrap_or(0);
    for f in &c.fields {
        match &f.diff {
            // The file's own diff lines keep their +/- in the first column, so the
            // page colours them too.
            Some(diff) => {
                out.push(format!("      {}:", f.name));
                for l in diff.lines() {
                    let (op, rest) = l.split_at(l.len().min(1));
                    out.push(format!("{op}         {rest}"));
                }
            }
            None => out.push(format!("      {:width$} = {}", f.name, f.shown(c.action))),
        }
    }
}

/// A fenced block holding `lines`, fenced longer than any backtick run inside.
fn fenced(lang: &str, lines: &[String]) -> String {
    let longest = lines
        .iter()
        .map(|l| longest_backtick_run(l))
        .max()
        .unwrap_or(0);
    let fence = "`".repeat((longest + 1).max(3));
    format!("{fence}{lang}\n{}\n{fence}\n", lines.join("\n"))
}

fn org_section(o: &OrgPlan, out: &mut String) {
    if let Some(e) = &o.error {
        let _ = writeln!(
            out,
            "<details open><summary>❌ <b>{}</b>: could not be planned</summary>\n",
            html(&o.org)
        );
        out.push_str(&fenced("text", std::slice::from_ref(e)));
        out.push_str("\n</details>\n\n");
        return;
    }
    for h in &o.host_errors {
        let _ = writeln!(
            out,
            "❌ host {}: could not be reached or read; nothing is planned for it\n",
            code(&h.host)
        );
        out.push_str(&fenced("text", std::slice::from_ref(&h.error)));
        out.push('\n');
    }
    for c in &o.conflicts {
        let _ = writeln!(
            out,
            "❌ conflict {}: {}\n",
            code(&c.address.to_string()),
            html(&c.message)
        );
    }
    for u in &o.unhealthy {
        let _ = writeln!(
            out,
            "🩺 unhealthy {}: {}\n",
            code(&u.address.to_string()),
            html(&u.message)
        );
    }
    let destructive = destructive_count(o);
    let mut summary = format!("<b>{}</b>: {}", html(&o.org), counts(&o.summary));
    if destructive > 0 {
        let _ = write!(summary, " (⚠️ {destructive} destructive)");
    }
    let open = if destructive > 0 { " open" } else { "" };
    let _ = writeln!(out, "<details{open}><summary>{summary}</summary>\n");
    let _ = writeln!(out, "From {}.\n", code(&o.file));

    // Destructive first; otherwise the plan's own order (module, kind, id).
    let mut ordered: Vec<&Change> = o.changes.iter().collect();
    ordered.sort_by_key(|c| !c.is_destructive());
    let mut lines = Vec::new();
    for c in ordered {
        change_lines(c, &mut lines);
    }
    if lines.len() > MAX_LINES_PER_ORG {
        let rest = lines.len() - MAX_LINES_PER_ORG;
        lines.truncate(MAX_LINES_PER_ORG);
        lines.push(format!(
            "… {rest} more line(s): see the full plan in the job log or `steward plan --json`"
        ));
    }
    if !lines.is_empty() {
        out.push_str(&fenced("diff", &lines));
        out.push('\n');
    }
    if !o.unmanaged.is_empty() {
        let mut by_kind: BTreeMap<Kind, Vec<String>> = BTreeMap::new();
        for a in &o.unmanaged {
            by_kind.entry(a.kind).or_default().push(code(&a.id));
        }
        out.push_str("Unmanaged (live, in no org file; left alone):\n");
        for (kind, ids) in by_kind {
            let _ = writeln!(out, "- {kind}: {}", ids.join(", "));
        }
        out.push('\n');
    }
    out.push_str("</details>\n\n");
}

/// The plan as GitHub-flavoured Markdown.
pub fn render_markdown(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## Steward plan: {}\n", counts(&plan.summary));

    let failed: Vec<&OrgPlan> = plan.orgs.iter().filter(|o| o.error.is_some()).collect();
    let mut changed: Vec<&OrgPlan> = plan
        .orgs
        .iter()
        .filter(|o| o.error.is_none() && !o.changes.is_empty())
        .collect();
    // Orgs with destructive changes first, then by name (the plan's order).
    changed.sort_by_key(|o| destructive_count(o) == 0);
    let quiet: Vec<&OrgPlan> = plan
        .orgs
        .iter()
        .filter(|o| o.error.is_none() && o.changes.is_empty())
        .collect();

    for d in &plan.deleted_orgs {
        let _ = writeln!(
            out,
            "> [!WARNING]\n> **Org file deleted:** {} ({}): {DELETED_NOTE}\n",
            code(&d.file),
            code(&d.org)
        );
    }
    let destructive: usize = changed.iter().map(|o| destructive_count(o)).sum();
    if destructive > 0 {
        let _ = writeln!(
            out,
            "> [!CAUTION]\n> **{destructive} destructive change(s)** (removals, leavers suspended): \
             shown first below.\n"
        );
    }
    if !failed.is_empty() {
        let _ = writeln!(
            out,
            "> [!IMPORTANT]\n> **{} org(s) could not be planned**; their sections say why.\n",
            failed.len()
        );
    }

    if !failed.is_empty() || !changed.is_empty() {
        out.push_str("| Org | Add | Change | Remove | |\n|:--|--:|--:|--:|:--|\n");
        for o in &failed {
            let _ = writeln!(out, "| {} | | | | ❌ could not be planned |", code(&o.org));
        }
        for o in &changed {
            let d = destructive_count(o);
            let note = if d > 0 {
                format!("⚠️ {d} destructive")
            } else {
                String::new()
            };
            let s = &o.summary;
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {note} |",
                code(&o.org),
                s.add,
                s.change + s.adopt,
                s.remove
            );
        }
        out.push('\n');
    }
    if !quiet.is_empty() {
        let names: Vec<String> = quiet
            .iter()
            .take(MAX_QUIET_NAMES)
            .map(|o| code(&o.org))
            .collect();
        let more = quiet.len().saturating_sub(MAX_QUIET_NAMES);
        let _ = writeln!(
            out,
            "No changes in {} org(s): {}{}.\n",
            quiet.len(),
            names.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        );
    }
    if plan.orgs.is_empty() {
        out.push_str("No org was selected.\n\n");
    }
    // Sections go in while the page, plus the line naming the orgs not yet placed,
    // stays within MAX_CHARS.
    let detailed: Vec<&OrgPlan> = failed.iter().chain(changed.iter()).copied().collect();
    let mention = |o: &OrgPlan| format!("{} ({})", code(&o.org), counts(&o.summary));
    let mut rest_cost: usize = detailed.iter().map(|o| mention(o).len() + 2).sum();
    let mut left_out: Vec<&OrgPlan> = Vec::new();
    for o in detailed {
        rest_cost -= mention(o).len() + 2;
        let mut section = String::new();
        org_section(o, &mut section);
        let tail = if rest_cost > 0 { rest_cost + 200 } else { 0 };
        if left_out.is_empty() && out.len() + section.len() + tail <= MAX_CHARS {
            out.push_str(&section);
        } else {
            left_out.push(o);
        }
    }
    if !left_out.is_empty() {
        let names: Vec<String> = left_out.iter().map(|o| mention(o)).collect();
        let _ = writeln!(
            out,
            "**{} more org(s) not shown in detail** (the page is kept short enough for a \
             comment; the job log and `steward plan --json` have everything): {}.",
            left_out.len(),
            names.join(", ")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_spans_survive_backticks() {
        assert_eq!(code("a"), "`a`");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`x"), "`` `x ``");
        assert_eq!(fenced("", &["``` x".into()]), "````\n``` x\n````\n");
    }

    #[test]
    fn orgs_that_could_not_be_planned_come_first_and_say_why() {
        let org = |name: &str, error: Option<&str>| OrgPlan {
            org: name.into(),
            file: format!("orgs/{name}.yaml"),
            file_sha256: String::new(),
            live_sha256: String::new(),
            changes: vec![],
            unmanaged: vec![],
            host_errors: vec![],
            unhealthy: vec![],
            conflicts: vec![],
            summary: Summary::default(),
            error: error.map(str::to_string),
            measured: Default::default(),
        };
        let plan = Plan::new(vec![
            org("a", None),
            org("z", Some("token refused: 401 <html>")),
        ]);
        let md = render_markdown(&plan);
        let failed = md
            .find("❌ <b>z</b>: could not be planned")
            .expect("failed org");
        assert!(
            md.contains("```text\ntoken refused: 401 <html>\n```"),
            "{md}"
        );
        assert!(md.contains("> **1 org(s) could not be planned**"), "{md}");
        assert!(md.contains("No changes in 1 org(s): `a`."), "{md}");
        assert!(failed > md.find("No changes").expect("quiet line"), "{md}");
    }

    #[test]
    fn big_plans_stay_small_enough_for_a_comment_and_name_every_org() {
        use crate::plan::Action;
        use crate::resource::Address;
        let change = |i: usize| Change {
            address: Address {
                kind: Kind::named("google_user").expect("a kind"),
                id: format!("user{i}@example.org"),
            },
            module: "accounts".into(),
            action: Action::Create,
            fields: vec![],
            reason: None,
            source: None,
            depends_on: vec![],
            destructive: false,
            triggered_by: vec![],
        };
        let orgs: Vec<OrgPlan> = (0..200)
            .map(|o| {
                let changes: Vec<Change> = (0..300).map(change).collect();
                OrgPlan {
                    org: format!("org{o:03}"),
                    file: format!("orgs/org{o:03}.yaml"),
                    file_sha256: String::new(),
                    live_sha256: String::new(),
                    summary: Summary::of(&changes),
                    changes,
                    unmanaged: vec![],
                    host_errors: vec![],
                    unhealthy: vec![],
                    conflicts: vec![],
                    error: None,
                    measured: Default::default(),
                }
            })
            .collect();
        let md = render_markdown(&Plan::new(orgs));
        assert!(md.len() < 65_536, "{} characters", md.len());
        assert!(md.contains("… 100 more line(s)"), "per-org cap");
        assert!(md.contains("more org(s) not shown in detail"));
        for o in 0..200 {
            assert!(md.contains(&format!("`org{o:03}`")), "org{o:03} is named");
        }
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(html("<b>&\""), "&lt;b&gt;&amp;&quot;");
    }
}
