//! The UniFi controller lab as a client sees it: HTTPS with a certificate to pin, the
//! classic login and its cookies, sites, and Wi-Fi broadcasts held to the controller's
//! field definitions. (The provider that uses it is being built.)

use serde_json::{Value, json};
use steward::lab::unifi::{self, Site, Spec};

fn spec(unifi_os: bool) -> Spec {
    let mut riverside = Site::new(
        "5f0000000000000000000002",
        "k3n8w2q1",
        "Riverside Food Bank",
    );
    riverside.devices = vec![
        json!({"_id": "d1", "mac": "74:83:c2:00:00:01", "name": "Hall AP", "type": "uap", "adopted": true, "state": 1, "upgradable": false}),
        json!({"_id": "d2", "mac": "74:83:c2:00:00:02", "name": "Office AP", "type": "uap", "adopted": true, "state": 0, "upgradable": true}),
    ];
    let mut spec = Spec::new(
        "steward",
        "lab-password-7",
        unifi_os,
        Some("lab-api-key-31".into()),
    );
    spec.sites.push(riverside);
    spec.version = "10.4.57".into();
    spec
}

/// A client that trusts only the lab's certificate (pinned, as Steward will) and
/// follows no redirect, reaching the lab as `localhost`.
fn pinned_client(addr: std::net::SocketAddr, cert: &unifi::Certificate) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.pem.as_bytes()).expect("pem"))
        .redirect(reqwest::redirect::Policy::none())
        .resolve("localhost", addr)
        .build()
        .expect("client")
}

