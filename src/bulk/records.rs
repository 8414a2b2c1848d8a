//! Job records from files and standard input: single payload files (as spooled), JSON arrays,
//! JSON Lines and CSV, read as a stream (one record in memory at a time) and each turned into a
//! validated job or the reasons it is not one.
//!
//! CSV takes a header of payload field names; `optional.KEY` or `optional.KEY:TYPE` columns hold
//! optional fields (TYPE as for `--field`; repeating a key makes a list); empty cells are unset.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;

use anyhow::Context;

use crate::error::Problem;
use crate::job::optional::OptionalInput;
use crate::job::stored;
use crate::job::{self, Job};
use crate::vocab::names::{Key, Layer, Stack, PAYLOAD_FIELDS};
use crate::vocab::source::{Source, Sourced};

/// The largest record: a JSON Lines line, a CSV row or a single payload. A bigger one is a reject
/// (its first bytes are kept for the rejects file), and is never read into memory whole.
pub const MAX_RECORD: usize = 1024 * 1024;
/// The largest `.json` file (one payload, or an array of them), read whole to parse it.
pub(crate) const MAX_JSON_FILE: u64 = 64 * 1024 * 1024;

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
    /// Found by listing a directory (the spool): only a regular file owned by this user is read.
    pub listed: bool,
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
        Input { name: path.display().to_string(), path: Some(path), format, listed: false }
    }

    /// Standard input.
    pub fn stdin(format: Format) -> Input {
        Input { name: "-".to_owned(), path: None, format, listed: false }
    }
}

/// One record: its number in its input (from 1), where it is, its text, and the job or why not.
pub struct Record {
    pub number: u64,
    pub origin: String,
    pub raw: String,
    pub job: Result<Job, Vec<Problem>>,
}

/// The records of one input, streamed. The iterator yields `Err` for a failure to read the input
/// itself (after which it ends).
pub struct Records {
    pub iter: Box<dyn Iterator<Item = anyhow::Result<Record>>>,
    /// The input is one payload object (as the spool keeps them): it is removed once delivered
    /// instead of getting a checkpoint.
    pub single: bool,
}

/// Opens `input` (a file, or standard input) and reads its records.
pub fn read(input: &Input) -> anyhow::Result<Records> {
    let reader: Box<dyn BufRead> = match &input.path {
        Some(p) => Box::new(BufReader::new(File::open(p).with_context(|| format!("opening {}", p.display()))?)),
        None => Box::new(BufReader::new(std::io::stdin())),
    };
    read_from(input, reader)
}

/// Reads the records of `input` from `reader` (the caller opened and claimed it).
pub fn read_from(input: &Input, reader: Box<dyn BufRead>) -> anyhow::Result<Records> {
    let name = input.name.clone();
    Ok(match input.format {
        Format::Json => json(reader, name)?,
        Format::Jsonl => Records { iter: Box::new(jsonl(reader, name)), single: false },
        Format::Csv => Records { iter: csv(reader, name)?, single: false },
    })
}

/// A record that is refused before parsing: too big, or not UTF-8.
fn refused(number: u64, origin: String, raw: &[u8], rule: String, fix: &str) -> Record {
    let shown = String::from_utf8_lossy(&raw[..raw.len().min(200)]).into_owned();
    let problem = Problem::new("record", rule, fix).source(Source::File(origin.clone()));
    Record { number, origin, raw: shown, job: Err(vec![problem]) }
}

fn too_big(number: u64, origin: String, raw: &[u8]) -> Record {
    refused(
        number,
        origin,
        raw,
        format!("is over {} MiB, the most one record may be", MAX_RECORD / (1024 * 1024)),
        "shorten it (a payload is a few hundred bytes; check that records are on separate lines)",
    )
}

fn not_utf8(number: u64, origin: String, raw: &[u8], e: &std::str::Utf8Error) -> Record {
    refused(
        number,
        origin,
        raw,
        format!("is not UTF-8 text (invalid byte at offset {})", e.valid_up_to()),
        "save the file as UTF-8",
    )
}

fn json(reader: Box<dyn BufRead>, name: String) -> anyhow::Result<Records> {
    let mut bytes = Vec::new();
    reader.take(MAX_JSON_FILE + 1).read_to_end(&mut bytes).with_context(|| format!("reading {name}"))?;
    if bytes.len() as u64 > MAX_JSON_FILE {
        anyhow::bail!(
            "{name} is over {} MiB, the most a .json input may be; write many jobs as JSON Lines (.jsonl), which is streamed",
            MAX_JSON_FILE / (1024 * 1024)
        );
    }
    let text = match std::str::from_utf8(&bytes) {
        Ok(t) => t,
        Err(e) => {
            let record = not_utf8(1, name.clone(), &bytes, &e);
            return Ok(Records { iter: Box::new(std::iter::once(Ok(record))), single: true });
        }
    };
    // An array holds several payloads; anything else is one (and is explained if it is not JSON).
    if let Ok(serde_json::Value::Array(items)) = serde_json::from_str::<serde_json::Value>(text) {
        let records: Vec<anyhow::Result<Record>> = items
            .into_iter()
            .enumerate()
            .map(|(i, item)| {
                let raw = item.to_string();
                let origin = format!("{name}[{i}]");
                if raw.len() > MAX_RECORD {
                    return Ok(too_big(i as u64 + 1, origin, raw.as_bytes()));
                }
                Ok(Record { number: i as u64 + 1, job: stored::validate(&raw, &origin), origin, raw })
            })
            .collect();
        return Ok(Records { iter: Box::new(records.into_iter()), single: false });
    }
    let record = if text.len() > MAX_RECORD {
        too_big(1, name, text.as_bytes())
    } else {
        Record { number: 1, job: stored::validate(text, &name), origin: name, raw: text.to_owned() }
    };
    Ok(Records { iter: Box::new(std::iter::once(Ok(record))), single: true })
}

