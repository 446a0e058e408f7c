//! An emulator of the Admin SDK Directory API (users, groups, members, org units) and
//! Google's OAuth token endpoint, for the lab and the tests.
//!
//! It checks what the real service checks that matters to a client: the JWT's RS256
//! signature against the service account's public key, the impersonated admin, the
//! audience, expiry and scopes; page-size caps and page tokens; `fields` masks; etags
//! with If-Match / If-None-Match; 404 and 409 semantics. It can add latency, inject
//! faults (429, 403 rate limits, 5xx, dropped replies after the write is done) and delay
//! visibility of new objects, as Google's eventual consistency does.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Public};
use openssl::sign::Verifier;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::Mutex;

use super::mask::Mask;
pub use crate::lab::Faults;

const SCOPE_BASE: &str = "https://www.googleapis.com/auth/admin.directory.";
const DATATRANSFER_SCOPE: &str = "https://www.googleapis.com/auth/admin.datatransfer";

/// One Google Workspace customer the lab hosts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TenantSpec {
    pub customer_id: String,
    pub domains: Vec<String>,
    pub admin: String,
    pub client_email: String,
    pub public_key_pem: String,
    /// Domain-wide delegation granted to the service account (the admin console's
    /// "API controls"). Without it the token endpoint answers `unauthorized_client`.
    #[serde(default = "yes")]
    pub delegation: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone)]
struct Obj {
    data: Value,
    visible_at: Instant,
    /// Kept with the object so lists need not hash every item on every read.
    etag: String,
}

impl Obj {
    fn new(data: Value, visible_at: Instant) -> Obj {
        Obj {
            etag: etag_of(&data),
            data,
            visible_at,
        }
    }

    /// After changing `data`.
    fn touch(&mut self) {
        self.etag = etag_of(&self.data);
    }

    fn view(&self) -> Value {
        let mut v = self.data.clone();
        v["etag"] = json!(self.etag);
        v
    }
}

#[derive(Debug)]
struct Tenant {
    spec: TenantSpec,
    key: PKey<Public>,
    orgunits: BTreeMap<String, Obj>,
    users: BTreeMap<String, Obj>,
    groups: BTreeMap<String, Obj>,
    /// group email -> member key (email, or `id:ID` for members with no email) -> member
    members: BTreeMap<String, BTreeMap<String, Obj>>,
    /// Deleted users, restorable with `users.undelete` (Google keeps them 20 days).
    deleted: Vec<Obj>,
    /// SHA-256 of each user's password, for tests to check what was set; never
    /// returned by the API, as Google never returns passwords.
    passwords: BTreeMap<String, String>,
    /// Custom user schemas (`schemas.list`), as seeded.
    schemas: Vec<Value>,
    /// OAuth tokens and app passwords users granted, by user (seeded), and how often
    /// each user was signed out (`users.signOut`), for tests to see.
    tokens: BTreeMap<String, Vec<Value>>,
    asps: BTreeMap<String, Vec<Value>>,
    sign_outs: BTreeMap<String, u64>,
    /// Data transfers asked for (Data Transfer API), and the users whose transfers
    /// fail (seeded): a transfer moves from `new` to `inProgress` to `completed` (or
    /// `failed`) as it is read.
    transfers: Vec<Value>,
    failing_transfers: Vec<String>,
    next_id: u64,
}

struct Token {
    tenant: usize,
    /// The impersonated user: the API answers only if they are an administrator.
    subject: String,
    scopes: Vec<String>,
    until: Instant,
}

struct State {
    tenants: Vec<Tenant>,
    tokens: HashMap<String, Token>,
    faults: Faults,
    counts: BTreeMap<String, u64>,
    /// Query parameters and body fields seen per route, for contract checks.
    seen: BTreeMap<String, std::collections::BTreeSet<String>>,
    /// The tenant of each authenticated API request, in the order they arrived: tests
    /// see from it whether orgs were worked on one after another or at once.
    arrivals: Vec<String>,
    fault_seq: u64,
}

pub struct Lab {
    state: Mutex<State>,
    requests: AtomicU64,
}

type Reply = Response<Full<Bytes>>;

/// A reply, or "drop the connection without answering".
enum Outcome {
    Reply(Reply),
    Drop,
}

fn reply(status: StatusCode, body: &Value) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    r
}

fn error(status: StatusCode, reason: &str, message: &str) -> Reply {
    reply(
        status,
        &json!({"error": {
            "code": status.as_u16(),
            "message": message,
            "errors": [{"domain": "global", "reason": reason, "message": message}],
        }}),
    )
}

fn not_found(what: &str) -> Reply {
    error(
        StatusCode::NOT_FOUND,
        "notFound",
        &format!("Resource Not Found: {what}"),
    )
}

fn etag_of(data: &Value) -> String {
    let mut v = data.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("etag");
    }
    let h = crate::util::sha256_hex(v.to_string().as_bytes());
    format!("\"{}\"", &h[..27])
}

fn with_etag(data: &Value) -> Value {
    let mut v = data.clone();
    v["etag"] = json!(etag_of(data));
    v
}

impl Tenant {
    fn owns_domain(&self, email: &str) -> bool {
        email
            .rsplit_once('@')
            .is_some_and(|(_, d)| self.spec.domains.iter().any(|x| x.eq_ignore_ascii_case(d)))
    }

    fn id(&mut self) -> String {
        self.next_id += 1;
        format!("1{:020}", self.next_id)
    }
}

/// What Google says of a user who never signed in.
const NEVER: &str = "1970-01-01T00:00:00.000Z";

fn visible(o: &Obj) -> bool {
    Instant::now() >= o.visible_at
}

impl Lab {
    pub fn new(tenants: Vec<TenantSpec>, faults: Faults) -> Result<Arc<Lab>, String> {
        let mut built = Vec::new();
        for spec in tenants {
            let key = PKey::public_key_from_pem(spec.public_key_pem.as_bytes())
                .map_err(|e| format!("tenant {}: bad public key: {e}", spec.customer_id))?;
            let mut t = Tenant {
                key,
                orgunits: BTreeMap::new(),
                users: BTreeMap::new(),
                groups: BTreeMap::new(),
                members: BTreeMap::new(),
                deleted: Vec::new(),
                passwords: BTreeMap::new(),
                schemas: Vec::new(),
                tokens: BTreeMap::new(),
                asps: BTreeMap::new(),
                sign_outs: BTreeMap::new(),
                transfers: Vec::new(),
                failing_transfers: Vec::new(),
                next_id: 0,
                spec,
            };
            let admin = t.spec.admin.to_ascii_lowercase();
            let id = t.id();
            let (given, family) = admin.split_once('@').unwrap_or((&admin, "admin"));
            t.users.insert(
                admin.clone(),
                Obj::new(
                    json!({
                        "kind": "admin#directory#user",
                        "id": id,
                        "primaryEmail": admin,
                        "name": {"givenName": given, "familyName": family, "fullName": format!("{given} {family}").trim()},
                        "isAdmin": true,
                        "orgUnitPath": "/",
                        "suspended": false,
                        "customerId": t.spec.customer_id,
                        "creationTime": crate::util::now_rfc3339(),
                        "isEnrolledIn2Sv": false,
                        "isEnforcedIn2Sv": false,
                        "lastLoginTime": NEVER,
                    }), Instant::now()),
            );
            built.push(t);
        }
        Ok(Arc::new(Lab {
            state: Mutex::new(State {
                tenants: built,
                tokens: HashMap::new(),
                arrivals: Vec::new(),
                faults,
                counts: BTreeMap::new(),
                seen: BTreeMap::new(),
                fault_seq: 0,
            }),
            requests: AtomicU64::new(0),
        }))
    }

    /// Serves connections until the process ends.
    pub async fn serve(self: Arc<Self>, listener: TcpListener) -> std::io::Result<()> {
        loop {
            let (stream, _) = listener.accept().await?;
            let lab = self.clone();
            tokio::spawn(async move {
                let io = TokioIo::new(stream);
                let service = service_fn(move |req| {
                    let lab = lab.clone();
                    async move { lab.handle(req).await }
                });
                let _ = http1::Builder::new().serve_connection(io, service).await;
            });
        }
    }

