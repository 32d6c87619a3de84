//! `Put` (the glue's write) driven by a host that follows its requests or does anything else,
//! with materials from an AES master key, a KMS answer, or a JavaScript keyring.

use super::*;
use crate::machines::ETAG;
use fuzz_support::{DATA_KEY, KeySource, Meta, decryptor_for, master, plaintext, whole};
use s3_encryption::{AesKey, DataKey, EncryptConfig, EncryptionMaterials, Encryptor, Placement};
use s3_encryption_glue::{Put, aes_key};
use std::collections::{BTreeMap, HashMap};

const KEY: &str = "dir/object";
const MIB: u64 = 1 << 20;

#[derive(Default)]
struct Store {
    /// The object and its instruction file: (metadata, body).
    object: Option<(Meta, Vec<u8>)>,
    instruction: Option<Vec<u8>>,
    /// Upload id → (metadata, parts).
    uploads: HashMap<String, (Meta, BTreeMap<u32, Vec<u8>>)>,
}

struct Run {
    host: Host,
    store: Store,
    pt: Vec<u8>,
    /// Plaintext of each part read, encrypted in place once asked.
    bufs: HashMap<u32, Vec<u8>>,
    /// How the data key of the object can be recovered.
    key: Option<KeySource>,
    /// Requests sent whose body failed (never answered).
    pending: Vec<u32>,
}

fn faithful_options(u: &mut Unstructured<'_>, len: u64, multipart: bool) -> Val {
    let mut o = Val::obj().with("bucket", "bucket").with("key", KEY);
    if u.arbitrary().unwrap_or(true) {
        o = o.with("plaintextLength", len);
    }
    if u.arbitrary().unwrap_or(false) {
        o = o.with("placement", "instructionFile");
    }
    if u.arbitrary().unwrap_or(false) {
        o = o.with("suite", "V2");
        o = o.with("commitmentPolicy", "FORBID_ENCRYPT_ALLOW_DECRYPT");
    }
    if multipart {
        o = o
            .with("partSize", 5 * MIB)
            .with("multipartThreshold", 5 * MIB);
    }
    o.with(
        "encryptionContext",
        Val::List(vec!["fuzz".into(), "put".into()]),
    )
    .with("metadata", Val::List(vec!["owner".into(), "fuzz".into()]))
}

pub fn run(u: &mut Unstructured<'_>) {
    // One input in 32 writes a multipart object of 5 MiB and more (never one that ran out of
    // bytes): half a second under ASan.
    let multipart = one_in(u, 32);
    let len = if multipart {
        5 * MIB + u.int_in_range(0u64..=70_000).unwrap_or(0)
    } else {
        u.int_in_range(0u64..=3000).unwrap_or(0)
    };
    let mut host = Host::default();
    let faithful = faithful_options(u, len, multipart);
    let o = options(u, &mut host, faithful);
    let Some(mut p) = host.call("Put::new", false, Put::new(&o)) else {
        assert!(host.odd_options, "the faithful options were refused");
        return;
    };
    let mut run = Run {
        host,
        store: Store::default(),
        pt: big_plaintext()[..len as usize].to_vec(),
        bufs: HashMap::new(),
        key: None,
        pending: Vec::new(),
    };
    let done = run.drive(u, &mut p);
    run.finish(done);
}

impl Run {
    /// Drive until `done` (its value), a failure, or the calls run out.
    fn drive(&mut self, u: &mut Unstructured<'_>, p: &mut Put) -> Option<Val> {
        let mut failed_polls = 0;
        while !self.host.exhausted() {
            if one_in(u, 6) {
                self.deviate(u, p);
                continue;
            }
            let next = p.poll();
            let ok = next.is_ok();
            let done = next.as_ref().is_ok_and(|v| kind(v) == "done");
            self.host.after_poll("Put::poll", ok, done, false);
            let Some(next) = self.host.call("Put::poll", true, next) else {
                failed_polls += 1;
                if failed_polls > 2 || !self.host.deviated {
                    return None;
                }
                continue;
            };
            let at = |k| num(&next, k).unwrap_or(0.0) as u64;
            match kind(&next).as_str() {
                "encryptionMaterials" => self.materials(u, p),
                "readPart" => {
                    let a = (at("offset") as usize).min(self.pt.len());
                    let b = a.saturating_add(at("len") as usize).min(self.pt.len());
                    let number = at("number") as u32;
                    self.bufs.insert(number, self.pt[a..b].to_vec());
                    let r = p.part_read(number, (b - a) as f64);
                    self.host.call("Put::part_read", true, r);
                }
                "encryptPart" => {
                    let number = at("number") as u32;
                    let Some(buf) = self.bufs.get_mut(&number) else {
                        assert!(self.host.deviated, "a part to encrypt that was never read");
                        return None;
                    };
                    let r = p.encrypt_part(number, buf);
                    self.host.call("Put::encrypt_part", true, r);
                }
                "send" => self.send(u, p, at("id") as u32),
                "wait" => {
                    // A request whose body failed: the host gives it up.
                    let Some(id) = self.pending.pop() else {
                        assert!(self.host.deviated, "wait with nothing outstanding");
                        return None;
                    };
                    p.request_failed(id, 0);
                }
                "done" => return Some(next),
                other => panic!("Put::poll answered {other:?}"),
            }
        }
        None
    }

