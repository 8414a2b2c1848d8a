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
        }
    }
}

/// Parses epoch seconds (`1704103200`), RFC 3339 (`2024-01-01T10:00:00Z`, `...+02:00`,
/// fractional seconds truncated) or the same with a space for `T`, as Azure writes it
/// (`2020-02-10 13:29:58-05:00`). Returns epoch seconds.
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
        assert!(matches!(parse_time("yesterday"), Err(TimeError::Unreadable(_))));
        assert!(matches!(parse_time(""), Err(TimeError::Unreadable(_))));
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
    fn millis_are_converted_when_the_unit_is_known() {
        assert_eq!(parse_millis("1704103200999"), Ok(1_704_103_200));
        assert!(parse_millis("abc").is_err());
    }
}
