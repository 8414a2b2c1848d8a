//! The job status: the API's three values and the words CI systems use for them.

use std::fmt;

/// The three statuses the API accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Succeeded,
    Failed,
    OnHold,
}

/// Every accepted word (compared case-insensitively, with `-`, `_` and spaces treated alike), and
/// the status it means. The status table in docs/settings.md is this list (a test checks it).
pub const WORDS: &[(&str, Status)] = &[
    ("succeeded", Status::Succeeded),
    ("success", Status::Succeeded),
    ("passed", Status::Succeeded),
    ("failed", Status::Failed),
    ("failure", Status::Failed),
    ("error", Status::Failed),
    ("cancelled", Status::Failed),
    ("canceled", Status::Failed),
    ("aborted", Status::Failed),
    ("unstable", Status::Failed),
    ("timedout", Status::Failed),
    // Jenkins' NOT_BUILT: the build (or the stage that deploys) never ran, typically because an
    // earlier failure or an abort stopped the pipeline. Nothing was delivered, so it is no
    // success, and nothing is waiting to resume, so it is not on hold: like ABORTED, it is Failed.
    ("not built", Status::Failed),
    ("on hold", Status::OnHold),
    ("manual", Status::OnHold),
    ("blocked", Status::OnHold),
    ("waiting", Status::OnHold),
    ("pending", Status::OnHold),
];

impl Status {
    /// The exact string the API expects.
    pub fn as_api(self) -> &'static str {
        match self {
            Status::Succeeded => "Succeeded",
            Status::Failed => "Failed",
            Status::OnHold => "On Hold",
        }
    }

    /// Maps a status word to a status; `None` for a word that is not in [`WORDS`].
    pub fn parse(word: &str) -> Option<Status> {
        let folded: String =
            word.trim().chars().map(|c| if c == '_' || c == '-' { ' ' } else { c.to_ascii_lowercase() }).collect();
        // "timed out" and "timed_out" are the same word as "timedout".
        let folded = if folded == "timed out" { "timedout".to_owned() } else { folded };
        WORDS.iter().find(|(w, _)| *w == folded).map(|(_, s)| *s)
    }

    /// The accepted words, for error messages.
    pub(crate) fn accepted_words() -> String {
        let mut out = String::from("Succeeded, Failed, On Hold");
        for (w, _) in WORDS {
            out.push_str(", ");
            out.push_str(w);
        }
        out
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_api())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_values_map_to_themselves() {
        for s in [Status::Succeeded, Status::Failed, Status::OnHold] {
            assert_eq!(Status::parse(s.as_api()), Some(s));
        }
    }

    #[test]
    fn ci_words_map_case_insensitively() {
        let cases = [
            ("success", Status::Succeeded),
            ("SUCCESS", Status::Succeeded),
            ("Passed", Status::Succeeded),
            ("failure", Status::Failed),
            ("FAILURE", Status::Failed),
            ("error", Status::Failed),
            ("cancelled", Status::Failed),
            ("canceled", Status::Failed),
            ("ABORTED", Status::Failed),
            ("UNSTABLE", Status::Failed),
            ("timedout", Status::Failed),
            ("timed_out", Status::Failed),
            ("NOT_BUILT", Status::Failed),
            ("not built", Status::Failed),
            ("on_hold", Status::OnHold),
            ("ON HOLD", Status::OnHold),
            ("on-hold", Status::OnHold),
            ("manual", Status::OnHold),
            ("blocked", Status::OnHold),
            ("waiting", Status::OnHold),
            ("pending", Status::OnHold),
            ("  success\n", Status::Succeeded),
        ];
        for (word, want) in cases {
            assert_eq!(Status::parse(word), Some(want), "{word:?}");
        }
    }

    #[test]
    fn every_result_jenkins_documents_is_accepted() {
        // hudson.model.Result: what currentBuild.currentResult can be in post { always { ... } }.
        let cases = [
            ("SUCCESS", Status::Succeeded),
            ("UNSTABLE", Status::Failed),
            ("FAILURE", Status::Failed),
            ("NOT_BUILT", Status::Failed),
            ("ABORTED", Status::Failed),
        ];
        for (word, want) in cases {
            assert_eq!(Status::parse(word), Some(want), "{word}");
        }
    }

    #[test]
    fn unknown_words_are_rejected() {
        for word in ["running", "ok", "", "succeed", "skipped", "notbuilt"] {
            assert_eq!(Status::parse(word), None, "{word:?}");
        }
    }

    #[test]
    fn the_error_text_lists_every_word() {
        let words = Status::accepted_words();
        for (w, _) in WORDS {
            assert!(words.contains(w));
        }
    }

    #[test]
    fn the_status_table_in_the_docs_is_this_list() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/settings.md");
        let doc = std::fs::read_to_string(&path).expect("docs/settings.md is readable");
        let section = doc.split("\n## Status").nth(1).expect("docs/settings.md has a Status section");
        let mut documented = Vec::new();
        for row in section.lines().filter(|l| l.starts_with("| `")) {
            let cells: Vec<&str> = row.trim_matches('|').split(" | ").map(str::trim).collect();
            assert_eq!(cells.len(), 2, "row {row:?}: you pass | sent");
            let sent = Status::parse(cells[1].trim_matches('`')).expect("the sent column names an API status");
            assert_eq!(cells[1].trim_matches('`'), sent.as_api(), "the sent column is the API's own word");
            for word in cells[0].split(", ").map(|w| w.trim_matches('`')) {
                assert_eq!(Status::parse(word), Some(sent), "docs/settings.md: {word:?} is sent as {sent}");
                documented.push(word.to_owned());
            }
        }
        for (w, s) in WORDS {
            assert!(
                documented
                    .iter()
                    .any(|d| Status::parse(d) == Some(*s) && d.to_ascii_lowercase().replace(['_', '-'], " ") == *w),
                "docs/settings.md's status table lacks {w:?}"
            );
        }
    }
}
