//! The job: resolving the stacked settings into one validated Custom CD job, and its JSON body.
//!
//! Every rule of the payload contract is checked here, all at once, so that the user sees every
//! problem in one run. A `Job` exists only when all rules hold, which is what makes "a payload that
//! would be rejected never leaves the machine" true by construction.
//!
//! Layer: payload (see tests/integration/layers.rs). May import: vocab, error, git.

pub mod change_set;
pub mod epoch;
pub(crate) mod json_diag;
pub mod optional;
pub mod squash;
pub mod status;
pub mod stored;

use serde::Serialize;

use crate::error::{self, quote, Problem};
use crate::job::change_set::ChangeSet;
use crate::job::optional::{OptionalField, OptionalInput, MAX_FIELDS};
use crate::job::status::Status;
use crate::vocab::names::{flag_name, var_name, Key, Missing, Stack, MAX_API_INTEGER, OPTIONAL_FIELD, PAYLOAD_FIELDS};
use crate::vocab::source::{Source, Sourced};

/// A job that satisfies every rule of the contract, with the source of each field.
#[derive(Debug, Clone)]
pub struct Job {
    pub job_id: Sourced<String>,
    pub commit_sha: Sourced<String>,
    pub service_id: Sourced<u64>,
    /// Seconds since the epoch.
    pub job_start_time: Sourced<i64>,
    /// Whole seconds.
    pub job_duration: Sourced<u64>,
    pub status: Sourced<Status>,
    pub repo_id: Option<Sourced<String>>,
    pub repo_name: Option<Sourced<String>>,
    pub triggered_by: Option<Sourced<String>>,
    pub job_type: Option<Sourced<String>>,
    pub optional: Vec<OptionalField>,
    /// Things the user should know that did not stop the job.
    pub warnings: Vec<String>,
}

/// The JSON body, field for field as the API names them. Unset optional fields are omitted, never
/// sent as `null` or `""`.
#[derive(Debug, Serialize)]
pub struct Payload<'a> {
    pub job_id: &'a str,
    pub commit_sha: &'a str,
    pub service_id: u64,
    pub job_start_time: i64,
    pub job_duration: u64,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repo_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repo_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub triggered_by: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_type: Option<&'a str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub optional: &'a [OptionalField],
}

impl Job {
    pub fn payload(&self) -> Payload<'_> {
        Payload {
            job_id: &self.job_id.value,
            commit_sha: &self.commit_sha.value,
            service_id: self.service_id.value,
            job_start_time: self.job_start_time.value,
            job_duration: self.job_duration.value,
            status: self.status.value.as_api(),
            repo_id: self.repo_id.as_ref().map(|s| s.value.as_str()),
            repo_name: self.repo_name.as_ref().map(|s| s.value.as_str()),
            triggered_by: self.triggered_by.as_ref().map(|s| s.value.as_str()),
            job_type: self.job_type.as_ref().map(|s| s.value.as_str()),
            optional: &self.optional,
        }
    }

    /// When the job ended: its start plus its duration, epoch seconds.
    pub fn end(&self) -> i64 {
        self.job_start_time.value.saturating_add(i64::try_from(self.job_duration.value).unwrap_or(i64::MAX))
    }

    /// The exact body that is sent.
    pub fn body(&self) -> String {
        serde_json::to_string(&self.payload()).expect("a payload of strings and integers always serializes")
    }

    /// Each field with its value and source, for the dry run and `customcd env`.
    pub fn provenance(&self) -> Vec<(&'static str, String, String)> {
        let mut rows: Vec<(&'static str, String, String)> = PAYLOAD_FIELDS
            .iter()
            .filter_map(|f| self.shown(f.key).map(|(value, source)| (f.name(), value, source.to_string())))
            .collect();
        for f in &self.optional {
            rows.push((OPTIONAL_FIELD, format!("{}={}", f.key, f.value), f.source.to_string()));
        }
        rows
    }

    /// A payload field as people read it, and its source; `None` for an unset optional field.
    fn shown(&self, key: Key) -> Option<(String, &Source)> {
        match key {
            Key::JobId => Some((self.job_id.value.clone(), &self.job_id.source)),
            Key::CommitSha => Some((self.commit_sha.value.clone(), &self.commit_sha.source)),
            Key::ServiceId => Some((self.service_id.value.to_string(), &self.service_id.source)),
            Key::JobStartTime => Some((
                format!("{} ({})", self.job_start_time.value, epoch::to_rfc3339(self.job_start_time.value)),
                &self.job_start_time.source,
            )),
            Key::JobDuration => Some((self.job_duration.value.to_string(), &self.job_duration.source)),
            Key::Status => Some((self.status.value.to_string(), &self.status.source)),
            Key::RepoId => shown_text(&self.repo_id),
            Key::RepoName => shown_text(&self.repo_name),
            Key::TriggeredBy => shown_text(&self.triggered_by),
            Key::JobType => shown_text(&self.job_type),
            _ => None,
        }
    }
}

/// An optional text field as people read it, and its source.
fn shown_text(field: &Option<Sourced<String>>) -> Option<(String, &Source)> {
    field.as_ref().map(|f| (f.value.clone(), &f.source))
}

