//! The object machines, one wrapper each: `poll()` returns a plain object `{kind, …}`, requests
//! are plain objects (`id`, `operation`, `bucket`, `key`, `range`, `ifMatch`, `versionId`, `metadata`, `body`, …), responses come back as a status
//! and a flat header array `[name0, value0, …]`.

use crate::convert::{
    Js, JsResult, borrow_pairs, decrypt_policy, map_object, num, obj, opt_bool, opt_pairs, opt_str,
    opt_u64, pairs, request_object, rid, set, usage,
};
use crate::envelope::{WasmDataKey, envelope_info, key_request_object};
use crate::keys::{WasmAesKey, WasmRsaPrivateKey, WasmRsaPublicKey};
use crate::texts::{DeleteCell, DescribeCell, GetCell, PutCell, RotateCell, TextCell, Texts};
use js_sys::{Object, Uint8Array};
use s3_encryption::object::{
    DeleteNext, DeleteObject, DescribeNext, DescribeObject, GetDone, GetIntent, GetNext, GetObject,
    ObjectHead, PartJob, PutIntent, PutNext, PutObject, ReadMode, Released, RotateInstructionFile,
    RotateIntent, RotateNext,
};
use s3_encryption::{
    ByteRange, ContentAlgorithm, DataKey, EncryptConfig, EncryptionMaterials, Error,
    KmsGenerateDataKeyRequest, Placement, WriteSuite,
};
use std::collections::BTreeMap;
use wasm_bindgen::JsValue;
use wasm_bindgen::prelude::wasm_bindgen;

/// Flat header pairs as borrowed pairs.
fn header_pairs(flat: &[String]) -> JsResult<impl Iterator<Item = (&str, &str)>> {
    if !flat.len().is_multiple_of(2) {
        return Err(usage("headers must be a flat array of names and values"));
    }
    Ok(flat.chunks_exact(2).map(|c| (c[0].as_str(), c[1].as_str())))
}

fn kind(k: &str) -> Object {
    let o = obj();
    set(&o, "kind", k);
    o
}

fn with_id(k: &str, id: u32) -> Object {
    let o = kind(k);
    set(&o, "id", id);
    o
}

fn head_object(h: &ObjectHead) -> Object {
    let o = obj();
    set(&o, "storedLength", h.stored_len() as f64);
    crate::convert::opt(&o, "etag", h.etag());
    crate::convert::opt(&o, "versionId", h.version_id());
    o
}

/// The suffix option (default `.instruction`).
fn suffix(options: &JsValue, name: &str) -> JsResult<String> {
    Ok(opt_str(options, name)?.unwrap_or_else(|| ".instruction".into()))
}

/// The expected encryption context: `encryptionContext` (flat pairs; absent means none), or
/// the stored one when `acceptStoredEncryptionContext` (KMS discovery).
fn expected_context(options: &JsValue) -> JsResult<Option<Vec<(String, String)>>> {
    if opt_bool(options, "acceptStoredEncryptionContext")? {
        return Ok(None);
    }
    Ok(Some(
        opt_pairs(options, "encryptionContext")?.unwrap_or_default(),
    ))
}

fn required(options: &JsValue, k: &str) -> JsResult<String> {
    opt_str(options, k)?.ok_or_else(|| usage(&format!("option {k} is required")))
}

/// The texts of `bucket` and `key` (both required options).
fn texts(options: &JsValue) -> JsResult<Texts> {
    Ok(Texts::new(
        required(options, "bucket")?,
        required(options, "key")?,
    ))
}

/// Accessors of a class's machine, which lives in a cell with the texts it borrows.
macro_rules! machine_access {
    ($class:ident, $machine:ident) => {
        impl $class {
            pub(crate) fn m(&self) -> &$machine<'_> {
                self.m.borrow_dependent()
            }
            pub(crate) fn m_mut<R>(&mut self, f: impl for<'x> FnOnce(&mut $machine<'x>) -> R) -> R {
                self.m.with_dependent_mut(|_, m| f(m))
            }
        }
    };
}

machine_access!(WasmGet, GetObject);
machine_access!(WasmPut, PutObject);
machine_access!(WasmDescribeObject, DescribeObject);
machine_access!(WasmDelete, DeleteObject);
machine_access!(WasmRotate, RotateInstructionFile);

// ---------------------------------------------------------------- GetObject

/// A verified read ([`GetObject`]).
#[wasm_bindgen]
#[derive(Debug)]
pub struct WasmGet {
    m: GetCell,
}

fn get_done(d: &GetDone) -> Object {
    let o = kind("done");
    set(&o, "verification", format!("{:?}", d.verification));
    set(&o, "released", d.released as f64);
    num(&o, "rangeFirst", d.range_first);
    set(&o, "fetched", d.fetched as f64);
    set(&o, "object", head_object(&d.object));
    o
}

