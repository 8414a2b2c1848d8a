//! Resume state: which records the server has acknowledged, keyed by what each record *is* (a
//! SHA-256 of the endpoint and the exact body sent), never by where it was in its input. So a file
//! rewritten with new, changed, fixed or reordered records sends exactly those not yet
//! acknowledged, and a rejected record is never marked: fixed in place, it is sent by the next run.
//!
//! The file is a header line, then one lowercase hex digest per line, appended (one `write`) the
//! moment a record is acknowledged; memory is 32 bytes per acknowledged record, and at most
//! [`MAX_ENTRIES`] are read. It is created new (temporary file + rename) and private (0600),
//! opened without following symbolic links, must belong to this user, and is read with a bound on
//! every line. A line torn by a crash is dropped (its record is sent again: at least once) and the
//! file rewritten whole.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use sha2::{Digest as _, Sha256};

use crate::fs::{self, Follow, OpenRefusal};

/// The first line of a checkpoint.
pub const HEADER: &str = "customcd-checkpoint v2 sha256(endpoint, body)";
/// The header of the older, position-keyed format, which cannot be carried over.
const HEADER_V1: &str = "customcd-checkpoint v1";
/// The longest line read; a digest line is 64 characters.
const MAX_LINE: u64 = 256;

/// The most records one checkpoint may hold (about 550 MB of file, 400 MB of memory): reading
/// state stays bounded even when someone else wrote it. Split bigger inputs.
pub const MAX_ENTRIES: u64 = 8 * 1024 * 1024;

/// A record's identity: 32 bytes.
pub type Digest = [u8; 32];

/// The identity of `body` as acknowledged by `endpoint`: the same job sent to another server is
/// another delivery.
pub fn digest(endpoint: &str, body: &str) -> Digest {
    let mut h = Sha256::new();
    h.update(endpoint.as_bytes());
    h.update([0u8]);
    h.update(body.as_bytes());
    h.finalize().into()
}

fn hex(d: &Digest) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Digest> {
    if s.len() != 64 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut d = [0u8; 32];
    for (i, out) in d.iter_mut().enumerate() {
        *out = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(d)
}

/// What a checkpoint's text holds.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    pub done: HashSet<Digest>,
    /// The last line had no newline (a crash mid-write) and was dropped.
    pub torn: bool,
}

/// Reads a checkpoint's text. Empty text (a file left empty by a full disk or a crash before its
/// header) is an empty checkpoint; every line is bounded, however long the file's lines are.
pub fn parse(reader: impl BufRead, origin: &str) -> anyhow::Result<Parsed> {
    parse_capped(reader, origin, MAX_ENTRIES)
}

/// [`parse`] with the cap on records as a parameter: the real cap is millions of records, and a
/// test shows the boundary with a cap of three instead of building a file of hundreds of MB.
fn parse_capped(reader: impl BufRead, origin: &str, max_entries: u64) -> anyhow::Result<Parsed> {
    let mut reader = reader;
    let mut parsed = Parsed::default();
    let mut line = Vec::new();
    let mut number = 0u64;
    loop {
        line.clear();
        let n =
            reader.by_ref().take(MAX_LINE).read_until(b'\n', &mut line).with_context(|| format!("reading {origin}"))?;
        if n == 0 {
            return Ok(parsed);
        }
        number += 1;
        // The header is line 1, so a checkpoint at the cap has `max_entries + 1` lines.
        if number > max_entries + 1 {
            bail!("{origin} holds more than {max_entries} records, the most one checkpoint may; split the input into smaller files (each gets its own checkpoint)");
        }
        let complete = line.last() == Some(&b'\n');
        if !complete && n as u64 >= MAX_LINE {
            bail!("{origin} line {number} is longer than {MAX_LINE} bytes: this is not a customcd checkpoint");
        }
        let text = std::str::from_utf8(&line).map(str::trim_end).unwrap_or("\u{FFFD}");
        if number == 1 {
            if text.starts_with(HEADER_V1) {
                bail!("{origin} was written by an older customcd that kept positions, not record digests; delete it (the records it covered may then be sent again, with the same job_id) or finish that input with the older version");
            }
            if text != HEADER {
                if !complete && HEADER.starts_with(text) {
                    // The header itself was torn: nothing was recorded yet.
                    parsed.torn = true;
                    return Ok(parsed);
                }
                bail!("{origin} is not a customcd checkpoint (its first line is not {HEADER:?})");
            }
            continue;
        }
        match unhex(text) {
            Some(d) if complete => {
                parsed.done.insert(d);
            }
            // A last line without its newline was being written when the process died. Its
            // record was acknowledged, or not: sending it again is the safe side.
            _ if !complete => parsed.torn = true,
            _ => bail!("{origin} line {number} is not a record digest: {:?}", crate::error::quote(text)),
        }
    }
}

