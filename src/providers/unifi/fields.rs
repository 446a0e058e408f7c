//! The controller's field definitions (`fields/*.json`): for each field of a resource,
//! the regex its value must match as a whole, or the definitions of a nested object or
//! of a list's items. An empty regex accepts anything. Fields with no definition (`_id`,
//! `site_id`, `attr_*`) are the controller's own and are not checked here.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde_json::Value;

/// One field's definition.
#[derive(Debug)]
pub enum Def {
    /// The value, as text (`true`, `10`, `Staff`), must match this regex as a whole.
    Pattern(Option<regex_lite::Regex>, String),
    /// A nested object.
    Object(Fields),
    /// A list, each item by this definition.
    List(Box<Def>),
    /// A Java regex with look-around, which Rust's regex engines do not run (three
    /// domain-name fields of networks). Not judged here: Steward does not send these.
    Unchecked(String),
}

pub type Fields = BTreeMap<String, Def>;

/// A value the controller would refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Dotted path of the field: `x_passphrase`, `schedule_with_duration.0.start_hour`.
    pub field: String,
    /// The regex as the definitions write it.
    pub pattern: String,
}

#[derive(Debug, thiserror::Error)]
#[error("field definition `{field}`: {message}")]
pub struct DefError {
    field: String,
    message: String,
}

/// Builds definitions from the controller's JSON.
pub fn parse(json: &Value) -> Result<Fields, DefError> {
    let Value::Object(map) = json else {
        return Err(DefError {
            field: String::new(),
            message: "not an object".into(),
        });
    };
    map.iter()
        .map(|(name, v)| Ok((name.clone(), def(name, v)?)))
        .collect()
}

fn def(field: &str, v: &Value) -> Result<Def, DefError> {
    let bad = |message: String| DefError {
        field: field.to_string(),
        message,
    };
    match v {
        Value::String(p) if p.is_empty() => Ok(Def::Pattern(None, String::new())),
        Value::String(p) => {
            // As a whole value: the definitions' own `^`/`$` only ever mark an empty
            // alternative.
            match regex_lite::Regex::new(&format!("^(?:{p})$")) {
                Ok(re) => Ok(Def::Pattern(Some(re), p.clone())),
                Err(_) if ["(?=", "(?!", "(?<"].iter().any(|l| p.contains(l)) => {
                    Ok(Def::Unchecked(p.clone()))
                }
                Err(e) => Err(bad(format!("regex {p:?}: {e}"))),
            }
        }
        Value::Array(items) => match items.first() {
            Some(item) => Ok(Def::List(Box::new(def(field, item)?))),
            None => Ok(Def::List(Box::new(Def::Pattern(None, String::new())))),
        },
        Value::Object(_) => Ok(Def::Object(parse(v).map_err(|e| bad(e.to_string()))?)),
        other => Err(bad(format!("unexpected {other}"))),
    }
}

/// Every violation of `fields` in `object`.
pub fn check(fields: &Fields, object: &Value) -> Vec<Violation> {
    let mut out = Vec::new();
    check_into(fields, object, "", &mut out);
    out
}

fn check_into(fields: &Fields, object: &Value, prefix: &str, out: &mut Vec<Violation>) {
    let Value::Object(map) = object else {
        out.push(Violation {
            field: prefix.trim_end_matches('.').to_string(),
            pattern: "an object".into(),
        });
        return;
    };
    for (name, value) in map {
        if let Some(d) = fields.get(name) {
            check_value(d, value, &format!("{prefix}{name}"), out);
        }
    }
}

