#![cfg(feature = "std")]
//! The migration steps (`object::migrate`) driven sans-IO against a scripted in-memory store:
//! an SDK-written V2 object re-encrypted to V3 and re-wrapped in place, and the hostile answers a
//! migration must not report as success (412 on PutObject and on CompleteMultipartUpload, a copy
//! of another object, a read-back of other bytes or one that fails to authenticate).

use base64ct::{Base64, Encoding};
use s3_encryption::object::migrate::{
    MigrateTarget, PlaintextDigest, Plan, Reencrypt, RewrapInPlace, RewrapIntent, RewrapNext,
    Source, SourceFormat,
};
use s3_encryption::object::{
    DescribeNext, DescribeObject, GetIntent, GetNext, GetObject, Operation, PutIntent, PutNext,
    PutObject, Released, Request, RequestBody, RequestId,
};
use s3_encryption::{
    AesKey, AesKeyring, CommitmentPolicy, DecryptPolicy, EncryptionMaterials, Error, FormatVersion,
    KeyRequest, Keyring as _, Placement, WrapAlgorithm,
};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

#[derive(Clone)]
struct Obj {
    meta: Vec<(String, String)>,
    content_type: String,
    body: Vec<u8>,
    etag: String,
    version: u32,
}

/// What the store does wrong.
#[derive(Default, Clone, Copy)]
struct Hostile {
    /// Answer the n-th conditional write (PutObject / CompleteMultipartUpload) with 412.
    fail_write: bool,
    /// Ignore `x-amz-copy-source-if-match`: copy whatever is current (after `overwrite_before_copy`).
    overwrite_before_copy: bool,
    /// Serve these bytes instead of the object's on GETs after the first write.
    swap_after_write: Option<u8>,
}

