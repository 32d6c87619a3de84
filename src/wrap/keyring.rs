//! The keyring extension point: where data keys come from and how they are wrapped and unwrapped.
//!
//! A [`Keyring`] is synchronous and local to the call: it wraps a data key for a new envelope and
//! unwraps the data key of a stored one. An HSM, a Vault transit key or a hardware token
//! implements it by performing its operation inside the two methods; [`MultiKeyring`] composes
//! keyrings (write with the first, read with whichever can). KMS, whose calls are remote and
//! asynchronous in most runtimes, stays a request the caller performs
//! ([`crate::KeyRequest::Kms`], [`crate::EncryptionMaterials::kms`]).

use super::EncryptionContext;
use super::EncryptionMaterials;
use crate::envelope::Envelope;
use crate::error::{Error, Result};
use crate::policy::EncryptConfig;
use crate::secret::{AesKey, DataKey};
use zeroize::Zeroize;

/// Where a keyring's randomness comes from: fill the buffer with cryptographically secure random
/// bytes. A plain function, so keyrings stay `Sync`, need no allocator and no `getrandom`.
pub type FillRandom = fn(&mut [u8]) -> Result<()>;

/// The operating system's RNG as a [`FillRandom`].
#[cfg(feature = "getrandom")]
pub fn os_random(buf: &mut [u8]) -> Result<()> {
    getrandom::fill(buf).map_err(|_| Error::Rng)
}

/// A [`FillRandom`] as a [`rand_core::TryCryptoRng`], for the constructors that take one.
#[derive(Debug, Clone, Copy)]
pub struct RngFromFill(pub FillRandom);

