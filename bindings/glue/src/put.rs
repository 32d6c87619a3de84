//! An encrypted write: [`Put`] over [`PutObject`].

use crate::fail::{Core, Fail, R, out_of_order};
use crate::get::with_id;
use crate::opts::{Opts, encrypt_config, opt_pairs, opt_str, opt_u64, suffix, texts};
use crate::texts::{PutCell, TextCell};
use crate::val::Val;
use s3_encryption::object::{PartJob, PutIntent, PutNext, PutObject, RequestId};
use s3_encryption::rsa::PublicKey;
use s3_encryption::{AesKey, DataKey, EncryptionMaterials, Error, KmsGenerateDataKeyRequest};
use std::collections::BTreeMap;

/// The machine of one write, the part jobs handed out, and the key material in flight.
#[derive(Debug)]
pub struct Put {
    m: PutCell,
    jobs: BTreeMap<u32, PartJob>,
    kms: Option<KmsGenerateDataKeyRequest>,
    /// The data key drawn for a JavaScript keyring to wrap.
    external: Option<DataKey>,
}

machine_common!(Put, PutObject);

impl Put {
    /// Start a write. Options: `bucket`, `key`, `plaintextLength` (absent: unknown, multipart),
    /// `suite`, `commitmentPolicy`, `placement`, `encryptionContext` (flat pairs), `partSize`,
    /// `multipartThreshold`, `partsInFlight`, `contentType`, `metadata` (flat pairs, names
    /// without `x-amz-meta-`), `instructionFileSuffix`.
    pub fn new(o: &dyn Opts) -> R<Put> {
        let mut t = texts(o)?;
        t.context = Some(opt_pairs(o, "encryptionContext")?.unwrap_or_default());
        t.content_type = opt_str(o, "contentType")?;
        t.metadata = opt_pairs(o, "metadata")?.unwrap_or_default();
        t.suffix = suffix(o, "instructionFileSuffix")?;
        let mut it = PutIntent::new("", "", opt_u64(o, "plaintextLength")?);
        it.config = encrypt_config(o)?;
        if let Some(p) = opt_u64(o, "partSize")? {
            it.part_size = p;
        }
        if let Some(t) = opt_u64(o, "multipartThreshold")? {
            it.multipart_threshold = t;
        }
        if let Some(n) = opt_u64(o, "partsInFlight")? {
            it.parts_in_flight = u16::try_from(n).map_err(|_| Fail::from(Error::InvalidConfig))?;
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
        .c()?;
        Ok(Put {
            m,
            jobs: BTreeMap::new(),
            kms: None,
            external: None,
        })
    }

    /// What the machine needs: `{kind: "encryptionMaterials"}`, `{kind: "send", id}`, `{kind:
    /// "readPart", number, offset, len}`, `{kind: "encryptPart", number, len}`, `{kind: "wait"}`
    /// or `{kind: "done", plaintextLength, storedLength, parts, multipart, instructionFile}`.
    pub fn poll(&mut self) -> R<Val> {
        Ok(match self.m_mut(|m| m.poll()).c()? {
            PutNext::EncryptionMaterials => Val::kind("encryptionMaterials"),
            PutNext::Send(id) => with_id("send", id),
            PutNext::ReadPart {
                number,
                offset,
                len,
            } => Val::kind("readPart")
                .with("number", number)
                .with("offset", offset)
                .with("len", len),
            PutNext::EncryptPart(job) => {
                let v = Val::kind("encryptPart")
                    .with("number", job.number())
                    .with("len", job.len());
                self.jobs.insert(job.number(), job);
                v
            }
            PutNext::Wait => Val::kind("wait"),
            PutNext::Done(d) => Val::kind("done")
                .with("plaintextLength", d.plaintext_len)
                .with("storedLength", d.stored_len)
                .with("parts", d.parts)
                .with("multipart", d.multipart)
                .with("instructionFile", d.instruction_file),
        })
    }

    /// The encryption context of the write, `{k: v}`.
    pub fn encryption_context(&self) -> Val {
        Val::map(self.m().encryption_context().iter().copied())
    }

    /// Materials under an AES master key (a fresh data key; the write's encryption context is
    /// stored as the materials description).
    pub fn materials_aes(&mut self, key: &AesKey) -> R<()> {
        let m = EncryptionMaterials::aes_gcm(self.m().config(), key, self.m().encryption_context())
            .c()?;
        self.m_mut(|mm| mm.materials(m)).c()
    }

    /// Materials under an RSA public key (a fresh data key).
    pub fn materials_rsa(&mut self, key: &PublicKey) -> R<()> {
        let m = EncryptionMaterials::rsa_oaep(
            self.m().config(),
            key,
            DataKey::generate().c()?,
            &mut getrandom::SysRng,
            self.m().encryption_context(),
        )
        .c()?;
        self.m_mut(|mm| mm.materials(m)).c()
    }

    /// The KMS `GenerateDataKey` to make: `{keySpec, encryptionContext}`.
    pub fn kms_request(&mut self) -> R<Val> {
        let r = EncryptionMaterials::kms(self.m().config(), self.m().encryption_context()).c()?;
        let v = Val::obj()
            .with("keySpec", KmsGenerateDataKeyRequest::KEY_SPEC)
            .with("encryptionContext", Val::map(r.encryption_context()));
        self.kms = Some(r);
        Ok(v)
    }

    /// KMS's answer: `Plaintext` and `CiphertextBlob`.
    pub fn materials_kms(&mut self, plaintext: &[u8], ciphertext_blob: &[u8]) -> R<()> {
        let r = self.kms.take().ok_or_else(out_of_order)?;
        let m = r
            .into_materials(DataKey::from_slice(plaintext).c()?, ciphertext_blob)
            .c()?;
        self.m_mut(|mm| mm.materials(m)).c()
    }

    /// At `encryptionMaterials`, for a JavaScript keyring: a fresh data key and what it must be
    /// wrapped for, `{dataKey, contentCipher, materialsDescription}` (the write's). Answer with
    /// [`Put::materials_external`].
    pub fn external_wrap_request(&mut self) -> R<Val> {
        let dk = DataKey::generate().c()?;
        let v =
            crate::external::wrap_request(self.m().config(), &dk, self.m().encryption_context());
        self.external = Some(dk);
        Ok(v)
    }

    /// The keyring's wrap of the data key of [`Put::external_wrap_request`]: `wrap` (`AES/GCM`
    /// or `RSA-OAEP-SHA1`), the encrypted data key, and the materials description to store
    /// (flat pairs).
    pub fn materials_external(
        &mut self,
        wrap: &str,
        encrypted_data_key: &[u8],
        materials_description: Vec<String>,
    ) -> R<()> {
        let dk = self.external.take().ok_or_else(out_of_order)?;
        let m = crate::external::materials(
            self.m().config(),
            dk,
            wrap,
            encrypted_data_key,
            materials_description,
        )?;
        self.m_mut(|mm| mm.materials(m)).c()
    }

    /// Encrypt the next bytes of a single PutObject's body in place.
    pub fn encrypt(&mut self, buf: &mut [u8]) -> R<()> {
        self.m_mut(|m| m.encrypt(buf)).c()
    }

    /// The 16-byte tag (the end of a single PutObject's body, or of the last part).
    pub fn tag(&mut self) -> R<Val> {
        Ok(Val::bytes(&self.m_mut(|m| m.tag()).c()?[..]))
    }

    /// The plaintext of part `number` was read: `n` bytes (a non-negative integer).
    pub fn part_read(&mut self, number: u32, n: f64) -> R<()> {
        let n = crate::opts::count(n, "the bytes read")?;
        self.m_mut(|m| m.part_read(number, n)).c()
    }

    /// Encrypt part `number` (its whole plaintext) in place.
    pub fn encrypt_part(&mut self, number: u32, buf: &mut [u8]) -> R<()> {
        let job = self.jobs.remove(&number).ok_or_else(out_of_order)?;
        let done = job.encrypt(buf).c()?;
        self.m_mut(|m| m.part_encrypted(done)).c()
    }

    /// `CreateMultipartUpload` answered: its status and `UploadId`.
    pub fn upload_created(&mut self, id: u32, status: u16, upload_id: &str) -> R<()> {
        self.m_mut(|m| m.upload_created(RequestId::from_raw(id), status, upload_id))
            .c()
    }

    /// The request `id` could not be made (network error, or S3 answered `status`; 0 for none).
    pub fn request_failed(&mut self, id: u32, status: u16) {
        self.m_mut(|m| m.request_failed(RequestId::from_raw(id), Error::RequestFailed { status }));
    }

    /// Give up (the caller's body failed): the machine aborts a multipart upload.
    pub fn abort(&mut self) {
        self.m_mut(|m| m.abort(Error::LengthMismatch));
    }

    /// The envelope written (see `shape::envelope`), once the materials are in, or
    /// `null`.
    pub fn envelope(&self) -> Val {
        self.m()
            .envelope()
            .map_or(Val::Null, crate::shape::envelope)
    }
}
