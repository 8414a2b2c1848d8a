//! GitLab's REST API: the previous deploy from the Deployments API, asked for successful
//! deployments to the environment, newest first (GitLab's default order is oldest first).

use serde_json::Value;

use crate::vocab::source::{Source, Sourced};

use super::{query_value, sha, Budget, Found, EARLIER_MAX};
use crate::settings::records::{Api, Own};

/// Deployments read per lookup: this pipeline's own and the one before fit many times over, and
/// the rest of the page gives the earlier deploys (for rollbacks and reverts) without another
/// request.
const DEPLOYMENTS_PAGE: usize = 20;

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
    for (at, d) in deployments.iter().enumerate() {
        let id = d.get("id").and_then(Value::as_u64).ok_or_else(|| malformed("a deployment has no numeric id"))?;
        // The filter was asked for; an answer that ignores it is not trusted.
        if d.get("status").and_then(Value::as_str) != Some("success") {
            return Err(malformed(&format!("deployment {id} is listed as successful but says {:?}", d.get("status"))));
        }
        if is_own(d, own) {
            continue;
        }
        let commit =
            sha(d.get("sha")).ok_or_else(|| malformed(&format!("deployment {id} names no full commit sha")))?;
        let iid = d.get("iid").and_then(Value::as_u64).map(|i| format!(" (#{i})")).unwrap_or_default();
        let when = d.get("finished_at").or_else(|| d.get("updated_at")).and_then(Value::as_str).unwrap_or("?");
        let detail = format!("deployments API: deployment {id}{iid} to {environment}, finished {when}, the newest successful one before this pipeline's");
        // The older successful deployments on the same page shipped too; one that is odd
        // (not listed as successful, no full sha) is left out rather than failing the lookup.
        let earlier = deployments[at + 1..]
            .iter()
            .filter(|d| d.get("status").and_then(Value::as_str) == Some("success") && !is_own(d, own))
            .filter_map(|d| sha(d.get("sha")))
            .take(EARLIER_MAX)
            .collect();
        let previous = Sourced::new(commit, Source::Ci { system: api.system(), detail });
        return Ok(Found::Deploy { previous, earlier });
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

/// Whether deployment `d` is this job's or this pipeline's own.
fn is_own(d: &Value, own: &Own) -> bool {
    let job = d.pointer("/deployable/id").and_then(Value::as_u64);
    let pipeline = d.pointer("/deployable/pipeline/id").and_then(Value::as_u64);
    (job.is_some() && job == own.job_id) || (pipeline.is_some() && pipeline == own.pipeline_id)
}

fn malformed(what: &str) -> String {
    format!("GitLab's deployments answer is not what the API documents ({what}); the change set is left out")
}
