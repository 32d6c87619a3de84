//! `s3ec migrate`: the bucket-scale runner of the library ([`s3_encryption_transport::bulk`])
//! with the command line's keys, endpoints, progress bar and output.

use crate::args::{Global, MigrateArgs, Policy, PolicyArgs};
use crate::{CliResult, Ctx, Failure, client, keys, need_keyring, parse_url};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use s3_encryption_transport::bulk::{self, Record, RunOptions, Summary, Target};
use s3_encryption_transport::{MigrateMode, MigrateOptions};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Objects, not bytes: a bar of objects done with objects/s, and MB/s in its message.
fn bar(g: &Global, total: u64) -> ProgressBar {
    if g.quiet {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(s) = ProgressStyle::with_template(
        "  migrate [{bar:32.cyan/blue}] {pos}/{len} objects {per_sec} {msg} eta {eta}",
    ) {
        pb.set_style(s.progress_chars("=> "));
    }
    pb
}

fn progress(pb: &ProgressBar) -> bulk::RecordFn {
    let pb = pb.clone();
    let bytes = Arc::new(AtomicU64::new(0));
    let t0 = Instant::now();
    Arc::new(move |r: &Record| {
        let b = bytes.fetch_add(r.bytes(), Ordering::Relaxed) + r.bytes();
        let s = t0.elapsed().as_secs_f64().max(1e-3);
        pb.set_message(format!("{:.2} MB/s", b as f64 / 1e6 / s));
        pb.inc(1);
    })
}

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
    let old = need_keyring(&a.keys)?;
    let mode = if a.rewrap {
        MigrateMode::Rewrap
    } else {
        MigrateMode::ToV3
    };
    let new = match (keys::new_keyring(&a.new)?, mode) {
        (Some(k), _) => k,
        (None, MigrateMode::ToV3) if !a.keys.kms_discovery => old.clone(),
        _ => {
            return Err(Failure::usage(
                "no new key given",
                Some("pass --new-key FILE (AES key or RSA PEM) or --new-kms-key-id ID"),
            ));
        }
    };
    let policy = PolicyArgs {
        commitment_policy: Policy::RequireAllow,
        legacy: a.legacy,
        suffix: a.suffix.clone(),
    };
    let mut ctx = Ctx::new(g).await?;
    let r = async {
        let mut b = client(&mut ctx, g, old, &policy).await?;
        if new.uses_kms() {
            b = b.kms_client(ctx.kms(g).await);
        }
        let c = b.build()?;
        let list = targets(&c, &a).await?;
        let mut opts = MigrateOptions::new(mode, new);
        opts.dry_run = a.dry_run;
        let pb = bar(g, list.len() as u64);
        let run = RunOptions {
            concurrency: usize::from(a.concurrency),
            backoff: bulk::Backoff {
                max_attempts: a.max_attempts,
                ..Default::default()
            },
            journal: a.journal.clone(),
            on_record: Some(progress(&pb)),
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
    match s.problems() {
        0 => Ok(()),
        n => Err(Failure {
            code: crate::EXIT_FAILURE,
            message: format!(
                "{n} objects were not migrated: changed during the run, not openable with the given keys, or failed{}",
                if a.report.is_some() { " (the report names them)" } else { "" }
            ),
            hint: Some(
                "a rerun retries changed and failed objects (with --journal it skips the finished ones)".into(),
            ),
        }),
    }
}
