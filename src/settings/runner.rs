//! What the GitHub Actions runner hands a step besides settings: the paths of its file commands
//! (`GITHUB_ENV`, `GITHUB_STATE`, `GITHUB_OUTPUT`, `GITHUB_STEP_SUMMARY`), the step's id
//! (`GITHUB_ACTION`) and the steps that deferred their report to the post stage
//! ([`REPORT_PENDING_VAR`], see `cmd::post`). Read once from the environment here, so that
//! commands and output never read a raw variable.

use crate::env::Env;
use crate::vocab::names::REPORT_PENDING_VAR;

/// The runner's files and this step's place in the one-step hand-over. Every path is as the
/// runner set it; a blank variable counts as unset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Runner {
    env_file: Option<String>,
    state_file: Option<String>,
    output_file: Option<String>,
    summary_file: Option<String>,
    step: Option<String>,
    pending: Vec<String>,
}

impl Runner {
    /// Reads the runner's variables; outside GitHub Actions they are simply unset.
    pub fn read(env: &Env) -> Runner {
        let path = |name: &str| env.get(name).map(str::to_owned);
        Runner {
            env_file: path("GITHUB_ENV"),
            state_file: path("GITHUB_STATE"),
            output_file: path("GITHUB_OUTPUT"),
            summary_file: path("GITHUB_STEP_SUMMARY"),
            step: env.get("GITHUB_ACTION").map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned),
            pending: env
                .get(REPORT_PENDING_VAR)
                .map(|v| v.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_default(),
        }
    }

    /// `GITHUB_ENV`: variables for the later steps (and the post stage).
    pub fn env_file(&self) -> Option<&str> {
        self.env_file.as_deref()
    }

    /// `GITHUB_STATE`: state for this action's later stages.
    pub fn state_file(&self) -> Option<&str> {
        self.state_file.as_deref()
    }

    /// `GITHUB_OUTPUT`: the step's outputs.
    pub fn output_file(&self) -> Option<&str> {
        self.output_file.as_deref()
    }

    /// `GITHUB_STEP_SUMMARY`: the step summary's markdown.
    pub fn summary_file(&self) -> Option<&str> {
        self.summary_file.as_deref()
    }

    /// `GITHUB_ACTION`, the step's id: the same in every stage of one step.
    pub fn step(&self) -> Option<&str> {
        self.step.as_deref()
    }

    /// The step ids in the pending list, in the order they were added.
    pub fn pending(&self) -> &[String] {
        &self.pending
    }

    /// Whether this step's main stage deferred its report to the post stage.
    pub fn is_pending(&self) -> bool {
        self.step.as_ref().is_some_and(|step| self.pending.contains(step))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        pairs.iter().map(|(k, v)| (*k, *v)).collect()
    }

    fn is_pending(env: &Env) -> bool {
        Runner::read(env).is_pending()
    }

    #[test]
    fn only_a_step_in_the_pending_list_is_pending() {
        let list = (REPORT_PENDING_VAR, "deploy __acme_customcd-action_2");
        assert!(is_pending(&env(&[list, ("GITHUB_ACTION", "__acme_customcd-action_2")])));
        assert!(is_pending(&env(&[list, ("GITHUB_ACTION", "deploy")])));
        assert!(!is_pending(&env(&[list, ("GITHUB_ACTION", "__acme_customcd-action")])), "a prefix is not the step");
        assert!(!is_pending(&env(&[list])), "no step id, nothing pending");
        assert!(!is_pending(&env(&[("GITHUB_ACTION", "deploy")])), "no list, nothing pending");
    }
}