impl rand_core::TryRng for RngFromFill {
    type Error = Error;
    fn try_next_u32(&mut self) -> Result<u32> {
        let mut b = [0u8; 4];
        (self.0)(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }
    fn try_next_u64(&mut self) -> Result<u64> {
        let mut b = [0u8; 8];
        (self.0)(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<()> {
        (self.0)(dst)
    }
}
impl rand_core::TryCryptoRng for RngFromFill {}

/// Key material that wraps and unwraps data keys.
///
/// ```
/// # #[cfg(feature = "getrandom")]
/// # mod example {
/// use s3_encryption::{
///     AesKeyring, DataKey, DecryptPolicy, EncryptConfig, EncryptionContext, EncryptionMaterials,
///     Encryptor, Envelope, Keyring, Result, wrap::os_random,
/// };
///
/// /// A key that never leaves its store: here a local AES key stands in for the HSM call.
/// struct Hsm(AesKeyring);
///
/// impl Keyring for Hsm {
///     fn wrap_data_key(&self, config: &EncryptConfig, data_key: DataKey, context: EncryptionContext<'_>)
///         -> Result<EncryptionMaterials> {
///         self.0.wrap_data_key(config, data_key, context) // the HSM's wrap call
///     }
///     fn decrypt_data_key(&self, envelope: &Envelope, context: EncryptionContext<'_>)
///         -> Result<DataKey> {
///         self.0.decrypt_data_key(envelope, context) // the HSM's unwrap call
///     }
/// }
///
/// pub fn main() -> Result<()> {
/// let hsm = Hsm(AesKeyring::new(s3_encryption::AesKey::new_256([1; 32])));
/// let materials = hsm.encryption_materials(&EncryptConfig::default(), &[("app", "x")], os_random)?;
/// let enc = Encryptor::new(materials, Some(0))?;
/// let metadata: Vec<(String, String)> =
///     enc.envelope().metadata().map(|(k, v)| (k.into(), v.into())).collect();
/// let tag = enc.finish()?;
///
/// let policy = DecryptPolicy::default();
/// let env = Envelope::parse(metadata, None, &policy)?;
/// let dec = env.decryptor(hsm.decrypt_data_key(&env, &[])?, &policy)?;
/// assert_eq!(dec.decrypt_whole(&tag, &mut [])?, 0);
/// # Ok(()) }
/// # }
/// # fn main() {
/// #     #[cfg(feature = "getrandom")]
/// #     example::main().unwrap();
/// # }
/// ```
///
/// Implement it to bring your own key store. The contract:
/// - [`Keyring::wrap_data_key`] returns materials for `data_key` under `config` (the suite the
///   envelope is written for: its content cipher is what the wrap must bind); `context` is the
///   caller's materials description or encryption context, stored with the envelope.
/// - [`Keyring::decrypt_data_key`] returns the data key of `envelope`, or
///   [`Error::UnsupportedWrap`] when the envelope's wrap is not one this keyring holds a key for
///   (so that a [`MultiKeyring`] tries the next one). Every other failure (wrong key, tampered
///   blob) must be the opaque [`Error::Authentication`]. The commitment (V3) is checked later,
///   by [`Envelope::decryptor`], so a keyring cannot skip it.
/// - A keyring that cannot answer at all (its HSM, service or program failed or is unreachable)
///   returns [`Error::KeyringFailed`] and keeps the details for its driver: that is not a wrong
///   key, and a retry may succeed.
pub trait Keyring {
    /// Wrap `data_key` for a new envelope (or for re-wrapping an existing object's key).
    fn wrap_data_key(
        &self,
        config: &EncryptConfig,
        data_key: DataKey,
        context: EncryptionContext<'_>,
    ) -> Result<EncryptionMaterials>;

    /// Unwrap the data key of `envelope`; `context` is the caller's expected context.
    fn decrypt_data_key(
        &self,
        envelope: &Envelope,
        context: EncryptionContext<'_>,
    ) -> Result<DataKey>;

    /// Materials for a new object: a fresh data key from `random`, wrapped.
    fn encryption_materials(
        &self,
        config: &EncryptConfig,
        context: EncryptionContext<'_>,
        random: FillRandom,
    ) -> Result<EncryptionMaterials> {
        let mut dk = [0u8; 32];
        random(&mut dk)?;
        if dk.iter().all(|&b| b == 0) {
            return Err(Error::Rng);
        }
        let key = DataKey::new_256(dk);
        dk.zeroize();
        self.wrap_data_key(config, key, context)
    }
}

/// A raw AES master key: writes `AES/GCM`; reads `AES/GCM` and, if the policy admits them, the
/// legacy `AESWrap` and V1 AES-ECB wraps.
#[derive(Debug, Clone)]
pub struct AesKeyring {
    key: AesKey,
    random: FillRandom,
}

impl AesKeyring {
    /// A keyring for `key`, drawing wrap IVs from the operating system.
    #[cfg(feature = "getrandom")]
    pub fn new(key: AesKey) -> Self {
        Self::with_random(key, os_random)
    }
    /// A keyring for `key`, drawing wrap IVs from `random`.
    pub fn with_random(key: AesKey, random: FillRandom) -> Self {
        AesKeyring { key, random }
    }
    /// The master key.
    pub fn key(&self) -> &AesKey {
        &self.key
    }
}

impl Keyring for AesKeyring {
    fn wrap_data_key(
        &self,
        config: &EncryptConfig,
        data_key: DataKey,
        context: EncryptionContext<'_>,
    ) -> Result<EncryptionMaterials> {
        EncryptionMaterials::aes_gcm_wrapping(
            config,
            &self.key,
            data_key,
            &mut RngFromFill(self.random),
            context,
        )
    }
    fn decrypt_data_key(&self, envelope: &Envelope, _: EncryptionContext<'_>) -> Result<DataKey> {
        envelope.unwrap_aes(&self.key)
    }
}

/// An RSA key pair (or only one half): writes `RSA-OAEP-SHA1` with the public key; reads
/// `RSA-OAEP-SHA1` and, if the policy admits them, the legacy OAEP-SHA-256 and V1 PKCS#1 v1.5
/// wraps with the private key (blinded with the keyring's randomness).
#[cfg(feature = "rsa")]
#[derive(Clone)]
pub struct RsaKeyring {
    public: Option<rsa::PublicKey>,
    private: Option<rsa::PrivateKey>,
    random: FillRandom,
}

#[cfg(feature = "rsa")]
impl core::fmt::Debug for RsaKeyring {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RsaKeyring")
            .field("public", &self.public.is_some())
            .field("private", &"<redacted>")
            .finish()
    }
}

#[cfg(feature = "rsa")]
impl RsaKeyring {
    /// A keyring from either half of a key pair (the public half of a private key is derived),
    /// drawing randomness from `random`.
    pub fn with_random(
        public: Option<rsa::PublicKey>,
        private: Option<rsa::PrivateKey>,
        random: FillRandom,
    ) -> Self {
        let public = public.or_else(|| private.as_ref().map(|k| k.to_public_key()));
        RsaKeyring {
            public,
            private,
            random,
        }
    }
    /// A keyring that can write and read, with the operating system's RNG.
    #[cfg(feature = "getrandom")]
    pub fn new(private: rsa::PrivateKey) -> Self {
        Self::with_random(None, Some(private), os_random)
    }
    /// A write-only keyring, with the operating system's RNG.
    #[cfg(feature = "getrandom")]
    pub fn public_only(public: rsa::PublicKey) -> Self {
        Self::with_random(Some(public), None, os_random)
    }
    /// Whether the keyring holds the private key (can decrypt).
    pub fn has_private_key(&self) -> bool {
        self.private.is_some()
    }
    /// The public key, if the keyring holds one (can encrypt).
    pub fn public_key(&self) -> Option<&rsa::PublicKey> {
        self.public.as_ref()
    }
}

#[cfg(feature = "rsa")]
impl Keyring for RsaKeyring {
    fn wrap_data_key(
        &self,
        config: &EncryptConfig,
        data_key: DataKey,
        context: EncryptionContext<'_>,
    ) -> Result<EncryptionMaterials> {
        let public = self.public.as_ref().ok_or(Error::InvalidKey)?;
        EncryptionMaterials::rsa_oaep(
            config,
            public,
            data_key,
            &mut RngFromFill(self.random),
            context,
        )
    }
    fn decrypt_data_key(&self, envelope: &Envelope, _: EncryptionContext<'_>) -> Result<DataKey> {
        match &self.private {
            Some(k) => envelope.unwrap_rsa(k, &mut RngFromFill(self.random)),
            None => Err(Error::UnsupportedWrap),
        }
    }
}

/// Several keyrings as one: writes with the first; reads with the first that holds a key for the
/// envelope's wrap and unwraps it. No allocator: it borrows a slice.
#[derive(Clone, Copy)]
pub struct MultiKeyring<'a> {
    keyrings: &'a [&'a dyn Keyring],
}

