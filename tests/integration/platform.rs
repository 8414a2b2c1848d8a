//! The previous deploy from the CI platforms' own records: the built binary against a loopback
//! fake of GitHub's and GitLab's Deployments APIs (the one fake server, answering by path), with
//! real repositories whose ranges are checked against `git rev-list`. Refusals, timeouts,
//! malformed answers and redirects are warnings, and the job is sent all the same.

use std::time::Duration;

use crate::support::*;
use serde_json::{json, Value};

const GH_TOKEN: &str = "ghs_FAKEGITHUBTOKEN_0123456789abcdef";
const GL_TOKEN: &str = "glcbt-FAKEJOBTOKEN_0123456789abcd";
const GL_PRIVATE: &str = "glpat-FAKEPRIVATETOKEN_0123456789";

/// A repository with commits c1..c5 on main; returns it and the ids, oldest first.
fn history() -> (Repo, Vec<String>) {
    let repo = Repo::new();
    let mut ids = vec![repo.head()];
    for i in 1..=5 {
        ids.push(repo.commit(&format!("c{i}")));
    }
    (repo, ids)
}

fn rev_list_count(repo: &Repo, range: &str) -> u64 {
    git(&repo.dir, &["rev-list", "--count", range]).parse().expect("a count")
}

/// Whether `secret` shows anywhere in what the run printed but the `::add-mask::` line that asks
/// GitHub's runner to hide it.
fn leaks(out: &Ran, secret: &str) -> bool {
    out.lines().iter().any(|l| !l.starts_with("::add-mask::") && l.contains(secret))
}

/// The optional fields of a dry run's body, by key.
fn fields(out: &Ran) -> serde_json::Map<String, Value> {
    assert_eq!(out.code, Some(0), "{out}");
    let body: Value = serde_json::from_str(&out.stdout).expect("the dry run prints the JSON body");
    body["optional"]
        .as_array()
        .map(|list| list.iter().map(|f| (f["key"].as_str().unwrap_or("").to_owned(), f["value"].clone())).collect())
        .unwrap_or_default()
}

/// A GitHub Actions run of `workflow_dispatch` (no `before`) deploying `head` to production,
/// asking the fake API at `api`.
fn github(repo: &Repo, head: &str, api: &Server) -> Run {
    Run::report()
        .repo(repo)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_REPOSITORY", "acme/app")
        .env("GITHUB_SHA", head)
        .env("GITHUB_RUN_ID", "900")
        .env("GITHUB_EVENT_NAME", "workflow_dispatch")
        .env("GITHUB_API_URL", api.origin())
        .env("INPUT_GITHUB_TOKEN", GH_TOKEN)
        .env("INPUT_ENVIRONMENT", "production")
}

fn deployment(id: u64, sha: &str) -> Value {
    json!({"id": id, "sha": sha, "ref": "main", "environment": "production", "created_at": "2024-01-01T10:00:00Z"})
}

fn status(state: &str, run: u64) -> Value {
    json!({"state": state, "log_url": format!("https://github.com/acme/app/actions/runs/{run}/job/5")})
}

/// A fake GitHub whose production deployments are `list` (newest first), each with its statuses.
fn github_api(list: &[(u64, &str, Vec<Value>)]) -> Server {
    let mut plan = Plan::always(Step::status(404)).route(
        "/repos/acme/app/deployments?",
        Step::reply(
            200,
            &Value::from(list.iter().map(|(id, sha, _)| deployment(*id, sha)).collect::<Vec<_>>()).to_string(),
        ),
    );
    for (id, _, statuses) in list {
        plan = plan.route(
            &format!("/repos/acme/app/deployments/{id}/statuses"),
            Step::reply(200, &Value::from(statuses.clone()).to_string()),
        );
    }
    Server::start(plan)
}

