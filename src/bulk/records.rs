//! Job records from files and standard input: single payload files (as spooled), JSON arrays,
//! JSON Lines and CSV, read as a stream (one record in memory at a time) and each turned into a
//! validated job or the reasons it is not one.
//!
//! CSV takes a header of payload field names; `optional.KEY` or `optional.KEY:TYPE` columns hold
//! optional fields (TYPE as for `--field`; repeating a key makes a list); empty cells are unset.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::error::Problem;
use crate::job::optional::OptionalInput;
use crate::job::stored;
use crate::job::{self, Job};
use crate::settings::names::{Key, Layer, Stack, PAYLOAD_FIELDS};
use crate::settings::source::{Source, Sourced};

/// How an input is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One payload object, or an array of them.
    Json,
    /// One payload object per line.
    Jsonl,
    /// A header of field names, then one job per row.
    Csv,
}

/// One input: a file, or standard input (`path` is `None`).
#[derive(Debug, Clone)]
pub struct Input {
    pub name: String,
    pub path: Option<PathBuf>,
    pub format: Format,
}

impl Input {
    /// A file, its format from its extension (`.jsonl`/`.ndjson`, `.csv`, else JSON).
    pub fn file(path: PathBuf, format: Option<Format>) -> Input {
        let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
        let format = format.unwrap_or(match ext.as_str() {
            "jsonl" | "ndjson" => Format::Jsonl,
            "csv" => Format::Csv,
            _ => Format::Json,
        });
        Input { name: path.display().to_string(), path: Some(path), format }
    }

    /// A single payload file, as the spool keeps them: removed once delivered.
    pub fn is_single_payload_file(&self) -> bool {
        self.path.is_some() && self.format == Format::Json
    }
}

/// One record: its number in its input (from 1), where it is, its text, and the job or why not.
pub struct Record {
    pub number: u64,
    pub origin: String,
    pub raw: String,
    pub job: Result<Job, Vec<Problem>>,
}

/// The records of `input`, streamed. The iterator yields `Err` for a failure to read the input
/// itself (after which it ends).
pub fn read(input: &Input) -> anyhow::Result<Box<dyn Iterator<Item = anyhow::Result<Record>>>> {
    let reader: Box<dyn BufRead> = match &input.path {
        Some(p) => Box::new(BufReader::new(File::open(p).with_context(|| format!("opening {}", p.display()))?)),
        None => Box::new(BufReader::new(std::io::stdin())),
    };
    let name = input.name.clone();
    Ok(match input.format {
        Format::Json => json(reader, name)?,
        Format::Jsonl => Box::new(jsonl(reader, name)),
        Format::Csv => csv(reader, name)?,
    })
}

fn json(
    mut reader: Box<dyn BufRead>,
    name: String,
) -> anyhow::Result<Box<dyn Iterator<Item = anyhow::Result<Record>>>> {
    let mut text = String::new();
    reader.read_to_string(&mut text).with_context(|| format!("reading {name}"))?;
    // An array holds several payloads; anything else is one (and is explained if it is not JSON).
    if let Ok(serde_json::Value::Array(items)) = serde_json::from_str::<serde_json::Value>(&text) {
        let records: Vec<anyhow::Result<Record>> = items
            .into_iter()
            .enumerate()
            .map(|(i, item)| {
                let raw = item.to_string();
                let origin = format!("{name}[{i}]");
                Ok(Record { number: i as u64 + 1, job: stored::validate(&raw, &origin), origin, raw })
            })
            .collect();
        return Ok(Box::new(records.into_iter()));
    }
    let job = stored::validate(&text, &name);
    Ok(Box::new(std::iter::once(Ok(Record { number: 1, origin: name, raw: text, job }))))
}

