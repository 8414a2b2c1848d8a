//! The CI platforms' own records, read over their APIs: the previous deploy of this service to
//! this environment (GitHub's and GitLab's Deployments APIs, Jenkins' previous successful build)
//! and the commits of squash-merged pull requests (GitHub's pull request commits). What to ask is
//! decided once, without the network ([`plan`]); the asking shares one short [`Budget`].
//!
//! Every request goes to the platform's own API host only (redirects are never followed), with
//! its token as a registered secret; and every failure (a refusal, a timeout, an answer that is
//! not what the API documents) is a warning naming the fix, never a failed or delayed report:
//! all lookups of a run together take at most [`DEADLINE`] and [`MAX_REQUESTS`] requests.

pub(crate) mod github;
pub(crate) mod gitlab;

use std::io::Read;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::ci::Ci;
use crate::env::Env;
use crate::secret::{self, Token};
use crate::settings::names::{var_name, Key, Stack};
use crate::settings::source::{Source, Sourced};
use crate::settings::transport::{self, Transport};

/// The most all lookups of one run take together, from the first request to the last answer.
pub const DEADLINE: Duration = Duration::from_secs(5);
/// The most requests all lookups of one run make together.
pub const MAX_REQUESTS: usize = 8;
/// The most of one answer that is read: a page of deployments or of commits is far smaller.
const MAX_ANSWER_BYTES: u64 = 1024 * 1024;

/// Time and requests left for the lookups of one run.
pub struct Budget {
    until: Instant,
    left: usize,
}

impl Budget {
    /// [`DEADLINE`] and [`MAX_REQUESTS`] from now.
    pub fn start() -> Budget {
        Budget::new(DEADLINE, MAX_REQUESTS)
    }

    pub fn new(time: Duration, requests: usize) -> Budget {
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

/// Which platform an [`Api`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    GitHub,
    GitLab,
}

/// One platform API that can be asked: its base URL, the header its token travels in, and how
/// to reach it.
pub struct Api {
    pub kind: Kind,
    /// `https://api.github.com`, `https://gitlab.example.com/api/v4`: no trailing `/`.
    base: String,
    /// `Authorization`, `JOB-TOKEN` or `PRIVATE-TOKEN`.
    header: &'static str,
    token: Token,
    /// Where the token came from, for fixes (`action input github_token`, `CI_JOB_TOKEN`).
    token_shown: String,
    transport: Transport,
    /// `owner/name` on GitHub, the project id on GitLab.
    project: String,
}

impl Api {
    /// The CI system's name, for sources and messages.
    pub fn system(&self) -> &'static str {
        match self.kind {
            Kind::GitHub => "GitHub Actions",
            Kind::GitLab => "GitLab CI",
        }
    }

    /// The API's host, for messages.
    fn host(&self) -> String {
        host_of(&self.base).unwrap_or_else(|| self.base.clone())
    }

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

