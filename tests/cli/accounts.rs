//! The accounts module's fuller vocabulary against the lab: aliases of users and
//! groups (added and removed one by one), suspended users, group owners and managers,
//! and members from outside the file.

use serde_json::{Value, json};

use crate::support::Env;

const CID: &str = "C0aliases1";

fn org(staff_aliases: &str) -> String {
    format!(
        "{}    groups:
      - {{email: staff@harbour.org, name: Staff, aliases: [team@harbour.org], owners: [kim@harbour.org], external_members: [{{email: auditor@example.net, role: MANAGER}}]}}
    users:
      - {{email: kim@harbour.org, name: Kim Lee, aliases: {staff_aliases}}}
      - {{email: old@harbour.org, name: Old Timer, suspended: true, groups: [staff]}}
    leavers: suspend
",
        crate::support::harbour(CID)
    )
}

fn user<'a>(tenant: &'a Value, email: &str) -> &'a Value {
    tenant["users"]
        .as_array()
        .and_then(|us| us.iter().find(|u| u["primaryEmail"] == email))
        .unwrap_or_else(|| panic!("no user {email}"))
}

fn members(tenant: &Value, group: &str) -> Vec<(String, String)> {
    let mut m: Vec<(String, String)> = tenant["members"][group]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            (
                m["email"].as_str().unwrap_or_default().to_string(),
                m["role"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    m.sort();
    m
}

#[test]
fn aliases_suspensions_roles_and_outside_members_are_applied_and_converge() {
    let mut env = Env::new();
    env.write(
        "orgs/harbour.yaml",
        &org("[kim.lee@harbour.org, K.Lee@Harbour.org]"),
    );
    env.start_lab(&[]);
    let apply = env.run(&["apply", "--yes"]);
    assert_eq!(apply.code, 0, "{apply:?}");
    let t = env.tenant(CID);
    assert_eq!(
        user(&t, "kim@harbour.org")["aliases"],
        json!(["k.lee@harbour.org", "kim.lee@harbour.org"])
    );
    assert_eq!(user(&t, "old@harbour.org")["suspended"], true);
    let group = t["groups"]
        .as_array()
        .and_then(|gs| gs.iter().find(|g| g["email"] == "staff@harbour.org"))
        .expect("group");
    assert_eq!(group["aliases"], json!(["team@harbour.org"]));
    assert_eq!(
        members(&t, "staff@harbour.org"),
        [
            ("auditor@example.net".to_string(), "MANAGER".to_string()),
            ("kim@harbour.org".into(), "OWNER".into()),
            ("old@harbour.org".into(), "MEMBER".into()),
        ]
    );
    let again = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{again:?}");

    // One alias taken away, another added: two calls, and the plan converges.
    env.write(
        "orgs/harbour.yaml",
        &org("[kim.lee@harbour.org, kl@harbour.org]"),
    );
    let plan = env.run(&["plan"]);
    assert!(
        plan.stdout.contains(
            "aliases = [\"k.lee@harbour.org\",\"kim.lee@harbour.org\"] -> [\"kim.lee@harbour.org\",\"kl@harbour.org\"]"
        ),
        "{plan:?}"
    );
    assert_eq!(env.run(&["apply", "--yes"]).code, 0);
    let t = env.tenant(CID);
    assert_eq!(
        user(&t, "kim@harbour.org")["aliases"],
        json!(["kim.lee@harbour.org", "kl@harbour.org"])
    );
    assert_eq!(env.run(&["plan", "--detailed-exitcode"]).code, 0);

    // An alias that is another object's address is a conflict, never taken from it.
    env.write("orgs/harbour.yaml", &org("[team@harbour.org]"));
    let plan = env.run(&["plan"]);
    assert_eq!(plan.code, 1, "{plan:?}");
    assert!(
        plan.all().contains(
            "alias team@harbour.org of kim@harbour.org is an alias of group staff@harbour.org"
        ),
        "{plan:?}"
    );
}

#[test]
fn an_alias_outside_the_orgs_domains_is_refused_at_its_line() {
    let env = Env::new();
    env.write("orgs/harbour.yaml", &org("[kim@elsewhere.org]"));
    env.write("secrets/harbour/google", "{}");
    let v = env.run(&["validate"]);
    assert_eq!(v.code, 1, "{v:?}");
    assert!(v.all().contains("kim@elsewhere.org"), "{v:?}");
    assert!(v.all().contains("orgs/harbour.yaml:13"), "{v:?}");
    assert!(v.all().contains("is outside the org's domains"), "{v:?}");
}

#[test]
fn an_alias_taken_in_the_same_file_is_refused_at_its_line() {
    let env = Env::new();
    env.write("secrets/harbour/google", "{}");
    for (aliases, why) in [
        (
            "[staff@harbour.org]",
            "alias staff@harbour.org of kim@harbour.org is the address of group staff@harbour.org",
        ),
        (
            "[Team@harbour.org]",
            "alias team@harbour.org of kim@harbour.org is an alias of group staff@harbour.org",
        ),
        (
            "[old@harbour.org]",
            "alias old@harbour.org of kim@harbour.org is the address of user old@harbour.org",
        ),
    ] {
        env.write("orgs/harbour.yaml", &org(aliases));
        let v = env.run(&["validate"]);
        assert_eq!(v.code, 1, "{v:?}");
        assert!(v.all().contains(why), "{why}\n{v:?}");
        assert!(v.all().contains("orgs/harbour.yaml:13"), "{v:?}");
    }
}
