//! The commands, one file each: each starts from the resolved settings, does its work, and says
//! what happened through `output`.

pub mod backfill;
pub mod post;
pub mod report;
pub mod send;
pub mod start;
