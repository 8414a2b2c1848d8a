//! Checkpoints: which records of an input were handled (acknowledged by the server, or rejected),
//! so that a rerun after a crash or Ctrl-C sends exactly the records not yet acknowledged.
//!
//! The file is a header line naming the input's first line, then `through N` (every record up to
//! N is done) and one line per record done beyond it. Each record is appended the moment it is
//! done; every few thousand records the file is rewritten compactly (temporary file + rename), so
//! it stays small and reading it takes constant memory however long the input is.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

const HEADER: &str = "customcd-checkpoint v1 first-line=";
const COMPACT_EVERY: usize = 4096;

/// An open checkpoint.
pub struct Checkpoint {
    path: PathBuf,
    identity: String,
    file: File,
    /// Every record numbered up to this is done.
    through: u64,
    /// Records done beyond `through`.
    above: BTreeSet<u64>,
    since_compact: usize,
}

impl Checkpoint {
    /// Opens (or creates) the checkpoint at `path` for an input whose first line is `identity`.
    /// A checkpoint written for different content is an error, not a silent skip.
    pub fn open(path: &Path, identity: &str) -> anyhow::Result<Checkpoint> {
        let (mut through, mut above) = (0, BTreeSet::new());
        if path.exists() {
            let file = File::open(path).with_context(|| format!("opening the checkpoint {}", path.display()))?;
            let mut lines = BufReader::new(file).lines();
            let header = lines.next().transpose()?.unwrap_or_default();
            let Some(seen) = header.strip_prefix(HEADER) else {
                bail!("{} is not a customcd checkpoint", path.display());
            };
            if seen != serde_json::to_string(identity)? {
                bail!(
                    "the checkpoint {} was written for an input whose first line differs; delete it to send this input from the start",
                    path.display()
                );
            }
            for line in lines {
                let line = line?;
                let line = line.trim();
                if let Some(n) = line.strip_prefix("through ") {
                    through = through.max(n.parse().with_context(|| format!("{}: bad line {line:?}", path.display()))?);
                } else if !line.is_empty() {
                    above
                        .insert(line.parse::<u64>().with_context(|| format!("{}: bad line {line:?}", path.display()))?);
                }
            }
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        let mut cp =
            Checkpoint { path: path.to_owned(), identity: identity.to_owned(), file, through, above, since_compact: 0 };
        cp.advance();
        cp.compact()?;
        Ok(cp)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether record `n` was done in an earlier run (or this one).
    pub fn is_done(&self, n: u64) -> bool {
        n <= self.through || self.above.contains(&n)
    }

    /// Records that `n` is done, durably before returning.
    pub fn mark(&mut self, n: u64) -> anyhow::Result<()> {
        if self.is_done(n) {
            return Ok(());
        }
        writeln!(self.file, "{n}").with_context(|| format!("writing {}", self.path.display()))?;
        self.above.insert(n);
        self.advance();
        self.since_compact += 1;
        if self.since_compact >= COMPACT_EVERY {
            self.compact()?;
        }
        Ok(())
    }

    /// Moves `through` over a run of consecutive done records. Numbers may have gaps (blank lines
    /// in JSON Lines), so `mark_gap` tells it about numbers that are not records.
    fn advance(&mut self) {
        while self.above.remove(&(self.through + 1)) {
            self.through += 1;
        }
    }

    /// Tells the checkpoint that `n` is not a record (a blank line), so `through` can pass it.
    pub fn mark_gap(&mut self, n: u64) {
        if !self.is_done(n) {
            self.above.insert(n);
            self.advance();
        }
    }

    /// Rewrites the file as header, `through` and the few records beyond it.
    pub fn compact(&mut self) -> anyhow::Result<()> {
        let tmp = self.path.with_extension("tmp");
        let mut text = format!("{HEADER}{}\nthrough {}\n", serde_json::to_string(&self.identity)?, self.through);
        for n in &self.above {
            text.push_str(&format!("{n}\n"));
        }
        std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &self.path).with_context(|| format!("renaming {}", tmp.display()))?;
        self.file = OpenOptions::new()
            .append(true)
            .open(&self.path)
            .with_context(|| format!("opening {}", self.path.display()))?;
        self.since_compact = 0;
        Ok(())
    }

    /// How many records are done through the contiguous prefix.
    pub fn through(&self) -> u64 {
        self.through
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_survive_reopening_in_any_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("cp");
        let mut cp = Checkpoint::open(&path, "first").expect("open");
        for n in [2, 1, 5, 3] {
            cp.mark(n).expect("mark");
        }
        assert_eq!(cp.through(), 3);
        drop(cp);
        let cp = Checkpoint::open(&path, "first").expect("reopen");
        assert!(cp.is_done(1) && cp.is_done(2) && cp.is_done(3) && cp.is_done(5));
        assert!(!cp.is_done(4) && !cp.is_done(6));
    }

    #[test]
    fn a_checkpoint_for_other_content_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("cp");
        Checkpoint::open(&path, "first").expect("open").mark(1).expect("mark");
        let err = Checkpoint::open(&path, "other").err().expect("refused");
        assert!(err.to_string().contains("delete it"), "{err}");
    }

    #[test]
    fn compaction_keeps_the_file_small() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("cp");
        let mut cp = Checkpoint::open(&path, "x").expect("open");
        for n in 1..=20_000 {
            cp.mark(n).expect("mark");
        }
        cp.compact().expect("compact");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.len() < 100, "{text}");
        assert!(text.contains("through 20000"));
    }

    #[test]
    fn gaps_let_the_prefix_advance() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cp = Checkpoint::open(&dir.path().join("cp"), "x").expect("open");
        cp.mark(1).expect("mark");
        cp.mark_gap(2);
        cp.mark(3).expect("mark");
        assert_eq!(cp.through(), 3);
    }
}
