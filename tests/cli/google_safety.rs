//! Steward against Google's real behaviour: what it must never touch, and how it reads
//! a tenant that was set up by hand. Each test sets the tenant up through the lab's
//! Directory API the way a real tenant is (aliases with `users.aliases.insert`,
//! employee ids in `externalIds`, ...), then runs the real binary.

use serde_json::{Value, json};

use crate::support::{Env, api, org_file, user, users};

const ADMIN: &str = "admin@o.org";

fn org(env: &Env, accounts: &str) {
    env.write("orgs/o.yaml", &org_file("o", "o.org", "C0o", accounts));
}

fn call(env: &Env, method: &str, path: &str, body: Value) -> Value {
    let (code, v) = api(env, "o", ADMIN, method, path, &body);
    assert!(
        (200..300).contains(&code),
        "{method} {path}: HTTP {code}: {v}"
    );
    v
}

fn new_user(email: &str, given: &str, family: &str) -> Value {
    json!({"primaryEmail": email, "name": {"givenName": given, "familyName": family}, "password": "correct-horse-1"})
}

fn group<'a>(t: &'a Value, email: &str) -> Option<&'a Value> {
    t["groups"].as_array()?.iter().find(|g| g["email"] == email)
}

#[test]
fn an_address_held_by_another_account_is_a_conflict_never_a_write() {
    let mut env = Env::new();
    org(
        &env,
        "groups:\n  - {email: trustees@o.org, name: Trustees}\n  - {email: sam@o.org, name: Sam group}\nusers:\n  - {email: info@o.org, name: Info Desk}\n  - {email: board@o.org, name: Board Person}\n  - {email: dana@o.org, name: Dana Whitfield, groups: [trustees]}\n",
    );
    env.start_lab(&[]);
    call(&env, "POST", "users", new_user("pat@o.org", "Pat", "Lee"));
    call(
        &env,
        "POST",
        "users/pat@o.org/aliases",
        json!({"alias": "info@o.org"}),
    );
    call(
        &env,
        "POST",
        "groups",
        json!({"email": "board@o.org", "name": "Board"}),
    );
    call(
        &env,
        "POST",
        "groups/board@o.org/aliases",
        json!({"alias": "trustees@o.org"}),
    );
    call(
        &env,
        "POST",
        "users",
        new_user("sam@o.org", "Sam", "Okafor"),
    );
    let before = env.tenant("C0o");

    let plan = env.run(&["plan"]);
    assert_eq!(plan.code, 1, "a conflict fails the plan: {plan:?}");
    for expected in [
        "conflict: google_user[info@o.org]: info@o.org is an alias of user pat@o.org",
        "conflict: google_group[trustees@o.org]: trustees@o.org is an alias of group board@o.org",
        "conflict: google_group[sam@o.org]: sam@o.org is the address of user sam@o.org",
        "conflict: google_user[board@o.org]: board@o.org is the address of group board@o.org",
        "+ google_user[dana@o.org]",
    ] {
        assert!(plan.stdout.contains(expected), "{expected}\n{plan:?}");
    }
    // A membership of a blocked group waits with it.
    assert!(
        !plan.stdout.contains("google_member[trustees@o.org/"),
        "{plan:?}"
    );
    let json = env.run(&["plan", "--json"]);
    let v: Value = serde_json::from_str(&json.stdout).expect("json");
    assert_eq!(v["orgs"][0]["conflicts"].as_array().map(Vec::len), Some(4));

    let apply = env.run(&["apply", "--yes"]);
    assert_eq!(apply.code, 1, "{apply:?}");
    let after = env.tenant("C0o");
    for u in ["pat@o.org", "sam@o.org"] {
        assert_eq!(user(&before, u), user(&after, u), "{u} untouched");
    }
    assert_eq!(group(&before, "board@o.org"), group(&after, "board@o.org"));
    assert_eq!(after["members"]["board@o.org"], json!([]));
    assert!(user(&after, "dana@o.org").is_some(), "the rest is applied");
}

