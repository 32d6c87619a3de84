//! Re-encryption of an instruction file under a new key: [`Rotate`] over
//! [`RotateInstructionFile`].

use crate::fail::{Core, R, out_of_order};
use crate::get::with_id;
use crate::opts::{
    Opts, borrow_pairs, decrypt_policy, expected_context, opt_bool, pairs, suffix, texts,
};
use crate::shape;
use crate::texts::{RotateCell, TextCell};
use crate::val::Val;
use s3_encryption::object::{RotateInstructionFile, RotateIntent, RotateNext};
use s3_encryption::rsa::{PrivateKey, PublicKey};
use s3_encryption::{
    AesKey, CommitmentPolicy, DataKey, DecryptPolicy, EncryptConfig, EncryptionContext,
    EncryptionMaterials, Error, KmsGenerateDataKeyRequest,
};

/// The machine of one rotation, and the KMS request in flight.
#[derive(Debug)]
pub struct Rotate {
    m: RotateCell,
    kms: Option<KmsGenerateDataKeyRequest>,
}

machine_common!(Rotate, RotateInstructionFile, body);

impl Rotate {
    /// Start a rotation. Options: `bucket`, `key`, the policy options, `sourceSuffix`,
    /// `newSuffix` (both default `.instruction`), `encryptionContext` /
    /// `acceptStoredEncryptionContext`, `enforceRotation`.
    pub fn new(o: &dyn Opts) -> R<Rotate> {
        let mut t = texts(o)?;
        t.suffix = suffix(o, "sourceSuffix")?;
        t.new_suffix = suffix(o, "newSuffix")?;
        t.context = expected_context(o)?;
        let mut it = RotateIntent::new("", "");
        it.policy = decrypt_policy(o)?;
        it.enforce_rotation = opt_bool(o, "enforceRotation")?;
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
        .c()?;
        Ok(Rotate { m, kms: None })
    }

    /// `{kind: "send", id}`, `{kind: "unwrapKey" | "wrapKey" | "checkNewKey" | "checkOldKey"}`
    /// or `{kind: "done", version}`. At `checkNewKey`, unwrap with the NEW key as at
    /// `unwrapKey` (`keyRequest`, `unwrapAes`, `unwrapRsa`, `dataKey` name the new envelope
    /// then), or call `newKeyCannotDecrypt` for a key that cannot decrypt (an RSA public key).
    pub fn poll(&mut self) -> R<Val> {
        Ok(match self.m_mut(|m| m.poll()).c()? {
            RotateNext::Send(id) => with_id("send", id),
            RotateNext::UnwrapKey => Val::kind("unwrapKey"),
            RotateNext::WrapKey => Val::kind("wrapKey"),
            RotateNext::CheckNewKey => Val::kind("checkNewKey"),
            RotateNext::CheckOldKey => Val::kind("checkOldKey"),
            RotateNext::Done(d) => Val::kind("done").with("version", format!("{:?}", d.version)),
        })
    }

    /// At `checkNewKey`: the new key cannot decrypt, so what it wrapped is not read back.
    pub fn new_key_cannot_decrypt(&mut self) -> R<()> {
        self.m_mut(|m| m.new_key_cannot_decrypt()).c()
    }

    /// The key to supply now (the old one at `unwrapKey`, the new one at `checkNewKey`).
    pub fn key_request(&self) -> R<Val> {
        Ok(shape::key_request(&self.m().key_request().c()?))
    }

    /// The data key unwrapped by the caller (KMS `Decrypt`).
    pub fn data_key(&mut self, key: &DataKey) -> R<()> {
        self.m_mut(|m| m.data_key(key.clone())).c()
    }

    /// Unwrap the data key with an AES master key (the old one, or the new one at `checkNewKey`).
    pub fn unwrap_aes(&mut self, key: &AesKey) -> R<()> {
        let dk = self.m().envelope_to_unwrap().c()?.unwrap_aes(key).c()?;
        self.m_mut(|m| m.data_key(dk)).c()
    }

    /// Unwrap the data key with an RSA private key (the old one, or the new one at `checkNewKey`).
    pub fn unwrap_rsa(&mut self, key: &PrivateKey) -> R<()> {
        let dk = self
            .m()
            .envelope_to_unwrap()
            .c()?
            .unwrap_rsa_os_rng(key)
            .c()?;
        self.m_mut(|m| m.data_key(dk)).c()
    }

    fn dk(&self) -> R<DataKey> {
        self.m().data_key_to_wrap().cloned().c()
    }

    /// New materials for the object's data key from `wrap` (a keyring of the core), with the
    /// materials description `md` (flat pairs).
    fn rewrap(
        &mut self,
        md: Vec<String>,
        wrap: impl FnOnce(
            &EncryptConfig,
            DataKey,
            EncryptionContext<'_>,
        ) -> Result<EncryptionMaterials, Error>,
    ) -> R<()> {
        let md = pairs(md)?;
        let cfg = self.m().new_config().c()?;
        let m = wrap(&cfg, self.dk()?, &borrow_pairs(&md)).c()?;
        self.m_mut(|mm| mm.new_materials(m)).c()
    }

