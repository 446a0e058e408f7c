//! The standard's measures of an org's Google accounts, from fields the users list of
//! every refresh asks for anyway (`isAdmin`, `isEnrolledIn2Sv`, `lastLoginTime`,
//! `creationTime`): a compliance view makes no request a plan does not.

use serde_json::{Map, Value};

use super::UserItem;
use crate::org::Org;
use crate::providers::{MeasureSpec, Measured};

pub static MEASURES: [MeasureSpec; 3] = [
    MeasureSpec {
        name: "two_step",
        what: "every active account in the org's domains uses 2-step verification",
        params: &[],
    },
    MeasureSpec {
        name: "super_admins",
        what: "at most `at_most` active super administrators",
        params: &[("at_most", true)],
    },
    MeasureSpec {
        name: "unused_accounts",
        what: "no active account unused for `days` days (default 90): not signed in since, nor made since",
        params: &[("days", false)],
    },
];

/// Names shown in a measure's detail before "and N more".
const SHOWN: usize = 5;

/// One active or suspended account of the org's domains, as measures need it.
#[derive(Debug, Clone)]
struct Person {
    email: String,
    suspended: bool,
    admin: bool,
    two_step: bool,
    /// Seconds since 1970 of the last sign-in and of the account's making; `None` for
    /// never (Google says 1970-01-01) or unknown.
    last_login: Option<i64>,
    created: Option<i64>,
}

/// The org's people as the last refresh saw them.
#[derive(Debug, Clone, Default)]
pub struct People(Vec<Person>);

fn seconds(text: &str) -> Option<i64> {
    let t: jiff::Timestamp = text.parse().ok()?;
    Some(t.as_second()).filter(|s| *s > 0)
}

impl People {
    pub(super) fn of(users: &[UserItem], domains: &[String]) -> People {
        let ours = |email: &str| {
            email
                .rsplit_once('@')
                .is_some_and(|(_, d)| domains.iter().any(|x| x.eq_ignore_ascii_case(d)))
        };
        People(
            users
                .iter()
                .filter(|u| ours(&u.primary_email))
                .map(|u| Person {
                    email: u.primary_email.to_ascii_lowercase(),
                    suspended: u.suspended,
                    admin: u.is_admin,
                    two_step: u.enrolled_2sv,
                    last_login: seconds(&u.last_login_time),
                    created: seconds(&u.creation_time),
                })
                .collect(),
        )
    }
}

/// "a@x, b@x and 3 more".
fn some_of(names: &[&str]) -> String {
    let mut shown = names
        .iter()
        .take(SHOWN)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        shown.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    shown
}

pub fn take(
    people: &People,
    org: &Org,
    measure: &str,
    params: &Map<String, Value>,
) -> Option<Measured> {
    let active: Vec<&Person> = people.0.iter().filter(|p| !p.suspended).collect();
    let names = |f: &dyn Fn(&Person) -> bool| -> Vec<&str> {
        let mut v: Vec<&str> = active
            .iter()
            .filter(|p| f(p))
            .map(|p| p.email.as_str())
            .collect();
        v.sort_unstable();
        v
    };
    Some(match measure {
        "two_step" => {
            let without = names(&|p| !p.two_step);
            Measured {
                meets: without.is_empty(),
                detail: if without.is_empty() {
                    format!(
                        "all {} active account(s) use 2-step verification",
                        active.len()
                    )
                } else {
                    format!(
                        "{} of {} active account(s) without 2-step verification: {}",
                        without.len(),
                        active.len(),
                        some_of(&without)
                    )
                },
            }
        }
        "super_admins" => {
            let most = params.get("at_most").and_then(Value::as_u64).unwrap_or(0) as usize;
            let admins = names(&|p| p.admin);
            Measured {
                meets: admins.len() <= most,
                detail: format!(
                    "{} active super administrator(s) (at most {most}): {}",
                    admins.len(),
                    if admins.is_empty() {
                        "none".to_string()
                    } else {
                        some_of(&admins)
                    }
                ),
            }
        }
        "unused_accounts" => {
            let days = params.get("days").and_then(Value::as_i64).unwrap_or(90);
            let today = crate::util::parse_date(&org.today).unwrap_or_else(crate::util::today);
            // Used on or after this moment counts as used.
            let since = (today - days) * 86_400;
            let unused = names(&|p| p.last_login.max(p.created).is_none_or(|t| t < since));
            Measured {
                meets: unused.is_empty(),
                detail: if unused.is_empty() {
                    format!("every active account was used in the last {days} days")
                } else {
                    format!(
                        "{} active account(s) unused for {days} days or more: {}",
                        unused.len(),
                        some_of(&unused)
                    )
                },
            }
        }
        _ => return None,
    })
}
