//! Squash merges: a real repository with a squash-merged pull request (its own commits kept
//! under `refs/pull/7/head`, as GitHub keeps them) and a merged one, the lead time checked
//! against what git says of the same commits; and the same pull request read from a loopback
//! fake of GitHub's pull request commits when the clone lacks the ref.

use std::path::Path;

use crate::support::*;
use serde_json::{json, Value};

/// The job ends at this time (start 1704018030 + duration 300).
const END: i64 = 1_704_018_330;
const GH_TOKEN: &str = "ghs_FAKEGITHUBTOKEN_squash_0123456789";

/// Runs git with fixed author and committer dates.
fn git_at(dir: &Path, time: i64, args: &[&str]) -> String {
    git_as(dir, ("Dev", "dev@example.com"), Some(time), args)
}

fn commit(dir: &Path, time: i64, message: &str) -> String {
    git_at(dir, time, &["commit", "-q", "--allow-empty", "-m", message]);
    git(dir, &["rev-parse", "HEAD"])
}

/// main: first, then PR #7 squash-merged (its branch had two commits, 20 and 15 days before the
/// job), an unrelated commit, and PR #8 merged with a merge commit. Returns the repository, the
/// previous deploy (the first commit) and the ids of PR #7's own commits.
fn squashed_history() -> (Repo, String, Vec<String>) {
    let repo = Repo::new();
    let dir = &repo.dir;
    let previous = repo.head();
    git(dir, &["checkout", "-q", "-b", "feature"]);
    let f1 = commit(dir, END - 20 * 86_400, "feature: part one");
    let f2 = commit(dir, END - 15 * 86_400, "feature: part two");
    git(dir, &["checkout", "-q", "main"]);
    commit(dir, END - 10 * 86_400, "unrelated work");
    git_at(dir, END - 3_600, &["merge", "-q", "--squash", "feature"]);
    commit(dir, END - 3_600, "Add the feature (#7)");
    git(dir, &["update-ref", "refs/pull/7/head", "feature"]);
    git(dir, &["branch", "-q", "-D", "feature"]);
    git(dir, &["checkout", "-q", "-b", "other"]);
    commit(dir, END - 5 * 86_400, "other: one commit");
    git(dir, &["checkout", "-q", "main"]);
    git_at(dir, END - 1_800, &["merge", "-q", "--no-ff", "-m", "Merge pull request #8 from acme/other", "other"]);
    git(dir, &["update-ref", "refs/pull/8/head", "other"]);
    (repo, previous, vec![f1, f2])
}

fn dry_run(repo: &Repo, previous: &str) -> Run {
    Run::report().repo(repo).args(["--dry-run", "--repo-name", "acme/app", "--previous-sha", previous])
}

fn fields(out: &Ran) -> serde_json::Map<String, Value> {
    assert_eq!(out.code, Some(0), "{out}");
    let body: Value = serde_json::from_str(&out.stdout).expect("the dry run prints the JSON body");
    body["optional"]
        .as_array()
        .map(|list| list.iter().map(|f| (f["key"].as_str().unwrap_or("").to_owned(), f["value"].clone())).collect())
        .unwrap_or_default()
}

/// Author times, as git prints them, of `args` (a rev-list range).
fn author_times(repo: &Repo, args: &[&str]) -> Vec<i64> {
    let mut cmd = vec!["log", "--format=%at"];
    cmd.extend_from_slice(args);
    git(&repo.dir, &cmd).lines().map(|l| l.parse().expect("a time")).collect()
}

#[test]
fn a_squash_merged_pull_request_takes_its_lead_time_from_its_own_commits() {
    let (repo, previous, _) = squashed_history();
    let head = repo.head();
    let range = format!("{previous}..{head}");
    let out = dry_run(&repo, &previous).output();
    let f = fields(&out);
    // The count is git's: the squash commit counts once.
    let count: u64 = git(&repo.dir, &["rev-list", "--count", &range]).parse().expect("a count");
    assert_eq!(f["commit_count"], Value::from(count));
    // The times are the range's, the squash commit's replaced by the pull request's own commits
    // (those its head reaches and the squash commit does not), as git lists them.
    let squash = git(&repo.dir, &["log", "-1", "--format=%H %at", "--grep", "(#7)", &head]);
    let (_, squash_time) = squash.split_once(' ').expect("id and time");
    let mut times = author_times(&repo, &[&range]);
    let at = times.iter().position(|t| t.to_string() == squash_time).expect("the squash commit is in the range");
    times.remove(at);
    let own = author_times(&repo, &[&format!("{head}..refs/pull/7/head")]);
    assert_eq!(own.len(), 2, "PR #7 had two commits");
    times.extend(own);
    let first = *times.iter().min().expect("times");
    assert_eq!(f["first_commit_time"], Value::from(first), "{out}");
    assert_eq!(f["lead_time"], Value::from(END - first));
    assert_eq!(f["lead_time"], Value::from(20 * 86_400), "the change began 20 days before the deploy");
    times.sort_unstable();
    let leads: Vec<i64> = times.iter().rev().map(|t| END - t).collect();
    let median = if leads.len() % 2 == 1 {
        leads[leads.len() / 2]
    } else {
        (leads[leads.len() / 2 - 1] + leads[leads.len() / 2]) / 2
    };
    assert_eq!(f["lead_time_median"], Value::from(median));
    assert!(out.stderr.contains("lead times of squash-merged PR #7 from its 2 commits (refs/pull/7/head)"), "{out}");
    assert!(!out.stderr.contains("#8 from"), "PR #8 was merged, its commits are in the range: {out}");
}

