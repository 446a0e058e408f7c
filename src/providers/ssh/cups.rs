//! CUPS print queues: read with `ipptool` (CSV) and `lpoptions -l`, changed with
//! `lpadmin` and driverless IPP Everywhere (`-m everywhere`).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::shell::quote;
use super::{
    Conn, HostFacts, HostRead, MARK, NAME, OnSite, Output, Part, SshError, Step, apt, conn, failed,
    host_name_id,
};
use crate::plan::{Action, Change};
use crate::resource::{Address, Attrs, Kind, KindSpec, Resource};

pub const CUPS_QUEUE: Kind = Kind::of(&SPEC);

pub(super) static SPEC: KindSpec = KindSpec {
    on_host: true,
    references: |a| vec![apt::package(a, "cups")],
    ..KindSpec::new(
        "cups_queue",
        "print queue",
        NAME,
        2,
        &[
            ("host", true),
            ("name", true),
            ("uri", true),
            ("description", false),
            ("location", false),
            ("shared", false),
            ("enabled", false),
            ("accepting", false),
            ("options", false),
        ],
        host_name_id,
    )
};

pub struct Cups;

impl OnSite for Cups {
    fn kinds(&self) -> &'static [Kind] {
        &[CUPS_QUEUE]
    }

    fn ask(&self, mine: &[&Resource], script: &mut String) {
        script.push_str(&format!("echo '{MARK}cups'\n"));
        script.push_str(&list_script());
        if !mine.is_empty() {
            // Every queue's option defaults at once, as `lpoptions -l` shows them: the
            // PPDs' defaults, then what the lpoptions files set over them. (One grep,
            // not an lpoptions per queue: 20 queues cost 0.28 s that way.)
            script.push_str(&format!(
                "echo '{MARK}ppd-defaults'\ngrep -H '^\\*Default' /etc/cups/ppd/*.ppd 2>/dev/null\necho '{MARK}lpoptions'\ncat /etc/cups/lpoptions ~/.cups/lpoptions 2>/dev/null\n"
            ));
        }
    }

    fn read(
        &self,
        at: &HostRead<'_>,
        _: &[&Resource],
        facts: &mut HostFacts,
    ) -> Result<(), SshError> {
        let Some(list) = at.section("cups") else {
            return Ok(());
        };
        let defaults = option_defaults(
            at.section("ppd-defaults").unwrap_or_default(),
            at.section("lpoptions").unwrap_or_default(),
        );
        for q in parse_list(list) {
            let address = Address {
                kind: CUPS_QUEUE,
                id: format!("{}:{}", at.host, q.name),
            };
            // A queue made by hand: shown, never touched.
            let Some(r) = at.org.resource(&address) else {
                facts.unmanaged.push(address);
                continue;
            };
            let wanted: Vec<String> = match r.attrs.get("options") {
                Some(Value::Object(m)) => m.keys().cloned().collect(),
                _ => Vec::new(),
            };
            let ppd = defaults.get(q.name.as_str()).cloned().unwrap_or_default();
            let attrs = live_attrs(at.host, &q, &ppd, &wanted);
            facts.put(CUPS_QUEUE, address.id, attrs);
        }
        Ok(())
    }

    fn defaults(&self, r: &Resource, a: &mut Attrs) {
        let defaults = [
            ("description", json!(r.attrs.str("name"))),
            ("shared", json!(false)),
            ("enabled", json!(true)),
            ("accepting", json!(true)),
            ("options", json!({})),
        ];
        for (k, v) in defaults {
            if !a.contains_key(k) {
                a.insert(k, v);
            }
        }
        a.insert("driver", json!("everywhere"));
    }

    /// Every queue of the batch in one part, their drivers waited for at once.
    fn parts<'a>(&self, steps: &[Step<'a>]) -> Vec<Result<Part<'a>, (usize, SshError)>> {
        let wants: Vec<(Attrs, &'a Change)> =
            steps.iter().map(|s| (s.want.clone(), s.change)).collect();
        vec![Ok(Part {
            steps: (0..steps.len()).collect(),
            lines: batch_script(&queue_steps(&wants)),
            read: Box::new(move |conn: &Conn, said: Output| finish(conn, &wants, &said)),
        })]
    }
}

/// What CUPS calls a queue whose printer did not answer when it was made: lpadmin
/// then quietly makes a raw queue (no driver) and exits 0.
pub const RAW_MODEL: &str = "Local Raw Printer";

