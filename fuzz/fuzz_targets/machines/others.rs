//! DescribeObject, DeleteObject and RotateInstructionFile against the scripted store.

use super::*;
use s3_encryption::object::{
    DeleteNext, DeleteObject, DescribeNext, DescribeObject, RequestId, RotateInstructionFile,
    RotateIntent, RotateNext,
};
use s3_encryption::{AesKey, EncryptionMaterials, Envelope};

const KEY: &str = "dir/object";
const SUFFIX: &str = ".instruction";

/// Feed the body of a GET answer in pieces (endless ones until 64 KiB, past every cap).
fn answer(
    u: &mut Unstructured<'_>,
    a: &mut Answer,
    mut body: impl FnMut(&[u8]) -> Result<(), Error>,
) -> Result<(), Error> {
    let piece = [4096usize, 1, 13, 1000][u.choose_index(4).unwrap_or(0)];
    if a.endless {
        // Far past any cap: the machine must refuse it or keep only what its cap allows.
        let junk = vec![b'A'; piece.max(1000)];
        let mut sent = 0;
        while sent < 64 << 10 {
            body(&junk)?;
            sent += junk.len();
        }
    } else {
        for c in a.body.chunks(piece) {
            body(c)?;
        }
    }
    Ok(())
}

/// Was the answer changed at all? (Faithful runs must succeed.)
fn answer_for(
    u: &mut Unstructured<'_>,
    r: &s3_encryption::object::Request<'_>,
    f: &Fixture,
) -> (Answer, bool) {
    let a0 = honest(r, f);
    let mut a = a0.clone();
    mutate(u, &mut a);
    let changed =
        a.status != a0.status || a.headers != a0.headers || a.body != a0.body || a.endless;
    (a, changed)
}

pub fn describe(u: &mut Unstructured<'_>, f: &Fixture) {
    let version = u.arbitrary::<bool>().unwrap_or(false).then_some(VERSION);
    let mut faithful = true;
    let r = (|| -> Result<(), Error> {
        let mut m = DescribeObject::new("bucket", KEY, version, SUFFIX)?;
        for _ in 0..10 {
            match m.poll()? {
                DescribeNext::Send(id) => {
                    let r = m.request(id)?;
                    let get = r.operation == Operation::GetObject;
                    let (mut a, changed) = answer_for(u, &r, f);
                    faithful &= !changed;
                    if get {
                        answer(u, &mut a, |c| m.body(id, c))?;
                    }
                    m.response(id, a.status, a.pairs())?;
                }
                DescribeNext::Done => {
                    let env = m.envelope().expect("Done without an envelope");
                    if faithful {
                        let want = Envelope::parse(
                            f.meta.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                            f.instruction.as_deref(),
                            &open_policy(),
                        )
                        .expect("fixture parses");
                        let pairs = |e: &Envelope| -> Vec<(String, String)> {
                            e.metadata()
                                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                                .collect()
                        };
                        assert!(
                            pairs(env) == pairs(&want) && env.placement() == want.placement(),
                            "a faithful store described another envelope"
                        );
                        assert_eq!(
                            m.object().map(|o| o.stored_len()),
                            Some(f.body.len() as u64)
                        );
                    }
                    return Ok(());
                }
            }
        }
        panic!("DescribeObject did not finish");
    })();
    if let Err(e) = r {
        check_error(&e, "DescribeObject");
        assert!(!faithful, "a faithful store failed DescribeObject: {e:?}");
    }
}

pub fn delete(u: &mut Unstructured<'_>, f: &Fixture) {
    let mut faithful = true;
    let mut deleted: Vec<String> = Vec::new();
    let r = (|| -> Result<(), Error> {
        let mut m = DeleteObject::new("bucket", KEY, SUFFIX)?;
        for _ in 0..10 {
            match m.poll()? {
                DeleteNext::Send(id) => {
                    let r = m.request(id)?;
                    let get = r.operation == Operation::GetObject;
                    let (mut a, changed) = if r.operation == Operation::DeleteObject {
                        deleted.push(r.full_key().to_string());
                        let mut a = Answer {
                            status: 204,
                            ..Answer::default()
                        };
                        let a0 = a.clone();
                        mutate(u, &mut a);
                        let changed = a.status != a0.status || !a.headers.is_empty();
                        (a, changed)
                    } else {
                        answer_for(u, &r, f)
                    };
                    faithful &= !changed;
                    if get {
                        answer(u, &mut a, |c| m.body(id, c))?;
                    }
                    m.response(id, a.status, a.pairs())?;
                }
                DeleteNext::Done(d) => {
                    if faithful {
                        assert!(d.object);
                        assert_eq!(d.instruction_file, f.instruction.is_some());
                        let mut want = vec![KEY.to_owned()];
                        if f.instruction.is_some() {
                            want.push(format!("{KEY}{SUFFIX}"));
                        }
                        assert_eq!(deleted, want);
                    }
                    return Ok(());
                }
            }
        }
        panic!("DeleteObject did not finish");
    })();
    if let Err(e) = r {
        check_error(&e, "DeleteObject");
        assert!(!faithful, "a faithful store failed DeleteObject: {e:?}");
    }
}