#[test]
fn without_the_pull_requests_ref_the_merge_commits_time_stays_and_the_summary_says_so() {
    let (repo, previous, _) = squashed_history();
    git(&repo.dir, &["update-ref", "-d", "refs/pull/7/head"]);
    let head = repo.head();
    let out = dry_run(&repo, &previous).output();
    let f = fields(&out);
    let times = author_times(&repo, &[&format!("{previous}..{head}")]);
    assert_eq!(f["first_commit_time"], Value::from(*times.iter().min().expect("times")), "git's own times: {out}");
    assert!(out.stderr.contains("PR #7 keep their merge commit's time"), "{out}");
    assert!(out.stderr.contains("refs/pull/*/head"), "the fix is named: {out}");

    // With no pull request ref at all (and no API), the range is not walked again: it says so.
    git(&repo.dir, &["update-ref", "-d", "refs/pull/8/head"]);
    let out = dry_run(&repo, &previous).output();
    assert_eq!(fields(&out)["first_commit_time"], Value::from(*times.iter().min().expect("times")));
    assert!(out.stderr.contains("the own commits of PR #8, #7 were not looked for"), "{out}");
}

#[test]
fn without_the_ref_githubs_pull_request_commits_give_the_times_within_the_lookup_budget() {
    let (repo, previous, own) = squashed_history();
    let times: Vec<i64> =
        own.iter().map(|id| git(&repo.dir, &["log", "-1", "--format=%at", id]).parse().expect("t")).collect();
    git(&repo.dir, &["update-ref", "-d", "refs/pull/7/head"]);
    let commits: Vec<Value> = own
        .iter()
        .zip(&times)
        .map(|(id, t)| {
            let date = jiff::Timestamp::from_second(*t).expect("a time").to_string();
            json!({"sha": id, "commit": {"author": {"name": "Dev", "date": date}}})
        })
        .collect();
    let api = Server::start(
        Plan::always(Step::status(404))
            .route("/repos/acme/app/pulls/7/commits", Step::reply(200, &Value::from(commits).to_string())),
    );
    let out = dry_run(&repo, &previous)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_REPOSITORY", "acme/app")
        .env("GITHUB_API_URL", api.origin())
        .env("GITHUB_EVENT_NAME", "workflow_dispatch")
        .env("CUSTOMCD_GITHUB_TOKEN", GH_TOKEN)
        .output();
    let f = fields(&out);
    assert_eq!(f["lead_time"], Value::from(20 * 86_400), "{out}");
    assert!(out.stderr.contains("#7 from its 2 commits (GitHub's pull request commits)"), "{out}");
    let seen = api.only_request();
    assert!(seen.path.starts_with("/repos/acme/app/pulls/7/commits"), "only the squash is asked about: {}", seen.path);
    assert_eq!(seen.bearer(), GH_TOKEN);

    // A refusal leaves the merge commit's time, and says why.
    let api = Server::start(Plan::always(Step::status(403)));
    let out = dry_run(&repo, &previous)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_REPOSITORY", "acme/app")
        .env("GITHUB_API_URL", api.origin())
        .env("CUSTOMCD_GITHUB_TOKEN", GH_TOKEN)
        .output();
    assert_ne!(fields(&out)["lead_time"], Value::from(20 * 86_400));
    assert!(out.stderr.contains("PR #7 keep their merge commit's time") && out.stderr.contains("HTTP 403"), "{out}");
    assert!(out.stderr.contains("permissions: pull-requests: read"), "the fix names the permission: {out}");
    assert!(
        out.stderr.contains("::warning title=customcd::squash-merged PR #7 keep"),
        "a warning, not only a line: {out}"
    );
}

#[test]
fn gitlabs_squash_and_merge_takes_the_merge_requests_commits_in_place_of_both_of_its_commits() {
    let repo = Repo::new();
    let dir = &repo.dir;
    let previous = repo.head();
    git(dir, &["checkout", "-q", "-b", "feature"]);
    commit(dir, END - 30 * 86_400, "feature: part one");
    commit(dir, END - 25 * 86_400, "feature: part two");
    // GitLab squashes onto the target, then merges the squash commit with a merge commit.
    git(dir, &["checkout", "-q", "-b", "squashed", "main"]);
    git_at(dir, END - 7_200, &["merge", "-q", "--squash", "feature"]);
    commit(dir, END - 7_200, "Add the feature");
    git(dir, &["checkout", "-q", "main"]);
    let message = "Merge branch 'feature' into 'main'\n\nAdd the feature\n\nSee merge request acme/app!12";
    git_at(dir, END - 7_000, &["merge", "-q", "--no-ff", "-m", message, "squashed"]);
    git(dir, &["update-ref", "refs/merge-requests/12/head", "feature"]);
    git(dir, &["branch", "-q", "-D", "feature", "squashed"]);
    let head = repo.head();
    let out = dry_run(&repo, &previous).output();
    let f = fields(&out);
    // git's view: the range is the squash commit and the merge commit, both dated at the merge.
    let range = author_times(&repo, &[&format!("{previous}..{head}")]);
    assert_eq!(range, [END - 7_000, END - 7_200]);
    let own = author_times(&repo, &[&format!("{head}..refs/merge-requests/12/head")]);
    assert_eq!(f["commit_count"], Value::from(2));
    assert_eq!(f["first_commit_time"], Value::from(*own.iter().min().expect("own")), "{out}");
    assert_eq!(f["lead_time"], Value::from(30 * 86_400));
    // Both merge-time commits gave way: the median is over the two commits of the request.
    assert_eq!(f["lead_time_median"], Value::from((30 * 86_400 + 25 * 86_400) / 2));
    assert!(out.stderr.contains("#12 from its 2 commits (refs/merge-requests/12/head)"), "{out}");
}
