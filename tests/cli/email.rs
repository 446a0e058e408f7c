//! The drift e-mail, received by a real SMTP server (aiosmtpd) and parsed as MIME.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::support::drift::drifted;
use crate::support::mail::{SMTP_PASSWORD, Smtp, configure, read_mail};
use crate::support::{Env, output_ok, repo};

fn part<'a>(msg: &'a Value, ty: &str) -> &'a str {
    msg["parts"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["type"] == ty))
        .and_then(|p| p["body"].as_str())
        .unwrap_or_else(|| panic!("no {ty} part in {msg:#}"))
}

#[test]
fn the_report_is_mailed_to_the_team_and_each_org_gets_its_own_part() {
    let env = drifted();
    let smtp = Smtp::start();
    configure(&env, smtp.port);
    let key = env.read("secrets/riverside-food-bank/google-service-account");
    let key: Value = serde_json::from_str(&key).expect("key");
    let key_line = key["private_key"]
        .as_str()
        .and_then(|p| p.lines().nth(2))
        .expect("pem line")
        .to_string();

    let run = env.run(&["drift", "--email", "--per-org"]);
    assert_eq!(run.code, 2, "drift found, mail sent: {run:?}");
    assert!(
        run.stderr
            .contains("Sent 3 of 3 message(s) (4 recipient(s))"),
        "{run:?}"
    );
    assert!(!run.all().contains(SMTP_PASSWORD));

    let mail = read_mail(&smtp.mail_dir());
    assert_eq!(mail.len(), 3, "{mail:#?}");
    let team = &mail[0];
    assert_eq!(team["auth_user"], "reports@pool.example");
    assert_eq!(team["mail_from"], "it@pool.example");
    assert_eq!(
        team["rcpt_tos"],
        serde_json::json!(["it-team@pool.example", "lead@pool.example"])
    );
    assert_eq!(
        team["subject"],
        "Steward drift: 2 orgs need attention, 5 findings"
    );
    assert_eq!(team["content_type"], "multipart/alternative");
    let text = part(team, "text/plain");
    let html = part(team, "text/html");
    for body in [text, html] {
        assert!(body.contains("Riverside Food Bank"), "{body}");
        assert!(body.contains("Hillside Youth Club"), "{body}");
        assert!(body.contains("kiosk@riversidefood.org"), "{body}");
        assert!(
            body.contains("steward apply orgs/riverside-food-bank.yaml"),
            "{body}"
        );
    }
    assert!(
        html.contains("Front &lt;b&gt;Kiosk&lt;/b&gt;") || !html.contains("<b>Kiosk"),
        "escaped"
    );

    // Each org's contacts get only their own part.
    let by_rcpt = |addr: &str| -> &Value {
        mail.iter()
            .find(|m| m["rcpt_tos"] == serde_json::json!([addr]))
            .unwrap_or_else(|| panic!("no message to {addr}: {mail:#?}"))
    };
    let dana = by_rcpt("dana@riversidefood.org");
    assert_eq!(
        dana["subject"],
        "Steward drift: 1 org needs attention, 4 findings"
    );
    let sam = by_rcpt("sam@hillsideyouth.org");
    assert_eq!(
        sam["subject"],
        "Steward drift: 1 org needs attention, 1 finding"
    );
    for body in [part(dana, "text/plain"), part(dana, "text/html")] {
        assert!(body.contains("Riverside Food Bank"), "{body}");
        assert!(
            !body.contains("Hillside"),
            "another org's part leaked: {body}"
        );
    }
    assert!(
        !part(sam, "text/html").contains("Riverside"),
        "another org's part leaked"
    );

    for m in &mail {
        let raw = m["raw"].as_str().unwrap_or_default();
        assert!(
            !raw.contains(SMTP_PASSWORD),
            "the SMTP password is in a message"
        );
        assert!(
            !raw.contains(&key_line),
            "a service-account key is in a message"
        );
    }
}

