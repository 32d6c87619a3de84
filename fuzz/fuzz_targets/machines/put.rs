//! The PUT machine (single PutObject and multipart) against the scripted store.

use super::*;
use s3_encryption::object::{PutDone, PutIntent, PutNext, PutObject, RequestBody, RequestId};
use s3_encryption::{DataKey, EncryptionMaterials};
use std::collections::{BTreeMap, HashMap};

const KEY: &str = "dir/object";
const MIB: u64 = 1 << 20;

#[derive(Default)]
struct Store {
    /// Full key → (metadata, body).
    objects: HashMap<String, (Meta, Vec<u8>)>,
    /// Upload id → (metadata, parts).
    uploads: HashMap<String, (Meta, BTreeMap<u32, Vec<u8>>)>,
    /// The machine was told an upload exists, or that the object was written.
    created: bool,
    written: bool,
    /// An AbortMultipartUpload or a DeleteObject was asked for.
    cleaned: bool,
}

pub fn run(u: &mut Unstructured<'_>) {
    // One input in six (never one that ran out of bytes: a part is 5 MiB).
    let multipart = !u.ratio(5u8, 6).unwrap_or(true);
    let len = if multipart {
        5 * MIB + u.int_in_range(0u64..=70_000).unwrap_or(0)
    } else {
        u.int_in_range(0u64..=3000).unwrap_or(0)
    };
    let pt = plaintext(len as usize);
    let known = u.arbitrary().unwrap_or(true);
    let placement = if u.arbitrary().unwrap_or(false) {
        Placement::InstructionFile
    } else {
        Placement::ObjectMetadata
    };
    let mut intent = PutIntent::new("bucket", KEY, known.then_some(len));
    intent.config = EncryptConfig::v3(placement);
    intent.part_size = 5 * MIB;
    intent.multipart_threshold = 5 * MIB;
    intent.parts_in_flight = u.int_in_range(1u16..=3).unwrap_or(1);
    intent.metadata = &[("owner", "fuzz")];
    if u.arbitrary().unwrap_or(false) {
        intent.if_match = Some(ETAG);
    }
    let mut store = Store::default();
    let r = drive(u, &mut store, intent, &pt);
    match r {
        Err(e) => {
            check_error(&e, "PutObject");
            if store.created || store.written {
                assert!(store.cleaned, "a failed PUT left what it wrote: {e:?}");
            }
        }
        Ok(d) => {
            assert_eq!(d.plaintext_len, len);
            let (meta, body) = store.objects.get(KEY).expect("Done without an object");
            let ifile = store
                .objects
                .get(&format!("{KEY}.instruction"))
                .map(|(_, b)| b.as_slice());
            assert_eq!(d.instruction_file, ifile.is_some());
            let dec = decryptor_for(meta, ifile, &KeySource::Aes(master()));
            assert!(
                whole(&dec, body) == pt,
                "the stored object is not the plaintext"
            );
        }
    }
}

fn drive(
    u: &mut Unstructured<'_>,
    store: &mut Store,
    intent: PutIntent<'_>,
    pt: &[u8],
) -> Result<PutDone, Error> {
    let mut p = PutObject::new(intent)?;
    let mut bufs: HashMap<u32, Vec<u8>> = HashMap::new();
    for _ in 0..10_000 {
        match p.poll()? {
            PutNext::EncryptionMaterials => {
                let m = EncryptionMaterials::aes_gcm_deterministic(
                    p.config(),
                    &master(),
                    DataKey::new_256(DATA_KEY),
                    &[7; 12],
                    p.encryption_context(),
                );
                let r = m.and_then(|m| p.materials_with_random(m, &[0x5a; 28]));
                if let Err(e) = r {
                    check_error(&e, "PutObject::materials");
                }
            }
            PutNext::ReadPart {
                number,
                offset,
                len,
            } => {
                let a = (offset as usize).min(pt.len());
                let b = (a + len as usize).min(pt.len());
                bufs.insert(number, pt[a..b].to_vec());
                if let Err(e) = p.part_read(number, (b - a) as u64) {
                    check_error(&e, "PutObject::part_read");
                }
            }
            PutNext::EncryptPart(job) => {
                let b = bufs.get_mut(&job.number()).expect("a part never read");
                let r = job.encrypt(b).and_then(|done| p.part_encrypted(done));
                if let Err(e) = r {
                    check_error(&e, "PutObject::part_encrypted");
                }
            }
            PutNext::Send(id) => {
                if let Err(e) = send(u, store, &mut p, id, pt, &mut bufs) {
                    check_error(&e, "PutObject send");
                }
            }
            PutNext::Wait => panic!("Wait with nothing outstanding"),
            PutNext::Done(d) => return Ok(d),
        }
    }
    panic!("the PUT machine did not finish in 10,000 steps");
}

