//! Test harness: one fake server on 127.0.0.1 whose behaviour is a fault plan (`server`), a
//! CONNECT proxy (`proxy`), a CA made at test time for the server's TLS mode (`tls`), real git
//! repositories in temporary directories (`Repo`), and one way to run the built binary with a
//! clean environment (`Run`), read like a sentence:
//!
//! ```text
//! let server = Server::start(Plan::script([Step::status(503), Step::Close]).then(Step::status(200)));
//! let out = Run::report().repo(&repo).server(&server).args(["--deadline", "5"]).expect_exit(0);
//! assert_eq!(server.requests().len(), 3, "{out}");
//! ```

#![allow(dead_code)]

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

pub mod proxy;
pub mod server;
pub mod tls;

pub use server::{free_port, Echo, Plan, Reply, Seen, Server, Step, OK_BODY};

pub const TOKEN: &str = "tok_TESTSECRET_0123456789abcdef";

/// The acknowledgement ledger's name in a spool directory (`bulk::checkpoint::LEDGER_NAME`).
pub const LEDGER: &str = ".customcd-acknowledged";

/// A real git repository in a temporary directory.
pub struct Repo {
    pub tmp: tempfile::TempDir,
    pub dir: PathBuf,
}

/// Runs git with a config that ignores the machine's own, failing the test on error.
pub fn git(dir: &Path, args: &[&str]) -> String {
    git_as(dir, ("Test", "test@example.com"), None, args)
}

