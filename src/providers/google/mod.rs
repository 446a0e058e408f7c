//! Google Workspace through the Admin SDK Directory API: org units, users, groups and
//! group members.
//!
//! Refresh reads everything with list calls at the largest page size and `fields` masks:
//! one call for org units, ceil(n/500) for users, ceil(n/200) for groups, and
//! ceil(n/200) per managed group for members. Users Steward creates or adopts carry an
//! external id naming the org, which is how a user removed from the file (a leaver) is
//! told apart from one that was never in it (unmanaged).

pub mod auth;
pub mod client;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use futures_util::future::try_join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};

use self::client::{CallOpts, GoogleError, Http, Session, http_error};
use crate::org::{GoogleTenant, Org};
use crate::plan::{Action, Change, FieldChange, source_of};
use crate::providers::{LiveObject, LiveState};
use crate::resource::{Address, Attrs, Kind, Resource};
use crate::secrets::{Secret, Secrets};

/// `externalIds` entry type marking a user as managed by Steward for an org.
pub const MARKER_TYPE: &str = "steward";

const API: &str = "admin/directory/v1";

/// Opens a session for an org: loads its key and prepares its token.
pub fn connect(
    http: &Arc<Http>,
    tenant: &GoogleTenant,
    secrets: &Secrets,
) -> Result<Session, GoogleError> {
    let key = secrets
        .resolve(&tenant.credentials)
        .map_err(|e| GoogleError::Auth(e.to_string()))?;
    let account = auth::ServiceAccount::from_secret(&key)?;
    Ok(Session::new(http.clone(), account, &tenant.admin))
}

