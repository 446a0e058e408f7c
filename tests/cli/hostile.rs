//! Hostile and broken input: what a pull request author (or a shell pipeline) can throw
//! at Steward. Nothing may crash it, leak a secret, or cross from one org to another.

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;

use crate::support::{Env, org_file, users};

/// Runs steward with its standard output already closed by the reader.
fn with_closed_stdout(env: &Env, args: &[&str]) -> (std::process::ExitStatus, String) {
    let mut child = env
        .command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_closed_pipe_ends_read_only_commands_quietly_and_never_cuts_an_apply_short() {
    let mut env = Env::examples();
    for args in [&["modules"][..], &["orgs"][..], &["validate"][..]] {
        env.run(&["lab", "init"]);
        let (status, stderr) = with_closed_stdout(&env, args);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_ne!(status.code(), Some(101), "{args:?}: {stderr}");
        assert!(
            status.signal() == Some(13) || status.success(),
            "{args:?}: ended by SIGPIPE or done: {status:?} {stderr}"
        );
    }
    env.write(
        "orgs/o.yaml",
        &org_file(
            "o",
            "o.org",
            "C0o",
            "users:\n  - {email: dana@o.org, name: Dana Whitfield}\n",
        ),
    );
    env.start_lab(&[]);
    let (status, stderr) = with_closed_stdout(&env, &["apply", "--yes", "orgs/o.yaml"]);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(status.success(), "{status:?} {stderr}");
    assert!(users(&env.tenant("C0o")).contains(&"dana@o.org".to_string()));
}

#[test]
fn an_edited_saved_plan_is_refused_saying_what_differs() {
    let mut env = Env::new();
    env.write(
        "orgs/o.yaml",
        &org_file(
            "o",
            "o.org",
            "C0o",
            "users:\n  - {email: dana@o.org, name: Dana Whitfield}\n  - {email: sam@o.org, name: Sam Okafor}\n",
        ),
    );
    env.start_lab(&[]);
    assert_eq!(env.run(&["apply", "--yes"]).code, 0);
    // A change to the file, saved as a plan, then edited: a delete of a user is added
    // and the summary left saying nothing is removed.
    let text = env
        .read("orgs/o.yaml")
        .replace("Sam Okafor", "Sam Okafor-Reid");
    env.write("orgs/o.yaml", &text);
    let saved = env.run(&["plan", "--out", "plan.json"]);
    assert_eq!(saved.code, 0, "{saved:?}");
    let mut plan: serde_json::Value =
        serde_json::from_str(&env.read("plan.json")).expect("plan json");
    let delete = serde_json::json!({
        "address": {"kind": "google_user", "id": "dana@o.org"},
        "module": "accounts", "action": "delete", "fields": []
    });
    plan["orgs"][0]["changes"]
        .as_array_mut()
        .expect("changes")
        .push(delete);
    env.write("plan.json", &plan.to_string());
    let run = env.run(&["apply", "plan.json"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout
            .contains("Plan: 0 to add, 1 to change, 1 to remove."),
        "the summary shown counts the changes the file holds: {run:?}"
    );
    assert!(
        run.stdout
            .contains("only in the plan: - google_user[dana@o.org]"),
        "{run:?}"
    );
    assert!(
        users(&env.tenant("C0o")).contains(&"dana@o.org".to_string()),
        "nothing deleted"
    );
    // A plan naming a file outside the pool is refused before anything is read.
    plan["orgs"][0]["file"] = serde_json::json!("orgs/../secrets/o/google.yaml");
    env.write("plan.json", &plan.to_string());
    let run = env.run(&["apply", "plan.json"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("a plan's org files are orgs/"),
        "{run:?}"
    );
    assert!(!run.all().contains("PRIVATE KEY"), "{run:?}");
}

#[test]
fn two_org_files_claiming_one_domain_or_customer_are_refused() {
    let env = Env::new();
    env.write(
        "orgs/a.yaml",
        &org_file("a", "shared.org", "C0a", "users: []\n"),
    );
    env.write(
        "orgs/b.yaml",
        &org_file("b", "b.org", "C0a", "users: []\n")
            .replace("  domain: b.org\n", "  domains: [b.org, Shared.org]\n"),
    );
    env.run(&["lab", "init"]);
    let v = env.run(&["validate"]);
    assert_eq!(v.code, 1, "{v:?}");
    for expected in [
        "domain `shared.org` is claimed by orgs/a.yaml and orgs/b.yaml",
        "customer id `C0a` is claimed by orgs/a.yaml and orgs/b.yaml",
        "customer id `C0a` is claimed by orgs/b.yaml and orgs/a.yaml",
    ] {
        assert!(v.stderr.contains(expected), "{expected}\n{v:?}");
    }
    // Selecting one of them still sees the other.
    let one = env.run(&["validate", "orgs/a.yaml"]);
    assert_eq!(one.code, 1, "{one:?}");
    assert!(
        one.stderr
            .contains("is claimed by orgs/a.yaml and orgs/b.yaml"),
        "{one:?}"
    );
    // One machine, one org: another org file naming the same host is refused too.
    std::fs::remove_file(env.path("orgs/a.yaml")).expect("rm");
    std::fs::remove_file(env.path("orgs/b.yaml")).expect("rm");
    for id in ["c", "d"] {
        env.write(
            &format!("orgs/{id}.yaml"),
            &format!(
                "org: {id}\nname: {id}\nhosts:\n  pc-{id}: {{address: 192.0.2.7}}\nmodules:\n  base: {{}}\n"
            ),
        );
    }
    let v = env.run(&["validate", "orgs/d.yaml"]);
    assert_eq!(v.code, 1, "{v:?}");
    assert!(
        v.stderr
            .contains("host address `192.0.2.7:22` is claimed by orgs/d.yaml and orgs/c.yaml"),
        "{v:?}"
    );
}

/// An org with a Wi-Fi network on a (never contacted) access point.
fn wifi_org(id: &str, network: &str) -> String {
    format!(
        "org: {id}\nname: {id}\nhosts:\n  ap: {{address: 192.0.2.1}}\nmodules:\n  base: {{}}\n  wifi:\n    driver: none\n    access_points: [ap]\n    networks:\n      - {network}\n"
    )
}

#[test]
fn secrets_stay_in_their_org_and_placeholders_are_never_filled() {
    let env = Env::new();
    env.write("secrets/other-org/wifi", "the-other-orgs-passphrase");
    env.write("secrets/a/wifi", "a-good-passphrase");
    for (id, network, expected) in [
        (
            "a",
            "{ssid: Hall, passphrase: secret:other-org/wifi}",
            "secret `other-org/wifi` is not this org's to use",
        ),
        (
            "b",
            "{ssid: \"((secret:other-org/wifi))\", passphrase: secret:b/wifi}",
            "this value looks like a secret placeholder",
        ),
    ] {
        env.write(&format!("orgs/{id}.yaml"), &wifi_org(id, network));
        env.write("secrets/b/wifi", "b-good-passphrase");
        let v = env.run(&["validate", &format!("orgs/{id}.yaml")]);
        assert_eq!(v.code, 1, "{v:?}");
        assert!(v.stderr.contains(expected), "{expected}\n{v:?}");
        assert!(!v.all().contains("the-other-orgs-passphrase"), "{v:?}");
        std::fs::remove_file(env.path(&format!("orgs/{id}.yaml"))).expect("rm");
    }
    // A pool-level secret shared in steward.yaml is usable by every org.
    env.write(
        "steward.yaml",
        &crate::support::POOL.replace(
            "secrets: {dir: secrets}",
            "secrets: {dir: secrets, shared: [building/wifi]}",
        ),
    );
    env.write("secrets/building/wifi", "the-buildings-passphrase");
    env.write(
        "orgs/a.yaml",
        &wifi_org("a", "{ssid: Hall, passphrase: secret:building/wifi}"),
    );
    let v = env.run(&["validate"]);
    assert_eq!(v.code, 0, "{v:?}");
}

#[test]
fn values_that_reach_config_files_are_checked_for_what_their_consumer_accepts() {
    let env = Env::new();
    env.write("secrets/a/short", "12345");
    env.write("secrets/a/newline", "good-passphrase\nextra_line=1");
    env.write("secrets/a/hex", &"ab".repeat(32));
    env.write(
        "orgs/a.yaml",
        &format!(
            "org: a\nname: a\nhosts:\n  ap: {{address: 192.0.2.1}}\nmodules:\n  base: {{}}\n  wifi:\n    access_points: [ap]\n    networks:\n      - {{ssid: One, passphrase: secret:a/short}}\n      - {{ssid: Two, passphrase: secret:a/newline}}\n      - {{ssid: \"{}\", passphrase: secret:a/hex}}\n      - {{ssid: \"Four\\nwpa_passphrase=x\", passphrase: secret:a/hex}}\n",
            "x".repeat(33)
        ),
    );
    let v = env.run(&["validate"]);
    assert_eq!(v.code, 1, "{v:?}");
    for expected in [
        "the value of secret `a/short` is not accepted here",
        "a WPA passphrase has 8 to 63 characters (or 64 hex",
        "the value of secret `a/newline` is not accepted here",
        "a WPA passphrase has only printable ASCII",
        "a network name has 1 to 32 bytes; this one has 33",
        "control character",
    ] {
        assert!(v.stderr.contains(expected), "{expected}\n{v:?}");
    }
    assert!(
        !v.stderr.contains("secret `a/hex`"),
        "64 hex digits are a key: {v:?}"
    );
    assert!(!v.all().contains("good-passphrase"), "{v:?}");
}

#[test]
fn files_outside_the_pool_are_refused_by_name_never_shown() {
    let env = Env::new();
    env.write(
        "secrets/a/google",
        "{\"private_key\": \"-----BEGIN PRIVATE KEY-----\\nSECRETKEYMATERIAL\\n\"}",
    );
    // An org file that is a link to a secret.
    std::os::unix::fs::symlink(env.path("secrets/a/google"), env.path("orgs/x.yaml"))
        .expect("symlink");
    let v = env.run(&["validate"]);
    assert_eq!(v.code, 1, "{v:?}");
    assert!(v.stderr.contains("outside"), "{v:?}");
    assert!(!v.all().contains("SECRETKEYMATERIAL"), "{v:?}");
    std::fs::remove_file(env.path("orgs/x.yaml")).expect("rm");

    // A module whose template is a file outside its folder: /etc/passwd, or a secret.
    for template in ["/etc/passwd", "../../secrets/a/google"] {
        env.write(
            "modules/evil/module.yaml",
            &format!("description: evil\nrequires: []\ntemplate: {template}\n"),
        );
        let v = env.run(&["modules"]);
        assert_ne!(v.code, 0, "{v:?}");
        assert!(v.all().contains("outside"), "{template}: {v:?}");
        assert!(!v.all().contains("SECRETKEYMATERIAL"), "{v:?}");
        assert!(!v.all().contains("root:x:0:0"), "{v:?}");
    }
}

#[test]
fn yaml_that_would_crash_or_stall_is_refused_at_its_line() {
    let env = Env::new();
    env.run(&["lab", "init"]);
    let laughs = {
        let mut s = String::from(
            "org: x\nname: x\nlol0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
        );
        for i in 1..10 {
            let prev = format!("*l{}", i - 1);
            s.push_str(&format!(
                "lol{i}: &l{i} [{}]\n",
                [prev.as_str(); 10].join(", ")
            ));
        }
        s
    };
    // A block sequence nested 10,000 deep, on one line: `- - - - ... x`.
    let deep = format!("org: x\nname: x\nnested:\n{}x\n", "- ".repeat(10_000));
    for (name, text, expected) in [
        ("laughs", laughs, "aliases expand this document beyond"),
        ("deep", deep, "nested more than 64 levels deep"),
        (
            "two",
            "org: two\nname: two\n---\norg: other\n".to_string(),
            "a second YAML document",
        ),
    ] {
        env.write(&format!("orgs/{name}.yaml"), &text);
        let v = env.run(&["validate", &format!("orgs/{name}.yaml")]);
        assert_eq!(v.code, 1, "{name}: {v:?}");
        assert!(v.stderr.contains(expected), "{name}: {v:?}");
        assert!(!v.stderr.contains("panicked"), "{name}: {v:?}");
        std::fs::remove_file(env.path(&format!("orgs/{name}.yaml"))).expect("rm");
    }
    // The second document is pointed at on its own line.
    env.write("orgs/two.yaml", "org: two\nname: two\n---\norg: other\n");
    let v = env.run(&["validate"]);
    assert!(v.stderr.contains("[orgs/two.yaml:3:1]"), "{v:?}");
    std::fs::remove_file(env.path("orgs/two.yaml")).expect("rm");

    // A byte-order mark is fine; bytes that are not UTF-8 are pointed at.
    env.write("orgs/bom.yaml", "\u{feff}org: bom\nname: With a BOM\n");
    let v = env.run(&["validate", "orgs/bom.yaml"]);
    assert_eq!(v.code, 0, "{v:?}");
    std::fs::write(env.path("orgs/latin.yaml"), b"org: latin\nname: Caf\xe9\n").expect("write");
    let v = env.run(&["validate", "orgs/latin.yaml"]);
    assert_eq!(v.code, 1, "{v:?}");
    assert!(
        v.stderr
            .contains("is not UTF-8 text: byte 0xe9 at line 2, column 10"),
        "{v:?}"
    );
    assert!(v.stderr.contains("[orgs/latin.yaml:2:10]"), "{v:?}");
}

#[test]
fn a_module_cannot_make_a_plan_read_any_file_on_a_host() {
    let env = Env::new();
    env.write(
        "modules/peek/module.yaml",
        "description: peek\nrequires: []\ntemplate: t.hbs\n",
    );
    for path in [
        "/etc/shadow",
        "/etc/steward/../shadow",
        "/etc/systemd/system/ssh.service",
        "/root/.ssh/id_ed25519",
    ] {
        env.write(
            "modules/peek/t.hbs",
            &format!(
                "resources:\n  - kind: file\n    attributes: {{host: pc, path: \"{path}\", content: x}}\n"
            ),
        );
        env.write(
            "orgs/a.yaml",
            "org: a\nname: a\nhosts:\n  pc: {address: 192.0.2.9}\nmodules:\n  peek: {}\n",
        );
        let v = env.run(&["validate"]);
        assert_eq!(v.code, 1, "{path}: {v:?}");
        assert!(
            v.stderr
                .contains(&format!("file `{path}` is not a path Steward manages")),
            "{path}: {v:?}"
        );
    }
}

#[test]
fn module_order_costs_no_edge_per_pair_of_resources() {
    // Printers require base: every queue comes after every base package. Spelt out as
    // one edge per pair, 1,000 packages and 1,000 queues were a million edges (and a
    // hostile file of 5 MB could ask for billions).
    let env = Env::new();
    let packages: Vec<String> = (0..1000).map(|i| format!("pkg{i}")).collect();
    let queues: String = (0..1000)
        .map(|i| format!("      - {{name: q{i}, uri: \"ipp://192.0.2.9/ipp/print\"}}\n"))
        .collect();
    env.write(
        "orgs/big.yaml",
        &format!(
            "org: big\nname: Big\nhosts:\n  srv: {{address: 192.0.2.1}}\nmodules:\n  base:\n    packages: [{}]\n  printers:\n    server: srv\n    queues:\n{queues}",
            packages.join(", ")
        ),
    );
    let g = env.run(&["graph", "big"]);
    assert_eq!(g.code, 0, "{g:?}");
    assert!(
        g.stdout.contains("module printers (requires base)"),
        "{g:?}"
    );
    assert!(
        g.stdout
            .contains("  cups_queue[srv:q7] <- apt_package[srv:cups]\n"),
        "{}",
        &g.stdout[..g.stdout.len().min(3000)]
    );
    assert!(g.stdout.len() < 500_000, "{} bytes", g.stdout.len());
    let dot = env.run(&["graph", "big", "--dot"]);
    assert_eq!(dot.code, 0, "{dot:?}");
    assert!(
        dot.stdout
            .contains("[ltail=\"cluster_printers\", lhead=\"cluster_base\", style=dashed];"),
        "{}",
        &dot.stdout[..dot.stdout.len().min(3000)]
    );
    assert!(dot.stdout.len() < 500_000, "{} bytes", dot.stdout.len());
}
