//! Integration tests: the real `steward` binary against the lab emulator, in one test
//! binary so it links once.

mod support;

mod changes;
mod ci_workflows;
mod commands;
mod contract;
mod drift;
mod email;
mod plan_apply;
mod validate;