/// [`git`] as the person `(name, email)`, with author and committer dates at `time` (epoch
/// seconds, UTC) when given: histories whose dates and authors a test checks.
pub fn git_as(dir: &Path, (name, email): (&str, &str), time: Option<i64>, args: &[&str]) -> String {
    let mut cmd = Command::new("git");
    cmd.args(["-c", &format!("user.name={name}"), "-c", &format!("user.email={email}")])
        .args(["-c", "protocol.file.allow=always", "-c", "init.defaultBranch=main"])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null");
    if let Some(time) = time {
        let date = format!("@{time} +0000");
        cmd.env("GIT_AUTHOR_DATE", &date).env("GIT_COMMITTER_DATE", &date);
    }
    let out = cmd.output().expect("git runs");
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

/// One run of the built binary, described like a sentence:
/// `Run::report().repo(&repo).server(&server).env("CUSTOMCD_DEADLINE", "1").expect_exit(4)`.
///
/// The environment holds PATH and HOME and nothing else unless the test adds to it, so that the
/// test machine's own variables (CI=true, GITHUB_*, ...) cannot leak in. It runs in a temporary
/// directory of its own (which is also HOME) until `dir` or `repo` names another. Standard input
/// is empty unless `stdin` gives one. A run that takes longer than its timeout (a minute unless
/// set) is killed and fails the test.
#[derive(Clone)]
pub struct Run {
    /// A command the binary is run through (`prlimit ... --`, `sh -c ...`), or nothing.
    wrapper: Vec<OsString>,
    args: Vec<OsString>,
    /// Variables set (`Some`) or removed (`None`), in order, over PATH and HOME.
    env: Vec<(OsString, Option<OsString>)>,
    dir: Option<PathBuf>,
    stdin: Option<Vec<u8>>,
    timeout: Duration,
    /// Standard output is a pipe whose reader has gone (`| head -c 0`).
    stdout_closed: bool,
}

impl Run {
    /// `customcd ARGS...`.
    pub fn new(args: &[&str]) -> Run {
        Run {
            wrapper: Vec::new(),
            args: args.iter().map(OsString::from).collect(),
            env: Vec::new(),
            dir: None,
            stdin: None,
            timeout: Duration::from_secs(60),
            stdout_closed: false,
        }
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

    /// `customcd send`; name the input with `arg`.
    pub fn send() -> Run {
        Run::new(&["send"])
    }

    /// Runs in `dir`, which is also HOME.
    pub fn dir(mut self, dir: impl AsRef<Path>) -> Run {
        self.dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Runs in `repo`'s work tree, which is also HOME.
    pub fn repo(self, repo: &Repo) -> Run {
        self.dir(&repo.dir)
    }

    /// Sends to `server`, with the test token in `CUSTOMCD_TOKEN`.
    pub fn server(self, server: &Server) -> Run {
        self.url(&server.url())
    }

    /// Sends to `url` (a port nothing listens on, say), with the test token in `CUSTOMCD_TOKEN`.
    pub fn url(self, url: &str) -> Run {
        self.env("CUSTOMCD_URL", url).env("CUSTOMCD_TOKEN", TOKEN)
    }

    pub fn env(mut self, name: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Run {
        self.env.push((name.as_ref().to_owned(), Some(value.as_ref().to_owned())));
        self
    }

    pub fn env_remove(mut self, name: impl AsRef<OsStr>) -> Run {
        self.env.push((name.as_ref().to_owned(), None));
        self
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Run {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args.extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// What standard input holds.
    pub fn stdin(mut self, text: impl Into<Vec<u8>>) -> Run {
        self.stdin = Some(text.into());
        self
    }

    /// How long the run may take before it is killed and the test fails.
    pub fn timeout(mut self, limit: Duration) -> Run {
        self.timeout = limit;
        self
    }

    /// Runs the binary through `command`, which gets the binary's path and arguments last:
    /// `["prlimit", "--fsize=30", "--"]`, or `["sh", "-c", "umask 000; exec \"$@\"", "sh"]`.
    pub fn through<S: AsRef<OsStr>>(mut self, command: &[S]) -> Run {
        self.wrapper = command.iter().map(|c| c.as_ref().to_owned()).collect();
        self
    }

    /// Standard output is a pipe that nobody reads: its reader is gone before anything is written.
    pub fn stdout_closed(mut self) -> Run {
        self.stdout_closed = true;
        self
    }

    /// Starts the run and returns at once, to signal it or watch the server meanwhile.
    pub fn spawn(self) -> Running {
        let bin = OsString::from(env!("CARGO_BIN_EXE_customcd"));
        let mut cmd = match self.wrapper.split_first() {
            None => Command::new(&bin),
            Some((program, rest)) => {
                let mut cmd = Command::new(program);
                cmd.args(rest).arg(&bin);
                cmd
            }
        };
        let dir = match &self.dir {
            Some(d) => d.clone(),
            None => std::env::temp_dir(),
        };
        cmd.args(&self.args).env_clear().env("HOME", &dir).current_dir(&dir);
        if let Some(path) = std::env::var_os("PATH") {
            cmd.env("PATH", path);
        }
        for (name, value) in &self.env {
            match value {
                Some(v) => cmd.env(name, v),
                None => cmd.env_remove(name),
            };
        }
        cmd.stdin(if self.stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let started = Instant::now();
        let mut child = cmd.spawn().expect("the binary starts");
        if let (Some(text), Some(mut pipe)) = (self.stdin, child.stdin.take()) {
            // Written from a thread so that a child that answers before reading it all cannot
            // deadlock the test; a child that stops reading early is fine.
            thread::spawn(move || {
                let _ = pipe.write_all(&text);
            });
        }
        // Both pipes are drained while the child runs: a child that prints more than a pipe holds
        // must not block on a test that only reads after it exits.
        let stdout = child.stdout.take().filter(|_| !self.stdout_closed).map(drain);
        let stderr = child.stderr.take().map(drain);
        Running { child, started, stdout, stderr, timeout: self.timeout }
    }

    /// Runs it to the end, whatever its exit code.
    pub fn output(self) -> Ran {
        let limit = self.timeout;
        self.spawn().finish(limit)
    }

    /// Runs it and checks the exit code, printing everything it said when the code differs.
    pub fn expect_exit(self, code: i32) -> Ran {
        let out = self.output();
        assert_eq!(out.code, Some(code), "{out}");
        out
    }
}

fn drain(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        bytes
    })
}

/// A run that was started and not yet waited for.
pub struct Running {
    child: Child,
    started: Instant,
    stdout: Option<thread::JoinHandle<Vec<u8>>>,
    stderr: Option<thread::JoinHandle<Vec<u8>>>,
    timeout: Duration,
}

impl Running {
    /// Sends a signal (`"-TERM"`, `"-KILL"`) to the process with kill(1).
    pub fn signal(&self, signal: &str) {
        let ok = Command::new("kill").args([signal, &self.child.id().to_string()]).status().expect("kill runs");
        assert!(ok.success(), "kill {signal} {}", self.child.id());
    }

    /// Waits for the end, for at most the run's timeout.
    pub fn wait(self) -> Ran {
        let limit = self.timeout;
        self.finish(limit)
    }

    /// Waits for the end for at most `limit`; kills the process and fails the test if it is still
    /// running then. Whatever the process said is checked for "HTTP 0", a status that never came.
    pub fn finish(mut self, limit: Duration) -> Ran {
        let code = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status.code();
            }
            if self.started.elapsed() > limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("the process was still running after {limit:?}");
            }
            thread::sleep(Duration::from_millis(10));
        };
        let took = self.started.elapsed();
        let text = |pipe: Option<thread::JoinHandle<Vec<u8>>>| {
            let bytes = pipe.map(|h| h.join().expect("the pipe reader")).unwrap_or_default();
            String::from_utf8_lossy(&bytes).into_owned()
        };
        let ran = Ran { code, stdout: text(self.stdout.take()), stderr: text(self.stderr.take()), took };
        assert!(!ran.all().contains("HTTP 0"), "a message speaks of HTTP 0: {ran}");
        ran
    }
}

/// A finished run: its exit code (none when a signal ended it), what it printed, how long it took.
#[derive(Debug)]
pub struct Ran {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub took: Duration,
}

impl Ran {
    /// Standard output and error as one string.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// Every line as the GitHub runner splits them: at LF and at CR.
    pub fn lines(&self) -> Vec<String> {
        self.all().split(['\n', '\r']).map(str::to_owned).collect()
    }

    /// Standard output parsed as one JSON value (a dry run's body).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not one JSON value ({e}): {self}"))
    }
}

impl std::fmt::Display for Ran {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {:?} after {:?}\n--- stdout\n{}--- stderr\n{}", self.code, self.took, self.stdout, self.stderr)
    }
}
