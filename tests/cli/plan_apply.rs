//! plan -> apply -> plan against the lab, with the example orgs and made-up ones.

use std::os::unix::fs::PermissionsExt;

use serde_json::{Value, json};

use crate::support::{Env, member_count, org_file, user, users};

#[test]
fn plan_apply_plan_converges_on_the_examples() {
    let mut env = Env::examples();
    env.start_lab(&[]);
    let plan = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{plan:?}");
    insta::assert_snapshot!("plan_examples_first", plan.stdout);

    let apply = env.run(&["apply", "--yes"]);
    assert_eq!(apply.code, 0, "{apply:?}");
    assert!(
        apply
            .stdout
            .contains("Apply: 23 done, 0 failed, 0 skipped."),
        "{apply:?}"
    );

    let again = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{again:?}");
    assert!(
        again
            .stdout
            .contains("Plan: 0 to add, 0 to change, 0 to remove."),
        "{again:?}"
    );
    let second = env.run(&["apply", "--yes"]);
    assert_eq!(second.code, 0, "{second:?}");
    assert!(second.stdout.contains("No changes to apply."), "{second:?}");

    let t = env.tenant("C03az79cb");
    assert_eq!(
        users(&t),
        [
            "dana@riversidefood.org",
            "marco@riversidefood.org",
            "priya@riversidefood.org",
            "steward-admin@riversidefood.org"
        ]
    );
    let dana = user(&t, "dana@riversidefood.org").expect("dana");
    assert_eq!(dana["orgUnitPath"], "/Staff");
    assert_eq!(dana["changePasswordAtNextLogin"], true);
    assert_eq!(dana["externalIds"][0]["value"], "riverside-food-bank");
    assert_eq!(member_count(&t), 4);
}

#[test]
fn json_plan_is_versioned_and_cites_org_file_lines() {
    let mut env = Env::examples();
    env.start_lab(&[]);
    let run = env.run(&["plan", "--json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let plan: Value = serde_json::from_str(&run.stdout).expect("JSON plan");
    assert_eq!(plan["format_version"], 1);
    assert_eq!(
        plan["summary"],
        json!({"add": 23, "change": 0, "remove": 0})
    );
    let orgs = plan["orgs"].as_array().expect("orgs");
    assert_eq!(orgs.len(), 2);
    let riverside = orgs
        .iter()
        .find(|o| o["org"] == "riverside-food-bank")
        .expect("riverside");
    assert_eq!(riverside["file"], "orgs/riverside-food-bank.yaml");
    assert_eq!(riverside["file_sha256"].as_str().map(str::len), Some(64));
    let dana = riverside["changes"]
        .as_array()
        .and_then(|c| {
            c.iter()
                .find(|c| c["address"]["id"] == "dana@riversidefood.org")
        })
        .expect("dana");
    assert_eq!(dana["action"], "create");
    assert_eq!(dana["address"]["kind"], "google_user");
    assert_eq!(dana["source"]["line"], 17);
    assert_eq!(dana["source"]["path"], "modules.accounts.users.0");
    let pw = dana["fields"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["name"] == "password"))
        .expect("password");
    assert_eq!(pw["after"], "(secret)");
    assert_eq!(pw["secret"], true);
    let member = riverside["changes"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["address"]["kind"] == "google_member"))
        .expect("member");
    assert!(
        member["depends_on"]
            .as_array()
            .is_some_and(|d| d.len() == 2),
        "{member}"
    );
}

