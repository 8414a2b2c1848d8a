//! The `report` command (gather the sources, resolve one valid job, print it or post it and judge
//! the answer) and `env` (show what would be reported and where each value comes from).

use crate::ci::Context;
use crate::cmd::post;
use crate::delivery::http;
use crate::delivery::outbox;
use crate::error::{Error, Problem};
use crate::git::remote;
use crate::job::change_set::{self, ChangeSet, NoChangeSet};
use crate::job::optional::{FieldType, OptionalField};
use crate::job::{self, Inputs, Job};
use crate::output::{self, github};
use crate::records::{self, Found};
use crate::settings::records::{Api, Platform, Previous};
use crate::settings::runner::Runner;
use crate::settings::sources::Gathered;
use crate::settings::{ReportAt, Settings};
use crate::vocab::names::Key;
use crate::vocab::source::{Source, Sourced};
use std::path::Path;

/// Runs `customcd report` from its settings; `now` is epoch seconds. With `report_at: job-end`
/// it only hands the report to the action's post stage (`post::defer`).
pub fn run(settings: Settings, now: i64) -> Result<(), Error> {
    if settings.report_at().value == ReportAt::JobEnd {
        return post::defer(&settings);
    }
    deliver(settings, now)
}

/// Builds the job and posts it (or prints it on a dry run): `report` with `report_at: now`, and
/// the action's post stage.
pub fn deliver(settings: Settings, now: i64) -> Result<(), Error> {
    let Some(gathered) = settings.job() else {
        return Err(Error::Internal(anyhow::anyhow!("report was resolved without its job's sources")));
    };
    if let Some(why) = gathered.ci.as_ref().and_then(|c| c.not_a_deploy.as_ref()) {
        // The CI system itself says this job deploys nothing: one line, nothing sent, exit 0.
        output::stdout(&format!("customcd: not reported: {why}"));
        return Ok(());
    }
    let github = settings.github();
    settings.announce();
    let mut problems = Vec::new();
    let shipped = shipped(&settings, gathered);
    let job = resolve(gathered, settings.ci_fields().value, &shipped, now, &mut problems);
    let job = match job {
        Some(job) if problems.is_empty() => job,
        _ => return Err(Error::Invalid(problems)),
    };
    for w in gathered.warnings.iter().chain(&job.warnings) {
        output::warn(w);
    }
    for n in &shipped.notices {
        output::notice(n);
    }
    if let Some(no) = shipped.why_not.as_ref().filter(|n| n.warn) {
        output::warn(&format!("the change set (commits, lead time) is left out: {}", no.reason));
    }
    let shipped_line = shipped.line(job.end());

    if settings.dry_run().value {
        print_sources(&settings, &job, shipped_line.as_deref());
        output::stdout(&job.body());
        if github {
            write_outputs(settings.runner(), &job, None, None);
        }
        return Ok(());
    }
    let Some(connection) = settings.connection() else {
        return Err(Error::Internal(anyhow::anyhow!("a connection was expected once all problems were ruled out")));
    };
    let deadline = settings.deadline().value;
    let body = job.body();
    let agent = http::agent(&connection.transport);
    let dir = settings.spool_dir();
    let plan = outbox::Plan {
        job_id: &job.job_id.value,
        deadline,
        dir,
        spool_always: settings.spool_always().value,
        resend_note: settings.resend_note(),
    };
    let outcome = outbox::deliver(&agent, connection, &body, plan);
    let delivery = outcome.delivery;
    let result = match delivery.result {
        Ok(answer) => {
            output::stdout(&format!(
                "sent job {} ({} {}) to {}: HTTP {} {}",
                job.job_id.value,
                job.status.value,
                job.commit_sha.value,
                connection.endpoint.url,
                answer.status,
                http::excerpt(&answer.body, 300)
            ));
            Ok(())
        }
        Err(e) => Err(e),
    };
    let spooled = outcome.spooled;
    if github {
        write_outputs(settings.runner(), &job, delivery.http_status, spooled.as_deref());
        write_summary(settings.runner(), &job, delivery.http_status, &result, shipped_line.as_deref());
    }
    if let Some(path) = &gathered.state_file {
        // The recorded start belonged to this job, which is now reported (or kept in the spool).
        let _ = std::fs::remove_file(path);
    }
    let kept = spooled.is_some();
    settings.judge(result, kept)
}

