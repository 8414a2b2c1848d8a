//! Secrets on the wire and in logs, and the messages around them (issue 12): the built binary
//! against real servers on 127.0.0.1 (one that echoes the token back in every encoding, one that
//! asks for retries with `Retry-After: 0`, CONNECT proxies, a proxy that wants credentials), real
//! git repositories and clones, and a GitHub runner's environment.

use std::path::Path;
use std::process::Command as Std;
use std::time::Duration;

use crate::support::proxy::ConnectProxy;
use crate::support::server::{base64, percent, Echo};
use crate::support::*;

/// A token with every character that changes under an encoding: `/` (JSON's `\/`), `+`, `=`,
/// `&`, `~` and `"` (percent-encoding, JSON, HTML, base64).
const SPECIAL: &str = "s3cr3t/TOK+en=Zq&x~42.Ab_Cd\"Qz";

/// `customcd report` of a valid job in `dir` to `url`, with the token in `CUSTOMCD_TOKEN` and a
/// spool directory of its own, so that nothing is written outside `dir`. (Every run fails its
/// test on any message that speaks of "HTTP 0", a status that never came.)
fn report(dir: &Path, url: &str, token: &str) -> Run {
    Run::new(&["report", "--service-id", "2", "--status", "success", "--job-start-time", "1704018030"])
        .args(["--repo-name", "acme/app", "--commit-sha", "a2e7da86cc392417b0d9f605b28038aae80b002f"])
        .arg("--spool-dir")
        .arg(dir.join("spool"))
        .dir(dir)
        .env("CUSTOMCD_URL", url)
        .env("CUSTOMCD_TOKEN", token)
        // Failures are told apart by exit code here (3 refused, 4 outage); the default, under
        // which an outage exits 0, is tested in delivery.rs.
        .env("CUSTOMCD_FAIL_ON_ERROR", "true")
}

/// The forms `token` takes when a server echoes it, each of which must stay hidden.
fn forms(token: &str) -> Vec<String> {
    let json = serde_json::to_string(token).expect("a string");
    let json = json.trim_matches('"').to_owned();
    vec![
        token.to_owned(),
        json.replace('/', "\\/"),
        json,
        percent(token, true),
        percent(token, false),
        base64(token.as_bytes()).trim_end_matches('=').to_owned(),
    ]
}

/// The first 8-character piece of any form of `token` found in `text`.
fn leak(text: &str, token: &str) -> Option<String> {
    forms(token).into_iter().find_map(|form| {
        let chars: Vec<char> = form.chars().collect();
        chars.windows(8).map(|w| w.iter().collect::<String>()).find(|piece| text.contains(piece.as_str()))
    })
}

// ---------------------------------------------------------------------------------------------
// Retry-After has a floor.

