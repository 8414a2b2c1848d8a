//! `report`'s delivery of one job, at least once: the exact body is written to the spool (fsync'd,
//! renamed into place, locked) *before* the first attempt and removed only after a 2xx, so at
//! every instant the job is acknowledged or on disk. Ctrl-C or SIGTERM during the attempts stops
//! at once (exit 130) and says where the job is kept. It owns that ordering and the signal path,
//! not the retries (`delivery`) nor what `report` prints about the answer.
//!
//! The price is the at-least-once duplicate: a crash (or a signal) after the server's 2xx and
//! before the removal leaves the file, and a later `customcd send` posts it again, with the same
//! `job_id`, which is how the duplicate is recognised.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use crate::delivery::spool;
use crate::delivery::{self, Delivery};
use crate::error::EXIT_INTERRUPTED;
use crate::output;
use crate::settings::endpoint::Connection;
use crate::vocab::source::Sourced;

/// Where the job is, for the signal handler.
enum Phase {
    /// Being written to the spool: a signal now is acted on once it is written.
    Saving,
    /// On disk at this path: a signal exits at once, naming it.
    Saved(PathBuf),
    /// The spool could not be written: a signal prints the body so that it is not lost.
    Unsaved,
    /// The attempts are over: `report` finishes on its own, in moments.
    Finished,
}

static PHASE: Mutex<Phase> = Mutex::new(Phase::Saving);
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// What delivering one job gave.
pub(crate) struct Outcome {
    pub delivery: Delivery,
    /// The spool file that keeps the job: when it was not delivered, or with `--spool-always`.
    pub spooled: Option<PathBuf>,
}

/// How to deliver one job: where its spool is, whether to keep it, and what the resend hint adds
/// (the settings a later `customcd send` will not find in its environment).
pub(crate) struct Plan<'a> {
    pub job_id: &'a str,
    pub deadline: Duration,
    pub dir: &'a Sourced<PathBuf>,
    pub spool_always: bool,
    pub resend_note: String,
    /// On GitHub, the step summary: where a job that no disk kept goes, and, at the end of the
    /// job, every job not delivered (the runner removes its temporary directory, and the spool in
    /// it, when the job ends).
    pub rescue: Option<PathBuf>,
    /// The action's post stage: nothing of this job runs after it.
    pub at_job_end: bool,
}

/// Spools `body`, then posts it with retries until the deadline; removes the spooled file after a
/// 2xx unless `spool_always`. `job_id` names the file and the messages.
pub(crate) fn deliver(agent: &ureq::Agent, connection: &Connection, body: &str, plan: Plan<'_>) -> Outcome {
    let Plan { job_id, deadline, dir, spool_always, resend_note, rescue, at_job_end } = plan;
    set_phase(Phase::Saving);
    let (id, text, note) = (job_id.to_owned(), body.to_owned(), resend_note.clone());
    let _ = ctrlc::set_handler(move || on_signal(&id, &text, &note));

    let saved = match spool::write_ahead(&dir.value, job_id, body) {
        Ok(s) => {
            // So that a later `send` with other settings cannot post it to another tenant.
            if let Err(e) = spool::remember_endpoint(&s.path, &connection.endpoint.url) {
                output::warn(&format!(
                    "could not note beside {} the endpoint it is for ({e:#}); a later `customcd send` posts it wherever that run's settings say",
                    s.path.display()
                ));
            }
            Some(s)
        }
        Err(e) => {
            output::warn(&format!(
                "the job could not be saved to the spool before sending ({e:#}); sending it without a safety copy"
            ));
            None
        }
    };
    {
        let mut phase = PHASE.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *phase = match &saved {
            Some(s) => Phase::Saved(s.path.clone()),
            None => Phase::Unsaved,
        };
        if INTERRUPTED.load(Ordering::SeqCst) {
            interrupted(&phase, job_id, body, &resend_note);
        }
    }

    let delivery = delivery::deliver(agent, connection, body, deadline, None);

    let spooled = match (saved, delivery.result.is_ok()) {
        (Some(s), true) if spool_always => {
            output::info(&format!("a copy of the payload is saved in {}", s.path.display()));
            Some(s.path)
        }
        (Some(s), true) => {
            let path = s.path.clone();
            if let Err(e) = spool::remove(s) {
                output::warn(&format!(
                    "the job was delivered but its spool file {} could not be removed ({e}); remove it, or a later `customcd send` delivers job {job_id} again",
                    path.display()
                ));
            }
            None
        }
        (Some(s), false) => {
            output::warn(&format!(
                "the job was not delivered and is saved in {} ({}); resend it with: customcd send {}{resend_note}",
                s.path.display(),
                dir.source,
                quoted(&s.path.display().to_string())
            ));
            if at_job_end {
                // The runner removes RUNNER_TEMP when the job ends; the summary outlives it.
                rescue_to_summary(
                    rescue.as_deref(),
                    job_id,
                    body,
                    &format!("it was kept in {}, which the runner may remove when the job ends", s.path.display()),
                );
            }
            Some(s.path)
        }
        (None, true) => None,
        (None, false) => {
            output::error(&format!(
                "job {job_id} was not delivered and could not be saved to the spool; it follows so that it is not lost. Save it as job.json and resend it with: customcd send job.json{resend_note}"
            ));
            output::stdout(body);
            rescue_to_summary(rescue.as_deref(), job_id, body, "no spool could be written");
            None
        }
    };
    Outcome { delivery, spooled }
}

