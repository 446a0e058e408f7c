//! `steward validate`: every problem at once, each at its file, line and column.

use serde_json::Value;

use crate::support::{Env, org_file, write_module};

const BAD: &str = "org: bad-org
name: Bad Org
contacts:
  - {name: Ed, email: ed@bad.org, reports: maybe}
google:
  domain: bad.org
  customer_id: C0bad
  admin: admin@bad.org
  credentials: secret:bad-org/missing
modules:
  accounts:
    org_units: [/Staff]
    groups:
      - {email: staff@bad.org, name: Staff, members: [nobody@bad.org]}
      - {email: staff@bad.org, name: Staff again}
    users:
      - {email: ann@bad.org, name: Ann, org_unit: /Nowhere, groups: [staff]}
      - {email: ann@bad.org, name: Ann Twin}
      - {email: bob@elsewhere.com, name: Bob}
      - {email: cy@bad.org, name: Cy, groups: [ghosts]}
      - {email: di@bad.org, name: Di, shoe_size: 9}
    leavers: archive
  printer: {}
";

fn problems(env: &Env, args: &[&str]) -> (i32, Vec<Value>) {
    let mut full = vec!["validate", "--json"];
    full.extend_from_slice(args);
    let run = env.run(&full);
    let list = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l}: {e}")))
        .collect();
    (run.code, list)
}

/// A module that renders nothing and requires `requires`.
fn has(list: &[Value], code: &str, line: u64, needle: &str) -> bool {
    list.iter().any(|p| {
        p["code"] == code
            && p["line"] == line
            && p["message"].as_str().unwrap_or_default().contains(needle)
    })
}

