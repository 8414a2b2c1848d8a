//! `--field KEY[:TYPE]=VALUE`: `optional::from_specs` on several specs, one per input line.
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
    let specs: Vec<Sourced<String>> =
        text.split('\n').map(|line| Sourced::new(line.to_owned(), Source::Flag("--field".into()))).collect();
    let mut problems = Vec::new();
    let fields = optional::from_specs(&specs, &mut problems);
    for p in &problems {
        let _ = p.to_string();
    }
    if problems.is_empty() {
        common::check_fields(&fields, text);
    }
});
