//! Output: progress bars, text and JSON.

use crate::args::Global;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use s3_encryption::{ContentAlgorithm, FormatVersion, Placement};
use s3_encryption_transport::{
    EnvelopeInfo, GetOutput, ListEntry, ListStatus, ObjectInfo, PutOutput, ReEncryptOutput,
};
use serde_json::{Value, json};
use std::path::PathBuf;

pub fn info(g: &Global, msg: &str) {
    if !g.quiet && !g.json {
        eprintln!("{msg}");
    }
}

/// A byte progress bar on standard error (hidden with --quiet or when stderr is not a terminal).
pub fn bar(g: &Global, total: Option<u64>, label: &str) -> ProgressBar {
    if g.quiet {
        return ProgressBar::hidden();
    }
    let pb = match total {
        Some(t) => ProgressBar::with_draw_target(Some(t), ProgressDrawTarget::stderr()),
        None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
    };
    let style = if total.is_some() {
        "{prefix:>9} [{bar:32.cyan/blue}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}"
    } else {
        "{prefix:>9} {spinner} {bytes} {bytes_per_sec}"
    };
    if let Ok(s) = ProgressStyle::with_template(style) {
        pb.set_style(s.progress_chars("=> "));
    }
    pb.set_prefix(label.to_owned());
    pb
}

pub fn version(v: FormatVersion) -> &'static str {
    v.name()
}

pub fn suite(c: ContentAlgorithm) -> String {
    format!("{c} (suite 0x{:04x})", c.suite_id())
}

pub fn placement(p: Placement) -> &'static str {
    p.name()
}

fn json_or_text(s: &Option<String>) -> Value {
    match s {
        None => Value::Null,
        Some(t) => serde_json::from_str(t).unwrap_or_else(|_| Value::String(t.clone())),
    }
}

pub fn envelope_json(e: &EnvelopeInfo) -> Value {
    json!({
        "format_version": version(e.format_version),
        "content_algorithm": suite(e.content_algorithm),
        "suite_id": e.content_algorithm.suite_id(),
        "wrap_algorithm": e.wrap_algorithm.name(),
        "wrap_code": e.wrap_algorithm.v3_code(),
        "placement": placement(e.placement),
        "instruction_file": e.instruction_file_key,
        "key_commitment": e.key_commitment,
        "materials_description": json_or_text(&e.materials_description),
        "encryption_context": json_or_text(&e.encryption_context),
        "unencrypted_content_length": e.unencrypted_content_length,
    })
}

/// Lines describing an envelope.
pub fn envelope_lines(
    e: &EnvelopeInfo,
    stored: Option<u64>,
    plaintext: Option<u64>,
) -> Vec<(String, String)> {
    let mut v = vec![
        ("format".to_owned(), version(e.format_version).to_owned()),
        ("content".to_owned(), suite(e.content_algorithm)),
        (
            "key wrap".to_owned(),
            match e.wrap_algorithm.v3_code() {
                Some(c) if e.format_version == FormatVersion::V3 => {
                    format!("{} (x-amz-w {c})", e.wrap_algorithm.name())
                }
                _ => e.wrap_algorithm.name().to_owned(),
            },
        ),
        (
            "placement".to_owned(),
            match &e.instruction_file_key {
                Some(k) => format!("{} ({k})", placement(e.placement)),
                None => placement(e.placement).to_owned(),
            },
        ),
        (
            "key commitment".to_owned(),
            if e.key_commitment {
                "present"
            } else {
                "absent"
            }
            .to_owned(),
        ),
    ];
    v.push((
        "plaintext length".to_owned(),
        match plaintext {
            Some(n) => format!("{n} bytes"),
            None => "unknown (not stored, and not derivable for this suite)".to_owned(),
        },
    ));
    if let Some(s) = stored {
        v.push(("stored length".to_owned(), format!("{s} bytes")));
    }
    if let Some(m) = &e.materials_description {
        v.push(("materials description".to_owned(), m.clone()));
    }
    if let Some(c) = &e.encryption_context {
        v.push(("encryption context".to_owned(), c.clone()));
    }
    v
}

pub fn print_lines(title: &str, lines: &[(String, String)]) {
    println!("{title}");
    for (k, v) in lines {
        println!("  {k:<22} {v}");
    }
}

pub fn inspect(g: &Global, url: &str, i: &ObjectInfo) {
    if g.json {
        let mut v = envelope_json(&i.envelope);
        v["url"] = json!(url);
        v["stored_length"] = json!(i.stored_len);
        v["plaintext_length"] = json!(i.plaintext_len);
        v["etag"] = json!(i.e_tag);
        v["version_id"] = json!(i.version_id);
        v["user_metadata"] = json!(
            i.user_metadata
                .iter()
                .cloned()
                .collect::<std::collections::BTreeMap<_, _>>()
        );
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return;
    }
    let mut lines = envelope_lines(&i.envelope, Some(i.stored_len), i.plaintext_len);
    if let Some(e) = &i.e_tag {
        lines.push(("etag".into(), e.clone()));
    }
    for (k, v) in &i.user_metadata {
        lines.push((format!("metadata {k}"), v.clone()));
    }
    print_lines(url, &lines);
}

