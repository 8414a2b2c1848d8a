//! GitHub Actions' file and workflow commands: masking, annotations, step outputs, the step
//! summary, and the `GITHUB_ENV`/`GITHUB_STATE` files `customcd start` writes.
//!
//! Formats follow the runner: workflow commands on stdout (`::error title=T::msg`, data escaped
//! `%`→`%25`, CR→`%0D`, LF→`%0A`, properties also `:`→`%3A`, `,`→`%2C`), and file commands as
//! `NAME<<DELIMITER` blocks appended to the files the runner names.

use std::io::Write;
use std::path::Path;

use crate::secret;

/// Escapes a workflow command's message.
pub(crate) fn escape_data(text: &str) -> String {
    text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// Escapes a workflow command's property value.
pub(crate) fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// `text` made safe to print where the runner reads the log for workflow commands, so that an
/// outside value in it (a job id, a PR title in a field, a server's answer, a file name) cannot
/// run one. The runner reads both standard output and standard error of an action's container,
/// splits lines at CR as well as LF, takes a line whose first non-blank characters are `::` as a
/// command, and a line holding `##[` anywhere as a command in the legacy form. So a line's
/// leading `::` becomes `%3A%3A`, and `##[` becomes `#\u0023[`, which in a JSON body (the dry
/// run's) is the same string, and in prose is plainly not a command. Lines customcd writes as
/// commands on purpose ([`mask`], [`annotation`]) do not pass through here.
pub(crate) fn defuse(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let end = rest.find(['\r', '\n']).unwrap_or(rest.len());
        let line = &rest[..end];
        let body = line.trim_start();
        out.push_str(&line[..line.len() - body.len()]);
        let body = match body.strip_prefix("::") {
            Some(after) => {
                out.push_str("%3A%3A");
                after
            }
            None => body,
        };
        out.push_str(&body.replace("##[", "#\\u0023["));
        match rest[end..].chars().next() {
            Some(sep) => {
                out.push(sep);
                rest = &rest[end + sep.len_utf8()..];
            }
            None => return out,
        }
    }
}

/// `::add-mask::VALUE`: from this line on, the runner hides VALUE in the log. It must be printed
/// raw (not redacted), and before anything that could contain the value.
pub fn mask(value: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "::add-mask::{}", escape_data(value));
    let _ = out.flush();
}

/// [`mask`] on standard error, which the runner reads for workflow commands too: for secrets
/// found on a dry run, whose standard output must stay the JSON body alone.
pub(crate) fn mask_on_stderr(value: &str) {
    let mut out = std::io::stderr().lock();
    let _ = writeln!(out, "::add-mask::{}", escape_data(value));
    let _ = out.flush();
}

/// An annotation line: `kind` is `error`, `warning` or `notice`.
pub fn annotation(kind: &str, title: &str, message: &str) -> String {
    format!("::{kind} title={}::{}", escape_property(title), escape_data(message))
}

/// Appends `NAME<<DELIM`, the value and `DELIM` to a file command file. The heredoc form is used
/// for every value, so multi-line values (the payload) and `=` need no special casing; the
/// delimiter is checked against the value so a value cannot end the block early.
pub(crate) fn append(path: &Path, pairs: &[(&str, String)]) -> std::io::Result<()> {
    let mut text = String::new();
    for (name, value) in pairs {
        let mut delim = String::from("customcd_EOF");
        while value.lines().any(|l| l == delim) {
            delim.push('_');
        }
        text.push_str(&format!("{name}<<{delim}\n{value}\n{delim}\n"));
    }
    append_redacted(path, &text)
}

/// Reads the values back from a file command file (for tests and `customcd env`).
pub fn parse_file_commands(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((name, delim)) = line.split_once("<<") {
            let mut value = Vec::new();
            for l in lines.by_ref() {
                if l == delim {
                    break;
                }
                value.push(l);
            }
            out.push((name.to_owned(), value.join("\n")));
        } else if let Some((name, value)) = line.split_once('=') {
            out.push((name.to_owned(), value.to_owned()));
        }
    }
    out
}

