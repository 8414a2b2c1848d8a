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
pub mod output;
pub mod records;
pub mod remote;
pub mod report;
pub mod secret;
pub mod send;
pub mod settings;
pub mod source;
pub mod spool;
pub mod start;
pub mod status;
pub mod transport;
pub mod values;

use anyhow::Context;

use crate::cli::{Cli, Command};
use crate::config::Flags;
use crate::env::Env;
use crate::error::Error;
use crate::settings::{Command as Kind, Settings};

/// Runs one command with the given environment. Every command starts from the one resolved
/// [`Settings`] value.
pub fn run(cli: Cli, env: &Env) -> Result<(), Error> {
    let cwd = std::env::current_dir().context("reading the working directory")?;
    let now = epoch::now();
    let (kind, flags) = match &cli.command {
        Command::Report(args) => (Kind::Report, args.flags()),
        Command::Env(args) => (Kind::Env, args.flags()),
        Command::Send(args) => (Kind::Send, args.flags()),
        Command::Backfill(args) => (Kind::Backfill { send: args.send }, args.flags()),
        Command::Start => (Kind::Start, Flags::default()),
    };
    let settings = Settings::resolve(kind, flags, env, cwd.clone(), now)?;
    match cli.command {
        Command::Report(_) => report::run(settings, env, now),
        Command::Env(_) => report::show_env(settings, now),
        Command::Send(args) => send::run(&args, settings, cwd),
        Command::Backfill(args) => backfill::run(&args, settings, cwd),
        Command::Start => {
            settings.announce();
            Ok(start::run(env, now)?)
        }
    }
}
