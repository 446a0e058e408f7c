//! The lab: what lets Steward run end to end with no accounts. One emulator per
//! SaaS provider that cannot be reached from a test machine, each in a folder of its
//! own and each built by the vendor's published contract (`../shared/contracts/`).

pub mod google;
