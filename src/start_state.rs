//! The start state: the small file in the CI job's temporary directory where `customcd start`
//! records when a job began, on CI systems that do not say, keyed by the CI job's identity. This
//! module owns where that file is and how it is read back (`settings` reads it as a source below
//! the CI system's own variables); `cmd::start` writes it.
//!
//! It sits below `settings` and imports only the CI reader's result, the environment, `fs` and the
//! vocabulary.

use std::path::PathBuf;

use crate::ci::Ci;
use crate::env::Env;
use crate::vocab::source::{Source, Sourced};

/// The state file for this CI job, if the job has an identity.
pub(crate) fn state_file(ci: &Ci, env: &Env) -> Option<PathBuf> {
    let key = ci.job_key.as_deref()?;
    let safe = crate::fs::safe_name(key, 200);
    let dir = ci.temp_dir.clone().unwrap_or_else(|| crate::fs::system_temp_dir(env.get("TMPDIR")));
    Some(dir.join(format!("customcd-start-{safe}")))
}

/// Reads a start recorded in the state file: the value and the file it came from. The file is
/// a few bytes; reading is capped because the directory may be shared. A file that may not speak
/// is ignored with a warning in `warnings`.
pub(crate) fn read_state(ci: &Ci, env: &Env, warnings: &mut Vec<String>) -> Option<(Sourced<String>, PathBuf)> {
    let path = state_file(ci, env)?;
    // The job's temporary directory may be shared: only a regular file of this user, opened
    // without following a link and without blocking (a FIFO), may say when the job began; a
    // planted file would fake the duration.
    let bytes = match crate::fs::read_own_file(&path, 256) {
        Ok(bytes) => bytes,
        Err(crate::fs::OwnFileError::Refused(why)) => {
            warnings.push(format!(
                "the start state {} is not a regular file of this user ({}): it {why}; it is ignored",
                path.display(),
                crate::fs::my_label()
            ));
            return None;
        }
        Err(crate::fs::OwnFileError::Io(e)) => {
            warnings.push(format!("the start state {} cannot be read: {e}; it is ignored", path.display()));
            return None;
        }
        Err(crate::fs::OwnFileError::Missing) => return None,
    };
    let value = String::from_utf8_lossy(&bytes).trim().to_owned();
    (!value.is_empty()).then(|| (Sourced::new(value, Source::State(path.display().to_string())), path))
}
