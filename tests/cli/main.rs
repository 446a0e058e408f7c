//! Integration tests: the real `steward` binary against the lab emulator, in one test
//! binary so it links once.

mod support;

mod backups;
mod changes;
pub mod ci_workflows;
mod commands;
mod contract;
pub mod drift;
pub mod email;
mod fuzz;
mod google_safety;
mod hostile;
mod hosts;
mod layout;
mod plan_apply;
mod schedules;
mod sudo;
mod validate;
mod wifi;