    async fn handle(&self, req: Request<Incoming>) -> Result<Reply, std::io::Error> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let query: HashMap<String, String> =
            req.uri().query().map(url_decode_form).unwrap_or_default();
        let headers = req.headers().clone();
        let body = match req.into_body().collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => Bytes::new(),
        };
        // Latency is a round trip: half on the way in, half on the way back, so a
        // write is done while its reply is still travelling (as a kill or a lost
        // reply then finds it).
        let latency = self.state.lock().await.faults.latency_ms;
        if latency > 0 {
            tokio::time::sleep(Duration::from_millis(latency / 2)).await;
        }
        let outcome = self.route(&method, &path, &query, &headers, &body).await;
        if latency > 0 {
            tokio::time::sleep(Duration::from_millis(latency - latency / 2)).await;
        }
        match outcome {
            Outcome::Reply(r) => Ok(r),
            // Dropping the connection: hyper closes it when the service errors.
            Outcome::Drop => Err(std::io::Error::other("lab: reply dropped on purpose")),
        }
    }

    async fn route(
        &self,
        method: &Method,
        path: &str,
        query: &HashMap<String, String>,
        headers: &hyper::HeaderMap,
        body: &Bytes,
    ) -> Outcome {
        if let Some(rest) = path.strip_prefix("/_lab/") {
            return Outcome::Reply(self.control(method, rest, body).await);
        }
        if path == "/token" && method == Method::POST {
            let mut st = self.state.lock().await;
            *st.counts.entry("token".into()).or_default() += 1;
            return Outcome::Reply(token(&mut st, body));
        }
        // The Directory API, and the Data Transfer API (its segments after `datatransfer`).
        let segs: Vec<String> = if let Some(api) = path.strip_prefix("/admin/directory/v1/") {
            api.split('/').map(percent_decode).collect()
        } else if let Some(api) = path.strip_prefix("/admin/datatransfer/v1/") {
            std::iter::once("datatransfer".to_string())
                .chain(api.split('/').map(percent_decode))
                .collect()
        } else {
            return Outcome::Reply(not_found(path));
        };
        let mut st = self.state.lock().await;
        let route_name = route_name(method, &segs);
        *st.counts.entry(route_name.clone()).or_default() += 1;
        let seen = st.seen.entry(route_name.clone()).or_default();
        seen.extend(query.keys().map(|k| format!("query:{k}")));
        if let Ok(Value::Object(b)) = serde_json::from_slice::<Value>(body) {
            for (k, v) in &b {
                seen.insert(format!("body:{k}"));
                if let Value::Object(inner) = v {
                    seen.extend(inner.keys().map(|i| format!("body:{k}.{i}")));
                }
            }
        }

        // Authentication first, as Google does.
        let auth = headers
            .get(hyper::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_string);
        let Some((tenant_idx, subject, scopes)) = auth.as_deref().and_then(|t| {
            st.tokens
                .get(t)
                .filter(|tok| Instant::now() < tok.until)
                .map(|tok| (tok.tenant, tok.subject.clone(), tok.scopes.clone()))
        }) else {
            return Outcome::Reply(error(
                StatusCode::UNAUTHORIZED,
                "authError",
                "Request had invalid authentication credentials. Expected OAuth 2 access token.",
            ));
        };
        let customer = st.tenants[tenant_idx].spec.customer_id.clone();
        st.arrivals.push(customer);
        if let Some(needed) = scope_for(&segs) {
            let write = *method != Method::GET;
            let ok = scopes.iter().any(|s| {
                (needed == "datatransfer"
                    && (s == DATATRANSFER_SCOPE
                        || (!write && s == &format!("{DATATRANSFER_SCOPE}.readonly"))))
                    || s == &format!("{SCOPE_BASE}{needed}")
                    || (!write && s == &format!("{SCOPE_BASE}{needed}.readonly"))
                    || (needed == "group.member"
                        && (s == &format!("{SCOPE_BASE}group")
                            || (!write && s == &format!("{SCOPE_BASE}group.readonly"))))
            });
            if !ok {
                return Outcome::Reply(error(
                    StatusCode::FORBIDDEN,
                    "insufficientPermissions",
                    "Request had insufficient authentication scopes.",
                ));
            }
        }

        // Google issues a token for any user of the domain; the Directory API then
        // answers only administrators (the most common set-up mistake).
        let is_admin = st.tenants.get(tenant_idx).is_some_and(|t| {
            t.users
                .get(&subject)
                .is_some_and(|u| u.data["isAdmin"] == true && u.data["suspended"] != true)
        });
        if !is_admin {
            return Outcome::Reply(not_authorized().reply());
        }
        // A bad `fields` mask is refused before anything is written.
        let mask = match query.get("fields").map(String::as_str) {
            None | Some("") => None,
            Some(f) => match Mask::parse(f) {
                Ok(m) => Some(m),
                Err(e) => {
                    return Outcome::Reply(error(
                        StatusCode::BAD_REQUEST,
                        "invalidParameter",
                        &e.to_string(),
                    ));
                }
            },
        };

        // Faults are decided per request, deterministically spread over the sequence.
        let fault = pick_fault(&mut st);
        match fault.as_deref() {
            Some("429") => {
                let mut r = error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rateLimitExceeded",
                    "Rate Limit Exceeded",
                );
                if let Some(v) = st
                    .faults
                    .retry_after
                    .and_then(|s| hyper::header::HeaderValue::from_str(&s.to_string()).ok())
                {
                    r.headers_mut().insert(hyper::header::RETRY_AFTER, v);
                }
                return Outcome::Reply(r);
            }
            Some("403") => {
                return Outcome::Reply(error(
                    StatusCode::FORBIDDEN,
                    "userRateLimitExceeded",
                    "User Rate Limit Exceeded",
                ));
            }
            Some("500") => {
                return Outcome::Reply(error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "backendError",
                    "Backend Error",
                ));
            }
            Some("503") => {
                return Outcome::Reply(error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "backendError",
                    "The service is currently unavailable.",
                ));
            }
            _ => {}
        }
        if *method != Method::GET {
            let text = String::from_utf8_lossy(body);
            if let Some(r) = st
                .faults
                .reject
                .iter()
                .find(|r| path.contains(r.as_str()) || text.contains(r.as_str()))
            {
                return Outcome::Reply(error(
                    StatusCode::BAD_REQUEST,
                    "invalid",
                    &format!("Invalid Input: {r} (refused by the lab's fault injection)"),
                ));
            }
        }
        let visibility = Duration::from_millis(st.faults.visibility_ms);
        let Some(tenant) = st.tenants.get_mut(tenant_idx) else {
            return Outcome::Reply(not_found("customer"));
        };
        let body_json: Option<Value> = if body.is_empty() {
            None
        } else {
            match serde_json::from_slice(body) {
                Ok(v) => Some(v),
                Err(_) => {
                    return Outcome::Reply(error(
                        StatusCode::BAD_REQUEST,
                        "parseError",
                        "Parse Error",
                    ));
                }
            }
        };
        let if_match = headers
            .get(hyper::header::IF_MATCH)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let if_none_match = headers
            .get(hyper::header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let req = ApiRequest {
            method: method.clone(),
            segs: &segs,
            query,
            body: body_json,
            if_match,
            if_none_match,
            visibility,
        };
        let result = api_call(tenant, &req);
        let result = match result {
            Ok(v) => v,
            Err(e) => return Outcome::Reply(e.reply()),
        };
        if fault.as_deref() == Some("timeout") {
            // The work is done; the reply comes too late for the client.
            let hold = Duration::from_millis(st.faults.timeout_ms.max(1));
            drop(st);
            tokio::time::sleep(hold).await;
        } else if fault.as_deref() == Some("drop") {
            // The work is done; the reply is lost. A client retrying a create must then
            // cope with 409.
            return Outcome::Drop;
        }
        let (status, value) = result;
        if status == StatusCode::NOT_MODIFIED || status == StatusCode::NO_CONTENT {
            let mut r = Response::new(Full::new(Bytes::new()));
            *r.status_mut() = status;
            return Outcome::Reply(r);
        }
        let value = match &mask {
            Some(m) => m.apply(value),
            None => value,
        };
        Outcome::Reply(reply(status, &value))
    }

    async fn control(&self, method: &Method, rest: &str, body: &Bytes) -> Reply {
        let mut st = self.state.lock().await;
        match (method, rest) {
            (&Method::GET, "stats") => {
                let total: u64 = st.counts.values().sum();
                reply(
                    StatusCode::OK,
                    &json!({"total": total, "requests": st.counts, "seen": st.seen, "arrivals": st.arrivals}),
                )
            }
            (&Method::POST, "stats/reset") => {
                st.counts.clear();
                st.seen.clear();
                st.arrivals.clear();
                reply(StatusCode::OK, &json!({}))
            }
            (&Method::GET, "faults") => reply(StatusCode::OK, &json!(st.faults)),
            (&Method::POST, "faults") => match serde_json::from_slice::<Faults>(body) {
                Ok(f) => {
                    st.faults = f;
                    reply(StatusCode::OK, &json!(st.faults))
                }
                Err(e) => error(StatusCode::BAD_REQUEST, "invalid", &e.to_string()),
            },
            // Changes "by hand in the admin console": insert or overwrite raw objects.
            (&Method::POST, "seed") => {
                let Ok(seed) = serde_json::from_slice::<Value>(body) else {
                    return error(StatusCode::BAD_REQUEST, "invalid", "seed is not JSON");
                };
                let cid = seed["customer_id"].as_str().unwrap_or_default();
                let Some(t) = st.tenants.iter_mut().find(|t| t.spec.customer_id == cid) else {
                    return not_found("customer");
                };
                // Objects made by hand show in lists only after `hidden_ms`, as Google's
                // eventual consistency does (their addresses are taken at once).
                let now =
                    Instant::now() + Duration::from_millis(seed["hidden_ms"].as_u64().unwrap_or(0));
                for u in seed["users"].as_array().into_iter().flatten() {
                    let email = u["primaryEmail"]
                        .as_str()
                        .unwrap_or_default()
                        .to_ascii_lowercase();
                    let mut data = u.clone();
                    data["kind"] = json!("admin#directory#user");
                    if data.get("id").is_none() {
                        data["id"] = json!(t.id());
                    }
                    t.users.insert(email, Obj::new(data, now));
                }
                // What people did since (`{primaryEmail, isEnrolledIn2Sv, lastLoginTime,
                // isAdmin, creationTime}`), over the user's other fields.
                for f in seed["user_facts"].as_array().into_iter().flatten() {
                    let email = f["primaryEmail"]
                        .as_str()
                        .unwrap_or_default()
                        .to_ascii_lowercase();
                    let Some(u) = t.users.get_mut(&email) else {
                        return not_found(&format!("user {email}"));
                    };
                    for k in [
                        "isEnrolledIn2Sv",
                        "lastLoginTime",
                        "isAdmin",
                        "creationTime",
                    ] {
                        if let Some(v) = f.get(k) {
                            u.data[k] = v.clone();
                        }
                    }
                    u.etag = etag_of(&u.data);
                }
                // Org units made by hand, parents first: `{orgUnitPath, description}`.
                for o in seed["orgunits"].as_array().into_iter().flatten() {
                    let path = o["orgUnitPath"].as_str().unwrap_or_default().to_string();
                    let Some((parent, name)) = path.rsplit_once('/') else {
                        continue;
                    };
                    let parent = if parent.is_empty() { "/" } else { parent };
                    let parent_id = t
                        .orgunits
                        .get(parent)
                        .map_or(json!("id:root"), |p| p.data["orgUnitId"].clone());
                    let data = json!({
                        "kind": "admin#directory#orgUnit", "name": name,
                        "description": o["description"].as_str().unwrap_or_default(),
                        "orgUnitPath": path, "orgUnitId": format!("id:{}", t.id()),
                        "parentOrgUnitPath": parent, "parentOrgUnitId": parent_id,
                        "blockInheritance": false,
                    });
                    t.orgunits.insert(path, Obj::new(data, now));
                }
                for g in seed["groups"].as_array().into_iter().flatten() {
                    let email = g["email"].as_str().unwrap_or_default().to_ascii_lowercase();
                    let mut data = g.clone();
                    data["kind"] = json!("admin#directory#group");
                    t.members.entry(email.clone()).or_default();
                    t.groups.insert(email, Obj::new(data, now));
                }
                // What people granted: OAuth tokens `{user, clientId, displayText,
                // scopes}` and app passwords `{user, codeId, name}`.
                for (list, store) in [("tokens", &mut t.tokens), ("asps", &mut t.asps)] {
                    for item in seed[list].as_array().into_iter().flatten() {
                        let user = item["user"]
                            .as_str()
                            .unwrap_or_default()
                            .to_ascii_lowercase();
                        let mut data = item.clone();
                        if let Some(o) = data.as_object_mut() {
                            o.remove("user");
                            o.insert("userKey".into(), json!(user));
                            o.insert(
                                "kind".into(),
                                json!(if list == "tokens" {
                                    "admin#directory#token"
                                } else {
                                    "admin#directory#asp"
                                }),
                            );
                        }
                        store.entry(user).or_default().push(data);
                    }
                }
                for u in seed["failing_transfers"].as_array().into_iter().flatten() {
                    t.failing_transfers
                        .push(u.as_str().unwrap_or_default().to_ascii_lowercase());
                }
                for schema in seed["schemas"].as_array().into_iter().flatten() {
                    let mut data = schema.clone();
                    data["kind"] = json!("admin#directory#schema");
                    t.schemas.push(data);
                }
                if let Some(d) = seed["delegation"].as_bool() {
                    t.spec.delegation = d;
                }
                for m in seed["members"].as_array().into_iter().flatten() {
                    let group = m["group"].as_str().unwrap_or_default().to_ascii_lowercase();
                    let role = m["role"].as_str().unwrap_or("MEMBER");
                    // "Everyone in the domain": a member with no email.
                    let (key, data) = if m["type"] == "CUSTOMER" {
                        let id = t.spec.customer_id.clone();
                        (
                            format!("id:{id}"),
                            json!({"kind": "admin#directory#member", "id": id, "role": role, "type": "CUSTOMER"}),
                        )
                    } else {
                        let email = m["email"].as_str().unwrap_or_default().to_ascii_lowercase();
                        let ty = m["type"].as_str().unwrap_or("USER");
                        (
                            email.clone(),
                            json!({"kind": "admin#directory#member", "email": email, "role": role, "type": ty, "status": "ACTIVE"}),
                        )
                    };
                    t.members
                        .entry(group)
                        .or_default()
                        .insert(key, Obj::new(data, now));
                }
                // Deletions "in the admin console", behind Steward's back.
                for email in seed["delete_users"].as_array().into_iter().flatten() {
                    let email = email.as_str().unwrap_or_default().to_ascii_lowercase();
                    t.users.remove(&email);
                    for members in t.members.values_mut() {
                        members.remove(&email);
                    }
                }
                reply(StatusCode::OK, &json!({}))
            }
            (&Method::GET, "dump") => {
                let tenants: Vec<Value> = st
                    .tenants
                    .iter()
                    .map(|t| {
                        json!({
                            "customer_id": t.spec.customer_id,
                            "orgunits": t.orgunits.values().map(|o| &o.data).collect::<Vec<_>>(),
                            "users": t.users.values().map(|o| &o.data).collect::<Vec<_>>(),
                            "groups": t.groups.values().map(|o| &o.data).collect::<Vec<_>>(),
                            "members": t.members.iter().map(|(g, m)| (g.clone(), m.values().map(|o| o.data.clone()).collect::<Vec<_>>())).collect::<BTreeMap<_, _>>(),
                            "deleted_users": t.deleted.iter().map(|o| &o.data).collect::<Vec<_>>(),
                            "password_sha256": t.passwords,
                            "tokens": t.tokens,
                            "asps": t.asps,
                            "sign_outs": t.sign_outs,
                            "transfers": t.transfers,
                        })
                    })
                    .collect();
                reply(StatusCode::OK, &json!({"tenants": tenants}))
            }
            _ => not_found(rest),
        }
    }
}

