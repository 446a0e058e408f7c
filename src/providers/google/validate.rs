//! What Google would refuse at apply time, found by `validate` at the line that says it:
//! names, initial passwords, usernames, an address used twice, group cycles.

use std::collections::HashMap;

use petgraph::graph::NodeIndex;

use super::kinds::{G, GROUP, MEMBER};
use crate::diag::{Problem, Problems};
use crate::graph::{DepGraph, EdgeSet, find_cycle};
use crate::org::Org;
use crate::resource::Resource;
use crate::secrets::Secrets;

/// Google's limit on each part of a person's name.
pub const NAME_PART_MAX: usize = 60;
/// Google's bounds on a password, in characters.
pub const PASSWORD_LEN: std::ops::RangeInclusive<usize> = 8..=100;

pub fn check(org: &Org, secrets: &Secrets) -> Problems {
    let mut problems = Problems::default();
    check_transfer_to(org, &mut problems);
    check_aliases(org, &mut problems);
    let at = |path: &str| org.span_of(path);
    let mut addresses: HashMap<&str, &Resource> = HashMap::new();
    for r in &org.resources {
        match G::of(r.address.kind) {
            Some(G::User) => {
                check_names(org, r, &mut problems);
                check_dates(org, r, &mut problems);
                if let Some(name) = r.secrets.get("password")
                    && let Ok(pw) = secrets.resolve(name)
                {
                    let n = pw.expose().chars().count();
                    if !PASSWORD_LEN.contains(&n) {
                        problems.push(
                            Problem::at(
                                "password_length",
                                &org.file,
                                at(&format!("{}.password", r.source)),
                                format!(
                                    "secret `{name}` has {n} characters; Google takes initial passwords of 8 to 100"
                                ),
                                "this initial password",
                            )
                            .with_help("change the secret's value, or leave `password` out to have one generated"),
                        );
                    }
                }
            }
            Some(G::Group) => {}
            _ => continue,
        }
        check_local_part(org, r, &mut problems);
        if let Some(first) = addresses.insert(&r.address.id, r)
            && first.address.kind != r.address.kind
        {
            problems.push(
                Problem::at(
                    "address_twice",
                    &org.file,
                    at(&format!("{}.email", r.source)),
                    format!(
                        "{} is declared as a {} and as a {}",
                        r.address.id,
                        first.address.kind.noun(),
                        r.address.kind.noun()
                    ),
                    "declared again here",
                )
                .with_label(at(&format!("{}.email", first.source)), "first here")
                .with_help("Google users and groups share one address space: give one of them another address"),
            );
        }
    }
    check_group_cycles(org, &mut problems);
    problems
}

/// What Google takes in a name part (the discovery document's list, and apostrophes).
fn name_char(c: char) -> bool {
    c.is_alphanumeric() || " -/.'".contains(c)
}

/// Who gets a leaver's files must be someone who is there to get them: an active user
/// of the org file, on the plan's day.
fn check_transfer_to(org: &Org, problems: &mut Problems) {
    let mut wanted: Vec<(String, String)> = Vec::new();
    for m in &org.modules {
        if let Some(to) = org
            .setting(m, "offboarding")
            .and_then(|o| o.get("transfer_to"))
            .and_then(|v| v.as_str())
        {
            wanted.push((
                to.to_string(),
                format!("modules.{m}.offboarding.transfer_to"),
            ));
        }
    }
    for r in org
        .resources
        .iter()
        .filter(|r| G::of(r.address.kind) == Some(G::User))
    {
        if let Some(to) = r
            .attrs
            .get("offboarding")
            .and_then(|o| o.get("transfer_to"))
            .and_then(|v| v.as_str())
        {
            wanted.push((
                to.to_string(),
                format!("{}.offboarding.transfer_to", r.source),
            ));
        }
    }
    for (to, path) in wanted {
        let person = org.resource(&G::User.at(to.to_ascii_lowercase()));
        let why = match person {
            None => Some("is not a user in this org file".to_string()),
            Some(p) => match super::people::life(&p.attrs, &org.today) {
                super::people::Life::Active => None,
                super::people::Life::Starting(d) => {
                    Some(format!("has not started yet (starts on {d})"))
                }
                super::people::Life::Departed(d) => Some(format!("has left ({d})")),
            },
        };
        if let Some(why) = why {
            problems.push(
                Problem::at(
                    "transfer_to",
                    &org.file,
                    org.span_of(&path),
                    format!("`transfer_to` {to} {why}"),
                    "cannot receive a leaver's files",
                )
                .with_help(
                    "name an active user of this org (a manager, or whoever takes over the work)",
                ),
            );
        }
    }
}

