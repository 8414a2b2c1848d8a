//! Configuration sources: reading flags, `CUSTOMCD_*` variables, action inputs, the CI system,
//! `customcd start`'s state and the git repository into layers, stacked in precedence order
//! (flag > `CUSTOMCD_*` > CI > start state > git > default; on GitHub the action's non-blank
//! `INPUT_*` rank above `CUSTOMCD_*`). Nothing here validates:
//! `settings` resolves the stack once into typed values.

use std::path::PathBuf;

use anyhow::Context;

use crate::ci::{self, Ci};
use crate::env::Env;
use crate::git;
use crate::git::remote;
use crate::job::optional::OptionalInput;
use crate::start_state;
use crate::vocab::names::{flag_name, input_var_name, var_name, Key, Layer, Stack, Values, VAR_ALIASES};
use crate::vocab::source::{Source, Sourced};

/// What a command's command line gave: the setting groups it has (the others stay empty), the
/// repeatable `--field` specs and `--no-ci-fields`.
#[derive(Default)]
pub struct Flags {
    pub values: Values,
    pub fields: Vec<String>,
    pub no_ci_fields: bool,
}

/// The sources every command reads, each read once: flags, `CUSTOMCD_*` variables, action inputs
/// (on GitHub) and the CI system.
pub(crate) struct Sources {
    pub stack: Stack,
    /// Optional fields per source, highest precedence first.
    pub optional: Vec<OptionalInput>,
    /// The CI system, when one was detected.
    pub ci: Option<Ci>,
    /// Things the user should know that do not stop the command.
    pub warnings: Vec<String>,
}

/// Reads the flags, the `CUSTOMCD_*` variables (with their aliases) and, on GitHub, the action
/// inputs into one stack, and detects the CI system. Unknown `CUSTOMCD_*` variables are warned
/// about here, once, for every command.
pub(crate) fn read(flags: Flags, env: &Env) -> anyhow::Result<Sources> {
    let mut stack = Stack::default();
    let mut optional = Vec::new();
    let mut warnings = crate::vocab::names::unknown_variables(env.names());

    let mut values = flags.values;
    if flags.no_ci_fields {
        values.connection.ci_fields = Some("false".to_owned());
    }
    stack.push(values.into_layer(|k| Source::Flag(flag_name(k))));
    optional.push(OptionalInput {
        specs: flags.fields.iter().map(|f| Sourced::new(f.clone(), Source::Flag(flag_name(Key::Fields)))).collect(),
        json: stack.get(Key::Optional).cloned(),
    });

    let vars: Values = envy::prefixed("CUSTOMCD_").from_iter(env.pairs()).context("reading CUSTOMCD_* variables")?;
    let mut layer = vars.into_layer(|k| Source::Var(var_name(k)));
    for (alias, key) in VAR_ALIASES {
        match (layer.get(*key), env.get(alias).filter(|v| !v.trim().is_empty())) {
            (None, Some(v)) => layer.set(*key, Sourced::new(v.to_owned(), Source::Var((*alias).to_owned()))),
            (Some(_), Some(_)) => {
                warnings.push(format!("{alias} is ignored: {} is set too and wins", var_name(*key)));
            }
            _ => {}
        }
    }

    let mut ci = ci::detect(env);
    if let Some(ci) = ci.as_mut().filter(|c| c.github_like) {
        // The action's inputs are what the workflow wrote in this step's `with:`, and win over
        // CUSTOMCD_* variables, which are ambient: a job's or workflow's `env:`, or GITHUB_ENV,
        // which any earlier step can write. So a variable planted by an earlier step cannot
        // redirect the token to another endpoint when the step names its own.
        // GitHub passes every declared input, "" when unset; `into_layer` drops the blanks.
        let inputs: Values = envy::prefixed("INPUT_").from_iter(env.pairs()).context("reading INPUT_* variables")?;
        let inputs = inputs.into_layer(|k| Source::Input(format!("{} ({})", k.name(), input_var_name(k))));
        for key in Key::ALL {
            if let (Some(input), Some(var)) = (inputs.get(*key), layer.get(*key)) {
                if input.value.trim() != var.value.trim() {
                    warnings.push(format!(
                        "{} is ignored: the action's input {} is set in the step's with: and wins over variables",
                        var.source,
                        key.name()
                    ));
                }
            }
        }
        push_named(&mut stack, &mut optional, inputs);
        push_named(&mut stack, &mut optional, layer);
        // The matrix leg is no field of its own: it refines the job id GitHub's variables give,
        // from the `matrix` setting as flags, inputs and variables rank it.
        if let Some(matrix) = stack.get(Key::Matrix) {
            ci::add_matrix_leg(ci, matrix);
        }
    } else {
        push_named(&mut stack, &mut optional, layer);
    }
    Ok(Sources { stack, optional, ci, warnings })
}

/// Everything a single job's sources gave, ready to resolve.
pub(crate) struct Gathered {
    pub stack: Stack,
    /// Optional fields per source, highest precedence first.
    pub optional: Vec<OptionalInput>,
    /// Why git could not help, when it was needed.
    pub git_error: Option<String>,
    /// The CI system, when one was detected.
    pub ci: Option<Ci>,
    /// A `customcd start` state file that was used, to remove once the job is reported.
    pub state_file: Option<PathBuf>,
    /// Things the user should know that do not stop the report.
    pub warnings: Vec<String>,
}