#[test]
fn the_controller_lab_speaks_the_classic_api_over_pinned_https() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let (addr, cert) = unifi::start(spec(false), 0).await.expect("lab starts");
        let base = format!("https://localhost:{}", addr.port());
        assert_eq!(cert.sha256.split(':').count(), 32, "{}", cert.sha256);
        // A client that does not trust the certificate gets nothing.
        let stranger = reqwest::Client::new();
        assert!(stranger.get(format!("{base}/api/self/sites")).send().await.is_err());
        let client = pinned_client(addr, &cert);
        // A classic controller redirects `/` (a UniFi OS console answers 200).
        let root = client.get(format!("{base}/")).send().await.expect("GET /");
        assert_eq!(root.status(), 302);
        assert_eq!(root.headers()["location"], "/manage");
        let call = |method: reqwest::Method, path: &str, body: Option<Value>, cookie: &str| {
            let mut req = client.request(method, format!("{base}{path}"));
            if !cookie.is_empty() {
                req = req.header("Cookie", cookie);
                // The classic controller's CSRF token is its `csrf_token` cookie.
                let token = cookie
                    .split("; ")
                    .find_map(|c| c.strip_prefix("csrf_token="))
                    .unwrap_or("");
                req = req.header("X-Csrf-Token", token);
            }
            if let Some(b) = body {
                req = req.json(&b);
            }
            async move {
                let r = req.send().await.expect("request");
                let status = r.status().as_u16();
                let cookies: Vec<String> = r
                    .headers()
                    .get_all("set-cookie")
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .map(|v| v.split(';').next().unwrap_or("").to_string())
                    .collect();
                let body: Value = r.json().await.unwrap_or(Value::Null);
                (status, body, cookies.join("; "))
            }
        };
        use reqwest::Method as M;
        let (status, body, _) = call(M::GET, "/api/self/sites", None, "").await;
        assert_eq!((status, body["meta"]["msg"].clone()), (401, json!("api.err.LoginRequired")));
        let (status, body, _) = call(
            M::POST,
            "/api/login",
            Some(json!({"username": "steward", "password": "wrong"})),
            "",
        )
        .await;
        assert_eq!((status, body["meta"]["rc"].clone()), (400, json!("error")));
        let (status, body, cookie) = call(
            M::POST,
            "/api/login",
            Some(json!({"username": "steward", "password": "lab-password-7"})),
            "",
        )
        .await;
        assert_eq!((status, body["meta"]["rc"].clone()), (200, json!("ok")));
        assert!(cookie.contains("unifises=") && cookie.contains("csrf_token="), "{cookie}");
        let (_, sites, _) = call(M::GET, "/api/self/sites", None, &cookie).await;
        let names: Vec<&str> = sites["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["name"].as_str())
            .collect();
        assert_eq!(names, ["default", "k3n8w2q1"]);
        // A passphrase the controller would refuse, then one it takes.
        let wlans = "/api/s/k3n8w2q1/rest/wlanconf";
        let staff = |pass: &str| json!({"name": "Staff", "security": "wpapsk", "x_passphrase": pass, "enabled": true});
        let (status, body, _) = call(M::POST, wlans, Some(staff("short")), &cookie).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["meta"]["msg"], "api.err.Invalid");
        assert_eq!(body["meta"]["validationError"]["field"], "x_passphrase");
        let (status, body, _) = call(M::POST, wlans, Some(staff("a good passphrase")), &cookie).await;
        assert_eq!(status, 200, "{body}");
        let id = body["data"][0]["_id"].as_str().unwrap_or_default().to_string();
        assert_eq!(body["data"][0]["site_id"], "5f0000000000000000000002");
        let (status, body, _) = call(
            M::PUT,
            &format!("{wlans}/{id}"),
            Some(json!({"name": "Staff 2", "vlan": 4096})),
            &cookie,
        )
        .await;
        assert_eq!((status, body["meta"]["validationError"]["field"].clone()), (400, json!("vlan")));
        let (status, _, _) =
            call(M::PUT, &format!("{wlans}/{id}"), Some(json!({"name": "Staff 2"})), &cookie).await;
        assert_eq!(status, 200);
        let (_, list, _) = call(M::GET, wlans, None, &cookie).await;
        assert_eq!(list["data"][0]["name"], "Staff 2");
        assert_eq!(list["data"][0]["x_passphrase"], "a good passphrase");
        let (status, _, _) = call(M::DELETE, &format!("{wlans}/{id}"), None, &cookie).await;
        assert_eq!(status, 200);
        let (_, list, _) = call(M::GET, wlans, None, &cookie).await;
        assert_eq!(list["data"], json!([]));
        let (status, body, _) = call(M::GET, "/api/s/nosuch/rest/wlanconf", None, &cookie).await;
        assert_eq!((status, body["meta"]["msg"].clone()), (400, json!("api.err.NoSiteContext")));
        // Networks are held to their own definitions; devices are listed with their state.
        let networks = "/api/s/k3n8w2q1/rest/networkconf";
        let (status, body, _) = call(
            M::POST,
            networks,
            Some(json!({"name": "Guests", "purpose": "guest", "vlan_enabled": true, "vlan": 4095})),
            &cookie,
        )
        .await;
        assert_eq!((status, body["meta"]["validationError"]["field"].clone()), (400, json!("vlan")));
        let (status, _, _) = call(
            M::POST,
            networks,
            Some(json!({"name": "Guests", "purpose": "guest", "vlan_enabled": true, "vlan": 40})),
            &cookie,
        )
        .await;
        assert_eq!(status, 200);
        let (_, devices, _) = call(M::GET, "/api/s/k3n8w2q1/stat/device", None, &cookie).await;
        assert_eq!(devices["data"][1]["state"], 0);
        assert_eq!(devices["data"][1]["upgradable"], true);
        // A new site gets a short name of its own.
        let (status, body, _) = call(
            M::POST,
            "/api/s/default/cmd/sitemgr",
            Some(json!({"cmd": "add-site", "desc": "Hillside Youth Club"})),
            &cookie,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let name = body["data"][0]["name"].as_str().unwrap_or_default().to_string();
        assert_eq!(name.len(), 8, "{body}");
        let (_, sites, _) = call(M::GET, "/api/self/sites", None, &cookie).await;
        assert_eq!(sites["data"][2]["desc"], "Hillside Youth Club");
        let (status, _, _) = call(M::POST, "/api/logout", None, &cookie).await;
        assert_eq!(status, 200);
        let (status, _, _) = call(M::GET, "/api/self/sites", None, &cookie).await;
        assert_eq!(status, 401);
    });
}

