//! The binary run the way each CI system runs it: GitHub's Docker action layout, GitLab's
//! after_script and a Jenkins shell step, against a receiver on 127.0.0.1.

mod common;

use std::path::Path;

use common::*;
use serde_json::json;

/// Reads a GitHub file-command file back into name/value pairs.
fn file_commands(path: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    customcd::output::github::parse_file_commands(&text)
}

fn value_of(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
}

/// The files and variables a GitHub runner gives a Docker action, with every input present and
/// empty unless set.
struct GitHub {
    files: tempfile::TempDir,
}

impl GitHub {
    fn new() -> GitHub {
        GitHub { files: tempfile::tempdir().expect("tempdir") }
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.files.path().join(name)
    }

    fn apply(&self, cmd: &mut assert_cmd::Command, rx: &Receiver, event: &str, event_json: &str) {
        std::fs::write(self.path("event.json"), event_json).expect("event file");
        for input in [
            "JOB_ID",
            "COMMIT_SHA",
            "SERVICE_ID",
            "JOB_START_TIME",
            "JOB_DURATION",
            "STATUS",
            "REPO_ID",
            "REPO_NAME",
            "TRIGGERED_BY",
            "JOB_TYPE",
            "OPTIONAL",
            "FIELDS",
            "URL",
            "SERVER",
            "PORT",
            "COMPANY_ID",
            "TOKEN",
            "DRY_RUN",
            "FAIL_ON_ERROR",
            "CI_FIELDS",
            "SPOOL_DIR",
        ] {
            cmd.env(format!("INPUT_{input}"), "");
        }
        cmd.env("GITHUB_ACTIONS", "true")
            .env("CI", "true")
            .env("GITHUB_REPOSITORY", "acme/app")
            .env("GITHUB_REPOSITORY_ID", "555")
            .env("GITHUB_SHA", "1111111111111111111111111111111111111111")
            .env("GITHUB_RUN_ID", "987")
            .env("GITHUB_RUN_ATTEMPT", "2")
            .env("GITHUB_JOB", "deploy")
            .env("GITHUB_ACTOR", "octocat")
            .env("GITHUB_TRIGGERING_ACTOR", "rerunner")
            .env("GITHUB_SERVER_URL", "https://github.com")
            .env("GITHUB_REF_NAME", "main")
            .env("GITHUB_EVENT_NAME", event)
            .env("GITHUB_EVENT_PATH", self.path("event.json"))
            .env("GITHUB_OUTPUT", self.path("output"))
            .env("GITHUB_ENV", self.path("env"))
            .env("GITHUB_STATE", self.path("state"))
            .env("GITHUB_STEP_SUMMARY", self.path("summary"))
            .env("RUNNER_TEMP", self.files.path())
            .env("INPUT_SERVICE_ID", "42")
            .env("INPUT_STATUS", "success")
            .env("INPUT_URL", rx.url())
            .env("INPUT_TOKEN", TOKEN)
            .env("INPUT_FIELDS", "team=web\n");
    }
}

