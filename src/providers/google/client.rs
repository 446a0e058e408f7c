//! HTTP to the Directory API: tokens, concurrency bounds, retries with backoff.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::sync::{Mutex, Semaphore};

use super::auth::ServiceAccount;
use super::config::GoogleConfig;

#[derive(Debug, thiserror::Error)]
pub enum GoogleError {
    #[error("{method} {path}: HTTP {status}: {message}")]
    Http {
        method: String,
        path: String,
        status: u16,
        message: String,
    },
    #[error("{method} {path}: {message}")]
    Transport {
        method: String,
        path: String,
        message: String,
    },
    #[error("{method} {path}: still failing after retrying for {secs} s: {last}")]
    GaveUp {
        method: String,
        path: String,
        secs: u64,
        last: String,
    },
    /// Nothing answers at the address at all (refused, or no such host): retrying for
    /// minutes would not help, so this fails within seconds.
    #[error("cannot reach {url}: {message}{}", unreachable_hint(url))]
    Unreachable { url: String, message: String },
    #[error("authentication failed: {0}")]
    Auth(String),
    /// Steward will not make this change: it would touch what it does not own, or the
    /// tenant is not set up as Steward needs. The message says why and what to do.
    #[error("{0}")]
    Refused(String),
    #[error("service-account key: {0}")]
    Key(#[from] super::auth::KeyError),
    #[error("unexpected response from {path}: {message}")]
    Shape { path: String, message: String },
}

/// Counters of requests sent, for `--stats` and the benchmark.
#[derive(Debug, Default)]
pub struct Stats {
    pub token: AtomicU64,
    pub list: AtomicU64,
    pub write: AtomicU64,
    pub other: AtomicU64,
    pub retries: AtomicU64,
}

impl Stats {
    pub fn total(&self) -> u64 {
        self.token.load(Ordering::Relaxed)
            + self.list.load(Ordering::Relaxed)
            + self.write.load(Ordering::Relaxed)
            + self.other.load(Ordering::Relaxed)
    }
}

/// Shared by every org: one connection pool and one global in-flight bound.
#[derive(Debug)]
pub struct Http {
    pub client: reqwest::Client,
    pub config: GoogleConfig,
    pub global: Arc<Semaphore>,
    pub stats: Arc<Stats>,
}

impl Http {
    pub fn new(config: &GoogleConfig) -> Result<Arc<Self>, GoogleError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.request_timeout_secs))
            .pool_max_idle_per_host(config.max_in_flight)
            .user_agent(concat!("steward/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| GoogleError::Transport {
                method: "INIT".into(),
                path: String::new(),
                message: e.to_string(),
            })?;
        Ok(Arc::new(Http {
            client,
            config: config.clone(),
            global: Arc::new(Semaphore::new(config.max_in_flight)),
            stats: Arc::new(Stats::default()),
        }))
    }
}

/// A reply the caller decides about: any status that is not retried. `body` is parsed
/// only for errors; successful replies keep their text for typed parsing.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub text: String,
}

/// One page of a list call; the items' key differs per resource.
#[derive(serde::Deserialize)]
struct Page<T> {
    #[serde(
        default = "Vec::new",
        alias = "users",
        alias = "groups",
        alias = "members",
        alias = "organizationUnits"
    )]
    items: Vec<T>,
    #[serde(default, rename = "nextPageToken")]
    next: Option<String>,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct CallOpts {
    /// Retry 404 and "creation not complete": Google is eventually consistent right
    /// after a create.
    pub retry_not_found: bool,
}

/// One org's connection: its credentials, token cache and per-org bound.
pub struct Session {
    http: Arc<Http>,
    account: ServiceAccount,
    subject: String,
    token: Mutex<Option<(String, Instant)>>,
    per_org: Semaphore,
    /// Requests this org's session sent (tokens included), and how many were retries:
    /// for `-vv`.
    sent: AtomicU64,
    retried: AtomicU64,
}

