//! Reading an existing on-site host for `steward import`, in one round trip: its CUPS
//! queues (as the `printers` module writes them), the restic backup jobs set up by hand
//! in systemd units or cron (as `backups` jobs), and its hostapd networks (as `wifi`).
//! Secret values found (restic passwords, Wi-Fi passphrases) are returned apart, to go to
//! the secrets folder, never into the org file. What the modules cannot express is
//! returned as notes.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::conn::{Conn, Settings, SshError};
use super::section::Host;
use super::{MARK, cups, sections};
use crate::secrets::Secret;

/// What one host holds, as module inputs.
#[derive(Debug, Default)]
pub struct HostImport {
    pub host: String,
    /// `printers` queue items.
    pub queues: Vec<Value>,
    /// `backups` job items (their passwords as `secret:` references).
    pub jobs: Vec<Value>,
    /// `wifi` inputs for this host as an access point.
    pub wifi: Option<Value>,
    /// Secret values found: (secret name, value).
    pub secrets: Vec<(String, Secret)>,
    pub left_out: Vec<(String, String)>,
}

/// The script that reads everything an import needs, in one round trip.
fn discovery_script() -> String {
    let mut s = String::new();
    s.push_str(&format!("echo '{MARK}cups'\n"));
    s.push_str(&cups::list_script());
    s.push_str(&format!(
        "for q in $(lpstat -e 2>/dev/null); do echo \"{MARK}ppd $q\"; lpoptions -p \"$q\" -l 2>/dev/null; done\n"
    ));
    s.push_str(&format!(
        "for f in /etc/hostapd/*.conf; do [ -f \"$f\" ] || continue; echo \"{MARK}hostapd $f\"; cat \"$f\"; echo; done\n"
    ));
    // Units made by hand that run restic (Steward's own are `steward-*`).
    s.push_str(&format!(
        "for f in /etc/systemd/system/*.service; do [ -f \"$f\" ] || continue; case \"${{f##*/}}\" in steward-*) continue;; esac; grep -q restic \"$f\" || continue; echo \"{MARK}unit $f\"; cat \"$f\"; echo; t=\"${{f%.service}}.timer\"; if [ -f \"$t\" ]; then echo \"{MARK}timer $f\"; cat \"$t\"; echo; fi; done\n"
    ));
    s.push_str(&format!("echo '{MARK}cron'\n"));
    s.push_str("for f in /etc/crontab /etc/cron.d/*; do [ -f \"$f\" ] && grep -v '^[[:space:]]*#' \"$f\" | grep restic | sed \"s|^|$f\t|\"; done\n");
    s.push_str(
        "crontab -l 2>/dev/null | grep -v '^[[:space:]]*#' | grep restic | sed 's|^|crontab\t|'\n",
    );
    // The password files those jobs name.
    s.push_str(&format!(
        "for p in $( (cat /etc/systemd/system/*.service /etc/crontab /etc/cron.d/* 2>/dev/null; crontab -l 2>/dev/null) | grep restic | grep -oE -- '--password-file[= ][^ \"]+|RESTIC_PASSWORD_FILE=[^ \"]+' | sed -E 's/^(--password-file[= ]|RESTIC_PASSWORD_FILE=)//' | sort -u); do [ -f \"$p\" ] && {{ echo \"{MARK}secret $p\"; head -n 1 \"$p\"; echo; }}; done\n"
    ));
    s.push_str(&format!("echo '{MARK}end'\n"));
    s
}

/// Reads `host` for org `org_id` in one round trip.
pub fn read(settings: &Settings, host: &Host, org_id: &str) -> Result<HostImport, SshError> {
    let conn = Conn::open(settings, host)?;
    let out = conn.run("sh -s", discovery_script().as_bytes())?;
    // The answer holds secret values (password files, passphrases): it is never shown.
    let Some(sections) = sections(&out.text) else {
        return Err(SshError::Failed {
            host: host.name.clone(),
            message: format!(
                "reading the host failed (exit {}; its output is not shown: it may hold secrets)",
                out.status
            ),
        });
    };
    Ok(interpret(&host.name, org_id, &sections))
}

