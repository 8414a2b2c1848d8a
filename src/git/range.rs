//! The commits reachable from one commit and not from another (git's `hidden..tip`), read in one
//! pass: each commit's object is read and decoded once, newest committer time first.
//!
//! gix's own walk with a hidden tip first paints the hidden side and then walks, reading commits
//! twice, and needs an object cache to make the second read cheap; that cache is what made memory
//! grow with the range. This walk is git's `limit_list` instead: one priority queue ordered by
//! committer time, a flag per commit saying whether the hidden tip reaches it, and the rule that
//! the walk ends once only hidden commits are left in the queue (plus git's few extra steps of
//! slop for clocks that go backwards). What a commit shows is taken by the caller when the commit
//! is read, so no object is kept; per commit the walk holds its id, time, flags and parents.

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
    /// The walk stopped at its limit: `commits` is the newest part of the range only.
    pub capped: bool,
    /// Some commit of the range has the hidden tip as a parent: the hidden tip is an ancestor of
    /// `tip` (meaningful when not capped).
    pub hidden_is_parent: bool,
}

/// Why the walk could not finish.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct WalkError(String);

impl WalkError {
    pub fn new(why: impl Into<String>) -> Self {
        WalkError(why.into())
    }
}

/// A commit met by the walk.
struct Node {
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
pub fn walk<T>(
    repo: &gix::Repository,
    tip: ObjectId,
    hidden: ObjectId,
    limit: u64,
    take: impl FnMut(ObjectId, &CommitRef<'_>) -> Result<T, WalkError>,
) -> Result<Range<T>, WalkError> {
    if tip == hidden {
        return Ok(Range { commits: Vec::new(), capped: false, hidden_is_parent: false });
    }
    // A shallow clone's boundary commits have parents that are not here: git treats them as
    // roots, and so does this walk, rather than failing on the missing objects.
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
            // commit is not older than this one (a clock that went backwards); then a few more.
            let skewed = walk.queue.peek().is_some_and(|(next, _, _, _)| *next >= time);
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
    let mut commits = Vec::with_capacity(order.len());
    let mut hidden_is_parent = false;
    for i in order {
        if walk.nodes[i].hidden {
            continue;
        }
        hidden_is_parent |= walk.nodes[i].parents.contains(&hidden);
        if let Some(value) = walk.taken[i].take() {
            commits.push(value);
        }
    }
    Ok(Range { commits, capped, hidden_is_parent })
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
        let parents = if self.shallow.contains(&id) { Box::default() } else { commit.parents().collect() };
        let i = self.nodes.len();
        self.nodes.push(Node { hidden, done: false, parents });
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
    use std::io::Write;
    use std::process::{Command, Stdio};

    use proptest::prelude::*;

    use super::*;

    /// A history: per commit, its parents (earlier commits) and its committer time.
    type History = Vec<(Vec<usize>, i64)>;

    /// Builds `history` with `git fast-import` in a new repository; returns it and the commit ids.
    fn build(history: &History) -> (tempfile::TempDir, gix::Repository, Vec<ObjectId>) {
        let dir = tempfile::tempdir().expect("temp dir");
        let git = |args: &[&str]| {
            Command::new("git")
                .args(["-c", "init.defaultBranch=main"])
                .args(args)
                .current_dir(dir.path())
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("git runs")
        };
        assert!(git(&["init", "-q"]).wait().expect("git init").success());
        let mut stream = String::new();
        for (i, (parents, time)) in history.iter().enumerate() {
            let mark = i + 1;
            stream += &format!("commit refs/heads/c{i}\nmark :{mark}\n");
            stream += &format!("author A{} <a{}@example.com> {time} +0000\n", i % 3, i % 3);
            stream += &format!("committer C <c@example.com> {time} +0000\ndata 4\nc{:<2}\n", i % 100);
            for (k, p) in parents.iter().enumerate() {
                stream += &format!("{} :{}\n", if k == 0 { "from" } else { "merge" }, p + 1);
            }
        }
        let marks = dir.path().join("marks");
        let mut child = git(&["fast-import", "--quiet", &format!("--export-marks={}", marks.display())]);
        child.stdin.take().expect("stdin").write_all(stream.as_bytes()).expect("fast-import input");
        assert!(child.wait().expect("fast-import").success());
        let mut ids = vec![ObjectId::null(gix::hash::Kind::Sha1); history.len()];
        for line in std::fs::read_to_string(&marks).expect("marks").lines() {
            let (mark, id) = line.split_once(' ').expect("mark line");
            let mark: usize = mark.trim_start_matches(':').parse().expect("mark");
            ids[mark - 1] = ObjectId::from_hex(id.as_bytes()).expect("id");
        }
        let repo = gix::open(dir.path()).expect("open");
        (dir, repo, ids)
    }

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
            let full = whole.commits.len() as u64 <= limit;
            prop_assert_eq!(part.capped, !full);
            if full {
                prop_assert_eq!(&part.commits, &whole.commits);
            } else {
                prop_assert_eq!(part.commits.len() as u64, limit);
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
}