fn send(
    u: &mut Unstructured<'_>,
    store: &mut Store,
    p: &mut PutObject<'_>,
    id: RequestId,
    pt: &[u8],
    bufs: &mut HashMap<u32, Vec<u8>>,
) -> Result<(), Error> {
    let r = p.request(id)?;
    let (op, part, upload) = (r.operation, r.part_number, r.upload_id.map(str::to_owned));
    let full = r.full_key().to_string();
    let meta: Meta = r
        .metadata()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let body = match r.body {
        RequestBody::Ciphertext { ends_with_tag, .. } => match op {
            Operation::PutObject => {
                let mut b = pt.to_vec();
                for c in b.chunks_mut(4099) {
                    p.encrypt(c)?;
                }
                b.extend_from_slice(&p.tag()?);
                b
            }
            _ => {
                let n = part.expect("an UploadPart without a number");
                let mut b = bufs
                    .remove(&n)
                    .expect("an upload of a part never encrypted");
                if ends_with_tag {
                    b.extend_from_slice(&p.tag()?);
                }
                b
            }
        },
        RequestBody::Bytes(b) => b.to_vec(),
        RequestBody::Empty => Vec::new(),
    };
    let mut a = Answer {
        status: 200,
        ..Answer::default()
    };
    let mut upload_id = String::from("upload-1");
    match op {
        Operation::PutObject => {
            store.objects.insert(full.clone(), (meta, body));
            a.headers.push(("ETag".into(), ETAG.into()));
        }
        Operation::CreateMultipartUpload => {
            if !u.ratio(7u8, 8).unwrap_or(true) {
                upload_id = string(u, 80).unwrap_or_default();
            }
            store
                .uploads
                .insert(upload_id.clone(), (meta, BTreeMap::new()));
        }
        Operation::UploadPart => {
            if let Some(up) = upload.as_ref().and_then(|i| store.uploads.get_mut(i)) {
                up.1.insert(part.unwrap_or(0), body);
            } else {
                a.status = 404;
            }
            a.headers.push(("ETag".into(), "\"part\"".into()));
        }
        Operation::CompleteMultipartUpload => {
            match upload.as_ref().and_then(|i| store.uploads.remove(i)) {
                Some((meta, parts)) => {
                    let body = parts.into_values().flatten().collect();
                    store.objects.insert(full.clone(), (meta, body));
                    a.headers.push(("ETag".into(), "\"multi-2\"".into()));
                }
                None => a.status = 404,
            }
        }
        Operation::AbortMultipartUpload => {
            store.cleaned = true;
            if let Some(i) = upload.as_ref() {
                store.uploads.remove(i);
            }
            a.status = 204;
        }
        Operation::DeleteObject => {
            store.cleaned = true;
            store.objects.remove(&full);
            a.status = 204;
        }
        other => panic!("the PUT machine sent {other:?}"),
    }
    mutate(u, &mut a);
    if op == Operation::CreateMultipartUpload {
        p.upload_created(id, a.status, &upload_id)?;
        store.created = true;
    } else {
        p.response(id, a.status, a.pairs())?;
        if matches!(
            op,
            Operation::PutObject | Operation::CompleteMultipartUpload
        ) && full == KEY
        {
            store.written = true;
        }
    }
    Ok(())
}