/// Called by the command once everything about the job was said (delivered, or where it is
/// kept): from then on a signal ends the process at once.
pub(crate) fn finished() {
    set_phase(Phase::Finished);
}

/// `text` quoted for a POSIX shell, so a hint can be pasted whatever the path holds.
pub(crate) fn quoted(text: &str) -> String {
    shlex::try_quote(text).map_or_else(|_| format!("'{}'", text.replace('\'', "'\\''")), |q| q.into_owned())
}

/// The last resort on GitHub: the job, as `send` takes it, in the step summary, which outlives
/// the runner's temporary directory and the job. Said in the log either way.
fn rescue_to_summary(summary: Option<&std::path::Path>, job_id: &str, body: &str, why: &str) {
    let Some(path) = summary else { return };
    match crate::output::github::append_rescue(path, job_id, body, why) {
        Ok(()) => output::warn(&format!(
            "job {job_id} is also in this job's step summary ({why}): copy its JSON block into job.json and resend it with: customcd send job.json"
        )),
        Err(e) => output::warn(&format!(
            "job {job_id} could not be written to the step summary {} either ({e}); its payload is in the log above",
            path.display()
        )),
    }
}

fn set_phase(p: Phase) {
    *PHASE.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = p;
}

/// Ctrl-C or SIGTERM (CI cancelling the job). Runs on ctrlc's own thread, so the main thread may
/// be anywhere in its attempts; the job's file is already whole on disk, so exiting is safe.
fn on_signal(job_id: &str, body: &str, note: &str) {
    let phase = PHASE.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    match *phase {
        Phase::Saving => INTERRUPTED.store(true, Ordering::SeqCst),
        // Delivered, or kept and said where: what is left (outputs, summary) is not worth
        // outliving a cancelled job for.
        Phase::Finished => {
            output::error(&format!("interrupted after job {job_id} was delivered or kept (see above)"));
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        }
        _ => interrupted(&phase, job_id, body, note),
    }
}

fn interrupted(phase: &Phase, job_id: &str, body: &str, note: &str) -> ! {
    match phase {
        Phase::Saved(path) => output::error(&format!(
            "interrupted before the server confirmed job {job_id}; it is kept in {}; resend it with: customcd send {}{note}",
            path.display(),
            quoted(&path.display().to_string())
        )),
        _ => {
            output::error(&format!(
                "interrupted before the server confirmed job {job_id}, and it could not be saved; it follows so that it is not lost:"
            ));
            output::stdout(body);
        }
    }
    std::process::exit(i32::from(EXIT_INTERRUPTED));
}
