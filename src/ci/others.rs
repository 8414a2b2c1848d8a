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

use super::{exit_code_status, Ci, Context, Vars};

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

pub(super) fn detect_bitbucket(env: &Env) -> bool {
    env.get("BITBUCKET_BUILD_NUMBER").is_some()
}

pub(super) fn read_bitbucket(env: &Env) -> Ci {
    let v = Vars::new(env, "Bitbucket Pipelines");
    let mut ci = Ci::new(v.system);
    set_repo(&mut ci, v.get("BITBUCKET_REPO_FULL_NAME"));
    set_job_id(&mut ci, v.first(&["BITBUCKET_STEP_UUID", "BITBUCKET_BUILD_NUMBER"]));
    // BITBUCKET_STEP_TRIGGERER_UUID is an account UUID (for schedules, the pipelines bot's): no
    // email, no username, nobody a reader of the dashboard knows. Not sent.
    // Set in after-script only: the step's exit code.
    ci.set(Key::Status, v.get("BITBUCKET_EXIT_CODE").map(|s| s.map(|c| exit_code_status(&c))));
    ci.commit = v.get("BITBUCKET_COMMIT");
    // A pull-request pipeline's clone merges the destination into the source on the agent:
    // BITBUCKET_COMMIT is the source's commit, HEAD that merge.
    ci.commit_beats_checkout = v.raw("BITBUCKET_PR_ID").is_some();
    ci.context(Context::Branch, v.first(&["BITBUCKET_BRANCH", "BITBUCKET_TAG"]));
    ci.set(Key::Environment, v.get("BITBUCKET_DEPLOYMENT_ENVIRONMENT"));
    ci
}

pub(super) fn detect_circleci(env: &Env) -> bool {
    env.get("CIRCLECI").is_some()
}

pub(super) fn read_circleci(env: &Env) -> Ci {
    let v = Vars::new(env, "CircleCI");
    let mut ci = Ci::new(v.system);
    let repo = match (v.raw("CIRCLE_PROJECT_USERNAME"), v.raw("CIRCLE_PROJECT_REPONAME")) {
        (Some(owner), Some(name)) => {
            Some(v.derived(format!("{owner}/{name}"), "CIRCLE_PROJECT_USERNAME/CIRCLE_PROJECT_REPONAME"))
        }
        _ => None,
    };
    set_repo(&mut ci, repo);
    // A job with `parallelism` runs one container per node, all with the same job id.
    let parallel = v.raw("CIRCLE_NODE_TOTAL").and_then(|n| n.parse::<u32>().ok()).is_some_and(|n| n > 1);
    let job = if parallel {
        v.joined(&["CIRCLE_WORKFLOW_JOB_ID", "CIRCLE_NODE_INDEX"])
    } else {
        v.get("CIRCLE_WORKFLOW_JOB_ID")
    };
    // CIRCLE_BUILD_NUM counts per project: the project makes it unique.
    let job = job.or_else(|| v.joined(&["CIRCLE_PROJECT_USERNAME", "CIRCLE_PROJECT_REPONAME", "CIRCLE_BUILD_NUM"]));
    set_job_id(&mut ci, job);
    ci.set(Key::TriggeredBy, v.get("CIRCLE_USERNAME"));
    ci.commit = v.get("CIRCLE_SHA1");
    ci.context(Context::RunUrl, v.get("CIRCLE_BUILD_URL"));
    ci.context(Context::Branch, v.first(&["CIRCLE_BRANCH", "CIRCLE_TAG"]));
    ci
}

