//! The lab emulator and Steward's requests, checked against Google's published
//! discovery document for the Directory API (`../shared/contracts/`).

use std::collections::BTreeSet;

use serde_json::{Value, json};
use steward::providers::google::auth::ServiceAccount;
use steward::secrets::Secret;

use crate::support::{Env, http, token};

fn discovery() -> Value {
    contract("admin-directory-v1.json")
}

/// A published contract from `../shared/contracts/` (`STEWARD_CONTRACTS_DIR`).
fn contract(file: &str) -> Value {
    let path = crate::support::contract_path(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "CONTRACT CHECK DID NOT RUN: cannot read {} ({e}); set STEWARD_CONTRACTS_DIR",
            path.display()
        )
    });
    serde_json::from_str(&text).expect("discovery document is JSON")
}

/// The discovery document's method for a route the lab counted, as a JSON pointer.
fn method_of(route: &str) -> String {
    let (res, method) = match route {
        "GET users/item/aliases" => ("users/resources/aliases", "list"),
        "POST users/item/aliases" => ("users/resources/aliases", "insert"),
        "DELETE users/item/aliases/item" => ("users/resources/aliases", "delete"),
        "POST users/item/undelete" => ("users", "undelete"),
        "POST users/item/signOut" => ("users", "signOut"),
        "GET users/item/tokens" => ("tokens", "list"),
        "DELETE users/item/tokens/item" => ("tokens", "delete"),
        "GET users/item/asps" => ("asps", "list"),
        "DELETE users/item/asps/item" => ("asps", "delete"),
        "GET groups/item/aliases" => ("groups/resources/aliases", "list"),
        "POST groups/item/aliases" => ("groups/resources/aliases", "insert"),
        "DELETE groups/item/aliases/item" => ("groups/resources/aliases", "delete"),
        "GET members/item" => ("members", "get"),
        other => method_of_top(other),
    };
    format!("/resources/{res}/methods/{method}")
}

fn method_of_top(route: &str) -> (&'static str, &'static str) {
    match route {
        "GET users" => ("users", "list"),
        "POST users" => ("users", "insert"),
        "GET users/item" => ("users", "get"),
        "PATCH users/item" => ("users", "patch"),
        "PUT users/item" => ("users", "update"),
        "DELETE users/item" => ("users", "delete"),
        "GET groups" => ("groups", "list"),
        "POST groups" => ("groups", "insert"),
        "GET groups/item" => ("groups", "get"),
        "PATCH groups/item" => ("groups", "patch"),
        "DELETE groups/item" => ("groups", "delete"),
        "GET members" => ("members", "list"),
        "POST members" => ("members", "insert"),
        "PATCH members/item" => ("members", "patch"),
        "DELETE members/item" => ("members", "delete"),
        "GET orgunits" => ("orgunits", "list"),
        "GET domains" => ("domains", "list"),
        "GET schemas" => ("schemas", "list"),
        "POST orgunits" => ("orgunits", "insert"),
        "GET orgunits/item" => ("orgunits", "get"),
        "PATCH orgunits/item" => ("orgunits", "patch"),
        "DELETE orgunits/item" => ("orgunits", "delete"),
        other => panic!("the lab served a route with no Directory API method: {other}"),
    }
}

