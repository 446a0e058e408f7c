//! The backups module against real restic: an office host backs up over sftp to a
//! backup host (its sshd serves `internal-sftp`), the job runs as the systemd unit
//! Steward wrote, and a file is restored from the snapshot. Health facts (no backup
//! yet, stale, a lock left by a killed backup) reach plans and drift reports.

use crate::support::Env;
use crate::support::hosts::{HostLab, converged_in_one_round_trip, sftp_access, unhealthy_without};

const PASSWORD: &str = "correct-horse-restic-7731";

/// Office (.5) backs up to the backup host (.30) as its user `restic`: the sftp access
/// a pool sets up once by hand (root's key authorised there, the server's key known).
fn backup_lab() -> HostLab {
    let lab = HostLab::start(&[("office", 5, "server"), ("backup", 30, "server")]);
    sftp_access(&lab);
    lab
}

fn org(lab: &HostLab, stale_after: &str) -> String {
    format!(
        "org: riverside\nname: Riverside\nhosts:\n  office-pc: {{address: {}}}\nmodules:\n  base: {{}}\n  backups:\n    - name: shared-drive\n      host: office-pc\n      paths: [/srv/shared]\n      repository: \"sftp:restic@{}:/srv/restic/riverside\"\n      password: secret:riverside/restic\n      schedule: \"*-*-* 02:00\"\n      keep: {{daily: 7, weekly: 4, monthly: 12}}\n      stale_after: {stale_after}\n",
        lab.ip(5),
        lab.ip(30)
    )
}

/// The pool's standard for backups: fresh enough, and healthy.
const STANDARD: &str = "default_tier: all
items:
  fresh:
    title: Backups are at most two days old
    module: backups
    require: [{every: {stale_after: {at_most: 2d}}}]
  healthy:
    title: Every backup is healthy
    module: backups
    measure: healthy
tiers:
  all: {items: [fresh, healthy]}
";

