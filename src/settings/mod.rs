//! The one resolved settings value: every command reads its sources once (`sources`), and this
//! module turns them into typed values that remember where they came from. Commands start from
//! [`Settings`] and never read a raw key, so a rule (what `dry_run` means, the range of
//! `concurrency`, the spool's place) is written once and holds for every command.
//!
//! Resolving prints nothing: warnings, the GitHub mask and output's mode are returned for the
//! caller (`lib::run`) to apply.
//!
//! Layer: settings (see tests/integration/layers.rs). May import: vocab, env, fs, secret, git,
//! error, output, job, ci, start_state.

pub(crate) mod endpoint;
pub(crate) mod records;
pub(crate) mod runner;
pub(crate) mod sources;
pub(crate) mod spool_dir;
pub(crate) mod transport;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::ci::Ci;
use crate::env::Env;
use crate::error::{self, Error, Problem};
use crate::output;
use crate::settings::endpoint::{Connection, Endpoint};
use crate::settings::runner::Runner;
use crate::settings::sources::{Flags, Gathered, Sources};
use crate::start_state;
use crate::vocab::names::{flag_name, help_of, var_name, Fallback, Key, Layer, Stack, BACKFILL_KEYS, PAYLOAD_FIELDS};
use crate::vocab::source::{Source, Sourced};

/// The total time for all attempts at one job, when `deadline` is not set.
pub(crate) const DEFAULT_DEADLINE: Duration = Duration::from_secs(60);
/// Jobs in flight at once for the bulk senders, when `concurrency` is not set.
pub(crate) const DEFAULT_CONCURRENCY: usize = 4;
/// The most jobs in flight at once: more connections buy nothing from one webhook.
pub(crate) const MAX_CONCURRENCY: usize = 64;

/// The command being run, which decides what its settings must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Command {
    Report,
    Env,
    Start,
    Send,
    /// `backfill`; `send` is true with `--send`.
    Backfill {
        send: bool,
    },
}

impl Command {
    /// Whether the command posts jobs (unless it is a dry run).
    fn sends(self) -> bool {
        matches!(self, Command::Report | Command::Send | Command::Backfill { send: true })
    }
}

/// When `report` sends the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReportAt {
    /// When `report` runs: the step that runs it is the job's last (GitLab `after_script`,
    /// Jenkins `post`, a GitHub step with `if: always()`).
    Now,
    /// At the end of the job, from the GitHub Action's post stage, which the runner starts after
    /// every other step with the job's final status in reach. `report` itself only records that
    /// the post stage must report (see `cmd::post`).
    JobEnd,
}

impl ReportAt {
    /// The word the setting takes.
    pub(crate) fn word(self) -> &'static str {
        match self {
            ReportAt::Now => "now",
            ReportAt::JobEnd => "job-end",
        }
    }
}

/// What resolving gave: the settings, and the problems that stop the command (none for `env`,
/// which shows them, and `start`, which only warns). With problems the caller prints the
/// settings' warnings beside them (a misspelled variable is often why a setting is missing) and
/// stops.
pub(crate) struct Resolved {
    pub settings: Settings,
    pub problems: Vec<Problem>,
}

/// What a delivery problem does to the exit code: the `fail_on_error` setting. Invalid input fails
/// whatever it says, and so does a job that was neither delivered nor kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailOnError {
    /// The default: a refusal that needs a person (401/403, another 4xx, a redirect) fails with
    /// exit 3; an outage (network, timeout, 408, 429, 5xx) is a warning with exit 0, the job kept
    /// for `customcd send`. An outage of the metrics service must not turn a deploy red, and a
    /// refusal would repeat on every run until someone acts, so it must be seen.
    Refusal,
    /// Every delivery problem fails: a refusal with 3, an outage with 4.
    Always,
    /// No delivery problem fails: both are warnings with exit 0, the job kept.
    Never,
}

