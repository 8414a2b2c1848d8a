//! One settings value for every command: the rules that had drifted apart between `report`,
//! `send` and `backfill` now hold the same everywhere, checked through the real binary.

use crate::support::*;

/// A repository with one tag, for backfills.
fn tagged_repo() -> Repo {
    let repo = Repo::init(&[], Some("https://github.com/acme/app.git"));
    git(&repo.dir, &["tag", "v1.0.0"]);
    repo
}

#[test]
fn a_backfill_that_would_send_sends_nothing_on_a_dry_run() {
    let repo = tagged_repo();
    let rx = Server::ok();
    for (how, extra) in [("flag", Some("--dry-run")), ("variable", None)] {
        let backfill =
            Run::new(&["backfill", "--from-git-tags", "v*", "--service-id", "3", "--send"]).repo(&repo).server(&rx);
        let out = match extra {
            Some(flag) => backfill.arg(flag),
            None => backfill.env("CUSTOMCD_DRY_RUN", "true"),
        }
        .output();
        assert_eq!(out.code, Some(0), "{how}: {}", out.all());
        assert!(out.all().contains("nothing was sent"), "{how}: {}", out.all());
        assert!(out.stdout.contains("\"job_id\":\"acme/app@v1.0.0\""), "{how}");
    }
    assert!(rx.requests().is_empty(), "a dry run sent {} request(s)", rx.requests().len());
}

#[test]
fn concurrency_out_of_range_is_refused_by_send_and_backfill_alike() {
    let repo = tagged_repo();
    let rx = Server::ok();
    let send = Run::new(&["send", "--concurrency", "0", "-"]).repo(&repo).server(&rx).stdin("").output();
    let backfill = Run::new(&["backfill", "--from-git-tags", "v*", "--service-id", "3", "--send"])
        .repo(&repo)
        .env("CUSTOMCD_CONCURRENCY", "100")
        .server(&rx)
        .output();
    for (what, out, source) in
        [("send", &send, "flag --concurrency"), ("backfill", &backfill, "variable CUSTOMCD_CONCURRENCY")]
    {
        assert_eq!(out.code, Some(2), "{what}: {}", out.all());
        assert!(out.all().contains("from 1 to 64"), "{what}: {}", out.all());
        assert!(out.all().contains(source), "{what}: {}", out.all());
    }
    assert!(rx.requests().is_empty());
}

#[test]
fn send_with_fail_on_error_false_warns_and_keeps_the_job_like_report() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rx = Server::start(Plan::always(Step::reply(400, "{\"error\":\"nope\"}")));
    let file = dir.path().join("job.json");
    let body = r#"{"job_id":"1","commit_sha":"a2e7da86cc392417b0d9f605b28038aae80b002f","service_id":2,"job_start_time":1704018030,"job_duration":5,"status":"Succeeded","repo_name":"acme/app"}"#;
    std::fs::write(&file, body).expect("write");
    let out = Run::new(&["send", "--fail-on-error=false"]).dir(dir.path()).arg(&file).server(&rx).expect_exit(0);
    assert!(out.all().contains("fail_on_error is false"), "{}", out.all());
    assert_eq!(rx.requests().len(), 1, "the job was tried");
    assert!(file.exists(), "a refused job is kept for a later send");
    let strict = Run::new(&["send"]).dir(dir.path()).arg(&file).server(&rx).output();
    assert_eq!(strict.code, Some(3), "without the flag a refusal fails: {}", strict.all());
}

