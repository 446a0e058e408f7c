//! Reading an existing Google Workspace into the `accounts` module's inputs, for
//! `steward import`: the same list calls a plan makes (org units, users with their
//! aliases, groups), plus the tenant's domains and every group's members. What the
//! module cannot express is returned as notes, never dropped in silence.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::client::{CallOpts, GoogleError, Http};
use super::section::GoogleTenant;
use super::{
    API, GroupItem, MemberItem, OrgUnitItem, USER_FIELDS, UserItem, encode_path, list_members,
    list_tenant, managed_by, name_parts,
};
use crate::resource::Attrs;
use crate::secrets::Secrets;

/// What the tenant holds, as the `accounts` module's inputs.
#[derive(Debug, Default)]
pub struct Accounts {
    /// The tenant's domains, its primary first.
    pub domains: Vec<String>,
    pub org_units: Vec<String>,
    pub groups: Vec<Value>,
    pub users: Vec<Value>,
    /// (what, why) for each thing left as it is in the tenant.
    pub left_out: Vec<(String, String)>,
    /// Requests made.
    pub requests: u64,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct DomainItem {
    domain_name: String,
    #[serde(default)]
    is_primary: bool,
}

/// Reads the tenant and turns it into module inputs for org `org_id`.
pub async fn read(
    http: &Arc<Http>,
    tenant: &GoogleTenant,
    secrets: &Secrets,
    org_id: &str,
) -> Result<Accounts, GoogleError> {
    let session = super::connect(http, tenant, secrets)?;
    let cid = &tenant.customer_id;
    let domains_path = format!("{API}/customer/{}/domains", encode_path(cid));
    let domains_query = [("fields", "domains(domainName,isPrimary)".to_string())];
    let schemas_path = format!("{API}/customer/{}/schemas", encode_path(cid));
    let schemas_query = [(
        "fields",
        "schemas(schemaName,displayName,fields(fieldName))".to_string(),
    )];
    // A plan's mask, and who holds an admin role (which the module cannot say).
    let user_fields = USER_FIELDS.replace("isAdmin,", "isAdmin,isDelegatedAdmin,");
    let get = reqwest::Method::GET;
    let before = session.counts().0;
    let read = tokio::try_join!(
        session.ok(
            get.clone(),
            &domains_path,
            &domains_query,
            None,
            CallOpts::default()
        ),
        session.ok(
            get,
            &schemas_path,
            &schemas_query,
            None,
            CallOpts::default()
        ),
        list_tenant(&session, cid, &user_fields),
    );
    let (domains, schemas, (ous, users, groups)) = match read {
        Ok(r) => r,
        Err(e) => return Err(super::setup::explain(&session, tenant, e).await),
    };
    let domains: Vec<DomainItem> =
        serde_json::from_value(domains["domains"].clone()).unwrap_or_default();
    let mut owned: Vec<String> = domains
        .iter()
        .filter(|d| d.is_primary)
        .chain(domains.iter().filter(|d| !d.is_primary))
        .map(|d| d.domain_name.to_ascii_lowercase())
        .collect();
    owned.dedup();
    for d in &tenant.domains {
        if !owned.contains(d) {
            return Err(GoogleError::Refused(format!(
                "customer `{cid}` does not own the domain `{d}`: its domains are {}",
                owned.join(", ")
            )));
        }
    }
    let emails: Vec<String> = groups
        .iter()
        .map(|g| g.email.to_ascii_lowercase())
        .collect();
    let member_lists = list_members(&session, &emails).await?;
    let mut out = convert(tenant, org_id, &owned, ous, users, groups, member_lists);
    for schema in schemas["schemas"].as_array().into_iter().flatten() {
        let name = schema["schemaName"].as_str().unwrap_or("?");
        let fields = schema["fields"].as_array().map_or(0, Vec::len);
        out.left_out.push((
            format!("custom user schema {name} ({fields} field(s))"),
            "the accounts module has no custom attributes; users' values in it are left as they are".into(),
        ));
    }
    out.requests = session.counts().0 - before + 1;
    Ok(out)
}

/// An address as the file writes it: the local part in the org's primary domain
/// (`staff`), else whole.
fn short(email: &str, primary: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) if domain.eq_ignore_ascii_case(primary) => local.to_string(),
        _ => email.to_string(),
    }
}