#[derive(Default)]
struct Store {
    objects: HashMap<String, Obj>,
    uploads: HashMap<String, (Vec<(String, String)>, Vec<(u32, Vec<u8>)>)>,
    ops: Vec<(Operation, Option<String>, Option<String>)>,
    n: u32,
    writes: u32,
    hostile: Hostile,
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Store {
    fn put(&mut self, key: &str, meta: Vec<(String, String)>, body: Vec<u8>) -> String {
        self.n += 1;
        let etag = format!("\"etag{}\"", self.n);
        let version = self.objects.get(key).map_or(1, |o| o.version + 1);
        self.objects.insert(
            key.to_owned(),
            Obj {
                meta,
                content_type: "text/x-test".into(),
                body,
                etag: etag.clone(),
                version,
            },
        );
        etag
    }

    fn head_of(o: &Obj, body: bool) -> Vec<(String, String)> {
        let mut h = vec![
            ("ETag".into(), o.etag.clone()),
            ("x-amz-version-id".into(), format!("v{}", o.version)),
            ("Content-Type".into(), o.content_type.clone()),
            ("Content-Length".into(), o.body.len().to_string()),
        ];
        let _ = body;
        h.extend(
            o.meta
                .iter()
                .map(|(k, v)| (format!("x-amz-meta-{k}"), v.clone())),
        );
        h
    }

    fn serve(&mut self, r: &Request<'_>, body: &[u8]) -> Answer {
        let key = r.full_key().to_string();
        self.ops.push((
            r.operation,
            r.if_match.map(str::to_owned),
            r.copy_source.and_then(|c| c.if_match.map(str::to_owned)),
        ));
        let mut a = Answer {
            status: 200,
            headers: vec![],
            body: vec![],
        };
        let meta = || -> Vec<(String, String)> {
            r.metadata()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        };
        let conditional_fails = |s: &Self| {
            r.if_match
                .is_some_and(|m| s.objects.get(&key).is_none_or(|o| !same(m, &o.etag)))
                || s.hostile.fail_write
        };
        match r.operation {
            Operation::HeadObject | Operation::GetObject => {
                let Some(o) = self.objects.get(&key) else {
                    a.status = 404;
                    return a;
                };
                if r.if_match.is_some_and(|m| !same(m, &o.etag)) {
                    a.status = 412;
                    return a;
                }
                a.headers = Self::head_of(o, r.operation == Operation::GetObject);
                if r.operation == Operation::GetObject {
                    a.body = o.body.clone();
                    if let (Some(x), true) = (self.hostile.swap_after_write, self.writes > 0) {
                        a.body.iter_mut().for_each(|b| *b ^= x);
                    }
                }
            }
            Operation::PutObject => {
                if conditional_fails(self) {
                    a.status = 412;
                    return a;
                }
                self.writes += 1;
                let etag = self.put(&key, meta(), body.to_vec());
                let v = self.objects[&key].version;
                a.headers = vec![
                    ("ETag".into(), etag),
                    ("x-amz-version-id".into(), format!("v{v}")),
                ];
            }
            Operation::CreateMultipartUpload => {
                self.n += 1;
                let id = format!("up{}", self.n);
                self.uploads.insert(id.clone(), (meta(), vec![]));
                a.headers = vec![("upload-id".into(), id)];
            }
            Operation::UploadPart | Operation::UploadPartCopy => {
                let data = match r.copy_source {
                    Some(c) => {
                        let (x, y) = c.range.unwrap();
                        self.objects[c.key].body[x as usize..=y as usize].to_vec()
                    }
                    None => body.to_vec(),
                };
                let up = self.uploads.get_mut(r.upload_id.unwrap()).unwrap();
                up.1.push((r.part_number.unwrap(), data));
            }
            Operation::CompleteMultipartUpload => {
                if conditional_fails(self) {
                    a.status = 412;
                    return a;
                }
                let (m, mut parts) = self.uploads.remove(r.upload_id.unwrap()).unwrap();
                parts.sort_by_key(|p| p.0);
                self.writes += 1;
                let etag = self.put(&key, m, parts.into_iter().flat_map(|p| p.1).collect());
                let etag = etag.replace('"', "") + "-2"; // unquoted, as some stores answer
                self.objects.get_mut(&key).unwrap().etag = format!("\"{etag}\"");
                let v = self.objects[&key].version;
                a.headers = vec![
                    ("ETag".into(), etag),
                    ("x-amz-version-id".into(), format!("v{v}")),
                ];
            }
            Operation::AbortMultipartUpload => {
                self.uploads.remove(r.upload_id.unwrap());
                a.status = 204;
            }
            Operation::CopyObject => {
                let c = r.copy_source.unwrap();
                if self.hostile.overwrite_before_copy {
                    // Another writer, and a store that ignores every copy condition.
                    self.put(&key, vec![], b"the other writer's bytes, not ours".to_vec());
                } else if c
                    .if_match
                    .is_some_and(|m| !same(m, &self.objects[c.key].etag))
                    || conditional_fails(self)
                {
                    a.status = 412;
                    return a;
                }
                let src = self.objects[c.key].clone();
                self.writes += 1;
                let m = if r.replace_metadata {
                    meta()
                } else {
                    src.meta.clone()
                };
                self.put(&key, m, src.body.clone());
                // A single-part copy keeps the MD5 ETag.
                self.objects.get_mut(&key).unwrap().etag = src.etag.clone();
                let v = self.objects[&key].version;
                a.headers = vec![
                    ("ETag".into(), src.etag),
                    ("x-amz-version-id".into(), format!("v{v}")),
                ];
            }
            _ => a.status = 501,
        }
        a
    }
}

/// ETags compare without their quotes, as S3 compares them.
fn same(a: &str, b: &str) -> bool {
    a.trim_matches('"') == b.trim_matches('"')
}

fn pairs(h: &[(String, String)]) -> impl Iterator<Item = (&str, &str)> {
    h.iter().map(|(k, v)| (k.as_str(), v.as_str()))
}

/// Describe `key` and take the migration's snapshot.
fn describe(store: &mut Store, key: &str) -> Source {
    let mut d = DescribeObject::new("b", key, None, ".instruction").unwrap();
    let mut head = None;
    loop {
        let id = match d.poll() {
            Ok(DescribeNext::Send(id)) => id,
            Ok(DescribeNext::Done) | Err(Error::NotEncrypted) => break,
            Err(e) => panic!("{e}"),
        };
        let a = store.serve(&d.request(id).unwrap(), &[]);
        d.body(id, &a.body).ok();
        match d.response(id, a.status, pairs(&a.headers)) {
            Ok(()) | Err(Error::NotEncrypted) => {}
            Err(e) => panic!("{e}"),
        }
        head.get_or_insert(a.headers);
    }
    let mut s = Source::described("b", key, ".instruction", &d, pairs(&head.unwrap())).unwrap();
    s.set_tagging(Some("team=blue".into()));
    s
}

/// Run a GET to its end, feeding every released byte to `digest`.
fn get(
    store: &mut Store,
    intent: GetIntent<'_>,
    key: &AesKey,
    digest: &mut PlaintextDigest,
    out: &mut Vec<u8>,
) -> Result<s3_encryption::object::GetDone, Error> {
    let mut g = GetObject::new(intent)?;
    let mut bodies: HashMap<RequestId, Vec<u8>> = HashMap::new();
    loop {
        match g.poll()? {
            GetNext::Send(id) => {
                let a = store.serve(&g.request(id)?, &[]);
                g.response(id, a.status, pairs(&a.headers))?;
                bodies.insert(id, a.body);
            }
            GetNext::ReadBody(id) => {
                let mut body = bodies.remove(&id).unwrap();
                let mut at = 0;
                while at < body.len() {
                    let n = g.feed(id)?.len.min(body.len() - at);
                    assert!(n > 0, "the machine asked for nothing");
                    let piece = &mut body[at..at + n];
                    if let Released::Plaintext { start, len, offset } = g.body(id, piece)? {
                        digest.update(offset, &piece[start..start + len])?;
                        out.extend_from_slice(&piece[start..start + len]);
                    }
                    at += n;
                }
                g.end_of_body(id)?;
            }
            GetNext::UnwrapKey => g.unwrap_aes(key)?,
            GetNext::Done(d) => return Ok(d),
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// Run a PUT of `plaintext` under `key`.
fn put(
    store: &mut Store,
    intent: PutIntent<'_>,
    key: &AesKey,
    plaintext: &[u8],
) -> Result<(u64, Option<String>, Option<String>), Error> {
    let mut p = PutObject::new(intent)?;
    let mut bufs: HashMap<u32, Vec<u8>> = HashMap::new();
    let mut last = (None, None);
    loop {
        match p.poll()? {
            PutNext::EncryptionMaterials => {
                let m = EncryptionMaterials::aes_gcm(p.config(), key, p.encryption_context())?;
                p.materials(m)?;
            }
            PutNext::ReadPart {
                number,
                offset,
                len,
            } => {
                let a = offset as usize;
                let b = (a + len as usize).min(plaintext.len());
                bufs.insert(number, plaintext[a..b].to_vec());
                p.part_read(number, (b - a) as u64)?;
            }
            PutNext::EncryptPart(job) => {
                let done = job.encrypt(bufs.get_mut(&job.number()).unwrap())?;
                p.part_encrypted(done)?;
            }
            PutNext::Send(id) => {
                let r = p.request(id)?;
                let body = match (r.operation, r.body) {
                    (Operation::PutObject, RequestBody::Ciphertext { .. }) => {
                        let mut b = plaintext.to_vec();
                        p.encrypt(&mut b)?;
                        b.extend_from_slice(&p.tag()?);
                        b
                    }
                    (Operation::UploadPart, RequestBody::Ciphertext { len }) => {
                        let mut b = bufs[&r.part_number.unwrap()].clone();
                        if len as usize == b.len() + 16 {
                            b.extend_from_slice(&p.tag()?);
                        }
                        b
                    }
                    _ => vec![],
                };
                let r = p.request(id)?;
                let a = store.serve(&r, &body);
                if r.operation == Operation::CreateMultipartUpload {
                    p.upload_created(id, a.status, &a.headers[0].1)?;
                } else {
                    let etag = a
                        .headers
                        .iter()
                        .find(|h| h.0 == "ETag")
                        .map(|h| h.1.clone());
                    let ver = a
                        .headers
                        .iter()
                        .find(|h| h.0 == "x-amz-version-id")
                        .map(|h| h.1.clone());
                    if matches!(
                        r.operation,
                        Operation::PutObject | Operation::CompleteMultipartUpload
                    ) {
                        last = (etag, ver);
                    }
                    // A failure is reported by the next poll, after the cleanup it asks for.
                    let _ = p.response(id, a.status, pairs(&a.headers));
                }
            }
            PutNext::Wait => panic!("nothing outstanding"),
            PutNext::Done(d) => return Ok((d.plaintext_len, last.0, last.1)),
        }
    }
}

/// The SDK-written V2 vector (Java 1.12 AmazonS3EncryptionClientV2, AES/GCM, metadata): its
/// metadata, body, key and plaintext digest.
fn sdk_v2() -> (Vec<(String, String)>, Vec<u8>, AesKey, String) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("test-vectors/java-v2");
    let v: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("ae-aesgcm-meta-4101.json")).unwrap(),
    )
    .unwrap();
    let meta = v["object"]["metadata"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.to_lowercase(), v.as_str().unwrap().to_owned()))
        .chain([("owner".to_owned(), "alice".to_owned())])
        .collect();
    let body = std::fs::read(dir.join(v["object"]["body"].as_str().unwrap())).unwrap();
    let key =
        AesKey::from_slice(&Base64::decode_vec(v["key"]["key_b64"].as_str().unwrap()).unwrap())
            .unwrap();
    (
        meta,
        body,
        key,
        v["expect"]["plaintext_sha256"].as_str().unwrap().to_owned(),
    )
}

