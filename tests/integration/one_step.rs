//! The GitHub Action in one step (`report_at: job-end`), with the runner's stages modelled as the
//! runner runs them (actions/runner ActionRunner.cs, FileCommandManager.cs): each stage of a step
//! gets fresh GITHUB_ENV / GITHUB_STATE / GITHUB_OUTPUT files; after it, what it wrote to
//! GITHUB_ENV joins the job's env context (every later stage of every step sees it) and what it
//! wrote to GITHUB_STATE joins *that step's* state, given to its later stages as STATE_*, applied
//! after the env context; INPUT_* are set last. Under act a Docker action's post stage gets only
//! the pre stage's state. Pre stages run before any main stage, post stages in reverse order.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::support::{Ran, Repo, Run, Server};

/// One job on a runner.
struct Job {
    dir: tempfile::TempDir,
    repo: Repo,
    /// The job's env context: GITHUB_ENV of every stage so far, in order.
    env: Vec<(String, String)>,
    /// Each step's state, by step id, as its next stage gets it.
    state: BTreeMap<String, Vec<(String, String)>>,
    /// Each step's state as the pre stage left it (what act gives a Docker post stage).
    pre_state: BTreeMap<String, Vec<(String, String)>>,
    act: bool,
    stage: usize,
    /// A path to use as GITHUB_ENV / GITHUB_STATE / GITHUB_OUTPUT in place of a fresh file.
    broken: BTreeMap<&'static str, PathBuf>,
    status: &'static str,
}

const SHA: &str = "1111111111111111111111111111111111111111";

