//! The resumable journal: an append-only file of JSON lines, one per finished object, each
//! flushed to disk (fsync) before the next object is recorded. On start the finished keys are read
//! back, so a rerun after a crash, SIGKILL or Ctrl-C skips them; a torn last line (the process died
//! mid-write) is ignored and overwritten by the next record. An object migrated but not yet
//! journaled when the process died is found already in the target form by the operation's own
//! idempotence check, and skipped.

use super::Record;
use crate::error::{Error, Result};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

/// One journal line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// The status name ([`super::RecordStatus::name`]).
    pub status: String,
    /// Whether a rerun skips the object ([`super::RecordStatus::is_final`]).
    pub done: bool,
    /// The version the object was migrated from, or its ETag.
    pub source: Option<String>,
    /// The version or ETag written.
    pub new: Option<String>,
    /// The superseded instruction file was removed.
    pub instruction_file_removed: bool,
}

impl JournalEntry {
    /// The entry for a finished object.
    pub fn of(r: &Record) -> Self {
        let o = r.outcome.as_ref();
        JournalEntry {
            bucket: r.bucket.clone(),
            key: r.key.clone(),
            status: r.status.name().to_owned(),
            done: r.status.is_final(),
            source: o.and_then(|o| o.source_version.clone().or(o.source_etag.clone())),
            new: o.and_then(|o| o.new_version.clone().or(o.new_etag.clone())),
            instruction_file_removed: o.is_some_and(|o| o.instruction_file_removed),
        }
    }

    fn to_line(&self) -> String {
        let mut s = json!({
            "bucket": self.bucket,
            "key": self.key,
            "status": self.status,
            "done": self.done,
            "source": self.source,
            "new": self.new,
            "instruction_file_removed": self.instruction_file_removed,
        })
        .to_string();
        s.push('\n');
        s
    }

    fn parse(line: &str) -> Option<Self> {
        let v: Value = serde_json::from_str(line).ok()?;
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        Some(JournalEntry {
            bucket: s("bucket")?,
            key: s("key")?,
            status: s("status")?,
            done: v.get("done")?.as_bool()?,
            source: s("source"),
            new: s("new"),
            instruction_file_removed: v
                .get("instruction_file_removed")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        })
    }
}

/// The open journal.
#[derive(Debug)]
pub struct Journal {
    file: File,
}

/// (bucket, key) of every object the journal lists as finished.
pub type Finished = HashSet<(String, String)>;

/// The journal holds at most this much (a line per object; 1 GiB is ~5 million objects).
const MAX_JOURNAL: u64 = 1 << 30;

impl Journal {
    /// Open (or create) the journal at `path` and read which objects it lists as finished.
    pub fn open(path: &Path) -> Result<(Journal, Finished)> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(Error::Io)?;
        let len = file.metadata().map_err(Error::Io)?.len();
        if len > MAX_JOURNAL {
            return Err(Error::Config(format!(
                "journal {} is over {MAX_JOURNAL} bytes",
                path.display()
            )));
        }
        let mut buf = Vec::with_capacity(len as usize);
        file.read_to_end(&mut buf).map_err(Error::Io)?;
        // Everything up to the last newline is whole lines; what follows is a torn write.
        let whole = buf.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let mut finished = Finished::new();
        for line in String::from_utf8_lossy(&buf[..whole]).lines() {
            match JournalEntry::parse(line) {
                Some(e) if e.done => {
                    finished.insert((e.bucket, e.key));
                }
                Some(e) => {
                    finished.remove(&(e.bucket, e.key));
                }
                None => {}
            }
        }
        file.set_len(whole as u64).map_err(Error::Io)?;
        file.seek(SeekFrom::End(0)).map_err(Error::Io)?;
        Ok((Journal { file }, finished))
    }

    /// Append one entry and flush it to disk.
    pub fn append(&mut self, e: &JournalEntry) -> Result<()> {
        self.file
            .write_all(e.to_line().as_bytes())
            .map_err(Error::Io)?;
        self.file.sync_data().map_err(Error::Io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str, done: bool) -> JournalEntry {
        JournalEntry {
            bucket: "b".into(),
            key: key.into(),
            status: if done { "migrated" } else { "changed" }.into(),
            done,
            source: Some("v1".into()),
            new: None,
            instruction_file_removed: false,
        }
    }

    #[test]
    fn finished_keys_survive_a_reopen_and_a_torn_line_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("j");
        {
            let (mut j, f) = Journal::open(&p).unwrap();
            assert!(f.is_empty());
            j.append(&entry("a", true)).unwrap();
            j.append(&entry("b", false)).unwrap();
            j.append(&entry("c", true)).unwrap();
        }
        // A write torn by SIGKILL: half a line, no newline.
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(br#"{"bucket":"b","key":"d","sta"#).unwrap();
        drop(f);
        let (mut j, f) = Journal::open(&p).unwrap();
        let mut keys: Vec<_> = f.iter().map(|(_, k)| k.clone()).collect();
        keys.sort();
        assert_eq!(keys, ["a", "c"]);
        j.append(&entry("d", true)).unwrap();
        drop(j);
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(text.lines().count(), 4, "{text}");
        assert!(text.lines().all(|l| JournalEntry::parse(l).is_some()));
        let (_, f) = Journal::open(&p).unwrap();
        assert!(f.contains(&("b".to_owned(), "d".to_owned())));
        assert_eq!(f.len(), 3);
    }

    #[test]
    fn a_later_unfinished_entry_reopens_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("j");
        let (mut j, _) = Journal::open(&p).unwrap();
        j.append(&entry("a", true)).unwrap();
        j.append(&entry("a", false)).unwrap();
        drop(j);
        let (_, f) = Journal::open(&p).unwrap();
        assert!(f.is_empty());
    }
}
