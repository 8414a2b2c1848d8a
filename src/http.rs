//! Delivery over HTTP: the one agent, built in one place with explicit timeouts, user agent and
//! status handling, and the POST of a job body.
//!
//! ureq's defaults are not ours: it has no timeouts, turns 4xx/5xx into errors and follows
//! redirects. Here every status comes back as an answer for `report` to judge, and redirects are
//! never followed, so the `Authorization` header cannot travel to another host.

use std::io::Read;
use std::time::Duration;

use crate::endpoint::Connection;
use crate::secret;

/// How long to wait for the TCP and TLS connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The most one request may take, from connecting to reading the answer.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The most of the server's answer that is read; the rest is dropped unread.
pub const MAX_ANSWER_BYTES: u64 = 64 * 1024;

/// The `User-Agent` header: the tool and its version.
pub fn user_agent() -> String {
    format!("customcd/{}", env!("CARGO_PKG_VERSION"))
}

/// The HTTP agent. Build it once per run.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .timeout_global(Some(REQUEST_TIMEOUT))
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(user_agent())
        .build()
        .into()
}

/// The server's answer to one POST.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    /// At most [`MAX_ANSWER_BYTES`] of the body, lossily decoded.
    pub body: String,
    /// The `Location` header of a redirect, if any.
    pub location: Option<String>,
}

/// POSTs `body` to the connection's endpoint. `Err` is a transport failure (no answer), already
/// redacted of secrets.
pub fn post(agent: &ureq::Agent, conn: &Connection, body: &str) -> Result<Answer, String> {
    let result = agent
        .post(&conn.endpoint.url)
        .header("Authorization", &conn.token.bearer())
        .header("Content-Type", "application/json")
        .header("Accept", "application/json")
        .send(body);
    let mut response = result.map_err(|e| secret::redact(&e.to_string()))?;
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    // Read a bounded prefix: a huge or endless answer must not cost memory or time.
    let mut buf = Vec::new();
    let read = response
        .body_mut()
        .as_reader()
        .take(MAX_ANSWER_BYTES)
        .read_to_end(&mut buf);
    if let Err(e) = read {
        // The status already tells the outcome; a broken body only loses the message.
        buf.extend_from_slice(format!("(answer unreadable: {e})").as_bytes());
    }
    Ok(Answer {
        status,
        body: String::from_utf8_lossy(&buf).into_owned(),
        location,
    })
}

/// A one-line excerpt of a server answer for messages: whitespace folded, at most `max` chars.
pub fn excerpt(text: &str, max: usize) -> String {
    let folded: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if folded.chars().count() > max {
        let head: String = folded.chars().take(max).collect();
        format!("{head}…")
    } else {
        folded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_fold_whitespace_and_truncate() {
        assert_eq!(excerpt("a\n  b\tc", 10), "a b c");
        assert_eq!(excerpt(&"x".repeat(20), 5), "xxxxx…");
    }

    #[test]
    fn the_user_agent_names_tool_and_version() {
        assert_eq!(
            user_agent(),
            format!("customcd/{}", env!("CARGO_PKG_VERSION"))
        );
    }
}
