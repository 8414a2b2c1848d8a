//! The other CI systems: Bitbucket, CircleCI, Azure Pipelines, Buildkite, Travis, Drone, Harness,
//! Woodpecker, Semaphore, CodeBuild, Bitrise, AppVeyor, TeamCity and Google Cloud Build.
//!
//! Variables follow each system's own list of predefined variables (docs/ci-systems.md's "What customcd derives
//! in CI" names them); each reader takes what its system has.

use crate::env::Env;
use crate::git::remote;
use crate::job::epoch;
use crate::vocab::names::Key;
use crate::vocab::source::Sourced;

use super::{exit_code_status, Ci, Vars};

fn set_repo(ci: &mut Ci, repo: Option<Sourced<String>>) {
    ci.repo = repo.as_ref().map(|r| r.value.clone());
    ci.set(Key::RepoName, repo);
}

/// A repository named by URL: normalised, and the URL shown without credentials.
fn repo_from_url(v: &Vars<'_>, name: &str) -> Option<Sourced<String>> {
    let url = v.raw(name)?;
    let repo = remote::repo_name(url)?;
    Some(v.derived(repo, format!("{name} ({})", remote::redact(url))))
}

fn set_job_id(ci: &mut Ci, id: Option<Sourced<String>>) {
    ci.job_key = id.as_ref().map(|j| j.value.clone());
    ci.set(Key::JobId, id);
}

pub fn detect_bitbucket(env: &Env) -> bool {
    env.get("BITBUCKET_BUILD_NUMBER").is_some()
}

pub fn read_bitbucket(env: &Env) -> Ci {
    let v = Vars::new(env, "Bitbucket Pipelines");
    let mut ci = Ci::new(v.system);
    set_repo(&mut ci, v.get("BITBUCKET_REPO_FULL_NAME"));
    set_job_id(&mut ci, v.first(&["BITBUCKET_STEP_UUID", "BITBUCKET_BUILD_NUMBER"]));
    ci.set(Key::TriggeredBy, v.get("BITBUCKET_STEP_TRIGGERER_UUID"));
    // Set in after-script only: the step's exit code.
    ci.set(Key::Status, v.get("BITBUCKET_EXIT_CODE").map(|s| s.map(|c| exit_code_status(&c))));
    ci.commit = v.get("BITBUCKET_COMMIT");
    ci.context("branch", v.first(&["BITBUCKET_BRANCH", "BITBUCKET_TAG"]));
    ci.set(Key::Environment, v.get("BITBUCKET_DEPLOYMENT_ENVIRONMENT"));
    ci
}

pub fn detect_circleci(env: &Env) -> bool {
    env.get("CIRCLECI").is_some()
}

pub fn read_circleci(env: &Env) -> Ci {
    let v = Vars::new(env, "CircleCI");
    let mut ci = Ci::new(v.system);
    let repo = match (v.raw("CIRCLE_PROJECT_USERNAME"), v.raw("CIRCLE_PROJECT_REPONAME")) {
        (Some(owner), Some(name)) => {
            Some(v.derived(format!("{owner}/{name}"), "CIRCLE_PROJECT_USERNAME/CIRCLE_PROJECT_REPONAME"))
        }
        _ => None,
    };
    set_repo(&mut ci, repo);
    set_job_id(&mut ci, v.first(&["CIRCLE_WORKFLOW_JOB_ID", "CIRCLE_BUILD_NUM"]));
    ci.set(Key::TriggeredBy, v.get("CIRCLE_USERNAME"));
    ci.commit = v.get("CIRCLE_SHA1");
    ci.context("run_url", v.get("CIRCLE_BUILD_URL"));
    ci.context("branch", v.first(&["CIRCLE_BRANCH", "CIRCLE_TAG"]));
    ci
}

