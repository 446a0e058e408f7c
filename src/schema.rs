//! Input schemas: how an org file's values are checked, in data.
//!
//! Module authors declare inputs in `module.yaml` with these schemas, and the org file's
//! own top level uses the same language (`src/org/org_schema.yaml`, and each provider's
//! `section.yaml`), so every value in an
//! org file is checked by one mechanism that knows where the value sits in the file.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::diag::{Problem, Problems, SourceFile, suggest};
use crate::secrets::{self, Secrets};
use crate::yaml::{Node, NodeKind, Span};

#[derive(Debug, Clone, Copy, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Type {
    String,
    Bool,
    Int,
    /// An e-mail address.
    Email,
    /// A DNS domain name.
    Domain,
    /// A Google org unit path such as `/Staff/Kitchen`.
    OrgUnit,
    /// A short identifier: letters, digits, `-`, `_`, `.`; safe in file names and commands.
    Name,
    /// A `secret:NAME` reference to a value kept outside git.
    Secret,
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// One of the org's hosts (a key of `hosts:`).
    Host,
    /// A host name or IP address to connect to.
    Address,
    /// One line of text for people (no control characters), such as a description.
    Text,
    /// A URI such as `ipp://192.168.10.20/ipp/print`, without shell metacharacters.
    Uri,
    /// An absolute path on a host, without shell metacharacters.
    Path,
    /// A restic repository: `sftp:user@host:/path`, `rest:https://...`, a local path.
    Repository,
    /// A duration such as `2d`, `36h` or `1d12h`.
    Duration,
    /// A systemd calendar event such as `*-*-* 02:00` or `daily`.
    Calendar,
    List,
    Object,
    /// A mapping from names to values of one schema.
    Map,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schema {
    #[serde(rename = "type")]
    pub ty: Type,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub default: Option<Value>,
    /// The allowed values of a string.
    #[serde(default, rename = "enum")]
    pub one_of: Option<Vec<String>>,
    /// Schema of each item of a list.
    #[serde(default)]
    pub items: Option<Box<Schema>>,
    /// Fields of an object.
    #[serde(default)]
    pub fields: Option<BTreeMap<String, Schema>>,
    /// Schema of each value of a map.
    #[serde(default)]
    pub values: Option<Box<Schema>>,
    /// On a list of objects: the field that must be unique (case-insensitively).
    #[serde(default)]
    pub unique: Option<String>,
    /// What one item is called in messages ("user", "group").
    #[serde(default)]
    pub label: Option<String>,
    /// On an email: it must be in one of the org's domains.
    #[serde(default)]
    pub in_org_domain: bool,
    /// On an int: the smallest and largest values allowed.
    #[serde(default)]
    pub min: Option<i64>,
    #[serde(default)]
    pub max: Option<i64>,
    /// What the consumer of the value accepts, beyond its type.
    #[serde(default)]
    pub format: Option<Format>,
    /// On a secret: what to do when it is not set (how to create it).
    #[serde(default)]
    pub when_missing: Option<String>,
    /// On an object's field: it applies only when these sibling fields (defaults
    /// included) have one of the listed values, e.g. `{backend: [hostapd]}`. Given
    /// otherwise, it is an error at its line, never silently dropped; `required` holds
    /// only where it applies.
    #[serde(default)]
    pub only_if: Option<BTreeMap<String, Vec<String>>>,
    /// On a field with `enum`: values allowed only under conditions like `only_if`,
    /// e.g. `{both: {backend: [unifi]}}`.
    #[serde(default)]
    pub values_only_if: Option<BTreeMap<String, BTreeMap<String, Vec<String>>>>,
    /// On a string: it must be a key of this top-level input of the module (a map),
    /// e.g. a user's `role` one of `roles`, the pool's and the org's together.
    #[serde(default)]
    pub key_of: Option<String>,
}

impl Schema {
    /// Checks every `key_of` value in `value` (as checked, at `node`) against the keys
    /// of the top-level inputs in `root` (a module's inputs, the pool's merged in).
    pub fn check_keys(&self, node: &Node, value: &Value, root: &Value, ctx: &mut Ctx<'_>) {
        match (&self.ty, &node.kind, value) {
            (Type::List, NodeKind::Seq(items), Value::Array(values)) => {
                if let Some(item) = &self.items {
                    for (n, v) in items.iter().zip(values) {
                        item.check_keys(n, v, root, ctx);
                    }
                }
            }
            (Type::Object, NodeKind::Map(entries), Value::Object(values)) => {
                let Some(fields) = &self.fields else { return };
                for (key, child) in entries {
                    let (Some(schema), Some(v)) = (fields.get(&key.text), values.get(&key.text))
                    else {
                        continue;
                    };
                    if let (Some(of), Some(text)) = (&schema.key_of, v.as_str()) {
                        let known: Vec<&str> = root[of.as_str()]
                            .as_object()
                            .map(|m| m.keys().map(String::as_str).collect())
                            .unwrap_or_default();
                        if !known.contains(&text) {
                            let mut p = Problem::at(
                                "unknown_key_of",
                                ctx.file,
                                child.span,
                                format!("unknown {} `{text}`", key.text),
                                format!("not one of `{of}`"),
                            );
                            p = match suggest(text, known.iter().copied()) {
                                Some(s) => p.with_help(format!("did you mean `{s}`?")),
                                None if known.is_empty() => p.with_help(format!(
                                    "there are no `{of}`: define them under `{of}:` (the pool's in steward.yaml `modules:`, or this org's)"
                                )),
                                None => p.with_help(format!("`{of}` are: {}", known.join(", "))),
                            };
                            ctx.problems.push(p);
                        }
                    }
                    schema.check_keys(child, v, root, ctx);
                }
            }
            _ => {}
        }
    }
}

