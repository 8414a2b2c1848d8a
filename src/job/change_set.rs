//! What a deploy ships: the commits reachable from the deployed commit and not from the previous
//! deploy (`previous..deployed`), read from git at the moment of the deploy, and the optional
//! fields that describe them (commit count, lead time, authors, pull requests, rollback).
//!
//! The range is git's `git rev-list PREVIOUS..DEPLOYED` whatever the shape of the history: the
//! previous deploy may be an ancestor, a descendant (a rollback) or on another line (a hotfix
//! branch, a force-push), as Datadog and DevLake count it. It never guesses: a commit this clone
//! does not hold, or a shallow clone's cut the range reaches, leaves the fields out with the
//! reason. It never fails a report either: every trouble here is a reason, not an error.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;

use gix::bstr::ByteSlice;
use gix::ObjectId;
use serde_json::Value;

use crate::git::range::WalkError;
use crate::job::epoch::MILLIS_THRESHOLD;
use crate::job::optional::{FieldType, OptionalField, MAX_VALUES};
use crate::vocab::names::MAX_API_INTEGER;
use crate::vocab::source::{Source, Sourced};

/// The most commits a change set walks by default; past it the lead time is left out.
pub const DEFAULT_LIMIT: u64 = 10_000;

/// The optional fields a change set may add, in the order they are added (and dropped last first
/// when the 20-field budget runs out).
pub const FIELD_NAMES: &[&str] = &[
    "previous_sha",
    "commit_count",
    "lead_time",
    "first_commit_time",
    "lead_time_median",
    "author_count",
    "pull_requests",
    "is_rollback",
    "reverts",
];

/// The most reverted commits looked up per change set (one walk finds them all).
const MAX_REVERT_TARGETS: usize = 1_000;

/// The commits a deploy ships.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeSet {
    /// The previous deploy's commit, and where it came from.
    pub previous: Sourced<String>,
    /// The number of commits, when the walk finished below the limit.
    pub commits: u64,
    /// Whether the walk stopped at the limit: then only `previous_sha` and `is_rollback` are sure.
    pub capped: bool,
    /// Each commit's author time, epoch seconds, oldest first.
    pub author_times: Vec<i64>,
    /// Distinct author emails.
    pub authors: usize,
    /// Pull/merge request numbers named by merge and squash commits, newest first, at most 20.
    pub pull_requests: Vec<u64>,
    /// This deploy goes back in time: the deployed commit is an ancestor of the previous deploy,
    /// or (with the platform's record of earlier deploys) it is a commit an earlier deploy
    /// already shipped (see [`compute_with_earlier`]).
    pub is_rollback: bool,
    /// Commits of the range whose message carries git's own `This reverts commit <sha>` line for
    /// a commit an earlier deploy shipped (not one of this range).
    pub reverts: u64,
    /// The previous deploy is not an ancestor of the deployed commit (another line, a hotfix
    /// branch, a force-push): the range is still git's, said so in the summary.
    pub diverged: bool,
    /// Commits whose author time is not a plausible date (0, negative, or milliseconds): counted,
    /// but left out of the times, so they make no lead time of decades.
    pub undated: u64,
}

/// Why there is no change set; shown in provenance, and warned about when `warn` is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NoChangeSet {
    pub reason: String,
    /// Whether the user can do something about it (a shallow clone, a force-push).
    pub warn: bool,
}

impl NoChangeSet {
    fn quiet(reason: impl Into<String>) -> Self {
        NoChangeSet { reason: reason.into(), warn: false }
    }

    fn loud(reason: impl Into<String>) -> Self {
        NoChangeSet { reason: reason.into(), warn: true }
    }
}

/// Opens the repository at or above `dir` for the change set; trouble is a reason, not an error.
pub(crate) fn open(dir: &Path) -> Result<gix::Repository, NoChangeSet> {
    crate::git::open(dir).map_err(|e| NoChangeSet::loud(format!("no repository to read: {e}")))
}

/// Why `previous` names no previous deploy without looking at any repository: git's null id (a
/// new branch, a merge-request pipeline), which CI variables carry often enough that the
/// repository is not even opened for it.
pub(crate) fn null_previous(previous: &Sourced<String>) -> Option<NoChangeSet> {
    previous.value.trim().bytes().all(|b| b == b'0').then(|| {
        NoChangeSet::quiet(format!(
            "the previous commit ({}) is the null id: a new branch or a first deploy has no previous deploy",
            previous.source
        ))
    })
}

/// Computes `previous..deployed` in `repo`, walking at most `limit` commits.
pub(crate) fn compute(
    repo: &gix::Repository,
    deployed: &str,
    previous: &Sourced<String>,
    limit: u64,
) -> Result<ChangeSet, NoChangeSet> {
    compute_with_earlier(repo, deployed, previous, &[], limit)
}

