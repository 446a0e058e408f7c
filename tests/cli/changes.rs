//! `--changed-since` and `--shard` against a real git repository made in the test,
//! and the Markdown plan for reviews.

use serde_json::{Value, json};

use crate::support::{Env, org_file, user, write_module};

/// Three orgs in a git repository: `a` uses accounts only, `b` also `extra`, `c` also
/// `reports`, which requires `meta`.
fn pool() -> Env {
    let env = Env::new();
    write_module(&env, "extra", &[]);
    write_module(&env, "meta", &[]);
    write_module(&env, "reports", &["meta"]);
    let accounts = "users:\n  - {email: ann@X.org, name: Ann Example}\n";
    for (id, more) in [
        ("a", ""),
        ("b", "  extra: {}\n"),
        ("c", "  meta: {}\n  reports: {}\n"),
    ] {
        let body = org_file(
            id,
            &format!("{id}.org"),
            &format!("C0{id}"),
            &accounts.replace('X', id),
        );
        env.write(&format!("orgs/{id}.yaml"), &format!("{body}{more}"));
        env.write(&format!("secrets/{id}/google"), "unused until planned");
    }
    env.write(".gitignore", "secrets/\n.steward/\n.lab-url\n");
    env.write("README.md", "the pool\n");
    env.git(&["init", "-q"]);
    env.commit("base");
    env
}

/// `steward orgs --json` for these arguments: (selected ids, deleted ids).
fn selected(env: &Env, args: &[&str]) -> (Vec<String>, Vec<String>, Value) {
    let mut full = vec!["orgs", "--json"];
    full.extend_from_slice(args);
    let run = env.run(&full);
    assert_eq!(run.code, 0, "{run:?}");
    let v: Value = serde_json::from_str(&run.stdout).expect("orgs --json");
    let ids = |key: &str| -> Vec<String> {
        v[key]
            .as_array()
            .expect("array")
            .iter()
            .map(|o| o["org"].as_str().expect("org").to_string())
            .collect()
    };
    (ids("orgs"), ids("deleted"), v)
}

fn append(env: &Env, rel: &str, text: &str) {
    let mut body = env.read(rel);
    body.push_str(text);
    env.write(rel, &body);
}

#[test]
fn changed_since_selects_by_org_file_module_and_pool_file() {
    let env = pool();
    let base = env.git(&["rev-parse", "HEAD"]).trim().to_string();
    assert_eq!(
        selected(&env, &["--changed-since", "HEAD"]).0,
        Vec::<String>::new()
    );

    // One org file.
    append(&env, "orgs/a.yaml", "# reviewed\n");
    let (ids, _, v) = selected(&env, &["--changed-since", "HEAD"]);
    assert_eq!(ids, ["a"], "uncommitted edits count");
    assert_eq!(v["orgs"][0]["reasons"], json!(["org file changed"]));
    env.commit("touch a");
    assert_eq!(selected(&env, &["--changed-since", "HEAD~1"]).0, ["a"]);

    // A module: only the orgs that use it.
    append(&env, "modules/extra/t.hbs", "# comment\n");
    env.commit("touch extra");
    let (ids, _, v) = selected(&env, &["--changed-since", "HEAD~1"]);
    assert_eq!(ids, ["b"]);
    assert_eq!(
        v["orgs"][0]["reasons"],
        json!(["uses module extra, which changed"])
    );

    // A module another module requires.
    append(&env, "modules/meta/module.yaml", "# comment\n");
    env.commit("touch meta");
    assert_eq!(selected(&env, &["--changed-since", "HEAD~1"]).0, ["c"]);

    // The module every org uses.
    append(&env, "modules/accounts/module.yaml", "# comment\n");
    env.commit("touch accounts");
    assert_eq!(
        selected(&env, &["--changed-since", "HEAD~1"]).0,
        ["a", "b", "c"]
    );

    // The pool file: every org.
    append(&env, "steward.yaml", "# comment\n");
    env.commit("touch pool");
    let (ids, _, v) = selected(&env, &["--changed-since", "HEAD~1"]);
    assert_eq!(ids, ["a", "b", "c"]);
    assert_eq!(v["orgs"][1]["reasons"], json!(["steward.yaml changed"]));

    // Files that are neither: nothing.
    append(&env, "README.md", "more\n");
    env.commit("touch readme");
    assert_eq!(
        selected(&env, &["--changed-since", "HEAD~1"]).0,
        Vec::<String>::new()
    );

    // A range of commits: the union, each org once.
    assert_eq!(
        selected(&env, &["--changed-since", &base]).0,
        ["a", "b", "c"]
    );
    assert_eq!(
        selected(&env, &["--changed-since", "HEAD~4"]).0,
        ["a", "b", "c"],
        "accounts and the pool file changed within the last four commits"
    );

    // A new org file, not yet committed (untracked), is selected too.
    env.write("orgs/d.yaml", &org_file("d", "d.org", "C0d", "users: []\n"));
    assert_eq!(selected(&env, &["--changed-since", "HEAD"]).0, ["d"]);
}