#[wasm_bindgen]
impl WasmGet {
    /// Start a read. Options: `bucket`, `key`, `versionId`, `mode` (`"verified"` — the default —,
    /// `"delayedAuthentication"` or `"range"` with `range` = `"bytes=a-b"`, `"bytes=a-"` or
    /// `"bytes=-n"`), the policy options, `instructionFileSuffix`, `encryptionContext` /
    /// `acceptStoredEncryptionContext`, `memoryBudget`, `storage`, `connections`, `partSize`,
    /// `headFirst`, `readInstructionFile` (default true; false is `disableInstructionFile`).
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> JsResult<WasmGet> {
        let mut t = texts(&options)?;
        t.version_id = opt_str(&options, "versionId")?;
        t.suffix = suffix(&options, "instructionFileSuffix")?;
        t.context = expected_context(&options)?;
        let mut it = GetIntent::new("", "");
        it.policy = decrypt_policy(&options)?;
        it.mode = match opt_str(&options, "mode")?.as_deref() {
            None | Some("verified") => ReadMode::Verified,
            Some("delayedAuthentication") => {
                ReadMode::Unauthenticated(s3_encryption::hazmat::delayed_authentication_read())
            }
            Some("range") => {
                let r = opt_str(&options, "range")?
                    .ok_or_else(|| usage("mode range needs option range"))?;
                ReadMode::Unauthenticated(s3_encryption::hazmat::ranged_read(
                    ByteRange::parse(&r).js()?,
                ))
            }
            Some(other) => return Err(usage(&format!("unknown read mode {other}"))),
        };
        let read_ifile = crate::convert::get(&options, "readInstructionFile");
        if !read_ifile.is_undefined() && !read_ifile.is_null() {
            it.read_instruction_file = read_ifile
                .as_bool()
                .ok_or_else(|| usage("option readInstructionFile must be a boolean"))?;
        }
        if let Some(b) = opt_u64(&options, "memoryBudget")? {
            it.memory_budget = b;
        }
        it.storage = opt_bool(&options, "storage")?;
        if let Some(c) = opt_u64(&options, "connections")? {
            it.connections = u16::try_from(c).map_err(|_| js_config())?;
        }
        if let Some(p) = opt_u64(&options, "partSize")? {
            it.part_size = p;
        }
        it.head_first = opt_bool(&options, "headFirst")?;
        let m = GetCell::try_new(TextCell::of(t), |c| {
            let t = c.texts();
            let it = GetIntent {
                bucket: &t.bucket,
                key: &t.key,
                version_id: t.version_id.as_deref(),
                instruction_file_suffix: &t.suffix,
                encryption_context: c.context(),
                ..it
            };
            GetObject::new(it)
        })
        .js()?;
        Ok(WasmGet { m })
    }

    /// What the machine needs: `{kind: "send" | "readBody" | "replay", id}`, `{kind:
    /// "unwrapKey"}`, `{kind: "wait"}` or `{kind: "done", verification, released, rangeFirst,
    /// fetched, object}`.
    pub fn poll(&mut self) -> JsResult<Object> {
        Ok(match self.m_mut(|mm| mm.poll()).js()? {
            GetNext::Send(id) => with_id("send", id.get()),
            GetNext::ReadBody(id) => with_id("readBody", id.get()),
            GetNext::Replay(id) => with_id("replay", id.get()),
            GetNext::UnwrapKey => kind("unwrapKey"),
            GetNext::Wait => kind("wait"),
            GetNext::Done(d) => get_done(&d),
        })
    }

    /// The request `id`.
    pub fn request(&self, id: u32) -> JsResult<Object> {
        Ok(request_object(&self.m().request(rid(id)).js()?))
    }

    /// The response head of `id`: its status and flat headers.
    pub fn response(&mut self, id: u32, status: u16, headers: Vec<String>) -> JsResult<()> {
        let h = header_pairs(&headers)?;
        self.m_mut(|mm| mm.response(rid(id), status, h)).js()
    }

    /// How many bytes the next [`WasmGet::body`] takes: `{len, exact}`.
    pub fn feed(&self, id: u32) -> JsResult<Object> {
        let f = self.m().feed(rid(id)).js()?;
        let o = obj();
        set(&o, "len", f.len as f64);
        set(&o, "exact", f.exact);
        Ok(o)
    }

    /// A piece of the body of `id`, decrypted in place when released: `{kind: "plaintext", start,
    /// len, offset}` (`piece.subarray(start, start + len)` is plaintext at `offset`), `{kind:
    /// "store", offset}` (write the piece to the storage) or `{kind: "nothing"}`.
    pub fn body(&mut self, id: u32, piece: &mut [u8]) -> JsResult<Object> {
        Ok(match self.m_mut(|mm| mm.body(rid(id), piece)).js()? {
            Released::Plaintext { start, len, offset } => {
                let o = kind("plaintext");
                set(&o, "start", start as f64);
                set(&o, "len", len as f64);
                set(&o, "offset", offset as f64);
                o
            }
            Released::Store { offset } => {
                let o = kind("store");
                set(&o, "offset", offset as f64);
                o
            }
            _ => kind("nothing"),
        })
    }