fn old_policy() -> DecryptPolicy {
    DecryptPolicy {
        commitment_policy: CommitmentPolicy::RequireEncryptAllowDecrypt,
        ..DecryptPolicy::new()
    }
}

/// Re-encrypt `key` from `old` to `new`: the whole flow, returning the verification's result.
fn reencrypt(store: &mut Store, key: &str, old: &AesKey, new: &AesKey) -> Result<Vec<u8>, Error> {
    let source = describe(store, key);
    let mut re = Reencrypt::new(&source, CommitmentPolicy::RequireEncryptRequireDecrypt)?;
    let mut digest = PlaintextDigest::new();
    let mut plaintext = Vec::new();
    let done = get(
        store,
        re.read_intent(old_policy())?,
        old,
        &mut digest,
        &mut plaintext,
    )?;
    re.read_done(&done, digest)?;
    let mut wi = re.write_intent()?;
    wi.part_size = 5 << 20;
    wi.multipart_threshold = 5 << 20;
    let (n, etag, ver) = put(store, wi, new, &plaintext)?;
    re.written(n, etag.as_deref(), ver.as_deref())?;
    let mut digest = PlaintextDigest::new();
    let mut back = Vec::new();
    let vdone = get(store, re.verify_intent()?, new, &mut digest, &mut back)?;
    let v = re.verified(&vdone, FormatVersion::V3, digest)?;
    assert_eq!(v.plaintext_len, plaintext.len() as u64);
    assert_eq!(v.new_version_id.as_deref(), Some("v2"));
    Ok(back)
}

