//! Debian packages: read with `dpkg-query`, installed with `apt-get`.

use serde_json::json;

use super::shell::quote;
use super::{HostFacts, HostRead, MARK, NAME, OnSite, SshError, Step, host_name_id};
use crate::resource::{Attrs, Kind, KindSpec, Reference, Resource};

pub const APT_PACKAGE: Kind = Kind::of(&SPEC);

pub(super) static SPEC: KindSpec = KindSpec {
    // Several modules may need one package on one host: it is one resource.
    merges_identical: true,
    on_host: true,
    ..KindSpec::new(
        "apt_package",
        "package",
        NAME,
        1,
        &[("host", true), ("name", true)],
        host_name_id,
    )
};

/// The Debian package a kind needs on its host.
pub fn package(attrs: &Attrs, name: &str) -> Reference {
    Reference {
        attribute: "host",
        kinds: &[APT_PACKAGE],
        id: format!("{}:{name}", attrs.str("host")),
    }
}

pub struct Apt;

impl OnSite for Apt {
    fn kinds(&self) -> &'static [Kind] {
        &[APT_PACKAGE]
    }

    fn ask(&self, mine: &[&Resource], script: &mut String) {
        let packages: Vec<String> = mine.iter().map(|r| quote(r.attrs.str("name"))).collect();
        script.push_str(&format!(
            "echo '{MARK}apt'\ndpkg-query -W -f '${{Package}}\\t${{db:Status-Status}}\\n' {} 2>/dev/null\n",
            packages.join(" ")
        ));
    }

    fn read(
        &self,
        at: &HostRead<'_>,
        _: &[&Resource],
        facts: &mut HostFacts,
    ) -> Result<(), SshError> {
        let host = at.host;
        for line in at.section("apt").unwrap_or_default().lines() {
            if let Some((name, "installed")) = line.split_once('\t') {
                let mut a = Attrs::default();
                a.insert("host", json!(host));
                a.insert("name", json!(name));
                facts.put(APT_PACKAGE, format!("{host}:{name}"), a);
            }
        }
        Ok(())
    }

    fn apply(&self, step: &Step<'_>) -> Result<(), SshError> {
        let name = step.want.str("name");
        step.conn
            .check(
                &format!("apt-get install {name}"),
                &format!(
                    "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends {}",
                    quote(name)
                ),
                b"",
            )
            .map(|_| ())
    }
}