fn interpret(host: &str, org_id: &str, sections: &BTreeMap<String, String>) -> HostImport {
    let mut out = HostImport {
        host: host.to_string(),
        ..HostImport::default()
    };
    queues(host, sections, &mut out);
    let files: BTreeMap<&str, &str> = sections
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("secret ")?, v.trim_end_matches('\n'))))
        .collect();
    for (label, unit) in sections {
        if let Some(path) = label.strip_prefix("unit ") {
            let timer = sections.get(&format!("timer {path}")).map(String::as_str);
            systemd_job(host, org_id, path, unit, timer, &files, &mut out);
        }
    }
    if let Some(cron) = sections.get("cron") {
        for (i, line) in cron.lines().filter(|l| !l.trim().is_empty()).enumerate() {
            cron_job(host, org_id, i, line, &files, &mut out);
        }
    }
    for (label, conf) in sections {
        if let Some(path) = label.strip_prefix("hostapd ") {
            hostapd(host, org_id, path, conf, &mut out);
        }
    }
    out
}

/// PPD options people set, kept when a queue has them.
const OPTIONS: &[&str] = &["PageSize", "Duplex"];

fn queues(host: &str, sections: &BTreeMap<String, String>, out: &mut HostImport) {
    let Some(list) = sections.get("cups") else {
        return;
    };
    for q in cups::parse_list(list) {
        if !crate::schema::is_name(&q.name) {
            out.left_out.push((
                format!("print queue {} on {host}", q.name),
                "its name is not one the printers module takes (letters, digits, `-`, `_`, `.`)"
                    .into(),
            ));
            continue;
        }
        if q.make_and_model == cups::RAW_MODEL {
            out.left_out.push((
                format!("print queue {} on {host}", q.name),
                "a raw queue (no driver): the printers module makes driverless queues, so taking it over would rebuild it; left as it is".into(),
            ));
            continue;
        }
        if !q.make_and_model.contains("IPP Everywhere") && !q.make_and_model.is_empty() {
            out.left_out.push((
                format!("print queue {} on {host}: its driver ({})", q.name, q.make_and_model),
                "imported; Steward keeps this driver until the queue's URI changes, then makes the queue driverless (IPP Everywhere)".into(),
            ));
        }
        let mut v = Map::new();
        v.insert("name".into(), json!(q.name));
        v.insert("uri".into(), json!(q.uri));
        if q.description != q.name {
            v.insert("description".into(), json!(q.description));
        }
        if !q.location.is_empty() {
            v.insert("location".into(), json!(q.location));
        }
        if q.shared {
            v.insert("shared".into(), json!(true));
        }
        if !q.enabled {
            v.insert("enabled".into(), json!(false));
        }
        if !q.accepting {
            v.insert("accepting".into(), json!(false));
        }
        let ppd = sections
            .get(&format!("ppd {}", q.name))
            .map(|t| cups::parse_ppd_options(t))
            .unwrap_or_default();
        let options: Map<String, Value> = OPTIONS
            .iter()
            .filter_map(|k| {
                let v = ppd.get(*k)?;
                crate::schema::is_name(v).then(|| (k.to_string(), json!(v)))
            })
            .collect();
        if !options.is_empty() {
            v.insert("options".into(), Value::Object(options));
        }
        out.queues.push(Value::Object(v));
    }
}

/// Words of a command line as a POSIX shell splits them (quotes, backslashes); no
/// expansion.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    cur.push(c);
                }
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => {
                            if let Some(n) = chars.next() {
                                cur.push(n);
                            }
                        }
                        c => cur.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

/// What a job's restic commands say.
#[derive(Debug, Default)]
struct Restic {
    repository: Option<String>,
    password_file: Option<String>,
    paths: Vec<String>,
    exclude: Vec<String>,
    keep: Map<String, Value>,
    /// Arguments the module has no input for.
    unknown: Vec<String>,
}

/// Reads one command (`restic … backup …` or `restic … forget …`), with environment
/// assignments before it.
fn read_restic(cmd: &[String], r: &mut Restic) {
    let mut i = 0;
    while i < cmd.len() {
        let w = &cmd[i];
        if let Some((k, v)) = w.split_once('=')
            && k.chars().all(|c| c.is_ascii_uppercase() || c == '_')
        {
            env(k, v, r);
            i += 1;
            continue;
        }
        break;
    }
    let Some(pos) = cmd[i..].iter().position(|w| w.ends_with("restic")) else {
        return;
    };
    let args = &cmd[i + pos + 1..];
    let mut sub = None;
    let mut j = 0;
    let value = |j: &mut usize, w: &str| -> Option<String> {
        if let Some((_, v)) = w.split_once('=') {
            Some(v.to_string())
        } else {
            *j += 1;
            args.get(*j).cloned()
        }
    };
    while j < args.len() {
        let w = args[j].as_str();
        let flag = w.split('=').next().unwrap_or(w);
        match flag {
            "-r" | "--repo" => r.repository = value(&mut j, w),
            "-p" | "--password-file" => r.password_file = value(&mut j, w),
            "-e" | "--exclude" => {
                if let Some(v) = value(&mut j, w) {
                    r.exclude.push(v);
                }
            }
            "-q" | "--quiet" | "--prune" | "--one-file-system" | "-x" => {}
            k if k.starts_with("--keep-") => {
                let key = k.trim_start_matches("--keep-");
                match value(&mut j, w).and_then(|v| v.parse::<u64>().ok()) {
                    Some(n)
                        if ["last", "hourly", "daily", "weekly", "monthly", "yearly"]
                            .contains(&key) =>
                    {
                        r.keep.insert(key.into(), json!(n));
                    }
                    _ => r.unknown.push(w.to_string()),
                }
            }
            "backup" | "forget" if sub.is_none() => sub = Some(w.to_string()),
            p if p.starts_with('/') && sub.as_deref() == Some("backup") => {
                r.paths.push(p.to_string())
            }
            other => r.unknown.push(other.to_string()),
        }
        j += 1;
    }
}

