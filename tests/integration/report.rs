//! `customcd report` end to end: the built binary, a receiver on 127.0.0.1, real git repositories.

use crate::support::*;
use serde_json::json;

#[test]
fn a_job_is_posted_as_exact_json_with_the_right_headers() {
    let repo = Repo::new();
    let rx = Server::ok();
    let out = Run::report()
        .repo(&repo)
        .server(&rx)
        .args(["--job-id", "deploy-1", "--triggered-by", "testuser@org.com", "--job-type", "Production Deploy"])
        .args([
            "--field",
            "microservice=frontend",
            "--field",
            "microservice=backend",
            "--field",
            "lead_time:duration=20",
        ])
        .expect_exit(0);
    let req = rx.only_request();
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, "/webhook/company/77/cicd_job");
    assert_eq!(req.headers["authorization"], format!("Bearer {TOKEN}"));
    assert_eq!(req.headers["content-type"], "application/json");
    assert_eq!(req.headers["user-agent"], format!("customcd/{}", env!("CARGO_PKG_VERSION")));
    assert_eq!(
        req.json(),
        json!({
            "job_id": "deploy-1",
            "commit_sha": repo.head(),
            "service_id": 2,
            "job_start_time": 1_704_018_030,
            "job_duration": 300,
            "status": "Succeeded",
            "repo_name": "acme/app",
            "triggered_by": "testuser@org.com",
            "job_type": "Production Deploy",
            "optional": [
                {"key": "microservice", "value": ["frontend", "backend"], "type": "string"},
                {"key": "lead_time", "value": 20, "type": "duration"}
            ]
        })
    );
    let printed = out.all();
    assert!(printed.contains("sent job deploy-1"), "{printed}");
    assert!(printed.contains(r#"{"status":"ok","id":123}"#), "the server's answer is shown: {printed}");
    assert!(!printed.contains(TOKEN) && !printed.contains("hunter2"), "{printed}");
    assert!(!req.body.contains("hunter2"), "credentials from the remote URL must not be sent");
}

#[test]
fn a_sha256_repository_gives_a_64_character_commit() {
    let repo = Repo::init(&["--object-format=sha256"], Some("git@github.com:acme/app256.git"));
    let rx = Server::ok();
    Run::report().repo(&repo).server(&rx).expect_exit(0);
    let body = rx.only_request().json();
    assert_eq!(repo.head().len(), 64);
    assert_eq!(body["commit_sha"], repo.head());
    assert_eq!(body["repo_name"], "acme/app256");
}

#[test]
fn a_detached_head_is_reported_as_its_commit() {
    let repo = Repo::new();
    let first = repo.head();
    repo.commit("second");
    git(&repo.dir, &["checkout", "-q", "--detach", &first]);
    let rx = Server::ok();
    Run::report().repo(&repo).server(&rx).expect_exit(0);
    assert_eq!(rx.only_request().json()["commit_sha"], first);
}

#[test]
fn a_shallow_clone_is_read_without_history() {
    let upstream = Repo::new();
    upstream.commit("second");
    let want = upstream.commit("third");
    let tmp = tempfile::tempdir().expect("tempdir");
    let url = format!("file://{}", upstream.dir.display());
    git(tmp.path(), &["clone", "-q", "--depth", "1", &url, "clone"]);
    let clone = tmp.path().join("clone");
    assert_eq!(git(&clone, &["rev-parse", "--is-shallow-repository"]), "true");
    // A local path or file:// remote names no repository (see tests/secrets.rs): point origin
    // where a real clone's would point.
    git(&clone, &["remote", "set-url", "origin", "https://github.com/acme/app.git"]);
    let rx = Server::ok();
    Run::report().dir(&clone).server(&rx).expect_exit(0);
    let body = rx.only_request().json();
    assert_eq!(body["commit_sha"], want);
    assert_eq!(body["repo_name"], "acme/app");
}

#[test]
fn a_linked_worktree_reports_its_own_head_and_the_main_remote() {
    let repo = Repo::new();
    let wt = repo.tmp.path().join("wt");
    git(&repo.dir, &["worktree", "add", "-q", "-b", "feature", wt.to_str().expect("utf-8 path")]);
    let feature = git(&wt, &["commit", "-q", "--allow-empty", "-m", "on feature"]);
    let _ = feature;
    let want = git(&wt, &["rev-parse", "HEAD"]);
    assert_ne!(want, repo.head());
    let rx = Server::ok();
    Run::report().dir(&wt).server(&rx).expect_exit(0);
    let body = rx.only_request().json();
    assert_eq!(body["commit_sha"], want);
    assert_eq!(body["repo_name"], "acme/app");
}

#[test]
fn a_subdirectory_finds_the_repository_upward_and_repo_flag_picks_another() {
    let repo = Repo::new();
    let sub = repo.dir.join("a/b");
    std::fs::create_dir_all(&sub).expect("mkdir");
    let rx = Server::ok();
    Run::report().dir(&sub).server(&rx).expect_exit(0);
    assert_eq!(rx.only_request().json()["commit_sha"], repo.head());

    let other = Repo::init(&[], Some("https://gitlab.example.com/group/sub/other.git"));
    let rx = Server::ok();
    Run::report().repo(&repo).server(&rx).args(["--repo", other.dir.to_str().expect("utf-8")]).expect_exit(0);
    let body = rx.only_request().json();
    assert_eq!(body["commit_sha"], other.head());
    assert_eq!(body["repo_name"], "group/sub/other");
}

#[test]
fn a_repository_owned_by_another_user_is_still_read() {
    // Only root can give a directory away. CI runs as root; elsewhere this fails loudly rather
    // than pass without testing anything.
    let is_root = std::process::Command::new("id").arg("-u").output().map(|o| o.stdout == b"0\n").unwrap_or(false);
    assert!(is_root, "this test needs root to chown the repository to another user: run the suite as root, as CI does");
    let repo = Repo::new();
    let head = repo.head();
    let status =
        std::process::Command::new("chown").args(["-R", "12345:12345"]).arg(&repo.dir).status().expect("chown");
    assert!(status.success());
    // git itself refuses this repository ("dubious ownership"): the case the Docker action meets.
    let git_says = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(&repo.dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("git");
    assert!(!git_says.status.success(), "git should refuse a repository owned by another user");
    let rx = Server::ok();
    Run::report().repo(&repo).server(&rx).expect_exit(0);
    let body = rx.only_request().json();
    assert_eq!(body["commit_sha"], head);
    assert_eq!(body["repo_name"], "acme/app");
}

#[test]
fn an_unborn_head_is_an_error_only_when_nothing_else_gives_a_sha() {
    let tmp = tempfile::tempdir().expect("tempdir");
    git(tmp.path(), &["init", "-q"]);
    git(tmp.path(), &["remote", "add", "origin", "git@github.com:acme/new.git"]);
    let rx = Server::ok();
    let out = Run::report().dir(tmp.path()).server(&rx).output();
    assert_eq!(out.code, Some(2));
    let printed = out.all();
    assert!(printed.contains("commit_sha") && printed.contains("unborn"), "{printed}");
    assert!(rx.requests().is_empty());

    let sha = "a2e7da86cc392417b0d9f605b28038aae80b002f";
    Run::report().dir(tmp.path()).server(&rx).args(["--commit-sha", sha]).expect_exit(0);
    let body = rx.only_request().json();
    assert_eq!(body["commit_sha"], sha);
    assert_eq!(body["repo_name"], "acme/new");
}

#[test]
fn outside_a_repository_the_values_must_come_from_flags() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let rx = Server::ok();
    let out = Run::report().dir(tmp.path()).server(&rx).output();
    assert_eq!(out.code, Some(2));
    let printed = out.all();
    assert!(printed.contains("no git repository found"), "{printed}");
    assert!(printed.contains("repo_id / repo_name"), "{printed}");

    Run::report()
        .dir(tmp.path())
        .server(&rx)
        .args(["--commit-sha", "A2E7DA86CC392417B0D9F605B28038AAE80B002F", "--repo-id", "12345"])
        .expect_exit(0);
    let body = rx.only_request().json();
    assert_eq!(body["commit_sha"], "a2e7da86cc392417b0d9f605b28038aae80b002f", "sent lowercase");
    assert_eq!(body["repo_id"], "12345");
    assert!(body.get("repo_name").is_none());
}

#[test]
fn invalid_input_sends_nothing_and_lists_every_problem() {
    let repo = Repo::new();
    let rx = Server::ok();
    let out = Run::report()
        .repo(&repo)
        .server(&rx)
        .args(["--service-id", "two", "--status", "running", "--job-start-time", "1704018030000"])
        .args(["--optional-json", "[{'key': 'microservice', 'value': 'a', 'type': 'string'},]"])
        .output();
    assert_eq!(out.code, Some(2));
    assert!(rx.requests().is_empty(), "nothing may be sent");
    let err = out.stderr.clone();
    for needle in [
        "4 problems found, nothing was sent",
        "service_id = \"two\" (from flag --service-id)",
        "status = \"running\" (from flag --status)",
        "looks like milliseconds",
        "use 1704018030",
        "line 1, column 3",
        "JSON strings need double quotes",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }
}

#[test]
fn variables_are_read_and_flags_win_over_them() {
    let repo = Repo::new();
    let rx = Server::ok();
    Run::new(&["report", "--status", "failed"])
        .repo(&repo)
        .server(&rx)
        .env("CUSTOMCD_SERVICE_ID", "9")
        .env("CUSTOMCD_STATUS", "success")
        .env("CUSTOMCD_JOB_START_TIME", "2024-01-01T10:00:00Z")
        .env("CUSTOMCD_JOB_DURATION", "")
        .env("CUSTOMCD_REPO_NAME", "acme/override")
        .env("CUSTOMCD_JOB_ID", "from-var")
        .env("CUSTOMCD_FIELDS", "env=prod\nattempt:integer=2\n")
        .env("CUSTOMCD_OPTIONAL", r#"[{"key":"team","value":"web","type":"string"}]"#)
        .expect_exit(0);
    let body = rx.only_request().json();
    assert_eq!(body["status"], "Failed", "the flag wins over CUSTOMCD_STATUS");
    assert_eq!(body["service_id"], 9);
    assert_eq!(body["job_start_time"], 1_704_103_200);
    assert!(
        body["job_duration"].as_u64().expect("an integer") > 0,
        "an empty variable is unset, so duration is derived"
    );
    assert_eq!(body["repo_name"], "acme/override", "the variable wins over git");
    assert_eq!(body["job_id"], "from-var");
    assert_eq!(
        body["optional"],
        json!([
            {"key": "env", "value": "prod", "type": "string"},
            {"key": "attempt", "value": 2, "type": "integer"},
            {"key": "team", "value": "web", "type": "string"}
        ])
    );
}

#[test]
fn a_dry_run_needs_no_endpoint_or_token_and_prints_the_body_and_sources() {
    let repo = Repo::new();
    let out = Run::new(&[
        "report",
        "--dry-run",
        "--service-id",
        "2",
        "--status",
        "on_hold",
        "--job-start-time",
        "1704018030",
    ])
    .repo(&repo)
    .expect_exit(0);
    let body: serde_json::Value = serde_json::from_str(&out.stdout).expect("stdout is exactly the JSON body");
    assert_eq!(body["status"], "On Hold");
    assert_eq!(body["commit_sha"], repo.head());
    let err = out.stderr.clone();
    assert!(err.contains("nothing was sent"), "{err}");
    assert!(err.contains(&format!("git HEAD of {}", repo.dir.display())), "{err}");
    assert!(err.contains("flag --service-id"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");

    let out = Run::new(&["report", "--service-id", "2", "--status", "ok", "--job-start-time", "1704018030"])
        .repo(&repo)
        .env("CUSTOMCD_DRY_RUN", "true")
        .output();
    assert_eq!(out.code, Some(2), "an invalid dry run fails like a real one");
}

#[test]
fn server_refusals_and_failures_have_distinct_exit_codes() {
    let repo = Repo::new();
    for (status, code, needle, retried) in [
        (400, 3, "HTTP 400", false),
        (422, 3, "HTTP 422", false),
        (401, 3, "token was refused", false),
        (403, 3, "token was refused", false),
        (500, 4, "HTTP 500", true),
        (503, 4, "HTTP 503", true),
        (429, 4, "HTTP 429", true),
    ] {
        let rx = Server::start(Plan::always(Step::reply(status, &format!("{{\"error\":\"nope {status}\"}}"))));
        let out = Run::report().repo(&repo).server(&rx).args(["--deadline", "2", "--fail-on-error=true"]).output();
        assert_eq!(out.code, Some(code), "HTTP {status}: {}", out.all());
        let printed = out.all();
        assert!(printed.contains(needle), "HTTP {status}: {printed}");
        assert!(printed.contains(&format!("nope {status}")), "the server's message is shown: {printed}");
        assert!(!printed.contains(TOKEN), "{printed}");
        let seen = rx.requests();
        if retried {
            assert!(seen.len() >= 2, "HTTP {status} is retried within the deadline, saw {}", seen.len());
            assert!(seen.iter().all(|r| r.body == seen[0].body), "every attempt sends the same body");
        } else {
            assert_eq!(seen.len(), 1, "HTTP {status} is not retried");
        }
    }
}

#[test]
fn plain_http_to_a_remote_host_is_refused_before_sending() {
    let repo = Repo::new();
    let rx = Server::ok();
    let out = Run::report()
        .repo(&repo)
        .server(&rx)
        .env("CUSTOMCD_URL", "http://allstacks.example.com/webhook/company/1/cicd_job")
        .output();
    assert_eq!(out.code, Some(2));
    assert!(out.all().contains("--allow-http"));
}

#[test]
fn the_endpoint_can_be_built_from_server_port_and_company() {
    let repo = Repo::new();
    let rx = Server::ok();
    Run::report()
        .repo(&repo)
        .server(&rx)
        .env_remove("CUSTOMCD_URL")
        .args(["--server", "http://127.0.0.1", "--port", &rx.port.to_string(), "--company-id", "77"])
        .expect_exit(0);
    assert_eq!(rx.only_request().path, "/webhook/company/77/cicd_job");
}

#[test]
fn an_endpoint_that_is_not_the_webhook_is_refused_before_sending() {
    let repo = Repo::new();
    let rx = Server::ok();
    let out = Run::report()
        .repo(&repo)
        .server(&rx)
        .env_remove("CUSTOMCD_URL")
        .args(["--server", "http://127.0.0.1", "--port", &rx.port.to_string(), "--company-id", "acme-co"])
        .expect_exit(2);
    assert!(out.all().contains("company_id = \"acme-co\""), "{}", out.all());
    let url = format!("http://127.0.0.1:{}/api/v2/jobs", rx.port);
    let out = Run::report().repo(&repo).server(&rx).env("CUSTOMCD_URL", &url).output();
    assert_eq!(out.code, Some(2));
    assert!(out.all().contains("/webhook/company/ID/cicd_job"), "{}", out.all());
    assert!(rx.requests().is_empty(), "nothing was sent");
    Run::report().repo(&repo).server(&rx).env("CUSTOMCD_URL", &url).arg("--any-endpoint-path").expect_exit(0);
    assert_eq!(rx.only_request().path, "/api/v2/jobs");
}

#[test]
fn the_token_can_come_from_a_file_or_a_warned_flag() {
    let repo = Repo::new();
    let rx = Server::ok();
    let file = repo.tmp.path().join("token");
    std::fs::write(&file, format!("{TOKEN}\n")).expect("write");
    Run::report()
        .repo(&repo)
        .server(&rx)
        .env_remove("CUSTOMCD_TOKEN")
        .args(["--token-file", file.to_str().expect("utf-8")])
        .expect_exit(0);
    assert_eq!(rx.only_request().headers["authorization"], format!("Bearer {TOKEN}"));

    let rx = Server::ok();
    let out = Run::report().repo(&repo).server(&rx).env_remove("CUSTOMCD_TOKEN").args(["--token", TOKEN]).output();
    assert_eq!(out.code, Some(0));
    assert_eq!(rx.only_request().headers["authorization"], format!("Bearer {TOKEN}"), "the flag's token is sent");
    let printed = out.all();
    assert!(printed.contains("other processes"), "{printed}");
    assert!(!printed.contains(TOKEN), "{printed}");
}

#[test]
fn help_documents_every_field_and_version_prints() {
    let out = Run::new(&["report", "--help"]).expect_exit(0);
    let help = out.stdout.clone();
    for flag in [
        "--job-id",
        "--commit-sha",
        "--service-id",
        "--job-start-time",
        "--job-duration",
        "--status",
        "--repo-id",
        "--repo-name",
        "--triggered-by",
        "--job-type",
        "--field",
        "--optional-json",
        "--url",
        "--server",
        "--port",
        "--company-id",
        "--token-file",
        "--dry-run",
        "--allow-http",
        "--repo",
        "CUSTOMCD_",
        "Exit codes",
    ] {
        assert!(help.contains(flag), "help lacks {flag}");
    }
    let out = Run::new(&["--version"]).expect_exit(0);
    assert_eq!(out.stdout.trim(), format!("customcd {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn git_files_linked_to_a_device_or_made_fifos_are_refused_at_once_never_read() {
    for (file, kind) in [("packed-refs", "zero"), ("config", "fifo"), ("refs/heads/main", "fifo")] {
        let repo = Repo::new();
        let path = repo.dir.join(".git").join(file);
        let _ = std::fs::remove_file(&path);
        if kind == "zero" {
            std::os::unix::fs::symlink("/dev/zero", &path).expect("symlink");
        } else {
            let made = std::process::Command::new("mkfifo").arg(&path).status().expect("mkfifo");
            assert!(made.success());
        }
        let rx = Server::ok();
        let started = std::time::Instant::now();
        let out = Run::report().repo(&repo).server(&rx).timeout(std::time::Duration::from_secs(20)).expect_exit(2);
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "{file}: took {:?}", started.elapsed());
        assert!(out.all().contains("not read"), "{file}: {out}");
        assert!(rx.requests().is_empty());
        // With every field given, git is not needed and the job goes out.
        let rx = Server::ok();
        Run::report()
            .repo(&repo)
            .server(&rx)
            .args(["--commit-sha", "1111111111111111111111111111111111111111", "--repo-name", "acme/app"])
            .expect_exit(0);
        assert_eq!(rx.requests().len(), 1, "{file}");
    }
}

#[test]
fn a_removed_working_directory_stops_nothing_when_every_field_is_given() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gone = dir.path().join("gone");
    std::fs::create_dir(&gone).expect("mkdir");
    let rx = Server::ok();
    let script = format!("cd '{0}' && rmdir '{0}' && exec \"$@\"", gone.display());
    let out = Run::report()
        .server(&rx)
        .through(&["sh", "-c", &script, "sh"])
        .args(["--commit-sha", "1111111111111111111111111111111111111111", "--repo-name", "acme/app"])
        .expect_exit(0);
    assert_eq!(rx.requests().len(), 1, "{out}");
}
