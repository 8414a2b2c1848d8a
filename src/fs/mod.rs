//! Private files: the one module that creates the directories and files customcd keeps (the
//! spool, checkpoints, the start state, backfill work files, rejects), writes them atomically
//! without following links, claims and locks them, checks who owns them, makes names safe for
//! them, and reads files it did not write with a bound and without ever blocking
//! ([`read_bounded`]).
//!
//! Bottom layer: it imports nothing of ours (only std, tempfile, anyhow and the platform crates),
//! so every layer may use it. Every platform-specific call of the crate (`std::os::unix`,
//! `std::os::windows`, rustix, `Metadata` uid/ino/dev, modes, open flags) is here, in `unix.rs` and
//! `windows.rs` behind one portable API; a test below keeps it that way. What each guarantee means
//! per platform is in docs/platforms.md:
//! - Unix (Linux, macOS): directories 0700 and files 0600 whatever the umask, owner = effective
//!   uid, `O_NOFOLLOW | O_NONBLOCK` opens, `flock` claims, (dev, inode) identity.
//! - Windows: no mode bits; a new file inherits its directory's ACL, and customcd's default
//!   directories are in the user's profile or the CI job's own temporary directory (owner-only
//!   ACLs). Owner = the file's owner SID against this process's user (or Administrators when this
//!   user is one), as git checks `safe.directory`; `FILE_FLAG_OPEN_REPARSE_POINT` opens instead of
//!   `O_NOFOLLOW` (a link is opened as itself, then refused); `LockFileEx` claims (std's
//!   `File::try_lock`); (volume serial, file index) identity.
//!
//! Layer: platform (see tests/integration/layers.rs). May import: nothing.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as sys;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as sys;

use std::fs::{File, Metadata};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

/// Reads the file at `path` whole, refusing anything that is not a regular file and anything
/// larger than `limit` bytes. For files customcd did not write and must not trust: the CI event
/// file (`GITHUB_EVENT_PATH`), runner files, git's files, token and CA files.
///
/// - Never blocks: a FIFO, socket or device is refused from its metadata *before* any open, and
///   the open itself is non-blocking (`O_NONBLOCK`, `O_NOCTTY`) in case the path is swapped for
///   one in between; the opened file is checked again (`fstat`) before a byte is read. So a FIFO
///   planted at the path never hangs the job.
/// - Reads at most `limit + 1` bytes: a file larger than `limit` is an error
///   ([`std::io::ErrorKind::FileTooLarge`]), never a truncated read.
/// - Follows a symbolic link to a regular file (runners and checkouts use them); use
///   [`read_own_file`] for customcd's own state, which must be this user's and never a link.
///
/// Errors are `std::io::Error`s whose message says what the path is (`is a FIFO, not a regular
/// file`, `is larger than 16777216 bytes`) and whose kind is `NotFound`, `InvalidInput` (not a
/// regular file), `FileTooLarge` or the system's.
pub(crate) fn read_bounded(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let before = std::fs::metadata(path)?;
    if !before.file_type().is_file() {
        return Err(not_regular_error(&before));
    }
    let file = sys::open_read(path, Follow::Yes)?;
    let meta = file.metadata()?;
    if !meta.file_type().is_file() {
        return Err(not_regular_error(&meta));
    }
    read_capped(file, limit)
}

fn read_capped(file: File, limit: u64) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::new(
            std::io::ErrorKind::FileTooLarge,
            format!("it is larger than {limit} bytes, more than such a file ever holds"),
        ));
    }
    Ok(bytes)
}

fn not_regular_error(meta: &Metadata) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("it is {}, not a regular file", describe(meta)))
}

/// Why customcd's own file could not be read by [`read_own_file`].
#[derive(Debug)]
pub(crate) enum OwnFileError {
    /// Nothing is there.
    Missing,
    /// Something is there that customcd did not leave: the reason says what.
    Refused(String),
    Io(std::io::Error),
}