/// How long cupsd may take to fetch a printer's capabilities, in tenths of a second.
const RAW_WAIT_TENTHS: u32 = 300;

/// The ipptool test that lists every queue, one CSV row each.
const LIST_TEST: &str = "{
OPERATION CUPS-Get-Printers
GROUP operation-attributes-tag
ATTR charset attributes-charset utf-8
ATTR naturalLanguage attributes-natural-language en
ATTR keyword requested-attributes printer-name,device-uri,printer-info,printer-location,printer-is-shared,printer-state,printer-is-accepting-jobs,printer-make-and-model
DISPLAY printer-name
DISPLAY device-uri
DISPLAY printer-info
DISPLAY printer-location
DISPLAY printer-is-shared
DISPLAY printer-state
DISPLAY printer-is-accepting-jobs
DISPLAY printer-make-and-model
}
";

/// Shell lines printing every queue as CSV. Without a running CUPS (not installed
/// yet, or stopped) they print nothing and the host has no queues.
pub fn list_script() -> String {
    format!(
        "t=$(mktemp); cat >\"$t\" <<'STEWARD_IPP'\n{LIST_TEST}STEWARD_IPP\nipptool -c ipp://localhost/ \"$t\" 2>/dev/null; rm -f \"$t\"\n"
    )
}

/// One queue as CUPS has it.
#[derive(Debug, Clone, PartialEq)]
pub struct Queue {
    pub name: String,
    pub uri: String,
    pub description: String,
    pub location: String,
    pub shared: bool,
    pub enabled: bool,
    pub accepting: bool,
    pub make_and_model: String,
}

/// Undoes one level of ipptool's backslash escaping.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Splits one row of `ipptool -c`. A field holding `,`, `"` or `\` is quoted, and
/// its text escaped twice with backslashes (once as an IPP value, once as CSV).
fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut chars = line.chars();
    let mut quoted = line.starts_with('"');
    loop {
        let mut field = String::new();
        if quoted {
            chars.next();
            let mut raw = String::new();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        raw.push('\\');
                        if let Some(n) = chars.next() {
                            raw.push(n);
                        }
                    }
                    '"' => break,
                    c => raw.push(c),
                }
            }
            field = unescape(&unescape(&raw));
        }
        let mut more = false;
        for c in chars.by_ref() {
            if c == ',' {
                more = true;
                break;
            }
            if !quoted {
                field.push(c);
            }
        }
        fields.push(field);
        if !more {
            return fields;
        }
        quoted = chars.as_str().starts_with('"');
    }
}

/// Parses `ipptool -c` output: a header row, then a row per queue.
pub fn parse_list(text: &str) -> Vec<Queue> {
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    if !header.starts_with("printer-name,") {
        return Vec::new();
    }
    lines
        .filter_map(|line| {
            let f = csv_fields(line);
            if f.len() < 8 {
                return None;
            }
            Some(Queue {
                name: f[0].clone(),
                uri: f[1].clone(),
                description: f[2].clone(),
                location: f[3].clone(),
                shared: f[4] == "true",
                enabled: f[5] != "stopped",
                accepting: f[6] == "true",
                make_and_model: f[7].clone(),
            })
        })
        .collect()
}

/// Each queue's option defaults (queue -> option -> value) as `lpoptions -p NAME -l`
/// marks them: its PPD's `*DefaultOption: value` lines (`grep -H` output, one line per
/// `/etc/cups/ppd/NAME.ppd:*DefaultPageSize: A4`), then the options an lpoptions file
/// sets for it (`Dest NAME PageSize=Letter ...`), which win.
pub fn option_defaults(ppds: &str, lpoptions: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for line in ppds.lines() {
        let Some((path, rest)) = line.split_once(":*Default") else {
            continue;
        };
        let Some(queue) = path.rsplit('/').next().and_then(|f| f.strip_suffix(".ppd")) else {
            continue;
        };
        let Some((option, value)) = rest.split_once(':') else {
            continue;
        };
        let Some(value) = value.split_whitespace().next() else {
            continue;
        };
        out.entry(queue.to_string())
            .or_default()
            .insert(option.trim().to_string(), value.to_string());
    }
    for line in lpoptions.lines() {
        let mut words = line.split_whitespace();
        let (Some("Dest" | "Default"), Some(queue)) = (words.next(), words.next()) else {
            continue;
        };
        // An instance (`NAME/draft`) is not the queue's own default.
        if queue.contains('/') {
            continue;
        }
        for pair in words {
            if let Some((k, v)) = pair.split_once('=') {
                out.entry(queue.to_string())
                    .or_default()
                    .insert(k.to_string(), v.to_string());
            }
        }
    }
    out
}

