//! customcd: report CI/CD jobs to the Allstacks Custom CD webhook.
//!
//! The binary's `main` only parses the command line and calls [`run`]; everything else lives in
//! modules with one job each.

pub mod backfill;
pub mod bulk;
pub mod checkpoint;
pub mod ci;
pub mod cli;
pub mod config;
pub mod delivery;
pub mod endpoint;
pub mod env;
pub mod epoch;
pub mod error;
pub mod git;
pub mod github_io;
pub mod http;
pub mod job;
pub mod json_diag;
pub mod optional;
pub mod outbox;
pub mod output;
pub mod records;
pub mod remote;
pub mod report;
pub mod secret;
pub mod send;
pub mod source;
pub mod spool;
pub mod start;
pub mod status;
pub mod transport;
pub mod values;

use anyhow::Context;

use crate::cli::{Cli, Command};
use crate::env::Env;
use crate::error::Error;

/// Runs one command with the given environment.
pub fn run(cli: Cli, env: &Env) -> Result<(), Error> {
    let cwd = std::env::current_dir().context("reading the working directory")?;
    match cli.command {
        Command::Report(args) => report::run(&args, env, cwd, epoch::now()),
        Command::Env(args) => report::show_env(&args, env, cwd, epoch::now()),
        Command::Send(args) => send::run(&args, env, cwd),
        Command::Backfill(args) => backfill::run(&args, env, cwd),
        Command::Start => Ok(start::run(env, epoch::now())?),
    }
}