fn check_value(d: &Def, value: &Value, path: &str, out: &mut Vec<Violation>) {
    match d {
        Def::Pattern(re, pattern) => {
            let text = match value {
                Value::String(s) => Some(s.clone()),
                Value::Bool(b) => Some(b.to_string()),
                Value::Number(n) => Some(n.to_string()),
                Value::Null => Some(String::new()),
                Value::Array(_) | Value::Object(_) => None,
            };
            let ok = match (text, re) {
                (None, _) => false,
                (Some(_), None) => true,
                (Some(t), Some(re)) => re.is_match(&t),
            };
            if !ok {
                out.push(Violation {
                    field: path.to_string(),
                    pattern: pattern.clone(),
                });
            }
        }
        Def::Unchecked(_) => {}
        Def::Object(fields) => check_into(fields, value, &format!("{path}."), out),
        Def::List(item) => match value {
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    check_value(item, v, &format!("{path}.{i}"), out);
                }
            }
            _ => out.push(Violation {
                field: path.to_string(),
                pattern: "a list".into(),
            }),
        },
    }
}

/// Fields (dotted paths) whose definitions are [`Def::Unchecked`].
pub fn unchecked(fields: &Fields) -> Vec<String> {
    let mut out = Vec::new();
    for (name, d) in fields {
        match d {
            Def::Unchecked(_) => out.push(name.clone()),
            Def::Object(inner) => {
                out.extend(unchecked(inner).into_iter().map(|n| format!("{name}.{n}")))
            }
            Def::List(item) => {
                if let Def::Object(inner) = item.as_ref() {
                    out.extend(unchecked(inner).into_iter().map(|n| format!("{name}.{n}")));
                } else if matches!(item.as_ref(), Def::Unchecked(_)) {
                    out.push(name.clone());
                }
            }
            Def::Pattern(..) => {}
        }
    }
    out
}

/// The controller's Wi-Fi broadcast (`rest/wlanconf`) definitions.
pub static WLAN: LazyLock<Result<Fields, String>> =
    LazyLock::new(|| load(include_str!("fields/WLANConf.json")));

/// The controller's network (`rest/networkconf`) definitions.
pub static NETWORK: LazyLock<Result<Fields, String>> =
    LazyLock::new(|| load(include_str!("fields/NetworkConf.json")));

fn load(text: &str) -> Result<Fields, String> {
    let json: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    parse(&json).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn wlan() -> &'static Fields {
        WLAN.as_ref()
            .unwrap_or_else(|e| panic!("WLANConf.json: {e}"))
    }

    #[test]
    fn every_definition_of_the_controller_compiles_but_three_with_look_around() {
        assert!(wlan().len() > 80);
        assert_eq!(unchecked(wlan()), Vec::<String>::new());
        let network = NETWORK
            .as_ref()
            .unwrap_or_else(|e| panic!("NetworkConf.json: {e}"));
        assert!(network.len() > 200);
        assert_eq!(
            unchecked(network),
            ["dhcpd_boot_server", "domain_name", "pptpc_server_ip"].map(String::from)
        );
    }

    #[test]
    fn values_are_held_to_the_controllers_definitions() {
        let ok = json!({
            "name": "Staff", "security": "wpapsk", "x_passphrase": "correct horse",
            "vlan_enabled": true, "vlan": 20, "hide_ssid": false, "is_guest": false,
            "_id": "not defined, not checked",
        });
        assert_eq!(check(wlan(), &ok), vec![]);
        let bad = json!({
            "name": "", "security": "wpa9", "x_passphrase": "short",
            "vlan": 4096, "hide_ssid": "maybe",
        });
        let fields: Vec<String> = check(wlan(), &bad).into_iter().map(|v| v.field).collect();
        assert_eq!(
            fields,
            ["hide_ssid", "name", "security", "vlan", "x_passphrase"].map(String::from)
        );
        // 64 hex digits are a key, not a passphrase; an empty VLAN is "none".
        let key = "a".repeat(64);
        assert_eq!(
            check(wlan(), &json!({"x_passphrase": key, "vlan": ""})),
            vec![]
        );
    }

    #[test]
    fn nested_objects_and_lists_are_checked_item_by_item() {
        let v = json!({
            "mac_filter_list": ["00:11:22:33:44:55", "not a mac"],
            "schedule_with_duration": [{"start_hour": "25", "duration_minutes": "30"}],
        });
        let found = check(wlan(), &v);
        let fields: Vec<&str> = found.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            ["mac_filter_list.1", "schedule_with_duration.0.start_hour"]
        );
    }
}