impl FailOnError {
    /// The word the setting takes for each choice (`true` and `false` also as yes/no, 1/0, on/off).
    pub(crate) fn word(self) -> &'static str {
        match self {
            FailOnError::Refusal => "refusal",
            FailOnError::Always => "true",
            FailOnError::Never => "false",
        }
    }

    fn parse(word: &str) -> Option<FailOnError> {
        match word.to_ascii_lowercase().as_str() {
            "refusal" | "refused" => Some(FailOnError::Refusal),
            "true" | "yes" | "1" | "on" => Some(FailOnError::Always),
            "false" | "no" | "0" | "off" => Some(FailOnError::Never),
            _ => None,
        }
    }
}

/// Every setting a command uses, typed, each with its source. Read through its methods: a
/// command cannot change what was resolved.
pub(crate) struct Settings {
    /// The CI system, when one was detected.
    ci: Option<Ci>,
    /// Validate and print; send nothing. The same in every command.
    dry_run: Sourced<bool>,
    /// Which delivery problems fail the command (invalid input always does).
    fail_on_error: Sourced<FailOnError>,
    /// Keep a copy of every delivered payload in the spool.
    spool_always: Sourced<bool>,
    /// Whether CI context is added as optional fields.
    ci_fields: Sourced<bool>,
    /// Total time for all attempts at one job.
    deadline: Sourced<Duration>,
    /// Jobs in flight at once (`send`, `backfill --send`).
    concurrency: Sourced<usize>,
    /// Where undelivered jobs are kept.
    spool_dir: Sourced<PathBuf>,
    /// The checked endpoint, token and transport: present whenever the command will send.
    connection: Option<Connection>,
    /// The endpoint that would be used, or why there is none (for the dry run and `env`).
    endpoint: Result<Endpoint, String>,
    /// Where the token would come from, when one is set (never the token itself).
    token_source: Option<Source>,
    /// The single job's sources (`report`, `env`).
    job: Option<Gathered>,
    /// The settings that apply to every job of a backfill (service, job type, repository).
    template: Stack,
    /// Where git discovery starts: the `repo` setting, else the working directory.
    repo_dir: PathBuf,
    /// The most commits a change set walks.
    change_set_limit: Sourced<u64>,
    /// When `report` sends the job.
    report_at: Sourced<ReportAt>,
    /// What the CI platform can be asked, and where the previous deploy comes from (`report`,
    /// `env`).
    platform: Option<records::Platform>,
    /// Things the user should know that do not stop the command.
    warnings: Vec<String>,
    /// Problems that stop nothing because the command only shows them (`env`).
    problems: Vec<Problem>,
    /// The GitHub runner's files and this step's id.
    runner: Runner,
    /// Where `start` records the job's start in this CI job, when it has an identity.
    start_file: Option<PathBuf>,
}

