//! A real SMTP server for tests (aiosmtpd), and reading what it received.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Env, output_ok, repo};

pub const SMTP_PASSWORD: &str = "Smtp-Pa55-Do-Not-Leak";

/// tests/tools/smtp_sink.py on a free loopback port, requiring this login.
pub struct Smtp {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl Smtp {
    pub fn start() -> Smtp {
        Smtp::start_with(&[])
    }

    /// With `tls` = [cert.pem, key.pem] the server requires STARTTLS.
    pub fn start_with(tls: &[PathBuf]) -> Smtp {
        let dir = tempfile::tempdir().expect("tempdir");
        let ready = dir.path().join("port");
        let child = Command::new("python3")
            .arg(repo().join("tests/tools/smtp_sink.py"))
            .arg(dir.path().join("mail"))
            .arg(&ready)
            .args(["reports@pool.example", SMTP_PASSWORD])
            .args(tls)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 for the SMTP server (scripts/test installs aiosmtpd)");
        // Owned at once, so Drop stops the server on every path below.
        let mut smtp = Smtp {
            child,
            port: 0,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(p) = std::fs::read_to_string(&ready)
                && let Ok(port) = p.trim().parse()
            {
                smtp.port = port;
                return smtp;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the SMTP server did not start within 20 s (is aiosmtpd installed?)");
    }

    pub fn mail_dir(&self) -> PathBuf {
        self.dir.path().join("mail")
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Messages in a folder, parsed by Python's email package.
pub fn read_mail(dir: &std::path::Path) -> Vec<Value> {
    let out = output_ok(
        Command::new("python3")
            .arg(repo().join("tests/tools/read_mail.py"))
            .arg(dir),
        "reading the mail folder",
    );
    serde_json::from_slice::<Value>(&out.stdout)
        .expect("json")
        .as_array()
        .cloned()
        .unwrap_or_default()
}

pub fn configure(env: &Env, port: u16) {
    let mut pool = env.read("steward.yaml");
    pool.push_str(&format!(
        "email:\n  from: \"Example Pool IT <it@pool.example>\"\n  to: [it-team@pool.example, lead@pool.example]\n  smtp: {{host: 127.0.0.1, port: {port}, security: none, username: reports@pool.example, password: \"secret:smtp-password\"}}\n"
    ));
    env.write("steward.yaml", &pool);
    env.write("secrets/smtp-password", SMTP_PASSWORD);
}