fn pick_fault(st: &mut State) -> Option<String> {
    if st.faults.rate <= 0.0 || st.faults.kinds.is_empty() {
        return None;
    }
    st.fault_seq += 1;
    // A low-discrepancy sequence: the fault rate holds over any window, runs repeat.
    let x = (st.fault_seq as f64 * 0.618_033_988_749_895).fract();
    if x >= st.faults.rate {
        return None;
    }
    let k = (st.fault_seq as usize / 3) % st.faults.kinds.len();
    Some(st.faults.kinds[k].clone())
}

fn route_name(method: &Method, segs: &[String]) -> String {
    let shape: Vec<&str> = match segs.first().map(String::as_str) {
        Some("datatransfer") => match segs.len() {
            0..=2 => vec!["datatransfer", segs.get(1).map_or("", String::as_str)],
            _ => vec!["datatransfer", segs[1].as_str(), "item"],
        },
        Some("customer") if segs.get(2).map(String::as_str) == Some("domains") => vec!["domains"],
        Some("customer") if segs.get(2).map(String::as_str) == Some("schemas") => vec!["schemas"],
        Some("customer") => {
            if segs.len() > 3 {
                vec!["orgunits", "item"]
            } else {
                vec!["orgunits"]
            }
        }
        Some("groups") if segs.len() >= 3 && segs[2] == "members" => {
            if segs.len() > 3 {
                vec!["members", "item"]
            } else {
                vec!["members"]
            }
        }
        // users/{key}/aliases/{alias}, users/{key}/undelete, ...: literal segments
        // kept, keys named `item`.
        Some(first) => segs
            .iter()
            .enumerate()
            .map(|(i, s)| match i {
                0 => first,
                _ if i % 2 == 1 => "item",
                _ => s.as_str(),
            })
            .collect(),
        None => vec![],
    };
    format!("{} {}", method, shape.join("/"))
}

