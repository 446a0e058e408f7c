//! Talking to a UniFi controller: HTTPS pinned to the certificate fingerprint in
//! `steward.yaml`, one login per run, the classic API and, where the controller has it,
//! the official integration API.
//!
//! Pinning is checked on every new connection right after the TLS handshake and before
//! a byte of the request (a password, a key) is written: a controller presenting any
//! other certificate never sees a request.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use super::config::{UnifiConfig, show_fingerprint};
use crate::secrets::{Secret, Secrets};

/// How long connecting may take before the controller counts as unreachable.
const CONNECT_BUDGET: Duration = Duration::from_secs(3);

/// The controller versions Steward is built and tested against (the field definitions
/// are 9.5.21's; the integration API's description 10.4.57's).
pub const SUPPORTED: &str = "UniFi Network Application 7.0 to 10.x";

#[derive(Debug, thiserror::Error)]
pub enum UnifiError {
    /// The pool's settings: something to fix in steward.yaml or the secrets.
    #[error("{0}")]
    Setup(String),
    #[error(
        "the UniFi controller at {url} presented a certificate with SHA-256 fingerprint\n  {got}\nbut steward.yaml trusts only\n  {want}\nNothing was sent to it. If the controller's certificate was renewed, check the new fingerprint on the controller itself (not over this connection), then trust it with{where_}:\n  fingerprint: \"{got}\""
    )]
    Fingerprint {
        url: String,
        got: String,
        want: String,
        where_: String,
    },
    #[error("the UniFi controller at {url} refused the login of `{user}`: {why}")]
    Login {
        url: String,
        user: String,
        why: String,
    },
    #[error(
        "the UniFi controller at {url} runs version {version}, which Steward does not support ({SUPPORTED}); nothing was read or changed"
    )]
    Version { url: String, version: String },
    #[error("cannot reach the UniFi controller at {url}: {why}")]
    Unreachable { url: String, why: String },
    /// The controller answered with an error.
    #[error("the UniFi controller refused {what}: {message}")]
    Refused { what: String, message: String },
    #[error("the UniFi controller's answer to {what} was not understood: {why}")]
    Shape { what: String, why: String },
}

/// Which kind of controller answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// A self-hosted UniFi Network Application.
    Classic,
    /// A UniFi OS console (Dream Machine, Cloud Key Gen2+, UniFi OS Server): the Network
    /// application's API is under `/proxy/network`.
    UnifiOs,
}

/// Request counts for `--stats`.
#[derive(Debug, Default)]
pub struct Stats {
    pub login: AtomicU64,
    pub read: AtomicU64,
    pub write: AtomicU64,
    pub retries: AtomicU64,
}

/// A reply: status, headers, body.
pub struct Reply {
    pub status: StatusCode,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

/// HTTPS to one controller, pinned, with idle connections kept for reuse.
pub struct Http {
    pub url: String,
    host: String,
    port: u16,
    pin: [u8; 32],
    pin_line: Option<usize>,
    tls: tokio_native_tls::TlsConnector,
    idle: Mutex<Vec<SendRequest<Full<Bytes>>>>,
    in_flight: Semaphore,
    timeout: Duration,
    retry_for: Duration,
    pub stats: Stats,
}

impl Http {
    pub fn new(config: &UnifiConfig) -> Result<Http, UnifiError> {
        let setup = |m: &str| UnifiError::Setup(m.to_string());
        let url = config.url.clone().ok_or_else(|| {
            setup("steward.yaml has no `unifi.url`: the pool has no UniFi controller")
        })?;
        let rest = url.strip_prefix("https://").ok_or_else(|| {
            setup("`unifi.url` must start with https:// (controllers are only reached over TLS)")
        })?;
        let authority = rest.split('/').next().unwrap_or_default();
        let (host, port) = split_authority(authority)
            .ok_or_else(|| setup("`unifi.url` has a port that is not a number"))?;
        if host.is_empty() {
            return Err(setup("`unifi.url` has no host"));
        }
        let want = config.fingerprint.as_deref().ok_or_else(|| {
            setup("steward.yaml has no `unifi.fingerprint`: Steward trusts a controller's self-signed certificate only by its SHA-256 fingerprint (`openssl s_client -connect HOST:PORT </dev/null | openssl x509 -noout -fingerprint -sha256`, checked on the controller itself)")
        })?;
        let pin = super::config::parse_fingerprint(want).ok_or_else(|| {
            setup(
                "`unifi.fingerprint` is not a SHA-256 fingerprint (64 hex digits, colons allowed)",
            )
        })?;
        // The certificate is judged by its fingerprint alone (below), like a known_hosts
        // line: no certificate authority, no name in it, can stand in for that.
        let tls = native_tls::TlsConnector::builder()
            .danger_accept_invalid_certs(true)
            .danger_accept_invalid_hostnames(true)
            .build()
            .map_err(|e| setup(&format!("cannot set up TLS: {e}")))?;
        Ok(Http {
            url: url.trim_end_matches('/').to_string(),
            host,
            port,
            pin,
            pin_line: config.fingerprint_line,
            tls: tokio_native_tls::TlsConnector::from(tls),
            idle: Mutex::new(Vec::new()),
            in_flight: Semaphore::new(config.max_in_flight),
            timeout: Duration::from_secs(config.request_timeout_secs.max(1)),
            retry_for: Duration::from_secs(config.retry_for_secs),
            stats: Stats::default(),
        })
    }

