//! `customcd backfill --from-git-tags`: history from real tags in temporary repositories.

use crate::support::*;

fn tag_repo(init: &[&str]) -> Repo {
    let repo = Repo::init(init, Some("https://bob:hunter2-secret@github.com/acme/app.git"));
    // Lightweight tag on the first commit, committed at a fixed time.
    std::process::Command::new("git")
        .args([
            "-c",
            "user.name=Dev",
            "-c",
            "user.email=dev@example.com",
            "commit",
            "-q",
            "--amend",
            "--allow-empty",
            "--no-edit",
        ])
        .env("GIT_COMMITTER_DATE", "2024-01-01T10:00:00Z")
        .current_dir(&repo.dir)
        .status()
        .expect("git commit --amend");
    git(&repo.dir, &["tag", "v1.0.0"]);
    std::process::Command::new("git")
        .args([
            "-c",
            "user.name=Rel",
            "-c",
            "user.email=release@example.com",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "two",
        ])
        .env("GIT_COMMITTER_DATE", "2024-01-02T10:00:00Z")
        .env("GIT_AUTHOR_DATE", "2024-01-02T10:00:00Z")
        .current_dir(&repo.dir)
        .status()
        .expect("git commit");
    // Annotated tag with a tagger time of its own.
    std::process::Command::new("git")
        .args([
            "-c",
            "user.name=Rel",
            "-c",
            "user.email=release@example.com",
            "tag",
            "-a",
            "v1.1.0",
            "-m",
            "release 1.1",
        ])
        .env("GIT_COMMITTER_DATE", "2024-01-03T12:00:00Z")
        .current_dir(&repo.dir)
        .status()
        .expect("git tag");
    git(&repo.dir, &["tag", "nightly-7"]);
    repo
}

fn lines(out: &Ran) -> Vec<serde_json::Value> {
    out.stdout.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect()
}

#[test]
fn matching_tags_become_jobs_oldest_first() {
    let repo = tag_repo(&[]);
    let first = git(&repo.dir, &["rev-parse", "v1.0.0^{commit}"]);
    let second = git(&repo.dir, &["rev-parse", "v1.1.0^{commit}"]);
    let first_time: i64 = git(&repo.dir, &["log", "-1", "--format=%ct", "v1.0.0"]).parse().expect("epoch");
    let out = Run::new(&["backfill", "--from-git-tags", "v*", "--service-id", "3", "--job-type", "Production Deploy"])
        .repo(&repo)
        .expect_exit(0);
    let jobs = lines(&out);
    assert_eq!(jobs.len(), 2, "nightly-7 does not match v*");
    assert_eq!(jobs[0]["job_id"], "acme/app@v1.0.0");
    assert_eq!(jobs[0]["commit_sha"], first);
    assert_eq!(first_time, 1_704_103_200);
    assert_eq!(jobs[0]["job_start_time"], first_time, "a lightweight tag takes the commit's time");
    assert!(jobs[0].get("triggered_by").is_none());
    assert_eq!(jobs[1]["job_id"], "acme/app@v1.1.0");
    assert_eq!(jobs[1]["commit_sha"], second, "an annotated tag is peeled to its commit");
    assert_eq!(jobs[1]["job_start_time"], 1_704_283_200, "the tagger's time");
    assert_eq!(jobs[1]["triggered_by"], "release@example.com");
    for j in &jobs {
        assert_eq!(j["status"], "Succeeded");
        assert_eq!(j["service_id"], 3);
        assert_eq!(j["job_type"], "Production Deploy");
        assert_eq!(j["repo_name"], "acme/app");
        assert_eq!(j["job_duration"], 0);
    }
    assert!(!out.all().contains("hunter2"));
}

#[test]
fn sha256_repositories_backfill_too() {
    let repo = tag_repo(&["--object-format=sha256"]);
    let out = Run::new(&["backfill", "--from-git-tags", "v1.1*", "--service-id", "3"]).repo(&repo).expect_exit(0);
    let jobs = lines(&out);
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0]["commit_sha"].as_str().map(str::len), Some(64));
}

#[test]
fn a_missing_service_id_is_reported_once() {
    let repo = tag_repo(&[]);
    let out = Run::new(&["backfill", "--from-git-tags", "v*"]).repo(&repo).output();
    assert_eq!(out.code, Some(2));
    assert!(out.stdout.is_empty());
    assert!(out.stderr.contains("service_id"));
}

