//! Sending many jobs: records streamed from the inputs, validated, and posted by a few workers
//! over keep-alive connections, with rejects written down, a checkpoint for resuming, progress,
//! and a summary. Memory stays flat: a bounded queue sits between the reader and the workers.

pub mod checkpoint;
pub mod records;

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::bulk::checkpoint::Checkpoint;
use crate::bulk::records::{Input, Record};
use crate::delivery::http;
use crate::delivery::{self, Throttle};
use crate::error::Error;
use crate::output;
use crate::settings::endpoint::Connection;

/// How a bulk send behaves.
pub struct Options {
    /// Workers, each with its own keep-alive connection.
    pub concurrency: usize,
    /// Per job, for all its attempts.
    pub deadline: Duration,
    /// Where invalid records go (JSON Lines: origin, problems, record).
    pub rejects: Option<PathBuf>,
    /// The checkpoint for standard input (files get one beside them).
    pub stdin_checkpoint: Option<PathBuf>,
    /// Progress every this often in logs (a live line on a terminal).
    pub progress_every: Duration,
}

/// Counts for the summary.
#[derive(Default)]
pub struct Counts {
    pub sent: AtomicU64,
    pub rejected: AtomicU64,
    pub refused: AtomicU64,
    pub failed: AtomicU64,
    pub skipped: AtomicU64,
    pub retried: AtomicU64,
}

impl Counts {
    fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }

    fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }
}

/// Set by Ctrl-C or SIGTERM: the reader stops, the workers finish what they hold.
pub static STOP: AtomicBool = AtomicBool::new(false);

/// A job on its way to a worker.
struct Work {
    number: u64,
    origin: String,
    body: String,
    job_id: String,
    /// A single payload file, removed once delivered.
    remove: Option<PathBuf>,
}

/// Sends every record of `inputs`; `connection` is `None` for a dry run (validate only).
pub fn run(inputs: &[Input], connection: Option<&Connection>, opts: &Options) -> Result<(), Error> {
    let started = Instant::now();
    let counts = Counts::default();
    let rejects = Mutex::new(None::<BufWriter<File>>);
    let agent = connection.map(|c| http::agent(&c.transport));
    let throttle = Throttle::default();
    let done = AtomicBool::new(false);
    let terminal = std::io::stderr().is_terminal();
    std::thread::scope(|scope| -> Result<(), Error> {
        scope.spawn(|| progress(&counts, started, &done, terminal, opts.progress_every));
        let result = (|| {
            for input in inputs {
                if STOP.load(Ordering::Relaxed) {
                    break;
                }
                send_input(input, connection, agent.as_ref(), &throttle, &counts, &rejects, opts)?;
            }
            Ok(())
        })();
        done.store(true, Ordering::Relaxed);
        result
    })?;
    if let Ok(Some(w)) = rejects.lock().map(|mut r| r.take()) {
        let _ = w.into_inner().map(|f| f.sync_all());
    }
    summary(&counts, started, opts, connection.is_none())
}

