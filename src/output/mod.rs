//! What the user sees: every line customcd prints goes through here, redacted of secrets, and on
//! GitHub Actions warnings and errors become annotations while nothing else can form a workflow
//! command (see `github::defuse`).
//!
//! It knows no job and no environment: what to print and where comes from its callers.
//!
//! Layer: output (see tests/integration/layers.rs). May import: secret, fs.

pub mod github;

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::secret;

static GITHUB: AtomicBool = AtomicBool::new(false);

/// Turns GitHub annotations on (set once, when a GitHub-like runner is detected).
pub(crate) fn set_github(on: bool) {
    GITHUB.store(on, Ordering::Relaxed);
}

fn on_github() -> bool {
    GITHUB.load(Ordering::Relaxed)
}

/// Secrets hidden and, on GitHub, workflow commands defused: how every line leaves customcd.
fn safe(text: &str) -> String {
    let text = secret::redact(text);
    if on_github() {
        github::defuse(&text)
    } else {
        text
    }
}

/// A result line on standard output (the dry-run body, the confirmation).
pub fn stdout(text: &str) {
    raw_stdout(&safe(text));
}

/// Writes a line to standard output as it is. Only for text that is already safe.
fn raw_stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    // A closed pipe (`customcd ... | head`) is not worth a panic.
    let _ = writeln!(out, "{text}");
}

/// A diagnostic line on standard error.
pub fn info(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{}", safe(text));
}

/// Writes a line to standard error as it is. Only for text that is already safe.
fn raw_stderr(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

/// A warning: an annotation on GitHub, else a line on standard error.
pub(crate) fn warn(text: &str) {
    if on_github() {
        // Annotations are workflow commands. The runner reads them from standard error as well as
        // standard output (actions/runner gives each stream its own OutputManager), and on
        // standard error they leave stdout to the result, so `report --dry-run > body.json` is
        // the JSON body alone. The message is escaped (`%0A` for a newline) inside the command,
        // so it cannot start another one.
        raw_stderr(&github::annotation("warning", "customcd", &secret::redact(text)));
    } else {
        info(&format!("warning: {text}"));
    }
}

/// A notice: something the user should know that is not wrong (a stand-in taken for a value), as
/// a notice annotation on GitHub, else a line on standard error.
pub fn notice(text: &str) {
    if on_github() {
        raw_stderr(&github::annotation("notice", "customcd", &secret::redact(text)));
    } else {
        info(&format!("notice: {text}"));
    }
}

/// An error: an annotation on GitHub (and the plain text), else a line, on standard error.
pub fn error(text: &str) {
    if on_github() {
        raw_stderr(&github::annotation("error", "customcd", &secret::redact(text)));
    }
    info(&format!("error: {text}"));
}
