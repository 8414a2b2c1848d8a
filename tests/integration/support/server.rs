//! The one fake server: HTTP (or HTTPS with [`Server::tls`]) on 127.0.0.1, whose behaviour is a
//! [`Plan`] of [`Step`]s, one step per request in the order requests arrive, and which records
//! every request it reads (method, path, headers, body, and when it arrived) for assertions.
//!
//! It speaks just enough HTTP/1.1 for a client that sends one request with a `Content-Length`
//! body: every answer says `Connection: close`, so each request has a connection of its own and
//! a step can do anything to it (hang, drip, cut it short, close it unanswered). Every connection
//! is served on its own thread with read and write timeouts; a waiting step sleeps in short slices
//! and stops early when the server is dropped; a huge body is a fixed number of bytes: nothing
//! here can outlive a test by more than a few seconds.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// The most a request head may be; a test client never comes close.
const MAX_HEAD: usize = 64 * 1024;
/// The most a request body may be.
const MAX_BODY: usize = 1024 * 1024;
/// How long a connection may sit silent before it is dropped.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// The answer once a plan's script is used up, unless the plan says otherwise: what the real
/// webhook says to a job it accepted.
pub const OK_BODY: &str = r#"{"status":"ok","id":123}"#;

/// One request as the server read it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    /// Header names lower-cased.
    pub headers: BTreeMap<String, String>,
    pub body: String,
    /// When the whole request had been read.
    pub at: Instant,
}

impl Seen {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("the body is JSON")
    }

    /// The token of an `Authorization: Bearer TOKEN` header, or the whole header, or "".
    pub fn bearer(&self) -> &str {
        let auth = self.headers.get("authorization").map_or("", String::as_str);
        auth.strip_prefix("Bearer ").unwrap_or(auth)
    }
}

/// An answer: status, headers and body. `Content-Length` and `Connection: close` are added, and
/// `Content-Type: application/json` unless a content type is given.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub headers: Vec<(String, String)>,
}

impl Reply {
    pub fn new(status: u16, body: &str) -> Reply {
        Reply { status, body: body.to_owned(), headers: Vec::new() }
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The whole answer as bytes on the wire.
    fn bytes(&self) -> Vec<u8> {
        let mut head = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        for (k, v) in &self.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        if !self.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
            head.push_str("Content-Type: application/json\r\n");
        }
        head.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", self.body.len()));
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(self.body.as_bytes());
        bytes
    }
}

/// How an echoing server makes its answer's body from the request it read.
pub type Echo = fn(&Seen) -> String;

/// What the server does with one request (or, for [`Step::Greet`], with one connection).
#[derive(Clone, Debug)]
pub enum Step {
    /// Answer with this status, headers and body.
    Reply(Reply),
    /// Read the request, then close the connection without answering: the client sees the
    /// answer end before it began.
    Close,
    /// Read the request, wait this long (or until the server is dropped), then answer. A wait
    /// longer than the test is a server that hangs.
    Late(Duration, Reply),
    /// Read the request, then send the answer one byte at a time, this long apart.
    Drip(Duration, Reply),
    /// Answer with this status and a body of this many bytes (`x` repeated).
    Huge(u16, usize),
    /// Send the head (with the whole body's `Content-Length`) and the first half of the body,
    /// then close: a connection reset in the middle of the answer.
    CutShort(Reply),
    /// Answer with this status and a body made from the request: a careless server that echoes
    /// what it was sent (a token, above all).
    Echo(u16, Echo),
    /// Answer the moment the connection opens, without reading anything: what a TLS client meets
    /// at a plain-HTTP port. Nothing is recorded, as no request was read.
    Greet(Reply),
}

impl Step {
    /// A reply with a small JSON body naming the status.
    pub fn status(code: u16) -> Step {
        Step::Reply(Reply::new(code, &format!("{{\"status\":{code}}}")))
    }

