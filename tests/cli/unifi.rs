//! Wi-Fi on a UniFi controller, through the real binary against the lab's controller:
//! one site per org, plan / apply / plan (no changes) / drift on both flavours of
//! controller, a passphrase rotated, a hand edit in the controller undone, access
//! points' health in the weekly report, and every way the set-up can be wrong.

use serde_json::{Value, json};

use crate::support::unifi::{self, staff_passphrase};

fn wlan<'a>(site: &'a Value, ssid: &str) -> &'a Value {
    site["wlans"]
        .as_array()
        .and_then(|ws| ws.iter().find(|w| w["name"] == ssid))
        .unwrap_or_else(|| panic!("no broadcast `{ssid}` in {site}"))
}

/// Plan, apply, plan again for two orgs on one controller: each gets a site of its own
/// with its broadcasts and VLAN network, the controller's other site is left alone,
/// and a pool-wide plan logs in once.
fn one_site_per_org(unifi_os: bool) {
    let env = unifi::pool(&["alpha", "beta"], unifi_os);
    let plan = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{plan:?}");
    for line in [
        "+ unifi_site[alpha]",
        "+ unifi_network[20]",
        "+ unifi_wlan[alpha staff]",
        "+ unifi_wlan[beta guests]",
        "passphrase = (secret)",
        "Plan: 8 to add, 0 to change, 0 to remove.",
    ] {
        assert!(plan.stdout.contains(line), "{line}\n{plan:?}");
    }
    let apply = env.run(&["apply", "--yes"]);
    assert_eq!(apply.code, 0, "{apply:?}");

    let alpha = env.unifi_site("alpha").expect("alpha's site");
    let staff = wlan(&alpha, "alpha staff");
    assert_eq!(staff["security"], "wpapsk", "{staff}");
    assert_eq!(staff["wpa3_support"], true, "{staff}");
    assert_eq!(staff["wpa3_transition"], true, "{staff}");
    assert_eq!(staff["x_passphrase"], staff_passphrase("alpha"), "{staff}");
    assert_eq!(staff["l2_isolation"], false, "{staff}");
    let guests = wlan(&alpha, "alpha guests");
    assert_eq!(guests["l2_isolation"], true, "{guests}");
    let vlan20 = alpha["networks"]
        .as_array()
        .and_then(|ns| ns.iter().find(|n| n["vlan"] == 20))
        .expect("a VLAN 20 network");
    assert_eq!(vlan20["purpose"], "vlan-only", "{vlan20}");
    assert_eq!(guests["networkconf_id"], vlan20["_id"], "{guests}");
    // Each org's broadcasts are in its own site only.
    let beta = env.unifi_site("beta").expect("beta's site");
    assert_eq!(beta["wlans"].as_array().map(Vec::len), Some(2), "{beta}");
    let default = env
        .unifi_site("Default")
        .expect("the controller's own site");
    assert_eq!(default["wlans"], json!([]), "{default}");

    let logins = env.unifi_requests("login");
    let again = env.run(&["plan", "--detailed-exitcode", "--stats"]);
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(
        env.unifi_requests("login"),
        logins + 1,
        "one login for the whole pool's plan"
    );
    let flavour = if unifi_os {
        "UniFi OS"
    } else {
        "Network Application"
    };
    assert!(again.all().contains(flavour), "{again:?}");
    assert!(
        again.all().contains(
            "note: UniFi sites no org file is named after, left alone (unmanaged): Default"
        ),
        "{again:?}"
    );
    for secret in [
        staff_passphrase("alpha"),
        env.read("secrets/unifi-password"),
    ] {
        assert!(!again.all().contains(&secret) && !plan.all().contains(&secret));
    }
}

#[test]
fn one_site_per_org_on_a_network_application() {
    one_site_per_org(false);
}

#[test]
fn one_site_per_org_on_a_unifi_os_console() {
    one_site_per_org(true);
}