/// Adds the sources of one job (`report`, `env`) below the named settings: the CI system's
/// commit, `customcd start`'s state and git. Git is opened only when a field it can supply is
/// still missing.
pub(crate) fn gather(sources: Sources, env: &Env, cwd: PathBuf, now: i64) -> Gathered {
    let Sources { mut stack, optional, ci, mut warnings } = sources;

    let explicit_commit = stack.get(Key::CommitSha).is_some();
    let needs_repo = stack.get(Key::RepoId).is_none()
        && stack.get(Key::RepoName).is_none()
        && ci.as_ref().is_none_or(|c| c.repo.is_none());
    let needs_git = !explicit_commit || needs_repo;
    let (facts, mut git_error) = if needs_git {
        let dir = stack.get(Key::Repo).map_or(cwd, |r| PathBuf::from(r.value.trim()));
        match git::read(&dir) {
            Ok(facts) => (Some(facts), None),
            Err(e) => (None, Some(e.to_string())),
        }
    } else {
        (None, None)
    };

    let mut state_file = None;
    if let Some(ci) = &ci {
        if !explicit_commit {
            warnings.extend(ci.commit_warnings.iter().cloned());
            let (commit, note) = ci_commit(ci, facts.as_ref());
            warnings.extend(note);
            if let Some(commit) = commit {
                let mut layer = Layer::default();
                layer.set(Key::CommitSha, commit);
                stack.push(layer);
            }
        }
        stack.push(ci.layer.clone());
        if stack.get(Key::JobStartTime).is_none() {
            if let Some((start, path)) = start_state::read_state(ci, env, &mut warnings) {
                let mut layer = Layer::default();
                layer.set(Key::JobStartTime, start);
                stack.push(layer);
                state_file = Some(path);
            }
        }
    }
    if let Some(facts) = &facts {
        let (layer, error) = git_layer(facts);
        stack.push(layer);
        git_error = git_error.or(error);
    }
    if let Some(ci) = &ci {
        if stack.get(Key::JobStartTime).is_none() {
            // In CI a report without a duration is still worth having, but never silently.
            let mut layer = Layer::default();
            let why = "no start time known: reported as now, duration 0";
            layer.set(Key::JobStartTime, Sourced::new(now.to_string(), Source::Default(why.to_owned())));
            layer.set(Key::JobDuration, Sourced::new("0".to_owned(), Source::Default(why.to_owned())));
            stack.push(layer);
            let how = ci
                .hints
                .iter()
                .find(|(k, _)| *k == Key::JobStartTime)
                .map_or("run `customcd start` when the job begins", |(_, h)| h.as_str());
            warnings.push(format!(
                "no start time is known on {}, so job_duration is reported as 0 and job_start_time as now. For real durations: {how}; or pass {} / {}",
                ci.system,
                flag_name(Key::JobStartTime),
                var_name(Key::JobStartTime)
            ));
        }
    }
    if stack.get(Key::Status).is_none() {
        // The CI system's own word for the result stands in for status only when nothing gave a
        // status: the action fills job_status by default, and a status the user passes wins.
        if let Some(job_status) = stack.get(Key::JobStatus).cloned() {
            let mut layer = Layer::default();
            layer.set(Key::Status, job_status);
            stack.push(layer);
        }
    }
    Gathered { stack, optional, git_error, ci, state_file, warnings }
}

/// Adds a layer of named settings, and its optional fields, below those pushed so far.
fn push_named(stack: &mut Stack, optional: &mut Vec<OptionalInput>, layer: Layer) {
    optional.push(OptionalInput { specs: lines(layer.get(Key::Fields)), json: layer.get(Key::Optional).cloned() });
    stack.push(layer);
}

/// The commit a CI system points at, unless the workspace's checkout should win: a PR/MR head
/// first; then a commit the event names that the workspace's HEAD is (GitHub's
/// `pull_request_target`); then, on systems whose agent checks out the commit variable itself
/// and may commit on top (`Ci::commit_beats_checkout`), that variable, with a note when HEAD is
/// another commit (one that may exist only on the agent); then, when the workspace is a checkout
/// of the CI's own repository, nothing (its HEAD is what was built, also when a workflow checked
/// out another ref); else the CI's sha variable.
fn ci_commit(ci: &Ci, facts: Option<&git::Facts>) -> (Option<Sourced<String>>, Option<String>) {
    if let Some(head) = &ci.pr_head {
        return (Some(head.clone()), None);
    }
    let head = facts.and_then(|f| f.head.as_ref().ok());
    if let (Some(want), Some(have)) = (&ci.workspace_head, head) {
        if want.value.eq_ignore_ascii_case(have) {
            return (Some(want.clone()), None);
        }
    }
    if ci.commit_beats_checkout {
        if let Some(commit) =
            ci.commit.as_ref().filter(|c| crate::job::is_full_sha(&c.value) && !c.value.bytes().all(|b| b == b'0'))
        {
            let note = head.filter(|h| !h.eq_ignore_ascii_case(&commit.value)).map(|h| {
                format!(
                    "HEAD of the checkout ({h}) is not the commit {system} built ({} from {}): HEAD was made on the agent (a pull request's merge or rebase) or checked out by the job. customcd reports {}, which exists on the server; pass --commit-sha if the job deployed another commit",
                    commit.value,
                    commit.source,
                    commit.value,
                    system = ci.system,
                )
            });
            return (Some(commit.clone()), note);
        }
    }
    let checkout_is_ci_repo = facts.is_some_and(|f| {
        f.head.is_ok()
            && match (&ci.repo, f.remote.as_ref().and_then(|(_, url)| remote::repo_name(url))) {
                (Some(want), Some(have)) => want.eq_ignore_ascii_case(&have),
                _ => false,
            }
    });
    if checkout_is_ci_repo {
        (None, None)
    } else {
        (ci.commit.clone(), None)
    }
}