/// Each item of the standard with its status for the org.
fn standard(env: &Env) -> Vec<(&'static str, String)> {
    let run = env.run(&["baseline", "--format", "json", "--no-record"]);
    assert!(!run.all().contains(PASSWORD), "{run:?}");
    let view: serde_json::Value =
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run:?}"));
    ["fresh", "healthy"]
        .into_iter()
        .map(|item| {
            let cell = view["orgs"][0]["cells"]
                .as_array()
                .and_then(|cs| cs.iter().find(|c| c["item"] == item))
                .unwrap_or_else(|| panic!("{view}"));
            (
                item,
                cell["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn unhealthy(env: &Env) -> Vec<String> {
    unhealthy_without(env, &[PASSWORD])
}

#[test]
fn backups_run_from_their_timer_unit_restore_and_report_health() {
    let lab = backup_lab();
    let env = lab.pool();
    env.write("secrets/riverside/restic", PASSWORD);
    env.write("orgs/riverside.yaml", &org(&lab, "2d"));

    let first = env.run(&["apply", "--yes"]);
    assert_eq!(first.code, 0, "{first:?}");
    assert!(
        first
            .stdout
            .contains("+ restic_repository[office-pc:sftp:restic@"),
        "{first:?}"
    );
    assert!(
        first.stdout.contains("((secret:riverside/restic))"),
        "the password file shows the secret's name: {first:?}"
    );
    assert!(!first.all().contains(PASSWORD), "{first:?}");
    // The repository exists on the backup host, the password file is root's alone, and
    // the timer is waiting for 02:00.
    assert!(
        lab.sh("backup", "ls /srv/restic/riverside")
            .contains("config"),
        "repository initialised"
    );
    assert_eq!(
        lab.sh(
            "office",
            "stat -c '%a %U' /etc/steward/restic/shared-drive.password"
        ),
        "600 root\n"
    );
    let timer = lab.sh(
        "office",
        "systemctl is-enabled steward-backup-shared-drive.timer; systemctl is-active steward-backup-shared-drive.timer; systemctl show -p TimersCalendar steward-backup-shared-drive.timer",
    );
    assert!(
        timer.starts_with("enabled\nactive\n") && timer.contains("02:00:00"),
        "{timer}"
    );

    // Converged; health says the job has never completed.
    converged_in_one_round_trip(&env);
    assert_eq!(unhealthy(&env), vec!["no_backup"]);
    // The pool's standard measures it from the same facts: not met yet.
    env.write("baseline.yaml", STANDARD);
    assert_eq!(
        standard(&env),
        [("fresh", "meets".into()), ("healthy", "fails".into())]
    );

    // Run the job as its timer would, then restore the file from the snapshot.
    lab.sh(
        "office",
        "systemctl start steward-backup-shared-drive.service",
    );
    let restored = lab.sh(
        "office",
        &format!(
            "restic -r sftp:restic@{}:/srv/restic/riverside --password-file /etc/steward/restic/shared-drive.password restore latest --tag steward:shared-drive --target /tmp/restore >/dev/null && cat /tmp/restore/srv/shared/minutes.txt",
            lab.ip(30)
        ),
    );
    assert_eq!(restored, "minutes of the AGM\n");
    assert_eq!(unhealthy(&env), Vec::<String>::new());
    assert_eq!(
        standard(&env),
        [("fresh", "meets".into()), ("healthy", "meets".into())]
    );

    // Older than stale_after: unhealthy, in the plan and as a drift finding.
    env.write("orgs/riverside.yaml", &org(&lab, "1s"));
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert_eq!(unhealthy(&env), vec!["stale"]);
    let drift = env.run(&["drift", "--no-record"]);
    assert!(
        drift
            .stdout
            .contains("unhealthy: Backup shared-drive on office-pc is stale"),
        "{drift:?}"
    );
    assert!(!drift.all().contains(PASSWORD), "{drift:?}");
    assert_eq!(
        standard(&env),
        [("fresh", "meets".into()), ("healthy", "fails".into())]
    );
    // A job allowed to go stale for a week is against the standard, at its line.
    env.write("orgs/riverside.yaml", &org(&lab, "7d"));
    let view = env.run(&["baseline", "--no-record"]);
    assert!(
        view.stdout
            .contains("`shared-drive` has stale_after 7d (line 15), the standard at most 2d"),
        "{view:?}"
    );

    // A backup killed mid-run leaves its lock behind.
    env.write("orgs/riverside.yaml", &org(&lab, "2d"));
    lab.sh(
        "office",
        &format!(
            "export RESTIC_REPOSITORY=sftp:restic@{}:/srv/restic/riverside RESTIC_PASSWORD_FILE=/etc/steward/restic/shared-drive.password; \
             (sleep 600 | restic backup --stdin --stdin-filename held) >/dev/null 2>&1 </dev/null & \
             for i in $(seq 50); do [ -n \"$(restic list locks --no-lock 2>/dev/null)\" ] && break; sleep 0.2; done; \
             pkill -9 -x restic; pkill -x sleep; sleep 0.2",
            lab.ip(30)
        ),
    );
    assert_eq!(unhealthy(&env), vec!["leftover_lock"]);
}

#[test]
fn a_wrong_password_is_unhealthy_not_a_reason_to_initialise_again() {
    let lab = backup_lab();
    let env = lab.pool();
    env.write("secrets/riverside/restic", PASSWORD);
    env.write("orgs/riverside.yaml", &org(&lab, "2d"));
    assert_eq!(env.run(&["apply", "--yes"]).code, 0);

    // The secret is rotated in the pool but the repository still has the old key:
    // the password file is planned, the repository is reported, nothing is re-created.
    env.write("secrets/riverside/restic", "a-new-password-4410");
    lab.sh(
        "office",
        "echo a-new-password-4410 > /etc/steward/restic/shared-drive.password",
    );
    let plan = env.run(&["plan"]);
    assert_eq!(plan.code, 0, "{plan:?}");
    assert!(plan.stdout.contains("no changes"), "{plan:?}");
    assert!(
        plan.stdout.contains("cannot open the backup repository"),
        "{plan:?}"
    );
    assert!(plan.stdout.contains("wrong password"), "{plan:?}");
    assert_eq!(unhealthy(&env), vec!["unreadable"]);
}
