#![cfg(feature = "std")]
//! The migration steps (`object::migrate`) driven sans-IO against a scripted in-memory store:
//! an SDK-written V2 object re-encrypted to V3 and re-wrapped in place, and the hostile answers a
//! migration must not report as success (412 on PutObject and on CompleteMultipartUpload, a copy
//! of another object, a read-back of other bytes or one that fails to authenticate).

use base64ct::{Base64, Encoding};
use s3_encryption::object::migrate::{
    MigrateTarget, NewKey, PlaintextDigest, Plan, Reencrypt, RewrapInPlace, RewrapIntent,
    RewrapNext, SourceFormat,
};
use s3_encryption::object::{GetIntent, Operation, PutIntent};
use s3_encryption::{
    AesKey, AesKeyring, CommitmentPolicy, DecryptPolicy, Error, FormatVersion, KeyRequest,
    Keyring as _, Placement, WrapAlgorithm,
};
use sha2::{Digest, Sha256};

mod carry;
mod cleanup;
mod store;
use store::*;

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

/// The plaintext of `k` under `key`, verified.
fn open(store: &mut Store, key: &AesKey) -> Result<Vec<u8>, Error> {
    let mut pt = Vec::new();
    get(
        store,
        GetIntent::new("b", "k"),
        key,
        &mut PlaintextDigest::new(),
        &mut pt,
    )?;
    Ok(pt)
}

/// Re-encrypt `key` from `old` to `new`: the whole flow, returning the verification's result.
fn reencrypt(store: &mut Store, key: &str, old: &AesKey, new: &AesKey) -> Result<Vec<u8>, Error> {
    reencrypt_with(store, key, &Unwrap::Aes(old), old_policy(), new)
}

