//! Provenance: where a configuration value came from, so every message and the dry run can say so.

use std::fmt;

/// Where one value was read from. Every resolved field carries one, so that an error can tell the
/// user which flag, variable, CI variable or git fact to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A command-line flag, named as the user typed it (`--service-id`).
    Flag(String),
    /// A `CUSTOMCD_*` environment variable.
    Var(String),
    /// A GitHub Action input, read from its `INPUT_*` variable.
    Input(String),
    /// A variable (or file) of the detected CI system, e.g. `GitHub Actions GITHUB_SHA`.
    Ci { system: &'static str, detail: String },
    /// The local git repository, e.g. `git HEAD of /src/app`.
    Git(String),
    /// A payload file given to `customcd send`.
    File(String),
    /// A start time recorded earlier by `customcd start`.
    State(String),
    /// Computed by customcd when nothing else gave a value; the text says how.
    Default(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag(name) => write!(f, "flag {name}"),
            Source::Var(name) => write!(f, "variable {name}"),
            Source::Input(name) => write!(f, "action input {name}"),
            Source::Ci { system, detail } => write!(f, "{system} {detail}"),
            Source::Git(detail) => write!(f, "git {detail}"),
            Source::File(path) => write!(f, "file {path}"),
            Source::State(detail) => write!(f, "customcd start ({detail})"),
            Source::Default(how) => write!(f, "default ({how})"),
        }
    }
}

/// A value together with the place it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sourced<T> {
    pub value: T,
    pub source: Source,
}

impl<T> Sourced<T> {
    pub fn new(value: T, source: Source) -> Self {
        Sourced { value, source }
    }

    /// Keeps the source while transforming the value.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Sourced<U> {
        Sourced { value: f(self.value), source: self.source }
    }
}
