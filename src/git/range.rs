//! The commits reachable from one commit and not from another (git's `hidden..tip`), read in one
//! pass: each commit's object is read and decoded once, newest committer time first.
//!
//! gix's own walk with a hidden tip first paints the hidden side and then walks, reading commits
//! twice, and needs an object cache to make the second read cheap; that cache is what made memory
//! grow with the range. This walk is git's `limit_list` instead: one priority queue ordered by
//! committer time, a flag per commit saying whether the hidden tip reaches it, and the rule that
//! the walk ends once only hidden commits are left in the queue and they are older than the last
//! commit counted (plus git's few extra steps of slop for clocks that go backwards). What a commit
//! shows is taken by the caller when the commit is read, so no object is kept; per commit the
//! walk holds its id, time, flags and parents. Where a shallow clone's cut may have made git's
//! answer wrong, the walk says so (`Range::cut_at`).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use gix::hashtable::{HashMap, HashSet};
use gix::objs::{CommitRef, FindExt};
use gix::ObjectId;

/// How many hidden commits the walk still takes once no shown commit is queued, as git does
/// (`SLOP` in revision.c): a commit whose clock ran backwards may still be reached from them.
const SLOP: u32 = 5;

/// The commits of `hidden..tip`, newest first, each with what `take` read from it.
#[derive(Debug)]
pub struct Range<T> {
    /// What `take` returned for each commit of the range, in walk order (newest committer time
    /// first), without the commits found later to be reachable from the hidden tip.
    pub commits: Vec<T>,
    /// The walk stopped at its limit: `commits` is the newest part of the range only. A range
    /// longer than the limit is always capped; a range of at most `limit` commits whose clocks
    /// run backwards across it may be capped too (a commit taken as shown when the limit was
    /// reached may turn out to be the hidden tip's). Then only `previous_sha` is sent: fields are
    /// left out, never a wrong count sent (git itself walks the whole range to know).
    pub capped: bool,
    /// Some commit of the range has the hidden tip as a parent: the hidden tip is an ancestor of
    /// `tip` (meaningful when not capped).
    pub hidden_is_parent: bool,
    /// A shallow clone's boundary commit (its parents are not in the clone) that makes the range
    /// uncertain: one in the range (what lies below it is unknown), or one the hidden side
    /// reached whose cut-off history may hold commits counted here (see [`walk`]).
    pub cut_at: Option<ObjectId>,
    /// How many commits the walk read: the range, the previous deploy's side down to where the
    /// histories meet, and a few more; not the whole history.
    pub read: usize,
}

/// Why the walk could not finish.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct WalkError(String);

impl WalkError {
    pub(crate) fn new(why: impl Into<String>) -> Self {
        WalkError(why.into())
    }
}

/// A commit met by the walk.
struct Node {
    /// Committer time.
    time: i64,
    /// A shallow clone's boundary commit: its parents were cut off.
    cut: bool,
    /// The hidden tip reaches this commit.
    hidden: bool,
    /// The commit was taken off the queue; until then it is in the queue, once.
    done: bool,
    /// Its parents, read with it (none for a shallow clone's boundary commit).
    parents: Box<[ObjectId]>,
}