/// As [`compute`], with the platform's record of the deploys before the previous one (`earlier`:
/// their commits, any order, the previous deploy itself may be among them): a deploy of a commit
/// one of them already shipped (that commit, or one it reaches) is a rollback too, as Datadog
/// defines it ("the version differs from the previous one and matches one deployed before"),
/// and a revert of a commit they shipped counts in `reverts`. Commits of `earlier` this clone
/// does not hold are skipped.
pub(crate) fn compute_with_earlier(
    repo: &gix::Repository,
    deployed: &str,
    previous: &Sourced<String>,
    earlier: &[String],
    limit: u64,
) -> Result<ChangeSet, NoChangeSet> {
    if let Some(no) = null_previous(previous) {
        return Err(no);
    }
    let prev = previous.value.trim();
    let deployed_id = ObjectId::from_hex(deployed.as_bytes())
        .map_err(|_| NoChangeSet::loud(format!("the deployed commit {deployed:?} is not a full commit id")))?;
    let Ok(previous_id) = ObjectId::from_hex(prev.as_bytes()) else {
        return Err(NoChangeSet::loud(format!(
            "previous_sha {prev:?} ({}) is not a full commit id (40 or 64 hex characters), so no change set is sent; give the previous deploy's full commit id, e.g. \"$(git rev-parse v1.2.3^{{commit}})\", or leave it unset",
            previous.source
        )));
    };
    if repo.find_commit(deployed_id).is_err() {
        return Err(NoChangeSet::loud(format!(
            "the deployed commit {deployed} is not in this clone; fetch it (actions/checkout: fetch-depth: 0)"
        )));
    }
    // An annotated tag's own id names its commit, as it does for git rev-list.
    let previous_id = match repo.find_object(previous_id).map(|o| o.peel_tags_to_end()) {
        Ok(Ok(object)) if object.kind == gix::object::Kind::Commit => object.id,
        Ok(Ok(object)) => {
            return Err(NoChangeSet::loud(format!(
                "the previous commit {prev} ({}) names a {}, not a commit; give the previous deploy's commit",
                previous.source, object.kind
            )))
        }
        _ => {
            return Err(NoChangeSet::loud(format!(
                "the previous commit {prev} ({}) is not in this clone (a shallow clone?); fetch the history (actions/checkout: fetch-depth: 0) or pass --previous-sha",
                previous.source
            )))
        }
    };
    // Per commit of the range: its author time, author (an index into `emails`), the pull
    // requests and the reverted commits its message names (an index into `reverted`, 0 for
    // none: few commits are reverts, so the range's record per commit stays as small as it
    // was). Emails are interned so that memory per commit stays small. Emails are compared as
    // bytes (two different non-UTF-8 addresses stay two), ASCII letters folded to lowercase as
    // mail domains are.
    let mut emails: HashMap<Vec<u8>, u32> = HashMap::new();
    let mut reverted: Vec<Vec<ObjectId>> = Vec::new();
    // Built once: a search set up per commit would cost more than the search itself.
    let revert_line = gix::bstr::Finder::new(REVERT_LINE);
    let range = crate::git::range::walk(repo, deployed_id, previous_id, limit, |id, commit| {
        let author = commit.author().map_err(|e| WalkError::new(format!("reading commit {id}: {e}")))?;
        let email: &[u8] = author.email.as_ref();
        // Most authors repeat: look the email up before making a lowercase copy of it.
        let who = match emails.get(email) {
            Some(who) if !email.iter().any(u8::is_ascii_uppercase) => *who,
            _ => {
                let next = u32::try_from(emails.len()).unwrap_or(u32::MAX);
                *emails.entry(email.to_ascii_lowercase()).or_insert(next)
            }
        };
        let message = commit.message.as_bstr();
        let mut reverts = 0u32;
        if revert_line.find(message).is_some() {
            let targets = reverted_commits(message);
            if !targets.is_empty() {
                reverted.push(targets);
                reverts = u32::try_from(reverted.len()).unwrap_or(u32::MAX);
            }
        }
        Ok((author.seconds(), who, pull_requests(&message.to_str_lossy()), reverts))
    })
    .map_err(|e| NoChangeSet::loud(format!("walking the history failed: {e}")))?;
    if let Some(cut) = range.cut_at {
        return Err(NoChangeSet::loud(format!(
            "this clone is shallow and its history is cut at {cut}, which the range {}..{} reaches: the commits beyond the cut are not here, so what this deploy ships cannot be known (git rev-list would count wrongly here); fetch the whole history (actions/checkout: fetch-depth: 0)",
            short(prev),
            short(deployed)
        )));
    }
    let mut set = ChangeSet {
        previous: Sourced::new(previous_id.to_string(), previous.source.clone()),
        commits: range.commits.len() as u64,
        capped: range.capped,
        author_times: Vec::with_capacity(range.commits.len()),
        authors: 0,
        pull_requests: Vec::new(),
        is_rollback: false,
        reverts: 0,
        // A previous deploy that is an ancestor is a parent of some commit of the set.
        diverged: !range.hidden_is_parent && !range.commits.is_empty() && !range.capped,
        undated: 0,
    };
    let earlier: Vec<ObjectId> = earlier
        .iter()
        .filter_map(|e| ObjectId::from_hex(e.trim().to_ascii_lowercase().as_bytes()).ok())
        .filter(|e| repo.find_commit(*e).is_ok())
        .collect();
    let mut authors = BTreeSet::new();
    // The reverts of commits of the range (a commit found later to be reachable from the previous
    // deploy is not in `range.commits`, nor are its reverts).
    let mut reverting: Vec<&[ObjectId]> = Vec::new();
    for (seconds, who, numbers, reverts) in range.commits {
        // git writes 0 for a missing or unreadable date, and some tools wrote milliseconds: such
        // a commit counts, but its time would make a lead time of decades (or of nothing).
        if (1..MILLIS_THRESHOLD).contains(&seconds) {
            set.author_times.push(seconds);
        } else {
            set.undated += 1;
        }
        authors.insert(who);
        for n in numbers {
            if !set.pull_requests.contains(&n) && set.pull_requests.len() < MAX_VALUES {
                set.pull_requests.push(n);
            }
        }
        if let Some(targets) = (reverts as usize).checked_sub(1).and_then(|i| reverted.get(i)) {
            reverting.push(targets);
        }
    }
    set.authors = authors.len();
    set.author_times.sort_unstable();
    if set.capped {
        // Past the limit neither a rollback nor every revert is known; neither is sent.
        return Ok(set);
    }
    // A deploy that ships nothing new (everything the deployed commit reaches, the previous one
    // reaches too) and is not a redeploy of the same commit goes back in time.
    set.is_rollback = set.commits == 0 && deployed_id != previous_id;
    if !set.is_rollback && deployed_id != previous_id && !earlier.is_empty() {
        let deployed_only = HashSet::from([deployed_id]);
        set.is_rollback = !reached_from(repo, &earlier, &deployed_only, limit).is_empty();
    }
    // A revert of a commit the previous deploy (or an earlier one) reaches undoes what went out
    // before; one of a commit of this range only (which the previous deploy cannot reach)
    // undoes nothing that was deployed.
    let targets: HashSet<ObjectId> = reverting
        .iter()
        .flat_map(|t| t.iter())
        .filter(|t| repo.find_commit(**t).is_ok())
        .take(MAX_REVERT_TARGETS)
        .copied()
        .collect();
    if !targets.is_empty() {
        let tips: Vec<ObjectId> = std::iter::once(previous_id).chain(earlier).collect();
        let shipped = reached_from(repo, &tips, &targets, limit);
        set.reverts = reverting.iter().filter(|t| t.iter().any(|t| shipped.contains(t))).count() as u64;
    }
    Ok(set)
}

/// The line git writes in a revert's message (`git revert`), followed by the reverted commit's
/// full id: "This reverts commit <sha>." (or ", reversing\nchanges made to <sha>." for a merge).
const REVERT_LINE: &str = "This reverts commit ";

/// The commits named by git's revert lines in `message`: full ids only, as git writes them (an
/// abbreviated id written by hand may name another commit, or none).
fn reverted_commits(message: &gix::bstr::BStr) -> Vec<ObjectId> {
    let mut found = Vec::new();
    let mut rest: &[u8] = message.as_ref();
    while let Some(at) = rest.find(REVERT_LINE) {
        rest = &rest[at + REVERT_LINE.len()..];
        let hex = rest.iter().take_while(|b| b.is_ascii_hexdigit()).count();
        if hex == 40 || hex == 64 {
            if let Ok(id) = ObjectId::from_hex(&rest[..hex].to_ascii_lowercase()) {
                if !found.contains(&id) {
                    found.push(id);
                }
            }
        }
    }
    found
}

/// How far behind a commit's clock may run behind its descendant's and still be found by
/// [`reached_from`]: past this below the oldest target the walk stops.
const CLOCK_SKEW: i64 = 86_400;