#[test]
fn dry_run_writes_the_messages_and_sends_nothing() {
    let env = drifted();
    let smtp = Smtp::start();
    configure(&env, smtp.port);
    let out = env.path("outbox");
    let run = env.run(&[
        "drift",
        "--email",
        "--per-org",
        "--dry-run",
        out.to_str().expect("path"),
    ]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("Dry run: wrote 3 message(s)"),
        "{run:?}"
    );
    let written = read_mail(&out);
    assert_eq!(written.len(), 3);
    assert_eq!(written[0]["file"], "01-pool.eml");
    assert_eq!(written[0]["content_type"], "multipart/alternative");
    std::thread::sleep(Duration::from_millis(200));
    assert!(read_mail_dir_is_empty(&smtp), "a dry run sent mail");
}

fn read_mail_dir_is_empty(smtp: &Smtp) -> bool {
    std::fs::read_dir(smtp.mail_dir()).map_or(true, |mut d| d.next().is_none())
}

#[test]
fn a_refused_login_fails_the_run_and_says_so_without_the_password() {
    let env = drifted();
    let smtp = Smtp::start();
    configure(&env, smtp.port);
    env.write("secrets/smtp-password", "wrong-password-xyz");
    let run = env.run(&["drift", "--email"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("sending to"), "{run:?}");
    assert!(run.stderr.contains("Sent 0 of 1 message(s)"), "{run:?}");
    assert!(!run.all().contains("wrong-password-xyz"), "{run:?}");
    // Without `email:` in steward.yaml, --email stops before checking anything.
    let bare = Env::new();
    let run = bare.run(&["drift", "--email"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("steward.yaml has no `email:` settings"),
        "{run:?}"
    );
}

#[test]
fn starttls_is_required_and_a_private_ca_can_be_trusted() {
    let env = drifted();
    // A private CA's certificate for localhost, made with the openssl tool.
    let cert = env.path("relay-cert.pem");
    let key = env.path("relay-key.pem");
    let mut openssl = Command::new("openssl");
    openssl
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
        ])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert);
    output_ok(
        &mut openssl,
        "making a self-signed certificate with openssl",
    );
    let smtp = Smtp::start_with(&[cert.clone(), key]);
    let settings = |ca: &str| {
        let pool = crate::support::POOL.to_string()
            + &format!(
                "email:\n  from: it@pool.example\n  to: [it-team@pool.example]\n  smtp: {{host: localhost, port: {}, security: starttls, username: reports@pool.example, password: \"secret:smtp-password\"{ca}}}\n",
                smtp.port
            );
        env.write("steward.yaml", &pool);
    };
    env.write("secrets/smtp-password", SMTP_PASSWORD);

    // Not trusted: refused, nothing sent, and the password never went out in clear.
    settings("");
    let run = env.run(&["drift", "--email"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("Sent 0 of 1 message(s)"), "{run:?}");
    assert!(read_mail_dir_is_empty(&smtp));

    settings(", ca_file: relay-cert.pem");
    let run = env.run(&["drift", "--email"]);
    assert_eq!(run.code, 2, "{run:?}");
    let mail = read_mail(&smtp.mail_dir());
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0]["tls"], true, "delivered over STARTTLS");
    assert_eq!(mail[0]["auth_user"], "reports@pool.example");
}

#[test]
fn the_html_report_renders_in_headless_chromium() {
    let env = drifted();
    let html = env.path("report.html");
    let run = env.run(&[
        "drift",
        "--format",
        "html",
        "--out",
        html.to_str().expect("path"),
    ]);
    assert_eq!(run.code, 2, "{run:?}");

    // Layout: at a phone's width and a desktop mail client's, nothing runs off the side.
    for dom in crate::support::fits_widths(&env.read("report.html"), &env.path("probe.html")) {
        assert!(dom.contains("Riverside Food Bank"), "rendered text");
    }

    // The screenshot, kept for a look (target/drift-email.png).
    let shot = repo().join("target").join("drift-email.png");
    let out = crate::support::chromium(
        &[
            "--window-size=760,1400",
            &format!("--screenshot={}", shot.display()),
        ],
        &html,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = std::fs::read(&shot).expect("screenshot");
    assert_eq!(&png[1..4], b"PNG");
    let width = u32::from_be_bytes([png[16], png[17], png[18], png[19]]);
    assert_eq!(width, 760);
    assert!(
        png.len() > 20_000,
        "a near-empty screenshot ({} bytes)",
        png.len()
    );
}
