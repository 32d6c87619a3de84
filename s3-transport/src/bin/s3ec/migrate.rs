//! `s3ec migrate`: the bucket-scale runner of the library ([`s3_encryption_transport::bulk`])
//! with the command line's keys, endpoints, progress bar and output.

use crate::args::{Global, MigrateArgs, Policy, PolicyArgs};
use crate::{CliResult, Ctx, Failure, client, keys, parse_url};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use s3_encryption_transport::bulk::{self, Record, RecordStatus, RunOptions, Summary, Target};
use s3_encryption_transport::{MigrateMode, MigrateOptions, MigrateStatus};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Objects, not bytes: a bar of objects done, with smoothed objects/s and MB/s in its message.
fn bar(g: &Global, total: u64) -> ProgressBar {
    if g.quiet {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(s) = ProgressStyle::with_template(
        "  migrate [{bar:32.cyan/blue}] {pos}/{len} objects {msg} eta {eta}",
    ) {
        pb.set_style(s.progress_chars("=> "));
    }
    pb
}

/// A rate smoothed by an exponential moving average with time constant `tau` (the last few
/// seconds weigh most), fed with running totals.
#[derive(Debug)]
struct Ema {
    tau: f64,
    last: Option<(f64, f64)>,
    rate: Option<f64>,
}

impl Ema {
    fn new(tau: f64) -> Self {
        Ema {
            tau,
            last: None,
            rate: None,
        }
    }

    /// The running `total` at `t` seconds; the smoothed rate per second.
    fn update(&mut self, t: f64, total: f64) -> f64 {
        let Some((t0, v0)) = self.last else {
            self.last = Some((t, total));
            let r = if t > 0.0 { total / t } else { 0.0 };
            self.rate = Some(r);
            return r;
        };
        let dt = t - t0;
        if dt <= 0.0 {
            return self.rate.unwrap_or(0.0);
        }
        let now = (total - v0) / dt;
        let alpha = 1.0 - (-dt / self.tau).exp();
        let r = self.rate.map_or(now, |r| r + alpha * (now - r));
        self.last = Some((t, total));
        self.rate = Some(r);
        r
    }
}

/// A rate for people: three significant digits at most, no exponent, no long fractions.
fn human_rate(r: f64) -> String {
    match r {
        r if !r.is_finite() || r <= 0.0 => "0".to_owned(),
        r if r < 10.0 => format!("{r:.2}"),
        r if r < 100.0 => format!("{r:.1}"),
        r => format!("{r:.0}"),
    }
}

fn progress(pb: &ProgressBar, dry_run: bool) -> bulk::RecordFn {
    let pb = pb.clone();
    let t0 = Instant::now();
    // Totals and the two smoothed rates (objects/s, bytes/s) over the last ~5 s.
    let state = Arc::new(Mutex::new((0u64, 0u64, Ema::new(5.0), Ema::new(5.0))));
    Arc::new(move |r: &Record| {
        let Ok(mut s) = state.lock() else { return };
        let t = t0.elapsed().as_secs_f64();
        s.0 += 1;
        s.1 += r.bytes();
        let (n, b) = (s.0 as f64, s.1 as f64);
        let objects = s.2.update(t, n);
        let bytes = s.3.update(t, b);
        pb.set_message(if dry_run {
            format!("{} objects/s", human_rate(objects))
        } else {
            format!(
                "{} objects/s {} MB/s",
                human_rate(objects),
                human_rate(bytes / 1e6)
            )
        });
        pb.inc(1);
    })
}

/// SIGINT and SIGTERM stop the run: the first one lets the objects in flight finish (and be
/// journaled and reported) and starts no new ones; a second one exits at once (the journal is
/// synced per object, so a rerun still resumes).
fn on_signals(stop: Arc<AtomicBool>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            return;
        };
        loop {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            if stop.swap(true, Ordering::SeqCst) {
                eprintln!("s3ec: interrupted again: stopping now");
                std::process::exit(i32::from(EXIT_INTERRUPTED));
            }
            eprintln!(
                "s3ec: interrupted: finishing the objects in flight, starting no new ones (interrupt again to stop at once)"
            );
        }
    });
    #[cfg(not(unix))]
    tokio::spawn(async move {
        while tokio::signal::ctrl_c().await.is_ok() {
            if stop.swap(true, Ordering::SeqCst) {
                std::process::exit(i32::from(EXIT_INTERRUPTED));
            }
        }
    });
}

