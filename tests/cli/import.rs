//! `steward import` through the real binary: a tenant that looks like a real one, made
//! by hand in the lab, is written into an org file whose first plan changes nothing
//! live (only each account's adoption); after apply the tenant differs from before only
//! by Steward's markers.

use serde_json::{Value, json};

use crate::support::Env;

const CID: &str = "C0newcmr1";
const ADMIN: &str = "admin@newcomer.org";

/// An org file that makes the lab host the tenant (and `lab init` make its key); the
/// import writes the real one in its place.
fn placeholder() -> String {
    format!(
        "org: newcomer\nname: Newcomer\ngoogle:\n  domain: newcomer.org\n  customer_id: {CID}\n  admin: {ADMIN}\n  credentials: secret:newcomer/google\nmodules: {{}}\n"
    )
}

fn user(email: &str, given: &str, family: &str, ou: &str) -> Value {
    let full = format!("{given} {family}").trim().to_string();
    json!({"primaryEmail": email, "name": {"givenName": given, "familyName": family, "fullName": full},
           "orgUnitPath": ou, "suspended": false, "externalIds": []})
}

/// A tenant that grew by hand: 300 users, aliases, mixed-case addresses, one- and
/// three-word names, suspensions (by an admin and by Google), nested groups, owners
/// and managers, "everyone in the domain", outside members, org units three deep, and
/// one user another org's file already manages.
fn seed(env: &Env) {
    // The admin (the lab's own, an administrator) is the 300th.
    let mut users = vec![
        user("Ana.Lopez@Newcomer.org", "Ana", "López", "/Staff"),
        // Google needs a family name: a one-word name has a stand-in.
        user("ronaldo@newcomer.org", "Ronaldo", ".", "/Staff/Kitchen"),
        user(
            "maryann@newcomer.org",
            "Mary Ann",
            "No",
            "/Staff/Kitchen/Evening",
        ),
        user("joost@newcomer.org", "Joost", "van der Berg", "/Volunteers"),
        user("yes@newcomer.org", "Yes", "O'Brien", "/Volunteers"),
    ];
    for i in 0..294 {
        let ou = ["/Staff", "/Volunteers", "/Staff/Kitchen", "/"][i % 4];
        let mut u = user(
            &format!("person{i:03}@newcomer.org"),
            &format!("Person{i}"),
            "Example",
            ou,
        );
        if i % 10 == 0 {
            u["aliases"] = json!([
                format!("p{i}@newcomer.org"),
                format!("Person.{i}@Newcomer.org")
            ]);
        }
        if i % 37 == 0 {
            u["suspended"] = json!(true);
            u["suspensionReason"] = json!("ADMIN");
        }
        users.push(u);
    }
    users[10]["suspended"] = json!(true);
    users[10]["suspensionReason"] = json!("ABUSE");
    users[11]["externalIds"] =
        json!([{"type": "custom", "customType": "steward", "value": "neighbour-trust"}]);
    users[12]["externalIds"] = json!([{"type": "organization", "value": "HR-0012"}]);
    users[13]["isAdmin"] = json!(true);
    let groups = vec![
        json!({"email": "staff@newcomer.org", "name": "All staff", "description": "Everyone paid"}),
        json!({"email": "volunteers@newcomer.org", "name": "Volunteers", "aliases": ["helpers@newcomer.org"]}),
        json!({"email": "everyone@newcomer.org", "name": "Everyone"}),
        json!({"email": "Kitchen@Newcomer.org", "name": "Kitchen rota"}),
        json!({"email": "board@newcomer.org", "name": "Board: trustees", "description": "yes"}),
    ];
    let mut members = vec![
        json!({"group": "everyone@newcomer.org", "email": "staff@newcomer.org", "type": "GROUP"}),
        json!({"group": "everyone@newcomer.org", "email": "volunteers@newcomer.org", "type": "GROUP"}),
        json!({"group": "everyone@newcomer.org", "type": "CUSTOMER"}),
        json!({"group": "kitchen@newcomer.org", "email": "ana.lopez@newcomer.org", "role": "OWNER"}),
        json!({"group": "kitchen@newcomer.org", "email": "maryann@newcomer.org", "role": "MANAGER"}),
        json!({"group": "kitchen@newcomer.org", "email": "ronaldo@newcomer.org"}),
        json!({"group": "board@newcomer.org", "email": "chair.person@gmail.com"}),
        json!({"group": "board@newcomer.org", "email": "treasurer@example.net", "role": "OWNER"}),
        json!({"group": "board@newcomer.org", "email": ADMIN, "role": "OWNER"}),
        json!({"group": "board@newcomer.org", "email": "person011@newcomer.org"}),
        json!({"group": "volunteers@newcomer.org", "email": "joost@newcomer.org"}),
    ];
    for i in 0..294 {
        let group = if i % 2 == 0 {
            "staff@newcomer.org"
        } else {
            "volunteers@newcomer.org"
        };
        members.push(json!({"group": group, "email": format!("person{i:03}@newcomer.org")}));
    }
    let orgunits = json!([
        {"orgUnitPath": "/Staff"},
        {"orgUnitPath": "/Volunteers", "description": "Weekend rota"},
        {"orgUnitPath": "/Staff/Kitchen"},
        {"orgUnitPath": "/Staff/Kitchen/Evening"},
    ]);
    env.lab_post(
        "/_lab/seed",
        &json!({"customer_id": CID, "orgunits": orgunits, "users": users, "groups": groups, "members": members,
                "schemas": [{"schemaName": "Volunteering", "displayName": "Volunteering",
                             "fields": [{"fieldName": "dbs_checked", "fieldType": "BOOL"}]}]}),
    );
}