impl Settings {
    /// Reads every source once and resolves it; every problem found is returned at once, beside
    /// the settings (the caller prints their warnings with them). Resolving prints nothing and
    /// changes nothing: output's GitHub mode ([`Settings::github`]) and the token's mask
    /// ([`Settings::token_to_mask`]) are the caller's to apply, before it prints anything.
    pub(crate) fn resolve(
        command: Command,
        flags: Flags,
        env: &Env,
        cwd: PathBuf,
        now: i64,
    ) -> Result<Resolved, Error> {
        let sources = sources::read(flags, env)?;
        let mut problems = Vec::new();
        let stack = sources.stack.clone();
        let github = sources.ci.as_ref().is_some_and(|c| c.github_like);

        // A setting whose variable is not UTF-8 would be sent with replacement characters in it.
        let is_setting = |name: &str| {
            Key::ALL.iter().any(|k| var_name(*k) == name || crate::vocab::names::input_var_name(*k) == name)
                || crate::vocab::names::VAR_ALIASES.iter().any(|(alias, _)| *alias == name)
        };
        for name in env.not_utf8().iter().filter(|n| is_setting(n)) {
            problems.push(
                Problem::new(
                    name.trim_start_matches("CUSTOMCD_").trim_start_matches("INPUT_").to_ascii_lowercase(),
                    "is not valid UTF-8",
                    format!("set {name} to UTF-8 text (or unset it)"),
                )
                .source(Source::Var(name.clone())),
            );
        }
        // The same for a CI system's variable a field comes from (GITHUB_REPOSITORY, BUILD_URL):
        // refused, naming the variable, rather than sent with U+FFFD in place of its bytes.
        if let Some(ci) = &sources.ci {
            let bad = |source: &Source| match source {
                Source::Ci { detail, .. } => {
                    let mut words = detail.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
                    words.find_map(|w| env.not_utf8().iter().find(|n| *n == w)).cloned()
                }
                _ => None,
            };
            let fields = Key::ALL.iter().filter_map(|k| ci.layer.get(*k).map(|v| (k.name().to_owned(), v)));
            let context = ci.context.iter().map(|(c, v)| (c.name().to_owned(), v));
            for (field, value) in fields.chain(context) {
                if let Some(name) = bad(&value.source) {
                    problems.push(
                        Problem::new(
                            field.clone(),
                            format!("comes from the {} variable {name}, which is not valid UTF-8", ci.system),
                            format!("set {name} to UTF-8 text, or give {field} yourself"),
                        )
                        .source(value.source.clone()),
                    );
                }
            }
        }
        let dry_run = boolean(&stack, Key::DryRun, &mut problems);
        let fail_on_error = fail_on_error(&stack, &mut problems);
        let spool_always = boolean(&stack, Key::SpoolAlways, &mut problems);
        let ci_fields = boolean(&stack, Key::CiFields, &mut problems);
        let deadline = number(&stack, Key::Deadline, (1, u64::from(u32::MAX)), "seconds", &mut problems)
            .map_or(Sourced::new(DEFAULT_DEADLINE, default("60 seconds")), |s| s.map(Duration::from_secs));
        let concurrency = number(&stack, Key::Concurrency, (1, MAX_CONCURRENCY as u64), "jobs", &mut problems)
            .map_or(Sourced::new(DEFAULT_CONCURRENCY, default("4")), |s| {
                s.map(|n| usize::try_from(n).unwrap_or(DEFAULT_CONCURRENCY))
            });
        let spool_dir = match stack.get(Key::SpoolDir) {
            Some(v) => v.clone().map(|d| PathBuf::from(d.trim())),
            None => spool_dir::default_dir(sources.ci.as_ref(), env),
        };
        let repo_dir = stack.get(Key::Repo).map_or_else(|| cwd.clone(), |r| PathBuf::from(r.value.trim()));
        let change_set_limit = number(&stack, Key::ChangeSetLimit, (1, u64::from(u32::MAX)), "commits", &mut problems)
            .unwrap_or_else(|| Sourced::new(crate::job::change_set::DEFAULT_LIMIT, default("10000")));

        let report_at = report_at(&stack, command, github, &mut problems);

        let switches = endpoint::Switches {
            allow_http: boolean(&stack, Key::AllowHttp, &mut problems).value,
            any_path: boolean(&stack, Key::AnyEndpointPath, &mut problems).value,
            platform_roots: boolean(&stack, Key::PlatformRoots, &mut problems).value,
        };
        // The endpoint is checked whenever one is given, so that a dry run catches a bad URL; a
        // missing endpoint or token only matters when the command is about to send.
        let will_send = command.sends() && !dry_run.value;
        let conn = endpoint::resolve(&stack, env, switches, will_send, &mut problems);

        let job = match command {
            Command::Report | Command::Env => Some(sources::gather(
                Sources {
                    stack: sources.stack,
                    optional: sources.optional,
                    ci: sources.ci.clone(),
                    warnings: Vec::new(),
                },
                env,
                repo_dir.clone(),
                now,
            )),
            _ => None,
        };
        let mut warnings = sources.warnings;
        warnings.extend(conn.warnings);
        let platform = job
            .as_ref()
            .map(|job| records::plan(job.ci.as_ref(), &job.stack, env, switches.allow_http, switches.platform_roots));
        warnings.extend(platform.iter().flat_map(|p| p.warnings.iter().cloned()));

        let start_file = sources.ci.as_ref().and_then(|ci| start_state::state_file(ci, env));
        let mut settings = Settings {
            ci: sources.ci,
            dry_run,
            fail_on_error,
            spool_always,
            ci_fields,
            deadline,
            concurrency,
            spool_dir,
            connection: conn.connection,
            endpoint: conn.endpoint,
            token_source: conn.token_source,
            job,
            template: template(&stack),
            repo_dir,
            change_set_limit,
            report_at,
            platform,
            warnings,
            problems: Vec::new(),
            runner: Runner::read(env),
            start_file,
        };
        if command == Command::Env {
            // `env` shows what is wrong instead of stopping at it.
            settings.problems = std::mem::take(&mut problems);
        } else if command == Command::Start {
            // `start` only records a time: a setting it does not use must not fail the job.
            settings.warnings.extend(problems.drain(..).map(|p| format!("{p} (ignored by customcd start)")));
        }
        Ok(Resolved { settings, problems })
    }

