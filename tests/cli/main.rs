//! Integration tests: the real `steward` binary against the lab emulator, in one test
//! binary so it links once.

mod support;

mod accounts;

mod backups;
mod bare;
mod baseline;
mod changes;
mod ci_workflows;
mod commands;
mod contract;
mod drift;
mod email;
mod fuzz;
mod google_safety;
mod hostile;
mod hosts;
mod import;
mod layout;
mod newcomer;
mod people;
mod plan_apply;
mod schedules;
mod sudo;
mod unifi;
mod unifi_lab;
mod validate;
mod wifi;
