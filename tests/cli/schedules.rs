//! The shipped weekly schedules: systemd units checked by `systemd-analyze verify`, the
//! cron line's syntax, and the scheduled GitHub workflow run for real against the lab
//! and a real SMTP server.

use std::collections::BTreeMap;
use std::process::Command;

use crate::support::drift::drifted;
use crate::support::mail::{SMTP_PASSWORD, Smtp, configure, read_mail};
use crate::support::workflows::github_job_in;
use crate::support::{BIN, repo, shellcheck, with_stdin};

/// The units with the binary and pool paths of this machine, as an installer would.
fn installed_units(dir: &std::path::Path, timer_edit: &dyn Fn(String) -> String) {
    let service = std::fs::read_to_string(repo().join("deploy/systemd/steward-drift.service"))
        .expect("service")
        .replace("/usr/local/bin/steward", BIN)
        .replace("/srv/steward-pool", &dir.display().to_string());
    let timer =
        std::fs::read_to_string(repo().join("deploy/systemd/steward-drift.timer")).expect("timer");
    std::fs::write(dir.join("steward-drift.service"), service).expect("write");
    std::fs::write(dir.join("steward-drift.timer"), timer_edit(timer)).expect("write");
}

fn verify(dir: &std::path::Path) -> (bool, String) {
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(dir.join("steward-drift.timer"))
        .arg(dir.join("steward-drift.service"))
        .output()
        .expect("systemd-analyze (Debian's systemd package) is needed");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn systemd_units_pass_systemd_analyze_verify() {
    let dir = tempfile::tempdir().expect("tempdir");
    installed_units(dir.path(), &|t| t);
    let (ok, log) = verify(dir.path());
    assert!(ok, "{log}");
    // The check can fail: a misspelt calendar is refused.
    installed_units(dir.path(), &|t| {
        t.replace("OnCalendar=Mon", "OnCalendar=Mnday")
    });
    let (ok, log) = verify(dir.path());
    assert!(!ok, "a bad timer passed: {log}");
    let calendar = Command::new("systemd-analyze")
        .args(["calendar", "--iterations=2", "Mon *-*-* 07:00:00"])
        .output()
        .expect("systemd-analyze");
    let text = String::from_utf8_lossy(&calendar.stdout);
    assert!(text.contains("Next elapse: Mon "), "{text}");
}

#[test]
fn the_cron_line_is_well_formed() {
    let text = std::fs::read_to_string(repo().join("deploy/cron/steward-drift")).expect("cron");
    let jobs: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#') && !l.contains('='))
        .collect();
    assert_eq!(jobs.len(), 1, "{text}");
    let fields: Vec<&str> = jobs[0].split_whitespace().collect();
    let ranges = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)];
    for (field, (lo, hi)) in fields.iter().take(5).zip(ranges) {
        if *field != "*" {
            let n: u32 = field.parse().unwrap_or_else(|_| panic!("field {field}"));
            assert!((lo..=hi).contains(&n), "{field} not in {lo}..={hi}");
        }
    }
    assert_eq!(&fields[..5], ["0", "7", "*", "*", "1"], "Mondays at 07:00");
    assert_eq!(
        fields[5], "steward",
        "runs as the steward user (cron.d format)"
    );
    let command = jobs[0]
        .split_once(" steward ")
        .map(|(_, c)| c.trim())
        .expect("command after the user field");
    assert!(
        command.contains("steward drift --all --email --per-org"),
        "{command}"
    );
    let syntax = with_stdin("bash", &["-n", "-"], command, "bash");
    assert!(syntax.status.success(), "{command}");
    shellcheck("cron line", command);
}

#[test]
fn scheduled_github_workflow_mails_the_report_and_keeps_history() {
    let env = drifted();
    let smtp = Smtp::start();
    configure(&env, smtp.port);
    // The build step finds the binary where its cache would have put it.
    let bin = env.path(".steward-bin/bin/steward");
    std::fs::create_dir_all(bin.parent().expect("parent")).expect("mkdir");
    std::fs::copy(BIN, &bin).expect("copy");
    // Secrets come from the CI's store only.
    let mut store: BTreeMap<String, String> = BTreeMap::new();
    for (var, file) in [
        (
            "STEWARD_SECRET_RIVERSIDE_FOOD_BANK_GOOGLE_SERVICE_ACCOUNT",
            "secrets/riverside-food-bank/google-service-account",
        ),
        (
            "STEWARD_SECRET_HILLSIDE_YOUTH_CLUB_GOOGLE_SERVICE_ACCOUNT",
            "secrets/hillside-youth-club/google-service-account",
        ),
        ("STEWARD_SECRET_SMTP_PASSWORD", "secrets/smtp-password"),
    ] {
        store.insert(var.into(), env.read(file));
    }
    std::fs::remove_dir_all(env.path("secrets")).expect("remove secrets/");
    let mut ctx = BTreeMap::new();
    ctx.insert(
        "toJSON(secrets)".to_string(),
        serde_json::to_string(&store).expect("json"),
    );
    ctx.insert("runner.os".to_string(), "Linux".to_string());
    ctx.insert("env.STEWARD_REV".to_string(), "main".to_string());
    ctx.insert("github.run_id".to_string(), "1".to_string());

    let first = github_job_in(&env, "ci/github/steward-drift.yml", "drift", &ctx, &[]);
    assert!(first.ok, "{}", first.log);
    assert!(
        first
            .summary
            .starts_with("## Steward drift: 2 orgs need attention, 5 findings"),
        "{}",
        first.summary
    );
    let second = github_job_in(&env, "ci/github/steward-drift.yml", "drift", &ctx, &[]);
    assert!(second.ok, "{}", second.log);
    assert!(
        second.summary.contains("5 findings (0 new, 5 ongoing)"),
        "{}",
        second.summary
    );

    let mail = read_mail(&smtp.mail_dir());
    assert_eq!(
        mail.len(),
        6,
        "two runs, each to the team and two org contacts"
    );
    for m in &mail {
        assert!(
            !m["raw"]
                .as_str()
                .unwrap_or_default()
                .contains(SMTP_PASSWORD)
        );
    }
    assert!(!first.log.contains(SMTP_PASSWORD) && !first.summary.contains(SMTP_PASSWORD));
}
