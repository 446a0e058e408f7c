//! A first apply on bare hosts: test hosts with CUPS, restic and hostapd purged and the
//! lab's Debian package repository as apt's only source. Steward's `apt_package` really
//! installs, in one apt transaction per host, and each way apt can stop is told clearly
//! with nothing left half-done: a held package, a dpkg another run interrupted, a
//! repository that is down, and a lock another apt holds (waited for).

use crate::support::hosts::HostLab;

const PASSWORD: &str = "bare-restic-password-5521";

/// Office (.5) is the print server and backs up to a local repository; the annex
/// (.6) has only the packages every host gets (`base.packages`).
fn org(lab: &HostLab) -> String {
    let uri = format!("ipp://{}:8631/ipp/print", lab.ip(20));
    let queues: String = ["front-desk", "back-office", "hall", "kitchen"]
        .iter()
        .map(|q| format!("      - {{name: {q}, uri: \"{uri}\"}}\n"))
        .collect();
    format!(
        "org: harbour\nname: Harbour\nhosts:\n  office: {{address: {}}}\n  annex: {{address: {}}}\nmodules:\n  base:\n    packages: [restic]\n  printers:\n    server: office\n    queues:\n{queues}  backups:\n    - {{name: files, host: office, paths: [/srv/files], repository: /srv/restic/harbour, password: secret:harbour/restic}}\n",
        lab.ip(5),
        lab.ip(6)
    )
}

fn installed(lab: &HostLab, host: &str, package: &str) -> bool {
    lab.sh(
        host,
        &format!("dpkg-query -W -f '${{db:Status-Status}}' {package} 2>/dev/null || true"),
    ) == "installed"
}

/// The longest chain of dependencies among one host's resources that a first apply
/// makes, in resources, from `steward graph --dot` (`"a" -> "b"`: a needs b). A
/// backup job is only read, never made.
fn graph_depth(dot: &str, host: &str) -> usize {
    let on_host = |address: &str| {
        address.contains(&format!("[{host}:")) && !address.starts_with("restic_job[")
    };
    let mut needs: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for line in dot.lines() {
        let words: Vec<&str> = line.split('"').collect();
        if words.len() >= 4 && words[2].trim() == "->" && !line.contains("ltail") {
            if on_host(words[1]) && on_host(words[3]) {
                needs.entry(words[1]).or_default().push(words[3]);
            }
        } else if words.len() == 3 && on_host(words[1]) {
            needs.entry(words[1]).or_default();
        }
    }
    fn depth<'a>(
        n: &'a str,
        needs: &std::collections::BTreeMap<&'a str, Vec<&'a str>>,
        seen: &mut std::collections::BTreeMap<&'a str, usize>,
    ) -> usize {
        if let Some(d) = seen.get(n) {
            return *d;
        }
        let d = 1 + needs
            .get(n)
            .into_iter()
            .flatten()
            .map(|m| depth(m, needs, seen))
            .max()
            .unwrap_or(0);
        seen.insert(n, d);
        d
    }
    let mut seen = Default::default();
    needs
        .keys()
        .map(|n| depth(n, &needs, &mut seen))
        .max()
        .unwrap_or(0)
}