#[test]
fn a_create_refused_for_an_alias_is_never_taken_as_ours() {
    let mut env = Env::new();
    org(&env, "users:\n  - {email: info@o.org, name: Info Desk}\n");
    env.start_lab(&[]);
    // Made by hand a moment ago: Google lists it only later, but the address is taken.
    env.lab_post(
        "/_lab/seed",
        &json!({"customer_id": "C0o", "hidden_ms": 2500, "users": [{
            "primaryEmail": "pat@o.org", "name": {"givenName": "Pat", "familyName": "Lee", "fullName": "Pat Lee"},
            "aliases": ["info@o.org"], "orgUnitPath": "/", "suspended": false, "externalIds": []
        }]}),
    );
    let before = env.tenant("C0o");
    let apply = env.run(&["apply", "--yes"]);
    assert_eq!(apply.code, 1, "{apply:?}");
    assert!(
        apply.stdout.contains(
            "failed  + google_user[info@o.org]: cannot create user info@o.org: the address is an alias of user pat@o.org; Steward will not change that user"
        ),
        "{apply:?}"
    );
    assert_eq!(
        user(&before, "pat@o.org"),
        user(&env.tenant("C0o"), "pat@o.org")
    );
    let book = env.read(".steward/passwords/o.tsv");
    assert!(
        book.lines()
            .any(|l| l.contains("\tinfo@o.org\t") && l.trim_end().ends_with("\tnot-created")),
        "{book}"
    );
}

#[test]
fn adopting_a_user_keeps_its_other_external_ids_and_is_its_own_change() {
    let mut env = Env::new();
    org(
        &env,
        "org_units: [/Staff]\nusers:\n  - {email: dana@o.org, name: Dana Whitfield, org_unit: /Staff}\n",
    );
    env.start_lab(&[]);
    let mut dana = new_user("dana@o.org", "Dana", "Whitfield");
    dana["externalIds"] = json!([{"type": "organization", "value": "EMP-0042"}]);
    call(&env, "POST", "users", dana);

    let plan = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{plan:?}");
    for expected in [
        "> google_user[dana@o.org] (exists without Steward's marker: adopt it; its other external ids are kept)",
        r#"managed_by = (none) -> "o""#,
        r#"org_unit   = "/" -> "/Staff""#,
        "Plan: 1 to add, 1 to adopt, 0 to change, 0 to remove.",
    ] {
        assert!(plan.stdout.contains(expected), "{expected}\n{plan:?}");
    }
    let json = env.run(&["plan", "--json"]);
    let v: Value = serde_json::from_str(&json.stdout).expect("json");
    let adopt = v["orgs"][0]["changes"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["action"] == "adopt"))
        .expect("an adopt change");
    assert_eq!(adopt["address"]["id"], "dana@o.org");
    assert_eq!(v["orgs"][0]["summary"]["adopt"], 1);

    let apply = env.run(&["apply", "--yes"]);
    assert_eq!(apply.code, 0, "{apply:?}");
    let t = env.tenant("C0o");
    let ids = &user(&t, "dana@o.org").expect("dana")["externalIds"];
    assert_eq!(
        ids,
        &json!([
            {"type": "organization", "value": "EMP-0042"},
            {"type": "custom", "customType": "steward", "value": "o"}
        ])
    );
    assert_eq!(
        user(&t, "dana@o.org").expect("dana")["orgUnitPath"],
        "/Staff"
    );
    assert_eq!(env.run(&["plan", "--detailed-exitcode"]).code, 0);
}

