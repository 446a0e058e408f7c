//! systemd units: read with `systemctl show`, changed with `systemctl`.

use std::collections::BTreeMap;

use serde_json::json;

use super::shell::quote;
use crate::resource::Attrs;

/// Shell lines printing the state of every unit, one block of `key=value` lines each.
pub fn show_script(units: &[&str]) -> String {
    let names: Vec<String> = units.iter().map(|u| quote(u)).collect();
    format!(
        "systemctl show --no-pager -p Id -p LoadState -p UnitFileState -p ActiveState -- {} 2>/dev/null\n",
        names.join(" ")
    )
}

/// One unit as systemd has it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitState {
    pub load: String,
    pub file_state: String,
    pub active: String,
}

impl UnitState {
    /// The unit exists (its file was found, or it is masked).
    pub fn exists(&self) -> bool {
        self.load != "not-found"
    }

    pub fn attrs(&self, host: &str, name: &str) -> Attrs {
        let mut a = Attrs::default();
        a.insert("host", json!(host));
        a.insert("name", json!(name));
        a.insert("enabled", json!(self.file_state == "enabled"));
        a.insert(
            "active",
            json!(matches!(self.active.as_str(), "active" | "reloading")),
        );
        a
    }
}

/// Parses `systemctl show` output: blocks separated by blank lines, keyed by `Id`.
pub fn parse_show(text: &str) -> BTreeMap<String, UnitState> {
    let mut out = BTreeMap::new();
    for block in text.split("\n\n") {
        let mut id = None;
        let mut state = UnitState::default();
        for line in block.lines() {
            match line.split_once('=') {
                Some(("Id", v)) => id = Some(v.to_string()),
                Some(("LoadState", v)) => state.load = v.to_string(),
                Some(("UnitFileState", v)) => state.file_state = v.to_string(),
                Some(("ActiveState", v)) => state.active = v.to_string(),
                _ => {}
            }
        }
        if let Some(id) = id {
            out.insert(id, state);
        }
    }
    out
}

/// Brings a unit to the wanted state. `restart` when a file it depends on changed:
/// it is then restarted (or reloaded, where the unit can) even if already running.
/// Fails with the unit's recent log when it does not stay up.
pub fn apply_script(name: &str, enabled: bool, active: bool, restart: bool) -> String {
    let u = quote(name);
    let mut s = String::from("systemctl daemon-reload || exit 1\n");
    if enabled {
        // Debian masks some services until they are configured (hostapd): a unit the
        // file wants enabled is unmasked first.
        s.push_str(&format!(
            "if [ \"$(systemctl is-enabled -- {u} 2>/dev/null)\" = masked ]; then systemctl unmask -- {u} || exit 1; fi\nsystemctl enable --quiet -- {u} || exit 1\n"
        ));
    } else {
        s.push_str(&format!("systemctl disable --quiet -- {u} || exit 1\n"));
    }
    if active {
        let verb = if restart {
            "reload-or-restart"
        } else {
            "start"
        };
        s.push_str(&format!(
            "if ! systemctl {verb} -- {u}; then systemctl status --no-pager -n 20 -- {u}; exit 1; fi\n\
             sleep 0.2\n\
             if ! systemctl is-active --quiet -- {u}; then echo '{name} stopped right after starting:'; systemctl status --no-pager -n 20 -- {u}; exit 1; fi\n"
        ));
    } else {
        s.push_str(&format!("systemctl stop -- {u} || exit 1\n"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_output_is_read_by_id() {
        let text = "Id=hostapd.service\nLoadState=masked\nUnitFileState=masked\nActiveState=inactive\n\n\
                    ActiveState=active\nId=steward-backup-x.timer\nLoadState=loaded\nUnitFileState=enabled\n\n\
                    Id=nope.service\nLoadState=not-found\nUnitFileState=\nActiveState=inactive\n";
        let units = parse_show(text);
        let hostapd = &units["hostapd.service"];
        assert!(hostapd.exists());
        assert_eq!(
            hostapd.attrs("h", "hostapd.service").get("enabled"),
            Some(&json!(false))
        );
        let timer = units["steward-backup-x.timer"].attrs("h", "t");
        assert_eq!(timer.get("enabled"), Some(&json!(true)));
        assert_eq!(timer.get("active"), Some(&json!(true)));
        assert!(!units["nope.service"].exists());
    }
}