/// The tenant as the lab holds it, with what adoption adds (the marker) taken out.
fn without_markers(tenant: &Value) -> Value {
    let mut t = tenant.clone();
    for u in t["users"].as_array_mut().expect("users") {
        if let Some(ids) = u["externalIds"].as_array_mut() {
            ids.retain(|e| !(e["customType"] == "steward" && e["value"] == "newcomer"));
        }
        if let Some(o) = u.as_object_mut() {
            o.remove("etag");
        }
    }
    for key in ["groups", "orgunits"] {
        for g in t[key].as_array_mut().expect("list") {
            if let Some(o) = g.as_object_mut() {
                o.remove("etag");
            }
        }
    }
    t.as_object_mut().map(|o| o.remove("password_sha256"));
    t
}

fn import_args() -> Vec<&'static str> {
    vec![
        "import",
        "newcomer",
        "--google",
        "newcomer.org",
        "--customer",
        CID,
        "--admin",
        ADMIN,
        "--credentials",
        "secret:newcomer/google",
    ]
}

#[test]
fn an_imported_org_plans_only_adoptions_and_after_apply_nothing() {
    let mut env = Env::new();
    env.write("orgs/newcomer.yaml", &placeholder());
    env.start_lab(&[]);
    seed(&env);
    let before = without_markers(&env.tenant(CID));

    // An org file that exists is not replaced without --force.
    let refused = env.run(&import_args());
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(refused.all().contains("exists already"), "{refused:?}");
    assert_eq!(env.read("orgs/newcomer.yaml"), placeholder());

    let mut args = import_args();
    args.push("--force");
    let imported = env.run(&args);
    assert_eq!(imported.code, 0, "{imported:?}");
    let file = env.read("orgs/newcomer.yaml");
    for expected in [
        "Wrote orgs/newcomer.yaml: 4 org units, 5 groups, 298 users",
        "user admin@newcomer.org: the administrator Steward acts as",
        "user person006@newcomer.org: managed by org `neighbour-trust`",
        "member",
        "CUSTOMER",
        "org unit /Volunteers: its description",
        "suspended by Google (ABUSE)",
    ] {
        assert!(
            imported.stdout.contains(expected),
            "{expected}\n{imported:?}"
        );
    }
    for expected in [
        "# Not imported: what the modules cannot express",
        "org_units: [/Staff, /Volunteers, /Staff/Kitchen, /Staff/Kitchen/Evening]",
        "- {email: ana.lopez@newcomer.org, name: Ana López, org_unit: /Staff}",
        "given_name: Mary Ann, family_name: \"No\"",
        "name: Joost van der Berg",
        "name: Ronaldo .,",
        "name: Yes O'Brien,",
        "suspended: true",
        "aliases: [p0@newcomer.org, person.0@newcomer.org]",
        "owners: [ana.lopez@newcomer.org], managers: [maryann@newcomer.org]",
        "{email: everyone@newcomer.org, name: Everyone, members: [staff@newcomer.org, volunteers@newcomer.org]}",
        "external_members: [{email: admin@newcomer.org, role: OWNER}, {email: chair.person@gmail.com}, {email: treasurer@example.net, role: OWNER}]",
        "name: \"Board: trustees\", description: \"yes\"",
        "aliases: [helpers@newcomer.org]",
    ] {
        assert!(file.contains(expected), "{expected}\n{file}");
    }
    // Another org's user is not declared here; its membership stays, as an outside one.
    assert!(!file.contains("- {email: person006@"), "{file}");
    assert!(
        file.contains("external_members: [{email: person006@newcomer.org}]"),
        "{file}"
    );
    assert_eq!(env.run(&["validate"]).code, 0);

    // The first plan changes nothing live: only adoptions, each adding the marker.
    let plan = env.run(&["plan", "--format", "json"]);
    assert_eq!(plan.code, 0, "{plan:?}");
    let plan: Value = serde_json::from_str(&plan.stdout).expect("plan json");
    let changes = plan["orgs"][0]["changes"].as_array().expect("changes");
    assert_eq!(changes.len(), 298, "every user but the admin and person006");
    for c in changes {
        assert_eq!(c["action"], "adopt", "{c}");
        let fields: Vec<&str> = c["fields"]
            .as_array()
            .expect("fields")
            .iter()
            .filter_map(|f| f["name"].as_str())
            .collect();
        assert_eq!(fields, ["managed_by"], "{c}");
    }
    let conflicts = &plan["orgs"][0]["conflicts"];
    assert!(
        conflicts.as_array().is_none_or(Vec::is_empty),
        "{conflicts}"
    );
    let text = env.run(&["plan"]);
    assert!(text.stdout.contains("adopt"), "{text:?}");

    let apply = env.run(&["apply", "--yes"]);
    assert_eq!(apply.code, 0, "{apply:?}");
    let again = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(
        without_markers(&env.tenant(CID)),
        before,
        "the tenant differs from before only by Steward's markers"
    );
}