#[test]
fn a_hand_edit_in_the_controller_is_shown_field_by_field_and_undone() {
    let env = unifi::pool(&["alpha"], false);
    assert_eq!(env.run(&["apply", "--yes"]).code, 0);
    let (site, id) = env.unifi_wlan_id("alpha", "alpha staff");
    let edit = env.unifi_admin(
        "PUT",
        &format!("/api/s/{site}/rest/wlanconf/{id}"),
        json!({"hide_ssid": true, "wlan_band": "5g", "x_passphrase": "typed-in-the-ui-1234"}),
    );
    assert_eq!(edit["meta"]["rc"], "ok", "{edit}");

    let plan = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{plan:?}");
    for line in [
        "~ unifi_wlan[alpha staff]",
        "hidden     = true -> false",
        "band       = \"5GHz\" -> \"both\"",
        "passphrase = (secret, not the file's) -> (secret)",
    ] {
        assert!(plan.stdout.contains(line), "{line}\n{plan:?}");
    }
    assert!(!plan.all().contains("typed-in-the-ui-1234"), "{plan:?}");
    let json = env.run(&["plan", "--format", "json"]);
    assert!(!json.all().contains("typed-in-the-ui-1234"), "{json:?}");

    assert_eq!(env.run(&["apply", "--yes"]).code, 0);
    let staff = wlan(&env.unifi_site("alpha").expect("site"), "alpha staff").clone();
    assert_eq!(staff["hide_ssid"], false, "{staff}");
    assert_eq!(staff["wlan_band"], "both", "{staff}");
    assert_eq!(staff["x_passphrase"], staff_passphrase("alpha"), "{staff}");
    assert_eq!(env.run(&["plan", "--detailed-exitcode"]).code, 0);
}

#[test]
fn a_rotated_passphrase_is_planned_without_its_value_and_applied() {
    let env = unifi::pool(&["alpha"], true);
    assert_eq!(env.run(&["apply", "--yes"]).code, 0);
    let rotated = "alpha-rotated-passphrase-2027";
    env.write("secrets/alpha/staff-wifi", rotated);
    let plan = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{plan:?}");
    assert!(
        plan.stdout
            .contains("passphrase = (secret, not the file's) -> (secret)"),
        "{plan:?}"
    );
    assert!(!plan.all().contains(rotated), "{plan:?}");
    assert!(!plan.all().contains(&staff_passphrase("alpha")), "{plan:?}");
    let apply = env.run(&["apply", "--yes"]);
    assert_eq!(apply.code, 0, "{apply:?}");
    assert!(!apply.all().contains(rotated), "{apply:?}");
    let staff = wlan(&env.unifi_site("alpha").expect("site"), "alpha staff").clone();
    assert_eq!(staff["x_passphrase"], rotated, "{staff}");
    assert_eq!(env.run(&["plan", "--detailed-exitcode"]).code, 0);
}

#[test]
fn an_access_point_offline_is_unhealthy_in_the_weekly_report_of_its_org_only() {
    let env = unifi::pool(&["alpha", "beta"], false);
    assert_eq!(env.run(&["apply", "--yes"]).code, 0);
    // The lab's access points arrived with the sites, online.
    let alpha = env.unifi_site("alpha").expect("site");
    assert_eq!(
        alpha["devices"].as_array().map(Vec::len),
        Some(2),
        "{alpha}"
    );
    let drift = env.run(&["drift"]);
    assert_eq!(drift.code, 0, "{drift:?}");
    assert!(!drift.stdout.contains("unhealthy"), "{drift:?}");

    let mut devices = alpha["devices"].as_array().cloned().expect("devices");
    devices[0]["state"] = json!(0);
    devices[1]["upgradable"] = json!(true);
    devices.push(
        json!({"_id": "d9", "mac": "74:83:c2:99:00:01", "name": "", "adopted": false, "state": 2}),
    );
    env.unifi_lab(
        "POST",
        "devices",
        json!({"site": "alpha", "devices": devices}),
    );

    env.write(
        "steward.yaml",
        &format!(
            "{}email:\n  from: Pool IT <it@pool.example>\n  to: [team@pool.example]\n  smtp: {{host: 127.0.0.1, port: 2525, security: none}}\n",
            env.read("steward.yaml")
        ),
    );
    let sent = env.run(&["drift", "--email", "--per-org", "--dry-run", "mail"]);
    assert_eq!(sent.code, 2, "findings: {sent:?}");
    let text = crate::support::org_mail(&env, "mail", "alpha");
    for finding in [
        "`Hall AP` (74:83:c2:00:00:11) is offline",
        "waiting to be adopted",
        "has an update for it",
    ] {
        assert!(text.contains(finding), "{finding}\n{text}");
    }
    assert!(text.contains("power and cable"), "{text}");
    let drift = env.run(&["drift", "--format", "json"]);
    let report: Value = serde_json::from_str(&drift.stdout).expect("json");
    let orgs = report["orgs"].as_array().expect("orgs");
    let beta = orgs.iter().find(|o| o["org"] == "beta").expect("beta");
    assert_eq!(beta["findings"], json!([]), "{beta}");
}

