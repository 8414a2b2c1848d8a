//! Jenkins.

use crate::env::Env;
use crate::git::remote;
use crate::settings::names::Key;

use super::{Ci, Vars};

const SYSTEM: &str = "Jenkins";

/// Trigger ids of the build-user-vars plugin that are not people.
const NON_HUMAN: &[&str] = &["timer", "scmchange", "upstream", "remote", "anonymous"];

pub fn detect(env: &Env) -> bool {
    env.get("JENKINS_URL").is_some()
        || env.get("JENKINS_HOME").is_some()
        || env.get("HUDSON_URL").is_some()
        || env.get("BUILD_TAG").is_some_and(|t| t.starts_with("jenkins-"))
}

pub fn read(env: &Env) -> Ci {
    let v = Vars::new(env, SYSTEM);
    let mut ci = Ci::new(SYSTEM);
    // GIT_URL may embed credentials: only the normalised name is kept, and the source shows the
    // URL redacted.
    if let Some((name, url)) = ["GIT_URL", "GIT_URL_1"].iter().find_map(|n| v.raw(n).map(|u| (*n, u))) {
        if let Some(repo) = remote::repo_name(url) {
            ci.repo = Some(repo.clone());
            ci.set(Key::RepoName, Some(v.derived(repo, format!("{name} ({})", remote::redact(url)))));
        }
    }
    let person = v
        .first(&["BUILD_USER_EMAIL", "CHANGE_AUTHOR_EMAIL"])
        .or_else(|| v.get("BUILD_USER_ID").filter(|id| !NON_HUMAN.contains(&id.value.to_ascii_lowercase().as_str())));
    ci.set(Key::TriggeredBy, person);
    let job_id = v.get("BUILD_TAG");
    ci.job_key = job_id.as_ref().map(|j| j.value.clone());
    ci.set(Key::JobId, job_id);
    ci.commit = v.get("GIT_COMMIT");
    ci.context("run_url", v.get("BUILD_URL"));
    let branch = v
        .first(&["BRANCH_NAME", "GIT_BRANCH"])
        .map(|b| b.map(|s| s.strip_prefix("origin/").map(str::to_owned).unwrap_or(s)));
    ci.context("branch", branch);
    ci.temp_dir = v.raw("WORKSPACE_TMP").map(Into::into);
    // In the workspace, where `archiveArtifacts` can keep it.
    ci.spool_dir = v.get("WORKSPACE").map(|d| d.map(|d| format!("{d}/.customcd-spool")));
    ci.hints.push((
        Key::Status,
        "Jenkins has no status variable: pass --status \"${currentBuild.currentResult}\" in post { always { ... } }"
            .to_owned(),
    ));
    ci.hints.push((
        Key::JobStartTime,
        "Jenkins exposes no start time: run `customcd start` at the top of the pipeline, or pass --job-start-time \"${currentBuild.startTimeInMillis.intdiv(1000)}\"".to_owned(),
    ));
    ci
}

#[cfg(test)]
mod tests {
    use super::super::test_env::env;
    use super::*;

    fn value(ci: &Ci, key: Key) -> Option<String> {
        ci.layer.get(key).map(|v| v.value.clone())
    }

    #[test]
    fn credentials_in_git_url_are_neither_kept_nor_shown() {
        let ci = read(&env(&[
            ("JENKINS_URL", "https://ci.example.com/"),
            ("GIT_URL", "https://deploy:s3cret-pass@git.example.com/acme/app.git"),
            ("GIT_COMMIT", "1111111111111111111111111111111111111111"),
            ("BUILD_TAG", "jenkins-app-deploy-17"),
            ("BUILD_URL", "https://ci.example.com/job/app/17/"),
            ("GIT_BRANCH", "origin/main"),
        ]));
        let repo = ci.layer.get(Key::RepoName).expect("a repo");
        assert_eq!(repo.value, "acme/app");
        assert!(!repo.source.to_string().contains("s3cret"), "{}", repo.source);
        assert_eq!(value(&ci, Key::JobId).as_deref(), Some("jenkins-app-deploy-17"));
        assert_eq!(ci.context[1].1.value, "main");
    }

    #[test]
    fn non_human_triggers_are_not_people() {
        for id in ["timer", "scmChange"] {
            let ci = read(&env(&[("JENKINS_URL", "x"), ("BUILD_USER_ID", id)]));
            assert!(ci.layer.get(Key::TriggeredBy).is_none(), "{id}");
        }
        let ci = read(&env(&[("JENKINS_URL", "x"), ("BUILD_USER_ID", "alice")]));
        assert_eq!(value(&ci, Key::TriggeredBy).as_deref(), Some("alice"));
        let ci =
            read(&env(&[("JENKINS_URL", "x"), ("BUILD_USER_ID", "alice"), ("BUILD_USER_EMAIL", "alice@example.com")]));
        assert_eq!(value(&ci, Key::TriggeredBy).as_deref(), Some("alice@example.com"));
        let ci = read(&env(&[("JENKINS_URL", "x"), ("CHANGE_AUTHOR_EMAIL", "pr@example.com")]));
        assert_eq!(value(&ci, Key::TriggeredBy).as_deref(), Some("pr@example.com"));
    }

    #[test]
    fn status_and_start_are_left_to_the_user_with_hints() {
        let ci = read(&env(&[("JENKINS_URL", "x")]));
        assert!(ci.layer.get(Key::Status).is_none());
        assert!(ci.hints.iter().any(|(k, h)| *k == Key::Status && h.contains("currentBuild.currentResult")));
        assert!(ci.hints.iter().any(|(k, _)| *k == Key::JobStartTime));
    }
}