/// Everything resolution needs besides the stacked settings.
pub struct Inputs<'a> {
    pub stack: &'a Stack,
    /// Optional fields of each source, highest precedence first.
    pub optional: &'a [OptionalInput],
    /// Why git could not supply `commit_sha` / `repo_name`, when it was asked and failed.
    pub git_error: Option<String>,
    /// The current time, epoch seconds (passed in so tests are deterministic).
    pub now: i64,
    /// Advice from the CI system for fields that stay missing.
    pub hints: &'a [(Key, String)],
    /// CI context fields, added after the user's own optional fields and the change set.
    pub context: Vec<OptionalField>,
    /// Fields of first-class settings (`environment`), added right after the user's own fields.
    pub primary: Vec<OptionalField>,
    /// What the deploy ships, added after the user's fields and before the CI context.
    pub change_set: Option<&'a ChangeSet>,
}

#[cfg(test)]
impl<'a> Inputs<'a> {
    /// Inputs of `stack` alone: no optional fields, hints, context or change set, at time 0.
    pub fn of(stack: &'a Stack) -> Inputs<'a> {
        Inputs {
            stack,
            optional: &[],
            git_error: None,
            now: 0,
            hints: &[],
            context: Vec::new(),
            primary: Vec::new(),
            change_set: None,
        }
    }
}

/// The payload's scalar fields as read from the stack, each when it was given and valid.
#[derive(Default)]
struct Scalars {
    commit_sha: Option<Sourced<String>>,
    service_id: Option<Sourced<u64>>,
    job_start_time: Option<Sourced<i64>>,
    job_duration: Option<Sourced<u64>>,
    status: Option<Sourced<Status>>,
}

impl Scalars {
    /// Reads the given value of `key` by its rule; a value that breaks it is a problem. Text
    /// fields (ids, names) have no reading of their own: [`check_identifier`] holds them.
    fn read(&mut self, key: Key, v: &Sourced<String>, problems: &mut Vec<Problem>) {
        match key {
            Key::CommitSha => self.commit_sha = check_sha(v, problems),
            Key::ServiceId => {
                self.service_id = error::read(
                    v,
                    "service_id",
                    |t| t.parse::<u64>().ok().filter(|n| (1..=MAX_API_INTEGER).contains(n)),
                    format!("must be a whole number from 1 to {MAX_API_INTEGER} (the ID of your Custom CD service)"),
                    "use the number Allstacks shows for the service, e.g. 42",
                    problems,
                )
            }
            Key::JobStartTime => {
                self.job_start_time = match epoch::parse_time(&v.value) {
                    Ok(t) => Some(Sourced::new(t, v.source.clone())),
                    Err(e) => {
                        problems.push(
                            Problem::new("job_start_time", e.to_string(), e.fix())
                                .value(v.value.clone())
                                .source(v.source.clone()),
                        );
                        None
                    }
                }
            }
            Key::JobDuration => {
                self.job_duration = error::read(
                    v,
                    "job_duration",
                    |t| t.parse::<u64>().ok().filter(|n| *n <= MAX_API_INTEGER),
                    format!("must be whole seconds, from 0 to {MAX_API_INTEGER}"),
                    "give the duration in seconds, e.g. 300, or leave it unset to use now minus the start time",
                    problems,
                )
            }
            Key::Status => {
                self.status = error::read(
                    v,
                    "status",
                    Status::parse,
                    format!("is not a status word; accepted (any case): {}", Status::accepted_words()),
                    "pass the job's outcome, e.g. --status success",
                    problems,
                )
            }
            _ => {}
        }
    }
}

/// Resolves and validates a job; on failure, every problem found.
///
/// The field table (`PAYLOAD_FIELDS`) drives it: each field, in the table's order, is read by its
/// rule when given, and when not, asked for, derived or left out as the table says. So problems
/// come in the body's order, and a new required field needs its table entry and its rule only.
pub fn resolve(inputs: &Inputs<'_>) -> Result<Job, Vec<Problem>> {
    let stack = inputs.stack;
    let mut problems = Vec::new();
    let mut scalars = Scalars::default();
    for field in PAYLOAD_FIELDS {
        match (stack.get(field.key), field.missing) {
            (Some(v), _) => scalars.read(field.key, v, &mut problems),
            (None, Missing::Ask { what, from_git }) => problems.push(missing(inputs, field.key, what, from_git)),
            (None, Missing::Derived | Missing::Quiet) => {}
        }
    }
    // Times no job can have: before 2000, or further ahead of the clock (the run's own; for a
    // stored record or a test, this machine's now) than the skew allowed.
    let clock = if inputs.now > 0 { inputs.now } else { epoch::now() };
    if let Some(start) = scalars.job_start_time.take() {
        match epoch::check_start(start.value, clock) {
            Ok(_) => scalars.job_start_time = Some(start),
            Err(e) => {
                let given = stack.get(Key::JobStartTime).map(|v| v.value.clone()).unwrap_or_default();
                problems.push(Problem::new("job_start_time", e.to_string(), e.fix()).value(given).source(start.source));
            }
        }
    }
    if let (Some(start), Some(duration)) = (&scalars.job_start_time, &scalars.job_duration) {
        let end = start.value.saturating_add(i64::try_from(duration.value).unwrap_or(i64::MAX));
        if end > clock.saturating_add(epoch::CLOCK_SKEW) {
            problems.push(
                Problem::new(
                    "job_duration",
                    format!(
                        "makes the job end at {}, {} s in the future (more than the {} s of clock skew allowed)",
                        epoch::to_rfc3339(end),
                        end - clock,
                        epoch::CLOCK_SKEW
                    ),
                    "give the job's real duration in seconds, or leave it unset to use now minus the start time",
                )
                .value(duration.value.to_string())
                .source(duration.source.clone()),
            );
        }
    }
    // Never negative: a start in the future (clock skew between machines) counts as 0.
    if scalars.job_duration.is_none() && stack.get(Key::JobDuration).is_none() {
        scalars.job_duration = scalars.job_start_time.as_ref().map(|start| {
            let elapsed = u64::try_from(inputs.now.saturating_sub(start.value)).unwrap_or(0);
            Sourced::new(elapsed, Source::Default("now minus job_start_time".to_owned()))
        });
    }
    let repo_id = text(stack, Key::RepoId);
    let repo_name = text(stack, Key::RepoName);
    if repo_id.is_none() && repo_name.is_none() {
        problems.push(no_repository(inputs));
    }
    let end = match (&scalars.job_start_time, &scalars.job_duration) {
        (Some(start), Some(duration)) => {
            Some(start.value.saturating_add(i64::try_from(duration.value).unwrap_or(i64::MAX)))
        }
        _ => None,
    };
    let (optional, warnings) = optional_fields(inputs, end, &mut problems);
    let job_id = job_id(stack, &scalars, &mut problems);
    for key in [Key::JobId, Key::RepoId, Key::RepoName, Key::TriggeredBy, Key::JobType] {
        if let Some(v) = stack.get(key) {
            check_identifier(key, v, &mut problems);
        }
    }

    if !problems.is_empty() {
        return Err(problems);
    }
    let Scalars { commit_sha, service_id, job_start_time, job_duration, status } = scalars;
    match (job_id, commit_sha, service_id, job_start_time, job_duration, status) {
        (Some(job_id), Some(commit_sha), Some(service_id), Some(job_start_time), Some(job_duration), Some(status)) => {
            Ok(Job {
                job_id,
                commit_sha,
                service_id,
                job_start_time,
                job_duration,
                status,
                repo_id,
                repo_name,
                triggered_by: text(stack, Key::TriggeredBy),
                job_type: text(stack, Key::JobType),
                optional,
                warnings,
            })
        }
        // Every None above pushed a problem, so this arm is unreachable; say so rather than panic.
        _ => Err(vec![Problem::new("job", "could not be resolved", "report this as a bug in customcd")]),
    }
}

/// The problem for a required field no source gave: `what` is what the table says to give.
fn missing(inputs: &Inputs<'_>, key: Key, what: &str, from_git: bool) -> Problem {
    let rule = match (&inputs.git_error, from_git) {
        (Some(e), true) => format!("is required, and git could not supply it: {e}"),
        _ => "is required".to_owned(),
    };
    Problem::new(key.name(), rule, fix_for(inputs, key, what))
}

/// The problem for a job without `repo_id` or `repo_name`.
fn no_repository(inputs: &Inputs<'_>) -> Problem {
    let rule = match &inputs.git_error {
        Some(e) => format!("one of repo_id and repo_name is required, and git could not supply a name: {e}"),
        None => {
            "one of repo_id and repo_name is required, and the repository has no origin remote to name it".to_owned()
        }
    };
    Problem::new(
        "repo_id / repo_name",
        rule,
        format!(
            "pass {} owner/name (or {} N), or set {}",
            flag_name(Key::RepoName),
            flag_name(Key::RepoId),
            var_name(Key::RepoName)
        ),
    )
}

/// The optional fields within the API's budget of [`MAX_FIELDS`]: the user's own fields come
/// first and win on a clash; then the first-class settings, then the change set (for a job that
/// ended at `end`), then the CI context, each only in free places. Also the warning naming what
/// did not fit.
fn optional_fields(
    inputs: &Inputs<'_>,
    end: Option<i64>,
    problems: &mut Vec<Problem>,
) -> (Vec<OptionalField>, Vec<String>) {
    let mut optional = optional::assemble(inputs.optional, problems);
    if optional.len() > MAX_FIELDS {
        problems.push(Problem::new(
            "optional",
            format!("at most {MAX_FIELDS} optional fields are allowed, found {}", optional.len()),
            "drop some fields, or combine values of one key into a list",
        ));
    }
    let mut warnings = Vec::new();
    let mut dropped = Vec::new();
    let shipped = match (inputs.change_set, end) {
        (Some(set), Some(end)) => set.fields(end),
        _ => Vec::new(),
    };
    for field in inputs.primary.iter().chain(&shipped).chain(&inputs.context) {
        if optional.iter().any(|f| f.key == field.key) {
            continue;
        }
        if optional.len() >= MAX_FIELDS {
            dropped.push(field.key.clone());
        } else {
            optional.push(field.clone());
        }
    }
    if !dropped.is_empty() {
        warnings.push(format!(
            "the optional fields {} were left out: the API allows at most {MAX_FIELDS} optional fields; yours come first, then environment, the change set and the CI context (--no-ci-fields turns the CI context off)",
            dropped.join(", ")
        ));
    }
    (optional, warnings)
}

/// The job id: as given (trimmed, never blank), else made from the commit and start, which is
/// stable across retries of the same report, as the server expects of a job id.
fn job_id(stack: &Stack, scalars: &Scalars, problems: &mut Vec<Problem>) -> Option<Sourced<String>> {
    match stack.get(Key::JobId) {
        Some(v) if v.value.trim().is_empty() => {
            problems.push(
                Problem::new("job_id", "must not be blank", "give an identifier for this run").source(v.source.clone()),
            );
            None
        }
        Some(v) => Some(Sourced::new(v.value.trim().to_owned(), v.source.clone())),
        None => match (&scalars.commit_sha, &scalars.job_start_time) {
            (Some(sha), Some(start)) => Some(Sourced::new(
                format!("{}-{}", &sha.value[..12], start.value),
                Source::Default("commit_sha and job_start_time".to_owned()),
            )),
            _ => None,
        },
    }
}

/// The fix for a missing field: the CI system's advice first, when it has some.
fn fix_for(inputs: &Inputs<'_>, key: Key, what: &str) -> String {
    let generic = format!("pass {} or set {} to {what}", flag_name(key), var_name(key));
    match inputs.hints.iter().find(|(k, _)| *k == key) {
        Some((_, hint)) => format!("{hint}; or {generic}"),
        None => generic,
    }
}

/// Resolves a stored record (a payload file, a CSV row, a tag): nothing comes from CI, git or the
/// clock, and `problems` already found in the record are reported first.
pub(crate) fn resolve_stored(
    stack: &Stack,
    optional: &[OptionalInput],
    mut problems: Vec<Problem>,
) -> Result<Job, Vec<Problem>> {
    let inputs = Inputs {
        stack,
        optional,
        git_error: None,
        now: 0,
        hints: &[],
        context: Vec::new(),
        primary: Vec::new(),
        change_set: None,
    };
    match resolve(&inputs) {
        Ok(job) if problems.is_empty() => Ok(job),
        Ok(_) => Err(problems),
        Err(mut more) => {
            problems.append(&mut more);
            Err(problems)
        }
    }
}

/// The longest identifier (`job_id`, `repo_name`, ...) accepted, in characters: far above any real
/// one, and low enough that a runaway value is refused instead of sent and echoed.
pub(crate) const MAX_IDENTIFIER: usize = 1024;

/// An identifier is one line of printable text: a newline or other control character would break
/// logs, and on GitHub could forge a workflow command from a value a pull request controls.
fn check_identifier(key: Key, v: &Sourced<String>, problems: &mut Vec<Problem>) {
    let value = v.value.trim();
    let rule = if let Some(c) = value.chars().find(|c| c.is_control()) {
        Some(format!(
            "contains the control character U+{:04X}; identifiers are one line of printable text",
            u32::from(c)
        ))
    } else if value.chars().count() > MAX_IDENTIFIER {
        Some(format!("is {} characters long; at most {MAX_IDENTIFIER} are accepted", value.chars().count()))
    } else {
        None
    };
    if let Some(rule) = rule {
        problems.push(
            Problem::new(key.name(), rule, format!("pass a plain one-line value to {}", flag_name(key)))
                .value(value.to_owned())
                .source(v.source.clone()),
        );
    }
}

/// A free-text field, trimmed; blank counts as unset.
fn text(stack: &Stack, key: Key) -> Option<Sourced<String>> {
    stack.get(key).map(|v| v.clone().map(|s| s.trim().to_owned())).filter(|v| !v.value.is_empty())
}

/// Whether `sha` is a full commit id: 40 (SHA-1) or 64 (SHA-256) hex digits, either case.
pub fn is_full_sha(sha: &str) -> bool {
    matches!(sha.len(), 40 | 64) && sha.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The commit a job deploys, as the payload will carry it (trimmed, lowercased), when the stack's
/// `commit_sha` is a valid one; [`resolve`] says what is wrong with it otherwise. Commands that
/// need the commit before the job is whole (the change set) take it from here, so the rule is
/// written once.
pub(crate) fn deployed_commit(stack: &Stack) -> Option<String> {
    stack.get(Key::CommitSha).and_then(|v| check_sha(v, &mut Vec::new())).map(|v| v.value)
}

/// Checks a commit SHA: 40 (SHA-1) or 64 (SHA-256) hex characters. Returns it lowercased.
fn check_sha(v: &Sourced<String>, problems: &mut Vec<Problem>) -> Option<Sourced<String>> {
    let sha = v.value.trim();
    let rule = if let Some(bad) = sha.chars().find(|c| !c.is_ascii_hexdigit()) {
        Some(format!(
            "contains {}, which is not a hex digit; a commit SHA is 40 (SHA-1) or 64 (SHA-256) hex characters",
            quote(&bad.to_string())
        ))
    } else if !sha.is_empty() && sha.bytes().all(|b| b == b'0') {
        Some("is git's null id (all zeros), which CI variables carry for a new branch or a deleted one; it names no commit".to_owned())
    } else if sha.len() != 40 && sha.len() != 64 {
        Some(format!(
            "is {} characters long; a full commit SHA has 40 (SHA-1) or 64 (SHA-256) hex characters",
            sha.len()
        ))
    } else {
        None
    };
    match rule {
        Some(rule) => {
            problems.push(
                Problem::new(
                    "commit_sha",
                    rule,
                    "give the full SHA, e.g. \"$(git rev-parse HEAD)\"; short SHAs and ref names are not accepted",
                )
                .value(v.value.clone())
                .source(v.source.clone()),
            );
            None
        }
        None => Some(Sourced::new(sha.to_ascii_lowercase(), v.source.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SHA: &str = "a2e7da86cc392417b0d9f605b28038aae80b002f";

    fn flag(key: Key) -> Source {
        Source::Flag(flag_name(key))
    }

    fn stack(pairs: &[(Key, &str)]) -> Stack {
        Stack::of(pairs, flag)
    }

    fn valid() -> Vec<(Key, &'static str)> {
        vec![
            (Key::JobId, "1"),
            (Key::CommitSha, SHA),
            (Key::ServiceId, "2"),
            (Key::JobStartTime, "1704018030"),
            (Key::JobDuration, "300"),
            (Key::Status, "Succeeded"),
            (Key::RepoId, "12345"),
        ]
    }

    fn run(pairs: &[(Key, &str)]) -> Result<Job, Vec<Problem>> {
        let s = stack(pairs);
        resolve(&Inputs { now: 1_704_018_330, ..Inputs::of(&s) })
    }

    fn problems(pairs: &[(Key, &str)]) -> Vec<Problem> {
        run(pairs).expect_err("this job is invalid")
    }

    fn with(extra: &[(Key, &'static str)]) -> Vec<(Key, &'static str)> {
        let mut v: Vec<_> = valid().into_iter().filter(|(k, _)| !extra.iter().any(|(e, _)| e == k)).collect();
        v.extend(extra.iter().copied());
        v
    }

    fn without(key: Key) -> Vec<(Key, &'static str)> {
        valid().into_iter().filter(|(k, _)| *k != key).collect()
    }

    #[test]
    fn provenance_lists_every_set_payload_field_in_the_table_order() {
        let job = run(&with(&[(Key::RepoName, "acme/app"), (Key::TriggeredBy, "me"), (Key::JobType, "deploy")]))
            .expect("valid");
        let names: Vec<&str> = job.provenance().iter().map(|(n, _, _)| *n).collect();
        let want: Vec<&str> = PAYLOAD_FIELDS.iter().map(|f| f.name()).collect();
        assert_eq!(names, want, "every payload field, once, as the table declares them");
    }

    #[test]
    fn service_id_and_duration_fit_the_apis_integers() {
        let p = problems(&with(&[(Key::ServiceId, "2147483648")]));
        assert!(p.iter().any(|p| p.field == "service_id" && p.rule.contains("2147483647")), "{p:?}");
        let p = problems(&with(&[(Key::JobDuration, "99999999999")]));
        assert!(p.iter().any(|p| p.field == "job_duration"), "{p:?}");
        // The largest duration the API takes, for a job that ended before the clock's now.
        let s = stack(&with(&[(Key::ServiceId, "2147483647"), (Key::JobDuration, "2147483647")]));
        assert!(resolve(&Inputs { now: 4_000_000_000, ..Inputs::of(&s) }).is_ok());
    }

    #[test]
    fn the_null_id_is_not_a_commit() {
        for zeros in ["0".repeat(40), "0".repeat(64)] {
            let zeros: &'static str = Box::leak(zeros.into_boxed_str());
            let p = problems(&with(&[(Key::CommitSha, zeros)]));
            assert!(p.iter().any(|p| p.field == "commit_sha" && p.rule.contains("null id")), "{p:?}");
        }
    }

    #[test]
    fn identifiers_with_control_characters_or_runaway_length_are_refused() {
        let p = problems(&with(&[(Key::JobId, "x\n::error::pwned")]));
        assert!(p.iter().any(|p| p.field == "job_id" && p.rule.contains("U+000A")), "{p:?}");
        let p = problems(&with(&[(Key::TriggeredBy, "a\u{1b}[31mb")]));
        assert!(p.iter().any(|p| p.field == "triggered_by" && p.rule.contains("U+001B")), "{p:?}");
        let long: &'static str = Box::leak("x".repeat(MAX_IDENTIFIER + 1).into_boxed_str());
        let p = problems(&with(&[(Key::RepoName, long)]));
        assert!(p.iter().any(|p| p.field == "repo_name" && p.rule.contains("at most 1024")), "{p:?}");
        assert!(run(&with(&[(Key::JobId, "ok-1 with spaces")])).is_ok());
    }

    #[test]
    fn a_valid_job_becomes_the_vendor_sample_body() {
        let job =
            run(&with(&[(Key::TriggeredBy, "testuser@org.com"), (Key::JobType, "Production Deploy")])).expect("valid");
        let body: serde_json::Value = serde_json::from_str(&job.body()).expect("json");
        assert_eq!(
            body,
            json!({
                "job_id": "1", "status": "Succeeded", "commit_sha": SHA, "triggered_by": "testuser@org.com",
                "repo_id": "12345", "service_id": 2, "job_start_time": 1_704_018_030, "job_duration": 300,
                "job_type": "Production Deploy"
            })
        );
    }

    #[test]
    fn unset_fields_are_omitted_not_null() {
        let job = run(&valid()).expect("valid");
        let body = job.body();
        assert!(!body.contains("null") && !body.contains("\"\""), "{body}");
        assert!(!body.contains("optional") && !body.contains("repo_name"), "{body}");
    }

    #[test]
    fn the_commit_sha_is_lowercased_and_sha256_is_accepted() {
        let upper = SHA.to_ascii_uppercase();
        let job = run(&with(&[(Key::CommitSha, &*Box::leak(upper.into_boxed_str()))])).expect("valid");
        assert_eq!(job.commit_sha.value, SHA);
        let sha256 = "0123456789abcdef".repeat(4);
        let job = run(&with(&[(Key::CommitSha, &*Box::leak(sha256.clone().into_boxed_str()))])).expect("valid");
        assert_eq!(job.commit_sha.value, sha256);
    }

    #[test]
    fn each_rule_is_enforced_and_names_the_field_value_and_source() {
        type Case<'a> = (&'a [(Key, &'a str)], &'a str, &'a str);
        let cases: &[Case] = &[
            (&[(Key::CommitSha, "a2e7da8")], "commit_sha", "7 characters"),
            (&[(Key::CommitSha, "g2e7da86cc392417b0d9f605b28038aae80b002f")], "commit_sha", "not a hex digit"),
            (&[(Key::CommitSha, "HEAD")], "commit_sha", "not a hex digit"),
            (&[(Key::ServiceId, "abc")], "service_id", "whole number from 1"),
            (&[(Key::ServiceId, "0")], "service_id", "whole number from 1"),
            (&[(Key::ServiceId, "-2")], "service_id", "whole number from 1"),
            (&[(Key::JobStartTime, "1704018030000")], "job_start_time", "milliseconds"),
            (&[(Key::JobStartTime, "soon")], "job_start_time", "neither epoch seconds"),
            (&[(Key::JobDuration, "-1")], "job_duration", "whole seconds"),
            (&[(Key::JobDuration, "1.5")], "job_duration", "whole seconds"),
            (&[(Key::Status, "running")], "status", "accepted"),
        ];
        for (extra, field, needle) in cases {
            let p = problems(&with(extra));
            assert_eq!(p.len(), 1, "{extra:?}: {p:?}");
            assert_eq!(p[0].field, *field);
            assert!(p[0].rule.contains(needle), "{extra:?}: {}", p[0]);
            assert_eq!(p[0].value.as_deref(), Some(extra[0].1));
            assert_eq!(p[0].source, Some(flag(extra[0].0)));
            assert!(!p[0].fix.is_empty());
        }
    }

    #[test]
    fn missing_required_fields_are_each_reported() {
        for (key, field) in [
            (Key::CommitSha, "commit_sha"),
            (Key::ServiceId, "service_id"),
            (Key::JobStartTime, "job_start_time"),
            (Key::Status, "status"),
            (Key::RepoId, "repo_id / repo_name"),
        ] {
            let p = problems(&without(key));
            assert_eq!(p.len(), 1, "{field}: {p:?}");
            assert_eq!(p[0].field, field);
            assert!(p[0].fix.contains("--"), "the fix names a flag: {}", p[0]);
        }
    }

    #[test]
    fn each_field_the_table_asks_for_is_asked_for_in_its_words_and_the_derived_ones_are_made() {
        // Both repository fields, so that either alone still names the repository.
        let full = with(&[(Key::RepoName, "acme/app")]);
        for field in PAYLOAD_FIELDS {
            let rest: Vec<_> = full.iter().copied().filter(|(k, _)| *k != field.key).collect();
            let p = run(&rest).err().unwrap_or_default();
            match field.missing {
                Missing::Ask { what, .. } => {
                    assert_eq!(p.len(), 1, "{}: {p:?}", field.name());
                    assert_eq!(p[0].field, field.name());
                    assert!(p[0].fix.contains(what) && p[0].fix.contains(&flag_name(field.key)), "{}", p[0]);
                }
                Missing::Derived | Missing::Quiet => {
                    assert!(p.is_empty(), "{} is not required alone: {p:?}", field.name())
                }
            }
        }
    }

    #[test]
    fn all_problems_are_reported_together() {
        let p = problems(&[(Key::CommitSha, "abc"), (Key::ServiceId, "x"), (Key::Status, "meh")]);
        let fields: Vec<_> = p.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["commit_sha", "service_id", "job_start_time", "status", "repo_id / repo_name"]);
    }

    #[test]
    fn a_git_failure_is_named_only_when_git_was_needed() {
        let s = stack(&without(Key::CommitSha));
        let p = resolve(&Inputs { git_error: Some("no repository found above /tmp/x".into()), ..Inputs::of(&s) })
            .expect_err("no sha");
        assert!(p[0].rule.contains("no repository found above /tmp/x"), "{}", p[0]);
    }

    #[test]
    fn duration_defaults_to_now_minus_start_and_is_never_negative() {
        let job = run(&without(Key::JobDuration)).expect("valid");
        assert_eq!(job.job_duration.value, 300);
        assert!(matches!(job.job_duration.source, Source::Default(_)));
        let s = stack(&without(Key::JobDuration));
        // A start a little ahead of this clock (skew between machines) is a duration of 0.
        let job = resolve(&Inputs { now: 1_704_018_030 - 100, ..Inputs::of(&s) }).expect("valid");
        assert_eq!(job.job_duration.value, 0);
    }

    #[test]
    fn times_no_job_can_have_are_refused_with_the_bounds_named() {
        let now = 1_704_018_330;
        let at = |start: &str, duration: Option<&str>| {
            let mut pairs = without(Key::JobDuration);
            pairs.retain(|(k, _)| *k != Key::JobStartTime);
            pairs.push((Key::JobStartTime, Box::leak(start.to_owned().into_boxed_str())));
            if let Some(d) = duration {
                pairs.push((Key::JobDuration, Box::leak(d.to_owned().into_boxed_str())));
            }
            let s = stack(&pairs);
            resolve(&Inputs { now, ..Inputs::of(&s) })
        };
        for start in ["0", "1", "946684799", "1999-12-31T23:59:59Z"] {
            let p = at(start, None).expect_err(start);
            assert!(
                p.iter().any(|p| p.field == "job_start_time" && p.rule.contains("before 2000-01-01")),
                "{start}: {p:?}"
            );
        }
        assert!(at("946684800", Some("60")).is_ok(), "2000-01-01 itself is allowed");
        let ahead = (now + epoch::CLOCK_SKEW + 1).to_string();
        let p = at(&ahead, None).expect_err("future");
        assert!(p.iter().any(|p| p.field == "job_start_time" && p.rule.contains("in the future")), "{p:?}");
        assert!(at(&(now + epoch::CLOCK_SKEW).to_string(), None).is_ok(), "within the skew allowed");
        let p = at(&(now - 10).to_string(), Some("3600")).expect_err("ends in the future");
        assert!(p.iter().any(|p| p.field == "job_duration" && p.rule.contains("in the future")), "{p:?}");
        assert!(at(&(now - 3600).to_string(), Some("3600")).is_ok());
    }

    #[test]
    fn rfc3339_start_times_become_epoch_seconds() {
        let job = run(&with(&[(Key::JobStartTime, "2023-12-31T10:00:00+00:00")])).expect("valid");
        assert_eq!(job.job_start_time.value, 1_704_016_800);
    }

    #[test]
    fn status_words_map_to_api_values() {
        let job = run(&with(&[(Key::Status, "cancelled")])).expect("valid");
        assert_eq!(job.payload().status, "Failed");
        let job = run(&with(&[(Key::Status, "manual")])).expect("valid");
        assert_eq!(job.payload().status, "On Hold");
    }

    #[test]
    fn job_id_defaults_to_commit_and_start() {
        let job = run(&without(Key::JobId)).expect("valid");
        assert_eq!(job.job_id.value, "a2e7da86cc39-1704018030");
    }

    #[test]
    fn more_than_twenty_optional_fields_are_refused() {
        let specs: Vec<Sourced<String>> =
            (0..21).map(|i| Sourced::new(format!("k{i}=v"), Source::Flag("--field".into()))).collect();
        let opt = [OptionalInput { specs, json: None }];
        let s = stack(&valid());
        let p = resolve(&Inputs { optional: &opt, ..Inputs::of(&s) }).expect_err("too many");
        assert!(p[0].rule.contains("at most 20"), "{}", p[0]);
    }
    #[test]
    fn the_body_has_exactly_the_payload_fields_of_the_table() {
        let mut pairs = valid();
        pairs.extend([(Key::RepoName, "acme/app"), (Key::TriggeredBy, "me"), (Key::JobType, "deploy")]);
        let job = run(&pairs).expect("valid");
        let body: serde_json::Value = serde_json::from_str(&job.body()).expect("JSON");
        let keys: Vec<&str> = body.as_object().expect("object").keys().map(String::as_str).collect();
        let mut want: Vec<&str> = crate::vocab::names::PAYLOAD_FIELDS.iter().map(|f| f.name()).collect();
        want.sort_unstable();
        let mut keys = keys;
        keys.sort_unstable();
        assert_eq!(keys, want, "Payload and PAYLOAD_FIELDS disagree");
    }
}

#[cfg(test)]
mod context_tests {
    use super::*;
    use crate::vocab::names::Layer;

    fn base_stack() -> Stack {
        let mut layer = Layer::default();
        for (k, v) in [
            (Key::CommitSha, "a2e7da86cc392417b0d9f605b28038aae80b002f"),
            (Key::ServiceId, "2"),
            (Key::JobStartTime, "1704018030"),
            (Key::Status, "success"),
            (Key::RepoName, "acme/app"),
        ] {
            layer.set(k, Sourced::new(v.to_owned(), Source::Flag(flag_name(k))));
        }
        let mut s = Stack::default();
        s.push(layer);
        s
    }

    fn ctx(key: &str) -> OptionalField {
        OptionalField {
            key: key.to_owned(),
            value: serde_json::Value::String(format!("ci-{key}")),
            ty: optional::FieldType::String,
            source: Source::Ci { system: "Test CI", detail: "X".into() },
        }
    }

    #[test]
    fn ci_context_follows_the_users_fields_and_never_overrides_them() {
        let s = base_stack();
        let opt = [OptionalInput {
            specs: vec![Sourced::new("branch=mine".into(), Source::Flag("--field".into()))],
            json: None,
        }];
        let job = resolve(&Inputs { optional: &opt, context: vec![ctx("ci_system"), ctx("branch")], ..Inputs::of(&s) })
            .expect("valid");
        let keys: Vec<_> = job.optional.iter().map(|f| (f.key.as_str(), f.value.as_str().unwrap_or(""))).collect();
        assert_eq!(keys, [("branch", "mine"), ("ci_system", "ci-ci_system")]);
        assert!(job.warnings.is_empty());
    }

    #[test]
    fn exactly_twenty_optional_fields_are_allowed_and_twenty_one_are_not() {
        let s = base_stack();
        let run = |n: usize| {
            let specs = (0..n).map(|i| Sourced::new(format!("k{i}=v"), Source::Flag("--field".into()))).collect();
            let opt = [OptionalInput { specs, json: None }];
            resolve(&Inputs { optional: &opt, ..Inputs::of(&s) })
        };
        assert_eq!(run(20).expect("twenty fit").optional.len(), 20);
        let p = run(21).expect_err("twenty-one do not");
        assert!(p.iter().any(|p| p.field == "optional" && p.rule.contains("at most 20")), "{p:?}");
    }

    #[test]
    fn ci_context_is_dropped_with_a_warning_rather_than_exceeding_twenty() {
        let s = base_stack();
        let specs = (0..19).map(|i| Sourced::new(format!("k{i}=v"), Source::Flag("--field".into()))).collect();
        let opt = [OptionalInput { specs, json: None }];
        let job =
            resolve(&Inputs { optional: &opt, context: vec![ctx("ci_system"), ctx("run_url")], ..Inputs::of(&s) })
                .expect("valid");
        assert_eq!(job.optional.len(), 20);
        assert_eq!(job.warnings.len(), 1);
        assert!(job.warnings[0].contains("run_url"), "{}", job.warnings[0]);
    }

    #[test]
    fn the_budget_keeps_user_fields_then_environment_then_the_change_set_then_ci_context() {
        let s = base_stack();
        let specs = (0..15).map(|i| Sourced::new(format!("k{i}=v"), Source::Flag("--field".into()))).collect();
        let opt = [OptionalInput { specs, json: None }];
        let set = ChangeSet {
            previous: Sourced::new("b".repeat(40), Source::Flag("--previous-sha".into())),
            commits: 3,
            capped: false,
            author_times: vec![10, 20, 30],
            authors: 2,
            pull_requests: vec![7],
            is_rollback: false,
            reverts: 0,
            diverged: false,
            undated: 0,
        };
        let job = resolve(&Inputs {
            optional: &opt,
            context: vec![ctx("ci_system")],
            primary: vec![ctx("environment")],
            change_set: Some(&set),
            ..Inputs::of(&s)
        })
        .expect("valid");
        let keys: Vec<&str> = job.optional.iter().map(|f| f.key.as_str()).skip(15).collect();
        assert_eq!(keys, ["environment", "previous_sha", "commit_count", "lead_time", "first_commit_time"]);
        let warning = job.warnings.join("\n");
        for dropped in ["lead_time_median", "author_count", "pull_requests", "is_rollback", "reverts", "ci_system"] {
            assert!(warning.contains(dropped), "{dropped} is named: {warning}");
        }
    }

    #[test]
    fn a_ci_hint_leads_the_fix_for_a_missing_status() {
        let mut layer = Layer::default();
        layer.set(
            Key::CommitSha,
            Sourced::new("a2e7da86cc392417b0d9f605b28038aae80b002f".into(), Source::Flag("--commit-sha".into())),
        );
        let mut s = Stack::default();
        s.push(layer);
        let hints = [(Key::Status, "report from after_script".to_owned())];
        let p = resolve(&Inputs { hints: &hints, ..Inputs::of(&s) }).expect_err("invalid");
        let status = p.iter().find(|p| p.field == "status").expect("a status problem");
        assert!(
            status.fix.starts_with("report from after_script; or --status")
                || status.fix.starts_with("report from after_script; or pass --status"),
            "{}",
            status.fix
        );
        let start = p.iter().find(|p| p.field == "job_start_time").expect("a start problem");
        assert!(!start.fix.contains("after_script"), "another field's hint is not this one's: {}", start.fix);
    }
}
