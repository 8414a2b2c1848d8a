//! The command line: subcommands and flags, parsed by clap. Values stay raw strings here; they are
//! validated once, with every other source, by `settings`, where a message can name their source.

use std::ffi::OsString;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::bulk::records::Format;
use crate::error::Error;
use crate::settings::sources::Flags;
use crate::vocab::names::{
    help_of, BulkValues, ConnectionValues, Fallback, JobValues, Key, Values, BACKFILL_KEYS, HEADINGS,
};

/// What every command's help ends with.
const FOOTER: &str = "\
Every option --some-name is also the variable CUSTOMCD_SOME_NAME and, in the GitHub Action, the
input some_name (flags win; empty values count as unset). The token is read from CUSTOMCD_TOKEN or
--token-file. Reference: docs/settings.md; what can fail a job: docs/delivery.md.

Exit codes: 0 sent (or dry run valid; by default also an outage, with a warning and the job kept),
1 internal error, 2 invalid input or configuration (nothing sent), 3 the server refused the job
(4xx), 4 delivery failed (network, timeout, 5xx) with --fail-on-error=true, 130 interrupted.";

/// Examples, per command, shown above the footer.
const EXAMPLES: &[(&str, &str)] = &[
    (
        "report",
        "  # Check a job without sending it (needs no token): the body, and where each field came from
  customcd report --dry-run --service-id 42 --status success --job-start-time 2024-01-01T10:00:00Z
  # Outside CI: record the start in this shell, deploy, report
  eval \"$(customcd start)\"; ./deploy.sh && s=success || s=failure
  customcd report --status \"$s\" --job-type deploy --environment production
  # Optional fields: repeat a key for a list; TYPE is string, integer, float, duration, timestamp
  customcd report --status success --field team=payments --field lead_time:duration=20",
    ),
    (
        "send",
        "  customcd send                      # resend what the spool directory keeps
  customcd send jobs.csv             # a CSV export; rerunning resumes where it stopped
  ./export-jobs | customcd send -    # JSON Lines on standard input",
    ),
    (
        "backfill",
        "  customcd backfill --from-git-tags 'v*' --service-id 42 --job-type deploy          # review
  customcd backfill --from-git-tags 'v*' --service-id 42 --job-type deploy --send   # then send",
    ),
    (
        "start",
        "  eval \"$(customcd start)\"   # outside CI: sets CUSTOMCD_JOB_START_TIME in this shell
  customcd start             # in CI: recorded for this job's later report",
    ),
    ("env", "  customcd env                       # what was detected, and where each value comes from"),
    (
        "completions",
        "  customcd completions bash > ~/.local/share/bash-completion/completions/customcd
  customcd completions zsh > \"${fpath[1]}/_customcd\"
  customcd completions fish > ~/.config/fish/completions/customcd.fish
  customcd completions powershell >> $PROFILE",
    ),
    (
        "man",
        "  customcd man | man -l -            # read it now
  customcd man report > customcd-report.1",
    ),
];

/// The commands, as `customcd man COMMAND` accepts them (a test holds this to [`Command`]).
const COMMANDS: &[&str] = &["report", "send", "backfill", "start", "env", "post", "completions", "man"];

/// Report CI/CD jobs (deployments above all) to the Allstacks Custom CD webhook.
#[derive(Parser)]
#[command(name = "customcd", version, about, propagate_version = true, args_override_self = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Validate one job and post it to the Custom CD webhook (or print it with --dry-run)
    Report(ReportArgs),
    /// Send jobs from payload files (as spooled), JSON Lines or CSV, or stdin (-); resumable
    Send(SendArgs),
    /// Past deployments from git tags: print one job per matching tag as JSON Lines, or --send them
    Backfill(BackfillArgs),
    /// Record the job's start for a later `report`; outside CI: eval "$(customcd start)"
    Start,
    /// Show the detected CI system and every field with its source; needs no Allstacks token and sends no job (like report, it may read the platform's deployment records)
    Env(ReportArgs),
    /// The GitHub Action's post stage: report the job if this step's `report --report-at job-end` deferred it
    Post,
    /// Print a shell completion script: bash, zsh, fish, powershell (or elvish)
    Completions {
        /// The shell
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) of customcd, or of one command
    Man {
        /// The command whose page to print [default: customcd itself]
        #[arg(value_parser = COMMANDS.to_vec())]
        command: Option<String>,
    },
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
    /// Do not add CI context (ci_system, run_url, branch, ci_result) as optional fields
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
    /// Send kept jobs to this run's endpoint even when they were kept for another one (each spool
    /// file remembers the endpoint it was reported to)
    #[arg(long)]
    pub any_endpoint: bool,
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
    /// With --send: where the jobs are written before sending [default: customcd-backfill/<folder>-<pattern>.jsonl beside the spool directory]
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