#[test]
fn every_problem_in_a_file_is_reported_at_once_with_its_line() {
    let env = Env::new();
    env.write("orgs/bad-org.yaml", BAD);
    let (code, list) = problems(&env, &[]);
    assert_eq!(code, 1);
    let expect: &[(&str, u64, &str)] = &[
        ("wrong_type", 4, "true or false"),
        ("missing_secret", 9, "bad-org/missing"),
        ("duplicate", 15, "duplicate group `staff@bad.org`"),
        ("duplicate", 18, "duplicate user `ann@bad.org`"),
        ("outside_domain", 19, "bob@elsewhere.com"),
        ("unknown_key", 21, "shoe_size"),
        ("not_allowed", 22, "archive"),
        ("unknown_module", 23, "`printer`"),
        ("unknown_reference", 17, "unknown org unit `/Nowhere`"),
        ("unknown_reference", 20, "unknown group `ghosts@bad.org`"),
        (
            "unknown_reference",
            14,
            "`nobody@bad.org` is neither a user nor a group",
        ),
    ];
    for (code, line, needle) in expect {
        assert!(
            has(&list, code, *line, needle),
            "expected {code} at line {line} ({needle}); got:\n{}",
            list.iter()
                .map(Value::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    assert_eq!(
        list.len(),
        expect.len(),
        "no duplicates or extras: {list:#?}"
    );
    // Columns point at the value, not the line start.
    let dom = list
        .iter()
        .find(|p| p["code"] == "outside_domain")
        .expect("outside_domain");
    assert_eq!(dom["column"], 17);
    assert_eq!(dom["file"], "orgs/bad-org.yaml");
}

#[test]
fn human_output_quotes_the_file_with_labels_and_hints() {
    let env = Env::new();
    env.write("orgs/bad-org.yaml", BAD);
    let run = env.run(&["validate"]);
    assert_eq!(run.code, 1, "{run:?}");
    let err = &run.stderr;
    assert!(err.contains("[orgs/bad-org.yaml:21:39]"), "{err}");
    assert!(err.contains("unknown key `shoe_size`"), "{err}");
    assert!(
        err.contains("did you mean `suspend`?") || err.contains("use one of: suspend, delete"),
        "{err}"
    );
    assert!(
        err.contains("11 problem(s) in 1 of 1 org file(s)."),
        "{err}"
    );
}

#[test]
fn yaml_syntax_errors_point_at_their_line() {
    let env = Env::new();
    env.write(
        "orgs/broken.yaml",
        "org: broken\nname: Broken\nmodules:\n  accounts:\n    users: [\n",
    );
    env.write("orgs/dup.yaml", "org: dup\nname: A\nname: B\n");
    let (code, list) = problems(&env, &[]);
    assert_eq!(code, 1);
    assert!(
        list.iter().any(|p| p["code"] == "yaml"
            && p["file"] == "orgs/broken.yaml"
            && p["line"].as_u64() >= Some(5)),
        "{list:#?}"
    );
    assert!(has(&list, "yaml", 3, "duplicate key `name`"), "{list:#?}");
}

#[test]
fn org_id_must_match_the_file_name() {
    let env = Env::new();
    env.write("secrets/riverside/google", "x");
    env.write(
        "orgs/riverside.yaml",
        &org_file("riverside-food-bank", "r.org", "C1", "users: []").replace(
            "secret:riverside-food-bank/google",
            "secret:riverside/google",
        ),
    );
    let (code, list) = problems(&env, &[]);
    assert_eq!(code, 1);
    assert!(
        has(
            &list,
            "org_id_mismatch",
            1,
            "does not match the file name `riverside.yaml`"
        ),
        "{list:#?}"
    );
}

#[test]
fn module_cycles_name_every_edge() {
    let env = Env::new();
    for (name, req) in [("alpha", "beta"), ("beta", "gamma"), ("gamma", "alpha")] {
        write_module(&env, name, &[req]);
    }
    env.write(
        "orgs/loop.yaml",
        "org: loop\nname: Loop\nmodules:\n  alpha: {}\n  beta: {}\n  gamma: {}\n",
    );
    let (code, list) = problems(&env, &[]);
    assert_eq!(code, 1);
    let cycle = list
        .iter()
        .find(|p| p["code"] == "cycle")
        .unwrap_or_else(|| panic!("{list:#?}"));
    let msg = cycle["message"].as_str().unwrap_or_default();
    for edge in ["alpha -> beta", "beta -> gamma", "gamma -> alpha"] {
        assert!(msg.contains(edge), "{msg}");
    }
    assert!(
        (4..=6).contains(&cycle["line"].as_u64().unwrap_or(0)),
        "{cycle}"
    );
}

#[test]
fn a_required_module_must_be_enabled() {
    let env = Env::new();
    write_module(&env, "base", &[]);
    write_module(&env, "wifi", &["base"]);
    env.write("orgs/o.yaml", "org: o\nname: O\nmodules:\n  wifi: {}\n");
    let (code, list) = problems(&env, &[]);
    assert_eq!(code, 1);
    assert!(
        has(&list, "missing_module", 4, "requires module `base`"),
        "{list:#?}"
    );
}

#[test]
fn the_example_orgs_validate_once_lab_keys_exist() {
    let env = Env::examples();
    let before = env.run(&["validate"]);
    assert_eq!(
        before.code, 1,
        "secrets are missing before `lab init`: {before:?}"
    );
    assert!(before.stderr.contains("missing secret"), "{before:?}");
    assert_eq!(env.run(&["lab", "init"]).code, 0);
    let after = env.run(&["validate"]);
    assert_eq!(after.code, 0, "{after:?}");
    assert!(after.stderr.contains("org file(s) valid."), "{after:?}");
}

#[test]
fn shell_metacharacters_in_names_are_rejected() {
    let env = Env::new();
    env.write("secrets/o/google", "x");
    env.write(
        "orgs/o.yaml",
        &org_file("o", "o.org", "C1", "org_units: [\"/Staff; rm -rf /\"]"),
    );
    let (code, list) = problems(&env, &[]);
    assert_eq!(code, 1);
    assert!(
        has(&list, "bad_org_unit", 10, "not an org unit path"),
        "{list:#?}"
    );
}

#[test]
fn on_site_values_with_shell_metacharacters_or_unknown_hosts_are_pointed_at() {
    let env = Env::new();
    env.write(
        "orgs/o.yaml",
        "org: o
name: O
hosts:
  office-pc: {address: 192.168.10.5}
  bad host: {address: \"10.0.0.1; true\"}
modules:
  base: {packages: [\"vim && curl\"]}
  printers:
    server: ofice-pc
    queues:
      - {name: \"front;desk\", uri: \"ipp://10.0.0.2/ipp/print\"}
      - {name: back, uri: \"ipp://10.0.0.2/$(reboot)\"}
      - {name: side, uri: \"ipp://10.0.0.2/x\", location: \"two\\nlines\"}
",
    );
    let (code, list) = problems(&env, &[]);
    assert_eq!(code, 1);
    for (code, line, needle) in [
        ("bad_name", 5, "`bad host` is not a valid host name"),
        ("bad_address", 5, "not a host name or IP address"),
        ("bad_name", 7, "contains a space"),
        ("unknown_host", 9, "unknown host `ofice-pc`"),
        ("bad_name", 11, "contains the shell metacharacter `;`"),
        ("bad_uri", 12, "contains the shell metacharacter `$`"),
        ("bad_text", 13, "control character"),
    ] {
        assert!(
            has(&list, code, line, needle),
            "{code} {line} {needle}: {list:#?}"
        );
    }
    let unknown = list
        .iter()
        .find(|p| p["code"] == "unknown_host")
        .expect("unknown_host");
    assert!(
        unknown["help"]
            .as_str()
            .unwrap_or_default()
            .contains("did you mean `office-pc`?"),
        "{unknown:#?}"
    );
}

#[test]
fn backup_and_wifi_values_are_checked_at_their_line() {
    let env = Env::new();
    env.write("secrets/o/restic", "pw");
    env.write(
        "orgs/o.yaml",
        "org: o
name: O
hosts:
  pc: {address: 192.168.10.5}
modules:
  base: {}
  backups:
    - name: docs
      host: pc
      paths: [srv/docs, \"/srv/a b\"]
      repository: \"ftp:backup.example.org/o\"
      password: secret:o/restic
      schedule: \"every night\"
      stale_after: 2 days
    - name: docs
      host: pc
      paths: [/srv]
      repository: /srv/restic
      password: hunter2
  wifi:
    access_points: [pc, ap]
    networks:
      - {ssid: Staff, security: wpa4, passphrase: secret:o/missing}
",
    );
    let (code, list) = problems(&env, &[]);
    assert_eq!(code, 1);
    for (code, line, needle) in [
        ("bad_path", 10, "`srv/docs` is not an absolute path"),
        ("bad_path", 10, "contains a space"),
        ("bad_repository", 11, "names the backend `ftp`"),
        (
            "bad_calendar",
            13,
            "`every night` is not a systemd calendar event",
        ),
        ("bad_duration", 14, "`2 days` is not a duration"),
        ("duplicate", 15, "docs"),
        ("not_a_secret", 19, "must be a secret reference"),
        ("unknown_host", 21, "unknown host `ap`"),
        ("not_allowed", 23, "`wpa4` is not one of"),
        ("missing_secret", 23, "missing secret `o/missing`"),
    ] {
        assert!(
            has(&list, code, line, needle),
            "{code} {line} {needle}: {list:#?}"
        );
    }
}

#[test]
fn two_jobs_sharing_a_repository_are_told_what_to_do() {
    let env = Env::new();
    env.write("secrets/o/restic", "pw");
    let job = |name: &str, path: &str| {
        format!(
            "    - {{name: {name}, host: pc, paths: [{path}], repository: \"sftp:restic@backup:/srv/restic/o\", password: secret:o/restic}}\n"
        )
    };
    env.write(
        "orgs/o.yaml",
        &format!(
            "org: o\nname: O\nhosts:\n  pc: {{address: 192.168.10.5}}\nmodules:\n  base: {{}}\n  backups:\n{}{}",
            job("shared", "/srv/shared"),
            job("docs", "/srv/docs")
        ),
    );
    let (code, list) = problems(&env, &[]);
    assert_eq!(code, 1);
    assert!(
        has(&list, "duplicate", 9, "sftp:restic@backup:/srv/restic/o"),
        "{list:#?}"
    );
    let help = list
        .iter()
        .find(|p| p["code"] == "duplicate")
        .and_then(|p| p["help"].as_str())
        .unwrap_or_default();
    assert!(
        help.contains("put both jobs' paths in one job"),
        "{list:#?}"
    );
}

#[test]
fn a_reference_against_the_module_order_is_a_cycle() {
    // beta requires alpha, so alpha's resources come first; a queue in alpha that needs
    // a package from beta can never be applied.
    let env = Env::new();
    write_module(&env, "alpha", &[]);
    write_module(&env, "beta", &["alpha"]);
    env.write(
        "modules/alpha/t.hbs",
        "resources:\n  - kind: cups_queue\n    attributes: {host: h, name: q, uri: \"ipp://192.0.2.9/ipp/print\", shared: false, enabled: true, accepting: true}\n",
    );
    env.write(
        "modules/beta/t.hbs",
        "resources:\n  - kind: apt_package\n    attributes: {host: h, name: cups}\n",
    );
    env.write(
        "orgs/o.yaml",
        "org: o\nname: O\nhosts:\n  h: {address: 192.0.2.1}\nmodules:\n  alpha: {}\n  beta: {}\n",
    );
    let (code, list) = problems(&env, &[]);
    assert_eq!(code, 1, "{list:#?}");
    let cycle = list
        .iter()
        .find(|p| p["code"] == "cycle")
        .unwrap_or_else(|| panic!("{list:#?}"));
    let msg = cycle["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains("cups_queue[h:q] (module alpha) needs apt_package[h:cups] (module beta)"),
        "{msg}"
    );
    assert!(msg.contains("module beta requires module alpha"), "{msg}");
}

#[test]
fn broken_module_output_is_reported_at_its_line_large_or_small() {
    // A large org's output goes to the parser in chunks as it renders; a mistake far
    // into it stops the render and is reported where it is, not as a template failure.
    for items in [0usize, 3000] {
        let env = Env::new();
        env.write(
            "modules/alpha/module.yaml",
            "description: test\ntemplate: t.hbs\ninput: {type: list, items: {type: name}}\n",
        );
        let mut template = String::from("resources:\n{{#each inputs}}\n");
        template
            .push_str("  - kind: apt_package\n    attributes: {host: h, name: {{json this}}}\n");
        template.push_str("{{/each}}\n  - kind: apt_package\n    attributes: {host: h, name: [}\n");
        template.push_str(&"  # padding after the mistake\n".repeat(5000));
        env.write("modules/alpha/t.hbs", &template);
        let names: Vec<String> = (0..items).map(|i| format!("p{i}")).collect();
        env.write(
            "orgs/o.yaml",
            &format!(
                "org: o\nname: O\nhosts:\n  h: {{address: 192.0.2.1}}\nmodules:\n  alpha: [{}]\n",
                names.join(", ")
            ),
        );
        let (code, list) = problems(&env, &[]);
        assert_eq!(code, 1, "{list:#?}");
        let msg = list
            .iter()
            .filter_map(|p| p["message"].as_str())
            .find(|m| m.contains("template output is not valid"))
            .unwrap_or_else(|| panic!("{list:#?}"));
        let line = 2 * items + 3;
        assert!(
            msg.contains(&format!("at line {line} column ")),
            "{items}: {msg}"
        );
    }
}

#[test]
fn the_pool_file_refuses_unknown_keys_and_each_provider_checks_its_part_at_its_line() {
    let env = Env::new();
    for (text, expected, line) in [
        (
            "pool: t\ngoogel:\n  api_url: x\n",
            "unknown field `googel`, expected one of `pool`",
            "steward.yaml:2:1",
        ),
        (
            "pool: t\ngoogle:\n  api_urll: x\n",
            "google: unknown field `api_urll`",
            "steward.yaml:3:3",
        ),
        (
            "pool: t\nssh:\n  connect_timeout_secs: abc\n",
            "ssh.connect_timeout_secs: invalid type",
            "steward.yaml:3:25",
        ),
    ] {
        env.write("steward.yaml", text);
        let v = env.run(&["validate"]);
        assert_eq!(v.code, 1, "{v:?}");
        assert!(v.stderr.contains(expected), "{expected}\n{v:?}");
        assert!(v.stderr.contains(line), "{line}\n{v:?}");
    }
}

#[test]
fn a_provider_that_cannot_start_says_who_must_act() {
    let env = Env::new();
    env.write(
        "steward.yaml",
        &format!("{}ssh:\n  known_hosts: orgs\n", crate::support::POOL),
    );
    let p = env.run(&["plan"]);
    assert_eq!(p.code, 1, "{p:?}");
    assert!(p.stderr.contains("provider_config"), "{p:?}");
    assert!(
        p.stderr.contains("cannot read the known_hosts file orgs"),
        "{p:?}"
    );
    assert!(p.stderr.contains("the pool's set-up"), "{p:?}");
}

#[test]
fn a_missing_google_key_says_how_to_make_one() {
    let env = Env::examples();
    let v = env.run(&["validate"]);
    assert_eq!(v.code, 1, "{v:?}");
    assert!(v.stderr.contains("missing secret"), "{v:?}");
    assert!(v.stderr.contains("`steward lab init` creates it"), "{v:?}");
}
