//! On-site hosts over SSH: files, Debian packages and CUPS queues.
//!
//! A plan costs each host one login and one round trip: every fact the host's
//! resources need is gathered by one generated script (`sh -s`), whose output comes
//! back in sections. Hosts are read in parallel, each on its own thread (ssh2 is
//! blocking); a host that cannot be reached fails only its own resources.

pub mod conn;
pub mod cups;
pub mod known_hosts;
pub mod shell;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};

pub use self::conn::{Conn, Settings, SshError};
use self::shell::quote;
use crate::org::Org;
use crate::plan::{Action, Change};
use crate::pool::Pool;
use crate::providers::LiveObject;
use crate::resource::{Address, Attrs, Kind, ProviderKind, Resource};

/// Open sessions by host name, kept from plan to apply.
pub type Conns = BTreeMap<String, Arc<Mutex<Conn>>>;

/// What reading an org's hosts found.
#[derive(Debug, Default)]
pub struct Refresh {
    pub objects: BTreeMap<Address, LiveObject>,
    /// Live objects on the hosts that no org file declares (queues made by hand).
    pub unmanaged: Vec<Address>,
    /// Hosts that could not be read, with why.
    pub errors: BTreeMap<String, String>,
    pub conns: Conns,
}

impl Settings {
    pub fn from_pool(pool: &Pool) -> std::io::Result<Settings> {
        let c = &pool.config.ssh;
        Ok(Settings {
            known_hosts: known_hosts::KnownHosts::load(&pool.path(&c.known_hosts))?,
            stats: Arc::default(),
            identity_file: c.identity_file.as_ref().map(|p| pool.path(p)),
            connect_timeout: Duration::from_secs(c.connect_timeout_secs.max(1)),
            command_timeout: Duration::from_secs(c.command_timeout_secs.max(1)),
        })
    }
}

/// The org's on-site resources, by host.
pub fn by_host(org: &Org) -> BTreeMap<&str, Vec<&Resource>> {
    let mut hosts: BTreeMap<&str, Vec<&Resource>> = BTreeMap::new();
    for r in &org.resources {
        if let Some(h) = r.address.kind.host_of(&r.attrs) {
            hosts.entry(h).or_default().push(r);
        }
    }
    hosts
}

