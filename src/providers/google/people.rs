//! A person's life in an org, as of the day a plan is made for (`org.today`): not
//! started yet (the account made ahead, suspended), active, or gone (suspended, out of
//! every group the org manages, deleted after `offboarding.delete_after`). Each step is
//! a planned change with its reason; a departed person is never created.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::kinds::{G, MEMBER, USER};
use crate::org::Org;
use crate::plan::{Action, Change, source_of};
use crate::providers::LiveState;
use crate::resource::{Address, Attrs, Resource};
use crate::util::{date_text, parse_date, parse_duration};

/// A leaver's steps before their account is suspended, in order: (id, what it does).
pub const STEPS: [(&str, &str); 3] = [
    ("sign-out", "signed out of every session"),
    ("tokens", "apps' access revoked (OAuth tokens)"),
    ("app-passwords", "app passwords deleted"),
];

/// The attributes a file gives a user that are about their life in the org, not
/// Google's fields.
pub const LIFE_ATTRIBUTES: &[&str] = &[
    "status",
    "start",
    "until",
    "departed",
    "offboarding",
    "role",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Life {
    /// Starts on this day.
    Starting(String),
    Active,
    /// Left on this day.
    Departed(String),
}

/// A person's date attribute `k` (`start`, `until`, `departed`) as days since 1970.
pub fn day(a: &Attrs, k: &str) -> Option<i64> {
    a.get(k).and_then(Value::as_str).and_then(parse_date)
}

/// The day a person leaves: the one given, or the day after their last.
fn left_on(a: &Attrs) -> Option<i64> {
    day(a, "departed").or_else(|| day(a, "until").map(|u| u + 1))
}

/// Where a person is in their life in the org on `today`.
pub fn life(a: &Attrs, today: &str) -> Life {
    let Some(today) = parse_date(today) else {
        return Life::Active;
    };
    let left = left_on(a);
    let departed = a.str("status") == "departed";
    match (left, departed) {
        (Some(l), _) if today >= l => return Life::Departed(date_text(l)),
        (None, true) => return Life::Departed(String::new()),
        _ => {}
    }
    match day(a, "start") {
        Some(s) if today < s => Life::Starting(date_text(s)),
        _ => Life::Active,
    }
}

/// A person's offboarding setting `key`: their own, else the org's.
pub fn policy(org: &Org, r: &Resource, key: &str) -> Option<String> {
    r.attrs
        .get("offboarding")
        .and_then(|o| o.get(key))
        .or_else(|| org.setting(&r.module, "offboarding")?.get(key))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Days after leaving when the account is deleted.
fn delete_after(org: &Org, r: &Resource) -> Option<(i64, String)> {
    let text = policy(org, r, "delete_after")?;
    let secs = parse_duration(&text)?;
    Some(((secs / 86_400) as i64, text))
}

/// Turns the plan's changes of people into their life's steps.
pub fn review(org: &Org, live: &LiveState, changes: &mut Vec<Change>) {
    let today = org.today.as_str();
    let mut gone: BTreeSet<String> = BTreeSet::new();
    // Changes a departure replaces, and leavers still to take out of their groups
    // (with when they left): each settled in one pass below.
    let mut dropped: BTreeSet<Address> = BTreeSet::new();
    let mut leaving: BTreeMap<&str, (&Resource, String)> = BTreeMap::new();
    let mut extra: Vec<Change> = Vec::new();
    let users = org
        .resources
        .iter()
        .filter(|r| G::of(r.address.kind) == Some(G::User));
    for r in users {
        let id = &r.address.id;
        let exists = live.objects.contains_key(&r.address);
        match life(&r.attrs, today) {
            Life::Active => {
                if let Some(start) = r.attrs.get("start").and_then(Value::as_str)
                    && let Some(c) = user_change(changes, &r.address)
                    && c.fields.iter().any(|f| f.name == "suspended")
                {
                    c.reason = Some(format!("started on {start}"));
                }
            }
            Life::Starting(start) => {
                if let Some(c) = user_change(changes, &r.address) {
                    c.reason = Some(format!(
                        "starts on {start}: the account is made ahead, suspended until then"
                    ));
                }
            }
            Life::Departed(left) => {
                gone.insert(id.clone());
                let on = if left.is_empty() {
                    String::new()
                } else {
                    format!(" on {left}")
                };
                if !exists {
                    // Never made for someone who has left.
                    dropped.insert(r.address.clone());
                    continue;
                }
                let due = delete_after(org, r).filter(|(days, _)| {
                    parse_date(&left)
                        .zip(parse_date(today))
                        .is_some_and(|(l, t)| t >= l + days)
                });
                match due {
                    Some((_, after)) => {
                        dropped.insert(r.address.clone());
                        extra.push(step(
                            org,
                            r,
                            Action::Delete,
                            format!(
                                "left{on}; offboarding deletes the account {after} after: Google keeps a deleted user restorable for 20 days"
                            ),
                        ));
                    }
                    None => {
                        // The first time they are seen gone (still active): sign them
                        // out, revoke what they granted, then suspend, in that order.
                        let active = live
                            .objects
                            .get(&r.address)
                            .is_some_and(|o| o.attrs.get("suspended") != Some(&json!(true)));
                        let mut last: Option<Address> = None;
                        if active {
                            let transfer = policy(org, r, "transfer_to").map(|to| {
                                (
                                    "transfer",
                                    format!("Drive files and calendars handed to {to} (waits for the transfer to complete)"),
                                )
                            });
                            let steps = STEPS
                                .iter()
                                .map(|(s, w)| (*s, w.to_string()))
                                .chain(transfer);
                            for (step_id, what) in steps {
                                let mut c =
                                    step(org, r, Action::Update, format!("left{on}: {what}"));
                                c.address = G::Offboarding.at(format!("{id}/{step_id}"));
                                c.depends_on = last.iter().cloned().collect();
                                last = Some(c.address.clone());
                                extra.push(c);
                            }
                        }
                        if let Some(c) = user_change(changes, &r.address) {
                            c.reason = Some(format!("left{on}: suspended"));
                            c.destructive = true;
                            c.depends_on.extend(last);
                        }
                        leaving.insert(id.as_str(), (r, on));
                    }
                }
            }
        }
    }
    // Out of every group the org manages that they are still in: one pass over what is
    // live for all leavers.
    for (address, obj) in &live.objects {
        if address.kind != MEMBER || org.resource(address).is_none() {
            continue;
        }
        let email = obj.attrs.str("email").to_ascii_lowercase();
        if let Some((r, on)) = leaving.get(email.as_str()) {
            let mut c = step(
                org,
                r,
                Action::Delete,
                format!("left{on}: out of every group"),
            );
            c.address = address.clone();
            extra.push(c);
        }
    }
    // A departed person's memberships are never made again.
    let made_again = |c: &Change| {
        c.address.kind == MEMBER
            && c.action == Action::Create
            && c.address
                .id
                .split_once('/')
                .is_some_and(|(_, m)| gone.contains(m))
    };
    changes.retain(|c| !dropped.contains(&c.address) && !made_again(c));
    changes.extend(extra);
}

fn user_change<'a>(changes: &'a mut [Change], address: &Address) -> Option<&'a mut Change> {
    changes
        .iter_mut()
        .find(|c| c.address == *address && c.address.kind == USER)
}