/// Every address in one org file once: an alias that is another user's or group's
/// address, or another one's alias too, is refused at its line.
fn check_aliases(org: &Org, problems: &mut Problems) {
    // Addresses are looked up in the org's index; only aliases are collected.
    let mut seen: HashMap<String, &Resource> = HashMap::new();
    let with_aliases = org.resources.iter().filter(|r| {
        matches!(G::of(r.address.kind), Some(G::User | G::Group)) && r.attrs.contains_key("aliases")
    });
    for r in with_aliases {
        let aliases = r.attrs.get("aliases").and_then(|v| v.as_array());
        for (i, alias) in aliases.into_iter().flatten().enumerate() {
            let Some(a) = alias.as_str().map(str::to_ascii_lowercase) else {
                continue;
            };
            let of = |h: &Resource| format!("{} {}", h.address.kind.noun(), h.address.id);
            let holder = [G::User, G::Group]
                .into_iter()
                .find_map(|g| org.resource(&g.at(a.as_str())))
                .map(|h| format!("the address of {}", of(h)))
                .or_else(|| seen.get(&a).map(|h| format!("an alias of {}", of(h))));
            match holder {
                Some(holder) => problems.push(
                    Problem::at(
                        "address_twice",
                        &org.file,
                        org.span_of(&format!("{}.aliases.{i}", r.source)),
                        format!("alias {a} of {} is {holder}", r.address.id),
                        "this address is taken in this file",
                    )
                    .with_help(
                        "an address belongs to one user or group: remove it from one of them",
                    ),
                ),
                None => {
                    seen.insert(a, r);
                }
            }
        }
    }
}

/// A person's dates in order, and a departure with a day.
fn check_dates(org: &Org, r: &Resource, problems: &mut Problems) {
    let day = |k: &str| super::people::day(&r.attrs, k);
    if let (Some(start), Some(until)) = (day("start"), day("until"))
        && until < start
    {
        problems.push(Problem::at(
            "dates",
            &org.file,
            org.span_of(&format!("{}.until", r.source)),
            format!(
                "`until` {} is before `start` {}",
                r.attrs.str("until"),
                r.attrs.str("start")
            ),
            "the last day comes before the first",
        ));
    }
    if r.attrs.str("status") == "departed" && day("departed").is_none() && day("until").is_none() {
        problems.push(
            Problem::at(
                "dates",
                &org.file,
                org.span_of(&format!("{}.status", r.source)),
                format!("{} is departed, but since when is not said", r.address.id),
                "departed when?",
            )
            .with_help(
                "add `departed: YYYY-MM-DD` (the day they left): offboarding counts from it",
            ),
        );
    }
}

fn check_names(org: &Org, r: &Resource, problems: &mut Problems) {
    let name = r.attrs.str("name");
    let given = r.attrs.str("given_name");
    let family = r.attrs.str("family_name");
    let explicit = r.attrs.contains_key("given_name") || r.attrs.contains_key("family_name");
    let path = |field: &str| {
        let p = format!("{}.{field}", r.source);
        if org.root.at_path(&p).is_some() {
            p
        } else {
            r.source.clone()
        }
    };
    let mut bad = |field: &str, message: String, label: &str, help: &str| {
        problems.push(
            Problem::at(
                "bad_name",
                &org.file,
                org.span_of(&path(field)),
                message,
                label,
            )
            .with_help(help.to_string()),
        );
    };
    if explicit {
        for (field, value) in [("given_name", given), ("family_name", family)] {
            if value.trim().is_empty() {
                bad(
                    field,
                    format!(
                        "{} needs `{field}` too (Google requires both parts)",
                        r.address.id
                    ),
                    "missing or blank",
                    "give both `given_name` and `family_name`",
                );
            } else if let Some(c) = value.chars().find(|c| !name_char(*c)) {
                bad(
                    field,
                    format!("`{field}` has `{c}`, which Google does not take in a name"),
                    "character not allowed",
                    "names may have letters, digits, spaces, dashes, slashes, periods and apostrophes",
                );
            } else if value.chars().count() > NAME_PART_MAX {
                bad(
                    field,
                    format!(
                        "`{field}` has {} characters; Google takes at most {NAME_PART_MAX}",
                        value.chars().count()
                    ),
                    "too long",
                    "shorten it",
                );
            }
        }
        if !name.is_empty() {
            let joined = format!("{} {}", given.trim(), family.trim());
            let normal: Vec<&str> = name.split_whitespace().collect();
            if normal.join(" ") != joined {
                bad(
                    "name",
                    format!(
                        "`name` is \"{name}\" but Google derives the full name from the parts: \"{joined}\""
                    ),
                    "does not match the parts",
                    "leave `name` out, or make it the given and family names with a space",
                );
            }
        }
        return;
    }
    if name.trim().is_empty() {
        bad(
            "name",
            format!("{} has no name", r.address.id),
            "empty",
            "give `name` (e.g. Dana Whitfield), or `given_name` and `family_name`",
        );
        return;
    }
    let (first, rest) = super::name_parts(&r.attrs);
    if rest.is_empty() {
        bad(
            "name",
            format!("`{name}` is one word; Google needs a given and a family name"),
            "one word",
            "write `given_name:` and `family_name:` instead of `name:` (e.g. given_name: Cher, family_name: Sarkisian)",
        );
        return;
    }
    for (part, value) in [("given", &first), ("family", &rest)] {
        if let Some(c) = value.chars().find(|c| !name_char(*c)) {
            bad(
                "name",
                format!("`{name}` has `{c}`, which Google does not take in a name"),
                "character not allowed",
                "names may have letters, digits, spaces, dashes, slashes, periods and apostrophes",
            );
        } else if value.chars().count() > NAME_PART_MAX {
            bad(
                "name",
                format!(
                    "the {part} name in `{name}` has {} characters; Google takes at most {NAME_PART_MAX}",
                    value.chars().count()
                ),
                "too long",
                "shorten it, or give `given_name` and `family_name`",
            );
        }
    }
}

