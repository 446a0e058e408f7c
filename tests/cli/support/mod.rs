//! A small test environment: a pool in a temporary folder, the real `steward` binary,
//! and the lab emulator as a child process on a free loopback port.

pub mod drift;
pub mod hosts;
pub mod mail;
pub mod unifi;
pub mod workflows;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use steward::providers::google::auth::ServiceAccount;
use steward::secrets::Secret;

pub const BIN: &str = env!("CARGO_BIN_EXE_steward");

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The top of the org file of Harbour Trust, whose Google tenant `cid` the lab hosts,
/// down to `modules: accounts:` (9 lines).
pub fn harbour(cid: &str) -> String {
    format!(
        "org: harbour\nname: Harbour Trust\ngoogle:\n  domain: harbour.org\n  customer_id: {cid}\n  admin: admin@harbour.org\n  credentials: secret:harbour/google\nmodules:\n  accounts:\n"
    )
}

/// Where a vendor's published contract is: `../shared/contracts/REL`, or under
/// `STEWARD_CONTRACTS_DIR`.
pub fn contract_path(rel: &str) -> PathBuf {
    std::env::var_os("STEWARD_CONTRACTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared/contracts"))
        .join(rel)
}

pub const POOL: &str = "pool: test-pool
secrets: {dir: secrets}
state_dir: .steward
parallelism: 4
google:
  request_timeout_secs: 5
  retry_for_secs: 30
";

pub struct Env {
    pub dir: tempfile::TempDir,
    lab: Option<Child>,
    pub lab_url: Option<String>,
    pub extra_env: Vec<(String, String)>,
}

/// What a run printed and how it ended.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let dest = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).expect("copy");
        }
    }
}