impl core::fmt::Debug for MultiKeyring<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MultiKeyring")
            .field("keyrings", &self.keyrings.len())
            .finish()
    }
}

impl<'a> MultiKeyring<'a> {
    /// The keyrings, the first of which writes.
    pub fn new(keyrings: &'a [&'a dyn Keyring]) -> Self {
        MultiKeyring { keyrings }
    }
}

impl Keyring for MultiKeyring<'_> {
    fn wrap_data_key(
        &self,
        config: &EncryptConfig,
        data_key: DataKey,
        context: EncryptionContext<'_>,
    ) -> Result<EncryptionMaterials> {
        let first = self.keyrings.first().ok_or(Error::InvalidConfig)?;
        first.wrap_data_key(config, data_key, context)
    }
    /// Tries each keyring in order; the first data key wins. If none succeeds:
    /// [`Error::KeyringFailed`] if any keyring could not answer (the one that could not may hold
    /// the key, so a retry may succeed), else the opaque [`Error::Authentication`] if any keyring
    /// tried and failed, else the first other error ([`Error::UnsupportedWrap`] when none holds
    /// a key for this wrap).
    fn decrypt_data_key(
        &self,
        envelope: &Envelope,
        context: EncryptionContext<'_>,
    ) -> Result<DataKey> {
        let mut first_err = None;
        let mut authentication = false;
        let mut unavailable = false;
        for k in self.keyrings {
            match k.decrypt_data_key(envelope, context) {
                Ok(dk) => return Ok(dk),
                Err(Error::Authentication) => authentication = true,
                Err(e) => {
                    first_err.get_or_insert(e);
                    unavailable |= e == Error::KeyringFailed;
                }
            }
        }
        if unavailable {
            return Err(Error::KeyringFailed);
        }
        if authentication {
            return Err(Error::Authentication);
        }
        Err(first_err.unwrap_or(Error::UnsupportedWrap))
    }
}