impl Session {
    /// (requests sent, of which retries) so far.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.sent.load(Ordering::Relaxed),
            self.retried.load(Ordering::Relaxed),
        )
    }

    pub fn new(http: Arc<Http>, account: ServiceAccount, subject: &str) -> Self {
        let per_org = Semaphore::new(http.config.per_org_in_flight);
        Session {
            http,
            account,
            subject: subject.to_string(),
            token: Mutex::new(None),
            per_org,
            sent: AtomicU64::new(0),
            retried: AtomicU64::new(0),
        }
    }

    /// How long failing requests are retried (`retry_for_secs`).
    pub fn retry_for(&self) -> Duration {
        Duration::from_secs(self.http.config.retry_for_secs)
    }

    /// The service account this session signs in as.
    pub fn client_email(&self) -> &str {
        &self.account.client_email
    }

    /// A cached access token, fetched once and reused until shortly before it expires.
    async fn token(&self) -> Result<String, GoogleError> {
        let mut guard = self.token.lock().await;
        if let Some((token, until)) = guard.as_ref()
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
        let url = &self.http.config.token_url;
        let started = Instant::now();
        let deadline = started + Duration::from_secs(self.http.config.retry_for_secs);
        let mut attempt = 0u32;
        let mut unreachable = ConnectFailures(None);
        loop {
            let assertion = self
                .account
                .assertion(&self.subject, url, crate::util::unix_now())?;
            let form = [
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", assertion.as_str()),
            ];
            self.http.stats.token.fetch_add(1, Ordering::Relaxed);
            self.sent.fetch_add(1, Ordering::Relaxed);
            let result = {
                let _g = self.http.global.acquire().await;
                self.http.client.post(url).form(&form).send().await
            };
            let retry_reason = match result {
                Ok(resp) => {
                    let status = resp.status();
                    let retry_after = retry_after(&resp);
                    let body: Value = resp.json().await.unwrap_or(Value::Null);
                    if status.is_success() {
                        let token = body["access_token"].as_str().ok_or_else(|| {
                            GoogleError::Auth("token endpoint returned no access_token".into())
                        })?;
                        let ttl = body["expires_in"].as_u64().unwrap_or(3600);
                        let until = Instant::now() + Duration::from_secs(ttl.saturating_sub(60));
                        *guard = Some((token.to_string(), until));
                        return Ok(token.to_string());
                    }
                    if !retryable(status, &body) {
                        // OAuth's error code (`unauthorized_client`, `invalid_grant`)
                        // says which set-up mistake it is; the description says more.
                        let code = body["error"].as_str().unwrap_or("error");
                        let why = body["error_description"].as_str().unwrap_or("no detail");
                        return Err(GoogleError::Auth(format!(
                            "token endpoint answered HTTP {}: {code}: {why}",
                            status.as_u16()
                        )));
                    }
                    (format!("HTTP {}", status.as_u16()), retry_after)
                }
                Err(e) => {
                    if let Some(give_up) = unreachable.give_up(&e, url) {
                        return Err(give_up);
                    }
                    (transport_message(e), None)
                }
            };
            attempt += 1;
            tracing::debug!(attempt, reason = %retry_reason.0, "token request will be retried");
            if !self.backoff(attempt, retry_reason.1, deadline).await {
                return Err(GoogleError::GaveUp {
                    method: "POST".into(),
                    path: "token".into(),
                    secs: self.http.config.retry_for_secs,
                    last: retry_reason.0,
                });
            }
        }
    }

    /// Sleeps before retry number `attempt`: exponential with full jitter, or what the
    /// server asked for. False when the retry would end past the deadline.
    async fn backoff(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        deadline: Instant,
    ) -> bool {
        self.http.stats.retries.fetch_add(1, Ordering::Relaxed);
        self.retried.fetch_add(1, Ordering::Relaxed);
        let cap = Duration::from_millis(100u64.saturating_mul(1 << attempt.min(7)).min(10_000));
        let wait = retry_after.unwrap_or_else(|| cap.mul_f64(jitter()));
        if Instant::now() + wait > deadline {
            return false;
        }
        tokio::time::sleep(wait).await;
        true
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        opts: CallOpts,
    ) -> Result<Reply, GoogleError> {
        self.call_if(method, path, query, body, opts, None).await
    }

    /// As [`Session::call`], sent with `If-Match: etag` when given: the write happens
    /// only if the object is still as it was read (412 otherwise).
    pub async fn call_if(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        opts: CallOpts,
        if_match: Option<&str>,
    ) -> Result<Reply, GoogleError> {
        let url = format!(
            "{}/{}",
            self.http.config.api_url.trim_end_matches('/'),
            path
        );
        let deadline = Instant::now() + Duration::from_secs(self.http.config.retry_for_secs);
        let mut attempt = 0u32;
        let mut unreachable = ConnectFailures(None);
        loop {
            let token = self.token().await?;
            let counter = match (
                &method,
                query
                    .iter()
                    .any(|(k, _)| *k == "maxResults" || *k == "type"),
            ) {
                (&Method::GET, true) => &self.http.stats.list,
                (&Method::GET, false) => &self.http.stats.other,
                _ => &self.http.stats.write,
            };
            counter.fetch_add(1, Ordering::Relaxed);
            self.sent.fetch_add(1, Ordering::Relaxed);
            let mut req = self
                .http
                .client
                .request(method.clone(), &url)
                .bearer_auth(&token)
                .query(query);
            if let Some(b) = body {
                req = req.json(b);
            }
            if let Some(tag) = if_match {
                req = req.header(reqwest::header::IF_MATCH, tag);
            }
            let result = {
                let _org = self.per_org.acquire().await;
                let _all = self.http.global.acquire().await;
                req.send().await
            };
            let (reason, after) = match result {
                Ok(resp) => {
                    let status = resp.status();
                    let after = retry_after(&resp);
                    let text = resp.text().await.unwrap_or_default();
                    let body: Value = if text.is_empty() || status.is_success() {
                        Value::Null
                    } else {
                        serde_json::from_str(&text).unwrap_or(Value::Null)
                    };
                    let not_ready = opts.retry_not_found
                        && (status == StatusCode::NOT_FOUND
                            || (status == StatusCode::PRECONDITION_FAILED
                                && message(&body).contains("not complete")));
                    if status == StatusCode::UNAUTHORIZED && attempt == 0 {
                        // The token may have been revoked or expired early: fetch anew once.
                        *self.token.lock().await = None;
                        attempt += 1;
                        continue;
                    }
                    if !retryable(status, &body) && !not_ready {
                        return Ok(Reply { status, body, text });
                    }
                    (
                        format!("HTTP {}: {}", status.as_u16(), message(&body)),
                        after,
                    )
                }
                Err(e) => {
                    if let Some(give_up) = unreachable.give_up(&e, &url) {
                        return Err(give_up);
                    }
                    (transport_message(e), None)
                }
            };
            attempt += 1;
            tracing::debug!(%method, path, attempt, %reason, "request will be retried");
            if !self.backoff(attempt, after, deadline).await {
                return Err(GoogleError::GaveUp {
                    method: method.to_string(),
                    path: path.to_string(),
                    secs: self.http.config.retry_for_secs,
                    last: reason,
                });
            }
        }
    }

    /// A call that must succeed (2xx).
    pub async fn ok(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        opts: CallOpts,
    ) -> Result<Value, GoogleError> {
        let reply = self.call(method.clone(), path, query, body, opts).await?;
        if reply.status.is_success() {
            Ok(serde_json::from_str(&reply.text).unwrap_or(Value::Null))
        } else {
            Err(http_error(&method, path, &reply))
        }
    }

    /// Every item of a paged list, following `nextPageToken`, parsed straight into
    /// `T` (no intermediate JSON tree: lists are most of what a refresh reads).
    pub async fn list<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Vec<T>, GoogleError> {
        let mut items = Vec::new();
        let mut page_token: Option<String> = None;
        loop {
            let mut q = query.to_vec();
            if let Some(p) = &page_token {
                q.push(("pageToken", p.clone()));
            }
            let reply = self
                .call(Method::GET, path, &q, None, CallOpts::default())
                .await?;
            if !reply.status.is_success() {
                return Err(http_error(&Method::GET, path, &reply));
            }
            let page: Page<T> =
                serde_json::from_str(&reply.text).map_err(|e| GoogleError::Shape {
                    path: path.to_string(),
                    message: e.to_string(),
                })?;
            items.extend(page.items);
            match page.next {
                Some(t) if !t.is_empty() => page_token = Some(t),
                _ => return Ok(items),
            }
        }
    }
}

