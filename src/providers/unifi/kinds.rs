//! The UniFi kinds: the org's site, its VLAN-only networks, its Wi-Fi broadcasts, and
//! the access points the controller reports (read only).

use crate::resource::{Address, Attrs, Kind, KindSpec, Reference};

use super::NAME;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum U {
    Site,
    Network,
    Wlan,
    Device,
}

impl U {
    pub fn of(kind: Kind) -> Option<U> {
        if kind.provider() != NAME {
            return None;
        }
        [U::Site, U::Network, U::Wlan, U::Device]
            .into_iter()
            .find(|u| u.kind() == kind)
    }

    pub fn kind(self) -> Kind {
        match self {
            U::Site => SITE,
            U::Network => NETWORK,
            U::Wlan => WLAN,
            U::Device => DEVICE,
        }
    }

    pub fn at(self, id: impl Into<String>) -> Address {
        Address {
            kind: self.kind(),
            id: id.into(),
        }
    }
}

pub const SITE: Kind = Kind::of(&SITE_SPEC);
pub const NETWORK: Kind = Kind::of(&NETWORK_SPEC);
pub const WLAN: Kind = Kind::of(&WLAN_SPEC);
pub const DEVICE: Kind = Kind::of(&DEVICE_SPEC);

pub static KINDS: [&KindSpec; 4] = [&SITE_SPEC, &NETWORK_SPEC, &WLAN_SPEC, &DEVICE_SPEC];

/// Everything of an org lives in the org's own site: `site` is the org id, which the
/// provider's check holds every resource to.
fn in_site(a: &Attrs) -> Reference {
    Reference {
        attribute: "site",
        kinds: &[SITE],
        id: a.str("site").to_string(),
    }
}

static SITE_SPEC: KindSpec = KindSpec {
    advice: &[(
        "ambiguous_site",
        "give all but one of those sites another description in the controller; Steward reads and changes nothing there meanwhile",
    )],
    ..KindSpec::new(
        "unifi_site",
        "UniFi site",
        NAME,
        0,
        &[("site", true)],
        |a| a.str("site").to_string(),
    )
};

static NETWORK_SPEC: KindSpec = KindSpec {
    references: |a| vec![in_site(a)],
    // Two Wi-Fi networks on one VLAN share its network.
    merges_identical: true,
    ..KindSpec::new(
        "unifi_network",
        "VLAN network",
        NAME,
        1,
        &[("site", true), ("vlan", true)],
        |a| a.get("vlan").map(|v| v.to_string()).unwrap_or_default(),
    )
};

static WLAN_SPEC: KindSpec = KindSpec {
    secret_attributes: &["passphrase"],
    references: |a| {
        let mut r = vec![in_site(a)];
        if let Some(vlan) = a.get("vlan").filter(|v| !v.is_null()) {
            r.push(Reference {
                attribute: "vlan",
                kinds: &[NETWORK],
                id: vlan.to_string(),
            });
        }
        r
    },
    unlisted: Some(|ssid| {
        format!("Wi-Fi network `{ssid}` is on the org's UniFi site but not in the org file")
    }),
    ..KindSpec::new(
        "unifi_wlan",
        "Wi-Fi network",
        NAME,
        2,
        &[
            ("site", true),
            ("ssid", true),
            ("security", true),
            ("guest", false),
            ("hidden", false),
            ("band", false),
            ("vlan", false),
        ],
        |a| a.str("ssid").to_string(),
    )
};

static DEVICE_SPEC: KindSpec = KindSpec {
    observed_only: true,
    advice: &[
        (
            "ap_offline",
            "check the access point's power and cable (PoE) on site; the controller lists it again when it is back",
        ),
        (
            "ap_pending_adoption",
            "adopt it in the controller (Devices), or remove it if it is not the org's",
        ),
        (
            "ap_firmware",
            "update its firmware from the controller (Devices → Update) at a quiet time",
        ),
        (
            "ap_state",
            "look at the access point in the controller; it should settle to online by itself",
        ),
    ],
    ..KindSpec::new(
        "unifi_device",
        "access point",
        NAME,
        3,
        &[("mac", true)],
        |a| a.str("mac").to_string(),
    )
};
