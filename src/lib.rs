//! customcd: report CI/CD jobs to the Allstacks Custom CD webhook.
//!
//! The binary's `main` only parses the command line and calls [`run`]; everything else lives in
//! modules with one job each.

// pub(crate) by default: the lint makes every item no outside user can reach say so. Outside
// users are the binary (main.rs), the integration and property tests (tests/) and the fuzz
// targets (fuzz/); a module is public only for them, and inside it an item is `pub` only when one
// of them uses it.
#![warn(unreachable_pub)]

pub mod bulk; // fuzz: the checkpoint and record readers
pub(crate) mod ci;
pub mod cli; // the binary parses the command line
pub(crate) mod cmd;
pub(crate) mod delivery;
pub mod env; // the binary reads the process environment once
pub mod error; // the binary's exit codes; the tests' problems
pub(crate) mod fs; // private files; every platform-specific call is behind it
pub mod git; // fuzz and tests: remote URLs and their redaction
pub mod job; // fuzz and property tests: payload resolution, times, optional fields, stored payloads
pub mod output; // the binary prints the error; tests read GitHub file commands back
pub(crate) mod records;
pub(crate) mod secret;
pub(crate) mod settings;
pub(crate) mod start_state;
pub mod vocab; // fuzz and property tests: the field table, setting names, sources

use crate::cli::{Cli, Command};
use crate::cmd::{backfill, post, report, send, start};
use crate::env::Env;
use crate::error::Error;
use crate::job::epoch;
use crate::settings::runner::Runner;
use crate::settings::sources::Flags;
use crate::settings::{Command as Kind, Resolved, Settings};

/// Runs one command with the given environment. Every command starts from the one resolved
/// [`Settings`] value.
pub fn run(cli: Cli, env: &Env) -> Result<(), Error> {
    // Documentation of the command line itself: no job, no settings.
    match &cli.command {
        Command::Completions { shell } => return cli::write_completions(*shell, &mut std::io::stdout().lock()),
        Command::Man { command } => return cli::write_man_page(command.as_deref(), &mut std::io::stdout().lock()),
        _ => {}
    }
    // The action's post stage runs in every job that uses the action; unless this step deferred
    // its report, it has nothing to do and must not fail on settings it will not use.
    let deferred = match cli.command {
        Command::Post => match post::pending(&Runner::read(env)) {
            post::Pending::Mine(job_id) => Some(job_id),
            post::Pending::Nothing { ignored } => {
                post::nothing_pending(ignored);
                return Ok(());
            }
        },
        _ => None,
    };
    // A working directory that was removed matters only where it is needed (git discovery when
    // no commit and repository were given, a relative path): those say so themselves. With every
    // field given, the job is sent or kept as usual.
    let cwd = std::env::current_dir().unwrap_or_else(|_| std::path::PathBuf::from("."));
    let now = epoch::now();
    let (kind, flags) = match &cli.command {
        Command::Report(args) => (Kind::Report, args.flags()),
        Command::Env(args) => (Kind::Env, args.flags()),
        Command::Send(args) => (Kind::Send, args.flags()),
        Command::Backfill(args) => (Kind::Backfill { send: args.send }, args.flags()),
        Command::Start => (Kind::Start, Flags::default()),
        // Everything comes from the environment the runner gives the post stage, as for the main
        // stage: inputs, CUSTOMCD_* variables (the start among them) and STATE_*.
        Command::Post => (Kind::Report, Flags::default()),
        Command::Completions { .. } | Command::Man { .. } => return Ok(()),
    };
    let Resolved { settings, problems } = Settings::resolve(kind, flags, env, cwd.clone(), now)?;
    // Output follows the CI system from the first line on, and the token is masked in the GitHub
    // log before any line that could hold it.
    output::set_github(settings.github());
    if let Some(token) = settings.token_to_mask() {
        output::github::mask(token);
    }
    if !problems.is_empty() {
        // A misspelled variable is often why a setting is missing: say so beside the problems.
        settings.announce();
        return Err(Error::Invalid(problems));
    }
    match cli.command {
        Command::Report(_) => report::run(settings, now),
        Command::Env(_) => report::show_env(settings, now),
        Command::Send(args) => send::run(&args, settings, cwd),
        Command::Backfill(args) => backfill::run(&args, settings),
        Command::Start => Ok(start::run(&settings, now)?),
        // Deferred by this step's main stage: deliver, whatever report_at says now.
        Command::Post => match deferred {
            Some(job_id) => report::deliver_at_job_end(settings, now, job_id),
            None => Err(Error::Internal(anyhow::anyhow!("the post stage ran without a pending report"))),
        },
        Command::Completions { .. } | Command::Man { .. } => Ok(()),
    }
}
