//! Files: atomic writes, and reading user-edited files safely.

use std::io::Write;
use std::path::Path;

/// Writes a file by writing a temporary sibling and renaming it into place, so a reader
/// never sees half a file. `mode` applies on Unix.
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name()
            .map_or_else(|| "file".into(), |n| n.to_string_lossy()),
        std::process::id()
    ));
    {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

/// The YAML files directly in `dir` (not hidden ones), sorted by name.
pub fn yaml_files(dir: &Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|e| e == "yaml" || e == "yml")
                && p.file_name()
                    .is_some_and(|n| !n.to_string_lossy().starts_with('.'))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Why a user file could not be read. Never carries the file's content.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} resolves to {target}, outside {allowed}: Steward reads nothing there")]
    Outside {
        path: String,
        target: String,
        allowed: String,
    },
    #[error(
        "{path} is a symbolic link: the pool's own files are read where they are, never through a link (it could point at a secret)"
    )]
    Link { path: String },
    #[error("{path} is {size} bytes; files of at most {max} bytes are read")]
    TooLarge { path: String, size: u64, max: u64 },
    /// Not UTF-8: the text up to the bad byte (for a position) and the byte's offset.
    #[error("{path} is not UTF-8 text: byte {byte:#04x} at line {line}, column {column}")]
    NotUtf8 {
        path: String,
        byte: u8,
        line: usize,
        column: usize,
        offset: usize,
        lossy: String,
    },
}

/// Reads one of the pool's own files at its fixed place (`steward.yaml`,
/// `baseline.yaml`): it may not be a symbolic link, since a link inside the pool could
/// point at a secret and a syntax error would quote it. Otherwise as [`read_inside`].
pub fn read_own(path: &Path, root: &Path, shown: &Path) -> Result<String, ReadError> {
    let linked = |p: &Path| std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink());
    if linked(path) || path.parent().is_some_and(|d| d != root && linked(d)) {
        return Err(ReadError::Link {
            path: shown.display().to_string(),
        });
    }
    read_inside(path, root, shown)
}

/// Reads a user-edited file that must lie inside `allowed` once every symlink is
/// resolved (an org file inside `orgs/`, a template inside its module's folder): a
/// link to a secret or to `/etc/passwd` is refused by name, its content never read.
/// Bounded in size, and UTF-8 with the position of the first byte that is not.
pub fn read_inside(path: &Path, allowed: &Path, shown: &Path) -> Result<String, ReadError> {
    let io = |source| ReadError::Io {
        path: shown.display().to_string(),
        source,
    };
    let target = std::fs::canonicalize(path).map_err(io)?;
    let root = std::fs::canonicalize(allowed).map_err(io)?;
    if !target.starts_with(&root) {
        return Err(ReadError::Outside {
            path: shown.display().to_string(),
            target: target.display().to_string(),
            allowed: allowed.display().to_string(),
        });
    }
    let size = std::fs::metadata(&target).map_err(io)?.len();
    let max = crate::yaml::MAX_FILE_BYTES;
    if size > max {
        return Err(ReadError::TooLarge {
            path: shown.display().to_string(),
            size,
            max,
        });
    }
    let bytes = std::fs::read(&target).map_err(io)?;
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let bytes = e.into_bytes();
        let good = String::from_utf8_lossy(&bytes[..offset]);
        let line = good.matches('\n').count() + 1;
        let column = good.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        ReadError::NotUtf8 {
            path: shown.display().to_string(),
            byte: bytes[offset],
            line,
            column,
            offset,
            lossy: String::from_utf8_lossy(&bytes).into_owned(),
        }
    })
}
