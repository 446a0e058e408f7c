//! A newcomer's first hour: a pool of their own with `steward init`.

use crate::support::Env;

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