#[test]
fn plan_classifies_forms_and_keeps_user_metadata() {
    let (meta, body, _, _) = sdk_v2();
    let mut store = Store::default();
    store.put("v2", meta, body);
    store.put(
        "plain",
        vec![("owner".into(), "bob".into())],
        b"hi".to_vec(),
    );
    let s = describe(&mut store, "v2");
    let f = s.form();
    assert_eq!(f.format, SourceFormat::V2);
    assert_eq!(f.wrap, Some(WrapAlgorithm::AesGcm));
    assert_eq!(f.placement, Some(Placement::ObjectMetadata));
    assert_eq!(f.plaintext_len, Some(4101));
    assert_eq!(
        s.user_metadata(),
        &[("owner".to_owned(), "alice".to_owned())]
    );
    assert_eq!(s.content_type(), Some("text/x-test"));
    assert_eq!(s.etag(), Some("\"etag1\""));
    assert_eq!(s.plan(MigrateTarget::ToV3), Ok(Plan::Proceed));
    assert_eq!(s.plan(MigrateTarget::Rewrap), Ok(Plan::SkipIfNewKeyOpens));
    let p = describe(&mut store, "plain");
    assert_eq!(p.form().format, SourceFormat::Plain);
    assert_eq!(p.plan(MigrateTarget::ToV3), Ok(Plan::NotEncrypted));
}