#[test]
fn deleted_org_files_are_reported_in_every_format() {
    let env = pool();
    env.git(&["rm", "-q", "orgs/a.yaml"]);
    append(&env, "orgs/b.yaml", "# touched\n");
    env.commit("retire a");

    let (ids, deleted, _) = selected(&env, &["--changed-since", "HEAD~1"]);
    assert_eq!(ids, ["b"]);
    assert_eq!(deleted, ["a"]);

    // Plan needs no network when it plans no org: keep only the deletion.
    env.git(&["checkout", "-q", "HEAD~1", "--", "orgs/b.yaml"]);
    let text = env.run(&["plan", "--changed-since", "HEAD~1", "--detailed-exitcode"]);
    assert_eq!(text.code, 0, "{text:?}");
    assert!(
        text.stdout
            .contains("deleted: a (orgs/a.yaml): its org file was deleted"),
        "{text:?}"
    );
    assert!(text.stderr.contains("orgs/a.yaml: deleted"), "{text:?}");

    let md = env.run(&["plan", "--changed-since", "HEAD~1", "--format", "markdown"]);
    assert!(
        md.stdout
            .contains("> [!WARNING]\n> **Org file deleted:** `orgs/a.yaml` (`a`)"),
        "{md:?}"
    );
    assert!(md.stdout.contains("No org was selected."), "{md:?}");

    let json = env.run(&["plan", "--changed-since", "HEAD~1", "--json"]);
    let plan: Value = serde_json::from_str(&json.stdout).expect("json");
    assert_eq!(
        plan["deleted_orgs"],
        json!([{"org": "a", "file": "orgs/a.yaml"}])
    );
    assert_eq!(plan["orgs"], json!([]));
}

#[test]
fn shallow_checkouts_work_when_the_revision_is_there_and_say_so_when_not() {
    let env = pool();
    append(&env, "orgs/a.yaml", "# one\n");
    env.commit("one");
    append(&env, "orgs/b.yaml", "# two\n");
    env.commit("two");
    let origin = format!("file://{}", env.path("").display());

    let shallow = Env::new();
    std::fs::remove_dir_all(shallow.path("")).expect("empty the folder");
    let clone = |depth: &str| {
        let _ = std::fs::remove_dir_all(shallow.path(""));
        let out = std::process::Command::new("git")
            .args(["clone", "-q", "--depth", depth, &origin])
            .arg(shallow.path(""))
            .output()
            .expect("git clone");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };

    clone("2");
    assert_eq!(selected(&shallow, &["--changed-since", "HEAD~1"]).0, ["b"]);

    clone("1");
    let run = shallow.run(&["plan", "--changed-since", "HEAD~1"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr
            .contains("revision `HEAD~1` is not in this shallow checkout"),
        "{run:?}"
    );
    assert!(
        run.stderr.contains("fetch-depth") && run.stderr.contains("GIT_DEPTH"),
        "{run:?}"
    );
    assert!(!run.stdout.contains("Plan:"), "nothing planned: {run:?}");

    let unknown = env.run(&["orgs", "--changed-since", "no-such-branch"]);
    assert_eq!(unknown.code, 1, "{unknown:?}");
    assert!(
        unknown.stderr.contains("not known to this repository"),
        "{unknown:?}"
    );
    let option = env.run(&["orgs", "--changed-since=--output=/tmp/x"]);
    assert_eq!(option.code, 1, "{option:?}");
    assert!(
        option.stderr.contains("must not start with `-`"),
        "{option:?}"
    );
}

#[test]
fn not_a_git_repository_is_a_clear_error() {
    let env = Env::new();
    env.write("orgs/a.yaml", &org_file("a", "a.org", "C0a", "users: []\n"));
    // The temporary folder is outside any repository; make sure git agrees.
    let mut cmd = env.command(&["orgs", "--changed-since", "HEAD"]);
    cmd.env(
        "GIT_CEILING_DIRECTORIES",
        env.path("").parent().expect("parent"),
    );
    let out = cmd.output().expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("is not inside a git repository"),
        "{stderr}"
    );
}