/// Walks `hidden..tip` in `repo`, giving at most `limit` commits of the range. `take` is called
/// once for each commit read while the hidden tip is not known to reach it, with the decoded
/// commit; its value is kept for the result if the commit turns out to be in the range.
pub(crate) fn walk<T>(
    repo: &gix::Repository,
    tip: ObjectId,
    hidden: ObjectId,
    limit: u64,
    take: impl FnMut(ObjectId, &CommitRef<'_>) -> Result<T, WalkError>,
) -> Result<Range<T>, WalkError> {
    if tip == hidden {
        return Ok(Range { commits: Vec::new(), capped: false, hidden_is_parent: false, cut_at: None, read: 0 });
    }
    // A shallow clone's boundary commits have parents that are not here. git treats them as roots
    // and counts on; this walk does too, but says when that may have made the answer wrong.
    let shallow: HashSet<ObjectId> = repo
        .shallow_commits()
        .map_err(|e| WalkError(format!("reading the shallow file failed: {e}")))?
        .map(|commits| commits.iter().copied().collect())
        .unwrap_or_default();
    let mut walk = Walk {
        repo,
        shallow,
        take,
        nodes: Vec::new(),
        index: HashMap::default(),
        taken: Vec::new(),
        buf: Vec::new(),
        queue: BinaryHeap::new(),
        seq: 0,
        shown_queued: 0,
    };
    walk.discover(tip, false)?;
    walk.discover(hidden, true)?;
    let mut order = Vec::new();
    let mut capped = false;
    let mut slop = SLOP;
    // The committer time of the last shown commit taken off the queue (git's `date`).
    let mut last_shown = i64::MAX;
    while let Some((time, _, _, i)) = walk.queue.pop() {
        let is_hidden = walk.nodes[i].hidden;
        walk.nodes[i].done = true;
        if !is_hidden {
            walk.shown_queued -= 1;
            if order.len() as u64 >= limit {
                capped = true;
                break;
            }
            order.push(i);
            last_shown = time;
        }
        for k in 0..walk.nodes[i].parents.len() {
            let parent = walk.nodes[i].parents[k];
            match walk.index.get(&parent) {
                Some(&p) if is_hidden => walk.hide(p),
                Some(_) => {}
                None => walk.discover(parent, is_hidden)?,
            }
        }
        if is_hidden {
            // git's still_interesting(): go on while a shown commit is queued, or while the next
            // commit is not older than the last shown one; then SLOP more. And go on while the
            // next is not older than this one, a clock that went backwards on the hidden side,
            // which git does not check: walking more hidden commits can only hide commits that
            // the hidden tip does reach, so it never makes the answer less right.
            let next = walk.queue.peek().map(|(next, _, _, _)| *next);
            let skewed = next.is_some_and(|next| next >= last_shown || next >= time);
            if walk.shown_queued > 0 || skewed {
                slop = SLOP;
            } else {
                slop -= 1;
                if slop == 0 {
                    break;
                }
            }
        }
    }
    // A boundary the hidden side reached hides its cut-off history: any commit of the range that
    // is no newer than it may be an ancestor of that history (clocks run forwards), so the
    // hidden tip may reach it after all. git counts such commits anyway; this says so instead.
    let hidden_cut =
        walk.nodes.iter().enumerate().filter(|(_, n)| n.cut && n.hidden && n.done).max_by_key(|(_, n)| n.time);
    let mut commits = Vec::with_capacity(order.len());
    let mut hidden_is_parent = false;
    let mut cut_at = None;
    for i in order {
        let node = &walk.nodes[i];
        if node.hidden {
            continue;
        }
        hidden_is_parent |= node.parents.contains(&hidden);
        if cut_at.is_none() {
            if node.cut {
                cut_at = Some(i);
            } else if let Some((h, _)) = hidden_cut.filter(|(_, b)| node.time <= b.time) {
                cut_at = Some(h);
            }
        }
        if let Some(value) = walk.taken[i].take() {
            commits.push(value);
        }
    }
    let cut_at = cut_at.and_then(|c| walk.index.iter().find(|(_, i)| **i == c).map(|(id, _)| *id));
    Ok(Range { commits, capped, hidden_is_parent, cut_at, read: walk.nodes.len() })
}

/// The walk's state: the commits met so far, the queue, and what was taken from shown commits.
struct Walk<'r, T, F> {
    repo: &'r gix::Repository,
    shallow: HashSet<ObjectId>,
    take: F,
    nodes: Vec<Node>,
    index: HashMap<ObjectId, usize>,
    /// Per node, what `take` returned when it was read as shown.
    taken: Vec<Option<T>>,
    /// The read buffer, reused for every commit.
    buf: Vec<u8>,
    /// Newest committer time first; among equal times hidden commits first (so that hiding
    /// reaches a commit before it is counted), then the first met first.
    queue: BinaryHeap<(i64, bool, Reverse<u64>, usize)>,
    seq: u64,
    /// Queued commits the hidden tip is not known to reach: the walk ends soon after none is left.
    shown_queued: u64,
}

