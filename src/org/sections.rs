//! The org file's top level: each provider's section, the org's own keys (id, name,
//! contacts, accepted drift), all checked against their schema.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, LazyLock};

use serde_json::Value;

use super::{Accepted, Contact, id_from_path};
use crate::diag::{Problem, Problems, SourceFile};
use crate::pool::Pool;
use crate::providers::{OrgContext, Parts};
use crate::resource::Address;
use crate::schema::{Ctx, Schema};
use crate::secrets::{SecretScope, Secrets};
use crate::yaml::Node;

/// The org file's own keys, and each provider's section under its key.
static ORG_SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    let mut schema: Schema = serde_yaml::from_str(include_str!("org_schema.yaml"))
        .unwrap_or_else(|e| panic!("built-in org schema is invalid: {e}"));
    let fields = schema.fields.get_or_insert_with(BTreeMap::new);
    for section in crate::providers::REGISTRY.iter().filter_map(|p| p.section) {
        let part: Schema = serde_yaml::from_str(section.schema)
            .unwrap_or_else(|e| panic!("the `{}` section's schema is invalid: {e}", section.key));
        fields.insert(section.key.to_string(), part);
    }
    schema
});

/// The JSON Schema of an org file with `catalogue`'s modules, for editors
/// (`steward schema`).
pub fn json_schema(catalogue: &crate::modules::Catalogue) -> Value {
    let mut schema = ORG_SCHEMA.to_json_schema();
    let modules: serde_json::Map<String, Value> = catalogue
        .modules
        .iter()
        .map(|(name, m)| {
            let mut s = m.input_schema.to_json_schema();
            s["description"] = Value::String(m.spec.description.clone());
            (name.clone(), s)
        })
        .collect();
    schema["properties"]["modules"] = serde_json::json!({
        "type": "object",
        "description": "the modules this org uses, each with its inputs (`steward modules`)",
        "properties": modules,
        "additionalProperties": false,
    });
    schema["$schema"] = "http://json-schema.org/draft-07/schema#".into();
    schema["title"] = "Steward org file".into();
    schema
}

/// What the top level of an org file says, checked.
pub(super) struct Top {
    pub id: String,
    /// The whole file as checked JSON (modules' inputs are checked apart).
    pub value: Value,
    pub context: OrgContext,
    pub scope: SecretScope,
    pub sections: Parts,
    pub contacts: Vec<Contact>,
    pub accepted: Vec<Accepted>,
}

/// Checks the top level of an org file; every problem goes to `problems`.
pub(super) fn check(
    pool: &Pool,
    secrets: &Secrets,
    path: &Path,
    file: &Arc<SourceFile>,
    root: &Node,
    problems: &mut Problems,
) -> Top {
    // What each provider's section tells the rest of the file: the domains addresses
    // must be in, the host names module inputs may name.
    let mut context = crate::providers::OrgContext::default();
    for section in crate::providers::REGISTRY.iter().filter_map(|p| p.section) {
        if let Some(node) = root.get(section.key) {
            (section.context)(node, &mut context);
        }
    }

    // An org file names its own secrets (by its file name, which is its id).
    let scope = crate::secrets::SecretScope {
        org: id_from_path(path),
        shared: pool.config.secrets.shared.clone(),
    };
    let value = {
        let mut ctx = Ctx {
            file,
            domains: &context.domains,
            hosts: &context.hosts,
            secrets,
            scope: &scope,
            problems,
        };
        ORG_SCHEMA.check(root, "", &mut ctx)
    };

    let id = value["org"].as_str().unwrap_or_default().to_string();
    let stem = id_from_path(path);
    if let Some(node) = root.get("org")
        && !id.is_empty()
        && id != stem
    {
        problems.push(
            Problem::at(
                "org_id_mismatch",
                file,
                node.span,
                format!("org id `{id}` does not match the file name `{stem}.yaml`"),
                "must match the file name",
            )
            .with_help(format!(
                "rename the file to orgs/{id}.yaml, or set `org: {stem}`"
            )),
        );
    }
    let mut sections = crate::providers::Parts::default();
    for provider in crate::providers::REGISTRY {
        let Some(section) = provider.section else {
            continue;
        };
        if let Some(node) = root.get(section.key) {
            let input = crate::providers::SectionInput {
                node,
                value: &value[section.key],
                file,
                context: &context,
            };
            sections.insert(provider.name, (section.build)(&input, problems));
        }
    }
    let contacts = value["contacts"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| Contact {
                    name: c["name"].as_str().unwrap_or_default().to_string(),
                    email: c["email"].as_str().unwrap_or_default().to_string(),
                    reports: c["reports"].as_bool().unwrap_or(false),
                })
                .collect()
        })
        .unwrap_or_default();

    let mut accepted = Vec::new();
    for (i, a) in value["accepted_drift"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let path = format!("accepted_drift.{i}.resource");
        // A value that is not text was reported by the schema already.
        let Some(text) = a["resource"].as_str() else {
            continue;
        };
        let span = root.at_path(&path).map(|n| n.span).unwrap_or_default();
        match Address::parse(text) {
            Ok(address) => accepted.push(Accepted {
                address,
                fields: a["fields"]
                    .as_array()
                    .map(|f| f.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
                    .unwrap_or_default(),
                reason: a["reason"].as_str().unwrap_or_default().to_string(),
                until: a["until"].as_str().unwrap_or_default().to_string(),
                until_day: a["until"]
                    .as_str()
                    .and_then(crate::util::parse_date)
                    .unwrap_or(i64::MIN),
                line: file.line_col(span).0,
            }),
            Err(why) => problems.push(
                Problem::at("bad_address", file, span, why, "not a resource address")
                    .with_help("write it as the plan or drift report shows it, e.g. google_user[ann@example.org]"),
            ),
        }
    }
    Top {
        id,
        value,
        context,
        scope,
        sections,
        contacts,
        accepted,
    }
}
