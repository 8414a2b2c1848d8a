//! Delivery you can trust: posting one payload with retries, exponential backoff with full jitter,
//! `Retry-After`, and a total deadline; and judging the final answer.
//!
//! Every attempt sends the same body (and so the same `job_id`). A retry after a timeout may
//! duplicate a record if the first request did arrive; that is the lesser evil next to losing a
//! deployment, and the stable `job_id` lets the duplicate be recognised.
//!
//! Layer: delivery (see tests/integration/layers.rs). May import: vocab, env, fs, secret, git,
//! error, output, settings.

pub(crate) mod http;
pub(crate) mod outbox;
pub(crate) mod spool;

use std::time::{Duration, Instant, SystemTime};

use crate::delivery::http::Answer;
use crate::error::Error;
use crate::git::remote;
use crate::output;
use crate::settings::endpoint::Connection;
use crate::vocab::names::{var_name, Key};

/// The first backoff ceiling; it doubles per retry up to [`MAX_BACKOFF`].
const BASE_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(8);
/// The longest `Retry-After` honoured; a longer one is cut to this (and to the deadline).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);
/// The shortest `Retry-After` honoured: `0`, a date in the past or a tiny value must not make
/// retries come faster than this (it would be a storm: thousands of requests a second).
const MIN_RETRY_AFTER: Duration = Duration::from_secs(1);
/// An attempt is not started with less time than this left.
const MIN_ATTEMPT: Duration = Duration::from_millis(200);

/// What was learnt from delivering one payload.
pub(crate) struct Delivery {
    pub result: Result<Answer, Error>,
    /// The last HTTP status seen, if any answer came.
    pub http_status: Option<u16>,
    pub attempts: u32,
}

/// How long to wait before the next attempt: full jitter under `ceiling` (a random wait spreads
/// the retries of many jobs apart), or what the server asked for with `Retry-After`, but never
/// less than the jittered wait nor [`MIN_RETRY_AFTER`], and never more than [`MAX_RETRY_AFTER`].
pub(crate) fn retry_wait(ceiling: Duration, jitter: f64, retry_after: Option<Duration>) -> Duration {
    let backoff = ceiling.mul_f64(jitter.clamp(0.0, 1.0));
    match retry_after {
        Some(asked) => asked.clamp(MIN_RETRY_AFTER, MAX_RETRY_AFTER).max(backoff),
        None => backoff,
    }
}

/// The failures seen so far, by cause, in the order they first came.
#[derive(Default)]
struct Causes(Vec<(String, u32)>);

impl Causes {
    /// Counts `cause`; true when it is the same as the one before.
    fn add(&mut self, cause: String) -> bool {
        let again = self.0.last().is_some_and(|(c, _)| *c == cause);
        match self.0.iter_mut().find(|(c, _)| *c == cause) {
            Some((_, n)) => *n += 1,
            None => self.0.push((cause, 1)),
        }
        again
    }

    /// `3 × HTTP 503, 1 × connection refused by 127.0.0.1:8080`.
    fn summary(&self) -> String {
        self.0.iter().map(|(c, n)| format!("{n} × {c}")).collect::<Vec<_>>().join(", ")
    }
}

