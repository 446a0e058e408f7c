//! Small helpers with no better home: hashing, time stamps, atomic file writes.

use std::io::Write;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

pub fn sha256_hex(data: &[u8]) -> String {
    let digest = openssl::sha::sha256(data);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// RFC 3339 UTC time stamp (second precision) of a Unix time.
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

pub fn now_rfc3339() -> String {
    rfc3339(unix_now())
}

/// `YYYY-MM-DD` as days since 1970-01-01, if it is a real date.
pub fn parse_date(text: &str) -> Option<i64> {
    let mut parts = text.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (y, m, d): (i64, u32, u32) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let days = days_from_civil(y, m, d);
    // 2026-02-30 would land in March: only real dates map back to themselves.
    (civil_from_days(days) == (y, m, d)).then_some(days)
}

/// An RFC 3339 time stamp as Unix seconds (fraction dropped). Any number of fraction
/// digits is accepted: restic writes nanoseconds, other tools fewer or none.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let (date, rest) = text.split_at_checked(10)?;
    let days = parse_date(date)?;
    let rest = rest.strip_prefix(['T', 't', ' '])?;
    let (clock, rest) = rest.split_at_checked(8)?;
    let mut hms = clock.split(':');
    let (h, m, s) = (hms.next()?, hms.next()?, hms.next()?);
    let num = |t: &str, max: i64| {
        (t.len() == 2 && t.bytes().all(|b| b.is_ascii_digit()))
            .then(|| t.parse::<i64>().ok())
            .flatten()
            .filter(|v| *v <= max)
    };
    let secs = num(h, 23)? * 3600 + num(m, 59)? * 60 + num(s, 60)?;
    let rest = match rest.strip_prefix('.') {
        Some(frac) => {
            let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return None;
            }
            &frac[digits..]
        }
        None => rest,
    };
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (oh, om) = rest[1..].split_once(':')?;
            sign * (num(oh, 23)? * 3600 + num(om, 59)? * 60)
        }
    };
    Some(days * 86_400 + secs - offset)
}

/// A duration such as `2d`, `36h`, `1w`, `1d12h` or `90m`, in seconds.
pub fn parse_duration(text: &str) -> Option<u64> {
    let mut total: u64 = 0;
    let mut number = String::new();
    let mut any = false;
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            _ => return None,
        };
        let n: u64 = number.parse().ok()?;
        total = total.checked_add(n.checked_mul(unit)?)?;
        number.clear();
        any = true;
    }
    (any && number.is_empty() && total > 0).then_some(total)
}

