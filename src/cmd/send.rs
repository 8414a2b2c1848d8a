//! `customcd send`: delivering payload files (as the spool keeps them) or a payload on standard
//! input, each validated against the contract first, each removed only after a 2xx.

use std::path::PathBuf;
use std::time::Duration;

use crate::bulk;
use crate::bulk::records::{Format, Input};
use crate::cli::SendArgs;
use crate::delivery::spool;
use crate::error::{Error, Problem};
use crate::output;
use crate::settings::Settings;
use crate::vocab::source::Sourced;

/// Runs `customcd send` from its settings. With no paths, sends what the spool directory holds.
pub(crate) fn run(args: &SendArgs, settings: Settings, cwd: PathBuf) -> Result<(), Error> {
    settings.announce();
    if settings.dry_run().value {
        for line in settings.connection_lines() {
            output::info(&format!("dry run: {line}"));
        }
    }
    let dir = args.paths.is_empty().then(|| settings.spool_dir().clone());
    let mut inputs = inputs(args, dir)?;
    // A kept job goes only to the endpoint it was reported to: never to another tenant because
    // this run's settings differ, unless the user says so.
    let mut elsewhere = Vec::new();
    if let Some(conn) = settings.connection().filter(|_| !args.any_endpoint) {
        inputs.retain(|input| {
            let Some(recorded) = input.path.as_deref().and_then(spool::recorded_endpoint) else { return true };
            if recorded == conn.endpoint.url {
                return true;
            }
            output::error(&format!(
                "{} was kept for the endpoint {}, not this run's {} ({}): not sent. Send it with that endpoint's settings, or pass --any-endpoint to send it here",
                input.name,
                crate::git::remote::redact(&recorded),
                crate::git::remote::redact(&conn.endpoint.url),
                conn.endpoint.source
            ));
            elsewhere.push(Problem::new(
                "url",
                format!("is not the endpoint {} was kept for ({})", input.name, crate::git::remote::redact(&recorded)),
                "send it with that endpoint's settings, or pass --any-endpoint",
            ));
            false
        });
    }
    bulk::stop_on_signal();
    let opts = bulk::Options {
        concurrency: settings.concurrency().value,
        deadline: settings.deadline().value,
        rejects: Some(args.rejects.clone().unwrap_or_else(|| cwd.join("customcd-rejects.jsonl"))),
        ledger: Some(
            args.checkpoint
                .clone()
                .unwrap_or_else(|| crate::bulk::checkpoint::ledger_path(&settings.spool_dir().value)),
        ),
        resend: args.resend,
        progress_every: Duration::from_secs(5),
    };
    // Records from files stay in them until delivered; standard input keeps nothing.
    let kept = !args.paths.iter().any(|p| p == "-");
    let result = settings.judge(bulk::run(&inputs, settings.connection(), &opts), kept);
    for input in &inputs {
        if let Some(path) = &input.path {
            spool::forget_endpoint(path);
        }
    }
    match result {
        Ok(()) if !elsewhere.is_empty() => Err(Error::Invalid(elsewhere)),
        other => other,
    }
}

/// The inputs of a `send`: the paths given (`-` is standard input), else the spool `dir`.
fn inputs(args: &SendArgs, dir: Option<Sourced<PathBuf>>) -> Result<Vec<Input>, Error> {
    let mut inputs = Vec::new();
    let as_input = |f: spool::Found| Input { listed: f.listed, ..Input::file(f.path, args.format) };
    if let Some(dir) = dir {
        if dir.value.is_dir() {
            output::info(&format!("sending the spool {} ({})", dir.value.display(), dir.source));
            inputs.extend(spool::expand(&[dir.value])?.into_iter().map(as_input));
        } else {
            output::info(&format!(
                "the spool {} ({}) does not exist: nothing to send",
                dir.value.display(),
                dir.source
            ));
        }
    }
    for p in &args.paths {
        if p == "-" {
            inputs.push(Input::stdin(args.format.unwrap_or(Format::Jsonl)));
        } else {
            inputs.extend(spool::expand(&[PathBuf::from(p)])?.into_iter().map(as_input));
        }
    }
    Ok(inputs)
}
