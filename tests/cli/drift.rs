//! `steward drift`: read-only, findings classified, history across runs, accepted drift.
//! Drift is produced for real: changes made in the lab behind Steward's back.

use serde_json::{Value, json};

use crate::support::drift::drifted;
use crate::support::{Env, user};

/// Findings of one org in a JSON report: (category, title) pairs.
fn findings(report: &Value, org: &str, list: &str) -> Vec<(String, String)> {
    report["orgs"]
        .as_array()
        .expect("orgs")
        .iter()
        .find(|o| o["org"] == org)
        .and_then(|o| o[list].as_array())
        .map(|fs| {
            fs.iter()
                .map(|f| {
                    let f = if list == "accepted" { &f["finding"] } else { f };
                    (
                        f["category"].as_str().unwrap_or_default().to_string(),
                        f["title"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn drift_json(env: &Env, extra: &[&str]) -> (i32, Value, String) {
    let mut args = vec!["drift", "--format", "json"];
    args.extend_from_slice(extra);
    let run = env.run(&args);
    let v = serde_json::from_str(&run.stdout).unwrap_or_else(|_| panic!("{run:?}"));
    (run.code, v, run.stderr)
}

#[test]
fn drift_classifies_what_changed_by_hand_and_writes_nothing() {
    let env = drifted();
    env.lab_post("/_lab/stats/reset", &json!({}));
    let before = env.lab_get("/_lab/dump");
    let (code, report, stderr) = drift_json(&env, &[]);
    assert_eq!(code, 2, "{stderr}");
    let stats = env.lab_get("/_lab/stats");
    let requests = stats["requests"].as_object().expect("requests by route");
    assert!(requests.contains_key("GET users"), "{stats}");
    for route in requests.keys() {
        assert!(
            route.starts_with("GET ") || route == "token",
            "drift made a write request ({route}): {stats}"
        );
    }
    assert_eq!(env.lab_get("/_lab/dump"), before, "live state unchanged");

    let mut hillside = findings(&report, "hillside-youth-club", "findings");
    hillside.sort();
    assert_eq!(
        hillside,
        [(
            "changed".to_string(),
            r#"User sam@hillsideyouth.org: name is "Samuel Okafor", the org file says "Sam Okafor""#.to_string()
        )]
    );
    let mut riverside = findings(&report, "riverside-food-bank", "findings");
    riverside.sort();
    let expected = [
        (
            "missing",
            "Group member volunteers@riversidefood.org/priya@riversidefood.org: in the org file, but not found live",
        ),
        (
            "missing",
            "User priya@riversidefood.org: in the org file, but not found live",
        ),
        (
            "unmanaged",
            "User kiosk@riversidefood.org: exists live, but is in no org file",
        ),
        (
            "unmanaged",
            "kiosk@riversidefood.org is a member of group staff@riversidefood.org, which the org file does not list",
        ),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(riverside, expected);
    assert_eq!(report["summary"]["findings"], 5);
    assert_eq!(report["summary"]["new"], 5);
    let changed = &report["orgs"][0]["findings"][0];
    assert_eq!(changed["fields"][0]["before"], "Samuel Okafor");
    assert_eq!(
        changed["fix"],
        "steward apply orgs/hillside-youth-club.yaml"
    );
    assert_eq!(changed["source"]["line"], 18);

    // The text report and its exit code, for people.
    let text = env.run(&["drift", "--no-record"]);
    assert_eq!(text.code, 2, "{text:?}");
    assert!(
        text.stdout.contains("2 orgs need attention, 5 findings"),
        "{text:?}"
    );
    assert!(text.stdout.contains("[ongoing since "), "{text:?}");
}

#[test]
fn history_shows_new_then_ongoing_then_resolved() {
    let env = drifted();
    let (_, first, _) = drift_json(&env, &[]);
    assert_eq!(first["summary"]["new"], 5);
    let first_at = first["created_at"]
        .as_str()
        .expect("created_at")
        .to_string();

    let (_, second, _) = drift_json(&env, &[]);
    assert_eq!(second["summary"]["new"], 0);
    assert_eq!(second["summary"]["ongoing"], 5);
    let sam = &second["orgs"][0]["findings"][0]["seen"];
    assert_eq!(sam["state"], "ongoing");
    assert_eq!(sam["first_seen"], first_at.as_str());

    // Someone puts Sam's name back by hand, and Priya returns via apply.
    let t = env.tenant("C01hx42kd");
    let mut sam = user(&t, "sam@hillsideyouth.org").expect("sam").clone();
    sam["name"]["fullName"] = json!("Sam Okafor");
    env.lab_post(
        "/_lab/seed",
        &json!({"customer_id": "C01hx42kd", "users": [sam]}),
    );
    let (code, third, _) = drift_json(&env, &[]);
    assert_eq!(code, 2, "the kiosk is still there");
    assert_eq!(third["summary"]["resolved"], 1);
    let resolved = &third["orgs"][0]["resolved"][0];
    assert!(
        resolved["title"]
            .as_str()
            .unwrap_or_default()
            .contains("Samuel Okafor"),
        "{resolved}"
    );
    assert_eq!(resolved["first_seen"], first_at.as_str());
    assert_eq!(third["orgs"][0]["findings"], json!([]));

    // --no-record compares without writing: the next recorded run still sees "resolved"
    // against the third run, not against this one.
    let (_, dry, _) = drift_json(&env, &["--no-record"]);
    assert_eq!(dry["summary"]["resolved"], 0);
    assert_eq!(dry["summary"]["ongoing"], 4);
}

#[test]
fn accepted_drift_is_listed_apart_until_its_date() {
    let env = drifted();
    let accept = |until: &str| {
        let text = env.read("orgs/riverside-food-bank.yaml");
        let base = text
            .split("accepted_drift:")
            .next()
            .unwrap_or(&text)
            .to_string();
        env.write(
            "orgs/riverside-food-bank.yaml",
            &format!(
                "{base}accepted_drift:\n  - {{resource: \"google_user[kiosk@riversidefood.org]\", reason: Shared kiosk login until the new terminal, until: {until}}}\n"
            ),
        );
    };
    accept("2099-12-31");
    let (_, report, _) = drift_json(&env, &[]);
    let accepted = findings(&report, "riverside-food-bank", "accepted");
    assert_eq!(accepted.len(), 1, "{report:#}");
    assert!(accepted[0].1.starts_with("User kiosk@riversidefood.org"));
    assert_eq!(
        report["orgs"][1]["accepted"][0]["reason"],
        "Shared kiosk login until the new terminal"
    );
    assert_eq!(
        report["summary"]["findings"], 4,
        "the kiosk user is not counted as drift"
    );

    accept("2020-01-31");
    let (_, report, _) = drift_json(&env, &[]);
    assert_eq!(
        findings(&report, "riverside-food-bank", "accepted").len(),
        0
    );
    let kiosk = report["orgs"][1]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["address"]["id"] == "kiosk@riversidefood.org")
        .cloned()
        .expect("back as drift");
    assert_eq!(kiosk["accepted_until"], "2020-01-31");

    // A bad acceptance is a validation error at its line, and nothing is checked.
    let text = env
        .read("orgs/riverside-food-bank.yaml")
        .replace("google_user[kiosk", "google_usr[kiosk");
    env.write("orgs/riverside-food-bank.yaml", &text);
    let run = env.run(&["validate", "--json"]);
    assert_eq!(run.code, 1, "{run:?}");
    let problem: Value =
        serde_json::from_str(run.stdout.lines().next().expect("a problem")).expect("json");
    assert_eq!(problem["code"], "bad_address");
    assert_eq!(problem["line"], 22);
    assert!(
        problem["message"]
            .as_str()
            .unwrap_or_default()
            .contains("`google_usr` is not a resource kind")
    );
    let bad_date = env
        .read("orgs/riverside-food-bank.yaml")
        .replace("google_usr[", "google_user[")
        .replace("2020-01-31", "2020-02-30");
    env.write("orgs/riverside-food-bank.yaml", &bad_date);
    let run = env.run(&["drift"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr
            .contains("`2020-02-30` is not a date: write YYYY-MM-DD"),
        "{run:?}"
    );
}

#[test]
fn an_org_that_cannot_be_checked_does_not_stop_the_others_or_resolve_its_findings() {
    let env = drifted();
    let (_, first, _) = drift_json(&env, &[]);
    assert_eq!(first["summary"]["findings"], 5);
    // Hillside's key stops working.
    let other = env.read("secrets/riverside-food-bank/google-service-account");
    env.write(
        "secrets/hillside-youth-club/google-service-account",
        &other.replace("riverside-food-bank", "hillside-youth-club"),
    );
    let (code, report, _) = drift_json(&env, &[]);
    assert_eq!(code, 1);
    assert!(
        report["orgs"][0]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("authentication failed"),
        "{report:#}"
    );
    assert_eq!(report["summary"]["orgs_not_checked"], 1);
    assert_eq!(
        report["summary"]["findings"], 4,
        "riverside was still checked"
    );
    assert_eq!(
        report["summary"]["resolved"], 0,
        "hillside's finding is unknown, not resolved"
    );
    let text = env.run(&["drift", "--no-record"]);
    assert!(
        text.stdout
            .contains("could not be checked: authentication failed"),
        "{text:?}"
    );
}

#[test]
fn html_and_markdown_reports_escape_what_comes_from_live_systems() {
    let env = drifted();
    let html = env.run(&["drift", "--format", "html"]);
    assert_eq!(html.code, 2, "{html:?}");
    assert!(html.stdout.starts_with("<!DOCTYPE html>"), "{html:?}");
    assert!(!html.stdout.contains("<b>Kiosk</b>"));
    let md = env.run(&["drift", "--format", "markdown"]);
    assert!(
        md.stdout
            .starts_with("## Steward drift: 2 orgs need attention, 5 findings"),
        "{md:?}"
    );
    assert!(
        md.stdout
            .contains("| `riverside-food-bank` | 0 | 2 | 2 | 0 |"),
        "{md:?}"
    );
    let out = env.path("report.html");
    let saved = env.run(&[
        "drift",
        "--format",
        "html",
        "--out",
        out.to_str().expect("path"),
    ]);
    assert_eq!(saved.code, 2, "{saved:?}");
    assert_eq!(saved.stdout, "");
    assert!(env.read("report.html").contains("Riverside Food Bank"));
}

#[test]
fn concurrent_runs_keep_the_history_whole() {
    let env = drifted();
    let children: Vec<_> = (0..4)
        .map(|_| {
            env.command(&["drift", "--format", "json"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().expect("wait");
        assert_eq!(
            out.status.code(),
            Some(2),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let db = rusqlite::Connection::open(env.path(".steward/drift.sqlite")).expect("open");
    let ok: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("check");
    assert_eq!(ok, "ok");
    let runs: i64 = db
        .query_row("SELECT count(*) FROM runs", [], |r| r.get(0))
        .expect("runs");
    assert_eq!(runs, 4);
    let per_run: Vec<i64> = db
        .prepare("SELECT count(*) FROM findings GROUP BY run ORDER BY run")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .map(|r| r.expect("row"))
        .collect();
    assert_eq!(per_run, [5, 5, 5, 5]);
    let (_, report, _) = drift_json(&env, &[]);
    assert_eq!(report["summary"]["ongoing"], 5);
}
