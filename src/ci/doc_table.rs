//! The table of docs/ci-systems.md "Which commit, which person, which job id", checked against
//! the readers: each row is one system and trigger, built here from the system's documented
//! variables (and, for GitHub, an event payload), read by the reader, and rendered in the table's
//! words. A row of the page without a shape here, or a shape without its row, fails too.

use std::fmt::Write as _;

use crate::env::Env;
use crate::vocab::names::Key;
use crate::vocab::source::{Source, Sourced};

use super::{detect, Ci};

const PAGE: &str = include_str!("../../docs/ci-systems.md");
const BEGIN: &str = "<!-- ci-table: begin -->";
const END: &str = "<!-- ci-table: end -->";

/// One documented shape: its system and trigger as the table names them, and its variables.
struct Shape {
    system: &'static str,
    trigger: &'static str,
    vars: Vec<(String, String)>,
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn shape(system: &'static str, trigger: &'static str, base: &[(&str, &str)], extra: &[(&str, &str)]) -> Shape {
    let mut vars = pairs(base);
    for (k, v) in pairs(extra) {
        vars.retain(|(name, _)| *name != k);
        vars.push((k, v));
    }
    Shape { system, trigger, vars }
}

fn event(name: &str) -> String {
    format!("{}/tests/fixtures/github-events/{name}.json", env!("CARGO_MANIFEST_DIR"))
}

const SHA: &str = "1111111111111111111111111111111111111111";
const HEAD: &str = "2222222222222222222222222222222222222222";

/// Every shape of the table, from each system's own variable reference.
fn shapes(tmp: &std::path::Path) -> Vec<Shape> {
    let gh: &[(&str, &str)] = &[
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_REPOSITORY", "acme/app"),
        ("GITHUB_SHA", SHA),
        ("GITHUB_RUN_ID", "987"),
        ("GITHUB_RUN_ATTEMPT", "1"),
        ("GITHUB_JOB", "deploy"),
        ("GITHUB_ACTOR", "octocat"),
        ("GITHUB_TRIGGERING_ACTOR", "octocat"),
    ];
    let gh_event = |trigger: &'static str, name: &str, file: &str| {
        let path = event(file);
        let mut s = shape("GitHub Actions", trigger, gh, &[("GITHUB_EVENT_NAME", name)]);
        s.vars.push(("GITHUB_EVENT_PATH".to_owned(), path));
        s
    };
    let gl: &[(&str, &str)] = &[
        ("GITLAB_CI", "true"),
        ("CI_PROJECT_PATH", "group/app"),
        ("CI_COMMIT_SHA", SHA),
        ("CI_JOB_ID", "4242"),
        ("GITLAB_USER_EMAIL", "dev@example.com"),
        ("GITLAB_USER_LOGIN", "dev"),
        ("CI_PIPELINE_SOURCE", "push"),
    ];
    let jk: &[(&str, &str)] = &[
        ("JENKINS_URL", "https://ci.example.com/"),
        ("BUILD_TAG", "jenkins-app-17"),
        ("GIT_COMMIT", SHA),
        ("GIT_URL", "https://github.com/acme/app.git"),
    ];
    let az: &[(&str, &str)] = &[
        ("TF_BUILD", "True"),
        ("BUILD_SOURCEVERSION", SHA),
        ("BUILD_REPOSITORY_NAME", "acme/app"),
        ("BUILD_REQUESTEDFOREMAIL", "dev@example.com"),
        ("BUILD_BUILDID", "77"),
        ("SYSTEM_JOBID", "0d4e7c1e-1b0e-5a5c-9d7e-3b4a2c1d0e9f"),
        ("SYSTEM_JOBATTEMPT", "1"),
        ("BUILD_REASON", "IndividualCI"),
    ];
    let bb: &[(&str, &str)] = &[
        ("BITBUCKET_BUILD_NUMBER", "7"),
        ("BITBUCKET_COMMIT", SHA),
        ("BITBUCKET_REPO_FULL_NAME", "acme/app"),
        ("BITBUCKET_STEP_UUID", "{5f1a}"),
        ("BITBUCKET_STEP_TRIGGERER_UUID", "{9c2b}"),
    ];
    let cc: &[(&str, &str)] = &[
        ("CIRCLECI", "true"),
        ("CIRCLE_SHA1", SHA),
        ("CIRCLE_PROJECT_USERNAME", "acme"),
        ("CIRCLE_PROJECT_REPONAME", "app"),
        ("CIRCLE_USERNAME", "dev"),
        ("CIRCLE_WORKFLOW_JOB_ID", "9b1e"),
        ("CIRCLE_BUILD_NUM", "12"),
    ];
    let bk: &[(&str, &str)] = &[
        ("BUILDKITE", "true"),
        ("BUILDKITE_COMMIT", SHA),
        ("BUILDKITE_REPO", "git@github.com:acme/app.git"),
        ("BUILDKITE_BUILD_CREATOR_EMAIL", "dev@example.com"),
        ("BUILDKITE_JOB_ID", "0189-ab"),
        ("BUILDKITE_RETRY_COUNT", "0"),
        ("BUILDKITE_SOURCE", "webhook"),
    ];
    let tr: &[(&str, &str)] = &[
        ("TRAVIS", "true"),
        ("TRAVIS_COMMIT", SHA),
        ("TRAVIS_REPO_SLUG", "acme/app"),
        ("TRAVIS_JOB_ID", "99"),
        ("TRAVIS_EVENT_TYPE", "push"),
    ];
    let dr: &[(&str, &str)] = &[
        ("DRONE", "true"),
        ("DRONE_COMMIT_SHA", SHA),
        ("DRONE_REPO", "acme/app"),
        ("DRONE_BUILD_NUMBER", "5"),
        ("DRONE_STAGE_NUMBER", "1"),
        ("DRONE_STEP_NUMBER", "3"),
        ("DRONE_BUILD_EVENT", "push"),
        ("DRONE_BUILD_TRIGGER", "@hook"),
        ("DRONE_COMMIT_AUTHOR", "dev"),
        ("DRONE_COMMIT_AUTHOR_EMAIL", "dev@example.com"),
    ];
    let wp: &[(&str, &str)] = &[
        ("CI", "woodpecker"),
        ("CI_COMMIT_SHA", SHA),
        ("CI_REPO", "acme/app"),
        ("CI_PIPELINE_NUMBER", "3"),
        ("CI_WORKFLOW_NUMBER", "1"),
        ("CI_STEP_NUMBER", "2"),
        ("CI_PIPELINE_EVENT", "push"),
        ("CI_COMMIT_AUTHOR", "dev"),
        ("CI_COMMIT_AUTHOR_EMAIL", "dev@example.com"),
    ];
    let sem: &[(&str, &str)] = &[
        ("SEMAPHORE", "true"),
        ("SEMAPHORE_GIT_SHA", SHA),
        ("SEMAPHORE_GIT_REPO_SLUG", "acme/app"),
        ("SEMAPHORE_JOB_ID", "4b6d"),
        ("SEMAPHORE_WORKFLOW_TRIGGERED_BY", "dev"),
        ("SEMAPHORE_WORKFLOW_TRIGGERED_BY_HOOK", "true"),
    ];
    let cb: &[(&str, &str)] = &[
        ("CODEBUILD_BUILD_ID", "app:4f1c"),
        ("CODEBUILD_RESOLVED_SOURCE_VERSION", SHA),
        ("CODEBUILD_SOURCE_REPO_URL", "https://github.com/acme/app.git"),
    ];
    let br: &[(&str, &str)] = &[
        ("BITRISE_IO", "true"),
        ("BITRISE_GIT_COMMIT", SHA),
        ("GIT_CLONE_COMMIT_HASH", SHA),
        ("BITRISE_BUILD_SLUG", "b1f2"),
        ("GIT_REPOSITORY_URL", "git@github.com:acme/app.git"),
    ];
    let av: &[(&str, &str)] = &[
        ("APPVEYOR", "True"),
        ("APPVEYOR_REPO_COMMIT", SHA),
        ("APPVEYOR_REPO_NAME", "acme/app"),
        ("APPVEYOR_JOB_ID", "o3xj6sk"),
        ("APPVEYOR_REPO_COMMIT_AUTHOR_EMAIL", "dev@example.com"),
    ];
    let tc: &[(&str, &str)] = &[
        ("TEAMCITY_VERSION", "2024.12"),
        ("TEAMCITY_PROJECT_NAME", "App"),
        ("TEAMCITY_BUILDCONF_NAME", "Deploy"),
        ("BUILD_NUMBER", "12"),
        ("BUILD_VCS_NUMBER", SHA),
    ];
    let props = |name: &str, by_user: bool| {
        let config = tmp.join(format!("{name}.config.properties"));
        let mut text = String::from("vcsroot.url=https\\://github.com/acme/app.git\nteamcity.build.triggeredBy=");
        text.push_str(if by_user { "Alice\nteamcity.build.triggeredBy.username=alice\n" } else { "Git\n" });
        std::fs::write(&config, text).expect("config properties");
        let build = tmp.join(format!("{name}.build.properties"));
        let path = config.display().to_string().replace('\\', "\\\\").replace(':', "\\:");
        std::fs::write(&build, format!("teamcity.build.id=4711\nteamcity.configuration.properties.file={path}\n"))
            .expect("build properties");
        build.display().to_string()
    };
    let tc_manual = props("manual", true);
    let tc_vcs = props("vcs", false);