/// Which of `targets` the commits `tips` reach (themselves included), in one walk newest
/// committer time first over at most `limit` commits, stopping once every target is found or
/// the walk is a day older than the oldest target. A target not found so is taken as not
/// reached: a revert or a rollback is then not flagged, rather than flagged wrongly.
fn reached_from(
    repo: &gix::Repository,
    tips: &[ObjectId],
    targets: &HashSet<ObjectId>,
    limit: u64,
) -> HashSet<ObjectId> {
    let mut found = HashSet::new();
    let oldest =
        targets.iter().filter_map(|t| repo.find_commit(*t).ok().and_then(|c| c.time().ok()).map(|t| t.seconds)).min();
    let (Some(oldest), false) = (oldest, tips.is_empty()) else { return found };
    let Ok(walk) = repo
        .rev_walk(tips.iter().copied())
        .sorting(gix::revision::walk::Sorting::ByCommitTime(Default::default()))
        .all()
    else {
        return found;
    };
    for info in walk.take(usize::try_from(limit).unwrap_or(usize::MAX)) {
        let Ok(info) = info else { break };
        if targets.contains(&info.id) {
            found.insert(info.id);
            if found.len() == targets.len() {
                break;
            }
        }
        if info.commit_time.is_some_and(|t| t < oldest.saturating_sub(CLOCK_SKEW)) {
            break;
        }
    }
    found
}

/// The previous release of `deployed` among the tags matching `pattern` (git's wildmatch, as
/// `git tag -l`), by [`TagIndex::previous_release`]'s rule, the same as backfill's: tags earlier
/// than the deployed commit's own tag (untagged: not after its commit time), never a tag on the
/// deployed commit itself.
pub(crate) fn previous_from_tag(
    repo: &gix::Repository,
    deployed: &str,
    pattern: &Sourced<String>,
    limit: u64,
) -> Result<Sourced<String>, NoChangeSet> {
    let index = TagIndex::new(repo, &pattern.value)?;
    let deployed_id = ObjectId::from_hex(deployed.as_bytes())
        .map_err(|_| NoChangeSet::loud(format!("the deployed commit {deployed:?} is not a full commit id")))?;
    match index.previous_release(repo, deployed_id, limit) {
        Some(found) => {
            let how = format!(
                "tag {}, the matching {} ({}) this commit differs least from: {}",
                found.name, pattern.value, pattern.source, found.why
            );
            Ok(Sourced::new(found.commit.to_hex().to_string(), Source::Git(how)))
        }
        // In a shallow clone the tag may be below the cut, or not fetched at all: say how to get
        // it rather than call the deploy a first one.
        None if repo.is_shallow().unwrap_or(false) => Err(NoChangeSet::loud(format!(
            "no earlier release tag matching {:?} ({}) is within reach of {deployed} in this shallow clone; fetch the whole history and the tags (actions/checkout: fetch-depth: 0, fetch-tags: true)",
            pattern.value, pattern.source
        ))),
        None => Err(NoChangeSet::quiet(format!(
            "no tag matching {:?} ({}) is an earlier release than {deployed}: a first deploy",
            pattern.value, pattern.source
        ))),
    }
}

impl TagAt {
    /// Release order: the tagged commit's time first, then when the tag was made, then its name.
    /// The commit's time, because a tag made after the fact on an old release (real projects
    /// tagged their early releases years later, in any order) still marks that release where
    /// it is in history; the tag's time and name order tags of one commit, or of commits made
    /// in the same second.
    fn key(&self) -> (i64, i64, &str) {
        (self.committed, self.made, &self.name)
    }
}

/// One matching tag of a commit.
#[derive(Debug, Clone)]
struct TagAt {
    name: String,
    commit: ObjectId,
    /// When the tag was made: the tagger's time, else (a lightweight tag) the commit's.
    made: i64,
    /// The commit's committer time.
    committed: i64,
}

/// The previous release found for a commit, and why it is the one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviousRelease {
    pub name: String,
    pub commit: ObjectId,
    /// "3 commits differ (git rev-list --count v1..v2 is 2, v2..v1 is 1)".
    pub why: String,
}

/// The tags matching a pattern, to find each release's previous release.
pub(crate) struct TagIndex {
    tags: Vec<TagAt>,
}

impl TagIndex {
    /// Reads the tags matching `pattern`; tags of trees and blobs name no deploy and are left out.
    pub(crate) fn new(repo: &gix::Repository, pattern: &str) -> Result<TagIndex, NoChangeSet> {
        let mut tags = Vec::new();
        let refs = repo.references().map_err(|e| NoChangeSet::loud(format!("listing tags failed: {e}")))?;
        let listed = refs.tags().map_err(|e| NoChangeSet::loud(format!("listing tags failed: {e}")))?;
        for mut reference in listed.flatten() {
            let name = reference.name().shorten().to_string();
            if !crate::git::tag_matches(pattern, &name) {
                continue;
            }
            let target = reference.target().try_id().map(ToOwned::to_owned);
            let Ok(id) = reference.peel_to_id() else { continue };
            let id = id.detach();
            let Ok(commit) = repo.find_commit(id) else { continue };
            let committed = commit.time().map(|t| t.seconds).unwrap_or(0);
            let made = target
                .filter(|t| *t != id)
                .and_then(|t| repo.find_tag(t).ok())
                .and_then(|tag| tag.tagger().ok().flatten().and_then(|sig| sig.time().ok().map(|t| t.seconds)))
                .unwrap_or(committed);
            tags.push(TagAt { name, commit: id, made, committed });
        }
        Ok(TagIndex { tags })
    }

    /// The release `deployed` came after, as a person reads release history: among the earlier
    /// matching tags (see [`TagAt::key`]: commit time, then tag time and name; before the
    /// deployed commit's own earliest matching tag, or, untagged, not after its commit time) not
    /// on `deployed` itself, the one this release adds the fewest commits to, i.e. the fewest in
    /// `git rev-list --count PREV..DEPLOYED` (the change set itself), leaving out any that is
    /// further along than this release: one with more commits this release lacks
    /// (`DEPLOYED..PREV`) than this release adds to it, a newer line's release or a later commit.
    /// Among equals, the latest.
    ///
    /// On a line of releases where each is an ancestor of the next, this is the tag
    /// `git describe` names (the fewest commits since it). On releases tagged on side commits
    /// never merged back (a version bump, or a few release fixes), the release made just before
    /// lacks only its own side commits and misses only what the line gained since, where an
    /// older tag misses every release in between too. On maintenance lines merged up, a sibling
    /// line's release is an ancestor that misses the whole development cycle between, and a
    /// newer line's release, which may miss only a fix or two, is further along (it has that
    /// cycle): both lose to the same line's previous release.
    ///
    /// Candidates are tried newest commit first, each walk stopped at the best count so far, and
    /// the search ends when more of `deployed`'s history is newer than a candidate's commit (by
    /// a day of clock skew) than the best count: those commits cannot be in the older candidate,
    /// so it cannot do better. Walks are bounded by `limit`; a candidate whose count passes it,
    /// or that a shallow clone's cut makes uncertain, is not chosen.
    pub(crate) fn previous_release(
        &self,
        repo: &gix::Repository,
        deployed: ObjectId,
        limit: u64,
    ) -> Option<PreviousRelease> {
        // Earlier than the deployed commit's own first matching tag; untagged, than its commit.
        let own = self.tags.iter().filter(|t| t.commit == deployed).map(TagAt::key).min();
        let bound = match own {
            Some((committed, made, name)) => (committed, made, Some(name)),
            None => (repo.find_commit(deployed).ok()?.time().ok()?.seconds, i64::MAX, None),
        };
        let earlier = |t: &TagAt| {
            let (committed, made, name) = t.key();
            (committed, made) < (bound.0, bound.1)
                || ((committed, made) == (bound.0, bound.1) && bound.2.is_some_and(|b| name < b))
        };
        // One candidate per commit: the tag made last on it names it.
        let mut by_commit: HashMap<ObjectId, &TagAt> = HashMap::new();
        for tag in &self.tags {
            if tag.commit == deployed || !earlier(tag) {
                continue;
            }
            let slot = by_commit.entry(tag.commit).or_insert(tag);
            if (tag.made, &tag.name) > (slot.made, &slot.name) {
                *slot = tag;
            }
        }
        let mut candidates: Vec<&TagAt> = by_commit.into_values().collect();
        candidates.sort_by(|a, b| b.committed.cmp(&a.committed).then_with(|| b.made.cmp(&a.made)));
        let mut newer = NewerThan::new(repo, deployed, limit);
        // (commits this release adds to it, commits it has that this release lacks, the tag)
        let mut best: Option<(u64, u64, &TagAt)> = None;
        for tag in candidates {
            let bound = best.map_or(limit, |b| b.0);
            if newer.count(tag.committed.saturating_add(CLOCK_SKEW)) > bound {
                break;
            }
            let Some(ahead) = count(repo, deployed, tag.commit, bound) else { continue };
            // Further along than this release (more it lacks than it adds): a newer line's.
            let Some(behind) = count(repo, tag.commit, deployed, ahead) else { continue };
            let better = match best {
                None => true,
                Some((a, _, b)) => ahead < a || (ahead == a && tag.key() > b.key()),
            };
            if better {
                best = Some((ahead, behind, tag));
            }
        }
        best.map(|(ahead, behind, tag)| PreviousRelease {
            name: tag.name.clone(),
            commit: tag.commit,
            why: format!(
                "{ahead} commit{} since it, {behind} of its own not in this release",
                if ahead == 1 { "" } else { "s" }
            ),
        })
    }
}

