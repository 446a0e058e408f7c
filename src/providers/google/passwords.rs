//! Generated initial passwords, kept in `.steward/passwords/<org>.tsv` (mode 0600).
//!
//! A password is written *before* the create request that sets it is sent, so a lost
//! reply, a kill or an adoption can never leave a created user without its recorded
//! password. A record is four tab-separated fields: time, address, password, and what
//! became of the create:
//! `pending` (sent, outcome not seen: if the user exists, this is its password),
//! `created`, or `not-created` (the create never happened, or an existing account was
//! adopted and its password left as it was). One record per user: a later create of the
//! same address replaces it. Every change rewrites the file whole under a lock shared
//! across processes (write, fsync, rename), so records never interleave or tear.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::secrets::Secret;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pending,
    Created,
    NotCreated,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Created => "created",
            Status::NotCreated => "not-created",
        }
    }
}

/// One org's password file.
#[derive(Debug, Clone)]
pub struct PasswordBook {
    path: PathBuf,
}

impl PasswordBook {
    pub fn new(path: PathBuf) -> PasswordBook {
        PasswordBook { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records `password` for `email` as pending, replacing any earlier record.
    pub fn record(&self, email: &str, password: &Secret) -> std::io::Result<()> {
        let line = format!(
            "{}\t{email}\t{}\t{}",
            crate::util::now_rfc3339(),
            password.expose(),
            Status::Pending.as_str()
        );
        self.rewrite(|lines| {
            lines.retain(|l| field(l, 1) != Some(email));
            lines.push(line);
        })
    }

    /// Says what became of the create whose password was recorded.
    pub fn settle(&self, email: &str, status: Status) -> std::io::Result<()> {
        self.rewrite(|lines| {
            for l in lines.iter_mut() {
                if field(l, 1) == Some(email) && field(l, 3) == Some(Status::Pending.as_str()) {
                    let mut parts: Vec<&str> = l.split('\t').collect();
                    parts[3] = status.as_str();
                    *l = parts.join("\t");
                }
            }
        })
    }

    fn rewrite(&self, edit: impl FnOnce(&mut Vec<String>)) -> std::io::Result<()> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        // The lock lives in a file of its own: the records file is replaced by rename.
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(self.path.with_extension("tsv.lock"))?;
        lock.lock()?;
        let mut text = String::new();
        match File::open(&self.path) {
            Ok(mut f) => {
                f.read_to_string(&mut text)?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let mut lines: Vec<String> = text
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| {
                // Records from before statuses were kept: their creates were reported
                // as done.
                if l.split('\t').count() == 3 {
                    format!("{l}\t{}", Status::Created.as_str())
                } else {
                    l.to_string()
                }
            })
            .collect();
        edit(&mut lines);
        let mut out = lines.join("\n");
        out.push('\n');
        let tmp = self.path.with_extension("tsv.tmp");
        {
            let mut f = OpenOptions::new()
                .create(true)
                .truncate(true)
                .write(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(out.as_bytes())?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &self.path)?;
        File::open(dir)?.sync_all()?;
        drop(lock);
        Ok(())
    }
}

fn field(line: &str, i: usize) -> Option<&str> {
    line.split('\t').nth(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_whole_and_one_per_user_under_concurrent_writers() {
        let dir = tempfile::tempdir().expect("tempdir");
        let book = PasswordBook::new(dir.path().join("org.tsv"));
        std::thread::scope(|s| {
            for t in 0..8 {
                let book = book.clone();
                s.spawn(move || {
                    for i in 0..20 {
                        let email = format!("u{t}-{i}@example.org");
                        book.record(&email, &Secret::new(format!("pw-{t}-{i}-abcdefgh")))
                            .expect("record");
                        let status = if i % 2 == 0 {
                            Status::Created
                        } else {
                            Status::NotCreated
                        };
                        book.settle(&email, status).expect("settle");
                    }
                });
            }
        });
        let text = std::fs::read_to_string(book.path()).expect("read");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 160);
        for l in &lines {
            let parts: Vec<&str> = l.split('\t').collect();
            assert_eq!(parts.len(), 4, "{l}");
            assert!(parts[2].starts_with("pw-"), "{l}");
            assert!(["created", "not-created"].contains(&parts[3]), "{l}");
        }
        // A new create of the same address replaces the old record.
        book.record("u0-0@example.org", &Secret::new("another-pw-1".into()))
            .expect("record");
        let text = std::fs::read_to_string(book.path()).expect("read");
        let again: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("\tu0-0@example.org\t"))
            .collect();
        assert_eq!(again.len(), 1);
        assert!(again[0].ends_with("\tanother-pw-1\tpending"));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(book.path())
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
