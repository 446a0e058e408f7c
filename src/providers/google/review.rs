//! What only the Google provider knows about a plan: addresses another object holds
//! (conflicts, never writes), users that exist without Steward's marker (adopted, as a
//! change of their own), and suspensions Google made (never lifted by Steward).

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use super::kinds::{G, GROUP, MEMBER, USER};
use crate::org::Org;
use crate::plan::{Action, Change, Unhealthy, source_of};
use crate::providers::LiveState;
use crate::resource::{Address, Kind};

/// Conflicts (the plan fails, nothing is written for them) and unhealthy findings.
#[derive(Debug, Default)]
pub struct Review {
    pub conflicts: Vec<Unhealthy>,
    pub unhealthy: Vec<Unhealthy>,
}

/// Who holds an address in the live tenant.
struct Holder<'a> {
    kind: Kind,
    primary: &'a str,
    alias: bool,
}

fn describe(h: &Holder<'_>) -> String {
    let noun = h.kind.noun();
    if h.alias {
        format!("an alias of {noun} {}", h.primary)
    } else {
        format!("the address of {noun} {}", h.primary)
    }
}

/// Suspensions an administrator can lift; any other reason is Google's.
fn google_suspension(live: &crate::resource::Attrs) -> Option<&str> {
    if live.get("suspended") != Some(&Value::Bool(true)) {
        return None;
    }
    live.get("suspension_reason")
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty() && *r != "ADMIN")
}

/// Reviews the diff of an org against what Google holds: drops changes that would
/// write to somebody else's object, turns updates of unmarked users into adoptions,
/// and leaves Google's suspensions alone.
pub fn review(org: &Org, live: &LiveState, changes: &mut Vec<Change>) -> Review {
    let mut out = Review::default();
    let mut holders: HashMap<&str, Holder<'_>> = HashMap::new();
    for (address, obj) in &live.objects {
        if !matches!(G::of(address.kind), Some(G::User | G::Group)) {
            continue;
        }
        holders.insert(
            &address.id,
            Holder {
                kind: address.kind,
                primary: &address.id,
                alias: false,
            },
        );
        for a in obj
            .attrs
            .get("all_aliases")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            holders.entry(a).or_insert(Holder {
                kind: address.kind,
                primary: &address.id,
                alias: true,
            });
        }
    }

    let mut blocked: BTreeSet<Address> = BTreeSet::new();
    for r in &org.resources {
        // An alias the file gives must be free, or already this object's.
        let taken_alias = r
            .attrs
            .get("aliases")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_ascii_lowercase)
            .find_map(|a| {
                let h = holders.get(a.as_str())?;
                (!h.primary.eq_ignore_ascii_case(&r.address.id)).then(|| {
                    format!(
                        "alias {a} of {} is {}: Steward will not take it from that {}. Remove it there in the Admin console, or from the org file",
                        r.address.id,
                        describe(h),
                        h.kind.noun()
                    )
                })
            });
        let conflict = match G::of(r.address.kind) {
            Some(G::User | G::Group) => match holders.get(r.address.id.as_str()) {
                None => None,
                Some(h) if h.kind == r.address.kind && !h.alias => {
                    let other = live
                        .objects
                        .get(&r.address)
                        .and_then(|o| o.attrs.get("managed_by"))
                        .and_then(Value::as_str)
                        .filter(|o| *o != org.id);
                    other.map(|o| {
                            format!(
                                "{} is managed by org `{o}` (its marker is on the account): two org files declare it; remove it from one",
                                r.address.id
                            )
                        })
                }
                Some(h) => Some(format!(
                    "{} is {}: Steward will not create it or change that {}. Remove the alias in the Admin console, or choose another address",
                    r.address.id,
                    describe(h),
                    h.kind.noun()
                )),
            },
            Some(G::Member) => {
                let email = r.attrs.str("email").to_ascii_lowercase();
                holders.get(email.as_str()).filter(|h| h.alias).map(|h| {
                    format!(
                        "member {email} is {}: list its primary address {} instead",
                        describe(h),
                        h.primary
                    )
                })
            }
            _ => None,
        };
        // A taken alias is pointed at in the file's `aliases`.
        let found = match taken_alias {
            Some(message) => Some((message, format!("{}.aliases", r.source))),
            None => conflict.map(|message| (message, r.source.clone())),
        };
        if let Some((message, at)) = found {
            blocked.insert(r.address.clone());
            out.conflicts.push(Unhealthy {
                address: r.address.clone(),
                module: r.module.clone(),
                code: "address_taken".into(),
                message,
                source: Some(source_of(org, &at)),
            });
        }
    }

    changes.retain(|c| {
        if blocked.contains(&c.address) {
            return false;
        }
        // Memberships of a blocked user or group wait with it.
        if c.address.kind == MEMBER
            && let Some((group, member)) = c.address.id.split_once('/')
        {
            let hit = |kind: Kind, id: &str| {
                blocked.contains(&Address {
                    kind,
                    id: id.to_string(),
                })
            };
            if hit(GROUP, group) || hit(USER, member) || hit(GROUP, member) {
                return false;
            }
        }
        true
    });

    let mut emptied: BTreeSet<Address> = BTreeSet::new();
    for c in changes.iter_mut() {
        if c.address.kind != USER || c.action != Action::Update {
            continue;
        }
        let Some(r) = org.resource(&c.address) else {
            continue; // a leaver
        };
        let Some(obj) = live.objects.get(&c.address) else {
            continue;
        };
        if obj.attrs.get("managed_by").and_then(Value::as_str) != Some(org.id.as_str()) {
            c.action = Action::Adopt;
            c.reason = Some(
                "exists without Steward's marker: adopt it; its other external ids are kept".into(),
            );
            c.source = Some(source_of(org, &r.source));
        }
        if let Some(reason) = google_suspension(&obj.attrs) {
            c.fields.retain(|f| f.name != "suspended");
            if c.fields.is_empty() {
                emptied.insert(c.address.clone());
            }
            out.unhealthy.push(Unhealthy {
                address: c.address.clone(),
                module: c.module.clone(),
                code: "suspended_by_google".into(),
                message: format!(
                    "suspended by Google ({reason}); Steward will not unsuspend it. Review the account in the Admin console (Directory > Users > {}): Google lifts the suspension or says what it needs",
                    c.address.id
                ),
                source: Some(source_of(org, &r.source)),
            });
        }
    }
    // Only the updates emptied here go: others without fields (a restart) are changes.
    changes.retain(|c| !(c.action == Action::Update && emptied.contains(&c.address)));
    // People who have not started or have left: their steps, with why.
    super::people::review(org, live, changes);
    out
}