    /// The body of `id` ended.
    #[wasm_bindgen(js_name = endOfBody)]
    pub fn end_of_body(&mut self, id: u32) -> JsResult<()> {
        self.m_mut(|mm| mm.end_of_body(rid(id))).js()
    }

    /// The storage range `[first, last]` to replay for `id`.
    #[wasm_bindgen(js_name = replayRange)]
    pub fn replay_range(&self, id: u32) -> JsResult<Vec<f64>> {
        let (a, b) = self.m().replay_range(rid(id)).js()?;
        Ok(vec![a as f64, b as f64])
    }

    /// The key to supply (see `WasmEnvelope.keyRequest`).
    #[wasm_bindgen(js_name = keyRequest)]
    pub fn key_request(&self) -> JsResult<Object> {
        Ok(key_request_object(&self.m().key_request().js()?))
    }

    /// The unwrapped data key (KMS `Decrypt`'s `Plaintext`).
    #[wasm_bindgen(js_name = dataKey)]
    pub fn data_key(&mut self, key: &WasmDataKey) -> JsResult<()> {
        self.m_mut(|mm| mm.data_key(key.key.clone())).js()
    }

    /// Unwrap the data key with an AES master key.
    #[wasm_bindgen(js_name = unwrapAes)]
    pub fn unwrap_aes(&mut self, key: &WasmAesKey) -> JsResult<()> {
        self.m_mut(|mm| mm.unwrap_aes(&key.key)).js()
    }

    /// Unwrap the data key with an RSA private key.
    #[wasm_bindgen(js_name = unwrapRsa)]
    pub fn unwrap_rsa(&mut self, key: &WasmRsaPrivateKey) -> JsResult<()> {
        self.m_mut(|mm| mm.unwrap_rsa(&key.key, &mut getrandom::SysRng))
            .js()
    }

    /// The envelope, once read (see `WasmEnvelope.info`), or `null`.
    pub fn envelope(&self) -> JsValue {
        self.m()
            .envelope()
            .map(|e| envelope_info(e).into())
            .unwrap_or(JsValue::NULL)
    }

    /// The object (`storedLength`, `etag`, `versionId`), once its first response came, or `null`.
    pub fn object(&self) -> JsValue {
        self.m()
            .object()
            .map(|h| head_object(h).into())
            .unwrap_or(JsValue::NULL)
    }

    /// Whether the envelope came from the instruction file.
    #[wasm_bindgen(js_name = instructionFileUsed)]
    pub fn instruction_file_used(&self) -> bool {
        self.m().instruction_file_used()
    }

    /// Plaintext bytes released so far.
    pub fn released(&self) -> f64 {
        self.m().released() as f64
    }

    /// The object's whole plaintext length, once its envelope and stored length are known and
    /// they say it (the envelope's `plaintext_len`), or `undefined`.
    #[wasm_bindgen(js_name = plaintextLength)]
    pub fn plaintext_length(&self) -> Option<f64> {
        let env = self.m().envelope()?;
        let o = self.m().object()?;
        env.plaintext_len(o.stored_len()).map(|n| n as f64)
    }
}

fn js_config() -> JsValue {
    crate::convert::js_err(Error::InvalidConfig)
}

// ---------------------------------------------------------------- PutObject

/// An encrypted write ([`PutObject`]).
#[wasm_bindgen]
#[derive(Debug)]
pub struct WasmPut {
    m: PutCell,
    jobs: BTreeMap<u32, PartJob>,
    kms: Option<KmsGenerateDataKeyRequest>,
    /// The data key drawn for a JavaScript keyring to wrap.
    pub(crate) external: Option<DataKey>,
}