pub fn put(g: &Global, url: &str, o: &PutOutput) {
    if g.json {
        println!(
            "{}",
            json!({
                "url": url,
                "plaintext_length": o.plaintext_len,
                "stored_length": o.stored_len,
                "parts": o.parts,
                "multipart": o.multipart,
                "etag": o.e_tag,
                "instruction_file": o.instruction_file_key,
            })
        );
        return;
    }
    let how = if o.multipart {
        format!("{} parts", o.parts)
    } else {
        "one request".to_owned()
    };
    let ifile = o
        .instruction_file_key
        .as_ref()
        .map(|k| format!(", instruction file {k}"))
        .unwrap_or_default();
    info(
        g,
        &format!(
            "uploaded {url}: {} bytes encrypted into {} ({how}{ifile})",
            o.plaintext_len, o.stored_len
        ),
    );
}

pub fn get(g: &Global, bucket: &str, key: &str, output: Option<&PathBuf>, r: &GetOutput) {
    let to = output
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "standard output".to_owned());
    if g.json {
        let v = json!({
            "url": format!("s3://{bucket}/{key}"),
            "output": to,
            "released": r.released,
            "range_first": r.range_first,
            "verification": format!("{:?}", r.verification),
        });
        if output.is_some() {
            println!("{v}");
        } else {
            eprintln!("{v}");
        }
        return;
    }
    let how = match r.verification {
        s3_encryption_transport::Verification::UnauthenticatedRange => "unauthenticated range",
        s3_encryption_transport::Verification::DelayedAuthentication => "delayed authentication",
        _ => "verified before release",
    };
    info(
        g,
        &format!(
            "wrote {} bytes of s3://{bucket}/{key} to {to} ({how})",
            r.released
        ),
    );
}

pub fn rotate(g: &Global, url: &str, bucket: &str, r: &ReEncryptOutput) {
    if g.json {
        let mut v = envelope_json(&r.envelope);
        v["url"] = json!(url);
        v["instruction_file"] = json!(r.instruction_file_key);
        println!("{v}");
        return;
    }
    info(
        g,
        &format!(
            "re-encrypted the data key of {url} with {}: wrote s3://{bucket}/{} (the object is unchanged)",
            r.envelope.wrap_algorithm.name(),
            r.instruction_file_key
        ),
    );
}

pub fn ls(g: &Global, bucket: &str, entries: &[ListEntry]) {
    if g.json {
        let v: Vec<Value> = entries
            .iter()
            .map(|e| {
                let mut o = json!({
                    "key": e.key,
                    "url": format!("s3://{bucket}/{}", e.key),
                    "stored_length": e.stored_len,
                });
                match &e.status {
                    ListStatus::Encrypted(i) => {
                        o["status"] = json!("encrypted");
                        o["plaintext_length"] = json!(i.plaintext_len);
                        o["format_version"] = json!(version(i.envelope.format_version));
                        o["wrap_algorithm"] = json!(i.envelope.wrap_algorithm.name());
                        o["placement"] = json!(placement(i.envelope.placement));
                    }
                    ListStatus::NotEncrypted => o["status"] = json!("not encrypted"),
                    ListStatus::InstructionFile => o["status"] = json!("instruction file"),
                    ListStatus::Error(m) => {
                        o["status"] = json!("error");
                        o["error"] = json!(m);
                    }
                    _ => o["status"] = json!("unknown"),
                }
                o
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return;
    }
    println!(
        "{:>14} {:>14}  {:<4} {:<14} key",
        "plaintext", "stored", "fmt", "wrap"
    );
    for e in entries {
        let (pt, fmt, wrap) = match &e.status {
            ListStatus::Encrypted(i) => (
                i.plaintext_len
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| "?".into()),
                version(i.envelope.format_version).to_owned(),
                i.envelope.wrap_algorithm.name().to_owned(),
            ),
            ListStatus::NotEncrypted => ("-".into(), "-".into(), "not encrypted".into()),
            ListStatus::InstructionFile => ("-".into(), "-".into(), "instruction file".into()),
            ListStatus::Error(m) => ("?".into(), "?".into(), format!("error: {m}")),
            _ => ("?".into(), "?".into(), "?".into()),
        };
        println!(
            "{pt:>14} {:>14}  {fmt:<4} {wrap:<14} {}",
            e.stored_len, e.key
        );
    }
}
