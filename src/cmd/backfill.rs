//! `customcd backfill --from-git-tags PATTERN`: past deployments from release tags. One job per
//! matching tag: the commit it points at, the tagger's time (or the commit's, for a lightweight
//! tag), status Succeeded, a `job_id` stable per tag so reruns are recognisable. Printed as JSON
//! Lines for review, or sent with `--send` through the bulk sender (and so resumable).

use std::path::Path;

use crate::bulk;
use crate::bulk::records::{Format, Input};
use crate::cli::BackfillArgs;
use crate::error::{Error, Problem};
use crate::git::remote;
use crate::git::tag_matches;
use crate::job::change_set;
use crate::job::optional::MAX_FIELDS;
use crate::job::{self, Job};
use crate::output;
use crate::settings::Settings;
use crate::vocab::names::{Key, Layer, Stack};
use crate::vocab::source::{Source, Sourced};

/// What one tag says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tag {
    pub name: String,
    /// The commit the tag points at (peeled through annotated tags).
    pub commit: String,
    /// Tagger time for an annotated tag, else the commit's committer time (epoch seconds).
    pub time: i64,
    /// The tagger's email, for an annotated tag.
    pub tagger: Option<String>,
}

/// What the repository's tags give: the jobs' tags, the tags skipped (and why), the repository's
/// name from its origin remote.
#[derive(Debug, Default)]
pub(crate) struct Tags {
    /// Matching tags of commits, oldest first.
    pub tags: Vec<Tag>,
    /// Matching tags that are not deployments of a commit, each with the reason, e.g. a tag of a
    /// tree or of a blob (a GPG key), in name order.
    pub skipped: Vec<(String, String)>,
    pub repo_name: Option<String>,
}

/// Why the tags could not be read at all.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TagsError {
    #[error(transparent)]
    Open(#[from] crate::git::GitError),
    #[error("listing the tags of {dir}: {why}")]
    List { dir: String, why: String },
}

/// The tags matching `pattern` (see [`tag_matches`]), oldest first, and the repository's name
/// from its origin remote. A tag that cannot be a deployment (it names a tree or a blob, or its
/// object is missing) is skipped, not fatal: real repositories have such tags.
pub(crate) fn read_tags(repo: &gix::Repository, pattern: &str) -> Result<Tags, TagsError> {
    let facts = crate::git::facts(repo);
    let list_error = |why: String| TagsError::List { dir: facts.dir.clone(), why };
    let mut out =
        Tags { repo_name: facts.remote.as_ref().and_then(|(_, url)| remote::repo_name(url)), ..Tags::default() };
    let platform = repo.references().map_err(|e| list_error(e.to_string()))?;
    for reference in platform.tags().map_err(|e| list_error(e.to_string()))? {
        let mut reference = match reference {
            Ok(r) => r,
            Err(e) => {
                out.skipped.push(("(unreadable)".to_owned(), format!("a tag reference cannot be read: {e}")));
                continue;
            }
        };
        let full = reference.name().as_bstr().to_string();
        let name = full.strip_prefix("refs/tags/").unwrap_or(&full).to_owned();
        if !tag_matches(pattern, &name) {
            continue;
        }
        match tag_facts(repo, &mut reference, &name) {
            Ok(tag) => out.tags.push(tag),
            Err(why) => out.skipped.push((name, why)),
        }
    }
    out.tags.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.name.cmp(&b.name)));
    out.skipped.sort();
    Ok(out)
}

