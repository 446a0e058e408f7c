//! restic repositories and backup jobs: whether the repository exists, its locks, and
//! each job's latest snapshot. Every restic call runs on the host that backs up, with
//! its password file, so the password never leaves that host. Each call derives the
//! key from the password (scrypt, slow by design) and opens its own connection to the
//! repository, so a plan makes two per repository: one snapshot listing (which also
//! tells whether the repository opens, and serves every job in it) and one for locks.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::shell::quote;
use crate::resource::Attrs;

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

/// Shell lines reading one repository: `open 0`, its locks and then its snapshots
/// (JSON) when it opens, else the reason. A missing password file means nothing can
/// be known yet.
pub fn repository_script(repository: &str, password_file: &str) -> String {
    let r = restic(repository, password_file);
    let pf = quote(password_file);
    format!(
        "e=$(mktemp); if [ ! -r {pf} ]; then echo 'open no-password-file'; \
         elif out=$({r} snapshots --json 2>\"$e\" </dev/null); then echo 'open 0'; echo \"hostname $(hostname)\"; \
           for id in $({r} list locks 2>/dev/null </dev/null); do \
             j=$({r} cat lock \"$id\" 2>/dev/null </dev/null | tr -d '\\n'); \
             pid=$(printf '%s' \"$j\" | sed -n 's/.*\"pid\": *\\([0-9]*\\).*/\\1/p'); \
             if [ -n \"$pid\" ] && kill -0 \"$pid\" 2>/dev/null; then alive=1; else alive=0; fi; \
             echo \"lock $alive $j\"; \
           done; \
           echo snapshots; printf '%s\\n' \"$out\"; \
         else echo 'open 1'; tail -n 4 \"$e\"; fi; rm -f \"$e\"\n"
    )
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
}

pub fn parse_repository(text: &str) -> RepoFacts {
    let mut lines = text.lines();
    match lines.next() {
        Some("open no-password-file") => RepoFacts::NoPasswordFile,
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
    let mine: Vec<&Snapshot> = snapshots.iter().filter(|s| s.tags.contains(&tag)).collect();
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
    format!(
        "out=$({r} init 2>&1 </dev/null) && exit 0\n\
         case \"$out\" in *'already exists'*) {r} --no-lock cat config >/dev/null 2>&1 </dev/null && exit 0 ;; esac\n\
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
}