#[test]
fn github_gives_the_newest_successful_deployment_that_is_not_this_runs_own() {
    let (repo, ids) = history();
    // Newest first: this run's own (in progress), a failure, then the deploy of c2.
    let api = github_api(&[
        (13, &ids[5], vec![status("in_progress", 900), status("queued", 900)]),
        (12, &ids[4], vec![status("failure", 800)]),
        (11, &ids[2], vec![status("success", 700), status("in_progress", 700)]),
    ]);
    let out = github(&repo, &ids[5], &api).arg("--dry-run").output();
    let f = fields(&out);
    assert_eq!(f["previous_sha"], Value::from(ids[2].clone()), "{out}");
    assert_eq!(f["commit_count"], Value::from(rev_list_count(&repo, &format!("{}..{}", ids[2], ids[5]))));
    assert!(out.stderr.contains("deployments API: deployment 11 to production"), "{out}");
    let seen = api.requests();
    assert_eq!(seen.len(), 4, "the list and three deployments' statuses: {seen:?}");
    assert!(seen[0].path.starts_with("/repos/acme/app/deployments?environment=production&"), "{}", seen[0].path);
    for r in &seen {
        assert_eq!(r.method, "GET");
        assert_eq!(r.bearer(), GH_TOKEN);
        assert_eq!(r.headers.get("x-github-api-version").map(String::as_str), Some("2022-11-28"));
    }
    assert!(!leaks(&out, GH_TOKEN), "{out}");
}

#[test]
fn github_takes_a_deployment_made_inactive_by_a_later_success_and_a_first_deploy_has_none() {
    let (repo, ids) = history();
    // This run deployed already (a later job reports it): the one before is inactive now.
    let api = github_api(&[
        (22, &ids[5], vec![status("success", 900)]),
        (21, &ids[3], vec![status("inactive", 700), status("success", 700)]),
        (20, &ids[1], vec![status("inactive", 600), status("failure", 600)]),
    ]);
    let f = fields(&github(&repo, &ids[5], &api).arg("--dry-run").output());
    assert_eq!(f["previous_sha"], Value::from(ids[3].clone()));
    assert_eq!(f["commit_count"], Value::from(rev_list_count(&repo, &format!("{}..{}", ids[3], ids[5]))));

    let api = github_api(&[(30, &ids[5], vec![status("in_progress", 900)])]);
    let out = github(&repo, &ids[5], &api).arg("--dry-run").output();
    assert!(!fields(&out).contains_key("previous_sha"), "{out}");
    assert!(out.stderr.contains("a first deploy") && !out.stderr.contains("warning"), "{out}");
}

#[test]
fn on_a_deployment_event_the_events_own_deployment_is_not_the_previous_one() {
    let (repo, ids) = history();
    // An outside tool made deployment 41 (which started this run) and already marked it a
    // success, without naming the run.
    let api = github_api(&[
        (41, &ids[5], vec![json!({"state": "success", "target_url": "https://deploy.example/41"})]),
        (40, &ids[3], vec![json!({"state": "success", "target_url": "https://deploy.example/40"})]),
    ]);
    let event = repo.tmp.path().join("event.json");
    let payload = json!({"deployment": {"id": 41, "sha": ids[5], "environment": "production"}});
    std::fs::write(&event, payload.to_string()).expect("write");
    let out = github(&repo, &ids[5], &api)
        .arg("--dry-run")
        .env("GITHUB_EVENT_NAME", "deployment")
        .env("GITHUB_EVENT_PATH", &event)
        .env_remove("INPUT_ENVIRONMENT")
        .output();
    assert_eq!(fields(&out)["previous_sha"], Value::from(ids[3].clone()), "{out}");
    assert!(out.stderr.contains("deployment 40 to production"), "the environment came from the event: {out}");
}

#[test]
fn the_users_previous_sha_beats_the_record_and_nothing_is_asked() {
    let (repo, ids) = history();
    let api = github_api(&[(11, &ids[2], vec![status("success", 700)])]);
    let f = fields(&github(&repo, &ids[5], &api).args(["--dry-run", "--previous-sha", &ids[4]]).output());
    assert_eq!(f["previous_sha"], Value::from(ids[4].clone()));
    assert!(api.requests().is_empty(), "{:?}", api.requests());
}

#[test]
fn refusals_are_warnings_that_name_the_fix_and_the_job_is_sent_without_the_fields() {
    let (repo, ids) = history();
    let cases: [(u16, &str); 3] = [
        (401, "give github_token a valid token"),
        (403, "permissions: deployments: read"),
        (404, "permissions: deployments: read"),
    ];
    for (code, fix) in cases {
        let api = Server::start(Plan::always(Step::status(code)));
        let webhook = Server::ok();
        let out = github(&repo, &ids[5], &api).server(&webhook).expect_exit(0);
        assert!(out.stderr.contains(&format!("HTTP {code}")) && out.stderr.contains(fix), "{code}: {out}");
        let sent = webhook.only_request();
        assert_eq!(sent.bearer(), TOKEN, "the webhook gets the Allstacks token only");
        assert!(!sent.body.contains("previous_sha"), "{}", sent.body);
        assert_eq!(api.only_request().bearer(), GH_TOKEN, "the API gets its own token only");
        assert!(!leaks(&out, GH_TOKEN));
    }
}

