//! The local git repository, read-only: HEAD's commit and the remote that names the repository.
//!
//! This module only reads. It never fetches, never runs hooks, credential helpers, fsmonitor or
//! any other program named in a config file, and never writes to the repository.
//!
//! Layer: platform (see tests/integration/layers.rs). May import: fs.

#[cfg(test)]
pub(crate) mod fixture;
pub mod range;
pub mod remote;

use std::path::Path;

/// What the repository tells about the job.
#[derive(Debug, Clone)]
pub struct Facts {
    /// The work tree (or the git dir of a bare repository), for messages.
    pub dir: String,
    /// HEAD's commit as lowercase hex (40 or 64 characters), or why there is none.
    pub head: Result<String, HeadError>,
    /// The branch HEAD points at, when it is not detached.
    pub branch: Option<String>,
    /// `origin`, else the only remote: its name and URL as written in the config.
    pub remote: Option<(String, String)>,
}

/// Why HEAD has no commit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    #[error("HEAD of {dir} is unborn: branch {branch} has no commits yet")]
    Unborn { dir: String, branch: String },
    #[error("HEAD of {dir} cannot be read: {why}")]
    Unreadable { dir: String, why: String },
}

/// Why the repository could not be read at all.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum GitError {
    #[error("no git repository found at or above {0}")]
    NotFound(String),
    #[error("the git repository at or above {dir} cannot be opened: {why}")]
    Open { dir: String, why: String },
}

/// Open options for reading only.
///
/// The repository's own config is read even when another user owns the repository, which is the
/// normal case for a Docker action's mounted workspace (git calls it "dubious ownership"). git
/// refuses such repositories because their config can name programs to run (`core.fsmonitor`,
/// `core.sshCommand`, credential helpers, hooks). We run none of them: we only read HEAD and the
/// remote URL strings, so trusting the config sections for reading cannot execute anything.
/// Global and system config and `GIT_*` variables are ignored (`isolated`), so that the result
/// depends on the repository alone and opening it stays fast.
fn open_options() -> gix::open::Options {
    let mut opts = gix::open::Options::isolated().filter_config_section(|_meta| true);
    // `isolated` also turns off `[include]`; a remote may be defined in an included file.
    opts.permissions.config.includes = true;
    opts
}

/// Whether the tag `name` (without `refs/tags/`) matches `pattern` as `git tag -l PATTERN` does:
/// git's wildmatch without `WM_PATHNAME`, so `*` also matches `/`, and `[0-9]`, `[!a]`, `?` and
/// `\` escapes work as in git.
pub(crate) fn tag_matches(pattern: &str, name: &str) -> bool {
    gix::glob::wildmatch(pattern.into(), name.into(), gix::glob::wildmatch::Mode::empty())
}

/// The most a git file customcd's reads reach through may hold: `.git` (a `gitdir:` line),
/// `HEAD`, `commondir`, a loose ref; `config` and its includes; `packed-refs` (large in big
/// repositories, so generous).
const SMALL_GIT_FILE: u64 = 64 << 10;
const CONFIG_LIMIT: u64 = 16 << 20;
const PACKED_REFS_LIMIT: u64 = 1 << 30;

/// Checks, before gix opens anything, the files of the repository at or above `start` that
/// opening it and reading HEAD and the remotes will read: each must be a regular file within its
/// bound. git reads whatever is there, so a `packed-refs` or `config` linked to `/dev/zero`
/// would grow without end and a FIFO would block forever; here they are refused by what they
/// are, never opened for a blocking read. Files that do not exist are gix's to judge.
fn precheck(start: &Path) -> Result<(), String> {
    let Some((top, dot_git)) = start.ancestors().find_map(|d| {
        let g = d.join(".git");
        std::fs::symlink_metadata(&g).ok().map(|_| (d.to_path_buf(), g))
    }) else {
        return Ok(());
    };
    let git_dir = if dot_git.is_file() {
        let text = bounded(&dot_git, SMALL_GIT_FILE)?;
        match text.trim().strip_prefix("gitdir:") {
            Some(p) => top.join(p.trim()),
            None => return Ok(()),
        }
    } else {
        bounded_kind(&dot_git)?;
        dot_git
    };
    let common = match std::fs::metadata(git_dir.join("commondir")) {
        Ok(_) => git_dir.join(bounded(&git_dir.join("commondir"), SMALL_GIT_FILE)?.trim()),
        Err(_) => git_dir.clone(),
    };
    let head = bounded(&git_dir.join("HEAD"), SMALL_GIT_FILE).unwrap_or_default();
    let mut files = vec![(git_dir.join("config"), CONFIG_LIMIT), (common.join("config"), CONFIG_LIMIT)];
    files.push((common.join("packed-refs"), PACKED_REFS_LIMIT));
    if let Some(r) =
        head.trim().strip_prefix("ref:").map(str::trim).filter(|r| r.starts_with("refs/") && !r.contains(".."))
    {
        files.push((git_dir.join(r), SMALL_GIT_FILE));
        files.push((common.join(r), SMALL_GIT_FILE));
    }
    let mut seen = 0;
    while let Some((path, limit)) = files.pop() {
        if std::fs::metadata(&path).is_err() {
            continue;
        }
        let text = bounded(&path, limit)?;
        // A config's includes are read too ([include] / [includeIf] path = ...).
        if path.file_name().is_some_and(|n| n == "config") || seen > 0 {
            let mut in_include = false;
            for line in text.lines().map(str::trim) {
                if line.starts_with('[') {
                    in_include = line.to_ascii_lowercase().starts_with("[include");
                } else if let Some(v) = line.strip_prefix("path").map(str::trim_start).and_then(|l| l.strip_prefix('='))
                {
                    let v = v.trim().trim_matches('"');
                    if in_include && !v.starts_with('~') && seen < 32 {
                        seen += 1;
                        files.push((path.parent().unwrap_or(&git_dir).join(v), CONFIG_LIMIT));
                    }
                }
            }
        }
    }
    Ok(())
}

