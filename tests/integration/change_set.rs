//! What each deploy ships, read from real repositories built here: the change set between the
//! previous deploy and the deployed commit, sent as optional fields, or left out with the reason.

use std::path::Path;

use crate::support::*;
use serde_json::Value;

/// The job ends at this time (start 1704018030 + duration 300), so lead times are exact.
const END: i64 = 1_704_018_330;

/// A commit with a fixed author time and email.
fn commit_at(dir: &Path, message: &str, author_time: i64, email: &str) -> String {
    let date = format!("@{author_time} +0000");
    let out = std::process::Command::new("git")
        .args([
            "-c",
            "user.name=Dev",
            "-c",
            &format!("user.email={email}"),
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            message,
        ])
        .env("GIT_AUTHOR_DATE", &date)
        .env("GIT_COMMITTER_DATE", &date)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .current_dir(dir)
        .output()
        .expect("git commit");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    git(dir, &["rev-parse", "HEAD"])
}

/// `customcd report --dry-run` of a valid job in `dir`, with extra arguments and variables.
fn dry_run(dir: &Path, args: &[&str], vars: &[(&str, &str)]) -> Ran {
    let mut run = Run::new(&["report", "--dry-run", "--service-id", "2", "--status", "success"])
        .args(["--job-start-time", "1704018030", "--job-duration", "300", "--repo-name", "acme/app"])
        .args(args)
        .dir(dir);
    for (k, v) in vars {
        run = run.env(k, v);
    }
    run.output()
}

/// The optional fields of a dry run's body, by key.
fn fields(out: &Ran) -> serde_json::Map<String, Value> {
    assert_eq!(out.code, Some(0), "{}", out.all());
    let body: Value = serde_json::from_str(&out.stdout).expect("the dry run prints the JSON body");
    body["optional"]
        .as_array()
        .map(|list| list.iter().map(|f| (f["key"].as_str().unwrap_or("").to_owned(), f["value"].clone())).collect())
        .unwrap_or_default()
}

fn stderr(out: &Ran) -> String {
    out.stderr.clone()
}

#[test]
fn a_linear_history_ships_its_commits_with_their_lead_times() {
    let repo = Repo::new();
    let previous = commit_at(&repo.dir, "deployed last time", 1_703_000_000, "a@example.com");
    commit_at(&repo.dir, "one", 1_704_000_000, "a@example.com");
    commit_at(&repo.dir, "two", 1_704_010_000, "b@example.com");
    commit_at(&repo.dir, "three", 1_704_018_000, "B@example.com");
    let out = dry_run(&repo.dir, &["--previous-sha", &previous], &[]);
    let f = fields(&out);
    assert_eq!(f["previous_sha"], Value::from(previous.clone()));
    assert_eq!(f["commit_count"], Value::from(3));
    assert_eq!(f["first_commit_time"], Value::from(1_704_000_000));
    assert_eq!(f["lead_time"], Value::from(END - 1_704_000_000));
    assert_eq!(f["lead_time_median"], Value::from(END - 1_704_010_000));
    assert_eq!(f["author_count"], Value::from(2), "emails compare without case");
    assert_eq!(f["is_rollback"], Value::from(0));
    assert!(!f.contains_key("pull_requests"));
    assert!(stderr(&out).contains("ships 3 commits since"), "{}", stderr(&out));
    assert!(stderr(&out).contains("flag --previous-sha"), "the source is shown: {}", stderr(&out));
    // The same history as git counts it.
    let count = git(&repo.dir, &["rev-list", "--count", &format!("{previous}..HEAD")]);
    assert_eq!(f["commit_count"], Value::from(count.parse::<u64>().expect("a count")));
}

#[test]
fn merge_and_squash_commits_name_their_pull_requests() {
    let repo = Repo::new();
    let previous = repo.head();
    git(&repo.dir, &["checkout", "-q", "-b", "feature"]);
    commit_at(&repo.dir, "feature work", 1_704_000_000, "a@example.com");
    git(&repo.dir, &["checkout", "-q", "main"]);
    git(&repo.dir, &["merge", "-q", "--no-ff", "feature", "-m", "Merge pull request #12 from acme/feature"]);
    commit_at(&repo.dir, "Add the squashed thing (#15)", 1_704_010_000, "b@example.com");
    commit_at(
        &repo.dir,
        "Merge branch 'x' into 'main'\n\nSee merge request acme/app!31",
        1_704_011_000,
        "c@example.com",
    );
    let f = fields(&dry_run(&repo.dir, &["--previous-sha", &previous], &[]));
    assert_eq!(f["commit_count"], Value::from(4));
    let mut prs: Vec<u64> = f["pull_requests"].as_array().expect("a list").iter().filter_map(Value::as_u64).collect();
    prs.sort_unstable();
    assert_eq!(prs, [12, 15, 31]);
}

