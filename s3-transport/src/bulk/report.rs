//! What a run did: totals by status and by form, the inventory (counts and bytes by format, wrap,
//! placement and size class), throughput, and one entry per object, as JSON or as text. Nothing
//! here holds key material: forms name algorithms, details are short error lines.

use super::{Record, RecordStatus};
use crate::{MigrateMode, MigrateStatus, ObjectForm};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

const MIB: u64 = 1 << 20;

/// The size class of an object of `size` bytes.
pub fn size_class(size: u64) -> &'static str {
    match size {
        s if s < MIB => "<1MiB",
        s if s < 100 * MIB => "<100MiB",
        s if s < 5 * 1024 * MIB => "<5GiB",
        _ => ">=5GiB",
    }
}

/// Bytes for people: `1234 bytes`, `12.3 MB` (10^6), `4.56 GB`.
fn human_bytes(b: u64) -> String {
    match b {
        b if b < 10_000 => format!("{b} bytes"),
        b if b < 10_000_000_000 => format!("{:.1} MB", b as f64 / 1e6),
        b => format!("{:.2} GB", b as f64 / 1e9),
    }
}

/// A count and a byte total.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Objects.
    pub objects: u64,
    /// Bytes.
    pub bytes: u64,
}

impl Tally {
    fn add(&mut self, bytes: u64) {
        self.objects += 1;
        self.bytes += bytes;
    }
    fn json(&self) -> Value {
        json!({"objects": self.objects, "bytes": self.bytes})
    }
}

/// Counts and bytes of the objects seen, by each property of their form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    /// By format: V1, V2, V3, kms, plain.
    pub format: BTreeMap<String, Tally>,
    /// By key wrap.
    pub wrap: BTreeMap<String, Tally>,
    /// By envelope placement.
    pub placement: BTreeMap<String, Tally>,
    /// By size class ([`size_class`]).
    pub size_class: BTreeMap<String, Tally>,
    /// By the whole form: "format / content / wrap / placement".
    pub form: BTreeMap<String, Tally>,
}

impl Inventory {
    fn add(&mut self, f: &ObjectForm) {
        self.format.entry(f.format.into()).or_default().add(f.size);
        self.wrap.entry(f.wrap.clone()).or_default().add(f.size);
        self.placement
            .entry(f.placement.into())
            .or_default()
            .add(f.size);
        self.size_class
            .entry(size_class(f.size).into())
            .or_default()
            .add(f.size);
        self.form
            .entry(format!(
                "{} / {} / {} / {}",
                f.format, f.content, f.wrap, f.placement
            ))
            .or_default()
            .add(f.size);
    }

    fn json(&self) -> Value {
        let m = |t: &BTreeMap<String, Tally>| -> Value {
            t.iter().map(|(k, v)| (k.clone(), v.json())).collect()
        };
        json!({
            "format": m(&self.format),
            "wrap": m(&self.wrap),
            "placement": m(&self.placement),
            "size_class": m(&self.size_class),
            "form": m(&self.form),
        })
    }
}

/// The result of [`super::run`].
#[derive(Debug)]
pub struct Summary {
    /// The operation.
    pub mode: MigrateMode,
    /// Whether nothing was written.
    pub dry_run: bool,
    /// Every object finished in this run.
    pub records: Vec<Record>,
    /// Objects the journal listed as finished (not touched).
    pub resumed: u64,
    /// Objects by status name.
    pub by_status: BTreeMap<&'static str, Tally>,
    /// The forms of the objects seen.
    pub inventory: Inventory,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// The run was stopped ([`super::RunOptions::stop`]) before every object was started.
    pub interrupted: bool,
    /// Objects not started because the run was stopped (a rerun with the journal does them).
    pub not_started: u64,
}

impl Summary {
    pub(crate) fn new(mode: MigrateMode, dry_run: bool) -> Self {
        Summary {
            mode,
            dry_run,
            records: Vec::new(),
            resumed: 0,
            by_status: BTreeMap::new(),
            inventory: Inventory::default(),
            elapsed: Duration::ZERO,
            interrupted: false,
            not_started: 0,
        }
    }

    pub(crate) fn add(&mut self, r: Record) {
        self.by_status
            .entry(r.status.name())
            .or_default()
            .add(r.bytes());
        if let Some(f) = r.outcome.as_ref().and_then(|o| o.form.as_ref()) {
            self.inventory.add(f);
        }
        self.records.push(r);
    }

    /// Objects with this status.
    pub fn count(&self, status: RecordStatus) -> u64 {
        self.by_status.get(status.name()).map_or(0, |t| t.objects)
    }

    /// Objects whose status makes the run unsuccessful ([`RecordStatus::is_problem`]).
    pub fn problems(&self) -> u64 {
        self.records
            .iter()
            .filter(|r| r.status.is_problem())
            .count() as u64
    }

    /// Superseded instruction files removed.
    pub fn instruction_files_removed(&self) -> u64 {
        self.records
            .iter()
            .filter(|r| {
                r.outcome
                    .as_ref()
                    .is_some_and(|o| o.instruction_file_removed)
            })
            .count() as u64
    }

    /// Bytes handled.
    pub fn bytes(&self) -> u64 {
        self.records.iter().map(Record::bytes).sum()
    }

