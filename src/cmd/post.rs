//! The GitHub Action's one-step mode: with `report_at: job-end` the main stage validates the whole
//! job, then hands the report over to this step's post stage (`customcd post`), which reports it
//! after every other step with the job's final status. This module owns that hand-over, the rule
//! that keeps two reporting steps of one job on distinct job ids, and nothing else: building and
//! sending the job stay in `report`.
//!
//! What the runners guarantee, read in their sources (actions/runner at 258d6c85, nektos/act at
//! bd861521):
//! - `GITHUB_STATE` is bound to the step: the runner keeps one `IntraActionState` per step, fills
//!   it from the step's own state file, and gives it to the step's later stages as `STATE_*`,
//!   applied *after* the env context (ActionRunner.cs:241-258), so a `STATE_*` variable an earlier
//!   step planted through `GITHUB_ENV` cannot override a value this step saved. No other step can
//!   write this step's state.
//! - `GITHUB_ENV` is written by every step, and reaches every later stage: anything there can be
//!   planted, replayed or erased by another step.
//! - nektos/act gives a Docker action's post stage the pre stage's `STATE_*` but not the main
//!   stage's (action.go: `populateEnvsFromSavedState` is not called for a Docker post), so under
//!   act the main stage must hand over through `GITHUB_ENV`.
//!
//! So: the pre stage (`customcd start`) saves a fresh random key in this step's state
//! ([`STATE_KEY`]). The main stage writes the pending record, its job id with an HMAC-SHA256 tag
//! under that key over the step id and the job id, to its own state ([`STATE_PENDING`]) and to
//! `GITHUB_ENV` ([`REPORT_PENDING_VAR`], for act). The post stage reports only for a record whose
//! tag checks under the key it was given: another step cannot plant one (it does not know the
//! key), nor replay one from another job or step (another key, another step id), and on GitHub's
//! runner cannot erase one (the state copy). When no channel that reaches the post stage can be
//! written, the main stage reports at once, with a notice, rather than lose the job.

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::error::{Error, Problem};
use crate::output;
use crate::output::github;
use crate::settings::runner::{Runner, STATE_KEY, STATE_PENDING};
use crate::settings::Settings;
use crate::vocab::names::{Key, JOB_IDS_VAR, REPORT_PENDING_VAR};
use crate::vocab::source::{Source, Sourced};

/// Bytes of the key.
const KEY_LEN: usize = 32;
/// What the tag is computed over before the step id and the job id: a version, so that a record
/// of another format never verifies.
const DOMAIN: &[u8] = b"customcd one-step hand-over v1\0";

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
}

/// A fresh key, as saved in the step's state.
pub(crate) fn new_key() -> Result<String, getrandom::Error> {
    let mut key = [0u8; KEY_LEN];
    getrandom::fill(&mut key)?;
    Ok(b64().encode(key))
}

/// The key this step's pre (or main) stage saved, when it is one.
fn key(runner: &Runner) -> Option<Vec<u8>> {
    b64().decode(runner.key()?).ok().filter(|k| k.len() == KEY_LEN)
}

fn mac(key: &[u8], step: &str, job_id: &str) -> Option<Hmac<Sha256>> {
    // HMAC takes a key of any length; ours is always KEY_LEN.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).ok()?;
    mac.update(DOMAIN);
    mac.update(step.as_bytes());
    mac.update(b"\0");
    mac.update(job_id.as_bytes());
    Some(mac)
}

/// The pending record for `job_id` of `step`: `<job id>.<tag>`, both base64url (no spaces, so a
/// list of records is space-separated).
fn record(key: &[u8], step: &str, job_id: &str) -> Option<String> {
    let tag = mac(key, step, job_id)?.finalize().into_bytes();
    Some(format!("{}.{}", b64().encode(job_id), b64().encode(tag)))
}

/// The job id a record names, whether or not it verifies (for the distinct-id rule).
fn record_job_id(text: &str) -> Option<String> {
    let (id, _) = text.split_once('.')?;
    String::from_utf8(b64().decode(id).ok()?).ok()
}

/// The job id of `text` when its tag checks under `key` for `step`.
fn verify(key: &[u8], step: &str, text: &str) -> Option<String> {
    let (id, tag) = text.split_once('.')?;
    let job_id = String::from_utf8(b64().decode(id).ok()?).ok()?;
    let tag = b64().decode(tag).ok()?;
    mac(key, step, &job_id)?.verify_slice(&tag).ok()?;
    Some(job_id)
}

/// What the post stage found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pending {
    /// This step's main stage deferred the report of this job id.
    Mine(String),
    /// Nothing to report; `ignored` counts records that did not verify (planted or replayed).
    Nothing { ignored: usize },
}

