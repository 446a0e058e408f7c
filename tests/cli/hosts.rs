//! The SSH provider and the on-site modules against real hosts: each test boots small
//! Debian containers (systemd as PID 1, real sshd with its own host key, real CUPS,
//! ippeveprinter as the printer) with `scripts/lab-hosts`. They need root; without it
//! they fail and say so, rather than pass without running.

use std::process::Command;

use crate::support::hosts::{HostLab, converged_in_one_round_trip, json, require_root};
use crate::support::{output_ok, repo};

/// An org with one print server `host` at `address`; `queues` are YAML list items.
fn printers_org(id: &str, host: &str, address: &str, queues: &str) -> String {
    format!(
        "org: {id}\nname: {id}\nhosts:\n  {host}: {{address: {address}}}\nmodules:\n  base: {{}}\n  printers:\n    server: {host}\n    queues:\n{queues}"
    )
}

/// Riverside's print server office-pc, at the lab's .5.
fn riverside(lab: &HostLab, queues: &str) -> String {
    printers_org("riverside", "office-pc", &lab.ip(5), queues)
}

/// One queue item for `printers_org`.
fn queue(name: &str, uri: &str) -> String {
    format!("      - {{name: {name}, uri: \"{uri}\"}}\n")
}

#[test]
fn printers_apply_print_converge_and_show_hand_drift() {
    let lab = HostLab::start(&[("office", 5, "server"), ("printer", 20, "printer")]);
    let env = lab.pool();
    let uri = format!("ipp://{}:8631/ipp/print", lab.ip(20));
    env.write(
        "orgs/riverside.yaml",
        &riverside(
            &lab,
            &format!(
                "      - {{name: front-desk, uri: \"{uri}\", description: Front desk laser, location: Dana's desk}}\n      - {{name: back-office, uri: \"{uri}\", options: {{PageSize: A4}}}}\n"
            ),
        ),
    );
    let first = env.run(&["apply", "--yes", "--stats"]);
    assert_eq!(first.code, 0, "{first:?}");
    assert!(
        first.stdout.contains("+ cups_queue[office-pc:front-desk]"),
        "{first:?}"
    );

    // The queue prints: the job reaches the printer simulator's spool.
    lab.sh("office", "echo 'hello from steward' | lp -d front-desk");
    let mut spooled = String::new();
    for _ in 0..100 {
        spooled = lab.sh("printer", "ls /var/spool/lab-printer");
        if !spooled.trim().is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        spooled.contains(".pdf"),
        "no job in the printer's spool: {spooled:?}"
    );
    let options = lab.sh("office", "lpoptions -p back-office -l");
    assert!(options.contains("*A4"), "{options}");
    let info = lab.sh("office", "lpstat -l -p front-desk");
    assert!(
        info.contains("Dana's desk") && info.contains("Front desk laser"),
        "{info}"
    );

    // Converged: the second run has nothing to do, and a plan costs one round trip.
    let again = converged_in_one_round_trip(&env);
    assert!(again.stdout.contains("no changes"), "{again:?}");

    // Changed by hand on the host: the plan shows exactly that, and a queue made by
    // hand is reported as unmanaged.
    lab.sh("office", "lpadmin -p front-desk -L Basement");
    lab.sh(
        "office",
        &format!("lpadmin -p handmade -E -v {uri} -m everywhere"),
    );
    let drift = env.run(&["plan", "--json"]);
    let plan = json(&drift);
    let org = &plan["orgs"][0];
    let changes = org["changes"].as_array().expect("changes");
    assert_eq!(changes.len(), 1, "{drift:?}");
    assert_eq!(changes[0]["address"]["id"], "office-pc:front-desk");
    assert_eq!(
        changes[0]["fields"],
        serde_json::json!([{"name": "location", "before": "Basement", "after": "Dana's desk"}])
    );
    assert_eq!(
        org["unmanaged"],
        serde_json::json!([{"kind": "cups_queue", "id": "office-pc:handmade"}])
    );
    let fixed = env.run(&["apply", "--yes"]);
    assert_eq!(fixed.code, 0, "{fixed:?}");
    assert!(
        lab.sh("office", "lpstat -l -p front-desk")
            .contains("Dana's desk")
    );
    assert!(
        lab.sh("office", "lpstat -e").contains("handmade"),
        "unmanaged queues are left alone"
    );

    // An option changed by hand, in the queue's PPD or in lpoptions' file: read as
    // `lpoptions -l` shows it, and put back.
    for (change, undo) in [
        ("lpadmin -p back-office -o PageSize=Letter", "true"),
        (
            "lpoptions -p back-office -o PageSize=Letter",
            "lpoptions -p back-office -r PageSize",
        ),
    ] {
        lab.sh("office", change);
        assert!(
            lab.sh("office", "lpoptions -p back-office -l")
                .contains("*Letter"),
            "{change}"
        );
        let plan = json(&env.run(&["plan", "--json"]));
        let changes = plan["orgs"][0]["changes"]
            .as_array()
            .expect("changes")
            .clone();
        assert_eq!(changes.len(), 1, "{change}: {changes:?}");
        assert_eq!(
            changes[0]["fields"],
            serde_json::json!([{"name": "options", "before": {"PageSize": "Letter"}, "after": {"PageSize": "A4"}}]),
            "{change}"
        );
        lab.sh("office", undo);
        assert_eq!(env.run(&["apply", "--yes"]).code, 0, "{change}");
    }

    // A managed file edited by hand: the plan shows a unified diff, the mode and the
    // owner.
    lab.sh(
        "office",
        "echo '# edited by hand' >> /etc/steward/managed-by; chmod 600 /etc/steward/managed-by; chown daemon /etc/steward/managed-by",
    );
    let edited = env.run(&["plan"]);
    assert!(
        edited
            .stdout
            .contains("~ file[office-pc:/etc/steward/managed-by]"),
        "{edited:?}"
    );
    assert!(
        edited.stdout.contains("          -# edited by hand\n"),
        "{edited:?}"
    );
    assert!(
        edited.stdout.contains("mode    = \"0600\" -> \"0644\"")
            && edited.stdout.contains("owner   = \"daemon\" -> \"root\""),
        "{edited:?}"
    );
    assert_eq!(env.run(&["apply", "--yes"]).code, 0);
    assert_eq!(
        lab.sh(
            "office",
            "stat -c '%a %U' /etc/steward/managed-by; cat /etc/steward/managed-by"
        ),
        "644 root\n# This host is managed by Steward for the org riverside.\n# Changes made here by hand show up in the next plan and drift report.\norg: riverside\nhost: office-pc\n"
    );
}