#[test]
fn saved_plans_apply_and_stale_ones_are_refused() {
    let mut env = Env::examples();
    env.start_lab(&[]);
    let file = "orgs/riverside-food-bank.yaml";
    let original = env.read(file);

    // The org file changed after planning.
    assert_eq!(env.run(&["plan", file, "--out", "p1.json"]).code, 0);
    env.write(file, &original.replace("Marco Ruiz", "Marco A. Ruiz"));
    let stale = env.run(&["apply", "p1.json"]);
    assert_eq!(stale.code, 1, "{stale:?}");
    assert!(
        stale.stdout.contains("saved plan is stale")
            && stale.stdout.contains("changed since the plan was made"),
        "{stale:?}"
    );
    assert_eq!(users(&env.tenant("C03az79cb")).len(), 1, "nothing applied");
    env.write(file, &original);

    // Live state changed after planning.
    assert_eq!(env.run(&["plan", file, "--out", "p2.json"]).code, 0);
    env.lab_post("/_lab/seed", &json!({"customer_id": "C03az79cb", "users": [
        {"primaryEmail": "walkin@riversidefood.org", "name": {"fullName": "Walk In"}, "orgUnitPath": "/", "suspended": false}
    ]}));
    let stale = env.run(&["apply", "p2.json"]);
    assert_eq!(stale.code, 1, "{stale:?}");
    assert!(
        stale
            .stdout
            .contains("live state changed since the plan was made"),
        "{stale:?}"
    );

    // A fresh saved plan applies without asking.
    assert_eq!(env.run(&["plan", file, "--out", "p3.json"]).code, 0);
    let ok = env.run(&["apply", "p3.json"]);
    assert_eq!(ok.code, 0, "{ok:?}");
    assert!(
        ok.stdout.contains("Apply: 11 done, 0 failed, 0 skipped."),
        "{ok:?}"
    );
}

