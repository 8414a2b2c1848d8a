//! The spool: where a job is kept, as the exact JSON body, from before its first attempt until the
//! server acknowledges it, so that `customcd send` can deliver it later. It owns how a payload
//! file is written (new, private, fsync'd, renamed into place and locked) and how a sender claims
//! one; it never sends anything and never writes the token. Where the spool is when no setting
//! says is `settings::spool_dir`'s choice.
//!
//! Spool directories and files are private to this user (0700 and 0600 on Unix whatever the umask;
//! see `crate::fs` for Windows): CI workspaces and temporary directories are shared, and a
//! payload is business data. A file is claimed by an exclusive, non-blocking lock: the `report`
//! that wrote it holds the lock while it delivers, and each `send` takes it before sending, so
//! concurrent senders split the work instead of doubling it.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::fs::{self, Follow, NewFile, OpenRefusal};

/// Creates the spool directory `dir` (and its parents) private to this user, or checks an existing
/// one: a real directory (not a symbolic link) owned by this user, made private (0700 on Unix)
/// whatever the umask was.
pub(crate) fn ensure_private_dir(dir: &Path) -> anyhow::Result<()> {
    fs::ensure_private_dir(dir, "choose a directory of your own with --spool-dir")
}

/// A payload file in the spool, exclusively locked by this process until dropped.
pub(crate) struct Spooled {
    pub path: PathBuf,
    /// Holds the lock; closing it lets a `send` claim the file.
    pub lock: File,
}

/// Writes `body` into `dir` as a new payload file before any attempt to send it: a temporary
/// file created new (`O_EXCL`, 0600) with a random name, written, fsync'd and locked, then renamed
/// to `<nanoseconds>-<job id>.json` without replacing anything, then the directory is fsync'd. A
/// reader never sees half a payload; a crash at any instant leaves either nothing under a `.json`
/// name or the whole body. Returns the file, still locked.
pub(crate) fn write_ahead(dir: &Path, job_id: &str, body: &str) -> anyhow::Result<Spooled> {
    ensure_private_dir(dir)?;
    let safe = fs::safe_name(job_id, 80);
    let mut tmp = NewFile::create_in(dir, ".customcd-")?;
    tmp.write_synced(body.as_bytes())?;
    tmp.lock()?;
    let mut attempt = 0u32;
    loop {
        let stamp =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let path = dir.join(format!("{stamp}-{safe}.json"));
        match tmp.persist_new(&path) {
            Ok(lock) => {
                fs::sync_dir(dir);
                return Ok(Spooled { path, lock });
            }
            // Two reports of the same job in the same nanosecond: try the next name.
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists && attempt < 100 => {
                tmp = e.file;
                attempt += 1;
            }
            Err(e) => {
                return Err(
                    anyhow::Error::new(e.error).context(format!("renaming a temporary file to {}", path.display()))
                )
            }
        }
    }
}

/// The file beside a spooled payload that remembers the endpoint it was reported to (never the
/// token): `.NAME.endpoint`, hidden, so `expand` never takes it for an input.
pub(crate) fn endpoint_file(payload: &Path) -> Option<PathBuf> {
    let name = payload.file_name()?.to_string_lossy().into_owned();
    Some(crate::fs::parent_dir(payload).join(format!(".{name}.endpoint")))
}

/// Remembers beside `payload` the endpoint it was to be sent to, written whole (never half).
pub(crate) fn remember_endpoint(payload: &Path, url: &str) -> anyhow::Result<()> {
    let Some(file) = endpoint_file(payload) else { return Ok(()) };
    crate::fs::write_replace(&file, url.as_bytes(), ".customcd-endpoint-")
}

/// The endpoint a spooled payload was reported to, when it remembers one (a payload written by
/// an older customcd, or by hand, does not).
pub(crate) fn recorded_endpoint(payload: &Path) -> Option<String> {
    let file = endpoint_file(payload)?;
    let bytes = crate::fs::read_own_file(&file, 8 << 10).ok()?;
    Some(String::from_utf8_lossy(&bytes).trim().to_owned()).filter(|u| !u.is_empty())
}

/// Removes the endpoint file of a payload that is gone (delivered, or removed by hand).
pub(crate) fn forget_endpoint(payload: &Path) {
    if let Some(file) = endpoint_file(payload) {
        if !payload.exists() {
            let _ = std::fs::remove_file(file);
        }
    }
}

