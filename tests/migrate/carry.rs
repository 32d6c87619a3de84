//! What a re-encryption carries from the source envelope: the materials description of an
//! SDK-written AES object (Ruby, `x-amz-matdesc` → V3 `x-amz-m`) and the KMS encryption context of
//! an SDK-written KMS object (Go, → V3 `x-amz-t`), or the new key's own when one is given.

use super::*;
use s3_encryption::object::migrate::ReencryptDone;
use std::collections::BTreeMap;

/// The Ruby V2 vector with the custom materials description `{"purpose":"s3ec-vectors",
/// "owner":"ruby-v2"}` (AES/GCM wrap, metadata): its metadata, body and key.
fn ruby_matdesc() -> (Vec<(String, String)>, Vec<u8>, AesKey) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("test-vectors/ruby");
    let v: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("v2-aes-matdesc-meta-0004101.json")).unwrap(),
    )
    .unwrap();
    let meta = v["object"]["metadata"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.to_lowercase(), v.as_str().unwrap().to_owned()))
        .collect();
    let body = std::fs::read(dir.join(v["object"]["body"].as_str().unwrap())).unwrap();
    let key =
        AesKey::from_slice(&Base64::decode_vec(v["key"]["key_b64"].as_str().unwrap()).unwrap())
            .unwrap();
    (meta, body, key)
}

/// A stored JSON map, as a map.
fn json_map(o: &Obj, name: &str) -> Option<BTreeMap<String, String>> {
    let (_, v) = o.meta.iter().find(|(k, _)| k == name)?;
    Some(serde_json::from_str(v).unwrap())
}

