//! Squash merges in a change set: a pull request merged by squash lands as one new commit dated
//! at the merge, so its lead time would be minutes however long the change took. Where the
//! pull request's own commits can be read, their author times stand in for the squash commit's
//! time; where they cannot, the merge commit's time stays and the summary says so.
//!
//! The commits are read from the refs forges keep for every pull request (`refs/pull/N/head` on
//! GitHub, `refs/merge-requests/N/head` on GitLab, fetched or mirrored) when the clone has them;
//! `cmd::report` asks GitHub's API for the others when it can.

use gix::bstr::ByteSlice;
use gix::ObjectId;

use crate::git::range::{self, WalkError};
use crate::job::change_set::{pull_requests, ChangeSet};
use crate::job::epoch::MILLIS_THRESHOLD;

/// A commit of the range that names a pull request: a squash commit (`Title (#12)`), a merge
/// commit (`Merge pull request #12`, GitLab's `See merge request g/a!12`), or a rebased one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    pub number: u64,
    pub commit: ObjectId,
    /// The commit's author time.
    pub author_time: i64,
    /// Whether the commit has one parent (a squash, or a rebase), not a merge.
    pub single_parent: bool,
    /// GitLab's squash-and-merge: the merge commit's second parent is the squash commit, made on
    /// the first parent; its id and author time, which are the merge's time too.
    pub squash_commit: Option<(ObjectId, i64)>,
}

/// What the pull request's own commits say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Own {
    /// The pull request's commits that the merge did not bring in as they were (a squash): their
    /// author times, and where they were read.
    Squashed { times: Vec<i64>, via: String },
    /// Its commits are in the history as they were (a merge or a fast-forward): nothing to do.
    Merged,
    /// The clone has no ref of it.
    Unknown,
}

/// The commits of `previous..deployed` that name one of `wanted` (the change set's pull
/// requests, at most 20), newest first, one entry per number (the newest commit to name it). The
/// walk stops once every wanted number is found, so a long range costs only its newest part.
pub(crate) fn named(
    repo: &gix::Repository,
    deployed: ObjectId,
    previous: ObjectId,
    wanted: &[u64],
    limit: u64,
) -> Result<Vec<Named>, WalkError> {
    const ENOUGH: &str = "every wanted pull request was found";
    let mut found = Vec::new();
    let mut seen: Vec<u64> = Vec::new();
    let walked = range::walk(repo, deployed, previous, limit, |id, commit| {
        let message = commit.message.to_str_lossy();
        let numbers: Vec<u64> = pull_requests(&message).into_iter().filter(|n| wanted.contains(n)).collect();
        if numbers.is_empty() {
            return Ok(());
        }
        let author = commit.author().map_err(|e| WalkError::new(format!("reading commit {id}: {e}")))?;
        let parents: Vec<ObjectId> = commit.parents().collect();
        seen.extend(numbers.iter().copied());
        found.push((id, numbers, author.seconds(), parents, message.contains("See merge request ")));
        if wanted.iter().all(|w| seen.contains(w)) {
            return Err(WalkError::new(ENOUGH));
        }
        Ok(())
    });
    match walked {
        Ok(_) => {}
        Err(e) if e.to_string() == ENOUGH => {}
        Err(e) => return Err(e),
    }
    // Stopping early keeps commits read before the walk could see the previous deploy reach them;
    // only a number both sides name (a pull request re-landed) could be taken from such a commit.
    let mut out: Vec<Named> = Vec::new();
    for (commit, numbers, author_time, parents, gitlab) in found {
        let squash_commit = match parents.as_slice() {
            // GitLab writes its squash commit on the target and merges it; a GitHub merge of a
            // one-commit branch has the same shape, and its commit is no squash.
            [first, second] if gitlab => repo.find_commit(*second).ok().and_then(|c| {
                let ps: Vec<ObjectId> = c.parent_ids().map(|p| p.detach()).collect();
                let t = c.author().ok().map(|a| a.seconds())?;
                (ps == [*first]).then_some((*second, t))
            }),
            _ => None,
        };
        for number in numbers {
            if !out.iter().any(|n| n.number == number) {
                out.push(Named { number, commit, author_time, single_parent: parents.len() == 1, squash_commit });
            }
        }
    }
    Ok(out)
}

