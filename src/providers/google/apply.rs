//! Carrying out one planned change against the Directory API.
//!
//! A 409 never means "ours" by itself: the address is read again, and only an object of
//! the same kind whose primary address is the one asked for is taken on. Adoption writes
//! only the module's fields and keeps every `externalIds` entry that is not Steward's.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};

use super::client::{CallOpts, GoogleError, Session, http_error, message};
use super::kinds::G;
use super::passwords::{PasswordBook, Status};
use super::{API, MARKER_TYPE, desired_attrs, encode_path, managed_by, name_parts, s};
use crate::org::Org;
use crate::plan::{Action, Change};
use crate::resource::{Attrs, Resource};
use crate::secrets::{Secret, Secrets};

/// What apply needs besides the change itself.
pub struct ApplyCtx<'a> {
    pub org: &'a Org,
    pub secrets: &'a Secrets,
    /// Where generated initial passwords are written (0600).
    pub password_file: PathBuf,
}

const RETRY: CallOpts = CallOpts {
    retry_not_found: true,
};

fn user_path(id: &str) -> String {
    format!("{API}/users/{}", encode_path(id))
}

fn group_path(id: &str) -> String {
    format!("{API}/groups/{}", encode_path(id))
}

/// A membership's path from its id, `group/member`.
fn member_path(id: &str) -> String {
    let (group, email) = id.split_once('/').unwrap_or((id, id));
    format!(
        "{API}/groups/{}/members/{}",
        encode_path(group),
        encode_path(email)
    )
}

/// PATCH that must succeed, retried while a new object is not visible yet.
async fn patch(session: &Session, path: &str, body: &Value) -> Result<(), GoogleError> {
    session
        .ok(Method::PATCH, path, &[], Some(body), RETRY)
        .await
        .map(drop)
}

