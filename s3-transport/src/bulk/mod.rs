//! Bucket-scale migration: run [`S3EncryptionClient::migrate_object`] over many objects, a bounded
//! number at a time, with retries of throttled objects, a resumable journal and a report. The
//! `s3ec migrate` command and the benchmarks call [`run`]; the S3 Batch Operations handler calls
//! the per-object operation directly; both tell transient failures by [`Error::is_retryable`].
//!
//! ```no_run
//! # async fn demo(client: s3_encryption_transport::S3EncryptionClient,
//! #               new: s3_encryption_transport::ClientKeyring) -> s3_encryption_transport::Result<()> {
//! use s3_encryption_transport::bulk::{self, RunOptions};
//! use s3_encryption_transport::{MigrateMode, MigrateOptions};
//! let targets = bulk::list_targets(&client, "bucket", "photos/").await?;
//! let opts = MigrateOptions::new(MigrateMode::ToV3, new);
//! let summary = bulk::run(&client, targets, opts, &RunOptions::default()).await?;
//! println!("{}", summary.to_json());
//! # Ok(()) }
//! ```

mod journal;
mod manifest;
mod report;
mod retry;

pub use journal::{Journal, JournalEntry};
pub use manifest::read_manifest;
pub use report::{Inventory, Summary, Tally, size_class};
pub use retry::Backoff;

use crate::error::{Error, Result};
use crate::{MigrateOptions, MigrateOutcome, MigrateStatus, S3EncryptionClient};
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// One object to migrate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Bucket.
    pub bucket: String,
    /// Key (decoded).
    pub key: String,
    /// The version the listing or manifest named (recorded in the report; the operation works on
    /// the current version and never overwrites a newer one).
    pub version_id: Option<String>,
}

/// How one object ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordStatus {
    /// The per-object operation finished with this status.
    Done(MigrateStatus),
    /// Every attempt hit a retryable failure (throttling, 5xx, network): a rerun retries it.
    FailedTemporary,
    /// A failure that another attempt would not fix (access denied, the object vanished, …).
    Failed,
}

impl RecordStatus {
    /// The name used in the journal, the report and the output.
    pub fn name(self) -> &'static str {
        match self {
            RecordStatus::Done(MigrateStatus::Migrated) => "migrated",
            RecordStatus::Done(MigrateStatus::Skipped) => "skipped",
            RecordStatus::Done(MigrateStatus::NotEncrypted) => "not-encrypted",
            RecordStatus::Done(MigrateStatus::CannotOpen) => "cannot-open",
            RecordStatus::Done(MigrateStatus::Changed) => "changed",
            RecordStatus::Done(MigrateStatus::WouldMigrate) => "would-migrate",
            RecordStatus::Done(MigrateStatus::Unsupported) => "unsupported",
            RecordStatus::FailedTemporary => "failed-temporary",
            RecordStatus::Failed => "failed",
        }
    }

    /// Whether a rerun may skip this object: it reached a state another attempt would not change
    /// (a changed or failed object is tried again).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            RecordStatus::Done(
                MigrateStatus::Migrated
                    | MigrateStatus::Skipped
                    | MigrateStatus::NotEncrypted
                    | MigrateStatus::CannotOpen
                    | MigrateStatus::Unsupported
            )
        )
    }

    /// Whether this status makes the run unsuccessful (non-zero exit).
    pub fn is_problem(self) -> bool {
        matches!(
            self,
            RecordStatus::Done(
                MigrateStatus::Changed | MigrateStatus::CannotOpen | MigrateStatus::Unsupported
            ) | RecordStatus::FailedTemporary
                | RecordStatus::Failed
        )
    }
}

/// One finished object.
#[derive(Debug)]
pub struct Record {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// The version the listing or manifest named.
    pub listed_version: Option<String>,
    /// How it ended.
    pub status: RecordStatus,
    /// The operation's outcome (None when it failed with an error).
    pub outcome: Option<MigrateOutcome>,
    /// Attempts made (more than 1 after retryable failures).
    pub attempts: u32,
    /// A short reason (never key material).
    pub detail: Option<String>,
}

impl Record {
    /// Object bytes the operation handled.
    pub fn bytes(&self) -> u64 {
        self.outcome.as_ref().map_or(0, |o| o.bytes)
    }
}

/// Called once per finished object (a progress bar).
pub type RecordFn = Arc<dyn Fn(&Record) + Send + Sync>;

/// How [`run`] runs.
#[derive(Clone)]
pub struct RunOptions {
    /// Objects in flight at once (at least 1).
    pub concurrency: usize,
    /// Retries of retryable failures.
    pub backoff: Backoff,
    /// Append-only journal: finished objects already in it are skipped, new ones are appended
    /// (fsync'd per record). Not written in a dry run.
    pub journal: Option<PathBuf>,
    /// Called for every object finished in this run (not for those the journal skips).
    pub on_record: Option<RecordFn>,
    /// Set (by a signal handler) to stop: no new object is started, those in flight finish and
    /// are journaled and reported; the summary says [`Summary::interrupted`].
    pub stop: Option<Arc<AtomicBool>>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            concurrency: 8,
            backoff: Backoff::default(),
            journal: None,
            on_record: None,
            stop: None,
        }
    }
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("concurrency", &self.concurrency)
            .field("backoff", &self.backoff)
            .field("journal", &self.journal)
            .finish_non_exhaustive()
    }
}

