//! The binary run the way each CI system runs it: GitHub's Docker action layout, GitLab's
//! after_script and a Jenkins shell step, against a receiver on 127.0.0.1.

use std::path::Path;

use crate::support::*;
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

    fn apply(&self, mut run: Run, rx: &Server, event: &str, event_json: &str) -> Run {
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
            run = run.env(format!("INPUT_{input}"), "");
        }
        run.env("GITHUB_ACTIONS", "true")
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
            .env("INPUT_FIELDS", "team=web\n")
    }
}

#[test]
fn github_docker_action_reports_the_checkout_with_every_field_and_writes_outputs() {
    let repo = Repo::init(&[], Some("https://x-access-token:ghs_CHECKOUTSECRET@github.com/acme/app"));
    let rx = Server::ok();
    let gh = GitHub::new();
    let out = gh
        .apply(Run::new(&["report"]).repo(&repo), &rx, "push", r#"{"ref":"refs/heads/main"}"#)
        .env("STATE_job_start_time", "1704018030")
        .output();
    let stdout = out.stdout.clone();
    assert_eq!(out.code, Some(0), "{}", out.all());

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
    let everything = out.all();
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
    let rx = Server::ok();
    let gh = GitHub::new();
    gh.apply(
        Run::new(&["report", "--job-start-time", "1704018030"]).repo(&repo),
        &rx,
        "pull_request",
        r#"{"pull_request":{"head":{"sha":"2222222222222222222222222222222222222222"}}}"#,
    )
    .env("GITHUB_HEAD_REF", "feature/x")
    .expect_exit(0);
    let body = rx.only_request().json();
    assert_eq!(body["commit_sha"], "2222222222222222222222222222222222222222");
    assert_eq!(body["optional"][3], json!({"key": "branch", "value": "feature/x", "type": "string"}));
}

#[test]
fn github_uses_its_sha_variable_when_the_workspace_is_another_repository() {
    let repo = Repo::init(&[], Some("git@github.com:acme/tools.git"));
    let rx = Server::ok();
    let gh = GitHub::new();
    gh.apply(Run::new(&["report", "--job-start-time", "1704018030", "--no-ci-fields"]).repo(&repo), &rx, "push", "{}")
        .expect_exit(0);
    let body = rx.only_request().json();
    assert_eq!(body["commit_sha"], "1111111111111111111111111111111111111111");
    assert_eq!(body["optional"], json!([{"key": "team", "value": "web", "type": "string"}]), "--no-ci-fields");
}

#[test]
fn github_start_then_report_measures_a_real_duration() {
    let repo = Repo::init(&[], Some("git@github.com:acme/app.git"));
    let rx = Server::ok();
    let gh = GitHub::new();
    gh.apply(Run::new(&["start"]).repo(&repo), &rx, "push", "{}").expect_exit(0);
    let state = file_commands(&gh.path("state"));
    let env = file_commands(&gh.path("env"));
    let recorded: i64 = value_of(&state, "job_start_time").expect("state written").parse().expect("epoch seconds");
    assert_eq!(value_of(&env, "CUSTOMCD_JOB_START_TIME"), Some(recorded.to_string()));

    // The runner hands the state to the main stage as STATE_job_start_time; pretend 5 s passed.
    let earlier = recorded - 5;
    gh.apply(Run::new(&["report"]).repo(&repo), &rx, "push", "{}")
        .env("STATE_job_start_time", earlier.to_string())
        .expect_exit(0);
    let after = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_secs();
    let body = rx.only_request().json();
    assert_eq!(body["job_start_time"], earlier);
    let duration = body["job_duration"].as_u64().expect("integer");
    assert!(duration >= 5, "at least the 5 s that passed: {duration}");
    let most = after - u64::try_from(earlier).expect("positive");
    assert!(duration <= most, "no more than the time from the start to now ({most} s): {duration}");
}

#[test]
fn github_without_a_start_reports_duration_zero_with_a_loud_annotation() {
    let repo = Repo::init(&[], Some("git@github.com:acme/app.git"));
    let rx = Server::ok();
    let gh = GitHub::new();
    let out = gh.apply(Run::new(&["report"]).repo(&repo), &rx, "push", "{}").expect_exit(0);
    assert_eq!(rx.only_request().json()["job_duration"], 0);
    let stderr = out.stderr.clone();
    assert!(stderr.contains("::warning title=customcd::no start time is known on GitHub Actions"), "{stderr}");
    assert!(stderr.contains("pre-entrypoint"), "{stderr}");
}

#[test]
fn github_dry_run_prints_only_the_json_body_on_stdout_and_annotations_on_stderr() {
    let repo = Repo::init(&[], Some("git@github.com:acme/app.git"));
    let rx = Server::ok();
    let gh = GitHub::new();
    // No start is known, so a warning annotation is printed too.
    let out = gh.apply(Run::new(&["report", "--dry-run"]).repo(&repo), &rx, "push", "{}").expect_exit(0);
    let body: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not the JSON body ({e}): {}", out.stdout.clone()));
    assert_eq!(body["repo_name"], "acme/app");
    assert!(out.stderr.contains("::warning title=customcd::"), "{}", out.all());
    assert!(rx.requests().is_empty());
}

#[test]
fn github_errors_are_annotations_and_nothing_is_sent() {
    let repo = Repo::init(&[], Some("git@github.com:acme/app.git"));
    let rx = Server::ok();
    let gh = GitHub::new();
    let out = gh
        .apply(Run::new(&["report", "--job-start-time", "1704018030"]).repo(&repo), &rx, "push", "{}")
        .env("INPUT_STATUS", "")
        .output();
    assert_eq!(out.code, Some(2));
    assert!(rx.requests().is_empty());
    let stderr = out.stderr.clone();
    assert!(stderr.contains("::error title=customcd::"), "{stderr}");
    assert!(stderr.contains("status: ${{ job.status }}"), "{stderr}");
}

#[test]
fn github_an_outage_is_a_warning_annotation_by_default_and_fails_only_with_fail_on_error_true() {
    let repo = Repo::init(&[], Some("git@github.com:acme/app.git"));
    let rx = Server::start(Plan::always(Step::reply(503, "down for maintenance")));
    let gh = GitHub::new();
    let cmd = gh
        .apply(Run::new(&["report", "--job-start-time", "1704018030"]).repo(&repo), &rx, "push", "{}")
        .env("INPUT_FAIL_ON_ERROR", "false")
        .env("CUSTOMCD_DEADLINE", "1");
    let out = cmd.clone().expect_exit(0);
    assert!(out.stderr.contains("::warning title=customcd::NOT DELIVERED: delivery failed"), "{out}");
    assert_eq!(value_of(&file_commands(&gh.path("output")), "http_status").as_deref(), Some("503"));

    // The default (an empty input): the same warning annotation, exit 0, and the kept job named.
    let out = cmd.clone().env("INPUT_FAIL_ON_ERROR", "").expect_exit(0);
    assert!(out.stderr.contains("::warning title=customcd::NOT DELIVERED: delivery failed"), "{out}");
    assert!(out.stderr.contains("fail_on_error is refusal (the default)"), "{out}");
    assert!(value_of(&file_commands(&gh.path("output")), "spool_file").is_some(), "{out}");

    let out = cmd.env("INPUT_FAIL_ON_ERROR", "true").output();
    assert_eq!(out.code, Some(4), "fail_on_error true fails the step on an outage: {out}");
    assert!(out.stderr.contains("::error title=customcd::"), "{out}");
}

fn gitlab(run: Run, rx: &Server, status: &str) -> Run {
    run.env("GITLAB_CI", "true")
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
        .env("CUSTOMCD_SERVICE_ID", "7")
}

#[test]
fn gitlab_after_script_reports_the_final_status_and_the_job_start() {
    // GitLab checks out with the job token in the remote URL.
    let repo = Repo::init(&[], Some("https://gitlab-ci-token:glcbt-JOBTOKEN@gitlab.example.com/group/sub/app.git"));
    let rx = Server::ok();
    let out = gitlab(Run::new(&["report"]).repo(&repo), &rx, "failed").expect_exit(0);
    let req = rx.only_request();
    let body = req.json();
    assert_eq!(body["status"], "Failed");
    assert_eq!(body["job_start_time"], 1_704_103_200);
    assert_eq!(body["commit_sha"], repo.head());
    assert_eq!(body["repo_name"], "group/sub/app");
    assert_eq!(body["triggered_by"], "dev@example.com");
    assert_eq!(body["job_id"], "4242");
    let environment = body["optional"].as_array().and_then(|o| o.iter().find(|f| f["key"] == "environment")).cloned();
    assert_eq!(environment, Some(json!({"key": "environment", "value": "production", "type": "string"})));
    assert!(!out.all().contains("glcbt-JOBTOKEN") && !req.body.contains("glcbt-JOBTOKEN"));
}

#[test]
fn gitlab_running_status_says_to_report_from_after_script() {
    let repo = Repo::new();
    let rx = Server::ok();
    let out = gitlab(Run::new(&["report"]).repo(&repo), &rx, "running").output();
    assert_eq!(out.code, Some(2));
    assert!(rx.requests().is_empty());
    assert!(out.all().contains("after_script"), "{}", out.all());
}

fn jenkins(run: Run, rx: &Server, tmp: &Path) -> Run {
    run.env("JENKINS_URL", "https://jenkins.example.com/")
        .env("BUILD_TAG", "jenkins-app-deploy-17")
        .env("BUILD_URL", "https://jenkins.example.com/job/app/17/")
        .env("GIT_URL", "https://deployer:JENKINSPASS@git.example.com/acme/app.git")
        .env("GIT_COMMIT", "1111111111111111111111111111111111111111")
        .env("GIT_BRANCH", "origin/main")
        .env("BUILD_USER_ID", "timer")
        .env("WORKSPACE_TMP", tmp)
        .env("CUSTOMCD_URL", rx.url())
        .env("CUSTOMCD_TOKEN", TOKEN)
        .env("CUSTOMCD_SERVICE_ID", "7")
}

#[test]
fn jenkins_start_then_report_uses_the_state_file_and_strips_git_url_credentials() {
    let repo = Repo::init(&[], Some("https://deployer:JENKINSPASS@git.example.com/acme/app.git"));
    let rx = Server::ok();
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = jenkins(Run::new(&["start"]).repo(&repo), &rx, tmp.path()).expect_exit(0);
    assert!(out.stdout.starts_with("export CUSTOMCD_JOB_START_TIME="));
    let state = tmp.path().join("customcd-start-jenkins-app-deploy-17");
    let recorded: i64 = std::fs::read_to_string(&state).expect("state file").trim().parse().expect("epoch");

    let out = jenkins(Run::new(&["report", "--status", "UNSTABLE"]).repo(&repo), &rx, tmp.path()).expect_exit(0);
    let req = rx.only_request();
    let body = req.json();
    assert_eq!(body["status"], "Failed");
    assert_eq!(body["job_start_time"], recorded);
    assert_eq!(body["job_id"], "jenkins-app-deploy-17");
    assert_eq!(body["repo_name"], "acme/app");
    assert_eq!(body["commit_sha"], repo.head());
    assert!(body.get("triggered_by").is_none(), "a timer is not a person");
    assert!(!state.exists(), "report removes the state it used");
    assert!(!out.all().contains("JENKINSPASS") && !req.body.contains("JENKINSPASS"));
}

#[test]
fn env_shows_the_system_and_every_source_without_the_token() {
    let repo = Repo::init(&[], Some("https://gitlab-ci-token:glcbt-JOBTOKEN@gitlab.example.com/group/sub/app.git"));
    let rx = Server::ok();
    let out = gitlab(Run::new(&["env"]).repo(&repo), &rx, "success").output();
    assert_eq!(out.code, Some(0));
    let text = out.all();
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
    let rx = Server::ok();
    let gh = GitHub::new();
    gh.apply(Run::new(&["report", "--job-start-time", "1704018030"]).repo(&repo), &rx, "push", "{}")
        .env("INPUT_DRY_RUN", "true")
        .expect_exit(0);
    assert!(rx.requests().is_empty());
    let outputs = file_commands(&gh.path("output"));
    let payload: serde_json::Value =
        serde_json::from_str(&value_of(&outputs, "payload").expect("payload")).expect("JSON");
    assert_eq!(payload["commit_sha"], repo.head());
    assert_eq!(value_of(&outputs, "http_status").as_deref(), Some(""));
}

/// An event payload fixture from tests/fixtures/github-events.
fn event_fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/github-events/{name}.json", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn github_workflow_run_reports_the_head_sha_of_the_run_that_triggered_it_not_the_checkout() {
    // The usual "deploy after CI" trigger: the checkout is the default branch's tip.
    let repo = Repo::init(&[], Some("git@github.com:acme/app.git"));
    let rx = Server::ok();
    let gh = GitHub::new();
    let out = gh
        .apply(
            Run::new(&["report", "--job-start-time", "1704018030"]).repo(&repo),
            &rx,
            "workflow_run",
            &event_fixture("workflow_run"),
        )
        .expect_exit(0);
    assert_eq!(rx.only_request().json()["commit_sha"], "7a7b7c7d7e7f7a7b7c7d7e7f7a7b7c7d7e7f7a7b");
    assert!(!out.all().contains("warning"), "{}", out.all());

    let env = gh.apply(Run::new(&["env"]).repo(&repo), &rx, "workflow_run", &event_fixture("workflow_run"));
    let text = env.output().all();
    assert!(
        text.contains("(GitHub Actions GITHUB_EVENT_PATH workflow_run.head_sha (workflow_run event))"),
        "the provenance names the event and the JSON path: {text}"
    );
}