    /// A reply with the given body.
    pub fn reply(code: u16, body: &str) -> Step {
        Step::Reply(Reply::new(code, body))
    }

    /// `code` (429 or 503, usually) with `Retry-After: value` (seconds or an HTTP date).
    pub fn retry_after(code: u16, value: &str) -> Step {
        Step::Reply(Reply::new(code, &format!("{{\"status\":{code}}}")).header("Retry-After", value))
    }

    /// A redirect (301, 302, 307, 308) to `location`.
    pub fn redirect(code: u16, location: &str) -> Step {
        Step::Reply(Reply::new(code, "").header("Location", location))
    }

    /// Waits until the server is dropped (at most a minute), then answers 200.
    pub fn hang() -> Step {
        Step::Late(Duration::from_secs(60), Reply::new(200, OK_BODY))
    }
}

/// What the server does: a script of steps, one per request in arrival order, then `then` for
/// every request after it; and canned answers by path ([`Plan::route`]), which take no step of
/// the script, for a fake of an API with several endpoints.
#[derive(Clone, Debug)]
pub struct Plan {
    script: Vec<Step>,
    then: Step,
    routes: Vec<(String, Step)>,
}

impl Plan {
    /// Every request gets 200 with [`OK_BODY`].
    pub fn ok() -> Plan {
        Plan::script([])
    }

    /// Every request gets `step`.
    pub fn always(step: Step) -> Plan {
        Plan { script: Vec::new(), then: step, routes: Vec::new() }
    }

    /// These steps in order, then 200 with [`OK_BODY`] (change that with [`Plan::then`]).
    pub fn script(steps: impl IntoIterator<Item = Step>) -> Plan {
        Plan { script: steps.into_iter().collect(), then: Step::reply(200, OK_BODY), routes: Vec::new() }
    }

    /// Every request whose path (with its query) starts with `prefix` gets `step`, every time,
    /// without taking a step of the script. The first matching route wins.
    pub fn route(mut self, prefix: &str, step: Step) -> Plan {
        self.routes.push((prefix.to_owned(), step));
        self
    }

    /// The route a request's path matches, if any.
    fn routed(&self, path: &str) -> Option<&Step> {
        self.routes.iter().find(|(prefix, _)| path.starts_with(prefix.as_str())).map(|(_, step)| step)
    }

    /// What every request after the script gets.
    pub fn then(mut self, step: Step) -> Plan {
        self.then = step;
        self
    }

    fn step(&self, index: usize) -> &Step {
        self.script.get(index).unwrap_or(&self.then)
    }
}

struct Shared {
    plan: Plan,
    next: AtomicUsize,
    seen: Mutex<Vec<Seen>>,
    /// Connections that closed before a whole request head was read (over TLS: that includes a
    /// handshake the client aborted).
    broken: AtomicUsize,
    stop: AtomicBool,
}

/// The server. Dropping it stops accepting and cuts short any waiting step.
pub struct Server {
    pub port: u16,
    scheme: &'static str,
    shared: Arc<Shared>,
    accept: Option<thread::JoinHandle<()>>,
}

impl Server {
    /// An HTTP server that accepts every job.
    pub fn ok() -> Server {
        Server::start(Plan::ok())
    }

