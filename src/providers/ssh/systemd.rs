//! systemd units: read with `systemctl show`, changed with `systemctl`.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::shell::quote;
use super::{HostFacts, HostRead, MARK, NAME, OnSite, Script, SshError, Step, file, host_name_id};
use crate::org::Org;
use crate::plan::{Action, Change};
use crate::resource::{Address, Attrs, Kind, KindSpec, Reference, Resource};

pub const SYSTEMD_UNIT: Kind = Kind::of(&SPEC);

pub(super) static SPEC: KindSpec = KindSpec {
    on_host: true,
    // The files whose change restarts the unit.
    references: |a| {
        a.get("restart_on")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|path| Reference {
                attribute: "restart_on",
                kinds: &[file::FILE, super::hostapd::HOSTAPD_CONFIG],
                id: format!("{}:{path}", a.str("host")),
            })
            .collect()
    },
    ..KindSpec::new(
        "systemd_unit",
        "service",
        NAME,
        3,
        &[
            ("host", true),
            ("name", true),
            ("enabled", false),
            ("active", false),
            ("restart_on", false),
        ],
        host_name_id,
    )
};

pub struct Systemd;

impl OnSite for Systemd {
    fn kinds(&self) -> &'static [Kind] {
        &[SYSTEMD_UNIT]
    }

    fn ask(&self, mine: &[&Resource], script: &mut String) {
        let units: Vec<&str> = mine.iter().map(|r| r.attrs.str("name")).collect();
        script.push_str(&format!("echo '{MARK}systemd'\n"));
        script.push_str(&show_script(&units));
    }

    fn read(
        &self,
        at: &HostRead<'_>,
        mine: &[&Resource],
        facts: &mut HostFacts,
    ) -> Result<(), SshError> {
        let Some(text) = at.section("systemd") else {
            return Ok(());
        };
        let states = parse_show(text);
        for r in mine {
            let name = r.attrs.str("name");
            if let Some(state) = states.get(name).filter(|s| s.exists()) {
                facts.put(
                    SYSTEMD_UNIT,
                    r.address.id.clone(),
                    state.attrs(at.host, name),
                );
            }
        }
        Ok(())
    }

    fn defaults(&self, _: &Resource, a: &mut Attrs) {
        for k in ["enabled", "active"] {
            if !a.contains_key(k) {
                a.insert(k, json!(true));
            }
        }
    }

    fn script(&self, step: &Step<'_>) -> Result<Script, SshError> {
        let flag = |k: &str| step.want.get(k).and_then(Value::as_bool).unwrap_or(true);
        let name = step.want.str("name");
        Ok(Script {
            lines: apply_script(
                name,
                flag("enabled"),
                flag("active"),
                !step.change.triggered_by.is_empty(),
            ),
            what: format!("systemctl (unit {name})"),
            hide: Vec::new(),
        })
    }
}

/// A unit restarts when a file it names in `restart_on` changes in the same plan:
/// its change (made here if it had none) says so and runs after the file's.
pub fn add_restarts(org: &Org, changes: &mut Vec<Change>) {
    let changed: Vec<Address> = changes
        .iter()
        .filter(|c| c.address.kind.has_file_content())
        .map(|c| c.address.clone())
        .collect();
    for r in org
        .resources
        .iter()
        .filter(|r| r.address.kind == SYSTEMD_UNIT)
    {
        let triggers: Vec<Address> = r
            .address
            .kind
            .references(&r.attrs)
            .iter()
            .flat_map(crate::resource::Reference::addresses)
            .filter(|a| changed.contains(a))
            .collect();
        if triggers.is_empty() {
            continue;
        }
        let paths: Vec<&str> = triggers
            .iter()
            .map(|a| a.id.split_once(':').map_or(a.id.as_str(), |(_, p)| p))
            .collect();
        let reason = format!("restart: {} changes", paths.join(", "));
        match changes.iter_mut().find(|c| c.address == r.address) {
            // A unit being created starts with the new files anyway.
            Some(c) if c.action == Action::Create => {}
            Some(c) => {
                c.reason = Some(reason);
                c.triggered_by = triggers;
            }
            None => changes.push(Change {
                address: r.address.clone(),
                module: r.module.clone(),
                action: Action::Update,
                fields: Vec::new(),
                reason: Some(reason),
                source: Some(crate::plan::source_of(org, &r.source)),
                depends_on: triggers.clone(),
                destructive: false,
                triggered_by: triggers,
            }),
        }
    }
}

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
