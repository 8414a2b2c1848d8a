//! `customcd send` at scale: JSON Lines and CSV streamed, rejects written down, concurrency,
//! 429 slow-down, and resuming after an interruption with nothing lost and nothing sent twice.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::*;

const SHA: &str = "a2e7da86cc392417b0d9f605b28038aae80b002f";

fn job_line(i: usize) -> String {
    format!(
        r#"{{"job_id":"hist-{i}","commit_sha":"{SHA}","service_id":2,"job_start_time":{},"job_duration":60,"status":"Succeeded","repo_name":"acme/app"}}"#,
        1_704_018_030 + i
    )
}

fn write_jsonl(dir: &Path, n: usize, bad_every: Option<usize>) -> PathBuf {
    let mut text = String::new();
    for i in 0..n {
        match bad_every {
            Some(k) if i % k == k - 1 => {
                text.push_str(&job_line(i).replace("\"service_id\":2", "\"service_id\":\"2\""))
            }
            _ => text.push_str(&job_line(i)),
        }
        text.push('\n');
    }
    let path = dir.join("history.jsonl");
    std::fs::write(&path, text).expect("write");
    path
}

/// `customcd send` in `dir` to `rx`; name the input with `arg`.
fn send(dir: &Path, rx: &Server) -> Run {
    Run::send().dir(dir).server(rx)
}

fn ids(rx: &Server) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for r in rx.requests() {
        *out.entry(r.json()["job_id"].as_str().expect("a job_id").to_owned()).or_insert(0) += 1;
    }
    out
}

#[test]
fn json_lines_are_sent_and_invalid_records_go_to_the_rejects_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = write_jsonl(dir.path(), 50, Some(10));
    let rejects = dir.path().join("rejects.jsonl");
    let rx = Server::ok();
    let out = send(dir.path(), &rx).arg(&input).arg("--rejects").arg(&rejects).expect_exit(2);
    let seen = ids(&rx);
    assert_eq!(seen.len(), 45);
    assert!(seen.values().all(|n| *n == 1));
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&rejects)
        .expect("rejects written")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines.len(), 5);
    assert_eq!(lines[0]["origin"], format!("{}:10", input.display()));
    assert!(lines[0]["problems"][0].as_str().expect("text").contains("JSON integer"), "{}", lines[0]);
    let err = out.stderr.clone();
    assert!(err.contains("45 sent, 5 rejected"), "{err}");
}

#[test]
fn csv_with_optional_columns_is_sent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("deploys.csv");
    std::fs::write(
        &path,
        format!(
            "job_id,commit_sha,service_id,job_start_time,job_duration,status,repo_name,job_type,optional.env\n\
             d1,{SHA},2,2024-01-01T10:00:00Z,30,success,acme/app,Production Deploy,prod\n\
             d2,{SHA},2,1704103300,45,failed,acme/app,Production Deploy,\n"
        ),
    )
    .expect("write");
    let rx = Server::ok();
    send(dir.path(), &rx).arg(&path).expect_exit(0);
    let reqs = rx.requests();
    assert_eq!(reqs.len(), 2);
    let first = reqs.iter().map(Seen::json).find(|j| j["job_id"] == "d1").expect("d1");
    assert_eq!(first["job_start_time"], 1_704_103_200);
    assert_eq!(first["optional"], serde_json::json!([{"key": "env", "value": "prod", "type": "string"}]));
    let second = reqs.iter().map(Seen::json).find(|j| j["job_id"] == "d2").expect("d2");
    assert_eq!(second["status"], "Failed");
    assert!(second.get("optional").is_none());
}

#[test]
fn a_finished_input_is_not_sent_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = write_jsonl(dir.path(), 20, None);
    let rx = Server::ok();
    send(dir.path(), &rx).arg(&input).expect_exit(0);
    assert_eq!(rx.requests().len(), 20);
    let out = send(dir.path(), &rx).arg(&input).output();
    assert_eq!(out.code, Some(0));
    assert_eq!(rx.requests().len(), 20, "the checkpoint says every record is done");
    assert!(out.stderr.contains("20 skipped"));
}

#[test]
fn standard_input_is_read_as_json_lines_with_an_optional_checkpoint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text: String = (0..10).map(|i| job_line(i) + "\n").collect();
    let cp = dir.path().join("stdin.checkpoint");
    let rx = Server::ok();
    send(dir.path(), &rx).args(["-", "--checkpoint"]).arg(&cp).stdin(text.clone()).expect_exit(0);
    assert_eq!(rx.requests().len(), 10);
    send(dir.path(), &rx).args(["-", "--checkpoint"]).arg(&cp).stdin(text).expect_exit(0);
    assert_eq!(rx.requests().len(), 10, "the checkpoint covers standard input too");
}

