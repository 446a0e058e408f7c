//! Time stamps, dates and durations as Steward reads and writes them (UTC only).

use std::time::{SystemTime, UNIX_EPOCH};

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

/// The day `--as-of` asks plans to be made for, set once at start.
static AS_OF: std::sync::OnceLock<i64> = std::sync::OnceLock::new();

/// Plans are made as of `date` (`YYYY-MM-DD`) instead of today: "what happens on
/// Monday?", and how tests move time.
pub fn set_as_of(date: &str) -> Result<(), String> {
    let days = parse_date(date).ok_or_else(|| format!("`{date}` is not a date (YYYY-MM-DD)"))?;
    let _ = AS_OF.set(days);
    Ok(())
}

/// Today in time zone `zone` (an IANA name such as `Europe/London`), or the `--as-of`
/// day, as days since 1970-01-01.
pub fn today_in(zone: &str) -> Result<i64, String> {
    if let Some(days) = AS_OF.get() {
        return Ok(*days);
    }
    let tz = jiff::tz::TimeZone::get(zone)
        .map_err(|_| format!("`{zone}` is not a time zone (an IANA name such as Europe/London)"))?;
    let date = jiff::Timestamp::now().to_zoned_datetime(tz).date();
    Ok(days_from_civil(
        i64::from(date.year()),
        u32::try_from(date.month()).unwrap_or(1),
        u32::try_from(date.day()).unwrap_or(1),
    ))
}

/// Days since 1970-01-01 as `YYYY-MM-DD`.
pub fn date_text(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
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
