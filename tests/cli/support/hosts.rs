//! Real on-site hosts for tests (`scripts/lab-hosts`), and what tests ask of them.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use super::{Env, output_ok, repo};

/// Test hosts on their own lab bridge; taken down when dropped.
pub struct HostLab {
    pub dir: tempfile::TempDir,
    pub subnet: String,
}

fn script() -> PathBuf {
    repo().join("scripts/lab-hosts")
}

/// Fails, loudly, when not root: these tests must never pass without running.
pub fn require_root(why: &str) {
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    assert!(
        is_root,
        "THIS TEST DID NOT RUN: {why}, which needs root. Run the suite as root (CI does)."
    );
}

impl HostLab {
    /// Boots `hosts` (name, last octet, role).
    pub fn start(hosts: &[(&str, u8, &str)]) -> HostLab {
        require_root("it boots test hosts in network and mount namespaces");
        let dir = tempfile::Builder::new()
            .prefix("steward-hosts-")
            .tempdir()
            .expect("tempdir");
        let mut lab = HostLab {
            dir,
            subnet: String::new(),
        };
        lab.script(&["up"]);
        lab.subnet = std::fs::read_to_string(lab.dir.path().join("subnet"))
            .expect("lab subnet")
            .trim()
            .to_string();
        for (name, n, role) in hosts {
            lab.script(&["host", name, &n.to_string(), role]);
        }
        lab
    }

    fn script(&self, args: &[&str]) -> String {
        let (cmd, rest) = args.split_first().expect("command");
        let out = output_ok(
            Command::new(script())
                .arg(cmd)
                .arg(self.dir.path())
                .args(rest),
            &format!("lab-hosts {args:?} failed"),
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn ip(&self, n: u8) -> String {
        format!("10.231.{}.{n}", self.subnet)
    }

    /// Runs a shell command on a host as root and returns its output.
    pub fn sh(&self, host: &str, command: &str) -> String {
        self.script(&["exec", host, "sh", "-c", command])
    }

    pub fn stop(&self, host: &str) {
        self.script(&["stop", host]);
    }

    /// Lets root on `from` reach user `restic` on `to` over sftp.
    pub fn sftp(&self, from: &str, to: &str) {
        self.script(&["sftp", from, to]);
    }

    pub fn rekey(&self, host: &str) {
        self.script(&["rekey", host]);
    }

    /// Starts or stops the lab's package repository (`start` / `stop`).
    pub fn repo(&self, what: &str) {
        self.script(&["repo", what]);
    }

    /// A pool whose ssh settings trust this lab's hosts and log in with its key.
    pub fn pool(&self) -> Env {
        self.pool_with(&format!(
            "  identity_file: {}/id_ed25519\n",
            self.dir.path().display()
        ))
    }

    /// A pool that trusts this lab's hosts but names no key file (the agent's, if any).
    pub fn pool_without_key_file(&self) -> Env {
        self.pool_with("")
    }

    fn pool_with(&self, ssh_lines: &str) -> Env {
        let env = Env::new();
        env.write(
            "steward.yaml",
            &format!(
                "{}ssh:\n  known_hosts: {}/known_hosts\n{ssh_lines}  connect_timeout_secs: 3\n",
                crate::support::POOL,
                self.dir.path().display()
            ),
        );
        env
    }
}

impl Drop for HostLab {
    fn drop(&mut self) {
        let _ = Command::new(script())
            .arg("down")
            .arg(self.dir.path())
            .status();
    }
}

pub fn json(run: &crate::support::Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {run:?}"))
}

/// A second plan has nothing to do (exit 0 with `--detailed-exitcode`) and costs one
/// round trip to the one host.
pub fn converged_in_one_round_trip(env: &Env) -> crate::support::Run {
    let again = env.run(&["plan", "--detailed-exitcode", "--stats"]);
    assert_eq!(again.code, 0, "{again:?}");
    assert!(
        again.stderr.contains("1 host(s), 1 round trip(s)"),
        "{again:?}"
    );
    again
}

/// Lets root on `office` reach user `restic` on `backup` over sftp, and gives office
/// a file to back up.
pub fn sftp_access(lab: &HostLab) {
    lab.sftp("office", "backup");
    lab.sh(
        "office",
        "mkdir -p /srv/shared && echo 'minutes of the AGM' > /srv/shared/minutes.txt",
    );
}

/// The health codes of a plan (JSON), which must hold none of `secrets`.
pub fn unhealthy_without(env: &Env, secrets: &[&str]) -> Vec<String> {
    let run = env.run(&["plan", "--json"]);
    for secret in secrets {
        assert!(!run.all().contains(secret), "a secret leaked: {run:?}");
    }
    json(&run)["orgs"][0]["unhealthy"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|u| u["code"].as_str().unwrap_or_default().to_string())
        .collect()
}