fn new_master() -> AesKey {
    AesKey::new_256([0x77; 32])
}

pub fn rotate(u: &mut Unstructured<'_>, f: &Fixture) {
    let mut intent = RotateIntent::new("bucket", KEY);
    intent.policy = open_policy();
    intent.enforce_rotation = u.arbitrary().unwrap_or(false);
    if u.arbitrary().unwrap_or(false) {
        intent.encryption_context = None;
    }
    let mut faithful = true;
    let mut written: Option<Vec<u8>> = None;
    let r = (|| -> Result<(), Error> {
        let mut m = RotateInstructionFile::new(intent)?;
        for _ in 0..20 {
            match m.poll()? {
                RotateNext::Send(id) => send(u, f, &mut m, id, &mut faithful, &mut written)?,
                RotateNext::UnwrapKey => {
                    let dk = m.envelope_to_unwrap()?.unwrap_aes(&master())?;
                    m.data_key(dk)?;
                }
                RotateNext::WrapKey => {
                    let dk = m.data_key_to_wrap()?.clone();
                    let md = [("fuzz", "fixture")];
                    let mat = EncryptionMaterials::aes_gcm_deterministic(
                        &m.new_config()?,
                        &new_master(),
                        dk,
                        &[9; 12],
                        &md,
                    )?;
                    m.new_materials(mat)?;
                }
                RotateNext::CheckNewKey => {
                    let dk = m.envelope_to_unwrap()?.unwrap_aes(&new_master())?;
                    m.data_key(dk)?;
                }
                RotateNext::CheckOldKey => {
                    let opens = m
                        .new_envelope()
                        .is_some_and(|e| e.unwrap_aes(&master()).is_ok());
                    m.old_key_opens(opens)?;
                }
                RotateNext::Done(_) => {
                    let ifile = written.as_deref().expect("Done without writing");
                    let env = Envelope::parse(
                        f.meta.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                        Some(ifile),
                        &open_policy(),
                    )
                    .expect("the rotated instruction file parses");
                    let dk = env
                        .unwrap_aes(&new_master())
                        .expect("the rotated file opens under the new key");
                    assert!(
                        dk == s3_encryption::DataKey::new_256(DATA_KEY),
                        "the rotated file holds another data key"
                    );
                    return Ok(());
                }
            }
        }
        panic!("RotateInstructionFile did not finish");
    })();
    if let Err(e) = r {
        check_error(&e, "RotateInstructionFile");
        // Only an instruction-file object can be rotated.
        assert!(
            !faithful || f.instruction.is_none(),
            "a faithful store failed the rotation: {e:?}"
        );
    }
}

fn send(
    u: &mut Unstructured<'_>,
    f: &Fixture,
    m: &mut RotateInstructionFile<'_>,
    id: RequestId,
    faithful: &mut bool,
    written: &mut Option<Vec<u8>>,
) -> Result<(), Error> {
    let r = m.request(id)?;
    if r.operation == Operation::PutObject {
        if let s3_encryption::object::RequestBody::Bytes(b) = r.body {
            *written = Some(b.to_vec());
        }
        let mut a = Answer {
            status: 200,
            headers: vec![("ETag".into(), "\"new\"".into())],
            ..Answer::default()
        };
        let a0 = a.clone();
        mutate(u, &mut a);
        *faithful &= a.status == a0.status && a.headers == a0.headers;
        return m.response(id, a.status, a.pairs());
    }
    let get = r.operation == Operation::GetObject;
    let (mut a, changed) = answer_for(u, &r, f);
    *faithful &= !changed;
    if get {
        answer(u, &mut a, |c| m.body(id, c))?;
    }
    m.response(id, a.status, a.pairs())
}
