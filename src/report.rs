//! The `report` command (gather the sources, resolve one valid job, print it or post it and judge
//! the answer) and `env` (show what would be reported and where each value comes from).

use std::path::PathBuf;

use crate::cli::ReportArgs;
use crate::config::{self, Gathered};
use crate::delivery;
use crate::endpoint;
use crate::env::Env;
use crate::error::{Error, Problem};
use crate::github_io;
use crate::http;
use crate::job::{self, Inputs, Job};
use crate::optional::{FieldType, OptionalField};
use crate::output;
use crate::remote;
use crate::source::Source;
use crate::spool;
use crate::values::Key;

/// Runs `customcd report`. `now` is epoch seconds; `cwd` is where git discovery starts.
pub fn run(args: &ReportArgs, env: &Env, cwd: PathBuf, now: i64) -> Result<(), Error> {
    let gathered = config::gather(args, env, cwd.clone(), now)?;
    let github = gathered.ci.as_ref().is_some_and(|c| c.github_like);
    output::set_github(github);
    let stack = &gathered.stack;
    let mut problems = Vec::new();
    let dry_run = endpoint::flag_value(stack, Key::DryRun, false, &mut problems);
    let fail_on_error = endpoint::flag_value(stack, Key::FailOnError, true, &mut problems);
    let spool_always = endpoint::flag_value(stack, Key::SpoolAlways, false, &mut problems);
    let deadline = delivery::deadline(stack, &mut problems);
    // The token is resolved (and registered for redaction) before anything else is printed, and
    // masked in the GitHub log before any line that could hold it.
    let connection = if dry_run { None } else { endpoint::connection(stack, env, &mut problems) };
    if let (true, Some(c)) = (github, &connection) {
        github_io::mask(c.token.expose_for_masking());
    }
    let job = resolve(&gathered, now, &mut problems);
    let job = match job {
        Some(job) if problems.is_empty() => job,
        _ => return Err(Error::Invalid(problems)),
    };
    let transport_warnings = connection.as_ref().map(|c| c.transport.warnings.as_slice()).unwrap_or_default();
    for w in gathered.warnings.iter().chain(&job.warnings).chain(transport_warnings) {
        output::warn(w);
    }

    if dry_run {
        print_sources(&gathered, &job);
        output::stdout(&job.body());
        if github {
            write_outputs(env, &job, None, None);
        }
        return Ok(());
    }
    let Some(connection) = connection else {
        return Err(Error::Internal(anyhow::anyhow!("a connection was expected once all problems were ruled out")));
    };
    if connection.token_from_flag {
        output::warn("the token was given with --token, which other processes on this machine can read; prefer CUSTOMCD_TOKEN or --token-file");
    }
    let body = job.body();
    let agent = http::agent(&connection.transport);
    let delivery = delivery::deliver(&agent, &connection, &body, deadline, None);
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
    // Nothing is lost: an undelivered job is kept, and so is every job with --spool-always.
    let spooled = if result.is_err() || spool_always {
        let dir = spool::dir(stack, gathered.ci.as_ref(), env, &cwd);
        match spool::write(&dir.value, &job.job_id.value, &body) {
            Ok(path) => {
                if result.is_err() {
                    output::warn(&format!(
                        "the job was not delivered and is saved in {} ({}); resend it with: customcd send {}",
                        path.display(),
                        dir.source,
                        path.display()
                    ));
                } else {
                    output::info(&format!("a copy of the payload is saved in {}", path.display()));
                }
                Some(path)
            }
            Err(e) => {
                output::error(&format!(
                    "the payload could not be saved to the spool ({e:#}); it follows so that it is not lost:"
                ));
                output::stdout(&body);
                None
            }
        }
    } else {
        None
    };
    if github {
        write_outputs(env, &job, delivery.http_status, spooled.as_deref());
        write_summary(env, &job, delivery.http_status, &result);
    }
    if let Some(path) = &gathered.state_file {
        // The recorded start belonged to this job, which is now reported (or kept in the spool).
        let _ = std::fs::remove_file(path);
    }
    match result {
        Err(e @ (Error::Delivery(_) | Error::Refused { .. })) if !fail_on_error => {
            output::warn(&format!("{e:#} (fail_on_error is false, so this step does not fail)"));
            Ok(())
        }
        other => other,
    }
}