fn properties(doc: &Value, schema: &str) -> BTreeSet<String> {
    doc["schemas"][schema]["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("no schema {schema}"))
        .keys()
        .cloned()
        .collect()
}

fn assert_fields(doc: &Value, schema: &str, obj: &Value, what: &str) {
    let props = properties(doc, schema);
    for (k, v) in obj.as_object().expect("object") {
        assert!(
            props.contains(k),
            "{what}: `{k}` is not a property of {schema}"
        );
        if let Some(r) = doc["schemas"][schema]["properties"][k]["$ref"].as_str()
            && v.is_object()
        {
            assert_fields(doc, r, v, what);
        }
    }
}

#[test]
fn steward_requests_and_lab_replies_match_the_discovery_document() {
    let doc = discovery();
    let mut env = Env::examples();
    env.start_lab(&[]);
    assert_eq!(env.run(&["apply", "--yes"]).code, 0);
    // Leavers and membership removal exercise PATCH and DELETE too.
    let rfb = env.read("orgs/riverside-food-bank.yaml");
    env.write(
        "orgs/riverside-food-bank.yaml",
        &rfb.replace("Marco Ruiz", "Marco A. Ruiz"),
    );
    env.drop_lines("orgs/riverside-food-bank.yaml", "priya");
    env.drop_lines("orgs/hillside-youth-club.yaml", "ruth@");
    assert_eq!(env.run(&["apply", "--yes"]).code, 0);
    // An import reads with the same calls, and the tenant's domains.
    let import = env.run(&[
        "import",
        "riverside-food-bank",
        "--force",
        "--google",
        "riversidefood.org",
        "--customer",
        "C03az79cb",
        "--admin",
        "steward-admin@riversidefood.org",
        "--credentials",
        "secret:riverside-food-bank/google-service-account",
    ]);
    assert_eq!(import.code, 0, "{import:?}");

    let stats = env.lab_get("/_lab/stats");
    let globals: BTreeSet<String> = doc["parameters"]
        .as_object()
        .expect("parameters")
        .keys()
        .cloned()
        .collect();
    for (route, seen) in stats["seen"].as_object().expect("seen") {
        let pointer = method_of(route);
        let m = doc.pointer(&pointer).unwrap_or(&Value::Null);
        assert!(m.is_object(), "{pointer} is in the discovery document");
        assert_eq!(
            m["httpMethod"],
            route.split(' ').next().unwrap_or_default(),
            "{route}"
        );
        let params: BTreeSet<String> = m["parameters"]
            .as_object()
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        for item in seen.as_array().expect("list") {
            let item = item.as_str().unwrap_or_default();
            if let Some(q) = item.strip_prefix("query:") {
                assert!(
                    params.contains(q) || globals.contains(q),
                    "{route}: query parameter `{q}` is not in {pointer}"
                );
                if q == "maxResults" {
                    assert!(m["parameters"]["maxResults"].is_object());
                }
            } else if let Some(b) = item.strip_prefix("body:") {
                let schema = m["request"]["$ref"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{route} takes no body"));
                let (top, nested) = b.split_once('.').map_or((b, None), |(a, c)| (a, Some(c)));
                assert!(
                    properties(&doc, schema).contains(top),
                    "{route}: body field `{top}` is not in {schema}"
                );
                if let (Some(n), Some(r)) = (
                    nested,
                    doc["schemas"][schema]["properties"][top]["$ref"].as_str(),
                ) {
                    assert!(
                        properties(&doc, r).contains(n),
                        "{route}: body field `{top}.{n}` is not in {r}"
                    );
                }
            }
        }
    }
    // What the lab stores and returns uses the published schemas' field names.
    let dump = env.lab_get("/_lab/dump");
    for t in dump["tenants"].as_array().expect("tenants") {
        for u in t["users"].as_array().expect("users") {
            assert_fields(&doc, "User", u, "user");
        }
        for g in t["groups"].as_array().expect("groups") {
            assert_fields(&doc, "Group", g, "group");
        }
        for o in t["orgunits"].as_array().expect("orgunits") {
            assert_fields(&doc, "OrgUnit", o, "org unit");
        }
        for list in t["members"].as_object().expect("members").values() {
            for m in list.as_array().expect("list") {
                assert_fields(&doc, "Member", m, "member");
            }
        }
    }
}

#[test]
fn the_lab_enforces_jwt_page_caps_pagination_and_etags() {
    let doc = discovery();
    let mut env = Env::examples();
    env.start_lab(&[]);
    let url = env.lab_url.clone().expect("lab");
    let key = "secrets/riverside-food-bank/google-service-account";

    // Token endpoint: signature, subject, time window.
    let (code, ok) = token(&env, key, "steward-admin@riversidefood.org", 0);
    assert_eq!(code, 200, "{ok}");
    assert_eq!(ok["token_type"], "Bearer");
    // Google issues tokens for users of the domain only.
    let (code, e) = token(&env, key, "someone-else@riversidefood.org", 0);
    assert_eq!(
        (code, e["error"].as_str(), e["error_description"].as_str()),
        (400, Some("invalid_grant"), Some("Invalid email or User ID"))
    );
    let (code, e) = token(&env, key, "steward-admin@riversidefood.org", -7200);
    assert_eq!((code, e["error"].as_str()), (400, Some("invalid_grant")));
    let (code, e) = token(
        &env,
        "secrets/hillside-youth-club/google-service-account",
        "steward-admin@riversidefood.org",
        0,
    );
    assert_eq!(
        code, 401,
        "hillside's key cannot impersonate riverside's admin: {e}"
    );
    let forged = {
        let (_, good) = token(&env, key, "steward-admin@riversidefood.org", 0);
        assert!(good["access_token"].is_string());
        let account = ServiceAccount::from_secret(&Secret::new(
            env.read("secrets/hillside-youth-club/google-service-account"),
        ))
        .expect("key");
        let a = account
            .assertion(
                "steward-admin@riversidefood.org",
                &format!("{url}/token"),
                steward::util::unix_now(),
            )
            .expect("sign");
        // Claim to be riverside's service account with hillside's signature.
        let mut parts: Vec<String> = a.split('.').map(str::to_string).collect();
        use base64::Engine;
        let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&parts[1])
            .expect("b64");
        let mut claims: Value = serde_json::from_slice(&claims).expect("claims");
        claims["iss"] = json!("steward@riverside-food-bank.iam.gserviceaccount.com");
        parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string());
        parts.join(".")
    };
    let (code, e) = http(
        &url,
        "POST",
        "/token",
        &[("Content-Type", "application/x-www-form-urlencoded".into())],
        &format!(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={forged}"
        ),
    );
    assert_eq!(
        (code, e["error_description"].as_str()),
        (400, Some("Invalid JWT Signature."))
    );

    let bearer = vec![
        (
            "Authorization",
            format!("Bearer {}", ok["access_token"].as_str().unwrap_or_default()),
        ),
        ("Content-Type", "application/json".to_string()),
    ];
    let (code, _) = http(
        &url,
        "GET",
        "/admin/directory/v1/users?customer=C03az79cb",
        &[],
        "",
    );
    assert_eq!(code, 401, "no token, no data");

    // Page caps as published.
    let users_max: usize = doc["resources"]["users"]["methods"]["list"]["parameters"]["maxResults"]
        ["maximum"]
        .as_str()
        .and_then(|m| m.parse().ok())
        .expect("users cap");
    assert_eq!(users_max, 500);
    let desc =
        doc["resources"]["groups"]["methods"]["list"]["parameters"]["maxResults"]["description"]
            .as_str()
            .unwrap_or_default();
    assert!(desc.contains("Max allowed value is 200"), "{desc}");
    let (code, _) = http(
        &url,
        "GET",
        &format!(
            "/admin/directory/v1/users?customer=C03az79cb&maxResults={}",
            users_max + 1
        ),
        &bearer,
        "",
    );
    assert_eq!(code, 400);
    let (code, _) = http(
        &url,
        "GET",
        &format!("/admin/directory/v1/users?customer=C03az79cb&maxResults={users_max}"),
        &bearer,
        "",
    );
    assert_eq!(code, 200);
    let (code, _) = http(
        &url,
        "GET",
        "/admin/directory/v1/groups?customer=C03az79cb&maxResults=201",
        &bearer,
        "",
    );
    assert_eq!(code, 400);

    // Pagination over groups, two at a time.
    for i in 0..3 {
        let (code, g) = http(
            &url,
            "POST",
            "/admin/directory/v1/groups",
            &bearer,
            &json!({"email": format!("g{i}@riversidefood.org"), "name": format!("G{i}")})
                .to_string(),
        );
        assert_eq!(code, 200, "{g}");
        assert_fields(&doc, "Group", &g, "inserted group");
    }
    let (code, dup) = http(
        &url,
        "POST",
        "/admin/directory/v1/groups",
        &bearer,
        &json!({"email": "g0@riversidefood.org", "name": "again"}).to_string(),
    );
    assert_eq!((code, dup["error"]["code"].as_u64()), (409, Some(409)));
    let (_, p1) = http(
        &url,
        "GET",
        "/admin/directory/v1/groups?customer=C03az79cb&maxResults=2",
        &bearer,
        "",
    );
    assert_fields(&doc, "Groups", &p1, "groups page");
    assert_eq!(p1["groups"].as_array().map(Vec::len), Some(2));
    let next = p1["nextPageToken"].as_str().expect("next page");
    let (_, p2) = http(
        &url,
        "GET",
        &format!("/admin/directory/v1/groups?customer=C03az79cb&maxResults=2&pageToken={next}"),
        &bearer,
        "",
    );
    assert_eq!(p2["groups"].as_array().map(Vec::len), Some(1));
    assert!(p2.get("nextPageToken").is_none());

    // Field masks and etags.
    let (_, masked) = http(
        &url,
        "GET",
        "/admin/directory/v1/users?customer=C03az79cb&fields=users(primaryEmail,name/fullName)",
        &bearer,
        "",
    );
    let first = &masked["users"][0];
    assert_eq!(first.as_object().map(|o| o.len()), Some(2), "{masked}");
    assert!(
        first["name"]["fullName"].is_string() && first["name"].get("givenName").is_none(),
        "{masked}"
    );
    let (_, admin) = http(
        &url,
        "GET",
        "/admin/directory/v1/users/steward-admin@riversidefood.org",
        &bearer,
        "",
    );
    assert_fields(&doc, "User", &admin, "user");
    let etag = admin["etag"].as_str().expect("etag").to_string();
    let mut cond = bearer.clone();
    cond.push(("If-None-Match", etag.clone()));
    let (code, _) = http(
        &url,
        "GET",
        "/admin/directory/v1/users/steward-admin@riversidefood.org",
        &cond,
        "",
    );
    assert_eq!(code, 304);
    let mut stale = bearer.clone();
    stale.push(("If-Match", "\"not-the-etag\"".into()));
    let (code, e) = http(
        &url,
        "PATCH",
        "/admin/directory/v1/users/steward-admin@riversidefood.org",
        &stale,
        "{\"suspended\": true}",
    );
    assert_eq!(
        (code, e["error"]["errors"][0]["reason"].as_str()),
        (412, Some("conditionNotMet"))
    );
    let (code, e) = http(
        &url,
        "GET",
        "/admin/directory/v1/users/nobody@riversidefood.org",
        &bearer,
        "",
    );
    assert_eq!(
        (code, e["error"]["errors"][0]["reason"].as_str()),
        (404, Some("notFound"))
    );
}