#[test]
fn bare_hosts_get_their_packages_from_the_repository_and_apt_trouble_is_told_clearly() {
    let lab = HostLab::start(&[
        ("office", 5, "bare"),
        ("annex", 6, "bare"),
        ("printer", 20, "printer"),
    ]);
    for host in ["office", "annex"] {
        for package in ["cups", "restic"] {
            assert!(!installed(&lab, host, package), "{host} is bare: {package}");
        }
    }
    lab.sh(
        "office",
        "mkdir -p /srv/files && echo minutes > /srv/files/agm.txt",
    );
    let env = lab.pool();
    env.write("secrets/harbour/restic", PASSWORD);
    env.write("orgs/harbour.yaml", &org(&lab));

    // A package held on the annex: refused there, named, nothing installed there; the
    // office is set up all the same.
    let diag = lab.sh(
        "annex",
        "for i in 1 2 3; do apt-get update -q --error-on=any >/dev/null 2>&1 && break; sleep 2; done; \
         apt-mark hold restic >/dev/null && echo ok || { echo FAILED; ip -br addr; ip route; apt-get update -q 2>&1 | tail -3; }",
    );
    if !diag.starts_with("ok") {
        let here = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "ip -br addr | grep stwlab; ss -ltnp | grep 8601; tail -5 {0}/repo.log; cat {0}/subnet; ls /run/steward-lab; for d in /run/steward-lab/*; do cat $d/owner; done",
                lab.dir.path().display()
            ))
            .output()
            .expect("diag");
        // What the lab looked like, should the repository not answer here.
        panic!("{diag}\n{}", String::from_utf8_lossy(&here.stdout));
    }
    let first = env.run(&["apply", "--yes", "--stats"]);
    assert_eq!(first.code, 1, "the annex failed: {first:?}");
    assert!(
        first.all().contains(
            "restic held on annex (apt-mark hold): Steward does not install over a hold, and installed nothing"
        ),
        "{first:?}"
    );
    assert!(!installed(&lab, "annex", "restic"));
    assert!(!first.all().contains(PASSWORD), "{first:?}");
    // A round trip per level of the office's graph (the longest chain of what it
    // changes), whatever the number of changes, plus two reads of its facts: the
    // plan's, and again under the org's lock before changing anything.
    let levels = graph_depth(&env.run(&["graph", "--dot", "harbour"]).stdout, "office");
    assert_eq!(
        levels, 2,
        "packages and files, then queues, the repository and units"
    );
    assert!(
        first
            .stderr
            .contains(&format!("at most {} for one host", levels + 2)),
        "{levels} levels: {}",
        first.stderr
    );
    for package in ["cups", "cups-client", "cups-ipp-utils", "restic"] {
        assert!(installed(&lab, "office", package), "{package}: {first:?}");
    }
    // Every queue has its driver (never a raw queue), and the backup ran once by hand.
    let ppds = lab.sh("office", "ls /etc/cups/ppd");
    for q in ["front-desk", "back-office", "hall", "kitchen"] {
        assert!(ppds.contains(&format!("{q}.ppd")), "{q}: {ppds}");
    }
    lab.sh("office", "systemctl start steward-backup-files.service");
    assert!(
        lab.sh(
            "office",
            "restic -r /srv/restic/harbour --password-file /etc/steward/restic/files.password snapshots --json"
        )
        .contains("\"paths\":[\"/srv/files\"]")
    );

    // A dpkg another run left half-done: refused, named, with the command that mends it.
    lab.sh("annex", "apt-mark unhold restic >/dev/null && dpkg --unpack /var/cache/steward-lab/debs/hostapd_*.deb >/dev/null 2>&1");
    let run = env.run(&["apply", "--yes"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.all().contains(
            "an earlier install on annex was interrupted and left hostapd half-configured"
        ) && run.all().contains("Run `dpkg --configure -a` on annex"),
        "{run:?}"
    );
    assert!(!installed(&lab, "annex", "restic"));

    // The repository down: told as such, and nothing half-installed.
    lab.sh("annex", "dpkg --configure -a >/dev/null 2>&1");
    lab.repo("stop");
    let run = env.run(&["apply", "--yes"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.all()
            .contains("annex could not read its package repository, so nothing was installed"),
        "{run:?}"
    );
    assert!(!installed(&lab, "annex", "restic"));
    assert_eq!(lab.sh("annex", "dpkg --audit"), "", "nothing half-done");

    // Back up, with another apt holding dpkg's lock for a few seconds: waited for.
    lab.repo("start");
    lab.sh(
        "annex",
        "setsid python3 -c 'import fcntl, time; f = open(\"/var/lib/dpkg/lock-frontend\", \"w\"); fcntl.lockf(f, fcntl.LOCK_EX); open(\"/tmp/locked\", \"w\").close(); time.sleep(4)' >/dev/null 2>&1 < /dev/null & \
         for i in $(seq 50); do [ -f /tmp/locked ] && break; sleep 0.1; done",
    );
    let run = env.run(&["apply", "--yes"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(installed(&lab, "annex", "restic"));

    // Converged: a plan with nothing to do, one round trip a host.
    let again = env.run(&["plan", "--detailed-exitcode", "--stats"]);
    assert_eq!(again.code, 0, "{again:?}");
    assert!(
        again.stderr.contains("2 host(s), 2 round trip(s)"),
        "{again:?}"
    );
}
