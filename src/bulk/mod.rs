//! Sending many jobs: records streamed from the inputs, validated, and posted by a few workers
//! over keep-alive connections, with rejects written down, a checkpoint for resuming, progress,
//! and a summary. Memory stays flat: a bounded queue sits between the reader and the workers, and
//! no record over [`records::MAX_RECORD`] is read whole.
//!
//! Each input stands on its own: one that cannot be read (not a regular file, not ours, a
//! checkpoint that cannot be used) is counted and reported, and the run goes on with the next.
//! Each input file is claimed with an exclusive lock first, so two senders never send the same
//! file; a spooled payload is removed, under its lock, only after a 2xx. One deploy, one record:
//! a job the acknowledgement ledger ([`checkpoint`]) holds (same endpoint, service and `job_id`)
//! is not sent again, whatever its body says now, unless the user asks (`--resend`).
//!
//! Layer: bulk (see tests/integration/layers.rs). May import: vocab, fs, error, output, job,
//! settings, delivery.

pub mod checkpoint;
pub mod records;

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::bulk::checkpoint::{Checkpoint, Digest};
use crate::bulk::records::{Input, Record};
use crate::delivery::http;
use crate::delivery::spool::{self, Claim, Spooled};
use crate::delivery::{self, Throttle};
use crate::error::{Error, EXIT_INTERRUPTED};
use crate::output;
use crate::settings::endpoint::Connection;

/// How a bulk send behaves.
#[derive(Clone)]
pub(crate) struct Options {
    /// Workers, each with its own keep-alive connection.
    pub concurrency: usize,
    /// Per job, for all its attempts.
    pub deadline: Duration,
    /// Where invalid records go (JSON Lines: origin, problems, record).
    pub rejects: Option<PathBuf>,
    /// The acknowledgement ledger (see [`checkpoint`]): what was acknowledged is skipped, what
    /// is acknowledged now is added. `None` for none (a dry run).
    pub ledger: Option<PathBuf>,
    /// Send jobs the ledger holds again (the user asked, `--resend`).
    pub resend: bool,
    /// Progress every this often in logs (a live line on a terminal).
    pub progress_every: Duration,
}

