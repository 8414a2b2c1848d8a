//! Delivery you can trust, end to end: the built binary against a fault-injecting server on
//! 127.0.0.1 (retries, Retry-After, resets, slow answers, refusals, redirects, huge answers), the
//! spool and `customcd send`, a private CA made at test time, a CONNECT proxy on loopback, and one
//! sweep over everything printed for secrets.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::proxy::ConnectProxy;
use crate::support::tls::private_ca;
use crate::support::*;

/// The job every test reports; its `job_id` is fixed so that retries can be compared.
const JOB_ID: &str = "deploy-42";
/// `user:proxypass123` in base64, as it travels in `Proxy-Authorization`.
const PROXY_BASIC: &str = "dXNlcjpwcm94eXBhc3MxMjM=";

/// `customcd report` of a valid job in `repo` to `url`, with the token in `CUSTOMCD_TOKEN`. No
/// spool directory is set: tests that may spool add one.
fn report_to(repo: &Repo, url: &str) -> Run {
    // These tests tell failures apart by exit code (3 refused, 4 outage), which only outages that
    // fail show; the default (an outage warns, exit 0) has its own tests (delivery::by_default_*).
    Run::report().repo(repo).url(url).args(["--job-id", JOB_ID]).env("CUSTOMCD_FAIL_ON_ERROR", "true")
}

/// `customcd send` in `repo` to `url`, with the token in `CUSTOMCD_TOKEN`.
fn send_to(repo: &Repo, url: &str) -> Run {
    Run::send().repo(repo).url(url).env("CUSTOMCD_FAIL_ON_ERROR", "true")
}

/// Every entry of a spool directory (temporary files too), sorted; none when it does not exist.
fn spool_entries(dir: &Path) -> Vec<PathBuf> {
    // The acknowledgement ledger lives in the spool; every other entry is a kept job or a leftover.
    let mut found: Vec<PathBuf> = match std::fs::read_dir(dir) {
        // Each kept job's note of its endpoint (`.NAME.endpoint`) goes with it.
        Ok(rd) => rd
            .filter_map(Result::ok)
            .filter(|e| e.file_name() != LEDGER && !e.file_name().to_string_lossy().ends_with(".endpoint"))
            .map(|e| e.path())
            .collect(),
        Err(_) => Vec::new(),
    };
    found.sort();
    found
}

/// The one payload file a spool directory should hold, and its text.
fn only_spool_file(dir: &Path) -> (PathBuf, String) {
    let found = spool_entries(dir);
    assert_eq!(found.len(), 1, "expected exactly one file in the spool {}, found {found:?}", dir.display());
    let path = found.into_iter().next().expect("one file");
    assert!(path.extension().is_some_and(|e| e == "json"), "a spool file is *.json: {}", path.display());
    let text = std::fs::read_to_string(&path).expect("read the spool file");
    (path, text)
}

fn retry_lines(run: &Ran) -> Vec<&str> {
    run.stderr.lines().filter(|l| l.contains("retrying")).collect()
}

// ---------------------------------------------------------------------------------------------
// The fault server itself.

/// One raw exchange with a server on 127.0.0.1: the request (with `body`) as bytes, and everything
/// read back until the server closes, with how long that took.
fn exchange(port: u16, body: &str) -> (String, Duration) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    let started = Instant::now();
    write!(
        s,
        "POST /p?q=1 HTTP/1.1\r\nHost: x\r\nX-Test: yes\r\nAuthorization: Bearer t0k\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    (String::from_utf8_lossy(&answer).into_owned(), started.elapsed())
}

#[test]
fn the_fault_server_follows_its_plan_and_records_every_request() {
    let server = Server::start(
        Plan::script([
            Step::Reply(Reply::new(503, "busy").header("Retry-After", "7")),
            Step::Close,
            Step::Late(Duration::from_millis(300), Reply::new(201, "late")),
            Step::Huge(200, 1_000_000),
            Step::retry_after(429, "2"),
            Step::redirect(307, "http://elsewhere.test/x"),
            Step::Drip(Duration::from_millis(2), Reply::new(200, "drip")),
            Step::CutShort(Reply::new(200, "0123456789")),
            Step::Echo(400, |r| format!("you sent {} with {}", r.body, r.bearer())),
        ])
        .then(Step::status(202)),
    );
    let (a, _) = exchange(server.port, "one");
    assert!(a.starts_with("HTTP/1.1 503"), "{a}");
    assert!(a.contains("Retry-After: 7\r\n") && a.ends_with("busy"), "{a}");
    let (b, _) = exchange(server.port, "two");
    assert_eq!(b, "", "closed without an answer");
    let (c, took) = exchange(server.port, "three");
    assert!(c.starts_with("HTTP/1.1 201") && c.ends_with("late"), "{c}");
    assert!(took >= Duration::from_millis(300), "the late step waited: {took:?}");
    let (d, _) = exchange(server.port, "four");
    assert!(
        d.starts_with("HTTP/1.1 200") && d.contains("Content-Length: 1000000\r\n"),
        "{}",
        d.get(..200).unwrap_or(&d)
    );
    assert_eq!(d.split("\r\n\r\n").nth(1).map(str::len), Some(1_000_000));
    let (e, _) = exchange(server.port, "five");
    assert!(e.starts_with("HTTP/1.1 429") && e.contains("Retry-After: 2\r\n"), "{e}");
    let (f, _) = exchange(server.port, "six");
    assert!(f.starts_with("HTTP/1.1 307") && f.contains("Location: http://elsewhere.test/x\r\n"), "{f}");
    let (g, took) = exchange(server.port, "seven");
    assert!(g.starts_with("HTTP/1.1 200") && g.ends_with("\r\n\r\ndrip"), "{g}");
    assert!(took >= Duration::from_millis(2 * g.len() as u64), "one byte at a time: {took:?}");
    let (h, _) = exchange(server.port, "eight");
    assert!(h.contains("Content-Length: 10\r\n") && h.ends_with("\r\n\r\n01234"), "half the body, then closed: {h}");
    let (i, _) = exchange(server.port, "nine");
    assert!(i.starts_with("HTTP/1.1 400") && i.ends_with("you sent nine with t0k"), "{i}");
    let (j, _) = exchange(server.port, "ten");
    assert!(j.starts_with("HTTP/1.1 202"), "after the script, its `then`: {j}");

    let seen = server.requests();
    let bodies: Vec<&str> = seen.iter().map(|r| r.body.as_str()).collect();
    assert_eq!(bodies, ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]);
    assert!(seen.windows(2).all(|w| w[0].at <= w[1].at));
    assert_eq!((seen[0].method.as_str(), seen[0].path.as_str()), ("POST", "/p?q=1"));
    assert_eq!(seen[0].headers["x-test"], "yes");
    assert_eq!(server.broken_connections(), 0);
}

