//! GitLab's REST API: the previous deploy from the Deployments API, asked for successful
//! deployments to the environment, newest first (GitLab's default order is oldest first).

use serde_json::Value;

use crate::env::Env;
use crate::settings::names::{Key, Stack};
use crate::settings::source::{Source, Sourced};

use super::{query_value, sha, Api, Budget, Found, Kind, Own};

/// Deployments read per lookup: this pipeline's own and the one before fit many times over.
const DEPLOYMENTS_PAGE: usize = 10;

/// GitLab's API for this job: `CI_API_V4_URL`, `CI_PROJECT_ID`, and `gitlab_token` (as
/// `PRIVATE-TOKEN`) else the job's own `CI_JOB_TOKEN` (as `JOB-TOKEN`).
pub(super) fn api(
    stack: &Stack,
    env: &Env,
    github: bool,
    warnings: &mut Vec<String>,
) -> Option<(Kind, String, &'static str, crate::secret::Token, String, String)> {
    let base = env.get("CI_API_V4_URL").map(str::trim).filter(|b| !b.is_empty())?;
    let project =
        env.get("CI_PROJECT_ID").map(str::trim).filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))?;
    let (token, header, shown) = match super::token(stack, Key::GitlabToken, github, warnings) {
        Some((t, shown)) => (t, "PRIVATE-TOKEN", shown),
        None if stack.get(Key::GitlabToken).is_some() => return None,
        None => {
            let raw = env.get("CI_JOB_TOKEN").map(str::trim).filter(|t| !t.is_empty())?;
            match crate::secret::Token::new(raw) {
                Ok(t) => (t, "JOB-TOKEN", "CI_JOB_TOKEN".to_owned()),
                Err(refusal) => {
                    warnings.push(format!("CI_JOB_TOKEN {}; GitLab's deployments are not asked", refusal.rule()));
                    return None;
                }
            }
        }
    };
    Some((Kind::GitLab, base.trim_end_matches('/').to_owned(), header, token, shown, project.to_owned()))
}

/// The newest successful deployment to `environment` that is not this job's or this pipeline's.
pub(super) fn previous_deploy(
    api: &Api,
    agent: &ureq::Agent,
    environment: &str,
    own: &Own,
    budget: &mut Budget,
) -> Result<Found, String> {
    let list = api.get(
        agent,
        &format!(
            "/projects/{}/deployments?environment={}&status=success&order_by=id&sort=desc&per_page={DEPLOYMENTS_PAGE}",
            api.project,
            query_value(environment)
        ),
        budget,
    )?;
    let Some(deployments) = list.as_array() else {
        return Err(malformed("the deployments list is not a JSON array"));
    };
    for d in deployments {
        let id = d.get("id").and_then(Value::as_u64).ok_or_else(|| malformed("a deployment has no numeric id"))?;
        // The filter was asked for; an answer that ignores it is not trusted.
        if d.get("status").and_then(Value::as_str) != Some("success") {
            return Err(malformed(&format!("deployment {id} is listed as successful but says {:?}", d.get("status"))));
        }
        let job = d.pointer("/deployable/id").and_then(Value::as_u64);
        let pipeline = d.pointer("/deployable/pipeline/id").and_then(Value::as_u64);
        if (job.is_some() && job == own.job_id) || (pipeline.is_some() && pipeline == own.pipeline_id) {
            continue;
        }
        let commit =
            sha(d.get("sha")).ok_or_else(|| malformed(&format!("deployment {id} names no full commit sha")))?;
        let iid = d.get("iid").and_then(Value::as_u64).map(|i| format!(" (#{i})")).unwrap_or_default();
        let when = d.get("finished_at").or_else(|| d.get("updated_at")).and_then(Value::as_str).unwrap_or("?");
        let detail = format!("deployments API: deployment {id}{iid} to {environment}, finished {when}, the newest successful one before this pipeline's");
        return Ok(Found::Deploy(Sourced::new(commit, Source::Ci { system: api.system(), detail })));
    }
    if deployments.len() < DEPLOYMENTS_PAGE {
        Ok(Found::None(format!(
            "GitLab's deployments record no successful deploy to {environment} before this pipeline's: a first deploy"
        )))
    } else {
        Err(format!(
            "the newest {DEPLOYMENTS_PAGE} successful deployments to {environment} in GitLab's record are all this pipeline's; pass --previous-sha"
        ))
    }
}

fn malformed(what: &str) -> String {
    format!("GitLab's deployments answer is not what the API documents ({what}); the change set is left out")
}