/// Path segments percent-encoded; `/` kept between segments (for `{+orgUnitPath}`).
fn encode_path(p: &str) -> String {
    p.split('/')
        .map(|seg| {
            seg.bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-._~@+".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn managed_by(external_ids: &Value) -> Option<String> {
    external_ids.as_array()?.iter().find_map(|e| {
        (e["type"] == "custom" && e["customType"] == MARKER_TYPE).then(|| s(&e["value"]))
    })
}

// What a refresh reads, as the `fields` masks ask for it.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrgUnitItem {
    org_unit_path: String,
    #[serde(default)]
    description: String,
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct NameItem {
    #[serde(default)]
    full_name: String,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserItem {
    primary_email: String,
    #[serde(default)]
    name: NameItem,
    #[serde(default)]
    org_unit_path: String,
    #[serde(default)]
    suspended: bool,
    /// Typed `any` in the discovery document: kept loose.
    #[serde(default)]
    external_ids: Value,
}

#[derive(serde::Deserialize)]
struct GroupItem {
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
}

#[derive(serde::Deserialize)]
struct MemberItem {
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
}

/// Reads the org's live state in as few calls as the API allows.
pub async fn refresh(session: &Session, org: &Org) -> Result<LiveState, GoogleError> {
    let Some(tenant) = &org.google else {
        return Ok(LiveState::default());
    };
    let cid = &tenant.customer_id;
    let ou_path = format!("{API}/customer/{}/orgunits", encode_path(cid));
    let ou_query = [
        ("type", "all".to_string()),
        (
            "fields",
            "organizationUnits(orgUnitPath,description)".to_string(),
        ),
    ];
    let users_path = format!("{API}/users");
    let users_query = [
        ("customer", cid.clone()),
        ("maxResults", "500".to_string()),
        (
            "fields",
            "nextPageToken,users(primaryEmail,name/fullName,orgUnitPath,suspended,externalIds)"
                .to_string(),
        ),
    ];
    let groups_path = format!("{API}/groups");
    let groups_query = [
        ("customer", cid.clone()),
        ("maxResults", "200".to_string()),
        (
            "fields",
            "nextPageToken,groups(email,name,description)".to_string(),
        ),
    ];
    let (ous, users, groups) = tokio::try_join!(
        session.list::<OrgUnitItem>(&ou_path, &ou_query),
        session.list::<UserItem>(&users_path, &users_query),
        session.list::<GroupItem>(&groups_path, &groups_query),
    )?;

    let mut objects = BTreeMap::new();
    for ou in ous {
        let mut attrs = Attrs::default();
        attrs.insert("path", json!(ou.org_unit_path));
        attrs.insert("description", json!(ou.description));
        objects.insert(
            Address {
                kind: Kind::GoogleOrgUnit,
                id: ou.org_unit_path,
            },
            LiveObject { attrs },
        );
    }
    for u in users {
        let email = u.primary_email.to_ascii_lowercase();
        let mut attrs = Attrs::default();
        attrs.insert("email", json!(email));
        attrs.insert("name", json!(u.name.full_name));
        attrs.insert("org_unit", json!(u.org_unit_path));
        attrs.insert("suspended", json!(u.suspended));
        attrs.insert(
            "managed_by",
            managed_by(&u.external_ids).map_or(Value::Null, Value::String),
        );
        objects.insert(
            Address {
                kind: Kind::GoogleUser,
                id: email,
            },
            LiveObject { attrs },
        );
    }
    let mut live_groups = Vec::new();
    for g in groups {
        let email = g.email.to_ascii_lowercase();
        let mut attrs = Attrs::default();
        attrs.insert("email", json!(email));
        attrs.insert("name", json!(g.name));
        attrs.insert("description", json!(g.description));
        let address = Address {
            kind: Kind::GoogleGroup,
            id: email.clone(),
        };
        if org.resource(&address).is_some() {
            live_groups.push(email);
        }
        objects.insert(address, LiveObject { attrs });
    }
    // Members only of the groups this org manages: others are not Steward's business.
    let member_lists = try_join_all(live_groups.iter().map(|g| {
        let path = format!("{API}/groups/{}/members", encode_path(g));
        async move {
            let query = [
                ("maxResults", "200".to_string()),
                ("fields", "nextPageToken,members(email,role)".to_string()),
            ];
            let members = session.list::<MemberItem>(&path, &query).await?;
            Ok::<_, GoogleError>((g.clone(), members))
        }
    }))
    .await?;
    for (group, members) in member_lists {
        for m in members {
            let email = m.email.to_ascii_lowercase();
            let mut attrs = Attrs::default();
            attrs.insert("group", json!(group));
            attrs.insert("email", json!(email));
            attrs.insert("role", json!(m.role));
            objects.insert(
                Address {
                    kind: Kind::GoogleMember,
                    id: format!("{group}/{email}"),
                },
                LiveObject { attrs },
            );
        }
    }
    Ok(LiveState { objects })
}

/// The attributes Steward manages on a resource, with what the file leaves implicit.
pub fn desired_attrs(org: &Org, r: &Resource) -> Attrs {
    let mut attrs = r.attrs.clone();
    match r.address.kind {
        Kind::GoogleUser => {
            attrs.insert("suspended", json!(false));
            attrs.insert("managed_by", json!(org.id));
        }
        Kind::GoogleMember if !attrs.contains_key("role") => {
            attrs.insert("role", json!("MEMBER"));
        }
        _ => {}
    }
    attrs
}

/// Leavers and stray members (changes), and unmanaged objects (left alone).
pub fn orphans(org: &Org, live: &LiveState) -> (Vec<Change>, Vec<Address>) {
    let mut changes = Vec::new();
    let mut unmanaged = Vec::new();
    let Some(tenant) = &org.google else {
        return (changes, unmanaged);
    };
    // Settings come from whichever module renders Google resources.
    let module = org
        .resources
        .iter()
        .find(|r| r.address.kind.provider() == crate::resource::ProviderKind::Google)
        .map(|r| r.module.clone());
    let leavers = module
        .as_deref()
        .and_then(|m| org.setting(m, "leavers"))
        .and_then(Value::as_str)
        .unwrap_or("suspend")
        .to_string();
    let leaver_source = module
        .as_deref()
        .map(|m| source_of(org, &format!("modules.{m}.leavers")));
    for (address, obj) in &live.objects {
        if org.resource(address).is_some() {
            continue;
        }
        match address.kind {
            Kind::GoogleUser => {
                if address.id.eq_ignore_ascii_case(&tenant.admin) {
                    continue;
                }
                let ours = obj.attrs.get("managed_by").and_then(Value::as_str) == Some(&org.id);
                if !ours {
                    unmanaged.push(address.clone());
                    continue;
                }
                let Some(module) = &module else { continue };
                if leavers == "delete" {
                    changes.push(Change {
                        address: address.clone(),
                        module: module.clone(),
                        action: Action::Delete,
                        fields: vec![],
                        reason: Some("leaver: delete".into()),
                        source: leaver_source.clone(),
                        depends_on: vec![],
                        destructive: true,
                        triggered_by: Vec::new(),
                    });
                } else if obj.attrs.get("suspended") != Some(&json!(true)) {
                    changes.push(Change {
                        address: address.clone(),
                        module: module.clone(),
                        action: Action::Update,
                        fields: vec![FieldChange {
                            name: "suspended".into(),
                            before: Some(json!(false)),
                            after: Some(json!(true)),
                            secret: false,
                            diff: None,
                        }],
                        reason: Some("leaver: suspend".into()),
                        source: leaver_source.clone(),
                        depends_on: vec![],
                        destructive: true,
                        triggered_by: Vec::new(),
                    });
                }
            }
            Kind::GoogleMember => {
                // Only members of managed groups are listed; membership there is
                // authoritative.
                let group = obj.attrs.get("group").and_then(Value::as_str).unwrap_or("");
                let group_res = org.resource(&Address {
                    kind: Kind::GoogleGroup,
                    id: group.to_string(),
                });
                let Some(group_res) = group_res else { continue };
                changes.push(Change {
                    address: address.clone(),
                    module: group_res.module.clone(),
                    action: Action::Delete,
                    fields: vec![],
                    reason: Some("not a member in the org file".into()),
                    source: Some(source_of(org, &group_res.source)),
                    depends_on: vec![],
                    destructive: true,
                    triggered_by: Vec::new(),
                });
            }
            Kind::GoogleGroup => unmanaged.push(address.clone()),
            Kind::GoogleOrgUnit if address.id != "/" => unmanaged.push(address.clone()),
            // Other providers' objects are theirs to judge.
            _ => {}
        }
    }
    (changes, unmanaged)
}

/// What apply needs besides the change itself.
pub struct ApplyCtx<'a> {
    pub org: &'a Org,
    pub secrets: &'a Secrets,
    /// Where generated initial passwords are written (0600).
    pub password_file: PathBuf,
}

fn split_name(full: &str) -> (String, String) {
    match full.trim().rsplit_once(' ') {
        Some((given, family)) => (given.trim().to_string(), family.to_string()),
        None => (full.trim().to_string(), full.trim().to_string()),
    }
}

fn marker(org: &Org) -> Value {
    json!([{"type": "custom", "customType": MARKER_TYPE, "value": org.id}])
}

/// A new user's initial password: from the file's secret, or generated.
fn initial_password(
    ctx: &ApplyCtx<'_>,
    r: Option<&Resource>,
) -> Result<(Secret, bool), GoogleError> {
    if let Some(name) = r.and_then(|r| r.secrets.get("password")) {
        let secret = ctx
            .secrets
            .resolve(name)
            .map_err(|e| GoogleError::Auth(e.to_string()))?;
        return Ok((secret, false));
    }
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut bytes = [0u8; 20];
    openssl::rand::rand_bytes(&mut bytes).map_err(|e| GoogleError::Auth(e.to_string()))?;
    let pw: String = bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    Ok((Secret::new(pw), true))
}

fn save_password(ctx: &ApplyCtx<'_>, email: &str, pw: &Secret) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = ctx.password_file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(&ctx.password_file)?;
    writeln!(
        f,
        "{}\t{email}\t{}",
        crate::util::now_rfc3339(),
        pw.expose()
    )
}

/// Carries out one change. Creates adopt an existing object on 409, so a create that is
/// retried after a lost reply never makes a duplicate.
pub async fn apply(
    session: &Session,
    ctx: &ApplyCtx<'_>,
    change: &Change,
) -> Result<(), GoogleError> {
    let org = ctx.org;
    let Some(tenant) = &org.google else {
        return Ok(());
    };
    let resource = org.resource(&change.address);
    let want = resource.map(|r| desired_attrs(org, r)).unwrap_or_default();
    let get = |k: &str| want.get(k).map(s).unwrap_or_default();
    let retry = CallOpts {
        retry_not_found: true,
    };
    let id = &change.address.id;
    match (change.address.kind, change.action) {
        (Kind::GoogleOrgUnit, Action::Create) => {
            let path = get("path");
            let (parent, name) = path.rsplit_once('/').unwrap_or(("", &path));
            let body = json!({
                "name": name,
                "parentOrgUnitPath": if parent.is_empty() { "/" } else { parent },
                "description": want.get("description").cloned().unwrap_or(json!("")),
            });
            let p = format!(
                "{API}/customer/{}/orgunits",
                encode_path(&tenant.customer_id)
            );
            insert(session, &p, &body, retry).await.map(drop)
        }
        (Kind::GoogleOrgUnit, Action::Update) => {
            let p = format!(
                "{API}/customer/{}/orgunits/{}",
                encode_path(&tenant.customer_id),
                encode_path(id.trim_start_matches('/'))
            );
            let body =
                json!({"description": want.get("description").cloned().unwrap_or(json!(""))});
            session
                .ok(Method::PATCH, &p, &[], Some(&body), retry)
                .await
                .map(drop)
        }
        (Kind::GoogleOrgUnit, Action::Delete) => {
            let p = format!(
                "{API}/customer/{}/orgunits/{}",
                encode_path(&tenant.customer_id),
                encode_path(id.trim_start_matches('/'))
            );
            delete(session, &p).await
        }
        (Kind::GoogleUser, Action::Create) => {
            let (given, family) = split_name(&get("name"));
            let (password, generated) = initial_password(ctx, resource)?;
            let body = json!({
                "primaryEmail": id,
                "name": {"givenName": given, "familyName": family},
                "orgUnitPath": get("org_unit"),
                "password": password.expose(),
                "changePasswordAtNextLogin": true,
                "suspended": false,
                "externalIds": marker(org),
            });
            let p = format!("{API}/users");
            if !insert(session, &p, &body, CallOpts::default()).await? {
                // Exists already (made by hand, or our earlier attempt whose reply was
                // lost): adopt it and bring it to what the file says.
                return update_user(
                    session,
                    org,
                    id,
                    &want,
                    &["name", "org_unit", "suspended", "managed_by"],
                )
                .await;
            }
            if generated {
                save_password(ctx, id, &password).map_err(|e| GoogleError::Auth(format!(
                    "user {id} was created but its initial password could not be saved ({e}); reset it in the admin console"
                )))?;
            }
            Ok(())
        }
        (Kind::GoogleUser, Action::Update) => {
            let names: Vec<&str> = change.fields.iter().map(|f| f.name.as_str()).collect();
            if resource.is_none() {
                // A leaver: only `suspended` changes.
                let p = format!("{API}/users/{}", encode_path(id));
                let body = json!({"suspended": true});
                return session
                    .ok(Method::PATCH, &p, &[], Some(&body), retry)
                    .await
                    .map(drop);
            }
            update_user(session, org, id, &want, &names).await
        }
        (Kind::GoogleUser, Action::Delete) => {
            delete(session, &format!("{API}/users/{}", encode_path(id))).await
        }
        (Kind::GoogleGroup, Action::Create) => {
            let body = json!({
                "email": id,
                "name": get("name"),
                "description": want.get("description").cloned().unwrap_or(json!("")),
            });
            let p = format!("{API}/groups");
            if insert(session, &p, &body, CallOpts::default()).await? {
                return Ok(());
            }
            // Exists already: adopt it.
            let p = format!("{API}/groups/{}", encode_path(id));
            session
                .ok(Method::PATCH, &p, &[], Some(&body), retry)
                .await
                .map(drop)
        }
        (Kind::GoogleGroup, Action::Update) => {
            let mut body = Map::new();
            for f in &change.fields {
                if let Some(v) = &f.after {
                    body.insert(f.name.clone(), v.clone());
                }
            }
            let p = format!("{API}/groups/{}", encode_path(id));
            session
                .ok(Method::PATCH, &p, &[], Some(&Value::Object(body)), retry)
                .await
                .map(drop)
        }
        (Kind::GoogleGroup, Action::Delete) => {
            delete(session, &format!("{API}/groups/{}", encode_path(id))).await
        }
        (Kind::GoogleMember, Action::Create) => {
            let group = get("group");
            let p = format!("{API}/groups/{}/members", encode_path(&group));
            let body = json!({"email": get("email"), "role": get("role")});
            // 404 right after the user or group was created means "not visible yet".
            insert(session, &p, &body, retry).await.map(drop)
        }
        (Kind::GoogleMember, Action::Update) => {
            let (group, email) = id.split_once('/').unwrap_or((id, id));
            let p = format!(
                "{API}/groups/{}/members/{}",
                encode_path(group),
                encode_path(email)
            );
            let body = json!({"role": get("role")});
            session
                .ok(Method::PATCH, &p, &[], Some(&body), retry)
                .await
                .map(drop)
        }
        (Kind::GoogleMember, Action::Delete) => {
            let (group, email) = id.split_once('/').unwrap_or((id, id));
            delete(
                session,
                &format!(
                    "{API}/groups/{}/members/{}",
                    encode_path(group),
                    encode_path(email)
                ),
            )
            .await
        }
        (kind, _) => Err(GoogleError::Auth(format!(
            "{kind} is not a Google resource (a bug: please report it)"
        ))),
    }
}

async fn update_user(
    session: &Session,
    org: &Org,
    id: &str,
    want: &Attrs,
    fields: &[&str],
) -> Result<(), GoogleError> {
    let mut body = Map::new();
    for f in fields {
        match *f {
            "name" => {
                let (given, family) = split_name(&want.get("name").map(s).unwrap_or_default());
                body.insert(
                    "name".into(),
                    json!({"givenName": given, "familyName": family}),
                );
            }
            "org_unit" => {
                body.insert(
                    "orgUnitPath".into(),
                    want.get("org_unit").cloned().unwrap_or(json!("/")),
                );
            }
            "suspended" => {
                body.insert(
                    "suspended".into(),
                    want.get("suspended").cloned().unwrap_or(json!(false)),
                );
            }
            "managed_by" => {
                body.insert("externalIds".into(), marker(org));
            }
            _ => {}
        }
    }
    let p = format!("{API}/users/{}", encode_path(id));
    session
        .ok(
            Method::PATCH,
            &p,
            &[],
            Some(&Value::Object(body)),
            CallOpts {
                retry_not_found: true,
            },
        )
        .await
        .map(drop)
}

/// POST that creates; `Ok(false)` when the object already exists (409), so a create
/// retried after a lost reply, or one made by hand, is not an error.
async fn insert(
    session: &Session,
    path: &str,
    body: &Value,
    opts: CallOpts,
) -> Result<bool, GoogleError> {
    let reply = session
        .call(Method::POST, path, &[], Some(body), opts)
        .await?;
    if reply.status == StatusCode::CONFLICT {
        Ok(false)
    } else if reply.status.is_success() {
        Ok(true)
    } else {
        Err(http_error(&Method::POST, path, &reply))
    }
}

/// DELETE that counts "already gone" as done.
async fn delete(session: &Session, path: &str) -> Result<(), GoogleError> {
    let reply = session
        .call(Method::DELETE, path, &[], None, CallOpts::default())
        .await?;
    if reply.status.is_success() || reply.status == StatusCode::NOT_FOUND {
        Ok(())
    } else {
        Err(http_error(&Method::DELETE, path, &reply))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn org_unit_paths_keep_slashes_and_encode_the_rest() {
        assert_eq!(super::encode_path("Staff/Front desk"), "Staff/Front%20desk");
        assert_eq!(super::encode_path("a@b.org"), "a@b.org");
    }

    #[test]
    fn names_split_at_the_last_space() {
        assert_eq!(
            super::split_name("Dana Whitfield"),
            ("Dana".into(), "Whitfield".into())
        );
        assert_eq!(
            super::split_name("Mary Ann Lee"),
            ("Mary Ann".into(), "Lee".into())
        );
    }
}