#[test]
fn send_delivers_every_tag_once_and_a_rerun_sends_nothing_new() {
    let repo = tag_repo(&[]);
    let rx = Server::ok();
    let run = || {
        Run::new(&["backfill", "--from-git-tags", "*", "--service-id", "3", "--send"])
            .repo(&repo)
            .server(&rx)
            .env("CUSTOMCD_COMMIT_SHA", "0000000000000000000000000000000000000000")
            .output()
    };
    let out = run();
    assert_eq!(out.code, Some(0), "{}", out.all());
    let reqs = rx.requests();
    assert_eq!(reqs.len(), 3);
    assert!(
        reqs.iter().all(|r| r.json()["commit_sha"] != "0000000000000000000000000000000000000000"),
        "CUSTOMCD_COMMIT_SHA is not stamped on history"
    );
    let out = run();
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert_eq!(rx.requests().len(), 3, "the checkpoint remembers what was sent");
}

/// A repository with the tags real ones have: `v1.0`, `v2.0` (annotated), `vx`, a nested
/// release tag, a tag of a blob (a GPG key, annotated as such keys are) and a lightweight tag of
/// a tree.
fn real_world_tags() -> Repo {
    let repo = Repo::init(&[], Some("https://github.com/acme/app.git"));
    git(&repo.dir, &["tag", "v1.0"]);
    repo.commit("two");
    git(&repo.dir, &["tag", "-a", "v2.0", "-m", "release 2.0"]);
    git(&repo.dir, &["tag", "vx"]);
    git(&repo.dir, &["tag", "release/2024/01"]);
    std::fs::write(repo.dir.join("key.asc"), "-----BEGIN PGP PUBLIC KEY BLOCK-----\n").expect("write");
    let blob = git(&repo.dir, &["hash-object", "-w", "key.asc"]);
    git(&repo.dir, &["tag", "-a", "v9-signing-key", "-m", "the release signing key", &blob]);
    let tree = git(&repo.dir, &["rev-parse", "HEAD^{tree}"]);
    git(&repo.dir, &["tag", "v8-tree", &tree]);
    repo
}

/// The tags `backfill` reports for `pattern`, and its output.
fn backfilled(repo: &Repo, pattern: &str) -> (Vec<String>, Ran) {
    let out = Run::new(&["backfill", "--from-git-tags", pattern, "--service-id", "3"]).repo(repo).output();
    let mut names: Vec<String> = lines(&out)
        .iter()
        .map(|j| j["job_id"].as_str().unwrap_or_default().trim_start_matches("acme/app@").to_owned())
        .collect();
    names.sort();
    (names, out)
}

#[test]
fn tag_patterns_match_exactly_what_git_tag_list_matches() {
    let repo = real_world_tags();
    let not_commits = ["v8-tree", "v9-signing-key"];
    for pattern in
        ["v[0-9]*", "v*", "*", "v?.0", "v[!0-9]*", "release/*", "*/01", "[rv]*", "v[[:digit:]].0", "nothing*"]
    {
        let mut want: Vec<String> = git(&repo.dir, &["tag", "-l", pattern])
            .lines()
            .filter(|t| !not_commits.contains(t))
            .map(str::to_owned)
            .collect();
        want.sort();
        let (got, out) = backfilled(&repo, pattern);
        assert_eq!(out.code, Some(0), "{pattern}: {}", out.all());
        assert_eq!(got, want, "{pattern}");
    }
    let (got, _) = backfilled(&repo, "v[0-9]*");
    assert_eq!(got, ["v1.0", "v2.0"], "the pattern from the issue matches the release tags");
}

#[test]
fn tags_of_trees_and_blobs_are_skipped_with_a_warning_naming_each() {
    let repo = real_world_tags();
    let (got, out) = backfilled(&repo, "v*");
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert_eq!(got, ["v1.0", "v2.0", "vx"]);
    let stderr = out.stderr.clone();
    assert!(stderr.contains("warning: tag v8-tree is skipped: it names a tree"), "{stderr}");
    assert!(stderr.contains("warning: tag v9-signing-key is skipped: it names a blob"), "{stderr}");
    assert!(!stderr.contains("run inside the repository"), "{stderr}");

    let (got, out) = backfilled(&repo, "v9*");
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert!(got.is_empty());
    assert!(out.stderr.contains("no tag of a commit matches \"v9*\""), "{}", out.all());
}

#[test]
fn the_job_id_names_the_repository_given_by_flag_when_there_is_no_origin() {
    let repo = Repo::init(&[], None);
    git(&repo.dir, &["tag", "v1"]);
    let out = Run::new(&["backfill", "--from-git-tags", "v*", "--service-id", "3", "--repo-name", "acme/other"])
        .repo(&repo)
        .expect_exit(0);
    let job: serde_json::Value = serde_json::from_str(&out.stdout).expect("one JSON line");
    assert_eq!(job["job_id"], "acme/other@v1");
}