/// What the deploy ships: the change set, or why it is not known (said in provenance, and warned
/// about when the user can fix it). Never a reason to fail the report.
fn shipped(settings: &Settings, gathered: &Gathered) -> Shipped {
    let stack = &gathered.stack;
    if let Some(why) = gathered.ci.as_ref().and_then(|c| c.ships_nothing.as_ref()) {
        return Shipped {
            set: None,
            why_not: Some(NoChangeSet { reason: why.clone(), warn: true }),
            notices: Vec::new(),
        };
    }
    // Without a valid deployed commit there is nothing to ship; job::resolve says what is wrong.
    let Some(deployed) = job::deployed_commit(stack) else {
        return Shipped::default();
    };
    let limit = settings.change_set_limit().value;
    // Every lookup of the platform's records shares one short deadline and a few requests.
    let mut lookups = Lookups::new(settings.platform());
    let mut notices = Vec::new();
    // The repository is opened once, and only when a previous deploy needs it.
    let mut repo = None;
    // A previous_sha that is no commit id is warned about and leaves the change set out, as every
    // other trouble here does: the deploy is reported either way (see change_set::compute).
    let previous = if let Some(v) = stack.get(Key::PreviousSha) {
        Ok(v.clone())
    } else if let Some(pattern) = stack.get(Key::PreviousTag) {
        opened(&mut repo, settings.repo_dir()).and_then(|r| change_set::previous_from_tag(r, &deployed, pattern, limit))
    } else {
        from_platform(settings.platform(), &mut lookups, &mut notices)
    };
    let set = previous.and_then(|prev| match change_set::null_previous(&prev) {
        Some(no) => Err(no),
        None => opened(&mut repo, settings.repo_dir()).and_then(|r| change_set::compute(r, &deployed, &prev, limit)),
    });
    match set {
        Ok(set) => Shipped { set: Some(set), why_not: None, notices },
        Err(no) => Shipped { set: None, why_not: Some(no), notices },
    }
}

/// The agent and budget of the platform lookups: the agent is built when the first request is
/// about to be made, and the budget starts then.
struct Lookups<'a> {
    api: Option<&'a Api>,
    agent: Option<ureq::Agent>,
    budget: records::Budget,
}

impl<'a> Lookups<'a> {
    fn new(platform: Option<&'a Platform>) -> Self {
        Lookups { api: platform.and_then(|p| p.api.as_ref()), agent: None, budget: records::Budget::start() }
    }

    /// The API, its agent and the budget, when the API can be asked.
    fn ready(&mut self) -> Option<(&'a Api, &ureq::Agent, &mut records::Budget)> {
        let api = self.api?;
        if self.agent.is_none() {
            self.agent = Some(records::agent(api));
            self.budget = records::Budget::start();
        }
        let agent = self.agent.as_ref()?;
        Some((api, agent, &mut self.budget))
    }
}

/// The previous deploy when the user names none: the platform's record, else what the CI system
/// names (with a notice when it is a stand-in), else why none is known.
fn from_platform(
    platform: Option<&Platform>,
    lookups: &mut Lookups<'_>,
    notices: &mut Vec<String>,
) -> Result<Sourced<String>, NoChangeSet> {
    let quiet = |reason: String| NoChangeSet { reason, warn: false };
    match platform.map(|p| &p.previous) {
        Some(Previous::Ask { environment, own }) => {
            let Some((api, agent, budget)) = lookups.ready() else {
                return Err(quiet("the platform's API is not configured".to_owned()));
            };
            match records::ask_previous(api, agent, environment, own, budget) {
                Ok(Found::Deploy(previous)) => Ok(previous),
                Ok(Found::None(why)) => Err(quiet(why)),
                Err(warning) => Err(NoChangeSet { reason: warning, warn: true }),
            }
        }
        Some(Previous::Named { previous, notice }) => {
            notices.extend(notice.iter().cloned());
            Ok(previous.clone())
        }
        Some(Previous::Unknown(why)) => Err(quiet(why.clone())),
        None => Err(quiet(format!(
            "no previous deploy is known: pass {} or {} for the change set",
            crate::vocab::names::flag_name(Key::PreviousSha),
            crate::vocab::names::flag_name(Key::PreviousTag)
        ))),
    }
}