fn scope_for(segs: &[String]) -> Option<&'static str> {
    match segs.first().map(String::as_str) {
        Some("datatransfer") => Some("datatransfer"),
        Some("users")
            if matches!(
                segs.get(2).map(String::as_str),
                Some("tokens" | "asps" | "signOut")
            ) =>
        {
            Some("user.security")
        }
        Some("users") => Some("user"),
        Some("groups") if segs.len() >= 3 && segs[2] == "members" => Some("group.member"),
        Some("groups") => Some("group"),
        Some("customer") => Some("orgunit"),
        _ => None,
    }
}

fn token(st: &mut State, body: &Bytes) -> Reply {
    let bad = |why: &str| {
        reply(
            StatusCode::BAD_REQUEST,
            &json!({"error": "invalid_grant", "error_description": why}),
        )
    };
    let form = url_decode_form(&String::from_utf8_lossy(body));
    if form.get("grant_type").map(String::as_str)
        != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    {
        return reply(
            StatusCode::BAD_REQUEST,
            &json!({"error": "unsupported_grant_type", "error_description": "Invalid grant_type"}),
        );
    }
    let Some(assertion) = form.get("assertion") else {
        return bad("Missing assertion");
    };
    let parts: Vec<&str> = assertion.split('.').collect();
    let [h, c, sig] = parts.as_slice() else {
        return bad("Invalid JWT: Token must be a short-lived token and in a reasonable timeframe");
    };
    let decode = |p: &str| -> Option<Value> {
        let bytes = URL_SAFE_NO_PAD.decode(p).ok()?;
        serde_json::from_slice(&bytes).ok()
    };
    let (Some(header), Some(claims)) = (decode(h), decode(c)) else {
        return bad("Invalid JWT");
    };
    if header["alg"] != "RS256" {
        return bad("Invalid JWT: alg must be RS256");
    }
    let iss = claims["iss"].as_str().unwrap_or_default();
    let Some(idx) = st.tenants.iter().position(|t| t.spec.client_email == iss) else {
        return reply(
            StatusCode::UNAUTHORIZED,
            &json!({"error": "invalid_client", "error_description": "The OAuth client was not found."}),
        );
    };
    let tenant = &st.tenants[idx];
    let Ok(sig) = URL_SAFE_NO_PAD.decode(sig) else {
        return bad("Invalid JWT Signature.");
    };
    let verified = Verifier::new(MessageDigest::sha256(), &tenant.key)
        .and_then(|mut v| {
            v.update(format!("{h}.{c}").as_bytes())?;
            v.verify(&sig)
        })
        .unwrap_or(false);
    if !verified {
        return bad("Invalid JWT Signature.");
    }
    let now = crate::util::unix_now();
    let iat = claims["iat"].as_u64().unwrap_or(0);
    let exp = claims["exp"].as_u64().unwrap_or(0);
    if exp <= now || iat > now + 60 || exp.saturating_sub(iat) > 3600 {
        return bad(
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.",
        );
    }
    if !claims["aud"]
        .as_str()
        .unwrap_or_default()
        .ends_with("/token")
    {
        return bad("Invalid JWT: aud must be the token endpoint");
    }
    if !tenant.spec.delegation {
        return reply(
            StatusCode::UNAUTHORIZED,
            &json!({"error": "unauthorized_client", "error_description": "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested."}),
        );
    }
    let sub = claims["sub"]
        .as_str()
        .unwrap_or_default()
        .to_ascii_lowercase();
    // Any user of the tenant may be impersonated; whether they may use the API is
    // decided per request.
    let Some(sub) = tenant.resolve(Ty::User, &sub) else {
        // A user of another customer: delegation is granted per customer.
        if st
            .tenants
            .iter()
            .any(|t| t.resolve(Ty::User, &sub).is_some())
        {
            return reply(
                StatusCode::UNAUTHORIZED,
                &json!({"error": "unauthorized_client", "error_description": "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested."}),
            );
        }
        return bad("Invalid email or User ID");
    };
    let scopes: Vec<String> = claims["scope"]
        .as_str()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    if scopes.is_empty()
        || scopes
            .iter()
            .any(|s| !s.starts_with(SCOPE_BASE) && !s.starts_with(DATATRANSFER_SCOPE))
    {
        return bad("Invalid OAuth scope or ID token audience provided.");
    }
    let mut raw = [0u8; 24];
    if openssl::rand::rand_bytes(&mut raw).is_err() {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "backendError",
            "no randomness",
        );
    }
    let access = format!("ya29.lab-{}", URL_SAFE_NO_PAD.encode(raw));
    st.tokens.insert(
        access.clone(),
        Token {
            tenant: idx,
            subject: sub,
            scopes,
            until: Instant::now() + Duration::from_secs(3600),
        },
    );
    reply(
        StatusCode::OK,
        &json!({"access_token": access, "expires_in": 3599, "token_type": "Bearer"}),
    )
}

struct ApiRequest<'a> {
    method: Method,
    segs: &'a [String],
    query: &'a HashMap<String, String>,
    body: Option<Value>,
    if_match: Option<String>,
    if_none_match: Option<String>,
    visibility: Duration,
}

/// An API error, turned into Google's error JSON at the edge.
struct ApiError {
    status: StatusCode,
    reason: &'static str,
    message: String,
}

impl ApiError {
    fn reply(&self) -> Reply {
        error(self.status, self.reason, &self.message)
    }
}

fn api_error(status: StatusCode, reason: &'static str, message: &str) -> ApiError {
    ApiError {
        status,
        reason,
        message: message.to_string(),
    }
}

fn api_not_found(what: &str) -> ApiError {
    api_error(
        StatusCode::NOT_FOUND,
        "notFound",
        &format!("Resource Not Found: {what}"),
    )
}

type ApiResult = Result<(StatusCode, Value), ApiError>;

fn bad_request(message: &str) -> ApiError {
    api_error(StatusCode::BAD_REQUEST, "invalid", message)
}

fn page_size(q: &HashMap<String, String>, default: usize, max: usize) -> Result<usize, ApiError> {
    match q.get("maxResults") {
        None => Ok(default),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(api_error(
                StatusCode::BAD_REQUEST,
                "invalid",
                &format!("Invalid value '{v}'. Values must be within the range: [1, {max}]"),
            )),
        },
    }
}

/// One page of `items` (already sorted) from `pageToken`.
fn paginate(
    items: Vec<Value>,
    q: &HashMap<String, String>,
    size: usize,
) -> Result<(Vec<Value>, Option<String>), ApiError> {
    let start = match q.get("pageToken") {
        None => 0,
        Some(t) => t
            .strip_prefix("lab-p")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n <= items.len())
            .ok_or_else(|| bad_request("Invalid page token"))?,
    };
    let end = (start + size).min(items.len());
    let next = (end < items.len()).then(|| format!("lab-p{end}"));
    Ok((items[start..end].to_vec(), next))
}

/// Stores a new object (invisible for `visibility`, as after a real create) and
/// answers with it.
fn created(
    map: &mut BTreeMap<String, Obj>,
    key: String,
    data: Value,
    visibility: Duration,
) -> ApiResult {
    let obj = Obj::new(data, Instant::now() + visibility);
    let view = obj.view();
    map.insert(key, obj);
    Ok((StatusCode::OK, view))
}

/// One page of a list, as the list methods answer.
fn page_reply(
    kind: &str,
    key: &str,
    items: Vec<Value>,
    q: &HashMap<String, String>,
    size: usize,
) -> ApiResult {
    let (page, next) = paginate(items, q, size)?;
    Ok((StatusCode::OK, list_reply(kind, key, page, next)))
}

fn check_if_match(req: &ApiRequest<'_>, data: &Value) -> Result<(), ApiError> {
    match &req.if_match {
        Some(tag) if tag != "*" && *tag != etag_of(data) => Err(api_error(
            StatusCode::PRECONDITION_FAILED,
            "conditionNotMet",
            "Precondition Failed",
        )),
        _ => Ok(()),
    }
}

fn list_reply(kind: &str, key: &str, items: Vec<Value>, next: Option<String>) -> Value {
    // The page's etag digests its items' etags, which are already known.
    let tags: String = items.iter().filter_map(|i| i["etag"].as_str()).collect();
    let mut v = json!({"kind": kind, key: items});
    v["etag"] = json!(format!(
        "\"{}\"",
        &crate::util::sha256_hex(tags.as_bytes())[..27]
    ));
    if let Some(n) = next {
        v["nextPageToken"] = json!(n);
    }
    v
}

fn check_customer(t: &Tenant, q: &HashMap<String, String>) -> Result<(), ApiError> {
    match (q.get("customer"), q.get("domain")) {
        (Some(c), _) if c == "my_customer" || *c == t.spec.customer_id => Ok(()),
        (Some(_), _) => Err(not_authorized()),
        (None, Some(d)) if t.spec.domains.iter().any(|x| x.eq_ignore_ascii_case(d)) => Ok(()),
        (None, Some(_)) => Err(not_authorized()),
        (None, None) => Err(bad_request("Bad Request")),
    }
}

