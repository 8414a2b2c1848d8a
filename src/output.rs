//! What the user sees: every line customcd prints goes through here, redacted of secrets.

use std::io::Write;

use crate::secret;

/// A result line on standard output (the dry-run body, the confirmation).
pub fn stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    // A closed pipe (`customcd ... | head`) is not worth a panic.
    let _ = writeln!(out, "{}", secret::redact(text));
}

/// A diagnostic line on standard error.
pub fn info(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{}", secret::redact(text));
}

/// A warning on standard error.
pub fn warn(text: &str) {
    info(&format!("warning: {text}"));
}

/// An error on standard error.
pub fn error(text: &str) {
    info(&format!("error: {text}"));
}