fn step(org: &Org, r: &Resource, action: Action, reason: String) -> Change {
    Change {
        address: r.address.clone(),
        module: r.module.clone(),
        action,
        fields: vec![],
        reason: Some(reason),
        source: Some(source_of(org, &r.source)),
        depends_on: vec![],
        destructive: true,
        triggered_by: Vec::new(),
    }
}

/// Who starts and who leaves in the `days` after the org's day, for its contact.
pub fn upcoming(org: &Org, days: i64) -> Vec<crate::providers::Upcoming> {
    let Some(today) = parse_date(&org.today) else {
        return Vec::new();
    };
    let soon = |d: i64| d > today && d <= today + days;
    let mut out = Vec::new();
    for r in org
        .resources
        .iter()
        .filter(|r| G::of(r.address.kind) == Some(G::User))
    {
        let who = match r.attrs.get("name").and_then(Value::as_str) {
            Some(n) if !n.is_empty() => format!("{n} ({})", r.address.id),
            _ => r.address.id.clone(),
        };
        if let Some(s) = day(&r.attrs, "start").filter(|d| soon(*d)) {
            out.push(crate::providers::Upcoming {
                date: date_text(s),
                text: format!("{who} starts: the account opens that day"),
            });
        }
        let left = left_on(&r.attrs);
        if let Some(l) = left.filter(|d| soon(*d)) {
            let last = day(&r.attrs, "until")
                .map_or(String::new(), |u| format!(" (last day {})", date_text(u)));
            out.push(crate::providers::Upcoming {
                date: date_text(l),
                text: format!("{who} leaves{last}: the account is suspended that day"),
            });
        }
    }
    out.sort();
    out
}