/// `git rev-list --count hidden..tip` when it is at most `limit` and sure (no shallow cut).
fn count(repo: &gix::Repository, tip: ObjectId, hidden: ObjectId, limit: u64) -> Option<u64> {
    let range = crate::git::range::walk(repo, tip, hidden, limit, |_, _| Ok(())).ok()?;
    (!range.capped && range.cut_at.is_none()).then_some(range.commits.len() as u64)
}

/// How many commits of one commit's history are newer than a time, read lazily newest first, for
/// times that only go down.
struct NewerThan<'r> {
    walk: Option<gix::revision::Walk<'r>>,
    /// Commits read so far that are newer than the last time asked about.
    newer: u64,
    /// The commit time read but not yet counted (not newer than the last time asked about).
    pending: Option<i64>,
    left: u64,
}

impl<'r> NewerThan<'r> {
    fn new(repo: &'r gix::Repository, tip: ObjectId, limit: u64) -> Self {
        let walk =
            repo.rev_walk([tip]).sorting(gix::revision::walk::Sorting::ByCommitTime(Default::default())).all().ok();
        NewerThan { walk, newer: 0, pending: None, left: limit.saturating_add(1) }
    }

    /// The commits newer than `time` (asked with times that only go down).
    fn count(&mut self, time: i64) -> u64 {
        loop {
            let next = match self.pending.take() {
                Some(t) => Some(t),
                None if self.left == 0 => None,
                None => {
                    self.left -= 1;
                    self.walk.as_mut().and_then(Iterator::next).and_then(Result::ok).map(|i| i.commit_time.unwrap_or(0))
                }
            };
            match next {
                Some(t) if t > time => self.newer += 1,
                Some(t) => {
                    self.pending = Some(t);
                    return self.newer;
                }
                None => return self.newer,
            }
        }
    }
}

/// Pull and merge request numbers in a commit message, in the shapes GitHub (merge: "Merge pull
/// request #12 from ..."; squash: "Title (#12)"), GitLab ("See merge request group/app!12") and
/// Bitbucket ("Merged in branch (pull request #12)") write.
pub fn pull_requests(message: &str) -> Vec<u64> {
    let mut found = Vec::new();
    let subject = message.lines().next().unwrap_or("").trim();
    let digits = |s: &str| -> Option<u64> {
        let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        s[..end].parse().ok().filter(|_| end > 0)
    };
    if let Some(rest) = subject.strip_prefix("Merge pull request #") {
        found.extend(digits(rest));
    }
    if let Some(open) = subject.rfind("(#") {
        if subject.ends_with(')') {
            found.extend(
                digits(&subject[open + 2..])
                    .filter(|_| subject[open + 2..].trim_end_matches(')').bytes().all(|b| b.is_ascii_digit())),
            );
        }
    }
    if let Some(at) = subject.rfind("(pull request #") {
        found.extend(digits(&subject[at + "(pull request #".len()..]));
    }
    for line in message.lines() {
        if let Some(rest) = line.trim().strip_prefix("See merge request ") {
            if let Some(bang) = rest.rfind('!') {
                found.extend(digits(&rest[bang + 1..]));
            }
        }
    }
    let mut unique = Vec::new();
    // No forge numbers a request 0 or past 2^31-1 (MAX_API_INTEGER, the largest integer customcd
    // trusts the API to store): such a number is a message's noise, not a pull request, and is
    // not worth a job the API might refuse.
    for n in found.into_iter().filter(|n| (1..=MAX_API_INTEGER).contains(n)) {
        if !unique.contains(&n) {
            unique.push(n);
        }
    }
    unique
}

impl ChangeSet {
    /// The optional fields, for a job that ended at `end` (epoch seconds). Past the walk's limit
    /// only `previous_sha` is sure; lead times are left out when nothing (dated) shipped.
    pub fn fields(&self, end: i64) -> Vec<OptionalField> {
        let source = || Source::Git(format!("{}..deployed commit", short(&self.previous.value)));
        let field =
            |key: &str, ty: FieldType, value: Value| OptionalField { key: key.to_owned(), value, ty, source: source() };
        let mut out = vec![OptionalField {
            key: "previous_sha".to_owned(),
            value: Value::from(self.previous.value.clone()),
            ty: FieldType::String,
            source: self.previous.source.clone(),
        }];
        if !self.capped {
            out.push(field("commit_count", FieldType::Integer, Value::from(self.commits)));
            // A commit authored after the job ended (a clock ahead, a rewritten date) says nothing
            // about how long the change waited: left out of the lead times, with a note.
            if let Some(first) = self.dated(end).first() {
                out.push(field("lead_time", FieldType::Duration, Value::from(end.saturating_sub(*first).max(0))));
                out.push(field("first_commit_time", FieldType::Timestamp, Value::from((*first).max(0))));
                out.push(field("lead_time_median", FieldType::Duration, Value::from(self.median_lead_time(end))));
            }
            if self.commits > 0 {
                out.push(field("author_count", FieldType::Integer, Value::from(self.authors)));
            }
        }
        if self.capped {
            // Past the limit the walk has not seen where the histories meet: not whether the
            // previous deploy is an ancestor, nor all pull requests, nor a rollback for sure.
            return out;
        }
        if !self.pull_requests.is_empty() {
            out.push(field("pull_requests", FieldType::Integer, Value::from(self.pull_requests.clone())));
        }
        out.push(field("is_rollback", FieldType::Integer, Value::from(u8::from(self.is_rollback))));
        // Sent as a count, 0 included, like is_rollback: the range was read whole, so "none" is
        // known (the contract only asks that a field be left out rather than sent empty).
        out.push(field("reverts", FieldType::Integer, Value::from(self.reverts)));
        out
    }