/// Removes a delivered payload file while its lock is still held, so no other sender can pick it
/// up between the acknowledgement and the removal.
pub(crate) fn remove(spooled: Spooled) -> std::io::Result<()> {
    fs::remove_claimed(&spooled.path)?;
    forget_endpoint(&spooled.path);
    drop(spooled.lock);
    Ok(())
}

/// A path given to `send`, or found by listing a directory given to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    pub path: PathBuf,
    /// Found in a directory: it must be a regular file owned by this user, not a symbolic link.
    pub listed: bool,
}

/// The inputs `send` reads from a directory: payload files (as spooled, or arrays), JSON Lines
/// and CSV.
const INPUT_EXTENSIONS: &[&str] = &[".json", ".jsonl", ".ndjson", ".csv"];

/// customcd's own files that sit beside inputs: checkpoints and rejects.
fn is_own_file(name: &str) -> bool {
    name.ends_with(".customcd-checkpoint") || name.ends_with(".rejects.jsonl") || name == "customcd-rejects.jsonl"
}

/// The inputs named by `paths`: files as given, directories as their `*.json`, `*.jsonl`,
/// `*.ndjson` and `*.csv` entries in name order (oldest first, as spooled names start with the
/// time); any other entry is named in a warning. Names starting with `.` (temporary files) and
/// customcd's own checkpoints and rejects are left out; what an entry is gets checked when it is
/// claimed, so a directory or FIFO named `*.json` is counted, not followed. A directory that does
/// not exist holds nothing.
pub(crate) fn expand(paths: &[PathBuf]) -> anyhow::Result<Vec<Found>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found = Vec::new();
            let entries = std::fs::read_dir(p)
                .map_err(|e| anyhow::Error::new(e).context(format!("reading the directory {}", p.display())))?;
            for entry in entries {
                let Ok(entry) = entry else { continue };
                let name = entry.file_name();
                let name = name.to_string_lossy();
                // Hidden names are temporary files being written; customcd's own checkpoints and
                // rejects beside an input are not inputs.
                if name.starts_with('.') || is_own_file(&name) {
                    continue;
                }
                if INPUT_EXTENSIONS.iter().any(|ext| name.ends_with(ext)) {
                    found.push(entry.path());
                } else {
                    crate::output::warn(&format!(
                        "{} is ignored: not a payload file ({})",
                        entry.path().display(),
                        INPUT_EXTENSIONS.join(", ")
                    ));
                }
            }
            found.sort();
            out.extend(found.into_iter().map(|path| Found { path, listed: true }));
        } else {
            out.push(Found { path: p.clone(), listed: false });
        }
    }
    Ok(out)
}

/// What claiming a file gave.
#[derive(Debug)]
pub(crate) enum Claim {
    /// The file is open, exclusively locked, and still the one at its path.
    Mine(File),
    /// Another process (a `report` still delivering it, or another `send`) holds it.
    Busy,
    /// It was removed (or replaced) between listing and opening: someone else sent it.
    Vanished,
    /// It is not something customcd reads; the reason says what it is and what to do.
    Refused(String),
}

/// Opens `found` for reading without ever blocking (a FIFO is refused, not waited on) and claims
/// it: only regular files, for listed entries only ones owned by this user and never through a
/// symbolic link; then an exclusive non-blocking lock, then a check that the path still names
/// the file that was locked (a sender that finished with it removes it under the lock).
pub(crate) fn claim(found: &Found) -> Claim {
    let path = &found.path;
    // A listed entry is never followed through a link; a path the user named may be one.
    let follow = if found.listed { Follow::No } else { Follow::Yes };
    let (file, meta) = match fs::open_regular(path, follow) {
        Ok(opened) => opened,
        // A listed entry that went away was someone else's; a path the user named must exist.
        Err(OpenRefusal::NotFound) if found.listed => return Claim::Vanished,
        Err(OpenRefusal::NotFound) => return Claim::Refused("does not exist".to_owned()),
        Err(OpenRefusal::Link) => {
            return Claim::Refused("is a symbolic link; a spool holds only regular files".to_owned())
        }
        Err(OpenRefusal::NotRegular(what)) => return Claim::Refused(not_regular(what)),
        Err(OpenRefusal::Io(e)) => return Claim::Refused(format!("cannot be opened: {e}")),
    };
    if found.listed {
        match fs::is_mine(path, &meta) {
            Ok(true) => {}
            Ok(false) => {
                return Claim::Refused(format!(
                    "belongs to {}, not to this user ({}); customcd sends from a directory only files it could have written: check where it came from, then send it by name",
                    fs::owner_label(path, &meta),
                    fs::my_label()
                ))
            }
            // Windows asks for the owner by path: a file another sender just removed is gone.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Claim::Vanished,
            Err(e) => return Claim::Refused(format!("cannot be checked for its owner: {e}")),
        }
    }
    match fs::try_lock(&file) {
        Ok(true) => {}
        Ok(false) => return Claim::Busy,
        Err(e) => return Claim::Refused(format!("cannot be locked: {e}")),
    }
    if fs::still_at(path, &file, &meta) {
        Claim::Mine(file)
    } else {
        Claim::Vanished
    }
}