/// An open checkpoint.
pub struct Checkpoint {
    path: PathBuf,
    file: File,
    done: HashSet<Digest>,
}

impl Checkpoint {
    /// Opens (or creates) the checkpoint at `path`.
    pub fn open(path: &Path) -> anyhow::Result<Checkpoint> {
        let existing = match std::fs::symlink_metadata(path) {
            Ok(m) => Some(m),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e).with_context(|| format!("reading the checkpoint {}", path.display())),
        };
        let parsed = match &existing {
            None => Parsed::default(),
            Some(m) => {
                check_owned_file(path, m)?;
                let (file, _) = fs::open_regular(path, Follow::No).map_err(|refusal| refused(path, refusal))?;
                parse(BufReader::new(file), &path.display().to_string())?
            }
        };
        if existing.is_none() || parsed.torn || existing.as_ref().is_some_and(|m| m.len() == 0) {
            rewrite(path, &parsed.done)?;
        }
        // Made private (0600) if it was not, as it belongs to this user.
        let file =
            fs::open_append(path, false).with_context(|| format!("opening the checkpoint {}", path.display()))?;
        Ok(Checkpoint { path: path.to_owned(), file, done: parsed.done })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the record with this identity was acknowledged (in an earlier run, or this one).
    pub fn is_done(&self, d: &Digest) -> bool {
        self.done.contains(d)
    }

    /// How many records are recorded as acknowledged.
    pub fn len(&self) -> usize {
        self.done.len()
    }

    pub fn is_empty(&self) -> bool {
        self.done.is_empty()
    }

    /// Records that the record with this identity was acknowledged. One `write` of a whole line
    /// to a file opened for appending: a SIGKILL leaves the line whole or absent.
    pub fn mark(&mut self, d: Digest) -> anyhow::Result<()> {
        if !self.done.insert(d) {
            return Ok(());
        }
        self.file
            .write_all(format!("{}\n", hex(&d)).as_bytes())
            .with_context(|| format!("writing the checkpoint {}", self.path.display()))
    }

    /// Flushes the checkpoint to disk (at the end of an input).
    pub fn sync(&self) -> anyhow::Result<()> {
        self.file.sync_data().with_context(|| format!("syncing the checkpoint {}", self.path.display()))
    }
}

fn check_owned_file(path: &Path, m: &std::fs::Metadata) -> anyhow::Result<()> {
    if !m.file_type().is_file() {
        bail!("the checkpoint {} is not a regular file ({} is there); remove it", path.display(), fs::describe(m));
    }
    if !fs::is_mine(path, m).with_context(|| format!("reading the owner of {}", path.display()))? {
        bail!(
            "the checkpoint {} belongs to {}, not to this user ({}); another user could make records be skipped: remove it, or pass --checkpoint with a path of your own",
            path.display(),
            fs::owner_label(path, m),
            fs::my_label()
        );
    }
    Ok(())
}

