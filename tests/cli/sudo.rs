//! Logging in as an ordinary user: the key comes from a real ssh-agent (no key file in
//! steward.yaml), and everything runs as root through passwordless sudo. One host is
//! print server, backup source and access point at once, so every on-site kind goes
//! through sudo. A user sudo refuses gets a diagnostic that says what to set up.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::hosts::HostLab;
use crate::support::{Env, output_ok};

const PASSWORD: &str = "sudo-test-restic-4410";
const PASSPHRASE: &str = "sudo-test-wifi-8823";

/// A real ssh-agent holding the lab's client key; killed when dropped.
struct Agent {
    child: Child,
    socket: PathBuf,
}

impl Agent {
    fn start(dir: &Path, key: &Path) -> Agent {
        let socket = dir.join("agent.sock");
        let child = Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&socket)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start ssh-agent (Debian package openssh-client)");
        let agent = Agent { child, socket };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !agent.socket.exists() {
            assert!(Instant::now() < deadline, "ssh-agent made no socket");
            std::thread::sleep(Duration::from_millis(20));
        }
        output_ok(
            Command::new("ssh-add")
                .arg(key)
                .env("SSH_AUTH_SOCK", &agent.socket)
                .stdin(Stdio::null()),
            "ssh-add the lab key",
        );
        agent
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn org(lab: &HostLab, user: &str) -> String {
    format!(
        r#"org: riverside
name: Riverside
hosts:
  office-pc: {{address: {office}, user: {user}}}
modules:
  base: {{}}
  printers:
    server: office-pc
    queues:
      - {{name: front-desk, uri: "ipp://{printer}:8631/ipp/print"}}
  backups:
    - name: shared-drive
      host: office-pc
      paths: [/srv/shared]
      repository: "sftp:restic@{backup}:/srv/restic/riverside"
      password: secret:riverside/restic
      schedule: "*-*-* 02:00"
      keep: {{daily: 7}}
      stale_after: 2d
  wifi:
    backend: hostapd
    driver: none
    access_points: [office-pc]
    networks:
      - {{ssid: Riverside-Staff, security: wpa2-psk, passphrase: secret:riverside/wifi-staff}}
"#,
        office = lab.ip(5),
        printer = lab.ip(20),
        backup = lab.ip(30),
    )
}

fn leaked(run: &crate::support::Run) -> bool {
    run.all().contains(PASSWORD) || run.all().contains(PASSPHRASE)
}

/// The health codes of the plan, read through sudo.
fn unhealthy(env: &Env) -> Vec<String> {
    crate::support::hosts::unhealthy_without(env, &[PASSWORD, PASSPHRASE])
}

#[test]
fn a_sudo_user_with_an_agent_key_applies_every_on_site_kind() {
    let lab = HostLab::start(&[
        ("office", 5, "server"),
        ("backup", 30, "server"),
        ("printer", 20, "printer"),
    ]);
    crate::support::hosts::sftp_access(&lab);
    // `steward` may use sudo without a password; `clerk` may log in but not use sudo.
    // Both accept the lab key.
    lab.sh(
        "office",
        "for u in steward clerk; do useradd -m -s /bin/sh $u && mkdir -p /home/$u/.ssh && cp /root/.ssh/authorized_keys /home/$u/.ssh/ && chown -R $u: /home/$u/.ssh; done && echo 'steward ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/steward && chmod 440 /etc/sudoers.d/steward",
    );

    let mut env = lab.pool_without_key_file();
    env.write("secrets/riverside/restic", PASSWORD);
    env.write("secrets/riverside/wifi-staff", PASSPHRASE);
    env.write("orgs/riverside.yaml", &org(&lab, "steward"));

    // No key file and no agent: refused at login, saying what was tried.
    let no_agent = env.run(&["plan"]);
    assert_eq!(no_agent.code, 1, "{no_agent:?}");
    assert!(
        no_agent
            .stdout
            .contains("cannot log in to office-pc as steward")
            && no_agent.stdout.contains("SSH_AUTH_SOCK is not set"),
        "{no_agent:?}"
    );

    let agent = Agent::start(lab.dir.path(), &lab.dir.path().join("id_ed25519"));
    env.extra_env
        .push(("SSH_AUTH_SOCK".into(), agent.socket.display().to_string()));
    let first = env.run(&["apply", "--yes"]);
    assert_eq!(first.code, 0, "{first:?}");
    assert!(!leaked(&first), "{first:?}");
    // (The packages are there already: the test hosts are copies of this machine.)
    for kind in [
        "+ file[office-pc:",
        "+ cups_queue[office-pc:front-desk]",
        "+ systemd_unit[office-pc:steward-backup-shared-drive.timer]",
        "+ restic_repository[office-pc:",
        "+ hostapd_config[office-pc:",
    ] {
        assert!(first.stdout.contains(kind), "{kind} missing: {first:?}");
    }

    // Done as root: root's files with the modes the modules ask for, the queue, the
    // repository on the backup host, hostapd running with the network.
    let state = lab.sh(
        "office",
        "stat -c '%a %U' /etc/steward/restic/shared-drive.password /etc/hostapd/hostapd.conf; lpstat -v front-desk; systemctl is-active steward-backup-shared-drive.timer hostapd",
    );
    assert!(
        state.starts_with("600 root\n600 root\n")
            && state.contains(&format!("ipp://{}:8631/ipp/print", lab.ip(20)))
            && state.ends_with("active\nactive\n"),
        "{state}"
    );
    assert!(
        lab.sh("backup", "ls /srv/restic/riverside")
            .contains("config"),
        "repository initialised"
    );
    assert!(
        lab.sh("office", "hostapd_cli -p /run/hostapd -i wlan0 get_config")
            .contains("ssid=Riverside-Staff\n")
    );
    // Nothing left behind by the uploads, and root wrote nothing into the login
    // user's home (sudo gives root's HOME, so restic's cache is root's).
    assert_eq!(
        lab.sh(
            "office",
            "ls -A /tmp | grep steward; find /home/steward -user root; true"
        ),
        ""
    );

    // Converged, still in one round trip; the backup unit Steward wrote runs, and
    // its snapshot is seen through sudo.
    crate::support::hosts::converged_in_one_round_trip(&env);
    assert_eq!(unhealthy(&env), vec!["no_backup"]);
    lab.sh(
        "office",
        "systemctl start steward-backup-shared-drive.service",
    );
    assert_eq!(unhealthy(&env), Vec::<String>::new());

    // A user sudo refuses: told so, with what to set up, and nothing else is tried.
    env.write("orgs/riverside.yaml", &org(&lab, "clerk"));
    let refused = env.run(&["plan"]);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(
        refused.stdout.contains(
            "clerk on office-pc may not run commands as root without a password: sudo: a password is required"
        ) && refused
            .stdout
            .contains("clerk ALL=(ALL) NOPASSWD: ALL"),
        "{refused:?}"
    );
    assert!(!leaked(&refused), "{refused:?}");
}