#[test]
fn deploying_an_older_commit_is_a_rollback_that_ships_nothing() {
    let repo = Repo::new();
    let older = commit_at(&repo.dir, "old", 1_704_000_000, "a@example.com");
    let newer = commit_at(&repo.dir, "new", 1_704_010_000, "a@example.com");
    let out = dry_run(&repo.dir, &["--previous-sha", &newer, "--commit-sha", &older], &[]);
    let f = fields(&out);
    assert_eq!(f["is_rollback"], Value::from(1));
    assert_eq!(f["commit_count"], Value::from(0));
    assert!(!f.contains_key("lead_time"), "nothing shipped, so no lead time");
    assert!(stderr(&out).contains("a rollback"), "{}", stderr(&out));
}

#[test]
fn a_force_push_or_a_hotfix_line_gives_gits_range_and_says_the_previous_deploy_is_no_ancestor() {
    let repo = Repo::new();
    let base = repo.head();
    let rewritten = commit_at(&repo.dir, "before the force-push", 1_704_000_000, "a@example.com");
    git(&repo.dir, &["reset", "-q", "--hard", &base]);
    commit_at(&repo.dir, "after the force-push", 1_704_010_000, "a@example.com");
    commit_at(&repo.dir, "and one more", 1_704_011_000, "b@example.com");
    let out = dry_run(&repo.dir, &["--previous-sha", &rewritten], &[]);
    let f = fields(&out);
    let want: u64 = git(&repo.dir, &["rev-list", "--count", &format!("{rewritten}..HEAD")]).parse().expect("count");
    assert_eq!(want, 2);
    assert_eq!(f["commit_count"], Value::from(want), "{}", out.all());
    assert_eq!(f["previous_sha"], Value::from(rewritten.clone()));
    assert_eq!(f["is_rollback"], Value::from(0));
    assert_eq!(f["first_commit_time"], Value::from(1_704_010_000));
    assert!(stderr(&out).contains("not an ancestor"), "{}", stderr(&out));
    // A hotfix line's previous deploy, the other way: the hotfix ships itself only.
    git(&repo.dir, &["checkout", "-q", "-b", "hotfix", &rewritten]);
    commit_at(&repo.dir, "hotfix", 1_704_012_000, "a@example.com");
    let main_tip = git(&repo.dir, &["rev-parse", "main"]);
    let out = dry_run(&repo.dir, &["--previous-sha", &main_tip], &[]);
    let want: u64 = git(&repo.dir, &["rev-list", "--count", &format!("{main_tip}..HEAD")]).parse().expect("count");
    assert_eq!(fields(&out)["commit_count"], Value::from(want));
    assert_eq!(want, 2, "the rewritten commit and the hotfix");
}

#[test]
fn a_shallow_clone_without_the_previous_commit_still_reports_and_names_the_fix() {
    let repo = Repo::new();
    let previous = commit_at(&repo.dir, "old", 1_704_000_000, "a@example.com");
    commit_at(&repo.dir, "new", 1_704_010_000, "a@example.com");
    let clone = repo.tmp.path().join("shallow");
    let url = format!("file://{}", repo.dir.display());
    git(repo.tmp.path(), &["clone", "-q", "--depth", "1", &url, clone.to_str().expect("utf-8")]);
    let out = dry_run(&clone, &["--previous-sha", &previous], &[]);
    let f = fields(&out);
    assert!(!f.contains_key("commit_count"), "{f:?}");
    assert!(stderr(&out).contains("fetch-depth: 0"), "{}", stderr(&out));
}

