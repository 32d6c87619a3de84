//! The envelope of an object in hand ([`Env`]), the module-level functions, and the master keys
//! the package hands the core (wiped on drop by the core's types).

use crate::fail::{Core, R, usage};
use crate::opts::{Opts, borrow_pairs, count, decrypt_policy, pairs};
use crate::shape;
use crate::val::Val;
use s3_encryption::rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use s3_encryption::rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use s3_encryption::rsa::{PrivateKey, PublicKey};
use s3_encryption::{AesKey, ByteRange, DataKey, DecryptPolicy, Envelope, HostAead, RangePlan};
use zeroize::Zeroizing;

/// An AES master key from its raw bytes (16, 24 or 32).
pub fn aes_key(bytes: &[u8]) -> R<AesKey> {
    AesKey::from_slice(bytes).c()
}

/// A data key from its bytes (16, 24 or 32), for example KMS `Decrypt`'s `Plaintext`.
pub fn data_key(bytes: &[u8]) -> R<DataKey> {
    DataKey::from_slice(bytes).c()
}

/// An RSA private key from DER: PKCS#8 `PrivateKeyInfo` or PKCS#1 `RSAPrivateKey`.
pub fn rsa_private_key(der: &[u8]) -> R<Box<PrivateKey>> {
    let key = PrivateKey::from_pkcs8_der(der)
        .or_else(|_| PrivateKey::from_pkcs1_der(der))
        .map_err(|_| usage("not an RSA private key (PKCS#8 or PKCS#1 DER)"))?;
    Ok(Box::new(key))
}

/// An RSA public key from DER: SPKI `SubjectPublicKeyInfo` or PKCS#1 `RSAPublicKey`.
pub fn rsa_public_key(der: &[u8]) -> R<Box<PublicKey>> {
    let key = PublicKey::from_public_key_der(der)
        .or_else(|_| PublicKey::from_pkcs1_der(der))
        .map_err(|_| usage("not an RSA public key (SPKI or PKCS#1 DER)"))?;
    Ok(Box::new(key))
}

/// Whether the metadata (flat `[name, value, …]`, names without `x-amz-meta-`) holds no envelope,
/// so that the instruction file must be fetched.
pub fn needs_instruction_file(metadata: Vec<String>) -> R<bool> {
    let m = pairs(metadata)?;
    Envelope::needs_instruction_file(borrow_pairs(&m)).c()
}

/// Whether `name` (any case, with or without `x-amz-meta-`) is an envelope key.
pub fn is_envelope_key(name: &str) -> bool {
    s3_encryption::envelope::keys::is_envelope_key(name)
}

/// The core's version (the crate version of the bindings, which are built from the same tree).
pub fn core_version() -> String {
    env!("CARGO_PKG_VERSION").into()
}

/// A parsed envelope and the policy it was parsed under.
#[derive(Debug)]
pub struct Env {
    env: Envelope,
    policy: DecryptPolicy,
    /// The hand-off of [`Env::host_aead`], until its verdict.
    host: Option<HostAead>,
}

impl Env {
    /// Parse an envelope from the object metadata (flat `[name, value, …]`, names without
    /// `x-amz-meta-`) and the instruction file's bytes, under the policy of `options`.
    pub fn parse(metadata: Vec<String>, instruction_file: Option<&[u8]>, o: &dyn Opts) -> R<Env> {
        let policy = decrypt_policy(o)?;
        let m = pairs(metadata)?;
        let env = Envelope::parse(borrow_pairs(&m), instruction_file, &policy).c()?;
        Ok(Env {
            env,
            policy,
            host: None,
        })
    }

    /// The envelope's fields (see `shape::envelope`).
    pub fn info(&self) -> Val {
        shape::envelope(&self.env)
    }

    /// The plaintext length of a stored body of `stored_len` bytes, when the format says (never
    /// for a `stored_len` that is not a byte count: NaN, negative, fractional, past 2^53).
    pub fn plaintext_length(&self, stored_len: f64) -> Option<f64> {
        let stored_len = count(stored_len, "the stored length").ok()?;
        self.env.plaintext_len(stored_len).map(|n| n as f64)
    }

