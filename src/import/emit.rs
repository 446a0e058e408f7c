//! Writing YAML the way the example org files are written: block mappings at the top,
//! one flow mapping per list item, values quoted only where YAML needs it.

use serde_json::Value;

/// A string as a YAML scalar: plain when it reads back as the same string in every
/// YAML version, else double-quoted (JSON's escaping is valid YAML).
pub fn scalar(s: &str) -> String {
    if plain_is_safe(s) {
        s.to_string()
    } else {
        Value::String(s.to_string()).to_string()
    }
}

fn plain_is_safe(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if s.trim() != s || s.ends_with(':') {
        return false;
    }
    // Indicators that start something else, and characters that end a flow scalar.
    if "-?:,[]{}#&*!|>'\"%@`~".contains(first) {
        return false;
    }
    if s.contains(": ") || s.contains(" #") || s.chars().any(|c| ",[]{}".contains(c)) {
        return false;
    }
    if s.chars().any(char::is_control) {
        return false;
    }
    // What a YAML 1.1 or 1.2 reader would take for something other than a string.
    let lower = s.to_ascii_lowercase();
    let special = [
        "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~",
    ];
    if special.contains(&lower.as_str()) {
        return false;
    }
    // Numbers in any base and notation, dates, times: anything starting like a number
    // is quoted (a few plain strings such as `3rd floor` are quoted too; harmless).
    let mut chars = s.chars();
    let starts_numeric = match (chars.next(), chars.next()) {
        (Some(c), _) if c.is_ascii_digit() => true,
        (Some('+' | '-' | '.'), Some(d)) => d.is_ascii_digit(),
        _ => false,
    };
    !(starts_numeric || [".inf", "-.inf", "+.inf", ".nan"].contains(&lower.as_str()))
}

/// The order of keys in a mapping, as people read an item: what it is, then how it
/// is set up, then what it contains; others follow, in name order.
const KEY_ORDER: &[&str] = &[
    "email",
    "name",
    "ssid",
    "given_name",
    "family_name",
    "description",
    "host",
    "uri",
    "location",
    "org_unit",
    "suspended",
    "role",
    "security",
    "passphrase",
    "guest",
    "hidden",
    "vlan",
    "shared",
    "enabled",
    "accepting",
    "options",
    "paths",
    "exclude",
    "repository",
    "password",
    "schedule",
    "keep",
    "groups",
    "aliases",
    "owners",
    "managers",
    "members",
    "external_members",
    "backend",
    "access_points",
    "interface",
    "driver",
    "country",
    "band",
    "channel",
    "networks",
];

/// A mapping's entries in [`KEY_ORDER`].
pub fn ordered(map: &serde_json::Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut pairs: Vec<(&String, &Value)> = map.iter().collect();
    pairs.sort_by_key(|(k, _)| {
        KEY_ORDER
            .iter()
            .position(|o| o == k)
            .unwrap_or(KEY_ORDER.len())
    });
    pairs
}

/// A JSON value as YAML flow text: `{email: a@b.org, groups: [staff]}`.
pub fn flow(v: &Value) -> String {
    match v {
        Value::String(s) => scalar(s),
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(flow).collect();
            format!("[{}]", inner.join(", "))
        }
        Value::Object(map) => {
            let pairs = ordered(map);
            let inner: Vec<String> = pairs
                .iter()
                .map(|(k, v)| format!("{}: {}", scalar(k), flow(v)))
                .collect();
            format!("{{{}}}", inner.join(", "))
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scalars_are_plain_only_when_they_read_back_the_same() {
        for plain in [
            "dana@riversidefood.org",
            "Dana Whitfield",
            "/Staff/Front desk",
            "Ana-María",
        ] {
            assert_eq!(scalar(plain), plain);
        }
        for quoted in [
            "",
            " lead",
            "yes",
            "No",
            "null",
            "1234",
            "1e3",
            "0x1F",
            "a: b",
            "a #b",
            "[x]",
            "@home",
            "- item",
            "x,y",
            "tab\there",
            "ends:",
        ] {
            let q = scalar(quoted);
            assert!(q.starts_with('"'), "{quoted:?} -> {q}");
            let back: String = serde_yaml::from_str(&q).expect("reads back");
            assert_eq!(back, quoted);
        }
    }

    #[test]
    fn flow_mappings_read_back_as_the_same_value() {
        let v = json!({"email": "a@b.org", "name": "O'Brien: the \"Second\"", "groups": ["staff", "yes"], "suspended": true});
        let text = flow(&v);
        let back: Value = serde_yaml::from_str(&text).expect("reads back");
        assert_eq!(back, v, "{text}");
    }
}
