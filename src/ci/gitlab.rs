//! GitLab CI.

use crate::env::Env;
use crate::vocab::names::Key;

use super::{Ci, Context, Vars};

const SYSTEM: &str = "GitLab CI";

pub(super) fn detect(env: &Env) -> bool {
    env.get("GITLAB_CI").is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

pub(super) fn read(env: &Env) -> Ci {
    let v = Vars::new(env, SYSTEM);
    let mut ci = Ci::new(SYSTEM);
    let repo = v.get("CI_PROJECT_PATH");
    ci.repo = repo.as_ref().map(|r| r.value.clone());
    ci.set(Key::RepoName, repo);
    ci.set(Key::TriggeredBy, triggered_by(&v));
    ci.not_a_deploy = not_a_deploy(&v);
    ci.set(Key::JobStartTime, v.get("CI_JOB_STARTED_AT"));
    let job_id = v.get("CI_JOB_ID");
    ci.job_key = job_id.as_ref().map(|j| j.value.clone());
    ci.set(Key::JobId, job_id);
    // CI_JOB_STATUS is final only in after_script; in script it says "running".
    match v.get("CI_JOB_STATUS") {
        Some(s) if s.value.eq_ignore_ascii_case("running") => ci.hints.push((
            Key::Status,
            "GitLab's CI_JOB_STATUS is \"running\" outside after_script: report from after_script, where it is final, or pass --status".to_owned(),
        )),
        other => {
            ci.context(Context::CiResult, other.clone());
            ci.set(Key::Status, other);
        }
    }
    ci.commit = v.get("CI_COMMIT_SHA");
    // In merged-results and merge-train pipelines CI_COMMIT_SHA is an internal merge commit.
    ci.pr_head = v.get("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA");
    ci.context(Context::RunUrl, v.get("CI_JOB_URL"));
    ci.context(
        Context::Branch,
        v.first(&["CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "CI_COMMIT_BRANCH", "CI_COMMIT_TAG", "CI_COMMIT_REF_NAME"]),
    );
    ci.set(Key::Environment, v.get("CI_ENVIRONMENT_NAME"));
    // Inside the project directory, so that `artifacts: paths: [.customcd-spool]` can keep it.
    ci.spool_dir = v.get("CI_PROJECT_DIR").map(|d| d.map(|d| format!("{d}/.customcd-spool")));
    ci
}

/// `CI_PIPELINE_SOURCE` values whose `GITLAB_USER_*` is not who started this job: a schedule's
/// owner (`schedule`) and a trigger token's owner (`trigger`) started nothing themselves.
const NOBODY_SOURCES: &[&str] = &["schedule", "trigger"];

/// Who started the job: `GITLAB_USER_*` is "the user who started the pipeline, unless the job is
/// a manual job", where it is the one who started the job. A manual job always has its person;
/// otherwise scheduled and trigger-token pipelines have nobody.
fn triggered_by(v: &Vars<'_>) -> Option<crate::vocab::source::Sourced<String>> {
    let manual = v.raw("CI_JOB_MANUAL").is_some_and(|m| m.eq_ignore_ascii_case("true"));
    let source = v.raw("CI_PIPELINE_SOURCE").unwrap_or("");
    if !manual && NOBODY_SOURCES.contains(&source) {
        return None;
    }
    v.first(&["GITLAB_USER_EMAIL", "GITLAB_USER_LOGIN"])
}

/// GitLab's `environment:action` values that deploy nothing: `prepare`, `verify` and `access`
/// "do not trigger deployments" and `stop` stops an environment (`start`, the default, deploys).
const NOT_DEPLOYING: &[&str] = &["prepare", "verify", "access", "stop"];

/// Why the job is no deploy, when `CI_ENVIRONMENT_ACTION` says so.
fn not_a_deploy(v: &Vars<'_>) -> Option<String> {
    let action = v.raw("CI_ENVIRONMENT_ACTION")?;
    let action = NOT_DEPLOYING.iter().find(|a| a.eq_ignore_ascii_case(action))?;
    let env = v.raw("CI_ENVIRONMENT_NAME").unwrap_or("its environment");
    let what = match *action {
        "stop" => "stops",
        "prepare" => "prepares",
        "verify" => "verifies",
        _ => "accesses",
    };
    Some(format!(
        "GitLab says this job deploys nothing: CI_ENVIRONMENT_ACTION is {action} (the job {what} {env} without deploying)"
    ))
}

#[cfg(test)]
mod tests {
    use super::super::test_env::env;
    use super::*;

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![
            ("GITLAB_CI", "true"),
            ("CI_PROJECT_PATH", "group/sub/app"),
            ("CI_COMMIT_SHA", "1111111111111111111111111111111111111111"),
            ("CI_JOB_ID", "4242"),
            ("CI_JOB_STARTED_AT", "2022-01-31T16:47:55Z"),
            ("GITLAB_USER_EMAIL", "dev@example.com"),
            ("GITLAB_USER_LOGIN", "dev"),
            ("CI_JOB_URL", "https://gitlab.example.com/group/sub/app/-/jobs/4242"),
            ("CI_COMMIT_REF_NAME", "main"),
            ("CI_ENVIRONMENT_NAME", "production"),
            ("CI_REPOSITORY_URL", "https://gitlab-ci-token:glcbt-secret@gitlab.example.com/group/sub/app.git"),
        ]
    }

    fn value(ci: &Ci, key: Key) -> Option<String> {
        ci.layer.get(key).map(|v| v.value.clone())
    }

    #[test]
    fn after_script_variables_give_every_field() {
        let mut pairs = base();
        pairs.push(("CI_JOB_STATUS", "success"));
        let ci = read(&env(&pairs));
        assert_eq!(value(&ci, Key::RepoName).as_deref(), Some("group/sub/app"));
        assert_eq!(value(&ci, Key::TriggeredBy).as_deref(), Some("dev@example.com"));
        assert_eq!(value(&ci, Key::JobStartTime).as_deref(), Some("2022-01-31T16:47:55Z"));
        assert_eq!(value(&ci, Key::JobId).as_deref(), Some("4242"));
        assert_eq!(value(&ci, Key::Status).as_deref(), Some("success"));
        let ctx: Vec<_> = ci.context.iter().map(|(k, v)| (k.name(), v.value.as_str())).collect();
        assert_eq!(
            ctx,
            [
                ("run_url", "https://gitlab.example.com/group/sub/app/-/jobs/4242"),
                ("branch", "main"),
                ("ci_result", "success")
            ]
        );
        assert_eq!(value(&ci, Key::Environment).as_deref(), Some("production"), "environment is a setting");
    }

    #[test]
    fn running_is_not_a_final_status_and_leaves_a_hint() {
        let mut pairs = base();
        pairs.push(("CI_JOB_STATUS", "running"));
        let ci = read(&env(&pairs));
        assert!(ci.layer.get(Key::Status).is_none());
        assert!(ci.hints.iter().any(|(k, h)| *k == Key::Status && h.contains("after_script")));
    }

    #[test]
    fn a_merged_results_pipeline_uses_the_source_branch_head() {
        let mut pairs = base();
        pairs.push(("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA", "2222222222222222222222222222222222222222"));
        let ci = read(&env(&pairs));
        assert_eq!(ci.pr_head.map(|p| p.value).as_deref(), Some("2222222222222222222222222222222222222222"));
    }

    #[test]
    fn the_login_is_used_when_there_is_no_email() {
        let pairs: Vec<_> = base().into_iter().filter(|(k, _)| *k != "GITLAB_USER_EMAIL").collect();
        assert_eq!(value(&read(&env(&pairs)), Key::TriggeredBy).as_deref(), Some("dev"));
    }

    /// Predefined variables every job has (GitLab's "Predefined CI/CD variables" page).
    fn predefined() -> Vec<(&'static str, &'static str)> {
        vec![
            ("CI", "true"),
            ("GITLAB_CI", "true"),
            ("CI_SERVER_URL", "https://gitlab.example.com"),
            ("CI_PROJECT_ID", "99"),
            ("CI_PROJECT_PATH", "group/sub/app"),
            ("CI_PROJECT_URL", "https://gitlab.example.com/group/sub/app"),
            ("CI_PROJECT_DIR", "/builds/group/sub/app"),
            ("CI_PIPELINE_ID", "1000"),
            ("CI_PIPELINE_IID", "12"),
            ("CI_PIPELINE_URL", "https://gitlab.example.com/group/sub/app/-/pipelines/1000"),
            ("CI_PIPELINE_CREATED_AT", "2022-01-31T16:47:00Z"),
            ("CI_JOB_ID", "4242"),
            ("CI_JOB_NAME", "deploy"),
            ("CI_JOB_STAGE", "deploy"),
            ("CI_JOB_URL", "https://gitlab.example.com/group/sub/app/-/jobs/4242"),
            ("CI_JOB_STARTED_AT", "2022-01-31T16:47:55Z"),
            ("CI_COMMIT_SHA", "1111111111111111111111111111111111111111"),
            ("CI_COMMIT_SHORT_SHA", "11111111"),
            ("CI_REPOSITORY_URL", "https://gitlab-ci-token:glcbt-secret@gitlab.example.com/group/sub/app.git"),
            ("GITLAB_USER_ID", "5"),
            ("GITLAB_USER_LOGIN", "dev"),
            ("GITLAB_USER_NAME", "Dev"),
            ("GITLAB_USER_EMAIL", "dev@example.com"),
        ]
    }

    /// A pipeline shape: its name, the variables it adds, the PR head it gives, its branch.
    type Shape = (&'static str, &'static [(&'static str, &'static str)], Option<&'static str>, &'static str);

    #[test]
    fn every_pipeline_shape_of_the_catalogue_reads_as_documented() {
        let shapes: &[Shape] = &[
            (
                "a branch pipeline",
                &[
                    ("CI_PIPELINE_SOURCE", "push"),
                    ("CI_COMMIT_BRANCH", "main"),
                    ("CI_COMMIT_REF_NAME", "main"),
                    ("CI_COMMIT_BEFORE_SHA", "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f"),
                    ("CI_DEFAULT_BRANCH", "main"),
                ],
                None,
                "main",
            ),
            (
                "a tag pipeline",
                &[("CI_PIPELINE_SOURCE", "push"), ("CI_COMMIT_TAG", "v1.2.0"), ("CI_COMMIT_REF_NAME", "v1.2.0")],
                None,
                "v1.2.0",
            ),
            (
                "a merge request pipeline (detached: CI_COMMIT_SHA is the source head)",
                &[
                    ("CI_PIPELINE_SOURCE", "merge_request_event"),
                    ("CI_MERGE_REQUEST_EVENT_TYPE", "detached"),
                    ("CI_MERGE_REQUEST_IID", "7"),
                    ("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "feature"),
                    ("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA", ""),
                    ("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "main"),
                    ("CI_MERGE_REQUEST_TARGET_BRANCH_SHA", ""),
                    ("CI_COMMIT_REF_NAME", "feature"),
                    ("CI_COMMIT_BEFORE_SHA", "0000000000000000000000000000000000000000"),
                ],
                None,
                "feature",
            ),
            (
                "a merged results pipeline (CI_COMMIT_SHA is an internal merge commit)",
                &[
                    ("CI_PIPELINE_SOURCE", "merge_request_event"),
                    ("CI_MERGE_REQUEST_EVENT_TYPE", "merged_result"),
                    ("CI_MERGE_REQUEST_IID", "7"),
                    ("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "feature"),
                    ("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA", "2222222222222222222222222222222222222222"),
                    ("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "main"),
                    ("CI_MERGE_REQUEST_TARGET_BRANCH_SHA", "3333333333333333333333333333333333333333"),
                    ("CI_COMMIT_REF_NAME", "feature"),
                ],
                Some("2222222222222222222222222222222222222222"),
                "feature",
            ),
            (
                "a merge train pipeline",
                &[
                    ("CI_PIPELINE_SOURCE", "merge_request_event"),
                    ("CI_MERGE_REQUEST_EVENT_TYPE", "merge_train"),
                    ("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "feature"),
                    ("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA", "4444444444444444444444444444444444444444"),
                    ("CI_MERGE_REQUEST_TARGET_BRANCH_SHA", "3333333333333333333333333333333333333333"),
                    ("CI_COMMIT_REF_NAME", "feature"),
                ],
                Some("4444444444444444444444444444444444444444"),
                "feature",
            ),
            (
                "a scheduled pipeline",
                &[
                    ("CI_PIPELINE_SOURCE", "schedule"),
                    ("CI_COMMIT_BRANCH", "main"),
                    ("CI_COMMIT_REF_NAME", "main"),
                    ("CI_COMMIT_BEFORE_SHA", "0000000000000000000000000000000000000000"),
                ],
                None,
                "main",
            ),
        ];
        for (shape, extra, pr_head, branch) in shapes {
            let mut pairs = predefined();
            pairs.extend_from_slice(extra);
            pairs.push(("CI_JOB_STATUS", "success"));
            let ci = read(&env(&pairs));
            assert_eq!(ci.system, "GitLab CI", "{shape}");
            assert_eq!(ci.commit.as_ref().map(|c| c.value.as_str()), Some("1111111111111111111111111111111111111111"));
            assert_eq!(ci.pr_head.as_ref().map(|h| h.value.as_str()), *pr_head, "{shape}");
            if let Some(head) = &ci.pr_head {
                assert_eq!(head.source.to_string(), "GitLab CI CI_MERGE_REQUEST_SOURCE_BRANCH_SHA", "{shape}");
            }
            let got_branch = ci.context_value(Context::Branch).map(|b| b.value.as_str());
            assert_eq!(got_branch, Some(*branch), "{shape}");
            assert_eq!(value(&ci, Key::RepoName).as_deref(), Some("group/sub/app"), "{shape}");
            assert_eq!(value(&ci, Key::JobId).as_deref(), Some("4242"), "{shape}");
            let scheduled = extra.contains(&("CI_PIPELINE_SOURCE", "schedule"));
            let who = if scheduled { None } else { Some("dev@example.com") };
            assert_eq!(value(&ci, Key::TriggeredBy).as_deref(), who, "{shape}: the schedule's owner started nothing");
            assert_eq!(value(&ci, Key::JobStartTime).as_deref(), Some("2022-01-31T16:47:55Z"), "{shape}");
            assert_eq!(value(&ci, Key::Status).as_deref(), Some("success"), "{shape}");
            assert!(ci.commit_warnings.is_empty(), "{shape}");
        }
    }

    #[test]
    fn who_per_pipeline_source_and_a_manual_job_is_its_starter() {
        let who = |extra: &[(&'static str, &'static str)]| {
            let mut pairs = predefined();
            pairs.extend_from_slice(extra);
            value(&read(&env(&pairs)), Key::TriggeredBy)
        };
        for source in ["push", "web", "api", "pipeline", "parent_pipeline", "merge_request_event", "chat"] {
            assert_eq!(who(&[("CI_PIPELINE_SOURCE", source)]).as_deref(), Some("dev@example.com"), "{source}");
        }
        for source in ["schedule", "trigger"] {
            assert_eq!(who(&[("CI_PIPELINE_SOURCE", source)]), None, "{source}: the owner of the schedule or token");
            let manual = who(&[("CI_PIPELINE_SOURCE", source), ("CI_JOB_MANUAL", "true")]);
            assert_eq!(manual.as_deref(), Some("dev@example.com"), "{source}: a manual job's starter");
        }
    }

    #[test]
    fn environment_actions_that_deploy_nothing_are_not_deploys() {
        for action in ["prepare", "verify", "access", "stop"] {
            let mut pairs = predefined();
            pairs.extend_from_slice(&[("CI_ENVIRONMENT_NAME", "review/feature-x"), ("CI_ENVIRONMENT_ACTION", action)]);
            let why = read(&env(&pairs)).not_a_deploy.unwrap_or_else(|| panic!("{action} is no deploy"));
            assert!(
                why.contains(&format!("CI_ENVIRONMENT_ACTION is {action}")) && why.contains("review/feature-x"),
                "{why}"
            );
        }
        for deploys in [Some("start"), None] {
            let mut pairs = predefined();
            pairs.push(("CI_ENVIRONMENT_NAME", "production"));
            if let Some(action) = deploys {
                pairs.push(("CI_ENVIRONMENT_ACTION", action));
            }
            assert!(read(&env(&pairs)).not_a_deploy.is_none(), "{deploys:?} deploys");
        }
    }

    #[test]
    fn every_final_job_status_of_after_script_is_passed_on() {
        // GitLab Runner's statuses in after_script; `running` is covered above.
        for status in ["success", "failed", "canceled", "timedout"] {
            let mut pairs = predefined();
            pairs.push(("CI_JOB_STATUS", status));
            let ci = read(&env(&pairs));
            assert_eq!(value(&ci, Key::Status).as_deref(), Some(status));
            assert_eq!(
                ci.context_value(Context::CiResult).map(|r| r.value.as_str()),
                Some(status),
                "the word as GitLab says it"
            );
            assert!(crate::job::status::Status::parse(status).is_some(), "{status} maps to an API status");
        }
    }
}