impl Env {
    /// A pool with the repository's modules and no orgs.
    pub fn new() -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        copy_dir(&repo().join("modules"), &dir.path().join("modules"));
        std::fs::create_dir_all(dir.path().join("orgs")).expect("orgs");
        std::fs::write(dir.path().join("steward.yaml"), POOL).expect("pool");
        Env {
            dir,
            lab: None,
            lab_url: None,
            extra_env: Vec::new(),
        }
    }

    /// An empty folder, for `steward init`.
    pub fn empty() -> Env {
        Env {
            dir: tempfile::tempdir().expect("tempdir"),
            lab: None,
            lab_url: None,
            extra_env: Vec::new(),
        }
    }

    /// A pool with the repository's example orgs too.
    pub fn examples() -> Env {
        let env = Env::new();
        copy_dir(&repo().join("orgs"), &env.dir.path().join("orgs"));
        env
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, content: &str) {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, content).expect("write");
    }

    /// Removes every line containing `needle` from a file (an org "losing" a person).
    pub fn drop_lines(&self, rel: &str, needle: &str) {
        let text = self.read(rel);
        let kept: Vec<&str> = text.lines().filter(|l| !l.contains(needle)).collect();
        self.write(rel, &(kept.join("\n") + "\n"));
    }

    /// Runs git in the pool folder; panics with its output when it fails.
    pub fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .args([
                "-c",
                "user.name=Steward Test",
                "-c",
                "user.email=test@example.org",
            ])
            .args([
                "-c",
                "init.defaultBranch=main",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE")
            .output()
            .expect("run git");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Stages everything and commits it; returns the new commit.
    pub fn commit(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.git(&["rev-parse", "HEAD"]).trim().to_string()
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_default()
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("NO_COLOR", "1")
            .env_remove("STEWARD_GOOGLE_URL")
            .env_remove("STEWARD_ROOT")
            .env_remove("STEWARD_MODULES_DIR")
            // Logins in tests use the lab key only, never the tester's agent.
            .env_remove("SSH_AUTH_SOCK")
            .stdin(Stdio::null());
        for (k, _) in std::env::vars() {
            if k.starts_with("STEWARD_SECRET_") {
                cmd.env_remove(k);
            }
        }
        if let Some(url) = &self.lab_url {
            cmd.env("STEWARD_GOOGLE_URL", url);
        }
        for (k, v) in &self.extra_env {
            cmd.env(k, v);
        }
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Run {
        let out: Output = self.command(args).output().expect("run steward");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Creates lab keys and starts the emulator with `args` (faults, latency).
    pub fn start_lab(&mut self, args: &[&str]) {
        let init = self.run(&["lab", "init"]);
        assert_eq!(init.code, 0, "lab init: {init:?}");
        let ready = self.path(".lab-url");
        let _ = std::fs::remove_file(&ready);
        let _ = std::fs::remove_file(self.path(".lab-env"));
        let mut full = vec![
            "lab",
            "serve",
            "--port",
            "0",
            "--ready-file",
            ".lab-url",
            "--env-file",
            ".lab-env",
        ];
        full.extend_from_slice(args);
        let child = self
            .command(&full)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start lab");
        self.lab = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let url = self.read(".lab-url");
            if !url.trim().is_empty() {
                self.lab_url = Some(url.trim().to_string());
                // The other emulators' settings (a UniFi controller's URL and
                // certificate fingerprint), written before the ready file.
                for line in self.read(".lab-env").lines() {
                    let Some((k, v)) = line.trim_start_matches("export ").split_once('=') else {
                        continue;
                    };
                    if k != "STEWARD_GOOGLE_URL" {
                        self.extra_env
                            .push((k.to_string(), v.trim_matches('\'').to_string()));
                    }
                }
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("the lab did not start within 20 s");
    }

    fn lab_http(&self, method: &str, path: &str, body: &str) -> Value {
        let url = self.lab_url.as_ref().expect("lab running");
        let addr = url.trim_start_matches("http://");
        let mut s = TcpStream::connect(addr).expect("connect lab");
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .expect("send");
        let mut resp = String::new();
        s.read_to_string(&mut resp).expect("read");
        let body = resp.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
        serde_json::from_str(body).unwrap_or(Value::Null)
    }

    pub fn lab_get(&self, path: &str) -> Value {
        self.lab_http("GET", path, "")
    }

    pub fn lab_post(&self, path: &str, body: &Value) -> Value {
        self.lab_http("POST", path, &body.to_string())
    }

    /// The tenant with this customer id, from the lab's full dump.
    pub fn tenant(&self, customer_id: &str) -> Value {
        let dump = self.lab_get("/_lab/dump");
        dump["tenants"]
            .as_array()
            .and_then(|ts| ts.iter().find(|t| t["customer_id"] == customer_id).cloned())
            .expect("tenant in dump")
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(mut c) = self.lab.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Runs `program args` with `input` on its standard input; panics with `why` if it
/// cannot be started.
pub fn with_stdin(program: &str, args: &[&str], input: &str, why: &str) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program}: {e} ({why})"));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait")
}

/// Runs a command that must succeed; otherwise panics with `why` and all it printed.
pub fn output_ok(cmd: &mut Command, why: &str) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{why}: cannot run {:?}: {e}", cmd.get_program()));
    assert!(
        out.status.success(),
        "{why}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Shellchecks a script (bash) at warning level; panics with the findings.
pub fn shellcheck(name: &str, script: &str) {
    let out = with_stdin(
        "shellcheck",
        &["--shell=bash", "--severity=warning", "-"],
        script,
        "scripts/test installs shellcheck",
    );
    assert!(
        out.status.success(),
        "{name}:\n{script}\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// A test module that renders no resources.
pub fn write_module(env: &Env, name: &str, requires: &[&str]) {
    env.write(
        &format!("modules/{name}/module.yaml"),
        &format!(
            "description: test module {name}\nrequires: [{}]\ntemplate: t.hbs\n",
            requires.join(", ")
        ),
    );
    env.write(&format!("modules/{name}/t.hbs"), "resources: []\n");
}

/// A minimal valid org with the accounts module; `accounts` is the YAML body under it.
pub fn org_file(id: &str, domain: &str, customer: &str, accounts: &str) -> String {
    let mut s = format!(
        "org: {id}\nname: Test Org {id}\ngoogle:\n  domain: {domain}\n  customer_id: {customer}\n  admin: admin@{domain}\n  credentials: secret:{id}/google\nmodules:\n  accounts:\n"
    );
    for line in accounts.lines() {
        s.push_str("    ");
        s.push_str(line);
        s.push('\n');
    }
    s
}

// Reading the lab's dump of one tenant.

/// The tenant's users' primary emails, sorted.
pub fn users(t: &Value) -> Vec<String> {
    let mut v: Vec<String> = t["users"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|u| u["primaryEmail"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// One user of the tenant, by primary email.
pub fn user<'a>(t: &'a Value, email: &str) -> Option<&'a Value> {
    t["users"]
        .as_array()?
        .iter()
        .find(|u| u["primaryEmail"] == email)
}

/// Group memberships in the tenant, all groups together.
pub fn member_count(t: &Value) -> usize {
    t["members"].as_object().map_or(0, |m| {
        m.values().map(|l| l.as_array().map_or(0, Vec::len)).sum()
    })
}

/// A raw HTTP/1.1 exchange, so tests see exactly what goes over the wire.
pub fn http(
    url: &str,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &str,
) -> (u16, Value) {
    let addr = url.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).expect("connect");
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).expect("send");
    let mut resp = String::new();
    s.read_to_string(&mut resp).expect("read");
    let status = resp
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = resp.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

pub fn token(env: &Env, key_secret: &str, subject: &str, now_offset: i64) -> (u16, Value) {
    let url = env.lab_url.clone().expect("lab");
    let account = ServiceAccount::from_secret(&Secret::new(env.read(key_secret))).expect("key");
    let now = (steward::util::unix_now() as i64 + now_offset) as u64;
    let assertion = account
        .assertion(subject, &format!("{url}/token"), now)
        .expect("sign");
    let body = format!(
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={assertion}"
    );
    http(
        &url,
        "POST",
        "/token",
        &[("Content-Type", "application/x-www-form-urlencoded".into())],
        &body,
    )
}

/// Calls the Directory API of the lab as the org's admin would, through the real
/// token endpoint: how tests set a tenant up "by hand" (aliases, external ids, ...).
pub fn api(
    env: &Env,
    org: &str,
    admin: &str,
    method: &str,
    path: &str,
    body: &Value,
) -> (u16, Value) {
    let (code, tok) = token(env, &format!("secrets/{org}/google"), admin, 0);
    assert_eq!(code, 200, "token for {admin}: {tok}");
    let url = env.lab_url.clone().expect("lab");
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    http(
        &url,
        method,
        &format!("/admin/directory/v1/{path}"),
        &[
            (
                "Authorization",
                format!(
                    "Bearer {}",
                    tok["access_token"].as_str().unwrap_or_default()
                ),
            ),
            ("Content-Type", "application/json".into()),
        ],
        &body,
    )
}

/// Runs headless Chromium (Debian's `chromium`) with `args` on a file.
pub fn chromium(args: &[&str], file: &std::path::Path) -> std::process::Output {
    Command::new("chromium")
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .args(args)
        .arg(format!("file://{}", file.display()))
        .output()
        .expect("chromium is needed (scripts/test installs Debian's chromium)")
}

/// Renders `page` in headless Chromium at a phone's width (400) and a desktop's (760),
/// written to `probe` with a script that measures it, and asserts nothing runs off the
/// side; returns the DOM at each width.
pub fn fits_widths(page: &str, probe: &std::path::Path) -> Vec<String> {
    std::fs::write(
        probe,
        page.replace(
            "</body>",
            "<script>document.title = 'width=' + document.documentElement.scrollWidth + ' viewport=' + window.innerWidth;</script></body>",
        ),
    )
    .expect("probe");
    let mut doms = Vec::new();
    for width in [400, 760] {
        let out = chromium(
            &[&format!("--window-size={width},900"), "--dump-dom"],
            probe,
        );
        let dom = String::from_utf8_lossy(&out.stdout).into_owned();
        let title = dom
            .split("<title>")
            .nth(1)
            .and_then(|t| t.split("</title>").next())
            .unwrap_or_else(|| panic!("no title in the DOM: {dom}"));
        let number = |key: &str| -> u32 {
            title
                .split_whitespace()
                .find_map(|p| p.strip_prefix(key))
                .and_then(|w| w.parse().ok())
                .unwrap_or_else(|| panic!("{title}"))
        };
        let (scroll, viewport) = (number("width="), number("viewport="));
        // Chromium keeps a minimum window width, so compare with the real viewport.
        assert!(viewport <= width.max(500), "{title}");
        assert!(
            scroll <= viewport,
            "in a {viewport}px window the page is {scroll}px wide"
        );
        doms.push(dom);
    }
    doms
}

/// The drift e-mail `drift --email --dry-run DIR` wrote for one org (its file name has
/// the org id), with quoted-printable soft line breaks undone.
pub fn org_mail(env: &Env, dir: &str, org: &str) -> String {
    let mail = std::fs::read_dir(env.path(dir))
        .expect("mail folder")
        .flatten()
        .find(|e| e.file_name().to_string_lossy().contains(org))
        .map(|e| std::fs::read_to_string(e.path()).expect("read"))
        .unwrap_or_else(|| panic!("no mail for {org} in {dir}"));
    mail.replace("=\r\n", "").replace("=\n", "")
}