#[test]
fn a_greeting_step_answers_before_the_request_and_records_nothing() {
    use std::io::Read;
    let server = Server::start(Plan::always(Step::Greet(Reply::new(400, "bad request"))));
    let mut s = std::net::TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 400") && answer.ends_with("bad request"), "{answer}");
    assert!(server.requests().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Retries, Retry-After, resets, the deadline.

#[test]
fn two_503s_then_200_is_a_success_after_three_identical_requests_and_two_retry_lines() {
    let repo = Repo::new();
    let spool = tempfile::tempdir().expect("tempdir");
    let server = Server::start(Plan::script([Step::status(503), Step::status(503), Step::status(200)]));
    let out =
        report_to(&repo, &server.url()).args(["--deadline", "20"]).arg("--spool-dir").arg(spool.path()).expect_exit(0);
    let reqs = server.requests();
    assert_eq!(reqs.len(), 3, "{out}");
    for r in &reqs {
        assert_eq!(r.body, reqs[0].body, "every attempt sends the same body");
        assert_eq!(r.headers["authorization"], format!("Bearer {TOKEN}"));
    }
    assert_eq!(reqs[0].json()["job_id"], JOB_ID);
    let retries = retry_lines(&out);
    assert_eq!(retries.len(), 2, "one line per retry: {out}");
    assert!(retries.iter().all(|l| l.contains("503")), "each retry line says why: {retries:?}");
    assert!(out.stdout.contains(&format!("sent job {JOB_ID}")), "{out}");
    assert!(spool_entries(spool.path()).is_empty(), "a delivered job is not spooled");
}

#[test]
fn a_429_with_retry_after_1_is_retried_no_sooner_than_a_second_later() {
    let repo = Repo::new();
    let spool = tempfile::tempdir().expect("tempdir");
    let server = Server::start(Plan::script([
        Step::Reply(Reply::new(429, r#"{"detail":"slow down"}"#).header("Retry-After", "1")),
        Step::status(200),
    ]));
    let out =
        report_to(&repo, &server.url()).args(["--deadline", "20"]).arg("--spool-dir").arg(spool.path()).expect_exit(0);
    let hits = server.requests();
    assert_eq!(hits.len(), 2, "{out}");
    let gap = hits[1].at - hits[0].at;
    assert!(gap >= Duration::from_millis(950), "the server saw the retry {gap:?} after the 429");
    assert!(gap < Duration::from_secs(5), "Retry-After: 1 is not a long wait: {gap:?}");
    assert_eq!(hits[0].body, hits[1].body);
    assert_eq!(retry_lines(&out).len(), 1, "{out}");
}

#[test]
fn a_retry_after_beyond_the_deadline_gives_up_at_once_and_spools() {
    let repo = Repo::new();
    let spool = tempfile::tempdir().expect("tempdir");
    let server = Server::start(Plan::script([Step::Reply(Reply::new(429, "later").header("Retry-After", "3600"))]));
    let out =
        report_to(&repo, &server.url()).args(["--deadline", "2"]).arg("--spool-dir").arg(spool.path()).expect_exit(4);
    assert_eq!(server.requests().len(), 1, "{out}");
    assert!(out.took < Duration::from_secs(2), "no point waiting for a retry that cannot happen: {out}");
    let (_, text) = only_spool_file(spool.path());
    assert_eq!(text, server.requests()[0].body);
}

#[test]
fn a_408_request_timeout_is_retried_like_a_5xx_and_other_4xx_are_final() {
    let repo = Repo::new();
    let spool = tempfile::tempdir().expect("tempdir");
    let server = Server::start(Plan::script([Step::status(408), Step::status(200)]));
    let out = report_to(&repo, &server.url()).args(["--deadline", "20"]).arg("--spool-dir").arg(spool.path()).output();
    assert_eq!(out.code, Some(0), "408 is retried: {out}");
    assert_eq!(server.requests().len(), 2, "{out}");
    let server = Server::start(Plan::script([Step::status(409), Step::status(200)]));
    let out = report_to(&repo, &server.url()).args(["--deadline", "20"]).arg("--spool-dir").arg(spool.path()).output();
    assert_eq!(out.code, Some(3), "409 is final: {out}");
    assert_eq!(server.requests().len(), 1, "{out}");
}

#[test]
fn a_connection_closed_without_an_answer_is_retried_and_the_job_succeeds() {
    let repo = Repo::new();
    let spool = tempfile::tempdir().expect("tempdir");
    let server = Server::start(Plan::script([Step::Close, Step::status(200)]));
    let out =
        report_to(&repo, &server.url()).args(["--deadline", "20"]).arg("--spool-dir").arg(spool.path()).expect_exit(0);
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2, "{out}");
    assert_eq!(reqs[0].body, reqs[1].body);
    assert_eq!(retry_lines(&out).len(), 1, "{out}");
    assert!(spool_entries(spool.path()).is_empty());
}

#[test]
fn a_server_slower_than_the_deadline_fails_with_exit_4_and_the_payload_is_spooled() {
    let repo = Repo::new();
    let spool = tempfile::tempdir().expect("tempdir");
    let server = Server::start(Plan::script([Step::Late(Duration::from_secs(5), Reply::new(200, "too late"))]));
    let out =
        report_to(&repo, &server.url()).args(["--deadline", "2"]).arg("--spool-dir").arg(spool.path()).expect_exit(4);
    assert!(out.took < Duration::from_millis(4500), "the deadline of 2 s was kept: {out}");
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1, "{out}");
    let (path, text) = only_spool_file(spool.path());
    assert_eq!(text, reqs[0].body, "the spool holds exactly what was sent");
    let printed = out.all();
    assert!(printed.contains(&path.display().to_string()), "the message names the file: {out}");
    assert!(printed.contains(&format!("customcd send {}", path.display())), "and how to resend it: {out}");
    assert!(printed.contains("deadline"), "and that the deadline ended it: {out}");
    assert!(!text.contains(TOKEN));

    // The dry run of the same job is the same body.
    let dry = report_to(&repo, &server.url()).arg("--dry-run").expect_exit(0);
    assert_eq!(dry.stdout.trim_end(), text);
}

#[test]
fn a_server_that_answers_one_byte_at_a_time_is_cut_off_by_the_deadline() {
    // Unlike a silent server, this one is never idle long enough for a read timeout to fire.
    let repo = Repo::new();
    let spool = tempfile::tempdir().expect("tempdir");
    let server = Server::start(Plan::always(Step::Drip(Duration::from_millis(200), Reply::new(200, OK_BODY))));
    let out = report_to(&repo, &server.url()).args(["--deadline", "2"]).arg("--spool-dir").arg(spool.path()).output();
    assert_eq!(out.code, Some(4), "{out}");
    assert!(out.took < Duration::from_millis(4500), "the deadline of 2 s was kept: {out}");
    let (_, text) = only_spool_file(spool.path());
    assert_eq!(text, server.requests()[0].body, "the spool holds exactly what was sent");
}

#[test]
fn a_200_whose_answer_is_cut_short_is_delivered_and_not_sent_again() {
    // The status is the server's verdict; a body lost on the way only loses its message.
    let repo = Repo::new();
    let spool = tempfile::tempdir().expect("tempdir");
    let server = Server::start(Plan::always(Step::CutShort(Reply::new(200, &format!("{OK_BODY:<200}")))));
    let out =
        report_to(&repo, &server.url()).args(["--deadline", "20"]).arg("--spool-dir").arg(spool.path()).expect_exit(0);
    assert_eq!(server.requests().len(), 1, "{out}");
    assert!(retry_lines(&out).is_empty(), "{out}");
    assert!(out.stdout.contains(&format!("sent job {JOB_ID}")), "{out}");
    assert!(spool_entries(spool.path()).is_empty(), "a delivered job is not spooled");
}

// ---------------------------------------------------------------------------------------------
// Refusals and redirects are final.

#[test]
fn a_401_or_403_is_not_retried_exits_3_and_says_the_token_was_refused_without_showing_it() {
    for status in [401, 403] {
        let repo = Repo::new();
        let spool = tempfile::tempdir().expect("tempdir");
        // A careless server that echoes the header it refused.
        let echo = format!(r#"{{"detail":"invalid credentials: Bearer {TOKEN}"}}"#);
        let server = Server::start(Plan::script([Step::reply(status, &echo), Step::status(200), Step::status(200)]));
        let out =
            report_to(&repo, &server.url()).args(["--deadline", "20"]).arg("--spool-dir").arg(spool.path()).output();
        assert_eq!(out.code, Some(3), "HTTP {status}: {out}");
        assert_eq!(server.requests().len(), 1, "HTTP {status} is not retried: {out}");
        assert!(retry_lines(&out).is_empty(), "{out}");
        let printed = out.all();
        assert!(printed.contains(&format!("HTTP {status}")), "{out}");
        assert!(printed.contains("token was refused"), "HTTP {status}: {out}");
        assert!(printed.contains("CUSTOMCD_TOKEN"), "names where the token comes from: {out}");
        assert!(!printed.contains(TOKEN), "HTTP {status}: the token is printed: {out}");
    }
}

#[test]
fn a_307_redirect_is_not_followed_exits_3_and_names_the_location() {
    let repo = Repo::new();
    let spool = tempfile::tempdir().expect("tempdir");
    let elsewhere = Server::ok();
    let location = format!("http://127.0.0.1:{}/moved/cicd_job", elsewhere.port);
    let server = Server::start(Plan::script([Step::redirect(307, &location)]));
    let out =
        report_to(&repo, &server.url()).args(["--deadline", "20"]).arg("--spool-dir").arg(spool.path()).expect_exit(3);
    assert_eq!(server.requests().len(), 1, "{out}");
    assert!(elsewhere.requests().is_empty(), "the token must not travel to the Location: {out}");
    let printed = out.all();
    assert!(printed.contains(&location), "the Location is named: {out}");
    assert!(printed.contains("HTTP 307") && printed.contains("redirect"), "{out}");
}

#[test]
fn a_huge_answer_is_read_only_in_part_and_the_output_stays_short() {
    let repo = Repo::new();
    let spool = tempfile::tempdir().expect("tempdir");
    let server = Server::start(Plan::script([Step::Huge(400, 20_000_000)]));
    let out = report_to(&repo, &server.url()).args(["--deadline", "20"]).arg("--spool-dir").arg(spool.path()).output();
    assert_eq!(out.code, Some(3), "a 400 is a refusal, not retried: {}", out.all().get(..2000).unwrap_or(&out.all()));
    assert_eq!(server.requests().len(), 1);
    assert!(out.took < Duration::from_secs(10), "20 MB are not read: {:?}", out.took);
    assert!(out.all().len() < 4000, "the answer is shown as an excerpt, not whole ({} bytes printed)", out.all().len());
    assert!(out.all().contains("xxxxxxxx"), "an excerpt is shown: {}", out.all());
}

// ---------------------------------------------------------------------------------------------
// The spool and `customcd send`.

#[test]
fn server_down_spools_then_send_delivers_exactly_once_and_empties_the_spool() {
    let repo = Repo::new();
    let spool = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/webhook/company/77/cicd_job");

    let down = report_to(&repo, &url).args(["--deadline", "1"]).arg("--spool-dir").arg(spool.path()).expect_exit(4);
    let (path, text) = only_spool_file(spool.path());
    let printed = down.all();
    assert!(printed.contains("delivery failed"), "a server that is down is a delivery failure: {down}");
    assert!(printed.contains(&path.display().to_string()), "the message names the file: {down}");
    assert!(printed.contains(&format!("customcd send {}", path.display())), "and the command to resend it: {down}");
    let payload: serde_json::Value = serde_json::from_str(&text).expect("the spool file is JSON");
    assert_eq!(payload["job_id"], JOB_ID);
    assert_eq!(payload["commit_sha"], repo.head());
    assert!(!text.contains(TOKEN));

    let server = Server::start_on(port, Plan::ok());
    let sent = send_to(&repo, &url).arg(spool.path()).expect_exit(0);
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1, "delivered exactly once: {sent}");
    assert_eq!(reqs[0].body, text, "the identical body");
    assert_eq!(reqs[0].headers["authorization"], format!("Bearer {TOKEN}"));
    assert_eq!(spool_entries(spool.path()), Vec::<PathBuf>::new(), "the spool is empty: {sent}");
    assert!(sent.stdout.contains(&format!("sent job {JOB_ID}")), "{sent}");

    let again = send_to(&repo, &url).arg(spool.path()).expect_exit(0);
    assert_eq!(server.requests().len(), 1, "nothing more was sent: {again}");
}

#[test]
fn send_refuses_invalid_payload_files_keeps_them_and_reads_stdin() {
    let repo = Repo::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::ok();
    let url = server.url();
    let good = format!(
        r#"{{"job_id":"{JOB_ID}","commit_sha":"a2e7da86cc392417b0d9f605b28038aae80b002f","service_id":2,"job_start_time":1704018030,"job_duration":300,"status":"Succeeded","repo_id":"12345"}}"#
    );

    let quoted = dir.path().join("quoted.json");
    let quoted_text = good.replace(r#""service_id":2"#, r#""service_id":"2""#);
    std::fs::write(&quoted, &quoted_text).expect("write");
    let out = send_to(&repo, &url).arg(&quoted).expect_exit(2);
    let printed = out.all();
    assert!(printed.contains(&quoted.display().to_string()), "names the file: {out}");
    assert!(printed.contains("service_id") && printed.contains("JSON integer"), "names the problem: {out}");
    assert_eq!(std::fs::read_to_string(&quoted).expect("kept"), quoted_text, "the file is kept as it was");

    // The vendor's sample, written with single quotes.
    let vendor = dir.path().join("vendor-sample.json");
    let vendor_text = "{\n'job_id': '1',\n'status': 'Succeeded',\n'commit_sha': 'a2e7da86cc392417b0d9f605b28038aae80b002f',\n'triggered_by': 'testuser@org.com',\n'repo_id': '12345',\n}\n";
    std::fs::write(&vendor, vendor_text).expect("write");
    let out = send_to(&repo, &url).arg(&vendor).expect_exit(2);
    let printed = out.all();
    assert!(printed.contains(&vendor.display().to_string()), "names the file: {out}");
    assert!(printed.contains("line 2"), "says where: {out}");
    assert!(printed.contains("double quotes"), "and what to do: {out}");
    assert_eq!(std::fs::read_to_string(&vendor).expect("kept"), vendor_text);

    assert!(server.requests().is_empty(), "nothing invalid was sent");

    let out = send_to(&repo, &url).arg("-").stdin(good.clone()).expect_exit(0);
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1, "{out}");
    assert_eq!(reqs[0].body, good, "standard input is sent as it is");
}

#[test]
fn spool_always_keeps_a_copy_of_a_delivered_job() {
    let repo = Repo::new();
    let spool = tempfile::tempdir().expect("tempdir");
    let server = Server::ok();
    let out = report_to(&repo, &server.url()).arg("--spool-always").arg("--spool-dir").arg(spool.path()).expect_exit(0);
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    let (path, text) = only_spool_file(spool.path());
    assert_eq!(text, reqs[0].body);
    assert!(out.all().contains(&path.display().to_string()), "the copy is named: {out}");
}

#[test]
fn by_default_a_dead_endpoint_exits_0_with_a_warning_and_the_job_kept_for_send() {
    let repo = Repo::new();
    let spool = tempfile::tempdir().expect("tempdir");
    let dead = format!("http://127.0.0.1:{}/webhook/company/1/cicd_job", free_port());
    // Default settings: no fail_on_error anywhere.
    let out = Run::report()
        .repo(&repo)
        .url(&dead)
        .args(["--job-id", JOB_ID, "--deadline", "1"])
        .arg("--spool-dir")
        .arg(spool.path())
        .expect_exit(0);
    let said = out.all();
    assert!(said.contains("warning: NOT DELIVERED: delivery failed"), "{said}");
    assert!(said.contains("fail_on_error is refusal (the default)"), "{said}");
    let (path, text) = only_spool_file(spool.path());
    assert!(said.contains(&format!("resend it with: customcd send {}", path.display())), "{said}");
    assert!(text.contains(JOB_ID), "{text}");
    // The resend command the warning gives delivers the kept job.
    let rx = Server::ok();
    // `rx` plays the same endpoint come back (on another port: --any-endpoint says it is ours).
    Run::send().repo(&repo).server(&rx).arg(&path).arg("--any-endpoint").expect_exit(0);
    assert_eq!(rx.requests().len(), 1);
    assert_eq!(rx.requests()[0].body, text);
    assert!(spool_entries(spool.path()).is_empty(), "sent, so removed");
}

#[test]
fn by_default_a_refused_token_fails_the_step_and_keeps_the_job() {
    let repo = Repo::new();
    let spool = tempfile::tempdir().expect("tempdir");
    for status in [401, 403, 400] {
        let rx = Server::start(Plan::always(Step::reply(status, "{\"error\":\"no\"}")));
        let out = Run::report().repo(&repo).server(&rx).arg("--spool-dir").arg(spool.path()).expect_exit(3);
        assert!(out.all().contains(&format!("HTTP {status}")), "{out}");
        assert_eq!(rx.requests().len(), 1, "a refusal is final");
    }
    assert_eq!(spool_entries(spool.path()).len(), 3, "each refused job is kept");
}

#[test]
fn by_default_send_warns_on_an_outage_for_files_but_fails_for_standard_input_which_keeps_nothing() {
    let repo = Repo::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let rx = Server::ok();
    let body = Run::report().repo(&repo).args(["--job-id", JOB_ID, "--dry-run"]).expect_exit(0).stdout;
    let file = dir.path().join("job.json");
    std::fs::write(&file, &body).expect("write");
    let dead = format!("http://127.0.0.1:{}/webhook/company/1/cicd_job", free_port());
    let out = Run::send().repo(&repo).url(&dead).env("CUSTOMCD_DEADLINE", "1").arg(&file).expect_exit(0);
    assert!(out.all().contains("NOT DELIVERED"), "{out}");
    assert!(file.exists(), "the file is kept");
    let out =
        Run::send().repo(&repo).url(&dead).env("CUSTOMCD_DEADLINE", "1").arg("-").stdin(body.clone()).expect_exit(4);
    assert!(!out.all().contains("NOT DELIVERED"), "{out}");
    // A refusal decides a run that also had an outage: it must not pass.
    let second = dir.path().join("second.json");
    std::fs::write(&second, body.replace(JOB_ID, "second-job")).expect("write");
    let mixed = Server::start(Plan::script([Step::reply(401, "no")]).then(Step::status(503)));
    let out = Run::send()
        .repo(&repo)
        .server(&mixed)
        .args(["--concurrency", "1", "--deadline", "1"])
        .arg(&file)
        .arg(&second)
        .expect_exit(3);
    assert!(out.all().contains("1 record(s) were refused by the server, and 1 could not be delivered"), "{out}");
    assert!(file.exists() && second.exists(), "both are kept");
    assert!(rx.requests().is_empty());
}

#[test]
fn fail_on_error_false_turns_a_delivery_failure_into_a_warning_but_still_spools() {
    let repo = Repo::new();
    let spool = tempfile::tempdir().expect("tempdir");
    let server = Server::start(Plan::always(Step::status(503)));
    let out = report_to(&repo, &server.url())
        .args(["--deadline", "1", "--fail-on-error=false"])
        .arg("--spool-dir")
        .arg(spool.path())
        .expect_exit(0);
    assert!(out.stderr.contains("warning:") && out.stderr.contains("fail_on_error"), "{out}");
    let (_, text) = only_spool_file(spool.path());
    assert_eq!(text, server.requests()[0].body);

    let out = report_to(&repo, &server.url()).args(["--fail-on-error=false", "--service-id", "two"]).output();
    assert_eq!(out.code, Some(2), "invalid input always fails: {out}");
}

// ---------------------------------------------------------------------------------------------
// TLS with a private CA.

#[test]
fn a_private_ca_is_trusted_with_ca_file_or_ssl_cert_file_and_not_without() {
    let repo = Repo::new();
    let pki = tempfile::tempdir().expect("tempdir");
    let spool = tempfile::tempdir().expect("tempdir");
    let ca = private_ca(pki.path());
    let server = Server::tls(Plan::ok(), ca.server.clone());
    let url = server.url();

    let out = report_to(&repo, &url).args(["--deadline", "2"]).arg("--spool-dir").arg(spool.path()).expect_exit(4);
    let printed = out.all();
    assert!(printed.contains("certificate"), "the message says it is the certificate: {out}");
    assert!(printed.contains("--ca-file"), "and how to trust a private CA: {out}");
    assert!(server.requests().is_empty(), "no request reached the handler");
    server.wait_for_broken_connections(1);
    assert!(server.broken_connections() >= 1, "the client did reach the server and stopped at the handshake");

    report_to(&repo, &url).arg("--ca-file").arg(&ca.ca_file).expect_exit(0);
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].json()["job_id"], JOB_ID);
    assert_eq!(reqs[0].headers["authorization"], format!("Bearer {TOKEN}"));

    let out = report_to(&repo, &url).env("SSL_CERT_FILE", &ca.ca_file).output();
    assert_eq!(out.code, Some(0), "SSL_CERT_FILE: {out}");
    let out = report_to(&repo, &url).env("CUSTOMCD_CA_FILE", &ca.ca_file).output();
    assert_eq!(out.code, Some(0), "CUSTOMCD_CA_FILE: {out}");
    assert_eq!(server.requests().len(), 3);
}

