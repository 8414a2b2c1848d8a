//! At least once, for real: a job is acknowledged or on disk at every instant (SIGKILL and SIGTERM
//! during retries), resume state is keyed by what records are (a tag added in the middle of a
//! backfill), concurrent senders split a spool, bad spool entries are counted one by one, and
//! files at predictable places are never followed or planted.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command as Std;
use std::time::{Duration, Instant};

use crate::support::*;

const SHA: &str = "a2e7da86cc392417b0d9f605b28038aae80b002f";

fn payload(id: &str) -> String {
    format!(
        r#"{{"job_id":"{id}","commit_sha":"{SHA}","service_id":2,"job_start_time":1704018030,"job_duration":60,"status":"Succeeded","repo_name":"acme/app"}}"#
    )
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

fn counts(rx: &Server) -> BTreeMap<String, usize> {
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
    let down = Server::start(Plan::always(Step::reply(503, "unavailable")));
    let mut attempted = Vec::new();
    for i in 0..20u64 {
        let id = format!("kill-{i}");
        let before = down.requests().len();
        let child = Run::new(&report_args(&spool_s, &id, "30")).dir(dir.path()).server(&down).spawn();
        // Every fourth kill lands anywhere from the start; the others during the retries.
        if i % 4 != 0 {
            wait_for("the first attempt", Duration::from_secs(20), || down.requests().len() > before);
        }
        std::thread::sleep(jitter(1500, i));
        child.signal("-KILL");
        let out = child.finish(Duration::from_secs(10));
        assert_eq!(out.code, None, "killed by SIGKILL: {out}");
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

    let up = Server::ok();
    // `up` plays the same endpoint come back (on another port: --any-endpoint says it is ours).
    Run::new(&["send", &spool_s, "--any-endpoint"]).dir(dir.path()).server(&up).expect_exit(0);
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
    let down = Server::start(Plan::always(Step::reply(503, "unavailable")));
    let child = Run::new(&report_args(&spool_s, "term-1", "60")).dir(dir.path()).server(&down).spawn();
    wait_for("two attempts", Duration::from_secs(20), || down.requests().len() >= 2);
    let sent_at = Instant::now();
    child.signal("-TERM");
    let out = child.finish(Duration::from_secs(10));
    let text = out.all();
    assert!(sent_at.elapsed() < Duration::from_secs(3), "gone promptly: {:?}", sent_at.elapsed());
    assert_eq!(out.code, Some(130), "{text}");
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
    let rx = Server::ok();
    Run::new(&report_args(&spool.to_string_lossy(), "ok-1", "10")).dir(dir.path()).server(&rx).expect_exit(0);
    let left: Vec<_> =
        std::fs::read_dir(&spool).expect("the spool was made").filter_map(Result::ok).map(|e| e.file_name()).collect();
    assert_eq!(left, [LEDGER], "no file, no temporary; only the acknowledgement ledger");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&spool).expect("stat").permissions().mode() & 0o777, 0o700);
    assert_eq!(std::fs::metadata(spool.join(LEDGER)).expect("stat").permissions().mode() & 0o777, 0o600);
}

#[test]
fn a_job_still_being_reported_is_left_to_its_report_by_a_concurrent_send() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = dir.path().join("spool");
    let spool_s = spool.to_string_lossy().into_owned();
    let down = Server::start(Plan::always(Step::reply(503, "unavailable")));
    let report = Run::new(&report_args(&spool_s, "busy-1", "60")).dir(dir.path()).server(&down).spawn();
    wait_for("the first attempt", Duration::from_secs(20), || !down.requests().is_empty());
    let up = Server::ok();
    // `up` plays the same endpoint come back (on another port: --any-endpoint says it is ours).
    let out = Run::new(&["send", &spool_s, "--any-endpoint"]).dir(dir.path()).server(&up).output();
    report.signal("-TERM");
    let _ = report.finish(Duration::from_secs(10));
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert!(up.requests().is_empty(), "the report owns it while it retries");
    assert!(out.all().contains("1 left to another sender"), "{}", out.all());
}