#[test]
fn github_deployment_review_and_check_events_report_the_commit_their_payload_names() {
    let repo = Repo::init(&[], Some("git@github.com:acme/app.git"));
    let rx = Server::ok();
    let cases = [
        ("pull_request_review", "2a2b2c2d2e2f2a2b2c2d2e2f2a2b2c2d2e2f2a2b"),
        ("deployment_status", "9a9b9c9d9e9f9a9b9c9d9e9f9a9b9c9d9e9f9a9b"),
        ("check_suite", "bb1bbc1dbe1fbb1bbc1dbe1fbb1bbc1dbe1fbb1b"),
    ];
    for (event, _) in cases {
        let gh = GitHub::new();
        let out = gh
            .apply(
                Run::new(&["report", "--job-start-time", "1704018030"]).repo(&repo),
                &rx,
                event,
                &event_fixture(event),
            )
            .output();
        assert_eq!(out.code, Some(0), "{event}: {}", out.all());
    }
    let got: Vec<String> =
        rx.requests().iter().map(|r| r.json()["commit_sha"].as_str().unwrap_or_default().to_owned()).collect();
    assert_eq!(got, cases.iter().map(|(_, sha)| (*sha).to_owned()).collect::<Vec<_>>());
}

#[test]
fn github_an_unreadable_event_file_is_a_warning_with_the_path_and_the_commit_used_instead() {
    let repo = Repo::init(&[], Some("git@github.com:acme/app.git"));
    let rx = Server::ok();
    let gh = GitHub::new();
    let cmd = gh.apply(Run::new(&["report", "--job-start-time", "1704018030"]).repo(&repo), &rx, "workflow_run", "{}");
    let missing = gh.path("gone/event.json");
    let cmd = cmd.env("GITHUB_EVENT_PATH", &missing);
    let out = cmd.clone().expect_exit(0);
    assert_eq!(rx.only_request().json()["commit_sha"], repo.head(), "the checkout is used instead");
    let stderr = out.stderr.clone();
    let warning = stderr
        .lines()
        .find(|l| l.starts_with("::warning title=customcd::GITHUB_EVENT_NAME is workflow_run"))
        .unwrap_or_else(|| panic!("no warning annotation: {stderr}"));
    assert!(warning.contains(&missing.display().to_string()), "{warning}");
    assert!(warning.contains("the checkout's HEAD"), "{warning}");

    // An explicit commit needs no event file, and no warning.
    let out = cmd.env("INPUT_COMMIT_SHA", "3333333333333333333333333333333333333333").expect_exit(0);
    assert!(!out.all().contains("GITHUB_EVENT_NAME is"), "{out}");
}

