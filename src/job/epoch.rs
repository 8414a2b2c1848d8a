//! Points in time as epoch seconds: parsing what users and CI systems write, and the clock.

use std::time::{SystemTime, UNIX_EPOCH};

/// Epoch seconds at or above this are read as milliseconds by mistake: 10^11 seconds is the year
/// 5138, while 10^11 milliseconds is 1973, so no real job start is ambiguous.
pub const MILLIS_THRESHOLD: i64 = 100_000_000_000;

/// Why a time could not be read. The texts complete "job_start_time ... ".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("looks like milliseconds since the epoch ({iso}), but seconds are expected")]
    Milliseconds { iso: String, seconds: i64 },
    #[error("is before 1970; epoch seconds must not be negative")]
    Negative,
    #[error("is neither epoch seconds nor an RFC 3339 time ({0})")]
    Unreadable(String),
    #[error("is a date and time without a UTC offset, so the moment is ambiguous")]
    NoOffset,
    #[error("is after the year 5138, which no job start is")]
    TooLate,
    #[error("is neither epoch seconds nor an RFC 3339 time: {0}")]
    NotRfc3339(String),
    #[error("has the UTC offset {0}, beyond the ±23:59 RFC 3339 allows")]
    Offset(String),
    #[error("is {iso}, before {earliest}, earlier than any CI job")]
    TooEarly { iso: String, earliest: String },
    #[error("is {iso}, {ahead} s in the future (more than the {skew} s of clock skew allowed)")]
    Future { iso: String, ahead: i64, skew: i64 },
}

impl TimeError {
    /// How to fix the value.
    pub fn fix(&self) -> String {
        match self {
            TimeError::Milliseconds { seconds, .. } => {
                format!("divide by 1000: use {seconds}")
            }
            TimeError::Negative => "give a time after 1970-01-01T00:00:00Z".to_owned(),
            TimeError::Unreadable(_) => "give epoch seconds (1704103200) or RFC 3339 (2024-01-01T10:00:00Z)".to_owned(),
            TimeError::NoOffset => "add Z for UTC or an offset such as +02:00".to_owned(),
            TimeError::TooLate => {
                "check the year; give epoch seconds or RFC 3339 such as 2024-01-01T10:00:00Z".to_owned()
            }
            TimeError::NotRfc3339(_) => {
                "write YYYY-MM-DDTHH:MM:SS[.fraction] then Z or ±HH:MM, e.g. 2024-01-01T10:00:00Z, or give epoch seconds".to_owned()
            }
            TimeError::Offset(_) => "give an offset from -23:59 to +23:59, e.g. +02:00, or Z for UTC".to_owned(),
            TimeError::TooEarly { .. } => {
                "give the job's real start (epoch seconds or RFC 3339); 0 or a small number is no start time".to_owned()
            }
            TimeError::Future { .. } => {
                "give the job's real start; check the clock of the machine that recorded it".to_owned()
            }
        }
    }
}

/// The earliest job start accepted, 2000-01-01T00:00:00Z: no CI system ran jobs before, and a
/// start of 0 or a small number is a mistake (a 57-year job), not a time.
pub const EARLIEST_START: i64 = 946_684_800;
/// How far ahead of this machine's clock a job's start (or end) may be: clock skew between the
/// machine that recorded it and this one.
pub const CLOCK_SKEW: i64 = 300;

/// Checks that `start` (epoch seconds) is a time a job can have begun at, when the clock says
/// `now`: not before [`EARLIEST_START`], not more than [`CLOCK_SKEW`] ahead of `now`.
pub fn check_start(start: i64, now: i64) -> Result<i64, TimeError> {
    if start < EARLIEST_START {
        return Err(TimeError::TooEarly { iso: to_rfc3339(start), earliest: to_rfc3339(EARLIEST_START) });
    }
    if start > now.saturating_add(CLOCK_SKEW) {
        return Err(TimeError::Future { iso: to_rfc3339(start), ahead: start - now, skew: CLOCK_SKEW });
    }
    Ok(start)
}