    /// Materials: an AES master key, a KMS data key, or a JavaScript keyring's AES/GCM wrap
    /// (faithful, or any wrap name, bytes and description: tampering).
    fn materials(&mut self, u: &mut Unstructured<'_>, p: &mut Put) {
        match u.int_in_range(0u8..=3).unwrap_or(0) {
            0 => {
                if self
                    .host
                    .call("Put::materials_aes", false, p.materials_aes(&master()))
                    .is_some()
                {
                    self.key = Some(KeySource::Aes(master()));
                }
            }
            1 => {
                let Some(req) = self.host.call("Put::kms_request", false, p.kms_request()) else {
                    return;
                };
                assert_eq!(text(&req, "keySpec").as_deref(), Some("AES_256"));
                let blob = any_bytes(u, 64);
                let r = p.materials_kms(&DATA_KEY, &blob);
                if self.host.call("Put::materials_kms", false, r).is_some() {
                    self.key = Some(KeySource::Plain(DataKey::new_256(DATA_KEY)));
                }
            }
            2 => {
                let r = p.external_wrap_request();
                let Some(req) = self.host.call("Put::external_wrap_request", false, r) else {
                    return;
                };
                let dk = bytes(&req, "dataKey");
                let md = flat_pairs(&field(&req, "materialsDescription"));
                let cipher = text(&req, "contentCipher").unwrap_or_default();
                let edk = aes_gcm_wrap(&master(), &cipher, &dk, &md);
                let r = p.materials_external("AES/GCM", &edk, md);
                if self
                    .host
                    .call("Put::materials_external", false, r)
                    .is_some()
                {
                    self.key = Some(KeySource::Aes(master()));
                }
            }
            3 if one_in(u, 8) => {
                // RSA-OAEP under the Ruby vectors' key (its private half decrypts: slow).
                let public = fuzz_support::rsa_key().to_public_key();
                let r = p.materials_rsa(&public);
                if self.host.call("Put::materials_rsa", false, r).is_some() {
                    self.key = Some(KeySource::Rsa);
                }
            }
            _ => {
                self.host.tampered = true;
                let r = p.external_wrap_request();
                self.host.call("Put::external_wrap_request", false, r);
                let wrap = ["AES/GCM", "RSA-OAEP-SHA1", "kms+context", "AESWrap", ""]
                    [u.choose_index(5).unwrap_or(0)];
                let edk = any_bytes(u, 600);
                let md = any_flat(u);
                let r = p.materials_external(wrap, &edk, md);
                self.host.call("Put::materials_external", false, r);
            }
        }
    }