/// The write configuration from `suite` (the spec's name of an encryption algorithm, or `"V3"` /
/// `"V2"` for short; absent: the suite the commitment policy writes), `commitmentPolicy`
/// (default REQUIRE_ENCRYPT_REQUIRE_DECRYPT) and `placement` (`"metadata"`, the default, or
/// `"instructionFile"`). The names are parsed, and the suite checked against the policy, by the
/// core.
fn encrypt_config(options: &JsValue) -> JsResult<EncryptConfig> {
    let algorithm = match opt_str(options, "suite")?.as_deref() {
        None => None,
        Some("V3") => Some(WriteSuite::V3AesGcmCommitting.content()),
        Some("V2") => Some(WriteSuite::V2AesGcm.content()),
        Some(name) => Some(
            name.parse::<ContentAlgorithm>()
                .map_err(|_| usage(&format!("unknown encryptionAlgorithm {name}")))?,
        ),
    };
    let policy =
        crate::convert::commitment_policy(opt_str(options, "commitmentPolicy")?.as_deref())?;
    let placement = match opt_str(options, "placement")?.as_deref() {
        None | Some("metadata") => Placement::ObjectMetadata,
        Some("instructionFile") => Placement::InstructionFile,
        Some(other) => return Err(usage(&format!("unknown placement {other}"))),
    };
    EncryptConfig::from_settings(policy, algorithm, placement).map_err(|e| match e {
        Error::UnsupportedSuite => usage(&format!(
            "{} is a legacy algorithm and is never written",
            algorithm.map_or("", ContentAlgorithm::spec_name)
        )),
        Error::InvalidConfig => usage(&format!(
            "encryptionAlgorithm {} is not written under commitmentPolicy {policy}",
            algorithm.map_or("", ContentAlgorithm::spec_name)
        )),
        e => crate::convert::js_err(e),
    })
}

/// Check a client's write settings (`suite`, `commitmentPolicy`, as for [`WasmPut`]) when it is
/// made, not at its first write; returns the suite's spec name.
#[wasm_bindgen(js_name = checkWriteSettings)]
pub fn check_write_settings(options: JsValue) -> JsResult<String> {
    Ok(encrypt_config(&options)?.suite().spec_name().into())
}

