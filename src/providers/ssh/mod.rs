//! On-site hosts over SSH: files, Debian packages, systemd units, CUPS queues, restic
//! repositories and hostapd configurations.
//!
//! A plan costs each host one login and one round trip: every fact the host's
//! resources need is gathered by one generated script (`sh -s`), whose output comes
//! back in sections. Hosts are read in parallel, each on its own thread (ssh2 is
//! blocking); a host that cannot be reached fails only its own resources.

pub mod apt;
pub mod batch;
pub mod config;
pub mod conn;
pub mod cups;
pub mod file;
pub mod hostapd;
pub mod import;
pub mod known_hosts;
mod provider;
pub mod restic;
pub mod section;
pub mod shell;
pub mod systemd;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

pub use self::batch::{Part, Script};
pub use self::conn::{Conn, Output, Settings, SshError};
pub use self::provider::ENTRY;
use crate::org::Org;
use crate::plan::{Action, Change, Unhealthy};
use crate::pool::Pool;
use crate::providers::LiveObject;
use crate::resource::{Address, Attrs, Kind, KindSpec, Resource};
use crate::secrets::{self, Secret, Secrets};

/// The provider's name in the registry and in every kind it declares.
pub const NAME: &str = "ssh";

/// Every on-site kind, in the order plans list them.
pub static KINDS: [&KindSpec; 7] = [
    &file::SPEC,
    &apt::SPEC,
    &cups::SPEC,
    &systemd::SPEC,
    &restic::REPOSITORY_SPEC,
    &restic::JOB_SPEC,
    &hostapd::SPEC,
];

/// The on-site kinds, a file each: what they ask of a host in the fact script, how
/// they read the answer, the defaults they add, the lines that change a host, and
/// their health. This file only batches them: a plan's facts in one script, one round
/// trip a host; an apply's changes ready together in one script ([`batch`]).
pub trait OnSite: Sync {
    fn kinds(&self) -> &'static [Kind];
    /// Adds to the host's fact script what its resources there need to be known.
    fn ask(&self, mine: &[&Resource], script: &mut String);
    /// Reads their live objects from the script's answer.
    fn read(
        &self,
        at: &HostRead<'_>,
        mine: &[&Resource],
        facts: &mut HostFacts,
    ) -> Result<(), SshError>;
    /// Adds what the file leaves implicit to a resource's desired attributes.
    fn defaults(&self, _r: &Resource, _attrs: &mut Attrs) {}
    /// The shell lines making this kind's changes that are ready together on one host,
    /// for the host's batch script. By default a part per step, from `script`;
    /// packages and queues make one part for all. A step whose lines cannot be written
    /// fails on its own, here.
    fn parts<'a>(&self, steps: &[Step<'a>]) -> Vec<Result<Part<'a>, (usize, SshError)>> {
        steps
            .iter()
            .enumerate()
            .map(|(i, step)| Ok(Part::one(i, self.script(step).map_err(|e| (i, e))?)))
            .collect()
    }
    /// The shell lines making one change; kinds that are only read have none.
    fn script(&self, step: &Step<'_>) -> Result<Script, SshError> {
        Err(failed(
            step.conn,
            format!("{} is only read, never changed", step.resource.address),
        ))
    }
    /// What the live object says is wrong beyond a difference: (code, message).
    fn health(
        &self,
        _r: &Resource,
        _live: &Attrs,
        _now: i64,
        _out: &mut Vec<(&'static str, String)>,
    ) {
    }
}

/// In the order the fact script asks them.
static ON_SITE: [&dyn OnSite; 6] = [
    &apt::Apt,
    &file::Files,
    &hostapd::Hostapd,
    &systemd::Systemd,
    &restic::Restic,
    &cups::Cups,
];

fn on_site(kind: Kind) -> Option<&'static dyn OnSite> {
    ON_SITE.iter().copied().find(|f| f.kinds().contains(&kind))
}

/// The answer of one host's fact script, for the kinds to read.
pub struct HostRead<'a> {
    pub host: &'a str,
    pub org: &'a Org,
    sections: BTreeMap<String, String>,
    /// Every secret the org's files use, to hide in what is read back.
    pub org_values: &'a [(String, Secret)],
}