fn not_regular(what: &str) -> String {
    format!("is {what}, not a regular file: ignored (remove it from the spool)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::test_support::{chmod, mkfifo, mode, symlink};

    fn listed(path: PathBuf) -> Found {
        Found { path, listed: true }
    }

    #[test]
    fn writes_are_whole_private_files_and_expand_finds_them_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = dir.path().join("spool");
        let a = write_ahead(&spool, "job/1", "{\"a\":1}").expect("write").path;
        let b = write_ahead(&spool, "job 2", "{\"b\":2}").expect("write").path;
        std::fs::write(spool.join(".partial.json.tmp"), "{").expect("write");
        assert_eq!(std::fs::read_to_string(&a).expect("read"), "{\"a\":1}");
        assert!(a.file_name().expect("name").to_string_lossy().ends_with("-job_1.json"));
        assert_eq!(expand(std::slice::from_ref(&spool)).expect("expand"), vec![listed(a.clone()), listed(b)]);
        assert_eq!(mode(&spool), 0o700);
        assert_eq!(mode(&a), 0o600);
    }

    #[test]
    fn an_existing_spool_is_made_private_and_a_symlinked_one_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let open = dir.path().join("open");
        std::fs::create_dir(&open).expect("mkdir");
        chmod(&open, 0o777).expect("chmod");
        ensure_private_dir(&open).expect("ours");
        assert_eq!(mode(&open), 0o700);
        let link = dir.path().join("link");
        symlink(&open, &link).expect("symlink");
        let err = ensure_private_dir(&link).expect_err("a link is refused");
        assert!(err.to_string().contains("not a directory"), "{err}");
    }

    #[test]
    fn a_file_written_ahead_is_busy_until_its_writer_lets_go() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spooled = write_ahead(dir.path(), "j", "{}").expect("write");
        let found = listed(spooled.path.clone());
        assert!(matches!(claim(&found), Claim::Busy));
        drop(spooled);
        let Claim::Mine(_held) = claim(&found) else { panic!("claimable once unlocked") };
        assert!(matches!(claim(&found), Claim::Busy), "the second claimant waits its turn");
    }

    #[test]
    fn a_file_removed_by_its_claimant_is_vanished_for_the_next() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spooled = write_ahead(dir.path(), "j", "{}").expect("write");
        let found = listed(spooled.path.clone());
        remove(spooled).expect("remove");
        assert!(matches!(claim(&found), Claim::Vanished));
    }

    #[test]
    fn fifos_directories_and_links_are_refused_without_blocking() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("f.json");
        mkfifo(&fifo).expect("mkfifo");
        let sub = dir.path().join("d.json");
        std::fs::create_dir(&sub).expect("mkdir");
        let target = dir.path().join("real");
        std::fs::write(&target, "{}").expect("write");
        let link = dir.path().join("l.json");
        symlink(&target, &link).expect("symlink");
        for (p, word) in [(fifo.clone(), "FIFO"), (sub, "directory"), (link, "symbolic link")] {
            match claim(&listed(p.clone())) {
                Claim::Refused(why) => assert!(why.contains(word), "{}: {why}", p.display()),
                other => panic!("{} was {other:?}", p.display()),
            }
        }
        // Named explicitly, a FIFO is still opened without waiting for a writer, then refused.
        assert!(matches!(claim(&Found { path: fifo, listed: false }), Claim::Refused(_)));
    }
}
