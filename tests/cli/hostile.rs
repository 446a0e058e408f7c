//! Hostile and broken input: what a pull request author (or a shell pipeline) can throw
//! at Steward. Nothing may crash it, leak a secret, or cross from one org to another.

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;

use crate::support::{Env, org_file, users};

/// Runs steward with its standard output already closed by the reader.
fn with_closed_stdout(env: &Env, args: &[&str]) -> (std::process::ExitStatus, String) {
    let mut child = env
        .command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_closed_pipe_ends_read_only_commands_quietly_and_never_cuts_an_apply_short() {
    let mut env = Env::examples();
    for args in [&["modules"][..], &["orgs"][..], &["validate"][..]] {
        env.run(&["lab", "init"]);
        let (status, stderr) = with_closed_stdout(&env, args);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_ne!(status.code(), Some(101), "{args:?}: {stderr}");
        assert!(
            status.signal() == Some(13) || status.success(),
            "{args:?}: ended by SIGPIPE or done: {status:?} {stderr}"
        );
    }
    env.write(
        "orgs/o.yaml",
        &org_file(
            "o",
            "o.org",
            "C0o",
            "users:\n  - {email: dana@o.org, name: Dana Whitfield}\n",
        ),
    );
    env.start_lab(&[]);
    let (status, stderr) = with_closed_stdout(&env, &["apply", "--yes", "orgs/o.yaml"]);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(status.success(), "{status:?} {stderr}");
    assert!(users(&env.tenant("C0o")).contains(&"dana@o.org".to_string()));
}

#[test]
fn an_edited_saved_plan_is_refused_saying_what_differs() {
    let mut env = Env::new();
    env.write(
        "orgs/o.yaml",
        &org_file(
            "o",
            "o.org",
            "C0o",
            "users:\n  - {email: dana@o.org, name: Dana Whitfield}\n  - {email: sam@o.org, name: Sam Okafor}\n",
        ),
    );
    env.start_lab(&[]);
    assert_eq!(env.run(&["apply", "--yes"]).code, 0);
    // A change to the file, saved as a plan, then edited: a delete of a user is added
    // and the summary left saying nothing is removed.
    let text = env
        .read("orgs/o.yaml")
        .replace("Sam Okafor", "Sam Okafor-Reid");
    env.write("orgs/o.yaml", &text);
    let saved = env.run(&["plan", "--out", "plan.json"]);
    assert_eq!(saved.code, 0, "{saved:?}");
    let mut plan: serde_json::Value =
        serde_json::from_str(&env.read("plan.json")).expect("plan json");
    let delete = serde_json::json!({
        "address": {"kind": "google_user", "id": "dana@o.org"},
        "module": "accounts", "action": "delete", "fields": []
    });
    plan["orgs"][0]["changes"]
        .as_array_mut()
        .expect("changes")
        .push(delete);
    env.write("plan.json", &plan.to_string());
    let run = env.run(&["apply", "plan.json"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout
            .contains("Plan: 0 to add, 1 to change, 1 to remove."),
        "the summary shown counts the changes the file holds: {run:?}"
    );
    assert!(
        run.stdout
            .contains("only in the plan: - google_user[dana@o.org]"),
        "{run:?}"
    );
    assert!(
        users(&env.tenant("C0o")).contains(&"dana@o.org".to_string()),
        "nothing deleted"
    );
    // A plan naming a file outside the pool is refused before anything is read.
    plan["orgs"][0]["file"] = serde_json::json!("orgs/../secrets/o/google.yaml");
    env.write("plan.json", &plan.to_string());
    let run = env.run(&["apply", "plan.json"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("a plan's org files are orgs/"),
        "{run:?}"
    );
    assert!(!run.all().contains("PRIVATE KEY"), "{run:?}");
}