/// Reads one line of at most [`MAX_RECORD`] bytes into `buf` (without its newline). Returns
/// `None` at the end, else whether the line fitted; the rest of a longer line is skipped
/// without being kept.
fn bounded_line(reader: &mut dyn BufRead, buf: &mut Vec<u8>) -> std::io::Result<Option<bool>> {
    buf.clear();
    let n = reader.take(MAX_RECORD as u64 + 1).read_until(b'\n', buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
        return Ok(Some(buf.len() <= MAX_RECORD));
    }
    if buf.len() <= MAX_RECORD {
        return Ok(Some(true)); // the last line, without a newline
    }
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            return Ok(Some(false));
        }
        match chunk.iter().position(|b| *b == b'\n') {
            Some(i) => {
                reader.consume(i + 1);
                return Ok(Some(false));
            }
            None => {
                let len = chunk.len();
                reader.consume(len);
            }
        }
    }
}

fn jsonl(mut reader: Box<dyn BufRead>, name: String) -> impl Iterator<Item = anyhow::Result<Record>> {
    let mut number = 0u64;
    let mut buf = Vec::new();
    std::iter::from_fn(move || loop {
        number += 1;
        let fits = match bounded_line(&mut reader, &mut buf) {
            Ok(None) => return None,
            Ok(Some(fits)) => fits,
            Err(e) => return Some(Err(anyhow::anyhow!("reading {name} line {number}: {e}"))),
        };
        let origin = format!("{name}:{number}");
        if !fits {
            return Some(Ok(too_big(number, origin, &buf)));
        }
        let line = match std::str::from_utf8(&buf) {
            Ok(l) => l,
            Err(e) => return Some(Ok(not_utf8(number, origin, &buf, &e))),
        };
        // Blank lines are not records.
        if line.trim().is_empty() {
            continue;
        }
        let job = stored::validate(line, &origin);
        return Some(Ok(Record { number, origin, raw: line.to_owned(), job }));
    })
}

/// A CSV column: a payload field, or an optional field with its type.
enum Column {
    Field(Key),
    Optional(String),
}

/// Passes bytes through, failing once a line runs past [`MAX_RECORD`]: the CSV reader would
/// otherwise grow its buffer for a row of any size.
struct LineGuard<R> {
    inner: R,
    since_newline: usize,
}

impl<R: Read> Read for LineGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let read = buf.get(..n).unwrap_or_default();
        self.since_newline = match read.iter().rposition(|b| *b == b'\n') {
            Some(i) => n - i - 1,
            None => self.since_newline + n,
        };
        if self.since_newline > MAX_RECORD {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "a line is over {} MiB, the most one record may be; the rest of the file is not read",
                    MAX_RECORD / (1024 * 1024)
                ),
            ));
        }
        Ok(n)
    }
}

