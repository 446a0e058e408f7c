//! People's lives in an org, moved through time with `--as-of`: the pool's roles, a
//! volunteer made ahead and starting on the day, a role change that moves people, and
//! a person who leaves (suspended, out of every group, deleted after the offboarding
//! period, never made again).

use serde_json::Value;

use crate::support::Env;

const CID: &str = "C0people1";

const ROLES: &str = "timezone: Europe/London
modules:
  accounts:
    roles:
      staff: {description: Paid staff, org_unit: /Staff, groups: [staff]}
      volunteer: {org_unit: /Volunteers, groups: [volunteers]}
";

fn org() -> String {
    format!(
        "{}    org_units: [/Staff, /Volunteers]
    groups:
      - {{email: staff@harbour.org, name: Staff}}
      - {{email: volunteers@harbour.org, name: Volunteers}}
    offboarding: {{delete_after: 30d, transfer_to: kim@harbour.org}}
    users:
      - {{email: kim@harbour.org, name: Kim Lee, role: staff}}
      - {{email: val@harbour.org, name: Val Oakes, role: volunteer, start: 2027-01-04}}
      - {{email: sam@harbour.org, name: Sam Lowe, role: staff, until: 2027-02-14}}
",
        crate::support::harbour(CID)
    )
}

fn pool() -> Env {
    let mut env = Env::new();
    let pool = env.read("steward.yaml");
    env.write("steward.yaml", &format!("{pool}{ROLES}"));
    env.write("orgs/harbour.yaml", &org());
    env.start_lab(&[]);
    env
}

fn user(env: &Env, email: &str) -> Option<Value> {
    env.tenant(CID)["users"]
        .as_array()
        .and_then(|us| us.iter().find(|u| u["primaryEmail"] == email))
        .cloned()
}

fn groups_of(env: &Env, email: &str) -> Vec<String> {
    let t = env.tenant(CID);
    let mut out: Vec<String> = t["members"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, ms)| {
            ms.as_array()
                .is_some_and(|ms| ms.iter().any(|m| m["email"] == email))
        })
        .map(|(g, _)| g.clone())
        .collect();
    out.sort();
    out
}

fn at(env: &Env, day: &str, args: &[&str]) -> crate::support::Run {
    let mut all = vec!["--as-of", day];
    all.extend_from_slice(args);
    env.run(&all)
}

