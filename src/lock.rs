//! One apply per org at a time: an advisory lock file per org under the state folder.
//! The kernel releases it when the holder exits, however it exits, so there are no
//! stale locks to clean up; the file's content says who holds it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("org `{org}` is locked by another apply: {holder}")]
    Held { org: String, holder: String },
    #[error("cannot open lock file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Held while it lives.
#[derive(Debug)]
pub struct OrgLock {
    _file: File,
}

pub fn holder_description() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown-host".into());
    format!(
        "{user}@{host} (pid {}) since {}",
        std::process::id(),
        crate::util::now_rfc3339()
    )
}

pub fn acquire(state_dir: &Path, org: &str) -> Result<OrgLock, LockError> {
    let dir = state_dir.join("locks");
    let path = dir.join(format!("{org}.lock"));
    let io = |source| LockError::Io {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(&dir).map_err(io)?;
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            return Err(LockError::Held {
                org: org.to_string(),
                holder: if holder.is_empty() {
                    "unknown holder".into()
                } else {
                    holder.to_string()
                },
            });
        }
        Err(TryLockError::Error(e)) => return Err(io(e)),
    }
    file.set_len(0).map_err(io)?;
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    writeln!(file, "{}", holder_description()).map_err(io)?;
    file.flush().map_err(io)?;
    Ok(OrgLock { _file: file })
}