#[test]
fn a_certificate_that_is_not_the_pinned_one_gets_nothing_sent() {
    let mut env = unifi::pool(&["alpha"], false);
    let wrong = "AA:".repeat(31) + "AA";
    for (k, v) in env.extra_env.iter_mut() {
        if k == "STEWARD_UNIFI_FINGERPRINT" {
            *v = wrong.clone();
        }
    }
    let before = env.unifi_requests("login") + env.unifi_requests("read");
    let plan = env.run(&["plan"]);
    assert_eq!(plan.code, 1, "{plan:?}");
    let all = plan.all();
    assert!(
        all.contains("presented a certificate with SHA-256 fingerprint"),
        "{plan:?}"
    );
    assert!(all.contains(&wrong), "the pinned fingerprint: {plan:?}");
    let served = env
        .extra_env
        .iter()
        .find(|(k, _)| k == "STEWARD_UNIFI_FINGERPRINT")
        .map(|_| ());
    assert!(served.is_some());
    assert!(
        all.contains("fingerprint: \""),
        "the line to trust it: {plan:?}"
    );
    assert!(all.contains("Nothing was sent to it"), "{plan:?}");
    assert_eq!(
        env.unifi_requests("login") + env.unifi_requests("read"),
        before,
        "no request reached the controller"
    );
}

#[test]
fn a_fingerprint_pinned_in_steward_yaml_is_shown_with_its_line() {
    let mut env = unifi::pool(&["alpha"], false);
    env.extra_env
        .retain(|(k, _)| k != "STEWARD_UNIFI_FINGERPRINT");
    let plan = env.run(&["plan"]);
    assert_eq!(plan.code, 1, "{plan:?}");
    let line = env
        .read("steward.yaml")
        .lines()
        .position(|l| l.trim_start().starts_with("fingerprint:"))
        .expect("line")
        + 1;
    assert!(
        plan.all()
            .contains(&format!("(line {line}, under `unifi:`)")),
        "{plan:?}"
    );
    assert!(
        plan.all()
            .contains("00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11"),
        "{plan:?}"
    );
}

#[test]
fn a_wrong_password_is_one_refused_login_for_the_whole_pool() {
    let env = unifi::pool(&["alpha", "beta"], false);
    env.write("secrets/unifi-password", "not-the-password");
    let before = env.unifi_requests("login");
    let plan = env.run(&["plan"]);
    assert_eq!(plan.code, 1, "{plan:?}");
    assert!(
        plan.all()
            .contains("refused the login of `steward`: wrong username or password"),
        "{plan:?}"
    );
    assert!(
        plan.all().contains("alpha") && plan.all().contains("beta"),
        "{plan:?}"
    );
    assert_eq!(env.unifi_requests("login"), before + 1, "{plan:?}");
    assert!(!plan.all().contains("not-the-password"), "{plan:?}");
}

#[test]
fn a_wrong_api_key_and_an_unsupported_version_are_clear_errors() {
    let env = unifi::pool(&["alpha"], false);
    env.write("secrets/unifi-api-key", "not-the-key");
    let plan = env.run(&["plan"]);
    assert_eq!(plan.code, 1, "{plan:?}");
    assert!(
        plan.all().contains("refused the integration API key"),
        "{plan:?}"
    );
    assert!(!plan.all().contains("not-the-key"), "{plan:?}");

    let env = unifi::pool(&["alpha"], false);
    env.unifi_lab("POST", "controller", json!({"version": "6.5.55"}));
    let plan = env.run(&["plan"]);
    assert_eq!(plan.code, 1, "{plan:?}");
    assert!(
        plan.all().contains("runs version 6.5.55, which Steward does not support (UniFi Network Application 7.0 to 10.x)"),
        "{plan:?}"
    );
}