#[test]
fn a_hanging_or_dripping_api_costs_at_most_the_lookup_deadline() {
    let (repo, ids) = history();
    let webhook = Server::ok();
    let quick = Server::start(Plan::always(Step::reply(200, "[]")));
    let baseline = github(&repo, &ids[5], &quick).server(&webhook).expect_exit(0);
    // One that never answers; one that answers a byte every 50 ms, each request well inside a
    // per-request timeout but the whole lookup (a list and its statuses) far past the deadline.
    let list = format!("[{}]", (0..9).map(|i| deployment(i + 1, &ids[5]).to_string()).collect::<Vec<_>>().join(","));
    let cases = [
        (Step::hang(), "did not answer within the lookups' deadline (5 s in all)"),
        (Step::Drip(Duration::from_millis(50), Reply::new(200, &list)), "deadline"),
    ];
    for (step, said) in cases {
        let api = Server::start(Plan::always(step));
        let out = github(&repo, &ids[5], &api).server(&webhook).timeout(Duration::from_secs(30)).expect_exit(0);
        assert!(out.stderr.contains(said), "{out}");
        // The deadline is 5 s for all lookups together; a slow machine may add a little.
        eprintln!(
            "baseline {:?}, slow API {:?}: {}",
            baseline.took,
            out.took,
            out.stderr.lines().find(|l| l.contains("deadline")).unwrap_or("")
        );
        assert!(out.took >= Duration::from_secs(5) && out.took < baseline.took + Duration::from_secs(7), "{out}");
    }
    assert_eq!(webhook.requests().len(), 3, "every job was sent");
}

#[test]
fn the_api_is_reached_through_the_proxy_the_settings_name_and_no_proxy_is_honoured() {
    use crate::support::proxy::ConnectProxy;
    // Loopback is never proxied: the API is named by a name only the proxy knows.
    const NAME: &str = "customcd.test";
    let (repo, ids) = history();
    let api = github_api(&[(11, &ids[2], vec![status("success", 700)])]);
    let proxy = ConnectProxy::start_with_alias(Some(NAME));
    let run = || {
        github(&repo, &ids[5], &api)
            .arg("--dry-run")
            .env("GITHUB_API_URL", format!("http://{NAME}:{}", api.port))
            .env("CUSTOMCD_ALLOW_HTTP", "true")
            .env("HTTPS_PROXY", proxy.url(None))
            .env("HTTP_PROXY", proxy.url(None))
    };
    let out = run().output();
    assert_eq!(fields(&out)["previous_sha"], Value::from(ids[2].clone()), "{out}");
    assert!(proxy.requests().iter().all(|c| c.line == format!("CONNECT {NAME}:{} HTTP/1.1", api.port)));
    assert_eq!(proxy.requests().len(), api.requests().len(), "every request went through the proxy");
    // NO_PROXY sends it direct, where the name resolves nowhere: a warning, and the job stands.
    let before = api.requests().len();
    let out = run().env("NO_PROXY", NAME).output();
    assert!(!fields(&out).contains_key("previous_sha"), "{out}");
    assert!(out.stderr.contains("could not be asked"), "{out}");
    assert_eq!(api.requests().len(), before);
    // Plain http to a name that is not loopback is refused without --allow-http: the token would
    // travel in clear.
    let out = run().env_remove("CUSTOMCD_ALLOW_HTTP").output();
    assert!(out.stderr.contains("plain http to a host other than loopback"), "{out}");
    assert_eq!(api.requests().len(), before);
}

