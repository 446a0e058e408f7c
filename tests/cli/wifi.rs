//! The wifi module against real hostapd (driver `none`: no radio, everything else
//! real): the settings are read back from the running hostapd, a hand edit shows up
//! redacted, and a configuration hostapd rejects never replaces the running one.

use crate::support::hosts::HostLab;

const PASSPHRASE: &str = "staff-wifi-passphrase-5521";

fn org(lab: &HostLab, ssid: &str) -> String {
    format!(
        "org: riverside\nname: Riverside\nhosts:\n  ap-hall: {{address: {}}}\nmodules:\n  base: {{}}\n  wifi:\n    backend: hostapd\n    driver: none\n    country: GB\n    access_points: [ap-hall]\n    networks:\n      - {{ssid: {ssid}, security: wpa3-sae, passphrase: secret:riverside/wifi-staff, guest: true, vlan: 20}}\n",
        lab.ip(2)
    )
}

fn get_config(lab: &HostLab) -> String {
    lab.sh("ap", "hostapd_cli -p /run/hostapd -i wlan0 get_config")
}

#[test]
fn wifi_is_applied_read_back_from_hostapd_and_checked_before_replacing() {
    let lab = HostLab::start(&[("ap", 2, "server")]);
    let env = lab.pool();
    env.write("secrets/riverside/wifi-staff", PASSPHRASE);
    env.write("orgs/riverside.yaml", &org(&lab, "Riverside-Staff"));

    // With every log line on: the file's content (passphrase filled in) travels inside
    // the host's batch script, which no log shows.
    let first = env.run(&["apply", "--yes", "-vvv"]);
    assert_eq!(first.code, 0, "{first:?}");
    assert!(first.stderr.contains("round trip"), "{first:?}");
    assert!(
        first
            .stdout
            .contains("+sae_password=((secret:riverside/wifi-staff))"),
        "{first:?}"
    );
    assert!(!first.all().contains(PASSPHRASE), "{first:?}");

    // Debian ships hostapd masked; Steward unmasked, enabled and started it, and the
    // running hostapd has the network.
    let running = get_config(&lab);
    assert!(running.contains("ssid=Riverside-Staff\n"), "{running}");
    assert!(running.contains("key_mgmt=SAE\n"), "{running}");
    assert!(running.contains("rsn_pairwise_cipher=CCMP\n"), "{running}");
    let file = lab.sh(
        "ap",
        "systemctl is-enabled hostapd; stat -c %a /etc/hostapd/hostapd.conf; cat /etc/hostapd/hostapd.conf",
    );
    assert!(file.starts_with("enabled\n600\n"), "{file}");
    for line in [
        "ap_isolate=1\n",
        "bridge=br-vlan20\n",
        "ieee80211w=2\n",
        "country_code=GB\n",
        &format!("sae_password={PASSPHRASE}\n"),
    ] {
        assert!(file.contains(line), "{line:?} missing: {file}");
    }

    crate::support::hosts::converged_in_one_round_trip(&env);

    // Edited by hand: the plan shows that the passphrase line differs, never a value.
    lab.sh(
        "ap",
        "sed -i 's/^sae_password=.*/sae_password=typed-by-hand-1234/' /etc/hostapd/hostapd.conf",
    );
    for args in [
        &["plan"][..],
        &["plan", "--json"][..],
        &["drift", "--no-record"][..],
    ] {
        let run = env.run(args);
        assert!(
            !run.all().contains("typed-by-hand-1234") && !run.all().contains(PASSPHRASE),
            "a passphrase leaked in {args:?}: {run:?}"
        );
    }
    let edited = env.run(&["plan"]);
    assert!(
        edited
            .stdout
            .contains("-sae_password=(a value other than secret riverside/wifi-staff)"),
        "{edited:?}"
    );
    assert!(
        edited.stdout.contains(
            "~ systemd_unit[ap-hall:hostapd.service] (restart: /etc/hostapd/hostapd.conf changes)"
        ),
        "{edited:?}"
    );
    let before = lab.sh("ap", "systemctl show -p MainPID --value hostapd");
    let fixed = env.run(&["apply", "--yes"]);
    assert_eq!(fixed.code, 0, "{fixed:?}");
    assert_ne!(
        lab.sh("ap", "systemctl show -p MainPID --value hostapd"),
        before,
        "hostapd restarted with the restored file"
    );
    assert!(
        lab.sh("ap", "cat /etc/hostapd/hostapd.conf")
            .contains(&format!("sae_password={PASSPHRASE}\n"))
    );

    // What validate cannot know, hostapd still checks: a lower-case country code is
    // rejected, the running config and the file on disk stay as they were, and the
    // restart is skipped. (An SSID over 32 bytes no longer gets this far: validate.)
    env.write(
        "orgs/riverside.yaml",
        &org(&lab, "Riverside-Staff-2").replace("country: GB", "country: gb"),
    );
    let bad = env.run(&["apply", "--yes"]);
    assert_eq!(bad.code, 1, "{bad:?}");
    assert!(
        bad.all().contains("hostapd rejected the new configuration"),
        "{bad:?}"
    );
    assert!(bad.all().contains("Invalid country_code 'gb'"), "{bad:?}");
    assert!(!bad.all().contains(PASSPHRASE), "{bad:?}");
    assert!(
        bad.all()
            .contains("skipped ~ systemd_unit[ap-hall:hostapd.service]"),
        "{bad:?}"
    );
    assert!(get_config(&lab).contains("ssid=Riverside-Staff\n"));
    assert_eq!(
        lab.sh(
            "ap",
            "grep ^ssid= /etc/hostapd/hostapd.conf; ls -a /etc/hostapd | grep -c steward || true"
        ),
        "ssid=Riverside-Staff\n0\n",
        "the rejected file was not left beside the real one"
    );
}
