//! restic repositories and backup jobs: whether the repository exists, its locks, and
//! each job's latest snapshot. Every restic call runs on the host that backs up, with
//! its password file, so the password never leaves that host. Each call derives the
//! key from the password (scrypt, slow by design: about half a second of CPU) and opens
//! its own connection to the repository, so a plan makes one per repository: a snapshot
//! listing, which also tells whether the repository opens and serves every job in it.
//! Lock files are listed without restic where the backend allows (sftp, a local path):
//! their names need no key. restic reads a lock's content only when there is one.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::shell::quote;
use super::{
    HostFacts, HostRead, MARK, NAME, OnSite, Script, SshError, Step, apt, failed, file,
    host_name_id,
};
use crate::resource::{Attrs, Kind, KindSpec, Reference, Resource};

pub const RESTIC_REPOSITORY: Kind = Kind::of(&REPOSITORY_SPEC);
pub const RESTIC_JOB: Kind = Kind::of(&JOB_SPEC);

pub(super) static REPOSITORY_SPEC: KindSpec = KindSpec {
    on_host: true,
    references: |a| {
        vec![
            apt::package(a, "restic"),
            Reference {
                attribute: "password_file",
                kinds: &[file::FILE],
                id: format!("{}:{}", a.str("host"), a.str("password_file")),
            },
        ]
    },
    advice: &[
        (
            "leftover_lock",
            "check that no backup is running on the host, then run `restic unlock` there",
        ),
        (
            "unreadable",
            "check the repository address, the password secret and that the host can reach the backup server",
        ),
    ],
    duplicate_help: Some(
        "two backup jobs of one host use this repository (each job declares it, with its own password file): put both jobs' paths in one job, or give each job a repository of its own",
    ),
    ..KindSpec::new(
        "restic_repository",
        "backup repository",
        NAME,
        4,
        &[
            ("host", true),
            ("repository", true),
            ("password_file", true),
        ],
        repository_id,
    )
};

/// A backup job's health: its latest snapshot. Read, never changed: the job itself is
/// the service and timer its module writes.
pub(super) static JOB_SPEC: KindSpec = KindSpec {
    on_host: true,
    observed_only: true,
    advice: &[("stale", JOB_LOG), ("no_backup", JOB_LOG)],
    // A job names its repository by the same attributes (host, repository).
    references: |a| {
        vec![Reference {
            attribute: "repository",
            kinds: &[RESTIC_REPOSITORY],
            id: repository_id(a),
        }]
    },
    ..KindSpec::new(
        "restic_job",
        "backup",
        NAME,
        5,
        &[
            ("host", true),
            ("name", true),
            ("repository", true),
            ("password_file", true),
            ("stale_after", true),
            ("unit", false),
        ],
        host_name_id,
    )
};

const JOB_LOG: &str = "see why it did not run in the backup's log on its host";

fn repository_id(a: &Attrs) -> String {
    format!("{}:{}", a.str("host"), a.str("repository"))
}

pub struct Restic;