/// Whether this step's main stage deferred its report: a record in this step's state or in the
/// `GITHUB_ENV` list whose tag checks under this step's key.
pub(crate) fn pending(runner: &Runner) -> Pending {
    let candidates: Vec<&str> =
        runner.state_pending().into_iter().chain(runner.pending().iter().map(String::as_str)).collect();
    let (Some(key), Some(step)) = (key(runner), runner.step()) else {
        return Pending::Nothing { ignored: candidates.len() };
    };
    let mut ignored = 0;
    for c in candidates {
        match verify(&key, step, c) {
            Some(job_id) => return Pending::Mine(job_id),
            None => ignored += 1,
        }
    }
    Pending::Nothing { ignored }
}

/// What the post stage says when it has nothing to do: one line, so the log of a last-step usage
/// shows why its post stage sent nothing. Records that did not verify belong to other steps of
/// the job (each has its own key) or were planted; they are never reported.
pub(crate) fn nothing_pending(ignored: usize) {
    output::info("customcd: nothing to report at the end of the job (this step reported when it ran, or did not run)");
    if ignored > 0 {
        output::info(&format!(
            "customcd: {ignored} pending record(s) in this step's environment were not written by this step's main stage (another step's, or planted through GITHUB_ENV): ignored"
        ));
    }
}

/// `job-end` needs the action's post stage, which runs only when the action is a step of the job
/// (`uses:`) and the setting came from that step's `with:`. From a variable or a flag (a `run:`
/// step, a job-level `env:`) there is no post stage, and the job would never be reported.
pub(crate) fn check_job_end(settings: &Settings) -> Result<(), Error> {
    let at = settings.report_at();
    let from_input = matches!(at.source, Source::Input(_));
    if from_input && settings.runner().action_stage() {
        return Ok(());
    }
    let why = if from_input {
        "job-end needs the action's post stage, and this is not the action's own step (no GITHUB_ACTION, or no INPUT_REPORT_AT as the runner passes it to the action)"
    } else {
        "job-end needs the action's post stage, which only the action's own `with: report_at: job-end` can ask for; from a variable or a flag (a run: step, a job-level env:) no post stage runs and the job would never be reported"
    };
    Err(Error::Invalid(vec![Problem::new(
        Key::ReportAt.name(),
        why,
        "put report_at: job-end in the `with:` of the customcd action step (uses: ...customcd-action@v1), or leave report_at unset and run customcd as the job's last step with if: always()",
    )
    .value(at.value.word())
    .source(at.source.clone())]))
}

/// The job id to use: a default id (from the CI system) that another step of this job already
/// reported or deferred gets this step's id appended, so that two reporting steps (staging and
/// production) never report the same job id. An id the user gave is kept as given.
pub(crate) fn distinct_job_id(id: &Sourced<String>, runner: &Runner) -> Option<Sourced<String>> {
    if matches!(id.source, Source::Flag(_) | Source::Var(_) | Source::Input(_) | Source::File(_)) {
        return None;
    }
    let step = runner.step()?;
    let mut taken = runner.job_ids().iter().chain(runner.pending()).filter_map(|r| record_job_id(r));
    if !taken.any(|t| t == id.value) {
        return None;
    }
    let suffix: String =
        step.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    Some(Sourced::new(
        format!("{}-{suffix}", id.value),
        Source::Default(format!(
            "{} with this step's id {step} appended: another customcd step of this job reports {}",
            id.source, id.value
        )),
    ))
}

/// Records in `GITHUB_ENV` that this step reports `job_id`, for a later step's distinct-id rule.
/// Best effort: a later step that cannot read it only risks the same id.
pub(crate) fn claim_job_id(runner: &Runner, job_id: &str) {
    let Some(file) = runner.env_file().filter(|_| runner.step().is_some()) else { return };
    let mut ids: Vec<String> = runner.job_ids().to_vec();
    ids.push(format!("{}.", b64().encode(job_id)));
    if let Err(e) = github::append(file.as_ref(), &[(JOB_IDS_VAR, ids.join(" "))]) {
        output::info(&format!("customcd: could not note job {job_id} in GITHUB_ENV ({e}); a later customcd step of this job could report the same default job id"));
    }
}

/// What the main stage's hand-over gave.
pub(crate) enum Handover {
    /// The post stage will report; the text says through which channels.
    Deferred(String),
    /// No channel that reaches the post stage could be written: report now. The text says why.
    ReportNow(String),
}