/// Says, on each change a person's role makes (their org unit, the role's groups),
/// which role and where it is defined: `pool_line(module, role)` is the role's line in
/// steward.yaml when the pool defines it and the org does not.
pub fn cite_roles(
    org: &Org,
    changes: &mut [Change],
    pool_line: &dyn Fn(&str, &str) -> Option<usize>,
) {
    for r in org
        .resources
        .iter()
        .filter(|r| G::of(r.address.kind) == Some(G::User))
    {
        let Some(role) = r.attrs.get("role").and_then(Value::as_str) else {
            continue;
        };
        let own_ou = org
            .root
            .at_path(&format!("{}.org_unit", r.source))
            .is_some();
        let overridden = org
            .root
            .at_path(&format!("modules.{}.roles.{role}", r.module))
            .is_some();
        let whence = match (overridden, pool_line(&r.module, role)) {
            (false, Some(line)) => format!("role `{role}` (steward.yaml line {line})"),
            _ => format!("role `{role}` (this org's)"),
        };
        let role_source = format!("{}.role", r.source);
        for c in changes.iter_mut() {
            let from_role = match G::of(c.address.kind) {
                Some(G::User) => {
                    c.address == r.address
                        && !own_ou
                        && c.fields.iter().any(|f| f.name == "org_unit")
                }
                Some(G::Member) => c.source.as_ref().is_some_and(|s| s.path == role_source),
                _ => false,
            };
            if from_role {
                let what = if c.address.kind == MEMBER {
                    "its groups"
                } else {
                    "its org unit"
                };
                c.add_reason(&format!("{whence}: {what}"));
            }
        }
    }
}

/// The desired `suspended` of a person on `today`: suspended before they start and
/// after they leave.
pub fn suspended(a: &Attrs, today: &str) -> Value {
    let explicit = a.get("suspended") == Some(&json!(true));
    json!(explicit || life(a, today) != Life::Active)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&'static str, &str)]) -> Attrs {
        let mut a = Attrs::default();
        for (k, v) in pairs {
            a.insert(k, json!(v));
        }
        a
    }

    #[test]
    fn a_life_by_its_dates() {
        let a = attrs(&[("start", "2027-01-04"), ("until", "2027-06-30")]);
        assert_eq!(life(&a, "2027-01-03"), Life::Starting("2027-01-04".into()));
        assert_eq!(life(&a, "2027-01-04"), Life::Active);
        assert_eq!(life(&a, "2027-06-30"), Life::Active);
        assert_eq!(life(&a, "2027-07-01"), Life::Departed("2027-07-01".into()));
        let d = attrs(&[("status", "departed"), ("departed", "2027-03-01")]);
        assert_eq!(life(&d, "2027-02-28"), Life::Active);
        assert_eq!(life(&d, "2027-03-01"), Life::Departed("2027-03-01".into()));
    }
}
