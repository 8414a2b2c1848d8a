//! A raw-TCP HTTP server on 127.0.0.1 with fault injection: it follows a script, one step per
//! request (every answer says `Connection: close`, so one request per connection), and records
//! every request it reads, with the time it arrived. Optionally it speaks TLS.
//!
//! Every connection is served on its own thread with read and write timeouts, a slow step sleeps
//! in short slices and stops early when the server is dropped, and a huge body is a fixed number
//! of bytes: nothing here can outlive a test by more than a few seconds.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::{Reply, Seen};

/// The most a request head may be; a test client never comes close.
const MAX_HEAD: usize = 64 * 1024;
/// The most a request body may be.
const MAX_BODY: usize = 1024 * 1024;
/// How long a connection may sit silent before it is dropped.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// What the server does with one request.
#[derive(Clone, Debug)]
pub enum Step {
    /// Answer with this status, headers and body.
    Reply(Reply),
    /// Read the request, then close the connection without answering: the client sees its
    /// connection reset (an unexpected end of the answer).
    Reset,
    /// Read the request, wait this long (or until the server is dropped), then answer.
    Slow(Duration, Reply),
    /// Answer with this status and a body of this many bytes (`x` repeated).
    Huge(u16, usize),
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
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Reply({} {:?} {:?})", self.status, self.headers, self.body)
    }
}

/// One request the server read, and when.
#[derive(Clone, Debug)]
pub struct Hit {
    pub seen: Seen,
    /// When the whole request had been read.
    pub at: Instant,
}

struct Shared {
    script: Vec<Step>,
    next: AtomicUsize,
    hits: Mutex<Vec<Hit>>,
    /// Connections that closed before a whole request head was read (over TLS: that includes a
    /// handshake the client aborted).
    broken: AtomicUsize,
    stop: AtomicBool,
}

/// The server. Dropping it stops accepting and cuts short any slow step.
pub struct FaultServer {
    pub port: u16,
    shared: Arc<Shared>,
    accept: Option<thread::JoinHandle<()>>,
}

impl FaultServer {
    /// A plain HTTP server on a free port. Once the script is used up every request gets 200.
    pub fn start(script: Vec<Step>) -> FaultServer {
        FaultServer::serve(TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1"), script, None)
    }

    /// A plain HTTP server on the given port of 127.0.0.1 (to bring a server "back up").
    pub fn start_on(port: u16, script: Vec<Step>) -> FaultServer {
        FaultServer::serve(TcpListener::bind(("127.0.0.1", port)).expect("bind 127.0.0.1 again"), script, None)
    }

    /// An HTTPS server on a free port, with this TLS configuration.
    pub fn start_tls(script: Vec<Step>, tls: Arc<rustls::ServerConfig>) -> FaultServer {
        FaultServer::serve(TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1"), script, Some(tls))
    }

    fn serve(listener: TcpListener, script: Vec<Step>, tls: Option<Arc<rustls::ServerConfig>>) -> FaultServer {
        let port = listener.local_addr().expect("local address").port();
        let shared = Arc::new(Shared {
            script,
            next: AtomicUsize::new(0),
            hits: Mutex::new(Vec::new()),
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
        FaultServer { port, shared, accept: Some(accept) }
    }

    /// A Custom CD endpoint URL on this server, `http` or `https` as it serves.
    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://127.0.0.1:{}/webhook/company/77/cicd_job", self.port)
    }

    /// Every request read so far, in the order they were read.
    pub fn hits(&self) -> Vec<Hit> {
        let mut hits = self.shared.hits.lock().expect("lock").clone();
        hits.sort_by_key(|h| h.at);
        hits
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.hits().into_iter().map(|h| h.seen).collect()
    }

    /// Connections that ended before a request head was read.
    pub fn broken_connections(&self) -> usize {
        self.shared.broken.load(Ordering::SeqCst)
    }
}

impl Drop for FaultServer {
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

/// Reads one request, records it and plays the next step of the script.
fn exchange<S: Read + Write>(stream: S, shared: &Shared) {
    let mut reader = BufReader::new(stream);
    let Some(seen) = read_request(&mut reader) else {
        shared.broken.fetch_add(1, Ordering::SeqCst);
        return;
    };
    let index = shared.next.fetch_add(1, Ordering::SeqCst);
    shared.hits.lock().expect("lock").push(Hit { seen, at: Instant::now() });
    let step = shared.script.get(index).cloned().unwrap_or_else(|| Step::reply(200, r#"{"status":"ok"}"#));
    let mut stream = reader.into_inner();
    match step {
        Step::Reply(reply) => answer(&mut stream, &reply),
        Step::Reset => {
            // Dropping the stream closes the connection with no answer.
        }
        Step::Slow(wait, reply) => {
            let until = Instant::now() + wait;
            while Instant::now() < until && !shared.stop.load(Ordering::SeqCst) {
                thread::sleep(Duration::from_millis(20));
            }
            answer(&mut stream, &reply);
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
    }
}

fn answer<S: Write>(stream: &mut S, reply: &Reply) {
    let mut head = format!("HTTP/1.1 {} {}\r\n", reply.status, reason(reply.status));
    let has = |name: &str| reply.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name));
    for (k, v) in &reply.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !has("content-type") {
        head.push_str("Content-Type: application/json\r\n");
    }
    head.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", reply.body.len()));
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(reply.body.as_bytes());
    let _ = stream.flush();
}

/// One HTTP/1.1 request: the head line by line, then `Content-Length` bytes of body.
fn read_request<R: BufRead>(reader: &mut R) -> Option<Seen> {
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
    Some(Seen { method, path, headers, body: String::from_utf8_lossy(&body).into_owned() })
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
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
