//! Inputs that made a fuzz target (fuzz/, ci/fuzz.sh) fail, each kept as the smallest test that
//! shows the same fault through the public API. A new crash gets its test here before its fix.

use customcd::job::epoch;
use customcd::job::{self, Inputs};
use customcd::vocab::names::{flag_name, Key, Layer, Stack};
use customcd::vocab::source::{Source, Sourced};

/// Epoch seconds from 10^11 up are read as milliseconds (see `epoch::parse_time`), so no accepted
/// time may be there, whichever way it was written.
const MILLIS_THRESHOLD: i64 = 100_000_000_000;

/// fuzz target `time`, artifact crash-156117968a17f0d136664f0ec7e6de47b6799300
/// (`6024-01-02T011011Z`), and four more inputs with the same cause: an RFC 3339 time at or after
/// 5138-11-16T09:46:40Z (= 10^11 s) was accepted, while the same moment as digits is refused.
#[test]
fn rfc3339_times_from_10_pow_11_seconds_on_are_refused_like_digits() {
    for text in [
        "5138-11-16T09:46:40Z",
        "6024-01-02T011011Z",
        "8024-01-01T10+02:02:00",
        "9680-02-10 13:29:50,24-10",
        "9999-12-30T00:00:00Z",
    ] {
        let got = epoch::parse_time(text);
        assert!(
            !matches!(got, Ok(t) if t >= MILLIS_THRESHOLD),
            "parse_time({text:?}) = {got:?}: accepted at or beyond 10^11 seconds"
        );
    }
    assert!(epoch::parse_time("100000000000").is_err());
    assert_eq!(epoch::parse_time("5138-11-16T09:46:39Z"), Ok(MILLIS_THRESHOLD - 1));
}

/// The same fault, one level up: such a start time went into the body of an accepted job.
#[test]
fn a_job_starting_in_the_year_6024_is_refused() {
    let mut layer = Layer::default();
    for (k, v) in [
        (Key::CommitSha, "a2e7da86cc392417b0d9f605b28038aae80b002f"),
        (Key::ServiceId, "2"),
        (Key::JobStartTime, "6024-01-02T01:10:11Z"),
        (Key::JobDuration, "300"),
        (Key::Status, "success"),
        (Key::RepoName, "acme/app"),
    ] {
        layer.set(k, Sourced::new(v.to_owned(), Source::Flag(flag_name(k))));
    }
    let mut stack = Stack::default();
    stack.push(layer);
    let result = job::resolve(&Inputs {
        stack: &stack,
        optional: &[],
        git_error: None,
        now: 1_700_000_000,
        hints: &[],
        context: Vec::new(),
        primary: Vec::new(),
        change_set: None,
    });
    match result {
        Ok(job) => panic!("accepted; the body would be {}", job.body()),
        Err(problems) => {
            let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
            assert_eq!(fields, ["job_start_time"], "{problems:?}");
        }
    }
}