    /// `host:port` as the Host header has it.
    fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    fn unreachable(&self, why: impl std::fmt::Display) -> UnifiError {
        UnifiError::Unreachable {
            url: self.url.clone(),
            why: why.to_string(),
        }
    }

    /// A new connection, its certificate checked against the pin before it is used.
    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, UnifiError> {
        let addr = self.authority();
        let tcp = tokio::time::timeout(CONNECT_BUDGET, tokio::net::TcpStream::connect(&addr))
            .await
            .map_err(|_| {
                self.unreachable(format!("no answer within {}s", CONNECT_BUDGET.as_secs()))
            })?
            .map_err(|e| self.unreachable(e))?;
        let tls = tokio::time::timeout(CONNECT_BUDGET, self.tls.connect(&self.host, tcp))
            .await
            .map_err(|_| self.unreachable("the TLS handshake did not finish"))?
            .map_err(|e| self.unreachable(format!("TLS: {e}")))?;
        let der = tls
            .get_ref()
            .peer_certificate()
            .ok()
            .flatten()
            .and_then(|c| c.to_der().ok())
            .ok_or_else(|| self.unreachable("the controller presented no certificate"))?;
        let got = openssl::sha::sha256(&der);
        if got != self.pin {
            return Err(UnifiError::Fingerprint {
                url: self.url.clone(),
                got: show_fingerprint(&got),
                want: show_fingerprint(&self.pin),
                where_: match self.pin_line {
                    Some(line) => {
                        format!(" this line in steward.yaml (line {line}, under `unifi:`)")
                    }
                    None => {
                        " `unifi.fingerprint` in steward.yaml (or STEWARD_UNIFI_FINGERPRINT)".into()
                    }
                },
            });
        }
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| self.unreachable(e))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(sender)
    }

    /// One request; `headers` are added as given. A controller that is busy (429, 502,
    /// 503, 504: the request was not carried out) is asked again, backing off, for up
    /// to `retry_for_secs`.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Reply, UnifiError> {
        let deadline = tokio::time::Instant::now() + self.retry_for;
        let mut wait = Duration::from_millis(200);
        loop {
            let reply = self.send_once(method.clone(), path, headers, body).await?;
            let busy = matches!(reply.status.as_u16(), 429 | 502 | 503 | 504);
            if !busy || tokio::time::Instant::now() + wait > deadline {
                return Ok(reply);
            }
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
            let asked = reply
                .headers
                .get(hyper::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                .map(Duration::from_secs);
            tokio::time::sleep(asked.unwrap_or(wait).min(Duration::from_secs(10))).await;
            wait = (wait * 2).min(Duration::from_secs(5));
        }
    }

