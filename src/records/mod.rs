//! The CI platforms' own records, read over their APIs: the previous deploy of this service to
//! this environment (GitHub's and GitLab's Deployments APIs) and the commits of squash-merged
//! pull requests (GitHub's pull request commits). What to ask was decided once, without the
//! network, by `settings::records`; the asking here shares one short [`Budget`].
//!
//! Every request goes to the platform's own API host only (redirects are never followed), with
//! its token as a registered secret; and every failure (a refusal, a timeout, an answer that is
//! not what the API documents) is a warning naming the fix, never a failed or delayed report:
//! all lookups of a run together take at most [`DEADLINE`] and [`MAX_REQUESTS`] requests.
//!
//! Layer: records (see tests/integration/layers.rs). May import: vocab, secret, job, settings,
//! delivery.

pub(crate) mod github;
pub(crate) mod gitlab;

use std::io::Read;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::secret;
use crate::settings::records::{host_of, Api, Kind, Own};
use crate::vocab::names::{var_name, Key};
use crate::vocab::source::Sourced;

/// The most all lookups of one run take together, from the first request to the last answer.
pub(crate) const DEADLINE: Duration = Duration::from_secs(5);
/// The most requests all lookups of one run make together.
pub(crate) const MAX_REQUESTS: usize = 8;
/// The most commits of earlier deploys kept from the answers already read.
pub(crate) const EARLIER_MAX: usize = 20;
/// The most of one answer that is read: a page of deployments or of commits is far smaller.
const MAX_ANSWER_BYTES: u64 = 1024 * 1024;

/// Time and requests left for the lookups of one run.
pub(crate) struct Budget {
    until: Instant,
    left: usize,
}

impl Budget {
    /// [`DEADLINE`] and [`MAX_REQUESTS`] from now.
    pub(crate) fn start() -> Budget {
        Budget::new(DEADLINE, MAX_REQUESTS)
    }

    pub(crate) fn new(time: Duration, requests: usize) -> Budget {
        Budget { until: Instant::now() + time, left: requests }
    }

    /// The time left for the next request, when a request may still be made.
    fn take(&mut self) -> Option<Duration> {
        let left = self.until.checked_duration_since(Instant::now()).filter(|d| !d.is_zero())?;
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        Some(left)
    }
}

impl Api {
    /// GETs `path` (from the base, with its query) and parses the JSON answer, within `budget`.
    /// The error is a warning's text: what went wrong and the fix, secrets hidden.
    fn get(&self, agent: &ureq::Agent, path: &str, budget: &mut Budget) -> Result<Value, String> {
        let url = format!("{}{path}", self.base);
        let shown = format!("{} {}", self.system(), path.split('?').next().unwrap_or(path));
        let Some(time) = budget.take() else {
            return Err(format!(
                "{shown} was not asked: the lookups' budget ({} s, {MAX_REQUESTS} requests in all) was spent",
                DEADLINE.as_secs()
            ));
        };
        let value = match self.kind {
            Kind::GitHub => format!("Bearer {}", self.token.expose_for_masking()),
            Kind::GitLab => self.token.expose_for_masking().to_owned(),
        };
        let mut request = agent
            .get(&url)
            .config()
            .timeout_global(Some(time))
            .build()
            .header(self.header, &value)
            .header("Accept", "application/json");
        if self.kind == Kind::GitHub {
            request =
                request.header("Accept", "application/vnd.github+json").header("X-GitHub-Api-Version", "2022-11-28");
        }
        let mut response = match request.call() {
            Ok(r) => r,
            Err(ureq::Error::Timeout(_)) => {
                return Err(secret::redact(&format!(
                    "{shown} did not answer within the lookups' deadline ({} s in all)",
                    DEADLINE.as_secs()
                )))
            }
            Err(e) => return Err(secret::redact(&format!("{shown} could not be asked: {e}"))),
        };
        let status = response.status().as_u16();
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let (location, rate_left) = (header("location"), header("x-ratelimit-remaining"));
        let mut body = Vec::new();
        let read = response.body_mut().as_reader().take(MAX_ANSWER_BYTES + 1).read_to_end(&mut body);
        if let Err(e) = read {
            let why = if e.kind() == std::io::ErrorKind::TimedOut || e.to_string().contains("imeout") {
                format!("did not finish its answer within the lookups' deadline ({} s in all)", DEADLINE.as_secs())
            } else {
                format!("broke off its answer: {e}")
            };
            return Err(secret::redact(&format!("{shown} {why}")));
        }
        match status {
            200 => {}
            300..=399 => {
                let to = location.as_deref().and_then(host_of).unwrap_or_else(|| "elsewhere".to_owned());
                return Err(secret::redact(&format!(
                    "{shown} answered HTTP {status}, a redirect to {to}; it is not followed, so that the token goes to {} only (check {})",
                    self.host(),
                    self.base_var()
                )));
            }
            _ => return Err(secret::redact(&self.refusal(&shown, status, rate_left.as_deref()))),
        }
        if body.len() as u64 > MAX_ANSWER_BYTES {
            return Err(format!("{shown} answered more than {} KiB, which no page of it is", MAX_ANSWER_BYTES / 1024));
        }
        serde_json::from_slice(&body).map_err(|e| {
            secret::redact(&format!(
                "{shown} answered HTTP 200 with something that is not JSON ({e}): {}",
                crate::delivery::http::excerpt(&String::from_utf8_lossy(&body), 120)
            ))
        })
    }