impl OnSite for Restic {
    fn kinds(&self) -> &'static [Kind] {
        &[RESTIC_REPOSITORY, RESTIC_JOB]
    }

    fn ask(&self, mine: &[&Resource], script: &mut String) {
        for r in mine.iter().filter(|r| r.address.kind == RESTIC_REPOSITORY) {
            script.push_str(&format!("echo '{MARK}restic-repo {}'\n", r.address.id));
            script.push_str(&repository_script(
                r.attrs.str("repository"),
                r.attrs.str("password_file"),
            ));
        }
    }

    fn read(
        &self,
        at: &HostRead<'_>,
        mine: &[&Resource],
        facts: &mut HostFacts,
    ) -> Result<(), SshError> {
        // Snapshots by repository id, for its jobs.
        let mut snapshots: BTreeMap<&str, Vec<Snapshot>> = BTreeMap::new();
        for r in mine.iter().filter(|r| r.address.kind == RESTIC_REPOSITORY) {
            let Some(text) = at.section(&format!("restic-repo {}", r.address.id)) else {
                continue;
            };
            match parse_repository(text) {
                // Not known yet, or not there: apply initialises it.
                RepoFacts::NoPasswordFile | RepoFacts::Missing => {}
                RepoFacts::Open {
                    locks,
                    snapshots: s,
                } => {
                    facts.put(
                        RESTIC_REPOSITORY,
                        r.address.id.clone(),
                        repository_attrs(&r.attrs, &locks),
                    );
                    snapshots.insert(r.address.id.as_str(), s);
                }
                // Something is there that cannot be read: nothing is planned for it (an
                // init would fail or, worse, hide the problem); health reports it.
                RepoFacts::Unreadable(why) => {
                    let mut a = repository_attrs(&r.attrs, &[]);
                    a.insert("error", json!(why));
                    facts.put(RESTIC_REPOSITORY, r.address.id.clone(), a);
                }
            }
        }
        for r in mine.iter().filter(|r| r.address.kind == RESTIC_JOB) {
            if let Some(s) = snapshots.get(repository_id(&r.attrs).as_str()) {
                let (count, latest) = job_snapshots(s, r.attrs.str("name"));
                let mut a = Attrs::default();
                a.insert("host", json!(at.host));
                a.insert("name", json!(r.attrs.str("name")));
                a.insert("snapshots", json!(count));
                a.insert("latest_snapshot", json!(latest));
                facts.put(RESTIC_JOB, r.address.id.clone(), a);
            }
        }
        Ok(())
    }

    fn script(&self, step: &Step<'_>) -> Result<Script, SshError> {
        if step.resource.address.kind != RESTIC_REPOSITORY {
            return Err(failed(
                step.conn,
                format!("{} is only read, never changed", step.resource.address),
            ));
        }
        let repo = step.want.str("repository");
        Ok(Script {
            lines: init_script(repo, step.want.str("password_file")),
            what: format!("restic init {repo}"),
            hide: Vec::new(),
        })
    }

    fn health(&self, r: &Resource, live: &Attrs, now: i64, out: &mut Vec<(&'static str, String)>) {
        let host = r.attrs.str("host");
        if r.address.kind == RESTIC_REPOSITORY {
            let repo = r.attrs.str("repository");
            if let Some(e) = live.get("error").and_then(Value::as_str) {
                out.push((
                    "unreadable",
                    format!("{host} cannot open the backup repository {repo}: {e}"),
                ));
            }
            let leftover: Vec<String> = locks_of(live)
                .into_iter()
                .filter(|l| is_leftover(l, now))
                .map(|l| format!("from {} (process {}) at {}", l.hostname, l.pid, l.time))
                .collect();
            if !leftover.is_empty() {
                out.push((
                    "leftover_lock",
                    format!(
                        "the backup repository {repo} holds a lock left by a backup that is no longer running ({}); later backups may fail until it is removed with `restic unlock`",
                        leftover.join("; ")
                    ),
                ));
            }
            return;
        }
        let name = r.attrs.str("name");
        let log = match r.attrs.str("unit") {
            "" => String::new(),
            unit => format!(" (its log: `journalctl -u {unit}` on {host})"),
        };
        let limit = crate::util::parse_duration(r.attrs.str("stale_after")).unwrap_or(0);
        match live.get("latest_snapshot").and_then(Value::as_str) {
            None => out.push((
                "no_backup",
                format!("backup {name} on {host} has no snapshot yet: it has never completed{log}"),
            )),
            Some(t) => {
                let age = crate::util::parse_rfc3339(t).map(|t| now - t);
                if let Some(age) = age.filter(|a| *a > limit as i64) {
                    out.push((
                        "stale",
                        format!(
                            "backup {name} on {host} is stale: the latest snapshot is {} old (from {t}); it should be at most {}{log}",
                            crate::util::human_duration(age as u64),
                            crate::util::human_duration(limit)
                        ),
                    ));
                }
            }
        }
    }
}

/// restic itself treats a lock older than this as stale; a running restic refreshes
/// its lock every 5 minutes.
pub const STALE_LOCK_SECS: i64 = 30 * 60;

/// The tag a job's snapshots carry, so jobs sharing a repository are told apart.
pub fn tag(job: &str) -> String {
    format!("steward:{job}")
}

fn restic(repository: &str, password_file: &str) -> String {
    format!(
        "restic --no-lock -r {} --password-file {}",
        quote(repository),
        quote(password_file)
    )
}