#[wasm_bindgen]
impl WasmPut {
    /// Start a write. Options: `bucket`, `key`, `plaintextLength` (absent: unknown, multipart),
    /// `suite`, `commitmentPolicy`, `placement`, `encryptionContext` (flat pairs), `partSize`,
    /// `multipartThreshold`, `partsInFlight`, `contentType`, `metadata` (flat pairs, names
    /// without `x-amz-meta-`), `instructionFileSuffix`.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> JsResult<WasmPut> {
        let mut t = texts(&options)?;
        t.context = Some(opt_pairs(&options, "encryptionContext")?.unwrap_or_default());
        t.content_type = opt_str(&options, "contentType")?;
        t.metadata = opt_pairs(&options, "metadata")?.unwrap_or_default();
        t.suffix = suffix(&options, "instructionFileSuffix")?;
        let mut it = PutIntent::new("", "", opt_u64(&options, "plaintextLength")?);
        it.config = encrypt_config(&options)?;
        if let Some(p) = opt_u64(&options, "partSize")? {
            it.part_size = p;
        }
        if let Some(t) = opt_u64(&options, "multipartThreshold")? {
            it.multipart_threshold = t;
        }
        if let Some(n) = opt_u64(&options, "partsInFlight")? {
            it.parts_in_flight = u16::try_from(n).map_err(|_| js_config())?;
        }
        let m = PutCell::try_new(TextCell::of(t), |c| {
            let t = c.texts();
            PutObject::new(PutIntent {
                bucket: &t.bucket,
                key: &t.key,
                encryption_context: c.context().unwrap_or_default(),
                content_type: t.content_type.as_deref(),
                metadata: c.metadata(),
                instruction_file_suffix: &t.suffix,
                ..it
            })
        })
        .js()?;
        Ok(WasmPut {
            m,
            jobs: BTreeMap::new(),
            kms: None,
            external: None,
        })
    }

    /// What the machine needs: `{kind: "encryptionMaterials"}`, `{kind: "send", id}`, `{kind:
    /// "readPart", number, offset, len}`, `{kind: "encryptPart", number, len}`, `{kind: "wait"}`
    /// or `{kind: "done", plaintextLength, storedLength, parts, multipart, instructionFile}`.
    pub fn poll(&mut self) -> JsResult<Object> {
        Ok(match self.m_mut(|mm| mm.poll()).js()? {
            PutNext::EncryptionMaterials => kind("encryptionMaterials"),
            PutNext::Send(id) => with_id("send", id.get()),
            PutNext::ReadPart {
                number,
                offset,
                len,
            } => {
                let o = kind("readPart");
                set(&o, "number", number);
                set(&o, "offset", offset as f64);
                set(&o, "len", len as f64);
                o
            }
            PutNext::EncryptPart(job) => {
                let o = kind("encryptPart");
                set(&o, "number", job.number());
                set(&o, "len", job.len() as f64);
                self.jobs.insert(job.number(), job);
                o
            }
            PutNext::Wait => kind("wait"),
            PutNext::Done(d) => {
                let o = kind("done");
                set(&o, "plaintextLength", d.plaintext_len as f64);
                set(&o, "storedLength", d.stored_len as f64);
                set(&o, "parts", d.parts);
                set(&o, "multipart", d.multipart);
                set(&o, "instructionFile", d.instruction_file);
                o
            }
        })
    }

    /// The encryption context of the write, `{k: v}`.
    #[wasm_bindgen(js_name = encryptionContext)]
    pub fn encryption_context(&self) -> Object {
        map_object(self.m().encryption_context().iter().copied())
    }

    /// Materials under an AES master key (a fresh data key; the write's encryption context is
    /// stored as the materials description).
    #[wasm_bindgen(js_name = materialsAes)]
    pub fn materials_aes(&mut self, key: &WasmAesKey) -> JsResult<()> {
        let m = EncryptionMaterials::aes_gcm(
            self.m().config(),
            &key.key,
            self.m().encryption_context(),
        )
        .js()?;
        self.m_mut(|mm| mm.materials(m)).js()
    }

    /// Materials under an RSA public key (a fresh data key).
    #[wasm_bindgen(js_name = materialsRsa)]
    pub fn materials_rsa(&mut self, key: &WasmRsaPublicKey) -> JsResult<()> {
        let m = EncryptionMaterials::rsa_oaep(
            self.m().config(),
            &key.key,
            DataKey::generate().js()?,
            &mut getrandom::SysRng,
            self.m().encryption_context(),
        )
        .js()?;
        self.m_mut(|mm| mm.materials(m)).js()
    }

    /// The KMS `GenerateDataKey` to make: `{keySpec, encryptionContext}`.
    #[wasm_bindgen(js_name = kmsRequest)]
    pub fn kms_request(&mut self) -> JsResult<Object> {
        let r = EncryptionMaterials::kms(self.m().config(), self.m().encryption_context()).js()?;
        let o = obj();
        set(&o, "keySpec", KmsGenerateDataKeyRequest::KEY_SPEC);
        set(
            &o,
            "encryptionContext",
            crate::convert::owned_map_object(&r.encryption_context()),
        );
        self.kms = Some(r);
        Ok(o)
    }

    /// KMS's answer: `Plaintext` and `CiphertextBlob`.
    #[wasm_bindgen(js_name = materialsKms)]
    pub fn materials_kms(&mut self, plaintext: &[u8], ciphertext_blob: &[u8]) -> JsResult<()> {
        let r = self.kms.take().ok_or_else(|| {
            crate::convert::js_err(Error::Internal(
                "the package called the machine out of order",
            ))
        })?;
        let m = r
            .into_materials(DataKey::from_slice(plaintext).js()?, ciphertext_blob)
            .js()?;
        self.m_mut(|mm| mm.materials(m)).js()
    }

    /// Encrypt the next bytes of a single PutObject's body in place.
    pub fn encrypt(&mut self, buf: &mut [u8]) -> JsResult<()> {
        self.m_mut(|mm| mm.encrypt(buf)).js()
    }

    /// The 16-byte tag (the end of a single PutObject's body, or of the last part).
    pub fn tag(&mut self) -> JsResult<Uint8Array> {
        Ok(Uint8Array::from(&self.m_mut(|mm| mm.tag()).js()?[..]))
    }

    /// The plaintext of part `number` was read: `n` bytes.
    #[wasm_bindgen(js_name = partRead)]
    pub fn part_read(&mut self, number: u32, n: f64) -> JsResult<()> {
        self.m_mut(|mm| mm.part_read(number, n as u64)).js()
    }

    /// Encrypt part `number` (its whole plaintext) in place.
    #[wasm_bindgen(js_name = encryptPart)]
    pub fn encrypt_part(&mut self, number: u32, buf: &mut [u8]) -> JsResult<()> {
        let job = self.jobs.remove(&number).ok_or_else(|| {
            crate::convert::js_err(Error::Internal(
                "the package called the machine out of order",
            ))
        })?;
        let done = job.encrypt(buf).js()?;
        self.m_mut(|mm| mm.part_encrypted(done)).js()
    }

    /// The request `id`.
    pub fn request(&self, id: u32) -> JsResult<Object> {
        Ok(request_object(&self.m().request(rid(id)).js()?))
    }

    /// `CreateMultipartUpload` answered: its status and `UploadId`.
    #[wasm_bindgen(js_name = uploadCreated)]
    pub fn upload_created(&mut self, id: u32, status: u16, upload_id: &str) -> JsResult<()> {
        self.m_mut(|mm| mm.upload_created(rid(id), status, upload_id))
            .js()
    }

    /// The response to `id`: its status and flat headers.
    pub fn response(&mut self, id: u32, status: u16, headers: Vec<String>) -> JsResult<()> {
        let h = header_pairs(&headers)?;
        self.m_mut(|mm| mm.response(rid(id), status, h)).js()
    }

    /// The request `id` could not be made (network error, or S3 answered `status`; 0 for none).
    #[wasm_bindgen(js_name = requestFailed)]
    pub fn request_failed(&mut self, id: u32, status: u16) {
        self.m_mut(|mm| mm.request_failed(rid(id), Error::RequestFailed { status }));
    }

    /// Give up (the caller's body failed): the machine aborts a multipart upload.
    pub fn abort(&mut self) {
        self.m_mut(|mm| mm.abort(Error::LengthMismatch));
    }

    /// The envelope written (see `WasmEnvelope.info`), once the materials are in, or `null`.
    pub fn envelope(&self) -> JsValue {
        self.m()
            .envelope()
            .map(|e| envelope_info(e).into())
            .unwrap_or(JsValue::NULL)
    }
}