fn send_input(
    input: &Input,
    connection: Option<&Connection>,
    agent: Option<&ureq::Agent>,
    throttle: &Throttle,
    counts: &Counts,
    rejects: &Mutex<Option<BufWriter<File>>>,
    opts: &Options,
) -> Result<(), Error> {
    let single = input.is_single_payload_file();
    // A single payload file is its own checkpoint: it is removed once delivered. A dry run
    // records nothing.
    let checkpoint_path = match (&input.path, connection) {
        (_, None) => None,
        (Some(_), _) if single => None,
        (Some(p), _) => Some(PathBuf::from(format!("{}.customcd-checkpoint", p.display()))),
        (None, _) => opts.stdin_checkpoint.clone(),
    };
    let checkpoint = match (&checkpoint_path, &input.path) {
        (Some(cp), Some(p)) => Some(Checkpoint::open(cp, &records::identity(p)?).map_err(checkpoint_problem)?),
        (Some(cp), None) => Some(Checkpoint::open(cp, "(standard input)").map_err(checkpoint_problem)?),
        _ => None,
    };
    let checkpoint = Mutex::new(checkpoint);
    let mut records = records::read(input)
        .map_err(|e| Error::Invalid(vec![crate::error::Problem::new("input", format!("{e:#}"), "check the file")]))?;

    let (tx, rx) = mpsc::sync_channel::<Work>(opts.concurrency * 2);
    let rx = Mutex::new(rx);
    let workers = if connection.is_some() { opts.concurrency.max(1) } else { 0 };
    std::thread::scope(|scope| -> Result<(), Error> {
        for _ in 0..workers {
            scope.spawn(|| worker(&rx, connection, agent, throttle, counts, &checkpoint, opts.deadline));
        }
        let mut last = 0u64;
        let mut read_error = None;
        for record in records.by_ref() {
            if STOP.load(Ordering::Relaxed) {
                break;
            }
            let record: Record = match record {
                Ok(r) => r,
                Err(e) => {
                    read_error = Some(e);
                    break;
                }
            };
            if let Ok(mut cp) = checkpoint.lock() {
                if let Some(cp) = cp.as_mut() {
                    for gap in last + 1..record.number {
                        cp.mark_gap(gap);
                    }
                    if cp.is_done(record.number) {
                        Counts::add(&counts.skipped, 1);
                        last = record.number;
                        continue;
                    }
                }
            }
            last = record.number;
            match record.job {
                Err(problems) => {
                    Counts::add(&counts.rejected, 1);
                    reject(rejects, opts, &record.origin, &record.raw, &problems)?;
                    if !single {
                        output::error(&format!(
                            "{}: rejected: {}",
                            record.origin,
                            problems.first().map(ToString::to_string).unwrap_or_default()
                        ));
                    } else {
                        output::error(&format!("{}: not sent: {:#}", record.origin, Error::Invalid(problems)));
                    }
                    // A rejected record is handled: a rerun does not reject it again.
                    mark(&checkpoint, record.number)?;
                }
                Ok(job) if connection.is_none() => {
                    let _ = job;
                    if single {
                        output::stdout(&format!("{}: valid (dry run, not sent)", record.origin));
                    }
                    Counts::add(&counts.sent, 1);
                }
                Ok(job) => {
                    let work = Work {
                        number: record.number,
                        origin: record.origin,
                        body: job.body(),
                        job_id: job.job_id.value.clone(),
                        remove: if single { input.path.clone() } else { None },
                    };
                    if tx.send(work).is_err() {
                        break;
                    }
                }
            }
        }
        drop(tx);
        if let Some(e) = read_error {
            return Err(Error::Internal(e));
        }
        Ok(())
    })?;
    if let Ok(mut cp) = checkpoint.lock() {
        if let Some(cp) = cp.as_mut() {
            cp.compact()?;
        }
    }
    Ok(())
}

/// A checkpoint that cannot be used is the user's to resolve (it names what to do), not a bug.
fn checkpoint_problem(e: anyhow::Error) -> Error {
    Error::Invalid(vec![crate::error::Problem::new(
        "checkpoint",
        format!("{e:#}"),
        "delete the checkpoint file to send the input from the start, or restore the input it was made for",
    )])
}

fn mark(checkpoint: &Mutex<Option<Checkpoint>>, n: u64) -> Result<(), Error> {
    if let Ok(mut cp) = checkpoint.lock() {
        if let Some(cp) = cp.as_mut() {
            cp.mark(n)?;
        }
    }
    Ok(())
}