#[test]
fn two_senders_over_one_spool_deliver_each_of_40_jobs_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = dir.path().join("spool");
    std::fs::create_dir(&spool).expect("mkdir");
    for i in 0..40 {
        std::fs::write(spool.join(format!("{i:03}-job.json")), payload(&format!("pair-{i}"))).expect("write");
    }
    let rx = Server::ok();
    let spool_s = spool.to_string_lossy().into_owned();
    let sender = || Run::new(&["send", &spool_s, "--concurrency", "2"]).dir(dir.path()).server(&rx).spawn();
    let (a, b) = (sender(), sender());
    let (a, b) = (a.finish(Duration::from_secs(60)), b.finish(Duration::from_secs(60)));
    let (code_a, text_a, code_b, text_b) = (a.code, a.all(), b.code, b.all());
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
    let rx = Server::ok();
    let out = Run::send().arg(&spool).dir(dir.path()).server(&rx).timeout(Duration::from_secs(20)).output();
    let (code, text) = (out.code, out.all());
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
    let down = Server::start(Plan::always(Step::reply(503, "unavailable")));
    let child = Run::send().arg(&spool).args(["--deadline", "120"]).dir(dir.path()).server(&down).spawn();
    wait_for("the first attempt", Duration::from_secs(20), || !down.requests().is_empty());
    let sent_at = Instant::now();
    child.signal("-TERM");
    let out = child.finish(Duration::from_secs(15));
    let (code, text) = (out.code, out.all());
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
    let rx = Server::ok();
    let out = Run::new(&["send"])
        .repo(&repo)
        .env("GITLAB_CI", "true")
        .env("CI_PROJECT_DIR", &repo.dir)
        .env("TMPDIR", tmp.path())
        .server(&rx)
        .expect_exit(0);
    assert!(rx.requests().is_empty(), "the planted job was not sent");
    assert!(out.all().contains(&tmp.path().display().to_string()), "{}", out.all());
}

#[test]
fn a_symlink_planted_at_the_rejects_file_is_not_followed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious\n").expect("write");
    std::os::unix::fs::symlink(&victim, dir.path().join("customcd-rejects.jsonl")).expect("symlink");
    let input = dir.path().join("jobs.jsonl");
    std::fs::write(&input, "{'job_id': 1}\n").expect("write");
    let rx = Server::ok();
    let out = Run::new(&["send"]).dir(dir.path()).arg(&input).server(&rx).output();
    assert_ne!(out.code, Some(0), "{}", out.all());
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
    let rx = Server::ok();
    let run = || {
        Run::new(&["backfill", "--from-git-tags", "v*", "--service-id", "3", "--send"]).repo(&repo).server(&rx).output()
    };
    let out = run();
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert_eq!(rx.requests().len(), 3);
    // v2 goes on an older commit, dated between v1 and v3: the rewritten file sorts it in between.
    git(&repo.dir, &["checkout", "-q", &older]);
    tag_at("v2", "2024-01-02T10:00:00Z");
    let out = run();
    assert_eq!(out.code, Some(0), "{}", out.all());
    let seen = counts(&rx);
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert!(seen.values().all(|n| *n == 1), "nothing twice: {seen:?}");
    assert!(seen.keys().any(|k| k.ends_with("@v2")), "{seen:?}");
    assert!(out.all().contains("1 sent, 0 rejected, 0 undelivered, 0 retried, 3 skipped"), "{}", out.all());
}

#[test]
fn backfill_into_a_closed_pipe_exits_quietly() {
    let repo = Repo::new();
    for i in 0..50 {
        repo.commit(&format!("c{i}"));
        git(&repo.dir, &["tag", &format!("v{i}")]);
    }
    // `| head -c 0`: the reader is gone before anything is written.
    let out = Run::new(&["backfill", "--from-git-tags", "v*", "--service-id", "3"])
        .repo(&repo)
        .stdout_closed()
        .timeout(Duration::from_secs(20))
        .output();
    assert!(!out.stderr.contains("panicked"), "{out}");
    assert_eq!(out.code, Some(0), "{out}");
}