    async fn send_once(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Reply, UnifiError> {
        let _slot = self
            .in_flight
            .acquire()
            .await
            .map_err(|_| self.unreachable("shutting down"))?;
        let counter = match (&method, path) {
            (_, p) if p.ends_with("/login") => &self.stats.login,
            (&Method::GET, _) => &self.stats.read,
            _ => &self.stats.write,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let bytes = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
        let build = || {
            let mut req = Request::builder()
                .method(method.clone())
                .uri(path)
                .header(hyper::header::HOST, self.authority())
                .header(hyper::header::ACCEPT, "application/json");
            if body.is_some() {
                req = req.header(hyper::header::CONTENT_TYPE, "application/json");
            }
            for (k, v) in headers {
                req = req.header(*k, v.as_str());
            }
            req.body(Full::new(bytes.clone()))
        };
        let work = async {
            // An idle connection may have been closed by the controller meanwhile: a
            // failure on one is retried once on a new connection.
            let mut reused = self.idle.lock().ok().and_then(|mut idle| idle.pop());
            for attempt in 0..2 {
                let mut sender = match reused.take() {
                    Some(s) => s,
                    None => self.connect().await?,
                };
                if sender.ready().await.is_err() {
                    continue;
                }
                let req = build().map_err(|e| self.unreachable(e))?;
                match sender.send_request(req).await {
                    Ok(resp) => {
                        let (parts, body) = resp.into_parts();
                        let body = body
                            .collect()
                            .await
                            .map_err(|e| self.unreachable(e))?
                            .to_bytes();
                        if let Ok(mut idle) = self.idle.lock() {
                            idle.push(sender);
                        }
                        return Ok(Reply {
                            status: parts.status,
                            headers: parts.headers,
                            body,
                        });
                    }
                    Err(e) if attempt == 0 && e.is_canceled() => continue,
                    Err(e) => return Err(self.unreachable(e)),
                }
            }
            Err(self.unreachable("the connection closed twice"))
        };
        tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| {
                self.unreachable(format!("no answer within {}s", self.timeout.as_secs()))
            })?
    }
}

/// Host and port of `host`, `host:port`, `[v6]` or `[v6]:port` (443 when not given);
/// the host without brackets.
fn split_authority(authority: &str) -> Option<(String, u16)> {
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (host, rest) = v6.split_once(']')?;
            (host, rest.strip_prefix(':'))
        }
        None => match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        },
    };
    let port = match port {
        Some(p) => p.parse().ok()?,
        None => 443,
    };
    Some((host.to_string(), port))
}

/// A site as the classic API lists it.
#[derive(Debug, Clone)]
pub struct SiteInfo {
    pub id: String,
    /// The short name the classic API addresses it by.
    pub name: String,
    /// What people (and the integration API) call it: Steward's key, the org id.
    pub desc: String,
}