/// Counts for the summary.
#[derive(Default)]
pub(crate) struct Counts {
    pub sent: AtomicU64,
    pub rejected: AtomicU64,
    pub refused: AtomicU64,
    pub failed: AtomicU64,
    pub skipped: AtomicU64,
    /// Jobs not sent because the server acknowledged them before (the ledger holds them).
    pub acknowledged: AtomicU64,
    pub retried: AtomicU64,
    /// Inputs (or the rest of one) that could not be read: not a regular file, not ours, not
    /// UTF-8 where that cannot be narrowed to a record, an unusable checkpoint.
    pub unreadable: AtomicU64,
    /// Files another process holds (a `report` still delivering, another `send`) or removed
    /// between listing and opening: theirs, not an error.
    pub elsewhere: AtomicU64,
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
pub(crate) static STOP: AtomicBool = AtomicBool::new(false);

/// How long the jobs in flight get to finish after Ctrl-C or SIGTERM before the process exits
/// anyway: a job retrying against a failing server could otherwise hold it for its whole deadline.
pub(crate) const STOP_GRACE: Duration = Duration::from_secs(3);

/// Makes Ctrl-C and SIGTERM stop a bulk send: reading stops at once, the jobs in flight get
/// [`STOP_GRACE`] to finish, then the process exits 130 whatever is still running. Nothing is
/// lost by that exit: a record is marked in its checkpoint, and a spooled file removed, only
/// after its 2xx, so the next run sends what was cut short (again, when its answer was lost).
pub(crate) fn stop_on_signal() {
    let _ = ctrlc::set_handler(|| {
        if STOP.swap(true, Ordering::SeqCst) {
            return;
        }
        output::info(&format!(
            "stopping: no new jobs are started; the ones in flight get {} s to finish",
            STOP_GRACE.as_secs()
        ));
        std::thread::sleep(STOP_GRACE);
        output::error(
            "stopped with jobs still in flight: they are not recorded as sent, so the next run sends them again (same job_id); run the same command again to send the rest",
        );
        std::process::exit(i32::from(EXIT_INTERRUPTED));
    });
}

/// A job on its way to a worker.
struct Work {
    origin: String,
    body: String,
    job_id: String,
    /// Its identity in the ledger, marked once acknowledged.
    digest: Option<Digest>,
    /// A single payload file, claimed: removed (still locked) once delivered.
    spooled: Option<Spooled>,
}

/// Sends every record of `inputs`; `connection` is `None` for a dry run (validate only).
pub(crate) fn run(inputs: &[Input], connection: Option<&Connection>, opts: &Options) -> Result<(), Error> {
    let started = Instant::now();
    let counts = Counts::default();
    let rejects = Mutex::new(None::<BufWriter<File>>);
    let agent = connection.map(|c| http::agent(&c.transport));
    let throttle = Throttle::default();
    let done = AtomicBool::new(false);
    let terminal = std::io::stderr().is_terminal();
    // One ledger for the whole run; without it nothing is sent, for a job sent without knowing
    // whether it went out before may be a second record of one deploy.
    // With nothing to send, nothing is created (no spool directory, no ledger).
    let ledger = match (connection, &opts.ledger) {
        (Some(_), Some(path)) if !inputs.is_empty() => Some(Checkpoint::open(path).map_err(|e| {
            Error::Internal(e.context(format!(
                "the acknowledgement ledger {} cannot be used, so nothing was sent (it says which jobs the server already has); fix or remove it (removing it may send acknowledged jobs again)",
                path.display()
            )))
        })?),
        _ => None,
    };
    let shared = Shared { ledger: Mutex::new(ledger), pending: Mutex::new(HashSet::new()) };
    std::thread::scope(|scope| -> Result<(), Error> {
        scope.spawn(|| progress(&counts, started, &done, terminal, opts.progress_every));
        let result = (|| {
            // Files found in a directory (a spool: one payload each) are sent `concurrency` at a
            // time, as the records of one JSON Lines input are; other inputs one after another.
            let mut rest = inputs;
            while let Some(first) = rest.first() {
                if STOP.load(Ordering::Relaxed) {
                    break;
                }
                let listed = rest.iter().take_while(|i| i.listed).count();
                if listed < 2 || opts.concurrency < 2 {
                    send_input(first, connection, agent.as_ref(), &throttle, &counts, &rejects, &shared, opts)?;
                    rest = &rest[1..];
                    continue;
                }
                let (batch, after) = rest.split_at(listed);
                let next = std::sync::atomic::AtomicUsize::new(0);
                // One worker per file: the pool is the concurrency.
                let one = Options { concurrency: 1, ..opts.clone() };
                let failed = Mutex::new(None::<Error>);
                std::thread::scope(|pool| {
                    for _ in 0..opts.concurrency.min(batch.len()) {
                        pool.spawn(|| loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let stop =
                                STOP.load(Ordering::Relaxed) || failed.lock().map(|f| f.is_some()).unwrap_or(true);
                            let Some(input) = batch.get(i).filter(|_| !stop) else { break };
                            if let Err(e) = send_input(
                                input,
                                connection,
                                agent.as_ref(),
                                &throttle,
                                &counts,
                                &rejects,
                                &shared,
                                &one,
                            ) {
                                if let Ok(mut f) = failed.lock() {
                                    f.get_or_insert(e);
                                }
                            }
                        });
                    }
                });
                if let Some(e) = failed.into_inner().ok().flatten() {
                    return Err(e);
                }
                rest = after;
            }
            Ok(())
        })();
        done.store(true, Ordering::Relaxed);
        result
    })?;
    if let Ok(Some(w)) = rejects.lock().map(|mut r| r.take()) {
        let _ = w.into_inner().map(|f| f.sync_all());
    }
    if let Ok(Some(ledger)) = shared.ledger.lock().as_deref() {
        ledger.sync()?;
    }
    summary(&counts, started, opts, connection.is_none())
}

/// What every input of a run shares: the ledger, and the jobs handed to a worker in this run (the
/// same job twice, in one input or two, is sent once).
struct Shared {
    ledger: Mutex<Option<Checkpoint>>,
    pending: Mutex<HashSet<Digest>>,
}

