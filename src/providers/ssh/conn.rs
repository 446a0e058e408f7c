//! One SSH session to one host (ssh2 is blocking: each lives on its own thread while
//! used). Every exchange after login is counted, so the benchmark can report round
//! trips per host.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ssh2::{ExtendedData, HostKeyType, MethodType, Session};

use super::known_hosts::{self, HostKeyError, KnownHosts};
use super::section::Host;
use super::shell::quote;

/// How hosts are reached: from `ssh:` in steward.yaml.
#[derive(Debug, Clone)]
pub struct Settings {
    pub known_hosts: KnownHosts,
    pub stats: std::sync::Arc<Stats>,
    pub identity_file: Option<PathBuf>,
    pub connect_timeout: Duration,
    pub command_timeout: Duration,
}

/// Logins and round trips per host (`address:port`), for `--stats` and the benchmark.
#[derive(Debug, Default)]
pub struct Stats {
    pub logins: AtomicU64,
    pub round_trips: std::sync::Mutex<std::collections::BTreeMap<String, u64>>,
}

impl Stats {
    fn count(&self, host: &str) {
        if let Ok(mut m) = self.round_trips.lock() {
            *m.entry(host.to_string()).or_default() += 1;
        }
    }

    /// (hosts, round trips in all, most round trips of one host)
    pub fn summary(&self) -> (usize, u64, u64) {
        let m = self
            .round_trips
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default();
        (
            m.len(),
            m.values().sum(),
            m.values().copied().max().unwrap_or(0),
        )
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum SshError {
    #[error("cannot reach {host} ({address}): {message}")]
    Connect {
        host: String,
        address: String,
        message: String,
    },
    #[error(transparent)]
    HostKey(#[from] Box<HostKeyError>),
    #[error("cannot log in to {host} as {user}: {message}")]
    Auth {
        host: String,
        user: String,
        message: String,
    },
    #[error("{host}: `{what}` failed (exit {status}): {output}")]
    Command {
        host: String,
        what: String,
        status: i32,
        output: String,
    },
    #[error(
        "{user} on {host} may not run commands as root without a password: {message}\n  Steward logs in as root, or as a user with passwordless sudo: on {host}, a sudoers line such as `{user} ALL=(ALL) NOPASSWD: ALL` in /etc/sudoers.d/{user}"
    )]
    Sudo {
        host: String,
        user: String,
        message: String,
    },
    #[error("{host}: {message}")]
    Failed { host: String, message: String },
}

/// What `as_root` prints, and its exit status, when sudo refuses: told apart from the
/// command's own failures.
const SUDO_REFUSED: &str = "steward-sudo-refused: ";
const SUDO_REFUSED_EXIT: i32 = 125;

/// The output of one remote command (or of one part of a batch script).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub status: i32,
    /// stdout and stderr, interleaved as the host wrote them.
    pub text: String,
}

pub struct Conn {
    pub host: Host,
    session: Session,
    stats: std::sync::Arc<Stats>,
    /// `address:port`, as stats count it.
    key: String,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("host", &self.host.name)
            .finish()
    }
}

fn key_type_name(t: HostKeyType) -> &'static str {
    match t {
        HostKeyType::Rsa => "ssh-rsa",
        HostKeyType::Dss => "ssh-dss",
        HostKeyType::Ecdsa256 => "ecdsa-sha2-nistp256",
        HostKeyType::Ecdsa384 => "ecdsa-sha2-nistp384",
        HostKeyType::Ecdsa521 => "ecdsa-sha2-nistp521",
        HostKeyType::Ed25519 => "ssh-ed25519",
        HostKeyType::Unknown => "unknown",
    }
}

