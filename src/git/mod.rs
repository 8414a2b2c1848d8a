//! The local git repository, read-only: HEAD's commit and the remote that names the repository.
//!
//! This module only reads. It never fetches, never runs hooks, credential helpers, fsmonitor or
//! any other program named in a config file, and never writes to the repository.
//!
//! Layer: platform (see tests/integration/layers.rs). May import: nothing.

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