/// A multi-line `KEY[:TYPE]=VALUE` list (variables and action inputs), one spec per line.
pub(crate) fn lines(v: Option<&Sourced<String>>) -> Vec<Sourced<String>> {
    v.map(|v| {
        v.value
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| Sourced::new(l.to_owned(), v.source.clone()))
            .collect()
    })
    .unwrap_or_default()
}

/// The fields git supplies, and why HEAD could not give a commit when it could not.
pub(crate) fn git_layer(facts: &git::Facts) -> (Layer, Option<String>) {
    let mut layer = Layer::default();
    let mut error = None;
    match &facts.head {
        Ok(sha) => layer.set(Key::CommitSha, Sourced::new(sha.clone(), Source::Git(format!("HEAD of {}", facts.dir)))),
        Err(e) => error = Some(e.to_string()),
    }
    if let Some((name, url)) = &facts.remote {
        if let Some(repo) = remote::repo_name(url) {
            // The URL is shown redacted: CI systems embed tokens in remote URLs.
            let how = format!("remote {name} ({})", remote::redact(url));
            layer.set(Key::RepoName, Sourced::new(repo, Source::Git(how)));
        } else {
            // Said only if the name is needed: a clone of a local path names no repository.
            error = error.or_else(|| {
                Some(format!(
                    "the {name} remote ({}) is a local path or file:// URL, which names no repository",
                    remote::redact(url)
                ))
            });
        }
    }
    (layer, error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(head: &str, url: &str) -> git::Facts {
        git::Facts {
            dir: "/w".into(),
            head: Ok(head.into()),
            branch: None,
            remote: Some(("origin".into(), url.into())),
        }
    }

    fn ci(repo: &str, commit: &str, pr: Option<&str>) -> Ci {
        let mut c = Ci::new("Test CI");
        c.repo = Some(repo.into());
        c.commit = Some(Sourced::new(commit.into(), Source::Ci { system: "Test CI", detail: "SHA".into() }));
        c.pr_head = pr.map(|p| Sourced::new(p.into(), Source::Ci { system: "Test CI", detail: "PR".into() }));
        c
    }

    #[test]
    fn a_pr_head_beats_the_checkout_and_the_sha_variable() {
        let c = ci("acme/app", "merge", Some("head"));
        assert_eq!(
            ci_commit(&c, Some(&facts("checkout", "git@github.com:acme/app.git"))).0.map(|s| s.value).as_deref(),
            Some("head")
        );
    }

    #[test]
    fn a_checkout_of_the_ci_repository_gives_its_head() {
        let c = ci("Acme/App", "ci-sha", None);
        assert!(
            ci_commit(&c, Some(&facts("checkout", "https://github.com/acme/app"))).0.is_none(),
            "git's HEAD is used"
        );
    }

    #[test]
    fn a_checkout_of_the_ci_repository_whose_head_cannot_be_read_gives_the_ci_sha() {
        let c = ci("acme/app", "ci-sha", None);
        let mut f = facts("unused", "https://github.com/acme/app");
        f.head = Err(git::HeadError::Unreadable { dir: "/w".into(), why: "corrupt".into() });
        assert_eq!(ci_commit(&c, Some(&f)).0.map(|s| s.value).as_deref(), Some("ci-sha"));
    }

    #[test]
    fn another_repository_or_none_gives_the_ci_sha() {
        let c = ci("acme/app", "ci-sha", None);
        assert_eq!(
            ci_commit(&c, Some(&facts("x", "https://github.com/acme/other"))).0.map(|s| s.value).as_deref(),
            Some("ci-sha")
        );
        assert_eq!(ci_commit(&c, None).0.map(|s| s.value).as_deref(), Some("ci-sha"));
    }

    #[test]
    fn variable_lines_become_specs_with_the_variable_as_source() {
        let v = Sourced::new("a=1\n\n  b:integer=2 \n".to_owned(), Source::Var("CUSTOMCD_FIELDS".into()));
        let specs = lines(Some(&v));
        assert_eq!(specs.iter().map(|s| s.value.as_str()).collect::<Vec<_>>(), ["a=1", "b:integer=2"]);
    }
}
