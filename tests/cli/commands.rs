//! `graph`, `modules`, and replies that come too late.

use crate::support::{Env, org_file, users};

#[test]
fn graph_shows_modules_resources_and_dependencies() {
    let env = Env::examples();
    assert_eq!(env.run(&["lab", "init"]).code, 0);
    let text = env.run(&["graph", "hillside-youth-club"]);
    assert_eq!(text.code, 0, "{text:?}");
    assert!(
        text.stdout
            .starts_with("org hillside-youth-club\nmodule accounts\n"),
        "{text:?}"
    );
    assert!(
        text.stdout
            .contains("  google_org_unit[/Staff/Coaches] <- google_org_unit[/Staff]\n"),
        "{text:?}"
    );
    assert!(
        text.stdout.contains("  google_member[board@hillside-club.org/coaches@hillsideyouth.org] <- google_group[board@hillside-club.org], google_group[coaches@hillsideyouth.org]\n")
            || text.stdout.contains("  google_member[board@hillside-club.org/coaches@hillsideyouth.org] <- google_group[coaches@hillsideyouth.org], google_group[board@hillside-club.org]\n"),
        "{text:?}"
    );
    let dot = env.run(&["graph", "orgs/hillside-youth-club.yaml", "--dot"]);
    assert_eq!(dot.code, 0, "{dot:?}");
    assert!(
        dot.stdout.starts_with("digraph \"hillside-youth-club\" {"),
        "{dot:?}"
    );
    assert!(
        dot.stdout.contains(
            "\"google_user[lee@hillsideyouth.org]\" -> \"google_org_unit[/Staff/Coaches]\";"
        ),
        "{dot:?}"
    );
    let missing = env.run(&["graph", "nobody"]);
    assert_eq!(missing.code, 1);
    assert!(missing.stderr.contains("no org file"), "{missing:?}");
}

#[test]
fn modules_lists_the_catalogue_with_inputs() {
    let env = Env::new();
    let run = env.run(&["modules"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout
            .starts_with("accounts: Google Workspace org units, users, groups and group members\n"),
        "{run:?}"
    );
    for input in ["org_units", "groups", "users", "leavers"] {
        assert!(
            run.stdout.contains(&format!("  {input}")),
            "{input}: {run:?}"
        );
    }
}

#[test]
fn replies_that_time_out_after_the_work_is_done_converge_without_duplicates() {
    let mut env = Env::new();
    env.write(
        "steward.yaml",
        "pool: t\nsecrets: {dir: secrets}\ngoogle: {request_timeout_secs: 1, retry_for_secs: 60}\n",
    );
    env.write(
        "orgs/o.yaml",
        &org_file("o", "o.org", "C0o", "groups:\n  - {email: team@o.org, name: Team}\nusers:\n  - {email: a@o.org, name: A A, groups: [team]}\n  - {email: b@o.org, name: B B, groups: [team]}\n  - {email: c@o.org, name: C C, groups: [team]}\n"),
    );
    env.start_lab(&[
        "--fault-rate",
        "0.3",
        "--faults",
        "timeout",
        "--timeout-ms",
        "1500",
    ]);
    let run = env.run(&["apply", "--yes", "--stats"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("Apply: 7 done, 0 failed, 0 skipped."),
        "{run:?}"
    );
    assert!(
        !run.stderr.contains("retries 0)"),
        "some replies timed out and were retried: {run:?}"
    );
    let t = env.tenant("C0o");
    let users = users(&t);
    assert_eq!(users.len(), 4, "admin + 3, no duplicates: {users:?}");
    let members = t["members"]["team@o.org"].as_array().map(Vec::len);
    assert_eq!(members, Some(3));
    assert_eq!(t["groups"].as_array().map(Vec::len), Some(1));
}
