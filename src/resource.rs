//! The fixed set of typed resource kinds that modules render into.
//!
//! Modules are data, but what a resource *is* — its identity, its managed attributes and
//! what it refers to — is decided here, in Rust, so a template cannot invent an operation.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    GoogleOrgUnit,
    GoogleUser,
    GoogleGroup,
    GoogleMember,
    /// A file on a host: content, mode, owner and group.
    File,
    /// A Debian package installed on a host.
    AptPackage,
    /// A CUPS print queue on a print server.
    CupsQueue,
    /// A systemd unit: enabled, active, restarted when a file it depends on changes.
    SystemdUnit,
    /// A restic repository a host backs up to, initialised if missing.
    ResticRepository,
    /// A backup job's health: its latest snapshot. Read, never changed: the job itself
    /// is the service and timer its module writes.
    ResticJob,
    /// A hostapd configuration file, checked by hostapd before it replaces the old one.
    HostapdConfig,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::GoogleOrgUnit => "google_org_unit",
            Kind::GoogleUser => "google_user",
            Kind::GoogleGroup => "google_group",
            Kind::GoogleMember => "google_member",
            Kind::File => "file",
            Kind::AptPackage => "apt_package",
            Kind::CupsQueue => "cups_queue",
            Kind::SystemdUnit => "systemd_unit",
            Kind::ResticRepository => "restic_repository",
            Kind::ResticJob => "restic_job",
            Kind::HostapdConfig => "hostapd_config",
        }
    }

    /// What one is called in messages to people.
    pub fn noun(self) -> &'static str {
        match self {
            Kind::GoogleOrgUnit => "org unit",
            Kind::GoogleUser => "user",
            Kind::GoogleGroup => "group",
            Kind::GoogleMember => "group member",
            Kind::File => "file",
            Kind::AptPackage => "package",
            Kind::CupsQueue => "print queue",
            Kind::SystemdUnit => "service",
            Kind::ResticRepository => "backup repository",
            Kind::ResticJob => "backup",
            Kind::HostapdConfig => "Wi-Fi configuration",
        }
    }

    pub fn provider(self) -> ProviderKind {
        match self {
            Kind::GoogleOrgUnit | Kind::GoogleUser | Kind::GoogleGroup | Kind::GoogleMember => {
                ProviderKind::Google
            }
            Kind::File
            | Kind::AptPackage
            | Kind::CupsQueue
            | Kind::SystemdUnit
            | Kind::ResticRepository
            | Kind::ResticJob
            | Kind::HostapdConfig => ProviderKind::Ssh,
        }
    }

    /// Two modules may both declare the same resource with the same attributes (a
    /// package several modules need): it is then one resource.
    pub fn merges_identical(self) -> bool {
        matches!(self, Kind::AptPackage)
    }

    /// What to do about two declarations of one resource of this kind, where the
    /// usual cause is not obvious from the message.
    pub fn duplicate_help(self) -> Option<&'static str> {
        match self {
            Kind::ResticRepository => Some(
                "two backup jobs of one host use this repository (each job declares it, with its own password file): put both jobs' paths in one job, or give each job a repository of its own",
            ),
            _ => None,
        }
    }

    /// Kinds Steward only reads: plans never change them, their facts feed health.
    pub fn observed_only(self) -> bool {
        matches!(self, Kind::ResticJob)
    }

    /// Kinds whose `content` is a whole file (secrets in it are redacted, changes shown
    /// as a diff).
    pub fn has_file_content(self) -> bool {
        matches!(self, Kind::File | Kind::HostapdConfig)
    }

    /// Attributes a resource of this kind may have, and whether each is required.
    fn attributes(self) -> &'static [(&'static str, bool)] {
        match self {
            Kind::GoogleOrgUnit => &[("path", true), ("description", false)],
            // `name`, or `given_name` and `family_name`: the provider's validation
            // says which is missing.
            Kind::GoogleUser => &[
                ("email", true),
                ("name", false),
                ("given_name", false),
                ("family_name", false),
                ("org_unit", true),
            ],
            Kind::GoogleGroup => &[("email", true), ("name", true), ("description", false)],
            Kind::GoogleMember => &[("group", true), ("email", true), ("role", false)],
            Kind::File => &[
                ("host", true),
                ("path", true),
                ("content", true),
                ("mode", false),
                ("owner", false),
                ("group", false),
            ],
            Kind::AptPackage => &[("host", true), ("name", true)],
            Kind::CupsQueue => &[
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
            Kind::SystemdUnit => &[
                ("host", true),
                ("name", true),
                ("enabled", false),
                ("active", false),
                ("restart_on", false),
            ],
            Kind::ResticRepository => &[
                ("host", true),
                ("repository", true),
                ("password_file", true),
            ],
            Kind::ResticJob => &[
                ("host", true),
                ("name", true),
                ("repository", true),
                ("password_file", true),
                ("stale_after", true),
                ("unit", false),
            ],
            Kind::HostapdConfig => &[("host", true), ("path", true), ("content", true)],
        }
    }

    /// Attributes that may be given as `secret:NAME`.
    fn secret_attributes(self) -> &'static [&'static str] {
        match self {
            Kind::GoogleUser => &["password"],
            _ => &[],
        }
    }

    /// The id of a resource is derived from its attributes, so two modules cannot name
    /// one object differently.
    pub fn id_of(self, attrs: &Attrs) -> String {
        let s = |k: &str| attrs.str(k);
        match self {
            Kind::GoogleOrgUnit => s("path").to_string(),
            Kind::GoogleUser | Kind::GoogleGroup => s("email").to_ascii_lowercase(),
            Kind::GoogleMember => format!(
                "{}/{}",
                s("group").to_ascii_lowercase(),
                s("email").to_ascii_lowercase()
            ),
            Kind::File | Kind::HostapdConfig => format!("{}:{}", s("host"), s("path")),
            Kind::AptPackage | Kind::CupsQueue | Kind::SystemdUnit | Kind::ResticJob => {
                format!("{}:{}", s("host"), s("name"))
            }
            Kind::ResticRepository => format!("{}:{}", s("host"), s("repository")),
        }
    }

    /// Whether a desired and a live value of an attribute are the same: Google
    /// addresses ignore case, so `Priya.N@…` in a file is `priya.n@…` live.
    pub fn same_value(self, attr: &str, want: &Value, live: Option<&Value>) -> bool {
        match (want, live) {
            (Value::String(a), Some(Value::String(b)))
                if self.provider() == ProviderKind::Google && matches!(attr, "email" | "group") =>
            {
                a.eq_ignore_ascii_case(b)
            }
            (a, b) => Some(a) == b,
        }
    }

    /// Where on a host a file of this kind may be. Steward's files live in places of
    /// its own, so no module can make a plan read (and show) any other file.
    pub fn path_rule(self, path: &str) -> Result<(), &'static str> {
        let clean = path.starts_with('/') && !path.split('/').any(|seg| seg == ".." || seg == ".");
        let allowed = match self {
            Kind::File => {
                path.starts_with("/etc/steward/")
                    || path
                        .strip_prefix("/etc/systemd/system/steward-")
                        .is_some_and(|rest| !rest.contains('/'))
            }
            Kind::HostapdConfig => path.starts_with("/etc/hostapd/"),
            _ => true,
        };
        if clean && allowed {
            Ok(())
        } else {
            Err(match self {
                Kind::HostapdConfig => "a hostapd configuration lives under /etc/hostapd/",
                _ => {
                    "Steward's files live under /etc/steward/, and its units are /etc/systemd/system/steward-*"
                }
            })
        }
    }

    /// The host an on-site resource lives on.
    pub fn host_of(self, attrs: &Attrs) -> Option<&str> {
        (self.provider() == ProviderKind::Ssh).then(|| attrs.str("host"))
    }

    /// What this resource needs to exist first: (attribute, kinds it may be, id).
    pub fn references(self, attrs: &Attrs) -> Vec<Reference> {
        let s = |k: &str| attrs.str(k).to_string();
        // The Debian package a kind needs on its host.
        let package = |name: &str| Reference {
            attribute: "host",
            kinds: &[Kind::AptPackage],
            id: format!("{}:{name}", s("host")),
        };
        match self {
            Kind::GoogleOrgUnit => {
                let path = s("path");
                match path.rsplit_once('/') {
                    Some((parent, _)) if !parent.is_empty() => vec![Reference {
                        attribute: "path",
                        kinds: &[Kind::GoogleOrgUnit],
                        id: parent.to_string(),
                    }],
                    _ => Vec::new(),
                }
            }
            Kind::GoogleUser => {
                let ou = s("org_unit");
                if ou == "/" {
                    Vec::new()
                } else {
                    vec![Reference {
                        attribute: "org_unit",
                        kinds: &[Kind::GoogleOrgUnit],
                        id: ou,
                    }]
                }
            }
            Kind::GoogleGroup => Vec::new(),
            Kind::GoogleMember => vec![
                Reference {
                    attribute: "group",
                    kinds: &[Kind::GoogleGroup],
                    id: s("group").to_ascii_lowercase(),
                },
                Reference {
                    attribute: "email",
                    kinds: &[Kind::GoogleUser, Kind::GoogleGroup],
                    id: s("email").to_ascii_lowercase(),
                },
            ],
            Kind::File | Kind::AptPackage => Vec::new(),
            Kind::CupsQueue => vec![package("cups")],
            Kind::SystemdUnit => attrs
                .get("restart_on")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(|path| Reference {
                    attribute: "restart_on",
                    kinds: &[Kind::File, Kind::HostapdConfig],
                    id: format!("{}:{path}", s("host")),
                })
                .collect(),
            Kind::ResticRepository => vec![
                package("restic"),
                Reference {
                    attribute: "password_file",
                    kinds: &[Kind::File],
                    id: format!("{}:{}", s("host"), s("password_file")),
                },
            ],
            // A job names its repository by the same attributes (host, repository).
            Kind::ResticJob => vec![Reference {
                attribute: "repository",
                kinds: &[Kind::ResticRepository],
                id: Kind::ResticRepository.id_of(attrs),
            }],
            Kind::HostapdConfig => vec![package("hostapd")],
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    Google,
    Ssh,
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

/// Every attribute name any kind has: keys are these statics, so attribute maps
/// allocate no key strings.
const ATTRIBUTE_NAMES: &[&str] = &[
    "path",
    "description",
    "email",
    "name",
    "org_unit",
    "group",
    "role",
    "suspended",
    "suspension_reason",
    "managed_by",
    "given_name",
    "family_name",
    "aliases",
    "member_type",
    "host",
    "content",
    "mode",
    "owner",
    "uri",
    "location",
    "shared",
    "enabled",
    "accepting",
    "options",
    "driver",
    "active",
    "restart_on",
    "repository",
    "password_file",
    "stale_after",
    "unit",
    "locks",
    "latest_snapshot",
    "snapshots",
    "error",
];

pub fn attribute_name(name: &str) -> Option<&'static str> {
    ATTRIBUTE_NAMES.iter().copied().find(|n| *n == name)
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
        let kind: Kind = serde_json::from_value(Value::String(kind.to_string()))
            .map_err(|_| format!("`{kind}` is not a resource kind"))?;
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
        let kind: Kind = serde_json::from_value(Value::String(r.kind.clone()))
            .map_err(|_| RenderError::UnknownKind(r.kind.clone()))?;
        let mut attrs = Attrs::default();
        let mut secret_attrs = BTreeMap::new();
        for (name, value) in r.attributes {
            if kind.secret_attributes().contains(&name.as_str()) {
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
                .attributes()
                .iter()
                .find(|(a, _)| *a == name)
                .and_then(|(a, _)| attribute_name(a))
            else {
                return Err(RenderError::UnknownAttribute { kind, attr: name });
            };
            if !value.is_null() {
                attrs.insert(key, value);
            }
        }
        for (attr, required) in kind.attributes() {
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