#[test]
fn an_import_that_cannot_read_the_tenant_writes_nothing() {
    let mut env = Env::new();
    env.write("orgs/newcomer.yaml", &placeholder());
    env.start_lab(&[]);
    std::fs::remove_file(env.path("orgs/newcomer.yaml")).expect("rm");

    let mut wrong_domain = import_args();
    wrong_domain[3] = "not-theirs.org";
    let run = env.run(&wrong_domain);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.all().contains("customer `C0newcmr1` does not own the domain `not-theirs.org`: its domains are newcomer.org"),
        "{run:?}"
    );
    assert!(!env.path("orgs/newcomer.yaml").exists());

    let mut wrong_customer = import_args();
    wrong_customer[5] = "C0nottheirs";
    let run = env.run(&wrong_customer);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.all()
            .contains("is not this Google Workspace's customer id"),
        "{run:?}"
    );

    env.write("secrets/newcomer/google", "{\"not\": \"a key\"}");
    let run = env.run(&import_args());
    assert_eq!(run.code, 1, "{run:?}");
    assert!(!env.path("orgs/newcomer.yaml").exists(), "{run:?}");

    let run = env.run(&["import", "../escape", "--google", "newcomer.org"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.all().contains("cannot be an org id"), "{run:?}");
}

#[test]
fn accounts_made_by_hand_later_are_brought_in_with_one_command() {
    let mut env = Env::new();
    env.write("orgs/newcomer.yaml", &placeholder());
    env.start_lab(&[]);
    seed(&env);
    let mut args = import_args();
    args.push("--force");
    assert_eq!(env.run(&args).code, 0);
    assert_eq!(env.run(&["apply", "--yes"]).code, 0);
    let none = env.run(&["import", "newcomer", "--unmanaged"]);
    assert_eq!(none.code, 0, "{none:?}");
    assert!(none.stdout.contains("Nothing unmanaged"), "{none:?}");

    // Made in the Admin console since: a user in a managed group, and a group.
    env.lab_post(
        "/_lab/seed",
        &json!({"customer_id": CID,
                "users": [user("walkin@newcomer.org", "Walk", "In", "/Volunteers")],
                "groups": [{"email": "drivers@newcomer.org", "name": "Drivers"}],
                "members": [{"group": "staff@newcomer.org", "email": "walkin@newcomer.org"},
                            {"group": "drivers@newcomer.org", "email": "joost@newcomer.org", "role": "OWNER"}]}),
    );
    let plan = env.run(&["plan"]);
    assert!(plan.stdout.contains("unmanaged"), "{plan:?}");

    let shown = env.run(&["import", "newcomer", "--unmanaged"]);
    assert_eq!(shown.code, 0, "{shown:?}");
    for line in [
        "# In the tenant, not in orgs/newcomer.yaml: 1 group(s) and 1 user(s).",
        "  - {email: drivers@newcomer.org, name: Drivers, owners: [joost@newcomer.org]}",
        "  - {email: walkin@newcomer.org, name: Walk In, org_unit: /Volunteers, groups: [staff]}",
    ] {
        assert!(shown.stdout.contains(line), "{line}\n{shown:?}");
    }
    let before = env.read("orgs/newcomer.yaml");
    assert_eq!(
        before,
        env.read("orgs/newcomer.yaml"),
        "printing changes nothing"
    );

    let written = env.run(&["import", "newcomer", "--unmanaged", "--write"]);
    assert_eq!(written.code, 0, "{written:?}");
    assert!(
        written.stdout.contains("Added 1 group(s) and 1 user(s)"),
        "{written:?}"
    );
    let after = env.read("orgs/newcomer.yaml");
    assert!(
        after.contains("      - {email: walkin@newcomer.org, name: Walk In, org_unit: /Volunteers, groups: [staff]}\n    leavers: suspend"),
        "appended at the end of the users' list: {after}"
    );
    let plan = env.run(&["plan", "--format", "json"]);
    let plan: Value = serde_json::from_str(&plan.stdout).expect("json");
    let changes = plan["orgs"][0]["changes"].as_array().expect("changes");
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0]["action"], "adopt");
    assert_eq!(changes[0]["address"]["id"], "walkin@newcomer.org");
    assert_eq!(env.run(&["apply", "--yes"]).code, 0);
    assert_eq!(env.run(&["plan", "--detailed-exitcode"]).code, 0);
}