/// Carries out one change.
pub async fn apply(
    session: &Session,
    ctx: &ApplyCtx<'_>,
    change: &Change,
) -> Result<(), GoogleError> {
    let org = ctx.org;
    let Some(tenant) = super::section::tenant(org) else {
        return Ok(());
    };
    let resource = org.resource(&change.address);
    let want = resource.map(|r| desired_attrs(org, r)).unwrap_or_default();
    let get = |k: &str| want.get(k).map(s).unwrap_or_default();
    let id = &change.address.id;
    let ou_path = |path: &str| {
        format!(
            "{API}/customer/{}/orgunits/{}",
            encode_path(&tenant.customer_id),
            encode_path(path.trim_start_matches('/'))
        )
    };
    match (G::of(change.address.kind), change.action) {
        (Some(G::OrgUnit), Action::Create) => {
            let path = get("path");
            let (parent, name) = path.rsplit_once('/').unwrap_or(("", &path));
            let description = want.get("description").cloned().unwrap_or(json!(""));
            let body = json!({
                "name": name,
                "parentOrgUnitPath": if parent.is_empty() { "/" } else { parent },
                "description": description,
            });
            let p = format!(
                "{API}/customer/{}/orgunits",
                encode_path(&tenant.customer_id)
            );
            let reply = session
                .call(Method::POST, &p, &[], Some(&body), RETRY)
                .await?;
            if reply.status.is_success() {
                return Ok(());
            }
            // A duplicate create (our own, after a lost reply) is answered 409 or 400
            // "Invalid Ou Id", the same words as for a bad path: what is there decides.
            if matches!(reply.status.as_u16(), 400 | 409) {
                // Right after our own create the org unit may not show yet; a bad path
                // never will, so 400 is looked for only briefly.
                let window = if reply.status == StatusCode::CONFLICT {
                    session.retry_for()
                } else {
                    session.retry_for().min(Duration::from_secs(10))
                };
                let at = ou_path(&path);
                let found = poll(window, || get_opt(session, &at, &[])).await?;
                if let Some(live) = found {
                    if live["description"] != description {
                        patch(session, &at, &json!({"description": description})).await?;
                    }
                    return Ok(());
                }
            }
            Err(http_error(&Method::POST, &p, &reply))
        }
        (Some(G::OrgUnit), Action::Update) => {
            let body =
                json!({"description": want.get("description").cloned().unwrap_or(json!(""))});
            patch(session, &ou_path(id), &body).await
        }
        (Some(G::OrgUnit), Action::Delete) => delete(session, &ou_path(id)).await,
        (Some(G::User), Action::Create) => {
            create_user(session, ctx, resource, &want, id).await?;
            let aliases = want.get("aliases").cloned().unwrap_or(Value::Null);
            sync_aliases(session, "users", id, &Value::Null, &aliases).await
        }
        (Some(G::User), Action::Adopt) => {
            let names: Vec<&str> = change.fields.iter().map(|f| f.name.as_str()).collect();
            adopt_user(session, org, id, &want, &names).await?;
            match alias_change(change) {
                Some((have, want)) => sync_aliases(session, "users", id, &have, &want).await,
                None => Ok(()),
            }
        }
        (Some(G::User), Action::Update) => {
            let names: Vec<&str> = change.fields.iter().map(|f| f.name.as_str()).collect();
            let body = match resource {
                // A leaver: only `suspended` changes.
                None => json!({"suspended": true}),
                Some(_) => Value::Object(user_body(&want, &names)),
            };
            if body.as_object().is_some_and(|b| !b.is_empty()) {
                patch(session, &user_path(id), &body).await?;
            }
            match alias_change(change) {
                Some((have, want)) => sync_aliases(session, "users", id, &have, &want).await,
                None => Ok(()),
            }
        }
        (Some(G::User), Action::Delete) => delete(session, &user_path(id)).await,
        (Some(G::Group), Action::Create) => {
            let body = json!({
                "email": want.get("email").cloned().unwrap_or(json!(id)),
                "name": get("name"),
                "description": want.get("description").cloned().unwrap_or(json!("")),
            });
            let p = format!("{API}/groups");
            let aliases = want.get("aliases").cloned().unwrap_or(Value::Null);
            if !insert(session, &p, &body, CallOpts::default()).await? {
                // Taken: ours after a lost reply, made by hand since the plan, or
                // somebody else's address. Only the group whose own address this is is
                // taken on.
                match owner(session, id).await? {
                    Owner::Group { primary, .. } if primary.eq_ignore_ascii_case(id) => {
                        let fields =
                            json!({"name": body["name"], "description": body["description"]});
                        patch(session, &group_path(id), &fields).await?;
                    }
                    other => return Err(GoogleError::Refused(other.refusal("group", id))),
                }
            }
            sync_aliases(session, "groups", id, &Value::Null, &aliases).await
        }
        (Some(G::Group), Action::Update) => {
            let mut body = Map::new();
            for f in change.fields.iter().filter(|f| f.name != "aliases") {
                if let Some(v) = &f.after {
                    body.insert(f.name.clone(), v.clone());
                }
            }
            if !body.is_empty() {
                patch(session, &group_path(id), &Value::Object(body)).await?;
            }
            match alias_change(change) {
                Some((have, want)) => sync_aliases(session, "groups", id, &have, &want).await,
                None => Ok(()),
            }
        }
        (Some(G::Group), Action::Delete) => delete(session, &group_path(id)).await,
        (Some(G::Member), Action::Create) => {
            let group = get("group");
            let p = format!("{API}/groups/{}/members", encode_path(&group));
            let body = json!({"email": get("email"), "role": get("role")});
            // 404 right after the user or group was created means "not visible yet".
            insert(session, &p, &body, RETRY).await.map(drop)
        }
        (Some(G::Member), Action::Update) => {
            patch(session, &member_path(id), &json!({"role": get("role")})).await
        }
        (Some(G::Member), Action::Delete) => delete(session, &member_path(id)).await,
        (Some(G::Offboarding), _) => offboard(session, org, id).await,
        (_, action) => Err(GoogleError::Refused(format!(
            "{}: Steward has no way to {action:?} it (a bug: please report it)",
            change.address.kind
        ))),
    }
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

async fn create_user(
    session: &Session,
    ctx: &ApplyCtx<'_>,
    resource: Option<&Resource>,
    want: &Attrs,
    id: &str,
) -> Result<(), GoogleError> {
    let org = ctx.org;
    let (given, family) = name_parts(want);
    let (password, generated) = initial_password(ctx, resource)?;
    let book = PasswordBook::new(ctx.password_file.clone());
    let settle = |status: Status| {
        if generated {
            book.settle(id, status).map_err(|e| {
                GoogleError::Refused(format!(
                    "cannot update {} ({e}): the record for {id} stays `pending`",
                    book.path().display()
                ))
            })
        } else {
            Ok(())
        }
    };
    // Written before the request: a lost reply or a kill cannot lose it.
    if generated {
        book.record(id, &password).map_err(|e| {
            GoogleError::Refused(format!(
                "cannot save the initial password of {id} to {} ({e}); the user was not created",
                book.path().display()
            ))
        })?;
    }
    let body = json!({
        "primaryEmail": want.get("email").cloned().unwrap_or(json!(id)),
        "name": {"givenName": given, "familyName": family},
        "orgUnitPath": want.str("org_unit"),
        "password": password.expose(),
        "changePasswordAtNextLogin": true,
        "suspended": want.get("suspended").cloned().unwrap_or(json!(false)),
        "externalIds": marker(org, &Value::Null),
    });
    let p = format!("{API}/users");
    // On an error here the outcome is unknown: the record stays pending.
    let reply = session
        .call(Method::POST, &p, &[], Some(&body), CallOpts::default())
        .await?;
    if reply.status.is_success() {
        return settle(Status::Created);
    }
    if reply.status != StatusCode::CONFLICT {
        settle(Status::NotCreated)?;
        return Err(http_error(&Method::POST, &p, &reply));
    }
    match owner(session, id).await? {
        // Our own create, whose reply was lost: it carries this org's marker.
        Owner::User { primary, data } if primary.eq_ignore_ascii_case(id) => {
            if managed_by(&data["externalIds"]).as_deref() == Some(org.id.as_str()) {
                settle(Status::Created)
            } else {
                // Made by hand since the plan: taken on as an adoption would, and its
                // password is left as it was.
                settle(Status::NotCreated)?;
                adopt_user(
                    session,
                    org,
                    id,
                    want,
                    &["name", "given_name", "family_name", "org_unit", "suspended"],
                )
                .await
            }
        }
        other => {
            settle(Status::NotCreated)?;
            Err(GoogleError::Refused(other.refusal("user", id)))
        }
    }
}

/// Takes on an existing user: reads it, keeps its other external ids, and writes only
/// the module's fields, if the user is still as read (If-Match).
async fn adopt_user(
    session: &Session,
    org: &Org,
    id: &str,
    want: &Attrs,
    fields: &[&str],
) -> Result<(), GoogleError> {
    let p = user_path(id);
    let query = [(
        "fields",
        "etag,primaryEmail,externalIds,suspended,suspensionReason".to_string(),
    )];
    let current = session
        .ok(Method::GET, &p, &query, None, CallOpts::default())
        .await?;
    if !current["primaryEmail"]
        .as_str()
        .is_some_and(|e| e.eq_ignore_ascii_case(id))
    {
        return Err(GoogleError::Refused(format!(
            "{id} is now an alias of {}: Steward will not change that user; plan again",
            s(&current["primaryEmail"])
        )));
    }
    if let Some(other) = managed_by(&current["externalIds"]).filter(|o| *o != org.id) {
        return Err(GoogleError::Refused(format!(
            "{id} is managed by org `{other}`: two org files declare it; remove it from one"
        )));
    }
    let google_suspended = current["suspended"] == true
        && current["suspensionReason"]
            .as_str()
            .is_some_and(|r| r != "ADMIN");
    let fields: Vec<&str> = fields
        .iter()
        .copied()
        .filter(|f| !(google_suspended && *f == "suspended"))
        .collect();
    let mut body = user_body(want, &fields);
    body.insert("externalIds".into(), marker(org, &current["externalIds"]));
    let etag = current["etag"].as_str();
    let reply = session
        .call_if(
            Method::PATCH,
            &p,
            &[],
            Some(&Value::Object(body)),
            RETRY,
            etag,
        )
        .await?;
    if reply.status == StatusCode::PRECONDITION_FAILED {
        return Err(GoogleError::Refused(format!(
            "{id} changed while Steward was adopting it; nothing was written: plan again"
        )));
    }
    if !reply.status.is_success() {
        return Err(http_error(&Method::PATCH, &p, &reply));
    }
    Ok(())
}

/// The PATCH body for the named fields of a user.
fn user_body(want: &Attrs, fields: &[&str]) -> Map<String, Value> {
    let mut body = Map::new();
    for f in fields {
        match *f {
            "name" | "given_name" | "family_name" => {
                let (given, family) = name_parts(want);
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
            _ => {}
        }
    }
    body
}

/// Steward's marker for the org, added to the user's other external ids (PATCH
/// replaces the whole array: an HR system's employee id must survive adoption).
fn marker(org: &Org, existing: &Value) -> Value {
    let mut ids: Vec<Value> = existing
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|e| !(e["type"] == "custom" && e["customType"] == MARKER_TYPE))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    ids.push(json!({"type": "custom", "customType": MARKER_TYPE, "value": org.id}));
    Value::Array(ids)
}

/// Who holds an address, as Google resolves it.
enum Owner {
    User { primary: String, data: Value },
    Group { primary: String },
    Nobody,
}

impl Owner {
    /// Why Steward will not take the address on.
    fn refusal(&self, noun: &str, id: &str) -> String {
        match self {
            Owner::User { primary, .. } if primary.eq_ignore_ascii_case(id) => format!(
                "cannot create {noun} {id}: the address belongs to a user; Steward will not change it"
            ),
            Owner::User { primary, .. } => format!(
                "cannot create {noun} {id}: the address is an alias of user {primary}; Steward will not change that user"
            ),
            Owner::Group { primary } if primary.eq_ignore_ascii_case(id) => format!(
                "cannot create {noun} {id}: the address belongs to a group; Steward will not change it"
            ),
            Owner::Group { primary } => format!(
                "cannot create {noun} {id}: the address is an alias of group {primary}; Steward will not change that group"
            ),
            Owner::Nobody => format!(
                "cannot create {noun} {id}: Google says the address is taken, but no user or group has it (perhaps a deleted user within its 20 days, or another service's address)"
            ),
        }
    }
}

/// A GET answered 404 is `None`; any other failure is an error.
async fn get_opt(
    session: &Session,
    path: &str,
    query: &[(&str, String)],
) -> Result<Option<Value>, GoogleError> {
    let reply = session
        .call(Method::GET, path, query, None, CallOpts::default())
        .await?;
    if reply.status.is_success() {
        Ok(Some(
            serde_json::from_str(&reply.text).unwrap_or(Value::Null),
        ))
    } else if reply.status == StatusCode::NOT_FOUND {
        Ok(None)
    } else {
        Err(http_error(&Method::GET, path, &reply))
    }
}

/// Asks `find` again with backoff while it finds nothing, for at most `window`: Google
/// shows a new object late, and a create whose reply was lost has just made one.
async fn poll<T, F, Fut>(window: Duration, mut find: F) -> Result<Option<T>, GoogleError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>, GoogleError>>,
{
    let deadline = Instant::now() + window;
    let mut wait = Duration::from_millis(100);
    loop {
        if let Some(found) = find().await? {
            return Ok(Some(found));
        }
        if Instant::now() + wait > deadline {
            return Ok(None);
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(5));
    }
}

/// Who holds an address that a create was just refused for, as users.get and
/// groups.get resolve it (primary address or alias).
async fn owner(session: &Session, address: &str) -> Result<Owner, GoogleError> {
    let found = poll(session.retry_for(), || async {
        let users = [("fields", "primaryEmail,externalIds".to_string())];
        if let Some(data) = get_opt(session, &user_path(address), &users).await? {
            return Ok(Some(Owner::User {
                primary: s(&data["primaryEmail"]),
                data,
            }));
        }
        let groups = [("fields", "email".to_string())];
        Ok(get_opt(session, &group_path(address), &groups)
            .await?
            .map(|data| Owner::Group {
                primary: s(&data["email"]),
            }))
    })
    .await?;
    Ok(found.unwrap_or(Owner::Nobody))
}

/// POST that creates; `Ok(false)` when the address is taken (409). What holds it is
/// for the caller to find out.
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
    } else if reply.status == StatusCode::PRECONDITION_FAILED {
        Err(GoogleError::Refused(format!(
            "Google refused the change: {} (a group cannot contain itself, directly or through other groups)",
            message(&reply.body)
        )))
    } else {
        Err(http_error(&Method::POST, path, &reply))
    }
}