    /// Objects per second.
    pub fn objects_per_s(&self) -> f64 {
        self.records.len() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// MB (10^6 bytes) per second.
    pub fn mb_per_s(&self) -> f64 {
        self.bytes() as f64 / 1e6 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The objects the given keys cannot open.
    pub fn cannot_open(&self) -> impl Iterator<Item = &Record> {
        self.records
            .iter()
            .filter(|r| r.status == RecordStatus::Done(MigrateStatus::CannotOpen))
    }

    /// The report as JSON.
    pub fn to_json(&self) -> Value {
        let objects: Vec<Value> = self
            .records
            .iter()
            .map(|r| {
                let o = r.outcome.as_ref();
                json!({
                    "bucket": r.bucket,
                    "key": r.key,
                    "status": r.status.name(),
                    "form": o.and_then(|o| o.form.as_ref()).map(|f| json!({
                        "format": f.format, "content": f.content, "wrap": f.wrap,
                        "placement": f.placement, "size": f.size,
                    })),
                    "listed_version": r.listed_version,
                    "source_version": o.and_then(|o| o.source_version.clone()),
                    "source_etag": o.and_then(|o| o.source_etag.clone()),
                    "new_version": o.and_then(|o| o.new_version.clone()),
                    "new_etag": o.and_then(|o| o.new_etag.clone()),
                    "bytes": r.bytes(),
                    "attempts": r.attempts,
                    "instruction_file_removed": o.is_some_and(|o| o.instruction_file_removed),
                    "detail": r.detail,
                })
            })
            .collect();
        json!({
            "mode": match self.mode { MigrateMode::ToV3 => "to-v3", _ => "rewrap" },
            "dry_run": self.dry_run,
            "objects_total": self.records.len(),
            "resumed_from_journal": self.resumed,
            "totals": self.by_status.iter().map(|(k, v)| (k.to_string(), v.json())).collect::<serde_json::Map<_, _>>(),
            "problems": self.problems(),
            "bytes": self.bytes(),
            "elapsed_s": self.elapsed.as_secs_f64(),
            "objects_per_s": self.objects_per_s(),
            // A dry run moves no bytes: no throughput.
            "mb_per_s": (!self.dry_run).then(|| self.mb_per_s()),
            "instruction_files_removed": self.instruction_files_removed(),
            "interrupted": self.interrupted,
            "not_started": self.not_started,
            "inventory": self.inventory.json(),
            "objects": objects,
        })
    }

    /// The totals and the inventory as text (what `s3ec migrate` prints).
    pub fn to_text(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let resumed = if self.resumed > 0 {
            format!("; {} already done per the journal", self.resumed)
        } else {
            String::new()
        };
        let interrupted = if self.interrupted {
            format!("; interrupted, {} not started", self.not_started)
        } else {
            String::new()
        };
        if self.dry_run {
            let would = self
                .by_status
                .get(RecordStatus::Done(MigrateStatus::WouldMigrate).name())
                .copied()
                .unwrap_or_default();
            let _ = writeln!(
                s,
                "dry run, nothing written: {} objects examined in {:.1} s; {} would be migrated ({}){resumed}{interrupted}",
                self.records.len(),
                self.elapsed.as_secs_f64(),
                would.objects,
                human_bytes(would.bytes),
            );
        } else {
            let _ = writeln!(
                s,
                "migration: {} objects, {} in {:.1} s ({:.1} objects/s, {:.1} MB/s){resumed}{interrupted}",
                self.records.len(),
                human_bytes(self.bytes()),
                self.elapsed.as_secs_f64(),
                self.objects_per_s(),
                self.mb_per_s(),
            );
        }
        let section = |s: &mut String, title: &str, t: &BTreeMap<String, Tally>| {
            let _ = writeln!(s, "  by {title}:");
            for (k, v) in t {
                let _ = writeln!(
                    s,
                    "    {k:<40} {:>10} objects {:>16} bytes",
                    v.objects, v.bytes
                );
            }
        };
        let status: BTreeMap<String, Tally> = self
            .by_status
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect();
        section(&mut s, "status", &status);
        section(&mut s, "format", &self.inventory.format);
        section(&mut s, "wrap", &self.inventory.wrap);
        section(&mut s, "placement", &self.inventory.placement);
        section(&mut s, "size class", &self.inventory.size_class);
        let removed = self.instruction_files_removed();
        if removed > 0 {
            let _ = writeln!(s, "  superseded instruction files removed: {removed}");
        }
        let cannot: Vec<&Record> = self.cannot_open().collect();
        if !cannot.is_empty() {
            let _ = writeln!(s, "  the given keys cannot open {} objects:", cannot.len());
            for r in cannot {
                let _ = writeln!(
                    s,
                    "    s3://{}/{}{}",
                    r.bucket,
                    r.key,
                    r.detail
                        .as_deref()
                        .map(|d| format!(" ({d})"))
                        .unwrap_or_default()
                );
            }
        }
        for r in self.records.iter().filter(|r| {
            r.status.is_problem() && r.status != RecordStatus::Done(MigrateStatus::CannotOpen)
        }) {
            let _ = writeln!(
                s,
                "  {}: s3://{}/{}{}",
                r.status.name(),
                r.bucket,
                r.key,
                r.detail
                    .as_deref()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default()
            );
        }
        s
    }
}
