//! The drift report as e-mail: multipart/alternative (plain text and HTML), one message
//! with the whole report to the pool team, and with `--per-org` one message to each
//! org's reporting contacts holding only their own part. Sent over SMTP with lettre, or
//! written to files for a dry run.

use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};

use super::Report;
use super::render::{RenderError, Renderer, subject};
use crate::pool::{EmailConfig, SmtpSecurity};
use crate::secrets::{self, Secrets};

#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    #[error("`{value}` in steward.yaml email.{field} is not an e-mail address")]
    Address { field: &'static str, value: String },
    #[error("contact `{value}` of org {org} is not an e-mail address")]
    Contact { org: String, value: String },
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("cannot build the message: {0}")]
    Build(String),
    #[error("email.smtp.password must be a `secret:NAME` reference, not the password itself")]
    PlainPassword,
    #[error("SMTP password: {0}")]
    Secret(#[from] secrets::SecretError),
    #[error("sending to {to} through {server} failed: {message}")]
    Send {
        to: String,
        server: String,
        message: String,
    },
    #[error("email.smtp.ca_file {}: {message}", path.display())]
    CaFile { path: PathBuf, message: String },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One message to send: who gets it and the report it carries.
pub struct Outgoing {
    /// For file names and messages: "pool" or the org id.
    pub label: String,
    pub to: Vec<Mailbox>,
    pub message: Message,
}

fn mailbox(value: &str, field: &'static str) -> Result<Mailbox, EmailError> {
    value.parse().map_err(|_| EmailError::Address {
        field,
        value: value.to_string(),
    })
}

fn build(
    from: &Mailbox,
    to: &[Mailbox],
    report: &Report,
    renderer: &Renderer,
) -> Result<Message, EmailError> {
    let mut builder = Message::builder()
        .from(from.clone())
        .subject(subject(report));
    for m in to {
        builder = builder.to(m.clone());
    }
    let (text, html) = renderer.text_and_html(report)?;
    builder
        .multipart(MultiPart::alternative_plain_html(text, html))
        .map_err(|e| EmailError::Build(e.to_string()))
}

/// The messages for a report: the whole report to the pool team, and with `per_org`
/// each org's own part to its contacts who asked for reports.
pub fn messages(
    report: &Report,
    config: &EmailConfig,
    renderer: &Renderer,
    per_org: bool,
) -> Result<Vec<Outgoing>, EmailError> {
    let from = mailbox(&config.from, "from")?;
    let team: Vec<Mailbox> = config
        .to
        .iter()
        .map(|t| mailbox(t, "to"))
        .collect::<Result<_, _>>()?;
    let mut out = vec![Outgoing {
        label: "pool".into(),
        message: build(&from, &team, report, renderer)?,
        to: team,
    }];
    if per_org {
        for org in &report.orgs {
            if org.report_to.is_empty() {
                continue;
            }
            let to: Vec<Mailbox> = org
                .report_to
                .iter()
                .map(|c| {
                    c.parse().map_err(|_| EmailError::Contact {
                        org: org.org.clone(),
                        value: c.clone(),
                    })
                })
                .collect::<Result<_, _>>()?;
            let part = report.only(&org.org);
            out.push(Outgoing {
                label: org.org.clone(),
                message: build(&from, &to, &part, renderer)?,
                to,
            });
        }
    }
    Ok(out)
}

/// Writes each message as `NN-LABEL.eml` in `dir`; returns the files.
pub fn write_all(dir: &Path, messages: &[Outgoing]) -> Result<Vec<PathBuf>, EmailError> {
    std::fs::create_dir_all(dir).map_err(|source| EmailError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut files = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let path = dir.join(format!("{:02}-{}.eml", i + 1, m.label));
        crate::util::write_atomic(&path, &m.message.formatted(), 0o644).map_err(|source| {
            EmailError::Write {
                path: path.clone(),
                source,
            }
        })?;
        files.push(path);
    }
    Ok(files)
}

/// Sends every message; a failed message does not stop the others. Returns the
/// failures (the caller reports them and exits non-zero).
pub fn send_all(
    config: &EmailConfig,
    secrets: &Secrets,
    root: &Path,
    messages: &[Outgoing],
) -> Result<Vec<EmailError>, EmailError> {
    let smtp = &config.smtp;
    let port = smtp.port.unwrap_or(match smtp.security {
        SmtpSecurity::Starttls => 587,
        SmtpSecurity::Tls => 465,
        SmtpSecurity::None => 25,
    });
    let server = format!("{}:{port}", smtp.host);
    let transport_error = |e: lettre::transport::smtp::Error| EmailError::Send {
        to: "(all)".into(),
        server: server.clone(),
        message: e.to_string(),
    };
    // TLS is required, never opportunistic: a relay that cannot do it is an error.
    let tls = match smtp.security {
        SmtpSecurity::None => Tls::None,
        security => {
            let mut params = TlsParameters::builder(smtp.host.clone());
            if let Some(ca) = &smtp.ca_file {
                let path = root.join(ca);
                let ca_error = |message: String| EmailError::CaFile {
                    path: path.clone(),
                    message,
                };
                let pem = std::fs::read(&path).map_err(|e| ca_error(e.to_string()))?;
                let cert = Certificate::from_pem(&pem).map_err(|e| ca_error(e.to_string()))?;
                params = params.add_root_certificate(cert);
            }
            let params = params.build().map_err(transport_error)?;
            if security == SmtpSecurity::Tls {
                Tls::Wrapper(params)
            } else {
                Tls::Required(params)
            }
        }
    };
    // "dangerous" is lettre's name for "no TLS unless set": `tls` above sets it.
    let mut builder = SmtpTransport::builder_dangerous(&smtp.host)
        .port(port)
        .tls(tls)
        .timeout(Some(Duration::from_secs(30)));
    if let Some(user) = &smtp.username {
        let password = match &smtp.password {
            Some(p) => {
                let name = secrets::reference(p).ok_or(EmailError::PlainPassword)?;
                secrets.resolve(name)?.expose().to_string()
            }
            None => String::new(),
        };
        builder = builder.credentials(Credentials::new(user.clone(), password));
    }
    let transport = builder.build();
    let mut failures = Vec::new();
    for m in messages {
        if let Err(e) = transport.send(&m.message) {
            failures.push(EmailError::Send {
                to: m
                    .to
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                server: server.clone(),
                message: e.to_string(),
            });
        }
    }
    Ok(failures)
}