fn env(k: &str, v: &str, r: &mut Restic) {
    match k {
        "RESTIC_REPOSITORY" => r.repository = Some(v.to_string()),
        "RESTIC_PASSWORD_FILE" => r.password_file = Some(v.to_string()),
        _ => {}
    }
}

/// A job found, made into a `backups` item when the module can say it all.
#[allow(clippy::too_many_arguments)]
fn job(
    host: &str,
    org_id: &str,
    name: &str,
    what: &str,
    r: Restic,
    schedule: Result<String, String>,
    files: &BTreeMap<&str, &str>,
    out: &mut HostImport,
) {
    let mut why = Vec::new();
    let schedule = schedule.map_err(|e| why.push(e)).ok();
    if r.repository.is_none() {
        why.push("no repository found in it (-r, --repo or RESTIC_REPOSITORY)".into());
    }
    if r.paths.is_empty() {
        why.push("no absolute paths to back up".into());
    }
    let password = match r.password_file.as_deref() {
        None => {
            why.push("no password file (--password-file or RESTIC_PASSWORD_FILE)".into());
            None
        }
        Some(f) => match files.get(f) {
            Some(v) if !v.is_empty() => Some(Secret::new(v.to_string())),
            _ => {
                why.push(format!("its password file {f} could not be read"));
                None
            }
        },
    };
    if !r.unknown.is_empty() {
        why.push(format!(
            "restic arguments the backups module has no input for: {}",
            r.unknown.join(" ")
        ));
    }
    if !why.is_empty() {
        out.left_out
            .push((format!("backup job {what} on {host}"), why.join("; ")));
        return;
    }
    let secret = format!("{org_id}/backup-{name}");
    let mut v = Map::new();
    v.insert("name".into(), json!(name));
    v.insert("host".into(), json!(host));
    v.insert("paths".into(), json!(r.paths));
    if !r.exclude.is_empty() {
        v.insert("exclude".into(), json!(r.exclude));
    }
    v.insert("repository".into(), json!(r.repository));
    v.insert("password".into(), json!(format!("secret:{secret}")));
    if let Some(s) = schedule {
        v.insert("schedule".into(), json!(s));
    }
    if !r.keep.is_empty() {
        v.insert("keep".into(), Value::Object(r.keep));
    }
    if let Some(p) = password {
        out.secrets.push((secret, p));
    }
    out.jobs.push(Value::Object(v));
}

/// A name the backups module takes, from a unit's or a made-up one.
fn job_name(raw: &str) -> String {
    let n: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    n.trim_matches('-').to_string()
}

#[allow(clippy::too_many_arguments)]
fn systemd_job(
    host: &str,
    org_id: &str,
    path: &str,
    unit: &str,
    timer: Option<&str>,
    files: &BTreeMap<&str, &str>,
    out: &mut HostImport,
) {
    let mut r = Restic::default();
    for line in unit.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("Environment=") {
            for w in words(v) {
                if let Some((k, v)) = w.split_once('=') {
                    env(k, v, &mut r);
                }
            }
        }
        for key in ["ExecStart=", "ExecStartPost=", "ExecStartPre="] {
            if let Some(cmd) = line.strip_prefix(key) {
                read_restic(&words(cmd.trim_start_matches(['-', '@', '+', '!'])), &mut r);
            }
        }
    }
    let unit_name = path.rsplit('/').next().unwrap_or(path);
    let schedule = timer
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.trim().strip_prefix("OnCalendar=").map(str::trim))
                .map(str::to_string)
        })
        .ok_or_else(|| {
            format!("{unit_name} has no timer with OnCalendar=: when it runs is not known")
        });
    let name = job_name(unit_name.trim_end_matches(".service"));
    job(host, org_id, &name, unit_name, r, schedule, files, out);
}

