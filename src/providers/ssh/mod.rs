//! On-site hosts over SSH: files, Debian packages, systemd units, CUPS queues, restic
//! repositories and hostapd configurations.
//!
//! A plan costs each host one login and one round trip: every fact the host's
//! resources need is gathered by one generated script (`sh -s`), whose output comes
//! back in sections. Hosts are read in parallel, each on its own thread (ssh2 is
//! blocking); a host that cannot be reached fails only its own resources.

pub mod conn;
pub mod cups;
pub mod hostapd;
pub mod known_hosts;
pub mod restic;
pub mod shell;
pub mod systemd;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};

pub use self::conn::{Conn, Settings, SshError};
use self::shell::quote;
use crate::org::Org;
use crate::plan::{Action, Change, Unhealthy};
use crate::pool::Pool;
use crate::providers::LiveObject;
use crate::resource::{Address, Attrs, Kind, ProviderKind, Resource};
use crate::secrets::{self, Secret, Secrets};

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

const MARK: &str = "@@steward ";

/// The one script that reads everything the host's resources need.
pub fn fact_script(resources: &[&Resource]) -> String {
    let names = |kind: Kind| -> Vec<&str> {
        resources
            .iter()
            .filter(|r| r.address.kind == kind)
            .map(|r| r.attrs.str("name"))
            .collect()
    };
    let mut s = String::from("export LC_ALL=C\n");
    let packages = names(Kind::AptPackage);
    if !packages.is_empty() {
        let packages: Vec<String> = packages.into_iter().map(quote).collect();
        s.push_str(&format!(
            "echo '{MARK}apt'\ndpkg-query -W -f '${{Package}}\\t${{db:Status-Status}}\\n' {} 2>/dev/null\n",
            packages.join(" ")
        ));
    }
    for r in resources
        .iter()
        .filter(|r| r.address.kind.has_file_content())
    {
        let path = r.attrs.str("path");
        let p = quote(path);
        s.push_str(&format!(
            "echo '{MARK}file {path}'\nif [ -f {p} ]; then stat -c '%a %U %G' {p}; base64 -w0 {p}; echo; fi\n"
        ));
    }
    let units = names(Kind::SystemdUnit);
    if !units.is_empty() {
        s.push_str(&format!("echo '{MARK}systemd'\n"));
        s.push_str(&systemd::show_script(&units));
    }
    for r in resources
        .iter()
        .filter(|r| r.address.kind == Kind::ResticRepository)
    {
        s.push_str(&format!("echo '{MARK}restic-repo {}'\n", r.address.id));
        s.push_str(&restic::repository_script(
            r.attrs.str("repository"),
            r.attrs.str("password_file"),
        ));
    }
    let queues = names(Kind::CupsQueue);
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
    for r in resources
        .iter()
        .filter(|r| r.address.kind.has_file_content())
    {
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
        // Secret values in the live file become placeholders before anything else
        // sees the content: plans, JSON and fingerprints never hold them. Every secret
        // the org's files use is hidden, not only this file's: a module cannot show one
        // file's secret by declaring another content for its path.
        let desired = r.attrs.str("content");
        let live = secrets::redact(&String::from_utf8_lossy(&bytes), desired, org_values);
        let mut a = Attrs::default();
        a.insert("host", json!(host));
        a.insert("path", json!(path));
        a.insert("content", json!(live));
        a.insert("mode", json!(format!("{mode:0>4}")));
        a.insert("owner", json!(owner));
        a.insert("group", json!(group));
        put(r.address.kind, r.address.id.clone(), a);
    }
    if let Some(text) = sections.get("systemd") {
        let states = systemd::parse_show(text);
        for r in resources
            .iter()
            .filter(|r| r.address.kind == Kind::SystemdUnit)
        {
            let name = r.attrs.str("name");
            if let Some(state) = states.get(name).filter(|s| s.exists()) {
                put(
                    Kind::SystemdUnit,
                    r.address.id.clone(),
                    state.attrs(host, name),
                );
            }
        }
    }
    // Snapshots by repository id, for its jobs.
    let mut snapshots: BTreeMap<&str, Vec<restic::Snapshot>> = BTreeMap::new();
    for r in resources
        .iter()
        .filter(|r| r.address.kind == Kind::ResticRepository)
    {
        let Some(text) = sections.get(&format!("restic-repo {}", r.address.id)) else {
            continue;
        };
        match restic::parse_repository(text) {
            // Not known yet, or not there: apply initialises it.
            restic::RepoFacts::NoPasswordFile | restic::RepoFacts::Missing => {}
            restic::RepoFacts::Open {
                locks,
                snapshots: s,
            } => {
                put(
                    Kind::ResticRepository,
                    r.address.id.clone(),
                    restic::repository_attrs(&r.attrs, &locks),
                );
                snapshots.insert(r.address.id.as_str(), s);
            }
            // Something is there that cannot be read: nothing is planned for it (an
            // init would fail or, worse, hide the problem); health reports it.
            restic::RepoFacts::Unreadable(why) => {
                let mut a = restic::repository_attrs(&r.attrs, &[]);
                a.insert("error", json!(why));
                put(Kind::ResticRepository, r.address.id.clone(), a);
            }
        }
    }
    for r in resources
        .iter()
        .filter(|r| r.address.kind == Kind::ResticJob)
    {
        let repo = Kind::ResticRepository.id_of(&r.attrs);
        if let Some(s) = snapshots.get(repo.as_str()) {
            let (count, latest) = restic::job_snapshots(s, r.attrs.str("name"));
            let mut a = Attrs::default();
            a.insert("host", json!(host));
            a.insert("name", json!(r.attrs.str("name")));
            a.insert("snapshots", json!(count));
            a.insert("latest_snapshot", json!(latest));
            put(Kind::ResticJob, r.address.id.clone(), a);
        }
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

/// The values of the secrets a file's content names, only those the org may use:
/// anything else stays the text it is.
fn secret_values(
    host: &str,
    content: &str,
    secrets: &Secrets,
    scope: &secrets::SecretScope,
) -> Result<Vec<(String, Secret)>, SshError> {
    secrets::values_for(content, secrets, |name| scope.allows(name)).map_err(|e| SshError::Failed {
        host: host.to_string(),
        message: e.to_string(),
    })
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
        Kind::HostapdConfig => {
            // It holds passphrases.
            a.insert("mode", json!("0600"));
            a.insert("owner", json!("root"));
            a.insert("group", json!("root"));
        }
        Kind::SystemdUnit => {
            default("enabled", json!(true));
            default("active", json!(true));
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
fn hide_secrets(e: SshError, values: &[(String, Secret)]) -> SshError {
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

fn failed(conn: &Conn, message: String) -> SshError {
    SshError::Failed {
        host: conn.host.name.clone(),
        message,
    }
}

/// A unit restarts when a file it names in `restart_on` changes in the same plan:
/// its change (made here if it had none) says so and runs after the file's.
pub fn add_restarts(org: &Org, changes: &mut Vec<Change>) {
    let changed: Vec<Address> = changes
        .iter()
        .filter(|c| c.address.kind.has_file_content())
        .map(|c| c.address.clone())
        .collect();
    for r in org
        .resources
        .iter()
        .filter(|r| r.address.kind == Kind::SystemdUnit)
    {
        let triggers: Vec<Address> = r
            .address
            .kind
            .references(&r.attrs)
            .iter()
            .flat_map(crate::resource::Reference::addresses)
            .filter(|a| changed.contains(a))
            .collect();
        if triggers.is_empty() {
            continue;
        }
        let paths: Vec<&str> = triggers
            .iter()
            .map(|a| a.id.split_once(':').map_or(a.id.as_str(), |(_, p)| p))
            .collect();
        let reason = format!("restart: {} changes", paths.join(", "));
        match changes.iter_mut().find(|c| c.address == r.address) {
            // A unit being created starts with the new files anyway.
            Some(c) if c.action == Action::Create => {}
            Some(c) => {
                c.reason = Some(reason);
                c.triggered_by = triggers;
            }
            None => changes.push(Change {
                address: r.address.clone(),
                module: r.module.clone(),
                action: Action::Update,
                fields: Vec::new(),
                reason: Some(reason),
                source: Some(crate::plan::source_of(org, &r.source)),
                depends_on: triggers.clone(),
                destructive: false,
                triggered_by: triggers,
            }),
        }
    }
}

/// What the org's on-site facts say is wrong beyond plain differences: backups that
/// are stale or never ran, repositories that cannot be opened or hold leftover
/// locks. `now` in Unix seconds.
pub fn health(org: &Org, live: &crate::providers::LiveState, now: i64) -> Vec<Unhealthy> {
    let mut out = Vec::new();
    for r in &org.resources {
        let Some(obj) = live.objects.get(&r.address) else {
            continue;
        };
        let mut problem = |code: &str, message: String| {
            out.push(Unhealthy {
                address: r.address.clone(),
                module: r.module.clone(),
                code: code.to_string(),
                message,
                source: Some(crate::plan::source_of(org, &r.source)),
            });
        };
        let host = r.attrs.str("host");
        match r.address.kind {
            Kind::ResticRepository => {
                let repo = r.attrs.str("repository");
                if let Some(e) = obj.attrs.get("error").and_then(Value::as_str) {
                    problem(
                        "unreadable",
                        format!("{host} cannot open the backup repository {repo}: {e}"),
                    );
                }
                let leftover: Vec<String> = restic::locks_of(&obj.attrs)
                    .into_iter()
                    .filter(|l| restic::is_leftover(l, now))
                    .map(|l| format!("from {} (process {}) at {}", l.hostname, l.pid, l.time))
                    .collect();
                if !leftover.is_empty() {
                    problem(
                        "leftover_lock",
                        format!(
                            "the backup repository {repo} holds a lock left by a backup that is no longer running ({}); later backups may fail until it is removed with `restic unlock`",
                            leftover.join("; ")
                        ),
                    );
                }
            }
            Kind::ResticJob => {
                let name = r.attrs.str("name");
                let log = match r.attrs.str("unit") {
                    "" => String::new(),
                    unit => format!(" (its log: `journalctl -u {unit}` on {host})"),
                };
                let limit = crate::util::parse_duration(r.attrs.str("stale_after")).unwrap_or(0);
                match obj.attrs.get("latest_snapshot").and_then(Value::as_str) {
                    None => problem(
                        "no_backup",
                        format!(
                            "backup {name} on {host} has no snapshot yet: it has never completed{log}"
                        ),
                    ),
                    Some(t) => {
                        let age = crate::util::parse_rfc3339(t).map(|t| now - t);
                        if let Some(age) = age.filter(|a| *a > limit as i64) {
                            problem(
                                "stale",
                                format!(
                                    "backup {name} on {host} is stale: the latest snapshot is {} old (from {t}); it should be at most {}{log}",
                                    crate::util::human_duration(age as u64),
                                    crate::util::human_duration(limit)
                                ),
                            );
                        }
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Carries out one change on its host.
pub fn apply(conn: &Conn, secrets: &Secrets, org: &Org, change: &Change) -> Result<(), SshError> {
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
        (Kind::File | Kind::HostapdConfig, _) => {
            let mode = u32::from_str_radix(want.str("mode"), 8)
                .map_err(|_| failed(conn, format!("bad mode `{}`", want.str("mode"))))?;
            let desired = want.str("content");
            let values = secret_values(&conn.host.name, desired, secrets, &org.secret_scope)?;
            let content = secrets::fill(desired, &values);
            let check = (r.address.kind == Kind::HostapdConfig).then_some(hostapd::CHECK_SCRIPT);
            conn.put_file(
                want.str("path"),
                content.expose().as_bytes(),
                mode,
                want.str("owner"),
                want.str("group"),
                check,
            )
            .map_err(|e| hide_secrets(e, &values))
        }
        (Kind::SystemdUnit, _) => {
            let flag = |k: &str| want.get(k).and_then(Value::as_bool).unwrap_or(true);
            let name = want.str("name");
            let script = systemd::apply_script(
                name,
                flag("enabled"),
                flag("active"),
                !change.triggered_by.is_empty(),
            );
            conn.check(
                &format!("systemctl (unit {name})"),
                "sh -s",
                script.as_bytes(),
            )
            .map(|_| ())
        }
        (Kind::ResticRepository, _) => {
            let repo = want.str("repository");
            conn.check(
                &format!("restic init {repo}"),
                "sh -s",
                restic::init_script(repo, want.str("password_file")).as_bytes(),
            )
            .map(|_| ())
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
