//! hostapd configurations are checked by hostapd itself before they replace the
//! running one. hostapd has no "check only" switch, so the new file is started as a
//! throw-away copy with the `none` driver (which touches no radio) and no control
//! socket; errors in the file are reported by hostapd before it needs a radio.

use serde_json::json;

use super::{HostFacts, HostRead, NAME, OnSite, Script, SshError, Step, apt, file};
use crate::resource::{Attrs, FileRule, Kind, KindSpec, Resource};

pub const HOSTAPD_CONFIG: Kind = Kind::of(&SPEC);

pub(super) static SPEC: KindSpec = KindSpec {
    on_host: true,
    references: |a| vec![apt::package(a, "hostapd")],
    file: Some(FileRule {
        allowed: |path| path.starts_with("/etc/hostapd/"),
        rule: "a hostapd configuration lives under /etc/hostapd/",
    }),
    ..KindSpec::new(
        "hostapd_config",
        "Wi-Fi configuration",
        NAME,
        6,
        &[("host", true), ("path", true), ("content", true)],
        file::host_path_id,
    )
};

/// A file like any other, checked by hostapd before it replaces the running one.
pub struct Hostapd;

impl OnSite for Hostapd {
    fn kinds(&self) -> &'static [Kind] {
        &[HOSTAPD_CONFIG]
    }

    fn ask(&self, mine: &[&Resource], script: &mut String) {
        file::ask(mine, script);
    }

    fn read(
        &self,
        at: &HostRead<'_>,
        mine: &[&Resource],
        facts: &mut HostFacts,
    ) -> Result<(), SshError> {
        file::read(at, mine, facts)
    }

    fn defaults(&self, _: &Resource, a: &mut Attrs) {
        // It holds passphrases.
        a.insert("mode", json!("0600"));
        a.insert("owner", json!("root"));
        a.insert("group", json!("root"));
    }

    fn script(&self, step: &Step<'_>) -> Result<Script, SshError> {
        file::put(step, Some(CHECK_SCRIPT))
    }
}

/// Shell lines checking the configuration file at `$1`: exit 0 when hostapd parses
/// it, else exit 1 with hostapd's complaints (`Line N: ...`).
pub const CHECK_SCRIPT: &str = r#"c=$(mktemp -d) || exit 1
# Same line numbers as the file: lines are replaced, never added before the end.
sed -e 's/^driver=.*/driver=none/' -e 's/^ctrl_interface=.*/#/' "$1" > "$c/check.conf"
grep -q '^driver=' "$c/check.conf" || echo 'driver=none' >> "$c/check.conf"
out=$(hostapd -B -P "$c/pid" "$c/check.conf" 2>&1)
[ -s "$c/pid" ] && kill "$(cat "$c/pid")" 2>/dev/null
rm -rf "$c"
# The none driver cannot add a second BSS: only errors in the file count.
if printf '%s\n' "$out" | grep -q 'errors found in configuration file'; then
  echo 'hostapd rejected the new configuration (the running one is unchanged):'
  printf '%s\n' "$out" | grep -v -e '^Failed to' -e 'errors found in configuration file'
  exit 1
fi
"#;
