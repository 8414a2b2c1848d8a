//! Parsing JSON that people paste, with errors that say where and what is wrong.
//!
//! The vendor's own sample payload uses single quotes, curly quotes, a trailing comma and misses
//! a comma, so a bare parser error ("expected value at line 3 column 9") is not enough: this adds
//! the offending line, a caret, and a hint in plain words.

/// Parses `text` as JSON, or explains the first error with line, column, the line itself and a
/// hint.
pub(crate) fn parse(text: &str) -> Result<serde_json::Value, String> {
    serde_json::from_str(text).map_err(|e| explain(text, &e))
}

/// Builds the explanation for a serde_json error found in `text`.
pub(crate) fn explain(text: &str, err: &serde_json::Error) -> String {
    let (line, column) = (err.line(), err.column());
    let raw = err.to_string();
    // serde_json appends " at line L column C"; we say that ourselves.
    let what = raw.split(" at line ").next().unwrap_or(&raw).to_owned();
    let mut out = format!("invalid JSON at line {line}, column {column}: {what}");
    let src_line = text.lines().nth(line.saturating_sub(1)).unwrap_or("");
    if !src_line.is_empty() {
        let shown: String = src_line.chars().take(160).collect();
        let caret_at = column.saturating_sub(1).min(shown.chars().count());
        out.push_str(&format!("\n      | {shown}\n      | {}^", " ".repeat(caret_at)));
    }
    if let Some(hint) = hint(text, src_line, column, &what) {
        out.push_str("\n    hint: ");
        out.push_str(hint);
    }
    out
}

fn hint(text: &str, line: &str, column: usize, what: &str) -> Option<&'static str> {
    let at: Option<char> = line.chars().nth(column.saturating_sub(1));
    let curly = ['\u{201C}', '\u{201D}', '\u{2018}', '\u{2019}'];
    if at.is_some_and(|c| curly.contains(&c)) || (what.contains("expected value") && text.contains(curly)) {
        return Some("curly quotes (“ ” ‘ ’) are not JSON quotes: use straight double quotes \"");
    }
    if at == Some('\'') || (what.contains("key must be a string") && line.contains('\'')) {
        return Some("JSON strings need double quotes: write \"key\", not 'key'");
    }
    if what.contains("trailing comma") {
        return Some("remove the comma after the last element of the list or object");
    }
    if what.contains("expected `,` or `}`") || what.contains("expected `,` or `]`") {
        return Some("a comma is missing between two entries, probably at the end of the previous line");
    }
    if what.contains("EOF while parsing") {
        return Some("the JSON ends early: a closing bracket, brace or quote is missing");
    }
    if what.contains("control character") {
        return Some("a string spans lines or holds a tab: escape it as \\n or \\t");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse(text).expect_err("this JSON is invalid")
    }

    #[test]
    fn valid_json_parses() {
        assert!(parse(r#"[{"key":"a","value":1,"type":"integer"}]"#).is_ok());
    }

    #[test]
    fn single_quotes_get_a_double_quote_hint_with_position() {
        let e = err("[\n  {\n    \"key\": 'microservice',\n  }\n]");
        assert!(e.contains("line 3, column 12"), "{e}");
        assert!(e.contains("JSON strings need double quotes"), "{e}");
        assert!(e.contains("'microservice'"), "{e}");
    }

    #[test]
    fn curly_quotes_are_named() {
        let e = err("{\"repo_id\": \u{201C}12345\u{201D}}");
        assert!(e.contains("curly quotes"), "{e}");
    }

    #[test]
    fn trailing_commas_are_named() {
        let e = err("[1, 2,]");
        assert!(e.contains("remove the comma"), "{e}");
    }

    #[test]
    fn a_missing_comma_is_named() {
        let e = err("{\n\"triggered_by\": \"a@b.c\"\n\"repo_id\": \"1\"\n}");
        assert!(e.contains("line 3"), "{e}");
        assert!(e.contains("comma is missing"), "{e}");
    }

    #[test]
    fn truncated_json_is_named() {
        let e = err("[{\"key\": \"a\"");
        assert!(e.contains("ends early"), "{e}");
    }
}
