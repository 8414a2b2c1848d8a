//! GitHub's REST API: the previous deploy from the Deployments API (a deployment's statuses say
//! whether it succeeded), and a pull request's own commits.

use serde_json::Value;

use crate::vocab::source::{Source, Sourced};

use super::{query_value, sha, Budget, Found, EARLIER_MAX};
use crate::settings::records::{Api, Own};

/// Deployments read per lookup: the newest, enough to pass this run's own and a few failures.
const DEPLOYMENTS_PAGE: usize = 10;
/// Deployments whose statuses are read, at most, in one lookup: before giving up on finding the
/// previous deploy, and (with what is left of them) after it, for the earlier deploys.
const STATUS_LOOKUPS: usize = 5;
/// Earlier deployments whose statuses are read, at most, after the previous one: enough for a
/// rollback to the deploy before last, while the pull request lookups (squash merges) that share
/// the run's budget keep most of it.
const EARLIER_STATUS_READS: usize = 2;

/// The newest deployment to `environment` whose latest status is `success` (or `inactive` after
/// a `success`: GitHub marks a successful deployment inactive when a newer one to the same
/// environment succeeds), and that is not this run's own.
pub(super) fn previous_deploy(
    api: &Api,
    agent: &ureq::Agent,
    environment: &str,
    own: &Own,
    budget: &mut Budget,
) -> Result<Found, String> {
    let repo = &api.project;
    let list = api.get(
        agent,
        &format!("/repos/{repo}/deployments?environment={}&per_page={DEPLOYMENTS_PAGE}", query_value(environment)),
        budget,
    )?;
    let Some(deployments) = list.as_array() else {
        return Err(malformed("the deployments list is not a JSON array"));
    };
    for (looked, deployment) in deployments.iter().enumerate() {
        let id =
            deployment.get("id").and_then(Value::as_u64).ok_or_else(|| malformed("a deployment has no numeric id"))?;
        let commit = sha(deployment.get("sha"))
            .ok_or_else(|| malformed(&format!("deployment {id} names no full commit sha")))?;
        if looked == STATUS_LOOKUPS {
            return Err(format!(
                "none of the newest {STATUS_LOOKUPS} deployments to {environment} in GitHub's record succeeded (or they were this run's own); pass --previous-sha or --previous-tag"
            ));
        }
        let statuses = api.get(agent, &format!("/repos/{repo}/deployments/{id}/statuses?per_page=30"), budget)?;
        let Some(statuses) = statuses.as_array() else {
            return Err(malformed(&format!("the statuses of deployment {id} are not a JSON array")));
        };
        if own.deployment_id == Some(id) || statuses.iter().any(|s| names_run(s, own)) {
            continue;
        }
        if succeeded(statuses) {
            let created = deployment.get("created_at").and_then(Value::as_str).unwrap_or("?");
            let detail = format!(
                "deployments API: deployment {id} to {environment}, created {created}, the newest that succeeded"
            );
            let reads = EARLIER_STATUS_READS.min(STATUS_LOOKUPS - looked - 1);
            let earlier = earlier(api, agent, &deployments[looked + 1..], reads, own, budget);
            let previous = Sourced::new(commit, Source::Ci { system: api.system(), detail });
            return Ok(Found::Deploy { previous, earlier });
        }
    }
    if deployments.len() < DEPLOYMENTS_PAGE {
        Ok(Found::None(format!(
            "GitHub's deployments record no earlier successful deploy to {environment} than this run's: a first deploy"
        )))
    } else {
        Err(format!(
            "none of the newest {DEPLOYMENTS_PAGE} deployments to {environment} in GitHub's record succeeded; pass --previous-sha or --previous-tag"
        ))
    }
}