/// What is at `path`, refused unless a regular file or a directory (following links).
fn bounded_kind(path: &Path) -> Result<(), String> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() || m.is_dir() => Ok(()),
        Ok(m) => Err(format!(
            "{} is {}, which git would read without end or wait on: not read",
            path.display(),
            crate::fs::describe(&m)
        )),
        Err(_) => Ok(()),
    }
}

/// The text of a git file, read only when it is a regular file within `limit` bytes.
fn bounded(path: &Path, limit: u64) -> Result<String, String> {
    crate::fs::read_bounded(path, limit)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .map_err(|e| format!("{}: {e}; git would read it without end or wait on it, so it is not read", path.display()))
}

/// Discovers and opens the repository at or above `start`, read-only (see `open_options`).
pub(crate) fn open(start: &Path) -> Result<gix::Repository, GitError> {
    use gix::discover::upwards::{Options as Upwards, TrustPolicy};
    let shown = start.display().to_string();
    let absolute;
    let start = if start.is_absolute() {
        start
    } else {
        absolute =
            std::env::current_dir().map_err(|e| GitError::Open { dir: shown.clone(), why: e.to_string() })?.join(start);
        absolute.as_path()
    };
    precheck(start).map_err(|why| GitError::Open { dir: shown.clone(), why })?;
    // Ownership is not checked: trust only gates config, and `open_options` reads it regardless.
    let upwards = Upwards { trust: TrustPolicy::Assume(gix::sec::Trust::Full), ..Default::default() };
    gix::discover_opts(start, upwards, open_options()).map_err(|e| {
        if e.is_not_found() {
            GitError::NotFound(shown.clone())
        } else {
            GitError::Open { dir: shown.clone(), why: e.to_string() }
        }
    })
}

/// Discovers the repository at or above `start` and reads its facts.
pub(crate) fn read(start: &Path) -> Result<Facts, GitError> {
    open(start).map(|repo| facts(&repo))
}

/// What an open repository tells about the job.
pub(crate) fn facts(repo: &gix::Repository) -> Facts {
    let dir = repo.workdir().unwrap_or_else(|| repo.git_dir()).display().to_string();

    let (head, branch) = match repo.head() {
        Ok(head) => {
            let branch = head.referent_name().map(|n| n.shorten().to_string());
            let id = match &head.kind {
                gix::head::Kind::Unborn(name) => {
                    Err(HeadError::Unborn { dir: dir.clone(), branch: name.shorten().to_string() })
                }
                gix::head::Kind::Detached { target, .. } => Ok(target.to_hex().to_string()),
                gix::head::Kind::Symbolic(_) => match head.id() {
                    Some(id) => Ok(id.to_hex().to_string()),
                    None => repo
                        .head_id()
                        .map(|id| id.to_hex().to_string())
                        .map_err(|e| HeadError::Unreadable { dir: dir.clone(), why: e.to_string() }),
                },
            };
            (id, branch)
        }
        Err(e) => (Err(HeadError::Unreadable { dir: dir.clone(), why: e.to_string() }), None),
    };

    let names: Vec<String> = repo.remote_names().iter().map(ToString::to_string).collect();
    let chosen = if names.iter().any(|n| n == "origin") {
        Some("origin".to_owned())
    } else if names.len() == 1 {
        names.first().cloned()
    } else {
        None
    };
    let config = repo.config_snapshot();
    // The URL as written: `url.<base>.insteadOf` rewrites are for fetching, not naming.
    let remote = chosen.and_then(|name| {
        let url = config.string(format!("remote.{name}.url").as_str())?.to_string();
        Some((name, url))
    });

    Facts { dir, head, branch, remote }
}