/// The refs a forge keeps for pull request `number`, as fetched or mirrored.
fn refs(number: u64) -> [String; 4] {
    [
        format!("refs/pull/{number}/head"),
        format!("refs/merge-requests/{number}/head"),
        format!("refs/remotes/origin/pull/{number}/head"),
        format!("refs/remotes/origin/merge-requests/{number}/head"),
    ]
}

/// Whether the clone holds any pull request ref at all: without one (and without an API to ask)
/// the range is not walked a second time for nothing.
pub fn has_pull_refs(repo: &gix::Repository) -> bool {
    let Ok(refs) = repo.references() else { return false };
    ["refs/pull/", "refs/merge-requests/", "refs/remotes/origin/pull/", "refs/remotes/origin/merge-requests/"]
        .into_iter()
        .any(|prefix| refs.prefixed(prefix).is_ok_and(|mut it| it.next().is_some()))
}

/// The pull request's own commits from its ref: those its head reaches and the commit that
/// names it does not. None reached is a merge (the commits are in the range as they were).
pub(crate) fn from_refs(repo: &gix::Repository, named: &Named, limit: u64) -> Result<Own, WalkError> {
    let Some((name, head)) = refs(named.number).into_iter().find_map(|name| {
        let mut r = repo.find_reference(name.as_str()).ok()?;
        let id = r.peel_to_id().ok()?.detach();
        Some((name, id))
    }) else {
        return Ok(Own::Unknown);
    };
    let own = range::walk(repo, head, named.commit, limit, |_, commit| {
        commit.author().map(|a| a.seconds()).map_err(|e| WalkError::new(format!("reading a commit of {name}: {e}")))
    })?;
    if own.cut_at.is_some() {
        return Ok(Own::Unknown);
    }
    if own.commits.is_empty() {
        return Ok(Own::Merged);
    }
    let count = own.commits.len();
    Ok(Own::Squashed {
        times: own.commits,
        via: format!("its {count} commit{} ({name})", if count == 1 { "" } else { "s" }),
    })
}

/// Puts the pull request's own commits' author times in place of the squash (and GitLab's merge)
/// commit's: the count of commits stays git's, the lead times become the change's.
pub fn apply(set: &mut ChangeSet, named: &Named, times: &[i64]) {
    let mut drop = |t: i64| {
        if let Some(i) = set.author_times.iter().position(|x| *x == t) {
            set.author_times.remove(i);
        }
    };
    drop(named.author_time);
    if let Some((_, t)) = named.squash_commit {
        drop(t);
    }
    set.author_times.extend(times.iter().copied().filter(|t| (1..MILLIS_THRESHOLD).contains(t)));
    set.author_times.sort_unstable();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::source::{Source, Sourced};

    #[test]
    fn the_squash_commits_time_gives_way_to_the_pull_requests_commits() {
        let mut set = ChangeSet {
            previous: Sourced::new("a".repeat(40), Source::Default("test".into())),
            commits: 2,
            capped: false,
            author_times: vec![100, 500],
            authors: 1,
            pull_requests: vec![7],
            is_rollback: false,
            reverts: 0,
            diverged: false,
            undated: 0,
        };
        let named = Named {
            number: 7,
            commit: ObjectId::null(gix::hash::Kind::Sha1),
            author_time: 500,
            single_parent: true,
            squash_commit: None,
        };
        apply(&mut set, &named, &[10, 0, 20]);
        assert_eq!(set.author_times, [10, 20, 100], "500 replaced; an undated commit left out");
        assert_eq!(set.commits, 2, "the count stays git's");
    }
}