    /// A refusal in words, with the fix for this platform.
    fn refusal(&self, shown: &str, status: u16, rate_left: Option<&str>) -> String {
        let token = &self.token_shown;
        // Which record was asked, and the permission that reads it.
        let (what, permission) = if shown.contains("/pulls/") {
            ("pull requests", "pull-requests: read")
        } else {
            ("deployments", "deployments: read")
        };
        let fix = match (self.kind, status) {
            (Kind::GitHub, 403) if rate_left == Some("0") => {
                "GitHub's API rate limit for this token is spent; it resets within the hour".to_owned()
            }
            (Kind::GitHub, 401) => format!(
                "the token ({token}) was refused: give {} a valid token (the action passes github.token by default)",
                Key::GithubToken.name()
            ),
            (Kind::GitHub, 403 | 404) => format!(
                "the token ({token}) may not read the {what} of {}: grant the workflow or job `permissions: {permission}` (a permissions block sets every permission it does not name to none), or give {} a token that can",
                self.project,
                Key::GithubToken.name()
            ),
            (Kind::GitLab, 401) => format!(
                "the token ({token}) was refused: set {} to a project access token with read_api",
                var_name(Key::GitlabToken)
            ),
            (Kind::GitLab, 403 | 404) => format!(
                "the token ({token}) may not read project {}'s deployments: where the project limits job tokens, allow them Deployments: Read (Settings > CI/CD > Job token permissions), or set {} to a project access token with read_api (sent as PRIVATE-TOKEN)",
                self.project,
                var_name(Key::GitlabToken)
            ),
            _ => "the platform may be having trouble; the next deploy will ask again".to_owned(),
        };
        format!("{shown} answered HTTP {status}: {fix}")
    }
}

/// `text` as a query-string value: every byte but RFC 3986's unreserved ones as `%HH`.
pub(crate) fn query_value(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// What asking the record gave.
pub(crate) enum Found {
    /// The previous deploy's commit, sourced, and the commits of the successful deploys before
    /// it that the same answers named (newest first, at most [`EARLIER_MAX`]; empty when none
    /// was seen), for `change_set::compute_with_earlier`.
    Deploy { previous: Sourced<String>, earlier: Vec<String> },
    /// The record holds no earlier successful deploy to the environment: a first deploy.
    None(String),
}

/// Asks the record for the previous deploy; the error is a warning's text.
pub(crate) fn ask_previous(
    api: &Api,
    agent: &ureq::Agent,
    environment: &Sourced<String>,
    own: &Own,
    budget: &mut Budget,
) -> Result<Found, String> {
    match api.kind {
        Kind::GitHub => github::previous_deploy(api, agent, environment.value.trim(), own, budget),
        Kind::GitLab => gitlab::previous_deploy(api, agent, environment.value.trim(), own, budget),
    }
}

/// The agent for `api`: the crate's one agent construction, with the API's proxy and roots.
pub(crate) fn agent(api: &Api) -> ureq::Agent {
    crate::delivery::http::agent(&api.transport)
}

/// A full commit id, lowercased, from a JSON string.
fn sha(value: Option<&Value>) -> Option<String> {
    let s = value?.as_str()?.trim().to_ascii_lowercase();
    crate::job::is_full_sha(&s).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_ends_at_its_request_count_or_its_deadline() {
        let mut b = Budget::new(Duration::from_secs(60), 2);
        assert!(b.take().is_some() && b.take().is_some());
        assert!(b.take().is_none());
        let mut b = Budget::new(Duration::ZERO, 5);
        assert!(b.take().is_none());
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(query_value("prod/eu west&x=1"), "prod%2Feu%20west%26x%3D1");
        assert_eq!(query_value("production"), "production");
    }
}