/// One tag's commit, time and tagger, or why it is not a tag of a commit.
fn tag_facts(repo: &gix::Repository, reference: &mut gix::Reference<'_>, name: &str) -> Result<Tag, String> {
    let target = reference.target().try_id().map(ToOwned::to_owned);
    let peeled = reference.peel_to_id().map_err(|e| format!("it cannot be peeled: {e}"))?.detach();
    let object = repo.find_object(peeled).map_err(|e| format!("its object {peeled} cannot be read: {e}"))?;
    if object.kind != gix::object::Kind::Commit {
        return Err(format!("it names a {} ({peeled}), not a commit", object.kind));
    }
    let commit = object.into_commit();
    let mut time = commit.time().map_err(|e| format!("its commit's time cannot be read: {e}"))?.seconds;
    let mut tagger = None;
    if let Some(id) = target.filter(|id| *id != peeled) {
        if let Ok(tag) = repo.find_tag(id) {
            if let Ok(Some(sig)) = tag.tagger() {
                time = sig.time().map(|t| t.seconds).unwrap_or(time);
                tagger = Some(sig.email.to_string()).filter(|e| !e.is_empty());
            }
        }
    }
    Ok(Tag { name: name.to_owned(), commit: peeled.to_hex().to_string(), time, tagger })
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

/// Runs `customcd backfill` from its settings.
pub(crate) fn run(args: &BackfillArgs, settings: Settings) -> Result<(), Error> {
    settings.announce();
    let shared = settings.template();
    let repo_dir = settings.repo_dir();
    let fail = |e: TagsError| -> Error {
        match e {
            TagsError::Open(e) => Error::Invalid(vec![Problem::new(
                "repository",
                format!("cannot be read: {e}"),
                "run inside the repository or pass --repo PATH",
            )]),
            other => anyhow::Error::new(other).into(),
        }
    };
    // One repository handle for the tags and every tag's change set.
    let repo = crate::git::open(repo_dir).map_err(|e| fail(e.into()))?;
    let Tags { tags, skipped, repo_name } = read_tags(&repo, &args.from_git_tags).map_err(fail)?;
    for (name, why) in &skipped {
        output::warn(&format!("tag {name} is skipped: {why}; only tags of commits are deployments"));
    }
    if tags.is_empty() {
        let what = if skipped.is_empty() { "tag" } else { "tag of a commit" };
        output::warn(&format!("no {what} matches {:?}", args.from_git_tags));
        return Ok(());
    }
    // The job id names the repository as the jobs do: a given repo_name (flag or variable) wins
    // over the origin remote, so two repositories with the same tags never share job ids.
    let id_repo = settings.repo_name().or(repo_name);
    let mut lines = String::new();
    let mut problems = Vec::new();
    let history = History::new(&repo, &args.from_git_tags);
    for tag in &tags {
        match job_for(tag, shared, id_repo.as_deref()) {
            Ok(mut job) => {
                // Each tag ships what changed since the nearest matching tag below it, so a
                // backfilled history carries commit counts and lead times too.
                history.add_change_set(&mut job, tag, settings.change_set_limit().value);
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
    if !args.send || settings.dry_run().value {
        // Through `output`: redacted, defused on GitHub, and quiet when `backfill | head` closes
        // the pipe early (the reader's choice, not an error).
        output::stdout(lines.trim_end());
        if args.send {
            output::info(&format!(
                "dry run ({}): {} tag(s) matched {:?}; nothing was sent",
                settings.dry_run().source,
                tags.len(),
                args.from_git_tags
            ));
            for line in settings.connection_lines() {
                output::info(&format!("  {line}"));
            }
        } else {
            output::info(&format!(
                "{} tag(s) matched {:?}; review, then send with --send",
                tags.len(),
                args.from_git_tags
            ));
        }
        return Ok(());
    }

    // The jobs, their checkpoint and rejects are kept beside the spool, not in the checkout,
    // where they would dirty the working tree (and could be committed by accident).
    let work = settings.spool_dir().value.with_file_name("customcd-backfill");
    let out =
        args.out.clone().unwrap_or_else(|| work.join(format!("{}.jsonl", file_stem(repo_dir, &args.from_git_tags))));
    crate::fs::create_private_dir(crate::fs::parent_dir(&out))?;
    write_new(&out, &lines)?;
    output::info(&format!("{} job(s) written to {}; sending", tags.len(), out.display()));
    bulk::stop_on_signal();
    let opts = bulk::Options {
        concurrency: settings.concurrency().value,
        deadline: settings.deadline().value,
        rejects: Some(out.with_extension("rejects.jsonl")),
        ledger: Some(crate::bulk::checkpoint::ledger_path(&settings.spool_dir().value)),
        resend: args.resend,
        progress_every: std::time::Duration::from_secs(5),
    };
    // The jobs are in the `out` file, which a rerun resumes.
    settings.judge(bulk::run(&[Input::file(out, Some(Format::Jsonl))], settings.connection(), &opts), true)
}

/// The repository and its matching tags, to give each tag's job the change set since its
/// previous release ([`change_set::TagIndex::previous_release`], as `--previous-tag` finds it).
/// A tag added later in the middle of the history changes the next tag's change set; the
/// acknowledgement ledger (keyed by job, not body) keeps a rerun from sending that tag again.
struct History<'a> {
    repo: &'a gix::Repository,
    index: Option<change_set::TagIndex>,
}

impl<'a> History<'a> {
    fn new(repo: &'a gix::Repository, pattern: &str) -> History<'a> {
        History { repo, index: change_set::TagIndex::new(repo, pattern).ok() }
    }

    /// Adds the change set to a tag's job; a tag with no earlier matching tag (the first
    /// deploy) gets none, and trouble is a warning naming the tag, never a failed backfill.
    fn add_change_set(&self, job: &mut Job, tag: &Tag, limit: u64) {
        let (repo, Some(index)) = (self.repo, &self.index) else { return };
        let Ok(commit) = gix::ObjectId::from_hex(tag.commit.as_bytes()) else { return };
        let Some(found) = index.previous_release(repo, commit, limit) else { return };
        let name = &found.name;
        let prev = Sourced::new(
            found.commit.to_hex().to_string(),
            Source::Git(format!("tag {name}, the earlier release this one differs least from: {}", found.why)),
        );
        match change_set::compute(repo, &tag.commit, &prev, limit) {
            Ok(set) => {
                for field in set.fields(job.end()) {
                    if job.optional.len() < MAX_FIELDS && !job.optional.iter().any(|f| f.key == field.key) {
                        job.optional.push(field);
                    }
                }
            }
            Err(no) => output::warn(&format!("tag {}: no change set since tag {name}: {}", tag.name, no.reason)),
        }
    }
}

/// Replaces `path` with `text` whole: a temporary file created new (0600) beside it, fsync'd and
/// renamed over it, so a planted symbolic link is replaced rather than followed, and a full disk
/// leaves the previous file rather than an empty one. Its checkpoint is keyed by record digests,
/// so rewriting the file in another order (a tag added in the middle) resends nothing.
fn write_new(path: &Path, text: &str) -> Result<(), Error> {
    Ok(crate::fs::write_replace(path, text.as_bytes(), ".customcd-backfill-")?)
}

/// A readable file name for one repository's backfill with one pattern.
fn file_stem(repo: &Path, pattern: &str) -> String {
    let repo = std::fs::canonicalize(repo).unwrap_or_else(|_| repo.to_path_buf());
    let name = repo.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    format!("{}-{}", crate::fs::safe_name(&name, 60), crate::fs::safe_name(pattern, 60))
}

#[cfg(test)]
mod tests {
    use super::tag_matches;

    #[test]
    fn patterns_match_as_git_tag_list_matches_them() {
        let cases = [
            ("v*", "v1.0", true),
            ("v[0-9]*", "v1.0", true),
            ("v[0-9]*", "vx", false),
            ("v[!0-9]*", "vx", true),
            ("v?.0", "v2.0", true),
            ("v?.0", "v10.0", false),
            ("release/*", "release/2024/01", true),
            ("*", "a/b", true),
            ("v\\*", "v*", true),
            ("v\\*", "v1", false),
            ("V*", "v1.0", false),
            ("v[[:digit:]]*", "v3", true),
        ];
        for (pattern, name, want) in cases {
            assert_eq!(tag_matches(pattern, name), want, "{pattern} on {name}");
        }
    }
}
