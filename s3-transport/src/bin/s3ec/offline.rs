//! Offline commands: inspect, decrypt and encrypt files without S3.

use crate::args::{Global, KeyArgs, PolicyArgs};
use crate::{CliResult, Failure, commitment, keys, load_aws_config, out};
use s3_encryption::{DecryptPolicy, EncryptConfig, Envelope, Placement};
use s3_encryption_transport::{ClientKeyring, EnvelopeInfo};
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

async fn kms_if_needed(g: &Global, kr: &ClientKeyring) -> Option<aws_sdk_kms::Client> {
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

/// Offline decrypt drives the same GET machine as a read from S3: the "store" is the metadata
/// file, the body file and the instruction file, answered here. So the checks, the caps and the
/// release rules are the core's (in memory within 64 MiB, else two passes over the body file,
/// pass two releasing each chunk only when it matches what pass one authenticated).
pub async fn decrypt(
    g: &Global,
    meta: &Path,
    ifile: Option<&Path>,
    body: &Path,
    output: &Path,
    k: &KeyArgs,
    p: &PolicyArgs,
) -> CliResult<()> {
    use s3_encryption::object::{GetIntent, GetNext, GetObject, Operation, Released};
    let m = read_meta(meta)?;
    let i = ifile.map(read).transpose()?;
    let policy = decrypt_policy(p);
    // Parse here first for the friendly messages (and the hint for a missing instruction file).
    let env = parse_env(&m, i.as_deref(), Some(&policy))?;
    let kr = keys::keyring(k)?.ok_or_else(|| {
        Failure::usage(
            "no key given",
            Some("pass --aes-key FILE or --rsa-key PEM (or --kms-key-id ID / --kms-discovery)"),
        )
    })?;
    let kms = kms_if_needed(g, &kr).await;
    let ctx = (!k.context.is_empty()).then(|| k.context.clone());
    let read_err = |e| Failure::io(format!("cannot read {}", body.display()), e);
    let total = std::fs::metadata(body).map_err(read_err)?.len();
    let mut headers: Vec<(String, String)> = vec![
        ("content-length".into(), total.to_string()),
        ("etag".into(), "\"offline\"".into()),
    ];
    for (k, v) in &m {
        let k = k.to_ascii_lowercase();
        let k = k.strip_prefix("x-amz-meta-").unwrap_or(&k).to_owned();
        headers.push((format!("x-amz-meta-{k}"), v.clone()));
    }
    let mut intent = GetIntent::new("offline", "body");
    intent.policy = policy;
    intent.encryption_context = None;
    let mut get = GetObject::new(intent)?;
    let pb = out::bar(g, Some(total * 2), "decrypt");
    let mut tmp = temp_beside(output)?;
    let mut released = 0u64;
    let mut pending: Option<(s3_encryption::object::RequestId, bool)> = None;
    loop {
        match get.poll()? {
            GetNext::Send(id) => {
                let r = get.request(id)?;
                let ifile_req = !r.key_suffix.is_empty();
                let op = r.operation;
                if ifile_req && i.is_none() {
                    get.response(id, 404, [])?;
                    continue;
                }
                let len = if ifile_req {
                    i.as_ref().map_or(0, |v| v.len() as u64)
                } else {
                    total
                };
                let mut h = headers.clone();
                h[0].1 = len.to_string();
                if ifile_req {
                    h.truncate(1);
                }
                get.response(id, 200, h.iter().map(|(a, b)| (a.as_str(), b.as_str())))?;
                if op == Operation::GetObject {
                    pending = Some((id, ifile_req));
                }
            }
            GetNext::Wait => {}
            GetNext::ReadBody(id) => {
                let ifile_req = pending.take().is_some_and(|(pid, f)| pid == id && f);
                let mut src: Box<dyn Read> = if ifile_req {
                    Box::new(std::io::Cursor::new(i.clone().unwrap_or_default()))
                } else {
                    Box::new(std::fs::File::open(body).map_err(read_err)?)
                };
                let mut buf = Vec::new();
                loop {
                    let f = get.feed(id)?;
                    buf.resize(f.len.clamp(1, 64 << 20), 0);
                    let mut n = 0;
                    while n < buf.len() {
                        let k = src.read(&mut buf[n..]).map_err(read_err)?;
                        if k == 0 {
                            break;
                        }
                        n += k;
                        if !f.exact {
                            break;
                        }
                    }
                    if n == 0 {
                        get.end_of_body(id)?;
                        break;
                    }
                    pb.inc(n as u64);
                    if let Released::Plaintext { start, len, .. } = get.body(id, &mut buf[..n])? {
                        tmp.write_all(&buf[start..start + len])
                            .map_err(|e| Failure::io("cannot write the output", e))?;
                        released += len as u64;
                    }
                }
            }
            GetNext::UnwrapKey => {
                let env = get
                    .envelope()
                    .ok_or_else(|| Failure::usage("no envelope", None))?;
                let dk = kr.unwrap_data_key(env, kms.as_ref(), ctx.as_ref()).await?;
                get.data_key(dk)?;
            }
            GetNext::Replay(_) => return Err(Failure::usage("no storage offered", None)),
            GetNext::Done(_) => break,
        }
    }
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
    let placement = if ifile_out.is_some() {
        Placement::InstructionFile
    } else {
        Placement::ObjectMetadata
    };
    let config = EncryptConfig::for_policy(commitment(p.commitment_policy), placement);
    let kms = kms_if_needed(g, &kr).await;
    let mut f = std::fs::File::open(file)
        .map_err(|e| Failure::io(format!("cannot read {}", file.display()), e))?;
    let len = f
        .metadata()
        .map_err(|e| Failure::io(format!("cannot read {}", file.display()), e))?
        .len();
    // The same PUT machine as an upload, with one PutObject whatever the size; the "store" is the
    // output files.
    use s3_encryption::object::{PutIntent, PutNext, PutObject, RequestBody};
    let mut intent = PutIntent::new("offline", "body", Some(len));
    intent.config = config;
    intent.multipart_threshold = s3_encryption::MAX_PART_SIZE - 16;
    let mut put = PutObject::new(intent)?;
    let pb = out::bar(g, Some(len), "encrypt");
    let mut tmp = temp_beside(output)?;
    let mut meta: BTreeMap<String, String> = BTreeMap::new();
    let mut instruction: Option<Vec<u8>> = None;
    loop {
        match put.poll()? {
            PutNext::EncryptionMaterials => {
                let m = kr.encryption_materials(&config, kms.as_ref(), None).await?;
                put.materials(m)?;
            }
            PutNext::Send(id) => {
                let r = put.request(id)?;
                match r.body {
                    RequestBody::Bytes(b) => instruction = Some(b.to_vec()),
                    _ => {
                        meta = r
                            .metadata()
                            .map(|(k, v)| (k.to_owned(), v.to_owned()))
                            .collect();
                        let mut buf = vec![0u8; CHUNK];
                        loop {
                            let n = f.read(&mut buf).map_err(|e| {
                                Failure::io(format!("cannot read {}", file.display()), e)
                            })?;
                            if n == 0 {
                                break;
                            }
                            put.encrypt(&mut buf[..n])?;
                            tmp.write_all(&buf[..n])
                                .map_err(|e| Failure::io("cannot write the body", e))?;
                            pb.inc(n as u64);
                        }
                        let tag = put.tag()?;
                        tmp.write_all(&tag)
                            .map_err(|e| Failure::io("cannot write the body", e))?;
                    }
                }
                put.response(id, 200, [])?;
            }
            PutNext::Done(_) => break,
            other => {
                return Err(Failure::usage(
                    format!("unexpected step of a single PUT: {other:?}"),
                    None,
                ));
            }
        }
    }
    pb.finish_and_clear();
    tmp.persist(output)
        .map_err(|e| Failure::io(format!("cannot write {}", output.display()), e.error))?;
    let mj = serde_json::to_string_pretty(&meta).unwrap_or_default();
    std::fs::write(meta_out, mj + "\n")
        .map_err(|e| Failure::io(format!("cannot write {}", meta_out.display()), e))?;
    if let (Some(path), Some(json)) = (ifile_out, instruction) {
        let json = String::from_utf8(json).unwrap_or_default();
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