    /// The token to mask in the GitHub log (`::add-mask::`), on GitHub and when there is one.
    pub(crate) fn token_to_mask(&self) -> Option<&str> {
        self.connection.as_ref().filter(|_| self.github()).map(|c| c.token.expose_for_masking())
    }

    // Each setting, as resolved.

    /// The CI system, when one was detected.
    pub(crate) fn ci(&self) -> Option<&Ci> {
        self.ci.as_ref()
    }

    /// Validate and print; send nothing. The same in every command.
    pub(crate) fn dry_run(&self) -> &Sourced<bool> {
        &self.dry_run
    }

    /// Keep a copy of every delivered payload in the spool.
    pub(crate) fn spool_always(&self) -> &Sourced<bool> {
        &self.spool_always
    }

    /// Whether CI context is added as optional fields.
    pub(crate) fn ci_fields(&self) -> &Sourced<bool> {
        &self.ci_fields
    }

    /// Total time for all attempts at one job.
    pub(crate) fn deadline(&self) -> &Sourced<Duration> {
        &self.deadline
    }

    /// Jobs in flight at once (`send`, `backfill --send`).
    pub(crate) fn concurrency(&self) -> &Sourced<usize> {
        &self.concurrency
    }

    /// Where undelivered jobs are kept.
    pub(crate) fn spool_dir(&self) -> &Sourced<PathBuf> {
        &self.spool_dir
    }

    /// The checked endpoint, token and transport: present whenever the command will send.
    pub(crate) fn connection(&self) -> Option<&Connection> {
        self.connection.as_ref()
    }

    /// The single job's sources (`report`, `env`).
    pub(crate) fn job(&self) -> Option<&Gathered> {
        self.job.as_ref()
    }

    /// The settings that apply to every job of a backfill (service, job type, repository).
    pub(crate) fn template(&self) -> &Stack {
        &self.template
    }

    /// Where git discovery starts: the `repo` setting, else the working directory.
    pub(crate) fn repo_dir(&self) -> &Path {
        &self.repo_dir
    }

    /// The most commits a change set walks.
    pub(crate) fn change_set_limit(&self) -> &Sourced<u64> {
        &self.change_set_limit
    }

    /// When `report` sends the job.
    pub(crate) fn report_at(&self) -> &Sourced<ReportAt> {
        &self.report_at
    }

    /// Things the user should know that do not stop the command.
    pub(crate) fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Problems that stop nothing because the command only shows them (`env`).
    pub(crate) fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// What the CI platform can be asked, and where the previous deploy comes from (`report`,
    /// `env`).
    pub(crate) fn platform(&self) -> Option<&records::Platform> {
        self.platform.as_ref()
    }

    /// The GitHub runner's files and this step's id.
    pub(crate) fn runner(&self) -> &Runner {
        &self.runner
    }

    /// Where `start` records the job's start in this CI job, when the job has an identity.
    pub(crate) fn start_file(&self) -> Option<&Path> {
        self.start_file.as_deref()
    }

    /// The `repo_name` setting (a flag or variable, not git's guess), for a backfill's job ids.
    pub(crate) fn repo_name(&self) -> Option<String> {
        self.template.get(Key::RepoName).map(|r| r.value.trim().to_owned())
    }

    /// Whether this run is on GitHub Actions (or a runner that imitates it).
    pub(crate) fn github(&self) -> bool {
        self.ci.as_ref().is_some_and(|c| c.github_like)
    }