pub(super) fn detect_azure(env: &Env) -> bool {
    env.get("TF_BUILD").is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

pub(super) fn read_azure(env: &Env) -> Ci {
    let v = Vars::new(env, "Azure Pipelines");
    let mut ci = Ci::new(v.system);
    set_repo(&mut ci, v.get("BUILD_REPOSITORY_NAME"));
    // System.JobId is "unique to the current pipeline" (the same job has it in every run): the
    // run's BUILD_BUILDID makes it unique, the attempt tells re-runs apart.
    let job = v
        .joined(&["BUILD_BUILDID", "SYSTEM_JOBID", "SYSTEM_JOBATTEMPT"])
        .or_else(|| v.joined(&["BUILD_BUILDID", "SYSTEM_JOBID"]));
    set_job_id(&mut ci, job);
    // A scheduled run is "requested for" the pipeline's service identity, not a person.
    if !v.raw("BUILD_REASON").is_some_and(|r| r.eq_ignore_ascii_case("Schedule")) {
        ci.set(Key::TriggeredBy, v.first(&["BUILD_REQUESTEDFOREMAIL", "BUILD_REQUESTEDFOR"]));
    }
    // "2020-02-10 13:29:58-05:00": not RFC 3339, but `epoch::parse_time` reads it.
    ci.set(Key::JobStartTime, v.get("SYSTEM_PIPELINESTARTTIME"));
    ci.context(Context::CiResult, v.get("AGENT_JOBSTATUS"));
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
    ci.context(Context::RunUrl, run_url);
    ci.context(Context::Branch, v.first(&["SYSTEM_PULLREQUEST_SOURCEBRANCH", "BUILD_SOURCEBRANCHNAME"]));
    ci.set(Key::Environment, v.get("ENVIRONMENT_NAME"));
    ci.temp_dir = v.raw("AGENT_TEMPDIRECTORY").map(Into::into);
    ci
}

pub(super) fn detect_buildkite(env: &Env) -> bool {
    env.get("BUILDKITE").is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

pub(super) fn read_buildkite(env: &Env) -> Ci {
    let v = Vars::new(env, "Buildkite");
    let mut ci = Ci::new(v.system);
    set_repo(&mut ci, repo_from_url(&v, "BUILDKITE_REPO"));
    let job = v.joined(&["BUILDKITE_JOB_ID", "BUILDKITE_RETRY_COUNT"]).or_else(|| v.get("BUILDKITE_JOB_ID"));
    set_job_id(&mut ci, job);
    // Behind a block step, who unblocked it started what follows (the deploy); a scheduled build
    // has no person (its creator is the schedule's); else who created the build.
    let who = v.first(&["BUILDKITE_UNBLOCKER_EMAIL", "BUILDKITE_UNBLOCKER"]).or_else(|| {
        if v.raw("BUILDKITE_SOURCE").is_some_and(|s| s.eq_ignore_ascii_case("schedule")) {
            None
        } else {
            v.first(&["BUILDKITE_BUILD_CREATOR_EMAIL", "BUILDKITE_BUILD_CREATOR"])
        }
    });
    ci.set(Key::TriggeredBy, who);
    ci.set(Key::Status, v.get("BUILDKITE_COMMAND_EXIT_STATUS").map(|s| s.map(|c| exit_code_status(&c))));
    // BUILDKITE_COMMIT may be the symbolic "HEAD": then the checkout's HEAD is the answer.
    ci.commit = v.get("BUILDKITE_COMMIT").filter(|c| !c.value.eq_ignore_ascii_case("HEAD"));
    ci.context(Context::RunUrl, v.get("BUILDKITE_BUILD_URL"));
    ci.context(Context::Branch, v.first(&["BUILDKITE_BRANCH", "BUILDKITE_TAG"]));
    ci
}

pub(super) fn detect_travis(env: &Env) -> bool {
    env.get("TRAVIS").is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

pub(super) fn read_travis(env: &Env) -> Ci {
    let v = Vars::new(env, "Travis CI");
    let mut ci = Ci::new(v.system);
    set_repo(&mut ci, v.get("TRAVIS_REPO_SLUG"));
    set_job_id(&mut ci, v.get("TRAVIS_JOB_ID"));
    ci.set(Key::Status, v.get("TRAVIS_TEST_RESULT").map(|s| s.map(|c| exit_code_status(&c))));
    ci.commit = v.get("TRAVIS_COMMIT");
    ci.pr_head = v.get("TRAVIS_PULL_REQUEST_SHA");
    ci.context(Context::RunUrl, v.get("TRAVIS_JOB_WEB_URL"));
    ci.context(Context::Branch, v.first(&["TRAVIS_PULL_REQUEST_BRANCH", "TRAVIS_BRANCH"]));
    ci
}

pub(super) fn detect_harness(env: &Env) -> bool {
    env.get("HARNESS_BUILD_ID").is_some()
}

pub(super) fn read_harness(env: &Env) -> Ci {
    drone_like(env, "Harness CI")
}

pub(super) fn detect_drone(env: &Env) -> bool {
    env.get("DRONE").is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

pub(super) fn read_drone(env: &Env) -> Ci {
    drone_like(env, "Drone")
}

/// Drone's variables; Harness CI sets them too.
fn drone_like(env: &Env, system: &'static str) -> Ci {
    let v = Vars::new(env, system);
    let mut ci = Ci::new(system);
    set_repo(&mut ci, v.get("DRONE_REPO"));
    // Build numbers count per repository; a stage runs its steps, any of which may report.
    let job = v
        .joined(&["DRONE_REPO", "DRONE_BUILD_NUMBER", "DRONE_STAGE_NUMBER", "DRONE_STEP_NUMBER"])
        .or_else(|| v.joined(&["DRONE_REPO", "DRONE_BUILD_NUMBER", "DRONE_STAGE_NUMBER"]))
        .or_else(|| v.joined(&["DRONE_REPO", "DRONE_BUILD_NUMBER"]));
    set_job_id(&mut ci, job);
    // `customcd start` and `report` may run in different steps of the stage: its start state is
    // the stage's.
    if let Some(stage) = v.joined(&["DRONE_REPO", "DRONE_BUILD_NUMBER", "DRONE_STAGE_NUMBER"]) {
        ci.job_key = Some(stage.value);
    }
    // DRONE_BUILD_TRIGGER is `@hook` for a webhook (a push or pull request: its author),
    // `@cron` for a cron job (nobody), else the user who started the build, a promotion or a
    // rollback. The author's forge login first: Drone documents DRONE_COMMIT_AUTHOR_EMAIL as "a
    // user-defined value [that] may be empty or inaccurate" (a push's is the commit's own claim;
    // a pull request's login is its author's account).
    let author = || v.first(&["DRONE_COMMIT_AUTHOR", "DRONE_COMMIT_AUTHOR_EMAIL"]);
    let who = match v.raw("DRONE_BUILD_TRIGGER") {
        Some(t) if t.eq_ignore_ascii_case("@cron") => None,
        Some(t) if t.starts_with('@') => author(),
        Some(_) => v.get("DRONE_BUILD_TRIGGER"),
        None => author(),
    };
    ci.set(Key::TriggeredBy, who);
    ci.set(Key::JobStartTime, v.first(&["DRONE_STAGE_STARTED", "DRONE_BUILD_STARTED"]));
    ci.context(Context::CiResult, v.first(&["DRONE_STAGE_STATUS", "DRONE_BUILD_STATUS"]));
    ci.set(Key::Status, v.first(&["DRONE_STAGE_STATUS", "DRONE_BUILD_STATUS"]));
    ci.commit = v.get("DRONE_COMMIT_SHA");
    // The pull-request clone checks out the target branch and rebases it onto DRONE_COMMIT_SHA
    // (drone-git's clone-pull-request): HEAD is then a commit made on the agent.
    ci.commit_beats_checkout = v.raw("DRONE_BUILD_EVENT").is_some_and(|e| e.eq_ignore_ascii_case("pull_request"));
    ci.context(Context::RunUrl, v.get("DRONE_BUILD_LINK"));
    ci.context(Context::Branch, v.first(&["DRONE_SOURCE_BRANCH", "DRONE_BRANCH", "DRONE_TAG"]));
    ci.set(Key::Environment, v.get("DRONE_DEPLOY_TO"));
    ci
}

pub(super) fn detect_woodpecker(env: &Env) -> bool {
    env.get("CI").is_some_and(|v| v.eq_ignore_ascii_case("woodpecker"))
}

pub(super) fn read_woodpecker(env: &Env) -> Ci {
    let v = Vars::new(env, "Woodpecker");
    let mut ci = Ci::new(v.system);
    set_repo(&mut ci, v.get("CI_REPO"));
    // Pipeline numbers count per repository.
    let job = v
        .joined(&["CI_REPO", "CI_PIPELINE_NUMBER", "CI_WORKFLOW_NUMBER", "CI_STEP_NUMBER"])
        .or_else(|| v.joined(&["CI_REPO", "CI_PIPELINE_NUMBER"]));
    set_job_id(&mut ci, job);
    // `customcd start` and `report` may run in different steps of the workflow.
    if let Some(workflow) = v.joined(&["CI_REPO", "CI_PIPELINE_NUMBER", "CI_WORKFLOW_NUMBER"]) {
        ci.job_key = Some(workflow.value);
    }
    // A cron pipeline has nobody; the pipeline's author (who pushed, or started a manual or
    // deployment pipeline) where Woodpecker gives it; else, for the events a push starts,
    // CI_COMMIT_AUTHOR, which Woodpecker fills with the hook's sender (the forge login that
    // pushed or opened the pull request), before CI_COMMIT_AUTHOR_EMAIL, the head commit's own
    // claim. A manual or deployment pipeline's commit author started nothing.
    let event = v.raw("CI_PIPELINE_EVENT").unwrap_or("").to_ascii_lowercase();
    let who = match event.as_str() {
        "cron" => None,
        _ => v.get("CI_PIPELINE_AUTHOR").or_else(|| {
            if matches!(event.as_str(), "manual" | "deployment" | "deploy") {
                None
            } else {
                v.first(&["CI_COMMIT_AUTHOR", "CI_COMMIT_AUTHOR_EMAIL"])
            }
        }),
    };
    ci.set(Key::TriggeredBy, who);
    ci.set(Key::JobStartTime, v.first(&["CI_STEP_STARTED", "CI_PIPELINE_STARTED"]));
    ci.context(Context::CiResult, v.get("CI_PIPELINE_STATUS"));
    ci.set(Key::Status, v.get("CI_PIPELINE_STATUS"));
    ci.commit = v.get("CI_COMMIT_SHA");
    ci.context(Context::RunUrl, v.first(&["CI_STEP_URL", "CI_PIPELINE_URL"]));
    ci.context(Context::Branch, v.first(&["CI_COMMIT_SOURCE_BRANCH", "CI_COMMIT_BRANCH", "CI_COMMIT_TAG"]));
    ci.set(Key::Environment, v.get("CI_PIPELINE_DEPLOY_TARGET"));
    ci
}

pub(super) fn detect_semaphore(env: &Env) -> bool {
    env.get("SEMAPHORE").is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

pub(super) fn read_semaphore(env: &Env) -> Ci {
    let v = Vars::new(env, "Semaphore");
    let mut ci = Ci::new(v.system);
    set_repo(&mut ci, v.get("SEMAPHORE_GIT_REPO_SLUG"));
    set_job_id(&mut ci, v.get("SEMAPHORE_JOB_ID"));
    // A promotion (Semaphore's deploys) was started by whoever promoted it; a scheduled
    // workflow by nobody.
    let truthy = |name: &str| v.raw(name).is_some_and(|b| b.eq_ignore_ascii_case("true"));
    let who = if truthy("SEMAPHORE_PIPELINE_PROMOTION") && v.raw("SEMAPHORE_PIPELINE_PROMOTED_BY").is_some() {
        v.get("SEMAPHORE_PIPELINE_PROMOTED_BY")
    } else if truthy("SEMAPHORE_WORKFLOW_TRIGGERED_BY_SCHEDULE") {
        None
    } else {
        v.get("SEMAPHORE_WORKFLOW_TRIGGERED_BY")
    };
    ci.set(Key::TriggeredBy, who);
    ci.set(Key::JobStartTime, v.get("SEMAPHORE_JOB_CREATION_TIME"));
    // passed / failed / stopped; a stopped job did not succeed.
    ci.context(Context::CiResult, v.get("SEMAPHORE_JOB_RESULT"));
    let status = v
        .get("SEMAPHORE_JOB_RESULT")
        .map(|s| s.map(|w| if w.eq_ignore_ascii_case("stopped") { "cancelled".to_owned() } else { w }));
    ci.set(Key::Status, status);
    ci.commit = v.get("SEMAPHORE_GIT_SHA");
    ci.pr_head = v.get("SEMAPHORE_GIT_PR_SHA");
    ci.context(Context::Branch, v.first(&["SEMAPHORE_GIT_PR_BRANCH", "SEMAPHORE_GIT_BRANCH"]));
    ci
}

pub(super) fn detect_codebuild(env: &Env) -> bool {
    env.get("CODEBUILD_BUILD_ID").is_some()
}

pub(super) fn read_codebuild(env: &Env) -> Ci {
    let v = Vars::new(env, "AWS CodeBuild");
    let mut ci = Ci::new(v.system);
    set_repo(&mut ci, repo_from_url(&v, "CODEBUILD_SOURCE_REPO_URL"));
    set_job_id(&mut ci, v.get("CODEBUILD_BUILD_ID"));
    ci.set(Key::TriggeredBy, codebuild_initiator(&v));
    // Epoch milliseconds: converted here, where the unit is known.
    let start = v.raw("CODEBUILD_START_TIME").and_then(|ms| epoch::parse_millis(ms).ok());
    ci.set(Key::JobStartTime, start.map(|s| v.derived(s.to_string(), "CODEBUILD_START_TIME (milliseconds)")));
    let status = v
        .get("CODEBUILD_BUILD_SUCCEEDING")
        .map(|s| s.map(|b| if b.trim() == "1" { "success" } else { "failed" }.to_owned()));
    ci.set(Key::Status, status);
    ci.commit = v.get("CODEBUILD_RESOLVED_SOURCE_VERSION");
    ci.context(Context::RunUrl, v.get("CODEBUILD_BUILD_URL"));
    ci
}

/// CODEBUILD_INITIATOR names a person only when an IAM user (or role session) started the build:
/// `codepipeline/NAME` is a pipeline, `CodeBuild-Jenkins-Plugin` the Jenkins plugin, and a webhook
/// build (CODEBUILD_WEBHOOK_TRIGGER set) names the forge's hook agent (`GitHub-Hookshot/...`).
fn codebuild_initiator(v: &Vars<'_>) -> Option<Sourced<String>> {
    let initiator = v.get("CODEBUILD_INITIATOR")?;
    let name = initiator.value.as_str();
    let agent = name.starts_with("codepipeline/")
        || name.eq_ignore_ascii_case("CodeBuild-Jenkins-Plugin")
        || v.raw("CODEBUILD_WEBHOOK_TRIGGER").is_some()
        || name.contains("Hookshot")
        || name.contains("Webhook");
    (!agent).then_some(initiator)
}

pub(super) fn detect_bitrise(env: &Env) -> bool {
    env.get("BITRISE_IO").is_some()
}

pub(super) fn read_bitrise(env: &Env) -> Ci {
    let v = Vars::new(env, "Bitrise");
    let mut ci = Ci::new(v.system);
    set_repo(&mut ci, repo_from_url(&v, "GIT_REPOSITORY_URL"));
    set_job_id(&mut ci, v.get("BITRISE_BUILD_SLUG"));
    ci.set(Key::JobStartTime, v.get("BITRISE_BUILD_TRIGGER_TIMESTAMP"));
    // BITRISE_GIT_COMMIT is the commit the build was triggered for; on a pull request the
    // git-clone step merges it into the target on the agent, and GIT_CLONE_COMMIT_HASH (what it
    // cloned) is then that merge.
    ci.commit = v.first(&["BITRISE_GIT_COMMIT", "GIT_CLONE_COMMIT_HASH"]);
    ci.commit_beats_checkout = v.raw("BITRISE_PULL_REQUEST").is_some();
    ci.context(Context::RunUrl, v.get("BITRISE_BUILD_URL"));
    ci.context(Context::Branch, v.get("BITRISE_GIT_BRANCH"));
    ci
}

pub(super) fn detect_appveyor(env: &Env) -> bool {
    env.get("APPVEYOR").is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

pub(super) fn read_appveyor(env: &Env) -> Ci {
    let v = Vars::new(env, "AppVeyor");
    let mut ci = Ci::new(v.system);
    set_repo(&mut ci, v.get("APPVEYOR_REPO_NAME"));
    set_job_id(&mut ci, v.get("APPVEYOR_JOB_ID"));
    // A pushed commit's author pushed it (as the commit claims: AppVeyor names no account); a
    // scheduled build, one started from the dashboard or the API (forced), and a pull request
    // (whose head commit's author line is whatever the pull request's author wrote, a fork's
    // included) have nobody AppVeyor names.
    let truthy = |name: &str| v.raw(name).is_some_and(|b| b.eq_ignore_ascii_case("true"));
    let pull_request = v.raw("APPVEYOR_PULL_REQUEST_NUMBER").is_some();
    if !truthy("APPVEYOR_SCHEDULED_BUILD") && !truthy("APPVEYOR_FORCED_BUILD") && !pull_request {
        ci.set(Key::TriggeredBy, v.get("APPVEYOR_REPO_COMMIT_AUTHOR_EMAIL"));
    }
    ci.commit = v.get("APPVEYOR_REPO_COMMIT");
    ci.pr_head = v.get("APPVEYOR_PULL_REQUEST_HEAD_COMMIT");
    ci.context(Context::Branch, v.first(&["APPVEYOR_PULL_REQUEST_HEAD_REPO_BRANCH", "APPVEYOR_REPO_BRANCH"]));
    ci
}

pub(super) fn detect_teamcity(env: &Env) -> bool {
    env.get("TEAMCITY_VERSION").is_some()
}

/// TeamCity exports little as variables; the rest is in the build's properties files. The agent
/// names its system-properties file in TEAMCITY_BUILD_PROPERTIES_FILE (`teamcity.build.id`, the
/// server-wide build id; `teamcity.configuration.properties.file`), and that second file holds the
/// configuration parameters (`teamcity.build.triggeredBy.username`, `vcsroot.url`,
/// `build.vcs.number`). BUILD_VCS_NUMBER is the commit, also with a server-side checkout that
/// leaves no `.git`.
pub(super) fn read_teamcity(env: &Env) -> Ci {
    let v = Vars::new(env, "TeamCity");
    let mut ci = Ci::new(v.system);
    let build = v.raw("TEAMCITY_BUILD_PROPERTIES_FILE").map(read_properties).unwrap_or_default();
    let config = build
        .iter()
        .find(|(k, _)| k == "teamcity.configuration.properties.file")
        .map(|(_, path)| read_properties(path))
        .unwrap_or_default();
    let prop = |props: &[(String, String)], key: &str| {
        props.iter().find(|(k, _)| k == key).map(|(_, v)| v.trim().to_owned()).filter(|v| !v.is_empty())
    };
    // teamcity.build.id is unique on the server; BUILD_NUMBER follows a format that may repeat
    // (`%build.vcs.number%`), and configuration names repeat across projects.
    let job = prop(&build, "teamcity.build.id")
        .map(|id| v.derived(id, "teamcity.build.id (TEAMCITY_BUILD_PROPERTIES_FILE)"))
        .or_else(|| v.joined(&["TEAMCITY_PROJECT_NAME", "TEAMCITY_BUILDCONF_NAME", "BUILD_NUMBER"]));
    set_job_id(&mut ci, job);
    let who = prop(&config, "teamcity.build.triggeredBy.username")
        .map(|u| v.derived(u, "teamcity.build.triggeredBy.username (teamcity.configuration.properties.file)"));
    ci.set(Key::TriggeredBy, who);
    ci.commit = v.get("BUILD_VCS_NUMBER").or_else(|| {
        prop(&config, "build.vcs.number")
            .map(|c| v.derived(c, "build.vcs.number (teamcity.configuration.properties.file)"))
    });
    if let Some(url) = prop(&config, "vcsroot.url") {
        if let Some(repo) = remote::repo_name(&url) {
            let detail = format!("vcsroot.url ({}, teamcity.configuration.properties.file)", remote::redact(&url));
            set_repo(&mut ci, Some(v.derived(repo, detail)));
        }
    }
    ci.context(
        Context::Branch,
        prop(&config, "teamcity.build.branch")
            .map(|b| v.derived(b, "teamcity.build.branch (teamcity.configuration.properties.file)")),
    );
    ci
}

/// A Java properties file's `key=value` (or `key: value`) pairs, unescaped; empty when the file
/// cannot be read. Read bounded: these files are a few KiB.
fn read_properties(path: &str) -> Vec<(String, String)> {
    // Never blocks on a FIFO planted at the path, never reads past 1 MiB.
    match crate::fs::read_bounded(std::path::Path::new(path), 1 << 20) {
        Ok(bytes) => parse_properties(&String::from_utf8_lossy(&bytes)),
        Err(_) => Vec::new(),
    }
}

/// Parses Java properties: `#`/`!` comments, the first unescaped `=` or `:` separates, and
/// `\uXXXX`, `\t`, `\n` and `\<char>` escapes.
fn parse_properties(text: &str) -> Vec<(String, String)> {
    let unescape = |s: &str| {
        let mut out = String::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('t') => out.push('\t'),
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some('u') => {
                    let hex: String = chars.by_ref().take(4).collect();
                    out.extend(u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32));
                }
                Some(other) => out.push(other),
                None => {}
            }
        }
        out
    };
    text.lines()
        .map(str::trim_start)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('!'))
        .filter_map(|line| {
            let mut escaped = false;
            let cut = line.char_indices().find(|&(_, c)| {
                let sep = !escaped && (c == '=' || c == ':');
                escaped = !escaped && c == '\\';
                sep
            })?;
            Some((unescape(line[..cut.0].trim()), unescape(line[cut.0 + 1..].trim())))
        })
        .collect()
}

pub(super) fn detect_cloudbuild(env: &Env) -> bool {
    env.get("BUILDER_OUTPUT").is_some()
}

/// Cloud Build's `$COMMIT_SHA` and friends are substitutions, not variables: git gives the rest.
pub(super) fn read_cloudbuild(env: &Env) -> Ci {
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
                who: None,
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
                ("BUILD_BUILDID", "77"),
                ("SYSTEM_JOBID", "j1"),
                ("SYSTEM_JOBATTEMPT", "2"),
                ("AGENT_JOBSTATUS", "SucceededWithIssues"),
            ],
            Want {
                system: "Azure Pipelines",
                repo: Some("acme/app"),
                job: Some("77-j1-2"),
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
            ("DRONE_COMMIT_AUTHOR_EMAIL", "dev@example.com"),
            ("DRONE_BUILD_STARTED", "1704018030"),
            ("DRONE_BUILD_NUMBER", "5"),
            ("DRONE_STAGE_NUMBER", "1"),
            ("DRONE_BUILD_STATUS", "success"),
        ];
        let want = |system| Want {
            system,
            repo: Some("acme/app"),
            job: Some("acme/app-5-1"),
            who: Some("dev@example.com"),
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
                job: Some("acme/app-3-1-2"),
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
                who: None,
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
    fn java_properties_are_read_as_teamcity_writes_them() {
        let text = "#comment\n! also\n  teamcity.build.id=4711\nvcsroot.url=https\\://u\\:p@host/a/b.git\nkey\\=with = v a l\nuni=caf\\u00e9\ncolon: value\n";
        let props = parse_properties(text);
        let get = |k: &str| props.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
        assert_eq!(get("teamcity.build.id"), Some("4711"));
        assert_eq!(get("vcsroot.url"), Some("https://u:p@host/a/b.git"));
        assert_eq!(get("key=with"), Some("v a l"));
        assert_eq!(get("uni"), Some("caf\u{e9}"));
        assert_eq!(get("colon"), Some("value"));
        assert_eq!(props.len(), 5, "comments are skipped: {props:?}");
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_for_a_properties_file_is_no_file_and_no_hang() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("build.properties");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo").success());
        assert!(read_properties(&fifo.to_string_lossy()).is_empty());
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
            &[
                ("TEAMCITY_VERSION", "2024.1"),
                ("TEAMCITY_PROJECT_NAME", "App"),
                ("TEAMCITY_BUILDCONF_NAME", "Deploy"),
                ("BUILD_NUMBER", "12"),
            ],
            Want {
                system: "TeamCity",
                repo: None,
                job: Some("App-Deploy-12"),
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