/// Users and groups share one address space: primary addresses and aliases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    User,
    Group,
}

fn has_alias(data: &Value, address: &str) -> bool {
    ["aliases", "nonEditableAliases"].iter().any(|k| {
        data[*k]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .any(|a| a.eq_ignore_ascii_case(address))
    })
}

impl Tenant {
    fn objects(&self, ty: Ty) -> &BTreeMap<String, Obj> {
        match ty {
            Ty::User => &self.users,
            Ty::Group => &self.groups,
        }
    }

    /// The primary key of a user or group named by its primary address, an alias or
    /// its numeric id, as `userKey` and `groupKey` accept.
    fn resolve(&self, ty: Ty, key: &str) -> Option<String> {
        let key = key.to_ascii_lowercase();
        let map = self.objects(ty);
        if map.contains_key(&key) {
            return Some(key);
        }
        map.iter()
            .find(|(_, o)| o.data["id"] == key.as_str() || has_alias(&o.data, &key))
            .map(|(k, _)| k.clone())
    }

    /// A new address from a request body, lower-cased, in one of the tenant's domains.
    fn address_in_domain(&self, v: &Value) -> Result<String, ApiError> {
        let address = v.as_str().unwrap_or_default().to_ascii_lowercase();
        if self.owns_domain(&address) {
            Ok(address)
        } else {
            Err(bad_request("Invalid Input: domain not found"))
        }
    }

    /// Which user or group holds an address, as its primary address or an alias.
    fn owner_of(&self, address: &str) -> Option<(Ty, String)> {
        let address = address.to_ascii_lowercase();
        for ty in [Ty::User, Ty::Group] {
            if self.objects(ty).contains_key(&address) {
                return Some((ty, address));
            }
        }
        for ty in [Ty::User, Ty::Group] {
            if let Some((k, _)) = self
                .objects(ty)
                .iter()
                .find(|(_, o)| has_alias(&o.data, &address))
            {
                return Some((ty, k.clone()));
            }
        }
        None
    }

    fn object_mut(&mut self, ty: Ty, key: &str) -> Option<&mut Obj> {
        match ty {
            Ty::User => self.users.get_mut(key),
            Ty::Group => self.groups.get_mut(key),
        }
    }

    /// Whether `inner` is `outer` or (transitively) one of its member groups.
    fn group_contains(&self, outer: &str, inner: &str) -> bool {
        let mut stack = vec![outer.to_string()];
        let mut seen = std::collections::BTreeSet::new();
        while let Some(g) = stack.pop() {
            if g == inner {
                return true;
            }
            if !seen.insert(g.clone()) {
                continue;
            }
            for (key, m) in self.members.get(&g).into_iter().flatten() {
                if m.data["type"] == "GROUP" {
                    stack.push(key.clone());
                }
            }
        }
        false
    }
}

/// Google's answer to a caller who may not do this: a non-admin, another customer.
fn not_authorized() -> ApiError {
    api_error(
        StatusCode::FORBIDDEN,
        "forbidden",
        "Not Authorized to access this resource/api",
    )
}

fn conflict() -> ApiError {
    api_error(StatusCode::CONFLICT, "duplicate", "Entity already exists.")
}

/// The applications whose data moves (ids as Google gives them).
const DRIVE_APP: &str = "55656082996";
const CALENDAR_APP: &str = "435070579839";

/// The Data Transfer API: `applications.list`, `transfers.insert`, `get` and `list`.
fn datatransfer(t: &mut Tenant, req: &ApiRequest<'_>, rest: &[&str]) -> ApiResult {
    match (&req.method, rest) {
        (&Method::GET, ["applications"]) => Ok((
            StatusCode::OK,
            json!({"kind": "admin#datatransfer#applicationsList", "applications": [
                {"kind": "admin#datatransfer#ApplicationResource", "id": DRIVE_APP, "name": "Drive and Docs",
                 "transferParams": [{"key": "PRIVACY_LEVEL", "value": ["PRIVATE", "SHARED"]}]},
                {"kind": "admin#datatransfer#ApplicationResource", "id": CALENDAR_APP, "name": "Calendar",
                 "transferParams": [{"key": "RELEASE_RESOURCES", "value": ["TRUE"]}]},
            ]}),
        )),
        (&Method::POST, ["transfers"]) => {
            let body = req.body.clone().unwrap_or(Value::Null);
            let user_by_id = |id: &Value| {
                t.users
                    .iter()
                    .find(|(_, u)| u.data["id"] == *id)
                    .map(|(e, _)| e.clone())
            };
            let (Some(old), Some(_)) = (
                user_by_id(&body["oldOwnerUserId"]),
                user_by_id(&body["newOwnerUserId"]),
            ) else {
                return Err(bad_request("Invalid user id"));
            };
            let apps = body["applicationDataTransfers"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if apps.is_empty()
                || apps.iter().any(|a| {
                    ![DRIVE_APP, CALENDAR_APP].contains(&a["applicationId"].as_str().unwrap_or(""))
                })
            {
                return Err(bad_request("Invalid application id"));
            }
            let mut transfer = body.clone();
            transfer["kind"] = json!("admin#datatransfer#DataTransfer");
            transfer["id"] = json!(format!("tr-{}", t.id()));
            transfer["overallTransferStatusCode"] = json!("new");
            transfer["requestTime"] = json!(crate::util::now_rfc3339());
            transfer["_old"] = json!(old);
            t.transfers.push(transfer.clone());
            if let Some(o) = transfer.as_object_mut() {
                o.remove("_old");
            }
            Ok((StatusCode::OK, transfer))
        }
        (&Method::GET, ["transfers", id]) => {
            let failing = t.failing_transfers.clone();
            let Some(tr) = t.transfers.iter_mut().find(|x| x["id"] == *id) else {
                return Err(api_not_found("transfer"));
            };
            // Each read finds it one step further, as a real transfer moves on.
            let next = match tr["overallTransferStatusCode"].as_str() {
                Some("new") => "inProgress",
                Some("inProgress") if failing.iter().any(|u| tr["_old"] == *u) => "failed",
                Some("inProgress") => "completed",
                Some(other) => other,
                None => "new",
            }
            .to_string();
            tr["overallTransferStatusCode"] = json!(next);
            let mut out = tr.clone();
            if let Some(o) = out.as_object_mut() {
                o.remove("_old");
            }
            Ok((StatusCode::OK, out))
        }
        (&Method::GET, ["transfers"]) => {
            let old = req.query.get("oldOwnerUserId");
            let items: Vec<Value> = t
                .transfers
                .iter()
                .filter(|x| old.is_none_or(|o| x["oldOwnerUserId"].as_str() == Some(o.as_str())))
                .map(|x| {
                    let mut v = x.clone();
                    if let Some(o) = v.as_object_mut() {
                        o.remove("_old");
                    }
                    v
                })
                .collect();
            Ok((
                StatusCode::OK,
                json!({"kind": "admin#datatransfer#dataTransfersList", "dataTransfers": items}),
            ))
        }
        _ => Err(api_not_found("method")),
    }
}

/// Google's limits on a person's name: both parts, not blank, at most 60 characters.
fn check_name_part(v: &Value, which: &str) -> Result<(), ApiError> {
    // The discovery document: letters (any script), digits, spaces, `-`, `/` and `.`;
    // apostrophes are taken too (O'Brien).
    let allowed = |c: char| c.is_alphanumeric() || " -/.'".contains(c);
    match v.as_str() {
        Some(s) if !s.trim().is_empty() && s.chars().count() <= 60 && s.chars().all(allowed) => {
            Ok(())
        }
        _ => Err(bad_request(&format!("Invalid Given/Family Name: {which}"))),
    }
}

fn check_password(v: &Value) -> Result<(), ApiError> {
    match v.as_str() {
        Some(p) if (8..=100).contains(&p.chars().count()) => Ok(()),
        _ => Err(bad_request("Invalid Password")),
    }
}

fn api_call(t: &mut Tenant, req: &ApiRequest<'_>) -> ApiResult {
    let segs: Vec<&str> = req.segs.iter().map(String::as_str).collect();
    let resolve =
        |ty: Ty, key: &str, what: &str| t.resolve(ty, key).ok_or_else(|| api_not_found(what));
    match segs.as_slice() {
        ["datatransfer", rest @ ..] => datatransfer(t, req, rest),
        ["users"] => users(t, req),
        ["users", key] => {
            let key = resolve(Ty::User, key, "userKey")?;
            user(t, req, &key)
        }
        ["users", key, "undelete"] => undelete(t, req, key),
        ["users", key, "aliases", rest @ ..] => {
            let key = resolve(Ty::User, key, "userKey")?;
            aliases(t, req, Ty::User, &key, rest)
        }
        ["users", key, "signOut"] if req.method == Method::POST => {
            let key = resolve(Ty::User, key, "userKey")?;
            *t.sign_outs.entry(key).or_default() += 1;
            Ok((StatusCode::NO_CONTENT, Value::Null))
        }
        ["users", key, what @ ("tokens" | "asps"), rest @ ..] => {
            let key = resolve(Ty::User, key, "userKey")?;
            let (store, id_field, kind) = if *what == "tokens" {
                (&mut t.tokens, "clientId", "admin#directory#tokenList")
            } else {
                (&mut t.asps, "codeId", "admin#directory#asps")
            };
            let items = store.entry(key).or_default();
            match (&req.method, rest) {
                (&Method::GET, []) => Ok((StatusCode::OK, json!({"kind": kind, "items": items}))),
                (&Method::DELETE, [id]) => {
                    let before = items.len();
                    items.retain(|i| i[id_field].to_string().trim_matches('"') != *id);
                    if items.len() == before {
                        Err(api_not_found("resource"))
                    } else {
                        Ok((StatusCode::NO_CONTENT, Value::Null))
                    }
                }
                _ => Err(api_not_found("method")),
            }
        }
        ["groups"] => groups(t, req),
        ["groups", key] => {
            let key = resolve(Ty::Group, key, "groupKey")?;
            group(t, req, &key)
        }
        ["groups", key, "aliases", rest @ ..] => {
            let key = resolve(Ty::Group, key, "groupKey")?;
            aliases(t, req, Ty::Group, &key, rest)
        }
        ["groups", g, "members"] => {
            let g = resolve(Ty::Group, g, "groupKey")?;
            members(t, req, &g)
        }
        ["groups", g, "members", m] => {
            let g = resolve(Ty::Group, g, "groupKey")?;
            member(t, req, &g, m)
        }
        ["customer", cid, "domains"] if req.method == Method::GET => {
            if *cid != "my_customer" && *cid != t.spec.customer_id {
                return Err(not_authorized());
            }
            // The tenant's domains, the first its primary.
            let domains: Vec<Value> = t
                .spec
                .domains
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    json!({"kind": "admin#directory#domain", "domainName": d,
                           "isPrimary": i == 0, "verified": true})
                })
                .collect();
            Ok((
                StatusCode::OK,
                json!({"kind": "admin#directory#domains", "domains": domains}),
            ))
        }
        ["customer", cid, "schemas"] if req.method == Method::GET => {
            if *cid != "my_customer" && *cid != t.spec.customer_id {
                return Err(not_authorized());
            }
            Ok((
                StatusCode::OK,
                json!({"kind": "admin#directory#schemas", "schemas": t.schemas}),
            ))
        }
        ["customer", cid, "orgunits", rest @ ..] => {
            if *cid != "my_customer" && *cid != t.spec.customer_id {
                return Err(not_authorized());
            }
            if rest.is_empty() {
                orgunits(t, req)
            } else {
                orgunit(t, req, &format!("/{}", rest.join("/")))
            }
        }
        _ => Err(api_not_found("method")),
    }
}