    /// An HTTP server on a free port that follows `plan`.
    pub fn start(plan: Plan) -> Server {
        Server::serve(TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1"), plan, None)
    }

    /// An HTTP server on the given port of 127.0.0.1 (to bring a server "back up").
    pub fn start_on(port: u16, plan: Plan) -> Server {
        Server::serve(TcpListener::bind(("127.0.0.1", port)).expect("bind 127.0.0.1 again"), plan, None)
    }

    /// The same server over HTTPS, with this TLS configuration (see `tls::private_ca`).
    pub fn tls(plan: Plan, config: Arc<rustls::ServerConfig>) -> Server {
        Server::serve(TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1"), plan, Some(config))
    }

    fn serve(listener: TcpListener, plan: Plan, tls: Option<Arc<rustls::ServerConfig>>) -> Server {
        let port = listener.local_addr().expect("local address").port();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let shared = Arc::new(Shared {
            plan,
            next: AtomicUsize::new(0),
            seen: Mutex::new(Vec::new()),
            broken: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
        });
        let s = shared.clone();
        let accept = thread::spawn(move || {
            for conn in listener.incoming() {
                if s.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(tcp) = conn else { continue };
                let (s, tls) = (s.clone(), tls.clone());
                thread::spawn(move || connection(tcp, &s, tls));
            }
        });
        Server { port, scheme, shared, accept: Some(accept) }
    }

    /// The server's origin, `http://127.0.0.1:PORT` (a fake API's base URL).
    pub fn origin(&self) -> String {
        format!("{}://127.0.0.1:{}", self.scheme, self.port)
    }

    /// The Custom CD endpoint on this server (company 77), `http` or `https` as it serves.
    pub fn url(&self) -> String {
        format!("{}://127.0.0.1:{}/webhook/company/77/cicd_job", self.scheme, self.port)
    }

    /// Every request read so far, in the order they were read.
    pub fn requests(&self) -> Vec<Seen> {
        self.shared.seen.lock().expect("lock").clone()
    }

    /// The one request read so far; fails the test when there were none or several.
    pub fn only_request(&self) -> Seen {
        let all = self.requests();
        assert_eq!(all.len(), 1, "expected exactly one request, got {}", all.len());
        all.into_iter().next().expect("one request")
    }

    /// Connections that ended before a request head was read.
    pub fn broken_connections(&self) -> usize {
        self.shared.broken.load(Ordering::SeqCst)
    }

    /// Waits up to five seconds for the server's threads to note `n` broken connections: a
    /// failed handshake is noted a moment after the client has gone.
    pub fn wait_for_broken_connections(&self, n: usize) {
        let until = Instant::now() + Duration::from_secs(5);
        while self.broken_connections() < n && Instant::now() < until {
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], self.port)), Duration::from_secs(1));
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

fn connection(tcp: TcpStream, shared: &Shared, tls: Option<Arc<rustls::ServerConfig>>) {
    if shared.stop.load(Ordering::SeqCst) {
        return;
    }
    let _ = tcp.set_read_timeout(Some(IO_TIMEOUT));
    let _ = tcp.set_write_timeout(Some(IO_TIMEOUT));
    match tls {
        None => exchange(tcp, shared),
        Some(cfg) => {
            let Ok(conn) = rustls::ServerConnection::new(cfg) else { return };
            let mut stream = rustls::StreamOwned::new(conn, tcp);
            while stream.conn.is_handshaking() {
                if stream.conn.complete_io(&mut stream.sock).is_err() {
                    shared.broken.fetch_add(1, Ordering::SeqCst);
                    return;
                }
            }
            exchange(stream, shared);
        }
    }
}

/// Greets, or reads one request, records it and plays the plan's next step.
fn exchange<S: Read + Write>(mut stream: S, shared: &Shared) {
    let waiting = shared.next.load(Ordering::SeqCst);
    if let Step::Greet(reply) = shared.plan.step(waiting) {
        // Only the first one to see this step plays it; a greeting uses up its step as a request would.
        if shared.next.compare_exchange(waiting, waiting + 1, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
            let _ = stream.write_all(&reply.bytes());
            let _ = stream.flush();
            return;
        }
    }
    let mut reader = BufReader::new(stream);
    let Some((method, path, headers, body)) = read_request(&mut reader) else {
        shared.broken.fetch_add(1, Ordering::SeqCst);
        return;
    };
    let mut request = Seen { method, path, headers, body, at: Instant::now() };
    let step = {
        // The step and the record are taken under one lock, so that requests are recorded in
        // the order they took their steps.
        let mut seen = shared.seen.lock().expect("lock");
        request.at = Instant::now();
        seen.push(request.clone());
        match shared.plan.routed(&request.path) {
            Some(step) => step.clone(),
            None => shared.plan.step(shared.next.fetch_add(1, Ordering::SeqCst)).clone(),
        }
    };
    let mut stream = reader.into_inner();
    match step {
        Step::Reply(reply) | Step::Greet(reply) => write_all(&mut stream, &reply.bytes()),
        Step::Close => {
            // Dropping the stream closes the connection with no answer.
        }
        Step::Late(wait, reply) => {
            if pause(wait, shared) {
                write_all(&mut stream, &reply.bytes());
            }
        }
        Step::Drip(every, reply) => {
            for byte in reply.bytes() {
                if !pause(every, shared) || stream.write_all(&[byte]).and_then(|()| stream.flush()).is_err() {
                    return;
                }
            }
        }
        Step::Huge(status, bytes) => {
            let head = format!(
                "HTTP/1.1 {status} {}\r\nContent-Type: text/plain\r\nContent-Length: {bytes}\r\nConnection: close\r\n\r\n",
                reason(status)
            );
            if stream.write_all(head.as_bytes()).is_err() {
                return;
            }
            let chunk = vec![b'x'; 64 * 1024];
            let mut left = bytes;
            while left > 0 {
                let n = left.min(chunk.len());
                // The client stops reading early and goes away: the write fails, and that is fine.
                if stream.write_all(&chunk[..n]).is_err() {
                    return;
                }
                left -= n;
            }
            let _ = stream.flush();
        }
        Step::CutShort(reply) => {
            let bytes = reply.bytes();
            let cut = bytes.len() - reply.body.len() / 2;
            write_all(&mut stream, &bytes[..cut]);
        }
        Step::Echo(status, echo) => {
            write_all(&mut stream, &Reply::new(status, &echo(&request)).bytes());
        }
    }
}

/// Sleeps `wait` in short slices; false when the server was dropped meanwhile.
fn pause(wait: Duration, shared: &Shared) -> bool {
    let until = Instant::now() + wait;
    while Instant::now() < until {
        if shared.stop.load(Ordering::SeqCst) {
            return false;
        }
        thread::sleep((until - Instant::now()).min(Duration::from_millis(20)));
    }
    true
}

fn write_all<S: Write>(stream: &mut S, bytes: &[u8]) {
    let _ = stream.write_all(bytes);
    let _ = stream.flush();
}

type Request = (String, String, BTreeMap<String, String>, String);

/// One HTTP/1.1 request: the head line by line, then `Content-Length` bytes of body.
fn read_request<R: BufRead>(reader: &mut R) -> Option<Request> {
    let mut head_len = 0;
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    head_len += line.len();
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let mut headers = BTreeMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).ok()? == 0 {
            return None;
        }
        head_len += h.len();
        if head_len > MAX_HEAD {
            return None;
        }
        let h = h.trim_end_matches(['\r', '\n']);
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
    }
    let len: usize = headers.get("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
    if len > MAX_BODY {
        return None;
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some((method, path, headers, String::from_utf8_lossy(&body).into_owned()))
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        301 => "Moved Permanently",
        302 => "Found",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// A port on 127.0.0.1 that nothing listens on (bound, then released).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    l.local_addr().expect("local address").port()
}

/// Every byte but the unreserved ones as `%HH`, upper- or lower-case: how a server echoes a
/// value in a query string.
pub fn percent(text: &str, upper: bool) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                char::from(b).to_string()
            } else if upper {
                format!("%{b:02X}")
            } else {
                format!("%{b:02x}")
            }
        })
        .collect()
}

/// Standard base64, padded: written here rather than taken from the crate under test, so that a
/// bug in its encoding is not shared by the test.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for group in bytes.chunks(3) {
        let b = [group[0], *group.get(1).unwrap_or(&0), *group.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= group.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}