    /// Make request `id` against the store and answer it (maybe changed by the input).
    fn send(&mut self, u: &mut Unstructured<'_>, p: &mut Put, id: u32) {
        let Some(r) = self.host.call("Put::request", false, p.request(id)) else {
            return;
        };
        let op = text(&r, "operation").unwrap_or_default();
        let suffixed = !text(&r, "keySuffix").unwrap_or_default().is_empty();
        let upload = text(&r, "uploadId");
        let part = num(&r, "partNumber").map(|n| n as u32);
        let meta: Meta = flat_pairs(&field(&r, "metadata"))
            .chunks_exact(2)
            .map(|c| (c[0].clone(), c[1].clone()))
            .collect();
        let b = field(&r, "body");
        let body = match kind(&b).as_str() {
            "ciphertext" if op == "PutObject" => {
                let mut buf = self.pt.clone();
                for c in buf.chunks_mut(4099) {
                    if self.host.call("Put::encrypt", true, p.encrypt(c)).is_none() {
                        self.pending.push(id);
                        return;
                    }
                }
                let Some(tag) = self.host.call("Put::tag", true, p.tag()) else {
                    self.pending.push(id);
                    return;
                };
                buf.extend_from_slice(&raw(&tag));
                buf
            }
            "ciphertext" => {
                let n = part.unwrap_or(0);
                let Some(mut buf) = self.bufs.remove(&n) else {
                    assert!(self.host.deviated, "an upload of a part never encrypted");
                    self.pending.push(id);
                    return;
                };
                if flag(&b, "endsWithTag") {
                    let Some(tag) = self.host.call("Put::tag", true, p.tag()) else {
                        self.pending.push(id);
                        return;
                    };
                    buf.extend_from_slice(&raw(&tag));
                }
                buf
            }
            "bytes" => bytes(&b, "bytes"),
            _ => Vec::new(),
        };
        let mut a = Answer {
            status: 200,
            ..Answer::default()
        };
        let mut upload_id = String::from("upload-1");
        match op.as_str() {
            "PutObject" => {
                if suffixed {
                    self.store.instruction = Some(body);
                } else {
                    self.store.object = Some((meta, body));
                }
                a.headers.push(("ETag".into(), ETAG.into()));
            }
            "CreateMultipartUpload" => {
                if one_in(u, 8) {
                    upload_id = string(u, 80).unwrap_or_default();
                    self.host.tampered = true;
                }
                let up = (meta, BTreeMap::new());
                self.store.uploads.insert(upload_id.clone(), up);
            }
            "UploadPart" => {
                match upload.as_ref().and_then(|i| self.store.uploads.get_mut(i)) {
                    Some(up) => {
                        up.1.insert(part.unwrap_or(0), body);
                    }
                    None => a.status = 404,
                }
                a.headers.push(("ETag".into(), "\"part\"".into()));
            }
            "CompleteMultipartUpload" => {
                match upload.as_ref().and_then(|i| self.store.uploads.remove(i)) {
                    Some((meta, parts)) => {
                        self.store.object = Some((meta, parts.into_values().flatten().collect()));
                        a.headers.push(("ETag".into(), "\"multi-2\"".into()));
                    }
                    None => a.status = 404,
                }
            }
            "AbortMultipartUpload" | "DeleteObject" => a.status = 204,
            other => panic!("the PUT sent {other}"),
        }
        let a0 = a.clone();
        mutate(u, &mut a);
        if a.status != a0.status || a.headers != a0.headers {
            self.host.tampered = true;
        }
        let r = if op == "CreateMultipartUpload" {
            p.upload_created(id, a.status, &upload_id)
        } else {
            p.response(id, a.status, &headers(&a))
        };
        self.host.call("Put::response", true, r);
    }

