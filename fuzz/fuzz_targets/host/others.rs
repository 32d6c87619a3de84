//! `Rotate`, `Describe`, `Delete` and the envelope functions (`Env`) of the glue, driven by a
//! host that follows their requests or does anything else.

use super::*;
use crate::host::put::aes_gcm_wrap;
use crate::machines::Fixture;
use fuzz_support::{DATA_KEY, master, open_policy, rsa_key};
use s3_encryption::{AesKey, DataKey, Envelope};
use s3_encryption_glue::{Delete, Describe, Env, Rotate, aes_key, data_key};

const KEY: &str = "dir/object";

/// What the new envelope of a rotation is wrapped with.
#[derive(PartialEq)]
enum NewKey {
    /// The new AES master key (by the core, or by a JavaScript keyring).
    Aes,
    /// A KMS key: this blob.
    Kms(Vec<u8>),
    /// Whatever a keyring answered.
    Junk,
}

fn new_master() -> AesKey {
    AesKey::new_256([0x77; 32])
}

/// The calls the small machines share.
trait Small {
    fn poll(&mut self) -> R<Val>;
    fn request(&self, id: u32) -> R<Val>;
    fn response(&mut self, id: u32, status: u16, headers: &[String]) -> R<()>;
    fn body(&mut self, id: u32, piece: &[u8]) -> R<()>;
}

macro_rules! small {
    ($t:ty) => {
        impl Small for $t {
            fn poll(&mut self) -> R<Val> {
                <$t>::poll(self)
            }
            fn request(&self, id: u32) -> R<Val> {
                <$t>::request(self, id)
            }
            fn response(&mut self, id: u32, status: u16, headers: &[String]) -> R<()> {
                <$t>::response(self, id, status, headers)
            }
            fn body(&mut self, id: u32, piece: &[u8]) -> R<()> {
                <$t>::body(self, id, piece)
            }
        }
    };
}
small!(Describe);
small!(Delete);
small!(Rotate);

/// Poll, checked: `Some(next)` or `None` when it failed.
fn poll(host: &mut Host, m: &mut impl Small, what: &str) -> Option<Val> {
    let r = m.poll();
    let (ok, done) = (r.is_ok(), r.as_ref().is_ok_and(|v| kind(v) == "done"));
    host.after_poll(what, ok, done, true);
    host.call(what, true, r)
}

/// Answer request `id` from the store: a PUT or DELETE with success, a HEAD or GET with the
/// fixture; records what a PUT wrote and what a DELETE removed.
fn send(
    u: &mut Unstructured<'_>,
    host: &mut Host,
    m: &mut impl Small,
    id: u32,
    f: &Fixture,
    log: &mut Vec<(String, String, Vec<u8>)>,
) {
    let Some(r) = host.call("request", false, m.request(id)) else {
        return;
    };
    let op = text(&r, "operation").unwrap_or_default();
    let mut a = match op.as_str() {
        "PutObject" | "DeleteObject" => {
            let b = field(&r, "body");
            let key = text(&r, "key").unwrap_or_default();
            log.push((op.clone(), key, bytes(&b, "bytes")));
            let mut a = Answer {
                status: if op == "PutObject" { 200 } else { 204 },
                ..Answer::default()
            };
            if op == "PutObject" {
                a.headers.push(("ETag".into(), "\"new\"".into()));
            }
            let a0 = a.clone();
            mutate(u, &mut a);
            if a.status != a0.status || a.headers != a0.headers {
                host.tampered = true;
            }
            a
        }
        _ => answer(u, host, &r, f),
    };
    if op == "GetObject" {
        if a.endless {
            a.body = vec![b'A'; 64 << 10];
        }
        for p in pieces(u, &a) {
            if host.call("body", true, m.body(id, &p)).is_none() {
                return;
            }
        }
    }
    host.call("response", true, m.response(id, a.status, &headers(&a)));
}

/// A call the machine did not ask for, with any arguments.
fn deviate(u: &mut Unstructured<'_>, host: &mut Host, m: &mut impl Small) {
    host.deviated = true;
    let id = any_id(u);
    match u.int_in_range(0u8..=3).unwrap_or(0) {
        0 => {
            poll(host, m, "poll");
        }
        1 => {
            host.call("request", false, m.request(id));
        }
        2 => {
            let (s, h) = (any_status(u), any_flat(u));
            host.call("response", true, m.response(id, s, &h));
        }
        _ => {
            let b = any_bytes(u, 3000);
            host.call("body", true, m.body(id, &b));
        }
    }
}