// ---------------------------------------------------------------- DescribeObject

/// An object's envelope without a key ([`DescribeObject`]).
#[wasm_bindgen]
#[derive(Debug)]
pub struct WasmDescribeObject {
    m: DescribeCell,
}

#[wasm_bindgen]
impl WasmDescribeObject {
    /// Describe `bucket/key` (a version, if given), instruction file at `key + suffix`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        bucket: &str,
        key: &str,
        version_id: Option<String>,
        suffix: Option<String>,
    ) -> JsResult<WasmDescribeObject> {
        let mut t = Texts::new(bucket.into(), key.into());
        t.version_id = version_id;
        if let Some(s) = suffix {
            t.suffix = s;
        }
        let m = DescribeCell::try_new(TextCell::of(t), |c| {
            let t = c.texts();
            DescribeObject::new(&t.bucket, &t.key, t.version_id.as_deref(), &t.suffix)
        })
        .js()?;
        Ok(WasmDescribeObject { m })
    }

    /// `{kind: "send", id}` or `{kind: "done"}`.
    pub fn poll(&mut self) -> JsResult<Object> {
        Ok(match self.m_mut(|mm| mm.poll()).js()? {
            DescribeNext::Send(id) => with_id("send", id.get()),
            DescribeNext::Done => kind("done"),
        })
    }

    /// The request `id`.
    pub fn request(&self, id: u32) -> JsResult<Object> {
        Ok(request_object(&self.m().request(rid(id)).js()?))
    }

    /// A piece of the instruction file's body.
    pub fn body(&mut self, id: u32, piece: &[u8]) -> JsResult<()> {
        self.m_mut(|mm| mm.body(rid(id), piece)).js()
    }

    /// The response to `id`.
    pub fn response(&mut self, id: u32, status: u16, headers: Vec<String>) -> JsResult<()> {
        let h = header_pairs(&headers)?;
        self.m_mut(|mm| mm.response(rid(id), status, h)).js()
    }

    /// The envelope (see `WasmEnvelope.info`), or `null`.
    pub fn envelope(&self) -> JsValue {
        self.m()
            .envelope()
            .map(|e| envelope_info(e).into())
            .unwrap_or(JsValue::NULL)
    }

    /// The object (`storedLength`, `etag`, `versionId`), or `null`.
    pub fn object(&self) -> JsValue {
        self.m()
            .object()
            .map(|h| head_object(h).into())
            .unwrap_or(JsValue::NULL)
    }

    /// Whether the envelope came from the instruction file.
    #[wasm_bindgen(js_name = instructionFileUsed)]
    pub fn instruction_file_used(&self) -> bool {
        self.m().instruction_file_used()
    }

    /// The plaintext length, when the envelope and the stored length say it.
    #[wasm_bindgen(js_name = plaintextLength)]
    pub fn plaintext_length(&self) -> Option<f64> {
        let env = self.m().envelope()?;
        let o = self.m().object()?;
        env.plaintext_len(o.stored_len()).map(|n| n as f64)
    }
}

// ---------------------------------------------------------------- DeleteObject

/// A delete of an object and its instruction file ([`DeleteObject`]).
#[wasm_bindgen]
#[derive(Debug)]
pub struct WasmDelete {
    m: DeleteCell,
}

#[wasm_bindgen]
impl WasmDelete {
    /// Delete `bucket/key` and, when it has one, its instruction file at `key + suffix`.
    #[wasm_bindgen(constructor)]
    pub fn new(bucket: &str, key: &str, suffix: Option<String>) -> JsResult<WasmDelete> {
        let mut t = Texts::new(bucket.into(), key.into());
        if let Some(s) = suffix {
            t.suffix = s;
        }
        let m = DeleteCell::try_new(TextCell::of(t), |c| {
            let t = c.texts();
            DeleteObject::new(&t.bucket, &t.key, &t.suffix)
        })
        .js()?;
        Ok(WasmDelete { m })
    }

    /// `{kind: "send", id}` or `{kind: "done", object, instructionFile}`.
    pub fn poll(&mut self) -> JsResult<Object> {
        Ok(match self.m_mut(|mm| mm.poll()).js()? {
            DeleteNext::Send(id) => with_id("send", id.get()),
            DeleteNext::Done(d) => {
                let o = kind("done");
                set(&o, "object", d.object);
                set(&o, "instructionFile", d.instruction_file);
                o
            }
        })
    }