/// Reads customcd's own small state file (at most `limit` bytes): only a regular file of this
/// user, never through a symbolic link and never blocking, because the directory it sits in may be
/// shared and a planted file would change what customcd reports.
pub(crate) fn read_own_file(path: &Path, limit: u64) -> Result<Vec<u8>, OwnFileError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(OwnFileError::Missing),
        Err(e) => return Err(OwnFileError::Io(e)),
    };
    if !meta.file_type().is_file() {
        return Err(OwnFileError::Refused(format!("is {}, not a regular file", describe(&meta))));
    }
    if !is_mine(path, &meta).map_err(OwnFileError::Io)? {
        return Err(OwnFileError::Refused(format!(
            "belongs to {}, not to this user ({})",
            owner_label(path, &meta),
            my_label()
        )));
    }
    let file = sys::open_read(path, Follow::No).map_err(OwnFileError::Io)?;
    let opened = file.metadata().map_err(OwnFileError::Io)?;
    if !opened.file_type().is_file() || !sys::same_identity(&meta, &opened, path, &file) {
        return Err(OwnFileError::Refused("was replaced while it was being opened".to_owned()));
    }
    read_capped(file, limit).map_err(OwnFileError::Io)
}

/// Whether an open follows a symbolic link at the last component of its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Follow {
    Yes,
    No,
}

/// What a path is, in words, for messages: "a directory", "a symbolic link", "a FIFO", ...
pub(crate) fn describe(meta: &Metadata) -> &'static str {
    let ft = meta.file_type();
    if ft.is_file() {
        "a regular file"
    } else if ft.is_dir() {
        "a directory"
    } else if ft.is_symlink() {
        "a symbolic link"
    } else {
        sys::describe_special(meta)
    }
}

/// Creates `dir` (and its parents) private to this user, or checks an existing one: it must be a
/// real directory (not a link) owned by this user, and on Unix is made 0700 whatever the umask
/// was. `fix` is the sentence that tells the user what to do instead (a flag to pass).
pub(crate) fn ensure_private_dir(dir: &Path, fix: &str) -> anyhow::Result<()> {
    create_private_dir(dir)?;
    let meta = std::fs::symlink_metadata(dir).with_context(|| format!("reading {}", dir.display()))?;
    if !meta.file_type().is_dir() {
        bail!(
            "{} is not a directory ({} is there); customcd keeps these files only in a directory of its own: remove it or {fix}",
            dir.display(),
            describe(&meta)
        );
    }
    if !is_mine(dir, &meta).with_context(|| format!("reading the owner of {}", dir.display()))? {
        bail!(
            "{} belongs to {}, not to this user ({}); another user could read the files or plant some there: {fix}",
            dir.display(),
            owner_label(dir, &meta),
            my_label()
        );
    }
    sys::tighten_dir(dir, &meta).with_context(|| format!("making {} private", dir.display()))
}

/// Creates `dir` and its missing parents, new ones private to this user (0700 on Unix; on Windows
/// they inherit their parent's ACL). An existing directory is left as it is.
pub(crate) fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    sys::create_dir_all_private(dir).with_context(|| format!("creating the directory {}", dir.display()))
}

/// Whether the file or directory at `path`, whose (not followed) metadata is `meta`, belongs to
/// the user this process runs as.
pub(crate) fn is_mine(path: &Path, meta: &Metadata) -> std::io::Result<bool> {
    sys::is_mine(path, meta)
}

/// Who owns `meta`'s file, for messages ("uid 1001"; on Windows "another account").
pub(crate) fn owner_label(path: &Path, meta: &Metadata) -> String {
    sys::owner_label(path, meta)
}

/// Who this process runs as, for messages ("uid 1000"; on Windows the account name).
pub(crate) fn my_label() -> String {
    sys::my_label()
}

