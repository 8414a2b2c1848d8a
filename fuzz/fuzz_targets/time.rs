//! `--job-start-time` and `:timestamp` fields: `epoch::parse_time` on arbitrary UTF-8.
//!
//! Never panics; an accepted time is epoch seconds in 0..10^11 (the range `parse_time` itself
//! draws between seconds and milliseconds), and every error has a message and a fix.
#![no_main]

use customcd::job::epoch;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match epoch::parse_time(text) {
        Ok(t) => {
            assert!((0..100_000_000_000).contains(&t), "parse_time({text:?}) = Ok({t}), outside 0..10^11");
            let _ = epoch::to_rfc3339(t);
        }
        Err(e) => {
            assert!(!e.to_string().is_empty());
            assert!(!e.fix().is_empty());
        }
    }
    // Milliseconds from CodeBuild or Jenkins: never panics, never negative.
    if let Ok(t) = epoch::parse_millis(text) {
        assert!(t >= 0, "parse_millis({text:?}) = Ok({t})");
    }
});