/// Which of `conditions` (sibling field -> allowed values) the sibling values in `out`
/// fail, as `field` and its value; `None` when all hold.
fn unmet<'a>(
    conditions: &'a BTreeMap<String, Vec<String>>,
    out: &'a Map<String, Value>,
) -> Option<(&'a str, String, &'a [String])> {
    conditions.iter().find_map(|(field, allowed)| {
        let have = match out.get(field) {
            Some(Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
            None => String::new(),
        };
        (!allowed.contains(&have)).then_some((field.as_str(), have, allowed.as_slice()))
    })
}

/// `only_if` and `values_only_if` as JSON Schema `if`/`then`, so an editor flags a
/// hostapd-only input under `backend: unifi` as `validate` does.
fn conditional_json_schema(fields: &BTreeMap<String, Schema>) -> Vec<Value> {
    // Whether the siblings meet `conditions`; a sibling left out has its default.
    let holds = |conditions: &BTreeMap<String, Vec<String>>| -> Value {
        let all: Vec<Value> = conditions
            .iter()
            .map(|(field, values)| {
                let listed = serde_json::json!({
                    "required": [field],
                    "properties": {field: {"enum": values}},
                });
                let default_holds = fields
                    .get(field)
                    .and_then(|f| f.default.as_ref())
                    .and_then(Value::as_str)
                    .is_some_and(|d| values.iter().any(|v| v == d));
                if default_holds {
                    serde_json::json!({"anyOf": [{"not": {"required": [field]}}, listed]})
                } else {
                    listed
                }
            })
            .collect();
        serde_json::json!({"allOf": all})
    };
    let mut out = Vec::new();
    for (name, schema) in fields {
        if let Some(conditions) = &schema.only_if {
            out.push(serde_json::json!({
                "if": {"not": holds(conditions)},
                "then": {"not": {"required": [name]}},
            }));
            if schema.required {
                out.push(
                    serde_json::json!({"if": holds(conditions), "then": {"required": [name]}}),
                );
            }
        }
        for (value, conditions) in schema.values_only_if.iter().flatten() {
            out.push(serde_json::json!({
                "if": {"required": [name], "properties": {name: {"const": value}}},
                "then": holds(conditions),
            }));
        }
    }
    out
}

/// Checks a module's `only_if` and `values_only_if` (and those nested in its fields):
/// each names a sibling field and values it can have, so a typo in a module cannot
/// switch an input off for everyone.
pub fn check_conditions(fields: &BTreeMap<String, Schema>) -> Result<(), String> {
    for (name, schema) in fields {
        let mut all: Vec<&BTreeMap<String, Vec<String>>> = schema.only_if.iter().collect();
        if let Some(rules) = &schema.values_only_if {
            for value in rules.keys() {
                if !schema.one_of.as_ref().is_some_and(|e| e.contains(value)) {
                    return Err(format!(
                        "`{name}`: values_only_if names `{value}`, which is not in its enum"
                    ));
                }
            }
            all.extend(rules.values());
        }
        for conditions in all {
            for (field, values) in conditions {
                let Some(sibling) = fields.get(field).filter(|f| f.only_if.is_none()) else {
                    return Err(format!(
                        "`{name}`: its condition names `{field}`, which is not an unconditional field beside it"
                    ));
                };
                if let Some(e) = &sibling.one_of
                    && let Some(v) = values.iter().find(|v| !e.contains(v))
                {
                    return Err(format!(
                        "`{name}`: its condition names `{field}: {v}`, which `{field}` cannot be"
                    ));
                }
            }
        }
        if let Some(nested) = schema.nested() {
            check_conditions(nested)?;
        }
    }
    Ok(())
}

/// `backend hostapd` or `backend hostapd or unifi`, for messages.
fn conditions_text(conditions: &BTreeMap<String, Vec<String>>) -> String {
    conditions
        .iter()
        .map(|(f, v)| format!("`{f}` is {}", v.join(" or ")))
        .collect::<Vec<_>>()
        .join(" and ")
}

/// Formats a value's consumer requires (checked on a secret's value for secrets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// A WPA passphrase: 8 to 63 printable ASCII characters, or 64 hex digits.
    WpaPassphrase,
    /// A Wi-Fi network name: 1 to 32 bytes.
    Ssid,
    /// One line: no control characters (a password written to a file).
    Line,
}