#[test]
fn a_controller_without_the_integration_api_is_read_with_the_classic_one() {
    let env = unifi::pool(&["alpha"], false);
    env.unifi_lab(
        "POST",
        "controller",
        json!({"version": "8.6.9", "api_key": null}),
    );
    assert_eq!(env.run(&["apply", "--yes"]).code, 0);
    let alpha = env.unifi_site("alpha").expect("site");
    let mut devices = alpha["devices"].as_array().cloned().expect("devices");
    devices[1]["state"] = json!(0);
    env.unifi_lab(
        "POST",
        "devices",
        json!({"site": "alpha", "devices": devices}),
    );
    let plan = env.run(&["plan", "--detailed-exitcode", "--stats"]);
    assert_eq!(plan.code, 0, "{plan:?}");
    assert!(
        plan.all()
            .contains("`Office AP` (74:83:c2:00:00:12) is offline"),
        "{plan:?}"
    );
    assert!(
        plan.all()
            .contains("UniFi controller 8.6.9 (Network Application)"),
        "{plan:?}"
    );
}

#[test]
fn one_orgs_site_failing_never_stops_anothers() {
    let env = unifi::pool(&["alpha", "beta"], false);
    // Two sites described `alpha`: which one is the org's is not Steward's guess.
    for _ in 0..2 {
        let made = env.unifi_admin(
            "POST",
            "/api/s/default/cmd/sitemgr",
            json!({"cmd": "add-site", "desc": "alpha"}),
        );
        assert_eq!(made["meta"]["rc"], "ok", "{made}");
    }
    let apply = env.run(&["apply", "--yes"]);
    assert_eq!(apply.code, 1, "{apply:?}");
    assert!(
        apply
            .all()
            .contains("2 sites of the UniFi controller are described `alpha`"),
        "{apply:?}"
    );
    let beta = env.unifi_site("beta").expect("beta applied all the same");
    assert_eq!(beta["wlans"].as_array().map(Vec::len), Some(2), "{beta}");
    let sites = env.unifi_lab("GET", "sites", Value::Null);
    let alphas: Vec<&Value> = sites
        .as_array()
        .expect("sites")
        .iter()
        .filter(|s| s["desc"] == "alpha")
        .collect();
    assert!(alphas.iter().all(|s| s["wlans"] == json!([])), "{sites}");
}

#[test]
fn broadcasts_the_file_does_not_list_are_kept_unless_it_says_remove() {
    let env = unifi::pool(&["alpha"], false);
    assert_eq!(env.run(&["apply", "--yes"]).code, 0);
    let (site, _) = env.unifi_wlan_id("alpha", "alpha staff");
    let made = env.unifi_admin(
        "POST",
        &format!("/api/s/{site}/rest/wlanconf"),
        json!({"name": "Printer setup", "security": "open", "enabled": true}),
    );
    assert_eq!(made["meta"]["rc"], "ok", "{made}");
    let plan = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{plan:?}");
    assert!(
        plan.stdout
            .contains("unmanaged (live, in no org file; left alone)")
            && plan.stdout.contains("unifi_wlan: Printer setup"),
        "listed as unmanaged: {plan:?}"
    );

    let org = env.read("orgs/alpha.yaml").replace(
        "    backend: unifi\n",
        "    backend: unifi\n    other_networks: remove\n",
    );
    env.write("orgs/alpha.yaml", &org);
    let plan = env.run(&["plan"]);
    assert!(
        plan.stdout.contains("- unifi_wlan[Printer setup]"),
        "{plan:?}"
    );
    assert!(plan.stdout.contains("other_networks: remove"), "{plan:?}");
    assert_eq!(env.run(&["apply", "--yes"]).code, 0);
    let alpha = env.unifi_site("alpha").expect("site");
    assert_eq!(alpha["wlans"].as_array().map(Vec::len), Some(2), "{alpha}");
}