/// The defaults of a queue's PPD options from `lpoptions -p NAME -l`
/// (`PageSize/Media Size: A4 *Letter`): option -> value marked `*`.
pub fn parse_ppd_options(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| {
            let (key, values) = line.split_once(':')?;
            let key = key.split('/').next()?.trim();
            let default = values
                .split_whitespace()
                .find_map(|v| v.strip_prefix('*'))?;
            Some((key.to_string(), default.to_string()))
        })
        .collect()
}

/// A queue in the attribute vocabulary of `cups_queue`. `options` holds only the
/// options the file sets.
pub fn live_attrs(
    host: &str,
    q: &Queue,
    ppd: &BTreeMap<String, String>,
    wanted: &[String],
) -> Attrs {
    let mut a = Attrs::default();
    a.insert("host", json!(host));
    a.insert("name", json!(q.name));
    a.insert("uri", json!(q.uri));
    a.insert("description", json!(q.description));
    a.insert("location", json!(q.location));
    a.insert("shared", json!(q.shared));
    a.insert("enabled", json!(q.enabled));
    a.insert("accepting", json!(q.accepting));
    a.insert(
        "driver",
        json!(if q.make_and_model == RAW_MODEL {
            "raw"
        } else {
            "everywhere"
        }),
    );
    let options: Map<String, Value> = wanted
        .iter()
        .filter_map(|k| ppd.get(k).map(|v| (k.clone(), json!(v))))
        .collect();
    a.insert("options", Value::Object(options));
    a
}

/// What making one queue look like `want` takes, in the parts a batch interleaves.
struct QueueSteps {
    /// The queue's name, as a shell word.
    name: String,
    /// `lpadmin` defining it (with `-m everywhere` when its driver is to be fetched).
    define: String,
    /// Its driver is fetched: wait for it.
    rebuild: bool,
    /// It is new: removed again if its printer did not answer.
    create: bool,
    /// Its PPD options, then enabled or not, accepting or not: each only after the one
    /// before succeeded.
    finish: Vec<String>,
}

fn steps(want: &Attrs, create: bool, rebuild: bool) -> QueueSteps {
    let name = quote(want.str("name"));
    let mut define = format!(
        "lpadmin -p {name} -v {} -D {} -o printer-is-shared={}",
        quote(want.str("uri")),
        quote(want.str("description")),
        want.get("shared").and_then(Value::as_bool).unwrap_or(false),
    );
    if let Some(Value::String(location)) = want.get("location") {
        define.push_str(&format!(" -L {}", quote(location)));
    }
    if rebuild {
        define.push_str(" -m everywhere");
    }
    // PPD options go in a second call: with `-m` the PPD does not exist yet when
    // lpadmin reads its options.
    let mut finish = Vec::new();
    if let Some(Value::Object(opts)) = want.get("options")
        && !opts.is_empty()
    {
        let mut options = format!("lpadmin -p {name}");
        for (k, v) in opts {
            let v = match v {
                Value::String(s) => s.clone(),
                v => v.to_string(),
            };
            options.push_str(&format!(" -o {}", quote(&format!("{k}={v}"))));
        }
        finish.push(options);
    }
    let enabled = want.get("enabled").and_then(Value::as_bool).unwrap_or(true);
    let accepting = want
        .get("accepting")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    finish.push(format!(
        "{} {name}",
        if enabled { "cupsenable" } else { "cupsdisable" }
    ));
    finish.push(format!(
        "{} {name}",
        if accepting {
            "cupsaccept"
        } else {
            "cupsreject"
        }
    ));
    QueueSteps {
        name,
        define,
        rebuild,
        create,
        finish,
    }
}

/// The script that makes a queue look like `want`. `create`: the queue is new (and is
/// removed again if CUPS could not reach the printer).
pub fn apply_script(want: &Attrs, create: bool, rebuild: bool) -> String {
    batch_script(&[steps(want, create, rebuild)])
}

/// Whether a change rebuilds its queue (new, or a new printer or driver): its driver
/// is then fetched from the printer.
fn rebuilds(change: &Change) -> bool {
    change.action == Action::Create
        || change
            .fields
            .iter()
            .any(|f| f.name == "uri" || f.name == "driver")
}