/// A cron schedule as a systemd calendar event, for the simple forms.
fn cron_schedule(fields: &[&str]) -> Result<String, String> {
    let shown = fields.join(" ");
    let cannot =
        || format!("its cron schedule `{shown}` has no systemd calendar form Steward writes");
    match fields {
        ["@daily" | "@midnight"] => Ok("daily".into()),
        ["@weekly"] => Ok("weekly".into()),
        ["@hourly"] => Ok("hourly".into()),
        ["@monthly"] => Ok("monthly".into()),
        [m, h, "*", "*", dow] => {
            let (m, h): (u32, u32) = (
                m.parse().map_err(|_| cannot())?,
                h.parse().map_err(|_| cannot())?,
            );
            if m > 59 || h > 23 {
                return Err(cannot());
            }
            const DAYS: [&str; 8] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
            let day = |d: &str| d.parse::<usize>().ok().and_then(|n| DAYS.get(n).copied());
            let days = match *dow {
                "*" => String::new(),
                d => match d.split_once('-') {
                    Some((a, b)) => format!(
                        "{}..{} ",
                        day(a).ok_or_else(cannot)?,
                        day(b).ok_or_else(cannot)?
                    ),
                    None => format!("{} ", day(d).ok_or_else(cannot)?),
                },
            };
            Ok(format!("{days}*-*-* {h:02}:{m:02}:00"))
        }
        _ => Err(cannot()),
    }
}

fn cron_job(
    host: &str,
    org_id: &str,
    i: usize,
    line: &str,
    files: &BTreeMap<&str, &str>,
    out: &mut HostImport,
) {
    let Some((source, entry)) = line.split_once('\t') else {
        return;
    };
    let fields: Vec<&str> = entry.split_whitespace().collect();
    // /etc/crontab and /etc/cron.d name the user after the schedule; crontab -l does not.
    let (sched_len, has_user) = if fields.first().is_some_and(|f| f.starts_with('@')) {
        (1, source != "crontab")
    } else {
        (5, source != "crontab")
    };
    if fields.len() <= sched_len + usize::from(has_user) {
        return;
    }
    let schedule = cron_schedule(&fields[..sched_len]);
    let command = fields[sched_len + usize::from(has_user)..].join(" ");
    let mut r = Restic::default();
    for part in command.split("&&").flat_map(|p| p.split(';')) {
        read_restic(&words(part), &mut r);
    }
    let name = format!("cron-{}", i + 1);
    job(
        host,
        org_id,
        &name,
        &format!("in {source} (`{}`)", entry.trim()),
        r,
        schedule,
        files,
        out,
    );
}

/// The hostapd keys the wifi module writes, per network or per radio.
const HOSTAPD_KNOWN: &[&str] = &[
    "interface",
    "driver",
    "ctrl_interface",
    "ctrl_interface_group",
    "country_code",
    "ieee80211d",
    "hw_mode",
    "channel",
    "bss",
    "ssid",
    "ignore_broadcast_ssid",
    "ap_isolate",
    "bridge",
    "wpa",
    "wpa_key_mgmt",
    "rsn_pairwise",
    "wpa_passphrase",
    "sae_password",
    "ieee80211w",
];

