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
use crate::job::squash;
use crate::job::{self, Inputs, Job};
use crate::output::{self, github};
use crate::records::{self, Found};
use crate::settings::records::{Api, Kind, Platform, Previous};
use crate::settings::runner::Runner;
use crate::settings::sources::Gathered;
use crate::settings::{ReportAt, Settings};
use crate::vocab::names::{Key, Layer, Stack};
use crate::vocab::source::{Source, Sourced};
use std::path::Path;

/// Runs `customcd report` from its settings; `now` is epoch seconds. With `report_at: job-end`
/// the main stage validates the whole job, then hands its report over to the action's post stage
/// (`post::defer`), or reports at once when no hand-over can reach the post stage.
pub(crate) fn run(settings: Settings, now: i64) -> Result<(), Error> {
    let job_end = settings.report_at().value == ReportAt::JobEnd;
    if job_end {
        post::check_job_end(&settings)?;
    }
    let Some(prepared) = prepare(&settings, now, None)? else { return Ok(()) };
    if job_end && !settings.dry_run().value {
        let id = prepared.job.job_id.value.clone();
        match post::defer(settings.runner(), &id) {
            post::Handover::Deferred(via) => {
                post::claim_job_id(settings.runner(), &id);
                output::info(&format!(
                    "customcd: report_at is job-end ({}): job {id} is valid and will be reported at the end of the job by this action's post stage, with the job's final status (handed over through {via})",
                    settings.report_at().source
                ));
                return Ok(());
            }
            post::Handover::ReportNow(why) => output::warn(&format!(
                "report_at is job-end, but the report could not be handed over to this step's post stage ({why}); job {id} is reported now instead so that it is not lost: its status is the job's status at this step ({}) and its duration ends now",
                prepared.job.status.value
            )),
        }
    }
    send(&settings, prepared, false)
}

/// The action's post stage: reports the job whose report this step's main stage deferred, under
/// the job id the main stage chose, with the job's final status.
pub(crate) fn deliver_at_job_end(settings: Settings, now: i64, job_id: String) -> Result<(), Error> {
    let id = Sourced::new(job_id, Source::Default("chosen by this step's main stage (report_at: job-end)".to_owned()));
    let Some(prepared) = prepare(&settings, now, Some(id))? else { return Ok(()) };
    send(&settings, prepared, true)
}

/// A valid job, ready to send, and the change set's line for the messages.
pub(crate) struct Prepared {
    job: Job,
    shipped_line: Option<String>,
}

/// Resolves the job (and its change set) from the settings, `job_id` overriding the job id when
/// given; every problem at once, nothing sent. `None` when the CI system says the job deploys
/// nothing (said on standard output).
fn prepare(settings: &Settings, now: i64, job_id: Option<Sourced<String>>) -> Result<Option<Prepared>, Error> {
    let Some(gathered) = settings.job() else {
        return Err(Error::Internal(anyhow::anyhow!("report was resolved without its job's sources")));
    };
    if let Some(why) = gathered.ci.as_ref().and_then(|c| c.not_a_deploy.as_ref()) {
        // The CI system itself says this job deploys nothing: one line, nothing sent, exit 0.
        output::stdout(&format!("customcd: not reported: {why}"));
        return Ok(None);
    }
    settings.announce();
    let mut problems = Vec::new();
    let shipped = shipped(settings, gathered);
    let mut job = resolve(gathered, settings.ci_fields().value, &shipped, now, &mut problems);
    // Two reporting steps of one job: a default id another step took is made this step's own.
    let id = job_id.or_else(|| {
        let id = job.as_ref().map(|j| j.job_id.clone())?;
        settings.github().then(|| post::distinct_job_id(&id, settings.runner())).flatten()
    });
    if let Some(id) = id {
        let mut stack = Stack::default();
        let mut top = Layer::default();
        top.set(Key::JobId, id);
        stack.push(top);
        for layer in gathered.stack.layers() {
            stack.push(layer.clone());
        }
        problems.clear();
        job = resolve_with(gathered, &stack, settings.ci_fields().value, &shipped, now, &mut problems);
    }
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
    for w in &shipped.warnings {
        output::warn(w);
    }
    if let Some(no) = shipped.why_not.as_ref().filter(|n| n.warn) {
        output::warn(&format!("the change set (commits, lead time) is left out: {}", no.reason));
    }
    let shipped_line = shipped.line(job.end());
    Ok(Some(Prepared { job, shipped_line }))
}

