//! At least once, for real: a job is acknowledged or on disk at every instant (SIGKILL and SIGTERM
//! during retries), resume state is keyed by what records are (a tag added in the middle of a
//! backfill), concurrent senders split a spool, bad spool entries are counted one by one, and
//! files at predictable places are never followed or planted.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Std, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

const SHA: &str = "a2e7da86cc392417b0d9f605b28038aae80b002f";

fn payload(id: &str) -> String {
    format!(
        r#"{{"job_id":"{id}","commit_sha":"{SHA}","service_id":2,"job_start_time":1704018030,"job_duration":60,"status":"Succeeded","repo_name":"acme/app"}}"#
    )
}

/// The binary as a child process with a clean environment, output captured.
fn spawn(cwd: &Path, args: &[&str], envs: &[(&str, &str)]) -> Child {
    Std::new(assert_cmd::cargo::cargo_bin("customcd"))
        .args(args)
        .env_clear()
        .env("HOME", cwd)
        .envs(envs.iter().copied())
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns")
}

fn signal(child: &Child, sig: &str) {
    let ok = Std::new("kill").args([sig, &child.id().to_string()]).status().expect("kill runs");
    assert!(ok.success(), "kill {sig} {}", child.id());
}

/// Waits for `child` for at most `limit`; kills it (and fails) if it is still running then.
fn wait_at_most(child: &mut Child, limit: Duration) -> (Option<i32>, String) {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            let mut text = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut text);
            }
            if let Some(mut o) = child.stdout.take() {
                let _ = o.read_to_string(&mut text);
            }
            return (status.code(), text);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the process was still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The payload files of a spool directory and their text (temporary files left out).
fn spool_files(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out: Vec<(PathBuf, String)> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .map(|p| {
                    let text = std::fs::read_to_string(&p).expect("a spool file is readable");
                    (p, text)
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn counts(rx: &Receiver) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for r in rx.requests() {
        *out.entry(r.json()["job_id"].as_str().expect("a job_id").to_owned()).or_insert(0) += 1;
    }
    out
}

fn report_args<'a>(spool: &'a str, id: &'a str, deadline: &'a str) -> Vec<&'a str> {
    vec![
        "report",
        "--service-id",
        "2",
        "--status",
        "success",
        "--job-start-time",
        "1704018030",
        "--job-duration",
        "300",
        "--commit-sha",
        SHA,
        "--repo-name",
        "acme/app",
        "--job-id",
        id,
        "--deadline",
        deadline,
        "--spool-dir",
        spool,
    ]
}

/// A cheap spread of delays without a random-number crate: the clock's nanoseconds.
fn jitter(max_ms: u64, i: u64) -> Duration {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    Duration::from_millis((u64::from(nanos) / 1000 + i * 7919) % max_ms)
}

#[test]
fn sigkill_at_random_instants_leaves_every_attempted_job_spooled_and_send_delivers_each_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = dir.path().join("spool");
    let spool_s = spool.to_string_lossy().into_owned();
    let down = Receiver::start(Reply::new(503, "unavailable"));
    let mut attempted = Vec::new();
    for i in 0..20u64 {
        let id = format!("kill-{i}");
        let before = down.requests().len();
        let mut child = spawn(
            dir.path(),
            &report_args(&spool_s, &id, "30"),
            &[("CUSTOMCD_URL", &down.url()), ("CUSTOMCD_TOKEN", TOKEN)],
        );
        // Every fourth kill lands anywhere from the start; the others during the retries.
        if i % 4 != 0 {
            wait_for("the first attempt", Duration::from_secs(20), || down.requests().len() > before);
        }
        std::thread::sleep(jitter(1500, i));
        signal(&child, "-KILL");
        let (code, _) = wait_at_most(&mut child, Duration::from_secs(10));
        assert_eq!(code, None, "killed by SIGKILL");
        let seen = down.requests()[before..].to_vec();
        let kept: Vec<String> =
            spool_files(&spool).into_iter().map(|(_, t)| t).filter(|t| t.contains(&format!("\"{id}\""))).collect();
        for text in &kept {
            assert_eq!(text, &payload_of(&seen, text), "a spooled file is a whole body");
        }
        if !seen.is_empty() {
            assert_eq!(kept.len(), 1, "kill {i}: job {id} reached the server, so it must be on disk");
            assert_eq!(kept[0], seen[0].body, "kill {i}: the spool holds exactly what was sent");
            attempted.push(id);
        }
    }
    assert!(attempted.len() >= 15, "most kills landed during retries: {attempted:?}");

    let up = Receiver::ok();
    let out = customcd(dir.path())
        .args(["send", &spool_s])
        .env("CUSTOMCD_URL", up.url())
        .env("CUSTOMCD_TOKEN", TOKEN)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    let delivered = counts(&up);
    for id in &attempted {
        assert_eq!(delivered.get(id), Some(&1), "{id} delivered exactly once: {delivered:?}");
    }
    assert!(delivered.values().all(|n| *n == 1), "{delivered:?}");
    assert!(spool_files(&spool).is_empty(), "the spool is empty once everything is delivered");
}

