//! The Google Workspace kinds: org units, users, groups and memberships.

use crate::resource::{Address, Attrs, Kind, KindSpec, Reference};

use super::NAME;

/// The four kinds, for matching inside the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum G {
    OrgUnit,
    User,
    Group,
    Member,
    /// A step of a person's leaving (signed out, tokens revoked, app passwords gone):
    /// no file declares one; people's review plans them.
    Offboarding,
}

impl G {
    /// Which of the provider's kinds `kind` is, if it is one.
    pub fn of(kind: Kind) -> Option<G> {
        if kind.provider() != NAME {
            return None;
        }
        [G::OrgUnit, G::User, G::Group, G::Member, G::Offboarding]
            .into_iter()
            .find(|g| g.kind() == kind)
    }

    pub fn kind(self) -> Kind {
        match self {
            G::OrgUnit => ORG_UNIT,
            G::User => USER,
            G::Group => GROUP,
            G::Member => MEMBER,
            G::Offboarding => OFFBOARDING,
        }
    }

    /// An address of this kind.
    pub fn at(self, id: impl Into<String>) -> Address {
        Address {
            kind: self.kind(),
            id: id.into(),
        }
    }
}

pub const ORG_UNIT: Kind = Kind::of(&ORG_UNIT_SPEC);
pub const USER: Kind = Kind::of(&USER_SPEC);
pub const GROUP: Kind = Kind::of(&GROUP_SPEC);
pub const MEMBER: Kind = Kind::of(&MEMBER_SPEC);
pub const OFFBOARDING: Kind = Kind::of(&OFFBOARDING_SPEC);

/// Every kind, in the order plans list them.
pub static KINDS: [&KindSpec; 5] = [
    &ORG_UNIT_SPEC,
    &USER_SPEC,
    &GROUP_SPEC,
    &MEMBER_SPEC,
    &OFFBOARDING_SPEC,
];

const TAKEN: (&str, &str) = (
    "address_taken",
    "free the address in the Admin console or change it in the org file; Steward writes nothing for it meanwhile",
);

/// Addresses compare without case in Google, so a file's `Priya.N@…` is `priya.n@…`.
const ADDRESSES: &[&str] = &["email", "group"];

static ORG_UNIT_SPEC: KindSpec = KindSpec {
    references: |a| {
        let path = a.str("path");
        match path.rsplit_once('/') {
            Some((parent, _)) if !parent.is_empty() => vec![Reference {
                attribute: "path",
                kinds: &[ORG_UNIT],
                id: parent.to_string(),
            }],
            _ => Vec::new(),
        }
    },
    case_insensitive: ADDRESSES,
    ..KindSpec::new(
        "google_org_unit",
        "org unit",
        NAME,
        0,
        &[("path", true), ("description", false)],
        |a| a.str("path").to_string(),
    )
};

static USER_SPEC: KindSpec = KindSpec {
    secret_attributes: &["password"],
    references: |a| match a.str("org_unit") {
        "/" => Vec::new(),
        ou => vec![Reference {
            attribute: "org_unit",
            kinds: &[ORG_UNIT],
            id: ou.to_string(),
        }],
    },
    case_insensitive: ADDRESSES,
    generated_on_create: &["password"],
    advice: &[
        TAKEN,
        (
            "suspended_by_google",
            "review the account in the Admin console; Steward leaves it suspended until Google lifts it",
        ),
    ],
    ..KindSpec::new(
        "google_user",
        "user",
        NAME,
        1,
        // `name`, or `given_name` and `family_name`: the provider's validation says
        // which is missing.
        &[
            ("email", true),
            ("name", false),
            ("given_name", false),
            ("family_name", false),
            ("org_unit", true),
            ("suspended", false),
            ("aliases", false),
            ("status", false),
            ("start", false),
            ("until", false),
            ("departed", false),
            ("offboarding", false),
            ("role", false),
        ],
        address_id,
    )
};

static GROUP_SPEC: KindSpec = KindSpec {
    case_insensitive: ADDRESSES,
    advice: &[TAKEN],
    ..KindSpec::new(
        "google_group",
        "group",
        NAME,
        2,
        &[
            ("email", true),
            ("name", true),
            ("description", false),
            ("aliases", false),
        ],
        address_id,
    )
};

static MEMBER_SPEC: KindSpec = KindSpec {
    references: |a| {
        let mut r = vec![Reference {
            attribute: "group",
            kinds: &[GROUP],
            id: a.str("group").to_ascii_lowercase(),
        }];
        // An external member is by definition not declared in the file.
        if a.get("external") != Some(&serde_json::Value::Bool(true)) {
            r.push(Reference {
                attribute: "email",
                kinds: &[USER, GROUP],
                id: a.str("email").to_ascii_lowercase(),
            });
        }
        r
    },
    case_insensitive: ADDRESSES,
    advice: &[TAKEN],
    // A membership goes before its group and its member.
    deleted_before: Some(|id| {
        let (group, email) = id.split_once('/').unwrap_or_default();
        vec![G::Group.at(group), G::User.at(email), G::Group.at(email)]
    }),
    unlisted: Some(|id| {
        let (group, member) = id.split_once('/').unwrap_or((id, ""));
        format!("{member} is a member of group {group}, which the org file does not list")
    }),
    ..KindSpec::new(
        "google_member",
        "group member",
        NAME,
        3,
        &[
            ("group", true),
            ("email", true),
            ("role", false),
            ("external", false),
        ],
        |a| {
            format!(
                "{}/{}",
                a.str("group").to_ascii_lowercase(),
                a.str("email").to_ascii_lowercase()
            )
        },
    )
};

static OFFBOARDING_SPEC: KindSpec = KindSpec::new(
    "google_offboarding",
    "leaving step",
    NAME,
    4,
    &[("user", true), ("step", true)],
    |a| format!("{}/{}", a.str("user"), a.str("step")),
);

fn address_id(a: &Attrs) -> String {
    a.str("email").to_ascii_lowercase()
}