#[test]
fn a_certificate_failure_is_not_retried() {
    let repo = Repo::new();
    let pki = tempfile::tempdir().expect("tempdir");
    let spool = tempfile::tempdir().expect("tempdir");
    let ca = private_ca(pki.path());
    let server = Server::tls(Plan::ok(), ca.server.clone());
    let out =
        report_to(&repo, &server.url()).args(["--deadline", "5"]).arg("--spool-dir").arg(spool.path()).expect_exit(4);
    assert!(retry_lines(&out).is_empty(), "an untrusted certificate will not pass by retrying: {out}");
    assert!(out.all().contains("trusting bundled Mozilla roots"), "the message names the roots trusted: {out}");
    server.wait_for_broken_connections(1);
    // Any second handshake would be noted as late as the first.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(server.broken_connections(), 1, "one handshake: {out}");
    assert!(out.took < Duration::from_secs(2), "no waiting for the deadline: {out}");
}

#[test]
fn no_flag_switches_certificate_verification_off() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for sub in ["report", "send"] {
        let out = Run::new(&[sub, "--help"]).dir(tmp.path()).expect_exit(0);
        let help = out.stdout.to_ascii_lowercase();
        assert!(help.contains("--ca-file"), "{sub} --help: {help}");
        for word in ["insecure", "no-verify", "skip-verify", "accept-invalid", "danger", "verify=false"] {
            assert!(!help.contains(word), "`customcd {sub} --help` mentions {word:?}:\n{help}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Proxies.

#[test]
fn a_connect_proxy_is_used_from_http_proxy_skipped_for_no_proxy_and_overridden_by_the_flag() {
    // Loopback destinations are never proxied, so the server is named by a name only the proxy
    // knows (and sends to 127.0.0.1); plain http to a name that is not loopback needs allow_http.
    const NAME: &str = "customcd.test";
    let repo = Repo::new();
    let spool = tempfile::tempdir().expect("tempdir");
    let rx = Server::ok();
    let proxy = ConnectProxy::start_with_alias(Some(NAME));
    let other = ConnectProxy::start_with_alias(Some(NAME));
    let url = format!("http://{NAME}:{}/webhook/company/77/cicd_job", rx.port);
    let through = |run: Run| -> Ran { run.env("CUSTOMCD_ALLOW_HTTP", "true").output() };
    let creds = Some("user:proxypass123");
    let connect = format!("CONNECT {NAME}:{} HTTP/1.1", rx.port);
    let mut runs = Vec::new();

    let out = through(report_to(&repo, &url).env("HTTP_PROXY", proxy.url(creds)));
    assert_eq!(out.code, Some(0), "{out}");
    let seen = proxy.requests();
    assert_eq!(seen.len(), 1, "the proxy was used: {out}");
    assert_eq!(seen[0].line, connect);
    assert_eq!(seen[0].headers.get("proxy-authorization").map(String::as_str), Some(&*format!("Basic {PROXY_BASIC}")));
    assert_eq!(rx.requests().len(), 1, "the job arrived through the tunnel");
    assert_eq!(rx.requests()[0].json()["job_id"], JOB_ID);
    runs.push(out);

    let out = through(report_to(&repo, &url).env("http_proxy", proxy.url(creds)));
    assert_eq!(out.code, Some(0), "lower-case http_proxy: {out}");
    assert_eq!(proxy.requests().len(), 2, "lower-case http_proxy is honoured: {out}");
    assert_eq!(rx.requests().len(), 2);
    runs.push(out);

    // NO_PROXY sends the request direct, where the made-up name resolves nowhere.
    let out = through(
        report_to(&repo, &url)
            .env("HTTP_PROXY", proxy.url(creds))
            .env("NO_PROXY", NAME)
            .args(["--deadline", "1"])
            .arg("--spool-dir")
            .arg(spool.path()),
    );
    assert_eq!(out.code, Some(4), "{out}");
    assert_eq!(proxy.requests().len(), 2, "NO_PROXY={NAME} skips the proxy: {out}");
    assert_eq!(rx.requests().len(), 2, "and the job cannot arrive without it");
    runs.push(out);

    let out = through(report_to(&repo, &url).env("HTTP_PROXY", other.url(None)).arg("--proxy").arg(proxy.url(creds)));
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(proxy.requests().len(), 3, "--proxy wins: {out}");
    assert!(other.requests().is_empty(), "the variable's proxy is not used: {out}");
    assert_eq!(rx.requests().len(), 3);
    runs.push(out);

    // A proxy that is down: the error must not show its password either.
    let dead = format!("http://user:proxypass123@127.0.0.1:{}", free_port());
    let out = through(
        report_to(&repo, &url).env("HTTP_PROXY", &dead).args(["--deadline", "1"]).arg("--spool-dir").arg(spool.path()),
    );
    assert_eq!(out.code, Some(4), "{out}");
    assert_eq!(rx.requests().len(), 3);
    runs.push(out);

    for out in &runs {
        let printed = out.all();
        assert!(!printed.contains("proxypass123") && !printed.contains(PROXY_BASIC), "proxy password printed: {out}");
    }
    for path in spool_entries(spool.path()) {
        let spooled = std::fs::read_to_string(&path).expect("read the spool file");
        assert!(!spooled.contains("proxypass123"));
    }
}

// ---------------------------------------------------------------------------------------------
// No secret in anything printed or written.

/// What a GitHub runner gives a Docker action: every input present (empty unless set).
fn github(mut run: Run, files: &Path, url: &str, token: &str) -> Run {
    for input in ["JOB_ID", "COMMIT_SHA", "JOB_START_TIME", "JOB_DURATION", "REPO_ID", "REPO_NAME", "SPOOL_DIR"] {
        run = run.env(format!("INPUT_{input}"), "");
    }
    std::fs::write(files.join("event.json"), r#"{"ref":"refs/heads/main"}"#).expect("event file");
    run.env("GITHUB_ACTIONS", "true")
        .env("CI", "true")
        .env("GITHUB_REPOSITORY", "acme/app")
        .env("GITHUB_SHA", "1111111111111111111111111111111111111111")
        .env("GITHUB_RUN_ID", "987")
        .env("GITHUB_RUN_ATTEMPT", "1")
        .env("GITHUB_JOB", "deploy")
        .env("GITHUB_ACTOR", "octocat")
        .env("GITHUB_SERVER_URL", "https://github.com")
        .env("GITHUB_REF_NAME", "main")
        .env("GITHUB_EVENT_NAME", "push")
        .env("GITHUB_EVENT_PATH", files.join("event.json"))
        .env("GITHUB_OUTPUT", files.join("output"))
        .env("GITHUB_ENV", files.join("env"))
        .env("GITHUB_STATE", files.join("state"))
        .env("GITHUB_STEP_SUMMARY", files.join("summary"))
        .env("RUNNER_TEMP", files)
        .env("STATE_job_start_time", "1704018030")
        .env("INPUT_SERVICE_ID", "42")
        .env("INPUT_STATUS", "success")
        .env("INPUT_URL", url)
        .env("INPUT_TOKEN", token)
        .env("INPUT_DEADLINE", "2")
}

/// Every regular file under `root`, except git's own.
fn files_under(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else { continue };
        for e in rd.filter_map(Result::ok) {
            let p = e.path();
            if p.file_name().is_some_and(|n| n == ".git") {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn no_token_or_credential_appears_in_anything_printed_or_spooled() {
    const GIT_PASS: &str = "gitpass456";
    const JENKINS_PASS: &str = "jenkinspass789";
    const PROXY_PASS: &str = "proxypass123";
    let secrets = [TOKEN, GIT_PASS, JENKINS_PASS, PROXY_PASS, PROXY_BASIC];

    let repo = Repo::init(&[], Some(&format!("https://bob:{GIT_PASS}@github.com/acme/app.git")));
    // Everything customcd may write goes under `written`; the token file lives elsewhere.
    let written = tempfile::tempdir().expect("tempdir");
    let spool = written.path().join("spool");
    let keys = tempfile::tempdir().expect("tempdir");
    let token_file = keys.path().join("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).expect("write");

    let ok = Server::ok();
    let echo = format!(r#"{{"detail":"Bearer {TOKEN} is not valid"}}"#);
    let refuse = Server::start(Plan::always(Step::reply(401, &echo)));
    let failing = Server::start(Plan::always(Step::reply(500, &format!("upstream error for Bearer {TOKEN}"))));
    let proxy = ConnectProxy::start();
    let proxy_url = proxy.url(Some(&format!("user:{PROXY_PASS}")));

    // (name, run, expected exit code, whether GitHub mode prints the mask line first)
    let mut runs: Vec<(&str, Ran, i32, bool)> = Vec::new();
    let mut add = |name: &'static str, run: Run, code: i32, github_mode: bool| {
        runs.push((name, run.output(), code, github_mode));
    };
    // A valid job without a duration, and no endpoint or token unless the scenario gives them.
    let bare = || {
        Run::new(&["report", "--service-id", "2", "--status", "success", "--job-start-time", "1704018030"]).repo(&repo)
    };

    add("success", report_to(&repo, &ok.url()).arg("--spool-dir").arg(&spool), 0, false);
    add("success, token flag", bare().args(["--url", &ok.url(), "--token", TOKEN]), 0, false);
    add("success, token file", bare().args(["--url", &ok.url()]).arg("--token-file").arg(&token_file), 0, false);
    add("401", report_to(&repo, &refuse.url()).arg("--spool-dir").arg(&spool), 3, false);
    add(
        "500 with retries",
        report_to(&repo, &failing.url()).args(["--deadline", "2"]).arg("--spool-dir").arg(&spool),
        4,
        false,
    );
    add("invalid input", report_to(&repo, &ok.url()).args(["--service-id", "two"]), 2, false);
    add("dry run", report_to(&repo, &ok.url()).arg("--dry-run").env("CUSTOMCD_PROXY", &proxy_url), 0, false);
    add(
        "env",
        Run::new(&["env"]).repo(&repo).url(&ok.url()).env("CUSTOMCD_PROXY", &proxy_url).env("HTTP_PROXY", &proxy_url),
        0,
        false,
    );
    add("send the spool", send_to(&repo, &ok.url()).arg(&spool).arg("--any-endpoint"), 0, false);
    add("send stdin refused", send_to(&repo, &refuse.url()).arg("-").stdin(
        r#"{"job_id":"x","commit_sha":"a2e7da86cc392417b0d9f605b28038aae80b002f","service_id":2,"job_start_time":1704018030,"job_duration":300,"status":"Succeeded","repo_id":"1"}"#,
    ), 3, false);
    add("proxy with credentials", report_to(&repo, &ok.url()).env("HTTP_PROXY", &proxy_url), 0, false);
    add(
        "proxy with credentials, --proxy, failing",
        report_to(&repo, &failing.url())
            .arg("--proxy")
            .arg(&proxy_url)
            .args(["--deadline", "1"])
            .arg("--spool-dir")
            .arg(&spool),
        4,
        false,
    );

    let jenkins_ws = written.path().join("jenkins");
    std::fs::create_dir_all(&jenkins_ws).expect("mkdir");
    let jenkins = |run: Run| {
        run.env("JENKINS_URL", "https://jenkins.example.com/")
            .env("BUILD_TAG", "jenkins-app-7")
            .env("BUILD_URL", "https://jenkins.example.com/job/app/7/")
            .env("GIT_URL", format!("https://jenkins:{JENKINS_PASS}@git.example.com/acme/app.git"))
            .env("GIT_BRANCH", "origin/main")
            .env("WORKSPACE", &jenkins_ws)
            .env("WORKSPACE_TMP", jenkins_ws.with_extension("tmp"))
    };
    // An outage exits 0 by default (a warning, the job kept).
    add("jenkins, failing", jenkins(bare().url(&failing.url()).env("CUSTOMCD_DEADLINE", "1")), 0, false);
    add("jenkins env", jenkins(Run::new(&["env"]).repo(&repo).env("CUSTOMCD_TOKEN", TOKEN)), 0, false);

    let gh_ok = written.path().join("github-ok");
    let gh_fail = written.path().join("github-fail");
    std::fs::create_dir_all(&gh_ok).expect("mkdir");
    std::fs::create_dir_all(&gh_fail).expect("mkdir");
    let action = || Run::new(&["report"]).repo(&repo);
    add("github, success", github(action(), &gh_ok, &ok.url(), &format!("  {TOKEN}\n")), 0, true);
    add("github, failing", github(action(), &gh_fail, &failing.url(), TOKEN), 0, true);
    add(
        "github, refused, fail_on_error false",
        github(action(), &gh_fail, &refuse.url(), TOKEN).env("INPUT_FAIL_ON_ERROR", "false"),
        0,
        true,
    );

    // Check each run did what it was meant to, then strip the one line GitHub requires.
    let mut printed = Vec::new();
    for (name, out, code, github_mode) in &runs {
        assert_eq!(out.code, Some(*code), "scenario {name:?}: {out}");
        let mut stdout = out.stdout.clone();
        if *github_mode {
            let mask = format!("::add-mask::{TOKEN}");
            assert_eq!(stdout.lines().next(), Some(mask.as_str()), "scenario {name:?}: the mask comes first: {out}");
            stdout = stdout.split_once('\n').map(|(_, rest)| rest.to_owned()).unwrap_or_default();
        }
        printed.push((format!("output of {name:?}"), format!("{stdout}{}", out.stderr)));
    }
    let spooled: Vec<PathBuf> = files_under(written.path());
    let spool_files = spooled
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json") && p.to_string_lossy().contains("spool"))
        .count();
    assert!(spool_files >= 4, "the failing scenarios spooled their jobs: {spooled:?}");
    for path in &spooled {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        printed.push((format!("file {}", path.display()), text));
    }
    for server in [&ok, &refuse, &failing] {
        for r in server.requests() {
            printed.push(("a request body".to_owned(), r.body));
        }
    }

    let mut leaks = Vec::new();
    for (what, text) in &printed {
        for s in secrets {
            if text.contains(s) {
                leaks.push(format!("{s:?} in {what}:\n{text}"));
            }
        }
    }
    assert!(leaks.is_empty(), "{} leak(s):\n{}", leaks.len(), leaks.join("\n-----\n"));
}

#[test]
fn a_kept_job_is_sent_only_to_the_endpoint_it_was_reported_to_unless_the_user_says_so() {
    let repo = Repo::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = dir.path().join("spool dir");
    let down = Server::start(Plan::always(Step::status(503)));
    let company2 = down.url().replace("/company/77/", "/company/2/");
    let out = Run::report().repo(&repo).url(&company2).args(["--deadline", "1", "--spool-dir"]).arg(&spool).output();
    assert!(out.all().contains("customcd send '"), "the hint is shell-quoted: {out}");
    let kept: Vec<_> = std::fs::read_dir(&spool).expect("spool").flatten().map(|e| e.file_name()).collect();
    assert_eq!(kept.iter().filter(|n| n.to_string_lossy().ends_with(".json")).count(), 1, "{kept:?}");
    let never_endpoint = kept.iter().filter(|n| n.to_string_lossy().ends_with(".endpoint")).count();
    assert_eq!(never_endpoint, 1, "the endpoint is remembered: {kept:?}");
    for f in std::fs::read_dir(&spool).expect("spool").flatten() {
        let text = std::fs::read_to_string(f.path()).unwrap_or_default();
        assert!(!text.contains("TESTSECRET"), "never the token: {}", f.path().display());
    }

    // Company 1's settings: refused, both endpoints named, nothing sent.
    let other = Server::ok();
    let out = Run::send().server(&other).arg(&spool).expect_exit(2);
    assert!(out.all().contains("company/2/") && out.all().contains("company/77/"), "{out}");
    assert!(other.requests().is_empty(), "never to another tenant");
    // The user says so.
    Run::send().server(&other).arg(&spool).arg("--any-endpoint").expect_exit(0);
    assert_eq!(other.requests().len(), 1);
    let left: Vec<_> = std::fs::read_dir(&spool).expect("spool").flatten().map(|e| e.file_name()).collect();
    assert!(
        left.iter().all(|n| !n.to_string_lossy().ends_with(".json") && !n.to_string_lossy().ends_with(".endpoint")),
        "{left:?}"
    );
}