/// Reads every host of the org that has resources, one thread per host, reusing
/// open sessions.
pub fn refresh(settings: &Settings, org: &Org, conns: &Conns) -> Refresh {
    let hosts = by_host(org);
    type HostResult = Result<(Arc<Mutex<Conn>>, HostFacts), SshError>;
    let results: Vec<(String, HostResult)> = std::thread::scope(|scope| {
        let handles: Vec<_> = hosts
            .iter()
            .map(|(name, resources)| {
                let existing = conns.get(*name).cloned();
                scope.spawn(move || {
                    let result = (|| {
                        let conn = match existing {
                            Some(c) => c,
                            None => {
                                let host =
                                    org.hosts.get(*name).ok_or_else(|| SshError::Failed {
                                        host: name.to_string(),
                                        message: "not declared under `hosts:`".into(),
                                    })?;
                                Arc::new(Mutex::new(Conn::open(settings, host)?))
                            }
                        };
                        let facts = {
                            let guard = conn.lock().map_err(|_| SshError::Failed {
                                host: name.to_string(),
                                message: "an earlier operation on this host panicked".into(),
                            })?;
                            read_facts(&guard, org, resources)?
                        };
                        Ok((conn, facts))
                    })();
                    (name.to_string(), result)
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let mut out = Refresh::default();
    for (host, result) in results {
        match result {
            Ok((conn, facts)) => {
                out.objects.extend(facts.objects);
                out.unmanaged.extend(facts.unmanaged);
                out.conns.insert(host, conn);
            }
            Err(e) => {
                out.errors.insert(host, e.to_string());
            }
        }
    }
    out
}

/// Facts of one host.
#[derive(Debug, Default)]
pub struct HostFacts {
    pub objects: BTreeMap<Address, LiveObject>,
    pub unmanaged: Vec<Address>,
}

const MARK: &str = "@@steward ";

/// The one script that reads everything the host's resources need.
pub fn fact_script(resources: &[&Resource]) -> String {
    let mut s = String::from("export LC_ALL=C\n");
    let packages: Vec<String> = resources
        .iter()
        .filter(|r| r.address.kind == Kind::AptPackage)
        .map(|r| quote(r.attrs.str("name")))
        .collect();
    if !packages.is_empty() {
        s.push_str(&format!(
            "echo '{MARK}apt'\ndpkg-query -W -f '${{Package}}\\t${{db:Status-Status}}\\n' {} 2>/dev/null\n",
            packages.join(" ")
        ));
    }
    for r in resources.iter().filter(|r| r.address.kind == Kind::File) {
        let path = r.attrs.str("path");
        let p = quote(path);
        s.push_str(&format!(
            "echo '{MARK}file {path}'\nif [ -f {p} ]; then stat -c '%a %U %G' {p}; base64 -w0 {p}; echo; fi\n"
        ));
    }
    let queues: Vec<&str> = resources
        .iter()
        .filter(|r| r.address.kind == Kind::CupsQueue)
        .map(|r| r.attrs.str("name"))
        .collect();
    if !queues.is_empty() {
        s.push_str(&format!("echo '{MARK}cups'\n"));
        s.push_str(&cups::list_script());
        for q in &queues {
            s.push_str(&format!(
                "echo '{MARK}ppd {q}'\nlpoptions -p {} -l 2>/dev/null\n",
                quote(q)
            ));
        }
    }
    s.push_str(&format!("echo '{MARK}end'\n"));
    s
}

/// Splits the script's output into its sections.
fn sections(text: &str) -> Option<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut current: Option<(String, String)> = None;
    let mut ended = false;
    for line in text.lines() {
        if let Some(label) = line.strip_prefix(MARK) {
            if let Some((k, v)) = current.take() {
                out.insert(k, v);
            }
            if label == "end" {
                ended = true;
                break;
            }
            current = Some((label.to_string(), String::new()));
        } else if let Some((_, v)) = current.as_mut() {
            v.push_str(line);
            v.push('\n');
        }
    }
    ended.then_some(out)
}

/// Runs the fact script (one round trip) and reads the host's live objects.
pub fn read_facts(conn: &Conn, org: &Org, resources: &[&Resource]) -> Result<HostFacts, SshError> {
    let host = conn.host.name.as_str();
    let out = conn.run("sh -s", fact_script(resources).as_bytes())?;
    let Some(sections) = sections(&out.text) else {
        return Err(SshError::Failed {
            host: host.to_string(),
            message: format!(
                "reading facts failed (exit {}): {}",
                out.status,
                conn::tail(&out.text)
            ),
        });
    };
    let mut facts = HostFacts::default();
    let mut put = |kind: Kind, id: String, attrs: Attrs| {
        facts
            .objects
            .insert(Address { kind, id }, LiveObject { attrs });
    };
    if let Some(apt) = sections.get("apt") {
        for line in apt.lines() {
            if let Some((name, "installed")) = line.split_once('\t') {
                let mut a = Attrs::default();
                a.insert("host", json!(host));
                a.insert("name", json!(name));
                put(Kind::AptPackage, format!("{host}:{name}"), a);
            }
        }
    }
    for r in resources.iter().filter(|r| r.address.kind == Kind::File) {
        let path = r.attrs.str("path");
        let Some(text) = sections.get(&format!("file {path}")) else {
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
        let mut a = Attrs::default();
        a.insert("host", json!(host));
        a.insert("path", json!(path));
        a.insert("content", json!(String::from_utf8_lossy(&bytes)));
        a.insert("mode", json!(format!("{mode:0>4}")));
        a.insert("owner", json!(owner));
        a.insert("group", json!(group));
        put(Kind::File, r.address.id.clone(), a);
    }
    if let Some(list) = sections.get("cups") {
        for q in cups::parse_list(list) {
            let address = Address {
                kind: Kind::CupsQueue,
                id: format!("{host}:{}", q.name),
            };
            let Some(r) = org.resource(&address) else {
                facts.unmanaged.push(address);
                continue;
            };
            let wanted: Vec<String> = match r.attrs.get("options") {
                Some(Value::Object(m)) => m.keys().cloned().collect(),
                _ => Vec::new(),
            };
            let ppd = sections
                .get(&format!("ppd {}", q.name))
                .map(|t| cups::parse_ppd_options(t))
                .unwrap_or_default();
            let attrs = cups::live_attrs(host, &q, &ppd, &wanted);
            put(Kind::CupsQueue, address.id, attrs);
        }
    }
    Ok(facts)
}

/// The attributes Steward manages, with the defaults the file leaves implicit.
pub fn desired_attrs(r: &Resource) -> Attrs {
    let mut a = r.attrs.clone();
    let mut default = |k: &'static str, v: Value| {
        if !a.contains_key(k) {
            a.insert(k, v);
        }
    };
    match r.address.kind {
        Kind::File => {
            default("mode", json!("0644"));
            default("owner", json!("root"));
            default("group", json!("root"));
        }
        Kind::CupsQueue => {
            default("description", json!(r.attrs.str("name")));
            default("shared", json!(false));
            default("enabled", json!(true));
            default("accepting", json!(true));
            default("options", json!({}));
            a.insert("driver", json!("everywhere"));
        }
        _ => {}
    }
    a
}

/// File content changes are shown as a unified diff, not as two whole files.
pub fn show_diffs(changes: &mut [Change]) {
    for c in changes.iter_mut().filter(|c| c.address.kind == Kind::File) {
        for f in c.fields.iter_mut().filter(|f| f.name == "content") {
            let text = |v: &Option<Value>| {
                v.as_ref()
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            f.diff = Some(crate::util::unified_diff(&text(&f.before), &text(&f.after)));
            f.before = None;
            f.after = None;
        }
    }
}

fn failed(conn: &Conn, message: String) -> SshError {
    SshError::Failed {
        host: conn.host.name.clone(),
        message,
    }
}

/// Carries out one change on its host.
pub fn apply(conn: &Conn, org: &Org, change: &Change) -> Result<(), SshError> {
    let Some(r) = org
        .resource(&change.address)
        .filter(|r| r.address.kind.provider() == ProviderKind::Ssh)
    else {
        return Err(failed(
            conn,
            format!("{} is not an on-site resource of this org", change.address),
        ));
    };
    let want = desired_attrs(r);
    match (r.address.kind, change.action) {
        (_, Action::Delete) => Err(failed(
            conn,
            format!("removing {} is not supported", change.address),
        )),
        (Kind::File, _) => {
            let mode = u32::from_str_radix(want.str("mode"), 8)
                .map_err(|_| failed(conn, format!("bad mode `{}`", want.str("mode"))))?;
            conn.put_file(
                want.str("path"),
                want.str("content").as_bytes(),
                mode,
                want.str("owner"),
                want.str("group"),
            )
        }
        (Kind::AptPackage, _) => {
            let name = want.str("name");
            conn.check(
                &format!("apt-get install {name}"),
                &format!(
                    "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends {}",
                    quote(name)
                ),
                b"",
            )
            .map(|_| ())
        }
        (Kind::CupsQueue, action) => {
            let create = action == Action::Create;
            let rebuild = create
                || change
                    .fields
                    .iter()
                    .any(|f| f.name == "uri" || f.name == "driver");
            let out = conn.run(
                "sh -s",
                cups::apply_script(&want, create, rebuild).as_bytes(),
            )?;
            match out.status {
                0 => Ok(()),
                cups::RAW_EXIT => Err(failed(
                    conn,
                    format!(
                        "the printer at {} did not answer, so CUPS made a raw queue with no driver (lpadmin -m everywhere exits 0 when that happens); {}. Check that the printer is on and reachable from {}, then apply again",
                        want.str("uri"),
                        if create {
                            "the half-made queue was removed"
                        } else {
                            "the queue was left as it was"
                        },
                        conn.host.name
                    ),
                )),
                status => Err(SshError::Command {
                    host: conn.host.name.clone(),
                    what: format!("lpadmin -p {}", want.str("name")),
                    status,
                    output: conn::tail(&out.text),
                }),
            }
        }
        (kind, _) => Err(failed(conn, format!("{kind} is not an on-site kind"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_need_the_end_marker() {
        let text = "@@steward apt\ncups\tinstalled\n@@steward cups\nx\n@@steward end\n";
        let s = sections(text).unwrap();
        assert_eq!(s["apt"], "cups\tinstalled\n");
        assert_eq!(s["cups"], "x\n");
        assert!(sections("@@steward apt\ncut short").is_none());
    }
}