impl Conn {
    /// Connects, verifies the host key and logs in (key file, then agent).
    pub fn open(settings: &Settings, host: &Host) -> Result<Conn, SshError> {
        let connect_err = |message: String| SshError::Connect {
            host: host.name.clone(),
            address: format!("{}:{}", host.address, host.port),
            message,
        };
        let addrs: Vec<_> = (host.address.as_str(), host.port)
            .to_socket_addrs()
            .map_err(|e| connect_err(e.to_string()))?
            .collect();
        let mut last = String::from("no address");
        let mut tcp = None;
        for a in addrs {
            match TcpStream::connect_timeout(&a, settings.connect_timeout) {
                Ok(s) => {
                    tcp = Some(s);
                    break;
                }
                Err(e) => last = e.to_string(),
            }
        }
        let tcp = tcp.ok_or_else(|| connect_err(last))?;
        let session_err = |e: ssh2::Error| SshError::Failed {
            host: host.name.clone(),
            message: e.message().to_string(),
        };
        let mut session = Session::new().map_err(session_err)?;
        session.set_tcp_stream(tcp);
        session.set_timeout(settings.connect_timeout.as_millis().min(u32::MAX as u128) as u32);
        let name = known_hosts::host_name(&host.address, host.port);
        // Ask for a key type the file knows for this host, as OpenSSH does: otherwise
        // the server may offer another of its keys and look "unknown".
        let types = settings.known_hosts.key_types(&name);
        if !types.is_empty() {
            let _ = session.method_pref(MethodType::HostKey, &types.join(","));
        }
        session
            .handshake()
            .map_err(|e| connect_err(format!("SSH handshake failed: {}", e.message())))?;
        let (key, kind) = session.host_key().ok_or_else(|| SshError::Failed {
            host: host.name.clone(),
            message: "the server sent no host key".into(),
        })?;
        settings
            .known_hosts
            .check(&name, key_type_name(kind), key)?;
        let mut tried = Vec::new();
        if let Some(file) = &settings.identity_file {
            match session.userauth_pubkey_file(&host.user, None, file, None) {
                Ok(()) => {}
                Err(e) => tried.push(format!("key {}: {}", file.display(), e.message())),
            }
        }
        if !session.authenticated() {
            if std::env::var_os("SSH_AUTH_SOCK").is_some() {
                if let Err(e) = session.userauth_agent(&host.user) {
                    tried.push(format!("agent: {}", e.message()));
                }
            } else {
                tried.push("agent: SSH_AUTH_SOCK is not set".into());
            }
        }
        if !session.authenticated() {
            return Err(SshError::Auth {
                host: host.name.clone(),
                user: host.user.clone(),
                message: tried.join("; "),
            });
        }
        session.set_timeout(settings.command_timeout.as_millis().min(u32::MAX as u128) as u32);
        settings.stats.logins.fetch_add(1, Ordering::Relaxed);
        Ok(Conn {
            host: host.clone(),
            session,
            stats: settings.stats.clone(),
            key: format!("{}:{}", host.address, host.port),
        })
    }

    fn err(&self, e: ssh2::Error) -> SshError {
        SshError::Failed {
            host: self.host.name.clone(),
            message: e.message().to_string(),
        }
    }

    /// Wraps a command so it runs as root: directly when logged in as root, else
    /// through passwordless sudo. `sudo -n` fails instead of prompting; trying it on
    /// `true` first tells a refusal apart from the command failing, in the same
    /// round trip.
    fn as_root(&self, command: &str) -> String {
        if self.host.user == "root" {
            command.to_string()
        } else {
            format!(
                "if ! e=$(sudo -n true 2>&1 </dev/null); then printf '%s%s\\n' {mark} \"$e\"; exit {SUDO_REFUSED_EXIT}; fi; exec sudo -n sh -c {command}",
                mark = quote(SUDO_REFUSED),
                command = quote(command)
            )
        }
    }

    /// Runs a command as root, with `stdin` fed to it.
    pub fn run(&self, command: &str, stdin: &[u8]) -> Result<Output, SshError> {
        self.stats.count(&self.key);
        let started = std::time::Instant::now();
        let result = self.run_once(command, stdin);
        // The command line can hold file names, never secrets (they go on stdin).
        tracing::debug!(
            host = %self.host.name,
            ms = started.elapsed().as_millis() as u64,
            status = result.as_ref().map_or(-1, |o| o.status),
            "round trip"
        );
        result
    }

    fn run_once(&self, command: &str, stdin: &[u8]) -> Result<Output, SshError> {
        let mut ch = self.session.channel_session().map_err(|e| self.err(e))?;
        // One stream: reading stdout to its end while stderr fills its window could
        // otherwise stall.
        ch.handle_extended_data(ExtendedData::Merge)
            .map_err(|e| self.err(e))?;
        ch.exec(&self.as_root(command)).map_err(|e| self.err(e))?;
        if !stdin.is_empty() {
            ch.write_all(stdin).map_err(|e| SshError::Failed {
                host: self.host.name.clone(),
                message: format!("sending input: {e}"),
            })?;
        }
        ch.send_eof().map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        ch.read_to_end(&mut out).map_err(|e| SshError::Failed {
            host: self.host.name.clone(),
            message: format!("reading output: {e}"),
        })?;
        ch.wait_close().map_err(|e| self.err(e))?;
        let status = ch.exit_status().map_err(|e| self.err(e))?;
        let text = String::from_utf8_lossy(&out);
        if self.host.user != "root"
            && status == SUDO_REFUSED_EXIT
            && let Some(why) = text.strip_prefix(SUDO_REFUSED)
        {
            return Err(SshError::Sudo {
                host: self.host.name.clone(),
                user: self.host.user.clone(),
                message: why.trim().to_string(),
            });
        }
        Ok(Output {
            status,
            text: text.into_owned(),
        })
    }

    /// Runs a command and fails unless it exits 0.
    pub fn check(&self, what: &str, command: &str, stdin: &[u8]) -> Result<Output, SshError> {
        let out = self.run(command, stdin)?;
        if out.status != 0 {
            return Err(out.failed(&self.host.name, what));
        }
        Ok(out)
    }
}

impl Output {
    /// The command's failure: its exit status and the end of what it said.
    pub fn failed(&self, host: &str, what: &str) -> SshError {
        SshError::Command {
            host: host.to_string(),
            what: what.to_string(),
            status: self.status,
            output: tail(&self.text),
        }
    }
}

/// The end of a command's output: enough to see why it failed.
pub fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.trim_end().lines().collect();
    let start = lines.len().saturating_sub(15);
    lines[start..].join("\n")
}