impl Job {
    fn new(act: bool) -> Job {
        let repo = Repo::init(&[], Some("git@github.com:acme/app.git"));
        Job {
            dir: tempfile::tempdir().expect("tempdir"),
            repo,
            env: Vec::new(),
            state: BTreeMap::new(),
            pre_state: BTreeMap::new(),
            act,
            stage: 0,
            broken: BTreeMap::new(),
            status: "success",
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A `run:` step of the job that writes `lines` to GITHUB_ENV (as `NAME=VALUE`).
    fn run_step_writes_env(&mut self, lines: &[(&str, &str)]) {
        for (k, v) in lines {
            self.env.push(((*k).to_owned(), (*v).to_owned()));
        }
    }

    /// One stage (`start`, `report` or `post`) of the action step `step` with its `with:` inputs.
    fn stage(&mut self, rx: &Server, step: &str, command: &str, with: &[(&str, &str)]) -> Ran {
        self.stage += 1;
        let files: Vec<(&str, PathBuf)> = ["GITHUB_ENV", "GITHUB_STATE", "GITHUB_OUTPUT"]
            .into_iter()
            .map(|var| {
                let path = self.broken.get(var).cloned().unwrap_or_else(|| self.path(&format!("{var}-{}", self.stage)));
                (var, path)
            })
            .collect();
        std::fs::write(self.path("event.json"), "{}").expect("event");
        let mut run = Run::new(&[command])
            .repo(&self.repo)
            .env("GITHUB_ACTIONS", "true")
            .env("CI", "true")
            .env("GITHUB_REPOSITORY", "acme/app")
            .env("GITHUB_SHA", SHA)
            .env("GITHUB_RUN_ID", "987")
            .env("GITHUB_RUN_ATTEMPT", "2")
            .env("GITHUB_JOB", "deploy")
            .env("GITHUB_ACTOR", "octocat")
            .env("GITHUB_SERVER_URL", "https://github.com")
            .env("GITHUB_EVENT_NAME", "push")
            .env("GITHUB_EVENT_PATH", self.path("event.json"))
            .env("GITHUB_STEP_SUMMARY", self.path("summary"))
            .env("RUNNER_TEMP", self.dir.path())
            .env("GITHUB_ACTION", step);
        if self.act {
            run = run.env("ACT", "true");
        }
        for (var, path) in &files {
            run = run.env(var, path);
        }
        for (k, v) in &self.env {
            run = run.env(k, v);
        }
        // The step's own state, applied after the env context (act: only the pre stage's for post).
        let state = if self.act && command == "post" { self.pre_state.get(step) } else { self.state.get(step) };
        for (k, v) in state.cloned().unwrap_or_default() {
            run = run.env(format!("STATE_{k}"), v);
        }
        // Every declared input, "" unless the step's with: sets it; job_status is evaluated now.
        let mut inputs: BTreeMap<String, String> =
            ["REPORT_AT", "SERVICE_ID", "URL", "TOKEN", "STATUS", "JOB_ID", "COMMIT_SHA", "DEADLINE", "SPOOL_DIR"]
                .into_iter()
                .map(|k| (k.to_owned(), String::new()))
                .collect();
        inputs.insert("SERVICE_ID".into(), "42".into());
        inputs.insert("URL".into(), rx.url());
        inputs.insert("TOKEN".into(), "one-step-token".into());
        inputs.insert("REPORT_AT".into(), "job-end".into());
        inputs.insert("JOB_STATUS".into(), self.status.into());
        for (k, v) in with {
            inputs.insert((*k).to_owned(), (*v).to_owned());
        }
        for (k, v) in inputs {
            // act gives a Docker post stage the inputs its with: sets, and each input under its
            // own name with its default evaluated (so job_status), not INPUT_JOB_STATUS.
            if self.act && command == "post" && k == "JOB_STATUS" {
                run = run.env("job_status", v);
            } else {
                run = run.env(format!("INPUT_{k}"), v);
            }
        }
        let ran = run.output();
        for (var, path) in files {
            let pairs = read_commands(&path);
            match var {
                "GITHUB_ENV" => self.env.extend(pairs),
                "GITHUB_STATE" => {
                    let state = self.state.entry(step.to_owned()).or_default();
                    state.extend(pairs.clone());
                    if command == "start" {
                        self.pre_state.entry(step.to_owned()).or_default().extend(pairs);
                    }
                }
                _ => {}
            }
        }
        ran
    }

    /// pre, main, then the job's other steps (`between`), then post: one action step's life.
    fn one_step(&mut self, rx: &Server, with: &[(&str, &str)], between: impl FnOnce(&mut Job)) -> (Ran, Ran, Ran) {
        let pre = self.stage(rx, "report", "start", with);
        let main = self.stage(rx, "report", "report", with);
        between(self);
        let post = self.stage(rx, "report", "post", with);
        (pre, main, post)
    }
}

fn read_commands(path: &Path) -> Vec<(String, String)> {
    if !path.is_file() {
        return Vec::new();
    }
    let text = std::fs::read_to_string(path).unwrap_or_default();
    customcd::output::github::parse_file_commands(&text)
}

#[test]
fn the_post_stage_reports_the_final_status_once_on_the_runner_and_under_act() {
    for act in [false, true] {
        let rx = Server::ok();
        let mut job = Job::new(act);
        let (pre, main, post) = job.one_step(&rx, &[], |job| {
            assert!(rx.requests().is_empty(), "act={act}: the main stage sends nothing");
            job.status = "failure";
        });
        for (name, ran) in [("pre", &pre), ("main", &main), ("post", &post)] {
            assert_eq!(ran.code, Some(0), "act={act} {name}: {ran}");
        }
        assert!(main.all().contains("will be reported at the end of the job"), "{main}");
        let body = rx.only_request().json();
        assert_eq!(body["status"], "Failed", "act={act}: the job's final status");
        assert_eq!(body["job_id"], "987-2-deploy");
    }
}

#[test]
fn the_main_stage_validates_the_whole_job_and_fails_at_once() {
    let rx = Server::ok();
    let mut job = Job::new(false);
    let (_, main, post) = job.one_step(&rx, &[("SERVICE_ID", "abc")], |_| {});
    assert_eq!(main.code, Some(2), "service_id abc fails in the main stage: {main}");
    assert!(main.all().contains("service_id"), "{main}");
    assert!(post.all().contains("nothing to report"), "{post}");
    assert!(rx.requests().is_empty());
}

#[test]
fn when_github_env_cannot_be_written_the_state_carries_the_report_on_the_runner() {
    let rx = Server::ok();
    let mut job = Job::new(false);
    job.broken.insert("GITHUB_ENV", job.path("no-such-dir/env"));
    let (pre, main, post) = job.one_step(&rx, &[], |job| job.status = "failure");
    assert_eq!((pre.code, main.code, post.code), (Some(0), Some(0), Some(0)), "{main}\n{post}");
    assert!(main.all().contains("GITHUB_STATE"), "{main}");
    assert_eq!(rx.only_request().json()["status"], "Failed");
}

#[test]
fn when_no_channel_reaches_the_post_stage_the_main_stage_reports_at_once_and_the_post_stage_not_again() {
    // Under act the main stage's state never reaches the post stage: GITHUB_ENV is the only way.
    let rx = Server::ok();
    let mut job = Job::new(true);
    let pre = job.stage(&rx, "report", "start", &[]);
    job.broken.insert("GITHUB_ENV", job.path("no-such-dir/env"));
    let main = job.stage(&rx, "report", "report", &[]);
    assert_eq!((pre.code, main.code), (Some(0), Some(0)), "{main}");
    assert!(main.all().contains("reported now instead"), "{main}");
    assert_eq!(rx.requests().len(), 1, "reported by the main stage");
    let post = job.stage(&rx, "report", "post", &[]);
    assert_eq!(post.code, Some(0), "{post}");
    assert_eq!(rx.requests().len(), 1, "never twice");

    // On the runner with neither file writable.
    let rx = Server::ok();
    let mut job = Job::new(false);
    job.broken.insert("GITHUB_ENV", job.path("none/env"));
    job.broken.insert("GITHUB_STATE", job.path("none/state"));
    let (_, main, post) = job.one_step(&rx, &[], |_| {});
    assert_eq!((main.code, post.code), (Some(0), Some(0)), "{main}\n{post}");
    assert!(main.all().contains("reported now instead"), "{main}");
    assert_eq!(rx.requests().len(), 1, "once");
}

#[test]
fn a_pending_record_planted_or_replayed_through_github_env_is_never_reported() {
    // A job whose step records a report, to take a real record from.
    let rx = Server::ok();
    let mut other = Job::new(false);
    other.one_step(&rx, &[], |_| {});
    let real = other.env.iter().find(|(k, _)| k == "CUSTOMCD_REPORT_PENDING").map(|(_, v)| v.clone()).expect("listed");
    assert_eq!(rx.requests().len(), 1);

    // Another job whose action step reports now (the last-step form): an earlier step plants the
    // other job's record, a record and key of its own, and the state variables.
    let rx = Server::ok();
    let mut job = Job::new(false);
    job.stage(&rx, "report", "start", &[("REPORT_AT", "")]);
    job.run_step_writes_env(&[
        ("CUSTOMCD_REPORT_PENDING", &format!("{real} cmVwb3J0.AAAA")),
        ("STATE_customcd_key", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        ("STATE_customcd_pending", &real),
    ]);
    let main = job.stage(&rx, "report", "report", &[("REPORT_AT", "")]);
    assert_eq!(main.code, Some(0), "{main}");
    let post = job.stage(&rx, "report", "post", &[("REPORT_AT", "")]);
    assert_eq!(post.code, Some(0), "{post}");
    assert!(post.all().contains("were not written by this step's main stage"), "{post}");
    assert_eq!(rx.requests().len(), 1, "reported once, by the main stage");
}

#[test]
fn a_later_step_that_erases_the_github_env_record_does_not_lose_the_job_on_the_runner() {
    let rx = Server::ok();
    let mut job = Job::new(false);
    let (_, _, post) = job.one_step(&rx, &[], |job| job.run_step_writes_env(&[("CUSTOMCD_REPORT_PENDING", "")]));
    assert_eq!(post.code, Some(0), "{post}");
    assert_eq!(rx.requests().len(), 1, "the state copy is the step's own: {post}");
}

#[test]
fn two_job_end_steps_in_one_job_report_distinct_job_ids() {
    let rx = Server::ok();
    let mut job = Job::new(false);
    let staging = [("JOB_ID", ""), ("STATUS", "")];
    job.stage(&rx, "staging", "start", &staging);
    job.stage(&rx, "production", "start", &staging);
    assert_eq!(job.stage(&rx, "staging", "report", &staging).code, Some(0));
    assert_eq!(job.stage(&rx, "production", "report", &staging).code, Some(0));
    assert!(rx.requests().is_empty());
    // Post stages run in reverse order.
    assert_eq!(job.stage(&rx, "production", "post", &staging).code, Some(0));
    assert_eq!(job.stage(&rx, "staging", "post", &staging).code, Some(0));
    let ids: Vec<String> =
        rx.requests().iter().map(|r| r.json()["job_id"].as_str().unwrap_or_default().to_owned()).collect();
    assert_eq!(ids, ["987-2-deploy-production", "987-2-deploy"], "one record each, distinct ids");
}

#[test]
fn job_end_where_no_post_stage_runs_is_refused_as_invalid_configuration() {
    let rx = Server::ok();
    // A run: step of a job whose env says job-end: no INPUT_*, no post stage.
    let out = Run::report()
        .server(&rx)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_ACTION", "__run")
        .env("CUSTOMCD_REPORT_AT", "job-end")
        .env("CUSTOMCD_JOB_START_TIME", "1704018030")
        .expect_exit(2);
    assert!(out.all().contains("report_at") && out.all().contains("with:"), "{out}");
    let out = Run::report()
        .server(&rx)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_ACTION", "__run")
        .args(["--report-at", "job-end", "--job-start-time", "1704018030"])
        .expect_exit(2);
    assert!(out.all().contains("no post stage runs"), "{out}");
    assert!(rx.requests().is_empty());
}

#[test]
fn a_job_the_post_stage_cannot_deliver_goes_to_the_step_summary_in_a_form_send_takes() {
    let down = Server::start(crate::support::Plan::always(crate::support::Step::status(503)));
    let mut job = Job::new(false);
    let with = [("DEADLINE", "1")];
    let (_, main, post) = job.one_step(&down, &with, |_| {});
    assert_eq!(main.code, Some(0), "{main}");
    assert_eq!(post.code, Some(0), "an outage is a warning (fail_on_error is false by default): {post}");
    assert!(post.all().contains("step summary"), "{post}");
    let summary = std::fs::read_to_string(job.path("summary")).expect("summary");
    let block = summary.split("```json\n").nth(1).and_then(|b| b.split("\n```").next()).expect("a JSON block");
    let file = job.path("rescued job.json");
    std::fs::write(&file, block).expect("write");
    let rx = Server::ok();
    Run::send().server(&rx).arg(&file).expect_exit(0);
    assert_eq!(rx.only_request().json()["job_id"], "987-2-deploy");
    assert!(!summary.contains("one-step-token"), "no token in the summary");
}

#[test]
fn a_fifo_as_github_output_does_not_hang_the_step() {
    let rx = Server::ok();
    let mut job = Job::new(false);
    let fifo = job.path("output-fifo");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    job.broken.insert("GITHUB_OUTPUT", fifo);
    let main = job.stage(&rx, "report", "report", &[("REPORT_AT", "")]);
    assert_eq!(main.code, Some(0), "{main}");
    assert!(main.all().contains("could not write the step outputs"), "{main}");
    assert_eq!(rx.requests().len(), 1);
}

#[test]
fn an_endpoint_and_token_planted_through_github_env_lose_to_the_steps_with() {
    let rx = Server::ok();
    let thief = Server::ok();
    let mut job = Job::new(false);
    job.stage(&rx, "report", "start", &[]);
    job.run_step_writes_env(&[
        ("CUSTOMCD_URL", &thief.url()),
        ("CUSTOMCD_TOKEN", "planted-token-123"),
        ("CUSTOMCD_TOKEN_FILE", "/etc/hostname"),
    ]);
    let main = job.stage(&rx, "report", "report", &[("REPORT_AT", "")]);
    assert_eq!(main.code, Some(0), "{main}");
    assert!(thief.requests().is_empty(), "the token never went to the planted endpoint");
    let req = rx.only_request();
    assert_eq!(req.bearer(), "one-step-token", "the step's own token");
    assert!(main.all().contains("variable CUSTOMCD_URL is ignored"), "{main}");
}

#[test]
fn with_no_usable_spool_an_undelivered_job_goes_to_the_log_and_the_step_summary() {
    let down = Server::start(crate::support::Plan::always(crate::support::Step::status(503)));
    let mut job = Job::new(false);
    // A file where the spool directory should be: nothing can be kept on disk.
    let blocked = job.path("spool-is-a-file");
    std::fs::write(&blocked, "x").expect("write");
    let blocked = blocked.to_string_lossy().into_owned();
    let main = job.stage(&down, "report", "report", &[("REPORT_AT", ""), ("DEADLINE", "1"), ("SPOOL_DIR", &blocked)]);
    assert_ne!(main.code, Some(0), "neither delivered nor kept fails the step: {main}");
    assert!(main.stdout.contains("\"job_id\":\"987-2-deploy\""), "the payload is in the log: {main}");
    let summary = std::fs::read_to_string(job.path("summary")).expect("summary");
    assert!(summary.contains("was NOT delivered") && summary.contains("customcd send job.json"), "{summary}");
    assert!(summary.contains("\"job_id\":\"987-2-deploy\""), "{summary}");
}
