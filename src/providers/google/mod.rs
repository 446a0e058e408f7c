//! Google Workspace through the Admin SDK Directory API: org units, users, groups and
//! group members.
//!
//! Refresh reads everything with list calls at the largest page size and `fields` masks:
//! one call for org units, ceil(n/500) for users, ceil(n/200) for groups, and
//! ceil(n/200) per managed group for members. Users Steward creates or adopts carry an
//! external id naming the org, which is how a user removed from the file (a leaver) is
//! told apart from one that was never in it (unmanaged).

mod apply;
pub mod auth;
pub mod client;
pub mod config;
pub mod import;
pub mod kinds;
pub mod measure;
pub mod passwords;
pub mod people;
mod provider;
mod review;
pub mod section;
mod setup;
pub mod validate;

pub use apply::{ApplyCtx, apply};
pub use provider::ENTRY;
pub use review::review;

use self::kinds::{G, GROUP, MEMBER, ORG_UNIT, USER};

/// The provider's name in the registry and in every kind it declares.
pub const NAME: &str = "google";

use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::future::try_join_all;
use serde_json::{Value, json};

use self::client::{GoogleError, Http, Session};
use self::section::GoogleTenant;
use crate::org::Org;
use crate::plan::{Action, Change, FieldChange, source_of};
use crate::providers::{LiveObject, LiveState};
use crate::resource::{Address, Attrs, Resource};
use crate::secrets::Secrets;

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

/// A JSON string's text, or empty.
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
    #[serde(default)]
    given_name: String,
    #[serde(default)]
    family_name: String,
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
    #[serde(default)]
    suspension_reason: String,
    /// Typed `any` in the discovery document: kept loose.
    #[serde(default)]
    external_ids: Value,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    non_editable_aliases: Vec<String>,
    /// For the standard's measures (kept out of the live state) and an import.
    #[serde(default)]
    is_admin: bool,
    /// Read by an import only (its mask asks for it).
    #[serde(default)]
    is_delegated_admin: bool,
    #[serde(default, rename = "isEnrolledIn2Sv")]
    enrolled_2sv: bool,
    #[serde(default)]
    last_login_time: String,
    #[serde(default)]
    creation_time: String,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupItem {
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    non_editable_aliases: Vec<String>,
}

#[derive(serde::Deserialize)]
struct MemberItem {
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    id: String,
}

/// Aliases of a user or group, lower-cased (Google addresses ignore case) and sorted:
/// `aliases` is the ones an administrator made (what a file manages), `all_aliases`
/// adds those Google derives for domain aliases (what no other object may take).
fn all_aliases(a: Vec<String>, b: Vec<String>) -> Value {
    let mut all: Vec<String> = a
        .into_iter()
        .chain(b)
        .map(|x| x.to_ascii_lowercase())
        .collect();
    all.sort();
    all.dedup();
    json!(all)
}

/// The masks refresh reads with: everything plan needs, aliases included, in the list
/// calls it makes anyway.
/// The last four are for the standard's measures: in the same call, not another.
const USER_FIELDS: &str = "nextPageToken,users(primaryEmail,aliases,nonEditableAliases,name(givenName,familyName,fullName),orgUnitPath,suspended,suspensionReason,externalIds,isAdmin,isEnrolledIn2Sv,lastLoginTime,creationTime)";
const GROUP_FIELDS: &str =
    "nextPageToken,groups(email,aliases,nonEditableAliases,name,description)";
const MEMBER_FIELDS: &str = "nextPageToken,members(email,role,type,id)";

/// Reads the org's live state in as few calls as the API allows, and what the
/// standard's measures need of its people.
pub async fn refresh(
    session: &Session,
    org: &Org,
) -> Result<(LiveState, measure::People), GoogleError> {
    let Some(tenant) = section::tenant(org) else {
        return Ok(Default::default());
    };
    match read(session, org, tenant).await {
        Ok(live) => Ok(live),
        Err(e) => Err(setup::explain(session, tenant, e).await),
    }
}

/// The tenant's org units, users (with the `user_fields` mask) and groups, read at once
/// at the largest page sizes: the list calls a plan makes (and an import).
async fn list_tenant(
    session: &Session,
    cid: &str,
    user_fields: &str,
) -> Result<(Vec<OrgUnitItem>, Vec<UserItem>, Vec<GroupItem>), GoogleError> {
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
        ("customer", cid.to_string()),
        ("maxResults", "500".to_string()),
        ("fields", user_fields.to_string()),
    ];
    let groups_path = format!("{API}/groups");
    let groups_query = [
        ("customer", cid.to_string()),
        ("maxResults", "200".to_string()),
        ("fields", GROUP_FIELDS.to_string()),
    ];
    tokio::try_join!(
        session.list::<OrgUnitItem>(&ou_path, &ou_query),
        session.list::<UserItem>(&users_path, &users_query),
        session.list::<GroupItem>(&groups_path, &groups_query),
    )
}

