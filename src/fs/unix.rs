//! Unix (Linux, macOS): modes, the effective uid, `O_NOFOLLOW | O_NONBLOCK` opens and
//! (dev, inode) identity, through std's Unix extensions and rustix's safe wrappers.

use std::fs::{File, Metadata};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rustix::fs::OFlags;

use super::Follow;

/// Flags for every open of a file customcd did not just create: never wait for a FIFO's writer,
/// never become a controlling terminal, never leak into a child.
fn read_flags(follow: Follow) -> OFlags {
    let flags = OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    match follow {
        Follow::Yes => flags,
        Follow::No => flags | OFlags::NOFOLLOW,
    }
}

pub(super) fn open_read(path: &Path, follow: Follow) -> std::io::Result<File> {
    std::fs::OpenOptions::new().read(true).custom_flags(read_flags(follow).bits() as i32).open(path)
}

pub(super) fn open_append(path: &Path, create: bool) -> std::io::Result<File> {
    std::fs::OpenOptions::new()
        .append(true)
        .create(create)
        .mode(0o600)
        .custom_flags(read_flags(Follow::No).bits() as i32)
        .open(path)
}

/// `O_NOFOLLOW` on a link fails with `ELOOP` (Linux, macOS) or, on some BSDs, `EMLINK`.
pub(super) fn is_link_refusal(e: &std::io::Error) -> bool {
    let errno = e.raw_os_error();
    errno == Some(rustix::io::Errno::LOOP.raw_os_error()) || errno == Some(rustix::io::Errno::MLINK.raw_os_error())
}

pub(super) fn describe_special(meta: &Metadata) -> &'static str {
    let ft = meta.file_type();
    if ft.is_fifo() {
        "a FIFO"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_block_device() || ft.is_char_device() {
        "a device"
    } else {
        "neither a file nor a directory"
    }
}

pub(super) fn create_dir_all_private(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

pub(super) fn is_mine(_path: &Path, meta: &Metadata) -> std::io::Result<bool> {
    Ok(meta.uid() == rustix::process::geteuid().as_raw())
}

pub(super) fn owner_label(_path: &Path, meta: &Metadata) -> String {
    format!("uid {}", meta.uid())
}

pub(super) fn my_label() -> String {
    format!("uid {}", rustix::process::geteuid().as_raw())
}

pub(super) fn user_tag() -> String {
    rustix::process::geteuid().as_raw().to_string()
}

pub(super) fn default_temp_dir() -> PathBuf {
    PathBuf::from("/tmp")
}

/// Group or other bits off: 0700 for a directory.
pub(super) fn tighten_dir(dir: &Path, meta: &Metadata) -> std::io::Result<()> {
    if meta.permissions().mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Group or other bits off: 0600 for a file.
pub(super) fn tighten_file(file: &File, meta: &Metadata) -> std::io::Result<()> {
    if meta.permissions().mode() & 0o077 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

/// Same device and inode; `stat` only, so nothing is opened.
pub(super) fn same_identity(a: &Metadata, b: &Metadata, _path: &Path, _file: &File) -> bool {
    a.dev() == b.dev() && a.ino() == b.ino()
}

pub(super) fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use std::path::Path;

    /// A symbolic link at `link` to `target`.
    pub(crate) fn symlink(target: &Path, link: &Path) -> std::io::Result<()> {
        std::os::unix::fs::symlink(target, link)
    }

    /// A FIFO at `path`.
    pub(crate) fn mkfifo(path: &Path) -> std::io::Result<()> {
        rustix::fs::mknodat(
            rustix::fs::CWD,
            path,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .map_err(std::io::Error::from)
    }

    /// The permission bits of `path` (0o777 at most).
    pub(crate) fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).map(|m| m.permissions().mode() & 0o777).unwrap_or(0)
    }

    /// Sets the permission bits of `path`.
    pub(crate) fn chmod(path: &Path, mode: u32) -> std::io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
    }
}

#[cfg(test)]
mod tests {
    use super::super::*;
    use super::test_support::*;
    use super::{is_link_refusal, open_read};
    use std::os::unix::fs::FileTypeExt;

    #[test]
    fn a_fifo_is_refused_without_blocking_whether_named_or_linked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("event.json");
        mkfifo(&fifo).expect("mkfifo");
        let link = dir.path().join("link.json");
        symlink(&fifo, &link).expect("symlink");
        for p in [&fifo, &link] {
            let err = read_bounded(p, 1024).expect_err("refused");
            assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
            assert!(err.to_string().contains("a FIFO"), "{err}");
        }
        // The open itself never waits for a writer either (the path swapped in between).
        let file = open_read(&fifo, Follow::No).expect("a non-blocking open returns at once");
        assert!(file.metadata().expect("fstat").file_type().is_fifo());
        match open_regular(&fifo, Follow::Yes) {
            Err(OpenRefusal::NotRegular(what)) => assert_eq!(what, "a FIFO"),
            other => panic!("{other:?}"),
        }
        let dev = read_bounded(Path::new("/dev/zero"), 16).expect_err("a device");
        assert!(dev.to_string().contains("a device"), "{dev}");
    }

    #[test]
    fn own_files_are_never_read_through_a_link_and_links_are_followed_only_when_asked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("real");
        std::fs::write(&target, "42\n").expect("write");
        let link = dir.path().join("state");
        symlink(&target, &link).expect("symlink");
        assert_eq!(read_bounded(&link, 16).expect("followed"), b"42\n");
        match read_own_file(&link, 16) {
            Err(OwnFileError::Refused(why)) => assert!(why.contains("symbolic link"), "{why}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(read_own_file(&target, 16).expect("own"), b"42\n");
        assert!(matches!(read_own_file(&dir.path().join("none"), 16), Err(OwnFileError::Missing)));
        assert!(matches!(open_regular(&link, Follow::No), Err(OpenRefusal::Link)));
        // Opened directly with O_NOFOLLOW, the link is refused by the kernel.
        let e = open_read(&link, Follow::No).expect_err("ELOOP");
        assert!(is_link_refusal(&e), "{e}");
    }

    #[test]
    fn private_directories_and_appended_files_are_private_whatever_the_umask() {
        let dir = tempfile::tempdir().expect("tempdir");
        let open = dir.path().join("open");
        std::fs::create_dir(&open).expect("mkdir");
        chmod(&open, 0o777).expect("chmod");
        ensure_private_dir(&open, "choose another").expect("ours");
        assert_eq!(mode(&open), 0o700);
        let deep = dir.path().join("a/b/c");
        ensure_private_dir(&deep, "x").expect("created");
        assert_eq!(mode(&deep), 0o700);
        let file = dir.path().join("rejects");
        std::fs::write(&file, "").expect("write");
        chmod(&file, 0o666).expect("chmod");
        drop(open_append(&file, false).expect("open"));
        assert_eq!(mode(&file), 0o600);
        let tmp = NewFile::create_in(dir.path(), ".t-").expect("create");
        assert_eq!(mode(tmp.tmp.path()), 0o600);
    }
}