impl HostRead<'_> {
    pub fn section(&self, label: &str) -> Option<&str> {
        self.sections.get(label).map(String::as_str)
    }
}

/// One change to make on a host.
pub struct Step<'a> {
    pub conn: &'a Conn,
    pub secrets: &'a Secrets,
    pub org: &'a Org,
    pub resource: &'a Resource,
    /// The resource's desired attributes, defaults included.
    pub want: &'a Attrs,
    pub change: &'a Change,
}

/// `host:name`, the id of most on-site kinds.
pub fn host_name_id(a: &Attrs) -> String {
    format!("{}:{}", a.str("host"), a.str("name"))
}

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
    pub fn from_config(pool: &Pool, c: &config::SshConfig) -> std::io::Result<Settings> {
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
pub fn refresh(settings: &Settings, secrets: &Secrets, org: &Org, conns: &Conns) -> Refresh {
    let hosts = by_host(org);
    // Every secret the org's files use, once for all its hosts: each host's live files
    // are read back with all of them hidden.
    let org_values = org_secret_values(secrets, org);
    let org_values = &org_values;
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
                                let host = section::hosts(org).get(*name).ok_or_else(|| {
                                    SshError::Failed {
                                        host: name.to_string(),
                                        message: "not declared under `hosts:`".into(),
                                    }
                                })?;
                                Arc::new(Mutex::new(Conn::open(settings, host)?))
                            }
                        };
                        let facts = {
                            let guard = conn.lock().map_err(|_| SshError::Failed {
                                host: name.to_string(),
                                message: "an earlier operation on this host panicked".into(),
                            })?;
                            let values = org_values.as_ref().map_err(|e| SshError::Failed {
                                host: name.to_string(),
                                message: e.to_string(),
                            })?;
                            read_facts(&guard, values, org, resources)?
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

impl HostFacts {
    pub fn put(&mut self, kind: Kind, id: String, attrs: Attrs) {
        self.objects
            .insert(Address { kind, id }, LiveObject { attrs });
    }
}

const MARK: &str = "@@steward ";

/// The one script that reads everything the host's resources need.
pub fn fact_script(resources: &[&Resource]) -> String {
    let mut s = String::from("export LC_ALL=C\n");
    for family in ON_SITE {
        let mine = of_family(family, resources);
        if !mine.is_empty() {
            family.ask(&mine, &mut s);
        }
    }
    s.push_str(&format!("echo '{MARK}end'\n"));
    s
}

fn of_family<'r>(family: &dyn OnSite, resources: &[&'r Resource]) -> Vec<&'r Resource> {
    resources
        .iter()
        .copied()
        .filter(|r| family.kinds().contains(&r.address.kind))
        .collect()
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
pub fn read_facts(
    conn: &Conn,
    org_values: &[(String, Secret)],
    org: &Org,
    resources: &[&Resource],
) -> Result<HostFacts, SshError> {
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
    let at = HostRead {
        host,
        org,
        sections,
        org_values,
    };
    let mut facts = HostFacts::default();
    for family in ON_SITE {
        family.read(&at, &of_family(family, resources), &mut facts)?;
    }
    Ok(facts)
}

/// The values of every secret the org's file contents name, each once.
fn org_secret_values(
    secrets: &Secrets,
    org: &Org,
) -> Result<Vec<(String, Secret)>, secrets::SecretError> {
    let mut values: Vec<(String, Secret)> = Vec::new();
    for r in org
        .resources
        .iter()
        .filter(|r| r.address.kind.has_file_content())
    {
        let content = r.attrs.str("content");
        for v in secrets::values_for(content, secrets, |n| org.secret_scope.allows(n))? {
            if !values.iter().any(|(n, _)| *n == v.0) {
                values.push(v);
            }
        }
    }
    Ok(values)
}

/// The attributes Steward manages, with the defaults the file leaves implicit.
pub fn desired_attrs(r: &Resource) -> Attrs {
    let mut a = r.attrs.clone();
    if let Some(family) = on_site(r.address.kind) {
        family.defaults(r, &mut a);
    }
    // What triggers a restart is not a state of the unit.
    a.remove("restart_on");
    a
}