#[test]
fn users_google_suspended_stay_suspended() {
    let mut env = Env::new();
    org(
        &env,
        "users:\n  - {email: ann@o.org, name: Ann Abuse}\n  - {email: bob@o.org, name: Bob Admin}\n",
    );
    env.start_lab(&[]);
    let marker = json!([{"type": "custom", "customType": "steward", "value": "o"}]);
    // Google's suspensions are output only: "Google did it" is seeded.
    env.lab_post(
        "/_lab/seed",
        &json!({"customer_id": "C0o", "users": [
            {"primaryEmail": "ann@o.org", "name": {"givenName": "Ann", "familyName": "Abuse", "fullName": "Ann Abuse"},
             "orgUnitPath": "/", "suspended": true, "suspensionReason": "ABUSE", "externalIds": marker},
            {"primaryEmail": "bob@o.org", "name": {"givenName": "Bob", "familyName": "Admin", "fullName": "Bob Admin"},
             "orgUnitPath": "/", "suspended": true, "suspensionReason": "ADMIN", "externalIds": marker}
        ]}),
    );
    let plan = env.run(&["plan"]);
    assert_eq!(plan.code, 0, "{plan:?}");
    assert!(
        plan.stdout.contains("unhealthy: google_user[ann@o.org]: suspended by Google (ABUSE); Steward will not unsuspend it"),
        "{plan:?}"
    );
    assert!(
        !plan.stdout.contains("~ google_user[ann@o.org]"),
        "{plan:?}"
    );
    // An administrator's suspension of a declared user is lifted: the file says active.
    assert!(plan.stdout.contains("~ google_user[bob@o.org]"), "{plan:?}");
    let apply = env.run(&["apply", "--yes"]);
    assert_eq!(apply.code, 0, "{apply:?}");
    let t = env.tenant("C0o");
    assert_eq!(user(&t, "ann@o.org").expect("ann")["suspended"], true);
    assert_eq!(user(&t, "bob@o.org").expect("bob")["suspended"], false);
    let drift = env.run(&["drift"]);
    assert!(
        drift.stdout.contains("Suspended by Google (ABUSE)"),
        "{drift:?}"
    );
}

#[test]
fn lost_replies_never_lose_an_initial_password() {
    let mut env = Env::new();
    let people: Vec<String> = (0..8)
        .map(|i| format!("  - {{email: p{i}@o.org, name: Person Number{i}}}\n"))
        .collect();
    org(&env, &format!("users:\n{}", people.concat()));
    env.start_lab(&["--fault-rate", "0.5", "--faults", "drop"]);
    let apply = env.run(&["apply", "--yes"]);
    assert_eq!(apply.code, 0, "{apply:?}");
    assert!(
        apply.stdout.contains("Apply: 8 done, 0 failed, 0 skipped."),
        "{apply:?}"
    );
    let t = env.tenant("C0o");
    assert_eq!(users(&t).len(), 9, "8 people and the admin, no duplicates");
    let book = env.read(".steward/passwords/o.tsv");
    let lines: Vec<&str> = book.lines().collect();
    assert_eq!(lines.len(), 8, "one record per user:\n{book}");
    for l in lines {
        let f: Vec<&str> = l.split('\t').collect();
        assert_eq!(f.len(), 4, "whole records: {l}");
        assert_eq!(f[3].trim_end(), "created", "{l}");
        // The recorded password is the one Google has.
        let sha = steward::util::sha256_hex(f[2].as_bytes());
        assert_eq!(t["password_sha256"][f[1]], json!(sha), "{l}");
    }
    let stats = env.lab_get("/_lab/stats");
    assert!(
        stats["requests"]["POST users"].as_u64().unwrap_or(0) > 8,
        "replies were lost and creates retried: {stats}"
    );
}