/// The body the server saw that equals `text`, or `text` itself when it never arrived (a kill
/// before the first attempt): either way the file must parse as the job.
fn payload_of(seen: &[Seen], text: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(text).expect("a spooled file is JSON");
    assert!(v["job_id"].is_string());
    seen.iter().find(|s| s.body == text).map_or_else(|| text.to_owned(), |s| s.body.clone())
}

#[test]
fn sigterm_during_retries_keeps_the_job_in_the_spool_and_exits_130_within_seconds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = dir.path().join("spool");
    let spool_s = spool.to_string_lossy().into_owned();
    let down = Receiver::start(Reply::new(503, "unavailable"));
    let mut child = spawn(
        dir.path(),
        &report_args(&spool_s, "term-1", "60"),
        &[("CUSTOMCD_URL", &down.url()), ("CUSTOMCD_TOKEN", TOKEN)],
    );
    wait_for("two attempts", Duration::from_secs(20), || down.requests().len() >= 2);
    let sent_at = Instant::now();
    signal(&child, "-TERM");
    let (code, text) = wait_at_most(&mut child, Duration::from_secs(10));
    assert!(sent_at.elapsed() < Duration::from_secs(3), "gone promptly: {:?}", sent_at.elapsed());
    assert_eq!(code, Some(130), "{text}");
    let kept = spool_files(&spool);
    assert_eq!(kept.len(), 1, "{text}");
    assert_eq!(kept[0].1, down.requests()[0].body);
    assert!(text.contains(&format!("kept in {}", kept[0].0.display())), "the message says where: {text}");
    assert!(text.contains("customcd send"), "{text}");
}

#[test]
fn a_delivered_job_leaves_nothing_in_the_spool() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = dir.path().join("spool");
    let rx = Receiver::ok();
    let out = customcd(dir.path())
        .args(report_args(&spool.to_string_lossy(), "ok-1", "10"))
        .env("CUSTOMCD_URL", rx.url())
        .env("CUSTOMCD_TOKEN", TOKEN)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    assert_eq!(std::fs::read_dir(&spool).expect("the spool was made").count(), 0, "no file, no temporary");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&spool).expect("stat").permissions().mode() & 0o777, 0o700);
}

#[test]
fn a_job_still_being_reported_is_left_to_its_report_by_a_concurrent_send() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = dir.path().join("spool");
    let spool_s = spool.to_string_lossy().into_owned();
    let down = Receiver::start(Reply::new(503, "unavailable"));
    let mut report = spawn(
        dir.path(),
        &report_args(&spool_s, "busy-1", "60"),
        &[("CUSTOMCD_URL", &down.url()), ("CUSTOMCD_TOKEN", TOKEN)],
    );
    wait_for("the first attempt", Duration::from_secs(20), || !down.requests().is_empty());
    let up = Receiver::ok();
    let out = customcd(dir.path())
        .args(["send", &spool_s])
        .env("CUSTOMCD_URL", up.url())
        .env("CUSTOMCD_TOKEN", TOKEN)
        .output()
        .expect("runs");
    signal(&report, "-TERM");
    let _ = wait_at_most(&mut report, Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    assert!(up.requests().is_empty(), "the report owns it while it retries");
    assert!(all_output(&out).contains("1 left to another sender"), "{}", all_output(&out));
}

