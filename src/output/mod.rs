//! What the user sees: every line customcd prints goes through here, redacted of secrets, and on
//! GitHub Actions warnings and errors become annotations.

pub mod github;

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::secret;

static GITHUB: AtomicBool = AtomicBool::new(false);

/// Turns GitHub annotations on (set once, when a GitHub-like runner is detected).
pub fn set_github(on: bool) {
    GITHUB.store(on, Ordering::Relaxed);
}

fn on_github() -> bool {
    GITHUB.load(Ordering::Relaxed)
}

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

/// A warning: an annotation on GitHub, else a line on standard error.
pub fn warn(text: &str) {
    if on_github() {
        // Annotations are workflow commands, which the runner reads from stdout.
        stdout(&github::annotation("warning", "customcd", text));
    } else {
        info(&format!("warning: {text}"));
    }
}

/// An error: an annotation on GitHub (and the plain text on stderr), else a line on stderr.
pub fn error(text: &str) {
    if on_github() {
        stdout(&github::annotation("error", "customcd", text));
    }
    info(&format!("error: {text}"));
}
