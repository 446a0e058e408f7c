//! The pool's standard: baseline.yaml's items and tiers planned across the example
//! orgs with citations, rolled out to a pilot tier first; measured items from seeded
//! lab accounts; an exception honoured, then past its day; the trend; the HTML page in
//! Chromium; and every kind of bad input at its line.

use serde_json::{Value, json};

use crate::support::Env;

const HILLSIDE: &str = "C01hx42kd";
const RIVERSIDE: &str = "C03az79cb";

const STANDARD: &str = "# The pool's standard.
default_tier: standard
items:
  org-units:
    title: Every org has the standard org units
    why: people find each other's places the same in every org
    module: accounts
    inputs:
      org_units: [/Staff, /Volunteers]
  two-step:
    title: Every active account uses 2-step verification
    why: a stolen password alone does not open an account
    module: accounts
    measure: two_step
  few-admins:
    title: At most two super administrators
    module: accounts
    measure: super_admins
    at_most: 2
  no-unused:
    title: No account unused for 90 days
    module: accounts
    measure: unused_accounts
    days: 90
tiers:
  essential:
    description: what every member org has
    items: [two-step, few-admins]
  standard:
    extends: essential
    items: [org-units, no-unused]
  pilot:
    description: orgs that try a change first
    extends: standard
    items: []
";

/// The IT group item, as a later commit adds it to a tier.
const IT_GROUP: &str = "  it-group:
    title: The pool's IT team can administer every org
    module: accounts
    inputs:
      groups:
        - email: \"pool-it@{{org.domain}}\"
          name: Pool IT team
          external_members: [{email: alex@pool-it.example, role: OWNER}]
";

fn with_it_group(tier: &str) -> String {
    let standard = STANDARD.replace("tiers:\n", &format!("{IT_GROUP}tiers:\n"));
    if tier == "pilot" {
        standard.replace("    items: []\n", "    items: [it-group]\n")
    } else {
        standard.replace(
            "    items: [org-units, no-unused]\n",
            "    items: [org-units, no-unused, it-group]\n",
        )
    }
}

/// The example orgs, applied, in a git repository; Hillside in the pilot tier.
fn pool() -> Env {
    let mut env = Env::examples();
    env.start_lab(&[]);
    let applied = env.run(&["apply", "--yes"]);
    assert_eq!(applied.code, 0, "{applied:?}");
    let hillside = env.read("orgs/hillside-youth-club.yaml").replace(
        "name: Hillside Youth Club\n",
        "name: Hillside Youth Club\ntier: pilot\n",
    );
    env.write("orgs/hillside-youth-club.yaml", &hillside);
    env.git(&["init", "-q"]);
    env.commit("the example orgs, applied");
    env
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no `{needle}` in:\n{text}"))
        + 1
}

fn has_group(env: &Env, cid: &str, email: &str) -> bool {
    env.tenant(cid)["groups"]
        .as_array()
        .is_some_and(|gs| gs.iter().any(|g| g["email"] == email))
}