/// Checks the shape RFC 3339 (section 5.6) gives a date-time: `YYYY-MM-DD`, `T` (or `t`, or a
/// space as its note allows and Azure writes), `HH:MM:SS`, an optional fraction, then `Z` (or
/// `z`) or `±HH:MM` with an offset below 24 hours. The calendar (month lengths, hours) is
/// jiff's to check.
fn check_rfc3339(text: &str) -> Result<(), TimeError> {
    let b = text.as_bytes();
    let digits = |from: usize, to: usize| b.get(from..to).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    let at = |i: usize, c: &[u8]| b.get(i).is_some_and(|x| c.contains(x));
    let shape = digits(0, 4)
        && at(4, b"-")
        && digits(5, 7)
        && at(7, b"-")
        && digits(8, 10)
        && at(10, b"Tt ")
        && digits(11, 13)
        && at(13, b":")
        && digits(14, 16)
        && at(16, b":")
        && digits(17, 19);
    if !shape {
        return Err(TimeError::NotRfc3339("the date and time must read YYYY-MM-DDTHH:MM:SS".to_owned()));
    }
    let mut i = 19;
    if at(i, b".") {
        i += 1;
        let start = i;
        while at(i, b"0123456789") {
            i += 1;
        }
        if i == start {
            return Err(TimeError::NotRfc3339("a fraction of a second needs digits after the dot".to_owned()));
        }
    }
    match &b[i..] {
        [] => Err(TimeError::NoOffset),
        [b'Z' | b'z'] => Ok(()),
        [b'+' | b'-', h1, h2, b':', m1, m2] if [h1, h2, m1, m2].iter().all(|d| d.is_ascii_digit()) => {
            let hours = (h1 - b'0') * 10 + (h2 - b'0');
            let minutes = (m1 - b'0') * 10 + (m2 - b'0');
            if hours > 23 || minutes > 59 {
                Err(TimeError::Offset(text[i..].to_owned()))
            } else {
                Ok(())
            }
        }
        _ => Err(TimeError::NotRfc3339(format!("the offset {:?} must be Z or ±HH:MM", &text[i..]))),
    }
}

/// Parses epoch seconds (`1704103200`), RFC 3339 (`2024-01-01T10:00:00Z`, `...+02:00`,
/// fractional seconds truncated) or the same with a space for `T`, as Azure writes it
/// (`2020-02-10 13:29:58-05:00`), and nothing else RFC 3339 does not allow. Returns epoch
/// seconds.
pub fn parse_time(text: &str) -> Result<i64, TimeError> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let n: i64 = text.parse().map_err(|_| TimeError::Unreadable("too large".to_owned()))?;
        return check_seconds(n);
    }
    if let Some(rest) = text.strip_prefix('-') {
        if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()) {
            return Err(TimeError::Negative);
        }
    }
    check_rfc3339(text)?;
    match text.parse::<jiff::Timestamp>() {
        Ok(ts) => {
            let s = ts.as_second();
            if s < 0 {
                Err(TimeError::Negative)
            } else if s >= MILLIS_THRESHOLD {
                // The same bound as for digits: no real job starts after the year 5138.
                Err(TimeError::TooLate)
            } else {
                Ok(s)
            }
        }
        Err(e) => {
            // A civil datetime that parses but lacks an offset gets a precise message; one that
            // has an offset failed for another reason (out of range), which jiff names.
            if text.parse::<jiff::civil::DateTime>().is_ok() && !has_offset(text) {
                Err(TimeError::NoOffset)
            } else {
                Err(TimeError::Unreadable(e.to_string()))
            }
        }
    }
}

/// Whether a date-time ends in `Z` or a numeric offset (`+02:00`, `-0500`).
fn has_offset(text: &str) -> bool {
    if text.ends_with(['Z', 'z']) {
        return true;
    }
    let tail: Vec<char> = text.chars().rev().take(6).collect();
    let digits = |cs: &[char]| cs.iter().all(char::is_ascii_digit);
    // Reversed: "00:20+" or "0050-".
    (tail.len() == 6 && digits(&tail[..2]) && tail[2] == ':' && digits(&tail[3..5]) && matches!(tail[5], '+' | '-'))
        || (tail.len() >= 5 && digits(&tail[..4]) && matches!(tail[4], '+' | '-'))
}

/// Parses an epoch count that the caller knows is in milliseconds (CodeBuild, Jenkins'
/// `startTimeInMillis`) into seconds.
pub fn parse_millis(text: &str) -> Result<i64, TimeError> {
    let text = text.trim();
    let n: i64 =
        text.parse().map_err(|_| TimeError::Unreadable(format!("{text:?} is not a whole number of milliseconds")))?;
    if n < 0 {
        return Err(TimeError::Negative);
    }
    Ok(n / 1000)
}

fn check_seconds(n: i64) -> Result<i64, TimeError> {
    if n >= MILLIS_THRESHOLD {
        let seconds = n / 1000;
        let iso = jiff::Timestamp::from_second(seconds).map(|t| t.to_string()).unwrap_or_default();
        return Err(TimeError::Milliseconds { iso, seconds });
    }
    Ok(n)
}

/// Epoch seconds as RFC 3339, for messages.
pub fn to_rfc3339(seconds: i64) -> String {
    jiff::Timestamp::from_second(seconds).map(|t| t.to_string()).unwrap_or_else(|_| seconds.to_string())
}

