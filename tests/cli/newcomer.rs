//! A newcomer's first hour: a pool of their own with `steward init`.

use crate::support::{Env, output_ok, repo};

#[test]
fn init_writes_a_pool_that_validates_plans_and_applies_against_the_lab() {
    let mut env = Env::empty();
    let init = env.run(&["init", ".", "--pool", "my-pool", "--ci", "github"]);
    assert_eq!(init.code, 0, "{init:?}");
    for file in [
        "steward.yaml",
        "orgs/example-org.yaml",
        ".gitignore",
        "README.md",
        "modules/accounts/module.yaml",
        "modules/wifi/resources.yaml.hbs",
        ".github/workflows/steward.yml",
        ".github/workflows/steward-drift.yml",
    ] {
        assert!(env.path(file).is_file(), "{file} missing: {init:?}");
    }
    assert!(env.read("steward.yaml").contains("pool: my-pool"));
    assert!(env.read(".gitignore").contains("/secrets/"));
    // As the quick start does, in the new pool.
    env.start_lab(&[]);
    let validate = env.run(&["validate"]);
    assert_eq!(validate.code, 0, "{validate:?}");
    let plan = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{plan:?}");
    assert!(
        plan.stdout.contains("+ google_user[alex@example.org]"),
        "{plan:?}"
    );
    let apply = env.run(&["apply", "--yes"]);
    assert_eq!(apply.code, 0, "{apply:?}");
    let again = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{again:?}");
    // The pool's standard it starts with, measured in the lab's accounts.
    let standard = env.run(&["baseline"]);
    assert_eq!(standard.code, 2, "{standard:?}");
    assert!(
        standard
            .stdout
            .contains("[FAILS] two-step: Every active account uses 2-step verification"),
        "{standard:?}"
    );
    // The secrets and state the run wrote are git-ignored.
    assert!(
        env.path("secrets/example-org/google-service-account")
            .is_file()
    );
    // Nothing is overwritten: a second init into the same folder is refused.
    let twice = env.run(&["init", "."]);
    assert_eq!(twice.code, 1, "{twice:?}");
    assert!(twice.stderr.contains("already exists"), "{twice:?}");
    assert!(env.read("steward.yaml").contains("pool: my-pool"));
}

#[test]
fn init_writes_the_ci_definition_asked_for() {
    for (ci, present, absent) in [
        ("gitlab", ".gitlab-ci.yml", ".github/workflows/steward.yml"),
        ("none", "steward.yaml", ".gitlab-ci.yml"),
    ] {
        let env = Env::empty();
        let init = env.run(&["init", "pool", "--ci", ci]);
        assert_eq!(init.code, 0, "{init:?}");
        assert!(env.path(&format!("pool/{present}")).is_file(), "{ci}");
        assert!(!env.path(&format!("pool/{absent}")).exists(), "{ci}");
        assert!(env.read("pool/steward.yaml").contains("pool: pool"), "{ci}");
    }
    let env = Env::empty();
    let bad = env.run(&["init", "x", "--pool", "Not An Id"]);
    assert_eq!(bad.code, 1, "{bad:?}");
    assert!(bad.stderr.contains("is not a pool id"), "{bad:?}");
}