fn names(u: &mut Unstructured<'_>, host: &mut Host) -> (String, String, Option<String>) {
    if !one_in(u, 4) {
        return ("bucket".into(), KEY.into(), None);
    }
    host.odd_options = true;
    let b = string(u, 20).unwrap_or_default();
    let k = string(u, 40).unwrap_or_default();
    let s = u
        .arbitrary::<bool>()
        .unwrap_or(false)
        .then(|| string(u, 20).unwrap_or_default());
    (b, k, s)
}

fn fixture_envelope(f: &Fixture) -> Envelope {
    Envelope::parse(
        f.meta.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        f.instruction.as_deref(),
        &open_policy(),
    )
    .expect("the fixture parses")
}

pub fn describe(u: &mut Unstructured<'_>, f: &Fixture) {
    let mut host = Host::default();
    let (b, k, s) = names(u, &mut host);
    let version = one_in(u, 4).then(|| crate::machines::VERSION.to_owned());
    let Some(mut m) = host.call("Describe::new", false, Describe::new(&b, &k, version, s)) else {
        assert!(host.odd_options, "Describe::new refused the faithful names");
        return;
    };
    let mut log = Vec::new();
    let mut done = false;
    while !host.exhausted() && !done {
        if one_in(u, 6) {
            deviate(u, &mut host, &mut m);
            continue;
        }
        let Some(next) = poll(&mut host, &mut m, "Describe::poll") else {
            break;
        };
        match kind(&next).as_str() {
            "send" => {
                let id = num(&next, "id").unwrap_or(0.0) as u32;
                send(u, &mut host, &mut m, id, f, &mut log);
            }
            "done" => done = true,
            other => panic!("Describe::poll answered {other:?}"),
        }
    }
    if host.faithful() {
        assert!(done, "a faithful Describe did not finish");
        let want = fixture_envelope(f);
        let info = m.envelope();
        assert_eq!(
            text(&info, "contentCipher").as_deref(),
            Some(want.content_cipher_id())
        );
        assert_eq!(m.plaintext_length(), Some(f.plaintext.len() as f64));
        assert_eq!(m.instruction_file_used(), f.instruction.is_some());
    }
    let _ = m.object();
}

pub fn delete(u: &mut Unstructured<'_>, f: &Fixture) {
    let mut host = Host::default();
    let (b, k, s) = names(u, &mut host);
    let Some(mut m) = host.call("Delete::new", false, Delete::new(&b, &k, s)) else {
        assert!(host.odd_options, "Delete::new refused the faithful names");
        return;
    };
    let mut log = Vec::new();
    let mut done = None;
    while !host.exhausted() && done.is_none() {
        if one_in(u, 6) {
            deviate(u, &mut host, &mut m);
            continue;
        }
        let Some(next) = poll(&mut host, &mut m, "Delete::poll") else {
            break;
        };
        match kind(&next).as_str() {
            "send" => {
                let id = num(&next, "id").unwrap_or(0.0) as u32;
                send(u, &mut host, &mut m, id, f, &mut log);
            }
            "done" => done = Some(next),
            other => panic!("Delete::poll answered {other:?}"),
        }
    }
    if host.faithful() {
        let d = done.expect("a faithful Delete did not finish");
        assert!(flag(&d, "object"));
        assert_eq!(flag(&d, "instructionFile"), f.instruction.is_some());
        let deleted: Vec<&str> = log.iter().map(|(_, k, _)| k.as_str()).collect();
        let mut want = vec![KEY.to_owned()];
        if f.instruction.is_some() {
            want.push(format!("{KEY}.instruction"));
        }
        assert_eq!(deleted, want);
    }
}

fn rotate_options() -> Val {
    Val::obj()
        .with("bucket", "bucket")
        .with("key", KEY)
        .with("commitmentPolicy", "REQUIRE_ENCRYPT_ALLOW_DECRYPT")
        .with(
            "encryptionContext",
            Val::List(vec!["fuzz".into(), "fixture".into()]),
        )
}