    /// Any call at all, with any arguments.
    fn deviate(&mut self, u: &mut Unstructured<'_>, p: &mut Put) {
        self.host.deviated = true;
        let id = any_id(u);
        let number = if u.arbitrary().unwrap_or(true) {
            u.int_in_range(0u32..=3).unwrap_or(1)
        } else {
            u.arbitrary().unwrap_or(0)
        };
        match u.int_in_range(0u8..=16).unwrap_or(0) {
            0 => {
                let r = p.poll();
                let (ok, done) = (r.is_ok(), r.as_ref().is_ok_and(|v| kind(v) == "done"));
                self.host.after_poll("Put::poll", ok, done, false);
                self.host.call("Put::poll", true, r);
            }
            1 => {
                self.host.call("Put::request", false, p.request(id));
            }
            2 => {
                let (s, h) = (any_status(u), any_flat(u));
                self.host.call("Put::response", true, p.response(id, s, &h));
            }
            3 => {
                let mut b = any_bytes(u, 5000);
                self.host.call("Put::encrypt", true, p.encrypt(&mut b));
            }
            4 => {
                self.host.call("Put::tag", true, p.tag());
            }
            5 => {
                let n = [
                    0.0,
                    1.0,
                    -1.0,
                    f64::NAN,
                    1e300,
                    5.0 * MIB as f64,
                    70_000.0,
                    0.5,
                ][u.choose_index(8).unwrap_or(0)];
                let r = p.part_read(number, n);
                if !is_count(n) {
                    let code = r.as_ref().err().map(|f| f.code);
                    assert_eq!(code, Some("InvalidArgument"), "partRead of {n} bytes");
                }
                self.host.call("Put::part_read", true, r);
            }
            6 => {
                let mut b = any_bytes(u, 5000);
                let r = p.encrypt_part(number, &mut b);
                self.host.call("Put::encrypt_part", false, r);
            }
            7 => {
                let (s, up) = (any_status(u), string(u, 40).unwrap_or_default());
                let r = p.upload_created(id, s, &up);
                self.host.call("Put::upload_created", true, r);
            }
            8 => {
                p.request_failed(id, any_status(u));
                self.host.failed.get_or_insert("RequestFailed");
            }
            9 => {
                p.abort();
                self.host.failed.get_or_insert("LengthMismatch");
            }
            10 => {
                self.host
                    .call("Put::materials_aes", false, p.materials_aes(&master()));
            }
            11 => {
                self.host.call("Put::kms_request", false, p.kms_request());
            }
            12 => {
                let (k, blob) = (any_bytes(u, 40), any_bytes(u, 64));
                let r = p.materials_kms(&k, &blob);
                self.host.call("Put::materials_kms", false, r);
            }
            13 => {
                let r = p.external_wrap_request();
                self.host.call("Put::external_wrap_request", false, r);
            }
            14 => {
                let wrap = string(u, 16).unwrap_or_default();
                let (edk, md) = (any_bytes(u, 600), any_flat(u));
                let r = p.materials_external(&wrap, &edk, md);
                self.host.call("Put::materials_external", false, r);
            }
            15 => {
                let b = any_bytes(u, 40);
                if let Some(k) = self.host.call("aes_key", false, aes_key(&b)) {
                    self.host
                        .call("Put::materials_aes", false, p.materials_aes(&k));
                }
            }
            _ => {
                let _ = (p.envelope(), p.encryption_context());
            }
        }
    }

    fn finish(&self, done: Option<Val>) {
        if self.host.faithful() {
            assert!(
                done.is_some(),
                "a faithful write did not finish (failed: {:?})",
                self.host.failed
            );
        }
        let (Some(d), false) = (done, self.host.deviated) else {
            return;
        };
        assert_eq!(num(&d, "plaintextLength"), Some(self.pt.len() as f64));
        assert_eq!(
            flag(&d, "instructionFile"),
            self.store.instruction.is_some()
        );
        let Some(key) = &self.key else {
            // Materials of a keyring that answered anything: nothing to decrypt with.
            return;
        };
        let (meta, body) = self.store.object.as_ref().expect("done without an object");
        let dec = decryptor_for(meta, self.store.instruction.as_deref(), key);
        assert!(
            whole(&dec, body) == self.pt,
            "the stored object is not the plaintext"
        );
    }
}

/// The plaintext of every write (its first `len` bytes), made once.
fn big_plaintext() -> &'static [u8] {
    static P: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    P.get_or_init(|| plaintext((5 * MIB + 70_000) as usize))
}

/// What a JavaScript keyring holding the fixed master key answers: `data_key` wrapped with
/// AES/GCM for the content cipher `cipher` (the core's own wrap, under a fixed IV).
pub fn aes_gcm_wrap(key: &AesKey, cipher: &str, dk: &[u8], md: &[String]) -> Vec<u8> {
    let config = [
        EncryptConfig::v3(Placement::ObjectMetadata),
        EncryptConfig::v2(Placement::ObjectMetadata),
    ]
    .into_iter()
    .find(|c| c.content_cipher_id() == cipher)
    .expect("a content cipher of a suite we write");
    let pairs: Vec<(&str, &str)> = md
        .chunks_exact(2)
        .map(|c| (c[0].as_str(), c[1].as_str()))
        .collect();
    let dk = DataKey::from_slice(dk).expect("a data key of the glue");
    let m = EncryptionMaterials::aes_gcm_deterministic(&config, key, dk, &[7; 12], &pairs)
        .expect("materials");
    let enc = Encryptor::new_deterministic(m, &[0x11; 28], None).expect("encryptor");
    enc.envelope().encrypted_data_key().to_vec()
}

/// The bytes of a `Uint8Array` value.
fn raw(v: &Val) -> Vec<u8> {
    match v {
        Val::Bytes(b) => b.to_vec(),
        _ => Vec::new(),
    }
}