#[test]
fn retry_after_0_or_a_date_in_the_past_never_makes_a_storm_of_retries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let past = "Wed, 21 Oct 2015 07:28:00 GMT";
    for (status, value) in [(503, "0"), (429, past), (503, "0.001")] {
        let reply = Reply::new(status, "busy").header("Retry-After", value);
        let server = Server::start(Plan::always(Step::Reply(reply)));
        let out = report(dir.path(), &server.url(), TOKEN).args(["--deadline", "4"]).output();
        assert_eq!(out.code, Some(4), "{status} with Retry-After {value}: {out}");
        let hits = server.requests();
        assert!(
            (2..=6).contains(&hits.len()),
            "{status} with Retry-After {value}: {} requests in 4 s, not a handful: {out}",
            hits.len()
        );
        for pair in hits.windows(2) {
            let gap = pair[1].at - pair[0].at;
            assert!(gap >= Duration::from_millis(900), "Retry-After {value}: a retry came {gap:?} after the last");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Loopback destinations never go through a proxy.

#[test]
fn a_loopback_endpoint_never_sends_its_token_through_a_proxy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::ok();
    let proxy = ConnectProxy::start();
    let urls = [server.url(), format!("http://localhost:{}/webhook/company/77/cicd_job", server.port)];
    let mut sent = 0;
    for url in &urls {
        for (name, value) in
            [("HTTP_PROXY", proxy.url(None)), ("http_proxy", proxy.url(None)), ("ALL_PROXY", proxy.url(None))]
        {
            let out = report(dir.path(), url, TOKEN).env(name, value).output();
            assert_eq!(out.code, Some(0), "{url} with {name}: {out}");
            sent += 1;
        }
        let out = report(dir.path(), url, TOKEN).arg("--proxy").arg(proxy.url(None)).output();
        assert_eq!(out.code, Some(0), "{url} with --proxy: {out}");
        sent += 1;
    }
    assert!(proxy.requests().is_empty(), "the proxy saw {:?}", proxy.requests());
    let requests = server.requests();
    assert_eq!(requests.len(), sent, "every job went straight to the server");
    assert!(requests.iter().all(|r| r.headers["authorization"] == format!("Bearer {TOKEN}")));
}

// ---------------------------------------------------------------------------------------------
// The token in server answers, in every encoding.

#[test]
fn a_token_echoed_by_the_server_in_any_encoding_is_never_printed() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Each echoes the request's bearer token as a careless server would.
    let echoes: [(&str, Echo); 7] = [
        ("raw", |r| format!(r#"{{"detail":"invalid token {}"}}"#, r.bearer())),
        ("JSON", |r| format!(r#"{{"detail":"invalid","token":{}}}"#, serde_json::to_string(r.bearer()).expect("json"))),
        ("JSON with \\/", |r| {
            format!(r#"{{"token":{}}}"#, serde_json::to_string(r.bearer()).expect("json").replace('/', "\\/"))
        }),
        ("percent-encoded, upper case", |r| format!("bad request: token={}", percent(r.bearer(), true))),
        ("percent-encoded, lower case", |r| format!("bad request: token={}", percent(r.bearer(), false))),
        ("base64", |r| format!("credentials {} refused", base64(r.bearer().as_bytes()))),
        // `{"detail":"` (11) + 272 + `Bearer ` (7): the 300-character excerpt ends 10 characters
        // into the token.
        ("cut by the excerpt", |r| format!(r#"{{"detail":"{}Bearer {}"}}"#, "x".repeat(272), r.bearer())),
    ];
    for (name, echo) in echoes {
        for status in [401, 400, 503] {
            let server = Server::start(Plan::always(Step::Echo(status, echo)));
            let out = report(dir.path(), &server.url(), SPECIAL).args(["--deadline", "2"]).output();
            let want = if status == 503 { 4 } else { 3 };
            assert_eq!(out.code, Some(want), "{name}, HTTP {status}: {out}");
            assert!(!server.requests().is_empty());
            assert!(out.all().contains("***"), "{name}, HTTP {status}: the echo is shown, hidden: {out}");
            if let Some(piece) = leak(&out.all(), SPECIAL) {
                panic!("{name}, HTTP {status}: {piece:?} of the token is printed: {out}");
            }
        }
    }
}

#[test]
fn a_platform_token_echoed_by_its_api_in_any_encoding_is_never_printed_nor_sent_elsewhere() {
    let repo = Repo::new();
    let header = |r: &Seen| r.headers.get("private-token").cloned().unwrap_or_default();
    // GitLab's API answering 200 with a page that is not JSON, quoting the token it was sent.
    let echoes: [(&str, Echo); 4] = [
        ("raw", |r| format!("<p>token {}</p>", r.headers.get("private-token").cloned().unwrap_or_default())),
        ("JSON", |r| {
            let t = r.headers.get("private-token").cloned().unwrap_or_default();
            format!(r#"{{"token":{}"#, serde_json::to_string(&t).expect("json").replace('/', "\\/"))
        }),
        ("percent-encoded", |r| {
            format!("?t={}", percent(&r.headers.get("private-token").cloned().unwrap_or_default(), true))
        }),
        ("base64", |r| format!("b {}", base64(r.headers.get("private-token").cloned().unwrap_or_default().as_bytes()))),
    ];
    for (name, echo) in echoes {
        let api = Server::start(Plan::always(Step::Echo(200, echo)));
        let webhook = Server::ok();
        let out = Run::report()
            .repo(&repo)
            .server(&webhook)
            .env("GITLAB_CI", "true")
            .env("CI_COMMIT_SHA", repo.head())
            .env("CI_PROJECT_PATH", "acme/app")
            .env("CI_PROJECT_ID", "7")
            .env("CI_ENVIRONMENT_NAME", "production")
            .env("CI_API_V4_URL", format!("{}/api/v4", api.origin()))
            .env("CI_JOB_TOKEN", "glcbt-JOBTOKEN-never-used-here")
            .env("CUSTOMCD_GITLAB_TOKEN", SPECIAL)
            .expect_exit(0);
        assert!(out.stderr.contains("not JSON") && out.stderr.contains("***"), "{name}: {out}");
        if let Some(piece) = leak(&out.all(), SPECIAL) {
            panic!("{name}: {piece:?} of the GitLab token is printed: {out}");
        }
        assert_eq!(header(&api.only_request()), SPECIAL, "the token goes to its own API");
        let sent = webhook.only_request();
        assert_eq!(sent.bearer(), TOKEN);
        assert!(leak(&format!("{:?}{}", sent.headers, sent.body), SPECIAL).is_none(), "{name}: not to the webhook");
        assert!(!format!("{:?}", api.only_request().headers).contains(TOKEN), "the webhook's token stays home");
    }
}

#[test]
fn a_token_shorter_than_8_characters_is_refused_without_being_shown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::ok();
    for token in ["abc1234", "  x7Q  "] {
        let out = report(dir.path(), &server.url(), token).expect_exit(2);
        assert!(out.all().contains("shorter than 8 characters"), "the rule is named: {out}");
        assert!(out.all().contains("CUSTOMCD_TOKEN"), "and where the token came from: {out}");
        assert!(!out.all().contains(token.trim()), "the short token is printed: {out}");
    }
    assert!(server.requests().is_empty(), "nothing was sent");
}

#[test]
fn a_token_file_that_is_the_token_itself_or_unreadable_is_reported_without_its_content() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::ok();
    let with_file = |path: &str| {
        report(dir.path(), &server.url(), TOKEN).env_remove("CUSTOMCD_TOKEN").args(["--token-file", path]).output()
    };

    // `--token-file "$TOKEN"`: the value is a token, not a path.
    for mistaken in [SPECIAL, "ghp_1a2b3c4d5e6f7g8h9i0j"] {
        let out = with_file(mistaken);
        assert_eq!(out.code, Some(2), "{out}");
        assert!(out.all().contains("token_file") && out.all().contains("not shown"), "{out}");
        assert!(leak(&out.all(), mistaken).is_none(), "the value given as a path is printed: {out}");
        let shown = Run::new(&["env", "--token-file", mistaken]).dir(dir.path()).expect_exit(0);
        assert!(shown.stdout.contains("token_file") && leak(&shown.all(), mistaken).is_none(), "{shown}");
    }

    // A real path that does not exist, and one that cannot be read, are named.
    let missing = dir.path().join("secrets").join("tokn");
    std::fs::create_dir_all(missing.parent().expect("a folder")).expect("mkdir");
    let out = with_file(missing.to_str().expect("utf-8"));
    assert_eq!(out.code, Some(2), "{out}");
    assert!(out.all().contains(&missing.display().to_string()) && out.all().contains("does not exist"), "{out}");
    let folder = dir.path().join("secrets");
    let out = with_file(folder.to_str().expect("utf-8"));
    assert_eq!(out.code, Some(2), "{out}");
    assert!(out.all().contains(&format!("cannot read {}", folder.display())), "a directory is unreadable: {out}");
    // A FIFO named as the token file is refused at once, never waited on for a writer.
    let fifo = dir.path().join("secrets").join("fifo");
    let made = Std::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    let started = std::time::Instant::now();
    let out = with_file(fifo.to_str().expect("utf-8"));
    assert_eq!(out.code, Some(2), "{out}");
    assert!(out.all().contains("a FIFO, not a regular file"), "{out}");
    assert!(started.elapsed() < Duration::from_secs(20), "the FIFO was waited on");

    // A file holding something else than a token: its content is never shown.
    let odd = dir.path().join("odd");
    std::fs::write(&odd, "short\n").expect("write");
    let out = with_file(odd.to_str().expect("utf-8"));
    assert_eq!(out.code, Some(2), "{out}");
    assert!(out.all().contains(&odd.display().to_string()) && !out.all().contains("short\n"), "{out}");
    assert!(server.requests().is_empty(), "nothing was sent");
}

// ---------------------------------------------------------------------------------------------
// Messages that say what happened.

#[test]
fn a_refused_token_is_traced_to_the_source_it_came_from() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(Plan::always(Step::reply(401, r#"{"detail":"invalid token"}"#)));
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).expect("write");

    let out = report(dir.path(), &server.url(), TOKEN).expect_exit(3);
    assert!(out.all().contains("it came from variable CUSTOMCD_TOKEN"), "{out}");

    let out = report(dir.path(), &server.url(), TOKEN)
        .env_remove("CUSTOMCD_TOKEN")
        .arg("--token-file")
        .arg(&token_file)
        .expect_exit(3);
    assert!(
        out.all().contains(&format!("it came from flag --token-file (the file {})", token_file.display())),
        "{out}"
    );

    let out =
        report(dir.path(), &server.url(), TOKEN).env_remove("CUSTOMCD_TOKEN").args(["--token", TOKEN]).expect_exit(3);
    assert!(out.all().contains("it came from flag --token"), "{out}");
    assert!(!out.all().contains(TOKEN), "{out}");

    let out = on_github(report(dir.path(), &server.url(), TOKEN), dir.path())
        .env_remove("CUSTOMCD_TOKEN")
        .env("INPUT_TOKEN", TOKEN)
        .expect_exit(3);
    assert!(out.all().contains("it came from action input token (INPUT_TOKEN)"), "{out}");
}

#[test]
fn a_server_that_is_down_is_named_once_and_the_retries_are_summarised() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/webhook/company/77/cicd_job");
    let out = report(dir.path(), &url, TOKEN).args(["--deadline", "4"]).expect_exit(4);
    let refused = format!("connection refused by 127.0.0.1:{port}");
    assert!(out.all().contains(&refused), "the host and port are named: {out}");
    let explained = out.all().matches("nothing listens there").count();
    assert!(explained <= 2, "the full story is told once (and in the final error), not {explained} times: {out}");
    let again = out.stderr.lines().filter(|l| l.contains("failed again")).count();
    assert!(again >= 1, "a repeated failure gets a short line: {out}");
    assert!(out.stderr.contains(&format!("× {refused}")), "the final error counts the failures: {out}");
}

#[test]
fn a_bulk_send_whose_records_were_refused_never_speaks_of_http_0() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(Plan::script([Step::reply(400, r#"{"detail":"unknown service"}"#)]));
    let record = r#"{"job_id":"x","commit_sha":"a2e7da86cc392417b0d9f605b28038aae80b002f","service_id":2,"job_start_time":1704018030,"job_duration":300,"status":"Succeeded","repo_id":"1"}"#;
    // Every run fails the test on any "HTTP 0".
    let out = Run::new(&["send", "-", "--checkpoint"])
        .arg(dir.path().join("checkpoint"))
        .dir(dir.path())
        .server(&server)
        .stdin(record)
        .expect_exit(3);
    assert!(out.all().contains("HTTP 400"), "the real status is told: {out}");
    assert!(out.all().contains("1 record(s) were refused"), "{out}");
}

#[test]
fn a_host_that_does_not_resolve_is_named_as_such() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = "http://customcd.test:8080/webhook/company/77/cicd_job";
    let out =
        report(dir.path(), url, TOKEN).env("CUSTOMCD_ALLOW_HTTP", "true").args(["--deadline", "2"]).expect_exit(4);
    assert!(out.all().contains("customcd.test was not found (DNS)"), "{out}");
}

#[test]
fn https_to_a_plain_http_port_suggests_http_and_is_not_retried() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server =
        Server::start(Plan::always(Step::Greet(Reply::new(400, "bad request").header("Content-Type", "text/plain"))));
    let https = format!("https://127.0.0.1:{}/webhook/company/77/cicd_job", server.port);
    let out = report(dir.path(), &https, TOKEN).args(["--deadline", "10"]).expect_exit(4);
    assert!(out.all().contains("plain HTTP"), "{out}");
    assert!(out.all().contains(&https.replacen("https", "http", 1)), "the http:// URL is suggested: {out}");
    assert!(out.all().contains("--allow-http"), "with the rule for hosts that are not loopback: {out}");
    assert!(!out.stderr.contains("retrying"), "retrying cannot change what the port speaks: {out}");
    assert!(out.took < Duration::from_secs(5), "{out}");
}

#[test]
fn a_proxy_that_wants_credentials_is_final_and_says_so() {
    // The fault server plays a proxy that answers every CONNECT with 407. The endpoint is named by
    // a name that is not loopback (loopback is never proxied); it is never reached.
    let dir = tempfile::tempdir().expect("tempdir");
    let proxy = Server::start(Plan::always(Step::status(407)));
    let url = "http://customcd.test:8080/webhook/company/77/cicd_job";
    let out = report(dir.path(), url, TOKEN)
        .env("CUSTOMCD_ALLOW_HTTP", "true")
        .env("HTTP_PROXY", format!("http://127.0.0.1:{}", proxy.port))
        .args(["--deadline", "10"])
        .expect_exit(4);
    assert_eq!(proxy.requests().len(), 1, "a 407 is not retried: {out}");
    assert!(proxy.requests()[0].method == "CONNECT", "{:?}", proxy.requests());
    assert!(out.all().contains("407") && out.all().contains("USER:PASSWORD"), "{out}");
    assert!(!out.stderr.contains("retrying"), "{out}");
}

// ---------------------------------------------------------------------------------------------
// Workflow commands cannot be injected on GitHub.

/// What a GitHub runner gives a Docker action, minus the inputs.
fn on_github(run: Run, files: &Path) -> Run {
    std::fs::write(files.join("event.json"), r#"{"ref":"refs/heads/main"}"#).expect("event file");
    run.env("GITHUB_ACTIONS", "true")
        .env("CI", "true")
        .env("GITHUB_REPOSITORY", "acme/app")
        .env("GITHUB_SHA", "1111111111111111111111111111111111111111")
        .env("GITHUB_RUN_ID", "987")
        .env("GITHUB_RUN_ATTEMPT", "1")
        .env("GITHUB_JOB", "deploy")
        .env("GITHUB_EVENT_NAME", "push")
        .env("GITHUB_EVENT_PATH", files.join("event.json"))
        .env("GITHUB_OUTPUT", files.join("output"))
        .env("GITHUB_ENV", files.join("env"))
        .env("GITHUB_STATE", files.join("state"))
        .env("GITHUB_STEP_SUMMARY", files.join("summary"))
        .env("RUNNER_TEMP", files)
}

#[test]
fn outside_values_printed_on_github_never_form_a_workflow_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ok = Server::ok();
    let refusing = Server::start(Plan::script([Step::reply(400, "rejected: ##[error]legacy\r::warning::pwned2")]));
    // A newline in an identifier is refused before anything is printed from it or sent; a value
    // that only looks like a command is sent as given and printed defused.
    let forged = "x\n::error::pwned\r::notice::pwned3";
    let job_id = "::error::pwned";
    let mut runs = Vec::new();
    for (server, id, code) in [(&ok, forged, 2), (&refusing, job_id, 3)] {
        let out = on_github(report(dir.path(), &server.url(), TOKEN).args(["--job-id", id]), dir.path()).output();
        assert_eq!(out.code, Some(code), "{out}");
        runs.push(out);
    }
    assert!(ok.requests().is_empty(), "a job id with a newline is never sent");
    let dry = report(dir.path(), &ok.url(), TOKEN).args([
        "--job-id",
        job_id,
        "--job-type",
        "##[error]in the body",
        "--dry-run",
    ]);
    let out = on_github(dry, dir.path()).expect_exit(0);
    let body = out.stdout.lines().filter(|l| !l.starts_with("::")).collect::<Vec<_>>().join("\n");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(body["job_id"], job_id, "the dry run's body is the same JSON: {out}");
    assert_eq!(body["job_type"], "##[error]in the body");
    runs.push(out);

    for out in &runs {
        for line in out.lines() {
            let start = line.trim_start();
            assert!(
                !start.starts_with("::error::pwned")
                    && !start.starts_with("::notice::pwned3")
                    && !start.starts_with("::warning::pwned2"),
                "a live workflow command: {line:?} in {out}"
            );
            // customcd's own annotations are read as `::` commands, which the runner tries
            // first: a `##[` in their (escaped) message is data. Any other line holding one would
            // be a command in the legacy form.
            let annotation =
                ["::error title=customcd::", "::warning title=customcd::"].iter().any(|a| line.starts_with(a));
            assert!(annotation || !line.contains("##["), "a legacy workflow command: {line:?} in {out}");
        }
    }
    assert!(runs[0].all().contains("U+000A"), "the refusal says why: {}", runs[0]);
    assert!(
        runs[1].stderr.lines().any(|l| l.starts_with("::error title=customcd::")),
        "customcd's own annotations still work: {}",
        runs[1]
    );
}

// ---------------------------------------------------------------------------------------------
// Remote URLs: credentials in unusual forms, and local paths.

#[test]
fn credentials_in_unusual_remote_forms_are_neither_printed_nor_sent() {
    let server = Server::ok();
    for origin in [
        "user:tok-remote-5150@github.com:acme/app.git",
        "https://github.com/acme/app.git?access_token=tok-remote-5150",
        "https://github.com/acme/app.git#tok-remote-5150",
        "ssh://user:tok-remote-5150@github.com:22/acme/app",
        "https://u%3Atok-remote-5150@github.com/acme/app.git",
        "https://user:tok@remote-5150@github.com/acme/app.git",
    ] {
        let repo = Repo::init(&[], Some(origin));
        let out = Run::new(&["report", "--service-id", "2", "--status", "success", "--job-start-time", "1704018030"])
            .repo(&repo)
            .server(&server)
            .output();
        assert_eq!(out.code, Some(0), "{origin}: {out}");
        let sent = server.requests().pop().expect("a request");
        assert_eq!(sent.json()["repo_name"], "acme/app", "{origin}");
        assert!(!sent.body.contains("remote-5150"), "{origin}: {}", sent.body);
        let shown = Run::new(&["env"]).repo(&repo).output();
        assert!(!out.all().contains("remote-5150") && !shown.all().contains("remote-5150"), "{origin}: {shown}");
    }
}

#[test]
fn a_clone_of_a_local_path_gives_no_repository_name() {
    let source = Repo::init(&[], None);
    for how in ["path", "file URL"] {
        let tmp = tempfile::tempdir().expect("tempdir");
        let from = match how {
            "path" => source.dir.display().to_string(),
            _ => format!("file://{}", source.dir.display()),
        };
        git(tmp.path(), &["clone", "-q", &from, "clone"]);
        let clone = tmp.path().join("clone");
        let dry_run = || {
            Run::new(&[
                "report",
                "--dry-run",
                "--service-id",
                "1",
                "--status",
                "success",
                "--job-start-time",
                "1704018030",
            ])
            .dir(&clone)
        };
        let out = dry_run().output();
        assert_eq!(out.code, Some(2), "{how}: a local origin names no repository: {out}");
        assert!(out.stderr.contains("--repo-name"), "{how}: the fix is named: {out}");
        assert!(!out.stdout.contains("repo_name"), "{how}: no body is printed: {out}");

        let out = dry_run()
            .args(["--repo-name", "acme/app", "--commit-sha", "a2e7da86cc392417b0d9f605b28038aae80b002f"])
            .output();
        assert_eq!(out.code, Some(0), "{how}: with --repo-name it is fine: {out}");
    }
}