#[test]
fn a_429_slows_every_worker_and_every_job_arrives() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = write_jsonl(dir.path(), 30, None);
    let rx = Server::start(Plan::script([Step::retry_after(429, "1")]).then(Step::reply(200, "{}")));
    let started = Instant::now();
    let out = send(dir.path(), &rx).arg(&input).args(["--concurrency", "4"]).expect_exit(0);
    assert!(started.elapsed() >= Duration::from_millis(900), "Retry-After was honoured");
    let seen = ids(&rx);
    assert_eq!(seen.len(), 30);
    assert_eq!(seen.values().sum::<usize>(), 31, "one job was sent twice: the 429 and its retry");
    assert!(out.stderr.contains("1 retried"), "{}", out.all());
}

/// Runs a send of `input` as a child, stops it with `signal` once the server has seen `after`
/// requests, and returns its exit code.
fn interrupted_send(dir: &Path, input: &Path, rx: &Server, signal: &str, after: usize) -> Option<i32> {
    let child = send(dir, rx).arg(input).args(["--concurrency", "4"]).spawn();
    let deadline = Instant::now() + Duration::from_secs(30);
    while rx.requests().len() < after && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    child.signal(signal);
    child.finish(Duration::from_secs(30)).code
}

#[test]
fn resuming_after_sigterm_sends_each_record_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = write_jsonl(dir.path(), 3000, None);
    let rx = Server::ok();
    let code = interrupted_send(dir.path(), &input, &rx, "-TERM", 300);
    assert_eq!(code, Some(130), "a clean stop after SIGTERM");
    let first_run = rx.requests().len();
    assert!(first_run < 3000, "the run was stopped part way ({first_run})");
    send(dir.path(), &rx).arg(&input).expect_exit(0);
    let seen = ids(&rx);
    assert_eq!(seen.len(), 3000, "nothing lost");
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "nothing sent twice: {twice:?}");
}

#[test]
fn resuming_after_sigkill_loses_nothing_and_repeats_at_most_the_jobs_in_flight() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = write_jsonl(dir.path(), 2000, None);
    let rx = Server::ok();
    let code = interrupted_send(dir.path(), &input, &rx, "-KILL", 300);
    assert_eq!(code, None, "killed by a signal");
    send(dir.path(), &rx).arg(&input).expect_exit(0);
    let seen = ids(&rx);
    assert_eq!(seen.len(), 2000, "nothing lost");
    let repeated: usize = seen.values().map(|n| n - 1).sum();
    assert!(repeated <= 4, "at most the 4 jobs in flight are repeated, got {repeated}");
}

fn write_csv(path: &Path, rows: &[(&str, &str)]) {
    let mut text = "job_id,commit_sha,service_id,job_start_time,job_duration,status,repo_name\n".to_owned();
    for (id, status) in rows {
        text.push_str(&format!("{id},{SHA},2,1704018030,30,{status},acme/app\n"));
    }
    std::fs::write(path, text).expect("write");
}

#[test]
fn a_nightly_export_reusing_a_file_name_sends_its_new_rows_and_a_changed_one_only_with_resend() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("deploys.csv");
    let rx = Server::ok();
    write_csv(&path, &[("d1", "success"), ("d2", "success"), ("d3", "success")]);
    send(dir.path(), &rx).arg(&path).expect_exit(0);
    // Day 2: d3 was corrected, d4 and d5 are new. d3 is one deploy the server already holds: a
    // second post would be a second deploy in its numbers, so it is not sent unless asked.
    write_csv(&path, &[("d2", "success"), ("d3", "failed"), ("d4", "success"), ("d5", "success")]);
    let out = send(dir.path(), &rx).arg(&path).expect_exit(0);
    let day = |from: usize| -> Vec<(String, String)> {
        rx.requests()[from..]
            .iter()
            .map(|r| {
                let j = r.json();
                (j["job_id"].as_str().expect("id").to_owned(), j["status"].as_str().expect("status").to_owned())
            })
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    assert_eq!(day(3), [("d4".to_owned(), "Succeeded".to_owned()), ("d5".to_owned(), "Succeeded".to_owned())]);
    assert!(out.stderr.contains("2 sent, 0 rejected, 0 undelivered, 0 retried, 2 skipped"), "{}", out.all());
    assert!(
        out.stderr.contains("2 of the skipped job(s) were acknowledged") && out.stderr.contains("--resend"),
        "{}",
        out.all()
    );
    // Asked for, the correction goes out (and so does every other row of the file).
    let out = send(dir.path(), &rx).arg(&path).arg("--resend").expect_exit(0);
    assert_eq!(rx.requests().len(), 9, "{}", out.all());
    assert!(day(5).contains(&("d3".to_owned(), "Failed".to_owned())));
}

