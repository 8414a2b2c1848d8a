//! Test harness: a real HTTP receiver on 127.0.0.1, real git repositories in temporary
//! directories, and the built binary with a clean environment.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command as Std;
use std::sync::{Arc, Mutex};
use std::thread;

use assert_cmd::Command;

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    /// Header names lower-cased.
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

impl Seen {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("the body is JSON")
    }
}

/// What the receiver answers.
#[derive(Clone)]
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
}

/// An HTTP server on 127.0.0.1 that records every request and answers with `reply`.
pub struct Receiver {
    pub port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    server: Arc<tiny_http::Server>,
    handle: Option<thread::JoinHandle<()>>,
}

impl Receiver {
    pub fn ok() -> Receiver {
        Receiver::start(Reply::new(200, r#"{"status":"ok","id":123}"#))
    }

    pub fn start(reply: Reply) -> Receiver {
        Receiver::start_script(Vec::new(), reply)
    }

    /// Answers with `script`, one reply per request in order, then with `then` for the rest.
    pub fn start_script(script: Vec<Reply>, then: Reply) -> Receiver {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind 127.0.0.1"));
        let port = server.server_addr().to_ip().expect("an IP listener").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (s, log) = (server.clone(), seen.clone());
        let handle = thread::spawn(move || {
            for mut req in s.incoming_requests() {
                let mut body = String::new();
                let _ = req.as_reader().read_to_string(&mut body);
                let headers = req
                    .headers()
                    .iter()
                    .map(|h| (h.field.as_str().as_str().to_ascii_lowercase(), h.value.as_str().to_owned()))
                    .collect();
                log.lock().expect("lock").push(Seen {
                    method: req.method().as_str().to_owned(),
                    path: req.url().to_owned(),
                    headers,
                    body,
                });
                let n = log.lock().expect("lock").len();
                let reply = script.get(n - 1).unwrap_or(&then);
                let mut resp = tiny_http::Response::from_string(reply.body.clone()).with_status_code(reply.status);
                for (k, v) in &reply.headers {
                    resp.add_header(tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()).expect("header"));
                }
                let _ = req.respond(resp);
            }
        });
        Receiver { port, seen, server, handle: Some(handle) }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/webhook/company/77/cicd_job", self.port)
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }

    pub fn only_request(&self) -> Seen {
        let all = self.requests();
        assert_eq!(all.len(), 1, "expected exactly one request, got {}", all.len());
        all.into_iter().next().expect("one request")
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// A real git repository in a temporary directory.
pub struct Repo {
    pub tmp: tempfile::TempDir,
    pub dir: PathBuf,
}

/// Runs git with a config that ignores the machine's own, failing the test on error.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Std::new("git")
        .args([
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.com",
            "-c",
            "protocol.file.allow=always",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

impl Repo {
    /// A SHA-1 repository with one commit on `main` and an `origin` remote.
    pub fn new() -> Repo {
        Repo::init(&[], Some("https://bob:hunter2-secret@github.com/acme/app.git"))
    }

    pub fn init(init_args: &[&str], origin: Option<&str>) -> Repo {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("work");
        std::fs::create_dir(&dir).expect("mkdir");
        let mut args = vec!["init", "-q"];
        args.extend_from_slice(init_args);
        git(&dir, &args);
        if let Some(url) = origin {
            git(&dir, &["remote", "add", "origin", url]);
        }
        let repo = Repo { tmp, dir };
        repo.commit("first");
        repo
    }

    pub fn commit(&self, message: &str) -> String {
        git(&self.dir, &["commit", "-q", "--allow-empty", "-m", message]);
        self.head()
    }

    pub fn head(&self) -> String {
        git(&self.dir, &["rev-parse", "HEAD"])
    }
}

/// The binary, with an environment holding nothing but PATH and HOME, so that the test machine's
/// own variables (CI=true, GITHUB_*, ...) cannot leak in.
pub fn customcd(cwd: &Path) -> Command {
    let mut cmd = Command::cargo_bin("customcd").expect("the binary is built");
    cmd.env_clear();
    if let Ok(path) = std::env::var("PATH") {
        cmd.env("PATH", path);
    }
    cmd.env("HOME", cwd);
    cmd.current_dir(cwd);
    cmd
}

pub const TOKEN: &str = "tok_TESTSECRET_0123456789abcdef";

/// `customcd report` with the required values for a job that passes validation.
pub fn report(cwd: &Path, receiver: &Receiver) -> Command {
    report_to_url(cwd, &receiver.url())
}

/// `customcd report` of a valid job to `url`, with the token in `CUSTOMCD_TOKEN`.
pub fn report_to_url(cwd: &Path, url: &str) -> Command {
    let mut cmd = customcd(cwd);
    cmd.args([
        "report",
        "--service-id",
        "2",
        "--status",
        "success",
        "--job-start-time",
        "1704018030",
        "--job-duration",
        "300",
    ])
    .env("CUSTOMCD_URL", url)
    .env("CUSTOMCD_TOKEN", TOKEN);
    cmd
}

/// One run of the binary, built like a sentence:
/// `Run::report().repo(&repo).server(&rx).env("CUSTOMCD_DEADLINE", "1").expect_exit(4)`.
/// The environment holds nothing but PATH and HOME unless the test adds to it.
pub struct Run {
    cmd: Command,
}

impl Run {
    /// `customcd ARGS...` in an empty temporary directory (until `repo` names another).
    pub fn new(args: &[&str]) -> Run {
        let dir = std::env::temp_dir();
        let mut cmd = customcd(&dir);
        cmd.args(args);
        Run { cmd }
    }

    /// `customcd report` of a valid job (service 2, success, a fixed start and duration).
    pub fn report() -> Run {
        Run::new(&[
            "report",
            "--service-id",
            "2",
            "--status",
            "success",
            "--job-start-time",
            "1704018030",
            "--job-duration",
            "300",
        ])
    }

    /// Runs in `repo`'s work tree, which is also HOME.
    pub fn repo(mut self, repo: &Repo) -> Run {
        self.cmd.current_dir(&repo.dir).env("HOME", &repo.dir);
        self
    }

    /// Sends to `receiver`, with the test token in `CUSTOMCD_TOKEN`.
    pub fn server(mut self, receiver: &Receiver) -> Run {
        self.cmd.env("CUSTOMCD_URL", receiver.url()).env("CUSTOMCD_TOKEN", TOKEN);
        self
    }

    pub fn env(mut self, name: &str, value: impl AsRef<std::ffi::OsStr>) -> Run {
        self.cmd.env(name, value);
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.cmd.args(args);
        self
    }

    /// Runs it and checks the exit code, printing everything it said when the code differs.
    pub fn expect_exit(mut self, code: i32) -> std::process::Output {
        let out = self.cmd.output().expect("the binary runs");
        assert_eq!(out.status.code(), Some(code), "{}", all_output(&out));
        out
    }
}

/// Standard output and error of a finished command, as one string.
pub fn all_output(out: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

pub mod echo;
pub mod faults;
pub mod proxy;
pub mod tls;