/// A short, file-name-safe tag of this user, for names in shared directories that must differ per
/// user (`customcd-spool-<tag>`): the effective uid on Unix, the account name on Windows.
pub(crate) fn user_tag() -> String {
    safe_name(&sys::user_tag(), 40)
}

/// The system's temporary directory when `TMPDIR` (given as `tmpdir`) does not name one: `/tmp` on
/// Unix; on Windows the user's own `%TEMP%` (under the profile, so private to the user).
pub(crate) fn system_temp_dir(tmpdir: Option<&str>) -> PathBuf {
    match tmpdir {
        Some(t) if !t.is_empty() => PathBuf::from(t),
        _ => sys::default_temp_dir(),
    }
}

/// `text` made into part of a file name, the same on every platform: ASCII letters, digits, `-`,
/// `_` and `.` are kept, anything else becomes `_`, a trailing `.` too (Windows drops it, which
/// would make two names one). Longer than `max` characters, it is cut and ends with 16 hex digits
/// of a SHA-256 of the whole text, so two long names that differ only at the end stay two.
pub(crate) fn safe_name(text: &str, max: usize) -> String {
    let mut out: String =
        text.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' }).collect();
    if out.len() > max {
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(text.as_bytes());
        let tag: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        out.truncate(max.saturating_sub(tag.len() + 1));
        out = format!("{out}-{tag}");
    }
    if out.ends_with('.') {
        out.pop();
        out.push('_');
    }
    out
}

/// A new private file being written in a directory, under a random hidden name (created
/// exclusively, 0600 on Unix), until it is persisted under its real name.
pub(crate) struct NewFile {
    tmp: tempfile::NamedTempFile,
}

/// A [`NewFile`] that could not be persisted, given back for another try.
pub(crate) struct NotPersisted {
    pub error: std::io::Error,
    pub file: NewFile,
}

impl NewFile {
    /// Creates the file in `dir`, named `<prefix><random>.tmp`.
    pub(crate) fn create_in(dir: &Path, prefix: &str) -> anyhow::Result<NewFile> {
        let tmp = tempfile::Builder::new()
            .prefix(prefix)
            .suffix(".tmp")
            .tempfile_in(dir)
            .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
        Ok(NewFile { tmp })
    }

    /// Writes `bytes` and flushes them to disk.
    pub(crate) fn write_synced(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        self.tmp.write_all(bytes).with_context(|| format!("writing {}", self.tmp.path().display()))?;
        self.tmp.as_file().sync_all().with_context(|| format!("syncing {}", self.tmp.path().display()))
    }

    /// Takes an exclusive lock on the file (see [`try_lock`]), waiting if need be; it goes with
    /// the file through its rename and is let go when the returned `File` is closed.
    pub(crate) fn lock(&self) -> anyhow::Result<()> {
        self.tmp.as_file().lock().with_context(|| format!("locking {}", self.tmp.path().display()))
    }

    /// Renames the file to `path`, replacing whatever is there (a link there is replaced, never
    /// followed), and returns it open.
    pub(crate) fn persist_over(self, path: &Path) -> anyhow::Result<File> {
        self.tmp.persist(path).with_context(|| format!("renaming a temporary file to {}", path.display()))
    }

    /// Renames the file to `path` only if nothing is there (`AlreadyExists` otherwise, with the
    /// file given back).
    pub(crate) fn persist_new(self, path: &Path) -> Result<File, NotPersisted> {
        self.tmp.persist_noclobber(path).map_err(|e| NotPersisted { error: e.error, file: NewFile { tmp: e.file } })
    }
}

/// Replaces `path` with `bytes` whole: a [`NewFile`] beside it (named `<prefix>...tmp`), synced,
/// renamed over `path`, then the directory synced. A reader never sees half a file, a planted link
/// is replaced rather than followed, and a full disk leaves the old file rather than an empty one.
pub(crate) fn write_replace(path: &Path, bytes: &[u8], prefix: &str) -> anyhow::Result<()> {
    let dir = parent_dir(path);
    let mut tmp = NewFile::create_in(dir, prefix)?;
    tmp.write_synced(bytes)?;
    tmp.persist_over(path)?;
    sync_dir(dir);
    Ok(())
}