#[test]
fn the_unifi_os_flavour_answers_its_root_logs_in_with_a_token_and_proxies_the_api() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let (addr, cert) = unifi::start(spec(true), 0).await.expect("lab starts");
        let base = format!("https://localhost:{}", addr.port());
        let client = pinned_client(addr, &cert);
        let root = client.get(format!("{base}/")).send().await.expect("GET /");
        assert_eq!(root.status(), 200);
        let classic = client
            .post(format!("{base}/api/login"))
            .json(&json!({"username": "steward", "password": "lab-password-7"}))
            .send()
            .await
            .expect("classic login");
        assert_ne!(classic.status(), 200, "UniFi OS has no /api/login");
        let login = client
            .post(format!("{base}/api/auth/login"))
            .json(&json!({"username": "steward", "password": "lab-password-7"}))
            .send()
            .await
            .expect("login");
        assert_eq!(login.status(), 200);
        let csrf = login.headers()["x-csrf-token"].to_str().expect("csrf").to_string();
        let token = login
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|c| c.split(';').next().filter(|c| c.starts_with("TOKEN=")))
            .expect("TOKEN cookie")
            .to_string();
        let sites: Value = client
            .get(format!("{base}/proxy/network/api/self/sites"))
            .header("Cookie", &token)
            .send()
            .await
            .expect("sites")
            .json()
            .await
            .expect("json");
        assert_eq!(sites["data"][1]["name"], "k3n8w2q1");
        let created = client
            .post(format!("{base}/proxy/network/api/s/k3n8w2q1/rest/wlanconf"))
            .header("Cookie", &token)
            .header("X-CSRF-Token", &csrf)
            .json(&json!({"name": "Staff", "security": "wpapsk", "x_passphrase": "a good passphrase"}))
            .send()
            .await
            .expect("create");
        assert_eq!(created.status(), 200);
        // A write without the session's CSRF token is refused.
        let no_csrf = client
            .post(format!("{base}/proxy/network/api/s/k3n8w2q1/rest/wlanconf"))
            .header("Cookie", &token)
            .json(&json!({"name": "Guests", "security": "open"}))
            .send()
            .await
            .expect("request");
        assert_eq!(no_csrf.status(), 403);
        let unproxied = client
            .get(format!("{base}/api/self/sites"))
            .header("Cookie", &token)
            .send()
            .await
            .expect("unproxied");
        assert_eq!(unproxied.status(), 404);
    });
}

#[test]
fn an_open_source_unifi_client_works_against_the_lab_unchanged() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    for (unifi_os, flavour) in [(false, "v5"), (true, "UDMP-unifiOS")] {
        let mut s = spec(unifi_os);
        s.sites[1].wlans = vec![json!({"_id": "w1", "name": "Staff", "security": "wpapsk"})];
        let (addr, cert) = rt.block_on(unifi::start(s, 0)).expect("lab starts");
        let dir = tempfile::tempdir().expect("tempdir");
        let cert_file = dir.path().join("controller.pem");
        std::fs::write(&cert_file, &cert.pem).expect("cert file");
        // The lab keeps serving on the runtime's threads while the client runs.
        let out = crate::support::output_ok(
            std::process::Command::new("python3")
                .arg(crate::support::repo().join("tests/unifi_client_check.py"))
                .arg(format!("localhost:{}", addr.port()))
                .arg(&cert_file)
                .arg(flavour)
                .arg("k3n8w2q1")
                // requests lets these override the client's own `verify`.
                .env_remove("REQUESTS_CA_BUNDLE")
                .env_remove("CURL_CA_BUNDLE"),
            "pyunifi against the lab (scripts/test installs it)",
        );
        let read: Value = serde_json::from_slice(&out.stdout).expect("json");
        let sites = if unifi_os {
            json!(["Default", "Riverside Food Bank"])
        } else {
            json!(["Default", "Riverside Food Bank", "Hillside Youth Club"])
        };
        assert_eq!(
            read,
            json!({
                "sites": sites,
                "aps": [["Hall AP", 1], ["Office AP", 0]],
                "wlans": ["Staff"],
                "clients": [],
                "users": [],
                "user_groups": ["Default"],
                "health": [["wlan", 2, 1]],
                "version": "10.4.57",
            }),
            "{flavour}"
        );
    }
}

