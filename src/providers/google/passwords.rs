//! Generated initial passwords, kept in `.steward/passwords/<org>.tsv` (mode 0600).
//!
//! A password is written *before* the create request that sets it is sent, and fsync'd,
//! so a lost reply, a kill or an adoption can never leave a created user without its
//! recorded password. A record is one line of four tab-separated fields: time, address,
//! password, and what became of the create, padded to a fixed width so it can be
//! rewritten in place:
//! `pending` (sent, outcome not seen: if the user exists, this is its password),
//! `created`, or `not-created` (the create never happened, or an existing account was
//! adopted and its password left as it was). The file is a log: records are appended
//! whole under a lock shared across processes, so they never interleave, and the last
//! record of an address is the one that counts. The status is not fsync'd: losing it to
//! a crash leaves `pending`, which is what is then known.

use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::secrets::Secret;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pending,
    Created,
    NotCreated,
}

/// Every status takes this many bytes, so settling one rewrites it in place.
const STATUS_WIDTH: usize = 11;

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Created => "created",
            Status::NotCreated => "not-created",
        }
    }

    fn padded(self) -> String {
        format!("{:<STATUS_WIDTH$}", self.as_str())
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

    fn open(&self) -> std::io::Result<std::fs::File> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .mode(0o600)
            .open(&self.path)
    }

    /// Appends `password` for `email` as pending, durably, before the create is sent.
    pub fn record(&self, email: &str, password: &Secret) -> std::io::Result<()> {
        let line = format!(
            "{}\t{email}\t{}\t{}\n",
            crate::util::now_rfc3339(),
            password.expose(),
            Status::Pending.padded()
        );
        let mut f = self.open()?;
        f.lock()?;
        // A line cut short by a crash must not swallow this record.
        let len = f.seek(SeekFrom::End(0))?;
        if len > 0 {
            let mut last = [0u8; 1];
            f.seek(SeekFrom::End(-1))?;
            f.read_exact(&mut last)?;
            if last[0] != b'\n' {
                f.write_all(b"\n")?;
            }
        }
        f.write_all(line.as_bytes())?;
        // Synced outside the lock: creates running at once share their fsyncs.
        f.unlock()?;
        f.sync_all()
    }

    /// Says what became of the create whose password is pending for `email`.
    pub fn settle(&self, email: &str, status: Status) -> std::io::Result<()> {
        let mut f = self.open()?;
        f.lock()?;
        let mut text = String::new();
        f.read_to_string(&mut text)?;
        // The status field of the last pending record of this address.
        let mut start = 0usize;
        let mut at = None;
        for line in text.split_inclusive('\n') {
            let fields: Vec<&str> = line.trim_end_matches('\n').split('\t').collect();
            if fields.len() == 4 && fields[1] == email && fields[3].trim_end() == "pending" {
                at = Some(start + fields[..3].iter().map(|x| x.len() + 1).sum::<usize>());
            }
            start += line.len();
        }
        let Some(at) = at else {
            return Ok(());
        };
        f.seek(SeekFrom::Start(at as u64))?;
        f.write_all(status.padded().as_bytes())
    }
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
            let i: usize = parts[1][1..2].parse().expect("thread");
            let n: usize = parts[1][3..parts[1].find('@').expect("@")]
                .parse()
                .expect("n");
            assert_eq!(parts[2], format!("pw-{i}-{n}-abcdefgh"), "whole: {l}");
            let want = if n.is_multiple_of(2) {
                "created"
            } else {
                "not-created"
            };
            assert_eq!(parts[3].trim_end(), want, "{l}");
        }
        // A later create of the same address is a record of its own, settled alone.
        book.record("u0-0@example.org", &Secret::new("another-pw-1".into()))
            .expect("record");
        book.settle("u0-0@example.org", Status::NotCreated)
            .expect("settle");
        let text = std::fs::read_to_string(book.path()).expect("read");
        let again: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("\tu0-0@example.org\t"))
            .collect();
        assert_eq!(again.len(), 2);
        assert!(again[0].trim_end().ends_with("\tcreated"), "{}", again[0]);
        assert!(
            again[1].trim_end().ends_with("\tanother-pw-1\tnot-created"),
            "{}",
            again[1]
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(book.path())
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