fn users(t: &mut Tenant, req: &ApiRequest<'_>) -> ApiResult {
    match req.method {
        Method::GET => {
            check_customer(t, req.query)?;
            let size = page_size(req.query, 100, 500)?;
            let domain = req.query.get("domain").map(|d| d.to_ascii_lowercase());
            let in_domain = |o: &&Obj| {
                domain.as_ref().is_none_or(|d| {
                    o.data["primaryEmail"]
                        .as_str()
                        .is_some_and(|e| e.ends_with(&format!("@{d}")))
                })
            };
            let items: Vec<Value> =
                if req.query.get("showDeleted").map(String::as_str) == Some("true") {
                    t.deleted.iter().filter(in_domain).map(Obj::view).collect()
                } else {
                    t.users
                        .values()
                        .filter(|o| visible(o))
                        .filter(in_domain)
                        .map(Obj::view)
                        .collect()
                };
            page_reply("admin#directory#users", "users", items, req.query, size)
        }
        Method::POST => {
            let body = req.body.clone().ok_or_else(|| bad_request("Bad Request"))?;
            if body["primaryEmail"].as_str().is_none_or(str::is_empty) {
                return Err(bad_request("Invalid Input: primary_user_email"));
            }
            let email = t.address_in_domain(&body["primaryEmail"])?;
            check_name_part(&body["name"]["givenName"], "GivenName")?;
            check_name_part(&body["name"]["familyName"], "FamilyName")?;
            check_password(&body["password"])?;
            let ou = body["orgUnitPath"].as_str().unwrap_or("/").to_string();
            if ou != "/" && !t.orgunits.contains_key(&ou) {
                return Err(bad_request("Invalid Input: INVALID_OU_ID"));
            }
            // An alias of anyone, or a group's address, is taken as much as a user's.
            if t.owner_of(&email).is_some() {
                return Err(conflict());
            }
            let id = t.id();
            let given = body["name"]["givenName"].as_str().unwrap_or_default();
            let family = body["name"]["familyName"].as_str().unwrap_or_default();
            let suspended = body["suspended"].as_bool().unwrap_or(false);
            let mut data = json!({
                "kind": "admin#directory#user",
                "id": id,
                "primaryEmail": email,
                "name": {"givenName": given, "familyName": family, "fullName": format!("{given} {family}").trim()},
                "isAdmin": false,
                "orgUnitPath": ou,
                "suspended": suspended,
                "changePasswordAtNextLogin": body["changePasswordAtNextLogin"].as_bool().unwrap_or(false),
                "externalIds": body.get("externalIds").cloned().unwrap_or(json!([])),
                "customerId": t.spec.customer_id,
                "creationTime": crate::util::now_rfc3339(),
                "isEnrolledIn2Sv": false,
                "isEnforcedIn2Sv": false,
                "lastLoginTime": NEVER,
            });
            if suspended {
                data["suspensionReason"] = json!("ADMIN");
            }
            let pw = body["password"].as_str().unwrap_or_default();
            t.passwords
                .insert(email.clone(), crate::util::sha256_hex(pw.as_bytes()));
            created(&mut t.users, email, data, req.visibility)
        }
        _ => Err(api_not_found("method")),
    }
}

fn user(t: &mut Tenant, req: &ApiRequest<'_>, key: &str) -> ApiResult {
    let Some(obj) = t.users.get(key) else {
        return Err(api_not_found("userKey"));
    };
    let ready = visible(obj);
    match req.method {
        Method::GET => {
            if !ready {
                return Err(api_not_found("userKey"));
            }
            let v = obj.view();
            if req.if_none_match.as_deref() == v["etag"].as_str() {
                return Ok((StatusCode::NOT_MODIFIED, Value::Null));
            }
            Ok((StatusCode::OK, v))
        }
        Method::PATCH | Method::PUT => {
            if !ready {
                return Err(api_error(
                    StatusCode::PRECONDITION_FAILED,
                    "conditionNotMet",
                    "User creation is not complete.",
                ));
            }
            check_if_match(req, &obj.data)?;
            let body = req.body.clone().ok_or_else(|| bad_request("Bad Request"))?;
            if let Some(ou) = body["orgUnitPath"].as_str()
                && ou != "/"
                && !t.orgunits.contains_key(ou)
            {
                return Err(bad_request("Invalid Input: INVALID_OU_ID"));
            }
            if let Some(n) = body.get("name") {
                for (k, which) in [("givenName", "GivenName"), ("familyName", "FamilyName")] {
                    if let Some(v) = n.get(k) {
                        check_name_part(v, which)?;
                    }
                }
            }
            if let Some(p) = body.get("password") {
                check_password(p)?;
                let pw = p.as_str().unwrap_or_default();
                t.passwords
                    .insert(key.to_string(), crate::util::sha256_hex(pw.as_bytes()));
            }
            let Some(obj) = t.users.get_mut(key) else {
                return Err(api_not_found("userKey"));
            };
            let d = &mut obj.data;
            if let Some(n) = body.get("name") {
                for k in ["givenName", "familyName"] {
                    if let Some(v) = n.get(k) {
                        d["name"][k] = v.clone();
                    }
                }
                let full = format!(
                    "{} {}",
                    d["name"]["givenName"].as_str().unwrap_or_default(),
                    d["name"]["familyName"].as_str().unwrap_or_default()
                );
                d["name"]["fullName"] = json!(full);
            }
            for k in [
                "orgUnitPath",
                "suspended",
                "externalIds",
                "changePasswordAtNextLogin",
            ] {
                if let Some(v) = body.get(k) {
                    d[k] = v.clone();
                }
            }
            // Output only: who suspended the account. An administrator's suspension
            // reads ADMIN; lifting any suspension clears it.
            match body.get("suspended").and_then(Value::as_bool) {
                Some(true) if d["suspensionReason"].is_null() => {
                    d["suspensionReason"] = json!("ADMIN");
                }
                Some(false) => {
                    if let Some(m) = d.as_object_mut() {
                        m.remove("suspensionReason");
                    }
                }
                _ => {}
            }
            obj.touch();
            Ok((StatusCode::OK, obj.view()))
        }
        Method::DELETE => {
            if !ready {
                return Err(api_not_found("userKey"));
            }
            check_if_match(req, &obj.data)?;
            if let Some(mut gone) = t.users.remove(key) {
                gone.data["deletionTime"] = json!(crate::util::now_rfc3339());
                gone.touch();
                t.deleted.push(gone);
            }
            for m in t.members.values_mut() {
                m.remove(key);
            }
            Ok((StatusCode::NO_CONTENT, Value::Null))
        }
        _ => Err(api_not_found("method")),
    }
}