/// File content changes are shown as a unified diff, not as two whole files.
pub fn show_diffs(changes: &mut [Change]) {
    for c in changes
        .iter_mut()
        .filter(|c| c.address.kind.has_file_content())
    {
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

/// An error from a host with the secret values sent to it replaced by their names.
pub(super) fn hide_secrets(e: SshError, values: &[(String, Secret)]) -> SshError {
    let hide = |text: String| secrets::hide(&text, values);
    match e {
        SshError::Command {
            host,
            what,
            status,
            output,
        } => SshError::Command {
            host,
            what,
            status,
            output: hide(output),
        },
        SshError::Failed { host, message } => SshError::Failed {
            host,
            message: hide(message),
        },
        e => e,
    }
}

pub(super) fn failed(conn: &Conn, message: String) -> SshError {
    SshError::Failed {
        host: conn.host.name.clone(),
        message,
    }
}

/// What the org's on-site facts say is wrong beyond plain differences: backups that
/// are stale or never ran, repositories that cannot be opened or hold leftover
/// locks. `now` in Unix seconds.
pub fn health(org: &Org, live: &crate::providers::LiveState, now: i64) -> Vec<Unhealthy> {
    let mut out = Vec::new();
    let mut found = Vec::new();
    for r in &org.resources {
        let (Some(obj), Some(family)) = (live.objects.get(&r.address), on_site(r.address.kind))
        else {
            continue;
        };
        family.health(r, &obj.attrs, now, &mut found);
        for (code, message) in found.drain(..) {
            out.push(Unhealthy {
                address: r.address.clone(),
                module: r.module.clone(),
                code: code.to_string(),
                message,
                source: Some(crate::plan::source_of(org, &r.source)),
            });
        }
    }
    out
}

/// Carries out changes of one host that were ready together, in one round trip: each
/// kind writes the lines for its changes (packages in one apt transaction, queues in
/// one script waiting for all their drivers at once), and [`batch`] runs them all as
/// one script. A result for each change, in order.
pub fn apply_batch(
    conn: &Conn,
    secrets: &Secrets,
    org: &Org,
    changes: &[Change],
) -> Vec<Result<(), SshError>> {
    let mut results: Vec<Option<Result<(), SshError>>> = changes.iter().map(|_| None).collect();
    // Each change's resource, kind and desired attributes; what cannot be done is
    // told now and left out of the script.
    let mut todo: Vec<(usize, &Resource, Attrs)> = Vec::new();
    for (i, change) in changes.iter().enumerate() {
        match org
            .resource(&change.address)
            .filter(|r| on_site(r.address.kind).is_some())
        {
            None => {
                results[i] = Some(Err(failed(
                    conn,
                    format!("{} is not an on-site resource of this org", change.address),
                )));
            }
            Some(_) if change.action == Action::Delete => {
                results[i] = Some(Err(failed(
                    conn,
                    format!("removing {} is not supported", change.address),
                )));
            }
            Some(r) => todo.push((i, r, desired_attrs(r))),
        }
    }
    let mut parts: Vec<(Vec<usize>, Part<'_>)> = Vec::new();
    for family in ON_SITE {
        let mine: Vec<&(usize, &Resource, Attrs)> = todo
            .iter()
            .filter(|t| family.kinds().contains(&t.1.address.kind))
            .collect();
        if mine.is_empty() {
            continue;
        }
        let steps: Vec<Step<'_>> = mine
            .iter()
            .map(|(i, r, want)| Step {
                conn,
                secrets,
                org,
                resource: r,
                want,
                change: &changes[*i],
            })
            .collect();
        for part in family.parts(&steps) {
            match part {
                Ok(part) => parts.push((part.steps.iter().map(|s| mine[*s].0).collect(), part)),
                Err((s, e)) => results[mine[s].0] = Some(Err(e)),
            }
        }
    }
    let (places, parts): (Vec<Vec<usize>>, Vec<Part<'_>>) = parts.into_iter().unzip();
    for (places, outcomes) in places.into_iter().zip(batch::run(conn, parts)) {
        for (i, r) in places.into_iter().zip(outcomes) {
            results[i] = Some(r);
        }
    }
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(failed(conn, "no result for this change".into()))))
        .collect()
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