/// The exit code of a run stopped by a signal (128 + SIGINT).
pub const EXIT_INTERRUPTED: u8 = 130;

async fn targets(
    c: &s3_encryption_transport::S3EncryptionClient,
    a: &MigrateArgs,
) -> CliResult<Vec<Target>> {
    let from_url = a.url.as_deref().map(|u| parse_url(u, true)).transpose()?;
    let Some(m) = &a.manifest else {
        let (bucket, prefix) = from_url.unwrap_or_default();
        return Ok(bulk::list_targets(c, &bucket, &prefix).await?);
    };
    let t = bulk::read_manifest(m)?;
    if let Some((bucket, _)) = &from_url
        && let Some(other) = t.iter().find(|t| &t.bucket != bucket)
    {
        return Err(Failure::usage(
            format!(
                "the manifest names bucket {:?}, not {bucket:?}",
                other.bucket
            ),
            Some("omit the s3:// URL to migrate every bucket the manifest names"),
        ));
    }
    Ok(bulk::without_instruction_files(t, &a.suffix))
}

pub async fn run(g: &Global, a: MigrateArgs) -> CliResult<()> {
    let Some((old, old_count)) = keys::old_keyrings(&a.keys)? else {
        return Err(Failure::usage(
            "no key given",
            Some(
                "pass --aes-key FILE, --rsa-key PEM, --kms-key-id ID, --keyring-program 'CMD ARGS' (or --kms-discovery to read); each is repeatable",
            ),
        ));
    };
    let mode = if a.rewrap {
        MigrateMode::Rewrap
    } else {
        MigrateMode::ToV3
    };
    let new = match (keys::new_keyring(&a.new)?, mode) {
        (Some(k), _) => k,
        (None, MigrateMode::ToV3) if old_count > 1 => {
            return Err(Failure::usage(
                "several current keys given and no new key",
                Some(
                    "pass --new-key FILE (AES key or RSA PEM), --new-kms-key-id ID or --new-keyring-program 'CMD ARGS'",
                ),
            ));
        }
        (None, MigrateMode::ToV3) if !a.keys.kms_discovery => old.clone(),
        _ => {
            return Err(Failure::usage(
                "no new key given",
                Some(
                    "pass --new-key FILE (AES key or RSA PEM), --new-kms-key-id ID or --new-keyring-program 'CMD ARGS'",
                ),
            ));
        }
    };
    let mut opts = MigrateOptions::new(mode, new);
    opts.dry_run = a.dry_run;
    opts.remove_instruction_files = a.remove_instruction_files;
    // What would fail every object fails the run, once, before the first object.
    opts.validate().map_err(|e| {
        Failure::usage(
            e.to_string(),
            Some("for --to v3, --new-key must be an AES key or an RSA private key (the new objects are read back)"),
        )
    })?;
    let policy = PolicyArgs {
        commitment_policy: Policy::RequireAllow,
        legacy: a.legacy,
        suffix: a.suffix.clone(),
    };
    let stop = Arc::new(AtomicBool::new(false));
    on_signals(stop.clone());
    let mut ctx = Ctx::new(g).await?;
    let r = async {
        let mut b = client(&mut ctx, g, old, &policy).await?;
        if opts.new_keyring.uses_kms() {
            b = b.kms_client(ctx.kms(g).await);
        }
        let c = b.build()?;
        let list = targets(&c, &a).await?;
        let pb = bar(g, list.len() as u64);
        let run = RunOptions {
            concurrency: usize::from(a.concurrency),
            backoff: bulk::Backoff {
                max_attempts: a.max_attempts,
                ..Default::default()
            },
            journal: a.journal.clone(),
            on_record: Some(progress(&pb, a.dry_run)),
            stop: Some(stop.clone()),
        };
        let s = bulk::run(&c, list, opts, &run).await;
        pb.finish_and_clear();
        Ok::<Summary, Failure>(s?)
    }
    .await;
    ctx.stop().await;
    let s = r?;
    if let Some(p) = &a.report {
        let text = serde_json::to_string_pretty(&s.to_json())
            .map_err(|e| Failure::other(format!("cannot encode the report: {e}")))?;
        std::fs::write(p, text)
            .map_err(|e| Failure::io(format!("cannot write {}", p.display()), e))?;
    }
    if g.json {
        println!("{}", s.to_json());
    } else {
        print!("{}", s.to_text());
    }
    verdict(&s, &a)
}

