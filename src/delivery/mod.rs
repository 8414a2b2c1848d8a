//! Delivery you can trust: posting one payload with retries, exponential backoff with full jitter,
//! `Retry-After`, and a total deadline; and judging the final answer.
//!
//! Every attempt sends the same body (and so the same `job_id`). A retry after a timeout may
//! duplicate a record if the first request did arrive; that is the lesser evil next to losing a
//! deployment, and the stable `job_id` lets the duplicate be recognised.

pub mod http;
pub mod outbox;
pub mod spool;

use std::time::{Duration, Instant, SystemTime};

use crate::delivery::http::Answer;
use crate::error::Error;
use crate::git::remote;
use crate::output;
use crate::settings::endpoint::{Connection, Endpoint};
use crate::settings::names::{var_name, Key};

/// The first backoff ceiling; it doubles per retry up to [`MAX_BACKOFF`].
const BASE_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(8);
/// The longest `Retry-After` honoured; a longer one is cut to this (and to the deadline).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);
/// An attempt is not started with less time than this left.
const MIN_ATTEMPT: Duration = Duration::from_millis(200);

/// What was learnt from delivering one payload.
pub struct Delivery {
    pub result: Result<Answer, Error>,
    /// The last HTTP status seen, if any answer came.
    pub http_status: Option<u16>,
    pub attempts: u32,
}

/// Posts `body`, retrying transient failures until `deadline` has passed.
pub fn deliver(
    agent: &ureq::Agent,
    conn: &Connection,
    body: &str,
    deadline: Duration,
    throttle: Option<&Throttle>,
) -> Delivery {
    let started = Instant::now();
    let mut attempt = 0u32;
    let mut http_status = None;
    loop {
        attempt += 1;
        if let Some(t) = throttle {
            t.wait();
        }
        let left = deadline.saturating_sub(started.elapsed());
        let timeout = left.min(http::REQUEST_TIMEOUT).max(MIN_ATTEMPT);
        let (verdict, retry_after) = match http::post(agent, conn, body, timeout) {
            Ok(answer) => {
                http_status = Some(answer.status);
                let retry_after = answer.retry_after.as_deref().and_then(|v| parse_retry_after(v, SystemTime::now()));
                (judge(answer, &conn.endpoint), retry_after)
            }
            Err(f) => {
                // Through a proxy, the proxy may be what failed: say which one was used.
                let mut via =
                    conn.transport.proxy_shown.as_deref().map(|p| format!(" (proxy: {p})")).unwrap_or_default();
                // A failure that will not pass is usually TLS: say which roots were trusted.
                if !f.transient {
                    via.push_str(&format!(" (trusting {})", conn.transport.roots_shown));
                }
                let error =
                    Error::Delivery(format!("POST {}{via} failed: {}", remote::redact(&conn.endpoint.url), f.message));
                (if f.transient { Verdict::Retry(error) } else { Verdict::Final(Err(error)) }, None)
            }
        };
        let error = match verdict {
            Verdict::Final(result) => return Delivery { result, http_status, attempts: attempt },
            Verdict::Retry(e) => e,
        };
        // Full jitter: a random wait up to the doubled ceiling spreads retries of many jobs apart.
        let ceiling = BASE_BACKOFF.saturating_mul(1 << (attempt - 1).min(16)).min(MAX_BACKOFF);
        let wait = retry_after.map_or_else(|| ceiling.mul_f64(fastrand::f64()), |r| r.min(MAX_RETRY_AFTER));
        // A 429 speaks for the server, not this request: every sender sharing the throttle waits.
        if let (Some(t), Some(429)) = (throttle, http_status) {
            t.pause(retry_after.map_or(ceiling, |r| r.min(MAX_RETRY_AFTER)));
        }
        let left = deadline.saturating_sub(started.elapsed());
        if wait + MIN_ATTEMPT > left {
            let error = match error {
                Error::Delivery(m) => Error::Delivery(format!(
                    "{m} (gave up after {attempt} attempt{} in {:.1} s; the deadline is {} s, set by --deadline or {})",
                    if attempt == 1 { "" } else { "s" },
                    started.elapsed().as_secs_f64(),
                    deadline.as_secs(),
                    var_name(Key::Deadline)
                )),
                other => other,
            };
            return Delivery { result: Err(error), http_status, attempts: attempt };
        }
        output::info(&format!("attempt {attempt} failed: {error}; retrying in {:.1} s", wait.as_secs_f64()));
        std::thread::sleep(wait);
    }
}

/// A pause shared by concurrent senders, set when the server answers 429.
#[derive(Default)]
pub struct Throttle {
    until: std::sync::Mutex<Option<Instant>>,
}

impl Throttle {
    /// Waits until no pause is in force.
    pub fn wait(&self) {
        loop {
            let until = self.until.lock().map(|u| *u).unwrap_or(None);
            match until {
                Some(t) if t > Instant::now() => std::thread::sleep(t - Instant::now()),
                _ => return,
            }
        }
    }

    /// Pauses every sender for `d` from now (never shortening a longer pause).
    pub fn pause(&self, d: Duration) {
        if let Ok(mut until) = self.until.lock() {
            let new = Instant::now() + d;
            if until.is_none_or(|u| u < new) {
                *until = Some(new);
            }
        }
    }
}

enum Verdict {
    Final(Result<Answer, Error>),
    Retry(Error),
}

/// 2xx is delivered; 408, 429 and 5xx may pass; anything else is final.
fn judge(answer: Answer, endpoint: &Endpoint) -> Verdict {
    let message = http::excerpt(&answer.body, 300);
    match answer.status {
        200..=299 => Verdict::Final(Ok(answer)),
        408 | 429 | 500..=599 => Verdict::Retry(Error::Delivery(format!("the server answered HTTP {}: {message}", answer.status))),
        300..=399 => Verdict::Final(Err(Error::Refused {
            status: answer.status,
            message: format!(
                "{} redirects to {}; redirects are not followed so the token stays with the configured host. Set the URL to the final address",
                remote::redact(&endpoint.url),
                answer.location.as_deref().map_or("(no Location)".to_owned(), remote::redact)
            ),
        })),
        401 | 403 => Verdict::Final(Err(Error::Refused {
            status: answer.status,
            message: format!("the token was refused (check {}); server said: {message}", var_name(Key::Token)),
        })),
        status => Verdict::Final(Err(Error::Refused { status, message })),
    }
}

/// Reads `Retry-After`: delay-seconds, or an HTTP date (how long from `now`).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = jiff::fmt::rfc2822::parse(v).ok()?.timestamp();
    let now = jiff::Timestamp::try_from(now).ok()?;
    let secs = when.as_second().saturating_sub(now.as_second());
    Some(Duration::from_secs(u64::try_from(secs).unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_470); // 2015-10-21T07:27:50Z
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now), Some(Duration::from_secs(10)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO),
            "a past date means now"
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
