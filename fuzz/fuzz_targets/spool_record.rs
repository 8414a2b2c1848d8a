//! The spool and bulk readers: `records::read_from` on arbitrary bytes as a `.json` file (a
//! spooled payload or an array), JSON Lines or CSV, chosen by the first byte.
//!
//! It never panics; no record kept for the rejects file is larger than the record cap; and a job
//! it accepts has a canonical body: validating the body again gives the same body, byte for byte,
//! which is what makes the resume digest of a record stable across runs.
#![no_main]

use std::io::Cursor;

use customcd::bulk::records::{self, Format, Input, MAX_RECORD};
use customcd::job::stored;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((first, rest)) = data.split_first() else { return };
    let format = match first % 3 {
        0 => Format::Json,
        1 => Format::Jsonl,
        _ => Format::Csv,
    };
    let input = Input::stdin(format);
    let Ok(records) = records::read_from(&input, Box::new(Cursor::new(rest.to_vec()))) else { return };
    for record in records.iter.take(10_000) {
        let Ok(record) = record else { break };
        assert!(record.raw.len() <= MAX_RECORD, "a record of {} bytes was kept", record.raw.len());
        match &record.job {
            Ok(job) => {
                let body = job.body();
                let again = stored::validate(&body, "again")
                    .unwrap_or_else(|p| panic!("an accepted body does not validate again: {p:?}\n{body}"));
                assert_eq!(again.body(), body, "the body is not canonical");
            }
            Err(problems) => {
                assert!(!problems.is_empty(), "rejected without a reason");
                for p in problems {
                    let _ = p.to_string();
                }
            }
        }
    }
});