/// The current time in epoch seconds.
pub fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_seconds_are_taken_as_they_are() {
        assert_eq!(parse_time("1704103200"), Ok(1_704_103_200));
        assert_eq!(parse_time(" 0 "), Ok(0));
    }

    #[test]
    fn rfc3339_with_z_offsets_and_fractions() {
        assert_eq!(parse_time("2024-01-01T10:00:00Z"), Ok(1_704_103_200));
        assert_eq!(parse_time("2024-01-01T12:00:00+02:00"), Ok(1_704_103_200));
        assert_eq!(parse_time("2024-01-01T05:00:00-05:00"), Ok(1_704_103_200));
        assert_eq!(parse_time("2024-01-01T10:00:00.987Z"), Ok(1_704_103_200));
        assert_eq!(parse_time("2022-01-31T16:47:55Z"), Ok(1_643_647_675));
    }

    #[test]
    fn azure_style_space_separated_times_parse() {
        assert_eq!(parse_time("2020-02-10 13:29:58-05:00"), Ok(1_581_359_398));
    }

    #[test]
    fn milliseconds_are_an_error_that_says_so() {
        let err = parse_time("1704103200000").expect_err("milliseconds must be refused");
        assert!(matches!(err, TimeError::Milliseconds { seconds: 1_704_103_200, .. }), "{err:?}");
        assert!(err.to_string().contains("milliseconds"));
        assert!(err.fix().contains("1704103200"));
    }

    #[test]
    fn missing_offsets_and_garbage_are_errors() {
        assert_eq!(parse_time("2024-01-01T10:00:00"), Err(TimeError::NoOffset));
        assert!(matches!(parse_time("yesterday"), Err(TimeError::NotRfc3339(_))));
        assert!(matches!(parse_time(""), Err(TimeError::NotRfc3339(_))));
        assert_eq!(parse_time("-5"), Err(TimeError::Negative));
        assert_eq!(parse_time("1969-12-31T23:59:59Z"), Err(TimeError::Negative));
    }

    #[test]
    fn offsets_are_recognised_so_out_of_range_times_are_not_called_offsetless() {
        assert!(
            has_offset("2024-01-01T10:00:00Z")
                && has_offset("2024-01-01 10:00:00+02:00")
                && has_offset("2024-01-01T10:00:00-0500")
        );
        assert!(!has_offset("2024-01-01T10:00:00"));
        assert!(matches!(parse_time("9999-12-31 23:59:59+00:00"), Err(TimeError::TooLate | TimeError::Unreadable(_))));
        assert_eq!(parse_time("5138-11-16T09:46:40Z"), Err(TimeError::TooLate));
    }

    #[test]
    fn only_rfc_3339_is_read_and_offsets_stay_below_24_hours() {
        assert_eq!(parse_time("2024-01-01t10:00:00z"), Ok(1_704_103_200), "RFC 3339 allows t and z");
        assert_eq!(parse_time("2024-01-01T10:00:00+23:59"), Ok(1_704_103_200 - 23 * 3600 - 59 * 60));
        assert_eq!(parse_time("2024-01-01T10:00:00-23:59"), Ok(1_704_103_200 + 23 * 3600 + 59 * 60));
        for offset in ["+24:00", "+25:00", "-24:00", "+12:60"] {
            let text = format!("2024-01-01T10:00:00{offset}");
            assert_eq!(parse_time(&text), Err(TimeError::Offset(offset.to_owned())), "{text}");
        }
        for text in [
            "2024-01-01T10:00:00+0200",  // basic offset: ISO 8601, not RFC 3339
            "2024-01-01T10:00Z",         // no seconds
            "2024-01-01T10:00:00.Z",     // a dot with no digits
            "2024-001T10:00:00Z",        // ordinal date
            "2024-W01-1T10:00:00Z",      // week date
            "20240101T100000Z",          // basic format
            "2024-01-01T10:00:00Z junk", // trailing text
            "2024-01-01T10:00:00+02",    // offset without minutes
            "+002024-01-01T10:00:00Z",   // expanded year
        ] {
            assert!(matches!(parse_time(text), Err(TimeError::NotRfc3339(_))), "{text}: {:?}", parse_time(text));
        }
        assert!(matches!(parse_time("2024-02-30T10:00:00Z"), Err(TimeError::Unreadable(_))), "no 30 February");
    }

    #[test]
    fn start_bounds_are_2000_and_a_few_minutes_ahead_of_the_clock() {
        let now = 1_704_103_200;
        assert!(matches!(check_start(0, now), Err(TimeError::TooEarly { .. })));
        assert!(matches!(check_start(EARLIEST_START - 1, now), Err(TimeError::TooEarly { .. })));
        assert_eq!(check_start(EARLIEST_START, now), Ok(EARLIEST_START));
        assert_eq!(check_start(now + CLOCK_SKEW, now), Ok(now + CLOCK_SKEW));
        let err = check_start(now + CLOCK_SKEW + 1, now).expect_err("future");
        assert!(err.to_string().contains("301 s in the future"), "{err}");
    }

    #[test]
    fn millis_are_converted_when_the_unit_is_known() {
        assert_eq!(parse_millis("1704103200999"), Ok(1_704_103_200));
        assert!(parse_millis("abc").is_err());
    }
}