#[test]
fn two_senders_over_one_spool_deliver_each_of_40_jobs_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = dir.path().join("spool");
    std::fs::create_dir(&spool).expect("mkdir");
    for i in 0..40 {
        std::fs::write(spool.join(format!("{i:03}-job.json")), payload(&format!("pair-{i}"))).expect("write");
    }
    let rx = Receiver::ok();
    let spool_s = spool.to_string_lossy().into_owned();
    let envs = [("CUSTOMCD_URL", rx.url()), ("CUSTOMCD_TOKEN", TOKEN.to_owned())];
    let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut a = spawn(dir.path(), &["send", &spool_s, "--concurrency", "2"], &envs);
    let mut b = spawn(dir.path(), &["send", &spool_s, "--concurrency", "2"], &envs);
    let (code_a, text_a) = wait_at_most(&mut a, Duration::from_secs(60));
    let (code_b, text_b) = wait_at_most(&mut b, Duration::from_secs(60));
    assert_eq!((code_a, code_b), (Some(0), Some(0)), "{text_a}\n-----\n{text_b}");
    let seen = counts(&rx);
    assert_eq!(seen.len(), 40, "every job arrived: {seen:?}");
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "none twice: {twice:?}\n{text_a}\n-----\n{text_b}");
    assert!(spool_files(&spool).is_empty());
}

#[test]
fn fifos_directories_and_bad_files_in_the_spool_are_counted_and_the_rest_is_sent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = dir.path().join("spool");
    std::fs::create_dir(&spool).expect("mkdir");
    std::fs::write(spool.join("1-good.json"), payload("good-1")).expect("write");
    let fifo = spool.join("2-fifo.json");
    assert!(Std::new("mkfifo").arg(&fifo).status().expect("mkfifo runs").success());
    std::fs::create_dir(spool.join("3-dir.json")).expect("mkdir");
    std::fs::write(spool.join("4-latin1.json"), b"{\"job_id\":\"caf\xe9\"}").expect("write");
    std::fs::write(spool.join("5-broken.json"), "{").expect("write");
    std::os::unix::fs::symlink("/etc/hostname", spool.join("6-link.json")).expect("symlink");
    std::fs::write(spool.join("7-good.json"), payload("good-2")).expect("write");
    let rx = Receiver::ok();
    let envs = [("CUSTOMCD_URL", rx.url()), ("CUSTOMCD_TOKEN", TOKEN.to_owned())];
    let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut child = spawn(dir.path(), &["send", &spool.to_string_lossy()], &envs);
    let (code, text) = wait_at_most(&mut child, Duration::from_secs(20));
    assert_eq!(code, Some(2), "invalid entries make exit 2: {text}");
    assert_eq!(counts(&rx).into_keys().collect::<Vec<_>>(), ["good-1", "good-2"], "{text}");
    assert!(text.contains("2 sent, 2 rejected, 0 undelivered, 0 retried, 0 skipped, 3 unreadable"), "{text}");
    assert!(text.contains("FIFO") && text.contains("a directory") && text.contains("symbolic link"), "{text}");
    assert!(text.contains("not UTF-8"), "{text}");
    let left: Vec<String> = std::fs::read_dir(&spool)
        .expect("read")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(left, ["2-fifo.json", "3-dir.json", "4-latin1.json", "5-broken.json", "6-link.json"]);
}

#[test]
fn sigterm_stops_a_send_that_is_retrying_within_seconds_and_keeps_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = dir.path().join("spool");
    std::fs::create_dir(&spool).expect("mkdir");
    std::fs::write(spool.join("1-job.json"), payload("retrying-1")).expect("write");
    let down = Receiver::start(Reply::new(503, "unavailable"));
    let envs = [("CUSTOMCD_URL", down.url()), ("CUSTOMCD_TOKEN", TOKEN.to_owned())];
    let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut child = spawn(dir.path(), &["send", &spool.to_string_lossy(), "--deadline", "120"], &envs);
    wait_for("the first attempt", Duration::from_secs(20), || !down.requests().is_empty());
    let sent_at = Instant::now();
    signal(&child, "-TERM");
    let (code, text) = wait_at_most(&mut child, Duration::from_secs(15));
    assert!(sent_at.elapsed() < Duration::from_secs(6), "gone within seconds: {:?}", sent_at.elapsed());
    assert_eq!(code, Some(130), "{text}");
    assert_eq!(spool_files(&spool).len(), 1, "the job is still on disk: {text}");
}