    let mut all = vec![
        gh_event("push", "push", "push"),
        gh_event("pull_request", "pull_request", "pull_request"),
        gh_event("pull_request closed, merged", "pull_request", "pull_request-closed-merged"),
        gh_event("pull_request_target", "pull_request_target", "pull_request_target"),
        gh_event("workflow_run", "workflow_run", "workflow_run"),
        gh_event("deployment", "deployment", "deployment"),
        gh_event("workflow_dispatch", "workflow_dispatch", "workflow_dispatch"),
        gh_event("schedule", "schedule", "schedule"),
        shape("GitLab CI", "push, web, api", gl, &[]),
        shape(
            "GitLab CI",
            "merged results, merge train",
            gl,
            &[("CI_PIPELINE_SOURCE", "merge_request_event"), ("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA", HEAD)],
        ),
        shape("GitLab CI", "schedule, trigger token", gl, &[("CI_PIPELINE_SOURCE", "schedule")]),
        shape("GitLab CI", "manual job", gl, &[("CI_PIPELINE_SOURCE", "schedule"), ("CI_JOB_MANUAL", "true")]),
        shape(
            "Jenkins",
            "Build Now (customcdReport step)",
            jk,
            &[("CUSTOMCD_STEP_CAUSES", r#"[{"_class":"hudson.model.Cause$UserIdCause","userId":"alice"}]"#)],
        ),
        shape("Jenkins", "Build Now in wrap BuildUser", jk, &[("BUILD_USER_EMAIL", "alice@example.com")]),
        shape(
            "Jenkins",
            "timer, SCM poll, upstream",
            jk,
            &[("CUSTOMCD_STEP_CAUSES", r#"[{"_class":"hudson.triggers.TimerTrigger$TimerTriggerCause"}]"#)],
        ),
        shape(
            "Jenkins",
            "multibranch pull request",
            jk,
            &[
                ("CHANGE_ID", "42"),
                ("CHANGE_AUTHOR_EMAIL", "bob@example.com"),
                ("CUSTOMCD_STEP_CAUSES", r#"[{"_class":"jenkins.branch.BranchEventCause"}]"#),
            ],
        ),
        shape("Jenkins", "GitHub PR Builder", jk, &[("ghprbActualCommit", HEAD), ("BUILD_USER_ID", "genericWebhook")]),
        shape("Jenkins", "inside a stage", jk, &[("STAGE_NAME", "production"), ("BUILD_USER_ID", "timer")]),
        shape("Azure Pipelines", "CI, manual", az, &[]),
        shape(
            "Azure Pipelines",
            "pull request",
            az,
            &[("BUILD_REASON", "PullRequest"), ("SYSTEM_PULLREQUEST_SOURCECOMMITID", HEAD)],
        ),
        shape("Azure Pipelines", "schedule", az, &[("BUILD_REASON", "Schedule")]),
        shape("Bitbucket Pipelines", "push, custom", bb, &[]),
        shape("Bitbucket Pipelines", "pull request", bb, &[("BITBUCKET_PR_ID", "9")]),
        shape("CircleCI", "any", cc, &[]),
        shape("CircleCI", "parallelism", cc, &[("CIRCLE_NODE_TOTAL", "4"), ("CIRCLE_NODE_INDEX", "2")]),
        shape("Buildkite", "webhook, UI, API", bk, &[]),
        shape("Buildkite", "after a block step", bk, &[("BUILDKITE_UNBLOCKER_EMAIL", "lead@example.com")]),
        shape("Buildkite", "schedule", bk, &[("BUILDKITE_SOURCE", "schedule")]),
        shape("Travis CI", "push, cron, API", tr, &[]),
        shape(
            "Travis CI",
            "pull request",
            tr,
            &[("TRAVIS_EVENT_TYPE", "pull_request"), ("TRAVIS_PULL_REQUEST_SHA", HEAD)],
        ),
        shape("Drone", "push, tag", dr, &[]),
        shape("Drone", "pull request", dr, &[("DRONE_BUILD_EVENT", "pull_request")]),
        shape("Drone", "cron", dr, &[("DRONE_BUILD_EVENT", "cron"), ("DRONE_BUILD_TRIGGER", "@cron")]),
        shape(
            "Drone",
            "promote, rollback, custom",
            dr,
            &[("DRONE_BUILD_EVENT", "promote"), ("DRONE_BUILD_TRIGGER", "lead")],
        ),
        shape("Harness CI", "push", dr, &[("HARNESS_BUILD_ID", "31")]),
        shape("Woodpecker", "push, pull request, tag", wp, &[]),
        shape("Woodpecker", "cron", wp, &[("CI_PIPELINE_EVENT", "cron")]),
        shape("Woodpecker", "manual, deployment", wp, &[("CI_PIPELINE_EVENT", "manual")]),
        shape("Woodpecker", "any, with CI_PIPELINE_AUTHOR", wp, &[("CI_PIPELINE_AUTHOR", "lead")]),
        shape("Semaphore", "push, API", sem, &[]),
        shape(
            "Semaphore",
            "promotion",
            sem,
            &[("SEMAPHORE_PIPELINE_PROMOTION", "true"), ("SEMAPHORE_PIPELINE_PROMOTED_BY", "lead")],
        ),
        shape("Semaphore", "schedule", sem, &[("SEMAPHORE_WORKFLOW_TRIGGERED_BY_SCHEDULE", "true")]),
        shape("Semaphore", "pull request", sem, &[("SEMAPHORE_GIT_PR_SHA", HEAD)]),
        shape("AWS CodeBuild", "CodePipeline", cb, &[("CODEBUILD_INITIATOR", "codepipeline/app-release")]),
        shape(
            "AWS CodeBuild",
            "webhook",
            cb,
            &[("CODEBUILD_INITIATOR", "GitHub-Hookshot/4f1c"), ("CODEBUILD_WEBHOOK_TRIGGER", "branch/main")],
        ),
        shape("AWS CodeBuild", "StartBuild by an IAM user", cb, &[("CODEBUILD_INITIATOR", "alice")]),
        shape("Bitrise", "push", br, &[]),
        shape("Bitrise", "pull request", br, &[("BITRISE_PULL_REQUEST", "9"), ("GIT_CLONE_COMMIT_HASH", HEAD)]),
        shape("AppVeyor", "push", av, &[]),
        shape(
            "AppVeyor",
            "pull request",
            av,
            &[("APPVEYOR_PULL_REQUEST_NUMBER", "9"), ("APPVEYOR_PULL_REQUEST_HEAD_COMMIT", HEAD)],
        ),
        shape("AppVeyor", "scheduled, forced", av, &[("APPVEYOR_SCHEDULED_BUILD", "True")]),
        shape("TeamCity", "run by a user", tc, &[("TEAMCITY_BUILD_PROPERTIES_FILE", &tc_manual)]),
        shape("TeamCity", "VCS or schedule trigger", tc, &[("TEAMCITY_BUILD_PROPERTIES_FILE", &tc_vcs)]),
        shape("TeamCity", "no properties file", tc, &[]),
        shape("Google Cloud Build", "any", &[("BUILDER_OUTPUT", "/builder/outputs"), ("BUILD_ID", "6f2c")], &[]),
    ];
    all.push(shape(
        "Forgejo Actions",
        "push",
        gh,
        &[("FORGEJO_ACTIONS", "true"), ("GITHUB_EVENT_NAME", "push"), ("GITHUB_EVENT_PATH", "/nonexistent/event.json")],
    ));
    all.push(shape(
        "Gitea Actions",
        "push",
        gh,
        &[("GITEA_ACTIONS", "true"), ("GITHUB_EVENT_NAME", "push"), ("GITHUB_EVENT_PATH", "/nonexistent/event.json")],
    ));
    all
}

/// A source's detail as the table shows it: without a parenthesised remark, and for GitHub's
/// event file, the payload path "from the event file".
fn shown(source: &Source) -> String {
    let detail = match source {
        Source::Ci { detail, .. } => detail.as_str(),
        _ => panic!("a CI reader's value has a CI source: {source}"),
    };
    let head = detail.split(" (").next().unwrap_or(detail);
    match head.strip_prefix("GITHUB_EVENT_PATH ") {
        Some(path) => format!("`{path}` from the event file"),
        None => format!("`{head}`"),
    }
}

fn commit_cell(ci: &Ci) -> String {
    let var = |c: &Option<Sourced<String>>| c.as_ref().map(|c| shown(&c.source));
    match (&ci.pr_head, &ci.workspace_head, var(&ci.commit)) {
        (Some(head), _, _) => shown(&head.source),
        (None, Some(head), Some(commit)) => {
            format!("the checkout's HEAD ({} when HEAD is it), else {commit}", shown(&head.source))
        }
        (None, None, Some(commit)) if ci.commit_beats_checkout => format!("{commit}, over the checkout's HEAD"),
        (None, None, Some(commit)) => format!("the checkout's HEAD, else {commit}"),
        (None, _, None) => "the checkout's HEAD".to_owned(),
    }
}

fn value_cell(ci: &Ci, key: Key) -> String {
    ci.layer.get(key).map_or_else(|| "nobody".to_owned(), |v| shown(&v.source))
}

/// The table's rows as the code gives them, in the page's format.
fn rendered(shapes: &[Shape]) -> Vec<String> {
    shapes
        .iter()
        .map(|s| {
            let env: Env = s.vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let ci = detect(&env).unwrap_or_else(|| panic!("{} {}: not detected", s.system, s.trigger));
            assert_eq!(ci.system, s.system, "{}", s.trigger);
            let who = value_cell(&ci, Key::TriggeredBy);
            let job = value_cell(&ci, Key::JobId);
            format!("| {} | {} | {} | {who} | {job} |", s.system, s.trigger, commit_cell(&ci))
        })
        .collect()
}

#[test]
fn the_ci_systems_page_table_is_what_the_readers_do() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let want = rendered(&shapes(tmp.path()));
    let start = PAGE.find(BEGIN).expect("docs/ci-systems.md has the table's begin marker") + BEGIN.len();
    let end = PAGE[start..].find(END).expect("and its end marker") + start;
    let got: Vec<&str> =
        PAGE[start..end].lines().map(str::trim).filter(|l| l.starts_with("| ") && !l.starts_with("| system")).collect();
    let mut diff = String::new();
    for row in &want {
        if !got.contains(&row.as_str()) {
            let _ = writeln!(diff, "the code gives a row the page lacks or words differently:\n{row}");
        }
    }
    for row in &got {
        if !want.iter().any(|w| w == row) {
            let _ = writeln!(diff, "the page has a row the code does not give:\n{row}");
        }
    }
    assert!(diff.is_empty(), "{diff}\nThe rows as the code gives them:\n{}", want.join("\n"));
}

#[test]
fn steps_of_one_stage_share_the_start_state_but_report_distinct_jobs() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for system in ["Drone", "Woodpecker"] {
        let shape = shapes(tmp.path()).into_iter().find(|s| s.system == system).expect("a shape");
        let step = |n: &str| {
            let mut vars = shape.vars.clone();
            for name in ["DRONE_STEP_NUMBER", "CI_STEP_NUMBER"] {
                vars.retain(|(k, _)| k != name);
                vars.push((name.to_owned(), n.to_owned()));
            }
            let env: Env = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            detect(&env).expect("detected")
        };
        let (start, report) = (step("1"), step("4"));
        assert_eq!(start.job_key, report.job_key, "{system}: `start` in one step, `report` in another");
        let id = |ci: &Ci| ci.layer.get(Key::JobId).map(|j| j.value.clone());
        assert_ne!(id(&start), id(&report), "{system}: two steps that report are two jobs");
    }
}

#[test]
fn every_system_detected_has_a_row() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let systems: std::collections::BTreeSet<_> = shapes(tmp.path()).iter().map(|s| s.system).collect();
    assert_eq!(systems.len(), super::SYSTEMS.len(), "{systems:?}");
}

#[test]
fn the_ci_context_fields_table_is_the_context_keys() {
    let begin = "<!-- ci-context: begin -->";
    let start = PAGE.find(begin).expect("docs/ci-systems.md has the context table") + begin.len();
    let end = PAGE[start..].find("<!-- ci-context: end -->").expect("and its end") + start;
    let got: Vec<&str> = PAGE[start..end].lines().map(str::trim).filter(|l| l.starts_with("| `")).collect();
    let want: Vec<String> =
        super::Context::ALL.iter().map(|c| format!("| `{}` | {} |", c.name(), c.meaning())).collect();
    assert_eq!(got, want, "docs/ci-systems.md's CI context fields are the keys ci::Context declares");
}

/// Variables whose values a pull request's author (a fork's included) writes, per system (one
/// name means different things on different systems): titles, bodies, messages, labels, commit
/// author lines, the fork's own repository and branch. Branch variables are listed too: they may
/// change only the `branch` context field, which is documented to be the branch. (TeamCity and
/// Cloud Build export none.)
fn pull_request_controlled(system: &str) -> &'static [&'static str] {
    match system {
        "GitHub Actions" | "Gitea Actions" | "Forgejo Actions" => &["GITHUB_HEAD_REF"],
        "GitLab CI" => &[
            "CI_COMMIT_MESSAGE",
            "CI_COMMIT_TITLE",
            "CI_COMMIT_DESCRIPTION",
            "CI_COMMIT_AUTHOR",
            "CI_MERGE_REQUEST_TITLE",
            "CI_MERGE_REQUEST_DESCRIPTION",
            "CI_MERGE_REQUEST_LABELS",
            "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME",
            "CI_MERGE_REQUEST_SOURCE_PROJECT_PATH",
            "CI_MERGE_REQUEST_SOURCE_PROJECT_URL",
        ],
        "Jenkins" => &[
            "CHANGE_TITLE",
            "CHANGE_BRANCH",
            "CHANGE_AUTHOR_DISPLAY_NAME",
            "CHANGE_FORK",
            "ghprbPullTitle",
            "ghprbPullDescription",
            "ghprbSourceBranch",
            "ghprbPullAuthorEmail",
            "ghprbActualCommitAuthorEmail",
        ],
        "Azure Pipelines" => &[
            "SYSTEM_PULLREQUEST_SOURCEBRANCH",
            "SYSTEM_PULLREQUEST_SOURCEREPOSITORYURI",
            "BUILD_SOURCEVERSIONMESSAGE",
            "BUILD_SOURCEVERSIONAUTHOR",
        ],
        "Bitbucket Pipelines" => &["BITBUCKET_BRANCH", "BITBUCKET_PR_DESTINATION_BRANCH"],
        "CircleCI" => &["CIRCLE_BRANCH", "CIRCLE_PR_USERNAME", "CIRCLE_PR_REPONAME", "CIRCLE_PULL_REQUEST"],
        "Buildkite" => &[
            "BUILDKITE_BRANCH",
            "BUILDKITE_MESSAGE",
            "BUILDKITE_BUILD_AUTHOR",
            "BUILDKITE_BUILD_AUTHOR_EMAIL",
            "BUILDKITE_PULL_REQUEST_REPO",
        ],
        "Travis CI" => &["TRAVIS_PULL_REQUEST_BRANCH", "TRAVIS_PULL_REQUEST_SLUG", "TRAVIS_COMMIT_MESSAGE"],
        "Drone" | "Harness CI" => {
            &["DRONE_COMMIT_MESSAGE", "DRONE_PULL_REQUEST_TITLE", "DRONE_SOURCE_BRANCH", "DRONE_COMMIT_AUTHOR_NAME"]
        }
        "Woodpecker" => &[
            "CI_COMMIT_MESSAGE",
            "CI_COMMIT_PULL_REQUEST_LABELS",
            "CI_COMMIT_SOURCE_BRANCH",
            "CI_COMMIT_AUTHOR_AVATAR",
        ],
        "Semaphore" => &[
            "SEMAPHORE_GIT_PR_BRANCH",
            "SEMAPHORE_GIT_PR_NAME",
            "SEMAPHORE_GIT_PR_SLUG",
            "SEMAPHORE_GIT_COMMIT_AUTHOR",
        ],
        "AWS CodeBuild" => &["CODEBUILD_WEBHOOK_HEAD_REF", "CODEBUILD_SOURCE_VERSION"],
        "Bitrise" => &["BITRISE_GIT_MESSAGE", "BITRISE_GIT_BRANCH", "BITRISEIO_PULL_REQUEST_REPOSITORY_URL"],
        "AppVeyor" => &[
            "APPVEYOR_REPO_COMMIT_MESSAGE",
            "APPVEYOR_PULL_REQUEST_TITLE",
            "APPVEYOR_PULL_REQUEST_HEAD_REPO_NAME",
            "APPVEYOR_PULL_REQUEST_HEAD_REPO_BRANCH",
            "APPVEYOR_REPO_COMMIT_AUTHOR",
        ],
        "TeamCity" | "Google Cloud Build" => &[],
        other => panic!("no list of pull-request variables for {other}"),
    }
}

/// On a pull request, also the head commit's author line, which the pull request's author writes
/// as they like: the readers send the forge's account (or nobody) instead.
fn pull_request_only(system: &str) -> &'static [&'static str] {
    match system {
        "AppVeyor" => &["APPVEYOR_REPO_COMMIT_AUTHOR_EMAIL"],
        "Woodpecker" => &["CI_COMMIT_AUTHOR_EMAIL"],
        "Drone" | "Harness CI" => &["DRONE_COMMIT_AUTHOR_EMAIL"],
        _ => &[],
    }
}

