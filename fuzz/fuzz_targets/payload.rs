//! Payload validation: `job::resolve` on one layer of arbitrary setting values.
//!
//! The input is split at NUL bytes; the n-th piece is the value of `Key::ALL[n]` (job_id,
//! commit_sha, service_id, job_start_time, job_duration, status, repo_id, repo_name, ...); an
//! empty piece leaves the key unset. `resolve` never panics, and a job it accepts has a body that
//! keeps the contract.
#![no_main]

use customcd::job::{self, Inputs};
use customcd::vocab::source::{Source, Sourced};
use customcd::vocab::names::{flag_name, Key, Layer, Stack};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn is_sha(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64) && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut layer = Layer::default();
    for (key, value) in Key::ALL.iter().zip(text.split('\0')) {
        if !value.is_empty() {
            layer.set(*key, Sourced::new(value.to_owned(), Source::Flag(flag_name(*key))));
        }
    }
    let mut stack = Stack::default();
    stack.push(layer);
    let resolved = job::resolve(&Inputs {
        stack: &stack,
        optional: &[],
        git_error: None,
        now: 1_700_000_000,
        hints: &[],
        context: Vec::new(), primary: Vec::new(), change_set: None,
    });
    let job = match resolved {
        Ok(job) => job,
        Err(problems) => {
            assert!(!problems.is_empty(), "rejected without a problem: {text:?}");
            for p in &problems {
                let _ = p.to_string();
            }
            return;
        }
    };
    let body = job.body();
    let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("body is not JSON ({e}): {body}"));
    let sha = v["commit_sha"].as_str().unwrap_or("");
    assert!(is_sha(sha), "commit_sha {sha:?} is not 40/64 lowercase hex; body {body}");
    let status = v["status"].as_str().unwrap_or("");
    assert!(matches!(status, "Succeeded" | "Failed" | "On Hold"), "status {status:?}; body {body}");
    assert!(v["service_id"].as_u64().is_some_and(|n| n > 0), "service_id; body {body}");
    assert!(v["job_start_time"].as_i64().is_some_and(|t| t >= 0), "job_start_time; body {body}");
    assert!(v["job_duration"].is_u64(), "job_duration; body {body}");
    assert!(v["job_id"].is_string(), "job_id; body {body}");
    assert!(v.get("repo_id").is_some() || v.get("repo_name").is_some(), "neither repo_id nor repo_name; body {body}");
    let _ = job.provenance();
});