#[test]
fn shards_cover_every_org_exactly_once() {
    let mut env = Env::new();
    for i in 0..11 {
        let id = format!("org{i:02}");
        env.write(
            &format!("orgs/{id}.yaml"),
            &org_file(&id, &format!("{id}.org"), &format!("C{id}"), "users: []\n"),
        );
    }
    let (all, _, _) = selected(&env, &["--all"]);
    assert_eq!(all.len(), 11);
    for n in [1, 2, 3, 4, 11, 13] {
        let mut seen: Vec<String> = Vec::new();
        for i in 1..=n {
            let (part, _, _) = selected(&env, &["--all", "--shard", &format!("{i}/{n}")]);
            assert!(
                part.len() <= 11 / n + 1,
                "shard {i}/{n} is unbalanced: {part:?}"
            );
            // Same answer every time.
            assert_eq!(
                part,
                selected(&env, &["--all", "--shard", &format!("{i}/{n}")]).0
            );
            seen.extend(part);
        }
        seen.sort();
        assert_eq!(seen, all, "{n} shards");
    }
    let bad = env.run(&["orgs", "--shard", "0/3"]);
    assert_eq!(bad.code, 2, "clap usage error: {bad:?}");
    assert!(bad.stderr.contains("write I/N with 1 <= I <= N"), "{bad:?}");
    // Shards apply to what validate checks too. Its secrets come in one JSON bundle,
    // as GitHub Actions hands them over with `toJSON(secrets)`.
    let bundle: serde_json::Map<String, Value> = (0..11)
        .map(|i| (format!("STEWARD_SECRET_ORG{i:02}_GOOGLE"), json!("unused")))
        .collect();
    env.extra_env.push((
        "STEWARD_SECRETS_JSON".into(),
        Value::Object(bundle).to_string(),
    ));
    let v = env.run(&["validate", "--shard", "2/4"]);
    assert_eq!(v.code, 0, "{v:?}");
    assert!(v.stderr.contains("3 org file(s) valid."), "{v:?}");
}

#[test]
fn apply_changed_since_touches_only_the_changed_orgs() {
    let mut env = Env::examples();
    env.write(".gitignore", "secrets/\n.steward/\n.lab-url\n");
    env.git(&["init", "-q"]);
    env.commit("base");
    env.start_lab(&[]);
    assert_eq!(env.run(&["apply", "--yes"]).code, 0);

    // Hillside drifts by hand; riverside's file changes in a commit.
    let t = env.tenant("C01hx42kd");
    let mut sam = user(&t, "sam@hillsideyouth.org").expect("sam").clone();
    sam["name"]["fullName"] = json!("Sam Changed-By-Hand");
    env.lab_post(
        "/_lab/seed",
        &json!({"customer_id": "C01hx42kd", "users": [sam]}),
    );
    let text = env
        .read("orgs/riverside-food-bank.yaml")
        .replace("Marco Ruiz", "Marco Ruiz-Vega");
    env.write("orgs/riverside-food-bank.yaml", &text);
    env.commit("rename marco");

    let plan = env.run(&["plan", "--changed-since", "HEAD~1", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{plan:?}");
    assert!(plan.stdout.contains("riverside-food-bank"), "{plan:?}");
    assert!(!plan.stdout.contains("hillside-youth-club"), "{plan:?}");

    let apply = env.run(&["apply", "--changed-since", "HEAD~1", "--yes"]);
    assert_eq!(apply.code, 0, "{apply:?}");
    assert!(
        apply.stdout.contains("Apply: 1 done, 0 failed, 0 skipped."),
        "{apply:?}"
    );
    let t = env.tenant("C03az79cb");
    assert_eq!(
        user(&t, "marco@riversidefood.org").expect("marco")["name"]["fullName"],
        "Marco Ruiz-Vega"
    );
    // Hillside was not selected, so its drift is still there.
    let t = env.tenant("C01hx42kd");
    assert_eq!(
        user(&t, "sam@hillsideyouth.org").expect("sam")["name"]["fullName"],
        "Sam Changed-By-Hand"
    );
    let after = env.run(&["plan", "--changed-since", "HEAD~1", "--detailed-exitcode"]);
    assert_eq!(after.code, 0, "{after:?}");
}

#[test]
fn markdown_plan_for_reviews() {
    let mut env = Env::examples();
    env.write(
        "secrets/hillside-youth-club/first-password",
        "Do-Not-Show-This-1",
    );
    env.start_lab(&[]);
    assert_eq!(env.run(&["apply", "--yes"]).code, 0);
    // A leaver, a group renamed to something that tries to break the page (group names
    // are free text to Google; people's names are not), and a newcomer.
    env.drop_lines("orgs/riverside-food-bank.yaml", "marco@");
    let text = env.read("orgs/riverside-food-bank.yaml").replace(
        "name: Volunteers,",
        "name: \"Volunteer rota `x` </details><b>x</b>\",",
    );
    env.write("orgs/riverside-food-bank.yaml", &text);
    let text = env.read("orgs/hillside-youth-club.yaml").replace(
        "    leavers:",
        "      - {email: new@hillsideyouth.org, name: New Person, org_unit: /Staff, password: secret:hillside-youth-club/first-password}\n    leavers:",
    );
    env.write("orgs/hillside-youth-club.yaml", &text);

    let md = env.run(&["plan", "--format", "markdown", "--detailed-exitcode"]);
    assert_eq!(md.code, 2, "{md:?}");
    assert!(!md.all().contains("Do-Not-Show-This-1"), "{md:?}");
    // Destructive changes come first, in an org section that is open by default.
    let body = &md.stdout;
    let suspend = body.find("(leaver: suspend)").expect("suspension");
    let rename = body.find("Volunteer rota").expect("rename");
    assert!(suspend < rename, "destructive first:\n{body}");
    insta::assert_snapshot!("markdown_plan", body);
}