#[test]
fn google_api_python_client_talks_to_the_lab() {
    let mut env = Env::examples();
    env.start_lab(&[]);
    let url = env.lab_url.clone().expect("lab");
    let script = crate::support::repo().join("tests/google_client_check.py");
    let doc_path = crate::support::contract_path("admin-directory-v1.json");
    let out = crate::support::output_ok(
        std::process::Command::new("python3")
            .arg(&script)
            .arg(&url)
            .arg(env.path("secrets/riverside-food-bank/google-service-account"))
            .arg(&doc_path),
        "Google's Python client against the lab failed (is google-api-python-client installed? .ci/run installs it)",
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("google client OK"), "{text}");
}

#[test]
fn the_lab_refuses_bad_masks_before_writing_and_knows_ids_cycles_and_limits() {
    let doc = discovery();
    let mut env = Env::new();
    env.write(
        "orgs/o.yaml",
        &crate::support::org_file("o", "o.org", "C0o", "users: []\n"),
    );
    env.start_lab(&[]);
    let api = |method: &str, path: &str, body: Value| {
        crate::support::api(&env, "o", "admin@o.org", method, path, &body)
    };
    let pat = json!({"primaryEmail": "pat@o.org", "name": {"givenName": "Pat", "familyName": "Lee"}, "password": "a-long-password"});

    // A malformed mask is refused before anything is written.
    let (code, e) = api("POST", "users?fields=id,name(", pat.clone());
    assert_eq!(code, 400, "{e}");
    assert_eq!(api("GET", "users/pat@o.org", Value::Null).0, 404);
    // An empty mask is no mask.
    let (code, created) = api("POST", "users?fields=", pat.clone());
    assert_eq!(code, 200, "{created}");
    assert_fields(&doc, "User", &created, "created user");
    assert_eq!(created["primaryEmail"], "pat@o.org");
    assert!(
        created.get("password").is_none(),
        "passwords are never returned"
    );
    assert!(created.get("suspensionReason").is_none());

    // By numeric id, and case-insensitively by address.
    let id = created["id"].as_str().expect("id");
    assert_eq!(
        api("GET", &format!("users/{id}"), Value::Null).1["primaryEmail"],
        "pat@o.org"
    );
    assert_eq!(
        api("GET", "users/PAT@o.org", Value::Null).1["id"],
        json!(id)
    );

    // Name parts of at most 60 characters, passwords of 8 to 100.
    let long = json!({"name": {"givenName": "x".repeat(61)}});
    assert_eq!(api("PATCH", "users/pat@o.org", long).0, 400);
    assert_eq!(
        api(
            "PATCH",
            "users/pat@o.org",
            json!({"password": "p".repeat(101)})
        )
        .0,
        400
    );
    assert_eq!(
        api(
            "PATCH",
            "users/pat@o.org",
            json!({"password": "p".repeat(100)})
        )
        .0,
        200
    );
    let blank = json!({"primaryEmail": "b@o.org", "name": {"givenName": " ", "familyName": "B"}, "password": "a-long-password"});
    assert_eq!(api("POST", "users", blank).0, 400);

    // Suspension by an administrator reads ADMIN, and goes with the suspension.
    let (_, s) = api("PATCH", "users/pat@o.org", json!({"suspended": true}));
    assert_eq!(s["suspensionReason"], "ADMIN");
    let (_, s) = api("PATCH", "users/pat@o.org", json!({"suspended": false}));
    assert!(s.get("suspensionReason").is_none(), "{s}");

    // A group address that is a user's is taken; an alias outside the domains is not ours.
    assert_eq!(
        api("POST", "groups", json!({"email": "pat@o.org", "name": "P"})).0,
        409
    );
    assert_eq!(
        api(
            "POST",
            "users/pat@o.org/aliases",
            json!({"alias": "pat@elsewhere.org"})
        )
        .0,
        400
    );
    let (code, alias) = api(
        "POST",
        "users/pat@o.org/aliases",
        json!({"alias": "info@o.org"}),
    );
    assert_eq!(code, 200, "{alias}");
    assert_fields(&doc, "Alias", &alias, "alias");
    assert_eq!(api("POST", "users", json!({"primaryEmail": "info@o.org", "name": {"givenName": "I", "familyName": "D"}, "password": "a-long-password"})).0, 409);
    let (_, listed) = api(
        "GET",
        "users?customer=my_customer&fields=users(primaryEmail,aliases)",
        Value::Null,
    );
    let pat_listed = listed["users"]
        .as_array()
        .and_then(|u| u.iter().find(|u| u["primaryEmail"] == "pat@o.org"))
        .expect("pat");
    assert_eq!(pat_listed["aliases"], json!(["info@o.org"]));

    // Groups containing each other: Google answers 412.
    for g in ["a@o.org", "b@o.org"] {
        assert_eq!(api("POST", "groups", json!({"email": g, "name": g})).0, 200);
    }
    assert_eq!(
        api(
            "POST",
            "groups/a@o.org/members",
            json!({"email": "b@o.org"})
        )
        .0,
        200
    );
    let (code, e) = api(
        "POST",
        "groups/b@o.org/members",
        json!({"email": "a@o.org"}),
    );
    assert_eq!(
        (code, e["error"]["errors"][0]["reason"].as_str()),
        (412, Some("conditionNotMet")),
        "{e}"
    );
    assert_eq!(
        api(
            "POST",
            "groups/a@o.org/members",
            json!({"email": "a@o.org"})
        )
        .0,
        412
    );

    // "Everyone in the domain": a member with no email.
    let (code, everyone) = api(
        "POST",
        "groups/b@o.org/members",
        json!({"id": "C0o", "role": "MEMBER"}),
    );
    assert_eq!(code, 200, "{everyone}");
    assert_eq!(everyone["type"], "CUSTOMER");
    assert!(everyone.get("email").is_none());
    assert_fields(&doc, "Member", &everyone, "member");

    // groups.list: `userKey` cannot be used with `customer` (the discovery document).
    assert_eq!(
        api(
            "GET",
            "groups?customer=my_customer&userKey=pat@o.org",
            Value::Null
        )
        .0,
        400
    );
    assert_eq!(api("GET", "members?roles=BOSS", Value::Null).0, 404);
    assert_eq!(
        api("GET", "groups/a@o.org/members?roles=BOSS", Value::Null).0,
        400
    );

    // Org units: a duplicate is "Invalid Ou Id", as Google answers.
    let ou = json!({"name": "Staff", "parentOrgUnitPath": "/"});
    assert_eq!(
        api("POST", "customer/my_customer/orgunits", ou.clone()).0,
        200
    );
    let (code, e) = api("POST", "customer/my_customer/orgunits", ou);
    assert_eq!(
        (code, e["error"]["message"].as_str()),
        (400, Some("Invalid Ou Id"))
    );
}

