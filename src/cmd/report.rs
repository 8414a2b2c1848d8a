//! The `report` command (gather the sources, resolve one valid job, print it or post it and judge
//! the answer) and `env` (show what would be reported and where each value comes from).

use crate::delivery;
use crate::delivery::http;
use crate::delivery::spool;
use crate::env::Env;
use crate::error::{Error, Problem};
use crate::git::remote;
use crate::job::optional::{FieldType, OptionalField};
use crate::job::{self, Inputs, Job};
use crate::output::{self, github};
use crate::settings::names::Key;
use crate::settings::source::Source;
use crate::settings::sources::Gathered;
use crate::settings::Settings;

/// Runs `customcd report` from its settings; `now` is epoch seconds.
pub fn run(settings: Settings, env: &Env, now: i64) -> Result<(), Error> {
    let Some(gathered) = &settings.job else {
        return Err(Error::Internal(anyhow::anyhow!("report was resolved without its job's sources")));
    };
    let github = settings.github();
    settings.announce();
    let mut problems = Vec::new();
    let job = resolve(gathered, settings.ci_fields.value, now, &mut problems);
    let job = match job {
        Some(job) if problems.is_empty() => job,
        _ => return Err(Error::Invalid(problems)),
    };
    for w in gathered.warnings.iter().chain(&job.warnings) {
        output::warn(w);
    }

    if settings.dry_run.value {
        print_sources(&settings, &job);
        output::stdout(&job.body());
        if github {
            github::write_outputs(env, &job, None, None);
        }
        return Ok(());
    }
    let Some(connection) = &settings.connection else {
        return Err(Error::Internal(anyhow::anyhow!("a connection was expected once all problems were ruled out")));
    };
    let deadline = settings.deadline.value;
    let body = job.body();
    let agent = http::agent(&connection.transport);
    let delivery = delivery::deliver(&agent, connection, &body, deadline, None);
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
    let spooled = if result.is_err() || settings.spool_always.value {
        let dir = &settings.spool_dir;
        match spool::write(&dir.value, &job.job_id.value, &body) {
            Ok(path) => {
                if result.is_err() {
                    output::warn(&format!(
                        "the job was not delivered and is saved in {} ({}); resend it with: {}",
                        path.display(),
                        dir.source,
                        settings.resend_hint(&path)
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
        github::write_outputs(env, &job, delivery.http_status, spooled.as_deref());
        github::write_summary(env, &job, delivery.http_status, &result);
    }
    if let Some(path) = &gathered.state_file {
        // The recorded start belonged to this job, which is now reported (or kept in the spool).
        let _ = std::fs::remove_file(path);
    }
    settings.judge(result)
}

/// Resolves the job from what was gathered, adding CI context fields unless turned off.
fn resolve(gathered: &Gathered, ci_fields: bool, now: i64, problems: &mut Vec<Problem>) -> Option<Job> {
    let stack = &gathered.stack;
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

/// Each field, its value and where it came from, and where it would be sent, on standard error.
fn print_sources(settings: &Settings, job: &Job) {
    output::info("dry run: this job is valid; nothing was sent. Fields and their sources:");
    if let Some(ci) = &settings.ci {
        output::info(&format!("  CI system       {}", ci.system));
    }
    for (name, value, source) in job.provenance() {
        output::info(&format!("  {name:<15} {value}  ({source})"));
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
    let Some(gathered) = &settings.job else {
        return Err(Error::Internal(anyhow::anyhow!("env was resolved without the job's sources")));
    };
    let system = settings.ci.as_ref().map_or("none detected", |c| c.system);
    output::stdout(&format!("CI system: {system}"));
    output::stdout("settings (the highest source wins):");
    for key in Key::ALL {
        let Some(v) = gathered.stack.get(*key) else {
            continue;
        };
        // URLs (endpoint, server, proxy) may carry user-info; the token is never shown.
        let shown = match key {
            Key::Token => "***".to_owned(),
            _ => remote::redact(&v.value),
        };
        output::stdout(&format!("  {:<15} {}  ({})", key.name(), shown, v.source));
    }
    output::stdout("where the job would be sent:");
    for line in settings.connection_lines() {
        output::stdout(&format!("  {line}"));
    }
    let mut problems = settings.problems.clone();
    let job = resolve(gathered, settings.ci_fields.value, now, &mut problems);
    match job {
        Some(job) if problems.is_empty() => {
            output::stdout("job as it would be reported:");
            for (name, value, source) in job.provenance() {
                output::stdout(&format!("  {name:<15} {value}  ({source})"));
            }
            for w in settings.warnings.iter().chain(&gathered.warnings).chain(&job.warnings) {
                output::stdout(&format!("  warning: {w}"));
            }
        }
        _ => {
            output::stdout("the job would not be reported yet:");
            for p in &problems {
                output::stdout(&format!("  - {p}"));
            }
            for w in settings.warnings.iter().chain(&gathered.warnings) {
                output::stdout(&format!("  warning: {w}"));
            }
        }
    }
    Ok(())
}
