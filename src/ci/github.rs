//! GitHub Actions, and the Gitea and Forgejo runners that imitate it.

use crate::env::Env;
use crate::git::remote;
use crate::vocab::names::Key;
use crate::vocab::source::{Source, Sourced};

use super::{Ci, Context, Vars};

pub(super) fn detect(env: &Env) -> bool {
    env.get("GITHUB_ACTIONS").is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

pub(super) fn detect_gitea(env: &Env) -> bool {
    env.get("GITEA_ACTIONS").is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

pub(super) fn detect_forgejo(env: &Env) -> bool {
    env.get("FORGEJO_ACTIONS").is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

pub(super) fn read(env: &Env) -> Ci {
    read_as(env, "GitHub Actions")
}

pub(super) fn read_gitea(env: &Env) -> Ci {
    read_as(env, "Gitea Actions")
}

pub(super) fn read_forgejo(env: &Env) -> Ci {
    read_as(env, "Forgejo Actions")
}

fn read_as(env: &Env, system: &'static str) -> Ci {
    let v = Vars::new(env, system);
    let mut ci = Ci::new(system);
    ci.github_like = true;

    let repo = v.get("GITHUB_REPOSITORY");
    ci.repo = repo.as_ref().map(|r| r.value.clone());
    ci.set(Key::RepoName, repo);
    // Who started this attempt (re-runs included), else who started the run; nobody on a
    // schedule, where GITHUB_ACTOR is whoever last edited the cron ("the user that last modified
    // the cron syntax in the workflow file", GitHub's events page).
    if v.raw("GITHUB_EVENT_NAME") != Some("schedule") {
        ci.set(Key::TriggeredBy, v.first(&["GITHUB_TRIGGERING_ACTOR", "GITHUB_ACTOR"]));
    }
    // GITHUB_RUN_ID repeats on re-runs and matrix legs share GITHUB_JOB: all three are needed,
    // and the matrix leg too when the job is one.
    let names: &[&str] = if v.raw("GITHUB_RUN_ATTEMPT").is_some() {
        &["GITHUB_RUN_ID", "GITHUB_RUN_ATTEMPT", "GITHUB_JOB"]
    } else {
        &["GITHUB_RUN_ID", "GITHUB_JOB"]
    };
    let job_id = v.joined(names);
    ci.job_key = job_id.as_ref().map(|j| j.value.clone());
    ci.set(Key::JobId, job_id);
    // Written by `customcd start` in the action's pre-entrypoint, passed to later stages as state.
    ci.set(Key::JobStartTime, v.get("STATE_job_start_time"));

    ci.commit = v.get("GITHUB_SHA");
    event_head(&v, &mut ci);
    deletion(&v, &mut ci);
    deployment_environment(&v, &mut ci);

    let run_url = match (v.raw("GITHUB_SERVER_URL"), v.raw("GITHUB_REPOSITORY"), v.raw("GITHUB_RUN_ID")) {
        (Some(server), Some(repo), Some(run)) => {
            let mut url = format!("{}/{repo}/actions/runs/{run}", remote::redact(server).trim_end_matches('/'));
            if let Some(attempt) = v.raw("GITHUB_RUN_ATTEMPT") {
                url.push_str(&format!("/attempts/{attempt}"));
            }
            Some(v.derived(url, "GITHUB_SERVER_URL/GITHUB_REPOSITORY/actions/runs/GITHUB_RUN_ID"))
        }
        _ => None,
    };
    ci.context(Context::RunUrl, run_url);
    ci.context(Context::Branch, v.first(&["GITHUB_HEAD_REF", "GITHUB_REF_NAME"]));
    ci.temp_dir = v.raw("RUNNER_TEMP").map(Into::into);
    ci.spool_dir = v.get("RUNNER_TEMP").map(|d| d.map(|d| format!("{d}/customcd-spool")));
    // nektos/act leaves the INPUT_* variables of inputs that keep their default out of a Docker
    // action's post stage (its runPostStep, unlike the main stage, never adds the defaults), so
    // there INPUT_JOB_STATUS is missing. act also passes every input under its own name, with the
    // default evaluated for the stage at hand (evalDockerArgs in pkg/runner/action.go): under act,
    // and only there, `job_status` holds the job's status as the post stage sees it.
    if v.raw("ACT").is_some_and(|a| a.eq_ignore_ascii_case("true")) {
        let detail = "job_status (act passes each action input under its own name too)";
        ci.set(Key::JobStatus, v.raw("job_status").map(|s| v.derived(s.to_owned(), detail)));
    }
    ci.hints.push((Key::Status, "GitHub does not expose the job's status to a program: the action reads it from its job_status input (default ${{ job.status }}; leave it unset), or pass `status: ${{ job.status }}` to the action, or `--status ${{ job.status }}` in a run step with `if: always()`".to_owned()));
    ci.hints.push((
        Key::JobStartTime,
        "the action records the start in its pre-entrypoint; in a run step, call `customcd start` first".to_owned(),
    ));
    ci
}

/// Adds the matrix leg to the job id GitHub's variables gave (and to the start state's key), so
/// that matrix legs, which share every variable, report distinct jobs. Nothing in a Docker
/// action's environment tells the legs apart, but an input's default may be an expression over
/// the `matrix` context: the action declares `matrix` with default `${{ toJSON(matrix) }}`, which
/// the runner evaluates per leg (`null` outside a matrix); `--matrix` and `CUSTOMCD_MATRIX` serve
/// run steps. The settings layer ranks those sources and hands the winner here.
pub(crate) fn add_matrix_leg(ci: &mut Ci, matrix: &Sourced<String>) {
    let Some(leg) = render_leg(&matrix.value) else { return };
    let Some(id) = ci.layer.get(Key::JobId).cloned() else { return };
    let detail = match &id.source {
        Source::Ci { detail, .. } => detail.clone(),
        other => other.to_string(),
    };
    let value = format!("{}-{leg}", id.value);
    ci.job_key = Some(value.clone());
    ci.layer.set(
        Key::JobId,
        Sourced::new(
            value,
            Source::Ci { system: ci.system, detail: format!("{detail} and the matrix leg ({})", matrix.source) },
        ),
    );
}

/// Renders a matrix leg for a job id: the values of `toJSON(matrix)` in key order (serde_json
/// sorts object keys), nested values flattened, joined with `-`, e.g. `{"os": "linux", "region":
/// "eu"}` gives `linux-eu`. Characters other than ASCII letters, digits, `.`, `_` and `-` become
/// `_`. A value that is not JSON (a user passing `${{ matrix.region }}`) is used as it is. A
/// rendering longer than 40 characters keeps its first 23 and adds a hash of the whole leg, so it
/// stays short, stable across runs and re-runs, and distinct per leg. `null`, `{}` and blanks
/// mean no matrix.
pub(super) fn render_leg(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let json =
        serde_json::from_str::<serde_json::Value>(raw).unwrap_or_else(|_| serde_json::Value::String(raw.to_owned()));
    let mut parts = Vec::new();
    flatten(&json, &mut parts);
    let joined: String = parts
        .join("-")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' })
        .collect();
    if joined.is_empty() {
        return None;
    }
    if joined.len() <= 40 {
        return Some(joined);
    }
    let canonical = json.to_string();
    // FNV-1a: tiny, and the same on every platform and release, which job ids need.
    let hash =
        canonical.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    Some(format!("{}-{hash:016x}", &joined[..23]))
}

fn flatten(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Null => {}
        serde_json::Value::String(s) => {
            if !s.trim().is_empty() {
                out.push(s.trim().to_owned());
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|i| flatten(i, out)),
        serde_json::Value::Object(map) => map.values().for_each(|i| flatten(i, out)),
        other => out.push(other.to_string()),
    }
}

/// Where the commit a workflow run built or deployed is, per event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum EventCommit {
    /// `GITHUB_SHA` (or the checkout made from it) is that commit.
    Sha,
    /// The event payload names it: a JSON pointer into the event file, and the dotted path shown
    /// to people (as GitHub's docs write it).
    Payload { pointer: &'static str, path: &'static str },
    /// Neither `GITHUB_SHA` nor the payload names it (a comment on a pull request).
    Unknown,
    /// The workflow runs the base's code (`pull_request_target`): what the workspace holds is
    /// what ran, so the checkout's HEAD (else `GITHUB_SHA`, the base); the payload's commit (the
    /// pull request's head) only when the workspace's HEAD is that commit.
    Checkout { pointer: &'static str, path: &'static str },
}

/// GitHub's "Events that trigger workflows", each with what `GITHUB_SHA` is on it (as that page
/// says) and where the commit that was built or deployed is. Events not listed are treated as
/// `Sha`: for them `GITHUB_SHA` is the last commit of the ref the workflow runs on.
pub(super) const EVENTS: &[(&str, &str, EventCommit)] = &[
    ("branch_protection_rule", "the last commit on the default branch", EventCommit::Sha),
    ("check_run", "the last commit on the default branch", payload("/check_run/head_sha", "check_run.head_sha")),
    ("check_suite", "the last commit on the default branch", payload("/check_suite/head_sha", "check_suite.head_sha")),
    ("create", "the last commit on the created branch or tag", EventCommit::Sha),
    ("delete", "the last commit on the default branch", EventCommit::Sha),
    ("deployment", "the commit to be deployed", payload("/deployment/sha", "deployment.sha")),
    ("deployment_status", "the commit to be deployed", payload("/deployment/sha", "deployment.sha")),
    ("discussion", "the last commit on the default branch", EventCommit::Sha),
    ("discussion_comment", "the last commit on the default branch", EventCommit::Sha),
    ("fork", "the last commit on the default branch", EventCommit::Sha),
    ("gollum", "the last commit on the default branch", EventCommit::Sha),
    ("issue_comment", "the last commit on the default branch", EventCommit::Unknown),
    ("issues", "the last commit on the default branch", EventCommit::Sha),
    ("label", "the last commit on the default branch", EventCommit::Sha),
    ("merge_group", "the SHA of the merge group", payload("/merge_group/head_sha", "merge_group.head_sha")),
    ("milestone", "the last commit on the default branch", EventCommit::Sha),
    ("page_build", "the last commit on the default branch", payload("/build/commit", "build.commit")),
    ("public", "the last commit on the default branch", EventCommit::Sha),
    ("pull_request", "the test merge commit of refs/pull/N/merge", PR_HEAD),
    ("pull_request_review", "the test merge commit of refs/pull/N/merge", PR_HEAD),
    ("pull_request_review_comment", "the test merge commit of refs/pull/N/merge", PR_HEAD),
    (
        "pull_request_target",
        "the last commit on the pull request's base branch",
        EventCommit::Checkout { pointer: "/pull_request/head/sha", path: "pull_request.head.sha" },
    ),
    ("push", "the tip commit pushed to the ref", EventCommit::Sha),
    ("registry_package", "the commit of the published package", EventCommit::Sha),
    ("release", "the last commit in the tagged release", EventCommit::Sha),
    ("repository_dispatch", "the last commit on the default branch", EventCommit::Sha),
    ("schedule", "the last commit on the default branch", EventCommit::Sha),
    ("status", "the last commit on the default branch", payload("/sha", "sha")),
    ("watch", "the last commit on the default branch", EventCommit::Sha),
    ("workflow_dispatch", "the last commit on the GITHUB_REF branch or tag", EventCommit::Sha),
    (
        "workflow_run",
        "the last commit on the default branch",
        payload("/workflow_run/head_sha", "workflow_run.head_sha"),
    ),
];

const PR_HEAD: EventCommit = payload("/pull_request/head/sha", "pull_request.head.sha");

const fn payload(pointer: &'static str, path: &'static str) -> EventCommit {
    EventCommit::Payload { pointer, path }
}

/// What `GITHUB_SHA` is on `event`, and where the built commit is.
pub(super) fn event_commit(event: &str) -> (&'static str, EventCommit) {
    EVENTS
        .iter()
        .find(|(name, _, _)| *name == event)
        .map_or(("the last commit of the ref the workflow runs on", EventCommit::Sha), |(_, sha, how)| (*sha, *how))
}

/// The commit the triggering event names, when `GITHUB_SHA` means something else on it; or,
/// when the event file cannot say, a warning with the path and what is used instead.
fn event_head(v: &Vars<'_>, ci: &mut Ci) {
    let Some(event) = v.raw("GITHUB_EVENT_NAME") else { return };
    let (sha_means, how) = event_commit(event);
    let instead = format!(
        "customcd uses the checkout's HEAD when the workspace is a checkout of {repo}, else GITHUB_SHA ({sha}), which on {event} is {sha_means}",
        repo = v.raw("GITHUB_REPOSITORY").unwrap_or("this repository"),
        sha = v.raw("GITHUB_SHA").unwrap_or("unset"),
    );
    let path_shown = v.raw("GITHUB_EVENT_PATH").unwrap_or("(unset)");
    match how {
        EventCommit::Sha => {}
        EventCommit::Unknown => {
            // A comment on a plain issue is about no commit; one on a pull request is, but the
            // payload carries only the pull request's API URL, never its head.
            let on_pull_request =
                read_event(v).is_ok_and(|json| json.pointer("/issue/pull_request").is_some_and(|p| !p.is_null()));
            if on_pull_request {
                ci.commit_warnings.push(format!(
                    "GITHUB_EVENT_NAME is {event} on a pull request: neither GITHUB_SHA nor the event file ({path_shown}) names the pull request's commit. {instead}. If the workflow builds the pull request, check out its head and pass commit_sha (or --commit-sha) explicitly"
                ));
            }
        }
        EventCommit::Checkout { pointer, path } => {
            // The head is a candidate only: it wins when the workspace's HEAD is it (a checkout
            // of the pull request, from a fork or not); nothing to warn about when it is absent.
            if let Some(sha) = read_event(v).ok().and_then(|json| payload_sha(&json, pointer)) {
                ci.workspace_head = Some(
                    v.derived(sha, format!("GITHUB_EVENT_PATH {path} ({event} event), which the workspace's HEAD is")),
                );
            }
        }
        EventCommit::Payload { pointer, path } => {
            let json = read_event(v);
            // A merged pull request's `closed` event (deploy on merge): what landed on the base is
            // `merge_commit_sha`; after a squash or rebase merge the head never reaches the base.
            if let Ok(Some(sha)) = json.as_ref().map(merged_commit) {
                let detail = format!(
                    "GITHUB_EVENT_PATH pull_request.merge_commit_sha ({event} event, a merged pull request closed)"
                );
                ci.pr_head = Some(v.derived(sha, detail));
                return;
            }
            let found = json.and_then(|json| match json.pointer(pointer).and_then(|s| s.as_str()) {
                Some(sha) if !sha.trim().is_empty() => Ok(sha.trim().to_owned()),
                _ => Err(format!("it has no {path}")),
            });
            match found {
                Ok(sha) => {
                    let detail = format!("GITHUB_EVENT_PATH {path} ({event} event)");
                    ci.pr_head = Some(v.derived(sha, detail));
                }
                Err(why) => ci.commit_warnings.push(format!(
                    "GITHUB_EVENT_NAME is {event}, whose built commit is {path} in the event file, but GITHUB_EVENT_PATH ({path_shown}) cannot tell: {why}. {instead}. Fix: pass commit_sha: ${{{{ github.event.{path} }}}} (or --commit-sha)"
                )),
            }
        }
    }
}

/// A full commit id at `pointer` in the payload.
fn payload_sha(json: &serde_json::Value, pointer: &str) -> Option<String> {
    json.pointer(pointer).and_then(|s| s.as_str()).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
}

/// The commit a merged pull request landed as, when the payload is a pull request's `closed`
/// event with `merged: true` (octokit's `pull_request.closed` payload).
fn merged_commit(json: &serde_json::Value) -> Option<String> {
    let closed = json.get("action").and_then(|a| a.as_str()) == Some("closed");
    let merged = json.pointer("/pull_request/merged").and_then(serde_json::Value::as_bool) == Some(true);
    if closed && merged {
        payload_sha(json, "/pull_request/merge_commit_sha")
    } else {
        None
    }
}

/// A push that deletes a branch or tag (`deleted: true`, `after` all zeros) ships nothing.
fn deletion(v: &Vars<'_>, ci: &mut Ci) {
    if v.raw("GITHUB_EVENT_NAME") != Some("push") {
        return;
    }
    let Ok(json) = read_event(v) else { return };
    let deleted = json.get("deleted").and_then(serde_json::Value::as_bool) == Some(true)
        || json.get("after").and_then(|a| a.as_str()).is_some_and(|a| !a.is_empty() && a.bytes().all(|b| b == b'0'));
    if deleted {
        let git_ref = json.get("ref").and_then(|r| r.as_str()).unwrap_or("a ref");
        ci.ships_nothing = Some(format!(
            "the push deleted {git_ref} (GITHUB_EVENT_PATH deleted: true, after all zeros): a deletion ships nothing"
        ));
    }
}

/// On `deployment` and `deployment_status` events the payload names the environment deployed to
/// (`deployment.environment`): the same commit deployed to staging and to production is then two
/// clearly separate records.
fn deployment_environment(v: &Vars<'_>, ci: &mut Ci) {
    if !matches!(v.raw("GITHUB_EVENT_NAME"), Some("deployment" | "deployment_status")) {
        return;
    }
    let Ok(json) = read_event(v) else { return };
    if let Some(name) =
        json.pointer("/deployment/environment").and_then(|e| e.as_str()).filter(|e| !e.trim().is_empty())
    {
        ci.set(Key::Environment, Some(v.derived(name.trim().to_owned(), "GITHUB_EVENT_PATH deployment.environment")));
    }
}

/// The event payload at `GITHUB_EVENT_PATH`, or why it cannot be had. Event files are a few KiB;
/// reading is capped so that a wrong path (a device, a huge file) cannot stall the report.
fn read_event(v: &Vars<'_>) -> Result<serde_json::Value, String> {
    const LIMIT: u64 = 16 << 20;
    let path = v.raw("GITHUB_EVENT_PATH").ok_or_else(|| "the variable is not set".to_owned())?;
    // Never blocks (a FIFO at the path is refused) and never reads past the limit.
    let bytes = crate::fs::read_bounded(std::path::Path::new(path), LIMIT)
        .map_err(|e| format!("it cannot be opened or read: {e}"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("it is not JSON: {e}"))
}

#[cfg(test)]
mod tests {
    use super::super::test_env::env;
    use super::*;

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REPOSITORY", "acme/app"),
            ("GITHUB_SHA", "1111111111111111111111111111111111111111"),
            ("GITHUB_RUN_ID", "987"),
            ("GITHUB_RUN_ATTEMPT", "2"),
            ("GITHUB_JOB", "deploy"),
            ("GITHUB_ACTOR", "octocat"),
            ("GITHUB_SERVER_URL", "https://github.com"),
            ("GITHUB_REF_NAME", "main"),
            ("GITHUB_EVENT_NAME", "push"),
        ]
    }

    fn value(ci: &Ci, key: Key) -> Option<String> {
        ci.layer.get(key).map(|v| v.value.clone())
    }

    #[test]
    fn a_push_run_gives_repo_actor_job_and_sha() {
        let ci = read(&env(&base()));
        assert_eq!(value(&ci, Key::RepoName).as_deref(), Some("acme/app"));
        assert_eq!(value(&ci, Key::TriggeredBy).as_deref(), Some("octocat"));
        assert_eq!(value(&ci, Key::JobId).as_deref(), Some("987-2-deploy"));
        assert_eq!(ci.commit.as_ref().map(|c| c.source.to_string()).as_deref(), Some("GitHub Actions GITHUB_SHA"));
        assert!(ci.pr_head.is_none());
        assert_eq!(ci.context[0].1.value, "https://github.com/acme/app/actions/runs/987/attempts/2");
        assert!(ci.layer.get(Key::Status).is_none(), "GitHub has no status variable");
    }

    #[test]
    fn a_rerun_is_a_new_job_id_and_the_triggering_actor_wins() {
        let mut pairs = base();
        pairs.retain(|(k, _)| *k != "GITHUB_RUN_ATTEMPT");
        pairs.push(("GITHUB_RUN_ATTEMPT", "3"));
        pairs.push(("GITHUB_TRIGGERING_ACTOR", "rerunner"));
        let ci = read(&env(&pairs));
        assert_eq!(value(&ci, Key::JobId).as_deref(), Some("987-3-deploy"));
        assert_eq!(value(&ci, Key::TriggeredBy).as_deref(), Some("rerunner"));
    }

    fn fixture(name: &str) -> String {
        format!("{}/tests/fixtures/github-events/{name}.json", env!("CARGO_MANIFEST_DIR"))
    }

    fn with_event(event: &str, path: &str) -> Ci {
        let mut pairs = base();
        pairs.retain(|(k, _)| *k != "GITHUB_EVENT_NAME");
        pairs.push(("GITHUB_EVENT_NAME", event));
        pairs.push(("GITHUB_EVENT_PATH", path));
        read(&env(&pairs))
    }

    /// GitHub's catalogue of events, each with a payload shaped like the real one: the commit
    /// reported, and where it came from. `None`: GITHUB_SHA (or the checkout) is the commit.
    /// The commit a fixture's payload names, and its dotted path.
    type Named = Option<(&'static str, &'static str)>;

    const CATALOGUE: &[(&str, &str, Named)] = &[
        ("push", "push", None),
        ("pull_request", "pull_request", Some(("2a2b2c2d2e2f2a2b2c2d2e2f2a2b2c2d2e2f2a2b", "pull_request.head.sha"))),
        // The base's code runs: the checkout's HEAD (or GITHUB_SHA), the head only when checked out.
        ("pull_request_target", "pull_request_target", None),
        (
            "pull_request",
            "pull_request-closed-merged",
            Some(("3a3b3c3d3e3f3a3b3c3d3e3f3a3b3c3d3e3f3a3b", "pull_request.merge_commit_sha")),
        ),
        (
            "pull_request",
            "pull_request-closed-unmerged",
            Some(("2a2b2c2d2e2f2a2b2c2d2e2f2a2b2c2d2e2f2a2b", "pull_request.head.sha")),
        ),
        (
            "pull_request_review",
            "pull_request_review",
            Some(("2a2b2c2d2e2f2a2b2c2d2e2f2a2b2c2d2e2f2a2b", "pull_request.head.sha")),
        ),
        (
            "pull_request_review_comment",
            "pull_request_review_comment",
            Some(("2a2b2c2d2e2f2a2b2c2d2e2f2a2b2c2d2e2f2a2b", "pull_request.head.sha")),
        ),
        ("merge_group", "merge_group", Some(("6a6b6c6d6e6f6a6b6c6d6e6f6a6b6c6d6e6f6a6b", "merge_group.head_sha"))),
        ("workflow_run", "workflow_run", Some(("7a7b7c7d7e7f7a7b7c7d7e7f7a7b7c7d7e7f7a7b", "workflow_run.head_sha"))),
        ("deployment", "deployment", Some(("8a8b8c8d8e8f8a8b8c8d8e8f8a8b8c8d8e8f8a8b", "deployment.sha"))),
        (
            "deployment_status",
            "deployment_status",
            Some(("9a9b9c9d9e9f9a9b9c9d9e9f9a9b9c9d9e9f9a9b", "deployment.sha")),
        ),
        ("check_run", "check_run", Some(("aa1bac1dae1faa1bac1dae1faa1bac1dae1faa1b", "check_run.head_sha"))),
        ("check_suite", "check_suite", Some(("bb1bbc1dbe1fbb1bbc1dbe1fbb1bbc1dbe1fbb1b", "check_suite.head_sha"))),
        ("status", "status", Some(("cc1cbc1dce1fcc1cbc1dce1fcc1cbc1dce1fcc1c", "sha"))),
        ("page_build", "page_build", Some(("dd1dbd1dde1fdd1dbd1dde1fdd1dbd1dde1fdd1d", "build.commit"))),
        ("release", "release", None),
        ("registry_package", "registry_package", None),
        ("workflow_dispatch", "workflow_dispatch", None),
        ("repository_dispatch", "repository_dispatch", None),
        ("schedule", "schedule", None),
        ("issue_comment", "issue_comment-on-issue", None),
        ("issue_comment", "issue_comment-on-pull-request", None),
    ];

    #[test]
    fn every_event_of_the_catalogue_reports_the_commit_its_payload_names() {
        for (event, file, want) in CATALOGUE {
            let ci = with_event(event, &fixture(file));
            match want {
                Some((sha, path)) => {
                    let head = ci.pr_head.as_ref().unwrap_or_else(|| panic!("{event}: no commit from the payload"));
                    assert_eq!(head.value, *sha, "{event}");
                    let source = head.source.to_string();
                    assert!(
                        source.starts_with(&format!("GitHub Actions GITHUB_EVENT_PATH {path} ({event} event")),
                        "{event}: {source}"
                    );
                }
                None => assert!(ci.pr_head.is_none(), "{event}: GITHUB_SHA or the checkout is the commit"),
            }
            let warned = !ci.commit_warnings.is_empty();
            assert_eq!(warned, *file == "issue_comment-on-pull-request", "{event}: {:?}", ci.commit_warnings);
        }
    }

    #[test]
    fn pull_request_target_offers_the_head_only_for_a_workspace_that_holds_it() {
        let ci = with_event("pull_request_target", &fixture("pull_request_target"));
        assert!(ci.pr_head.is_none(), "the head does not beat the checkout");
        let head = ci.workspace_head.expect("the head, as a candidate");
        assert_eq!(head.value, "2a2b2c2d2e2f2a2b2c2d2e2f2a2b2c2d2e2f2a2b");
        assert_eq!(ci.commit.map(|c| c.value).as_deref(), Some("1111111111111111111111111111111111111111"));
        assert!(!ci.commit_beats_checkout);
    }

    #[test]
    fn a_schedule_has_nobody_and_other_events_their_actor() {
        let ci = with_event("schedule", &fixture("schedule"));
        assert!(ci.layer.get(Key::TriggeredBy).is_none(), "GITHUB_ACTOR is the cron's last editor");
        for event in ["push", "workflow_dispatch", "release", "pull_request"] {
            let ci = with_event(event, &fixture(event));
            assert_eq!(value(&ci, Key::TriggeredBy).as_deref(), Some("octocat"), "{event}");
        }
    }

    #[test]
    fn a_push_that_deletes_a_ref_ships_nothing_and_others_do() {
        let ci = with_event("push", &fixture("push-deleted"));
        let why = ci.ships_nothing.expect("a deletion ships nothing");
        assert!(why.contains("refs/heads/feature") && why.contains("deleted"), "{why}");
        assert!(with_event("push", &fixture("push")).ships_nothing.is_none());
        // `delete` is its own event, not a push; it is no deletion push.
        assert!(with_event("delete", &fixture("push-deleted")).ships_nothing.is_none());
    }

    #[test]
    fn every_event_whose_payload_names_the_commit_has_a_fixture_in_the_table_test() {
        for (event, _, how) in EVENTS {
            if matches!(how, EventCommit::Payload { .. }) {
                assert!(CATALOGUE.iter().any(|(e, _, want)| e == event && want.is_some()), "{event} is not covered");
            }
        }
    }

    #[test]
    fn a_comment_on_a_pull_request_says_the_commit_cannot_be_known() {
        let ci = with_event("issue_comment", &fixture("issue_comment-on-pull-request"));
        let w = &ci.commit_warnings[0];
        assert!(w.contains("issue_comment on a pull request"), "{w}");
        assert!(w.contains("GITHUB_SHA (1111111111111111111111111111111111111111)"), "{w}");
        assert!(w.contains("the last commit on the default branch"), "{w}");
        assert!(w.contains("commit_sha"), "{w}");
    }

    #[test]
    fn a_missing_event_file_is_a_warning_naming_the_path_and_the_fallback() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("nope.json");
        let ci = with_event("workflow_run", &missing.to_string_lossy());
        assert!(ci.pr_head.is_none());
        let w = &ci.commit_warnings[0];
        assert!(w.contains(&missing.display().to_string()), "{w}");
        assert!(w.contains("cannot be opened or read"), "{w}");
        assert!(w.contains("workflow_run.head_sha"), "{w}");
        assert!(w.contains("else GITHUB_SHA (1111111111111111111111111111111111111111)"), "{w}");
        assert!(w.contains("commit_sha: ${{ github.event.workflow_run.head_sha }}"), "{w}");
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_at_the_event_path_is_a_warning_not_a_hang() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("event.json");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo runs");
        assert!(made.success());
        let ci = with_event("workflow_run", &fifo.to_string_lossy());
        assert!(ci.pr_head.is_none());
        assert!(ci.commit_warnings[0].contains("FIFO"), "{:?}", ci.commit_warnings);
    }

    #[test]
    fn an_event_file_that_is_not_json_or_lacks_the_field_is_a_warning() {
        let dir = tempfile::tempdir().expect("tempdir");
        let broken = dir.path().join("broken.json");
        std::fs::write(&broken, "{\"deployment\": ").expect("write");
        let ci = with_event("deployment", &broken.to_string_lossy());
        assert!(ci.pr_head.is_none());
        assert!(ci.commit_warnings[0].contains("it is not JSON"), "{:?}", ci.commit_warnings);

        let ci = with_event("check_suite", &fixture("check_run"));
        assert!(ci.pr_head.is_none());
        assert!(ci.commit_warnings[0].contains("it has no check_suite.head_sha"), "{:?}", ci.commit_warnings);

        let mut pairs = base();
        pairs.retain(|(k, _)| *k != "GITHUB_EVENT_NAME");
        pairs.push(("GITHUB_EVENT_NAME", "pull_request"));
        let ci = read(&env(&pairs));
        assert!(ci.commit_warnings[0].contains("GITHUB_EVENT_PATH ((unset)) cannot tell: the variable is not set"));
    }

    #[test]
    fn events_that_need_no_payload_never_read_the_event_file() {
        for event in ["push", "release", "workflow_dispatch", "schedule", "registry_package"] {
            let ci = with_event(event, "/nonexistent/event.json");
            assert!(ci.pr_head.is_none() && ci.commit_warnings.is_empty(), "{event}: {:?}", ci.commit_warnings);
        }
    }

    #[test]
    fn matrix_legs_get_their_own_stable_job_ids() {
        let leg = |json: &str| {
            let mut ci = read(&env(&base()));
            add_matrix_leg(&mut ci, &Sourced::new(json.to_owned(), Source::Input("matrix (INPUT_MATRIX)".into())));
            ci
        };
        let us = leg("{\n  \"region\": \"us\"\n}");
        let eu = leg("{\n  \"region\": \"eu\"\n}");
        assert_eq!(value(&us, Key::JobId).as_deref(), Some("987-2-deploy-us"));
        assert_eq!(value(&eu, Key::JobId).as_deref(), Some("987-2-deploy-eu"));
        assert_eq!(us.job_key.as_deref(), Some("987-2-deploy-us"), "the start state is per leg too");
        let source = us.layer.get(Key::JobId).expect("a job id").source.to_string();
        assert_eq!(
            source,
            "GitHub Actions GITHUB_RUN_ID-GITHUB_RUN_ATTEMPT-GITHUB_JOB and the matrix leg (action input matrix (INPUT_MATRIX))"
        );
        assert_eq!(value(&leg("null"), Key::JobId).as_deref(), Some("987-2-deploy"), "not a matrix job");
        assert_eq!(leg("null").job_key.as_deref(), Some("987-2-deploy"));
    }

    #[test]
    fn the_action_declares_the_matrix_input_with_its_per_leg_default() {
        // The runner turns input `matrix` into INPUT_MATRIX; its default must stay the per-leg
        // expression, or every leg reports the same job id again.
        let action = include_str!("../../action.yml");
        let block = action.split("\n  matrix:\n").nth(1).expect("action.yml declares a `matrix` input");
        let default = block.lines().find(|l| l.trim_start().starts_with("default:")).expect("a default");
        assert_eq!(default.trim(), "default: \"${{ toJSON(matrix) }}\"");
    }

    #[test]
    fn a_leg_renders_its_values_in_key_order_and_long_ones_are_hashed() {
        assert_eq!(render_leg(r#"{"region": "eu", "os": "ubuntu-latest"}"#).as_deref(), Some("ubuntu-latest-eu"));
        assert_eq!(render_leg(r#"{"node": 20, "exp": true, "x": null}"#).as_deref(), Some("true-20"));
        assert_eq!(render_leg(r#"{"target": {"os": "linux", "cc": "gcc 13"}}"#).as_deref(), Some("gcc_13-linux"));
        assert_eq!(render_leg("us-east/1").as_deref(), Some("us-east_1"), "not JSON: used as it is");
        for blank in ["null", "{}", "", "  "] {
            assert_eq!(render_leg(blank), None, "{blank:?}");
        }
        let long_a = render_leg(r#"{"a": "a-very-long-value-that-keeps-going-and-going", "b": "one"}"#).expect("a leg");
        let long_b = render_leg(r#"{"a": "a-very-long-value-that-keeps-going-and-going", "b": "two"}"#).expect("a leg");
        assert_eq!(long_a.len(), 40);
        assert_ne!(long_a, long_b, "legs that differ only past the cut stay distinct");
        assert_eq!(long_a, "a-very-long-value-that--229940ac43a4d0e2", "stable across releases");
    }

    #[test]
    fn the_start_recorded_by_the_pre_entrypoint_is_read_from_state() {
        let mut pairs = base();
        pairs.push(("STATE_job_start_time", "1704018030"));
        let ci = read(&env(&pairs));
        let start = ci.layer.get(Key::JobStartTime).expect("a start");
        assert_eq!(start.value, "1704018030");
        assert_eq!(start.source.to_string(), "GitHub Actions STATE_job_start_time");
    }

    #[test]
    fn gitea_reads_the_same_variables_under_its_own_name() {
        let mut pairs = base();
        pairs.push(("GITEA_ACTIONS", "true"));
        let ci = super::super::detect(&env(&pairs)).expect("detected");
        assert_eq!(ci.system, "Gitea Actions");
        assert!(ci.github_like);
        assert_eq!(value(&ci, Key::RepoName).as_deref(), Some("acme/app"));
    }
}