#[test]
fn a_change_to_the_standard_plans_where_it_reaches_citing_its_line_pilot_tier_first() {
    let env = pool();

    // The standard's org units reach Hillside (Riverside has them), each change citing
    // the item's line in baseline.yaml and the tier it comes with.
    env.write("baseline.yaml", STANDARD);
    let plan = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{plan:?}");
    let line = line_of(STANDARD, "org_units: [/Staff, /Volunteers]");
    assert!(
        plan.stdout.contains(&format!(
            "+ google_org_unit[/Volunteers] (the pool's standard: item `org-units`, tier `standard`)  # baseline.yaml:{line}"
        )),
        "{plan:?}"
    );
    assert!(
        plan.stdout
            .contains("riverside-food-bank (orgs/riverside-food-bank.yaml)\n  no changes"),
        "Riverside already has them: {plan:?}"
    );
    assert_eq!(env.run(&["apply", "--yes"]).code, 0);
    env.commit("the pool's standard");

    // A new item for the pilot tier: --changed-since selects the orgs it reaches, and
    // says why.
    let pilot = with_it_group("pilot");
    env.write("baseline.yaml", &pilot);
    let changed = env.run(&["plan", "--detailed-exitcode", "--changed-since", "HEAD"]);
    assert_eq!(changed.code, 2, "{changed:?}");
    assert!(
        changed.stderr.contains("1 of 2 org(s) selected")
            && changed
                .stderr
                .contains("hillside-youth-club.yaml: the pool's standard changed: item `it-group`"),
        "{changed:?}"
    );
    let entry = line_of(&pilot, "- email: \"pool-it@{{org.domain}}\"");
    assert!(
        changed.stdout.contains(&format!(
            "+ google_group[pool-it@hillsideyouth.org] (the pool's standard: item `it-group`, tier `pilot`)  # baseline.yaml:{entry}"
        )) && changed
            .stdout
            .contains("+ google_member[pool-it@hillsideyouth.org/alex@pool-it.example]"),
        "{changed:?}"
    );

    // Rolled out to the pilot tier only.
    let rollout = env.run(&["apply", "--tier", "pilot", "--yes"]);
    assert_eq!(rollout.code, 0, "{rollout:?}");
    assert!(
        rollout
            .stderr
            .contains("Tier pilot: 1 of 2 selected org(s)."),
        "{rollout:?}"
    );
    assert!(has_group(&env, HILLSIDE, "pool-it@hillsideyouth.org"));
    assert!(!has_group(&env, RIVERSIDE, "pool-it@riversidefood.org"));
    let members = &env.tenant(HILLSIDE)["members"]["pool-it@hillsideyouth.org"];
    assert_eq!(members[0]["email"], "alex@pool-it.example", "{members}");
    assert_eq!(members[0]["role"], "OWNER", "{members}");
    env.commit("the IT group, piloted");

    // Then to every org of the standard tier (the pilot tier extends it: both).
    let everyone = with_it_group("standard");
    env.write("baseline.yaml", &everyone);
    let plan = env.run(&["plan", "--tier", "standard"]);
    assert!(
        plan.stderr
            .contains("Tier standard: 2 of 2 selected org(s)."),
        "{plan:?}"
    );
    assert!(
        plan.stdout
            .contains("+ google_group[pool-it@riversidefood.org] (the pool's standard: item `it-group`, tier `standard`)"),
        "{plan:?}"
    );
    assert!(
        !plan.stdout.contains("pool-it@hillsideyouth.org]"),
        "{plan:?}"
    );
    let changed = env.run(&["orgs", "--changed-since", "HEAD"]);
    assert!(
        changed
            .stderr
            .contains("riverside-food-bank.yaml: the pool's standard changed: item `it-group`")
            && !changed.stderr.contains("hillside-youth-club.yaml:"),
        "the item reached Hillside already: {changed:?}"
    );
    assert_eq!(env.run(&["apply", "--yes"]).code, 0);
    assert!(has_group(&env, RIVERSIDE, "pool-it@riversidefood.org"));
    let again = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{again:?}");
}

fn facts(env: &Env, cid: &str, facts: Value) {
    let r = env.lab_post(
        "/_lab/seed",
        &json!({"customer_id": cid, "user_facts": facts}),
    );
    assert!(r.get("error").is_none(), "{r}");
}

/// `steward [AS_OF] baseline --format json [ARGS]`.
fn view(env: &Env, as_of: Option<&str>, args: &[&str]) -> (i32, Value) {
    let mut all = as_of.map_or_else(Vec::new, |d| vec!["--as-of", d]);
    all.extend(["baseline", "--format", "json"]);
    all.extend_from_slice(args);
    let run = env.run(&all);
    let json = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run:?}"));
    (run.code, json)
}

fn cell<'a>(view: &'a Value, org: &str, item: &str) -> &'a Value {
    view["orgs"]
        .as_array()
        .and_then(|os| os.iter().find(|o| o["org"] == org))
        .and_then(|o| o["cells"].as_array())
        .and_then(|cs| cs.iter().find(|c| c["item"] == item))
        .unwrap_or_else(|| panic!("no {org}/{item} in {view}"))
}