#[test]
fn the_promised_variable_spellings_work_and_a_misspelling_is_named() {
    let repo = Repo::new();
    let out = Run::new(&["report", "--dry-run", "--status", "success", "--job-start-time", "1704018030"])
        .repo(&repo)
        .env("CUSTOMCD_SERVICEID", "42")
        .env("CUSTOMCD_FIELD", "region=eu")
        .env("CUSTOMCD_OPTIONAL_JSON", r#"[{"key":"tier","value":1,"type":"integer"}]"#)
        .output();
    let text = out.all();
    assert_eq!(out.code, Some(2), "service_id is still missing: {text}");
    assert!(text.contains("CUSTOMCD_SERVICEID") && text.contains("did you mean CUSTOMCD_SERVICE_ID?"), "{text}");
    let out = Run::new(&[
        "report",
        "--dry-run",
        "--status",
        "success",
        "--job-start-time",
        "1704018030",
        "--service-id",
        "4",
    ])
    .repo(&repo)
    .env("CUSTOMCD_FIELD", "region=eu")
    .env("CUSTOMCD_OPTIONAL_JSON", r#"[{"key":"tier","value":1,"type":"integer"}]"#)
    .expect_exit(0);
    let body: serde_json::Value = serde_json::from_str(&out.stdout).expect("the dry run prints the JSON body");
    let keys: Vec<&str> =
        body["optional"].as_array().expect("optional fields").iter().filter_map(|f| f["key"].as_str()).collect();
    assert!(keys.contains(&"region") && keys.contains(&"tier"), "{body}");
}

#[test]
fn an_unknown_flag_gets_a_suggestion() {
    let out = Run::new(&["report", "--servce-id", "4"]).expect_exit(2);
    assert!(out.all().contains("similar argument") && out.all().contains("--service-id"), "{}", out.all());
    let out = Run::new(&["reprot"]).expect_exit(2);
    assert!(out.all().contains("similar subcommand") && out.all().contains("report"), "{}", out.all());
}

#[test]
fn a_dry_run_says_where_it_would_send_and_what_is_missing() {
    let repo = Repo::new();
    let dry_run = || {
        Run::new(&["report", "--dry-run", "--service-id", "2", "--status", "success", "--job-start-time", "1704018030"])
            .repo(&repo)
    };
    let out = dry_run().expect_exit(0);
    let err = out.stderr.clone();
    assert!(err.contains("endpoint  not set"), "{err}");
    assert!(err.contains("token     not set"), "{err}");
    let out = dry_run().url("https://allstacks.example/webhook/company/9/cicd_job").output();
    let err = out.stderr.clone();
    assert!(
        err.contains("endpoint  https://allstacks.example/webhook/company/9/cicd_job  (variable CUSTOMCD_URL)"),
        "{err}"
    );
    assert!(err.contains("token     set (variable CUSTOMCD_TOKEN)"), "{err}");
    assert!(!out.all().contains(TOKEN));
}

#[test]
fn the_resend_hint_names_the_settings_that_came_from_flags() {
    let repo = Repo::new();
    let rx = Server::start(Plan::always(Step::reply(503, "down")));
    let spool = repo.dir.join("spool");
    let out = Run::report()
        .repo(&repo)
        .env("CUSTOMCD_TOKEN", TOKEN)
        .args(["--url", &rx.url(), "--deadline", "1", "--spool-dir", spool.to_str().expect("utf-8")])
        .expect_exit(0);
    let text = out.all();
    assert!(text.contains("customcd send "), "{text}");
    assert!(text.contains("the endpoint (--url or CUSTOMCD_URL)"), "{text}");
    // An endpoint built from --server, --port and --company-id came from flags just as well.
    let url = rx.url();
    let port = url.split(':').nth(2).and_then(|rest| rest.split('/').next()).expect("a port in the URL");
    let out = Run::report()
        .repo(&repo)
        .env("CUSTOMCD_TOKEN", TOKEN)
        .args(["--server", "127.0.0.1", "--port", port, "--company-id", "1", "--deadline", "1"])
        .args(["--spool-dir", spool.to_str().expect("utf-8")])
        .expect_exit(0);
    let text = out.all();
    assert!(text.contains("the endpoint (--url or CUSTOMCD_URL)"), "{text}");
    // And from the environment alone there is nothing to add.
    let out = Run::report()
        .repo(&repo)
        .env("CUSTOMCD_TOKEN", TOKEN)
        .env("CUSTOMCD_URL", &url)
        .args(["--deadline", "1", "--spool-dir", spool.to_str().expect("utf-8")])
        .expect_exit(0);
    let text = out.all();
    assert!(text.contains("customcd send "), "{text}");
    assert!(!text.contains("from flags"), "{text}");
}

#[test]
fn a_matrix_flag_gives_the_github_leg_its_own_job_id() {
    let repo = Repo::new();
    // A GitHub job whose action input names the leg "us".
    let leg = || {
        Run::report()
            .arg("--dry-run")
            .repo(&repo)
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_RUN_ID", "987")
            .env("GITHUB_RUN_ATTEMPT", "2")
            .env("GITHUB_JOB", "deploy")
            .env("GITHUB_REPOSITORY", "acme/app")
            .env("INPUT_MATRIX", r#"{"region":"us"}"#)
    };
    let out = leg().args(["--matrix", r#"{"region":"eu"}"#]).expect_exit(0);
    assert_eq!(out.json()["job_id"], "987-2-deploy-eu", "the flag outranks the input");
    // Without the flag, the step's input outranks CUSTOMCD_MATRIX, as every input the workflow
    // wrote in with: outranks the ambient variable (which an earlier step could have planted).
    let out = leg().env("CUSTOMCD_MATRIX", "canary").expect_exit(0);
    assert_eq!(out.json()["job_id"], "987-2-deploy-us");
    assert!(out.stderr.contains("variable CUSTOMCD_MATRIX is ignored"), "{out}");
    // With the input blank (not in with:), the variable is used.
    let out = leg().env("INPUT_MATRIX", "").env("CUSTOMCD_MATRIX", "canary").expect_exit(0);
    assert_eq!(out.json()["job_id"], "987-2-deploy-canary");
    assert!(out.stderr.contains("the matrix leg (variable CUSTOMCD_MATRIX)"), "{out}");
}

#[test]
fn a_setting_that_is_not_utf8_is_refused_not_sent_with_replacement_characters() {
    use std::os::unix::ffi::OsStrExt;
    let repo = Repo::new();
    let rx = Server::ok();
    let out = Run::report()
        .repo(&repo)
        .server(&rx)
        .env("CUSTOMCD_JOB_TYPE", std::ffi::OsStr::from_bytes(b"deploy \xff"))
        .expect_exit(2);
    let text = out.all();
    assert!(text.contains("job_type") && text.contains("not valid UTF-8"), "{text}");
    assert!(rx.requests().is_empty());
    // A variable that is no setting (the packaging's, say) is not customcd's to refuse.
    Run::report()
        .repo(&repo)
        .server(&rx)
        .env("CUSTOMCD_STEP_NOTE", std::ffi::OsStr::from_bytes(b"\xff"))
        .expect_exit(0);
}