#[test]
fn github_matrix_legs_report_distinct_job_ids() {
    let repo = Repo::init(&[], Some("git@github.com:acme/app.git"));
    let rx = Server::ok();
    for leg in ["{\n  \"region\": \"us\"\n}", "{\n  \"region\": \"eu\"\n}"] {
        let gh = GitHub::new();
        gh.apply(Run::new(&["report", "--job-start-time", "1704018030"]).repo(&repo), &rx, "push", "{}")
            .env("INPUT_MATRIX", leg)
            .expect_exit(0);
    }
    let ids: Vec<String> =
        rx.requests().iter().map(|r| r.json()["job_id"].as_str().unwrap_or_default().to_owned()).collect();
    assert_eq!(ids, ["987-2-deploy-us", "987-2-deploy-eu"]);
}

#[test]
fn jenkins_start_creates_the_temp_dir_that_does_not_exist_yet() {
    let repo = Repo::init(&[], Some("https://git.example.com/acme/app.git"));
    let rx = Server::ok();
    let tmp = tempfile::tempdir().expect("tempdir");
    let workspace_tmp = tmp.path().join("app@tmp");
    let out = jenkins(Run::new(&["start"]).repo(&repo), &rx, &workspace_tmp).expect_exit(0);
    assert!(workspace_tmp.join("customcd-start-jenkins-app-deploy-17").is_file(), "{}", out.all());

    let out = jenkins(Run::new(&["report", "--status", "NOT_BUILT"]).repo(&repo), &rx, &workspace_tmp).output();
    assert_eq!(out.code, Some(0), "a post {{ always {{ ... }} }} step must not fail: {}", out.all());
    assert_eq!(rx.only_request().json()["status"], "Failed");
}