#[test]
fn a_killed_apply_never_leaves_a_created_user_without_its_password() {
    let mut env = Env::new();
    let people: Vec<String> = (0..12)
        .map(|i| format!("  - {{email: k{i}@o.org, name: Person Number{i}}}\n"))
        .collect();
    org(&env, &format!("users:\n{}", people.concat()));
    env.start_lab(&["--latency-ms", "300"]);
    let mut child = env
        .command(&["apply", "--yes", "--no-progress"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("apply");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    // As soon as Google has some of the users: their replies may still be on the way.
    while users(&env.tenant("C0o")).len() < 4 {
        assert!(std::time::Instant::now() < deadline, "no create started");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    // SIGKILL: no chance to tidy up.
    child.kill().expect("kill");
    child.wait().expect("wait");
    std::thread::sleep(std::time::Duration::from_millis(500));
    let t = env.tenant("C0o");
    let book = env.read(".steward/passwords/o.tsv");
    let created: Vec<String> = users(&t).into_iter().filter(|u| u != ADMIN).collect();
    assert!(
        created.len() < 12,
        "the kill came before the end: {created:?}"
    );
    for u in &created {
        let record = book
            .lines()
            .rfind(|l| l.split('\t').nth(1) == Some(u.as_str()))
            .unwrap_or_else(|| panic!("{u} was created but has no record:\n{book}"));
        let f: Vec<&str> = record.split('\t').collect();
        assert_eq!(f.len(), 4, "{record}");
        assert!(
            ["created", "pending"].contains(&f[3].trim_end()),
            "{record}"
        );
        let sha = steward::util::sha256_hex(f[2].as_bytes());
        assert_eq!(t["password_sha256"][u.as_str()], json!(sha), "{record}");
    }
}

#[test]
fn names_google_would_refuse_fail_validate_and_lone_names_split_after_the_first_word() {
    let env = Env::new();
    let long = "x".repeat(300);
    let long61 = "y".repeat(61);
    org(
        &env,
        &format!(
            "users:\n  - {{email: cher@o.org, name: Cher}}\n  - {{email: blank@o.org, name: \"   \"}}\n  - {{email: long@o.org, name: \"Al {long}\"}}\n  - {{email: g@o.org, given_name: {long61}, family_name: Lee}}\n  - {{email: at@o.org, name: \"Dana @ Work\"}}\n  - {{email: half@o.org, given_name: Half}}\n"
        ),
    );
    env.run(&["lab", "init"]);
    let v = env.run(&["validate"]);
    assert_eq!(v.code, 1, "{v:?}");
    for (expected, line) in [
        (
            "`Cher` is one word; Google needs a given and a family name",
            11,
        ),
        ("blank@o.org has no name", 12),
        ("the family name in `Al", 13),
        (
            "`given_name` has 61 characters; Google takes at most 60",
            14,
        ),
        (
            "`Dana @ Work` has `@`, which Google does not take in a name",
            15,
        ),
        ("half@o.org needs `family_name` too", 16),
    ] {
        assert!(v.stderr.contains(expected), "{expected}\n{v:?}");
        assert!(
            v.stderr.contains(&format!("[orgs/o.yaml:{line}:")),
            "line {line}\n{v:?}"
        );
    }
    assert!(v.stderr.contains("given_name: Cher"), "the hint: {v:?}");

    let mut env = Env::new();
    org(
        &env,
        "users:\n  - {email: joost@o.org, name: Joost van der Berg}\n  - {email: mary@o.org, given_name: Mary Ann, family_name: Lee}\n  - {email: dana@o.org, name: \"Dana  Whitfield\"}\n",
    );
    env.start_lab(&[]);
    assert_eq!(env.run(&["apply", "--yes"]).code, 0);
    let t = env.tenant("C0o");
    let name = |u: &str| user(&t, u).expect(u)["name"].clone();
    assert_eq!(name("joost@o.org")["givenName"], "Joost");
    assert_eq!(name("joost@o.org")["familyName"], "van der Berg");
    assert_eq!(name("mary@o.org")["givenName"], "Mary Ann");
    assert_eq!(name("mary@o.org")["familyName"], "Lee");
    assert_eq!(name("dana@o.org")["fullName"], "Dana Whitfield");
    let plan = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "names converge: {plan:?}");
}

#[test]
fn mixed_case_addresses_converge() {
    let mut env = Env::new();
    org(
        &env,
        "groups:\n  - {email: Staff@o.org, name: Staff, members: [Priya.N@o.org]}\nusers:\n  - {email: Priya.N@o.org, name: Priya Nair}\n",
    );
    env.start_lab(&[]);
    let plan = env.run(&["plan"]);
    assert!(
        plan.stdout.contains(r#"email      = "Priya.N@o.org""#),
        "the file's spelling is shown: {plan:?}"
    );
    assert_eq!(env.run(&["apply", "--yes"]).code, 0);
    let plan = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{plan:?}");
    // The same address twice in other case is a duplicate.
    org(
        &env,
        "users:\n  - {email: priya.n@o.org, name: Priya Nair}\n  - {email: Priya.N@o.org, name: Priya Nair}\n",
    );
    let v = env.run(&["validate"]);
    assert_eq!(v.code, 1, "{v:?}");
    assert!(v.stderr.contains("duplicate"), "{v:?}");
}

#[test]
fn a_duplicate_org_unit_create_after_a_lost_reply_is_resolved_by_reading_again() {
    let mut env = Env::new();
    org(
        &env,
        "org_units: [/A, /B, /C, /D, /E, /F, /A/One, /B/Two]\n",
    );
    env.start_lab(&["--fault-rate", "0.5", "--faults", "drop"]);
    let apply = env.run(&["apply", "--yes"]);
    assert_eq!(apply.code, 0, "{apply:?}");
    assert!(
        apply.stdout.contains("Apply: 8 done, 0 failed, 0 skipped."),
        "{apply:?}"
    );
    let t = env.tenant("C0o");
    assert_eq!(t["orgunits"].as_array().map(Vec::len), Some(8));
    let stats = env.lab_get("/_lab/stats");
    assert!(
        stats["requests"]["POST orgunits"].as_u64().unwrap_or(0) > 8,
        "some creates were sent again and answered 400 Invalid Ou Id: {stats}"
    );
    assert_eq!(env.run(&["plan", "--detailed-exitcode"]).code, 0);
}

#[test]
fn members_with_no_address_are_kept() {
    let mut env = Env::new();
    org(
        &env,
        "groups:\n  - {email: all@o.org, name: Everyone}\nusers:\n  - {email: dana@o.org, name: Dana Whitfield, groups: [all]}\n",
    );
    env.start_lab(&[]);
    assert_eq!(env.run(&["apply", "--yes"]).code, 0);
    // "Everyone in the domain", added in the Admin console.
    call(
        &env,
        "POST",
        "groups/all@o.org/members",
        json!({"id": "C0o", "role": "MEMBER"}),
    );
    let plan = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "nothing to remove: {plan:?}");
    assert_eq!(env.run(&["apply", "--yes"]).code, 0);
    let t = env.tenant("C0o");
    let members = t["members"]["all@o.org"].as_array().expect("members");
    assert!(
        members.iter().any(|m| m["type"] == "CUSTOMER"),
        "{members:?}"
    );
    let drift = env.run(&["drift"]);
    assert!(!drift.stdout.contains("C0o"), "{drift:?}");
}

#[test]
fn set_up_mistakes_say_what_is_wrong_and_how_to_fix_it_per_org() {
    let mut env = Env::new();
    for id in ["a", "b", "c", "d"] {
        env.write(
            &format!("orgs/{id}.yaml"),
            &org_file(
                id,
                &format!("{id}.org"),
                &format!("C0{id}"),
                &format!("users:\n  - {{email: dana@{id}.org, name: Dana Whitfield}}\n"),
            ),
        );
    }
    env.start_lab(&[]);
    // a: the impersonated admin is an ordinary user.
    env.lab_post(
        "/_lab/seed",
        &json!({"customer_id": "C0a", "users": [{"primaryEmail": "admin@a.org",
            "name": {"givenName": "Ad", "familyName": "Min", "fullName": "Ad Min"},
            "isAdmin": false, "orgUnitPath": "/", "suspended": false, "customerId": "C0a"}]}),
    );
    // b: the service account has no domain-wide delegation.
    env.lab_post(
        "/_lab/seed",
        &json!({"customer_id": "C0b", "delegation": false}),
    );
    // c: the org file names another customer.
    let c = env.read("orgs/c.yaml").replace("C0c", "C9wrong");
    env.write("orgs/c.yaml", &c);

    let plan = env.run(&["plan"]);
    assert_eq!(plan.code, 1, "{plan:?}");
    for expected in [
        "admin@a.org is not an administrator: Google answered 403",
        "Google will not let service account steward@b.iam.gserviceaccount.com act for admin@b.org: domain-wide delegation is not set up for it",
        "google.customer_id `C9wrong` is not this Google Workspace's customer id: admin@c.org belongs to customer `C0c`",
        "+ google_user[dana@d.org]",
        "3 org(s) could not be planned.",
    ] {
        assert!(plan.stdout.contains(expected), "{expected}\n{plan:?}");
    }
    // One line each.
    for org in ["a", "b", "c"] {
        let block = plan
            .stdout
            .split(&format!("{org} (orgs/{org}.yaml)"))
            .nth(1)
            .expect("org block");
        let error_lines = block
            .lines()
            .skip(1)
            .take_while(|l| !l.is_empty())
            .filter(|l| l.contains("error:"))
            .count();
        assert_eq!(error_lines, 1, "{org}: {plan:?}");
    }
}

#[test]
fn validate_knows_googles_limits() {
    let env = Env::new();
    env.write("secrets/o/short", "short");
    env.write("secrets/o/long", &"p".repeat(101));
    env.write("secrets/o/fine", "exactly8");
    org(
        &env,
        "groups:\n  - {email: a@o.org, name: A, members: [b@o.org]}\n  - {email: b@o.org, name: B, members: [c@o.org]}\n  - {email: c@o.org, name: C, members: [a@o.org]}\n  - {email: same@o.org, name: Same}\nusers:\n  - {email: same@o.org, name: Same Person}\n  - {email: s@o.org, name: Short Pw, password: secret:o/short}\n  - {email: l@o.org, name: Long Pw, password: secret:o/long}\n  - {email: f@o.org, name: Fine Pw, password: secret:o/fine}\n  - {email: x+y@o.org, name: Plus Sign}\n  - {email: .dot@o.org, name: Dot Start}\n",
    );
    env.run(&["lab", "init"]);
    let v = env.run(&["validate"]);
    assert_eq!(v.code, 1, "{v:?}");
    for expected in [
        "group membership cycle: a@o.org → b@o.org → c@o.org → a@o.org",
        "same@o.org is declared as a group and as a user",
        "secret `o/short` has 5 characters; Google takes initial passwords of 8 to 100",
        "secret `o/long` has 101 characters",
        "Google would refuse `x+y@o.org`",
        "Google would refuse `.dot@o.org`",
    ] {
        assert!(v.stderr.contains(expected), "{expected}\n{v:?}");
    }
    assert!(!v.stderr.contains("secret `o/fine`"), "{v:?}");
    assert!(
        !v.stderr.contains(&"p".repeat(101)),
        "no secret value shown"
    );
}

#[test]
fn deleted_leavers_are_restorable_for_twenty_days() {
    let mut env = Env::new();
    org(
        &env,
        "users:\n  - {email: ruth@o.org, name: Ruth Adeyemi}\nleavers: delete\n",
    );
    env.start_lab(&[]);
    assert_eq!(env.run(&["apply", "--yes"]).code, 0);
    env.drop_lines("orgs/o.yaml", "ruth@");
    let plan = env.run(&["plan"]);
    assert!(
        plan.stdout.contains("- google_user[ruth@o.org] (leaver: delete; Google keeps a deleted user restorable for 20 days)"),
        "{plan:?}"
    );
    assert_eq!(env.run(&["apply", "--yes"]).code, 0);
    let deleted = call(
        &env,
        "GET",
        "users?customer=my_customer&showDeleted=true",
        Value::Null,
    );
    let ruth = deleted["users"]
        .as_array()
        .and_then(|u| u.iter().find(|u| u["primaryEmail"] == "ruth@o.org"))
        .expect("ruth is listed as deleted")
        .clone();
    assert!(ruth["deletionTime"].is_string());
    let id = ruth["id"].as_str().expect("id");
    call(
        &env,
        "POST",
        &format!("users/{id}/undelete"),
        json!({"orgUnitPath": "/"}),
    );
    assert!(user(&env.tenant("C0o"), "ruth@o.org").is_some());
}
