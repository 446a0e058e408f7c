//! Resources: what modules render into, in kinds the providers declare.
//!
//! Modules are data, but what a resource *is* — its identity, its managed attributes and
//! what it refers to — is decided in Rust by the provider that manages its kind
//! ([`KindSpec`]), so a template cannot invent an operation.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What a provider declares about one kind of resource it manages: its name, its
/// attributes, how its id and references follow from them, and the rules the engine
/// applies to it. Each provider keeps its kinds in `providers/<name>/`.
pub struct KindSpec {
    /// As modules and plans write it: `google_user`.
    pub name: &'static str,
    /// What one is called in messages to people: `user`.
    pub noun: &'static str,
    /// The provider that manages it (its registry name).
    pub provider: &'static str,
    /// Its place among its provider's kinds: plans list kinds in this order (org units
    /// before the users in them), providers first in name order.
    pub rank: u8,
    /// Attributes a resource may have, and whether each is required.
    pub attributes: &'static [(&'static str, bool)],
    /// Attributes that may be given as `secret:NAME`: kept apart from the others.
    pub secret_attributes: &'static [&'static str],
    /// The id, derived from the attributes, so two modules cannot name one object
    /// differently.
    pub id: fn(&Attrs) -> String,
    /// What a resource needs to exist first.
    pub references: fn(&Attrs) -> Vec<Reference>,
    /// Two modules may both declare the same resource with the same attributes (a
    /// package several modules need): it is then one resource.
    pub merges_identical: bool,
    /// Steward only reads it: plans never change it, its facts feed health.
    pub observed_only: bool,
    /// For a kind whose `content` is a whole file (secrets in it are redacted, changes
    /// shown as a diff): where on a host such a file may be.
    pub file: Option<FileRule>,
    /// What to say about two declarations of one resource, where the cause is not
    /// obvious from the message.
    pub duplicate_help: Option<&'static str>,
    /// Attributes whose values compare without regard to ASCII case (addresses).
    pub case_insensitive: &'static [&'static str],
    /// It lives on a host, named by its `host` attribute.
    pub on_host: bool,
    /// Fields a create shows beyond the attributes, always redacted (a generated
    /// initial password).
    pub generated_on_create: &'static [&'static str],
    /// Resources whose deletes must wait for this one's (a membership goes before its
    /// group and its member), from this one's id.
    pub deleted_before: Option<fn(&str) -> Vec<Address>>,
    /// How a delete of an object no org file lists reads in a drift report, when
    /// "removed from the org file" would not be true.
    pub unlisted: Option<fn(&str) -> String>,
    /// What to do about each of its health or conflict codes, for drift reports.
    pub advice: &'static [(&'static str, &'static str)],
}

/// Where on a host a file of a kind may be. Steward's files live in places of its own,
/// so no module can make a plan read (and show) any other file.
pub struct FileRule {
    pub allowed: fn(&str) -> bool,
    /// Said when a path is refused.
    pub rule: &'static str,
}

impl KindSpec {
    /// A spec with every rule at its default; providers fill in the rest.
    pub const fn new(
        name: &'static str,
        noun: &'static str,
        provider: &'static str,
        rank: u8,
        attributes: &'static [(&'static str, bool)],
        id: fn(&Attrs) -> String,
    ) -> KindSpec {
        KindSpec {
            name,
            noun,
            provider,
            rank,
            attributes,
            secret_attributes: &[],
            id,
            references: no_references,
            merges_identical: false,
            observed_only: false,
            file: None,
            duplicate_help: None,
            case_insensitive: &[],
            on_host: false,
            generated_on_create: &[],
            deleted_before: None,
            unlisted: None,
            advice: &[],
        }
    }
}

fn no_references(_: &Attrs) -> Vec<Reference> {
    Vec::new()
}

