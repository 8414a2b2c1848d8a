//! `customcd send`: delivering payload files (as the spool keeps them) or a payload on standard
//! input, each validated against the contract first, each removed only after a 2xx.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::bulk;
use crate::cli::SendArgs;
use crate::config;
use crate::delivery;
use crate::endpoint;
use crate::env::Env;
use crate::error::{Error, Problem};
use crate::job::{self, Job};
use crate::json_diag;
use crate::optional::OptionalInput;
use crate::output;
use crate::records::{Format, Input};
use crate::source::{Source, Sourced};
use crate::spool;
use crate::values::{Key, Layer, Stack};

/// The payload fields, and whether each is a string (else an integer).
const FIELDS: &[(&str, Key, bool)] = &[
    ("job_id", Key::JobId, true),
    ("commit_sha", Key::CommitSha, true),
    ("service_id", Key::ServiceId, false),
    ("job_start_time", Key::JobStartTime, false),
    ("job_duration", Key::JobDuration, false),
    ("status", Key::Status, true),
    ("repo_id", Key::RepoId, true),
    ("repo_name", Key::RepoName, true),
    ("triggered_by", Key::TriggeredBy, true),
    ("job_type", Key::JobType, true),
];
const REQUIRED: &[&str] = &["job_id", "commit_sha", "service_id", "job_start_time", "job_duration", "status"];

/// Checks one payload (JSON text) against the contract; `origin` names it in messages.
pub fn validate(text: &str, origin: &str) -> Result<Job, Vec<Problem>> {
    let source = Source::File(origin.to_owned());
    let value = json_diag::parse(text)
        .map_err(|why| vec![Problem::new("payload", why, "fix the JSON").source(source.clone())])?;
    let Value::Object(obj) = value else {
        return Err(vec![Problem::new(
            "payload",
            "must be one JSON object",
            "write the job as {\"job_id\": ..., ...}",
        )
        .source(source)]);
    };
    let mut problems = Vec::new();
    let mut layer = Layer::default();
    for key in obj.keys() {
        if key != "optional" && !FIELDS.iter().any(|(n, _, _)| n == key) {
            problems.push(
                Problem::new(key.clone(), "is not a field of the Custom CD API", "remove it").source(source.clone()),
            );
        }
    }
    for name in REQUIRED {
        if !obj.contains_key(*name) {
            problems.push(Problem::new(*name, "is required in a payload", "add it").source(source.clone()));
        }
    }
    for (name, key, is_string) in FIELDS {
        let Some(v) = obj.get(*name) else { continue };
        let text = match (v, is_string) {
            (Value::String(s), true) => Some(s.clone()),
            (Value::Number(n), false) if n.is_u64() || n.is_i64() => Some(n.to_string()),
            _ => None,
        };
        match text {
            Some(t) => layer.set(*key, Sourced::new(t, source.clone())),
            None => problems.push(
                Problem::new(
                    *name,
                    if *is_string {
                        "must be a JSON string"
                    } else {
                        "must be a JSON integer, not a quoted string or a fraction"
                    },
                    "fix its type",
                )
                .value(v.to_string())
                .source(source.clone()),
            ),
        }
    }
    let optional = obj
        .get("optional")
        .map(|o| OptionalInput { specs: Vec::new(), json: Some(Sourced::new(o.to_string(), source.clone())) });
    let mut stack = Stack::default();
    stack.push(layer);
    let optional: Vec<OptionalInput> = optional.into_iter().collect();
    job::resolve_stored(&stack, &optional, problems)
}