impl Format {
    /// Why `v` is not in this format, if it is not.
    fn check(self, v: &str) -> Option<String> {
        match self {
            Format::WpaPassphrase => {
                let hex64 = v.len() == 64 && v.chars().all(|c| c.is_ascii_hexdigit());
                let printable = v.chars().all(|c| (' '..='~').contains(&c));
                let n = v.chars().count();
                if hex64 || (printable && (8..=63).contains(&n)) {
                    None
                } else if !printable {
                    Some("a WPA passphrase has only printable ASCII characters (no newlines, tabs or accents)".into())
                } else {
                    Some(format!(
                        "a WPA passphrase has 8 to 63 characters (or 64 hex digits); this one has {n}"
                    ))
                }
            }
            Format::Ssid => {
                if v.is_empty() || v.len() > 32 {
                    Some(format!(
                        "a network name has 1 to 32 bytes; this one has {}",
                        v.len()
                    ))
                } else {
                    None
                }
            }
            Format::Line => v
                .chars()
                .find(|c| c.is_control())
                .map(|c| format!("it contains the control character {c:?}; one line is expected")),
        }
    }
}

/// What a check needs to know about its surroundings.
pub struct Ctx<'a> {
    pub file: &'a Arc<SourceFile>,
    pub domains: &'a [String],
    /// The org's host names, for `host` values.
    pub hosts: &'a [String],
    pub secrets: &'a Secrets,
    /// Which secrets this org file may name.
    pub scope: &'a secrets::SecretScope,
    pub problems: &'a mut Problems,
}

impl Ctx<'_> {
    fn error(&mut self, code: &'static str, span: Span, message: String, label: &str) {
        self.problems
            .push(Problem::at(code, self.file, span, message, label));
    }
}

impl Type {
    /// As module files write it: `org_unit`.
    pub fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }
}

impl Schema {
    /// The type as people read it: `list of object`, `one of suspend, delete`, with
    /// `required` or the default.
    pub fn summary(&self) -> String {
        let mut text = match (&self.one_of, self.ty) {
            (Some(values), _) => format!("one of {}", values.join(", ")),
            (None, Type::List) => match &self.items {
                Some(items) => format!("list of {}", items.ty.name()),
                None => "list".into(),
            },
            (None, Type::Map) => match &self.values {
                Some(values) => format!("map of {}", values.ty.name()),
                None => "map".into(),
            },
            (None, ty) => ty.name(),
        };
        if self.required {
            text.push_str(", required");
        } else if let Some(d) = &self.default {
            text.push_str(&format!(", default {d}"));
        }
        if let Some(conditions) = &self.only_if {
            text.push_str(&format!(" (only when {})", conditions_text(conditions)));
        }
        text
    }

    /// The fields nested in it, for a full description: an object's, or those of a
    /// list's items or a map's values.
    pub fn nested(&self) -> Option<&BTreeMap<String, Schema>> {
        self.fields
            .as_ref()
            .or_else(|| self.items.as_ref().and_then(|i| i.fields.as_ref()))
            .or_else(|| self.values.as_ref().and_then(|v| v.fields.as_ref()))
    }

    /// Checks `node` at dotted `path`, returning the value with defaults filled in.
    /// Problems are pushed to the context; the returned value is then best-effort.
    pub fn check(&self, node: &Node, path: &str, ctx: &mut Ctx<'_>) -> Value {
        if node.is_null() && matches!(self.ty, Type::List | Type::Object | Type::Map) {
            // `accounts:` with nothing after it means "all defaults".
            return self.check_collection(&empty_like(self.ty, node.span), path, ctx);
        }
        match self.ty {
            Type::List | Type::Object | Type::Map => self.check_collection(node, path, ctx),
            _ => self.check_scalar(node, ctx),
        }
    }