/// [`reencrypt`] with any old key, under `policy`.
fn reencrypt_with(
    store: &mut Store,
    key: &str,
    old: &Unwrap<'_>,
    policy: DecryptPolicy,
    new: &AesKey,
) -> Result<Vec<u8>, Error> {
    let source = describe(store, key);
    let mut re = Reencrypt::new(&source, CommitmentPolicy::RequireEncryptRequireDecrypt)?;
    re.set_new_key(NewKey::Local(&[]))?;
    let mut digest = PlaintextDigest::new();
    let mut plaintext = Vec::new();
    let done = get_with(
        store,
        re.read_intent(policy)?,
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
    let written = describe(store, key);
    let env = written.envelope().unwrap();
    re.check_new_envelope(env.materials_description(), env.encryption_context())?;
    let v = re.verified(&vdone, FormatVersion::V3, digest)?;
    assert_eq!(v.plaintext_len, plaintext.len() as u64);
    assert_eq!(v.new_version_id.as_deref(), Some("v2"));
    Ok(back)
}

/// An SDK-written V3 vector (amazon-s3-encryption-client-python 4.0.0, KMS): metadata, body,
/// instruction file, the offline KMS answer, and the plaintext digest.
struct PyV3 {
    meta: Vec<(String, String)>,
    body: Vec<u8>,
    instruction: Option<Vec<u8>>,
    blob: Vec<u8>,
    context: Vec<(String, String)>,
    plaintext_key: Vec<u8>,
    sha: String,
}

fn python_v3(name: &str) -> PyV3 {
    sdk_kms("python", name)
}

/// A KMS-wrapped SDK vector from `test-vectors/DIR` (the same schema for every SDK).
fn sdk_kms(dir: &str, name: &str) -> PyV3 {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("test-vectors")
        .join(dir);
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap();
    let b64 = |s: &serde_json::Value| Base64::decode_vec(s.as_str().unwrap()).unwrap();
    let mut context: Vec<(String, String)> = v["key"]["encryption_context"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    context.sort();
    PyV3 {
        meta: v["object"]["metadata"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.to_lowercase(), v.as_str().unwrap().to_owned()))
            .collect(),
        body: std::fs::read(dir.join(v["object"]["body"].as_str().unwrap())).unwrap(),
        instruction: v["instruction_file"]["body"]
            .as_str()
            .map(|i| std::fs::read(dir.join(i)).unwrap()),
        blob: b64(&v["key"]["ciphertext_blob_b64"]),
        context,
        plaintext_key: b64(&v["key"]["plaintext_b64"]),
        sha: v["expect"]["plaintext_sha256"].as_str().unwrap().to_owned(),
    }
}

#[test]
fn sdk_v3_objects_from_python_reencrypt_to_v3_under_a_new_key() {
    for name in ["v3-kms-4101.json", "v3-kms-4101-instruction-file.json"] {
        let v = python_v3(name);
        let mut store = Store::default();
        store.put("k", v.meta.clone(), v.body.clone());
        if let Some(i) = &v.instruction {
            store.put("k.instruction", vec![], i.clone());
        }
        let s = describe(&mut store, "k");
        assert_eq!(s.form().format, SourceFormat::V3, "{name}");
        assert_eq!(s.form().wrap, Some(WrapAlgorithm::KmsContext), "{name}");
        assert_eq!(s.instruction_file_used(), v.instruction.is_some(), "{name}");
        let old = Unwrap::OfflineKms {
            blob: &v.blob,
            context: v.context.clone(),
            plaintext: &v.plaintext_key,
        };
        let new = AesKey::new_256([5; 32]);
        let back = reencrypt_with(&mut store, "k", &old, DecryptPolicy::new(), &new).unwrap();
        assert_eq!(hex::encode(Sha256::digest(&back)), v.sha, "{name}");
        // The new object needs only the new key: its envelope is in its metadata.
        let o = &store.objects["k"];
        assert!(
            o.meta.iter().any(|(k, v)| k == "x-amz-w" && v == "02"),
            "{name}"
        );
        let again = open(&mut store, &new).unwrap();
        assert_eq!(again, back);
    }
}

#[test]
fn sdk_v3_object_from_python_rewraps_with_its_message_id_and_commitment() {
    let v = python_v3("v3-kms-4101.json");
    let mut store = Store::default();
    store.put("k", v.meta.clone(), v.body.clone());
    let old = Unwrap::OfflineKms {
        blob: &v.blob,
        context: v.context.clone(),
        plaintext: &v.plaintext_key,
    };
    let new = AesKey::new_256([6; 32]);
    let before = store.objects["k"].clone();
    rewrap_with(&mut store, "k", &old, &new, 5 << 30).unwrap();
    let after = store.objects["k"].clone();
    assert_eq!(after.body, before.body);
    assert_eq!(v3_ids(&after), v3_ids(&before));
    assert!(after.meta.iter().any(|(k, v)| k == "x-amz-w" && v == "02"));
    // The Python object now opens with the AES key alone, to the SDK's plaintext.
    let pt = open(&mut store, &new).unwrap();
    assert_eq!(hex::encode(Sha256::digest(&pt)), v.sha);
    // And no longer with the KMS answer that opened it before.
    let r = get_with(
        &mut store,
        GetIntent::new("b", "k"),
        &old,
        &mut PlaintextDigest::new(),
        &mut Vec::new(),
    );
    assert!(r.is_err());
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
fn a_source_overwritten_after_the_head_is_never_read_nor_written() {
    // Honest 412, and a store that ignores If-Match and serves the newer object: both stop the
    // read (the answer's ETag is not the pinned one) before anything is written.
    for ignore in [false, true] {
        let (meta, body, old, _) = sdk_v2();
        let mut store = Store::default();
        store.put("k", meta.clone(), body.clone());
        let source = describe(&mut store, "k");
        store.put("k", meta, body); // another writer: same bytes, a new ETag and version
        store.hostile.ignore_read_if_match = ignore;
        let re = Reencrypt::new(&source, CommitmentPolicy::RequireEncryptRequireDecrypt).unwrap();
        let intent = re.read_intent(old_policy()).unwrap();
        let r = get(
            &mut store,
            intent,
            &old,
            &mut PlaintextDigest::new(),
            &mut Vec::new(),
        );
        assert_eq!(r.unwrap_err(), Error::ObjectChanged, "ignore={ignore}");
        assert_eq!(store.writes, 0);
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
    re.set_new_key(NewKey::Local(&[])).unwrap();
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
    re.check_new_envelope(Some("{}"), None).unwrap();
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
    rewrap_with(store, key, &Unwrap::Aes(old), new, copy_threshold)
}

/// [`rewrap`] with any old key.
fn rewrap_with(
    store: &mut Store,
    key: &str,
    old: &Unwrap<'_>,
    new: &AesKey,
    copy_threshold: u64,
) -> Result<(), Error> {
    rewrap_described(
        store,
        key,
        old,
        new,
        copy_threshold,
        None,
        DecryptPolicy::new(),
    )
}

/// [`rewrap_with`], the new AES key's materials made with `wrap_with` (default: the description
/// the machine asks for).
fn rewrap_described(
    store: &mut Store,
    key: &str,
    old: &Unwrap<'_>,
    new: &AesKey,
    copy_threshold: u64,
    wrap_with: Option<&[(&str, &str)]>,
    policy: DecryptPolicy,
) -> Result<(), Error> {
    let source = describe(store, key);
    let mut intent = RewrapIntent::new(policy);
    intent.copy_threshold = copy_threshold;
    intent.copy_part_size = 5 << 20;
    let mut rw = RewrapInPlace::new(&source, intent)?;
    rw.set_new_key(NewKey::Local(&[]))?;
    loop {
        match rw.poll()? {
            RewrapNext::UnwrapKey => {
                let dk = match old {
                    Unwrap::Aes(k) => {
                        assert!(matches!(rw.key_request()?, KeyRequest::Aes { .. }));
                        rw.old_envelope().unwrap_aes(k)?
                    }
                    kms => kms.answer(rw.key_request()?)?,
                };
                rw.data_key(dk)?;
            }
            RewrapNext::WrapKey => {
                let dk = rw.data_key_to_wrap()?.clone();
                let d: Vec<(&str, &str)> = match wrap_with {
                    Some(w) => w.to_vec(),
                    None => rw.new_description().unwrap().to_vec(),
                };
                let m = AesKeyring::new(new.clone()).wrap_data_key(&rw.new_config()?, dk, &d)?;
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
        let back = open(&mut store, &new).unwrap();
        assert_eq!(back, pt);
        assert!(open(&mut store, &old).is_err());
    }
}

#[test]
fn a_copy_that_returns_another_object_or_a_412_is_changed() {
    let (old, new) = (AesKey::new_256([1; 32]), AesKey::new_256([2; 32]));
    // (object size, copy threshold, what the store does): another writer's object copied by a
    // store that ignores the conditions; a 412 on the copy; a 412 on a multipart completion.
    let cases = [
        (
            4101,
            5 << 30,
            Hostile {
                overwrite_before_copy: true,
                ..Hostile::default()
            },
        ),
        (
            4101,
            5 << 30,
            Hostile {
                fail_write: true,
                ..Hostile::default()
            },
        ),
        (
            11 << 20,
            5 << 20,
            Hostile {
                fail_write: true,
                ..Hostile::default()
            },
        ),
    ];
    let mut store = Store::default();
    for (len, threshold, hostile) in cases {
        store = Store::default();
        v3_object(&mut store, &old, len);
        store.hostile = hostile;
        let e = rewrap(&mut store, "k", &old, &new, threshold).unwrap_err();
        assert_eq!(e, Error::ObjectChanged, "{len}");
    }
    // The multipart copy whose completion failed was aborted.
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