/// The members of each of `groups`, read at once, 200 a page.
async fn list_members(
    session: &Session,
    groups: &[String],
) -> Result<Vec<(String, Vec<MemberItem>)>, GoogleError> {
    try_join_all(groups.iter().map(|g| {
        let path = format!("{API}/groups/{}/members", encode_path(g));
        async move {
            let query = [
                ("maxResults", "200".to_string()),
                ("fields", MEMBER_FIELDS.to_string()),
            ];
            let members = session.list::<MemberItem>(&path, &query).await?;
            Ok::<_, GoogleError>((g.clone(), members))
        }
    }))
    .await
}

async fn read(
    session: &Session,
    org: &Org,
    tenant: &GoogleTenant,
) -> Result<(LiveState, measure::People), GoogleError> {
    let (ous, users, groups) = list_tenant(session, &tenant.customer_id, USER_FIELDS).await?;
    let people = measure::People::of(&users, &tenant.domains);

    let mut objects = BTreeMap::new();
    for ou in ous {
        let mut attrs = Attrs::default();
        attrs.insert("path", json!(ou.org_unit_path));
        attrs.insert("description", json!(ou.description));
        objects.insert(
            Address {
                kind: ORG_UNIT,
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
        attrs.insert("given_name", json!(u.name.given_name));
        attrs.insert("family_name", json!(u.name.family_name));
        attrs.insert("org_unit", json!(u.org_unit_path));
        attrs.insert("suspended", json!(u.suspended));
        if u.suspended && !u.suspension_reason.is_empty() {
            attrs.insert("suspension_reason", json!(u.suspension_reason));
        }
        attrs.insert(
            "managed_by",
            managed_by(&u.external_ids).map_or(Value::Null, Value::String),
        );
        attrs.insert("aliases", all_aliases(u.aliases.clone(), Vec::new()));
        attrs.insert(
            "all_aliases",
            all_aliases(u.aliases, u.non_editable_aliases),
        );
        objects.insert(
            Address {
                kind: USER,
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
        attrs.insert("aliases", all_aliases(g.aliases.clone(), Vec::new()));
        attrs.insert(
            "all_aliases",
            all_aliases(g.aliases, g.non_editable_aliases),
        );
        let address = Address {
            kind: GROUP,
            id: email.clone(),
        };
        if org.resource(&address).is_some() {
            live_groups.push(email);
        }
        objects.insert(address, LiveObject { attrs });
    }
    // Members only of the groups this org manages: others are not Steward's business.
    let member_lists = list_members(session, &live_groups).await?;
    for (group, members) in member_lists {
        for m in members {
            // A member with no address ("everyone in the domain", type CUSTOMER) is
            // kept under its id; Steward never plans to remove it.
            let email = if m.email.is_empty() {
                format!("{}:{}", m.kind.to_ascii_lowercase(), m.id)
            } else {
                m.email.to_ascii_lowercase()
            };
            let mut attrs = Attrs::default();
            attrs.insert("group", json!(group));
            attrs.insert("email", json!(email));
            attrs.insert("role", json!(m.role));
            if !m.kind.is_empty() {
                attrs.insert("member_type", json!(m.kind));
            }
            objects.insert(
                Address {
                    kind: MEMBER,
                    id: format!("{group}/{email}"),
                },
                LiveObject { attrs },
            );
        }
    }
    Ok((LiveState { objects }, people))
}

/// A person's given and family names: the file's `given_name`/`family_name`, or its
/// `name` split after the first word ("Joost van der Berg": "Joost", "van der Berg").
pub fn name_parts(attrs: &Attrs) -> (String, String) {
    let given = attrs.str("given_name").trim();
    let family = attrs.str("family_name").trim();
    if !given.is_empty() || !family.is_empty() {
        return (given.to_string(), family.to_string());
    }
    let mut words = attrs.str("name").split_whitespace();
    let first = words.next().unwrap_or_default().to_string();
    let rest: Vec<&str> = words.collect();
    (first, rest.join(" "))
}

/// The attributes Steward manages on a resource, with what the file leaves implicit.
pub fn desired_attrs(org: &Org, r: &Resource) -> Attrs {
    let mut attrs = r.attrs.clone();
    match G::of(r.address.kind) {
        Some(G::User) => {
            // Google derives the full name from the parts: that is what converges.
            let (given, family) = name_parts(&r.attrs);
            // A one-word name has no family part: no trailing space either.
            attrs.insert("name", json!(format!("{given} {family}").trim()));
            // Suspended before a person starts and after they leave, on the plan's day.
            attrs.insert("suspended", people::suspended(&r.attrs, &org.today));
            for k in people::LIFE_ATTRIBUTES {
                attrs.remove(k);
            }
            attrs.insert("managed_by", json!(org.id));
            normalise_aliases(&mut attrs);
        }
        Some(G::Group) => normalise_aliases(&mut attrs),
        Some(G::Member) => {
            // Whether the file declares the member is the file's business, not Google's.
            attrs.remove("external");
            if !attrs.contains_key("role") {
                attrs.insert("role", json!("MEMBER"));
            }
        }
        _ => {}
    }
    attrs
}

/// A file's `aliases` as refresh reads them: lower-cased and sorted.
fn normalise_aliases(attrs: &mut Attrs) {
    if let Some(list) = attrs.get("aliases").and_then(Value::as_array) {
        let names = list
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
        attrs.insert("aliases", all_aliases(names, Vec::new()));
    }
}

/// Leavers and stray members (changes), and unmanaged objects (left alone).
pub fn orphans(org: &Org, live: &LiveState) -> (Vec<Change>, Vec<Address>) {
    let mut changes = Vec::new();
    let mut unmanaged = Vec::new();
    let Some(tenant) = section::tenant(org) else {
        return (changes, unmanaged);
    };
    // Settings come from the module that has them, even when it renders no resource
    // any more (the last user removed from the file is a leaver too).
    let module = org
        .modules
        .iter()
        .find(|m| org.setting(m, "leavers").is_some())
        .cloned()
        .or_else(|| {
            org.resources
                .iter()
                .find(|r| r.address.kind.provider() == NAME)
                .map(|r| r.module.clone())
        });
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
        match G::of(address.kind) {
            Some(G::User) => {
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
                        reason: Some(
                            "leaver: delete; Google keeps a deleted user restorable for 20 days"
                                .into(),
                        ),
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
            Some(G::Member) => {
                // Only members of managed groups are listed; membership there is
                // authoritative.
                let group = obj.attrs.get("group").and_then(Value::as_str).unwrap_or("");
                let group_res = org.resource(&Address {
                    kind: GROUP,
                    id: group.to_string(),
                });
                let Some(group_res) = group_res else { continue };
                // "Everyone in the domain" and other members with no address are not
                // in the module's vocabulary: kept as they are.
                if !obj.attrs.str("email").contains('@') {
                    continue;
                }
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
            Some(G::Group) => unmanaged.push(address.clone()),
            Some(G::OrgUnit) if address.id != "/" => unmanaged.push(address.clone()),
            // Other providers' objects are theirs to judge.
            _ => {}
        }
    }
    (changes, unmanaged)
}

#[cfg(test)]
mod tests {
    #[test]
    fn org_unit_paths_keep_slashes_and_encode_the_rest() {
        assert_eq!(super::encode_path("Staff/Front desk"), "Staff/Front%20desk");
        assert_eq!(super::encode_path("a@b.org"), "a@b.org");
    }

    #[test]
    fn a_lone_name_splits_after_the_first_word() {
        let parts = |name: &str| {
            let mut a = crate::resource::Attrs::default();
            a.insert("name", serde_json::json!(name));
            super::name_parts(&a)
        };
        assert_eq!(parts("Dana Whitfield"), ("Dana".into(), "Whitfield".into()));
        assert_eq!(
            parts("Joost van der Berg"),
            ("Joost".into(), "van der Berg".into())
        );
        assert_eq!(
            parts("  Dana   Whitfield "),
            ("Dana".into(), "Whitfield".into())
        );
        assert_eq!(parts("Cher"), ("Cher".into(), String::new()));
        let mut a = crate::resource::Attrs::default();
        a.insert("name", serde_json::json!("Mary Ann Lee"));
        a.insert("given_name", serde_json::json!("Mary Ann"));
        a.insert("family_name", serde_json::json!("Lee"));
        assert_eq!(super::name_parts(&a), ("Mary Ann".into(), "Lee".into()));
    }
}