    /// Wrap the data key under a new AES master key (`materialsDescription`: flat pairs).
    pub fn wrap_aes(&mut self, key: &AesKey, materials_description: Vec<String>) -> R<()> {
        self.rewrap(materials_description, |cfg, dk, md| {
            EncryptionMaterials::aes_gcm_wrapping(cfg, key, dk, &mut getrandom::SysRng, md)
        })
    }

    /// Wrap the data key under a new RSA public key.
    pub fn wrap_rsa(&mut self, key: &PublicKey, materials_description: Vec<String>) -> R<()> {
        self.rewrap(materials_description, |cfg, dk, md| {
            EncryptionMaterials::rsa_oaep(cfg, key, dk, &mut getrandom::SysRng, md)
        })
    }

    /// The KMS `Encrypt` to make under the new KMS key: `{plaintext, encryptionContext}` (the
    /// plaintext is the data key: send it only to KMS).
    pub fn kms_wrap_request(&mut self, encryption_context: Vec<String>) -> R<Val> {
        let c = pairs(encryption_context)?;
        let cfg = self.m().new_config().c()?;
        let r = EncryptionMaterials::kms(&cfg, &borrow_pairs(&c)).c()?;
        let v = Val::obj()
            .with("encryptionContext", Val::map(r.encryption_context()))
            .with("plaintext", Val::bytes(self.dk()?.as_bytes()));
        self.kms = Some(r);
        Ok(v)
    }

    /// KMS `Encrypt`'s `CiphertextBlob`.
    pub fn wrap_kms(&mut self, ciphertext_blob: &[u8]) -> R<()> {
        let r = self.kms.take().ok_or_else(out_of_order)?;
        let m = r.into_materials(self.dk()?, ciphertext_blob).c()?;
        self.m_mut(|mm| mm.new_materials(m)).c()
    }

    /// The key request of the new envelope, for `checkOldKey`.
    pub fn check_request(&self) -> R<Val> {
        Ok(shape::key_request(&self.m().check_request().c()?))
    }

    /// Whether the old AES key opens the new envelope.
    pub fn check_aes(&self, key: &AesKey) -> bool {
        self.m()
            .new_envelope()
            .is_some_and(|e| e.unwrap_aes(key).is_ok())
    }

    /// Whether the old RSA key opens the new envelope.
    pub fn check_rsa(&self, key: &PrivateKey) -> bool {
        self.m()
            .new_envelope()
            .is_some_and(|e| e.unwrap_rsa_os_rng(key).is_ok())
    }

    /// Report whether the old key opened the new envelope.
    pub fn old_key_opens(&mut self, opens: bool) -> R<()> {
        self.m_mut(|m| m.old_key_opens(opens)).c()
    }

    /// At `unwrapKey` (the old envelope) or `checkNewKey` (the new one), for a JavaScript
    /// keyring: the unwrap request. Hand the data key back with [`Rotate::data_key`].
    pub fn external_unwrap_request(&self) -> R<Val> {
        crate::external::unwrap_request(self.m().envelope_to_unwrap().c()?)
    }

    /// At `wrapKey`, for a JavaScript keyring: the object's data key and what it must be wrapped
    /// for (`materialsDescription`: flat pairs). Answer with [`Rotate::wrap_external`].
    pub fn external_wrap_request(&self, materials_description: Vec<String>) -> R<Val> {
        let md = pairs(materials_description)?;
        let cfg = self.m().new_config().c()?;
        let dk = self.m().data_key_to_wrap().c()?;
        Ok(crate::external::wrap_request(&cfg, dk, &borrow_pairs(&md)))
    }

    /// The keyring's wrap of the data key of [`Rotate::external_wrap_request`].
    pub fn wrap_external(
        &mut self,
        wrap: &str,
        encrypted_data_key: &[u8],
        materials_description: Vec<String>,
    ) -> R<()> {
        let cfg = self.m().new_config().c()?;
        let dk = self.dk()?;
        let m =
            crate::external::materials(&cfg, dk, wrap, encrypted_data_key, materials_description)?;
        self.m_mut(|mm| mm.new_materials(m)).c()
    }

    /// At `checkOldKey`, for a JavaScript keyring: the new envelope's unwrap request.
    pub fn check_external_request(&self) -> R<Val> {
        crate::external::unwrap_request(self.m().new_envelope().ok_or_else(out_of_order)?)
    }

    /// Whether `key` (what the old keyring unwrapped from the new envelope) opens it: for V3 the
    /// key commitment must match (a V2 envelope has none, so an unwrap that succeeded opens it).
    pub fn check_data_key(&self, key: &DataKey) -> bool {
        let policy = DecryptPolicy::new()
            .with_commitment_policy(CommitmentPolicy::RequireEncryptAllowDecrypt);
        self.m()
            .new_envelope()
            .is_some_and(|e| e.decryptor(key.clone(), &policy).is_ok())
    }
}