    /// Prints the warnings gathered while resolving, once.
    pub(crate) fn announce(&self) {
        for w in &self.warnings {
            output::warn(w);
        }
        if let Some(c) = &self.connection {
            if c.token_from_flag {
                output::warn("the token was given with --token, which other processes on this machine can read; prefer CUSTOMCD_TOKEN or --token-file");
            }
        }
    }

    /// The endpoint and token as a dry run or `env` shows them: what would be used, or plainly
    /// what is missing.
    pub(crate) fn connection_lines(&self) -> Vec<String> {
        let mut lines = vec![match &self.endpoint {
            Ok(e) => format!("endpoint  {}  ({})", crate::git::remote::redact(&e.url), e.source),
            Err(why) => format!("endpoint  not set: {why}"),
        }];
        lines.push(match &self.token_source {
            Some(s) => format!("token     set ({s})"),
            None => format!(
                "token     not set: set {} (or pass {} PATH) before sending",
                var_name(Key::Token),
                flag_name(Key::TokenFile)
            ),
        });
        lines
    }

    /// What a resend hint (`customcd send FILE`) must add: settings given as flags are not in the
    /// environment of a later `customcd send`, so the hint names them; empty when none were.
    pub(crate) fn resend_note(&self) -> String {
        let mut flags = Vec::new();
        if let Ok(e) = &self.endpoint {
            if e.from_flag {
                flags.push(format!("the endpoint ({} or {})", flag_name(Key::Url), var_name(Key::Url)));
            }
        }
        if self.token_source.as_ref().is_some_and(|s| matches!(s, Source::Flag(_))) {
            flags.push(format!("the token ({} or {})", flag_name(Key::TokenFile), var_name(Key::Token)));
        }
        if flags.is_empty() {
            String::new()
        } else {
            format!(", giving it {} as this run had them from flags", flags.join(" and "))
        }
    }

    /// The outcome of a delivery, judged by `fail_on_error` the same way in every command. `kept`
    /// says whether an undelivered job is on disk where `customcd send` finds it (the spool, the
    /// input files): a job neither delivered nor kept always fails, whatever the setting says.
    pub(crate) fn judge(&self, result: Result<(), Error>, kept: bool) -> Result<(), Error> {
        let policy = self.fail_on_error.value;
        let from = match &self.fail_on_error.source {
            Source::Default(_) => "the default".to_owned(),
            other => other.to_string(),
        };
        let why = |what: &str| {
            format!(
                "This does not fail the step: {} is {} ({from}), under which {what} is a warning and the job is kept",
                Key::FailOnError.name(),
                policy.word(),
            )
        };
        let change = |to: &str| format!("set {} to {to}", setting_names(Key::FailOnError));
        match result {
            Err(e @ Error::Delivery(_)) if kept && policy != FailOnError::Always => {
                output::warn(&format!(
                    "NOT DELIVERED: {e:#}. {}; {} to fail on an outage too",
                    why("an outage (network, timeout, 408, 429, 5xx)"),
                    change("true")
                ));
                Ok(())
            }
            Err(e @ Error::Refused { .. }) if kept && policy == FailOnError::Never => {
                output::warn(&format!(
                    "NOT DELIVERED: {e:#}. {}; {} to fail on a refusal",
                    why("a refusal"),
                    change("refusal")
                ));
                Ok(())
            }
            other => other,
        }
    }
}

fn default(how: &str) -> Source {
    Source::Default(how.to_owned())
}

/// The `fail_on_error` choice; `refusal` when unset.
fn fail_on_error(stack: &Stack, problems: &mut Vec<Problem>) -> Sourced<FailOnError> {
    let Some(v) = stack.get(Key::FailOnError) else {
        return Sourced::new(FailOnError::Refusal, default("refusal"));
    };
    error::read(
        v,
        Key::FailOnError.name(),
        FailOnError::parse,
        "must be refusal (the default: only a refusal fails), true (an outage fails too) or false (neither fails)",
        format!("set {} to refusal, true or false", setting_names(Key::FailOnError)),
        problems,
    )
    .unwrap_or_else(|| Sourced::new(FailOnError::Refusal, v.source.clone()))
}