/// An access point (or other device) of a site, and how it is.
#[derive(Debug, Clone)]
pub struct Device {
    pub name: String,
    pub mac: String,
    pub state: DeviceState,
    pub upgradable: bool,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceState {
    Online,
    Offline,
    PendingAdoption,
    /// Any other state, as the controller names it (upgrading, provisioning, …).
    Other(String),
}

/// A logged-in controller, shared by every org of a run.
pub struct Controller {
    pub http: Http,
    pub flavour: Flavour,
    pub version: String,
    /// The integration API answered with the configured key.
    pub integration: bool,
    /// `""` on a Network Application, `/proxy/network` on UniFi OS.
    prefix: &'static str,
    cookie: String,
    csrf: Option<String>,
    api_key: Option<Secret>,
}

impl Controller {
    /// Detects the flavour, logs in once, checks the version and whether the
    /// integration API is there.
    pub async fn connect(
        config: &UnifiConfig,
        secrets: &Secrets,
    ) -> Result<Controller, UnifiError> {
        let http = Http::new(config)?;
        let secret = |field: &str, value: &Option<String>| -> Result<Option<Secret>, UnifiError> {
            let Some(v) = value else { return Ok(None) };
            let name = crate::secrets::reference(v).ok_or_else(|| {
                UnifiError::Setup(format!(
                    "`unifi.{field}` must be a secret reference (`secret:NAME`), never the value itself"
                ))
            })?;
            secrets
                .resolve(name)
                .map(Some)
                .map_err(|e| UnifiError::Setup(format!("`unifi.{field}`: {e}")))
        };
        let user = config.username.clone().ok_or_else(|| {
            UnifiError::Setup(
                "steward.yaml has no `unifi.username` (a local admin of the controller)".into(),
            )
        })?;
        let password = secret("password", &config.password)?.ok_or_else(|| {
            UnifiError::Setup("steward.yaml has no `unifi.password` (`secret:NAME`)".into())
        })?;
        let api_key = secret("api_key", &config.api_key)?;
        // A Network Application redirects its root to /manage; UniFi OS serves a page.
        let root = http.send(Method::GET, "/", &[], None).await?;
        let flavour = match root.status {
            s if s.is_redirection() => Flavour::Classic,
            s if s.is_success() => Flavour::UnifiOs,
            s => {
                return Err(UnifiError::Shape {
                    what: "GET /".into(),
                    why: format!(
                        "status {s}: neither a UniFi Network Application nor a UniFi OS console"
                    ),
                });
            }
        };
        let (login_path, prefix) = match flavour {
            Flavour::Classic => ("/api/login", ""),
            Flavour::UnifiOs => ("/api/auth/login", "/proxy/network"),
        };
        let body = json!({"username": user, "password": password.expose(), "remember": false});
        let reply = http
            .send(Method::POST, login_path, &[], Some(&body))
            .await?;
        if !reply.status.is_success() {
            return Err(UnifiError::Login {
                url: http.url.clone(),
                user,
                why: match reply.status.as_u16() {
                    400 | 401 | 403 => {
                        "wrong username or password (check the secret named by `unifi.password`)"
                            .into()
                    }
                    429 => "too many logins: the controller is rate-limiting; wait and try again"
                        .into(),
                    s => format!("status {s} {}", message_of(&reply.body)),
                },
            });
        }
        let cookies: Vec<String> = reply
            .headers
            .get_all(hyper::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|c| c.split(';').next())
            .map(str::to_string)
            .collect();
        if cookies.is_empty() {
            return Err(UnifiError::Shape {
                what: "the login".into(),
                why: "no session cookie".into(),
            });
        }
        let csrf = reply
            .headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .or_else(|| {
                cookies
                    .iter()
                    .find_map(|c| c.strip_prefix("csrf_token=").map(str::to_string))
            });
        let mut controller = Controller {
            http,
            flavour,
            version: String::new(),
            integration: false,
            prefix,
            cookie: cookies.join("; "),
            csrf,
            api_key,
        };
        let sysinfo = controller
            .classic(Method::GET, "/api/s/default/stat/sysinfo", None)
            .await?;
        controller.version = sysinfo
            .first()
            .and_then(|s| s["version"].as_str())
            .unwrap_or_default()
            .to_string();
        let major: Option<u32> = controller
            .version
            .split('.')
            .next()
            .and_then(|m| m.parse().ok());
        if !major.is_some_and(|m| (7..=10).contains(&m)) {
            return Err(UnifiError::Version {
                url: controller.http.url.clone(),
                version: if controller.version.is_empty() {
                    "(unknown)".into()
                } else {
                    controller.version.clone()
                },
            });
        }
        if controller.api_key.is_some() {
            let info = controller.integration_get("info").await;
            controller.integration = match info {
                Ok(_) => true,
                // An older controller has no such API: the classic one does it all.
                Err(UnifiError::Refused { message, .. }) if message.starts_with("404") => {
                    tracing::debug!("unifi: no integration API; the classic API reads devices");
                    false
                }
                Err(e) => return Err(e),
            };
        }
        Ok(controller)
    }

    fn session_headers(&self, write: bool) -> Vec<(&'static str, String)> {
        let mut h = vec![("cookie", self.cookie.clone())];
        if write && let Some(csrf) = &self.csrf {
            h.push(("x-csrf-token", csrf.clone()));
        }
        h
    }

