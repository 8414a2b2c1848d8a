//! Errors that end a run, what they print, and the exit code each maps to.
//!
//! | code | meaning |
//! |------|---------|
//! | 0    | the job was sent and accepted, or a dry run found it valid |
//! | 1    | an unexpected internal or local I/O failure |
//! | 2    | invalid input or configuration: nothing was sent |
//! | 3    | the server refused the job (HTTP 4xx other than 408/429) |
//! | 4    | delivery failed: network, timeout, or the server failed (5xx, 408, 429) |
//! | 130  | interrupted (Ctrl-C or SIGTERM): `send` stopped cleanly and can be resumed |

use std::fmt;

use crate::vocab::source::Source;

/// Exit code: sent, or dry run valid.
pub const EXIT_OK: u8 = 0;
/// Exit code: an unexpected internal or local I/O failure.
pub(crate) const EXIT_INTERNAL: u8 = 1;
/// Exit code: invalid input or configuration; nothing was sent. Clap's usage errors use 2 as well.
pub(crate) const EXIT_INVALID: u8 = 2;
/// Exit code: the server refused the job (4xx).
pub(crate) const EXIT_REFUSED: u8 = 3;
/// Exit code: delivery failed (network, timeout, 5xx).
pub(crate) const EXIT_DELIVERY: u8 = 4;
/// Exit code: interrupted by a signal; the work done so far is recorded.
pub(crate) const EXIT_INTERRUPTED: u8 = 130;

/// One broken rule, described so that the user can fix it without reading the source: the field,
/// the value seen, where it came from, the rule, and the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field: String,
    /// The offending value, already safe to print (never a secret).
    pub value: Option<String>,
    pub source: Option<Source>,
    pub rule: String,
    pub fix: String,
}

impl Problem {
    pub fn new(field: impl Into<String>, rule: impl Into<String>, fix: impl Into<String>) -> Self {
        Problem { field: field.into(), value: None, source: None, rule: rule.into(), fix: fix.into() }
    }

    pub fn value(mut self, value: impl Into<String>) -> Self {
        self.value = Some(value.into());
        self
    }

    pub fn source(mut self, source: Source) -> Self {
        self.source = Some(source);
        self
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.field)?;
        match (&self.value, &self.source) {
            (Some(v), Some(s)) => write!(f, " = {} (from {s})", quote(v))?,
            (Some(v), None) => write!(f, " = {}", quote(v))?,
            (None, Some(s)) => write!(f, " (from {s})")?,
            (None, None) => {}
        }
        write!(f, ": {}\n    fix: {}", self.rule, self.fix)
    }
}

/// Reads a sourced value with `parse`; when it does not parse, records a problem that names the
/// field, the value, its source, the rule and the fix, and gives `None`.
pub fn read<T>(
    v: &crate::vocab::source::Sourced<String>,
    field: &str,
    parse: impl FnOnce(&str) -> Option<T>,
    rule: impl Into<String>,
    fix: impl Into<String>,
    problems: &mut Vec<Problem>,
) -> Option<crate::vocab::source::Sourced<T>> {
    match parse(v.value.trim()) {
        Some(t) => Some(crate::vocab::source::Sourced::new(t, v.source.clone())),
        None => {
            problems.push(Problem::new(field, rule, fix).value(v.value.clone()).source(v.source.clone()));
            None
        }
    }
}

/// Quotes a value for a message, shortening very long ones so one bad value cannot flood a log.
pub(crate) fn quote(value: &str) -> String {
    const MAX: usize = 120;
    if value.chars().count() > MAX {
        let head: String = value.chars().take(MAX).collect();
        format!("{head:?}… ({} characters)", value.chars().count())
    } else {
        format!("{value:?}")
    }
}

/// Why a run ended without success.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// One or more rules were broken; all are listed. Nothing was sent.
    #[error("{} problem{} found, nothing was sent:\n{}", .0.len(), if .0.len() == 1 { "" } else { "s" }, list(.0))]
    Invalid(Vec<Problem>),
    /// The server answered with a 4xx that retrying cannot fix.
    #[error("the server refused the job{}{}", http_status(*.status), with_message(.message))]
    Refused { status: u16, message: String },
    /// The job could not be delivered: network failure, timeout, or a server error.
    #[error("delivery failed: {0}")]
    Delivery(String),
    /// Some records of a bulk send were invalid: they were written to the rejects file, not sent.
    #[error("{0}")]
    Rejected(String),
    /// Stopped by Ctrl-C or SIGTERM after finishing the requests in flight.
    #[error("{0}")]
    Interrupted(String),
    /// Anything else: a bug, or a local I/O failure outside the user's input.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

fn list(problems: &[Problem]) -> String {
    problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n")
}

/// `: HTTP 400`, or nothing for status 0, which stands for "no one status" (a bulk send's
/// summary of many refusals): "HTTP 0" is no status any server sent.
fn http_status(status: u16) -> String {
    if status == 0 {
        String::new()
    } else {
        format!(": HTTP {status}")
    }
}

fn with_message(m: &str) -> String {
    if m.is_empty() {
        String::new()
    } else {
        format!(": {m}")
    }
}

impl Error {
    /// The documented exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Invalid(_) | Error::Rejected(_) => EXIT_INVALID,
            Error::Interrupted(_) => EXIT_INTERRUPTED,
            Error::Refused { .. } => EXIT_REFUSED,
            Error::Delivery(_) => EXIT_DELIVERY,
            Error::Internal(_) => EXIT_INTERNAL,
        }
    }

    /// A single problem as an `Invalid` error.
    pub fn invalid(problem: Problem) -> Self {
        Error::Invalid(vec![problem])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_names_field_value_source_rule_and_fix() {
        let p = Problem::new("service_id", "must be a whole number", "pass --service-id 42")
            .value("abc")
            .source(Source::Flag("--service-id".into()));
        assert_eq!(
            p.to_string(),
            "service_id = \"abc\" (from flag --service-id): must be a whole number\n    fix: pass --service-id 42"
        );
    }

    #[test]
    fn every_error_kind_has_its_own_exit_code() {
        let codes = [
            Error::invalid(Problem::new("a", "b", "c")).exit_code(),
            Error::Refused { status: 400, message: String::new() }.exit_code(),
            Error::Delivery("x".into()).exit_code(),
            Error::Internal(anyhow::anyhow!("x")).exit_code(),
        ];
        assert_eq!(codes, [EXIT_INVALID, EXIT_REFUSED, EXIT_DELIVERY, EXIT_INTERNAL]);
    }

    #[test]
    fn long_values_are_shortened_in_messages() {
        let q = quote(&"x".repeat(500));
        assert!(q.len() < 200, "{q}");
        assert!(q.ends_with("(500 characters)"));
    }
}
