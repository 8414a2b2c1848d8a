//! Test repositories made with `git fast-import`: a history given as parents and times becomes a
//! real repository in a temporary directory, fast enough for property tests.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use gix::ObjectId;

/// A history: per commit, its parents (earlier commits) and its committer time.
pub(crate) type History = Vec<(Vec<usize>, i64)>;

/// A linear history of `n` commits, the first at `start`, each `step` seconds after its parent.
pub(crate) fn linear(n: usize, start: i64, step: i64) -> History {
    (0..n).map(|i| (if i == 0 { vec![] } else { vec![i - 1] }, start + i as i64 * step)).collect()
}

/// What a commit says beyond its place in the history: author time and message.
pub(crate) struct Details {
    pub author_time: i64,
    pub message: String,
}

/// Runs git in `dir` with no user or system configuration.
pub(crate) fn git(dir: &Path, args: &[&str]) -> std::process::Child {
    Command::new("git")
        .args(["-c", "init.defaultBranch=main", "-c", "user.name=T", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("git runs")
}

/// Runs git in `dir` and returns its output, failing the test if git fails.
pub(crate) fn git_ok(dir: &Path, args: &[&str]) -> String {
    let out = git(dir, args).wait_with_output().expect("git finishes");
    assert!(out.status.success(), "git {args:?} failed");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Builds `history` with `git fast-import` in a new repository; returns it and the commit ids.
pub(crate) fn build(history: &History) -> (tempfile::TempDir, gix::Repository, Vec<ObjectId>) {
    build_with(history, |i, (_, time)| Details { author_time: *time, message: format!("c{i}") })
}

/// As [`build`], with each commit's author time and message from `details`. Commit `i` is on
/// branch `c<i>`; the last commit is also `main`.
pub(crate) fn build_with(
    history: &History,
    details: impl Fn(usize, &(Vec<usize>, i64)) -> Details,
) -> (tempfile::TempDir, gix::Repository, Vec<ObjectId>) {
    let dir = tempfile::tempdir().expect("temp dir");
    assert!(git(dir.path(), &["init", "-q"]).wait().expect("git init").success());
    let mut stream = String::new();
    for (i, commit) in history.iter().enumerate() {
        let (parents, time) = commit;
        let d = details(i, commit);
        let mark = i + 1;
        stream += &format!("commit refs/heads/c{i}\nmark :{mark}\n");
        stream += &format!("author A{} <a{}@example.com> {} +0000\n", i % 3, i % 3, d.author_time);
        stream += &format!("committer C <c@example.com> {time} +0000\ndata {}\n{}\n", d.message.len(), d.message);
        for (k, p) in parents.iter().enumerate() {
            stream += &format!("{} :{}\n", if k == 0 { "from" } else { "merge" }, p + 1);
        }
    }
    if !history.is_empty() {
        stream += &format!("reset refs/heads/main\nfrom :{}\n", history.len());
    }
    let marks = dir.path().join("marks");
    let mut child = git(dir.path(), &["fast-import", "--quiet", &format!("--export-marks={}", marks.display())]);
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

/// A clone of `dir` with `depth` commits of history from its main branch (`git clone --depth`,
/// as `actions/checkout` makes one).
pub(crate) fn shallow_clone(dir: &Path, depth: u32) -> (tempfile::TempDir, gix::Repository) {
    let clone = tempfile::tempdir().expect("temp dir");
    let url = format!("file://{}", dir.display());
    let depth = depth.to_string();
    git_ok(clone.path(), &["clone", "-q", "--no-local", "--depth", &depth, &url, "c"]);
    let repo = gix::open(clone.path().join("c")).expect("open the clone");
    (clone, repo)
}
