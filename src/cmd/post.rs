//! The GitHub Action's one-step mode: `report` with `report_at: job-end` only records that the
//! job must be reported, and `customcd post` (the action's `post-entrypoint`) reports it after
//! every other step. This module owns that hand-over and nothing else: building and sending the
//! job stay in `report`.
//!
//! Why the hand-over goes through `GITHUB_ENV` (as [`REPORT_PENDING_VAR`]) and not through
//! `GITHUB_STATE`: on GitHub's runner the state a main stage saves reaches the post stage, but
//! under nektos/act a Docker action's post stage gets only the state its pre stage saved (act's
//! `runPostStep` does not call `populateEnvsFromSavedState` for Docker actions). A variable set
//! through `GITHUB_ENV` reaches the post stage on both. Keying it by `GITHUB_ACTION` (the step's
//! id, the same in every stage of one step) keeps two uses of the action in one job apart.
//!
//! What this buys: the post stage reports only when this step's main stage ran and deferred. A
//! main stage that reported (`report_at: now`, the last-step usage) or never ran (an `if:` that
//! was false; GitHub still runs the post stage then) leaves nothing for it, so a job is never
//! reported twice, and a job whose main stage deferred is reported by its post stage.

use crate::error::{Error, Problem};
use crate::output;
use crate::output::github;
use crate::settings::Settings;
use crate::vocab::names::{Key, REPORT_PENDING_VAR};

/// What the post stage says when it has nothing to do: one line, so the log of a last-step
/// usage shows why its post stage sent nothing.
pub fn nothing_pending() {
    output::info("customcd: nothing to report at the end of the job (this step reported when it ran, or did not run)");
}

/// `report` with `report_at: job-end`: adds this step to the pending list in `GITHUB_ENV`, so
/// that its post stage reports the job with its final status. Sends nothing.
pub fn defer(settings: &Settings) -> Result<(), Error> {
    settings.announce();
    let at = settings.report_at();
    let refuse = |rule: &str| {
        Error::Invalid(vec![Problem::new(
            Key::ReportAt.name(),
            rule,
            "run the action as a published action (uses: owner/repo@ref) on GitHub Actions, or leave report_at unset and run the step last with if: always()",
        )
        .value(at.value.word())
        .source(at.source.clone())])
    };
    let runner = settings.runner();
    let Some(step) = runner.step() else {
        return Err(refuse("job-end needs GITHUB_ACTION, the step's id, which the runner sets for every action step"));
    };
    let Some(file) = runner.env_file() else {
        return Err(refuse("job-end needs the GITHUB_ENV file, through which the post stage learns it must report"));
    };
    let mut steps: Vec<&str> = runner.pending().iter().map(String::as_str).collect();
    if !steps.contains(&step) {
        steps.push(step);
    }
    github::append(file.as_ref(), &[(REPORT_PENDING_VAR, steps.join(" "))]).map_err(|e| {
        Error::Internal(anyhow::anyhow!(
            "could not record in the GITHUB_ENV file {file} that the post stage must report: {e}; nothing will be reported"
        ))
    })?;
    output::info(&format!(
        "customcd: report_at is job-end ({}): the job will be reported at its end by this action's post stage, with the job's final status",
        at.source
    ));
    Ok(())
}