pub fn rotate(u: &mut Unstructured<'_>, f: &Fixture) {
    let mut host = Host::default();
    let o = options(u, &mut host, rotate_options());
    let Some(mut m) = host.call("Rotate::new", false, Rotate::new(&o)) else {
        assert!(host.odd_options, "the faithful options were refused");
        return;
    };
    let mut log = Vec::new();
    let mut done = false;
    // Whether the new envelope is wrapped under `new_master` (else a keyring's anything).
    let mut new_key = NewKey::Aes;
    while !host.exhausted() && !done {
        if one_in(u, 6) {
            rotate_deviate(u, &mut host, &mut m);
            continue;
        }
        let Some(next) = poll(&mut host, &mut m, "Rotate::poll") else {
            break;
        };
        match kind(&next).as_str() {
            "send" => {
                let id = num(&next, "id").unwrap_or(0.0) as u32;
                send(u, &mut host, &mut m, id, f, &mut log);
            }
            "unwrapKey" => match u.int_in_range(0u8..=2).unwrap_or(0) {
                0 => {
                    // Not sticky: the glue unwraps before it calls the machine.
                    host.call("Rotate::unwrap_aes", false, m.unwrap_aes(&master()));
                }
                1 => {
                    let r = m.external_unwrap_request();
                    host.call("Rotate::external_unwrap_request", false, r);
                    let dk = data_key(&DATA_KEY).expect("a data key");
                    host.call("Rotate::data_key", true, m.data_key(&dk));
                }
                _ => {
                    host.tampered = true;
                    let b = any_bytes(u, 40);
                    if let Some(dk) = host.call("data_key", false, data_key(&b)) {
                        host.call("Rotate::data_key", true, m.data_key(&dk));
                    }
                }
            },
            "wrapKey" => {
                let md = vec!["fuzz".to_owned(), "rotated".to_owned()];
                match u.int_in_range(0u8..=3).unwrap_or(0) {
                    0 => {
                        host.call("Rotate::wrap_aes", false, m.wrap_aes(&new_master(), md));
                    }
                    3 => {
                        // KMS `Encrypt` of the data key (under a context with a reserved
                        // key, a wrong argument): any blob comes back.
                        let reserved = u.arbitrary().unwrap_or(false);
                        let ctx = if reserved {
                            host.tampered = true;
                            vec!["aws:x-amz-cek-alg".to_owned(), "x".to_owned()]
                        } else {
                            md
                        };
                        let r = m.kms_wrap_request(ctx);
                        let Some(req) = host.call("Rotate::kms_wrap_request", false, r) else {
                            continue;
                        };
                        assert!(bytes(&req, "plaintext") == DATA_KEY, "KMS gets another key");
                        let mut blob = b"kms-blob:".to_vec();
                        blob.extend_from_slice(&any_bytes(u, 64));
                        host.call("Rotate::wrap_kms", false, m.wrap_kms(&blob));
                        new_key = NewKey::Kms(blob);
                    }
                    1 => {
                        let r = m.external_wrap_request(md.clone());
                        let Some(req) = host.call("Rotate::external_wrap_request", false, r) else {
                            continue;
                        };
                        let dk = bytes(&req, "dataKey");
                        assert!(DataKey::new_256(DATA_KEY).as_bytes() == dk.as_slice());
                        let cipher = text(&req, "contentCipher").unwrap_or_default();
                        let edk = aes_gcm_wrap(&new_master(), &cipher, &dk, &md);
                        let r = m.wrap_external("AES/GCM", &edk, md);
                        host.call("Rotate::wrap_external", false, r);
                    }
                    _ => {
                        host.tampered = true;
                        new_key = NewKey::Junk;
                        let wrap = string(u, 16).unwrap_or_default();
                        let (edk, md) = (any_bytes(u, 600), any_flat(u));
                        let r = m.wrap_external(&wrap, &edk, md);
                        host.call("Rotate::wrap_external", false, r);
                    }
                }
            }
            "checkNewKey" => {
                match new_key {
                    NewKey::Aes => {
                        host.call("Rotate::unwrap_aes", false, m.unwrap_aes(&new_master()));
                    }
                    NewKey::Kms(ref blob) => {
                        // KMS `Decrypt` of the blob asked for gives the data key back.
                        if let Some(k) = host.call("Rotate::key_request", false, m.key_request()) {
                            assert_eq!(kind(&k), "kms");
                            assert!(bytes(&k, "ciphertextBlob") == *blob, "another blob");
                        }
                        let dk = data_key(&DATA_KEY).expect("a data key");
                        host.call("Rotate::data_key", true, m.data_key(&dk));
                    }
                    NewKey::Junk => {
                        let r = m.new_key_cannot_decrypt();
                        host.call("Rotate::new_key_cannot_decrypt", true, r);
                    }
                }
            }
            "checkOldKey" => {
                let opens = if u.arbitrary().unwrap_or(true) {
                    m.check_aes(&master())
                } else {
                    let r = m.check_external_request();
                    host.call("Rotate::check_external_request", false, r);
                    m.check_data_key(&data_key(&DATA_KEY).expect("a data key"))
                };
                host.call("Rotate::old_key_opens", true, m.old_key_opens(opens));
            }
            "done" => done = true,
            other => panic!("Rotate::poll answered {other:?}"),
        }
    }
    if host.faithful() && f.instruction.is_some() {
        assert!(
            done,
            "a faithful rotation did not finish (failed: {:?})",
            host.failed
        );
    }
    if done && !host.deviated && new_key != NewKey::Junk {
        let (_, _, ifile) = log
            .iter()
            .rev()
            .find(|(op, _, _)| op == "PutObject")
            .expect("done without writing");
        let env = Envelope::parse(
            f.meta.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            Some(ifile),
            &open_policy(),
        )
        .expect("the rotated instruction file parses");
        if let NewKey::Kms(blob) = &new_key {
            let r = env
                .key_request_accepting_stored_context()
                .expect("a key request");
            let s3_encryption::KeyRequest::Kms(k) = r else {
                panic!("the rotated file is not a KMS envelope: {r:?}");
            };
            assert!(
                k.ciphertext_blob == blob.as_slice(),
                "the rotated file holds another blob"
            );
            return;
        }
        let dk = env
            .unwrap_aes(&new_master())
            .expect("the rotated file opens under the new key");
        assert!(
            dk == DataKey::new_256(DATA_KEY),
            "the rotated file holds another key"
        );
    }
}

