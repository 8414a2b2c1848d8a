//! The acknowledgement ledger: which jobs the server has acknowledged (a 2xx), keyed by what each
//! job *deploys*: a SHA-256 of the endpoint, the `service_id` and the `job_id`, never where the
//! record was nor its bytes. So a job acknowledged once is never sent again by `send`, `backfill`
//! or a spool resend, even when its body changed since (a backfill's change set after a tag was
//! added in the middle), unless the user asks (`--resend`); a refused or undelivered job is never
//! marked, and is sent by the next run once fixed. One ledger serves every input: it lives in
//! the spool directory (private, 0700) as `.customcd-acknowledged` (see [`ledger_path`]).
//!
//! At least once: a job is marked only after its 2xx, so a crash between the 2xx and the mark
//! sends it again (same `job_id`), and never loses it.
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

/// The first line of a ledger.
pub const HEADER: &str = "customcd-acknowledged v3 sha256(endpoint, service_id, job_id)";
/// The first line of the older per-input checkpoint (`FILE.customcd-checkpoint`), keyed by the
/// endpoint and the exact body: still read, so that a send it was resuming skips what it covered.
pub const HEADER_V2: &str = "customcd-checkpoint v2 sha256(endpoint, body)";
/// The header of the oldest, position-keyed format, which cannot be carried over.
const HEADER_V1: &str = "customcd-checkpoint v1";

/// The ledger's name in the spool directory: hidden, so a `send` of the spool never reads it as
/// a payload, and private with the spool.
pub const LEDGER_NAME: &str = ".customcd-acknowledged";

/// Where the ledger of jobs sent from this spool directory is kept.
pub fn ledger_path(spool_dir: &Path) -> PathBuf {
    spool_dir.join(LEDGER_NAME)
}
/// The longest line read; a digest line is 64 characters.
const MAX_LINE: u64 = 256;

/// The most records one checkpoint may hold (about 550 MB of file, 400 MB of memory): reading
/// state stays bounded even when someone else wrote it. Split bigger inputs.
pub(crate) const MAX_ENTRIES: u64 = 8 * 1024 * 1024;

/// A record's identity: 32 bytes.
pub(crate) type Digest = [u8; 32];

/// The identity of a job as acknowledged by `endpoint`: the deploy it records (its service and
/// `job_id`), whatever its body says; the same job sent to another server is another delivery.
pub fn identity(endpoint: &str, service_id: u64, job_id: &str) -> Digest {
    let mut h = Sha256::new();
    h.update(endpoint.as_bytes());
    h.update([0u8]);
    h.update(service_id.to_string().as_bytes());
    h.update([0u8]);
    h.update(job_id.as_bytes());
    h.finalize().into()
}

/// The identity an older checkpoint (v2) gave a record: its endpoint and exact body.
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
    parse_capped(reader, origin, MAX_ENTRIES, HEADER)
}