/// Posts `body`, retrying transient failures until `deadline` has passed.
///
/// The first failure is told in full; a retry that failed the same way again gets a short line
/// naming the cause, and the final error counts every cause.
pub(crate) fn deliver(
    agent: &ureq::Agent,
    conn: &Connection,
    body: &str,
    deadline: Duration,
    throttle: Option<&Throttle>,
) -> Delivery {
    let started = Instant::now();
    let mut attempt = 0u32;
    let mut http_status = None;
    let mut causes = Causes::default();
    loop {
        attempt += 1;
        if let Some(t) = throttle {
            t.wait();
        }
        let left = deadline.saturating_sub(started.elapsed());
        let timeout = left.min(http::REQUEST_TIMEOUT).max(MIN_ATTEMPT);
        let (verdict, retry_after, cause, status) = match http::post(agent, conn, body, timeout) {
            Ok(answer) => {
                http_status = Some(answer.status);
                let status = answer.status;
                let retry_after = answer.retry_after.as_deref().and_then(|v| parse_retry_after(v, SystemTime::now()));
                (judge(answer, conn), retry_after, format!("HTTP {status}"), Some(status))
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
                (if f.transient { Verdict::Retry(error) } else { Verdict::Final(Err(error)) }, None, f.cause, None)
            }
        };
        let error = match verdict {
            Verdict::Final(result) => return Delivery { result, http_status, attempts: attempt },
            Verdict::Retry(e) => e,
        };
        let again = causes.add(cause.clone());
        let ceiling = BASE_BACKOFF.saturating_mul(1 << (attempt - 1).min(16)).min(MAX_BACKOFF);
        let wait = retry_wait(ceiling, fastrand::f64(), retry_after);
        // A 429 speaks for the server, not this request: every sender sharing the throttle waits.
        if let (Some(t), Some(429)) = (throttle, status) {
            t.pause(retry_wait(ceiling, 1.0, retry_after));
        }
        let left = deadline.saturating_sub(started.elapsed());
        if wait + MIN_ATTEMPT > left {
            let error = match error {
                Error::Delivery(m) => Error::Delivery(format!(
                    "{m} (gave up after {attempt} attempt{} in {:.1} s{}; the deadline is {} s, set by --deadline or {})",
                    if attempt == 1 { "" } else { "s" },
                    started.elapsed().as_secs_f64(),
                    if attempt == 1 { String::new() } else { format!(": {}", causes.summary()) },
                    deadline.as_secs(),
                    var_name(Key::Deadline)
                )),
                other => other,
            };
            return Delivery { result: Err(error), http_status, attempts: attempt };
        }
        if again {
            output::info(&format!("attempt {attempt} failed again ({cause}); retrying in {:.1} s", wait.as_secs_f64()));
        } else {
            // The error's own words without the "delivery failed:" every delivery error starts with.
            let told = match &error {
                Error::Delivery(m) => m.clone(),
                other => other.to_string(),
            };
            output::info(&format!("attempt {attempt} failed: {told}; retrying in {:.1} s", wait.as_secs_f64()));
        }
        std::thread::sleep(wait);
    }
}

/// A pause shared by concurrent senders, set when the server answers 429.
#[derive(Default)]
pub(crate) struct Throttle {
    until: std::sync::Mutex<Option<Instant>>,
}

impl Throttle {
    /// Waits until no pause is in force.
    pub(crate) fn wait(&self) {
        loop {
            let until = self.until.lock().map(|u| *u).unwrap_or(None);
            match until {
                Some(t) if t > Instant::now() => std::thread::sleep(t - Instant::now()),
                _ => return,
            }
        }
    }

    /// Pauses every sender for `d` from now (never shortening a longer pause).
    pub(crate) fn pause(&self, d: Duration) {
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
fn judge(answer: Answer, conn: &Connection) -> Verdict {
    let endpoint = &conn.endpoint;
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
            message: format!("the token was refused ({}); server said: {message}", token_hint(conn)),
        })),
        407 => Verdict::Final(Err(Error::Refused {
            status: answer.status,
            message: format!(
                "a proxy between here and the server wants credentials (407 Proxy Authentication Required): give them \
                 in the proxy URL, http://USER:PASSWORD@HOST:PORT; server said: {message}"
            ),
        })),
        status => Verdict::Final(Err(Error::Refused { status, message })),
    }
}

/// Where to look when the token was refused: the source it actually came from (the flag, the
/// file, the variable or the action input), else the usual variable.
fn token_hint(conn: &Connection) -> String {
    match conn.token.origin() {
        Some(origin) => format!(
            "it came from {origin}: check that it is the current token and may post to this company, or set {}",
            var_name(Key::Token)
        ),
        None => format!("check {}", var_name(Key::Token)),
    }
}

