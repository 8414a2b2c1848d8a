//! The command line: subcommands and flags, parsed by clap. Values stay raw strings here; they are
//! validated once, with every other source, by `settings`, where a message can name their source.

use clap::{Args, Parser, Subcommand};

use crate::bulk::records::Format;
use crate::settings::sources::Flags;
use crate::vocab::names::{BulkValues, ConnectionValues, JobValues, Values};

const AFTER_HELP: &str = "\
Every flag --some-name can also be set as the variable CUSTOMCD_SOME_NAME (flags win; empty values
count as unset). The token is read from CUSTOMCD_TOKEN or --token-file.

Exit codes: 0 sent (or dry run valid), 1 internal error, 2 invalid input or configuration (nothing
sent), 3 the server refused the job (4xx), 4 delivery failed (network, timeout, 5xx), 130
interrupted (report keeps the job in the spool; send and backfill --send resume when run again).";

/// Report CI/CD jobs (deployments above all) to the Allstacks Custom CD webhook.
#[derive(Parser)]
#[command(name = "customcd", version, about, propagate_version = true, args_override_self = true, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Validate one job and post it to the Custom CD webhook (or print it with --dry-run)
    #[command(after_help = AFTER_HELP)]
    Report(ReportArgs),
    /// Send jobs from payload files (as spooled), JSON Lines or CSV, or stdin (-); resumable
    #[command(after_help = AFTER_HELP)]
    Send(SendArgs),
    /// Past deployments from git tags: print one job per matching tag as JSON Lines, or --send them
    Backfill(BackfillArgs),
    /// Record the job's start (for CI systems that do not expose it), for a later `report`
    Start,
    /// Show the detected CI system and every field with its source; needs no token, sends nothing
    Env(ReportArgs),
    /// The GitHub Action's post stage: report the job if this step's `report --report-at job-end` deferred it
    Post,
}

#[derive(Args, Clone)]
pub struct ReportArgs {
    #[command(flatten)]
    pub job: JobValues,
    #[command(flatten)]
    pub connection: ConnectionValues,
    /// An optional field, repeatable; repeating a key makes a list. TYPE is string (default),
    /// integer, float, duration (seconds) or timestamp (epoch seconds or RFC 3339)
    #[arg(long = "field", visible_alias = "fields", value_name = "KEY[:TYPE]=VALUE")]
    pub field: Vec<String>,
    /// Do not add CI context (ci_system, run_url, branch) as optional fields
    #[arg(long)]
    pub no_ci_fields: bool,
}

#[derive(Args, Clone)]
pub struct SendArgs {
    /// Payload files (.json: one payload or an array; .jsonl; .csv), directories of them, or - for
    /// standard input [default: the spool directory]
    #[arg(value_name = "PATH")]
    pub paths: Vec<String>,
    /// The format of the inputs [default: from the extension; JSON Lines for standard input]
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    #[command(flatten)]
    pub bulk: BulkValues,
    /// Where invalid records are written with their reasons (JSON Lines) [default: ./customcd-rejects.jsonl]
    #[arg(long, value_name = "PATH")]
    pub rejects: Option<std::path::PathBuf>,
    /// The acknowledgement ledger: jobs it holds (same endpoint, service and job_id) are not
    /// sent again [default: SPOOL_DIR/.customcd-acknowledged]
    #[arg(long, value_name = "PATH")]
    pub checkpoint: Option<std::path::PathBuf>,
    /// Send jobs the server acknowledged before again (each would count as another deploy)
    #[arg(long)]
    pub resend: bool,
    #[command(flatten)]
    pub connection: ConnectionValues,
}

