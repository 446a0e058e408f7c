//! The UniFi controller lab as a client sees it: HTTPS with a certificate to pin, the
//! classic login and its cookies, sites, and Wi-Fi broadcasts held to the controller's
//! field definitions. (The provider that uses it is being built.)

use serde_json::{Value, json};
use steward::lab::unifi::{self, Site, Spec};

fn spec() -> Spec {
    let site = |id: &str, name: &str, desc: &str| Site {
        id: id.into(),
        name: name.into(),
        desc: desc.into(),
        wlans: vec![],
    };
    Spec {
        username: "steward".into(),
        password: "lab-password-7".into(),
        sites: vec![
            site("5f0000000000000000000001", "default", "Default"),
            site(
                "5f0000000000000000000002",
                "k3n8w2q1",
                "Riverside Food Bank",
            ),
        ],
    }
}

#[test]
fn the_controller_lab_speaks_the_classic_api_over_pinned_https() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let (addr, cert) = unifi::start(spec(), 0).await.expect("lab starts");
        let base = format!("https://localhost:{}", addr.port());
        assert_eq!(cert.sha256.split(':').count(), 32, "{}", cert.sha256);
        // A client that does not trust the certificate gets nothing.
        let stranger = reqwest::Client::new();
        assert!(stranger.get(format!("{base}/api/self/sites")).send().await.is_err());
        let trusted = reqwest::Certificate::from_pem(cert.pem.as_bytes()).expect("pem");
        let client = reqwest::Client::builder()
            .add_root_certificate(trusted)
            .redirect(reqwest::redirect::Policy::none())
            .resolve("localhost", addr)
            .build()
            .expect("client");
        // A classic controller redirects `/` (a UniFi OS console answers 200).
        let root = client.get(format!("{base}/")).send().await.expect("GET /");
        assert_eq!(root.status(), 302);
        assert_eq!(root.headers()["location"], "/manage");
        let call = |method: reqwest::Method, path: &str, body: Option<Value>, cookie: &str| {
            let mut req = client.request(method, format!("{base}{path}"));
            if !cookie.is_empty() {
                req = req.header("Cookie", cookie);
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
        let (status, _, _) = call(M::POST, "/api/logout", None, &cookie).await;
        assert_eq!(status, 200);
        let (status, _, _) = call(M::GET, "/api/self/sites", None, &cookie).await;
        assert_eq!(status, 401);
    });
}