#[allow(clippy::too_many_arguments)]
fn send_input(
    input: &Input,
    connection: Option<&Connection>,
    agent: Option<&ureq::Agent>,
    throttle: &Throttle,
    counts: &Counts,
    rejects: &Mutex<Option<BufWriter<File>>>,
    shared: &Shared,
    opts: &Options,
) -> Result<(), Error> {
    let name = &input.name;
    let (reader, mut claimed): (Box<dyn BufRead>, Option<File>) = match &input.path {
        None => (Box::new(BufReader::new(std::io::stdin())), None),
        Some(path) => match spool::claim(&spool::Found { path: path.clone(), listed: input.listed }) {
            Claim::Mine(file) => {
                // The reader gets its own handle; the lock stays with `claimed` until the input
                // is done (or, for a single payload, until it is removed).
                let reader = file.try_clone().with_context(|| format!("reading {name}"))?;
                (Box::new(BufReader::new(reader)), Some(file))
            }
            Claim::Busy => {
                Counts::add(&counts.elsewhere, 1);
                output::info(&format!("{name}: another customcd process is sending it; left to it"));
                return Ok(());
            }
            Claim::Vanished => {
                Counts::add(&counts.elsewhere, 1);
                return Ok(());
            }
            Claim::Refused(why) => {
                Counts::add(&counts.unreadable, 1);
                output::error(&format!("{name}: not read: it {why}"));
                return Ok(());
            }
        },
    };
    let records = match records::read_from(input, reader) {
        Ok(r) => r,
        Err(e) => {
            Counts::add(&counts.unreadable, 1);
            output::error(&format!("{name}: not read: {e:#}"));
            return Ok(());
        }
    };
    let single = records.single && input.path.is_some();
    // An older customcd kept a checkpoint beside each input file, keyed by the exact body: what
    // it says was acknowledged is skipped (and moved into the ledger), so a send it was resuming
    // does not start over. It is only read.
    let legacy = match (&input.path, connection) {
        (Some(p), Some(_)) if !single => {
            match checkpoint::read_v2(&PathBuf::from(format!("{}.customcd-checkpoint", p.display()))) {
                Ok(l) => l,
                Err(e) => {
                    Counts::add(&counts.unreadable, 1);
                    output::error(&format!("{name}: not sent: {e:#}"));
                    return Ok(());
                }
            }
        }
        _ => None,
    };
    let endpoint = connection.map(|c| c.endpoint.url.as_str()).unwrap_or_default();
    let mut records = records.iter;

    let (tx, rx) = mpsc::sync_channel::<Work>(opts.concurrency * 2);
    let rx = Mutex::new(rx);
    let workers = if connection.is_some() { opts.concurrency.max(1) } else { 0 };
    std::thread::scope(|scope| -> Result<(), Error> {
        for _ in 0..workers {
            scope.spawn(|| worker(&rx, connection, agent, throttle, counts, &shared.ledger, opts.deadline));
        }
        for record in records.by_ref() {
            if STOP.load(Ordering::Relaxed) {
                break;
            }
            let record: Record = match record {
                Ok(r) => r,
                Err(e) => {
                    Counts::add(&counts.unreadable, 1);
                    output::error(&format!("{name}: the rest is not read: {e:#}"));
                    break;
                }
            };
            match record.job {
                Err(problems) => {
                    // A reject is never marked done: fixed in place, it is sent by the next run.
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
                }
                Ok(job) if connection.is_none() => {
                    let _ = job;
                    if single {
                        output::stdout(&format!("{}: valid (dry run, not sent)", record.origin));
                    }
                    Counts::add(&counts.sent, 1);
                }
                Ok(job) => {
                    let body = job.body();
                    // The job's identity, and whether the server acknowledged it before (the
                    // ledger, or an older checkpoint beside the input that knew its body).
                    let known = shared.ledger.lock().ok().and_then(|ledger| {
                        let ledger = ledger.as_ref()?;
                        let d = checkpoint::identity(endpoint, job.service_id.value, &job.job_id.value);
                        let before = ledger.is_done(&d)
                            || legacy.as_ref().is_some_and(|l| l.contains(&checkpoint::digest(endpoint, &body)));
                        Some((d, before))
                    });
                    let mut digest = None;
                    if let Some((d, before)) = known {
                        if before && !opts.resend {
                            if let Err(e) = mark(&shared.ledger, d) {
                                output::warn(&format!("{}: the ledger could not be written: {e:#}", record.origin));
                            }
                            Counts::add(&counts.acknowledged, 1);
                            if single {
                                output::info(&format!(
                                    "{}: job {} of service {} was acknowledged by this endpoint before; not sent again (one deploy, one record); pass --resend to send it again",
                                    record.origin, job.job_id.value, job.service_id.value
                                ));
                            }
                            continue;
                        }
                        if !shared.pending.lock().is_ok_and(|mut p| p.insert(d)) {
                            Counts::add(&counts.skipped, 1);
                            output::warn(&format!(
                                "{}: job {} of service {} is already being sent in this run; sent once",
                                record.origin, job.job_id.value, job.service_id.value
                            ));
                            continue;
                        }
                        digest = Some(d);
                    }
                    let spooled = match (single, &input.path) {
                        (true, Some(path)) => claimed.take().map(|lock| Spooled { path: path.clone(), lock }),
                        _ => None,
                    };
                    let work = Work { origin: record.origin, body, job_id: job.job_id.value.clone(), digest, spooled };
                    if tx.send(work).is_err() {
                        break;
                    }
                }
            }
        }
        drop(tx);
        Ok(())
    })?;
    Ok(())
}