/// The command line as users see it: the clap definitions above, with each setting's help
/// completed from the settings table ([`help_of`]: its heading and what it is when not given),
/// per command, and each command's examples.
pub fn command() -> clap::Command {
    let mut cmd = Cli::command().after_help(FOOTER);
    let names: Vec<String> = cmd.get_subcommands().map(|s| s.get_name().to_owned()).collect();
    for name in names {
        cmd = cmd.mut_subcommand(&name, |sub| complete(sub, &name));
    }
    cmd
}

/// Parses `args` with [`command`]; usage errors and `--help` exit as clap does.
pub fn parse(args: Vec<OsString>) -> Cli {
    let matches = command().get_matches_from(args);
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

/// Whether a command needs `key` set from some source before it can do its work. `env` only shows
/// what it finds, so it needs nothing.
fn requires(command: &str, key: Key) -> bool {
    match command {
        "report" => matches!(key, Key::ServiceId | Key::JobStartTime | Key::Status | Key::Token),
        "backfill" => key == Key::ServiceId,
        "send" => key == Key::Token,
        _ => false,
    }
}

/// The heading and fallback of every option of one command, and its examples.
fn complete(mut sub: clap::Command, command: &str) -> clap::Command {
    let ids: Vec<String> = sub.get_arguments().map(|a| a.get_id().to_string()).collect();
    for id in ids {
        let (heading, suffix) = match Key::ALL.iter().find(|k| k.name() == id) {
            Some(&key) => {
                let (heading, fallback) = help_of(key);
                let suffix = match fallback {
                    Fallback::Unset => None,
                    Fallback::Value(v) => Some(format!("[default: {v}]")),
                    Fallback::Derived(how) => Some(format!("[default: {how}]")),
                    Fallback::Required(when) => requires(command, key).then(|| format!("[required: {when}]")),
                };
                (heading, suffix)
            }
            // The flags that are not settings of their own: `--field` adds to `fields`, and
            // `--no-ci-fields` is `--ci-fields=false`.
            None if id == "field" => (HEADINGS[0], None),
            None if id == "no_ci_fields" => (HEADINGS[2], None),
            None => continue,
        };
        sub = sub.mut_arg(&id, |arg| {
            let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
            let help = match &suffix {
                Some(s) => format!("{help} {s}"),
                None => help,
            };
            arg.help(help).help_heading(heading)
        });
    }
    let examples = EXAMPLES.iter().find(|(c, _)| *c == command).map(|(_, e)| *e);
    let after = match examples {
        Some(e) => format!("Examples:\n{e}\n\n{FOOTER}"),
        None => FOOTER.to_owned(),
    };
    sub.after_help(after)
}

/// Writes the completion script for `shell`, generated from [`command`].
pub fn write_completions(shell: clap_complete::Shell, out: &mut impl std::io::Write) -> Result<(), Error> {
    let mut cmd = command();
    // Generated into memory first: clap_complete panics when its writer fails (a closed pipe).
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "customcd", &mut script);
    write_out(out, &script)
}

/// Writes `bytes` to standard output; a reader that went away (`| head`) is not an error.
fn write_out(out: &mut impl std::io::Write, bytes: &[u8]) -> Result<(), Error> {
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Error::Internal(anyhow::Error::new(e).context("writing to standard output")))
        }
        _ => Ok(()),
    }
}

