//! `google:` in an org file: the tenant, its domains, and who may act for it.

use std::sync::Arc;

use super::NAME;
use crate::diag::{Problem, Problems};
use crate::org::Org;
use crate::providers::{Claim, OrgSection, Part, SectionInput};
use crate::yaml::Node;

/// The Google Workspace tenant of an org.
#[derive(Debug, Clone)]
pub struct GoogleTenant {
    pub domains: Vec<String>,
    pub customer_id: String,
    pub admin: String,
    /// Name of the secret holding the service-account key (JSON).
    pub credentials: String,
}

/// The org's tenant, if its file has a `google:` section.
pub fn tenant(org: &Org) -> Option<&GoogleTenant> {
    org.section(NAME)
}

pub static SECTION: OrgSection = OrgSection {
    key: "google",
    schema: include_str!("section.yaml"),
    // Domains first: addresses everywhere else in the file are checked against them.
    context: |node, ctx| ctx.domains.extend(domains(node)),
    build,
    claims,
};

fn domains(node: &Node) -> Vec<String> {
    let mut d: Vec<String> = node
        .get("domain")
        .and_then(Node::as_str)
        .map(|s| vec![s.to_ascii_lowercase()])
        .unwrap_or_default();
    if let Some(items) = node.get("domains").and_then(Node::items) {
        d.extend(
            items
                .iter()
                .filter_map(Node::as_str)
                .map(str::to_ascii_lowercase),
        );
    }
    d
}

fn build(input: &SectionInput<'_>, problems: &mut Problems) -> Part {
    let domains = domains(input.node);
    if domains.is_empty() {
        problems.push(Problem::at(
            "missing_key",
            input.file,
            input.node.span_head(),
            "google needs `domain` or `domains`",
            "no domain here",
        ));
    }
    let g = input.value;
    Arc::new(GoogleTenant {
        domains,
        customer_id: g["customer_id"].as_str().unwrap_or_default().to_string(),
        admin: g["admin"].as_str().unwrap_or_default().to_string(),
        credentials: g["credentials"]
            .as_str()
            .and_then(crate::secrets::reference)
            .unwrap_or_default()
            .to_string(),
    })
}

/// A domain or customer id in two org files would let one org's plan reach the other's
/// tenant.
fn claims(g: &Node) -> Vec<Claim> {
    let mut out = Vec::new();
    if let Some(d) = g.get("domain").and_then(Node::as_str) {
        out.push(("domain", d.to_ascii_lowercase(), "google.domain".into()));
    }
    for (i, d) in g
        .get("domains")
        .and_then(Node::items)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        if let Some(d) = d.as_str() {
            out.push((
                "domain",
                d.to_ascii_lowercase(),
                format!("google.domains.{i}"),
            ));
        }
    }
    if let Some(c) = g.get("customer_id").and_then(Node::as_str) {
        out.push(("customer id", c.to_string(), "google.customer_id".into()));
    }
    out
}