/// What a reader decided, all of it but the branch.
fn decided(ci: &Ci) -> String {
    let value = |v: Option<&Sourced<String>>| v.map(|v| format!("{} ({})", v.value, v.source));
    let mut out = format!(
        "commit {:?} pr_head {:?} workspace_head {:?} beats {} ships_nothing {:?} not_a_deploy {:?}",
        value(ci.commit.as_ref()),
        value(ci.pr_head.as_ref()),
        value(ci.workspace_head.as_ref()),
        ci.commit_beats_checkout,
        ci.ships_nothing,
        ci.not_a_deploy
    );
    for key in Key::ALL {
        if let Some(v) = value(ci.layer.get(*key)) {
            let _ = write!(out, " {}={v}", key.name());
        }
    }
    for (key, v) in ci.context.iter().filter(|(k, _)| *k != super::Context::Branch) {
        let _ = write!(out, " {}={}", key.name(), v.value);
    }
    out
}

#[test]
fn what_a_pull_request_or_a_fork_writes_changes_nothing_but_the_branch() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let hostile = [
        "3333333333333333333333333333333333333333",
        "ceo@example.com",
        "::error::pwned\n::add-mask::x",
        "https://attacker:pw@evil.example/evil/app.git",
    ];
    for shape in shapes(tmp.path()) {
        let env: Env = shape.vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let clean = detect(&env).expect("detected");
        for value in hostile {
            let mut vars = shape.vars.clone();
            let extra = if shape.trigger.contains("pull request") { pull_request_only(shape.system) } else { &[] };
            for name in pull_request_controlled(shape.system).iter().chain(extra) {
                vars.retain(|(k, _)| k != name);
                vars.push(((*name).to_owned(), value.to_owned()));
            }
            let env: Env = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let attacked = detect(&env).expect("detected");
            assert_eq!(decided(&attacked), decided(&clean), "{} {} with {value:?}", shape.system, shape.trigger);
            if let Some(branch) = attacked.context_value(super::Context::Branch) {
                let before = clean.context_value(super::Context::Branch).map(|b| b.value.as_str());
                assert!(
                    Some(branch.value.as_str()) == before || branch.value == value,
                    "{} {}: branch {:?}",
                    shape.system,
                    shape.trigger,
                    branch.value
                );
            }
        }
    }
}
