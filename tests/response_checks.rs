#![cfg(feature = "std")]
//! The response checks of the GET and PUT machines, one lie at a time: each test answers the
//! machine's requests honestly except for the one header or status it studies, and names the
//! error that lie must get (found by `cargo mutants` over `src/object/get/response.rs` and
//! `src/object/put/requests.rs`: each of these checks could be changed without any other test
//! noticing).

use s3_encryption::object::{
    GetIntent, GetNext, GetObject, INSTRUCTION_FILE_LIMIT, Operation, PutIntent, PutNext,
    PutObject, Released, Request, RequestId,
};
use s3_encryption::{
    AesKey, DecryptPolicy, EncryptConfig, EncryptionMaterials, Encryptor, Error, Placement,
};

const MIB: usize = 1 << 20;
const ETAG: &str = "\"e1\"";

fn master() -> AesKey {
    AesKey::new_256([0x24; 32])
}

fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8 ^ (i >> 9) as u8).collect()
}

/// A V3 object: its user metadata (without `x-amz-meta-`) and its stored body.
fn v3_object(plaintext: &[u8], placement: Placement) -> (Vec<(String, String)>, Vec<u8>) {
    let config = EncryptConfig::v3(placement);
    let m = EncryptionMaterials::aes_gcm(&config, &master(), &[]).unwrap();
    let mut enc = Encryptor::new(m, Some(plaintext.len() as u64)).unwrap();
    let env = enc.envelope();
    let metadata = env
        .metadata()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut body = plaintext.to_vec();
    enc.encrypt_in_place(&mut body).unwrap();
    body.extend_from_slice(&enc.finish().unwrap());
    (metadata, body)
}

/// One answer: status, headers, body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// The honest answer to a GET or HEAD of an object with `metadata` and `body` (ranged when the
/// request asks for a range).
fn honest(r: &Request<'_>, metadata: &[(String, String)], body: &[u8]) -> Answer {
    let mut headers = vec![("ETag".to_string(), ETAG.to_string())];
    for (k, v) in metadata {
        headers.push((format!("x-amz-meta-{k}"), v.clone()));
    }
    let (status, part) = match r.range {
        Some((a, b)) => {
            let b = b.min(body.len() as u64 - 1);
            headers.push((
                "Content-Range".into(),
                format!("bytes {a}-{b}/{}", body.len()),
            ));
            (206, body[a as usize..=b as usize].to_vec())
        }
        None => (200, body.to_vec()),
    };
    headers.push(("Content-Length".into(), part.len().to_string()));
    let body = if r.operation == Operation::HeadObject {
        Vec::new()
    } else {
        part
    };
    Answer {
        status,
        headers,
        body,
    }
}

fn set(headers: &mut [(String, String)], name: &str, value: String) {
    for (k, v) in headers.iter_mut() {
        if k == name {
            *v = value.clone();
        }
    }
}

/// What a GET did: its result, the plaintext it released, whether it asked for the key.
struct Run {
    result: Result<(), Error>,
    released: Vec<u8>,
    unwrapped: bool,
}