    /// The author times at or before `end`, oldest first: those a lead time can be measured from.
    fn dated(&self, end: i64) -> &[i64] {
        &self.author_times[..self.author_times.partition_point(|t| *t <= end)]
    }

    /// The median over the commits of (end minus the commit's author time), never negative.
    fn median_lead_time(&self, end: i64) -> i64 {
        let mut leads: Vec<i64> = self.dated(end).iter().map(|t| end.saturating_sub(*t).max(0)).collect();
        leads.sort_unstable();
        match leads.len() {
            0 => 0,
            n if n % 2 == 1 => leads[n / 2],
            n => (leads[n / 2 - 1] + leads[n / 2]) / 2,
        }
    }

    /// One line for people: "ships 14 commits (PRs #212, #215), oldest 3 d 4 h ago, lead time
    /// 3 d 4 h; not a rollback".
    pub fn summary(&self, end: i64) -> String {
        format!("{} (previous deploy from {})", self.shipped(end), self.previous.source)
    }

    fn shipped(&self, end: i64) -> String {
        let prs = match self.pull_requests.as_slice() {
            [] => String::new(),
            list => format!(
                " (PR{} {})",
                if list.len() == 1 { "" } else { "s" },
                list.iter().map(|n| format!("#{n}")).collect::<Vec<_>>().join(", ")
            ),
        };
        let mut rollback = if self.is_rollback { "a rollback" } else { "not a rollback" }.to_owned();
        if self.reverts > 0 {
            rollback.push_str(&format!(
                "; {} revert{} of what an earlier deploy shipped",
                self.reverts,
                if self.reverts == 1 { "" } else { "s" }
            ));
        }
        if self.diverged {
            rollback.push_str(&format!(
                "; {} is not an ancestor of the deployed commit (another line or a rewritten history): counted as git rev-list {}..DEPLOYED counts",
                short(&self.previous.value),
                short(&self.previous.value)
            ));
        }
        if self.capped {
            return format!(
                "ships more than {} commit{} since {} (the walk stopped at --change-set-limit; only previous_sha is sent: count, lead time, pull requests and rollback are not known)",
                self.commits,
                if self.commits == 1 { "" } else { "s" },
                short(&self.previous.value)
            );
        }
        let undated = match self.undated {
            0 => String::new(),
            n => format!(
                " ({n} commit{} without a plausible author date left out of the lead time)",
                if n == 1 { "" } else { "s" }
            ),
        };
        let later = self.author_times.len() - self.dated(end).len();
        let undated = match later {
            0 => undated,
            n => format!(
                "{undated} ({n} commit{} authored after the job ended left out of the lead time: a clock ahead or a rewritten date)",
                if n == 1 { "" } else { "s" }
            ),
        };
        match self.dated(end).first() {
            Some(first) => {
                let lead = human(end.saturating_sub(*first).max(0));
                format!(
                    "ships {} commit{} since {}{prs}, oldest {lead} ago, lead time {lead}{undated}; {rollback}",
                    self.commits,
                    if self.commits == 1 { "" } else { "s" },
                    short(&self.previous.value)
                )
            }
            None if self.commits > 0 => format!(
                "ships {} commit{} since {}{prs}{undated}; {rollback}",
                self.commits,
                if self.commits == 1 { "" } else { "s" },
                short(&self.previous.value)
            ),
            None => format!("ships no new commit since {}; {rollback}", short(&self.previous.value)),
        }
    }
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

/// "3 d 4 h", "5 h 2 min", "42 s".
pub(crate) fn human(seconds: i64) -> String {
    let (d, h, m) = (seconds / 86_400, seconds % 86_400 / 3_600, seconds % 3_600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{seconds} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_request_numbers_come_from_merge_and_squash_messages_of_each_forge() {
        assert_eq!(pull_requests("Merge pull request #212 from acme/feature\n\nAdd it"), [212]);
        assert_eq!(pull_requests("Add the thing (#215)\n\n* wip"), [215]);
        assert_eq!(pull_requests("Merge branch 'x' into 'main'\n\nSee merge request acme/app!31"), [31]);
        assert_eq!(pull_requests("Merged in feature/x (pull request #7)\n\nApproved-by: Bob"), [7]);
        assert!(pull_requests("Fix #12 in the parser").is_empty(), "an issue reference is not a PR");
        assert!(pull_requests("Bump (#abc)").is_empty());
    }

    #[test]
    fn durations_read_like_people_say_them() {
        assert_eq!(human(42), "42 s");
        assert_eq!(human(3 * 86_400 + 4 * 3_600 + 59), "3 d 4 h");
        assert_eq!(human(5 * 3_600 + 120), "5 h 2 min");
    }

    #[test]
    fn the_median_lead_time_is_over_every_commit() {
        let set = ChangeSet {
            previous: Sourced::new("a".repeat(40), Source::Default("test".into())),
            commits: 4,
            capped: false,
            author_times: vec![0, 10, 20, 100],
            authors: 1,
            pull_requests: Vec::new(),
            is_rollback: false,
            reverts: 0,
            diverged: false,
            undated: 0,
        };
        assert_eq!(set.median_lead_time(100), 85);
        let fields = set.fields(100);
        let lead = fields.iter().find(|f| f.key == "lead_time").expect("lead time");
        assert_eq!(lead.value, Value::from(100));
        let capped = ChangeSet { capped: true, pull_requests: vec![7], ..set };
        let keys: Vec<String> = capped.fields(100).into_iter().map(|f| f.key).collect();
        assert_eq!(keys, ["previous_sha"], "past the limit only the previous deploy is sure");
        assert!(capped.summary(100).contains("more than 4 commits"), "{}", capped.summary(100));
    }

    #[test]
    fn commits_authored_after_the_job_ended_are_left_out_of_the_lead_times_with_a_note() {
        let set = |times: Vec<i64>| ChangeSet {
            previous: Sourced::new("a".repeat(40), Source::Default("test".into())),
            commits: times.len() as u64,
            capped: false,
            author_times: times,
            authors: 1,
            pull_requests: Vec::new(),
            is_rollback: false,
            reverts: 0,
            diverged: false,
            undated: 0,
        };
        let some = set(vec![100, 200, 5000]);
        let fields = some.fields(1000);
        let value = |key: &str| fields.iter().find(|f| f.key == key).map(|f| f.value.clone());
        assert_eq!(value("lead_time"), Some(Value::from(900)));
        assert_eq!(value("first_commit_time"), Some(Value::from(100)));
        assert_eq!(value("lead_time_median"), Some(Value::from(850)), "over the two dated commits");
        assert_eq!(value("commit_count"), Some(Value::from(3)), "still shipped");
        assert!(some.summary(1000).contains("1 commit authored after the job ended"), "{}", some.summary(1000));
        let all = set(vec![5000]);
        let keys: Vec<String> = all.fields(1000).into_iter().map(|f| f.key).collect();
        assert!(!keys.iter().any(|k| k.starts_with("lead_time") || k == "first_commit_time"), "{keys:?}");
        assert!(all.summary(1000).contains("after the job ended"), "{}", all.summary(1000));
    }

    #[test]
    fn pull_request_numbers_the_api_cannot_take_are_no_pull_requests() {
        assert!(pull_requests("Big (#2147483648)").is_empty());
        assert_eq!(pull_requests("Big (#2147483647)"), [2_147_483_647]);
        assert!(pull_requests("Merge pull request #0 from a/b").is_empty());
        assert!(pull_requests("Huge (#99999999999999999999999)").is_empty());
    }

    use crate::git::fixture::{self, build, build_with, git_ok, shallow_clone, Details, History};

    fn linear(n: usize) -> History {
        fixture::linear(n, 1_700_000_000, 60)
    }

    fn previous(id: impl ToString) -> Sourced<String> {
        Sourced::new(id.to_string(), Source::Flag("--previous-sha".into()))
    }

    #[test]
    fn commits_without_a_plausible_author_date_count_but_make_no_lead_time() {
        let history = linear(5);
        let (_dir, repo, ids) = build_with(&history, |i, (_, time)| Details {
            author_time: match i {
                3 => 0,                 // git's "no date"
                4 => 1_700_000_000_000, // milliseconds
                _ => *time,
            },
            message: format!("c{i}"),
        });
        let set = compute(&repo, &ids[4].to_string(), &previous(ids[1]), 100).expect("a change set");
        assert_eq!(set.commits, 3);
        assert_eq!(set.undated, 2);
        assert_eq!(set.author_times, [history[2].1]);
        assert!(set.summary(history[4].1).contains("2 commits without a plausible author date"), "{}", set.summary(0));
    }

    #[test]
    fn an_annotated_tags_id_as_the_previous_deploy_names_its_commit() {
        let history = linear(4);
        let (dir, repo, ids) = build(&history);
        git_ok(dir.path(), &["tag", "-a", "-m", "release", "v1", &ids[1].to_string()]);
        let tag_id = git_ok(dir.path(), &["rev-parse", "v1"]);
        assert_ne!(tag_id, ids[1].to_string(), "an annotated tag has an id of its own");
        let repo = gix::open(repo.path()).expect("reopen to see the tag");
        let set = compute(&repo, &ids[3].to_string(), &previous(&tag_id), 100).expect("a change set");
        assert_eq!(set.commits, 2);
        assert_eq!(set.previous.value, ids[1].to_string(), "the commit is sent, not the tag");
        // A tree is no previous deploy.
        let tree = git_ok(dir.path(), &["rev-parse", &format!("{}^{{tree}}", ids[1])]);
        let no = compute(&repo, &ids[3].to_string(), &previous(&tree), 100).expect_err("a tree is refused");
        assert!(no.warn && no.reason.contains("tree"), "{}", no.reason);
    }

    #[test]
    fn a_previous_sha_that_is_no_full_commit_id_is_warned_about_not_fatal() {
        let (_dir, repo, ids) = build(&linear(3));
        for bad in ["abc1234", "null", "HEAD~1"] {
            let no = compute(&repo, &ids[2].to_string(), &previous(bad), 100).expect_err("no change set");
            assert!(
                no.warn && no.reason.contains("not a full commit id") && no.reason.contains("--previous-sha"),
                "{}",
                no.reason
            );
        }
    }

    #[test]
    fn a_shallow_clone_gives_the_range_it_holds_and_names_the_fix_where_it_is_cut() {
        // main m0..m29 a minute apart; f0, f1 fork from m2 and are merged last (commit 32).
        let mut history = linear(30);
        history.push((vec![2], history[29].1 + 10));
        history.push((vec![30], history[29].1 + 20));
        history.push((vec![29, 31], history[29].1 + 30));
        let (dir, _repo, ids) = build(&history);
        let (_clone, shallow) = shallow_clone(dir.path(), 5);
        // The previous deploy m26 and everything between are in the clone: the range stands.
        let set = compute(&shallow, &ids[29].to_string(), &previous(ids[26]), 100).expect("within the clone");
        assert_eq!(set.commits, 3);
        // m29..merge: the feature side reaches m2..m0, which the clone cannot show m29 reaches.
        let no = compute(&shallow, &ids[32].to_string(), &previous(ids[29]), 100).expect_err("cut");
        assert!(no.warn && no.reason.contains("shallow") && no.reason.contains("fetch-depth: 0"), "{}", no.reason);
        // A previous deploy outside the clone is said so.
        let no = compute(&shallow, &ids[29].to_string(), &previous(ids[10]), 100).expect_err("outside");
        assert!(no.warn && no.reason.contains("fetch-depth: 0"), "{}", no.reason);
    }

    /// `git rev-list --count A..B` in `dir`, the answer a test checks against.
    fn git_count(dir: &std::path::Path, range: &str) -> u64 {
        git_ok(dir, &["rev-list", "--count", range]).parse().expect("a count")
    }

    #[test]
    fn a_previous_deploy_on_another_line_gives_gits_range_and_says_it_diverged() {
        // main m0..m5 a minute apart; a hotfix h6 forked from m2 was deployed last; now m5 goes
        // out: git counts m3, m4, m5.
        let mut history = linear(6);
        history.push((vec![2], history[5].1 + 60));
        let (dir, repo, ids) = build(&history);
        let set = compute(&repo, &ids[5].to_string(), &previous(ids[6]), 100).expect("git's range");
        assert_eq!(set.commits, git_count(dir.path(), &format!("{}..{}", ids[6], ids[5])));
        assert_eq!(set.commits, 3);
        assert!(set.diverged && !set.is_rollback);
        assert!(set.summary(history[6].1).contains("not an ancestor"), "{}", set.summary(0));
        // The other way round, the hotfix after main: h6 alone.
        let set = compute(&repo, &ids[6].to_string(), &previous(ids[5]), 100).expect("git's range");
        assert_eq!(set.commits, git_count(dir.path(), &format!("{}..{}", ids[5], ids[6])));
        assert_eq!(set.commits, 1);
        // An ancestor is no divergence.
        let set = compute(&repo, &ids[5].to_string(), &previous(ids[2]), 100).expect("git's range");
        assert!(!set.diverged);
    }

    #[test]
    fn a_commit_an_earlier_deploy_shipped_is_a_rollback_with_the_platforms_record() {
        // Deploys: m5 (earlier), then the hotfix h6 from m2 (previous); now m4 goes out. m4 is no
        // ancestor of h6, so git's range is m3, m4; but m5's deploy shipped m4 already.
        let mut history = linear(6);
        history.push((vec![2], history[5].1 + 60));
        let (_dir, repo, ids) = build(&history);
        let earlier = [ids[5].to_string()];
        let hex = |i: usize| ids[i].to_string();
        let without = compute(&repo, &hex(4), &previous(ids[6]), 100).expect("a change set");
        assert!(!without.is_rollback, "without the record the previous deploy is all there is");
        let with = compute_with_earlier(&repo, &hex(4), &previous(ids[6]), &earlier, 100).expect("a change set");
        assert!(with.is_rollback);
        assert_eq!(with.commits, 2, "the range stays git's");
        // Redeploying an earlier deploy's very commit is one (Datadog's definition) ...
        let again = compute_with_earlier(&repo, &hex(5), &previous(ids[6]), &earlier, 100).expect("a change set");
        assert!(again.is_rollback);
        // ... redeploying the previous one's is not, nor is going past every earlier deploy.
        let same = compute_with_earlier(&repo, &hex(6), &previous(ids[6]), &earlier, 100).expect("a change set");
        assert!(!same.is_rollback);
        let older = [ids[1].to_string(), "f".repeat(40), "not a sha".to_owned()];
        let ahead = compute_with_earlier(&repo, &hex(4), &previous(ids[6]), &older, 100).expect("a change set");
        assert!(!ahead.is_rollback, "m1 does not reach m4; unknown commits are skipped");
    }

    #[test]
    fn reverts_count_commits_of_the_range_that_revert_what_an_earlier_deploy_shipped() {
        let (dir, _repo, ids) = build(&linear(4));
        git_ok(dir.path(), &["checkout", "-q", "main"]);
        let commit = |message: String| {
            git_ok(dir.path(), &["commit", "-q", "--allow-empty", "-m", &message]);
            git_ok(dir.path(), &["rev-parse", "HEAD"])
        };
        // Deployed last: c3. Since then: a revert of c1 (shipped), a revert of c4 (this range),
        // a revert naming a commit this clone does not have, one with an abbreviated id, and a
        // merge's revert of c2 (shipped) written as git writes it.
        let c4 = commit("c4".to_owned());
        commit(format!("Revert \"c1\"\n\nThis reverts commit {}.", ids[1]));
        commit(format!("Revert \"c4\"\n\nThis reverts commit {c4}."));
        commit(format!("Revert \"gone\"\n\nThis reverts commit {}.", "e".repeat(40)));
        commit(format!("Revert \"short\"\n\nThis reverts commit {}.", &ids[0].to_string()[..12]));
        let head = commit(format!(
            "Revert \"Merge\"\n\nThis reverts commit {}, reversing\nchanges made to {}.",
            ids[2], ids[1]
        ));
        let repo = gix::open(dir.path()).expect("reopen");
        let set = compute(&repo, &head, &previous(ids[3]), 100).expect("a change set");
        assert_eq!(set.commits, 6);
        assert_eq!(set.reverts, 2, "c1 and c2 went out before; c4 did not; the others name no commit here");
        let field = set.fields(0).into_iter().find(|f| f.key == "reverts").expect("sent");
        assert_eq!(field.value, Value::from(2));
        // Counted from c0 instead, the revert of c1 undoes part of this very range.
        let set = compute(&repo, &head, &previous(ids[0]), 100).expect("a change set");
        assert_eq!(set.reverts, 0);
        assert_eq!(set.fields(0).into_iter().find(|f| f.key == "reverts").map(|f| f.value), Some(Value::from(0)));
    }

    /// A repository built step by step with git itself, each commit and tag at a given time.
    struct Script {
        dir: tempfile::TempDir,
    }

    impl Script {
        fn new() -> Script {
            let dir = tempfile::tempdir().expect("temp dir");
            git_ok(dir.path(), &["init", "-q"]);
            Script { dir }
        }

        fn run(&self, time: i64, args: &[&str]) -> String {
            let date = format!("@{time} +0000");
            let out = std::process::Command::new("git")
                .args(["-c", "user.name=T", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main"])
                .args(args)
                .current_dir(self.dir.path())
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .env("GIT_AUTHOR_DATE", &date)
                .env("GIT_COMMITTER_DATE", &date)
                .output()
                .expect("git runs");
            assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8_lossy(&out.stdout).trim().to_owned()
        }

        fn commit(&self, time: i64, message: &str) {
            self.run(time, &["commit", "-q", "--allow-empty", "-m", message]);
        }

        /// An annotated tag made at `time`, as release tags are.
        fn tag(&self, time: i64, name: &str) {
            self.run(time, &["tag", "-a", "-m", name, name]);
        }

        fn repo(&self) -> gix::Repository {
            gix::open(self.dir.path()).expect("open")
        }

        /// Each tag matching `pattern` (oldest made first) with the previous release the rule
        /// chooses, checked against `git rev-list --count` through the change set.
        fn releases(&self, pattern: &str) -> Vec<(String, Option<String>)> {
            let repo = self.repo();
            let index = TagIndex::new(&repo, pattern).expect("tags");
            let mut tags = index.tags.clone();
            tags.sort_by(|a, b| a.key().cmp(&b.key()));
            tags.iter()
                .map(|t| {
                    let found = index.previous_release(&repo, t.commit, 10_000);
                    if let Some(f) = &found {
                        let set = compute(&repo, &t.commit.to_string(), &previous(f.commit), 10_000).expect("a set");
                        let want = git_count(self.dir.path(), &format!("{}..{}", f.name, t.name));
                        assert_eq!(set.commits, want, "{}..{}", f.name, t.name);
                    }
                    (t.name.clone(), found.map(|f| f.name))
                })
                .collect()
        }
    }

    fn pairs(list: &[(&str, Option<&str>)]) -> Vec<(String, Option<String>)> {
        list.iter().map(|(a, b)| ((*a).to_owned(), b.map(ToOwned::to_owned))).collect()
    }

    #[test]
    fn releases_tagged_on_side_commits_follow_the_release_made_just_before() {
        // casey/just's shape: each release is a version-bump commit on a side branch off main,
        // tagged and never merged back; main goes on. v0.1 was tagged on main itself.
        let s = Script::new();
        let t = 1_700_000_000;
        s.commit(t, "m0");
        s.tag(t + 1, "v0.1");
        for (i, release) in ["v0.2", "v0.3", "v0.4"].iter().enumerate() {
            let base = t + 1_000 * (i as i64 + 1);
            for k in 0..3 {
                s.commit(base + k * 10, &format!("work {release} {k}"));
            }
            s.run(base + 50, &["checkout", "-q", "-b", &format!("release-{release}")]);
            s.commit(base + 60, &format!("Bump version to {release}"));
            s.tag(base + 70, release);
            s.run(base + 80, &["checkout", "-q", "main"]);
        }
        let got = s.releases("v*");
        assert_eq!(
            got,
            pairs(&[("v0.1", None), ("v0.2", Some("v0.1")), ("v0.3", Some("v0.2")), ("v0.4", Some("v0.3"))])
        );
        // git rev-list counts v0.3..v0.4 as main's three new commits and the bump: 4, where the
        // nearest ancestor tag (what `git describe` sees) would count every release since.
        assert_eq!(git_count(s.dir.path(), "v0.3..v0.4"), 4);
        assert_eq!(git_ok(s.dir.path(), &["describe", "--abbrev=0", "v0.4^"]), "v0.1");
        assert_eq!(git_count(s.dir.path(), "v0.1..v0.4"), 10);
    }

    #[test]
    fn a_release_whose_side_branch_needed_fixes_of_its_own_is_still_the_previous_release() {
        // casey/just 0.9.8: released from a side branch after four commits fixing the release
        // workflow, never merged; 0.9.7 before it was on main. 0.9.9's previous release is
        // 0.9.8 (12 commits since, as git counts); 0.9.7, an ancestor, would count 2 commits
        // 0.9.8 already shipped, though 0.9.9 "differs" from it by fewer commits both ways.
        let s = Script::new();
        let t = 1_700_000_000;
        s.commit(t, "m0");
        s.commit(t + 10, "m1");
        s.tag(t + 20, "v0.7");
        for k in 0..2 {
            s.commit(t + 100 + k * 10, &format!("work {k}"));
        }
        s.run(t + 150, &["checkout", "-q", "-b", "release-0.8"]);
        for k in 0..4 {
            s.commit(t + 160 + k * 10, &format!("Fix the release workflow {k}"));
        }
        s.tag(t + 210, "v0.8");
        s.run(t + 220, &["checkout", "-q", "main"]);
        for k in 0..4 {
            s.commit(t + 300 + k * 10, &format!("more work {k}"));
        }
        s.tag(t + 400, "v0.9");
        let got = s.releases("v*");
        assert_eq!(got, pairs(&[("v0.7", None), ("v0.8", Some("v0.7")), ("v0.9", Some("v0.8"))]));
        assert_eq!(git_count(s.dir.path(), "v0.8..v0.9"), 4);
        assert_eq!(git_count(s.dir.path(), "v0.9..v0.8"), 4);
        assert_eq!(git_count(s.dir.path(), "v0.7..v0.9"), 6, "2 of them shipped in v0.8");
    }

    #[test]
    fn releases_tagged_years_later_newest_first_keep_their_place_in_history() {
        // casey/just's v0.1.0 to v0.2.24 were tagged on one evening in 2021, newest first.
        let s = Script::new();
        let t = 1_500_000_000;
        let mut commits = Vec::new();
        for k in 0..6 {
            s.commit(t + k * 100, &format!("c{k}"));
            commits.push(s.run(t, &["rev-parse", "HEAD"]));
        }
        let late = 1_600_000_000;
        for (i, (name, at)) in [("v0.3", 5), ("v0.2", 3), ("v0.1", 1)].iter().enumerate() {
            s.run(late + i as i64, &["tag", "-a", "-m", name, name, &commits[*at]]);
        }
        let got = s.releases("v*");
        assert_eq!(got, pairs(&[("v0.1", None), ("v0.2", Some("v0.1")), ("v0.3", Some("v0.2"))]));
    }

    #[test]
    fn maintenance_lines_merged_up_follow_their_own_line_as_git_describe_does() {
        // git/git's shape: v1.0 and v1.1 on main, a maintenance branch per line; main takes the
        // maintenance fixes early (so a main release is close to v1.1.1 counted one way); a
        // security release is made on maint-1.0 (v1.0.1), merged up into maint-1.1 and tagged
        // v1.1.1 minutes later; v1.2-rc0 on main was tagged in between.
        let s = Script::new();
        let t = 1_700_000_000;
        s.commit(t, "m0");
        s.tag(t + 10, "v1.0");
        s.run(t + 20, &["branch", "maint-1.0"]);
        for k in 0..6 {
            s.commit(t + 100 + k * 10, &format!("feature {k}"));
        }
        s.tag(t + 200, "v1.1");
        s.run(t + 210, &["branch", "maint-1.1"]);
        s.run(t + 300, &["checkout", "-q", "maint-1.1"]);
        for k in 0..5 {
            s.commit(t + 310 + k * 10, &format!("maint fix {k}"));
        }
        s.run(t + 400, &["checkout", "-q", "main"]);
        s.run(t + 410, &["merge", "-q", "--no-ff", "-m", "Merge maint-1.1", "maint-1.1"]);
        for k in 0..8 {
            s.commit(t + 500 + k * 10, &format!("feature 1.2 {k}"));
        }
        s.tag(t + 600, "v1.2-rc0");
        s.run(t + 700, &["checkout", "-q", "maint-1.0"]);
        s.commit(t + 710, "security fix");
        s.tag(t + 720, "v1.0.1");
        s.run(t + 730, &["checkout", "-q", "maint-1.1"]);
        s.run(t + 740, &["merge", "-q", "--no-ff", "-m", "Sync with 1.0.1", "maint-1.0"]);
        s.commit(t + 750, "Git 1.1.1");
        s.tag(t + 760, "v1.1.1");
        let got = s.releases("v*");
        assert_eq!(
            got,
            pairs(&[
                ("v1.0", None),
                ("v1.1", Some("v1.0")),
                ("v1.2-rc0", Some("v1.1")),
                ("v1.0.1", Some("v1.0")),
                ("v1.1.1", Some("v1.1")),
            ])
        );
        // As git describe names each (its own tag left out).
        for (tag, previous) in &got[1..] {
            let described = git_ok(s.dir.path(), &["describe", "--abbrev=0", "--exclude", tag, tag]);
            assert_eq!(Some(described), previous.clone(), "{tag}");
        }
        // The traps: the same-day sibling v1.0.1 is an ancestor far behind, and v1.2-rc0 has all
        // but 4 of v1.1.1's commits; counted one way only it would be the nearest.
        assert!(git_count(s.dir.path(), "v1.0.1..v1.1.1") > git_count(s.dir.path(), "v1.1..v1.1.1"));
        assert!(git_count(s.dir.path(), "v1.2-rc0..v1.1.1") < git_count(s.dir.path(), "v1.1..v1.1.1"));
    }

    #[test]
    fn the_previous_tag_of_a_report_skips_the_deployed_commits_own_tags_and_later_ones() {
        let s = Script::new();
        let t = 1_700_000_000;
        s.commit(t, "one");
        s.tag(t + 1, "v1");
        s.commit(t + 100, "two");
        s.tag(t + 101, "v2");
        s.commit(t + 200, "three");
        let head = s.run(t, &["rev-parse", "HEAD"]);
        s.tag(t + 201, "v3");
        let repo = s.repo();
        let pattern = Sourced::new("v*".to_owned(), Source::Flag("--previous-tag".into()));
        let prev = previous_from_tag(&repo, &head, &pattern, 100).expect("a previous tag");
        assert_eq!(prev.value, s.run(t, &["rev-parse", "v2^{commit}"]));
        assert!(prev.source.to_string().contains("tag v2"), "{}", prev.source);
        // Redeploying v2 after v3 went out: v3 was made after v2, so v2's previous stays v1.
        let v2 = s.run(t, &["rev-parse", "v2^{commit}"]);
        let prev = previous_from_tag(&repo, &v2, &pattern, 100).expect("a previous tag");
        assert_eq!(prev.value, s.run(t, &["rev-parse", "v1^{commit}"]));
        // An untagged commit deployed after v3 (a rollback to "two" untagged would be v2's).
        let first = s.run(t, &["rev-parse", "v1^{commit}"]);
        let no = previous_from_tag(&repo, &first, &pattern, 100).expect_err("v1 is the first");
        assert!(!no.warn && no.reason.contains("first deploy"), "{}", no.reason);
    }
}
