//! What the CI platform's own records can be asked for this job, decided once without the
//! network: which API (GitHub's or GitLab's, at the runner's API URL, with which token in which
//! header, through which proxy and roots), and where the previous deploy comes from when the user
//! names none: the record, then Jenkins' previous successful build, then (labelled as a stand-in)
//! the previous push. The asking itself is `records`'.

use crate::ci::Ci;
use crate::env::Env;
use crate::secret::Token;
use crate::settings::transport::{self, Transport};
use crate::vocab::names::{var_name, Key, Stack};
use crate::vocab::source::{Source, Sourced};

/// Which platform an [`Api`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    GitHub,
    GitLab,
}

/// One platform API that can be asked: its base URL, the header its token travels in, and how
/// to reach it.
pub(crate) struct Api {
    pub kind: Kind,
    /// `https://api.github.com`, `https://gitlab.example.com/api/v4`: no trailing `/`.
    pub(crate) base: String,
    /// `Authorization`, `JOB-TOKEN` or `PRIVATE-TOKEN`.
    pub(crate) header: &'static str,
    pub(crate) token: Token,
    /// Where the token came from, for fixes (`action input github_token`, `CI_JOB_TOKEN`).
    pub(crate) token_shown: String,
    pub(crate) transport: Transport,
    /// `owner/name` on GitHub, the project id on GitLab.
    pub(crate) project: String,
}

impl Api {
    /// The CI system's name, for sources and messages.
    pub(crate) fn system(&self) -> &'static str {
        match self.kind {
            Kind::GitHub => "GitHub Actions",
            Kind::GitLab => "GitLab CI",
        }
    }

    /// The API's host, for messages.
    pub(crate) fn host(&self) -> String {
        host_of(&self.base).unwrap_or_else(|| self.base.clone())
    }

    /// The variable that names the API's base URL.
    pub(crate) fn base_var(&self) -> &'static str {
        match self.kind {
            Kind::GitHub => "GITHUB_API_URL",
            Kind::GitLab => "CI_API_V4_URL",
        }
    }
}

/// The host (and port) of a URL.
pub(crate) fn host_of(url: &str) -> Option<String> {
    let uri = url.parse::<ureq::http::Uri>().ok()?;
    let host = uri.host()?;
    Some(match uri.port_u16() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    })
}

/// Where the previous deploy comes from when the user names none (`previous_sha`,
/// `previous_tag`): decided once from the settings and the CI system's variables.
pub(crate) enum Previous {
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
pub(crate) struct Own {
    /// GitHub: `GITHUB_RUN_ID` (a status's log or target URL names `/actions/runs/ID`).
    pub run_id: Option<String>,
    /// GitHub: on `deployment` and `deployment_status` events, the event's own deployment (made
    /// by whatever started the run, whose statuses need not name the run).
    pub deployment_id: Option<u64>,
    /// GitLab: `CI_JOB_ID` (the deployment's `deployable.id`).
    pub job_id: Option<u64>,
    /// GitLab: `CI_PIPELINE_ID` (the deployment's `deployable.pipeline.id`).
    pub pipeline_id: Option<u64>,
}

/// What the platform can be asked, and where the previous deploy comes from.
pub(crate) struct Platform {
    /// The API, when it can be asked.
    pub api: Option<Api>,
    pub previous: Previous,
    /// Why the API cannot be asked where it would help, worth a warning (a refused token value).
    pub warnings: Vec<String>,
}

/// What the platform can be asked for this job, from the settings and the CI's variables; no
/// request is made here. Tokens are registered as secrets (and masked on GitHub) at once.
pub(crate) fn plan(ci: Option<&Ci>, stack: &Stack, env: &Env, allow_http: bool, platform_roots: bool) -> Platform {
    let mut warnings = Vec::new();
    let Some(ci) = ci else {
        return Platform { api: None, previous: Previous::Unknown(no_source()), warnings };
    };
    let environment = stack.get(Key::Environment).filter(|e| !e.value.trim().is_empty()).cloned();
    let api = match ci.system {
        "GitHub Actions" => github_api(stack, env, &mut warnings),
        "GitLab CI" => gitlab_api(stack, env, ci.github_like, &mut warnings),
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
        crate::vocab::names::flag_name(Key::PreviousSha),
        crate::vocab::names::flag_name(Key::PreviousTag)
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
            Kind::GitHub => Own {
                run_id: env.get("GITHUB_RUN_ID").map(|s| s.trim().to_owned()),
                deployment_id: event_deployment(env),
                ..Own::default()
            },
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
                crate::vocab::names::flag_name(Key::PreviousSha),
                crate::vocab::names::flag_name(Key::PreviousTag)
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

/// The id of the deployment a `deployment` or `deployment_status` event is about.
fn event_deployment(env: &Env) -> Option<u64> {
    /// Event payloads are a few KiB; a wrong path must not cost the report.
    const LIMIT: u64 = 16 << 20;
    if !matches!(env.get("GITHUB_EVENT_NAME").map(str::trim), Some("deployment" | "deployment_status")) {
        return None;
    }
    let bytes = crate::fs::read_bounded(std::path::Path::new(env.get("GITHUB_EVENT_PATH")?.trim()), LIMIT).ok()?;
    let event: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    event.pointer("/deployment/id")?.as_u64()
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

/// GitHub's API for this job: `GITHUB_API_URL` (github.com or a GitHub Enterprise Server),
/// `GITHUB_REPOSITORY`, and the `github_token` setting.
fn github_api(
    stack: &Stack,
    env: &Env,
    warnings: &mut Vec<String>,
) -> Option<(Kind, String, &'static str, Token, String, String)> {
    let (token, shown) = token(stack, Key::GithubToken, true, warnings)?;
    let base = env.get("GITHUB_API_URL").map(str::trim).filter(|b| !b.is_empty()).unwrap_or("https://api.github.com");
    let repo = env.get("GITHUB_REPOSITORY").map(str::trim).filter(|r| r.contains('/'))?;
    Some((Kind::GitHub, base.trim_end_matches('/').to_owned(), "Authorization", token, shown, repo.to_owned()))
}

/// GitLab's API for this job: `CI_API_V4_URL`, `CI_PROJECT_ID`, and `gitlab_token` (as
/// `PRIVATE-TOKEN`) else the job's own `CI_JOB_TOKEN` (as `JOB-TOKEN`).
fn gitlab_api(
    stack: &Stack,
    env: &Env,
    github: bool,
    warnings: &mut Vec<String>,
) -> Option<(Kind, String, &'static str, Token, String, String)> {
    let base = env.get("CI_API_V4_URL").map(str::trim).filter(|b| !b.is_empty())?;
    let project =
        env.get("CI_PROJECT_ID").map(str::trim).filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))?;
    let (token, header, shown) = match token(stack, Key::GitlabToken, github, warnings) {
        Some((t, shown)) => (t, "PRIVATE-TOKEN", shown),
        None if stack.get(Key::GitlabToken).is_some() => return None,
        None => {
            let raw = env.get("CI_JOB_TOKEN").map(str::trim).filter(|t| !t.is_empty())?;
            match Token::new(raw) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_keep_their_port() {
        assert_eq!(host_of("http://127.0.0.1:8080/api/v4").as_deref(), Some("127.0.0.1:8080"));
        assert_eq!(host_of("https://api.github.com").as_deref(), Some("api.github.com"));
    }
}
