//! The `report` command: gather the sources, resolve one valid job, then print it (dry run) or
//! post it and judge the answer.

use std::path::PathBuf;

use crate::cli::ReportArgs;
use crate::config;
use crate::endpoint;
use crate::env::Env;
use crate::error::Error;
use crate::http;
use crate::job::{self, Inputs, Job};
use crate::output;
use crate::values::{Key, Stack};

/// Runs `customcd report`. `now` is epoch seconds; `cwd` is where git discovery starts.
pub fn run(args: &ReportArgs, env: &Env, cwd: PathBuf, now: i64) -> Result<(), Error> {
    let gathered = config::gather(args, env, cwd)?;
    let stack = &gathered.stack;
    let mut problems = Vec::new();
    let dry_run = endpoint::flag_value(stack, Key::DryRun, false, &mut problems);
    let allow_http = endpoint::flag_value(stack, Key::AllowHttp, false, &mut problems);
    // The token is resolved (and registered for redaction) before anything else is printed.
    let connection = if dry_run {
        None
    } else {
        endpoint::connection(stack, allow_http, &mut problems)
    };
    let job = job::resolve(&Inputs {
        stack,
        optional: &gathered.optional,
        git_error: gathered.git_error.clone(),
        now,
    });
    let job = match job {
        Ok(job) if problems.is_empty() => job,
        Ok(_) => return Err(Error::Invalid(problems)),
        Err(mut more) => {
            more.append(&mut problems);
            return Err(Error::Invalid(more));
        }
    };

    if dry_run {
        print_sources(&job, stack);
        output::stdout(&job.body());
        return Ok(());
    }
    let Some(connection) = connection else {
        return Err(Error::Internal(anyhow::anyhow!(
            "a connection was expected once all problems were ruled out"
        )));
    };
    if connection.token_from_flag {
        output::warn("the token was given with --token, which other processes on this machine can read; prefer CUSTOMCD_TOKEN or --token-file");
    }
    send(&job, &connection)
}

/// Each field, its value and where it came from, on standard error.
fn print_sources(job: &Job, stack: &Stack) {
    output::info("dry run: this job is valid; nothing was sent. Fields and their sources:");
    for (name, value, source) in job.provenance() {
        output::info(&format!("  {name:<15} {value}  ({source})"));
    }
    if let Some(url) = stack.get(Key::Url) {
        output::info(&format!(
            "  endpoint        {}  ({})",
            crate::remote::redact(&url.value),
            url.source
        ));
    }
}

fn send(job: &Job, connection: &endpoint::Connection) -> Result<(), Error> {
    let agent = http::agent();
    let body = job.body();
    let answer = http::post(&agent, connection, &body).map_err(|e| {
        Error::Delivery(format!(
            "POST {} failed: {e}",
            crate::remote::redact(&connection.endpoint.url)
        ))
    })?;
    let message = http::excerpt(&answer.body, 300);
    match answer.status {
        200..=299 => {
            output::stdout(&format!(
                "sent job {} ({} {}) to {}: HTTP {} {}",
                job.job_id.value,
                job.status.value,
                &job.commit_sha.value,
                connection.endpoint.url,
                answer.status,
                message
            ));
            Ok(())
        }
        300..=399 => Err(Error::Refused {
            status: answer.status,
            message: format!(
                "the endpoint redirects to {}; redirects are not followed so the token stays with the configured host. Set the URL to the final address",
                answer.location.as_deref().map_or("(no Location)".to_owned(), crate::remote::redact)
            ),
        }),
        401 | 403 => Err(Error::Refused { status: answer.status, message: format!("the token was refused (check CUSTOMCD_TOKEN); server said: {message}") }),
        408 | 429 | 500..=599 => Err(Error::Delivery(format!("the server answered HTTP {}: {message}", answer.status))),
        _ => Err(Error::Refused { status: answer.status, message }),
    }
}
