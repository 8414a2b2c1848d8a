//! CI systems: detecting which one runs us, and reading what it knows about the job.
//!
//! Each system's module turns its variables into a [`Ci`]: a layer of settings (between the
//! `CUSTOMCD_*`/`INPUT_*` layers and git), the commit candidates, context fields and hints. This
//! module owns the detection order and the shared reading helpers; it never decides precedence
//! between CI and other sources (that is `settings::sources`).
//!
//! Layer: ci (see tests/integration/layers.rs). May import: vocab, env, fs, git, job.

mod context;
pub(crate) use context::Context;
#[cfg(test)]
mod doc_table;
mod github;
pub(crate) use github::add_matrix_leg;
mod gitlab;
mod jenkins;
mod others;
pub(crate) mod previous;

use std::path::PathBuf;

use crate::env::Env;
use crate::vocab::names::{Key, Layer};
use crate::vocab::source::{Source, Sourced};

/// What a CI system tells about the running job.
#[derive(Default, Clone)]
pub(crate) struct Ci {
    /// The system's display name, e.g. "GitHub Actions".
    pub system: &'static str,
    /// Settings the system supplies (never `commit_sha`: see `pr_head` and `commit`).
    pub layer: Layer,
    /// The commit the triggering event names as built or deployed (a pull/merge request's head,
    /// GitHub's `workflow_run.head_sha`, `deployment.sha`, ...), which beats everything but an
    /// explicit value because the system's own commit variable means something else then.
    pub pr_head: Option<Sourced<String>>,
    /// The system's own commit variable, used when the workspace is not a checkout of the CI's
    /// repository (or, with `commit_beats_checkout`, whenever HEAD is not it).
    pub commit: Option<Sourced<String>>,
    /// Whether `commit` wins over a checkout whose HEAD differs: on a pull-request build the
    /// system's agent makes a commit that exists nowhere else (Drone's clone rebases the target
    /// onto the pull request's head, Bitbucket merges the destination into the source, Bitrise's
    /// git-clone step merges the pull request into its target), so a HEAD that is not `commit` is
    /// never reported. False elsewhere: the runner checks out the commit and never commits, so
    /// the checkout's HEAD is what ran (also when the job checked out another ref); Jenkins has
    /// its own rule for its merges.
    pub commit_beats_checkout: bool,
    /// A commit the event names that is reported only when the workspace's HEAD is it (GitHub's
    /// `pull_request_target`: the pull request's head, when the workflow checked it out).
    pub workspace_head: Option<Sourced<String>>,
    /// Why this job ships nothing even though it runs (a push that deletes a branch or tag): no
    /// change set is sent, and this is said.
    pub ships_nothing: Option<String>,
    /// Why this job is no deploy at all by the CI system's own word (GitLab's
    /// `environment: action: prepare`): nothing is reported, one line says so, and the exit is 0.
    pub not_a_deploy: Option<String>,
    /// The repository the CI runs for, as `owner/name`, to recognise a checkout of it.
    pub repo: Option<String>,
    /// Context worth sending as optional fields, by key (see [`Context`]).
    pub context: Vec<(Context, Sourced<String>)>,
    /// Extra advice for a field that stays missing, e.g. GitLab's `running` status.
    pub hints: Vec<(Key, String)>,
    /// Why the system could not name the commit it built (an event file that cannot be read, an
    /// event whose payload does not say), and what is used instead. Only worth showing when the
    /// commit is not given explicitly.
    pub commit_warnings: Vec<String>,
    /// A per-job temporary directory the system provides, for `customcd start`'s state file.
    pub temp_dir: Option<PathBuf>,
    /// Where undelivered jobs are kept by default on this system (see `spool`).
    pub spool_dir: Option<Sourced<String>>,
    /// A string unique to this job (and attempt), to key the state file.
    pub job_key: Option<String>,
    /// Whether this is GitHub Actions (or a compatible runner): inputs, annotations, file commands.
    pub github_like: bool,
}

/// Reads one system's variables, tagging each value with its variable as the source.
pub(crate) struct Vars<'a> {
    pub env: &'a Env,
    pub system: &'static str,
}

impl<'a> Vars<'a> {
    pub(crate) fn new(env: &'a Env, system: &'static str) -> Self {
        Vars { env, system }
    }

    pub(crate) fn source(&self, detail: impl Into<String>) -> Source {
        Source::Ci { system: self.system, detail: detail.into() }
    }

    /// The raw value of `name`, when set and not blank.
    pub(crate) fn raw(&self, name: &str) -> Option<&'a str> {
        self.env.get(name).map(str::trim)
    }

    /// `name`'s value, sourced.
    pub(crate) fn get(&self, name: &str) -> Option<Sourced<String>> {
        self.raw(name).map(|v| Sourced::new(v.to_owned(), self.source(name)))
    }

    /// The first of `names` that is set.
    pub(crate) fn first(&self, names: &[&str]) -> Option<Sourced<String>> {
        names.iter().find_map(|n| self.get(n))
    }

    /// All of `names` joined with `-`, when every one is set (e.g. run id, attempt and job).
    pub(crate) fn joined(&self, names: &[&str]) -> Option<Sourced<String>> {
        let parts: Option<Vec<&str>> = names.iter().map(|n| self.raw(n)).collect();
        parts.map(|p| Sourced::new(p.join("-"), self.source(names.join("-"))))
    }

    /// A value derived from variables: `detail` says how.
    pub(crate) fn derived(&self, value: String, detail: impl Into<String>) -> Sourced<String> {
        Sourced::new(value, self.source(detail))
    }
}