/// `report` with `report_at: job-end`, after the job was validated: writes the pending record
/// for `job_id` where this step's post stage will read it. Sends nothing.
pub(crate) fn defer(runner: &Runner, job_id: &str) -> Handover {
    let Some(step) = runner.step() else {
        return Handover::ReportNow("GITHUB_ACTION, the step's id, is not set".to_owned());
    };
    let act = runner.act();
    let mut why = Vec::new();
    // The pre stage's key reaches the post stage on both runners; a key the main stage makes
    // reaches it only through the state file on GitHub's runner.
    let (key_bytes, new) = match key(runner) {
        Some(k) => (k, None),
        None if act => {
            return Handover::ReportNow(
                "the pre stage saved no key in this step's state (STATE_customcd_key), and under act the main stage's state does not reach the post stage".to_owned(),
            )
        }
        None => match new_key() {
            Ok(text) => match b64().decode(&text) {
                Ok(bytes) => (bytes, Some(text)),
                Err(e) => return Handover::ReportNow(format!("no key could be made: {e}")),
            },
            Err(e) => return Handover::ReportNow(format!("no key could be made: {e}")),
        },
    };
    let Some(rec) = record(&key_bytes, step, job_id) else {
        return Handover::ReportNow("the pending record could not be made".to_owned());
    };
    let mut channels = Vec::new();
    // GitHub's runner: the state file, which no other step can write or erase.
    if !act {
        match runner.state_file() {
            Some(path) => {
                let mut pairs = Vec::new();
                if let Some(text) = &new {
                    pairs.push((STATE_KEY, text.clone()));
                }
                pairs.push((STATE_PENDING, rec.clone()));
                match github::append(path.as_ref(), &pairs) {
                    Ok(()) => channels.push("this step's state (GITHUB_STATE)"),
                    Err(e) => why.push(format!("the GITHUB_STATE file {path} could not be written: {e}")),
                }
            }
            None => why.push("GITHUB_STATE is not set".to_owned()),
        }
    }
    // Both runners: GITHUB_ENV, which act's post stage sees; worth it only with the pre stage's key.
    if new.is_none() {
        match runner.env_file() {
            Some(path) => {
                let mut list: Vec<&str> = runner.pending().iter().map(String::as_str).collect();
                list.push(&rec);
                match github::append(path.as_ref(), &[(REPORT_PENDING_VAR, list.join(" "))]) {
                    Ok(()) => channels.push("GITHUB_ENV"),
                    Err(e) => why.push(format!("the GITHUB_ENV file {path} could not be written: {e}")),
                }
            }
            None => why.push("GITHUB_ENV is not set".to_owned()),
        }
    }
    if channels.is_empty() {
        Handover::ReportNow(why.join("; "))
    } else {
        Handover::Deferred(channels.join(" and "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Runner {
        Runner::read(&pairs.iter().map(|(k, v)| (*k, *v)).collect())
    }

    #[test]
    fn only_a_record_tagged_under_this_steps_key_for_this_step_is_pending() {
        let key_text = new_key().expect("random");
        let key = b64().decode(&key_text).expect("b64");
        let other_key = b64().decode(new_key().expect("random")).expect("b64");
        let mine = record(&key, "report", "1-1-deploy").expect("record");
        let state_key = format!("STATE_{STATE_KEY}");
        let with = |pairs: &[(&str, &str)]| {
            let mut all = vec![("GITHUB_ACTION", "report"), (state_key.as_str(), key_text.as_str())];
            all.extend_from_slice(pairs);
            pending(&env(&all))
        };
        assert_eq!(with(&[(REPORT_PENDING_VAR, &mine)]), Pending::Mine("1-1-deploy".into()));
        let state_var = format!("STATE_{STATE_PENDING}");
        assert_eq!(with(&[(state_var.as_str(), &mine)]), Pending::Mine("1-1-deploy".into()));
        // Planted: a record made with another key, or for another step, or with a job id changed.
        let planted = record(&other_key, "report", "1-1-deploy").expect("record");
        assert_eq!(with(&[(REPORT_PENDING_VAR, &planted)]), Pending::Nothing { ignored: 1 });
        let other_step = record(&key, "report_2", "1-1-deploy").expect("record");
        assert_eq!(with(&[(REPORT_PENDING_VAR, &other_step)]), Pending::Nothing { ignored: 1 });
        let (_, tag) = mine.split_once('.').expect("dot");
        let forged = format!("{}.{tag}", b64().encode("1-1-other"));
        assert_eq!(with(&[(REPORT_PENDING_VAR, &forged)]), Pending::Nothing { ignored: 1 });
        // The old format (a bare step id) is not a record.
        assert_eq!(with(&[(REPORT_PENDING_VAR, "report")]), Pending::Nothing { ignored: 1 });
        // No key: nothing verifies.
        let no_key = pending(&env(&[("GITHUB_ACTION", "report"), (REPORT_PENDING_VAR, &mine)]));
        assert_eq!(no_key, Pending::Nothing { ignored: 1 });
    }

    #[test]
    fn a_default_job_id_another_step_took_gets_this_steps_id() {
        let ci = Sourced::new("9-1-deploy".to_owned(), Source::Ci { system: "GitHub Actions", detail: "x".into() });
        let taken = format!("{}.", b64().encode("9-1-deploy"));
        let e = env(&[("GITHUB_ACTION", "__acme_customcd-action_2"), (JOB_IDS_VAR, &taken)]);
        let id = distinct_job_id(&ci, &e).expect("renamed");
        assert_eq!(id.value, "9-1-deploy-__acme_customcd-action_2");
        let given = Sourced::new("9-1-deploy".to_owned(), Source::Input("job_id".into()));
        assert!(distinct_job_id(&given, &e).is_none(), "an id the user gave is kept");
        let free = env(&[("GITHUB_ACTION", "report")]);
        assert!(distinct_job_id(&ci, &free).is_none());
    }
}