fn rotate_deviate(u: &mut Unstructured<'_>, host: &mut Host, m: &mut Rotate) {
    host.deviated = true;
    let md = any_flat(u);
    match u.int_in_range(0u8..=15).unwrap_or(0) {
        0..=3 => deviate(u, host, m),
        4 => {
            host.call("Rotate::unwrap_aes", false, m.unwrap_aes(&master()));
        }
        5 => {
            let b = any_bytes(u, 40);
            if let Some(dk) = host.call("data_key", false, data_key(&b)) {
                host.call("Rotate::data_key", true, m.data_key(&dk));
            }
        }
        6 => {
            host.call("Rotate::wrap_aes", false, m.wrap_aes(&new_master(), md));
        }
        7 => {
            host.call("Rotate::kms_wrap_request", false, m.kms_wrap_request(md));
        }
        8 => {
            let b = any_bytes(u, 64);
            host.call("Rotate::wrap_kms", false, m.wrap_kms(&b));
        }
        9 => {
            let r = m.external_wrap_request(md);
            host.call("Rotate::external_wrap_request", false, r);
        }
        10 => {
            let wrap = ["AES/GCM", "RSA-OAEP-SHA1", ""][u.choose_index(3).unwrap_or(0)];
            let edk = any_bytes(u, 600);
            let r = m.wrap_external(wrap, &edk, md);
            host.call("Rotate::wrap_external", false, r);
        }
        11 => {
            let r = m.new_key_cannot_decrypt();
            host.call("Rotate::new_key_cannot_decrypt", true, r);
        }
        12 => {
            let opens = u.arbitrary().unwrap_or(false);
            host.call("Rotate::old_key_opens", true, m.old_key_opens(opens));
        }
        13 => {
            host.call("Rotate::key_request", false, m.key_request());
            host.call("Rotate::check_request", false, m.check_request());
        }
        14 => {
            let r = m.external_unwrap_request();
            host.call("Rotate::external_unwrap_request", false, r);
            let r = m.check_external_request();
            host.call("Rotate::check_external_request", false, r);
        }
        _ => {
            let b = any_bytes(u, 40);
            if let Some(k) = host.call("aes_key", false, aes_key(&b)) {
                let _ = m.check_aes(&k);
            }
            let _ = m.check_data_key(&DataKey::new_256(DATA_KEY));
        }
    }
}