#[test]
fn a_committed_spool_in_a_gitlab_checkout_is_not_what_a_bare_send_reads() {
    let repo = Repo::new();
    let planted = repo.dir.join(".customcd-spool");
    std::fs::create_dir(&planted).expect("mkdir");
    std::fs::write(planted.join("evil.json"), payload("evil")).expect("write");
    git(&repo.dir, &["add", "-f", ".customcd-spool/evil.json"]);
    git(&repo.dir, &["commit", "-q", "-m", "plant"]);
    let tmp = tempfile::tempdir().expect("tempdir");
    let rx = Receiver::ok();
    let out = customcd(&repo.dir)
        .arg("send")
        .env("GITLAB_CI", "true")
        .env("CI_PROJECT_DIR", &repo.dir)
        .env("TMPDIR", tmp.path())
        .env("CUSTOMCD_URL", rx.url())
        .env("CUSTOMCD_TOKEN", TOKEN)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    assert!(rx.requests().is_empty(), "the planted job was not sent");
    assert!(all_output(&out).contains(&tmp.path().display().to_string()), "{}", all_output(&out));
}

#[test]
fn a_symlink_planted_at_the_rejects_file_is_not_followed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious\n").expect("write");
    std::os::unix::fs::symlink(&victim, dir.path().join("customcd-rejects.jsonl")).expect("symlink");
    let input = dir.path().join("jobs.jsonl");
    std::fs::write(&input, "{'job_id': 1}\n").expect("write");
    let rx = Receiver::ok();
    let out = customcd(dir.path())
        .arg("send")
        .arg(&input)
        .env("CUSTOMCD_URL", rx.url())
        .env("CUSTOMCD_TOKEN", TOKEN)
        .output()
        .expect("runs");
    assert_ne!(out.status.code(), Some(0), "{}", all_output(&out));
    assert_eq!(std::fs::read_to_string(&victim).expect("read"), "precious\n");
}

#[test]
fn a_tag_added_in_the_middle_of_a_backfill_is_the_only_job_the_rerun_sends() {
    let repo = Repo::new();
    let tag_at = |name: &str, date: &str| {
        let status = Std::new("git")
            .args(["-c", "user.name=Rel", "-c", "user.email=rel@example.com", "tag", "-a", name, "-m", name])
            .env("GIT_COMMITTER_DATE", date)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .current_dir(&repo.dir)
            .status()
            .expect("git tag");
        assert!(status.success());
    };
    let older = repo.head();
    repo.commit("two");
    tag_at("v1", "2024-01-01T10:00:00Z");
    repo.commit("three");
    tag_at("v3", "2024-01-03T10:00:00Z");
    repo.commit("four");
    tag_at("v4", "2024-01-04T10:00:00Z");
    let rx = Receiver::ok();
    let run = || {
        customcd(&repo.dir)
            .args(["backfill", "--from-git-tags", "v*", "--service-id", "3", "--send"])
            .env("CUSTOMCD_URL", rx.url())
            .env("CUSTOMCD_TOKEN", TOKEN)
            .output()
            .expect("runs")
    };
    let out = run();
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    assert_eq!(rx.requests().len(), 3);
    // v2 goes on an older commit, dated between v1 and v3: the rewritten file sorts it in between.
    git(&repo.dir, &["checkout", "-q", &older]);
    tag_at("v2", "2024-01-02T10:00:00Z");
    let out = run();
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    let seen = counts(&rx);
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert!(seen.values().all(|n| *n == 1), "nothing twice: {seen:?}");
    assert!(seen.keys().any(|k| k.ends_with("@v2")), "{seen:?}");
    assert!(
        all_output(&out).contains("1 sent, 0 rejected, 0 undelivered, 0 retried, 3 skipped"),
        "{}",
        all_output(&out)
    );
}

