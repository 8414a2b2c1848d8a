//! The commands, one file each: each starts from the resolved settings, does its work, and says
//! what happened through `output`.
//!
//! No command reads the process environment: what it needs is resolved into `Settings` (or a
//! value it owns, such as `settings::runner::Runner`), with its source.
//!
//! Layer: commands (see tests/integration/layers.rs). May import: vocab, fs, secret, git, error,
//! output, job, ci, settings, delivery, records, bulk, cli.

pub(crate) mod backfill;
pub(crate) mod post;
pub(crate) mod report;
pub(crate) mod send;
pub(crate) mod start;