#[test]
fn the_unifi_field_definitions_steward_carries_are_the_contracts() {
    let contracts = crate::support::contract_path("unifi");
    for file in ["WLANConf.json", "NetworkConf.json"] {
        let contract = std::fs::read(contracts.join(file)).unwrap_or_else(|e| {
            panic!(
                "CONTRACT CHECK DID NOT RUN: cannot read {} ({e}); set STEWARD_CONTRACTS_DIR",
                contracts.join(file).display()
            )
        });
        let carried = std::fs::read(
            crate::support::repo()
                .join("src/providers/unifi/fields")
                .join(file),
        )
        .expect("carried copy");
        assert!(contract == carried, "{file} differs from the contract");
    }
}

#[test]
fn a_leavers_steps_match_the_directory_and_data_transfer_documents() {
    let mut env = Env::new();
    env.write(
        "orgs/harbour.yaml",
        "org: harbour\nname: Harbour\ngoogle:\n  domain: harbour.org\n  customer_id: C0contract9\n  admin: admin@harbour.org\n  credentials: secret:harbour/google\nmodules:\n  accounts:\n    offboarding: {transfer_to: kim@harbour.org}\n    users:\n      - {email: kim@harbour.org, name: Kim Lee}\n      - {email: sam@harbour.org, name: Sam Lowe, until: 2027-02-14}\n",
    );
    env.start_lab(&[]);
    assert_eq!(
        env.run(&["--as-of", "2027-01-10", "apply", "--yes"]).code,
        0
    );
    env.lab_post(
        "/_lab/seed",
        &json!({"customer_id": "C0contract9",
                "tokens": [{"user": "sam@harbour.org", "clientId": "1.apps.googleusercontent.com", "displayText": "App"}],
                "asps": [{"user": "sam@harbour.org", "codeId": 3, "name": "Phone"}]}),
    );
    env.lab_post("/_lab/stats/reset", &json!({}));
    let apply = env.run(&["--as-of", "2027-02-15", "apply", "--yes"]);
    assert_eq!(apply.code, 0, "{apply:?}");

    let (directory, transfer) = (discovery(), contract("admin-datatransfer-v1.json"));
    let stats = env.lab_get("/_lab/stats");
    let seen = stats["seen"].as_object().expect("seen");
    for route in [
        "POST users/item/signOut",
        "GET users/item/tokens",
        "DELETE users/item/tokens/item",
        "GET users/item/asps",
        "DELETE users/item/asps/item",
        "GET datatransfer/applications",
        "POST datatransfer/transfers",
        "GET datatransfer/transfers",
        "GET datatransfer/transfers/item",
    ] {
        assert!(seen.contains_key(route), "{route} was not used: {stats}");
    }
    for (route, items) in seen {
        let (doc, pointer) = match route.split_once(' ') {
            Some((_, p)) if p.starts_with("datatransfer/") => {
                let (res, method) = match route.as_str() {
                    "GET datatransfer/applications" => ("applications", "list"),
                    "POST datatransfer/transfers" => ("transfers", "insert"),
                    "GET datatransfer/transfers" => ("transfers", "list"),
                    "GET datatransfer/transfers/item" => ("transfers", "get"),
                    other => {
                        panic!("the lab served a route with no Data Transfer API method: {other}")
                    }
                };
                (&transfer, format!("/resources/{res}/methods/{method}"))
            }
            _ => (&directory, method_of(route)),
        };
        let m = doc.pointer(&pointer).unwrap_or(&Value::Null);
        assert!(m.is_object(), "{pointer} is in the discovery document");
        assert_eq!(
            m["httpMethod"],
            route.split(' ').next().unwrap_or_default(),
            "{route}"
        );
        let globals: BTreeSet<String> = doc["parameters"]
            .as_object()
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        for item in items
            .as_array()
            .expect("list")
            .iter()
            .filter_map(Value::as_str)
        {
            if let Some(q) = item.strip_prefix("query:") {
                assert!(
                    m["parameters"][q].is_object() || globals.contains(q),
                    "{route}: query parameter `{q}` is not in {pointer}"
                );
            } else if let Some(b) = item.strip_prefix("body:") {
                let schema = m["request"]["$ref"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{route} takes no body"));
                let top = b.split('.').next().unwrap_or(b);
                assert!(
                    properties(doc, schema).contains(top),
                    "{route}: body field `{top}` is not in {schema}"
                );
            }
        }
    }
}
