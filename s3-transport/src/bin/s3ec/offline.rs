//! Offline commands: inspect, decrypt and encrypt files without S3.

use crate::args::{Global, KeyArgs, Policy, PolicyArgs};
use crate::{CliResult, Failure, commitment, keys, load_aws_config, out};
use s3_encryption::{DecryptPolicy, EncryptConfig, Encryptor, Envelope, Placement, WriteSuite};
use s3_encryption_transport::{EnvelopeInfo, Keyring};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;

const CHUNK: usize = 1 << 20;

fn read(path: &Path) -> CliResult<Vec<u8>> {
    std::fs::read(path).map_err(|e| Failure::io(format!("cannot read {}", path.display()), e))
}

/// META.json: a JSON object of the object's user metadata (keys with or without `x-amz-meta-`).
fn read_meta(path: &Path) -> CliResult<Vec<(String, String)>> {
    let t = read(path)?;
    let v: serde_json::Map<String, Value> = serde_json::from_slice(&t).map_err(|e| {
        Failure::usage(
            format!("{} is not a JSON object: {e}", path.display()),
            Some("META.json holds the user metadata as {\"x-amz-meta-x-amz-key-v2\": \"...\", ...} (the prefix is optional)"),
        )
    })?;
    Ok(v.into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => (k, s),
            other => (k, other.to_string()),
        })
        .collect())
}

fn decrypt_policy(p: &PolicyArgs) -> DecryptPolicy {
    DecryptPolicy {
        commitment_policy: commitment(p.commitment_policy),
        legacy_wrapping_algorithms: p.legacy,
        legacy_unauthenticated_modes: p.legacy,
        delayed_authentication: false,
    }
}

fn parse_env(
    meta: &[(String, String)],
    ifile: Option<&[u8]>,
    policy: Option<&DecryptPolicy>,
) -> CliResult<Envelope> {
    let it = meta.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    let r = match policy {
        Some(p) => Envelope::parse(it, ifile, p),
        None => Envelope::parse_unchecked(it, ifile),
    };
    r.map_err(|e| {
        let mut f: Failure = e.into();
        if e == s3_encryption::Error::InstructionFileRequired {
            f.hint =
                Some("the metadata holds no key material: pass --instruction-file FILE".into());
        }
        if e == s3_encryption::Error::NotEncrypted {
            f.message =
                "the metadata and instruction file hold no S3EC envelope: not encrypted".into();
            f.hint = None;
        }
        f
    })
}

async fn kms_if_needed(g: &Global, kr: &Keyring) -> Option<aws_sdk_kms::Client> {
    if !kr.uses_kms() {
        return None;
    }
    let conf = load_aws_config(g).await;
    let mut b = aws_sdk_kms::config::Builder::from(&conf);
    if let Some(e) = &g.kms_endpoint {
        b = b.endpoint_url(e);
    }
    Some(aws_sdk_kms::Client::from_conf(b.build()))
}

pub fn inspect(
    g: &Global,
    meta: &Path,
    ifile: Option<&Path>,
    body: Option<&Path>,
) -> CliResult<()> {
    let m = read_meta(meta)?;
    let i = ifile.map(read).transpose()?;
    let env = parse_env(&m, i.as_deref(), None)?;
    let info = EnvelopeInfo::new(&env, ifile.map(|p| p.display().to_string()));
    let stored = body
        .map(|b| {
            std::fs::metadata(b)
                .map(|m| m.len())
                .map_err(|e| Failure::io(format!("cannot read {}", b.display()), e))
        })
        .transpose()?;
    let plaintext = match stored {
        Some(s) => env.plaintext_len(s),
        None => env.unencrypted_content_length(),
    };
    if g.json {
        let mut v = out::envelope_json(&info);
        v["metadata_file"] = json!(meta.display().to_string());
        v["stored_length"] = json!(stored);
        v["plaintext_length"] = json!(plaintext);
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        out::print_lines(
            &meta.display().to_string(),
            &out::envelope_lines(&info, stored, plaintext),
        );
    }
    Ok(())
}

fn temp_beside(out: &Path) -> CliResult<tempfile::NamedTempFile> {
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => std::path::PathBuf::from("."),
    };
    tempfile::NamedTempFile::new_in(&dir)
        .map_err(|e| Failure::io(format!("cannot write in {}", dir.display()), e))
}