/// Reads `Retry-After`: delay-seconds, or an HTTP date (how long from `now`). A fraction of a
/// second (`0.5`, not in the standard but seen) is read too, so that it meets the floor in
/// [`retry_wait`] rather than being ignored.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = v.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).ok();
    }
    let when = jiff::fmt::rfc2822::parse(v).ok()?.timestamp();
    let now = jiff::Timestamp::try_from(now).ok()?;
    let secs = when.as_second().saturating_sub(now.as_second());
    Some(Duration::from_secs(u64::try_from(secs).unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::Env;
    use crate::secret::Token;
    use crate::settings::endpoint::{self, Switches};
    use crate::vocab::names::Stack;
    use crate::vocab::source::Source;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::sync::mpsc;
    use std::sync::{Arc, Mutex};

    /// A server on 127.0.0.1 that answers one request per connection with the next of `answers`
    /// (a status and extra header lines), then stops listening. It notes when each request came.
    fn scripted(answers: &[(u16, &str)]) -> (String, Arc<Mutex<Vec<Instant>>>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let port = listener.local_addr().expect("an address").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (log, answers): (_, Vec<(u16, String)>) =
            (seen.clone(), answers.iter().map(|(s, h)| (*s, (*h).to_owned())).collect());
        std::thread::spawn(move || {
            for (status, extra) in answers {
                let Ok((mut stream, _)) = listener.accept() else { return };
                let mut reader = BufReader::new(stream.try_clone().expect("a second handle"));
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some((k, v)) = line.split_once(':') {
                        if k.eq_ignore_ascii_case("content-length") {
                            length = v.trim().parse().unwrap_or(0);
                        }
                    }
                }
                let _ = reader.read_exact(&mut vec![0; length]);
                log.lock().expect("lock").push(Instant::now());
                let _ =
                    write!(stream, "HTTP/1.1 {status} X\r\n{extra}Content-Length: 2\r\nConnection: close\r\n\r\n{{}}");
            }
        });
        (format!("http://127.0.0.1:{port}/webhook/company/1/cicd_job"), seen)
    }

    /// A checked connection to `url`, its token from CUSTOMCD_TOKEN.
    fn connection(url: &str) -> Connection {
        let stack = Stack::of(&[(Key::Url, url), (Key::Token, "tok-test-1234")], |k| Source::Var(var_name(k)));
        let mut problems = Vec::new();
        endpoint::resolve(&stack, &Env::default(), Switches::default(), true, &mut problems)
            .connection
            .expect("a valid connection")
    }

    /// `deliver` run on a thread, so that a delivery that never ends fails the test instead of
    /// hanging it.
    fn deliver_within(url: &str, deadline: Duration, throttle: Option<Arc<Throttle>>, limit: Duration) -> Delivery {
        let conn = connection(url);
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let agent = http::agent(&conn.transport);
            let _ = tx.send(deliver(&agent, &conn, "{}", deadline, throttle.as_deref()));
        });
        rx.recv_timeout(limit).expect("the delivery ended in time")
    }

    #[test]
    fn a_retried_delivery_counts_its_attempts_and_ends_with_the_servers_answer() {
        let (url, _) = scripted(&[(503, ""), (503, ""), (200, "")]);
        let d = deliver_within(&url, Duration::from_secs(20), None, Duration::from_secs(15));
        assert!(d.result.is_ok(), "{:?}", d.result.err());
        assert_eq!((d.attempts, d.http_status), (3, Some(200)));
    }

    #[test]
    fn only_a_failure_that_retrying_cannot_fix_names_the_roots_it_trusted() {
        // Connection refused is transient: retrying may pass once the server is up.
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port();
        let url = format!("http://127.0.0.1:{port}/webhook/company/1/cicd_job");
        let d = deliver_within(&url, Duration::from_millis(500), None, Duration::from_secs(10));
        let message = d.result.expect_err("refused").to_string();
        assert!(message.contains("connection refused"), "{message}");
        assert!(!message.contains("trusting"), "{message}");
    }

    #[test]
    fn the_backoff_ceiling_starts_at_half_a_second_and_doubles_as_a_429_pause_shows() {
        // After a 429 every sender sharing the throttle waits the whole ceiling (no jitter), so
        // the gaps between the requests show the ceiling of each retry.
        let (url, seen) = scripted(&[(429, ""), (429, ""), (200, "")]);
        let throttle = Arc::new(Throttle::default());
        let d = deliver_within(&url, Duration::from_secs(20), Some(throttle), Duration::from_secs(15));
        assert_eq!(d.attempts, 3);
        let at = seen.lock().expect("lock").clone();
        let (first, second) = (at[1] - at[0], at[2] - at[1]);
        assert!(first >= Duration::from_millis(450) && first < Duration::from_millis(900), "{first:?}");
        assert!(second >= Duration::from_millis(950) && second < Duration::from_millis(1600), "{second:?}");
    }

    #[test]
    fn a_retry_that_could_not_start_with_time_to_spare_before_the_deadline_is_not_tried() {
        // Retry-After: 1 makes the wait exactly a second; with 1.1 s left, the next attempt would
        // start with less than MIN_ATTEMPT to go, so the first failure is the last.
        let (url, seen) = scripted(&[(503, "Retry-After: 1\r\n"), (503, "Retry-After: 1\r\n"), (503, "")]);
        let started = Instant::now();
        let d = deliver_within(&url, Duration::from_millis(1100), None, Duration::from_secs(10));
        assert_eq!(d.attempts, 1, "{:?}", d.result.as_ref().err());
        assert_eq!(seen.lock().expect("lock").len(), 1);
        assert!(started.elapsed() < Duration::from_millis(900), "gave up at once: {:?}", started.elapsed());
        let message = d.result.expect_err("a failure").to_string();
        assert!(message.contains("gave up after 1 attempt in"), "{message}");
    }

    /// How long `t.wait()` took, failing the test when it takes more than five seconds.
    fn waiting(t: &Arc<Throttle>) -> Duration {
        let (t, (tx, rx)) = (t.clone(), mpsc::channel());
        std::thread::spawn(move || {
            let started = Instant::now();
            t.wait();
            let _ = tx.send(started.elapsed());
        });
        rx.recv_timeout(Duration::from_secs(5)).expect("the wait ended")
    }

    #[test]
    fn a_pause_holds_every_sender_until_it_ends_and_a_shorter_pause_never_shortens_it() {
        let t = Arc::new(Throttle::default());
        // Loose bounds: what these two lines catch is a wait that never ends (`waiting` fails it).
        assert!(waiting(&t) < Duration::from_millis(300), "no pause, no wait");
        t.pause(Duration::from_millis(100));
        t.pause(Duration::from_millis(400));
        t.pause(Duration::from_millis(50));
        let held = waiting(&t);
        assert!(held >= Duration::from_millis(350) && held < Duration::from_secs(2), "{held:?}");
        assert!(waiting(&t) < Duration::from_millis(300), "a pause that ended holds nobody");
    }

    #[test]
    fn a_refused_token_is_traced_to_where_it_came_from_or_else_to_the_variable() {
        let refused = || Answer { status: 401, body: "no".to_owned(), location: None, retry_after: None };
        let message = |conn: &Connection| match judge(refused(), conn) {
            Verdict::Final(Err(e)) => e.to_string(),
            _ => panic!("a 401 is a final refusal"),
        };
        let mut conn = connection("http://127.0.0.1:9/webhook/company/1/cicd_job");
        let traced = message(&conn);
        assert!(
            traced.contains("it came from variable CUSTOMCD_TOKEN: check that it is the current token"),
            "{traced}"
        );
        conn.token = Token::new("tok-test-1234").expect("a token");
        assert!(message(&conn).contains("(check CUSTOMCD_TOKEN)"), "{}", message(&conn));
    }

    #[test]
    fn retry_after_never_waits_less_than_a_second_nor_the_backoff_nor_more_than_the_cap() {
        let s = Duration::from_secs;
        let ceiling = s(4);
        assert_eq!(retry_wait(ceiling, 0.0, Some(Duration::ZERO)), s(1), "Retry-After: 0 has a floor");
        assert_eq!(retry_wait(ceiling, 0.0, Some(Duration::from_millis(10))), s(1));
        assert_eq!(retry_wait(ceiling, 0.75, Some(Duration::ZERO)), s(3), "and the backoff is a floor too");
        assert_eq!(retry_wait(ceiling, 0.1, Some(s(7))), s(7), "a longer wait asked for is honoured");
        assert_eq!(retry_wait(ceiling, 0.0, Some(s(3600))), s(30), "up to the cap");
        assert_eq!(retry_wait(ceiling, 0.5, None), s(2), "without Retry-After: the jittered backoff");
    }

    #[test]
    fn causes_are_counted_in_the_order_they_came() {
        let mut c = Causes::default();
        assert!(!c.add("HTTP 503".into()));
        assert!(c.add("HTTP 503".into()));
        assert!(!c.add("connection refused by h:1".into()));
        assert!(!c.add("HTTP 503".into()));
        assert_eq!(c.summary(), "3 × HTTP 503, 1 × connection refused by h:1");
    }

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
        assert_eq!(parse_retry_after("0.25", now), Some(Duration::from_millis(250)));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("NaN", now), None);
    }
}