/// Shell lines reading one repository: `open fast` and its snapshots' times when it
/// is as Steward last opened it, else (with restic) `open 0`, its locks and then its
/// snapshots (JSON) when it opens, else the reason. A missing password file means
/// nothing can be known yet.
pub fn repository_script(repository: &str, password_file: &str) -> String {
    let slow = slow_repository_script(repository, password_file);
    let Some(listing) = fast_listing(repository) else {
        return slow;
    };
    // Unchanged since Steward last opened it (the password file and the key files as
    // then) and no lock: the snapshots' times from the listing, no key derived.
    let pf = quote(password_file);
    let marker = opened_marker(repository);
    let state = opened_state(password_file);
    format!(
        "if [ -r {pf} ] && [ -r {marker} ] && fl=$({listing}) \
         && [ {state} = \"$(cat {marker})\" ] \
         && ! printf '%s\\n' \"$fl\" | grep -q '^lock '; then \
         echo 'open fast'; echo \"hostname $(hostname)\"; printf '%s\\n' \"$fl\" | grep -E '^snap(time|ls) '; \
         else\n{slow}fi\n"
    )
}

/// Where Steward notes on the host what a repository was when it last opened it: the
/// password file's digest and the names of the repository's key files. A plan that
/// finds both as noted trusts the password without deriving the key (restic's
/// scrypt, about 0.45 s of CPU a run) and reads the snapshots' times from the files.
fn opened_marker(repository: &str) -> String {
    format!(
        "/var/lib/steward/restic/{}.opened",
        &crate::util::sha256_hex(repository.as_bytes())[..16]
    )
}

/// Shell lines listing a repository's files without restic: `keys NAME,NAME,` (sorted),
/// `lock NAME` for each lock, and each snapshot file's time, `snaptime EPOCH` (a local
/// repository) or `snapls MON DAY HH:MM|YEAR` (sftp's `ls -ln`, in UTC). Fails when it
/// cannot list. `None` for other backends.
fn fast_listing(repository: &str) -> Option<String> {
    match listable(repository)? {
        Listable::Local(path) => {
            let d = quote(path);
            Some(format!(
                "[ -d {d}/keys ] && printf 'keys %s\\n' \"$(ls -1 {d}/keys | sort | tr '\\n' ',')\" \
                 && {{ ls -1A {d}/locks 2>/dev/null | sed 's/^/lock /'; \
                 for f in {d}/snapshots/*; do [ -f \"$f\" ] && echo \"snaptime $(stat -c %Y \"$f\")\"; done; true; }}"
            ))
        }
        Listable::Sftp { dest, port, path } => {
            let commands = [
                format!("ls -1 \"{path}/keys\""),
                format!("ls -1 \"{path}/locks\""),
                format!("ls -ln \"{path}/snapshots\""),
            ]
            .iter()
            .map(|c| quote(c))
            .collect::<Vec<_>>()
            .join(" ");
            Some(format!(
                "printf '%s\\n' {commands} | TZ=UTC sftp -q -b -{port} -- {} 2>/dev/null | awk '\
                 /^sftp> ls -1 .*keys\"$/ {{s=\"k\"; next}} /^sftp> ls -1 .*locks\"$/ {{s=\"l\"; next}} /^sftp> ls -ln/ {{s=\"s\"; next}} \
                 s==\"k\" {{n=$0; sub(/.*\\//, \"\", n); k=k n \",\"}} s==\"l\" {{n=$0; sub(/.*\\//, \"\", n); print \"lock \" n}} \
                 s==\"s\" && NF>=9 {{print \"snapls \" $6 \" \" $7 \" \" $8}} END {{print \"keys \" k}}'",
                quote(dest),
            ))
        }
    }
}

/// Where a repository's files can be listed without restic.
enum Listable<'a> {
    /// A local folder (no trailing `/`).
    Local(&'a str),
    /// An sftp path (no trailing `/`), reached as restic reaches it (ssh as the host's
    /// root); `port` is sftp's option for it, or empty.
    Sftp {
        dest: &'a str,
        port: String,
        path: &'a str,
    },
}

