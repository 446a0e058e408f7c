//! restic repositories and backup jobs: whether the repository exists, its locks, and
//! each job's latest snapshot. Every restic call runs on the host that backs up, with
//! its password file, so the password never leaves that host.

use serde::Deserialize;
use serde_json::{Value, json};

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

/// Shell lines reading one repository: `open 0` and its locks when it opens, else the
/// reason. A missing password file means nothing can be known yet.
pub fn repository_script(repository: &str, password_file: &str) -> String {
    let r = restic(repository, password_file);
    let pf = quote(password_file);
    format!(
        "if [ ! -r {pf} ]; then echo 'open no-password-file'; \
         elif out=$({r} cat config 2>&1 </dev/null); then echo 'open 0'; echo \"hostname $(hostname)\"; \
           for id in $({r} list locks 2>/dev/null </dev/null); do \
             j=$({r} cat lock \"$id\" 2>/dev/null </dev/null | tr -d '\\n'); \
             pid=$(printf '%s' \"$j\" | sed -n 's/.*\"pid\": *\\([0-9]*\\).*/\\1/p'); \
             if [ -n \"$pid\" ] && kill -0 \"$pid\" 2>/dev/null; then alive=1; else alive=0; fi; \
             echo \"lock $alive $j\"; \
           done; \
         else echo 'open 1'; printf '%s\\n' \"$out\" | tail -n 4; fi\n"
    )
}

/// Shell lines printing one job's snapshots as JSON (`ok` first), or why not.
pub fn job_script(repository: &str, password_file: &str, job: &str) -> String {
    let r = restic(repository, password_file);
    format!(
        "if [ -r {pf} ] && out=$({r} snapshots --json --tag {t} 2>&1 </dev/null); then echo ok; printf '%s\\n' \"$out\"; else echo failed; fi\n",
        pf = quote(password_file),
        t = quote(&tag(job)),
    )
}

/// What reading a repository found.
#[derive(Debug, Clone, PartialEq)]
pub enum RepoFacts {
    /// The password file is not there yet: nothing can be read before apply writes it.
    NoPasswordFile,
    /// No repository at that location.
    Missing,
    /// It opens; with its locks.
    Open { locks: Vec<Lock> },
    /// It exists or may exist, but cannot be opened (wrong password, unreachable).
    Unreadable(String),
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Lock {
    #[serde(default)]
    pub time: String,
    #[serde(default)]
    pub hostname: String,
    #[serde(default)]
    pub pid: i64,
    #[serde(default)]
    pub exclusive: bool,
    /// Whether that process still runs (meaningful only on the same host).
    #[serde(skip)]
    pub alive: bool,
}

pub fn parse_repository(text: &str) -> RepoFacts {
    let mut lines = text.lines();
    match lines.next() {
        Some("open no-password-file") => RepoFacts::NoPasswordFile,
        Some("open 0") => {
            let mut hostname = "";
            let mut locks = Vec::new();
            for line in lines {
                if let Some(h) = line.strip_prefix("hostname ") {
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
            RepoFacts::Open { locks }
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
        Value::Array(
            locks
                .iter()
                .map(|l| {
                    json!({"time": l.time, "hostname": l.hostname, "pid": l.pid,
                           "exclusive": l.exclusive, "alive": l.alive})
                })
                .collect(),
        ),
    );
    a
}

/// A job's snapshots: how many, and the newest time stamp as restic wrote it.
pub fn parse_job(text: &str) -> Option<(usize, Option<String>)> {
    let mut lines = text.lines();
    if lines.next()? != "ok" {
        return None;
    }
    #[derive(Deserialize)]
    struct Snapshot {
        time: String,
    }
    let rest: String = lines.collect::<Vec<_>>().join("\n");
    let snaps: Vec<Snapshot> = serde_json::from_str(rest.trim()).ok()?;
    let latest = snaps
        .iter()
        .filter_map(|s| Some((crate::util::parse_rfc3339(&s.time)?, &s.time)))
        .max_by_key(|(t, _)| *t)
        .map(|(_, s)| s.clone());
    Some((snaps.len(), latest))
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
        let RepoFacts::Open { locks } = facts else {
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
        let text = "ok\n[{\"time\":\"2026-11-21T02:00:00.123456789+01:00\"},{\"time\":\"2026-11-22T01:00:00Z\"},{\"time\":\"2026-11-20T02:00:00.1Z\"}]\n";
        assert_eq!(
            parse_job(text),
            Some((3, Some("2026-11-22T01:00:00Z".to_string())))
        );
        assert_eq!(parse_job("ok\n[]\n"), Some((0, None)));
        assert_eq!(parse_job("failed\n"), None);
    }
}