impl Ci {
    pub(crate) fn new(system: &'static str) -> Ci {
        Ci { system, ..Ci::default() }
    }

    pub(crate) fn set(&mut self, key: Key, value: Option<Sourced<String>>) {
        if let Some(v) = value {
            self.layer.set(key, v);
        }
    }

    /// Sets a context field (once: a second value for the same key replaces the first).
    pub(crate) fn context(&mut self, key: Context, value: Option<Sourced<String>>) {
        if let Some(v) = value {
            self.context.retain(|(k, _)| *k != key);
            self.context.push((key, v));
            // Sent in the order `Context` declares, whichever order a reader sets them in.
            self.context.sort_by_key(|(k, _)| *k);
        }
    }

    /// A context field's value, if set.
    #[cfg(test)]
    pub(crate) fn context_value(&self, key: Context) -> Option<&Sourced<String>> {
        self.context.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }
}

/// One CI system: how to recognise it, and how to read it.
struct System {
    detect: fn(&Env) -> bool,
    read: fn(&Env) -> Ci,
}

/// The detection order matters where systems imitate each other: Gitea and Forgejo set
/// `GITHUB_ACTIONS`, Harness sets `DRONE_*`, Woodpecker shares `CI_COMMIT_SHA` with GitLab.
const SYSTEMS: &[System] = &[
    System { detect: github::detect_gitea, read: github::read_gitea },
    System { detect: github::detect_forgejo, read: github::read_forgejo },
    System { detect: github::detect, read: github::read },
    System { detect: others::detect_harness, read: others::read_harness },
    System { detect: others::detect_drone, read: others::read_drone },
    System { detect: others::detect_woodpecker, read: others::read_woodpecker },
    System { detect: gitlab::detect, read: gitlab::read },
    System { detect: jenkins::detect, read: jenkins::read },
    System { detect: others::detect_bitbucket, read: others::read_bitbucket },
    System { detect: others::detect_circleci, read: others::read_circleci },
    System { detect: others::detect_azure, read: others::read_azure },
    System { detect: others::detect_buildkite, read: others::read_buildkite },
    System { detect: others::detect_travis, read: others::read_travis },
    System { detect: others::detect_semaphore, read: others::read_semaphore },
    System { detect: others::detect_codebuild, read: others::read_codebuild },
    System { detect: others::detect_bitrise, read: others::read_bitrise },
    System { detect: others::detect_appveyor, read: others::read_appveyor },
    System { detect: others::detect_teamcity, read: others::read_teamcity },
    System { detect: others::detect_cloudbuild, read: others::read_cloudbuild },
];

/// The CI system running this process, if any, and what it knows.
pub(crate) fn detect(env: &Env) -> Option<Ci> {
    SYSTEMS.iter().find(|s| (s.detect)(env)).map(|s| (s.read)(env))
}

/// Maps a CI's exit-code style status (0 = success) to a status word.
pub(crate) fn exit_code_status(code: &str) -> String {
    if code.trim() == "0" { "success" } else { "failed" }.to_owned()
}

#[cfg(test)]
pub(crate) mod test_env {
    use crate::env::Env;

    /// An environment made of `pairs`.
    pub(crate) fn env(pairs: &[(&str, &str)]) -> Env {
        pairs.iter().map(|(k, v)| (*k, *v)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::test_env::env;
    use super::*;

    fn system(pairs: &[(&str, &str)]) -> Option<&'static str> {
        detect(&env(pairs)).map(|c| c.system)
    }

    #[test]
    fn no_ci_variables_means_no_ci() {
        assert_eq!(system(&[("PATH", "/bin"), ("CI", "true")]), None);
    }

    #[test]
    fn imitators_are_detected_before_the_systems_they_imitate() {
        assert_eq!(system(&[("GITHUB_ACTIONS", "true"), ("GITEA_ACTIONS", "true")]), Some("Gitea Actions"));
        assert_eq!(system(&[("GITHUB_ACTIONS", "true"), ("FORGEJO_ACTIONS", "true")]), Some("Forgejo Actions"));
        assert_eq!(system(&[("GITHUB_ACTIONS", "true")]), Some("GitHub Actions"));
        assert_eq!(system(&[("DRONE", "true"), ("HARNESS_BUILD_ID", "7")]), Some("Harness CI"));
        assert_eq!(system(&[("DRONE", "true")]), Some("Drone"));
        assert_eq!(
            system(&[("CI", "woodpecker"), ("CI_COMMIT_SHA", "abc"), ("GITLAB_CI", "true")]),
            Some("Woodpecker")
        );
        assert_eq!(system(&[("GITLAB_CI", "true"), ("CI_COMMIT_SHA", "abc")]), Some("GitLab CI"));
    }

    #[test]
    fn jenkins_is_detected_by_any_of_its_markers() {
        for pairs in [
            &[("JENKINS_URL", "https://ci/")][..],
            &[("JENKINS_HOME", "/var/jenkins")][..],
            &[("BUILD_TAG", "jenkins-app-7")][..],
            &[("HUDSON_URL", "https://ci/")][..],
        ] {
            assert_eq!(system(pairs), Some("Jenkins"), "{pairs:?}");
        }
        assert_eq!(system(&[("BUILD_TAG", "other-7")]), None);
    }

    #[test]
    fn joined_needs_every_part() {
        let e = env(&[("A", "1"), ("B", "2")]);
        let v = Vars::new(&e, "X");
        assert_eq!(v.joined(&["A", "B"]).map(|s| s.value), Some("1-2".to_owned()));
        assert!(v.joined(&["A", "C"]).is_none());
    }
}