/// Appends markdown to the step summary.
pub(crate) fn append_summary(path: &Path, markdown: &str) -> std::io::Result<()> {
    append_redacted(path, markdown)
}

/// Appends to a file the runner reads. Step outputs and summaries end up in logs and later
/// steps: no registered secret goes there.
fn append_redacted(path: &Path, text: &str) -> std::io::Result<()> {
    // A FIFO (or a device) named as one of the runner's files must not block the step: opened
    // without waiting, and refused unless it is a regular file.
    let mut file = crate::fs::open_append(path, true).map_err(|e| std::io::Error::other(format!("{e:#}")))?;
    // One write, so a full disk leaves no half block the runner would fail to parse.
    file.write_all(secret::redact(text).as_bytes())
}

/// Appends a job that could not be delivered to the step summary, as a JSON block `customcd send`
/// takes when saved to a file, with how to resend it.
pub fn append_rescue(path: &Path, job_id: &str, body: &str, why: &str) -> std::io::Result<()> {
    let mut fence = String::from("```");
    while body.contains(&fence) {
        fence.push('`');
    }
    let md = format!(
        "### customcd: job {} was NOT delivered\n\n{}. Save the block below as `job.json` and resend it with `customcd send job.json` (with the same endpoint and token settings):\n\n{fence}json\n{body}\n{fence}\n\n",
        cell(job_id),
        cell(why)
    );
    append_summary(path, &md)
}

/// Escapes text for a markdown table cell.
pub(crate) fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_properties_are_escaped_as_the_runner_expects() {
        assert_eq!(escape_data("50% done\r\nnext"), "50%25 done%0D%0Anext");
        assert_eq!(escape_property("a:b,c"), "a%3Ab%2Cc");
        assert_eq!(annotation("error", "customcd: invalid", "x\ny"), "::error title=customcd%3A invalid::x%0Ay");
    }

    #[test]
    fn no_line_of_defused_text_starts_a_workflow_command() {
        let cases = [
            ("x\n::error::pwned", "x\n%3A%3Aerror::pwned"),
            ("x\r::error::pwned", "x\r%3A%3Aerror::pwned"),
            ("  ::warning title=a::b\r\n", "  %3A%3Awarning title=a::b\r\n"),
            ("\u{a0}::stop-commands::t", "\u{a0}%3A%3Astop-commands::t"),
            ("job ##[error]pwned", "job #\\u0023[error]pwned"),
            ("a::b stays", "a::b stays"),
            ("", ""),
        ];
        for (text, want) in cases {
            let safe = defuse(text);
            assert_eq!(safe, want, "{text:?}");
            for line in safe.split(['\r', '\n']) {
                assert!(!line.trim_start().starts_with("::") && !line.contains("##["), "{line:?}");
            }
        }
        // A JSON body stays the same JSON.
        let body = serde_json::json!({"job_id": "x\n::error::a ##[error]b", "n": 1});
        let text = serde_json::to_string_pretty(&body).expect("json");
        let back: serde_json::Value = serde_json::from_str(&defuse(&text)).expect("still JSON");
        assert_eq!(back, body);
    }

    #[test]
    fn file_commands_round_trip_multi_line_values() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("out");
        let payload = "{\n\"a\": 1\n}\ncustomcd_EOF".to_owned();
        append(&path, &[("job_id", "1-2-x".to_owned()), ("payload", payload.clone())]).expect("write");
        append(&path, &[("http_status", "200".to_owned())]).expect("write");
        let text = std::fs::read_to_string(&path).expect("read");
        let parsed = parse_file_commands(&text);
        assert_eq!(
            parsed,
            vec![
                ("job_id".to_owned(), "1-2-x".to_owned()),
                ("payload".to_owned(), payload),
                ("http_status".to_owned(), "200".to_owned())
            ]
        );
    }
}
