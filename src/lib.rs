//! Steward: pooled nonprofit IT as code. Org files in git, modules as data, a planner
//! that diffs them against live systems, and an executor that applies the difference.
//!
//! Data flows one way: org file -> checked model ([`org`]) -> module rendering
//! ([`modules`]) -> resource graph ([`graph`]) -> refresh ([`providers`]) -> plan
//! ([`plan`]) -> apply ([`engine`]).

pub mod baseline;
pub mod changes;
pub mod cli;
pub mod diag;
pub mod drift;
pub mod engine;
pub mod graph;
pub mod import;
pub mod lab;
pub mod lock;
pub mod modules;
pub mod org;
pub mod plan;
pub mod pool;
pub mod providers;
pub mod resource;
pub mod scaffold;
pub mod schema;
pub mod secrets;
pub mod util;
pub mod yaml;