#[test]
fn measured_items_an_exception_until_its_day_the_trend_and_the_page() {
    let env = pool();
    env.write("baseline.yaml", &with_it_group("pilot"));
    assert_eq!(env.run(&["apply", "--yes"]).code, 0);

    // Riverside: everyone uses 2-step verification. Hillside: nobody does, two more
    // super administrators, and Ruth has not signed in since January.
    let all_enrolled: Vec<Value> = [
        "dana@riversidefood.org",
        "marco@riversidefood.org",
        "priya@riversidefood.org",
        "steward-admin@riversidefood.org",
    ]
    .iter()
    .map(|u| json!({"primaryEmail": u, "isEnrolledIn2Sv": true}))
    .collect();
    facts(&env, RIVERSIDE, json!(all_enrolled));
    facts(
        &env,
        HILLSIDE,
        json!([
            {"primaryEmail": "lee@hillsideyouth.org", "isAdmin": true},
            {"primaryEmail": "sam@hillsideyouth.org", "isAdmin": true},
            {"primaryEmail": "ruth@hillside-club.org", "creationTime": "2025-03-01T10:00:00.000Z",
             "lastLoginTime": "2026-01-15T09:30:00.000Z"},
        ]),
    );

    // The view makes exactly the requests a plan makes.
    env.lab_post("/_lab/stats/reset", &json!({}));
    assert_eq!(env.run(&["plan"]).code, 0);
    let plan_requests = env.lab_get("/_lab/stats")["total"].clone();
    env.lab_post("/_lab/stats/reset", &json!({}));
    let (code, first) = view(&env, None, &[]);
    assert_eq!(env.lab_get("/_lab/stats")["total"], plan_requests);
    assert_eq!(code, 2, "an item is not met: {first}");

    assert_eq!(
        cell(&first, "riverside-food-bank", "two-step")["status"],
        "meets"
    );
    let two_step = cell(&first, "hillside-youth-club", "two-step");
    assert_eq!(two_step["status"], "fails", "{two_step}");
    assert!(
        two_step["detail"].as_str().is_some_and(|d| d.starts_with(
            "4 of 4 active account(s) without 2-step verification: lee@hillsideyouth.org"
        )),
        "{two_step}"
    );
    let admins = cell(&first, "hillside-youth-club", "few-admins");
    assert_eq!(admins["status"], "fails");
    assert!(
        admins["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("3 active super administrator(s) (at most 2)")),
        "{admins}"
    );
    let unused = cell(&first, "hillside-youth-club", "no-unused");
    assert_eq!(unused["status"], "fails");
    assert!(
        unused["detail"]
            .as_str()
            .is_some_and(|d| d.contains("ruth@hillside-club.org")),
        "{unused}"
    );
    assert_eq!(
        cell(&first, "hillside-youth-club", "it-group")["status"],
        "meets"
    );
    assert_eq!(
        cell(&first, "riverside-food-bank", "it-group")["status"],
        "not_applicable"
    );
    assert_eq!(
        cell(&first, "riverside-food-bank", "org-units")["status"],
        "meets"
    );

    // An exception: still measured and shown, with why and until when.
    let with_exception = env.read("orgs/hillside-youth-club.yaml")
        + "exceptions:\n  - {item: two-step, reason: Board members share one phone until January, until: 2027-01-31}\n";
    env.write("orgs/hillside-youth-club.yaml", &with_exception);
    let (_, excused) = view(&env, Some("2027-01-31"), &[]);
    let c = cell(&excused, "hillside-youth-club", "two-step");
    assert_eq!(c["status"], "exception", "{c}");
    assert_eq!(
        c["exception"]["reason"],
        "Board members share one phone until January"
    );
    assert_eq!(c["exception"]["expired"], false);
    assert!(
        c["detail"]
            .as_str()
            .is_some_and(|d| d.contains("without 2-step verification")),
        "{c}"
    );
    assert!(c.get("fix").is_none(), "{c}");

    // The day after: it counts again, and validate points at its line.
    let (_, after) = view(&env, Some("2027-02-01"), &["--no-record"]);
    let c = cell(&after, "hillside-youth-club", "two-step");
    assert_eq!(c["status"], "fails", "{c}");
    assert_eq!(c["exception"]["expired"], true, "{c}");
    let validate = env.run(&["--as-of", "2027-02-01", "validate"]);
    assert_eq!(validate.code, 1, "{validate:?}");
    assert!(
        validate.stderr.contains(
            "the exception to item `two-step` ended on 2027-01-31: the item counts again"
        ) && validate.stderr.contains(&format!(
            "orgs/hillside-youth-club.yaml:{}",
            line_of(&with_exception, "item: two-step")
        )),
        "{validate:?}"
    );

    // The trend against the last recorded view: the two extra admins are gone.
    facts(
        &env,
        HILLSIDE,
        json!([
            {"primaryEmail": "lee@hillsideyouth.org", "isAdmin": false},
            {"primaryEmail": "sam@hillsideyouth.org", "isAdmin": false},
        ]),
    );
    let (_, second) = view(&env, None, &["--no-record"]);
    let admins = cell(&second, "hillside-youth-club", "few-admins");
    assert_eq!(admins["status"], "meets");
    assert_eq!(admins["was"], "fails", "{admins}");
    assert!(second["trend"]["since"].is_string(), "{second}");
    assert_eq!(second["trend"]["before"]["meets"], first["totals"]["meets"]);
    let text = env.run(&["baseline", "--no-record"]);
    assert!(text.stdout.contains("Since 20"), "{text:?}");
    assert!(
        text.stdout.contains("was: does not meet the standard"),
        "{text:?}"
    );

    // The weekly report has the standard too, each org's contact their own row.
    let drift = env.run(&["drift", "--no-record"]);
    assert!(
        drift.stdout.contains("The pool's standard: ")
            && drift.stdout.contains("the pool's standard (tier pilot): "),
        "{drift:?}"
    );

    // Riverside's contact gets Riverside's row, in plain words, and nothing of Hillside.
    let settings = env.read("steward.yaml")
        + "email:\n  from: Pool IT <it@pool.example>\n  to: [team@pool.example]\n  smtp: {host: 127.0.0.1, port: 2525, security: none}\n";
    env.write("steward.yaml", &settings);
    let sent = env.run(&[
        "drift",
        "--no-record",
        "--email",
        "--per-org",
        "--dry-run",
        "mail",
    ]);
    assert!(sent.code == 0 || sent.code == 2, "{sent:?}");
    let mail = crate::support::org_mail(&env, "mail", "riverside");
    assert!(
        mail.contains("the pool's standard (tier standard): 4 of 4 met")
            && mail.contains("- [meets] Every active account uses 2-step verification: all 4 active account(s) use 2-step verification"),
        "{mail}"
    );
    assert!(!mail.contains("Hillside"), "{mail}");

    // The page the pool publishes, at a phone's width and a desktop's.
    let html = env.path("standard.html");
    let page = env.run(&[
        "baseline",
        "--no-record",
        "--format",
        "html",
        "--out",
        html.to_str().expect("path"),
    ]);
    assert_eq!(page.code, 2, "{page:?}");
    for dom in crate::support::fits_widths(&env.read("standard.html"), &env.path("probe.html")) {
        assert!(dom.contains("Riverside Food Bank"), "rendered");
        assert!(
            dom.contains("Board members share one phone until January"),
            "rendered"
        );
    }
    // No secret anywhere: the service account's key is not in what people read.
    let key = env.read("secrets/hillside-youth-club/google-service-account");
    let private = key
        .split("PRIVATE KEY")
        .nth(1)
        .unwrap_or("x")
        .trim_start_matches('-')
        .get(..40)
        .unwrap_or("x")
        .to_string();
    for out in [&text.stdout, &env.read("standard.html"), &drift.stdout] {
        assert!(!out.contains(&private));
    }
}

#[test]
fn a_standard_or_org_file_that_does_not_check_is_refused_at_its_line() {
    let env = Env::examples();
    let bad = "default_tier: standrd
items:
  two-step: {title: 2-step verification, module: accounts, measure: two_steps}
  units: {title: Org units, module: accounts, inputs: {org_unit: [/Staff]}}
  nothing: {title: Says nothing, module: accounts}
  jobs: {title: Daily backups, module: backups, inputs: {name: x}}
  fresh: {title: Fresh backups, module: backups, require: [{every: {stale_aftr: {at_most: 2d}}}]}
  wifi: {title: Guest Wi-Fi, module: wlan, require: [{in: networks, some: {guest: true}}]}
tiers:
  standard: {extends: essential, items: [two-step, unitz]}
  essential: {extends: standard, items: []}
";
    env.write("baseline.yaml", bad);
    let run = env.run(&["validate"]);
    assert_eq!(run.code, 1, "{run:?}");
    for (message, needle) in [
        ("unknown tier `standrd`", "default_tier"),
        ("unknown measure `two_steps`", "two-step:"),
        ("module `accounts` has no input `org_unit`", "units:"),
        (
            "item `nothing` says nothing to apply, require or measure",
            "nothing:",
        ),
        ("module `backups` takes a list of each org's own", "jobs:"),
        ("have no field `stale_aftr`", "fresh:"),
        ("unknown module `wlan`", "wifi:"),
        ("unknown item `unitz`", "standard:"),
        ("tiers extend each other in a cycle", "standard:"),
    ] {
        assert!(
            run.stderr.contains(message)
                && run
                    .stderr
                    .contains(&format!("baseline.yaml:{}", line_of(bad, needle))),
            "{message} at the line of {needle}: {run:?}"
        );
    }
    assert!(run.stderr.contains("did you mean `org_units`?"), "{run:?}");
    assert!(
        run.stderr.contains("did you mean `stale_after`?"),
        "{run:?}"
    );

    // Org files: an unknown tier, exceptions to what is not there or without a reason;
    // a value of the standard that an org cannot take, told once at its line.
    env.write(
        "baseline.yaml",
        &with_it_group("pilot").replace("pool-it@{{org.domain}}", "pool-it@elsewhere.example"),
    );
    let hillside = env.read("orgs/hillside-youth-club.yaml");
    env.write(
        "orgs/hillside-youth-club.yaml",
        &hillside.replace(
            "name: Hillside Youth Club\n",
            "name: Hillside Youth Club\ntier: pilott\nexceptions:\n  - {item: two-stp, reason: x, until: 2027-01-01}\n  - {item: two-step, reason: '  ', until: 2027-01-01}\n  - {item: no-unused, until: 2027-01-01}\n",
        ),
    );
    let riverside = env.read("orgs/riverside-food-bank.yaml");
    env.write(
        "orgs/riverside-food-bank.yaml",
        &riverside.replace(
            "name: Riverside Food Bank\n",
            "name: Riverside Food Bank\ntier: pilot\n",
        ),
    );
    let run = env.run(&["validate"]);
    assert_eq!(run.code, 1, "{run:?}");
    let org = env.read("orgs/hillside-youth-club.yaml");
    for (message, needle) in [
        ("unknown tier `pilott`", "tier: pilott"),
        ("unknown item `two-stp`", "two-stp"),
        ("an exception needs a reason", "reason: '  '"),
        ("missing required key `reason`", "item: no-unused"),
    ] {
        assert!(
            run.stderr.contains(message)
                && run.stderr.contains(&format!(
                    "orgs/hillside-youth-club.yaml:{}",
                    line_of(&org, needle)
                )),
            "{message}: {run:?}"
        );
    }
    assert!(run.stderr.contains("did you mean `pilot`?"), "{run:?}");
    assert!(run.stderr.contains("did you mean `two-step`?"), "{run:?}");
    // Riverside is in the pilot tier: the group's address is outside its domains, at
    // the standard's line, once.
    assert_eq!(
        run.stderr
            .matches("`pool-it@elsewhere.example` is outside the org's domains")
            .count(),
        1,
        "{run:?}"
    );
    assert!(run.stderr.contains("baseline.yaml:"), "{run:?}");
}

/// The README's standard is one a pool can use as it is: it checks with the example orgs
/// and every module it names.
#[test]
fn the_readme_standard_checks() {
    let readme = std::fs::read_to_string(crate::support::repo().join("README.md")).expect("README");
    let section = readme
        .split("### The pool's standard")
        .nth(1)
        .expect("the README has the section");
    let yaml = section
        .split("```yaml\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a YAML block");
    let env = Env::examples();
    env.write("baseline.yaml", yaml);
    let exception = section
        .split("```yaml\n")
        .nth(2)
        .and_then(|b| b.split("```").next())
        .expect("the org's side");
    let org = env.read("orgs/riverside-food-bank.yaml");
    env.write(
        "orgs/riverside-food-bank.yaml",
        &format!("{org}{exception}"),
    );
    env.run(&["lab", "init"]);
    let run = env.run(&["--as-of", "2027-01-01", "validate"]);
    assert_eq!(run.code, 0, "{run:?}");
}

/// The standard comes in pull requests too: it may not read outside the pool, reach
/// another org's secrets, or stall Steward.
#[test]
fn a_hostile_standard_reads_nothing_outside_and_reaches_no_other_org() {
    let env = Env::examples();
    env.run(&["lab", "init"]);
    let secret = env.read("secrets/riverside-food-bank/google-service-account");
    assert!(secret.contains("PRIVATE KEY"), "lab key made");

    // A link to a secret, as the standard or as the pool file: refused by name, never
    // quoted (a syntax error would show what it links to).
    for file in ["baseline.yaml", "steward.yaml"] {
        let kept = env.path(&format!("{file}.kept"));
        let _ = std::fs::rename(env.path(file), &kept);
        std::os::unix::fs::symlink(
            env.path("secrets/riverside-food-bank/google-service-account"),
            env.path(file),
        )
        .expect("symlink");
        let v = env.run(&["validate"]);
        assert_eq!(v.code, 1, "{v:?}");
        assert!(
            v.stderr.contains(&format!("{file} is a symbolic link")),
            "{v:?}"
        );
        assert!(!v.all().contains("PRIVATE KEY"), "{v:?}");
        std::fs::remove_file(env.path(file)).expect("rm");
        let _ = std::fs::rename(&kept, env.path(file));
    }

    // An alias bomb, in baseline/.
    let mut laughs = String::from("l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let prev = format!("*l{}", i - 1);
        laughs.push_str(&format!(
            "l{i}: &l{i} [{}]\n",
            [prev.as_str(); 10].join(", ")
        ));
    }
    env.write("baseline/laughs.yaml", &laughs);
    let v = env.run(&["validate"]);
    assert_eq!(v.code, 1, "{v:?}");
    assert!(
        v.stderr.contains("aliases expand this document beyond"),
        "{v:?}"
    );
    std::fs::remove_file(env.path("baseline/laughs.yaml")).expect("rm");

    // Another org's secret as every org's password, and a placeholder that is not one
    // of the org's facts: each refused at its line, nothing shown.
    let standard = "default_tier: all
items:
  it-user:
    title: An IT account in every org
    module: accounts
    inputs:
      users:
        - {email: \"it@{{org.domain}}\", name: Pool IT, password: \"secret:riverside-food-bank/google-service-account\"}
  named:
    title: A group named after a secret
    module: accounts
    inputs:
      groups:
        - {email: \"x@{{org.domain}}\", name: \"{{secrets.riverside}}\"}
tiers:
  all: {items: [it-user, named]}
";
    env.write("baseline/standard.yaml", standard);
    let v = env.run(&["validate"]);
    assert_eq!(v.code, 1, "{v:?}");
    assert!(
        v.stderr
            .contains("riverside-food-bank/google-service-account")
            && v.stderr.contains(&format!(
                "baseline/standard.yaml:{}",
                line_of(standard, "it@{{org.domain}}")
            )),
        "refused for Hillside at its line: {v:?}"
    );
    assert!(
        v.stderr
            .contains("only `{{org.domain}}` and `{{org.id}}` may be used")
            && v.stderr.contains(&format!(
                "baseline/standard.yaml:{}",
                line_of(standard, "secrets.riverside")
            )),
        "{v:?}"
    );
    assert!(!v.all().contains("PRIVATE KEY"), "{v:?}");
}

/// An item the org file already says is met only once it is applied: a value the org
/// gives itself, not yet live, leaves the item unmet with the command that fixes it.
#[test]
fn an_item_the_org_file_says_is_not_met_until_it_is_applied() {
    let mut env = Env::examples();
    env.start_lab(&[]);
    env.write("baseline.yaml", STANDARD);
    let (code, before) = view(&env, None, &["--no-record"]);
    assert_eq!(code, 2, "{before}");
    let c = cell(&before, "riverside-food-bank", "org-units");
    assert_eq!(c["status"], "fails", "{c}");
    assert!(
        c["detail"].as_str().is_some_and(
            |d| d.contains("not applied yet") && d.contains("+ google_org_unit[/Staff]")
        ),
        "{c}"
    );
    assert_eq!(
        c["fix"], "steward apply orgs/riverside-food-bank.yaml",
        "{c}"
    );
    assert_eq!(env.run(&["apply", "--yes"]).code, 0);
    let (_, after) = view(&env, None, &["--no-record"]);
    assert_eq!(
        cell(&after, "riverside-food-bank", "org-units")["status"],
        "meets"
    );
}