/// The exit code and message of a finished run.
fn verdict(s: &Summary, a: &MigrateArgs) -> CliResult<()> {
    let named = if a.report.is_some() {
        " (the report names them)"
    } else {
        ""
    };
    if s.interrupted {
        return Err(Failure {
            code: EXIT_INTERRUPTED,
            message: format!(
                "interrupted: {} objects finished, {} not started",
                s.records.len(),
                s.not_started
            ),
            hint: Some(if a.journal.is_some() {
                "rerun the same command to resume: the journal skips the finished objects".into()
            } else {
                "rerun the same command to go on (objects already migrated are skipped); --journal FILE makes resuming cheaper".into()
            }),
        });
    }
    let problems = s.problems();
    if problems == 0 {
        return Ok(());
    }
    let temporary = s.count(RecordStatus::FailedTemporary);
    let changed = s.count(RecordStatus::Done(MigrateStatus::Changed));
    let message = if s.dry_run {
        format!(
            "{problems} objects could not be migrated with the given keys: not openable, unsupported, or not examined{named}"
        )
    } else {
        let mut why = Vec::new();
        for (n, what) in [
            (changed, "changed during the run"),
            (
                s.count(RecordStatus::Done(MigrateStatus::CannotOpen)),
                "not openable with the given keys",
            ),
            (
                s.count(RecordStatus::Done(MigrateStatus::Unsupported)),
                "unsupported",
            ),
            (temporary, "failed temporarily"),
            (s.count(RecordStatus::Failed), "failed"),
        ] {
            if n > 0 {
                why.push(format!("{n} {what}"));
            }
        }
        format!(
            "{problems} objects were not migrated: {}{named}",
            why.join(", ")
        )
    };
    // A rerun only helps where the cause may be gone: throttling, 5xx, the network, or an object
    // another writer replaced (its new content is migrated).
    let mut hints = Vec::new();
    if temporary > 0 {
        hints.push(format!(
            "a rerun retries the {temporary} objects that failed temporarily (throttling, 5xx, network){}",
            if a.journal.is_some() { "; the journal skips the finished ones" } else { "" }
        ));
    }
    if changed > 0 && !s.dry_run {
        hints.push(format!(
            "a rerun migrates the new content of the {changed} changed objects"
        ));
    }
    Err(Failure {
        code: crate::EXIT_FAILURE,
        message,
        hint: (!hints.is_empty()).then(|| hints.join("; ")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_smoothed_and_short() {
        let mut e = Ema::new(5.0);
        e.update(1.0, 10.0);
        // A burst of 1000 in 0.1 s moves the average a little, not to 10000/s.
        let r = e.update(1.1, 1010.0);
        assert!(r > 10.0 && r < 2000.0, "{r}");
        // A steady 10/s brings it back near 10/s.
        let mut t = 1.1;
        let mut v = 1010.0;
        for _ in 0..300 {
            t += 0.1;
            v += 1.0;
            e.update(t, v);
        }
        let r = e.update(t + 0.1, v + 1.0);
        assert!((r - 10.0).abs() < 1.0, "{r}");
        assert_eq!(human_rate(1234.5678), "1235");
        assert_eq!(human_rate(12.345678), "12.3");
        assert_eq!(human_rate(0.123456), "0.12");
        assert_eq!(human_rate(f64::INFINITY), "0");
        assert!(human_rate(123456789012.0).len() <= 12);
    }
}
