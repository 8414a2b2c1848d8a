//! `customcd backfill --from-git-tags PATTERN`: past deployments from release tags. One job per
//! matching tag: the commit it points at, the tagger's time (or the commit's, for a lightweight
//! tag), status Succeeded, a `job_id` stable per tag so reruns are recognisable. Printed as JSON
//! Lines for review, or sent with `--send` through the bulk sender (and so resumable).

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::bulk;
use crate::cli::BackfillArgs;
use crate::config;
use crate::delivery;
use crate::endpoint;
use crate::env::Env;
use crate::error::{Error, Problem};
use crate::job::{self, Job};
use crate::output;
use crate::records::{Format, Input};
use crate::remote;
use crate::source::{Source, Sourced};
use crate::values::{flag_name, var_name, Key, Layer, Stack, Values};

/// What one tag says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub name: String,
    /// The commit the tag points at (peeled through annotated tags).
    pub commit: String,
    /// Tagger time for an annotated tag, else the commit's committer time (epoch seconds).
    pub time: i64,
    /// The tagger's email, for an annotated tag.
    pub tagger: Option<String>,
}

/// The tags matching `pattern` (a glob on the short name, e.g. `v*`), oldest first, and the
/// repository's name from its origin remote.
pub fn read_tags(start: &Path, pattern: &str) -> anyhow::Result<(Vec<Tag>, Option<String>)> {
    let repo = crate::git::open(start)?;
    let facts = crate::git::facts(&repo);
    let repo_name = facts.remote.as_ref().and_then(|(_, url)| remote::repo_name(url));
    let glob = wildmatch::WildMatch::new(pattern);
    let mut tags = Vec::new();
    let platform = repo.references().context("listing references")?;
    for reference in platform.tags().context("listing tags")? {
        let mut reference = reference.map_err(|e| anyhow::anyhow!("reading a tag: {e}"))?;
        let name = reference.name().shorten().to_string();
        if !glob.matches(&name) {
            continue;
        }
        let target = reference.target().try_id().map(ToOwned::to_owned);
        let commit_id = reference.peel_to_id().with_context(|| format!("peeling tag {name}"))?.detach();
        let commit = repo.find_commit(commit_id).with_context(|| format!("tag {name} does not point at a commit"))?;
        let mut time = commit.time().with_context(|| format!("reading the commit of {name}"))?.seconds;
        let mut tagger = None;
        if let Some(id) = target.filter(|id| *id != commit_id) {
            if let Ok(tag) = repo.find_tag(id) {
                if let Ok(Some(sig)) = tag.tagger() {
                    time = sig.time().map(|t| t.seconds).unwrap_or(time);
                    tagger = Some(sig.email.to_string()).filter(|e| !e.is_empty());
                }
            }
        }
        tags.push(Tag { name, commit: commit_id.to_hex().to_string(), time, tagger });
    }
    tags.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.name.cmp(&b.name)));
    Ok((tags, repo_name))
}

/// The job for one tag: the tag's facts, then the user's flags and `CUSTOMCD_*` variables for
/// what applies to every tag (service, job type, repository).
fn job_for(tag: &Tag, shared: &Stack, repo_name: Option<&str>) -> Result<Job, Vec<Problem>> {
    let from_tag = |detail: &str| Source::Git(format!("tag {} ({detail})", tag.name));
    let mut own = Layer::default();
    own.set(Key::CommitSha, Sourced::new(tag.commit.clone(), from_tag("target")));
    own.set(Key::JobStartTime, Sourced::new(tag.time.to_string(), from_tag("tagger or commit time")));
    own.set(Key::JobDuration, Sourced::new("0".to_owned(), from_tag("a tag has no duration")));
    own.set(Key::Status, Sourced::new("Succeeded".to_owned(), from_tag("a release tag is a success")));
    let id = match repo_name {
        Some(r) => format!("{r}@{}", tag.name),
        None => tag.name.clone(),
    };
    own.set(Key::JobId, Sourced::new(id, from_tag("stable per tag")));
    let mut fallback = Layer::default();
    if let Some(r) = repo_name {
        fallback.set(Key::RepoName, Sourced::new(r.to_owned(), Source::Git("remote origin".to_owned())));
    }
    if let Some(t) = &tag.tagger {
        fallback.set(Key::TriggeredBy, Sourced::new(t.clone(), from_tag("tagger")));
    }
    let mut stack = Stack::default();
    stack.push(own);
    for layer in shared.layers() {
        stack.push(layer.clone());
    }
    stack.push(fallback);
    job::resolve_stored(&stack, &[], Vec::new())
}