pub fn http_error(method: &Method, path: &str, reply: &Reply) -> GoogleError {
    GoogleError::Http {
        method: method.to_string(),
        path: path.to_string(),
        status: reply.status.as_u16(),
        message: message(&reply.body).to_string(),
    }
}

/// Google's error message, `{"error": {"message": ...}}`, or the OAuth form.
pub fn message(body: &Value) -> &str {
    body["error"]["message"]
        .as_str()
        .or(body["error_description"].as_str())
        .or(body["error"].as_str())
        .unwrap_or("no detail")
}

fn reason(body: &Value) -> &str {
    body["error"]["errors"][0]["reason"].as_str().unwrap_or("")
}

/// 429, 5xx, and the 403s Google uses for quota: all worth retrying.
fn retryable(status: StatusCode, body: &Value) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
        || (status == StatusCode::FORBIDDEN
            && matches!(
                reason(body),
                "rateLimitExceeded" | "userRateLimitExceeded" | "quotaExceeded"
            ))
}

fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    let v = resp.headers().get(reqwest::header::RETRY_AFTER)?;
    let secs: f64 = v.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs_f64(secs.clamp(0.0, 60.0)))
}

/// How long connection failures are retried: a refused connection or an unknown host
/// is not a rate limit, and minutes of retries would only hide it.
const CONNECT_BUDGET: Duration = Duration::from_secs(3);