/// An office server set up by hand before the org joined the pool: two print queues
/// (one shared, one paused, with A4 paper), a raw queue, a restic backup job in a
/// systemd unit and timer, one in cron with a schedule systemd cannot say, and hostapd
/// with a staff network and a hidden guest one on a VLAN.
fn hand_made_office(lab: &crate::support::hosts::HostLab) {
    let uri = format!("ipp://{}:8631/ipp/print", lab.ip(20));
    lab.sh(
        "office",
        &format!(
            "lpadmin -p front-desk -v {uri} -m everywhere -D 'Front desk laser' -L 'By the door' -E \
             && lpadmin -p front-desk -o PageSize=A4 -o printer-is-shared=true \
             && lpadmin -p back-office -v {uri} -m everywhere -E && cupsdisable back-office \
             && lpadmin -p old-raw -v socket://10.231.254.9:9100 -E 2>/dev/null; true"
        ),
    );
    // On a loaded machine cupsd may still be writing a queue's driver when its paper
    // size is set or it is paused, and finishing the driver undoes both (seen: the
    // back-office queue enabled again): once both drivers are there, set them until
    // they hold.
    let held = lab.sh(
        "office",
        "for i in $(seq 80); do \
         [ -f /etc/cups/ppd/front-desk.ppd ] && [ -f /etc/cups/ppd/back-office.ppd ] \
         && lpoptions -p front-desk -l | grep -q '^PageSize.*\\*A4' && lpstat -p back-office | grep -q disabled && echo held && break; \
         lpadmin -p front-desk -o PageSize=A4; cupsdisable back-office; sleep 0.25; done",
    );
    assert_eq!(
        held.trim(),
        "held",
        "the hand-made queues' paper size and pause"
    );
    lab.sh(
        "office",
        "mkdir -p /srv/shared && printf 'restic-pw-hand-44' > /root/restic.pw && chmod 600 /root/restic.pw \
         && printf '[Unit]\\nDescription=Nightly backup\\n[Service]\\nType=oneshot\\nEnvironment=RESTIC_PASSWORD_FILE=/root/restic.pw\\nExecStart=/usr/bin/restic -r sftp:restic@backup:/srv/restic/office backup /srv/shared --exclude /srv/shared/tmp\\nExecStartPost=/usr/bin/restic -r sftp:restic@backup:/srv/restic/office forget --keep-daily 7 --keep-weekly 4 --prune\\n' > /etc/systemd/system/nightly-backup.service \
         && printf '[Timer]\\nOnCalendar=*-*-* 01:30\\nPersistent=true\\n[Install]\\nWantedBy=timers.target\\n' > /etc/systemd/system/nightly-backup.timer \
         && printf '*/30 * * * * root restic -r /srv/local-repo --password-file /root/restic.pw backup /etc\\n' > /etc/cron.d/etc-backup \
         && mkdir -p /etc/hostapd && printf 'interface=wlan0\\ndriver=nl80211\\ncountry_code=GB\\nhw_mode=g\\nchannel=11\\nssid=Office Staff\\nwpa=2\\nwpa_key_mgmt=WPA-PSK\\nrsn_pairwise=CCMP\\nwpa_passphrase=staff-wifi-hand-91\\nbss=wlan0_1\\nssid=Office Guests\\nignore_broadcast_ssid=1\\nap_isolate=1\\nbridge=br-vlan20\\nwpa=2\\nwpa_key_mgmt=WPA-PSK SAE\\nwpa_passphrase=guest-wifi-hand-27\\nmacaddr_acl=0\\n' > /etc/hostapd/hostapd.conf",
    );
}