    /// The request `id`.
    pub fn request(&self, id: u32) -> JsResult<Object> {
        Ok(request_object(&self.m().request(rid(id)).js()?))
    }

    /// A piece of the instruction file's body.
    pub fn body(&mut self, id: u32, piece: &[u8]) -> JsResult<()> {
        self.m_mut(|mm| mm.body(rid(id), piece)).js()
    }

    /// The response to `id`.
    pub fn response(&mut self, id: u32, status: u16, headers: Vec<String>) -> JsResult<()> {
        let h = header_pairs(&headers)?;
        self.m_mut(|mm| mm.response(rid(id), status, h)).js()
    }
}

// ---------------------------------------------------------------- RotateInstructionFile

/// Re-encryption of an instruction file under a new key ([`RotateInstructionFile`]).
#[wasm_bindgen]
#[derive(Debug)]
pub struct WasmRotate {
    m: RotateCell,
    kms: Option<KmsGenerateDataKeyRequest>,
}

#[wasm_bindgen]
impl WasmRotate {
    /// Start a rotation. Options: `bucket`, `key`, the policy options, `sourceSuffix`,
    /// `newSuffix` (both default `.instruction`), `encryptionContext` /
    /// `acceptStoredEncryptionContext`, `enforceRotation`.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> JsResult<WasmRotate> {
        let mut t = texts(&options)?;
        t.suffix = suffix(&options, "sourceSuffix")?;
        t.new_suffix = suffix(&options, "newSuffix")?;
        t.context = expected_context(&options)?;
        let mut it = RotateIntent::new("", "");
        it.policy = decrypt_policy(&options)?;
        it.enforce_rotation = opt_bool(&options, "enforceRotation")?;
        let m = RotateCell::try_new(TextCell::of(t), |c| {
            let t = c.texts();
            RotateInstructionFile::new(RotateIntent {
                bucket: &t.bucket,
                key: &t.key,
                source_suffix: &t.suffix,
                new_suffix: &t.new_suffix,
                encryption_context: c.context(),
                ..it
            })
        })
        .js()?;
        Ok(WasmRotate { m, kms: None })
    }

    /// `{kind: "send", id}`, `{kind: "unwrapKey" | "wrapKey" | "checkNewKey" | "checkOldKey"}`
    /// or `{kind: "done", version}`. At `checkNewKey`, unwrap with the NEW key as at
    /// `unwrapKey` (`keyRequest`, `unwrapAes`, `unwrapRsa`, `dataKey` name the new envelope
    /// then), or call `newKeyCannotDecrypt` for a key that cannot decrypt (an RSA public key).
    pub fn poll(&mut self) -> JsResult<Object> {
        Ok(match self.m_mut(|mm| mm.poll()).js()? {
            RotateNext::Send(id) => with_id("send", id.get()),
            RotateNext::UnwrapKey => kind("unwrapKey"),
            RotateNext::WrapKey => kind("wrapKey"),
            RotateNext::CheckNewKey => kind("checkNewKey"),
            RotateNext::CheckOldKey => kind("checkOldKey"),
            RotateNext::Done(d) => {
                let o = kind("done");
                set(&o, "version", format!("{:?}", d.version));
                o
            }
        })
    }

    /// The request `id`.
    pub fn request(&self, id: u32) -> JsResult<Object> {
        Ok(request_object(&self.m().request(rid(id)).js()?))
    }

    /// A piece of the instruction file's body.
    pub fn body(&mut self, id: u32, piece: &[u8]) -> JsResult<()> {
        self.m_mut(|mm| mm.body(rid(id), piece)).js()
    }

    /// The response to `id`.
    pub fn response(&mut self, id: u32, status: u16, headers: Vec<String>) -> JsResult<()> {
        let h = header_pairs(&headers)?;
        self.m_mut(|mm| mm.response(rid(id), status, h)).js()
    }

    /// At `checkNewKey`: the new key cannot decrypt, so what it wrapped is not read back.
    #[wasm_bindgen(js_name = newKeyCannotDecrypt)]
    pub fn new_key_cannot_decrypt(&mut self) -> JsResult<()> {
        self.m_mut(|mm| mm.new_key_cannot_decrypt()).js()
    }

    /// The key to supply now (the old one at `unwrapKey`, the new one at `checkNewKey`).
    #[wasm_bindgen(js_name = keyRequest)]
    pub fn key_request(&self) -> JsResult<Object> {
        Ok(key_request_object(&self.m().key_request().js()?))
    }

    /// The data key unwrapped by the caller (KMS `Decrypt`).
    #[wasm_bindgen(js_name = dataKey)]
    pub fn data_key(&mut self, key: &WasmDataKey) -> JsResult<()> {
        self.m_mut(|mm| mm.data_key(key.key.clone())).js()
    }

    /// Unwrap the data key with an AES master key (the old one, or the new one at `checkNewKey`).
    #[wasm_bindgen(js_name = unwrapAes)]
    pub fn unwrap_aes(&mut self, key: &WasmAesKey) -> JsResult<()> {
        let env = self.m().envelope_to_unwrap().js()?;
        let dk = env.unwrap_aes(&key.key).js()?;
        self.m_mut(|mm| mm.data_key(dk)).js()
    }

    /// Unwrap the data key with an RSA private key (the old one, or the new one at `checkNewKey`).
    #[wasm_bindgen(js_name = unwrapRsa)]
    pub fn unwrap_rsa(&mut self, key: &WasmRsaPrivateKey) -> JsResult<()> {
        let env = self.m().envelope_to_unwrap().js()?;
        let dk = env.unwrap_rsa_os_rng(&key.key).js()?;
        self.m_mut(|mm| mm.data_key(dk)).js()
    }

    fn dk(&self) -> JsResult<DataKey> {
        self.m().data_key_to_wrap().cloned().js()
    }

    /// Wrap the data key under a new AES master key (`materialsDescription`: flat pairs).
    #[wasm_bindgen(js_name = wrapAes)]
    pub fn wrap_aes(
        &mut self,
        key: &WasmAesKey,
        materials_description: Vec<String>,
    ) -> JsResult<()> {
        let md = pairs(materials_description)?;
        let cfg = self.m().new_config().js()?;
        let m = EncryptionMaterials::aes_gcm_wrapping(
            &cfg,
            &key.key,
            self.dk()?,
            &mut getrandom::SysRng,
            &borrow_pairs(&md),
        )
        .js()?;
        self.m_mut(|mm| mm.new_materials(m)).js()
    }

    /// Wrap the data key under a new RSA public key.
    #[wasm_bindgen(js_name = wrapRsa)]
    pub fn wrap_rsa(
        &mut self,
        key: &WasmRsaPublicKey,
        materials_description: Vec<String>,
    ) -> JsResult<()> {
        let md = pairs(materials_description)?;
        let cfg = self.m().new_config().js()?;
        let m = EncryptionMaterials::rsa_oaep(
            &cfg,
            &key.key,
            self.dk()?,
            &mut getrandom::SysRng,
            &borrow_pairs(&md),
        )
        .js()?;
        self.m_mut(|mm| mm.new_materials(m)).js()
    }

    /// The KMS `Encrypt` to make under the new KMS key: `{plaintext, encryptionContext}` (the
    /// plaintext is the data key: send it only to KMS).
    #[wasm_bindgen(js_name = kmsWrapRequest)]
    pub fn kms_wrap_request(&mut self, encryption_context: Vec<String>) -> JsResult<Object> {
        let c = pairs(encryption_context)?;
        let cfg = self.m().new_config().js()?;
        let r = EncryptionMaterials::kms(&cfg, &borrow_pairs(&c)).js()?;
        let o = obj();
        set(
            &o,
            "encryptionContext",
            crate::convert::owned_map_object(&r.encryption_context()),
        );
        set(&o, "plaintext", Uint8Array::from(self.dk()?.as_bytes()));
        self.kms = Some(r);
        Ok(o)
    }

    /// KMS `Encrypt`'s `CiphertextBlob`.
    #[wasm_bindgen(js_name = wrapKms)]
    pub fn wrap_kms(&mut self, ciphertext_blob: &[u8]) -> JsResult<()> {
        let r = self.kms.take().ok_or_else(|| {
            crate::convert::js_err(Error::Internal(
                "the package called the machine out of order",
            ))
        })?;
        let m = r.into_materials(self.dk()?, ciphertext_blob).js()?;
        self.m_mut(|mm| mm.new_materials(m)).js()
    }

    /// The key request of the new envelope, for `checkOldKey`.
    #[wasm_bindgen(js_name = checkRequest)]
    pub fn check_request(&self) -> JsResult<Object> {
        Ok(key_request_object(&self.m().check_request().js()?))
    }

    /// Whether the old AES key opens the new envelope.
    #[wasm_bindgen(js_name = checkAes)]
    pub fn check_aes(&self, key: &WasmAesKey) -> bool {
        self.m()
            .new_envelope()
            .is_some_and(|e| e.unwrap_aes(&key.key).is_ok())
    }

    /// Whether the old RSA key opens the new envelope.
    #[wasm_bindgen(js_name = checkRsa)]
    pub fn check_rsa(&self, key: &WasmRsaPrivateKey) -> bool {
        self.m()
            .new_envelope()
            .is_some_and(|e| e.unwrap_rsa_os_rng(&key.key).is_ok())
    }

    /// Report whether the old key opened the new envelope.
    #[wasm_bindgen(js_name = oldKeyOpens)]
    pub fn old_key_opens(&mut self, opens: bool) -> JsResult<()> {
        self.m_mut(|mm| mm.old_key_opens(opens)).js()
    }
}