/// The envelope functions: parse the fixture's metadata and instruction file (or changed ones)
/// under any options, then ask for the key, unwrap, and decrypt the body or a range of it.
pub fn envelope(u: &mut Unstructured<'_>, f: &Fixture) {
    let mut host = Host::default();
    let o = options(u, &mut host, rotate_options());
    let mut meta = flatten(f.meta.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let mut ifile = f.instruction.clone();
    if one_in(u, 4) {
        host.tampered = true;
        if u.arbitrary().unwrap_or(false) && !meta.is_empty() {
            let i = u.choose_index(meta.len()).unwrap_or(0);
            meta[i] = string(u, 80).unwrap_or_default();
        } else {
            ifile = Some(any_bytes(u, 600));
        }
    }
    for m in &meta {
        let _ = s3_encryption_glue::is_envelope_key(m);
    }
    if one_in(u, 4) {
        keys(u, &mut host, &o);
    }
    host.call(
        "needs_instruction_file",
        false,
        s3_encryption_glue::needs_instruction_file(meta.clone()),
    );
    let Some(env) = host.call("Env::parse", false, Env::parse(meta, ifile.as_deref(), &o)) else {
        assert!(!host.faithful(), "the fixture's envelope was refused");
        return;
    };
    let _ = env.info();
    let ctx = u
        .arbitrary::<bool>()
        .unwrap_or(true)
        .then(|| vec!["fuzz".to_owned(), "fixture".to_owned()]);
    host.call("Env::key_request", false, env.key_request(ctx));
    host.call(
        "Env::external_unwrap_request",
        false,
        env.external_unwrap_request(),
    );
    let dk = if !one_in(u, 4) {
        host.call("Env::unwrap_aes", false, env.unwrap_aes(&master()))
    } else {
        host.tampered = true;
        let b = any_bytes(u, 40);
        host.call("data_key", false, data_key(&b))
    };
    let Some(dk) = dk else {
        assert!(!host.faithful(), "the fixture's key did not unwrap");
        return;
    };
    let stored = f.body.len() as f64;
    if !host.tampered {
        assert_eq!(env.plaintext_length(stored), Some(f.plaintext.len() as f64));
    }
    for bad in [-1.0, f64::NAN, 16.5, 1e300] {
        assert_eq!(
            env.plaintext_length(bad),
            None,
            "the plaintext length of {bad} bytes"
        );
    }
    let mut body = f.body.clone();
    if one_in(u, 4) {
        host.tampered = true;
        body = any_bytes(u, 2000);
    }
    if let Some(Val::Bytes(pt)) = host.call("Env::decrypt", false, env.decrypt(&dk, &body)) {
        assert!(
            host.tampered || **pt == f.plaintext,
            "the envelope decrypted the body to other bytes"
        );
    } else {
        assert!(
            host.tampered || host.odd_options,
            "the real body did not decrypt"
        );
    }
    let first = [0.0, 1.0, 16.0, 500.0, -1.0, f64::NAN, 1e300, 2.5][u.choose_index(8).unwrap_or(0)];
    let last =
        [0.0, 15.0, 999.0, 5000.0, -1.0, f64::NAN, 1e300, 2e15][u.choose_index(8).unwrap_or(0)];
    let r = env.decrypt_range_hazmat(&dk, &body, first, last);
    if !is_count(first) || !is_count(last) {
        let code = r.as_ref().err().map(|f| f.code);
        assert_eq!(code, Some("InvalidArgument"), "a range {first}-{last}");
    }
    if let Some(Val::Bytes(pt)) = host.call("Env::decrypt_range_hazmat", false, r)
        && !host.tampered
        && first >= 0.0
        && first <= last
        && (first as usize) < f.plaintext.len()
    {
        let end = (last as usize + 1).min(f.plaintext.len());
        assert!(
            **pt == f.plaintext[first as usize..end],
            "a ranged decryption of the real body is not the slice"
        );
    }
}

/// The caller's key bytes and write settings: RSA keys in DER (the real ones, or changed or any
/// bytes) parse to keys exactly when they are the real ones or still DER keys, and bad ones are
/// usage errors; `checkWriteSettings` of any options is typed.
fn keys(u: &mut Unstructured<'_>, host: &mut Host, o: &Val) {
    use s3_encryption::rsa::pkcs8::{EncodePrivateKey, EncodePublicKey};
    use s3_encryption_glue::{check_write_settings, rsa_private_key, rsa_public_key};
    let private = u.arbitrary().unwrap_or(false);
    let real = if private {
        rsa_key().to_pkcs8_der().expect("der").as_bytes().to_vec()
    } else {
        let public = rsa_key().to_public_key();
        public.to_public_key_der().expect("der").as_bytes().to_vec()
    };
    let mut der = real.clone();
    match u.int_in_range(0u8..=3).unwrap_or(0) {
        0 => {}
        1 if !der.is_empty() => {
            let at = u.choose_index(der.len()).unwrap_or(0);
            der[at] ^= 1 << u.int_in_range(0u8..=7).unwrap_or(0);
        }
        2 => der.truncate(u.int_in_range(0..=der.len()).unwrap_or(0)),
        _ => der = any_bytes(u, 1300),
    }
    let pk = host.call("rsa_private_key", false, rsa_private_key(&der));
    let pubk = host.call("rsa_public_key", false, rsa_public_key(&der));
    if der == real {
        assert_eq!(pk.is_some(), private, "the real private key");
        assert_eq!(pubk.is_some(), !private, "the real public key");
    }
    host.call("check_write_settings", false, check_write_settings(o));
}
