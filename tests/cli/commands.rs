//! `graph`, `modules`, and replies that come too late.

use crate::support::{Env, org_file, users};

#[test]
fn graph_shows_modules_resources_and_dependencies() {
    let env = Env::examples();
    assert_eq!(env.run(&["lab", "init"]).code, 0);
    let text = env.run(&["graph", "hillside-youth-club"]);
    assert_eq!(text.code, 0, "{text:?}");
    assert!(
        text.stdout
            .starts_with("org hillside-youth-club\nmodule accounts\n"),
        "{text:?}"
    );
    assert!(
        text.stdout
            .contains("  google_org_unit[/Staff/Coaches] <- google_org_unit[/Staff]\n"),
        "{text:?}"
    );
    assert!(
        text.stdout.contains("  google_member[board@hillside-club.org/coaches@hillsideyouth.org] <- google_group[board@hillside-club.org], google_group[coaches@hillsideyouth.org]\n")
            || text.stdout.contains("  google_member[board@hillside-club.org/coaches@hillsideyouth.org] <- google_group[coaches@hillsideyouth.org], google_group[board@hillside-club.org]\n"),
        "{text:?}"
    );
    let dot = env.run(&["graph", "orgs/hillside-youth-club.yaml", "--dot"]);
    assert_eq!(dot.code, 0, "{dot:?}");
    assert!(
        dot.stdout.starts_with("digraph \"hillside-youth-club\" {"),
        "{dot:?}"
    );
    assert!(
        dot.stdout.contains(
            "\"google_user[lee@hillsideyouth.org]\" -> \"google_org_unit[/Staff/Coaches]\";"
        ),
        "{dot:?}"
    );
    let missing = env.run(&["graph", "nobody"]);
    assert_eq!(missing.code, 1);
    assert!(missing.stderr.contains("no org file"), "{missing:?}");
}