#[test]
fn what_the_controller_cannot_take_is_refused_at_its_line() {
    let env = unifi::pool(&[], false);
    env.write(
        "orgs/gamma.yaml",
        "org: gamma
name: Gamma
modules:
  base: {}
  wifi:
    backend: unifi
    channel: 11
    networks:
      - ssid: Gamma staff
        passphrase: secret:gamma/wifi
        vlan: 4090
      - ssid: Gamma open
        security: open
        vlan: 1
",
    );
    env.write("secrets/gamma/wifi", "gamma-wifi-passphrase");
    let v = env.run(&["validate"]);
    assert_eq!(v.code, 1, "{v:?}");
    assert!(
        v.all()
            .contains("`channel` applies only when `backend` is hostapd"),
        "{v:?}"
    );
    assert!(v.all().contains("orgs/gamma.yaml:7"), "{v:?}");
    // Without it, the values the controller would refuse, each at its line.
    env.drop_lines("orgs/gamma.yaml", "channel: 11");
    let v = env.run(&["validate"]);
    assert_eq!(v.code, 1, "{v:?}");
    let all = v.all();
    for (what, line) in [
        (
            "VLAN 4090 is outside what a UniFi controller takes",
            "orgs/gamma.yaml:10",
        ),
        (
            "VLAN 1 is outside what a UniFi controller takes",
            "orgs/gamma.yaml:13",
        ),
    ] {
        assert!(all.contains(what), "{what}\n{v:?}");
        assert!(all.contains(line), "{line}\n{v:?}");
    }
    // And nothing was sent: validate never reaches the controller.
    assert_eq!(env.unifi_requests("login"), 0);
}

#[test]
fn a_busy_controller_is_asked_again_and_the_apply_completes() {
    let env = unifi::pool(&["alpha", "beta"], true);
    env.unifi_lab(
        "POST",
        "faults",
        json!({"rate": 0.3, "kinds": ["503"], "latency_ms": 20}),
    );
    let apply = env.run(&["apply", "--yes", "--stats"]);
    assert_eq!(apply.code, 0, "{apply:?}");
    let retries: u64 = apply
        .all()
        .split("retries ")
        .filter_map(|s| s.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
        .last()
        .expect("a retries count");
    assert!(
        retries > 0,
        "with 30% of requests refused, some were asked again: {apply:?}"
    );
    env.unifi_lab("POST", "faults", json!({}));
    assert_eq!(env.run(&["plan", "--detailed-exitcode"]).code, 0);
}

#[test]
fn a_saved_plan_is_stale_after_a_hand_edit_but_not_after_an_access_point_drops() {
    let env = unifi::pool(&["alpha"], false);
    assert_eq!(env.run(&["apply", "--yes"]).code, 0);
    env.write("secrets/alpha/staff-wifi", "alpha-rotated-passphrase-77");
    assert_eq!(env.run(&["plan", "--out", "p1.json"]).code, 0);
    // Health is not the live state a plan rests on.
    let alpha = env.unifi_site("alpha").expect("site");
    let mut devices = alpha["devices"].as_array().cloned().expect("devices");
    devices[0]["state"] = json!(0);
    env.unifi_lab(
        "POST",
        "devices",
        json!({"site": "alpha", "devices": devices}),
    );
    let applied = env.run(&["apply", "p1.json"]);
    assert_eq!(applied.code, 0, "{applied:?}");

    env.write("secrets/alpha/staff-wifi", "alpha-rotated-passphrase-78");
    assert_eq!(env.run(&["plan", "--out", "p2.json"]).code, 0);
    let (site, id) = env.unifi_wlan_id("alpha", "alpha guests");
    env.unifi_admin(
        "PUT",
        &format!("/api/s/{site}/rest/wlanconf/{id}"),
        json!({"hide_ssid": true}),
    );
    let stale = env.run(&["apply", "p2.json"]);
    assert_eq!(stale.code, 1, "{stale:?}");
    assert!(
        stale
            .stdout
            .contains("live state changed since the plan was made"),
        "{stale:?}"
    );
}