/// The repository in `slot`, opened at `dir` the first time it is needed.
fn opened<'a>(slot: &'a mut Option<gix::Repository>, dir: &Path) -> Result<&'a gix::Repository, NoChangeSet> {
    if slot.is_none() {
        *slot = Some(change_set::open(dir)?);
    }
    slot.as_ref().ok_or_else(|| NoChangeSet { reason: "the repository could not be opened".to_owned(), warn: true })
}

/// The change set of a report, or why there is none.
#[derive(Default)]
struct Shipped {
    set: Option<ChangeSet>,
    why_not: Option<NoChangeSet>,
    /// What the user should know about where the previous deploy came from (a stand-in).
    notices: Vec<String>,
}

impl Shipped {
    /// One line for the dry run and the step summary, for a job that ended at `end`.
    fn line(&self, end: i64) -> Option<String> {
        match (&self.set, &self.why_not) {
            (Some(set), _) => Some(set.summary(end)),
            (None, Some(no)) => Some(format!("change set not sent: {}", no.reason)),
            (None, None) => None,
        }
    }
}

/// Resolves the job from what was gathered, adding CI context fields unless turned off.
fn resolve(
    gathered: &Gathered,
    ci_fields: bool,
    shipped: &Shipped,
    now: i64,
    problems: &mut Vec<Problem>,
) -> Option<Job> {
    let stack = &gathered.stack;
    let primary: Vec<OptionalField> = stack
        .get(Key::Environment)
        .map(|v| string_field(Key::Environment.name(), v.value.trim(), v.source.clone()))
        .into_iter()
        .collect();
    let mut context = Vec::new();
    let mut hints: &[(Key, String)] = &[];
    if let Some(ci) = &gathered.ci {
        hints = &ci.hints;
        if ci_fields {
            let system = Source::Ci { system: ci.system, detail: "(detected)".to_owned() };
            context.push(string_field(Context::CiSystem.name(), ci.system, system));
            // The CI's own result word: `job_status` (the action's `${{ job.status }}`, Jenkins'
            // currentResult, or the user's) when given, else the word the system's variables gave.
            let job_status = stack.get(Key::JobStatus).map(|v| (Context::CiResult, v.clone()));
            let ci_context = ci.context.iter().filter(|(k, _)| job_status.is_none() || *k != Context::CiResult);
            for (key, value) in ci_context.chain(job_status.as_ref()) {
                context.push(string_field(key.name(), value.value.trim(), value.source.clone()));
            }
        }
    }
    let inputs = Inputs {
        stack,
        optional: &gathered.optional,
        git_error: gathered.git_error.clone(),
        now,
        hints,
        context,
        primary,
        change_set: shipped.set.as_ref(),
    };
    match job::resolve(&inputs) {
        Ok(job) => Some(job),
        Err(mut more) => {
            more.append(problems);
            *problems = more;
            None
        }
    }
}

fn string_field(key: &str, value: &str, source: Source) -> OptionalField {
    OptionalField {
        key: key.to_owned(),
        value: serde_json::Value::String(value.to_owned()),
        ty: FieldType::String,
        source,
    }
}

/// Each field, its value and where it came from, what it ships, and where it would be sent, on
/// standard error.
fn print_sources(settings: &Settings, job: &Job, shipped: Option<&str>) {
    output::info("dry run: this job is valid; nothing was sent. Fields and their sources:");
    if let Some(ci) = settings.ci() {
        output::info(&format!("  CI system       {}", ci.system));
    }
    for (name, value, source) in job.provenance() {
        output::info(&format!("  {name:<15} {value}  ({source})"));
    }
    if let Some(line) = shipped {
        output::info(&format!("  change set      {line}"));
    }
    output::info("it would be sent to:");
    for line in settings.connection_lines() {
        output::info(&format!("  {line}"));
    }
}

