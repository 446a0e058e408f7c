//! CI definitions run as their runners would: a GitHub Actions job's `run:` steps in
//! order, with `${{ expr }}` filled from what the test gives.

use std::collections::BTreeMap;
use std::process::Command;

use serde_yaml::Value as Yaml;

use super::{BIN, Env, repo};

pub fn load(rel: &str) -> Yaml {
    let text = std::fs::read_to_string(repo().join(rel)).expect("workflow file");
    serde_yaml::from_str(&text).expect("workflow YAML")
}

pub fn s(v: &Yaml) -> String {
    match v {
        Yaml::String(s) => s.clone(),
        Yaml::Number(n) => n.to_string(),
        Yaml::Bool(b) => b.to_string(),
        other => panic!("expected a scalar, got {other:?}"),
    }
}

/// Fills `${{ expr }}` from `ctx`; an expression the test did not provide is a failure.
pub fn fill(text: &str, ctx: &BTreeMap<String, String>) -> String {
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

pub fn env_of(v: &Yaml, ctx: &BTreeMap<String, String>) -> Vec<(String, String)> {
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
pub fn place_binary(env: &Env, rel: &str) {
    let dest = env.path(rel);
    std::fs::create_dir_all(dest.parent().expect("parent")).expect("mkdir");
    let _ = std::fs::remove_file(&dest);
    std::fs::copy(BIN, &dest).expect("copy binary");
}

pub fn shell(
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
pub fn github_job(env: &Env, job: &str, ctx: &BTreeMap<String, String>, not_run: &[&str]) -> Job {
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