#[test]
fn malformed_answers_redirects_and_echoes_are_warnings_that_leak_nothing() {
    let (repo, ids) = history();
    let elsewhere = Server::ok();
    let echo: Echo =
        |seen| format!("<html>token {}</html>", seen.headers.get("authorization").cloned().unwrap_or_default());
    let cases = [
        (Step::reply(200, "{not json"), "not JSON"),
        (Step::reply(200, r#"{"message":"an object"}"#), "not what the API documents"),
        (Step::reply(200, r#"[{"id":1,"sha":"abc"}]"#), "names no full commit sha"),
        (Step::redirect(302, &format!("{}/steal", elsewhere.origin())), "it is not followed"),
        (Step::Echo(200, echo), "not JSON"),
        (Step::CutShort(Reply::new(200, &"[".repeat(400))), "broke off"),
    ];
    for (step, said) in cases {
        let api = Server::start(Plan::always(step.clone()));
        let out = github(&repo, &ids[5], &api).arg("--dry-run").output();
        assert_eq!(out.code, Some(0), "{out}");
        assert!(out.stderr.contains(said) && out.stderr.contains("warning"), "{step:?}: {out}");
        assert!(!fields(&out).contains_key("previous_sha"));
        assert!(!leaks(&out, GH_TOKEN), "{out}");
    }
    assert!(elsewhere.requests().is_empty(), "the redirect was not followed");
}

#[test]
fn the_source_is_shown_by_env_and_in_the_step_summary() {
    let (repo, ids) = history();
    let api = github_api(&[(11, &ids[2], vec![status("success", 700)])]);
    let out = Run::new(&["env"])
        .repo(&repo)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_REPOSITORY", "acme/app")
        .env("GITHUB_SHA", &ids[5])
        .env("GITHUB_API_URL", api.origin())
        .env("GITHUB_EVENT_NAME", "schedule")
        .env("CUSTOMCD_GITHUB_TOKEN", GH_TOKEN)
        .env("CUSTOMCD_ENVIRONMENT", "production")
        .env("CUSTOMCD_SERVICE_ID", "2")
        .env("CUSTOMCD_STATUS", "success")
        .env("CUSTOMCD_JOB_START_TIME", "1704018030")
        .expect_exit(0);
    assert!(out.stdout.contains("deployments API: deployment 11 to production"), "{out}");
    assert!(out.stdout.contains("github_token    ***"), "{out}");
    assert!(!leaks(&out, GH_TOKEN));

    let summary = repo.tmp.path().join("summary.md");
    let webhook = Server::ok();
    github(&repo, &ids[5], &api).server(&webhook).env("GITHUB_STEP_SUMMARY", &summary).expect_exit(0);
    let text = std::fs::read_to_string(&summary).expect("a step summary");
    assert!(text.contains("deployments API: deployment 11 to production"), "{text}");
}

/// A GitLab job deploying `head` to production, asking the fake API at `api`.
fn gitlab(repo: &Repo, head: &str, api: &Server) -> Run {
    Run::report()
        .repo(repo)
        .env("GITLAB_CI", "true")
        .env("CI_COMMIT_SHA", head)
        .env("CI_PROJECT_PATH", "acme/app")
        .env("CI_PROJECT_ID", "77")
        .env("CI_JOB_ID", "5005")
        .env("CI_PIPELINE_ID", "400")
        .env("CI_PIPELINE_SOURCE", "web")
        .env("CI_ENVIRONMENT_NAME", "production")
        .env("CI_API_V4_URL", format!("{}/api/v4", api.origin()))
        .env("CI_JOB_TOKEN", GL_TOKEN)
}

fn gl_deployment(id: u64, sha: &str, job: u64, pipeline: u64) -> Value {
    json!({"id": id, "iid": id - 100, "sha": sha, "status": "success", "finished_at": "2024-01-01T10:00:00Z",
           "deployable": {"id": job, "status": "success", "pipeline": {"id": pipeline}}})
}

#[test]
fn gitlab_asks_for_successful_deployments_newest_first_and_skips_this_pipelines_own() {
    let (repo, ids) = history();
    let list = json!([gl_deployment(203, &ids[5], 5004, 400), gl_deployment(202, &ids[1], 4004, 300)]);
    let api = Server::start(
        Plan::always(Step::status(404)).route("/api/v4/projects/77/deployments?", Step::reply(200, &list.to_string())),
    );
    let out = gitlab(&repo, &ids[5], &api).arg("--dry-run").output();
    let f = fields(&out);
    assert_eq!(f["previous_sha"], Value::from(ids[1].clone()), "{out}");
    assert_eq!(f["commit_count"], Value::from(rev_list_count(&repo, &format!("{}..{}", ids[1], ids[5]))));
    assert!(out.stderr.contains("GitLab CI deployments API: deployment 202 (#102) to production"), "{out}");
    let seen = api.only_request();
    for part in ["environment=production", "status=success", "order_by=id", "sort=desc"] {
        assert!(seen.path.contains(part), "{part} in {}", seen.path);
    }
    assert_eq!(seen.headers.get("job-token").map(String::as_str), Some(GL_TOKEN));
    assert!(!seen.headers.contains_key("private-token") && !seen.headers.contains_key("authorization"));

    // Where job tokens are restricted, the project's own token goes as PRIVATE-TOKEN instead.
    let out = gitlab(&repo, &ids[5], &api).env("CUSTOMCD_GITLAB_TOKEN", GL_PRIVATE).arg("--dry-run").output();
    assert_eq!(fields(&out)["previous_sha"], Value::from(ids[1].clone()));
    let seen = api.requests().pop().expect("a second request");
    assert_eq!(seen.headers.get("private-token").map(String::as_str), Some(GL_PRIVATE));
    assert!(!seen.headers.contains_key("job-token"));
    assert!(!leaks(&out, GL_PRIVATE) && !leaks(&out, GL_TOKEN), "{out}");
}

#[test]
fn gitlab_refusals_name_the_job_token_permissions_and_the_private_token() {
    let (repo, ids) = history();
    let api = Server::start(Plan::always(Step::reply(403, r#"{"message":"403 Forbidden"}"#)));
    let webhook = Server::ok();
    let out = gitlab(&repo, &ids[5], &api).server(&webhook).expect_exit(0);
    assert!(out.stderr.contains("Job token permissions") && out.stderr.contains("CUSTOMCD_GITLAB_TOKEN"), "{out}");
    assert!(!webhook.only_request().body.contains("previous_sha"));
}

#[test]
fn the_previous_push_stands_in_only_for_push_jobs_and_says_so() {
    let (repo, ids) = history();
    let base = |source: &str| {
        Run::report()
            .repo(&repo)
            .arg("--dry-run")
            .env("GITLAB_CI", "true")
            .env("CI_COMMIT_SHA", &ids[5])
            .env("CI_PROJECT_PATH", "acme/app")
            .env("CI_COMMIT_BEFORE_SHA", &ids[3])
            .env("CI_PIPELINE_SOURCE", source)
    };
    // A push with no environment: the previous push, labelled, with a notice.
    let out = base("push").output();
    assert_eq!(fields(&out)["previous_sha"], Value::from(ids[3].clone()), "{out}");
    assert!(out.stderr.contains("the previous push, taken as the previous deploy"), "{out}");
    assert!(out.stderr.contains("notice: the previous deploy is taken to be the previous push"), "{out}");
    // A manual job, a schedule, a trigger: the previous push bounds nothing they deploy.
    for (source, manual) in [("push", "true"), ("schedule", ""), ("trigger", ""), ("web", "")] {
        let out = base(source).env("CI_JOB_MANUAL", manual).output();
        assert!(!fields(&out).contains_key("previous_sha"), "{source} {manual}: {out}");
    }
}

#[test]
fn jenkins_says_its_previous_build_is_per_job_when_an_environment_is_named() {
    let (repo, ids) = history();
    let run = || {
        Run::report()
            .repo(&repo)
            .arg("--dry-run")
            .env("JENKINS_URL", "https://jenkins.example/")
            .env("GIT_COMMIT", &ids[5])
            .env("GIT_PREVIOUS_SUCCESSFUL_COMMIT", &ids[2])
            .arg("--repo-name")
            .arg("acme/app")
    };
    let out = run().output();
    assert_eq!(fields(&out)["previous_sha"], Value::from(ids[2].clone()));
    assert!(!out.stderr.contains("notice"), "{out}");
    let out = run().args(["--environment", "production"]).output();
    assert_eq!(fields(&out)["previous_sha"], Value::from(ids[2].clone()));
    assert!(out.stderr.contains("notice") && out.stderr.contains("an environment parameter varies"), "{out}");
}

/// A repository where the last deploy was a hotfix that is no descendant of what went out
/// before it: root, then c1, c2 on main, then the hotfix c3 from the root. Returns it, the root
/// and c1..c3; HEAD is on the hotfix branch.
fn hotfix_history() -> (Repo, String, [String; 3]) {
    let repo = Repo::new();
    let root = repo.head();
    let (c1, c2) = (repo.commit("c1"), repo.commit("c2"));
    git(&repo.dir, &["checkout", "-q", "-b", "hotfix", &root]);
    let c3 = repo.commit("c3 hotfix");
    (repo, root, [c1, c2, c3])
}

/// A GitHub run deploying `commit`, checked out as the deploying job's clone has it.
fn gh_at(repo: &Repo, commit: &str, api: &Server) -> Run {
    git(&repo.dir, &["checkout", "-q", commit]);
    github(repo, commit, api)
}

/// A GitLab job deploying `commit`, checked out as the deploying job's clone has it.
fn gl_at(repo: &Repo, commit: &str, api: &Server) -> Run {
    git(&repo.dir, &["checkout", "-q", commit]);
    gitlab(repo, commit, api)
}

#[test]
fn github_earlier_deploys_make_a_redeploy_a_rollback_and_count_reverts_of_what_they_shipped() {
    let (repo, _root, [c1, c2, c3]) = hotfix_history();
    // c1 is no ancestor of c3 (the previous deploy): only the earlier deploys' rule can flag it.
    assert_ne!(git(&repo.dir, &["merge-base", &c1, &c3]), c1);
    let revert = repo.commit(&format!("Revert \"c2\"\n\nThis reverts commit {c2}."));
    // Newest first: this run's own, then c3, c2, c1, each a success (c2 made inactive since).
    let recorded = |earlier: &str| {
        github_api(&[
            (44, &revert, vec![status("in_progress", 900)]),
            (43, &c3, vec![status("success", 703)]),
            (42, &c2, vec![status("inactive", 702), status(earlier, 702)]),
            (41, &c1, vec![status(earlier, 701)]),
            (40, &c2, vec![status(earlier, 700)]),
        ])
    };
    let api = recorded("success");
    let f = fields(&gh_at(&repo, &c1, &api).arg("--dry-run").output());
    assert_eq!(f["previous_sha"], Value::from(c3.clone()));
    assert_eq!(f["is_rollback"], Value::from(1), "c1 went out two deploys ago");
    let seen = api.requests();
    assert_eq!(
        seen.len(),
        5,
        "the list, then this run's, c3's, and the 2 earlier deployments' statuses (not the third's): {seen:?}"
    );
    assert_eq!(seen.iter().filter(|r| r.path.contains("/deployments?")).count(), 1, "one page of the list");

    let out = gh_at(&repo, &revert, &api).arg("--dry-run").output();
    let f = fields(&out);
    assert_eq!(f["commit_count"], Value::from(rev_list_count(&repo, &format!("{c3}..{revert}"))));
    assert_eq!(f["reverts"], Value::from(1), "c2 went out before c3, which does not reach it: {out}");
    assert_eq!(f["is_rollback"], Value::from(0));

    // The same history where the earlier deploys failed: nothing of theirs shipped.
    let api = recorded("failure");
    let f = fields(&gh_at(&repo, &c1, &api).arg("--dry-run").output());
    assert_eq!(f["previous_sha"], Value::from(c3.clone()));
    assert_eq!(f["is_rollback"], Value::from(0));
    assert_eq!(fields(&gh_at(&repo, &revert, &api).arg("--dry-run").output())["reverts"], Value::from(0));

    // Named by the user, the previous deploy comes with no earlier ones: c1 is no rollback then.
    let f = fields(&gh_at(&repo, &c1, &recorded("success")).args(["--previous-sha", &c3, "--dry-run"]).output());
    assert_eq!(f["is_rollback"], Value::from(0));
}

#[test]
fn gitlab_earlier_deploys_come_from_the_same_page_without_another_request() {
    let (repo, _root, [c1, c2, c3]) = hotfix_history();
    let revert = repo.commit(&format!("Revert \"c2\"\n\nThis reverts commit {c2}."));
    let list = json!([
        gl_deployment(204, &revert, 5004, 400),
        gl_deployment(203, &c3, 3003, 303),
        gl_deployment(202, &c2, 3002, 302),
        gl_deployment(201, &c1, 3001, 301),
    ]);
    let api = Server::start(
        Plan::always(Step::status(404)).route("/api/v4/projects/77/deployments?", Step::reply(200, &list.to_string())),
    );
    let out = gl_at(&repo, &c1, &api).arg("--dry-run").output();
    let f = fields(&out);
    assert_eq!(f["previous_sha"], Value::from(c3.clone()), "{out}");
    assert_eq!(f["is_rollback"], Value::from(1), "c1 went out two deploys ago: {out}");
    api.only_request();
    let f = fields(&gl_at(&repo, &revert, &api).arg("--dry-run").output());
    assert_eq!(f["reverts"], Value::from(1));

    // Only the previous one recorded: neither is flagged.
    let list = json!([gl_deployment(204, &revert, 5004, 400), gl_deployment(203, &c3, 3003, 303)]);
    let api = Server::start(
        Plan::always(Step::status(404)).route("/api/v4/projects/77/deployments?", Step::reply(200, &list.to_string())),
    );
    assert_eq!(fields(&gl_at(&repo, &c1, &api).arg("--dry-run").output())["is_rollback"], Value::from(0));
    assert_eq!(fields(&gl_at(&repo, &revert, &api).arg("--dry-run").output())["reverts"], Value::from(0));
}