/// Scheme, host and port of a URL: what people check, without paths or query values.
fn origin(url: &str) -> String {
    reqwest::Url::parse(url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_else(|_| url.to_string())
}

/// What to do about an address nothing answers at.
fn unreachable_hint(url: &str) -> String {
    let host = reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default();
    if matches!(host.as_str(), "127.0.0.1" | "localhost" | "[::1]" | "::1") {
        "\n  nothing listens there: if it is the lab, start it with `steward lab serve` (in another terminal) and export the STEWARD_GOOGLE_URL it prints".into()
    } else {
        "\n  check google.api_url and google.token_url in steward.yaml (or STEWARD_GOOGLE_URL) and this machine's network".into()
    }
}

/// A connection failure the retry loops give up on at once once it has lasted
/// [`CONNECT_BUDGET`].
struct ConnectFailures(Option<Instant>);

impl ConnectFailures {
    /// Records `e`; `Some(error)` when it is a connection failure that has gone on too long.
    fn give_up(&mut self, e: &reqwest::Error, url: &str) -> Option<GoogleError> {
        if !e.is_connect() {
            self.0 = None;
            return None;
        }
        let since = *self.0.get_or_insert_with(Instant::now);
        (since.elapsed() >= CONNECT_BUDGET).then(|| GoogleError::Unreachable {
            url: origin(url),
            message: connect_message(e),
        })
    }
}

/// Why a connection failed, in a few words (refused, no such host), without the URL.
fn connect_message(e: &reqwest::Error) -> String {
    let mut source: Option<&dyn std::error::Error> = Some(e);
    let mut deepest = String::new();
    while let Some(err) = source {
        deepest = err.to_string();
        source = err.source();
    }
    if deepest.is_empty() {
        "could not connect".into()
    } else {
        format!("could not connect ({deepest})")
    }
}

fn transport_message(e: reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "could not connect".into()
    } else {
        // Without the URL: it may carry query values.
        e.without_url().to_string()
    }
}

/// A number in [0.5, 1.0) that differs between calls and processes.
fn jitter() -> f64 {
    let mut b = [0u8; 4];
    if openssl::rand::rand_bytes(&mut b).is_err() {
        return 0.75;
    }
    0.5 + f64::from(u32::from_le_bytes(b)) / f64::from(u32::MAX) / 2.0
}
