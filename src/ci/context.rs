//! The CI context fields: what a CI system tells about a job beyond the payload's own fields,
//! sent as optional string fields unless `ci_fields` is off. Each key is declared here once, with
//! its meaning; readers set them by key (`Ci::context`), so adding one is a line here, the line in
//! the reader that sets it, and its test. docs/ci-systems.md lists them (checked by a test).

/// One CI context field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Context {
    /// The detected system's display name (set for every detected system, not by readers).
    CiSystem,
    /// The page of this job (or run) on the CI system.
    RunUrl,
    /// The branch (a pull request's own branch) or tag the job ran for.
    Branch,
    /// The CI system's own word for the job's result, unmapped (`canceled`, `ABORTED`,
    /// `SucceededWithIssues`, `stopped`), where the system or the user gives one.
    CiResult,
}

impl Context {
    /// Every context field, in the order they are sent.
    #[cfg(test)]
    pub(crate) const ALL: &'static [Context] =
        &[Context::CiSystem, Context::RunUrl, Context::Branch, Context::CiResult];

    /// The optional field's key.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Context::CiSystem => "ci_system",
            Context::RunUrl => "run_url",
            Context::Branch => "branch",
            Context::CiResult => "ci_result",
        }
    }

    /// What the field holds, for the documentation (docs/ci-systems.md says it in its words; no
    /// code reads this yet).
    #[allow(dead_code)]
    pub(crate) fn meaning(self) -> &'static str {
        match self {
            Context::CiSystem => "the CI system detected, e.g. `GitLab CI`",
            Context::RunUrl => "the job's (or run's) page on the CI system",
            Context::Branch => "the branch the job ran for (a pull request's own branch), or the tag",
            Context::CiResult => {
                "the CI system's own word for the job's result, as it gives it (`canceled`, `ABORTED`, `SucceededWithIssues`)"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_distinct_snake_case_and_listed_once() {
        let mut names: Vec<_> = Context::ALL.iter().map(|c| c.name()).collect();
        assert!(names.iter().all(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '_')), "{names:?}");
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Context::ALL.len());
    }
}
