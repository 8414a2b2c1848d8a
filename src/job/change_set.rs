//! What a deploy ships: the commits reachable from the deployed commit and not from the previous
//! deploy (`previous..deployed`), read from git at the moment of the deploy, and the optional
//! fields that describe them (commit count, lead time, authors, pull requests, rollback).
//!
//! It never guesses a range: without a previous deploy that this clone holds and that is an
//! ancestor of the deployed commit (or, for a rollback, a descendant), no fields are sent and the
//! reason is said. It never fails a report either: every trouble here is a reason, not an error.

use std::collections::{BTreeSet, HashMap};
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
pub(crate) const DEFAULT_LIMIT: u64 = 10_000;

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
    /// The deployed commit is an ancestor of the previous deploy: this deploy goes back in time.
    pub is_rollback: bool,
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
    // Per commit of the range: its author time, its author (an index into `emails`) and the pull
    // requests its message names. Emails are interned so that memory per commit stays small.
    // Emails are compared as bytes (two different non-UTF-8 addresses stay two), ASCII letters
    // folded to lowercase as mail domains are.
    let mut emails: HashMap<Vec<u8>, u32> = HashMap::new();
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
        Ok((author.seconds(), who, pull_requests(&commit.message.to_str_lossy())))
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
        undated: 0,
    };
    let previous_is_parent = range.hidden_is_parent;
    let mut authors = BTreeSet::new();
    for (seconds, who, numbers) in range.commits {
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
    }
    set.authors = authors.len();
    set.author_times.sort_unstable();
    if set.commits == 0 {
        // Everything the deployed commit reaches, the previous one reaches too.
        set.is_rollback = deployed_id != previous_id;
    } else if !previous_is_parent && !set.capped {
        // A previous deploy that is an ancestor is a parent of some commit of the set; here it is
        // not, so the histories diverged (a force-push): the range would not be what shipped.
        return Err(NoChangeSet::loud(format!(
            "the previous commit {prev} ({}) is not an ancestor of {deployed} (a force-push or another branch); pass --previous-sha with the last deployed commit",
            previous.source
        )));
    }
    Ok(set)
}

/// The nearest commit on `deployed`'s history, not `deployed` itself, that a tag matching
/// `pattern` (git's wildmatch, as `git tag -l`) points at, within `limit` commits.
pub(crate) fn previous_from_tag(
    repo: &gix::Repository,
    deployed: &str,
    pattern: &Sourced<String>,
    limit: u64,
) -> Result<Sourced<String>, NoChangeSet> {
    let index = TagIndex::new(repo, &pattern.value)?;
    match index.nearest_below(repo, deployed, None, limit)? {
        Some((id, name)) => {
            let how = format!("tag {name}, the nearest matching {} ({})", pattern.value, pattern.source);
            Ok(Sourced::new(id.to_hex().to_string(), Source::Git(how)))
        }
        // In a shallow clone the tag may be below the cut, or not fetched at all: say how to get
        // it rather than call the deploy a first one.
        None if repo.is_shallow().unwrap_or(false) => Err(NoChangeSet::loud(format!(
            "no tag matching {:?} ({}) is on the history of {deployed} in this shallow clone; fetch the whole history and the tags (actions/checkout: fetch-depth: 0, fetch-tags: true)",
            pattern.value, pattern.source
        ))),
        None => Err(NoChangeSet::quiet(format!(
            "no tag matching {:?} ({}) is on the history of {deployed} below it: a first deploy",
            pattern.value, pattern.source
        ))),
    }
}

/// The commits that tags matching a pattern point at: a deploy's previous deploy is the nearest
/// of them on its history. Tags of trees and blobs name no deploy and are left out.
pub(crate) struct TagIndex {
    /// Per tagged commit, its tags: name and time (the tagger's, else the commit's).
    tagged: HashMap<ObjectId, Vec<(String, i64)>>,
}

impl TagIndex {
    pub(crate) fn new(repo: &gix::Repository, pattern: &str) -> Result<TagIndex, NoChangeSet> {
        let mut tagged = HashMap::new();
        let refs = repo.references().map_err(|e| NoChangeSet::loud(format!("listing tags failed: {e}")))?;
        let tags = refs.tags().map_err(|e| NoChangeSet::loud(format!("listing tags failed: {e}")))?;
        for mut reference in tags.flatten() {
            let name = reference.name().shorten().to_string();
            if !crate::git::tag_matches(pattern, &name) {
                continue;
            }
            let target = reference.target().try_id().map(ToOwned::to_owned);
            let Ok(id) = reference.peel_to_id() else { continue };
            let id = id.detach();
            let Ok(commit) = repo.find_commit(id) else { continue };
            let committed = commit.time().map(|t| t.seconds).unwrap_or(0);
            let tagged_at = target
                .filter(|t| *t != id)
                .and_then(|t| repo.find_tag(t).ok())
                .and_then(|tag| tag.tagger().ok().flatten().and_then(|sig| sig.time().ok().map(|t| t.seconds)))
                .unwrap_or(committed);
            tagged.entry(id).or_insert_with(Vec::new).push((name, tagged_at));
        }
        Ok(TagIndex { tagged })
    }

    /// The nearest tagged commit on `deployed`'s history below it (newest commit time first),
    /// within `limit` commits, and its tag's name; with `before`, only tags made before that time
    /// count (a tag made later on an older commit was no earlier deploy).
    pub(crate) fn nearest_below(
        &self,
        repo: &gix::Repository,
        deployed: &str,
        before: Option<i64>,
        limit: u64,
    ) -> Result<Option<(ObjectId, String)>, NoChangeSet> {
        let deployed_id = ObjectId::from_hex(deployed.as_bytes())
            .map_err(|_| NoChangeSet::loud(format!("the deployed commit {deployed:?} is not a full commit id")))?;
        if self.tagged.is_empty() {
            return Ok(None);
        }
        let walk = repo
            .rev_walk([deployed_id])
            .sorting(gix::revision::walk::Sorting::ByCommitTime(Default::default()))
            .all()
            .map_err(|e| NoChangeSet::loud(format!("walking the history failed: {e}")))?;
        for info in walk.take(usize::try_from(limit).unwrap_or(usize::MAX).saturating_add(1)) {
            let Ok(info) = info else { break };
            if info.id == deployed_id {
                continue;
            }
            let earlier = self.tagged.get(&info.id).and_then(|tags| {
                tags.iter().find(|(_, at)| before.is_none_or(|b| *at < b)).map(|(name, _)| name.clone())
            });
            if let Some(name) = earlier {
                return Ok(Some((info.id, name)));
            }
        }
        Ok(None)
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
            if let Some(first) = self.author_times.first() {
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
        out
    }

    /// The median over the commits of (end minus the commit's author time), never negative.
    fn median_lead_time(&self, end: i64) -> i64 {
        let mut leads: Vec<i64> = self.author_times.iter().map(|t| end.saturating_sub(*t).max(0)).collect();
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
        let rollback = if self.is_rollback { "a rollback" } else { "not a rollback" };
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
        match self.author_times.first() {
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
}
