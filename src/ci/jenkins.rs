//! Jenkins.

use crate::env::Env;
use crate::git::remote;
use crate::vocab::names::Key;

use super::{Ci, Context, Vars};

const SYSTEM: &str = "Jenkins";

/// `BUILD_USER_ID` values that are not people (compared in lower case). The build-user-vars
/// plugin sets `timer` (TimerTriggerCause), `scmChange` (SCMTriggerCause), `remoteRequest`
/// (RemoteCause, a build triggered with a token), `branchIndexing` (BranchIndexingCause),
/// `genericWebhook` (the Generic Webhook Trigger's GenericCause), and `anonymous` for a user
/// cause without a user; `SYSTEM` is Jenkins' own identity. `upstream` and `remote` were written
/// by older releases.
const NON_HUMAN: &[&str] = &[
    "timer",
    "scmchange",
    "remoterequest",
    "branchindexing",
    "genericwebhook",
    "anonymous",
    "system",
    "upstream",
    "remote",
];

/// Variables of pull-request plugins that name the PR's head commit outright: the GitHub Pull
/// Request Builder's `ghprbActualCommit` and the GitLab plugin's `gitlabMergeRequestLastCommit`.
const PR_HEAD_VARS: &[&str] = &["ghprbActualCommit", "gitlabMergeRequestLastCommit"];

/// The identity the git plugin's `MergeWithGitSCMExtension` commits its merges with, for
/// multibranch pull-request builds with the "merge with the target" strategy. It checks out the
/// PR head and merges the target's tip into it, so such a merge's parents are the PR head and
/// the target, and the commit itself exists only on the agent.
const AGENT_MERGER: (&str, &str) = ("Jenkins", "nobody@nowhere");

/// The variable the shared-library step (vars/customcdReport.groovy) fills with
/// `currentBuild.getBuildCauses()` as JSON: a list of `{"_class": ..., "userId": ...}`.
pub(super) const CAUSES_VAR: &str = "CUSTOMCD_STEP_CAUSES";

/// The cause of a build a person started ("Build Now", a rebuild, a replay by a user).
const USER_CAUSE: &str = "hudson.model.Cause$UserIdCause";

/// Who triggered the build: the build-user-vars plugin's email (set only inside
/// `wrap([$class: 'BuildUser'])`), else the build's causes as the step read them (a person's
/// `UserIdCause`; any other cause, a timer, an SCM poll, branch indexing, an upstream build or a
/// remote trigger, is nobody), else the plugin's user id when it names a person; on a
/// multibranch pull request that no person and no timer started, the pull request's author,
/// whose push started it.
fn triggered_by(v: &Vars<'_>) -> Option<crate::vocab::source::Sourced<String>> {
    if let Some(email) = v.get("BUILD_USER_EMAIL") {
        return Some(email);
    }
    let causes: Option<Vec<serde_json::Value>> = v.raw(CAUSES_VAR).and_then(|c| serde_json::from_str(c).ok());
    if let Some(causes) = &causes {
        let user = causes.iter().find(|c| c.get("_class").and_then(|k| k.as_str()) == Some(USER_CAUSE));
        if let Some(id) = user.and_then(|c| c.get("userId")).and_then(|u| u.as_str()).filter(|u| !u.trim().is_empty()) {
            return Some(v.derived(
                id.trim().to_owned(),
                format!("{CAUSES_VAR} (currentBuild.getBuildCauses(): {USER_CAUSE} userId)"),
            ));
        }
    }
    if let Some(id) = v.get("BUILD_USER_ID").filter(|id| !NON_HUMAN.contains(&id.value.to_ascii_lowercase().as_str())) {
        return Some(id);
    }
    let timer = v.raw("BUILD_USER_ID").is_some_and(|id| id.eq_ignore_ascii_case("timer"))
        || causes
            .iter()
            .flatten()
            .any(|c| c.get("_class").and_then(|k| k.as_str()).is_some_and(|k| k.contains("TimerTrigger")));
    if timer {
        return None;
    }
    v.get("CHANGE_AUTHOR_EMAIL")
}

pub(super) fn detect(env: &Env) -> bool {
    env.get("JENKINS_URL").is_some()
        || env.get("JENKINS_HOME").is_some()
        || env.get("HUDSON_URL").is_some()
        || env.get("BUILD_TAG").is_some_and(|t| t.starts_with("jenkins-"))
}