impl<T, F> Walk<'_, T, F>
where
    F: FnMut(ObjectId, &CommitRef<'_>) -> Result<T, WalkError>,
{
    /// Reads commit `id`, the only time it is read, and queues it.
    fn discover(&mut self, id: ObjectId, hidden: bool) -> Result<(), WalkError> {
        let commit = self
            .repo
            .objects
            .find_commit(&id, &mut self.buf)
            .map_err(|e| WalkError(format!("reading commit {id} failed: {e}")))?;
        let time = commit.time().map(|t| t.seconds).unwrap_or(0);
        let taken = if hidden { None } else { Some((self.take)(id, &commit)?) };
        let cut = self.shallow.contains(&id);
        let parents = if cut { Box::default() } else { commit.parents().collect() };
        let i = self.nodes.len();
        self.nodes.push(Node { time, cut, hidden, done: false, parents });
        self.index.insert(id, i);
        self.taken.push(taken);
        self.queue.push((time, hidden, Reverse(self.seq), i));
        self.seq += 1;
        self.shown_queued += u64::from(!hidden);
        Ok(())
    }

    /// Marks node `i` and every commit met below it as reached by the hidden tip: a shown commit
    /// met earlier (its clock ahead of the path that reaches it) leaves the range.
    fn hide(&mut self, i: usize) {
        let mut stack = vec![i];
        while let Some(i) = stack.pop() {
            let node = &mut self.nodes[i];
            if node.hidden {
                continue;
            }
            node.hidden = true;
            if node.done {
                stack.extend(node.parents.iter().filter_map(|p| self.index.get(p).copied()));
            } else {
                // Still queued: its parents are hidden when it is taken off the queue.
                self.shown_queued -= 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;

    use crate::git::fixture::{build, linear, shallow_clone, History};

    /// Every commit `from` reaches, itself included: the answer computed the slow, sure way.
    fn reach(history: &History, from: usize) -> BTreeSet<usize> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from];
        while let Some(c) = stack.pop() {
            if seen.insert(c) {
                stack.extend(&history[c].0);
            }
        }
        seen
    }

    fn range_of(repo: &gix::Repository, ids: &[ObjectId], tip: usize, hidden: usize, limit: u64) -> Range<usize> {
        walk(repo, ids[tip], ids[hidden], limit, |id, _| Ok(ids.iter().position(|x| *x == id).expect("a known commit")))
            .expect("the walk finishes")
    }

    /// Histories of up to 40 commits with merges, where each commit's clock is at or after its
    /// parents' (ties included), and a tip and a hidden commit among them.
    fn histories() -> impl Strategy<Value = (History, usize, usize)> {
        proptest::collection::vec((any::<u16>(), any::<u16>(), 0u8..4, 0i64..3), 2..40).prop_flat_map(|raw| {
            let mut history: History = Vec::new();
            for (i, (a, b, kind, step)) in raw.into_iter().enumerate() {
                let mut parents = Vec::new();
                if i > 0 {
                    parents.push(usize::from(a) % i);
                    if kind == 0 && i > 1 {
                        let second = usize::from(b) % i;
                        if second != parents[0] {
                            parents.push(second);
                        }
                    }
                }
                let after = parents.iter().map(|p| history[*p].1).max().unwrap_or(1_700_000_000);
                history.push((parents, after + step));
            }
            let n = history.len();
            (Just(history), 0..n, 0..n)
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        #[test]
        fn the_walk_gives_exactly_the_commits_the_tip_reaches_and_the_hidden_one_does_not(
            (history, tip, hidden) in histories()
        ) {
            let (_dir, repo, ids) = build(&history);
            let range = range_of(&repo, &ids, tip, hidden, u64::MAX);
            let want: BTreeSet<usize> = reach(&history, tip).difference(&reach(&history, hidden)).copied().collect();
            let got: BTreeSet<usize> = range.commits.iter().copied().collect();
            prop_assert_eq!(got.len(), range.commits.len(), "each commit once");
            prop_assert_eq!(&got, &want);
            prop_assert!(!range.capped);
            let ancestor = tip != hidden && reach(&history, tip).contains(&hidden);
            prop_assert_eq!(range.hidden_is_parent, ancestor);
            // Newest committer time first.
            let times: Vec<i64> = range.commits.iter().map(|c| history[*c].1).collect();
            prop_assert!(times.windows(2).all(|w| w[0] >= w[1]), "{:?}", times);
        }

        #[test]
        fn a_limit_gives_the_newest_commits_of_the_range_and_says_it_stopped(
            (history, tip, hidden) in histories(), limit in 0u64..5
        ) {
            let (_dir, repo, ids) = build(&history);
            let whole = range_of(&repo, &ids, tip, hidden, u64::MAX);
            let part = range_of(&repo, &ids, tip, hidden, limit);
            // A longer range always says it stopped; an uncapped walk is the whole answer. (With
            // clocks running backwards a short range may still be capped: see `Range::capped`;
            // the saved case e21e9f9c in proptest-regressions is one.)
            if whole.commits.len() as u64 > limit {
                prop_assert!(part.capped);
            }
            if part.capped {
                prop_assert!(part.commits.len() as u64 <= limit);
            } else {
                prop_assert_eq!(&part.commits, &whole.commits);
            }
        }
    }

    #[test]
    fn a_commit_whose_clock_ran_behind_its_parent_is_still_counted_once_and_only_in_range() {
        // 0 <- 1 <- 2 <- 3 <- 4 (tip), hidden = 1; commit 2 was made on a machine whose clock was
        // a day behind, so the queue meets 3, then 1 (hidden), then 2 and 0.
        let day = 86_400;
        let history: History = vec![
            (vec![], 1_700_000_000),
            (vec![0], 1_700_000_100),
            (vec![1], 1_700_000_100 - day),
            (vec![2], 1_700_000_300),
            (vec![3], 1_700_000_400),
        ];
        let (_dir, repo, ids) = build(&history);
        let range = range_of(&repo, &ids, 4, 1, u64::MAX);
        assert_eq!(range.commits, vec![4, 3, 2]);
        assert!(range.hidden_is_parent);
        // The other way round: commit 1's clock ran ten days ahead, so the queue takes it as
        // shown (from tip 4) before the hidden side (3, 2) reaches it; it and its parent leave.
        let history: History = vec![
            (vec![], 1_700_000_000),
            (vec![0], 1_700_000_000 + 10 * day),
            (vec![1], 1_700_000_100),
            (vec![2], 1_700_000_200),
            (vec![1], 1_700_000_300),
        ];
        let (_dir, repo, ids) = build(&history);
        let range = range_of(&repo, &ids, 4, 3, u64::MAX);
        assert_eq!(range.commits, vec![4]);
        assert!(!range.hidden_is_parent, "3 is not an ancestor of 4");
        // And when the shown side has ended (1 is a root) before the hidden side reaches it, the
        // walk goes on a few hidden commits (git's slop) rather than stopping at the first.
        let history: History = vec![
            (vec![], 1_700_000_000 + 10 * day),
            (vec![0], 1_700_000_100),
            (vec![1], 1_700_000_200),
            (vec![2], 1_700_000_300),
            (vec![0], 1_700_000_400),
        ];
        let (_dir, repo, ids) = build(&history);
        let range = range_of(&repo, &ids, 4, 3, u64::MAX);
        assert_eq!(range.commits, vec![4]);
    }

    #[test]
    fn the_walk_stops_a_few_commits_past_where_the_histories_meet_not_at_the_root() {
        // 1,000 commits a minute apart; the last 3 are the range. Memory and time follow the
        // range: the walk reads the range, the previous deploy, and SLOP commits below it.
        let history: History = linear(1000, 1_700_000_000, 60);
        let (_dir, repo, ids) = build(&history);
        let range = range_of(&repo, &ids, 999, 996, u64::MAX);
        assert_eq!(range.commits, vec![999, 998, 997]);
        assert!(range.read <= 3 + 1 + SLOP as usize + 1, "read {} commits", range.read);
    }

    #[test]
    fn the_hidden_side_is_walked_while_it_is_newer_than_the_last_shown_commit_as_git_does() {
        // X (root) <- h7 <- ... <- h1 <- g (clock behind) <- H = hidden; tip T merges H and X.
        // After g the hidden side is newer than everything shown (T only, then X queued as
        // shown): git goes on down to X and hides it; stopping 5 steps after g would count X.
        let history: History = vec![
            (vec![], 1000),
            (vec![0], 1940),
            (vec![1], 1950),
            (vec![2], 1960),
            (vec![3], 1970),
            (vec![4], 1980),
            (vec![5], 1990),
            (vec![6], 2000),
            (vec![7], 950),
            (vec![8], 2500),
            (vec![9, 0], 3000),
        ];
        let (_dir, repo, ids) = build(&history);
        let range = range_of(&repo, &ids, 10, 9, u64::MAX);
        assert_eq!(range.commits, vec![10]);
        assert!(range.hidden_is_parent);
    }

    #[test]
    fn a_rollback_behind_a_long_hidden_side_with_a_slow_clock_is_found() {
        // X <- T (tip) <- h8 <- ... <- h1 <- H (hidden, its clock far behind its parent): the
        // tip is an ancestor of H, so the range is empty (a rollback), as git says.
        let mut history: History = vec![(vec![], 95), (vec![0], 100)];
        for k in 0..8 {
            history.push((vec![history.len() - 1], 930 + k * 10));
        }
        history.push((vec![history.len() - 1], 50));
        let (_dir, repo, ids) = build(&history);
        let hidden = history.len() - 1;
        let range = range_of(&repo, &ids, 1, hidden, u64::MAX);
        assert!(range.commits.is_empty(), "{:?}", range.commits);
    }

    #[test]
    fn a_shallow_clone_whose_cut_the_range_reaches_is_said_to_be_uncertain() {
        // main m0..m39, one a day; a feature forked at m4 (f0..f2, recent) merged at the end; the
        // previous deploy is m39. With 10 commits of depth the clone holds m39 but not where the
        // histories meet: the old m4..m0 look shipped. git rev-list counts them; the walk says
        // where the clone is cut instead.
        let day = 86_400;
        let mut history: History = linear(40, 0, day);
        history.push((vec![4], 37 * day));
        history.push((vec![40], 38 * day));
        history.push((vec![41], 39 * day));
        history.push((vec![39, 42], 41 * day));
        let (dir, full, ids) = build(&history);
        let deployed = history.len() - 1;
        let whole = range_of(&full, &ids, deployed, 39, u64::MAX);
        assert_eq!(whole.commits.len(), 4, "the merge and f0..f2");
        assert!(whole.cut_at.is_none());
        let (_clone, shallow) = shallow_clone(dir.path(), 10);
        let range = range_of(&shallow, &ids, deployed, 39, u64::MAX);
        assert!(range.cut_at.is_some(), "counted {} commits and did not say the clone is cut", range.commits.len());
    }

    #[test]
    fn a_shallow_clone_that_holds_the_whole_range_gives_it_without_doubt() {
        // fetch-depth: 2 on a push: HEAD and the previous deploy HEAD~1, which is the cut.
        let history: History = linear(20, 1000, 1);
        let (dir, _full, ids) = build(&history);
        let (_clone, shallow) = shallow_clone(dir.path(), 2);
        let range = range_of(&shallow, &ids, 19, 18, u64::MAX);
        assert_eq!(range.commits, vec![19]);
        assert!(range.cut_at.is_none());
        assert!(range.hidden_is_parent);
        // A range of 5 in a clone of depth 8 also stands.
        let (_clone, shallow) = shallow_clone(dir.path(), 8);
        let range = range_of(&shallow, &ids, 19, 14, u64::MAX);
        assert_eq!(range.commits, vec![19, 18, 17, 16, 15]);
        assert!(range.cut_at.is_none());
    }
}