#[test]
fn the_integration_api_pages_sites_and_devices_as_its_openapi_description_says() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (addr, cert) = rt
        .block_on(unifi::start(spec(true), 0))
        .expect("lab starts");
    let base = format!(
        "https://localhost:{}/proxy/network/integration/v1",
        addr.port()
    );
    let client = pinned_client(addr, &cert);
    let get = |path: &str, key: Option<&str>| {
        let mut req = client.get(format!("{base}{path}"));
        if let Some(k) = key {
            req = req.header("X-API-KEY", k);
        }
        rt.block_on(async {
            let r = req.send().await.expect("request");
            (
                r.status().as_u16(),
                r.json::<Value>().await.unwrap_or(Value::Null),
            )
        })
    };
    let key = Some("lab-api-key-31");
    let (status, body) = get("/sites", None);
    assert_eq!(
        (status, body["code"].clone()),
        (401, json!("api.authentication.missing-credentials"))
    );
    let (status, _) = get("/sites", Some("wrong"));
    assert_eq!(status, 401);
    let (status, info) = get("/info", key);
    assert_eq!(status, 200);
    let (_, all) = get("/sites", key);
    assert_eq!(
        (all["count"].clone(), all["totalCount"].clone()),
        (json!(2), json!(2))
    );
    let (_, second) = get("/sites?offset=1&limit=1", key);
    assert_eq!(second["data"][0]["internalReference"], "k3n8w2q1");
    assert_eq!(second["data"][0]["name"], "Riverside Food Bank");
    let (status, too_many) = get("/sites?limit=201", key);
    assert_eq!(status, 400, "{too_many}");
    let site = second["data"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (_, devices) = get(&format!("/sites/{site}/devices"), key);
    let states: Vec<(&str, bool)> = devices["data"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            (
                d["state"].as_str().unwrap_or(""),
                d["firmwareUpdatable"] == true,
            )
        })
        .collect();
    assert_eq!(states, [("ONLINE", false), ("OFFLINE", true)]);
    // Every reply matches its schema in the published description (an independent
    // validator resolves its references).
    let dir = tempfile::tempdir().expect("tempdir");
    let mut args = Vec::new();
    for (name, value) in [
        ("Application info", &info),
        ("Site overview page", &all),
        ("Adopted device overview page", &devices),
        ("Error Message", &body),
    ] {
        let file = dir.path().join(format!("{}.json", name.replace(' ', "-")));
        std::fs::write(&file, value.to_string()).expect("write");
        args.push(format!("{name}={}", file.display()));
    }
    let contract = crate::support::contract_path("unifi/integration-openapi-10.4.57.json");
    assert!(
        contract.is_file(),
        "CONTRACT CHECK DID NOT RUN: no {}; set STEWARD_CONTRACTS_DIR",
        contract.display()
    );
    crate::support::output_ok(
        std::process::Command::new("python3")
            .arg(crate::support::repo().join("tests/tools/openapi_check.py"))
            .arg(&contract)
            .args(&args),
        "the lab's integration replies against the OpenAPI description",
    );
    // A controller too old for the integration API does not have it at all.
    let mut old = spec(false);
    old.api_key = None;
    let (addr, cert) = rt.block_on(unifi::start(old, 0)).expect("lab starts");
    let old_client = pinned_client(addr, &cert);
    let status = rt.block_on(async {
        old_client
            .get(format!(
                "https://localhost:{}/proxy/network/integration/v1/sites",
                addr.port()
            ))
            .header("X-API-KEY", "lab-api-key-31")
            .send()
            .await
            .expect("request")
            .status()
    });
    assert_eq!(status, 404);
}
