//! `--optional-json` / `CUSTOMCD_OPTIONAL`: `optional::from_json` on arbitrary UTF-8.
//!
//! Never panics; when it reports no problem, the fields serialize and satisfy the contract.
#![no_main]

use customcd::job::optional;
use customcd::vocab::source::{Source, Sourced};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let json = Sourced::new(text.to_owned(), Source::Flag("--optional-json".into()));
    let mut problems = Vec::new();
    let fields = optional::from_json(&json, &mut problems);
    for p in &problems {
        // Messages are built from the input; building them must not panic either.
        let _ = p.to_string();
    }
    if problems.is_empty() {
        common::check_fields(&fields, text);
    }
});