#[test]
fn sdk_v2_object_reencrypts_to_v3_conditionally_and_verified() {
    let (meta, body, old, sha) = sdk_v2();
    let new = AesKey::new_256([7; 32]);
    let mut store = Store::default();
    let etag = store.put("k", meta, body);
    let back = reencrypt(&mut store, "k", &old, &new).unwrap();
    assert_eq!(hex::encode(Sha256::digest(&back)), sha);
    // The write was conditional on the source ETag; the GET was pinned to it.
    let put = store
        .ops
        .iter()
        .find(|o| o.0 == Operation::PutObject)
        .unwrap();
    assert_eq!(put.1.as_deref(), Some(etag.as_str()));
    let first_get = store
        .ops
        .iter()
        .find(|o| o.0 == Operation::GetObject)
        .unwrap();
    assert_eq!(first_get.1.as_deref(), Some(etag.as_str()));
    // User metadata and content type kept, V3 envelope, no V2 key left.
    let o = &store.objects["k"];
    assert!(o.meta.contains(&("owner".into(), "alice".into())));
    assert!(o.meta.iter().any(|(k, _)| k == "x-amz-3"));
    assert!(!o.meta.iter().any(|(k, _)| k == "x-amz-key-v2"));
}

#[test]
fn a_412_on_put_or_complete_is_changed_and_the_upload_is_aborted() {
    for big in [false, true] {
        let old = AesKey::new_256([1; 32]);
        let new = AesKey::new_256([2; 32]);
        let mut store = Store::default();
        let pt: Vec<u8> = (0..if big { 6 << 20 } else { 100 })
            .map(|i| i as u8)
            .collect();
        let mut i = PutIntent::new("b", "k", Some(pt.len() as u64));
        i.part_size = 5 << 20;
        i.multipart_threshold = 5 << 20;
        put(&mut store, i, &old, &pt).unwrap();
        let before = store.objects["k"].clone();
        store.hostile.fail_write = true;
        let e = reencrypt(&mut store, "k", &old, &new).unwrap_err();
        assert_eq!(e, Error::ObjectChanged, "big={big}");
        assert_eq!(store.objects["k"].body, before.body);
        assert_eq!(store.objects["k"].etag, before.etag);
        if big {
            assert!(
                store
                    .ops
                    .iter()
                    .any(|o| o.0 == Operation::AbortMultipartUpload)
            );
            assert!(store.uploads.is_empty());
            let complete = store
                .ops
                .iter()
                .rev()
                .find(|o| o.0 == Operation::CompleteMultipartUpload)
                .unwrap();
            assert_eq!(complete.1.as_deref(), Some(before.etag.as_str()));
        }
    }
}