/// Whether a deployment's statuses (newest first) say it succeeded: its latest is `success`, or
/// `inactive` after a `success`.
fn succeeded(statuses: &[Value]) -> bool {
    let states: Vec<&str> = statuses.iter().filter_map(|s| s.get("state").and_then(Value::as_str)).collect();
    match states.first() {
        Some(&"success") => true,
        Some(&"inactive") => states.contains(&"success"),
        _ => false,
    }
}

/// The commits of the successful deployments among `older` (the rest of the page already read,
/// newest first), reading the statuses of at most `lookups` of them within `budget`: GitHub's
/// list does not say which succeeded. Best effort: the first failure (the budget spent, a
/// refusal, an odd answer) ends it with what was found, and costs the previous deploy nothing.
fn earlier(
    api: &Api,
    agent: &ureq::Agent,
    older: &[Value],
    lookups: usize,
    own: &Own,
    budget: &mut Budget,
) -> Vec<String> {
    let mut found = Vec::new();
    for deployment in older.iter().take(lookups) {
        let (Some(id), Some(commit)) = (deployment.get("id").and_then(Value::as_u64), sha(deployment.get("sha")))
        else {
            break;
        };
        let Ok(statuses) =
            api.get(agent, &format!("/repos/{}/deployments/{id}/statuses?per_page=30", api.project), budget)
        else {
            break;
        };
        let Some(statuses) = statuses.as_array() else { break };
        if own.deployment_id != Some(id) && !statuses.iter().any(|s| names_run(s, own)) && succeeded(statuses) {
            found.push(commit);
        }
        if found.len() == EARLIER_MAX {
            break;
        }
    }
    found
}

/// Whether a deployment status was written by this workflow run: its log or target URL names
/// `/actions/runs/RUN_ID` (the runner's deployments link to the run and job).
fn names_run(status: &Value, own: &Own) -> bool {
    let Some(run) = own.run_id.as_deref().filter(|r| !r.is_empty()) else { return false };
    let needle = format!("/actions/runs/{run}");
    ["log_url", "target_url"].iter().filter_map(|k| status.get(*k).and_then(Value::as_str)).any(|url| {
        url.match_indices(&needle).any(|(at, m)| {
            let rest = &url[at + m.len()..];
            rest.is_empty() || rest.starts_with(['/', '?', '#'])
        })
    })
}

fn malformed(what: &str) -> String {
    format!("GitHub's deployments answer is not what the API documents ({what}); the change set is left out")
}

/// The commits of pull request `number`, oldest first (GitHub lists at most 250; the first page
/// of 100 holds the oldest, which make the lead time): each commit's sha and author time.
pub(crate) fn pull_commits(
    api: &Api,
    agent: &ureq::Agent,
    number: u64,
    budget: &mut Budget,
) -> Result<Vec<(String, i64)>, String> {
    let answer = api.get(agent, &format!("/repos/{}/pulls/{number}/commits?per_page=100", api.project), budget)?;
    let bad = || format!("GitHub's answer for the commits of pull request #{number} is not what the API documents");
    let list = answer.as_array().ok_or_else(bad)?;
    list.iter()
        .map(|c| {
            let id = sha(c.get("sha")).ok_or_else(bad)?;
            let date = c.pointer("/commit/author/date").and_then(Value::as_str).ok_or_else(bad)?;
            let at: jiff::Timestamp = date.parse().map_err(|_| bad())?;
            Ok((id, at.as_second()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_names_this_run_only_by_its_whole_id() {
        let own = Own { run_id: Some("42".into()), ..Own::default() };
        let status = |url: &str| serde_json::json!({"state": "success", "log_url": url});
        assert!(names_run(&status("https://github.com/a/b/actions/runs/42/job/7"), &own));
        assert!(names_run(&status("https://github.com/a/b/actions/runs/42"), &own));
        assert!(!names_run(&status("https://github.com/a/b/actions/runs/421/job/7"), &own));
        assert!(!names_run(&status("https://github.com/a/b/actions/runs/42/job/7"), &Own::default()));
    }
}