/// The directory `path` is in (`.` for a bare name).
pub(crate) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Removes the file at `path`, which this process has claimed ([`try_lock`]), so that no other
/// claimant can take it once the lock is let go: the name is first renamed to a hidden one beside
/// it (`.customcd-removed-...`, which listings skip), then removed, then the directory synced.
///
/// Why the rename: on Windows a file that another process holds open is only marked for deletion
/// (its name stays until that handle closes, and Wine lets it be opened again meanwhile), so a
/// sender that opened it before the removal and locks it after could find it still at its path;
/// after the rename [`still_at`] says it is gone, on every platform. A crash between the two steps
/// leaves a hidden file that nothing sends.
pub(crate) fn remove_claimed(path: &Path) -> std::io::Result<()> {
    let dir = parent_dir(path);
    let hidden = dir.join(format!(".customcd-removed-{:016x}", fastrand::u64(..)));
    std::fs::rename(path, &hidden)?;
    let removed = std::fs::remove_file(&hidden);
    sync_dir(dir);
    removed
}

/// Makes a rename or removal in `dir` durable. Best effort: some file systems (and Windows)
/// cannot sync a directory, and the file itself is already on disk.
pub(crate) fn sync_dir(dir: &Path) {
    sys::sync_dir(dir);
}

/// Opens `path` to append to it, never through a symbolic link and never blocking; with `create`,
/// creates it private (0600) when missing. It must be a regular file; one of this user's is made
/// private (0600 on Unix) if it was not.
pub(crate) fn open_append(path: &Path, create: bool) -> anyhow::Result<File> {
    let file = sys::open_append(path, create).with_context(|| format!("opening {}", path.display()))?;
    let meta = file.metadata().with_context(|| format!("reading {}", path.display()))?;
    if !meta.file_type().is_file() {
        bail!("{} is {}, not a regular file", path.display(), describe(&meta));
    }
    if is_mine(path, &meta).unwrap_or(false) {
        sys::tighten_file(&file, &meta).with_context(|| format!("making {} private", path.display()))?;
    }
    Ok(file)
}

/// Why [`open_regular`] did not give a file.
#[derive(Debug)]
pub(crate) enum OpenRefusal {
    NotFound,
    /// A symbolic link, with [`Follow::No`].
    Link,
    /// Something else than a regular file: what it is ("a FIFO", "a directory").
    NotRegular(&'static str),
    Io(std::io::Error),
}

/// Opens `path` for reading without ever blocking (a FIFO is opened non-blocking, then refused)
/// and, with [`Follow::No`], without following a link; the opened file must be a regular file.
/// Returns it with its metadata.
pub(crate) fn open_regular(path: &Path, follow: Follow) -> Result<(File, Metadata), OpenRefusal> {
    if follow == Follow::No {
        match std::fs::symlink_metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(OpenRefusal::NotFound),
            Err(e) => return Err(OpenRefusal::Io(e)),
            Ok(m) if m.file_type().is_symlink() => return Err(OpenRefusal::Link),
            Ok(m) if !m.file_type().is_file() => return Err(OpenRefusal::NotRegular(describe(&m))),
            Ok(_) => {}
        }
    }
    let file = match sys::open_read(path, follow) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(OpenRefusal::NotFound),
        Err(e) if sys::is_link_refusal(&e) => return Err(OpenRefusal::Link),
        // Windows refuses to open a file whose removal is pending: for the caller it is gone.
        Err(_) if matches!(std::fs::symlink_metadata(path), Err(e) if e.kind() == std::io::ErrorKind::NotFound) => {
            return Err(OpenRefusal::NotFound)
        }
        Err(e) => return Err(OpenRefusal::Io(e)),
    };
    let meta = file.metadata().map_err(OpenRefusal::Io)?;
    if meta.file_type().is_symlink() {
        return Err(OpenRefusal::Link);
    }
    if !meta.file_type().is_file() {
        return Err(OpenRefusal::NotRegular(describe(&meta)));
    }
    Ok((file, meta))
}