fn listable(repository: &str) -> Option<Listable<'_>> {
    if let Some(path) = repository
        .strip_prefix("local:")
        .or_else(|| repository.starts_with('/').then_some(repository))
    {
        return Some(Listable::Local(path.trim_end_matches('/')));
    }
    let (dest, port, path) = sftp_target(repository)?;
    // sftp's batch language has its own quoting and globbing: paths that would need
    // more than double quotes go to restic.
    if path.is_empty() || path.contains(['"', '\\', '\n', '*', '?', '[']) {
        return None;
    }
    Some(Listable::Sftp {
        dest,
        port: port.map_or(String::new(), |p| format!(" -P {}", quote(p))),
        path: path.trim_end_matches('/'),
    })
}

/// The shell words that say what a repository is now, as its marker notes it: the
/// password file's digest and the key files' names (from a listing in `$fl`).
fn opened_state(password_file: &str) -> String {
    format!(
        "\"$(sha256sum < {} | cut -d' ' -f1) $(printf '%s\\n' \"$fl\" | sed -n 's/^keys //p')\"",
        quote(password_file)
    )
}

/// The lines that note a repository as opened (after `restic init` or a check that it
/// opens), for [`opened_marker`].
fn note_opened(repository: &str, password_file: &str) -> String {
    let Some(listing) = fast_listing(repository) else {
        return String::new();
    };
    let marker = opened_marker(repository);
    let state = opened_state(password_file);
    format!(
        "fl=$({listing}) && mkdir -p /var/lib/steward/restic && printf '%s\\n' {state} > {marker}\n"
    )
}

/// The lines reading a repository with restic: it opens, its locks, its snapshots.
fn slow_repository_script(repository: &str, password_file: &str) -> String {
    let r = restic(repository, password_file);
    let pf = quote(password_file);
    let restic_ids = format!("{r} list locks 2>/dev/null </dev/null");
    // The listing without restic, where it works; restic's own when it fails.
    let ids = match lock_listing(repository) {
        Some(listing) => format!("ids=$({listing}) || ids=$({restic_ids})"),
        None => format!("ids=$({restic_ids})"),
    };
    format!(
        "e=$(mktemp); if [ ! -r {pf} ]; then echo 'open no-password-file'; \
         elif out=$({r} snapshots --json 2>\"$e\" </dev/null); then echo 'open 0'; echo \"hostname $(hostname)\"; \
           {ids}; \
           for id in $(printf '%s\\n' \"$ids\" | grep -E '^[0-9a-f]{{64}}$'); do \
             j=$({r} cat lock \"$id\" 2>/dev/null </dev/null | tr -d '\\n'); \
             pid=$(printf '%s' \"$j\" | sed -n 's/.*\"pid\": *\\([0-9]*\\).*/\\1/p'); \
             if [ -n \"$pid\" ] && kill -0 \"$pid\" 2>/dev/null; then alive=1; else alive=0; fi; \
             echo \"lock $alive $j\"; \
           done; \
           echo snapshots; printf '%s\\n' \"$out\"; \
         else echo 'open 1'; tail -n 4 \"$e\"; fi; rm -f \"$e\"\n"
    )
}

/// A shell command printing the names of the repository's lock files (one per line,
/// possibly with a path before them) and failing when it cannot, for the backends
/// whose files can be listed without restic: sftp (as restic itself reaches it: ssh
/// as the host's root) and a local directory. None for the others.
fn lock_listing(repository: &str) -> Option<String> {
    match listable(repository)? {
        Listable::Local(path) => {
            let locks = format!("{path}/locks");
            Some(format!("[ -d {q} ] && ls -1A {q}", q = quote(&locks)))
        }
        Listable::Sftp { dest, port, path } => {
            let command = format!("ls -1 \"{path}/locks\"");
            // The status is sftp's, so a listing that fails falls back to restic.
            Some(format!(
                "l=$(printf '%s\\n' {} | sftp -q -b -{port} -- {} 2>/dev/null) && printf '%s\\n' \"$l\" | sed -e '/^sftp>/d' -e 's|.*/||'",
                quote(&command),
                quote(dest),
            ))
        }
    }
}