/// A resource kind: a handle on its provider's [`KindSpec`].
#[derive(Clone, Copy)]
pub struct Kind(&'static KindSpec);

impl Kind {
    pub const fn of(spec: &'static KindSpec) -> Kind {
        Kind(spec)
    }

    /// The kind a module or a plan names, from the providers' registry.
    pub fn named(name: &str) -> Option<Kind> {
        crate::providers::kind_named(name)
    }

    pub fn spec(self) -> &'static KindSpec {
        self.0
    }

    pub fn as_str(self) -> &'static str {
        self.0.name
    }

    pub fn noun(self) -> &'static str {
        self.0.noun
    }

    pub fn provider(self) -> &'static str {
        self.0.provider
    }

    pub fn merges_identical(self) -> bool {
        self.0.merges_identical
    }

    pub fn duplicate_help(self) -> Option<&'static str> {
        self.0.duplicate_help
    }

    pub fn observed_only(self) -> bool {
        self.0.observed_only
    }

    pub fn has_file_content(self) -> bool {
        self.0.file.is_some()
    }

    pub fn id_of(self, attrs: &Attrs) -> String {
        (self.0.id)(attrs)
    }

    /// Whether a desired and a live value of an attribute are the same: Google
    /// addresses ignore case, so `Priya.N@…` in a file is `priya.n@…` live.
    pub fn same_value(self, attr: &str, want: &Value, live: Option<&Value>) -> bool {
        match (want, live) {
            (Value::String(a), Some(Value::String(b)))
                if self.0.case_insensitive.contains(&attr) =>
            {
                a.eq_ignore_ascii_case(b)
            }
            (a, b) => Some(a) == b,
        }
    }

    /// Whether a file of this kind may be at `path`; the rule when not.
    pub fn path_rule(self, path: &str) -> Result<(), &'static str> {
        let Some(rule) = &self.0.file else {
            return Ok(());
        };
        let clean = path.starts_with('/') && !path.split('/').any(|seg| seg == ".." || seg == ".");
        if clean && (rule.allowed)(path) {
            Ok(())
        } else {
            Err(rule.rule)
        }
    }

    /// The host an on-site resource lives on.
    pub fn host_of(self, attrs: &Attrs) -> Option<&str> {
        self.0.on_host.then(|| attrs.str("host"))
    }

    /// What this resource needs to exist first: (attribute, kinds it may be, id).
    pub fn references(self, attrs: &Attrs) -> Vec<Reference> {
        (self.0.references)(attrs)
    }

    fn key(self) -> (&'static str, u8) {
        (self.0.provider, self.0.rank)
    }
}

impl PartialEq for Kind {
    fn eq(&self, other: &Kind) -> bool {
        // One spec per kind: the pointer answers almost every comparison.
        std::ptr::eq(self.0, other.0) || self.key() == other.key()
    }
}

impl Eq for Kind {}

impl std::hash::Hash for Kind {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

impl PartialOrd for Kind {
    fn partial_cmp(&self, other: &Kind) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Kind {
    fn cmp(&self, other: &Kind) -> std::cmp::Ordering {
        if std::ptr::eq(self.0, other.0) {
            return std::cmp::Ordering::Equal;
        }
        self.key().cmp(&other.key())
    }
}

impl fmt::Debug for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.name)
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Kind, D::Error> {
        let name = String::deserialize(d)?;
        Kind::named(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown resource kind `{name}`")))
    }
}

#[derive(Debug, Clone)]
pub struct Reference {
    pub attribute: &'static str,
    pub kinds: &'static [Kind],
    pub id: String,
}

impl Reference {
    /// Every address the reference may point at, one per kind it allows.
    pub fn addresses(&self) -> impl Iterator<Item = Address> + '_ {
        self.kinds.iter().map(|k| Address {
            kind: *k,
            id: self.id.clone(),
        })
    }
}

/// A resource's attributes: a few named values, sorted by name. Far smaller than a
/// general map for the handful of attributes a resource has (it matters at 50,000
/// resources).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Attrs(Vec<(&'static str, Value)>);