fn jsonl(reader: Box<dyn BufRead>, name: String) -> impl Iterator<Item = anyhow::Result<Record>> {
    let mut lines = reader.lines().enumerate();
    std::iter::from_fn(move || loop {
        let (i, line) = lines.next()?;
        let line = match line {
            Ok(l) => l,
            Err(e) => return Some(Err(anyhow::anyhow!("reading {name} line {}: {e}", i + 1))),
        };
        // Blank lines are not records, but they keep their numbers so positions stay stable.
        if line.trim().is_empty() {
            continue;
        }
        let origin = format!("{name}:{}", i + 1);
        let job = stored::validate(&line, &origin);
        return Some(Ok(Record { number: i as u64 + 1, origin, raw: line, job }));
    })
}

/// A CSV column: a payload field, or an optional field with its type.
enum Column {
    Field(Key),
    Optional(String),
}

fn csv(reader: Box<dyn BufRead>, name: String) -> anyhow::Result<Box<dyn Iterator<Item = anyhow::Result<Record>>>> {
    let mut rdr = csv::ReaderBuilder::new().flexible(false).trim(csv::Trim::Headers).from_reader(reader);
    let headers = rdr.headers().with_context(|| format!("reading the header of {name}"))?.clone();
    let mut columns = Vec::new();
    for h in &headers {
        if let Some(spec) = h.strip_prefix("optional.") {
            columns.push(Column::Optional(spec.to_owned()));
        } else if let Some(field) = PAYLOAD_FIELDS.iter().find(|f| f.name() == h) {
            columns.push(Column::Field(field.key));
        } else {
            anyhow::bail!(
                "{name}: the CSV column {h:?} is not a payload field; columns are {} and optional.KEY[:TYPE]",
                PAYLOAD_FIELDS.iter().map(|f| f.name()).collect::<Vec<_>>().join(", ")
            );
        }
    }
    let mut rows = rdr.into_records();
    let mut count = 0u64;
    Ok(Box::new(std::iter::from_fn(move || {
        let row = rows.next()?;
        count += 1;
        let row = match row {
            Ok(r) => r,
            Err(e) => return Some(Err(anyhow::anyhow!("reading {name}: {e}"))),
        };
        let line = row.position().map_or(0, |p| p.line());
        let origin = format!("{name}:{line}");
        let source = Source::File(origin.clone());
        let mut layer = Layer::default();
        let mut specs = Vec::new();
        for (column, cell) in columns.iter().zip(row.iter()) {
            if cell.trim().is_empty() {
                continue;
            }
            match column {
                Column::Field(key) => layer.set(*key, Sourced::new(cell.to_owned(), source.clone())),
                // `optional.KEY:TYPE` + cell is exactly a `--field KEY:TYPE=VALUE` spec.
                Column::Optional(spec) => specs.push(Sourced::new(format!("{spec}={cell}"), source.clone())),
            }
        }
        let raw = row.iter().collect::<Vec<_>>().join(",");
        Some(Ok(Record { number: count, origin, raw, job: resolve_row(layer, specs, &source) }))
    })))
}

/// A CSV row's job: every required field must be in the row (nothing is derived from git or the
/// clock for history).
fn resolve_row(layer: Layer, specs: Vec<Sourced<String>>, source: &Source) -> Result<Job, Vec<Problem>> {
    let mut missing = Vec::new();
    for key in [Key::JobId, Key::CommitSha, Key::ServiceId, Key::JobStartTime, Key::JobDuration, Key::Status] {
        if layer.get(key).is_none() {
            missing.push(Problem::new(key.name(), "is required in every row", "fill the cell").source(source.clone()));
        }
    }
    let mut stack = Stack::default();
    stack.push(layer);
    let optional = [OptionalInput { specs, json: None }];
    job::resolve_stored(&stack, &optional, missing)
}