#[test]
fn a_read_back_of_other_bytes_or_unauthenticated_is_not_success() {
    let (meta, body, old, _) = sdk_v2();
    let new = AesKey::new_256([7; 32]);
    let mut store = Store::default();
    store.put("k", meta, body);
    // Every GET after the write serves flipped bytes: the read-back fails to authenticate.
    store.hostile.swap_after_write = Some(0x01);
    assert_eq!(
        reencrypt(&mut store, "k", &old, &new).unwrap_err(),
        Error::Authentication
    );
    // A read-back that authenticates but holds other plaintext (the new key, other bytes) is a
    // mismatch: the digest of what was copied decides.
    let mut store = Store::default();
    let (meta, body, _, _) = sdk_v2();
    store.put("k", meta, body);
    let source = describe(&mut store, "k");
    let mut re = Reencrypt::new(&source, CommitmentPolicy::RequireEncryptRequireDecrypt).unwrap();
    let (mut d, mut pt) = (PlaintextDigest::new(), Vec::new());
    let done = get(
        &mut store,
        re.read_intent(old_policy()).unwrap(),
        &old,
        &mut d,
        &mut pt,
    )
    .unwrap();
    re.read_done(&done, d).unwrap();
    let mut other = pt.clone();
    other[0] ^= 1;
    let (n, etag, ver) =
        put(&mut store, re.write_intent().unwrap(), &new, &other).unwrap_or_else(|e| panic!("{e}"));
    re.written(n, etag.as_deref(), ver.as_deref()).unwrap();
    let (mut d2, mut back) = (PlaintextDigest::new(), Vec::new());
    let vdone = get(
        &mut store,
        re.verify_intent().unwrap(),
        &new,
        &mut d2,
        &mut back,
    )
    .unwrap();
    assert_eq!(
        re.verified(&vdone, FormatVersion::V3, d2).unwrap_err(),
        Error::ReadBackMismatch
    );
}

/// Rewrap `key` in place from `old` to `new`; the machine's result.
fn rewrap(
    store: &mut Store,
    key: &str,
    old: &AesKey,
    new: &AesKey,
    copy_threshold: u64,
) -> Result<(), Error> {
    let source = describe(store, key);
    let mut intent = RewrapIntent::new(DecryptPolicy::new());
    intent.copy_threshold = copy_threshold;
    intent.copy_part_size = 5 << 20;
    let mut rw = RewrapInPlace::new(&source, intent)?;
    loop {
        match rw.poll()? {
            RewrapNext::UnwrapKey => {
                assert!(matches!(rw.key_request()?, KeyRequest::Aes { .. }));
                let dk = rw.old_envelope().unwrap_aes(old)?;
                rw.data_key(dk)?;
            }
            RewrapNext::WrapKey => {
                let dk = rw.data_key_to_wrap()?.clone();
                let m = AesKeyring::new(new.clone()).wrap_data_key(&rw.new_config()?, dk, &[])?;
                rw.new_materials(m)?;
            }
            RewrapNext::Send(id) => {
                let r = rw.request(id)?;
                let a = store.serve(&r, &[]);
                if r.operation == Operation::CreateMultipartUpload {
                    rw.upload_created(id, a.status, &a.headers[0].1)?;
                } else {
                    // A failure is reported by the next poll, after the abort it asks for.
                    let _ = rw.response(id, a.status, pairs(&a.headers));
                }
            }
            RewrapNext::CheckNewKey => {
                let dk = rw.new_envelope().unwrap().unwrap_aes(new)?;
                rw.new_key_opens(dk)?;
            }
            RewrapNext::Done(_) => return Ok(()),
        }
    }
}

