//! `customcd start`: recording when a job began, for CI systems that do not say.
//!
//! On GitHub Actions the start goes to `GITHUB_ENV` (as `CUSTOMCD_JOB_START_TIME`, for later
//! steps) and `GITHUB_STATE` (as `job_start_time`, which the runner hands to the action's later
//! stages as `STATE_job_start_time`). Elsewhere in CI it goes to a small state file named after the
//! CI job's identity in the job's temporary directory, which `report` reads and removes. Outside
//! CI there is no job identity to key a file by, so only the `export` line is printed.

use std::path::PathBuf;

use anyhow::Context;

use crate::ci::Ci;
use crate::env::Env;
use crate::output;
use crate::output::github;
use crate::settings::source::{Source, Sourced};

/// The state file for this CI job, if the job has an identity.
pub fn state_file(ci: &Ci, env: &Env) -> Option<PathBuf> {
    let key = ci.job_key.as_deref()?;
    let safe: String = key
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' { c } else { '_' })
        .collect();
    let dir = ci.temp_dir.clone().or_else(|| env.get("TMPDIR").map(PathBuf::from)).unwrap_or_else(std::env::temp_dir);
    Some(dir.join(format!("customcd-start-{safe}")))
}

/// Reads a start recorded in the state file: the value and the file it came from.
pub fn read_state(ci: &Ci, env: &Env) -> Option<(Sourced<String>, PathBuf)> {
    let path = state_file(ci, env)?;
    let text = std::fs::read_to_string(&path).ok()?;
    let value = text.trim().to_owned();
    (!value.is_empty()).then(|| (Sourced::new(value, Source::State(path.display().to_string())), path))
}

/// Runs `customcd start` at epoch second `now`.
pub fn run(env: &Env, now: i64) -> anyhow::Result<()> {
    let ci = crate::ci::detect(env);
    let export = format!("export CUSTOMCD_JOB_START_TIME={now}");
    match &ci {
        Some(ci) if ci.github_like && (env.get("GITHUB_ENV").is_some() || env.get("GITHUB_STATE").is_some()) => {
            if let Some(path) = env.get("GITHUB_ENV") {
                github::append(path.as_ref(), &[("CUSTOMCD_JOB_START_TIME", now.to_string())])
                    .with_context(|| format!("writing GITHUB_ENV file {path}"))?;
            }
            if let Some(path) = env.get("GITHUB_STATE") {
                github::append(path.as_ref(), &[("job_start_time", now.to_string())])
                    .with_context(|| format!("writing GITHUB_STATE file {path}"))?;
            }
            output::info(&format!(
                "customcd: job start recorded for {}: {now} ({})",
                ci.system,
                crate::job::epoch::to_rfc3339(now)
            ));
        }
        Some(ci) => match state_file(ci, env) {
            Some(path) => {
                // Written beside its final name and renamed, so a reader never sees half a file.
                let tmp = path.with_extension("tmp");
                std::fs::write(&tmp, format!("{now}\n")).with_context(|| format!("writing {}", tmp.display()))?;
                std::fs::rename(&tmp, &path)
                    .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
                output::info(&format!("customcd: job start recorded for {} in {}", ci.system, path.display()));
                output::stdout(&export);
            }
            None => output::stdout(&export),
        },
        None => output::stdout(&export),
    }
    Ok(())
}
