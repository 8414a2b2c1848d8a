//! The start state: the small file in the CI job's temporary directory where `customcd start`
//! records when a job began, on CI systems that do not say, keyed by the CI job's identity. This
//! module owns where that file is and how it is read back (`settings` reads it as a source below
//! the CI system's own variables); `cmd::start` writes it.
//!
//! It sits below `settings` and imports only the CI reader's result, the environment, output and
//! the vocabulary.

use std::path::PathBuf;

use crate::ci::Ci;
use crate::env::Env;
use crate::output;
use crate::vocab::source::{Source, Sourced};

/// The state file for this CI job, if the job has an identity.
pub fn state_file(ci: &Ci, env: &Env) -> Option<PathBuf> {
    let key = ci.job_key.as_deref()?;
    let safe: String = key
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' { c } else { '_' })
        .collect();
    let dir = ci.temp_dir.clone().or_else(|| env.get("TMPDIR").map(PathBuf::from)).unwrap_or_else(std::env::temp_dir);
    Some(dir.join(format!("customcd-start-{safe}")))
}

/// Reads a start recorded in the state file: the value and the file it came from. The file is
/// a few bytes; reading is capped because the directory may be shared.
pub fn read_state(ci: &Ci, env: &Env) -> Option<(Sourced<String>, PathBuf)> {
    use std::io::Read;
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let path = state_file(ci, env)?;
    // The job's temporary directory may be shared: only a regular file of this user, opened
    // without following a link and without blocking (a FIFO), may say when the job began; a
    // planted file would fake the duration.
    let meta = std::fs::symlink_metadata(&path).ok()?;
    let me = rustix::process::geteuid().as_raw();
    if !meta.file_type().is_file() || meta.uid() != me {
        output::warn(&format!(
            "the start state {} is not a regular file of this user (uid {me}); it is ignored",
            path.display()
        ));
        return None;
    }
    let flags = (rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK).bits() as i32;
    let file = std::fs::OpenOptions::new().read(true).custom_flags(flags).open(&path).ok()?;
    let mut text = String::new();
    file.take(256).read_to_string(&mut text).ok()?;
    let value = text.trim().to_owned();
    (!value.is_empty()).then(|| (Sourced::new(value, Source::State(path.display().to_string())), path))
}
