//! Resume state: `checkpoint::parse` on arbitrary bytes (a checkpoint file anyone with write
//! access to the input's directory could have edited).
//!
//! It never panics and never reads a line past its bound; what it accepts renders back to a
//! text that parses to the same set, untorn; a digest is only ever taken from a whole line.
#![no_main]

use customcd::bulk::checkpoint;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let parsed = match checkpoint::parse(data, "fuzz input") {
        Ok(p) => p,
        Err(e) => {
            let _ = format!("{e:#}");
            return;
        }
    };
    let whole_lines = data.iter().filter(|b| **b == b'\n').count();
    assert!(
        parsed.done.len() + 1 <= whole_lines.max(1),
        "{} digests from {whole_lines} whole lines",
        parsed.done.len()
    );
    let text = checkpoint::render(&parsed.done);
    let again = checkpoint::parse(text.as_bytes(), "rendered").expect("a rendered checkpoint parses");
    assert_eq!(again.done, parsed.done, "render and parse round-trip");
    assert!(!again.torn, "a rendered checkpoint is never torn");
});