#[test]
fn a_full_disk_while_creating_a_checkpoint_leaves_nothing_that_blocks_the_next_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("jobs.jsonl");
    std::fs::write(&input, (0..3).map(|i| payload(&format!("full-{i}")) + "\n").collect::<String>()).expect("write");
    let rx = Server::ok();
    // RLIMIT_FSIZE of 30 bytes: the first write past it fails (SIGXFSZ), as a full disk would.
    let out = Run::send().arg(&input).dir(dir.path()).server(&rx).through(&["prlimit", "--fsize=30", "--"]).output();
    assert_ne!(out.code, Some(0), "the write past the limit failed: {}", out.all());
    assert!(
        !dir.path().join("jobs.jsonl.customcd-checkpoint").exists(),
        "no empty or partial checkpoint under its real name"
    );
    let out = Run::new(&["send"]).dir(dir.path()).arg(&input).server(&rx).output();
    assert_eq!(out.code, Some(0), "the next run is not blocked: {}", out.all());
    assert_eq!(counts(&rx).len(), 3);
}

#[test]
fn spool_checkpoint_and_rejects_are_private_even_with_umask_000() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let down = Server::start(Plan::always(Step::reply(503, "unavailable")));
    let rx = Server::ok();
    let spool = dir.path().join("spool");
    let input = dir.path().join("jobs.jsonl");
    std::fs::write(&input, format!("{}\n{{'bad': 1}}\n", payload("private-1"))).expect("write");
    let umask_000 = |run: Run| run.dir(dir.path()).through(&["sh", "-c", "umask 000; exec \"$@\"", "sh"]);
    // By default an outage warns and exits 0; the job is kept in the spool.
    umask_000(Run::new(&report_args(&spool.to_string_lossy(), "private-2", "1")).server(&down)).expect_exit(0);
    umask_000(Run::send().arg(&input).args(["--spool-dir", &spool.to_string_lossy()]).server(&rx)).expect_exit(2);
    let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode(&spool), 0o700);
    let kept = spool_files(&spool);
    assert_eq!(kept.len(), 1);
    assert_eq!(mode(&kept[0].0), 0o600);
    assert_eq!(mode(&spool.join(LEDGER)), 0o600);
    assert_eq!(mode(&dir.path().join("customcd-rejects.jsonl")), 0o600);
}

#[test]
fn a_kept_copy_of_an_acknowledged_job_is_not_sent_again_by_a_spool_resend_unless_asked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = dir.path().join("spool");
    let spool_arg = spool.to_string_lossy().into_owned();
    let rx = Server::ok();
    let mut args = report_args(&spool_arg, "kept-1", "5");
    args.push("--spool-always");
    Run::new(&args).dir(dir.path()).server(&rx).expect_exit(0);
    assert_eq!(spool_files(&spool).len(), 1, "the copy is kept");
    // `customcd send` of the spool, as a CI step's `if: always()` resend runs it.
    let out = Run::send().args(["--spool-dir", &spool_arg]).dir(dir.path()).server(&rx).expect_exit(0);
    assert_eq!(rx.requests().len(), 1, "acknowledged once, sent once: {}", out.all());
    assert!(out.all().contains("job kept-1 of service 2 was acknowledged"), "{}", out.all());
    assert!(out.all().contains("--resend"), "the message names the way to send it again: {}", out.all());
    // The user asks: it goes again, and the copy is removed once delivered.
    let out = Run::send().args(["--spool-dir", &spool_arg, "--resend"]).dir(dir.path()).server(&rx).expect_exit(0);
    assert_eq!(rx.requests().len(), 2, "{}", out.all());
    assert!(spool_files(&spool).is_empty());
}

#[test]
fn identity_is_endpoint_service_and_job_id_so_another_service_or_server_is_another_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = dir.path().join("spool");
    let spool_arg = spool.to_string_lossy().into_owned();
    let input = dir.path().join("jobs.jsonl");
    let other_service = payload("same-id").replace("\"service_id\":2", "\"service_id\":5");
    let changed = payload("same-id").replace("\"job_duration\":60", "\"job_duration\":61");
    std::fs::write(&input, format!("{}\n{other_service}\n", payload("same-id"))).expect("write");
    let (a, b) = (Server::ok(), Server::ok());
    let send =
        |server: &Server| Run::send().arg(&input).args(["--spool-dir", &spool_arg]).dir(dir.path()).server(server);
    send(&a).expect_exit(0);
    assert_eq!(a.requests().len(), 2, "two services, two deploys");
    // The same two jobs to another endpoint are deliveries of their own.
    send(&b).expect_exit(0);
    assert_eq!(b.requests().len(), 2);
    // The same deploy with another body (a duration fixed) is the same record: not sent again.
    std::fs::write(&input, format!("{changed}\n{changed}\n")).expect("write");
    let out = send(&a).expect_exit(0);
    assert_eq!(a.requests().len(), 2, "{}", out.all());
    assert!(out.stderr.contains("2 skipped"), "{}", out.all());
}