#[test]
fn github_docker_action_reports_the_checkout_with_every_field_and_writes_outputs() {
    let repo = Repo::init(&[], Some("https://x-access-token:ghs_CHECKOUTSECRET@github.com/acme/app"));
    let rx = Receiver::ok();
    let gh = GitHub::new();
    let mut cmd = customcd(&repo.dir);
    cmd.arg("report");
    gh.apply(&mut cmd, &rx, "push", r#"{"ref":"refs/heads/main"}"#);
    cmd.env("STATE_job_start_time", "1704018030");
    let out = cmd.output().expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));

    let req = rx.only_request();
    let body = req.json();
    assert_eq!(body["commit_sha"], repo.head(), "the checkout of the CI's repository is what was built");
    assert_eq!(body["repo_name"], "acme/app");
    assert_eq!(body["service_id"], 42);
    assert_eq!(body["status"], "Succeeded");
    assert_eq!(body["triggered_by"], "rerunner");
    assert_eq!(body["job_id"], "987-2-deploy");
    assert_eq!(body["job_start_time"], 1_704_018_030);
    assert_eq!(
        body["optional"],
        json!([
            {"key": "team", "value": "web", "type": "string"},
            {"key": "ci_system", "value": "GitHub Actions", "type": "string"},
            {"key": "run_url", "value": "https://github.com/acme/app/actions/runs/987/attempts/2", "type": "string"},
            {"key": "branch", "value": "main", "type": "string"}
        ])
    );
    assert_eq!(req.headers["authorization"], format!("Bearer {TOKEN}"));

    // The token is masked before anything else, and appears nowhere else.
    assert_eq!(stdout.lines().next(), Some(format!("::add-mask::{TOKEN}").as_str()), "{stdout}");
    let everything = all_output(&out);
    assert_eq!(everything.matches(TOKEN).count(), 1, "{everything}");
    assert!(!everything.contains("ghs_CHECKOUTSECRET") && !req.body.contains("ghs_CHECKOUTSECRET"));

    let outputs = file_commands(&gh.path("output"));
    assert_eq!(value_of(&outputs, "job_id").as_deref(), Some("987-2-deploy"));
    assert_eq!(value_of(&outputs, "commit_sha"), Some(repo.head()));
    assert_eq!(value_of(&outputs, "status").as_deref(), Some("Succeeded"));
    assert_eq!(value_of(&outputs, "http_status").as_deref(), Some("200"));
    assert_eq!(value_of(&outputs, "payload").as_deref(), Some(req.body.as_str()));
    let summary = std::fs::read_to_string(gh.path("summary")).expect("a summary");
    assert!(summary.contains("| `commit_sha` |") && summary.contains("git HEAD of"), "{summary}");
    assert!(summary.contains("action input service_id (INPUT_SERVICE_ID)"), "{summary}");
    assert!(summary.contains("[The run](https://github.com/acme/app/actions/runs/987/attempts/2)"), "{summary}");
    assert!(!summary.contains(TOKEN));
}

#[test]
fn github_pull_requests_report_the_head_sha_from_the_event_file() {
    let repo = Repo::init(&[], Some("git@github.com:acme/app.git"));
    let rx = Receiver::ok();
    let gh = GitHub::new();
    let mut cmd = customcd(&repo.dir);
    cmd.args(["report", "--job-start-time", "1704018030"]);
    gh.apply(
        &mut cmd,
        &rx,
        "pull_request",
        r#"{"pull_request":{"head":{"sha":"2222222222222222222222222222222222222222"}}}"#,
    );
    cmd.env("GITHUB_HEAD_REF", "feature/x");
    cmd.assert().success();
    let body = rx.only_request().json();
    assert_eq!(body["commit_sha"], "2222222222222222222222222222222222222222");
    assert_eq!(body["optional"][3], json!({"key": "branch", "value": "feature/x", "type": "string"}));
}

#[test]
fn github_uses_its_sha_variable_when_the_workspace_is_another_repository() {
    let repo = Repo::init(&[], Some("git@github.com:acme/tools.git"));
    let rx = Receiver::ok();
    let gh = GitHub::new();
    let mut cmd = customcd(&repo.dir);
    cmd.args(["report", "--job-start-time", "1704018030", "--no-ci-fields"]);
    gh.apply(&mut cmd, &rx, "push", "{}");
    cmd.assert().success();
    let body = rx.only_request().json();
    assert_eq!(body["commit_sha"], "1111111111111111111111111111111111111111");
    assert_eq!(body["optional"], json!([{"key": "team", "value": "web", "type": "string"}]), "--no-ci-fields");
}

#[test]
fn github_start_then_report_measures_a_real_duration() {
    let repo = Repo::init(&[], Some("git@github.com:acme/app.git"));
    let rx = Receiver::ok();
    let gh = GitHub::new();
    let mut start = customcd(&repo.dir);
    start.arg("start");
    gh.apply(&mut start, &rx, "push", "{}");
    start.assert().success();
    let state = file_commands(&gh.path("state"));
    let env = file_commands(&gh.path("env"));
    let recorded: i64 = value_of(&state, "job_start_time").expect("state written").parse().expect("epoch seconds");
    assert_eq!(value_of(&env, "CUSTOMCD_JOB_START_TIME"), Some(recorded.to_string()));

    // The runner hands the state to the main stage as STATE_job_start_time; pretend 5 s passed.
    let earlier = recorded - 5;
    let mut report = customcd(&repo.dir);
    report.arg("report");
    gh.apply(&mut report, &rx, "push", "{}");
    report.env("STATE_job_start_time", earlier.to_string());
    report.assert().success();
    let body = rx.only_request().json();
    assert_eq!(body["job_start_time"], earlier);
    assert!(body["job_duration"].as_u64().expect("integer") >= 5);
}