/// One script for several queues: each defined, then every driver waited for at once
/// (cupsd asks the printers in the background after lpadmin exits: the queue is raw
/// until its PPD appears, and cupsd logs when a printer did not answer), then each
/// finished. It prints `@@steward queue I STATUS` for the I-th queue: `ok`, `raw`, or
/// `failed N`.
fn batch_script(queues: &[QueueSteps]) -> String {
    let mut s = String::from(
        "export LC_ALL=C\nlog=/var/log/cups/error_log\nunable() { grep -c -F \"] $1: Unable to\" \"$log\" 2>/dev/null || true; }\n",
    );
    for (i, q) in queues.iter().enumerate() {
        let name = &q.name;
        let then = if q.rebuild {
            s.push_str(&format!("seen_{i}=$(unable {name})\n"));
            "wait"
        } else {
            "defined"
        };
        s.push_str(&format!(
            "if o_{i}=$({} 2>&1); then st_{i}='{then}'; else st_{i}=\"failed $?\"; fi\n",
            q.define
        ));
    }
    if queues.iter().any(|q| q.rebuild) {
        s.push_str("n=0\nwhile :; do\n  busy=0\n");
        for (i, q) in queues.iter().enumerate().filter(|(_, q)| q.rebuild) {
            let name = &q.name;
            s.push_str(&format!(
                "  if [ \"$st_{i}\" = wait ]; then\n    now=$(unable {name})\n    if [ -f /etc/cups/ppd/{name}.ppd ]; then st_{i}='defined'\n    elif [ \"${{now:-0}}\" -gt \"${{seen_{i}:-0}}\" ]; then st_{i}='raw'\n    else busy=1; fi\n  fi\n"
            ));
        }
        s.push_str(&format!(
            "  [ \"$busy\" = 0 ] && break\n  n=$((n + 1))\n  [ \"$n\" -gt {RAW_WAIT_TENTHS} ] && break\n  sleep 0.1\ndone\n"
        ));
    }
    for (i, q) in queues.iter().enumerate() {
        let undo = if q.create {
            format!("lpadmin -x {}; ", q.name)
        } else {
            String::new()
        };
        s.push_str(&format!(
            "case $st_{i} in\n  defined) if ! lpstat -p {name} >/dev/null 2>&1; then st_{i}='lost'\n    elif o_{i}=$({{ {}; }} 2>&1); then st_{i}='ok'; else st_{i}=\"failed $?\"; fi ;;\n  wait|raw) {undo}st_{i}='raw' ;;\nesac\necho \"{MARK}queue {i} $st_{i}\"\ncase $st_{i} in failed*) printf '%s\\n' \"$o_{i}\" | sed 's/^/{MARK}out {i} /' ;; esac\n",
            q.finish.join(" && "),
            name = q.name
        ));
    }
    s
}

/// Reads the batch script's statuses into a result for each queue, in order. A queue
/// cupsd no longer knows right after making it (seen once on a freshly installed CUPS
/// under load: its scheduler started again before saving it) is made again, once, in
/// one more round trip.
fn finish(conn: &Conn, wants: &[(Attrs, &Change)], said: &Output) -> Vec<Result<(), SshError>> {
    let mut results = statuses(conn, wants, said);
    let lost: Vec<usize> = (0..wants.len())
        .filter(|i| matches!(&results[*i], Err(Lost)))
        .collect();
    if !lost.is_empty() {
        tracing::debug!(host = %conn.host.name, queues = lost.len(), "cupsd lost new queues; making them again");
        let again: Vec<(Attrs, &Change)> = lost.iter().map(|i| wants[*i].clone()).collect();
        let retried = match conn.run("sh -s", batch_script(&queue_steps(&again)).as_bytes()) {
            Ok(out) => statuses(conn, &again, &out),
            Err(e) => again.iter().map(|_| Err(Failed(e.clone()))).collect(),
        };
        for (i, r) in lost.iter().zip(retried) {
            results[*i] = r;
        }
    }
    results
        .into_iter()
        .zip(wants)
        .map(|(r, (want, _))| {
            r.map_err(|e| match e {
                Lost => failed(
                    conn,
                    format!(
                        "CUPS on {} did not keep the queue {} after making it, twice (see /var/log/cups/error_log there); apply again",
                        conn.host.name,
                        want.str("name")
                    ),
                ),
                Failed(e) => e,
            })
        })
        .collect()
}

