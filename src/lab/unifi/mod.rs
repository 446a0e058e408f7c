//! The UniFi Network controller lab: a controller's API over HTTPS with a self-signed
//! certificate, several sites in one state, built by the controller's field
//! definitions and the integration API's OpenAPI description
//! (`../shared/contracts/unifi/`). `steward lab` runs it for a pool ([`pool`]). It serves:
//!
//! - two flavours, as clients tell them apart: a classic controller redirects `GET /` to
//!   `/manage`; a UniFi OS console answers 200 and serves the same API under
//!   `/proxy/network`;
//! - login: classic `POST /api/login` sets the `unifises` session cookie and a
//!   `csrf_token` cookie; UniFi OS `POST /api/auth/login` sets a `TOKEN` cookie and
//!   answers the CSRF token in `X-CSRF-Token`, which every write must carry (403
//!   otherwise). `POST /api/logout`;
//! - `GET /api/self/sites`; `POST /api/s/default/cmd/sitemgr` `{cmd: add-site, desc}`;
//! - `GET`/`POST /api/s/{site}/rest/wlanconf` and `networkconf`, `PUT`/`DELETE …/{id}`,
//!   every field held to the controller's own definitions (`providers::unifi::fields`);
//!   `GET …/list/wlanconf` and `list/networkconf`, the older listing;
//! - `GET /api/s/{site}/stat/device`: the site's access points and their state;
//!   `GET /api/s/{site}/stat/sysinfo`: the version;
//! - the integration API (`/proxy/network/integration/v1`, `X-API-KEY`) when the spec
//!   gives a key — an older controller has none: `info`, `sites`, a site's `devices`
//!   and `pending-devices`, paged by `offset` and `limit` (at most 200) as its OpenAPI
//!   description says, errors in its `Error Message` shape;
//! - latency and faults (`/_lab/faults`, as the Google lab's), and its own calls for
//!   tests: `/_lab/devices`, `/_lab/controller`, `/_lab/stats`, `/_lab/sites`;
//! - replies in the classic envelope: `{"meta": {"rc": "ok"}, "data": [...]}`, errors with
//!   `rc: error` and the controller's message keys (`api.err.LoginRequired`,
//!   `api.err.Invalid` with the failing field and pattern, `api.err.NoSiteContext`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::Mutex;

use crate::providers::unifi::fields;

mod pool;
pub use pool::EMULATOR;

/// One site of the controller.
#[derive(Debug, Clone)]
pub struct Site {
    pub id: String,
    /// The short name the classic API addresses it by (`default`, `a1b2c3d4`).
    pub name: String,
    pub desc: String,
    pub wlans: Vec<Value>,
    pub networks: Vec<Value>,
    /// Adopted and pending devices, as `stat/device` lists them (`state` 1 connected,
    /// 0 disconnected; `adopted`; `upgradable`).
    pub devices: Vec<Value>,
}

impl Site {
    pub fn new(id: &str, name: &str, desc: &str) -> Site {
        Site {
            id: id.into(),
            name: name.into(),
            desc: desc.into(),
            wlans: Vec::new(),
            networks: Vec::new(),
            devices: Vec::new(),
        }
    }
}

/// What the controller starts with.
#[derive(Debug, Clone)]
pub struct Spec {
    pub username: String,
    pub password: String,
    /// A UniFi OS console (true) or a classic Network Application (false).
    pub unifi_os: bool,
    /// The integration API's key; `None`: a controller too old to have that API.
    pub api_key: Option<String>,
    pub sites: Vec<Site>,
    /// The Network application's version, as `stat/sysinfo` says it.
    pub version: String,
    /// Access points that join a site when a site with this description is made (as
    /// an office's access points do once their site exists and they are adopted).
    pub arrivals: BTreeMap<String, Vec<Value>>,
    /// The private key and certificate (PEM, one after the other) to serve; a new pair
    /// when `None`.
    pub identity: Option<String>,
    pub faults: crate::lab::Faults,
}

