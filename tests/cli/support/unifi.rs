//! A pool whose Wi-Fi is on the lab's UniFi controller, and what tests do to that
//! controller behind Steward's back: its own `/_lab/` calls, and an admin's edits over
//! the controller's API (as its web UI makes them).

use serde_json::{Value, json};

use super::Env;

/// The `unifi:` part of steward.yaml the lab reads too.
pub const SETTINGS: &str = "unifi:
  url: https://unifi.pool.example:8443
  fingerprint: \"00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\"
  username: steward
  password: secret:unifi-password
  api_key: secret:unifi-api-key
  request_timeout_secs: 5
";

/// An org whose Wi-Fi is on the controller: a staff network and a guest one on a VLAN.
pub fn org(id: &str) -> String {
    format!(
        "org: {id}
name: {id} community
contacts:
  - {{name: Office manager, email: office@{id}.example, reports: true}}
modules:
  base: {{}}
  wifi:
    backend: unifi
    networks:
      - ssid: {id} staff
        security: wpa2-wpa3
        passphrase: secret:{id}/staff-wifi
      - ssid: {id} guests
        passphrase: secret:{id}/guest-wifi
        guest: true
        vlan: 20
"
    )
}

pub fn staff_passphrase(id: &str) -> String {
    format!("{id}-staff-passphrase-8841")
}

/// A pool with the lab serving a controller (classic, or UniFi OS) and `orgs` on it.
pub fn pool(orgs: &[&str], unifi_os: bool) -> Env {
    let mut env = Env::new();
    let pool = env.read("steward.yaml");
    env.write("steward.yaml", &format!("{pool}{SETTINGS}"));
    for id in orgs {
        env.write(&format!("orgs/{id}.yaml"), &org(id));
        env.write(&format!("secrets/{id}/staff-wifi"), &staff_passphrase(id));
        env.write(
            &format!("secrets/{id}/guest-wifi"),
            &format!("{id}-guest-passphrase-1209"),
        );
    }
    env.start_lab(&[]);
    if unifi_os {
        env.unifi_lab("POST", "controller", json!({"unifi_os": true}));
    }
    env
}

/// A client of the lab controller. Tests reach it as its admin would; Steward's own
/// pinning is what the tests check, not this client's.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

fn block<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

impl Env {
    pub fn unifi_url(&self) -> String {
        self.extra_env
            .iter()
            .find(|(k, _)| k == "STEWARD_UNIFI_URL")
            .map(|(_, v)| v.clone())
            .expect("the lab serves a UniFi controller")
    }

    /// One of the lab's own calls (`devices`, `faults`, `controller`, `stats`, `sites`);
    /// returns `data`.
    pub fn unifi_lab(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}/_lab/{path}", self.unifi_url());
        block(async {
            let req = match method {
                "GET" => client().get(url),
                _ => client().post(url).json(&body),
            };
            let reply: Value = req
                .send()
                .await
                .expect("lab call")
                .json()
                .await
                .expect("json");
            reply["data"].clone()
        })
    }

    /// The lab controller's sites with their broadcasts, networks and devices.
    pub fn unifi_site(&self, desc: &str) -> Option<Value> {
        self.unifi_lab("GET", "sites", Value::Null)
            .as_array()?
            .iter()
            .find(|s| s["desc"] == desc)
            .cloned()
    }

    /// Requests the controller served, by kind (`login`, `read`, `write`).
    pub fn unifi_requests(&self, kind: &str) -> u64 {
        self.unifi_lab("GET", "stats", Value::Null)[0][kind]
            .as_u64()
            .unwrap_or(0)
    }

    /// An admin's call through the controller's classic API, logged in as the pool's
    /// user, on either flavour: `path` as a classic controller has it (`/api/s/…`).
    pub fn unifi_admin(&self, method: &str, path: &str, body: Value) -> Value {
        let base = self.unifi_url();
        let password = self.read("secrets/unifi-password");
        block(async {
            let c = client();
            let root = c.get(format!("{base}/")).send().await.expect("GET /");
            // A UniFi OS console answers its root; a classic controller redirects.
            let os = root.status().is_success();
            let login = if os { "/api/auth/login" } else { "/api/login" };
            let reply = c
                .post(format!("{base}{login}"))
                .json(&json!({"username": "steward", "password": password.trim()}))
                .send()
                .await
                .expect("login");
            assert!(
                reply.status().is_success(),
                "admin login: {}",
                reply.status()
            );
            let cookies: Vec<String> = reply
                .headers()
                .get_all("set-cookie")
                .iter()
                .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_string))
                .collect();
            let csrf = reply
                .headers()
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let prefix = if os { "/proxy/network" } else { "" };
            let url = format!("{base}{prefix}{path}");
            let mut req = match method {
                "GET" => c.get(url),
                "PUT" => c.put(url).json(&body),
                "DELETE" => c.delete(url),
                _ => c.post(url).json(&body),
            };
            req = req.header("cookie", cookies.join("; "));
            if let Some(t) = csrf {
                req = req.header("x-csrf-token", t);
            }
            let reply: Value = req.send().await.expect("call").json().await.expect("json");
            reply
        })
    }

    /// The id of broadcast `ssid` in the site described `desc`.
    pub fn unifi_wlan_id(&self, desc: &str, ssid: &str) -> (String, String) {
        let site = self.unifi_site(desc).expect("site");
        let id = site["wlans"]
            .as_array()
            .and_then(|ws| ws.iter().find(|w| w["name"] == ssid))
            .and_then(|w| w["_id"].as_str())
            .expect("broadcast")
            .to_string();
        (site["name"].as_str().expect("name").to_string(), id)
    }
}