#[test]
fn a_planted_start_state_is_ignored_and_a_fifo_never_blocks_the_report() {
    let repo = Repo::init(&[], Some("https://git.example.com/acme/app.git"));
    let tmp = tempfile::tempdir().expect("tempdir");
    let workspace_tmp = tmp.path().join("app@tmp");
    std::fs::create_dir_all(&workspace_tmp).expect("mkdir");
    let state = workspace_tmp.join("customcd-start-jenkins-app-deploy-17");
    // A link planted by someone else to a file that fakes a start long ago.
    let fake = tmp.path().join("fake");
    std::fs::write(&fake, "1000000000\n").expect("write");
    std::os::unix::fs::symlink(&fake, &state).expect("symlink");
    let rx = Server::ok();
    let out = jenkins(
        Run::new(&["report", "--status", "SUCCESS"]).repo(&repo).timeout(std::time::Duration::from_secs(20)),
        &rx,
        &workspace_tmp,
    )
    .expect_exit(0);
    assert_ne!(rx.only_request().json()["job_start_time"], 1_000_000_000, "the planted start is not used");
    assert!(out.all().contains("is not a regular file of this user"), "{}", out.all());
    // A FIFO in its place is refused without opening it (opening would block).
    std::fs::remove_file(&state).expect("rm");
    let status = std::process::Command::new("mkfifo").arg(&state).status().expect("mkfifo");
    assert!(status.success());
    let rx = Server::ok();
    jenkins(
        Run::new(&["report", "--status", "SUCCESS"]).repo(&repo).timeout(std::time::Duration::from_secs(20)),
        &rx,
        &workspace_tmp,
    )
    .expect_exit(0);
}

#[test]
fn start_never_fails_the_job_when_it_cannot_record_the_start() {
    let repo = Repo::init(&[], Some("https://git.example.com/acme/app.git"));
    let rx = Server::ok();
    let tmp = tempfile::tempdir().expect("tempdir");
    // A temp dir that cannot be created, even by root: its parent is a file.
    let blocker = tmp.path().join("file");
    std::fs::write(&blocker, "").expect("write");
    let out = jenkins(Run::new(&["start"]).repo(&repo), &rx, &blocker.join("app@tmp")).expect_exit(0);
    let stderr = out.stderr.clone();
    assert!(stderr.contains("warning: could not record the job start in"), "{stderr}");
    assert!(stderr.contains("job_duration 0"), "it says what report will do: {stderr}");
    assert!(out.stdout.starts_with("export CUSTOMCD_JOB_START_TIME="));

    // On GitHub: file-command files that cannot be written.
    let gh = GitHub::new();
    let out = gh
        .apply(Run::new(&["start"]).repo(&repo), &rx, "push", "{}")
        .env("GITHUB_STATE", blocker.join("state"))
        .env("GITHUB_ENV", blocker.join("env"))
        .expect_exit(0);
    let stderr = out.stderr.clone();
    assert!(
        stderr.contains("::warning title=customcd::could not record the job start in the GITHUB_STATE file"),
        "{stderr}"
    );
    assert!(
        stderr.contains("::warning title=customcd::the job start was not recorded; `customcd report` will then"),
        "{stderr}"
    );
}

#[test]
fn start_succeeds_when_its_working_directory_is_gone() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let gone = tmp.path().join("gone");
    std::fs::create_dir(&gone).expect("mkdir");
    // The shell enters the directory, removes it, and runs the binary there.
    let gone = gone.to_str().expect("utf-8");
    Run::new(&["start"])
        .through(&["sh", "-c", "cd \"$1\" && rmdir \"$1\" && shift && exec \"$@\"", "sh", gone])
        .env("JENKINS_URL", "https://jenkins.example.com/")
        .env("BUILD_TAG", "jenkins-app-deploy-17")
        .env("WORKSPACE_TMP", tmp.path().join("ws@tmp"))
        .expect_exit(0);
    assert!(tmp.path().join("ws@tmp/customcd-start-jenkins-app-deploy-17").is_file());
}