impl Spec {
    /// A controller of `version` with these credentials and only its `Default` site.
    pub fn new(username: &str, password: &str, unifi_os: bool, api_key: Option<String>) -> Spec {
        Spec {
            username: username.into(),
            password: password.into(),
            unifi_os,
            api_key,
            sites: vec![Site::new("5f0000000000000000000001", "default", "Default")],
            version: "9.5.21".into(),
            arrivals: BTreeMap::new(),
            identity: None,
            faults: crate::lab::Faults::default(),
        }
    }
}

/// An access point as `stat/device` lists it: adopted and connected.
pub fn access_point(n: u32, name: &str) -> Value {
    json!({
        "_id": format!("d{n:023x}"), "mac": format!("74:83:c2:{:02x}:{:02x}:{:02x}", (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff),
        "name": name, "type": "uap", "model": "U6-Lite", "adopted": true, "state": 1,
        "upgradable": false, "version": "6.6.77", "ip": format!("10.0.{}.{}", (n >> 8) & 0xff, n & 0xff),
    })
}

struct State {
    spec: Spec,
    /// Session cookie -> CSRF token.
    sessions: BTreeMap<String, String>,
    next_id: u64,
    /// API requests served (the lab's own `/_lab/` calls aside), by kind.
    stats: BTreeMap<&'static str, u64>,
}

pub struct Controller {
    state: Mutex<State>,
}

/// The lab's certificate, for clients to pin: PEM and its SHA-256 fingerprint
/// (hex, colon-separated, as browsers and `openssl x509 -fingerprint` show it).
#[derive(Debug, Clone)]
pub struct Certificate {
    pub pem: String,
    pub sha256: String,
}

/// Starts a controller on 127.0.0.1:`port` (0 picks one) with a new self-signed
/// certificate; returns where it listens and the certificate.
pub async fn start(spec: Spec, port: u16) -> std::io::Result<(SocketAddr, Certificate)> {
    let pem = match &spec.identity {
        Some(pem) => pem.clone(),
        None => new_identity().map_err(std::io::Error::other)?,
    };
    let (identity, certificate) = load_identity(&pem).map_err(std::io::Error::other)?;
    let acceptor = tokio_native_tls::TlsAcceptor::from(
        native_tls::TlsAcceptor::new(identity).map_err(std::io::Error::other)?,
    );
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    let controller = Arc::new(Controller {
        state: Mutex::new(State {
            spec,
            sessions: BTreeMap::new(),
            next_id: 1,
            stats: BTreeMap::new(),
        }),
    });
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (acceptor, controller) = (acceptor.clone(), controller.clone());
            tokio::spawn(async move {
                // A client that refuses the certificate just goes away.
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let service = service_fn(move |req| {
                    let controller = controller.clone();
                    async move { Ok::<_, std::convert::Infallible>(controller.handle(req).await) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    Ok((addr, certificate))
}

/// A new private key and self-signed certificate for `localhost` and 127.0.0.1, as a
/// controller makes on first start: PEM, key first.
pub fn new_identity() -> Result<String, String> {
    use openssl::asn1::Asn1Time;
    use openssl::bn::{BigNum, MsbOption};
    use openssl::ec::{EcGroup, EcKey};
    use openssl::hash::MessageDigest;
    use openssl::nid::Nid;
    use openssl::pkey::PKey;
    use openssl::x509::extension::SubjectAlternativeName;
    use openssl::x509::{X509, X509NameBuilder};
    let e = |e: openssl::error::ErrorStack| e.to_string();
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).map_err(e)?;
    let key = PKey::from_ec_key(EcKey::generate(&group).map_err(e)?).map_err(e)?;
    let mut name = X509NameBuilder::new().map_err(e)?;
    name.append_entry_by_text("CN", "UniFi").map_err(e)?;
    let name = name.build();
    let mut cert = X509::builder().map_err(e)?;
    cert.set_version(2).map_err(e)?;
    let mut serial = BigNum::new().map_err(e)?;
    serial.rand(64, MsbOption::MAYBE_ZERO, false).map_err(e)?;
    let serial = serial.to_asn1_integer().map_err(e)?;
    cert.set_serial_number(&serial).map_err(e)?;
    cert.set_subject_name(&name).map_err(e)?;
    cert.set_issuer_name(&name).map_err(e)?;
    cert.set_pubkey(&key).map_err(e)?;
    let (from, until) = (
        Asn1Time::days_from_now(0).map_err(e)?,
        Asn1Time::days_from_now(3650).map_err(e)?,
    );
    cert.set_not_before(&from).map_err(e)?;
    cert.set_not_after(&until).map_err(e)?;
    let san = SubjectAlternativeName::new()
        .dns("localhost")
        .ip("127.0.0.1")
        .build(&cert.x509v3_context(None, None))
        .map_err(e)?;
    cert.append_extension(san).map_err(e)?;
    // Its own issuer: clients that pin it take it as a trust anchor, which OpenSSL
    // accepts only from a certificate marked as able to sign.
    cert.append_extension(
        openssl::x509::extension::BasicConstraints::new()
            .critical()
            .ca()
            .build()
            .map_err(e)?,
    )
    .map_err(e)?;
    cert.sign(&key, MessageDigest::sha256()).map_err(e)?;
    let cert = cert.build();
    let key_pem = key.private_key_to_pem_pkcs8().map_err(e)?;
    let cert_pem = cert.to_pem().map_err(e)?;
    Ok(format!(
        "{}{}",
        String::from_utf8_lossy(&key_pem),
        String::from_utf8_lossy(&cert_pem)
    ))
}

/// The TLS identity and the certificate (with its fingerprint) of a PEM key and
/// certificate.
fn load_identity(pem: &str) -> Result<(native_tls::Identity, Certificate), String> {
    let e = |e: openssl::error::ErrorStack| e.to_string();
    let cert = openssl::x509::X509::from_pem(pem.as_bytes()).map_err(e)?;
    let key = openssl::pkey::PKey::private_key_from_pem(pem.as_bytes()).map_err(e)?;
    let cert_pem = String::from_utf8_lossy(&cert.to_pem().map_err(e)?).into_owned();
    let sha256 = certificate_fingerprint(&cert_pem)?;
    let key_pem = key.private_key_to_pem_pkcs8().map_err(e)?;
    let identity = native_tls::Identity::from_pkcs8(cert_pem.as_bytes(), &key_pem)
        .map_err(|e| e.to_string())?;
    Ok((
        identity,
        Certificate {
            pem: cert_pem,
            sha256,
        },
    ))
}

/// The SHA-256 fingerprint of the (first) certificate in `pem`, `AB:CD:…`.
pub fn certificate_fingerprint(pem: &str) -> Result<String, String> {
    let cert = openssl::x509::X509::from_pem(pem.as_bytes()).map_err(|e| e.to_string())?;
    let digest = cert
        .digest(openssl::hash::MessageDigest::sha256())
        .map_err(|e| e.to_string())?;
    Ok(crate::providers::unifi::config::show_fingerprint(&digest))
}

type Reply = Response<Full<Bytes>>;

/// A JSON reply; `content_type` as the API that answers writes it.
fn json_reply(status: StatusCode, body: &Value, content_type: &'static str) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    r
}

/// The classic API's envelope.
fn envelope(status: StatusCode, meta: Value, data: Vec<Value>) -> Reply {
    json_reply(
        status,
        &json!({"meta": meta, "data": data}),
        "application/json;charset=UTF-8",
    )
}

/// A reply of the integration API.
fn integration_reply(status: StatusCode, body: &Value) -> Reply {
    json_reply(status, body, "application/json")
}

fn ok(data: Vec<Value>) -> Reply {
    envelope(StatusCode::OK, json!({"rc": "ok"}), data)
}

fn refused(status: StatusCode, msg: &str) -> Reply {
    envelope(status, json!({"rc": "error", "msg": msg}), vec![])
}

/// The value of cookie `name` in a request.
fn cookie<'a>(headers: &'a hyper::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(hyper::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    // Never all zeros in practice; the lab's tokens need only differ.
    let _ = openssl::rand::rand_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl Controller {
    /// The lab's own calls, for tests and `steward lab`: `POST devices`
    /// `{site: DESC, devices: [...]}` sets a site's devices (an access point going
    /// offline); `POST faults` sets latency and faults; `GET stats` counts requests.
    async fn control(&self, method: &Method, path: &str, body: Value) -> Reply {
        let mut st = self.state.lock().await;
        match (method, path) {
            (&Method::POST, "devices") => {
                let desc = body["site"].as_str().unwrap_or_default();
                let Some(site) = st.spec.sites.iter_mut().find(|s| s.desc == desc) else {
                    return refused(StatusCode::NOT_FOUND, "no such site");
                };
                site.devices = body["devices"].as_array().cloned().unwrap_or_default();
                ok(vec![])
            }
            (&Method::POST, "faults") => match serde_json::from_value(body) {
                Ok(f) => {
                    st.spec.faults = f;
                    ok(vec![])
                }
                Err(e) => refused(StatusCode::BAD_REQUEST, &e.to_string()),
            },
            (&Method::GET, "stats") => ok(vec![json!(st.stats)]),
            // Another controller at the same address: flavour, version, integration key.
            (&Method::POST, "controller") => {
                if let Some(os) = body["unifi_os"].as_bool() {
                    st.spec.unifi_os = os;
                }
                if let Some(v) = body["version"].as_str() {
                    st.spec.version = v.to_string();
                }
                if body.get("api_key").is_some() {
                    st.spec.api_key = body["api_key"].as_str().map(str::to_string);
                }
                st.sessions.clear();
                ok(vec![])
            }
            (&Method::GET, "sites") => ok(st
                .spec
                .sites
                .iter()
                .map(|s| json!({"name": s.name, "desc": s.desc, "wlans": s.wlans, "networks": s.networks, "devices": s.devices}))
                .collect()),
            _ => refused(StatusCode::NOT_FOUND, "api.err.NotFound"),
        }
    }

    async fn handle(&self, req: Request<Incoming>) -> Reply {
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let query: BTreeMap<String, String> = req
            .uri()
            .query()
            .unwrap_or("")
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let headers = req.headers().clone();
        let body = req
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if let Some(control) = path.strip_prefix("/_lab/") {
            return self.control(&method, control, json).await;
        }
        // Latency and faults as a busy controller has them, outside the state's lock.
        let faults = self.state.lock().await.spec.faults.clone();
        if faults.latency_ms > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(faults.latency_ms)).await;
        }
        if faults.rate > 0.0 && path != "/" {
            let mut b = [0u8; 4];
            let _ = openssl::rand::rand_bytes(&mut b);
            if f64::from(u32::from_le_bytes(b)) / f64::from(u32::MAX) < faults.rate {
                let status = match faults.kinds.first().map(String::as_str) {
                    Some("500") => StatusCode::INTERNAL_SERVER_ERROR,
                    Some("429") => StatusCode::TOO_MANY_REQUESTS,
                    _ => StatusCode::SERVICE_UNAVAILABLE,
                };
                return refused(status, "api.err.ServerBusy");
            }
        }
        let mut st = self.state.lock().await;
        let what = match (&method, path.as_str()) {
            (_, p) if p.ends_with("/login") => "login",
            (&Method::GET, _) => "read",
            _ => "write",
        };
        *st.stats.entry(what).or_default() += 1;
        let os = st.spec.unifi_os;
        if path == "/" {
            if os {
                let mut r = Response::new(Full::new(Bytes::from_static(
                    b"<!doctype html><title>UniFi OS</title>",
                )));
                r.headers_mut().insert(
                    hyper::header::CONTENT_TYPE,
                    hyper::header::HeaderValue::from_static("text/html"),
                );
                return r;
            }
            let mut r = Response::new(Full::new(Bytes::new()));
            *r.status_mut() = StatusCode::FOUND;
            r.headers_mut().insert(
                hyper::header::LOCATION,
                hyper::header::HeaderValue::from_static("/manage"),
            );
            return r;
        }
        if let Some(rest) = path.strip_prefix("/proxy/network/integration/v1/") {
            return st.integration(&method, rest, &path, &query, &headers);
        }
        // A controller's unauthenticated status (classic at `/status`, UniFi OS under
        // the proxy), which clients read to find the version before logging in.
        if method == Method::GET
            && ((!os && path == "/status") || (os && path == "/proxy/network/status"))
        {
            let meta = json!({"rc": "ok", "up": true, "server_version": st.spec.version});
            return envelope(StatusCode::OK, meta, vec![]);
        }
        let login_path = if os { "/api/auth/login" } else { "/api/login" };
        if path == login_path && method == Method::POST {
            let (user, pass) = (json["username"].as_str(), json["password"].as_str());
            if user != Some(st.spec.username.as_str()) || pass != Some(st.spec.password.as_str()) {
                return refused(
                    if os {
                        StatusCode::UNAUTHORIZED
                    } else {
                        StatusCode::BAD_REQUEST
                    },
                    "api.err.Invalid",
                );
            }
            let (session, csrf) = (random_hex(16), random_hex(16));
            st.sessions.insert(session.clone(), csrf.clone());
            let mut r = ok(vec![]);
            let cookies = if os {
                vec![format!(
                    "TOKEN={session}; Path=/; Secure; HttpOnly; SameSite=Strict"
                )]
            } else {
                vec![
                    format!("unifises={session}; Path=/; Secure; HttpOnly"),
                    format!("csrf_token={csrf}; Path=/; Secure"),
                ]
            };
            for c in cookies {
                if let Ok(v) = hyper::header::HeaderValue::from_str(&c) {
                    r.headers_mut().append(hyper::header::SET_COOKIE, v);
                }
            }
            if os && let Ok(v) = hyper::header::HeaderValue::from_str(&csrf) {
                r.headers_mut().insert("x-csrf-token", v);
            }
            return r;
        }
        let session_cookie = if os { "TOKEN" } else { "unifises" };
        let Some((session, csrf)) = cookie(&headers, session_cookie)
            .and_then(|s| Some((s.to_string(), st.sessions.get(s)?.clone())))
        else {
            return refused(StatusCode::UNAUTHORIZED, "api.err.LoginRequired");
        };
        // On UniFi OS, writes carry the session's CSRF token (a classic controller sets
        // the cookie but does not require the header, and classic clients send none).
        let sent = headers.get("x-csrf-token").and_then(|v| v.to_str().ok());
        if os && method != Method::GET && sent != Some(csrf.as_str()) {
            return refused(StatusCode::FORBIDDEN, "api.err.InvalidCsrfToken");
        }
        if path == "/api/logout" && method == Method::POST {
            st.sessions.remove(&session);
            return ok(vec![]);
        }
        // UniFi OS serves the Network application's API under /proxy/network.
        let api = match (os, path.strip_prefix("/proxy/network")) {
            (true, Some(rest)) => rest.to_string(),
            (true, None) => return refused(StatusCode::NOT_FOUND, "api.err.NotFound"),
            (false, _) => path.clone(),
        };
        if api == "/api/self" && method == Method::GET {
            let admin = json!({"name": st.spec.username, "admin_id": "5f00000000000000000000ad",
                               "is_super": true, "site_role": "admin"});
            return ok(vec![admin]);
        }
        if api == "/api/self/sites" && method == Method::GET {
            let sites = st
                .spec
                .sites
                .iter()
                .map(|s| json!({"_id": s.id, "name": s.name, "desc": s.desc, "role": "admin"}))
                .collect();
            return ok(sites);
        }
        let segs: Vec<&str> = api.trim_start_matches('/').split('/').collect();
        match segs.as_slice() {
            [
                "api",
                "s",
                site,
                "rest",
                collection @ ("wlanconf" | "networkconf"),
                rest @ ..,
            ] => {
                let (site, collection) = (site.to_string(), collection.to_string());
                let id = rest.first().map(|s| s.to_string());
                st.rest(&method, &site, &collection, id.as_deref(), json)
            }
            [
                "api",
                "s",
                site,
                "list",
                collection @ ("wlanconf" | "networkconf"),
            ] if method == Method::GET => {
                let (site, collection) = (site.to_string(), collection.to_string());
                st.rest(&method, &site, &collection, None, Value::Null)
            }
            ["api", "s", site, "stat", "device"] if method == Method::GET => {
                match st.spec.sites.iter().find(|s| s.name == *site) {
                    Some(s) => ok(s.devices.clone()),
                    None => refused(StatusCode::BAD_REQUEST, "api.err.NoSiteContext"),
                }
            }
            ["api", "s", _, "cmd", "sitemgr"] if method == Method::POST => st.sitemgr(&json),
            // What else clients read of a site at start: its admin, clients, health.
            [
                "api",
                "s",
                site,
                what @ ("self" | "stat" | "list"),
                rest @ ..,
            ] if method == Method::GET
                && matches!(
                    (*what, rest),
                    ("self", [])
                        | ("stat", ["sta" | "health"])
                        | ("list", ["alarm" | "user" | "usergroup"])
                ) =>
            {
                let site = site.to_string();
                let what = rest.first().copied().unwrap_or("self").to_string();
                st.site_reads(&site, &what)
            }
            ["api", "s", site, "stat", "sysinfo"] if method == Method::GET => {
                if st.spec.sites.iter().any(|s| s.name == *site) {
                    ok(vec![
                        json!({"version": st.spec.version, "name": "UniFi Network", "timezone": "UTC"}),
                    ])
                } else {
                    refused(StatusCode::BAD_REQUEST, "api.err.NoSiteContext")
                }
            }
            _ => refused(StatusCode::NOT_FOUND, "api.err.NotFound"),
        }
    }
}

/// The integration API's error body (`Error Message` in its OpenAPI description).
fn integration_error(status: StatusCode, code: &str, message: &str, path: &str) -> Reply {
    let body = json!({
        "statusCode": status.as_u16(),
        "statusName": status.canonical_reason().unwrap_or("").to_ascii_uppercase().replace(' ', "_"),
        "code": code,
        "message": message,
        "timestamp": crate::util::now_rfc3339(),
        "requestPath": path.trim_start_matches("/proxy/network"),
    });
    integration_reply(status, &body)
}

/// What the integration API says of any device (adopted or waiting), from its
/// `stat/device` record.
fn device_fields(d: &Value, state: &str) -> Value {
    json!({
        "macAddress": d["mac"], "ipAddress": d["ip"].as_str().unwrap_or(""),
        "model": d["model"].as_str().unwrap_or("U6-Lite"), "state": state, "supported": true,
        "firmwareVersion": d["version"].as_str().unwrap_or("6.6.77"),
        "firmwareUpdatable": d["upgradable"] == true, "features": ["accessPoint"],
    })
}

/// A UUID for an object the classic API knows by a 24-hex-digit id.
fn uuid_of(id: &str) -> String {
    let hex: String = format!("{id:0>32}").chars().take(32).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

impl State {
    /// The integration API: read-only here so far (what a plan reads).
    fn integration(
        &self,
        method: &Method,
        rest: &str,
        path: &str,
        query: &BTreeMap<String, String>,
        headers: &hyper::HeaderMap,
    ) -> Reply {
        let Some(key) = &self.spec.api_key else {
            // An older controller: no such API at all.
            return refused(StatusCode::NOT_FOUND, "api.err.NotFound");
        };
        match headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
            None => {
                return integration_error(
                    StatusCode::UNAUTHORIZED,
                    "api.authentication.missing-credentials",
                    "Missing credentials",
                    path,
                );
            }
            Some(k) if k != key => {
                return integration_error(
                    StatusCode::UNAUTHORIZED,
                    "api.authentication.failed",
                    "Authentication failed",
                    path,
                );
            }
            Some(_) => {}
        }
        if method != Method::GET {
            return integration_error(
                StatusCode::METHOD_NOT_ALLOWED,
                "api.request.method-not-allowed",
                "Method not allowed",
                path,
            );
        }
        let number = |name: &str, default: usize| -> Result<usize, ()> {
            query
                .get(name)
                .map_or(Ok(default), |v| v.parse().map_err(|_| ()))
        };
        let (Ok(offset), Ok(limit)) = (number("offset", 0), number("limit", 25)) else {
            return integration_error(
                StatusCode::BAD_REQUEST,
                "api.request.argument-type-mismatch",
                "offset and limit are numbers",
                path,
            );
        };
        if limit > 200 {
            return integration_error(
                StatusCode::BAD_REQUEST,
                "api.request.invalid-argument",
                "limit must be at most 200",
                path,
            );
        }
        let page = |items: Vec<Value>| {
            let total = items.len();
            let data: Vec<Value> = items.into_iter().skip(offset).take(limit).collect();
            let body = json!({"offset": offset, "limit": limit, "count": data.len(), "totalCount": total, "data": data});
            integration_reply(StatusCode::OK, &body)
        };
        let segs: Vec<&str> = rest.split('/').collect();
        match segs.as_slice() {
            ["info"] => {
                integration_reply(StatusCode::OK, &json!({"applicationVersion": self.spec.version}))
            }
            ["sites"] => page(
                self.spec
                    .sites
                    .iter()
                    .map(|s| json!({"id": uuid_of(&s.id), "internalReference": s.name, "name": s.desc}))
                    .collect(),
            ),
            ["pending-devices"] => page(
                self.spec
                    .sites
                    .iter()
                    .flat_map(|s| s.devices.iter().filter(|d| d["adopted"] == false).map(move |d| (s, d)))
                    .map(|(s, d)| {
                        let mut v = device_fields(d, "PENDING_ADOPTION");
                        v["adoptionTargetSiteIds"] = json!([uuid_of(&s.id)]);
                        v
                    })
                    .collect(),
            ),
            ["sites", site, "devices"] => {
                let Some(s) = self.spec.sites.iter().find(|s| uuid_of(&s.id) == *site) else {
                    return integration_error(StatusCode::NOT_FOUND, "api.site.not-found", "Site not found", path);
                };
                page(
                    s.devices
                        .iter()
                        .filter(|d| d["adopted"] != false)
                        .map(|d| {
                            let state = match d["state"].as_i64() {
                                Some(1) => "ONLINE",
                                Some(0) => "OFFLINE",
                                _ => "GETTING_READY",
                            };
                            let mut v = device_fields(d, state);
                            v["id"] = json!(uuid_of(d["_id"].as_str().unwrap_or_default()));
                            v["name"] = d["name"].clone();
                            v["interfaces"] = json!(["radios"]);
                            v
                        })
                        .collect(),
                )
            }
            _ => integration_error(StatusCode::NOT_FOUND, "api.request.not-found", "Not found", path),
        }
    }

    /// A site's admin (`self`), health (`stat/health`: its access points), and its
    /// wireless clients, alarms and known clients (none in the lab).
    fn site_reads(&self, site: &str, what: &str) -> Reply {
        let Some(s) = self.spec.sites.iter().find(|s| s.name == site) else {
            return refused(StatusCode::BAD_REQUEST, "api.err.NoSiteContext");
        };
        match what {
            "self" => ok(vec![
                json!({"name": self.spec.username, "site_role": "admin"}),
            ]),
            // Every site has its default user group (no bandwidth limits).
            "usergroup" => ok(vec![
                json!({"_id": format!("{:0>24}", format!("9{}", s.id.trim_start_matches('0'))),
                                          "name": "Default", "attr_no_delete": true, "site_id": s.id,
                                          "qos_rate_max_down": -1, "qos_rate_max_up": -1}),
            ]),
            "health" => {
                let down = s.devices.iter().filter(|d| d["state"] != 1).count();
                ok(vec![json!({
                    "subsystem": "wlan",
                    "status": if down == 0 { "ok" } else { "warning" },
                    "num_ap": s.devices.len(),
                    "num_adopted": s.devices.iter().filter(|d| d["adopted"] != false).count(),
                    "num_disconnected": down,
                })])
            }
            _ => ok(vec![]),
        }
    }

    /// `cmd/sitemgr`: `add-site` makes a site with a new short name.
    fn sitemgr(&mut self, body: &Value) -> Reply {
        if body["cmd"] != "add-site" {
            return refused(StatusCode::BAD_REQUEST, "api.err.InvalidCommand");
        }
        let desc = body["desc"].as_str().unwrap_or_default().to_string();
        if desc.is_empty() {
            return refused(StatusCode::BAD_REQUEST, "api.err.InvalidPayload");
        }
        let mut site = Site::new(
            &format!("{:024x}", 0x5f00_0000_u64 + self.next_id),
            &random_hex(4),
            &desc,
        );
        // A new site has its untagged LAN, as the controller makes it.
        site.networks.push(json!({
            "_id": format!("{:024x}", 0x6e00_0000_u64 + self.next_id),
            "name": "Default", "purpose": "corporate", "enabled": true, "vlan_enabled": false,
            "site_id": site.id,
        }));
        site.devices = self.spec.arrivals.get(&desc).cloned().unwrap_or_default();
        self.next_id += 1;
        let reply = json!({"_id": site.id, "name": site.name, "desc": site.desc});
        self.spec.sites.push(site);
        ok(vec![reply])
    }

    /// `rest/wlanconf` and `rest/networkconf` of one site.
    fn rest(
        &mut self,
        method: &Method,
        site: &str,
        collection: &str,
        id: Option<&str>,
        body: Value,
    ) -> Reply {
        let next_id = self.next_id;
        let Some(s) = self.spec.sites.iter_mut().find(|s| s.name == site) else {
            return refused(StatusCode::BAD_REQUEST, "api.err.NoSiteContext");
        };
        let site_id = s.id.clone();
        let (items, defs) = if collection == "wlanconf" {
            (&mut s.wlans, &fields::WLAN)
        } else {
            (&mut s.networks, &fields::NETWORK)
        };
        let invalid = |body: &Value| -> Option<Reply> {
            let defs = defs.as_ref().ok()?;
            let first = fields::check(defs, body).into_iter().next()?;
            Some(envelope(
                StatusCode::BAD_REQUEST,
                json!({"rc": "error", "msg": "api.err.Invalid",
                       "validationError": {"field": first.field, "pattern": first.pattern}}),
                vec![],
            ))
        };
        match (method, id) {
            (&Method::GET, None) => ok(items.clone()),
            (&Method::GET, Some(id)) => match items.iter().find(|w| w["_id"] == id) {
                Some(w) => ok(vec![w.clone()]),
                None => refused(StatusCode::BAD_REQUEST, "api.err.IdInvalid"),
            },
            (&Method::POST, None) => {
                if let Some(r) = invalid(&body) {
                    return r;
                }
                let mut w = body;
                w["_id"] = json!(format!("{next_id:024x}"));
                w["site_id"] = json!(site_id);
                items.push(w.clone());
                self.next_id += 1;
                ok(vec![w])
            }
            (&Method::PUT, Some(id)) => {
                if let Some(r) = invalid(&body) {
                    return r;
                }
                let Some(w) = items.iter_mut().find(|w| w["_id"] == id) else {
                    return refused(StatusCode::BAD_REQUEST, "api.err.IdInvalid");
                };
                if let (Value::Object(have), Value::Object(new)) = (&mut *w, body) {
                    for (k, v) in new {
                        if k != "_id" && k != "site_id" {
                            have.insert(k, v);
                        }
                    }
                }
                ok(vec![w.clone()])
            }
            (&Method::DELETE, Some(id)) => {
                let before = items.len();
                items.retain(|w| w["_id"] != id);
                if items.len() == before {
                    refused(StatusCode::BAD_REQUEST, "api.err.IdInvalid")
                } else {
                    ok(vec![])
                }
            }
            _ => refused(StatusCode::METHOD_NOT_ALLOWED, "api.err.NotFound"),
        }
    }
}
