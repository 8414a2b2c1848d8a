//! One HTTP request: the one agent, built in one place with explicit timeouts, user agent and
//! status handling, and the POST of a job body. Whether to try again is `delivery`'s call.
//!
//! ureq's defaults are not ours: it has no timeouts, turns 4xx/5xx into errors and follows
//! redirects. Here every status comes back as an answer for `report` to judge, and redirects are
//! never followed, so the `Authorization` header cannot travel to another host.

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use crate::secret;
use crate::settings::endpoint::Connection;
use crate::settings::transport::Transport;

/// How long to wait for the TCP and TLS connection.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The most one request may take, from connecting to reading the answer.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The most of the server's answer that is read; the rest is dropped unread.
pub(crate) const MAX_ANSWER_BYTES: u64 = 64 * 1024;

/// The `User-Agent` header: the tool and its version.
pub(crate) fn user_agent() -> String {
    format!("customcd/{}", env!("CARGO_PKG_VERSION"))
}

/// The HTTP agent. Build it once per run: it keeps connections alive between requests.
pub(crate) fn agent(transport: &Transport) -> ureq::Agent {
    // ring is named here because ureq is built without a provider of its own: its `rustls`
    // feature would also bring webpki-roots, a second copy of the roots `transport` hands over.
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(transport.roots.clone())
        .unversioned_rustls_crypto_provider(Arc::new(crypto_provider()))
        .build();
    ureq::Agent::config_builder()
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .timeout_global(Some(REQUEST_TIMEOUT))
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(user_agent())
        .tls_config(tls)
        // Never ureq's own reading of the process environment: `transport` decided.
        .proxy(transport.proxy.clone())
        .build()
        .into()
}

/// rustls with ring, minus the loading of private keys.
///
/// customcd never presents a client certificate, so it never loads a private key; with ring's own
/// key provider in the table, its RSA, ECDSA and Ed25519 signing code would be linked all the same
/// (40 KB of the static binary). Verifying the server's signatures is untouched.
fn crypto_provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::CryptoProvider { key_provider: &NoPrivateKeys, ..rustls::crypto::ring::default_provider() }
}

/// The key provider of a client that has no key of its own: every key is refused.
#[derive(Debug)]
struct NoPrivateKeys;

impl rustls::crypto::KeyProvider for NoPrivateKeys {
    fn load_private_key(
        &self,
        _key: rustls::pki_types::PrivateKeyDer<'static>,
    ) -> Result<Arc<dyn rustls::sign::SigningKey>, rustls::Error> {
        Err(rustls::Error::General("customcd presents no client certificate, so it loads no private key".to_owned()))
    }
}

/// The server's answer to one POST.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub status: u16,
    /// At most [`MAX_ANSWER_BYTES`] of the body, lossily decoded.
    pub body: String,
    /// The `Location` header of a redirect, if any.
    pub location: Option<String>,
    /// The `Retry-After` header, if any.
    pub retry_after: Option<String>,
}

/// Why no answer came back.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    /// The whole story, with advice where the cause is common; already redacted of secrets.
    pub message: String,
    /// The cause in a few words (`connection refused by 127.0.0.1:8080`), for the lines that
    /// report the same failure again; already redacted.
    pub cause: String,
    /// Whether trying again may help (network trouble), or not (a TLS or configuration error, a
    /// proxy that wants credentials).
    pub transient: bool,
}

/// POSTs `body` to the connection's endpoint, taking at most `timeout`.
pub(crate) fn post(agent: &ureq::Agent, conn: &Connection, body: &str, timeout: Duration) -> Result<Answer, Failure> {
    let result = agent
        .post(&conn.endpoint.url)
        .config()
        .timeout_global(Some(timeout))
        .build()
        .header("Authorization", &conn.token.bearer())
        .header("Content-Type", "application/json")
        .header("Accept", "application/json")
        .send(body);
    let mut response = result.map_err(|e| failure(&e, conn))?;
    let status = response.status().as_u16();
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (location, retry_after) = (header("location"), header("retry-after"));
    // Read a bounded prefix: a huge or endless answer must not cost memory or time.
    let mut buf = Vec::new();
    let read = response.body_mut().as_reader().take(MAX_ANSWER_BYTES).read_to_end(&mut buf);
    if let Err(e) = read {
        // The status already tells the outcome; a broken body only loses the message.
        buf.extend_from_slice(format!("(answer unreadable: {e})").as_bytes());
    }
    Ok(Answer { status, body: String::from_utf8_lossy(&buf).into_owned(), location, retry_after })
}

/// What the client connects to: the proxy when there is one, else the endpoint's host and port.
fn peer(conn: &Connection) -> (String, Option<&'static str>) {
    if let Some(p) = &conn.transport.proxy {
        return (format!("{}:{}", p.host(), p.port()), Some("the proxy "));
    }
    let uri = conn.endpoint.url.parse::<ureq::http::Uri>().ok();
    let host = uri.as_ref().and_then(|u| u.host()).unwrap_or("the server").to_owned();
    let https = conn.endpoint.url.trim_start().to_ascii_lowercase().starts_with("https:");
    let port = uri.as_ref().and_then(ureq::http::Uri::port_u16).unwrap_or(if https { 443 } else { 80 });
    (format!("{host}:{port}"), None)
}