/// `users.undelete`: a deleted user, named by its id, comes back if its address is free.
fn undelete(t: &mut Tenant, req: &ApiRequest<'_>, key: &str) -> ApiResult {
    if req.method != Method::POST {
        return Err(api_not_found("method"));
    }
    let Some(i) = t
        .deleted
        .iter()
        .position(|o| o.data["id"] == key || o.data["primaryEmail"] == key)
    else {
        return Err(api_not_found("userKey"));
    };
    let email = t.deleted[i].data["primaryEmail"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if t.owner_of(&email).is_some() {
        return Err(conflict());
    }
    let ou = req
        .body
        .as_ref()
        .and_then(|b| b["orgUnitPath"].as_str())
        .unwrap_or("/")
        .to_string();
    if ou != "/" && !t.orgunits.contains_key(&ou) {
        return Err(bad_request("Invalid Input: INVALID_OU_ID"));
    }
    let mut obj = t.deleted.remove(i);
    if let Some(m) = obj.data.as_object_mut() {
        m.remove("deletionTime");
    }
    obj.data["orgUnitPath"] = json!(ou);
    obj.touch();
    t.users.insert(email, obj);
    Ok((StatusCode::NO_CONTENT, Value::Null))
}

/// `users.aliases` and `groups.aliases`: list, insert, delete.
fn aliases(t: &mut Tenant, req: &ApiRequest<'_>, ty: Ty, key: &str, rest: &[&str]) -> ApiResult {
    let Some(obj) = t.objects(ty).get(key).filter(|o| visible(o)) else {
        return Err(api_not_found(if ty == Ty::User {
            "userKey"
        } else {
            "groupKey"
        }));
    };
    let (id, primary) = (obj.data["id"].clone(), json!(key));
    let alias_view = |alias: &str| {
        with_etag(
            &json!({"kind": "admin#directory#alias", "id": id, "primaryEmail": primary, "alias": alias}),
        )
    };
    match (&req.method, rest) {
        (&Method::GET, []) => {
            let items: Vec<Value> = obj.data["aliases"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(alias_view)
                .collect();
            let mut v = json!({"kind": "admin#directory#aliases", "aliases": items});
            v["etag"] = json!(etag_of(&v));
            Ok((StatusCode::OK, v))
        }
        (&Method::POST, []) => {
            let given = req.body.as_ref().map_or(&Value::Null, |b| &b["alias"]);
            if given.as_str().is_none_or(str::is_empty) {
                return Err(bad_request("Invalid Input: alias"));
            }
            let alias = t.address_in_domain(given)?;
            if t.owner_of(&alias).is_some() {
                return Err(conflict());
            }
            let view = alias_view(&alias);
            let Some(obj) = t.object_mut(ty, key) else {
                return Err(api_not_found("alias"));
            };
            match obj.data["aliases"].as_array_mut() {
                Some(list) => list.push(json!(alias)),
                None => obj.data["aliases"] = json!([alias]),
            }
            obj.touch();
            Ok((StatusCode::OK, view))
        }
        (&Method::DELETE, [alias]) => {
            let Some(obj) = t.object_mut(ty, key) else {
                return Err(api_not_found("alias"));
            };
            let list = obj.data["aliases"].as_array_mut();
            let Some(list) = list else {
                return Err(api_not_found("alias"));
            };
            let before = list.len();
            list.retain(|a| !a.as_str().is_some_and(|a| a.eq_ignore_ascii_case(alias)));
            if list.len() == before {
                return Err(api_not_found("alias"));
            }
            obj.touch();
            Ok((StatusCode::NO_CONTENT, Value::Null))
        }
        _ => Err(api_not_found("method")),
    }
}

fn groups(t: &mut Tenant, req: &ApiRequest<'_>) -> ApiResult {
    match req.method {
        Method::GET => {
            let size = page_size(req.query, 200, 200)?;
            // `userKey`: the groups a user (or group) is a direct member of. The
            // discovery document: "Cannot be used with the customer parameter".
            let member_of = match req.query.get("userKey") {
                Some(_) if req.query.contains_key("customer") => {
                    return Err(bad_request("Bad Request"));
                }
                Some(k) => Some(
                    t.owner_of(k)
                        .map(|(_, primary)| primary)
                        .ok_or_else(|| api_not_found("userKey"))?,
                ),
                None => {
                    check_customer(t, req.query)?;
                    None
                }
            };
            let items: Vec<Value> = t
                .groups
                .iter()
                .filter(|(_, o)| visible(o))
                .filter(|(email, _)| {
                    member_of.as_ref().is_none_or(|m| {
                        t.members
                            .get(*email)
                            .is_some_and(|list| list.contains_key(m))
                    })
                })
                .map(|(email, o)| {
                    let mut v = o.data.clone();
                    v["directMembersCount"] =
                        json!(t.members.get(email).map_or(0, BTreeMap::len).to_string());
                    with_etag(&v)
                })
                .collect();
            page_reply("admin#directory#groups", "groups", items, req.query, size)
        }
        Method::POST => {
            let body = req.body.clone().ok_or_else(|| bad_request("Bad Request"))?;
            let email = t.address_in_domain(&body["email"])?;
            if t.owner_of(&email).is_some() {
                return Err(conflict());
            }
            let id = t.id();
            let data = json!({
                "kind": "admin#directory#group",
                "id": id,
                "email": email,
                "name": body["name"].as_str().unwrap_or(&email),
                "description": body["description"].as_str().unwrap_or_default(),
                "adminCreated": true,
            });
            t.members.entry(email.clone()).or_default();
            created(&mut t.groups, email, data, req.visibility)
        }
        _ => Err(api_not_found("method")),
    }
}

fn group(t: &mut Tenant, req: &ApiRequest<'_>, key: &str) -> ApiResult {
    let Some(obj) = t.groups.get(key) else {
        return Err(api_not_found("groupKey"));
    };
    if !visible(obj) {
        return Err(api_not_found("groupKey"));
    }
    match req.method {
        Method::GET => {
            let v = obj.view();
            if req.if_none_match.as_deref() == v["etag"].as_str() {
                return Ok((StatusCode::NOT_MODIFIED, Value::Null));
            }
            Ok((StatusCode::OK, v))
        }
        Method::PATCH | Method::PUT => {
            check_if_match(req, &obj.data)?;
            let body = req.body.clone().ok_or_else(|| bad_request("Bad Request"))?;
            let Some(obj) = t.groups.get_mut(key) else {
                return Err(api_not_found("groupKey"));
            };
            for k in ["name", "description"] {
                if let Some(v) = body.get(k) {
                    obj.data[k] = v.clone();
                }
            }
            obj.touch();
            Ok((StatusCode::OK, obj.view()))
        }
        Method::DELETE => {
            check_if_match(req, &obj.data)?;
            t.groups.remove(key);
            t.members.remove(key);
            for m in t.members.values_mut() {
                m.remove(key);
            }
            Ok((StatusCode::NO_CONTENT, Value::Null))
        }
        _ => Err(api_not_found("method")),
    }
}

const ROLES: [&str; 3] = ["MEMBER", "MANAGER", "OWNER"];

fn members(t: &mut Tenant, req: &ApiRequest<'_>, g: &str) -> ApiResult {
    if !t.groups.get(g).is_some_and(visible) {
        return Err(api_not_found("groupKey"));
    }
    match req.method {
        Method::GET => {
            let size = page_size(req.query, 200, 200)?;
            let roles: Option<Vec<String>> = req.query.get("roles").map(|r| {
                r.split(',')
                    .map(|x| x.trim().to_ascii_uppercase())
                    .collect()
            });
            if let Some(rs) = &roles
                && rs.iter().any(|r| !ROLES.contains(&r.as_str()))
            {
                return Err(bad_request("Invalid Input: roles"));
            }
            let items: Vec<Value> = t
                .members
                .get(g)
                .map(|m| {
                    m.values()
                        .filter(|o| visible(o))
                        .filter(|o| {
                            roles
                                .as_ref()
                                .is_none_or(|rs| rs.iter().any(|r| o.data["role"] == r.as_str()))
                        })
                        .map(Obj::view)
                        .collect()
                })
                .unwrap_or_default();
            page_reply("admin#directory#members", "members", items, req.query, size)
        }
        Method::POST => {
            let body = req.body.clone().ok_or_else(|| bad_request("Bad Request"))?;
            let role = body["role"].as_str().unwrap_or("MEMBER");
            if !ROLES.contains(&role) {
                return Err(bad_request("Invalid Input: role"));
            }
            let given = body["email"]
                .as_str()
                .filter(|e| !e.is_empty())
                .map(str::to_ascii_lowercase);
            // With no email, `id` names the member; the customer's id makes every user
            // of the domain a member (type CUSTOMER).
            let (key, data) = match given {
                None => {
                    let id = body["id"].as_str().unwrap_or_default();
                    if id != t.spec.customer_id {
                        return Err(api_not_found("memberKey"));
                    }
                    (
                        format!("id:{id}"),
                        json!({"kind": "admin#directory#member", "id": id, "role": role, "type": "CUSTOMER"}),
                    )
                }
                Some(email) => {
                    let (kind, id, email) = match t.owner_of(&email) {
                        Some((Ty::User, primary)) => match t.users.get(&primary) {
                            Some(u) if visible(u) => ("USER", u.data["id"].clone(), primary),
                            _ => return Err(api_not_found("memberKey")),
                        },
                        Some((Ty::Group, primary)) => {
                            match t.groups.get(&primary).filter(|o| visible(o)) {
                                Some(gr) => {
                                    if t.group_contains(&primary, g) {
                                        return Err(api_error(
                                            StatusCode::PRECONDITION_FAILED,
                                            "conditionNotMet",
                                            "Cyclic memberships not allowed",
                                        ));
                                    }
                                    ("GROUP", gr.data["id"].clone(), primary)
                                }
                                None => return Err(api_not_found("memberKey")),
                            }
                        }
                        None if t.owns_domain(&email) => {
                            return Err(api_not_found("memberKey"));
                        }
                        None => ("USER", json!(format!("ext-{email}")), email),
                    };
                    (
                        email.clone(),
                        json!({
                            "kind": "admin#directory#member",
                            "id": id,
                            "email": email,
                            "role": role,
                            "type": kind,
                            "status": "ACTIVE",
                        }),
                    )
                }
            };
            let list = t.members.entry(g.to_string()).or_default();
            if list.contains_key(&key) {
                return Err(api_error(
                    StatusCode::CONFLICT,
                    "duplicate",
                    "Member already exists.",
                ));
            }
            created(list, key, data, req.visibility)
        }
        _ => Err(api_not_found("method")),
    }
}

fn member(t: &mut Tenant, req: &ApiRequest<'_>, g: &str, m: &str) -> ApiResult {
    // `memberKey`: the member's address (or an alias of it) or its id.
    let m = m.to_ascii_lowercase();
    let key = match t.members.get(g) {
        Some(list) if list.contains_key(&m) => m.clone(),
        Some(list) => t
            .owner_of(&m)
            .map(|(_, primary)| primary)
            .filter(|p| list.contains_key(p))
            .or_else(|| {
                list.iter()
                    .find(|(_, o)| o.data["id"] == m.as_str())
                    .map(|(k, _)| k.clone())
            })
            .unwrap_or(m.clone()),
        None => return Err(api_not_found("groupKey")),
    };
    let Some(list) = t.members.get_mut(g) else {
        return Err(api_not_found("groupKey"));
    };
    let Some(obj) = list.get_mut(&key).filter(|o| visible(o)) else {
        return Err(api_not_found("memberKey"));
    };
    match req.method {
        Method::GET => Ok((StatusCode::OK, obj.view())),
        Method::PATCH | Method::PUT => {
            check_if_match(req, &obj.data)?;
            if let Some(role) = req.body.as_ref().and_then(|b| b["role"].as_str()) {
                if !ROLES.contains(&role) {
                    return Err(bad_request("Invalid Input: role"));
                }
                obj.data["role"] = json!(role);
            }
            obj.touch();
            Ok((StatusCode::OK, obj.view()))
        }
        Method::DELETE => {
            check_if_match(req, &obj.data)?;
            list.remove(&key);
            Ok((StatusCode::NO_CONTENT, Value::Null))
        }
        _ => Err(api_not_found("method")),
    }
}

fn orgunits(t: &mut Tenant, req: &ApiRequest<'_>) -> ApiResult {
    match req.method {
        Method::GET => {
            let ty = req.query.get("type").map_or("children", String::as_str);
            let base = req
                .query
                .get("orgUnitPath")
                .cloned()
                .unwrap_or_else(|| "/".into());
            let base = if base.starts_with('/') {
                base
            } else {
                format!("/{base}")
            };
            let items: Vec<Value> = t
                .orgunits
                .iter()
                .filter(|(_, o)| visible(o))
                .filter(|(path, _)| {
                    let under = base == "/"
                        || path.starts_with(&format!("{base}/"))
                        || (ty == "allIncludingParent" && **path == base);
                    let child = path
                        .rsplit_once('/')
                        .map(|(p, _)| if p.is_empty() { "/" } else { p })
                        == Some(base.as_str());
                    match ty {
                        "children" => child,
                        "all" | "allIncludingParent" => under,
                        _ => false,
                    }
                })
                .map(|(_, o)| o.view())
                .collect();
            let mut v = json!({"kind": "admin#directory#orgUnits", "organizationUnits": items});
            v["etag"] = json!(etag_of(&v));
            Ok((StatusCode::OK, v))
        }
        Method::POST => {
            let body = req.body.clone().ok_or_else(|| bad_request("Bad Request"))?;
            let name = body["name"].as_str().unwrap_or_default();
            if name.is_empty() || name.contains('/') {
                return Err(bad_request("Invalid Ou Name"));
            }
            let parent = body["parentOrgUnitPath"].as_str().unwrap_or("/");
            if parent != "/" && !t.orgunits.contains_key(parent) {
                return Err(bad_request("Invalid Parent Orgunit"));
            }
            let path = if parent == "/" {
                format!("/{name}")
            } else {
                format!("{parent}/{name}")
            };
            // Google answers a duplicate create with 400 or 409, both "Invalid Ou Id"
            // (the words it uses for a bad path too): the lab answers 400.
            if t.orgunits.contains_key(&path) {
                return Err(bad_request("Invalid Ou Id"));
            }
            let id = format!("id:{}", t.id());
            let parent_id = t
                .orgunits
                .get(parent)
                .map_or(json!("id:root"), |p| p.data["orgUnitId"].clone());
            let data = json!({
                "kind": "admin#directory#orgUnit",
                "name": name,
                "description": body["description"].as_str().unwrap_or_default(),
                "orgUnitPath": path,
                "orgUnitId": id,
                "parentOrgUnitPath": parent,
                "parentOrgUnitId": parent_id,
                "blockInheritance": false,
            });
            created(&mut t.orgunits, path, data, req.visibility)
        }
        _ => Err(api_not_found("method")),
    }
}

fn orgunit(t: &mut Tenant, req: &ApiRequest<'_>, path: &str) -> ApiResult {
    let Some(obj) = t.orgunits.get(path).filter(|o| visible(o)) else {
        return Err(api_not_found("orgunit"));
    };
    match req.method {
        Method::GET => Ok((StatusCode::OK, obj.view())),
        Method::PATCH | Method::PUT => {
            check_if_match(req, &obj.data)?;
            let body = req.body.clone().ok_or_else(|| bad_request("Bad Request"))?;
            let Some(obj) = t.orgunits.get_mut(path) else {
                return Err(api_not_found("orgunit"));
            };
            if let Some(v) = body.get("description") {
                obj.data["description"] = v.clone();
            }
            obj.touch();
            Ok((StatusCode::OK, obj.view()))
        }
        Method::DELETE => {
            check_if_match(req, &obj.data)?;
            let prefix = format!("{path}/");
            let busy = t.orgunits.keys().any(|k| k.starts_with(&prefix))
                || t.users.values().any(|u| u.data["orgUnitPath"] == path);
            if busy {
                return Err(bad_request("Org unit contains users or sub-units"));
            }
            t.orgunits.remove(path);
            Ok((StatusCode::NO_CONTENT, Value::Null))
        }
        _ => Err(api_not_found("method")),
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn url_decode_form(q: &str) -> HashMap<String, String> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (
                percent_decode(&k.replace('+', " ")),
                percent_decode(&v.replace('+', " ")),
            )
        })
        .collect()
}

/// Binds on loopback and serves in the background; returns the address.
pub async fn start(lab: Arc<Lab>, port: u16) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = lab.serve(listener).await;
    });
    Ok(addr)
}