/// Google's usernames: letters, digits, `-`, `_`, `'` and `.`, at most 64, no `.` at
/// either end and never two in a row.
fn check_local_part(org: &Org, r: &Resource, problems: &mut Problems) {
    let email = r.attrs.str("email");
    let Some((local, _)) = email.rsplit_once('@') else {
        return; // the schema reported it
    };
    let ok_chars = local
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_'.".contains(c));
    let why = if local.is_empty() || local.len() > 64 {
        Some("a username is 1 to 64 characters")
    } else if !ok_chars {
        Some(
            "a username has only letters, digits, dashes (-), underscores (_), apostrophes (') and periods (.)",
        )
    } else if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        Some("a username cannot start or end with a period, or have two in a row")
    } else {
        None
    };
    if let Some(why) = why {
        problems.push(
            Problem::at(
                "bad_username",
                &org.file,
                org.span_of(&format!("{}.email", r.source)),
                format!("Google would refuse `{email}`: {why}"),
                "this address",
            )
            .with_help("choose an address Google accepts"),
        );
    }
}

/// Google answers a membership that makes a group contain itself with 412.
fn check_group_cycles(org: &Org, problems: &mut Problems) {
    let mut graph: DepGraph<&str> = DepGraph::new();
    let mut groups: HashMap<&str, NodeIndex> = HashMap::new();
    for r in &org.resources {
        if r.address.kind == GROUP {
            groups.insert(&r.address.id, graph.add_node(&r.address.id));
        }
    }
    // group -> member group, and the membership that says so
    let mut edges = EdgeSet::default();
    let mut via: HashMap<(NodeIndex, NodeIndex), &Resource> = HashMap::new();
    for r in &org.resources {
        if r.address.kind != MEMBER {
            continue;
        }
        let Some((group, member)) = r.address.id.split_once('/') else {
            continue;
        };
        if let (Some(&g), Some(&m)) = (groups.get(group), groups.get(member)) {
            edges.add(&mut graph, g, m);
            via.entry((g, m)).or_insert(r);
        }
    }
    let Some(mut cycle) = find_cycle(&graph) else {
        return;
    };
    // From the first name, so the message reads the same on every run.
    if let Some(start) = (0..cycle.len()).min_by_key(|i| graph[cycle[*i]]) {
        cycle.rotate_left(start);
    }
    let names: Vec<&str> = cycle.iter().map(|n| graph[*n]).collect();
    let (Some(&first), Some(&last)) = (cycle.first(), cycle.last()) else {
        return;
    };
    let Some(closing) = via.get(&(last, first)) else {
        return;
    };
    problems.push(
        Problem::at(
            "group_cycle",
            &org.file,
            org.span_of(&closing.source),
            format!("group membership cycle: {} → {}", names.join(" → "), names[0]),
            "closes the cycle",
        )
        .with_help("Google refuses a group that contains itself (412 conditionNotMet): remove one of these memberships"),
    );
}