/// A duration as people read it: `2d 3h`, `45m`, `20s`.
pub fn human_duration(secs: u64) -> String {
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{secs}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, 0) => format!("{h}h"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, 0, _) => format!("{d}d"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

/// Today (UTC) as days since 1970-01-01.
pub fn today() -> i64 {
    (unix_now() / 86_400) as i64
}

/// (year, month, day) to days since 1970-01-01 (the inverse of `civil_from_days`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from(if m > 2 { m - 3 } else { m + 9 });
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's method).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_only_when_real() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2026-11-22"), Some(20_779));
        assert_eq!(
            parse_date("2024-02-29").map(|d| rfc3339(d as u64 * 86_400)),
            Some("2024-02-29T00:00:00Z".into())
        );
        for bad in [
            "2026-02-30",
            "2025-02-29",
            "2026-13-01",
            "26-11-22",
            "2026-11-22x",
            "2026/11/22",
            "",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn rfc3339_parses_any_fraction_and_offset() {
        let t = 1_795_305_600; // 2026-11-22T00:00:00Z
        for (text, want) in [
            ("2026-11-22T00:00:00Z", Some(t)),
            ("2026-11-22T00:00:00.5Z", Some(t)),
            ("2026-11-22T01:00:00.123456789+01:00", Some(t)),
            ("2026-11-21T22:30:00.1234-01:30", Some(t)),
            ("2026-11-22 00:00:00Z", Some(t)),
            ("2026-11-22T00:00:00.Z", None),
            ("2026-11-22T00:00:00", None),
            ("2026-11-22T24:00:00Z", None),
            ("2026-11-22", None),
            ("", None),
        ] {
            assert_eq!(parse_rfc3339(text), want, "{text}");
        }
    }

    #[test]
    fn durations_parse_and_show() {
        assert_eq!(parse_duration("2d"), Some(172_800));
        assert_eq!(parse_duration("1d12h"), Some(129_600));
        assert_eq!(parse_duration("90m"), Some(5400));
        assert_eq!(parse_duration("1w"), Some(604_800));
        for bad in ["", "2", "d", "2x", "0d", "-1d", "2 d"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
        assert_eq!(human_duration(129_600), "1d 12h");
        assert_eq!(human_duration(5400), "1h 30m");
        assert_eq!(human_duration(20), "20s");
    }

    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(1_795_305_600), "2026-11-22T00:00:00Z");
        assert_eq!(super::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}

/// A unified diff of two texts (3 lines of context), as `diff -u` shows it without
/// the file header. Texts too large to compare line by line are shown as replaced.
pub fn unified_diff(old: &str, new: &str) -> String {
    const CONTEXT: usize = 3;
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    if a.len().saturating_mul(b.len()) > 4_000_000 {
        return format!(
            "@@ whole file replaced: {} lines -> {} lines @@\n",
            a.len(),
            b.len()
        );
    }
    // Longest common subsequence table, from the end.
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![0u32; (n + 1) * (m + 1)];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i * (m + 1) + j] = if a[i] == b[j] {
                lcs[(i + 1) * (m + 1) + j + 1] + 1
            } else {
                lcs[(i + 1) * (m + 1) + j].max(lcs[i * (m + 1) + j + 1])
            };
        }
    }
    // The edit script: (' ' | '-' | '+', old index, new index).
    let mut ops: Vec<(char, usize, usize)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            ops.push((' ', i, j));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[(i + 1) * (m + 1) + j] >= lcs[i * (m + 1) + j + 1]) {
            // Removals before additions, as diff -u shows a replaced line.
            ops.push(('-', i, j));
            i += 1;
        } else {
            ops.push(('+', i, j));
            j += 1;
        }
    }
    let mut out = String::new();
    let mut k = 0;
    while k < ops.len() {
        if ops[k].0 == ' ' {
            k += 1;
            continue;
        }
        // A hunk: from CONTEXT lines before this change to CONTEXT after the last
        // change that is within 2*CONTEXT of the previous one.
        let start = k.saturating_sub(CONTEXT);
        let mut end = k;
        let mut last_change = k;
        while end < ops.len() {
            if ops[end].0 != ' ' {
                last_change = end;
            } else if end - last_change > 2 * CONTEXT {
                break;
            }
            end += 1;
        }
        let end = (last_change + CONTEXT + 1).min(ops.len());
        let hunk = &ops[start..end];
        let old_len = hunk.iter().filter(|o| o.0 != '+').count();
        let new_len = hunk.iter().filter(|o| o.0 != '-').count();
        let old_start = hunk[0].1 + usize::from(old_len > 0);
        let new_start = hunk[0].2 + usize::from(new_len > 0);
        // As diff -u: a range of one line is written without its length.
        let range = |start: usize, len: usize| {
            if len == 1 {
                start.to_string()
            } else {
                format!("{start},{len}")
            }
        };
        out.push_str(&format!(
            "@@ -{} +{} @@\n",
            range(old_start, old_len),
            range(new_start, new_len)
        ));
        for (op, oi, nj) in hunk {
            let line = if *op == '+' { b[*nj] } else { a[*oi] };
            out.push(*op);
            out.push_str(line);
            out.push('\n');
        }
        k = end;
    }
    out
}

#[cfg(test)]
mod diff_tests {
    use super::unified_diff;

    #[test]
    fn diff_matches_diff_u() {
        let old = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n";
        let new = "a\nb\nc\nD\ne\nf\ng\nh\ni\nj\nk\n";
        let ours = unified_diff(old, new);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("old"), old).unwrap();
        std::fs::write(dir.path().join("new"), new).unwrap();
        let out = std::process::Command::new("diff")
            .arg("-u")
            .arg(dir.path().join("old"))
            .arg(dir.path().join("new"))
            .output()
            .unwrap();
        let theirs: String = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .skip(2)
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(ours, theirs);
        assert_eq!(unified_diff("x\n", "x\n"), "");
        assert_eq!(unified_diff("", "new\n"), "@@ -0,0 +1 @@\n+new\n");
    }
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