/// Runs `customcd backfill`.
pub fn run(args: &BackfillArgs, env: &Env, cwd: PathBuf) -> Result<(), Error> {
    let mut shared = Stack::default();
    let flags = Values {
        job: crate::values::JobValues {
            service_id: args.service_id.clone(),
            job_type: args.job_type.clone(),
            repo_id: args.repo_id.clone(),
            repo_name: args.repo_name.clone(),
            ..Default::default()
        },
        ..Default::default()
    };
    shared.push(flags.into_layer(|k| Source::Flag(flag_name(k))));
    let vars: Values = envy::prefixed("CUSTOMCD_").from_iter(env.pairs()).context("reading CUSTOMCD_* variables")?;
    // Only what applies to every tag: a CUSTOMCD_COMMIT_SHA left in the environment must not
    // stamp one commit on all of history.
    let mut layer = Layer::default();
    let all = vars.into_layer(|k| Source::Var(var_name(k)));
    for key in [Key::ServiceId, Key::JobType, Key::RepoId, Key::RepoName] {
        if let Some(v) = all.get(key) {
            layer.set(key, v.clone());
        }
    }
    shared.push(layer);

    let repo_dir = args.repo.clone().unwrap_or_else(|| cwd.clone());
    let (tags, repo_name) = read_tags(&repo_dir, &args.from_git_tags).map_err(|e| {
        Error::Invalid(vec![Problem::new(
            "repository",
            format!("cannot be read: {e:#}"),
            "run inside the repository or pass --repo PATH",
        )])
    })?;
    if tags.is_empty() {
        output::warn(&format!("no tag matches {:?}", args.from_git_tags));
        return Ok(());
    }
    let mut lines = String::new();
    let mut problems = Vec::new();
    for tag in &tags {
        match job_for(tag, &shared, repo_name.as_deref()) {
            Ok(job) => {
                lines.push_str(&job.body());
                lines.push('\n');
            }
            Err(p) => {
                // The same settings apply to every tag: one tag's problems speak for all.
                problems = p;
                break;
            }
        }
    }
    if !problems.is_empty() {
        return Err(Error::Invalid(problems));
    }
    if !args.send {
        // `backfill | head` closes the pipe early: that is the reader's choice, not an error.
        use std::io::Write as _;
        if let Err(e) = std::io::stdout().lock().write_all(crate::secret::redact(&lines).as_bytes()) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                return Ok(());
            }
            return Err(Error::Internal(anyhow::Error::new(e).context("writing the jobs to standard output")));
        }
        output::info(&format!("{} tag(s) matched {:?}; review, then send with --send", tags.len(), args.from_git_tags));
        return Ok(());
    }

    let out = args.out.clone().unwrap_or_else(|| cwd.join("customcd-backfill.jsonl"));
    write_new(&out, &lines)?;
    output::info(&format!("{} job(s) written to {}; sending", tags.len(), out.display()));
    let (stack, _ci) = config::connection_stack(&args.connection, env)?;
    let mut problems = Vec::new();
    let deadline = delivery::deadline(&stack, &mut problems);
    let connection = endpoint::connection(&stack, env, &mut problems);
    if !problems.is_empty() {
        return Err(Error::Invalid(problems));
    }
    bulk::stop_on_signal();
    let opts = bulk::Options {
        concurrency: args.concurrency.clamp(1, 64),
        deadline,
        rejects: Some(cwd.join("customcd-rejects.jsonl")),
        stdin_checkpoint: None,
        progress_every: std::time::Duration::from_secs(5),
    };
    bulk::run(&[Input::file(out, Some(Format::Jsonl))], connection.as_ref(), &opts)
}

/// Replaces `path` with `text` whole: a temporary file created new (0600) beside it, fsync'd and
/// renamed over it, so a planted symbolic link is replaced rather than followed, and a full disk
/// leaves the previous file rather than an empty one. Its checkpoint is keyed by record digests,
/// so rewriting the file in another order (a tag added in the middle) resends nothing.
fn write_new(path: &Path, text: &str) -> Result<(), Error> {
    use std::io::Write as _;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".customcd-backfill-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    tmp.write_all(text.as_bytes()).with_context(|| format!("writing {}", tmp.path().display()))?;
    tmp.as_file().sync_all().with_context(|| format!("syncing {}", tmp.path().display()))?;
    tmp.persist(path).with_context(|| format!("renaming a temporary file to {}", path.display()))?;
    Ok(())
}