#[test]
fn an_office_server_is_imported_with_its_queues_and_its_jobs_and_wifi_written_for_later() {
    let lab = crate::support::hosts::HostLab::start(&[
        ("office", 5, "server"),
        ("printer", 20, "printer"),
    ]);
    hand_made_office(&lab);
    let queues_before = lab.sh("office", "lpstat -v; lpstat -p; lpoptions -p front-desk");
    let env = lab.pool();
    let run = env.run(&[
        "import",
        "harbour",
        "--host",
        &format!("office-pc={}", lab.ip(5)),
        "--host",
        "gone=10.231.254.77",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    let file = env.read("orgs/harbour.yaml");
    for secret in [
        "restic-pw-hand-44",
        "staff-wifi-hand-91",
        "guest-wifi-hand-27",
    ] {
        assert!(
            !file.contains(secret) && !run.all().contains(secret),
            "{secret} leaked:\n{file}\n{run:?}"
        );
    }
    for expected in [
        format!("  office-pc: {{address: \"{}\"}}", lab.ip(5)),
        "  base: {}".to_string(),
        "    server: office-pc".to_string(),
        "{name: front-desk, description: Front desk laser, uri: ".to_string(),
        "location: By the door, shared: true, options: {PageSize: A4}}".to_string(),
        "{name: back-office, uri: ".to_string(),
        "enabled: false".to_string(),
        "  # backups:".to_string(),
        "  #   - {name: nightly-backup, host: office-pc, paths: [/srv/shared], exclude: [/srv/shared/tmp], repository: sftp:restic@backup:/srv/restic/office, password: secret:harbour/backup-nightly-backup, schedule: \"*-*-* 01:30\", keep: {daily: 7, weekly: 4}}".to_string(),
        "  # wifi:".to_string(),
        "  #     - {ssid: Office Staff, security: wpa2-psk, passphrase: secret:harbour/wifi-office-staff}".to_string(),
        "  #     - {ssid: Office Guests, security: wpa2-wpa3, passphrase: secret:harbour/wifi-office-guests, guest: true, hidden: true, vlan: 20}".to_string(),
        "old-raw on office-pc: a raw queue".to_string(),
        "cron schedule `*/30 * * * *`".to_string(),
        "hostapd settings the wifi module has no input for: macaddr_acl".to_string(),
        "host gone (10.231.254.77): not imported".to_string(),
    ] {
        assert!(file.contains(&expected), "{expected}\n{file}");
    }
    // The secrets found are in the secrets folder, for the org only, 0600.
    for (name, value) in [
        ("harbour/backup-nightly-backup", "restic-pw-hand-44"),
        ("harbour/wifi-office-staff", "staff-wifi-hand-91"),
        ("harbour/wifi-office-guests", "guest-wifi-hand-27"),
    ] {
        let path = env.path(&format!("secrets/{name}"));
        assert_eq!(std::fs::read_to_string(&path).expect("secret"), value);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{name}");
    }
    // Uncommented, the Wi-Fi and backup blocks are valid org-file YAML.
    let mut taken_over = false;
    let uncommented: String = file
        .lines()
        .map(|l| {
            taken_over |= l == "  # backups:";
            let line = match l.strip_prefix("  # ") {
                Some(rest) if taken_over => format!("  {rest}"),
                _ => l.to_string(),
            };
            line + "\n"
        })
        .collect();
    env.write("orgs/harbour.yaml", &uncommented);
    let v = env.run(&["validate"]);
    assert_eq!(
        v.code, 0,
        "the commented blocks, uncommented, validate: {v:?}"
    );
    env.write("orgs/harbour.yaml", &file);

    // The first plan changes nothing on the host but the marker base writes.
    let plan = env.run(&["plan", "--format", "json"]);
    assert_eq!(plan.code, 0, "{plan:?}");
    let plan: Value = serde_json::from_str(&plan.stdout).expect("json");
    let changes: Vec<String> = plan["orgs"][0]["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| {
            let t = |v: &Value| v.as_str().unwrap_or_default().to_string();
            format!(
                "{} {}[{}]",
                t(&c["action"]),
                t(&c["address"]["kind"]),
                t(&c["address"]["id"])
            )
        })
        .collect();
    assert_eq!(
        changes,
        ["create file[office-pc:/etc/steward/managed-by]"],
        "only the marker base writes"
    );
    assert_eq!(env.run(&["apply", "--yes"]).code, 0);
    assert_eq!(env.run(&["plan", "--detailed-exitcode"]).code, 0);
    assert_eq!(
        lab.sh("office", "lpstat -v; lpstat -p; lpoptions -p front-desk"),
        queues_before,
        "the queues are as they were"
    );
    assert!(
        lab.sh("office", "cat /etc/hostapd/hostapd.conf")
            .contains("macaddr_acl=0")
    );
}

#[test]
fn a_host_that_cannot_be_read_does_not_lose_the_google_half() {
    let mut env = Env::new();
    let pool = env.read("steward.yaml");
    env.write(
        "steward.yaml",
        &format!("{pool}ssh:\n  known_hosts: ssh/known_hosts\n  connect_timeout_secs: 2\n"),
    );
    env.write("ssh/known_hosts", "");
    env.write("orgs/newcomer.yaml", &placeholder());
    env.start_lab(&[]);
    seed(&env);
    let mut args = import_args();
    // Nothing answers there (a documentation address, never routed).
    args.extend(["--force", "--host", "office=192.0.2.10"]);
    let run = env.run(&args);
    assert_eq!(run.code, 0, "{run:?}");
    let file = env.read("orgs/newcomer.yaml");
    assert!(file.contains("customer_id: C0newcmr1"), "{file}");
    assert!(file.contains("- {email: ana.lopez@newcomer.org"), "{file}");
    assert!(
        file.contains("#   - host office (192.0.2.10): not imported: "),
        "{file}"
    );
    assert!(!file.contains("hosts:"), "{file}");
    assert!(
        run.stdout
            .contains("host office (192.0.2.10): not imported"),
        "{run:?}"
    );
}
