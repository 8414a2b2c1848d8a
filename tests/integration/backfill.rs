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

/// Runs git in `dir` with author, committer and tagger time `time` (epoch seconds).
fn git_at(dir: &std::path::Path, time: i64, args: &[&str]) -> String {
    git_as(dir, ("Rel", "release@example.com"), Some(time), args)
}

fn commit_at(repo: &Repo, time: i64, message: &str) -> String {
    git_at(&repo.dir, time, &["commit", "-q", "--allow-empty", "-m", message]);
    repo.head()
}

/// Each backfilled job by tag name: (previous_sha, commit_count), when it has a change set.
fn change_sets(out: &Ran) -> std::collections::BTreeMap<String, (String, u64)> {
    assert_eq!(out.code, Some(0), "{}", out.all());
    lines(out)
        .iter()
        .filter_map(|job| {
            let name = job["job_id"].as_str()?.rsplit('@').next()?.to_owned();
            let field =
                |key: &str| job["optional"].as_array()?.iter().find(|f| f["key"] == key).map(|f| f["value"].clone());
            Some((name, (field("previous_sha")?.as_str()?.to_owned(), field("commit_count")?.as_u64()?)))
        })
        .collect()
}

#[test]
fn side_commit_releases_ship_what_git_counts_since_the_release_made_just_before() {
    // casey/just's shape: each release is a version bump on a side branch, tagged, never merged.
    let repo = Repo::new();
    let t = 1_704_000_000;
    git_at(&repo.dir, t - 100, &["commit", "-q", "--amend", "--allow-empty", "--no-edit"]);
    git_at(&repo.dir, t - 90, &["tag", "-a", "-m", "v0.1", "v0.1"]);
    for (i, release) in ["v0.2", "v0.3", "v0.4"].iter().enumerate() {
        let base = t + 1_000 * (i as i64 + 1);
        for k in 0..3 {
            commit_at(&repo, base + k * 10, &format!("work {k}"));
        }
        git_at(&repo.dir, base + 50, &["checkout", "-q", "-b", &format!("release-{release}")]);
        commit_at(&repo, base + 60, &format!("Bump version to {release}"));
        git_at(&repo.dir, base + 70, &["tag", "-a", "-m", release, release]);
        git_at(&repo.dir, base + 80, &["checkout", "-q", "main"]);
    }
    let out = Run::new(&["backfill", "--from-git-tags", "v*", "--service-id", "3"]).repo(&repo).output();
    let sets = change_sets(&out);
    for (tag, previous) in [("v0.2", "v0.1"), ("v0.3", "v0.2"), ("v0.4", "v0.3")] {
        let want_sha = git(&repo.dir, &["rev-parse", &format!("{previous}^{{commit}}")]);
        let want_count: u64 =
            git(&repo.dir, &["rev-list", "--count", &format!("{previous}..{tag}")]).parse().expect("a count");
        assert_eq!(sets[tag], (want_sha, want_count), "{tag}: {}", out.all());
    }
    assert_eq!(sets["v0.4"].1, 4, "main's three commits and the bump, not every release since v0.1");
    assert!(!sets.contains_key("v0.1"), "the first release has no previous one");
}