fn hostapd(host: &str, org_id: &str, path: &str, conf: &str, out: &mut HostImport) {
    let mut radio: BTreeMap<String, String> = BTreeMap::new();
    let mut networks: Vec<BTreeMap<String, String>> = Vec::new();
    let mut unknown = Vec::new();
    for line in conf.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        if !HOSTAPD_KNOWN.contains(&k) {
            unknown.push(k.to_string());
            continue;
        }
        match k {
            "ssid"
                if networks.is_empty()
                    || networks.last().is_some_and(|n| n.contains_key("ssid")) =>
            {
                let mut n = BTreeMap::new();
                n.insert(k.to_string(), v.to_string());
                networks.push(n);
            }
            "bss" => networks.push(BTreeMap::new()),
            "interface" | "driver" | "country_code" | "hw_mode" | "channel"
                if networks.is_empty() =>
            {
                radio.insert(k.to_string(), v.to_string());
            }
            _ => {
                if let Some(n) = networks.last_mut() {
                    n.insert(k.to_string(), v.to_string());
                }
            }
        }
    }
    let what = format!("Wi-Fi on {host} ({path})");
    if !unknown.is_empty() {
        unknown.sort();
        unknown.dedup();
        out.left_out.push((
            what.clone(),
            format!(
                "hostapd settings the wifi module has no input for: {}",
                unknown.join(", ")
            ),
        ));
    }
    let mut items = Vec::new();
    for n in &networks {
        let Some(ssid) = n.get("ssid") else { continue };
        let mgmt = n.get("wpa_key_mgmt").map(String::as_str).unwrap_or("");
        let security = match (n.get("wpa").map(String::as_str), mgmt) {
            (None | Some("0"), _) => "open",
            (_, m) if m.contains("SAE") && m.contains("WPA-PSK") => "wpa2-wpa3",
            (_, m) if m.contains("SAE") => "wpa3-sae",
            _ => "wpa2-psk",
        };
        let mut v = Map::new();
        v.insert("ssid".into(), json!(ssid));
        v.insert("security".into(), json!(security));
        if let Some(p) = n.get("wpa_passphrase").or_else(|| n.get("sae_password")) {
            let slug = job_name(&ssid.to_ascii_lowercase());
            let secret = format!("{org_id}/wifi-{slug}");
            out.secrets.push((secret.clone(), Secret::new(p.clone())));
            v.insert("passphrase".into(), json!(format!("secret:{secret}")));
        }
        if n.get("ap_isolate").map(String::as_str) == Some("1") {
            v.insert("guest".into(), json!(true));
        }
        if n.get("ignore_broadcast_ssid").is_some_and(|x| x != "0") {
            v.insert("hidden".into(), json!(true));
        }
        if let Some(vlan) = n
            .get("bridge")
            .and_then(|b| b.strip_prefix("br-vlan"))
            .and_then(|n| n.parse::<u32>().ok())
        {
            v.insert("vlan".into(), json!(vlan));
        }
        items.push(Value::Object(v));
    }
    if items.is_empty() {
        return;
    }
    let mut wifi = Map::new();
    wifi.insert("backend".into(), json!("hostapd"));
    wifi.insert("access_points".into(), json!([host]));
    if let Some(i) = radio.get("interface") {
        wifi.insert("interface".into(), json!(i));
    }
    if let Some(d) = radio.get("driver") {
        wifi.insert("driver".into(), json!(d));
    }
    if let Some(c) = radio.get("country_code") {
        wifi.insert("country".into(), json!(c));
    }
    if radio.get("hw_mode").map(String::as_str) == Some("a") {
        wifi.insert("band".into(), json!("5GHz"));
    }
    if let Some(c) = radio.get("channel").and_then(|c| c.parse::<u32>().ok()) {
        wifi.insert("channel".into(), json!(c));
    }
    wifi.insert("networks".into(), Value::Array(items));
    out.wifi = Some(Value::Object(wifi));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_and_restic_arguments() {
        let mut r = Restic::default();
        let cmd = words(
            "RESTIC_PASSWORD_FILE=/root/pw /usr/bin/restic -r 'sftp:restic@backup:/srv/r' backup /srv/shared \"/srv/with space\" --exclude=/srv/shared/tmp",
        );
        read_restic(&cmd, &mut r);
        read_restic(
            &words("restic --repo x forget --keep-daily 7 --keep-weekly=4 --prune"),
            &mut r,
        );
        assert_eq!(r.password_file.as_deref(), Some("/root/pw"));
        assert_eq!(r.repository.as_deref(), Some("x"));
        assert_eq!(r.paths, ["/srv/shared", "/srv/with space"]);
        assert_eq!(r.exclude, ["/srv/shared/tmp"]);
        assert_eq!(
            r.keep,
            json!({"daily": 7, "weekly": 4})
                .as_object()
                .cloned()
                .unwrap_or_default()
        );
        assert!(r.unknown.is_empty(), "{:?}", r.unknown);
    }

    #[test]
    fn simple_cron_schedules_become_calendar_events() {
        let cal = |s: &str| cron_schedule(&s.split_whitespace().collect::<Vec<_>>());
        assert_eq!(cal("30 2 * * *").as_deref(), Ok("*-*-* 02:30:00"));
        assert_eq!(
            cal("0 23 * * 1-5").as_deref(),
            Ok("Mon..Fri *-*-* 23:00:00")
        );
        assert_eq!(cal("@daily").as_deref(), Ok("daily"));
        assert!(cal("*/15 * * * *").is_err());
        assert!(cal("0 2 1 * *").is_err());
    }
}