/// A yes/no setting. Accepts true/false, yes/no, 1/0, on/off in any case. When it is not set, the
/// settings table's fallback applies (the one `--help` shows), which for a yes/no setting is
/// `true` or `false`.
fn boolean(stack: &Stack, key: Key, problems: &mut Vec<Problem>) -> Sourced<bool> {
    let fallback = matches!(help_of(key).1, Fallback::Value("true"));
    let Some(v) = stack.get(key) else {
        return Sourced::new(fallback, default(if fallback { "true" } else { "false" }));
    };
    let word = |t: &str| match t.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" | "on" => Some(true),
        "false" | "no" | "0" | "off" => Some(false),
        _ => None,
    };
    error::read(
        v,
        key.name(),
        word,
        "must be true or false",
        format!("set {} to true or false", setting_names(key)),
        problems,
    )
    .unwrap_or_else(|| Sourced::new(fallback, v.source.clone()))
}

/// A whole number within `range` (inclusive), when set.
fn number(stack: &Stack, key: Key, range: (u64, u64), unit: &str, problems: &mut Vec<Problem>) -> Option<Sourced<u64>> {
    let v = stack.get(key)?;
    error::read(
        v,
        key.name(),
        |t| t.parse::<u64>().ok().filter(|n| (range.0..=range.1).contains(n)),
        format!("must be a whole number of {unit} from {} to {}", range.0, range.1),
        format!("e.g. {} {}", flag_name(key), range.0.max(4).min(range.1)),
        problems,
    )
}

/// `report_at`: `now` unless set. `job-end` needs the action's post stage, so a `report` outside
/// GitHub Actions (and the runners that imitate it) refuses it rather than report nothing.
fn report_at(stack: &Stack, command: Command, github: bool, problems: &mut Vec<Problem>) -> Sourced<ReportAt> {
    let Some(v) = stack.get(Key::ReportAt) else {
        return Sourced::new(ReportAt::Now, default("now"));
    };
    let word = |t: &str| match t.to_ascii_lowercase().replace('_', "-").as_str() {
        "now" => Some(ReportAt::Now),
        "job-end" => Some(ReportAt::JobEnd),
        _ => None,
    };
    let fix = format!("set {} to now or job-end", setting_names(Key::ReportAt));
    let at = error::read(v, Key::ReportAt.name(), word, "must be now or job-end", fix, problems)
        .unwrap_or_else(|| Sourced::new(ReportAt::Now, v.source.clone()));
    if at.value == ReportAt::JobEnd && command == Command::Report && !github {
        problems.push(
            Problem::new(
                Key::ReportAt.name(),
                "job-end works only in the GitHub Action, whose post stage sends the report at the end of the job",
                "elsewhere run `customcd report` where the job ends (GitLab after_script, Jenkins post { always { ... } }) and leave report_at unset",
            )
            .value(v.value.clone())
            .source(v.source.clone()),
        );
    }
    at
}

/// `--flag or CUSTOMCD_FLAG`, for fixes.
fn setting_names(key: Key) -> String {
    format!("{} or {}", flag_name(key), var_name(key))
}