pub fn detect_azure(env: &Env) -> bool {
    env.get("TF_BUILD").is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

pub fn read_azure(env: &Env) -> Ci {
    let v = Vars::new(env, "Azure Pipelines");
    let mut ci = Ci::new(v.system);
    set_repo(&mut ci, v.get("BUILD_REPOSITORY_NAME"));
    set_job_id(&mut ci, v.joined(&["SYSTEM_JOBID", "SYSTEM_JOBATTEMPT"]).or_else(|| v.get("SYSTEM_JOBID")));
    ci.set(Key::TriggeredBy, v.first(&["BUILD_REQUESTEDFOREMAIL", "BUILD_REQUESTEDFOR"]));
    // "2020-02-10 13:29:58-05:00": not RFC 3339, but `epoch::parse_time` reads it.
    ci.set(Key::JobStartTime, v.get("SYSTEM_PIPELINESTARTTIME"));
    let status = v
        .get("AGENT_JOBSTATUS")
        .map(|s| s.map(|w| if w.eq_ignore_ascii_case("SucceededWithIssues") { "succeeded".to_owned() } else { w }));
    ci.set(Key::Status, status);
    ci.commit = v.get("BUILD_SOURCEVERSION");
    ci.pr_head = v.get("SYSTEM_PULLREQUEST_SOURCECOMMITID");
    let run_url = match (v.raw("SYSTEM_COLLECTIONURI"), v.raw("SYSTEM_TEAMPROJECT"), v.raw("BUILD_BUILDID")) {
        (Some(base), Some(project), Some(id)) => Some(v.derived(
            format!("{}/{project}/_build/results?buildId={id}", base.trim_end_matches('/')),
            "SYSTEM_COLLECTIONURI/SYSTEM_TEAMPROJECT/BUILD_BUILDID",
        )),
        _ => None,
    };
    ci.context("run_url", run_url);
    ci.context("branch", v.first(&["SYSTEM_PULLREQUEST_SOURCEBRANCH", "BUILD_SOURCEBRANCHNAME"]));
    ci.set(Key::Environment, v.get("ENVIRONMENT_NAME"));
    ci.temp_dir = v.raw("AGENT_TEMPDIRECTORY").map(Into::into);
    ci
}

pub fn detect_buildkite(env: &Env) -> bool {
    env.get("BUILDKITE").is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

pub fn read_buildkite(env: &Env) -> Ci {
    let v = Vars::new(env, "Buildkite");
    let mut ci = Ci::new(v.system);
    set_repo(&mut ci, repo_from_url(&v, "BUILDKITE_REPO"));
    let job = v.joined(&["BUILDKITE_JOB_ID", "BUILDKITE_RETRY_COUNT"]).or_else(|| v.get("BUILDKITE_JOB_ID"));
    set_job_id(&mut ci, job);
    ci.set(Key::TriggeredBy, v.first(&["BUILDKITE_BUILD_CREATOR_EMAIL", "BUILDKITE_BUILD_CREATOR"]));
    ci.set(Key::Status, v.get("BUILDKITE_COMMAND_EXIT_STATUS").map(|s| s.map(|c| exit_code_status(&c))));
    // BUILDKITE_COMMIT may be the symbolic "HEAD": then the checkout's HEAD is the answer.
    ci.commit = v.get("BUILDKITE_COMMIT").filter(|c| !c.value.eq_ignore_ascii_case("HEAD"));
    ci.context("run_url", v.get("BUILDKITE_BUILD_URL"));
    ci.context("branch", v.first(&["BUILDKITE_BRANCH", "BUILDKITE_TAG"]));
    ci
}

pub fn detect_travis(env: &Env) -> bool {
    env.get("TRAVIS").is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

pub fn read_travis(env: &Env) -> Ci {
    let v = Vars::new(env, "Travis CI");
    let mut ci = Ci::new(v.system);
    set_repo(&mut ci, v.get("TRAVIS_REPO_SLUG"));
    set_job_id(&mut ci, v.get("TRAVIS_JOB_ID"));
    ci.set(Key::Status, v.get("TRAVIS_TEST_RESULT").map(|s| s.map(|c| exit_code_status(&c))));
    ci.commit = v.get("TRAVIS_COMMIT");
    ci.pr_head = v.get("TRAVIS_PULL_REQUEST_SHA");
    ci.context("run_url", v.get("TRAVIS_JOB_WEB_URL"));
    ci.context("branch", v.first(&["TRAVIS_PULL_REQUEST_BRANCH", "TRAVIS_BRANCH"]));
    ci
}

pub fn detect_harness(env: &Env) -> bool {
    env.get("HARNESS_BUILD_ID").is_some()
}

pub fn read_harness(env: &Env) -> Ci {
    drone_like(env, "Harness CI")
}

pub fn detect_drone(env: &Env) -> bool {
    env.get("DRONE").is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

pub fn read_drone(env: &Env) -> Ci {
    drone_like(env, "Drone")
}

/// Drone's variables; Harness CI sets them too.
fn drone_like(env: &Env, system: &'static str) -> Ci {
    let v = Vars::new(env, system);
    let mut ci = Ci::new(system);
    set_repo(&mut ci, v.get("DRONE_REPO"));
    set_job_id(
        &mut ci,
        v.joined(&["DRONE_BUILD_NUMBER", "DRONE_STAGE_NUMBER"]).or_else(|| v.get("DRONE_BUILD_NUMBER")),
    );
    ci.set(Key::TriggeredBy, v.first(&["DRONE_COMMIT_AUTHOR_EMAIL", "DRONE_BUILD_TRIGGER"]));
    ci.set(Key::JobStartTime, v.first(&["DRONE_STAGE_STARTED", "DRONE_BUILD_STARTED"]));
    ci.set(Key::Status, v.first(&["DRONE_STAGE_STATUS", "DRONE_BUILD_STATUS"]));
    ci.commit = v.get("DRONE_COMMIT_SHA");
    ci.context("run_url", v.get("DRONE_BUILD_LINK"));
    ci.context("branch", v.first(&["DRONE_SOURCE_BRANCH", "DRONE_BRANCH", "DRONE_TAG"]));
    ci.set(Key::Environment, v.get("DRONE_DEPLOY_TO"));
    ci
}

pub fn detect_woodpecker(env: &Env) -> bool {
    env.get("CI").is_some_and(|v| v.eq_ignore_ascii_case("woodpecker"))
}

pub fn read_woodpecker(env: &Env) -> Ci {
    let v = Vars::new(env, "Woodpecker");
    let mut ci = Ci::new(v.system);
    set_repo(&mut ci, v.get("CI_REPO"));
    set_job_id(
        &mut ci,
        v.joined(&["CI_PIPELINE_NUMBER", "CI_WORKFLOW_NUMBER", "CI_STEP_NUMBER"])
            .or_else(|| v.get("CI_PIPELINE_NUMBER")),
    );
    ci.set(Key::TriggeredBy, v.first(&["CI_COMMIT_AUTHOR_EMAIL", "CI_COMMIT_AUTHOR"]));
    ci.set(Key::JobStartTime, v.first(&["CI_STEP_STARTED", "CI_PIPELINE_STARTED"]));
    ci.set(Key::Status, v.get("CI_PIPELINE_STATUS"));
    ci.commit = v.get("CI_COMMIT_SHA");
    ci.context("run_url", v.first(&["CI_STEP_URL", "CI_PIPELINE_URL"]));
    ci.context("branch", v.first(&["CI_COMMIT_SOURCE_BRANCH", "CI_COMMIT_BRANCH", "CI_COMMIT_TAG"]));
    ci.set(Key::Environment, v.get("CI_PIPELINE_DEPLOY_TARGET"));
    ci
}

pub fn detect_semaphore(env: &Env) -> bool {
    env.get("SEMAPHORE").is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

pub fn read_semaphore(env: &Env) -> Ci {
    let v = Vars::new(env, "Semaphore");
    let mut ci = Ci::new(v.system);
    set_repo(&mut ci, v.get("SEMAPHORE_GIT_REPO_SLUG"));
    set_job_id(&mut ci, v.get("SEMAPHORE_JOB_ID"));
    ci.set(Key::TriggeredBy, v.get("SEMAPHORE_WORKFLOW_TRIGGERED_BY"));
    ci.set(Key::JobStartTime, v.get("SEMAPHORE_JOB_CREATION_TIME"));
    // passed / failed / stopped; a stopped job did not succeed.
    let status = v
        .get("SEMAPHORE_JOB_RESULT")
        .map(|s| s.map(|w| if w.eq_ignore_ascii_case("stopped") { "cancelled".to_owned() } else { w }));
    ci.set(Key::Status, status);
    ci.commit = v.get("SEMAPHORE_GIT_SHA");
    ci.pr_head = v.get("SEMAPHORE_GIT_PR_SHA");
    ci.context("branch", v.first(&["SEMAPHORE_GIT_PR_BRANCH", "SEMAPHORE_GIT_BRANCH"]));
    ci
}

pub fn detect_codebuild(env: &Env) -> bool {
    env.get("CODEBUILD_BUILD_ID").is_some()
}

pub fn read_codebuild(env: &Env) -> Ci {
    let v = Vars::new(env, "AWS CodeBuild");
    let mut ci = Ci::new(v.system);
    set_repo(&mut ci, repo_from_url(&v, "CODEBUILD_SOURCE_REPO_URL"));
    set_job_id(&mut ci, v.get("CODEBUILD_BUILD_ID"));
    ci.set(Key::TriggeredBy, v.get("CODEBUILD_INITIATOR"));
    // Epoch milliseconds: converted here, where the unit is known.
    let start = v.raw("CODEBUILD_START_TIME").and_then(|ms| epoch::parse_millis(ms).ok());
    ci.set(Key::JobStartTime, start.map(|s| v.derived(s.to_string(), "CODEBUILD_START_TIME (milliseconds)")));
    let status = v
        .get("CODEBUILD_BUILD_SUCCEEDING")
        .map(|s| s.map(|b| if b.trim() == "1" { "success" } else { "failed" }.to_owned()));
    ci.set(Key::Status, status);
    ci.commit = v.get("CODEBUILD_RESOLVED_SOURCE_VERSION");
    ci.context("run_url", v.get("CODEBUILD_BUILD_URL"));
    ci
}

pub fn detect_bitrise(env: &Env) -> bool {
    env.get("BITRISE_IO").is_some()
}

pub fn read_bitrise(env: &Env) -> Ci {
    let v = Vars::new(env, "Bitrise");
    let mut ci = Ci::new(v.system);
    set_repo(&mut ci, repo_from_url(&v, "GIT_REPOSITORY_URL"));
    set_job_id(&mut ci, v.get("BITRISE_BUILD_SLUG"));
    ci.set(Key::JobStartTime, v.get("BITRISE_BUILD_TRIGGER_TIMESTAMP"));
    ci.commit = v.first(&["GIT_CLONE_COMMIT_HASH", "BITRISE_GIT_COMMIT"]);
    ci.context("run_url", v.get("BITRISE_BUILD_URL"));
    ci.context("branch", v.get("BITRISE_GIT_BRANCH"));
    ci
}

pub fn detect_appveyor(env: &Env) -> bool {
    env.get("APPVEYOR").is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

pub fn read_appveyor(env: &Env) -> Ci {
    let v = Vars::new(env, "AppVeyor");
    let mut ci = Ci::new(v.system);
    set_repo(&mut ci, v.get("APPVEYOR_REPO_NAME"));
    set_job_id(&mut ci, v.get("APPVEYOR_JOB_ID"));
    ci.set(Key::TriggeredBy, v.first(&["APPVEYOR_REPO_COMMIT_AUTHOR_EMAIL"]));
    ci.commit = v.get("APPVEYOR_REPO_COMMIT");
    ci.pr_head = v.get("APPVEYOR_PULL_REQUEST_HEAD_COMMIT");
    ci.context("branch", v.first(&["APPVEYOR_PULL_REQUEST_HEAD_REPO_BRANCH", "APPVEYOR_REPO_BRANCH"]));
    ci
}

pub fn detect_teamcity(env: &Env) -> bool {
    env.get("TEAMCITY_VERSION").is_some()
}

/// TeamCity exports little by default: detection, the build number, and git for the rest.
pub fn read_teamcity(env: &Env) -> Ci {
    let v = Vars::new(env, "TeamCity");
    let mut ci = Ci::new(v.system);
    set_job_id(&mut ci, v.joined(&["TEAMCITY_BUILDCONF_NAME", "BUILD_NUMBER"]));
    ci
}

pub fn detect_cloudbuild(env: &Env) -> bool {
    env.get("BUILDER_OUTPUT").is_some()
}

/// Cloud Build's `$COMMIT_SHA` and friends are substitutions, not variables: git gives the rest.
pub fn read_cloudbuild(env: &Env) -> Ci {
    let v = Vars::new(env, "Google Cloud Build");
    let mut ci = Ci::new(v.system);
    set_job_id(&mut ci, v.get("BUILD_ID"));
    ci
}

#[cfg(test)]
mod tests {
    use super::super::{detect, test_env::env};
    use super::*;

    const SHA: &str = "1111111111111111111111111111111111111111";
    const HEAD: &str = "2222222222222222222222222222222222222222";

    struct Want {
        system: &'static str,
        repo: Option<&'static str>,
        job: Option<&'static str>,
        who: Option<&'static str>,
        start: Option<&'static str>,
        status: Option<&'static str>,
        commit: Option<&'static str>,
        pr: Option<&'static str>,
    }

    fn check(pairs: &[(&str, &str)], want: Want) {
        let ci = detect(&env(pairs)).expect("detected");
        let get = |k: Key| ci.layer.get(k).map(|v| v.value.clone());
        assert_eq!(ci.system, want.system);
        assert_eq!(get(Key::RepoName).as_deref(), want.repo, "{} repo", want.system);
        assert_eq!(get(Key::JobId).as_deref(), want.job, "{} job", want.system);
        assert_eq!(get(Key::TriggeredBy).as_deref(), want.who, "{} who", want.system);
        assert_eq!(get(Key::JobStartTime).as_deref(), want.start, "{} start", want.system);
        assert_eq!(get(Key::Status).as_deref(), want.status, "{} status", want.system);
        assert_eq!(ci.commit.as_ref().map(|c| c.value.as_str()), want.commit, "{} commit", want.system);
        assert_eq!(ci.pr_head.as_ref().map(|c| c.value.as_str()), want.pr, "{} pr", want.system);
        for (key, v) in ci.layer_sources() {
            assert!(v.starts_with(want.system), "{key}: {v}");
        }
    }

    impl Ci {
        fn layer_sources(&self) -> Vec<(&'static str, String)> {
            Key::ALL.iter().filter_map(|k| self.layer.get(*k).map(|v| (k.name(), v.source.to_string()))).collect()
        }
    }

    #[test]
    fn bitbucket() {
        check(
            &[
                ("BITBUCKET_BUILD_NUMBER", "7"),
                ("BITBUCKET_COMMIT", SHA),
                ("BITBUCKET_REPO_FULL_NAME", "acme/app"),
                ("BITBUCKET_STEP_TRIGGERER_UUID", "{u-1}"),
                ("BITBUCKET_STEP_UUID", "{s-1}"),
                ("BITBUCKET_EXIT_CODE", "1"),
            ],
            Want {
                system: "Bitbucket Pipelines",
                repo: Some("acme/app"),
                job: Some("{s-1}"),
                who: Some("{u-1}"),
                start: None,
                status: Some("failed"),
                commit: Some(SHA),
                pr: None,
            },
        );
    }

    #[test]
    fn circleci() {
        check(
            &[
                ("CIRCLECI", "true"),
                ("CIRCLE_SHA1", SHA),
                ("CIRCLE_PROJECT_USERNAME", "acme"),
                ("CIRCLE_PROJECT_REPONAME", "app"),
                ("CIRCLE_USERNAME", "dev"),
                ("CIRCLE_WORKFLOW_JOB_ID", "wj-1"),
            ],
            Want {
                system: "CircleCI",
                repo: Some("acme/app"),
                job: Some("wj-1"),
                who: Some("dev"),
                start: None,
                status: None,
                commit: Some(SHA),
                pr: None,
            },
        );
    }

    #[test]
    fn azure_with_a_pull_request_and_its_own_time_format() {
        check(
            &[
                ("TF_BUILD", "True"),
                ("BUILD_SOURCEVERSION", SHA),
                ("SYSTEM_PULLREQUEST_SOURCECOMMITID", HEAD),
                ("BUILD_REPOSITORY_NAME", "acme/app"),
                ("BUILD_REQUESTEDFOREMAIL", "dev@example.com"),
                ("SYSTEM_PIPELINESTARTTIME", "2020-02-10 13:29:58-05:00"),
                ("SYSTEM_JOBID", "j1"),
                ("SYSTEM_JOBATTEMPT", "2"),
                ("AGENT_JOBSTATUS", "SucceededWithIssues"),
            ],
            Want {
                system: "Azure Pipelines",
                repo: Some("acme/app"),
                job: Some("j1-2"),
                who: Some("dev@example.com"),
                start: Some("2020-02-10 13:29:58-05:00"),
                status: Some("succeeded"),
                commit: Some(SHA),
                pr: Some(HEAD),
            },
        );
        assert_eq!(epoch::parse_time("2020-02-10 13:29:58-05:00"), Ok(1_581_359_398));
    }

    #[test]
    fn buildkite_symbolic_head_is_left_to_git() {
        check(
            &[
                ("BUILDKITE", "true"),
                ("BUILDKITE_COMMIT", "HEAD"),
                ("BUILDKITE_REPO", "git@github.com:acme/app.git"),
                ("BUILDKITE_BUILD_CREATOR_EMAIL", "dev@example.com"),
                ("BUILDKITE_JOB_ID", "b-1"),
                ("BUILDKITE_RETRY_COUNT", "0"),
                ("BUILDKITE_COMMAND_EXIT_STATUS", "0"),
            ],
            Want {
                system: "Buildkite",
                repo: Some("acme/app"),
                job: Some("b-1-0"),
                who: Some("dev@example.com"),
                start: None,
                status: Some("success"),
                commit: None,
                pr: None,
            },
        );
    }

    #[test]
    fn travis() {
        check(
            &[
                ("TRAVIS", "true"),
                ("TRAVIS_COMMIT", SHA),
                ("TRAVIS_PULL_REQUEST_SHA", HEAD),
                ("TRAVIS_REPO_SLUG", "acme/app"),
                ("TRAVIS_JOB_ID", "99"),
                ("TRAVIS_TEST_RESULT", "0"),
            ],
            Want {
                system: "Travis CI",
                repo: Some("acme/app"),
                job: Some("99"),
                who: None,
                start: None,
                status: Some("success"),
                commit: Some(SHA),
                pr: Some(HEAD),
            },
        );
    }

    #[test]
    fn drone_and_harness() {
        let pairs = [
            ("DRONE", "true"),
            ("DRONE_COMMIT_SHA", SHA),
            ("DRONE_REPO", "acme/app"),
            ("DRONE_BUILD_TRIGGER", "@hook"),
            ("DRONE_BUILD_STARTED", "1704018030"),
            ("DRONE_BUILD_NUMBER", "5"),
            ("DRONE_STAGE_NUMBER", "1"),
            ("DRONE_BUILD_STATUS", "success"),
        ];
        let want = |system| Want {
            system,
            repo: Some("acme/app"),
            job: Some("5-1"),
            who: Some("@hook"),
            start: Some("1704018030"),
            status: Some("success"),
            commit: Some(SHA),
            pr: None,
        };
        check(&pairs, want("Drone"));
        let mut harness = pairs.to_vec();
        harness.push(("HARNESS_BUILD_ID", "h-1"));
        check(&harness, want("Harness CI"));
    }

    #[test]
    fn woodpecker() {
        check(
            &[
                ("CI", "woodpecker"),
                ("CI_COMMIT_SHA", SHA),
                ("CI_REPO", "acme/app"),
                ("CI_COMMIT_AUTHOR_EMAIL", "dev@example.com"),
                ("CI_PIPELINE_STARTED", "1704018030"),
                ("CI_PIPELINE_NUMBER", "3"),
                ("CI_WORKFLOW_NUMBER", "1"),
                ("CI_STEP_NUMBER", "2"),
            ],
            Want {
                system: "Woodpecker",
                repo: Some("acme/app"),
                job: Some("3-1-2"),
                who: Some("dev@example.com"),
                start: Some("1704018030"),
                status: None,
                commit: Some(SHA),
                pr: None,
            },
        );
    }

    #[test]
    fn semaphore_stopped_is_a_failure() {
        check(
            &[
                ("SEMAPHORE", "true"),
                ("SEMAPHORE_GIT_SHA", SHA),
                ("SEMAPHORE_GIT_PR_SHA", HEAD),
                ("SEMAPHORE_GIT_REPO_SLUG", "acme/app"),
                ("SEMAPHORE_WORKFLOW_TRIGGERED_BY", "dev"),
                ("SEMAPHORE_JOB_CREATION_TIME", "1704018030"),
                ("SEMAPHORE_JOB_ID", "sj"),
                ("SEMAPHORE_JOB_RESULT", "stopped"),
            ],
            Want {
                system: "Semaphore",
                repo: Some("acme/app"),
                job: Some("sj"),
                who: Some("dev"),
                start: Some("1704018030"),
                status: Some("cancelled"),
                commit: Some(SHA),
                pr: Some(HEAD),
            },
        );
    }

    #[test]
    fn codebuild_start_is_converted_from_milliseconds() {
        check(
            &[
                ("CODEBUILD_BUILD_ID", "proj:uuid"),
                ("CODEBUILD_RESOLVED_SOURCE_VERSION", SHA),
                ("CODEBUILD_SOURCE_REPO_URL", "https://user:pw@git-codecommit.us-east-1.amazonaws.com/v1/repos/app"),
                ("CODEBUILD_INITIATOR", "codepipeline/app"),
                ("CODEBUILD_START_TIME", "1704018030123"),
                ("CODEBUILD_BUILD_SUCCEEDING", "1"),
            ],
            Want {
                system: "AWS CodeBuild",
                repo: Some("v1/repos/app"),
                job: Some("proj:uuid"),
                who: Some("codepipeline/app"),
                start: Some("1704018030"),
                status: Some("success"),
                commit: Some(SHA),
                pr: None,
            },
        );
        let ci =
            detect(&env(&[("CODEBUILD_BUILD_ID", "x"), ("CODEBUILD_SOURCE_REPO_URL", "https://user:pw@host/a/b")]))
                .expect("detected");
        assert!(!ci.layer.get(Key::RepoName).expect("repo").source.to_string().contains("pw@"));
    }

    #[test]
    fn bitrise_appveyor_teamcity_cloudbuild() {
        check(
            &[
                ("BITRISE_IO", "true"),
                ("GIT_CLONE_COMMIT_HASH", SHA),
                ("BITRISE_BUILD_TRIGGER_TIMESTAMP", "1704018030"),
                ("BITRISE_BUILD_SLUG", "slug"),
                ("GIT_REPOSITORY_URL", "git@github.com:acme/app.git"),
            ],
            Want {
                system: "Bitrise",
                repo: Some("acme/app"),
                job: Some("slug"),
                who: None,
                start: Some("1704018030"),
                status: None,
                commit: Some(SHA),
                pr: None,
            },
        );
        check(
            &[
                ("APPVEYOR", "True"),
                ("APPVEYOR_REPO_COMMIT", SHA),
                ("APPVEYOR_PULL_REQUEST_HEAD_COMMIT", HEAD),
                ("APPVEYOR_REPO_NAME", "acme/app"),
                ("APPVEYOR_JOB_ID", "aj"),
            ],
            Want {
                system: "AppVeyor",
                repo: Some("acme/app"),
                job: Some("aj"),
                who: None,
                start: None,
                status: None,
                commit: Some(SHA),
                pr: Some(HEAD),
            },
        );
        check(
            &[("TEAMCITY_VERSION", "2024.1"), ("TEAMCITY_BUILDCONF_NAME", "Deploy"), ("BUILD_NUMBER", "12")],
            Want {
                system: "TeamCity",
                repo: None,
                job: Some("Deploy-12"),
                who: None,
                start: None,
                status: None,
                commit: None,
                pr: None,
            },
        );
        check(
            &[("BUILDER_OUTPUT", "/builder/outputs"), ("BUILD_ID", "cb-1")],
            Want {
                system: "Google Cloud Build",
                repo: None,
                job: Some("cb-1"),
                who: None,
                start: None,
                status: None,
                commit: None,
                pr: None,
            },
        );
    }
}