#[test]
fn a_volunteer_starts_a_role_moves_people_and_a_leaver_goes_step_by_step() {
    let env = pool();

    // New year's day: Val is made ahead, suspended until the 4th, in the role's place.
    let plan = at(&env, "2027-01-01", &["plan"]);
    assert!(
        plan.stdout
            .contains("starts on 2027-01-04: the account is made ahead, suspended until then"),
        "{plan:?}"
    );
    assert_eq!(at(&env, "2027-01-01", &["apply", "--yes"]).code, 0);
    let val = user(&env, "val@harbour.org").expect("val made ahead");
    assert_eq!(val["suspended"], true);
    assert_eq!(val["orgUnitPath"], "/Volunteers");
    assert_eq!(
        groups_of(&env, "val@harbour.org"),
        ["volunteers@harbour.org"]
    );
    assert_eq!(
        user(&env, "kim@harbour.org").expect("kim")["orgUnitPath"],
        "/Staff"
    );
    assert_eq!(groups_of(&env, "kim@harbour.org"), ["staff@harbour.org"]);
    assert_eq!(
        at(&env, "2027-01-03", &["plan", "--detailed-exitcode"]).code,
        0
    );

    // Monday the 4th: Val starts.
    let plan = at(&env, "2027-01-04", &["plan"]);
    assert!(plan.stdout.contains("started on 2027-01-04"), "{plan:?}");
    assert!(
        plan.stdout.contains("suspended = true -> false"),
        "{plan:?}"
    );
    assert_eq!(at(&env, "2027-01-04", &["apply", "--yes"]).code, 0);
    assert_eq!(
        user(&env, "val@harbour.org").expect("val")["suspended"],
        false
    );

    // The pool moves its volunteers: every org with one plans the move.
    let pool = env.read("steward.yaml").replace(
        "volunteer: {org_unit: /Volunteers, groups: [volunteers]}",
        "volunteer: {org_unit: /Staff, groups: [volunteers, staff]}",
    );
    env.write("steward.yaml", &pool);
    let plan = at(&env, "2027-01-10", &["plan"]);
    assert!(
        plan.stdout
            .contains("org_unit = \"/Volunteers\" -> \"/Staff\""),
        "{plan:?}"
    );
    let line = env
        .read("steward.yaml")
        .lines()
        .position(|l| l.contains("volunteer: {"))
        .expect("role line")
        + 1;
    assert!(
        plan.stdout.contains(&format!(
            "role `volunteer` (steward.yaml line {line}): its org unit"
        )),
        "{plan:?}"
    );
    assert!(
        plan.stdout.contains(&format!(
            "role `volunteer` (steward.yaml line {line}): its groups"
        )),
        "{plan:?}"
    );
    assert!(
        plan.stdout
            .contains("+ google_member[staff@harbour.org/val@harbour.org]"),
        "{plan:?}"
    );
    assert_eq!(at(&env, "2027-01-10", &["apply", "--yes"]).code, 0);
    assert_eq!(
        user(&env, "val@harbour.org").expect("val")["orgUnitPath"],
        "/Staff"
    );
    assert_eq!(
        groups_of(&env, "val@harbour.org"),
        ["staff@harbour.org", "volunteers@harbour.org"]
    );

    // Sam's last day is the 14th of February: on the 15th Sam has left.
    assert_eq!(
        at(&env, "2027-02-14", &["plan", "--detailed-exitcode"]).code,
        0
    );
    env.lab_post(
        "/_lab/seed",
        &serde_json::json!({"customer_id": CID,
            "tokens": [{"user": "sam@harbour.org", "clientId": "123.apps.googleusercontent.com", "displayText": "Rota app", "scopes": ["email"]},
                       {"user": "sam@harbour.org", "clientId": "456.apps.googleusercontent.com", "displayText": "Photo sync", "scopes": ["drive"]},
                       {"user": "kim@harbour.org", "clientId": "789.apps.googleusercontent.com", "displayText": "Kim's app", "scopes": ["email"]}],
            "asps": [{"user": "sam@harbour.org", "codeId": 7, "name": "Old phone mail"}]}),
    );
    let plan = at(&env, "2027-02-15", &["plan"]);
    assert!(
        plan.stdout.contains("left on 2027-02-15: suspended"),
        "{plan:?}"
    );
    for step in [
        "~ google_offboarding[sam@harbour.org/sign-out]",
        "left on 2027-02-15: signed out of every session",
        "~ google_offboarding[sam@harbour.org/tokens]",
        "~ google_offboarding[sam@harbour.org/app-passwords]",
        "~ google_offboarding[sam@harbour.org/transfer]",
        "Drive files and calendars handed to kim@harbour.org",
    ] {
        assert!(plan.stdout.contains(step), "{step}\n{plan:?}");
    }
    assert!(
        plan.stdout
            .contains("- google_member[staff@harbour.org/sam@harbour.org]"),
        "{plan:?}"
    );
    assert_eq!(at(&env, "2027-02-15", &["apply", "--yes"]).code, 0);
    assert_eq!(
        user(&env, "sam@harbour.org").expect("sam")["suspended"],
        true
    );
    assert!(groups_of(&env, "sam@harbour.org").is_empty());
    let t = env.tenant(CID);
    let transfers = t["transfers"].as_array().expect("transfers");
    assert_eq!(transfers.len(), 1, "{transfers:?}");
    assert_eq!(transfers[0]["overallTransferStatusCode"], "completed");
    let id_of = |email: &str| user(&env, email).expect("user")["id"].clone();
    assert_eq!(transfers[0]["oldOwnerUserId"], id_of("sam@harbour.org"));
    assert_eq!(transfers[0]["newOwnerUserId"], id_of("kim@harbour.org"));
    assert_eq!(t["sign_outs"]["sam@harbour.org"], 1, "{}", t["sign_outs"]);
    assert_eq!(
        t["tokens"]["sam@harbour.org"],
        serde_json::json!([]),
        "{}",
        t["tokens"]
    );
    assert_eq!(
        t["asps"]["sam@harbour.org"],
        serde_json::json!([]),
        "{}",
        t["asps"]
    );
    assert_eq!(
        t["tokens"]["kim@harbour.org"].as_array().map(Vec::len),
        Some(1),
        "only the leaver's"
    );
    assert_eq!(
        at(&env, "2027-03-16", &["plan", "--detailed-exitcode"]).code,
        0
    );

    // Thirty days on, the account is deleted, and never made again.
    let plan = at(&env, "2027-03-17", &["plan"]);
    assert!(
        plan.stdout.contains("- google_user[sam@harbour.org]"),
        "{plan:?}"
    );
    assert!(plan.stdout.contains("restorable for 20 days"), "{plan:?}");
    assert_eq!(at(&env, "2027-03-17", &["apply", "--yes"]).code, 0);
    assert!(user(&env, "sam@harbour.org").is_none());
    assert_eq!(
        at(&env, "2027-04-01", &["plan", "--detailed-exitcode"]).code,
        0
    );
}

