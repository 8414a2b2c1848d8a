//! What the GitHub Actions runner hands a step besides settings: the paths of its file commands
//! (`GITHUB_ENV`, `GITHUB_STATE`, `GITHUB_OUTPUT`, `GITHUB_STEP_SUMMARY`), the step's id
//! (`GITHUB_ACTION`), and what the one-step hand-over reads (see `cmd::post`): this step's key
//! and pending record from its state (`STATE_customcd_key`, `STATE_customcd_pending`), the
//! pending records and job ids other stages wrote to `GITHUB_ENV` ([`REPORT_PENDING_VAR`],
//! [`JOB_IDS_VAR`]), whether this is act, and whether this is the action's own stage. Read once
//! from the environment here, so that commands and output never read a raw variable.

use crate::env::Env;
use crate::vocab::names::{JOB_IDS_VAR, REPORT_PENDING_VAR};

/// The state name of the key the pre stage saves (later stages see `STATE_customcd_key`).
pub(crate) const STATE_KEY: &str = "customcd_key";
/// The state name of the pending record the main stage saves.
pub(crate) const STATE_PENDING: &str = "customcd_pending";

/// The runner's files and this step's place in the one-step hand-over. Every path is as the
/// runner set it; a blank variable counts as unset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Runner {
    env_file: Option<String>,
    state_file: Option<String>,
    output_file: Option<String>,
    summary_file: Option<String>,
    step: Option<String>,
    pending: Vec<String>,
    key: Option<String>,
    state_pending: Option<String>,
    job_ids: Vec<String>,
    act: bool,
    action_stage: bool,
}

impl Runner {
    /// Reads the runner's variables; outside GitHub Actions they are simply unset.
    pub(crate) fn read(env: &Env) -> Runner {
        let path = |name: &str| env.get(name).map(str::to_owned);
        let words =
            |name: &str| env.get(name).map(|v| v.split_whitespace().map(str::to_owned).collect()).unwrap_or_default();
        Runner {
            key: env.get(&format!("STATE_{STATE_KEY}")).map(|v| v.trim().to_owned()),
            state_pending: env.get(&format!("STATE_{STATE_PENDING}")).map(|v| v.trim().to_owned()),
            job_ids: words(JOB_IDS_VAR),
            act: env.get("ACT").is_some(),
            // The runner passes every declared input, blank or not: INPUT_REPORT_AT is there only
            // in the action's own stages.
            action_stage: env.names().any(|n| n == "INPUT_REPORT_AT"),
            env_file: path("GITHUB_ENV"),
            state_file: path("GITHUB_STATE"),
            output_file: path("GITHUB_OUTPUT"),
            summary_file: path("GITHUB_STEP_SUMMARY"),
            step: env.get("GITHUB_ACTION").map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned),
            pending: words(REPORT_PENDING_VAR),
        }
    }

    /// `GITHUB_ENV`: variables for the later steps (and the post stage).
    pub(crate) fn env_file(&self) -> Option<&str> {
        self.env_file.as_deref()
    }

    /// `GITHUB_STATE`: state for this action's later stages.
    pub(crate) fn state_file(&self) -> Option<&str> {
        self.state_file.as_deref()
    }

    /// `GITHUB_OUTPUT`: the step's outputs.
    pub(crate) fn output_file(&self) -> Option<&str> {
        self.output_file.as_deref()
    }

    /// `GITHUB_STEP_SUMMARY`: the step summary's markdown.
    pub(crate) fn summary_file(&self) -> Option<&str> {
        self.summary_file.as_deref()
    }

    /// `GITHUB_ACTION`, the step's id: the same in every stage of one step.
    pub(crate) fn step(&self) -> Option<&str> {
        self.step.as_deref()
    }

    /// The pending records in `GITHUB_ENV`, in the order they were added (any step can write
    /// them: `cmd::post` verifies each).
    pub(crate) fn pending(&self) -> &[String] {
        &self.pending
    }

    /// This step's key, saved by its pre (or main) stage in its own state.
    pub(crate) fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// The pending record this step's main stage saved in its own state.
    pub(crate) fn state_pending(&self) -> Option<&str> {
        self.state_pending.as_deref()
    }

    /// The job ids customcd steps of this job reported or deferred (`GITHUB_ENV`).
    pub(crate) fn job_ids(&self) -> &[String] {
        &self.job_ids
    }

    /// nektos/act (`ACT` set), whose Docker post stage gets the pre stage's state only.
    pub(crate) fn act(&self) -> bool {
        self.act
    }

    /// Whether this is one of the action's own stages (its inputs are passed) of a named step.
    pub(crate) fn action_stage(&self) -> bool {
        self.action_stage && self.step.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        pairs.iter().map(|(k, v)| (*k, *v)).collect()
    }

    #[test]
    fn the_hand_over_is_read_from_the_state_and_github_env() {
        let r = Runner::read(&env(&[
            ("GITHUB_ACTION", "deploy"),
            ("STATE_customcd_key", " k "),
            ("STATE_customcd_pending", "a.b"),
            (REPORT_PENDING_VAR, "x.y  z.w"),
            (JOB_IDS_VAR, "aQ."),
            ("INPUT_REPORT_AT", ""),
        ]));
        assert_eq!((r.key(), r.state_pending(), r.step()), (Some("k"), Some("a.b"), Some("deploy")));
        assert_eq!(r.pending(), ["x.y", "z.w"]);
        assert_eq!(r.job_ids(), ["aQ."]);
        assert!(r.action_stage() && !r.act());
        assert!(!Runner::read(&env(&[("GITHUB_ACTION", "__run")])).action_stage(), "a run: step has no inputs");
    }
}
