//! The opt-in removal of a superseded instruction file after a verified re-encryption: removed
//! only while it is the file that was read (its ETag), re-checked before the DELETE for stores
//! that ignore `If-Match` on it.

use super::*;
use s3_encryption::object::migrate::{ReencryptDone, RemoveInstructionFile, RemoveNext, Source};

/// Re-encrypt the described `source` (the Python V3 KMS object) to V3 under `new`.
fn reencrypt_source(store: &mut Store, source: &Source, v: &PyV3, new: &AesKey) -> ReencryptDone {
    let old = Unwrap::OfflineKms {
        blob: &v.blob,
        context: v.context.clone(),
        plaintext: &v.plaintext_key,
    };
    let mut re = Reencrypt::new(source, CommitmentPolicy::RequireEncryptRequireDecrypt).unwrap();
    re.set_new_key(NewKey::Local(&[])).unwrap();
    let (mut d, mut pt) = (PlaintextDigest::new(), Vec::new());
    let done = get_with(
        store,
        re.read_intent(DecryptPolicy::new()).unwrap(),
        &old,
        &mut d,
        &mut pt,
    )
    .unwrap();
    re.read_done(&done, d).unwrap();
    let (n, etag, ver) = put(store, re.write_intent().unwrap(), new, &pt).unwrap();
    re.written(n, etag.as_deref(), ver.as_deref()).unwrap();
    let (mut d, mut back) = (PlaintextDigest::new(), Vec::new());
    let vdone = get(store, re.verify_intent().unwrap(), new, &mut d, &mut back).unwrap();
    let written = describe(store, "k");
    let env = written.envelope().unwrap();
    re.check_new_envelope(env.materials_description(), env.encryption_context())
        .unwrap();
    re.verified(&vdone, FormatVersion::V3, d).unwrap()
}

/// Drive the removal; whether it removed the file.
fn remove(store: &mut Store, source: &Source, done: &ReencryptDone) -> Result<bool, Error> {
    let mut r = RemoveInstructionFile::new(source, done)?;
    loop {
        match r.poll()? {
            RemoveNext::Send(id) => {
                let a = store.serve(&r.request(id)?, &[]);
                let _ = r.response(id, a.status, pairs(&a.headers));
            }
            RemoveNext::Done(removed) => return Ok(removed),
        }
    }
}

fn with_instruction_file(v: &PyV3) -> Store {
    let mut store = Store::default();
    store.put("k", v.meta.clone(), v.body.clone());
    store.put("k.instruction", vec![], v.instruction.clone().unwrap());
    store
}

#[test]
fn a_superseded_instruction_file_is_removed_only_while_unchanged() {
    let v = python_v3("v3-kms-4101-instruction-file.json");
    let new = AesKey::new_256([4; 32]);

    // Unchanged: removed, the DELETE conditional on the ETag the description read.
    let mut store = with_instruction_file(&v);
    let ifile_etag = store.objects["k.instruction"].etag.clone();
    let source = describe(&mut store, "k");
    assert_eq!(source.instruction_file_etag(), Some(ifile_etag.as_str()));
    let done = reencrypt_source(&mut store, &source, &v, &new);
    assert!(done.instruction_file_left);
    assert_eq!(remove(&mut store, &source, &done), Ok(true));
    assert!(!store.objects.contains_key("k.instruction"));
    let del = store
        .ops
        .iter()
        .find(|o| o.0 == Operation::DeleteObject)
        .unwrap();
    assert_eq!(del.1.as_deref(), Some(ifile_etag.as_str()));
    // The new object still opens, with its envelope in its metadata.
    assert_eq!(
        hex::encode(Sha256::digest(open(&mut store, &new).unwrap())),
        v.sha
    );
    // Gone already: nothing to do, not an error.
    assert_eq!(remove(&mut store, &source, &done), Ok(false));

    // Replaced by another writer after it was read, on a store that ignores If-Match on DELETE
    // and on HEAD: the re-check sees another ETag and leaves it.
    let mut store = with_instruction_file(&v);
    let source = describe(&mut store, "k");
    let done = reencrypt_source(&mut store, &source, &v, &new);
    store.put("k.instruction", vec![], b"{\"other\":\"writer\"}".to_vec());
    store.hostile.ignore_delete_if_match = true;
    store.hostile.ignore_read_if_match = true;
    assert_eq!(
        remove(&mut store, &source, &done),
        Err(Error::ObjectChanged)
    );
    assert_eq!(
        store.objects["k.instruction"].body,
        b"{\"other\":\"writer\"}"
    );
    assert!(!store.ops.iter().any(|o| o.0 == Operation::DeleteObject));

    // A metadata-placement source has nothing to remove.
    let mut store = Store::default();
    let (meta, body, _, _) = sdk_v2();
    store.put("k", meta, body);
    let source = describe(&mut store, "k");
    assert!(source.instruction_file_etag().is_none());
    assert!(matches!(
        RemoveInstructionFile::new(&source, &done).unwrap_err(),
        Error::ApiMisuse(_)
    ));
}