#[test]
fn merged_up_maintenance_releases_ship_what_git_counts_since_the_release_git_describe_names() {
    // git/git's shape: a security fix on maint-1.0 (v1.0.1) merged up into maint-1.1 (v1.1.1)
    // minutes later, with v1.2-rc0 on main in between (main took maint-1.1's earlier fixes).
    let repo = Repo::new();
    let t = 1_704_000_000;
    let at = |dt: i64, args: &[&str]| git_at(&repo.dir, t + dt, args);
    at(0, &["commit", "-q", "--amend", "--allow-empty", "--no-edit"]);
    at(10, &["tag", "-a", "-m", "v1.0", "v1.0"]);
    at(20, &["branch", "maint-1.0"]);
    for k in 0..6 {
        commit_at(&repo, t + 100 + k * 10, "feature");
    }
    at(200, &["tag", "-a", "-m", "v1.1", "v1.1"]);
    at(210, &["branch", "maint-1.1"]);
    at(300, &["checkout", "-q", "maint-1.1"]);
    for k in 0..5 {
        commit_at(&repo, t + 310 + k * 10, "maint fix");
    }
    at(400, &["checkout", "-q", "main"]);
    at(410, &["merge", "-q", "--no-ff", "-m", "Merge maint-1.1", "maint-1.1"]);
    for k in 0..8 {
        commit_at(&repo, t + 500 + k * 10, "feature 1.2");
    }
    at(600, &["tag", "-a", "-m", "v1.2-rc0", "v1.2-rc0"]);
    at(700, &["checkout", "-q", "maint-1.0"]);
    commit_at(&repo, t + 710, "security fix");
    at(720, &["tag", "-a", "-m", "v1.0.1", "v1.0.1"]);
    at(730, &["checkout", "-q", "maint-1.1"]);
    at(740, &["merge", "-q", "--no-ff", "-m", "Sync with 1.0.1", "maint-1.0"]);
    commit_at(&repo, t + 750, "Git 1.1.1");
    at(760, &["tag", "-a", "-m", "v1.1.1", "v1.1.1"]);
    let out = Run::new(&["backfill", "--from-git-tags", "v*", "--service-id", "3"]).repo(&repo).output();
    let sets = change_sets(&out);
    for tag in ["v1.1", "v1.2-rc0", "v1.0.1", "v1.1.1"] {
        let described = git(&repo.dir, &["describe", "--abbrev=0", "--exclude", tag, tag]);
        let want_sha = git(&repo.dir, &["rev-parse", &format!("{described}^{{commit}}")]);
        let want_count: u64 =
            git(&repo.dir, &["rev-list", "--count", &format!("{described}..{tag}")]).parse().expect("a count");
        assert_eq!(sets[tag], (want_sha, want_count), "{tag} (git describe: {described}): {}", out.all());
    }
}

#[test]
fn a_rerun_after_a_tag_is_added_in_the_middle_sends_exactly_the_new_tag() {
    let repo = Repo::new();
    let t = 1_704_000_000;
    commit_at(&repo, t, "one");
    git(&repo.dir, &["tag", "v1"]);
    let two = commit_at(&repo, t + 100, "two");
    commit_at(&repo, t + 200, "three");
    commit_at(&repo, t + 300, "four");
    git(&repo.dir, &["tag", "v2"]);
    let rx = Server::ok();
    let run = |extra: &[&str]| {
        Run::new(&["backfill", "--from-git-tags", "v*", "--service-id", "3", "--send"])
            .args(extra)
            .repo(&repo)
            .server(&rx)
            .output()
    };
    let out = run(&[]);
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert_eq!(rx.requests().len(), 2);
    let v2_before = rx.requests()[1].json();
    // A release tag made late on "two", a lightweight tag dated by its commit: it sits between
    // v1 and v2, so v2's change set is now 2 commits instead of 3 (its body changed).
    git(&repo.dir, &["tag", "v1.5", &two]);
    let printed = Run::new(&["backfill", "--from-git-tags", "v*", "--service-id", "3"]).repo(&repo).output();
    let v2_now = lines(&printed).into_iter().find(|j| j["job_id"] == "acme/app@v2").expect("v2");
    assert_ne!(v2_now["optional"], v2_before["optional"], "v2's change set changed");
    let out = run(&[]);
    assert_eq!(out.code, Some(0), "{}", out.all());
    let sent: Vec<String> =
        rx.requests()[2..].iter().map(|r| r.json()["job_id"].as_str().unwrap_or("").to_owned()).collect();
    assert_eq!(sent, ["acme/app@v1.5"], "{}", out.all());
    assert!(out.stderr.contains("--resend"), "the skip names the way to send again: {}", out.all());
    // Asked for, every tag goes again.
    let out = run(&["--resend"]);
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert_eq!(rx.requests().len(), 6);
}