/// Why one queue of a batch was not made.
enum QueueError {
    /// cupsd did not know it when it was to be finished.
    Lost,
    Failed(SshError),
}
use QueueError::{Failed, Lost};

fn queue_steps(wants: &[(Attrs, &Change)]) -> Vec<QueueSteps> {
    wants
        .iter()
        .map(|(want, change)| steps(want, change.action == Action::Create, rebuilds(change)))
        .collect()
}

/// Each queue's result from the `@@steward queue I` lines of the batch script.
fn statuses(conn: &Conn, wants: &[(Attrs, &Change)], out: &Output) -> Vec<Result<(), QueueError>> {
    let status_of = |i: usize| {
        let prefix = format!("{MARK}queue {i} ");
        out.text
            .lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .map(str::to_string)
    };
    wants
        .iter()
        .enumerate()
        .map(|(i, (want, change))| match status_of(i).as_deref() {
            Some("ok") => Ok(()),
            Some("lost") => Err(Lost),
            Some("raw") => Err(Failed(failed(
                conn,
                format!(
                    "the printer at {} did not answer, so CUPS made a raw queue with no driver (lpadmin -m everywhere exits 0 when that happens); {}. Check that the printer is on and reachable from {}, then apply again",
                    want.str("uri"),
                    if change.action == Action::Create {
                        "the half-made queue was removed"
                    } else {
                        "the queue was left as it was"
                    },
                    conn.host.name
                ),
            ))),
            other => Err(Failed(SshError::Command {
                host: conn.host.name.clone(),
                what: format!("lpadmin -p {}", want.str("name")),
                status: other
                    .and_then(|s| s.strip_prefix("failed "))
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(out.status),
                output: {
                    let prefix = format!("{MARK}out {i} ");
                    let own: Vec<&str> = out
                        .text
                        .lines()
                        .filter_map(|l| l.strip_prefix(prefix.as_str()))
                        .collect();
                    conn::tail(&own.join("\n"))
                },
            })),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ipptool_csv_with_its_double_escaping() {
        // Captured from ipptool 2.4 (CUPS) on Debian 12.
        let text = "printer-name,device-uri,printer-info,printer-location,printer-is-shared,printer-state,printer-is-accepting-jobs,printer-make-and-model\n\
bad,ipp://10.231.10.99:8631/ipp/print,bad,\"say \\\\\\\"hi\\\\\\\"\",true,idle,true,Local Raw Printer\n\
front-desk,ipp://10.231.10.20:8631/ipp/print,Front desk,\"x'y, ok\",false,stopped,false,Printer - IPP Everywhere\n\
x3,ipp://1.2.3.4/,\"a,b\",\"a\\\\\\\\b\",true,stopped,false,Local Raw Printer\n\
e,ipp://h/,e,,true,idle,true,\n";
        let q = parse_list(text);
        assert_eq!(q.len(), 4);
        assert_eq!(q[0].location, "say \"hi\"");
        assert_eq!(q[0].make_and_model, RAW_MODEL);
        assert_eq!(q[1].location, "x'y, ok");
        assert!(!q[1].enabled && !q[1].accepting && !q[1].shared);
        assert_eq!(q[2].description, "a,b");
        assert_eq!(q[2].location, "a\\b");
        assert_eq!(q[3].location, "");
        assert_eq!(q[3].make_and_model, "");
    }

    #[test]
    fn option_defaults_are_the_ppds_then_lpoptions() {
        let d = option_defaults(
            "/etc/cups/ppd/front-desk.ppd:*DefaultPageSize: Letter\n/etc/cups/ppd/front-desk.ppd:*DefaultDuplex: None\n/etc/cups/ppd/hall.ppd:*DefaultPageSize: A4\n",
            "# written by lpoptions\nDest front-desk PageSize=A4\nDest front-desk/draft Duplex=DuplexNoTumble\n",
        );
        assert_eq!(d["front-desk"]["PageSize"], "A4");
        assert_eq!(d["front-desk"]["Duplex"], "None");
        assert_eq!(d["hall"]["PageSize"], "A4");
    }

    #[test]
    fn reads_ppd_defaults() {
        let o = parse_ppd_options(
            "PageSize/Media Size: A4 Env10 *Letter\nDuplex/2-Sided Printing: *None DuplexNoTumble\n",
        );
        assert_eq!(o["PageSize"], "Letter");
        assert_eq!(o["Duplex"], "None");
    }
}