fn convert(
    tenant: &GoogleTenant,
    org_id: &str,
    domains: &[String],
    ous: Vec<OrgUnitItem>,
    users: Vec<UserItem>,
    groups: Vec<GroupItem>,
    members: Vec<(String, Vec<MemberItem>)>,
) -> Accounts {
    let primary = tenant
        .domains
        .first()
        .cloned()
        .or_else(|| domains.first().cloned())
        .unwrap_or_default();
    let in_org = |email: &str| {
        email
            .rsplit_once('@')
            .is_some_and(|(_, d)| tenant.domains.iter().any(|x| x.eq_ignore_ascii_case(d)))
    };
    let mut left_out = Vec::new();

    // Org units, parents before children.
    let mut org_units: Vec<String> = ous
        .iter()
        .map(|o| o.org_unit_path.clone())
        .filter(|p| p != "/")
        .collect();
    org_units.sort_by(|a, b| {
        (a.matches('/').count(), a.to_ascii_lowercase())
            .cmp(&(b.matches('/').count(), b.to_ascii_lowercase()))
    });
    for o in &ous {
        if !o.description.is_empty() {
            left_out.push((
                format!("org unit {}: its description", o.org_unit_path),
                "the module has no org unit descriptions; it is left as it is".into(),
            ));
        }
    }

    // Users the file will declare.
    let mut declared: BTreeSet<String> = BTreeSet::new();
    let mut kept_users: Vec<&UserItem> = Vec::new();
    for u in &users {
        let email = u.primary_email.to_ascii_lowercase();
        if email.eq_ignore_ascii_case(&tenant.admin) {
            left_out.push((
                format!("user {email}"),
                "the administrator Steward acts as: kept out of the file, so no plan can suspend or change it".into(),
            ));
            continue;
        }
        if !in_org(&email) {
            left_out.push((
                format!("user {email}"),
                "its address is in none of the org's domains (add the domain with --google to import it)".into(),
            ));
            continue;
        }
        if let Some(other) = managed_by(&u.external_ids).filter(|o| o != org_id) {
            left_out.push((
                format!("user {email}"),
                format!("managed by org `{other}` (Steward's marker is on the account): it stays that org's"),
            ));
            continue;
        }
        if u.is_admin || u.is_delegated_admin {
            left_out.push((
                format!("user {email}: an administrator role"),
                "the accounts module has no admin roles: the user is imported, the role is left as it is".into(),
            ));
        }
        declared.insert(email);
        kept_users.push(u);
    }
    let group_emails: BTreeSet<String> = groups
        .iter()
        .filter(|g| in_org(&g.email))
        .map(|g| g.email.to_ascii_lowercase())
        .collect();
    for g in groups.iter().filter(|g| !in_org(&g.email)) {
        left_out.push((
            format!("group {}", g.email.to_ascii_lowercase()),
            "its address is in none of the org's domains".into(),
        ));
    }

    // Memberships: a user's plain membership goes under the user (`groups`), the rest
    // under the group.
    let mut user_groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut group_parts: BTreeMap<String, BTreeMap<&'static str, Vec<Value>>> = BTreeMap::new();
    for (group, list) in &members {
        if !group_emails.contains(group) {
            continue;
        }
        for m in list {
            let email = m.email.to_ascii_lowercase();
            if email.is_empty() {
                left_out.push((
                    format!("group {group}: member {} ({})", m.id, m.kind),
                    "a member with no address (such as everyone in the domain): the module cannot name it; Steward leaves it in the group".into(),
                ));
                continue;
            }
            let role = if m.role.is_empty() {
                "MEMBER"
            } else {
                m.role.as_str()
            };
            let known = declared.contains(&email) || group_emails.contains(&email);
            let parts = group_parts.entry(group.clone()).or_default();
            match (known, role) {
                (true, "MEMBER") if declared.contains(&email) => {
                    user_groups
                        .entry(email)
                        .or_default()
                        .push(short(group, &primary));
                }
                // The module takes whole addresses here (its `groups` under a user take
                // short names).
                (true, "MEMBER") => parts.entry("members").or_default().push(json!(email)),
                (true, "MANAGER") => parts.entry("managers").or_default().push(json!(email)),
                (true, "OWNER") => parts.entry("owners").or_default().push(json!(email)),
                (_, role) => {
                    let mut m = Map::new();
                    m.insert("email".into(), json!(email));
                    if role != "MEMBER" {
                        m.insert("role".into(), json!(role));
                    }
                    parts
                        .entry("external_members")
                        .or_default()
                        .push(Value::Object(m));
                }
            }
        }
    }

    let mut out_groups = Vec::new();
    let mut sorted_groups: Vec<&GroupItem> = groups.iter().filter(|g| in_org(&g.email)).collect();
    sorted_groups.sort_by_key(|g| g.email.to_ascii_lowercase());
    for g in sorted_groups {
        let email = g.email.to_ascii_lowercase();
        let mut v = Map::new();
        v.insert("email".into(), json!(email));
        v.insert("name".into(), json!(g.name));
        if !g.description.is_empty() {
            v.insert("description".into(), json!(g.description));
        }
        let aliases = own_aliases(&g.aliases, &in_org, &email, &mut left_out);
        if !aliases.is_empty() {
            v.insert("aliases".into(), json!(aliases));
        }
        if let Some(parts) = group_parts.remove(&email) {
            for key in ["owners", "managers", "members", "external_members"] {
                if let Some(list) = parts.get(key) {
                    v.insert(key.into(), Value::Array(list.clone()));
                }
            }
        }
        out_groups.push(Value::Object(v));
    }

    let mut out_users = Vec::new();
    kept_users.sort_by_key(|u| u.primary_email.to_ascii_lowercase());
    for u in kept_users {
        let email = u.primary_email.to_ascii_lowercase();
        let mut v = Map::new();
        v.insert("email".into(), json!(email));
        // `name` when it splits back into the same parts, else the parts.
        let full = u.name.full_name.trim();
        let mut probe = Attrs::default();
        probe.insert("name", json!(full));
        let (given, family) = name_parts(&probe);
        if !full.is_empty()
            && given == u.name.given_name.trim()
            && family == u.name.family_name.trim()
        {
            v.insert("name".into(), json!(full));
        } else {
            v.insert("given_name".into(), json!(u.name.given_name.trim()));
            v.insert("family_name".into(), json!(u.name.family_name.trim()));
        }
        if u.org_unit_path != "/" && !u.org_unit_path.is_empty() {
            v.insert("org_unit".into(), json!(u.org_unit_path));
        }
        if u.suspended {
            v.insert("suspended".into(), json!(true));
            if !u.suspension_reason.is_empty() && u.suspension_reason != "ADMIN" {
                left_out.push((
                    format!(
                        "user {email}: suspended by Google ({})",
                        u.suspension_reason
                    ),
                    "imported as suspended; only Google lifts such a suspension".into(),
                ));
            }
        }
        if let Some(groups) = user_groups.remove(&email) {
            v.insert("groups".into(), json!(groups));
        }
        let aliases = own_aliases(&u.aliases, &in_org, &email, &mut left_out);
        if !aliases.is_empty() {
            v.insert("aliases".into(), json!(aliases));
        }
        out_users.push(Value::Object(v));
    }

    Accounts {
        domains: domains.to_vec(),
        org_units,
        groups: out_groups,
        users: out_users,
        left_out,
        requests: 0,
    }
}

/// The aliases an administrator made in the org's domains, lower-cased and sorted;
/// others are noted.
fn own_aliases(
    aliases: &[String],
    in_org: &dyn Fn(&str) -> bool,
    owner: &str,
    left_out: &mut Vec<(String, String)>,
) -> Vec<String> {
    let mut a: Vec<String> = Vec::new();
    for alias in aliases.iter().map(|x| x.to_ascii_lowercase()) {
        if in_org(&alias) {
            a.push(alias);
        } else {
            left_out.push((
                format!("{owner}: alias {alias}"),
                "in none of the org's domains (add the domain with --google to import it); left as it is".into(),
            ));
        }
    }
    a.sort();
    a.dedup();
    a
}