    /// A classic API call under the flavour's prefix; returns `data` of the envelope.
    pub async fn classic(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Vec<Value>, UnifiError> {
        let what = format!("{method} {path}");
        let write = method != Method::GET;
        let full = format!("{}{path}", self.prefix);
        let reply = self
            .http
            .send(method, &full, &self.session_headers(write), body)
            .await?;
        let parsed: Value = serde_json::from_slice(&reply.body).map_err(|e| UnifiError::Shape {
            what: what.clone(),
            why: format!("status {}, not JSON: {e}", reply.status),
        })?;
        if parsed["meta"]["rc"] != "ok" || !reply.status.is_success() {
            return Err(UnifiError::Refused {
                what,
                message: classic_message(&parsed, reply.status),
            });
        }
        match parsed["data"].as_array() {
            Some(items) => Ok(items.clone()),
            None => Err(UnifiError::Shape {
                what,
                why: "no `data` list".into(),
            }),
        }
    }

    /// A GET of the integration API; errors carry the status first (`404 …`).
    async fn integration_get(&self, path: &str) -> Result<Value, UnifiError> {
        let key = self
            .api_key
            .as_ref()
            .map(|k| k.expose().to_string())
            .unwrap_or_default();
        let full = format!("/proxy/network/integration/v1/{path}");
        let reply = self
            .http
            .send(Method::GET, &full, &[("x-api-key", key)], None)
            .await?;
        if reply.status == StatusCode::UNAUTHORIZED {
            return Err(UnifiError::Setup(format!(
                "the UniFi controller at {} refused the integration API key (the secret named by `unifi.api_key`): {}",
                self.http.url,
                message_of(&reply.body)
            )));
        }
        if !reply.status.is_success() {
            return Err(UnifiError::Refused {
                what: format!("GET {full}"),
                message: format!("{} {}", reply.status.as_u16(), message_of(&reply.body)),
            });
        }
        serde_json::from_slice(&reply.body).map_err(|e| UnifiError::Shape {
            what: format!("GET {full}"),
            why: e.to_string(),
        })
    }

    /// Every item of a paged integration list, 200 at a time (the API's largest page).
    async fn integration_all(&self, path: &str) -> Result<Vec<Value>, UnifiError> {
        let mut all = Vec::new();
        loop {
            let sep = if path.contains('?') { '&' } else { '?' };
            let page = self
                .integration_get(&format!("{path}{sep}offset={}&limit=200", all.len()))
                .await?;
            let data = page["data"].as_array().cloned().unwrap_or_default();
            let total = page["totalCount"].as_u64().unwrap_or(0) as usize;
            let got = data.len();
            all.extend(data);
            if got == 0 || all.len() >= total {
                return Ok(all);
            }
        }
    }

    pub async fn sites(&self) -> Result<Vec<SiteInfo>, UnifiError> {
        let data = self.classic(Method::GET, "/api/self/sites", None).await?;
        Ok(data.iter().map(site_info).collect())
    }

    /// Sites by their short name -> the integration API's id, when it is there.
    pub async fn integration_sites(&self) -> Result<BTreeMap<String, String>, UnifiError> {
        let sites = self.integration_all("sites").await?;
        Ok(sites
            .iter()
            .filter_map(|s| {
                Some((
                    s["internalReference"].as_str()?.to_string(),
                    s["id"].as_str()?.to_string(),
                ))
            })
            .collect())
    }

    /// Devices waiting to be adopted, with the sites they may join (pool-wide).
    pub async fn pending_devices(&self) -> Result<Vec<(Vec<String>, Device)>, UnifiError> {
        let items = self.integration_all("pending-devices").await?;
        Ok(items
            .iter()
            .map(|d| {
                let sites = d["adoptionTargetSiteIds"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|s| s.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                (sites, integration_device(d, DeviceState::PendingAdoption))
            })
            .collect())
    }

    pub async fn add_site(&self, desc: &str) -> Result<SiteInfo, UnifiError> {
        let body = json!({"cmd": "add-site", "desc": desc});
        let data = self
            .classic(Method::POST, "/api/s/default/cmd/sitemgr", Some(&body))
            .await?;
        data.first()
            .map(site_info)
            .ok_or_else(|| UnifiError::Shape {
                what: "add-site".into(),
                why: "no site in the answer".into(),
            })
    }

    /// A site's devices: the integration API's list when there is one, else `stat/device`.
    pub async fn devices(
        &self,
        site: &SiteInfo,
        uuid: Option<&str>,
    ) -> Result<Vec<Device>, UnifiError> {
        if let Some(uuid) = uuid {
            let items = self
                .integration_all(&format!("sites/{uuid}/devices"))
                .await?;
            return Ok(items
                .iter()
                .map(|d| {
                    let state = match d["state"].as_str().unwrap_or_default() {
                        "ONLINE" => DeviceState::Online,
                        "OFFLINE" | "CONNECTION_INTERRUPTED" => DeviceState::Offline,
                        "PENDING_ADOPTION" => DeviceState::PendingAdoption,
                        other => DeviceState::Other(other.to_ascii_lowercase().replace('_', " ")),
                    };
                    integration_device(d, state)
                })
                .collect());
        }
        let data = self
            .classic(
                Method::GET,
                &format!("/api/s/{}/stat/device", site.name),
                None,
            )
            .await?;
        Ok(data
            .iter()
            .map(|d| {
                let state = if d["adopted"] == false {
                    DeviceState::PendingAdoption
                } else {
                    match d["state"].as_i64() {
                        Some(1) => DeviceState::Online,
                        Some(0) | Some(6) => DeviceState::Offline,
                        Some(2) | Some(7) => DeviceState::PendingAdoption,
                        Some(4) => DeviceState::Other("upgrading".into()),
                        Some(5) => DeviceState::Other("provisioning".into()),
                        Some(n) => DeviceState::Other(format!("state {n}")),
                        None => DeviceState::Other("unknown".into()),
                    }
                };
                Device {
                    name: d["name"].as_str().unwrap_or_default().to_string(),
                    mac: d["mac"].as_str().unwrap_or_default().to_string(),
                    state,
                    upgradable: d["upgradable"] == true,
                    version: d["version"].as_str().unwrap_or_default().to_string(),
                }
            })
            .collect())
    }
}

fn site_info(s: &Value) -> SiteInfo {
    SiteInfo {
        id: s["_id"].as_str().unwrap_or_default().to_string(),
        name: s["name"].as_str().unwrap_or_default().to_string(),
        desc: s["desc"].as_str().unwrap_or_default().to_string(),
    }
}

fn integration_device(d: &Value, state: DeviceState) -> Device {
    Device {
        name: d["name"].as_str().unwrap_or_default().to_string(),
        mac: d["macAddress"].as_str().unwrap_or_default().to_string(),
        state,
        upgradable: d["firmwareUpdatable"] == true,
        version: d["firmwareVersion"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    }
}

/// The controller's reason in a classic error envelope: its message key, and the
/// failing field and pattern of a validation error.
fn classic_message(parsed: &Value, status: StatusCode) -> String {
    let msg = parsed["meta"]["msg"].as_str().unwrap_or("no message");
    match parsed["meta"]["validationError"].as_object() {
        Some(v) => format!(
            "{msg}: field `{}` must match `{}`",
            v.get("field").and_then(Value::as_str).unwrap_or("?"),
            v.get("pattern").and_then(Value::as_str).unwrap_or("?")
        ),
        None => format!("{msg} (status {})", status.as_u16()),
    }
}

/// The message of an error body, of either API, for people.
fn message_of(body: &[u8]) -> String {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    v["message"]
        .as_str()
        .or(v["meta"]["msg"].as_str())
        .unwrap_or("")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::split_authority;

    #[test]
    fn authorities_with_and_without_ports_and_brackets() {
        let ok = |a: &str| split_authority(a).map(|(h, p)| format!("{h} {p}"));
        assert_eq!(
            ok("unifi.example:8443").as_deref(),
            Some("unifi.example 8443")
        );
        assert_eq!(ok("192.168.1.1").as_deref(), Some("192.168.1.1 443"));
        assert_eq!(ok("[fd00::1]:8443").as_deref(), Some("fd00::1 8443"));
        assert_eq!(ok("[fd00::1]").as_deref(), Some("fd00::1 443"));
        assert_eq!(ok("host:http"), None);
    }
}