    /// What key to supply. `context` (flat pairs) is the caller's encryption context, checked
    /// against the stored one for KMS wraps; `None` accepts the stored one (KMS discovery).
    pub fn key_request(&self, context: Option<Vec<String>>) -> R<Val> {
        Ok(match context {
            Some(c) => {
                let c = pairs(c)?;
                shape::key_request(&self.env.key_request(&borrow_pairs(&c)).c()?)
            }
            None => shape::key_request(&self.env.key_request_accepting_stored_context().c()?),
        })
    }

    /// Unwrap the data key with an AES master key.
    pub fn unwrap_aes(&self, key: &AesKey) -> R<DataKey> {
        self.env.unwrap_aes(key).c()
    }

    /// Unwrap the data key with an RSA private key.
    pub fn unwrap_rsa(&self, key: &PrivateKey) -> R<DataKey> {
        self.env.unwrap_rsa_os_rng(key).c()
    }

    /// For a JavaScript keyring: the unwrap request.
    pub fn external_unwrap_request(&self) -> R<Val> {
        crate::external::unwrap_request(&self.env)
    }

    /// Decrypt a whole stored body held in memory: it is authenticated before any plaintext is
    /// returned.
    pub fn decrypt(&self, data_key: &DataKey, body: &[u8]) -> R<Val> {
        let dec = self.env.decryptor(data_key.clone(), &self.policy).c()?;
        let mut out = Zeroizing::new(vec![0u8; body.len()]);
        let n = dec.decrypt_whole(body, &mut out).c()?;
        out.truncate(n);
        Ok(Val::Bytes(out))
    }

    /// For a GCM object whose whole stored body (`len` bytes) the host holds: `{key, iv, aad}`
    /// for the host's AES-256-GCM open of that body (ciphertext, then the 16-byte tag), to be
    /// followed by [`Env::host_aead_result`]; `null` for legacy CBC (use [`Env::decrypt`]). The
    /// key is the one the core derived and checked (V3: the key commitment matched).
    pub fn host_aead(&mut self, data_key: &DataKey, len: f64) -> R<Val> {
        self.host = None;
        let dec = self.env.decryptor(data_key.clone(), &self.policy).c()?;
        let Some(a) = dec.host_aead(len as u64).c()? else {
            return Ok(Val::Null);
        };
        let v = Val::obj()
            .with("key", Val::bytes(a.key().as_bytes()))
            .with("iv", Val::bytes(a.nonce()))
            .with("aad", Val::bytes(a.aad()));
        self.host = Some(a);
        Ok(v)
    }

    /// The host AEAD's verdict after [`Env::host_aead`] (`verified` only when its open checked the
    /// tag and succeeded): the plaintext length to release, or the opaque authentication error
    /// (or `LengthMismatch`).
    pub fn host_aead_result(&mut self, verified: bool) -> R<f64> {
        let a = self.host.take().ok_or_else(crate::fail::out_of_order)?;
        Ok(a.verdict(verified).c()? as f64)
    }

    /// **Hazmat.** An unauthenticated ranged decryption (needs
    /// `enableLegacyUnauthenticatedModes`): plaintext bytes `first..=last` (non-negative
    /// integers) of the object whose whole stored body is `body`.
    pub fn decrypt_range_hazmat(
        &self,
        data_key: &DataKey,
        body: &[u8],
        first: f64,
        last: f64,
    ) -> R<Val> {
        let (first, last) = (count(first, "first")?, count(last, "last")?);
        let dec = self.env.decryptor(data_key.clone(), &self.policy).c()?;
        let plan = RangePlan::for_envelope(
            ByteRange::Inclusive(first, last),
            body.len() as u64,
            &self.env,
        )
        .c()?;
        let a = plan.fetch_first as usize;
        let b = (plan.fetch_last as usize).min(body.len().saturating_sub(1));
        let fetched = body.get(a..=b).unwrap_or(&[]);
        let mut r = s3_encryption::hazmat::ranged(dec, &plan).c()?;
        let mut out = Zeroizing::new(vec![0u8; fetched.len() + 16]);
        let n = r.update(fetched, &mut out).c()?;
        r.finish().c()?;
        out.truncate(n);
        Ok(Val::Bytes(out))
    }
}
