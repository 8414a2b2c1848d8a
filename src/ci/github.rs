//! GitHub Actions, and the Gitea and Forgejo runners that imitate it.

use crate::env::Env;
use crate::git::remote;
use crate::settings::names::Key;
use crate::settings::source::Sourced;

use super::{Ci, Vars};

pub fn detect(env: &Env) -> bool {
    env.get("GITHUB_ACTIONS").is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

pub fn detect_gitea(env: &Env) -> bool {
    env.get("GITEA_ACTIONS").is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

pub fn detect_forgejo(env: &Env) -> bool {
    env.get("FORGEJO_ACTIONS").is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

pub fn read(env: &Env) -> Ci {
    read_as(env, "GitHub Actions")
}

pub fn read_gitea(env: &Env) -> Ci {
    read_as(env, "Gitea Actions")
}

pub fn read_forgejo(env: &Env) -> Ci {
    read_as(env, "Forgejo Actions")
}

fn read_as(env: &Env, system: &'static str) -> Ci {
    let v = Vars::new(env, system);
    let mut ci = Ci::new(system);
    ci.github_like = true;

    let repo = v.get("GITHUB_REPOSITORY");
    ci.repo = repo.as_ref().map(|r| r.value.clone());
    ci.set(Key::RepoName, repo);
    // Who started this attempt (re-runs included), else who started the run.
    ci.set(Key::TriggeredBy, v.first(&["GITHUB_TRIGGERING_ACTOR", "GITHUB_ACTOR"]));
    // GITHUB_RUN_ID repeats on re-runs and matrix legs share GITHUB_JOB: all three are needed.
    let job_id = v
        .joined(&["GITHUB_RUN_ID", "GITHUB_RUN_ATTEMPT", "GITHUB_JOB"])
        .or_else(|| v.joined(&["GITHUB_RUN_ID", "GITHUB_JOB"]));
    ci.job_key = job_id.as_ref().map(|j| j.value.clone());
    ci.set(Key::JobId, job_id);
    // Written by `customcd start` in the action's pre-entrypoint, passed to later stages as state.
    ci.set(Key::JobStartTime, v.get("STATE_job_start_time"));

    ci.commit = v.get("GITHUB_SHA");
    ci.pr_head = pull_request_head(&v);

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
    ci.context("run_url", run_url);
    ci.context("branch", v.first(&["GITHUB_HEAD_REF", "GITHUB_REF_NAME"]));
    ci.temp_dir = v.raw("RUNNER_TEMP").map(Into::into);
    ci.spool_dir = v.get("RUNNER_TEMP").map(|d| d.map(|d| format!("{d}/customcd-spool")));
    ci.hints.push((Key::Status, "GitHub does not expose the job's status: pass `status: ${{ job.status }}` to the action, in a step with `if: always()`".to_owned()));
    ci.hints.push((
        Key::JobStartTime,
        "the action records the start in its pre-entrypoint; in a run step, call `customcd start` first".to_owned(),
    ));
    ci
}

/// On `pull_request` and `pull_request_target`, `GITHUB_SHA` is a test merge commit (or the base
/// branch's head): the commit built is the PR head, which only the event file has.
fn pull_request_head(v: &Vars<'_>) -> Option<Sourced<String>> {
    let event = v.raw("GITHUB_EVENT_NAME")?;
    if event != "pull_request" && event != "pull_request_target" {
        return None;
    }
    let path = v.raw("GITHUB_EVENT_PATH")?;
    let text = std::fs::read_to_string(path).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    let sha = json.pointer("/pull_request/head/sha")?.as_str()?;
    Some(v.derived(sha.to_owned(), "GITHUB_EVENT_PATH pull_request.head.sha"))
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

    #[test]
    fn a_pull_request_uses_the_head_sha_from_the_event_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("event.json");
        std::fs::write(&path, r#"{"pull_request":{"head":{"sha":"2222222222222222222222222222222222222222"}}}"#)
            .expect("write");
        let p = path.to_string_lossy().into_owned();
        for event in ["pull_request", "pull_request_target"] {
            let mut pairs = base();
            pairs.retain(|(k, _)| *k != "GITHUB_EVENT_NAME");
            pairs.push(("GITHUB_EVENT_NAME", event));
            pairs.push(("GITHUB_EVENT_PATH", &p));
            pairs.push(("GITHUB_HEAD_REF", "feature"));
            let ci = read(&env(&pairs));
            let head = ci.pr_head.expect("a PR head");
            assert_eq!(head.value, "2222222222222222222222222222222222222222");
            assert_eq!(head.source.to_string(), "GitHub Actions GITHUB_EVENT_PATH pull_request.head.sha");
            assert_eq!(ci.context[1].1.value, "feature");
        }
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