impl Attrs {
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| *k == name).map(|(_, v)| v)
    }

    pub fn contains_key(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn insert(&mut self, name: &'static str, value: Value) {
        match self.0.binary_search_by(|(k, _)| k.cmp(&name)) {
            Ok(i) => self.0[i].1 = value,
            Err(i) => self.0.insert(i, (name, value)),
        }
    }

    pub fn remove(&mut self, name: &str) -> Option<Value> {
        let i = self.0.iter().position(|(k, _)| *k == name)?;
        Some(self.0.remove(i).1)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &Value)> {
        self.0.iter().map(|(k, v)| (*k, v))
    }

    pub fn to_json(&self) -> Value {
        Value::Object(
            self.iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    pub fn str(&self, name: &str) -> &str {
        self.get(name).and_then(Value::as_str).unwrap_or_default()
    }
}

/// `kind[id]`: unique within one org.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Address {
    pub kind: Kind,
    pub id: String,
}

impl Address {
    /// Parses `kind[id]`, as plans and reports show addresses.
    pub fn parse(text: &str) -> Result<Address, String> {
        let (kind, rest) = text
            .split_once('[')
            .filter(|(_, rest)| rest.ends_with(']'))
            .ok_or_else(|| {
                format!("`{text}` is not a resource address like google_user[ann@example.org]")
            })?;
        let kind = Kind::named(kind).ok_or_else(|| format!("`{kind}` is not a resource kind"))?;
        let id = &rest[..rest.len() - 1];
        if id.is_empty() {
            return Err(format!("`{text}` has an empty id"));
        }
        Ok(Address {
            kind,
            id: id.to_string(),
        })
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]", self.kind, self.id)
    }
}

/// A resource as a module renders it, before Steward checks it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rendered {
    pub kind: String,
    /// Dotted path of the input this resource comes from, relative to the module's inputs.
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub attributes: Map<String, Value>,
}

/// A desired resource of one org.
#[derive(Debug, Clone)]
pub struct Resource {
    pub address: Address,
    pub module: String,
    pub attrs: Attrs,
    /// Secret attributes by name, each the name of the secret it comes from.
    pub secrets: BTreeMap<String, String>,
    /// Dotted path in the org file this resource comes from, for diagnostics and plans.
    pub source: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("unknown resource kind `{0}`")]
    UnknownKind(String),
    #[error("{kind} has no attribute `{attr}`")]
    UnknownAttribute { kind: Kind, attr: String },
    #[error("{kind} needs attribute `{attr}`")]
    MissingAttribute { kind: Kind, attr: &'static str },
    #[error("{kind} attribute `{attr}` must be text")]
    NotText { kind: Kind, attr: String },
}

impl Resource {
    pub fn from_rendered(
        module: &str,
        source_prefix: &str,
        r: Rendered,
    ) -> Result<Resource, RenderError> {
        let kind = Kind::named(&r.kind).ok_or_else(|| RenderError::UnknownKind(r.kind.clone()))?;
        let mut attrs = Attrs::default();
        let mut secret_attrs = BTreeMap::new();
        for (name, value) in r.attributes {
            if kind.spec().secret_attributes.contains(&name.as_str()) {
                match value {
                    Value::Null => {}
                    Value::String(s) => {
                        let secret = crate::secrets::reference(&s).unwrap_or(&s).to_string();
                        secret_attrs.insert(name, secret);
                    }
                    _ => return Err(RenderError::NotText { kind, attr: name }),
                }
                continue;
            }
            let Some(key) = kind
                .spec()
                .attributes
                .iter()
                .find(|(a, _)| *a == name)
                .map(|(a, _)| *a)
            else {
                return Err(RenderError::UnknownAttribute { kind, attr: name });
            };
            if !value.is_null() {
                attrs.insert(key, value);
            }
        }
        for (attr, required) in kind.spec().attributes {
            if *required && !attrs.contains_key(attr) {
                return Err(RenderError::MissingAttribute { kind, attr });
            }
        }
        // Kept for the whole run, tens of thousands of them in a large org: no slack.
        attrs.0.shrink_to_fit();
        let id = kind.id_of(&attrs);
        let source = crate::schema::join(source_prefix, &r.source);
        Ok(Resource {
            address: Address { kind, id },
            module: module.to_string(),
            attrs,
            secrets: secret_attrs,
            source,
        })
    }
}