#[test]
fn a_sha256_repository_has_change_sets_too() {
    let repo = Repo::init(&["--object-format=sha256"], Some("https://github.com/acme/app.git"));
    let previous = repo.head();
    commit_at(&repo.dir, "one", 1_704_000_000, "a@example.com");
    let f = fields(&dry_run(&repo.dir, &["--previous-sha", &previous], &[]));
    assert_eq!(previous.len(), 64);
    assert_eq!(f["commit_count"], Value::from(1));
    assert_eq!(f["previous_sha"], Value::from(previous));
}

#[test]
fn a_first_deploy_sends_no_change_set_and_says_so() {
    let repo = Repo::new();
    let zeros = "0".repeat(40);
    let out = dry_run(&repo.dir, &[], &[("CUSTOMCD_PREVIOUS_SHA", &zeros)]);
    let f = fields(&out);
    assert!(!f.contains_key("previous_sha"), "{f:?}");
    assert!(stderr(&out).contains("change set not sent"), "{}", stderr(&out));
    assert!(stderr(&out).contains("null id"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("warning"), "a first deploy is not a problem: {}", stderr(&out));
    let out = dry_run(&repo.dir, &[], &[]);
    assert!(stderr(&out).contains("no previous deploy is known"), "{}", stderr(&out));
}

#[test]
fn the_previous_tag_is_the_nearest_match_below_the_deployed_commit_with_git_patterns() {
    let repo = Repo::new();
    commit_at(&repo.dir, "one", 1_704_000_000, "a@example.com");
    git(&repo.dir, &["tag", "v1.0.0"]);
    let v2 = commit_at(&repo.dir, "two", 1_704_001_000, "a@example.com");
    git(&repo.dir, &["tag", "v2.0.0"]);
    git(&repo.dir, &["tag", "-a", "-m", "not a release", "vx"]);
    commit_at(&repo.dir, "three", 1_704_002_000, "a@example.com");
    commit_at(&repo.dir, "four", 1_704_003_000, "a@example.com");
    git(&repo.dir, &["tag", "v3.0.0"]);
    let out = dry_run(&repo.dir, &["--previous-tag", "v[0-9]*"], &[]);
    let f = fields(&out);
    assert_eq!(f["previous_sha"], Value::from(v2), "v3.0.0 is on the deployed commit itself and is skipped");
    assert_eq!(f["commit_count"], Value::from(2));
    assert!(stderr(&out).contains("tag v2.0.0"), "{}", stderr(&out));
}

#[test]
fn each_ci_system_supplies_its_previous_build() {
    let repo = Repo::new();
    let previous = commit_at(&repo.dir, "old", 1_704_000_000, "a@example.com");
    let head = commit_at(&repo.dir, "new", 1_704_010_000, "a@example.com");
    let event = repo.tmp.path().join("event.json");
    std::fs::write(&event, format!(r#"{{"before":"{previous}","after":"{head}","ref":"refs/heads/main"}}"#))
        .expect("write");
    let event = event.to_string_lossy().into_owned();
    let systems: [(&str, Vec<(&str, &str)>); 3] = [
        (
            "GitHub Actions GITHUB_EVENT_PATH before (push)",
            vec![
                ("GITHUB_ACTIONS", "true"),
                ("GITHUB_EVENT_NAME", "push"),
                ("GITHUB_EVENT_PATH", &event),
                ("GITHUB_REPOSITORY", "acme/app"),
                ("GITHUB_SHA", &head),
            ],
        ),
        (
            "GitLab CI CI_COMMIT_BEFORE_SHA",
            vec![
                ("GITLAB_CI", "true"),
                ("CI_PIPELINE_SOURCE", "push"),
                ("CI_COMMIT_BEFORE_SHA", &previous),
                ("CI_COMMIT_SHA", &head),
            ],
        ),
        (
            "Jenkins GIT_PREVIOUS_SUCCESSFUL_COMMIT",
            vec![
                ("JENKINS_URL", "https://jenkins.example/"),
                ("GIT_PREVIOUS_COMMIT", &head),
                ("GIT_PREVIOUS_SUCCESSFUL_COMMIT", &previous),
                ("GIT_COMMIT", &head),
            ],
        ),
    ];
    for (source, vars) in systems {
        let out = dry_run(&repo.dir, &[], &vars);
        let f = fields(&out);
        assert_eq!(f.get("previous_sha"), Some(&Value::from(previous.clone())), "{source}: {}", stderr(&out));
        assert_eq!(f["commit_count"], Value::from(1), "{source}");
        assert!(stderr(&out).contains(source), "{source}: {}", stderr(&out));
    }
}

#[test]
fn the_users_own_fields_win_the_twenty_field_budget() {
    let repo = Repo::new();
    let previous = repo.head();
    commit_at(&repo.dir, "one", 1_704_000_000, "a@example.com");
    let mut args: Vec<String> = vec!["--previous-sha".into(), previous];
    for i in 0..19 {
        args.push("--field".into());
        args.push(format!("mine{i}=x"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = dry_run(&repo.dir, &args, &[]);
    let f = fields(&out);
    assert_eq!(f.len(), 20);
    assert!(f.contains_key("mine18") && f.contains_key("previous_sha"), "{f:?}");
    assert!(!f.contains_key("commit_count"));
    assert!(stderr(&out).contains("commit_count"), "the dropped fields are named: {}", stderr(&out));
}

#[test]
fn a_walk_past_the_limit_leaves_the_lead_time_out_rather_than_wrong() {
    let repo = Repo::new();
    let previous = repo.head();
    for i in 0..5 {
        commit_at(&repo.dir, &format!("c{i}"), 1_704_000_000 + i, "a@example.com");
    }
    let out = dry_run(&repo.dir, &["--previous-sha", &previous, "--change-set-limit", "3"], &[]);
    let f = fields(&out);
    assert!(f.contains_key("previous_sha"));
    assert!(!f.contains_key("lead_time") && !f.contains_key("commit_count"), "{f:?}");
    assert!(stderr(&out).contains("more than 3 commits"), "{}", stderr(&out));
}

#[test]
fn the_environment_is_a_setting_sent_as_an_optional_field() {
    let repo = Repo::new();
    let f = fields(&dry_run(&repo.dir, &["--environment", "production"], &[]));
    assert_eq!(f["environment"], Value::from("production"));
    let gitlab = [("GITLAB_CI", "true"), ("CI_ENVIRONMENT_NAME", "staging")];
    let f = fields(&dry_run(&repo.dir, &[], &gitlab));
    assert_eq!(f["environment"], Value::from("staging"));
    let f = fields(&dry_run(&repo.dir, &["--environment", "production"], &gitlab));
    assert_eq!(f["environment"], Value::from("production"), "the setting beats the CI system");
}

#[test]
fn a_backfilled_history_carries_the_change_set_since_each_previous_tag() {
    let repo = Repo::new();
    commit_at(&repo.dir, "one", 1_704_000_000, "a@example.com");
    git(&repo.dir, &["tag", "v1.0.0"]);
    commit_at(&repo.dir, "two", 1_704_001_000, "a@example.com");
    commit_at(&repo.dir, "Fix it (#9)", 1_704_002_000, "b@example.com");
    git(&repo.dir, &["tag", "v1.1.0"]);
    let out = Run::new(&["backfill", "--from-git-tags", "v[0-9]*", "--service-id", "3"]).repo(&repo).expect_exit(0);
    let jobs: Vec<Value> = out.stdout.lines().map(|l| serde_json::from_str(l).expect("JSON Lines")).collect();
    assert_eq!(jobs.len(), 2);
    assert!(jobs[0].get("optional").is_none(), "the first tag has no previous tag: {}", jobs[0]);
    let optional = jobs[1]["optional"].as_array().expect("the second tag has a change set");
    let get = |k: &str| optional.iter().find(|f| f["key"] == k).map(|f| f["value"].clone());
    assert_eq!(get("commit_count"), Some(Value::from(2)));
    assert_eq!(get("pull_requests"), Some(Value::from(vec![9])));
    assert_eq!(get("first_commit_time"), Some(Value::from(1_704_001_000)));
}

#[test]
fn a_github_deployment_event_names_the_environment() {
    let repo = Repo::new();
    let event = repo.tmp.path().join("event.json");
    let head = repo.head();
    std::fs::write(&event, format!(r#"{{"deployment":{{"sha":"{head}","environment":"staging"}}}}"#)).expect("write");
    let event = event.to_string_lossy().into_owned();
    let vars = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_EVENT_NAME", "deployment"),
        ("GITHUB_EVENT_PATH", event.as_str()),
        ("GITHUB_REPOSITORY", "acme/app"),
    ];
    let f = fields(&dry_run(&repo.dir, &[], &vars));
    assert_eq!(f["environment"], Value::from("staging"));
}