#[test]
fn backfill_into_a_closed_pipe_exits_quietly() {
    let repo = Repo::new();
    for i in 0..50 {
        repo.commit(&format!("c{i}"));
        git(&repo.dir, &["tag", &format!("v{i}")]);
    }
    let mut child = Std::new(assert_cmd::cargo::cargo_bin("customcd"))
        .args(["backfill", "--from-git-tags", "v*", "--service-id", "3"])
        .env_clear()
        .env("HOME", &repo.dir)
        .current_dir(&repo.dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    // `| head -c 0`: the reader is gone before anything is written.
    drop(child.stdout.take());
    let (code, text) = wait_at_most(&mut child, Duration::from_secs(20));
    assert!(!text.contains("panicked"), "{text}");
    assert_eq!(code, Some(0), "{text}");
}

#[test]
fn a_full_disk_while_creating_a_checkpoint_leaves_nothing_that_blocks_the_next_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("jobs.jsonl");
    std::fs::write(&input, (0..3).map(|i| payload(&format!("full-{i}")) + "\n").collect::<String>()).expect("write");
    let rx = Receiver::ok();
    // RLIMIT_FSIZE of 30 bytes: the first write past it fails (SIGXFSZ), as a full disk would.
    let out = Std::new("prlimit")
        .arg("--fsize=30")
        .arg("--")
        .arg(assert_cmd::cargo::cargo_bin("customcd"))
        .arg("send")
        .arg(&input)
        .env_clear()
        .env("HOME", dir.path())
        .env("CUSTOMCD_URL", rx.url())
        .env("CUSTOMCD_TOKEN", TOKEN)
        .current_dir(dir.path())
        .output()
        .expect("prlimit runs");
    assert_ne!(out.status.code(), Some(0), "the write past the limit failed: {}", all_output(&out));
    assert!(
        !dir.path().join("jobs.jsonl.customcd-checkpoint").exists(),
        "no empty or partial checkpoint under its real name"
    );
    let out = customcd(dir.path())
        .arg("send")
        .arg(&input)
        .env("CUSTOMCD_URL", rx.url())
        .env("CUSTOMCD_TOKEN", TOKEN)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "the next run is not blocked: {}", all_output(&out));
    assert_eq!(counts(&rx).len(), 3);
}

#[test]
fn spool_checkpoint_and_rejects_are_private_even_with_umask_000() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = assert_cmd::cargo::cargo_bin("customcd");
    let down = Receiver::start(Reply::new(503, "unavailable"));
    let rx = Receiver::ok();
    let spool = dir.path().join("spool");
    let input = dir.path().join("jobs.jsonl");
    std::fs::write(&input, format!("{}\n{{'bad': 1}}\n", payload("private-1"))).expect("write");
    let run = |args: Vec<String>, url: &str| {
        Std::new("sh")
            .arg("-c")
            .arg("umask 000; exec \"$@\"")
            .arg("sh")
            .arg(&bin)
            .args(args)
            .env_clear()
            .env("HOME", dir.path())
            .env("CUSTOMCD_URL", url)
            .env("CUSTOMCD_TOKEN", TOKEN)
            .current_dir(dir.path())
            .output()
            .expect("sh runs")
    };
    let args = report_args(&spool.to_string_lossy(), "private-2", "1").into_iter().map(str::to_owned).collect();
    let out = run(args, &down.url());
    assert_eq!(out.status.code(), Some(4), "{}", all_output(&out));
    let out = run(vec!["send".to_owned(), input.to_string_lossy().into_owned()], &rx.url());
    assert_eq!(out.status.code(), Some(2), "{}", all_output(&out));
    let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode(&spool), 0o700);
    let kept = spool_files(&spool);
    assert_eq!(kept.len(), 1);
    assert_eq!(mode(&kept[0].0), 0o600);
    assert_eq!(mode(&dir.path().join("jobs.jsonl.customcd-checkpoint")), 0o600);
    assert_eq!(mode(&dir.path().join("customcd-rejects.jsonl")), 0o600);
}
