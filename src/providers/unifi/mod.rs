//! UniFi Network controllers: Wi-Fi broadcasts and VLAN networks, one site per member
//! org on the pool's controller (`unifi:` in steward.yaml). Every value sent is held to
//! the controller's own field definitions ([`fields`]).

pub mod client;
pub mod config;
pub mod fields;
pub mod kinds;
pub mod provider;

pub use provider::ENTRY;

/// The provider's name: in kinds, settings and sessions.
pub const NAME: &str = "unifi";