#[test]
fn modules_lists_the_catalogue_with_inputs() {
    let env = Env::new();
    let run = env.run(&["modules"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout
            .starts_with("accounts: Google Workspace org units, users, groups and group members\n"),
        "{run:?}"
    );
    // Each input with its type, required or default, and what it is for.
    for line in [
        "leavers      one of suspend, delete, default \"suspend\"  what happens to users removed from the file",
        "org_units    list of org_unit",
        "host         host, required",
    ] {
        assert!(run.stdout.contains(line), "{line}\n{}", run.stdout);
    }
    // Nested fields only for one module shown in full.
    assert!(!run.stdout.contains("family_name"), "{}", run.stdout);
    let one = env.run(&["modules", "accounts"]);
    assert_eq!(one.code, 0, "{one:?}");
    assert!(
        one.stdout.contains("      family_name  string"),
        "{}",
        one.stdout
    );
    assert!(
        one.stdout
            .contains("template: modules/accounts/resources.yaml.hbs"),
        "{}",
        one.stdout
    );
    let wrong = env.run(&["modules", "acounts"]);
    assert_eq!(wrong.code, 1, "{wrong:?}");
    assert!(
        wrong.stderr.contains("did you mean `accounts`?"),
        "{wrong:?}"
    );
}

#[test]
fn replies_that_time_out_after_the_work_is_done_converge_without_duplicates() {
    let mut env = Env::new();
    env.write(
        "steward.yaml",
        "pool: t\nsecrets: {dir: secrets}\ngoogle: {request_timeout_secs: 1, retry_for_secs: 60}\n",
    );
    env.write(
        "orgs/o.yaml",
        &org_file("o", "o.org", "C0o", "groups:\n  - {email: team@o.org, name: Team}\nusers:\n  - {email: a@o.org, name: A A, groups: [team]}\n  - {email: b@o.org, name: B B, groups: [team]}\n  - {email: c@o.org, name: C C, groups: [team]}\n"),
    );
    env.start_lab(&[
        "--fault-rate",
        "0.3",
        "--faults",
        "timeout",
        "--timeout-ms",
        "1500",
    ]);
    let run = env.run(&["apply", "--yes", "--stats"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("Apply: 7 done, 0 failed, 0 skipped."),
        "{run:?}"
    );
    assert!(
        !run.stderr.contains("retries 0)"),
        "some replies timed out and were retried: {run:?}"
    );
    let t = env.tenant("C0o");
    let users = users(&t);
    assert_eq!(users.len(), 4, "admin + 3, no duplicates: {users:?}");
    let members = t["members"]["team@o.org"].as_array().map(Vec::len);
    assert_eq!(members, Some(3));
    assert_eq!(t["groups"].as_array().map(Vec::len), Some(1));
}

/// A port on loopback that nothing listens on (bound, then released).
fn dead_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

#[test]
fn an_address_nothing_answers_at_fails_within_seconds_saying_what_to_do() {
    // The retry budget (120 s by default) is for rate limits and server errors: a
    // refused connection or an unknown host fails at once, naming the address.
    let mut env = Env::examples();
    assert_eq!(env.run(&["lab", "init"]).code, 0);
    let port = dead_port();
    for (url, shown, hint) in [
        (
            format!("http://127.0.0.1:{port}"),
            format!("cannot reach http://127.0.0.1:{port}: could not connect"),
            "start it with `steward lab serve`",
        ),
        (
            "http://steward-lab.invalid".to_string(),
            "cannot reach http://steward-lab.invalid: could not connect".to_string(),
            "check google.api_url and google.token_url",
        ),
    ] {
        env.extra_env = vec![("STEWARD_GOOGLE_URL".into(), url.clone())];
        let started = std::time::Instant::now();
        let run = env.run(&["plan"]);
        let took = started.elapsed();
        assert_eq!(run.code, 1, "{run:?}");
        assert!(run.stdout.contains(&shown), "{shown}\n{run:?}");
        assert!(run.stdout.contains(hint), "{hint}\n{run:?}");
        // Not a speed figure: the 120-second retry budget was not spent on it.
        assert!(took.as_secs() < 60, "{url}: took {took:?}");
    }
}

/// Runs steward with `on_tty` ("stdout" or "stderr") on a terminal and the other stream
/// on a pipe; colour left to steward (no NO_COLOR).
fn on_a_terminal(env: &Env, on_tty: &str, args: &[&str]) -> serde_json::Value {
    let mut cmd = std::process::Command::new("python3");
    cmd.arg(crate::support::repo().join("tests/tools/on_a_terminal.py"))
        .arg(on_tty)
        .arg(crate::support::BIN)
        .args(args)
        .current_dir(env.dir.path())
        .env_remove("NO_COLOR")
        .env_remove("STEWARD_ROOT");
    if let Some(url) = &env.lab_url {
        cmd.env("STEWARD_GOOGLE_URL", url);
    }
    let out = crate::support::output_ok(&mut cmd, "running steward on a terminal");
    serde_json::from_slice(&out.stdout).expect("json from on_a_terminal.py")
}

#[test]
fn colour_is_decided_for_each_stream() {
    let mut env = Env::examples();
    env.start_lab(&[]);
    const ESC: &str = "\u{1b}[";
    // `steward plan > plan.txt` from a terminal: the plan in the file has no colour.
    let to_file = on_a_terminal(&env, "stderr", &["plan"]);
    assert_eq!(to_file["code"], 0, "{to_file}");
    let plan = to_file["pipe"].as_str().unwrap_or_default();
    assert!(plan.contains("Plan: "), "{to_file}");
    assert!(
        !plan.contains(ESC),
        "colour codes in a redirected plan: {plan:?}"
    );
    // On a terminal the plan is in colour.
    let shown = on_a_terminal(&env, "stdout", &["plan"]);
    let plan = shown["terminal"].as_str().unwrap_or_default();
    assert!(plan.contains("Plan: "), "{shown}");
    assert!(plan.contains(ESC), "no colour on a terminal: {plan:?}");
    // --color never wins over a terminal.
    let never = on_a_terminal(&env, "stdout", &["--color", "never", "plan"]);
    let plan = never["terminal"].as_str().unwrap_or_default();
    assert!(plan.contains("Plan: ") && !plan.contains(ESC), "{never}");
}

#[test]
fn bash_completes_commands_and_their_options_from_the_generated_script() {
    let env = Env::new();
    let script = env.run(&["completions", "bash"]);
    assert_eq!(script.code, 0, "{script:?}");
    env.write("steward.bash", &script.stdout);
    // What bash offers after `steward pl<TAB>` and `steward plan --de<TAB>`, through the
    // completion function the script registers for `steward`.
    let complete = |words: &[&str]| -> String {
        let line = format!(
            "source ./steward.bash; COMP_WORDS=({}); COMP_CWORD={}; COMP_LINE=\"{}\"; COMP_POINT=${{#COMP_LINE}}; $(complete -p steward | sed -E 's/.*-F ([^ ]+).*/\\1/') steward \"{}\" \"{}\"; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            words
                .iter()
                .map(|w| format!("\"{w}\""))
                .collect::<Vec<_>>()
                .join(" "),
            words.len() - 1,
            words.join(" "),
            words[words.len() - 1],
            words[words.len() - 2],
        );
        let out = crate::support::output_ok(
            std::process::Command::new("bash")
                .args(["--norc", "--noprofile", "-c", &line])
                .current_dir(env.dir.path()),
            "bash completion",
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let commands = complete(&["steward", "pl"]);
    assert!(commands.lines().any(|l| l.trim() == "plan"), "{commands:?}");
    let options = complete(&["steward", "plan", "--de"]);
    assert!(
        options.lines().any(|l| l.trim() == "--detailed-exitcode"),
        "{options:?}"
    );
    for shell in ["zsh", "fish"] {
        let s = env.run(&["completions", shell]);
        assert_eq!(s.code, 0, "{s:?}");
        assert!(s.stdout.contains("detailed-exitcode"), "{shell}: {s:?}");
    }
}

#[test]
fn a_saved_plan_is_shown_as_plan_showed_it() {
    let mut env = Env::examples();
    env.start_lab(&[]);
    let saved = env.run(&["plan", "--out", "saved.json"]);
    assert_eq!(saved.code, 0, "{saved:?}");
    // JSON: the saved plan itself (a new plan would carry another `created_at`).
    let json = env.run(&["show", "saved.json", "--format", "json"]);
    assert_eq!(json.code, 0, "{json:?}");
    let shown: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
    let saved: serde_json::Value = serde_json::from_str(&env.read("saved.json")).expect("saved");
    assert_eq!(shown, saved);
    for format in ["text", "markdown"] {
        let shown = env.run(&["show", "saved.json", "--format", format]);
        assert_eq!(shown.code, 0, "{shown:?}");
        let planned = env.run(&["plan", "--format", format]);
        assert_eq!(shown.stdout, planned.stdout, "{format}");
    }
    let not_a_plan = env.run(&["show", "orgs/riverside-food-bank.yaml"]);
    assert_eq!(not_a_plan.code, 1, "{not_a_plan:?}");
    assert!(
        not_a_plan.stderr.contains("is not a saved plan"),
        "{not_a_plan:?}"
    );
}

#[test]
fn orgs_are_named_by_id_and_a_wrong_name_gets_the_nearest_ones() {
    let env = Env::examples();
    assert_eq!(env.run(&["lab", "init"]).code, 0);
    let by_id = env.run(&["graph", "riverside-food-bank"]);
    assert_eq!(by_id.code, 0, "{by_id:?}");
    let listed = env.run(&["orgs", "riverside-food-bank"]);
    assert_eq!(listed.code, 0, "{listed:?}");
    for (name, near) in [
        ("riverside", "did you mean `riverside-food-bank`?"),
        ("hillside-youth-clb", "did you mean `hillside-youth-club`?"),
    ] {
        for cmd in ["plan", "validate", "graph"] {
            let run = env.run(&[cmd, name]);
            assert_eq!(run.code, 1, "{cmd} {name}: {run:?}");
            assert!(
                run.stderr.contains(&format!("no org file for `{name}`")),
                "{run:?}"
            );
            assert!(run.stderr.contains(near), "{cmd} {name}: {run:?}");
        }
    }
}

#[test]
fn quiet_and_verbose_say_less_and_more() {
    let mut env = Env::examples();
    env.start_lab(&[]);
    let quiet = env.run(&["validate", "-q"]);
    assert_eq!(quiet.code, 0, "{quiet:?}");
    assert_eq!(quiet.stderr, "", "{quiet:?}");
    let normal = env.run(&["validate"]);
    assert!(normal.stderr.contains("2 org file(s) valid."), "{normal:?}");
    // -vv: what a person debugging needs, per org: the refresh, how long, how much.
    let verbose = env.run(&["plan", "-vv"]);
    assert_eq!(verbose.code, 0, "{verbose:?}");
    for org in ["hillside-youth-club", "riverside-food-bank"] {
        assert!(
            verbose.stderr.lines().any(|l| l.contains("refreshed")
                && l.contains(&format!("org={org}"))
                && l.contains("provider=\"google\"")),
            "{org}: {verbose:?}"
        );
        assert!(
            verbose.stderr.lines().any(|l| l.contains("google refresh")
                && l.contains(&format!("org={org}"))
                && l.contains("requests=")
                && l.contains("retries=0")),
            "{org}: {verbose:?}"
        );
    }
    // The key never shows, however verbose.
    let key: serde_json::Value =
        serde_json::from_str(&env.read("secrets/riverside-food-bank/google-service-account"))
            .expect("lab key");
    let pem = key["private_key"].as_str().unwrap_or_default();
    let body = pem.lines().nth(2).expect("a line of the key");
    let trace = env.run(&["plan", "-vvv"]);
    assert!(
        trace.stderr.contains("TRACE") || trace.stderr.contains("DEBUG"),
        "{trace:?}"
    );
    assert!(!trace.all().contains(body), "a key line leaked");
    let both = env.run(&["plan", "-q", "-v"]);
    assert_eq!(both.code, 2, "-q and -v conflict: {both:?}");
}
