//! The command line: subcommands and flags, parsed by clap. Values stay raw strings here; they are
//! validated once, with every other source, by `settings`, where a message can name their source.

use clap::{Args, Parser, Subcommand};

use crate::bulk::records::Format;
use crate::settings::sources::Flags;
use crate::vocab::names::{BulkValues, ConnectionValues, JobValues, Values, BACKFILL_KEYS};

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
    #[command(flatten)]
    pub job: BackfillValues,
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
        Flags {
            values: Values { job: self.job.0.clone(), connection: self.connection.clone(), bulk: self.bulk.clone() },
            ..Flags::default()
        }
    }
}

/// The job settings `backfill` takes ([`BACKFILL_KEYS`]), with the flags and help the settings
/// table declares for them, so they are declared once, there.
#[derive(Clone, Default)]
pub struct BackfillValues(JobValues);

impl clap::FromArgMatches for BackfillValues {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        let mut job = JobValues::default();
        for key in BACKFILL_KEYS {
            job.set(*key, matches.get_one::<String>(key.name()).cloned());
        }
        Ok(BackfillValues(job))
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl Args for BackfillValues {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        // The table's flags for every job setting, without display positions of their own, so
        // that the chosen ones list where `backfill` flattens them.
        let table = JobValues::augment_args(clap::Command::new("table").next_display_order(None));
        let chosen = BACKFILL_KEYS.iter().filter_map(|k| table.get_arguments().find(|a| a.get_id() == k.name()));
        cmd.args(chosen.cloned().collect::<Vec<_>>())
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
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
    fn backfill_takes_the_tables_flags_for_what_applies_to_every_tag_and_no_other() {
        let cli = Cli::try_parse_from([
            "customcd",
            "backfill",
            "--from-git-tags",
            "v*",
            "--service-id",
            "3",
            "--job-type",
            "Deploy",
            "--repo-name",
            "acme/app",
            "--repo-id",
            "9",
            "--repo",
            "/src",
        ])
        .expect("parses");
        let Command::Backfill(args) = cli.command else { panic!("backfill was parsed") };
        let job = args.flags().values.job;
        let got = [job.service_id, job.job_type, job.repo_name, job.repo_id, job.repo];
        assert_eq!(got.map(|v| v.unwrap_or_default()), ["3", "Deploy", "acme/app", "9", "/src"]);
        // The table's help, not a second wording of it.
        let help = Cli::try_parse_from(["customcd", "backfill", "--help"]).err().map(|e| e.to_string());
        assert!(help.as_deref().is_some_and(|h| h.contains("ID of the Custom CD service in Allstacks")), "{help:?}");
        // A commit or start is each tag's own: those flags are not backfill's.
        for flag in ["--commit-sha", "--job-start-time", "--status"] {
            let parsed = Cli::try_parse_from(["customcd", "backfill", "--from-git-tags", "v*", flag, "x"]);
            assert!(parsed.is_err(), "{flag} is refused");
        }
    }

    #[test]
    fn boolean_flags_need_no_value() {
        let cli = Cli::try_parse_from(["customcd", "report", "--dry-run", "--status", "ok"]).expect("parses");
        let Command::Report(args) = cli.command else { panic!("report was parsed") };
        assert_eq!(args.connection.dry_run.as_deref(), Some("true"));
        assert_eq!(args.job.status.as_deref(), Some("ok"));
    }
}