/// What Red Hat's YAML language server (an editor's) says of a file: (line, message).
fn language_server(env: &Env, file: &str) -> Vec<(u64, String)> {
    let out = output_ok(
        std::process::Command::new("python3")
            .arg(repo().join("tests/tools/yaml_ls_check.py"))
            .arg(env.path(file)),
        "the YAML language server (needs node and npm; scripts/test installs them)",
    );
    let found: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    found
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            (
                d["line"].as_u64().unwrap_or(0),
                d["message"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// check-jsonschema's verdict on `file` against the pool's schema (exit status, output).
fn check_jsonschema(env: &Env, schema: &str, file: &str) -> (bool, String) {
    let out = std::process::Command::new("python3")
        .args(["-m", "check_jsonschema", "--schemafile"])
        .arg(env.path(schema))
        .arg(env.path(file))
        .output()
        .expect("python3 -m check_jsonschema (scripts/test installs it)");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn editors_check_org_files_with_the_schema_init_writes() {
    let env = Env::empty();
    assert_eq!(env.run(&["init", ".", "--ci", "none"]).code, 0);
    let example = env.read("orgs/example-org.yaml");
    assert!(
        example.starts_with("# yaml-language-server: $schema=../schema/org.schema.json\n"),
        "{example}"
    );
    // The schema is what `steward schema` makes of the pool's modules.
    let schema = env.run(&["schema"]);
    assert_eq!(schema.code, 0, "{schema:?}");
    assert_eq!(schema.stdout, env.read("schema/org.schema.json"));
    // An independent validator agrees with Steward on the example, and finds a typo.
    let typo = example
        .replace("\ncontacts:", "\ncontacs:")
        .replace("leavers: suspend", "leavers: suspnd");
    env.write("orgs/typo.yaml", &typo);
    let (ok, said) = check_jsonschema(&env, "schema/org.schema.json", "orgs/example-org.yaml");
    assert!(ok, "{said}");
    let (ok, said) = check_jsonschema(&env, "schema/org.schema.json", "orgs/typo.yaml");
    assert!(!ok && said.contains("contacs"), "{said}");
    // So does an editor's language server, at the lines of the mistakes.
    assert_eq!(language_server(&env, "orgs/example-org.yaml"), vec![]);
    let found = language_server(&env, "orgs/typo.yaml");
    let line_of = |needle: &str| {
        typo.lines()
            .position(|l| l.contains(needle))
            .map_or(0, |i| i as u64 + 1)
    };
    assert!(
        found
            .iter()
            .any(|(line, m)| *line == line_of("contacs:") && m.contains("contacs")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|(line, m)| *line == line_of("suspnd") && m.contains("suspend")),
        "{found:?}"
    );
    // steward.yaml too, from the same definitions that read it.
    let pool_file = env.read("steward.yaml");
    assert!(
        pool_file.starts_with("# yaml-language-server: $schema=schema/steward.schema.json\n"),
        "{pool_file}"
    );
    let pool_schema = env.run(&["schema", "--pool-file"]);
    assert_eq!(pool_schema.stdout, env.read("schema/steward.schema.json"));
    let (ok, said) = check_jsonschema(&env, "schema/steward.schema.json", "steward.yaml");
    assert!(ok, "{said}");
    assert_eq!(language_server(&env, "steward.yaml"), vec![]);
    env.write("steward.yaml", &format!("{pool_file}googel: {{}}\n"));
    let found = language_server(&env, "steward.yaml");
    assert!(found.iter().any(|(_, m)| m.contains("googel")), "{found:?}");
    let (ok, said) = check_jsonschema(&env, "schema/steward.schema.json", "steward.yaml");
    assert!(!ok && said.contains("googel"), "{said}");
    // And the pool's standard.
    assert_eq!(
        env.run(&["schema", "--baseline"]).stdout,
        env.read("schema/baseline.schema.json")
    );
    let (ok, said) = check_jsonschema(&env, "schema/baseline.schema.json", "baseline.yaml");
    assert!(ok, "{said}");
    assert_eq!(language_server(&env, "baseline.yaml"), vec![]);
    let standard = env.read("baseline.yaml");
    env.write(
        "baseline.yaml",
        &standard.replace("    measure: two_step", "    mesure: two_step"),
    );
    let (ok, said) = check_jsonschema(&env, "schema/baseline.schema.json", "baseline.yaml");
    assert!(!ok && said.contains("mesure"), "{said}");
}

#[test]
fn the_committed_schemas_are_not_stale() {
    for (args, file) in [
        (&["schema"][..], "schema/org.schema.json"),
        (&["schema", "--pool-file"][..], "schema/steward.schema.json"),
        (&["schema", "--baseline"][..], "schema/baseline.schema.json"),
    ] {
        let run = std::process::Command::new(crate::support::BIN)
            .args(["--root"])
            .arg(repo())
            .args(args)
            .env_remove("STEWARD_MODULES_DIR")
            .output()
            .expect("steward schema");
        assert!(run.status.success(), "{run:?}");
        let committed = std::fs::read_to_string(repo().join(file)).expect("committed schema");
        assert_eq!(
            String::from_utf8_lossy(&run.stdout),
            committed,
            "{file} is stale: run `steward {} --out {file}`",
            args.join(" ")
        );
    }
}

#[test]
fn the_quick_start_runs_as_written() {
    // The README's first command, in this checkout: build, lab, validate, plan, apply,
    // and a plan with nothing to do. (Its on-site half has a test of its own.)
    let out = std::process::Command::new(repo().join("scripts/quickstart"))
        .current_dir(repo())
        .env("STEWARD_QUICKSTART_ONSITE", "skip")
        .env("NO_COLOR", "1")
        .env_remove("STEWARD_GOOGLE_URL")
        .output()
        .expect("scripts/quickstart");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    for step in [
        "== steward validate",
        "2 org file(s) valid.",
        "Apply: 23 done, 0 failed, 0 skipped.",
        "(exit 0: no changes)",
        // The pool's standard, measured in the lab's accounts.
        "== steward baseline",
        "[FAILS] two-step: Every active account uses 2-step verification",
        "[meets] staff-org-unit: Staff have an org unit of their own",
        // Wi-Fi on the lab's UniFi controller, one site per org.
        "== steward plan (UniFi)",
        "+ unifi_site[riverside-food-bank]",
        "Apply: 8 done, 0 failed, 0 skipped.",
        "UniFi controller 9.5.21 (Network Application, integration API)",
        "Access point `Hall AP`",
        "is offline",
    ] {
        assert!(text.contains(step), "{step}\n{text}");
    }
    assert_eq!(
        text.matches("(exit 0: no changes)").count(),
        2,
        "both plans after apply had nothing to do: {text}"
    );
}