#[test]
fn unknown_roles_and_dates_out_of_order_are_refused_at_their_line() {
    let env = Env::new();
    let pool = env.read("steward.yaml");
    env.write("steward.yaml", &format!("{pool}{ROLES}"));
    env.write("secrets/harbour/google", "{}");
    let file = org()
        .replace(
            "role: volunteer, start: 2027-01-04",
            "role: volunter, start: 2027-01-04",
        )
        .replace("until: 2027-02-14", "start: 2027-03-01, until: 2027-02-14");
    env.write("orgs/harbour.yaml", &file);
    let v = env.run(&["validate"]);
    assert_eq!(v.code, 1, "{v:?}");
    let all = v.all();
    assert!(all.contains("unknown role `volunter`"), "{v:?}");
    assert!(all.contains("did you mean `volunteer`?"), "{v:?}");
    assert!(all.contains("orgs/harbour.yaml:17"), "{v:?}");

    let file = org().replace("until: 2027-02-14", "start: 2027-03-01, until: 2027-02-14");
    env.write("orgs/harbour.yaml", &file);
    let v = env.run(&["validate"]);
    assert_eq!(v.code, 1, "{v:?}");
    assert!(
        v.all()
            .contains("`until` 2027-02-14 is before `start` 2027-03-01"),
        "{v:?}"
    );

    let file = org().replace("until: 2027-02-14", "status: departed");
    env.write("orgs/harbour.yaml", &file);
    let v = env.run(&["validate"]);
    assert_eq!(v.code, 1, "{v:?}");
    assert!(
        v.all().contains("is departed, but since when is not said"),
        "{v:?}"
    );

    let v = env.run(&["--as-of", "2027-02-30", "validate"]);
    assert_eq!(v.code, 1, "{v:?}");
    assert!(v.all().contains("`2027-02-30` is not a date"), "{v:?}");
}

#[test]
fn the_weekly_report_lists_who_starts_and_who_leaves_in_the_next_two_weeks() {
    let env = pool();
    assert_eq!(at(&env, "2027-01-01", &["apply", "--yes"]).code, 0);
    let drift = at(&env, "2026-12-28", &["drift", "--no-record"]);
    assert!(
        drift.stdout.contains("coming up in the next 14 days:")
            && drift.stdout.contains(
                "2027-01-04: Val Oakes (val@harbour.org) starts: the account opens that day"
            ),
        "{drift:?}"
    );
    assert!(!drift.stdout.contains("Sam Lowe"), "{drift:?}");

    env.write(
        "steward.yaml",
        &format!(
            "{}email:\n  from: Pool IT <it@pool.example>\n  to: [team@pool.example]\n  smtp: {{host: 127.0.0.1, port: 2525, security: none}}\n",
            env.read("steward.yaml")
        ),
    );
    let org = env.read("orgs/harbour.yaml").replace(
        "name: Harbour Trust\n",
        "name: Harbour Trust\ncontacts:\n  - {name: Office, email: office@harbour.org, reports: true}\n",
    );
    env.write("orgs/harbour.yaml", &org);
    let sent = at(
        &env,
        "2027-02-05",
        &[
            "drift",
            "--no-record",
            "--email",
            "--per-org",
            "--dry-run",
            "mail",
        ],
    );
    assert!(sent.code == 0 || sent.code == 2, "{sent:?}");
    let text = crate::support::org_mail(&env, "mail", "harbour");
    assert!(
        text.contains("2027-02-15: Sam Lowe (sam@harbour.org) leaves (last day 2027-02-14)"),
        "{text}"
    );
}

#[test]
fn a_transfer_that_fails_leaves_the_leaver_active_and_is_planned_again() {
    let env = pool();
    assert_eq!(at(&env, "2027-01-10", &["apply", "--yes"]).code, 0);
    env.lab_post(
        "/_lab/seed",
        &serde_json::json!({"customer_id": CID, "failing_transfers": ["sam@harbour.org"]}),
    );
    let apply = at(&env, "2027-02-15", &["apply", "--yes"]);
    assert_eq!(apply.code, 1, "{apply:?}");
    assert!(
        apply.all().contains(
            "the transfer of sam@harbour.org's Drive files and calendars to kim@harbour.org failed"
        ),
        "{apply:?}"
    );
    // Signed out and revoked, but not suspended: the step after the transfer waits.
    assert_eq!(
        user(&env, "sam@harbour.org").expect("sam")["suspended"],
        false
    );
    let again = at(&env, "2027-02-16", &["plan"]);
    assert!(
        again
            .stdout
            .contains("~ google_offboarding[sam@harbour.org/transfer]"),
        "{again:?}"
    );
}

#[test]
fn transfer_to_must_be_an_active_user_of_the_org() {
    let env = Env::new();
    let pool = env.read("steward.yaml");
    env.write("steward.yaml", &format!("{pool}{ROLES}"));
    env.write("secrets/harbour/google", "{}");
    for (to, why) in [
        (
            "nobody@harbour.org",
            "`transfer_to` nobody@harbour.org is not a user in this org file",
        ),
        (
            "val@harbour.org",
            "`transfer_to` val@harbour.org has not started yet (starts on 2027-01-04)",
        ),
    ] {
        env.write(
            "orgs/harbour.yaml",
            &org().replace(
                "transfer_to: kim@harbour.org",
                &format!("transfer_to: {to}"),
            ),
        );
        let v = at(&env, "2027-01-01", &["validate"]);
        assert_eq!(v.code, 1, "{v:?}");
        assert!(v.all().contains(why), "{why}\n{v:?}");
        assert!(v.all().contains("orgs/harbour.yaml:14"), "{v:?}");
    }
}
