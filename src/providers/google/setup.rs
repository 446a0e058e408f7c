//! The set-up mistakes a pool makes most when it connects an org to Google, told as
//! one line each: what is wrong and how to fix it.

use reqwest::Method;
use serde_json::Value;

use super::API;
use super::auth::SCOPES;
use super::client::{CallOpts, GoogleError, Session};
use super::section::GoogleTenant;

/// Turns a failed refresh into its likely cause and fix, when it is a set-up mistake.
/// Other errors are returned as they are.
pub async fn explain(session: &Session, tenant: &GoogleTenant, e: GoogleError) -> GoogleError {
    let admin = &tenant.admin;
    match &e {
        GoogleError::Auth(why) if why.contains("unauthorized_client") => {
            GoogleError::Refused(format!(
                "Google will not let service account {} act for {admin}: domain-wide delegation is not set up for it. In the Admin console (Security > Access and data control > API controls > Domain-wide delegation) add the service account's client ID with the scopes {}",
                session.client_email(),
                SCOPES.join(",")
            ))
        }
        GoogleError::Auth(why) if why.contains("Invalid email or User ID") => {
            GoogleError::Refused(format!(
                "google.admin `{admin}` is not a user of this Google Workspace: set it to an administrator's address"
            ))
        }
        GoogleError::Http {
            status: 403,
            message,
            ..
        } if message.contains("Not Authorized") => {
            // The same 403 answers a non-admin and a customer id that is not the
            // admin's: asking with `my_customer` tells them apart (only on failure).
            let probe = session
                .call(
                    Method::GET,
                    &format!("{API}/users"),
                    &[
                        ("customer", "my_customer".to_string()),
                        ("maxResults", "1".to_string()),
                        ("fields", "users(customerId)".to_string()),
                    ],
                    None,
                    CallOpts::default(),
                )
                .await;
            match probe {
                Ok(r) if r.status.is_success() => {
                    let v: Value = serde_json::from_str(&r.text).unwrap_or(Value::Null);
                    let real = v["users"][0]["customerId"].as_str().unwrap_or("");
                    let hint = if real.is_empty() {
                        "the Admin console shows it under Account > Account settings".to_string()
                    } else {
                        format!("{admin} belongs to customer `{real}`")
                    };
                    GoogleError::Refused(format!(
                        "google.customer_id `{}` is not this Google Workspace's customer id: {hint}",
                        tenant.customer_id
                    ))
                }
                _ => GoogleError::Refused(format!(
                    "{admin} is not an administrator: Google answered 403 \"Not Authorized to access this resource/api\". Make {admin} a super admin (or an admin with user, group and org-unit rights), or set google.admin to one"
                )),
            }
        }
        _ => e,
    }
}