/// The aliases of a user or group (`collection` `users` or `groups`) made to be
/// `want`, from `have`: added and removed one by one (the API has no other way).
async fn sync_aliases(
    session: &Session,
    collection: &str,
    id: &str,
    have: &Value,
    want: &Value,
) -> Result<(), GoogleError> {
    let list = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_ascii_lowercase)
            .collect()
    };
    let (have, want) = (list(have), list(want));
    let base = format!("{API}/{collection}/{}/aliases", encode_path(id));
    for alias in want.iter().filter(|a| !have.contains(a)) {
        // 404 right after the user or group was made: not visible yet.
        if !insert(session, &base, &json!({"alias": alias}), RETRY).await? {
            // Taken since the plan: by this object (a lost reply) is done, else refused.
            match owner(session, alias).await? {
                Owner::User { primary, .. } | Owner::Group { primary }
                    if primary.eq_ignore_ascii_case(id) => {}
                other => return Err(GoogleError::Refused(other.refusal("alias", alias))),
            }
        }
    }
    for alias in have.iter().filter(|a| !want.contains(a)) {
        delete(session, &format!("{base}/{}", encode_path(alias))).await?;
    }
    Ok(())
}

/// One step of a person's leaving (`user/step`), each safe to repeat: signing out
/// again is harmless, and what is already revoked is not in the lists any more.
async fn offboard(session: &Session, org: &Org, id: &str) -> Result<(), GoogleError> {
    let (user, step) = id.rsplit_once('/').unwrap_or((id, ""));
    let base = user_path(user);
    match step {
        "transfer" => {
            let person = org.resource(&G::User.at(user)).ok_or_else(|| {
                GoogleError::Refused(format!(
                    "{user} is not in the org file any more: plan again"
                ))
            })?;
            let to = super::people::policy(org, person, "transfer_to").ok_or_else(|| {
                GoogleError::Refused(format!("no `transfer_to` for {user} any more: plan again"))
            })?;
            transfer(session, user, &to).await
        }
        "sign-out" => session
            .ok(Method::POST, &format!("{base}/signOut"), &[], None, RETRY)
            .await
            .map(drop),
        "tokens" | "app-passwords" => {
            let (list, key) = if step == "tokens" {
                ("tokens", "clientId")
            } else {
                ("asps", "codeId")
            };
            let items = session
                .ok(Method::GET, &format!("{base}/{list}"), &[], None, RETRY)
                .await?;
            for item in items["items"].as_array().into_iter().flatten() {
                let item_id = match &item[key] {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                delete(session, &format!("{base}/{list}/{}", encode_path(&item_id))).await?;
            }
            Ok(())
        }
        other => Err(GoogleError::Refused(format!(
            "unknown leaving step `{other}` (a bug: please report it)"
        ))),
    }
}

const TRANSFER_API: &str = "admin/datatransfer/v1";

/// A user's numeric id, which the Data Transfer API names people by.
async fn user_id(session: &Session, email: &str) -> Result<String, GoogleError> {
    let u = session
        .ok(
            Method::GET,
            &user_path(email),
            &[("fields", "id".to_string())],
            None,
            RETRY,
        )
        .await?;
    Ok(s(&u["id"]))
}

/// Hands `from`'s Drive files and calendars to `to`, and waits until Google says it is
/// done. A transfer already asked for (an earlier apply) is waited on, not asked again.
async fn transfer(session: &Session, from: &str, to: &str) -> Result<(), GoogleError> {
    let (old, new) = (user_id(session, from).await?, user_id(session, to).await?);
    let listed = session
        .ok(
            Method::GET,
            &format!("{TRANSFER_API}/transfers"),
            &[("oldOwnerUserId", old.clone())],
            None,
            RETRY,
        )
        .await?;
    let earlier = listed["dataTransfers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| {
            t["newOwnerUserId"] == new.as_str() && t["overallTransferStatusCode"] != "failed"
        })
        .filter_map(|t| t["id"].as_str().map(str::to_string))
        .next_back();
    let id = match earlier {
        Some(id) => id,
        None => {
            let apps = session
                .ok(
                    Method::GET,
                    &format!("{TRANSFER_API}/applications"),
                    &[],
                    None,
                    RETRY,
                )
                .await?;
            let app = |name: &str| {
                apps["applications"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|a| a["name"] == name)
                    .map(|a| s(&a["id"]))
            };
            let mut moves = Vec::new();
            if let Some(drive) = app("Drive and Docs") {
                moves.push(
                    json!({"applicationId": drive, "applicationTransferParams": [
                    {"key": "PRIVACY_LEVEL", "value": ["PRIVATE", "SHARED"]}]}),
                );
            }
            if let Some(calendar) = app("Calendar") {
                moves.push(
                    json!({"applicationId": calendar, "applicationTransferParams": [
                    {"key": "RELEASE_RESOURCES", "value": ["TRUE"]}]}),
                );
            }
            let body = json!({"oldOwnerUserId": old, "newOwnerUserId": new, "applicationDataTransfers": moves});
            let made = session
                .ok(
                    Method::POST,
                    &format!("{TRANSFER_API}/transfers"),
                    &[],
                    Some(&body),
                    CallOpts::default(),
                )
                .await?;
            s(&made["id"])
        }
    };
    let deadline = std::time::Instant::now() + session.retry_for();
    let mut wait = Duration::from_millis(200);
    loop {
        let t = session
            .ok(
                Method::GET,
                &format!("{TRANSFER_API}/transfers/{}", encode_path(&id)),
                &[],
                None,
                RETRY,
            )
            .await?;
        match t["overallTransferStatusCode"].as_str().unwrap_or("") {
            "completed" => return Ok(()),
            "failed" => {
                return Err(GoogleError::Refused(format!(
                    "the transfer of {from}'s Drive files and calendars to {to} failed (transfer {id}); the account stays active and signed out. See the Admin console (Data transfers), then apply again"
                )));
            }
            _ if std::time::Instant::now() >= deadline => {
                return Err(GoogleError::Refused(format!(
                    "the transfer of {from}'s Drive files and calendars to {to} has not finished yet (transfer {id}); apply again later: the account is suspended once it has"
                )));
            }
            _ => {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// An update's `aliases` field: (before, after), when the change has it.
fn alias_change(change: &Change) -> Option<(Value, Value)> {
    change.fields.iter().find(|f| f.name == "aliases").map(|f| {
        (
            f.before.clone().unwrap_or(Value::Null),
            f.after.clone().unwrap_or(Value::Null),
        )
    })
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
