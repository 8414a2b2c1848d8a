//! A tiny HTTP CONNECT proxy on 127.0.0.1: it records each request head it is sent (the CONNECT
//! line and its headers) and tunnels bytes to the target, which must be on 127.0.0.1 or
//! localhost, or carry the one made-up name it was started with (which it also sends to
//! 127.0.0.1: customcd never proxies loopback destinations, so tests that want the proxy used
//! name the server by a name only the proxy knows). It tunnels nowhere else.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// One request the proxy was sent.
#[derive(Clone, Debug)]
pub struct Connect {
    /// The request line, e.g. `CONNECT 127.0.0.1:8080 HTTP/1.1`.
    pub line: String,
    /// Header names lower-cased.
    pub headers: BTreeMap<String, String>,
}

pub struct ConnectProxy {
    pub port: u16,
    seen: Arc<Mutex<Vec<Connect>>>,
    stop: Arc<AtomicBool>,
    accept: Option<thread::JoinHandle<()>>,
}

impl ConnectProxy {
    pub fn start() -> ConnectProxy {
        ConnectProxy::start_with_alias(None)
    }

    /// A proxy that also tunnels `alias:PORT` (a name that resolves nowhere, such as
    /// `customcd.test`) to 127.0.0.1:PORT.
    pub fn start_with_alias(alias: Option<&str>) -> ConnectProxy {
        let alias = alias.map(str::to_ascii_lowercase);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let port = listener.local_addr().expect("local address").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (log, halt) = (seen.clone(), stop.clone());
        let accept = thread::spawn(move || {
            for conn in listener.incoming() {
                if halt.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = conn else { continue };
                let (log, alias) = (log.clone(), alias.clone());
                thread::spawn(move || tunnel(client, &log, alias.as_deref()));
            }
        });
        ConnectProxy { port, seen, stop, accept: Some(accept) }
    }

    /// `http://127.0.0.1:PORT`, or with `user:password@` when `userinfo` is given.
    pub fn url(&self, userinfo: Option<&str>) -> String {
        match userinfo {
            Some(u) => format!("http://{u}@127.0.0.1:{}", self.port),
            None => format!("http://127.0.0.1:{}", self.port),
        }
    }

    /// Every request head the proxy was sent.
    pub fn requests(&self) -> Vec<Connect> {
        self.seen.lock().expect("lock").clone()
    }
}

impl Drop for ConnectProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], self.port)), Duration::from_secs(1));
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

fn tunnel(client: TcpStream, log: &Mutex<Vec<Connect>>, alias: Option<&str>) {
    let _ = client.set_read_timeout(Some(IO_TIMEOUT));
    let _ = client.set_write_timeout(Some(IO_TIMEOUT));
    let Ok(mut writer) = client.try_clone() else { return };
    let mut reader = BufReader::new(client);
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let line = line.trim_end().to_owned();
    let mut headers = BTreeMap::new();
    for _ in 0..100 {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 {
            return;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    log.lock().expect("lock").push(Connect { line: line.clone(), headers });

    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let known = |h: &str| {
        h == "127.0.0.1" || h.eq_ignore_ascii_case("localhost") || alias.is_some_and(|a| h.eq_ignore_ascii_case(a))
    };
    let loopback = target.rsplit_once(':').is_some_and(|(h, p)| known(h) && p.parse::<u16>().is_ok());
    if method != "CONNECT" || !loopback {
        let _ = writer.write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
    }
    let port = target.rsplit_once(':').map_or("", |(_, p)| p);
    let Ok(upstream) = TcpStream::connect_timeout(
        &format!("127.0.0.1:{port}").parse::<SocketAddr>().expect("a loopback address"),
        IO_TIMEOUT,
    ) else {
        let _ = writer.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
    };
    let _ = upstream.set_read_timeout(Some(IO_TIMEOUT));
    let _ = upstream.set_write_timeout(Some(IO_TIMEOUT));
    if writer.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").is_err() {
        return;
    }
    let (Ok(mut up_writer), Ok(mut up_reader)) = (upstream.try_clone(), upstream.try_clone()) else { return };
    // Anything the client sent after the head is already in the reader's buffer: forward it first.
    let pending = reader.buffer().to_vec();
    if !pending.is_empty() && up_writer.write_all(&pending).is_err() {
        return;
    }
    let mut client_reader = reader.into_inner();
    let forward = thread::spawn(move || {
        let _ = std::io::copy(&mut client_reader, &mut up_writer);
        let _ = up_writer.shutdown(std::net::Shutdown::Write);
    });
    let _ = std::io::copy(&mut up_reader, &mut writer);
    let _ = writer.shutdown(std::net::Shutdown::Write);
    let _ = forward.join();
}
