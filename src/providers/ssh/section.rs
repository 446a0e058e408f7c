//! `hosts:` in an org file: the org's on-site machines and how to reach them.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use super::NAME;
use crate::diag::Problems;
use crate::org::Org;
use crate::providers::{Claim, OrgSection, Part, SectionInput};
use crate::yaml::Node;

/// An on-site machine of an org, reached over SSH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    pub name: String,
    pub address: String,
    pub user: String,
    pub port: u16,
}

pub type Hosts = BTreeMap<String, Host>;

/// The org's hosts by name (none when its file has no `hosts:`).
pub fn hosts(org: &Org) -> &Hosts {
    static NONE: LazyLock<Hosts> = LazyLock::new(Hosts::new);
    org.section(NAME).unwrap_or(&NONE)
}

pub static SECTION: OrgSection = OrgSection {
    key: "hosts",
    schema: include_str!("section.yaml"),
    // Module inputs name hosts (the `host` type): they are known before the file is checked.
    context: |node, ctx| {
        ctx.hosts.extend(
            node.entries()
                .unwrap_or_default()
                .iter()
                .map(|(k, _)| k.text.clone()),
        );
    },
    build,
    claims,
};

fn build(input: &SectionInput<'_>, _: &mut Problems) -> Part {
    let hosts: Hosts = input
        .value
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(name, h)| {
                    let host = Host {
                        name: name.clone(),
                        address: h["address"].as_str().unwrap_or_default().to_string(),
                        user: h["user"].as_str().unwrap_or("root").to_string(),
                        port: h["port"]
                            .as_u64()
                            .and_then(|p| u16::try_from(p).ok())
                            .unwrap_or(22),
                    };
                    (name.clone(), host)
                })
                .collect()
        })
        .unwrap_or_default();
    Arc::new(hosts)
}

/// A host in two org files would let one org's plan reach the other's machine.
fn claims(hosts: &Node) -> Vec<Claim> {
    let mut out = Vec::new();
    for (name, h) in hosts.entries().unwrap_or_default() {
        if let Some(address) = h.get("address").and_then(Node::as_str) {
            // A host as the network knows it: address and port.
            let port = h.get("port").and_then(Node::as_str).unwrap_or("22");
            out.push((
                "host address",
                format!("{}:{port}", address.to_ascii_lowercase()),
                format!("hosts.{}.address", name.text),
            ));
        }
    }
    out
}
