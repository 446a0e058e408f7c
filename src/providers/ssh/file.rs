//! Files on a host: content, mode, owner and group, read back with `stat` and `base64`
//! and written atomically. The hostapd kind shares all of it, with a check first.

use base64::Engine as _;
use serde_json::json;

use super::shell::quote;
use super::{HostFacts, HostRead, MARK, NAME, OnSite, Script, SshError, Step, failed};
use crate::resource::{Attrs, FileRule, Kind, KindSpec, Resource};
use crate::secrets;

pub const FILE: Kind = Kind::of(&SPEC);

pub(super) static SPEC: KindSpec = KindSpec {
    on_host: true,
    file: Some(FileRule {
        allowed: |path| {
            path.starts_with("/etc/steward/")
                || path
                    .strip_prefix("/etc/systemd/system/steward-")
                    .is_some_and(|rest| !rest.contains('/'))
        },
        rule: "Steward's files live under /etc/steward/, and its units are /etc/systemd/system/steward-*",
    }),
    ..KindSpec::new(
        "file",
        "file",
        NAME,
        0,
        &[
            ("host", true),
            ("path", true),
            ("content", true),
            ("mode", false),
            ("owner", false),
            ("group", false),
        ],
        host_path_id,
    )
};

pub fn host_path_id(a: &Attrs) -> String {
    format!("{}:{}", a.str("host"), a.str("path"))
}

pub struct Files;

impl OnSite for Files {
    fn kinds(&self) -> &'static [Kind] {
        &[FILE]
    }

    fn ask(&self, mine: &[&Resource], script: &mut String) {
        ask(mine, script);
    }

    fn read(
        &self,
        at: &HostRead<'_>,
        mine: &[&Resource],
        facts: &mut HostFacts,
    ) -> Result<(), SshError> {
        read(at, mine, facts)
    }

    fn defaults(&self, _: &Resource, a: &mut Attrs) {
        for (k, v) in [("mode", "0644"), ("owner", "root"), ("group", "root")] {
            if !a.contains_key(k) {
                a.insert(k, json!(v));
            }
        }
    }

    fn script(&self, step: &Step<'_>) -> Result<Script, SshError> {
        put(step, None)
    }
}

/// Asks for each file's metadata and content.
pub(super) fn ask(mine: &[&Resource], script: &mut String) {
    for r in mine {
        let path = r.attrs.str("path");
        let p = quote(path);
        script.push_str(&format!(
            "echo '{MARK}file {path}'\nif [ -f {p} ]; then stat -c '%a %U %G' {p}; base64 -w0 {p}; echo; fi\n"
        ));
    }
}

/// Reads each file that exists, with every secret the org's files use hidden.
pub(super) fn read(
    at: &HostRead<'_>,
    mine: &[&Resource],
    facts: &mut HostFacts,
) -> Result<(), SshError> {
    let host = at.host;
    for r in mine {
        let path = r.attrs.str("path");
        let Some(text) = at.section(&format!("file {path}")) else {
            continue;
        };
        let mut lines = text.lines();
        let (Some(meta), content) = (lines.next(), lines.next().unwrap_or("")) else {
            continue;
        };
        let mut meta = meta.split_whitespace();
        let (Some(mode), Some(owner), Some(group)) = (meta.next(), meta.next(), meta.next()) else {
            continue;
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(content.trim())
            .map_err(|e| SshError::Failed {
                host: host.to_string(),
                message: format!("reading {path}: {e}"),
            })?;
        // Secret values in the live file become placeholders before anything else
        // sees the content: plans, JSON and fingerprints never hold them. Every secret
        // the org's files use is hidden, not only this file's: a module cannot show one
        // file's secret by declaring another content for its path.
        let desired = r.attrs.str("content");
        let live = secrets::redact(&String::from_utf8_lossy(&bytes), desired, at.org_values);
        let mut a = Attrs::default();
        a.insert("host", json!(host));
        a.insert("path", json!(path));
        a.insert("content", json!(live));
        a.insert("mode", json!(format!("{mode:0>4}")));
        a.insert("owner", json!(owner));
        a.insert("group", json!(group));
        facts.put(r.address.kind, r.address.id.clone(), a);
    }
    Ok(())
}

/// Writes the file with its secrets filled in, after `check` (shell lines given the
/// new file as `$1`) accepts it when given. The content travels inside the script on
/// the shell's stdin (never on a command line, never in a file others can read), is
/// written beside the target and renamed over it: readers never see half a file, and
/// a file the check rejects never replaces the old one.
pub(super) fn put(step: &Step<'_>, check: Option<&str>) -> Result<Script, SshError> {
    let (conn, want) = (step.conn, step.want);
    let path = want.str("path");
    let mode = u32::from_str_radix(want.str("mode"), 8)
        .map_err(|_| failed(conn, format!("bad mode `{}`", want.str("mode"))))?;
    let desired = want.str("content");
    // Only the secrets the org may use: anything else stays the text it is.
    let values = secrets::values_for(desired, step.secrets, |name| {
        step.org.secret_scope.allows(name)
    })
    .map_err(|e| failed(conn, e.to_string()))?;
    let content = secrets::fill(desired, &values);
    let encoded = base64::engine::general_purpose::STANDARD.encode(content.expose().as_bytes());
    let dir = path
        .rsplit_once('/')
        .map_or("/", |(d, _)| if d.is_empty() { "/" } else { d });
    let new = quote(&format!("{path}.steward-new"));
    let check = check.map_or(String::new(), |c| {
        format!(
            "if ! sh -c {} sh {new}; then rm -f {new}; exit 1; fi\n",
            quote(c)
        )
    });
    Ok(Script {
        // printf is the shell's own: the content is in no process's arguments.
        lines: format!(
            "set -e\nmkdir -p {dir}\numask 077\nprintf '%s' '{encoded}' | base64 -d > {new}\nchown {owner}:{group} {new}\nchmod {mode:o} {new}\n{check}mv -f {new} {path}\n",
            dir = quote(dir),
            owner = quote(want.str("owner")),
            group = quote(want.str("group")),
            path = quote(path),
        ),
        what: format!("install {path}"),
        hide: values,
    })
}