/// A failure in words, with advice where the cause is common, and whether it may pass.
fn failure(e: &ureq::Error, conn: &Connection) -> Failure {
    let text = e.to_string();
    let lower = text.to_ascii_lowercase();
    let (addr, via) = peer(conn);
    let what = via.unwrap_or("");
    let refused = matches!(e, ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused);
    let (message, cause, transient) = if refused {
        let cause = format!("connection refused by {what}{addr}");
        (format!("{cause}: nothing listens there, or a firewall turns connections away"), cause, true)
    } else if matches!(e, ureq::Error::HostNotFound) || lower.contains("failed to lookup address") {
        let host = addr.rsplit_once(':').map_or(addr.as_str(), |(h, _)| h);
        let cause = format!("{what}{host} was not found");
        (format!("{cause} (DNS): check the spelling of the host, and this machine's name resolution"), cause, true)
    } else if let ureq::Error::ConnectProxyFailed(reason) = e {
        // "proxy server responded 407/..." : the proxy's own status. 4xx other than 408 and 429
        // will not change by retrying (407 wants credentials, 403 forbids the destination).
        let status = reason
            .strip_prefix("proxy server responded ")
            .and_then(|r| r.get(..3))
            .and_then(|code| code.parse::<u16>().ok());
        match status {
            Some(407) => (
                format!(
                    "the proxy {addr} answered HTTP 407 Proxy Authentication Required: give (or correct) its user name \
                     and password in the proxy URL, http://USER:PASSWORD@HOST:PORT (--proxy, HTTPS_PROXY or HTTP_PROXY)"
                ),
                format!("the proxy {addr} wants credentials (HTTP 407)"),
                false,
            ),
            Some(s @ 400..=499) if s != 408 && s != 429 => (
                format!("the proxy {addr} refused to open a tunnel: HTTP {s}; check NO_PROXY, or the proxy's rules"),
                format!("the proxy {addr} refused (HTTP {s})"),
                false,
            ),
            _ => (format!("the proxy {addr} failed: {reason}"), format!("the proxy {addr} failed"), true),
        }
    } else if lower.contains("certificate") || lower.contains("unknownissuer") || lower.contains("unknown issuer") {
        (
            format!(
                "{text} (the server's certificate is not trusted: for a private CA pass --ca-file PATH or set \
                 CUSTOMCD_CA_FILE; --platform-roots uses the system's roots)"
            ),
            "the certificate is not trusted".to_owned(),
            false,
        )
    } else if lower.contains("corrupt message") || lower.contains("invalidcontenttype") {
        // rustls read something that is not TLS: usually a plain-http server on that port.
        let http_url = conn.endpoint.url.replacen("https://", "http://", 1);
        (
            format!(
                "{text}: {addr} does not answer in TLS; it may speak plain HTTP. If it does and the network path is \
                 trusted, use {} (plain http is allowed to loopback hosts; to any other host only with \
                 --allow-http, and the token then travels unencrypted)",
                crate::git::remote::redact(&http_url)
            ),
            format!("{addr} does not speak TLS"),
            false,
        )
    } else {
        (text.clone(), text, is_transient(e))
    };
    Failure { message: secret::redact(&message), cause: secret::redact(&cause), transient }
}

/// Network trouble that may pass; everything else (TLS, bad URLs, bad proxies) will not.
fn is_transient(e: &ureq::Error) -> bool {
    // rustls reports an untrusted certificate through an I/O error (InvalidData): retrying
    // cannot fix it, so it fails at once with its advice.
    if let ureq::Error::Io(io) = e {
        if io.kind() == std::io::ErrorKind::InvalidData || io.to_string().contains("certificate") {
            return false;
        }
    }
    matches!(
        e,
        ureq::Error::Io(_)
            | ureq::Error::Timeout(_)
            | ureq::Error::HostNotFound
            | ureq::Error::ConnectionFailed
            | ureq::Error::Protocol(_)
            | ureq::Error::BodyStalled
            | ureq::Error::ConnectProxyFailed(_)
    )
}

/// A one-line excerpt of a server answer for messages: secrets hidden, whitespace folded, at
/// most `max` chars. Secrets are hidden *before* the text is cut, so that a cut cannot leave the
/// first part of one behind where the whole would have been recognised.
pub(crate) fn excerpt(text: &str, max: usize) -> String {
    let folded: String = secret::redact(text).split_whitespace().collect::<Vec<_>>().join(" ");
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
    fn the_tls_provider_loads_no_private_key() {
        use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(vec![0x30, 0x00]));
        assert!(crypto_provider().key_provider.load_private_key(key).is_err());
    }

    #[test]
    fn the_user_agent_names_tool_and_version() {
        assert_eq!(user_agent(), format!("customcd/{}", env!("CARGO_PKG_VERSION")));
    }
}