pub(super) fn read(env: &Env) -> Ci {
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
    ci.set(Key::TriggeredBy, triggered_by(&v));
    // BUILD_TAG names the build; one build may deploy in several stages (staging, then
    // production), each its own job, so a report made inside a stage adds the stage's name.
    // The start state stays keyed by the build (the step finds it by BUILD_TAG).
    ci.job_key = v.raw("BUILD_TAG").map(str::to_owned);
    let job_id = match (v.raw("BUILD_TAG"), v.raw("STAGE_NAME")) {
        (Some(tag), Some(stage)) => Some(v.derived(format!("{tag}-{stage}"), "BUILD_TAG-STAGE_NAME")),
        _ => v.get("BUILD_TAG"),
    };
    ci.set(Key::JobId, job_id);
    ci.commit = v.get("GIT_COMMIT");
    pull_request_head(&v, &mut ci);
    ci.context(Context::RunUrl, v.get("BUILD_URL"));
    // A pull request's own branch rather than multibranch's `PR-42`.
    let branch = v
        .first(&["CHANGE_BRANCH", "BRANCH_NAME", "GIT_BRANCH"])
        .map(|b| b.map(|s| s.strip_prefix("origin/").map(str::to_owned).unwrap_or(s)));
    ci.context(Context::Branch, branch);
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

/// The head of the pull request a build is for, when HEAD is not it: a plugin variable that
/// names it, else, on a multibranch PR build (`CHANGE_ID`), the PR-head parent of a merge that
/// Jenkins made on the agent. The repository read is the one in `WORKSPACE`, where `checkout scm`
/// puts it.
fn pull_request_head(v: &Vars<'_>, ci: &mut Ci) {
    if let Some(head) = v.first(PR_HEAD_VARS) {
        ci.pr_head = Some(head);
        return;
    }
    let Some(change) = v.raw("CHANGE_ID") else { return };
    let Some(workspace) = v.raw("WORKSPACE") else { return };
    match agent_merge_parent(std::path::Path::new(workspace), v.raw("CHANGE_TARGET")) {
        Ok(Some(found)) => {
            let detail = format!(
                "CHANGE_ID {change}: the pull request's head, parent {} of HEAD {} (a merge with the target{} that Jenkins made on the agent) in WORKSPACE",
                found.parent_number,
                found.merge,
                v.raw("CHANGE_TARGET").map(|t| format!(" {t}")).unwrap_or_default(),
            );
            ci.pr_head = Some(v.derived(found.head, detail));
        }
        Ok(None) => {}
        Err(why) => ci.commit_warnings.push(format!(
            "CHANGE_ID is {change} (a pull-request build), but the repository in WORKSPACE ({workspace}) cannot be read to tell whether HEAD is a merge made on the agent: {why}. The commit reported is HEAD as found from the working directory (or GIT_COMMIT), which for a \"merge with the target\" build is a commit that exists only on the agent; pass --commit-sha with the pull request's head if so"
        )),
    }
}

/// A pull request's head found behind a merge made on the agent.
struct AgentMerge {
    head: String,
    merge: String,
    /// 1 or 2, as `git rev-parse HEAD^N` counts.
    parent_number: usize,
}

/// When HEAD in `dir` is a two-parent merge committed as [`AGENT_MERGER`], the parent that is the
/// pull request's head: the one that is not the target's tip (`refs/remotes/origin/TARGET`), else
/// the first parent, into which the git plugin merges the target. `None` when HEAD is not such a
/// merge (the "head" strategy, or a fast-forward), so HEAD itself is the PR head.
fn agent_merge_parent(dir: &std::path::Path, target: Option<&str>) -> Result<Option<AgentMerge>, String> {
    let repo = crate::git::open(dir).map_err(|e| e.to_string())?;
    let head = repo.head_commit().map_err(|e| format!("HEAD: {e}"))?;
    let parents: Vec<gix::ObjectId> = head.parent_ids().map(gix::Id::detach).collect();
    let committer = head.committer().map_err(|e| format!("HEAD's committer: {e}"))?;
    let by_agent = committer.name == AGENT_MERGER.0 && committer.email == AGENT_MERGER.1;
    if parents.len() != 2 || !by_agent {
        return Ok(None);
    }
    // A merge made on the agent is the tip of no ref fetched from the server. One that is (the
    // pull request's own head, fetched as refs/remotes/origin/PR-N, committed as "Jenkins" by
    // whoever wrote it) exists on the server and is what was built: the committer's name and
    // email are anyone's to write, so they alone never decide.
    if is_a_fetched_tip(&repo, head.id) {
        return Ok(None);
    }
    let target_tip = target.and_then(|t| {
        let mut r = repo.find_reference(format!("refs/remotes/origin/{t}").as_str()).ok()?;
        r.peel_to_id().ok().map(gix::Id::detach)
    });
    let index = match target_tip {
        Some(tip) if parents[0] == tip => 1,
        _ => 0,
    };
    Ok(Some(AgentMerge {
        head: parents[index].to_hex().to_string(),
        merge: head.id.to_hex().to_string(),
        parent_number: index + 1,
    }))
}

/// Whether `id` is the tip of a remote-tracking branch or a tag: a commit the server has.
fn is_a_fetched_tip(repo: &gix::Repository, id: gix::ObjectId) -> bool {
    let Ok(refs) = repo.references() else { return false };
    ["refs/remotes/", "refs/tags/"].iter().any(|prefix| {
        refs.prefixed(*prefix).is_ok_and(|mut iter| {
            iter.any(|r| r.ok().and_then(|mut r| r.peel_to_id().ok()).is_some_and(|tip| tip == id))
        })
    })
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
    fn automatic_triggers_are_not_people() {
        // Every id the build-user-vars plugin writes for a cause that is not a user.
        for id in ["timer", "scmChange", "remoteRequest", "branchIndexing", "genericWebhook", "anonymous", "SYSTEM"] {
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

    /// Variables every Jenkins build has (Jenkins' env-vars.html), plus the git plugin's.
    fn documented() -> Vec<(&'static str, &'static str)> {
        vec![
            ("BUILD_NUMBER", "17"),
            ("BUILD_ID", "17"),
            ("BUILD_DISPLAY_NAME", "#17"),
            ("JOB_NAME", "app/main"),
            ("JOB_BASE_NAME", "main"),
            ("BUILD_TAG", "jenkins-app-main-17"),
            ("EXECUTOR_NUMBER", "0"),
            ("NODE_NAME", "built-in"),
            ("NODE_LABELS", "built-in"),
            ("WORKSPACE", "/nonexistent/workspace/app_main"),
            ("WORKSPACE_TMP", "/nonexistent/workspace/app_main@tmp"),
            ("JENKINS_HOME", "/var/jenkins_home"),
            ("JENKINS_URL", "https://ci.example.com/"),
            ("BUILD_URL", "https://ci.example.com/job/app/job/main/17/"),
            ("JOB_URL", "https://ci.example.com/job/app/job/main/"),
            ("GIT_COMMIT", "1111111111111111111111111111111111111111"),
            ("GIT_PREVIOUS_COMMIT", "0000000000000000000000000000000000000001"),
            ("GIT_PREVIOUS_SUCCESSFUL_COMMIT", "0000000000000000000000000000000000000002"),
            ("GIT_BRANCH", "origin/main"),
            ("GIT_LOCAL_BRANCH", "main"),
            ("GIT_URL", "https://github.com/acme/app.git"),
            ("GIT_COMMITTER_NAME", "Jenkins"),
            ("GIT_AUTHOR_NAME", "Jenkins"),
            ("GIT_COMMITTER_EMAIL", "jenkins@example.com"),
            ("GIT_AUTHOR_EMAIL", "jenkins@example.com"),
        ]
    }

    /// What one build shape should give: triggered_by, branch, the commit variable, a PR head.
    struct Want {
        who: Option<&'static str>,
        branch: &'static str,
        pr_head: Option<&'static str>,
    }

    /// A build shape: its name, the variables it adds to the documented ones, what it gives.
    type Shape = (&'static str, &'static [(&'static str, &'static str)], Want);

    #[test]
    fn every_build_shape_of_the_catalogue_reads_as_documented() {
        let cases: &[Shape] = &[
            (
                "a branch build by a timer",
                &[("BUILD_USER_ID", "timer")],
                Want { who: None, branch: "main", pr_head: None },
            ),
            (
                "a multibranch branch build started by a person",
                &[
                    ("BRANCH_NAME", "main"),
                    ("BRANCH_IS_PRIMARY", "true"),
                    ("BUILD_USER_ID", "alice"),
                    ("BUILD_USER_EMAIL", "alice@example.com"),
                ],
                Want { who: Some("alice@example.com"), branch: "main", pr_head: None },
            ),
            (
                "a multibranch tag build found by branch indexing",
                &[
                    ("BRANCH_NAME", "v1.2.0"),
                    ("TAG_NAME", "v1.2.0"),
                    ("TAG_TIMESTAMP", "1704018030000"),
                    ("BUILD_USER_ID", "branchIndexing"),
                ],
                Want { who: None, branch: "v1.2.0", pr_head: None },
            ),
            (
                "a multibranch pull request (head strategy: the workspace is not a repository here)",
                &[
                    ("BRANCH_NAME", "PR-42"),
                    ("CHANGE_ID", "42"),
                    ("CHANGE_URL", "https://github.com/acme/app/pull/42"),
                    ("CHANGE_TITLE", "Deploy to eu"),
                    ("CHANGE_AUTHOR", "bob"),
                    ("CHANGE_AUTHOR_DISPLAY_NAME", "Bob"),
                    ("CHANGE_AUTHOR_EMAIL", "bob@example.com"),
                    ("CHANGE_TARGET", "main"),
                    ("CHANGE_BRANCH", "feature/eu"),
                    ("CHANGE_FORK", "bob"),
                    ("BUILD_USER_ID", "branchIndexing"),
                ],
                Want { who: Some("bob@example.com"), branch: "feature/eu", pr_head: None },
            ),
            (
                "a GitHub Pull Request Builder build",
                &[
                    ("ghprbPullId", "42"),
                    ("ghprbActualCommit", "2222222222222222222222222222222222222222"),
                    ("sha1", "origin/pr/42/merge"),
                    ("BUILD_USER_ID", "genericWebhook"),
                ],
                Want { who: None, branch: "main", pr_head: Some("2222222222222222222222222222222222222222") },
            ),
            (
                "a GitLab plugin merge request build",
                &[
                    ("gitlabMergeRequestIid", "7"),
                    ("gitlabMergeRequestLastCommit", "3333333333333333333333333333333333333333"),
                    ("BUILD_USER_ID", "remoteRequest"),
                ],
                Want { who: None, branch: "main", pr_head: Some("3333333333333333333333333333333333333333") },
            ),
        ];
        for (shape, extra, want) in cases {
            let mut pairs = documented();
            pairs.extend_from_slice(extra);
            let ci = read(&env(&pairs));
            assert_eq!(ci.system, "Jenkins", "{shape}");
            assert_eq!(value(&ci, Key::RepoName).as_deref(), Some("acme/app"), "{shape}");
            assert_eq!(value(&ci, Key::JobId).as_deref(), Some("jenkins-app-main-17"), "{shape}");
            assert_eq!(
                value(&ci, Key::TriggeredBy).as_deref(),
                want.who,
                "{shape}: GIT_AUTHOR_EMAIL is not who triggered"
            );
            assert_eq!(ci.context_value(Context::Branch).map(|b| b.value.as_str()), Some(want.branch), "{shape}");
            assert_eq!(
                ci.commit.as_ref().map(|c| c.value.as_str()),
                Some("1111111111111111111111111111111111111111"),
                "{shape}"
            );
            assert_eq!(ci.pr_head.as_ref().map(|h| h.value.as_str()), want.pr_head, "{shape}");
            assert_eq!(
                ci.temp_dir.as_deref(),
                Some(std::path::Path::new("/nonexistent/workspace/app_main@tmp")),
                "{shape}"
            );
            assert!(ci.layer.get(Key::JobStartTime).is_none() && ci.layer.get(Key::Status).is_none(), "{shape}");
        }
    }

    #[test]
    fn a_pull_request_build_whose_workspace_cannot_be_read_says_so() {
        let mut pairs = documented();
        pairs.extend_from_slice(&[("CHANGE_ID", "42"), ("CHANGE_TARGET", "main")]);
        let ci = read(&env(&pairs));
        assert!(ci.pr_head.is_none());
        let w = ci.commit_warnings.first().expect("a warning");
        assert!(w.contains("CHANGE_ID is 42") && w.contains("/nonexistent/workspace/app_main"), "{w}");
        assert!(w.contains("--commit-sha"), "{w}");
    }

    #[test]
    fn status_and_start_are_left_to_the_user_with_hints() {
        let ci = read(&env(&[("JENKINS_URL", "x")]));
        assert!(ci.layer.get(Key::Status).is_none());
        assert!(ci.hints.iter().any(|(k, h)| *k == Key::Status && h.contains("currentBuild.currentResult")));
        assert!(ci.hints.iter().any(|(k, _)| *k == Key::JobStartTime));
    }
}