#[test]
fn a_printer_that_does_not_answer_fails_instead_of_making_a_raw_queue() {
    let lab = HostLab::start(&[("office", 5, "server")]);
    let env = lab.pool();
    env.write(
        "orgs/riverside.yaml",
        &riverside(
            &lab,
            &queue("ghost", &format!("ipp://{}:8631/ipp/print", lab.ip(99))),
        ),
    );
    let run = env.run(&["apply", "--yes"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.all().contains("did not answer"), "{run:?}");
    assert!(run.all().contains("raw queue"), "{run:?}");
    let queues = lab.sh("office", "lpstat -e || true");
    assert!(
        !queues.contains("ghost"),
        "the raw queue was left behind: {queues}"
    );
}

#[test]
fn an_unreachable_host_fails_only_its_own_resources() {
    let lab = HostLab::start(&[
        ("office", 5, "server"),
        ("annex", 6, "server"),
        ("hall", 7, "server"),
        ("printer", 20, "printer"),
    ]);
    let env = lab.pool();
    let uri = format!("ipp://{}:8631/ipp/print", lab.ip(20));
    // Hillside's print server is down; its access point and all of Riverside are up.
    let hillside = printers_org("hillside", "pc", &lab.ip(6), &queue("main", &uri)).replace(
        "hosts:\n",
        &format!("hosts:\n  hall-ap: {{address: {}}}\n", lab.ip(7)),
    ) + "  wifi:\n    backend: hostapd\n    driver: none\n    access_points: [hall-ap]\n    networks:\n      - {ssid: Hillside, security: wpa2-psk, passphrase: secret:hillside/wifi}\n";
    env.write("secrets/hillside/wifi", "hillside-wifi-passphrase");
    env.write("orgs/hillside.yaml", &hillside);
    env.write(
        "orgs/riverside.yaml",
        &printers_org("riverside", "pc", &lab.ip(5), &queue("main", &uri)),
    );
    lab.stop("annex");
    let run = env.run(&["apply", "--yes"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains("host pc: cannot reach pc"), "{run:?}");
    assert!(run.stdout.contains("+ cups_queue[pc:main]"), "{run:?}");
    assert!(
        lab.sh("office", "lpstat -e").contains("main"),
        "the other org was applied"
    );
    assert!(
        lab.sh("hall", "hostapd_cli -p /run/hostapd -i wlan0 get_config")
            .contains("ssid=Hillside\n"),
        "the same org's reachable host was applied"
    );
}

#[test]
fn unknown_and_changed_host_keys_are_refused() {
    let lab = HostLab::start(&[("office", 5, "server")]);
    let env = lab.pool();
    env.write(
        "orgs/riverside.yaml",
        &riverside(&lab, &queue("q", "ipp://192.0.2.1/ipp/print")),
    );
    let known = std::fs::read_to_string(lab.dir.path().join("known_hosts")).expect("known_hosts");
    let fingerprint = |line: &str| {
        let out = crate::support::with_stdin("ssh-keygen", &["-lf", "-"], line, "fingerprint");
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .nth(1)
            .expect("fingerprint")
            .to_string()
    };
    let old = fingerprint(&known);

    lab.rekey("office");
    let changed = env.run(&["plan"]);
    assert_eq!(changed.code, 1, "{changed:?}");
    assert!(changed.stdout.contains("has CHANGED"), "{changed:?}");
    assert!(
        changed.stdout.contains(&old),
        "the expected fingerprint is shown: {changed:?}"
    );
    assert!(
        !lab.sh("office", "lpstat -e || true").contains('q'),
        "nothing applied"
    );

    // An empty known_hosts: refused too, with the line that would trust the key.
    std::fs::write(lab.dir.path().join("known_hosts"), "").expect("empty known_hosts");
    let unknown = env.run(&["plan"]);
    assert_eq!(unknown.code, 1, "{unknown:?}");
    assert!(unknown.stdout.contains("is not in"), "{unknown:?}");
    let offered = lab.sh("office", "cat /etc/ssh/ssh_host_ed25519_key.pub");
    let new = fingerprint(&format!("{} {offered}", lab.ip(5)));
    assert!(unknown.stdout.contains(&new), "{unknown:?}");
    let key = offered.split_whitespace().nth(1).expect("key");
    assert!(
        unknown
            .stdout
            .contains(&format!("{} ssh-ed25519 {key}", lab.ip(5))),
        "{unknown:?}"
    );
}

/// The README's quick start, on-site half: the script boots its own hosts, applies an
/// org, prints, backs up, reads the Wi-Fi back, shows and undoes a hand edit. It
/// fails on any step that does not do what it shows.
#[test]
fn the_on_site_quick_start_runs_as_documented() {
    require_root("the on-site quick start boots test hosts in namespaces");
    let restic = "quickstart-restic-3391";
    let wifi = "quickstart-wifi-6620";
    let out = output_ok(
        Command::new(repo().join("scripts/quickstart-onsite"))
            .arg(crate::support::BIN)
            .env("STEWARD_SECRET_RIVERSIDE_RESTIC", restic)
            .env("STEWARD_SECRET_RIVERSIDE_WIFI_STAFF", wifi)
            .env_remove("SSH_AUTH_SOCK"),
        "scripts/quickstart-onsite failed",
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for step in [
        "Apply: 9 done, 0 failed, 0 skipped.",
        "1 snapshots",
        "ssid=Riverside-Staff",
        "1 host(s), 1 round trip(s)",
        "location = \"Basement\" -> \"Reception\"",
        "On-site quick start: done.",
    ] {
        assert!(text.contains(step), "{step:?} missing: {text}");
    }
    assert!(
        !text.contains(restic) && !text.contains(wifi),
        "a secret leaked: {text}"
    );
}