    fn check_collection(&self, node: &Node, path: &str, ctx: &mut Ctx<'_>) -> Value {
        match (&self.ty, &node.kind) {
            (Type::List, NodeKind::Seq(items)) => {
                let Some(item_schema) = &self.items else {
                    return node.to_json();
                };
                let out: Vec<Value> = items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| item_schema.check(item, &join(path, &i.to_string()), ctx))
                    .collect();
                if let Some(field) = &self.unique {
                    self.check_unique(items, field, ctx);
                }
                Value::Array(out)
            }
            (Type::Object, NodeKind::Map(entries)) => {
                static NONE: BTreeMap<String, Schema> = BTreeMap::new();
                let fields = self.fields.as_ref().unwrap_or(&NONE);
                let mut out = Map::new();
                let mut given: BTreeMap<&str, (Span, Span)> = BTreeMap::new();
                for (key, value) in entries {
                    given.insert(key.text.as_str(), (key.span, value.span));
                    match fields.get(&key.text) {
                        Some(schema) => {
                            let v = schema.check(value, &join(path, &key.text), ctx);
                            out.insert(key.text.clone(), v);
                        }
                        None => {
                            let mut p = Problem::at(
                                "unknown_key",
                                ctx.file,
                                key.span,
                                format!("unknown key `{}`", key.text),
                                "not expected here",
                            );
                            p = match suggest(&key.text, fields.keys().map(String::as_str)) {
                                Some(s) => p.with_help(format!("did you mean `{s}`?")),
                                None => p.with_help(format!(
                                    "expected one of: {}",
                                    fields.keys().cloned().collect::<Vec<_>>().join(", ")
                                )),
                            };
                            ctx.problems.push(p);
                        }
                    }
                }
                // Unconditional fields first: conditions read their values.
                let (conditional, plain): (Vec<_>, Vec<_>) =
                    fields.iter().partition(|(_, s)| s.only_if.is_some());
                for (name, schema) in plain.into_iter().chain(conditional) {
                    if let Some(conditions) = &schema.only_if
                        && let Some((field, have, _)) = unmet(conditions, &out)
                    {
                        if let Some((key_span, _)) = given.get(name.as_str()) {
                            let p = Problem::at(
                                "not_applicable",
                                ctx.file,
                                *key_span,
                                format!(
                                    "`{name}` applies only when {}; here `{field}` is `{have}`",
                                    conditions_text(conditions)
                                ),
                                "not used with this setting",
                            )
                            .with_help(format!(
                                "remove `{name}`, or change `{field}`: with `{have}` it would be silently ignored"
                            ));
                            ctx.problems.push(p);
                        }
                        out.remove(name);
                        continue;
                    }
                    if let (Some(rules), Some((_, value_span)), Some(Value::String(v))) = (
                        &schema.values_only_if,
                        given.get(name.as_str()),
                        out.get(name),
                    ) && let Some(conditions) = rules.get(v)
                        && let Some((field, have, _)) = unmet(conditions, &out)
                    {
                        ctx.problems.push(
                            Problem::at(
                                "not_applicable",
                                ctx.file,
                                *value_span,
                                format!(
                                    "`{name}: {v}` is possible only when {}; here `{field}` is `{have}`",
                                    conditions_text(conditions)
                                ),
                                "not possible with this setting",
                            )
                            .with_help(format!("choose another value of `{name}`, or change `{field}`")),
                        );
                    }
                    if out.contains_key(name) {
                        continue;
                    }
                    if schema.required {
                        ctx.error(
                            "missing_key",
                            node.span_head(),
                            format!("missing required key `{name}`"),
                            &format!("`{name}` is required in here"),
                        );
                    } else if let Some(d) = &schema.default {
                        out.insert(name.clone(), d.clone());
                    } else if matches!(schema.ty, Type::List) {
                        out.insert(name.clone(), Value::Array(Vec::new()));
                    }
                }
                Value::Object(out)
            }
            (Type::Map, NodeKind::Map(entries)) => {
                let mut out = Map::new();
                for (key, value) in entries {
                    if !is_name(&key.text) {
                        let what = match &self.label {
                            Some(label) => format!("{label} name"),
                            None => "name".to_string(),
                        };
                        ctx.error(
                            "bad_name",
                            key.span,
                            format!("`{}` is not a valid {what}", key.text),
                            "letters, digits, `-`, `_` and `.` only",
                        );
                    }
                    // Without a schema for the values they are checked elsewhere (the
                    // org file's `modules:`, against each module's inputs): not copied.
                    let v = match &self.values {
                        Some(s) => s.check(value, &join(path, &key.text), ctx),
                        None => Value::Null,
                    };
                    out.insert(key.text.clone(), v);
                }
                Value::Object(out)
            }
            _ => {
                let expected = match self.ty {
                    Type::List => "a list",
                    _ => "a mapping",
                };
                ctx.error(
                    "wrong_type",
                    node.span,
                    format!("expected {expected}, found {}", node.type_name()),
                    &format!("should be {expected}"),
                );
                Value::Null
            }
        }
    }

    fn check_unique(&self, items: &[Node], field: &str, ctx: &mut Ctx<'_>) {
        let label = self.label.as_deref().unwrap_or("item");
        let mut seen: BTreeMap<String, Span> = BTreeMap::new();
        for item in items {
            let Some(v) = item.get(field) else { continue };
            let Some(text) = v.as_str() else { continue };
            let key = text.to_ascii_lowercase();
            if let Some(first) = seen.get(&key) {
                let p = Problem::at(
                    "duplicate",
                    ctx.file,
                    v.span,
                    format!("duplicate {label} `{text}`"),
                    "defined again here",
                )
                .with_label(*first, "first defined here");
                ctx.problems.push(p);
            } else {
                seen.insert(key, v.span);
            }
        }
    }

    fn check_scalar(&self, node: &Node, ctx: &mut Ctx<'_>) -> Value {
        let NodeKind::Scalar { value, .. } = &node.kind else {
            ctx.error(
                "wrong_type",
                node.span,
                format!("expected {}, found {}", self.describe(), node.type_name()),
                &format!("should be {}", self.describe()),
            );
            return Value::Null;
        };
        match self.ty {
            Type::Bool => {
                let json = node.to_json();
                if !json.is_boolean() {
                    ctx.error(
                        "wrong_type",
                        node.span,
                        format!("expected true or false, found `{value}`"),
                        "should be true or false",
                    );
                }
                return json;
            }
            Type::Int => {
                let json = node.to_json();
                let Some(i) = json.as_i64() else {
                    ctx.error(
                        "wrong_type",
                        node.span,
                        format!("expected a whole number, found `{value}`"),
                        "should be a whole number",
                    );
                    return json;
                };
                if self.min.is_some_and(|m| i < m) || self.max.is_some_and(|m| i > m) {
                    ctx.error(
                        "out_of_range",
                        node.span,
                        format!(
                            "{i} is out of range ({}..={})",
                            self.min.map_or(String::new(), |m| m.to_string()),
                            self.max.map_or(String::new(), |m| m.to_string())
                        ),
                        "out of range",
                    );
                }
                return json;
            }
            _ => {}
        }
        if node.is_null() {
            ctx.error(
                "wrong_type",
                node.span,
                format!("expected {}, found nothing", self.describe()),
                "a value is needed here",
            );
            return Value::Null;
        }
        // Everything else is text: numbers and booleans written plain are taken as text.
        let text = value.as_str();
        // Values end up in config files, commands and API calls: a newline or another
        // control character would add lines or arguments there.
        if self.ty != Type::Text
            && let Some(c) = text.chars().find(|c| c.is_control())
        {
            ctx.error(
                "control_character",
                node.span,
                format!("this value contains the control character {c:?}"),
                "one line of plain text expected",
            );
            return Value::String(text.to_string());
        }
        if self.ty != Type::Secret
            && let Some(why) = self.format.and_then(|f| f.check(text))
        {
            ctx.error("bad_format", node.span, why, "not accepted where it goes");
        }
        // Only a module's `secret` helper may put a secret into a file: text that looks
        // like its placeholder is refused rather than ever filled.
        if text.contains("((secret:") {
            ctx.problems.push(
                Problem::at(
                    "placeholder_in_value",
                    ctx.file,
                    node.span,
                    "this value looks like a secret placeholder, `((secret:...))`",
                    "not a place for a secret",
                )
                .with_help("a secret goes in a field that takes one, written `secret:NAME`"),
            );
            return Value::String(text.to_string());
        }
        if let Some(allowed) = &self.one_of
            && !allowed.iter().any(|a| a == text)
        {
            ctx.problems.push(
                Problem::at(
                    "not_allowed",
                    ctx.file,
                    node.span,
                    format!("`{text}` is not one of: {}", allowed.join(", ")),
                    "not an allowed value",
                )
                .with_help(
                    match suggest(text, allowed.iter().map(String::as_str)) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => format!("use one of: {}", allowed.join(", ")),
                    },
                ),
            );
        }
        if self.ty != Type::Secret && secrets::reference(text).is_some() {
            ctx.error(
                "secret_not_allowed",
                node.span,
                "a secret reference cannot be used here".into(),
                "this value is not secret",
            );
        }
        match self.ty {
            Type::Email => self.check_email(text, node.span, ctx),
            Type::Domain if !is_domain(text) => ctx.error(
                "bad_domain",
                node.span,
                format!("`{text}` is not a domain name"),
                "not a domain name",
            ),
            Type::OrgUnit => {
                if let Err(why) = check_org_unit(text) {
                    ctx.error(
                        "bad_org_unit",
                        node.span,
                        format!("`{text}` is not an org unit path: {why}"),
                        "not an org unit path",
                    );
                }
            }
            Type::Date if crate::util::parse_date(text).is_none() => ctx.error(
                "bad_date",
                node.span,
                format!("`{text}` is not a date: write YYYY-MM-DD"),
                "not a date",
            ),
            Type::Name if !is_name(text) => ctx.problems.push(
                Problem::at(
                    "bad_name",
                    ctx.file,
                    node.span,
                    match metacharacter(text) {
                        Some(c) => format!("`{text}` contains {}", describe_char(c)),
                        None => format!("`{text}` is not a valid name"),
                    },
                    "unsafe characters",
                )
                .with_help("names use letters, digits, `-`, `_` and `.` only"),
            ),
            Type::Host => self.check_host(text, node.span, ctx),
            Type::Address if !is_address(text) => ctx.error(
                "bad_address",
                node.span,
                format!("`{text}` is not a host name or IP address"),
                "not a host name or IP address",
            ),
            Type::Text => {
                if let Some(c) = text.chars().find(|c| c.is_control()) {
                    ctx.error(
                        "bad_text",
                        node.span,
                        format!("this text contains the control character {:?}", c),
                        "one line of plain text expected",
                    );
                } else if text.len() > 255 {
                    ctx.error(
                        "bad_text",
                        node.span,
                        format!("this text is {} bytes long; at most 255 are allowed", text.len()),
                        "too long",
                    );
                }
            }
            Type::Uri => {
                if let Err(why) = check_uri(text) {
                    ctx.problems.push(
                        Problem::at("bad_uri", ctx.file, node.span, format!("`{text}` {why}"), "not a safe URI")
                            .with_help("write a URI like ipp://192.168.10.20/ipp/print; spaces, quotes and shell metacharacters are not allowed"),
                    );
                }
            }
            Type::Path if !is_host_path(text) => ctx.problems.push(
                Problem::at("bad_path", ctx.file, node.span, match metacharacter(text) {
                    Some(c) => format!("`{text}` contains {}", describe_char(c)),
                    None => format!("`{text}` is not an absolute path"),
                }, "not a safe absolute path")
                .with_help("write an absolute path such as /srv/shared; spaces, quotes and shell metacharacters are not allowed"),
            ),
            Type::Repository => {
                if let Err(why) = check_repository(text) {
                    ctx.problems.push(
                        Problem::at("bad_repository", ctx.file, node.span, format!("`{text}` {why}"), "not a restic repository")
                            .with_help("write e.g. sftp:restic@backup.example.org:/srv/restic/org, rest:https://backup.example.org/org, or an absolute path"),
                    );
                }
            }
            Type::Duration if crate::util::parse_duration(text).is_none() => ctx.problems.push(
                Problem::at("bad_duration", ctx.file, node.span, format!("`{text}` is not a duration"), "not a duration")
                    .with_help("write a number and a unit: s, m, h, d or w, e.g. 36h, 2d or 1d12h"),
            ),
            Type::Calendar if !is_calendar(text) => ctx.problems.push(
                Problem::at("bad_calendar", ctx.file, node.span, format!("`{text}` is not a systemd calendar event"), "not a calendar event")
                    .with_help("write e.g. `*-*-* 02:00` (every night at 2), `Mon..Fri 18:30`, or `daily`; see `man systemd.time`"),
            ),
            Type::Secret => match secrets::reference(text) {
                None => ctx.problems.push(
                    Problem::at(
                        "not_a_secret",
                        ctx.file,
                        node.span,
                        "this value must be a secret reference".to_string(),
                        "secrets are never written in org files",
                    )
                    .with_help("write `secret:NAME` and keep the value in the secrets folder or the environment"),
                ),
                Some(name) if !ctx.scope.allows(name) => ctx.problems.push(
                    Problem::at(
                        "secret_out_of_scope",
                        ctx.file,
                        node.span,
                        format!("secret `{name}` is not this org's to use"),
                        "another org's or the pool's secret",
                    )
                    .with_help(format!(
                        "an org file uses its own secrets, `secret:{}/NAME`, and those steward.yaml lists under `secrets.shared`",
                        ctx.scope.org
                    )),
                ),
                Some(name) => match ctx.secrets.resolve(name) {
                    Err(e) => ctx.problems.push(
                        Problem::at(
                            "missing_secret",
                            ctx.file,
                            node.span,
                            format!("missing secret `{name}`"),
                            "cannot be resolved",
                        )
                        .with_help(match &self.when_missing {
                            Some(todo) => format!("{e}\n{todo}"),
                            None => e.to_string(),
                        }),
                    ),
                    // The value is checked where it goes, and never shown.
                    Ok(value) => {
                        if let Some(why) = self.format.and_then(|f| f.check(value.expose())) {
                            ctx.error(
                                "bad_secret_value",
                                node.span,
                                format!("the value of secret `{name}` is not accepted here: {why}"),
                                "this secret's value",
                            );
                        }
                    }
                },
            },
            _ => {}
        }
        Value::String(text.to_string())
    }

    fn check_host(&self, text: &str, span: Span, ctx: &mut Ctx<'_>) {
        if ctx.hosts.iter().any(|h| h == text) {
            return;
        }
        let help = if ctx.hosts.is_empty() {
            "this org declares no hosts: add it under `hosts:` with its address".to_string()
        } else {
            match suggest(text, ctx.hosts.iter().map(String::as_str)) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("hosts of this org: {}", ctx.hosts.join(", ")),
            }
        };
        ctx.problems.push(
            Problem::at(
                "unknown_host",
                ctx.file,
                span,
                format!("unknown host `{text}`"),
                "not under `hosts:`",
            )
            .with_help(help),
        );
    }

    fn check_email(&self, text: &str, span: Span, ctx: &mut Ctx<'_>) {
        let Some((local, domain)) = split_email(text) else {
            ctx.error(
                "bad_email",
                span,
                format!("`{text}` is not an e-mail address"),
                "not an e-mail address",
            );
            return;
        };
        let _ = local;
        if self.in_org_domain
            && !ctx.domains.is_empty()
            && !ctx.domains.iter().any(|d| d.eq_ignore_ascii_case(domain))
        {
            ctx.problems.push(
                Problem::at(
                    "outside_domain",
                    ctx.file,
                    span,
                    format!("`{text}` is outside the org's domains"),
                    "domain not managed by this org",
                )
                .with_help(format!(
                    "this org's domains are: {}; add the domain under `google.domains` or fix the address",
                    ctx.domains.join(", ")
                )),
            );
        }
    }

    /// The same schema as JSON Schema (draft-07), for editors: what it can say of types,
    /// enums, ranges, required and unknown keys. Steward's own checks say more (domains,
    /// hosts, secrets' values), and are what counts.
    pub fn to_json_schema(&self) -> Value {
        let mut out = Map::new();
        let string = |out: &mut Map<String, Value>| {
            out.insert("type".into(), "string".into());
        };
        match self.ty {
            Type::Bool => {
                out.insert("type".into(), "boolean".into());
            }
            Type::Int => {
                out.insert("type".into(), "integer".into());
                if let Some(min) = self.min {
                    out.insert("minimum".into(), min.into());
                }
                if let Some(max) = self.max {
                    out.insert("maximum".into(), max.into());
                }
            }
            Type::Secret => {
                string(&mut out);
                out.insert("pattern".into(), "^secret:".into());
            }
            Type::OrgUnit => {
                string(&mut out);
                out.insert("pattern".into(), "^/".into());
            }
            Type::Date => {
                string(&mut out);
                out.insert("pattern".into(), "^[0-9]{4}-[0-9]{2}-[0-9]{2}$".into());
            }
            Type::List => {
                out.insert("type".into(), "array".into());
                if let Some(items) = &self.items {
                    out.insert("items".into(), items.to_json_schema());
                }
            }
            Type::Object => {
                out.insert("type".into(), "object".into());
                if let Some(fields) = &self.fields {
                    let properties: Map<String, Value> = fields
                        .iter()
                        .map(|(k, v)| (k.clone(), v.to_json_schema()))
                        .collect();
                    let required: Vec<Value> = fields
                        .iter()
                        .filter(|(_, v)| v.required && v.only_if.is_none())
                        .map(|(k, _)| Value::String(k.clone()))
                        .collect();
                    out.insert("properties".into(), Value::Object(properties));
                    if !required.is_empty() {
                        out.insert("required".into(), Value::Array(required));
                    }
                    out.insert("additionalProperties".into(), false.into());
                    let conditions = conditional_json_schema(fields);
                    if !conditions.is_empty() {
                        out.insert("allOf".into(), Value::Array(conditions));
                    }
                }
            }
            Type::Map => {
                out.insert("type".into(), "object".into());
                if let Some(values) = &self.values {
                    out.insert("additionalProperties".into(), values.to_json_schema());
                }
            }
            _ => string(&mut out),
        }
        if let Some(values) = &self.one_of {
            out.insert(
                "enum".into(),
                Value::Array(values.iter().cloned().map(Value::String).collect()),
            );
        }
        let what = match &self.description {
            Some(d) => d.clone(),
            None => self.describe().to_string(),
        };
        out.insert("description".into(), what.into());
        if let Some(d) = &self.default {
            out.insert("default".into(), d.clone());
        }
        Value::Object(out)
    }

    fn describe(&self) -> &'static str {
        match self.ty {
            Type::String => "text",
            Type::Bool => "true or false",
            Type::Int => "a whole number",
            Type::Email => "an e-mail address",
            Type::Domain => "a domain name",
            Type::OrgUnit => "an org unit path",
            Type::Name => "a name",
            Type::Secret => "a secret reference",
            Type::Date => "a date (YYYY-MM-DD)",
            Type::Host => "a host name",
            Type::Address => "a host name or IP address",
            Type::Text => "text",
            Type::Uri => "a URI",
            Type::Path => "an absolute path",
            Type::Repository => "a restic repository",
            Type::Duration => "a duration",
            Type::Calendar => "a calendar event",
            Type::List => "a list",
            Type::Object | Type::Map => "a mapping",
        }
    }
}