/// Posts a prepared job (or prints it on a dry run); `at_job_end` is the action's post stage,
/// after which nothing of this job runs: a job that cannot be delivered then goes to the step
/// summary too, as the runner removes its temporary directory (and the spool in it).
fn send(settings: &Settings, prepared: Prepared, at_job_end: bool) -> Result<(), Error> {
    let Prepared { job, shipped_line } = prepared;
    let github = settings.github();
    let runner = settings.runner();
    if settings.dry_run().value {
        print_sources(settings, &job, shipped_line.as_deref());
        output::stdout(&job.body());
        if github {
            write_outputs(runner, &job, None, None);
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
        rescue: github.then(|| runner.summary_file().map(std::path::PathBuf::from)).flatten(),
        at_job_end,
    };
    let outcome = outbox::deliver(&agent, connection, &body, plan);
    let delivery = outcome.delivery;
    let result = match delivery.result {
        Ok(answer) => {
            // One deploy, one record: a later `send` of a kept copy (--spool-always, or a crash
            // before the spool file was removed) skips what the ledger holds.
            let ledger = crate::bulk::checkpoint::ledger_path(&dir.value);
            let id =
                crate::bulk::checkpoint::identity(&connection.endpoint.url, job.service_id.value, &job.job_id.value);
            if let Err(e) = crate::bulk::checkpoint::Checkpoint::append(&ledger, id) {
                output::warn(&format!(
                    "job {} was delivered, but the acknowledgement ledger could not be written ({e:#}): a later `customcd send` of a kept copy would send it again",
                    job.job_id.value
                ));
            }
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
        if !at_job_end {
            post::claim_job_id(runner, &job.job_id.value);
        }
        write_outputs(runner, &job, delivery.http_status, spooled.as_deref());
        write_summary(runner, &job, delivery.http_status, &result, shipped_line.as_deref());
    }
    if let Some(path) = settings.job().and_then(|g| g.state_file.as_ref()) {
        // The recorded start belonged to this job, which is now reported (or kept in the spool).
        let _ = std::fs::remove_file(path);
    }
    let kept = spooled.is_some();
    outbox::finished();
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
            ..Shipped::default()
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
    // `earlier`: the deploys before the previous one, known only from a platform's record.
    let previous = if let Some(v) = stack.get(Key::PreviousSha) {
        Ok((v.clone(), Vec::new()))
    } else if let Some(pattern) = stack.get(Key::PreviousTag) {
        opened(&mut repo, settings.repo_dir())
            .and_then(|r| change_set::previous_from_tag(r, &deployed, pattern, limit))
            .map(|prev| (prev, Vec::new()))
    } else {
        from_platform(settings.platform(), &mut lookups, &mut notices)
    };
    let set = previous.and_then(|(prev, earlier)| match change_set::null_previous(&prev) {
        Some(no) => Err(no),
        None => opened(&mut repo, settings.repo_dir())
            .and_then(|r| change_set::compute_with_earlier(r, &deployed, &prev, &earlier, limit)),
    });
    match set {
        Ok(mut set) => {
            let mut warnings = Vec::new();
            let squashes = squashes(&mut set, repo.as_ref(), &deployed, &mut lookups, limit, &mut warnings);
            Shipped { set: Some(set), why_not: None, notices, squashes, warnings }
        }
        Err(no) => Shipped { set: None, why_not: Some(no), notices, ..Shipped::default() },
    }
}

/// A pull request's own commits from GitHub's API: a squash when neither the commit that names
/// it nor GitLab's squash commit is among them.
fn from_api(
    api: &Api,
    agent: &ureq::Agent,
    budget: &mut records::Budget,
    n: &squash::Named,
) -> Result<squash::Own, String> {
    let list = records::github::pull_commits(api, agent, n.number, budget)?;
    let mine = |id: gix::ObjectId| {
        let id = id.to_string();
        list.iter().any(|(sha, _)| *sha == id)
    };
    if mine(n.commit) || n.squash_commit.is_some_and(|(s, _)| mine(s)) {
        return Ok(squash::Own::Merged);
    }
    let count = list.len();
    Ok(squash::Own::Squashed {
        times: list.into_iter().map(|(_, t)| t).collect(),
        via: format!("its {count} commit{} (GitHub's pull request commits)", if count == 1 { "" } else { "s" }),
    })
}

/// Squash-merged pull requests in the range: their own commits' author times replace the
/// squash commit's, read from the refs the forge keeps (`refs/pull/N/head`) when the clone has
/// them, else from GitHub's API when it can be asked; one line saying which were resolved so and
/// which keep the merge commit's time.
fn squashes(
    set: &mut ChangeSet,
    repo: Option<&gix::Repository>,
    deployed: &str,
    lookups: &mut Lookups<'_>,
    limit: u64,
    warnings: &mut Vec<String>,
) -> Option<String> {
    if set.capped || set.pull_requests.is_empty() {
        return None;
    }
    let repo = repo?;
    let github_api = lookups.api.is_some_and(|a| a.kind == Kind::GitHub);
    if !github_api && !squash::has_pull_refs(repo) {
        let list: Vec<String> = set.pull_requests.iter().map(|n| format!("#{n}")).collect();
        return Some(format!(
            "the own commits of PR {} were not looked for (no refs/pull/*/head or refs/merge-requests/*/head in this clone, and no github_token): any squash-merged among them keeps its merge commit's time",
            list.join(", ")
        ));
    }
    let tip = gix::ObjectId::from_hex(deployed.as_bytes()).ok()?;
    let previous = gix::ObjectId::from_hex(set.previous.value.as_bytes()).ok()?;
    let named = match squash::named(repo, tip, previous, &set.pull_requests, limit) {
        Ok(named) => named,
        Err(e) => return Some(format!("pull requests' own commits were not read: {e}")),
    };
    let (mut resolved, mut kept, mut why) = (Vec::new(), Vec::new(), None);
    for n in &named {
        // Only a commit shaped like a squash can stand for commits that are not in the range.
        let squash_shaped = n.single_parent || n.squash_commit.is_some();
        let mut own = squash::from_refs(repo, n, limit).unwrap_or(squash::Own::Unknown);
        if own == squash::Own::Unknown && squash_shaped {
            if let Some((api, agent, budget)) = lookups.ready().filter(|(api, _, _)| api.kind == Kind::GitHub) {
                match from_api(api, agent, budget, n) {
                    Ok(found) => own = found,
                    Err(e) => why = why.or(Some(e)),
                }
            }
        }
        match own {
            squash::Own::Squashed { times, via } => {
                squash::apply(set, n, &times);
                resolved.push(format!("#{} from {via}", n.number));
            }
            squash::Own::Unknown if squash_shaped => kept.push(format!("#{}", n.number)),
            _ => {}
        }
    }
    let mut parts = Vec::new();
    if !resolved.is_empty() {
        parts.push(format!("lead times of squash-merged PR {}", resolved.join(", ")));
    }
    if !kept.is_empty() {
        if let Some(e) = &why {
            warnings.push(format!(
                "squash-merged PR {} keep their merge commit's time in the lead times: {e}",
                kept.join(", ")
            ));
        }
        let how = why.unwrap_or_else(|| {
            format!(
                "their own commits are not in this clone: fetch them (git fetch origin '+refs/pull/*/head:refs/pull/*/head', or refs/merge-requests/* on GitLab){}",
                if github_api { "" } else { ", or give github_token" }
            )
        });
        parts.push(format!("PR {} keep their merge commit's time ({how})", kept.join(", ")));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
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
/// names (with a notice when it is a stand-in), else why none is known. With it, the commits of
/// the earlier deploys the record named (none but from a record).
fn from_platform(
    platform: Option<&Platform>,
    lookups: &mut Lookups<'_>,
    notices: &mut Vec<String>,
) -> Result<(Sourced<String>, Vec<String>), NoChangeSet> {
    let quiet = |reason: String| NoChangeSet { reason, warn: false };
    match platform.map(|p| &p.previous) {
        Some(Previous::Ask { environment, own }) => {
            let Some((api, agent, budget)) = lookups.ready() else {
                return Err(quiet("the platform's API is not configured".to_owned()));
            };
            match records::ask_previous(api, agent, environment, own, budget) {
                Ok(Found::Deploy { previous, earlier }) => Ok((previous, earlier)),
                Ok(Found::None(why)) => Err(quiet(why)),
                Err(warning) => Err(NoChangeSet { reason: warning, warn: true }),
            }
        }
        Some(Previous::Named { previous, notice }) => {
            notices.extend(notice.iter().cloned());
            Ok((previous.clone(), Vec::new()))
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
    /// Which squash-merged pull requests' lead times came from their own commits, and which
    /// kept the merge commit's time.
    squashes: Option<String>,
    /// Lookups that failed without costing the change set (a refused pull request API).
    warnings: Vec<String>,
}

impl Shipped {
    /// One line for the dry run and the step summary, for a job that ended at `end`.
    fn line(&self, end: i64) -> Option<String> {
        match (&self.set, &self.why_not) {
            (Some(set), _) => Some(match &self.squashes {
                Some(note) => format!("{}; {note}", set.summary(end)),
                None => set.summary(end),
            }),
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
    resolve_with(gathered, &gathered.stack, ci_fields, shipped, now, problems)
}

/// [`resolve`] from `stack` in place of the gathered one (a job id set on top of it).
fn resolve_with(
    gathered: &Gathered,
    stack: &Stack,
    ci_fields: bool,
    shipped: &Shipped,
    now: i64,
    problems: &mut Vec<Problem>,
) -> Option<Job> {
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
                // A URL-like CI value (BUILD_URL, CI_JOB_URL) may carry user:token@: never sent.
                let text = remote::without_credentials(&value.value).unwrap_or_else(|| value.value.trim().to_owned());
                context.push(string_field(key.name(), &text, value.source.clone()));
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
pub(crate) fn show_env(settings: Settings, now: i64) -> Result<(), Error> {
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
    if let Some(why) = gathered.ci.as_ref().and_then(|c| c.not_a_deploy.as_ref()) {
        output::stdout(&format!("report would send nothing: {why}"));
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
