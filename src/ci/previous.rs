//! The previous deploy as each CI system knows it: the variable that names the commit this
//! branch's previous build (or push) was at, where it means exactly that. Systems without one
//! give nothing, and the change set is then left out rather than guessed.

use crate::ci::Ci;
use crate::env::Env;
use crate::vocab::source::{Source, Sourced};

/// The previous commit the CI system names for this job, if it names one.
pub(crate) fn previous(ci: &Ci, env: &Env) -> Option<Sourced<String>> {
    let from = |detail: &str, value: &str| {
        Some(Sourced::new(value.trim().to_owned(), Source::Ci { system: ci.system, detail: detail.to_owned() }))
    };
    if ci.github_like {
        // Only a push names the branch's previous tip (`before`); other events' payloads name
        // no previous deploy.
        if env.get("GITHUB_EVENT_NAME") != Some("push") {
            return None;
        }
        // Never blocks (a FIFO is refused) and never reads past 16 MiB (a device, a huge file).
        let bytes =
            crate::fs::read_bounded(std::path::Path::new(env.get("GITHUB_EVENT_PATH")?.trim()), 16 << 20).ok()?;
        let event: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        return from("GITHUB_EVENT_PATH before (push)", event.get("before")?.as_str()?);
    }
    match ci.system {
        // The previous latest commit of the branch or tag; all zeros in merge-request and
        // scheduled pipelines and a branch's first pipeline.
        "GitLab CI" => from("CI_COMMIT_BEFORE_SHA", env.get("CI_COMMIT_BEFORE_SHA")?),
        // The git plugin's commit of the previous successful build of this branch: the last deploy
        // that went out, which GIT_PREVIOUS_COMMIT (any previous build) is not.
        "Jenkins" => from("GIT_PREVIOUS_SUCCESSFUL_COMMIT", env.get("GIT_PREVIOUS_SUCCESSFUL_COMMIT")?),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ci(system: &'static str, github_like: bool) -> Ci {
        Ci { system, github_like, ..Ci::default() }
    }

    fn env(pairs: &[(&str, &str)]) -> Env {
        pairs.iter().map(|(k, v)| (*k, *v)).collect()
    }

    #[test]
    fn each_system_names_its_previous_build_variable() {
        let sha = "b".repeat(40);
        let gl = previous(&ci("GitLab CI", false), &env(&[("CI_COMMIT_BEFORE_SHA", &sha)])).expect("gitlab");
        assert_eq!(gl.source.to_string(), "GitLab CI CI_COMMIT_BEFORE_SHA");
        let jk = previous(
            &ci("Jenkins", false),
            &env(&[("GIT_PREVIOUS_COMMIT", "x"), ("GIT_PREVIOUS_SUCCESSFUL_COMMIT", &sha)]),
        )
        .expect("jenkins");
        assert_eq!(jk.value, sha);
        assert!(previous(&ci("CircleCI", false), &env(&[("CI_COMMIT_BEFORE_SHA", &sha)])).is_none());
    }

    #[test]
    fn github_reads_before_from_a_push_event_only() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("event.json");
        let sha = "c".repeat(40);
        std::fs::write(&path, format!(r#"{{"before":"{sha}","after":"{}","ref":"refs/heads/main"}}"#, "d".repeat(40)))
            .expect("write");
        let p = path.to_string_lossy().into_owned();
        let push = env(&[("GITHUB_EVENT_NAME", "push"), ("GITHUB_EVENT_PATH", &p)]);
        assert_eq!(previous(&ci("GitHub Actions", true), &push).map(|s| s.value), Some(sha));
        let dispatch = env(&[("GITHUB_EVENT_NAME", "workflow_dispatch"), ("GITHUB_EVENT_PATH", &p)]);
        assert!(previous(&ci("GitHub Actions", true), &dispatch).is_none());
    }
}