fn map(p: &[(&str, &str)]) -> BTreeMap<String, String> {
    p.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The whole re-encryption of `k`: read under `old`, written under `new` named as `new_key`,
/// read back under `check`, the envelope checked.
fn migrate(
    store: &mut Store,
    old: &Unwrap<'_>,
    new: &Wrap<'_>,
    new_key: NewKey<'_>,
    check: &Unwrap<'_>,
) -> Result<ReencryptDone, Error> {
    let source = describe(store, "k");
    let mut re = Reencrypt::new(&source, CommitmentPolicy::RequireEncryptRequireDecrypt)?;
    re.set_new_key(new_key)?;
    let (mut d, mut pt) = (PlaintextDigest::new(), Vec::new());
    let done = get_with(store, re.read_intent(old_policy())?, old, &mut d, &mut pt)?;
    re.read_done(&done, d)?;
    let (n, etag, ver) = put_with(store, re.write_intent()?, new, &pt)?;
    re.written(n, etag.as_deref(), ver.as_deref())?;
    let (mut d, mut back) = (PlaintextDigest::new(), Vec::new());
    let vdone = get_with(store, re.verify_intent()?, check, &mut d, &mut back)?;
    assert_eq!(back, pt);
    let written = describe(store, "k");
    let env = written.envelope().unwrap();
    re.check_new_envelope(env.materials_description(), env.encryption_context())?;
    re.verified(&vdone, FormatVersion::V3, d)
}

#[test]
fn an_sdk_written_materials_description_is_carried_to_v3_x_amz_m() {
    let (meta, body, old) = ruby_matdesc();
    let label = map(&[("purpose", "s3ec-vectors"), ("owner", "ruby-v2")]);
    let new = AesKey::new_256([8; 32]);
    let mut store = Store::default();
    store.put("k", meta.clone(), body.clone());
    let s = describe(&mut store, "k");
    let carried: BTreeMap<String, String> = s.materials_description().iter().cloned().collect();
    assert_eq!(carried, label);
    assert!(s.encryption_context().is_empty());
    let done = migrate(
        &mut store,
        &Unwrap::Aes(&old),
        &Wrap::Aes(&new),
        NewKey::Local(&[]),
        &Unwrap::Aes(&new),
    )
    .unwrap();
    assert!(!done.description_not_carried);
    let o = &store.objects["k"];
    assert_eq!(json_map(o, "x-amz-m"), Some(label.clone()));
    assert!(json_map(o, "x-amz-matdesc").is_none());
    assert!(o.meta.iter().any(|(k, v)| k == "x-amz-w" && v == "02"));

    // The new key's own description, when given, replaces it.
    let mut store = Store::default();
    store.put("k", meta.clone(), body.clone());
    migrate(
        &mut store,
        &Unwrap::Aes(&old),
        &Wrap::Aes(&new),
        NewKey::Local(&[("purpose", "rotated")]),
        &Unwrap::Aes(&new),
    )
    .unwrap();
    assert_eq!(
        json_map(&store.objects["k"], "x-amz-m"),
        Some(map(&[("purpose", "rotated")]))
    );

    // A written envelope without the description is not a verified migration.
    let mut store = Store::default();
    store.put("k", meta, body);
    let source = describe(&mut store, "k");
    let mut re = Reencrypt::new(&source, CommitmentPolicy::RequireEncryptRequireDecrypt).unwrap();
    assert!(matches!(
        re.write_intent().unwrap_err(),
        Error::ApiMisuse(_)
    ));
    re.set_new_key(NewKey::Local(&[])).unwrap();
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
    let mut wi = re.write_intent().unwrap();
    wi.encryption_context = &[]; // a driver that drops it
    let (n, etag, ver) = put(&mut store, wi, &new, &pt).unwrap();
    re.written(n, etag.as_deref(), ver.as_deref()).unwrap();
    let (mut d, mut back) = (PlaintextDigest::new(), Vec::new());
    let vdone = get(
        &mut store,
        re.verify_intent().unwrap(),
        &new,
        &mut d,
        &mut back,
    )
    .unwrap();
    assert!(
        matches!(
            re.verified(&vdone, FormatVersion::V3, d).unwrap_err(),
            Error::ApiMisuse(_)
        ),
        "verified before the envelope was checked"
    );
    let written = describe(&mut store, "k");
    let env = written.envelope().unwrap();
    assert_eq!(
        re.check_new_envelope(env.materials_description(), env.encryption_context())
            .unwrap_err(),
        Error::ReadBackMismatch
    );
}

#[test]
fn an_sdk_written_kms_encryption_context_is_carried_to_v3_x_amz_t() {
    let v = sdk_kms("go", "v2-kmsctx-ec-meta-0004101.json");
    let old = Unwrap::OfflineKms {
        blob: &v.blob,
        context: v.context.clone(),
        plaintext: &v.plaintext_key,
    };
    let user = map(&[("department", "vectors"), ("purpose", "s3ec-test")]);
    let mut store = Store::default();
    store.put("k", v.meta.clone(), v.body.clone());
    let s = describe(&mut store, "k");
    let carried: BTreeMap<String, String> = s.encryption_context().iter().cloned().collect();
    assert_eq!(
        carried, user,
        "the reserved aws:x-amz-cek-alg is not the caller's"
    );
    assert!(s.materials_description().is_empty());

    // KMS to KMS: the new object's x-amz-t holds the same caller context, bound to suite 115,
    // so readers that pass it still open the object.
    let (new_dk, new_blob) = ([9u8; 32], b"offline-kms-new-blob".to_vec());
    let mut want = user.clone();
    want.insert("aws:x-amz-cek-alg".into(), "115".into());
    let check = Unwrap::OfflineKms {
        blob: &new_blob,
        context: want.clone().into_iter().collect(),
        plaintext: &new_dk,
    };
    let done = migrate(
        &mut store,
        &old,
        &Wrap::OfflineKms {
            plaintext: &new_dk,
            blob: &new_blob,
        },
        NewKey::Kms(&[]),
        &check,
    )
    .unwrap();
    assert!(!done.description_not_carried);
    let o = &store.objects["k"];
    assert_eq!(json_map(o, "x-amz-t"), Some(want));
    assert!(json_map(o, "x-amz-m").is_none());
    assert!(o.meta.iter().any(|(k, v)| k == "x-amz-w" && v == "12"));

    // KMS to AES: a KMS context is no materials description; it is reported, not invented.
    let new = AesKey::new_256([3; 32]);
    let mut store = Store::default();
    store.put("k", v.meta.clone(), v.body.clone());
    let done = migrate(
        &mut store,
        &old,
        &Wrap::Aes(&new),
        NewKey::Local(&[]),
        &Unwrap::Aes(&new),
    )
    .unwrap();
    assert!(done.description_not_carried);
    assert!(json_map(&store.objects["k"], "x-amz-t").is_none());
}

#[test]
fn a_rewrap_keeps_the_sdk_written_materials_description() {
    let (meta, body, old) = ruby_matdesc();
    let label = map(&[("purpose", "s3ec-vectors"), ("owner", "ruby-v2")]);
    let new = AesKey::new_256([8; 32]);
    let mut store = Store::default();
    store.put("k", meta.clone(), body.clone());
    let (u, p) = (Unwrap::Aes(&old), old_policy());
    rewrap_described(&mut store, "k", &u, &new, 5 << 30, None, p).unwrap();
    let o = &store.objects["k"];
    assert_eq!(json_map(o, "x-amz-matdesc"), Some(label));
    assert_eq!(o.body, body);
    let mut read = GetIntent::new("b", "k");
    read.policy = old_policy();
    let (mut d, mut pt) = (PlaintextDigest::new(), Vec::new());
    get(&mut store, read, &new, &mut d, &mut pt).unwrap();
    assert_eq!(pt.len(), 4101);
    // Materials made without it are refused before anything is copied.
    let mut store = Store::default();
    store.put("k", meta, body);
    let before = store.objects["k"].clone();
    assert_eq!(
        rewrap_described(&mut store, "k", &u, &new, 5 << 30, Some(&[]), p),
        Err(Error::InvalidConfig)
    );
    assert_eq!(store.objects["k"].meta, before.meta);
    assert_eq!(store.writes, 0);
}