/// What applies to every job of a backfill: a `CUSTOMCD_COMMIT_SHA` left in the environment must
/// not stamp one commit on all of history, so only these keys are kept.
fn template(stack: &Stack) -> Stack {
    let mut layer = Layer::default();
    let in_payload = |key: &Key| PAYLOAD_FIELDS.iter().any(|f| f.key == *key);
    for &key in BACKFILL_KEYS.iter().filter(|k| in_payload(k)) {
        if let Some(v) = stack.get(key) {
            layer.set(key, v.clone());
        }
    }
    let mut template = Stack::default();
    template.push(layer);
    template
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        pairs.iter().map(|(k, v)| (*k, *v)).collect()
    }

    fn resolve(command: Command, flags: Flags, pairs: &[(&str, &str)]) -> Result<Settings, Error> {
        let dir = tempfile::tempdir().expect("temp dir");
        let Resolved { settings, problems } =
            Settings::resolve(command, flags, &env(pairs), dir.path().to_path_buf(), 1_700_000_000)?;
        if problems.is_empty() {
            Ok(settings)
        } else {
            Err(Error::Invalid(problems))
        }
    }

    fn problems(r: Result<Settings, Error>) -> Vec<Problem> {
        match r {
            Err(Error::Invalid(p)) => p,
            Err(e) => panic!("expected invalid settings, got {e:#}"),
            Ok(_) => panic!("expected invalid settings, got valid ones"),
        }
    }

    #[test]
    fn dry_run_from_a_variable_holds_for_a_backfill_that_sends() {
        let s = resolve(Command::Backfill { send: true }, Flags::default(), &[("CUSTOMCD_DRY_RUN", "true")])
            .expect("a dry run needs no endpoint");
        assert!(s.dry_run.value);
        assert!(s.connection.is_none(), "a dry run has no connection to send with");
        assert_eq!(s.dry_run.source.to_string(), "variable CUSTOMCD_DRY_RUN");
    }

    #[test]
    fn concurrency_has_one_rule_for_every_command() {
        for command in [Command::Send, Command::Backfill { send: true }] {
            let p = problems(resolve(
                command,
                Flags::default(),
                &[("CUSTOMCD_CONCURRENCY", "65"), ("CUSTOMCD_DRY_RUN", "1")],
            ));
            assert!(p.iter().any(|p| p.field == "concurrency" && p.rule.contains("from 1 to 64")), "{p:?}");
        }
        let s = resolve(Command::Send, Flags::default(), &[("CUSTOMCD_CONCURRENCY", "64"), ("CUSTOMCD_DRY_RUN", "1")])
            .expect("64 is allowed");
        assert_eq!(s.concurrency.value, 64);
    }

    #[test]
    fn a_command_that_sends_needs_an_endpoint_and_a_token() {
        let p = problems(resolve(Command::Send, Flags::default(), &[]));
        assert!(p.iter().any(|p| p.field == "url"), "{p:?}");
        assert!(p.iter().any(|p| p.field == "token"), "{p:?}");
    }

    #[test]
    fn fail_on_error_false_turns_a_refusal_into_a_warning_in_every_command() {
        for command in [Command::Report, Command::Send, Command::Backfill { send: true }] {
            let s =
                resolve(command, Flags::default(), &[("CUSTOMCD_FAIL_ON_ERROR", "false"), ("CUSTOMCD_DRY_RUN", "1")])
                    .expect("valid");
            assert!(s.judge(Err(Error::Refused { status: 400, message: "no".into() }), true).is_ok());
            assert!(s.judge(Err(Error::Delivery("down".into())), true).is_ok());
            assert!(s.judge(Err(Error::Invalid(Vec::new())), true).is_err(), "invalid input still fails");
            assert!(s.judge(Err(Error::Delivery("down".into())), false).is_err(), "a job not kept fails");
        }
    }

    #[test]
    fn by_default_an_outage_warns_and_a_refusal_fails_in_every_command() {
        for command in [Command::Report, Command::Send, Command::Backfill { send: true }] {
            let s = resolve(command, Flags::default(), &[("CUSTOMCD_DRY_RUN", "1")]).expect("valid");
            assert_eq!(s.fail_on_error.value, FailOnError::Refusal);
            assert!(s.judge(Err(Error::Delivery("down".into())), true).is_ok());
            assert!(s.judge(Err(Error::Refused { status: 401, message: "no".into() }), true).is_err());
            assert!(s.judge(Err(Error::Delivery("down".into())), false).is_err(), "a job not kept fails");
        }
    }

    #[test]
    fn fail_on_error_true_fails_on_an_outage_too_and_a_wrong_word_is_named() {
        let s =
            resolve(Command::Report, Flags::default(), &[("CUSTOMCD_FAIL_ON_ERROR", "yes"), ("CUSTOMCD_DRY_RUN", "1")])
                .expect("valid");
        assert_eq!(s.fail_on_error.value, FailOnError::Always);
        assert!(s.judge(Err(Error::Delivery("down".into())), true).is_err());
        let p = problems(resolve(Command::Report, Flags::default(), &[("CUSTOMCD_FAIL_ON_ERROR", "sometimes")]));
        assert!(p.iter().any(|p| p.field == "fail_on_error" && p.rule.contains("refusal")), "{p:?}");
    }

    #[test]
    fn aliases_are_read_and_named_as_the_user_spelled_them() {
        let s = resolve(Command::Env, Flags::default(), &[("CUSTOMCD_FIELD", "a=1"), ("CUSTOMCD_OPTIONAL_JSON", "[]")])
            .expect("valid");
        let job = s.job.expect("env gathers the job");
        assert_eq!(
            job.stack.get(Key::Fields).map(|v| v.source.to_string()).as_deref(),
            Some("variable CUSTOMCD_FIELD")
        );
        assert_eq!(
            job.stack.get(Key::Optional).map(|v| v.source.to_string()).as_deref(),
            Some("variable CUSTOMCD_OPTIONAL_JSON")
        );
    }

    #[test]
    fn a_misspelled_variable_is_named_with_the_closest_setting() {
        let s = resolve(Command::Env, Flags::default(), &[("CUSTOMCD_SERVICEID", "42")]).expect("valid");
        assert!(
            s.warnings
                .iter()
                .any(|w| w.contains("CUSTOMCD_SERVICEID") && w.contains("did you mean CUSTOMCD_SERVICE_ID?")),
            "{:?}",
            s.warnings
        );
    }

    #[test]
    fn start_never_fails_on_a_setting_it_does_not_use() {
        let s = resolve(Command::Start, Flags::default(), &[("CUSTOMCD_DEADLINE", "soon")]).expect("start goes on");
        assert!(s.warnings.iter().any(|w| w.contains("deadline") && w.contains("ignored")), "{:?}", s.warnings);
    }

    #[test]
    fn yes_no_settings_accept_the_usual_words() {
        let stack = |v: &str| Stack::of(&[(Key::DryRun, v)], |k| Source::Var(var_name(k)));
        let mut p = Vec::new();
        assert!(boolean(&stack("TRUE"), Key::DryRun, &mut p).value);
        assert!(!boolean(&stack("0"), Key::DryRun, &mut p).value);
        assert!(p.is_empty());
        boolean(&stack("maybe"), Key::DryRun, &mut p);
        assert_eq!(p.len(), 1);
    }

    #[test]
    fn every_fixed_default_that_help_shows_is_the_one_resolve_uses() {
        let s = resolve(Command::Env, Flags::default(), &[]).expect("env resolves with nothing set");
        let empty = Stack::default();
        let mut checked = 0;
        for key in Key::ALL {
            let Fallback::Value(shown) = help_of(*key).1 else { continue };
            let used = match key {
                Key::Deadline => s.deadline.value.as_secs().to_string(),
                Key::Concurrency => s.concurrency.value.to_string(),
                Key::ChangeSetLimit => s.change_set_limit.value.to_string(),
                Key::FailOnError => s.fail_on_error.value.word().to_owned(),
                Key::ReportAt => s.report_at.value.word().to_owned(),
                Key::DryRun => s.dry_run.value.to_string(),
                Key::SpoolAlways => s.spool_always.value.to_string(),
                Key::CiFields => s.ci_fields.value.to_string(),
                Key::AllowHttp | Key::PlatformRoots | Key::AnyEndpointPath => {
                    boolean(&empty, *key, &mut Vec::new()).value.to_string()
                }
                Key::Port => {
                    // No port: the endpoint is https's own, 443.
                    let s = resolve(
                        Command::Env,
                        Flags::default(),
                        &[("CUSTOMCD_SERVER", "allstacks.example.com"), ("CUSTOMCD_COMPANY_ID", "1")],
                    )
                    .expect("valid");
                    let url = s.endpoint.map(|e| e.url).unwrap_or_default();
                    assert_eq!(url, "https://allstacks.example.com/webhook/company/1/cicd_job");
                    "443".to_owned()
                }
                other => panic!("help shows a fixed default for {other:?}: hold it to the resolved value here"),
            };
            assert_eq!(used, shown, "{}: --help says [default: {shown}], resolve uses {used}", key.name());
            checked += 1;
        }
        assert!(checked >= 10, "only {checked} fixed defaults were checked");
    }
}