/// Takes an exclusive lock on `file` without waiting: `Ok(false)` when another process holds one.
/// Unix: `flock` (advisory: it binds customcd's own processes). Windows: `LockFileEx` on the whole
/// file (mandatory: other processes cannot read it meanwhile). Closing the file lets go.
pub(crate) fn try_lock(file: &File) -> std::io::Result<bool> {
    match file.try_lock() {
        Ok(()) => Ok(true),
        Err(std::fs::TryLockError::WouldBlock) => Ok(false),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

/// Whether `path` still names the file `file` (whose metadata is `meta`): false once it was
/// removed or replaced. Never opens a FIFO on Unix (a `stat` of the path).
pub(crate) fn still_at(path: &Path, file: &File, meta: &Metadata) -> bool {
    match std::fs::metadata(path) {
        Ok(now) => sys::same_identity(meta, &now, path, file),
        Err(_) => false,
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Platform-specific fixtures for tests elsewhere in the crate, so that they too stay free of
    //! platform APIs.
    pub(crate) use super::sys::test_support::*;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_bounded_reads_up_to_its_limit_and_refuses_one_byte_more() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("event.json");
        std::fs::write(&path, b"12345").expect("write");
        assert_eq!(read_bounded(&path, 5).expect("at the limit"), b"12345");
        let err = read_bounded(&path, 4).expect_err("one over");
        assert_eq!(err.kind(), std::io::ErrorKind::FileTooLarge);
        assert!(err.to_string().contains("larger than 4 bytes"), "{err}");
        assert_eq!(
            read_bounded(&dir.path().join("none"), 9).expect_err("missing").kind(),
            std::io::ErrorKind::NotFound
        );
        let err = read_bounded(dir.path(), 9).expect_err("a directory");
        assert!(err.to_string().contains("a directory"), "{err}");
    }

    #[test]
    fn names_are_safe_and_long_ones_stay_distinct() {
        assert_eq!(safe_name("job/1 x", 80), "job_1_x");
        assert_eq!(safe_name("a.b-c_d", 80), "a.b-c_d");
        assert_eq!(safe_name("ends.", 80), "ends_");
        let a = safe_name(&format!("{}1", "x".repeat(200)), 60);
        let b = safe_name(&format!("{}2", "x".repeat(200)), 60);
        assert!(a.len() <= 60 && b.len() <= 60, "{a}");
        assert_ne!(a, b);
        assert_eq!(safe_name("ü", 80), "_");
    }

    #[test]
    fn write_replace_replaces_whole_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state");
        write_replace(&path, b"one", ".t-").expect("write");
        write_replace(&path, b"two", ".t-").expect("rewrite");
        assert_eq!(std::fs::read(&path).expect("read"), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 1);
    }

    #[test]
    fn a_locked_file_cannot_be_claimed_until_it_is_closed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x");
        let mut tmp = NewFile::create_in(dir.path(), ".x-").expect("create");
        tmp.write_synced(b"{}").expect("write");
        tmp.lock().expect("lock");
        let held = tmp.persist_new(&path).map_err(|e| e.error).expect("persist");
        let (other, meta) = open_regular(&path, Follow::No).expect("open");
        assert!(!try_lock(&other).expect("try"), "held by the writer");
        drop(held);
        assert!(try_lock(&other).expect("try"), "free once closed");
        assert!(still_at(&path, &other, &meta));
        std::fs::remove_file(&path).expect("remove");
        assert!(!still_at(&path, &other, &meta));
    }

    #[test]
    fn a_removed_claim_is_gone_for_a_claimant_that_opened_it_before() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("job.json");
        std::fs::write(&path, "{}").expect("write");
        let (first, _) = open_regular(&path, Follow::No).expect("open");
        assert!(try_lock(&first).expect("lock"));
        let (second, meta) = open_regular(&path, Follow::No).expect("opened before the removal");
        remove_claimed(&path).expect("remove");
        drop(first);
        assert!(try_lock(&second).expect("lock"), "free once the first claimant let go");
        assert!(!still_at(&path, &second, &meta), "the second claimant must see it gone");
        assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 0, "nothing is left behind");
    }

    #[test]
    fn persist_new_never_replaces() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("taken");
        std::fs::write(&path, "first").expect("write");
        let tmp = NewFile::create_in(dir.path(), ".x-").expect("create");
        let back = tmp.persist_new(&path).expect_err("refused");
        assert_eq!(back.error.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "first");
    }

    /// A dependency added under a platform's table in Cargo.toml builds on Linux and breaks the
    /// Windows (or macOS) build only; those tables hold src/fs's own crates and nothing else.
    #[test]
    fn platform_dependency_tables_hold_only_what_src_fs_uses() {
        let manifest = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).expect("read");
        let mut table = String::new();
        let mut found: Vec<(String, String)> = Vec::new();
        for line in manifest.lines().map(str::trim) {
            if line.starts_with('[') {
                table = line.to_owned();
            } else if table.starts_with("[target.") && !line.is_empty() && !line.starts_with('#') {
                let name = line.split('=').next().unwrap_or_default().trim().to_owned();
                found.push((table.clone(), name));
            }
        }
        let allowed = [
            ("[target.'cfg(unix)'.dependencies]", "rustix"),
            ("[target.'cfg(windows)'.dependencies]", "gix-sec"),
            ("[target.'cfg(windows)'.dependencies]", "same-file"),
        ];
        for (table, name) in &found {
            assert!(
                allowed.iter().any(|(t, n)| t == table && n == name),
                "{name} is under {table} in Cargo.toml: only src/fs's platform crates go there (move it to [dependencies])"
            );
        }
        assert_eq!(found.len(), allowed.len(), "{found:?}");
    }

    /// The platform-specific calls live in this folder and nowhere else in the product code (test
    /// modules may use them, through [`test_support`] preferably), so a port touches one module.
    #[test]
    fn no_other_file_uses_platform_apis() {
        const PLATFORM: &[&str] = &[
            "std::os::unix",
            "std::os::windows",
            "std::os::fd",
            "rustix",
            "libc::",
            "windows_sys",
            "gix_sec::identity",
            ".uid()",
            ".gid()",
            ".ino()",
            ".dev()",
            ".mode()",
            "from_mode",
            "custom_flags",
            "cfg(unix)",
            "cfg(windows)",
            "cfg!(unix)",
            "cfg!(windows)",
            "target_os",
            "target_family",
        ];
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut stack = vec![root.clone()];
        let mut offences = Vec::new();
        let mut seen = 0;
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("list src") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    if path != root.join("fs") {
                        stack.push(path);
                    }
                    continue;
                }
                if path.extension().is_none_or(|e| e != "rs") {
                    continue;
                }
                seen += 1;
                let text = std::fs::read_to_string(&path).expect("read");
                // Product code only: a file's test module (from its `#[cfg(test)]` on) may build
                // fixtures as it likes.
                let product = text.split("\n#[cfg(test)]").next().unwrap_or_default();
                for (n, line) in product.lines().enumerate() {
                    let code = line.split("//").next().unwrap_or_default();
                    for api in PLATFORM {
                        if code.contains(api) {
                            offences.push(format!("{}:{}: {api}", path.display(), n + 1));
                        }
                    }
                }
            }
        }
        assert!(seen > 30, "the scan found only {seen} source files under {}", root.display());
        assert!(
            offences.is_empty(),
            "platform APIs outside src/fs/ (move them behind crate::fs):\n{}",
            offences.join("\n")
        );
    }
}
