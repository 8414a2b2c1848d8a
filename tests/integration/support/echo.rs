//! A careless server on 127.0.0.1: it answers every request with a fixed status and a body that
//! echoes the request's `Authorization` header, transformed the way real servers transform what
//! they echo (JSON-escaped, percent-encoded, base64, or cut short inside an excerpt). It counts
//! the requests it reads. One request per connection (`Connection: close`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// How the echoed header value (everything after `Bearer `) appears in the answer.
pub type Echo = fn(&str) -> String;

pub struct EchoServer {
    pub port: u16,
    count: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    accept: Option<thread::JoinHandle<()>>,
}

impl EchoServer {
    /// Answers `status` to everything, with `echo(token)` as the body.
    pub fn start(status: u16, echo: Echo) -> EchoServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let port = listener.local_addr().expect("local address").port();
        let count = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (n, halt) = (count.clone(), stop.clone());
        let accept = thread::spawn(move || {
            for conn in listener.incoming() {
                if halt.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(tcp) = conn else { continue };
                let n = n.clone();
                thread::spawn(move || answer(tcp, status, echo, &n));
            }
        });
        EchoServer { port, count, stop, accept: Some(accept) }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/webhook/company/77/cicd_job", self.port)
    }

    /// Requests read so far.
    pub fn requests(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], self.port)), Duration::from_secs(1));
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

fn answer(tcp: TcpStream, status: u16, echo: Echo, count: &AtomicUsize) {
    let _ = tcp.set_read_timeout(Some(IO_TIMEOUT));
    let _ = tcp.set_write_timeout(Some(IO_TIMEOUT));
    let Ok(mut writer) = tcp.try_clone() else { return };
    let mut reader = BufReader::new(tcp);
    let mut auth = String::new();
    let mut length = 0usize;
    let mut first = true;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if first {
            first = false;
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("authorization") {
                auth = v.trim().to_owned();
            } else if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length.min(1024 * 1024)];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    count.fetch_add(1, Ordering::SeqCst);
    let token = auth.strip_prefix("Bearer ").unwrap_or(&auth);
    let text = echo(token);
    let head = format!(
        "HTTP/1.1 {status} Status\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        text.len()
    );
    let _ = writer.write_all(head.as_bytes());
    let _ = writer.write_all(text.as_bytes());
    let _ = writer.flush();
}

/// A plain-HTTP server that answers `400 Bad Request` the moment a connection opens, without
/// reading anything: what a TLS client meets when it talks to a plain-HTTP port.
pub struct PlainHttp {
    pub port: u16,
    stop: Arc<AtomicBool>,
    accept: Option<thread::JoinHandle<()>>,
}

impl PlainHttp {
    pub fn start() -> PlainHttp {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let port = listener.local_addr().expect("local address").port();
        let stop = Arc::new(AtomicBool::new(false));
        let halt = stop.clone();
        let accept = thread::spawn(move || {
            for conn in listener.incoming() {
                if halt.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut tcp) = conn else { continue };
                let _ = tcp.set_write_timeout(Some(IO_TIMEOUT));
                let _ = tcp.write_all(
                    b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 11\r\nConnection: close\r\n\r\nbad request",
                );
                let _ = tcp.flush();
            }
        });
        PlainHttp { port, stop, accept: Some(accept) }
    }
}

impl Drop for PlainHttp {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], self.port)), Duration::from_secs(1));
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

/// Every byte but the unreserved ones as `%HH`, upper- or lower-case.
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

/// Standard base64, padded.
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