/// A short description of an input for the checkpoint: its first record line. A checkpoint made
/// for other content must not silence a different file.
pub fn identity(path: &Path) -> anyhow::Result<String> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut first = String::new();
    BufReader::new(file).take(4096).read_line(&mut first).with_context(|| format!("reading {}", path.display()))?;
    Ok(first.trim_end().chars().take(200).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "a2e7da86cc392417b0d9f605b28038aae80b002f";

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).expect("write");
        p
    }

    fn all(input: &Input) -> Vec<Record> {
        read(input).expect("opens").map(|r| r.expect("reads")).collect()
    }

    fn line(id: &str) -> String {
        format!(
            r#"{{"job_id":"{id}","commit_sha":"{SHA}","service_id":2,"job_start_time":1704018030,"job_duration":5,"status":"Succeeded","repo_name":"acme/app"}}"#
        )
    }

    #[test]
    fn json_lines_keep_line_numbers_and_reasons() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = format!("{}\n\n{{'bad': 1}}\n{}\n", line("a"), line("b"));
        let input = Input::file(write(dir.path(), "jobs.jsonl", &text), None);
        assert_eq!(input.format, Format::Jsonl);
        let records = all(&input);
        let numbers: Vec<u64> = records.iter().map(|r| r.number).collect();
        assert_eq!(numbers, [1, 3, 4]);
        assert!(records[0].job.is_ok() && records[2].job.is_ok());
        let problems = records[1].job.as_ref().expect_err("invalid");
        assert!(problems[0].to_string().contains("jobs.jsonl:3"), "{}", problems[0]);
        assert!(problems[0].to_string().contains("double quotes"), "{}", problems[0]);
    }

    #[test]
    fn a_json_array_is_several_payloads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let input = Input::file(write(dir.path(), "jobs.json", &format!("[{}, {}]", line("a"), line("b"))), None);
        let ids: Vec<String> = all(&input).into_iter().map(|r| r.job.expect("valid").job_id.value).collect();
        assert_eq!(ids, ["a", "b"]);
    }

    #[test]
    fn csv_rows_become_jobs_with_typed_optional_fields() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = format!(
            "job_id,commit_sha,service_id,job_start_time,job_duration,status,repo_name,optional.lead_time:duration,optional.ms,optional.ms\n\
             j1,{SHA},2,2024-01-01T10:00:00Z,30,success,acme/app,20,frontend,backend\n\
             j2,{SHA},x,1704018030,30,success,acme/app,,,\n"
        );
        let input = Input::file(write(dir.path(), "jobs.csv", &text), None);
        let records = all(&input);
        assert_eq!(records.len(), 2);
        let job = records[0].job.as_ref().expect("valid");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&job.body()).expect("json")["optional"],
            serde_json::json!([
                {"key": "lead_time", "value": 20, "type": "duration"},
                {"key": "ms", "value": ["frontend", "backend"], "type": "string"}
            ])
        );
        assert_eq!(job.job_start_time.value, 1_704_103_200);
        let problems = records[1].job.as_ref().expect_err("invalid");
        assert!(problems.iter().any(|p| p.field == "service_id"), "{problems:?}");
        assert_eq!(records[1].origin, format!("{}:3", input.name));
    }

    #[test]
    fn unknown_csv_columns_are_refused_up_front() {
        let dir = tempfile::tempdir().expect("tempdir");
        let input = Input::file(write(dir.path(), "jobs.csv", "job_id,sha\n1,2\n"), None);
        let err = read(&input).err().expect("refused");
        assert!(err.to_string().contains("\"sha\""), "{err}");
    }

    #[test]
    fn csv_rows_must_carry_every_required_field() {
        let dir = tempfile::tempdir().expect("tempdir");
        let input = Input::file(
            write(
                dir.path(),
                "jobs.csv",
                &format!("job_id,commit_sha,service_id,status,repo_id\n1,{SHA},2,success,9\n"),
            ),
            None,
        );
        let problems = all(&input).remove(0).job.expect_err("invalid");
        let fields: Vec<_> = problems.iter().map(|p| p.field.as_str()).collect();
        assert!(fields.contains(&"job_start_time") && fields.contains(&"job_duration"), "{fields:?}");
    }
}