/// Runs `customcd env`: the detected CI system, every setting with its winning source, where the
/// job would be sent, and the job as it would be reported (or what stops it). Needs no token and
/// sends nothing.
pub fn show_env(settings: Settings, now: i64) -> Result<(), Error> {
    let Some(gathered) = settings.job() else {
        return Err(Error::Internal(anyhow::anyhow!("env was resolved without the job's sources")));
    };
    let system = settings.ci().as_ref().map_or("none detected", |c| c.system);
    output::stdout(&format!("CI system: {system}"));
    output::stdout("settings (the highest source wins):");
    for key in Key::ALL {
        let Some(v) = gathered.stack.get(*key) else {
            continue;
        };
        // URLs (endpoint, server, proxy) may carry user-info; the token is never shown.
        let shown = match key {
            Key::Token | Key::GithubToken | Key::GitlabToken => "***".to_owned(),
            Key::TokenFile => crate::secret::shown_token_file(v.value.trim())
                .map_or_else(|| "(not shown: not a path, and may be the token itself)".to_owned(), str::to_owned),
            _ => remote::redact(&v.value),
        };
        output::stdout(&format!("  {:<15} {}  ({})", key.name(), shown, v.source));
    }
    output::stdout("where the job would be sent:");
    for line in settings.connection_lines() {
        output::stdout(&format!("  {line}"));
    }
    let mut problems = settings.problems().to_vec();
    let shipped = shipped(&settings, gathered);
    let job = resolve(gathered, settings.ci_fields().value, &shipped, now, &mut problems);
    match job {
        Some(job) if problems.is_empty() => {
            output::stdout("job as it would be reported:");
            for (name, value, source) in job.provenance() {
                output::stdout(&format!("  {name:<15} {value}  ({source})"));
            }
            if let Some(line) = shipped.line(job.end()) {
                output::stdout(&format!("  change set      {line}"));
            }
            for w in settings.warnings().iter().chain(&gathered.warnings).chain(&job.warnings) {
                output::stdout(&format!("  warning: {w}"));
            }
        }
        _ => {
            output::stdout("the job would not be reported yet:");
            for p in &problems {
                output::stdout(&format!("  - {p}"));
            }
            for w in settings.warnings().iter().chain(&gathered.warnings) {
                output::stdout(&format!("  warning: {w}"));
            }
        }
    }
    Ok(())
}

/// The step outputs on GitHub Actions. Failing to write them is worth a warning, not a failed
/// report.
fn write_outputs(runner: &Runner, job: &Job, http_status: Option<u16>, spooled: Option<&std::path::Path>) {
    let Some(path) = runner.output_file() else { return };
    // The change set's outputs are empty when it was not sent, so a later step can test them.
    let field = |key: &str| {
        job.optional
            .iter()
            .find(|f| f.key == key)
            .map(|f| f.value.as_str().map_or_else(|| f.value.to_string(), str::to_owned))
            .unwrap_or_default()
    };
    let pairs = [
        ("job_id", job.job_id.value.clone()),
        ("commit_sha", job.commit_sha.value.clone()),
        ("status", job.status.value.to_string()),
        ("http_status", http_status.map(|s| s.to_string()).unwrap_or_default()),
        ("payload", job.body()),
        ("spool_file", spooled.map(|p| p.display().to_string()).unwrap_or_default()),
        ("previous_sha", field("previous_sha")),
        ("commit_count", field("commit_count")),
        ("lead_time", field("lead_time")),
    ];
    if let Err(e) = github::append(path.as_ref(), &pairs) {
        output::warn(&format!("could not write the step outputs to {path}: {e}"));
    }
}

/// The step summary on GitHub Actions: what was reported, each field with its source.
fn write_summary(
    runner: &Runner,
    job: &Job,
    http_status: Option<u16>,
    result: &Result<(), Error>,
    shipped: Option<&str>,
) {
    let Some(path) = runner.summary_file() else { return };
    let outcome = match (result, http_status) {
        (Ok(()), Some(s)) => format!("sent, HTTP {s}"),
        (Err(e), _) => format!("not delivered: {}", e.to_string().lines().next().unwrap_or("")),
        (Ok(()), None) => "sent".to_owned(),
    };
    let mut md = format!(
        "### customcd: job {} reported ({})\n\n| field | value | source |\n|---|---|---|\n",
        github::cell(&job.job_id.value),
        github::cell(&outcome)
    );
    for (name, value, source) in job.provenance() {
        md.push_str(&format!("| `{name}` | {} | {} |\n", github::cell(&value), github::cell(&source)));
    }
    if let Some(line) = shipped {
        md.push_str(&format!("\n**Change set:** {}\n", github::cell(line)));
    }
    if let Some(url) = job.optional.iter().find(|f| f.key == "run_url").and_then(|f| f.value.as_str()) {
        md.push_str(&format!("\n[The run]({url})\n"));
    }
    md.push('\n');
    if let Err(e) = github::append_summary(path.as_ref(), &md) {
        output::warn(&format!("could not write the step summary to {path}: {e}"));
    }
}
