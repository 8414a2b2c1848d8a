//! Windows: what the Unix calls become, chosen from Windows' own documentation and kept to safe
//! wrappers (this crate forbids `unsafe`).
//!
//! - Private: Windows has no mode bits; a new file or directory inherits its parent's ACL. The
//!   directories customcd creates by default are in the user's profile (`%LOCALAPPDATA%`,
//!   `%TEMP%`) or the CI job's own temporary directory, whose ACLs admit only this user, SYSTEM
//!   and Administrators. customcd does not rewrite ACLs; it refuses a directory or file owned by
//!   another account.
//! - Owner: the owner SID of the file against this process's user (and the Administrators group
//!   when this user is an administrator), through `gix-sec`, the check git (and gix) make for
//!   `safe.directory`.
//! - No-follow: `FILE_FLAG_OPEN_REPARSE_POINT` opens a symbolic link or junction as itself instead
//!   of its target (CreateFileW's documentation); the caller then sees `is_symlink()` in the
//!   opened file's metadata and refuses it.
//! - Non-blocking: files in a directory are never FIFOs on Windows (named pipes live only under
//!   `\\.\pipe\`), and the metadata of anything that is not a regular file is refused first.
//! - Locks: std's `File::try_lock` is `LockFileEx` over the whole file (exclusive, fail at once).
//! - Identity: (volume serial number, file index) through `same-file`.

use std::fs::{File, Metadata};
use std::os::windows::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::Follow;

/// `FILE_FLAG_OPEN_REPARSE_POINT` from WinBase.h: open the reparse point itself, not its target.
const FILE_FLAG_OPEN_REPARSE_POINT: u32 = 0x0020_0000;

pub(super) fn open_read(path: &Path, follow: Follow) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    if follow == Follow::No {
        options.custom_flags(FILE_FLAG_OPEN_REPARSE_POINT);
    }
    options.open(path)
}

pub(super) fn open_append(path: &Path, create: bool) -> std::io::Result<File> {
    std::fs::OpenOptions::new().append(true).create(create).custom_flags(FILE_FLAG_OPEN_REPARSE_POINT).open(path)
}

/// Windows opens a link as itself instead of refusing it; the caller checks the metadata.
pub(super) fn is_link_refusal(_e: &std::io::Error) -> bool {
    false
}

pub(super) fn describe_special(_meta: &Metadata) -> &'static str {
    "a device, pipe or other special file"
}

pub(super) fn create_dir_all_private(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new().recursive(true).create(dir)
}

pub(super) fn is_mine(path: &Path, _meta: &Metadata) -> std::io::Result<bool> {
    gix_sec::identity::is_path_owned_by_current_user(path)
}

pub(super) fn owner_label(_path: &Path, _meta: &Metadata) -> String {
    "another account".to_owned()
}

pub(super) fn my_label() -> String {
    std::env::var("USERNAME").map_or_else(|_| "this account".to_owned(), |u| format!("account {u}"))
}

pub(super) fn user_tag() -> String {
    std::env::var("USERNAME").unwrap_or_else(|_| "user".to_owned())
}

/// The user's own `%TEMP%` (GetTempPath2W), under the profile.
pub(super) fn default_temp_dir() -> PathBuf {
    std::env::temp_dir()
}

/// Nothing to tighten: no mode bits (the ACL is inherited; see the module's comment).
pub(super) fn tighten_dir(_dir: &Path, _meta: &Metadata) -> std::io::Result<()> {
    Ok(())
}

pub(super) fn tighten_file(_file: &File, _meta: &Metadata) -> std::io::Result<()> {
    Ok(())
}

/// Same volume and file index: the path is opened (without following a link) and compared with
/// the open file; std's `Metadata` does not expose the index on stable Rust.
pub(super) fn same_identity(_a: &Metadata, _b: &Metadata, path: &Path, file: &File) -> bool {
    let Ok(mine) = file.try_clone().and_then(same_file::Handle::from_file) else { return false };
    match same_file::Handle::from_path(path) {
        Ok(there) => there == mine,
        Err(_) => false,
    }
}

/// Windows cannot flush a directory handle; NTFS journals the rename itself.
pub(super) fn sync_dir(_dir: &Path) {}

#[cfg(test)]
pub(crate) mod test_support {
    use std::path::Path;

    /// A symbolic link at `link` to the file `target` (needs the privilege or developer mode).
    pub(crate) fn symlink(target: &Path, link: &Path) -> std::io::Result<()> {
        std::os::windows::fs::symlink_file(target, link)
    }
}
