//! UniFi Network controllers: Wi-Fi broadcasts and networks, one site per member org.
//!
//! Being built (issue: Wi-Fi on a UniFi controller). What is here so far: the
//! controller's own field definitions and the checker that holds every value Steward
//! sends, and every value the lab accepts, to them. The provider is not in the registry
//! yet.

pub mod fields;