#[test]
fn github_without_a_start_reports_duration_zero_with_a_loud_annotation() {
    let repo = Repo::init(&[], Some("git@github.com:acme/app.git"));
    let rx = Receiver::ok();
    let gh = GitHub::new();
    let mut cmd = customcd(&repo.dir);
    cmd.arg("report");
    gh.apply(&mut cmd, &rx, "push", "{}");
    let out = cmd.output().expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    assert_eq!(rx.only_request().json()["job_duration"], 0);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("::warning title=customcd::no start time is known on GitHub Actions"), "{stdout}");
    assert!(stdout.contains("pre-entrypoint"), "{stdout}");
}

#[test]
fn github_errors_are_annotations_and_nothing_is_sent() {
    let repo = Repo::init(&[], Some("git@github.com:acme/app.git"));
    let rx = Receiver::ok();
    let gh = GitHub::new();
    let mut cmd = customcd(&repo.dir);
    cmd.args(["report", "--job-start-time", "1704018030"]);
    gh.apply(&mut cmd, &rx, "push", "{}");
    cmd.env("INPUT_STATUS", "");
    let out = cmd.output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(rx.requests().is_empty());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("::error title=customcd::"), "{stdout}");
    assert!(stdout.contains("status: ${{ job.status }}"), "{stdout}");
}

#[test]
fn fail_on_error_false_turns_a_delivery_failure_into_a_warning() {
    let repo = Repo::init(&[], Some("git@github.com:acme/app.git"));
    let rx = Receiver::start(Reply::new(503, "down for maintenance"));
    let gh = GitHub::new();
    let mut cmd = customcd(&repo.dir);
    cmd.args(["report", "--job-start-time", "1704018030"]);
    gh.apply(&mut cmd, &rx, "push", "{}");
    cmd.env("INPUT_FAIL_ON_ERROR", "false").env("CUSTOMCD_DEADLINE", "1");
    let out = cmd.output().expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("::warning title=customcd::delivery failed"));
    assert_eq!(value_of(&file_commands(&gh.path("output")), "http_status").as_deref(), Some("503"));

    cmd.env("INPUT_FAIL_ON_ERROR", "");
    assert_eq!(cmd.output().expect("runs").status.code(), Some(4), "the default fails the step");
}

fn gitlab(cmd: &mut assert_cmd::Command, rx: &Receiver, status: &str) {
    cmd.env("GITLAB_CI", "true")
        .env("CI", "true")
        .env("CI_PROJECT_PATH", "group/sub/app")
        .env("CI_COMMIT_SHA", "1111111111111111111111111111111111111111")
        .env("CI_JOB_ID", "4242")
        .env("CI_JOB_STARTED_AT", "2024-01-01T10:00:00Z")
        .env("GITLAB_USER_EMAIL", "dev@example.com")
        .env("CI_JOB_URL", "https://gitlab.example.com/group/sub/app/-/jobs/4242")
        .env("CI_COMMIT_REF_NAME", "main")
        .env("CI_ENVIRONMENT_NAME", "production")
        .env("CI_REPOSITORY_URL", "https://gitlab-ci-token:glcbt-JOBTOKEN@gitlab.example.com/group/sub/app.git")
        .env("CI_JOB_STATUS", status)
        .env("CUSTOMCD_URL", rx.url())
        .env("CUSTOMCD_TOKEN", TOKEN)
        .env("CUSTOMCD_SERVICE_ID", "7");
}

#[test]
fn gitlab_after_script_reports_the_final_status_and_the_job_start() {
    // GitLab checks out with the job token in the remote URL.
    let repo = Repo::init(&[], Some("https://gitlab-ci-token:glcbt-JOBTOKEN@gitlab.example.com/group/sub/app.git"));
    let rx = Receiver::ok();
    let mut cmd = customcd(&repo.dir);
    cmd.arg("report");
    gitlab(&mut cmd, &rx, "failed");
    let out = cmd.output().expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    let req = rx.only_request();
    let body = req.json();
    assert_eq!(body["status"], "Failed");
    assert_eq!(body["job_start_time"], 1_704_103_200);
    assert_eq!(body["commit_sha"], repo.head());
    assert_eq!(body["repo_name"], "group/sub/app");
    assert_eq!(body["triggered_by"], "dev@example.com");
    assert_eq!(body["job_id"], "4242");
    assert_eq!(body["optional"][3], json!({"key": "environment", "value": "production", "type": "string"}));
    assert!(!all_output(&out).contains("glcbt-JOBTOKEN") && !req.body.contains("glcbt-JOBTOKEN"));
}

