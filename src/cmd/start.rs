//! `customcd start`: recording when a job began, for CI systems that do not say.
//!
//! On GitHub Actions the start goes to `GITHUB_ENV` (as `CUSTOMCD_JOB_START_TIME`, for later
//! steps) and `GITHUB_STATE` (as `job_start_time`, which the runner hands to the action's later
//! stages as `STATE_job_start_time`). Elsewhere in CI it goes to a small state file named after the
//! CI job's identity in the job's temporary directory, which `report` reads and removes. Outside
//! CI there is no job identity to key a file by, so only the `export` line is printed.

use std::path::Path;

use crate::output;
use crate::output::github;
use crate::settings::Settings;

/// What `report` does when `start` could not record anything, for the warning.
const REPORT_INSTEAD: &str = "`customcd report` will then report job_duration 0 and job_start_time as the time of the report, with a warning, unless it is given --job-start-time (or CUSTOMCD_JOB_START_TIME)";

/// Runs `customcd start` at epoch second `now`.
///
/// It never fails the job: it runs first in a pipeline (the action's pre-entrypoint, a Jenkins
/// start stage), where customcd's own trouble must not stop a deployment. When the start cannot
/// be recorded, it warns, says what `report` does instead, and still succeeds.
pub(crate) fn run(settings: &Settings, now: i64) -> anyhow::Result<()> {
    settings.announce();
    let ci = settings.ci();
    let runner = settings.runner();
    let export = format!("export CUSTOMCD_JOB_START_TIME={now}");
    match ci {
        Some(ci) if ci.github_like && (runner.env_file().is_some() || runner.state_file().is_some()) => {
            let mut recorded = Vec::new();
            let files = [
                ("GITHUB_ENV", runner.env_file(), "CUSTOMCD_JOB_START_TIME"),
                ("GITHUB_STATE", runner.state_file(), "job_start_time"),
            ];
            // The key binds the one-step mode's pending record to this step (see cmd::post); it
            // goes to this step's state only, which no other step can read or write.
            let key = crate::cmd::post::new_key()
                .map_err(|e| {
                    output::warn(&format!(
                        "no key for the one-step mode could be made ({e}); with report_at: job-end the main stage reports when it runs"
                    ))
                })
                .ok();
            for (var, path, name) in files {
                let Some(path) = path else { continue };
                let mut pairs = vec![(name, now.to_string())];
                if let (Some(key), "GITHUB_STATE") = (&key, var) {
                    pairs.push((crate::settings::runner::STATE_KEY, key.clone()));
                }
                match github::append(path.as_ref(), &pairs) {
                    Ok(()) => recorded.push(var),
                    Err(e) => output::warn(&format!(
                        "could not record the job start in the {var} file {path}: {e}. {}",
                        if var == "GITHUB_STATE" {
                            "The action's report stage will not see STATE_job_start_time"
                        } else {
                            "Later steps will not see CUSTOMCD_JOB_START_TIME"
                        }
                    )),
                }
            }
            if recorded.is_empty() {
                output::warn(&format!("the job start was not recorded; {REPORT_INSTEAD}"));
            } else {
                output::info(&format!(
                    "customcd: job start recorded for {} in {}: {now} ({})",
                    ci.system,
                    recorded.join(" and "),
                    crate::job::epoch::to_rfc3339(now)
                ));
            }
        }
        Some(ci) => {
            match settings.start_file() {
                Some(path) => match write_state(path, now) {
                    Ok(()) => {
                        output::info(&format!("customcd: job start recorded for {} in {}", ci.system, path.display()))
                    }
                    Err(e) => output::warn(&format!(
                        "could not record the job start in {}: {e:#}. Check that the job's temporary directory is writable, or pass the printed start to report; {REPORT_INSTEAD}",
                        path.display()
                    )),
                },
                None => output::warn(&format!(
                    "{} gives this job no identity to key a start file by, so only the export line below records the start; eval it in the shell that runs report, or {REPORT_INSTEAD}",
                    ci.system
                )),
            }
            output::stdout(&export);
        }
        None => {
            // Outside CI there is no job to key a file by: the start lives in the shell that
            // evaluates this line. Typed bare at a terminal, `customcd start` would look like it
            // recorded something, so it says how to keep the start (on standard error; under
            // `eval "$(customcd start)"` standard output is a pipe and nothing more is said).
            if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
                output::info(&format!(
                "customcd: outside CI the start is kept by your shell: run eval \"$(customcd start)\" so that a later customcd report in this shell finds it ({})",
                    crate::job::epoch::to_rfc3339(now)
                ));
            }
            output::stdout(&export);
        }
    }
    Ok(())
}

/// Writes the state file: in the job's temporary directory, which is created when missing
/// (Jenkins documents that `WORKSPACE_TMP` may not exist yet). The content goes to a new private
/// file beside the final name (created exclusively, never through a symlink someone left there)
/// and is renamed over it, so a reader never sees half a file.
fn write_state(path: &Path, now: i64) -> anyhow::Result<()> {
    crate::fs::create_private_dir(crate::fs::parent_dir(path))?;
    crate::fs::write_replace(path, format!("{now}\n").as_bytes(), ".customcd-start-")
}