#[test]
fn a_second_apply_on_a_locked_org_is_refused_with_the_holder() {
    let mut env = Env::examples();
    env.start_lab(&[]);
    let dir = env.path(".steward/locks");
    std::fs::create_dir_all(&dir).expect("locks dir");
    let lock = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(dir.join("riverside-food-bank.lock"))
        .expect("lock file");
    lock.try_lock().expect("take the lock");
    std::fs::write(
        dir.join("riverside-food-bank.lock"),
        "alice@laptop (pid 4242) since 2026-11-22T10:00:00Z\n",
    )
    .expect("holder");
    let run = env.run(&["apply", "--yes"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout.contains(
            "org `riverside-food-bank` is locked by another apply: alice@laptop (pid 4242)"
        ),
        "{run:?}"
    );
    // The other org is not held up.
    assert!(
        run.stdout
            .contains("hillside-youth-club: 12 done, 0 failed, 0 skipped"),
        "{run:?}"
    );
    assert_eq!(users(&env.tenant("C03az79cb")).len(), 1);
    drop(lock);
    let run = env.run(&["apply", "--yes"]);
    assert_eq!(run.code, 0, "{run:?}");
}

#[test]
fn injected_faults_and_slow_visibility_converge_without_duplicates() {
    let mut env = Env::examples();
    env.start_lab(&[
        "--fault-rate",
        "0.3",
        "--faults",
        "429,503,500,403,drop",
        "--visibility-ms",
        "200",
    ]);
    let run = env.run(&["apply", "--yes", "--stats"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("Apply: 23 done, 0 failed, 0 skipped."),
        "{run:?}"
    );
    let retries: u64 = run
        .stderr
        .split("retries ")
        .nth(1)
        .and_then(|s| s.trim_end_matches([')', '\n']).parse().ok())
        .expect("stats line");
    assert!(
        retries > 0,
        "faults were injected, so some requests were retried: {run:?}"
    );
    let t = env.tenant("C03az79cb");
    assert_eq!(users(&t).len(), 4);
    assert_eq!(t["groups"].as_array().map(Vec::len), Some(2));
    assert_eq!(t["orgunits"].as_array().map(Vec::len), Some(2));
    assert_eq!(member_count(&t), 4);
    let h = env.tenant("C01hx42kd");
    assert_eq!(users(&h).len(), 4);
    assert_eq!(member_count(&h), 4);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let plan = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{plan:?}");
}

#[test]
fn leavers_follow_the_policy_and_unmanaged_users_are_left_alone() {
    let mut env = Env::examples();
    env.start_lab(&[]);
    assert_eq!(env.run(&["apply", "--yes"]).code, 0);
    env.lab_post("/_lab/seed", &json!({"customer_id": "C03az79cb", "users": [
        {"primaryEmail": "kiosk@riversidefood.org", "name": {"fullName": "Front Kiosk"}, "orgUnitPath": "/", "suspended": false}
    ]}));
    env.drop_lines("orgs/riverside-food-bank.yaml", "priya");
    env.drop_lines("orgs/hillside-youth-club.yaml", "ruth@");

    let plan = env.run(&["plan"]);
    assert_eq!(plan.code, 0, "{plan:?}");
    insta::assert_snapshot!("plan_leavers", plan.stdout);

    let apply = env.run(&["apply", "--yes"]);
    assert_eq!(apply.code, 0, "{apply:?}");
    let t = env.tenant("C03az79cb");
    assert_eq!(
        user(&t, "priya@riversidefood.org").map(|u| u["suspended"].clone()),
        Some(json!(true))
    );
    assert_eq!(
        user(&t, "kiosk@riversidefood.org").map(|u| u["suspended"].clone()),
        Some(json!(false))
    );
    let h = env.tenant("C01hx42kd");
    assert!(
        user(&h, "ruth@hillside-club.org").is_none(),
        "deleted leaver"
    );
    assert_eq!(env.run(&["plan", "--detailed-exitcode"]).code, 0);
}

#[test]
fn changes_made_by_hand_show_as_field_level_drift() {
    let mut env = Env::examples();
    env.start_lab(&[]);
    assert_eq!(env.run(&["apply", "--yes"]).code, 0);
    let t = env.tenant("C03az79cb");
    let mut marco = user(&t, "marco@riversidefood.org").expect("marco").clone();
    marco["name"]["fullName"] = json!("Marco Rossi");
    marco["orgUnitPath"] = json!("/Volunteers");
    env.lab_post(
        "/_lab/seed",
        &json!({"customer_id": "C03az79cb", "users": [marco]}),
    );
    let plan = env.run(&[
        "plan",
        "orgs/riverside-food-bank.yaml",
        "--detailed-exitcode",
    ]);
    assert_eq!(plan.code, 2, "{plan:?}");
    assert!(
        plan.stdout
            .contains("~ google_user[marco@riversidefood.org]  # orgs/riverside-food-bank.yaml:18"),
        "{plan:?}"
    );
    assert!(
        plan.stdout
            .contains(r#"name     = "Marco Rossi" -> "Marco Ruiz""#),
        "{plan:?}"
    );
    assert!(
        plan.stdout
            .contains(r#"org_unit = "/Volunteers" -> "/Staff""#),
        "{plan:?}"
    );
    assert!(
        plan.stdout
            .contains("Plan: 0 to add, 1 to change, 0 to remove."),
        "{plan:?}"
    );
}

#[test]
fn one_org_failing_does_not_stop_the_others() {
    let mut env = Env::examples();
    env.start_lab(&[]);
    // Replace hillside's key after the lab loaded it: its token requests now fail.
    let other = env.read("secrets/riverside-food-bank/google-service-account");
    env.write(
        "secrets/hillside-youth-club/google-service-account",
        &other.replace("riverside-food-bank", "hillside-youth-club"),
    );
    let plan = env.run(&["plan"]);
    assert_eq!(plan.code, 1, "{plan:?}");
    assert!(
        plan.stdout.contains(
            "hillside-youth-club (orgs/hillside-youth-club.yaml)\n  error: authentication failed"
        ),
        "{plan:?}"
    );
    assert!(
        plan.stdout.contains("1 org(s) could not be planned."),
        "{plan:?}"
    );
    let apply = env.run(&["apply", "--yes"]);
    assert_eq!(apply.code, 1, "{apply:?}");
    assert!(
        apply
            .stdout
            .contains("riverside-food-bank: 11 done, 0 failed, 0 skipped"),
        "{apply:?}"
    );
    assert_eq!(users(&env.tenant("C03az79cb")).len(), 4);
    assert_eq!(users(&env.tenant("C01hx42kd")).len(), 1);
}

#[test]
fn a_failed_resource_skips_only_what_depends_on_it() {
    let mut env = Env::new();
    env.write(
        "orgs/o.yaml",
        &org_file("o", "o.org", "C0o", "org_units: [/Staff]\ngroups:\n  - {email: team@o.org, name: Team}\nusers:\n  - {email: ok@o.org, name: Ok User, org_unit: /Staff, groups: [team]}\n  - {email: bad@o.org, name: Bad User, groups: [team]}\n"),
    );
    env.start_lab(&[]);
    env.lab_post("/_lab/faults", &json!({"reject": ["\"bad@o.org\""]}));
    let run = env.run(&["apply", "--yes"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains("failed  + google_user[bad@o.org]: POST admin/directory/v1/users: HTTP 400: Invalid Input"), "{run:?}");
    assert!(run.stdout.contains("skipped + google_member[team@o.org/bad@o.org] (needs google_user[bad@o.org], which failed)"), "{run:?}");
    assert!(
        run.stdout.contains("Apply: 4 done, 1 failed, 1 skipped."),
        "{run:?}"
    );
    let t = env.tenant("C0o");
    assert!(user(&t, "ok@o.org").is_some());
    // The refused create's password is recorded as never used.
    let book = env.read(".steward/passwords/o.tsv");
    let bad: Vec<&str> = book
        .lines()
        .filter(|l| l.contains("\tbad@o.org\t"))
        .collect();
    assert_eq!(bad.len(), 1, "{book}");
    assert!(bad[0].trim_end().ends_with("\tnot-created"), "{book}");
    assert!(
        book.lines()
            .any(|l| l.contains("\tok@o.org\t") && l.trim_end().ends_with("\tcreated")),
        "{book}"
    );
}

#[test]
fn apply_asks_and_only_yes_goes_ahead() {
    let mut env = Env::examples();
    env.start_lab(&[]);
    let mut cmd = env.command(&["apply", "orgs/riverside-food-bank.yaml"]);
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(b"no\n").expect("answer");
    }
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Apply cancelled."));
    assert_eq!(users(&env.tenant("C03az79cb")).len(), 1);
}

#[test]
fn a_change_made_while_apply_waits_for_confirmation_makes_it_refuse() {
    use std::io::{BufRead, Write};
    let mut env = Env::examples();
    env.start_lab(&[]);
    let mut child = env
        .command(&["apply", "orgs/riverside-food-bank.yaml"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    // Wait until the plan is shown and the question asked.
    let mut stderr = std::io::BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    while stderr.read_line(&mut line).expect("read") > 0 && !line.contains("Apply these changes?") {
        line.clear();
    }
    assert!(line.contains("Apply these changes?"), "never asked");
    // Someone else changes the org meanwhile.
    env.lab_post("/_lab/seed", &json!({"customer_id": "C03az79cb", "users": [
        {"primaryEmail": "dana@riversidefood.org", "name": {"fullName": "Dana W"}, "orgUnitPath": "/", "suspended": false}
    ]}));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"yes\n")
        .expect("answer");
    let out = child.wait_with_output().expect("wait");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("live state changed since the plan was made; plan again"),
        "{stdout}"
    );
    assert_eq!(
        users(&env.tenant("C03az79cb")).len(),
        2,
        "nothing applied beyond the hand-made user"
    );
}

#[test]
fn no_secret_value_appears_in_any_output() {
    let mut env = Env::new();
    let initial = "Initial-Pa55word-Do-Not-Leak";
    env.write("secrets/o/initial", initial);
    env.write(
        "orgs/o.yaml",
        &org_file("o", "o.org", "C0o", "users:\n  - {email: a@o.org, name: Alice Ay, password: secret:o/initial}\n  - {email: b@o.org, name: Bea Be}\n"),
    );
    env.start_lab(&[]);
    let key = env.read("secrets/o/google");
    let key_json: Value = serde_json::from_str(&key).expect("key");
    let pem = key_json["private_key"].as_str().expect("pem");
    let key_body: String = pem.lines().nth(2).expect("pem body line").to_string();

    let mut outputs = vec![
        env.run(&["validate"]).all(),
        env.run(&["plan"]).all(),
        env.run(&["plan", "--json"]).all(),
        env.run(&["plan", "--format", "markdown"]).all(),
        env.run(&["drift"]).all(),
        env.run(&["drift", "--format", "json"]).all(),
        env.run(&["drift", "--format", "html"]).all(),
        env.run(&["drift", "--format", "markdown"]).all(),
        env.run(&["graph", "o", "--dot"]).all(),
    ];
    assert_eq!(env.run(&["plan", "--out", "saved.json"]).code, 0);
    outputs.push(env.read("saved.json"));
    outputs.push(env.run(&["apply", "saved.json"]).all());
    outputs.push(env.run(&["plan", "--stats"]).all());
    let mut verbose = env.command(&["plan"]);
    verbose.env("STEWARD_LOG", "trace");
    let out = verbose.output().expect("trace run");
    outputs.push(String::from_utf8_lossy(&out.stderr).into_owned());

    // Diagnostics of the hostile kind: an org file that links to the key, another org
    // naming this org's secret, a passphrase that is not one, an edited saved plan.
    let mut plan: Value = serde_json::from_str(&env.read("saved.json")).expect("plan");
    if let Some(changes) = plan["orgs"][0]["changes"].as_array_mut() {
        changes.push(serde_json::json!({"address": {"kind": "google_user", "id": "a@o.org"}, "module": "accounts", "action": "delete", "fields": []}));
    }
    env.write("edited.json", &plan.to_string());
    outputs.push(env.run(&["apply", "edited.json"]).all());
    std::os::unix::fs::symlink(env.path("secrets/o/google"), env.path("orgs/link.yaml"))
        .expect("symlink");
    env.write(
        "orgs/p.yaml",
        &org_file(
            "p",
            "p.org",
            "C0p",
            "users:\n  - {email: a@p.org, name: Alice Ay, password: secret:o/initial}\n",
        ),
    );
    env.write(
        "orgs/w.yaml",
        "org: w\nname: w\nhosts:\n  ap: {address: 192.0.2.8}\nmodules:\n  base: {}\n  wifi:\n    access_points: [ap]\n    networks:\n      - {ssid: W, passphrase: secret:w/pass}\n",
    );
    env.write("secrets/w/pass", &format!("{initial}\nwith a second line"));
    outputs.push(env.run(&["validate"]).all());
    outputs.push(env.run(&["plan"]).all());

    let pw_file = env.path(".steward/passwords/o.tsv");
    let mode = std::fs::metadata(&pw_file)
        .expect("password file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "generated passwords are operator-only");
    let generated: Vec<String> = env
        .read(".steward/passwords/o.tsv")
        .lines()
        .filter_map(|l| l.split('\t').nth(2).map(str::to_string))
        .collect();
    assert_eq!(
        generated.len(),
        1,
        "one generated password (Bea); Alice's came from a secret"
    );

    for (i, text) in outputs.iter().enumerate() {
        assert!(
            !text.contains(initial),
            "output {i} leaks the initial password:\n{text}"
        );
        assert!(
            !text.contains(&key_body),
            "output {i} leaks the private key:\n{text}"
        );
        assert!(
            !text.contains("PRIVATE KEY"),
            "output {i} mentions a private key:\n{text}"
        );
        for g in &generated {
            assert!(
                !text.contains(g.as_str()),
                "output {i} leaks a generated password:\n{text}"
            );
        }
        assert!(
            !text.contains("ya29."),
            "output {i} leaks an access token:\n{text}"
        );
    }
}

#[test]
fn a_pool_wide_apply_works_on_several_orgs_at_once() {
    let mut env = Env::new();
    let orgs = ["a", "b", "c", "d"];
    for id in orgs {
        let users: String = (0..6)
            .map(|i| format!("  - {{email: u{i}@{id}.org, name: User {i}}}\n"))
            .collect();
        env.write(
            &format!("orgs/{id}.yaml"),
            &org_file(
                id,
                &format!("{id}.org"),
                &format!("C0{id}"),
                &format!("users:\n{users}"),
            ),
        );
    }
    env.start_lab(&["--latency-ms", "40"]);
    assert_eq!(env.run(&["plan", "--out", "saved.json"]).code, 0);
    env.lab_post("/_lab/stats/reset", &serde_json::json!({}));
    let apply = env.run(&["apply", "saved.json"]);
    assert_eq!(apply.code, 0, "{apply:?}");
    assert!(
        apply
            .stdout
            .contains("Apply: 24 done, 0 failed, 0 skipped."),
        "{apply:?}"
    );
    // Reports stay in the plan's order.
    let order: Vec<usize> = orgs
        .iter()
        .map(|id| {
            apply
                .stdout
                .find(&format!("{id}: 6 done"))
                .unwrap_or(usize::MAX)
        })
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{apply:?}");
    // One org after another would switch tenants three times; at once, many more.
    let arrivals = env.lab_get("/_lab/stats")["arrivals"].clone();
    let tenants: Vec<&str> = arrivals
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str())
        .collect();
    let switches = tenants.windows(2).filter(|w| w[0] != w[1]).count();
    assert!(switches > orgs.len(), "{switches} switches: {tenants:?}");
}

#[test]
fn values_the_pool_file_gives_are_cited_at_their_line_in_steward_yaml() {
    let mut env = Env::examples();
    env.start_lab(&[]);
    // Hillside's org units come from steward.yaml's `modules:` instead of its own file.
    let units = "org_units: [/Staff, /Staff/Coaches, /Board]";
    let hillside = env.read("orgs/hillside-youth-club.yaml");
    assert!(hillside.contains(units), "{hillside}");
    env.write(
        "orgs/hillside-youth-club.yaml",
        &hillside.replace(&format!("    {units}\n"), ""),
    );
    let pool = format!(
        "{}\nmodules:\n  accounts:\n    {units}\n",
        env.read("steward.yaml")
    );
    env.write("steward.yaml", &pool);
    let line = pool.lines().position(|l| l.contains(units)).expect("line") + 1;

    let run = env.run(&["plan", "--json", "hillside-youth-club"]);
    assert_eq!(run.code, 0, "{run:?}");
    let plan: Value = serde_json::from_str(&run.stdout).expect("JSON plan");
    let board = plan["orgs"][0]["changes"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["address"]["id"] == "/Board"))
        .expect("the /Board org unit");
    assert_eq!(board["source"]["file"], "steward.yaml", "{board}");
    assert_eq!(board["source"]["line"], line, "{board}");
    assert_eq!(
        board["reason"], "the pool's inputs for the module, in steward.yaml",
        "{board}"
    );
    // The org's own values still cite the org file.
    let user = plan["orgs"][0]["changes"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["address"]["kind"] == "google_user"))
        .expect("a user");
    assert_eq!(user["source"]["file"], "orgs/hillside-youth-club.yaml");
    assert!(user["reason"].is_null(), "{user}");

    let text = env.run(&["plan", "hillside-youth-club"]);
    assert!(
        text.stdout.contains(&format!(
            "+ google_org_unit[/Board] (the pool's inputs for the module, in steward.yaml)  # steward.yaml:{line}"
        )),
        "{text:?}"
    );
    let graph = env.run(&["graph", "hillside-youth-club"]);
    assert!(
        graph.stdout.contains(&format!(
            "google_org_unit[/Board]  # the pool's inputs, steward.yaml line {line}"
        )),
        "{graph:?}"
    );
}