/// The objects under `prefix` (ListObjectsV2), without the instruction files that sit beside
/// their objects (`KEY` + the client's suffix, when `KEY` is listed too).
pub async fn list_targets(
    client: &S3EncryptionClient,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<Target>> {
    let keys = client.list_keys(bucket, prefix).await?;
    let targets = keys
        .into_iter()
        .map(|(key, _)| Target {
            bucket: bucket.to_owned(),
            key,
            version_id: None,
        })
        .collect();
    Ok(without_instruction_files(
        targets,
        client.instruction_file_suffix(),
    ))
}

/// `targets` without the instruction files of objects that are also in `targets`.
pub fn without_instruction_files(targets: Vec<Target>, suffix: &str) -> Vec<Target> {
    if suffix.is_empty() {
        return targets;
    }
    let names: HashSet<(String, String)> = targets
        .iter()
        .map(|t| (t.bucket.clone(), t.key.clone()))
        .collect();
    targets
        .into_iter()
        .filter(|t| match t.key.strip_suffix(suffix) {
            Some(base) => !names.contains(&(t.bucket.clone(), base.to_owned())),
            None => true,
        })
        .collect()
}

/// One object: the operation, retried with backoff while it fails retryably.
pub async fn migrate_with_retries(
    client: &S3EncryptionClient,
    target: &Target,
    opts: &MigrateOptions,
    backoff: &Backoff,
) -> Record {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let r = client
            .migrate_object(&target.bucket, &target.key, opts)
            .await;
        let (status, detail, outcome) = match r {
            Ok(o) => (RecordStatus::Done(o.status), o.detail.clone(), Some(o)),
            Err(e) if e.is_retryable() => {
                if let Some(d) = backoff.delay(attempts) {
                    tokio::time::sleep(d).await;
                    continue;
                }
                (RecordStatus::FailedTemporary, Some(short(&e)), None)
            }
            Err(e) => (RecordStatus::Failed, Some(short(&e)), None),
        };
        return Record {
            bucket: target.bucket.clone(),
            key: target.key.clone(),
            listed_version: target.version_id.clone(),
            status,
            outcome,
            attempts,
            detail,
        };
    }
}

/// An error as one short line (the transport's messages carry no key material).
pub fn short(e: &Error) -> String {
    let mut s = e.to_string();
    if let Some(i) = s.find('\n') {
        s.truncate(i);
    }
    if s.len() > 200 {
        let mut i = 200;
        while !s.is_char_boundary(i) {
            i -= 1;
        }
        s.truncate(i);
        s.push('…');
    }
    s
}

/// Migrate every target, `opts.concurrency` at a time. Objects the journal lists as finished are
/// not touched again; every other object ends in the summary. Fails only on a configuration error
/// (before the first object: [`MigrateOptions::validate`], a KMS keyring without a KMS client) or
/// when the journal cannot be read or written: per-object failures are records. With
/// [`RunOptions::stop`] set, the objects in flight finish and the rest are not started.
pub async fn run(
    client: &S3EncryptionClient,
    targets: Vec<Target>,
    migrate: MigrateOptions,
    opts: &RunOptions,
) -> Result<Summary> {
    // Configuration errors fail the run once, before the first object (not every object).
    migrate.validate()?;
    client.for_migration(migrate.new_keyring.clone())?;
    let started = Instant::now();
    let (mut journal, done) = match (&opts.journal, migrate.dry_run) {
        (Some(p), false) => {
            let (j, done) = Journal::open(p)?;
            (Some(j), done)
        }
        _ => (None, Default::default()),
    };
    let migrate = Arc::new(migrate);
    let mut summary = Summary::new(migrate.mode, migrate.dry_run);
    let mut set = tokio::task::JoinSet::new();
    let mut pending = targets.into_iter();
    let limit = opts.concurrency.max(1);
    let stopped = || opts.stop.as_ref().is_some_and(|s| s.load(Ordering::SeqCst));
    loop {
        while set.len() < limit && !stopped() {
            let Some(t) = pending.next() else { break };
            if done.contains(&(t.bucket.clone(), t.key.clone())) {
                summary.resumed += 1;
                continue;
            }
            let (c, m, b) = (client.clone(), migrate.clone(), opts.backoff.clone());
            set.spawn(async move { migrate_with_retries(&c, &t, &m, &b).await });
        }
        let Some(joined) = set.join_next().await else {
            break;
        };
        let rec = joined.map_err(|_| Error::Internal("a migration task panicked"))?;
        if let Some(j) = journal.as_mut() {
            j.append(&JournalEntry::of(&rec))?;
        }
        if let Some(f) = &opts.on_record {
            f(&rec);
        }
        summary.add(rec);
    }
    if stopped() {
        let left = pending.count() as u64;
        summary.interrupted = true;
        summary.not_started = left;
    }
    summary.elapsed = started.elapsed();
    Ok(summary)
}