/// A multibranch pull-request build with the "merge with target" strategy, as the git plugin's
/// MergeWithGitSCMExtension makes it: the PR head checked out, the target's tip merged into it as
/// "Jenkins <nobody@nowhere>". Returns the repository, the PR head and the merge.
fn jenkins_pr_merge_checkout() -> (Repo, String, String) {
    let repo = Repo::init(&[], Some("https://github.com/acme/app.git"));
    git(&repo.dir, &["checkout", "-q", "-b", "feature"]);
    let pr_head = repo.commit("the pull request's change");
    git(&repo.dir, &["checkout", "-q", "main"]);
    let target = repo.commit("the target moved on");
    git(&repo.dir, &["update-ref", "refs/remotes/origin/main", &target]);
    git(&repo.dir, &["update-ref", "refs/remotes/origin/PR-42", &pr_head]);
    git(&repo.dir, &["checkout", "-q", "--detach", &pr_head]);
    let out = std::process::Command::new("git")
        .args(["-c", "user.name=Jenkins", "-c", "user.email=nobody@nowhere", "merge", "-q", "--no-ff", "--no-edit"])
        .arg(&target)
        .current_dir(&repo.dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("git runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let merge = repo.head();
    (repo, pr_head, merge)
}

fn jenkins_pr(run: Run, rx: &Server, workspace: &Path, merge: &str) -> Run {
    run.env("JENKINS_URL", "https://jenkins.example.com/")
        .env("BUILD_TAG", "jenkins-app-PR-42-3")
        .env("GIT_URL", "https://github.com/acme/app.git")
        .env("GIT_COMMIT", merge)
        .env("BRANCH_NAME", "PR-42")
        .env("CHANGE_ID", "42")
        .env("CHANGE_TARGET", "main")
        .env("CHANGE_BRANCH", "feature")
        .env("CHANGE_AUTHOR_EMAIL", "bob@example.com")
        .env("BUILD_USER_ID", "branchIndexing")
        .env("WORKSPACE", workspace)
        .env("CUSTOMCD_URL", rx.url())
        .env("CUSTOMCD_TOKEN", TOKEN)
        .env("CUSTOMCD_SERVICE_ID", "7")
}

#[test]
fn jenkins_pull_request_merge_builds_report_the_pull_request_head() {
    let (repo, pr_head, merge) = jenkins_pr_merge_checkout();
    let rx = Server::ok();
    jenkins_pr(
        Run::new(&["report", "--status", "SUCCESS", "--job-start-time", "1704018030"]).repo(&repo),
        &rx,
        &repo.dir,
        &merge,
    )
    .expect_exit(0);
    let body = rx.only_request().json();
    assert_eq!(body["commit_sha"], pr_head.as_str(), "not the merge made on the agent");
    assert_eq!(body["triggered_by"], "bob@example.com", "branch indexing is not a person; the PR author is");
    let branch = body["optional"].as_array().and_then(|o| o.iter().find(|f| f["key"] == "branch")).cloned();
    assert_eq!(branch, Some(json!({"key": "branch", "value": "feature", "type": "string"})), "not PR-42");

    let env = jenkins_pr(Run::new(&["env"]).repo(&repo), &rx, &repo.dir, &merge);
    let text = env.output().all();
    assert!(
        text.contains(&format!("CHANGE_ID 42: the pull request's head, parent 1 of HEAD {merge}")),
        "the provenance says so: {text}"
    );
}

#[test]
fn jenkins_pull_request_head_builds_whose_tip_is_a_merge_by_a_person_report_that_tip() {
    let (repo, _, _) = jenkins_pr_merge_checkout();
    // The "head" strategy on a PR whose own tip merges main in: that tip is what was built.
    git(&repo.dir, &["checkout", "-q", "feature"]);
    git(&repo.dir, &["merge", "-q", "--no-ff", "--no-edit", "main"]);
    let tip = repo.head();
    let rx = Server::ok();
    jenkins_pr(
        Run::new(&["report", "--status", "SUCCESS", "--job-start-time", "1704018030"]).repo(&repo),
        &rx,
        &repo.dir,
        &tip,
    )
    .expect_exit(0);
    assert_eq!(rx.only_request().json()["commit_sha"], tip.as_str());
}

#[test]
fn jenkins_a_pull_request_whose_own_head_is_committed_as_jenkins_is_not_taken_for_the_agents_merge() {
    // Hostile: the PR's author writes its head as a merge committed as "Jenkins <nobody@nowhere>".
    // Multibranch fetches that head as refs/remotes/origin/PR-42: it exists on the server and is
    // what the "head" strategy built, so it is reported, not one of its parents.
    let (repo, _, crafted) = jenkins_pr_merge_checkout();
    git(&repo.dir, &["update-ref", "refs/remotes/origin/PR-42", &crafted]);
    let rx = Server::ok();
    jenkins_pr(
        Run::new(&["report", "--status", "SUCCESS", "--job-start-time", "1704018030"]).repo(&repo),
        &rx,
        &repo.dir,
        &crafted,
    )
    .expect_exit(0);
    assert_eq!(rx.only_request().json()["commit_sha"], crafted.as_str());
}

/// The action in one step: the main stage of `report_at: job-end`, then the post stage, as the
/// runner runs them. `main` gets the inputs and the pre stage's state; `post` gets what the runner
/// gives it at the end of the job (`job_status` evaluated again) plus the variables `main` set
/// through GITHUB_ENV.
fn one_step_stage(repo: &Repo, gh: &GitHub, rx: &Server, stage: &str, extra: &[(&str, &str)]) -> Ran {
    let mut run = gh
        .apply(Run::new(&[stage]).repo(repo), rx, "push", "{}")
        .env("INPUT_STATUS", "")
        .env("INPUT_REPORT_AT", "job-end")
        .env("GITHUB_ACTION", "report");
    for (name, value) in extra {
        run = run.env(name, value);
    }
    run.output()
}

#[test]
fn github_post_stage_after_a_step_that_reported_itself_sends_nothing_and_never_fails() {
    let repo = Repo::init(&[], Some("git@github.com:acme/app.git"));
    let rx = Server::ok();
    let gh = GitHub::new();
    // The last-step form: report_at is now, the main stage reported, nothing is pending. Even a
    // setting that would be invalid cannot fail a post stage that has nothing to do.
    let post = one_step_stage(
        &repo,
        &gh,
        &rx,
        "post",
        &[("INPUT_REPORT_AT", ""), ("INPUT_JOB_STATUS", "failure"), ("CUSTOMCD_DEADLINE", "soon")],
    );
    assert_eq!(post.code, Some(0), "{post}");
    assert!(post.all().contains("nothing to report"), "{post}");
    // Another step of the job deferred, not this one.
    let other = one_step_stage(&repo, &gh, &rx, "post", &[("CUSTOMCD_REPORT_PENDING", "deploy report_2")]);
    assert_eq!(other.code, Some(0), "{other}");
    assert!(rx.requests().is_empty(), "a post stage reports only for its own deferred step");
}

#[test]
fn a_link_named_customcd_post_runs_the_post_stage() {
    let dir = tempfile::tempdir().expect("tempdir");
    let link = dir.path().join("customcd-post");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_customcd"), &link).expect("symlink");
    let out = std::process::Command::new(&link).env_clear().current_dir(dir.path()).output().expect("runs");
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(all.contains("nothing to report"), "{all}");
}

#[test]
fn a_given_status_wins_over_job_status_and_job_status_shows_as_the_source() {
    let repo = Repo::init(&[], Some("git@github.com:acme/app.git"));
    let rx = Server::ok();
    let gh = GitHub::new();
    let dry_run = |status: &str| {
        gh.apply(Run::new(&["report", "--dry-run"]).repo(&repo), &rx, "push", "{}")
            .env("INPUT_STATUS", status)
            .env("INPUT_JOB_STATUS", "failure")
            .env("STATE_job_start_time", "1704018030")
            .expect_exit(0)
    };
    let given = dry_run("success");
    assert!(given.stdout.contains(r#""status":"Succeeded""#), "{given}");

    let fallback = dry_run("");
    let all = fallback.all();
    assert!(all.contains(r#""status":"Failed""#), "{all}");
    assert!(all.contains("action input job_status (INPUT_JOB_STATUS)"), "provenance names job_status: {all}");
}

#[test]
fn report_at_job_end_is_refused_outside_github_actions() {
    let rx = Server::ok();
    let out = Run::report().server(&rx).args(["--report-at", "job-end"]).expect_exit(2);
    let all = out.all();
    assert!(all.contains("report_at") && all.contains("GitHub Action"), "{all}");
    assert!(rx.requests().is_empty());
    let out = Run::report().server(&rx).args(["--report-at", "later"]).expect_exit(2);
    assert!(out.all().contains("must be now or job-end"), "{out}");
}

/// The value of optional field `key` in a sent body.
fn optional_field(body: &serde_json::Value, key: &str) -> Option<serde_json::Value> {
    body["optional"].as_array().and_then(|o| o.iter().find(|f| f["key"] == key)).map(|f| f["value"].clone())
}

#[test]
fn gitlab_environment_actions_that_deploy_nothing_are_not_reported_and_exit_0() {
    let repo = Repo::init(&[], Some("https://gitlab.example.com/group/sub/app.git"));
    for action in ["prepare", "verify", "access", "stop"] {
        let rx = Server::ok();
        let out = gitlab(Run::new(&["report"]).repo(&repo), &rx, "success")
            .env("CI_ENVIRONMENT_NAME", "review/feature-x")
            .env("CI_ENVIRONMENT_ACTION", action)
            .expect_exit(0);
        assert!(rx.requests().is_empty(), "{action}: nothing is sent");
        assert_eq!(out.all().lines().count(), 1, "{action}: one line: {}", out.all());
        assert!(out.all().contains(&format!("CI_ENVIRONMENT_ACTION is {action}")), "{}", out.all());
    }
    let rx = Server::ok();
    gitlab(Run::new(&["report"]).repo(&repo), &rx, "success").env("CI_ENVIRONMENT_ACTION", "start").expect_exit(0);
    assert_eq!(rx.requests().len(), 1, "start deploys");
    let env =
        gitlab(Run::new(&["env"]).repo(&repo), &rx, "success").env("CI_ENVIRONMENT_ACTION", "stop").expect_exit(0);
    assert!(env.stdout.contains("report would send nothing: GitLab says this job deploys nothing"), "{env}");
}

#[test]
fn a_cancelled_deploy_is_failed_with_the_ci_word_in_ci_result() {
    let repo = Repo::init(&[], Some("https://gitlab.example.com/group/sub/app.git"));
    let rx = Server::ok();
    gitlab(Run::new(&["report"]).repo(&repo), &rx, "canceled").expect_exit(0);
    let body = rx.only_request().json();
    assert_eq!(body["status"], "Failed");
    assert_eq!(optional_field(&body, "ci_result"), Some(json!("canceled")));

    // GitHub: the action's job_status (`${{ job.status }}`) is the word, and the status.
    let repo = Repo::init(&[], Some("git@github.com:acme/app.git"));
    let rx = Server::ok();
    let gh = GitHub::new();
    gh.apply(Run::new(&["report", "--job-start-time", "1704018030"]).repo(&repo), &rx, "push", "{}")
        .env("INPUT_STATUS", "")
        .env("INPUT_JOB_STATUS", "cancelled")
        .expect_exit(0);
    let body = rx.only_request().json();
    assert_eq!(body["status"], "Failed");
    assert_eq!(optional_field(&body, "ci_result"), Some(json!("cancelled")));

    // A status the user gives wins for status; ci_result stays the CI's word.
    let rx = Server::ok();
    gh.apply(Run::new(&["report", "--job-start-time", "1704018030"]).repo(&repo), &rx, "push", "{}")
        .env("INPUT_STATUS", "On Hold")
        .env("INPUT_JOB_STATUS", "success")
        .expect_exit(0);
    let body = rx.only_request().json();
    assert_eq!(body["status"], "On Hold");
    assert_eq!(optional_field(&body, "ci_result"), Some(json!("success")));
}

#[test]
fn github_a_push_that_deletes_a_branch_ships_no_change_set_and_says_so() {
    let repo = Repo::init(&[], Some("git@github.com:acme/app.git"));
    let rx = Server::ok();
    let gh = GitHub::new();
    let out = gh
        .apply(
            Run::new(&["report", "--job-start-time", "1704018030"]).repo(&repo),
            &rx,
            "push",
            &event_fixture("push-deleted"),
        )
        .expect_exit(0);
    let body = rx.only_request().json();
    for field in ["previous_sha", "commit_count", "lead_time"] {
        assert_eq!(optional_field(&body, field), None, "{field}: a deletion ships nothing");
    }
    let text = out.all();
    assert!(text.contains("deleted refs/heads/feature") && text.contains("ships nothing"), "{text}");
    assert!(!text.contains("shallow"), "the warning does not blame a shallow clone: {text}");
}

/// A repository with `main` (base) and a `feature` branch one commit ahead (the pull request's
/// head); returns it with the base's and the head's commits, HEAD on `main`.
fn base_and_feature(origin: &str) -> (Repo, String, String) {
    let repo = Repo::init(&[], Some(origin));
    let base = repo.commit("base");
    git(&repo.dir, &["checkout", "-q", "-b", "feature"]);
    let head = repo.commit("feature work");
    git(&repo.dir, &["checkout", "-q", "main"]);
    (repo, base, head)
}

#[test]
fn github_pull_request_target_reports_what_the_workspace_holds() {
    let (repo, base, head) = base_and_feature("git@github.com:acme/app.git");
    let event =
        format!(r#"{{"action":"synchronize","pull_request":{{"head":{{"sha":"{head}"}},"base":{{"sha":"{base}"}}}}}}"#);
    let gh = GitHub::new();
    let report = || Run::new(&["report", "--job-start-time", "1704018030"]).repo(&repo);

    // The default checkout of pull_request_target: the base branch, which is what ran.
    let rx = Server::ok();
    gh.apply(report(), &rx, "pull_request_target", &event).env("GITHUB_SHA", &base).expect_exit(0);
    assert_eq!(rx.only_request().json()["commit_sha"], base, "not the head the payload names");

    // A workflow that checked out the pull request's head (here from a fork's remote).
    git(&repo.dir, &["remote", "set-url", "origin", "https://github.com/forker/app.git"]);
    git(&repo.dir, &["checkout", "-q", "feature"]);
    let rx = Server::ok();
    gh.apply(report(), &rx, "pull_request_target", &event).env("GITHUB_SHA", &base).expect_exit(0);
    assert_eq!(rx.only_request().json()["commit_sha"], head, "the workspace holds the head");

    // Another repository's checkout, at neither commit: GITHUB_SHA, the base.
    let other = Repo::init(&[], Some("https://github.com/acme/tools.git"));
    let rx = Server::ok();
    gh.apply(Run::new(&["report", "--job-start-time", "1704018030"]).repo(&other), &rx, "pull_request_target", &event)
        .env("GITHUB_SHA", &base)
        .expect_exit(0);
    assert_eq!(rx.only_request().json()["commit_sha"], base);
}

#[test]
fn github_a_merged_pull_requests_closed_event_reports_the_commit_that_landed() {
    let repo = Repo::init(&[], Some("git@github.com:acme/app.git"));
    let rx = Server::ok();
    let gh = GitHub::new();
    gh.apply(
        Run::new(&["report", "--job-start-time", "1704018030"]).repo(&repo),
        &rx,
        "pull_request",
        &event_fixture("pull_request-closed-merged"),
    )
    .expect_exit(0);
    assert_eq!(rx.only_request().json()["commit_sha"], "3a3b3c3d3e3f3a3b3c3d3e3f3a3b3c3d3e3f3a3b");
}

#[test]
fn drone_pull_request_clones_rebase_on_the_agent_and_drone_commit_sha_is_reported() {
    // drone-git's clone-pull-request: check out the target, then `git rebase DRONE_COMMIT_SHA`.
    let (repo, _, head) = base_and_feature("https://github.com/acme/app.git");
    repo.commit("target moved on");
    git(&repo.dir, &["rebase", "-q", &head]);
    let agent_only = repo.head();
    assert_ne!(agent_only, head);
    let drone = |run: Run, event: &str, sha: &str| {
        run.env("DRONE", "true")
            .env("CI", "true")
            .env("DRONE_REPO", "acme/app")
            .env("DRONE_BUILD_NUMBER", "5")
            .env("DRONE_STAGE_NUMBER", "1")
            .env("DRONE_BUILD_EVENT", event)
            .env("DRONE_BUILD_TRIGGER", "@hook")
            .env("DRONE_COMMIT_SHA", sha)
            .env("DRONE_COMMIT_AUTHOR_EMAIL", "dev@example.com")
    };
    let rx = Server::ok();
    let out = drone(Run::report().repo(&repo).server(&rx), "pull_request", &head).expect_exit(0);
    let body = rx.only_request().json();
    assert_eq!(body["commit_sha"], head, "never the rebase made on the agent");
    assert_eq!(body["job_id"], "acme/app-5-1");
    assert!(out.all().contains(&agent_only) && out.all().contains("made on the agent"), "{}", out.all());

    // A push build checks out DRONE_COMMIT_SHA itself: the checkout is what ran.
    let rx = Server::ok();
    drone(Run::report().repo(&repo).server(&rx), "push", &head).expect_exit(0);
    assert_eq!(rx.only_request().json()["commit_sha"], agent_only);
}

#[test]
fn teamcity_server_side_checkout_reports_build_vcs_number_without_a_repository() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = tmp.path().join("config.properties");
    std::fs::write(
        &config,
        "#TeamCity configuration parameters\nbuild.vcs.number=0123456789abcdef0123456789abcdef01234567\nteamcity.build.triggeredBy=Alice\nteamcity.build.triggeredBy.username=alice\nvcsroot.url=https\\://deploy\\:TCSECRET@github.com/acme/app.git\n",
    )
    .expect("config");
    let build = tmp.path().join("build.properties");
    let escaped = config.display().to_string().replace(':', "\\:");
    std::fs::write(&build, format!("teamcity.build.id=4711\nteamcity.configuration.properties.file={escaped}\n"))
        .expect("build");
    let empty = tmp.path().join("checkout");
    std::fs::create_dir(&empty).expect("no .git here");
    let rx = Server::ok();
    let out = Run::report()
        .dir(&empty)
        .server(&rx)
        .env("TEAMCITY_VERSION", "2024.12")
        .env("TEAMCITY_PROJECT_NAME", "App")
        .env("TEAMCITY_BUILDCONF_NAME", "Deploy")
        .env("BUILD_NUMBER", "0123456789abcdef0123456789abcdef01234567")
        .env("BUILD_VCS_NUMBER", "0123456789abcdef0123456789abcdef01234567")
        .env("TEAMCITY_BUILD_PROPERTIES_FILE", &build)
        .expect_exit(0);
    let body = rx.only_request().json();
    assert_eq!(body["commit_sha"], "0123456789abcdef0123456789abcdef01234567");
    assert_eq!(body["repo_name"], "acme/app");
    assert_eq!(body["job_id"], "4711", "the server's build id, not a build number that repeats");
    assert_eq!(body["triggered_by"], "alice");
    assert!(!out.all().contains("TCSECRET") && !rx.only_request().body.contains("TCSECRET"));
}

#[test]
fn credentials_in_a_ci_systems_url_are_never_sent_nor_printed() {
    let repo = Repo::init(&[], Some("git@github.com:acme/app.git"));
    let rx = Server::ok();
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = jenkins(
        Run::new(&["report", "--status", "SUCCESS", "--job-start-time", "1704018030"]).repo(&repo),
        &rx,
        tmp.path(),
    )
    .env("BUILD_URL", "https://builder:BUILDPASS@jenkins.example.com/job/app/17/")
    .expect_exit(0);
    let req = rx.only_request();
    assert!(!req.body.contains("BUILDPASS") && !req.body.contains("builder:"), "{}", req.body);
    assert!(req.body.contains("https://jenkins.example.com/job/app/17/"), "{}", req.body);
    assert!(!out.all().contains("BUILDPASS"), "{out}");

    let rx = Server::ok();
    let out = Run::new(&["report", "--status", "success", "--job-start-time", "1704018030", "--service-id", "7"])
        .repo(&repo)
        .url(&rx.url())
        .env("CUSTOMCD_TOKEN", TOKEN)
        .env("GITLAB_CI", "true")
        .env("CI_PROJECT_PATH", "acme/app")
        .env("CI_JOB_ID", "4242")
        .env("CI_JOB_URL", "https://gitlab-ci-token:GLTOKEN123@gitlab.example.com/acme/app/-/jobs/4242")
        .expect_exit(0);
    let body = rx.only_request().body;
    assert!(!body.contains("GLTOKEN123") && body.contains("https://gitlab.example.com/acme/app/-/jobs/4242"), "{body}");
    assert!(!out.all().contains("GLTOKEN123"), "{out}");
}

#[test]
fn a_ci_variable_that_is_not_utf8_is_refused_by_name_not_sent_with_replacement_characters() {
    use std::os::unix::ffi::OsStrExt;
    let repo = Repo::init(&[], Some("git@github.com:acme/app.git"));
    let rx = Server::ok();
    let gh = GitHub::new();
    let out = gh
        .apply(Run::new(&["report"]).repo(&repo), &rx, "push", "{}")
        .env("STATE_job_start_time", "1704018030")
        .env("GITHUB_REPOSITORY", std::ffi::OsStr::from_bytes(b"acme/\xffapp"))
        .expect_exit(2);
    assert!(out.all().contains("GITHUB_REPOSITORY, which is not valid UTF-8"), "{out}");
    assert!(rx.requests().is_empty());
}