fn mark(checkpoint: &Mutex<Option<Checkpoint>>, d: Digest) -> anyhow::Result<()> {
    if let Ok(mut cp) = checkpoint.lock() {
        if let Some(cp) = cp.as_mut() {
            cp.mark(d)?;
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
                if let Some(d) = work.digest {
                    if let Err(e) = mark(checkpoint, d) {
                        output::error(&format!(
                            "{}: sent, but the acknowledgement ledger could not be written ({e:#}): the next run sends it again (same job_id {})",
                            work.origin, work.job_id
                        ));
                    }
                }
                if let Some(spooled) = work.spooled {
                    if let Err(e) = spool::remove(spooled) {
                        output::warn(&format!(
                            "{}: sent, but could not be removed ({e}): remove it, or the next send delivers job {} again",
                            work.origin, work.job_id
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
        // Created private, and never through a symbolic link planted at its predictable name.
        let file = crate::fs::open_append(path, true).map_err(|e| {
            Error::Internal(e.context(format!("the rejects file {}: pass --rejects with another path", path.display())))
        })?;
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
    let mut extra = String::new();
    // Only when they happen, so the usual line stays short.
    for (n, what) in [(Counts::get(&c.unreadable), "unreadable"), (Counts::get(&c.elsewhere), "left to another sender")]
    {
        if n > 0 {
            extra.push_str(&format!(", {n} {what}"));
        }
    }
    format!(
        "{sent} sent, {} rejected, {} undelivered, {} retried, {} skipped{extra}, {:.1} s, {:.0} jobs/s",
        Counts::get(&c.rejected),
        Counts::get(&c.refused) + Counts::get(&c.failed),
        Counts::get(&c.retried),
        Counts::get(&c.skipped) + Counts::get(&c.acknowledged),
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
    let acknowledged = Counts::get(&c.acknowledged);
    if acknowledged > 0 {
        output::info(&format!(
            "{acknowledged} of the skipped job(s) were acknowledged by this endpoint before (same service and job_id{}) and were not sent again: one deploy, one record; pass --resend to send them again",
            opts.ledger.as_ref().map(|p| format!("; ledger {}", p.display())).unwrap_or_default()
        ));
    }
    if STOP.load(Ordering::Relaxed) {
        return Err(Error::Interrupted(format!("interrupted: {line}; run the same command again to send the rest")));
    }
    let unreadable = Counts::get(&c.unreadable);
    if rejected > 0 || unreadable > 0 {
        let mut what = Vec::new();
        if rejected > 0 {
            what.push(format!("{rejected} record(s) are invalid and were not sent"));
        }
        if unreadable > 0 {
            what.push(format!("{unreadable} input(s) could not be read (or not all of it)"));
        }
        Err(Error::Rejected(format!("{}; fix them as the messages above say", what.join(", and "))))
    } else if refused > 0 {
        // A refusal needs a person, so it decides the outcome over an outage (which by default
        // only warns): a run with both must not pass.
        let also = if failed > 0 { format!(", and {failed} could not be delivered") } else { String::new() };
        Err(Error::Refused {
            status: 0,
            message: format!("{refused} record(s) were refused by the server{also}; all were kept"),
        })
    } else if failed > 0 {
        Err(Error::Delivery(format!(
            "{failed} record(s) could not be delivered and were kept; run the same command again to resend them"
        )))
    } else {
        Ok(())
    }
}