    /// The variable that names the API's base URL.
    fn base_var(&self) -> &'static str {
        match self.kind {
            Kind::GitHub => "GITHUB_API_URL",
            Kind::GitLab => "CI_API_V4_URL",
        }
    }

    /// A refusal in words, with the fix for this platform.
    fn refusal(&self, shown: &str, status: u16, rate_left: Option<&str>) -> String {
        let token = &self.token_shown;
        let fix = match (self.kind, status) {
            (Kind::GitHub, 403) if rate_left == Some("0") => {
                "GitHub's API rate limit for this token is spent; it resets within the hour".to_owned()
            }
            (Kind::GitHub, 401) => format!(
                "the token ({token}) was refused: give {} a valid token (the action passes github.token by default)",
                Key::GithubToken.name()
            ),
            (Kind::GitHub, 403 | 404) => format!(
                "the token ({token}) may not read the deployments of {}: grant the workflow or job `permissions: deployments: read` (a permissions block sets every permission it does not name to none), or give {} a token that can",
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

/// The host (and port) of a URL.
fn host_of(url: &str) -> Option<String> {
    let uri = url.parse::<ureq::http::Uri>().ok()?;
    let host = uri.host()?;
    Some(match uri.port_u16() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    })
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

/// Where the previous deploy comes from when the user names none (`previous_sha`,
/// `previous_tag`): decided once from the settings and the CI system's variables.
pub enum Previous {
    /// Ask the platform's deployment record for the newest successful deploy to `environment`
    /// other than this run's own.
    Ask { environment: Sourced<String>, own: Own },
    /// A commit the CI system names, with a notice for the user when it is a stand-in.
    Named { previous: Sourced<String>, notice: Option<String> },
    /// Nothing names it; why, and what would.
    Unknown(String),
}

/// What marks this run's own deployment in the record, to skip it.
#[derive(Debug, Clone, Default)]
pub struct Own {
    /// GitHub: `GITHUB_RUN_ID` (a status's log or target URL names `/actions/runs/ID`).
    pub run_id: Option<String>,
    /// GitLab: `CI_JOB_ID` (the deployment's `deployable.id`).
    pub job_id: Option<u64>,
    /// GitLab: `CI_PIPELINE_ID` (the deployment's `deployable.pipeline.id`).
    pub pipeline_id: Option<u64>,
}

/// What the platform can be asked, and where the previous deploy comes from.
pub struct Platform {
    /// The API, when it can be asked.
    pub api: Option<Api>,
    pub previous: Previous,
    /// Why the API cannot be asked where it would help, worth a warning (a refused token value).
    pub warnings: Vec<String>,
}

/// What the platform can be asked for this job, from the settings and the CI's variables; no
/// request is made here. Tokens are registered as secrets (and masked on GitHub) at once.
pub fn plan(ci: Option<&Ci>, stack: &Stack, env: &Env, allow_http: bool, platform_roots: bool) -> Platform {
    let mut warnings = Vec::new();
    let Some(ci) = ci else {
        return Platform { api: None, previous: Previous::Unknown(no_source()), warnings };
    };
    let environment = stack.get(Key::Environment).filter(|e| !e.value.trim().is_empty()).cloned();
    let api = match ci.system {
        "GitHub Actions" => github::api(stack, env, &mut warnings),
        "GitLab CI" => gitlab::api(stack, env, ci.github_like, &mut warnings),
        _ => None,
    };
    let api = api.and_then(|(kind, base, header, token, token_shown, project)| {
        let Some(host) = host_of(&base) else {
            warnings.push(format!("the API URL {} is not a URL; the platform is not asked", crate::git::remote::redact(&base)));
            return None;
        };
        let https = base.to_ascii_lowercase().starts_with("https://");
        let name = host.rsplit_once(':').map_or(host.as_str(), |(h, _)| h);
        if !https && !allow_http && !crate::settings::endpoint::is_loopback(name) {
            warnings.push(format!(
                "the API URL {} is plain http to a host other than loopback; the token would travel unencrypted, so the platform is not asked (--allow-http allows it)",
                crate::git::remote::redact(&base)
            ));
            return None;
        }
        let mut ignored = Vec::new();
        let transport = transport::resolve(stack, env, &base, platform_roots, &mut ignored);
        Some(Api { kind, base, header, token, token_shown, transport, project })
    });
    let previous = previous(ci, env, api.as_ref(), environment);
    Platform { api, previous, warnings }
}

fn no_source() -> String {
    format!(
        "no previous deploy is known: pass {} or {} for the change set",
        crate::settings::names::flag_name(Key::PreviousSha),
        crate::settings::names::flag_name(Key::PreviousTag)
    )
}

/// A token setting as a registered secret, or a warning; masked in GitHub's log.
fn token(stack: &Stack, key: Key, github: bool, warnings: &mut Vec<String>) -> Option<(Token, String)> {
    let v = stack.get(key)?;
    match Token::new(&v.value) {
        Ok(t) => {
            if github {
                crate::output::github::mask_on_stderr(t.expose_for_masking());
            }
            if matches!(v.source, Source::Flag(_)) {
                warnings.push(format!(
                    "{} was given as a flag, which other processes on this machine can read; prefer {}",
                    v.source,
                    var_name(key)
                ));
            }
            Some((t, v.source.to_string()))
        }
        Err(refusal) => {
            warnings.push(format!(
                "{} ({}) {}; the platform's record is not asked: {}",
                key.name(),
                v.source,
                refusal.rule(),
                refusal.fix()
            ));
            None
        }
    }
}

/// Where the previous deploy comes from, in the order the platforms' records deserve: the
/// record itself, then the stand-ins, each labelled for what it is.
fn previous(ci: &Ci, env: &Env, api: Option<&Api>, environment: Option<Sourced<String>>) -> Previous {
    let record = match ci.system {
        "GitHub Actions" => Some(("GitHub's deployments", "set environment (the action input) to the environment this job deploys to, and give the workflow `permissions: deployments: read`")),
        "GitLab CI" => Some(("GitLab's deployments", "give the job an `environment:` (or set CUSTOMCD_ENVIRONMENT)")),
        _ => None,
    };
    if let (Some(_), Some(api), Some(environment)) = (record, api, environment.as_ref()) {
        let own = match api.kind {
            Kind::GitHub => Own { run_id: env.get("GITHUB_RUN_ID").map(|s| s.trim().to_owned()), ..Own::default() },
            Kind::GitLab => Own {
                job_id: env.get("CI_JOB_ID").and_then(|s| s.trim().parse().ok()),
                pipeline_id: env.get("CI_PIPELINE_ID").and_then(|s| s.trim().parse().ok()),
                ..Own::default()
            },
        };
        return Previous::Ask { environment: environment.clone(), own };
    }
    if ci.system == "Jenkins" {
        let Some(named) = crate::ci::previous::previous(ci, env) else {
            return Previous::Unknown(format!(
                "Jenkins names no previous successful build of this job (GIT_PREVIOUS_SUCCESSFUL_COMMIT, set by the git plugin from the second successful build on); {}",
                no_source()
            ));
        };
        let notice = environment.map(|e| {
            format!(
                "the previous deploy to {} is taken from Jenkins' previous successful build of this job (GIT_PREVIOUS_SUCCESSFUL_COMMIT), whatever environment that build deployed to: right only when this job deploys to {} alone; where an environment parameter varies (staging and production from one job), pass {} or {}",
                e.value.trim(),
                e.value.trim(),
                crate::settings::names::flag_name(Key::PreviousSha),
                crate::settings::names::flag_name(Key::PreviousTag)
            )
        });
        let previous = relabel(named, "the previous successful build of this job");
        return Previous::Named { previous, notice };
    }
    // Only then the stand-in: the previous push, for jobs a push started.
    let why_no_record = match (record, api, &environment) {
        (Some((name, _)), None, _) if ci.system == "GitHub Actions" => Some(format!(
            "{name} were not asked: no GitHub token ({}, which the action passes as github.token by default)",
            var_name(Key::GithubToken)
        )),
        (Some((name, _)), None, _) => {
            Some(format!("{name} were not asked: no token (CI_JOB_TOKEN or {})", var_name(Key::GitlabToken)))
        }
        (Some((name, how)), Some(_), None) => Some(format!("{name} were not asked: no environment is known; {how}")),
        _ => None,
    };
    match push_before(ci, env) {
        Some(named) => {
            let notice = format!(
                "the previous deploy is taken to be the previous push ({}): right only when every push to this branch was deployed{}",
                named.source,
                why_no_record.as_ref().map(|w| format!("; {w}")).unwrap_or_default()
            );
            Previous::Named {
                previous: relabel(named, "the previous push, taken as the previous deploy"),
                notice: Some(notice),
            }
        }
        None => Previous::Unknown(match why_no_record {
            Some(w) => format!("{}; {w}", no_source()),
            None => no_source(),
        }),
    }
}

/// The push's previous tip, for jobs a push started, and only those: a manual job, a schedule,
/// a dispatch, a trigger or a promotion deploys whatever the branch holds then, which the
/// previous push does not bound.
fn push_before(ci: &Ci, env: &Env) -> Option<Sourced<String>> {
    match ci.system {
        "GitHub Actions" if env.get("GITHUB_EVENT_NAME").map(str::trim) == Some("push") => {}
        "GitLab CI"
            if env.get("CI_PIPELINE_SOURCE").map(str::trim) == Some("push")
                && env.get("CI_JOB_MANUAL").map(str::trim) != Some("true") => {}
        _ => return None,
    }
    crate::ci::previous::previous(ci, env)
}

/// The same commit, its source saying what it stands for.
fn relabel(named: Sourced<String>, what: &str) -> Sourced<String> {
    let source = match named.source {
        Source::Ci { system, detail } => Source::Ci { system, detail: format!("{detail}: {what}") },
        other => other,
    };
    Sourced::new(named.value, source)
}

/// What asking the record gave.
pub enum Found {
    /// The previous deploy's commit, sourced.
    Deploy(Sourced<String>),
    /// The record holds no earlier successful deploy to the environment: a first deploy.
    None(String),
}

/// Asks the record for the previous deploy; the error is a warning's text.
pub fn ask_previous(
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
pub fn agent(api: &Api) -> ureq::Agent {
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

    #[test]
    fn hosts_keep_their_port() {
        assert_eq!(host_of("http://127.0.0.1:8080/api/v4").as_deref(), Some("127.0.0.1:8080"));
        assert_eq!(host_of("https://api.github.com").as_deref(), Some("api.github.com"));
    }
}