/// Resolves the job from what was gathered, adding CI context fields unless turned off.
fn resolve(gathered: &Gathered, now: i64, problems: &mut Vec<Problem>) -> Option<Job> {
    let stack = &gathered.stack;
    let ci_fields = endpoint::flag_value(stack, Key::CiFields, true, problems);
    let mut context = Vec::new();
    let mut hints: &[(Key, String)] = &[];
    if let Some(ci) = &gathered.ci {
        hints = &ci.hints;
        if ci_fields {
            let system = Source::Ci { system: ci.system, detail: "(detected)".to_owned() };
            context.push(string_field("ci_system", ci.system, system));
            for (key, value) in &ci.context {
                context.push(string_field(key, &value.value, value.source.clone()));
            }
        }
    }
    let inputs =
        Inputs { stack, optional: &gathered.optional, git_error: gathered.git_error.clone(), now, hints, context };
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

/// Each field, its value and where it came from, on standard error.
fn print_sources(gathered: &Gathered, job: &Job) {
    output::info("dry run: this job is valid; nothing was sent. Fields and their sources:");
    if let Some(ci) = &gathered.ci {
        output::info(&format!("  CI system       {}", ci.system));
    }
    for (name, value, source) in job.provenance() {
        output::info(&format!("  {name:<15} {value}  ({source})"));
    }
}

/// The step outputs on GitHub Actions. Failing to write them is worth a warning, not a failed
/// report.
fn write_outputs(env: &Env, job: &Job, http_status: Option<u16>, spooled: Option<&std::path::Path>) {
    let Some(path) = env.get("GITHUB_OUTPUT") else { return };
    let pairs = [
        ("job_id", job.job_id.value.clone()),
        ("commit_sha", job.commit_sha.value.clone()),
        ("status", job.status.value.to_string()),
        ("http_status", http_status.map(|s| s.to_string()).unwrap_or_default()),
        ("payload", job.body()),
        ("spool_file", spooled.map(|p| p.display().to_string()).unwrap_or_default()),
    ];
    if let Err(e) = github_io::append(path.as_ref(), &pairs) {
        output::warn(&format!("could not write the step outputs to {path}: {e}"));
    }
}

/// The step summary on GitHub Actions: what was reported, each field with its source.
fn write_summary(env: &Env, job: &Job, http_status: Option<u16>, result: &Result<(), Error>) {
    let Some(path) = env.get("GITHUB_STEP_SUMMARY") else { return };
    let outcome = match (result, http_status) {
        (Ok(()), Some(s)) => format!("sent, HTTP {s}"),
        (Err(e), _) => format!("not delivered: {}", e.to_string().lines().next().unwrap_or("")),
        (Ok(()), None) => "sent".to_owned(),
    };
    let mut md = format!(
        "### customcd: job {} reported ({})\n\n| field | value | source |\n|---|---|---|\n",
        github_io::cell(&job.job_id.value),
        github_io::cell(&outcome)
    );
    for (name, value, source) in job.provenance() {
        md.push_str(&format!("| `{name}` | {} | {} |\n", github_io::cell(&value), github_io::cell(&source)));
    }
    if let Some(url) = job.optional.iter().find(|f| f.key == "run_url").and_then(|f| f.value.as_str()) {
        md.push_str(&format!("\n[The run]({url})\n"));
    }
    md.push('\n');
    if let Err(e) = github_io::append_summary(path.as_ref(), &md) {
        output::warn(&format!("could not write the step summary to {path}: {e}"));
    }
}

/// Runs `customcd env`: the detected CI system, every setting with its winning source, and the job
/// as it would be reported (or what stops it). Needs no token and sends nothing.
pub fn show_env(args: &ReportArgs, env: &Env, cwd: PathBuf, now: i64) -> Result<(), Error> {
    let gathered = config::gather(args, env, cwd, now)?;
    let system = gathered.ci.as_ref().map_or("none detected", |c| c.system);
    output::stdout(&format!("CI system: {system}"));
    output::stdout("settings (the highest source wins):");
    for key in Key::ALL {
        let Some(v) = gathered.stack.get(*key) else {
            continue;
        };
        // URLs (endpoint, server, proxy) may carry user-info; the token is never shown.
        let shown = match key {
            Key::Token => "***".to_owned(),
            Key::TokenFile => crate::secret::shown_token_file(v.value.trim())
                .map_or_else(|| "(not shown: not a path, and may be the token itself)".to_owned(), str::to_owned),
            _ => remote::redact(&v.value),
        };
        output::stdout(&format!("  {:<15} {}  ({})", key.name(), shown, v.source));
    }
    let mut problems = Vec::new();
    match resolve(&gathered, now, &mut problems) {
        Some(job) if problems.is_empty() => {
            output::stdout("job as it would be reported:");
            for (name, value, source) in job.provenance() {
                output::stdout(&format!("  {name:<15} {value}  ({source})"));
            }
            for w in gathered.warnings.iter().chain(&job.warnings) {
                output::stdout(&format!("  warning: {w}"));
            }
        }
        _ => {
            output::stdout("the job would not be reported yet:");
            for p in &problems {
                output::stdout(&format!("  - {p}"));
            }
        }
    }
    Ok(())
}