/// [`parse`] with the cap on records as a parameter: the real cap is millions of records, and a
/// test shows the boundary with a cap of three instead of building a file of hundreds of MB.
fn parse_capped(reader: impl BufRead, origin: &str, max_entries: u64, header: &str) -> anyhow::Result<Parsed> {
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
            if text != header {
                if !complete && header.starts_with(text) {
                    // The header itself was torn: nothing was recorded yet.
                    parsed.torn = true;
                    return Ok(parsed);
                }
                let what = if header == HEADER { "ledger" } else { "checkpoint" };
                bail!("{origin} is not a customcd {what} (its first line is not {header:?})");
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

/// Reads an older per-input checkpoint (`FILE.customcd-checkpoint`, v2) without changing it: the
/// body digests of the records it says were acknowledged, or `None` when there is none. One of
/// the position-keyed format (v1) is refused as before.
pub fn read_v2(path: &Path) -> anyhow::Result<Option<HashSet<Digest>>> {
    let m = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading the checkpoint {}", path.display())),
    };
    check_owned_file(path, &m)?;
    let (file, _) = fs::open_regular(path, Follow::No).map_err(|refusal| refused(path, refusal))?;
    Ok(Some(parse_capped(BufReader::new(file), &path.display().to_string(), MAX_ENTRIES, HEADER_V2)?.done))
}

/// An open ledger.
pub struct Checkpoint {
    path: PathBuf,
    file: File,
    done: HashSet<Digest>,
}

impl Checkpoint {
    /// Opens (or creates) the ledger at `path`; its directory is made (private) when missing.
    pub fn open(path: &Path) -> anyhow::Result<Checkpoint> {
        let dir = fs::parent_dir(path);
        if !dir.exists() {
            fs::ensure_private_dir(dir, "choose another spool directory with --spool-dir")?;
        }
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

    /// Appends one acknowledged identity to the ledger at `path` without reading it (a report's
    /// delivery: the ledger is read only by the senders that skip what it holds). A missing or
    /// empty ledger, or one whose last line a crash left torn, is opened whole (and mended) first.
    pub fn append(path: &Path, d: Digest) -> anyhow::Result<()> {
        let fresh = match std::fs::symlink_metadata(path) {
            Ok(m) => {
                check_owned_file(path, &m)?;
                m.len() == 0 || !ends_with_newline(path)?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
            Err(e) => return Err(e).with_context(|| format!("reading the ledger {}", path.display())),
        };
        if fresh {
            return Checkpoint::open(path)?.mark(d);
        }
        fs::open_append(path, false)
            .with_context(|| format!("opening the ledger {}", path.display()))?
            .write_all(format!("{}\n", hex(&d)).as_bytes())
            .with_context(|| format!("writing the ledger {}", path.display()))
    }

    /// Whether the record with this identity was acknowledged (in an earlier run, or this one).
    pub fn is_done(&self, d: &Digest) -> bool {
        self.done.contains(d)
    }

    /// How many records are recorded as acknowledged.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.done.len()
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.done.is_empty()
    }

    /// Records that the record with this identity was acknowledged. One `write` of a whole line
    /// to a file opened for appending: a SIGKILL leaves the line whole or absent.
    pub(crate) fn mark(&mut self, d: Digest) -> anyhow::Result<()> {
        if !self.done.insert(d) {
            return Ok(());
        }
        self.file
            .write_all(format!("{}\n", hex(&d)).as_bytes())
            .with_context(|| format!("writing the checkpoint {}", self.path.display()))
    }

    /// Flushes the checkpoint to disk (at the end of an input).
    pub(crate) fn sync(&self) -> anyhow::Result<()> {
        self.file.sync_data().with_context(|| format!("syncing the checkpoint {}", self.path.display()))
    }
}

/// Whether the file's last byte is a newline (its last line is whole).
fn ends_with_newline(path: &Path) -> anyhow::Result<bool> {
    use std::io::{Seek, SeekFrom};
    let (mut file, _) = fs::open_regular(path, Follow::No).map_err(|refusal| refused(path, refusal))?;
    let mut last = [0u8; 1];
    file.seek(SeekFrom::End(-1)).with_context(|| format!("reading {}", path.display()))?;
    file.read_exact(&mut last).with_context(|| format!("reading {}", path.display()))?;
    Ok(last[0] == b'\n')
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
            let parsed = parse_capped(text(n).as_bytes(), "x", 3, HEADER).expect("at or under the cap");
            assert_eq!(parsed.done.len(), n);
        }
        let err = parse_capped(text(4).as_bytes(), "x", 3, HEADER).expect_err("one over the cap");
        assert!(err.to_string().contains("more than 3 records"), "{err}");
        // A torn line after a full checkpoint is still a line past the cap.
        let torn = format!("{}{}", text(3), &lines[4][..10]);
        assert!(parse_capped(torn.as_bytes(), "x", 3, HEADER).is_err());
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

    #[test]
    fn identity_is_endpoint_service_and_job_id_and_nothing_else() {
        let e = "https://a.example/webhook/company/1/cicd_job";
        assert_eq!(identity(e, 7, "build-9"), identity(e, 7, "build-9"));
        assert_ne!(identity(e, 7, "build-9"), identity(e, 8, "build-9"), "another service");
        assert_ne!(identity(e, 7, "build-9"), identity(e, 7, "build-10"), "another job");
        assert_ne!(identity(e, 7, "build-9"), identity("https://b.example/x", 7, "build-9"), "another server");
        // The separators keep the parts apart: service 1, job "2x" is not service 12, job "x".
        assert_ne!(identity(e, 1, "2x"), identity(e, 12, "x"));
    }

    #[cfg(unix)]
    #[test]
    fn appending_mends_a_torn_ledger_first_and_creates_a_missing_one_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("spool").join(LEDGER_NAME);
        let (a, b, c) = (identity("u", 1, "a"), identity("u", 1, "b"), identity("u", 1, "c"));
        Checkpoint::append(&path, a).expect("created with its directory");
        Checkpoint::append(&path, b).expect("appended");
        let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().expect("dir")), 0o700);
        // A crash mid-line: the next append must not glue its line to the fragment.
        let mut f = std::fs::OpenOptions::new().append(true).open(&path).expect("open");
        f.write_all(&hex(&c).as_bytes()[..30]).expect("torn");
        drop(f);
        Checkpoint::append(&path, c).expect("mended, then appended");
        let cp = Checkpoint::open(&path).expect("a valid ledger");
        assert!(cp.is_done(&a) && cp.is_done(&b) && cp.is_done(&c));
        assert_eq!(cp.len(), 3);
    }

    #[test]
    fn an_older_body_keyed_checkpoint_is_read_as_it_is_and_left_unchanged() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("jobs.jsonl.customcd-checkpoint");
        assert_eq!(read_v2(&path).expect("none"), None);
        let d = digest("u", "{}");
        let text = format!("{HEADER_V2}\n{}\n", hex(&d));
        std::fs::write(&path, &text).expect("write");
        assert_eq!(read_v2(&path).expect("read"), Some(HashSet::from([d])));
        assert_eq!(std::fs::read_to_string(&path).expect("read"), text);
        std::fs::write(&path, "customcd-checkpoint v1 first-line=\"x\"\nthrough 3\n").expect("write");
        assert!(read_v2(&path).expect_err("v1").to_string().contains("older customcd"));
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