/// Drive a GET, answering every request at once with `answer(request, n)` (`n`: the number of
/// requests before this one); `on_feed` sees the machine before the first piece of every body.
fn run_get(
    intent: GetIntent<'_>,
    mut answer: impl FnMut(&Request<'_>, usize) -> Answer,
    mut on_feed: impl FnMut(&mut GetObject<'_>, RequestId),
) -> Run {
    let mut run = Run {
        result: Ok(()),
        released: Vec::new(),
        unwrapped: false,
    };
    run.result = (|| {
        let mut g = GetObject::new(intent)?;
        let mut answers: Vec<(RequestId, Answer, usize)> = Vec::new();
        let mut n = 0;
        loop {
            match g.poll()? {
                GetNext::Send(id) => {
                    let r = g.request(id)?;
                    let a = answer(&r, n);
                    n += 1;
                    g.response(id, a.status, a.headers.iter().map(|(k, v)| (&**k, &**v)))?;
                    answers.push((id, a, n - 1));
                }
                GetNext::ReadBody(id) => {
                    let k = answers.iter().position(|(i, ..)| *i == id).unwrap();
                    let (_, a, _) = answers.remove(k);
                    on_feed(&mut g, id);
                    let mut at = 0;
                    loop {
                        let f = g.feed(id)?;
                        let n = f.len.min(a.body.len() - at);
                        if n == 0 {
                            g.end_of_body(id)?;
                            break;
                        }
                        let mut piece = a.body[at..at + n].to_vec();
                        at += n;
                        if let Released::Plaintext { start, len, .. } = g.body(id, &mut piece)? {
                            run.released.extend_from_slice(&piece[start..start + len]);
                        }
                    }
                }
                GetNext::UnwrapKey => {
                    run.unwrapped = true;
                    g.unwrap_aes(&master())?;
                }
                GetNext::Done(_) => return Ok(()),
                GetNext::Wait | GetNext::Replay(_) => unreachable!("every request is answered"),
            }
        }
    })();
    run
}

// ---------------------------------------------------------------- GET

#[test]
fn a_412_to_a_read_pinned_by_if_match_alone_is_object_changed() {
    let (md, body) = v3_object(&data(100), Placement::ObjectMetadata);
    let mut it = GetIntent::new("b", "k");
    it.if_match = Some(ETAG);
    let ok = run_get(it, |r, _| honest(r, &md, &body), |_, _| {});
    assert_eq!(ok.result, Ok(()));
    assert_eq!(ok.released, data(100));
    let run = run_get(
        it,
        |_, _| Answer {
            status: 412,
            headers: vec![],
            body: vec![],
        },
        |_, _| {},
    );
    assert_eq!(run.result, Err(Error::ObjectChanged));
}

#[test]
fn an_instruction_file_is_read_at_most_to_its_cap() {
    let (md, body) = v3_object(&data(10), Placement::InstructionFile);
    // The instruction file is sent chunked (no Content-Length): the machine's own cap bounds it,
    // and the first feed offers exactly the cap.
    let mut first_feed = None;
    let run = run_get(
        GetIntent::new("b", "k"),
        |r, _| {
            if r.key_suffix.is_empty() {
                honest(r, &md, &body)
            } else {
                Answer {
                    status: 200,
                    headers: vec![("ETag".into(), "\"i\"".into())],
                    body: vec![b' '; INSTRUCTION_FILE_LIMIT + 1],
                }
            }
        },
        |g, id| {
            if !g.request(id).unwrap().key_suffix.is_empty() {
                first_feed = Some(g.feed(id).unwrap().len);
            }
        },
    );
    assert_eq!(run.result, Err(Error::InvalidMetadata("instruction file")));
    assert_eq!(first_feed, Some(INSTRUCTION_FILE_LIMIT));
}

/// A 17 MiB object over the memory budget, read over two connections in 8 MiB ranged parts,
/// with `lie` applied to the answer to the second ranged GET.
fn parts_with_lie(lie: impl Fn(&mut Answer)) -> Run {
    let plain = data(17 * MIB);
    let (md, body) = v3_object(&plain, Placement::ObjectMetadata);
    let mut it = GetIntent::new("b", "k");
    it.connections = 2;
    it.part_size = 8 * MIB as u64;
    it.memory_budget = MIB as u64;
    let mut ranged = 0;
    let run = run_get(
        it,
        |r, _| {
            let mut a = honest(r, &md, &body);
            if r.range.is_some() && r.operation == Operation::GetObject {
                ranged += 1;
                if ranged == 2 {
                    lie(&mut a);
                }
            }
            a
        },
        |_, _| {},
    );
    if run.result.is_ok() {
        assert!(run.released == plain);
    }
    run
}

#[test]
fn ranged_parts_must_answer_exactly_the_range_asked_for() {
    assert_eq!(parts_with_lie(|_| {}).result, Ok(()));
    // The right first byte, another last byte (the body and its length are the right ones).
    let run = parts_with_lie(|a| {
        let cr = a
            .headers
            .iter()
            .find(|(k, _)| k == "Content-Range")
            .unwrap();
        let (range, total) = cr.1.trim_start_matches("bytes ").split_once('/').unwrap();
        let (first, last) = range.split_once('-').unwrap();
        let last: u64 = last.parse().unwrap();
        let v = format!("bytes {first}-{}/{total}", last + 1);
        set(&mut a.headers, "Content-Range", v);
    });
    assert_eq!(
        run.result,
        Err(Error::UnexpectedResponse(
            "the Content-Range is not the range asked for"
        ))
    );
    assert!(run.released.is_empty());
    // The right Content-Range, another Content-Length.
    let run = parts_with_lie(|a| {
        let n = a.body.len() + 1;
        set(&mut a.headers, "Content-Length", n.to_string());
    });
    assert_eq!(
        run.result,
        Err(Error::UnexpectedResponse(
            "the Content-Length is not the length asked for"
        ))
    );
    assert!(run.released.is_empty());
}

#[test]
fn a_whole_get_after_a_head_must_have_the_heads_length() {
    let (md, body) = v3_object(&data(5000), Placement::ObjectMetadata);
    let mut it = GetIntent::new("b", "k");
    it.head_first = true;
    let ok = run_get(it, |r, _| honest(r, &md, &body), |_, _| {});
    assert_eq!(ok.result, Ok(()));
    let run = run_get(
        it,
        |r, _| {
            let mut a = honest(r, &md, &body);
            if r.operation == Operation::GetObject {
                set(
                    &mut a.headers,
                    "Content-Length",
                    (body.len() - 16).to_string(),
                );
                a.body.truncate(body.len() - 16);
            }
            a
        },
        |_, _| {},
    );
    assert_eq!(run.result, Err(Error::ObjectChanged));
    assert!(run.released.is_empty());
}

/// A V1 object (AES-CBC content, AES/ECB-wrapped key) written by the AWS SDK for Java.
fn v1_cbc_object() -> (Vec<(String, String)>, Vec<u8>) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/test-vectors/java-legacy/");
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(format!("{dir}eo-aes-meta-17.json")).unwrap())
            .unwrap();
    let md = v["object"]["metadata"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    let body = std::fs::read(format!("{dir}eo-aes-meta-17.body")).unwrap();
    (md, body)
}

#[test]
fn a_cbc_body_that_cannot_hold_cbc_is_refused_before_any_key_work() {
    let (md, body) = v1_cbc_object();
    assert_eq!(body.len(), 32);
    let mut policy = DecryptPolicy::new();
    policy.commitment_policy = s3_encryption::CommitmentPolicy::RequireEncryptAllowDecrypt;
    policy.legacy_wrapping_algorithms = true;
    policy.legacy_unauthenticated_modes = true;
    let mut it = GetIntent::new("b", "k");
    it.policy = policy;
    // Only the AES key of the vector opens it: here the point is what happens before the key.
    for (len, want) in [
        (0, Err(Error::TruncatedBody)),
        (17, Err(Error::TruncatedBody)),
    ] {
        let run = run_get(
            it,
            |r, _| {
                let mut a = honest(r, &md, &body);
                a.body.truncate(len);
                set(&mut a.headers, "Content-Length", len.to_string());
                a
            },
            |_, _| {},
        );
        assert_eq!(run.result, want, "a {len}-byte CBC body");
        assert!(!run.unwrapped, "a {len}-byte CBC body reached the key");
    }
    // The real 32 bytes get as far as the key.
    let run = run_get(it, |r, _| honest(r, &md, &body), |_, _| {});
    assert!(run.unwrapped, "{:?}", run.result);
}

// ---------------------------------------------------------------- PUT

/// A multipart PUT of 6 MiB in 5 MiB parts, every request answered by `answer`. Returns the
/// operations sent, in order, and the result.
fn run_multipart_put(
    answer: impl FnMut(&mut PutObject<'_>, RequestId, Operation) -> Result<(), Error>,
) -> (Vec<Operation>, Result<(), Error>) {
    run_put(6 * MIB, answer)
}

/// A PUT of `len` bytes (multipart from 5 MiB, in 5 MiB parts), every request answered by
/// `answer`. Returns the operations sent, in order, and the result.
fn run_put(
    len: usize,
    mut answer: impl FnMut(&mut PutObject<'_>, RequestId, Operation) -> Result<(), Error>,
) -> (Vec<Operation>, Result<(), Error>) {
    let plain = data(len);
    let mut ops = Vec::new();
    let r = (|| {
        let mut it = PutIntent::new("b", "k", Some(plain.len() as u64));
        it.part_size = 5 * MIB as u64;
        it.multipart_threshold = 5 * MIB as u64;
        let mut p = PutObject::new(it)?;
        let mut bufs = std::collections::HashMap::new();
        loop {
            match p.poll()? {
                PutNext::EncryptionMaterials => {
                    let m = EncryptionMaterials::aes_gcm(p.config(), &master(), &[])?;
                    p.materials(m)?;
                }
                PutNext::ReadPart {
                    number,
                    offset,
                    len,
                } => {
                    let a = (offset as usize).min(plain.len());
                    let b = (a + len as usize).min(plain.len());
                    bufs.insert(number, plain[a..b].to_vec());
                    p.part_read(number, (b - a) as u64)?;
                }
                PutNext::EncryptPart(job) => {
                    let b = bufs.get_mut(&job.number()).unwrap();
                    let done = job.encrypt(b)?;
                    p.part_encrypted(done)?;
                }
                PutNext::Send(id) => {
                    let op = p.request(id)?.operation;
                    ops.push(op);
                    answer(&mut p, id, op)?;
                }
                PutNext::Wait => panic!("every request is answered at once"),
                PutNext::Done(_) => return Ok(()),
            }
        }
    })();
    (ops, r)
}

#[test]
fn an_upload_id_for_another_request_is_refused() {
    let (_, r) = run_multipart_put(|p, id, op| match op {
        Operation::CreateMultipartUpload => {
            p.upload_created(RequestId::from_raw(id.get() + 1), 200, "up-1")
        }
        _ => p.response(id, 200, [("ETag", "\"p\"")]),
    });
    assert_eq!(
        r,
        Err(Error::ApiMisuse(
            "PutObject::upload_created: not valid in this state"
        ))
    );
}

#[test]
fn a_completed_upload_whose_answer_is_refused_is_deleted_not_aborted() {
    let honest_ops = run_multipart_put(|p, id, op| match op {
        Operation::CreateMultipartUpload => p.upload_created(id, 200, "up-1"),
        _ => p.response(id, 200, [("ETag", "\"p\"")]),
    });
    assert_eq!(honest_ops.1, Ok(()));
    // CompleteMultipartUpload succeeded (200) but its answer repeats a header: the write is
    // refused, and the object it made is deleted.
    let (ops, r) = run_multipart_put(|p, id, op| match op {
        Operation::CreateMultipartUpload => p.upload_created(id, 200, "up-1"),
        Operation::CompleteMultipartUpload => {
            let _ = p.response(id, 200, [("ETag", "\"a\""), ("ETag", "\"b\"")]);
            Ok(())
        }
        Operation::DeleteObject => p.response(id, 204, []),
        _ => p.response(id, 200, [("ETag", "\"p\"")]),
    });
    assert_eq!(
        r,
        Err(Error::UnexpectedResponse("a response header is repeated"))
    );
    assert_eq!(ops.last(), Some(&Operation::DeleteObject), "{ops:?}");
    assert!(!ops.contains(&Operation::AbortMultipartUpload), "{ops:?}");
}

#[test]
fn a_412_to_an_unconditional_put_is_a_failed_request() {
    let (ops, r) = run_put(1000, |p, id, _| p.response(id, 412, []));
    assert_eq!(ops, [Operation::PutObject]);
    assert_eq!(r, Err(Error::RequestFailed { status: 412 }));
}

#[test]
fn an_answer_for_an_unknown_request_is_refused_while_a_part_uploads() {
    let (_, r) = run_multipart_put(|p, id, op| match op {
        Operation::CreateMultipartUpload => p.upload_created(id, 200, "up-1"),
        Operation::UploadPart => {
            // A part is uploading under `id`; an answer for another id is not its answer.
            let wrong = RequestId::from_raw(id.get() + 100);
            p.response(wrong, 500, [])
        }
        _ => p.response(id, 200, [("ETag", "\"p\"")]),
    });
    assert_eq!(
        r,
        Err(Error::ApiMisuse(
            "PutObject::response: not valid in this state"
        ))
    );
}