#[test]
fn a_job_acknowledged_but_not_yet_recorded_is_sent_again_never_lost() {
    // A crash between the server's 2xx and the ledger's line: the ledger does not hold the job,
    // so the kept copy is sent again (at least once), and recorded this time.
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = dir.path().join("spool");
    let spool_arg = spool.to_string_lossy().into_owned();
    let rx = Server::ok();
    let mut args = report_args(&spool_arg, "crash-1", "5");
    args.push("--spool-always");
    Run::new(&args).dir(dir.path()).server(&rx).expect_exit(0);
    std::fs::remove_file(spool.join(LEDGER)).expect("the line was never written");
    Run::send().args(["--spool-dir", &spool_arg]).dir(dir.path()).server(&rx).expect_exit(0);
    assert_eq!(rx.requests().len(), 2, "sent again rather than lost");
    let ledger = std::fs::read_to_string(spool.join(LEDGER)).expect("recorded now");
    assert_eq!(ledger.lines().count(), 2, "a header and one identity: {ledger}");
}

#[test]
fn an_older_checkpoint_beside_an_input_still_stops_what_it_recorded_from_going_again() {
    use sha2::Digest as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let rx = Server::ok();
    let input = dir.path().join("jobs.jsonl");
    std::fs::write(&input, format!("{}\n{}\n", payload("old-1"), payload("old-2"))).expect("write");
    // What customcd 1.0 wrote beside the file after old-1 was acknowledged: sha256(endpoint, 0, body).
    let mut h = sha2::Sha256::new();
    h.update(rx.url().as_bytes());
    h.update([0u8]);
    h.update(payload("old-1").as_bytes());
    let digest: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let cp = dir.path().join("jobs.jsonl.customcd-checkpoint");
    std::fs::write(&cp, format!("customcd-checkpoint v2 sha256(endpoint, body)\n{digest}\n")).expect("write");
    let out = Run::send()
        .arg(&input)
        .args(["--spool-dir", &dir.path().join("spool").to_string_lossy()])
        .dir(dir.path())
        .server(&rx)
        .expect_exit(0);
    let sent: Vec<String> =
        rx.requests().iter().map(|r| r.json()["job_id"].as_str().unwrap_or("").to_owned()).collect();
    assert_eq!(sent, ["old-2"], "{}", out.all());
}

#[test]
fn a_send_with_nothing_to_send_creates_no_spool_and_no_ledger() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = dir.path().join("spool");
    let rx = Server::ok();
    let out = Run::send().args(["--spool-dir", &spool.to_string_lossy()]).dir(dir.path()).server(&rx).expect_exit(0);
    assert!(out.all().contains("nothing to send"), "{}", out.all());
    assert!(!spool.exists(), "the spool directory was made: {}", out.all());
    assert!(rx.requests().is_empty());
}

#[test]
fn a_spool_directory_is_sent_with_the_concurrency_json_lines_get() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = dir.path().join("spool");
    let spool_s = spool.to_string_lossy().into_owned();
    let down = Server::start(Plan::always(Step::status(503)));
    for i in 0..8 {
        let id = format!("c-{i}");
        Run::new(&report_args(&spool_s, &id, "1")).dir(dir.path()).server(&down).output();
    }
    assert_eq!(spool_files(&spool).len(), 8);
    // Each answer takes 400 ms: one at a time that is 3.2 s; four at a time under 2 s.
    let slow = Server::start(Plan::always(Step::Late(Duration::from_millis(400), Reply::new(200, OK_BODY))));
    let started = std::time::Instant::now();
    Run::new(&["send", &spool_s, "--concurrency", "4", "--any-endpoint"]).dir(dir.path()).server(&slow).expect_exit(0);
    let took = started.elapsed();
    assert_eq!(slow.requests().len(), 8, "each job once");
    assert!(took < Duration::from_millis(2000), "took {took:?}: the files went one at a time");
    assert!(spool_files(&spool).is_empty());
}