#[derive(Args, Clone)]
pub struct BackfillArgs {
    /// A glob on tag names, e.g. 'v*' or 'release-*'
    #[arg(long, value_name = "PATTERN")]
    pub from_git_tags: String,
    /// The Custom CD service the jobs belong to [default: CUSTOMCD_SERVICE_ID]
    #[arg(long, value_name = "N")]
    pub service_id: Option<String>,
    /// The job type for every job, e.g. "Production Deploy" [default: CUSTOMCD_JOB_TYPE]
    #[arg(long, value_name = "TYPE")]
    pub job_type: Option<String>,
    /// Repository name [default: from the origin remote]
    #[arg(long, value_name = "NAME")]
    pub repo_name: Option<String>,
    /// Repository ID in Allstacks
    #[arg(long, value_name = "ID")]
    pub repo_id: Option<String>,
    /// The repository [default: found upward from the working directory]
    #[arg(long, value_name = "PATH")]
    pub repo: Option<String>,
    /// Send the jobs (resumable: rerunning continues where it stopped) instead of printing them
    #[arg(long)]
    pub send: bool,
    /// With --send: where the jobs are written before sending [default: ./customcd-backfill.jsonl]
    #[arg(long, value_name = "PATH")]
    pub out: Option<std::path::PathBuf>,
    /// With --send: send tags the server acknowledged before again (each would count as another
    /// deploy)
    #[arg(long)]
    pub resend: bool,
    #[command(flatten)]
    pub bulk: BulkValues,
    #[command(flatten)]
    pub connection: ConnectionValues,
}

impl ReportArgs {
    /// The flags, as `settings` reads them.
    pub fn flags(&self) -> Flags {
        Flags {
            values: Values { job: self.job.clone(), connection: self.connection.clone(), ..Values::default() },
            fields: self.field.clone(),
            no_ci_fields: self.no_ci_fields,
        }
    }
}

impl SendArgs {
    /// The flags, as `settings` reads them.
    pub fn flags(&self) -> Flags {
        Flags {
            values: Values { connection: self.connection.clone(), bulk: self.bulk.clone(), ..Values::default() },
            ..Flags::default()
        }
    }
}

impl BackfillArgs {
    /// The flags, as `settings` reads them: only what applies to every tag's job.
    pub fn flags(&self) -> Flags {
        let job = JobValues {
            service_id: self.service_id.clone(),
            job_type: self.job_type.clone(),
            repo_id: self.repo_id.clone(),
            repo_name: self.repo_name.clone(),
            repo: self.repo.clone(),
            ..JobValues::default()
        };
        Flags {
            values: Values { job, connection: self.connection.clone(), bulk: self.bulk.clone() },
            ..Flags::default()
        }
    }
}

/// Subcommands reachable through a link named `customcd-<subcommand>`.
const DISPATCHED: &[&str] = &["start", "report", "send", "post"];

/// The arguments with multi-call dispatch applied: run as `customcd-report` (a link in the
/// container image), the program behaves as `customcd report`, so an action's entrypoint can name
/// the subcommand without arguments of its own.
pub fn args_with_dispatch(args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let mut args = args;
    let invoked = args
        .first()
        .and_then(|a| std::path::Path::new(a).file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    // Only the names the image links: a release asset kept under its own name
    // (customcd-0.1.0-x86_64-unknown-linux-musl) must still behave as plain customcd.
    if let Some(sub) = invoked.strip_prefix("customcd-").filter(|s| DISPATCHED.contains(s)) {
        args.insert(1, sub.into());
        // Usage and help then read `customcd send`, not `customcd-send send`.
        args[0] = "customcd".into();
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn a_link_named_customcd_report_runs_report() {
        let args = args_with_dispatch(vec!["/customcd-report".into(), "--dry-run".into()]);
        assert_eq!(args, vec!["customcd", "report", "--dry-run"]);
        let args = args_with_dispatch(vec!["/usr/bin/customcd".into(), "report".into()]);
        assert_eq!(args, vec!["/usr/bin/customcd", "report"]);
        let args = args_with_dispatch(vec!["./customcd-0.1.0-x86_64-unknown-linux-musl".into(), "env".into()]);
        assert_eq!(args, vec!["./customcd-0.1.0-x86_64-unknown-linux-musl", "env"]);
    }

    #[test]
    fn help_through_a_link_names_the_command_once() {
        let args = args_with_dispatch(vec!["/customcd-send".into(), "--help".into()]);
        let Err(e) = Cli::try_parse_from(args) else { panic!("--help ends parsing") };
        let help = e.to_string();
        assert!(help.contains("Usage: customcd send"), "{help}");
        assert!(!help.contains("customcd-send send"), "{help}");
    }

    #[test]
    fn boolean_flags_need_no_value() {
        let cli = Cli::try_parse_from(["customcd", "report", "--dry-run", "--status", "ok"]).expect("parses");
        let Command::Report(args) = cli.command else { panic!("report was parsed") };
        assert_eq!(args.connection.dry_run.as_deref(), Some("true"));
        assert_eq!(args.job.status.as_deref(), Some("ok"));
    }
}