/// Writes the manual page (roff) of customcd, or of one of its commands, generated from
/// [`command`] as `--help` is.
pub fn write_man_page(name: Option<&str>, out: &mut impl std::io::Write) -> Result<(), Error> {
    let cmd = command();
    let man = match name {
        None => clap_mangen::Man::new(cmd),
        Some(name) => {
            let Some(sub) = cmd.find_subcommand(name) else {
                return Err(Error::Internal(anyhow::anyhow!("clap accepted {name:?}, which names no command")));
            };
            // The page is customcd-report(1), as git names its commands' pages. clap keeps a
            // command's name as a static string; this one lives until the process exits, which
            // it does right after printing the page.
            let page_name: &'static str = Box::leak(format!("customcd-{name}").into_boxed_str());
            clap_mangen::Man::new(sub.clone().name(page_name).bin_name(format!("customcd {name}")))
        }
    };
    let mut page = Vec::new();
    man.render(&mut page).map_err(|e| Error::Internal(anyhow::Error::new(e).context("writing the manual page")))?;
    write_out(out, &page)
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

    /// What `customcd COMMAND --help` prints.
    fn help(name: &str) -> String {
        let Err(e) = command().try_get_matches_from(["customcd", name, "--help"]) else {
            panic!("--help ends parsing")
        };
        e.to_string()
    }

    /// The help entry of `key`'s flag, if the command has it: its line, and the lines below it
    /// when clap puts the description there (a wide help).
    fn line_of(help: &str, key: Key) -> Option<String> {
        let flag = crate::vocab::names::flag_name(key);
        let lines: Vec<&str> = help.lines().collect();
        let start = lines.iter().position(|l| {
            l.trim_start()
                .strip_prefix(flag.as_str())
                .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('[') || rest.is_empty())
        })?;
        let mut entry = lines[start].trim().to_owned();
        for l in &lines[start + 1..] {
            let t = l.trim_start();
            if t.is_empty() || t.starts_with('-') || !l.starts_with(' ') {
                break;
            }
            entry.push(' ');
            entry.push_str(t);
        }
        Some(entry)
    }

    /// The default column of docs/settings.md's row for `key`, backticks dropped.
    fn documented_default(key: Key) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/settings.md");
        let doc = std::fs::read_to_string(path).expect("docs/settings.md");
        let row = doc
            .lines()
            .find(|l| l.starts_with(&format!("| `{}` |", key.name())))
            .unwrap_or_else(|| panic!("docs/settings.md has a row for {}", key.name()));
        let cells: Vec<&str> = row.trim_matches('|').split(" | ").collect();
        cells.get(4).map(|c| c.replace('`', "")).unwrap_or_default()
    }

    #[test]
    fn every_default_and_requirement_in_help_is_the_settings_tables_and_the_docs() {
        let mut seen = 0;
        for name in ["report", "env", "send", "backfill"] {
            let text = help(name);
            for line in text.lines() {
                assert!(line.matches("[default:").count() <= 1, "{name} --help says two defaults: {line}");
            }
            for &key in Key::ALL {
                let Some(line) = line_of(&text, key) else { continue };
                let line = line.as_str();
                seen += 1;
                let at = format!("customcd {name} --help, {}", key.name());
                match help_of(key).1 {
                    Fallback::Value(v) => assert!(line.contains(&format!("[default: {v}]")), "{at}: {line}"),
                    Fallback::Derived(how) => assert!(line.contains(&format!("[default: {how}]")), "{at}: {line}"),
                    Fallback::Unset | Fallback::Required(_) => assert!(!line.contains("[default:"), "{at}: {line}"),
                }
                let required = matches!(help_of(key).1, Fallback::Required(_)) && requires(name, key);
                assert_eq!(line.contains("[required"), required, "{at}: {line}");
                // The reference says the same.
                let documented = documented_default(key);
                match help_of(key).1 {
                    Fallback::Value(v) => {
                        assert!(documented.starts_with(v), "docs/settings.md, {}: {documented}", key.name())
                    }
                    Fallback::Required(_) => {
                        assert!(documented.starts_with("required"), "docs/settings.md, {}: {documented}", key.name());
                    }
                    _ => {}
                }
            }
        }
        assert!(help("env").lines().all(|l| !l.contains("[required")), "env needs nothing: {}", help("env"));
        assert!(seen > 60, "only {seen} option lines were checked");
    }

    #[test]
    fn help_groups_the_options_by_concern_and_shows_examples() {
        let text = help("report");
        for heading in HEADINGS {
            assert!(text.contains(&format!("\n{heading}:\n")), "report --help has no {heading:?} heading: {text}");
        }
        for name in ["report", "send", "backfill", "start", "env", "completions", "man"] {
            let text = help(name);
            assert!(text.contains("Examples:\n  "), "{name} --help has examples: {text}");
            assert!(text.contains(&format!("customcd {name}")) || name == "start", "{name}: {text}");
        }
        assert!(help("start").contains("eval \"$(customcd start)\""), "{}", help("start"));
    }

    #[test]
    fn the_man_command_names_every_command() {
        let names: Vec<String> = Cli::command().get_subcommands().map(|s| s.get_name().to_owned()).collect();
        assert_eq!(names, COMMANDS.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
    }

    #[test]
    fn completions_for_four_shells_know_every_command_and_setting() {
        for shell in [
            clap_complete::Shell::Bash,
            clap_complete::Shell::Zsh,
            clap_complete::Shell::Fish,
            clap_complete::Shell::PowerShell,
        ] {
            let mut out = Vec::new();
            write_completions(shell, &mut out).expect("written");
            let script = String::from_utf8(out).expect("UTF-8");
            for name in COMMANDS {
                assert!(script.contains(name), "{shell}: {name}");
            }
            for flag in ["service-id", "fail-on-error", "from-git-tags", "concurrency"] {
                assert!(script.contains(flag), "{shell}: {flag}");
            }
        }
    }

    #[test]
    fn a_man_page_for_customcd_and_one_for_each_command() {
        let mut out = Vec::new();
        write_man_page(None, &mut out).expect("written");
        let page = String::from_utf8(out).expect("UTF-8");
        assert!(page.contains(".TH customcd 1"), "{page}");
        assert!(page.contains("customcd\\-report(1)") || page.contains("report"), "{page}");
        let mut out = Vec::new();
        write_man_page(Some("report"), &mut out).expect("written");
        let page = String::from_utf8(out).expect("UTF-8");
        assert!(page.contains(".TH customcd\\-report 1") || page.contains(".TH customcd-report 1"), "{page}");
        assert!(page.contains("\\-\\-service\\-id"), "{page}");
        assert!(page.contains(".SH \"ENDPOINT AND TOKEN\""), "the headings reach the page: {page}");
    }
}
