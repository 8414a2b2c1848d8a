//! The integration tests, one binary: the built `customcd` driven against real HTTP servers on
//! loopback and real git repositories in temporary directories. `support` holds the harness; each
//! other module is one area of the product, its tests named as sentences.

mod support;

mod at_least_once;
mod backfill;
mod bulk;
mod change_set;
mod ci;
mod delivery;
mod docs;
mod fuzz_regressions;
mod layers;
mod one_step;
mod platform;
mod properties;
mod report;
mod secrets;
mod settings;
mod setup_action;
mod squash;
