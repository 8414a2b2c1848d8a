//! Configuration sources: reading flags, `CUSTOMCD_*` variables and the git repository into
//! layers, stacked in precedence order (flag, variable, git, default) for `job` to resolve.

use std::path::PathBuf;

use anyhow::Context;

use crate::cli::ReportArgs;
use crate::env::Env;
use crate::git;
use crate::optional::OptionalInput;
use crate::remote;
use crate::source::{Source, Sourced};
use crate::values::{flag_name, var_name, Key, Layer, Stack, Values};

/// Everything the sources gave, ready to resolve.
pub struct Gathered {
    pub stack: Stack,
    /// Optional fields per source, highest precedence first.
    pub optional: Vec<OptionalInput>,
    /// Why git could not help, when it was needed.
    pub git_error: Option<String>,
}

/// Reads every source. Git is only opened when a field it can supply is still missing.
pub fn gather(args: &ReportArgs, env: &Env, cwd: PathBuf) -> anyhow::Result<Gathered> {
    let mut stack = Stack::default();
    let mut optional = Vec::new();

    stack.push(
        args.values
            .clone()
            .into_layer(|k| Source::Flag(flag_name(k))),
    );
    optional.push(OptionalInput {
        specs: args
            .field
            .iter()
            .map(|f| Sourced::new(f.clone(), Source::Flag(flag_name(Key::Fields))))
            .collect(),
        json: stack.get(Key::Optional).cloned(),
    });

    let vars: Values = envy::prefixed("CUSTOMCD_")
        .from_iter(env.pairs())
        .context("reading CUSTOMCD_* variables")?;
    let vars = vars.into_layer(|k| Source::Var(var_name(k)));
    optional.push(OptionalInput {
        specs: lines(vars.get(Key::Fields)),
        json: vars.get(Key::Optional).cloned(),
    });
    stack.push(vars);

    let needs_git = stack.get(Key::CommitSha).is_none()
        || (stack.get(Key::RepoId).is_none() && stack.get(Key::RepoName).is_none());
    let mut git_error = None;
    if needs_git {
        let dir = stack
            .get(Key::Repo)
            .map_or(cwd, |r| PathBuf::from(r.value.trim()));
        match git::read(&dir) {
            Ok(facts) => {
                let (layer, error) = git_layer(&facts);
                stack.push(layer);
                git_error = error;
            }
            Err(e) => git_error = Some(e.to_string()),
        }
    }
    Ok(Gathered {
        stack,
        optional,
        git_error,
    })
}

/// A multi-line `KEY[:TYPE]=VALUE` list (variables and action inputs), one spec per line.
pub fn lines(v: Option<&Sourced<String>>) -> Vec<Sourced<String>> {
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
pub fn git_layer(facts: &git::Facts) -> (Layer, Option<String>) {
    let mut layer = Layer::default();
    let mut error = None;
    match &facts.head {
        Ok(sha) => layer.set(
            Key::CommitSha,
            Sourced::new(sha.clone(), Source::Git(format!("HEAD of {}", facts.dir))),
        ),
        Err(e) => error = Some(e.to_string()),
    }
    if let Some((name, url)) = &facts.remote {
        if let Some(repo) = remote::repo_name(url) {
            // The URL is shown redacted: CI systems embed tokens in remote URLs.
            let how = format!("remote {name} ({})", remote::redact(url));
            layer.set(Key::RepoName, Sourced::new(repo, Source::Git(how)));
        }
    }
    (layer, error)
}