/// The checkpoint could not be opened as customcd's own regular file.
fn refused(path: &Path, refusal: OpenRefusal) -> anyhow::Error {
    match refusal {
        OpenRefusal::Io(e) => anyhow::Error::new(e).context(format!("opening the checkpoint {}", path.display())),
        OpenRefusal::NotFound => {
            anyhow::anyhow!("the checkpoint {} was removed while it was being opened", path.display())
        }
        OpenRefusal::Link => anyhow::anyhow!(
            "the checkpoint {} is not a regular file (a symbolic link is there); remove it",
            path.display()
        ),
        OpenRefusal::NotRegular(what) => {
            anyhow::anyhow!("the checkpoint {} is not a regular file ({what} is there); remove it", path.display())
        }
    }
}

/// A checkpoint's whole text: the header and one digest per line.
pub fn render<'a>(done: impl IntoIterator<Item = &'a Digest>) -> String {
    let mut text = format!("{HEADER}\n");
    for d in done {
        text.push_str(&hex(d));
        text.push('\n');
    }
    text
}

/// Writes the whole checkpoint anew: a temporary file (created new, 0600) in the same directory,
/// fsync'd, then renamed over `path`. A full disk leaves the old file, never an empty one.
fn rewrite(path: &Path, done: &HashSet<Digest>) -> anyhow::Result<()> {
    fs::write_replace(path, render(done).as_bytes(), ".customcd-checkpoint-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_torn_header_or_a_torn_last_line_is_forgiven() {
        // The header cut short by a crash: nothing was recorded yet.
        let torn = parse(&HEADER.as_bytes()[..10], "x").expect("a torn header is a fresh checkpoint");
        assert!(torn.torn && torn.done.is_empty());
        // A whole first line that only starts like the header is not a checkpoint.
        let short = format!("{}\n", &HEADER[..10]);
        assert!(parse(short.as_bytes(), "x").is_err(), "a complete line is not torn");
        // A whole line that is not a digest is corruption, not a crash mid-write.
        let garbage = format!("{HEADER}\nnot a digest\n");
        assert!(parse(garbage.as_bytes(), "x").is_err());
        let d = hex(&digest("e", "b"));
        let torn_digest = format!("{HEADER}\n{}", &d[..20]);
        let parsed = parse(torn_digest.as_bytes(), "x").expect("a torn last line is dropped");
        assert!(parsed.torn && parsed.done.is_empty());
    }

    #[test]
    fn a_checkpoint_may_hold_exactly_its_cap_of_records_and_one_more_is_refused() {
        let lines: Vec<String> = (0..5).map(|i| hex(&digest("u", &i.to_string()))).collect();
        let text = |n: usize| format!("{HEADER}\n{}", lines[..n].iter().map(|l| format!("{l}\n")).collect::<String>());
        for n in 0..=3 {
            let parsed = parse_capped(text(n).as_bytes(), "x", 3).expect("at or under the cap");
            assert_eq!(parsed.done.len(), n);
        }
        let err = parse_capped(text(4).as_bytes(), "x", 3).expect_err("one over the cap");
        assert!(err.to_string().contains("more than 3 records"), "{err}");
        // A torn line after a full checkpoint is still a line past the cap.
        let torn = format!("{}{}", text(3), &lines[4][..10]);
        assert!(parse_capped(torn.as_bytes(), "x", 3).is_err());
        // The public reader uses the real cap.
        assert_eq!(parse(text(4).as_bytes(), "x").expect("far under the real cap").done.len(), 4);
    }

    #[test]
    fn a_digest_line_is_64_lowercase_hex_digits_and_nothing_else() {
        let d = digest("https://a.example/webhook/company/1/cicd_job", "{}");
        assert_eq!(unhex(&hex(&d)), Some(d));
        assert_eq!(unhex(&hex(&d).to_ascii_uppercase()), None, "checkpoints are written lowercase");
        assert_eq!(unhex(&hex(&d)[..62]), None);
        assert_eq!(unhex(&format!("{}00", hex(&d))), None);
    }

    #[test]
    fn marks_survive_reopening_and_are_keyed_by_content() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("cp");
        let mut cp = Checkpoint::open(&path).expect("open");
        let (a, b) = (digest("u", "{\"a\":1}"), digest("u", "{\"b\":1}"));
        cp.mark(b).expect("mark");
        cp.mark(b).expect("marking twice is harmless");
        drop(cp);
        let cp = Checkpoint::open(&path).expect("reopen");
        assert!(cp.is_done(&b) && !cp.is_done(&a));
        assert_eq!(cp.len(), 1);
        assert_ne!(digest("u", "{}"), digest("v", "{}"), "another endpoint is another delivery");
        assert_eq!(crate::fs::test_support::mode(&path), 0o600);
    }

    #[test]
    fn a_torn_last_line_is_dropped_and_the_file_rewritten() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("cp");
        let d = digest("u", "x");
        std::fs::write(&path, format!("{HEADER}\n{}\n{}", hex(&d), &hex(&d)[..20])).expect("write");
        let mut cp = Checkpoint::open(&path).expect("open");
        assert!(cp.is_done(&d));
        cp.mark(digest("u", "y")).expect("mark");
        drop(cp);
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text.lines().count(), 3, "{text}");
        assert!(text.lines().skip(1).all(|l| l.len() == 64), "{text}");
    }

    #[test]
    fn an_empty_file_is_an_empty_checkpoint_and_other_files_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("cp");
        std::fs::write(&path, "").expect("write");
        assert!(Checkpoint::open(&path).expect("an empty file is fresh").is_empty());
        std::fs::write(&path, "customcd-checkpoint v1 first-line=\"x\"\nthrough 3\n").expect("write");
        let err = Checkpoint::open(&path).err().expect("v1 refused");
        assert!(err.to_string().contains("older customcd"), "{err}");
        std::fs::write(&path, "hello\n").expect("write");
        assert!(Checkpoint::open(&path).is_err());
        std::fs::write(&path, format!("{HEADER}\n{}\n", "z".repeat(10_000))).expect("write");
        let err = Checkpoint::open(&path).err().expect("long line refused");
        assert!(err.to_string().contains("longer than"), "{err}");
    }

    #[test]
    fn a_symlinked_checkpoint_is_refused_and_its_target_untouched() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("victim");
        std::fs::write(&target, "precious").expect("write");
        let path = dir.path().join("cp");
        crate::fs::test_support::symlink(&target, &path).expect("symlink");
        let err = Checkpoint::open(&path).err().expect("refused");
        assert!(err.to_string().contains("not a regular file"), "{err}");
        assert_eq!(std::fs::read_to_string(&target).expect("read"), "precious");
    }

    #[test]
    fn reading_is_bounded_however_long_a_line_is() {
        let endless = std::io::repeat(b'a').take(1 << 30);
        let err = parse(BufReader::new(endless), "x").expect_err("refused");
        assert!(err.to_string().contains("longer than"), "{err}");
    }

    proptest::proptest! {
        /// The fuzz target `checkpoint`'s invariants, on every `cargo test`.
        #[test]
        fn any_bytes_parse_or_are_refused_and_what_parses_round_trips(
            lines in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::strategy::Just(HEADER.to_owned()),
                    "[0-9a-f]{64}",
                    "[0-9a-fA-Z ]{0,70}",
                ],
                0..6,
            ),
            newline_at_end: bool,
        ) {
            let mut text = lines.join("\n");
            if newline_at_end {
                text.push('\n');
            }
            if let Ok(parsed) = parse(text.as_bytes(), "prop") {
                let whole = text.matches('\n').count();
                proptest::prop_assert!(parsed.done.len() < whole.max(1) || parsed.done.is_empty());
                let again = parse(render(&parsed.done).as_bytes(), "rendered").expect("own text parses");
                proptest::prop_assert_eq!(again.done, parsed.done);
                proptest::prop_assert!(!again.torn);
            }
        }
    }
}
