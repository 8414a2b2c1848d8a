//! `customcd send`: delivering payload files (as the spool keeps them) or a payload on standard
//! input, each validated against the contract first, each removed only after a 2xx.

use std::path::PathBuf;
use std::time::Duration;

use crate::bulk;
use crate::bulk::records::{Format, Input};
use crate::cli::SendArgs;
use crate::delivery::spool;
use crate::error::Error;
use crate::output;
use crate::settings::Settings;

/// Runs `customcd send` from its settings. With no paths, sends what the spool directory holds.
pub fn run(args: &SendArgs, settings: Settings, cwd: PathBuf) -> Result<(), Error> {
    settings.announce();
    if settings.dry_run.value {
        for line in settings.connection_lines() {
            output::info(&format!("dry run: {line}"));
        }
    }
    let mut inputs = Vec::new();
    if args.paths.is_empty() {
        let dir = &settings.spool_dir;
        output::info(&format!("sending the spool {} ({})", dir.value.display(), dir.source));
        inputs
            .extend(spool::expand(std::slice::from_ref(&dir.value))?.into_iter().map(|f| Input::file(f, args.format)));
    }
    for p in &args.paths {
        if p == "-" {
            inputs.push(Input { name: "-".to_owned(), path: None, format: args.format.unwrap_or(Format::Jsonl) });
        } else {
            inputs.extend(spool::expand(&[PathBuf::from(p)])?.into_iter().map(|f| Input::file(f, args.format)));
        }
    }
    // Ctrl-C or SIGTERM stops reading; the requests in flight finish and are recorded.
    let _ = ctrlc::set_handler(|| bulk::STOP.store(true, std::sync::atomic::Ordering::Relaxed));
    let opts = bulk::Options {
        concurrency: settings.concurrency.value,
        deadline: settings.deadline.value,
        rejects: Some(args.rejects.clone().unwrap_or_else(|| cwd.join("customcd-rejects.jsonl"))),
        stdin_checkpoint: args.checkpoint.clone(),
        progress_every: Duration::from_secs(5),
    };
    settings.judge(bulk::run(&inputs, settings.connection.as_ref(), &opts))
}