fn worker(
    rx: &Mutex<mpsc::Receiver<Work>>,
    connection: Option<&Connection>,
    agent: Option<&ureq::Agent>,
    throttle: &Throttle,
    counts: &Counts,
    checkpoint: &Mutex<Option<Checkpoint>>,
    deadline: Duration,
) {
    let (Some(conn), Some(agent)) = (connection, agent) else { return };
    loop {
        let work = match rx.lock().map(|r| r.recv()) {
            Ok(Ok(w)) => w,
            _ => return,
        };
        let delivery = delivery::deliver(agent, conn, &work.body, deadline, Some(throttle));
        Counts::add(&counts.retried, u64::from(delivery.attempts.saturating_sub(1)));
        match delivery.result {
            Ok(answer) => {
                Counts::add(&counts.sent, 1);
                if let Err(e) = mark(checkpoint, work.number) {
                    output::error(&format!("{}: sent, but the checkpoint could not be written: {e:#}", work.origin));
                }
                if let Some(p) = &work.remove {
                    if let Err(e) = std::fs::remove_file(p) {
                        output::warn(&format!(
                            "{}: sent, but could not be removed ({e}): do not send it again",
                            work.origin
                        ));
                    }
                    output::stdout(&format!(
                        "{}: sent job {}: HTTP {} {}",
                        work.origin,
                        work.job_id,
                        answer.status,
                        http::excerpt(&answer.body, 200)
                    ));
                }
            }
            Err(e) => {
                match e {
                    Error::Refused { .. } => Counts::add(&counts.refused, 1),
                    _ => Counts::add(&counts.failed, 1),
                }
                output::error(&format!("{}: kept, not delivered: {e:#}", work.origin));
            }
        }
    }
}

fn reject(
    rejects: &Mutex<Option<BufWriter<File>>>,
    opts: &Options,
    origin: &str,
    raw: &str,
    problems: &[crate::error::Problem],
) -> Result<(), Error> {
    let Some(path) = &opts.rejects else { return Ok(()) };
    let mut guard =
        rejects.lock().map_err(|_| Error::Internal(anyhow::anyhow!("the rejects file lock was poisoned")))?;
    if guard.is_none() {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening the rejects file {}", path.display()))?;
        *guard = Some(BufWriter::new(file));
    }
    let line = serde_json::json!({
        "origin": origin,
        "problems": problems.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "record": raw,
    });
    if let Some(w) = guard.as_mut() {
        writeln!(w, "{line}").with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// A live line on a terminal; a line every `every` in logs.
fn progress(counts: &Counts, started: Instant, done: &AtomicBool, terminal: bool, every: Duration) {
    let bar = terminal.then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    });
    let mut last_line = Instant::now();
    while !done.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
        let line = status_line(counts, started);
        match &bar {
            Some(bar) => bar.set_message(line),
            None if last_line.elapsed() >= every => {
                output::info(&format!("progress: {line}"));
                last_line = Instant::now();
            }
            None => {}
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
}

fn status_line(c: &Counts, started: Instant) -> String {
    let secs = started.elapsed().as_secs_f64();
    let sent = Counts::get(&c.sent);
    format!(
        "{sent} sent, {} rejected, {} undelivered, {} retried, {} skipped, {:.1} s, {:.0} jobs/s",
        Counts::get(&c.rejected),
        Counts::get(&c.refused) + Counts::get(&c.failed),
        Counts::get(&c.retried),
        Counts::get(&c.skipped),
        secs,
        if secs > 0.0 { sent as f64 / secs } else { 0.0 }
    )
}

fn summary(c: &Counts, started: Instant, opts: &Options, dry_run: bool) -> Result<(), Error> {
    let line = status_line(c, started);
    output::info(&format!("{}{line}", if dry_run { "dry run, nothing sent: valid counted as sent: " } else { "" }));
    let (rejected, refused, failed) = (Counts::get(&c.rejected), Counts::get(&c.refused), Counts::get(&c.failed));
    if rejected > 0 {
        if let Some(p) = &opts.rejects {
            output::info(&format!("rejected records and their reasons are in {}", p.display()));
        }
    }
    if STOP.load(Ordering::Relaxed) {
        return Err(Error::Interrupted(format!("interrupted: {line}; run the same command again to send the rest")));
    }
    if rejected > 0 {
        Err(Error::Rejected(format!(
            "{rejected} record(s) are invalid and were not sent; fix them as the messages say"
        )))
    } else if failed > 0 {
        Err(Error::Delivery(format!(
            "{failed} record(s) could not be delivered and were kept; run the same command again to resend them"
        )))
    } else if refused > 0 {
        Err(Error::Refused { status: 0, message: format!("{refused} record(s) were refused by the server and kept") })
    } else {
        Ok(())
    }
}