pub async fn decrypt(
    g: &Global,
    meta: &Path,
    ifile: Option<&Path>,
    body: &Path,
    output: &Path,
    k: &KeyArgs,
    p: &PolicyArgs,
) -> CliResult<()> {
    let m = read_meta(meta)?;
    let i = ifile.map(read).transpose()?;
    let policy = decrypt_policy(p);
    let env = parse_env(&m, i.as_deref(), Some(&policy))?;
    let kr = keys::keyring(k)?.ok_or_else(|| {
        Failure::usage(
            "no key given",
            Some("pass --aes-key FILE or --rsa-key PEM (or --kms-key-id ID / --kms-discovery)"),
        )
    })?;
    let kms = kms_if_needed(g, &kr).await;
    let ctx = (!k.context.is_empty()).then(|| k.context.clone());
    let dk = kr.unwrap_data_key(&env, kms.as_ref(), ctx.as_ref()).await?;
    let dec = env.decryptor(dk, &policy)?;
    let open = || {
        std::fs::File::open(body)
            .map_err(|e| Failure::io(format!("cannot read {}", body.display()), e))
    };
    let total = open()?
        .metadata()
        .map_err(|e| Failure::io(format!("cannot read {}", body.display()), e))?
        .len();
    // Pass one authenticates, pass two releases: nothing reaches the output before the tag
    // (or, for legacy CBC, the padding) checks out, and the output appears only on success.
    let pb = out::bar(g, Some(total * 2), "decrypt");
    let mut p1 = dec.verify_first()?;
    let mut f = open()?;
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| Failure::io(format!("cannot read {}", body.display()), e))?;
        if n == 0 {
            break;
        }
        p1.update(&buf[..n])?;
        pb.inc(n as u64);
    }
    let mut p2 = p1.finish()?;
    let mut tmp = temp_beside(output)?;
    let mut f = open()?;
    let mut outb = vec![0u8; CHUNK + 16];
    let mut released = 0u64;
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| Failure::io(format!("cannot read {}", body.display()), e))?;
        if n == 0 {
            break;
        }
        let w = p2.update(&buf[..n], &mut outb)?;
        tmp.write_all(&outb[..w])
            .map_err(|e| Failure::io("cannot write the output", e))?;
        released += w as u64;
        pb.inc(n as u64);
    }
    let w = p2.finish(&mut outb)?;
    tmp.write_all(&outb[..w])
        .map_err(|e| Failure::io("cannot write the output", e))?;
    released += w as u64;
    pb.finish_and_clear();
    tmp.persist(output)
        .map_err(|e| Failure::io(format!("cannot write {}", output.display()), e.error))?;
    out::info(
        g,
        &format!(
            "decrypted {} ({} {}) into {}: {released} bytes, authenticated",
            body.display(),
            out::version(env.version()),
            out::suite(env.content_algorithm()),
            output.display()
        ),
    );
    Ok(())
}

pub async fn encrypt(
    g: &Global,
    file: &Path,
    output: &Path,
    meta_out: &Path,
    ifile_out: Option<&Path>,
    k: &KeyArgs,
    p: &PolicyArgs,
) -> CliResult<()> {
    let kr = keys::keyring(k)?.ok_or_else(|| {
        Failure::usage(
            "no key given",
            Some("pass --aes-key FILE, --rsa-key PEM or --kms-key-id ID"),
        )
    })?;
    let suite = if p.commitment_policy == Policy::ForbidAllow {
        WriteSuite::V2AesGcm
    } else {
        WriteSuite::V3AesGcmCommitting
    };
    let placement = if ifile_out.is_some() {
        Placement::InstructionFile
    } else {
        Placement::ObjectMetadata
    };
    let config = EncryptConfig::new(suite, commitment(p.commitment_policy), placement)?;
    let kms = kms_if_needed(g, &kr).await;
    let materials = kr.encryption_materials(&config, kms.as_ref(), None).await?;
    let mut f = std::fs::File::open(file)
        .map_err(|e| Failure::io(format!("cannot read {}", file.display()), e))?;
    let len = f
        .metadata()
        .map_err(|e| Failure::io(format!("cannot read {}", file.display()), e))?
        .len();
    let mut enc = Encryptor::new(materials, Some(len))?;
    let meta: BTreeMap<String, String> = enc
        .envelope()
        .metadata()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let instruction = ifile_out.map(|_| enc.envelope().instruction_file());
    let pb = out::bar(g, Some(len), "encrypt");
    let mut tmp = temp_beside(output)?;
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| Failure::io(format!("cannot read {}", file.display()), e))?;
        if n == 0 {
            break;
        }
        enc.encrypt_in_place(&mut buf[..n])?;
        tmp.write_all(&buf[..n])
            .map_err(|e| Failure::io("cannot write the body", e))?;
        pb.inc(n as u64);
    }
    let tag = enc.finish()?;
    tmp.write_all(&tag)
        .map_err(|e| Failure::io("cannot write the body", e))?;
    pb.finish_and_clear();
    tmp.persist(output)
        .map_err(|e| Failure::io(format!("cannot write {}", output.display()), e.error))?;
    let mj = serde_json::to_string_pretty(&meta).unwrap_or_default();
    std::fs::write(meta_out, mj + "\n")
        .map_err(|e| Failure::io(format!("cannot write {}", meta_out.display()), e))?;
    if let (Some(path), Some(json)) = (ifile_out, instruction) {
        std::fs::write(path, json)
            .map_err(|e| Failure::io(format!("cannot write {}", path.display()), e))?;
    }
    out::info(
        g,
        &format!(
            "encrypted {} ({len} bytes) into {} with metadata {}{}",
            file.display(),
            output.display(),
            meta_out.display(),
            ifile_out
                .map(|p| format!(" and instruction file {}", p.display()))
                .unwrap_or_default()
        ),
    );
    Ok(())
}