#[test]
fn reordered_records_are_recognised_and_not_sent_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("history.jsonl");
    let rx = Server::ok();
    std::fs::write(&input, (0..6).map(|i| job_line(i) + "\n").collect::<String>()).expect("write");
    send(dir.path(), &rx).arg(&input).expect_exit(0);
    std::fs::write(&input, (0..6).rev().map(|i| job_line(i) + "\n\n").collect::<String>()).expect("write");
    let out = send(dir.path(), &rx).arg(&input).expect_exit(0);
    assert_eq!(rx.requests().len(), 6);
    assert!(out.stderr.contains("6 skipped"), "{}", out.all());
}

#[test]
fn a_rejected_row_fixed_in_place_is_sent_by_the_next_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("deploys.csv");
    let rx = Server::ok();
    write_csv(&path, &[("d1", "success"), ("d2", "maybe"), ("d3", "success")]);
    send(dir.path(), &rx).arg(&path).expect_exit(2);
    assert_eq!(rx.requests().len(), 2);
    write_csv(&path, &[("d1", "success"), ("d2", "success"), ("d3", "success")]);
    send(dir.path(), &rx).arg(&path).expect_exit(0);
    assert_eq!(ids(&rx).get("d2"), Some(&1), "the fixed row is sent once");
    assert_eq!(rx.requests().len(), 3);
}

#[test]
fn a_checkpoint_from_the_position_keyed_format_stops_the_send_with_a_fix() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = write_jsonl(dir.path(), 5, None);
    let cp = dir.path().join("history.jsonl.customcd-checkpoint");
    std::fs::write(&cp, "customcd-checkpoint v1 first-line=\"x\"\nthrough 5\n").expect("write");
    let rx = Server::ok();
    let out = send(dir.path(), &rx).arg(&input).expect_exit(2);
    assert!(out.all().contains("delete it"), "{}", out.all());
    assert_eq!(rx.requests().len(), 0, "nothing was sent");
}

#[test]
fn records_that_were_refused_or_not_delivered_are_sent_by_the_next_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = write_jsonl(dir.path(), 2, None);
    // One server for both runs, so the ledger's key (endpoint, service, job_id) is the same: it
    // refuses the first two posts, then accepts.
    let rx = Server::start(Plan::script([Step::reply(400, "no"), Step::reply(400, "no")]).then(Step::reply(200, "{}")));
    send(dir.path(), &rx).arg(&input).args(["--concurrency", "1"]).expect_exit(3);
    let out = send(dir.path(), &rx).arg(&input).args(["--concurrency", "1"]).expect_exit(0);
    assert_eq!(rx.requests().len(), 4, "both records were tried twice: {}", out.all());
    assert!(out.all().contains("2 sent"), "{}", out.all());
}

#[test]
fn a_directory_of_json_lines_and_csv_exports_is_sent_and_other_files_are_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let exports = dir.path().join("exports");
    std::fs::create_dir(&exports).expect("mkdir");
    std::fs::write(exports.join("a.jsonl"), format!("{}\n", job_line(1))).expect("write");
    write_csv(&exports.join("b.csv"), &[("hist-csv", "Succeeded")]);
    std::fs::write(exports.join("readme.txt"), "notes").expect("write");
    let rx = Server::ok();
    let out = send(dir.path(), &rx).arg(&exports).expect_exit(0);
    assert_eq!(rx.requests().len(), 2, "{}", out.all());
    assert!(out.all().contains("readme.txt is ignored"), "{}", out.all());
    // The checkpoints written beside them are not inputs the next time.
    let out = send(dir.path(), &rx).arg(&exports).expect_exit(0);
    assert_eq!(rx.requests().len(), 2, "nothing is sent twice: {}", out.all());
    assert!(!out.all().contains("customcd-checkpoint is ignored"), "{}", out.all());
}