/// Runs `customcd send`. With no paths, sends what the default spool directory holds.
pub fn run(args: &SendArgs, env: &Env, cwd: PathBuf) -> Result<(), Error> {
    let (stack, ci) = config::connection_stack(&args.connection, env)?;
    output::set_github(ci.as_ref().is_some_and(|c| c.github_like));
    let mut problems = Vec::new();
    let dry_run = endpoint::flag_value(&stack, Key::DryRun, false, &mut problems);
    let deadline = delivery::deadline(&stack, &mut problems);
    let connection = if dry_run { None } else { endpoint::connection(&stack, env, &mut problems) };
    if args.concurrency == 0 || args.concurrency > 64 {
        problems.push(
            Problem::new("concurrency", "must be from 1 to 64", "e.g. --concurrency 4")
                .value(args.concurrency.to_string()),
        );
    }
    if !problems.is_empty() {
        return Err(Error::Invalid(problems));
    }
    for w in connection.iter().flat_map(|c| &c.transport.warnings) {
        output::warn(w);
    }

    let dir = args.paths.is_empty().then(|| spool::dir(&stack, ci.as_ref(), env, &cwd));
    let inputs = inputs(args, dir)?;
    bulk::stop_on_signal();
    let opts = bulk::Options {
        concurrency: args.concurrency,
        deadline,
        rejects: Some(args.rejects.clone().unwrap_or_else(|| cwd.join("customcd-rejects.jsonl"))),
        stdin_checkpoint: args.checkpoint.clone(),
        progress_every: Duration::from_secs(5),
    };
    bulk::run(&inputs, connection.as_ref(), &opts)
}

/// The inputs of a `send`: the paths given (`-` is standard input), else the spool `dir`.
fn inputs(args: &SendArgs, dir: Option<Sourced<PathBuf>>) -> Result<Vec<Input>, Error> {
    let mut inputs = Vec::new();
    let as_input = |f: spool::Found| Input { listed: f.listed, ..Input::file(f.path, args.format) };
    if let Some(dir) = dir {
        if dir.value.is_dir() {
            output::info(&format!("sending the spool {} ({})", dir.value.display(), dir.source));
            inputs.extend(spool::expand(&[dir.value])?.into_iter().map(as_input));
        } else {
            output::info(&format!(
                "the spool {} ({}) does not exist: nothing to send",
                dir.value.display(),
                dir.source
            ));
        }
    }
    for p in &args.paths {
        if p == "-" {
            inputs.push(Input::stdin(args.format.unwrap_or(Format::Jsonl)));
        } else {
            inputs.extend(spool::expand(&[PathBuf::from(p)])?.into_iter().map(as_input));
        }
    }
    Ok(inputs)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"job_id":"1","commit_sha":"a2e7da86cc392417b0d9f605b28038aae80b002f","service_id":2,"job_start_time":1704018030,"job_duration":300,"status":"Succeeded","repo_id":"12345","optional":[{"key":"lead_time","value":20,"type":"duration"}]}"#;

    #[test]
    fn a_valid_payload_round_trips_exactly() {
        let job = validate(GOOD, "a.json").expect("valid");
        assert_eq!(job.body(), GOOD);
    }

    #[test]
    fn payload_types_are_those_of_the_contract() {
        let quoted = GOOD.replace("\"service_id\":2", "\"service_id\":\"2\"");
        let p = validate(&quoted, "a.json").expect_err("quoted service_id");
        assert!(p.iter().any(|p| p.field == "service_id" && p.rule.contains("JSON integer")), "{p:?}");
        let p = validate(&GOOD.replace("\"job_duration\":300,", ""), "a.json").expect_err("missing");
        assert!(p.iter().any(|p| p.field == "job_duration" && p.rule.contains("required")));
        let p =
            validate(&GOOD.replace("\"job_id\":\"1\"", "\"job_id\":\"1\",\"extra\":1"), "a.json").expect_err("unknown");
        assert!(p.iter().any(|p| p.field == "extra"));
        let p = validate("{'job_id': '1',}", "a.json").expect_err("not JSON");
        assert!(p[0].rule.contains("double quotes"), "{}", p[0]);
        assert!(p[0].to_string().contains("file a.json"));
    }

    #[test]
    fn the_vendor_sample_with_its_flaws_is_explained() {
        let sample = "{\n\"job_id\": \"1\",\n\"status\": \"Succeeded\",\n\"commit_sha\": \"a2e7da86cc392417b0d9f605b28038aae80b002f\",\n\"triggered_by\": \"testuser@org.com\"\n\"repo_id\": \u{201C}12345\u{201D},\n}";
        let p = validate(sample, "sample.json").expect_err("invalid");
        assert!(p[0].rule.contains("line 6"), "{}", p[0]);
        assert!(p[0].rule.contains("comma is missing"), "{}", p[0]);
    }
}