fn csv(reader: Box<dyn BufRead>, name: String) -> anyhow::Result<Box<dyn Iterator<Item = anyhow::Result<Record>>>> {
    let guarded = LineGuard { inner: reader, since_newline: 0 };
    let mut rdr = csv::ReaderBuilder::new().flexible(false).trim(csv::Trim::Headers).from_reader(guarded);
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
    let width = columns.len();
    let mut rows = rdr.into_records();
    let mut count = 0u64;
    Ok(Box::new(std::iter::from_fn(move || {
        let row = rows.next()?;
        count += 1;
        let row = match row {
            Ok(r) => r,
            // A ragged or non-UTF-8 row is that row's problem: the reader goes on with the next.
            Err(e) => {
                let line = e.position().map_or(0, csv::Position::line);
                let origin = format!("{name}:{line}");
                return Some(match e.kind() {
                    csv::ErrorKind::UnequalLengths { len, .. } => Ok(refused(
                        count,
                        origin,
                        b"",
                        format!("has {len} cells where the header has {width}"),
                        "give every row one cell per column (an empty cell leaves a field unset)",
                    )),
                    csv::ErrorKind::Utf8 { err, .. } => Ok(refused(
                        count,
                        origin,
                        b"",
                        format!("is not UTF-8 text (field {})", err.field() + 1),
                        "save the file as UTF-8",
                    )),
                    _ => Err(anyhow::anyhow!("reading {origin}: {e}")),
                });
            }
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const SHA: &str = "a2e7da86cc392417b0d9f605b28038aae80b002f";

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).expect("write");
        p
    }

    fn all(input: &Input) -> Vec<Record> {
        read(input).expect("opens").iter.map(|r| r.expect("reads")).collect()
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

    #[test]
    fn a_json_line_over_the_cap_is_a_reject_and_the_next_line_is_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let huge = format!("{{\"job_id\":\"{}\"}}", "x".repeat(3 * MAX_RECORD));
        let text = format!("{}\n{huge}\n{}\n", line("a"), line("b"));
        let records = all(&Input::file(write(dir.path(), "jobs.jsonl", &text), None));
        assert_eq!(records.len(), 3);
        let problems = records[1].job.as_ref().expect_err("too big");
        assert!(problems[0].to_string().contains("over 1 MiB"), "{}", problems[0]);
        assert!(records[1].raw.len() <= 200, "only the start is kept");
        assert_eq!(records[2].job.as_ref().expect("valid").job_id.value, "b");
    }

    #[test]
    fn a_line_that_is_not_utf8_is_a_reject_not_the_end_of_the_input() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut bytes = line("a").into_bytes();
        bytes.extend_from_slice(b"\n{\"job_id\":\"\xff\"}\n");
        bytes.extend_from_slice(line("b").as_bytes());
        let path = dir.path().join("jobs.jsonl");
        std::fs::write(&path, bytes).expect("write");
        let records = all(&Input::file(path, None));
        assert_eq!(records.len(), 3);
        assert!(records[1].job.as_ref().expect_err("refused")[0].to_string().contains("not UTF-8"));
        assert!(records[2].job.is_ok(), "the last line has no newline and is still read");
    }

    #[test]
    fn a_ragged_csv_row_is_a_reject_and_the_rows_after_it_are_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = format!(
            "job_id,commit_sha,service_id,job_start_time,job_duration,status,repo_name\n\
             j1,{SHA},2,1704018030,30,success,acme/app\n\
             j2,{SHA},2\n\
             j3,{SHA},2,1704018030,30,success,acme/app\n"
        );
        let input = Input::file(write(dir.path(), "jobs.csv", &text), None);
        let records = all(&input);
        assert_eq!(records.len(), 3);
        let problems = records[1].job.as_ref().expect_err("ragged");
        assert!(problems[0].to_string().contains("3 cells where the header has 7"), "{}", problems[0]);
        assert_eq!(records[1].origin, format!("{}:3", input.name));
        assert_eq!(records[2].job.as_ref().expect("valid").job_id.value, "j3");
    }

    #[test]
    fn a_csv_line_over_the_cap_ends_the_input_without_reading_it_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = format!(
            "job_id,commit_sha,service_id,job_start_time,job_duration,status,repo_name\nj1,{SHA},2,1704018030,30,success,acme/app\n{}\n",
            "y".repeat(2 * MAX_RECORD)
        );
        let input = Input::file(write(dir.path(), "jobs.csv", &text), None);
        let mut records = read(&input).expect("opens").iter;
        assert!(records.next().expect("a row").expect("reads").job.is_ok());
        let err = records.next().expect("an error").err().expect("refused");
        assert!(err.to_string().contains("over 1 MiB"), "{err}");
    }

    #[test]
    fn a_single_payload_is_single_and_an_array_is_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let one = Input::file(write(dir.path(), "one.json", &line("a")), None);
        assert!(read(&one).expect("opens").single);
        let many = Input::file(write(dir.path(), "many.json", &format!("[{}]", line("a"))), None);
        assert!(!read(&many).expect("opens").single);
    }

    proptest::proptest! {
        /// The fuzz target `spool_record`'s invariants, on every `cargo test`: no panic, no kept
        /// record over the cap, and an accepted body is canonical (validating it again gives the
        /// same bytes), which keeps a record's resume digest stable across runs.
        #[test]
        fn any_input_reads_without_panic_and_accepted_bodies_are_canonical(
            format in 0u8..3,
            text in "(\\{\"job_id\":\"[a-z]{1,3}\",\"commit_sha\":\"a2e7da86cc392417b0d9f605b28038aae80b002f\",\"service_id\":[0-9]{1,3},\"job_start_time\":170401803[0-9],\"job_duration\":[0-9],\"status\":\"(Succeeded|Failed)\",\"repo_id\":\"1\"\\}|[,\\[\\]\n{}\"a-z0-9:]{0,20}){0,4}",
        ) {
            let format = [Format::Json, Format::Jsonl, Format::Csv][usize::from(format)];
            let Ok(records) = read_from(&Input::stdin(format), Box::new(std::io::Cursor::new(text.into_bytes()))) else {
                return Ok(());
            };
            for record in records.iter.take(100) {
                let Ok(record) = record else { break };
                proptest::prop_assert!(record.raw.len() <= MAX_RECORD);
                if let Ok(job) = &record.job {
                    let body = job.body();
                    let again = crate::job::stored::validate(&body, "again").expect("an accepted body validates again");
                    proptest::prop_assert_eq!(again.body(), body);
                }
            }
        }
    }
}