/// (`[user@]host`, port, path) of an sftp repository, in either of restic's forms:
/// `sftp:[user@]host:path` and `sftp://[user@]host[:port]/path` (an absolute path
/// after `//`).
fn sftp_target(repository: &str) -> Option<(&str, Option<&str>, &str)> {
    if let Some(rest) = repository.strip_prefix("sftp://") {
        let (authority, path) = rest.split_once('/')?;
        let (dest, port) = match authority.rsplit_once(':') {
            // A bracketed IPv6 address holds colons of its own.
            Some((d, p)) if !p.contains(']') => (d, Some(p)),
            _ => (authority, None),
        };
        if port.is_some_and(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())) {
            return None;
        }
        return Some((dest, port, path));
    }
    let rest = repository.strip_prefix("sftp:")?;
    let host_end = if let Some(i) = rest.find('[') {
        i + rest[i..].find(']')?
    } else {
        0
    };
    let colon = host_end + rest[host_end..].find(':')?;
    Some((&rest[..colon], None, &rest[colon + 1..]))
}

/// What reading a repository found.
#[derive(Debug, Clone, PartialEq)]
pub enum RepoFacts {
    /// The password file is not there yet: nothing can be read before apply writes it.
    NoPasswordFile,
    /// No repository at that location.
    Missing,
    /// It opens; with its locks and every snapshot in it.
    Open {
        locks: Vec<Lock>,
        snapshots: Vec<Snapshot>,
    },
    /// It exists or may exist, but cannot be opened (wrong password, unreachable).
    Unreadable(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lock {
    #[serde(default)]
    pub time: String,
    #[serde(default)]
    pub hostname: String,
    #[serde(default)]
    pub pid: i64,
    #[serde(default)]
    pub exclusive: bool,
    /// Whether that process still runs (restic does not write it: the fact script
    /// asks the host, and a lock from another host counts as alive).
    #[serde(default)]
    pub alive: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Snapshot {
    pub time: String,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Known from the repository's files alone, without its tags: it is the job's, as
    /// a repository serves one job (validate refuses two).
    #[serde(default)]
    pub any_job: bool,
}

/// The time of a file as sftp's `ls -ln` shows it in UTC (`Nov 27 12:26`, or
/// `Nov 27 2025` when older than six months), in Unix seconds: to the minute, never
/// later than the file's own time by more than that.
fn ls_time(text: &str, now: i64) -> Option<i64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mut f = text.split_whitespace();
    let name = f.next()?;
    let month = MONTHS.iter().position(|m| *m == name)? + 1;
    let day: u32 = f.next()?.parse().ok()?;
    let last = f.next()?;
    let at = |year: i64, secs: i64| {
        crate::util::parse_date(&format!("{year:04}-{month:02}-{day:02}"))
            .map(|d| d * 86_400 + secs)
    };
    match last.split_once(':') {
        Some((h, m)) => {
            let secs = h.parse::<i64>().ok()? * 3600 + m.parse::<i64>().ok()? * 60;
            let year = crate::util::rfc3339(now.max(0) as u64)
                .get(..4)?
                .parse::<i64>()
                .ok()?;
            // Within the last six months: this year, or last year's late months.
            let t = at(year, secs)?;
            if t > now + 86_400 {
                at(year - 1, secs)
            } else {
                Some(t)
            }
        }
        None => at(last.parse().ok()?, 0),
    }
}

pub fn parse_repository(text: &str) -> RepoFacts {
    let mut lines = text.lines();
    match lines.next() {
        Some("open no-password-file") => RepoFacts::NoPasswordFile,
        Some("open fast") => {
            let now = crate::util::unix_now() as i64;
            let snapshots = lines
                .filter_map(|l| {
                    let t = match l.split_once(' ') {
                        Some(("snaptime", t)) => t.trim().parse::<i64>().ok(),
                        Some(("snapls", t)) => ls_time(t, now),
                        _ => None,
                    }?;
                    Some(Snapshot {
                        time: crate::util::rfc3339(t.max(0) as u64),
                        tags: Vec::new(),
                        any_job: true,
                    })
                })
                .collect();
            RepoFacts::Open {
                locks: Vec::new(),
                snapshots,
            }
        }
        Some("open 0") => {
            let mut hostname = "";
            let mut locks = Vec::new();
            let mut snapshots = Vec::new();
            while let Some(line) = lines.next() {
                if line == "snapshots" {
                    let rest: Vec<&str> = lines.by_ref().collect();
                    snapshots = serde_json::from_str(rest.join("\n").trim()).unwrap_or_default();
                } else if let Some(h) = line.strip_prefix("hostname ") {
                    hostname = h.trim();
                } else if let Some(rest) = line.strip_prefix("lock ") {
                    let (alive, json) = rest.split_once(' ').unwrap_or((rest, ""));
                    if let Ok(mut lock) = serde_json::from_str::<Lock>(json) {
                        // A PID means something only on the host that wrote the lock.
                        lock.alive = lock.hostname != hostname || alive == "1";
                        locks.push(lock);
                    }
                }
            }
            RepoFacts::Open { locks, snapshots }
        }
        _ => {
            let rest: Vec<&str> = lines.collect();
            let message = rest.join("\n");
            if message.contains("Is there a repository at the following location?") {
                RepoFacts::Missing
            } else {
                RepoFacts::Unreadable(
                    rest.iter()
                        .find(|l| l.starts_with("Fatal:"))
                        .copied()
                        .unwrap_or(message.trim())
                        .trim_start_matches("Fatal: ")
                        .to_string(),
                )
            }
        }
    }
}

/// A lock left behind: its process is gone, or it is older than restic's own limit.
pub fn is_leftover(lock: &Lock, now: i64) -> bool {
    let old = crate::util::parse_rfc3339(&lock.time).is_some_and(|t| now - t > STALE_LOCK_SECS);
    !lock.alive || old
}

/// The live attributes of a repository that opens: the same as the file's, plus its
/// locks (read for health, not compared).
pub fn repository_attrs(want: &Attrs, locks: &[Lock]) -> Attrs {
    let mut a = Attrs::default();
    for k in ["host", "repository", "password_file"] {
        if let Some(v) = want.get(k) {
            a.insert(k, v.clone());
        }
    }
    a.insert(
        "locks",
        serde_json::to_value(locks).unwrap_or(Value::Array(Vec::new())),
    );
    a
}

/// The locks of a repository's live attributes.
pub fn locks_of(attrs: &Attrs) -> Vec<Lock> {
    attrs
        .get("locks")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default()
}

/// One job's snapshots (those with its tag): how many, and the newest time stamp as
/// restic wrote it.
pub fn job_snapshots(snapshots: &[Snapshot], job: &str) -> (usize, Option<String>) {
    let tag = tag(job);
    let mine: Vec<&Snapshot> = snapshots
        .iter()
        .filter(|s| s.any_job || s.tags.contains(&tag))
        .collect();
    let latest = mine
        .iter()
        .filter_map(|s| Some((crate::util::parse_rfc3339(&s.time)?, &s.time)))
        .max_by_key(|(t, _)| *t)
        .map(|(_, s)| s.clone());
    (mine.len(), latest)
}

/// Initialises the repository; one that already exists is accepted if it opens with
/// the password.
pub fn init_script(repository: &str, password_file: &str) -> String {
    let r = format!(
        "restic -r {} --password-file {}",
        quote(repository),
        quote(password_file)
    );
    let note = note_opened(repository, password_file);
    format!(
        "out=$({r} init 2>&1 </dev/null) && {{ {note}exit 0; }}\n\
         case \"$out\" in *'already exists'*) {r} --no-lock cat config >/dev/null 2>&1 </dev/null && {{ {note}exit 0; }} ;; esac\n\
         printf '%s\\n' \"$out\"; exit 1\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_facts_tell_missing_from_unreadable() {
        assert_eq!(
            parse_repository(
                "open 1\nFatal: unable to open config file: stat /r/config: no such file or directory\nIs there a repository at the following location?\n/r\n"
            ),
            RepoFacts::Missing
        );
        assert_eq!(
            parse_repository("open 1\nFatal: wrong password or no key found\n"),
            RepoFacts::Unreadable("wrong password or no key found".into())
        );
        assert_eq!(
            parse_repository("open no-password-file\n"),
            RepoFacts::NoPasswordFile
        );
        let facts = parse_repository(
            "open 0\nhostname office\nlock 0 {\"time\":\"2026-11-22T02:00:00.5+01:00\",\"exclusive\":false,\"hostname\":\"office\",\"username\":\"root\",\"pid\":4242}\nlock 0 {\"time\":\"2026-11-22T02:00:00Z\",\"hostname\":\"other\",\"pid\":7}\n",
        );
        let RepoFacts::Open { locks, .. } = facts else {
            panic!("{facts:?}")
        };
        assert_eq!(locks.len(), 2);
        assert!(!locks[0].alive, "dead process on this host");
        assert!(locks[1].alive, "another host's PID says nothing here");
        let t = crate::util::parse_rfc3339("2026-11-22T02:00:00Z").unwrap();
        assert!(is_leftover(&locks[0], t));
        assert!(!is_leftover(&locks[1], t + 60));
        assert!(is_leftover(&locks[1], t + STALE_LOCK_SECS + 1));
    }

    #[test]
    fn sftp_repositories_in_both_of_restics_forms() {
        assert_eq!(
            sftp_target("sftp:restic@backup.pool.example:/srv/restic/riverside"),
            Some(("restic@backup.pool.example", None, "/srv/restic/riverside"))
        );
        assert_eq!(
            sftp_target("sftp:backup:repos/r"),
            Some(("backup", None, "repos/r"))
        );
        assert_eq!(
            sftp_target("sftp:u@[::1]:/srv/r"),
            Some(("u@[::1]", None, "/srv/r"))
        );
        assert_eq!(
            sftp_target("sftp://u@host:2222//srv/r"),
            Some(("u@host", Some("2222"), "/srv/r"))
        );
        assert_eq!(
            sftp_target("sftp://u@[::1]/r"),
            Some(("u@[::1]", None, "r"))
        );
        assert_eq!(sftp_target("rest:https://x/r"), None);
        assert!(lock_listing("s3:s3.amazonaws.com/bucket").is_none());
        assert!(lock_listing("sftp:h:/srv/a*b").is_none(), "sftp would glob");
        assert!(lock_listing("/srv/restic/r").is_some());
    }

    /// The listing as the fact script runs it, against a real directory.
    #[test]
    fn local_lock_files_are_listed_without_restic() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("my repo");
        std::fs::create_dir_all(repo.join("locks")).unwrap();
        let id = "a".repeat(64);
        std::fs::write(repo.join("locks").join(&id), "").unwrap();
        let listing = lock_listing(repo.to_str().unwrap()).unwrap();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&listing)
            .output()
            .unwrap();
        assert!(out.status.success());
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), id);
        let missing = lock_listing(dir.path().join("none").to_str().unwrap()).unwrap();
        let status = std::process::Command::new("sh")
            .arg("-c")
            .arg(&missing)
            .status()
            .unwrap();
        assert!(
            !status.success(),
            "a missing directory falls back to restic"
        );
    }

    #[test]
    fn the_latest_snapshot_is_the_newest_whatever_its_precision() {
        let text = "open 0\nhostname office\nsnapshots\n[{\"time\":\"2026-11-21T02:00:00.123456789+01:00\",\"tags\":[\"steward:docs\"]},{\"time\":\"2026-11-22T01:00:00Z\",\"tags\":[\"steward:docs\"]},{\"time\":\"2026-11-23T01:00:00Z\",\"tags\":[\"steward:other\"]},{\"time\":\"2026-11-20T02:00:00.1Z\",\"tags\":[\"steward:docs\"]}]\n";
        let RepoFacts::Open { snapshots, .. } = parse_repository(text) else {
            panic!("opens")
        };
        assert_eq!(
            job_snapshots(&snapshots, "docs"),
            (3, Some("2026-11-22T01:00:00Z".to_string()))
        );
        assert_eq!(job_snapshots(&[], "docs"), (0, None));
    }

    #[test]
    fn sftp_listing_times_are_read_to_the_minute_in_the_right_year() {
        // 2026-11-27T12:00:00Z
        let now = 1_795_780_800;
        assert_eq!(
            crate::util::rfc3339(ls_time("Nov 27 11:58", now).expect("time") as u64),
            "2026-11-27T11:58:00Z"
        );
        // December's files, seen in November, are last year's.
        assert_eq!(
            crate::util::rfc3339(ls_time("Dec 30 23:10", now).expect("time") as u64),
            "2025-12-30T23:10:00Z"
        );
        assert_eq!(
            crate::util::rfc3339(ls_time("Mar  3  2025", now).expect("time") as u64),
            "2025-03-03T00:00:00Z"
        );
        assert_eq!(ls_time("Foo 3 2025", now), None);
    }
}