fn v3_object(store: &mut Store, key: &AesKey, len: usize) -> Vec<u8> {
    let pt: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
    let mut i = PutIntent::new("b", "k", Some(len as u64));
    i.metadata = &[("owner", "carol")];
    i.part_size = 5 << 20;
    i.multipart_threshold = 5 << 20;
    put(store, i, key, &pt).unwrap();
    pt
}

fn v3_ids(o: &Obj) -> Vec<(String, String)> {
    o.meta
        .iter()
        .filter(|(k, _)| k == "x-amz-i" || k == "x-amz-d")
        .cloned()
        .collect()
}

#[test]
fn rewrap_in_place_copies_with_a_new_envelope_and_keeps_the_commitment() {
    for (len, threshold) in [(4101usize, 5u64 << 30), (11 << 20, 5 << 20)] {
        let (old, new) = (AesKey::new_256([1; 32]), AesKey::new_256([2; 32]));
        let mut store = Store::default();
        let pt = v3_object(&mut store, &old, len);
        let before = store.objects["k"].clone();
        rewrap(&mut store, "k", &old, &new, threshold).unwrap();
        let after = &store.objects["k"];
        assert_eq!(after.body, before.body, "no body byte changed");
        assert_eq!(
            v3_ids(after),
            v3_ids(&before),
            "message id and commitment unchanged"
        );
        assert!(after.meta.contains(&("owner".into(), "carol".into())));
        assert_ne!(after.meta, before.meta);
        let copy = store
            .ops
            .iter()
            .find(|o| matches!(o.0, Operation::CopyObject | Operation::UploadPartCopy))
            .unwrap();
        assert_eq!(
            copy.2.as_deref(),
            Some(before.etag.as_str()),
            "copy-source-if-match"
        );
        // The new key opens it, the old one no longer does.
        let (mut d, mut back) = (PlaintextDigest::new(), Vec::new());
        get(
            &mut store,
            GetIntent::new("b", "k"),
            &new,
            &mut d,
            &mut back,
        )
        .unwrap();
        assert_eq!(back, pt);
        let r = get(
            &mut store,
            GetIntent::new("b", "k"),
            &old,
            &mut PlaintextDigest::new(),
            &mut Vec::new(),
        );
        assert!(r.is_err());
    }
}

#[test]
fn a_copy_that_returns_another_object_or_a_412_is_changed() {
    let (old, new) = (AesKey::new_256([1; 32]), AesKey::new_256([2; 32]));
    let mut store = Store::default();
    v3_object(&mut store, &old, 4101);
    store.hostile.overwrite_before_copy = true;
    assert_eq!(
        rewrap(&mut store, "k", &old, &new, 5 << 30).unwrap_err(),
        Error::ObjectChanged
    );
    let mut store = Store::default();
    v3_object(&mut store, &old, 4101);
    store.hostile.fail_write = true;
    assert_eq!(
        rewrap(&mut store, "k", &old, &new, 5 << 30).unwrap_err(),
        Error::ObjectChanged
    );
    // A multipart copy whose completion fails is aborted.
    let mut store = Store::default();
    v3_object(&mut store, &old, 11 << 20);
    store.hostile.fail_write = true;
    assert_eq!(
        rewrap(&mut store, "k", &old, &new, 5 << 20).unwrap_err(),
        Error::ObjectChanged
    );
    assert!(
        store
            .ops
            .iter()
            .any(|o| o.0 == Operation::AbortMultipartUpload)
    );
    assert!(store.uploads.is_empty());
}

#[test]
fn the_wrong_old_key_cannot_rewrap() {
    let (old, new) = (AesKey::new_256([1; 32]), AesKey::new_256([2; 32]));
    let mut store = Store::default();
    v3_object(&mut store, &old, 100);
    let before = store.objects["k"].clone();
    assert!(rewrap(&mut store, "k", &new, &new, 5 << 30).is_err());
    assert_eq!(store.objects["k"].meta, before.meta);
    assert!(!store.ops.iter().any(|o| o.0 == Operation::CopyObject));
}