impl Node {
    /// The first character of a node, for "missing key" labels on whole mappings.
    pub fn span_head(&self) -> Span {
        Span::new(self.span.start, self.span.len.min(1))
    }
}

fn empty_like(ty: Type, span: Span) -> Node {
    Node {
        kind: match ty {
            Type::List => NodeKind::Seq(Vec::new()),
            _ => NodeKind::Map(Vec::new()),
        },
        span,
    }
}

pub fn join(path: &str, seg: &str) -> String {
    if path.is_empty() {
        seg.to_string()
    } else {
        format!("{path}.{seg}")
    }
}

pub fn split_email(text: &str) -> Option<(&str, &str)> {
    let (local, domain) = text.split_once('@')?;
    let local_ok = !local.is_empty()
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._+-'".contains(c));
    (local_ok && is_domain(domain)).then_some((local, domain))
}

pub fn is_domain(text: &str) -> bool {
    text.contains('.')
        && text.len() <= 253
        && text.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

pub fn is_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && !text.starts_with(['-', '.'])
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// Characters a shell gives meaning to; never allowed in names, paths or URIs.
pub const SHELL_METACHARACTERS: &str = " \t\n'\"`$\\;|&<>(){}*?[]!#~";

fn metacharacter(text: &str) -> Option<char> {
    text.chars()
        .find(|c| SHELL_METACHARACTERS.contains(*c) || c.is_control())
}

pub fn is_address(text: &str) -> bool {
    text.parse::<std::net::IpAddr>().is_ok()
        || (!text.is_empty()
            && text.len() <= 253
            && !text.starts_with(['-', '.'])
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'))
}

fn check_uri(text: &str) -> Result<(), String> {
    if let Some(c) = metacharacter(text) {
        return Err(format!("contains {}", describe_char(c)));
    }
    let Some((scheme, rest)) = text.split_once("://") else {
        return Err("is not a URI (scheme://address/path)".into());
    };
    if scheme.is_empty()
        || !scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
        || rest.is_empty()
    {
        return Err("is not a URI (scheme://address/path)".into());
    }
    Ok(())
}

/// An absolute path with no shell metacharacters and no `..`.
pub fn is_host_path(text: &str) -> bool {
    text.starts_with('/')
        && metacharacter(text).is_none()
        && !text.split('/').any(|seg| seg == "..")
}

const RESTIC_BACKENDS: &[&str] = &[
    "local", "sftp", "rest", "s3", "b2", "azure", "gs", "swift", "rclone",
];

fn check_repository(text: &str) -> Result<(), String> {
    if let Some(c) = metacharacter(text) {
        return Err(format!("contains {}", describe_char(c)));
    }
    if text.starts_with('/') {
        return Ok(());
    }
    match text.split_once(':') {
        Some((backend, rest)) if RESTIC_BACKENDS.contains(&backend) && !rest.is_empty() => Ok(()),
        Some((backend, _)) => Err(format!(
            "names the backend `{backend}`, which restic does not have (it has {})",
            RESTIC_BACKENDS.join(", ")
        )),
        None => Err("is neither an absolute path nor BACKEND:LOCATION".into()),
    }
}

/// A systemd calendar event, checked for shape only: the host's systemd has the last
/// word when the timer is loaded.
fn is_calendar(text: &str) -> bool {
    const SHORTHANDS: &[&str] = &[
        "minutely",
        "hourly",
        "daily",
        "weekly",
        "monthly",
        "yearly",
        "annually",
        "quarterly",
        "semiannually",
    ];
    const DAYS: &[&str] = &["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let t = text.trim();
    if SHORTHANDS.contains(&t.to_ascii_lowercase().as_str()) {
        return true;
    }
    !t.is_empty()
        && t.len() <= 100
        && t.split(' ').filter(|p| !p.is_empty()).all(|part| {
            part.chars()
                .all(|c| c.is_ascii_digit() || "*-:,./~".contains(c))
                || part.split([',', '.']).filter(|d| !d.is_empty()).all(|d| {
                    DAYS.iter()
                        .any(|day| d.to_ascii_lowercase().starts_with(day))
                })
                || ["UTC"].contains(&part)
        })
        && t.chars().any(|c| c.is_ascii_digit() || c == '*')
}

fn describe_char(c: char) -> String {
    match c {
        ' ' => "a space".into(),
        '\t' => "a tab".into(),
        '\n' => "a line break".into(),
        c if c.is_control() => format!("the control character {c:?}"),
        c => format!("the shell metacharacter `{c}`"),
    }
}

fn check_org_unit(text: &str) -> Result<(), &'static str> {
    if !text.starts_with('/') {
        return Err("it must start with `/`");
    }
    if text.len() > 1 && text.ends_with('/') {
        return Err("it must not end with `/`");
    }
    if text.contains("//") {
        return Err("it has an empty segment");
    }
    if text
        .chars()
        .any(|c| c.is_control() || "\"'`$\\;|&<>".contains(c))
    {
        return Err("it has characters that are not allowed");
    }
    Ok(())
}