#[test]
fn gitlab_running_status_says_to_report_from_after_script() {
    let repo = Repo::new();
    let rx = Receiver::ok();
    let mut cmd = customcd(&repo.dir);
    cmd.arg("report");
    gitlab(&mut cmd, &rx, "running");
    let out = cmd.output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(rx.requests().is_empty());
    assert!(all_output(&out).contains("after_script"), "{}", all_output(&out));
}

fn jenkins(cmd: &mut assert_cmd::Command, rx: &Receiver, tmp: &Path) {
    cmd.env("JENKINS_URL", "https://jenkins.example.com/")
        .env("BUILD_TAG", "jenkins-app-deploy-17")
        .env("BUILD_URL", "https://jenkins.example.com/job/app/17/")
        .env("GIT_URL", "https://deployer:JENKINSPASS@git.example.com/acme/app.git")
        .env("GIT_COMMIT", "1111111111111111111111111111111111111111")
        .env("GIT_BRANCH", "origin/main")
        .env("BUILD_USER_ID", "timer")
        .env("WORKSPACE_TMP", tmp)
        .env("CUSTOMCD_URL", rx.url())
        .env("CUSTOMCD_TOKEN", TOKEN)
        .env("CUSTOMCD_SERVICE_ID", "7");
}

#[test]
fn jenkins_start_then_report_uses_the_state_file_and_strips_git_url_credentials() {
    let repo = Repo::init(&[], Some("https://deployer:JENKINSPASS@git.example.com/acme/app.git"));
    let rx = Receiver::ok();
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut start = customcd(&repo.dir);
    start.arg("start");
    jenkins(&mut start, &rx, tmp.path());
    let out = start.output().expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("export CUSTOMCD_JOB_START_TIME="));
    let state = tmp.path().join("customcd-start-jenkins-app-deploy-17");
    let recorded: i64 = std::fs::read_to_string(&state).expect("state file").trim().parse().expect("epoch");

    let mut report = customcd(&repo.dir);
    report.args(["report", "--status", "UNSTABLE"]);
    jenkins(&mut report, &rx, tmp.path());
    let out = report.output().expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    let req = rx.only_request();
    let body = req.json();
    assert_eq!(body["status"], "Failed");
    assert_eq!(body["job_start_time"], recorded);
    assert_eq!(body["job_id"], "jenkins-app-deploy-17");
    assert_eq!(body["repo_name"], "acme/app");
    assert_eq!(body["commit_sha"], repo.head());
    assert!(body.get("triggered_by").is_none(), "a timer is not a person");
    assert!(!state.exists(), "report removes the state it used");
    assert!(!all_output(&out).contains("JENKINSPASS") && !req.body.contains("JENKINSPASS"));
}

#[test]
fn env_shows_the_system_and_every_source_without_the_token() {
    let repo = Repo::init(&[], Some("https://gitlab-ci-token:glcbt-JOBTOKEN@gitlab.example.com/group/sub/app.git"));
    let rx = Receiver::ok();
    let mut cmd = customcd(&repo.dir);
    cmd.arg("env");
    gitlab(&mut cmd, &rx, "success");
    let out = cmd.output().expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let text = all_output(&out);
    assert!(text.contains("CI system: GitLab CI"), "{text}");
    assert!(text.contains("GitLab CI CI_JOB_STARTED_AT"), "{text}");
    assert!(text.contains(&format!("git HEAD of {}", repo.dir.display())), "{text}");
    assert!(text.contains("token           ***"), "{text}");
    assert!(!text.contains(TOKEN) && !text.contains("glcbt-JOBTOKEN"), "{text}");
    assert!(rx.requests().is_empty(), "env sends nothing");
}

#[test]
fn a_github_dry_run_writes_the_payload_output_and_sends_nothing() {
    let repo = Repo::init(&[], Some("git@github.com:acme/app.git"));
    let rx = Receiver::ok();
    let gh = GitHub::new();
    let mut cmd = customcd(&repo.dir);
    cmd.args(["report", "--job-start-time", "1704018030"]);
    gh.apply(&mut cmd, &rx, "push", "{}");
    cmd.env("INPUT_DRY_RUN", "true");
    let out = cmd.output().expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    assert!(rx.requests().is_empty());
    let outputs = file_commands(&gh.path("output"));
    let payload: serde_json::Value =
        serde_json::from_str(&value_of(&outputs, "payload").expect("payload")).expect("JSON");
    assert_eq!(payload["commit_sha"], repo.head());
    assert_eq!(value_of(&outputs, "http_status").as_deref(), Some(""));
}
